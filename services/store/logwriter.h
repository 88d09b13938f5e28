/*
 * logwriter.h -- the native writer's state, shared by the two files that
 * make it up: logwriter.c (the actor: requests, batches, fsync policy,
 * compaction) and kvrecover.c (its start: the directory, the lock, reading
 * the files back, in steps, and repairing what a crash or damage left).
 * Private to them.
 */
#ifndef TR_LOGWRITER_H
#define TR_LOGWRITER_H

#include <stdint.h>
#include <string.h>

#include "kvio.h"
#include "kvlog.h"
#include "kvmap.h"
#include "troupe_services.h"

typedef struct tr__kvwaiter {
  tr_pid caller;
  uint64_t session;
} tr__kvwaiter;

typedef struct tr__kvwriter {
  tr_actor *self;
  tr_host *h;
  tr__kvio io;
  int policy;
  char *dir, *p_lock, *p_log, *p_log_tmp, *p_snap, *p_snap_tmp;
  int lock_fd, log_fd;
  tr__kvmap *map;
  uint64_t log_size;      /* bytes in kv.log that are good */
  uint64_t compact_floor; /* after a failed compaction, wait for this size */
  tr__kvbuf batch;        /* records not written yet */
  size_t batch_records;
  tr__kvwaiter *wait; /* callers of the batch */
  size_t nwait, wait_cap;
  int dirty;           /* written since the last fsync */
  uint64_t sync_timer; /* the everysec timer, 0 when not armed */
  char *refused;       /* why changes are refused; NULL: accepted */
  char *unavailable;   /* why there is no data to give at all (the
                          directory is another writer's, a file cannot be
                          read); NULL: there is */
  tr_pid store;        /* who loaded last: told when changes are refused */
  char info[1000];
  uint64_t records, flushes, fsyncs, compactions;
  /* While the files are read (kvrecover.c), in steps between messages: */
  struct tr__kvrecovery *loading; /* NULL once done */
  tr_msg *load_call;              /* a load call waiting for the end of it */
  uint64_t load_call_at, load_began, load_report; /* uv_hrtime, ns */
  size_t load_step;                               /* bytes a step reads */
} tr__kvwriter;

/* kvrecover.c. begin makes and locks the directory and opens the files
 * (checking their headers); w->loading is then set, and step reads on,
 * about `budget` bytes a call, returning 1 while there is more and 0 once
 * the map is whole, the log ready for appending (w->log_fd, w->log_size)
 * and w->info says what was found. When the writer cannot have the data
 * (the directory is locked by another writer or cannot be made, a file is
 * of an unknown format or cannot be read) begin, or a step, calls
 * tr__kvwriter_unavailable instead and loading ends. begin returns -1 only
 * when out of memory. */
int tr__kvwriter_recover_begin(tr__kvwriter *w);
int tr__kvwriter_recover_step(tr__kvwriter *w, size_t budget);
/* Where reading has got, for a progress line: "kv.log: 1200 records,
 * 3 of 8 MiB". */
void tr__kvwriter_recover_progress(const tr__kvwriter *w, char *buf, size_t n);
/* Ends a recovery half-way (the writer is stopping). */
void tr__kvwriter_recover_free(tr__kvwriter *w);

/* logwriter.c */
/* After long file work: the loop's clock moves to now and the supervisor
 * hears that the writer is alive. ud is the tr__kvwriter. */
void tr__kvwriter_beat(void *ud);
/* From now on changes are refused, for `why`; the store is told. */
void tr__kvwriter_refuse(tr__kvwriter *w, const char *why);
/* The writer has no data to give, for `why` (printf-style): said once in
 * the log, and from then on the answer to every request, the store's
 * included, until the writer is restarted. Loading stops. */
void tr__kvwriter_unavailable(tr__kvwriter *w, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Writes a snapshot of w->map and starts an empty log. */
void tr__kvwriter_compact(tr__kvwriter *w);

/* The last part of a path. */
static inline const char *tr__kvwriter_base(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

#endif
