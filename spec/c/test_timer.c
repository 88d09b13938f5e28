/*
 * test_timer.c -- send-after and timeouts: never early, in deadline order
 * (first-come on ties), cancelled ones never arrive, a dead actor's timers
 * are dropped.
 */
#include <stdint.h>
#include <stdlib.h>

#include "test.h"

/* ------------------------------------------------------------ helpers */

#define MAX_ARRIVALS 512

/* What a receiver saw, in order of arrival. */
typedef struct arrivals {
  int n;
  char names[MAX_ARRIVALS][8];
  int64_t args[MAX_ARRIVALS]; /* first int argument, -1 when none */
  int kinds[MAX_ARRIVALS];
  uint64_t sessions[MAX_ARRIVALS];
  uint64_t at[MAX_ARRIVALS]; /* uv_now when handled */
} arrivals;

static int receiver_init(tr_actor *self, void *state, tr_msg *args) {
  (void)args;
  *(arrivals **)state = tr_actor_ctx(self);
  return 0;
}

static int receiver_handle(tr_actor *self, void *state, tr_msg *m) {
  arrivals *a = *(arrivals **)state;
  size_t len;
  const char *name;
  if (!m || a->n == MAX_ARRIVALS)
    return TR_CONTINUE;
  name = tr_msg_name(m, &len);
  if (len >= sizeof a->names[0])
    len = sizeof a->names[0] - 1;
  memcpy(a->names[a->n], name, len);
  a->names[a->n][len] = '\0';
  a->args[a->n] = -1;
  tr_value_int(tr_msg_arg(m, 0), &a->args[a->n]);
  a->kinds[a->n] = tr_msg_kind(m);
  a->sessions[a->n] = tr_msg_session(m);
  a->at[a->n] = uv_now(tr_host_loop(tr_actor_host(self)));
  a->n++;
  return TR_CONTINUE;
}

static const tr_behaviour receiver_b = {"receiver", sizeof(arrivals *),
                                        receiver_init, receiver_handle, NULL};

static tr_pid spawn_receiver(tr_host *h, arrivals *a) {
  tr_pid pid = 0;
  CHECK_EQ(test_spawn_ctx(h, &receiver_b, a, NULL, &pid), TR_OK);
  return pid;
}

static arrivals *new_arrivals(void) { return calloc(1, sizeof(arrivals)); }

/* Steps h until a has n arrivals (deadline 1 s). */
static int wait_arrivals(tr_host *h, arrivals *a, int n) {
  uint64_t end = uv_hrtime() + 1000000000u;
  while (a->n < n && uv_hrtime() < end)
    if (tr_host_step(h) < 0)
      break;
  return a->n >= n;
}

static int after(tr_host *h, uint32_t ms, tr_pid to, const char *name,
                 int64_t arg, uint64_t *timer) {
  return tr_after(h, to, ms, tr_msg_pack(name, "I", arg), timer);
}

static uint64_t now_of(tr_host *h) { return uv_now(tr_host_loop(h)); }

/* -------------------------------------------------------------- tests */

static void test_after_is_never_early(void) {
  tr_host *h = tr_host_new(NULL);
  arrivals *a = new_arrivals();
  tr_pid pid = spawn_receiver(h, a);
  uint64_t sent, real;
  int ms;

  for (ms = 0; ms <= 40; ms += 20) {
    a->n = 0;
    uv_update_time(tr_host_loop(h));
    sent = now_of(h);
    real = uv_hrtime();
    CHECK_EQ(after(h, (uint32_t)ms, pid, "t", ms, NULL), TR_OK);
    CHECK(wait_arrivals(h, a, 1));
    CHECK(a->at[0] - sent >= (uint64_t)(ms ? ms - 1 : 0));
    CHECK((uv_hrtime() - real) / 1000000u >= (uint64_t)(ms ? ms - 1 : 0));
    CHECK(a->at[0] - sent < 900); /* and not wildly late */
    CHECK_EQ(a->kinds[0], TR_KIND_SEND);
    CHECK_EQ(a->args[0], ms);
  }
  free(a);
  tr_host_free(h);
}

static void test_order_of_several(void) {
  tr_host *h = tr_host_new(NULL);
  arrivals *a = new_arrivals();
  tr_pid pid = spawn_receiver(h, a);

  CHECK_EQ(after(h, 30, pid, "a", 30, NULL), TR_OK);
  CHECK_EQ(after(h, 10, pid, "b", 10, NULL), TR_OK);
  CHECK_EQ(after(h, 20, pid, "c", 20, NULL), TR_OK);
  CHECK_EQ(after(h, 10, pid, "d", 10, NULL), TR_OK); /* ties: first-come */
  CHECK_EQ(after(h, 0, pid, "e", 0, NULL), TR_OK);
  CHECK(wait_arrivals(h, a, 5));
  CHECK_STR(a->names[0], "e");
  CHECK_STR(a->names[1], "b");
  CHECK_STR(a->names[2], "d");
  CHECK_STR(a->names[3], "c");
  CHECK_STR(a->names[4], "a");
  free(a);
  tr_host_free(h);
}

/* Many timers set at one loop time, some cancelled: the rest arrive sorted
 * by (ms, order set). Exercises the heap's sifting both ways. */
static void test_many_in_deadline_order(void) {
  enum { N = 300 };
  tr_host *h = tr_host_new(NULL);
  arrivals *a = new_arrivals();
  tr_pid pid = spawn_receiver(h, a);
  uint64_t timers[N], rng = 2463534242ull;
  int ms[N], i, expected = 0, sorted = 1, cancelled_seen = 0;
  tr_host_stats st;

  for (i = 0; i < N; i++) {
    rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
    ms[i] = (int)(rng % 41);
    CHECK_EQ(after(h, (uint32_t)ms[i], pid, "t", i, &timers[i]), TR_OK);
  }
  for (i = 0; i < N; i += 7)
    CHECK_EQ(tr_cancel(h, timers[i]), TR_OK);
  for (i = 0; i < N; i++)
    expected += i % 7 != 0;
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.timers, expected);

  CHECK(wait_arrivals(h, a, expected));
  CHECK_EQ(a->n, expected);
  for (i = 0; i < a->n; i++) {
    int64_t k = a->args[i];
    if (k % 7 == 0)
      cancelled_seen++;
    if (i > 0) {
      int64_t p = a->args[i - 1];
      if (ms[p] > ms[k] || (ms[p] == ms[k] && p > k))
        sorted = 0;
    }
  }
  CHECK(sorted);
  CHECK_EQ(cancelled_seen, 0);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.timers, 0);
  free(a);
  tr_host_free(h);
}

static void test_cancel(void) {
  tr_host *h = tr_host_new(NULL);
  arrivals *a = new_arrivals();
  tr_pid pid = spawn_receiver(h, a);
  uint64_t gone, kept, fired;

  CHECK_EQ(after(h, 5, pid, "gone", 1, &gone), TR_OK);
  CHECK_EQ(after(h, 30, pid, "kept", 2, &kept), TR_OK);
  CHECK(gone != 0 && kept != 0 && gone != kept);
  CHECK_EQ(tr_cancel(h, gone), TR_OK);
  CHECK_EQ(tr_cancel(h, gone), TR_ENOPROC); /* twice */
  /* "kept" comes after the cancelled deadline: by then "gone" would have
   * come too. */
  CHECK(wait_arrivals(h, a, 1));
  CHECK_STR(a->names[0], "kept");
  CHECK_EQ(tr_cancel(h, kept), TR_ENOPROC); /* already fired */

  CHECK_EQ(after(h, 0, pid, "fired", 3, &fired), TR_OK);
  CHECK(wait_arrivals(h, a, 2));
  CHECK_EQ(tr_cancel(h, fired), TR_ENOPROC);
  CHECK_EQ(a->n, 2);

  CHECK_EQ(tr_cancel(h, 0), TR_ENOPROC);
  CHECK_EQ(tr_cancel(NULL, kept), TR_EINVAL);
  free(a);
  tr_host_free(h);
}

static void test_timeout(void) {
  tr_host *h = tr_host_new(NULL);
  arrivals *a = new_arrivals();
  tr_pid pid = spawn_receiver(h, a);
  uint64_t sent, t1, t2;

  uv_update_time(tr_host_loop(h));
  sent = now_of(h);
  CHECK_EQ(tr_timeout(h, pid, 20, &t1), TR_OK);
  CHECK_EQ(tr_timeout(h, pid, 5, &t2), TR_OK);
  CHECK(t1 != 0 && t2 != 0 && t1 != t2);
  CHECK(wait_arrivals(h, a, 2));
  CHECK_EQ(a->kinds[0], TR_KIND_TIMEOUT);
  CHECK_STR(a->names[0], "timeout");
  CHECK_EQ(a->sessions[0], t2);
  CHECK(a->at[0] - sent >= 5);
  CHECK_EQ(a->kinds[1], TR_KIND_TIMEOUT);
  CHECK_EQ(a->sessions[1], t1);
  CHECK(a->at[1] - sent >= 20);

  /* Cancelled like any timer. */
  CHECK_EQ(tr_timeout(h, pid, 5, &t1), TR_OK);
  CHECK_EQ(tr_cancel(h, t1), TR_OK);
  CHECK_EQ(after(h, 15, pid, "after", 0, NULL), TR_OK);
  CHECK(wait_arrivals(h, a, 3));
  CHECK_STR(a->names[2], "after");

  t1 = 1;
  CHECK_EQ(tr_timeout(h, 0, 5, &t1), TR_ENOPROC);
  CHECK_EQ(t1, 0);
  CHECK_EQ(tr_timeout(NULL, pid, 5, &t1), TR_EINVAL);
  free(a);
  tr_host_free(h);
}

static void test_dead_actors_timers_are_dropped(void) {
  tr_host *h = tr_host_new(NULL);
  arrivals *a = new_arrivals(), *b = new_arrivals();
  tr_pid doomed = spawn_receiver(h, a), other = spawn_receiver(h, b);
  tr_host_stats st;
  uint64_t t;

  CHECK_EQ(after(h, 5, doomed, "x", 0, NULL), TR_OK);
  CHECK_EQ(after(h, 10, doomed, "y", 0, &t), TR_OK);
  CHECK_EQ(after(h, 60000, doomed, "z", 0, NULL), TR_OK);
  CHECK(tr_timeout(h, doomed, 5, NULL) == TR_OK);
  CHECK_EQ(after(h, 20, other, "w", 0, NULL), TR_OK);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.timers, 5);

  CHECK_EQ(tr_kill(h, doomed, "normal"), TR_OK);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.timers, 1);
  CHECK_EQ(tr_cancel(h, t), TR_ENOPROC);

  CHECK(wait_arrivals(h, b, 1)); /* the other actor's timer still fires */
  CHECK_STR(b->names[0], "w");
  CHECK_EQ(a->n, 0);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.timers, 0);
  CHECK_EQ(st.dead_letters, 0); /* dropped, not counted */
  CHECK_EQ(tr_host_step(h), 0);
  free(a);
  free(b);
  tr_host_free(h);
}

static void test_bad_timers(void) {
  tr_host *h = tr_host_new(NULL);
  arrivals *a = new_arrivals();
  tr_pid pid = spawn_receiver(h, a);
  tr_msg *open = tr_msg_new("open");
  uint64_t t = 123;
  tr_host_stats st;

  CHECK_EQ(tr_kill(h, pid, "normal"), TR_OK);
  CHECK_EQ(after(h, 5, pid, "x", 0, &t), TR_ENOPROC);
  CHECK_EQ(t, 0);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.dead_letters, 1);
  CHECK_EQ(tr_after(h, pid, 5, NULL, &t), TR_EINVAL);
  tr_msg_add_map(open, 1); /* unfinished */
  pid = spawn_receiver(h, a);
  CHECK_EQ(tr_after(h, pid, 5, open, &t), TR_EBADMSG);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.timers, 0);
  free(a);
  tr_host_free(h);
}

/* Pending timers at the end are freed with the host (valgrind checks). */
static void test_pending_timers_freed(void) {
  tr_host *h = tr_host_new(NULL);
  arrivals *a = new_arrivals();
  tr_pid pid = spawn_receiver(h, a);
  int i;
  for (i = 0; i < 100; i++)
    CHECK_EQ(after(h, 60000 + (uint32_t)i, pid, "never", i, NULL), TR_OK);
  CHECK(tr_timeout(h, pid, 60000, NULL) == TR_OK);
  tr_host_free(h);
  CHECK_EQ(a->n, 0);
  free(a);
}

int main(void) {
  RUN(test_after_is_never_early);
  RUN(test_order_of_several);
  RUN(test_many_in_deadline_order);
  RUN(test_cancel);
  RUN(test_timeout);
  RUN(test_dead_actors_timers_are_dropped);
  RUN(test_bad_timers);
  RUN(test_pending_timers_freed);
  return test_report();
}
