/*
 * test_wire.c -- two lone hosts, nodes 1 and 2, joined by a test wire
 * whose carry queues the bytes and whose pump hands them to the other
 * host (tr_wire_deliver) on its loop thread: sends, calls, pids inside
 * messages, monitors, links, kills, a lost node, carry's failures and
 * malformed bytes, all through the real encoder and decoder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "test.h"
#include "troupe.h"

/* Bytes on their way to one host. */
typedef struct packet {
  struct packet *next;
  size_t len;
  unsigned char b[];
} packet;

typedef struct queue {
  packet *head, *tail;
  int fail;                /* what carry answers instead of taking the bytes */
  uint32_t node;           /* the node it carries to */
  size_t carried;          /* packets taken */
  unsigned char last[512]; /* the last packet's first bytes */
  size_t last_len;
} queue;

static int carry(void *ud, uint32_t node, const void *bytes, size_t len) {
  queue *q = ud;
  packet *p;
  if (q->fail)
    return q->fail;
  if (node != q->node)
    return TR_ENOPROC;
  if (!(p = malloc(sizeof *p + len)))
    return TR_ENOPROC;
  p->next = NULL;
  p->len = len;
  memcpy(p->b, bytes, len);
  if (q->tail)
    q->tail->next = p;
  else
    q->head = p;
  q->tail = p;
  q->carried++;
  q->last_len = len < sizeof q->last ? len : sizeof q->last;
  memcpy(q->last, bytes, q->last_len);
  return 0;
}

typedef struct world {
  tr_host *a, *b;   /* nodes 1 and 2 */
  queue to_a, to_b; /* what each is sent */
  int refused;      /* tr_wire_deliver's failures */
} world;

static void flush(tr_host *h, queue *q, int *refused) {
  packet *p;
  while ((p = q->head)) {
    q->head = p->next;
    if (!q->head)
      q->tail = NULL;
    *refused += tr_wire_deliver(h, p->b, p->len) != TR_OK;
    free(p);
  }
}

static void pump(world *w) {
  tr_host_step(w->a);
  tr_host_step(w->b);
  flush(w->b, &w->to_b, &w->refused);
  flush(w->a, &w->to_a, &w->refused);
}

/* Pumps until cond holds, 5 s at most. */
#define PUMP_UNTIL(w, cond)                                                    \
  do {                                                                         \
    uint64_t end_ = uv_hrtime() + 5000000000ull;                               \
    while (!(cond) && uv_hrtime() < end_)                                      \
      pump(w);                                                                 \
  } while (0)

static void world_open(world *w) {
  tr_wire wa, wb;
  memset(w, 0, sizeof *w);
  w->a = tr_host_new(NULL);
  w->b = tr_host_new(NULL);
  CHECK_EQ(tr_host_set_node_id(w->a, 1), TR_OK);
  CHECK_EQ(tr_host_set_node_id(w->b, 2), TR_OK);
  w->to_a.node = 1;
  w->to_b.node = 2;
  wa.carry = carry, wa.ud = &w->to_b; /* a's wire carries to b */
  wb.carry = carry, wb.ud = &w->to_a;
  CHECK_EQ(tr_host_set_wire(w->a, &wa), TR_OK);
  CHECK_EQ(tr_host_set_wire(w->b, &wb), TR_OK);
}

static void drop(queue *q) {
  packet *p;
  while ((p = q->head)) {
    q->head = p->next;
    free(p);
  }
  q->tail = NULL;
}

/* What is still on its way when the hosts go is dropped. */
static void world_close(world *w) {
  tr_host_free(w->a);
  tr_host_free(w->b);
  drop(&w->to_a);
  drop(&w->to_b);
}

/* What a peer saw last, and how it ended. */
typedef struct probe {
  int n, kind, ended;
  char name[32], text[64], reason[64];
  tr_pid from, arg;
  uint64_t session;
} probe;

static int peer_handle(tr_actor *self, void *state, tr_msg *m) {
  probe *p = tr_actor_ctx(self);
  tr_host *h = tr_actor_host(self);
  const tr_value *v;
  const char *s;
  size_t len;
  (void)state;
  if (!m)
    return TR_CONTINUE;
  if (tr_msg_kind(m) == TR_KIND_CALL && tr_msg_is(m, "echo")) {
    tr_reply(h, m, tr_msg_pack("re", "p", tr_msg_from(m)));
    return TR_CONTINUE;
  }
  if (tr_msg_kind(m) == TR_KIND_CALL && tr_msg_is(m, "fwd") &&
      !tr_msg_unpack(m, "p", &p->arg)) {
    tr_forward_as(h, p->arg, m, tr_msg_new("echo"));
    return TR_CONTINUE;
  }
  if (tr_msg_is(m, "ping") && !tr_msg_unpack(m, "p", &p->arg)) {
    tr_send(h, tr_self(self), p->arg, tr_msg_new("pong"));
    return TR_CONTINUE;
  }
  p->n++;
  p->kind = tr_msg_kind(m);
  s = tr_msg_name(m, &len);
  snprintf(p->name, sizeof p->name, "%.*s", (int)len, s);
  p->from = tr_msg_from(m);
  p->session = tr_msg_session(m);
  p->text[0] = 0;
  for (size_t i = 0; (v = tr_msg_arg(m, i)); i++) {
    if (!tr_value_str(v, &s, &len))
      snprintf(p->text, sizeof p->text, "%.*s", (int)len, s);
    tr_value_pid(v, &p->arg);
  }
  return TR_CONTINUE;
}

static void peer_terminate(tr_actor *self, void *state, const char *reason) {
  probe *p = tr_actor_ctx(self);
  (void)state;
  p->ended = 1;
  snprintf(p->reason, sizeof p->reason, "%s", reason);
}

static const tr_behaviour peer = {"peer", 0, NULL, peer_handle, peer_terminate};

static tr_pid spawn_peer(tr_host *h, probe *p, int trap) {
  tr_spawn_opts o;
  tr_pid pid = 0;
  memset(&o, 0, sizeof o);
  o.ctx = p;
  o.trap_exit = trap;
  CHECK_EQ(tr_spawn(h, &peer, NULL, &o, &pid), TR_OK);
  return pid;
}

static void test_ids(void) {
  world w;
  probe p = {0};
  tr_node *n = tr_node_new(2);
  char buf[64];
  tr_pid pid;
  world_open(&w);
  CHECK_EQ(tr_host_node_id(w.a), 1);
  CHECK_EQ(tr_host_set_node_id(w.a, 0), TR_EINVAL);
  CHECK_EQ(tr_host_set_node_id(w.a, 256), TR_EINVAL);
  pid = spawn_peer(w.a, &p, 0);
  CHECK_EQ(tr_pid_node(pid), 1);
  CHECK_EQ(tr_pid_host(pid), 0);
  CHECK_EQ(tr_host_set_node_id(w.a, 3), TR_EINVAL); /* it has an actor */
  tr_pid_format(pid, buf, sizeof buf);
  CHECK(!strncmp(buf, "<pid 1:0.", 9));
  CHECK_EQ(tr_node_set_id(n, 0), TR_EINVAL);
  CHECK_EQ(tr_node_set_id(n, 7), TR_OK);
  CHECK_EQ(tr_node_id(n), 7);
  CHECK_EQ(tr_node_free(n), TR_OK);
  { /* a host with no id takes no wire: nothing could answer it */
    tr_host *h = tr_host_new(NULL);
    tr_wire wire = {carry, &w.to_b};
    CHECK_EQ(tr_host_set_wire(h, &wire), TR_EINVAL);
    wire.carry = NULL;
    CHECK_EQ(tr_host_set_node_id(h, 9), TR_OK);
    CHECK_EQ(tr_host_set_wire(h, &wire), TR_EINVAL);
    tr_host_free(h);
  }
  { /* a node that comes back under its id makes other pids: generations
     * start at random (the same one twice: 1 in 2^24) */
    tr_pid first = 0, again = 0;
    for (int i = 0; i < 2; i++) {
      tr_host *h = tr_host_new(NULL);
      CHECK_EQ(tr_host_set_node_id(h, 9), TR_OK);
      pid = spawn_peer(h, &p, 0);
      *(i ? &again : &first) = pid;
      tr_host_free(h);
    }
    CHECK_EQ(first & ~((0xffffffull << TR_PID_GEN_SHIFT)),
             again & ~((0xffffffull << TR_PID_GEN_SHIFT)));
    CHECK(first != again);
  }
  world_close(&w);
}

static void test_send_both_ways(void) {
  world w;
  probe pa = {0}, pb = {0};
  tr_pid a, b;
  world_open(&w);
  a = spawn_peer(w.a, &pa, 0);
  b = spawn_peer(w.b, &pb, 0);
  CHECK_EQ(tr_alive(w.a, b), 1); /* a wire is set: it may be */
  CHECK_EQ(tr_send(w.a, a, b, tr_msg_pack("hi", "s", "from a")), TR_OK);
  PUMP_UNTIL(&w, pb.n == 1);
  CHECK_STR(pb.name, "hi");
  CHECK_STR(pb.text, "from a");
  CHECK_EQ(pb.from, a);
  CHECK_EQ(pb.kind, TR_KIND_SEND);
  CHECK_EQ(tr_send(w.b, b, a, tr_msg_pack("hello", "s", "from b")), TR_OK);
  PUMP_UNTIL(&w, pa.n == 1);
  CHECK_STR(pa.text, "from b");
  CHECK_EQ(pa.from, b);
  /* A pid inside a message is a destination: b answers a's pid. */
  CHECK_EQ(tr_send(w.a, 0, b, tr_msg_pack("ping", "p", a)), TR_OK);
  PUMP_UNTIL(&w, pa.n == 2);
  CHECK_STR(pa.name, "pong");
  CHECK_EQ(pa.from, b);
  /* A notice, and a dead pid of the other node: a dead letter there. */
  CHECK_EQ(tr_notify(w.a, a, b, tr_msg_new("news")), TR_OK);
  PUMP_UNTIL(&w, pb.n == 2);
  CHECK_EQ(pb.kind, TR_KIND_NOTICE);
  {
    tr_host_stats st;
    CHECK_EQ(tr_send(w.a, a, b + (1ull << TR_PID_GEN_SHIFT), tr_msg_new("x")),
             TR_OK);
    PUMP_UNTIL(&w, !w.to_b.head);
    tr_host_get_stats(w.b, &st);
    CHECK_EQ(st.dead_letters, 1);
  }
  CHECK_EQ(w.refused, 0);
  world_close(&w);
}

typedef struct answer {
  int done, rc;
  char name[32];
  tr_pid arg;
} answer;

static void on_answer(tr_host *h, void *ud, int rc, tr_msg *reply) {
  answer *an = ud;
  size_t len = 0;
  const char *s = reply ? tr_msg_name(reply, &len) : "";
  (void)h;
  an->done = 1;
  an->rc = rc;
  snprintf(an->name, sizeof an->name, "%.*s", (int)len, s);
  if (reply)
    tr_msg_unpack(reply, "p", &an->arg);
}

static void test_call(void) {
  world w;
  probe pa = {0}, pb = {0};
  answer an = {0};
  tr_pid a, b;
  uint64_t session = 0;
  world_open(&w);
  a = spawn_peer(w.a, &pa, 0);
  b = spawn_peer(w.b, &pb, 0);
  /* From an actor: the reply comes back with the call's session. */
  CHECK_EQ(tr_call(w.a, a, b, tr_msg_new("echo"), 5000, &session), TR_OK);
  CHECK(session != 0);
  PUMP_UNTIL(&w, pa.n == 1);
  CHECK_EQ(pa.kind, TR_KIND_REPLY);
  CHECK_STR(pa.name, "re");
  CHECK_EQ(pa.session, session);
  CHECK_EQ(pa.from, b);
  CHECK_EQ(pa.arg, a); /* the callee saw a's pid as the caller */
  /* From the program, both ways. */
  CHECK_EQ(tr_host_call_async(w.b, a, tr_msg_new("echo"), 5000, on_answer, &an,
                              NULL),
           TR_OK);
  PUMP_UNTIL(&w, an.done);
  CHECK_EQ(an.rc, TR_OK);
  CHECK_STR(an.name, "re");
  CHECK_EQ(tr_pid_node(an.arg), 2);
  /* A call to a dead pid there fails "noproc" at once. */
  CHECK_EQ(tr_call(w.a, a, b + (1ull << TR_PID_GEN_SHIFT), tr_msg_new("echo"),
                   0, &session),
           TR_OK);
  PUMP_UNTIL(&w, pa.n == 2);
  CHECK_EQ(pa.kind, TR_KIND_ERROR);
  CHECK_STR(pa.name, "noproc");
  CHECK_EQ(pa.session, session);
  /* The callee dies before answering: "down" at once. */
  CHECK_EQ(tr_call(w.a, a, b, tr_msg_new("wait"), 0, &session), TR_OK);
  PUMP_UNTIL(&w, pb.n == 1);
  CHECK_EQ(tr_kill(w.b, b, "boom"), TR_OK);
  PUMP_UNTIL(&w, pa.n == 3);
  CHECK_STR(pa.name, "down");
  CHECK_STR(pa.text, "boom");
  CHECK_EQ(w.refused, 0);
  world_close(&w);
}

/* A call forwarded back to its caller's node: answered there, to the
 * caller, by the actor it was forwarded to. */
static void test_forward_back(void) {
  world w;
  probe pa = {0}, pa2 = {0}, pb = {0};
  tr_pid a, a2, b;
  uint64_t session = 0;
  world_open(&w);
  a = spawn_peer(w.a, &pa, 0);
  a2 = spawn_peer(w.a, &pa2, 0);
  b = spawn_peer(w.b, &pb, 0);
  CHECK_EQ(tr_call(w.a, a, b, tr_msg_pack("fwd", "p", a2), 5000, &session),
           TR_OK);
  PUMP_UNTIL(&w, pa.n == 1);
  CHECK_EQ(pa.kind, TR_KIND_REPLY);
  CHECK_STR(pa.name, "re");
  CHECK_EQ(pa.session, session);
  CHECK_EQ(pa.from, a2);
  CHECK_EQ(pa.arg, a); /* a2 saw a as the caller */
  /* A signal from node 1 back to node 1 is not taken. */
  CHECK_EQ(w.refused, 0);
  world_close(&w);
}

static void test_monitor_link_kill(void) {
  world w;
  probe pa = {0}, pb = {0}, pt = {0}, pl = {0}, pv = {0};
  tr_pid a, b, trap, linked, victim;
  uint64_t ref = 0;
  world_open(&w);
  a = spawn_peer(w.a, &pa, 0);
  trap = spawn_peer(w.a, &pt, 1);
  linked = spawn_peer(w.a, &pl, 0);
  b = spawn_peer(w.b, &pb, 0);
  victim = spawn_peer(w.b, &pv, 0);
  CHECK_EQ(tr_monitor(w.a, a, b, &ref), TR_OK);
  CHECK_EQ(tr_link(w.a, trap, b), TR_OK);
  CHECK_EQ(tr_link(w.a, linked, b), TR_OK);
  PUMP_UNTIL(&w, !w.to_b.head && !w.to_a.head);
  pump(&w);
  CHECK_EQ(tr_kill(w.b, b, "crash"), TR_OK);
  PUMP_UNTIL(&w, pa.n == 1 && pt.n == 1 && pl.ended);
  CHECK_EQ(pa.kind, TR_KIND_DOWN);
  CHECK_STR(pa.text, "crash");
  CHECK_EQ(pa.arg, b);
  CHECK_EQ(pt.kind, TR_KIND_EXIT);
  CHECK_STR(pt.text, "crash");
  CHECK_STR(pl.reason, "crash");
  CHECK_EQ(tr_alive(w.a, linked), 0);
  /* A link from there: a's end reaches b's side. */
  CHECK_EQ(tr_link(w.b, victim, a), TR_OK);
  PUMP_UNTIL(&w, !w.to_a.head);
  pump(&w);
  CHECK_EQ(tr_kill(w.a, a, "gone"), TR_OK);
  PUMP_UNTIL(&w, pv.ended);
  CHECK_STR(pv.reason, "gone");
  /* A kill across. */
  victim = spawn_peer(w.b, &pv, 0);
  pv.ended = 0;
  CHECK_EQ(tr_kill(w.a, victim, "bye"), TR_OK);
  PUMP_UNTIL(&w, pv.ended);
  CHECK_STR(pv.reason, "bye");
  CHECK_EQ(tr_alive(w.b, victim), 0);
  /* Demonitored and unlinked across: its end tells nobody here. */
  victim = spawn_peer(w.b, &pv, 0);
  pv.ended = 0;
  pa.n = pt.n = 0;
  CHECK_EQ(tr_monitor(w.a, trap, victim, &ref), TR_OK);
  CHECK_EQ(tr_link(w.a, trap, victim), TR_OK);
  PUMP_UNTIL(&w, !w.to_b.head);
  pump(&w);
  CHECK_EQ(tr_demonitor(w.a, ref), TR_OK);
  CHECK_EQ(tr_unlink(w.a, trap, victim), TR_OK);
  PUMP_UNTIL(&w, !w.to_b.head);
  pump(&w);
  CHECK_EQ(tr_kill(w.b, victim, "quiet"), TR_OK);
  PUMP_UNTIL(&w, pv.ended);
  pump(&w);
  CHECK(w.to_a.head == NULL && pt.n == 0);
  /* A monitor on a dead pid there: down "noproc". */
  a = spawn_peer(w.a, &pa, 0);
  pa.n = 0;
  CHECK_EQ(tr_monitor(w.a, a, victim, &ref), TR_OK);
  PUMP_UNTIL(&w, pa.n == 1);
  CHECK_STR(pa.name, "down");
  CHECK_STR(pa.text, "noproc");
  CHECK_EQ(w.refused, 0);
  world_close(&w);
}

static void test_node_lost(void) {
  world w;
  probe pa = {0}, pb = {0}, pt = {0}, pl = {0};
  answer an = {0};
  tr_pid a, b, trap, linked;
  uint64_t session = 0, ref = 0;
  world_open(&w);
  a = spawn_peer(w.a, &pa, 0);
  trap = spawn_peer(w.a, &pt, 1);
  linked = spawn_peer(w.a, &pl, 0);
  b = spawn_peer(w.b, &pb, 0);
  CHECK_EQ(tr_monitor(w.a, trap, b, &ref), TR_OK);
  CHECK_EQ(tr_link(w.a, trap, b), TR_OK);
  CHECK_EQ(tr_link(w.a, linked, b), TR_OK);
  CHECK_EQ(tr_call(w.a, a, b, tr_msg_new("wait"), 0, &session), TR_OK);
  CHECK_EQ(
      tr_host_call_async(w.a, b, tr_msg_new("wait"), 0, on_answer, &an, NULL),
      TR_OK);
  PUMP_UNTIL(&w, pb.n == 2);
  /* Node 2 is gone: nothing more comes from it. */
  CHECK_EQ(tr_host_node_lost(w.a, 2), TR_OK);
  CHECK_EQ(tr_host_node_lost(w.a, 1), TR_EINVAL);
  CHECK_EQ(tr_host_node_lost(w.a, 0), TR_EINVAL);
  {
    uint64_t end = uv_hrtime() + 5000000000ull;
    while (!(pa.n && an.done && pt.n == 2 && pl.ended) && uv_hrtime() < end)
      tr_host_step(w.a);
  }
  CHECK_EQ(pa.kind, TR_KIND_ERROR);
  CHECK_STR(pa.name, "noconnection");
  CHECK_EQ(pa.session, session);
  CHECK_EQ(an.rc, TR_ENOPROC);
  CHECK_STR(an.name, "noconnection");
  CHECK_EQ(pt.n, 2); /* its down and its exit */
  CHECK_STR(pt.text, "noconnection");
  CHECK_STR(pl.reason, "noconnection");
  /* b's node keeps nothing for a's: b, linked there, ends and tells
   * nobody (its monitor by trap is dropped too). */
  CHECK_EQ(tr_host_node_lost(w.b, 1), TR_OK);
  tr_host_step(w.b);
  CHECK(pb.ended);
  CHECK_STR(pb.reason, "noconnection");
  CHECK(w.to_a.head == NULL);
  flush(w.a, &w.to_a, &w.refused);
  flush(w.b, &w.to_b, &w.refused); /* the lost one's answers: dropped */
  world_close(&w);
}

static void test_carry_failures(void) {
  world w;
  probe pa = {0}, pb = {0};
  tr_pid a, b;
  uint64_t session = 0, ref = 0;
  static const struct {
    int rc;
    const char *name;
  } cases[] = {{TR_ERANGE, "toolarge"},
               {TR_EFULL, "full"},
               {TR_ENOPROC, "noconnection"}};
  size_t i;
  tr_host_stats st;
  world_open(&w);
  a = spawn_peer(w.a, &pa, 0);
  b = spawn_peer(w.b, &pb, 0);
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int n = pa.n;
    w.to_b.fail = cases[i].rc;
    CHECK_EQ(tr_send(w.a, a, b, tr_msg_new("x")), cases[i].rc);
    CHECK_EQ(tr_call(w.a, a, b, tr_msg_new("echo"), 0, &session), TR_OK);
    tr_host_step(w.a);
    CHECK_EQ(pa.n, n + 1); /* at once, not at a timeout */
    CHECK_EQ(pa.kind, TR_KIND_ERROR);
    CHECK_STR(pa.name, cases[i].name);
    CHECK_EQ(pa.session, session);
  }
  /* A sender that waits for room hears TR_EFULL, nothing counted. */
  w.to_b.fail = TR_EFULL;
  tr_host_get_stats(w.a, &st);
  CHECK_EQ(tr_send_if_room(w.a, a, b, tr_msg_new("x")), TR_EFULL);
  CHECK_EQ(tr_call_if_room(w.a, a, b, tr_msg_new("echo"), 0, &session),
           TR_EFULL);
  CHECK_EQ(session, 0);
  {
    tr_host_stats now;
    tr_host_get_stats(w.a, &now);
    CHECK_EQ(now.dead_letters, st.dead_letters);
  }
  /* A monitor that cannot be carried: down "noconnection" at once. */
  w.to_b.fail = TR_ENOPROC;
  CHECK_EQ(tr_monitor(w.a, a, b, &ref), TR_OK);
  tr_host_step(w.a);
  CHECK_STR(pa.name, "down");
  CHECK_STR(pa.text, "noconnection");
  /* No wire at all: the same. */
  w.to_b.fail = 0;
  CHECK_EQ(tr_host_set_wire(w.a, NULL), TR_OK);
  CHECK_EQ(tr_alive(w.a, b), 0);
  CHECK_EQ(tr_send(w.a, a, b, tr_msg_new("x")), TR_ENOPROC);
  CHECK_EQ(tr_call(w.a, a, b, tr_msg_new("echo"), 0, &session), TR_OK);
  tr_host_step(w.a);
  CHECK_STR(pa.name, "noconnection");
  CHECK_EQ(w.to_b.carried, 0);
  world_close(&w);
}

static void test_malformed(void) {
  world w;
  probe pa = {0}, pb = {0};
  tr_pid a, b;
  unsigned char good[512], bad[512];
  size_t len, i;
  world_open(&w);
  a = spawn_peer(w.a, &pa, 0);
  b = spawn_peer(w.b, &pb, 0);
  CHECK_EQ(tr_send(w.a, a, b, tr_msg_pack("hi", "s", "there")), TR_OK);
  len = w.to_b.last_len;
  memcpy(good, w.to_b.last, len);
  flush(w.b, &w.to_b, &w.refused);
  CHECK_EQ(w.refused, 0);
  CHECK_EQ(tr_wire_deliver(w.b, NULL, 0), TR_EBADMSG);
  /* Every truncation. */
  for (i = 0; i < len; i++)
    CHECK_EQ(tr_wire_deliver(w.b, good, i), TR_EBADMSG);
  /* One byte more. */
  memcpy(bad, good, len);
  bad[len] = 0;
  CHECK_EQ(tr_wire_deliver(w.b, bad, len + 1), TR_EBADMSG);
  /* Version, reserved, kind, payload length. */
  bad[0] = 2;
  CHECK_EQ(tr_wire_deliver(w.b, bad, len), TR_EBADMSG);
  memcpy(bad, good, len);
  bad[2] = 1;
  CHECK_EQ(tr_wire_deliver(w.b, bad, len), TR_EBADMSG);
  memcpy(bad, good, len);
  bad[1] = 22; /* a spawn: never from another node */
  CHECK_EQ(tr_wire_deliver(w.b, bad, len), TR_EBADMSG);
  bad[1] = 6; /* a timeout */
  CHECK_EQ(tr_wire_deliver(w.b, bad, len), TR_EBADMSG);
  memcpy(bad, good, len);
  bad[1] = TR_KIND_CALL;
  memset(bad + 4, 0, 8); /* a call from nobody */
  CHECK_EQ(tr_wire_deliver(w.b, bad, len), TR_EBADMSG);
  memcpy(bad, good, len);
  bad[28] ^= 1;
  CHECK_EQ(tr_wire_deliver(w.b, bad, len), TR_EBADMSG);
  /* Meant for another node, or a signal claiming to be from this one
   * (mail and calls may be: a forward brings them back). */
  memcpy(bad, good, len);
  bad[12 + 4] = 3;
  CHECK_EQ(tr_wire_deliver(w.b, bad, len), TR_EBADMSG);
  memcpy(bad, good, len);
  bad[4 + 4] = 2;
  bad[1] = 18; /* a link */
  CHECK_EQ(tr_wire_deliver(w.b, bad, len), TR_EBADMSG);
  bad[1] = 21; /* a kill */
  CHECK_EQ(tr_wire_deliver(w.b, bad, len), TR_EBADMSG);
  bad[1] = good[1];
  bad[4 + 4] = 0; /* node 0 is in no cluster: it could not be answered */
  CHECK_EQ(tr_wire_deliver(w.b, bad, len), TR_EBADMSG);
  /* A payload that is not a message. */
  memcpy(bad, good, len);
  bad[32] = 0xc1;
  CHECK_EQ(tr_wire_deliver(w.b, bad, len), TR_EBADMSG);
  /* Every single byte flipped: never a crash, a refusal or a delivery. */
  for (i = 0; i < len * 8; i++) {
    int rc;
    memcpy(bad, good, len);
    bad[i / 8] ^= (unsigned char)(1u << (i % 8));
    rc = tr_wire_deliver(w.b, bad, len);
    CHECK(rc == TR_OK || rc == TR_EBADMSG);
  }
  /* Off the loop thread's host: refused as such. */
  CHECK_EQ(tr_wire_deliver(NULL, good, len), TR_EINVAL);
  /* The good one still goes, handled after what the flips delivered (a
   * slow step handles fewer at a time: those must not pass for it). */
  PUMP_UNTIL(&w, tr_mailbox_count(w.b, b) == 0);
  pb.n = 0;
  CHECK_EQ(tr_wire_deliver(w.b, good, len), TR_OK);
  PUMP_UNTIL(&w, pb.n >= 1);
  CHECK_STR(pb.text, "there");
  world_close(&w);
}

/* Node 1 of two hosts (both stepped here, on this thread) and a lone host
 * of node 2: bytes for host 1 handed to host 0 go on through the node's
 * lane, and the answer leaves through host 1's own wire. */
static void test_other_host_of_node(void) {
  world w;
  tr_node *n = tr_node_new(2);
  tr_host *h1;
  tr_wire wb;
  probe pa = {0}, p1 = {0};
  tr_pid a, x;
  uint64_t session = 0;
  memset(&w, 0, sizeof w);
  CHECK_EQ(tr_node_set_id(n, 1), TR_OK);
  w.a = tr_node_join(n, NULL);
  h1 = tr_node_join(n, NULL);
  CHECK_EQ(tr_node_set_id(n, 3), TR_EINVAL);        /* its hosts have joined */
  CHECK_EQ(tr_host_set_node_id(w.a, 4), TR_EINVAL); /* a node's host */
  CHECK_EQ(tr_host_node_id(h1), 1);
  w.b = tr_host_new(NULL);
  CHECK_EQ(tr_host_set_node_id(w.b, 2), TR_OK);
  w.to_a.node = 1;
  w.to_b.node = 2;
  wb.carry = carry, wb.ud = &w.to_b;
  CHECK_EQ(tr_host_set_wire(w.a, &wb), TR_OK);
  CHECK_EQ(tr_host_set_wire(h1, &wb), TR_OK);
  wb.ud = &w.to_a;
  CHECK_EQ(tr_host_set_wire(w.b, &wb), TR_OK);
  x = spawn_peer(h1, &p1, 0);
  CHECK_EQ(tr_pid_node(x), 1);
  CHECK_EQ(tr_pid_host(x), 1);
  a = spawn_peer(w.b, &pa, 0);
  CHECK_EQ(tr_send(w.b, a, x, tr_msg_pack("hi", "s", "over")), TR_OK);
  CHECK_EQ(tr_call(w.b, a, x, tr_msg_new("echo"), 5000, &session), TR_OK);
  {
    uint64_t end = uv_hrtime() + 5000000000ull;
    while (!(p1.n == 1 && pa.n == 1) && uv_hrtime() < end) {
      pump(&w); /* to_a goes to host 0 */
      tr_host_step(h1);
    }
  }
  CHECK_STR(p1.text, "over");
  CHECK_EQ(p1.from, a);
  CHECK_EQ(pa.kind, TR_KIND_REPLY);
  CHECK_EQ(pa.session, session);
  CHECK_EQ(pa.from, x);
  /* A host the node never had: the call fails "noproc" at once. */
  CHECK_EQ(tr_call(w.b, a, x + (1ull << TR_PID_HOST_SHIFT), tr_msg_new("echo"),
                   0, &session),
           TR_OK);
  PUMP_UNTIL(&w, pa.n == 2);
  CHECK_STR(pa.name, "noproc");
  CHECK_EQ(pa.session, session);
  CHECK_EQ(w.refused, 0);
  tr_host_free(w.b);
  tr_host_free(h1);
  tr_host_free(w.a);
  CHECK_EQ(tr_node_free(n), TR_OK);
  drop(&w.to_a);
  drop(&w.to_b);
}

int main(void) {
  RUN(test_ids);
  RUN(test_send_both_ways);
  RUN(test_call);
  RUN(test_forward_back);
  RUN(test_monitor_link_kill);
  RUN(test_node_lost);
  RUN(test_carry_failures);
  RUN(test_malformed);
  RUN(test_other_host_of_node);
  return test_report();
}
