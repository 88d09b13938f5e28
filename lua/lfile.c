/*
 * lfile.c -- require "actor.file": what a Lua actor needs to own a data
 * file safely and stock Lua lacks: a directory lock, fsync, and atomic
 * replacement (write a temporary file, fsync it, rename it over the old
 * one, fsync the directory), as the store's JSON writer does.
 *
 * The functions return nil plus a message on failure, like io.open. Tests
 * replace them in the module table to make writes fail: that table is the
 * Lua writer's one seam to the file system.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ltroupe.h"

#define TRL_LOCK "actor.file.lock"

static int fail(lua_State *L, const char *what, const char *path) {
  int e = errno;
  luaL_pushfail(L);
  lua_pushfstring(L, "%s %s: %s", what, path, strerror(e));
  lua_pushinteger(L, e);
  return 3;
}

/* Writes all of data to fd, going on after short writes. */
static int write_all(int fd, const char *data, size_t len) {
  while (len) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

static int fsync_dir_of(const char *path) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  int fd, rc;
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path) + (slash == path),
             path);
  if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) < 0)
    return -1;
  rc = fsync(fd);
  close(fd);
  return rc;
}

/* write_atomic(path, data[, sync]): path ends up holding data, or, after a
 * failure, what it held before; never half of each. sync (default true)
 * fsyncs the file and the directory. */
static int f_write_atomic(lua_State *L) {
  size_t len;
  const char *path = luaL_checkstring(L, 1);
  const char *data = luaL_checklstring(L, 2, &len);
  int sync = lua_isnoneornil(L, 3) ? 1 : lua_toboolean(L, 3);
  char tmp[4096];
  int fd;
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
    return luaL_error(L, "path too long");
  if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
    return fail(L, "cannot create", tmp);
  if (write_all(fd, data, len) || (sync && fsync(fd))) {
    int e = errno;
    close(fd);
    unlink(tmp);
    errno = e;
    return fail(L, "cannot write", tmp);
  }
  if (close(fd)) {
    unlink(tmp);
    return fail(L, "cannot write", tmp);
  }
  if (rename(tmp, path)) {
    int e = errno;
    unlink(tmp);
    errno = e;
    return fail(L, "cannot replace", path);
  }
  if (sync && fsync_dir_of(path))
    return fail(L, "cannot fsync the directory of", path);
  lua_pushboolean(L, 1);
  return 1;
}

/* fsync(path): flushes what path holds, and its directory entry, to the
 * disk: for a file written by write_atomic(path, data, false) earlier, as
 * the JSON writer's everysec policy does once a second. */
static int f_fsync(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(L, "cannot open", path);
  if (fsync(fd)) {
    int e = errno;
    close(fd);
    errno = e;
    return fail(L, "cannot fsync", path);
  }
  close(fd);
  if (fsync_dir_of(path))
    return fail(L, "cannot fsync the directory of", path);
  lua_pushboolean(L, 1);
  return 1;
}

/* mkdir(path): makes the directory if it is missing. */
static int f_mkdir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  if (mkdir(path, 0755) && errno != EEXIST)
    return fail(L, "cannot make", path);
  lua_pushboolean(L, 1);
  return 1;
}

/* lock(dir): an exclusive lock on dir/LOCK, held until the returned object
 * is closed or collected. nil plus "... in use (pid N)" if another holds
 * it, in this process or another. */
static int f_lock(lua_State *L) {
  const char *dir = luaL_checkstring(L, 1);
  char path[4096], holder[64];
  int *ud, fd;
  ssize_t n;
  snprintf(path, sizeof path, "%s/LOCK", dir);
  if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
    return fail(L, "cannot open", path);
  if (flock(fd, LOCK_EX | LOCK_NB)) {
    n = pread(fd, holder, sizeof holder - 1, 0);
    holder[n > 0 ? n : 0] = '\0';
    holder[strcspn(holder, "\n")] = '\0';
    close(fd);
    luaL_pushfail(L);
    lua_pushfstring(L, "data directory %s is in use (%s)", dir,
                    *holder ? holder : "by another host");
    return 2;
  }
  snprintf(holder, sizeof holder, "pid %ld\n", (long)getpid());
  if (ftruncate(fd, 0) || pwrite(fd, holder, strlen(holder), 0) < 0) {
    close(fd);
    return fail(L, "cannot write", path);
  }
  ud = lua_newuserdatauv(L, sizeof *ud, 0);
  *ud = fd;
  luaL_setmetatable(L, TRL_LOCK);
  return 1;
}

static int lock_close(lua_State *L) {
  int *fd = luaL_checkudata(L, 1, TRL_LOCK);
  if (*fd >= 0) {
    close(*fd); /* closing drops the flock */
    *fd = -1;
  }
  return 0;
}

int luaopen_actor_file(lua_State *L) {
  static const luaL_Reg funcs[] = {{"write_atomic", f_write_atomic},
                                   {"fsync", f_fsync},
                                   {"mkdir", f_mkdir},
                                   {"lock", f_lock},
                                   {NULL, NULL}};
  static const luaL_Reg lock_meta[] = {{"close", lock_close},
                                       {"__gc", lock_close},
                                       {"__close", lock_close},
                                       {NULL, NULL}};
  if (luaL_newmetatable(L, TRL_LOCK)) {
    luaL_setfuncs(L, lock_meta, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
