/*
 * lcluster.c -- a plain Lua script joins a cluster over NATS:
 * actor.configure{cluster = "nats://HOST:PORT", node = NAME, ...}.
 *
 * A node's id is in every pid it makes, so a host joins as it is made,
 * before its first actor. The troupe binary makes its hosts before any
 * script runs (its --cluster options join them); under a stock lua5.4 the
 * layer makes its host on the first actor function that needs one
 * (lhost.c). So configure checks and keeps these settings while no host
 * exists, the host made next joins with them, and the host's end lets go
 * of the cluster. Once a host exists they are refused, saying why.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ltroupe.h"

static const char *const keys[] = {
    "cluster",     "node", "cluster_name", "cluster_lost_ms", "cluster_creds",
    "cluster_tls", NULL};

int trL__cluster_key(const char *k) {
  int i;
  for (i = 0; keys[i]; i++)
    if (!strcmp(k, keys[i]))
      return 1;
  return 0;
}

/* The setting key of the table at 1 pushed: its string, NULL for nil;
 * anything else is refused. */
static const char *field(lua_State *L, const char *key, size_t max) {
  int t = lua_getfield(L, 1, key);
  if (t == LUA_TNIL)
    return NULL;
  if (t != LUA_TSTRING || lua_rawlen(L, -1) > max)
    trL__argerror(L, 1,
                  lua_pushfstring(L,
                                  "%s must be a string of 1..%d bytes, got %s",
                                  key, (int)max, trL__got(L, -1)));
  return lua_tostring(L, -1);
}

static void name_field(lua_State *L, const char *key, char *out) {
  const char *s = field(L, key, 64);
  if (s && !tr_cluster_name_ok(s))
    trL__argerror(
        L, 1,
        lua_pushfstring(L, "%s must be 1 to 64 of A-Z a-z 0-9 _ -, got %s", key,
                        trL__got(L, -1)));
  if (s)
    strcpy(out, s);
  lua_pop(L, 1);
}

void trL__cluster_configure(lua_State *L, trL__host *lh) {
  trL__cluster next;
  tr_cluster_config cfg;
  const char *first = NULL, *s;
  char buf[sizeof next.tls], why[256];
  int i;
  if (lua_type(L, 1) != LUA_TTABLE)
    return;
  for (i = 0; keys[i] && !first; i++) {
    if (lua_getfield(L, 1, keys[i]) != LUA_TNIL)
      first = keys[i];
    lua_pop(L, 1);
  }
  if (!first)
    return;
  if (lh->h || lh->detached || lh->cluster.c)
    luaL_error(L,
               "actor.configure: %s cannot be set once the host runs: a "
               "node's id is in every pid, so a host joins its cluster as "
               "it is made -- run troupe --cluster nats://HOST:PORT --node "
               "NAME, or call actor.configure{cluster = ..., node = ...} "
               "first thing in a plain Lua script",
               first);
  memset(&next, 0, sizeof next);
  if ((s = field(L, "cluster", sizeof next.url - 1)) &&
      ((strncmp(s, "nats://", 7) && strncmp(s, "tls://", 6)) || strlen(s) < 8))
    trL__argerror(L, 1,
                  lua_pushfstring(L,
                                  "cluster must be nats://HOST:PORT (or "
                                  "tls://HOST:PORT), got %s",
                                  trL__got(L, -1)));
  if (s)
    strcpy(next.url, s);
  lua_pop(L, 1);
  name_field(L, "node", next.node);
  name_field(L, "cluster_name", next.name);
  if (lua_getfield(L, 1, "cluster_lost_ms") != LUA_TNIL &&
      !trL__toms(L, -1, 100, 60000, &next.lost_ms))
    trL__argerror(L, 1,
                  lua_pushfstring(L,
                                  "cluster_lost_ms must be 100 to 60000 ms, "
                                  "got %s",
                                  trL__got(L, -1)));
  lua_pop(L, 1);
  if ((s = field(L, "cluster_creds", sizeof next.creds - 1)) && access(s, R_OK))
    trL__argerror(L, 1,
                  lua_pushfstring(L, "cluster_creds: cannot read %s: %s", s,
                                  strerror(errno)));
  if (s)
    strcpy(next.creds, s);
  lua_pop(L, 1);
  memset(&cfg, 0, sizeof cfg);
  if ((s = field(L, "cluster_tls", sizeof next.tls - 1)) &&
      tr_cluster_config_tls(&cfg, s, buf, sizeof buf, why, sizeof why))
    trL__argerror(L, 1, lua_pushfstring(L, "cluster_tls: %s", why));
  if (s)
    strcpy(next.tls, s);
  lua_pop(L, 1);
  if (!next.url[0] || !next.node[0])
    trL__argerror(L, 1,
                  lua_pushfstring(L,
                                  "%s needs %s too (a node joins a cluster "
                                  "with actor.configure{cluster = "
                                  "\"nats://HOST:PORT\", node = NAME})",
                                  next.url[0] ? "cluster" : first,
                                  next.url[0] ? "node" : "cluster"));
  next.want = 1;
  next.joined = lh->cluster.joined; /* libnats may be open from before */
  lh->cluster = next;
}

int trL__cluster_join(trL__host *lh, char *err, size_t errlen) {
  trL__cluster *k = &lh->cluster;
  tr_cluster_config cfg;
  char tls[sizeof k->tls];
  int rc;
  if (!k->want || k->c)
    return TR_OK;
  memset(&cfg, 0, sizeof cfg);
  cfg.url = k->url;
  cfg.node = k->node;
  cfg.cluster = k->name[0] ? k->name : NULL;
  cfg.lost_ms = k->lost_ms;
  cfg.creds = k->creds[0] ? k->creds : NULL;
  if (k->tls[0] &&
      tr_cluster_config_tls(&cfg, k->tls, tls, sizeof tls, err, errlen))
    return TR_EINVAL;
  k->joined = 1; /* libnats is open from here, joined or not */
  if ((rc = tr_cluster_new(&cfg, &k->c, err, errlen)) != TR_OK)
    return rc;
  /* before the host's first actor: every pid it makes carries the id */
  if ((rc = tr_host_set_node_id(lh->h, tr_cluster_node_id(k->c))) != TR_OK ||
      (rc = tr_cluster_attach(k->c, lh->h)) != TR_OK) {
    snprintf(err, errlen, "the host cannot join: %s", tr_strerror(rc));
    tr_cluster_free(k->c);
    k->c = NULL;
  }
  return rc;
}

void trL__cluster_leave(trL__host *lh) {
  if (lh->cluster.c && lh->h)
    tr_cluster_detach(lh->cluster.c, lh->h);
}

void trL__cluster_free(trL__host *lh) {
  if (lh->cluster.c) /* farewell said, its names and its id released */
    tr_cluster_free(lh->cluster.c);
  lh->cluster.c = NULL;
}

/* The module (libnats with it) may be unloaded once the state is closed,
 * and a lua5.4 process ends next: libnats' own threads stop first, and its
 * memory is released, as the troupe binary does at its end. */
void trL__cluster_end(trL__host *lh) {
  trL__cluster_free(lh);
  if (lh->cluster.joined)
    tr_cluster_lib_close();
  lh->cluster.joined = 0;
}

void trL__cluster_push(lua_State *L, const trL__host *lh) {
  if (!lh->cluster.want)
    return;
  lua_pushstring(L, lh->cluster.url);
  lua_setfield(L, -2, "cluster");
  lua_pushstring(L, lh->cluster.node);
  lua_setfield(L, -2, "node");
}
