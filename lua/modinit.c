/*
 * modinit.c -- the entry point of actor/core.so, the module a stock lua5.4
 * loads; a static library alone would leave luaopen_actor_core out of it.
 */
#include "troupe_lua.h"

int (*const trL__module_entry)(lua_State *) = luaopen_actor_core;
