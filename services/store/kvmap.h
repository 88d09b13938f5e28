/*
 * kvmap.h -- a hash map of binary keys to binary values, for the native
 * store and its writer (see kvmap.c for how it works), with an expiry time
 * per key and a scan cursor that holds up while the map changes.
 *
 * Keys and values are byte strings of any content (NUL, invalid UTF-8) up
 * to UINT32_MAX bytes each; the map keeps its own copies. Pointers it hands
 * out (tr__kvmap_get, tr__kvmap_next, tr__kvmap_scan) stay valid until the
 * next change. Expiry times are whatever clock the user keeps (the store:
 * ms since the Unix epoch), 0 meaning none; the map never reads a clock.
 */
#ifndef TR_KVMAP_H
#define TR_KVMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct tr__kvmap tr__kvmap;

/* An empty map; NULL when out of memory. */
tr__kvmap *tr__kvmap_new(void);
void tr__kvmap_free(tr__kvmap *m);

/* Sets key to value, copying both. A new key does not expire; a key that
 * is there keeps its expiry (tr__kvmap_set_expiry changes it). 0, or -1
 * when out of memory or a length past UINT32_MAX (the map is then
 * unchanged). */
int tr__kvmap_set(tr__kvmap *m, const void *key, size_t klen, const void *val,
                  size_t vlen);

/* 1 and the value (val and vlen may be NULL) when key is there, else 0. */
int tr__kvmap_get(const tr__kvmap *m, const void *key, size_t klen,
                  const char **val, size_t *vlen);

/* Removes key: 1 if it was there, 0 if not. */
int tr__kvmap_delete(tr__kvmap *m, const void *key, size_t klen);

/* Removes every key (a scan in progress then just finds no more). */
void tr__kvmap_clear(tr__kvmap *m);

size_t tr__kvmap_count(const tr__kvmap *m);

/* The bytes of all keys and values together (what a snapshot holds). */
uint64_t tr__kvmap_bytes(const tr__kvmap *m);

/* Iterates by slot: *cursor starts at 0; each call finds the first entry at
 * or after slot *cursor, returns 1 with it and moves *cursor past it, or
 * returns 0 at the end. Across calls the cursor is just a number, so a walk
 * may pause anywhere (the store loads in batches this way). A walk sees
 * every entry once if the map does not change meanwhile; a change during
 * a walk may make it miss or repeat entries (growth rehashes, deletion
 * shifts entries back). Any out-pointer may be NULL. */
int tr__kvmap_next(const tr__kvmap *m, size_t *cursor, const char **key,
                   size_t *klen, const char **val, size_t *vlen);

/* tr__kvmap_get that also gives the key's expiry (*at, may be NULL; 0 when
 * it has none), in the same lookup. Expired keys are not hidden: the
 * caller compares *at with its clock. */
int tr__kvmap_get_at(const tr__kvmap *m, const void *key, size_t klen,
                     const char **val, size_t *vlen, int64_t *at);

/* Sets key's expiry (at 0: none). 1 if the key is there, 0 if not, -1
 * when out of memory (unchanged). */
int tr__kvmap_set_expiry(tr__kvmap *m, const void *key, size_t klen,
                         int64_t at);

/* How many keys have an expiry; the earliest of them (0 when none). */
size_t tr__kvmap_expiring(const tr__kvmap *m);
int64_t tr__kvmap_next_expiry(const tr__kvmap *m);

/* Removes keys whose expiry is at or before now, earliest first, at most
 * max of them; returns how many. O(log n) each. */
size_t tr__kvmap_expire(tr__kvmap *m, int64_t now, size_t max);

/* A scan that holds up under change: every key has a sequence number,
 * given when it is added (a key removed and added again gets a new one),
 * and the scan goes in that order. *cursor starts at 0; a call returns 1
 * with the next key at or after *cursor and moves *cursor past it, or 0:
 * at the end, with *cursor 0, or having passed over max_skip removed
 * places without finding a key, with *cursor where to go on (never 0). So
 * a key there for the whole scan is returned exactly once, and one added
 * or removed meanwhile at most once, however the map changes between
 * calls. *at gets the key's expiry. Any out-pointer but cursor may be
 * NULL. */
int tr__kvmap_scan(const tr__kvmap *m, uint64_t *cursor, size_t max_skip,
                   const char **key, size_t *klen, const char **val,
                   size_t *vlen, int64_t *at);

#endif
