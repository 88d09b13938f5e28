/*
 * sched.c -- the scheduler: a ready queue of actors, drained in turns.
 *
 * An actor is in the ready queue while it has something to do (mail it may
 * take, or a TR_YIELD to resume). A turn takes actors from the front, lets
 * each handle at most actor_budget messages and puts it back at the end if
 * it still has work, until turn_budget messages are used up or TURN_MS have
 * passed: one busy actor cannot starve the others, and the loop gets back
 * to timers and I/O soon (a Lua actor preempted again and again uses one
 * message of the budget a slice: by count alone, a turn could hold timers
 * back for hundreds of ms). The idle handle is active exactly while the
 * queue is not empty, which keeps the loop from blocking; once it stops,
 * the loop sleeps in the poller and an idle host uses no CPU.
 *
 * Inside tr_host_step the turn also ends at the step's deadline (step_end,
 * on the high-resolution clock), read after every message: a frame budget
 * is a few ms, and one actor's 64 messages or a Lua actor's slices could
 * otherwise overrun it. A preempted Lua actor resumes at the next step. An
 * actor cut short in the middle of its share goes back to the front, to
 * handle the rest of it first at the next step, so that where a step ends
 * does not reorder the actors' turns.
 */
#include "host.h"

#define TURN_MS 10

/* The idle handle is active whenever the queue is not empty (only a turn
 * that empties it, or the shutdown that stops the host, stops it): only
 * the first actor queued needs to start it. */
static void push(tr_host *h, tr_actor *a) {
  if (tr__list_empty(&h->ready) && !h->stopped)
    uv_idle_start(&h->idle, tr__idle_cb);
  tr__list_push(&h->ready, &a->ready);
  h->stats.ready++;
}

/* An actor that had nothing to do has something now: it is ready, and its
 * quiet time (tr_actor_quiet_ms) counts from here, not from its last
 * message. */
void tr__sched_wake(tr_host *h, tr_actor *a) {
  if (a->running || tr__linked(&a->ready) || !tr__runnable(a))
    return;
  a->beat = uv_now(h->loop);
  push(h, a);
}

/* Inside tr_host_step: its deadline has passed. */
static int step_over(tr_host *h) {
  return h->step_end && uv_hrtime() >= h->step_end;
}

/* Hands a its next message as the one being handled; 0 when none may be
 * taken (or a is awaiting a session whose answer has not come). */
static inline int take(tr_host *h, tr_actor *a) {
  tr_msg *m = tr__mailbox_take(&a->mb, a->await);
  if (!m)
    return 0;
  a->await = 0;
  a->beat = uv_now(h->loop);
  a->handled++;
  h->stats.delivered++;
  h->current_msg = m;
  h->current_user = tr__is_user(m);
  h->current_room = m->kind == TR_KIND_ROOM ? m->session : 0;
  return 1;
}

/* a is done with the message it was handling (or with a resume after a
 * TR_YIELD): one of its share used. Room promised to it and not taken
 * goes to the next waiter; a slot freed here wakes one waiter -- only now,
 * so a slot the actor filled again (keeping m aside, tr_mailbox_hold)
 * wakes none. */
static inline void done(tr_host *h, tr_actor *a) {
  tr__pool_put(h, h->current_msg); /* NULL if tr_forward or tr_keep took it */
  h->current_msg = NULL;
  if (h->current_room)
    tr__refs_room_handled(h, a, h->current_room);
  if (h->current_user && !tr__list_empty(&a->mb.waiters))
    tr__refs_room(h, a);
  h->current_room = 0;
  h->current_user = 0;
  h->share--;
}

/* Lets a handle up to n messages; returns how many turns of handle ran
 * (tr_mailbox_next takes some of them inside one), and sets *cut when the
 * step's deadline ended them. */
static uint32_t dispatch(tr_host *h, tr_actor *a, uint32_t n, int *cut) {
  h->current = a;
  h->share = n;
  a->running = 1;
  while (h->share && a->life == TR__LIVE) {
    int rc;
    if (a->yielded)
      a->yielded = 0;
    else if (!take(h, a))
      break;
    rc = a->b->handle(a, a->state, h->current_msg);
    done(h, a);
    if (rc == TR_YIELD) {
      a->yielded = 1;
      break;
    }
    if (rc == TR_STOP && a->life == TR__LIVE)
      tr_exit(a, NULL);
    if ((*cut = step_over(h)) != 0)
      break;
  }
  a->running = 0;
  h->current = NULL;
  return n - h->share;
}

int tr_mailbox_next(tr_actor *self, tr_msg **out) {
  tr_host *h = self ? self->host : NULL;
  *out = NULL;
  if (!h || h->current != self || !self->running || self->life != TR__LIVE ||
      h->share < 2 || !tr__has_mail(self))
    return 0;
  if (step_over(h))
    return 0;
  done(h, self);
  take(h, self);
  *out = h->current_msg;
  return 1;
}

/* The loop's clock is read afresh within a turn -- after a dispatch that
 * was long work (a Lua actor preempted), and every 16 dispatches anyway --
 * so a message taken late in a long turn does not count as taken when the
 * turn began (or a busy actor would look quiet to its supervisor,
 * tr_actor_quiet_ms, and be restarted), and the turn ends after TURN_MS.
 * Not at every dispatch: a clock read costs about what a message does. */
void tr__sched_turn(tr_host *h, uint32_t budget) {
  tr__link *l;
  uint64_t start;
  uint32_t since = 0;     /* dispatches since the clock was read */
  uint64_t t0 = 0;        /* when the next dispatch began, for run_ns */
  int timing = h->timing; /* as the turn began, when t0 was read */
  uv_update_time(h->loop);
  start = uv_now(h->loop);
  tr__rate_update(h, start);
  if (timing)
    t0 = uv_hrtime();
  while (budget && (l = tr__list_first(&h->ready))) {
    tr_actor *a = tr__container(l, tr_actor, ready);
    uint32_t n = h->cfg.actor_budget < budget ? h->cfg.actor_budget : budget;
    uint32_t used;
    int preempted, cut = 0;
    if (a->pid == h->resume && h->resume_left < n)
      n = h->resume_left; /* the rest of the share a step cut short */
    h->resume = 0;
    tr__list_remove(l);
    h->stats.ready--;
    used = dispatch(h, a, n, &cut);
    if (timing) { /* a clock read a dispatch: its end starts the next */
      uint64_t t1 = uv_hrtime();
      a->run_ns += t1 - t0;
      t0 = t1;
    }
    budget -= used ? used : 1;
    if (h->ndirty) /* another host may wait for what a sent */
      tr__out_flush_waited(h);
    preempted = a->yielded;
    if (a->life == TR__EXITING) {
      tr__actor_end(h, a, NULL); /* frees a */
    } else if (cut && !preempted && used < n && tr__runnable(a)) {
      tr__list_push(h->ready.next, &a->ready); /* first at the next step */
      h->stats.ready++;
      h->resume = a->pid;
      h->resume_left = n - used;
    } else if (tr__runnable(a)) {
      push(h, a); /* still busy: its quiet time goes on */
    }
    if (cut || step_over(h))
      break;
    if (preempted || ++since == 16) {
      since = 0;
      uv_update_time(h->loop);
      if (uv_now(h->loop) - start >= TURN_MS)
        break;
    }
  }
  if (tr__list_empty(&h->ready))
    uv_idle_stop(&h->idle);
}

void tr__rate_update(tr_host *h, uint64_t now_ms) {
  uint64_t span = now_ms - h->rate_at;
  if (span < 1000)
    return;
  h->rate_last = (uint32_t)((h->stats.delivered - h->rate_base) * 1000 / span);
  h->rate_at = now_ms;
  h->rate_base = h->stats.delivered;
}
