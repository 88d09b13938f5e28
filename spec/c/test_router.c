/*
 * test_router.c -- the router: registered as "router", it forwards by
 * destination name keeping the caller (the reply comes straight from the
 * child), answers unknown destinations with an error, starts lazy services
 * on their first message, holds messages while a child restarts and hands
 * them, in order, to the new instance -- with what the dead child had
 * queued coming back to it first -- holds for a full child until it has
 * room, resets a child on request, answers for a service that gave up, and
 * frees what it holds when it ends.
 */
#include <stdint.h>
#include <stdlib.h>

#include "test.h"
#include "troupe_services.h"

/* ------------------------------------------------------------ helpers */

static uint64_t loop_now(tr_host *h) { return uv_now(tr_host_loop(h)); }

/* The test's view of every instance of one child ("echo"). */
#define MAX_SEEN 4096

typedef struct echo_arg {
  const char *name;       /* what it answers to (its spec's name) */
  int attempts;           /* start calls */
  int starts;             /* starts that worked: the instance number */
  int frees;              /* free_arg calls */
  int fail_from;          /* start attempt (1-based) from which starts fail */
  uint32_t capacity;      /* its mailbox capacity; 0 for the default */
  int hold;               /* while set, a paused instance stays paused */
  tr_pid pid;             /* the latest instance */
  int nseen;              /* sends and calls taken, all instances: */
  int64_t seen[MAX_SEEN]; /* their n */
  int instance[MAX_SEEN]; /* which instance took each */
  char reason[32];        /* the last instance's end reason */
} echo_arg;

typedef struct echo_state {
  echo_arg *a;
  int instance;
  int paused;
} echo_state;

static int echo_init(tr_actor *self, void *state, tr_msg *args) {
  echo_state *s = state;
  if (tr_msg_unpack(args, "i", &s->instance))
    return -1;
  s->a = tr_actor_ctx(self);
  return 0;
}

/* Messages are named after it and carry (op, n). A call is answered
 * reply(op, n, instance). op "crash" ends it ("crash"); op "pause" answers
 * and then takes no mail while the arg's hold flag is set; op "stick"
 * does the same without answering (a stuck actor). */
static int echo_handle(tr_actor *self, void *state, tr_msg *m) {
  echo_state *s = state;
  tr_host *h = tr_actor_host(self);
  const char *op = "";
  size_t oplen = 0;
  int64_t n = -1;
  if (!m) {
    if (s->paused && s->a->hold)
      return TR_YIELD;
    s->paused = 0;
    return TR_CONTINUE;
  }
  tr_msg_unpack(m, "sI", &op, &oplen, &n);
  if (s->a->nseen < MAX_SEEN) {
    s->a->seen[s->a->nseen] = n;
    s->a->instance[s->a->nseen++] = s->instance;
  }
  if (oplen == 5 && !memcmp(op, "crash", 5)) {
    tr_exit(self, "crash");
    return TR_CONTINUE;
  }
  if (oplen == 5 && !memcmp(op, "stick", 5)) {
    s->paused = 1;
    return TR_YIELD;
  }
  if (tr_msg_kind(m) == TR_KIND_CALL)
    tr_reply(h, m, tr_msg_pack("reply", "SIi", op, oplen, n, s->instance));
  if (oplen == 5 && !memcmp(op, "pause", 5)) {
    s->paused = 1;
    return TR_YIELD;
  }
  return TR_CONTINUE;
}

static void echo_terminate(tr_actor *self, void *state, const char *why) {
  echo_state *s = state;
  (void)self;
  snprintf(s->a->reason, sizeof s->a->reason, "%s", why);
}

static const tr_behaviour echo_b = {"echo", sizeof(echo_state), echo_init,
                                    echo_handle, echo_terminate};

static int echo_start(tr_host *h, void *arg, tr_pid *out) {
  echo_arg *a = arg;
  tr_spawn_opts o = {0};
  int rc;
  a->attempts++;
  if (a->fail_from && a->attempts >= a->fail_from)
    return TR_EINIT;
  o.capacity = a->capacity;
  o.ctx = a;
  rc = tr_spawn(h, &echo_b, tr_msg_pack("a", "i", a->starts + 1), &o, out);
  if (rc)
    return rc;
  a->starts++;
  a->pid = *out;
  return TR_OK;
}

static void echo_free(void *arg) { ((echo_arg *)arg)->frees++; }

static tr_child_spec echo_spec(echo_arg *a) {
  tr_child_spec c;
  memset(&c, 0, sizeof c);
  c.name = a->name;
  c.start = echo_start;
  c.arg = a;
  c.free_arg = echo_free;
  c.restart = TR_PERMANENT;
  c.cutoff_ms = UINT32_MAX; /* a paused child is not stuck: the test says */
  return c;
}

/* A client: makes calls (through the test) and keeps every answer. */
#define MAX_CALLS 2048

typedef struct answer {
  int kind;
  char name[16];
  char text[80]; /* the first argument, when a string */
  int64_t n;     /* reply(op, n, instance) */
  int instance;
  tr_pid from;
  uint64_t session;
} answer;

typedef struct client {
  tr_pid pid;
  int ncalls;
  uint64_t sessions[MAX_CALLS];
  int64_t ns[MAX_CALLS];
  int nanswers;
  answer answers[MAX_CALLS];
} client;

static int client_handle(tr_actor *self, void *state, tr_msg *m) {
  client *c = *(client **)state;
  answer *a;
  const char *s;
  size_t len;
  (void)self;
  if (!m || c->nanswers == MAX_CALLS)
    return TR_CONTINUE;
  a = &c->answers[c->nanswers++];
  a->kind = tr_msg_kind(m);
  s = tr_msg_name(m, &len);
  test_copy_str(a->name, sizeof a->name, s, len);
  a->text[0] = '\0';
  if (tr_value_str(tr_msg_arg(m, 0), &s, &len) == TR_OK)
    test_copy_str(a->text, sizeof a->text, s, len);
  a->n = -1;
  a->instance = 0;
  tr_value_int(tr_msg_arg(m, 1), &a->n);
  if (tr_msg_argc(m) > 2) {
    int64_t i = 0;
    tr_value_int(tr_msg_arg(m, 2), &i);
    a->instance = (int)i;
  }
  a->from = tr_msg_from(m);
  a->session = tr_msg_session(m);
  return TR_CONTINUE;
}

static const tr_behaviour client_b = {"client", sizeof(client *), test_ptr_init,
                                      client_handle, NULL};

static client *new_client(tr_host *h) {
  client *c = calloc(1, sizeof *c);
  CHECK(c != NULL);
  CHECK_EQ(test_spawn_ctx(h, &client_b, c, NULL, &c->pid), TR_OK);
  return c;
}

/* c calls `to` with dest(op, n); returns tr_call's result. */
static int call(tr_host *h, client *c, tr_pid to, const char *dest,
                const char *op, int64_t n) {
  uint64_t session = 0;
  int rc =
      tr_call(h, c->pid, to, tr_msg_pack(dest, "sI", op, n), 30000, &session);
  if (rc == TR_OK && c->ncalls < MAX_CALLS) {
    c->sessions[c->ncalls] = session;
    c->ns[c->ncalls++] = n;
  }
  return rc;
}

/* The answer to c's call number i, or NULL if none came. */
static const answer *answer_to(const client *c, int i) {
  int k;
  for (k = 0; k < c->nanswers; k++)
    if (c->answers[k].session == c->sessions[i])
      return &c->answers[k];
  return NULL;
}

static int is_reply(const answer *a) {
  return a && a->kind == TR_KIND_REPLY && !strcmp(a->name, "reply");
}

static int is_error_reply(const answer *a) {
  return a && a->kind == TR_KIND_ERROR && !strcmp(a->name, "error");
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

/* The same, with mailboxes of `capacity` by default (the router's too). */
static tr_host *small_host(int *lines, uint32_t capacity) {
  tr_host_config cfg = {0};
  cfg.log = quiet_log;
  cfg.log_ud = lines;
  cfg.mailbox_capacity = capacity;
  return tr_host_new(&cfg);
}

/* Steps h until no actor has anything to do (timers may be pending: each
 * supervisor has its heartbeat tick). */
static void settle(tr_host *h) {
  tr_host_stats st;
  uint64_t end = uv_hrtime() + 1000000000u;
  do {
    if (tr_host_step(h) < 0)
      break;
    tr_host_get_stats(h, &st);
  } while (st.ready && uv_hrtime() < end);
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

/* One service with children, named as the args say. */
typedef struct one_service {
  tr_child_spec children[2];
  tr_sup_spec spec;
  tr_service svc;
} one_service;

static void one_service_init(one_service *s, const char *name, echo_arg *a,
                             echo_arg *b, int lazy) {
  memset(s, 0, sizeof *s);
  s->children[0] = echo_spec(a);
  if (b)
    s->children[1] = echo_spec(b);
  s->spec.strategy = TR_ONE_FOR_ONE;
  s->spec.children = s->children;
  s->spec.nchildren = b ? 2 : 1;
  s->svc.name = name;
  s->svc.spec = &s->spec;
  s->svc.lazy = lazy;
}

static tr_pid start_router(tr_host *h, const tr_service *svc, size_t n) {
  tr_pid r = 0;
  CHECK_EQ(tr_router_start(h, svc, n, &r), TR_OK);
  CHECK(r != 0);
  return r;
}

/* -------------------------------------------------------------- tests */

static void test_forwards_and_reply_comes_from_child(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  echo_arg *e = calloc(1, sizeof *e), *f = calloc(1, sizeof *f);
  one_service s;
  client *c = new_client(h);
  tr_pid router;
  const answer *a;
  e->name = "echo";
  f->name = "other";
  one_service_init(&s, "svc", e, f, 0);
  router = start_router(h, &s.svc, 1);
  CHECK_EQ(tr_whereis(h, "router"), router);
  /* Started at once (not lazy), in order, under their names. */
  CHECK_EQ(e->starts, 1);
  CHECK_EQ(f->starts, 1);
  CHECK_EQ(tr_whereis(h, "echo"), e->pid);
  CHECK_EQ(tr_whereis(h, "other"), f->pid);

  CHECK_EQ(call(h, c, router, "echo", "op", 1), TR_OK);
  CHECK_EQ(call(h, c, router, "other", "op", 2), TR_OK);
  STEP_UNTIL(h, c->nanswers == 2, 2000);
  a = answer_to(c, 0);
  CHECK(is_reply(a));
  if (a) {
    CHECK_STR(a->text, "op");
    CHECK_EQ(a->n, 1);
    CHECK_EQ(a->from, e->pid); /* straight from the child */
    CHECK_EQ(a->instance, 1);
  }
  a = answer_to(c, 1);
  CHECK(is_reply(a));
  if (a)
    CHECK_EQ(a->from, f->pid);

  /* A send goes through too, to the named child only. */
  CHECK_EQ(tr_send_named(h, 0, "router", tr_msg_pack("echo", "sI", "cast", 7)),
           TR_OK);
  STEP_UNTIL(h, e->nseen == 2, 1000);
  CHECK_EQ(e->nseen, 2);
  CHECK_EQ(e->seen[1], 7);
  CHECK_EQ(f->nseen, 1);

  /* From outside any actor, as an embedding program would. */
  {
    tr_msg *reply = NULL;
    int64_t n = 0;
    CHECK_EQ(tr_host_call(h, router, tr_msg_pack("echo", "sI", "x", 9), 1000,
                          &reply),
             TR_OK);
    CHECK(reply && tr_msg_is(reply, "reply"));
    CHECK(reply && tr_msg_from(reply) == e->pid);
    CHECK(reply && tr_msg_unpack(reply, ".I", &n) == TR_OK && n == 9);
    tr_msg_free(reply);
  }
  /* A second router is refused: the name is taken. */
  CHECK_EQ(tr_router_start(h, &s.svc, 1, NULL), TR_EEXIST);
  tr_host_free(h);
  CHECK_EQ(e->frees, 1);
  CHECK_EQ(f->frees, 1);
  free(e);
  free(f);
  free(c);
}

static void test_unknown_destination(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  echo_arg *e = calloc(1, sizeof *e);
  one_service s;
  client *c = new_client(h);
  tr_pid router;
  const answer *a;
  e->name = "echo";
  one_service_init(&s, "svc", e, NULL, 0);
  router = start_router(h, &s.svc, 1);
  CHECK_EQ(call(h, c, router, "nowhere", "op", 1), TR_OK);
  CHECK_EQ(call(h, c, router, "router", "bogus", 2), TR_OK);
  /* A send to nowhere is dropped (and logged), not a crash. */
  CHECK_EQ(tr_send(h, 0, router, tr_msg_pack("nowhere", "sI", "x", 3)), TR_OK);
  CHECK_EQ(call(h, c, router, "echo", "op", 4), TR_OK);
  STEP_UNTIL(h, c->nanswers == 3, 2000);
  a = answer_to(c, 0);
  CHECK(is_error_reply(a));
  if (a) {
    CHECK(strstr(a->text, "no such destination") != NULL);
    CHECK_EQ(a->from, router);
  }
  CHECK(is_error_reply(answer_to(c, 1)));
  CHECK(is_reply(answer_to(c, 2)));
  CHECK(tr_alive(h, router));
  tr_host_free(h);
  free(e);
  free(c);
}

static void test_router_start_checks_args(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  tr_service bad = {"bad", NULL, 0};
  tr_pid r = 0;
  CHECK_EQ(tr_router_start(h, NULL, 1, &r), TR_EINVAL);
  CHECK_EQ(tr_router_start(h, &bad, 1, &r), TR_EINVAL);
  {
    echo_arg e = {0}, f = {0};
    one_service s, t;
    tr_service both[2];
    e.name = "echo";
    f.name = "echo";
    one_service_init(&s, "s", &e, NULL, 0);
    one_service_init(&t, "t", &f, NULL, 0);
    both[0] = s.svc;
    both[1] = t.svc;
    /* two destinations of one name, across services or within one */
    CHECK_EQ(tr_router_start(h, both, 2, &r), TR_EINVAL);
    one_service_init(&s, "s", &e, &f, 0);
    CHECK_EQ(tr_router_start(h, &s.svc, 1, &r), TR_EINVAL);
    /* a destination without a name */
    f.name = NULL;
    one_service_init(&s, "s", &e, &f, 0);
    CHECK_EQ(tr_router_start(h, &s.svc, 1, &r), TR_EINVAL);
    s.children[1].name = "";
    CHECK_EQ(tr_router_start(h, &s.svc, 1, &r), TR_EINVAL);
    CHECK_EQ(e.attempts + f.attempts + e.frees + f.frees, 0);
  }
  CHECK_EQ(r, 0);
  CHECK_EQ(tr_whereis(h, "router"), 0);
  /* No services at all: a router that answers everything with an error. */
  CHECK_EQ(tr_router_start(h, NULL, 0, &r), TR_OK);
  CHECK_EQ(tr_whereis(h, "router"), r);
  tr_host_free(h);
}

/* A child that cannot start fails the router's start (a non-lazy
 * service): the router is not left registered, nothing keeps running, and
 * the args are freed once. */
static void test_router_start_fails_with_service(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  echo_arg *e = calloc(1, sizeof *e), *f = calloc(1, sizeof *f);
  one_service s, t;
  tr_service both[2];
  tr_host_stats st;
  tr_pid r = 0;
  e->name = "echo";
  f->name = "other";
  f->fail_from = 1;
  one_service_init(&s, "s", e, NULL, 0);
  one_service_init(&t, "t", f, NULL, 0);
  both[0] = s.svc;
  both[1] = t.svc;
  CHECK_EQ(tr_router_start(h, both, 2, &r), TR_EINIT);
  CHECK_EQ(tr_whereis(h, "router"), 0);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.actors, 0); /* already: the args may go */
  step_for(h, 20);
  CHECK_EQ(e->starts, 1);
  CHECK_EQ(e->frees, 1);
  CHECK_EQ(f->frees, 1);
  tr_host_free(h);
  CHECK_EQ(e->frees, 1);
  free(e);
  free(f);
}

static void test_lazy_service_starts_on_first_message(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  echo_arg *e = calloc(1, sizeof *e);
  one_service s;
  client *c = new_client(h);
  tr_pid router;
  int i;
  e->name = "echo";
  one_service_init(&s, "svc", e, NULL, 1);
  router = start_router(h, &s.svc, 1);
  step_for(h, 20);
  CHECK_EQ(e->attempts, 0);
  CHECK_EQ(tr_whereis(h, "echo"), 0);
  for (i = 0; i < 5; i++)
    CHECK_EQ(call(h, c, router, "echo", "op", i), TR_OK);
  STEP_UNTIL(h, c->nanswers == 5, 2000);
  CHECK_EQ(e->starts, 1);
  CHECK_EQ(tr_whereis(h, "echo"), e->pid);
  for (i = 0; i < 5 && i < c->nanswers; i++) {
    CHECK(is_reply(&c->answers[i]));
    CHECK_EQ(c->answers[i].n, i); /* in order */
  }
  tr_host_free(h);
  CHECK_EQ(e->frees, 1);
  free(e);
  free(c);
}

/* A lazy service whose child cannot start: the call that tried gets an
 * error reply, as does the next; a reset tries again. */
static void test_lazy_service_that_cannot_start(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  echo_arg *e = calloc(1, sizeof *e);
  one_service s;
  client *c = new_client(h);
  tr_pid router;
  e->name = "echo";
  e->fail_from = 1;
  one_service_init(&s, "svc", e, NULL, 1);
  router = start_router(h, &s.svc, 1);
  CHECK_EQ(call(h, c, router, "echo", "op", 1), TR_OK);
  CHECK_EQ(call(h, c, router, "echo", "op", 2), TR_OK);
  STEP_UNTIL(h, c->nanswers == 2, 1000);
  CHECK(is_error_reply(answer_to(c, 0)));
  CHECK(is_error_reply(answer_to(c, 1)));
  CHECK(answer_to(c, 1) && strstr(answer_to(c, 1)->text, "down") != NULL);
  CHECK_EQ(e->attempts, 1); /* down until a reset starts it afresh: */
  CHECK_EQ(e->frees, 0);
  CHECK(tr_alive(h, router));
  e->fail_from = 0;
  {
    tr_msg *reply = NULL;
    CHECK_EQ(tr_host_call(h, router,
                          tr_msg_pack("router", "ss", "reset", "echo"), 2000,
                          &reply),
             TR_OK);
    CHECK(reply && tr_msg_is(reply, "reply"));
    tr_msg_free(reply);
  }
  CHECK_EQ(call(h, c, router, "echo", "op", 3), TR_OK);
  STEP_UNTIL(h, c->nanswers == 3, 1000);
  CHECK(is_reply(answer_to(c, 2)));
  tr_host_free(h);
  CHECK_EQ(e->frees, 1);
  free(e);
  free(c);
}

/* A lazy service that is never used is never started; its args are still
 * freed once when the router ends. */
static void test_lazy_service_never_used(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  echo_arg *e = calloc(1, sizeof *e);
  one_service s;
  e->name = "echo";
  one_service_init(&s, "svc", e, NULL, 1);
  start_router(h, &s.svc, 1);
  step_for(h, 10);
  tr_host_free(h);
  CHECK_EQ(e->attempts, 0);
  CHECK_EQ(e->frees, 1);
  free(e);
}

/* Messages that reach the router between a child's death and its
 * replacement's start are held, then handed to the new instance in order.
 * The ready queue is first come, first served: the child (sent "crash"
 * directly) runs before the router (sent the calls after), which runs
 * before the supervisor (told of the death only then) -- so the router
 * takes every call while the child is dead and not yet replaced. */
static void test_holds_while_restarting(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  echo_arg *e = calloc(1, sizeof *e);
  one_service s;
  client *c = new_client(h);
  tr_pid router, old;
  int i, by_old = 0;
  e->name = "echo";
  one_service_init(&s, "svc", e, NULL, 0);
  router = start_router(h, &s.svc, 1);
  settle(h);
  old = e->pid;
  CHECK_EQ(tr_send(h, 0, old, tr_msg_pack("echo", "sI", "crash", -1)), TR_OK);
  for (i = 0; i < 20; i++) {
    CHECK_EQ(call(h, c, router, "echo", "op", i), TR_OK);
    /* sends wait in line with the calls */
    CHECK_EQ(tr_send(h, 0, router, tr_msg_pack("echo", "sI", "cast", 100 + i)),
             TR_OK);
  }
  STEP_UNTIL(h, c->nanswers == 20 && e->nseen == 41, 3000);
  CHECK(!tr_alive(h, old));
  CHECK_EQ(e->starts, 2);
  CHECK_STR(e->reason, "crash");
  CHECK_EQ(c->nanswers, 20);
  for (i = 0; i < c->nanswers; i++) {
    CHECK(is_reply(&c->answers[i]));
    CHECK_EQ(c->answers[i].n, i);
    CHECK_EQ(c->answers[i].instance, 2);
    CHECK_EQ(c->answers[i].from, e->pid);
  }
  /* The old instance took the crash only; the new one everything else,
   * calls and sends in the order they were sent. */
  CHECK_EQ(e->nseen, 41);
  for (i = 0; i < e->nseen; i++)
    by_old += e->instance[i] == 1;
  CHECK_EQ(by_old, 1);
  for (i = 1; i < e->nseen; i++)
    CHECK_EQ(e->seen[i], (i - 1) % 2 ? 100 + (i - 1) / 2 : (i - 1) / 2);
  tr_host_free(h);
  free(e);
  free(c);
}

/* What the dead child had queued comes back to the router (its heir) and
 * is served by the new instance, first, in order; the call it was
 * handling when it crashed fails with "down". */
static void test_queued_mail_of_dead_child_goes_to_new_one(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  echo_arg *e = calloc(1, sizeof *e);
  one_service s;
  client *c = new_client(h);
  tr_pid router, old;
  tr_host_stats before, after;
  const answer *a;
  int i;
  e->name = "echo";
  one_service_init(&s, "svc", e, NULL, 0);
  router = start_router(h, &s.svc, 1);
  settle(h);
  old = e->pid;
  /* Pause the child so that the rest piles up in its mailbox. */
  e->hold = 1;
  CHECK_EQ(call(h, c, router, "echo", "pause", 0), TR_OK);
  STEP_UNTIL(h, c->nanswers == 1, 1000);
  CHECK_EQ(call(h, c, router, "echo", "crash", 1), TR_OK);
  for (i = 2; i < 12; i++)
    CHECK_EQ(call(h, c, router, "echo", "op", i), TR_OK);
  STEP_UNTIL(h, tr_mailbox_count(h, old) == 11, 1000);
  CHECK_EQ(tr_mailbox_count(h, old), 11); /* forwarded, not held */
  tr_host_get_stats(h, &before);
  e->hold = 0; /* it takes "crash" and dies with 10 calls queued */
  STEP_UNTIL(h, c->nanswers == 12, 3000);
  CHECK(!tr_alive(h, old));
  CHECK_EQ(c->nanswers, 12);
  a = answer_to(c, 1);
  CHECK(a && a->kind == TR_KIND_ERROR);
  if (a) {
    CHECK_STR(a->name, "down");
    CHECK_STR(a->text, "crash");
  }
  for (i = 2; i < 12; i++) {
    a = answer_to(c, i);
    CHECK(is_reply(a));
    if (a) {
      CHECK_EQ(a->n, i);
      CHECK_EQ(a->instance, 2);
    }
  }
  for (i = 2; i < c->nanswers; i++) /* in order of the calls */
    CHECK_EQ(c->answers[i].n, i);
  tr_host_get_stats(h, &after);
  CHECK_EQ(after.dead_letters, before.dead_letters);
  tr_host_free(h);
  free(e);
  free(c);
}

/* The reference behaviour: a child gets stuck with requests waiting; its
 * supervisor sees it quiet past the cutoff and restarts it; the request it
 * was stuck on fails with "down", the waiting ones are served, in order,
 * by the new instance. */
static void test_stuck_child_restarted_by_heartbeat(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  echo_arg *e = calloc(1, sizeof *e);
  one_service s;
  client *c = new_client(h);
  tr_pid router, old;
  const answer *a;
  uint64_t t0;
  int i;
  e->name = "echo";
  one_service_init(&s, "svc", e, NULL, 0);
  s.children[0].heartbeat_ms = 20;
  s.children[0].cutoff_ms = 100;
  router = start_router(h, &s.svc, 1);
  settle(h);
  old = e->pid;
  e->hold = 1;
  t0 = uv_hrtime();
  CHECK_EQ(call(h, c, router, "echo", "stick", 0), TR_OK);
  for (i = 1; i <= 10; i++)
    CHECK_EQ(call(h, c, router, "echo", "op", i), TR_OK);
  STEP_UNTIL(h, c->nanswers == 11, 5000);
  CHECK_EQ(c->nanswers, 11);
  CHECK(uv_hrtime() - t0 >= 100000000u); /* not before the cutoff */
  CHECK(!tr_alive(h, old));
  CHECK_STR(e->reason, "heartbeat timeout");
  CHECK_EQ(e->starts, 2);
  a = answer_to(c, 0);
  CHECK(a && a->kind == TR_KIND_ERROR);
  if (a) {
    CHECK_STR(a->name, "down");
    CHECK_STR(a->text, "heartbeat timeout");
  }
  for (i = 1; i < c->nanswers; i++) {
    CHECK(is_reply(&c->answers[i]));
    CHECK_EQ(c->answers[i].n, i);
    CHECK_EQ(c->answers[i].instance, 2);
  }
  tr_host_free(h);
  free(e);
  free(c);
}

/* A steady stream: 10 clients with 100 calls each in flight, interleaved;
 * the child crashes on one of them in the middle. Every call is answered:
 * that one with "down", those before it by the old instance, all after it
 * by the new one, and each client hears in the order it called. */
static void test_stream_of_calls_through_a_crash(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  echo_arg *e = calloc(1, sizeof *e);
  one_service s;
  client *c[10];
  tr_pid router;
  int i, k, total = 0, downs = 0, old = 0, fresh = 0;
  e->name = "echo";
  one_service_init(&s, "svc", e, NULL, 0);
  router = start_router(h, &s.svc, 1);
  for (k = 0; k < 10; k++)
    c[k] = new_client(h);
  for (i = 0; i < 100; i++)
    for (k = 0; k < 10; k++) {
      int64_t n = i * 10 + k; /* the global order of the calls */
      CHECK_EQ(call(h, c[k], router, "echo", n == 503 ? "crash" : "op", n),
               TR_OK);
    }
  for (;;) {
    uint64_t end = uv_hrtime() + 10000000000u;
    total = 0;
    for (k = 0; k < 10; k++)
      total += c[k]->nanswers;
    if (total >= 1000 || uv_hrtime() > end || tr_host_step(h) < 0)
      break;
  }
  CHECK_EQ(total, 1000);
  CHECK_EQ(e->starts, 2);
  for (k = 0; k < 10; k++) {
    int64_t last = -1;
    for (i = 0; i < c[k]->nanswers; i++) {
      const answer *a = &c[k]->answers[i];
      int64_t n = -1;
      int j;
      for (j = 0; j < c[k]->ncalls; j++)
        if (c[k]->sessions[j] == a->session)
          n = c[k]->ns[j];
      CHECK(n >= 0);
      CHECK(n > last); /* each client in its own order */
      last = n;
      if (n == 503) {
        downs++;
        CHECK_EQ(a->kind, TR_KIND_ERROR);
        CHECK_STR(a->name, "down");
        CHECK_STR(a->text, "crash");
        continue;
      }
      CHECK(is_reply(a));
      CHECK_EQ(a->n, n);
      if (n < 503) {
        old++;
        CHECK_EQ(a->instance, 1);
      } else {
        fresh++;
        CHECK_EQ(a->instance, 2);
        CHECK_EQ(a->from, e->pid);
      }
    }
  }
  CHECK_EQ(downs, 1);
  CHECK_EQ(old, 503);
  CHECK_EQ(fresh, 496);
  tr_host_free(h);
  for (k = 0; k < 10; k++)
    free(c[k]);
  free(e);
}

/* A child with a small mailbox: the router forwards what fits, holds the
 * rest without failing anyone, and sends it on as room comes. */
static void test_full_child_holds_and_flushes(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  echo_arg *e = calloc(1, sizeof *e);
  one_service s;
  client *c = new_client(h);
  tr_pid router;
  int i;
  e->name = "echo";
  e->capacity = 4;
  one_service_init(&s, "svc", e, NULL, 0);
  router = start_router(h, &s.svc, 1);
  e->hold = 1;
  CHECK_EQ(call(h, c, router, "echo", "pause", 0), TR_OK);
  STEP_UNTIL(h, c->nanswers == 1, 1000);
  for (i = 1; i <= 50; i++)
    CHECK_EQ(call(h, c, router, "echo", "op", i), TR_OK);
  STEP_UNTIL(h, tr_mailbox_count(h, router) == 0, 1000);
  step_for(h, 20);
  CHECK_EQ(tr_mailbox_count(h, e->pid), 4); /* full */
  CHECK_EQ(tr_mailbox_count(h, router), 0); /* the rest is held */
  CHECK_EQ(c->nanswers, 1);                 /* and nobody failed */
  e->hold = 0;
  STEP_UNTIL(h, c->nanswers == 51, 3000);
  CHECK_EQ(c->nanswers, 51);
  for (i = 1; i < c->nanswers; i++) {
    CHECK(is_reply(&c->answers[i]));
    CHECK_EQ(c->answers[i].n, i);
    CHECK_EQ(c->answers[i].instance, 1);
  }
  CHECK_EQ(e->starts, 1);
  tr_host_free(h);
  free(e);
  free(c);
}

/* A full child that is restarted (reset, or a heartbeat) while the router
 * holds mail for it: what it had queued is older than what the router
 * holds, and must reach the new instance first: inherited mail is marked
 * (tr_msg_inherited) and goes ahead of what the router held. */
static void test_full_child_restarted_keeps_order(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  echo_arg *e = calloc(1, sizeof *e);
  one_service s;
  client *c = new_client(h);
  tr_pid router;
  tr_msg *reply = NULL;
  int i;
  e->name = "echo";
  e->capacity = 4;
  one_service_init(&s, "svc", e, NULL, 0);
  router = start_router(h, &s.svc, 1);
  e->hold = 1;
  CHECK_EQ(call(h, c, router, "echo", "pause", 0), TR_OK);
  STEP_UNTIL(h, c->nanswers == 1, 1000);
  for (i = 1; i <= 20; i++)
    CHECK_EQ(call(h, c, router, "echo", "op", i), TR_OK);
  STEP_UNTIL(h, tr_mailbox_count(h, router) == 0, 1000);
  CHECK_EQ(tr_mailbox_count(h, e->pid), 4);
  /* (only "pause" pauses: the new instance will take its mail) */
  CHECK_EQ(tr_host_call(h, router, tr_msg_pack("router", "ss", "reset", "echo"),
                        2000, &reply),
           TR_OK);
  CHECK(reply && tr_msg_is(reply, "reply"));
  tr_msg_free(reply);
  STEP_UNTIL(h, c->nanswers == 21, 3000);
  CHECK_EQ(c->nanswers, 21);
  for (i = 1; i < c->nanswers; i++) {
    CHECK(is_reply(&c->answers[i]));
    CHECK_EQ(c->answers[i].n, i);
    CHECK_EQ(c->answers[i].instance, 2);
  }
  tr_host_free(h);
  free(e);
  free(c);
}

static void test_reset_through_router(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  echo_arg *e = calloc(1, sizeof *e), *f = calloc(1, sizeof *f);
  one_service s, t;
  tr_service both[2];
  client *c = new_client(h);
  tr_pid router, old;
  tr_msg *reply = NULL;
  const char *text;
  size_t len;
  const answer *a;
  e->name = "echo";
  f->name = "lazy";
  one_service_init(&s, "svc", e, NULL, 0);
  one_service_init(&t, "lz", f, NULL, 1);
  both[0] = s.svc;
  both[1] = t.svc;
  router = start_router(h, both, 2);
  old = e->pid;
  CHECK_EQ(tr_host_call(h, router, tr_msg_pack("router", "ss", "reset", "echo"),
                        2000, &reply),
           TR_OK);
  CHECK(reply && tr_msg_is(reply, "reply"));
  CHECK(reply && tr_msg_unpack(reply, "s", &text, &len) == TR_OK && len == 2 &&
        !memcmp(text, "ok", 2));
  tr_msg_free(reply);
  reply = NULL;
  CHECK_EQ(e->starts, 2);
  CHECK(!tr_alive(h, old));
  CHECK_STR(e->reason, "reset");
  CHECK_EQ(tr_whereis(h, "echo"), e->pid);
  CHECK_EQ(call(h, c, router, "echo", "op", 1), TR_OK);
  STEP_UNTIL(h, c->nanswers == 1, 1000);
  a = answer_to(c, 0);
  CHECK(is_reply(a));
  if (a)
    CHECK_EQ(a->instance, 2);

  /* From an actor: the reply to the reset comes to the caller. */
  {
    uint64_t session = 0;
    CHECK_EQ(tr_call(h, c->pid, router,
                     tr_msg_pack("router", "ss", "reset", "echo"), 2000,
                     &session),
             TR_OK);
    c->sessions[c->ncalls] = session;
    c->ns[c->ncalls++] = -1;
    STEP_UNTIL(h, c->nanswers == 2, 2000);
    a = answer_to(c, 1);
    CHECK(is_reply(a));
    if (a)
      CHECK_STR(a->text, "ok");
    CHECK_EQ(e->starts, 3);
  }

  /* A lazy service not started yet: reset starts it. */
  CHECK_EQ(f->attempts, 0);
  CHECK_EQ(tr_host_call(h, router, tr_msg_pack("router", "ss", "reset", "lazy"),
                        2000, &reply),
           TR_OK);
  CHECK(reply && tr_msg_is(reply, "reply"));
  tr_msg_free(reply);
  reply = NULL;
  STEP_UNTIL(h, f->starts == 1, 1000);
  CHECK_EQ(f->starts, 1);

  /* Unknown names and requests: error replies. */
  CHECK_EQ(tr_host_call(h, router, tr_msg_pack("router", "ss", "reset", "zz"),
                        2000, &reply),
           TR_EREPLY);
  CHECK(reply && tr_msg_is(reply, "error"));
  tr_msg_free(reply);
  reply = NULL;
  CHECK_EQ(tr_host_call(h, router, tr_msg_pack("router", "ss", "frob", "echo"),
                        2000, &reply),
           TR_EREPLY);
  CHECK(reply && tr_msg_is(reply, "error"));
  tr_msg_free(reply);
  reply = NULL;
  CHECK_EQ(tr_host_call(h, router, tr_msg_new("router"), 2000, &reply),
           TR_EREPLY);
  CHECK(reply && tr_msg_is(reply, "error"));
  tr_msg_free(reply);
  CHECK(tr_alive(h, router));
  tr_host_free(h);
  free(e);
  free(f);
  free(c);
}

/* A service whose supervisor gives up: what the router held for it is
 * answered with an error saying it is down, and so is every later call;
 * a reset starts it afresh. Its args are freed once, when the router
 * ends, however often the service was started. */
static void test_service_that_gave_up(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  echo_arg *e = calloc(1, sizeof *e);
  one_service s;
  client *c = new_client(h);
  tr_pid router, old;
  tr_msg *reply = NULL;
  const answer *a;
  int i;
  e->name = "echo";
  e->fail_from = 2; /* no restart works */
  one_service_init(&s, "svc", e, NULL, 0);
  router = start_router(h, &s.svc, 1);
  settle(h);
  old = e->pid;
  /* The child takes "crash" with 5 calls queued behind it: they come back
   * to the router, which holds them for a restart that never comes. */
  e->hold = 1;
  CHECK_EQ(call(h, c, router, "echo", "pause", 0), TR_OK);
  STEP_UNTIL(h, c->nanswers == 1, 1000);
  CHECK_EQ(call(h, c, router, "echo", "crash", 1), TR_OK);
  for (i = 2; i < 7; i++)
    CHECK_EQ(call(h, c, router, "echo", "op", i), TR_OK);
  STEP_UNTIL(h, tr_mailbox_count(h, old) == 6, 1000);
  e->hold = 0;
  STEP_UNTIL(h, c->nanswers == 7, 3000);
  CHECK_EQ(c->nanswers, 7);
  CHECK_EQ(e->starts, 1);
  CHECK_EQ(e->attempts, 4); /* 1 + 3 failed restarts: intensity 3 */
  a = answer_to(c, 1);
  CHECK(a && a->kind == TR_KIND_ERROR);
  for (i = 2; i < 7; i++) {
    a = answer_to(c, i);
    CHECK(is_error_reply(a));
    if (a)
      CHECK(strstr(a->text, "down") != NULL);
  }
  /* Later calls: an error at once, saying it is down. */
  CHECK_EQ(call(h, c, router, "echo", "op", 7), TR_OK);
  STEP_UNTIL(h, c->nanswers == 8, 1000);
  a = answer_to(c, 7);
  CHECK(is_error_reply(a));
  if (a)
    CHECK(strstr(a->text, "down") != NULL);
  CHECK(tr_alive(h, router));
  CHECK_EQ(e->frees, 0); /* the service may be started again */

  /* A reset starts it afresh. */
  e->fail_from = 0;
  CHECK_EQ(tr_host_call(h, router, tr_msg_pack("router", "ss", "reset", "echo"),
                        2000, &reply),
           TR_OK);
  CHECK(reply && tr_msg_is(reply, "reply"));
  tr_msg_free(reply);
  CHECK_EQ(e->starts, 2);
  CHECK_EQ(call(h, c, router, "echo", "op", 8), TR_OK);
  STEP_UNTIL(h, c->nanswers == 9, 1000);
  a = answer_to(c, 8);
  CHECK(is_reply(a));
  if (a)
    CHECK_EQ(a->instance, 2);
  tr_host_free(h);
  CHECK_EQ(e->frees, 1);
  free(e);
  free(c);
}

/* The router ends with mail held for a child: callers get an error (not a
 * hang), sends are freed -- valgrind checks that nothing leaks. */
static void test_router_end_frees_held(void) {
  int lines = 0;
  tr_host *h = quiet_host(&lines);
  echo_arg *e = calloc(1, sizeof *e);
  one_service s;
  client *c = new_client(h);
  tr_pid router;
  int i, errors = 0;
  e->name = "echo";
  e->capacity = 2;
  one_service_init(&s, "svc", e, NULL, 0);
  router = start_router(h, &s.svc, 1);
  e->hold = 1;
  CHECK_EQ(call(h, c, router, "echo", "pause", 0), TR_OK);
  STEP_UNTIL(h, c->nanswers == 1, 1000);
  for (i = 1; i <= 10; i++) {
    CHECK_EQ(call(h, c, router, "echo", "op", i), TR_OK);
    CHECK_EQ(tr_send(h, 0, router, tr_msg_pack("echo", "sI", "cast", i)),
             TR_OK);
  }
  STEP_UNTIL(h, tr_mailbox_count(h, router) == 0, 1000);
  CHECK_EQ(tr_mailbox_count(h, e->pid), 2);
  CHECK_EQ(tr_kill(h, router, "shutdown"), TR_OK);
  STEP_UNTIL(h, c->nanswers == 11, 2000);
  CHECK_EQ(c->nanswers, 11);
  for (i = 1; i < c->nanswers; i++)
    errors += c->answers[i].kind == TR_KIND_ERROR;
  CHECK_EQ(errors, 10);
  CHECK(!tr_alive(h, e->pid)); /* the service went with the router */
  CHECK_EQ(tr_whereis(h, "router"), 0);
  CHECK_EQ(e->frees, 1);

  /* And once more, the host ending with mail held. */
  e->hold = 1;
  e->starts = 0;
  router = start_router(h, &s.svc, 1);
  CHECK_EQ(call(h, c, router, "echo", "pause", 0), TR_OK);
  STEP_UNTIL(h, c->nanswers == 12, 1000);
  for (i = 1; i <= 10; i++)
    CHECK_EQ(tr_send(h, 0, router, tr_msg_pack("echo", "sI", "cast", i)),
             TR_OK);
  STEP_UNTIL(h, tr_mailbox_count(h, router) == 0, 1000);
  tr_host_free(h);
  CHECK_EQ(e->frees, 2);
  free(e);
  free(c);
}

/* Floods the router with n messages for "echo", sends and calls by turns
 * from the clients, numbered from `first` in the order sent, stepping the
 * host now and then so that the router passes on or holds what it got.
 * Counts what was taken and what was refused as full. */
static void flood(tr_host *h, client **c, int nc, tr_pid router, int64_t first,
                  int n, int *ok, int *full) {
  int i;
  for (i = 0; i < n; i++) {
    client *from = c[i % nc];
    int64_t k = first + i;
    int rc = i % 3 == 0 ? call(h, from, router, "echo", "op", k)
                        : tr_send(h, from->pid, router,
                                  tr_msg_pack("echo", "sI", "cast", k));
    *ok += rc == TR_OK;
    *full += rc == TR_EFULL;
    if (i % 50 == 0)
      tr_host_step(h);
  }
}

/* Whether the n values e saw from index `from` on rise strictly. */
static int rising(const echo_arg *e, int from) {
  int i;
  for (i = from + 1; i < e->nseen; i++)
    if (e->seen[i] <= e->seen[i - 1])
      return 0;
  return 1;
}

/* A flood through the router to a child that takes nothing: the router
 * holds what the child cannot take, counted in its own mailbox, so once
 * its capacity and the child's are used up every send and call is refused
 * with TR_EFULL and counted as a dead letter -- however many are sent, by
 * however many senders: what the host keeps stays under that bound. Once
 * the child takes mail again, everything accepted arrives, in order, and
 * a call made then is answered well within its timeout. */
static void test_flood_through_router_is_bounded(void) {
  enum { CAP = 32, CHILD = 4, SENDERS = 8, FLOOD = 20000 };
  int lines = 0, ok = 0, full = 0, k;
  tr_host *h = small_host(&lines, CAP);
  echo_arg *e = calloc(1, sizeof *e);
  one_service s;
  client *c[SENDERS];
  tr_host_stats before, after;
  tr_pid router;
  uint64_t session = 0, t0;
  e->name = "echo";
  e->capacity = CHILD;
  one_service_init(&s, "svc", e, NULL, 0);
  router = start_router(h, &s.svc, 1);
  for (k = 0; k < SENDERS; k++)
    c[k] = new_client(h);
  e->hold = 1;
  CHECK_EQ(call(h, c[0], router, "echo", "pause", 0), TR_OK);
  STEP_UNTIL(h, c[0]->nanswers == 1, 1000);
  tr_host_get_stats(h, &before);
  flood(h, c, SENDERS, router, 1, FLOOD, &ok, &full);
  settle(h);
  CHECK_EQ(ok, CAP + CHILD); /* the child's mailbox, and the router's */
  CHECK_EQ(full, FLOOD - ok);
  CHECK_EQ(tr_mailbox_count(h, e->pid), CHILD);
  CHECK_EQ(tr_mailbox_count(h, router), 0); /* all of it held, and ... */
  CHECK_EQ(tr_mailbox_room(h, router), 0);  /* ... counted */
  tr_host_get_stats(h, &after);
  CHECK_EQ(after.dead_letters - before.dead_letters, full);
  for (k = 0; k < SENDERS; k++)
    CHECK_EQ(c[k]->nanswers, k == 0); /* refused: no answer to come */
  /* A call to the full router is refused at once, not after its timeout. */
  CHECK_EQ(tr_call(h, c[0]->pid, router, tr_msg_pack("echo", "sI", "op", -5),
                   1000, &session),
           TR_EFULL);

  e->hold = 0;
  STEP_UNTIL(h, e->nseen == 1 + ok, 3000);
  CHECK_EQ(e->nseen, 1 + ok);
  CHECK(rising(e, 1));
  t0 = uv_hrtime();
  CHECK_EQ(call(h, c[1], router, "echo", "late", FLOOD + 1), TR_OK);
  STEP_UNTIL(h, answer_to(c[1], c[1]->ncalls - 1), 1000);
  CHECK(is_reply(answer_to(c[1], c[1]->ncalls - 1)));
  CHECK(uv_hrtime() - t0 < 1000000000u);
  tr_host_free(h);
  free(e);
  for (k = 0; k < SENDERS; k++)
    free(c[k]);
}

/* The router is full, holding mail for a child, when the child dies: what
 * the child had queued comes back on top, and the supervisor's news that a
 * new child started must still reach the full router (a notice, never
 * refused), or nothing it holds would ever leave. All of it reaches the
 * new child, in order, the child's own queue first. */
static void test_full_router_hears_restart(void) {
  enum { CAP = 16, CHILD = 4 };
  int lines = 0, ok = 0, full = 0, i, fresh = 0;
  tr_host *h = small_host(&lines, CAP);
  echo_arg *e = calloc(1, sizeof *e);
  one_service s;
  client *c = new_client(h);
  tr_pid router, old;
  e->name = "echo";
  e->capacity = CHILD;
  one_service_init(&s, "svc", e, NULL, 0);
  router = start_router(h, &s.svc, 1);
  e->hold = 1;
  CHECK_EQ(call(h, c, router, "echo", "pause", 0), TR_OK);
  STEP_UNTIL(h, c->nanswers == 1, 1000);
  flood(h, &c, 1, router, 1, 1000, &ok, &full);
  settle(h);
  CHECK_EQ(ok, CAP + CHILD);
  CHECK_EQ(tr_mailbox_room(h, router), 0);
  old = e->pid;
  e->hold = 0;
  CHECK_EQ(tr_kill(h, old, "killed"), TR_OK);
  STEP_UNTIL(h, e->nseen == 1 + ok, 3000);
  CHECK_EQ(e->starts, 2);
  CHECK_EQ(e->nseen, 1 + ok);
  CHECK(rising(e, 1));
  for (i = 1; i < e->nseen; i++)
    fresh += e->instance[i] == 2;
  CHECK_EQ(fresh, ok);
  CHECK(tr_mailbox_room(h, router) > 0);
  tr_host_free(h);
  free(e);
  free(c);
}

int main(void) {
  RUN(test_forwards_and_reply_comes_from_child);
  RUN(test_unknown_destination);
  RUN(test_router_start_checks_args);
  RUN(test_router_start_fails_with_service);
  RUN(test_lazy_service_starts_on_first_message);
  RUN(test_lazy_service_that_cannot_start);
  RUN(test_lazy_service_never_used);
  RUN(test_holds_while_restarting);
  RUN(test_queued_mail_of_dead_child_goes_to_new_one);
  RUN(test_stream_of_calls_through_a_crash);
  RUN(test_stuck_child_restarted_by_heartbeat);
  RUN(test_full_child_holds_and_flushes);
  RUN(test_full_child_restarted_keeps_order);
  RUN(test_reset_through_router);
  RUN(test_service_that_gave_up);
  RUN(test_router_end_frees_held);
  RUN(test_flood_through_router_is_bounded);
  RUN(test_full_router_hears_restart);
  return test_report();
}
