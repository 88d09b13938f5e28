/*
 * step.c -- how far tr_host_step overruns its time budget (one core).
 *
 * A frame loop calls tr_host_step_for(h, budget) again and again while
 * busy actors always have work, and times each step with uv_hrtime. The
 * overrun is the step's time past its budget (0 when within it); the rows
 * give its p50, p99 and max over STEPS steps, in microseconds: each the
 * median of RUNS runs (TROUPE_BENCH_RUNS, default 5; a fresh host per
 * run) with the min and max beside it, "median (min-max)". On a loaded
 * machine the wall-clock figures include the time the OS took the core
 * away; the "cpu" rows count the step's CPU time (CLOCK_THREAD_CPUTIME_ID)
 * past the budget instead, what troupe itself overran by.
 *
 *   lua  four Lua actors spinning in a loop that never waits (each is
 *        suspended by the Lua clock at each step's end)
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
#define STATS 5 /* p50, p99, max, cpu p99, cpu max */

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

/* One statistic of `runs` runs (ns, sorted here) as its median (min-max). */
static void row(const char *load, uint32_t budget, const char *what,
                uint64_t *ns, int runs) {
  char name[64];
  qsort(ns, (size_t)runs, sizeof *ns, cmp);
  snprintf(name, sizeof name, "step %u us, busy %s: overrun %s",
           (unsigned)budget, load, what);
  printf("| %s | %.0f (%.0f-%.0f) | us | - |\n", name,
         (double)ns[(runs - 1) / 2] / 1e3, (double)ns[0] / 1e3,
         (double)ns[runs - 1] / 1e3);
  fflush(stdout);
}

/* One run on a fresh host: its STATS statistics into stat[0..STATS-1]. */
static int measure(const char *load, uint32_t budget, int steps,
                   uint64_t *stat) {
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
  stat[0] = over[steps / 2];
  stat[1] = over[steps * 99 / 100];
  stat[2] = over[steps - 1];
  stat[3] = cpu[steps * 99 / 100];
  stat[4] = cpu[steps - 1];
  free(over);
  free(cpu);
  if (L)
    lua_close(L);
  tr_host_free(h);
  return 0;
}

/* RUNS runs of one load and budget, then its rows. */
static int bench(const char *load, uint32_t budget, int steps, int runs) {
  static const char *const what[STATS] = {"p50", "p99", "max", "cpu p99",
                                          "cpu max"};
  uint64_t *stat = calloc((size_t)runs * STATS, sizeof *stat);
  uint64_t *col = calloc((size_t)runs, sizeof *col);
  int r, k;
  if (!stat || !col)
    return 1;
  for (r = 0; r < runs; r++)
    if (measure(load, budget, steps, stat + (size_t)r * STATS))
      return 1;
  for (k = 0; k < STATS; k++) {
    for (r = 0; r < runs; r++)
      col[r] = stat[(size_t)r * STATS + (size_t)k];
    row(load, budget, what[k], col, runs);
  }
  free(stat);
  free(col);
  return 0;
}

int main(int argc, char **argv) {
  static const uint32_t budgets[] = {1000, 4000};
  double scale = argc > 1 ? atof(argv[1]) : 1.0;
  const char *env = getenv("TROUPE_BENCH_RUNS");
  int steps = (int)(STEPS * scale), runs = env && *env ? atoi(env) : 5, b;
  if (steps < 10)
    steps = 10;
  if (runs < 1) {
    fprintf(stderr, "bench_step: TROUPE_BENCH_RUNS must be a number > 0\n");
    return 2;
  }
  for (b = 0; b < 2; b++)
    if (bench("lua", budgets[b], steps, runs) ||
        bench("c", budgets[b], steps, runs))
      return 1;
  return 0;
}
