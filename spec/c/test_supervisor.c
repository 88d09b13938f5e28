/*
 * test_supervisor.c -- supervision: children start in order and stop in
 * reverse, keep their names across restarts; the three strategies and the
 * three restart policies; restart intensity (a crash loop ends in the
 * supervisor giving up, spread-out crashes never do); heartbeats (a stuck
 * child is restarted at its cutoff, a busy or idle one never); the
 * restart(name) and children() calls; the listener; failed starts and bad
 * specs; free_arg once per child.
 */
#include <stdint.h>
#include <stdlib.h>

#include "test.h"
#include "troupe_services.h"

/* ------------------------------------------------------------ helpers */

/* What happened to the children, in order: "+a" when a starts, "-a" when
 * it ends (its terminate ran). */
static char events[512];
static size_t events_len;

static void events_reset(void) {
  events_len = 0;
  events[0] = '\0';
}

static void note(char sign, char letter) {
  if (events_len + 2 < sizeof events) {
    events[events_len++] = sign;
    events[events_len++] = letter;
    events[events_len] = '\0';
  }
}

static uint64_t loop_now(tr_host *h) { return uv_now(tr_host_loop(h)); }

/* A child's arg: the test's view of every instance of one child. */
typedef struct kid {
  char letter;
  int attempts;   /* start calls */
  int starts;     /* starts that worked */
  int frees;      /* free_arg calls */
  int fail_from;  /* start attempt number (1-based) from which start fails */
  int crash_init; /* each instance ends in its init */
  int crash_soon; /* each instance ends right after it starts */
  tr_pid pid;     /* the latest instance */
  uint64_t started_at; /* loop time of the latest start */
  uint64_t took_at;    /* loop time the latest instance last took mail */
  int64_t handled;     /* messages handled, all instances */
  char reason[48];     /* the last instance's end reason */
} kid;

typedef struct kid_state {
  kid *k;
  int spinning;         /* yields forever, taking no mail */
  uint64_t grind_until; /* hrtime: yields, beating, until then */
} kid_state;

static void busy_us(unsigned us) {
  uint64_t end = uv_hrtime() + (uint64_t)us * 1000u;
  while (uv_hrtime() < end)
    ;
}

static int kid_init(tr_actor *self, void *state, tr_msg *args) {
  kid_state *s = state;
  (void)args;
  s->k = tr_actor_ctx(self);
  if (s->k->crash_init)
    tr_exit(self, "crash in init");
  else if (s->k->crash_soon)
    tr_wake(self);
  return 0;
}

/* "crash" ends it abnormally, "quit" normally (TR_STOP), "spin" makes it
 * yield forever without taking mail (stuck), "grind"(ms) makes it yield
 * for that long calling tr_heartbeat (busy but alive), "work" takes a
 * little time; a call "ping" answers "pong"(letter). */
static int kid_handle(tr_actor *self, void *state, tr_msg *m) {
  kid_state *s = state;
  tr_host *h = tr_actor_host(self);
  int ms;
  if (!m) {
    if (s->k->crash_soon) {
      tr_exit(self, "crash soon");
      return TR_CONTINUE;
    }
    if (s->spinning)
      return TR_YIELD;
    if (s->grind_until && uv_hrtime() < s->grind_until) {
      busy_us(200);
      tr_heartbeat(self);
      return TR_YIELD;
    }
    s->grind_until = 0;
    return TR_CONTINUE;
  }
  s->k->took_at = loop_now(h);
  s->k->handled++;
  if (tr_msg_is(m, "crash")) {
    tr_exit(self, "crash");
  } else if (tr_msg_is(m, "quit")) {
    return TR_STOP;
  } else if (tr_msg_is(m, "spin")) {
    s->spinning = 1;
    return TR_YIELD;
  } else if (tr_msg_is(m, "grind") && tr_msg_unpack(m, "i", &ms) == TR_OK) {
    s->grind_until = uv_hrtime() + (uint64_t)ms * 1000000u;
    return TR_YIELD;
  } else if (tr_msg_is(m, "work")) {
    busy_us(20);
  } else if (tr_msg_kind(m) == TR_KIND_CALL && tr_msg_is(m, "ping")) {
    char letter[2] = {s->k->letter, '\0'};
    tr_reply(h, m, tr_msg_pack("pong", "s", letter));
  }
  return TR_CONTINUE;
}

static void kid_terminate(tr_actor *self, void *state, const char *why) {
  kid_state *s = state;
  (void)self;
  note('-', s->k->letter);
  snprintf(s->k->reason, sizeof s->k->reason, "%s", why);
}

static const tr_behaviour kid_b = {"kid", sizeof(kid_state), kid_init,
                                   kid_handle, kid_terminate};

static int kid_start(tr_host *h, void *arg, tr_pid *out) {
  kid *k = arg;
  int rc;
  k->attempts++;
  if (k->fail_from && k->attempts >= k->fail_from)
    return TR_EINIT;
  note('+', k->letter);
  rc = test_spawn_ctx(h, &kid_b, k, NULL, out);
  if (rc)
    return rc;
  k->starts++;
  k->pid = *out;
  k->started_at = loop_now(h);
  return TR_OK;
}

static void kid_free(void *arg) { ((kid *)arg)->frees++; }

static tr_child_spec kid_spec(const char *name, kid *k, int restart) {
  tr_child_spec c;
  memset(&c, 0, sizeof c);
  c.name = name;
  c.start = kid_start;
  c.arg = k;
  c.free_arg = kid_free;
  c.restart = restart;
  c.cutoff_ms = UINT32_MAX; /* heartbeat tests set their own */
  return c;
}

/* A recorder: keeps every message it gets (the listener, a watcher). */
#define MAX_NOTES 64

typedef struct notes {
  int n;
  int kinds[MAX_NOTES];
  char names[MAX_NOTES][16];
  char first[MAX_NOTES][48]; /* the first argument, when a string */
  char last[MAX_NOTES][48];  /* the last argument, when a string */
  tr_pid pids[MAX_NOTES];    /* the first pid argument */
} notes;

static int rec_handle(tr_actor *self, void *state, tr_msg *m) {
  notes *w = *(notes **)state;
  const char *s;
  size_t len, i, argc;
  int k;
  (void)self;
  if (!m || w->n == MAX_NOTES)
    return TR_CONTINUE;
  k = w->n;
  w->kinds[k] = tr_msg_kind(m);
  s = tr_msg_name(m, &len);
  test_copy_str(w->names[k], sizeof w->names[k], s, len);
  w->first[k][0] = w->last[k][0] = '\0';
  w->pids[k] = 0;
  argc = tr_msg_argc(m);
  if (tr_value_str(tr_msg_arg(m, 0), &s, &len) == TR_OK)
    test_copy_str(w->first[k], sizeof w->first[k], s, len);
  if (argc && tr_value_str(tr_msg_arg(m, argc - 1), &s, &len) == TR_OK)
    test_copy_str(w->last[k], sizeof w->last[k], s, len);
  for (i = 0; i < argc; i++)
    if (tr_value_pid(tr_msg_arg(m, i), &w->pids[k]) == TR_OK)
      break;
  w->n++;
  return TR_CONTINUE;
}

static const tr_behaviour rec_b = {"recorder", sizeof(notes *), test_ptr_init,
                                   rec_handle, NULL};

static tr_pid spawn_rec(tr_host *h, notes *w, int trap_exit) {
  tr_spawn_opts o = {0};
  tr_pid pid = 0;
  o.trap_exit = trap_exit;
  CHECK_EQ(test_spawn_ctx(h, &rec_b, w, &o, &pid), TR_OK);
  return pid;
}

/* The index of the first note named `name` about child `child` at or after
 * `from`; -1 when none. */
static int find_note(const notes *w, int from, const char *name,
                     const char *child) {
  int i;
  for (i = from; i < w->n; i++)
    if (!strcmp(w->names[i], name) && (!child || !strcmp(w->first[i], child)))
      return i;
  return -1;
}

static int count_notes(const notes *w, const char *name, const char *child) {
  int i, n = 0;
  for (i = 0; i < w->n; i++)
    if (!strcmp(w->names[i], name) && (!child || !strcmp(w->first[i], child)))
      n++;
  return n;
}

static void quiet_log(void *ud, int level, const char *text) {
  (void)level, (void)text;
  ++*(int *)ud;
}

static tr_host *quiet_host(int *lines) {
  tr_host_config cfg = {0};
  cfg.log = quiet_log;
  cfg.log_ud = lines;
  return tr_host_new(&cfg);
}

/* Short turns: the loop comes back to its timers (and the supervisor to
 * its ticks) every few messages, as under load from many actors. */
static tr_host *short_turn_host(int *lines) {
  tr_host_config cfg = {0};
  cfg.log = quiet_log;
  cfg.log_ud = lines;
  cfg.actor_budget = 8;
  cfg.turn_budget = 32;
  return tr_host_new(&cfg);
}

/* Steps h for ms milliseconds of loop time: for "this never happens". */
static void step_for(tr_host *h, unsigned ms) {
  uint64_t end;
  uv_update_time(tr_host_loop(h));
  end = loop_now(h) + ms;
  while (loop_now(h) < end)
    if (tr_host_step(h) < 0)
      break;
}

static tr_pid supervise(tr_host *h, int strategy, const tr_child_spec *c,
                        size_t n, tr_pid listener) {
  tr_sup_spec spec;
  tr_pid sup = 0;
  memset(&spec, 0, sizeof spec);
  spec.strategy = strategy;
  spec.children = c;
  spec.nchildren = n;
  spec.listener = listener;
  CHECK_EQ(tr_sup_start(h, &spec, NULL, &sup), TR_OK);
  CHECK(sup != 0);
  return sup;
}

static int send_to(tr_host *h, tr_pid to, const char *name) {
  return tr_send(h, 0, to, tr_msg_new(name));
}

/* -------------------------------------------------------------- tests */

static void test_start_in_order_stop_in_reverse(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  notes l = {0};
  tr_pid lp = spawn_rec(h, &l, 0), sup;
  kid a = {.letter = 'a'}, b = {.letter = 'b'}, c = {.letter = 'c'};
  tr_child_spec cs[3];
  int i;
  events_reset();
  cs[0] = kid_spec("a", &a, TR_PERMANENT);
  cs[1] = kid_spec("b", &b, TR_PERMANENT);
  cs[2] = kid_spec("c", &c, TR_PERMANENT);
  sup = supervise(h, TR_ONE_FOR_ONE, cs, 3, lp);
  CHECK_STR(events, "+a+b+c");
  /* Registered under their names while they run. */
  CHECK_EQ(tr_whereis(h, "a"), a.pid);
  CHECK_EQ(tr_whereis(h, "b"), b.pid);
  CHECK_EQ(tr_whereis(h, "c"), c.pid);
  CHECK(tr_alive(h, a.pid) && tr_alive(h, b.pid) && tr_alive(h, c.pid));
  /* The listener heard started(name, pid) for each, in order. */
  STEP_UNTIL(h, l.n >= 3, 1000);
  CHECK_EQ(l.n, 3);
  CHECK_STR(l.names[0], "started");
  CHECK_STR(l.first[0], "a");
  CHECK_EQ(l.pids[0], a.pid);
  CHECK_STR(l.first[1], "b");
  CHECK_EQ(l.pids[1], b.pid);
  CHECK_STR(l.first[2], "c");
  CHECK_EQ(l.pids[2], c.pid);
  CHECK_EQ(l.kinds[0], TR_KIND_NOTICE); /* a full listener takes it too */

  /* The supervisor ends: children stop newest first, with "shutdown", and
   * each arg is freed once. */
  CHECK_EQ(tr_kill(h, sup, "shutdown"), TR_OK);
  CHECK_STR(events, "+a+b+c-c-b-a");
  CHECK_STR(a.reason, "shutdown");
  CHECK_STR(c.reason, "shutdown");
  CHECK(!tr_alive(h, a.pid) && !tr_alive(h, b.pid) && !tr_alive(h, c.pid));
  CHECK_EQ(tr_whereis(h, "a"), 0);
  CHECK_EQ(a.frees, 1);
  CHECK_EQ(b.frees, 1);
  CHECK_EQ(c.frees, 1);
  STEP_UNTIL(h, l.n >= 6, 1000);
  CHECK_EQ(l.n, 6);
  for (i = 3; i < 6 && i < l.n; i++) {
    CHECK_STR(l.names[i], "stopped");
    CHECK_STR(l.last[i], "shutdown");
  }
  CHECK_STR(l.first[3], "c");
  CHECK_EQ(l.pids[3], c.pid);
  CHECK_STR(l.first[5], "a");
  tr_host_free(h);
  CHECK_EQ(a.frees, 1);
}

static void test_host_shutdown_stops_children_and_frees_args(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  kid a = {.letter = 'a'}, b = {.letter = 'b'};
  tr_child_spec cs[2];
  events_reset();
  cs[0] = kid_spec("a", &a, TR_PERMANENT);
  cs[1] = kid_spec("b", &b, TR_PERMANENT);
  supervise(h, TR_ONE_FOR_ALL, cs, 2, 0);
  tr_host_free(h);
  CHECK_STR(events, "+a+b-b-a");
  CHECK_EQ(a.starts, 1);
  CHECK_EQ(b.starts, 1);
  CHECK_EQ(a.frees, 1);
  CHECK_EQ(b.frees, 1);
}

static void test_name_retaken_by_replacement(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  kid a = {.letter = 'a'};
  tr_child_spec cs[1];
  tr_pid old;
  cs[0] = kid_spec("a", &a, TR_PERMANENT);
  supervise(h, TR_ONE_FOR_ONE, cs, 1, 0);
  old = a.pid;
  CHECK_EQ(tr_whereis(h, "a"), old);
  CHECK_EQ(tr_send_named(h, 0, "a", tr_msg_new("crash")), TR_OK);
  STEP_UNTIL(h, a.starts == 2, 1000);
  CHECK_EQ(a.starts, 2);
  CHECK(a.pid != old);
  CHECK(!tr_alive(h, old));
  CHECK_EQ(tr_whereis(h, "a"), a.pid);
  CHECK_STR(tr_actor_name(h, a.pid), "a");
  tr_host_free(h);
}

static void test_one_for_one(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  notes l = {0};
  tr_pid lp = spawn_rec(h, &l, 0), oldb;
  kid a = {.letter = 'a'}, b = {.letter = 'b'}, c = {.letter = 'c'};
  tr_child_spec cs[3];
  int i;
  events_reset();
  cs[0] = kid_spec("a", &a, TR_PERMANENT);
  cs[1] = kid_spec("b", &b, TR_PERMANENT);
  cs[2] = kid_spec("c", &c, TR_PERMANENT);
  supervise(h, TR_ONE_FOR_ONE, cs, 3, lp);
  oldb = b.pid;
  CHECK_EQ(send_to(h, b.pid, "crash"), TR_OK);
  STEP_UNTIL(h, b.starts == 2, 1000);
  CHECK_STR(events, "+a+b+c-b+b");
  CHECK_EQ(a.starts, 1);
  CHECK_EQ(c.starts, 1);
  CHECK_STR(b.reason, "crash");
  /* The listener: stopped(b, old pid, "crash"), then started(b, new). */
  STEP_UNTIL(h, l.n >= 5, 1000);
  CHECK_EQ(l.n, 5);
  i = find_note(&l, 3, "stopped", "b");
  CHECK_EQ(i, 3);
  if (i >= 0) {
    CHECK_EQ(l.pids[i], oldb);
    CHECK_STR(l.last[i], "crash");
  }
  i = find_note(&l, 3, "started", "b");
  CHECK_EQ(i, 4);
  if (i >= 0)
    CHECK_EQ(l.pids[i], b.pid);
  tr_host_free(h);
}

static void test_one_for_all(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  kid a = {.letter = 'a'}, b = {.letter = 'b'}, c = {.letter = 'c'};
  tr_child_spec cs[3];
  tr_pid olda, oldc;
  events_reset();
  cs[0] = kid_spec("a", &a, TR_PERMANENT);
  cs[1] = kid_spec("b", &b, TR_PERMANENT);
  cs[2] = kid_spec("c", &c, TR_PERMANENT);
  supervise(h, TR_ONE_FOR_ALL, cs, 3, 0);
  olda = a.pid;
  oldc = c.pid;
  CHECK_EQ(send_to(h, b.pid, "crash"), TR_OK);
  STEP_UNTIL(h, c.starts == 2, 1000);
  /* b crashed; the others stop newest first, then all start in order. */
  CHECK_STR(events, "+a+b+c-b-c-a+a+b+c");
  CHECK_EQ(a.starts, 2);
  CHECK_EQ(b.starts, 2);
  CHECK_EQ(c.starts, 2);
  CHECK(!tr_alive(h, olda) && !tr_alive(h, oldc));
  CHECK_STR(a.reason, "restart");
  CHECK_EQ(tr_whereis(h, "a"), a.pid);
  CHECK_EQ(tr_whereis(h, "c"), c.pid);
  tr_host_free(h);
}

/* Two children end in the same turn (as a store and a writer linked to
 * each other would): the supervisor restarts the group and lives on,
 * however the second exit message finds the group already restarted. */
static void test_one_for_all_two_crash_at_once(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  kid a = {.letter = 'a'}, b = {.letter = 'b'};
  tr_child_spec cs[2];
  tr_pid sup;
  events_reset();
  cs[0] = kid_spec("a", &a, TR_PERMANENT);
  cs[1] = kid_spec("b", &b, TR_PERMANENT);
  sup = supervise(h, TR_ONE_FOR_ALL, cs, 2, 0);
  CHECK_EQ(send_to(h, a.pid, "crash"), TR_OK);
  CHECK_EQ(send_to(h, b.pid, "crash"), TR_OK);
  STEP_UNTIL(h, b.starts == 2, 1000);
  step_for(h, 50);
  CHECK(tr_alive(h, sup));
  CHECK_EQ(a.starts, 2);
  CHECK_EQ(b.starts, 2);
  CHECK(tr_alive(h, a.pid) && tr_alive(h, b.pid));
  CHECK_EQ(tr_whereis(h, "a"), a.pid);
  CHECK_EQ(tr_whereis(h, "b"), b.pid);
  tr_host_free(h);
}

static void test_rest_for_one(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  kid a = {.letter = 'a'}, b = {.letter = 'b'}, c = {.letter = 'c'},
      d = {.letter = 'd'};
  tr_child_spec cs[4];
  tr_pid olda;
  events_reset();
  cs[0] = kid_spec("a", &a, TR_PERMANENT);
  cs[1] = kid_spec("b", &b, TR_PERMANENT);
  cs[2] = kid_spec("c", &c, TR_PERMANENT);
  cs[3] = kid_spec("d", &d, TR_PERMANENT);
  supervise(h, TR_REST_FOR_ONE, cs, 4, 0);
  olda = a.pid;
  CHECK_EQ(send_to(h, b.pid, "crash"), TR_OK);
  STEP_UNTIL(h, d.starts == 2, 1000);
  CHECK_STR(events, "+a+b+c+d-b-d-c+b+c+d");
  CHECK_EQ(a.starts, 1);
  CHECK_EQ(a.pid, olda);
  CHECK(tr_alive(h, olda));
  CHECK_EQ(b.starts, 2);
  CHECK_EQ(c.starts, 2);
  CHECK_EQ(d.starts, 2);
  /* The last one crashing takes nobody along. */
  CHECK_EQ(send_to(h, d.pid, "crash"), TR_OK);
  STEP_UNTIL(h, d.starts == 3, 1000);
  CHECK_STR(events, "+a+b+c+d-b-d-c+b+c+d-d+d");
  tr_host_free(h);
}

static void test_restart_policies(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  notes l = {0};
  tr_pid lp = spawn_rec(h, &l, 0), sup;
  kid p = {.letter = 'p'}, t = {.letter = 't'}, x = {.letter = 'x'};
  tr_child_spec cs[3];
  tr_msg *reply = NULL;
  tr_pid pids[3];
  events_reset();
  cs[0] = kid_spec("p", &p, TR_PERMANENT);
  cs[1] = kid_spec("t", &t, TR_TRANSIENT);
  cs[2] = kid_spec("x", &x, TR_TEMPORARY);
  sup = supervise(h, TR_ONE_FOR_ONE, cs, 3, lp);

  /* permanent: back even after a normal end. */
  CHECK_EQ(send_to(h, p.pid, "quit"), TR_OK);
  STEP_UNTIL(h, p.starts == 2, 1000);
  CHECK_EQ(p.starts, 2);
  CHECK_STR(p.reason, "normal");

  /* transient: a crash brings it back, a normal end does not. */
  CHECK_EQ(send_to(h, t.pid, "crash"), TR_OK);
  STEP_UNTIL(h, t.starts == 2, 1000);
  CHECK_EQ(t.starts, 2);
  CHECK_EQ(send_to(h, t.pid, "quit"), TR_OK);
  STEP_UNTIL(h, count_notes(&l, "stopped", "t") == 2, 1000);
  step_for(h, 30);
  CHECK_EQ(t.starts, 2);
  CHECK_EQ(tr_whereis(h, "t"), 0);

  /* temporary: not even a crash brings it back. */
  CHECK_EQ(send_to(h, x.pid, "crash"), TR_OK);
  STEP_UNTIL(h, find_note(&l, 0, "stopped", "x") >= 0, 1000);
  step_for(h, 30);
  CHECK_EQ(x.starts, 1);
  CHECK_STR(x.reason, "crash");
  CHECK_EQ(tr_whereis(h, "x"), 0);

  /* children() says who runs: pid 0 for the two that stay down. */
  CHECK_EQ(tr_host_call(h, sup, tr_msg_new("children"), 1000, &reply), TR_OK);
  CHECK(reply != NULL);
  if (reply) {
    CHECK_EQ(tr_msg_kind(reply), TR_KIND_REPLY);
    CHECK_EQ(tr_msg_argc(reply), 6);
    CHECK_EQ(tr_msg_unpack(reply, "spspsp", NULL, NULL, &pids[0], NULL, NULL,
                           &pids[1], NULL, NULL, &pids[2]),
             TR_OK);
    CHECK_EQ(pids[0], p.pid);
    CHECK_EQ(pids[1], 0);
    CHECK_EQ(pids[2], 0);
    tr_msg_free(reply);
  }
  tr_host_free(h);
  CHECK_EQ(p.frees + t.frees + x.frees, 3);
}

/* Each instance ends in its init: the supervisor restarts it `intensity`
 * times, then gives up -- starts = intensity + 1 -- and ends with "restart
 * intensity exceeded", which a monitor and a trapping linked actor see. */
static void test_intensity_crash_on_start(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  notes watch = {0}, linked = {0}, l = {0};
  tr_pid wp = spawn_rec(h, &watch, 0), lkp = spawn_rec(h, &linked, 1);
  tr_pid lp = spawn_rec(h, &l, 0), sup = 0;
  kid a = {.letter = 'a'}, ok = {.letter = 'o'};
  tr_child_spec cs[2];
  tr_sup_spec spec;
  uint64_t ref;
  events_reset();
  a.crash_init = 1;
  cs[0] = kid_spec("o", &ok, TR_PERMANENT);
  cs[1] = kid_spec("a", &a, TR_PERMANENT);
  memset(&spec, 0, sizeof spec);
  spec.strategy = TR_ONE_FOR_ONE;
  spec.intensity = 3;
  spec.period_ms = 60000;
  spec.children = cs;
  spec.nchildren = 2;
  spec.listener = lp;
  CHECK_EQ(tr_sup_start(h, &spec, NULL, &sup), TR_OK);
  CHECK_EQ(tr_monitor(h, wp, sup, &ref), TR_OK);
  CHECK(ref != 0);
  CHECK_EQ(tr_link(h, lkp, sup), TR_OK);
  STEP_UNTIL(h, watch.n >= 1, 2000);
  CHECK_EQ(watch.n, 1);
  CHECK_EQ(watch.kinds[0], TR_KIND_DOWN);
  CHECK_EQ(watch.pids[0], sup);
  CHECK_STR(watch.last[0], "restart intensity exceeded");
  STEP_UNTIL(h, linked.n >= 1, 1000);
  CHECK_EQ(linked.n, 1);
  CHECK_EQ(linked.kinds[0], TR_KIND_EXIT);
  CHECK_STR(linked.last[0], "restart intensity exceeded");
  /* The storm stopped: 1 start + 3 restarts, and no more. */
  CHECK_EQ(a.starts, 4);
  step_for(h, 50);
  CHECK_EQ(a.starts, 4);
  CHECK_EQ(a.attempts, 4);
  CHECK(!tr_alive(h, sup));
  /* The healthy sibling was stopped when the supervisor gave up. */
  CHECK(!tr_alive(h, ok.pid));
  CHECK_STR(ok.reason, "shutdown");
  CHECK_EQ(ok.starts, 1);
  CHECK_EQ(tr_whereis(h, "o"), 0);
  CHECK_EQ(a.frees, 1);
  CHECK_EQ(ok.frees, 1);
  STEP_UNTIL(h, find_note(&l, 0, "stopped", "o") >= 0, 1000);
  CHECK(find_note(&l, 0, "stopped", "o") >= 0);
  CHECK(lines > 0); /* it said why in the log */
  tr_host_free(h);
}

/* Each instance crashes right after it starts (not in init). */
static void test_intensity_crash_right_away(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  notes watch = {0};
  tr_pid wp = spawn_rec(h, &watch, 0), sup = 0;
  kid a = {.letter = 'a'};
  tr_child_spec cs[1];
  tr_sup_spec spec;
  a.crash_soon = 1;
  cs[0] = kid_spec("a", &a, TR_TRANSIENT);
  memset(&spec, 0, sizeof spec);
  spec.strategy = TR_ONE_FOR_ALL;
  spec.intensity = 5;
  spec.children = cs;
  spec.nchildren = 1;
  CHECK_EQ(tr_sup_start(h, &spec, NULL, &sup), TR_OK);
  CHECK_EQ(tr_monitor(h, wp, sup, NULL), TR_OK);
  STEP_UNTIL(h, watch.n >= 1, 2000);
  CHECK_EQ(watch.n, 1);
  CHECK_STR(watch.last[0], "restart intensity exceeded");
  step_for(h, 30);
  CHECK_EQ(a.starts, 6);
  CHECK_STR(a.reason, "crash soon");
  CHECK_EQ(a.frees, 1);
  tr_host_free(h);
}

/* Starts that fail after the first: each failure counts as a restart. */
static void test_intensity_failing_restarts(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  notes watch = {0};
  tr_pid wp = spawn_rec(h, &watch, 0), sup = 0;
  kid a = {.letter = 'a'};
  tr_child_spec cs[1];
  tr_sup_spec spec;
  a.fail_from = 2;
  cs[0] = kid_spec("a", &a, TR_PERMANENT);
  memset(&spec, 0, sizeof spec);
  spec.strategy = TR_ONE_FOR_ONE;
  spec.intensity = 3;
  spec.children = cs;
  spec.nchildren = 1;
  CHECK_EQ(tr_sup_start(h, &spec, NULL, &sup), TR_OK);
  CHECK_EQ(tr_monitor(h, wp, sup, NULL), TR_OK);
  CHECK_EQ(send_to(h, a.pid, "crash"), TR_OK);
  STEP_UNTIL(h, watch.n >= 1, 2000);
  CHECK_EQ(watch.n, 1);
  CHECK_STR(watch.last[0], "restart intensity exceeded");
  step_for(h, 30);
  CHECK_EQ(a.starts, 1);
  CHECK_EQ(a.attempts, 4); /* the first start, then 3 failed restarts */
  CHECK_EQ(a.frees, 1);
  tr_host_free(h);
}

/* Restarts farther apart than the period are allowed for ever. */
static void test_intensity_spread_out(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  kid a = {.letter = 'a'};
  tr_child_spec cs[1];
  tr_sup_spec spec;
  tr_pid sup = 0;
  int i;
  cs[0] = kid_spec("a", &a, TR_PERMANENT);
  memset(&spec, 0, sizeof spec);
  spec.strategy = TR_ONE_FOR_ONE;
  spec.intensity = 2;
  spec.period_ms = 150;
  spec.children = cs;
  spec.nchildren = 1;
  CHECK_EQ(tr_sup_start(h, &spec, NULL, &sup), TR_OK);
  for (i = 0; i < 5; i++) {
    int before = a.starts;
    /* wait until the last restart is older than the period */
    STEP_UNTIL(h, loop_now(h) > a.started_at + 160, 2000);
    CHECK_EQ(send_to(h, a.pid, "crash"), TR_OK);
    STEP_UNTIL(h, a.starts > before, 1000);
  }
  CHECK(tr_alive(h, sup));
  CHECK_EQ(a.starts, 6);
  /* Two more crashes in quick succession: with the last spread-out
   * restart that makes three within the period, one too many. */
  CHECK_EQ(send_to(h, a.pid, "crash"), TR_OK);
  STEP_UNTIL(h, a.starts == 7, 1000);
  CHECK_EQ(a.starts, 7);
  CHECK(tr_alive(h, sup));
  CHECK_EQ(send_to(h, a.pid, "crash"), TR_OK);
  STEP_UNTIL(h, !tr_alive(h, sup), 1000);
  CHECK(!tr_alive(h, sup));
  CHECK_EQ(a.starts, 7);
  tr_host_free(h);
}

/* A child stuck in a loop (yields for ever, mail waiting) is restarted
 * once it has been quiet past its cutoff: not before, and not much
 * after. */
static void test_heartbeat_restarts_stuck_child(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  notes l = {0};
  tr_pid lp = spawn_rec(h, &l, 0), old;
  kid a = {.letter = 'a'}, b = {.letter = 'b'};
  tr_child_spec cs[2];
  uint64_t stuck_at, t0;
  int i;
  cs[0] = kid_spec("a", &a, TR_PERMANENT);
  cs[0].heartbeat_ms = 20;
  cs[0].cutoff_ms = 150;
  cs[1] = kid_spec("b", &b, TR_PERMANENT);
  cs[1].cutoff_ms = 0; /* the defaults: 200 / 500 */
  supervise(h, TR_ONE_FOR_ONE, cs, 2, lp);
  old = a.pid;
  CHECK_EQ(send_to(h, a.pid, "spin"), TR_OK);
  CHECK_EQ(send_to(h, a.pid, "work"), TR_OK); /* never taken */
  t0 = uv_hrtime();
  STEP_UNTIL(h, a.starts == 2, 5000);
  CHECK_EQ(a.starts, 2);
  CHECK(!tr_alive(h, old));
  stuck_at = a.took_at; /* when the stuck instance took "spin" */
  CHECK(a.started_at - stuck_at >= 150);
  CHECK(uv_hrtime() - t0 < 5000000000u);
  CHECK_STR(a.reason, "heartbeat timeout");
  CHECK_EQ(b.starts, 1); /* one_for_one: b untouched */
  STEP_UNTIL(h, count_notes(&l, "started", "a") == 2, 1000);
  i = find_note(&l, 0, "stopped", "a");
  CHECK(i >= 0);
  if (i >= 0) {
    CHECK_EQ(l.pids[i], old);
    CHECK_STR(l.last[i], "heartbeat timeout");
  }
  /* The new instance is healthy and stays. */
  step_for(h, 200);
  CHECK_EQ(a.starts, 2);
  tr_host_free(h);
}

/* A child that is busy but keeps taking messages -- a flood longer than
 * its cutoff -- is never restarted. */
static void test_heartbeat_spares_busy_child(void) {
  int lines = 0;
  tr_host *h = short_turn_host(&lines);
  kid a = {.letter = 'a'};
  tr_child_spec cs[1];
  uint64_t end;
  int checks = 0, busy = 0, refused = 0;
  cs[0] = kid_spec("a", &a, TR_PERMANENT);
  cs[0].heartbeat_ms = 10;
  cs[0].cutoff_ms = 150;
  supervise(h, TR_ONE_FOR_ONE, cs, 1, 0);
  uv_update_time(tr_host_loop(h));
  end = loop_now(h) + 500;
  while (loop_now(h) < end && a.starts == 1) {
    int i;
    if (tr_mailbox_count(h, a.pid) < 200)
      for (i = 0; i < 300; i++)
        refused += send_to(h, a.pid, "work") != TR_OK;
    tr_host_step(h);
    checks++;
    busy += tr_mailbox_count(h, a.pid) > 0;
  }
  CHECK_EQ(a.starts, 1);
  CHECK(tr_alive(h, a.pid));
  CHECK(a.handled > 1000);
  CHECK_EQ(busy, checks); /* it had mail all along */
  CHECK_EQ(refused, 0);
  tr_host_free(h);
}

/* Long work between messages is fine as long as it beats: a child that
 * yields for 3x its cutoff, calling tr_heartbeat, with mail waiting. */
static void test_heartbeat_spares_beating_child(void) {
  int lines = 0;
  tr_host *h = short_turn_host(&lines);
  kid a = {.letter = 'a'};
  tr_child_spec cs[1];
  cs[0] = kid_spec("a", &a, TR_PERMANENT);
  cs[0].heartbeat_ms = 10;
  cs[0].cutoff_ms = 100;
  supervise(h, TR_ONE_FOR_ONE, cs, 1, 0);
  CHECK_EQ(tr_send(h, 0, a.pid, tr_msg_pack("grind", "i", 300)), TR_OK);
  CHECK_EQ(send_to(h, a.pid, "work"), TR_OK);
  STEP_UNTIL(h, a.handled == 2, 3000);
  CHECK_EQ(a.handled, 2);
  CHECK_EQ(a.starts, 1);
  tr_host_free(h);
}

/* An idle child waits for mail as long as it likes. */
static void test_heartbeat_spares_idle_child(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  kid a = {.letter = 'a'};
  tr_child_spec cs[1];
  cs[0] = kid_spec("a", &a, TR_PERMANENT);
  cs[0].heartbeat_ms = 10;
  cs[0].cutoff_ms = 30;
  supervise(h, TR_ONE_FOR_ONE, cs, 1, 0);
  step_for(h, 300);
  CHECK_EQ(a.starts, 1);
  CHECK(tr_alive(h, a.pid));
  tr_host_free(h);
}

/* The supervisor's ticks are not user mail: a full mailbox when one is
 * due does not drop it (and end heartbeat checks for good), and "tick"
 * messages from anyone else start no extra ticks. */
static void test_heartbeat_ticks_are_its_own(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  kid a = {.letter = 'a'};
  tr_child_spec cs[1];
  tr_sup_spec spec;
  tr_spawn_opts o = {0};
  tr_host_stats st;
  tr_pid sup = 0;
  uint64_t until;
  int i;
  cs[0] = kid_spec("a", &a, TR_PERMANENT);
  cs[0].heartbeat_ms = 10;
  cs[0].cutoff_ms = 40;
  memset(&spec, 0, sizeof spec);
  spec.children = cs;
  spec.nchildren = 1;
  o.capacity = 4;
  CHECK_EQ(tr_sup_start(h, &spec, &o, &sup), TR_OK);
  /* Fill its mailbox and let the first tick fall due before the loop
   * runs again: the timer fires first in the next step, mailbox full. */
  for (i = 0; i < 4; i++)
    CHECK_EQ(send_to(h, sup, "junk"), TR_OK);
  CHECK_EQ(tr_mailbox_room(h, sup), 0);
  until = uv_hrtime() + 30000000u;
  while (uv_hrtime() < until)
    ; /* the loop is not run: time passes for its timers */
  CHECK_EQ(send_to(h, a.pid, "spin"), TR_OK);
  CHECK_EQ(send_to(h, a.pid, "work"), TR_OK);
  STEP_UNTIL(h, a.starts == 2, 3000);
  CHECK_EQ(a.starts, 2);

  /* Fake ticks change nothing. */
  for (i = 0; i < 4; i++)
    CHECK_EQ(send_to(h, sup, "tick"), TR_OK);
  step_for(h, 30);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.timers, 1); /* one tick pending, as before */
  tr_host_free(h);
}

static void test_restart_call(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  notes l = {0};
  tr_pid lp = spawn_rec(h, &l, 0), sup, old;
  kid a = {.letter = 'a'}, b = {.letter = 'b'};
  tr_child_spec cs[2];
  tr_msg *reply = NULL;
  const char *s;
  size_t len;
  int i;
  events_reset();
  cs[0] = kid_spec("a", &a, TR_PERMANENT);
  cs[1] = kid_spec("b", &b, TR_TEMPORARY);
  sup = supervise(h, TR_ONE_FOR_ONE, cs, 2, lp);
  old = a.pid;
  CHECK_EQ(tr_host_call(h, sup, tr_msg_pack("restart", "s", "a"), 1000, &reply),
           TR_OK);
  CHECK(reply && tr_msg_is(reply, "reply"));
  CHECK(reply && tr_msg_unpack(reply, "s", &s, &len) == TR_OK && len == 2 &&
        !memcmp(s, "ok", 2));
  tr_msg_free(reply);
  CHECK_EQ(a.starts, 2);
  CHECK(!tr_alive(h, old));
  CHECK_EQ(tr_whereis(h, "a"), a.pid);
  CHECK_STR(a.reason, "reset");
  CHECK_STR(events, "+a+b-a+a");
  STEP_UNTIL(h, find_note(&l, 0, "stopped", "a") >= 0, 1000);
  i = find_note(&l, 0, "stopped", "a");
  CHECK(i >= 0);
  if (i >= 0)
    CHECK_STR(l.last[i], "reset");

  /* A temporary child comes back when asked, even after it ended. */
  CHECK_EQ(send_to(h, b.pid, "crash"), TR_OK);
  STEP_UNTIL(h, !tr_alive(h, b.pid), 1000);
  CHECK_EQ(tr_host_call(h, sup, tr_msg_pack("restart", "s", "b"), 1000, &reply),
           TR_OK);
  CHECK(reply && tr_msg_is(reply, "reply"));
  tr_msg_free(reply);
  CHECK_EQ(b.starts, 2);
  CHECK(tr_alive(h, b.pid));

  /* Asked-for restarts do not count towards the intensity. */
  for (i = 0; i < 10; i++) {
    reply = NULL;
    CHECK_EQ(
        tr_host_call(h, sup, tr_msg_pack("restart", "s", "a"), 1000, &reply),
        TR_OK);
    tr_msg_free(reply);
  }
  CHECK(tr_alive(h, sup));
  CHECK_EQ(a.starts, 12);

  /* An unknown child, an unknown request: error replies. */
  reply = NULL;
  CHECK_EQ(
      tr_host_call(h, sup, tr_msg_pack("restart", "s", "zz"), 1000, &reply),
      TR_EREPLY);
  CHECK(reply && tr_msg_is(reply, "error"));
  tr_msg_free(reply);
  reply = NULL;
  CHECK_EQ(tr_host_call(h, sup, tr_msg_new("frobnicate"), 1000, &reply),
           TR_EREPLY);
  CHECK(reply && tr_msg_is(reply, "error"));
  tr_msg_free(reply);
  reply = NULL;
  CHECK_EQ(tr_host_call(h, sup, tr_msg_new("restart"), 1000, &reply),
           TR_EREPLY);
  CHECK(reply && tr_msg_is(reply, "error"));
  tr_msg_free(reply);
  CHECK(tr_alive(h, sup));
  tr_host_free(h);
}

/* A restart asked for that cannot start the child: the supervisor gives
 * up, and the call is not answered "ok". */
static void test_restart_call_that_fails(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  kid a = {.letter = 'a'};
  tr_child_spec cs[1];
  tr_msg *reply = NULL;
  tr_pid sup;
  int rc;
  a.fail_from = 2;
  cs[0] = kid_spec("a", &a, TR_PERMANENT);
  sup = supervise(h, TR_ONE_FOR_ONE, cs, 1, 0);
  rc = tr_host_call(h, sup, tr_msg_pack("restart", "s", "a"), 1000, &reply);
  CHECK_EQ(rc, TR_EREPLY);
  CHECK(reply && tr_msg_is(reply, "error"));
  tr_msg_free(reply);
  STEP_UNTIL(h, !tr_alive(h, sup), 1000);
  CHECK(!tr_alive(h, sup));
  /* the first start, the asked-for one (not counted, but its failure is),
   * then 3 counted ones */
  CHECK_EQ(a.attempts, 5);
  tr_host_free(h);
}

static void test_children_call(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  kid a = {.letter = 'a'}, b = {.letter = 'b'};
  tr_child_spec cs[2];
  tr_msg *reply = NULL;
  tr_pid sup, pa = 0, pb = 0;
  const char *na, *nb;
  size_t la, lb;
  cs[0] = kid_spec("alpha", &a, TR_PERMANENT);
  cs[1] = kid_spec("beta", &b, TR_PERMANENT);
  sup = supervise(h, TR_REST_FOR_ONE, cs, 2, 0);
  CHECK_EQ(tr_host_call(h, sup, tr_msg_new("children"), 1000, &reply), TR_OK);
  CHECK(reply != NULL);
  if (reply) {
    CHECK(tr_msg_is(reply, "reply"));
    CHECK_EQ(tr_msg_argc(reply), 4);
    CHECK_EQ(tr_msg_unpack(reply, "spsp", &na, &la, &pa, &nb, &lb, &pb), TR_OK);
    CHECK(la == 5 && !memcmp(na, "alpha", 5));
    CHECK(lb == 4 && !memcmp(nb, "beta", 4));
    CHECK_EQ(pa, a.pid);
    CHECK_EQ(pb, b.pid);
    CHECK_EQ(pa, tr_whereis(h, "alpha"));
    tr_msg_free(reply);
  }
  tr_host_free(h);
}

/* A child that cannot start fails tr_sup_start with TR_EINIT; those
 * started before it are stopped, newest first; every arg is freed once
 * (the supervisor had taken them over). */
static void test_start_failure_fails_supervise(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  notes l = {0};
  tr_pid lp = spawn_rec(h, &l, 0), sup = 0x55;
  kid a = {.letter = 'a'}, b = {.letter = 'b'}, c = {.letter = 'c'},
      d = {.letter = 'd'};
  tr_child_spec cs[4];
  tr_sup_spec spec;
  tr_host_stats st;
  events_reset();
  c.fail_from = 1;
  cs[0] = kid_spec("a", &a, TR_PERMANENT);
  cs[1] = kid_spec("b", &b, TR_PERMANENT);
  cs[2] = kid_spec("c", &c, TR_PERMANENT);
  cs[3] = kid_spec("d", &d, TR_PERMANENT);
  memset(&spec, 0, sizeof spec);
  spec.children = cs;
  spec.nchildren = 4;
  spec.listener = lp;
  tr_host_get_stats(h, &st);
  CHECK_EQ(tr_sup_start(h, &spec, NULL, &sup), TR_EINIT);
  CHECK_EQ(sup, 0);
  CHECK_STR(events, "+a+b-b-a");
  CHECK_EQ(c.attempts, 1);
  CHECK_EQ(d.attempts, 0);
  CHECK(!tr_alive(h, a.pid) && !tr_alive(h, b.pid));
  CHECK_EQ(tr_whereis(h, "a"), 0);
  CHECK_EQ(tr_whereis(h, "b"), 0);
  STEP_UNTIL(h, count_notes(&l, "stopped", NULL) == 2, 1000);
  CHECK_EQ(count_notes(&l, "started", NULL), 2);
  CHECK_EQ(count_notes(&l, "stopped", NULL), 2);
  CHECK_EQ(a.frees + b.frees + c.frees + d.frees, 4);
  CHECK_EQ(a.frees, 1);
  CHECK_EQ(d.frees, 1);
  {
    tr_host_stats now;
    step_for(h, 20);
    tr_host_get_stats(h, &now);
    CHECK_EQ(now.actors, st.actors); /* nothing left running */
  }
  tr_host_free(h);
  CHECK_EQ(a.frees, 1);
}

static int never_start(tr_host *h, void *arg, tr_pid *out) {
  (void)h, (void)arg, (void)out;
  return TR_EINIT;
}

static void test_bad_specs(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  kid a = {.letter = 'a'}, b = {.letter = 'b'};
  tr_child_spec cs[2];
  tr_sup_spec spec;
  tr_pid sup = 0;
  tr_host_stats st;
  tr_host_get_stats(h, &st);
  cs[0] = kid_spec("a", &a, TR_PERMANENT);
  cs[1] = kid_spec("b", &b, TR_PERMANENT);
  memset(&spec, 0, sizeof spec);
  spec.children = cs;
  spec.nchildren = 2;

  CHECK_EQ(tr_sup_start(h, NULL, NULL, &sup), TR_EINVAL);
  spec.strategy = 3;
  CHECK_EQ(tr_sup_start(h, &spec, NULL, &sup), TR_EINVAL);
  spec.strategy = -1;
  CHECK_EQ(tr_sup_start(h, &spec, NULL, &sup), TR_EINVAL);
  spec.strategy = TR_ONE_FOR_ONE;
  spec.children = NULL;
  CHECK_EQ(tr_sup_start(h, &spec, NULL, &sup), TR_EINVAL);
  spec.children = cs;
  cs[1].name = NULL;
  CHECK_EQ(tr_sup_start(h, &spec, NULL, &sup), TR_EINVAL);
  cs[1].name = "";
  CHECK_EQ(tr_sup_start(h, &spec, NULL, &sup), TR_EINVAL);
  cs[1].name = "a"; /* two children, one name */
  CHECK_EQ(tr_sup_start(h, &spec, NULL, &sup), TR_EINVAL);
  cs[1].name = "b";
  cs[1].start = NULL;
  CHECK_EQ(tr_sup_start(h, &spec, NULL, &sup), TR_EINVAL);
  cs[1].start = kid_start;
  cs[1].restart = 3;
  CHECK_EQ(tr_sup_start(h, &spec, NULL, &sup), TR_EINVAL);
  cs[1].restart = -1;
  CHECK_EQ(tr_sup_start(h, &spec, NULL, &sup), TR_EINVAL);
  cs[1].restart = TR_TRANSIENT;
  /* Nothing started, nothing freed: the args are still the caller's. */
  CHECK_EQ(a.attempts + b.attempts, 0);
  CHECK_EQ(a.frees + b.frees, 0);
  CHECK_EQ(sup, 0);

  /* A supervisor with no children is allowed, and idle. */
  spec.nchildren = 0;
  CHECK_EQ(tr_sup_start(h, &spec, NULL, &sup), TR_OK);
  CHECK(tr_alive(h, sup));
  CHECK_EQ(tr_kill(h, sup, "shutdown"), TR_OK);

  /* A first child that cannot start: TR_EINIT, and the args are freed. */
  spec.nchildren = 2;
  cs[0].start = never_start;
  CHECK_EQ(tr_sup_start(h, &spec, NULL, &sup), TR_EINIT);
  CHECK_EQ(a.frees + b.frees, 2);
  tr_host_free(h);
}

/* The supervisor's parent (opts.link) ending abnormally ends it, and so
 * its children; nobody else's exit does. */
static void test_parent_link(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  notes pn = {0};
  tr_pid parent = spawn_rec(h, &pn, 1), sup = 0;
  kid a = {.letter = 'a'};
  tr_child_spec cs[1];
  tr_sup_spec spec;
  tr_spawn_opts o = {0};
  events_reset();
  cs[0] = kid_spec("a", &a, TR_PERMANENT);
  memset(&spec, 0, sizeof spec);
  spec.children = cs;
  spec.nchildren = 1;
  o.link = parent;
  o.name = "sup";
  CHECK_EQ(tr_sup_start(h, &spec, &o, &sup), TR_OK);
  CHECK_EQ(tr_whereis(h, "sup"), sup);
  /* Anyone else linked to it may die: that is their business (as in OTP,
   * only the parent's exit ends a supervisor). */
  {
    notes on = {0};
    tr_pid other = spawn_rec(h, &on, 0);
    CHECK_EQ(tr_link(h, other, sup), TR_OK);
    CHECK_EQ(tr_kill(h, other, "boom"), TR_OK);
    step_for(h, 20);
    CHECK(tr_alive(h, sup));
    CHECK(tr_alive(h, a.pid));
  }
  CHECK_EQ(tr_kill(h, parent, "boom"), TR_OK);
  STEP_UNTIL(h, !tr_alive(h, sup), 1000);
  CHECK(!tr_alive(h, sup));
  CHECK(!tr_alive(h, a.pid));
  CHECK_STR(events, "+a-a");
  CHECK_EQ(a.frees, 1);
  tr_host_free(h);
}

int main(void) {
  RUN(test_start_in_order_stop_in_reverse);
  RUN(test_host_shutdown_stops_children_and_frees_args);
  RUN(test_name_retaken_by_replacement);
  RUN(test_one_for_one);
  RUN(test_one_for_all);
  RUN(test_one_for_all_two_crash_at_once);
  RUN(test_rest_for_one);
  RUN(test_restart_policies);
  RUN(test_intensity_crash_on_start);
  RUN(test_intensity_crash_right_away);
  RUN(test_intensity_failing_restarts);
  RUN(test_intensity_spread_out);
  RUN(test_heartbeat_restarts_stuck_child);
  RUN(test_heartbeat_spares_busy_child);
  RUN(test_heartbeat_spares_beating_child);
  RUN(test_heartbeat_spares_idle_child);
  RUN(test_heartbeat_ticks_are_its_own);
  RUN(test_restart_call);
  RUN(test_restart_call_that_fails);
  RUN(test_children_call);
  RUN(test_start_failure_fails_supervise);
  RUN(test_bad_specs);
  RUN(test_parent_link);
  return test_report();
}
