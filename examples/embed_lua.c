/*
 * embed_lua.c -- a C program that embeds Lua actors: a native C actor and
 * a Lua actor on one host, talking to each other both ways.
 *
 * The program owns the host and the lua_State: it attaches the host to the
 * state (trL_attach), makes its native behaviour spawnable from Lua under a
 * name (trL_define), and runs a Lua chunk as the root actor (actor.run).
 * The Lua actor spawns the native one, calls it (Lua -> C, with a reply),
 * sends it "ping" and receives the "pong" it sends back (C -> Lua).
 * The state and the host may be freed in either order, even with actors
 * still alive (spec/c/test_lua_embed.c does it from a frame loop).
 *
 * The pure-Lua part of the `actor` module lives in the source tree's
 * lua/actor/ folder: found through TROUPE_SOURCE_DIR (set by ctest), else
 * in the source tree this was built from.
 */
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lualib.h>

#include "troupe.h"
#include "troupe_lua.h"

#ifndef TROUPE_SOURCE_DIR
#define TROUPE_SOURCE_DIR "."
#endif

/* ------------------------------------------- the native C actor */

/* doubler: a call double(x) gets 2 * x back (an integer stays an integer);
 * a send "ping" gets a "pong" sent back to its sender. */
static int doubler_handle(tr_actor *self, void *state, tr_msg *m) {
  tr_host *h = tr_actor_host(self);
  const tr_value *x = tr_msg_arg(m, 0);
  int64_t i;
  double d;
  (void)state;
  if (tr_msg_kind(m) == TR_KIND_CALL) {
    if (tr_value_int(x, &i) == TR_OK)
      tr_reply(h, m, tr_msg_pack("reply", "I", 2 * i));
    else if (tr_value_float(x, &d) == TR_OK)
      tr_reply(h, m, tr_msg_pack("reply", "d", 2 * d));
    else /* an error reply: the Lua caller's actor.call raises it */
      tr_reply_error(h, m, "doubler wants a number");
  } else if (tr_msg_is(m, "ping")) {
    tr_send(h, tr_self(self), tr_msg_from(m), tr_msg_new("pong"));
  }
  return TR_CONTINUE;
}

static const tr_behaviour doubler = {.name = "doubler",
                                     .handle = doubler_handle};

/* ------------------------------------------------- the Lua side */

static const char script[] =
    "local actor = require 'actor'\n"
    "actor.run(function()\n"
    "  local d = actor.spawn('doubler')\n"
    "  print('Lua spawned the native doubler as ' .. tostring(d))\n"
    "  print('double(21) = ' .. actor.call(d, 'double', 21))\n"
    "  print('double(1.25) = ' .. actor.call(d, 'double', 1.25))\n"
    "  local ok, err = pcall(actor.call, d, 'double', 'x')\n"
    "  print('double(\"x\") failed: ' .. err:match('failed: (.*)$'))\n"
    "  actor.send(d, 'ping')\n"
    "  local name = actor.receive(1000)\n"
    "  print('Lua sent ping, got ' .. tostring(name) ..\n"
    "        (actor.sender() == d and ' from the doubler' or ''))\n"
    "end)\n";

/* require "actor" finds the module's Lua files in the source tree; its C
 * part, actor.core, is linked into this program. */
static void setup_module(lua_State *L) {
  const char *src = getenv("TROUPE_SOURCE_DIR");
  char dir[4096];
  if (!src || !*src)
    src = TROUPE_SOURCE_DIR;
  snprintf(dir, sizeof dir, "%s/lua", src);
  trL_openlibs(L, dir);
}

int main(void) {
  tr_host *h = tr_host_new(NULL);
  lua_State *L = luaL_newstate();
  int rc = 0;
  if (!h || !L) {
    fprintf(stderr, "embed_lua: out of memory\n");
    return 1;
  }
  luaL_openlibs(L);
  setup_module(L);
  if (trL_attach(L, h) != TR_OK) { /* Lua actors run on our host */
    fprintf(stderr, "embed_lua: cannot attach the host\n");
    lua_close(L);
    tr_host_free(h);
    return 1;
  }
  trL_define(L, "doubler", &doubler, NULL); /* actor.spawn("doubler") */

  if (luaL_dostring(L, script) != LUA_OK) {
    fprintf(stderr, "embed_lua: %s\n", lua_tostring(L, -1));
    rc = 1;
  } else {
    printf("back in C: the root actor has ended\n");
  }
  lua_close(L);    /* the two go in either order: here the Lua side */
  tr_host_free(h); /* first, then the host it ran on */
  return rc;
}
