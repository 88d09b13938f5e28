/*
 * lvalue.c -- Lua values to message values and back.
 *
 * Sending copies: nil, booleans, integers and floats (kept apart), strings
 * (any bytes), pids and tables, nested up to TR_MAX_DEPTH. A table whose
 * keys are exactly 1..n travels as an array, any other as a map. Functions,
 * coroutines, other userdata and cycles are refused at the sender with an
 * error naming the argument; the half-built message is freed first.
 */
#include <stdio.h>
#include <string.h>

#include "ltroupe.h"

typedef struct encoder {
  lua_State *L;
  tr_msg *m;
  const void
      *path[TR_MAX_DEPTH + 1]; /* tables being encoded, outermost first */
  int depth;
  char err[160];
} encoder;

static int add(encoder *e, int idx);

/* Array iff the keys are exactly the integers 1..rawlen. */
static int is_array(lua_State *L, int idx, lua_Integer *n, uint32_t *pairs) {
  lua_Integer len = (lua_Integer)lua_rawlen(L, idx), ints = 0;
  uint32_t total = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_Integer k;
    total++;
    if (lua_isinteger(L, -2) && (k = lua_tointeger(L, -2)) >= 1 && k <= len)
      ints++;
    lua_pop(L, 1);
  }
  *n = len;
  *pairs = total;
  return ints == len && (lua_Integer)total == len;
}

static int add_table(encoder *e, int idx) {
  lua_State *L = e->L;
  const void *t = lua_topointer(L, idx);
  lua_Integer n, i;
  uint32_t pairs;
  int d, rc;
  for (d = 0; d < e->depth; d++)
    if (e->path[d] == t) {
      snprintf(e->err, sizeof e->err, "a table that contains itself (cycle)");
      return -1;
    }
  if (e->depth >= TR_MAX_DEPTH) {
    snprintf(e->err, sizeof e->err, "tables nested deeper than %d",
             TR_MAX_DEPTH);
    return -1;
  }
  luaL_checkstack(L, 4, "nesting");
  e->path[e->depth++] = t;
  if (is_array(L, idx, &n, &pairs)) {
    if ((rc = tr_msg_add_array(e->m, (uint32_t)n)))
      goto full;
    for (i = 1; i <= n; i++) {
      lua_rawgeti(L, idx, i);
      if (add(e, lua_gettop(L)))
        return -1;
      lua_pop(L, 1);
    }
  } else {
    if ((rc = tr_msg_add_map(e->m, pairs)))
      goto full;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      int top = lua_gettop(L);
      if (add(e, top - 1) || add(e, top))
        return -1;
      lua_pop(L, 1);
    }
  }
  e->depth--;
  return 0;
full:
  snprintf(e->err, sizeof e->err, "%s", tr_strerror(rc));
  return -1;
}

static int add(encoder *e, int idx) {
  lua_State *L = e->L;
  tr_msg *m = e->m;
  int rc = 0;
  size_t len;
  const char *s;
  tr_pid pid;
  if (lua_isinteger(L, idx)) { /* the usual argument: one call less */
    rc = tr_msg_add_int(m, lua_tointeger(L, idx));
    goto added;
  }
  switch (lua_type(L, idx)) {
  case LUA_TNIL:
    rc = tr_msg_add_nil(m);
    break;
  case LUA_TBOOLEAN:
    rc = tr_msg_add_bool(m, lua_toboolean(L, idx));
    break;
  case LUA_TNUMBER: /* a float */
    rc = tr_msg_add_float(m, lua_tonumber(L, idx));
    break;
  case LUA_TSTRING:
    s = lua_tolstring(L, idx, &len);
    rc = tr_msg_add_str(m, s, len);
    break;
  case LUA_TTABLE:
    return add_table(e, idx);
  case LUA_TUSERDATA:
    if ((pid = trL__test_pid(L, idx))) {
      rc = tr_msg_add_pid(m, pid);
      break;
    }
    /* fall through */
  default:
    snprintf(e->err, sizeof e->err, "a %s cannot be sent%s",
             luaL_typename(L, idx), e->depth ? " (it is inside a table)" : "");
    return -1;
  }
added:
  if (rc) {
    snprintf(e->err, sizeof e->err, "%s", tr_strerror(rc));
    return -1;
  }
  return 0;
}

/* Adds the values at [first, last], last being the top; the index of one
 * that cannot be sent, with m freed and the reason in e->err, or 0. */
static int add_all(encoder *e, int first, int last) {
  int i, top = last; /* add leaves the stack as it found it */
  e->depth = 0;
  for (i = first; i <= last; i++) {
    if (add(e, i)) {
      tr_msg_free(e->m);
      lua_settop(e->L, top);
      return i;
    }
  }
  return 0;
}

void trL__add_values(lua_State *L, tr_msg *m, int first, int last) {
  encoder e;
  int bad;
  e.L = L;
  e.m = m;
  if ((bad = add_all(&e, first, last)))
    trL__argerror(L, bad, e.err); /* the index is the user's argument */
}

void trL__add_results(lua_State *L, tr_msg *m, int first, int last) {
  encoder e;
  int bad;
  e.L = L;
  e.m = m;
  if ((bad = add_all(&e, first, last)))
    luaL_error(L, "cannot send the reply: value #%d: %s", bad - first + 1,
               e.err);
}

/* Pushes v, in the one slot the caller has made room for (a container
 * makes room for its items itself). Returns where the value after v
 * starts when `after` is set, else NULL: a container has walked its items
 * by then and knows for free, and a last argument needs no skipping.
 * Walking once matters: tr_value_next on a table skips it all again, at
 * every level of nesting. */
static const tr_value *push(lua_State *L, const tr_value *v, int after) {
  int64_t i;
  double d;
  const char *s;
  size_t len, k, n;
  int b;
  tr_pid pid;
  if (tr_value_int(v, &i) == 0) { /* the usual value: decoded once */
    lua_pushinteger(L, (lua_Integer)i);
    return after ? tr_value_next(v) : NULL;
  }
  switch (tr_value_type(v)) {
  case TR_INT: /* a C sender's uint64 past INT64_MAX: only a float holds it */
  case TR_FLOAT:
    tr_value_float(v, &d);
    lua_pushnumber(L, d);
    break;
  case TR_BOOL:
    tr_value_bool(v, &b);
    lua_pushboolean(L, b);
    break;
  case TR_STR:
    tr_value_str(v, &s, &len);
    lua_pushlstring(L, s, len);
    break;
  case TR_PID:
    luaL_checkstack(L, 3, "message too deep"); /* the intern table's work */
    tr_value_pid(v, &pid);
    trL__push_pid(L, pid);
    break;
  case TR_ARRAY:
    n = tr_value_len(v);
    lua_createtable(L, (int)n, 0);
    if (n == 0)
      break; /* what follows starts right after the header */
    luaL_checkstack(L, 2, "message too deep");
    for (k = 0, v = tr_value_at(v, 0); k < n; k++) {
      v = push(L, v, 1);
      lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    return v;
  case TR_MAP:
    n = tr_value_len(v);
    lua_createtable(L, 0, (int)n);
    if (n == 0)
      break; /* what follows starts right after the header */
    luaL_checkstack(L, 2, "message too deep");
    for (k = 0, v = tr_value_key(v, 0); k < n; k++) {
      v = push(L, v, 1);
      /* nil and NaN cannot be Lua keys: a C sender's such pair is dropped */
      if (lua_isnil(L, -1) || (lua_type(L, -1) == LUA_TNUMBER &&
                               lua_tonumber(L, -1) != lua_tonumber(L, -1))) {
        lua_pop(L, 1);
        v = tr_value_next(v);
      } else {
        v = push(L, v, 1);
        lua_rawset(L, -3);
      }
    }
    return v;
  default:
    lua_pushnil(L);
  }
  return after ? tr_value_next(v) : NULL;
}

int trL__push_value(lua_State *L, const tr_value *v) {
  luaL_checkstack(L, 3, "message too deep");
  push(L, v, 0);
  return 1;
}

int trL__push_args(lua_State *L, tr_msg *m, size_t from) {
  size_t n = tr_msg_argc(m), i;
  const tr_value *v;
  if (n <= from)
    return 0;
  if (!lua_checkstack(L, (int)(n - from) + 2)) /* luaL_checkstack's error */
    luaL_error(L, "stack overflow (too many values in a message)");
  for (i = from, v = tr_msg_arg(m, from); i < n; i++)
    v = push(L, v, i + 1 < n);
  return (int)(n - from);
}
