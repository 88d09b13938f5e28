/*
 * logwriter.h -- the native writer's state, shared by the three files that
 * make it up: logwriter.c (the actor: requests, batches, fsync policy,
 * loads), kvindex.c (the index of where each value is on disk, and
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
  tr_msg *reply; /* the answer, sent once the batch is written */
} tr__kvwaiter;

/* Where a live value is (kvindex.c). */
enum { TR_KVFILE_SNAP = 0, TR_KVFILE_LOG = 1 };
typedef struct tr__kvloc {
  int file;     /* TR_KVFILE_* */
  uint64_t off; /* where the value's bytes start in it */
  uint32_t len; /* how many */
  uint64_t at;  /* when the key expires, ms since the epoch; 0: never */
} tr__kvloc;

typedef struct tr__kvwriter {
  tr_actor *self;
  tr_host *h;
  tr__kvio io;
  int policy;
  char *dir, *p_lock, *p_log, *p_log_tmp, *p_snap, *p_snap_tmp;
  int lock_fd, log_fd, snap_fd;
  tr__kvmap *map;    /* the index: key -> a tr__kvloc, encoded (kvindex.c) */
  uint64_t live;     /* the bytes of the live keys and values */
  uint64_t log_size; /* bytes in kv.log that are good */
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
/* kvindex.c */
/* ms since the epoch (CLOCK_REALTIME), what expiries are compared with. */
uint64_t tr__kvwriter_now_ms(void);
/* 1 and *l when key is in the index, else 0. */
int tr__kvindex_get(const tr__kvwriter *w, const char *key, size_t klen,
                    tr__kvloc *l);
/* Walks the index as tr__kvmap_next does. */
int tr__kvindex_next(const tr__kvwriter *w, size_t *cursor, const char **key,
                     size_t *klen, tr__kvloc *l);
/* Reads the value at l into buf (l->len bytes): 0 or a negative errno. */
int tr__kvindex_read(const tr__kvwriter *w, const tr__kvloc *l, char *buf);
/* Applies a record found in file (TR_KVFILE_*) to the index: 0, or -1 when
 * out of memory. */
int tr__kvindex_apply(tr__kvwriter *w, int file, const tr__kvrec *r);
/* Removes the keys expired by now; how many. */
size_t tr__kvindex_drop_expired(tr__kvwriter *w, uint64_t now);
/* Writes every live key that has not expired into a new kv.snap, values
 * read back from their files; once it is in place the index points into
 * it (w->snap_fd). As tr__kvlog_install: 0, 1 (in place, the directory's
 * fsync failed) or a negative errno (nothing changed). */
int tr__kvwriter_snapshot(tr__kvwriter *w);
/* A snapshot, then an empty log: when the log has grown past its bound. */
void tr__kvwriter_compact(tr__kvwriter *w);

/* The last part of a path. */
static inline const char *tr__kvwriter_base(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

#endif
