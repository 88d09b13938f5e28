/*
 * test_shutdown.c -- the end of a host: actors stop newest first with
 * "shutdown" (after tr_host_run, a step that sees the stop, or
 * tr_host_free alone); whatever is left (mail, timers, calls, monitors,
 * links, names) is freed -- valgrind proves it; a stopped host refuses
 * everything.
 */
#include <stdint.h>
#include <stdlib.h>

#include "test.h"

/* ------------------------------------------------------------ helpers */

/* The order of terminate calls, one letter each, and their reasons. */
static char order[64];
static int order_len, not_shutdown;

static void order_reset(void) {
  order_len = not_shutdown = 0;
  order[0] = '\0';
}

/* A member: its letter, and what to do in terminate -- send to `notify`,
 * try to spawn. */
typedef struct member {
  char letter;
  tr_pid notify;
  int spawn_rc; /* what a spawn from terminate gave */
  int *spawn_rc_out;
} member;

static int member_init(tr_actor *self, void *state, tr_msg *args) {
  member *m = state;
  int letter = '?';
  tr_msg_unpack(args, "ip", &letter, &m->notify);
  m->letter = (char)letter;
  m->spawn_rc_out = tr_actor_ctx(self);
  return 0;
}

static int member_handle(tr_actor *self, void *state, tr_msg *m) {
  (void)state;
  if (m && tr_msg_is(m, "stop-host"))
    tr_host_stop(tr_actor_host(self));
  return TR_CONTINUE;
}

static const tr_behaviour member_b;

static void member_terminate(tr_actor *self, void *state, const char *why) {
  member *m = state;
  tr_host *h = tr_actor_host(self);
  if (order_len < (int)sizeof order - 1) {
    order[order_len++] = m->letter;
    order[order_len] = '\0';
  }
  if (strcmp(why, "shutdown") != 0)
    not_shutdown++;
  if (m->notify)
    tr_send(h, tr_self(self), m->notify, tr_msg_new("bye"));
  if (m->spawn_rc_out)
    *m->spawn_rc_out = tr_spawn(
        h, &member_b, tr_msg_pack("a", "ipI", 'z', (tr_pid)0, (int64_t)0), NULL,
        NULL);
}

static const tr_behaviour member_b = {"member", sizeof(member), member_init,
                                      member_handle, member_terminate};

static tr_pid spawn_member(tr_host *h, char letter, tr_pid notify,
                           int *spawn_rc) {
  tr_spawn_opts o = {0};
  tr_pid pid = 0;
  o.ctx = spawn_rc;
  CHECK_EQ(tr_spawn(h, &member_b, tr_msg_pack("a", "ip", (int)letter, notify),
                    &o, &pid),
           TR_OK);
  return pid;
}

static tr_host_stats stats_of(tr_host *h) {
  tr_host_stats st;
  tr_host_get_stats(h, &st);
  return st;
}

/* -------------------------------------------------------------- tests */

static void test_run_stops_newest_first(void) {
  tr_host *h = tr_host_new(NULL);
  tr_pid a, b, c;

  order_reset();
  a = spawn_member(h, 'a', 0, NULL);
  b = spawn_member(h, 'b', 0, NULL);
  c = spawn_member(h, 'c', 0, NULL);
  CHECK_EQ(tr_kill(h, b, "normal"), TR_OK); /* gone before the end */
  spawn_member(h, 'd', 0, NULL);
  spawn_member(h, 'e', 0, NULL); /* may take b's slot: order is by start */
  CHECK_STR(order, "b");
  order_reset();

  CHECK_EQ(tr_send(h, 0, c, tr_msg_new("stop-host")), TR_OK);
  CHECK_EQ(tr_host_run(h), TR_OK);
  CHECK_STR(order, "edca");
  CHECK_EQ(not_shutdown, 0);
  CHECK(!tr_alive(h, a));
  CHECK_EQ(stats_of(h).actors, 0);
  tr_host_free(h);
  CHECK_STR(order, "edca"); /* free does not end them twice */
}

static void test_free_without_run(void) {
  tr_host *h = tr_host_new(NULL);
  order_reset();
  spawn_member(h, 'x', 0, NULL);
  spawn_member(h, 'y', 0, NULL);
  spawn_member(h, 'z', 0, NULL);
  tr_host_free(h);
  CHECK_STR(order, "zyx");
  CHECK_EQ(not_shutdown, 0);
}

static void test_stop_before_run_and_twice(void) {
  tr_host *h = tr_host_new(NULL);
  order_reset();
  spawn_member(h, 'p', 0, NULL);
  tr_host_stop(h);
  tr_host_stop(h);
  tr_host_stop(NULL);              /* harmless */
  CHECK_EQ(tr_host_run(h), TR_OK); /* returns at once */
  CHECK_STR(order, "p");
  tr_host_stop(h); /* after the end: harmless too */
  tr_host_free(h);
  CHECK_STR(order, "p");
}

/* Terminate callbacks still run with the older actors alive: they may send
 * to them (the mail is then dropped as a dead letter), but not spawn. */
static void test_terminate_during_shutdown(void) {
  tr_host *h = tr_host_new(NULL);
  tr_pid older;
  int spawn_rc = 1;

  order_reset();
  older = spawn_member(h, 'o', 0, NULL);
  spawn_member(h, 'n', older, &spawn_rc);
  tr_host_stop(h);
  CHECK_EQ(tr_host_step(h), TR_ESTOPPED);
  CHECK_STR(order, "no");
  CHECK_EQ(spawn_rc, TR_ESTOPPED);
  CHECK_EQ(stats_of(h).dead_letters, 1); /* the "bye" o never handled */
  CHECK_EQ(stats_of(h).actors, 0);
  tr_host_free(h);
}

/* Links and monitors stay quiet while the host ends everyone: every actor
 * ends with "shutdown", none with a reason passed along a link. */
static void test_links_quiet_during_shutdown(void) {
  tr_host *h = tr_host_new(NULL);
  tr_spawn_opts o = {0};
  tr_pid a, b, c;

  order_reset();
  a = spawn_member(h, 'a', 0, NULL);
  o.trap_exit = 1;
  o.link = a;
  CHECK_EQ(tr_spawn(h, &member_b,
                    tr_msg_pack("a", "ipI", 'b', (tr_pid)0, (int64_t)0), &o,
                    &b),
           TR_OK);
  c = spawn_member(h, 'c', 0, NULL);
  CHECK_EQ(tr_link(h, c, a), TR_OK);
  CHECK(tr_monitor(h, a, c, NULL) == TR_OK);
  CHECK(tr_monitor(h, c, a, NULL) == TR_OK);
  tr_host_free(h);
  CHECK_STR(order, "cba");
  CHECK_EQ(not_shutdown, 0);
}

/* Everything that can be pending when the host ends is freed with it. */
static int holder_handle(tr_actor *self, void *state, tr_msg *m) {
  (void)self, (void)state, (void)m;
  return TR_YIELD; /* never done: its mail stays queued */
}

static void test_leftovers_are_freed(void) {
  static const tr_behaviour holder = {"holder", 64, NULL, holder_handle, NULL};
  tr_host *h = tr_host_new(NULL);
  tr_spawn_opts o = {0};
  tr_pid a, b, full;
  char big[4096];
  uint64_t session;
  int i, queued = 0;

  memset(big, 'x', sizeof big);
  o.name = "holder-a";
  CHECK_EQ(tr_spawn(h, &holder, NULL, &o, &a), TR_OK);
  CHECK_EQ(tr_spawn(h, &holder, NULL, NULL, &b), TR_OK);
  o.name = NULL;
  o.capacity = 1;
  CHECK_EQ(tr_spawn(h, &holder, NULL, &o, &full), TR_OK);

  /* a takes one message and yields forever; the rest stay queued. */
  CHECK_EQ(tr_send(h, 0, a, tr_msg_new("first")), TR_OK);
  CHECK_EQ(tr_host_step(h), 1);
  for (i = 0; i < 50; i++) {
    queued += tr_send(h, 0, a, tr_msg_pack("small", "i", i)) == TR_OK;
    queued +=
        tr_send(h, 0, b, tr_msg_pack("big", "S", big, sizeof big)) == TR_OK;
  }
  CHECK_EQ(queued, 100);
  queued += tr_send(h, 0, full, tr_msg_new("fill")) == TR_OK;
  CHECK_EQ(tr_call(h, a, b, tr_msg_new("call"), 60000, &session), TR_OK);
  queued++;
  CHECK_EQ(
      tr_after(h, b, 60000, tr_msg_pack("later", "S", big, sizeof big), NULL),
      TR_OK);
  CHECK(tr_timeout(h, a, 60000, NULL) == TR_OK);
  CHECK(tr_monitor(h, a, b, NULL) == TR_OK);
  CHECK_EQ(tr_link(h, a, b), TR_OK);
  CHECK(tr_notify_room(h, b, full, 0, NULL) == TR_OK);
  CHECK(tr_notify_room(h, a, full, 60000, NULL) == TR_OK);
  CHECK_EQ(tr_register(h, "holder-b", b), TR_OK);
  CHECK_EQ(stats_of(h).timers, 4);

  /* Stopped before the loop runs again: nobody handles anything more. */
  tr_host_stop(h);
  CHECK_EQ(tr_host_run(h), TR_OK);
  CHECK_EQ(stats_of(h).dead_letters, (uint64_t)queued);
  CHECK_EQ(stats_of(h).timers, 0);
  CHECK_EQ(stats_of(h).actors, 0);
  CHECK_EQ(tr_whereis(h, "holder-a"), 0);
  tr_host_free(h);
}

/* The same without a stop first: tr_host_free alone cleans up. */
static void test_free_alone_frees_leftovers(void) {
  static const tr_behaviour holder = {"holder", 0, NULL, holder_handle, NULL};
  tr_host *h = tr_host_new(NULL);
  tr_pid a;
  int i;
  CHECK_EQ(tr_spawn(h, &holder, NULL, NULL, &a), TR_OK);
  for (i = 0; i < 100; i++)
    CHECK_EQ(tr_send(h, 0, a, tr_msg_pack("m", "i", i)), TR_OK);
  CHECK_EQ(tr_after(h, a, 60000, tr_msg_new("later"), NULL), TR_OK);
  tr_host_step(h);
  tr_host_free(h);
}

static void test_stopped_host_refuses_everything(void) {
  tr_host *h = tr_host_new(NULL);
  tr_pid a = spawn_member(h, 'a', 0, NULL);
  tr_msg *reply = NULL;
  uint64_t session = 1, timer = 1;

  order_reset();
  CHECK_EQ(tr_register(h, "a", a), TR_OK);
  tr_host_stop(h);
  CHECK_EQ(tr_host_run(h), TR_OK);
  CHECK_STR(order, "a");

  CHECK_EQ(tr_send(h, 0, a, tr_msg_new("x")), TR_ESTOPPED);
  CHECK_EQ(tr_send_named(h, 0, "a", tr_msg_new("x")), TR_ESTOPPED);
  CHECK_EQ(tr_spawn(h, &member_b,
                    tr_msg_pack("a", "ipI", 'q', (tr_pid)0, (int64_t)0), NULL,
                    NULL),
           TR_ESTOPPED);
  CHECK_EQ(tr_after(h, a, 1, tr_msg_new("x"), &timer), TR_ESTOPPED);
  CHECK_EQ(timer, 0);
  CHECK_EQ(tr_timeout(h, a, 1, &timer), TR_ESTOPPED);
  CHECK_EQ(timer, 0);
  CHECK_EQ(tr_call(h, a, a, tr_msg_new("x"), 0, &session), TR_ESTOPPED);
  CHECK_EQ(session, 0);
  CHECK_EQ(tr_host_call(h, a, tr_msg_new("x"), 10, &reply), TR_ESTOPPED);
  CHECK(reply == NULL);
  CHECK_EQ(tr_host_step(h), TR_ESTOPPED);
  CHECK_EQ(tr_host_run(h), TR_ESTOPPED);
  CHECK_STR(order, "a"); /* nothing was started */
  tr_host_free(h);
}

int main(void) {
  RUN(test_run_stops_newest_first);
  RUN(test_free_without_run);
  RUN(test_stop_before_run_and_twice);
  RUN(test_terminate_during_shutdown);
  RUN(test_links_quiet_during_shutdown);
  RUN(test_leftovers_are_freed);
  RUN(test_free_alone_frees_leftovers);
  RUN(test_stopped_host_refuses_everything);
  return test_report();
}
