/*
 * lfile.c -- require "actor.file": what a Lua actor needs to own a data
 * file safely and stock Lua lacks: a directory lock, fsync, and atomic
 * replacement (write a temporary file, fsync it, rename it into place,
 * fsync the directory), as the store's JSON writer does.
 *
 * The functions return nil, a message and the errno on failure, like
 * io.open (lock's "in use" has no errno: it is no failure of the system).
 * Tests replace them in the module table to make writes fail: that table
 * is the Lua writer's one seam to the file system.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ltroupe.h"

#define TRL_LOCK "actor.file.lock"
#define TRL_SPARE "actor.file.spare"

static int fail(lua_State *L, const char *what, const char *path) {
  int e = errno;
  luaL_pushfail(L);
  lua_pushfstring(L, "%s %s: %s", what, path, strerror(e));
  lua_pushinteger(L, e);
  return 3;
}

/* Writes all of iov[0..n) to fd, going on after short writes; changes
 * iov. */
static int write_iov(int fd, struct iovec *iov, int n) {
  while (n > 0) {
    ssize_t w = writev(fd, iov, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    for (; n > 0 && (size_t)w >= iov->iov_len; iov++, n--)
      w -= (ssize_t)iov->iov_len;
    if (n > 0) {
      iov->iov_base = (char *)iov->iov_base + w;
      iov->iov_len -= (size_t)w;
    }
  }
  return 0;
}

/* Writes the string at idx, or the strings t[1..#t] of the table there one
 * after another, to fd: a writer that keeps its file in pieces writes them
 * without joining them first. */
static int write_data(lua_State *L, int idx, int fd) {
  struct iovec iov[64];
  lua_Integer i, n;
  int k = 0, rc = 0;
  if (!lua_istable(L, idx)) {
    iov[0].iov_base = (void *)lua_tolstring(L, idx, &iov[0].iov_len);
    return write_iov(fd, iov, 1);
  }
  n = luaL_len(L, idx);
  for (i = 1; i <= n && !rc; i++) {
    lua_rawgeti(L, idx, i); /* the table holds it: the pointer stays good */
    iov[k].iov_base = (void *)lua_tolstring(L, -1, &iov[k].iov_len);
    lua_pop(L, 1);
    if (++k == (int)(sizeof iov / sizeof *iov) || i == n) {
      rc = write_iov(fd, iov, k);
      k = 0;
    }
  }
  return rc;
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

/* A writer that replaces one file again and again keeps two open
 * (actor.file.spare): the one path names, and the one path.tmp names,
 * emptied and written again for the next version, then exchanged with
 * path. Neither is made nor removed for each version: on ext4 a new file
 * per version costs more than its bytes (an inode found and freed each
 * time), and renaming one over path makes the kernel write it out and the
 * next rename wait for that I/O (0.3 to 3 ms a time here, against some
 * 0.02 ms). -1: not open (yet). */
typedef struct spare {
  int cur, next;
} spare;

/* Puts tmp in path's place in one atomic step: exchanges the two names,
 * or, with no path yet or a file system that cannot exchange, renames tmp
 * over it. The old file is then tmp: sp keeps it open for the next
 * version, or it goes. fd is tmp's, open; sp takes it. */
static int replace(const char *tmp, const char *path, spare *sp, int fd) {
#ifdef RENAME_EXCHANGE
  if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE) == 0) {
    if (!sp) {
      unlink(tmp); /* one left over is removed at the next start */
      return 0;
    }
    sp->next = sp->cur; /* -1: opened by name next time */
    sp->cur = fd;
    return 0;
  }
  if (errno != ENOENT && errno != EINVAL && errno != ENOSYS)
    return -1;
#endif
  if (rename(tmp, path))
    return -1;
  if (sp) {
    if (sp->cur >= 0)
      close(sp->cur);
    sp->cur = fd;
    sp->next = -1;
  }
  return 0;
}

/* write_atomic(path, data[, sync[, spare]]): path ends up holding data,
 * or, after a failure, what it held before; never half of each. data is a
 * string or an array of strings, written one after another. sync
 * (default true) fsyncs the file before it takes path's place, and the
 * directory after. spare (actor.file.spare(path)) keeps the files open
 * between calls. The file written is new, or emptied first, never
 * overwritten in place: after a power loss without sync, path is whole,
 * cut short or empty (what the kernel had not written is not there), never
 * a mix of two versions, so a reader can tell. */
static int f_write_atomic(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int sync = lua_isnoneornil(L, 3) ? 1 : lua_toboolean(L, 3);
  spare *sp = lua_isnoneornil(L, 4) ? NULL : luaL_checkudata(L, 4, TRL_SPARE);
  char tmp[4096];
  int fd;
  if (lua_istable(L, 2)) {
    lua_Integer i, n = luaL_len(L, 2);
    for (i = 1; i <= n; i++) {
      int t = lua_rawgeti(L, 2, i);
      lua_pop(L, 1);
      if (t != LUA_TSTRING)
        return luaL_argerror(L, 2, "an array of strings expected");
    }
  } else {
    luaL_checktype(L, 2, LUA_TSTRING);
  }
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
    return luaL_error(L, "path too long");
  if (sp && sp->next >= 0) {
    fd = sp->next;
    if (ftruncate(fd, 0) || lseek(fd, 0, SEEK_SET) < 0)
      return fail(L, "cannot empty", tmp);
  } else if ((fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) <
             0) {
    return fail(L, "cannot create", tmp);
  }
  if (sp)
    sp->next = fd; /* kept, whatever happens: emptied next time */
  if (write_data(L, 2, fd) || (sync && fsync(fd)) || (!sp && close(fd))) {
    int e = errno;
    if (!sp) {
      close(fd);
      unlink(tmp);
    }
    errno = e;
    return fail(L, "cannot write", tmp);
  }
  if (replace(tmp, path, sp, fd)) {
    int e = errno;
    if (!sp)
      unlink(tmp);
    errno = e;
    return fail(L, "cannot replace", path);
  }
  if (sync && fsync_dir_of(path))
    return fail(L, "cannot fsync the directory of", path);
  lua_pushboolean(L, 1);
  return 1;
}

/* spare(path): what write_atomic(path, data, sync, spare) keeps between
 * calls. Closing it (or collecting it) closes its files and removes
 * path.tmp, the spare one. */
static int f_spare(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  spare *sp = lua_newuserdatauv(L, sizeof *sp, 1);
  sp->cur = sp->next = -1;
  lua_pushfstring(L, "%s.tmp", path);
  lua_setiuservalue(L, -2, 1);
  luaL_setmetatable(L, TRL_SPARE);
  return 1;
}

static int spare_close(lua_State *L) {
  spare *sp = luaL_checkudata(L, 1, TRL_SPARE);
  if (sp->next >= 0) {
    lua_getiuservalue(L, 1, 1);
    unlink(lua_tostring(L, -1));
    close(sp->next);
  }
  if (sp->cur >= 0)
    close(sp->cur);
  sp->cur = sp->next = -1;
  return 0;
}

/* spare:empty(): the spare file goes (path.tmp closed and removed), so the
 * next write_atomic makes a new one. A writer calls it once path is
 * fsynced: the spare then holds the version before, never fsynced, which
 * the next write would empty and write again -- and should a power loss
 * keep that write's data from the disk but not the exchange, path would
 * name the old version, older than the one fsynced. A new file has no
 * old version to show: it is empty or cut short, which a reader tells. */
static int spare_empty(lua_State *L) {
  spare *sp = luaL_checkudata(L, 1, TRL_SPARE);
  lua_getiuservalue(L, 1, 1);
  unlink(lua_tostring(L, -1)); /* open or not (-1: opened by name next) */
  if (sp->next >= 0) {
    close(sp->next);
    sp->next = -1;
  }
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

/* lock(dir[, readonly]): an exclusive lock on dir/LOCK, held until the
 * returned object is closed or collected. nil plus "... in use (pid N)"
 * if another holds it, in this process or another; nil, a message and the
 * errno if LOCK cannot be opened (a directory this process may not write
 * to). readonly: LOCK is only opened for reading, not made nor written, to
 * learn whether a writer holds a directory this process cannot write. */
static int f_lock(lua_State *L) {
  const char *dir = luaL_checkstring(L, 1);
  int readonly = lua_toboolean(L, 2);
  char path[4096], holder[64];
  int *ud, fd;
  ssize_t n;
  snprintf(path, sizeof path, "%s/LOCK", dir);
  if ((fd = open(path,
                 readonly ? O_RDONLY | O_CLOEXEC : O_RDWR | O_CREAT | O_CLOEXEC,
                 0644)) < 0)
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
  if (!readonly &&
      (ftruncate(fd, 0) || pwrite(fd, holder, strlen(holder), 0) < 0)) {
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

int trL__open_file(lua_State *L) {
  static const luaL_Reg funcs[] = {{"write_atomic", f_write_atomic},
                                   {"spare", f_spare},
                                   {"fsync", f_fsync},
                                   {"mkdir", f_mkdir},
                                   {"lock", f_lock},
                                   {NULL, NULL}};
  static const luaL_Reg lock_meta[] = {{"close", lock_close},
                                       {"__gc", lock_close},
                                       {"__close", lock_close},
                                       {NULL, NULL}};
  static const luaL_Reg spare_meta[] = {{"close", spare_close},
                                        {"empty", spare_empty},
                                        {"__gc", spare_close},
                                        {"__close", spare_close},
                                        {NULL, NULL}};
  if (luaL_newmetatable(L, TRL_LOCK)) {
    luaL_setfuncs(L, lock_meta, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, TRL_SPARE)) {
    luaL_setfuncs(L, spare_meta, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  /* errno values the JSON writer tells apart (the third result above) */
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, ENOENT);
  lua_setfield(L, -2, "ENOENT");
  lua_pushinteger(L, EACCES);
  lua_setfield(L, -2, "EACCES");
  lua_pushinteger(L, EPERM);
  lua_setfield(L, -2, "EPERM");
  lua_pushinteger(L, EROFS);
  lua_setfield(L, -2, "EROFS");
  lua_setfield(L, -2, "errno");
  return 1;
}
