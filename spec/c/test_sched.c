/*
 * test_sched.c -- the scheduler: a busy actor (always TR_YIELD) starves
 * neither other actors nor timers; the per-actor budget interleaves a
 * flood to one actor with another's mail; TR_YIELD resumes with m == NULL
 * after the other ready actors had their turn.
 */
#include <stdint.h>
#include <stdlib.h>

#include "test.h"

/* ------------------------------------------------------------ helpers */

/* A tracer writes its letter (the spawn argument) for each message; on
 * "work"(n) it yields n times, writing '-' for each resume with NULL (and
 * '!' should a resume ever bring a message). */
typedef struct tracer {
  char letter;
  int left; /* resumes still to do */
  int *count;
} tracer;

static int tracer_init(tr_actor *self, void *state, tr_msg *args) {
  tracer *t = state;
  int letter = '?';
  tr_msg_unpack(args, "i", &letter);
  t->letter = (char)letter;
  t->count = tr_actor_ctx(self);
  return 0;
}

static int tracer_handle(tr_actor *self, void *state, tr_msg *m) {
  tracer *t = state;
  int n;
  (void)self;
  if (t->left) {
    test_trace_add(m ? '!' : '-');
    return --t->left ? TR_YIELD : TR_CONTINUE;
  }
  if (!m) {
    test_trace_add('!');
    return TR_CONTINUE;
  }
  test_trace_add(t->letter);
  if (t->count)
    (*t->count)++;
  if (tr_msg_is(m, "work") && tr_msg_unpack(m, "i", &n) == 0 && n > 0) {
    t->left = n;
    return TR_YIELD;
  }
  return TR_CONTINUE;
}

static const tr_behaviour tracer_b = {"tracer", sizeof(tracer), tracer_init,
                                      tracer_handle, NULL};

static tr_pid spawn_tracer(tr_host *h, char letter, int *count) {
  tr_spawn_opts o = {0};
  tr_pid pid = 0;
  o.capacity = 100000;
  o.ctx = count;
  CHECK_EQ(tr_spawn(h, &tracer_b, tr_msg_pack("a", "i", (int)letter), &o, &pid),
           TR_OK);
  return pid;
}

/* Spins forever: every call returns TR_YIELD. Counts its resumes and any
 * resume that wrongly brought a message. */
typedef struct spinner {
  int64_t *resumes, *wrong;
} spinner;

static int spinner_init(tr_actor *self, void *state, tr_msg *args) {
  (void)args;
  *(spinner *)state = *(const spinner *)tr_actor_ctx(self); /* a copy */
  return 0;
}

static int spinner_handle(tr_actor *self, void *state, tr_msg *m) {
  spinner *s = state;
  (void)self;
  if (!m)
    (*s->resumes)++;
  else if (!tr_msg_is(m, "spin"))
    (*s->wrong)++;
  return TR_YIELD;
}

static const tr_behaviour spinner_b = {"spinner", sizeof(spinner), spinner_init,
                                       spinner_handle, NULL};

static tr_pid spawn_spinner(tr_host *h, int64_t *resumes, int64_t *wrong) {
  spinner counters; /* read by init only */
  tr_pid pid = 0;
  counters.resumes = resumes;
  counters.wrong = wrong;
  CHECK_EQ(test_spawn_ctx(h, &spinner_b, &counters, NULL, &pid), TR_OK);
  CHECK_EQ(tr_send(h, 0, pid, tr_msg_new("spin")), TR_OK);
  return pid;
}

static int send_simple(tr_host *h, tr_pid to, const char *name) {
  return tr_send(h, 0, to, tr_msg_new(name));
}

static int count_of(const char *s, char c) {
  int n = 0;
  for (; *s; s++)
    n += *s == c;
  return n;
}

/* -------------------------------------------------------------- tests */

static void test_busy_actor_does_not_starve_others(void) {
  tr_host *h = tr_host_new(NULL);
  int64_t resumes = 0, wrong = 0;
  int handled = 0, i;
  tr_pid spin, other;
  uint64_t sent_at;

  test_trace_reset();
  spin = spawn_spinner(h, &resumes, &wrong);
  other = spawn_tracer(h, 'o', &handled);
  CHECK_EQ(tr_host_step(h), 1); /* the spinner is always work left */
  for (i = 0; i < 100; i++)
    CHECK_EQ(send_simple(h, other, "m"), TR_OK);
  CHECK(test_wait(h, &handled, 1000));
  CHECK(handled >= 1);
  handled = 0;
  test_trace_reset();

  /* Mail and a timer still get through while the spinner spins. */
  uv_update_time(tr_host_loop(h));
  sent_at = uv_now(tr_host_loop(h));
  CHECK_EQ(tr_after(h, other, 5, tr_msg_new("tick"), NULL), TR_OK);
  for (i = 0; i < 100; i++)
    CHECK_EQ(send_simple(h, other, "m"), TR_OK);
  {
    uint64_t end = uv_hrtime() + 1000000000u;
    while (handled < 101 && uv_hrtime() < end)
      tr_host_step(h);
  }
  CHECK(handled >= 101);
  CHECK(uv_now(tr_host_loop(h)) >= sent_at + 5);
  CHECK(resumes > 100);
  CHECK_EQ(wrong, 0);
  CHECK(tr_alive(h, spin));
  tr_host_free(h);
}

/* Under tr_host_run too: a timer stops the host while the spinner spins. */
static int stopper_handle(tr_actor *self, void *state, tr_msg *m) {
  (void)state;
  if (m && tr_msg_is(m, "stop"))
    tr_host_stop(tr_actor_host(self));
  return TR_CONTINUE;
}

static void test_busy_actor_under_run(void) {
  static const tr_behaviour stopper = {"stopper", 0, NULL, stopper_handle,
                                       NULL};
  tr_host *h = tr_host_new(NULL);
  int64_t resumes = 0, wrong = 0;
  tr_pid s;
  uint64_t start;

  spawn_spinner(h, &resumes, &wrong);
  CHECK_EQ(tr_spawn(h, &stopper, NULL, NULL, &s), TR_OK);
  CHECK_EQ(tr_after(h, s, 20, tr_msg_new("stop"), NULL), TR_OK);
  start = uv_hrtime();
  CHECK_EQ(tr_host_run(h), TR_OK);
  CHECK(uv_hrtime() - start < 5000000000u); /* it did stop */
  CHECK(resumes > 0);
  CHECK_EQ(wrong, 0);
  tr_host_free(h);
}

static void test_budget_interleaves_a_flood(void) {
  tr_host_config cfg = {0};
  tr_host *h;
  tr_pid a, b;
  int i;

  cfg.actor_budget = 4;
  h = tr_host_new(&cfg);
  a = spawn_tracer(h, 'a', NULL);
  b = spawn_tracer(h, 'b', NULL);
  test_trace_reset();
  for (i = 0; i < 20; i++)
    CHECK_EQ(send_simple(h, a, "flood"), TR_OK);
  for (i = 0; i < 6; i++)
    CHECK_EQ(send_simple(h, b, "other"), TR_OK);
  while (tr_host_step(h) > 0)
    ;
  /* Four each, in turn, until b has nothing left. */
  CHECK_STR(test_trace, "aaaabbbbaaaabbaaaaaaaaaaaa");
  CHECK_EQ(count_of(test_trace, 'a'), 20);
  CHECK_EQ(count_of(test_trace, 'b'), 6);
  tr_host_free(h);
}

static void test_default_budget(void) {
  tr_host *h = tr_host_new(NULL);
  tr_pid a = spawn_tracer(h, 'a', NULL), b = spawn_tracer(h, 'b', NULL);
  int i;
  test_trace_reset();
  for (i = 0; i < 1000; i++)
    CHECK_EQ(send_simple(h, a, "flood"), TR_OK);
  CHECK_EQ(send_simple(h, b, "other"), TR_OK);
  while (tr_host_step(h) > 0)
    ;
  CHECK_EQ(test_trace_len, 1001);
  CHECK_EQ((int)(strchr(test_trace, 'b') - test_trace),
           64); /* after a's first 64 */
  tr_host_free(h);
}

static void test_yield_resumes_with_null(void) {
  tr_host *h = tr_host_new(NULL);
  tr_pid y = spawn_tracer(h, 'y', NULL), z = spawn_tracer(h, 'z', NULL);

  test_trace_reset();
  CHECK_EQ(tr_send(h, 0, y, tr_msg_pack("work", "i", 3)), TR_OK);
  CHECK_EQ(send_simple(h, y, "next"), TR_OK);
  CHECK_EQ(send_simple(h, z, "z1"), TR_OK);
  CHECK_EQ(send_simple(h, z, "z2"), TR_OK);
  while (tr_host_step(h) > 0)
    ;
  /* y takes "work" and yields: z has its turn before y resumes, with NULL
   * each time; "next" waits until y is done. */
  CHECK_STR(test_trace, "yzz---y");
  tr_host_free(h);
}

int main(void) {
  RUN(test_busy_actor_does_not_starve_others);
  RUN(test_busy_actor_under_run);
  RUN(test_budget_interleaves_a_flood);
  RUN(test_default_budget);
  RUN(test_yield_resumes_with_null);
  return test_report();
}
