/*
 * kvlog.h -- the native writer's files on disk: the record format, reading
 * a log or snapshot into a map, and writing a file atomically (kvlog.c
 * describes the format byte by byte).
 */
#ifndef TR_KVLOG_H
#define TR_KVLOG_H

#include <stddef.h>
#include <stdint.h>

#include "kvio.h"
#include "kvmap.h"
#include "troupe_services.h"

#define TR_KVLOG_MAGIC "TRKVLOG"  /* a log file starts with these 7 bytes */
#define TR_KVSNAP_MAGIC "TRKVSNP" /* a snapshot file with these */
#define TR_KVLOG_VERSION '1'      /* and then the format version */
#define TR_KVLOG_HEADER 8u        /* magic + version */
#define TR_KVLOG_FRAME 8u         /* per record: length + crc */
/* The longest record body: op, key length, key, value length, value. */
#define TR_KVLOG_MAX_BODY (1u + 4u + TR_KV_MAX_KEY + 4u + TR_KV_MAX_VALUE)

/* Record kinds (the body's first byte). */
enum { TR_KVREC_SET = 'S', TR_KVREC_DELETE = 'D', TR_KVREC_END = 'E' };

/* A growable byte buffer that records are encoded into. */
typedef struct tr__kvbuf {
  char *p;
  size_t len, cap;
} tr__kvbuf;

void tr__kvbuf_free(tr__kvbuf *b);

/* The bytes a set (or, vlen ignored, a delete) record takes on disk. */
size_t tr__kvlog_set_size(size_t klen, size_t vlen);
size_t tr__kvlog_delete_size(size_t klen);

/* Append one record to b. 0, or -1 when out of memory (b is unchanged). */
int tr__kvlog_put_set(tr__kvbuf *b, const char *key, size_t klen,
                      const char *val, size_t vlen);
int tr__kvlog_put_delete(tr__kvbuf *b, const char *key, size_t klen);
int tr__kvlog_put_end(tr__kvbuf *b, uint64_t count);

/* ------------------------------------------------------------ reading */

/* What reading a file found at its end (holes are counted apart). */
enum {
  TR_KVLOAD_OK = 0,      /* it ends well */
  TR_KVLOAD_EMPTY,       /* no bytes, or only the start of a header */
  TR_KVLOAD_TORN,        /* it ends with an unfinished last record */
  TR_KVLOAD_CORRUPT,     /* it ends with bad bytes and no good record after */
  TR_KVLOAD_BAD_MAGIC,   /* not a troupe file of the expected kind */
  TR_KVLOAD_BAD_VERSION, /* the right kind, a version this build cannot read */
  TR_KVLOAD_IOERR,       /* reading failed (err) */
  TR_KVLOAD_NOMEM        /* out of memory */
};

/* A hole: bad bytes with good records after them, skipped. */
typedef struct tr__kvhole {
  uint64_t at, len; /* where, and how many bytes */
  /* When the hole is one record whose frame is whole (only its contents
   * are damaged): what it was, e.g. `a set of "user:1"`; else "". */
  char what[96];
} tr__kvhole;

#define TR_KVLOAD_HOLES 8 /* holes described one by one; more are counted */

typedef struct tr__kvload {
  int status;
  int err;            /* errno when TR_KVLOAD_IOERR */
  char version;       /* the version byte found */
  uint64_t records;   /* good records applied to the map */
  uint64_t valid_end; /* where the good part ends (a bad tail starts) */
  uint64_t size;      /* bytes in the file */
  uint64_t offset;    /* how far reading has got: for progress */
  uint64_t holes;     /* holes skipped */
  uint64_t lost;      /* their bytes, all together */
  tr__kvhole hole[TR_KVLOAD_HOLES]; /* the first ones */
} tr__kvload;

/* Reading a file in steps, so a big one does not hold the loop up: begin
 * reads and checks the header (out->status says how that went), step reads
 * on for about `budget` bytes and says whether there is more, end frees
 * the reader. Sets and deletes of a log, or the sets and end mark of a
 * snapshot (is_snapshot), are applied to map as they are read; how bad
 * parts are skipped is described in kvlog.c. out is filled in as reading
 * goes; it is final once step returns 0. */
typedef struct tr__kvreader tr__kvreader;
tr__kvreader *tr__kvlog_begin(const tr__kvio *io, int fd, int is_snapshot,
                              tr__kvmap *map, tr__kvload *out);
int tr__kvlog_step(tr__kvreader *r, size_t budget);
void tr__kvlog_end(tr__kvreader *r);

/* All of it in one go: begin, step to the end, end. `tick` (may be NULL)
 * is called every few MiB, for a heartbeat. Returns out->status. */
int tr__kvlog_load(const tr__kvio *io, int fd, int is_snapshot, tr__kvmap *map,
                   void (*tick)(void *), void *ud, tr__kvload *out);

/* A line for a log saying how the file ended, e.g. "kv.log has format
 * version 2; this build reads version 1". */
void tr__kvlog_describe(const tr__kvload *l, const char *file, char *buf,
                        size_t n);

/* The holes, one by one, e.g. "53 bytes at offset 31 (a set of "b")";
 * "" when there are none. */
void tr__kvlog_describe_holes(const tr__kvload *l, char *buf, size_t n);

/* ------------------------------------------------------------ writing */

/* Writes a whole file atomically: tmp (created, truncated) gets the header
 * for its kind and, for a snapshot (map not NULL), every entry and the end
 * mark; it is fsynced, renamed to path, and dir is fsynced. Returns 0 when
 * all that worked; 1 when the file is in place but the directory's fsync
 * failed (errno says why: the rename may not survive a power loss); or a
 * negative errno when it failed before the rename, in which case tmp is
 * removed and path is left as it was. Unless it failed, *fd_out (if not
 * NULL) keeps the file open for appending -- a new log -- and *size_out
 * (may be NULL) gets its size. */
int tr__kvlog_write_file(const tr__kvio *io, const char *dir, const char *path,
                         const char *tmp, const tr__kvmap *map,
                         void (*tick)(void *), void *ud, int *fd_out,
                         uint64_t *size_out);

/* Copies fd's bytes from offset `from` to its end into a new file at path
 * (fsynced), to keep a corrupt tail aside before it is cut off. 0 or a
 * negative errno. */
int tr__kvlog_copy_tail(const tr__kvio *io, int fd, uint64_t from,
                        const char *path);

#endif
