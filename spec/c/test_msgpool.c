/*
 * test_msgpool.c -- a host's spare messages (core/msgpool.c): what it has
 * delivered and freed, tr_host_msg_newn hands out again, as a new message
 * with nothing of the old one left; the pool stays bounded, takes only
 * messages that own no other memory, is not touched off the loop thread,
 * and goes with the host (memcheck/msgpool sees nothing leak).
 */
#include <stdlib.h>

#include "host.h"
#include "test.h"

/* Counts what it handles. */
static int sink_handle(tr_actor *self, void *state, tr_msg *m) {
  int *n = *(int **)state;
  (void)self;
  (void)m;
  (*n)++;
  return TR_CONTINUE;
}

static const tr_behaviour sink = {"sink", sizeof(int *), test_ptr_init,
                                  sink_handle, NULL};

static tr_pid spawn_sink(tr_host *h, int *n) {
  tr_pid pid = 0;
  CHECK_EQ(test_spawn_ctx(h, &sink, n, NULL, &pid), TR_OK);
  return pid;
}

/* Sends m and steps until the sink has handled it. */
static void deliver(tr_host *h, tr_pid to, int *n, tr_msg *m) {
  int want = *n + 1;
  CHECK_EQ(tr_send(h, 0, to, m), TR_OK);
  STEP_UNTIL(h, *n >= want, 5000);
  CHECK_EQ(*n, want);
}

static void test_reused_as_new(void) {
  tr_host *h = tr_host_new(NULL);
  int n = 0;
  tr_pid to = spawn_sink(h, &n);
  tr_msg *m = tr_host_msg_newn(h, "first", 5), *again;
  size_t len;
  CHECK(m != NULL);
  tr_msg_add_int(m, 42);
  tr_msg_add_str(m, "text", 4);
  deliver(h, to, &n, m);
  CHECK_EQ(h->pool_len, 1);
  again = tr_host_msg_newn(h, "second", 6);
  CHECK(again == m); /* the same memory, made anew */
  CHECK_EQ(h->pool_len, 0);
  CHECK_EQ(tr_msg_argc(again), 0);
  CHECK_EQ(tr_msg_session(again), 0);
  CHECK_EQ(tr_msg_from(again), 0);
  CHECK_EQ(tr_msg_kind(again), TR_KIND_SEND);
  CHECK(tr_msg_is(again, "second"));
  CHECK(memcmp(tr_msg_name(again, &len), "second", 6) == 0 && len == 6);
  tr_msg_free(again);
  tr_host_free(h);
}

/* Only messages with nothing of their own on the heap are kept: one whose
 * buffer grew past the inline bytes is freed as it always was. */
static void test_keeps_plain_messages_only(void) {
  tr_host *h = tr_host_new(NULL);
  int n = 0;
  tr_pid to = spawn_sink(h, &n);
  tr_msg *big = tr_msg_new("big");
  char text[512];
  memset(text, 'x', sizeof text);
  tr_msg_add_str(big, text, sizeof text);
  deliver(h, to, &n, big);
  CHECK_EQ(h->pool_len, 0);
  tr_host_free(h);
}

static void test_bounded(void) {
  tr_host *h = tr_host_new(NULL);
  int n = 0, i;
  tr_pid to = spawn_sink(h, &n);
  for (i = 0; i < TR__POOL_MAX + 100; i++)
    CHECK_EQ(tr_send(h, 0, to, tr_msg_new("x")), TR_OK);
  STEP_UNTIL(h, n == TR__POOL_MAX + 100, 5000);
  CHECK_EQ(n, TR__POOL_MAX + 100);
  CHECK_EQ(h->pool_len, TR__POOL_MAX);
  tr_host_free(h); /* frees what it kept: memcheck/msgpool */
}

typedef struct off_thread {
  tr_host *h;
  tr_msg *m;
} off_thread;

static void make_off_thread(void *arg) {
  off_thread *o = arg;
  o->m = tr_host_msg_newn(o->h, "away", 4);
}

/* Off the loop thread, for NULL, or for a long name: tr_msg_newn, and the
 * pool is left alone. */
static void test_falls_back(void) {
  tr_host *h = tr_host_new(NULL);
  int n = 0;
  tr_pid to = spawn_sink(h, &n);
  off_thread o = {h, NULL};
  uv_thread_t t;
  char name[40];
  tr_msg *m;
  deliver(h, to, &n, tr_msg_new("x"));
  CHECK_EQ(h->pool_len, 1);
  CHECK_EQ(uv_thread_create(&t, make_off_thread, &o), 0);
  uv_thread_join(&t);
  CHECK(o.m != NULL && tr_msg_is(o.m, "away"));
  CHECK_EQ(h->pool_len, 1);
  tr_msg_free(o.m);
  m = tr_host_msg_newn(NULL, "none", 4);
  CHECK(m != NULL && tr_msg_is(m, "none"));
  tr_msg_free(m);
  memset(name, 'n', sizeof name);
  m = tr_host_msg_newn(h, name, sizeof name);
  CHECK(m != NULL && tr_msg_argc(m) == 0);
  CHECK_EQ(h->pool_len, 1);
  tr_msg_free(m);
  CHECK(tr_host_msg_newn(h, NULL, 3) == NULL); /* as tr_msg_newn */
  CHECK_EQ(h->pool_len, 1);
  tr_host_free(h);
}

int main(void) {
  RUN(test_reused_as_new);
  RUN(test_keeps_plain_messages_only);
  RUN(test_bounded);
  RUN(test_falls_back);
  return test_report();
}
