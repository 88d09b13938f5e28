/*
 * timer.c -- send-after, timeouts and call deadlines on one libuv timer.
 *
 * Every ref with a deadline sits in a binary min-heap ordered by (due, seq),
 * seq keeping equal deadlines first-come; each ref knows its heap index, so
 * cancelling is O(log n) with no search. The host's single uv_timer_t is
 * armed for the heap's top. One libuv timer per call would cost a handle,
 * an allocation and an asynchronous close per request.
 */
#include <stdlib.h>

#include "host.h"

static int before(const tr__ref *a, const tr__ref *b) {
  return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void place(tr_host *h, uint32_t i, tr__ref *r) {
  h->heap[i] = r;
  r->heap_i = i;
}

static void sift_up(tr_host *h, uint32_t i) {
  tr__ref *r = h->heap[i];
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (!before(r, h->heap[parent]))
      break;
    place(h, i, h->heap[parent]);
    i = parent;
  }
  place(h, i, r);
}

static void sift_down(tr_host *h, uint32_t i) {
  tr__ref *r = h->heap[i];
  for (;;) {
    uint32_t c = 2 * i + 1;
    if (c >= h->heap_len)
      break;
    if (c + 1 < h->heap_len && before(h->heap[c + 1], h->heap[c]))
      c++;
    if (!before(h->heap[c], r))
      break;
    place(h, i, h->heap[c]);
    i = c;
  }
  place(h, i, r);
}

void tr__timer_arm(tr_host *h) {
  uint64_t now, due;
  if (h->heap_len == 0 || h->stopped) {
    uv_timer_stop(&h->timer);
    h->armed_due = UINT64_MAX;
    return;
  }
  due = h->heap[0]->due;
  if (due == h->armed_due)
    return;
  now = uv_now(h->loop);
  uv_timer_start(&h->timer, tr__timer_cb, due > now ? due - now : 0, 0);
  h->armed_due = due;
}

/* Takes r out of the heap without re-arming. */
static void unheap(tr_host *h, tr__ref *r) {
  uint32_t i = r->heap_i;
  tr__ref *last = h->heap[--h->heap_len];
  r->heap_i = TR__NOHEAP;
  if (last == r)
    return;
  place(h, i, last);
  sift_down(h, i);
  sift_up(h, last->heap_i);
}

int tr__timer_add(tr_host *h, tr__ref *r, uint32_t ms) {
  if (h->heap_len == h->heap_cap) {
    uint32_t cap = h->heap_cap ? h->heap_cap * 2 : 64;
    tr__ref **v = realloc(h->heap, (size_t)cap * sizeof *v);
    if (!v)
      return TR_ENOMEM;
    h->heap = v;
    h->heap_cap = cap;
  }
  r->due = uv_now(h->loop) + ms;
  r->seq = h->seq++;
  place(h, h->heap_len++, r);
  sift_up(h, r->heap_i);
  if (r->due < h->armed_due)
    tr__timer_arm(h);
  return TR_OK;
}

/* The timer stays armed for what may now be too early: it then wakes once
 * for nothing and re-arms, which is cheaper than stopping and starting it
 * for every call answered before its timeout. */
void tr__timer_remove(tr_host *h, tr__ref *r) { unheap(h, r); }

static void fire(tr_host *h, tr__ref *r) {
  tr_pid to = r->owner;
  tr_msg *m;
  switch (r->kind) {
  case TR_REF_AFTER:
    m = r->msg;
    r->msg = NULL;
    tr__ref_free(h, r);
    tr__deliver_pid(h, to, m);
    break;
  case TR_REF_TIMEOUT:
  case TR_REF_ROOM: /* the wait for room ran out */
    m = tr__sys_msg(TR_KIND_TIMEOUT, "timeout", r->id);
    tr__ref_free(h, r);
    tr__deliver_pid(h, to, m);
    break;
  case TR_REF_CALL:
    tr__call_fail(h, r->id, to, "timeout");
    break;
  default:
    tr__ref_free(h, r);
  }
}

void tr__timer_cb(uv_timer_t *t) {
  tr_host *h = t->data;
  uint64_t now = uv_now(h->loop);
  h->armed_due = UINT64_MAX;
  while (h->heap_len && h->heap[0]->due <= now) {
    tr__ref *r = h->heap[0];
    unheap(h, r);
    fire(h, r);
  }
  tr__timer_arm(h);
}

int tr_after(tr_host *h, tr_pid to, uint32_t ms, tr_msg *m, uint64_t *timer) {
  tr_actor *a;
  tr__ref *r;
  int rc = !m ? TR_EINVAL : tr__loop_check(h);
  if (timer)
    *timer = 0;
  if (!rc)
    rc = tr__msg_check(m);
  if (!rc && h->stopped)
    rc = TR_ESTOPPED;
  if (!rc && !(a = tr__actor(h, to)) && !tr__remote(h, to))
    rc = TR_ENOPROC;
  if (!rc && !(r = tr__ref_new(h, TR_REF_AFTER, a, NULL)))
    rc = TR_ENOMEM;
  if (rc) {
    if (rc == TR_ENOPROC)
      h->stats.dead_letters++;
    tr_msg_free(m);
    return rc;
  }
  r->owner = to; /* of another host: sent there when due */
  tr__msg_envelope(m, TR_KIND_SEND, 0, 0);
  r->msg = m;
  if (tr__timer_add(h, r, ms)) {
    tr__ref_free(h, r); /* frees m too */
    return TR_ENOMEM;
  }
  if (timer)
    *timer = r->id;
  return TR_OK;
}

int tr_timeout(tr_host *h, tr_pid to, uint32_t ms, uint64_t *timer) {
  tr_actor *a;
  tr__ref *r;
  int rc = tr__loop_check(h);
  if (timer)
    *timer = 0;
  if (rc)
    return rc;
  if (h->stopped)
    return TR_ESTOPPED;
  if (!(a = tr__actor(h, to)))
    return TR_ENOPROC;
  if (!(r = tr__ref_new(h, TR_REF_TIMEOUT, a, NULL)))
    return TR_ENOMEM;
  if (tr__timer_add(h, r, ms)) {
    tr__ref_free(h, r);
    return TR_ENOMEM;
  }
  if (timer)
    *timer = r->id;
  return TR_OK;
}

int tr_cancel(tr_host *h, uint64_t timer) {
  tr__ref *r;
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  r = tr__slots_get(&h->refs, timer);
  if (!r || (r->kind != TR_REF_AFTER && r->kind != TR_REF_TIMEOUT))
    return TR_ENOPROC;
  tr__ref_free(h, r);
  return TR_OK;
}
