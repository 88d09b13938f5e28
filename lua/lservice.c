/*
 * lservice.c -- supervision from Lua: the router with the store behind it,
 * and actor.supervise for a script's own actors.
 *
 * A supervisor child is started by a C function (tr_child_spec.start).
 * For a Lua child that function spawns a Lua actor from the main state,
 * inside lua_pcall so that a Lua error fails the start instead of
 * unwinding the supervisor. The store pair is built from the settings of
 * actor.configure: native, Lua or Redis store, native log or Lua JSON
 * writer, the data directory and the fsync policy; the router starts it lazily,
 * on the first request, so a script that never uses the store makes no files.
 * The RESP gateway, when actor.configure{resp = ...} asks for it, starts
 * beside the router, on its host.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ltroupe.h"

typedef trL__child lchild;

static int spawn_child(lua_State *L) {
  lchild *c = lua_touserdata(L, 1);
  int i, base;
  if (c->fn_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->fn_ref);
  } else {
    lua_getglobal(L, "require");
    lua_pushstring(L, c->module);
    lua_call(L, 1, 1);
  }
  base = lua_gettop(L);
  for (i = 0; i < c->nargs; i++)
    lua_pushstring(L, c->args[i]);
  c->out = trL__spawn(L, base);
  return 0;
}

static int start_lua_child(tr_host *h, void *arg, tr_pid *out) {
  lchild *c = arg;
  lua_State *L = c->lh->L;
  int top = lua_gettop(L);
  lua_pushcfunction(L, spawn_child);
  lua_pushlightuserdata(L, c);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    tr_host_log(h, TR_LOG_ERROR, "cannot start a Lua actor: %s",
                lua_tostring(L, -1));
    lua_settop(L, top);
    return TR_EINIT;
  }
  lua_settop(L, top);
  *out = c->out;
  return TR_OK;
}

static void free_lua_child(void *arg) {
  lchild *c = arg;
  if (c->fn_ref != LUA_NOREF)
    luaL_unref(c->lh->L, LUA_REGISTRYINDEX, c->fn_ref);
  free(c);
}

/* ------------------------------------------------------ router and kv */

static const char *const fsync_names[] = {"everysec", "always", "no", NULL};

/* Fixes the pair and its settings, the first time the service starts:
 * the router starts it on the first request, so what a script's
 * actor.configure set before then counts, and a restart changes nothing. */
static void settle(trL__kv *kv, trL__host *lh) {
  if (kv->settled)
    return;
  kv->settled = 1;
  memcpy(kv->run_dir, kv->dir, sizeof kv->run_dir);
  memcpy(kv->run_redis, kv->redis, sizeof kv->run_redis);
  kv->cfg.dir = kv->run_dir;
  kv->cfg.fsync = kv->fsync;
  kv->cfg.redis = kv->lua_store == 2 ? kv->run_redis : NULL;
  kv->cfg.redis_timeout_ms = kv->redis_timeout_ms;
  kv->writer.lh = kv->store.lh = lh;
  kv->writer.fn_ref = kv->store.fn_ref = LUA_NOREF;
  kv->writer.module = kv->lua_writer ? "actor.jsonwriter" : NULL;
  kv->writer.args[0] = kv->run_dir;
  kv->writer.args[1] = fsync_names[kv->fsync];
  kv->writer.nargs = 2;
  kv->store.module = kv->lua_store == 1 ? "actor.store" : NULL;
  kv->store.nargs = 0;
}

/* The store in Redis has no writer; the router's layout (fixed when the
 * host starts, before a script's actor.configure) has a place for one,
 * which this holds: it answers every call with an error, and the RESP
 * gateway's INFO reports no writer. */
static int nowriter_handle(tr_actor *self, void *state, tr_msg *m) {
  (void)state;
  if (m && tr_msg_kind(m) == TR_KIND_CALL)
    tr_reply_error(tr_actor_host(self), m,
                   "kv: the store is in Redis: there is no writer");
  return TR_CONTINUE;
}

static const tr_behaviour nowriter = {"kv.nowriter", 0, NULL, nowriter_handle,
                                      NULL};

static int start_writer(tr_host *h, void *arg, tr_pid *out) {
  trL__host *lh = arg;
  settle(&lh->kv, lh);
  if (lh->kv.cfg.redis)
    return tr_spawn(h, &nowriter, NULL, NULL, out);
  return lh->kv.writer.module ? start_lua_child(h, &lh->kv.writer, out)
                              : tr_kv_log_writer_start(h, &lh->kv.cfg, out);
}

static int start_store(tr_host *h, void *arg, tr_pid *out) {
  trL__host *lh = arg;
  settle(&lh->kv, lh);
  if (lh->kv.cfg.redis)
    return tr_kv_redis_store_start(h, &lh->kv.cfg, out);
  return lh->kv.store.module ? start_lua_child(h, &lh->kv.store, out)
                             : tr_kv_store_start(h, &lh->kv.cfg, out);
}

/* Starts the router on lh's host, with the store behind it as configured
 * (when it first starts). Everything the router keeps pointers to lives
 * in lh, as long as L. */
void trL__start_router(trL__host *lh) {
  trL__kv *kv = &lh->kv;
  tr_child_spec *w = &kv->children[0], *s = &kv->children[1];
  int rc;
  if (tr_whereis(lh->h, "router"))
    return;
  memset(kv->children, 0, sizeof kv->children);
  kv->settled = 0;
  w->name = "kv.writer";
  w->start = start_writer;
  w->arg = lh;
  s->name = "kv";
  s->start = start_store;
  s->arg = lh;
  memset(&kv->spec, 0, sizeof kv->spec);
  kv->spec.strategy = TR_ONE_FOR_ALL; /* a store restarts with its writer */
  kv->spec.children = kv->children;
  kv->spec.nchildren = 2;
  kv->service.name = "kv";
  kv->service.spec = &kv->spec;
  kv->service.lazy = 1;
  rc = tr_router_start(lh->h, &kv->service, 1, NULL);
  if (rc && rc != TR_EEXIST)
    tr_host_log(lh->h, TR_LOG_ERROR, "cannot start the router: %s",
                tr_strerror(rc));
  if (!rc && lh->resp.want) { /* configured before the host was there */
    char err[256];
    if (trL__start_resp(lh, err, sizeof err))
      tr_host_log(lh->h, TR_LOG_ERROR, "%s", err);
  }
}

/* ------------------------------------------------------ the gateway */

int trL__start_resp(trL__host *lh, char *err, size_t errlen) {
  trL__resp *r = &lh->resp;
  tr_pid router;
  int rc;
  if (!r->want || !lh->h || lh->detached)
    return TR_OK; /* when the host is there (trL__start_router) */
  router = tr_whereis(lh->h, "router");
  if (!router || tr_pid_host(router) != tr_host_index(lh->h)) {
    snprintf(err, errlen,
             "resp: the gateway runs on the host of the router (host 0)");
    return TR_EINVAL;
  }
  if (tr_whereis(lh->h, "resp")) {
    snprintf(err, errlen,
             "resp: the gateway runs already (resp = false stops it)");
    return TR_EEXIST;
  }
  r->cfg.addr = r->addr[0] ? r->addr : NULL;
  r->cfg.password = r->password[0] ? r->password : NULL;
  r->cfg.port = r->port;
  r->cfg.out_port = &r->port; /* port 0 picks one: say which */
  if ((rc = tr_resp_start(lh->h, &r->cfg, NULL)) != TR_OK) {
    r->want = 0;
    if (rc == TR_EINVAL && !r->cfg.password)
      snprintf(err, errlen,
               "resp: %s is beyond loopback: a password is required "
               "(resp_password, --resp-password)",
               r->addr);
    else
      snprintf(err, errlen, "resp: cannot listen on %s:%d (%s)",
               r->addr[0] ? r->addr : "127.0.0.1", r->port, tr_strerror(rc));
    return rc;
  }
  r->want = 0; /* started: a restart of the host would ask again */
  return TR_OK;
}

/* --------------------------------------------------- actor.supervise */

static const char *const strategies[] = {"one_for_one", "one_for_all",
                                         "rest_for_one", NULL};
static const char *const policies[] = {"permanent", "transient", "temporary",
                                       NULL};
static const char *const sup_fields[] = {"strategy", "intensity", "period",
                                         "children", NULL};
static const char *const child_fields[] = {"name",      "start",  "restart",
                                           "heartbeat", "cutoff", NULL};

#define MS_MAX 0x7fffffff      /* heartbeat, cutoff, period */
#define INTENSITY_MAX 1000000u /* the supervisor keeps a ring that long */
#define NAME_MAX_LEN 255       /* as the core's registered names */

/* A bad field of the spec is a bad argument #1 naming it: "period ...",
 * or "children[2].cutoff ..." for a child's (child counts from 1). */
static int bad(lua_State *L, size_t child, const char *key, const char *what) {
  if (!child)
    return trL__argerror(L, 1,
                         key ? lua_pushfstring(L, "%s %s", key, what) : what);
  return trL__argerror(L, 1,
                       lua_pushfstring(L, "children[%d]%s%s %s", (int)child,
                                       key ? "." : "", key ? key : "", what));
}

/* Refuses a key of the table at idx that is not in fields: typos too. */
static void known_fields(lua_State *L, int idx, size_t child,
                         const char *const *fields) {
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    int j;
    for (j = 0; k && fields[j] && strcmp(k, fields[j]); j++)
      ;
    if (!k || !fields[j])
      bad(L, child, NULL,
          lua_pushfstring(L, "%s %s",
                          child ? "has an unknown field" : "unknown field",
                          trL__got(L, -2)));
    lua_pop(L, 1);
  }
}

/* The field key of the table at idx, one of list (def when nil). */
static int option(lua_State *L, int idx, size_t child, const char *key, int def,
                  const char *const *list) {
  const char *v;
  int i;
  if (lua_getfield(L, idx, key) == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  for (i = 0; v && list[i]; i++)
    if (!strcmp(v, list[i])) {
      lua_pop(L, 1);
      return i;
    }
  lua_pushfstring(L, "must be one of %s %s %s, got %s", list[0], list[1],
                  list[2], trL__got(L, -1));
  return bad(L, child, key, lua_tostring(L, -1));
}

/* The field key of the table at idx, a time in ms (fractions round up):
 * def when nil; UINT32_MAX ("never") when false and may_be_false. */
static uint32_t ms_field(lua_State *L, int idx, size_t child, const char *key,
                         uint32_t def, int may_be_false) {
  uint32_t ms = def;
  int t = lua_getfield(L, idx, key);
  if (t == LUA_TBOOLEAN && !lua_toboolean(L, -1) && may_be_false)
    ms = UINT32_MAX;
  else if (t != LUA_TNIL && !trL__toms(L, -1, 1, MS_MAX, &ms))
    bad(L, child, key,
        lua_pushfstring(L, "must be %s1..%d ms, got %s",
                        may_be_false ? "false or " : "", MS_MAX,
                        trL__got(L, -1)));
  lua_pop(L, 1);
  return ms;
}

/* The children list at idx: keys 1..n, each a table. Returns n. */
static size_t child_list(lua_State *L, int idx) {
  size_t n, i;
  if (lua_type(L, idx) != LUA_TTABLE)
    bad(L, 0, "children",
        lua_pushfstring(L, "must be a list of child specs, got %s",
                        trL__got(L, idx)));
  n = lua_rawlen(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_Integer k = lua_isinteger(L, -2) ? lua_tointeger(L, -2) : 0;
    if (k < 1 || (size_t)k > n)
      bad(L, 0, "children",
          lua_pushfstring(L, "must be a list of child specs, got a key %s",
                          trL__got(L, -2)));
    lua_pop(L, 1);
  }
  for (i = 1; i <= n; i++) {
    if (lua_rawgeti(L, idx, (lua_Integer)i) != LUA_TTABLE)
      bad(L, i, NULL,
          lua_pushfstring(L, "must be a child spec (a table), got %s",
                          trL__got(L, -1)));
    lua_pop(L, 1);
  }
  return n;
}

/* Checks the child spec at idx (the i-th, from 1) into c, but for what
 * pass 1 builds: its name must be new in seen (a table name -> i). */
static void check_child(lua_State *L, int idx, size_t i, int seen,
                        tr_child_spec *c) {
  size_t len;
  known_fields(L, idx, i, child_fields);
  if (lua_getfield(L, idx, "name") != LUA_TSTRING ||
      (len = lua_rawlen(L, -1)) < 1 || len > NAME_MAX_LEN ||
      strlen(lua_tostring(L, -1)) != len)
    bad(L, i, "name",
        lua_pushfstring(L,
                        "must be a string of 1..%d bytes without NUL, got %s",
                        NAME_MAX_LEN, trL__got(L, -1)));
  lua_pushvalue(L, -1);
  if (lua_rawget(L, seen) != LUA_TNIL)
    bad(L, i, "name",
        lua_pushfstring(L, "'%s' is already the name of children[%d]",
                        lua_tostring(L, -2), (int)lua_tointeger(L, -1)));
  lua_pop(L, 1);
  lua_pushinteger(L, (lua_Integer)i);
  lua_rawset(L, seen); /* pops the name */
  if (lua_getfield(L, idx, "start") != LUA_TFUNCTION)
    bad(L, i, "start",
        lua_pushfstring(L, "must be a function, got %s", trL__got(L, -1)));
  lua_pop(L, 1);
  c->restart = option(L, idx, i, "restart", TR_PERMANENT, policies);
  c->cutoff_ms = ms_field(L, idx, i, "cutoff", 500, 1);
  /* a child that is never checked needs no tick, unless asked for one */
  c->heartbeat_ms = ms_field(L, idx, i, "heartbeat",
                             c->cutoff_ms == UINT32_MAX ? UINT32_MAX : 200, 0);
}

/* actor.supervise{strategy=, intensity=, period=, children={{name=,
 * start=fn, restart=, heartbeat=, cutoff=}, ...}} -> the supervisor's pid.
 * It is linked to the caller: if it gives up, the caller hears of it.
 * Every field is checked before anything starts; a bad one is named. */
int trL__supervise(lua_State *L) {
  trL__proc *p = trL__proc_check(L);
  tr_sup_spec spec;
  tr_child_spec *children;
  tr_spawn_opts o = {0};
  tr_pid pid;
  size_t n, i;
  int rc, list, seen;
  lua_Integer intensity = 3;
  trL__checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  known_fields(L, 1, 0, sup_fields);
  memset(&spec, 0, sizeof spec);
  spec.strategy = option(L, 1, 0, "strategy", TR_ONE_FOR_ONE, strategies);
  if (lua_getfield(L, 1, "intensity") != LUA_TNIL) {
    int isnum;
    intensity = lua_tointegerx(L, -1, &isnum);
    if (!isnum || intensity < 1 || intensity > INTENSITY_MAX)
      bad(L, 0, "intensity",
          lua_pushfstring(L,
                          "must be a count of restarts, 1..%d (for none, make "
                          "the children temporary), got %s",
                          (int)INTENSITY_MAX, trL__got(L, -1)));
  }
  lua_pop(L, 1);
  spec.intensity = (uint32_t)intensity;
  spec.period_ms = ms_field(L, 1, 0, "period", 5000, 0);
  lua_getfield(L, 1, "children");
  list = lua_gettop(L);
  n = child_list(L, list);
  children = lua_newuserdatauv(L, (n ? n : 1) * sizeof *children, 0);
  memset(children, 0, (n ? n : 1) * sizeof *children);
  lua_newtable(L);
  seen = lua_gettop(L);
  for (i = 0; i < n; i++) {
    lua_rawgeti(L, list, (lua_Integer)i + 1);
    check_child(L, lua_gettop(L), i + 1, seen, &children[i]);
    lua_pop(L, 1);
  }
  /* All checked: build, which cannot fail but for memory. */
  for (i = 0; i < n; i++) {
    tr_child_spec *c = &children[i];
    lchild *lc = calloc(1, sizeof *lc);
    if (!lc) {
      while (i-- > 0)
        free_lua_child(children[i].arg);
      return luaL_error(L, "out of memory");
    }
    lua_rawgeti(L, list, (lua_Integer)i + 1);
    lua_getfield(L, -1, "name");
    c->name = lua_tostring(L, -1); /* alive in the spec; copied */
    lua_getfield(L, -2, "start");
    lc->lh = p->lh;
    lc->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops start */
    c->start = start_lua_child;
    c->arg = lc;
    c->free_arg = free_lua_child;
    lua_pop(L, 2);
  }
  spec.children = children;
  spec.nchildren = n;
  rc = tr_sup_start(p->lh->h, &spec, &o, &pid);
  if (!rc) /* linked once it runs: a failed start must not end the caller */
    tr_link(p->lh->h, tr_self(p->self), pid);
  if (rc && rc != TR_EINIT) /* never started: the args are still ours */
    for (i = 0; i < n; i++)
      free_lua_child(children[i].arg);
  if (rc)
    return luaL_error(L, "supervise: %s", tr_strerror(rc));
  trL__push_pid(L, pid);
  return 1;
}
