/*
 * test_thread.c -- tr_send and tr_send_named from other threads: four
 * threads send 100000 messages each to actors on a host run by the main
 * thread, and every message is accounted for: handled by a receiver, or
 * counted as a dead letter, or refused to its sender (TR_EFULL when the
 * inbox is full, TR_ENOPROC for an unknown name). The host is stopped from
 * another thread.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "test.h"

/* ------------------------------------------------------------ helpers */

enum { SENDERS = 4, RECEIVERS = 4 };

/* A receiver counts what it handles and checks that each sender's
 * messages come in the order sent (one thread's sends to one actor keep
 * their order through the inbox). */
typedef struct rx {
  atomic_llong handled;
  int64_t last[SENDERS];
  int64_t out_of_order;
} rx;

static int rx_init(tr_actor *self, void *state, tr_msg *args) {
  rx *r;
  int i;
  (void)args;
  r = tr_actor_ctx(self);
  for (i = 0; i < SENDERS; i++)
    r->last[i] = -1;
  *(rx **)state = r;
  return 0;
}

static int rx_handle(tr_actor *self, void *state, tr_msg *m) {
  rx *r = *(rx **)state;
  int sender = -1;
  int64_t seq = -1;
  (void)self;
  if (!m)
    return TR_CONTINUE;
  if (tr_msg_unpack(m, "iI", &sender, &seq) == 0 && sender >= 0 &&
      sender < SENDERS) {
    if (seq <= r->last[sender])
      r->out_of_order++;
    r->last[sender] = seq;
  }
  atomic_fetch_add(&r->handled, 1);
  return TR_CONTINUE;
}

static const tr_behaviour rx_b = {"rx", sizeof(rx *), rx_init, rx_handle, NULL};

/* One run: the host, its receivers, and what the senders were told. */
typedef struct run {
  tr_host *h;
  tr_pid pids[RECEIVERS];
  rx rxs[RECEIVERS];
  int per_sender;
  int retry; /* senders retry on TR_EFULL (backing off) instead of giving up */
  atomic_llong ok, full, noproc, other;
  atomic_int senders_done;
  int stopper_timed_out;
} run;

typedef struct sender {
  run *r;
  int id;
} sender;

static const char *const names[RECEIVERS] = {"r0", "r1", "r2", "r3"};

/* Sends per_sender messages: most by pid, every 10th by name, every 1000th
 * to a name nobody has. A refused message is gone (the host frees it
 * either way); with r->retry the same one is built and sent again after a
 * short pause. */
static void sender_thread(void *arg) {
  sender *s = arg;
  run *r = s->r;
  int64_t i;
  for (i = 0; i < r->per_sender; i++) {
    int to = (int)((i + s->id) % RECEIVERS), rc;
    tr_msg *m = tr_msg_pack("n", "iI", s->id, i);
    if (i % 1000 == 999)
      rc = tr_send_named(r->h, 0, "nobody", m);
    else if (i % 10 == 0)
      rc = tr_send_named(r->h, 0, names[to], m);
    else
      rc = tr_send(r->h, 0, r->pids[to], m);
    if (rc == TR_EFULL && r->retry) {
      atomic_fetch_add(&r->full, 1);
      uv_sleep(1);
      i--;
      continue;
    }
    if (rc == TR_OK)
      atomic_fetch_add(&r->ok, 1);
    else if (rc == TR_EFULL)
      atomic_fetch_add(&r->full, 1);
    else if (rc == TR_ENOPROC)
      atomic_fetch_add(&r->noproc, 1);
    else
      atomic_fetch_add(&r->other, 1);
  }
  atomic_fetch_add(&r->senders_done, 1);
}

static int64_t handled_of(run *r) {
  int64_t n = 0;
  int i;
  for (i = 0; i < RECEIVERS; i++)
    n += atomic_load(&r->rxs[i].handled);
  return n;
}

static void setup(run *r, int per_sender, uint32_t capacity, uint32_t inbox) {
  tr_host_config cfg = {0};
  tr_spawn_opts o = {0};
  int i;
  memset(r, 0, sizeof *r);
  r->per_sender = per_sender;
  cfg.inbox_capacity = inbox;
  r->h = tr_host_new(&cfg);
  o.capacity = capacity;
  for (i = 0; i < RECEIVERS; i++) {
    o.name = names[i];
    CHECK_EQ(test_spawn_ctx(r->h, &rx_b, &r->rxs[i], &o, &r->pids[i]), TR_OK);
  }
}

static void start_senders(run *r, uv_thread_t *t, sender *s) {
  int i;
  for (i = 0; i < SENDERS; i++) {
    s[i].r = r;
    s[i].id = i;
    CHECK_EQ(uv_thread_create(&t[i], sender_thread, &s[i]), 0);
  }
}

static int64_t out_of_order(run *r) {
  int64_t n = 0;
  int i;
  for (i = 0; i < RECEIVERS; i++)
    n += r->rxs[i].out_of_order;
  return n;
}

/* -------------------------------------------------------------- tests */

/* The coordinator: starts the senders, waits for them, waits until the
 * receivers have handled everything that was accepted, then stops the host
 * from this thread. */
static void coordinator(void *arg) {
  run *r = arg;
  uv_thread_t t[SENDERS];
  sender s[SENDERS];
  uint64_t end;
  int i;

  start_senders(r, t, s);
  for (i = 0; i < SENDERS; i++)
    uv_thread_join(&t[i]);
  end = uv_hrtime() + 60 * 1000000000ull;
  while (handled_of(r) < atomic_load(&r->ok) && uv_hrtime() < end)
    uv_sleep(1);
  r->stopper_timed_out = handled_of(r) < atomic_load(&r->ok);
  tr_host_stop(r->h);
}

static void test_four_threads_send_to_a_running_host(void) {
  static run r;
  uv_thread_t c;
  tr_host_stats st;
  const int64_t total = (int64_t)SENDERS * 100000;

  /* Mailboxes big enough for everything, and senders that retry when the
   * inbox is full: every message but those to "nobody" gets handled. */
  setup(&r, 100000, 1u << 20, 0);
  r.retry = 1;
  CHECK_EQ(uv_thread_create(&c, coordinator, &r), 0);
  CHECK_EQ(tr_host_run(r.h), TR_OK);
  uv_thread_join(&c);

  tr_host_get_stats(r.h, &st);
  CHECK_EQ(r.stopper_timed_out, 0);
  CHECK_EQ(atomic_load(&r.other), 0);
  CHECK_EQ(atomic_load(&r.noproc), total / 1000); /* the unknown name */
  CHECK_EQ(atomic_load(&r.ok), total - total / 1000);
  CHECK_EQ(handled_of(&r), atomic_load(&r.ok));
  CHECK_EQ((int64_t)st.delivered, handled_of(&r));
  CHECK_EQ(st.dead_letters, 0);
  CHECK_EQ(out_of_order(&r), 0);
  printf("  handled %lld, retried %lld times on a full inbox\n",
         (long long)handled_of(&r), (long long)atomic_load(&r.full));
  tr_host_free(r.h);
}

/* With small mailboxes and a small inbox, many messages are refused
 * (TR_EFULL) or become dead letters when the loop moves them from the
 * inbox. A checker actor on the host stops it once
 * every message is accounted for (or a deadline passes). */
typedef struct checker {
  run *r;
  int64_t total;
  uint64_t deadline;
} checker;

static run *checked_run;

static int checker_handle(tr_actor *self, void *state, tr_msg *m) {
  checker *c = state;
  tr_host *h = tr_actor_host(self);
  tr_host_stats st;
  run *r = checked_run;
  (void)m;
  if (!c->r) {
    c->r = r;
    c->total = (int64_t)SENDERS * r->per_sender;
    c->deadline = uv_hrtime() + 60 * 1000000000ull;
  }
  tr_host_get_stats(h, &st);
  if (atomic_load(&r->senders_done) == SENDERS &&
      handled_of(r) + (int64_t)st.dead_letters + atomic_load(&r->full) +
              atomic_load(&r->noproc) + atomic_load(&r->other) ==
          c->total) {
    tr_host_stop(h);
  } else if (uv_hrtime() > c->deadline) {
    r->stopper_timed_out = 1;
    tr_host_stop(h);
  } else {
    tr_after(h, tr_self(self), 2, tr_msg_new("tick"), NULL);
  }
  return TR_CONTINUE;
}

static const tr_behaviour checker_b = {"checker", sizeof(checker), NULL,
                                       checker_handle, NULL};

static void test_dead_letters_across_threads(void) {
  static run r;
  uv_thread_t t[SENDERS];
  sender s[SENDERS];
  tr_pid chk;
  tr_host_stats st;
  int i;

  setup(&r, 25000, 16, 1024);
  checked_run = &r;
  CHECK_EQ(tr_spawn(r.h, &checker_b, NULL, NULL, &chk), TR_OK);
  CHECK_EQ(tr_send(r.h, 0, chk, tr_msg_new("tick")), TR_OK);
  start_senders(&r, t, s);
  CHECK_EQ(tr_host_run(r.h), TR_OK);
  for (i = 0; i < SENDERS; i++)
    uv_thread_join(&t[i]);

  tr_host_get_stats(r.h, &st);
  CHECK_EQ(r.stopper_timed_out, 0);
  CHECK_EQ(atomic_load(&r.other), 0);
  /* Accepted messages were either handled or became dead letters. */
  CHECK_EQ(handled_of(&r) + (int64_t)st.dead_letters, atomic_load(&r.ok));
  CHECK_EQ(out_of_order(&r), 0);
  CHECK(handled_of(&r) > 0);
  printf("  ok %lld (handled %lld), inbox full %lld, dead letters %llu\n",
         (long long)atomic_load(&r.ok), (long long)handled_of(&r),
         (long long)atomic_load(&r.full), (unsigned long long)st.dead_letters);
  tr_host_free(r.h);
}

/* Sends from another thread to a host that has stopped are refused. */
static void late_sender(void *arg) {
  run *r = arg;
  if (tr_send(r->h, 0, r->pids[0], tr_msg_new("late")) == TR_ESTOPPED)
    atomic_fetch_add(&r->other, 1);
  if (tr_send_named(r->h, 0, "r0", tr_msg_new("late")) == TR_ESTOPPED)
    atomic_fetch_add(&r->other, 1);
}

static void test_send_after_stop_from_a_thread(void) {
  static run r;
  uv_thread_t t;
  setup(&r, 0, 0, 0);
  tr_host_stop(r.h);
  CHECK_EQ(tr_host_run(r.h), TR_OK);
  CHECK_EQ(uv_thread_create(&t, late_sender, &r), 0);
  uv_thread_join(&t);
  CHECK_EQ(atomic_load(&r.other), 2);
  tr_host_free(r.h);
}

int main(void) {
  RUN(test_four_threads_send_to_a_running_host);
  RUN(test_dead_letters_across_threads);
  RUN(test_send_after_stop_from_a_thread);
  return test_report();
}
