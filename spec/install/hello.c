/*
 * hello.c -- a program outside troupe's tree, built against an installed
 * troupe (pkg-config or find_package): a native actor adds up what it is
 * sent, and the store (troupe_services.h) keeps a key in ./hello-data.
 * spec/install/check builds and runs it; it exits 0 only if both did
 * their job.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <troupe.h>
#include <troupe_services.h>

/* adder: "add"(n) adds n to its total; a call "total" gets it back. */
static int adder_handle(tr_actor *self, void *state, tr_msg *m) {
  int64_t *total = state, n;
  if (tr_msg_is(m, "add") && tr_msg_unpack(m, "I", &n) == TR_OK)
    *total += n;
  else if (tr_msg_kind(m) == TR_KIND_CALL && tr_msg_is(m, "total"))
    tr_reply(tr_actor_host(self), m, tr_msg_pack("reply", "I", *total));
  return TR_CONTINUE;
}

static const tr_behaviour adder = {
    .name = "adder", .state_size = sizeof(int64_t), .handle = adder_handle};

int main(void) {
  tr_kv_config cfg = {.dir = "hello-data"};
  tr_host *h = tr_host_new(NULL);
  tr_msg *reply = NULL;
  char *value = NULL;
  int64_t total = 0;
  size_t len = 0;
  tr_pid pid;
  int i, rc;

  if (!h || tr_spawn(h, &adder, NULL, NULL, &pid) != TR_OK)
    return 1;
  for (i = 1; i <= 4; i++)
    tr_send(h, 0, pid, tr_msg_pack("add", "i", i));
  if (tr_host_call(h, pid, tr_msg_new("total"), 5000, &reply) != TR_OK ||
      tr_msg_unpack(reply, "I", &total) != TR_OK)
    return 1;
  tr_msg_free(reply);
  printf("adder: 1 + 2 + 3 + 4 = %" PRId64 "\n", total);

  /* the store, as troupe sets it up for Lua: router, store, log writer */
  if (tr_kv_start(h, &cfg) != TR_OK ||
      tr_kv_set(h, "hello", 5, "world", 5, NULL) != TR_OK ||
      tr_kv_get(h, "hello", 5, &value, &len, NULL) != TR_OK)
    return 1;
  printf("store: hello = %.*s\n", (int)len, value ? value : "");
  rc = total == 10 && len == 5 && !memcmp(value, "world", 5) ? 0 : 1;
  free(value);
  tr_host_free(h);
  printf("troupe %s: %s\n", TR_VERSION, rc ? "FAILED" : "ok");
  return rc;
}
