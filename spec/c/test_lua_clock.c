/*
 * test_lua_clock.c -- the clock that suspends Lua actors (lua/lclock.c):
 * with it, actors run without a hook and a spinner is still suspended so
 * that a server next to it answers; the coroutines an actor makes carry a
 * hook of their own; an idle host gets no ticks; a step ends at its budget
 * however long the slice. Where the clock's signal
 * is someone else's or blocked on the loop thread, every actor gets a
 * count hook instead, and the spinner is suspended all the same.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <lauxlib.h>
#include <lualib.h>

#include "luatest.h"
#include "test.h"
#include "troupe_lua.h"

#define CLOCK_SIGNAL (SIGRTMAX - 4) /* lclock.c's TRL_CLOCK_SIGNAL */

/* Runs body as the root actor of a fresh state; returns what actor.run's
 * function returned as a string ("error: ..." when it failed). */
static void run(const char *body, char *out, size_t size) {
  lua_State *L = test_lua_new();
  if (luaL_loadstring(L, body) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
    snprintf(out, size, "error: %s", lua_tostring(L, -1));
  } else {
    snprintf(out, size, "%s", luaL_tolstring(L, -1, NULL));
  }
  lua_close(L);
}

/* A spinner that never waits, a server beside it: the root's calls are
 * answered only if the spinner is suspended. Returns how the actors are
 * hooked: the hook count seen inside an actor and inside a coroutine it
 * made (0: none), and the calls answered. */
static const char spinner[] =
    "local actor = require 'actor'\n"
    "local out\n"
    "actor.run(function()\n"
    "  local hooked = select(3, debug.gethook()) or 0\n"
    "  local nested = coroutine.wrap(function()\n"
    "    return select(3, debug.gethook()) or 0 end)()\n"
    "  local spin = actor.spawn(function() while true do end end)\n"
    "  local srv = actor.spawn(function()\n"
    "    actor.serve { ping = function() return 'pong' end } end)\n"
    "  local n = 0\n"
    "  for _ = 1, 20 do\n"
    "    if actor.call(srv, 'ping') == 'pong' then n = n + 1 end\n"
    "  end\n"
    "  actor.kill(spin)\n"
    "  out = hooked .. ' ' .. nested .. ' ' .. n\n"
    "end)\n"
    "return out\n";

static void test_clock(void) {
  char out[256];
  run(spinner, out, sizeof out);
  /* no hook on the actor, 1000 instructions on its own coroutine */
  CHECK_STR(out, "0 1000 20");
}

static void test_idle_host_gets_no_ticks(void) {
  char out[256];
  struct rusage before, after;
  getrusage(RUSAGE_THREAD, &before);
  /* Busy first (the timer runs), then a wait of 300 ms with nothing to
   * do: ticks every 1 ms would wake the thread 300 times. */
  run("local actor = require 'actor'\n"
      "local out\n"
      "actor.run(function()\n"
      "  local x = 0\n"
      "  for i = 1, 2e6 do x = x + i end\n"
      "  out = select('#', actor.receive(300)) .. ' values'\n"
      "end)\n"
      "return out\n",
      out, sizeof out);
  getrusage(RUSAGE_THREAD, &after);
  CHECK_STR(out, "0 values"); /* the receive timed out */
  CHECK(after.ru_nvcsw - before.ru_nvcsw < 100);
}

/* A step ends at its budget with a Lua actor spinning, however long the
 * slice: the tick comes at the step's end. With a slice of 16 s, a step
 * that waited for a slice's tick would take that long. */
static void test_step_ends_on_time(void) {
  tr_host *h = tr_host_new(NULL);
  lua_State *L = test_lua_new();
  int i;
  CHECK_EQ(trL_attach(L, h), TR_OK);
  CHECK_EQ(luaL_dostring(L, "local actor = require 'actor'\n"
                            "actor.configure { slice = 16000000 }\n"
                            "actor.spawn(function() while true do end end)\n"),
           LUA_OK);
  for (i = 0; i < 5; i++) {
    uint64_t t0 = uv_hrtime();
    CHECK_EQ(tr_host_step_for(h, 2000), 1); /* work is left: the spinner */
    CHECK(uv_hrtime() - t0 < 5000000000u);  /* 5 s: far above 2 ms */
  }
  lua_close(L);
  tr_host_free(h);
}

static void on_foreign(int sig) { (void)sig; }

static void test_signal_not_ours(void) {
  char out[256];
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_foreign;
  sigaction(CLOCK_SIGNAL, &sa, &old);
  run(spinner, out, sizeof out);
  sigaction(CLOCK_SIGNAL, &old, NULL);
  CHECK_STR(out, "10000 10000 20"); /* 1000 us x 10: a count hook on each */
}

static void test_signal_blocked(void) {
  char out[256];
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, CLOCK_SIGNAL);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  run(spinner, out, sizeof out);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  CHECK_STR(out, "10000 10000 20");
}

int main(void) {
  /* Someone else's handler first: once troupe's is in, it stays. */
  RUN(test_signal_not_ours);
  RUN(test_clock);
  RUN(test_idle_host_gets_no_ticks);
  RUN(test_step_ends_on_time);
  RUN(test_signal_blocked);
  return test_report();
}
