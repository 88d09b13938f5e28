/*
 * lhost.c -- the host behind a lua_State.
 *
 * The registry holds one trL__host userdata per state: the tr_host its Lua
 * actors run on, plus the Lua layer's settings. A program embedding troupe
 * attaches its own host (trL_attach); a script under a stock `lua5.4` gets
 * one from actor.run, made for the run and freed at its end. Each
 * coroutine's extra space points at its trL__proc, so any `actor` function
 * knows in O(1) which actor called it.
 *
 * An attached host and the state may go in either order. A native actor,
 * the watch, lives on the host for the state: the host ends it last of
 * what the state started, whenever the host shuts down (its run's end,
 * tr_host_step after tr_host_stop, tr_host_free), and its end lets go of
 * the host. Closing the state while the host still runs shuts the host
 * down first, so that every actor ends while Lua can still close it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ltroupe.h"

#define TRL_HOST "actor.host"       /* registry: the trL__host userdata */
#define TRL_NATIVES "actor.natives" /* registry: name -> native */

/* A native actor Lua may spawn by name, and the ctx each one gets. */
typedef struct native {
  const tr_behaviour *b;
  void *ctx;
} native;

/* The state is closing with its attached host still running: the host
 * shuts down now, every actor ending while the state works (a run of a
 * host already told to stop only shuts it down); the watch's end lets go
 * of it, and the program's tr_host_free then finds it stopped. From one
 * of the host's own callbacks or another thread that cannot be done, and
 * going on would leave actors running on a freed state. */
static void stop_attached(trL__host *lh) {
  tr_host *h = lh->h;
  int rc;
  tr_host_stop(h);
  if ((rc = tr_host_run(h)) != TR_OK) {
    fprintf(stderr,
            "troupe: lua_close: cannot stop the state's host (%s): close "
            "the state on the host's loop thread, outside its actors\n",
            tr_strerror(rc));
    abort();
  }
  lh->h = NULL; /* as the watch's end did */
  lh->detached = 1;
}

static int host_gc(lua_State *L) {
  trL__host *lh = lua_touserdata(L, 1);
  if (lh->h && !lh->owns_host)
    stop_attached(lh);
  if (lh->h && lh->cluster.c) {
    /* its actors end before the host lets go of NATS (never run, or a
     * run that raised) */
    tr_host_stop(lh->h);
    tr_host_run(lh->h);
    trL__cluster_leave(lh);
  }
  trL__clock_stop(lh);
  /* The wrapper's state is this userdata, about to go: the state's own
   * allocator frees what is left. */
  lua_setallocf(L, lh->alloc, lh->alloc_ud);
  if (lh->owns_host && lh->h)
    tr_host_free(lh->h);
  lh->h = NULL;
  trL__cluster_end(lh);
  return 0;
}

/* Counts the heap and refuses growth past mem_limit while a Lua actor runs
 * (lh->running): the allocation fails inside that actor's coroutine, after
 * an emergency collection, and ends that actor only. Outside an actor --
 * the layer's own C code pushing a message, a host's bookkeeping -- it
 * never refuses, for a failure there would have nothing to unwind to. */
static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  trL__host *lh = ud;
  size_t old = ptr ? osize : 0;
  void *p;
  if (nsize > old && lh->running &&
      lh->mem_used + (nsize - old) > lh->mem_limit)
    return NULL;
  p = lh->alloc(lh->alloc_ud, ptr, osize, nsize);
  if (p || nsize == 0)
    lh->mem_used = lh->mem_used - old + nsize;
  return p;
}

/* The host is the ud of the allocator it wraps around the state's (see
 * limited_alloc): found in O(1), where the registry lookup by name costs a
 * string compare and a hash probe, on every send from outside an actor
 * and every pid checked. The registry remains the way when some other
 * allocator has been put on top of ours. */
trL__host *trL__host_find(lua_State *L) {
  trL__host *lh;
  void *ud;
  if (lua_getallocf(L, &ud) == limited_alloc)
    return ud;
  lua_getfield(L, LUA_REGISTRYINDEX, TRL_HOST);
  lh = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return lh;
}

/* The trL__host userdata of L, made (without a tr_host) if missing. */
static trL__host *ensure(lua_State *L) {
  trL__host *lh = trL__host_find(L);
  if (lh)
    return lh;
  lh = lua_newuserdatauv(L, sizeof *lh, 0);
  memset(lh, 0, sizeof *lh);
  lua_State *main_L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  main_L = lua_tothread(L, -1);
  lua_pop(L, 1);
  lh->L = main_L;
  lh->slice = 1000;
  lh->hard_limit = 500;
  lh->call_timeout = 5000;
  lh->send_timeout = 5000;
  strcpy(lh->kv.dir, "./troupe-data");
  strcpy(lh->kv.redis, "redis://127.0.0.1:6379/0");
  lh->kv.redis_timeout_ms = 2000;
  lh->kv.fsync = TR_FSYNC_EVERYSEC;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, host_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, TRL_HOST);
  *(trL__proc **)lua_getextraspace(main_L) = NULL;
  lh->memory_mib = 1024;
  lh->mem_limit = (size_t)lh->memory_mib << 20;
  lh->mem_used =
      (size_t)lua_gc(L, LUA_GCCOUNT) * 1024 + lua_gc(L, LUA_GCCOUNTB);
  lh->alloc = lua_getallocf(L, &lh->alloc_ud);
  lua_setallocf(L, limited_alloc, lh);
  return lh;
}

trL__host *trL__host_ensure(lua_State *L) { return ensure(L); }

/* The watch: its state is the trL__host, given as its ctx. */
static int watch_init(tr_actor *self, void *state, tr_msg *args) {
  (void)args;
  *(trL__host **)state = tr_actor_ctx(self);
  return 0;
}

static int watch_handle(tr_actor *self, void *state, tr_msg *m) {
  (void)self;
  (void)state;
  (void)m;
  return TR_CONTINUE; /* it takes no mail; anything sent to it is dropped */
}

/* Only the host's shutdown ends the watch (nobody else learns its pid):
 * the state lets go of the host, and actor functions say it has stopped
 * from then on instead of touching it. */
static void watch_end(tr_actor *self, void *state, const char *reason) {
  trL__host *lh = *(trL__host **)state;
  (void)reason;
  if (lh->h != tr_actor_host(self))
    return;
  lh->h = NULL;
  lh->detached = 1;
}

static const tr_behaviour watch_behaviour = {
    "lua.state", sizeof(trL__host *), watch_init, watch_handle, watch_end};

int trL_attach(lua_State *L, tr_host *h) {
  trL__host *lh = ensure(L);
  tr_spawn_opts o = {0};
  int rc;
  if (!h)
    return TR_EINVAL;
  if (lh->h == h)
    return TR_OK;
  if (lh->h)
    return TR_EEXIST;   /* one host at a time: the other has not stopped */
  if (lh->cluster.want) /* the program's host: its node is the program's */
    tr_host_log(h, TR_LOG_WARN,
                "actor.configure{cluster = ...} is for the host the Lua "
                "layer makes: this one joins no cluster (tr_cluster_*)");
  lh->h = h;
  lh->owns_host = 0;
  lh->detached = 0;
  o.ctx = lh; /* the watch lives no longer than the Lua state's host */
  if ((rc = tr_spawn(h, &watch_behaviour, NULL, &o, NULL)) != TR_OK) {
    lh->h = NULL;
    lh->detached = rc == TR_ESTOPPED;
    return rc;
  }
  trL__start_router(lh);  /* as actor.run does: actor.kv works at once */
  trL__start_spawner(lh); /* actor.spawn{host = ...} from other hosts */
  return TR_OK;
}

/* Under trL_spawn's pcall: [out pid, "module.function", args...]. */
static int spawn_named(lua_State *L) {
  tr_pid *out = lua_touserdata(L, 1);
  const char *name = luaL_checkstring(L, 2);
  const char *dot = strrchr(name, '.');
  if (dot) {
    lua_getglobal(L, "require");
    lua_pushlstring(L, name, (size_t)(dot - name));
    lua_call(L, 1, 1);
    if (lua_type(L, -1) != LUA_TTABLE)
      return luaL_error(L, "trL_spawn: the module of '%s' is not a table",
                        name);
    lua_getfield(L, -1, dot + 1);
    lua_remove(L, -2);
  } else {
    lua_getglobal(L, name);
  }
  if (lua_type(L, -1) != LUA_TFUNCTION)
    return luaL_error(L, "trL_spawn: '%s' is not a function", name);
  lua_replace(L, 2);
  *out = trL__spawn(L, 2);
  return 0;
}

int trL_spawn(lua_State *L, const char *fn, int nargs, tr_pid *out) {
  tr_pid pid = 0;
  int rc;
  lua_pushcfunction(L, spawn_named);
  lua_pushlightuserdata(L, &pid);
  lua_pushstring(L, fn ? fn : "");
  lua_rotate(L, -(nargs + 3), 3); /* below the arguments */
  rc = lua_pcall(L, nargs + 2, 0, 0);
  if (out)
    *out = rc == LUA_OK ? pid : 0;
  return rc;
}

tr_host *trL_host_of(lua_State *L) {
  trL__host *lh = trL__host_find(L);
  return lh ? lh->h : NULL;
}

trL__host *trL__host_get(lua_State *L) {
  trL__host *lh = ensure(L);
  if (!lh->h) {
    if (lh->detached) /* the program's host: not to be replaced by ours */
      luaL_error(L, "the host has stopped");
    if (!(lh->h = tr_host_new(NULL)))
      luaL_error(L, "cannot make a host");
    lh->owns_host = 1;
    if (lh->cluster.want) { /* actor.configure{cluster = ...} asked */
      char err[512] = "";
      int rc = trL__cluster_join(lh, err, sizeof err);
      if (rc != TR_OK) {
        tr_host_free(lh->h);
        lh->h = NULL;
        luaL_error(L, "cannot join the cluster: %s",
                   err[0] ? err : tr_strerror(rc));
      }
    }
  }
  return lh;
}

trL__proc *trL__proc_of(lua_State *L) {
  return *(trL__proc **)lua_getextraspace(L);
}

trL__proc *trL__proc_check(lua_State *L) {
  trL__proc *p = trL__proc_of(L);
  if (!p)
    luaL_error(L, "only an actor can do this (use actor.run or spawn)");
  return p;
}

void trL_define(lua_State *L, const char *name, const tr_behaviour *b,
                void *ctx) {
  native *n;
  if (lua_getfield(L, LUA_REGISTRYINDEX, TRL_NATIVES) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, TRL_NATIVES);
  }
  n = lua_newuserdatauv(L, sizeof *n, 0);
  n->b = b;
  n->ctx = ctx;
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
}

const tr_behaviour *trL__native(lua_State *L, const char *name, void **ctx) {
  const native *n = NULL;
  if (lua_getfield(L, LUA_REGISTRYINDEX, TRL_NATIVES) == LUA_TTABLE) {
    lua_getfield(L, -1, name);
    n = lua_touserdata(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  *ctx = n ? n->ctx : NULL;
  return n ? n->b : NULL;
}

/* actor.run ends the host it made; an attached host is its owner's. */
void trL__host_done(lua_State *L) {
  trL__host *lh = trL__host_find(L);
  if (lh && lh->owns_host && lh->h) {
    trL__cluster_leave(lh); /* its actors have ended */
    tr_host_free(lh->h);
    lh->h = NULL;
    trL__cluster_free(lh);
  }
}

void trL_openlibs(lua_State *L, const char *lua_dir) {
  lua_getglobal(L, "package");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", lua_dir, lua_dir);
  lua_getfield(L, -2, "path");
  lua_concat(L, 2);
  lua_setfield(L, -2, "path");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_actor_core);
  lua_setfield(L, -2, "actor.core");
  lua_pop(L, 2);
  trL__console_preload(L);
}
