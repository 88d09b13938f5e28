/*
 * lconsole.c -- the console's socket, for actor.console: a Unix socket
 * (mode 0600) on the host's loop whose connections become messages to one
 * actor, the console's listener:
 *   ("open", id)  ("data", id, bytes)  ("closed", id)
 * and which that actor (or its sessions, on the same host) answers with
 * write(id, bytes) and close(id). Preloaded as "actor.console_io".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <uv.h>

#include "ltroupe.h"

#define MAX_CONNS 64
#define META "actor.console_io"

typedef struct listener listener;

typedef struct conn {
  uv_pipe_t pipe;
  listener *owner; /* NULL once the listener is gone */
  int id;
} conn;

struct listener {
  uv_pipe_t server;
  tr_host *h;
  tr_pid to;
  char *path;
  int open; /* the server handle is live */
  conn *conns[MAX_CONNS];
};

typedef struct box {
  listener *l; /* NULL once closed; freed by the close callback */
} box;

static void free_listener(uv_handle_t *hd) {
  listener *l = hd->data;
  free(l->path);
  free(l);
}

static void free_conn(uv_handle_t *hd) { free(hd->data); }

static void drop(conn *c) {
  if (c->owner) {
    c->owner->conns[c->id] = NULL;
    tr_send(c->owner->h, 0, c->owner->to, tr_msg_pack("closed", "i", c->id));
    c->owner = NULL;
  }
  if (!uv_is_closing((uv_handle_t *)&c->pipe))
    uv_close((uv_handle_t *)&c->pipe, free_conn);
}

static void on_alloc(uv_handle_t *hd, size_t size, uv_buf_t *buf) {
  (void)hd;
  buf->base = malloc(size);
  buf->len = buf->base ? size : 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  conn *c = s->data;
  if (n > 0 && c->owner)
    tr_send(c->owner->h, 0, c->owner->to,
            tr_msg_pack("data", "iS", c->id, buf->base, (size_t)n));
  else if (n < 0)
    drop(c);
  free(buf->base);
}

static void on_conn(uv_stream_t *server, int status) {
  listener *l = server->data;
  conn *c;
  int id;
  if (status < 0 || !(c = calloc(1, sizeof *c)))
    return;
  c->pipe.data = c;
  uv_pipe_init(server->loop, &c->pipe, 0);
  if (uv_accept(server, (uv_stream_t *)&c->pipe)) {
    uv_close((uv_handle_t *)&c->pipe, free_conn);
    return;
  }
  for (id = 0; id < MAX_CONNS && l->conns[id]; id++)
    ;
  if (id == MAX_CONNS) { /* too many at once: refused by closing */
    uv_close((uv_handle_t *)&c->pipe, free_conn);
    return;
  }
  c->id = id;
  c->owner = l;
  l->conns[id] = c;
  tr_send(l->h, 0, l->to, tr_msg_pack("open", "i", id));
  uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

static listener *check(lua_State *L) {
  box *b = luaL_checkudata(L, 1, META);
  if (!b->l)
    luaL_error(L, "the console is closed");
  return b->l;
}

static conn *conn_of(lua_State *L, listener *l) {
  lua_Integer id = luaL_checkinteger(L, 2);
  return id >= 0 && id < MAX_CONNS ? l->conns[id] : NULL;
}

static void on_written(uv_write_t *w, int status) {
  (void)status;
  free(w);
}

/* write(id, bytes): true, or false when the connection is gone. */
static int l_write(lua_State *L) {
  listener *l = check(L);
  conn *c = conn_of(L, l);
  size_t n;
  const char *s = luaL_checklstring(L, 3, &n);
  uv_write_t *w;
  uv_buf_t buf;
  if (!c) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (!(w = malloc(sizeof *w + n)))
    return luaL_error(L, "out of memory");
  memcpy(w + 1, s, n);
  buf = uv_buf_init((char *)(w + 1), (unsigned)n);
  if (uv_write(w, (uv_stream_t *)&c->pipe, &buf, 1, on_written)) {
    free(w);
    drop(c);
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* close(id): the connection ends (after what was written). */
static int l_close_conn(lua_State *L) {
  listener *l = check(L);
  conn *c = conn_of(L, l);
  if (c)
    drop(c);
  return 0;
}

/* Closes every connection and the socket, and removes its file. */
static int l_gc(lua_State *L) {
  box *b = luaL_checkudata(L, 1, META);
  listener *l = b->l;
  int i;
  if (!l)
    return 0;
  b->l = NULL;
  for (i = 0; i < MAX_CONNS; i++)
    if (l->conns[i]) {
      l->conns[i]->owner = NULL;
      drop(l->conns[i]);
    }
  unlink(l->path);
  uv_close((uv_handle_t *)&l->server, free_listener);
  return 0;
}

/* listen(path, pid): a console socket whose news go to pid. A stale
 * socket file is replaced; any other file is an error. */
static int l_listen(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  tr_pid *pid = luaL_checkudata(L, 2, "actor.pid");
  tr_host *h = trL_host_of(L);
  struct stat st;
  box *b;
  listener *l;
  int rc;
  if (!h)
    return luaL_error(L, "no host");
  if (lstat(path, &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return luaL_error(L, "%s exists and is not a socket", path);
    unlink(path);
  }
  b = lua_newuserdatauv(L, sizeof *b, 0);
  b->l = NULL;
  luaL_setmetatable(L, META);
  if (!(l = calloc(1, sizeof *l)) || !(l->path = strdup(path))) {
    free(l);
    return luaL_error(L, "out of memory");
  }
  l->h = h;
  l->to = *pid;
  l->server.data = l;
  uv_pipe_init(tr_host_loop(h), &l->server, 0);
  /* Mode 0600 before listen: until then no one can connect. */
  if ((rc = uv_pipe_bind(&l->server, path)) == 0 &&
      (rc = chmod(path, 0600) ? uv_translate_sys_error(errno) : 0) == 0)
    rc = uv_listen((uv_stream_t *)&l->server, 8, on_conn);
  if (rc) {
    if (rc != UV_EADDRINUSE)
      unlink(path);
    uv_close((uv_handle_t *)&l->server, free_listener);
    return luaL_error(L, "console %s: %s", path, uv_strerror(rc));
  }
  b->l = l;
  return 1;
}

static int open_console_io(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"write", l_write}, {"close", l_close_conn}, {"shut", l_gc},
      {"__gc", l_gc},     {"__close", l_gc},       {NULL, NULL}};
  if (luaL_newmetatable(L, META)) {
    luaL_setfuncs(L, methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushcfunction(L, l_listen);
  lua_setfield(L, -2, "listen");
  return 1;
}

void trL__console_preload(lua_State *L) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, open_console_io);
  lua_setfield(L, -2, "actor.console_io");
  lua_pop(L, 2);
}

/* Spawns actor.console's listener on path, as `troupe --console` does:
 * LUA_OK, or an error status with the message on top of L's stack. */
int trL_console_start(lua_State *L, const char *path) {
  struct stat st;
  const char *slash = strrchr(path, '/');
  /* What listen would meet later, in the listener: said at once. */
  if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
    lua_pushfstring(L, "%s exists and is not a socket", path);
    return LUA_ERRRUN;
  }
  lua_pushlstring(L, path, slash ? (size_t)(slash - path) + 1 : 1);
  if (access(slash ? lua_tostring(L, -1) : ".", W_OK | X_OK)) {
    lua_pop(L, 1);
    lua_pushfstring(L, "cannot create %s: %s", path, strerror(errno));
    return LUA_ERRRUN;
  }
  lua_pop(L, 1);
  lua_pushstring(L, path);
  return trL_spawn(L, "actor.console.listen", 1, NULL);
}
