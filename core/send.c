/*
 * send.c -- getting a message into a mailbox, from the loop thread or any
 * other.
 *
 * On the loop thread a send is a direct enqueue: find the actor by pid,
 * check capacity, append, wake it. Other threads cannot touch the actor
 * table, so they append to the host's locked inbox and poke the loop with
 * uv_async_send; the loop moves the inbox into mailboxes in one go. Either
 * way a message that cannot be delivered is counted as a dead letter.
 */
#include "host.h"

tr_msg *tr__sys_msg(int kind, const char *name, uint64_t session) {
  tr_msg *m = tr_msg_new(name);
  if (m)
    tr__msg_envelope(m, kind, 0, session);
  return m;
}

int tr__deliver(tr_host *h, tr_actor *a, tr_msg *m) {
  if (!m)
    return TR_ENOMEM;
  m->inherited = 0; /* only bequeath hands mail on as inherited */
  if (tr__is_user(m) && !tr__mailbox_free(&a->mb)) {
    if (m->kind == TR_KIND_CALL)
      tr__call_fail(h, m->session, m->from, "full");
    h->stats.dead_letters++;
    tr_msg_free(m);
    return TR_EFULL;
  }
  tr__mailbox_put(&a->mb, m, a->await);
  tr__sched_wake(h, a);
  return TR_OK;
}

int tr__deliver_pid(tr_host *h, tr_pid to, tr_msg *m) {
  tr_actor *a = tr__actor(h, to);
  if (!m)
    return TR_ENOMEM;
  if (!a && tr__remote(h, to))
    return tr__out_put(h, to, m, 0);
  if (!a) {
    /* A call that finds nobody is answered at once, not at its timeout. */
    if (m->kind == TR_KIND_CALL)
      tr__call_fail(h, m->session, m->from, "noproc");
    h->stats.dead_letters++;
    tr_msg_free(m);
    return TR_ENOPROC;
  }
  return tr__deliver(h, a, m);
}

static int inbox_put(tr_host *h, tr_pid to, tr_msg *m) {
  int rc = TR_OK;
  uv_mutex_lock(&h->inbox_lock);
  if (h->stopped)
    rc = TR_ESTOPPED;
  else if (h->inbox_len >= h->cfg.inbox_capacity)
    rc = TR_EFULL;
  else {
    m->session = to; /* a send has no session: the inbox keeps `to` there */
    m->next = NULL;
    if (h->inbox_tail)
      h->inbox_tail->next = m;
    else
      h->inbox_head = m;
    h->inbox_tail = m;
    h->inbox_len++;
  }
  uv_mutex_unlock(&h->inbox_lock);
  if (rc)
    tr_msg_free(m);
  else
    uv_async_send(&h->async);
  return rc;
}

tr_msg *tr__inbox_take(tr_host *h, int stop) {
  tr_msg *m;
  uv_mutex_lock(&h->inbox_lock);
  m = h->inbox_head;
  h->inbox_head = h->inbox_tail = NULL;
  h->inbox_len = 0;
  if (stop)
    h->stopped = 1; /* under the lock: senders learn it from here on */
  uv_mutex_unlock(&h->inbox_lock);
  return m;
}

void tr__inbox_drain(tr_host *h) {
  tr_msg *m = tr__inbox_take(h, 0);
  while (m) {
    tr_msg *next = m->next;
    tr_pid to = m->session;
    m->session = 0;
    tr__deliver_pid(h, to, m);
    m = next;
  }
}

/* Common checks; on failure frees m. h->stopped is the loop thread's to
 * read: other threads learn it under the inbox lock. *on_loop (may be
 * NULL) says whether this is the loop thread, so that tr_send asks once. */
static int check(tr_host *h, tr_msg *m, int *on_loop) {
  int rc = !h || !m ? TR_EINVAL : tr__msg_check(m), loop = 0;
  if (!rc && (loop = tr__on_loop_thread(h)) && h->stopped)
    rc = TR_ESTOPPED;
  if (on_loop)
    *on_loop = loop;
  if (rc)
    tr_msg_free(m);
  return rc;
}

int tr_send(tr_host *h, tr_pid from, tr_pid to, tr_msg *m) {
  int on_loop, rc = check(h, m, &on_loop);
  if (rc)
    return rc;
  tr__msg_envelope(m, TR_KIND_SEND, from, 0);
  if (!on_loop)
    return inbox_put(h, to, m);
  return tr__deliver_pid(h, to, m);
}

int tr_send_named(tr_host *h, tr_pid from, const char *name, tr_msg *m) {
  tr_pid to;
  if (!h || !name) {
    tr_msg_free(m);
    return TR_EINVAL;
  }
  to = tr__name_lookup(h, name);
  if (to)
    return tr_send(h, from, to, m);
  if (!tr__on_loop_thread(h)) {
    /* A stopped host has released every name: say stopped, not unknown. */
    int stopped;
    uv_mutex_lock(&h->inbox_lock);
    stopped = h->stopped;
    uv_mutex_unlock(&h->inbox_lock);
    tr_msg_free(m);
    return stopped ? TR_ESTOPPED : TR_ENOPROC;
  }
  {
    int rc = check(h, m, NULL);
    if (rc)
      return rc;
  }
  h->stats.dead_letters++;
  tr_msg_free(m);
  return TR_ENOPROC;
}

/* A call now waits on `to`: its ref's peer side moves there, so that the
 * end of `to` fails it at once. Bound for another host, it waits on a
 * proxy there: a proxy here gives the caller's session back and goes. */
void tr__call_waits_on(tr_host *h, tr_msg *m, tr_pid to) {
  tr__ref *r = m->kind == TR_KIND_CALL ? tr__call_ref(h, m) : NULL;
  tr_actor *a;
  if (!r || r->peer == to)
    return;
  if (tr__remote(h, to)) {
    if (r->kind == TR_REF_RCALL) {
      m->session = r->remote;
      tr__ref_free(h, r);
    } else {
      tr__list_remove(&r->by_peer);
      r->peer = to;
    }
  } else if ((a = tr__actor(h, to))) {
    tr__list_remove(&r->by_peer);
    tr__list_push(&a->peered, &r->by_peer);
    r->peer = a->pid;
  }
}

int tr_forward(tr_host *h, tr_pid to, tr_msg *m) {
  int rc = tr__loop_check(h);
  if (rc) {
    tr_msg_free(m);
    return rc;
  }
  if (m && m == h->current_msg)
    h->current_msg = NULL; /* taken over, whatever happens next */
  if ((rc = check(h, m, NULL)))
    return rc;
  tr__call_waits_on(h, m, to);
  return tr__deliver_pid(h, to, m);
}

int tr_forward_as(tr_host *h, tr_pid to, const tr_msg *request, tr_msg *m) {
  int rc = tr__loop_check(h);
  if (!rc && (!request || !m || m == request))
    rc = TR_EINVAL;
  if (rc) {
    tr_msg_free(m);
    return rc;
  }
  tr__msg_envelope(m, request->kind, request->from, request->session);
  m->origin = request->origin;
  m->inherited = request->inherited;
  if ((rc = check(h, m, NULL)))
    return rc;
  tr__call_waits_on(h, m, to);
  return tr__deliver_pid(h, to, m);
}

/* Is the caller handling the room message of a wait on pid's mailbox,
 * with the room still promised to it? */
static int holds_grant(tr_host *h, tr_pid pid) {
  const tr_msg *m = h->current_msg;
  const tr__ref *r;
  if (!m || m->kind != TR_KIND_ROOM || m->from != pid)
    return 0;
  r = tr__slots_get(&h->refs, m->session);
  return r && r->kind == TR_REF_GRANT && r->owner == h->current->pid;
}

/* Room promised to woken waiters is theirs: a sender asking now queues
 * behind them, but the one that handles its room message may use it. */
uint32_t tr__mailbox_room(tr_host *h, tr_actor *a) {
  uint32_t free = tr__mailbox_free(&a->mb), promised = a->mb.granted;
  if (promised && holds_grant(h, a->pid))
    promised--;
  return free > promised ? free - promised : 0;
}

int tr_mailbox_room(tr_host *h, tr_pid pid) {
  tr_actor *a;
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  if (!(a = tr__actor(h, pid)))
    return tr__remote(h, pid) ? tr__out_room(h, pid) : TR_ENOPROC;
  return (int)tr__mailbox_room(h, a);
}

/* tr_mailbox_room and tr_send in one: one check of the thread, one
 * lookup of the actor. */
int tr_send_if_room(tr_host *h, tr_pid from, tr_pid to, tr_msg *m) {
  tr_actor *a = NULL;
  int rc = !m ? TR_EINVAL : tr__loop_check(h);
  if (!rc)
    rc = tr__msg_check(m);
  if (!rc && h->stopped)
    rc = TR_ESTOPPED;
  if (!rc && (a = tr__actor(h, to)) && !tr__mailbox_room(h, a))
    rc = TR_EFULL; /* no dead letter: the sender waits and sends again */
  if (rc) {
    tr_msg_free(m);
    return rc;
  }
  tr__msg_envelope(m, TR_KIND_SEND, from, 0);
  if (!a && tr__remote(h, to))
    return tr__out_put(h, to, m, 1);
  return a ? tr__deliver(h, a, m) : tr__deliver_pid(h, to, m);
}

int tr_notify_room(tr_host *h, tr_pid waiter, tr_pid full, uint32_t timeout_ms,
                   uint64_t *id) {
  tr_actor *w, *f;
  tr__ref *r;
  uint64_t n;
  tr_msg *m;
  int rc = tr__loop_check(h);
  if (id)
    *id = 0;
  if (rc)
    return rc;
  if (!(w = tr__actor(h, waiter)))
    return TR_ENOPROC;
  if (tr__remote(h, full)) {
    if (!(n = tr__out_wait_room(h, w, full, timeout_ms)))
      return TR_ENOMEM;
  } else if ((f = tr__actor(h, full))) {
    if (!(n = tr__refs_wait_room(h, w, f, timeout_ms)))
      return TR_ENOMEM;
  } else { /* ended already: told at once, as its end would have told it */
    if (!(r = tr__ref_new(h, TR_REF_ROOM, w, NULL)))
      return TR_ENOMEM;
    n = r->id;
    tr__ref_free(h, r);
    if ((m = tr__sys_msg(TR_KIND_ROOM, "room", n)))
      m->from = full;
    if ((rc = tr__deliver(h, w, m)))
      return rc;
  }
  if (id)
    *id = n;
  return TR_OK;
}

int tr_mailbox_hold(tr_actor *self, int n) {
  tr__mailbox *mb;
  if (!self)
    return TR_EINVAL;
  mb = &self->mb;
  if (n < 0 && (uint32_t) - (int64_t)n > mb->held)
    return TR_EINVAL;
  mb->held = (uint32_t)((int64_t)mb->held + n);
  if (n < 0 && self->life == TR__LIVE && !tr__list_empty(&mb->waiters))
    tr__refs_room(self->host, self);
  return (int)mb->held;
}

int tr_notify(tr_host *h, tr_pid from, tr_pid to, tr_msg *m) {
  int rc = tr__loop_check(h);
  if (rc) {
    tr_msg_free(m);
    return rc;
  }
  if ((rc = check(h, m, NULL)))
    return rc;
  tr__msg_envelope(m, TR_KIND_NOTICE, from, 0);
  return tr__deliver_pid(h, to, m);
}

tr_msg *tr_keep(tr_actor *self, tr_msg *m) {
  tr_host *h = self ? self->host : NULL;
  if (!h || !m || h->current != self || h->current_msg != m)
    return NULL;
  h->current_msg = NULL;
  return m;
}

/* No capacity check: m was admitted once and holds its slot still. Its own
 * callback is running, so the scheduler sees the mail when it returns;
 * from terminate, the end (bequeath) hands it to the heir. */
int tr_mailbox_putback(tr_actor *self, tr_msg *m) {
  tr_host *h = self ? self->host : NULL;
  int rc;
  if (h && m && m == h->current_msg)
    h->current_msg = NULL; /* taken over, whatever happens next */
  rc = !h || !m || h->current != self ? TR_EINVAL : tr__msg_check(m);
  if (rc) {
    tr_msg_free(m);
    return rc;
  }
  tr__call_waits_on(h, m, self->pid);
  m->next = NULL;
  tr__mailbox_putback(&self->mb, m, self->await);
  return TR_OK;
}
