/*
 * test_backpressure.c -- senders waiting for room in a full mailbox: each
 * freed slot wakes one waiter, the oldest, so N waiters cost O(N)
 * deliveries and are served in the order they began to wait; a waiter
 * that ends or finds its room taken does not lose the slot or its place.
 * And mail an actor keeps aside (tr_mailbox_hold) fills its mailbox like
 * queued mail, while notices (tr_notify) still get in.
 */
#include <stdint.h>
#include <stdlib.h>

#include "test.h"

/* ------------------------------------------------------------ helpers */

#define MAX_IDS 4096

/* A sink: takes whatever comes, writing down the id (first argument) of
 * each message in the order taken. */
typedef struct sink {
  int n;
  int64_t ids[MAX_IDS];
} sink;

static int sink_handle(tr_actor *self, void *state, tr_msg *m) {
  sink *s = *(sink **)state;
  int64_t id = -1;
  (void)self;
  if (m && s->n < MAX_IDS) {
    tr_msg_unpack(m, "I", &id);
    s->ids[s->n++] = id;
  }
  return TR_CONTINUE;
}

static const tr_behaviour sink_b = {"sink", sizeof(sink *), test_ptr_init,
                                    sink_handle, NULL};

static tr_pid spawn_sink(tr_host *h, sink *s, uint32_t capacity) {
  tr_spawn_opts o = {0};
  tr_pid pid = 0;
  o.capacity = capacity;
  CHECK_EQ(test_spawn_ctx(h, &sink_b, s, &o, &pid), TR_OK);
  return pid;
}

/* A sender that waits: at start it asks for room in `to`; on each room
 * message it sends its id, and asks again if the slot was taken. */
typedef struct sender {
  tr_pid to;
  int64_t id;
  int rooms;   /* room messages handled */
  int retries; /* sends refused after a room message */
  int sent;
  int timeouts;
  int room; /* tr_mailbox_room(to) as its last room message came */
} sender;

static int sender_init(tr_actor *self, void *state, tr_msg *args) {
  sender *s;
  if (test_ptr_init(self, state, args))
    return -1;
  s = *(sender **)state;
  CHECK(tr_notify_room(tr_actor_host(self), tr_self(self), s->to, 0, NULL) ==
        TR_OK);
  return 0;
}

static int sender_handle(tr_actor *self, void *state, tr_msg *m) {
  sender *s = *(sender **)state;
  tr_host *h = tr_actor_host(self);
  int rc;
  if (!m)
    return TR_CONTINUE;
  if (tr_msg_kind(m) == TR_KIND_TIMEOUT) {
    s->timeouts++;
    return TR_CONTINUE;
  }
  if (tr_msg_kind(m) != TR_KIND_ROOM)
    return TR_CONTINUE;
  s->rooms++;
  s->room = tr_mailbox_room(h, s->to);
  rc = tr_send(h, tr_self(self), s->to, tr_msg_pack("id", "I", s->id));
  if (rc == TR_EFULL) {
    s->retries++;
    CHECK(tr_notify_room(h, tr_self(self), s->to, 0, NULL) == TR_OK);
  } else {
    CHECK_EQ(rc, TR_OK);
    s->sent = 1;
  }
  return TR_CONTINUE;
}

static const tr_behaviour sender_b = {"sender", sizeof(sender *), sender_init,
                                      sender_handle, NULL};

/* Starts a sender with id `id` that begins to wait for room in `to`. */
static tr_pid spawn_sender(tr_host *h, sender *s, tr_pid to, int64_t id) {
  tr_pid pid = 0;
  s->to = to;
  s->id = id;
  CHECK_EQ(test_spawn_ctx(h, &sender_b, s, NULL, &pid), TR_OK);
  return pid;
}

static uint32_t ready_now(tr_host *h) {
  tr_host_stats st;
  tr_host_get_stats(h, &st);
  return st.ready;
}

static uint64_t delivered_now(tr_host *h) {
  tr_host_stats st;
  tr_host_get_stats(h, &st);
  return st.delivered;
}

/* A host that handles one message a step: what each step does is seen. */
static tr_host *one_at_a_time(void) {
  tr_host_config cfg = {0};
  cfg.turn_budget = 1;
  cfg.actor_budget = 1;
  return tr_host_new(&cfg);
}

/* -------------------------------------------------------------- tests */

/* A freed slot wakes one waiter, the oldest, not all of them. A waiter
 * that ends while waiting is skipped; one that ends with the room promised
 * to it passes that room on to the next. */
static void test_one_waiter_per_freed_slot(void) {
  tr_host *h = one_at_a_time();
  sink *k = calloc(1, sizeof *k);
  sender *s = calloc(4, sizeof *s);
  tr_pid to, pid[4];
  int i;
  to = spawn_sink(h, k, 1);
  CHECK_EQ(tr_send(h, 0, to, tr_msg_pack("x", "I", (int64_t)100)), TR_OK);
  CHECK_EQ(tr_send(h, 0, to, tr_msg_pack("x", "I", (int64_t)101)), TR_EFULL);
  for (i = 0; i < 4; i++)
    pid[i] = spawn_sender(h, &s[i], to, i);
  CHECK_EQ(ready_now(h), 1); /* only the sink: nobody was told of room */

  CHECK_EQ(tr_host_step(h), 1); /* the sink takes 100: one slot */
  CHECK_EQ(k->n, 1);
  CHECK_EQ(ready_now(h), 1); /* one waiter woken: the first */
  CHECK_EQ(s[0].rooms + s[1].rooms + s[2].rooms + s[3].rooms, 0);
  CHECK_EQ(tr_mailbox_count(h, to), 0);
  CHECK_EQ(tr_mailbox_room(h, to), 0); /* the slot is the first's */

  /* The third ends while it waits, the first with the room promised to it
   * (its room message unhandled): the slot goes to the second. */
  CHECK_EQ(tr_kill(h, pid[2], "killed"), TR_OK);
  CHECK_EQ(tr_kill(h, pid[0], "killed"), TR_OK);
  CHECK_EQ(ready_now(h), 1);
  STEP_UNTIL(h, k->n == 3, 2000);
  CHECK_EQ(k->n, 3);
  CHECK_EQ(k->ids[1], 1);
  CHECK_EQ(k->ids[2], 3);
  CHECK_EQ(s[1].rooms, 1);
  CHECK_EQ(s[3].rooms, 1);
  CHECK_EQ(s[1].room, 1); /* theirs to use, as they handle the message */
  CHECK_EQ(s[3].room, 1);
  CHECK_EQ(s[1].retries + s[3].retries, 0);
  CHECK(tr_alive(h, pid[1]) && tr_alive(h, pid[3]));
  tr_host_free(h);
  free(k);
  free(s);
}

/* A sender that did not wait takes the slot a waiter was woken for: the
 * waiter, asking again, keeps its place at the front, ahead of those that
 * began to wait after it. */
static void test_waiter_keeps_its_place(void) {
  tr_host *h = one_at_a_time();
  sink *k = calloc(1, sizeof *k);
  sender *s = calloc(2, sizeof *s);
  tr_pid to;
  to = spawn_sink(h, k, 1);
  CHECK_EQ(tr_send(h, 0, to, tr_msg_pack("x", "I", (int64_t)100)), TR_OK);
  spawn_sender(h, &s[0], to, 0);
  spawn_sender(h, &s[1], to, 1);
  CHECK_EQ(tr_host_step(h), 1); /* the sink takes 100; the first is woken */
  CHECK_EQ(ready_now(h), 1);
  CHECK_EQ(tr_send(h, 0, to, tr_msg_pack("x", "I", (int64_t)101)), TR_OK);
  STEP_UNTIL(h, s[0].rooms == 1, 1000); /* its send finds the box full */
  CHECK_EQ(s[0].retries, 1);
  CHECK_EQ(s[1].rooms, 0); /* the room was never the second's */
  STEP_UNTIL(h, k->n == 4, 2000);
  CHECK_EQ(k->n, 4);
  CHECK_EQ(k->ids[1], 101);
  CHECK_EQ(k->ids[2], 0); /* the first, still first */
  CHECK_EQ(k->ids[3], 1);
  CHECK_EQ(s[0].rooms, 2);
  CHECK_EQ(s[1].rooms, 1);
  tr_host_free(h);
  free(k);
  free(s);
}

/* N waiters on a mailbox of one slot, which frees one slot at a time: each
 * is woken once, in the order they began to wait, so the whole costs O(N)
 * deliveries -- where waking every waiter at each freed slot costs
 * O(N^2). */
static void test_many_waiters_cost_linear(void) {
  enum { N = 2000 };
  tr_host *h = tr_host_new(NULL);
  sink *k = calloc(1, sizeof *k);
  sender *s = calloc(N, sizeof *s);
  uint64_t before;
  tr_pid to;
  int i, in_order = 0, rooms = 0, retries = 0;
  to = spawn_sink(h, k, 1);
  CHECK_EQ(tr_send(h, 0, to, tr_msg_pack("x", "I", (int64_t)-1)), TR_OK);
  before = delivered_now(h);
  for (i = 0; i < N; i++)
    spawn_sender(h, &s[i], to, i);
  STEP_UNTIL(h, k->n == N + 1, 20000);
  CHECK_EQ(k->n, N + 1);
  for (i = 0; i < N && i + 1 < k->n; i++)
    in_order += k->ids[i + 1] == i;
  CHECK_EQ(in_order, N);
  for (i = 0; i < N; i++) {
    rooms += s[i].rooms;
    retries += s[i].retries;
  }
  CHECK_EQ(rooms, N);
  CHECK_EQ(retries, 0);
  /* The sink's N + 1 messages and one room message per sender. */
  CHECK_EQ(delivered_now(h) - before, 2 * N + 1);
  tr_host_free(h);
  free(k);
  free(s);
}

/* A keeper takes every send and keeps it aside (tr_keep), counted against
 * its capacity (tr_mailbox_hold): senders find it full although its queue
 * is empty. A notice (tr_notify) still gets in, and makes it pass one on:
 * the slot that frees wakes a waiting sender. */
typedef struct keeper {
  tr_msg *kept[8];
  int n;
} keeper;

static int keeper_handle(tr_actor *self, void *state, tr_msg *m) {
  keeper *k = *(keeper **)state;
  if (!m)
    return TR_CONTINUE;
  if (tr_msg_kind(m) == TR_KIND_NOTICE && k->n > 0) {
    tr_msg_free(k->kept[--k->n]);
    CHECK_EQ(tr_mailbox_hold(self, -1), k->n);
  } else if (tr_msg_kind(m) == TR_KIND_SEND && k->n < 8) {
    k->kept[k->n++] = tr_keep(self, m);
    CHECK_EQ(tr_mailbox_hold(self, 1), k->n);
  }
  return TR_CONTINUE;
}

static void keeper_terminate(tr_actor *self, void *state, const char *why) {
  keeper *k = *(keeper **)state;
  (void)self, (void)why;
  while (k->n)
    tr_msg_free(k->kept[--k->n]);
}

static const tr_behaviour keeper_b = {"keeper", sizeof(keeper *), test_ptr_init,
                                      keeper_handle, keeper_terminate};

static void test_held_mail_fills_the_mailbox(void) {
  tr_host *h = tr_host_new(NULL);
  keeper *k = calloc(1, sizeof *k);
  sender s = {0};
  tr_spawn_opts o = {0};
  tr_host_stats st;
  tr_pid pid = 0;
  int i;
  o.capacity = 3;
  CHECK_EQ(test_spawn_ctx(h, &keeper_b, k, &o, &pid), TR_OK);
  for (i = 0; i < 3; i++)
    CHECK_EQ(tr_send(h, 0, pid, tr_msg_pack("m", "I", (int64_t)i)), TR_OK);
  STEP_UNTIL(h, k->n == 3, 1000);
  CHECK_EQ(k->n, 3);
  CHECK_EQ(tr_mailbox_count(h, pid), 0); /* nothing queued ... */
  CHECK_EQ(tr_mailbox_room(h, pid), 0);  /* ... and no room */
  CHECK_EQ(tr_send(h, 0, pid, tr_msg_pack("m", "I", (int64_t)3)), TR_EFULL);
  {
    sink *c = calloc(1, sizeof *c);
    uint64_t session = 0;
    tr_pid caller = spawn_sink(h, c, 0);
    CHECK_EQ(tr_call(h, caller, pid, tr_msg_new("c"), 0, &session), TR_EFULL);
    CHECK_EQ(tr_kill(h, caller, "killed"), TR_OK);
    CHECK_EQ(c->n, 0); /* no error message on top of TR_EFULL */
    free(c);
  }
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.dead_letters, 2);

  spawn_sender(h, &s, pid, 7); /* waits */
  STEP_UNTIL(h, 0, 20);
  CHECK_EQ(s.rooms, 0);
  CHECK_EQ(tr_notify(h, 0, pid, tr_msg_new("free one")), TR_OK);
  STEP_UNTIL(h, s.sent, 1000);
  CHECK_EQ(s.rooms, 1);
  CHECK(s.sent);
  STEP_UNTIL(h, k->n == 3, 1000);
  CHECK_EQ(k->n, 3); /* the sender's, kept in the freed slot */
  CHECK_EQ(tr_mailbox_hold(NULL, 1), TR_EINVAL);
  CHECK_EQ(tr_notify(h, 0, 12345, tr_msg_new("x")), TR_ENOPROC);
  tr_host_free(h);
  CHECK_EQ(k->n, 0);
  free(k);
}

/* tr_send_if_room and tr_call_if_room go only into room tr_mailbox_room
 * reports: they refuse room promised to a woken waiter, which tr_send
 * takes, and a refusal is no dead letter and, for a call, sends the
 * caller nothing. A dead pid is a dead letter, as for tr_send. */
static void test_if_room(void) {
  tr_host *h = one_at_a_time();
  sink *k = calloc(1, sizeof *k), *c = calloc(1, sizeof *c);
  sender s = {0};
  tr_host_stats st;
  uint64_t session = 1;
  tr_pid to = spawn_sink(h, k, 2), caller = spawn_sink(h, c, 0);
  CHECK_EQ(tr_send_if_room(h, 0, to, tr_msg_pack("x", "I", (int64_t)1)), TR_OK);
  CHECK_EQ(tr_call_if_room(h, caller, to, tr_msg_pack("c", "I", (int64_t)2), 0,
                           &session),
           TR_OK);
  CHECK(session != 0);
  CHECK_EQ(tr_mailbox_count(h, to), 2);
  CHECK_EQ(tr_send_if_room(h, 0, to, tr_msg_pack("x", "I", (int64_t)3)),
           TR_EFULL);
  CHECK_EQ(tr_call_if_room(h, caller, to, tr_msg_new("c"), 0, &session),
           TR_EFULL);
  CHECK_EQ(session, 0);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.dead_letters, 0);

  /* A waiter is woken for the slot the sink frees: the slot is promised. */
  spawn_sender(h, &s, to, 9);
  CHECK_EQ(tr_host_step(h), 1); /* the sink takes 1 */
  CHECK_EQ(tr_mailbox_room(h, to), 0);
  CHECK_EQ(tr_send_if_room(h, 0, to, tr_msg_pack("x", "I", (int64_t)4)),
           TR_EFULL);
  CHECK_EQ(tr_call_if_room(h, caller, to, tr_msg_new("c"), 0, NULL), TR_EFULL);
  STEP_UNTIL(h, k->n == 3, 1000);
  CHECK_EQ(k->n, 3);
  CHECK_EQ(k->ids[1], 2);
  CHECK_EQ(k->ids[2], 9); /* the waiter's, in the slot kept for it */
  CHECK_EQ(c->n, 0);      /* nothing came back for the refused calls */
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.dead_letters, 0);

  CHECK_EQ(tr_kill(h, to, "killed"), TR_OK);
  CHECK_EQ(tr_send_if_room(h, 0, to, tr_msg_new("x")), TR_ENOPROC);
  CHECK_EQ(tr_call_if_room(h, caller, to, tr_msg_new("c"), 0, NULL),
           TR_ENOPROC);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.dead_letters, 2);
  tr_host_free(h);
  free(k);
  free(c);
}

int main(void) {
  RUN(test_one_waiter_per_freed_slot);
  RUN(test_waiter_keeps_its_place);
  RUN(test_many_waiters_cost_linear);
  RUN(test_held_mail_fills_the_mailbox);
  RUN(test_if_room);
  return test_report();
}
