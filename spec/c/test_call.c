/*
 * test_call.c -- request and response: the round trip, timeouts, a callee
 * that dies (the caller hears at once), late replies, forwarding that
 * keeps the caller, tr_host_call from outside any actor.
 */
#include <stdint.h>
#include <stdlib.h>

#include "test.h"

/* ------------------------------------------------------------ helpers */

#define MAX_ANSWERS 16

/* What a client actor received, in order. */
typedef struct answers {
  int n;
  int kinds[MAX_ANSWERS];
  uint64_t sessions[MAX_ANSWERS];
  tr_pid from[MAX_ANSWERS];
  char names[MAX_ANSWERS][16];
  char text[MAX_ANSWERS][32]; /* first argument when a string */
  int64_t num[MAX_ANSWERS];   /* first argument when an int */
  int inner_rc;               /* what a call made inside a callback gave */
} answers;

static int client_init(tr_actor *self, void *state, tr_msg *args) {
  (void)args;
  *(answers **)state = tr_actor_ctx(self);
  return 0;
}

/* Records everything; "hostcall"(pid) tries tr_host_call from inside. */
static int client_handle(tr_actor *self, void *state, tr_msg *m) {
  answers *a = *(answers **)state;
  const char *s;
  size_t len;
  tr_pid to;
  int i = a->n;
  if (!m || i == MAX_ANSWERS)
    return TR_CONTINUE;
  a->kinds[i] = tr_msg_kind(m);
  a->sessions[i] = tr_msg_session(m);
  a->from[i] = tr_msg_from(m);
  s = tr_msg_name(m, &len);
  test_copy_str(a->names[i], sizeof a->names[i], s, len);
  a->text[i][0] = '\0';
  if (tr_value_str(tr_msg_arg(m, 0), &s, &len) == 0)
    test_copy_str(a->text[i], sizeof a->text[i], s, len);
  a->num[i] = -1;
  tr_value_int(tr_msg_arg(m, 0), &a->num[i]);
  a->n++;
  if (tr_msg_is(m, "hostcall") && tr_msg_unpack(m, "p", &to) == 0) {
    tr_msg *reply = NULL;
    a->inner_rc = tr_host_call(tr_actor_host(self), to,
                               tr_msg_pack("add", "ii", 1, 1), 100, &reply);
    tr_msg_free(reply);
  }
  return TR_CONTINUE;
}

static const tr_behaviour client_b = {"client", sizeof(answers *), client_init,
                                      client_handle, NULL};

/* A server: "add"(a, b) answers "sum"(a + b); "hold" is kept unanswered
 * until a "release" message, which replies to it (the result of that
 * tr_reply lands in *late_rc); "die" ends the server mid-call; a plain
 * "notcall" tries tr_reply on itself. */
typedef struct server {
  tr_msg *kept;
  int *late_rc;
} server;

static int server_init(tr_actor *self, void *state, tr_msg *args) {
  server *s = state;
  (void)args;
  s->late_rc = tr_actor_ctx(self);
  return 0;
}

static int server_handle(tr_actor *self, void *state, tr_msg *m) {
  server *s = state;
  tr_host *h = tr_actor_host(self);
  int a, b;
  if (!m)
    return TR_CONTINUE;
  if (tr_msg_is(m, "add") && tr_msg_unpack(m, "ii", &a, &b) == 0) {
    CHECK_EQ(tr_reply(h, m, tr_msg_pack("sum", "i", a + b)), TR_OK);
  } else if (tr_msg_is(m, "hold")) {
    tr_msg_free(s->kept);
    s->kept = tr_msg_clone(m);
  } else if (tr_msg_is(m, "release") && s->kept) {
    *s->late_rc = tr_reply(h, s->kept, tr_msg_new("late"));
    tr_msg_free(s->kept);
    s->kept = NULL;
  } else if (tr_msg_is(m, "die")) {
    tr_exit(self, "crashed");
  } else if (tr_msg_is(m, "notcall")) {
    *s->late_rc = tr_reply(h, m, tr_msg_new("nope"));
  }
  return TR_CONTINUE;
}

static void server_terminate(tr_actor *self, void *state, const char *why) {
  server *s = state;
  (void)self, (void)why;
  tr_msg_free(s->kept);
}

static const tr_behaviour server_b = {"server", sizeof(server), server_init,
                                      server_handle, server_terminate};

/* A router: forwards every call to the pid it was spawned with; what the
 * last tr_forward returned lands in forward_rc. */
static int forward_rc;

static int router_init(tr_actor *self, void *state, tr_msg *args) {
  (void)self;
  return tr_msg_unpack(args, "p", (tr_pid *)state);
}

static int router_handle(tr_actor *self, void *state, tr_msg *m) {
  if (m && tr_msg_kind(m) == TR_KIND_CALL)
    forward_rc = tr_forward(tr_actor_host(self), *(tr_pid *)state, m);
  return TR_CONTINUE;
}

static const tr_behaviour router_b = {"router", sizeof(tr_pid), router_init,
                                      router_handle, NULL};

/* A translator: passes every call on as "add"(10, 20), with tr_forward_as;
 * what that returned lands in forward_rc. */
static int translator_handle(tr_actor *self, void *state, tr_msg *m) {
  if (m && tr_msg_kind(m) == TR_KIND_CALL)
    forward_rc = tr_forward_as(tr_actor_host(self), *(tr_pid *)state, m,
                               tr_msg_pack("add", "ii", 10, 20));
  return TR_CONTINUE;
}

static const tr_behaviour translator_b = {"translator", sizeof(tr_pid),
                                          router_init, translator_handle, NULL};

static tr_pid spawn_with(tr_host *h, const tr_behaviour *b, void *arg) {
  tr_pid pid = 0;
  CHECK_EQ(test_spawn_ctx(h, b, arg, NULL, &pid), TR_OK);
  return pid;
}

static int call(tr_host *h, tr_pid from, tr_pid to, const char *name,
                uint32_t timeout_ms, uint64_t *session) {
  return tr_call(h, from, to, tr_msg_pack(name, "ii", 2, 3), timeout_ms,
                 session);
}

/* Steps h until a has n answers (deadline 1 s). */
static int wait_answers(tr_host *h, answers *a, int n) {
  uint64_t end = uv_hrtime() + 1000000000u;
  while (a->n < n && uv_hrtime() < end)
    if (tr_host_step(h) < 0)
      break;
  return a->n >= n;
}

static void steps(tr_host *h, int n) {
  while (n--)
    tr_host_step(h);
}

static tr_host_stats stats_of(tr_host *h) {
  tr_host_stats st;
  tr_host_get_stats(h, &st);
  return st;
}

/* The server answers the call it holds after the call is over: the reply
 * is dropped (tr_reply says TR_ENOPROC) and counted as late. */
static void release_late(tr_host *h, tr_pid s, const int *late) {
  CHECK_EQ(tr_send(h, 0, s, tr_msg_new("release")), TR_OK);
  steps(h, 10);
  CHECK_EQ(*late, TR_ENOPROC);
  CHECK_EQ(stats_of(h).late_replies, 1);
}

/* -------------------------------------------------------------- tests */

static void test_round_trip(void) {
  tr_host *h = tr_host_new(NULL);
  answers a = {0};
  int late = 0;
  tr_pid c = spawn_with(h, &client_b, &a), s = spawn_with(h, &server_b, &late);
  uint64_t s1 = 0, s2 = 0;

  CHECK_EQ(call(h, c, s, "add", 1000, &s1), TR_OK);
  CHECK_EQ(call(h, c, s, "add", 0, &s2), TR_OK);
  CHECK(s1 != 0 && s2 != 0 && s1 != s2);
  CHECK_EQ(stats_of(h).timers, 1); /* the first call's deadline */
  CHECK(wait_answers(h, &a, 2));
  CHECK_EQ(a.kinds[0], TR_KIND_REPLY);
  CHECK_STR(a.names[0], "sum");
  CHECK_EQ(a.num[0], 5);
  CHECK_EQ(a.sessions[0], s1);
  CHECK_EQ(a.from[0], s);
  CHECK_EQ(a.kinds[1], TR_KIND_REPLY);
  CHECK_EQ(a.sessions[1], s2);
  CHECK_EQ(stats_of(h).timers, 0); /* answered: the deadline is gone */
  steps(h, 10);
  CHECK_EQ(a.n, 2); /* exactly one answer per call */
  CHECK_EQ(stats_of(h).late_replies, 0);
  tr_host_free(h);
}

static void test_timeout_then_late_reply(void) {
  tr_host *h = tr_host_new(NULL);
  answers a = {0};
  int late = 1;
  tr_pid c = spawn_with(h, &client_b, &a), s = spawn_with(h, &server_b, &late);
  uint64_t session = 0, start;

  uv_update_time(tr_host_loop(h));
  start = uv_now(tr_host_loop(h));
  CHECK_EQ(call(h, c, s, "hold", 20, &session), TR_OK);
  CHECK(wait_answers(h, &a, 1));
  CHECK(uv_now(tr_host_loop(h)) - start >= 20);
  CHECK_EQ(a.kinds[0], TR_KIND_ERROR);
  CHECK_STR(a.names[0], "timeout");
  CHECK_EQ(a.sessions[0], session);

  release_late(h, s, &late);
  CHECK_EQ(a.n, 1);
  tr_host_free(h);
}

/* tr_call_cancel ends the call at once as "cancelled"; the callee's
 * answer is late, and a call over or someone else's cannot be cancelled. */
static void test_cancel(void) {
  tr_host *h = tr_host_new(NULL);
  answers a = {0};
  int late = 1;
  tr_pid c = spawn_with(h, &client_b, &a), s = spawn_with(h, &server_b, &late);
  uint64_t session = 0;

  CHECK_EQ(call(h, c, s, "hold", 100000, &session), TR_OK);
  steps(h, 10); /* the server holds it */
  CHECK_EQ(a.n, 0);
  CHECK_EQ(tr_call_cancel(h, s, session), TR_ENOPROC); /* not s's call */
  CHECK_EQ(tr_call_cancel(h, c, session), TR_OK);
  CHECK(wait_answers(h, &a, 1));
  CHECK_EQ(a.kinds[0], TR_KIND_ERROR);
  CHECK_STR(a.names[0], "cancelled");
  CHECK_EQ(a.sessions[0], session);
  CHECK_EQ(a.from[0], s);
  CHECK_EQ(stats_of(h).timers, 0); /* its deadline went with it */
  CHECK_EQ(tr_call_cancel(h, c, session), TR_ENOPROC); /* over */

  release_late(h, s, &late);
  CHECK_EQ(a.n, 1);
  tr_host_free(h);
}

static void test_callee_death_fails_the_call_at_once(void) {
  tr_host *h = tr_host_new(NULL);
  answers a = {0};
  int late = 0;
  tr_pid c = spawn_with(h, &client_b, &a), s = spawn_with(h, &server_b, &late);
  uint64_t session = 0, start = uv_hrtime();

  /* Killed while holding the call. */
  CHECK_EQ(call(h, c, s, "hold", 10000, &session), TR_OK);
  steps(h, 3);
  CHECK_EQ(tr_kill(h, s, "crashed"), TR_OK);
  CHECK(wait_answers(h, &a, 1)); /* 1 s, not the 10 s timeout */
  CHECK(uv_hrtime() - start < 2000000000u);
  CHECK_EQ(a.kinds[0], TR_KIND_ERROR);
  CHECK_STR(a.names[0], "down");
  CHECK_STR(a.text[0], "crashed");
  CHECK_EQ(a.sessions[0], session);
  CHECK_EQ(a.from[0], s);
  CHECK_EQ(stats_of(h).timers, 0);

  /* Ending itself while handling the call. */
  s = spawn_with(h, &server_b, &late);
  CHECK_EQ(call(h, c, s, "die", 10000, &session), TR_OK);
  CHECK(wait_answers(h, &a, 2));
  CHECK_STR(a.names[1], "down");
  CHECK_STR(a.text[1], "crashed");
  CHECK_EQ(a.sessions[1], session);

  /* Even a normal end fails the call: no reply will come. */
  s = spawn_with(h, &server_b, &late);
  CHECK_EQ(call(h, c, s, "hold", 10000, &session), TR_OK);
  CHECK_EQ(tr_kill(h, s, "normal"), TR_OK);
  CHECK(wait_answers(h, &a, 3));
  CHECK_STR(a.names[2], "down");
  CHECK_STR(a.text[2], "normal");
  CHECK_EQ(stats_of(h).timers, 0);
  tr_host_free(h);
}

static void test_caller_death_makes_the_reply_late(void) {
  tr_host *h = tr_host_new(NULL);
  answers a = {0};
  int late = 1;
  tr_pid c = spawn_with(h, &client_b, &a), s = spawn_with(h, &server_b, &late);
  uint64_t session = 0;

  CHECK_EQ(call(h, c, s, "hold", 10000, &session), TR_OK);
  steps(h, 3);
  CHECK_EQ(tr_kill(h, c, "normal"), TR_OK);
  CHECK_EQ(stats_of(h).timers, 0); /* its deadline went with it */
  release_late(h, s, &late);
  tr_host_free(h);
}

static void test_refused_calls(void) {
  tr_host *h = tr_host_new(NULL);
  answers a = {0};
  int late = 0;
  tr_pid c = spawn_with(h, &client_b, &a), s = spawn_with(h, &server_b, &late);
  tr_pid dead = spawn_with(h, &server_b, &late), full;
  tr_spawn_opts o = {0};
  uint64_t session = 77;

  CHECK_EQ(tr_kill(h, dead, "normal"), TR_OK);
  CHECK_EQ(call(h, c, dead, "add", 1000, &session), TR_ENOPROC);
  CHECK_EQ(session, 0);
  CHECK_EQ(stats_of(h).dead_letters, 1);

  /* Only an actor can call: the answer needs a mailbox. */
  CHECK_EQ(call(h, 0, s, "add", 1000, &session), TR_EINVAL);
  CHECK_EQ(call(h, dead, s, "add", 1000, &session), TR_EINVAL);
  CHECK_EQ(tr_call(h, c, s, NULL, 0, &session), TR_EINVAL);
  CHECK_EQ(tr_call(NULL, c, s, tr_msg_new("x"), 0, &session), TR_EINVAL);

  o.capacity = 1;
  CHECK_EQ(tr_spawn(h, &server_b, tr_msg_pack("a", "I", (int64_t)0), &o, &full),
           TR_OK);
  CHECK_EQ(tr_send(h, 0, full, tr_msg_new("filler")), TR_OK);
  CHECK_EQ(call(h, c, full, "add", 1000, &session), TR_EFULL);
  CHECK_EQ(stats_of(h).dead_letters, 2);
  CHECK_EQ(stats_of(h).timers, 0);
  steps(h, 5);
  CHECK_EQ(a.n, 0); /* a refused call sends no error message too */
  tr_host_free(h);
}

static void test_reply_misuse(void) {
  tr_host *h = tr_host_new(NULL);
  answers a = {0};
  int rc = 1;
  tr_pid c = spawn_with(h, &client_b, &a), s = spawn_with(h, &server_b, &rc);
  uint64_t session = 0;

  /* tr_reply to a plain message. */
  CHECK_EQ(tr_send(h, c, s, tr_msg_new("notcall")), TR_OK);
  steps(h, 3);
  CHECK_EQ(rc, TR_EINVAL);
  CHECK_EQ(tr_reply(h, NULL, tr_msg_new("x")), TR_EINVAL);

  /* Replies to the wrong caller or a made-up session are late. */
  CHECK_EQ(call(h, c, s, "hold", 0, &session), TR_OK);
  steps(h, 3);
  CHECK_EQ(tr_reply_to(h, s, session, tr_msg_new("x")), TR_ENOPROC);
  CHECK_EQ(tr_reply_to(h, c, session + 1, tr_msg_new("x")), TR_ENOPROC);
  CHECK_EQ(stats_of(h).late_replies, 2);
  /* The right one gets through, once. */
  CHECK_EQ(tr_reply_to(h, c, session, tr_msg_new("direct")), TR_OK);
  CHECK_EQ(tr_reply_to(h, c, session, tr_msg_new("again")), TR_ENOPROC);
  CHECK(wait_answers(h, &a, 1));
  CHECK_STR(a.names[0], "direct");
  CHECK_EQ(a.kinds[0], TR_KIND_REPLY);
  CHECK_EQ(stats_of(h).late_replies, 3);
  steps(h, 3);
  CHECK_EQ(a.n, 1);
  tr_host_free(h);
}

static void test_forward_keeps_the_caller(void) {
  tr_host *h = tr_host_new(NULL);
  answers a = {0};
  int late = 0;
  tr_pid c = spawn_with(h, &client_b, &a), s = spawn_with(h, &server_b, &late);
  tr_pid r;
  uint64_t session = 0;

  CHECK_EQ(tr_spawn(h, &router_b, tr_msg_pack("a", "p", s), NULL, &r), TR_OK);
  CHECK_EQ(call(h, c, r, "add", 1000, &session), TR_OK);
  CHECK(wait_answers(h, &a, 1));
  CHECK_EQ(a.kinds[0], TR_KIND_REPLY);
  CHECK_EQ(a.num[0], 5);
  CHECK_EQ(a.sessions[0], session);
  CHECK_EQ(a.from[0], s); /* straight from the server */

  /* After forwarding, the new callee's death fails the call at once. */
  CHECK_EQ(call(h, c, r, "hold", 10000, &session), TR_OK);
  steps(h, 5);
  CHECK_EQ(a.n, 1);
  CHECK_EQ(tr_kill(h, s, "crashed"), TR_OK);
  CHECK(wait_answers(h, &a, 2));
  CHECK_EQ(a.kinds[1], TR_KIND_ERROR);
  CHECK_STR(a.names[1], "down");
  CHECK_STR(a.text[1], "crashed");
  CHECK_EQ(a.sessions[1], session);
  CHECK(tr_alive(h, r));
  tr_host_free(h);
}

/* tr_forward_as: the new message reaches the server as the caller's
 * call, whose answer (to the new message) goes straight back. */
static void test_forward_as(void) {
  tr_host *h = tr_host_new(NULL);
  answers a = {0};
  int late = 0;
  tr_pid c = spawn_with(h, &client_b, &a), s = spawn_with(h, &server_b, &late);
  tr_pid t;
  uint64_t session = 0;

  CHECK_EQ(tr_spawn(h, &translator_b, tr_msg_pack("a", "p", s), NULL, &t),
           TR_OK);
  CHECK_EQ(call(h, c, t, "anything", 1000, &session), TR_OK);
  CHECK(wait_answers(h, &a, 1));
  CHECK_EQ(forward_rc, TR_OK);
  CHECK_EQ(a.kinds[0], TR_KIND_REPLY);
  CHECK_EQ(a.num[0], 30);
  CHECK_EQ(a.sessions[0], session);
  CHECK_EQ(a.from[0], s);
  CHECK_EQ(tr_forward_as(h, s, NULL, tr_msg_new("x")), TR_EINVAL);
  tr_host_free(h);
}

static void test_forward_then_router_dies(void) {
  tr_host *h = tr_host_new(NULL);
  answers a = {0};
  int late = 1;
  tr_pid c = spawn_with(h, &client_b, &a), s = spawn_with(h, &server_b, &late);
  tr_pid r;
  uint64_t session = 0;

  CHECK_EQ(tr_spawn(h, &router_b, tr_msg_pack("a", "p", s), NULL, &r), TR_OK);
  CHECK_EQ(call(h, c, r, "hold", 10000, &session), TR_OK);
  steps(h, 5);
  /* The router is out of the call once it forwarded it. */
  CHECK_EQ(tr_kill(h, r, "crashed"), TR_OK);
  steps(h, 5);
  CHECK_EQ(a.n, 0);
  CHECK_EQ(tr_send(h, 0, s, tr_msg_new("release")), TR_OK);
  CHECK(wait_answers(h, &a, 1));
  CHECK_EQ(late, TR_OK);
  CHECK_EQ(a.kinds[0], TR_KIND_REPLY);
  CHECK_STR(a.names[0], "late");
  CHECK_EQ(a.sessions[0], session);
  tr_host_free(h);
}

static void test_forward_to_dead_or_full(void) {
  tr_host *h = tr_host_new(NULL);
  answers a = {0};
  int late = 0;
  tr_pid c = spawn_with(h, &client_b, &a), s = spawn_with(h, &server_b, &late);
  tr_pid r, r2, full;
  tr_spawn_opts o = {0};
  uint64_t session = 0;

  CHECK_EQ(tr_kill(h, s, "normal"), TR_OK);
  CHECK_EQ(tr_spawn(h, &router_b, tr_msg_pack("a", "p", s), NULL, &r), TR_OK);
  forward_rc = 1;
  CHECK_EQ(call(h, c, r, "add", 10000, &session), TR_OK);
  CHECK(wait_answers(h, &a, 1)); /* at once, not in 10 s */
  CHECK_EQ(forward_rc, TR_ENOPROC);
  CHECK_EQ(a.kinds[0], TR_KIND_ERROR);
  CHECK_STR(a.names[0], "noproc");
  CHECK_EQ(a.sessions[0], session);

  o.capacity = 1;
  CHECK_EQ(tr_spawn(h, &server_b, tr_msg_pack("a", "I", (int64_t)0), &o, &full),
           TR_OK);
  CHECK_EQ(tr_spawn(h, &router_b, tr_msg_pack("a", "p", full), NULL, &r2),
           TR_OK);
  forward_rc = 1;
  CHECK_EQ(call(h, c, r2, "add", 10000, &session), TR_OK);
  /* The router runs before `full` takes its filler: still full. */
  CHECK_EQ(tr_send(h, 0, full, tr_msg_new("filler")), TR_OK);
  CHECK(wait_answers(h, &a, 2));
  CHECK_EQ(forward_rc, TR_EFULL);
  CHECK_EQ(a.kinds[1], TR_KIND_ERROR);
  CHECK_STR(a.names[1], "full");
  CHECK_EQ(a.sessions[1], session);
  CHECK_EQ(stats_of(h).timers, 0);
  tr_host_free(h);
}

static void test_host_call(void) {
  tr_host *h = tr_host_new(NULL);
  answers a = {0};
  int late = 1;
  tr_pid s = spawn_with(h, &server_b, &late), c, dead;
  static char junk;
  tr_msg *reply = NULL;
  int sum = 0;

  CHECK_EQ(tr_host_call(h, s, tr_msg_pack("add", "ii", 20, 22), 1000, &reply),
           TR_OK);
  CHECK(reply != NULL);
  CHECK(tr_msg_is(reply, "sum"));
  CHECK_EQ(tr_msg_kind(reply), TR_KIND_REPLY);
  CHECK_EQ(tr_msg_unpack(reply, "i", &sum), TR_OK);
  CHECK_EQ(sum, 42);
  tr_msg_free(reply);
  CHECK_EQ(stats_of(h).actors, 1); /* the hidden waiter is gone */

  reply = (tr_msg *)&junk; /* a failed call sets *reply to NULL */
  CHECK_EQ(tr_host_call(h, s, tr_msg_new("hold"), 20, &reply), TR_ETIMEDOUT);
  CHECK(reply == NULL);
  release_late(h, s, &late);

  dead = spawn_with(h, &server_b, &late);
  CHECK_EQ(tr_kill(h, dead, "normal"), TR_OK);
  reply = (tr_msg *)&junk;
  CHECK_EQ(tr_host_call(h, dead, tr_msg_new("add"), 1000, &reply), TR_ENOPROC);
  CHECK(reply == NULL);
  CHECK_EQ(tr_host_call(h, s, tr_msg_new("die"), 10000, &reply), TR_ENOPROC);
  CHECK(!tr_alive(h, s));
  CHECK_EQ(tr_host_call(h, s, tr_msg_new("x"), 1000, NULL), TR_EINVAL);
  CHECK_EQ(stats_of(h).actors, 0);
  CHECK_EQ(stats_of(h).timers, 0);

  /* Not from inside a callback: uv_run may not run in its own callback. */
  s = spawn_with(h, &server_b, &late);
  c = spawn_with(h, &client_b, &a);
  CHECK_EQ(tr_send(h, 0, c, tr_msg_pack("hostcall", "p", s)), TR_OK);
  CHECK(wait_answers(h, &a, 1));
  CHECK_EQ(a.inner_rc, TR_EINVAL);
  tr_host_free(h);
}

/* tr_reply_error: a TR_KIND_ERROR named "error" with the formatted text,
 * however long; only to a call. tr_host_call gives it as TR_EREPLY. */
static int refuser_handle(tr_actor *self, void *state, tr_msg *m) {
  int *sent_to_send = state;
  if (m && tr_msg_kind(m) == TR_KIND_CALL && tr_msg_is(m, "long"))
    tr_reply_error(tr_actor_host(self), m, "%03000d", 7);
  else if (m && tr_msg_kind(m) == TR_KIND_CALL)
    tr_reply_error(tr_actor_host(self), m, "no %s for %d", "thanks", 42);
  else if (m)
    *sent_to_send = tr_reply_error(tr_actor_host(self), m, "unused");
  return TR_CONTINUE;
}

static const tr_behaviour refuser_b = {"refuser", sizeof(int), NULL,
                                       refuser_handle, NULL};

static void test_reply_error(void) {
  tr_host *h = tr_host_new(NULL);
  tr_pid r;
  tr_msg *reply = NULL;
  const char *text;
  size_t len;
  CHECK_EQ(tr_spawn(h, &refuser_b, NULL, NULL, &r), TR_OK);
  CHECK_EQ(tr_host_call(h, r, tr_msg_new("ask"), 1000, &reply), TR_EREPLY);
  CHECK(reply && tr_msg_is(reply, "error"));
  CHECK_EQ(tr_msg_kind(reply), TR_KIND_ERROR);
  CHECK_EQ(tr_msg_unpack(reply, "s", &text, &len), TR_OK);
  CHECK(len == 16 && memcmp(text, "no thanks for 42", 16) == 0);
  tr_msg_free(reply);
  CHECK_EQ(tr_host_call(h, r, tr_msg_new("long"), 1000, &reply), TR_EREPLY);
  CHECK(reply && tr_msg_unpack(reply, "s", &text, &len) == TR_OK);
  CHECK(len == 3000 && text[2999] == '7');
  tr_msg_free(reply);
  CHECK_EQ(tr_reply_error(h, NULL, "x"), TR_EINVAL);
  tr_host_free(h);
}

int main(void) {
  RUN(test_reply_error);
  RUN(test_round_trip);
  RUN(test_timeout_then_late_reply);
  RUN(test_cancel);
  RUN(test_callee_death_fails_the_call_at_once);
  RUN(test_caller_death_makes_the_reply_late);
  RUN(test_refused_calls);
  RUN(test_reply_misuse);
  RUN(test_forward_keeps_the_caller);
  RUN(test_forward_as);
  RUN(test_forward_then_router_dies);
  RUN(test_forward_to_dead_or_full);
  RUN(test_host_call);
  return test_report();
}
