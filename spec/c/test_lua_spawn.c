/*
 * test_lua_spawn.c -- a C program starts Lua actors on the host it steps,
 * without actor.run: trL_spawn("module.function", args...) after the one
 * setup call, trL_attach, which also starts the router. The actors reach
 * the store through it as under `troupe`; a busy one is suspended when a
 * step's budget is spent and goes on at the next step.
 */
#include <stdlib.h>

#include <lauxlib.h>
#include <lualib.h>

#include "luatest.h"
#include "test.h"
#include "troupe_lua.h"

static const char module[] = "package.preload['ai'] = function()\n"
                             "  local actor = require 'actor'\n"
                             "  local kv = require 'actor.kv'\n"
                             "  local ai = {}\n"
                             "  function ai.remember(key, value)\n"
                             "    assert(kv.set(key, value))\n"
                             "    note(key, kv.get(key))\n"
                             "  end\n"
                             "  function ai.spin()\n"
                             "    SPINS = 0\n"
                             "    while true do SPINS = SPINS + 1 end\n"
                             "  end\n"
                             "  return ai\n"
                             "end\n";

typedef struct seen {
  int notes;
  char key[64], value[64];
} seen;

/* note(key, value), from the actors. */
static int l_note(lua_State *L) {
  seen *s = lua_touserdata(L, lua_upvalueindex(1));
  size_t klen, vlen;
  const char *key = luaL_checklstring(L, 1, &klen);
  const char *value = luaL_optlstring(L, 2, "nil", &vlen);
  test_copy_str(s->key, sizeof s->key, key, klen);
  test_copy_str(s->value, sizeof s->value, value, vlen);
  s->notes++;
  return 0;
}

static lua_State *setup(tr_host *h, seen *s) {
  lua_State *L = test_lua_new();
  CHECK_EQ(trL_attach(L, h), TR_OK);
  lua_pushlightuserdata(L, s);
  lua_pushcclosure(L, l_note, 1);
  lua_setglobal(L, "note");
  CHECK_EQ(luaL_dostring(L, module), LUA_OK);
  return L;
}

/* An actor started from C writes to the store and reads it back. */
static void test_actor_reaches_the_store(void) {
  seen s = {0, "", ""};
  tr_host *h = tr_host_new(NULL);
  lua_State *L = setup(h, &s);
  tr_pid pid = 0;
  CHECK(tr_whereis(h, "router") != 0);
  lua_pushstring(L, "hello");
  lua_pushstring(L, "world");
  CHECK_EQ(trL_spawn(L, "ai.remember", 2, &pid), LUA_OK);
  CHECK(pid != 0);
  CHECK_EQ(lua_gettop(L), 0);
  STEP_UNTIL(h, s.notes > 0, 30000);
  CHECK_EQ(s.notes, 1);
  CHECK_STR(s.key, "hello");
  CHECK_STR(s.value, "world");
  lua_close(L);
  tr_host_free(h);
}

/* A name that is no function fails like lua_pcall, message on the stack. */
static void test_bad_names(void) {
  seen s = {0, "", ""};
  tr_host *h = tr_host_new(NULL);
  lua_State *L = setup(h, &s);
  tr_pid pid = 7;
  lua_pushinteger(L, 1);
  CHECK(trL_spawn(L, "ai.nothing", 1, &pid) != LUA_OK);
  CHECK_EQ(pid, 0);
  CHECK(strstr(lua_tostring(L, -1), "'ai.nothing' is not a function"));
  lua_pop(L, 1);
  CHECK(trL_spawn(L, "nosuchmodule.f", 0, &pid) != LUA_OK);
  CHECK(strstr(lua_tostring(L, -1), "nosuchmodule") != NULL);
  lua_pop(L, 1);
  CHECK_EQ(lua_gettop(L), 0);
  lua_close(L);
  tr_host_free(h);
}

static lua_Integer spins(lua_State *L) {
  lua_Integer n;
  lua_getglobal(L, "SPINS");
  n = lua_tointeger(L, -1);
  lua_pop(L, 1);
  return n;
}

/* A Lua actor that never waits: each 1 ms step returns (far within the
 * loose bound), and the actor goes on from where it was at the next. */
static void test_busy_actor_across_steps(void) {
  seen s = {0, "", ""};
  tr_host *h = tr_host_new(NULL);
  lua_State *L = setup(h, &s);
  int i, grew = 0;
  CHECK_EQ(trL_spawn(L, "ai.spin", 0, NULL), LUA_OK);
  for (i = 0; i < 20; i++) {
    lua_Integer before = spins(L);
    uint64_t start = uv_hrtime();
    CHECK_EQ(tr_host_step_for(h, 1000), 1);
    CHECK((uv_hrtime() - start) / 1000000u < 50);
    grew += spins(L) > before;
  }
  CHECK(grew >= 10);
  lua_close(L); /* the spinner is still running */
  tr_host_free(h);
}

int main(void) {
  RUN(test_actor_reaches_the_store);
  RUN(test_bad_names);
  RUN(test_busy_actor_across_steps);
  return test_report();
}
