/*
 * hello_lua.c -- a program outside troupe's tree that embeds Lua actors,
 * built against an installed troupe (troupe-lua.pc or troupe::lua). It
 * is given the folder of the module's Lua files as its first argument
 * (pkg-config --variable=luadir troupe-lua, or troupe_LUA_DIR).
 */
#include <stdio.h>

#include <lauxlib.h>
#include <lualib.h>

#include <troupe.h>
#include <troupe_lua.h>

static const char script[] =
    "local actor = require 'actor'\n"
    "actor.run(function()\n"
    "  local pid = actor.spawn(function()\n"
    "    actor.serve{ add = function(a, b) return a + b end }\n"
    "  end)\n"
    "  local sum = actor.call(pid, 'add', 2, 3)\n"
    "  print('lua actor: 2 + 3 = ' .. sum)\n"
    "  assert(sum == 5)\n"
    "end)\n";

int main(int argc, char **argv) {
  tr_host *h = tr_host_new(NULL);
  lua_State *L = luaL_newstate();
  int rc = 0;
  if (argc < 2 || !h || !L)
    return 1;
  luaL_openlibs(L);
  trL_openlibs(L, argv[1]);
  if (trL_attach(L, h) != TR_OK)
    return 1;
  if (luaL_dostring(L, script) != LUA_OK) {
    fprintf(stderr, "hello_lua: %s\n", lua_tostring(L, -1));
    rc = 1;
  }
  lua_close(L);
  tr_host_free(h);
  return rc;
}
