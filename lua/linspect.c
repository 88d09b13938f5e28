/*
 * linspect.c -- actor.info, actor.list and the figures of actor.stats:
 * the core's tr_actor_get_info as a table, with what only the Lua layer
 * knows about a Lua actor -- its function, where it waits, and an
 * estimate of the memory it holds. Over the whole node: another host's
 * actors are asked of its spawner (lnode.c's "list" and "info"), by the
 * askers actor/init.lua sets (_set_node_asks), which wait as a call does.
 */
#include <string.h>

#include "ltroupe.h"

#define TRL_NODE_ASKS "actor.node_asks" /* registry: init.lua's askers */

static const char *const statuses[] = {"running", "ready", "waiting",
                                       "exiting"};
static const char *const waits[] = {NULL,    "receive", "call",
                                    "sleep", "room",    "other"};

/* The memory estimate walks what a Lua actor's stack reaches: every value
 * in a local variable (temporaries included) of each of its frames, and
 * what tables hold, deeply, each table and string counted once. These
 * sizes are Lua 5.4's on 64 bits, rounded: */
#define EST_THREAD 1024 /* a coroutine with its stack: about a kilobyte */
#define EST_STRING 24   /* a string's header, plus its length */
#define EST_TABLE 56    /* a table's header */
#define EST_SLOT 32     /* per entry: a hash node (an array slot is 16) */
#define EST_CLOSURE                                                            \
  48                    /* functions are not followed: their upvalues          \
                           reach globals and modules, which are shared */
#define EST_USERDATA 40 /* a full userdata's header, plus its size */
#define EST_MAX_VALUES                                                         \
  100000 /* a walk stops after so many: it is on demand,                       \
            but must not stall the host */
#define EST_MAX_DEPTH 64

typedef struct walk {
  int seen; /* index of the table of what was counted */
  size_t bytes, values;
} walk;

/* Counts the value on top of L (and pops it). */
static void weigh(lua_State *L, walk *w, int depth) {
  int t = lua_type(L, -1);
  if (w->values >= EST_MAX_VALUES || depth > EST_MAX_DEPTH) {
    lua_pop(L, 1);
    return;
  }
  w->values++;
  if (t == LUA_TSTRING || t == LUA_TTABLE || t == LUA_TUSERDATA ||
      t == LUA_TFUNCTION || t == LUA_TTHREAD) {
    lua_pushvalue(L, -1);
    if (lua_rawget(L, w->seen) != LUA_TNIL) {
      lua_pop(L, 2);
      return;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_pushboolean(L, 1);
    lua_rawset(L, w->seen);
  }
  switch (t) {
  case LUA_TSTRING:
    w->bytes += EST_STRING + lua_rawlen(L, -1);
    break;
  case LUA_TUSERDATA:
    w->bytes += EST_USERDATA + lua_rawlen(L, -1);
    break;
  case LUA_TFUNCTION:
    w->bytes += EST_CLOSURE;
    break;
  case LUA_TTHREAD:
    w->bytes += EST_THREAD;
    break;
  case LUA_TTABLE:
    luaL_checkstack(L, 4, "estimating an actor's memory");
    w->bytes += EST_TABLE;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      w->bytes += EST_SLOT;
      lua_pushvalue(L, -2);
      weigh(L, w, depth + 1); /* the key */
      weigh(L, w, depth + 1); /* the value */
    }
    break;
  default:
    break;
  }
  lua_pop(L, 1);
}

/* The estimate for p, its coroutine's locals walked on L. */
static size_t estimate(lua_State *L, const trL__proc *p) {
  lua_State *co = p->co;
  lua_Debug ar;
  walk w = {0, EST_THREAD, 0};
  int level, i;
  lua_newtable(L);
  w.seen = lua_gettop(L);
  lua_pushvalue(L, w.seen); /* not itself: it grows while being walked */
  lua_pushboolean(L, 1);
  lua_rawset(L, w.seen);
  for (level = 0; lua_getstack(co, level, &ar); level++) {
    /* C frames' slots are the layer's own (actor.info's, when an actor
     * looks at itself), not what the actor holds */
    if (!lua_getinfo(co, "S", &ar) || ar.what[0] == 'C')
      continue;
    for (i = 1; (co == L || lua_checkstack(co, 1)) && lua_getlocal(co, &ar, i);
         i++) {
      if (co != L)
        lua_xmove(co, L, 1);
      weigh(L, &w, 0);
    }
  }
  if (co != L) /* a coroutine not started yet: its function and arguments */
    for (i = 1; i <= lua_gettop(co); i++) {
      lua_pushvalue(co, i);
      lua_xmove(co, L, 1);
      weigh(L, &w, 0);
    }
  lua_pop(L, 1);
  return w.bytes;
}

/* "file:line" of the first Lua frame from `level` up (the function that
 * called receive, call, sleep or send), or nothing pushed (0). */
static int push_where(lua_State *L, lua_State *co, int level) {
  lua_Debug ar;
  for (; lua_getstack(co, level, &ar); level++) {
    if (!lua_getinfo(co, "Sl", &ar) || ar.currentline <= 0)
      continue;
    lua_pushfstring(L, "%s:%d", ar.short_src, ar.currentline);
    return 1;
  }
  return 0;
}

/* The Lua actor's function as "file:line" where it is defined: the
 * bottom frame of its coroutine, or, not started yet, the function on its
 * stack. */
static void push_function(lua_State *L, const trL__proc *p) {
  lua_State *co = p->co;
  lua_Debug ar;
  int level = 0;
  while (lua_getstack(co, level + 1, &ar))
    level++;
  if (lua_getstack(co, level, &ar) && lua_getinfo(co, "S", &ar)) {
    lua_pushfstring(L, "%s:%d", ar.short_src, ar.linedefined);
  } else if (co != L && lua_gettop(co) >= 1 &&
             lua_type(co, 1) == LUA_TFUNCTION) {
    lua_pushvalue(co, 1);
    lua_getinfo(co, ">S", &ar);
    lua_pushfstring(L, "%s:%d", ar.short_src, ar.linedefined);
  } else {
    lua_pushnil(L);
  }
}

void trL__set_module(lua_State *L, tr_pid pid, const char *module,
                     const char *fn) {
  tr_actor_info a;
  trL__proc *p;
  if (tr_actor_get_info(trL__host_get(L)->h, pid, &a) != TR_OK ||
      a.behaviour != &trL__proc_behaviour)
    return;
  p = a.state;
  if (fn)
    lua_pushfstring(L, "%s.%s", module, fn);
  else
    lua_pushstring(L, module);
  luaL_unref(L, LUA_REGISTRYINDEX, p->module_ref);
  p->module_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static void set_pid(lua_State *L, const char *k, tr_pid pid) {
  if (!pid)
    return;
  trL__push_pid(L, pid);
  lua_setfield(L, -2, k);
}

/* Pushes the info table of a (see README, "Looking into a running host"). */
static void push_info(lua_State *L, const tr_actor_info *a) {
  luaL_checkstack(L, 8, "actor.info");
  lua_createtable(L, 0, 20);
  set_pid(L, "pid", a->pid);
  set_int(L, "host", a->host);
  if (a->name[0]) {
    lua_pushstring(L, a->name);
    lua_setfield(L, -2, "name");
  }
  lua_pushstring(L, a->kind);
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, statuses[a->status]);
  lua_setfield(L, -2, "status");
  if (waits[a->wait]) {
    lua_pushstring(L, waits[a->wait]);
    lua_setfield(L, -2, "waiting");
  }
  set_pid(L, "waits_on", a->waits_on);
  set_int(L, "mailbox", a->mailbox);
  set_int(L, "held", a->held);
  set_int(L, "capacity", a->capacity);
  set_int(L, "queued", a->queued);
  set_int(L, "mailbox_bytes", (lua_Integer)a->mailbox_bytes);
  set_int(L, "handled", (lua_Integer)a->handled);
  set_int(L, "run_ns", (lua_Integer)a->run_ns);
  set_pid(L, "supervisor", a->supervisor);
  if (a->supervisor)
    set_int(L, "restarts", a->restarts);
  if (a->behaviour == &trL__proc_behaviour) {
    const trL__proc *p = a->state;
    push_function(L, p);
    lua_setfield(L, -2, "func");
    if (p->module_ref != LUA_NOREF) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, p->module_ref);
      lua_setfield(L, -2, "module");
    }
    /* where it yielded: above the C function it waits in */
    if (a->status == TR_STATUS_WAITING && push_where(L, p->co, 0))
      lua_setfield(L, -2, "where");
    set_int(L, "memory", (lua_Integer)estimate(L, p));
  }
}

static trL__host *host_of(lua_State *L) {
  trL__proc *p = trL__proc_of(L);
  return p ? p->lh : trL__host_get(L);
}

int trL__node_size(const trL__host *lh) {
  tr_node *n = lh->h ? tr_host_node(lh->h) : NULL;
  return n ? (int)tr_node_size(n) : 1;
}

static int node_here(const trL__host *lh) {
  return lh->h ? (int)tr_host_index(lh->h) : 0;
}

/* Pushes init.lua's asker `what` and returns 1; or returns 0 with why
 * pushed, where other hosts cannot be asked: asking is a call, so it
 * needs an actor that can wait. */
int trL__push_asker(lua_State *L, const char *what) {
  if (!trL__proc_of(L) || !lua_isyieldable(L)) {
    lua_pushliteral(L, "not asked: asking another host needs an actor");
    return 0;
  }
  if (lua_getfield(L, LUA_REGISTRYINDEX, TRL_NODE_ASKS) != LUA_TTABLE ||
      lua_getfield(L, -1, what) != LUA_TFUNCTION) {
    lua_pop(L, 2);
    lua_pushliteral(L, "not asked: asking another host needs require "
                       "\"actor\"");
    return 0;
  }
  lua_remove(L, -2);
  return 1;
}

/* Replaces the why on top with the table of hosts not asked, each with
 * that why: every other host, or only `only` (>= 0). */
void trL__not_asked(lua_State *L, const trL__host *lh, int only) {
  int h, n = trL__node_size(lh), here = node_here(lh);
  lua_createtable(L, 0, n);
  for (h = 0; h < n; h++)
    if (h != here && (only < 0 || h == only)) {
      lua_pushvalue(L, -2);
      lua_rawseti(L, -2, h);
    }
  lua_remove(L, -2);
}

/* actor.core._set_node_asks{list = f, info = f, ...}: init.lua's askers. */
int trL__set_node_asks(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, TRL_NODE_ASKS);
  return 0;
}

/* An asker's two results: the value and what did not answer (or why). */
static int two_k(lua_State *L, int status, lua_KContext ctx) {
  (void)L;
  (void)status;
  (void)ctx;
  return 2;
}

/* [pid] -> its info, or nil and why: this host's only (the spawner's
 * "info"). */
int trL__host_info(lua_State *L) {
  trL__host *lh = host_of(L);
  tr_pid pid = trL__test_pid(L, 1);
  tr_actor_info a;
  int rc = pid ? tr_actor_get_info(lh->h, pid, &a) : TR_EINVAL;
  if (rc == TR_OK) {
    push_info(L, &a);
    return 1;
  }
  lua_pushnil(L);
  lua_pushstring(L, rc == TR_EINVAL && lh->h ? "an actor of another host"
                                             : tr_strerror(rc));
  return 2;
}

int trL__info(lua_State *L) {
  trL__host *lh = host_of(L);
  tr_pid pid = trL__test_pid(L, 1);
  int host;
  if (!pid)
    return trL__typeerror(L, 1, "pid");
  lua_settop(L, 1);
  host = (int)tr_pid_host(pid);
  if (!lh->h || host == node_here(lh) || host >= trL__node_size(lh))
    return trL__host_info(L);
  if (!trL__push_asker(L, "info")) {
    lua_pushnil(L);
    lua_pushfstring(L, "an actor of another host (%s)", lua_tostring(L, -2));
    return 2;
  }
  lua_pushinteger(L, host);
  lua_pushvalue(L, 1);
  lua_pushinteger(L, TRL_NODE_MS);
  lua_callk(L, 3, 2, 0, two_k);
  return 2;
}

/* actor.timing(on): run_ns measured from now on, or no more. */
int trL__timing(lua_State *L) {
  trL__host *lh = host_of(L);
  trL__checktype(L, 1, LUA_TBOOLEAN);
  tr_host_set_timing(lh->h, lua_toboolean(L, 1));
  return 0;
}

/* The host's pids into a userdata on the stack (n of them). */
static tr_pid *host_pids(lua_State *L, tr_host *h, size_t *n) {
  tr_pid *pids;
  size_t cap = 0;
  tr_host_actors(h, NULL, 0, n);
  do { /* the list does not change while we look: no actor runs */
    cap = *n;
    pids = lua_newuserdatauv(L, (cap ? cap : 1) * sizeof *pids, 0);
    tr_host_actors(h, pids, cap, n);
  } while (*n > cap && (lua_pop(L, 1), 1));
  return pids;
}

/* [] -> every actor of this host, oldest first (the spawner's "list"). */
int trL__host_list(lua_State *L) {
  trL__host *lh = host_of(L);
  size_t n, i, k = 0;
  tr_pid *pids = host_pids(L, lh->h, &n);
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    tr_actor_info a;
    if (tr_actor_get_info(lh->h, pids[i], &a) != TR_OK)
      continue;
    push_info(L, &a);
    lua_rawseti(L, -2, (lua_Integer)++k);
  }
  return 1;
}

/* actor.list([{host = N, timeout = ms}]) -> the node's actors, host by
 * host, and nil or the hosts that did not answer (index -> why). */
int trL__list(lua_State *L) {
  trL__host *lh = host_of(L);
  int only = -1, n = trL__node_size(lh), here = node_here(lh);
  uint32_t ms = TRL_NODE_MS;
  lua_settop(L, 1);
  if (!lua_isnil(L, 1)) {
    trL__checktype(L, 1, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
      const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
      if (!strcmp(k, "host")) {
        lua_Integer v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -1;
        if (v < 0 || v >= n)
          return trL__argerror(L, 1,
                               lua_pushfstring(L, "host must be 0..%d, got %s",
                                               n - 1, trL__got(L, -1)));
        only = (int)v;
      } else if (!strcmp(k, "timeout")) {
        if (!trL__toms(L, -1, 1, 0xffffff, &ms))
          return trL__argerror(
              L, 1,
              lua_pushfstring(L, "timeout must be 1..16777215 ms, got %s",
                              trL__got(L, -1)));
      } else {
        return trL__argerror(
            L, 1, lua_pushfstring(L, "unknown option %s", trL__got(L, -2)));
      }
      lua_pop(L, 1);
    }
  }
  if (only < 0 || only == here)
    trL__host_list(L);
  else
    lua_newtable(L);
  if (n <= 1 || only == here)
    return 1;
  if (!trL__push_asker(L, "list")) {
    trL__not_asked(L, lh, only);
    return 2;
  }
  lua_insert(L, -2);
  if (only < 0)
    lua_pushnil(L);
  else
    lua_pushinteger(L, only);
  lua_pushinteger(L, ms);
  lua_callk(L, 3, 2, 0, two_k);
  return 2;
}

size_t trL__mailbox_bytes(lua_State *L, tr_host *h) {
  size_t n, i, bytes = 0;
  tr_pid *pids = host_pids(L, h, &n);
  for (i = 0; i < n; i++) {
    tr_actor_info a;
    if (tr_actor_get_info(h, pids[i], &a) == TR_OK)
      bytes += a.mailbox_bytes;
  }
  lua_pop(L, 1);
  return bytes;
}
