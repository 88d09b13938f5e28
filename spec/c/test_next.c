/*
 * test_next.c -- tr_mailbox_next: a handle that loops on it takes queued
 * mail in order in one call, no more than its share of the turn (another
 * busy actor runs in between), under tr_await only the awaited answer, and
 * never past a step's deadline; the message handled before is freed (or
 * stays the actor's when it kept or forwarded it); slots freed by inline
 * takes wake senders waiting for room; init, terminate and other callers
 * get nothing.
 */
#include <stdint.h>
#include <stdlib.h>

#include "test.h"

/* ------------------------------------------------------------ helpers */

/* A host with no step deadline worth the name (tr_host_step must not cut
 * a share short on a loaded machine) and the given share per actor. */
static tr_host *new_host(uint32_t actor_budget) {
  tr_host_config cfg = {0};
  cfg.actor_budget = actor_budget;
  cfg.step_budget_us = 30u * 1000u * 1000u;
  return tr_host_new(&cfg);
}

static uint64_t delivered(tr_host *h) {
  tr_host_stats st;
  tr_host_get_stats(h, &st);
  return st.delivered;
}

static int send_n(tr_host *h, tr_pid to, const char *name, int i) {
  return tr_send(h, 0, to, tr_msg_pack(name, "i", i));
}

/* What a taker saw: the argument of each message in order, and how many
 * handle calls it took. */
#define SEEN_MAX 256

typedef struct seen {
  int n, calls;
  int args[SEEN_MAX];
  int call_of[SEEN_MAX]; /* the handle call (1, 2, ...) that took it */
  char letter;
  tr_actor *self;
} seen;

static void note(seen *s, tr_msg *m) {
  int x = -1;
  tr_msg_unpack(m, "i", &x);
  if (s->n < SEEN_MAX) {
    s->args[s->n] = x;
    s->call_of[s->n] = s->calls;
    s->n++;
  }
  test_trace_add(s->letter);
}

/* Handles its message and then whatever tr_mailbox_next gives it. */
static int taker_handle(tr_actor *self, void *state, tr_msg *m) {
  seen *s = *(seen **)state;
  s->self = self;
  s->calls++;
  test_trace_add('(');
  for (; m; tr_mailbox_next(self, &m))
    note(s, m);
  return TR_CONTINUE;
}

static const tr_behaviour taker_b = {"taker", sizeof(seen *), test_ptr_init,
                                     taker_handle, NULL};

static tr_pid spawn_taker(tr_host *h, seen *s, char letter) {
  tr_pid pid = 0;
  memset(s, 0, sizeof *s);
  s->letter = letter;
  CHECK_EQ(test_spawn_ctx(h, &taker_b, s, NULL, &pid), TR_OK);
  return pid;
}

/* -------------------------------------------------------------- tests */

static void test_fifo_in_one_call(void) {
  tr_host *h = new_host(64);
  seen s;
  tr_pid a = spawn_taker(h, &s, 'a');
  uint64_t before = delivered(h);
  int i;
  for (i = 0; i < 10; i++)
    CHECK_EQ(send_n(h, a, "m", i), TR_OK);
  STEP_UNTIL(h, s.n == 10, 2000);
  CHECK_EQ(s.n, 10);
  CHECK_EQ(s.calls, 1);
  for (i = 0; i < 10; i++)
    CHECK_EQ(s.args[i], i);
  CHECK_EQ(delivered(h) - before, 10); /* inline takes are deliveries */
  CHECK_EQ(tr_mailbox_count(h, a), 0);
  tr_host_free(h);
}

/* Two actors with 10 messages each and a share of 4: each handle call
 * takes 4 (the last 2), and the other runs in between. */
static void test_share_interleaves(void) {
  tr_host *h = new_host(4);
  seen a, b;
  tr_pid pa = spawn_taker(h, &a, 'a'), pb = spawn_taker(h, &b, 'b');
  int i;
  test_trace_reset();
  for (i = 0; i < 10; i++)
    CHECK_EQ(send_n(h, pa, "m", i), TR_OK);
  for (i = 0; i < 10; i++)
    CHECK_EQ(send_n(h, pb, "m", i), TR_OK);
  STEP_UNTIL(h, a.n == 10 && b.n == 10, 2000);
  CHECK_STR(test_trace, "(aaaa(bbbb(aaaa(bbbb(aa(bb");
  CHECK_EQ(a.calls, 3);
  CHECK_EQ(b.calls, 3);
  for (i = 0; i < 10; i++) {
    CHECK_EQ(a.args[i], i);
    CHECK_EQ(b.args[i], i);
  }
  tr_host_free(h);
}

/* A sink logs what reaches it (its message's name as a letter). */
typedef struct sink {
  char got[32];
  int n;
} sink;

static int sink_handle(tr_actor *self, void *state, tr_msg *m) {
  sink *k = *(sink **)state;
  size_t len;
  (void)self;
  if (m && k->n < (int)sizeof k->got - 1)
    k->got[k->n++] = tr_msg_name(m, &len)[0];
  return TR_CONTINUE;
}

static const tr_behaviour sink_b = {"sink", sizeof(sink *), test_ptr_init,
                                    sink_handle, NULL};

/* Keeps "keep" (tr_keep) and forwards "fwd" to the sink, both taken by
 * tr_mailbox_next; "release" forwards what it kept. */
typedef struct keeper {
  tr_pid sink;
  tr_msg *kept;
  int kept_ok, calls, handled;
} keeper;

static int keeper_handle(tr_actor *self, void *state, tr_msg *m) {
  keeper *k = *(keeper **)state;
  tr_host *h = tr_actor_host(self);
  k->calls++;
  for (; m; tr_mailbox_next(self, &m)) {
    k->handled++;
    if (tr_msg_is(m, "keep")) {
      k->kept = tr_keep(self, m);
      k->kept_ok = k->kept == m;
    } else if (tr_msg_is(m, "fwd")) {
      CHECK_EQ(tr_forward(h, k->sink, m), TR_OK);
    } else if (tr_msg_is(m, "release") && k->kept) {
      CHECK_EQ(tr_forward(h, k->sink, k->kept), TR_OK);
      k->kept = NULL;
    }
  }
  return TR_CONTINUE;
}

static const tr_behaviour keeper_b = {"keeper", sizeof(keeper *), test_ptr_init,
                                      keeper_handle, NULL};

static void test_keep_and_forward(void) {
  tr_host *h = new_host(64);
  sink k = {{0}, 0};
  keeper kp = {0, NULL, 0, 0, 0};
  tr_pid pk;
  static const char *const names[] = {"a", "keep", "fwd", "b", "release"};
  int i;
  CHECK_EQ(test_spawn_ctx(h, &sink_b, &k, NULL, &kp.sink), TR_OK);
  CHECK_EQ(test_spawn_ctx(h, &keeper_b, &kp, NULL, &pk), TR_OK);
  for (i = 0; i < 5; i++)
    CHECK_EQ(tr_send(h, 0, pk, tr_msg_new(names[i])), TR_OK);
  STEP_UNTIL(h, k.n == 2, 2000);
  CHECK_EQ(kp.handled, 5);
  CHECK_EQ(kp.calls, 1);
  CHECK(kp.kept_ok);
  CHECK_STR(k.got, "fk"); /* "fwd" at once, "keep" on "release" */
  tr_host_free(h); /* valgrind and ASan: nothing freed twice, nothing lost */
}

/* A sender that waits for room: on "go" and on each room message, sends
 * "r"(i) to `to` while tr_mailbox_room says there is room. */
typedef struct filler {
  tr_pid to;
  int sent, total, waits;
} filler;

static int filler_handle(tr_actor *self, void *state, tr_msg *m) {
  filler *f = *(filler **)state;
  tr_host *h = tr_actor_host(self);
  (void)m;
  while (f->sent < f->total) {
    if (tr_mailbox_room(h, f->to) <= 0) {
      CHECK_EQ(tr_notify_room(h, tr_self(self), f->to, 0, NULL), TR_OK);
      f->waits++;
      return TR_CONTINUE;
    }
    CHECK_EQ(tr_send(h, tr_self(self), f->to, tr_msg_pack("r", "i", f->sent)),
             TR_OK);
    f->sent++;
  }
  return TR_CONTINUE;
}

static const tr_behaviour filler_b = {"filler", sizeof(filler *), test_ptr_init,
                                      filler_handle, NULL};

/* The consumer of a 2-slot mailbox: on its first handle call it notes
 * whether the waiting sender was woken (made ready) by the slot that its
 * first inline take freed. */
typedef struct drain {
  seen s;
  int ready_before, ready_after;
} drain;

static int drain_handle(tr_actor *self, void *state, tr_msg *m) {
  drain *d = *(drain **)state;
  tr_host *h = tr_actor_host(self);
  tr_host_stats st;
  int first = d->s.calls == 0;
  d->s.calls++;
  if (!m)
    return TR_CONTINUE;
  note(&d->s, m);
  if (first) {
    tr_host_get_stats(h, &st);
    d->ready_before = (int)st.ready;
    if (tr_mailbox_next(self, &m))
      note(&d->s, m);
    tr_host_get_stats(h, &st);
    d->ready_after = (int)st.ready;
    if (!m)
      return TR_CONTINUE;
  }
  while (tr_mailbox_next(self, &m))
    note(&d->s, m);
  return TR_CONTINUE;
}

static const tr_behaviour drain_b = {"drain", sizeof(drain *), test_ptr_init,
                                     drain_handle, NULL};

static void test_room_wakes_sender(void) {
  tr_host *h = new_host(64);
  drain d;
  filler f = {0, 0, 10, 0};
  tr_spawn_opts o = {0};
  tr_pid pf;
  int i;
  memset(&d, 0, sizeof d);
  o.capacity = 2;
  CHECK_EQ(test_spawn_ctx(h, &drain_b, &d, &o, &f.to), TR_OK);
  CHECK_EQ(test_spawn_ctx(h, &filler_b, &f, NULL, &pf), TR_OK);
  CHECK_EQ(tr_send(h, 0, pf, tr_msg_new("go")), TR_OK);
  STEP_UNTIL(h, d.s.n == 10, 2000);
  /* the filler filled both slots and waited; the drain took r0, and its
   * inline take of r1 (r0 done with) woke the filler */
  CHECK(f.waits > 0);
  CHECK_EQ(d.ready_before, 0);
  CHECK_EQ(d.ready_after, 1);
  CHECK_EQ(d.s.n, 10);
  for (i = 0; i < d.s.n; i++)
    CHECK_EQ(d.s.args[i], i);
  tr_host_free(h);
}

/* "probe": awaits a timeout not yet come, with mail queued (next must give
 * nothing), and sets a second timeout; the first one's handle call awaits
 * the second and loops on next: the second comes first, then the mail in
 * order. Logs timeouts as 100 + which. */
typedef struct awaiter {
  seen s;
  uint64_t t1, t2;
  int probe_rc, probe_null;
} awaiter;

static int awaiter_handle(tr_actor *self, void *state, tr_msg *m) {
  awaiter *w = *(awaiter **)state;
  tr_host *h = tr_actor_host(self);
  w->s.calls++;
  for (; m; tr_mailbox_next(self, &m)) {
    if (tr_msg_kind(m) == TR_KIND_TIMEOUT) {
      uint64_t t = tr_msg_session(m);
      if (w->s.n < SEEN_MAX) {
        w->s.call_of[w->s.n] = w->s.calls;
        w->s.args[w->s.n++] = t == w->t1 ? 101 : t == w->t2 ? 102 : 199;
      }
      if (t == w->t1)
        tr_await(self, w->t2);
      continue;
    }
    note(&w->s, m);
    if (tr_msg_is(m, "probe")) {
      tr_msg *got = m;
      CHECK_EQ(tr_timeout(h, tr_self(self), 0, &w->t1), TR_OK);
      CHECK_EQ(tr_timeout(h, tr_self(self), 0, &w->t2), TR_OK);
      tr_await(self, w->t1);
      w->probe_rc = tr_mailbox_next(self, &got);
      w->probe_null = got == NULL;
      return TR_CONTINUE;
    }
  }
  return TR_CONTINUE;
}

static const tr_behaviour awaiter_b = {"awaiter", sizeof(awaiter *),
                                       test_ptr_init, awaiter_handle, NULL};

static void test_await_takes_only_the_answer(void) {
  tr_host *h = new_host(64);
  awaiter w;
  tr_pid pw;
  memset(&w, 0, sizeof w);
  w.probe_rc = -1;
  CHECK_EQ(test_spawn_ctx(h, &awaiter_b, &w, NULL, &pw), TR_OK);
  CHECK_EQ(send_n(h, pw, "probe", 0), TR_OK);
  CHECK_EQ(send_n(h, pw, "x", 1), TR_OK);
  CHECK_EQ(send_n(h, pw, "x", 2), TR_OK);
  STEP_UNTIL(h, w.s.n == 5, 2000);
  CHECK_EQ(w.probe_rc, 0);
  CHECK(w.probe_null);
  CHECK_EQ(w.s.n, 5);
  /* probe; then, in the first timeout's call: the awaited second timeout
   * ahead of the queued mail, and the mail in order */
  CHECK_EQ(w.s.args[0], 0);
  CHECK_EQ(w.s.args[1], 101);
  CHECK_EQ(w.s.args[2], 102);
  CHECK_EQ(w.s.args[3], 1);
  CHECK_EQ(w.s.args[4], 2);
  CHECK_EQ(w.s.call_of[1], 2);
  CHECK_EQ(w.s.call_of[4], 2);
  CHECK_EQ(w.s.calls, 2);
  tr_host_free(h);
}

/* Calls tr_mailbox_next where it must give nothing: in init (after
 * sending itself mail, so there is some), in handle with an empty
 * mailbox, and in terminate (with mail left queued). */
typedef struct outside {
  int init_rc, init_null;
  int empty_rc, empty_null;
  int term_rc, term_null, terminated;
  int handled;
  tr_actor *self;
  tr_pid pid;
} outside;

static char not_null; /* what *m holds before a call that must clear it */

static int outside_init(tr_actor *self, void *state, tr_msg *args) {
  outside *o = tr_actor_ctx(self);
  tr_msg *m = (tr_msg *)&not_null;
  (void)args;
  *(outside **)state = o;
  o->self = self;
  o->pid = tr_self(self);
  CHECK_EQ(tr_send(tr_actor_host(self), 0, o->pid, tr_msg_new("hi")), TR_OK);
  o->init_rc = tr_mailbox_next(self, &m);
  o->init_null = m == NULL;
  if (o->init_rc == 1) /* taken, wrongly: it is ours to free now */
    tr_msg_free(m);
  return 0;
}

static int outside_handle(tr_actor *self, void *state, tr_msg *m) {
  outside *o = *(outside **)state;
  if (!m)
    return TR_CONTINUE;
  o->handled++;
  if (tr_msg_is(m, "stop"))
    return TR_STOP;
  if (tr_msg_is(m, "hi")) {
    tr_msg *got = m;
    o->empty_rc = tr_mailbox_next(self, &got);
    o->empty_null = got == NULL;
  }
  return TR_CONTINUE;
}

static void outside_terminate(tr_actor *self, void *state, const char *reason) {
  outside *o = *(outside **)state;
  tr_msg *m = (tr_msg *)&not_null;
  (void)reason;
  o->term_rc = tr_mailbox_next(self, &m);
  o->term_null = m == NULL;
  if (o->term_rc == 1)
    tr_msg_free(m);
  o->terminated = 1;
}

static const tr_behaviour outside_b = {"outside", sizeof(outside *),
                                       outside_init, outside_handle,
                                       outside_terminate};

/* Spawns an outside actor from its handle, where its own share of the
 * turn is not used up: the child's init runs inside it. */
static int spawner_handle(tr_actor *self, void *state, tr_msg *m) {
  outside *o = *(outside **)state;
  (void)m;
  if (!o->pid)
    CHECK_EQ(test_spawn_ctx(tr_actor_host(self), &outside_b, o, NULL, NULL),
             TR_OK);
  return TR_CONTINUE;
}

static const tr_behaviour spawner_b = {"spawner", sizeof(outside *),
                                       test_ptr_init, spawner_handle, NULL};

static void check_outside(const outside *o) {
  CHECK_EQ(o->init_rc, 0);
  CHECK(o->init_null);
  CHECK_EQ(o->empty_rc, 0);
  CHECK(o->empty_null);
  CHECK(o->terminated);
  CHECK_EQ(o->term_rc, 0);
  CHECK(o->term_null);
  CHECK_EQ(o->handled, 2); /* "hi" (sent in init) and "stop" */
}

static void test_nothing_outside_handle(void) {
  tr_host *h = new_host(64);
  outside o1, o2;
  tr_pid ps;
  tr_msg *m = (tr_msg *)&not_null;
  memset(&o1, 0, sizeof o1);
  memset(&o2, 0, sizeof o2);
  o1.init_rc = o2.init_rc = o1.empty_rc = o2.empty_rc = -1;
  /* from the top */
  CHECK_EQ(test_spawn_ctx(h, &outside_b, &o1, NULL, NULL), TR_OK);
  /* from another actor's handle */
  CHECK_EQ(test_spawn_ctx(h, &spawner_b, &o2, NULL, &ps), TR_OK);
  CHECK_EQ(tr_send(h, 0, ps, tr_msg_new("spawn")), TR_OK);
  CHECK_EQ(tr_send(h, 0, ps, tr_msg_new("more")), TR_OK);
  STEP_UNTIL(h, o1.handled == 1 && o2.handled == 1, 2000);
  /* between steps, with mail queued: not inside any callback of its */
  CHECK_EQ(tr_send(h, 0, o1.pid, tr_msg_new("stop")), TR_OK);
  CHECK_EQ(tr_send(h, 0, o1.pid, tr_msg_new("left")), TR_OK);
  CHECK_EQ(tr_mailbox_next(o1.self, &m), 0);
  CHECK(m == NULL);
  m = (tr_msg *)&not_null;
  CHECK_EQ(tr_mailbox_next(NULL, &m), 0);
  CHECK(m == NULL);
  CHECK_EQ(tr_send(h, 0, o2.pid, tr_msg_new("stop")), TR_OK);
  CHECK_EQ(tr_send(h, 0, o2.pid, tr_msg_new("left")), TR_OK);
  STEP_UNTIL(h, o1.terminated && o2.terminated, 2000);
  check_outside(&o1);
  check_outside(&o2);
  tr_host_free(h);
}

/* A step's deadline ends inline takes: the first message's handling runs
 * past the deadline (busy, for longer than the whole step's budget, which
 * was set before handle was called), and next then gives nothing though
 * mail is queued and the share is not used up; the next step goes on. */
typedef struct slow {
  seen s;
  uint64_t busy_ns;
} slow;

static int slow_handle(tr_actor *self, void *state, tr_msg *m) {
  slow *w = *(slow **)state;
  w->s.calls++;
  for (; m; tr_mailbox_next(self, &m)) {
    note(&w->s, m);
    if (w->busy_ns) {
      uint64_t t0 = uv_hrtime();
      while (uv_hrtime() - t0 < w->busy_ns)
        ;
      w->busy_ns = 0;
    }
  }
  return TR_CONTINUE;
}

static const tr_behaviour slow_b = {"slow", sizeof(slow *), test_ptr_init,
                                    slow_handle, NULL};

static void test_step_deadline(void) {
  tr_host *h = new_host(64);
  slow w;
  tr_pid pw;
  int i;
  memset(&w, 0, sizeof w);
  w.busy_ns = 3u * 1000u * 1000u; /* 3 ms, over the 1 ms budget below */
  CHECK_EQ(test_spawn_ctx(h, &slow_b, &w, NULL, &pw), TR_OK);
  for (i = 0; i < 5; i++)
    CHECK_EQ(send_n(h, pw, "m", i), TR_OK);
  for (i = 0; i < 100 && w.s.n == 0; i++)
    CHECK(tr_host_step_for(h, 1000) >= 0);
  CHECK_EQ(w.s.n, 1); /* the deadline passed in its handling: no more */
  CHECK_EQ(w.s.calls, 1);
  CHECK_EQ(tr_mailbox_count(h, pw), 4);
  STEP_UNTIL(h, w.s.n == 5, 2000);
  CHECK_EQ(w.s.n, 5); /* the rest, in one call, at the next step */
  CHECK_EQ(w.s.calls, 2);
  for (i = 0; i < 5; i++)
    CHECK_EQ(w.s.args[i], i);
  CHECK_EQ(w.s.call_of[4], 2);
  tr_host_free(h);
}

int main(void) {
  RUN(test_fifo_in_one_call);
  RUN(test_share_interleaves);
  RUN(test_keep_and_forward);
  RUN(test_room_wakes_sender);
  RUN(test_await_takes_only_the_answer);
  RUN(test_nothing_outside_handle);
  RUN(test_step_deadline);
  return test_report();
}
