/*
 * powerloss.h -- the power-loss simulator's parts, as powerloss.c puts
 * them together: the recorders (kvrecord.c for the native writer's seam,
 * jsonrun.c with json_record.lua for actor.file), the workload and its
 * checker (check.c), and one run per writer (logrun.c, jsonrun.c).
 */
#ifndef PL_POWERLOSS_H
#define PL_POWERLOSS_H

#include <stdio.h>

#include "oplog.h"
#include "store/kvio.h"
#include "troupe.h"
#include "troupe_services.h"

/* kvrecord.c: the recording seam. start returns the table to hand the
 * writer (tr_kv_config.io); ops go into l until stop. */
const tr__kvio *pl_record_start(pl_log *l);
void pl_record_stop(void);
/* A mark of the workload's (PL_ISSUED, PL_ACKED, ...) into the log. */
void pl_mark(int type, int change);
/* By name, for the Lua writer's recording: a new file, and any other op
 * (its inode found by name). */
void pl_record_create(const char *name);
int pl_record_ino(const char *name);
void pl_record_op(int type, const char *name, const char *name2, uint64_t off,
                  uint64_t len, const void *bytes);

/* ------------------------------------------------------------ workload */

enum { PL_SET = 'S', PL_DEL = 'D', PL_MSET = 'M' };
#define PL_MAX_PAIRS 4

typedef struct pl_change {
  int type, n; /* n pairs (a set or delete: 1) */
  char key[PL_MAX_PAIRS][16];
  char *val[PL_MAX_PAIRS];
  size_t vlen[PL_MAX_PAIRS];
  int sync_after; /* everysec: the workload fires the writer's sync here */
  int group;      /* issued together with the next one (group commit) */
} pl_change;

typedef struct pl_workload {
  pl_change *c;
  int n;
  uint64_t *hash; /* hash[p]: the state after changes 0..p-1 */
} pl_workload;

/* n changes over `keys` keys, values of a few bytes to several KiB (that
 * divided by shrink). */
void pl_workload_make(pl_workload *w, int n, uint64_t seed, int keys,
                      int shrink);
void pl_workload_free(pl_workload *w);

/* What a restarted writer gave: its keys and values. */
typedef struct pl_content {
  char **key, **val;
  size_t *vlen;
  size_t n, cap;
} pl_content;
void pl_content_add(pl_content *c, const char *k, size_t kn, const char *v,
                    size_t vn);
void pl_content_free(pl_content *c);

/* Checks content against the workload: it must be exactly the state after
 * some prefix p of the changes with lo <= p <= hi (lo: what the policy
 * promised by the crash point; hi: the changes issued by then). 0 when it
 * is; else -1 and why (a key twice, a value no change wrote, a state no
 * prefix in range explains: which keys differ from the closest). */
int pl_check(const pl_workload *w, const pl_content *c, int lo, int hi,
             char *why, size_t n);

/* ------------------------------------------------------------ runs */

enum { PL_LOG = 0, PL_JSON = 1 };

typedef struct pl_opts {
  int writer, policy; /* PL_LOG/PL_JSON; TR_FSYNC_* */
  int model;          /* -1: both, state by state */
  long states;        /* disk states to try for this writer and policy */
  long point;         /* -1, or the one crash point to replay */
  uint64_t seed;
  int changes;     /* workload length */
  int verbose;     /* say each violation */
  const char *tmp; /* a scratch directory of the run's own */
  const char *lua_dir, *spec_dir;
} pl_opts;

typedef struct pl_result {
  long states, points, compact_points, ops, violations;
  long by_model[2], viol_model[2];
  double record_s, check_s;
  char first[600]; /* the first violation, to replay */
} pl_result;

/* A writer's start on dir (logrun.c: the native one; jsonrun.c: the
 * JSON one), its content into c: 0, or -1 and why it did not start well.
 * pl_explore starts it twice on each state. */
typedef int (*pl_start_fn)(void *ud, const char *dir, int policy, pl_content *c,
                           char *why, size_t n);

/* Seconds on the monotonic clock. */
double pl_now_s(void);

/* Drives the workload through the writer at pid on h, marking each change
 * issued and acknowledged; everysec: its syncs fired. 0 or -1. */
int pl_drive(tr_host *h, tr_pid pid, const pl_workload *w, int policy);

/* Loads everything the writer at pid has (a store's load, batch by
 * batch) into c (may be NULL): 0, or -1 and why (the load failed, the
 * writer refuses changes or is unavailable). */
int pl_load_all(tr_host *h, tr_pid pid, pl_content *c, char *why, size_t n);

/* Samples crash points of the recorded run, builds states, restarts the
 * writer on each and checks it (check.c). */
void pl_explore(const pl_opts *o, const pl_log *l, const pl_workload *w,
                pl_start_fn start, void *ud, pl_result *res);

int pl_log_run(const pl_opts *o, pl_result *res);
int pl_json_run(const pl_opts *o, pl_result *res);

#endif
