/*
 * kvlog.c -- the native writer's on-disk format: encoding records, reading
 * a log or a snapshot back record by record, making a file atomically.
 *
 * Two kinds of file, both a header then records:
 *
 *   header   8 bytes: magic "TRKVLOG" (log) or "TRKVSNP" (snapshot), then
 *            the format version, the byte '2' (version '1' files are read
 *            too: they hold only S, D and E records)
 *   record   u32 len    the body's length in bytes
 *            u32 crc    CRC-32 (zlib's) of the 4 len bytes, then the body
 *            body       len bytes, one of
 *              'S' u32 klen, key, u32 vlen, value     set key to value
 *              'T' u32 klen, key, u32 vlen, value, u64 at
 *                                          set key to value, expiring at
 *              'D' u32 klen, key                      delete key
 *              'X' u32 klen, key, u64 at   key (if there) expires at; at 0:
 *                                          it no longer expires
 *              'M' u32 n, then n times: u32 klen, key, u32 vlen, value
 *                                          set them all, expiries cleared
 *              'F'                                    every key goes
 *              'E' u64 count                          end of a snapshot
 *
 * All integers are little-endian; an expiry `at` is ms since the Unix
 * epoch (CLOCK_REALTIME). Keys are 1..TR_KV_MAX_KEY bytes and values
 * 0..TR_KV_MAX_VALUE, an M has at least one pair and its body is at most
 * TR_KVLOG_MAX_BODY (a message's size), so a record's length is bounded
 * and a garbled length is caught before anything is read past it; the crc
 * covers the length too. An M is one record so that recovery applies all
 * of its pairs or, torn or damaged, none. A log holds S, T, D, X, M and F
 * records in the order they happened. A snapshot holds one S (or, for a
 * key that expires, one T) per live key and ends with an 'E' giving their
 * count: a snapshot without it, or with more bytes after it, is not whole.
 *
 * Reading goes record by record. A record is whole when its frame is
 * there, its length is 1..TR_KVLOG_MAX_BODY, its body is in the file,
 * its crc matches and the body parses for this kind of file (and an end
 * mark's count matches the records before it, unless a hole was
 * skipped). At a record that is not whole, reading looks for the next
 * whole one: from the end of the bad record when its length and its body
 * agree (only its contents are damaged: its own bytes are not searched,
 * so a value that holds encoded records is not taken for them), else from
 * the next byte (where only a whole record, crc and all, is taken: bytes
 * inside a value that happen to be one are the one way to be misled, and
 * a garbled length besides). Found, the bytes in between are a hole:
 * skipped, counted and described (where, how long, and which record when
 * it is one whose frame is whole), and reading goes on from there; the
 * records after a damaged one are never lost for it. Not found, the bad
 * part is the file's tail: torn (a write cut short) if it is an
 * unfinished last record that could be the start of one, or a bad record
 * followed by zero bytes only (as a crash on some filesystems leaves);
 * corrupt otherwise. In a log, a bad stretch that holds zeros up to the
 * end of a 512-byte sector (ZERO_RUN of them at least; or any number when
 * they start it, where the last synced write ended, or when no good record
 * follows) is a torn tail too, whatever follows it: the
 * part of the file a power loss kept from the disk (the file grew, its
 * data never got there), after which nothing was synced (records found
 * past it were written in the same unsynced stretch, and applying them
 * without the ones lost would make a state no prefix of the history
 * explains). The caller decides what to do about either
 * (kvrecover.c cuts a torn log tail off, keeps anything corrupt aside
 * first). Files are read in steps, in a window of at least 1 MiB that
 * grows to twice the largest record (never past the file's end, whatever
 * a garbled length claims), never whole.
 *
 * Replaying a whole log over the snapshot taken after it is harmless: the
 * last record for each key in that log is the key's state when the
 * snapshot was taken. So a crash between installing a new snapshot and a
 * new empty log loses nothing -- as long as the old log is on disk whole,
 * which is why a compaction fsyncs it before the snapshot goes in place
 * (kvindex.c): a prefix of it replayed over the snapshot would put older
 * values back.
 */
#include "kvlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reading and writing in chunks of this. The fuzz build (fuzz/) makes it
 * small, so that short inputs reach the window's moves and growth. */
#ifdef TR_KVLOG_WINDOW
#define WINDOW TR_KVLOG_WINDOW
#else
#define WINDOW (1u << 20)
#endif
#define TICK_BYTES (4u << 20) /* call tick after this many bytes */
#define SECTOR 512u           /* a disk's smallest write */
/* Zeros up to a sector's end, at least this many, in a bad stretch of a
 * log: the part of a sector a power loss kept from the disk. (Fewer, with
 * good records after them, are taken for damage: a damaged record's own
 * zero bytes must not cost the records after it.) */
#define ZERO_RUN 16u
/* A window is filled this much ahead of need at a time (or a step's
 * budget, if less), not wholly: a step of reading costs about what it
 * reads, even on a slow disk. */
#define READ_AHEAD (WINDOW / 4)

/* ------------------------------------------------------------ encoding */

static void put32(char *p, uint32_t v) {
  p[0] = (char)(v & 0xff);
  p[1] = (char)((v >> 8) & 0xff);
  p[2] = (char)((v >> 16) & 0xff);
  p[3] = (char)((v >> 24) & 0xff);
}

static uint32_t get32(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

void tr__kvbuf_free(tr__kvbuf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

char *tr__kvbuf_reserve(tr__kvbuf *b, size_t n) {
  if (b->cap - b->len < n) {
    size_t cap = b->cap ? b->cap : 4096;
    char *p;
    while (cap - b->len < n)
      cap *= 2;
    if (!(p = realloc(b->p, cap)))
      return NULL;
    b->p = p;
    b->cap = cap;
  }
  return b->p + b->len;
}

size_t tr__kvlog_set_size(size_t klen, size_t vlen) {
  return TR_KVLOG_FRAME + 1 + 4 + klen + 4 + vlen;
}

size_t tr__kvlog_set_at_size(size_t klen, size_t vlen, uint64_t at) {
  return tr__kvlog_set_size(klen, vlen) + (at ? 8 : 0);
}

size_t tr__kvlog_delete_size(size_t klen) {
  return TR_KVLOG_FRAME + 1 + 4 + klen;
}

static void put64(char *p, uint64_t v) {
  put32(p, (uint32_t)v);
  put32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get64(const char *p) {
  return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Frames a body of `len` bytes already at p + 8. */
static void frame(char *p, size_t len) {
  put32(p, (uint32_t)len);
  put32(p + 4, tr__kvcrc(tr__kvcrc(0, p, 4), p + 8, len));
}

/* A record of n bytes: its type, then u32 klen and the key, then (val not
 * NULL) u32 vlen and the value, then (at not 0) u64 at; framed and
 * appended to b. */
static int put_record(tr__kvbuf *b, size_t n, int type, const char *key,
                      size_t klen, const char *val, size_t vlen, uint64_t at) {
  char *p = tr__kvbuf_reserve(b, n), *q;
  if (!p)
    return -1;
  q = p + TR_KVLOG_FRAME;
  *q++ = (char)type;
  put32(q, (uint32_t)klen);
  memcpy(q + 4, key, klen);
  q += 4 + klen;
  if (val) {
    put32(q, (uint32_t)vlen);
    if (vlen)
      memcpy(q + 4, val, vlen);
    q += 4 + vlen;
  }
  if (at)
    put64(q, at);
  frame(p, n - TR_KVLOG_FRAME);
  b->len += n;
  return 0;
}

int tr__kvlog_put_set(tr__kvbuf *b, const char *key, size_t klen,
                      const char *val, size_t vlen) {
  return put_record(b, tr__kvlog_set_size(klen, vlen), TR_KVREC_SET, key, klen,
                    val ? val : "", vlen, 0);
}

int tr__kvlog_put_set_at(tr__kvbuf *b, const char *key, size_t klen,
                         const char *val, size_t vlen, uint64_t at) {
  return put_record(b, tr__kvlog_set_at_size(klen, vlen, at),
                    at ? TR_KVREC_SET_AT : TR_KVREC_SET, key, klen,
                    val ? val : "", vlen, at);
}

int tr__kvlog_put_delete(tr__kvbuf *b, const char *key, size_t klen) {
  return put_record(b, tr__kvlog_delete_size(klen), TR_KVREC_DELETE, key, klen,
                    NULL, 0, 0);
}

int tr__kvlog_put_expire(tr__kvbuf *b, const char *key, size_t klen,
                         uint64_t at) {
  size_t n = tr__kvlog_delete_size(klen) + 8;
  char *p = tr__kvbuf_reserve(b, n);
  if (!p)
    return -1;
  p[TR_KVLOG_FRAME] = TR_KVREC_EXPIRE;
  put32(p + TR_KVLOG_FRAME + 1, (uint32_t)klen);
  memcpy(p + TR_KVLOG_FRAME + 5, key, klen);
  put64(p + TR_KVLOG_FRAME + 5 + klen, at);
  frame(p, n - TR_KVLOG_FRAME);
  b->len += n;
  return 0;
}

int tr__kvlog_put_flush(tr__kvbuf *b) {
  char *p = tr__kvbuf_reserve(b, TR_KVLOG_FRAME + 1);
  if (!p)
    return -1;
  p[TR_KVLOG_FRAME] = TR_KVREC_FLUSH;
  frame(p, 1);
  b->len += TR_KVLOG_FRAME + 1;
  return 0;
}

int tr__kvlog_put_end(tr__kvbuf *b, uint64_t count) {
  size_t n = TR_KVLOG_FRAME + 9;
  char *p = tr__kvbuf_reserve(b, n);
  if (!p)
    return -1;
  p[TR_KVLOG_FRAME] = TR_KVREC_END;
  put64(p + TR_KVLOG_FRAME + 1, count);
  frame(p, 9);
  b->len += n;
  return 0;
}

uint64_t tr__kvlog_mset_body(size_t pairs, uint64_t bytes) {
  return 1 + 4 + 8 * (uint64_t)pairs + bytes;
}

int tr__kvlog_mset_begin(tr__kvbuf *b, uint32_t pairs, size_t *mark) {
  char *p = tr__kvbuf_reserve(b, TR_KVLOG_FRAME + 5);
  if (!p)
    return -1;
  *mark = b->len;
  p[TR_KVLOG_FRAME] = TR_KVREC_MSET;
  put32(p + TR_KVLOG_FRAME + 1, pairs);
  b->len += TR_KVLOG_FRAME + 5;
  return 0;
}

int tr__kvlog_mset_pair(tr__kvbuf *b, const char *key, size_t klen,
                        const char *val, size_t vlen) {
  char *p = tr__kvbuf_reserve(b, 8 + klen + vlen);
  if (!p)
    return -1;
  put32(p, (uint32_t)klen);
  memcpy(p + 4, key, klen);
  put32(p + 4 + klen, (uint32_t)vlen);
  if (vlen)
    memcpy(p + 8 + klen, val, vlen);
  b->len += 8 + klen + vlen;
  return 0;
}

void tr__kvlog_mset_end(tr__kvbuf *b, size_t mark) {
  frame(b->p + mark, b->len - mark - TR_KVLOG_FRAME);
}

void tr__kvlog_decode(const char *body, uint32_t len, uint64_t body_off,
                      tr__kvrec *out) {
  memset(out, 0, sizeof *out);
  out->type = body[0];
  out->body = body;
  out->len = len;
  out->body_off = body_off;
  switch (body[0]) {
  case TR_KVREC_END:
    out->count = get64(body + 1);
    return;
  case TR_KVREC_MSET:
    out->count = get32(body + 1);
    return;
  case TR_KVREC_FLUSH:
    return;
  }
  out->klen = get32(body + 1);
  out->key = body + 5;
  if (body[0] == TR_KVREC_EXPIRE)
    out->at = get64(body + 5 + out->klen);
  if (body[0] != TR_KVREC_SET && body[0] != TR_KVREC_SET_AT)
    return;
  out->vlen = get32(body + 5 + out->klen);
  out->val = body + 9 + out->klen;
  out->val_off = body_off + 9 + out->klen;
  if (body[0] == TR_KVREC_SET_AT)
    out->at = get64(out->val + out->vlen);
}

int tr__kvlog_mset_next(const tr__kvrec *m, size_t *pos, tr__kvrec *pair) {
  size_t at = *pos ? *pos : 5;
  if (at >= m->len)
    return 0;
  memset(pair, 0, sizeof *pair);
  pair->type = TR_KVREC_SET;
  pair->klen = get32(m->body + at);
  pair->key = m->body + at + 4;
  pair->vlen = get32(m->body + at + 4 + pair->klen);
  pair->val = m->body + at + 8 + pair->klen;
  pair->val_off = m->body_off + at + 8 + pair->klen;
  *pos = at + 8 + pair->klen + pair->vlen;
  return 1;
}

static int put_header(tr__kvbuf *b, int snapshot) {
  char *p = tr__kvbuf_reserve(b, TR_KVLOG_HEADER);
  if (!p)
    return -1;
  memcpy(p, snapshot ? TR_KVSNAP_MAGIC : TR_KVLOG_MAGIC, 7);
  p[7] = TR_KVLOG_VERSION;
  b->len += TR_KVLOG_HEADER;
  return 0;
}

/* ------------------------------------------------------------- reading */

/* Reading goes record by record through a window on the file:
 * buf[start, end) are the bytes at offset pos on. A record that is not
 * whole starts a scan for the next whole one (see the top of the file). */
struct tr__kvreader {
  const tr__kvio *io;
  int fd, snapshot, v1, sized, eof, err, ended, done;
  tr__kvlog_apply_fn apply;
  void *ud;
  tr__kvload *out;
  char *buf;
  size_t cap, start, end, ahead;
  uint64_t pos;
  /* While scanning past a bad record: */
  int scanning;
  uint64_t hole_at;   /* where the bad part began */
  uint64_t span;      /* the bad record's length by its frame, if it fits */
  int shaped;         /* its frame and body agree: only contents are bad */
  int tail;           /* TORN or CORRUPT should no good record follow; */
  uint64_t zero_from; /* 0: decided by whether only zeros follow this */
  int nonzero;        /* a non-zero byte was seen there */
  uint64_t zrun;      /* zero bytes in a row up to pos */
  int zero_edge;      /* zeros up to a sector's end were in it */
  int zero_tail;      /* ... ZERO_RUN of them or more, or from its start */
  int all_zero;       /* nothing but zeros in it so far */
  char what[96];      /* the bad record, when shaped */
};

typedef tr__kvreader reader;

static size_t avail(const reader *r) { return r->end - r->start; }

/* Tries to have n bytes in the window; fewer only at the end of the file.
 * -1 on a read error (r->err) or when out of memory (r->err = ENOMEM). The
 * window grows to twice what is asked, so a scan that moves it byte by
 * byte copies each byte a bounded number of times. */
static int fill(reader *r, size_t n) {
  if (avail(r) >= n || r->eof)
    return 0;
  if (n > r->cap) {
    size_t cap = r->cap * 2 > 2 * n ? r->cap * 2 : 2 * n;
    char *p = malloc(cap);
    if (!p) {
      r->err = ENOMEM;
      return -1;
    }
    memcpy(p, r->buf + r->start, avail(r));
    free(r->buf);
    r->buf = p;
    r->cap = cap;
    r->end -= r->start;
    r->start = 0;
  } else if (r->start + n > r->cap) {
    memmove(r->buf, r->buf + r->start, avail(r));
    r->end -= r->start;
    r->start = 0;
  }
  while (avail(r) < n && !r->eof) {
    size_t want = n - avail(r) > r->ahead ? n - avail(r) : r->ahead, got = 0;
    int rc;
    if (want > r->cap - r->end)
      want = r->cap - r->end;
    rc = tr__kvio_read_full(r->io, r->fd, r->buf + r->end, want, &got);
    r->end += got;
    if (rc) {
      r->err = -rc;
      return -1;
    }
    if (got < want)
      r->eof = 1;
  }
  return 0;
}

/* fill, never past the end of the file when its size is known: a garbled
 * length in a short file is found out without allocating its claim. */
static int fill_upto(reader *r, uint64_t n) {
  uint64_t left;
  if (r->sized && r->out->size >= r->pos) {
    left = r->out->size - r->pos;
    if (n > left)
      n = left;
  }
  return fill(r, (size_t)n);
}

static void consume(reader *r, size_t n) {
  r->start += n;
  r->pos += n;
}

/* Which kinds a file may hold: a snapshot S and E, a log S and D; from
 * version 2 on, a snapshot T too, a log T, X, M and F. */
static int kind_ok(int c, int snapshot, int v1) {
  switch (c) {
  case TR_KVREC_SET:
    return 1;
  case TR_KVREC_END:
    return snapshot;
  case TR_KVREC_DELETE:
    return !snapshot;
  case TR_KVREC_SET_AT:
    return !v1;
  case TR_KVREC_EXPIRE:
  case TR_KVREC_MSET:
  case TR_KVREC_FLUSH:
    return !snapshot && !v1;
  }
  return 0;
}

/* The bytes after the value: a T record's expiry. */
static size_t tail_of(int c) { return c == TR_KVREC_SET_AT ? 8 : 0; }

/* Could the n bytes at p begin a body of len bytes? */
static int could_start(const char *p, size_t n, uint32_t len, int snapshot,
                       int v1) {
  uint64_t klen, count;
  if (!n)
    return 1;
  if (p[0] == TR_KVREC_END || !kind_ok(p[0], snapshot, v1))
    return 0;
  if (p[0] == TR_KVREC_FLUSH)
    return len == 1;
  if (n < 5)
    return 1;
  if (p[0] == TR_KVREC_MSET) {
    count = get32(p + 1);
    return count >= 1 && len >= 5 + 9 * count;
  }
  klen = get32(p + 1);
  if (klen == 0 || klen > TR_KV_MAX_KEY)
    return 0;
  if (p[0] == TR_KVREC_DELETE)
    return len == 5 + klen;
  if (p[0] == TR_KVREC_EXPIRE)
    return len == 13 + klen;
  if (n < 9 + klen)
    return len >= 9 + klen + tail_of(p[0]);
  return get32(p + 5 + klen) <= TR_KV_MAX_VALUE &&
         len == 9 + klen + get32(p + 5 + klen) + tail_of(p[0]);
}

/* Do the pairs of an mset fill its body exactly? */
static int mset_parses(const char *p, uint64_t len) {
  uint64_t count, pos = 5, klen, vlen, i;
  if (len < 5)
    return 0;
  count = get32(p + 1);
  if (count == 0 || count > len / 9)
    return 0;
  for (i = 0; i < count; i++) {
    if (len - pos < 8)
      return 0;
    klen = get32(p + pos);
    if (klen == 0 || klen > TR_KV_MAX_KEY || len - pos - 8 < klen)
      return 0;
    vlen = get32(p + pos + 4 + klen);
    if (vlen > TR_KV_MAX_VALUE || len - pos - 8 - klen < vlen)
      return 0;
    pos += 8 + klen + vlen;
  }
  return pos == len;
}

/* Does a body of len bytes parse as a record of this kind of file? */
static int parses(const char *p, size_t len, int snapshot, int v1) {
  uint64_t klen;
  if (!kind_ok(p[0], snapshot, v1))
    return 0;
  switch (p[0]) {
  case TR_KVREC_END:
    return len == 9;
  case TR_KVREC_FLUSH:
    return len == 1;
  case TR_KVREC_MSET:
    return mset_parses(p, len);
  }
  if (len < 5 || (klen = get32(p + 1)) == 0 || klen > TR_KV_MAX_KEY ||
      len < 5 + klen)
    return 0;
  if (p[0] == TR_KVREC_DELETE)
    return len == 5 + klen;
  if (p[0] == TR_KVREC_EXPIRE)
    return len == 13 + klen;
  return len >= 9 + klen && get32(p + 5 + klen) <= TR_KV_MAX_VALUE &&
         len == 9 + klen + get32(p + 5 + klen) + tail_of(p[0]);
}

static uint64_t end_count(const char *body) {
  return (uint64_t)get32(body + 1) | (uint64_t)get32(body + 5) << 32;
}

/* What is at window offset 0. */
enum { REC_WHOLE, REC_BAD, REC_SHORT, REC_FAIL };
typedef struct look_at {
  int kind;     /* REC_* */
  uint32_t len; /* the body's length by the frame (REC_WHOLE, REC_BAD) */
  int fits;     /* REC_BAD: that length is plausible and fits the file */
  int shaped;   /* REC_BAD: fits and parses; only its crc (or an end mark's
                   count) is wrong */
} look_at;

/* A whole record: its frame is there, its length plausible, its body in
 * the file, its crc right, and it parses; an end mark's count must match
 * the records read, unless holes were skipped (lenient). REC_SHORT: the
 * file ends inside the frame, or before the length it gives. */
static look_at look(reader *r, int lenient) {
  look_at l = {REC_BAD, 0, 0, 0};
  const char *p;
  if (fill_upto(r, TR_KVLOG_FRAME)) {
    l.kind = REC_FAIL;
    return l;
  }
  if (avail(r) < TR_KVLOG_FRAME) {
    l.kind = REC_SHORT;
    return l;
  }
  l.len = get32(r->buf + r->start);
  if (l.len == 0 || l.len > TR_KVLOG_MAX_BODY)
    return l;
  if (fill_upto(r, (uint64_t)TR_KVLOG_FRAME + l.len)) {
    l.kind = REC_FAIL;
    return l;
  }
  if (avail(r) < TR_KVLOG_FRAME + (size_t)l.len) {
    l.kind = REC_SHORT;
    return l;
  }
  l.fits = 1;
  p = r->buf + r->start;
  if (!parses(p + TR_KVLOG_FRAME, l.len, r->snapshot, r->v1))
    return l;
  l.shaped = 1;
  if (tr__kvcrc(tr__kvcrc(0, p, 4), p + TR_KVLOG_FRAME, l.len) != get32(p + 4))
    return l;
  if (p[TR_KVLOG_FRAME] == TR_KVREC_END && !lenient &&
      end_count(p + TR_KVLOG_FRAME) != r->out->records)
    return l;
  l.kind = REC_WHOLE;
  return l;
}

/* Hands the whole record at window offset 0 on and moves past it. */
static int apply(reader *r, uint32_t len) {
  const char *p = r->buf + r->start + TR_KVLOG_FRAME;
  tr__kvrec rec;
  tr__kvlog_decode(p, len, r->pos + TR_KVLOG_FRAME, &rec);
  if (r->apply && r->apply(r->ud, &rec))
    return -1;
  if (p[0] == TR_KVREC_END)
    r->ended = 1;
  else
    r->out->records++;
  consume(r, TR_KVLOG_FRAME + len);
  r->out->valid_end = r->pos;
  return 0;
}

/* `a set of "key"` for the record at window offset 0 (it parses). */
static void name_record(reader *r, char *buf, size_t n) {
  const char *p = r->buf + r->start + TR_KVLOG_FRAME;
  uint32_t klen, i;
  size_t len;
  if (p[0] == TR_KVREC_END) {
    snprintf(buf, n, "the end mark");
    return;
  }
  if (p[0] == TR_KVREC_FLUSH) {
    snprintf(buf, n, "a flush");
    return;
  }
  if (p[0] == TR_KVREC_MSET) {
    snprintf(buf, n, "an mset of %lu keys", (unsigned long)get32(p + 1));
    return;
  }
  klen = get32(p + 1);
  len = (size_t)snprintf(buf, n, "%s of \"",
                         p[0] == TR_KVREC_DELETE   ? "a delete"
                         : p[0] == TR_KVREC_EXPIRE ? "an expire"
                                                   : "a set");
  for (i = 0; i < klen && i < 32 && len + 8 < n; i++) {
    unsigned char c = (unsigned char)p[5 + i];
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
      buf[len++] = (char)c;
    else
      len += (size_t)snprintf(buf + len, n - len, "\\x%02x", c);
  }
  snprintf(buf + len, n - len, "%s\"", i < klen ? "..." : "");
}

/* Moves the scan n bytes on, noting a non-zero byte past zero_from, and
 * an aligned sector of zeros. */
static void skip(reader *r, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    int zero = r->buf[r->start + i] == 0;
    if (!zero && r->pos + i >= r->zero_from)
      r->nonzero = 1;
    r->all_zero &= zero;
    r->zrun = zero ? r->zrun + 1 : 0;
    if (zero && (r->pos + i + 1) % SECTOR == 0) {
      r->zero_edge = 1;
      r->zero_tail |= r->zrun >= ZERO_RUN || r->all_zero;
    }
  }
  consume(r, n);
}

/* The record at pos is not whole: look for the next whole one from the
 * end of this one if only its contents are bad, else from the next
 * byte; and know, should none be found, whether the tail is torn. */
static void start_scan(reader *r, look_at l) {
  const char *p = r->buf + r->start;
  r->scanning = 1;
  r->hole_at = r->pos;
  r->shaped = l.shaped;
  r->span = l.fits ? TR_KVLOG_FRAME + (uint64_t)l.len : 0;
  r->nonzero = 0;
  r->zrun = 0;
  r->zero_edge = r->zero_tail = 0;
  r->all_zero = 1;
  r->tail = 0;
  r->what[0] = '\0';
  if (l.kind == REC_SHORT) /* unfinished, if what there is could start it */
    r->tail = avail(r) < TR_KVLOG_FRAME ||
                      could_start(p + TR_KVLOG_FRAME, avail(r) - TR_KVLOG_FRAME,
                                  l.len, r->snapshot, r->v1)
                  ? TR_KVLOAD_TORN
                  : TR_KVLOAD_CORRUPT;
  /* A bad record that fits is torn if only zeros follow it; a garbled
   * length, if only zeros follow from there (it is zero too). */
  r->zero_from = r->pos + r->span;
  if (l.shaped)
    name_record(r, r->what, sizeof r->what);
  skip(r, l.shaped ? (size_t)r->span : 1);
}

static void hole_found(reader *r) {
  tr__kvload *o = r->out;
  uint64_t len = r->pos - r->hole_at;
  if (o->holes < TR_KVLOAD_HOLES) {
    tr__kvhole *h = &o->hole[o->holes];
    h->at = r->hole_at;
    h->len = len;
    if (r->shaped && len == r->span)
      memcpy(h->what, r->what, sizeof h->what);
    else
      h->what[0] = '\0';
  }
  o->holes++;
  o->lost += len;
  r->scanning = 0;
}

static void finish(reader *r, int status) {
  if (r->err == ENOMEM)
    status = TR_KVLOAD_NOMEM;
  else if (r->err) {
    status = TR_KVLOAD_IOERR;
    r->out->err = r->err;
  }
  if (r->pos > r->out->size)
    r->out->size = r->pos;
  r->out->status = status;
  r->done = 1;
}

tr__kvreader *tr__kvlog_begin(const tr__kvio *io, int fd, int is_snapshot,
                              tr__kvlog_apply_fn apply, void *ud,
                              tr__kvload *out) {
  const char *magic = is_snapshot ? TR_KVSNAP_MAGIC : TR_KVLOG_MAGIC;
  struct stat st;
  reader *r = calloc(1, sizeof *r);
  size_t n;
  memset(out, 0, sizeof *out);
  if (!r || !(r->buf = malloc(WINDOW))) {
    free(r);
    out->status = TR_KVLOAD_NOMEM;
    return NULL;
  }
  r->io = io;
  r->fd = fd;
  r->snapshot = is_snapshot;
  r->apply = apply;
  r->ud = ud;
  r->out = out;
  r->cap = WINDOW;
  r->ahead = READ_AHEAD;
  if (io->fstat(fd, &st) == 0)
    out->size = (uint64_t)st.st_size, r->sized = 1;
  if (fill(r, TR_KVLOG_HEADER)) {
    finish(r, TR_KVLOAD_OK);
    return r;
  }
  n = avail(r);
  if (n < TR_KVLOG_HEADER) {
    /* Nothing, the start of a header from a crash, or something else. */
    finish(r, n && memcmp(r->buf, magic, n < 7 ? n : 7) ? TR_KVLOAD_BAD_MAGIC
                                                        : TR_KVLOAD_EMPTY);
    return r;
  }
  out->version = r->buf[7];
  if (memcmp(r->buf, magic, 7)) {
    finish(r, TR_KVLOAD_BAD_MAGIC);
    return r;
  }
  if (r->buf[7] != TR_KVLOG_VERSION && r->buf[7] != TR_KVLOG_VERSION_OLD) {
    finish(r, TR_KVLOAD_BAD_VERSION);
    return r;
  }
  r->v1 = r->buf[7] == TR_KVLOG_VERSION_OLD;
  consume(r, TR_KVLOG_HEADER);
  out->valid_end = out->offset = TR_KVLOG_HEADER;
  return r;
}

/* One step of the scan: 1 to go on, 0 when the file is done. */
static int scan_step(reader *r) {
  look_at l;
  if (fill_upto(r, 1)) {
    finish(r, TR_KVLOAD_OK);
    return 0;
  }
  if (!avail(r)) { /* no good record after the bad part: it is the tail */
    finish(r, r->zero_edge && !r->snapshot ? TR_KVLOAD_TORN
              : r->tail                    ? r->tail
              : r->nonzero                 ? TR_KVLOAD_CORRUPT
                                           : TR_KVLOAD_TORN);
    return 0;
  }
  l = look(r, 1);
  if (l.kind == REC_FAIL) {
    finish(r, TR_KVLOAD_OK);
    return 0;
  }
  if (l.kind == REC_WHOLE && r->zero_tail && !r->snapshot) {
    /* Zeroed sectors in a log: blocks a power loss left unwritten (the
     * file grew, its data never reached the disk), so what follows was
     * never synced either: the log ends here, torn. */
    finish(r, TR_KVLOAD_TORN);
    return 0;
  }
  if (l.kind == REC_WHOLE)
    hole_found(r);
  else
    skip(r, 1);
  return 1;
}

/* One record: 1 to go on, 0 when the file is done. */
static int read_step(reader *r) {
  look_at l;
  if (fill_upto(r, 1)) {
    finish(r, TR_KVLOAD_OK);
    return 0;
  }
  if (!avail(r)) { /* a snapshot must have its end mark */
    finish(r, r->snapshot && !r->ended ? TR_KVLOAD_TORN : TR_KVLOAD_OK);
    return 0;
  }
  if (r->ended) { /* bytes after a snapshot's end mark */
    finish(r, TR_KVLOAD_CORRUPT);
    return 0;
  }
  l = look(r, r->out->holes > 0);
  if (l.kind == REC_FAIL) {
    finish(r, TR_KVLOAD_OK);
    return 0;
  }
  if (l.kind != REC_WHOLE) {
    start_scan(r, l);
    return 1;
  }
  if (apply(r, l.len)) {
    r->err = ENOMEM;
    finish(r, TR_KVLOAD_OK);
    return 0;
  }
  return 1;
}

int tr__kvlog_step(tr__kvreader *r, size_t budget) {
  uint64_t stop;
  if (!r || r->done)
    return 0;
  stop = r->pos + budget;
  r->ahead = budget < READ_AHEAD ? budget : READ_AHEAD;
  while (r->pos < stop && (r->scanning ? scan_step(r) : read_step(r)))
    ;
  r->out->offset = r->pos;
  return !r->done;
}

void tr__kvlog_end(tr__kvreader *r) {
  if (!r)
    return;
  free(r->buf);
  free(r);
}

int tr__kvlog_load(const tr__kvio *io, int fd, int is_snapshot,
                   tr__kvlog_apply_fn apply, void *apply_ud,
                   void (*tick)(void *), void *ud, tr__kvload *out) {
  tr__kvreader *r = tr__kvlog_begin(io, fd, is_snapshot, apply, apply_ud, out);
  while (tr__kvlog_step(r, TICK_BYTES))
    if (tick)
      tick(ud);
  tr__kvlog_end(r);
  return out->status;
}

void tr__kvlog_describe(const tr__kvload *l, const char *file, char *buf,
                        size_t n) {
  unsigned long long dropped = l->size - l->valid_end;
  switch (l->status) {
  case TR_KVLOAD_OK:
    snprintf(buf, n, "%s: %llu records", file, (unsigned long long)l->records);
    break;
  case TR_KVLOAD_EMPTY:
    snprintf(buf, n, "%s is empty", file);
    break;
  case TR_KVLOAD_TORN:
    snprintf(buf, n, "%s: dropped a torn tail of %llu bytes at offset %llu",
             file, dropped, (unsigned long long)l->valid_end);
    break;
  case TR_KVLOAD_CORRUPT:
    snprintf(buf, n,
             "%s: corrupt data at offset %llu; dropped the %llu bytes from "
             "there to the end",
             file, (unsigned long long)l->valid_end, dropped);
    break;
  case TR_KVLOAD_BAD_MAGIC:
    snprintf(buf, n, "%s is not a troupe data file (unknown header)", file);
    break;
  case TR_KVLOAD_BAD_VERSION:
    if (l->version >= 0x21 && l->version < 0x7f)
      snprintf(buf, n,
               "%s has format version %c; this build reads versions %c and %c",
               file, l->version, TR_KVLOG_VERSION_OLD, TR_KVLOG_VERSION);
    else
      snprintf(buf, n,
               "%s has an unknown format version (byte 0x%02x); this build "
               "reads versions %c and %c",
               file, (unsigned char)l->version, TR_KVLOG_VERSION_OLD,
               TR_KVLOG_VERSION);
    break;
  case TR_KVLOAD_IOERR:
    snprintf(buf, n, "cannot read %s: %s", file, strerror(l->err));
    break;
  default:
    snprintf(buf, n, "out of memory reading %s", file);
  }
}

void tr__kvlog_describe_holes(const tr__kvload *l, char *buf, size_t n) {
  size_t len = 0;
  uint64_t i;
  if (n)
    buf[0] = '\0';
  for (i = 0; i < l->holes && i < TR_KVLOAD_HOLES && len < n; i++) {
    const tr__kvhole *h = &l->hole[i];
    len += (size_t)snprintf(
        buf + len, n - len, "%s%llu bytes at offset %llu%s%s%s", i ? ", " : "",
        (unsigned long long)h->len, (unsigned long long)h->at,
        h->what[0] ? " (" : "", h->what, h->what[0] ? ")" : "");
  }
  if (l->holes > TR_KVLOAD_HOLES && len < n)
    snprintf(buf + len, n - len, " and %llu more",
             (unsigned long long)(l->holes - TR_KVLOAD_HOLES));
}

/* ------------------------------------------------------------- writing */

int tr__kvlog_create(const tr__kvio *io, const char *tmp, int snapshot,
                     int *fd_out) {
  int flags = O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, fd, rc;
  tr__kvbuf b = {0};
  *fd_out = -1;
  if ((fd = io->open(tmp, snapshot ? flags : flags | O_APPEND, 0644)) < 0)
    return errno ? -errno : -EIO;
  rc = put_header(&b, snapshot) ? -ENOMEM
                                : tr__kvio_write_all(io, fd, b.p, b.len);
  tr__kvbuf_free(&b);
  if (rc) {
    io->close(fd);
    io->unlink(tmp);
    return rc;
  }
  *fd_out = fd;
  return 0;
}

int tr__kvlog_install(const tr__kvio *io, const char *dir, const char *path,
                      const char *tmp, int fd) {
  int rc = tr__kvio_fsync(io, fd);
  if (!rc && io->rename(tmp, path) < 0)
    rc = errno ? -errno : -EIO;
  if (rc) {
    io->close(fd);
    io->unlink(tmp);
    return rc;
  }
  /* In place now: a failed fsync of the directory leaves it in place (the
   * caller has to use it) but says the rename may not be durable. */
  if ((rc = tr__kvio_fsync_dir(io, dir))) {
    errno = -rc;
    return 1;
  }
  return 0;
}

int tr__kvlog_new_log(const tr__kvio *io, const char *dir, const char *path,
                      const char *tmp, int *fd_out, uint64_t *size_out) {
  int rc = tr__kvlog_create(io, tmp, 0, fd_out);
  if (!rc && (rc = tr__kvlog_install(io, dir, path, tmp, *fd_out)) < 0)
    *fd_out = -1;
  if (rc >= 0 && size_out)
    *size_out = TR_KVLOG_HEADER;
  return rc;
}

int tr__kvlog_copy_tail(const tr__kvio *io, int fd, uint64_t from,
                        const char *path) {
  char *buf;
  int out, rc = 0;
  if (io->lseek(fd, (off_t)from, SEEK_SET) < 0)
    return errno ? -errno : -EIO;
  if ((out = io->open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
    return errno ? -errno : -EIO;
  if (!(buf = malloc(WINDOW))) {
    rc = -ENOMEM;
  }
  while (!rc) {
    size_t got = 0;
    rc = tr__kvio_read_full(io, fd, buf, WINDOW, &got);
    if (!rc && got)
      rc = tr__kvio_write_all(io, out, buf, got);
    if (got < WINDOW)
      break;
  }
  free(buf);
  if (!rc)
    rc = tr__kvio_fsync(io, out);
  io->close(out);
  if (rc)
    io->unlink(path);
  return rc;
}
