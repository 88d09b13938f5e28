/*
 * largs.c -- bad arguments, reported as Lua's own libraries report them
 * ("bad argument #2 to 'actor.send' (string expected, got nil)"), with the
 * public name of the function and the argument as the user counts it.
 *
 * luaL_argerror names a function from how it was called: 'send' for
 * actor.send(...), and under pcall(actor.send, ...) from whichever loaded
 * module it finds it in first ('actor.core.send'). Here the running C
 * function is looked up in a table the module fills when it opens, so the
 * name is the same however it is called. The checks below are the luaL_*
 * ones, raising through that.
 */
#include <string.h>

#include "ltroupe.h"

#define TRL_NAMES "actor.names" /* registry: C function -> public name */

void trL__name_functions(lua_State *L, const char *prefix,
                         const luaL_Reg *fns) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, TRL_NAMES);
  for (; fns->name; fns++) {
    if (fns->name[0] == '_') /* the module's own helpers: no public name */
      continue;
    lua_pushcfunction(L, fns->func);
    lua_pushfstring(L, "%s%s", prefix, fns->name);
    lua_rawset(L, -3);
  }
  lua_pop(L, 1);
}

/* The public name of the running C function, pushed; NULL if it has none. */
static const char *public_name(lua_State *L) {
  lua_Debug ar;
  if (!lua_checkstack(L, 3) || !lua_getstack(L, 0, &ar))
    return NULL;
  lua_getinfo(L, "f", &ar);
  if (lua_getfield(L, LUA_REGISTRYINDEX, TRL_NAMES) != LUA_TTABLE)
    return NULL;
  lua_pushvalue(L, -2);
  return lua_rawget(L, -2) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
}

int trL__argerror(lua_State *L, int arg, const char *msg) {
  const char *name = public_name(L);
  if (!name)
    return luaL_argerror(L, arg, msg);
  return luaL_error(L, "bad argument #%d to '%s' (%s)", arg, name, msg);
}

/* How Lua's errors name the type of the value at idx: a __name first. */
static const char *type_name(lua_State *L, int idx) {
  if (luaL_getmetafield(L, idx, "__name") == LUA_TSTRING)
    return lua_tostring(L, -1);
  if (lua_type(L, idx) == LUA_TLIGHTUSERDATA)
    return "light userdata";
  return luaL_typename(L, idx);
}

int trL__typeerror(lua_State *L, int arg, const char *tname) {
  return trL__argerror(
      L, arg,
      lua_pushfstring(L, "%s expected, got %s", tname, type_name(L, arg)));
}

const char *trL__got(lua_State *L, int idx) {
  switch (lua_type(L, idx)) {
  case LUA_TNUMBER:
    if (lua_tonumber(L, idx) != lua_tonumber(L, idx)) /* "nan", not "-nan" */
      return lua_pushliteral(L, "nan");
    /* fall through */
  case LUA_TBOOLEAN:
  case LUA_TNIL:
    return luaL_tolstring(L, idx, NULL);
  case LUA_TSTRING:
    return lua_pushfstring(L, "'%s'", lua_tostring(L, idx));
  default:
    return lua_pushfstring(L, "a %s", type_name(L, idx));
  }
}

void trL__checktype(lua_State *L, int arg, int t) {
  if (lua_type(L, arg) != t)
    trL__typeerror(L, arg, lua_typename(L, t));
}

const char *trL__checklstring(lua_State *L, int arg, size_t *len) {
  const char *s = lua_tolstring(L, arg, len);
  if (!s)
    trL__typeerror(L, arg, "string");
  return s;
}

const char *trL__optstring(lua_State *L, int arg, const char *def) {
  return lua_isnoneornil(L, arg) ? def : trL__checklstring(L, arg, NULL);
}

lua_Integer trL__checkinteger(lua_State *L, int arg) {
  int isnum;
  lua_Integer v = lua_tointegerx(L, arg, &isnum);
  if (!isnum) {
    if (lua_isnumber(L, arg))
      trL__argerror(L, arg, "number has no integer representation");
    else
      trL__typeerror(L, arg, "number");
  }
  return v;
}

int trL__checkoption(lua_State *L, int arg, const char *def,
                     const char *const list[]) {
  const char *s =
      def && lua_isnoneornil(L, arg) ? def : trL__checklstring(L, arg, NULL);
  int i;
  for (i = 0; list[i]; i++)
    if (!strcmp(s, list[i]))
      return i;
  return trL__argerror(L, arg, lua_pushfstring(L, "invalid option '%s'", s));
}

int trL__toms(lua_State *L, int idx, uint32_t lo, uint32_t hi, uint32_t *ms) {
  lua_Number v;
  uint32_t whole;
  int isnum;
  if (lua_isinteger(L, idx)) {
    lua_Integer i = lua_tointeger(L, idx);
    if (i < lo || i > hi)
      return 0;
    *ms = (uint32_t)i;
    return 1;
  }
  v = lua_tonumberx(L, idx, &isnum);
  if (!isnum || !(v >= 0 && v <= hi)) /* NaN fails too */
    return 0;
  whole = (uint32_t)v;
  if ((lua_Number)whole < v) /* up: a wait is never shorter than asked */
    whole++;
  if (whole < lo)
    return 0;
  *ms = whole;
  return 1;
}

uint32_t trL__checkms(lua_State *L, int arg, uint32_t lo, uint32_t hi) {
  uint32_t ms = 0;
  if (!trL__toms(L, arg, lo, hi, &ms)) {
    if (!lua_isnumber(L, arg))
      trL__typeerror(L, arg, "number");
    trL__argerror(L, arg,
                  lua_pushfstring(L, "a time from %I to %I ms expected, got %s",
                                  (lua_Integer)lo, (lua_Integer)hi,
                                  trL__got(L, arg)));
  }
  return ms;
}
