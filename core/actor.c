/*
 * actor.c -- an actor's life: spawn, exit, kill, and the end of it all.
 *
 * An actor is one allocation (the struct, then its private state) sitting in
 * a slot of the host's actor table; its pid is the slot's handle. Ending an
 * actor is never done in the middle of its own callback: tr_exit marks it
 * and the scheduler ends it when the callback returns. Deaths are worked off
 * through the host's reap list, one at a time, so a chain of links that
 * ends a thousand actors does not recurse a thousand deep.
 */
#include <stdlib.h>
#include <string.h>

#include "host.h"

static char *dup_reason(const char *r) { return strdup(r ? r : "normal"); }

/* What runs on h now, set aside while a's init or terminate runs inside
 * another actor's callback: a handles no message there, and has no share
 * of a turn (no tr_mailbox_next outside handle). */
typedef struct outer {
  tr_actor *actor;
  tr_msg *msg;
  uint32_t share;
} outer;

static void callback_enter(tr_host *h, tr_actor *a, outer *saved) {
  saved->actor = h->current;
  saved->msg = h->current_msg;
  saved->share = h->share;
  h->current = a;
  h->current_msg = NULL;
  h->share = 0;
}

static void callback_leave(tr_host *h, const outer *saved) {
  h->current = saved->actor;
  h->current_msg = saved->msg;
  h->share = saved->share;
}

int tr_spawn(tr_host *h, const tr_behaviour *b, tr_msg *args,
             const tr_spawn_opts *opts, tr_pid *out) {
  tr_spawn_opts none = {0};
  tr_actor *a;
  outer saved;
  int rc = TR_OK;

  if (out)
    *out = 0;
  if (!opts)
    opts = &none;
  if (!b || !b->handle)
    rc = TR_EINVAL;
  else if ((rc = tr__loop_check(h)))
    ;
  else if (h->stopped || h->shutting_down)
    rc = TR_ESTOPPED;
  else if (opts->name && tr__name_check(opts->name))
    rc = TR_EINVAL; /* refused, rather than started without its name */
  else if (opts->name && tr__name_lookup(h, opts->name))
    rc = TR_EEXIST;
  if (rc) {
    tr_msg_free(args);
    return rc;
  }
  a = calloc(1, sizeof *a + b->state_size);
  if (!a || !(a->pid = tr__slots_put(&h->actors, a))) {
    free(a);
    tr_msg_free(args);
    return TR_ENOMEM;
  }
  a->pid ^= h->pid_base;
  a->host = h;
  a->b = b;
  a->ctx = opts->ctx;
  a->beat = uv_now(h->loop);
  a->trap_exit = opts->trap_exit ? 1 : 0;
  tr__list_init(&a->ready);
  tr__list_init(&a->owned);
  tr__list_init(&a->peered);
  tr__mailbox_init(&a->mb,
                   opts->capacity ? opts->capacity : h->cfg.mailbox_capacity);
  tr__list_push(&h->started, &a->started);
  h->stats.actors++;

  /* Running from here to the end of init: a link to a dead actor ends the
   * new one ("noproc") only once init is over, not under our feet. */
  a->running = 1;
  if (opts->name)
    tr_register(h, opts->name, a->pid);
  if (opts->link)
    tr_link(h, a->pid, opts->link);
  if (b->init) {
    callback_enter(h, a, &saved);
    rc = b->init(a, a->state, args);
    callback_leave(h, &saved);
  }
  a->running = 0;
  tr_msg_free(args);
  if (rc) {
    /* Init cleaned up after itself: end the actor without terminate. */
    a->no_terminate = 1;
    tr__actor_end(h, a, "init failed");
    return TR_EINIT;
  }
  if (out)
    *out = a->pid;
  if (a->life == TR__EXITING)
    tr__actor_end(h, a, NULL);
  else
    tr__sched_wake(h, a);
  return TR_OK;
}

tr_pid tr_self(const tr_actor *self) { return self ? self->pid : 0; }
tr_host *tr_actor_host(const tr_actor *self) { return self->host; }
void *tr_actor_state(const tr_actor *self) { return (void *)self->state; }
void *tr_actor_ctx(const tr_actor *self) { return self ? self->ctx : NULL; }

void tr_exit(tr_actor *self, const char *reason) {
  if (!self || self->life != TR__LIVE)
    return;
  self->reason = dup_reason(reason);
  if (self->running)
    self->life = TR__EXITING;
  else
    tr__actor_end(self->host, self, NULL);
}

int tr_kill(tr_host *h, tr_pid pid, const char *reason) {
  tr_actor *a;
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  a = tr__actor(h, pid);
  if (!a && tr__remote(h, pid))
    return tr__out_ctl(h, TR__KIND_KILL, 0, pid, 0, reason ? reason : "killed");
  if (!a)
    return TR_ENOPROC;
  tr__actor_end(h, a, reason ? reason : "killed");
  return TR_OK;
}

int tr_alive(tr_host *h, tr_pid pid) {
  if (tr__loop_check(h))
    return 0;
  return tr__actor(h, pid) || (tr__remote(h, pid) && tr__out_room(h, pid) >= 0);
}

void tr_trap_exit(tr_actor *self, int on) {
  if (self)
    self->trap_exit = on ? 1 : 0;
}

void tr_wake(tr_actor *self) {
  if (!self || self->life != TR__LIVE)
    return;
  self->yielded = 1;
  tr__sched_wake(self->host, self);
}

void tr_await(tr_actor *self, uint64_t session) {
  if (!self || self->life != TR__LIVE)
    return;
  self->await = session;
  tr__mailbox_await(&self->mb, session);
  tr__sched_wake(self->host, self);
}

/* Ends someone asked for (a kill, a supervisor's restart) are no news;
 * crashes are. */
int tr_reason_deliberate(const char *reason) {
  return reason && (!strcmp(reason, "killed") || !strcmp(reason, "reset") ||
                    !strcmp(reason, "restart"));
}

/* Hands a's queued sends and calls to its heir, ahead of the heir's mail;
 * the calls' refs move with them, so they wait on the heir now. */
static void bequeath(tr_host *h, tr_actor *a) {
  tr_actor *heir = a->heir ? tr__actor(h, a->heir) : NULL;
  tr_msg *head = NULL, *tail = NULL, *m, *keep = NULL, *keep_tail = NULL;
  uint32_t user = 0;
  if (!heir || h->shutting_down)
    return;
  while ((m = tr__mailbox_take(&a->mb, 0))) {
    if (!tr__is_user(m)) { /* answers meant for a alone stay to be freed */
      if (keep_tail)
        keep_tail->next = m;
      else
        keep = m;
      keep_tail = m;
      continue;
    }
    tr__call_waits_on(h, m, heir->pid);
    m->inherited = 1;
    if (tail)
      tail->next = m;
    else
      head = m;
    tail = m;
    user++;
  }
  tr__mailbox_prepend(&heir->mb, head, tail, user);
  tr__unpark_bequeath(h, a, heir); /* newer than its mailbox, as it came */
  tr__sched_wake(h, heir);
  while (keep) {
    m = keep->next;
    tr_msg_free(keep);
    keep = m;
  }
}

/* Ends one actor for good: terminate, then out of the table, then tell
 * whoever watched it. Mail it never handled is counted as dead letters. */
static void reap_one(tr_host *h, tr_actor *a) {
  tr_msg *m;
  if (a->b->terminate && !a->no_terminate) {
    outer saved;
    callback_enter(h, a, &saved);
    a->running = 1;
    a->b->terminate(a, a->state, a->reason);
    a->running = 0;
    callback_leave(h, &saved);
  }
  if (!h->shutting_down && strcmp(a->reason, "normal") != 0 &&
      strcmp(a->reason, "shutdown") != 0) {
    char pid[48];
    tr_pid_format(a->pid, pid, sizeof pid);
    tr_host_log(h, tr_reason_deliberate(a->reason) ? TR_LOG_DEBUG : TR_LOG_WARN,
                "actor %s %s ended: %s", a->b->name ? a->b->name : "?", pid,
                a->reason);
  }
  a->life = TR__DEAD;
  tr__slots_take(&h->actors, a->pid ^ h->pid_base);
  tr__list_remove(&a->started);
  h->stats.actors--;
  tr__name_release(h, a);
  bequeath(h, a);
  while ((m = tr__mailbox_take(&a->mb, 0))) {
    if (tr__is_user(m))
      h->stats.dead_letters++;
    tr_msg_free(m);
  }
  tr__refs_on_death(h, a);
  tr__actor_free(h, a);
}

void tr__actor_end(tr_host *h, tr_actor *a, const char *reason) {
  tr__link *l;
  if (a->life >= TR__REAPING)
    return;
  if (!a->reason)
    a->reason = dup_reason(reason);
  if (a->running) {
    a->life = TR__EXITING;
    return;
  }
  if (tr__linked(&a->ready)) {
    tr__list_remove(&a->ready);
    h->stats.ready--;
  }
  a->life = TR__REAPING;
  tr__list_push(&h->reap, &a->ready);
  if (h->reaping)
    return;
  h->reaping = 1;
  while ((l = tr__list_first(&h->reap))) {
    tr__list_remove(l);
    reap_one(h, tr__container(l, tr_actor, ready));
  }
  h->reaping = 0;
}

void tr__actor_free(tr_host *h, tr_actor *a) {
  (void)h;
  free(a->reason);
  free(a);
}

void tr__shutdown(tr_host *h) {
  tr__link *l;
  tr_msg *m;
  h->shutting_down = 1;
  /* Newest first: whoever started later may depend on who came before. */
  while ((l = h->started.prev) != &h->started)
    tr__actor_end(h, tr__container(l, tr_actor, started), "shutdown");
  uv_idle_stop(&h->idle);
  uv_timer_stop(&h->timer);
  /* Nothing comes through the async any more: let a borrowed loop's own
   * uv_run return instead of waiting on it forever. */
  uv_unref((uv_handle_t *)&h->async);
  if (h->ndirty) /* what the ends said to other hosts */
    tr__out_flush(h);
  m = tr__inbox_take(h, 1);
  while (m) {
    tr_msg *next = m->next;
    h->stats.dead_letters++;
    tr_msg_free(m);
    m = next;
  }
}

int tr_mailbox_set_heir(tr_host *h, tr_pid pid, tr_pid heir) {
  tr_actor *a;
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  if (!(a = tr__actor(h, pid)) || (heir && !tr__actor(h, heir)))
    return TR_ENOPROC;
  if (heir == pid)
    return TR_EINVAL;
  a->heir = heir;
  return TR_OK;
}

void tr_heartbeat(tr_actor *self) {
  if (!self)
    return;
  /* Called in the middle of long work: the loop's clock is behind. */
  uv_update_time(self->host->loop);
  self->beat = uv_now(self->host->loop);
}

int64_t tr_actor_quiet_ms(tr_host *h, tr_pid pid) {
  tr_actor *a;
  uint64_t now;
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  if (!(a = tr__actor(h, pid)))
    return TR_ENOPROC;
  if (!a->running && !tr__runnable(a))
    return 0; /* waiting, with nothing to do: healthy however long */
  now = uv_now(h->loop);
  return now > a->beat ? (int64_t)(now - a->beat) : 0;
}

int tr_mailbox_count(tr_host *h, tr_pid pid) {
  tr_actor *a;
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  a = tr__actor(h, pid);
  return a ? (int)a->mb.user : TR_ENOPROC;
}
