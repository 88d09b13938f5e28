/*
 * game_lua.c -- a game's frame loop with troupe inside: Lua AI actors, a
 * native physics actor, and the main thread that never blocks on them.
 *
 * The program owns the host and the lua_State (trL_attach, the one setup
 * call, which also starts the router for actor.kv) and starts the AI from
 * C, with no actor.run: trL_spawn("game_ai.agent", id). Each of FRAMES
 * frames of FRAME_MS it
 *   - asks every AI that is not still thinking what to do next, with
 *     tr_host_call_async (the answer comes to a callback in a later step);
 *   - asks physics for a snapshot of the world the same way;
 *   - runs the host for a bounded time, tr_host_step_for(h, STEP_US);
 *   - sleeps what is left of the frame.
 * An AI asks physics where its agent is (a call from Lua to C), pushes it
 * one cell toward its goal (a send) and answers the move it made. At the
 * end the program stops the host with every actor still alive and frees
 * the state and the host.
 *
 * The Lua files of the `actor` module are found through TROUPE_SOURCE_DIR
 * (set by ctest), else in the source tree this was built from.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>
#include <uv.h>

#include "troupe.h"
#include "troupe_lua.h"

#ifndef TROUPE_SOURCE_DIR
#define TROUPE_SOURCE_DIR "."
#endif

#define FRAMES 60
#define FRAME_MS 16
#define STEP_US 4000 /* a quarter of the frame for the actors */
#define AGENTS 3

/* ------------------------------------------------ physics, native */

typedef struct world {
  int64_t x[AGENTS], y[AGENTS];
} world;

static const int64_t start_x[AGENTS] = {0, 10, 5}, start_y[AGENTS] = {0, 0, 9};
static const int64_t goal_x[AGENTS] = {3, 7, 5}, goal_y[AGENTS] = {4, 2, 6};

static int physics_init(tr_actor *self, void *state, tr_msg *args) {
  world *w = state;
  (void)self;
  (void)args;
  memcpy(w->x, start_x, sizeof w->x);
  memcpy(w->y, start_y, sizeof w->y);
  return 0;
}

/* where(id) -> x, y, goal x, goal y;  push(id, dx, dy);  snapshot() -> the
 * positions, x and y of each agent in turn. */
static int physics_handle(tr_actor *self, void *state, tr_msg *m) {
  tr_host *h = tr_actor_host(self);
  world *w = state;
  int64_t id, dx, dy;
  if (tr_msg_is(m, "where") && tr_msg_unpack(m, "I", &id) == TR_OK && id >= 1 &&
      id <= AGENTS)
    tr_reply(h, m,
             tr_msg_pack("at", "IIII", w->x[id - 1], w->y[id - 1],
                         goal_x[id - 1], goal_y[id - 1]));
  else if (tr_msg_is(m, "push") &&
           tr_msg_unpack(m, "III", &id, &dx, &dy) == TR_OK && id >= 1 &&
           id <= AGENTS && dx >= -1 && dx <= 1 && dy >= -1 && dy <= 1) {
    w->x[id - 1] += dx; /* one cell a frame at most: physics says so */
    w->y[id - 1] += dy;
  } else if (tr_msg_is(m, "snapshot"))
    tr_reply(h, m,
             tr_msg_pack("world", "IIIIII", w->x[0], w->y[0], w->x[1], w->y[1],
                         w->x[2], w->y[2]));
  else if (tr_msg_kind(m) == TR_KIND_CALL)
    tr_reply_error(h, m, "physics: no such request");
  return TR_CONTINUE;
}

static const tr_behaviour physics = {"physics", sizeof(world), physics_init,
                                     physics_handle, NULL};

/* ------------------------------------------------------ the AI, Lua */

static const char ai_module[] =
    "package.preload['game_ai'] = function()\n"
    "  local actor = require 'actor'\n"
    "  local function sign(n) return n > 0 and 1 or n < 0 and -1 or 0 end\n"
    "  local ai = {}\n"
    "  -- One agent's mind: each think asks physics where the agent is,\n"
    "  -- pushes it a cell toward its goal and answers the move.\n"
    "  function ai.agent(id)\n"
    "    actor.serve {\n"
    "      think = function(frame)\n"
    "        local x, y, gx, gy = actor.call('physics', 'where', id)\n"
    "        local dx, dy = sign(gx - x), sign(gy - y)\n"
    "        if dx ~= 0 or dy ~= 0 then\n"
    "          actor.send('physics', 'push', id, dx, dy)\n"
    "        end\n"
    "        return dx, dy, x + dx, y + dy\n"
    "      end,\n"
    "    }\n"
    "  end\n"
    "  return ai\n"
    "end\n";

/* --------------------------------------------------- the main thread */

typedef struct agent {
  tr_pid pid;
  int thinking;     /* a think call is in flight */
  int answers;      /* thinks answered */
  int arrived;      /* the frame its AI first answered "no move", or -1 */
  int64_t x, y;     /* where its AI last put it */
  const int *frame; /* the game's frame counter */
} agent;

typedef struct game {
  int frame;
  int snapshots;    /* snapshot calls answered */
  int snap_pending; /* a snapshot call is in flight */
  int failed;       /* calls that came back with an error */
  int64_t world[2 * AGENTS];
  agent agents[AGENTS];
} game;

static void on_think(tr_host *h, void *ud, int rc, tr_msg *reply) {
  agent *a = ud;
  int64_t dx, dy;
  (void)h;
  a->thinking = 0;
  if (rc == TR_ESTOPPED) /* the game ended while it thought */
    return;
  if (rc != TR_OK ||
      tr_msg_unpack(reply, "IIII", &dx, &dy, &a->x, &a->y) != TR_OK) {
    fprintf(stderr, "game_lua: think failed: %s\n", tr_strerror(rc));
    return;
  }
  a->answers++;
  if (!dx && !dy && a->arrived < 0)
    a->arrived = *a->frame;
}

static void on_snapshot(tr_host *h, void *ud, int rc, tr_msg *reply) {
  game *g = ud;
  int64_t *w = g->world;
  (void)h;
  g->snap_pending = 0;
  if (rc == TR_ESTOPPED)
    return;
  if (rc != TR_OK || tr_msg_unpack(reply, "IIIIII", &w[0], &w[1], &w[2], &w[3],
                                   &w[4], &w[5]) != TR_OK) {
    g->failed++;
    return;
  }
  g->snapshots++;
}

/* The frame's requests: nothing here waits for an answer. */
static void ask(tr_host *h, game *g, tr_pid phys) {
  int i;
  for (i = 0; i < AGENTS; i++) {
    agent *a = &g->agents[i];
    if (a->thinking)
      continue; /* still on the last one: its answer comes later */
    if (tr_host_call_async(h, a->pid, tr_msg_pack("think", "i", g->frame), 1000,
                           on_think, a, NULL) == TR_OK)
      a->thinking = 1;
    else
      g->failed++;
  }
  if (!g->snap_pending) {
    if (tr_host_call_async(h, phys, tr_msg_new("snapshot"), 1000, on_snapshot,
                           g, NULL) == TR_OK)
      g->snap_pending = 1;
    else
      g->failed++;
  }
}

static int start(lua_State *L, tr_host *h, game *g, tr_pid *phys) {
  const char *src = getenv("TROUPE_SOURCE_DIR");
  char dir[4096];
  tr_spawn_opts opts = {0};
  int i;
  snprintf(dir, sizeof dir, "%s/lua", src && *src ? src : TROUPE_SOURCE_DIR);
  luaL_openlibs(L);
  trL_openlibs(L, dir);
  if (trL_attach(L, h) != TR_OK)
    return -1;
  opts.name = "physics";
  if (tr_spawn(h, &physics, NULL, &opts, phys) != TR_OK)
    return -1;
  if (luaL_dostring(L, ai_module) != LUA_OK)
    return -1;
  for (i = 0; i < AGENTS; i++) {
    agent *a = &g->agents[i];
    a->arrived = -1;
    a->frame = &g->frame;
    lua_pushinteger(L, i + 1);
    if (trL_spawn(L, "game_ai.agent", 1, &a->pid) != LUA_OK)
      return -1;
  }
  return 0;
}

int main(void) {
  tr_host *h = tr_host_new(NULL);
  lua_State *L = luaL_newstate();
  static game g; /* the callbacks' data, for the host's whole life */
  tr_pid phys = 0;
  tr_host_stats st;
  int i, rc = 0;
  if (!h || !L) {
    fprintf(stderr, "game_lua: out of memory\n");
    return 1;
  }
  if (start(L, h, &g, &phys)) {
    fprintf(stderr, "game_lua: cannot start: %s\n",
            lua_gettop(L) ? lua_tostring(L, -1) : "the host");
    lua_close(L);
    tr_host_free(h);
    return 1;
  }
  printf("game: %d frames of %d ms, %d Lua AI actors, physics in C\n", FRAMES,
         FRAME_MS, AGENTS);
  for (g.frame = 0; g.frame < FRAMES; g.frame++) {
    uint64_t begin = uv_hrtime(), spent_ms;
    ask(h, &g, phys);
    tr_host_step_for(h, STEP_US);
    spent_ms = (uv_hrtime() - begin) / 1000000u;
    if (spent_ms < FRAME_MS)
      uv_sleep((unsigned)(FRAME_MS - spent_ms));
  }
  for (i = 0; i < AGENTS; i++) {
    agent *a = &g.agents[i];
    printf("agent %d: at (%lld, %lld), %s\n", i + 1, (long long)a->x,
           (long long)a->y,
           a->arrived >= 0 && a->x == goal_x[i] && a->y == goal_y[i]
               ? "at its goal"
               : "still on its way");
  }
  printf("physics agrees: %s\n",
         g.snapshots > 0 && g.world[0] == goal_x[0] &&
                 g.world[1] == goal_y[0] && g.world[2] == goal_x[1] &&
                 g.world[3] == goal_y[1] && g.world[4] == goal_x[2] &&
                 g.world[5] == goal_y[2]
             ? "yes"
             : "no");
  printf("failed calls: %d\n", g.failed);
  tr_host_get_stats(h, &st);
  printf("stopping with the AI and physics alive: %s\n",
         st.actors >= AGENTS + 1 ? "yes" : "no");
  tr_host_stop(h);
  if (tr_host_step(h) != TR_ESTOPPED)
    rc = 1;
  lua_close(L);
  tr_host_free(h);
  printf("game over\n");
  return rc;
}
