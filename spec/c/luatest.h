/*
 * luatest.h -- what the C tests that embed Lua actors share: a new Lua
 * state with Lua's libraries and the actor module's, whose Lua files are
 * found under $TROUPE_SOURCE_DIR/lua (ctest sets it) or else under the
 * source tree the test was built from.
 */
#ifndef TR_LUATEST_H
#define TR_LUATEST_H

#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lualib.h>

#include "troupe_lua.h"

#ifndef TROUPE_SOURCE_DIR
#define TROUPE_SOURCE_DIR "."
#endif

static lua_State *test_lua_new(void) {
  const char *src = getenv("TROUPE_SOURCE_DIR");
  char dir[4096];
  lua_State *L = luaL_newstate();
  snprintf(dir, sizeof dir, "%s/lua", src && *src ? src : TROUPE_SOURCE_DIR);
  luaL_openlibs(L);
  trL_openlibs(L, dir);
  return L;
}

#endif
