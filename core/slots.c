/*
 * slots.c -- generational handle tables (see slots.h).
 *
 * Slots live in one growing array; free ones form a list threaded through
 * next_free, so put and take are O(1) and nothing is scanned.
 */
#include "slots.h"

#include <stdlib.h>

#define NONE UINT32_MAX

void tr__slots_init(tr__slots *s) {
  s->v = NULL;
  s->len = s->cap = s->used = 0;
  s->free_head = NONE;
  s->limit = 0;
}

void tr__slots_free(tr__slots *s) {
  free(s->v);
  tr__slots_init(s);
}

uint64_t tr__slots_put(tr__slots *s, void *ptr) {
  uint32_t i;
  if (s->free_head != NONE) {
    i = s->free_head;
    s->free_head = s->v[i].next_free;
  } else {
    if (s->limit && s->len >= s->limit)
      return 0;
    if (s->len == s->cap) {
      uint32_t cap = s->cap ? s->cap * 2 : 64;
      tr__slot *v;
      if (cap <= s->cap || cap >= NONE)
        return 0;
      v = realloc(s->v, (size_t)cap * sizeof *v);
      if (!v)
        return 0;
      s->v = v;
      s->cap = cap;
    }
    i = s->len++;
    s->v[i].gen = 1;
  }
  s->v[i].ptr = ptr;
  s->v[i].next_free = NONE;
  s->used++;
  return ((uint64_t)s->v[i].gen << 32) | (uint64_t)(i + 1u);
}

void *tr__slots_take(tr__slots *s, uint64_t id) {
  void *ptr = tr__slots_get(s, id);
  uint32_t i = (uint32_t)id - 1u;
  if (!ptr)
    return NULL;
  s->v[i].ptr = NULL;
  /* Generation 0 never names a live slot: skip it on wrap-around. */
  if (++s->v[i].gen == 0)
    s->v[i].gen = 1;
  s->v[i].next_free = s->free_head;
  s->free_head = i;
  s->used--;
  return ptr;
}
