/*
 * monitor.c -- monitors and links: how one actor learns of another's death.
 *
 * A monitor is one-way and always a message: down(ref, pid, reason). A link
 * is two-way and, unless the survivor traps exits, contagious: an abnormal
 * end ends the linked actor with the same reason; a trapping actor gets
 * exit(pid, reason) instead, even for normal ends. Both are refs (refs.c),
 * which is where a death finds them.
 */
#include <stdlib.h>
#include <string.h>

#include "host.h"

tr_msg *tr__down_msg(uint64_t ref, tr_pid pid, const char *reason) {
  tr_msg *m = tr__sys_msg(TR_KIND_DOWN, "down", 0);
  if (m) {
    tr_msg_add_int(m, (int64_t)ref);
    tr_msg_add_pid(m, pid);
    tr_msg_add_cstr(m, reason);
    m->from = pid;
  }
  return m;
}

int tr_monitor(tr_host *h, tr_pid watcher, tr_pid target, uint64_t *ref) {
  tr_actor *w, *t;
  tr__ref *r;
  uint64_t id;
  int rc = tr__loop_check(h);
  if (ref)
    *ref = 0;
  if (rc)
    return rc;
  if (!(w = tr__actor(h, watcher)))
    return TR_ENOPROC;
  t = tr__actor(h, target);
  if (!(r = tr__ref_new(h, TR_REF_MONITOR, w, t)))
    return TR_ENOMEM;
  id = r->id;
  if (!t && tr__remote(h, target)) { /* its host keeps a proxy on it */
    r->peer = target;
    if (!tr__out_ctl(h, TR__KIND_MONITOR, watcher, target, id, NULL)) {
      if (ref)
        *ref = id;
      return TR_OK;
    }
  }
  if (!t) {
    tr_msg *m = tr__down_msg(id, target,
                             tr__wired(h, target) ? "noconnection" : "noproc");
    tr__ref_free(h, r);
    if (!m)
      return TR_ENOMEM;
    tr__deliver(h, w, m);
  }
  if (ref)
    *ref = id;
  return TR_OK;
}

int tr_demonitor(tr_host *h, uint64_t ref) {
  tr__ref *r;
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  r = tr__slots_get(&h->refs, ref);
  if (!r || r->kind != TR_REF_MONITOR)
    return TR_ENOPROC;
  if (tr__remote(h, r->peer))
    tr__out_ctl(h, TR__KIND_DEMONITOR, r->owner, r->peer, r->id, NULL);
  tr__ref_free(h, r);
  return TR_OK;
}

/* The link between a and b, whichever side owns it; NULL when none. */
static tr__ref *find_link(tr_actor *a, tr_pid b) {
  tr__link *l;
  for (l = a->owned.next; l != &a->owned; l = l->next) {
    tr__ref *r = tr__container(l, tr__ref, by_owner);
    if (r->kind == TR_REF_LINK && r->peer == b)
      return r;
  }
  for (l = a->peered.next; l != &a->peered; l = l->next) {
    tr__ref *r = tr__container(l, tr__ref, by_peer);
    if (r->kind == TR_REF_LINK && r->owner == b)
      return r;
  }
  return NULL;
}

/* A link from x to b on another host: each side keeps a ref owned by its
 * own actor; b's host makes its side, or answers "noproc". */
static int link_remote(tr_host *h, tr_actor *x, tr_pid b) {
  tr__ref *r;
  if (find_link(x, b))
    return TR_OK;
  if (!(r = tr__ref_new(h, TR_REF_LINK, x, NULL)))
    return TR_ENOMEM;
  r->peer = b;
  if (tr__out_ctl(h, TR__KIND_LINK, x->pid, b, 0, NULL)) {
    tr__ref_free(h, r);
    tr__exit_signal(h, x, b, tr__wired(h, b) ? "noconnection" : "noproc");
  }
  return TR_OK;
}

int tr_link(tr_host *h, tr_pid a, tr_pid b) {
  tr_actor *x, *y;
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  if (a == b)
    return TR_EINVAL;
  if (tr__remote(h, a)) { /* the local one first */
    tr_pid t = a;
    a = b;
    b = t;
  }
  if (!(x = tr__actor(h, a)))
    return tr__remote(h, a) ? TR_EINVAL : TR_ENOPROC;
  if (tr__remote(h, b))
    return link_remote(h, x, b);
  if (!(y = tr__actor(h, b))) {
    tr__exit_signal(h, x, b, "noproc");
    return TR_OK;
  }
  if (find_link(x, b))
    return TR_OK;
  return tr__ref_new(h, TR_REF_LINK, x, y) ? TR_OK : TR_ENOMEM;
}

int tr_unlink(tr_host *h, tr_pid a, tr_pid b) {
  tr_actor *x;
  tr__ref *r;
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  if (tr__remote(h, a)) {
    tr_pid t = a;
    a = b;
    b = t;
  }
  if (!(x = tr__actor(h, a)))
    return tr__remote(h, a) ? TR_EINVAL : TR_ENOPROC;
  if ((r = find_link(x, b)))
    tr__ref_free(h, r);
  if (tr__remote(h, b))
    tr__out_ctl(h, TR__KIND_UNLINK, a, b, 0, NULL);
  return TR_OK;
}

void tr__exit_signal(tr_host *h, tr_actor *to, tr_pid from,
                     const char *reason) {
  if (to->life != TR__LIVE)
    return;
  if (to->trap_exit) {
    tr_msg *m = tr__sys_msg(TR_KIND_EXIT, "exit", 0);
    if (!m)
      return;
    tr_msg_add_pid(m, from);
    tr_msg_add_cstr(m, reason);
    m->from = from;
    tr__deliver(h, to, m);
  } else if (strcmp(reason, "normal") != 0) {
    tr__actor_end(h, to, reason);
  }
}

/* The remote monitor of `from` with its host's id `ref`, on a. */
static tr__ref *find_rmonitor(tr_actor *a, tr_pid from, uint64_t ref) {
  tr__link *l;
  for (l = a->peered.next; l != &a->peered; l = l->next) {
    tr__ref *r = tr__container(l, tr__ref, by_peer);
    if (r->kind == TR_REF_RMONITOR && r->owner == from && r->remote == ref)
      return r;
  }
  return NULL;
}

void tr__ctl_arrived(tr_host *h, tr_pid to, tr_msg *m) {
  tr_actor *a = tr__actor(h, to);
  tr_pid from = m->from;
  const char *s = NULL;
  char *reason = NULL;
  int64_t ref = 0;
  size_t len = 0;
  tr__ref *r;
  if (m->kind == TR_KIND_DOWN) {
    tr_msg_unpack(m, "I", &ref);
    r = tr__slots_get(&h->refs, (uint64_t)ref);
    if (r && r->kind == TR_REF_MONITOR && r->owner == to) {
      tr__ref_free(h, r);
      tr__deliver_pid(h, to, m);
      return;
    }
    tr_msg_free(m); /* demonitored, or the watcher is gone */
    return;
  }
  if (!tr_msg_unpack(m, "s", &s, &len))
    reason = strndup(s, len);
  switch (m->kind) {
  case TR__KIND_MONITOR:
    if (a && (r = tr__ref_new(h, TR_REF_RMONITOR, NULL, a))) {
      r->owner = from;
      r->remote = m->session;
    } else {
      tr__deliver_pid(h, from, tr__down_msg(m->session, to, "noproc"));
    }
    break;
  case TR__KIND_DEMONITOR:
    if (a && (r = find_rmonitor(a, from, m->session)))
      tr__ref_free(h, r);
    break;
  case TR__KIND_LINK:
    if (a && a->life == TR__LIVE) {
      if (!find_link(a, from) && (r = tr__ref_new(h, TR_REF_LINK, a, NULL)))
        r->peer = from;
    } else {
      tr__out_ctl(h, TR__KIND_EXIT, to, from, 0, "noproc");
    }
    break;
  case TR__KIND_UNLINK:
    if (a && (r = find_link(a, from)))
      tr__ref_free(h, r);
    break;
  case TR__KIND_EXIT:
    if (a && (r = find_link(a, from))) {
      tr__ref_free(h, r);
      tr__exit_signal(h, a, from, reason ? reason : "noproc");
    }
    break;
  case TR__KIND_KILL:
    if (a)
      tr__actor_end(h, a, reason ? reason : "killed");
    break;
  case TR__KIND_SPAWN:
    tr__spawn_arrived(h, m);
    break;
  }
  free(reason);
  tr_msg_free(m);
}
