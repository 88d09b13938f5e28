/*
 * fuzz_kvlog.c -- libFuzzer target for the native writer's loader
 * (services/store/kvlog.c): tr__kvlog_load on arbitrary kv.log and kv.snap
 * content. It is what the writer's start (kvrecover.c) runs on both files,
 * and the narrowest entry point that parses a file's bytes; the input is
 * served from memory through the tr__kvio seam (kvio.h), no file involved.
 *
 * Each input is read as a log and as a snapshot. The loader must never
 * crash, leak or read out of bounds, and it must keep exactly the whole
 * records: a small reference parser here, written from the format's
 * description at the top of kvlog.c (a bad record is skipped up to the
 * next whole one, from its end when its length and body agree), says
 * where the good records end, how many there are, which holes were
 * skipped, how the file ends (torn or corrupt) and what map they make
 * (key -> value and expiry, as the writer's index would have them), and
 * the loader must agree on all of it; every value it hands on must be
 * where it says in the file (the writer reads values back from there).
 * Then:
 *   - the same file read in 3-byte pieces after an EINTR (and, for odd
 *     sizes, with fstat failing) loads the same;
 *   - a read failing half-way gives TR_KVLOAD_IOERR with its errno (or
 *     the same result, when the loader had stopped before it);
 *   - the loaded map, written back as a snapshot with the writer's own
 *     encoder (tr__kvlog_put_set_at / _put_end), loads whole and equal.
 *
 * The fuzz build reads through a window of 64 bytes (TR_KVLOG_WINDOW, see
 * CMakeLists.txt) instead of 1 MiB, so that short inputs exercise how the
 * loader moves and grows it.
 *
 * Run by scripts/fuzz; seeds in fuzz/corpus/fuzz_kvlog/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "kvlog.h"
#include "kvmap.h"

#define CHECK(c) ((c) ? (void)0 : failed(#c, __LINE__))

_Noreturn static void failed(const char *what, int line) {
  fprintf(stderr, "fuzz_kvlog.c:%d: check failed: %s\n", line, what);
  abort();
}

/* ------------------------------------------------ the file, in memory */

#define MEMFD 1000

static struct {
  const uint8_t *p;
  size_t n, pos;
  size_t chunk;   /* the most one read returns */
  int eintr;      /* the next read fails with EINTR */
  int nostat;     /* fstat fails */
  size_t fail_at; /* reads at or past this offset fail with EIO */
} mem;

static void serve(const uint8_t *p, size_t n) {
  mem.p = p, mem.n = n, mem.pos = 0;
  mem.chunk = (size_t)-1, mem.eintr = 0, mem.nostat = 0;
  mem.fail_at = (size_t)-1;
}

static ssize_t mem_read(int fd, void *buf, size_t n) {
  size_t k;
  CHECK(fd == MEMFD);
  if (mem.eintr) {
    mem.eintr = 0;
    errno = EINTR;
    return -1;
  }
  if (mem.pos >= mem.fail_at) {
    errno = EIO;
    return -1;
  }
  k = mem.n - mem.pos;
  if (k > n)
    k = n;
  if (k > mem.chunk)
    k = mem.chunk;
  if (mem.fail_at - mem.pos < k)
    k = mem.fail_at - mem.pos;
  if (k)
    memcpy(buf, mem.p + mem.pos, k);
  mem.pos += k;
  return (ssize_t)k;
}

static int mem_fstat(int fd, struct stat *st) {
  CHECK(fd == MEMFD);
  if (mem.nostat) {
    errno = EIO;
    return -1;
  }
  memset(st, 0, sizeof *st);
  st->st_size = (off_t)mem.n;
  return 0;
}

/* The loader reads; anything else it calls is a bug. */
static int no_open(const char *path, int flags, mode_t mode) {
  (void)path, (void)flags, (void)mode;
  failed("the loader opened a file", __LINE__);
  return -1;
}
static ssize_t no_write(int fd, const void *buf, size_t n) {
  (void)fd, (void)buf, (void)n;
  failed("the loader wrote", __LINE__);
  return -1;
}
static int no_fd(int fd) {
  (void)fd;
  failed("the loader fsynced or closed", __LINE__);
  return -1;
}
static int no_truncate(int fd, off_t len) {
  (void)fd, (void)len;
  failed("the loader truncated", __LINE__);
  return -1;
}
static off_t no_seek(int fd, off_t off, int whence) {
  (void)fd, (void)off, (void)whence;
  failed("the loader seeked", __LINE__);
  return -1;
}
static int no_rename(const char *from, const char *to) {
  (void)from, (void)to;
  failed("the loader renamed", __LINE__);
  return -1;
}
static int no_unlink(const char *path) {
  (void)path;
  failed("the loader unlinked", __LINE__);
  return -1;
}
static int no_mkdir(const char *path, mode_t mode) {
  (void)path, (void)mode;
  failed("the loader made a directory", __LINE__);
  return -1;
}
static int no_flock(int fd, int op) {
  (void)fd, (void)op;
  failed("the loader locked", __LINE__);
  return -1;
}

static ssize_t no_pread(int fd, void *buf, size_t n, off_t off) {
  (void)fd, (void)buf, (void)n, (void)off;
  failed("the loader read at an offset", __LINE__);
  return -1;
}

static const tr__kvio mem_io = {
    no_open, mem_read,  no_write,  no_fd,    no_truncate, no_seek, mem_fstat,
    no_fd,   no_rename, no_unlink, no_mkdir, no_flock,    no_pread};

static unsigned ticks;
static void tick(void *ud) {
  (void)ud;
  ticks++;
}

/* The data the records make: key -> value bytes then a u64 expiry. */
typedef struct model {
  tr__kvmap *map;
} model;

static void model_set(model *m, const void *key, size_t klen, const void *val,
                      size_t vlen, uint64_t at) {
  char *v = malloc(vlen + 8);
  CHECK(v != NULL);
  if (vlen)
    memcpy(v, val, vlen);
  memcpy(v + vlen, &at, 8);
  CHECK(tr__kvmap_set(m->map, key, klen, v, vlen + 8) == 0);
  free(v);
}

static void model_expire(model *m, const void *key, size_t klen, uint64_t at) {
  const char *v;
  size_t n;
  char *copy;
  if (!tr__kvmap_get(m->map, key, klen, &v, &n))
    return;
  CHECK(n >= 8 && (copy = malloc(n)) != NULL);
  memcpy(copy, v, n - 8);
  memcpy(copy + n - 8, &at, 8);
  CHECK(tr__kvmap_set(m->map, key, klen, copy, n) == 0);
  free(copy);
}

static void model_flush(model *m) {
  tr__kvmap_free(m->map);
  CHECK((m->map = tr__kvmap_new()) != NULL);
}

/* The loader's records, applied; each value must be where it says. */
static int loader_apply(void *ud, const tr__kvrec *r) {
  model *m = ud;
  tr__kvrec pair;
  size_t pos = 0;
  CHECK(r->body_off + r->len <= mem.n);
  CHECK(memcmp(mem.p + r->body_off, r->body, r->len) == 0);
  switch (r->type) {
  case TR_KVREC_SET:
  case TR_KVREC_SET_AT:
    CHECK(r->val_off + r->vlen <= mem.n &&
          (r->vlen == 0 || !memcmp(mem.p + r->val_off, r->val, r->vlen)));
    model_set(m, r->key, r->klen, r->val, r->vlen, r->at);
    break;
  case TR_KVREC_DELETE:
    tr__kvmap_delete(m->map, r->key, r->klen);
    break;
  case TR_KVREC_EXPIRE:
    model_expire(m, r->key, r->klen, r->at);
    break;
  case TR_KVREC_MSET:
    while (tr__kvlog_mset_next(r, &pos, &pair)) {
      CHECK(pair.val_off + pair.vlen <= mem.n &&
            (pair.vlen == 0 ||
             !memcmp(mem.p + pair.val_off, pair.val, pair.vlen)));
      model_set(m, pair.key, pair.klen, pair.val, pair.vlen, 0);
    }
    break;
  case TR_KVREC_FLUSH:
    model_flush(m);
    break;
  }
  return 0;
}

/* Loads what mem serves into a new map (returned, to free). */
static tr__kvmap *load(int snapshot, tr__kvload *out) {
  model m;
  CHECK((m.map = tr__kvmap_new()) != NULL);
  tr__kvlog_load(&mem_io, MEMFD, snapshot, loader_apply, &m, tick, NULL, out);
  return m.map;
}

/* ------------------------------------------- the reference parser */

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) {
  return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

typedef struct ref {
  int header;         /* TR_KVLOAD_OK, _EMPTY, _BAD_MAGIC or _BAD_VERSION */
  int v1;             /* a version 1 file: S, D and E only */
  int ended;          /* a snapshot's end mark was read */
  int tail;           /* how it ends: TR_KVLOAD_OK, _TORN or _CORRUPT */
  uint64_t valid_end; /* where the last good record ends */
  uint64_t records;
  uint64_t holes, lost; /* bad stretches skipped, and their bytes */
  uint64_t hole_at[TR_KVLOAD_HOLES], hole_len[TR_KVLOAD_HOLES];
} ref;

/* May this kind of file hold records of kind c? */
static int ref_kind(uint8_t c, int snapshot, int v1) {
  if (c == 'S')
    return 1;
  if (c == 'E')
    return snapshot;
  if (c == 'D')
    return !snapshot;
  if (c == 'T')
    return !v1;
  if (c == 'X' || c == 'M' || c == 'F')
    return !snapshot && !v1;
  return 0;
}

/* Does the body parse for this kind of file (an end mark's count aside)? */
static int ref_parses(const uint8_t *b, uint32_t len, int snapshot, int v1) {
  uint64_t klen, vlen, count, pos = 5, i;
  if (!ref_kind(b[0], snapshot, v1))
    return 0;
  if (b[0] == 'E')
    return len == 9;
  if (b[0] == 'F')
    return len == 1;
  if (len < 5)
    return 0;
  if (b[0] == 'M') {
    count = le32(b + 1);
    if (count == 0)
      return 0;
    for (i = 0; i < count; i++) {
      if (pos + 8 > len)
        return 0;
      klen = le32(b + pos);
      if (klen < 1 || klen > TR_KV_MAX_KEY || pos + 8 + klen > len)
        return 0;
      vlen = le32(b + pos + 4 + klen);
      if (vlen > TR_KV_MAX_VALUE || pos + 8 + klen + vlen > len)
        return 0;
      pos += 8 + klen + vlen;
    }
    return pos == len;
  }
  klen = le32(b + 1);
  if (klen < 1 || klen > TR_KV_MAX_KEY || len - 5 < klen)
    return 0;
  if (b[0] == 'D')
    return len == 5 + klen;
  if (b[0] == 'X')
    return len == 13 + klen;
  if (len - 5 - klen < 4)
    return 0;
  vlen = le32(b + 5 + klen);
  return vlen <= TR_KV_MAX_VALUE &&
         len == 9 + klen + vlen + (b[0] == 'T' ? 8 : 0);
}

/* Is there a whole record at off? *len is its length by its frame, *shaped
 * says whether that length fits the file and the body parses. */
static int ref_whole(const uint8_t *p, size_t n, size_t off, int snapshot,
                     int lenient, const ref *r, uint32_t *len, int *shaped) {
  const uint8_t *b = p + off + TR_KVLOG_FRAME;
  uLong c;
  *len = 0, *shaped = 0;
  if (n - off < TR_KVLOG_FRAME)
    return 0;
  *len = le32(p + off);
  if (*len == 0 || *len > TR_KVLOG_MAX_BODY ||
      *len > n - off - TR_KVLOG_FRAME || !ref_parses(b, *len, snapshot, r->v1))
    return 0;
  *shaped = 1;
  c = crc32(crc32(0L, Z_NULL, 0), p + off, 4);
  c = crc32(c, b, (uInt)*len);
  if ((uint32_t)c != le32(p + off + 4))
    return 0;
  return b[0] != 'E' || lenient ||
         ((uint64_t)le32(b + 1) | (uint64_t)le32(b + 5) << 32) == r->records;
}

static void ref_apply(const uint8_t *b, uint32_t len, model *m, ref *r) {
  uint32_t klen, vlen;
  size_t pos = 5;
  if (b[0] == 'E') {
    r->ended = 1;
    return;
  }
  r->records++;
  if (b[0] == 'F') { /* a body of one byte */
    model_flush(m);
    return;
  }
  klen = le32(b + 1);
  switch (b[0]) {
  case 'D':
    tr__kvmap_delete(m->map, b + 5, klen);
    break;
  case 'X':
    model_expire(m, b + 5, klen, le64(b + 5 + klen));
    break;
  case 'M':
    while (pos < len) {
      klen = le32(b + pos);
      vlen = le32(b + pos + 4 + klen);
      model_set(m, b + pos + 4, klen, b + pos + 8 + klen, vlen, 0);
      pos += 8 + klen + vlen;
    }
    break;
  default:
    vlen = le32(b + 5 + klen);
    model_set(m, b + 5, klen, b + 9 + klen, vlen,
              b[0] == 'T' ? le64(b + 9 + klen + vlen) : 0);
  }
}

/* Could the k bytes at b begin a body of len bytes? */
static int ref_could_start(const uint8_t *b, size_t k, uint32_t len,
                           int snapshot, int v1) {
  uint64_t klen, extra;
  if (k == 0)
    return 1;
  if (b[0] == 'E' || !ref_kind(b[0], snapshot, v1))
    return 0;
  if (b[0] == 'F')
    return len == 1;
  if (k < 5)
    return 1;
  if (b[0] == 'M')
    return le32(b + 1) >= 1 && len >= 5 + 9 * (uint64_t)le32(b + 1);
  klen = le32(b + 1);
  if (klen < 1 || klen > TR_KV_MAX_KEY)
    return 0;
  if (b[0] == 'D')
    return len == 5 + klen;
  if (b[0] == 'X')
    return len == 13 + klen;
  extra = b[0] == 'T' ? 8 : 0;
  if (k < 9 + klen)
    return len >= 9 + klen + extra;
  return le32(b + 5 + klen) <= TR_KV_MAX_VALUE &&
         len == 9 + klen + le32(b + 5 + klen) + extra;
}

static int all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i])
      return 0;
  return 1;
}

/* How a file whose good records end at off, with no whole record after,
 * ends: torn or corrupt. */
static int ref_tail(const uint8_t *p, size_t n, size_t off, int snapshot,
                    int v1) {
  uint32_t len;
  if (n - off < TR_KVLOG_FRAME)
    return TR_KVLOAD_TORN;
  len = le32(p + off);
  if (len == 0 || len > TR_KVLOG_MAX_BODY)
    return all_zero(p + off, n - off) ? TR_KVLOAD_TORN : TR_KVLOAD_CORRUPT;
  if (len > n - off - TR_KVLOG_FRAME)
    return ref_could_start(p + off + TR_KVLOG_FRAME, n - off - TR_KVLOG_FRAME,
                           len, snapshot, v1)
               ? TR_KVLOAD_TORN
               : TR_KVLOAD_CORRUPT;
  off += TR_KVLOG_FRAME + len;
  return all_zero(p + off, n - off) ? TR_KVLOAD_TORN : TR_KVLOAD_CORRUPT;
}

static void ref_parse(const uint8_t *p, size_t n, int snapshot, model *m,
                      ref *r) {
  const char *magic = snapshot ? TR_KVSNAP_MAGIC : TR_KVLOG_MAGIC;
  size_t off = TR_KVLOG_HEADER;
  memset(r, 0, sizeof *r);
  if (n < TR_KVLOG_HEADER) {
    r->header = n == 0 || memcmp(p, magic, n < 7 ? n : 7) == 0
                    ? TR_KVLOAD_EMPTY
                    : TR_KVLOAD_BAD_MAGIC;
    return;
  }
  if (memcmp(p, magic, 7)) {
    r->header = TR_KVLOAD_BAD_MAGIC;
    return;
  }
  if (p[7] != '1' && p[7] != '2') {
    r->header = TR_KVLOAD_BAD_VERSION;
    return;
  }
  r->v1 = p[7] == '1';
  r->header = TR_KVLOAD_OK;
  r->valid_end = off;
  while (off < n) {
    uint32_t len, qlen;
    int shaped, qshaped;
    size_t q;
    if (r->ended) { /* bytes after the end mark */
      r->tail = TR_KVLOAD_CORRUPT;
      return;
    }
    if (ref_whole(p, n, off, snapshot, r->holes > 0, r, &len, &shaped)) {
      ref_apply(p + off + TR_KVLOG_FRAME, len, m, r);
      off += TR_KVLOG_FRAME + len;
      r->valid_end = off;
      continue;
    }
    /* The next whole record: past this one if only its contents are bad
     * (its length fits and its body parses), else from the next byte. */
    for (q = shaped ? off + TR_KVLOG_FRAME + len : off + 1; q < n; q++)
      if (ref_whole(p, n, q, snapshot, 1, r, &qlen, &qshaped))
        break;
    if (q >= n) {
      r->tail = ref_tail(p, n, off, snapshot, r->v1);
      return;
    }
    if (r->holes < TR_KVLOAD_HOLES) {
      r->hole_at[r->holes] = off;
      r->hole_len[r->holes] = q - off;
    }
    r->holes++;
    r->lost += q - off;
    off = q;
  }
  r->tail = snapshot && !r->ended ? TR_KVLOAD_TORN : TR_KVLOAD_OK;
}

/* ------------------------------------------------------- the checks */

static void same_map(const tr__kvmap *a, const tr__kvmap *b) {
  size_t cursor = 0, klen, vlen, blen;
  const char *key, *val, *bval;
  CHECK(tr__kvmap_count(a) == tr__kvmap_count(b));
  while (tr__kvmap_next(a, &cursor, &key, &klen, &val, &vlen)) {
    CHECK(tr__kvmap_get(b, key, klen, &bval, &blen) == 1);
    CHECK(blen == vlen && (vlen == 0 || memcmp(val, bval, vlen) == 0));
  }
}

static void same_load(const tr__kvload *a, const tr__kvload *b) {
  CHECK(a->status == b->status && a->records == b->records &&
        a->valid_end == b->valid_end && a->size == b->size &&
        a->holes == b->holes && a->lost == b->lost);
}

/* Every status has its line, which fits any buffer. */
static void describe(const tr__kvload *l) {
  char small[16], line[400], holes[2000];
  tr__kvlog_describe(l, "kv.log", small, sizeof small);
  tr__kvlog_describe(l, "kv.log", line, sizeof line);
  CHECK(strlen(small) < sizeof small && strlen(line) > 0);
  tr__kvlog_describe_holes(l, small, sizeof small);
  tr__kvlog_describe_holes(l, holes, sizeof holes);
  CHECK(strlen(small) < sizeof small && (strlen(holes) > 0) == (l->holes > 0));
}

/* The loaded map as a snapshot, written by the writer's encoder. */
static void rewrite(const tr__kvmap *map) {
  tr__kvbuf b = {0};
  size_t cursor = 0, klen, vlen;
  const char *key, *val;
  tr__kvmap *again;
  tr__kvload l;
  CHECK(tr__kvlog_put_end(&b, 0) == 0); /* room for the header, replaced */
  memcpy(b.p, TR_KVSNAP_MAGIC, 7);
  b.p[7] = TR_KVLOG_VERSION;
  b.len = TR_KVLOG_HEADER;
  while (tr__kvmap_next(map, &cursor, &key, &klen, &val, &vlen)) {
    uint64_t at;
    CHECK(vlen >= 8);
    memcpy(&at, val + vlen - 8, 8);
    CHECK(tr__kvlog_put_set_at(&b, key, klen, val, vlen - 8, at) == 0);
  }
  CHECK(tr__kvlog_put_end(&b, tr__kvmap_count(map)) == 0);
  serve((const uint8_t *)b.p, b.len);
  again = load(1, &l);
  CHECK(l.status == TR_KVLOAD_OK && l.records == tr__kvmap_count(map) &&
        l.valid_end == b.len && l.size == b.len);
  same_map(map, again);
  tr__kvmap_free(again);
  tr__kvbuf_free(&b);
}

static void one(const uint8_t *data, size_t size, int snapshot) {
  tr__kvmap *map, *other;
  model want;
  tr__kvload l, l2;
  ref r;

  serve(data, size);
  map = load(snapshot, &l);
  describe(&l);
  CHECK(l.size == size && l.valid_end <= size);
  CHECK(l.status != TR_KVLOAD_IOERR && l.status != TR_KVLOAD_NOMEM);

  CHECK((want.map = tr__kvmap_new()) != NULL);
  ref_parse(data, size, snapshot, &want, &r);
  if (r.header != TR_KVLOAD_OK) {
    CHECK(l.status == r.header);
    CHECK(l.records == 0 && l.valid_end == 0 && tr__kvmap_count(map) == 0);
  } else {
    uint64_t i;
    CHECK(l.valid_end == r.valid_end && l.records == r.records);
    CHECK(l.status == r.tail);
    CHECK(l.holes == r.holes && l.lost == r.lost);
    for (i = 0; i < l.holes && i < TR_KVLOAD_HOLES; i++)
      CHECK(l.hole[i].at == r.hole_at[i] && l.hole[i].len == r.hole_len[i]);
    same_map(map, want.map);
  }

  /* Short reads and an EINTR change nothing; nor does a failed fstat,
   * but for the size reported (the loader uses fstat's size to bound its
   * window; without it, it trusts the length fields as far as they go). */
  serve(data, size);
  mem.chunk = 3, mem.eintr = 1, mem.nostat = size & 1;
  other = load(snapshot, &l2);
  if (mem.nostat)
    l2.size = l.size;
  same_load(&l, &l2);
  same_map(map, other);
  tr__kvmap_free(other);

  /* A read error half-way is reported as one, with its errno, after no
   * more than the good records before it; unless the loader had stopped
   * before, as it does at a bad header or a bad record. */
  if (size > TR_KVLOG_HEADER) {
    serve(data, size);
    mem.fail_at = size / 2;
    other = load(snapshot, &l2);
    if (l2.status == TR_KVLOAD_IOERR) {
      CHECK(l2.err == EIO && l2.valid_end <= mem.fail_at &&
            l2.records <= l.records);
      describe(&l2);
    } else {
      same_load(&l, &l2);
      same_map(map, other);
    }
    tr__kvmap_free(other);
  }

  if (r.header == TR_KVLOAD_OK)
    rewrite(map);
  tr__kvmap_free(want.map);
  tr__kvmap_free(map);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  one(data, size, 0);
  one(data, size, 1);
  return 0;
}
