/*
 * kvio.c -- the writer's file operations: the real POSIX calls behind the
 * tr__kvio seam, and the few loops every caller needs (write everything,
 * read everything, fsync a directory) written once on top of it.
 *
 * The seam exists so tests can fail any operation (ENOSPC, EIO, short
 * writes); see kvio.h. Nothing here keeps state.
 */
#include "kvio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

static int real_open(const char *path, int flags, mode_t mode) {
  return open(path, flags, mode);
}

static const tr__kvio posix_io = {real_open, read,  write, fsync,  ftruncate,
                                  lseek,     fstat, close, rename, unlink,
                                  mkdir,     flock, pread};

void tr__kvio_resolve(tr__kvio *out, const tr__kvio *user) {
  *out = posix_io;
  if (!user)
    return;
#define TAKE(f)                                                                \
  if (user->f)                                                                 \
  out->f = user->f
  TAKE(open);
  TAKE(read);
  TAKE(write);
  TAKE(fsync);
  TAKE(ftruncate);
  TAKE(lseek);
  TAKE(fstat);
  TAKE(close);
  TAKE(rename);
  TAKE(unlink);
  TAKE(mkdir);
  TAKE(flock);
  TAKE(pread);
#undef TAKE
}

int tr__kvio_write_all(const tr__kvio *io, int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n) {
    ssize_t w = io->write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return errno ? -errno : -EIO;
    if (w == 0)
      return -EIO;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int tr__kvio_read_full(const tr__kvio *io, int fd, void *buf, size_t n,
                       size_t *got) {
  char *p = buf;
  size_t done = 0;
  while (done < n) {
    ssize_t r = io->read(fd, p + done, n - done);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      *got = done;
      return errno ? -errno : -EIO;
    }
    if (r == 0)
      break;
    done += (size_t)r;
  }
  *got = done;
  return 0;
}

int tr__kvio_pread_all(const tr__kvio *io, int fd, void *buf, size_t n,
                       off_t off) {
  char *p = buf;
  while (n) {
    ssize_t r = io->pread(fd, p, n, off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return errno ? -errno : -EIO;
    if (r == 0)
      return -EIO;
    p += r;
    off += r;
    n -= (size_t)r;
  }
  return 0;
}

int tr__kvio_fsync(const tr__kvio *io, int fd) {
  int rc;
  do
    rc = io->fsync(fd);
  while (rc < 0 && errno == EINTR);
  return rc < 0 ? (errno ? -errno : -EIO) : 0;
}

int tr__kvio_fsync_dir(const tr__kvio *io, const char *dir) {
  int fd = io->open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0), rc;
  if (fd < 0)
    return errno ? -errno : -EIO;
  rc = tr__kvio_fsync(io, fd);
  io->close(fd);
  return rc;
}
