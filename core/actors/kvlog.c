/*
 * kvlog.c -- the native writer's on-disk format: encoding records, reading
 * a log or a snapshot back into a map, writing a file atomically.
 *
 * Two kinds of file, both a header then records:
 *
 *   header   8 bytes: magic "TRKVLOG" (log) or "TRKVSNP" (snapshot), then
 *            the format version, the byte '1'
 *   record   u32 len    the body's length in bytes
 *            u32 crc    zlib crc32 of the 4 len bytes followed by the body
 *            body       len bytes, one of
 *              'S' u32 klen, key, u32 vlen, value     set key to value
 *              'D' u32 klen, key                      delete key
 *              'E' u64 count                          end of a snapshot
 *
 * All integers are little-endian. Keys are 1..TR_KV_MAX_KEY bytes and
 * values 0..TR_KV_MAX_VALUE, so a record's length is bounded and a garbled
 * length is caught before anything is read past it; the crc covers the
 * length too. A log holds 'S' and 'D' records in the order they happened.
 * A snapshot holds one 'S' per live key and ends with an 'E' giving their
 * count: a snapshot without it, or with more bytes after it, is not whole.
 *
 * Reading stops at the first record that is unfinished, fails its crc or
 * does not parse; what came before is applied. A bad part that is the last
 * record of the file (or only zero bytes to the end, as a crash on some
 * filesystems leaves) is a torn write; anything else is corruption. The
 * caller decides what to do about either (logwriter.c cuts a torn log tail
 * off, keeps a corrupt one aside first). Files are read in a window of at
 * least 1 MiB that grows to the largest record (but never past the file's
 * end, whatever a garbled length claims), never whole.
 *
 * Replaying a log over the snapshot taken after it is harmless: the last
 * record for each key in that log is the key's state when the snapshot
 * was taken. So a crash between installing a new snapshot and a new empty
 * log loses nothing.
 */
#include "kvlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Reading and writing in chunks of this. The fuzz build (fuzz/) makes it
 * small, so that short inputs reach the window's moves and growth. */
#ifdef TR_KVLOG_WINDOW
#define WINDOW TR_KVLOG_WINDOW
#else
#define WINDOW (1u << 20)
#endif
#define TICK_BYTES (4u << 20) /* call tick after this many bytes */

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

static uint32_t crc(const char *p, size_t n) {
  uLong c = crc32(0L, Z_NULL, 0);
  while (n) { /* zlib takes uInt lengths */
    uInt step = n > (1u << 30) ? (1u << 30) : (uInt)n;
    c = crc32(c, (const Bytef *)p, step);
    p += step;
    n -= step;
  }
  return (uint32_t)c;
}

void tr_kvbuf_free(tr_kvbuf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

static char *reserve(tr_kvbuf *b, size_t n) {
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

size_t tr_kvlog_set_size(size_t klen, size_t vlen) {
  return TR_KVLOG_FRAME + 1 + 4 + klen + 4 + vlen;
}

size_t tr_kvlog_delete_size(size_t klen) {
  return TR_KVLOG_FRAME + 1 + 4 + klen;
}

/* Frames a body of `len` bytes already at p + 8. */
static void frame(char *p, size_t len) {
  put32(p, (uint32_t)len);
  put32(p + 4, crc32(crc(p, 4), (const Bytef *)p + 8, (uInt)len));
}

int tr_kvlog_put_set(tr_kvbuf *b, const char *key, size_t klen, const char *val,
                     size_t vlen) {
  size_t n = tr_kvlog_set_size(klen, vlen);
  char *p = reserve(b, n), *q;
  if (!p)
    return -1;
  q = p + TR_KVLOG_FRAME;
  *q++ = TR_KVREC_SET;
  put32(q, (uint32_t)klen);
  memcpy(q + 4, key, klen);
  q += 4 + klen;
  put32(q, (uint32_t)vlen);
  if (vlen)
    memcpy(q + 4, val, vlen);
  frame(p, n - TR_KVLOG_FRAME);
  b->len += n;
  return 0;
}

int tr_kvlog_put_delete(tr_kvbuf *b, const char *key, size_t klen) {
  size_t n = tr_kvlog_delete_size(klen);
  char *p = reserve(b, n), *q;
  if (!p)
    return -1;
  q = p + TR_KVLOG_FRAME;
  *q++ = TR_KVREC_DELETE;
  put32(q, (uint32_t)klen);
  memcpy(q + 4, key, klen);
  frame(p, n - TR_KVLOG_FRAME);
  b->len += n;
  return 0;
}

int tr_kvlog_put_end(tr_kvbuf *b, uint64_t count) {
  size_t n = TR_KVLOG_FRAME + 9;
  char *p = reserve(b, n);
  if (!p)
    return -1;
  p[TR_KVLOG_FRAME] = TR_KVREC_END;
  put32(p + TR_KVLOG_FRAME + 1, (uint32_t)count);
  put32(p + TR_KVLOG_FRAME + 5, (uint32_t)(count >> 32));
  frame(p, 9);
  b->len += n;
  return 0;
}

static int put_header(tr_kvbuf *b, int snapshot) {
  char *p = reserve(b, TR_KVLOG_HEADER);
  if (!p)
    return -1;
  memcpy(p, snapshot ? TR_KVSNAP_MAGIC : TR_KVLOG_MAGIC, 7);
  p[7] = TR_KVLOG_VERSION;
  b->len += TR_KVLOG_HEADER;
  return 0;
}

/* ------------------------------------------------------------- reading */

/* A window on the file: buf[start, end) are the bytes at offset pos on. */
typedef struct reader {
  const tr_kv_io *io;
  int fd;
  char *buf;
  size_t cap, start, end;
  uint64_t pos;
  int eof, err;
} reader;

static size_t avail(const reader *r) { return r->end - r->start; }

/* Tries to have n bytes in the window; fewer only at the end of the file.
 * -1 on a read error (r->err) or when out of memory (r->err = ENOMEM). */
static int fill(reader *r, size_t n) {
  if (avail(r) >= n || r->eof)
    return 0;
  if (n > r->cap) {
    size_t cap = r->cap * 2 > n ? r->cap * 2 : n;
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
    size_t want = r->cap - r->end, got = 0;
    int rc = tr_kv_io_read_full(r->io, r->fd, r->buf + r->end, want, &got);
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

static void consume(reader *r, size_t n) {
  r->start += n;
  r->pos += n;
}

/* Are the bytes from here to the end all zero? */
static int rest_is_zero(reader *r) {
  for (;;) {
    size_t i;
    if (fill(r, 1))
      return 0;
    if (!avail(r))
      return 1;
    for (i = r->start; i < r->end; i++)
      if (r->buf[i])
        return 0;
    consume(r, avail(r));
    r->start = r->end = 0;
  }
}

/* Applies one body; 0, -1 when it does not parse, -2 out of memory. */
static int apply(const char *p, size_t len, int snapshot, tr_kvmap *map,
                 uint64_t records, int *ended) {
  uint32_t klen, vlen;
  const char *key;
  switch (p[0]) {
  case TR_KVREC_SET:
  case TR_KVREC_DELETE:
    if (len < 5 || (klen = get32(p + 1)) == 0 || klen > TR_KV_MAX_KEY ||
        len < 5 + (size_t)klen)
      return -1;
    key = p + 5;
    if (p[0] == TR_KVREC_DELETE) {
      if (snapshot || len != 5 + (size_t)klen)
        return -1;
      tr_kvmap_delete(map, key, klen);
      return 0;
    }
    if (len < 9 + (size_t)klen ||
        (vlen = get32(p + 5 + klen)) > TR_KV_MAX_VALUE ||
        len != 9 + (size_t)klen + vlen)
      return -1;
    return tr_kvmap_set(map, key, klen, p + 9 + klen, vlen) ? -2 : 0;
  case TR_KVREC_END:
    if (!snapshot || len != 9 ||
        ((uint64_t)get32(p + 1) | (uint64_t)get32(p + 5) << 32) != records)
      return -1;
    *ended = 1;
    return 0;
  }
  return -1;
}

/* Could the n bytes at p begin a body of len bytes? */
static int could_start(const char *p, size_t n, uint32_t len, int snapshot) {
  uint32_t klen;
  if (!n)
    return 1;
  if (p[0] != TR_KVREC_SET && (p[0] != TR_KVREC_DELETE || snapshot))
    return 0;
  if (n < 5)
    return 1;
  klen = get32(p + 1);
  if (klen == 0 || klen > TR_KV_MAX_KEY)
    return 0;
  if (p[0] == TR_KVREC_DELETE)
    return len == 5 + klen;
  if (n < 9 + (size_t)klen)
    return len >= 9 + klen;
  return get32(p + 5 + klen) <= TR_KV_MAX_VALUE &&
         len == 9 + klen + get32(p + 5 + klen);
}

int tr_kvlog_load(const tr_kv_io *io, int fd, int is_snapshot, tr_kvmap *map,
                  void (*tick)(void *), void *ud, tr_kvload *out) {
  const char *magic = is_snapshot ? TR_KVSNAP_MAGIC : TR_KVLOG_MAGIC;
  reader r = {io, fd, NULL, WINDOW, 0, 0, 0, 0, 0};
  struct stat st;
  uint64_t next_tick = TICK_BYTES;
  int ended = 0, status = TR_KVLOAD_OK, sized = 0;
  size_t n, need;

  memset(out, 0, sizeof *out);
  if (io->fstat(fd, &st) == 0)
    out->size = (uint64_t)st.st_size, sized = 1;
  if (!(r.buf = malloc(r.cap))) {
    out->status = TR_KVLOAD_NOMEM;
    return out->status;
  }
  if (fill(&r, TR_KVLOG_HEADER))
    goto done;
  n = avail(&r);
  if (n && n < TR_KVLOG_HEADER) {
    /* The start of a header from a crash, or something else entirely. */
    status = memcmp(r.buf, magic, n < 7 ? n : 7) ? TR_KVLOAD_BAD_MAGIC
                                                 : TR_KVLOAD_EMPTY;
    goto done;
  }
  if (!n) {
    status = TR_KVLOAD_EMPTY;
    goto done;
  }
  out->version = r.buf[7];
  if (memcmp(r.buf, magic, 7)) {
    status = TR_KVLOAD_BAD_MAGIC;
    goto done;
  }
  if (r.buf[7] != TR_KVLOG_VERSION) {
    status = TR_KVLOAD_BAD_VERSION;
    goto done;
  }
  consume(&r, TR_KVLOG_HEADER);
  out->valid_end = TR_KVLOG_HEADER;

  for (;;) {
    uint32_t len, sum;
    const char *p;
    int rc = 0;
    if (fill(&r, TR_KVLOG_FRAME))
      goto done;
    n = avail(&r);
    if (!n) {
      if (is_snapshot && !ended)
        status = TR_KVLOAD_TORN; /* the end mark never made it */
      break;
    }
    if (ended) { /* bytes after a snapshot's end mark */
      status = TR_KVLOAD_CORRUPT;
      break;
    }
    if (n < TR_KVLOG_FRAME) {
      status = TR_KVLOAD_TORN;
      break;
    }
    len = get32(r.buf + r.start);
    sum = get32(r.buf + r.start + 4);
    if (len == 0 || len > TR_KVLOG_MAX_BODY) {
      status = rest_is_zero(&r) ? TR_KVLOAD_TORN : TR_KVLOAD_CORRUPT;
      break;
    }
    /* Never a window larger than what is left of the file: a garbled
     * length in a short file is found out without allocating its claim. */
    need = TR_KVLOG_FRAME + (size_t)len;
    if (sized && out->size >= r.pos && need > out->size - r.pos)
      need = (size_t)(out->size - r.pos);
    if (fill(&r, need))
      goto done;
    if (avail(&r) < TR_KVLOG_FRAME + len) {
      /* Unfinished: a torn write if what there is could be its start; a
       * garbled length if not. */
      status = could_start(r.buf + r.start + TR_KVLOG_FRAME,
                           avail(&r) - TR_KVLOG_FRAME, len, is_snapshot)
                   ? TR_KVLOAD_TORN
                   : TR_KVLOAD_CORRUPT;
      break;
    }
    p = r.buf + r.start;
    if (crc32(crc(p, 4), (const Bytef *)p + 8, (uInt)len) != sum ||
        (rc = apply(p + 8, len, is_snapshot, map, out->records, &ended)) ==
            -1) {
      /* The last record of the file, or zeros to the end: a torn write. */
      consume(&r, TR_KVLOG_FRAME + len);
      status = rest_is_zero(&r) ? TR_KVLOAD_TORN : TR_KVLOAD_CORRUPT;
      break;
    }
    if (rc == -2) {
      status = TR_KVLOAD_NOMEM;
      break;
    }
    if (!ended)
      out->records++;
    consume(&r, TR_KVLOG_FRAME + len);
    out->valid_end = r.pos;
    if (tick && r.pos >= next_tick) {
      tick(ud);
      next_tick = r.pos + TICK_BYTES;
    }
  }
done:
  if (r.err == ENOMEM)
    status = TR_KVLOAD_NOMEM;
  else if (r.err) {
    status = TR_KVLOAD_IOERR;
    out->err = r.err;
  }
  free(r.buf);
  if (r.pos > out->size)
    out->size = r.pos;
  out->status = status;
  return status;
}

void tr_kvlog_describe(const tr_kvload *l, const char *file, char *buf,
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
      snprintf(buf, n, "%s has format version %c; this build reads version %c",
               file, l->version, TR_KVLOG_VERSION);
    else
      snprintf(buf, n,
               "%s has an unknown format version (byte 0x%02x); this build "
               "reads version %c",
               file, (unsigned char)l->version, TR_KVLOG_VERSION);
    break;
  case TR_KVLOAD_IOERR:
    snprintf(buf, n, "cannot read %s: %s", file, strerror(l->err));
    break;
  default:
    snprintf(buf, n, "out of memory reading %s", file);
  }
}

/* ------------------------------------------------------------- writing */

int tr_kvlog_write_file(const tr_kv_io *io, const char *dir, const char *path,
                        const char *tmp, const tr_kvmap *map,
                        void (*tick)(void *), void *ud, int *fd_out,
                        uint64_t *size_out) {
  tr_kvbuf b = {0};
  uint64_t size = 0, next_tick = TICK_BYTES;
  int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, fd, rc = 0;
  if (fd_out)
    *fd_out = -1;
  if ((fd = io->open(tmp, fd_out ? flags | O_APPEND : flags, 0644)) < 0)
    return errno ? -errno : -EIO;
  if (put_header(&b, map != NULL))
    rc = -ENOMEM;
  if (map && !rc) {
    size_t cursor = 0, klen, vlen;
    const char *key, *val;
    while (!rc && tr_kvmap_next(map, &cursor, &key, &klen, &val, &vlen)) {
      if (tr_kvlog_put_set(&b, key, klen, val, vlen))
        rc = -ENOMEM;
      else if (b.len >= WINDOW) {
        rc = tr_kv_io_write_all(io, fd, b.p, b.len);
        size += b.len;
        b.len = 0;
        if (tick && size >= next_tick) {
          tick(ud);
          next_tick = size + TICK_BYTES;
        }
      }
    }
    if (!rc && tr_kvlog_put_end(&b, tr_kvmap_count(map)))
      rc = -ENOMEM;
  }
  if (!rc) {
    rc = tr_kv_io_write_all(io, fd, b.p, b.len);
    size += b.len;
  }
  tr_kvbuf_free(&b);
  if (!rc)
    rc = tr_kv_io_fsync(io, fd);
  if (!rc && io->rename(tmp, path) < 0)
    rc = errno ? -errno : -EIO;
  if (rc) {
    io->close(fd);
    io->unlink(tmp);
    return rc;
  }
  /* In place now: a failed fsync of the directory leaves it in place (the
   * caller has to use it) but says the rename may not be durable. */
  rc = tr_kv_io_fsync_dir(io, dir);
  if (fd_out)
    *fd_out = fd;
  else
    io->close(fd);
  if (size_out)
    *size_out = size;
  if (rc) {
    errno = -rc;
    return 1;
  }
  return 0;
}

int tr_kvlog_copy_tail(const tr_kv_io *io, int fd, uint64_t from,
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
    rc = tr_kv_io_read_full(io, fd, buf, WINDOW, &got);
    if (!rc && got)
      rc = tr_kv_io_write_all(io, out, buf, got);
    if (got < WINDOW)
      break;
  }
  free(buf);
  if (!rc)
    rc = tr_kv_io_fsync(io, out);
  io->close(out);
  if (rc)
    io->unlink(path);
  return rc;
}
