/*
 * kvrecord.c -- a recording tr__kvio for the native writer: it does each
 * file operation for real, on the run's scratch directory, and logs the
 * ones that touch storage (oplog.h) in the order they were issued, so
 * that simdisk.c can replay them up to any crash point. Test builds only:
 * the writer takes it through tr_kv_config.io, never by default.
 *
 * The seam's functions take no context, so the recorder's state is one
 * pointer of this test program (never of libtroupe); one recording at a
 * time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "powerloss.h"

#define MAXFD 1024

typedef struct recorder {
  pl_log *log;
  int fd_ino[MAXFD]; /* 0: not ours, -1: the directory, else an inode */
  int fd_append[MAXFD];
  struct {
    char name[32];
    int ino;
  } names[64];
  int nnames;
  int compacting, log_renamed;
} recorder;

static recorder rec_state;
static recorder *rec; /* NULL when not recording */

static const char *base(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

static int name_ino(const char *name) {
  int i;
  for (i = 0; i < rec->nnames; i++)
    if (!strcmp(rec->names[i].name, name))
      return rec->names[i].ino;
  return 0;
}

static void name_set(const char *name, int ino) {
  int i;
  for (i = 0; i < rec->nnames; i++)
    if (!strcmp(rec->names[i].name, name)) {
      if (ino)
        rec->names[i].ino = ino;
      else
        rec->names[i] = rec->names[--rec->nnames];
      return;
    }
  if (ino && rec->nnames < 64) {
    snprintf(rec->names[rec->nnames].name, 32, "%s", name);
    rec->names[rec->nnames++].ino = ino;
  }
}

static void add(int type, int ino, const char *name, const char *name2,
                uint64_t off, uint64_t len, const void *bytes) {
  pl_op o;
  memset(&o, 0, sizeof o);
  o.type = type;
  o.ino = ino;
  if (name)
    snprintf(o.name, sizeof o.name, "%s", name);
  if (name2)
    snprintf(o.name2, sizeof o.name2, "%s", name2);
  o.off = off;
  o.len = len;
  pl_log_add(rec->log, &o, bytes, (size_t)len);
}

static int r_open(const char *path, int flags, mode_t mode) {
  const char *name = base(path);
  int had = name_ino(name), fd = open(path, flags, mode), ino = had;
  if (fd < 0 || fd >= MAXFD || !rec)
    return fd;
  if (flags & O_DIRECTORY) {
    rec->fd_ino[fd] = -1;
    return fd;
  }
  if (!had && (flags & O_CREAT)) {
    ino = ++rec->log->inodes;
    if (!strcmp(name, "kv.snap.tmp") && !rec->compacting) {
      rec->compacting = 1;
      rec->log_renamed = 0;
      pl_mark(PL_COMPACT_IN, 0);
    }
    add(PL_CREATE, ino, name, NULL, 0, 0, NULL);
    name_set(name, ino);
  } else if (had && (flags & O_TRUNC)) {
    add(PL_TRUNC, ino, NULL, NULL, 0, 0, NULL);
  }
  rec->fd_ino[fd] = ino;
  rec->fd_append[fd] = (flags & O_APPEND) != 0;
  return fd;
}

static ssize_t r_write(int fd, const void *b, size_t n) {
  off_t at;
  ssize_t w;
  struct stat st;
  if (!rec || fd < 0 || fd >= MAXFD || rec->fd_ino[fd] <= 0)
    return write(fd, b, n);
  if (rec->fd_append[fd])
    at = fstat(fd, &st) ? -1 : st.st_size;
  else
    at = lseek(fd, 0, SEEK_CUR);
  w = write(fd, b, n);
  if (w > 0 && at >= 0)
    add(PL_WRITE, rec->fd_ino[fd], NULL, NULL, (uint64_t)at, (uint64_t)w, b);
  return w;
}

static int r_fsync(int fd) {
  int rc = fsync(fd);
  if (rc || !rec || fd < 0 || fd >= MAXFD || !rec->fd_ino[fd])
    return rc;
  if (rec->fd_ino[fd] < 0) {
    add(PL_DIRSYNC, 0, NULL, NULL, 0, 0, NULL);
    if (rec->compacting && rec->log_renamed) {
      rec->compacting = rec->log_renamed = 0;
      pl_mark(PL_COMPACT_OUT, 0);
    }
  } else {
    add(PL_FSYNC, rec->fd_ino[fd], NULL, NULL, 0, 0, NULL);
  }
  return rc;
}

static int r_ftruncate(int fd, off_t len) {
  int rc = ftruncate(fd, len);
  if (!rc && rec && fd >= 0 && fd < MAXFD && rec->fd_ino[fd] > 0)
    add(PL_TRUNC, rec->fd_ino[fd], NULL, NULL, 0, (uint64_t)len, NULL);
  return rc;
}

static int r_close(int fd) {
  if (rec && fd >= 0 && fd < MAXFD)
    rec->fd_ino[fd] = 0;
  return close(fd);
}

static int r_rename(const char *from, const char *to) {
  int rc = rename(from, to), ino;
  if (rc || !rec)
    return rc;
  ino = name_ino(base(from));
  add(PL_RENAME, 0, base(from), base(to), 0, 0, NULL);
  name_set(base(from), 0);
  name_set(base(to), ino);
  if (!strcmp(base(to), "kv.log"))
    rec->log_renamed = 1;
  return rc;
}

static int r_unlink(const char *path) {
  int rc = unlink(path);
  if (!rc && rec) {
    add(PL_UNLINK, 0, base(path), NULL, 0, 0, NULL);
    name_set(base(path), 0);
  }
  return rc;
}

static const tr__kvio recording_io = {.open = r_open,
                                      .write = r_write,
                                      .fsync = r_fsync,
                                      .ftruncate = r_ftruncate,
                                      .close = r_close,
                                      .rename = r_rename,
                                      .unlink = r_unlink};

const tr__kvio *pl_record_start(pl_log *l) {
  memset(&rec_state, 0, sizeof rec_state);
  rec_state.log = l;
  rec = &rec_state;
  return &recording_io;
}

void pl_record_stop(void) { rec = NULL; }

void pl_mark(int type, int change) {
  pl_op o;
  if (!rec)
    return;
  memset(&o, 0, sizeof o);
  o.type = type;
  o.change = change;
  pl_log_add(rec->log, &o, NULL, 0);
}

/* The Lua writer's recording (json_record.lua) comes through these: the
 * same log, kept by name. */
void pl_record_create(const char *name) {
  int ino;
  if (!rec)
    return;
  ino = ++rec->log->inodes;
  add(PL_CREATE, ino, name, NULL, 0, 0, NULL);
  name_set(name, ino);
}

int pl_record_ino(const char *name) { return rec ? name_ino(name) : 0; }

void pl_record_op(int type, const char *name, const char *name2, uint64_t off,
                  uint64_t len, const void *bytes) {
  int ino;
  if (!rec)
    return;
  ino = name ? name_ino(name) : 0;
  switch (type) {
  case PL_WRITE:
  case PL_TRUNC:
  case PL_FSYNC:
    if (ino)
      add(type, ino, NULL, NULL, off, len, bytes);
    return;
  case PL_RENAME:
    add(type, 0, name, name2, 0, 0, NULL);
    name_set(name, 0);
    name_set(name2, ino);
    return;
  case PL_EXCHANGE: {
    int other = name_ino(name2);
    add(type, 0, name, name2, 0, 0, NULL);
    name_set(name, other);
    name_set(name2, ino);
    return;
  }
  case PL_UNLINK:
    add(type, 0, name, NULL, 0, 0, NULL);
    name_set(name, 0);
    return;
  default:
    add(type, 0, NULL, NULL, 0, 0, NULL);
  }
}
