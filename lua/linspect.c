/*
 * linspect.c -- actor.info, actor.list and the figures of actor.stats:
 * the core's tr_actor_get_info as a table, with what only the Lua layer
 * knows about a Lua actor -- its function, where it waits, and an
 * estimate of the memory it holds.
 */
#include <string.h>

#include "ltroupe.h"

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

int trL__info(lua_State *L) {
  trL__host *lh = host_of(L);
  tr_pid pid = trL__test_pid(L, 1);
  tr_actor_info a;
  int rc;
  if (!pid)
    return trL__typeerror(L, 1, "pid");
  rc = tr_actor_get_info(lh->h, pid, &a);
  if (rc == TR_OK) {
    push_info(L, &a);
    return 1;
  }
  lua_pushnil(L);
  lua_pushstring(L, rc == TR_EINVAL && lh->h ? "an actor of another host"
                                             : tr_strerror(rc));
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

int trL__list(lua_State *L) {
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
