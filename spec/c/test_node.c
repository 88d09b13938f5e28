/*
 * test_node.c -- a node of hosts on threads: sends, calls, answers,
 * forwards, monitors, links, kills and names across hosts, with their
 * failure paths, and a node's shutdown with actors on every host.
 *
 * The main thread joins host 0 and steps it; tr_node_start runs the other
 * hosts on threads of their own, each spawning its test's actors in
 * setup and publishing their pids through atomics (and what fails there
 * through a counter: the checks are the main thread's). Every wait steps
 * host 0 until the event, with a deadline.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "test.h"

#define WAIT_MS 10000

/* ------------------------------------------------------------ the node */

typedef struct world world;
typedef void (*setup_fn)(world *w, tr_host *h);

struct world {
  tr_node *n;
  tr_host *h0;
  setup_fn setup;
  atomic_ullong pid[4]; /* published by setup, per host 1.. */
  atomic_int ready;     /* hosts whose setup ran */
  /* What the sink on another host saw (its thread writes, main reads). */
  atomic_llong got, disorder;
  atomic_int terminated; /* terminate callbacks run on other hosts */
  atomic_int errors;     /* failed checks on other threads */
};

static void host_setup(tr_host *h, void *ud) {
  world *w = ud;
  if (w->setup)
    w->setup(w, h);
  atomic_fetch_add(&w->ready, 1);
}

/* A node of 1 + others hosts, host 0 on this thread; others run setup. */
static void world_start(world *w, uint32_t others, setup_fn setup,
                        const tr_host_config *cfg) {
  memset(w, 0, sizeof *w);
  w->setup = setup;
  w->n = tr_node_new(1 + others);
  CHECK(w->n != NULL);
  w->h0 = tr_node_join(w->n, NULL);
  CHECK(w->h0 != NULL);
  CHECK_EQ(tr_host_index(w->h0), 0);
  tr_node_hooks hooks = {host_setup, NULL, NULL};
  hooks.ud = w;
  CHECK_EQ(tr_node_start(w->n, others, cfg, &hooks), TR_OK);
  STEP_UNTIL(w->h0, atomic_load(&w->ready) == (int)others, WAIT_MS);
  CHECK_EQ(atomic_load(&w->ready), others);
  CHECK_EQ(tr_node_size(w->n), 1 + others);
}

static void world_end(world *w) {
  tr_node_stop(w->n);
  while (tr_host_step(w->h0) >= 0)
    ;
  tr_node_wait(w->n);
  tr_host_free(w->h0);
  CHECK_EQ(tr_node_free(w->n), TR_OK);
  CHECK_EQ(atomic_load(&w->errors), 0);
}

static tr_pid remote_pid(world *w, int i) {
  return (tr_pid)atomic_load(&w->pid[i]);
}

/* ---------------------------------------------------- remote behaviours */

/* Answers calls with their first argument; "hold" calls it keeps unanswered;
 * "die" ends it with the reason given. Counts sends in order per sender. */
typedef struct remote_state {
  world *w;
  int64_t last[8];
} remote_state;

static int remote_init(tr_actor *self, void *state, tr_msg *args) {
  remote_state *s = state;
  int i;
  (void)args;
  s->w = tr_actor_ctx(self);
  for (i = 0; i < 8; i++)
    s->last[i] = -1;
  return 0;
}

static int remote_handle(tr_actor *self, void *state, tr_msg *m) {
  remote_state *s = state;
  tr_host *h = tr_actor_host(self);
  const char *text;
  size_t len;
  if (!m)
    return TR_CONTINUE;
  if (tr_msg_is(m, "stall")) { /* takes nothing more: its mailbox fills */
    if (tr_msg_kind(m) == TR_KIND_CALL)
      tr_reply(h, m, tr_msg_new("stalled"));
    tr_await(self, UINT64_MAX);
    return TR_CONTINUE;
  }
  if (tr_msg_kind(m) == TR_KIND_CALL) {
    if (tr_msg_is(m, "hold"))
      return TR_CONTINUE;
    if (tr_msg_is(m, "fwd")) { /* on to the pid given, keeping the caller */
      tr_pid to = 0;
      tr_msg_unpack(m, "p", &to);
      if (to != tr_self(self)) {
        tr_forward(h, to, tr_keep(self, m));
        return TR_CONTINUE;
      }
    }
    tr_reply(h, m, tr_msg_clone(m));
    return TR_CONTINUE;
  }
  if (tr_msg_is(m, "die") && !tr_msg_unpack(m, "s", &text, &len)) {
    char why[64];
    test_copy_str(why, sizeof why, text, len);
    tr_exit(self, why);
    return TR_STOP;
  }
  if (tr_msg_is(m, "seq")) {
    int sender = 0;
    int64_t seq = 0;
    if (!tr_msg_unpack(m, "iI", &sender, &seq) && sender >= 0 && sender < 8) {
      if (seq != s->last[sender] + 1)
        atomic_fetch_add(&s->w->disorder, 1);
      s->last[sender] = seq;
    }
    atomic_fetch_add(&s->w->got, 1);
  }
  return TR_CONTINUE;
}

static void remote_terminate(tr_actor *self, void *state, const char *why) {
  remote_state *s = state;
  (void)self;
  (void)why;
  atomic_fetch_add(&s->w->terminated, 1);
}

static const tr_behaviour remote_b = {"remote", sizeof(remote_state),
                                      remote_init, remote_handle,
                                      remote_terminate};

/* Spawns one remote actor per host, published as pid[host]. */
static void setup_one(world *w, tr_host *h) {
  tr_pid pid = 0;
  if (test_spawn_ctx(h, &remote_b, w, NULL, &pid))
    atomic_fetch_add(&w->errors, 1);
  atomic_store(&w->pid[tr_host_index(h)], pid);
}

/* Spawns one remote actor per host with a mailbox of 16. */
static void setup_small(world *w, tr_host *h) {
  tr_spawn_opts o = {0};
  tr_pid pid = 0;
  o.capacity = 16;
  if (test_spawn_ctx(h, &remote_b, w, &o, &pid))
    atomic_fetch_add(&w->errors, 1);
  atomic_store(&w->pid[tr_host_index(h)], pid);
}

/* Two remote actors on host 1, mailboxes of 4: pid[1] and pid[2]. */
static void setup_pair(world *w, tr_host *h) {
  tr_spawn_opts o = {0};
  tr_pid a = 0, b = 0;
  o.capacity = 4;
  if (test_spawn_ctx(h, &remote_b, w, &o, &a) ||
      test_spawn_ctx(h, &remote_b, w, &o, &b))
    atomic_fetch_add(&w->errors, 1);
  atomic_store(&w->pid[1], a);
  atomic_store(&w->pid[2], b);
}

/* On host 1: pid[1] with a mailbox of 4 and pid[2], its heir. */
static void setup_heir(world *w, tr_host *h) {
  tr_spawn_opts o = {0};
  tr_pid a = 0, b = 0;
  o.capacity = 4;
  if (test_spawn_ctx(h, &remote_b, w, &o, &a) ||
      test_spawn_ctx(h, &remote_b, w, NULL, &b) || tr_mailbox_set_heir(h, a, b))
    atomic_fetch_add(&w->errors, 1);
  atomic_store(&w->pid[1], a);
  atomic_store(&w->pid[2], b);
}

/* Spawns one remote actor per host, registered as "svc<index>". */
static void setup_named(world *w, tr_host *h) {
  char name[16];
  tr_spawn_opts o = {0};
  tr_pid pid = 0;
  snprintf(name, sizeof name, "svc%u", (unsigned)tr_host_index(h));
  o.name = name;
  if (test_spawn_ctx(h, &remote_b, w, &o, &pid))
    atomic_fetch_add(&w->errors, 1);
  atomic_store(&w->pid[tr_host_index(h)], pid);
}

/* ------------------------------------------------------ the local probe */

/* An actor on host 0 that keeps what it is sent, for the test to read. */
typedef struct seen {
  int kind;
  char name[16];
  char text[64];
  uint64_t session;
  int64_t num;
  tr_pid pid;
} seen;

typedef struct probe {
  seen v[64];
  int n;
} probe;

static int probe_handle(tr_actor *self, void *state, tr_msg *m) {
  probe *p = *(probe **)state;
  seen *s;
  const tr_value *v;
  const char *str;
  size_t len;
  (void)self;
  if (!m || p->n == 64)
    return TR_CONTINUE;
  s = &p->v[p->n++];
  memset(s, 0, sizeof *s);
  s->kind = tr_msg_kind(m);
  str = tr_msg_name(m, &len);
  test_copy_str(s->name, sizeof s->name, str, len);
  s->session = tr_msg_session(m);
  for (size_t i = 0; i < tr_msg_argc(m); i++) {
    v = tr_msg_arg(m, i);
    if (tr_value_type(v) == TR_STR && !tr_value_str(v, &str, &len))
      test_copy_str(s->text, sizeof s->text, str, len);
    else if (tr_value_type(v) == TR_INT)
      tr_value_int(v, &s->num);
    else if (tr_value_type(v) == TR_PID)
      tr_value_pid(v, &s->pid);
  }
  return TR_CONTINUE;
}

static const tr_behaviour probe_b = {"probe", sizeof(probe *), test_ptr_init,
                                     probe_handle, NULL};

static tr_pid probe_new(world *w, probe *p, int trap) {
  tr_spawn_opts o = {0};
  tr_pid pid = 0;
  memset(p, 0, sizeof *p);
  o.trap_exit = trap;
  CHECK_EQ(test_spawn_ctx(w->h0, &probe_b, p, &o, &pid), TR_OK);
  return pid;
}

/* ---------------------------------------------------------------- tests */

static void test_pids_name_their_host(void) {
  world w;
  tr_pid p;
  world_start(&w, 2, setup_one, NULL);
  CHECK_EQ(tr_pid_host(remote_pid(&w, 1)), 1);
  CHECK_EQ(tr_pid_host(remote_pid(&w, 2)), 2);
  CHECK_EQ(tr_spawn(w.h0, &probe_b, NULL, NULL, &p), TR_OK);
  CHECK_EQ(tr_pid_host(p), 0);
  CHECK(tr_alive(w.h0, remote_pid(&w, 1)));
  world_end(&w);
}

static void test_call_and_reply(void) {
  world w;
  probe p;
  tr_pid me;
  uint64_t s1 = 0, s2 = 0;
  world_start(&w, 1, setup_one, NULL);
  me = probe_new(&w, &p, 0);
  CHECK_EQ(tr_call(w.h0, me, remote_pid(&w, 1), tr_msg_pack("echo", "i", 7),
                   WAIT_MS, &s1),
           TR_OK);
  CHECK_EQ(tr_call(w.h0, me, remote_pid(&w, 1), tr_msg_pack("echo", "i", 8),
                   WAIT_MS, &s2),
           TR_OK);
  STEP_UNTIL(w.h0, p.n >= 2, WAIT_MS);
  CHECK_EQ(p.n, 2);
  CHECK_EQ(p.v[0].kind, TR_KIND_REPLY);
  CHECK_EQ(p.v[0].session, s1);
  CHECK_EQ(p.v[0].num, 7);
  CHECK_EQ(p.v[1].session, s2);
  CHECK_EQ(p.v[1].num, 8);
  world_end(&w);
}

/* A call blocked on another host fails at once when its callee is killed,
 * long before its timeout; a call to a dead remote pid fails "noproc". */
static void test_call_to_killed_callee(void) {
  world w;
  probe p;
  tr_pid me, callee;
  uint64_t s = 0, t0;
  world_start(&w, 1, setup_one, NULL);
  me = probe_new(&w, &p, 0);
  callee = remote_pid(&w, 1);
  CHECK_EQ(tr_call(w.h0, me, callee, tr_msg_pack("hold", ""), 60000, &s),
           TR_OK);
  t0 = uv_hrtime();
  CHECK_EQ(tr_kill(w.h0, callee, "shot"), TR_OK);
  STEP_UNTIL(w.h0, p.n >= 1, WAIT_MS);
  CHECK_EQ(p.n, 1);
  CHECK_EQ(p.v[0].kind, TR_KIND_ERROR);
  CHECK_STR(p.v[0].name, "down");
  CHECK_STR(p.v[0].text, "shot");
  CHECK_EQ(p.v[0].session, s);
  CHECK(uv_hrtime() - t0 < 5000000000u);
  /* The slot's old pid is dead for good: the call fails "noproc". */
  CHECK_EQ(tr_call(w.h0, me, callee, tr_msg_pack("echo", "i", 1), WAIT_MS, &s),
           TR_OK);
  STEP_UNTIL(w.h0, p.n >= 2, WAIT_MS);
  CHECK_EQ(p.v[1].kind, TR_KIND_ERROR);
  CHECK_STR(p.v[1].name, "noproc");
  CHECK_EQ(p.v[1].session, s);
  world_end(&w);
}

/* A call forwarded from host 1 to host 2, and one forwarded back to the
 * caller's own host, are answered to the caller. */
static void test_forward_across(void) {
  world w;
  probe p;
  tr_pid me, echo0;
  uint64_t s1 = 0, s2 = 0;
  world_start(&w, 2, setup_one, NULL);
  me = probe_new(&w, &p, 0);
  CHECK_EQ(test_spawn_ctx(w.h0, &remote_b, &w, NULL, &echo0), TR_OK);
  CHECK_EQ(tr_call(w.h0, me, remote_pid(&w, 1),
                   tr_msg_pack("fwd", "p", remote_pid(&w, 2)), WAIT_MS, &s1),
           TR_OK);
  CHECK_EQ(tr_call(w.h0, me, remote_pid(&w, 1), tr_msg_pack("fwd", "p", echo0),
                   WAIT_MS, &s2),
           TR_OK);
  STEP_UNTIL(w.h0, p.n >= 2, WAIT_MS);
  CHECK_EQ(p.n, 2);
  CHECK_EQ(p.v[0].kind, TR_KIND_REPLY);
  CHECK_EQ(p.v[1].kind, TR_KIND_REPLY);
  CHECK(p.v[0].session != p.v[1].session);
  CHECK(p.v[0].session == s1 || p.v[0].session == s2);
  CHECK(p.v[1].session == s1 || p.v[1].session == s2);
  /* A forward to a pid of host 2 that is dead: "noproc" to the caller. */
  CHECK_EQ(tr_kill(w.h0, remote_pid(&w, 2), NULL), TR_OK);
  CHECK_EQ(tr_call(w.h0, me, remote_pid(&w, 1),
                   tr_msg_pack("fwd", "p", remote_pid(&w, 2)), WAIT_MS, &s1),
           TR_OK);
  STEP_UNTIL(w.h0, p.n >= 3, WAIT_MS);
  CHECK_EQ(p.v[2].kind, TR_KIND_ERROR);
  CHECK_STR(p.v[2].name, "noproc");
  CHECK_EQ(p.v[2].session, s1);
  world_end(&w);
}

/* 4 senders on host 0 send 50 000 messages each to one actor of host 1
 * whose mailbox takes 16, through a lane of 256: what finds the mailbox
 * full waits there, senders refused for lane room wait for it; every
 * message arrives, in order per sender. */
typedef struct sender {
  tr_pid to;
  int id;
  int64_t next, total;
  int waiting;
} sender;

static int sender_handle(tr_actor *self, void *state, tr_msg *m) {
  sender *s = *(sender **)state;
  tr_host *h = tr_actor_host(self);
  int burst = 0;
  if (m && tr_msg_kind(m) == TR_KIND_ROOM)
    s->waiting = 0;
  if (s->waiting)
    return TR_CONTINUE;
  while (s->next < s->total && burst++ < 1000) {
    int rc = tr_send_if_room(h, tr_self(self), s->to,
                             tr_msg_pack("seq", "iI", s->id, s->next));
    if (rc == TR_EFULL) {
      s->waiting = 1;
      CHECK_EQ(tr_notify_room(h, tr_self(self), s->to, 0, NULL), TR_OK);
      return TR_CONTINUE;
    }
    CHECK_EQ(rc, TR_OK);
    s->next++;
  }
  return s->next < s->total ? TR_YIELD : TR_CONTINUE;
}

static const tr_behaviour sender_b = {"sender", sizeof(sender *), test_ptr_init,
                                      sender_handle, NULL};

static void test_order_and_room_under_load(void) {
  enum { SENDERS = 4, EACH = 50000 };
  tr_host_config cfg = {0};
  world w;
  sender s[SENDERS];
  tr_host_stats st;
  int i;
  cfg.inbox_capacity = 256;
  world_start(&w, 1, setup_small, &cfg);
  for (i = 0; i < SENDERS; i++) {
    tr_pid pid;
    s[i] = (sender){remote_pid(&w, 1), i, 0, EACH, 0};
    CHECK_EQ(test_spawn_ctx(w.h0, &sender_b, &s[i], NULL, &pid), TR_OK);
    tr_send(w.h0, 0, pid, tr_msg_pack("go", ""));
  }
  /* 200 000 messages: under valgrind on a loaded machine, minutes */
  STEP_UNTIL(w.h0, atomic_load(&w.got) == SENDERS * EACH, WAIT_MS * 24);
  CHECK_EQ(atomic_load(&w.got), SENDERS * EACH);
  CHECK_EQ(atomic_load(&w.disorder), 0);
  tr_host_get_stats(w.h0, &st);
  CHECK_EQ(st.dead_letters, 0);
  world_end(&w);
}

/* Mail parked for a full mailbox holds its lane room: once its actor is
 * killed, the room comes back (else the second flood would wait for
 * ever), and the lane carries on to the other actor of that host. */
static void test_parked_mail_of_the_dead(void) {
  tr_host_config cfg = {0};
  world w;
  sender s;
  probe p;
  tr_pid pid, me;
  uint64_t sess;
  int i;
  cfg.inbox_capacity = 1000;
  world_start(&w, 1, setup_pair, &cfg);
  me = probe_new(&w, &p, 0);
  tr_send(w.h0, me, remote_pid(&w, 1), tr_msg_pack("stall", ""));
  for (i = 0; i < 900; i++)
    CHECK_EQ(tr_send(w.h0, me, remote_pid(&w, 1),
                     tr_msg_pack("seq", "iI", 7, (int64_t)i)),
             TR_OK);
  CHECK_EQ(tr_monitor(w.h0, me, remote_pid(&w, 1), NULL), TR_OK);
  CHECK_EQ(tr_kill(w.h0, remote_pid(&w, 1), "cut"), TR_OK);
  STEP_UNTIL(w.h0, p.n >= 1, WAIT_MS);
  CHECK_EQ(p.n, 1);
  CHECK_STR(p.v[0].text, "cut");
  /* Its end gave back the lane room of all it had parked. */
  CHECK_EQ(tr_mailbox_room(w.h0, remote_pid(&w, 2)), 1000);
  s = (sender){remote_pid(&w, 2), 0, 0, 5000, 0};
  CHECK_EQ(test_spawn_ctx(w.h0, &sender_b, &s, NULL, &pid), TR_OK);
  tr_send(w.h0, 0, pid, tr_msg_pack("go", ""));
  STEP_UNTIL(w.h0, atomic_load(&w.got) == 5000, WAIT_MS * 3);
  CHECK_EQ(atomic_load(&w.got), 5000);
  CHECK_EQ(atomic_load(&w.disorder), 0);
  CHECK_EQ(tr_call(w.h0, me, remote_pid(&w, 2), tr_msg_pack("echo", "i", 5),
                   WAIT_MS, &sess),
           TR_OK);
  STEP_UNTIL(w.h0, p.n >= 2, WAIT_MS);
  CHECK_EQ(p.v[1].kind, TR_KIND_REPLY);
  world_end(&w);
}

/* An actor with an heir ends with mail from another host in its mailbox
 * and parked behind it: the heir gets all of it, in order, and a call
 * among it waits on the heir, who answers it. */
static void test_parked_mail_to_the_heir(void) {
  world w;
  probe p;
  tr_pid me;
  uint64_t s = 0;
  int i;
  world_start(&w, 1, setup_heir, NULL);
  me = probe_new(&w, &p, 0);
  /* Stalled before the rest comes: else the heir would inherit that. */
  CHECK_EQ(tr_call(w.h0, me, remote_pid(&w, 1), tr_msg_pack("stall", ""),
                   WAIT_MS, &s),
           TR_OK);
  STEP_UNTIL(w.h0, p.n >= 1, WAIT_MS);
  CHECK_STR(p.v[0].name, "stalled");
  p.n = 0;
  for (i = 0; i < 500; i++)
    CHECK_EQ(tr_send(w.h0, me, remote_pid(&w, 1),
                     tr_msg_pack("seq", "iI", 3, (int64_t)i)),
             TR_OK);
  CHECK_EQ(tr_call(w.h0, me, remote_pid(&w, 1), tr_msg_pack("echo", "i", 11),
                   60000, &s),
           TR_OK);
  CHECK_EQ(tr_kill(w.h0, remote_pid(&w, 1), "handed"), TR_OK);
  STEP_UNTIL(w.h0, atomic_load(&w.got) == 500 && p.n >= 1, WAIT_MS);
  CHECK_EQ(atomic_load(&w.got), 500);
  CHECK_EQ(atomic_load(&w.disorder), 0);
  CHECK_EQ(p.n, 1);
  CHECK_EQ(p.v[0].kind, TR_KIND_REPLY);
  CHECK_EQ(p.v[0].session, s);
  CHECK_EQ(p.v[0].num, 11);
  world_end(&w);
}

static void test_monitor_across(void) {
  world w;
  probe p;
  tr_pid me, t;
  uint64_t ref = 0, ref2 = 0;
  world_start(&w, 1, setup_one, NULL);
  me = probe_new(&w, &p, 0);
  t = remote_pid(&w, 1);
  CHECK_EQ(tr_monitor(w.h0, me, t, &ref), TR_OK);
  CHECK_EQ(tr_monitor(w.h0, me, t, &ref2), TR_OK);
  CHECK_EQ(tr_demonitor(w.h0, ref2), TR_OK);
  tr_send(w.h0, me, t, tr_msg_pack("die", "s", "boom"));
  STEP_UNTIL(w.h0, p.n >= 1, WAIT_MS);
  CHECK_EQ(p.n, 1);
  CHECK_EQ(p.v[0].kind, TR_KIND_DOWN);
  CHECK_EQ(p.v[0].num, (int64_t)ref);
  CHECK_EQ(p.v[0].pid, t);
  CHECK_STR(p.v[0].text, "boom");
  /* Now dead: a monitor gets "noproc" from its host. */
  CHECK_EQ(tr_monitor(w.h0, me, t, &ref), TR_OK);
  STEP_UNTIL(w.h0, p.n >= 2, WAIT_MS);
  CHECK_EQ(p.n, 2);
  CHECK_EQ(p.v[1].num, (int64_t)ref);
  CHECK_STR(p.v[1].text, "noproc");
  world_end(&w);
  CHECK_EQ(p.n, 2); /* the demonitored one never came */
}

static void test_links_across(void) {
  world w;
  probe p, q;
  tr_pid me, t, doomed, other;
  uint64_t ref = 0;
  world_start(&w, 2, setup_one, NULL);
  me = probe_new(&w, &p, 1); /* traps exits */
  t = remote_pid(&w, 1);
  CHECK_EQ(tr_link(w.h0, me, t), TR_OK);
  tr_send(w.h0, me, t, tr_msg_pack("die", "s", "crash"));
  STEP_UNTIL(w.h0, p.n >= 1, WAIT_MS);
  CHECK_EQ(p.v[0].kind, TR_KIND_EXIT);
  CHECK_EQ(p.v[0].pid, t);
  CHECK_STR(p.v[0].text, "crash");
  /* A link to a dead pid: exit "noproc". */
  CHECK_EQ(tr_link(w.h0, t, me), TR_OK);
  STEP_UNTIL(w.h0, p.n >= 2, WAIT_MS);
  CHECK_EQ(p.v[1].kind, TR_KIND_EXIT);
  CHECK_STR(p.v[1].text, "noproc");
  /* An abnormal end on host 0 ends the linked actor of host 2 (seen
   * through a monitor), and an unlinked one lives on. */
  other = remote_pid(&w, 2);
  doomed = probe_new(&w, &q, 0);
  CHECK_EQ(tr_link(w.h0, doomed, other), TR_OK);
  CHECK_EQ(tr_monitor(w.h0, me, other, &ref), TR_OK);
  CHECK_EQ(tr_kill(w.h0, doomed, "gone"), TR_OK);
  STEP_UNTIL(w.h0, p.n >= 3, WAIT_MS);
  CHECK_EQ(p.v[2].kind, TR_KIND_DOWN);
  CHECK_EQ(p.v[2].pid, other);
  CHECK_STR(p.v[2].text, "gone");
  world_end(&w);
}

static void test_names_across(void) {
  world w;
  probe p;
  tr_pid me, svc;
  uint64_t s = 0;
  world_start(&w, 2, setup_named, NULL);
  me = probe_new(&w, &p, 0);
  svc = tr_whereis(w.h0, "svc1");
  CHECK_EQ(svc, remote_pid(&w, 1));
  CHECK_EQ(tr_whereis(w.h0, "svc2"), remote_pid(&w, 2));
  CHECK_EQ(tr_register(w.h0, "svc2", me), TR_EEXIST);
  CHECK_EQ(tr_register(w.h0, "here", me), TR_OK);
  CHECK_EQ(tr_send_named(w.h0, me, "svc1", tr_msg_pack("seq", "iI", 0, 0)),
           TR_OK);
  STEP_UNTIL(w.h0, atomic_load(&w.got) == 1, WAIT_MS);
  CHECK_EQ(atomic_load(&w.got), 1);
  CHECK_EQ(tr_call(w.h0, me, svc, tr_msg_pack("echo", "i", 3), WAIT_MS, &s),
           TR_OK);
  /* Its owner ends on host 1: the name goes, and can be taken here. */
  tr_send(w.h0, me, svc, tr_msg_pack("die", "s", "normal"));
  STEP_UNTIL(w.h0, tr_whereis(w.h0, "svc1") == 0, WAIT_MS);
  CHECK_EQ(tr_whereis(w.h0, "svc1"), 0);
  CHECK_EQ(tr_unregister(w.h0, "here"), TR_OK);
  CHECK_EQ(tr_register(w.h0, "svc1", me), TR_OK);
  CHECK_EQ(tr_whereis(w.h0, "svc1"), me);
  STEP_UNTIL(w.h0, p.n >= 1, WAIT_MS);
  CHECK_EQ(p.v[0].kind, TR_KIND_REPLY);
  world_end(&w);
}

/* Many actors on every host, linked and monitored across: a node's stop
 * ends all of them, each terminate once; valgrind sees nothing left. */
static void setup_many(world *w, tr_host *h) {
  int i;
  tr_pid first = 0, pid;
  for (i = 0; i < 100; i++) {
    if (test_spawn_ctx(h, &remote_b, w, NULL, &pid))
      atomic_fetch_add(&w->errors, 1);
    if (!first)
      first = pid;
  }
  atomic_store(&w->pid[tr_host_index(h)], first);
}

static void test_node_shutdown(void) {
  world w;
  probe p;
  tr_pid me;
  uint64_t s;
  int i;
  world_start(&w, 3, setup_many, NULL);
  me = probe_new(&w, &p, 1);
  for (i = 1; i <= 3; i++) {
    CHECK_EQ(tr_link(w.h0, me, remote_pid(&w, i)), TR_OK);
    CHECK_EQ(tr_monitor(w.h0, me, remote_pid(&w, i), NULL), TR_OK);
    CHECK_EQ(
        tr_call(w.h0, me, remote_pid(&w, i), tr_msg_pack("hold", ""), 0, &s),
        TR_OK);
    tr_send(w.h0, me, remote_pid(&w, i), tr_msg_pack("seq", "iI", 0, 0));
  }
  STEP_UNTIL(w.h0, atomic_load(&w.got) == 3, WAIT_MS);
  world_end(&w);
  CHECK_EQ(atomic_load(&w.terminated), 300);
}

/* tr_spawn_on starts a C actor on another host (and on its own): the
 * answer names the pid, which lives there and answers calls; a failing
 * init comes back as an error with its reason; a name given is
 * registered there, for all to find. */
static int failing_init(tr_actor *self, void *state, tr_msg *args) {
  (void)self, (void)state, (void)args;
  return 1;
}

static const tr_behaviour failing_b = {"failing", 0, failing_init,
                                       remote_handle, NULL};

static void test_spawn_on(void) {
  world w;
  probe p;
  tr_pid me, there = 0;
  tr_spawn_opts o = {0};
  uint64_t s1 = 0, s2 = 0, s3 = 0;
  world_start(&w, 2, NULL, NULL);
  me = probe_new(&w, &p, 0);
  o.ctx = &w;
  o.name = "made-on-2";
  CHECK_EQ(tr_spawn_on(w.h0, me, 2, &remote_b, NULL, &o, &s1), TR_OK);
  CHECK_EQ(tr_spawn_on(w.h0, me, 1, &failing_b, NULL, NULL, &s2), TR_OK);
  o.name = NULL;
  CHECK_EQ(tr_spawn_on(w.h0, me, 0, &remote_b, NULL, &o, &s3), TR_OK);
  CHECK(s1 && s2 && s3 && s1 != s2);
  STEP_UNTIL(w.h0, p.n >= 3, WAIT_MS);
  CHECK_EQ(p.n, 3);
  for (int i = 0; i < p.n; i++) {
    if (p.v[i].session == s1) {
      CHECK_EQ(p.v[i].kind, TR_KIND_REPLY);
      CHECK_STR(p.v[i].name, "spawned");
      CHECK_EQ(tr_pid_host(p.v[i].pid), 2);
      there = p.v[i].pid;
    } else if (p.v[i].session == s2) {
      CHECK_EQ(p.v[i].kind, TR_KIND_ERROR);
      CHECK_STR(p.v[i].text, tr_strerror(TR_EINIT));
    } else {
      CHECK_EQ(p.v[i].session, s3);
      CHECK_EQ(tr_pid_host(p.v[i].pid), 0);
    }
  }
  CHECK_EQ(tr_whereis(w.h0, "made-on-2"), there);
  CHECK_EQ(tr_call(w.h0, me, there, tr_msg_pack("echo", "i", 9), WAIT_MS, &s1),
           TR_OK);
  STEP_UNTIL(w.h0, p.n >= 4, WAIT_MS);
  CHECK_EQ(p.v[3].kind, TR_KIND_REPLY);
  CHECK_EQ(p.v[3].num, 9);
  CHECK_EQ(tr_spawn_on(w.h0, me, 7, &remote_b, NULL, NULL, &s1), TR_ENOPROC);
  CHECK_EQ(s1, 0);
  world_end(&w);
  CHECK_EQ(atomic_load(&w.terminated), 2);
}

/* A host of a node that sends to a pid of a host that never joined: the
 * send fails at once, as to a dead pid. */
static void test_no_such_host(void) {
  tr_node *n = tr_node_new(3);
  tr_host *h = tr_node_join(n, NULL);
  tr_pid me;
  uint64_t s;
  CHECK_EQ(tr_spawn(h, &probe_b, NULL, NULL, &me), TR_OK);
  CHECK_EQ(tr_send(h, me, (tr_pid)1 << TR_PID_GEN_SHIFT | 2u << 24 | 1u,
                   tr_msg_pack("x", "")),
           TR_ENOPROC);
  CHECK_EQ(tr_call(h, me, (tr_pid)1 << TR_PID_GEN_SHIFT | 2u << 24 | 1u,
                   tr_msg_pack("x", ""), 0, &s),
           TR_ENOPROC);
  CHECK(tr_node_new(0) == NULL);
  CHECK(tr_node_new(256) == NULL);
  CHECK_EQ(tr_node_free(n), TR_EINVAL); /* h is still there */
  tr_host_free(h);
  CHECK_EQ(tr_node_free(n), TR_OK);
}

/* A node made for one host (tr_node_new(1), as `troupe --threads 1` would
 * make) runs as a host of tr_host_new does: a stop, or a send from another
 * thread, wakes its loop, which has no lanes to drain. Last: it fails by
 * crashing (tr__lanes_drain reads h->out, which a node of one never
 * allocates). */
static void test_node_of_one(void) {
  tr_node *n = tr_node_new(1);
  tr_host *h = tr_node_join(n, NULL);
  CHECK(h != NULL);
  if (!h)
    return;
  CHECK_EQ(tr_node_size(n), 1);
  tr_host_stop(h);
  CHECK_EQ(tr_host_run(h), TR_OK);
  tr_host_free(h);
  CHECK_EQ(tr_node_free(n), TR_OK);
}

int main(void) {
  RUN(test_pids_name_their_host);
  RUN(test_call_and_reply);
  RUN(test_call_to_killed_callee);
  RUN(test_forward_across);
  RUN(test_order_and_room_under_load);
  RUN(test_parked_mail_of_the_dead);
  RUN(test_parked_mail_to_the_heir);
  RUN(test_monitor_across);
  RUN(test_links_across);
  RUN(test_names_across);
  RUN(test_spawn_on);
  RUN(test_node_shutdown);
  RUN(test_no_such_host);
  RUN(test_node_of_one);
  return test_report();
}
