/*
 * test_kv_redis.c -- the store in Redis from C: tr_kv_start with
 * tr_kv_config.redis against a redis-server this test starts on a free
 * port (nothing saved) and stops; the requests, a bad URL, Redis killed
 * (requests fail at once, one "lost" line) and started again (one
 * "reconnected" line, requests work). Exits 77 (skipped) without
 * redis-server.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "troupe_services.h"

static char logbuf[16384];

static void on_log(void *ud, int level, const char *text) {
  size_t len = strlen(logbuf);
  (void)ud;
  (void)level;
  snprintf(logbuf + len, sizeof logbuf - len, "%s\n", text);
}

static int count_in_log(const char *what) {
  int n = 0;
  const char *p = logbuf;
  while ((p = strstr(p, what))) {
    n++;
    p += strlen(what);
  }
  return n;
}

static int free_port(void) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  int fd = socket(AF_INET, SOCK_STREAM, 0), port;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, (struct sockaddr *)&a, sizeof a);
  getsockname(fd, (struct sockaddr *)&a, &len);
  port = ntohs(a.sin_port);
  close(fd);
  return port;
}

static int answers(int port) { /* something listens on port */
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

static int redis_port;
static pid_t redis_pid;

/* Starts redis-server on redis_port and waits until it listens. */
static int redis_start(void) {
  char port[16];
  uint64_t end = uv_hrtime() + 10000000000u;
  snprintf(port, sizeof port, "%d", redis_port);
  redis_pid = fork();
  if (redis_pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execlp("redis-server", "redis-server", "--port", port, "--bind",
           "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", "/tmp",
           (char *)NULL);
    _exit(127);
  }
  while (!answers(redis_port) && uv_hrtime() < end) {
    int status;
    if (waitpid(redis_pid, &status, WNOHANG) == redis_pid)
      return -1;
    usleep(10000); /* polls for it to listen, with a deadline */
  }
  return answers(redis_port) ? 0 : -1;
}

static void redis_kill(void) {
  if (redis_pid > 0) {
    kill(redis_pid, SIGKILL);
    waitpid(redis_pid, NULL, 0);
    redis_pid = 0;
  }
}

static tr_host *host_new(void) {
  tr_host_config hc;
  memset(&hc, 0, sizeof hc);
  hc.log = on_log;
  logbuf[0] = '\0';
  return tr_host_new(&hc);
}

static void test_bad_url(void) {
  tr_host *h = host_new();
  tr_kv_config cfg = {0};
  char err[200];
  cfg.redis = "redis://127.0.0.1:99999/0";
  CHECK_EQ(tr_kv_start(h, &cfg), TR_EINVAL);
  CHECK(strstr(logbuf, "the port in") != NULL);
  CHECK_EQ(tr_kv_redis_url_check("nats://x", err, sizeof err), TR_EINVAL);
  CHECK(strstr(err, "redis://HOST[:PORT][/DB]") != NULL);
  CHECK_EQ(tr_kv_redis_url_check("redis://localhost", NULL, 0), TR_OK);
  CHECK_EQ(tr_kv_redis_url_check("redis://:pw@[::1]:7000/3", NULL, 0), TR_OK);
  CHECK_EQ(tr_kv_redis_url_check("redis://h:1/x", NULL, 0), TR_EINVAL);
  tr_host_free(h);
}

static void test_requests(void) {
  tr_host *h = host_new();
  tr_kv_config cfg = {0};
  char url[64], *v = NULL, *err = NULL;
  size_t len = 0;
  int done = -1, existed = -1;
  int64_t n = 0;
  tr_kv_set_opts o = {0};
  tr_msg *reply = NULL;
  snprintf(url, sizeof url, "redis://127.0.0.1:%d/1", redis_port);
  cfg.redis = url;
  CHECK_EQ(tr_kv_start(h, &cfg), TR_OK);
  CHECK_EQ(tr_kv_set(h, "k", 1, "value", 5, &err), TR_OK);
  CHECK_EQ(tr_kv_get(h, "k", 1, &v, &len, &err), TR_OK);
  CHECK(v && len == 5 && !memcmp(v, "value", 5));
  free(v);
  CHECK_EQ(tr_kv_get(h, "none", 4, &v, &len, &err), TR_OK);
  CHECK(v == NULL);
  o.nx = 1;
  CHECK_EQ(tr_kv_set_with(h, "k", 1, "x", 1, &o, &done, &err), TR_OK);
  CHECK_EQ(done, 0);
  memset(&o, 0, sizeof o);
  o.px = 60000;
  CHECK_EQ(tr_kv_set_with(h, "t", 1, "x", 1, &o, &done, &err), TR_OK);
  CHECK_EQ(done, 1);
  CHECK_EQ(tr_kv_ttl(h, "t", 1, &n, &err), TR_OK);
  CHECK(n > 59000 && n <= 60000);
  CHECK_EQ(tr_kv_incr(h, "c", 1, 5, &n, &err), TR_OK);
  CHECK_EQ(n, 5);
  CHECK_EQ(tr_kv_incr(h, "k", 1, 1, &n, &err), TR_EINVAL);
  CHECK_STR(err, "kv: the value is not an integer or out of range");
  free(err);
  err = NULL;
  CHECK_EQ(tr_kv_expire(h, "c", 1, 0, &existed, &err), TR_OK);
  CHECK_EQ(existed, 1);
  CHECK_EQ(tr_kv_delete(h, "k", 1, &existed, &err), TR_OK);
  CHECK_EQ(existed, 1);
  CHECK_EQ(tr_kv_delete(h, "k", 1, &existed, &err), TR_OK);
  CHECK_EQ(existed, 0);
  CHECK_EQ(tr_kv_request(h, tr_msg_pack("kv", "ssss", "mset", "a", "1", "b"),
                         &reply, &err),
           TR_EINVAL); /* an odd count */
  free(err);
  err = NULL;
  CHECK_EQ(tr_kv_request(h, tr_msg_pack("kv", "sss", "mget", "t", "zz"), &reply,
                         &err),
           TR_OK);
  CHECK_EQ(tr_msg_argc(reply), 2);
  CHECK_EQ(tr_value_type(tr_msg_arg(reply, 1)), TR_NIL);
  tr_msg_free(reply);
  CHECK_EQ(tr_kv_request(h, tr_msg_pack("kv", "s", "count"), &reply, &err),
           TR_OK);
  CHECK_EQ(tr_value_int(tr_msg_arg(reply, 0), &n), TR_OK);
  CHECK_EQ(n, 1); /* t */
  tr_msg_free(reply);
  CHECK_EQ(count_in_log("kv: redis: connected to "), 1);
  tr_host_free(h);
}

static void test_down_and_back(void) {
  tr_host *h = host_new();
  tr_kv_config cfg = {0};
  char url[64], *v = NULL, *err = NULL;
  size_t len;
  int i, rc = -1;
  /* by name: looked up at start, and again (off the loop) after the loss */
  snprintf(url, sizeof url, "redis://localhost:%d/2", redis_port);
  cfg.redis = url;
  CHECK_EQ(tr_kv_start(h, &cfg), TR_OK);
  CHECK_EQ(tr_kv_set(h, "k", 1, "v", 1, &err), TR_OK);
  redis_kill();
  STEP_UNTIL(h, count_in_log("kv: redis: lost"), 10000);
  for (i = 0; i < 20; i++) {
    uint64_t t0 = uv_hrtime();
    CHECK_EQ(tr_kv_get(h, "k", 1, &v, &len, &err), TR_EINVAL);
    CHECK(err && strstr(err, "kv: redis unavailable: ") == err);
    CHECK(uv_hrtime() - t0 < 2500000000u); /* never the caller's 5 s */
    free(err);
    err = NULL;
  }
  CHECK_EQ(count_in_log("kv: redis: lost"), 1);
  CHECK_EQ(redis_start(), 0);
  STEP_UNTIL(h, count_in_log("kv: redis: reconnected"), 10000);
  CHECK_EQ(count_in_log("kv: redis: reconnected"), 1);
  rc = tr_kv_set(h, "k", 1, "again", 5, &err);
  CHECK_EQ(rc, TR_OK);
  free(err);
  err = NULL;
  CHECK_EQ(tr_kv_get(h, "k", 1, &v, &len, &err), TR_OK);
  CHECK(v && len == 5);
  free(v);
  CHECK_EQ(count_in_log("kv: redis: lost"), 1);
  tr_host_free(h);
}

int main(void) {
  if (system("command -v redis-server >/dev/null 2>&1") != 0) {
    printf("skipped: no redis-server\n");
    return 77;
  }
  signal(SIGPIPE, SIG_IGN);
  redis_port = free_port();
  if (redis_start()) {
    printf("cannot start redis-server\n");
    redis_kill();
    return 1;
  }
  RUN(test_bad_url);
  RUN(test_requests);
  RUN(test_down_and_back);
  redis_kill();
  return test_report();
}
