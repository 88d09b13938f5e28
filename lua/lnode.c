/*
 * lnode.c -- Lua actors started by module on any host of a node.
 *
 * A closure cannot leave its lua_State, so an actor meant for another host
 * is named by module: the host runs require(module)[fn](args...) in its own
 * state. Each attached state keeps a native actor on its host, the
 * spawner, registered node-wide as "troupe.spawner.<index>"; a call
 * spawn(module, fn, link, name, args...) to it starts the actor there and
 * answers its pid, or an error saying why it could not. actor.spawn{...}
 * (actor/init.lua) makes that call, or starts the actor at once when the
 * host is its own (actor.core._spawn_module, the same code). It also
 * answers for its host what actor.list, actor.info, actor.stats{node =
 * true} and actor.configure{log_level} ask of every host of the node.
 */
#include <stdio.h>
#include <string.h>

#include "ltroupe.h"

#define SPAWNER_PREFIX "troupe.spawner."

/* Under pcall: [module, fn|nil, link pid|nil, name|nil, args...] ->
 * the new actor's pid. Any failure raises the bare reason. */
static int start_module(lua_State *L) {
  trL__host *lh = trL__host_get(L);
  const char *module = luaL_checkstring(L, 1);
  char name[256] = "";
  tr_pid link, pid;
  int rc;
  if (lua_gettop(L) < 4)
    lua_settop(L, 4); /* the function goes at 4, its arguments above it */
  link = trL__test_pid(L, 3);
  if (lua_type(L, 4) == LUA_TSTRING)
    snprintf(name, sizeof name, "%s", lua_tostring(L, 4));
  lua_getglobal(L, "require");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1); /* raises "module 'x' not found: ..." */
  if (lua_isnil(L, 2)) {
    /* no fn: the module is the actor's function, or has start() */
    if (lua_type(L, -1) == LUA_TTABLE) {
      int reloadable = 0;
      if (lua_getfield(L, -1, "start") == LUA_TNIL) {
        reloadable = lua_getfield(L, -2, "handlers") == LUA_TTABLE;
        lua_pop(L, 1);
      }
      lua_remove(L, -2);
      if (reloadable) {
        /* handlers and no start: a reloadable module (README "Hot
         * reload"), run as actor.serve_module(module, args...) */
        lua_pop(L, 1);
        lua_pushvalue(L, 1);
        lua_insert(L, 5); /* the module's name before the arguments */
        lua_getglobal(L, "require");
        lua_pushliteral(L, "actor");
        lua_call(L, 1, 1);
        lua_getfield(L, -1, "serve_module");
        lua_remove(L, -2);
      }
      if (lua_type(L, -1) != LUA_TFUNCTION)
        return luaL_error(L,
                          "module '%s' is not a function and its 'start' is "
                          "%s, not a function",
                          module, luaL_typename(L, -1));
    } else if (lua_type(L, -1) != LUA_TFUNCTION) {
      return luaL_error(L, "module '%s' is %s, not a function or a table",
                        module, luaL_typename(L, -1));
    }
  } else {
    const char *fn = lua_tostring(L, 2);
    if (lua_type(L, -1) != LUA_TTABLE)
      return luaL_error(L, "module '%s' is %s, not a table", module,
                        luaL_typename(L, -1));
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
    if (lua_type(L, -1) != LUA_TFUNCTION)
      return luaL_error(L, "'%s.%s' is %s, not a function", module, fn,
                        luaL_typename(L, -1));
  }
  lua_replace(L, 4); /* the function, its arguments above it */
  pid = trL__spawn(L, 4);
  trL__set_module(L, pid, module, lua_tostring(L, 2));
  if (name[0] && (rc = tr_register(lh->h, name, pid)) != TR_OK) {
    tr_kill(lh->h, pid, "killed"); /* it has not run yet */
    return luaL_error(L, "the name '%s' is taken (%s)", name, tr_strerror(rc));
  }
  if (link)
    tr_link(lh->h, pid, link);
  trL__push_pid(L, pid);
  return 1;
}

/* actor.core._spawn_module(module, fn, link, name, args...) -> pid, or
 * nil and why: the local half of actor.spawn{...}. */
static int l_spawn_module(lua_State *L) {
  lua_pushcfunction(L, start_module);
  lua_insert(L, 1);
  if (lua_pcall(L, lua_gettop(L) - 1, 1, 0) != LUA_OK) {
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2;
  }
  return 1;
}

/* Under pcall: [msg] -> pid; the call's values become start_module's. */
static int start_from(lua_State *L) {
  tr_msg *m = lua_touserdata(L, 1);
  int n;
  lua_settop(L, 0);
  lua_pushcfunction(L, start_module);
  n = trL__push_args(L, m, 0);
  lua_call(L, n, 1);
  return 1;
}

/* Under pcall: [msg] -> the reply to "reload"(module): what actor.reload
 * here returns, its version or nil and why (README "Hot reload"). */
static int reload_from(lua_State *L) {
  tr_msg *m = lua_touserdata(L, 1), *out;
  int n;
  lua_settop(L, 0);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "actor"); /* which sets actor.core's _reload_here */
  lua_call(L, 1, 0);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "actor.core");
  lua_call(L, 1, 1);
  lua_getfield(L, 1, "_reload_here");
  n = trL__push_args(L, m, 0);
  lua_call(L, n, 2);
  if (!(out = tr_msg_new("reply")))
    return luaL_error(L, "out of memory");
  trL__add_results(L, out, 2, 3); /* frees out if it raises */
  lua_pushlightuserdata(L, out);
  return 1;
}

/* Under pcall: [fn, msg] -> the reply to the call: what fn returns when
 * called with its values. */
static int answer_from(lua_State *L) {
  tr_msg *m = lua_touserdata(L, 2), *out;
  int n;
  lua_settop(L, 1);
  n = trL__push_args(L, m, 0);
  lua_call(L, n, LUA_MULTRET);
  if (!(out = tr_msg_new("reply")))
    return luaL_error(L, "out of memory");
  trL__add_results(L, out, 1, lua_gettop(L)); /* frees out if it raises */
  lua_pushlightuserdata(L, out);
  return 1;
}

/* What the spawner answers about its own host, for actor.list, actor.info,
 * actor.stats{node = true} and actor.configure{log_level} asked on another
 * host of the node (linspect.c). */
static const struct {
  const char *name;
  lua_CFunction fn;
} here_requests[] = {{"list", trL__host_list},
                     {"info", trL__host_info},
                     {"stats", trL__host_stats},
                     {"log_level", trL__log_level_here}};

/* The spawner: its state is the trL__host it starts actors in. */
static int spawner_init(tr_actor *self, void *state, tr_msg *args) {
  (void)args;
  *(trL__host **)state = tr_actor_ctx(self);
  return 0;
}

static int spawner_handle(tr_actor *self, void *state, tr_msg *m) {
  trL__host *lh = *(trL__host **)state;
  tr_host *h = tr_actor_host(self);
  lua_State *L = lh->L;
  int top;
  size_t i;
  tr_msg *out;
  if (!m || tr_msg_kind(m) != TR_KIND_CALL)
    return TR_CONTINUE; /* only calls are asked of it */
  for (i = 0; i < sizeof here_requests / sizeof *here_requests; i++)
    if (tr_msg_is(m, here_requests[i].name))
      break;
  if (i < sizeof here_requests / sizeof *here_requests ||
      tr_msg_is(m, "reload")) {
    top = lua_gettop(L);
    if (i < sizeof here_requests / sizeof *here_requests) {
      lua_pushcfunction(L, answer_from);
      lua_pushcfunction(L, here_requests[i].fn);
    } else {
      lua_pushcfunction(L, reload_from);
    }
    lua_pushlightuserdata(L, m);
    if (lua_pcall(L, lua_gettop(L) - top - 1, 1, 0) != LUA_OK) {
      const char *why = lua_tostring(L, -1);
      tr_reply_error(h, m, "%s", why ? why : "(an error object)");
    } else {
      tr_reply(h, m, lua_touserdata(L, -1));
    }
    lua_settop(L, top);
    return TR_CONTINUE;
  }
  if (!tr_msg_is(m, "spawn")) {
    tr_reply_error(h, m,
                   "the spawner answers only 'spawn', 'reload', 'list', "
                   "'info', 'stats' and 'log_level'");
    return TR_CONTINUE;
  }
  top = lua_gettop(L);
  lua_pushcfunction(L, start_from);
  lua_pushlightuserdata(L, m);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    const char *why = lua_tostring(L, -1);
    tr_reply_error(h, m, "%s", why ? why : "(an error object)");
  } else if ((out = tr_msg_new("reply"))) {
    tr_msg_add_pid(out, trL__test_pid(L, -1));
    tr_reply(h, m, out);
  }
  lua_settop(L, top);
  return TR_CONTINUE;
}

static const tr_behaviour spawner_behaviour = {
    "lua.spawner", sizeof(trL__host *), spawner_init, spawner_handle, NULL};

void trL__start_spawner(trL__host *lh) {
  tr_spawn_opts o = {0};
  char name[64];
  int rc;
  snprintf(name, sizeof name, SPAWNER_PREFIX "%u",
           (unsigned)tr_host_index(lh->h));
  if (tr_whereis(lh->h, name))
    return;
  o.ctx = lh;
  o.name = name;
  rc = tr_spawn(lh->h, &spawner_behaviour, NULL, &o, NULL);
  if (rc && rc != TR_EEXIST)
    tr_host_log(lh->h, TR_LOG_ERROR, "cannot start %s: %s", name,
                tr_strerror(rc));
}

/* actor.spawn{...}: the Lua half (actor/init.lua, set with
 * _set_spawn_table) checks the spec and starts the actor, calling the
 * target's spawner when it is on another host; it returns the pid, or
 * false, why, and whether it is a bad argument. Raised here, so that the
 * error names the line that called actor.spawn. */
#define TRL_SPAWN_TABLE "actor.spawn_table"

static int spawn_table_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  if (lua_toboolean(L, 1)) {
    lua_settop(L, 1);
    return 1;
  }
  if (lua_toboolean(L, 3))
    return trL__argerror(L, 1, lua_tostring(L, 2));
  return luaL_error(L, "%s", lua_tostring(L, 2));
}

int trL__spawn_table(lua_State *L) {
  lua_settop(L, 1);
  if (lua_getfield(L, LUA_REGISTRYINDEX, TRL_SPAWN_TABLE) != LUA_TFUNCTION)
    return luaL_error(L, "actor.spawn{...} needs require \"actor\"");
  lua_insert(L, 1);
  lua_callk(L, 1, 3, 0, spawn_table_k);
  return spawn_table_k(L, LUA_OK, 0);
}

static int l_set_spawn_table(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, TRL_SPAWN_TABLE);
  return 0;
}

/* actor.host() -> this host's index in its node. */
static int l_host(lua_State *L) {
  trL__host *lh = trL__host_get(L);
  lua_pushinteger(L, (lua_Integer)tr_host_index(lh->h));
  return 1;
}

/* actor.hosts() -> how many hosts the node has (a host of tr_host_new is
 * a node of one). */
static int l_hosts(lua_State *L) {
  trL__host *lh = trL__host_get(L);
  tr_node *n = tr_host_node(lh->h);
  lua_pushinteger(L, n ? (lua_Integer)tr_node_size(n) : 1);
  return 1;
}

void trL__open_node(lua_State *L) {
  static const luaL_Reg funcs[] = {{"host", l_host},
                                   {"hosts", l_hosts},
                                   {"_spawn_module", l_spawn_module},
                                   {"_set_spawn_table", l_set_spawn_table},
                                   {"_set_node_asks", trL__set_node_asks},
                                   {NULL, NULL}};
  luaL_setfuncs(L, funcs, 0);
  trL__name_functions(L, "actor.", funcs);
}
