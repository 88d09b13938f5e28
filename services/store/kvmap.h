/*
 * kvmap.h -- a hash map of binary keys to binary values, for the native
 * store and its writer (see kvmap.c for how it works).
 *
 * Keys and values are byte strings of any content (NUL, invalid UTF-8) up
 * to UINT32_MAX bytes each; the map keeps its own copies. Pointers it hands
 * out (tr__kvmap_get, tr__kvmap_next) stay valid until the next change.
 */
#ifndef TR_KVMAP_H
#define TR_KVMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct tr__kvmap tr__kvmap;

/* An empty map; NULL when out of memory. */
tr__kvmap *tr__kvmap_new(void);
void tr__kvmap_free(tr__kvmap *m);

/* Sets key to value, copying both. 0, or -1 when out of memory or a length
 * past UINT32_MAX (the map is then unchanged). */
int tr__kvmap_set(tr__kvmap *m, const void *key, size_t klen, const void *val,
                  size_t vlen);

/* 1 and the value (val and vlen may be NULL) when key is there, else 0. */
int tr__kvmap_get(const tr__kvmap *m, const void *key, size_t klen,
                  const char **val, size_t *vlen);

/* Removes key: 1 if it was there, 0 if not. */
int tr__kvmap_delete(tr__kvmap *m, const void *key, size_t klen);

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

#endif
