/*
 * test_lua_node.c -- a C program runs Lua on every host of a node, as the
 * troupe binary does: host 0 on its own thread, the others started by
 * tr_node_start whose hooks open and close a lua_State per host. Each
 * trL_attach starts that host's spawner ("troupe.spawner.<index>"), and
 * finds host 0's router rather than starting another; actor.spawn{module=}
 * then starts actors on any host, and says which module, function and host
 * it could not start.
 */
#include <stdlib.h>

#include <lauxlib.h>
#include <lualib.h>

#include "luatest.h"
#include "test.h"
#include "troupe_lua.h"

#define HOSTS 3

static const char module[] =
    "package.preload['w'] = function()\n"
    "  local actor = require 'actor'\n"
    "  return { start = function()\n"
    "    actor.serve { where = function() return actor.host() end }\n"
    "  end }\n"
    "end\n";

/* The other hosts' setup signals here once their state is attached. */
typedef struct others {
  uv_mutex_t lock;
  uv_cond_t cond;
  int ready, attached, closed;
} others;

static void other_setup(tr_host *h, void *ud) {
  others *o = ud;
  lua_State *L = test_lua_new();
  int ok = trL_attach(L, h) == TR_OK && luaL_dostring(L, module) == LUA_OK;
  tr_host_set_data(h, L);
  uv_mutex_lock(&o->lock);
  o->ready++;
  o->attached += ok;
  uv_cond_signal(&o->cond);
  uv_mutex_unlock(&o->lock);
}

static void other_teardown(tr_host *h, void *ud) {
  others *o = ud;
  lua_close(tr_host_data(h));
  uv_mutex_lock(&o->lock);
  o->closed++;
  uv_mutex_unlock(&o->lock);
}

static void test_spawn_by_module_across_a_node(void) {
  others o = {.ready = 0};
  tr_node_hooks hooks = {other_setup, other_teardown, &o};
  tr_node *n = tr_node_new(HOSTS);
  tr_host *h = tr_node_join(n, NULL);
  lua_State *L = test_lua_new();
  uint64_t deadline = uv_hrtime() + 30000000000ull;
  char name[32];
  int i;
  uv_mutex_init(&o.lock);
  uv_cond_init(&o.cond);
  CHECK_EQ(trL_attach(L, h), TR_OK);
  CHECK_EQ(luaL_dostring(L, module), LUA_OK);
  CHECK_EQ(tr_node_start(n, HOSTS - 1, NULL, &hooks), TR_OK);
  uv_mutex_lock(&o.lock);
  while (o.ready < HOSTS - 1 && uv_hrtime() < deadline)
    uv_cond_timedwait(&o.cond, &o.lock, 100000000ull);
  uv_mutex_unlock(&o.lock);
  CHECK_EQ(o.attached, HOSTS - 1);
  /* one spawner per host, one router: host 0's */
  for (i = 0; i < HOSTS; i++) {
    snprintf(name, sizeof name, "troupe.spawner.%d", i);
    CHECK_EQ(tr_pid_host(tr_whereis(h, name)), (uint32_t)i);
    CHECK(tr_whereis(h, name) != 0);
  }
  CHECK(tr_whereis(h, "router") != 0);
  CHECK_EQ(tr_pid_host(tr_whereis(h, "router")), 0);

  CHECK_EQ(luaL_dostring(
               L, "local actor = require 'actor'\n"
                  "actor.run(function()\n"
                  "  local got = {}\n"
                  "  for i = 1, 4 do\n"
                  "    local pid = actor.spawn{module = 'w', host = 'any'}\n"
                  "    got[i] = actor.call(pid, 'where')\n"
                  "  end\n"
                  "  local ok, err = pcall(actor.spawn, {module = 'nope', "
                  "host = 2})\n"
                  "  RESULT = table.concat(got, ' ') .. '|' .. tostring(ok) "
                  ".. '|' .. err:gsub('\\n.*', '')\n"
                  "end)\n"),
           LUA_OK);
  lua_getglobal(L, "RESULT");
  CHECK_STR(lua_tostring(L, -1),
            "0 1 2 0|false|cannot start 'nope' on host 2: module 'nope' not "
            "found:");
  lua_pop(L, 1);

  /* the root has ended and host 0 stopped: the rest of the node now */
  tr_node_stop(n);
  tr_node_wait(n);
  CHECK_EQ(o.closed, HOSTS - 1);
  lua_close(L);
  tr_host_free(h);
  CHECK_EQ(tr_node_free(n), TR_OK);
  uv_cond_destroy(&o.cond);
  uv_mutex_destroy(&o.lock);
}

int main(void) {
  RUN(test_spawn_by_module_across_a_node);
  return test_report();
}
