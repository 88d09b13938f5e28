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
 */
#include "kvmap.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

typedef struct entry {
  uint32_t klen, vlen;
  char data[]; /* key, then value */
} entry;

struct tr__kvmap {
  uint32_t *hashes; /* low 32 bits of each slot's hash */
  entry **slots;    /* NULL: empty */
  size_t cap;       /* a power of two */
  size_t count;
  uint64_t bytes;
  uint64_t seed;
};

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
  free(m);
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
  if (!(e = malloc(sizeof *e + klen + vlen)))
    return -1;
  e->klen = (uint32_t)klen;
  e->vlen = (uint32_t)vlen;
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

int tr__kvmap_get(const tr__kvmap *m, const void *key, size_t klen,
                  const char **val, size_t *vlen) {
  const entry *e;
  if (klen > UINT32_MAX)
    return 0;
  e = m->slots[probe(m, key, klen, (uint32_t)hash(key, klen, m->seed))];
  if (!e)
    return 0;
  if (val)
    *val = val_of(e);
  if (vlen)
    *vlen = e->vlen;
  return 1;
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
