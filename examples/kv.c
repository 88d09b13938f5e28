/*
 * kv.c -- the store from a C program: start it on a host, set a key, read
 * it back, delete it. The data lives in the directory given as the first
 * argument (default: a fresh one under /tmp, removed at the end).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "troupe_services.h"

int main(int argc, char **argv) {
  char tmp[] = "/tmp/troupe-example-XXXXXX", *value = NULL, *err = NULL;
  const char *dir = argc > 1 ? argv[1] : mkdtemp(tmp);
  tr_kv_config cfg = {0};
  tr_host *h = tr_host_new(NULL);
  size_t len = 0;
  int rc;

  cfg.dir = dir;
  if (!h || !dir || tr_kv_start(h, &cfg) != TR_OK)
    return 1;
  if ((rc = tr_kv_set(h, "hello", 5, "world", 5, &err)) != TR_OK) {
    fprintf(stderr, "set failed: %s\n", err ? err : tr_strerror(rc));
    return 1;
  }
  puts("set hello = world");
  tr_kv_get(h, "hello", 5, &value, &len, NULL);
  printf("get hello -> %.*s\n", (int)len, value ? value : "");
  free(value);
  if (tr_kv_set(h, "", 0, "x", 1, &err) != TR_OK)
    printf("set with an empty key is refused: %s\n", err);
  free(err);
  tr_kv_delete(h, "hello", 5, NULL, NULL);
  tr_kv_get(h, "hello", 5, &value, &len, NULL);
  printf("after delete, hello is %s\n", value ? "still there" : "gone");
  free(value);
  tr_host_free(h);
  if (argc <= 1) {
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
  }
  return 0;
}
