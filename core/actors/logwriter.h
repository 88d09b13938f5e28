/*
 * logwriter.h -- the native writer's state, shared by the two files that
 * make it up: logwriter.c (the actor: requests, batches, fsync policy,
 * compaction) and kvrecover.c (its start: the directory, the lock, reading
 * the files back and repairing what a crash left). Private to them.
 */
#ifndef TR_LOGWRITER_H
#define TR_LOGWRITER_H

#include <stdint.h>
#include <string.h>

#include "kvio.h"
#include "kvlog.h"
#include "kvmap.h"
#include "troupe.h"

typedef struct tr_kvwaiter {
  tr_pid caller;
  uint64_t session;
} tr_kvwaiter;

typedef struct tr_kvwriter {
  tr_actor *self;
  tr_host *h;
  tr_kv_io io;
  int policy;
  char *dir, *p_lock, *p_log, *p_log_tmp, *p_snap, *p_snap_tmp;
  int lock_fd, log_fd;
  tr_kvmap *map;
  uint64_t log_size;      /* bytes in kv.log that are good */
  uint64_t compact_floor; /* after a failed compaction, wait for this size */
  tr_kvbuf batch;         /* records not written yet */
  size_t batch_records;
  tr_kvwaiter *wait; /* callers of the batch */
  size_t nwait, wait_cap;
  int dirty;           /* written since the last fsync */
  uint64_t sync_timer; /* the everysec timer, 0 when not armed */
  char *refused;       /* why changes are refused; NULL: accepted */
  tr_pid store;        /* who loaded last: told when changes are refused */
  char info[600];
  uint64_t records, flushes, fsyncs, compactions;
} tr_kvwriter;

/* kvrecover.c: makes and locks the directory, loads the snapshot and the
 * log into w->map, sets w->log_fd, w->log_size and w->info. 0, or -1 after
 * logging why the writer cannot start. */
int tr_kvwriter_recover(tr_kvwriter *w);

/* logwriter.c */
/* After long file work: the loop's clock moves to now and the supervisor
 * hears that the writer is alive. ud is the tr_kvwriter. */
void tr_kvwriter_beat(void *ud);
/* From now on changes are refused, for `why`; the store is told. */
void tr_kvwriter_refuse(tr_kvwriter *w, const char *why);
/* Writes a snapshot of w->map and starts an empty log. */
void tr_kvwriter_compact(tr_kvwriter *w);

/* The last part of a path. */
static inline const char *tr_kvwriter_base(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

#endif
