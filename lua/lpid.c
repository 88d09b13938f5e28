/*
 * lpid.c -- pids as a Lua type: a small userdata that prints as
 * tr_pid_format does (<pid SLOT.GEN>, <pid HOST.SLOT.GEN>, <pid
 * NODE:HOST.SLOT.GEN>) and compares by value.
 *
 * Pids are interned through a weak table, so while one is reachable every
 * copy that comes back in a message is the same userdata: a pid works as a
 * table key, not only with ==.
 */
#include "ltroupe.h"

#define TRL_PIDS "actor.pids" /* registry: integer pid -> userdata, weak */

void trL__push_pid(lua_State *L, tr_pid pid) {
  tr_pid *p;
  lua_getfield(L, LUA_REGISTRYINDEX, TRL_PIDS);
  if (lua_rawgeti(L, -1, (lua_Integer)pid) == LUA_TUSERDATA) {
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);
  p = lua_newuserdatauv(L, sizeof *p, 0);
  *p = pid;
  luaL_setmetatable(L, TRL_PID);
  lua_pushvalue(L, -1);
  lua_rawseti(L, -3, (lua_Integer)pid);
  lua_remove(L, -2);
}

/* The pid metatable's address. Every send checks its destination's
 * metatable: comparing addresses with one cached in the host spares
 * luaL_testudata's registry lookup by name (a string compare and a hash
 * probe) each time. The registry keeps the table alive. */
static const void *pid_meta(lua_State *L, trL__host *lh) {
  const void *mt;
  if (lh && lh->pid_meta)
    return lh->pid_meta;
  lua_getfield(L, LUA_REGISTRYINDEX, TRL_PID);
  mt = lua_topointer(L, -1);
  lua_pop(L, 1);
  if (lh)
    lh->pid_meta = mt;
  return mt;
}

/* luaL_testudata(L, idx, TRL_PID), with the metatable found through lh,
 * or for a pid seen lately (lh->dests) by its address alone. With
 * `remember`, a pid found the long way takes the place of the one in its
 * slot: for destinations only, as the first use of a slot may raise a
 * memory error (luaL_ref), which the message encoder must not meet. */
static tr_pid test_pid(lua_State *L, trL__host *lh, int idx, int remember) {
  const tr_pid *p = lua_touserdata(L, idx);
  struct trL__dest *d;
  const void *mt;
  if (!p)
    return 0;
  d = lh ? &lh->dests[((uintptr_t)p >> 4) & (TRL_DESTS - 1)] : NULL;
  if (d && d->ud == p)
    return d->pid;
  if (!lua_getmetatable(L, idx))
    return 0;
  mt = lua_topointer(L, -1);
  lua_pop(L, 1);
  if (mt != pid_meta(L, lh))
    return 0;
  if (d && remember) {
    lua_pushvalue(L, idx);
    if (d->ud)
      lua_rawseti(L, LUA_REGISTRYINDEX, d->ref);
    else
      d->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    d->ud = p;
    d->pid = *p;
  }
  return *p;
}

tr_pid trL__test_pid(lua_State *L, int idx) {
  return test_pid(L, trL__host_find(L), idx, 0);
}

tr_pid trL__check_dest(lua_State *L, trL__host *lh, int idx) {
  tr_pid pid = test_pid(L, lh, idx, 1);
  if (pid)
    return pid;
  if (lua_type(L, idx) == LUA_TSTRING) {
    pid = tr_whereis(lh->h, lua_tostring(L, idx));
    if (!pid)
      trL__argerror(L, idx,
                    lua_pushfstring(L, "no actor is registered as '%s'",
                                    lua_tostring(L, idx)));
    return pid;
  }
  trL__typeerror(L, idx, "pid or registered name");
  return 0;
}

static int pid_eq(lua_State *L) {
  lua_pushboolean(L, trL__test_pid(L, 1) == trL__test_pid(L, 2));
  return 1;
}

static int pid_lt(lua_State *L) {
  lua_pushboolean(L, trL__test_pid(L, 1) < trL__test_pid(L, 2));
  return 1;
}

static int pid_tostring(lua_State *L) {
  tr_pid pid = *(tr_pid *)luaL_checkudata(L, 1, TRL_PID);
  char text[48];
  tr_pid_format(pid, text, sizeof text);
  lua_pushstring(L, text);
  return 1;
}

void trL__open_pid(lua_State *L) {
  static const luaL_Reg meta[] = {{"__eq", pid_eq},
                                  {"__lt", pid_lt},
                                  {"__tostring", pid_tostring},
                                  {NULL, NULL}};
  if (luaL_newmetatable(L, TRL_PID)) {
    luaL_setfuncs(L, meta, 0);
    lua_pushliteral(L, "pid");
    lua_setfield(L, -2, "__name");
  }
  lua_pop(L, 1);
  if (lua_getfield(L, LUA_REGISTRYINDEX, TRL_PIDS) != LUA_TTABLE) {
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, TRL_PIDS);
  }
  lua_pop(L, 1);
}
