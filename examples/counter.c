/*
 * counter.c -- the basic actor.
 *
 * An actor is a loop that receives messages from its mailbox and updates
 * private state. In C that loop belongs to the host: the actor gives it a
 * handle callback, called once per message, and the size of its state,
 * which the host allocates (zeroed) and passes back on every call.
 *
 * Here a counter adds up the values it is sent and prints its running
 * total. "stop" ends it; as it ends, it stops the host, so tr_host_run
 * returns and the program exits.
 */
#include <inttypes.h>
#include <stdio.h>

#include "troupe.h"

typedef struct counter {
  int64_t total; /* private: only the counter's callbacks touch it */
} counter;

static int counter_handle(tr_actor *self, void *state, tr_msg *m) {
  counter *c = state;
  int64_t n;
  (void)self;
  if (tr_msg_is(m, "add") && tr_msg_unpack(m, "I", &n) == TR_OK) {
    c->total += n;
    printf("add %" PRId64 " -> total %" PRId64 "\n", n, c->total);
    return TR_CONTINUE; /* wait for the next message */
  }
  if (tr_msg_is(m, "stop"))
    return TR_STOP;   /* end the actor, reason "normal" */
  return TR_CONTINUE; /* ignore anything else */
}

static void counter_terminate(tr_actor *self, void *state, const char *reason) {
  counter *c = state;
  printf("counter ended (%s): total %" PRId64 "\n", reason, c->total);
  tr_host_stop(tr_actor_host(self)); /* nothing left to do: stop the host */
}

static const tr_behaviour counter_behaviour = {
    .name = "counter",
    .state_size = sizeof(counter),
    .handle = counter_handle,
    .terminate = counter_terminate,
};

int main(void) {
  static const int values[] = {5, 10, 27};
  tr_host *h = tr_host_new(NULL); /* NULL: default settings */
  tr_pid pid;
  size_t i;
  int rc;

  if (!h)
    return 1;
  if ((rc = tr_spawn(h, &counter_behaviour, NULL, NULL, &pid))) {
    fprintf(stderr, "spawn: %s\n", tr_strerror(rc));
    return 1;
  }

  /* Sending only queues the messages (from 0: not from an actor); the
   * counter handles them once the host runs. */
  for (i = 0; i < sizeof values / sizeof values[0]; i++)
    tr_send(h, 0, pid, tr_msg_pack("add", "i", values[i]));
  tr_send(h, 0, pid, tr_msg_new("stop"));

  tr_host_run(h); /* until the counter stops the host */
  tr_host_free(h);
  return 0;
}
