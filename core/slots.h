/*
 * slots.h -- a table of generational handles.
 *
 * A handle is 64 bits: the slot's generation (24 bits) in bits 40-63, its
 * index plus one in bits 0-23 (so 0 is never a handle), bits 24-39 zero:
 * a pid puts its node and host there (troupe.h). Taking a slot bumps its
 * generation, so a stale handle finds nothing instead of the slot's next
 * tenant. Freed slots wait in a FIFO queue and are reused only while at
 * least TR__SLOTS_REST are free (the table grows otherwise), so one slot's
 * generation wraps only after 2^24 reuses, each past that many other
 * frees. Pids, call sessions, timer ids and monitor refs are such handles.
 */
#ifndef TR_SLOTS_H
#define TR_SLOTS_H

#include <stddef.h>
#include <stdint.h>

#define TR__SLOTS_GEN_SHIFT 40
#define TR__SLOTS_GEN_MASK 0xffffffu
#define TR__SLOTS_MAX 0xffffffu /* index + 1 fits 24 bits */
#define TR__SLOTS_REST 4096u    /* free slots kept resting before reuse */

typedef struct tr__slot {
  void *ptr;          /* the tenant, NULL when free */
  uint32_t gen;       /* bumped each time the slot is taken back */
  uint32_t next_free; /* free queue link, as an index */
} tr__slot;

typedef struct tr__slots {
  tr__slot *v;
  uint32_t len, cap;
  uint32_t free_head, free_tail; /* UINT32_MAX when no slot is free */
  uint32_t nfree;
  uint32_t used;
  uint32_t limit; /* at most this many slots; 0: no limit of its own */
  uint32_t gen0;  /* the generation a new slot starts at */
} tr__slots;

void tr__slots_init(tr__slots *s);
/* For tests: new slots start at generation gen (1 to 2^24-1), so that a
 * wrap-around comes soon. */
void tr__slots_init_gen(tr__slots *s, uint32_t gen);
/* Slots made from now on start at generation gen (1 to 2^24-1). */
void tr__slots_set_gen0(tr__slots *s, uint32_t gen);
void tr__slots_free(tr__slots *s);
/* Puts ptr in a slot; returns its handle, 0 when out of memory. */
uint64_t tr__slots_put(tr__slots *s, void *ptr);
/* Takes the tenant out; returns it, or NULL for a stale handle. */
void *tr__slots_take(tr__slots *s, uint64_t id);

static inline void *tr__slots_get(const tr__slots *s, uint64_t id) {
  /* Bits 24-39 set, or index 0 (wrapping to huge), are too big. */
  uint64_t i = (id & ((1ull << TR__SLOTS_GEN_SHIFT) - 1u)) - 1u;
  if (i >= s->len || s->v[i].gen != (uint32_t)(id >> TR__SLOTS_GEN_SHIFT))
    return NULL;
  return s->v[i].ptr;
}

#endif
