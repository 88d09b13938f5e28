/*
 * test_slots.c -- generational handles: a dead handle never names a new
 * tenant, freed slots rest in FIFO order, the generation skips 0 on wrap,
 * and pids print as tr_pid_format says.
 */
#include <stdio.h>
#include <stdlib.h>

#include "slots.h"
#include "test.h"
#include "troupe.h"

static int tag[8];

/* Many puts and takes, a few tenants alive at a time: no stale handle
 * finds anything, ever. */
static void test_dead_handles_stay_dead(void) {
  tr__slots s;
  enum { N = 20000, LIVE = 16 };
  uint64_t *dead = malloc(N * sizeof *dead), live[LIVE] = {0};
  size_t ndead = 0, i, j, stale = 0;
  tr__slots_init(&s);
  for (i = 0; i < N; i++) {
    j = i % LIVE;
    if (live[j]) {
      CHECK(tr__slots_take(&s, live[j]) == &tag[0]);
      dead[ndead++] = live[j];
    }
    live[j] = tr__slots_put(&s, &tag[0]);
    CHECK(live[j] != 0);
    CHECK(!(live[j] & 0xffff000000ull)); /* bits 24-39 are a pid's */
  }
  for (i = 0; i < ndead; i++)
    stale += tr__slots_get(&s, dead[i]) != NULL;
  CHECK_EQ(stale, 0);
  CHECK(tr__slots_take(&s, dead[0]) == NULL);
  CHECK(tr__slots_get(&s, 0) == NULL);
  /* Host or node bits make a handle foreign to the table. */
  CHECK(tr__slots_get(&s, live[0] | (1ull << 24)) == NULL);
  CHECK(tr__slots_get(&s, live[0] | (1ull << 32)) == NULL);
  CHECK(tr__slots_get(&s, live[0]) == &tag[0]);
  /* With 16 alive, the table holds the resting ones and those: no more. */
  CHECK(s.len <= TR__SLOTS_REST + LIVE + 1);
  tr__slots_free(&s);
  free(dead);
}

/* A freed slot comes back only once TR__SLOTS_REST are free, oldest
 * first. */
static void test_fifo_rest(void) {
  tr__slots s;
  enum { N = TR__SLOTS_REST + 10 };
  uint64_t *h = malloc(N * sizeof *h), again;
  size_t i;
  tr__slots_init(&s);
  for (i = 0; i < N; i++)
    h[i] = tr__slots_put(&s, &tag[1]);
  /* Fewer than the rest free: a put grows the table. */
  for (i = 0; i < 10; i++)
    tr__slots_take(&s, h[i]);
  again = tr__slots_put(&s, &tag[2]);
  CHECK_EQ((again & 0xffffff) - 1, (uint64_t)N);
  tr__slots_take(&s, again);
  /* Now past the rest: the first freed (slot 0) is the first reused. */
  for (i = 10; i < TR__SLOTS_REST; i++)
    tr__slots_take(&s, h[i]);
  CHECK_EQ(s.nfree, TR__SLOTS_REST + 1);
  again = tr__slots_put(&s, &tag[2]);
  CHECK_EQ(again & 0xffffff, 1);
  CHECK_EQ(again >> TR__SLOTS_GEN_SHIFT, 2);
  again = tr__slots_put(&s, &tag[2]);
  CHECK_EQ(again & 0xffffff, 2);
  tr__slots_free(&s);
  free(h);
}

/* The generation wraps to 1, never 0, and old handles stay dead. */
static void test_wrap_skips_zero(void) {
  tr__slots s;
  uint64_t first, id, prev = 0;
  int i;
  tr__slots_init_gen(&s, TR__SLOTS_GEN_MASK - 2);
  first = id = tr__slots_put(&s, &tag[3]);
  CHECK_EQ(id >> TR__SLOTS_GEN_SHIFT, TR__SLOTS_GEN_MASK - 2);
  /* A limit of one slot: each put reuses slot 0 (nothing else may grow). */
  s.limit = 1;
  for (i = 0; i < 5; i++) {
    CHECK(tr__slots_take(&s, id) == &tag[3]);
    prev = id;
    id = tr__slots_put(&s, &tag[3]);
    CHECK_EQ(id & 0xffffff, 1);
    CHECK(id >> TR__SLOTS_GEN_SHIFT != 0);
    CHECK(tr__slots_get(&s, prev) == NULL);
  }
  /* max-2, max-1, max, 1, 2, 3 */
  CHECK_EQ(id >> TR__SLOTS_GEN_SHIFT, 3);
  CHECK(tr__slots_get(&s, first) == NULL);
  CHECK(tr__slots_put(&s, &tag[3]) == 0); /* full */
  tr__slots_free(&s);
}

static void test_pid_format(void) {
  char buf[64];
  tr_pid pid = (7ull << TR_PID_GEN_SHIFT) | 3u;
  CHECK_EQ(tr_pid_format(pid, buf, sizeof buf), 9);
  CHECK_STR(buf, "<pid 3.7>");
  pid |= 2ull << TR_PID_HOST_SHIFT;
  tr_pid_format(pid, buf, sizeof buf);
  CHECK_STR(buf, "<pid 2.3.7>");
  pid |= 5ull << TR_PID_NODE_SHIFT;
  tr_pid_format(pid, buf, sizeof buf);
  CHECK_STR(buf, "<pid 5:2.3.7>");
  CHECK_EQ(tr_pid_node(pid), 5);
  CHECK_EQ(tr_pid_host(pid), 2);
  CHECK_EQ(tr_pid_format(pid, NULL, 0), 13);
  CHECK_EQ(tr_pid_format(pid, buf, 5), 13);
  CHECK_STR(buf, "<pid");
  tr_pid_format(0, buf, sizeof buf);
  CHECK_STR(buf, "<pid 0.0>");
}

int main(void) {
  RUN(test_dead_handles_stay_dead);
  RUN(test_fifo_rest);
  RUN(test_wrap_skips_zero);
  RUN(test_pid_format);
  return test_report();
}
