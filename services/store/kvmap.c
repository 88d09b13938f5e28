/*
 * kvmap.c -- a hash map of binary keys to binary values: the memory of the
 * native store and of its writer.
 *
 * Why hand-written: Debian's well-kept C maps do not fit. glib's GHashTable
 * pulls in glib for one type; uthash and khash are macro kits keyed by C
 * types, not by byte strings of any length; nothing packaged keeps a
 * binary key and its value in one allocation. What is needed is small:
 * set, get, delete, count and a walk that can pause between batches.
 *
 * How it works: open addressing with linear probing in a table of 2^k
 * slots, kept at most 3/4 full. A slot is two parallel arrays: the low 32
 * bits of the key's hash (probing compares these first, without touching
 * the entry) and a pointer to the entry, NULL when the slot is empty. An
 * entry is one allocation holding both lengths, the key and the value, so
 * an entry costs its bytes plus 8 and malloc's overhead, and a slot 12
 * bytes. Deletion shifts the following entries of the probe run back
 * (no tombstones), so lookups never slow down with churn. A full table
 * doubles and rehashes every entry: O(n) once per doubling, O(1) amortized
 * per insert; nothing else touches more than one probe run. The hash is a
 * multiply-mix in the manner of wyhash, seeded per map from getrandom, so
 * keys chosen to collide cannot be precomputed.
 *
 * Expiry: an entry holds its time (0: none) and, when it has one, its
 * place in a binary min-heap of the expiring entries, so the earliest is
 * found in O(1) and removed in O(log n): the store's sweep does work
 * bounded by what it asks for, and a count made exact by removing what
 * has expired costs O(log n) per key removed, each key once.
 *
 * Scanning: the slot order cannot carry a cursor (growth rehashes, the
 * shift-back deletion moves entries backwards past it). So the entries are
 * also kept in an array in the order they were added, each beside a
 * sequence number that only grows; a deletion leaves a hole (its number
 * stays, so the array stays sorted) and the array is compacted once holes
 * are half of it (O(n) after n/2 deletions: O(1) amortized). A cursor is a
 * sequence number, found by binary search, so no change to the map can
 * move a key past it or back before it: a key there for the whole scan is
 * met exactly once. A key removed and added again is a new entry with a
 * new number (met at most once more, as a key added meanwhile). Redis's
 * reverse-binary cursor would have been the other choice; it may repeat
 * keys when the table shrinks and needs the table's size to stay a power
 * of two in step with the cursor, where the array costs 16 bytes per key
 * and is plainly right. An entry knows its place in both arrays, updated
 * when they move it, so a deletion touches O(log n) at most.
 */
#include "kvmap.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

typedef struct entry {
  uint32_t klen, vlen;
  uint32_t ord;  /* its place in the order array */
  uint32_t heap; /* its place in the expiry heap; NO_HEAP: none */
  int64_t at;    /* expiry, 0: none */
  char data[];   /* key, then value */
} entry;

typedef struct ordered {
  uint64_t seq;
  entry *e; /* NULL: a hole */
} ordered;

struct tr__kvmap {
  uint32_t *hashes; /* low 32 bits of each slot's hash */
  entry **slots;    /* NULL: empty */
  size_t cap;       /* a power of two */
  size_t count;
  uint64_t bytes;
  uint64_t seed;
  ordered *order; /* entries in the order added, with holes */
  size_t olen, ocap, holes;
  uint64_t next_seq; /* from 1: cursor 0 starts a scan */
  entry **heap;      /* expiring entries, earliest first */
  size_t hlen, hcap;
};

#define NO_HEAP UINT32_MAX
#define MAX_ORDER (UINT32_MAX - 1u)

#define MIN_CAP 16

/* ---------------------------------------------------------------- hash */

#define P0 0xa0761d6478bd642fULL
#define P1 0xe7037ed1a0b428dbULL
#define P2 0x8ebc6af09c88c6e3ULL

static uint64_t rd64(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

static uint64_t rd32(const unsigned char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static uint64_t mum(uint64_t a, uint64_t b) {
  __uint128_t r = (__uint128_t)a * b;
  return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static uint64_t hash(const void *key, size_t len, uint64_t seed) {
  const unsigned char *p = key;
  uint64_t a = 0, b = 0;
  size_t i = len;
  seed ^= P0;
  if (len <= 16) {
    if (len >= 4) {
      size_t mid = (len >> 3) << 2;
      a = (rd32(p) << 32) | rd32(p + mid);
      b = (rd32(p + len - 4) << 32) | rd32(p + len - 4 - mid);
    } else if (len > 0) {
      a = ((uint64_t)p[0] << 16) | ((uint64_t)p[len >> 1] << 8) | p[len - 1];
    }
  } else {
    while (i > 16) {
      seed = mum(rd64(p) ^ P1, rd64(p + 8) ^ seed);
      p += 16;
      i -= 16;
    }
    a = rd64(p + i - 16);
    b = rd64(p + i - 8);
  }
  return mum(P1 ^ (uint64_t)len, mum(a ^ P1, b ^ seed));
}

/* --------------------------------------------------------------- table */

static const char *key_of(const entry *e) { return e->data; }
static const char *val_of(const entry *e) { return e->data + e->klen; }

static int table_alloc(tr__kvmap *m, size_t cap) {
  uint32_t *h = malloc(cap * sizeof *h);
  entry **s = calloc(cap, sizeof *s);
  if (!h || !s) {
    free(h);
    free(s);
    return -1;
  }
  m->hashes = h;
  m->slots = s;
  m->cap = cap;
  return 0;
}

tr__kvmap *tr__kvmap_new(void) {
  tr__kvmap *m = calloc(1, sizeof *m);
  if (!m)
    return NULL;
  if (getrandom(&m->seed, sizeof m->seed, GRND_NONBLOCK) != sizeof m->seed)
    m->seed = (uint64_t)(uintptr_t)m * P2 ^ (uint64_t)time(NULL);
  if (table_alloc(m, MIN_CAP)) {
    free(m);
    return NULL;
  }
  m->next_seq = 1;
  return m;
}

void tr__kvmap_free(tr__kvmap *m) {
  size_t i;
  if (!m)
    return;
  for (i = 0; i < m->cap; i++)
    free(m->slots[i]);
  free(m->slots);
  free(m->hashes);
  free(m->order);
  free(m->heap);
  free(m);
}

void tr__kvmap_clear(tr__kvmap *m) {
  size_t i;
  for (i = 0; i < m->cap; i++) {
    free(m->slots[i]);
    m->slots[i] = NULL;
  }
  m->count = 0;
  m->bytes = 0;
  m->olen = m->holes = m->hlen = 0;
}

/* ---------------------------------------------------------- expiry heap */

static int64_t at_of(const tr__kvmap *m, size_t i) { return m->heap[i]->at; }

static void heap_put(tr__kvmap *m, size_t i, entry *e) {
  m->heap[i] = e;
  e->heap = (uint32_t)i;
}

static void heap_up(tr__kvmap *m, size_t i) {
  entry *e = m->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (at_of(m, parent) <= e->at)
      break;
    heap_put(m, i, m->heap[parent]);
    i = parent;
  }
  heap_put(m, i, e);
}

static void heap_down(tr__kvmap *m, size_t i) {
  entry *e = m->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= m->hlen)
      break;
    if (c + 1 < m->hlen && at_of(m, c + 1) < at_of(m, c))
      c++;
    if (e->at <= at_of(m, c))
      break;
    heap_put(m, i, m->heap[c]);
    i = c;
  }
  heap_put(m, i, e);
}

static void heap_remove(tr__kvmap *m, entry *e) {
  size_t i = e->heap;
  entry *last;
  e->heap = NO_HEAP;
  last = m->heap[--m->hlen];
  if (i == m->hlen)
    return;
  heap_put(m, i, last);
  heap_up(m, i);
  heap_down(m, last->heap);
}

/* --------------------------------------------------------- order array */

/* Drops the holes, keeping the order (and the numbers). */
static void order_compact(tr__kvmap *m) {
  size_t i, j = 0;
  for (i = 0; i < m->olen; i++) {
    if (!m->order[i].e)
      continue;
    m->order[j] = m->order[i];
    m->order[j].e->ord = (uint32_t)j;
    j++;
  }
  m->olen = j;
  m->holes = 0;
}

/* Room for one more at the end; -1 when out of memory. */
static int order_reserve(tr__kvmap *m) {
  size_t cap;
  ordered *o;
  if (m->olen < m->ocap)
    return 0;
  if (m->holes && m->holes * 4 >= m->olen) { /* cheaper than growing */
    order_compact(m);
    return 0;
  }
  if (m->olen >= MAX_ORDER)
    return -1;
  cap = m->ocap ? m->ocap * 2 : MIN_CAP;
  if (cap > MAX_ORDER)
    cap = MAX_ORDER;
  if (!(o = realloc(m->order, cap * sizeof *o)))
    return -1;
  m->order = o;
  m->ocap = cap;
  return 0;
}

static void order_hole(tr__kvmap *m, entry *e) {
  m->order[e->ord].e = NULL;
  m->holes++;
  if (m->holes >= MIN_CAP && m->holes * 2 > m->olen)
    order_compact(m);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t probe(const tr__kvmap *m, const void *key, size_t klen,
                    uint32_t h) {
  size_t mask = m->cap - 1, i = h & mask;
  for (;; i = (i + 1) & mask) {
    const entry *e = m->slots[i];
    if (!e || (m->hashes[i] == h && e->klen == klen &&
               memcmp(key_of(e), key, klen) == 0))
      return i;
  }
}

static int grow(tr__kvmap *m) {
  tr__kvmap old = *m;
  size_t i, mask;
  if (table_alloc(m, old.cap * 2))
    return -1;
  mask = m->cap - 1;
  for (i = 0; i < old.cap; i++) {
    size_t j;
    if (!old.slots[i])
      continue;
    for (j = old.hashes[i] & mask; m->slots[j]; j = (j + 1) & mask)
      ;
    m->slots[j] = old.slots[i];
    m->hashes[j] = old.hashes[i];
  }
  free(old.slots);
  free(old.hashes);
  return 0;
}

int tr__kvmap_set(tr__kvmap *m, const void *key, size_t klen, const void *val,
                  size_t vlen) {
  uint32_t h;
  size_t i;
  entry *e;
  if (klen > UINT32_MAX || vlen > UINT32_MAX ||
      klen + vlen > SIZE_MAX - sizeof(entry))
    return -1;
  h = (uint32_t)hash(key, klen, m->seed);
  i = probe(m, key, klen, h);
  if ((e = m->slots[i])) { /* replace the value */
    if (e->vlen != vlen) {
      entry *n = realloc(e, sizeof *e + klen + vlen);
      if (!n)
        return -1;
      m->slots[i] = e = n;
      m->order[e->ord].e = e; /* it may have moved */
      if (e->heap != NO_HEAP)
        m->heap[e->heap] = e;
      m->bytes -= e->vlen;
      m->bytes += vlen;
      e->vlen = (uint32_t)vlen;
    }
    if (vlen)
      memcpy(e->data + klen, val, vlen);
    return 0;
  }
  if ((m->count + 1) * 4 > m->cap * 3) {
    if (grow(m))
      return -1;
    i = probe(m, key, klen, h);
  }
  if (order_reserve(m) || !(e = malloc(sizeof *e + klen + vlen)))
    return -1;
  e->klen = (uint32_t)klen;
  e->vlen = (uint32_t)vlen;
  e->heap = NO_HEAP;
  e->at = 0;
  e->ord = (uint32_t)m->olen;
  m->order[m->olen].seq = m->next_seq++;
  m->order[m->olen++].e = e;
  if (klen)
    memcpy(e->data, key, klen);
  if (vlen)
    memcpy(e->data + klen, val, vlen);
  m->slots[i] = e;
  m->hashes[i] = h;
  m->count++;
  m->bytes += klen + vlen;
  return 0;
}

static entry *find(const tr__kvmap *m, const void *key, size_t klen) {
  if (klen > UINT32_MAX)
    return NULL;
  return m->slots[probe(m, key, klen, (uint32_t)hash(key, klen, m->seed))];
}

int tr__kvmap_get_at(const tr__kvmap *m, const void *key, size_t klen,
                     const char **val, size_t *vlen, int64_t *at) {
  const entry *e = find(m, key, klen);
  if (!e)
    return 0;
  if (val)
    *val = val_of(e);
  if (vlen)
    *vlen = e->vlen;
  if (at)
    *at = e->at;
  return 1;
}

int tr__kvmap_get(const tr__kvmap *m, const void *key, size_t klen,
                  const char **val, size_t *vlen) {
  return tr__kvmap_get_at(m, key, klen, val, vlen, NULL);
}

int tr__kvmap_set_expiry(tr__kvmap *m, const void *key, size_t klen,
                         int64_t at) {
  entry *e = find(m, key, klen);
  if (!e)
    return 0;
  if (at == 0) {
    if (e->heap != NO_HEAP)
      heap_remove(m, e);
    e->at = 0;
    return 1;
  }
  if (e->heap != NO_HEAP) { /* moves either way */
    e->at = at;
    heap_up(m, e->heap);
    heap_down(m, e->heap);
    return 1;
  }
  if (m->hlen == m->hcap) {
    size_t cap = m->hcap ? m->hcap * 2 : MIN_CAP;
    entry **n = realloc(m->heap, cap * sizeof *n);
    if (!n)
      return -1;
    m->heap = n;
    m->hcap = cap;
  }
  e->at = at;
  m->heap[m->hlen] = e;
  heap_up(m, m->hlen++);
  return 1;
}

size_t tr__kvmap_expiring(const tr__kvmap *m) { return m->hlen; }

int64_t tr__kvmap_next_expiry(const tr__kvmap *m) {
  return m->hlen ? m->heap[0]->at : 0;
}

size_t tr__kvmap_expire(tr__kvmap *m, int64_t now, size_t max) {
  size_t n = 0;
  while (n < max && m->hlen && m->heap[0]->at <= now) {
    const entry *e = m->heap[0];
    tr__kvmap_delete(m, key_of(e), e->klen);
    n++;
  }
  return n;
}

int tr__kvmap_delete(tr__kvmap *m, const void *key, size_t klen) {
  size_t mask = m->cap - 1, i, j;
  entry *e;
  if (klen > UINT32_MAX)
    return 0;
  i = probe(m, key, klen, (uint32_t)hash(key, klen, m->seed));
  if (!(e = m->slots[i]))
    return 0;
  m->count--;
  m->bytes -= (uint64_t)e->klen + e->vlen;
  if (e->heap != NO_HEAP)
    heap_remove(m, e);
  order_hole(m, e);
  free(e);
  /* Shift back every later entry of the run that may move into the hole:
   * one whose home slot is not between the hole and where it sits. */
  for (j = i;;) {
    size_t home;
    j = (j + 1) & mask;
    if (!m->slots[j])
      break;
    home = m->hashes[j] & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) {
      m->slots[i] = m->slots[j];
      m->hashes[i] = m->hashes[j];
      i = j;
    }
  }
  m->slots[i] = NULL;
  return 1;
}

size_t tr__kvmap_count(const tr__kvmap *m) { return m->count; }

uint64_t tr__kvmap_bytes(const tr__kvmap *m) { return m->bytes; }

int tr__kvmap_next(const tr__kvmap *m, size_t *cursor, const char **key,
                   size_t *klen, const char **val, size_t *vlen) {
  size_t i;
  for (i = *cursor; i < m->cap; i++) {
    const entry *e = m->slots[i];
    if (!e)
      continue;
    *cursor = i + 1;
    if (key)
      *key = key_of(e);
    if (klen)
      *klen = e->klen;
    if (val)
      *val = val_of(e);
    if (vlen)
      *vlen = e->vlen;
    return 1;
  }
  *cursor = m->cap;
  return 0;
}

int tr__kvmap_scan(const tr__kvmap *m, uint64_t *cursor, size_t max_skip,
                   const char **key, size_t *klen, const char **val,
                   size_t *vlen, int64_t *at) {
  size_t lo = 0, hi = m->olen, skipped = 0;
  while (lo < hi) { /* the first place numbered *cursor or more */
    size_t mid = lo + (hi - lo) / 2;
    if (m->order[mid].seq < *cursor)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (; lo < m->olen; lo++) {
    const entry *e = m->order[lo].e;
    if (!e) {
      if (++skipped > max_skip) {
        *cursor = m->order[lo].seq;
        return 0;
      }
      continue;
    }
    *cursor = m->order[lo].seq + 1;
    if (key)
      *key = key_of(e);
    if (klen)
      *klen = e->klen;
    if (val)
      *val = val_of(e);
    if (vlen)
      *vlen = e->vlen;
    if (at)
      *at = e->at;
    return 1;
  }
  *cursor = 0;
  return 0;
}
