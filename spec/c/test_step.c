/*
 * test_step.c -- tr_host_step keeps to its time budget: a step ends once
 * its budget is spent even while actors still have work (a mailbox full
 * of slow messages, an actor that yields forever), and the work goes on
 * at the next step. What a step did is counted, not timed: a busy machine
 * that preempts a step makes it do less, never more, so the bounds hold
 * under load; what they catch is a step that runs through pending work.
 */
#include "test.h"

#define WORK_US 2000 /* one slow message's handling */
#define SLOW_MSGS 64 /* one actor's share of a turn: 128 ms in all */
#define BUDGET_US 2000
/* At most what a step may do: far above a 2 ms budget's share (one slow
 * message and the one running as it ends; some twenty 100 us spins), far
 * below all of it (64 messages; an endless actor's forever). */
#define MAX_MSGS 8
#define MAX_SPINS 200

typedef struct counts {
  int handled; /* slow messages done */
  int spins;   /* turns of the actor that yields forever */
} counts;

static void busy(uint64_t us) {
  uint64_t end = uv_hrtime() + us * 1000;
  while (uv_hrtime() < end)
    ;
}

static int slow_handle(tr_actor *self, void *state, tr_msg *m) {
  counts *c = *(counts **)state;
  (void)self;
  if (tr_msg_is(m, "work")) {
    busy(WORK_US);
    c->handled++;
  }
  return TR_CONTINUE;
}

static const tr_behaviour slow = {"slow", sizeof(counts *), test_ptr_init,
                                  slow_handle, NULL};

static int spin_init(tr_actor *self, void *state, tr_msg *args) {
  int rc = test_ptr_init(self, state, args);
  tr_wake(self);
  return rc;
}

static int spin_handle(tr_actor *self, void *state, tr_msg *m) {
  counts *c = *(counts **)state;
  (void)self;
  (void)m;
  busy(100);
  c->spins++;
  return TR_YIELD; /* never done */
}

static const tr_behaviour spinner = {"spinner", sizeof(counts *), spin_init,
                                     spin_handle, NULL};

/* A mailbox of slow messages: each step returns soon, having handled a
 * few, and all of them are handled over the steps. */
static void test_slow_mail_spreads_over_steps(void) {
  counts c = {0, 0};
  tr_host *h = tr_host_new(NULL);
  tr_pid pid = 0;
  int i, steps = 0, last = 0, rc = 1;
  CHECK_EQ(test_spawn_ctx(h, &slow, &c, NULL, &pid), TR_OK);
  for (i = 0; i < SLOW_MSGS; i++)
    CHECK_EQ(tr_send(h, 0, pid, tr_msg_new("work")), TR_OK);
  while (c.handled < SLOW_MSGS && steps < 10 * SLOW_MSGS) {
    rc = tr_host_step_for(h, BUDGET_US);
    CHECK(rc >= 0);
    CHECK(c.handled >= last && c.handled - last <= MAX_MSGS);
    last = c.handled;
    steps++;
  }
  CHECK_EQ(c.handled, SLOW_MSGS);
  CHECK(steps > 4); /* 128 ms of work cannot fit a few 2 ms steps */
  tr_host_free(h);
}

/* An actor that never stops: every step returns, with work left; a slow
 * neighbour gets its turns too, the share a deadline cut short going on
 * first at the next step. */
static void test_endless_actor(void) {
  counts c = {0, 0};
  tr_host_config cfg = {0};
  tr_host *h;
  tr_pid spin = 0, worker = 0;
  int i, before, handled;
  cfg.step_budget_us = BUDGET_US; /* tr_host_step's own budget */
  h = tr_host_new(&cfg);
  CHECK_EQ(test_spawn_ctx(h, &spinner, &c, NULL, &spin), TR_OK);
  CHECK_EQ(test_spawn_ctx(h, &slow, &c, NULL, &worker), TR_OK);
  for (i = 0; i < SLOW_MSGS; i++)
    CHECK_EQ(tr_send(h, 0, worker, tr_msg_new("work")), TR_OK);
  for (i = 0; i < 40; i++) {
    before = c.spins;
    handled = c.handled;
    CHECK_EQ(tr_host_step(h), 1);
    CHECK(c.spins - before <= MAX_SPINS && c.handled - handled <= MAX_MSGS);
    CHECK(c.spins > before || c.handled > 0);
  }
  CHECK(c.spins >= 1);
  CHECK(c.handled > 0);         /* the neighbour ran */
  CHECK(c.handled < SLOW_MSGS); /* but not through everything at once */
  CHECK_EQ(tr_host_step_for(h, 0), TR_EINVAL);
  tr_host_free(h);
}

/* Who handled what, in order, for the test below. */
typedef struct order {
  int n;
  char who[16];
} order;

static int log_handle(tr_actor *self, void *state, tr_msg *m) {
  order *o = *(order **)state;
  const char *name;
  size_t len;
  (void)self;
  if (tr_msg_unpack(m, "s", &name, &len) == TR_OK && o->n < 15) {
    o->who[o->n++] = name[0];
    busy(WORK_US);
  }
  return TR_CONTINUE;
}

static const tr_behaviour logger = {"logger", sizeof(order *), test_ptr_init,
                                    log_handle, NULL};

/* A step that ends in the middle of an actor's share does not reorder the
 * turns: the actor goes on first at the next step, as in one long turn. */
static void test_cut_share_goes_on_first(void) {
  order o = {0, ""};
  tr_host *h = tr_host_new(NULL);
  tr_pid a = 0, b = 0;
  int i, steps = 0;
  CHECK_EQ(test_spawn_ctx(h, &logger, &o, NULL, &a), TR_OK);
  CHECK_EQ(test_spawn_ctx(h, &logger, &o, NULL, &b), TR_OK);
  for (i = 0; i < 3; i++)
    CHECK_EQ(tr_send(h, 0, a, tr_msg_pack("m", "s", "a")), TR_OK);
  CHECK_EQ(tr_send(h, 0, b, tr_msg_pack("m", "s", "b")), TR_OK);
  while (o.n < 4 && steps++ < 1000)
    tr_host_step_for(h, WORK_US / 2); /* over after each message */
  CHECK(steps >= 4);
  CHECK_STR(o.who, "aaab");
  tr_host_free(h);
}

int main(void) {
  RUN(test_slow_mail_spreads_over_steps);
  RUN(test_endless_actor);
  RUN(test_cut_share_goes_on_first);
  return test_report();
}
