/*
 * claim.c -- the node's id (1..255), claimed for its name in the bucket
 * under node.<id>, atomically (kvStore_Create); a claim not refreshed for
 * lost_ms belongs to a node that is gone and is taken over with a
 * revision-checked update. The claim is refreshed while the node runs and
 * deleted when it stops cleanly.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cluster.h"

static void say(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* The server stamps each revision (UTC, ns); a claim older than lost_ms
 * by our clock is stale (clocks of the machines are assumed close). */
static int stale(tr_cluster *c, kvEntry *e) {
  struct timespec ts;
  int64_t now;
  clock_gettime(CLOCK_REALTIME, &ts);
  now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
  return now - kvEntry_Created(e) > (int64_t)c->lost_ms * 1000000;
}

static int same_name(tr_cluster *c, kvEntry *e) {
  return (size_t)kvEntry_ValueLen(e) == strlen(c->node_name) &&
         !memcmp(kvEntry_Value(e), c->node_name, strlen(c->node_name));
}

/* Which ids have a key now (one listing, not 255 reads); all of them
 * when the listing fails for another reason than an empty bucket. */
static void claimed_ids(tr_cluster *c, unsigned char *present) {
  kvKeysList keys;
  natsStatus s;
  unsigned id;
  int i, n;
  memset(&keys, 0, sizeof keys);
  s = kvStore_Keys(&keys, c->kv, NULL);
  if (s != NATS_OK) {
    memset(present, s != NATS_NOT_FOUND, TR__NODES);
    return;
  }
  memset(present, 0, TR__NODES);
  for (i = 0; i < keys.Count; i++)
    if (sscanf(keys.Keys[i], "node.%u%n", &id, &n) == 1 && !keys.Keys[i][n] &&
        id > 0 && id < TR__NODES)
      present[id] = 1;
  kvKeysList_Destroy(&keys);
}

static int take(tr_cluster *c, uint32_t id, uint64_t rev) {
  c->id = id;
  c->claim_rev = rev;
  c->expect[id] = 0;
  return TR_OK;
}

int tr__claim(tr_cluster *c, char *err, size_t errlen) {
  char key[32];
  unsigned char present[TR__NODES];
  uint32_t id, mine = 0;
  int len = (int)strlen(c->node_name), pass;
  uint64_t rev, mine_rev = 0;
  kvEntry *e;
  natsStatus s;
  claimed_ids(c, present);
  /* First: is this name held by a live node? Then no second one. An old
   * claim of the name, stale, is taken back (the same id again). */
  for (id = 1; id < TR__NODES; id++) {
    snprintf(key, sizeof key, "node.%u", (unsigned)id);
    if (!present[id] || kvStore_Get(&e, c->kv, key) != NATS_OK)
      continue;
    c->expect[id] = !stale(c, e); /* a live node: heard before we start */
    if (same_name(c, e)) {
      if (!stale(c, e)) {
        say(err, errlen,
            "a node named '%s' runs already in cluster '%s' (node id %u)",
            c->node_name, c->cluster, (unsigned)id);
        kvEntry_Destroy(e);
        return TR_EEXIST;
      }
      if (!mine && kvStore_Update(&rev, c->kv, key, c->node_name, len,
                                  kvEntry_Revision(e)) == NATS_OK) {
        mine = id;
        mine_rev = rev;
      }
    }
    kvEntry_Destroy(e);
  }
  if (mine)
    return take(c, mine, mine_rev);
  /* Then the lowest id free (created atomically: another node starting
   * now gets another), and last a stale claim of another name. */
  for (pass = 0; pass < 2; pass++)
    for (id = 1; id < TR__NODES; id++) {
      if (present[id] != pass)
        continue;
      snprintf(key, sizeof key, "node.%u", (unsigned)id);
      if ((s = kvStore_Create(&rev, c->kv, key, c->node_name, len)) == NATS_OK)
        return take(c, id, rev);
      if (kvStore_Get(&e, c->kv, key) != NATS_OK)
        continue;
      s = stale(c, e) ? kvStore_Update(&rev, c->kv, key, c->node_name, len,
                                       kvEntry_Revision(e))
                      : NATS_ERR;
      kvEntry_Destroy(e);
      if (s == NATS_OK)
        return take(c, id, rev);
    }
  say(err, errlen, "no node id is free in cluster '%s' (255 live claims)",
      c->cluster);
  return TR_EEXIST;
}

int tr__claim_refresh(tr_cluster *c) {
  char key[32];
  uint64_t rev;
  snprintf(key, sizeof key, "node.%u", (unsigned)c->id);
  if (kvStore_Update(&rev, c->kv, key, c->node_name, (int)strlen(c->node_name),
                     c->claim_rev) != NATS_OK)
    return TR_EINVAL;
  c->claim_rev = rev;
  return TR_OK;
}

void tr__claim_release(tr_cluster *c) {
  char key[32];
  snprintf(key, sizeof key, "node.%u", (unsigned)c->id);
  kvStore_Delete(c->kv, key);
}
