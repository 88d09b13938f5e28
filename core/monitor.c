/*
 * monitor.c -- monitors and links: how one actor learns of another's death.
 *
 * A monitor is one-way and always a message: down(ref, pid, reason). A link
 * is two-way and, unless the survivor traps exits, contagious: an abnormal
 * end ends the linked actor with the same reason; a trapping actor gets
 * exit(pid, reason) instead, even for normal ends. Both are refs (refs.c),
 * which is where a death finds them.
 */
#include <string.h>

#include "host.h"

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
  if (!t) {
    tr_msg *m = tr__sys_msg(TR_KIND_DOWN, "down", 0);
    tr__ref_free(h, r);
    if (!m)
      return TR_ENOMEM;
    tr_msg_add_int(m, (int64_t)id);
    tr_msg_add_pid(m, target);
    tr_msg_add_cstr(m, "noproc");
    m->from = target;
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

int tr_link(tr_host *h, tr_pid a, tr_pid b) {
  tr_actor *x, *y;
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  if (a == b)
    return TR_EINVAL;
  if (!(x = tr__actor(h, a)))
    return TR_ENOPROC;
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
  if (!(x = tr__actor(h, a)))
    return TR_ENOPROC;
  if ((r = find_link(x, b)))
    tr__ref_free(h, r);
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
