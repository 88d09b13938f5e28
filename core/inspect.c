/*
 * inspect.c -- looking into a running host: one actor's info, the list of
 * a host's actors, and who supervises whom.
 *
 * Everything here reads what the host keeps anyway, plus the counters the
 * scheduler bumps (handled; run_ns while timing is on): asking costs O(1)
 * per actor but for the walk of its mailbox.
 */
#include <stdio.h>
#include <string.h>

#include "host.h"

/* What a's tr_await waits for, from the kind of ref its session names. */
static int wait_of(tr_host *h, const tr_actor *a, tr_pid *on) {
  const tr__ref *r;
  if (!a->await)
    return TR_WAIT_RECEIVE;
  if (!(r = tr__slots_get(&h->refs, a->await)))
    return TR_WAIT_OTHER;
  switch (r->kind) {
  case TR_REF_CALL:
    *on = r->peer;
    return TR_WAIT_CALL;
  case TR_REF_TIMEOUT:
    return TR_WAIT_SLEEP;
  case TR_REF_ROOM:
    *on = r->peer;
    return TR_WAIT_ROOM;
  default:
    return TR_WAIT_OTHER;
  }
}

int tr_actor_get_info(tr_host *h, tr_pid pid, tr_actor_info *out) {
  tr_actor *a;
  const tr_msg *m;
  int rc = tr__loop_check(h);
  if (out)
    memset(out, 0, sizeof *out);
  if (rc)
    return rc;
  if (!out || tr__remote(h, pid))
    return TR_EINVAL;
  if (!(a = tr__actor(h, pid)))
    return TR_ENOPROC;
  out->pid = a->pid;
  out->host = h->index;
  out->kind = a->b->name ? a->b->name : "?";
  out->behaviour = a->b;
  out->state = a->state;
  if (a->name)
    snprintf(out->name, sizeof out->name, "%s", a->name);
  if (a->life == TR__EXITING)
    out->status = TR_STATUS_EXITING;
  else if (a->running)
    out->status = TR_STATUS_RUNNING;
  else if (tr__linked(&a->ready))
    out->status = TR_STATUS_READY;
  else
    out->status = TR_STATUS_WAITING;
  if (out->status == TR_STATUS_WAITING)
    out->wait = wait_of(h, a, &out->waits_on);
  out->awaits = a->await;
  out->mailbox = a->mb.user;
  out->held = a->mb.held;
  out->capacity = a->mb.capacity;
  for (m = a->mb.head; m; m = m->next) {
    out->queued++;
    out->mailbox_bytes += m->len;
  }
  out->handled = a->handled;
  out->run_ns = a->run_ns;
  out->supervisor = a->supervisor;
  out->restarts = a->restarts;
  return TR_OK;
}

int tr_host_actors(tr_host *h, tr_pid *pids, size_t cap, size_t *n) {
  const tr__link *l;
  size_t i = 0;
  int rc = tr__loop_check(h);
  if (n)
    *n = 0;
  if (rc)
    return rc;
  if (cap && !pids)
    return TR_EINVAL;
  for (l = h->started.next; l != &h->started; l = l->next, i++)
    if (i < cap)
      pids[i] = tr__container(l, tr_actor, started)->pid;
  if (n)
    *n = i;
  return TR_OK;
}

int tr_actor_set_supervisor(tr_host *h, tr_pid pid, tr_pid sup,
                            uint32_t restarts) {
  tr_actor *a;
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  if (!(a = tr__actor(h, pid)))
    return TR_ENOPROC;
  a->supervisor = sup;
  a->restarts = restarts;
  return TR_OK;
}

int tr_host_set_timing(tr_host *h, int on) {
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  h->timing = on ? 1 : 0;
  return TR_OK;
}
