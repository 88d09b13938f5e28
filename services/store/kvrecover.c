/*
 * kvrecover.c -- how the native writer starts: it makes the data directory,
 * locks it, and reads the data back in steps (so that a big store does not
 * hold the loop up), repairing what a crash or damage left.
 *
 * begin (from the writer's init):
 *   1. mkdir the directory (its last level; EEXIST is fine).
 *   2. LOCK: opened (created) and flock'ed LOCK_EX|LOCK_NB, then "pid <n>"
 *      written into it. Held by another writer: the writer is unavailable,
 *      "data directory <dir> is in use (<what LOCK says>)". Not writable
 *      (EACCES, EROFS, EPERM): the writer goes on read-only -- it loads,
 *      and refuses changes.
 *   3. kv.snap.tmp and kv.log.tmp, left by a crash mid-replace, go.
 *   4. kv.snap and kv.log are opened and their headers read: a file of
 *      another kind or format version, or one that cannot be read, makes
 *      the writer unavailable, naming it; it is left as it is.
 * step (from the writer's handle, between messages):
 *   5. kv.snap is read into the index (kvindex.c: where each value is, not
 *      the value; the file stays open to read them back). It is written
 *      whole and renamed into
 *      place, so a bad one is damage, not a crash: what it held that is
 *      whole is kept (the records after a bad stretch too), and once the
 *      log is read too the file is renamed to kv.snap.corrupt-<time> and a
 *      new snapshot written at once (else the next start would lose what
 *      was kept); should that fail, the damaged one is put back.
 *   6. kv.log is replayed over it. Missing or empty (0 bytes, or part of a
 *      header): a new one is made. A torn tail (a write cut short) is cut
 *      off; a corrupt one (bad bytes and no good record after them) is
 *      copied to kv.log.corrupt-<time> first; if that copy fails the log is
 *      left alone and changes are refused. Holes -- bad stretches with good
 *      records after them, which a crash does not leave, so damage -- are
 *      skipped and described, and the log is repaired as soon as it is
 *      read: the whole index goes into a new snapshot, the old log is
 *      moved to kv.log.corrupt-<time>, and a new empty log starts. The
 *      records after a hole are never lost for it.
 *   7. Keys whose expiry has passed are dropped. Files of format version 1
 *      are written anew as version 2 (a snapshot, then an empty log): new
 *      records never go into a version 1 log, so if that fails changes are
 *      refused.
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

typedef tr__kvwriter writer;

enum { READ_SNAP, READ_LOG };

/* What reading finds, step by step, for the info line and the repairs. */
typedef struct tr__kvrecovery {
  int phase;
  int snap, log; /* the files were there */
  tr__kvreader *snap_rd, *log_rd;
  tr__kvload snap_load, log_load;
  int snap_damaged; /* to move aside, and write anew */
  int repair_log;   /* holes in the log: snapshot, move aside, anew */
  int upgrade;      /* a version 1 file: both are written anew */
  int log_v1;       /* kv.log is a version 1 file still */
  char notes[600];
} recovery;

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

static void note(recovery *f, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void note(recovery *f, const char *fmt, ...) {
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

static int read_only_errno(int e) {
  return e == EACCES || e == EROFS || e == EPERM;
}

/* ------------------------------------------------------------ begin */

/* Locks the directory (or learns it may only read it). 0, or -1 once the
 * writer is unavailable. */
static int lock_dir(writer *w) {
  char text[64], why[300];
  size_t got = 0;
  int fd = w->io.open(w->p_lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 && read_only_errno(errno)) {
    snprintf(why, sizeof why, "the data directory %s is not writable (%s)",
             w->dir, strerror(errno));
    tr__kvwriter_refuse(w, why);
    fd = w->io.open(w->p_lock, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0 && errno == ENOENT)
      return 0; /* no writer could have made it: nobody to lock out */
  }
  if (fd < 0) {
    tr__kvwriter_unavailable(w, "cannot open %s: %s", w->p_lock,
                             strerror(errno));
    return -1;
  }
  if (w->io.flock(fd, LOCK_EX | LOCK_NB) < 0) {
    int e = errno;
    if (e == EWOULDBLOCK) {
      tr__kvio_read_full(&w->io, fd, text, sizeof text - 1, &got);
      text[got] = '\0';
      text[strcspn(text, "\r\n")] = '\0';
      tr__kvwriter_unavailable(w, "data directory %s is in use (%s)", w->dir,
                               text[0] ? text : "by another writer");
    } else {
      tr__kvwriter_unavailable(w, "cannot lock %s: %s", w->p_lock, strerror(e));
    }
    w->io.close(fd);
    return -1;
  }
  w->lock_fd = fd;
  if (!w->refused) {
    int n = snprintf(text, sizeof text, "pid %ld\n", (long)getpid());
    if (w->io.ftruncate(fd, 0) < 0 ||
        tr__kvio_write_all(&w->io, fd, text, (size_t)n))
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

/* A file that cannot be read, or is not ours to read: unavailable. */
static void unreadable(writer *w, const tr__kvload *l, const char *path) {
  char text[400];
  tr__kvlog_describe(l, path, text, sizeof text);
  tr__kvwriter_unavailable(w, "%s (the file is left as it is)", text);
}

/* Each whole record goes into the index, pointing into its file. */
static int apply_snap(void *ud, const tr__kvrec *r) {
  return tr__kvindex_apply(ud, TR_KVFILE_SNAP, r);
}

static int apply_log(void *ud, const tr__kvrec *r) {
  return tr__kvindex_apply(ud, TR_KVFILE_LOG, r);
}

/* Starts reading the file open on fd; 0, or -1 once unavailable. */
static int open_reader(writer *w, int fd, int snapshot, tr__kvreader **rd,
                       tr__kvload *l) {
  *rd = tr__kvlog_begin(&w->io, fd, snapshot, snapshot ? apply_snap : apply_log,
                        w, l);
  switch (l->status) {
  case TR_KVLOAD_OK:    /* the header is right: reading goes on */
  case TR_KVLOAD_EMPTY: /* nothing there: step says so */
    return 0;
  }
  unreadable(w, l, snapshot ? w->p_snap : w->p_log);
  return -1;
}

static int open_snapshot(writer *w, recovery *f) {
  int fd = w->io.open(w->p_snap, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0 && errno == ENOENT)
    return 0;
  if (fd < 0) {
    tr__kvwriter_unavailable(w, "cannot read %s: %s", w->p_snap,
                             strerror(errno));
    return -1;
  }
  f->snap = 1;
  w->snap_fd = fd; /* kept open: the index points into it */
  return open_reader(w, fd, 1, &f->snap_rd, &f->snap_load);
}

static int open_log(writer *w, recovery *f) {
  int ro = w->refused != NULL;
  int fd =
      w->io.open(w->p_log, (ro ? O_RDONLY : O_RDWR | O_APPEND) | O_CLOEXEC, 0);
  if (fd < 0 && !ro && read_only_errno(errno)) {
    char why[300];
    snprintf(why, sizeof why, "%s is not writable (%s)", w->p_log,
             strerror(errno));
    tr__kvwriter_refuse(w, why);
    fd = w->io.open(w->p_log, O_RDONLY | O_CLOEXEC, 0);
  }
  if (fd < 0 && errno == ENOENT)
    return 0;
  if (fd < 0) {
    tr__kvwriter_unavailable(w, "cannot read %s: %s", w->p_log,
                             strerror(errno));
    return -1;
  }
  w->log_fd = fd;
  f->log = 1;
  return open_reader(w, fd, 0, &f->log_rd, &f->log_load);
}

int tr__kvwriter_recover_begin(writer *w) {
  recovery *f = calloc(1, sizeof *f);
  if (!f)
    return -1;
  w->loading = f;
  if (w->io.mkdir(w->dir, 0755) < 0 && errno != EEXIST) {
    tr__kvwriter_unavailable(w, "cannot create the data directory %s: %s",
                             w->dir, strerror(errno));
    return 0;
  }
  if (lock_dir(w))
    return 0;
  if (!w->refused)
    remove_leftovers(w);
  if (open_snapshot(w, f) == 0)
    open_log(w, f);
  if (w->unavailable)
    tr__kvwriter_recover_free(w);
  return 0;
}

/* ------------------------------------------------------------- steps */

static void end_snapshot(recovery *f) {
  tr__kvlog_end(f->snap_rd);
  f->snap_rd = NULL;
}

/* What a damaged snapshot still gave: "kept its first 3 keys". */
static void snapshot_kept(const tr__kvload *l, char *buf, size_t n) {
  char holes[400];
  tr__kvlog_describe_holes(l, holes, sizeof holes);
  if (l->holes)
    snprintf(buf, n, "kept %llu keys, skipped %s",
             (unsigned long long)l->records, holes);
  else
    snprintf(buf, n, "kept its first %llu keys",
             (unsigned long long)l->records);
}

/* What the snapshot held; damage is seen to once the log is read too. */
static void after_snapshot(writer *w, recovery *f) {
  const tr__kvload *l = &f->snap_load;
  char text[400], kept[500];
  end_snapshot(f);
  if (!f->snap)
    return;
  switch (l->status) {
  case TR_KVLOAD_OK:
    if (l->version == TR_KVLOG_VERSION_OLD)
      f->upgrade = 1;
    if (!l->holes)
      return;
    break;
  case TR_KVLOAD_EMPTY:
  case TR_KVLOAD_TORN:
  case TR_KVLOAD_CORRUPT:
    break;
  default:
    unreadable(w, l, w->p_snap);
    return;
  }
  /* Written whole and renamed into place, a snapshot cannot be torn: this
   * is damage. */
  f->snap_damaged = 1;
  if (!w->refused)
    return;
  snapshot_kept(l, kept, sizeof kept);
  tr__kvlog_describe(l, w->p_snap, text, sizeof text);
  tr_host_log(w->h, TR_LOG_ERROR,
              "kv.writer: the snapshot is damaged (%s); %s; left in place "
              "(read-only)",
              text, kept);
  note(f, "the snapshot is damaged: %s", kept);
}

/* A new empty log, written atomically, open for appending. */
static int new_log(writer *w) {
  int fd, rc = tr__kvlog_new_log(&w->io, w->dir, w->p_log, w->p_log_tmp, &fd,
                                 &w->log_size);
  if (rc < 0) {
    tr__kvwriter_unavailable(w, "cannot create %s: %s", w->p_log,
                             strerror(-rc));
    return -1;
  }
  if (w->log_fd >= 0)
    w->io.close(w->log_fd);
  w->log_fd = fd;
  if (rc == 1)
    tr__kvwriter_refuse(w, "fsync of the data directory failed");
  return 0;
}

/* Cuts the log back to where its good records end (a corrupt tail kept
 * aside first). */
static void cut_log(writer *w, recovery *f) {
  const tr__kvload *l = &f->log_load;
  char aside[512], text[400], why[600];
  int rc;
  uint64_t dropped = l->size - l->valid_end;
  tr__kvlog_describe(l, w->p_log, text, sizeof text);
  if (l->status == TR_KVLOAD_TORN) {
    tr_host_log(w->h, TR_LOG_WARN, "kv.writer: %s (%llu good records kept)",
                text, (unsigned long long)l->records);
    note(f, "dropped a torn tail of %llu bytes", (unsigned long long)dropped);
  } else {
    if (aside_name(w, w->p_log, aside, sizeof aside) < 0)
      rc = -EEXIST;
    else
      rc = tr__kvlog_copy_tail(&w->io, w->log_fd, l->valid_end, aside);
    if (rc) {
      snprintf(why, sizeof why,
               "%s, and it cannot be kept aside (%s): the log is left as it is",
               text, strerror(-rc));
      tr__kvwriter_refuse(w, why);
      note(f, "corrupt data at offset %llu (log left as it is)",
           (unsigned long long)l->valid_end);
      return;
    }
    tr_host_log(w->h, TR_LOG_ERROR,
                "kv.writer: %s; kept them in %s (%llu good records kept)", text,
                aside, (unsigned long long)l->records);
    note(f, "dropped %llu corrupt bytes, kept in %s",
         (unsigned long long)dropped, tr__kvwriter_base(aside));
  }
  rc = w->io.ftruncate(w->log_fd, (off_t)l->valid_end) < 0
           ? -errno
           : tr__kvio_fsync(&w->io, w->log_fd);
  if (rc) {
    snprintf(why, sizeof why, "cannot cut the bad tail off %s: %s", w->p_log,
             strerror(-rc));
    tr__kvwriter_refuse(w, why);
  }
}

/* What the log held, and what to do about a bad tail or holes. */
static void after_log(writer *w, recovery *f) {
  const tr__kvload *l = &f->log_load;
  int ro = w->refused != NULL;
  char holes[500];
  tr__kvlog_end(f->log_rd);
  f->log_rd = NULL;
  if (!f->log) {
    if (!ro)
      new_log(w);
    return;
  }
  w->log_size = l->valid_end;
  if (l->version == TR_KVLOG_VERSION_OLD)
    f->upgrade = f->log_v1 = 1; /* no new records into a version 1 file */
  switch (l->status) {
  case TR_KVLOAD_OK:
  case TR_KVLOAD_TORN:
  case TR_KVLOAD_CORRUPT:
    break;
  case TR_KVLOAD_EMPTY:
    note(f, "the log was empty");
    if (!ro && new_log(w) == 0)
      f->log_v1 = 0;
    return;
  default:
    unreadable(w, l, w->p_log);
    return;
  }
  if (l->holes) {
    tr__kvlog_describe_holes(l, holes, sizeof holes);
    tr_host_log(w->h, TR_LOG_ERROR,
                "kv.writer: %s IS DAMAGED: skipped %llu bad stretch%s of "
                "%llu bytes in all: %s; the records after %s were loaded "
                "(%llu good records)%s",
                w->p_log, (unsigned long long)l->holes,
                l->holes == 1 ? "" : "es", (unsigned long long)l->lost, holes,
                l->holes == 1 ? "it" : "them", (unsigned long long)l->records,
                ro ? "; left as it is (read-only)" : "; a repair follows");
    note(f, "skipped %llu damaged byte%s of kv.log: %s",
         (unsigned long long)l->lost, l->lost == 1 ? "" : "s", holes);
    if (!ro) {
      f->repair_log = 1; /* the bad tail, if any, goes with the old log */
      return;
    }
  }
  if (l->status == TR_KVLOAD_OK)
    return;
  if (ro)
    note(f, "a bad tail at offset %llu was skipped",
         (unsigned long long)l->valid_end);
  else
    cut_log(w, f);
}

/* The map as a new snapshot. 0 once it is in place; -1 (logged) if not,
 * and the old snapshot, if any, is as it was. */
static int write_snapshot(writer *w, recovery *f) {
  int rc = tr__kvwriter_snapshot(w);
  if (rc < 0) {
    tr_host_log(w->h, TR_LOG_ERROR, "kv.writer: cannot write %s: %s", w->p_snap,
                strerror(-rc));
    note(f, "no new snapshot (%s)", strerror(-rc));
    return -1;
  }
  if (rc == 1)
    tr__kvwriter_refuse(w, "fsync of the data directory failed");
  w->compactions++;
  return 0;
}

/* Damage in the snapshot or holes in the log, once everything is loaded:
 * the damaged snapshot goes aside, the map into a new snapshot; then a log
 * with holes goes aside whole (holes, records, a bad tail and all) and a
 * new one starts. Each step only once the one before worked: a log that
 * stays is read the same way at the next start, and a damaged snapshot
 * no new one replaces is put back. */
static void repair(writer *w, recovery *f) {
  char snap_aside[512], log_aside[512], text[400], kept[500];
  if (f->snap_damaged) {
    snapshot_kept(&f->snap_load, kept, sizeof kept);
    if (f->snap_load.status == TR_KVLOAD_OK)
      snprintf(text, sizeof text, "%s", w->p_snap);
    else
      tr__kvlog_describe(&f->snap_load, w->p_snap, text, sizeof text);
    if (aside_name(w, w->p_snap, snap_aside, sizeof snap_aside) ||
        w->io.rename(w->p_snap, snap_aside) < 0) {
      tr__kvwriter_unavailable(w,
                               "the snapshot is damaged (%s) and cannot be "
                               "moved aside: %s",
                               text, strerror(errno));
      return;
    }
    tr_host_log(w->h, TR_LOG_ERROR,
                "kv.writer: THE SNAPSHOT IS DAMAGED (%s): %s, moved it to "
                "%s; a new snapshot follows",
                text, kept, snap_aside);
    note(f, "the snapshot was damaged: %s, moved it to %s", kept,
         tr__kvwriter_base(snap_aside));
  }
  if (write_snapshot(w, f)) {
    if (f->snap_damaged && w->io.rename(snap_aside, w->p_snap) < 0)
      tr_host_log(w->h, TR_LOG_ERROR, "kv.writer: cannot put %s back: %s",
                  snap_aside, strerror(errno));
    if (f->repair_log && f->log_load.status != TR_KVLOAD_OK)
      cut_log(w, f);
    return;
  }
  if (!f->repair_log) { /* the snapshot holds what the log did */
    if (new_log(w) == 0)
      f->log_v1 = 0;
    return;
  }
  if (aside_name(w, w->p_log, log_aside, sizeof log_aside) ||
      w->io.rename(w->p_log, log_aside) < 0) {
    tr_host_log(w->h, TR_LOG_ERROR,
                "kv.writer: cannot move the damaged %s aside: %s; it stays, "
                "and is read the same way at the next start",
                w->p_log, strerror(errno));
    note(f, "kv.log left as it is");
    if (f->log_load.status != TR_KVLOAD_OK)
      cut_log(w, f);
    return;
  }
  if (new_log(w))
    return;
  f->log_v1 = 0;
  tr_host_log(w->h, TR_LOG_WARN,
              "kv.writer: repaired %s: its %zu keys are in a new snapshot; "
              "the damaged log was moved to %s",
              w->dir, tr__kvmap_count(w->map), log_aside);
  note(f, "the damaged log was moved to %s", tr__kvwriter_base(log_aside));
}

static void finish(writer *w, recovery *f) {
  size_t len;
  size_t expired = tr__kvindex_drop_expired(w, tr__kvwriter_now_ms());
  if (expired)
    note(f, "dropped %zu expired key%s", expired, expired == 1 ? "" : "s");
  if ((f->repair_log || f->snap_damaged || f->upgrade) && !w->refused)
    repair(w, f);
  if (w->unavailable)
    return;
  if (f->log_v1 && !w->refused)
    tr__kvwriter_refuse(w, "kv.log has format version 1 and could not be "
                           "written anew in version 2");
  else if (f->upgrade && !w->refused)
    note(f, "upgraded the files to format version %c", TR_KVLOG_VERSION);
  if (!f->snap && !f->log)
    note(f, "a new data directory");
  if (w->refused)
    note(f, "read-only: %s", w->refused);
  len = (size_t)snprintf(
      w->info, sizeof w->info,
      "loaded %zu key%s from %s (snapshot %llu, log %llu records",
      tr__kvmap_count(w->map), tr__kvmap_count(w->map) == 1 ? "" : "s", w->dir,
      (unsigned long long)f->snap_load.records,
      (unsigned long long)f->log_load.records);
  if (len < sizeof w->info)
    snprintf(w->info + len, sizeof w->info - len, "%s%s)",
             f->notes[0] ? "; " : "", f->notes);
  tr_host_log(w->h, TR_LOG_INFO, "kv.writer: %s", w->info);
}

int tr__kvwriter_recover_step(writer *w, size_t budget) {
  recovery *f = w->loading;
  if (!f)
    return 0;
  if (!w->unavailable && f->phase == READ_SNAP) {
    if (tr__kvlog_step(f->snap_rd, budget))
      return 1;
    after_snapshot(w, f);
    f->phase = READ_LOG;
    return 1;
  }
  if (!w->unavailable && tr__kvlog_step(f->log_rd, budget))
    return 1;
  if (!w->unavailable)
    after_log(w, f);
  if (!w->unavailable)
    finish(w, f);
  tr__kvwriter_recover_free(w);
  return 0;
}

void tr__kvwriter_recover_progress(const writer *w, char *buf, size_t n) {
  const recovery *f = w->loading;
  const tr__kvload *l;
  if (!f) {
    snprintf(buf, n, "done");
    return;
  }
  l = f->phase == READ_SNAP ? &f->snap_load : &f->log_load;
  snprintf(buf, n, "%s: %llu records, %llu of %llu MiB",
           f->phase == READ_SNAP ? "kv.snap" : "kv.log",
           (unsigned long long)l->records,
           (unsigned long long)(l->offset >> 20),
           (unsigned long long)((l->size + (1u << 20) - 1) >> 20));
}

void tr__kvwriter_recover_free(writer *w) {
  recovery *f = w->loading;
  if (!f)
    return;
  end_snapshot(f);
  tr__kvlog_end(f->log_rd);
  free(f);
  w->loading = NULL;
}
