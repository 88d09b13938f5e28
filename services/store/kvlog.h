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
#include "troupe.h"
#include "troupe_services.h"

#define TR_KVLOG_MAGIC "TRKVLOG"  /* a log file starts with these 7 bytes */
#define TR_KVSNAP_MAGIC "TRKVSNP" /* a snapshot file with these */
#define TR_KVLOG_VERSION '2'      /* and then the format version written */
#define TR_KVLOG_VERSION_OLD '1'  /* the one before, still read */
#define TR_KVLOG_HEADER 8u        /* magic + version */
#define TR_KVLOG_FRAME 8u         /* per record: length + crc */
/* The longest record body: an mset's, whose pairs all together are at most
 * a message's size (a set, with its expiry, is far shorter). */
#define TR_KVLOG_MAX_BODY TR_MAX_MSG

/* Record kinds (the body's first byte). Version 1 files hold S, D and E
 * only. */
enum {
  TR_KVREC_SET = 'S',    /* a set that does not expire */
  TR_KVREC_SET_AT = 'T', /* a set with an expiry */
  TR_KVREC_DELETE = 'D',
  TR_KVREC_EXPIRE = 'X', /* a key's expiry changes (0: it no longer has one) */
  TR_KVREC_MSET = 'M',   /* several sets, all or none */
  TR_KVREC_FLUSH = 'F',  /* every key goes */
  TR_KVREC_END = 'E'     /* a snapshot's end mark */
};

/* CRC-32 as zlib's crc32(crc, p, n) computes it (kvcrc.c); 0 starts. */
uint32_t tr__kvcrc(uint32_t crc, const void *p, size_t n);
extern const uint32_t tr__kvcrc_tab[8][256];

/* A growable byte buffer that records are encoded into. */
typedef struct tr__kvbuf {
  char *p;
  size_t len, cap;
} tr__kvbuf;

void tr__kvbuf_free(tr__kvbuf *b);
/* Room for n more bytes at b->p + b->len; NULL when out of memory. */
char *tr__kvbuf_reserve(tr__kvbuf *b, size_t n);

/* The bytes a set (with an expiry when at is not 0) or a delete record
 * takes on disk. */
size_t tr__kvlog_set_size(size_t klen, size_t vlen);
size_t tr__kvlog_set_at_size(size_t klen, size_t vlen, uint64_t at);
size_t tr__kvlog_delete_size(size_t klen);

/* Append one record to b. 0, or -1 when out of memory (b is unchanged).
 * put_set writes an S record; put_set_at a T record, or an S when at is
 * 0. An mset is begun with the number of pairs, given a pair at a time,
 * and ended (which frames it); its body must stay within
 * TR_KVLOG_MAX_BODY: tr__kvlog_mset_size says what it will be. */
int tr__kvlog_put_set(tr__kvbuf *b, const char *key, size_t klen,
                      const char *val, size_t vlen);
int tr__kvlog_put_set_at(tr__kvbuf *b, const char *key, size_t klen,
                         const char *val, size_t vlen, uint64_t at);
int tr__kvlog_put_delete(tr__kvbuf *b, const char *key, size_t klen);
int tr__kvlog_put_expire(tr__kvbuf *b, const char *key, size_t klen,
                         uint64_t at);
int tr__kvlog_put_flush(tr__kvbuf *b);
int tr__kvlog_put_end(tr__kvbuf *b, uint64_t count);
/* The body of an mset of pairs with these key and value bytes in all. */
uint64_t tr__kvlog_mset_body(size_t pairs, uint64_t bytes);
int tr__kvlog_mset_begin(tr__kvbuf *b, uint32_t pairs, size_t *mark);
int tr__kvlog_mset_pair(tr__kvbuf *b, const char *key, size_t klen,
                        const char *val, size_t vlen);
void tr__kvlog_mset_end(tr__kvbuf *b, size_t mark);

/* A record as read: what it says, and where its bytes are in the file. */
typedef struct tr__kvrec {
  int type;            /* TR_KVREC_* */
  const char *key;     /* S T D X, and an M's pair */
  uint32_t klen, vlen; /* S T, an M's pair: the value's length */
  const char *val;     /* its bytes */
  uint64_t val_off;    /* where the value starts in the file */
  uint64_t at;         /* T X: the expiry, ms since the epoch */
  uint64_t count;      /* E: keys in the snapshot; M: pairs */
  const char *body;    /* the whole body, and its length */
  uint32_t len;
  uint64_t body_off; /* where it starts in the file */
} tr__kvrec;

/* Decodes a body that parses (one that was read whole, or just encoded)
 * found at body_off in its file. */
void tr__kvlog_decode(const char *body, uint32_t len, uint64_t body_off,
                      tr__kvrec *out);
/* An mset's pairs one by one, as S records: *pos starts at 0; 1 and the
 * pair in *pair, or 0 after the last. */
int tr__kvlog_mset_next(const tr__kvrec *m, size_t *pos, tr__kvrec *pair);

/* What a reader does with each whole record (the end mark too): 0, or -1
 * when out of memory. */
typedef int (*tr__kvlog_apply_fn)(void *ud, const tr__kvrec *rec);

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
 * the reader. Each whole record of a log, or of a snapshot (is_snapshot),
 * is handed to apply as it is read; how bad parts are skipped is described
 * in kvlog.c. out is filled in as reading goes; it is final once step
 * returns 0. */
typedef struct tr__kvreader tr__kvreader;
tr__kvreader *tr__kvlog_begin(const tr__kvio *io, int fd, int is_snapshot,
                              tr__kvlog_apply_fn apply, void *ud,
                              tr__kvload *out);
int tr__kvlog_step(tr__kvreader *r, size_t budget);
void tr__kvlog_end(tr__kvreader *r);

/* All of it in one go: begin, step to the end, end. `tick` (may be NULL)
 * is called every few MiB, for a heartbeat. Returns out->status. */
int tr__kvlog_load(const tr__kvio *io, int fd, int is_snapshot,
                   tr__kvlog_apply_fn apply, void *apply_ud,
                   void (*tick)(void *), void *ud, tr__kvload *out);

/* A line for a log saying how the file ended, e.g. "kv.log has format
 * version 3; this build reads versions 1 and 2". */
void tr__kvlog_describe(const tr__kvload *l, const char *file, char *buf,
                        size_t n);

/* The holes, one by one, e.g. "53 bytes at offset 31 (a set of "b")";
 * "" when there are none. */
void tr__kvlog_describe_holes(const tr__kvload *l, char *buf, size_t n);

/* ------------------------------------------------------------ writing */

/* Starts a file at tmp (created, truncated, open to read and write): its
 * header for its kind is written. *fd_out gets it. 0 or a negative errno
 * (then nothing is left behind). */
int tr__kvlog_create(const tr__kvio *io, const char *tmp, int snapshot,
                     int *fd_out);
/* Puts a file made by create in place: fsynced, renamed to path, dir
 * fsynced. Returns 0 when all that worked; 1 when the file is in place but
 * the directory's fsync failed (errno says why: the rename may not survive
 * a power loss); or a negative errno when it failed before the rename, in
 * which case fd is closed, tmp removed and path left as it was. Unless it
 * failed, fd stays open (a new log appends to it, a snapshot's values are
 * read back through it). */
int tr__kvlog_install(const tr__kvio *io, const char *dir, const char *path,
                      const char *tmp, int fd);
/* A new empty log at path, atomically (create then install): *fd_out
 * keeps it open for appending, *size_out gets its size. As install. */
int tr__kvlog_new_log(const tr__kvio *io, const char *dir, const char *path,
                      const char *tmp, int *fd_out, uint64_t *size_out);

/* Copies fd's bytes from offset `from` to its end into a new file at path
 * (fsynced), to keep a corrupt tail aside before it is cut off. 0 or a
 * negative errno. */
int tr__kvlog_copy_tail(const tr__kvio *io, int fd, uint64_t from,
                        const char *path);

#endif
