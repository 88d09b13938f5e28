/*
 * test_inspect.c -- looking into a running host: tr_actor_get_info for
 * actors in each state (running, ready, waiting in receive, a call, a
 * sleep), tr_host_actors, a supervised child's supervisor and restarts,
 * the supervisor's which_children and count_children, and the host's
 * messages per second.
 */
#include <stdlib.h>

#include "test.h"
#include "troupe_services.h"

/* Takes whatever comes; a "self" message makes it look at itself. */
typedef struct rec {
  int got;
  int self_status; /* its status seen from inside its own handle */
} rec;

static int rec_handle(tr_actor *self, void *state, tr_msg *m) {
  rec *r = *(rec **)state;
  tr_actor_info info;
  if (m && tr_msg_is(m, "self") &&
      tr_actor_get_info(tr_actor_host(self), tr_self(self), &info) == TR_OK)
    r->self_status = info.status;
  r->got += m != NULL;
  return TR_CONTINUE;
}

static const tr_behaviour rec_b = {"recorder", sizeof(rec *), test_ptr_init,
                                   rec_handle, NULL};

/* Sleeps a long time (tr_timeout + tr_await): its mailbox fills. */
static int sleeper_init(tr_actor *self, void *state, tr_msg *args) {
  uint64_t t;
  (void)state;
  (void)args;
  tr_timeout(tr_actor_host(self), tr_self(self), 60000, &t);
  tr_await(self, t);
  return 0;
}

static int ignore_handle(tr_actor *self, void *state, tr_msg *m) {
  (void)self;
  (void)state;
  (void)m;
  return TR_CONTINUE;
}

static const tr_behaviour sleeper_b = {"sleeper", 0, sleeper_init,
                                       ignore_handle, NULL};
/* Never answers the calls it takes. */
static const tr_behaviour silent_b = {"silent", 0, NULL, ignore_handle, NULL};

/* Calls its ctx's pid and waits for the answer, which never comes. */
static int caller_init(tr_actor *self, void *state, tr_msg *args) {
  tr_pid to = *(tr_pid *)tr_actor_ctx(self);
  uint64_t s;
  (void)state;
  (void)args;
  if (tr_call(tr_actor_host(self), tr_self(self), to, tr_msg_new("hello"), 0,
              &s))
    return -1;
  tr_await(self, s);
  return 0;
}

static const tr_behaviour caller_b = {"caller", 0, caller_init, ignore_handle,
                                      NULL};

static void test_states(void) {
  tr_host *h = tr_host_new(NULL);
  tr_spawn_opts named = {.name = "rec"}, small = {.capacity = 10};
  rec r = {0};
  tr_pid recp, sleeper, silent, caller, pids[8];
  tr_actor_info info;
  size_t n = 0;
  int i;
  CHECK_EQ(tr_host_set_timing(NULL, 1), TR_EINVAL);
  CHECK_EQ(tr_host_set_timing(h, 1), TR_OK);
  CHECK_EQ(test_spawn_ctx(h, &rec_b, &r, &named, &recp), TR_OK);
  CHECK_EQ(tr_spawn(h, &sleeper_b, NULL, &small, &sleeper), TR_OK);
  CHECK_EQ(tr_spawn(h, &silent_b, NULL, NULL, &silent), TR_OK);
  CHECK_EQ(test_spawn_ctx(h, &caller_b, &silent, NULL, &caller), TR_OK);
  /* until the silent one has taken the call */
  STEP_UNTIL(h,
             tr_actor_get_info(h, silent, &info) == TR_OK && info.handled == 1,
             5000);

  /* a native actor, registered, waiting in receive */
  CHECK_EQ(tr_actor_get_info(h, recp, &info), TR_OK);
  CHECK_EQ(info.pid, recp);
  CHECK_EQ(info.host, 0);
  CHECK_STR(info.kind, "recorder");
  CHECK_STR(info.name, "rec");
  CHECK_EQ(info.status, TR_STATUS_WAITING);
  CHECK_EQ(info.wait, TR_WAIT_RECEIVE);
  CHECK_EQ(info.capacity, 1024);
  CHECK_EQ(info.supervisor, 0);

  /* ready once mail comes, then running inside its handle */
  CHECK_EQ(tr_send(h, 0, recp, tr_msg_new("x")), TR_OK);
  CHECK_EQ(tr_send(h, 0, recp, tr_msg_new("self")), TR_OK);
  CHECK_EQ(tr_actor_get_info(h, recp, &info), TR_OK);
  CHECK_EQ(info.status, TR_STATUS_READY);
  CHECK_EQ(info.mailbox, 2);
  CHECK(info.mailbox_bytes > 0);
  r.self_status = -1;
  STEP_UNTIL(h, r.got == 2, 5000);
  CHECK_EQ(r.self_status, TR_STATUS_RUNNING);
  CHECK_EQ(tr_actor_get_info(h, recp, &info), TR_OK);
  CHECK_EQ(info.handled, 2);
  CHECK(info.run_ns > 0);
  CHECK_EQ(info.mailbox, 0);

  /* in a sleep, its mailbox filling up */
  for (i = 0; i < 8; i++)
    CHECK_EQ(tr_send(h, 0, sleeper, tr_msg_new("x")), TR_OK);
  tr_host_step(h);
  CHECK_EQ(tr_actor_get_info(h, sleeper, &info), TR_OK);
  CHECK_STR(info.kind, "sleeper");
  CHECK_STR(info.name, "");
  CHECK_EQ(info.status, TR_STATUS_WAITING);
  CHECK_EQ(info.wait, TR_WAIT_SLEEP);
  CHECK_EQ(info.mailbox, 8);
  CHECK_EQ(info.capacity, 10);
  CHECK_EQ(info.handled, 0);

  /* in a call, on the callee that holds it */
  CHECK_EQ(tr_actor_get_info(h, caller, &info), TR_OK);
  CHECK_EQ(info.status, TR_STATUS_WAITING);
  CHECK_EQ(info.wait, TR_WAIT_CALL);
  CHECK_EQ(info.waits_on, silent);
  CHECK_EQ(tr_actor_get_info(h, silent, &info), TR_OK);
  CHECK_EQ(info.handled, 1);

  /* the list, oldest first; a short array gets the count all the same */
  CHECK_EQ(tr_host_actors(h, pids, 8, &n), TR_OK);
  CHECK_EQ(n, 4);
  CHECK_EQ(pids[0], recp);
  CHECK_EQ(pids[3], caller);
  CHECK_EQ(tr_host_actors(h, pids, 2, &n), TR_OK);
  CHECK_EQ(n, 4);
  CHECK_EQ(tr_host_actors(h, NULL, 0, &n), TR_OK);
  CHECK_EQ(n, 4);
  CHECK_EQ(tr_host_actors(h, NULL, 1, &n), TR_EINVAL);

  /* the dead, another host's, and no host */
  CHECK_EQ(tr_kill(h, silent, NULL), TR_OK);
  CHECK_EQ(tr_actor_get_info(h, silent, &info), TR_ENOPROC);
  CHECK_EQ(info.pid, 0);
  CHECK_EQ(tr_actor_get_info(h, recp | (1ull << TR_PID_HOST_SHIFT), &info),
           TR_EINVAL);
  CHECK_EQ(tr_actor_get_info(NULL, recp, &info), TR_EINVAL);
  CHECK_EQ(tr_actor_get_info(h, recp, NULL), TR_EINVAL);
  CHECK_EQ(tr_host_actors(NULL, pids, 8, &n), TR_EINVAL);
  tr_host_free(h);
}

/* A supervised child: started by a start function, killed, restarted. */
static int child_start(tr_host *h, void *arg, tr_pid *out) {
  (void)arg;
  return tr_spawn(h, &silent_b, NULL, NULL, out);
}

static int sub_start(tr_host *h, void *arg, tr_pid *out) {
  return tr_sup_start(h, arg, NULL, out);
}

/* The map in a which_children reply for child i, key by key. */
static const tr_value *child_field(const tr_msg *m, size_t i, const char *k) {
  const tr_value *c = tr_value_at(tr_msg_arg(m, 0), i);
  size_t j;
  for (j = 0; j < tr_value_len(c); j++) {
    const char *s;
    size_t len;
    if (tr_value_str(tr_value_key(c, j), &s, &len) == TR_OK &&
        len == strlen(k) && !memcmp(s, k, len))
      return tr_value_val(c, j);
  }
  return NULL;
}

static int64_t map_int(const tr_value *v) {
  int64_t i = -1;
  tr_value_int(v, &i);
  return i;
}

static int str_is(const tr_value *v, const char *want) {
  const char *s;
  size_t len;
  return tr_value_str(v, &s, &len) == TR_OK && len == strlen(want) &&
         !memcmp(s, want, len);
}

static void test_supervised(void) {
  tr_host *h = tr_host_new(NULL);
  tr_child_spec inner = {.name = "leaf",
                         .start = child_start,
                         .restart = TR_PERMANENT,
                         .cutoff_ms = UINT32_MAX};
  tr_sup_spec sub = {
      .strategy = TR_ONE_FOR_ONE, .children = &inner, .nchildren = 1};
  tr_child_spec kids[2] = {{.name = "w",
                            .start = child_start,
                            .restart = TR_TRANSIENT,
                            .cutoff_ms = UINT32_MAX},
                           {.name = "sub",
                            .start = sub_start,
                            .arg = &sub,
                            .restart = TR_PERMANENT,
                            .cutoff_ms = UINT32_MAX}};
  tr_sup_spec spec = {
      .strategy = TR_ONE_FOR_ONE, .children = kids, .nchildren = 2};
  tr_pid sup, w, w2, subp;
  tr_actor_info info;
  tr_msg *reply = NULL;
  tr_pid got = 0;
  CHECK_EQ(tr_sup_start(h, &spec, NULL, &sup), TR_OK);
  w = tr_whereis(h, "w");
  subp = tr_whereis(h, "sub");
  CHECK_EQ(tr_actor_get_info(h, w, &info), TR_OK);
  CHECK_EQ(info.supervisor, sup);
  CHECK_EQ(info.restarts, 0);
  CHECK_STR(info.name, "w");
  CHECK_EQ(tr_actor_get_info(h, tr_whereis(h, "leaf"), &info), TR_OK);
  CHECK_EQ(info.supervisor, subp);

  CHECK_EQ(tr_kill(h, w, "crash"), TR_OK);
  STEP_UNTIL(h, (w2 = tr_whereis(h, "w")) != 0 && w2 != w, 5000);
  CHECK(w2 != w);
  CHECK_EQ(tr_actor_get_info(h, w2, &info), TR_OK);
  CHECK_EQ(info.supervisor, sup);
  CHECK_EQ(info.restarts, 1);

  CHECK_EQ(tr_host_call(h, sup, tr_msg_new("which_children"), 5000, &reply),
           TR_OK);
  if (reply) {
    CHECK_EQ(tr_value_len(tr_msg_arg(reply, 0)), 2);
    CHECK(str_is(child_field(reply, 0, "name"), "w"));
    CHECK_EQ(tr_value_pid(child_field(reply, 0, "pid"), &got), TR_OK);
    CHECK_EQ(got, w2);
    CHECK(str_is(child_field(reply, 0, "restart"), "transient"));
    CHECK(str_is(child_field(reply, 0, "type"), "worker"));
    CHECK(str_is(child_field(reply, 0, "kind"), "silent"));
    CHECK_EQ(map_int(child_field(reply, 0, "restarts")), 1);
    CHECK(str_is(child_field(reply, 1, "name"), "sub"));
    CHECK(str_is(child_field(reply, 1, "restart"), "permanent"));
    CHECK(str_is(child_field(reply, 1, "type"), "supervisor"));
    CHECK_EQ(map_int(child_field(reply, 1, "restarts")), 0);
    tr_msg_free(reply);
  }
  reply = NULL;
  CHECK_EQ(tr_host_call(h, sup, tr_msg_new("count_children"), 5000, &reply),
           TR_OK);
  if (reply) {
    const tr_value *m = tr_msg_arg(reply, 0);
    CHECK_EQ(tr_value_len(m), 4);
    CHECK(str_is(tr_value_key(m, 0), "specs"));
    CHECK_EQ(map_int(tr_value_val(m, 0)), 2);
    CHECK(str_is(tr_value_key(m, 1), "active"));
    CHECK_EQ(map_int(tr_value_val(m, 1)), 2);
    CHECK(str_is(tr_value_key(m, 2), "supervisors"));
    CHECK_EQ(map_int(tr_value_val(m, 2)), 1);
    CHECK(str_is(tr_value_key(m, 3), "workers"));
    CHECK_EQ(map_int(tr_value_val(m, 3)), 1);
    tr_msg_free(reply);
  }
  tr_host_free(h);
}

/* per_second: what was delivered over the time since its second began. */
static void test_rate(void) {
  tr_host *h = tr_host_new(NULL);
  rec r = {0};
  tr_pid p;
  tr_host_stats st;
  tr_actor_info info;
  uint64_t start;
  int i;
  CHECK_EQ(test_spawn_ctx(h, &rec_b, &r, NULL, &p), TR_OK);
  uv_update_time(tr_host_loop(h));
  start = uv_now(tr_host_loop(h));
  for (i = 0; i < 100; i++)
    CHECK_EQ(tr_send(h, 0, p, tr_msg_new("x")), TR_OK);
  STEP_UNTIL(h, r.got == 100, 5000);
  /* a second on: the rate counts those 100 over a second or a bit more */
  STEP_UNTIL(h,
             (uv_update_time(tr_host_loop(h)), 0) ||
                 uv_now(tr_host_loop(h)) - start >= 1100,
             5000);
  tr_host_get_stats(h, &st);
  CHECK(st.per_second > 0 && st.per_second <= 100);
  CHECK_EQ(tr_actor_get_info(h, p, &info), TR_OK);
  CHECK_EQ(info.handled, 100);
  CHECK_EQ(info.run_ns, 0); /* timing is off until asked for */
  tr_host_free(h);
}

int main(void) {
  RUN(test_states);
  RUN(test_supervised);
  RUN(test_rate);
  return test_report();
}
