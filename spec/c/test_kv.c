/*
 * test_kv.c -- the store from C: tr_kv_start and the requests of a program
 * that embeds troupe (tr_kv_set, tr_kv_get, tr_kv_delete, and the rest of
 * the C API: tr_kv_set_with, exists, incr, expire, ttl, request), with
 * what they refuse, and the data still there on a new host.
 */
#include <stdlib.h>
#include <unistd.h>

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

static void test_set_get_delete(const char *dir) {
  tr_host *h = new_host();
  tr_kv_config cfg = {0};
  char *v = NULL, *err = NULL;
  size_t n = 0;
  cfg.dir = dir;
  CHECK_EQ(tr_kv_start(h, &cfg), TR_OK);
  CHECK_EQ(tr_kv_start(h, &cfg), TR_EEXIST);
  CHECK_EQ(tr_kv_set(h, "hello", 5, "wor\0ld", 6, NULL), TR_OK);
  CHECK_EQ(tr_kv_get(h, "hello", 5, &v, &n, NULL), TR_OK);
  CHECK_EQ(n, 6);
  CHECK(v && memcmp(v, "wor\0ld", 6) == 0);
  free(v);
  CHECK_EQ(tr_kv_get(h, "missing", 7, &v, &n, NULL), TR_OK);
  CHECK(v == NULL);
  CHECK_EQ(n, 0);
  /* A refused request says why and changes nothing. */
  CHECK_EQ(tr_kv_set(h, "", 0, "x", 1, &err), TR_EINVAL);
  CHECK(err && strstr(err, "key") != NULL);
  free(err);
  CHECK_EQ(tr_kv_set(h, "gone", 4, "soon", 4, NULL), TR_OK);
  CHECK_EQ(tr_kv_delete(h, "gone", 4, NULL, NULL), TR_OK);
  CHECK_EQ(tr_kv_get(h, "gone", 4, &v, &n, NULL), TR_OK);
  CHECK(v == NULL);
  tr_host_free(h);

  /* A new host on the same directory finds what was acknowledged. */
  h = new_host();
  CHECK_EQ(tr_kv_start(h, &cfg), TR_OK);
  CHECK_EQ(tr_kv_get(h, "hello", 5, &v, &n, NULL), TR_OK);
  CHECK(v && n == 6 && memcmp(v, "wor\0ld", 6) == 0);
  free(v);
  CHECK_EQ(tr_kv_get(h, "gone", 4, &v, &n, NULL), TR_OK);
  CHECK(v == NULL);
  tr_host_free(h);
}

/* The requests the store answers itself, or passes to the log writer in
 * the words it has always taken (set, delete). */
static void test_api(const char *dir) {
  tr_host *h = new_host();
  tr_kv_config cfg = {0};
  tr_kv_set_opts o = {0};
  tr_msg *r = NULL;
  char *err = NULL;
  int done = -1, yes = -1;
  int64_t ms = 0;
  const char *s;
  size_t n;
  cfg.dir = dir;
  CHECK_EQ(tr_kv_start(h, &cfg), TR_OK);
  CHECK_EQ(tr_kv_set_with(h, "a", 1, "1", 1, NULL, &done, NULL), TR_OK);
  CHECK_EQ(done, 1);
  CHECK_EQ(tr_kv_set_with(h, "a", 1, "2", 1, &o, &done, NULL), TR_OK);
  CHECK_EQ(done, 1);
  o.nx = 1; /* refused by the store itself */
  CHECK_EQ(tr_kv_set_with(h, "a", 1, "3", 1, &o, &done, NULL), TR_OK);
  CHECK_EQ(done, 0);
  o.nx = 0;
  o.xx = 1;
  CHECK_EQ(tr_kv_set_with(h, "none", 4, "3", 1, &o, &done, NULL), TR_OK);
  CHECK_EQ(done, 0);
  o.nx = 1; /* both: refused with a reason */
  CHECK_EQ(tr_kv_set_with(h, "a", 1, "3", 1, &o, &done, &err), TR_EINVAL);
  CHECK(err && strstr(err, "nx or xx"));
  free(err);
  CHECK_EQ(tr_kv_exists(h, "a", 1, &yes, NULL), TR_OK);
  CHECK_EQ(yes, 1);
  CHECK_EQ(tr_kv_exists(h, "none", 4, &yes, NULL), TR_OK);
  CHECK_EQ(yes, 0);
  CHECK_EQ(tr_kv_ttl(h, "a", 1, &ms, NULL), TR_OK);
  CHECK_EQ(ms, -1);
  CHECK_EQ(tr_kv_ttl(h, "none", 4, &ms, NULL), TR_OK);
  CHECK_EQ(ms, -2);
  CHECK_EQ(tr_kv_expire(h, "none", 4, 1000, &yes, NULL), TR_OK);
  CHECK_EQ(yes, 0);
  CHECK_EQ(tr_kv_delete(h, "none", 4, &yes, NULL), TR_OK);
  CHECK_EQ(yes, 0);
  CHECK_EQ(tr_kv_set(h, "b", 1, "x", 1, NULL), TR_OK);
  CHECK_EQ(tr_kv_request(h, tr_msg_pack("kv", "ssss", "mget", "a", "z", "b"),
                         &r, NULL),
           TR_OK);
  CHECK(r && tr_msg_argc(r) == 3);
  CHECK(r && tr_msg_unpack(r, "S", &s, &n) == TR_OK && n == 1 && *s == '2');
  CHECK(r && tr_value_type(tr_msg_arg(r, 1)) == TR_NIL);
  tr_msg_free(r);
  CHECK_EQ(tr_kv_request(h, tr_msg_pack("kv", "ss", "keys", "[ab]"), &r, NULL),
           TR_OK);
  CHECK(r && tr_value_len(tr_msg_arg(r, 0)) == 2);
  tr_msg_free(r);
  CHECK_EQ(tr_kv_request(h, tr_msg_pack("kv", "ss", "bogus", "x"), &r, &err),
           TR_EINVAL);
  CHECK(r == NULL && err && strstr(err, "unknown operation"));
  free(err);
  CHECK_EQ(tr_kv_delete(h, "b", 1, &yes, NULL), TR_OK);
  CHECK_EQ(yes, 1);
  tr_host_free(h);
}

/* The rest of the API against the real pair: incr, set with options,
 * exists, expire and ttl, a request of any kind. */
static void test_api_more(const char *dir) {
  tr_host *h = new_host();
  tr_kv_config cfg = {0};
  tr_kv_set_opts o = {0};
  char *err = NULL, *v = NULL;
  int done = -1, yes = -1;
  int64_t ms = 0, n = 0;
  size_t len = 0;
  cfg.dir = dir;
  CHECK_EQ(tr_kv_start(h, &cfg), TR_OK);
  CHECK_EQ(tr_kv_incr(h, "n", 1, 41, &n, NULL), TR_OK);
  CHECK_EQ(n, 41);
  CHECK_EQ(tr_kv_incr(h, "n", 1, 1, &n, NULL), TR_OK);
  CHECK_EQ(n, 42);
  CHECK_EQ(tr_kv_set(h, "s", 1, "x", 1, NULL), TR_OK);
  CHECK_EQ(tr_kv_incr(h, "s", 1, 1, &n, &err), TR_EINVAL);
  CHECK(err && strstr(err, "not an integer"));
  free(err);
  o.px = 60000;
  CHECK_EQ(tr_kv_set_with(h, "t", 1, "v", 1, &o, &done, NULL), TR_OK);
  CHECK_EQ(done, 1);
  CHECK_EQ(tr_kv_ttl(h, "t", 1, &ms, NULL), TR_OK);
  CHECK(ms > 50000 && ms <= 60000);
  CHECK_EQ(tr_kv_expire(h, "n", 1, 120000, &yes, NULL), TR_OK);
  CHECK_EQ(yes, 1);
  CHECK_EQ(tr_kv_expire(h, "s", 1, 0, &yes, NULL), TR_OK); /* removed */
  CHECK_EQ(yes, 1);
  tr_host_free(h);
  /* all of it written down: the values, the expiries */
  h = new_host();
  CHECK_EQ(tr_kv_start(h, &cfg), TR_OK);
  CHECK_EQ(tr_kv_get(h, "n", 1, &v, &len, NULL), TR_OK);
  CHECK(v && len == 2 && !memcmp(v, "42", 2));
  free(v);
  CHECK_EQ(tr_kv_exists(h, "s", 1, &yes, NULL), TR_OK);
  CHECK_EQ(yes, 0);
  CHECK_EQ(tr_kv_ttl(h, "n", 1, &ms, NULL), TR_OK);
  CHECK(ms > 100000 && ms <= 120000);
  CHECK_EQ(tr_kv_ttl(h, "t", 1, &ms, NULL), TR_OK);
  CHECK(ms > 0 && ms <= 60000);
  tr_host_free(h);
}

static void test_no_store(void) {
  tr_host *h = new_host();
  char *v;
  size_t n;
  CHECK_EQ(tr_kv_get(h, "k", 1, &v, &n, NULL), TR_ENOPROC);
  CHECK_EQ(tr_kv_start(NULL, NULL), TR_EINVAL);
  tr_host_free(h);
}

int main(void) {
  char dir[] = "/tmp/troupe-kv-XXXXXX";
  char cmd[64];
  if (!mkdtemp(dir))
    return 2;
  RUN(test_no_store);
  test_set_get_delete(dir);
  printf("%s test_set_get_delete\n", test_failures ? "FAIL" : "ok  ");
  test_api(dir);
  printf("%s test_api\n", test_failures ? "FAIL" : "ok  ");
  test_api_more(dir);
  printf("%s test_api_more\n", test_failures ? "FAIL" : "ok  ");
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0)
    return 2;
  return test_report();
}
