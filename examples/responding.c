/*
 * responding.c -- the responding actor.
 *
 * A request carries a reply channel: tr_call sends it with a session id,
 * the callee answers with tr_reply, and the answer comes back to the caller
 * as a TR_KIND_REPLY carrying the same session (or as a TR_KIND_ERROR if the
 * call fails: the callee answers with tr_reply_error, the call times out or
 * the callee dies first).
 *
 * A native actor never blocks; it waits with tr_await(session), which holds
 * back every other message until the one with that session arrives.
 *
 *   1. call and wait:  the caller asks for 1*1, waits, prints it, asks for
 *                      2*2, and so on;
 *   2. wait later:     it sends three calls at once, does other work, then
 *                      collects the replies by session -- in reverse order,
 *                      to show that they are matched by session, not by
 *                      arrival.
 */
#include <inttypes.h>
#include <stdio.h>

#include "troupe.h"

#define TIMEOUT_MS 1000 /* a call with no answer by then gets an error */

/* ----------------------------------------------------- the responder */

static int squarer_handle(tr_actor *self, void *state, tr_msg *m) {
  int64_t n;
  (void)state;
  if (tr_msg_kind(m) == TR_KIND_CALL && tr_msg_is(m, "square") &&
      tr_msg_unpack(m, "I", &n) == TR_OK)
    tr_reply(tr_actor_host(self), m, tr_msg_pack("ok", "I", n * n));
  return TR_CONTINUE;
}

static const tr_behaviour squarer_behaviour = {.name = "squarer",
                                               .handle = squarer_handle};

/* -------------------------------------------------------- the caller */

enum { LATER = 3 };

typedef struct caller {
  tr_pid squarer;
  int64_t n;                /* part 1: the number asked for now */
  uint64_t sessions[LATER]; /* part 2: the calls in flight */
  int64_t asked[LATER];
  int left; /* part 2: replies still to collect */
} caller;

static uint64_t ask(tr_actor *self, caller *c, int64_t n) {
  uint64_t session = 0;
  int rc = tr_call(tr_actor_host(self), tr_self(self), c->squarer,
                   tr_msg_pack("square", "I", n), TIMEOUT_MS, &session);
  if (rc)
    fprintf(stderr, "call: %s\n", tr_strerror(rc));
  return session;
}

static int caller_init(tr_actor *self, void *state, tr_msg *args) {
  caller *c = state;
  if (tr_msg_unpack(args, "p", &c->squarer))
    return 1; /* spawned without the squarer's pid */
  /* Part 1: call and wait. */
  c->n = 1;
  tr_await(self, ask(self, c, c->n));
  return 0;
}

static void send_later_calls(tr_actor *self, caller *c) {
  int i;
  for (i = 0; i < LATER; i++) {
    c->asked[i] = 4 + i;
    c->sessions[i] = ask(self, c, c->asked[i]);
  }
  printf("sent %d calls; doing other work while they are answered\n", LATER);
  c->left = LATER;
  tr_await(self, c->sessions[LATER - 1]); /* collect the last one first */
}

static int caller_handle(tr_actor *self, void *state, tr_msg *m) {
  caller *c = state;
  int64_t result;
  int i;

  if (tr_msg_kind(m) == TR_KIND_ERROR) { /* "error", "timeout", "down" */
    size_t len;
    const char *why = tr_msg_name(m, &len); /* not NUL-terminated */
    printf("call failed: %.*s\n", (int)len, why);
    return TR_STOP;
  }
  if (tr_msg_kind(m) != TR_KIND_REPLY || tr_msg_unpack(m, "I", &result))
    return TR_CONTINUE;

  if (!c->left) { /* part 1 */
    printf("square(%" PRId64 ") = %" PRId64 "\n", c->n, result);
    if (c->n < 3) {
      c->n++;
      tr_await(self, ask(self, c, c->n));
    } else {
      send_later_calls(self, c); /* on to part 2 */
    }
    return TR_CONTINUE;
  }

  /* Part 2: which call is this the answer to? The session says. */
  for (i = 0; i < LATER && c->sessions[i] != tr_msg_session(m); i++)
    ;
  printf("collected square(%" PRId64 ") = %" PRId64 "\n", c->asked[i], result);
  if (--c->left) {
    tr_await(self, c->sessions[c->left - 1]);
    return TR_CONTINUE;
  }
  return TR_STOP;
}

static void caller_terminate(tr_actor *self, void *state, const char *reason) {
  (void)state;
  printf("caller done (%s)\n", reason);
  tr_host_stop(tr_actor_host(self));
}

static const tr_behaviour caller_behaviour = {.name = "caller",
                                              .state_size = sizeof(caller),
                                              .init = caller_init,
                                              .handle = caller_handle,
                                              .terminate = caller_terminate};

int main(void) {
  tr_host *h = tr_host_new(NULL);
  tr_pid squarer;
  if (!h)
    return 1;
  tr_spawn(h, &squarer_behaviour, NULL, NULL, &squarer);
  /* The caller learns the squarer's pid from its spawn arguments. */
  if (tr_spawn(h, &caller_behaviour, tr_msg_pack("args", "p", squarer), NULL,
               NULL))
    return 1;
  tr_host_run(h);
  tr_host_free(h);
  return 0;
}
