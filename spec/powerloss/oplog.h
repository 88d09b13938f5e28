/*
 * oplog.h -- the power-loss simulator's shared vocabulary: a recorded run
 * is a list of storage operations, in the order they were issued, with
 * the workload's marks between them (a change issued, a change
 * acknowledged), which simdisk.c turns into the disk states a power cut
 * could leave and the runs (logrun.c, jsonrun.c) check the writers on.
 */
#ifndef PL_OPLOG_H
#define PL_OPLOG_H

#include <stddef.h>
#include <stdint.h>

enum {
  PL_CREATE = 1, /* name now names a new, empty inode */
  PL_TRUNC,      /* inode cut (or grown) to len */
  PL_WRITE,      /* len bytes at off into inode */
  PL_FSYNC,      /* inode's data (and size) made durable */
  PL_DIRSYNC,    /* the directory's entries made durable */
  PL_RENAME,     /* name -> name2, replacing what name2 named */
  PL_EXCHANGE,   /* name and name2 swap inodes (RENAME_EXCHANGE) */
  PL_UNLINK,     /* name goes */
  PL_ISSUED,     /* mark: change `change` handed to the writer */
  PL_ACKED,      /* mark: the writer acknowledged change `change` */
  PL_COMPACT_IN, /* mark: a compaction starts (a snapshot is begun) */
  PL_COMPACT_OUT /* mark: it is over (the new log is in place) */
};

typedef struct pl_op {
  int type;
  int ino;           /* CREATE TRUNC WRITE FSYNC */
  char name[32];     /* CREATE RENAME EXCHANGE UNLINK */
  char name2[32];    /* RENAME EXCHANGE */
  uint64_t off, len; /* WRITE (len also for TRUNC) */
  size_t data;       /* WRITE: where its bytes are in pl_log.bytes */
  int change;        /* ISSUED ACKED */
} pl_op;

typedef struct pl_log {
  pl_op *ops;
  size_t n, cap;
  char *bytes; /* every write's bytes, one after another */
  size_t nbytes, bytes_cap;
  int inodes; /* inode numbers handed out: 1..inodes */
} pl_log;

/* Appends op (and, for a write, its n bytes); returns it. Aborts when out
 * of memory: a test has nothing better to do then. */
pl_op *pl_log_add(pl_log *l, const pl_op *op, const void *bytes, size_t n);
void pl_log_free(pl_log *l);

/* The two disk models (README "Durability" describes them). */
enum { PL_EXT4_ORDERED = 0, PL_STRICT = 1 };

/* A xorshift generator: every choice is made from one, so a seed replays. */
typedef struct pl_rng {
  uint64_t s;
} pl_rng;
uint64_t pl_rand(pl_rng *r);
static inline uint64_t pl_below(pl_rng *r, uint64_t n) {
  return n ? pl_rand(r) % n : 0;
}

/* Builds in dir (made if missing, emptied first) one disk state a power
 * cut right before op k (ops 0..k-1 issued) could leave, under model,
 * choosing with r. 0, or -1 (errno) when dir cannot be written. */
int pl_simdisk_build(const pl_log *l, size_t k, int model, pl_rng *r,
                     const char *dir);

/* Empties dir (files only: the simulator makes no subdirectories). */
void pl_rmdir_files(const char *dir);

#endif
