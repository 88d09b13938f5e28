/*
 * slots.h -- a table of generational handles.
 *
 * A handle is 64 bits: the slot's generation in the high half, its index
 * plus one in the low half (so 0 is never a handle). Taking a slot bumps its
 * generation, so a stale handle finds nothing instead of the slot's next
 * tenant. Pids, call sessions, timer ids and monitor refs are such handles.
 */
#ifndef TR_SLOTS_H
#define TR_SLOTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct tr__slot {
  void *ptr;          /* the tenant, NULL when free */
  uint32_t gen;       /* bumped each time the slot is taken back */
  uint32_t next_free; /* free list link, as an index */
} tr__slot;

typedef struct tr__slots {
  tr__slot *v;
  uint32_t len, cap;
  uint32_t free_head; /* UINT32_MAX when no slot is free */
  uint32_t used;
  uint32_t limit; /* at most this many slots; 0: no limit of its own */
} tr__slots;

void tr__slots_init(tr__slots *s);
void tr__slots_free(tr__slots *s);
/* Puts ptr in a slot; returns its handle, 0 when out of memory. */
uint64_t tr__slots_put(tr__slots *s, void *ptr);
/* Takes the tenant out; returns it, or NULL for a stale handle. */
void *tr__slots_take(tr__slots *s, uint64_t id);

static inline void *tr__slots_get(const tr__slots *s, uint64_t id) {
  uint32_t i = (uint32_t)id - 1u; /* index 0 wraps to UINT32_MAX: too big */
  if (i >= s->len || s->v[i].gen != (uint32_t)(id >> 32))
    return NULL;
  return s->v[i].ptr;
}

#endif
