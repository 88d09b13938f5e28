/*
 * game_loop.c -- embedding troupe in a program that owns its frame loop.
 *
 * A game does not hand its main thread to tr_host_run. It makes a host on
 * its main thread and calls tr_host_step once a frame: one bounded turn
 * that never blocks. Any thread may send to the host's actors (tr_send is
 * thread-safe); the host picks that mail up on its next step.
 *
 * Here a "world" actor counts events. For 60 frames the main thread sends
 * it a few events per frame while a worker thread sends its own meanwhile.
 * Once the worker is joined, the program steps until the world has counted
 * everything (asking it with tr_host_call), prints the totals and frees the
 * host.
 */
#include <inttypes.h>
#include <stdio.h>
#include <uv.h>

#include "troupe.h"

#define FRAMES 60
#define MAIN_PER_FRAME 10
#define WORKER_BURSTS 30
#define WORKER_PER_BURST 20

enum { FROM_MAIN, FROM_WORKER };

/* ---------------------------------------------------- the world actor */

typedef struct world {
  int64_t counted[2]; /* events seen, by source */
} world;

static int world_handle(tr_actor *self, void *state, tr_msg *m) {
  world *w = state;
  int64_t source;
  if (tr_msg_is(m, "event") && tr_msg_unpack(m, "I", &source) == TR_OK &&
      (source == FROM_MAIN || source == FROM_WORKER))
    w->counted[source]++;
  else if (tr_msg_is(m, "totals") && tr_msg_kind(m) == TR_KIND_CALL)
    tr_reply(tr_actor_host(self), m,
             tr_msg_pack("totals", "II", w->counted[FROM_MAIN],
                         w->counted[FROM_WORKER]));
  return TR_CONTINUE;
}

static const tr_behaviour world_behaviour = {
    .name = "world", .state_size = sizeof(world), .handle = world_handle};

/* --------------------------------------------------- the worker thread */

typedef struct worker_args {
  tr_host *host;
  tr_pid world;
} worker_args;

static void worker(void *arg) {
  worker_args *wa = arg;
  int i, j;
  for (i = 0; i < WORKER_BURSTS; i++) {
    for (j = 0; j < WORKER_PER_BURST; j++)
      tr_send(wa->host, 0, wa->world, tr_msg_pack("event", "i", FROM_WORKER));
    uv_sleep(1);
  }
}

/* -------------------------------------------------------- the program */

static int totals(tr_host *h, tr_pid world, int64_t *from_main,
                  int64_t *from_worker) {
  tr_msg *reply;
  int rc = tr_host_call(h, world, tr_msg_new("totals"), 1000, &reply);
  if (rc)
    return rc;
  rc = tr_msg_unpack(reply, "II", from_main, from_worker);
  tr_msg_free(reply);
  return rc;
}

int main(void) {
  const int64_t want_main = FRAMES * MAIN_PER_FRAME;
  const int64_t want_worker = WORKER_BURSTS * WORKER_PER_BURST;
  /* The worker may land a burst between two steps: give the world's
   * mailbox room for all of it (1024 messages by default). */
  tr_spawn_opts opts = {.capacity = 4096};
  tr_host *h = tr_host_new(NULL);
  tr_host_stats stats;
  int64_t from_main = 0, from_worker = 0;
  worker_args wa;
  uv_thread_t thread;
  int frame, i;

  if (!h || tr_spawn(h, &world_behaviour, NULL, &opts, &wa.world))
    return 1;
  wa.host = h;
  uv_thread_create(&thread, worker, &wa);

  for (frame = 0; frame < FRAMES; frame++) {
    /* ... read input, move things ... */
    for (i = 0; i < MAIN_PER_FRAME; i++)
      tr_send(h, 0, wa.world, tr_msg_pack("event", "i", FROM_MAIN));
    tr_host_step(h); /* the actors' share of this frame */
    /* ... render ... */
    uv_sleep(1); /* a (very) short frame */
  }
  uv_thread_join(&thread);
  printf("%d frames done, worker joined\n", FRAMES);

  /* Mail may still be queued: step until the world has counted it all. */
  for (i = 0; i < 100; i++) {
    if (totals(h, wa.world, &from_main, &from_worker))
      break;
    if (from_main == want_main && from_worker == want_worker)
      break;
    tr_host_step(h);
  }
  printf("from the main thread: %" PRId64 " of %" PRId64 " events\n", from_main,
         want_main);
  printf("from the worker thread: %" PRId64 " of %" PRId64 " events\n",
         from_worker, want_worker);
  tr_host_get_stats(h, &stats);
  printf("dead letters: %" PRIu64 "\n", stats.dead_letters);
  tr_host_free(h);
  return 0;
}
