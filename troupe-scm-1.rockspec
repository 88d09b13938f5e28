-- troupe-scm-1.rockspec: the `actor` module for a stock Lua 5.4, built
-- from this tree against the system's libuv, msgpack-c, hiredis
-- and libnats:
--
--   luarocks --lua-version 5.4 make             (add --local or --tree DIR)
--   eval "$(luarocks --lua-version 5.4 path)"; lua5.4 -e 'require "actor"'
--
-- CMake builds it (TROUPE_LUA_MODULE_ONLY: actor/core.so and actor/*.lua,
-- nothing else, into the rock's own folders).
rockspec_format = "3.0"
package = "troupe"
version = "scm-1"
source = {
  url = "git+file://.",
}
description = {
  summary = "Actors for Lua 5.4 on a C core: mailboxes, calls, supervision, a key-value store",
  detailed = [[
    require "actor" gives Lua 5.4 coroutine actors on a libuv host: bounded
    mailboxes, calls with timeouts, monitors and links, a router and a
    supervisor, and a key-value store made of actors (require "actor.kv").
  ]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
external_dependencies = {
  LIBUV = { header = "uv.h" },
  MSGPACK = { header = "msgpack.h" },
  HIREDIS = { header = "hiredis/read.h" },
  NATS = { header = "nats/nats.h" },
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "RelWithDebInfo",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    TROUPE_LUA_MODULE_ONLY = "ON",
    TROUPE_INSTALL_LUA_DIR = "$(LUADIR)",
    TROUPE_INSTALL_LUA_CDIR = "$(LIBDIR)",
  },
}
