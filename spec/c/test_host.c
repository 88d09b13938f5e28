/*
 * test_host.c -- a host's life: new and free, run until stopped (from an
 * actor, from another thread), step, two hosts side by side, a borrowed
 * loop, no CPU while idle, the stats and the log callback.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "test.h"

/* ------------------------------------------------------------ helpers */

/* A counter actor: counts what it handles into the int its spawn argument
 * points at; "stop" stops the host, "die" ends it with reason "boom". */
typedef struct counter {
  atomic_int *count;
  int terminated;
} counter;

static int counter_init(tr_actor *self, void *state, tr_msg *args) {
  counter *c = state;
  (void)args;
  c->count = tr_actor_ctx(self);
  return 0;
}

static int counter_handle(tr_actor *self, void *state, tr_msg *m) {
  counter *c = state;
  if (!m)
    return TR_CONTINUE;
  atomic_fetch_add(c->count, 1);
  if (tr_msg_is(m, "stop"))
    tr_host_stop(tr_actor_host(self));
  else if (tr_msg_is(m, "die"))
    tr_exit(self, "boom");
  return TR_CONTINUE;
}

static const tr_behaviour counter_b = {"counter", sizeof(counter), counter_init,
                                       counter_handle, NULL};

static tr_pid spawn_counter(tr_host *h, atomic_int *count) {
  tr_pid pid = 0;
  CHECK_EQ(test_spawn_ctx(h, &counter_b, count, NULL, &pid), TR_OK);
  return pid;
}

static int send_simple(tr_host *h, tr_pid to, const char *name) {
  return tr_send(h, 0, to, tr_msg_new(name));
}

/* Steps h until *count reaches n (deadline 1 s). */
static int wait_count(tr_host *h, atomic_int *count, int n) {
  uint64_t end = uv_hrtime() + 1000000000u;
  while (atomic_load(count) < n && uv_hrtime() < end)
    if (tr_host_step(h) < 0)
      break;
  return atomic_load(count) >= n;
}

/* Waits (in a helper thread) until *flag is set; deadline 2 s. */
static int thread_wait(atomic_int *flag) {
  uint64_t end = uv_hrtime() + 2000000000u;
  while (!atomic_load(flag) && uv_hrtime() < end)
    uv_sleep(1);
  return atomic_load(flag);
}

static uint64_t cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
         (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* -------------------------------------------------------------- tests */

static void test_new_and_free_with_defaults(void) {
  tr_host *h = tr_host_new(NULL);
  tr_host_stats st;
  atomic_int n = 0;
  tr_pid pid;
  int i, ok = 0;

  CHECK(h != NULL);
  CHECK(tr_host_loop(h) != NULL);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.delivered + st.dead_letters + st.late_replies, 0);
  CHECK_EQ(st.actors + st.ready + st.timers, 0);
  CHECK_EQ(tr_host_step(h), 0);

  /* The default mailbox holds 1024 messages. */
  pid = spawn_counter(h, &n);
  for (i = 0; i < 1025; i++)
    ok += send_simple(h, pid, "x") == TR_OK;
  CHECK_EQ(ok, 1024);
  /* The default turn handles 4096 messages, 64 per actor per go: one
   * step takes all 1024 (given the time, which a loaded valgrind run may
   * not leave within the default step budget). */
  CHECK_EQ(tr_host_step_for(h, UINT32_MAX), 0);
  CHECK_EQ(atomic_load(&n), 1024);
  tr_host_free(h);
  tr_host_free(NULL); /* harmless */
}

static void test_config(void) {
  tr_host_config cfg = {0};
  tr_host *h;
  atomic_int n = 0;
  tr_pid pid;

  cfg.mailbox_capacity = 3;
  cfg.turn_budget = 2;
  h = tr_host_new(&cfg);
  CHECK(h != NULL);
  pid = spawn_counter(h, &n);
  CHECK_EQ(send_simple(h, pid, "a"), TR_OK);
  CHECK_EQ(send_simple(h, pid, "b"), TR_OK);
  CHECK_EQ(send_simple(h, pid, "c"), TR_OK);
  CHECK_EQ(send_simple(h, pid, "d"), TR_EFULL);
  /* turn_budget 2: one step handles two, the next one the last. */
  CHECK_EQ(tr_host_step(h), 1);
  CHECK_EQ(atomic_load(&n), 2);
  CHECK_EQ(tr_host_step(h), 0);
  CHECK_EQ(atomic_load(&n), 3);
  tr_host_free(h);
}

static void test_run_until_stopped_by_an_actor(void) {
  tr_host *h = tr_host_new(NULL);
  atomic_int n = 0;
  tr_pid pid = spawn_counter(h, &n);

  CHECK_EQ(send_simple(h, pid, "one"), TR_OK);
  CHECK_EQ(send_simple(h, pid, "stop"), TR_OK);
  CHECK_EQ(tr_host_run(h), TR_OK);
  CHECK_EQ(atomic_load(&n), 2);
  CHECK(!tr_alive(h, pid)); /* run shut the actors down */
  CHECK_EQ(tr_host_run(h), TR_ESTOPPED);
  CHECK_EQ(tr_host_step(h), TR_ESTOPPED);
  tr_host_free(h);
}

typedef struct stopper {
  tr_host *h;
  tr_pid pid;
  atomic_int *seen;
  int sent;
} stopper;

/* From another thread: sends a message, waits until the running host has
 * handled it, then stops the host. */
static void stop_from_thread(void *arg) {
  stopper *s = arg;
  s->sent = tr_send(s->h, 0, s->pid, tr_msg_new("hello"));
  thread_wait(s->seen);
  tr_host_stop(s->h);
}

static void test_run_until_stopped_by_another_thread(void) {
  tr_host *h = tr_host_new(NULL);
  atomic_int n = 0;
  stopper s = {h, 0, &n, -100};
  uv_thread_t t;

  s.pid = spawn_counter(h, &n);
  CHECK_EQ(uv_thread_create(&t, stop_from_thread, &s), 0);
  CHECK_EQ(tr_host_run(h), TR_OK);
  uv_thread_join(&t);
  CHECK_EQ(s.sent, TR_OK);
  CHECK_EQ(atomic_load(&n), 1);
  CHECK(!tr_alive(h, s.pid));
  tr_host_free(h);
}

static void test_step_results(void) {
  tr_host_config cfg = {0};
  tr_host *h;
  atomic_int n = 0;
  tr_pid pid;
  uint64_t timer;

  cfg.turn_budget = 1;
  h = tr_host_new(&cfg);
  CHECK_EQ(tr_host_step(h), 0); /* nothing at all */
  pid = spawn_counter(h, &n);
  CHECK_EQ(tr_host_step(h), 0); /* an actor with no mail is idle */

  CHECK_EQ(send_simple(h, pid, "a"), TR_OK);
  CHECK_EQ(send_simple(h, pid, "b"), TR_OK);
  CHECK_EQ(tr_host_step(h), 1); /* one handled, one left */
  CHECK_EQ(atomic_load(&n), 1);
  CHECK_EQ(tr_host_step(h), 0);
  CHECK_EQ(atomic_load(&n), 2);

  /* A pending timer is work left, even with no mail. */
  CHECK_EQ(tr_after(h, pid, 60000, tr_msg_new("later"), &timer), TR_OK);
  CHECK_EQ(tr_host_step(h), 1);
  CHECK_EQ(tr_cancel(h, timer), TR_OK);
  CHECK_EQ(tr_host_step(h), 0);

  tr_host_stop(h);
  CHECK_EQ(tr_host_step(h), TR_ESTOPPED);
  CHECK(!tr_alive(h, pid));
  CHECK_EQ(tr_host_step(h), TR_ESTOPPED);
  CHECK_EQ(tr_host_run(h), TR_ESTOPPED);
  CHECK_EQ(tr_host_step(NULL), TR_EINVAL);
  CHECK_EQ(tr_host_run(NULL), TR_EINVAL);
  tr_host_free(h);
}

static void test_stop_from_an_actor_while_stepping(void) {
  tr_host *h = tr_host_new(NULL);
  atomic_int n = 0;
  tr_pid pid = spawn_counter(h, &n);
  int rc = 0, steps = 0;

  CHECK_EQ(send_simple(h, pid, "stop"), TR_OK);
  while (steps++ < 100 && (rc = tr_host_step(h)) >= 0)
    ;
  CHECK_EQ(rc, TR_ESTOPPED);
  CHECK_EQ(atomic_load(&n), 1);
  CHECK(!tr_alive(h, pid));
  tr_host_free(h);
}

/* Running the loop from inside one of its own callbacks is refused (it
 * would re-enter uv_run and lose the message being handled). */
typedef struct reenter {
  int step_rc, run_rc, handled;
} reenter;

static int reenter_handle(tr_actor *self, void *state, tr_msg *m) {
  reenter **r = state;
  tr_host *h = tr_actor_host(self);
  if (m && tr_msg_is(m, "go")) /* from now on it tries */
    *r = tr_actor_ctx(self);
  if (*r) {
    (*r)->step_rc = tr_host_step(h);
    (*r)->run_rc = tr_host_run(h);
    (*r)->handled++;
  }
  return TR_CONTINUE;
}

typedef struct elsewhere {
  tr_host *h;
  int step_rc, run_rc;
} elsewhere;

static void step_from_thread(void *arg) {
  elsewhere *e = arg;
  e->step_rc = tr_host_step(e->h);
  e->run_rc = tr_host_run(e->h);
}

static void test_no_stepping_from_inside_or_elsewhere(void) {
  static const tr_behaviour b = {"reenter", sizeof(reenter *), NULL,
                                 reenter_handle, NULL};
  tr_host *h = tr_host_new(NULL);
  reenter r = {1, 1, 0};
  atomic_int n = 0;
  tr_pid pid, other = spawn_counter(h, &n);
  elsewhere e = {h, 1, 1};
  uv_thread_t th;

  CHECK_EQ(test_spawn_ctx(h, &b, &r, NULL, &pid), TR_OK);
  CHECK_EQ(tr_send(h, 0, pid, tr_msg_new("go")), TR_OK);
  CHECK_EQ(send_simple(h, other, "x"), TR_OK);
  CHECK(test_wait(h, &r.handled, 1000));
  CHECK_EQ(r.step_rc, TR_EINVAL);
  CHECK_EQ(r.run_rc, TR_EINVAL);
  CHECK(wait_count(h, &n, 1)); /* the host goes on as before */

  CHECK_EQ(uv_thread_create(&th, step_from_thread, &e), 0);
  uv_thread_join(&th);
  CHECK_EQ(e.step_rc, TR_ETHREAD);
  CHECK_EQ(e.run_rc, TR_ETHREAD);
  tr_host_free(h);
}

/* Two hosts on one thread, stepped in turn: the same pid value names a
 * different actor on each, and neither sees the other's mail or stats. */
static void test_two_hosts_one_thread(void) {
  tr_host *a = tr_host_new(NULL), *b = tr_host_new(NULL);
  atomic_int na = 0, nb = 0;
  tr_pid pa = spawn_counter(a, &na), pb = spawn_counter(b, &nb);
  tr_host_stats sa, sb;
  int i;

  CHECK_EQ(pa, pb); /* first slot, first generation on both */
  for (i = 0; i < 10; i++)
    CHECK_EQ(send_simple(a, pa, "x"), TR_OK);
  for (i = 0; i < 3; i++)
    CHECK_EQ(send_simple(b, pb, "y"), TR_OK);
  CHECK(wait_count(a, &na, 10));
  CHECK(wait_count(b, &nb, 3));
  CHECK_EQ(atomic_load(&na), 10);
  CHECK_EQ(atomic_load(&nb), 3);
  tr_host_get_stats(a, &sa);
  tr_host_get_stats(b, &sb);
  CHECK_EQ(sa.delivered, 10);
  CHECK_EQ(sb.delivered, 3);

  tr_host_stop(a);
  CHECK_EQ(tr_host_step(a), TR_ESTOPPED);
  CHECK_EQ(tr_host_step(b), 0); /* b runs on */
  CHECK_EQ(send_simple(b, pb, "z"), TR_OK);
  CHECK(wait_count(b, &nb, 4));
  tr_host_free(a);
  tr_host_free(b);
}

/* Two hosts, each run by its own thread; the second also sends to the
 * first's actor across threads. Each host stops itself when done. */
typedef struct side {
  tr_host *_Atomic host; /* published once its actor is spawned */
  _Atomic tr_pid pid;
  atomic_int count;
  int run_rc;
} side;

static side side_a, side_b;
enum { CROSS = 1000, LOCAL = 500 };

/* Stops its host when the count reaches `target`. */
typedef struct until {
  side *s;
  int target;
} until;

static int until_init(tr_actor *self, void *state, tr_msg *args) {
  until *u = state;
  int64_t target = 0;
  tr_msg_unpack(args, "I", &target);
  u->s = tr_actor_ctx(self);
  u->target = (int)target;
  return 0;
}

static int until_handle(tr_actor *self, void *state, tr_msg *m) {
  until *u = state;
  if (m && atomic_fetch_add(&u->s->count, 1) + 1 == u->target)
    tr_host_stop(tr_actor_host(self));
  return TR_CONTINUE;
}

static const tr_behaviour until_b = {"until", sizeof(until), until_init,
                                     until_handle, NULL};

static tr_pid spawn_until(tr_host *h, side *s, int target) {
  tr_pid pid = 0;
  tr_spawn_opts o = {0};
  o.ctx = s; /* the pointer; the target travels as a value */
  CHECK_EQ(tr_spawn(h, &until_b, tr_msg_pack("a", "i", target), &o, &pid),
           TR_OK);
  return pid;
}

static void host_a_thread(void *arg) {
  tr_host *h = tr_host_new(NULL);
  (void)arg;
  atomic_store(&side_a.pid, spawn_until(h, &side_a, CROSS));
  atomic_store(&side_a.host, h);
  side_a.run_rc = tr_host_run(h);
  /* Freed by its own thread, after b is done sending to it. */
  while (!atomic_load(&side_b.host))
    uv_sleep(1);
  tr_host_free(h);
}

static void host_b_thread(void *arg) {
  tr_host *h = tr_host_new(NULL), *a = NULL;
  tr_pid local = spawn_until(h, &side_b, LOCAL), remote;
  uint64_t end = uv_hrtime() + 2000000000u;
  int i, ok = 0;
  (void)arg;
  while (!(a = atomic_load(&side_a.host)) && uv_hrtime() < end)
    uv_sleep(1);
  remote = atomic_load(&side_a.pid);
  for (i = 0; a && i < CROSS; i++)
    ok += tr_send(a, 0, remote, tr_msg_new("cross")) == TR_OK;
  CHECK_EQ(ok, CROSS);
  for (i = 0; i < LOCAL; i++)
    CHECK_EQ(tr_send(h, 0, local, tr_msg_new("local")), TR_OK);
  side_b.run_rc = tr_host_run(h);
  atomic_store(&side_b.host, h);
  tr_host_free(h);
}

static void test_two_hosts_two_threads(void) {
  uv_thread_t ta, tb;
  CHECK_EQ(uv_thread_create(&ta, host_a_thread, NULL), 0);
  CHECK_EQ(uv_thread_create(&tb, host_b_thread, NULL), 0);
  uv_thread_join(&tb);
  uv_thread_join(&ta);
  CHECK(atomic_load(&side_a.host) != atomic_load(&side_b.host));
  CHECK_EQ(side_a.run_rc, TR_OK);
  CHECK_EQ(side_b.run_rc, TR_OK);
  CHECK_EQ(atomic_load(&side_a.count), CROSS);
  CHECK_EQ(atomic_load(&side_b.count), LOCAL);
}

/* Sends itself "tick" through a timer until it has counted `n`, then stops
 * the host: it needs the loop's timers as well as its mail. */
static int ticker_handle(tr_actor *self, void *state, tr_msg *m) {
  int *n = state;
  tr_host *h = tr_actor_host(self);
  (void)m;
  if (++*n == 5)
    tr_host_stop(h);
  else
    CHECK_EQ(tr_after(h, tr_self(self), 1, tr_msg_new("tick"), NULL), TR_OK);
  return TR_CONTINUE;
}

static void test_borrowed_loop(void) {
  static const tr_behaviour ticker = {"ticker", sizeof(int), NULL,
                                      ticker_handle, NULL};
  uv_loop_t loop;
  tr_host_config cfg = {0};
  tr_host *h;
  tr_pid pid;

  CHECK_EQ(uv_loop_init(&loop), 0);
  cfg.loop = &loop;
  h = tr_host_new(&cfg);
  CHECK(tr_host_loop(h) == &loop);
  CHECK_EQ(tr_spawn(h, &ticker, NULL, NULL, &pid), TR_OK);
  CHECK_EQ(send_simple(h, pid, "tick"), TR_OK);
  /* Our own uv_run drives the host; it returns once the host has stopped
   * and keeps nothing alive on the loop. */
  CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  CHECK(!tr_alive(h, pid));
  CHECK_EQ(tr_host_step(h), TR_ESTOPPED);
  tr_host_free(h);
  /* The host closed all of its handles and left the loop to us. */
  CHECK_EQ(uv_loop_close(&loop), 0);
}

static void stop_host_cb(uv_timer_t *t) { tr_host_stop(t->data); }

static void test_idle_host_uses_no_cpu(void) {
  tr_host *h = tr_host_new(NULL);
  atomic_int n = 0;
  uv_timer_t stop;
  uint64_t wall, cpu;
  int i;

  /* Idle actors and a far-off timer: nothing for the loop to do. */
  for (i = 0; i < 10; i++)
    spawn_counter(h, &n);
  CHECK_EQ(tr_after(h, spawn_counter(h, &n), 60000, tr_msg_new("x"), NULL),
           TR_OK);
  uv_timer_init(tr_host_loop(h), &stop);
  stop.data = h;
  /* The loop's clock is as old as its last turn: brought up to date, so
   * that the 300 ms count from here, however slowly the set-up ran. */
  wall = uv_hrtime();
  uv_update_time(tr_host_loop(h));
  uv_timer_start(&stop, stop_host_cb, 300, 0);
  cpu = cpu_us();
  CHECK_EQ(tr_host_run(h), TR_OK);
  cpu = cpu_us() - cpu;
  wall = (uv_hrtime() - wall) / 1000u;
  CHECK(wall >= 290000);
  CHECK(cpu < 60000);
  if (cpu >= 60000)
    fprintf(stderr, "idle host: %llu us CPU in %llu us\n",
            (unsigned long long)cpu, (unsigned long long)wall);
  CHECK_EQ(atomic_load(&n), 0);
  uv_close((uv_handle_t *)&stop, NULL);
  tr_host_free(h);
}

static void test_stats(void) {
  tr_host *h = tr_host_new(NULL);
  atomic_int n = 0;
  tr_pid a = spawn_counter(h, &n), b = spawn_counter(h, &n), dead;
  tr_host_stats st;

  dead = spawn_counter(h, &n);
  tr_kill(h, dead, "normal");
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.actors, 2);
  CHECK_EQ(st.ready, 0);

  CHECK_EQ(send_simple(h, a, "1"), TR_OK);
  CHECK_EQ(send_simple(h, a, "2"), TR_OK);
  CHECK_EQ(send_simple(h, b, "3"), TR_OK);
  CHECK_EQ(send_simple(h, dead, "4"), TR_ENOPROC);
  CHECK_EQ(tr_after(h, a, 60000, tr_msg_new("5"), NULL), TR_OK);
  CHECK(tr_timeout(h, b, 60000, NULL) == TR_OK);
  CHECK_EQ(tr_reply_to(h, a, 12345, tr_msg_new("late")), TR_ENOPROC);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.ready, 2);
  CHECK_EQ(st.delivered, 0);
  CHECK_EQ(st.dead_letters, 1);
  CHECK_EQ(st.late_replies, 1);
  CHECK_EQ(st.timers, 2);

  CHECK(wait_count(h, &n, 3));
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.ready, 0);
  CHECK_EQ(st.delivered, 3);

  /* b's end drops its timer; leftover mail counts as dead letters. */
  CHECK_EQ(send_simple(h, b, "6"), TR_OK);
  CHECK_EQ(tr_kill(h, b, "normal"), TR_OK);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.actors, 1);
  CHECK_EQ(st.timers, 1);
  CHECK_EQ(st.dead_letters, 2);
  tr_host_free(h);
}

typedef struct captured {
  int lines, level;
  char text[256];
} captured;

static void capture_log(void *ud, int level, const char *text) {
  captured *c = ud;
  c->lines++;
  c->level = level;
  snprintf(c->text, sizeof c->text, "%s", text);
}

static void test_log_callback(void) {
  captured c = {0};
  tr_host_config cfg = {0};
  tr_host *h;
  atomic_int n = 0;
  tr_pid pid;

  cfg.log = capture_log;
  cfg.log_ud = &c;
  cfg.log_level = TR_LOG_DEBUG;
  h = tr_host_new(&cfg);

  /* A normal end is not worth a line. */
  pid = spawn_counter(h, &n);
  CHECK_EQ(tr_kill(h, pid, "normal"), TR_OK);
  CHECK_EQ(c.lines, 0);

  /* An abnormal one is: a warning naming the behaviour and the reason. */
  pid = spawn_counter(h, &n);
  CHECK_EQ(send_simple(h, pid, "die"), TR_OK);
  CHECK(wait_count(h, &n, 1));
  CHECK(!tr_alive(h, pid));
  CHECK_EQ(c.lines, 1);
  CHECK_EQ(c.level, TR_LOG_WARN);
  CHECK(strstr(c.text, "counter") != NULL);
  CHECK(strstr(c.text, "boom") != NULL);

  tr_host_log(h, TR_LOG_INFO, "hello %d", 42);
  CHECK_EQ(c.lines, 2);
  CHECK_EQ(c.level, TR_LOG_INFO);
  CHECK_STR(c.text, "hello 42");
  tr_host_log(h, 99, "clamped");
  CHECK_EQ(c.level, TR_LOG_DEBUG);

  /* Shutting down is not abnormal: no line for it. */
  spawn_counter(h, &n);
  tr_host_free(h);
  CHECK_EQ(c.lines, 3);
}

/* Below the configured level nothing is logged: INFO unless set. */
static void test_log_level(void) {
  captured c = {0};
  tr_host_config cfg = {0};
  tr_host *h;
  cfg.log = capture_log;
  cfg.log_ud = &c;
  h = tr_host_new(&cfg);
  tr_host_log(h, TR_LOG_DEBUG, "not shown");
  CHECK_EQ(c.lines, 0);
  tr_host_log(h, TR_LOG_INFO, "shown");
  CHECK_EQ(c.lines, 1);
  tr_host_free(h);
  cfg.log_level = TR_LOG_ERROR;
  h = tr_host_new(&cfg);
  tr_host_log(h, TR_LOG_WARN, "not shown");
  tr_host_log(h, TR_LOG_ERROR, "shown");
  CHECK_EQ(c.lines, 2);
  tr_host_free(h);
}

/* Whole lines (log_line): the time, the level, the actor whose callback
 * logs with its name, as text or JSON; the level changed at run time. */
static void capture_line(void *ud, int level, const char *line, size_t len) {
  captured *c = ud;
  c->lines++;
  c->level = level;
  snprintf(c->text, sizeof c->text, "%.*s", (int)len, line);
}

static int logging_init(tr_actor *self, void *state, tr_msg *args) {
  (void)state;
  (void)args;
  tr_host_log(tr_actor_host(self), TR_LOG_WARN, "up \"q\"\n");
  return 0;
}

static const tr_behaviour logging = {"logging", 0, logging_init, counter_handle,
                                     NULL};

static void test_log_lines(void) {
  captured c = {0};
  tr_host_config cfg = {0};
  tr_spawn_opts o = {0};
  tr_host *h;
  tr_pid pid;
  char want[128];
  cfg.log_line = capture_line;
  cfg.log_ud = &c;
  h = tr_host_new(&cfg);
  tr_host_log(h, TR_LOG_INFO, "plain");
  /* 2026-01-31T12:00:00.123Z: 24 characters, then the level. */
  CHECK_EQ(strlen(c.text), 24 + 12);
  CHECK(c.text[10] == 'T' && c.text[19] == '.' && c.text[23] == 'Z');
  CHECK_STR(c.text + 24, " info  plain");
  o.name = "logger";
  CHECK_EQ(tr_spawn(h, &logging, NULL, &o, &pid), TR_OK);
  snprintf(want, sizeof want, " warn  [<pid %u.%u> logger] up \"q\"\n",
           (unsigned)(pid & 0xffffff), (unsigned)(pid >> TR_PID_GEN_SHIFT));
  CHECK_STR(c.text + 24, want);
  CHECK_EQ(tr_host_log_level(h), TR_LOG_INFO);
  CHECK_EQ(tr_host_set_log_level(h, 0), TR_EINVAL);
  CHECK_EQ(tr_host_set_log_level(NULL, TR_LOG_DEBUG), TR_EINVAL);
  CHECK_EQ(tr_host_set_log_level(h, TR_LOG_ERROR), TR_OK);
  CHECK_EQ(tr_host_log_level(h), TR_LOG_ERROR);
  tr_host_log(h, TR_LOG_WARN, "hidden");
  CHECK_EQ(c.lines, 2);
  tr_host_free(h);

  cfg.log_format = TR_LOG_JSON;
  h = tr_host_new(&cfg);
  CHECK_EQ(tr_spawn(h, &logging, NULL, &o, &pid), TR_OK);
  snprintf(want, sizeof want,
           "\",\"level\":\"warn\",\"pid\":\"<pid %u.%u>\",\"name\":"
           "\"logger\",\"msg\":\"up \\\"q\\\"\\n\"}",
           (unsigned)(pid & 0xffffff), (unsigned)(pid >> TR_PID_GEN_SHIFT));
  CHECK(!strncmp(c.text, "{\"ts\":\"", 7));
  CHECK_STR(c.text + 7 + 24, want);
  tr_host_log(h, TR_LOG_ERROR, "bad \xff");
  CHECK(strstr(c.text, "\"pid\":null,\"name\":null,\"msg\":\"bad \\ufffd\"}"));
  tr_host_free(h);
}

int main(void) {
  RUN(test_log_level);
  RUN(test_log_lines);
  RUN(test_new_and_free_with_defaults);
  RUN(test_config);
  RUN(test_run_until_stopped_by_an_actor);
  RUN(test_run_until_stopped_by_another_thread);
  RUN(test_step_results);
  RUN(test_stop_from_an_actor_while_stepping);
  RUN(test_no_stepping_from_inside_or_elsewhere);
  RUN(test_two_hosts_one_thread);
  RUN(test_two_hosts_two_threads);
  RUN(test_borrowed_loop);
  RUN(test_idle_host_uses_no_cpu);
  RUN(test_stats);
  RUN(test_log_callback);
  return test_report();
}
