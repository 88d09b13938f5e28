/*
 * node.c -- benchmarks of a node: native C actors on every core.
 *
 * Prints markdown table rows under scripts/bench's header, like native.c:
 * the median of RUNS runs (TROUPE_BENCH_RUNS, default 5) with the min and
 * max, wall clock (uv_hrtime) from the first "go" to the last answer. The
 * node's hosts run on threads of their own, so this benchmark is never
 * pinned to one core: each row that compares runs with 1 host and with
 * one host per core (THREADS, default the number of cores), in the same
 * run.
 *
 *   pairs      P = 8 independent producer -> consumer pairs, the one-way
 *              flow of native.c (a window of 1024, an ack every 256),
 *              each pair on one host, the pairs spread over the hosts:
 *              total one-way msgs/s.
 *   cross      one producer on host 0, its consumer on host 1: one-way
 *              msgs/s between two hosts; and calls from host 0 to a
 *              squarer on host 1, one at a time and 64 in flight.
 *   tasks      one task per increment: M = 1 M task actors started at
 *              once, spread over the hosts (each host's spawner starts
 *              its share), each calling one counter actor on host 0 with
 *              "add", 1 and ending at the reply; the counter's total is
 *              checked. Total seconds.
 *
 * usage: bench_node [scale [name...]]   names: pairs, cross, tasks
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bench.h"

static uint32_t threads = 2;

static double secs_row(const char *name, uint64_t *ns, const char *target) {
  char buf[100];
  qsort(ns, (size_t)runs, sizeof *ns, cmp_ns);
  snprintf(buf, sizeof buf, "%.3f (%.3f-%.3f)", ns[(runs - 1) / 2] / 1e9,
           ns[0] / 1e9, ns[runs - 1] / 1e9);
  row(name, buf, "s", target);
  return ns[(runs - 1) / 2] / 1e9;
}

/* ------------------------------------------------------------ the node */

/* One run: a node of `hosts`, host 0 on this thread; setup(h) runs on
 * every host before the clock starts, and the run ends when `left`
 * reaches 0 (the actor that brings it there stops the node). */
typedef struct bench_run bench_run;
struct bench_run {
  tr_node *n;
  uint32_t hosts;
  void (*setup)(bench_run *b, tr_host *h);
  atomic_int ready;
  atomic_llong left; /* things still to happen */
  atomic_llong sum;  /* checksum of what arrived */
  uint64_t t0, t1;
  /* What setup publishes: per host, the actors "go" starts. */
  _Atomic tr_pid go[256][8];
  _Atomic tr_pid peer; /* cross: the actor on host 1; tasks: the counter */
  uint64_t per_host, count, inflight;
};

static void finish(bench_run *b, uint64_t k) {
  if ((uint64_t)atomic_fetch_sub(&b->left, (long long)k) == k) {
    b->t1 = uv_hrtime();
    tr_node_stop(b->n);
  }
}

static void on_setup(tr_host *h, void *ud) {
  bench_run *b = ud;
  b->setup(b, h);
  atomic_fetch_add(&b->ready, 1);
}

static uint64_t node_run(bench_run *b) {
  tr_node_hooks hooks = {on_setup, NULL, NULL};
  tr_host *h0;
  uint32_t i, j;
  int rc;
  hooks.ud = b;
  if (!(b->n = tr_node_new(b->hosts)) || !(h0 = tr_node_join(b->n, NULL)))
    die("node", TR_ENOMEM);
  if (b->hosts > 1 &&
      (rc = tr_node_start(b->n, b->hosts - 1, NULL, &hooks)) != TR_OK)
    die("tr_node_start", rc);
  while (atomic_load(&b->ready) < (int)b->hosts - 1)
    tr_host_step(h0);
  on_setup(h0, b); /* last: it may use what the others published */
  b->t0 = uv_hrtime();
  for (i = 0; i < b->hosts; i++)
    for (j = 0; j < 8; j++)
      if (atomic_load(&b->go[i][j]))
        tr_send(h0, 0, atomic_load(&b->go[i][j]), tr_msg_new("go"));
  tr_host_run(h0);
  tr_node_wait(b->n);
  tr_host_free(h0);
  if ((rc = tr_node_free(b->n)))
    die("tr_node_free", rc);
  return b->t1 - b->t0;
}

static bench_run *run_new(uint32_t hosts, void (*setup)(bench_run *, tr_host *),
                          int64_t left) {
  bench_run *b = calloc(1, sizeof *b);
  if (!b)
    die("calloc", TR_ENOMEM);
  b->hosts = hosts;
  b->setup = setup;
  atomic_store(&b->left, left);
  return b;
}

/* ------------------------------------------------------------ one-way */

typedef struct flow {
  tr_pid peer;
  uint64_t n, next;
  int64_t sum;
  bench_run *b;
} flow;

enum { WINDOW = 1024, ACK = 256, PAIRS = 8 };

static int flow_init(tr_actor *self, void *state, tr_msg *args) {
  flow *f = state;
  f->b = tr_actor_ctx(self);
  return tr_msg_unpack(args, "pI", &f->peer, &f->n);
}

static void produce(tr_actor *self, flow *p, uint64_t credit) {
  tr_host *h = tr_actor_host(self);
  for (; credit && p->next < p->n; credit--, p->next++) {
    tr_msg *m = tr_host_msg_newn(h, "n", 1);
    int rc;
    tr_msg_add_int(m, (int64_t)p->next);
    if ((rc = tr_send(h, tr_self(self), p->peer, m)))
      die("one-way send", rc);
  }
}

static int producer_handle(tr_actor *self, void *state, tr_msg *m) {
  flow *p = state;
  if (tr_msg_is(m, "ack"))
    produce(self, p, ACK);
  else if (tr_msg_is(m, "go"))
    produce(self, p, WINDOW);
  return TR_CONTINUE;
}

static int consumer_handle(tr_actor *self, void *state, tr_msg *m) {
  flow *c = state;
  int64_t i;
  if (!tr_msg_is(m, "n") || tr_msg_unpack(m, "I", &i))
    die("one-way: unexpected message", TR_ETYPE);
  c->sum += i;
  if (++c->next == c->n) {
    atomic_fetch_add(&c->b->sum, c->sum);
    finish(c->b, 1);
  } else if (c->next % ACK == 0) {
    tr_host *h = tr_actor_host(self);
    tr_send(h, tr_self(self), tr_msg_from(m), tr_host_msg_newn(h, "ack", 3));
  }
  return TR_CONTINUE;
}

static const tr_behaviour producer_b = {"producer", sizeof(flow), flow_init,
                                        producer_handle, NULL};
static const tr_behaviour consumer_b = {"consumer", sizeof(flow), flow_init,
                                        consumer_handle, NULL};

/* A pair: the consumer on host `ch`, the producer on h (its caller). */
static void pair_on(bench_run *b, tr_host *h, tr_pid cons, int slot) {
  tr_spawn_opts po = {.ctx = b};
  tr_pid prod;
  int rc;
  if ((rc = tr_spawn(h, &producer_b, tr_msg_pack("a", "pI", cons, b->count),
                     &po, &prod)))
    die("spawn", rc);
  atomic_store(&b->go[tr_host_index(h)][slot], prod);
}

static tr_pid consumer_on(bench_run *b, tr_host *h) {
  tr_spawn_opts co = {.capacity = WINDOW, .ctx = b};
  tr_pid cons;
  int rc;
  if ((rc = tr_spawn(h, &consumer_b, tr_msg_pack("a", "pI", 0, b->count), &co,
                     &cons)))
    die("spawn", rc);
  return cons;
}

static void setup_pairs(bench_run *b, tr_host *h) {
  uint32_t i, me = tr_host_index(h);
  for (i = 0; i < PAIRS; i++)
    if (i % b->hosts == me)
      pair_on(b, h, consumer_on(b, h), (int)(i / b->hosts));
}

/* The consumer on host 1, then (host 0 is set up last) the producer. */
static void setup_cross(bench_run *b, tr_host *h) {
  if (tr_host_index(h) == 1)
    atomic_store(&b->peer, consumer_on(b, h));
  else
    pair_on(b, h, atomic_load(&b->peer), 0);
}

static uint64_t run_pairs(uint32_t hosts, uint64_t total) {
  bench_run *b = run_new(hosts, setup_pairs, PAIRS);
  uint64_t ns, n = total / PAIRS;
  b->count = n;
  ns = node_run(b);
  if (atomic_load(&b->sum) != (int64_t)(PAIRS * (n * (n - 1) / 2)))
    die("pairs lost messages", TR_EBADMSG);
  free(b);
  return ns;
}

static void bench_pairs(void) {
  const uint64_t total = count(8e6);
  uint64_t *one = new_times();
  uint64_t *all = new_times();
  char name[128], ratio[64];
  double r1, rn;
  for (int r = 0; r < runs; r++) {
    one[r] = run_pairs(1, total);
    all[r] = run_pairs(threads, total);
  }
  r1 = rate_row("node: C pairs one-way, 8 pairs, 1 host", total, one, "msgs/s",
                "-");
  snprintf(name, sizeof name, "node: C pairs one-way, 8 pairs, %u hosts",
           (unsigned)threads);
  rn = rate_row(name, total, all, "msgs/s", "-");
  snprintf(ratio, sizeof ratio, "%.2f", rn / r1);
  snprintf(name, sizeof name, "node: C pairs, %u hosts / 1 host",
           (unsigned)threads);
  row(name, ratio, "x", "1.8");
  free(one);
  free(all);
}

static uint64_t run_cross(uint64_t n) {
  bench_run *b = run_new(2, setup_cross, 1);
  uint64_t ns;
  b->count = n;
  ns = node_run(b);
  if (atomic_load(&b->sum) != (int64_t)(n * (n - 1) / 2))
    die("cross one-way lost messages", TR_EBADMSG);
  free(b);
  return ns;
}

static void bench_cross(void) {
  const uint64_t n = count(3e6);
  uint64_t *ns = new_times();
  for (int r = 0; r < runs; r++)
    ns[r] = run_cross(n);
  rate_row("node: C one-way, host 0 -> host 1", n, ns, "msgs/s", "3 M");
  free(ns);
}

/* -------------------------------------------------------------- calls */

static int squarer_handle(tr_actor *self, void *state, tr_msg *m) {
  int64_t i;
  (void)state;
  if (tr_msg_kind(m) == TR_KIND_CALL && tr_msg_unpack(m, "I", &i) == TR_OK) {
    tr_host *h = tr_actor_host(self);
    tr_msg *r = tr_host_msg_newn(h, "ok", 2);
    tr_msg_add_int(r, i * i);
    tr_reply(h, m, r);
  }
  return TR_CONTINUE;
}

static const tr_behaviour squarer_b = {"squarer", 0, NULL, squarer_handle,
                                       NULL};

typedef struct caller {
  tr_pid callee;
  uint64_t n, sent, got, inflight;
  int64_t sum;
  bench_run *b;
} caller;

static int caller_init(tr_actor *self, void *state, tr_msg *args) {
  caller *c = state;
  c->b = tr_actor_ctx(self);
  c->callee = atomic_load(&c->b->peer);
  c->n = c->b->count;
  c->inflight = c->b->inflight;
  (void)args;
  return 0;
}

static void call_one(tr_actor *self, caller *c) {
  tr_host *h = tr_actor_host(self);
  tr_msg *m = tr_host_msg_newn(h, "sq", 2);
  uint64_t session;
  int rc;
  tr_msg_add_int(m, (int64_t)(c->sent++ & 0xffff));
  if ((rc = tr_call(h, tr_self(self), c->callee, m, 0, &session)))
    die("call", rc);
  if (c->inflight == 1)
    tr_await(self, session);
}

static int caller_handle(tr_actor *self, void *state, tr_msg *m) {
  caller *c = state;
  int64_t v;
  if (tr_msg_kind(m) == TR_KIND_REPLY && tr_msg_unpack(m, "I", &v) == TR_OK) {
    c->sum += v;
    if (++c->got == c->n) {
      atomic_store(&c->b->sum, c->sum);
      finish(c->b, 1);
    } else if (c->sent < c->n) {
      call_one(self, c);
    }
  } else if (tr_msg_is(m, "go")) {
    while (c->sent < c->inflight && c->sent < c->n)
      call_one(self, c);
  } else {
    die("call failed", TR_EREPLY);
  }
  return TR_CONTINUE;
}

static const tr_behaviour caller_b = {"caller", sizeof(caller), caller_init,
                                      caller_handle, NULL};

static void setup_call(bench_run *b, tr_host *h) {
  tr_spawn_opts o = {.ctx = b};
  tr_pid pid;
  int rc;
  if (tr_host_index(h) == 1) {
    if ((rc = tr_spawn(h, &squarer_b, NULL, NULL, &pid)))
      die("spawn", rc);
    atomic_store(&b->peer, pid);
    return;
  }
  if ((rc = tr_spawn(h, &caller_b, NULL, &o, &pid)))
    die("spawn", rc);
  atomic_store(&b->go[0][0], pid);
}

static uint64_t run_call(uint64_t n, uint64_t inflight) {
  bench_run *b = run_new(2, setup_call, 1);
  int64_t want = 0;
  uint64_t ns, i;
  b->count = n;
  b->inflight = inflight;
  ns = node_run(b);
  for (i = 0; i < n; i++)
    want += (int64_t)(i & 0xffff) * (int64_t)(i & 0xffff);
  if (atomic_load(&b->sum) != want)
    die("call: wrong or missing replies", TR_EBADMSG);
  free(b);
  return ns;
}

static void bench_calls(const char *name, uint64_t inflight,
                        const char *target) {
  const uint64_t n = count(inflight > 1 ? 2e6 : 5e5);
  uint64_t *ns = new_times();
  for (int r = 0; r < runs; r++)
    ns[r] = run_call(n, inflight);
  rate_row(name, n, ns, "calls/s", target);
  free(ns);
}

/* -------------------------------------------------------------- tasks */

/* The counter adds what each call brings and answers it; the run ends
 * when the total is in. */
static int counter_handle(tr_actor *self, void *state, tr_msg *m) {
  bench_run *b = *(bench_run **)state;
  int64_t k;
  if (tr_msg_kind(m) != TR_KIND_CALL || tr_msg_unpack(m, "I", &k))
    return TR_CONTINUE;
  atomic_fetch_add_explicit(&b->sum, k, memory_order_relaxed);
  tr_reply(tr_actor_host(self), m,
           tr_host_msg_newn(tr_actor_host(self), "ok", 2));
  finish(b, 1);
  return TR_CONTINUE;
}

static int ptr_init(tr_actor *self, void *state, tr_msg *args) {
  (void)args;
  *(void **)state = tr_actor_ctx(self);
  return 0;
}

static const tr_behaviour counter_b = {"counter", sizeof(bench_run *), ptr_init,
                                       counter_handle, NULL};

/* A task calls the counter once, waiting for room if it must, and ends
 * at the answer. */
static int task_handle(tr_actor *self, void *state, tr_msg *m) {
  bench_run *b = *(bench_run **)state;
  tr_host *h = tr_actor_host(self);
  tr_pid me = tr_self(self), counter = atomic_load(&b->peer);
  tr_msg *add;
  int rc;
  if (m && tr_msg_kind(m) == TR_KIND_REPLY)
    return TR_STOP;
  if (m && tr_msg_kind(m) != TR_KIND_ROOM)
    die("task: unexpected answer", TR_EREPLY);
  add = tr_host_msg_newn(h, "add", 3);
  tr_msg_add_int(add, 1);
  rc = tr_call_if_room(h, me, counter, add, 0, NULL);
  if (rc == TR_EFULL)
    rc = tr_notify_room(h, me, counter, 0, NULL);
  if (rc)
    die("task call", rc);
  return TR_CONTINUE;
}

static int task_init(tr_actor *self, void *state, tr_msg *args) {
  ptr_init(self, state, args);
  tr_wake(self);
  return 0;
}

static const tr_behaviour task_b = {"task", sizeof(bench_run *), task_init,
                                    task_handle, NULL};

/* Each host's spawner starts its share of the tasks, a thousand a turn,
 * so that the first ones run while the last are started. */
typedef struct spawner {
  bench_run *b;
  uint64_t left;
} spawner;

static int spawner_handle(tr_actor *self, void *state, tr_msg *m) {
  spawner *s = state;
  tr_spawn_opts o = {.ctx = s->b};
  int i, rc;
  if (m && !tr_msg_is(m, "go"))
    return TR_CONTINUE;
  for (i = 0; i < 1000 && s->left; i++, s->left--)
    if ((rc = tr_spawn(tr_actor_host(self), &task_b, NULL, &o, NULL)))
      die("spawn task", rc);
  return s->left ? TR_YIELD : TR_STOP;
}

static int spawner_init(tr_actor *self, void *state, tr_msg *args) {
  spawner *s = state;
  (void)args;
  s->b = tr_actor_ctx(self);
  s->left = s->b->per_host;
  return 0;
}

static const tr_behaviour spawner_b = {"spawner", sizeof(spawner), spawner_init,
                                       spawner_handle, NULL};

static void setup_tasks(bench_run *b, tr_host *h) {
  tr_spawn_opts o = {.ctx = b};
  tr_pid pid;
  int rc;
  if (tr_host_index(h) == 0) { /* set up last: the counter is there */
    if ((rc = tr_spawn(h, &counter_b, NULL, &o, &pid)))
      die("spawn", rc);
    atomic_store(&b->peer, pid);
  }
  if ((rc = tr_spawn(h, &spawner_b, NULL, &o, &pid)))
    die("spawn", rc);
  atomic_store(&b->go[tr_host_index(h)][0], pid);
}

static uint64_t run_tasks(uint32_t hosts, uint64_t m) {
  bench_run *b = run_new(hosts, setup_tasks, (int64_t)m);
  uint64_t ns;
  b->per_host = m / hosts;
  ns = node_run(b);
  if (atomic_load(&b->sum) != (int64_t)m)
    die("tasks: the counter's total is wrong", TR_EBADMSG);
  free(b);
  return ns;
}

static void bench_tasks(void) {
  uint64_t m = count(1e6) / threads * threads;
  uint64_t *one = new_times();
  uint64_t *all = new_times();
  char name[128];
  for (int r = 0; r < runs; r++) {
    one[r] = run_tasks(1, m);
    all[r] = run_tasks(threads, m);
  }
  snprintf(name, sizeof name,
           "node: C tasks, %" PRIu64 " at once calling one counter, 1 host", m);
  secs_row(name, one, "-");
  snprintf(name, sizeof name,
           "node: C tasks, %" PRIu64 " at once calling one counter, %u hosts",
           m, (unsigned)threads);
  secs_row(name, all, "0.2");
  free(one);
  free(all);
}

int main(int argc, char **argv) {
  const char *t = getenv("TROUPE_BENCH_THREADS");
  bench_args(argc, argv, "bench_node", "pairs|cross|tasks");
  threads = t && atoi(t) > 0 ? (uint32_t)atoi(t)
                             : (uint32_t)uv_available_parallelism();
  if (threads < 2)
    threads = 2; /* a node of two hosts, however many cores */
  if (wanted(argc, argv, "pairs"))
    bench_pairs();
  if (wanted(argc, argv, "cross")) {
    bench_cross();
    bench_calls("node: C calls, host 0 -> host 1, one at a time", 1, "-");
    bench_calls("node: C calls, host 0 -> host 1, 64 in flight", 64, "1 M");
  }
  if (wanted(argc, argv, "tasks"))
    bench_tasks();
  return 0;
}
