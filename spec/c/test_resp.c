/*
 * test_resp.c -- the RESP gateway from C: tr_resp_start beside tr_kv_start,
 * what it refuses to start with, and a hiredis client on a thread of its
 * own talking to it while the host runs (commands, errors, a pipeline of
 * thousands answered in order), then a host without the store.
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "test.h"
#include "troupe_services.h"

static void quiet(void *ud, int level, const char *text) {
  (void)ud, (void)level, (void)text;
}

static tr_host *new_host(void) {
  tr_host_config c = {0};
  c.log = quiet;
  return tr_host_new(&c);
}

typedef struct client_arg {
  tr_host *h;
  int port;
  int with_store;
} client_arg;

static redisReply *command(redisContext *rc, const char *fmt, ...) {
  va_list ap;
  redisReply *r;
  va_start(ap, fmt);
  r = redisvCommand(rc, fmt, ap);
  va_end(ap);
  return r;
}

/* Checks reply r is of type and, for text, says s; frees it. */
static int is(redisReply *r, int type, const char *s) {
  int ok = r && r->type == type && (!s || (r->str && !strcmp(r->str, s)));
  if (!ok && r)
    fprintf(stderr, "got type %d '%s', want %d '%s'\n", r->type,
            r->str ? r->str : "", type, s ? s : "");
  freeReplyObject(r);
  return ok;
}

static void client(void *arg) {
  client_arg *a = arg;
  struct timeval tv = {10, 0};
  redisContext *rc = redisConnectWithTimeout("127.0.0.1", a->port, tv);
  redisReply *r;
  int i;
  CHECK(rc && !rc->err);
  if (!rc || rc->err)
    goto done;
  redisSetTimeout(rc, tv);
  CHECK(is(command(rc, "PING"), REDIS_REPLY_STATUS, "PONG"));
  CHECK(is(command(rc, "nope x"), REDIS_REPLY_ERROR,
           "ERR unknown command 'nope', with args beginning with: 'x' "));
  if (!a->with_store) {
    CHECK(is(command(rc, "GET k"), REDIS_REPLY_ERROR,
             "ERR the store is not running"));
    goto done;
  }
  CHECK(
      is(command(rc, "SET k %b", "v\0w", (size_t)3), REDIS_REPLY_STATUS, "OK"));
  r = command(rc, "GET k");
  CHECK(r && r->type == REDIS_REPLY_STRING && r->len == 3 &&
        !memcmp(r->str, "v\0w", 3));
  freeReplyObject(r);
  CHECK(is(command(rc, "GET missing"), REDIS_REPLY_NIL, NULL));
  r = command(rc, "DBSIZE");
  CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
  freeReplyObject(r);
  /* a pipeline of thousands, answered in request order */
  for (i = 0; i < 3000; i++) {
    redisAppendCommand(rc, "SET p:%d %d", i, i);
    redisAppendCommand(rc, "GET p:%d", i);
  }
  for (i = 0; i < 3000; i++) {
    char want[16];
    snprintf(want, sizeof want, "%d", i);
    CHECK(redisGetReply(rc, (void **)&r) == REDIS_OK);
    CHECK(is(r, REDIS_REPLY_STATUS, "OK"));
    CHECK(redisGetReply(rc, (void **)&r) == REDIS_OK);
    CHECK(is(r, REDIS_REPLY_STRING, want));
  }
  r = command(rc, "INFO");
  CHECK(r && r->type == REDIS_REPLY_STRING && strstr(r->str, "# Server") &&
        strstr(r->str, "connected_clients:1"));
  freeReplyObject(r);
done:
  if (rc)
    redisFree(rc);
  tr_host_stop(a->h);
}

static void run_with_client(tr_host *h, int port, int with_store) {
  client_arg a = {h, port, with_store};
  uv_thread_t t;
  CHECK_EQ(uv_thread_create(&t, client, &a), 0);
  tr_host_run(h);
  uv_thread_join(&t);
}

static void test_gateway(const char *dir) {
  tr_host *h = new_host();
  tr_kv_config kc = {0};
  tr_resp_config rc = {0};
  int port = 0;
  tr_pid pid;
  kc.dir = dir;
  CHECK_EQ(tr_kv_start(h, &kc), TR_OK);
  /* beyond loopback without a password, a bad address, a bad port */
  rc.addr = "0.0.0.0";
  CHECK_EQ(tr_resp_start(h, &rc, &pid), TR_EINVAL);
  CHECK_EQ(pid, 0);
  rc.addr = "not an address";
  CHECK_EQ(tr_resp_start(h, &rc, NULL), TR_EINVAL);
  rc.addr = NULL;
  rc.port = 70000;
  CHECK_EQ(tr_resp_start(h, &rc, NULL), TR_EINVAL);
  rc.port = 0;
  rc.out_port = &port;
  CHECK_EQ(tr_resp_start(h, &rc, &pid), TR_OK);
  CHECK(pid != 0 && port > 0);
  CHECK_EQ(tr_whereis(h, "resp"), pid);
  CHECK_EQ(tr_resp_start(h, &rc, NULL), TR_EEXIST);
  run_with_client(h, port, 1);
  tr_host_free(h);
}

static void test_without_store(void) {
  tr_host *h = new_host();
  tr_resp_config rc = {0};
  int port = 0;
  rc.out_port = &port;
  CHECK_EQ(tr_resp_start(h, &rc, NULL), TR_OK);
  run_with_client(h, port, 0);
  tr_host_free(h);
}

int main(void) {
  char dir[] = "/tmp/troupe-resp-XXXXXX";
  char cmd[64];
  if (!mkdtemp(dir))
    return 2;
  test_gateway(dir);
  printf("%s test_gateway\n", test_failures ? "FAIL" : "ok  ");
  RUN(test_without_store);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0)
    return 2;
  return test_report();
}
