/*
 * host.c -- a host's life: making it, running it, stepping it, stopping it.
 *
 * A host drives its actors from three libuv handles on its loop: an idle
 * handle that runs a scheduler turn while actors are ready, a timer for the
 * earliest deadline, and an async handle that other threads poke when they
 * have put mail in the inbox or asked the host to stop. tr_host_run runs the
 * loop until stopped; tr_host_step runs it once without blocking, for a
 * program that owns its frame loop.
 */
#include <stdlib.h>
#include <string.h>

#include "host.h"

void tr__idle_cb(uv_idle_t *idle) {
  tr_host *h = idle->data;
  tr__sched_turn(h, h->cfg.turn_budget);
}

static void async_cb(uv_async_t *async) {
  tr_host *h = async->data;
  tr__inbox_drain(h);
  if (h->node)
    tr__lanes_drain(h);
  if (atomic_load(&h->stop_requested) && !h->stopped) {
    if (h->in_run)
      uv_stop(h->loop); /* tr_host_run shuts down once uv_run returns */
    else
      tr__shutdown(h);
  }
}

static void defaults(tr_host_config *c) {
  if (!c->mailbox_capacity)
    c->mailbox_capacity = 1024;
  if (!c->actor_budget)
    c->actor_budget = 64;
  if (!c->turn_budget)
    c->turn_budget = 4096;
  if (!c->log_level)
    c->log_level = TR_LOG_INFO;
  if (!c->inbox_capacity)
    c->inbox_capacity = 65536;
  if (!c->step_budget_us)
    c->step_budget_us = 4000;
}

/* Batches for other hosts go before the loop waits: at the end of every
 * turn, and after timers and I/O sent anything. */
static void prepare_cb(uv_prepare_t *p) {
  tr_host *h = p->data;
  if (h->ndirty)
    tr__out_flush(h);
  /* About to sleep (nothing ready, no timer due): look at the lanes. */
  if (h->in_run && uv_backend_timeout(h->loop) != 0) {
    tr__node_spin(h);
    if (h->ndirty) /* what taking the lanes sent (an answer for the dead) */
      tr__out_flush(h);
  }
}

tr_host *tr__host_new(const tr_host_config *cfg, tr_node *n, uint32_t index,
                      tr__names *names, uint32_t hosts) {
  tr_host *h = calloc(1, sizeof *h);
  uint32_t i;
  if (!h)
    return NULL;
  if (n && (!(h->out = calloc(hosts, sizeof *h->out)) ||
            !(h->dirty = calloc(hosts, sizeof *h->dirty)))) {
    free(h->out);
    free(h);
    return NULL;
  }
  for (i = 0; h->out && i < hosts; i++)
    tr__list_init(&h->out[i].waiters);
  h->node = n;
  h->index = index;
  h->pid_base = (uint64_t)index << TR_PID_HOST_SHIFT;
  if (names) {
    h->names = names;
  } else {
    h->names = &h->own_names;
    tr__names_init(h->names, 0);
  }
  if (cfg)
    h->cfg = *cfg;
  defaults(&h->cfg);
  if (h->cfg.loop) {
    h->loop = h->cfg.loop;
  } else {
    if (uv_loop_init(&h->own_loop)) {
      if (!names)
        tr__names_free(h->names);
      free(h->out);
      free(h->dirty);
      free(h);
      return NULL;
    }
    h->loop = &h->own_loop;
    h->owns_loop = 1;
  }
  h->thread = uv_thread_self();
  h->rate_at = uv_now(h->loop); /* the first second begins now */
  uv_idle_init(h->loop, &h->idle);
  uv_timer_init(h->loop, &h->timer);
  uv_async_init(h->loop, &h->async, async_cb);
  uv_prepare_init(h->loop, &h->prepare);
  h->idle.data = h->timer.data = h->async.data = h->prepare.data = h;
  if (n) { /* a lone host has nothing to flush */
    uv_prepare_start(&h->prepare, prepare_cb);
    uv_unref((uv_handle_t *)&h->prepare);
  }
  h->armed_due = UINT64_MAX;
  uv_mutex_init(&h->inbox_lock);
  atomic_init(&h->stop_requested, 0);
  atomic_init(&h->log_level, h->cfg.log_level);
  tr__slots_init(&h->actors);
  tr__slots_init(&h->refs);
  tr__list_init(&h->started);
  tr__list_init(&h->ready);
  tr__list_init(&h->reap);
  return h;
}

tr_host *tr_host_new(const tr_host_config *cfg) {
  return tr__host_new(cfg, NULL, 0, NULL, 1);
}

int tr_host_run(tr_host *h) {
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  if (h->current)
    return TR_EINVAL; /* uv_run may not run inside one of its callbacks */
  if (h->stopped)
    return TR_ESTOPPED;
  h->in_run = 1;
  while (!atomic_load(&h->stop_requested))
    uv_run(h->loop, UV_RUN_DEFAULT);
  h->in_run = 0;
  tr__shutdown(h);
  return TR_OK;
}

int tr_host_step(tr_host *h) {
  return tr_host_step_for(h, h ? h->cfg.step_budget_us : 0);
}

int tr_host_step_for(tr_host *h, uint32_t budget_us) {
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  if (!budget_us)
    return TR_EINVAL;
  if (h->current)
    return TR_EINVAL; /* as in tr_host_run */
  if (h->stopped)
    return TR_ESTOPPED;
  h->step_end = uv_hrtime() + (uint64_t)budget_us * 1000;
  uv_run(h->loop, UV_RUN_NOWAIT);
  h->step_end = 0;
  if (atomic_load(&h->stop_requested) && !h->stopped)
    tr__shutdown(h);
  if (h->stopped)
    return TR_ESTOPPED;
  return !tr__list_empty(&h->ready) || h->heap_len ? 1 : 0;
}

uint64_t tr_host_step_end(const tr_host *h) {
  return tr__loop_check(h) ? 0 : h->step_end;
}

void tr_host_stop(tr_host *h) {
  if (!h)
    return;
  atomic_store(&h->stop_requested, 1);
  uv_async_send(&h->async);
}

static void on_close(uv_handle_t *handle) {
  tr_host *h = handle->data;
  h->closing--;
}

void tr_host_free(tr_host *h) {
  if (!h)
    return;
  if (!h->stopped)
    tr__shutdown(h);
  if (h->node)
    tr__node_leave(h); /* no host sends here from now on */
  h->closing = 4;
  uv_close((uv_handle_t *)&h->prepare, on_close);
  uv_close((uv_handle_t *)&h->idle, on_close);
  uv_close((uv_handle_t *)&h->timer, on_close);
  uv_close((uv_handle_t *)&h->async, on_close);
  while (h->closing)
    uv_run(h->loop, UV_RUN_NOWAIT);
  if (h->owns_loop)
    uv_loop_close(&h->own_loop);
  tr__refs_clear(h);
  free(h->heap);
  tr__slots_free(&h->actors);
  tr__slots_free(&h->refs);
  if (h->names == &h->own_names)
    tr__names_free(h->names);
  tr__pool_free(h);
  uv_mutex_destroy(&h->inbox_lock);
  free(h->out);
  free(h->dirty);
  free(h);
}

struct uv_loop_s *tr_host_loop(tr_host *h) {
  return h ? h->loop : NULL;
}

void tr_host_get_stats(tr_host *h, tr_host_stats *out) {
  uint64_t now;
  if (!out)
    return;
  if (tr__loop_check(h)) {
    memset(out, 0, sizeof *out);
    return;
  }
  *out = h->stats;
  out->timers = h->heap_len;
  now = uv_now(h->loop);
  /* Quiet since the current second began: nothing rolled it over. */
  if (now - h->rate_at >= 1000)
    out->per_second = (uint32_t)((h->stats.delivered - h->rate_base) * 1000 /
                                 (now - h->rate_at));
  else
    out->per_second = h->rate_last;
}

void tr_host_set_data(tr_host *h, void *data) { h->data = data; }
void *tr_host_data(tr_host *h) { return h->data; }
