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
TR_API int luaopen_actor_core(lua_State *L);

/* Makes `require "actor"` work in L for a program that links the module
 * in: package.path gains lua_dir/?.lua and lua_dir/?/init.lua (lua_dir is
 * the lua/ folder holding the module's Lua files), and actor.core is
 * preloaded. */
TR_API void trL_openlibs(lua_State *L, const char *lua_dir);

/* Runs Lua actors of L on host h, which the caller keeps and frees; call
 * it on h's loop thread, before any actor of L starts. Without it,
 * actor.run makes a host of its own. It is the one setup call a program
 * stepping its own host needs: it starts the router on h, with the store
 * behind it (started on the first request, as actor.configure set it by
 * then), as actor.run does -- unless h has a router already -- so Lua
 * actors reach actor.kv and actor.reset exactly as under `troupe`. It also
 * starts the state's spawner, registered as "troupe.spawner.<index>" (the
 * host's tr_host_index), which starts Lua actors by module for
 * actor.spawn{module = ..., host = index} from any host of the node; on a
 * node, attach host 0's state first, so that the router is its. The two are
 * freed in either order: tr_host_free(h) ends every actor while L still runs
 * their to-be-closed variables, and L then says "the host has stopped";
 * lua_close(L) on a host still running shuts h down first (every actor ends, as
 * in tr_host_free) and leaves it stopped, for tr_host_free. The host also stops
 * L's use of it when it stops by itself (after tr_host_stop, or at actor.run's
 * end). The host keeps one actor of its own for L while attached, the
 * spawner and the router (they show in the count of actors). Returns TR_OK,
 * TR_ESTOPPED for a stopped host, TR_EEXIST when L is attached to another host
 * that has not stopped, TR_ETHREAD off h's loop thread. */
TR_API int trL_attach(lua_State *L, tr_host *h);

/* Starts a Lua actor on L's host, without actor.run: it runs fn, named
 * "module.function" (require(module).function; without a dot, a global
 * function), with the nargs values on top of L's stack as its arguments
 * (copied, as a message's values; they are popped). The actor runs as the
 * host is stepped or run. Returns LUA_OK and its pid in *out (may be
 * NULL), or an error status with the message on top of L's stack, as
 * lua_pcall does (an unknown module, not a function, a stopped host).
 * Call it on the host's loop thread, outside the host's callbacks, after
 * trL_attach. A chunk run with luaL_dostring may call actor.spawn too. */
TR_API int trL_spawn(lua_State *L, const char *fn, int nargs, tr_pid *out);

/* Makes a native behaviour spawnable from Lua: actor.spawn(name, ...), whose
 * arguments are the spawn message's values. Each such actor gets ctx as
 * its tr_spawn_opts.ctx (tr_actor_ctx): the C side's pointers stay on the
 * C side. ctx (may be NULL) must outlive the actors; troupe never frees
 * it. */
TR_API void trL_define(lua_State *L, const char *name, const tr_behaviour *b,
                       void *ctx);

/* The host L's actors run on, or NULL when none yet. */
TR_API tr_host *trL_host_of(lua_State *L);

/* Opens the console on L's host, as `troupe --console PATH` does: a Unix
 * socket at path (mode 0600; a stale socket there is replaced) that
 * `troupe attach PATH` and `troupe top PATH` connect to, each connection
 * an actor evaluating its lines on this host. The socket is served by an
 * actor (actor.console's listener), there once the host has run it (its
 * next step), which closes it and removes the file when it ends, with the
 * host. A path that is not a socket, or in a folder troupe cannot write
 * to, fails here. Returns LUA_OK, or an error status with
 * the message on top of L's stack. Same conditions as trL_spawn. */
TR_API int trL_console_start(lua_State *L, const char *path);

#ifdef __cplusplus
}
#endif
#endif
