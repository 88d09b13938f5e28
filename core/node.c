/*
 * node.c -- hosts on threads sharing one pid space, and the lanes that
 * carry what one host sends to another.
 *
 * A pid names its host (tr_pid_host), so a send, call or signal to an
 * actor of another host goes into the sender's batch for that host
 * (h->out[d], the sender's own: no lock per message). The batch is handed
 * over whole -- one lock, one uv_async_send -- when it is long, when the
 * sender's loop is about to wait (its prepare handle), or, after an
 * actor's turn, when the receiver waits for it, into the lane from
 * sender to receiver, which the receiver's async callback empties into
 * mailboxes. One lane per ordered pair keeps the order of each pair of
 * actors. A lane is bounded: sends and calls count against the receiver's
 * inbox_capacity while in flight, and senders that wait for room queue on
 * the sender's side and are woken when the receiver has taken a batch.
 * Answers, notices and signals are never refused for room, as in a
 * mailbox. The lanes belong to the node, so a host that is freed closes
 * its lanes under their locks and nothing is sent to it afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

struct tr_node {
  uint32_t max, size; /* hosts it has room for, and that have joined */
  uint32_t nthreads;
  int stopping;
  uv_mutex_t lock; /* size, hosts, stopping, threads */
  tr_host **hosts; /* by index; NULL before it joins and once freed */
  tr__lane *lanes; /* [to * max + from] */
  uv_thread_t *threads;
  struct starter *starter;
  tr__names names;
  tr__slots spawns;    /* tr_spawn_on's requests on their way, under lock */
  atomic_int *looking; /* by index: the host looks at its lanes to sleep */
  uint32_t id;         /* tr_node_set_id, under lock; 0: none */
};

/* What tr_spawn_on hands to another host: kept by the node, named in the
 * message by its slot, so that no pointer travels in a message. */
typedef struct spawn_req {
  const tr_behaviour *b;
  tr_msg *args;
  tr_spawn_opts opts;
  char *name;
} spawn_req;

static void spawn_req_free(spawn_req *r) {
  if (r) {
    tr_msg_free(r->args);
    free(r->name);
    free(r);
  }
}

/* What tr_node_start's threads need. */
typedef struct starter {
  tr_node *node;
  tr_host_config cfg;
  tr_node_hooks hooks;
} starter;

static tr__lane *lane(const tr_node *n, uint32_t to, uint32_t from) {
  return &n->lanes[(size_t)to * n->max + from];
}

tr_node *tr_node_new(uint32_t max_hosts) {
  tr_node *n;
  uint32_t i;
  if (!max_hosts || max_hosts > 255 || !(n = calloc(1, sizeof *n)))
    return NULL;
  n->max = max_hosts;
  n->hosts = calloc(max_hosts, sizeof *n->hosts);
  n->lanes = calloc((size_t)max_hosts * max_hosts, sizeof *n->lanes);
  n->threads = calloc(max_hosts, sizeof *n->threads);
  n->looking = calloc(max_hosts, sizeof *n->looking);
  if (!n->hosts || !n->lanes || !n->threads || !n->looking) {
    free(n->looking);
    free(n->hosts);
    free(n->lanes);
    free(n->threads);
    free(n);
    return NULL;
  }
  for (i = 0; i < max_hosts * max_hosts; i++)
    uv_mutex_init(&n->lanes[i].lock);
  uv_mutex_init(&n->lock);
  tr__names_init(&n->names, 1);
  tr__slots_init(&n->spawns);
  return n;
}

int tr_node_set_id(tr_node *n, uint32_t id) {
  int rc = TR_OK;
  if (!n || !id || id > 255)
    return TR_EINVAL;
  uv_mutex_lock(&n->lock);
  if (n->size)
    rc = TR_EINVAL; /* its hosts' pids are made already */
  else
    n->id = id;
  uv_mutex_unlock(&n->lock);
  return rc;
}

/* A field of n read under its lock (the getters take a const node). */
static uint32_t read_locked(const tr_node *n, const uint32_t *field) {
  uint32_t v;
  uv_mutex_lock((uv_mutex_t *)&n->lock);
  v = *field;
  uv_mutex_unlock((uv_mutex_t *)&n->lock);
  return v;
}

uint32_t tr_node_id(const tr_node *n) { return n ? read_locked(n, &n->id) : 0; }

tr_host *tr_node_join(tr_node *n, const tr_host_config *cfg) {
  uint32_t i, index, id;
  tr_host *h;
  if (!n)
    return NULL;
  uv_mutex_lock(&n->lock);
  index = n->stopping || n->size == n->max ? UINT32_MAX : n->size++;
  id = n->id;
  uv_mutex_unlock(&n->lock);
  if (index == UINT32_MAX ||
      !(h = tr__host_new(cfg, n, index, &n->names, n->max)))
    return NULL;
  if (id)
    tr__wire_join(h, id);
  for (i = 0; i < n->max; i++) {
    tr__lane *l = lane(n, index, i);
    uv_mutex_lock(&l->lock);
    l->dst = h;
    atomic_store(&l->capacity, h->cfg.inbox_capacity);
    uv_mutex_unlock(&l->lock);
  }
  uv_mutex_lock(&n->lock);
  n->hosts[index] = h;
  if (n->stopping)
    tr_host_stop(h);
  uv_mutex_unlock(&n->lock);
  return h;
}

static void host_thread(void *arg) {
  starter *s = arg;
  tr_host *h = tr_node_join(s->node, &s->cfg);
  if (!h)
    return;
  if (s->hooks.setup)
    s->hooks.setup(h, s->hooks.ud);
  tr_host_run(h);
  if (s->hooks.teardown)
    s->hooks.teardown(h, s->hooks.ud);
  tr_host_free(h);
}

int tr_node_start(tr_node *n, uint32_t threads, const tr_host_config *cfg,
                  const tr_node_hooks *hooks) {
  starter *s;
  int rc = TR_OK;
  if (!n || !threads)
    return TR_EINVAL;
  uv_mutex_lock(&n->lock);
  if (n->starter || threads > n->max - n->size)
    rc = TR_EINVAL;
  else if (!(s = n->starter = calloc(1, sizeof *s)))
    rc = TR_ENOMEM;
  uv_mutex_unlock(&n->lock);
  if (rc)
    return rc;
  s->node = n;
  if (cfg)
    s->cfg = *cfg;
  s->cfg.loop = NULL; /* each thread's host owns its loop */
  if (hooks)
    s->hooks = *hooks;
  while (n->nthreads < threads) {
    if (uv_thread_create(&n->threads[n->nthreads], host_thread, s)) {
      tr_node_stop(n);
      tr_node_wait(n);
      return TR_ENOMEM;
    }
    n->nthreads++;
  }
  return TR_OK;
}

void tr_node_stop(tr_node *n) {
  uint32_t i;
  if (!n)
    return;
  uv_mutex_lock(&n->lock);
  n->stopping = 1;
  for (i = 0; i < n->size; i++)
    if (n->hosts[i])
      tr_host_stop(n->hosts[i]);
  uv_mutex_unlock(&n->lock);
}

void tr_node_wait(tr_node *n) {
  uint32_t i;
  if (!n)
    return;
  for (i = 0; i < n->nthreads; i++)
    uv_thread_join(&n->threads[i]);
  n->nthreads = 0;
}

int tr_node_free(tr_node *n) {
  uint32_t i;
  if (!n)
    return TR_EINVAL;
  for (i = 0; i < n->size; i++)
    if (n->hosts[i])
      return TR_EINVAL;
  if (n->nthreads)
    return TR_EINVAL;
  /* Empty: a lane takes mail only while its host is there, and a host
   * that leaves takes what is left (tr__node_leave). */
  for (i = 0; i < n->max * n->max; i++)
    uv_mutex_destroy(&n->lanes[i].lock);
  tr__names_free(&n->names);
  for (i = 0; i < n->spawns.len; i++) /* for hosts that went first */
    spawn_req_free(n->spawns.v[i].ptr);
  tr__slots_free(&n->spawns);
  uv_mutex_destroy(&n->lock);
  free(n->starter);
  free(n->looking);
  free(n->hosts);
  free(n->lanes);
  free(n->threads);
  free(n);
  return TR_OK;
}

uint32_t tr_pid_host(tr_pid pid) { return tr__pid_host(pid); }
uint32_t tr_pid_node(tr_pid pid) { return tr__pid_node(pid); }

int tr_pid_format(tr_pid pid, char *buf, size_t size) {
  unsigned gen = (unsigned)(pid >> TR_PID_GEN_SHIFT);
  unsigned slot = (unsigned)(pid & 0xffffffu);
  unsigned host = tr__pid_host(pid), node = tr__pid_node(pid);
  if (node)
    return snprintf(buf, size, "<pid %u:%u.%u.%u>", node, host, slot, gen);
  if (host)
    return snprintf(buf, size, "<pid %u.%u.%u>", host, slot, gen);
  return snprintf(buf, size, "<pid %u.%u>", slot, gen);
}

tr_node *tr_host_node(const tr_host *h) { return h ? h->node : NULL; }
uint32_t tr_host_index(const tr_host *h) { return h ? h->index : 0; }

uint32_t tr_node_size(const tr_node *n) {
  return n ? read_locked(n, &n->size) : 0;
}

/* Frees a chain of messages that will not be delivered: dead letters,
 * and a call among them sent from here fails "noproc" at once. */
static void drop(tr_host *h, tr_msg *m) {
  while (m) {
    tr_msg *next = m->next;
    m->open = NULL;
    if (m->kind == TR_KIND_CALL)
      tr__call_fail(h, m->session, m->from, "noproc");
    if (tr__is_user(m))
      h->stats.dead_letters++;
    tr_msg_free(m);
    m = next;
  }
}

void tr__node_leave(tr_host *h) {
  tr_node *n = h->node;
  uint32_t i;
  uv_mutex_lock(&n->lock);
  n->hosts[h->index] = NULL;
  uv_mutex_unlock(&n->lock);
  for (i = 0; i < n->max; i++) {
    tr__lane *l = lane(n, h->index, i);
    tr_msg *m;
    uv_mutex_lock(&l->lock);
    l->dst = NULL;
    atomic_store(&l->capacity, 0);
    atomic_store(&l->inflight, 0);
    m = l->head;
    l->head = l->tail = NULL;
    uv_mutex_unlock(&l->lock);
    drop(h, m);
    drop(h, h->out[i].head); /* shutdown flushed; this is what came after */
    h->out[i].head = h->out[i].tail = NULL;
    h->out[i].len = 0;
  }
  h->ndirty = 0;
}

/* The room the lane to host d has for sends and calls: what the receiver
 * takes in flight, less what is in flight and in the batch. */
static int64_t room(tr_host *h, uint32_t d) {
  tr__lane *l;
  uint32_t cap, used;
  if (!h->node || d >= h->node->max)
    return TR_ENOPROC;
  l = lane(h->node, d, h->index);
  if (!(cap = atomic_load_explicit(&l->capacity, memory_order_relaxed)))
    return TR_ENOPROC;
  used =
      atomic_load_explicit(&l->inflight, memory_order_relaxed) + h->out[d].len;
  return used < cap ? (int64_t)(cap - used) : 0;
}

int tr__out_room(tr_host *h, tr_pid to) {
  int64_t r;
  if (tr__wired(h, to)) /* the transport refuses what it has no room for */
    return h->wire.carry ? INT32_MAX : TR_ENOPROC;
  r = room(h, tr__pid_host(to));
  return r > INT32_MAX ? INT32_MAX : (int)r;
}

/* Hands the batch for host d to its lane; one wake-up for all of it. */
static void flush_one(tr_host *h, uint32_t d) {
  tr__out *o = &h->out[d];
  tr__lane *l = lane(h->node, d, h->index);
  tr_msg *gone = NULL;
  if (!o->head)
    return;
  uv_mutex_lock(&l->lock);
  if (l->dst) {
    if (l->tail)
      l->tail->next = o->head;
    else
      l->head = o->head;
    l->tail = o->tail;
    atomic_fetch_add(&l->inflight, o->len);
    atomic_fetch_add(&l->batches, 1);
    /* Under the lock: dst cannot go. Not while it looks at its lanes. */
    if (!atomic_load(&h->node->looking[d]))
      uv_async_send(&l->dst->async);
  } else {
    gone = o->head;
  }
  uv_mutex_unlock(&l->lock);
  o->head = o->tail = NULL;
  o->len = 0;
  drop(h, gone); /* the host went away before it saw them */
}

void tr__out_flush(tr_host *h) {
  uint32_t i, n = h->ndirty;
  h->ndirty = 0;
  for (i = 0; i < n; i++) {
    h->out[h->dirty[i]].dirty = 0;
    flush_one(h, h->dirty[i]);
  }
}

void tr__out_flush_waited(tr_host *h) {
  uint32_t i;
  for (i = 0; i < h->ndirty; i++)
    if (h->out[h->dirty[i]].head &&
        atomic_load_explicit(&h->node->looking[h->dirty[i]],
                             memory_order_relaxed))
      flush_one(h, h->dirty[i]);
}

int tr__out_put(tr_host *h, tr_pid to, tr_msg *m, int if_room) {
  uint32_t d = tr__pid_host(to);
  tr__out *o;
  int64_t r;
  int rc;
  if (tr__wired(h, to))
    return tr__wire_put(h, to, m, if_room);
  r = room(h, d);
  rc = r < 0 ? (int)r : !r && tr__is_user(m) ? TR_EFULL : TR_OK;
  if (rc) {
    if (!if_room || rc != TR_EFULL) {
      if (m->kind == TR_KIND_CALL)
        tr__call_fail(h, m->session, m->from,
                      rc == TR_EFULL ? "full" : "noproc");
      if (tr__is_user(m))
        h->stats.dead_letters++;
    }
    tr_msg_free(m);
    return rc;
  }
  o = &h->out[d];
  m->to = to;
  m->origin = (uint8_t)h->index;
  m->next = NULL;
  if (o->tail)
    o->tail->next = m;
  else
    o->head = m;
  o->tail = m;
  if (++o->len >= TR__LANE_BATCH)
    flush_one(h, d);
  else if (!o->dirty) {
    o->dirty = 1;
    h->dirty[h->ndirty++] = d;
  }
  return TR_OK;
}

int tr__out_ctl(tr_host *h, int kind, tr_pid from, tr_pid to, uint64_t session,
                const char *reason) {
  static const char *const names[] = {"monitor", "demonitor", "link", "unlink",
                                      "exit",    "kill",      "spawn"};
  tr_msg *m = tr__sys_msg(kind, names[kind - TR__KIND_MONITOR], session);
  if (!m)
    return TR_ENOMEM;
  if (reason)
    tr_msg_add_cstr(m, reason);
  m->from = from;
  return tr__out_put(h, to, m, 0);
}

/* The lane from host `from` has n more messages of room: they are in. */
static void credit(tr_host *h, uint32_t from, uint32_t n) {
  tr__lane *l = lane(h->node, h->index, from);
  atomic_fetch_sub(&l->inflight, n);
  if (atomic_load_explicit(&l->waiting, memory_order_relaxed) &&
      atomic_exchange(&l->waiting, 0)) { /* the sender has waiters */
    tr__lane *back = lane(h->node, from, h->index);
    uv_mutex_lock(&back->lock);
    if (back->dst)
      uv_async_send(&back->dst->async);
    uv_mutex_unlock(&back->lock);
  }
}

/* Mail for a full mailbox waits in order, parked among the mailbox's
 * waiting senders, and so does all that comes after it: nothing from
 * another host is refused for room, and the lanes it holds in flight
 * push back on their senders. */
int tr__arrive_mail(tr_host *h, tr_pid to, tr_msg *m) {
  tr_actor *a = tr__actor(h, to);
  tr__ref *r;
  if (m->origin == TR__ORIGIN_WIRE) { /* no lane holds room for it */
    tr__deliver_pid(h, to, m);
    return 0;
  }
  if (!a || (!a->mb.parked && (!tr__is_user(m) || tr__mailbox_room(h, a)))) {
    tr__deliver_pid(h, to, m);
    return 0;
  }
  if (!(r = a->mb.parked)) {
    if (!(r = tr__ref_new(h, TR_REF_PARKED, NULL, NULL))) {
      tr__deliver(h, a, m); /* refused as full */
      return 0;
    }
    r->peer = a->pid;
    tr__list_push(&a->mb.waiters, &r->by_peer);
    a->mb.parked = r;
  }
  m->next = NULL;
  if (r->last)
    r->last->next = m;
  else
    r->msg = m;
  r->last = m;
  return 1;
}

int tr__unpark(tr_host *h, tr_actor *a, tr__ref *r) {
  tr_msg *m;
  while ((m = r->msg) &&
         (!tr__is_user(m) || tr__mailbox_free(&a->mb) > a->mb.granted)) {
    if (!(r->msg = m->next))
      r->last = NULL;
    credit(h, m->origin, 1);
    tr__mailbox_put(&a->mb, m, a->await); /* room checked; keeps inherited */
    tr__sched_wake(h, a);
  }
  if (r->msg)
    return 0;
  a->mb.parked = NULL;
  tr__ref_free(h, r);
  return 1;
}

void tr__unpark_bequeath(tr_host *h, tr_actor *a, tr_actor *heir) {
  tr__ref *r = a->mb.parked, *hr;
  tr_msg *m, *head = NULL, *tail = NULL;
  if (!r)
    return;
  while ((m = r->msg)) {
    r->msg = m->next;
    m->next = NULL;
    if (!tr__is_user(m)) { /* answers meant for a alone */
      credit(h, m->origin, 1);
      tr_msg_free(m);
      continue;
    }
    tr__call_waits_on(h, m, heir->pid);
    m->inherited = 1;
    if (tail)
      tail->next = m;
    else
      head = m;
    tail = m;
  }
  r->last = NULL;
  a->mb.parked = NULL;
  tr__ref_free(h, r);
  if (!head)
    return;
  if (!(hr = heir->mb.parked)) {
    if (!(hr = tr__ref_new(h, TR_REF_PARKED, NULL, NULL))) {
      tr_host_log(h, TR_LOG_ERROR, "out of memory handing mail to an heir");
      while ((m = head)) {
        head = m->next;
        credit(h, m->origin, 1);
        h->stats.dead_letters++;
        tr_msg_free(m);
      }
      return;
    }
    hr->peer = heir->pid;
    heir->mb.parked = hr;
  } else {
    tr__list_remove(&hr->by_peer);
  }
  /* Older than anything waiting for the heir: first in line. */
  tr__list_push(heir->mb.waiters.next, &hr->by_peer);
  tail->next = hr->msg;
  hr->msg = head;
  if (!hr->last)
    hr->last = tail;
  tr__refs_room(h, heir);
}

void tr__unpark_drop(tr_host *h, tr_actor *a, tr__ref *r) {
  tr_msg *m;
  while ((m = r->msg)) {
    r->msg = m->next;
    credit(h, m->origin, 1);
    if (tr__is_user(m))
      h->stats.dead_letters++;
    tr_msg_free(m);
  }
  r->last = NULL;
  a->mb.parked = NULL;
  tr__ref_free(h, r);
}

/* A message from another host: where it goes depends on what it is.
 * 1 when it was parked, its room in the lane kept until it is in. */
int tr__arrive(tr_host *h, tr_msg *m) {
  tr_pid to = m->to;
  m->open = NULL;
  m->next = NULL;
  m->inherited = 0; /* only an end on this host hands mail on so */
  if (h->stopped) {
    drop(h, m);
    return 0;
  }
  switch (m->kind) {
  case TR_KIND_CALL:
    return tr__call_arrived(h, to, m);
  case TR_KIND_REPLY:
  case TR_KIND_ERROR:
    tr__call_answered(h, to, m);
    break;
  case TR__KIND_KILL:
  case TR__KIND_SPAWN:
    tr__ctl_arrived(h, to, m);
    break;
  default:
    if (!tr__kind_ties(m->kind))
      return tr__arrive_mail(h, to, m);
    tr__ctl_arrived(h, to, m);
  }
  return 0;
}

/* Wakes the actors waiting for room in the lane to host d, oldest first,
 * one per message of room. */
static void wake_waiters(tr_host *h, uint32_t d) {
  tr__out *o = &h->out[d];
  tr__lane *l = lane(h->node, d, h->index);
  for (;;) {
    int64_t r = room(h, d);
    tr__link *first;
    while (r-- > 0 && (first = tr__list_first(&o->waiters))) {
      tr__ref *ref = tr__container(first, tr__ref, by_peer);
      tr_msg *m = tr__sys_msg(TR_KIND_ROOM, "room", ref->id);
      tr_pid owner = ref->owner;
      if (m)
        m->from = ref->peer;
      tr__ref_free(h, ref);
      if (m)
        tr__deliver_pid(h, owner, m);
    }
    if (tr__list_empty(&o->waiters))
      return;
    /* Asked before looking again, so a batch taken in between wakes us. */
    atomic_store(&l->waiting, 1);
    if (room(h, d) <= 0)
      return;
  }
}

/* w's wait r for room at full ends at once: w is told there is room (and
 * finds out by trying); r is freed. r's id. */
static uint64_t room_now(tr_host *h, tr_actor *w, tr__ref *r, tr_pid full) {
  uint64_t id = r->id;
  tr_msg *m = tr__sys_msg(TR_KIND_ROOM, "room", id);
  tr__ref_free(h, r);
  if (m)
    m->from = full;
  tr__deliver_pid(h, w->pid, m);
  return id;
}

uint64_t tr__out_wait_room(tr_host *h, tr_actor *w, tr_pid full,
                           uint32_t timeout_ms) {
  uint32_t d = tr__pid_host(full);
  tr__ref *r = tr__ref_new(h, TR_REF_ROOM, w, NULL);
  uint64_t id;
  if (!r)
    return 0;
  id = r->id;
  r->peer = full;
  if (tr__wired(h, full)) /* the wire's room is the transport's: try */
    return room_now(h, w, r, full);
  if (timeout_ms && tr__timer_add(h, r, timeout_ms)) {
    tr__ref_free(h, r);
    return 0;
  }
  tr__list_push(&h->out[d].waiters, &r->by_peer);
  if (room(h, d) < 0) /* no such host: told at once, as for an end */
    return room_now(h, w, r, full);
  wake_waiters(h, d);
  return id;
}

void tr__lanes_drain(tr_host *h) {
  tr_node *n = h->node;
  uint32_t i;
  for (i = 0; i < n->max; i++) {
    tr__lane *l = lane(n, h->index, i);
    tr_msg *m;
    uint32_t in = 0;
    if (!atomic_load_explicit(&l->batches, memory_order_relaxed))
      continue;
    uv_mutex_lock(&l->lock);
    m = l->head;
    l->head = l->tail = NULL;
    atomic_store(&l->batches, 0);
    uv_mutex_unlock(&l->lock);
    while (m) {
      tr_msg *next = m->next;
      in += !tr__arrive(h, m);
      m = next;
    }
    if (in)
      credit(h, i, in);
  }
  for (i = 0; i < n->max; i++)
    if (!tr__list_empty(&h->out[i].waiters))
      wake_waiters(h, i);
}

/* Something was handed over since the lanes were last looked at. */
static int lanes_pending(tr_host *h) {
  uint32_t i;
  for (i = 0; i < h->node->max; i++)
    if (atomic_load(&lane(h->node, h->index, i)->batches))
      return 1;
  return 0;
}

/* A thread woken from sleep takes tens of microseconds to run again (more
 * under a hypervisor): a host with nothing to do looks at its lanes for
 * TR__SPIN_NS before it sleeps, so that a round trip between two busy
 * hosts costs microseconds. Senders that see it looking spare the wake-up
 * (flush_one); it looks once more after it stops, so none is missed. */
void tr__node_spin(tr_host *h) {
  uint64_t end = uv_hrtime() + TR__SPIN_NS;
  int seen;
  if (h->node->max < 2)
    return;
  atomic_store(&h->node->looking[h->index], 1);
  while (!(seen = lanes_pending(h)) && uv_hrtime() < end)
    ;
  atomic_store(&h->node->looking[h->index], 0);
  if (seen || lanes_pending(h))
    tr__lanes_drain(h);
}

/* The answer to a tr_spawn_on: "spawned" with the pid, or the error. */
static tr_msg *spawn_answer(int rc, tr_pid pid, uint64_t session) {
  tr_msg *m = rc ? tr__sys_msg(TR_KIND_ERROR, "error", session)
                 : tr__sys_msg(TR_KIND_REPLY, "spawned", session);
  if (m && rc)
    tr_msg_add_cstr(m, tr_strerror(rc));
  else if (m)
    tr_msg_add_pid(m, pid);
  if (m)
    m->from = pid;
  return m;
}

/* Spawns what request m names on h, and answers its sender like a call. */
void tr__spawn_arrived(tr_host *h, tr_msg *m) {
  spawn_req *r = NULL;
  int64_t id = 0;
  tr_pid pid = 0;
  int rc = TR_EINVAL;
  if (!tr_msg_unpack(m, "I", &id)) {
    uv_mutex_lock(&h->node->lock);
    r = tr__slots_take(&h->node->spawns, (uint64_t)id);
    uv_mutex_unlock(&h->node->lock);
  }
  if (r) {
    rc = tr_spawn(h, r->b, r->args, &r->opts, &pid);
    r->args = NULL; /* tr_spawn's now */
    spawn_req_free(r);
  }
  tr__deliver_pid(h, m->from, spawn_answer(rc, pid, m->session));
}

int tr_spawn_on(tr_host *h, tr_pid from, uint32_t host, const tr_behaviour *b,
                tr_msg *args, const tr_spawn_opts *opts, uint64_t *session) {
  /* the host, no actor, of h's node */
  tr_pid to = (h->pid_base & (0xffull << TR_PID_NODE_SHIFT)) |
              (tr_pid)host << TR_PID_HOST_SHIFT;
  tr_actor *a = NULL;
  tr__ref *ref = NULL;
  spawn_req *r = NULL;
  tr_msg *m = NULL;
  uint64_t id = 0;
  int rc = tr__loop_check(h);
  if (session)
    *session = 0;
  if (!rc && (!b || !b->handle || host > 255 || !(a = tr__actor(h, from))))
    rc = TR_EINVAL;
  if (!rc && host != h->index && tr__out_room(h, to) < 0)
    rc = TR_ENOPROC;
  if (!rc && !(ref = tr__ref_new(h, TR_REF_CALL, a, NULL)))
    rc = TR_ENOMEM;
  if (rc) {
    tr_msg_free(args);
    return rc;
  }
  if (session)
    *session = ref->id;
  if (host == h->index) { /* here and now, answered as from afar */
    tr_pid pid = 0;
    rc = tr_spawn(h, b, args, opts, &pid);
    m = spawn_answer(rc, pid, ref->id);
    tr__ref_free(h, ref);
    return tr__deliver_pid(h, from, m) == TR_ENOMEM ? TR_ENOMEM : TR_OK;
  }
  if (!(r = calloc(1, sizeof *r)) ||
      !(m = tr__sys_msg(TR__KIND_SPAWN, "spawn", ref->id)))
    rc = TR_ENOMEM;
  if (!rc) {
    r->b = b;
    r->args = args;
    args = NULL;
    if (opts)
      r->opts = *opts;
    if (opts && opts->name && !(r->opts.name = r->name = strdup(opts->name)))
      rc = TR_ENOMEM;
  }
  if (!rc) {
    uv_mutex_lock(&h->node->lock);
    id = tr__slots_put(&h->node->spawns, r);
    uv_mutex_unlock(&h->node->lock);
    rc = id && !tr_msg_add_int(m, (int64_t)id) ? TR_OK : TR_ENOMEM;
  }
  if (rc) {
    if (id) {
      uv_mutex_lock(&h->node->lock);
      tr__slots_take(&h->node->spawns, id);
      uv_mutex_unlock(&h->node->lock);
    }
    spawn_req_free(r);
    tr_msg_free(args);
    tr_msg_free(m);
    tr__ref_free(h, ref);
    if (session)
      *session = 0;
    return rc;
  }
  ref->peer = to;
  m->from = from;
  return tr__out_put(h, to, m, 0);
}
