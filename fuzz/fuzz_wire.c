/*
 * fuzz_wire.c -- libFuzzer target for the wire's decoder (core/wire.c):
 * tr_wire_deliver on arbitrary bytes, into a lone host of node 2 with a
 * few actors to reach and a wire that takes whatever goes back.
 *
 * Every input must be taken (TR_OK) or refused (TR_EBADMSG), never crash
 * or leak; what was taken is then handled by the host (a turn of its loop),
 * its answers carried by the wire, which checks that each is well formed:
 * a 32-byte head of version 1 and a payload tr_msg_decode accepts.
 *
 * Run by scripts/fuzz; seeds in fuzz/corpus/fuzz_wire/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe.h"

#define CHECK(c) ((c) ? (void)0 : failed(#c, __LINE__))

_Noreturn static void failed(const char *what, int line) {
  fprintf(stderr, "fuzz_wire.c:%d: check failed: %s\n", line, what);
  abort();
}

/* What the core sends back must itself be a wire message. */
static int carry(void *ud, uint32_t node, const void *bytes, size_t len) {
  const unsigned char *b = bytes;
  tr_msg *m;
  int err = 0;
  (void)ud;
  CHECK(node != 0 && node != 2 && node <= 255);
  CHECK(len >= 32 && b[0] == 1);
  m = tr_msg_decode(b + 32, len - 32, &err);
  CHECK(m != NULL);
  tr_msg_free(m);
  return 0;
}

/* An actor that answers calls and ends on "stop". */
static int handle(tr_actor *self, void *state, tr_msg *m) {
  (void)state;
  if (m && tr_msg_kind(m) == TR_KIND_CALL)
    tr_reply(tr_actor_host(self), m, tr_msg_new("ok"));
  return m && tr_msg_is(m, "stop") ? TR_STOP : TR_CONTINUE;
}

static const tr_behaviour peer = {"peer", 0, NULL, handle, NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tr_host *h = tr_host_new(NULL);
  tr_wire w = {carry, NULL};
  tr_spawn_opts o;
  int rc, i;
  CHECK(h != NULL);
  CHECK(tr_host_set_node_id(h, 2) == TR_OK);
  CHECK(tr_host_set_wire(h, &w) == TR_OK);
  memset(&o, 0, sizeof o);
  for (i = 0; i < 3; i++) { /* slots 1 to 3, generation 1; one traps */
    o.trap_exit = i == 2;
    CHECK(tr_spawn(h, &peer, NULL, &o, NULL) == TR_OK);
  }
  rc = tr_wire_deliver(h, data, size);
  CHECK(rc == TR_OK || rc == TR_EBADMSG);
  tr_host_step(h);
  tr_host_node_lost(h, 1);
  tr_host_free(h);
  return 0;
}
