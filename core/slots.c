/*
 * slots.c -- generational handle tables (see slots.h).
 *
 * Slots live in one growing array; free ones form a FIFO queue threaded
 * through next_free, so put and take are O(1) and nothing is scanned.
 */
#include "slots.h"

#include <stdlib.h>

#define NONE UINT32_MAX

void tr__slots_init(tr__slots *s) {
  s->v = NULL;
  s->len = s->cap = s->used = s->nfree = 0;
  s->free_head = s->free_tail = NONE;
  s->limit = 0;
  s->gen0 = 1;
}

void tr__slots_init_gen(tr__slots *s, uint32_t gen) {
  tr__slots_init(s);
  tr__slots_set_gen0(s, gen);
}

void tr__slots_set_gen0(tr__slots *s, uint32_t gen) {
  gen &= TR__SLOTS_GEN_MASK;
  s->gen0 = gen ? gen : 1;
}

void tr__slots_free(tr__slots *s) {
  uint32_t gen0 = s->gen0;
  free(s->v);
  tr__slots_init(s);
  s->gen0 = gen0;
}

/* A new slot at the end; NONE when the table may not grow. */
static uint32_t grow(tr__slots *s) {
  uint32_t i;
  if ((s->limit && s->len >= s->limit) || s->len >= TR__SLOTS_MAX)
    return NONE;
  if (s->len == s->cap) {
    uint32_t cap = s->cap ? s->cap * 2 : 64;
    tr__slot *v;
    if (cap > TR__SLOTS_MAX)
      cap = TR__SLOTS_MAX;
    v = realloc(s->v, (size_t)cap * sizeof *v);
    if (!v)
      return NONE;
    s->v = v;
    s->cap = cap;
  }
  i = s->len++;
  s->v[i].gen = s->gen0;
  return i;
}

uint64_t tr__slots_put(tr__slots *s, void *ptr) {
  uint32_t i = NONE;
  /* A freed slot rests until enough others are free: its stale handles
   * then take 2^24 reuses to name a tenant again. */
  if (s->nfree < TR__SLOTS_REST)
    i = grow(s);
  if (i == NONE) {
    if (!s->nfree)
      return 0;
    i = s->free_head;
    if ((s->free_head = s->v[i].next_free) == NONE)
      s->free_tail = NONE;
    s->nfree--;
  }
  s->v[i].ptr = ptr;
  s->v[i].next_free = NONE;
  s->used++;
  return ((uint64_t)s->v[i].gen << TR__SLOTS_GEN_SHIFT) | (uint64_t)(i + 1u);
}

void *tr__slots_take(tr__slots *s, uint64_t id) {
  void *ptr = tr__slots_get(s, id);
  uint32_t i = (uint32_t)(id & TR__SLOTS_MAX) - 1u;
  if (!ptr)
    return NULL;
  s->v[i].ptr = NULL;
  /* Generation 0 never names a live slot: skip it on wrap-around. */
  s->v[i].gen = (s->v[i].gen + 1u) & TR__SLOTS_GEN_MASK;
  if (!s->v[i].gen)
    s->v[i].gen = 1;
  s->v[i].next_free = NONE;
  if (s->free_tail != NONE)
    s->v[s->free_tail].next_free = i;
  else
    s->free_head = i;
  s->free_tail = i;
  s->nfree++;
  s->used--;
  return ptr;
}
