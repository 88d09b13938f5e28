/*
 * step.c -- how far tr_host_step overruns its time budget (one core).
 *
 * A frame loop calls tr_host_step_for(h, budget) again and again while
 * busy actors always have work, and times each step with uv_hrtime. The
 * overrun is the step's time past its budget (0 when within it); the rows
 * give its p50, p99 and max over STEPS steps, in microseconds. On a loaded
 * machine the wall-clock figures include the time the OS took the core
 * away; the "cpu" rows count the step's CPU time (CLOCK_THREAD_CPUTIME_ID)
 * past the budget instead, what troupe itself overran by.
 *
 *   lua  four Lua actors spinning in a loop that never waits (each is
 *        suspended by its count hook every `slice` instructions)
 *   c    four native actors that do 50 us of work a turn and yield
 *
 * usage: bench_step [scale]
 *   scale  multiplies the number of steps (default 1; 0.01 for a smoke run)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>
#include <uv.h>

#include "troupe_lua.h"

#ifndef TROUPE_SOURCE_DIR
#define TROUPE_SOURCE_DIR "."
#endif

#define ACTORS 4
#define STEPS 1000

static const char spinners[] = "local actor = require 'actor'\n"
                               "for i = 1, ... do\n"
                               "  actor.spawn(function()\n"
                               "    local x = 0\n"
                               "    while true do x = x + 1 end\n"
                               "  end)\n"
                               "end\n";

static void busy(uint64_t us) {
  uint64_t end = uv_hrtime() + us * 1000;
  while (uv_hrtime() < end)
    ;
}

static int spin_init(tr_actor *self, void *state, tr_msg *args) {
  (void)state;
  (void)args;
  tr_wake(self);
  return 0;
}

static int spin_handle(tr_actor *self, void *state, tr_msg *m) {
  (void)self;
  (void)state;
  (void)m;
  busy(50);
  return TR_YIELD;
}

static const tr_behaviour spinner = {"spinner", 0, spin_init, spin_handle,
                                     NULL};

static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t past(uint64_t took, uint32_t budget_us) {
  uint64_t b = (uint64_t)budget_us * 1000;
  return took > b ? took - b : 0;
}

static int cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void row(const char *load, uint32_t budget, const char *what,
                uint64_t ns) {
  char name[64];
  snprintf(name, sizeof name, "step %u us, busy %s: overrun %s",
           (unsigned)budget, load, what);
  printf("| %s | %.0f | us | - |\n", name, (double)ns / 1e3);
  fflush(stdout);
}

static int measure(const char *load, uint32_t budget, int steps) {
  tr_host *h = tr_host_new(NULL);
  lua_State *L = NULL;
  uint64_t *over = calloc((size_t)steps, sizeof *over);
  uint64_t *cpu = calloc((size_t)steps, sizeof *cpu);
  int i;
  if (!h || !over || !cpu)
    return 1;
  if (load[0] == 'l') {
    const char *src = getenv("TROUPE_SOURCE_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/lua", src && *src ? src : TROUPE_SOURCE_DIR);
    L = luaL_newstate();
    luaL_openlibs(L);
    trL_openlibs(L, dir);
    trL_attach(L, h);
    if (luaL_loadstring(L, spinners) != LUA_OK ||
        (lua_pushinteger(L, ACTORS), lua_pcall(L, 1, 0, 0)) != LUA_OK) {
      fprintf(stderr, "bench_step: %s\n", lua_tostring(L, -1));
      return 1;
    }
  } else {
    for (i = 0; i < ACTORS; i++)
      if (tr_spawn(h, &spinner, NULL, NULL, NULL) != TR_OK)
        return 1;
  }
  for (i = 0; i < 10; i++) /* everyone is running */
    tr_host_step_for(h, budget);
  for (i = 0; i < steps; i++) {
    uint64_t t0 = uv_hrtime(), c0 = cpu_ns();
    tr_host_step_for(h, budget);
    over[i] = past(uv_hrtime() - t0, budget);
    cpu[i] = past(cpu_ns() - c0, budget);
  }
  qsort(over, (size_t)steps, sizeof *over, cmp);
  qsort(cpu, (size_t)steps, sizeof *cpu, cmp);
  row(load, budget, "p50", over[steps / 2]);
  row(load, budget, "p99", over[steps * 99 / 100]);
  row(load, budget, "max", over[steps - 1]);
  row(load, budget, "cpu p99", cpu[steps * 99 / 100]);
  row(load, budget, "cpu max", cpu[steps - 1]);
  free(over);
  free(cpu);
  if (L)
    lua_close(L);
  tr_host_free(h);
  return 0;
}

int main(int argc, char **argv) {
  static const uint32_t budgets[] = {1000, 4000};
  double scale = argc > 1 ? atof(argv[1]) : 1.0;
  int steps = (int)(STEPS * scale), b;
  if (steps < 10)
    steps = 10;
  for (b = 0; b < 2; b++)
    if (measure("lua", budgets[b], steps) || measure("c", budgets[b], steps))
      return 1;
  return 0;
}
