/*
 * lservice.c -- supervision from Lua: the router with the store behind it,
 * and actor.supervise for a script's own actors.
 *
 * A supervisor child is started by a C function (tr_child_spec.start).
 * For a Lua child that function spawns a Lua actor from the main state,
 * inside lua_pcall so that a Lua error fails the start instead of
 * unwinding the supervisor. The store pair is built from the settings of
 * actor.configure: native or Lua store, native log or Lua JSON writer, the
 * data directory and the fsync policy; the router starts it lazily, on the
 * first request, so a script that never uses the store makes no files.
 */
#include <stdlib.h>
#include <string.h>

#include "ltroupe.h"

typedef trL_child lchild;

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
  c->out = trL_spawn(L, base);
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
static void settle(trL_kv *kv, trL_host *lh) {
  if (kv->settled)
    return;
  kv->settled = 1;
  memcpy(kv->run_dir, kv->dir, sizeof kv->run_dir);
  kv->cfg.dir = kv->run_dir;
  kv->cfg.fsync = kv->fsync;
  kv->writer.lh = kv->store.lh = lh;
  kv->writer.fn_ref = kv->store.fn_ref = LUA_NOREF;
  kv->writer.module = kv->lua_writer ? "actor.jsonwriter" : NULL;
  kv->writer.args[0] = kv->run_dir;
  kv->writer.args[1] = fsync_names[kv->fsync];
  kv->writer.nargs = 2;
  kv->store.module = kv->lua_store ? "actor.store" : NULL;
  kv->store.nargs = 0;
}

static int start_writer(tr_host *h, void *arg, tr_pid *out) {
  trL_host *lh = arg;
  settle(&lh->kv, lh);
  return lh->kv.writer.module ? start_lua_child(h, &lh->kv.writer, out)
                              : tr_kv_log_writer_start(h, &lh->kv.cfg, out);
}

static int start_store(tr_host *h, void *arg, tr_pid *out) {
  trL_host *lh = arg;
  settle(&lh->kv, lh);
  return lh->kv.store.module ? start_lua_child(h, &lh->kv.store, out)
                             : tr_kv_store_start(h, &lh->kv.cfg, out);
}

/* Starts the router on lh's host, with the store behind it as configured
 * (when it first starts). Everything the router keeps pointers to lives
 * in lh, as long as L. */
void trL_start_router(trL_host *lh) {
  trL_kv *kv = &lh->kv;
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
}

/* --------------------------------------------------- actor.supervise */

static const char *const strategies[] = {"one_for_one", "one_for_all",
                                         "rest_for_one", NULL};
static const char *const policies[] = {"permanent", "transient", "temporary",
                                       NULL};

static uint32_t opt_ms(lua_State *L, int idx, const char *key, uint32_t def) {
  lua_Integer v;
  if (lua_getfield(L, idx, key) == LUA_TNIL) {
    lua_pop(L, 1);
    return def;
  }
  v = luaL_checkinteger(L, -1);
  if (v < 1 || v > 0x7fffffff)
    luaL_error(L, "supervise: %s must be a positive number of ms", key);
  lua_pop(L, 1);
  return (uint32_t)v;
}

/* actor.supervise{strategy=, intensity=, period=, children={{name=,
 * start=fn, restart=, heartbeat=, cutoff=}, ...}} -> the supervisor's pid.
 * It is linked to the caller: if it gives up, the caller hears of it. */
int trL_supervise(lua_State *L) {
  trL_proc *p = trL_proc_check(L);
  tr_sup_spec spec;
  tr_child_spec *children;
  tr_spawn_opts o = {0};
  tr_pid pid;
  size_t n, i;
  int rc, pass, list;
  luaL_checktype(L, 1, LUA_TTABLE);
  memset(&spec, 0, sizeof spec);
  lua_getfield(L, 1, "strategy");
  spec.strategy = luaL_checkoption(L, -1, "one_for_one", strategies);
  lua_pop(L, 1);
  spec.intensity = opt_ms(L, 1, "intensity", 3);
  spec.period_ms = opt_ms(L, 1, "period", 5000);
  if (lua_getfield(L, 1, "children") != LUA_TTABLE)
    return luaL_error(L, "supervise: children must be a list of specs");
  list = lua_gettop(L);
  n = lua_rawlen(L, list);
  if (!(children = lua_newuserdatauv(L, (n ? n : 1) * sizeof *children, 0)))
    return luaL_error(L, "out of memory");
  memset(children, 0, (n ? n : 1) * sizeof *children);
  /* Pass 0 checks every spec, raising errors before anything is made;
   * pass 1 builds, and cannot fail but for memory. */
  for (pass = 0; pass < 2; pass++) {
    for (i = 0; i < n; i++) {
      tr_child_spec *c = &children[i];
      int spec_idx;
      lua_rawgeti(L, list, (lua_Integer)i + 1);
      spec_idx = lua_gettop(L);
      if (!lua_istable(L, spec_idx) ||
          lua_getfield(L, spec_idx, "name") != LUA_TSTRING ||
          lua_getfield(L, spec_idx, "start") != LUA_TFUNCTION)
        return luaL_error(L,
                          "supervise: child %d needs a name and a start "
                          "function",
                          (int)i + 1);
      lua_getfield(L, spec_idx, "restart");
      c->restart = luaL_checkoption(L, -1, "permanent", policies);
      lua_pop(L, 1);
      c->heartbeat_ms = opt_ms(L, spec_idx, "heartbeat", 200);
      c->cutoff_ms = opt_ms(L, spec_idx, "cutoff", 500);
      if (pass == 1) {
        lchild *lc = calloc(1, sizeof *lc);
        if (!lc) {
          while (i-- > 0)
            free_lua_child(children[i].arg);
          return luaL_error(L, "out of memory");
        }
        lc->lh = p->lh;
        lc->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops start */
        c->name = lua_tostring(L, -1); /* alive in the spec; copied */
        c->start = start_lua_child;
        c->arg = lc;
        c->free_arg = free_lua_child;
      }
      lua_settop(L, spec_idx - 1);
    }
  }
  spec.children = children;
  spec.nchildren = n;
  rc = tr_supervise(p->lh->h, &spec, &o, &pid);
  if (!rc) /* linked once it runs: a failed start must not end the caller */
    tr_link(p->lh->h, tr_self(p->self), pid);
  if (rc && rc != TR_EINIT) /* never started: the args are still ours */
    for (i = 0; i < n; i++)
      free_lua_child(children[i].arg);
  if (rc)
    return luaL_error(L, "supervise: %s", tr_strerror(rc));
  trL_push_pid(L, pid);
  return 1;
}
