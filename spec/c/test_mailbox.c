/*
 * test_mailbox.c -- per-actor queues: FIFO order, capacity and dead letters
 * (nothing vanishes), waiting for room (tr_notify_room), and tr_await,
 * which takes one awaited message ahead of the rest.
 */
#include <stdint.h>
#include <stdlib.h>

#include "test.h"

/* ------------------------------------------------------------ helpers */

#define LOG_MAX 64

/* What a logger actor saw, in order. */
typedef struct seen {
  int n;
  int kinds[LOG_MAX];
  uint64_t sessions[LOG_MAX];
  char names[LOG_MAX][16];
} seen;

typedef struct logger {
  seen *s;
  tr_msg *kept; /* a call held back until "release" */
  uint64_t awaited;
} logger;

static volatile int gate_open; /* see "hold" below */

static int logger_init(tr_actor *self, void *state, tr_msg *args) {
  logger *l = state;
  (void)args;
  l->s = tr_actor_ctx(self);
  return 0;
}

static void note(seen *s, tr_msg *m) {
  size_t len;
  const char *name = tr_msg_name(m, &len);
  if (s->n == LOG_MAX)
    return;
  s->kinds[s->n] = tr_msg_kind(m);
  s->sessions[s->n] = tr_msg_session(m);
  if (len >= sizeof s->names[0])
    len = sizeof s->names[0] - 1;
  memcpy(s->names[s->n], name, len);
  s->names[s->n][len] = '\0';
  s->n++;
}

/* Logs every message, and on request:
 *   "hold"      yields (m == NULL next) until gate_open is set
 *   "call"(pid) calls pid and awaits the answer
 *   "wait"(ms)  awaits a tr_timeout of ms
 *   a call      is kept unanswered until "release" */
static int logger_handle(tr_actor *self, void *state, tr_msg *m) {
  logger *l = state;
  tr_host *h = tr_actor_host(self);
  tr_pid to;
  int ms;
  if (!m)
    return gate_open ? TR_CONTINUE : TR_YIELD;
  note(l->s, m);
  if (tr_msg_is(m, "hold")) {
    return gate_open ? TR_CONTINUE : TR_YIELD;
  } else if (tr_msg_kind(m) == TR_KIND_CALL) {
    l->kept = tr_msg_clone(m);
  } else if (tr_msg_is(m, "release") && l->kept) {
    CHECK_EQ(tr_reply(h, l->kept, tr_msg_new("answer")), TR_OK);
    tr_msg_free(l->kept);
    l->kept = NULL;
  } else if (tr_msg_is(m, "call") && tr_msg_unpack(m, "p", &to) == 0) {
    CHECK_EQ(tr_call(h, tr_self(self), to, tr_msg_new("req"), 0, &l->awaited),
             TR_OK);
    tr_await(self, l->awaited);
  } else if (tr_msg_is(m, "wait") && tr_msg_unpack(m, "i", &ms) == 0) {
    CHECK_EQ(tr_timeout(h, tr_self(self), (uint32_t)ms, &l->awaited), TR_OK);
    CHECK(l->awaited != 0);
    tr_await(self, l->awaited);
  }
  return TR_CONTINUE;
}

static void logger_terminate(tr_actor *self, void *state, const char *why) {
  logger *l = state;
  (void)self, (void)why;
  tr_msg_free(l->kept);
}

static const tr_behaviour logger_b = {"logger", sizeof(logger), logger_init,
                                      logger_handle, logger_terminate};

static tr_pid spawn_logger(tr_host *h, seen *s, uint32_t capacity) {
  tr_spawn_opts o = {0};
  tr_pid pid = 0;
  o.capacity = capacity;
  CHECK_EQ(test_spawn_ctx(h, &logger_b, s, &o, &pid), TR_OK);
  return pid;
}

static int send_simple(tr_host *h, tr_pid to, const char *name) {
  return tr_send(h, 0, to, tr_msg_new(name));
}

/* Steps h until s has logged n messages (deadline 1 s). */
static int wait_seen(tr_host *h, seen *s, int n) {
  uint64_t end = uv_hrtime() + 1000000000u;
  while (s->n < n && uv_hrtime() < end)
    if (tr_host_step(h) < 0)
      break;
  return s->n >= n;
}

static void steps(tr_host *h, int n) {
  while (n--)
    tr_host_step(h);
}

/* Checks each message carries the next number (state: the test's own
 * sequence struct, passed as the spawn argument). */
typedef struct sequence {
  int64_t next, out_of_order;
} sequence;

static int sequence_init(tr_actor *self, void *state, tr_msg *args) {
  (void)args;
  *(sequence **)state = tr_actor_ctx(self);
  return 0;
}

static int sequence_handle(tr_actor *self, void *state, tr_msg *m) {
  sequence *q = *(sequence **)state;
  int64_t i = -1;
  (void)self;
  if (m && tr_msg_unpack(m, "I", &i) == 0) {
    if (i != q->next)
      q->out_of_order++;
    q->next = i + 1;
  }
  return TR_CONTINUE;
}

static const tr_behaviour sequence_b = {"sequence", sizeof(sequence *),
                                        sequence_init, sequence_handle, NULL};

/* Counts what it handles into the counter its argument points at. */
static int count_init(tr_actor *self, void *state, tr_msg *args) {
  (void)args;
  *(int64_t **)state = tr_actor_ctx(self);
  return 0;
}

static int count_handle(tr_actor *self, void *state, tr_msg *m) {
  (void)self;
  if (m)
    (**(int64_t **)state)++;
  return TR_CONTINUE;
}

static const tr_behaviour count_b = {"count", sizeof(int64_t *), count_init,
                                     count_handle, NULL};

/* -------------------------------------------------------------- tests */

static void test_fifo_order(void) {
  enum { N = 20000 };
  tr_host *h = tr_host_new(NULL);
  tr_spawn_opts o = {0};
  sequence q = {0, 0};
  tr_host_stats st;
  tr_pid pid;
  int64_t i;

  o.capacity = N;
  CHECK_EQ(test_spawn_ctx(h, &sequence_b, &q, &o, &pid), TR_OK);
  /* Bursts with steps in between: the queue is appended to while it is
   * partly drained. */
  for (i = 0; i < N; i++) {
    CHECK_EQ(tr_send(h, 0, pid, tr_msg_pack("n", "I", i)), TR_OK);
    if (i % 997 == 0)
      tr_host_step(h);
  }
  while (tr_host_step(h) > 0)
    ;
  CHECK_EQ(q.next, N);
  CHECK_EQ(q.out_of_order, 0);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.delivered, N);
  CHECK_EQ(st.dead_letters, 0);
  tr_host_free(h);
}

static void test_fifo_order_of_names(void) {
  tr_host *h = tr_host_new(NULL);
  seen s = {0};
  tr_pid pid = spawn_logger(h, &s, 0);
  char name[16];
  int i, in_order = 1;

  for (i = 0; i < LOG_MAX; i++) {
    snprintf(name, sizeof name, "m%d", i);
    CHECK_EQ(send_simple(h, pid, name), TR_OK);
  }
  CHECK(wait_seen(h, &s, LOG_MAX));
  for (i = 0; i < LOG_MAX; i++) {
    snprintf(name, sizeof name, "m%d", i);
    if (strcmp(s.names[i], name) != 0)
      in_order = 0;
  }
  CHECK(in_order);
  tr_host_free(h);
}

static void test_capacity(void) {
  tr_host *h = tr_host_new(NULL);
  seen s = {0}, gone = {0};
  tr_pid pid = spawn_logger(h, &s, 4), dead = spawn_logger(h, &gone, 4);
  tr_host_stats st;
  int i;

  for (i = 0; i < 4; i++)
    CHECK_EQ(send_simple(h, pid, "fill"), TR_OK);
  CHECK_EQ(send_simple(h, pid, "over"), TR_EFULL);
  CHECK_EQ(send_simple(h, pid, "over"), TR_EFULL);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.dead_letters, 2);

  /* Only sends and calls count: a death notice still gets in. */
  CHECK_EQ(tr_kill(h, dead, "normal"), TR_OK);
  CHECK(tr_monitor(h, pid, dead, NULL) == TR_OK);

  CHECK(wait_seen(h, &s, 5));
  steps(h, 3);
  CHECK_EQ(s.n, 5);
  for (i = 0; i < 4; i++)
    CHECK_STR(s.names[i], "fill");
  CHECK_EQ(s.kinds[4], TR_KIND_DOWN);

  /* Room again once it has taken its mail. */
  CHECK_EQ(send_simple(h, pid, "again"), TR_OK);
  CHECK(wait_seen(h, &s, 6));
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.dead_letters, 2);
  tr_host_free(h);
}

static void test_bad_sends(void) {
  tr_host *h = tr_host_new(NULL);
  seen s = {0};
  tr_pid pid = spawn_logger(h, &s, 0);
  tr_host_stats st;
  tr_msg *open = tr_msg_new("open");

  CHECK_EQ(tr_kill(h, pid, "normal"), TR_OK);
  CHECK_EQ(send_simple(h, pid, "late"), TR_ENOPROC);
  CHECK_EQ(send_simple(h, 0, "nobody"), TR_ENOPROC);
  CHECK_EQ(send_simple(h, 0xdeadbeef00000001ull, "stranger"), TR_ENOPROC);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.dead_letters, 3);

  /* Not messages at all: refused, freed, not counted. */
  CHECK_EQ(tr_send(h, 0, pid, NULL), TR_EINVAL);
  CHECK_EQ(tr_send(NULL, 0, pid, tr_msg_new("x")), TR_EINVAL);
  tr_msg_add_array(open, 2);
  tr_msg_add_int(open, 1); /* one of two: unfinished */
  CHECK_EQ(tr_send(h, 0, pid, open), TR_EBADMSG);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.dead_letters, 3);
  tr_host_free(h);
}

/* A mix of sends to small mailboxes, dead actors and kills with mail still
 * queued: every message sent is either handled or a dead letter. */
static void test_nothing_vanishes(void) {
  enum { ACTORS = 8, ROUNDS = 4000 };
  tr_host *h = tr_host_new(NULL);
  tr_spawn_opts o = {0};
  tr_pid pids[ACTORS];
  int64_t handled = 0, sent = 0, refused = 0;
  uint64_t rng = 88172645463325252ull;
  tr_host_stats st;
  int i, j;

  o.capacity = 8;
  for (i = 0; i < ACTORS; i++)
    CHECK_EQ(test_spawn_ctx(h, &count_b, &handled, &o, &pids[i]), TR_OK);
  for (i = 0; i < ROUNDS; i++) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    j = (int)(rng % ACTORS);
    if (rng % 101 == 0) { /* replace one, mail and all */
      tr_kill(h, pids[j], "normal");
      CHECK_EQ(test_spawn_ctx(h, &count_b, &handled, &o, &pids[j]), TR_OK);
    }
    sent++;
    if (send_simple(h, (rng >> 20) % 7 ? pids[j] : 0, "m") != TR_OK)
      refused++;
    if (rng % 5 == 0)
      tr_host_step(h);
  }
  while (tr_host_step(h) > 0)
    ;
  tr_host_get_stats(h, &st);
  CHECK(refused > 0);
  CHECK(handled > 0);
  CHECK_EQ((int64_t)st.delivered, handled);
  CHECK_EQ(handled + (int64_t)st.dead_letters, sent);
  /* Mail left at the end is counted when the host ends its actors. */
  for (i = 0; i < ACTORS; i++)
    send_simple(h, pids[i], "left");
  sent += ACTORS;
  tr_host_stop(h);
  CHECK_EQ(tr_host_step(h), TR_ESTOPPED);
  tr_host_get_stats(h, &st);
  CHECK_EQ(handled + (int64_t)st.dead_letters, sent);
  tr_host_free(h);
}

static void test_notify_room(void) {
  tr_host *h = tr_host_new(NULL);
  seen ws = {0}, fs = {0};
  tr_pid waiter = spawn_logger(h, &ws, 0), full = spawn_logger(h, &fs, 2);
  uint64_t id;

  /* Keep `full` busy on "hold" while its mailbox fills up. */
  gate_open = 0;
  CHECK_EQ(send_simple(h, full, "hold"), TR_OK);
  CHECK(wait_seen(h, &fs, 1));
  CHECK_EQ(send_simple(h, full, "a"), TR_OK);
  CHECK_EQ(send_simple(h, full, "b"), TR_OK);
  CHECK_EQ(send_simple(h, full, "c"), TR_EFULL);

  CHECK_EQ(tr_notify_room(h, waiter, full, 0, &id), TR_OK);
  CHECK(id != 0);
  steps(h, 20);
  CHECK_EQ(ws.n, 0); /* still full: nothing yet */
  CHECK_EQ(fs.n, 1);

  gate_open = 1; /* `full` takes "a": room for one */
  CHECK(wait_seen(h, &ws, 1));
  CHECK_EQ(ws.kinds[0], TR_KIND_ROOM);
  CHECK_EQ(ws.sessions[0], id);
  CHECK_STR(ws.names[0], "room");
  CHECK_EQ(send_simple(h, full, "c"), TR_OK); /* the retry gets in */
  CHECK(wait_seen(h, &fs, 4));
  CHECK_STR(fs.names[3], "c");

  /* With room now, the answer comes at once. */
  CHECK_EQ(tr_notify_room(h, waiter, full, 0, &id), TR_OK);
  CHECK(id != 0);
  CHECK(wait_seen(h, &ws, 2));
  CHECK_EQ(ws.kinds[1], TR_KIND_ROOM);
  CHECK_EQ(ws.sessions[1], id);

  /* A waiter that is not alive, or no host: no wait. */
  id = 1;
  CHECK_EQ(tr_notify_room(h, 0, full, 0, &id), TR_ENOPROC);
  CHECK_EQ(id, 0);
  CHECK_EQ(tr_notify_room(NULL, waiter, full, 0, &id), TR_EINVAL);
  tr_host_free(h);
}

static void test_notify_room_on_death_and_timeout(void) {
  tr_host *h = tr_host_new(NULL);
  seen ws = {0}, fs = {0};
  tr_pid waiter = spawn_logger(h, &ws, 0), full = spawn_logger(h, &fs, 1);
  uint64_t on_death, timed;
  tr_host_stats st;

  gate_open = 0;
  CHECK_EQ(send_simple(h, full, "hold"), TR_OK);
  CHECK(wait_seen(h, &fs, 1));
  CHECK_EQ(send_simple(h, full, "a"), TR_OK);
  CHECK_EQ(send_simple(h, full, "b"), TR_EFULL);

  /* A wait with a deadline that passes first gets a timeout. */
  CHECK_EQ(tr_notify_room(h, waiter, full, 20, &timed), TR_OK);
  CHECK(timed != 0);
  CHECK(wait_seen(h, &ws, 1));
  CHECK_EQ(ws.kinds[0], TR_KIND_TIMEOUT);
  CHECK_EQ(ws.sessions[0], timed);

  /* The full actor's end is room enough: the sender retries and learns it
   * is gone. */
  CHECK_EQ(tr_notify_room(h, waiter, full, 0, &on_death), TR_OK);
  CHECK(on_death != 0 && on_death != timed);
  CHECK_EQ(tr_kill(h, full, "normal"), TR_OK);
  CHECK(wait_seen(h, &ws, 2));
  CHECK_EQ(ws.kinds[1], TR_KIND_ROOM);
  CHECK_EQ(ws.sessions[1], on_death);
  CHECK_EQ(send_simple(h, full, "b"), TR_ENOPROC);

  /* To a dead one: at once. */
  CHECK_EQ(tr_notify_room(h, waiter, full, 0, &on_death), TR_OK);
  CHECK(on_death != 0);
  CHECK(wait_seen(h, &ws, 3));
  CHECK_EQ(ws.sessions[2], on_death);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.timers, 0);
  gate_open = 1;
  tr_host_free(h);
}

static void test_await_takes_the_reply_first(void) {
  tr_host *h = tr_host_new(NULL);
  seen as = {0}, cs = {0};
  tr_pid a = spawn_logger(h, &as, 0), callee = spawn_logger(h, &cs, 0);

  gate_open = 1;
  CHECK_EQ(tr_send(h, 0, a, tr_msg_pack("call", "p", callee)), TR_OK);
  CHECK(wait_seen(h, &cs, 1)); /* callee holds the request */
  CHECK_EQ(cs.kinds[0], TR_KIND_CALL);

  /* While a awaits, other mail waits in its mailbox. */
  CHECK_EQ(send_simple(h, a, "x1"), TR_OK);
  CHECK_EQ(send_simple(h, a, "x2"), TR_OK);
  CHECK_EQ(send_simple(h, a, "x3"), TR_OK);
  steps(h, 20);
  CHECK_EQ(as.n, 1);

  CHECK_EQ(send_simple(h, callee, "release"), TR_OK);
  CHECK(wait_seen(h, &as, 5));
  CHECK_STR(as.names[0], "call");
  CHECK_STR(as.names[1], "answer");
  CHECK_EQ(as.kinds[1], TR_KIND_REPLY);
  CHECK_EQ(as.sessions[1], cs.sessions[0]);
  CHECK_STR(as.names[2], "x1");
  CHECK_STR(as.names[3], "x2");
  CHECK_STR(as.names[4], "x3");
  tr_host_free(h);
}

static void test_await_a_timeout(void) {
  tr_host *h = tr_host_new(NULL);
  seen s = {0};
  tr_pid a = spawn_logger(h, &s, 0);

  CHECK_EQ(tr_send(h, 0, a, tr_msg_pack("wait", "i", 30)), TR_OK);
  CHECK(wait_seen(h, &s, 1));
  CHECK_EQ(send_simple(h, a, "y1"), TR_OK);
  CHECK_EQ(send_simple(h, a, "y2"), TR_OK);
  CHECK(wait_seen(h, &s, 4));
  CHECK_STR(s.names[1], "timeout");
  CHECK_EQ(s.kinds[1], TR_KIND_TIMEOUT);
  CHECK_STR(s.names[2], "y1");
  CHECK_STR(s.names[3], "y2");
  tr_host_free(h);
}

int main(void) {
  RUN(test_fifo_order);
  RUN(test_fifo_order_of_names);
  RUN(test_capacity);
  RUN(test_bad_sends);
  RUN(test_nothing_vanishes);
  RUN(test_notify_room);
  RUN(test_notify_room_on_death_and_timeout);
  RUN(test_await_takes_the_reply_first);
  RUN(test_await_a_timeout);
  return test_report();
}
