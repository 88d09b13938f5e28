/*
 * name.c -- registered names: a string -> pid map per node (a lone host
 * is a node of one).
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones), kept at most 3/4 full, under the table's lock. A node's
 * table is shared by its hosts' threads; a lone host's loop thread, its
 * only writer, reads it without the lock. An actor keeps its own copy of
 * its name, so that a name removed on another host is never freed under
 * it; its end removes the name only while the name is still its own.
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

void tr__names_init(tr__names *n, int shared) {
  n->v = NULL;
  n->cap = n->used = 0;
  n->shared = shared;
  uv_mutex_init(&n->lock);
}

void tr__names_free(tr__names *n) {
  uint32_t i;
  for (i = 0; i < n->cap; i++)
    free(n->v[i].key);
  free(n->v);
  uv_mutex_destroy(&n->lock);
}

/* The slot holding name, or the empty slot where it would go. */
static uint32_t find(const tr__names *n, const char *name, uint32_t hash) {
  uint32_t mask = n->cap - 1, i = hash & mask;
  while (n->v[i].key &&
         (n->v[i].hash != hash || strcmp(n->v[i].key, name) != 0))
    i = (i + 1) & mask;
  return i;
}

static tr_pid lookup(const tr__names *n, const char *name) {
  uint32_t i;
  if (!n->cap)
    return 0;
  i = find(n, name, hash_of(name));
  return n->v[i].key ? n->v[i].pid : 0;
}

/* A lone host's loop thread is the only writer of its table: it reads
 * without the lock, as it did before hosts made nodes. */
tr_pid tr__name_lookup(tr_host *h, const char *name) {
  tr__names *n = h->names;
  tr_pid pid;
  if (!n->shared && tr__on_loop_thread(h))
    return lookup(n, name);
  uv_mutex_lock(&n->lock);
  pid = lookup(n, name);
  uv_mutex_unlock(&n->lock);
  return pid;
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
  tr__names *n = h ? h->names : NULL;
  tr_actor *a;
  uint32_t hash, i;
  int rc = TR_OK;
  if ((rc = tr__loop_check(h)))
    return rc;
  if (tr__name_check(name))
    return TR_EINVAL;
  if (!(a = tr__actor(h, pid)))
    return TR_ENOPROC;
  if (a->name)
    return TR_EEXIST;
  if (!(a->name = strdup(name)))
    return TR_ENOMEM;
  hash = hash_of(name);
  uv_mutex_lock(&n->lock);
  if (lookup(n, name))
    rc = TR_EEXIST;
  else if ((n->used + 1) * 4 > n->cap * 3)
    rc = grow(n);
  if (!rc) {
    i = find(n, name, hash);
    if (!(n->v[i].key = strdup(name))) {
      rc = TR_ENOMEM;
    } else {
      n->v[i].hash = hash;
      n->v[i].pid = pid;
      n->used++;
    }
  }
  uv_mutex_unlock(&n->lock);
  if (rc) {
    free(a->name);
    a->name = NULL;
  }
  return rc;
}

/* Removes name if it names pid (any pid when 0); its owner, if local,
 * forgets it. */
static int unregister(tr_host *h, const char *name, tr_pid pid) {
  tr__names *n = h->names;
  tr_actor *a;
  char *key = NULL;
  uint32_t i;
  uv_mutex_lock(&n->lock);
  if (n->cap) {
    i = find(n, name, hash_of(name));
    if ((key = n->v[i].key) && (!pid || n->v[i].pid == pid)) {
      pid = n->v[i].pid;
      remove_at(n, i);
      n->used--;
    } else {
      key = NULL;
    }
  }
  uv_mutex_unlock(&n->lock);
  if (!key)
    return TR_ENOPROC;
  free(key);
  if ((a = tr__actor(h, pid)) && a->name) {
    free(a->name);
    a->name = NULL;
  }
  return TR_OK;
}

/* An actor of another host keeps its copy of the name until it ends, and
 * then releases the name only if it still names it. */
int tr_unregister(tr_host *h, const char *name) {
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  return name ? unregister(h, name, 0) : TR_EINVAL;
}

void tr__name_release(tr_host *h, tr_actor *a) {
  if (a->name) {
    unregister(h, a->name, a->pid);
    free(a->name);
    a->name = NULL;
  }
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
