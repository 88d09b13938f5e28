/*
 * jsonrun.c -- the power-loss simulator's run of the Lua JSON writer
 * (actor.jsonwriter): the workload driven through it on a host of its
 * own, its file operations recorded by json_record.lua's hook on
 * actor.file; then each sampled disk state handed to the writer's start
 * (json_check.lua), twice, and what it loaded checked (check.c).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>

#include "powerloss.h"
#include "troupe_lua.h"

/* rec(op, name[, name2[, bytes]]), json_record.lua's way into the log. */
static int l_rec(lua_State *L) {
  static const struct {
    const char *name;
    int type;
  } ops[] = {{"trunc", PL_TRUNC},   {"write", PL_WRITE},
             {"fsync", PL_FSYNC},   {"dirsync", PL_DIRSYNC},
             {"rename", PL_RENAME}, {"exchange", PL_EXCHANGE},
             {"unlink", PL_UNLINK}};
  const char *op = luaL_checkstring(L, 1);
  const char *name = luaL_optstring(L, 2, NULL);
  const char *name2 = luaL_optstring(L, 3, NULL);
  size_t len = 0, i;
  const char *bytes = luaL_optlstring(L, 4, NULL, &len);
  if (!strcmp(op, "exists")) {
    lua_pushboolean(L, name && pl_record_ino(name) != 0);
    return 1;
  }
  if (!strcmp(op, "create")) {
    pl_record_create(name);
    return 0;
  }
  for (i = 0; i < sizeof ops / sizeof *ops; i++)
    if (!strcmp(op, ops[i].name)) {
      pl_record_op(ops[i].type, name, name2, 0, bytes ? len : 0, bytes);
      return 0;
    }
  return luaL_error(L, "rec: unknown op %s", op);
}

static lua_State *new_state(const pl_opts *o) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  trL_openlibs(L, o->lua_dir);
  lua_getglobal(L, "package");
  lua_pushfstring(L, "%s/../spec/powerloss/?.lua;", o->lua_dir);
  lua_getfield(L, -2, "path");
  lua_concat(L, 2);
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  return L;
}

static void content_of(lua_State *L, int idx, pl_content *c) {
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    size_t kn, vn;
    const char *k = lua_tolstring(L, -2, &kn), *v = lua_tolstring(L, -1, &vn);
    if (k && v)
      pl_content_add(c, k, kn, v, vn);
    lua_pop(L, 1);
  }
}

static int start_once(lua_State *L, const char *dir, pl_content *c, char *why,
                      size_t n) {
  int top = lua_gettop(L), rc = 0;
  lua_getglobal(L, "json_check");
  lua_getfield(L, -1, "check");
  lua_pushstring(L, dir);
  if (lua_pcall(L, 1, 3, 0) != LUA_OK) {
    snprintf(why, n, "the start raised: %s", lua_tostring(L, -1));
    rc = -1;
  } else if (!lua_toboolean(L, -3)) {
    snprintf(why, n, "%s", lua_tostring(L, -2));
    rc = -1;
  } else {
    content_of(L, lua_gettop(L) - 1, c);
  }
  lua_settop(L, top);
  return rc;
}

static int start(void *ud, const char *dir, int policy, pl_content *c,
                 char *why, size_t n) {
  (void)policy;
  return start_once(ud, dir, c, why, n);
}

static void quiet(void *ud, int level, const char *text) {
  (void)ud;
  (void)level;
  (void)text;
}

int pl_json_run(const pl_opts *o, pl_result *res) {
  static const char *const policies[] = {"everysec", "always", "no"};
  pl_log l = {0};
  pl_workload w;
  tr_host_config hc;
  tr_host *h;
  tr_pid pid = 0;
  lua_State *L;
  char dir[4096], why[300] = "";
  double t0 = pl_now_s();
  int rc;
  snprintf(dir, sizeof dir, "%s/record", o->tmp);
  mkdir(dir, 0755);
  pl_rmdir_files(dir);
  pl_workload_make(&w, o->changes, o->seed, 24, 3);
  memset(&hc, 0, sizeof hc);
  hc.log = quiet;
  h = tr_host_new(&hc);
  L = new_state(o);
  pl_record_start(&l);
  rc = trL_attach(L, h) == TR_OK ? 0 : -1;
  if (!rc) {
    lua_getglobal(L, "require");
    lua_pushstring(L, "json_record");
    rc = lua_pcall(L, 1, 1, 0);
    if (!rc) {
      lua_getfield(L, -1, "install");
      lua_pushcfunction(L, l_rec);
      rc = lua_pcall(L, 1, 0, 0);
    }
    if (rc)
      snprintf(why, sizeof why, "%s", lua_tostring(L, -1));
    lua_settop(L, 0);
  }
  if (!rc) {
    lua_pushstring(L, dir);
    lua_pushstring(L, policies[o->policy]);
    if ((rc = trL_spawn(L, "json_record.writer", 2, &pid)) != LUA_OK)
      snprintf(why, sizeof why, "%s", lua_tostring(L, -1));
  }
  if (!rc)
    rc = pl_load_all(h, pid, NULL, why, sizeof why);
  if (!rc && pl_drive(h, pid, &w, o->policy))
    rc = -1, snprintf(why, sizeof why, "the workload failed");
  pl_record_stop();
  lua_close(L);
  tr_host_free(h);
  res->record_s += pl_now_s() - t0;
  if (rc) {
    fprintf(stderr, "powerloss: recording the JSON writer: %s\n", why);
    pl_log_free(&l);
    pl_workload_free(&w);
    return -1;
  }
  /* the checks' Lua: no host, the writer's start alone */
  L = new_state(o);
  lua_getglobal(L, "require");
  lua_pushstring(L, "json_check");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    fprintf(stderr, "powerloss: %s\n", lua_tostring(L, -1));
    rc = -1;
  } else {
    lua_setglobal(L, "json_check");
    pl_explore(o, &l, &w, start, L, res);
  }
  lua_close(L);
  pl_log_free(&l);
  pl_workload_free(&w);
  return rc;
}
