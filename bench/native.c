/*
 * native.c -- benchmarks of native C actors on one host (one core).
 *
 * Prints one markdown table row per measurement, under the header that
 * scripts/bench prints:  | benchmark | result | unit | target |
 * Targets are DESIGN.md's "Where it must stand"; "-" where it names none.
 * A rate is the median of RUNS runs (TROUPE_BENCH_RUNS, default 5) with the
 * min and max beside it, "median (min-max)"; each run on a fresh host,
 * timed with uv_hrtime (the wall clock) from the first send to the last
 * message handled.
 *
 *   one-way       a producer streams N messages ("n", i) to a consumer that
 *                 checks each name and reads its argument. Flow control is
 *                 by credit, as a sender that must not overflow a bounded
 *                 mailbox does it: the producer starts with a window of W
 *                 messages (the consumer's capacity, so no send can fail)
 *                 and the consumer acks every K messages, each ack buying K
 *                 more. Acks add 1/K messages; the rate counts only the N.
 *   call          a caller does tr_call, waits for the reply (tr_await),
 *                 then calls again: sequential round trips. The server
 *                 reads the argument and replies with its square, which
 *                 the caller reads. Once with no
 *                 timeout, once with a 5 s timeout (a timer per call), and
 *                 once keeping 64 calls in flight (pipelined).
 *   spawn, kill   the main program (on the loop thread) spawns N trivial
 *                 actors in a row, then kills them all. Cold: each run in a
 *                 fresh process (this program run again with "spawn-once"),
 *                 whose heap has never held an actor; warm: that process
 *                 again right after, reusing the memory the first N freed.
 *   idle actor    how much the process grows (RSS from /proc/self/statm,
 *                 and the malloc heap from mallinfo2) by spawning 100k idle
 *                 actors, per actor. Measured first, on a fresh heap.
 *
 * usage: bench_native [scale [name...]]
 *   scale  multiplies every count (default 1; 0.01 for a quick smoke run)
 *   name   run only these: idle, oneway, call, spawn (default: all)
 */
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "bench.h"

/* What the actors of one run report back to main: the run's own record,
 * which they get as their ctx. */
typedef struct result {
  uint64_t t0, t1; /* uv_hrtime at the first send and at the last answer */
  int64_t sum;     /* checksum of what arrived */
} result;

static void start_clock(result *res) { res->t0 = uv_hrtime(); }
static void stop_clock(tr_actor *self, result *res) {
  res->t1 = uv_hrtime();
  tr_host_stop(tr_actor_host(self));
}

/* ------------------------------------------------------------ one-way */

typedef struct flow {
  tr_pid peer;
  uint64_t n, window, k; /* messages, credit window, ack every k */
  uint64_t next;         /* producer: next i to send; consumer: seen */
  result *res;
} flow;

/* Both ends learn (peer, n, window, k) from their spawn arguments, and
 * where to report from their ctx. */
static int flow_init(tr_actor *self, void *state, tr_msg *args) {
  flow *f = state;
  f->res = tr_actor_ctx(self);
  return tr_msg_unpack(args, "pIII", &f->peer, &f->n, &f->window, &f->k);
}

static void produce(tr_actor *self, flow *p, uint64_t credit) {
  tr_host *h = tr_actor_host(self);
  for (; credit && p->next < p->n; credit--, p->next++) {
    tr_msg *m = tr_msg_new("n");
    int rc;
    tr_msg_add_int(m, (int64_t)p->next);
    if ((rc = tr_send(h, tr_self(self), p->peer, m)))
      die("one-way send", rc);
  }
}

static int producer_handle(tr_actor *self, void *state, tr_msg *m) {
  flow *p = state;
  if (tr_msg_is(m, "ack")) {
    produce(self, p, p->k);
  } else if (tr_msg_is(m, "go")) {
    start_clock(p->res);
    produce(self, p, p->window);
  }
  return TR_CONTINUE;
}

static int consumer_handle(tr_actor *self, void *state, tr_msg *m) {
  flow *c = state;
  int64_t i;
  if (!tr_msg_is(m, "n") || tr_msg_unpack(m, "I", &i))
    die("one-way: unexpected message", TR_ETYPE);
  c->res->sum += i;
  if (++c->next == c->n)
    stop_clock(self, c->res);
  else if (c->next % c->k == 0)
    tr_send(tr_actor_host(self), tr_self(self), tr_msg_from(m),
            tr_msg_new("ack"));
  return TR_CONTINUE;
}

static const tr_behaviour producer_b = {"producer", sizeof(flow), flow_init,
                                        producer_handle, NULL};
static const tr_behaviour consumer_b = {"consumer", sizeof(flow), flow_init,
                                        consumer_handle, NULL};

static tr_msg *flow_args(tr_pid peer, uint64_t n, uint64_t window, uint64_t k) {
  return tr_msg_pack("args", "pIII", peer, (int64_t)n, (int64_t)window,
                     (int64_t)k);
}

static uint64_t run_oneway(uint64_t n) {
  const uint64_t window = 1024, k = 256;
  tr_host *h = tr_host_new(NULL);
  result res = {0, 0, 0};
  tr_spawn_opts opts = {.capacity = (uint32_t)window, .ctx = &res};
  tr_spawn_opts popts = {.ctx = &res};
  tr_pid prod, cons;
  int rc;
  /* The consumer's peer is unused: it acks whoever sent. */
  if ((rc = tr_spawn(h, &consumer_b, flow_args(0, n, window, k), &opts,
                     &cons)) ||
      (rc = tr_spawn(h, &producer_b, flow_args(cons, n, window, k), &popts,
                     &prod)))
    die("spawn", rc);
  tr_send(h, 0, prod, tr_msg_new("go"));
  tr_host_run(h);
  tr_host_free(h);
  if (res.sum != (int64_t)(n * (n - 1) / 2)) {
    fprintf(stderr, "%s: one-way lost messages\n", bench_name);
    exit(1);
  }
  return res.t1 - res.t0;
}

static void bench_oneway(void) {
  const uint64_t n = count(3e6);
  uint64_t *ns = new_times();
  for (int r = 0; r < runs; r++)
    ns[r] = run_oneway(n);
  rate_row("native one-way (C->C)", n, ns, "msgs/s", "10 M");
  free(ns);
}

/* -------------------------------------------------------------- calls */

static int squarer_handle(tr_actor *self, void *state, tr_msg *m) {
  int64_t i;
  (void)state;
  if (tr_msg_kind(m) == TR_KIND_CALL && tr_msg_unpack(m, "I", &i) == TR_OK) {
    tr_msg *r = tr_msg_new("ok");
    tr_msg_add_int(r, i * i);
    tr_reply(tr_actor_host(self), m, r);
  }
  return TR_CONTINUE;
}

static const tr_behaviour squarer_b = {"squarer", 0, NULL, squarer_handle,
                                       NULL};

typedef struct caller {
  tr_pid callee;
  uint64_t n, sent, got, inflight;
  uint32_t timeout_ms;
  result *res;
} caller;

static int caller_init(tr_actor *self, void *state, tr_msg *args) {
  caller *c = state;
  int64_t timeout;
  c->res = tr_actor_ctx(self);
  if (tr_msg_unpack(args, "pIII", &c->callee, &c->n, &timeout, &c->inflight))
    return 1;
  c->timeout_ms = (uint32_t)timeout;
  return 0;
}

static void call_one(tr_actor *self, caller *c) {
  uint64_t session;
  tr_msg *m = tr_msg_new("sq");
  int rc;
  tr_msg_add_int(m, (int64_t)(c->sent++ & 0xffff));
  rc = tr_call(tr_actor_host(self), tr_self(self), c->callee, m, c->timeout_ms,
               &session);
  if (rc)
    die("call", rc);
  if (c->inflight == 1)
    tr_await(self, session); /* call and wait, as a sequential caller does */
}

static int caller_handle(tr_actor *self, void *state, tr_msg *m) {
  caller *c = state;
  int64_t v;
  if (tr_msg_kind(m) == TR_KIND_REPLY && tr_msg_unpack(m, "I", &v) == TR_OK) {
    c->res->sum += v;
    if (++c->got == c->n)
      stop_clock(self, c->res);
    else if (c->sent < c->n)
      call_one(self, c);
  } else if (tr_msg_is(m, "go")) {
    start_clock(c->res);
    while (c->sent < c->inflight && c->sent < c->n)
      call_one(self, c);
  } else {
    size_t len;
    const char *name = tr_msg_name(m, &len);
    fprintf(stderr, "%s: call failed: %.*s\n", bench_name, (int)len, name);
    exit(1);
  }
  return TR_CONTINUE;
}

static const tr_behaviour caller_b = {"caller", sizeof(caller), caller_init,
                                      caller_handle, NULL};

static uint64_t run_call(uint64_t n, uint32_t timeout_ms, uint64_t inflight) {
  tr_host *h = tr_host_new(NULL);
  result res = {0, 0, 0};
  tr_spawn_opts opts = {.ctx = &res};
  tr_pid callee, cl;
  int64_t want = 0;
  uint64_t i;
  int rc;
  if ((rc = tr_spawn(h, &squarer_b, NULL, NULL, &callee)) ||
      (rc = tr_spawn(h, &caller_b,
                     tr_msg_pack("args", "pIII", callee, (int64_t)n,
                                 (int64_t)timeout_ms, (int64_t)inflight),
                     &opts, &cl)))
    die("spawn", rc);
  tr_send(h, 0, cl, tr_msg_new("go"));
  tr_host_run(h);
  tr_host_free(h);
  for (i = 0; i < n; i++)
    want += (int64_t)(i & 0xffff) * (int64_t)(i & 0xffff);
  if (res.t1 == 0 || res.sum != want) {
    fprintf(stderr, "%s: call: wrong or missing replies\n", bench_name);
    exit(1);
  }
  return res.t1 - res.t0;
}

static void bench_call(const char *name, uint32_t timeout_ms, uint64_t inflight,
                       const char *target) {
  const uint64_t n = count(inflight > 1 ? 2e6 : 1.5e6);
  uint64_t *ns = new_times();
  for (int r = 0; r < runs; r++)
    ns[r] = run_call(n, timeout_ms, inflight);
  rate_row(name, n, ns, "calls/s", target);
  free(ns);
}

/* ------------------------------------------------------ spawn and kill */

static int idle_handle(tr_actor *self, void *state, tr_msg *m) {
  (void)self, (void)state, (void)m;
  return TR_CONTINUE;
}

static const tr_behaviour idle_b = {"idle", 0, NULL, idle_handle, NULL};

/* Spawns n trivial actors on a fresh host, then kills them all: the
 * nanoseconds of each half into t[0] and t[1]. */
static void run_spawn(uint64_t n, tr_pid *pids, uint64_t t[2]) {
  tr_host *h = tr_host_new(NULL);
  uint64_t t0, t1, t2, i;
  int rc;
  if (!h)
    die("tr_host_new", TR_ENOMEM);
  t0 = uv_hrtime();
  for (i = 0; i < n; i++)
    if ((rc = tr_spawn(h, &idle_b, NULL, NULL, &pids[i])))
      die("spawn", rc);
  t1 = uv_hrtime();
  for (i = 0; i < n; i++)
    if ((rc = tr_kill(h, pids[i], "shutdown")))
      die("kill", rc);
  t2 = uv_hrtime();
  tr_host_free(h);
  t[0] = t1 - t0;
  t[1] = t2 - t1;
}

/* "spawn-once": one cold run, then one warm, in this fresh process; prints
 * "spawn COLD_SPAWN COLD_KILL WARM_SPAWN WARM_KILL" in nanoseconds. */
static void spawn_once(void) {
  const uint64_t n = count(1e6);
  tr_pid *pids = malloc(n * sizeof *pids);
  uint64_t cold[2], warm[2];
  if (!pids)
    die("malloc", TR_ENOMEM);
  run_spawn(n, pids, cold);
  run_spawn(n, pids, warm);
  free(pids);
  printf("spawn %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", cold[0],
         cold[1], warm[0], warm[1]);
}

/* Each run in a fresh process: this program again, with "spawn-once". */
static void bench_spawn(void) {
  const uint64_t n = count(1e6);
  uint64_t *t[4];
  char exe[4096], cmd[4200];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  int k;
  if (len <= 0 || memchr(exe, '\'', (size_t)len))
    die("spawn: cannot name this program", TR_EINVAL);
  exe[len] = 0;
  for (k = 0; k < 4; k++)
    t[k] = new_times();
  snprintf(cmd, sizeof cmd, "'%s' %.17g spawn-once", exe, scale);
  for (int r = 0; r < runs; r++) {
    FILE *p = popen(cmd, "r");
    if (!p ||
        fscanf(p, "spawn %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
               &t[0][r], &t[1][r], &t[2][r], &t[3][r]) != 4 ||
        pclose(p) != 0)
      die("spawn: the fresh process failed", TR_EINVAL);
  }
  rate_row("native spawn (trivial actor; cold heap: a fresh process per run)",
           n, t[0], "spawns/s", "-");
  rate_row("native kill (cold heap: a fresh process per run)", n, t[1],
           "kills/s", "-");
  rate_row("native spawn (trivial actor; warm heap: right after as many "
           "were freed)",
           n, t[2], "spawns/s", "-");
  rate_row("native kill (warm heap)", n, t[3], "kills/s", "-");
  for (k = 0; k < 4; k++)
    free(t[k]);
}

/* --------------------------------------------------------- idle memory */

static uint64_t rss_bytes(void) {
  unsigned long size = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
      resident = 0;
    fclose(f);
  }
  return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint64_t heap_bytes(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

static void bench_idle(void) {
  const uint64_t n = count(1e5);
  tr_host *h = tr_host_new(NULL);
  tr_pid *pids = calloc(n, sizeof *pids);
  uint64_t rss0, heap0, rss1, heap1, i;
  char buf[32];
  int rc;
  if (!h || !pids)
    die("setup", TR_ENOMEM);
  memset(pids, 0, n * sizeof *pids); /* resident before the first reading */
  rss0 = rss_bytes();
  heap0 = heap_bytes();
  for (i = 0; i < n; i++)
    if ((rc = tr_spawn(h, &idle_b, NULL, NULL, &pids[i])))
      die("spawn", rc);
  rss1 = rss_bytes();
  heap1 = heap_bytes();
  free(pids);
  tr_host_free(h);
  snprintf(buf, sizeof buf, "%" PRIu64, (rss1 - rss0) / n);
  row("native idle actor (RSS)", buf, "bytes", "-");
  snprintf(buf, sizeof buf, "%" PRIu64, (heap1 - heap0) / n);
  row("native idle actor (malloc heap)", buf, "bytes", "-");
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv) {
  bench_args(argc, argv, "bench_native", "idle|oneway|call|spawn");
  if (argc == 3 && !strcmp(argv[2], "spawn-once")) {
    spawn_once();
    return 0;
  }
  /* First, while the heap is fresh: after the other runs, new actors would
   * reuse freed memory without growing the RSS. */
  if (wanted(argc, argv, "idle"))
    bench_idle();
  if (wanted(argc, argv, "oneway"))
    bench_oneway();
  if (wanted(argc, argv, "call")) {
    bench_call("native call round trip (sequential)", 0, 1, "4 M");
    bench_call("native call round trip (sequential, 5 s timeout)", 5000, 1,
               "4 M");
    bench_call("native call round trip (64 in flight)", 0, 64, "-");
  }
  if (wanted(argc, argv, "spawn"))
    bench_spawn();
  return 0;
}
