/*
 * name.c -- registered names: a string -> pid map per host.
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones), kept at most 3/4 full. Only the loop thread writes, under
 * names_lock, so tr_send_named from other threads can read under the same
 * lock while the loop thread itself reads without it.
 */
#include <stdlib.h>
#include <string.h>

#include "host.h"

#define TR_NAME_MAX 255

struct tr__name {
  char *key; /* NULL: empty; the same string is the actor's a->name */
  uint32_t hash;
  tr_pid pid;
};

static uint32_t hash_of(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a: short keys, cheap and well spread */
  while (*s)
    h = (h ^ (unsigned char)*s++) * 16777619u;
  return h;
}

void tr__names_init(tr__names *n) {
  n->v = NULL;
  n->cap = n->used = 0;
}

void tr__names_free(tr__names *n) {
  uint32_t i;
  for (i = 0; i < n->cap; i++)
    free(n->v[i].key);
  free(n->v);
  tr__names_init(n);
}

/* The slot holding name, or the empty slot where it would go. */
static uint32_t find(const tr__names *n, const char *name, uint32_t hash) {
  uint32_t mask = n->cap - 1, i = hash & mask;
  while (n->v[i].key &&
         (n->v[i].hash != hash || strcmp(n->v[i].key, name) != 0))
    i = (i + 1) & mask;
  return i;
}

tr_pid tr__name_lookup(tr_host *h, const char *name) {
  tr__names *n = &h->names;
  uint32_t i;
  if (!n->cap)
    return 0;
  i = find(n, name, hash_of(name));
  return n->v[i].key ? n->v[i].pid : 0;
}

static int grow(tr__names *n) {
  uint32_t cap = n->cap ? n->cap * 2 : 16, i;
  tr__names old = *n;
  n->v = calloc(cap, sizeof *n->v);
  if (!n->v) {
    *n = old;
    return TR_ENOMEM;
  }
  n->cap = cap;
  for (i = 0; i < old.cap; i++)
    if (old.v[i].key)
      n->v[find(n, old.v[i].key, old.v[i].hash)] = old.v[i];
  free(old.v);
  return TR_OK;
}

/* Empties slot i and shifts later entries of the same run back into the
 * hole, so lookups never need tombstones. */
static void remove_at(tr__names *n, uint32_t i) {
  uint32_t mask = n->cap - 1, j = i;
  n->v[i].key = NULL;
  for (;;) {
    uint32_t home;
    j = (j + 1) & mask;
    if (!n->v[j].key)
      return;
    home = n->v[j].hash & mask;
    /* Move j into the hole unless its home lies cyclically in (i, j]. */
    if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
      n->v[i] = n->v[j];
      n->v[j].key = NULL;
      i = j;
    }
  }
}

int tr__name_check(const char *name) {
  return name && *name && strlen(name) <= TR_NAME_MAX ? TR_OK : TR_EINVAL;
}

int tr_register(tr_host *h, const char *name, tr_pid pid) {
  tr_actor *a;
  uint32_t hash, i;
  int rc = TR_OK;
  if ((rc = tr__loop_check(h)))
    return rc;
  if (tr__name_check(name))
    return TR_EINVAL;
  if (!(a = tr__actor(h, pid)))
    return TR_ENOPROC;
  if (a->name || tr__name_lookup(h, name))
    return TR_EEXIST;
  uv_mutex_lock(&h->names_lock);
  if ((h->names.used + 1) * 4 > h->names.cap * 3)
    rc = grow(&h->names);
  if (!rc) {
    hash = hash_of(name);
    i = find(&h->names, name, hash);
    if (!(h->names.v[i].key = strdup(name))) {
      rc = TR_ENOMEM;
    } else {
      h->names.v[i].hash = hash;
      h->names.v[i].pid = pid;
      h->names.used++;
      a->name = h->names.v[i].key;
    }
  }
  uv_mutex_unlock(&h->names_lock);
  return rc;
}

int tr_unregister(tr_host *h, const char *name) {
  tr__names *n;
  tr_actor *a;
  char *key;
  uint32_t i;
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  if (!name)
    return TR_EINVAL;
  n = &h->names;
  if (!n->cap)
    return TR_ENOPROC;
  i = find(n, name, hash_of(name));
  if (!(key = n->v[i].key))
    return TR_ENOPROC;
  if ((a = tr__slots_get(&h->actors, n->v[i].pid)))
    a->name = NULL;
  uv_mutex_lock(&h->names_lock);
  remove_at(n, i);
  n->used--;
  uv_mutex_unlock(&h->names_lock);
  free(key);
  return TR_OK;
}

void tr__name_release(tr_host *h, tr_actor *a) {
  if (a->name)
    tr_unregister(h, a->name);
}

tr_pid tr_whereis(tr_host *h, const char *name) {
  if (tr__loop_check(h) || !name)
    return 0;
  return tr__name_lookup(h, name);
}

const char *tr_actor_name(tr_host *h, tr_pid pid) {
  tr_actor *a = tr__loop_check(h) ? NULL : tr__actor(h, pid);
  return a ? a->name : NULL;
}
