/*
 * test_kv.c -- the store from C: tr_kv_start and the requests of a program
 * that embeds troupe (tr_kv_set, tr_kv_get, tr_kv_delete), with what they
 * refuse, and the data still there on a new host.
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
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0)
    return 2;
  return test_report();
}
