/*
 * test_lua_embed.c -- a program that embeds Lua actors in its own frame
 * loop (tr_host_step once a frame) and stops in the middle of the game:
 * the host and the lua_State are freed in either order while Lua actors
 * wait in receive, sleep, a call, a send to a full mailbox, a supervisor,
 * or spin, next to a native actor defined with trL_define. Each actor's
 * to-be-closed variable is closed once, while the state can still run it,
 * and nothing is touched after it is freed (the sanitizer build and
 * memcheck/lua_embed check that part).
 */
#include <stdlib.h>

#include <lauxlib.h>
#include <lualib.h>

#include "luatest.h"
#include "test.h"
#include "troupe_lua.h"

/* What the actors report through note() and the native actor's calls. */
typedef struct record {
  int ready;  /* actors that reached the point where they wait */
  int closed; /* to-be-closed variables closed as the actors ended */
  int held;   /* calls the native actor keeps unanswered */
  int native_ended;
  char closed_names[256];
} record;

/* holder: a native actor, spawned from Lua, that never answers a call. */
static int holder_handle(tr_actor *self, void *state, tr_msg *m) {
  record *rec = *(record **)state;
  (void)self;
  if (tr_msg_kind(m) == TR_KIND_CALL)
    rec->held++;
  return TR_CONTINUE;
}

static void holder_terminate(tr_actor *self, void *state, const char *why) {
  record *rec = *(record **)state;
  (void)self;
  (void)why;
  rec->native_ended++;
}

static const tr_behaviour holder = {"holder", sizeof(record *), test_ptr_init,
                                    holder_handle, holder_terminate};

/* note("ready") or note("closed", name), from Lua. */
static int l_note(lua_State *L) {
  record *rec = lua_touserdata(L, lua_upvalueindex(1));
  const char *what = luaL_checkstring(L, 1);
  if (!strcmp(what, "ready")) {
    rec->ready++;
  } else {
    size_t n = strlen(rec->closed_names);
    rec->closed++;
    snprintf(rec->closed_names + n, sizeof rec->closed_names - n, " %s",
             luaL_checkstring(L, 2));
  }
  return 0;
}

#define ACTORS 8 /* the actors with a to-be-closed guard below */

static const char game[] =
    "local actor = require 'actor'\n"
    "actor.configure { call_timeout = 16000000, send_timeout = 16000000 }\n"
    "local function guard(name)\n"
    "  return setmetatable({}, { __close = function()\n"
    "    note('closed', name) end })\n"
    "end\n"
    "actor.spawn(function()\n"
    "  local _ <close> = guard('receive')\n"
    "  actor.after(3600000, 'later')\n"
    "  note('ready')\n"
    "  actor.receive()\n"
    "end)\n"
    "actor.spawn(function()\n"
    "  local _ <close> = guard('sleep')\n"
    "  note('ready')\n"
    "  actor.sleep(3600000)\n"
    "end)\n"
    "local held = actor.spawn('holder')\n"
    "actor.spawn(function(to)\n"
    "  local _ <close> = guard('call')\n"
    "  note('ready')\n"
    "  actor.call(to, 'hold')\n"
    "end, held)\n"
    "local stuck = actor.spawn(function()\n"
    "  local _ <close> = guard('stuck')\n"
    "  note('ready')\n"
    "  actor.sleep(3600000) -- its mail piles up meanwhile\n"
    "end)\n"
    "actor.register('stuck', stuck)\n"
    "actor.spawn(function(to)\n"
    "  local _ <close> = guard('room')\n"
    "  note('ready')\n"
    "  for i = 1, 2000 do actor.send(to, 'fill', i) end\n"
    "end, stuck)\n"
    "actor.spawn(function()\n"
    "  local _ <close> = guard('spin')\n"
    "  note('ready')\n"
    "  while true do end\n"
    "end)\n"
    "actor.spawn(function()\n"
    "  local _ <close> = guard('boss')\n"
    "  actor.supervise { children = { { name = 'w', start = function()\n"
    "    local _ <close> = guard('child')\n"
    "    note('ready')\n"
    "    actor.receive()\n"
    "  end } } }\n"
    "  note('ready')\n"
    "  actor.receive()\n"
    "end)\n"
    "return held\n";

/* A host and a state attached to it, with the game's actors started and
 * stepped frame by frame until each waits where it should. */
static void start_game(tr_host **hp, lua_State **Lp, record *rec) {
  tr_host *h = tr_host_new(NULL);
  lua_State *L = test_lua_new();
  tr_pid stuck;
  int frame;
  memset(rec, 0, sizeof *rec);
  tr_host_set_data(h, rec); /* the embedder's: the Lua layer leaves it */
  trL_attach(L, h);
  trL_define(L, "holder", &holder, rec); /* each holder's ctx */
  lua_pushlightuserdata(L, rec);
  lua_pushcclosure(L, l_note, 1);
  lua_setglobal(L, "note");
  if (luaL_dostring(L, game) != LUA_OK) {
    fprintf(stderr, "the game failed to start: %s\n", lua_tostring(L, -1));
    CHECK(0);
  }
  lua_settop(L, 0);
  stuck = tr_whereis(h, "stuck");
  STEP_UNTIL(h,
             rec->ready == ACTORS && rec->held == 1 &&
                 tr_mailbox_count(h, stuck) == 1024,
             30000);
  for (frame = 0; frame < 10; frame++) /* the game goes on a little */
    CHECK_EQ(tr_host_step(h), 1);      /* the spinner always has work */
  CHECK_EQ(rec->ready, ACTORS);
  CHECK_EQ(rec->held, 1);
  CHECK_EQ(tr_mailbox_count(h, stuck), 1024); /* its filler waits for room */
  CHECK_EQ(rec->closed, 0);
  CHECK_EQ(rec->native_ended, 0);
  CHECK(tr_host_data(h) == rec);
  *hp = h;
  *Lp = L;
}

/* Every actor ended once, each to-be-closed variable run by Lua. */
static void check_ended(const record *rec) {
  CHECK_EQ(rec->closed, ACTORS);
  CHECK_EQ(rec->native_ended, 1);
  if (rec->closed != ACTORS)
    fprintf(stderr, "closed:%s\n", rec->closed_names);
}

/* The order a program finds natural: the scripts first, then the engine.
 * Closing the state ends the host's actors while Lua can still run their
 * to-be-closed variables; the host is left stopped, for tr_host_free. */
static void test_close_state_then_free_host(void) {
  record rec;
  tr_host *h;
  lua_State *L;
  start_game(&h, &L, &rec);
  lua_close(L);
  check_ended(&rec);
  CHECK_EQ(tr_host_step(h), TR_ESTOPPED);
  CHECK_EQ(tr_whereis(h, "stuck"), 0);
  tr_host_free(h);
  check_ended(&rec); /* nothing ended twice */
}

/* The other order: freeing the host ends the actors while the state is
 * alive; the state then knows its host is gone and says so. */
static void test_free_host_then_close_state(void) {
  record rec;
  tr_host *h;
  lua_State *L;
  start_game(&h, &L, &rec);
  tr_host_free(h);
  check_ended(&rec);
  CHECK_EQ(luaL_dostring(L, "local actor = require 'actor'\n"
                            "return pcall(actor.stats)"),
           LUA_OK);
  CHECK(!lua_toboolean(L, 1));
  CHECK(lua_tostring(L, 2) &&
        strstr(lua_tostring(L, 2), "the host has stopped") != NULL);
  lua_close(L);
  check_ended(&rec);
}

/* The frame loop stops the host itself, then frees both, in each order. */
static void test_stop_then_free_both(void) {
  int order;
  for (order = 0; order < 2; order++) {
    record rec;
    tr_host *h;
    lua_State *L;
    start_game(&h, &L, &rec);
    tr_host_stop(h);
    CHECK_EQ(tr_host_step(h), TR_ESTOPPED);
    check_ended(&rec);
    if (order) {
      tr_host_free(h);
      lua_close(L);
    } else {
      lua_close(L);
      tr_host_free(h);
    }
    check_ended(&rec);
  }
}

/* A state attached to a host that has stopped runs no actor on it. */
static void test_attach_to_a_stopped_host(void) {
  tr_host *h = tr_host_new(NULL);
  lua_State *L = test_lua_new();
  tr_host_stop(h);
  CHECK_EQ(tr_host_step(h), TR_ESTOPPED);
  CHECK_EQ(trL_attach(L, h), TR_ESTOPPED);
  lua_pushcfunction(L, luaopen_actor_core);
  lua_call(L, 0, 1);
  lua_getfield(L, -1, "spawn");
  lua_pushcfunction(L, l_note); /* any function: it never runs */
  CHECK(lua_pcall(L, 1, 1, 0) != LUA_OK);
  CHECK(strstr(lua_tostring(L, -1), "the host has stopped") != NULL);
  lua_close(L);
  tr_host_free(h);
}

int main(void) {
  RUN(test_close_state_then_free_host);
  RUN(test_free_host_then_close_state);
  RUN(test_stop_then_free_both);
  RUN(test_attach_to_a_stopped_host);
  return test_report();
}
