/*
 * test_heir.c -- an heir inherits what a dead actor had not handled: sends
 * and calls, in order, ahead of its own mail, with calls now waiting on the
 * heir; a message an actor took over and puts back (tr_mailbox_putback)
 * goes first, to its heir or its next take; and the liveness an heir's
 * supervisor reads (tr_actor_quiet_ms, tr_heartbeat) and the mailbox count a
 * batching writer reads.
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
  (void)args;
  r->log = tr_actor_ctx(self);
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
  CHECK_EQ(test_spawn_ctx(h, &rec_b, log, NULL, &pid), TR_OK);
  return pid;
}

/* A caller: its state points at a struct of the test's, which keeps the
 * answer's kind and value. */
typedef struct caller {
  uint64_t session;
  int kind, done;
  int64_t value;
  tr_pid from;
  char name[16], why[16]; /* an error's name and argument */
} caller;

static int caller_handle(tr_actor *self, void *state, tr_msg *m) {
  caller *c = *(caller **)state;
  const char *s;
  size_t len;
  (void)self;
  if (m && c->session && tr_msg_session(m) == c->session) {
    c->kind = tr_msg_kind(m);
    c->from = tr_msg_from(m);
    s = tr_msg_name(m, &len);
    test_copy_str(c->name, sizeof c->name, s, len);
    if (c->kind == TR_KIND_ERROR && tr_msg_unpack(m, "s", &s, &len) == TR_OK)
      test_copy_str(c->why, sizeof c->why, s, len);
    else
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

  CHECK_EQ(tr_mailbox_set_heir(h, a, b), TR_OK);
  CHECK_EQ(tr_mailbox_set_heir(h, a, a), TR_EINVAL);
  CHECK_EQ(tr_mailbox_set_heir(h, a, 0x7777), TR_ENOPROC);
  CHECK_EQ(test_spawn_ctx(h, &caller_b, &c, NULL, &cp), TR_OK);
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
  CHECK_EQ(tr_mailbox_set_heir(h, a, 0), TR_ENOPROC);
  tr_host_free(h);
}

static tr_pid spawn_caller(tr_host *h, caller *c) {
  tr_pid pid = 0;
  CHECK_EQ(test_spawn_ctx(h, &caller_b, c, NULL, &pid), TR_OK);
  return pid;
}

/* An actor that takes over the first message it gets (tr_keep) and leaves
 * the rest queued (it awaits a timer far off), as a Lua actor preempted in
 * the middle of a call does. Ending on purpose, it puts the message back
 * in terminate; ending otherwise, it frees it. */
typedef struct holder {
  tr_msg *kept;
  int put_rc; /* tr_mailbox_putback's answer; 1 until then */
  int ended;
} holder;

static int holder_handle(tr_actor *self, void *state, tr_msg *m) {
  holder *k = *(holder **)state;
  uint64_t s;
  if (!m || k->kept)
    return TR_CONTINUE;
  k->kept = tr_keep(self, m);
  CHECK_EQ(tr_timeout(tr_actor_host(self), tr_self(self), 600000, &s), TR_OK);
  tr_await(self, s);
  return TR_CONTINUE;
}

static void holder_terminate(tr_actor *self, void *state, const char *reason) {
  holder *k = *(holder **)state;
  if (tr_reason_deliberate(reason))
    k->put_rc = tr_mailbox_putback(self, k->kept);
  else
    tr_msg_free(k->kept);
  k->kept = NULL;
  k->ended = 1;
}

static const tr_behaviour holder_b = {"holder", sizeof(holder *), test_ptr_init,
                                      holder_handle, holder_terminate};

/* The holder kept a call (1) and has 2, a call with 3 and 4 queued behind
 * it; it is reset. */
static tr_pid holder_with_mail(tr_host *h, holder *k, caller *c1, caller *c3) {
  tr_pid hp = 0, cp1 = spawn_caller(h, c1), cp3 = spawn_caller(h, c3);
  CHECK_EQ(test_spawn_ctx(h, &holder_b, k, NULL, &hp), TR_OK);
  CHECK_EQ(tr_call(h, cp1, hp, tr_msg_pack("v", "I", (int64_t)1), 60000,
                   &c1->session),
           TR_OK);
  STEP_UNTIL(h, k->kept != NULL, 2000);
  CHECK(k->kept != NULL);
  CHECK_EQ(tr_mailbox_count(h, hp), 0);
  CHECK_EQ(tr_send(h, 0, hp, tr_msg_pack("v", "I", (int64_t)2)), TR_OK);
  CHECK_EQ(tr_call(h, cp3, hp, tr_msg_pack("v", "I", (int64_t)3), 60000,
                   &c3->session),
           TR_OK);
  CHECK_EQ(tr_send(h, 0, hp, tr_msg_pack("v", "I", (int64_t)4)), TR_OK);
  CHECK_EQ(tr_mailbox_count(h, hp), 3); /* the kept one is out of the count */
  return hp;
}

static void test_putback_goes_to_the_heir_first(void) {
  tr_host *h = tr_host_new(NULL);
  log_t heir = {0};
  holder k = {NULL, 1, 0};
  caller c1 = {0}, c3 = {0};
  tr_pid b = spawn_rec(h, &heir), hp = holder_with_mail(h, &k, &c1, &c3);
  const int64_t want[] = {1, 2, 3, 4, 100};
  tr_host_stats st;
  int i;

  CHECK_EQ(tr_mailbox_set_heir(h, hp, b), TR_OK);
  CHECK_EQ(tr_send(h, 0, b, tr_msg_pack("own", "I", (int64_t)100)), TR_OK);
  CHECK_EQ(tr_kill(h, hp, "reset"), TR_OK);
  CHECK_EQ(k.ended, 1);
  CHECK_EQ(k.put_rc, TR_OK);
  STEP_UNTIL(h, c1.done && c3.done && heir.n == 5, 5000);
  /* The kept call first, then what was queued, then the heir's own. */
  CHECK_EQ(heir.n, 5);
  for (i = 0; i < 5 && i < heir.n; i++) {
    CHECK_EQ(heir.seen[i], want[i]);
    CHECK_EQ(heir.inherited[i], i < 4);
  }
  /* Both calls were answered by the heir, straight to their callers. */
  CHECK_EQ(c1.kind, TR_KIND_REPLY);
  CHECK_EQ(c1.value, 1);
  CHECK_EQ(c1.from, b);
  CHECK_EQ(c3.kind, TR_KIND_REPLY);
  CHECK_EQ(c3.value, 3);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.dead_letters, 0);
  CHECK_EQ(st.late_replies, 0);
  tr_host_free(h);
}

static void test_putback_without_heir_fails_the_call(void) {
  tr_host *h = tr_host_new(NULL);
  holder k = {NULL, 1, 0};
  caller c1 = {0}, c3 = {0};
  tr_pid hp = holder_with_mail(h, &k, &c1, &c3);
  tr_host_stats st;

  CHECK_EQ(tr_kill(h, hp, "reset"), TR_OK);
  CHECK_EQ(k.put_rc, TR_OK);
  /* At once, not at the calls' 60 s timeout: both fail as the calls queued
   * for a dead actor do, and the mail counts as dead letters. */
  STEP_UNTIL(h, c1.done && c3.done, 5000);
  CHECK_EQ(c1.kind, TR_KIND_ERROR);
  CHECK_STR(c1.name, "down");
  CHECK_STR(c1.why, "reset");
  CHECK_EQ(c1.from, hp);
  CHECK_EQ(c3.kind, TR_KIND_ERROR);
  CHECK_STR(c3.why, "reset");
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.dead_letters, 4);
  tr_host_free(h);
}

/* A crash is no deliberate end: the kept call is dropped and fails. */
static void test_crash_does_not_put_back(void) {
  tr_host *h = tr_host_new(NULL);
  log_t heir = {0};
  holder k = {NULL, 1, 0};
  caller c1 = {0}, c3 = {0};
  tr_pid b = spawn_rec(h, &heir), hp = holder_with_mail(h, &k, &c1, &c3);

  CHECK_EQ(tr_mailbox_set_heir(h, hp, b), TR_OK);
  CHECK_EQ(tr_kill(h, hp, "boom"), TR_OK);
  CHECK_EQ(k.put_rc, 1);
  STEP_UNTIL(h, c1.done && c3.done && heir.n == 3, 5000);
  CHECK_EQ(c1.kind, TR_KIND_ERROR);
  CHECK_STR(c1.why, "boom");
  CHECK_EQ(c3.kind, TR_KIND_REPLY); /* queued: the heir answered it */
  CHECK_EQ(heir.n, 3);
  CHECK_EQ(heir.seen[0], 2);
  CHECK(tr_reason_deliberate("killed") && tr_reason_deliberate("reset") &&
        tr_reason_deliberate("restart"));
  CHECK(!tr_reason_deliberate("boom") && !tr_reason_deliberate("normal") &&
        !tr_reason_deliberate(NULL));
  tr_host_free(h);
}

/* A live actor that puts a kept message back takes it again next, ahead
 * of what came after it. It keeps the first "k", and puts it back on
 * "back"; it records what it takes and the count after the put-back. */
typedef struct again {
  tr_msg *kept;
  int64_t seen[8];
  int n, count, put_rc;
} again;

static int again_handle(tr_actor *self, void *state, tr_msg *m) {
  again *g = *(again **)state;
  int64_t v = -1;
  if (!m)
    return TR_CONTINUE;
  tr_msg_unpack(m, "I", &v);
  if (g->n < 8)
    g->seen[g->n++] = v;
  if (tr_msg_is(m, "k") && !g->kept && g->n == 1) {
    g->kept = tr_keep(self, m);
  } else if (tr_msg_is(m, "back") && g->kept) {
    g->put_rc = tr_mailbox_putback(self, g->kept);
    g->kept = NULL;
    g->count = tr_mailbox_count(tr_actor_host(self), tr_self(self));
  }
  return TR_CONTINUE;
}

static const tr_behaviour again_b = {"again", sizeof(again *), test_ptr_init,
                                     again_handle, NULL};

static void test_putback_while_alive(void) {
  tr_host *h = tr_host_new(NULL);
  again g = {0};
  tr_pid a = 0;
  const int64_t want[] = {1, 0, 1, 2};
  int i;
  CHECK_EQ(test_spawn_ctx(h, &again_b, &g, NULL, &a), TR_OK);
  CHECK_EQ(tr_send(h, 0, a, tr_msg_pack("k", "I", (int64_t)1)), TR_OK);
  CHECK_EQ(tr_send(h, 0, a, tr_msg_pack("back", "I", (int64_t)0)), TR_OK);
  CHECK_EQ(tr_send(h, 0, a, tr_msg_pack("v", "I", (int64_t)2)), TR_OK);
  STEP_UNTIL(h, g.n == 4, 2000);
  CHECK_EQ(g.n, 4);
  for (i = 0; i < 4 && i < g.n; i++)
    CHECK_EQ(g.seen[i], want[i]);
  CHECK_EQ(g.put_rc, TR_OK);
  CHECK_EQ(g.count, 2); /* the put-back one and "v" */
  CHECK_EQ(tr_mailbox_count(h, a), 0);
  /* Outside the actor's callbacks: refused, and the message freed. */
  CHECK_EQ(tr_mailbox_putback(NULL, tr_msg_new("x")), TR_EINVAL);
  tr_host_free(h);
}

/* An actor that never takes its mail: it yields forever, like a runaway
 * loop, and beats only while the test's flag (its state points at it) says
 * so. */
static int spin_init(tr_actor *self, void *state, tr_msg *args) {
  (void)args;
  *(int **)state = tr_actor_ctx(self);
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

/* Steps h for ms; returns when (uv_hrtime) the step before the last one
 * began: an actor that shows life at every step has been quiet no longer
 * than since then, however the machine's load spaced the steps. */
static uint64_t step_for(tr_host *h, unsigned ms) {
  uint64_t start = uv_hrtime(), prev = start, last = start;
  while (last - start < (uint64_t)ms * 1000000u) {
    prev = last;
    last = uv_hrtime();
    tr_host_step(h);
  }
  return prev;
}

static void test_quiet_time(void) {
  tr_host *h = tr_host_new(NULL);
  log_t idle_log = {0};
  tr_pid idle = spawn_rec(h, &idle_log), spin;
  int beat = 0;
  uint64_t since;
  CHECK_EQ(test_spawn_ctx(h, &spin_b, &beat, NULL, &spin), TR_OK);
  CHECK_EQ(tr_send(h, 0, spin, tr_msg_new("go")), TR_OK); /* never taken */
  step_for(h, 80);
  /* Waiting with nothing to do is healthy, however long. */
  CHECK_EQ(tr_actor_quiet_ms(h, idle), 0);
  /* Busy without taking mail: quiet about as long as the test ran. */
  CHECK(tr_actor_quiet_ms(h, spin) >= 60);
  /* Heartbeats make it fresh, busy as it is. */
  beat = 1;
  since = step_for(h, 30);
  CHECK(tr_actor_quiet_ms(h, spin) <=
        (int64_t)((uv_hrtime() - since) / 1000000u) + 1);
  CHECK_EQ(tr_actor_quiet_ms(h, 0x12345), TR_ENOPROC);
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
  RUN(test_putback_goes_to_the_heir_first);
  RUN(test_putback_without_heir_fails_the_call);
  RUN(test_crash_does_not_put_back);
  RUN(test_putback_while_alive);
  RUN(test_quiet_time);
  RUN(test_mailbox_count);
  return test_report();
}
