/*
 * test_monitor.c -- death as a message: monitors get down(ref, pid,
 * reason); links pass abnormal ends on (and normal ones not), unless the
 * survivor traps exits; a chain of a thousand links dies from one kill
 * without deep recursion; tr_demonitor and tr_unlink undo.
 */
#include <stdint.h>
#include <stdlib.h>

#include "test.h"

/* ------------------------------------------------------------ helpers */

#define MAX_NOTES 16

/* What one actor saw and how it ended. */
typedef struct notes {
  int n, ended;
  int kinds[MAX_NOTES];
  char names[MAX_NOTES][8];
  int64_t refs[MAX_NOTES]; /* down: the ref */
  tr_pid pids[MAX_NOTES];  /* down, exit: whose end */
  tr_pid from[MAX_NOTES];
  char reasons[MAX_NOTES][32];
  char end_reason[32];
} notes;

static int watcher_init(tr_actor *self, void *state, tr_msg *args) {
  (void)args;
  *(notes **)state = tr_actor_ctx(self);
  return 0;
}

/* Records down and exit messages; "exit"(reason) ends with that reason,
 * "stop" returns TR_STOP. */
static int watcher_handle(tr_actor *self, void *state, tr_msg *m) {
  notes *w = *(notes **)state;
  const char *s;
  size_t len;
  int i = w->n;
  if (!m)
    return TR_CONTINUE;
  if (tr_msg_is(m, "stop"))
    return TR_STOP;
  if (tr_msg_is(m, "exit") && tr_msg_kind(m) == TR_KIND_SEND &&
      tr_msg_unpack(m, "s", &s, &len) == 0) {
    char reason[32];
    test_copy_str(reason, sizeof reason, s, len);
    tr_exit(self, reason);
    return TR_CONTINUE;
  }
  if (i == MAX_NOTES)
    return TR_CONTINUE;
  w->kinds[i] = tr_msg_kind(m);
  s = tr_msg_name(m, &len);
  test_copy_str(w->names[i], sizeof w->names[i], s, len);
  w->from[i] = tr_msg_from(m);
  w->reasons[i][0] = '\0';
  if (tr_msg_kind(m) == TR_KIND_DOWN) {
    CHECK_EQ(tr_msg_unpack(m, "Ips", &w->refs[i], &w->pids[i], &s, &len),
             TR_OK);
    test_copy_str(w->reasons[i], sizeof w->reasons[i], s, len);
  } else if (tr_msg_kind(m) == TR_KIND_EXIT) {
    CHECK_EQ(tr_msg_unpack(m, "ps", &w->pids[i], &s, &len), TR_OK);
    test_copy_str(w->reasons[i], sizeof w->reasons[i], s, len);
  }
  w->n++;
  return TR_CONTINUE;
}

static void watcher_terminate(tr_actor *self, void *state, const char *why) {
  notes *w = *(notes **)state;
  (void)self;
  w->ended++;
  snprintf(w->end_reason, sizeof w->end_reason, "%s", why);
}

static const tr_behaviour watcher_b = {"watcher", sizeof(notes *), watcher_init,
                                       watcher_handle, watcher_terminate};

static tr_pid spawn_opts(tr_host *h, notes *w, tr_pid link, int trap) {
  tr_spawn_opts o = {0};
  tr_pid pid = 0;
  o.link = link;
  o.trap_exit = trap;
  CHECK_EQ(test_spawn_ctx(h, &watcher_b, w, &o, &pid), TR_OK);
  return pid;
}

static tr_pid spawn_watcher(tr_host *h, notes *w) {
  return spawn_opts(h, w, 0, 0);
}

/* Steps h until w has n notes (deadline 1 s). */
static int wait_notes(tr_host *h, notes *w, int n) {
  uint64_t end = uv_hrtime() + 1000000000u;
  while (w->n < n && uv_hrtime() < end)
    if (tr_host_step(h) < 0)
      break;
  return w->n >= n;
}

static void settle(tr_host *h) {
  int i;
  for (i = 0; i < 20 && tr_host_step(h) > 0; i++)
    ;
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

/* -------------------------------------------------------------- tests */

static void test_monitor_down_on_kill_exit_and_stop(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  notes w = {0}, t1 = {0}, t2 = {0}, t3 = {0};
  tr_pid watcher = spawn_watcher(h, &w);
  tr_pid a = spawn_watcher(h, &t1), b = spawn_watcher(h, &t2),
         c = spawn_watcher(h, &t3);
  uint64_t ra, ra2, rb, rc;

  CHECK_EQ(tr_monitor(h, watcher, a, &ra), TR_OK);
  CHECK_EQ(tr_monitor(h, watcher, a, &ra2), TR_OK);
  CHECK_EQ(tr_monitor(h, watcher, b, &rb), TR_OK);
  CHECK_EQ(tr_monitor(h, watcher, c, &rc), TR_OK);
  CHECK(ra && ra2 && rb && rc && ra != ra2);
  CHECK_EQ(tr_kill(h, a, "bang"), TR_OK);
  CHECK(wait_notes(h, &w, 2));
  CHECK_EQ(w.kinds[0], TR_KIND_DOWN);
  CHECK_STR(w.names[0], "down");
  CHECK_EQ(w.refs[0], ra); /* each monitor its own message */
  CHECK_EQ(w.refs[1], ra2);
  CHECK_EQ(w.pids[0], a);
  CHECK_EQ(w.from[0], a);
  CHECK_STR(w.reasons[0], "bang");

  CHECK_EQ(tr_send(h, 0, b, tr_msg_pack("exit", "s", "bye")), TR_OK);
  CHECK(wait_notes(h, &w, 3));
  CHECK_EQ(w.refs[2], rb);
  CHECK_EQ(w.pids[2], b);
  CHECK_STR(w.reasons[2], "bye");

  CHECK_EQ(tr_send(h, 0, c, tr_msg_new("stop")), TR_OK);
  CHECK(wait_notes(h, &w, 4));
  CHECK_EQ(w.refs[3], rc);
  CHECK_STR(w.reasons[3], "normal");

  /* A monitor is one-way: the watcher's end tells nobody. */
  CHECK_EQ(t1.n + t2.n + t3.n, 0);
  tr_host_free(h);
}

static void test_monitor_a_dead_pid(void) {
  tr_host *h = tr_host_new(NULL);
  notes w = {0}, t = {0};
  tr_pid watcher = spawn_watcher(h, &w), dead = spawn_watcher(h, &t);
  uint64_t ref;

  CHECK_EQ(tr_kill(h, dead, "normal"), TR_OK);
  CHECK_EQ(tr_monitor(h, watcher, dead, &ref), TR_OK);
  CHECK(ref != 0);
  CHECK(wait_notes(h, &w, 1));
  CHECK_EQ(w.kinds[0], TR_KIND_DOWN);
  CHECK_EQ(w.refs[0], ref);
  CHECK_EQ(w.pids[0], dead);
  CHECK_STR(w.reasons[0], "noproc");
  CHECK_EQ(tr_demonitor(h, ref), TR_ENOPROC); /* already over */

  /* A dead watcher cannot watch. */
  ref = 1;
  CHECK_EQ(tr_monitor(h, dead, watcher, &ref), TR_ENOPROC);
  CHECK_EQ(ref, 0);
  CHECK_EQ(tr_monitor(NULL, watcher, dead, &ref), TR_EINVAL);
  tr_host_free(h);
}

static void test_demonitor(void) {
  tr_host *h = tr_host_new(NULL);
  notes w = {0}, t = {0}, u = {0};
  tr_pid watcher = spawn_watcher(h, &w), target = spawn_watcher(h, &t);
  tr_pid other = spawn_watcher(h, &u);
  uint64_t ref, kept;

  CHECK_EQ(tr_monitor(h, watcher, target, &ref), TR_OK);
  CHECK_EQ(tr_monitor(h, watcher, other, &kept), TR_OK);

  CHECK_EQ(tr_demonitor(h, ref), TR_OK);
  CHECK_EQ(tr_demonitor(h, ref), TR_ENOPROC);
  CHECK_EQ(tr_demonitor(h, 0), TR_ENOPROC);
  CHECK_EQ(tr_demonitor(NULL, kept), TR_EINVAL);
  CHECK_EQ(tr_kill(h, target, "x"), TR_OK);
  CHECK_EQ(tr_kill(h, other, "y"), TR_OK);
  /* Only the monitor still in place speaks. */
  CHECK(wait_notes(h, &w, 1));
  settle(h);
  CHECK_EQ(w.n, 1);
  CHECK_EQ(w.refs[0], kept);
  CHECK_STR(w.reasons[0], "y");
  tr_host_free(h);
}

static void test_link_passes_abnormal_ends(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  notes a = {0}, b = {0}, c = {0}, mon = {0};
  tr_pid pa = spawn_watcher(h, &a), pb = spawn_watcher(h, &b);
  tr_pid pc = spawn_watcher(h, &c), pm = spawn_watcher(h, &mon);
  uint64_t ref;

  CHECK_EQ(tr_link(h, pa, pb), TR_OK);
  CHECK_EQ(tr_link(h, pa, pb), TR_OK); /* twice is once */
  CHECK_EQ(tr_link(h, pc, pb), TR_OK);
  CHECK_EQ(tr_monitor(h, pm, pc, &ref), TR_OK);
  /* Both ways: b's end reaches a (which linked) and c. */
  CHECK_EQ(tr_send(h, 0, pb, tr_msg_pack("exit", "s", "crash")), TR_OK);
  CHECK(wait_notes(h, &mon, 1));
  CHECK(!tr_alive(h, pa) && !tr_alive(h, pb) && !tr_alive(h, pc));
  CHECK_STR(a.end_reason, "crash");
  CHECK_STR(b.end_reason, "crash");
  CHECK_STR(c.end_reason, "crash");
  CHECK_EQ(a.ended + b.ended + c.ended, 3);
  CHECK_EQ(mon.refs[0], ref);
  CHECK_STR(mon.reasons[0], "crash"); /* the same reason, passed on */
  CHECK_EQ(a.n + b.n + c.n, 0);
  tr_host_free(h);
}

static void test_link_ignores_normal_ends(void) {
  tr_host *h = tr_host_new(NULL);
  notes a = {0}, b = {0}, c = {0};
  tr_pid pa = spawn_watcher(h, &a), pb = spawn_watcher(h, &b);
  tr_pid pc = spawn_watcher(h, &c);

  CHECK_EQ(tr_link(h, pa, pb), TR_OK);
  CHECK_EQ(tr_link(h, pb, pc), TR_OK);
  CHECK_EQ(tr_send(h, 0, pa, tr_msg_new("stop")), TR_OK);
  settle(h);
  CHECK(!tr_alive(h, pa));
  CHECK(tr_alive(h, pb));
  CHECK_EQ(tr_kill(h, pb, "normal"), TR_OK);
  settle(h);
  CHECK(tr_alive(h, pc));
  CHECK_EQ(b.n + c.n, 0);
  tr_host_free(h);
}

static void test_trap_exit(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  notes t = {0}, a = {0}, b = {0}, c = {0};
  tr_pid trapper = spawn_opts(h, &t, 0, 1);
  tr_pid pa = spawn_opts(h, &a, trapper, 0), pb = spawn_opts(h, &b, trapper, 0);

  /* Abnormal and normal ends alike become exit(pid, reason). */
  CHECK_EQ(tr_kill(h, pa, "crash"), TR_OK);
  CHECK_EQ(tr_send(h, 0, pb, tr_msg_new("stop")), TR_OK);
  CHECK(wait_notes(h, &t, 2));
  CHECK(tr_alive(h, trapper));
  CHECK_EQ(t.kinds[0], TR_KIND_EXIT);
  CHECK_STR(t.names[0], "exit");
  CHECK_EQ(t.pids[0], pa);
  CHECK_EQ(t.from[0], pa);
  CHECK_STR(t.reasons[0], "crash");
  CHECK_EQ(t.kinds[1], TR_KIND_EXIT);
  CHECK_EQ(t.pids[1], pb);
  CHECK_STR(t.reasons[1], "normal");

  /* The trapping end of a link still passes its own end on. */
  tr_pid pc = spawn_opts(h, &c, trapper, 0);
  CHECK_EQ(tr_send(h, 0, trapper, tr_msg_pack("exit", "s", "fail")), TR_OK);
  settle(h);
  CHECK(!tr_alive(h, trapper));
  CHECK(!tr_alive(h, pc));
  CHECK_STR(c.end_reason, "fail");
  tr_host_free(h);
}

/* tr_trap_exit can be turned off again, from inside the actor. */
static int untrap_handle(tr_actor *self, void *state, tr_msg *m) {
  (void)state;
  if (m && tr_msg_is(m, "untrap"))
    tr_trap_exit(self, 0);
  return TR_CONTINUE;
}

static void test_trap_exit_off_again(void) {
  static const tr_behaviour untrap = {"untrap", 0, NULL, untrap_handle, NULL};
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  notes a = {0};
  tr_spawn_opts o = {0};
  tr_pid u, pa;

  o.trap_exit = 1;
  CHECK_EQ(tr_spawn(h, &untrap, NULL, &o, &u), TR_OK);
  pa = spawn_opts(h, &a, u, 0);
  CHECK_EQ(tr_send(h, 0, u, tr_msg_new("untrap")), TR_OK);
  settle(h);
  CHECK_EQ(tr_kill(h, pa, "crash"), TR_OK);
  CHECK(!tr_alive(h, u));
  tr_host_free(h);
}

static void test_link_to_a_dead_pid(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  notes a = {0}, t = {0}, d = {0};
  tr_pid pa = spawn_watcher(h, &a), trapper = spawn_opts(h, &t, 0, 1);
  tr_pid dead = spawn_watcher(h, &d);

  CHECK_EQ(tr_kill(h, dead, "normal"), TR_OK);
  CHECK_EQ(tr_link(h, pa, dead), TR_OK);
  CHECK(!tr_alive(h, pa));
  CHECK_STR(a.end_reason, "noproc");
  CHECK_EQ(tr_link(h, trapper, dead), TR_OK);
  CHECK(wait_notes(h, &t, 1));
  CHECK_EQ(t.pids[0], dead);
  CHECK_STR(t.reasons[0], "noproc");

  CHECK_EQ(tr_link(h, dead, trapper), TR_ENOPROC);
  CHECK_EQ(tr_link(h, trapper, trapper), TR_EINVAL);
  CHECK_EQ(tr_link(NULL, trapper, dead), TR_EINVAL);
  tr_host_free(h);
}

static void test_unlink(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  notes a = {0}, b = {0}, c = {0};
  tr_pid pa = spawn_watcher(h, &a), pb = spawn_watcher(h, &b);
  tr_pid pc = spawn_watcher(h, &c);

  CHECK_EQ(tr_link(h, pa, pb), TR_OK);
  CHECK_EQ(tr_link(h, pc, pb), TR_OK);
  CHECK_EQ(tr_unlink(h, pb, pa), TR_OK); /* from either end */
  CHECK_EQ(tr_unlink(h, pa, pc), TR_OK); /* never linked: fine */
  CHECK_EQ(tr_kill(h, pb, "crash"), TR_OK);
  CHECK(tr_alive(h, pa));
  CHECK(!tr_alive(h, pc));
  CHECK_EQ(tr_unlink(h, pb, pa), TR_ENOPROC);
  tr_host_free(h);
}

/* A chain of N actors, each linked to the one before; one kill ends them
 * all, in a thread whose stack is far too small for N nested deaths. */
enum { CHAIN = 1000 };

typedef struct chain_result {
  int ended, same_reason, actors_left, lines;
} chain_result;

static void chain_thread(void *arg) {
  chain_result *r = arg;
  tr_host *h = quiet_host(&r->lines);
  notes *n = calloc(CHAIN, sizeof *n);
  tr_pid prev = 0, first = 0;
  tr_host_stats st;
  int i;

  for (i = 0; i < CHAIN; i++) {
    prev = spawn_opts(h, &n[i], prev, 0);
    if (!first)
      first = prev;
  }
  tr_kill(h, first, "crash");
  tr_host_get_stats(h, &st);
  r->actors_left = (int)st.actors;
  for (i = 0; i < CHAIN; i++) {
    r->ended += n[i].ended;
    r->same_reason += strcmp(n[i].end_reason, "crash") == 0;
  }
  tr_host_free(h);
  free(n);
}

static void test_chain_of_links(void) {
  uv_thread_options_t opts;
  uv_thread_t t;
  chain_result r = {0};

  opts.flags = UV_THREAD_HAS_STACK_SIZE;
  opts.stack_size = 128 * 1024;
  CHECK_EQ(uv_thread_create_ex(&t, &opts, chain_thread, &r), 0);
  uv_thread_join(&t);
  CHECK_EQ(r.actors_left, 0);
  CHECK_EQ(r.ended, CHAIN);
  CHECK_EQ(r.same_reason, CHAIN);
  CHECK_EQ(r.lines, CHAIN); /* one warning each */
}

static void test_chain_killed_in_the_middle(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  notes *n = calloc(CHAIN, sizeof *n);
  tr_pid pids[CHAIN], prev = 0;
  tr_host_stats st;
  int i, ended = 0;

  for (i = 0; i < CHAIN; i++)
    prev = pids[i] = spawn_opts(h, &n[i], prev, 0);
  CHECK_EQ(tr_kill(h, pids[CHAIN / 2], "crash"), TR_OK);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.actors, 0); /* both ways along the chain */
  for (i = 0; i < CHAIN; i++)
    ended += n[i].ended;
  CHECK_EQ(ended, CHAIN);
  tr_host_free(h);
  free(n);
}

int main(void) {
  RUN(test_monitor_down_on_kill_exit_and_stop);
  RUN(test_monitor_a_dead_pid);
  RUN(test_demonitor);
  RUN(test_link_passes_abnormal_ends);
  RUN(test_link_ignores_normal_ends);
  RUN(test_trap_exit);
  RUN(test_trap_exit_off_again);
  RUN(test_link_to_a_dead_pid);
  RUN(test_unlink);
  RUN(test_chain_of_links);
  RUN(test_chain_killed_in_the_middle);
  return test_report();
}
