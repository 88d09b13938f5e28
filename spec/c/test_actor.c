/*
 * test_actor.c -- an actor's life: spawn (state, init, terminate), failed
 * and refused spawns, pids that never reach a slot's next tenant, tr_exit,
 * TR_STOP, tr_kill and the spawn options.
 */
#include <stdint.h>
#include <stdlib.h>

#include "test.h"

/* ------------------------------------------------------------ helpers */

/* What one test actor went through, kept by the test (the actor's state
 * points at it, passed in the spawn arguments). */
typedef struct probe {
  int inits, handled, terminates, exits_seen;
  int64_t init_arg;
  int state_was_zero;
  char reason[64];      /* terminate's reason */
  char exit_reason[64]; /* the reason of the last exit(pid, reason) */
  tr_pid exit_from;
} probe;

typedef struct recorder {
  probe *p;
  int64_t count;
  unsigned char zeroed[200]; /* must arrive zeroed from the host */
} recorder;

/* Copies string argument i of m into buf ("" when it is not a string). */
static const char *str_arg(tr_msg *m, size_t i, char *buf, size_t n) {
  const char *s;
  size_t len;
  buf[0] = '\0';
  if (tr_value_str(tr_msg_arg(m, i), &s, &len) == 0) {
    if (len >= n)
      len = n - 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
  }
  return buf;
}

static int recorder_init(tr_actor *self, void *state, tr_msg *args) {
  recorder *r = state;
  int64_t arg = 0;
  size_t i;
  if (tr_msg_unpack(args, "I", &arg))
    return -1;
  r->p = tr_actor_ctx(self); /* the pointer is the ctx, the value a message */
  r->p->inits++;
  r->p->init_arg = arg;
  r->p->state_was_zero = r->count == 0;
  for (i = 0; i < sizeof r->zeroed; i++)
    if (r->zeroed[i])
      r->p->state_was_zero = 0;
  if (arg == -1)
    return -1; /* asked to fail */
  if (arg == -2)
    tr_exit(self, "init-exit"); /* asked to end right after init */
  return 0;
}

/* Counts messages; "exit"(reason) ends with tr_exit, "stop" returns
 * TR_STOP, trapped exit(pid, reason) messages are recorded. */
static int recorder_handle(tr_actor *self, void *state, tr_msg *m) {
  recorder *r = state;
  char reason[64];
  if (!m)
    return TR_CONTINUE;
  r->p->handled++;
  r->count++;
  if (tr_msg_kind(m) == TR_KIND_EXIT) {
    r->p->exits_seen++;
    tr_value_pid(tr_msg_arg(m, 0), &r->p->exit_from);
    str_arg(m, 1, r->p->exit_reason, sizeof r->p->exit_reason);
  } else if (tr_msg_is(m, "exit")) {
    tr_exit(self, tr_msg_argc(m) ? str_arg(m, 0, reason, sizeof reason) : NULL);
  } else if (tr_msg_is(m, "stop")) {
    return TR_STOP;
  }
  return TR_CONTINUE;
}

static void recorder_terminate(tr_actor *self, void *state,
                               const char *reason) {
  recorder *r = state;
  (void)self;
  r->p->terminates++;
  snprintf(r->p->reason, sizeof r->p->reason, "%s", reason);
}

static const tr_behaviour recorder_b = {"recorder", sizeof(recorder),
                                        recorder_init, recorder_handle,
                                        recorder_terminate};

/* Spawns a recorder: the probe is its ctx, arg a value in its spawn
 * message. */
static int start_recorder(tr_host *h, probe *p, int64_t arg,
                          const tr_spawn_opts *opts, tr_pid *out) {
  tr_spawn_opts o = {0};
  if (opts)
    o = *opts;
  o.ctx = p;
  return tr_spawn(h, &recorder_b, tr_msg_pack("args", "I", arg), &o, out);
}

static tr_pid spawn_recorder(tr_host *h, probe *p, const tr_spawn_opts *o) {
  tr_pid pid = 0;
  CHECK_EQ(start_recorder(h, p, 0, o, &pid), TR_OK);
  return pid;
}

static int send_simple(tr_host *h, tr_pid to, const char *name) {
  return tr_send(h, 0, to, tr_msg_new(name));
}

/* Steps h until p has handled n messages (deadline 1 s). */
static int wait_handled(tr_host *h, probe *p, int n) {
  uint64_t end = uv_hrtime() + 1000000000u;
  while (p->handled < n && uv_hrtime() < end)
    if (tr_host_step(h) < 0)
      break;
  return p->handled >= n;
}

/* -------------------------------------------------------------- tests */

static void test_spawn_runs_init_handle_terminate(void) {
  tr_host *h = tr_host_new(NULL);
  probe p = {0};
  tr_pid pid = 0;
  tr_host_stats st;

  CHECK_EQ(start_recorder(h, &p, 42, NULL, &pid), TR_OK);
  CHECK(pid != 0);
  CHECK(tr_alive(h, pid));
  CHECK_EQ(p.inits, 1);
  CHECK_EQ(p.init_arg, 42);
  CHECK(p.state_was_zero);
  CHECK_EQ(p.terminates, 0);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.actors, 1);

  for (int i = 0; i < 3; i++)
    CHECK_EQ(send_simple(h, pid, "ping"), TR_OK);
  CHECK(wait_handled(h, &p, 3));
  CHECK_EQ(p.handled, 3);

  CHECK_EQ(tr_kill(h, pid, "enough"), TR_OK);
  CHECK_EQ(p.terminates, 1);
  CHECK_STR(p.reason, "enough");
  CHECK(!tr_alive(h, pid));
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.actors, 0);
  tr_host_free(h);
  CHECK_EQ(p.terminates, 1); /* not twice */
}

static int self_init(tr_actor *self, void *state, tr_msg *args) {
  tr_pid *seen;
  (void)args;
  seen = tr_actor_ctx(self);
  *seen = tr_self(self);
  CHECK(tr_actor_state(self) == state);
  CHECK(tr_actor_host(self) != NULL);
  return 0;
}

static int noop_handle(tr_actor *self, void *state, tr_msg *m) {
  (void)self, (void)state, (void)m;
  return TR_CONTINUE;
}

static void test_self_state_and_host(void) {
  static const tr_behaviour b = {"self", 16, self_init, noop_handle, NULL};
  tr_host *h = tr_host_new(NULL);
  tr_pid seen = 0, pid = 0;
  CHECK_EQ(test_spawn_ctx(h, &b, &seen, NULL, &pid), TR_OK);
  CHECK(pid != 0);
  CHECK_EQ(seen, pid);
  CHECK_EQ(tr_self(NULL), 0);
  tr_host_free(h);
}

static void test_init_failure(void) {
  tr_host *h = tr_host_new(NULL);
  probe p = {0};
  tr_pid pid = 12345;
  tr_spawn_opts o = {0};
  tr_host_stats st;

  o.name = "doomed";
  CHECK_EQ(start_recorder(h, &p, -1, &o, &pid), TR_EINIT);
  CHECK_EQ(pid, 0);
  CHECK_EQ(p.inits, 1);
  CHECK_EQ(p.terminates, 0); /* init cleans up after itself */
  CHECK_EQ(tr_whereis(h, "doomed"), 0);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.actors, 0);
  CHECK_EQ(tr_host_step(h), 0);

  /* The name is free again for the next try. */
  CHECK_EQ(start_recorder(h, &p, 0, &o, &pid), TR_OK);
  CHECK_EQ(tr_whereis(h, "doomed"), pid);
  tr_host_free(h);
  CHECK_EQ(p.terminates, 1);
}

static void test_exit_in_init(void) {
  tr_host *h = tr_host_new(NULL);
  probe p = {0};
  tr_pid pid = 0;
  CHECK_EQ(start_recorder(h, &p, -2, NULL, &pid), TR_OK);
  CHECK(pid != 0);
  CHECK(!tr_alive(h, pid));
  CHECK_EQ(p.terminates, 1); /* init ran, so terminate does */
  CHECK_STR(p.reason, "init-exit");
  tr_host_free(h);
}

static void spawn_from_thread(void *arg) {
  tr_host *h = arg;
  static const tr_behaviour b = {"t", 0, NULL, noop_handle, NULL};
  tr_pid pid = 7;
  CHECK_EQ(tr_spawn(h, &b, tr_msg_new("args"), NULL, &pid), TR_ETHREAD);
  CHECK_EQ(pid, 0);
}

static void test_bad_spawn_arguments(void) {
  tr_host *h = tr_host_new(NULL);
  static const tr_behaviour no_handle = {"nohandle", 0, NULL, NULL, NULL};
  static const tr_behaviour ok = {"ok", 0, NULL, noop_handle, NULL};
  tr_spawn_opts o = {0};
  tr_pid pid = 99;
  uv_thread_t t;
  tr_host_stats st;

  /* Arguments are freed on every failure (valgrind checks). */
  CHECK_EQ(tr_spawn(h, NULL, tr_msg_new("args"), NULL, &pid), TR_EINVAL);
  CHECK_EQ(pid, 0);
  CHECK_EQ(tr_spawn(h, &no_handle, tr_msg_new("args"), NULL, &pid), TR_EINVAL);
  CHECK_EQ(tr_spawn(NULL, &ok, tr_msg_new("args"), NULL, &pid), TR_EINVAL);
  CHECK_EQ(tr_spawn(h, &ok, NULL, NULL, NULL), TR_OK); /* out may be NULL */

  o.name = "taken";
  CHECK_EQ(tr_spawn(h, &ok, NULL, &o, &pid), TR_OK);
  CHECK_EQ(tr_spawn(h, &ok, tr_msg_new("args"), &o, &pid), TR_EEXIST);
  CHECK_EQ(pid, 0);

  CHECK_EQ(uv_thread_create(&t, spawn_from_thread, h), 0);
  uv_thread_join(&t);

  tr_host_get_stats(h, &st);
  CHECK_EQ(st.actors, 2);
  tr_host_free(h);
}

static void test_dead_pid_never_reaches_next_tenant(void) {
  tr_host *h = tr_host_new(NULL);
  probe a = {0}, b = {0};
  tr_pid old = spawn_recorder(h, &a, NULL), fresh;

  CHECK_EQ(tr_kill(h, old, NULL), TR_OK);
  CHECK_STR(a.reason, "killed");
  fresh = spawn_recorder(h, &b, NULL);
  /* The freed slot rests (slots.h): another one is taken. */
  CHECK(fresh != old);

  CHECK_EQ(tr_alive(h, old), 0);
  CHECK_EQ(tr_alive(h, fresh), 1);
  CHECK_EQ(send_simple(h, old, "ping"), TR_ENOPROC);
  CHECK_EQ(tr_kill(h, old, "x"), TR_ENOPROC);
  CHECK_EQ(tr_register(h, "old", old), TR_ENOPROC);
  CHECK_EQ(tr_host_step(h), 0);
  CHECK_EQ(b.handled, 0); /* nothing sent to `old` reached `fresh` */
  CHECK_EQ(tr_alive(h, fresh), 1);

  CHECK_EQ(send_simple(h, fresh, "ping"), TR_OK);
  CHECK(wait_handled(h, &b, 1));
  CHECK_EQ(a.handled, 0);
  tr_host_free(h);
}

static void test_exit_with_reason(void) {
  tr_host *h = tr_host_new(NULL);
  probe p = {0};
  tr_pid pid = spawn_recorder(h, &p, NULL);
  tr_host_stats st;

  CHECK_EQ(tr_send(h, 0, pid, tr_msg_pack("exit", "s", "boom")), TR_OK);
  CHECK_EQ(send_simple(h, pid, "after"), TR_OK);
  CHECK(wait_handled(h, &p, 1));
  while (tr_host_step(h) > 0)
    ;
  CHECK(!tr_alive(h, pid));
  CHECK_EQ(p.handled, 1); /* nothing after the exit */
  CHECK_EQ(p.terminates, 1);
  CHECK_STR(p.reason, "boom");
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.dead_letters, 1); /* "after" was never handled: counted */

  /* tr_exit with NULL is a normal exit. */
  probe q = {0};
  pid = spawn_recorder(h, &q, NULL);
  CHECK_EQ(send_simple(h, pid, "exit"), TR_OK);
  CHECK(wait_handled(h, &q, 1));
  CHECK(!tr_alive(h, pid));
  CHECK_STR(q.reason, "normal");
  tr_host_free(h);
}

static void test_stop_is_normal(void) {
  tr_host *h = tr_host_new(NULL);
  probe p = {0};
  tr_pid pid = spawn_recorder(h, &p, NULL);
  CHECK_EQ(send_simple(h, pid, "stop"), TR_OK);
  CHECK(wait_handled(h, &p, 1));
  CHECK(!tr_alive(h, pid));
  CHECK_EQ(p.terminates, 1);
  CHECK_STR(p.reason, "normal");
  tr_host_free(h);
}

/* Kills the pid it is sent, from inside its own callback. */
static int killer_handle(tr_actor *self, void *state, tr_msg *m) {
  tr_pid victim = 0;
  (void)state;
  if (m && tr_msg_unpack(m, "p", &victim) == 0)
    CHECK_EQ(tr_kill(tr_actor_host(self), victim, "shot"), TR_OK);
  return TR_CONTINUE;
}

static void test_kill(void) {
  static const tr_behaviour killer = {"killer", 0, NULL, killer_handle, NULL};
  tr_host *h = tr_host_new(NULL);
  probe p = {0}, q = {0};
  tr_pid pid = spawn_recorder(h, &p, NULL), k, other;

  CHECK_EQ(tr_kill(h, pid, "bang"), TR_OK);
  CHECK_EQ(p.terminates, 1); /* at once, not at the next step */
  CHECK_STR(p.reason, "bang");
  CHECK_EQ(tr_kill(h, pid, "again"), TR_ENOPROC);
  CHECK_EQ(tr_kill(h, 0, "zero"), TR_ENOPROC);
  CHECK_EQ(tr_kill(NULL, pid, "x"), TR_EINVAL);
  CHECK_EQ(p.terminates, 1);

  /* From one actor's callback to another. */
  other = spawn_recorder(h, &q, NULL);
  CHECK_EQ(tr_spawn(h, &killer, NULL, NULL, &k), TR_OK);
  CHECK_EQ(tr_send(h, 0, k, tr_msg_pack("kill", "p", other)), TR_OK);
  for (int i = 0; i < 10 && tr_alive(h, other); i++)
    tr_host_step(h);
  CHECK(!tr_alive(h, other));
  CHECK_STR(q.reason, "shot");
  CHECK(tr_alive(h, k));
  tr_host_free(h);
}

static void test_spawn_opts(void) {
  tr_host *h = tr_host_new(NULL);
  probe named = {0}, small = {0}, base = {0}, linked = {0}, trapper = {0};
  tr_spawn_opts o = {0};
  tr_pid n, s, b, l, t;

  /* name */
  o.name = "svc";
  n = spawn_recorder(h, &named, &o);
  CHECK_EQ(tr_whereis(h, "svc"), n);
  CHECK_STR(tr_actor_name(h, n), "svc");

  /* capacity */
  memset(&o, 0, sizeof o);
  o.capacity = 2;
  s = spawn_recorder(h, &small, &o);
  CHECK_EQ(send_simple(h, s, "1"), TR_OK);
  CHECK_EQ(send_simple(h, s, "2"), TR_OK);
  CHECK_EQ(send_simple(h, s, "3"), TR_EFULL);
  CHECK(wait_handled(h, &small, 2));
  CHECK_EQ(send_simple(h, s, "4"), TR_OK);

  /* link: an abnormal end of b ends l with the same reason */
  b = spawn_recorder(h, &base, NULL);
  memset(&o, 0, sizeof o);
  o.link = b;
  l = spawn_recorder(h, &linked, &o);
  /* trap_exit: t hears of b's end as a message instead */
  o.trap_exit = 1;
  t = spawn_recorder(h, &trapper, &o);
  CHECK_EQ(tr_kill(h, b, "crash"), TR_OK);
  CHECK(!tr_alive(h, l));
  CHECK_STR(linked.reason, "crash");
  CHECK(tr_alive(h, t));
  CHECK(wait_handled(h, &trapper, 1));
  CHECK_EQ(trapper.exits_seen, 1);
  CHECK_EQ(trapper.exit_from, b);
  CHECK_STR(trapper.exit_reason, "crash");
  tr_host_free(h);
}

static void test_spawn_linked_to_dead_pid(void) {
  tr_host *h = tr_host_new(NULL);
  probe dead = {0}, p = {0}, q = {0};
  tr_spawn_opts o = {0};
  tr_pid gone = spawn_recorder(h, &dead, NULL), pid;
  tr_host_stats st;

  CHECK_EQ(tr_kill(h, gone, NULL), TR_OK);

  /* Linking to a dead actor acts as if it had just ended with "noproc". */
  o.link = gone;
  CHECK_EQ(start_recorder(h, &p, 0, &o, &pid), TR_OK);
  CHECK(!tr_alive(h, pid));
  CHECK_EQ(p.inits, 1);
  CHECK_EQ(p.terminates, 1);
  CHECK_STR(p.reason, "noproc");

  /* A trapping actor gets exit(pid, "noproc") and lives on. */
  o.trap_exit = 1;
  pid = spawn_recorder(h, &q, &o);
  CHECK(tr_alive(h, pid));
  CHECK(wait_handled(h, &q, 1));
  CHECK_EQ(q.exits_seen, 1);
  CHECK_EQ(q.exit_from, gone);
  CHECK_STR(q.exit_reason, "noproc");
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.actors, 1);
  tr_host_free(h);
}

/* Spawns a child recorder, handing on its own ctx (the probe). */
static int parent_handle(tr_actor *self, void *state, tr_msg *m) {
  tr_pid *child = state;
  if (m && tr_msg_is(m, "spawn"))
    CHECK_EQ(
        start_recorder(tr_actor_host(self), tr_actor_ctx(self), 7, NULL, child),
        TR_OK);
  return TR_CONTINUE;
}

static void test_spawn_from_an_actor(void) {
  static const tr_behaviour parent = {"parent", sizeof(tr_pid), NULL,
                                      parent_handle, NULL};
  tr_host *h = tr_host_new(NULL);
  probe p = {0};
  tr_pid pid;
  CHECK_EQ(test_spawn_ctx(h, &parent, &p, NULL, &pid), TR_OK);
  CHECK_EQ(tr_send(h, 0, pid, tr_msg_new("spawn")), TR_OK);
  CHECK(test_wait(h, &p.inits, 1000));
  CHECK_EQ(p.init_arg, 7);
  tr_host_free(h);
  CHECK_EQ(p.terminates, 1);
  CHECK_STR(p.reason, "shutdown");
}

/* ctx: the pointer given at spawn, the same in every callback; NULL when
 * none was given; the host neither frees nor changes it. */
typedef struct ctx_seen {
  void *in_init, *in_handle, *in_terminate;
  int handled, ended;
} ctx_seen;

static int ctx_init(tr_actor *self, void *state, tr_msg *args) {
  ctx_seen **seen = state;
  (void)args;
  *seen = tr_actor_ctx(self);
  if (*seen)
    (*seen)->in_init = tr_actor_ctx(self);
  return 0;
}

static int ctx_handle(tr_actor *self, void *state, tr_msg *m) {
  ctx_seen *seen = *(ctx_seen **)state;
  (void)m;
  if (!seen)
    return tr_actor_ctx(self) == NULL ? TR_STOP : TR_CONTINUE;
  seen->in_handle = tr_actor_ctx(self);
  seen->handled++;
  return TR_CONTINUE;
}

static void ctx_terminate(tr_actor *self, void *state, const char *why) {
  ctx_seen *seen = *(ctx_seen **)state;
  (void)why;
  if (seen) {
    seen->in_terminate = tr_actor_ctx(self);
    seen->ended++;
  }
}

static void test_ctx(void) {
  static const tr_behaviour b = {"ctx", sizeof(ctx_seen *), ctx_init,
                                 ctx_handle, ctx_terminate};
  tr_host *h = tr_host_new(NULL);
  ctx_seen seen = {0};
  tr_spawn_opts o = {0};
  tr_pid pid, bare;
  o.ctx = &seen;
  CHECK_EQ(tr_spawn(h, &b, NULL, &o, &pid), TR_OK);
  CHECK(seen.in_init == &seen);
  CHECK_EQ(send_simple(h, pid, "x"), TR_OK);
  CHECK(test_wait(h, &seen.handled, 1000));
  CHECK(seen.in_handle == &seen);
  /* No ctx: NULL, as the bare actor checks (it stops when it sees NULL). */
  CHECK_EQ(tr_spawn(h, &b, NULL, NULL, &bare), TR_OK);
  CHECK_EQ(send_simple(h, bare, "x"), TR_OK);
  STEP_UNTIL(h, !tr_alive(h, bare), 1000);
  CHECK(!tr_alive(h, bare));
  CHECK_EQ(tr_kill(h, pid, "killed"), TR_OK);
  CHECK_EQ(seen.ended, 1);
  CHECK(seen.in_terminate == &seen);
  CHECK(tr_actor_ctx(NULL) == NULL);
  tr_host_free(h);
}

int main(void) {
  RUN(test_spawn_runs_init_handle_terminate);
  RUN(test_ctx);
  RUN(test_self_state_and_host);
  RUN(test_init_failure);
  RUN(test_exit_in_init);
  RUN(test_bad_spawn_arguments);
  RUN(test_dead_pid_never_reaches_next_tenant);
  RUN(test_exit_with_reason);
  RUN(test_stop_is_normal);
  RUN(test_kill);
  RUN(test_spawn_opts);
  RUN(test_spawn_linked_to_dead_pid);
  RUN(test_spawn_from_an_actor);
  return test_report();
}
