/*
 * troupe_lua.h -- embedding troupe's Lua layer in a C program.
 *
 * The `actor` module's C part opens with luaopen_actor_core; the pure-Lua
 * part (lua/actor/init.lua) requires it. A program that owns its host
 * attaches it to a lua_State before running Lua actors on it.
 */
#ifndef TROUPE_LUA_H
#define TROUPE_LUA_H

#include <lua.h>

#include "troupe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The C part of the `actor` module (require "actor.core"). */
int luaopen_actor_core(lua_State *L);

/* Makes `require "actor"` work in L for a program that links the module
 * in: package.path gains lua_dir/?.lua and lua_dir/?/init.lua (lua_dir is
 * the lua/ folder holding the module's Lua files), and actor.core is
 * preloaded. */
void trL_openlibs(lua_State *L, const char *lua_dir);

/* Runs Lua actors of L on host h (which the caller keeps and frees, after
 * lua_close). Without it, actor.run makes a host of its own. */
void trL_attach(lua_State *L, tr_host *h);

/* Makes a native behaviour spawnable from Lua: actor.spawn(name, ...). */
void trL_define(lua_State *L, const char *name, const tr_behaviour *b);

/* The host L's actors run on, or NULL when none yet. */
tr_host *trL_host_of(lua_State *L);

#ifdef __cplusplus
}
#endif
#endif
