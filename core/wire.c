/*
 * wire.c -- the seam between nodes: what an actor sends toward a pid of
 * another node leaves as bytes through its host's wire, carried by a
 * service; bytes that arrived come in as if a local actor had sent them.
 *
 * The bytes are the envelope the lanes carry between hosts, flattened
 * (troupe.h, tr_host_set_wire): a 32-byte head, little-endian, then the
 * message's own encoding. A call from another node waits on a proxy ref
 * (TR_REF_RCALL), a monitor from there on a TR_REF_RMONITOR, as for a
 * host of this node; their answers go back through the wire.
 */
#include <stdlib.h>
#include <string.h>

#include "host.h"

#define WIRE_VERSION 1
#define WIRE_HEAD 32

static void put32(unsigned char *b, uint32_t v) {
  int i;
  for (i = 0; i < 4; i++)
    b[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *b, uint64_t v) {
  int i;
  for (i = 0; i < 8; i++)
    b[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
         (uint32_t)b[3] << 24;
}

static uint64_t get64(const unsigned char *b) {
  return (uint64_t)get32(b) | (uint64_t)get32(b + 4) << 32;
}

int tr_host_set_node_id(tr_host *h, uint32_t id) {
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  /* A node's hosts take its id as they join; a lone host's pids are made
   * from its first spawn on. */
  if (!id || id > 255 || h->node || h->actors.used)
    return TR_EINVAL;
  tr__wire_join(h, id);
  return TR_OK;
}

void tr__wire_join(tr_host *h, uint32_t id) {
  uint32_t gen = 0;
  h->pid_base = (h->pid_base & ~(0xffull << TR_PID_NODE_SHIFT)) |
                (uint64_t)id << TR_PID_NODE_SHIFT;
  /* A node that restarts under its id must not hand its predecessor's
   * pids to new actors: its generations start somewhere new. */
  if (uv_random(NULL, NULL, &gen, sizeof gen, 0, NULL))
    gen = (uint32_t)uv_hrtime() ^ (uint32_t)(uv_hrtime() >> 32);
  tr__slots_set_gen0(&h->actors, gen % TR__SLOTS_GEN_MASK + 1);
}

uint32_t tr_host_node_id(const tr_host *h) {
  return h ? tr__pid_node(h->pid_base) : 0;
}

int tr_host_set_wire(tr_host *h, const tr_wire *w) {
  int rc = tr__loop_check(h);
  /* Without an id of its own, no answer could find its way back. */
  if (!rc && w && (!w->carry || !tr__pid_node(h->pid_base)))
    rc = TR_EINVAL;
  if (rc)
    return rc;
  if (w)
    h->wire = *w;
  else
    memset(&h->wire, 0, sizeof h->wire);
  return TR_OK;
}

/* What a failed carry is called in a failed call. */
static const char *failure(int rc) {
  return rc == TR_EFULL    ? "full"
         : rc == TR_ERANGE ? "toolarge"
                           : "noconnection";
}

/* m as bytes, handed to the wire: carry's answer. */
static int carry(tr_host *h, tr_pid to, const tr_msg *m) {
  unsigned char small[512], *b = small;
  size_t total = WIRE_HEAD + (size_t)m->len;
  int rc;
  if (total > sizeof small && !(b = malloc(total)))
    return TR_ENOMEM;
  b[0] = WIRE_VERSION;
  b[1] = m->kind;
  b[2] = b[3] = 0;
  put64(b + 4, m->from);
  put64(b + 12, to);
  put64(b + 20, m->session);
  put32(b + 28, m->len);
  memcpy(b + WIRE_HEAD, m->buf, m->len);
  rc = h->wire.carry(h->wire.ud, tr__pid_node(to), b, total);
  if (b != small)
    free(b);
  if (rc && rc != TR_EFULL && rc != TR_ERANGE)
    rc = TR_ENOPROC; /* whatever else it says: not carried */
  return rc;
}

int tr__wire_put(tr_host *h, tr_pid to, tr_msg *m, int if_room) {
  int rc = h->wire.carry ? carry(h, to, m) : TR_ENOPROC;
  if (rc) {
    int quiet = if_room && rc == TR_EFULL; /* the sender waits */
    tr__ref *r;
    if (m->kind == TR_KIND_CALL && !quiet)
      tr__call_fail(h, m->session, m->from, failure(rc));
    else if (m->kind == TR_KIND_CALL && (r = tr__call_ref(h, m)))
      tr__ref_free(h, r);
    if (tr__is_user(m) && !quiet)
      h->stats.dead_letters++;
  }
  tr_msg_free(m);
  return rc;
}

/* The kinds that travel, and whether they need a sender. */
static int kind_ok(int kind, tr_pid from) {
  switch (kind) {
  case TR_KIND_SEND:
  case TR_KIND_NOTICE:
  case TR__KIND_KILL:
    return 1;
  case TR_KIND_CALL:
  case TR_KIND_REPLY:
  case TR_KIND_ERROR:
    return from != 0;
  default: /* timeouts, room, spawns: never from another node */
    return tr__kind_ties(kind) && from != 0;
  }
}

int tr_wire_deliver(tr_host *h, const void *bytes, size_t len) {
  const unsigned char *b = bytes;
  uint32_t own;
  tr_pid from, to;
  uint64_t session;
  tr_msg *m;
  int rc = tr__loop_check(h), kind;
  if (rc)
    return rc;
  if (!b || len < WIRE_HEAD || b[0] != WIRE_VERSION || b[2] || b[3] ||
      get32(b + 28) != len - WIRE_HEAD)
    return TR_EBADMSG;
  kind = b[1];
  from = get64(b + 4);
  to = get64(b + 12);
  session = get64(b + 20);
  own = tr__pid_node(h->pid_base);
  /* For this node. A sender of node 0 could not be answered; one of this
   * node comes back only in mail or a call that another node forwarded
   * (the call then finds its caller's ref, as one back on its caller's
   * host does), never in a signal, which would pass for a local one. */
  if (!own || !to || tr__pid_node(to) != own || (from && !tr__pid_node(from)) ||
      !kind_ok(kind, from) ||
      (from && tr__pid_node(from) == own && kind != TR_KIND_SEND &&
       kind != TR_KIND_CALL))
    return TR_EBADMSG;
  if (!(m = tr_msg_decode(b + WIRE_HEAD, len - WIRE_HEAD, &rc)))
    return rc == TR_ENOMEM ? TR_ENOMEM : TR_EBADMSG;
  if (h->stopped) {
    tr_msg_free(m);
    return TR_ESTOPPED;
  }
  tr__msg_envelope(m, kind, from, session);
  if (tr__pid_host(to) != h->index) { /* another host of this node */
    if (tr__out_put(h, to, m, 0) && kind == TR_KIND_CALL) {
      /* no such host: the caller hears it now, not at its timeout */
      tr_msg *e = tr__sys_msg(TR_KIND_ERROR, "noproc", session);
      if (e && !tr_msg_add_cstr(e, "noproc")) {
        e->from = to;
        tr__deliver_pid(h, from, e); /* the wire, or a forward's caller here */
      } else {
        tr_msg_free(e);
      }
    }
    return TR_OK;
  }
  m->origin = TR__ORIGIN_WIRE;
  m->to = to;
  tr__arrive(h, m);
  return TR_OK;
}

/* The ref is a link to an actor of node. */
static int link_to(const tr__ref *r, uint32_t node) {
  return r && r->kind == TR_REF_LINK && r->peer &&
         tr__pid_node(r->peer) == node;
}

/* The links to node's actors go first, all of them, and then their
 * owners are signalled: an owner that ends then must not tell the lost
 * node through another of them. */
static void cut_links(tr_host *h, uint32_t node) {
  uint32_t i, n = 0, k = 0;
  tr_pid *pairs;
  for (i = 0; i < h->refs.len; i++)
    n += link_to(h->refs.v[i].ptr, node);
  if (!n)
    return;
  pairs = malloc((size_t)n * 2 * sizeof *pairs);
  for (i = 0; i < h->refs.len; i++) {
    tr__ref *r = h->refs.v[i].ptr;
    tr_actor *a;
    if (!link_to(r, node))
      continue;
    if (pairs) {
      pairs[k++] = r->owner;
      pairs[k++] = r->peer;
      tr__ref_free(h, r);
    } else { /* out of memory: one by one, the best it can */
      tr_pid owner = r->owner, peer = r->peer;
      tr__ref_free(h, r);
      if ((a = tr__actor(h, owner)))
        tr__exit_signal(h, a, peer, "noconnection");
    }
  }
  for (i = 0; i < k; i += 2) {
    tr_actor *a = tr__actor(h, pairs[i]);
    if (a)
      tr__exit_signal(h, a, pairs[i + 1], "noconnection");
  }
  free(pairs);
}

int tr_host_node_lost(tr_host *h, uint32_t node) {
  uint32_t i;
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  if (!node || node > 255 || node == tr__pid_node(h->pid_base))
    return TR_EINVAL;
  /* Every ref is looked at once; what fires may free other refs, so each
   * slot is read afresh. Nothing here ends an actor: the links go last,
   * once nothing is kept for the lost node's actors to be told of. */
  for (i = 0; i < h->refs.len; i++) {
    tr__ref *r = h->refs.v[i].ptr;
    tr_pid owner, peer;
    tr_msg *m;
    if (!r)
      continue;
    owner = r->owner;
    peer = r->peer;
    switch (r->kind) {
    case TR_REF_CALL:
      if (peer && tr__pid_node(peer) == node)
        tr__call_fail(h, r->id, owner, "noconnection");
      break;
    case TR_REF_MONITOR:
      if (peer && tr__pid_node(peer) == node) {
        m = tr__down_msg(r->id, peer, "noconnection");
        tr__ref_free(h, r);
        tr__deliver_pid(h, owner, m);
      }
      break;
    case TR_REF_RCALL:
    case TR_REF_RMONITOR:
      if (owner && tr__pid_node(owner) == node)
        tr__ref_free(h, r);
      break;
    }
  }
  cut_links(h, node);
  return TR_OK;
}
