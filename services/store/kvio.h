/*
 * kvio.h -- the one narrow seam through which the native writer touches
 * files, so that tests can make any file operation fail.
 *
 * Every file operation of the writer (services/store/logwriter.c and the
 * format code in kvlog.c) goes through a tr__kvio: the POSIX calls it
 * names, with their exact signatures and conventions (-1 and errno on
 * failure). The writer uses the real ones unless tr_kv_config.io points at
 * a tr__kvio of the caller's; a NULL member there means "the real one", so
 * a test fills in only what it wants to break:
 *
 *   static ssize_t full_disk(int fd, const void *b, size_t n) {
 *     (void)fd, (void)b, (void)n;
 *     errno = ENOSPC;
 *     return -1;
 *   }
 *   static const tr__kvio faulty = {.write = full_disk};
 *   tr_kv_config cfg = {.dir = dir, .io = &faulty};
 *
 * The table must outlive the writers that use it. Short writes are allowed
 * (the writer carries on from where one stopped); EINTR is retried.
 */
#ifndef TR_KVIO_H
#define TR_KVIO_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

typedef struct tr__kvio {
  int (*open)(const char *path, int flags, mode_t mode);
  ssize_t (*read)(int fd, void *buf, size_t n);
  ssize_t (*write)(int fd, const void *buf, size_t n);
  int (*fsync)(int fd);
  int (*ftruncate)(int fd, off_t len);
  off_t (*lseek)(int fd, off_t off, int whence);
  int (*fstat)(int fd, struct stat *st);
  int (*close)(int fd);
  int (*rename)(const char *from, const char *to);
  int (*unlink)(const char *path);
  int (*mkdir)(const char *path, mode_t mode);
  int (*flock)(int fd, int op);
  ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
} tr__kvio;

/* Fills *out from user (may be NULL): user's members where set, the real
 * POSIX calls for the rest. */
void tr__kvio_resolve(tr__kvio *out, const tr__kvio *user);

/* Helpers on top of a resolved tr__kvio; each returns 0 or a negative
 * errno. */

/* Writes all n bytes, carrying on after short writes and EINTR. A write
 * that makes no progress counts as EIO. */
int tr__kvio_write_all(const tr__kvio *io, int fd, const void *buf, size_t n);

/* Reads up to n bytes, carrying on until n or end of file; the count read
 * goes to *got. */
int tr__kvio_read_full(const tr__kvio *io, int fd, void *buf, size_t n,
                       size_t *got);

/* Reads exactly n bytes at offset off (carrying on after short reads and
 * EINTR, the file offset untouched): the writer reads a value back from
 * where its index says it is. A file that ends first is -EIO: the index
 * never points past what was written. */
int tr__kvio_pread_all(const tr__kvio *io, int fd, void *buf, size_t n,
                       off_t off);

/* fsync with EINTR retried (a failed fsync is never retried otherwise). */
int tr__kvio_fsync(const tr__kvio *io, int fd);

/* Makes the entries of directory dir durable (open it, fsync, close). */
int tr__kvio_fsync_dir(const tr__kvio *io, const char *dir);

#endif
