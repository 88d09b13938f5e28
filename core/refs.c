/*
 * refs.c -- the records the host keeps between actors, and what an actor's
 * death does to each of them.
 *
 * A ref has an owner (who is told) and maybe a peer (who is watched). It
 * sits in both actors' lists, so when either ends the host finds every ref
 * it took part in without a search: calls to it fail at once, monitors get
 * their down message, links pass the exit on, timers for it are dropped.
 * Freed refs are kept on a free list: calls make and drop one per request.
 *
 * Senders waiting for room in a full mailbox queue on it, oldest first.
 * Each slot that frees wakes the oldest, whose ref becomes a grant: the
 * slot is promised to it until it has handled its room message, and goes
 * to the next one if it ends first or does not use it. Waking all of them
 * for every slot would cost O(waiters) per message.
 */
#include <stdlib.h>

#include "host.h"

tr__ref *tr__ref_new(tr_host *h, int kind, tr_actor *owner, tr_actor *peer) {
  tr__ref *r = h->free_refs;
  if (r)
    h->free_refs = r->next_free;
  else if (!(r = malloc(sizeof *r)))
    return NULL;
  if (!(r->id = tr__slots_put(&h->refs, r))) {
    free(r);
    return NULL;
  }
  r->kind = (uint8_t)kind;
  r->owner = owner ? owner->pid : 0;
  r->peer = peer ? peer->pid : 0;
  r->heap_i = TR__NOHEAP;
  r->msg = r->last = NULL;
  r->next_free = NULL;
  tr__list_init(&r->by_owner);
  tr__list_init(&r->by_peer);
  if (owner)
    tr__list_push(&owner->owned, &r->by_owner);
  if (peer)
    tr__list_push(&peer->peered, &r->by_peer);
  return r;
}

void tr__ref_free(tr_host *h, tr__ref *r) {
  tr__slots_take(&h->refs, r->id);
  tr__list_remove(&r->by_owner);
  tr__list_remove(&r->by_peer);
  if (r->heap_i != TR__NOHEAP)
    tr__timer_remove(h, r);
  tr_msg_free(r->msg);
  r->msg = NULL;
  r->next_free = h->free_refs;
  h->free_refs = r;
}

void tr__refs_clear(tr_host *h) {
  while (h->free_refs) {
    tr__ref *r = h->free_refs;
    h->free_refs = r->next_free;
    free(r);
  }
}

/* Sends owner a message of `kind` about the ref; what it carries depends on
 * the kind: down(ref, pid, reason), or an error naming the reason. */
static void tell_owner(tr_host *h, tr__ref *r, int kind, tr_actor *dead) {
  /* A proxy's owner knows the ref by its own host's id. */
  uint64_t id = r->kind >= TR_REF_RCALL ? r->remote : r->id;
  tr_msg *m;
  if (kind == TR_KIND_DOWN) {
    m = tr__down_msg(id, dead->pid, dead->reason);
  } else if (kind == TR_KIND_ERROR) {
    m = tr__sys_msg(kind, "down", id);
    if (m)
      tr_msg_add_cstr(m, dead->reason);
  } else {
    m = tr__sys_msg(kind, "room", r->id);
  }
  if (!m) {
    tr_host_log(h, TR_LOG_ERROR, "out of memory telling of a death");
    return;
  }
  m->from = dead->pid;
  tr__deliver_pid(h, r->owner, m);
}

/* The room r promised in f's mailbox (a TR_REF_GRANT) is no longer
 * promised: r's owner handled its message, or ended first. */
static void ungrant(tr_host *h, tr__ref *r, int wake) {
  tr_actor *f = tr__actor(h, r->peer);
  tr__ref_free(h, r);
  if (!f)
    return;
  f->mb.granted--;
  if (wake)
    tr__refs_room(h, f);
}

void tr__refs_on_death(tr_host *h, tr_actor *a) {
  tr__link *l;
  int quiet = h->shutting_down;
  while ((l = tr__list_first(&a->owned))) {
    tr__ref *r = tr__container(l, tr__ref, by_owner);
    tr_actor *peer = r->kind == TR_REF_LINK ? tr__actor(h, r->peer) : NULL;
    if (r->kind == TR_REF_GRANT) { /* told of room it will never take */
      ungrant(h, r, !quiet);
      continue;
    }
    /* Another host hears of it even while this one shuts down. */
    if (r->kind == TR_REF_LINK && tr__remote(h, r->peer))
      tr__out_ctl(h, TR__KIND_EXIT, a->pid, r->peer, 0, a->reason);
    else if (r->kind == TR_REF_MONITOR && tr__remote(h, r->peer))
      tr__out_ctl(h, TR__KIND_DEMONITOR, a->pid, r->peer, r->id, NULL);
    tr__ref_free(h, r);
    if (peer && !quiet)
      tr__exit_signal(h, peer, a->pid, a->reason);
  }
  /* Senders waiting for room try again, oldest first, and find it gone. */
  while ((l = tr__list_first(&a->mb.waiters))) {
    tr__ref *r = tr__container(l, tr__ref, by_peer);
    if (r->kind == TR_REF_PARKED) {
      tr__unpark_drop(h, a, r);
      continue;
    }
    if (!quiet && tr__actor(h, r->owner))
      tell_owner(h, r, TR_KIND_ROOM, a);
    tr__ref_free(h, r);
  }
  while ((l = tr__list_first(&a->peered))) {
    tr__ref *r = tr__container(l, tr__ref, by_peer);
    tr_actor *owner = tr__actor(h, r->owner);
    if (r->kind == TR_REF_RCALL || r->kind == TR_REF_RMONITOR) {
      tell_owner(h, r, r->kind == TR_REF_RCALL ? TR_KIND_ERROR : TR_KIND_DOWN,
                 a);
    } else if (owner && !quiet) {
      switch (r->kind) {
      case TR_REF_CALL:
        tell_owner(h, r, TR_KIND_ERROR, a);
        break;
      case TR_REF_MONITOR:
        tell_owner(h, r, TR_KIND_DOWN, a);
        break;
      case TR_REF_LINK:
        tr__ref_free(h, r);
        tr__exit_signal(h, owner, a->pid, a->reason);
        continue;
      }
    }
    tr__ref_free(h, r); /* a TR_REF_GRANT: its owner was told already */
  }
}

/* Tells r's owner that f has room for it: r becomes a TR_REF_GRANT, the
 * room promised until the owner has handled the message. */
static int grant(tr_host *h, tr__ref *r, tr_actor *f) {
  tr_msg *m = tr__sys_msg(TR_KIND_ROOM, "room", r->id);
  if (!m)
    return TR_ENOMEM;
  m->from = f->pid;
  tr__list_remove(&r->by_peer);
  if (r->heap_i != TR__NOHEAP)
    tr__timer_remove(h, r);
  r->kind = TR_REF_GRANT;
  tr__list_push(&f->peered, &r->by_peer);
  f->mb.granted++;
  return tr__deliver_pid(h, r->owner, m);
}

/* One waiter per free slot that no earlier waiter was promised: k freed
 * slots wake at most k senders, in the order they began to wait, and each
 * costs O(1) -- never a wake of every waiter for the one slot. */
void tr__refs_room(tr_host *h, tr_actor *a) {
  tr__link *l;
  while (tr__mailbox_free(&a->mb) > a->mb.granted &&
         (l = tr__list_first(&a->mb.waiters))) {
    tr__ref *r = tr__container(l, tr__ref, by_peer);
    if (r->kind == TR_REF_PARKED) { /* mail from other hosts, in order */
      if (!tr__unpark(h, a, r))
        return;
      continue;
    }
    if (!tr__actor(h, r->owner)) { /* ending: the next one takes it */
      tr__ref_free(h, r);
      continue;
    }
    if (grant(h, r, a) == TR_ENOMEM) {
      tr_host_log(h, TR_LOG_ERROR, "out of memory waking a sender");
      return;
    }
  }
}

void tr__refs_room_handled(tr_host *h, tr_actor *owner, uint64_t session) {
  tr__ref *r = tr__slots_get(&h->refs, session);
  if (r && r->kind == TR_REF_GRANT && r->owner == owner->pid)
    ungrant(h, r, 1);
}

/* Starts a wait of `waiter` for room in f: granted at once when f has room
 * no earlier waiter was promised, else queued -- at the front when the
 * waiter is handling room f gave it and found taken (a sender that did not
 * wait got there first): it keeps its place. */
uint64_t tr__refs_wait_room(tr_host *h, tr_actor *w, tr_actor *f,
                            uint32_t timeout_ms) {
  tr__ref *r = tr__ref_new(h, TR_REF_ROOM, w, NULL);
  const tr_msg *cur = h->current_msg;
  uint64_t id;
  if (!r)
    return 0;
  id = r->id;
  r->peer = f->pid;
  if (tr__mailbox_free(&f->mb) > f->mb.granted &&
      tr__list_empty(&f->mb.waiters)) {
    if (grant(h, r, f) == TR_ENOMEM) {
      tr__ref_free(h, r);
      return 0;
    }
    return id;
  }
  if (h->current == w && cur && cur->kind == TR_KIND_ROOM &&
      cur->from == f->pid)
    tr__list_push(f->mb.waiters.next, &r->by_peer); /* before the first */
  else
    tr__list_push(&f->mb.waiters, &r->by_peer);
  if (timeout_ms && tr__timer_add(h, r, timeout_ms)) {
    tr__ref_free(h, r);
    return 0;
  }
  return id;
}
