/*
 * test_heir.c -- an heir inherits what a dead actor had not handled: sends
 * and calls, in order, ahead of its own mail, with calls now waiting on the
 * heir; and the liveness an heir's supervisor reads (tr_quiet_ms,
 * tr_heartbeat) and the mailbox count a batching writer reads.
 */
#include <stdint.h>

#include "test.h"

/* An actor that records the first argument of every message, and answers
 * calls with it. Crashes (ends "boom") on a message named "boom". */
typedef struct log {
  int64_t seen[64];
  int inherited[64]; /* tr_msg_inherited of each */
  int n;
  int crashed;
} log_t;

typedef struct rec {
  log_t *log;
} rec;

static int rec_init(tr_actor *self, void *state, tr_msg *args) {
  rec *r = state;
  int64_t p;
  (void)self;
  if (tr_msg_unpack(args, "I", &p))
    return -1;
  r->log = (log_t *)(intptr_t)p;
  return 0;
}

static int rec_handle(tr_actor *self, void *state, tr_msg *m) {
  rec *r = state;
  int64_t v = -1;
  if (!m)
    return TR_CONTINUE;
  if (tr_msg_is(m, "boom")) {
    r->log->crashed = 1;
    tr_exit(self, "boom");
    return TR_CONTINUE;
  }
  tr_msg_unpack(m, "I", &v);
  if (r->log->n < 64) {
    r->log->inherited[r->log->n] = tr_msg_inherited(m);
    r->log->seen[r->log->n++] = v;
  }
  if (tr_msg_kind(m) == TR_KIND_CALL)
    tr_reply(tr_actor_host(self), m, tr_msg_pack("reply", "I", v));
  return TR_CONTINUE;
}

static const tr_behaviour rec_b = {"rec", sizeof(rec), rec_init, rec_handle,
                                   NULL};

static tr_pid spawn_rec(tr_host *h, log_t *log) {
  tr_pid pid = 0;
  CHECK_EQ(tr_spawn(h, &rec_b, tr_msg_pack("a", "I", (int64_t)(intptr_t)log),
                    NULL, &pid),
           TR_OK);
  return pid;
}

/* A caller: its state points at a struct of the test's, which keeps the
 * answer's kind and value. */
typedef struct caller {
  uint64_t session;
  int kind, done;
  int64_t value;
} caller;

static int caller_handle(tr_actor *self, void *state, tr_msg *m) {
  caller *c = *(caller **)state;
  (void)self;
  if (m && c->session && tr_msg_session(m) == c->session) {
    c->kind = tr_msg_kind(m);
    tr_msg_unpack(m, "I", &c->value);
    c->done = 1;
  }
  return TR_CONTINUE;
}

static const tr_behaviour caller_b = {"caller", sizeof(caller *), test_ptr_init,
                                      caller_handle, NULL};

static void test_heir_inherits_queued_mail_in_order(void) {
  tr_host *h = tr_host_new(NULL);
  log_t dead = {0}, heir = {0};
  tr_pid a = spawn_rec(h, &dead), b = spawn_rec(h, &heir), cp = 0;
  caller c = {0};
  const int64_t want[] = {2, 3, 4, 100};
  int i;

  CHECK_EQ(tr_set_heir(h, a, b), TR_OK);
  CHECK_EQ(tr_set_heir(h, a, a), TR_EINVAL);
  CHECK_EQ(tr_set_heir(h, a, 0x7777), TR_ENOPROC);
  CHECK_EQ(tr_spawn(h, &caller_b, tr_msg_pack("a", "I", (int64_t)(intptr_t)&c),
                    NULL, &cp),
           TR_OK);
  /* a gets 1, boom, then 2, a call with 3, and 4: it handles only 1. */
  CHECK_EQ(tr_send(h, 0, a, tr_msg_pack("v", "I", (int64_t)1)), TR_OK);
  CHECK_EQ(tr_send(h, 0, a, tr_msg_new("boom")), TR_OK);
  CHECK_EQ(tr_send(h, 0, a, tr_msg_pack("v", "I", (int64_t)2)), TR_OK);
  CHECK_EQ(
      tr_call(h, cp, a, tr_msg_pack("v", "I", (int64_t)3), 10000, &c.session),
      TR_OK);
  CHECK_EQ(tr_send(h, 0, a, tr_msg_pack("v", "I", (int64_t)4)), TR_OK);
  /* b has mail of its own, queued before a dies (a runs first: it was
   * ready first). */
  CHECK_EQ(tr_send(h, 0, b, tr_msg_pack("own", "I", (int64_t)100)), TR_OK);

  CHECK(test_wait(h, &c.done, 2000));
  CHECK_EQ(dead.crashed, 1);
  CHECK_EQ(dead.n, 1);
  CHECK_EQ(dead.seen[0], 1);
  /* The heir took the inherited mail first, in order, then its own. */
  CHECK_EQ(heir.n, 4);
  for (i = 0; i < 4 && i < heir.n; i++) {
    CHECK_EQ(heir.seen[i], want[i]);
    CHECK_EQ(heir.inherited[i], i < 3); /* 100 was the heir's own */
  }
  CHECK_EQ(dead.inherited[0], 0);
  /* The call was answered by the heir, not failed by a's death. */
  CHECK_EQ(c.kind, TR_KIND_REPLY);
  CHECK_EQ(c.value, 3);
  tr_host_free(h);
}

static void test_no_heir_means_dead_letters(void) {
  tr_host *h = tr_host_new(NULL);
  log_t dead = {0};
  tr_pid a = spawn_rec(h, &dead);
  tr_host_stats st;
  CHECK_EQ(tr_send(h, 0, a, tr_msg_new("boom")), TR_OK);
  CHECK_EQ(tr_send(h, 0, a, tr_msg_pack("v", "I", (int64_t)2)), TR_OK);
  CHECK(test_wait(h, &dead.crashed, 1000));
  tr_host_step(h);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.dead_letters, 1);
  CHECK_EQ(tr_set_heir(h, a, 0), TR_ENOPROC);
  tr_host_free(h);
}

/* An actor that never takes its mail: it yields forever, like a runaway
 * loop, and beats only while the test's flag (its state points at it) says
 * so. */
static int spin_init(tr_actor *self, void *state, tr_msg *args) {
  int64_t p;
  (void)self;
  if (tr_msg_unpack(args, "I", &p))
    return -1;
  *(int **)state = (int *)(intptr_t)p;
  return 0;
}

static int spin_handle(tr_actor *self, void *state, tr_msg *m) {
  (void)m;
  if (**(int **)state)
    tr_heartbeat(self);
  return TR_YIELD;
}

static const tr_behaviour spin_b = {"spin", sizeof(int *), spin_init,
                                    spin_handle, NULL};

static void step_for(tr_host *h, unsigned ms) {
  uint64_t start = uv_hrtime();
  while (uv_hrtime() - start < (uint64_t)ms * 1000000u)
    tr_host_step(h);
}

static void test_quiet_time(void) {
  tr_host *h = tr_host_new(NULL);
  log_t idle_log = {0};
  tr_pid idle = spawn_rec(h, &idle_log), spin;
  int beat = 0;
  CHECK_EQ(tr_spawn(h, &spin_b, tr_msg_pack("a", "I", (int64_t)(intptr_t)&beat),
                    NULL, &spin),
           TR_OK);
  CHECK_EQ(tr_send(h, 0, spin, tr_msg_new("go")), TR_OK); /* never taken */
  step_for(h, 80);
  /* Waiting with nothing to do is healthy, however long. */
  CHECK_EQ(tr_quiet_ms(h, idle), 0);
  /* Busy without taking mail: quiet about as long as the test ran. */
  CHECK(tr_quiet_ms(h, spin) >= 60);
  /* Heartbeats make it fresh, busy as it is. */
  beat = 1;
  step_for(h, 30);
  CHECK(tr_quiet_ms(h, spin) < 20);
  CHECK_EQ(tr_quiet_ms(h, 0x12345), TR_ENOPROC);
  CHECK_EQ(tr_kill(h, spin, "normal"), TR_OK);
  tr_host_free(h);
}

static void test_mailbox_count(void) {
  tr_host *h = tr_host_new(NULL);
  log_t l = {0};
  tr_pid a = spawn_rec(h, &l);
  CHECK_EQ(tr_mailbox_count(h, a), 0);
  tr_send(h, 0, a, tr_msg_pack("v", "I", (int64_t)1));
  tr_send(h, 0, a, tr_msg_pack("v", "I", (int64_t)2));
  CHECK_EQ(tr_mailbox_count(h, a), 2);
  while (l.n < 2 && tr_host_step(h) > 0)
    ;
  CHECK_EQ(l.n, 2);
  CHECK_EQ(tr_mailbox_count(h, a), 0);
  CHECK_EQ(tr_mailbox_count(h, 0x999), TR_ENOPROC);
  tr_host_free(h);
}

int main(void) {
  RUN(test_heir_inherits_queued_mail_in_order);
  RUN(test_no_heir_means_dead_letters);
  RUN(test_quiet_time);
  RUN(test_mailbox_count);
  return test_report();
}
