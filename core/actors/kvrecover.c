/*
 * kvrecover.c -- how the native writer starts: it makes the data directory,
 * locks it, and reads the data back, repairing what a crash left.
 *
 *   1. mkdir the directory (its last level; EEXIST is fine).
 *   2. LOCK: opened (created) and flock'ed LOCK_EX|LOCK_NB, then "pid <n>"
 *      written into it. Held: the start fails with "data directory <dir>
 *      is in use (<what LOCK says>)". Not writable (EACCES, EROFS, EPERM):
 *      the writer goes on read-only -- it loads, and refuses changes.
 *   3. kv.snap.tmp and kv.log.tmp, left by a crash mid-replace, go.
 *   4. kv.snap is read into the map. It is written whole and renamed into
 *      place, so a bad one is damage, not a crash: its good prefix is kept,
 *      the file is renamed to kv.snap.corrupt-<time>, and once the log is
 *      read a new snapshot is written at once (else the next start would
 *      lose that prefix).
 *   5. kv.log is replayed over it. Missing or empty (0 bytes, or part of
 *      a header): a new one is made. A torn tail (a write cut short) is
 *      cut off; a corrupt one (bad bytes with more after them) is copied
 *      to kv.log.corrupt-<time> first; if that copy fails the log is left
 *      alone and changes are refused.
 *   A file of another kind or format version, or one that cannot be read,
 *   stops the start with an error naming it; it is left as it is.
 * What was found becomes the info line the store hands out, e.g. "loaded
 * 3 keys from ./troupe-data (snapshot 2, log 5 records; dropped a torn
 * tail of 17 bytes)".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "logwriter.h"

typedef tr_kvwriter writer;

/* A name for a damaged file kept aside: <path>.corrupt-<unix time>[-i],
 * one that is not taken. */
static int aside_name(writer *w, const char *path, char *buf, size_t n) {
  long t = (long)time(NULL);
  int i;
  for (i = 0; i < 100; i++) {
    int fd;
    if (i)
      snprintf(buf, n, "%s.corrupt-%ld-%d", path, t, i);
    else
      snprintf(buf, n, "%s.corrupt-%ld", path, t);
    if ((fd = w->io.open(buf, O_RDONLY | O_CLOEXEC, 0)) < 0 && errno == ENOENT)
      return 0;
    if (fd >= 0)
      w->io.close(fd);
  }
  return -1;
}

static int make_dir(writer *w) {
  if (w->io.mkdir(w->dir, 0755) < 0 && errno != EEXIST) {
    tr_host_log(w->h, TR_LOG_ERROR,
                "kv.writer: cannot create the data directory %s: %s", w->dir,
                strerror(errno));
    return -1;
  }
  return 0;
}

static int read_only_errno(int e) {
  return e == EACCES || e == EROFS || e == EPERM;
}

/* Locks the directory (or learns it may only read it). */
static int lock_dir(writer *w) {
  char text[64], why[300];
  size_t got = 0;
  int fd = w->io.open(w->p_lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 && read_only_errno(errno)) {
    snprintf(why, sizeof why, "the data directory %s is not writable (%s)",
             w->dir, strerror(errno));
    tr_kvwriter_refuse(w, why);
    fd = w->io.open(w->p_lock, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0 && errno == ENOENT)
      return 0; /* no writer could have made it: nobody to lock out */
  }
  if (fd < 0) {
    tr_host_log(w->h, TR_LOG_ERROR, "kv.writer: cannot open %s: %s", w->p_lock,
                strerror(errno));
    return -1;
  }
  if (w->io.flock(fd, LOCK_EX | LOCK_NB) < 0) {
    int e = errno;
    if (e == EWOULDBLOCK) {
      tr_kv_io_read_full(&w->io, fd, text, sizeof text - 1, &got);
      text[got] = '\0';
      text[strcspn(text, "\r\n")] = '\0';
      tr_host_log(w->h, TR_LOG_ERROR, "data directory %s is in use (%s)",
                  w->dir, text[0] ? text : "by another writer");
    } else {
      tr_host_log(w->h, TR_LOG_ERROR, "kv.writer: cannot lock %s: %s",
                  w->p_lock, strerror(e));
    }
    w->io.close(fd);
    return -1;
  }
  w->lock_fd = fd;
  if (!w->refused) {
    int n = snprintf(text, sizeof text, "pid %ld\n", (long)getpid());
    if (w->io.ftruncate(fd, 0) < 0 ||
        tr_kv_io_write_all(&w->io, fd, text, (size_t)n))
      tr_host_log(w->h, TR_LOG_WARN, "kv.writer: cannot write %s: %s",
                  w->p_lock, strerror(errno));
  }
  return 0;
}

static void remove_leftovers(writer *w) {
  const char *tmp[2];
  size_t i;
  tmp[0] = w->p_snap_tmp;
  tmp[1] = w->p_log_tmp;
  for (i = 0; i < 2; i++)
    if (w->io.unlink(tmp[i]) == 0)
      tr_host_log(w->h, TR_LOG_WARN,
                  "kv.writer: removed %s, left over from a crash", tmp[i]);
}

/* What loading found, for the info line. */
typedef struct found {
  int snap, log; /* the files were there */
  uint64_t snap_records, log_records;
  char notes[400];
} found;

static void note(found *f, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void note(found *f, const char *fmt, ...) {
  size_t len = strlen(f->notes);
  va_list ap;
  if (len + 3 >= sizeof f->notes)
    return;
  if (len) {
    strcpy(f->notes + len, "; ");
    len += 2;
  }
  va_start(ap, fmt);
  vsnprintf(f->notes + len, sizeof f->notes - len, fmt, ap);
  va_end(ap);
}

static int unreadable(writer *w, const tr_kvload *l, const char *path) {
  char text[400];
  tr_kvlog_describe(l, path, text, sizeof text);
  tr_host_log(w->h, TR_LOG_ERROR,
              "kv.writer: %s; refusing to start (the file is left as it is)",
              text);
  return -1;
}

static int load_snapshot(writer *w, found *f, int *damaged) {
  tr_kvload l;
  char aside[512], text[400];
  int fd = w->io.open(w->p_snap, O_RDONLY | O_CLOEXEC, 0);
  *damaged = 0;
  if (fd < 0 && errno == ENOENT)
    return 0;
  if (fd < 0) {
    tr_host_log(w->h, TR_LOG_ERROR,
                "kv.writer: cannot read %s: %s; refusing to start", w->p_snap,
                strerror(errno));
    return -1;
  }
  f->snap = 1;
  tr_kvlog_load(&w->io, fd, 1, w->map, tr_kvwriter_beat, w, &l);
  w->io.close(fd);
  f->snap_records = l.records;
  switch (l.status) {
  case TR_KVLOAD_OK:
    return 0;
  case TR_KVLOAD_EMPTY:
  case TR_KVLOAD_TORN:
  case TR_KVLOAD_CORRUPT:
    break;
  default:
    return unreadable(w, &l, w->p_snap);
  }
  /* Written whole and renamed into place, a snapshot cannot be torn: this
   * is damage. Keep what it held up to there, and the file, aside. */
  tr_kvlog_describe(&l, w->p_snap, text, sizeof text);
  if (w->refused) {
    tr_host_log(w->h, TR_LOG_ERROR,
                "kv.writer: the snapshot is damaged (%s); kept its first "
                "%llu keys; left in place (read-only)",
                text, (unsigned long long)l.records);
    note(f, "the snapshot is damaged: kept its first %llu keys",
         (unsigned long long)l.records);
    return 0;
  }
  if (aside_name(w, w->p_snap, aside, sizeof aside) ||
      w->io.rename(w->p_snap, aside) < 0) {
    tr_host_log(w->h, TR_LOG_ERROR,
                "kv.writer: the snapshot is damaged (%s) and cannot be moved "
                "aside: %s; refusing to start",
                text, strerror(errno));
    return -1;
  }
  tr_host_log(w->h, TR_LOG_ERROR,
              "kv.writer: THE SNAPSHOT IS DAMAGED (%s): kept its first %llu "
              "keys, moved it to %s; a new snapshot follows",
              text, (unsigned long long)l.records, aside);
  note(f, "the snapshot was damaged: kept its first %llu keys, moved it to %s",
       (unsigned long long)l.records, tr_kvwriter_base(aside));
  *damaged = 1;
  return 0;
}

/* A new empty log, written atomically, open for appending. */
static int new_log(writer *w) {
  int fd, rc = tr_kvlog_write_file(&w->io, w->dir, w->p_log, w->p_log_tmp, NULL,
                                   NULL, NULL, &fd, &w->log_size);
  if (rc < 0) {
    tr_host_log(w->h, TR_LOG_ERROR, "kv.writer: cannot create %s: %s", w->p_log,
                strerror(-rc));
    return -1;
  }
  if (w->log_fd >= 0)
    w->io.close(w->log_fd);
  w->log_fd = fd;
  if (rc == 1)
    tr_kvwriter_refuse(w, "fsync of the data directory failed");
  return 0;
}

/* Cuts the log back to its good prefix (a corrupt tail kept aside first). */
static int cut_log(writer *w, found *f, const tr_kvload *l) {
  char aside[512], text[400], why[600];
  int rc;
  uint64_t dropped = l->size - l->valid_end;
  tr_kvlog_describe(l, w->p_log, text, sizeof text);
  if (l->status == TR_KVLOAD_TORN) {
    tr_host_log(w->h, TR_LOG_WARN, "kv.writer: %s (%llu good records kept)",
                text, (unsigned long long)l->records);
    note(f, "dropped a torn tail of %llu bytes", (unsigned long long)dropped);
  } else {
    if (aside_name(w, w->p_log, aside, sizeof aside) < 0)
      rc = -EEXIST;
    else
      rc = tr_kvlog_copy_tail(&w->io, w->log_fd, l->valid_end, aside);
    if (rc) {
      snprintf(why, sizeof why,
               "%s, and it cannot be kept aside (%s): the log is left as it is",
               text, strerror(-rc));
      tr_kvwriter_refuse(w, why);
      note(f, "corrupt data at offset %llu (log left as it is)",
           (unsigned long long)l->valid_end);
      return 0;
    }
    tr_host_log(w->h, TR_LOG_ERROR,
                "kv.writer: %s; kept them in %s (%llu good records kept)", text,
                aside, (unsigned long long)l->records);
    note(f, "dropped %llu corrupt bytes, kept in %s",
         (unsigned long long)dropped, tr_kvwriter_base(aside));
  }
  rc = w->io.ftruncate(w->log_fd, (off_t)l->valid_end) < 0
           ? -errno
           : tr_kv_io_fsync(&w->io, w->log_fd);
  if (rc) {
    snprintf(why, sizeof why, "cannot cut the bad tail off %s: %s", w->p_log,
             strerror(-rc));
    tr_kvwriter_refuse(w, why);
  }
  return 0;
}

static int load_log(writer *w, found *f) {
  tr_kvload l;
  int ro = w->refused != NULL;
  int fd =
      w->io.open(w->p_log, (ro ? O_RDONLY : O_RDWR | O_APPEND) | O_CLOEXEC, 0);
  if (fd < 0 && !ro && read_only_errno(errno)) {
    char why[300];
    snprintf(why, sizeof why, "%s is not writable (%s)", w->p_log,
             strerror(errno));
    tr_kvwriter_refuse(w, why);
    ro = 1;
    fd = w->io.open(w->p_log, O_RDONLY | O_CLOEXEC, 0);
  }
  if (fd < 0 && errno == ENOENT)
    return ro ? 0 : new_log(w);
  if (fd < 0) {
    tr_host_log(w->h, TR_LOG_ERROR,
                "kv.writer: cannot read %s: %s; refusing to start", w->p_log,
                strerror(errno));
    return -1;
  }
  w->log_fd = fd;
  f->log = 1;
  tr_kvlog_load(&w->io, fd, 0, w->map, tr_kvwriter_beat, w, &l);
  f->log_records = l.records;
  w->log_size = l.valid_end;
  switch (l.status) {
  case TR_KVLOAD_OK:
    break;
  case TR_KVLOAD_EMPTY:
    note(f, "the log was empty");
    if (!ro)
      return new_log(w);
    break;
  case TR_KVLOAD_TORN:
  case TR_KVLOAD_CORRUPT:
    if (ro) {
      note(f, "a bad tail at offset %llu was skipped",
           (unsigned long long)l.valid_end);
      break;
    }
    return cut_log(w, f, &l);
  default:
    return unreadable(w, &l, w->p_log);
  }
  return 0;
}

static int load(writer *w) {
  found f;
  int damaged = 0;
  size_t len;
  memset(&f, 0, sizeof f);
  if (!w->refused)
    remove_leftovers(w);
  if (load_snapshot(w, &f, &damaged) || load_log(w, &f))
    return -1;
  if (damaged && !w->refused)
    tr_kvwriter_compact(
        w); /* what was recovered goes into a whole snapshot at once */
  if (!f.snap && !f.log)
    note(&f, "a new data directory");
  if (w->refused)
    note(&f, "read-only: %s", w->refused);
  len = (size_t)snprintf(
      w->info, sizeof w->info,
      "loaded %zu key%s from %s (snapshot %llu, log %llu records",
      tr_kvmap_count(w->map), tr_kvmap_count(w->map) == 1 ? "" : "s", w->dir,
      (unsigned long long)f.snap_records, (unsigned long long)f.log_records);
  if (len < sizeof w->info)
    snprintf(w->info + len, sizeof w->info - len, "%s%s)",
             f.notes[0] ? "; " : "", f.notes);
  tr_host_log(w->h, TR_LOG_INFO, "kv.writer: %s", w->info);
  tr_kvwriter_beat(w);
  return 0;
}

int tr_kvwriter_recover(tr_kvwriter *w) {
  return make_dir(w) || lock_dir(w) || load(w) ? -1 : 0;
}
