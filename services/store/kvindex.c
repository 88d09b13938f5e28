/*
 * kvindex.c -- the native writer's index of its data, and compaction.
 *
 * The writer keeps no values in memory, so that a store of N bytes costs
 * N bytes once (in the store) and not twice. Its map (tr__kvmap) holds
 * each live key with a small fixed-size location as the value: which file
 * (kv.snap or kv.log), where the value starts there and its length, and
 * when the key expires (0: never); beside it a running sum of the live
 * keys' and values' bytes, which the compaction threshold needs. A value
 * is read back from its file (pread through the tr__kvio seam) when the
 * store loads it or a snapshot is written.
 *
 * Both files stay open while the writer runs: kv.snap on w->snap_fd,
 * kv.log on w->log_fd. A file renamed over or aside stays readable through
 * an fd still open on it, so the index is moved wholly into a new
 * snapshot before the fd of a file it points into is closed (compaction,
 * repairs); a log is only ever cut back to where its good records end,
 * and no location points past that. Changes reach the index only once
 * their records are written (logwriter.c applies a batch after its
 * write), so it never points at bytes a failed write left out.
 *
 * Compaction: kv.snap.tmp gets every live key that has not expired, its
 * value read from where the index says, with its expiry; it is fsynced,
 * renamed to kv.snap, the directory fsynced, and the index then points
 * into it; then kv.log is replaced the same way by an empty one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logwriter.h"

typedef tr__kvwriter writer;

#define LOC_BYTES 21           /* file, offset, length, expiry */
#define WRITE_CHUNK (1u << 20) /* a snapshot is written in chunks of this */
#define TICK_BYTES (4u << 20)  /* a heartbeat per this much written */

static void put_u(char *p, uint64_t v, int n) {
  int i;
  for (i = 0; i < n; i++)
    p[i] = (char)((v >> (8 * i)) & 0xff);
}

static uint64_t get_u(const char *s, int n) {
  const unsigned char *p = (const unsigned char *)s;
  uint64_t v = 0;
  int i;
  for (i = n - 1; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

static void encode(char *p, const tr__kvloc *l) {
  p[0] = (char)l->file;
  put_u(p + 1, l->off, 8);
  put_u(p + 9, l->len, 4);
  put_u(p + 13, l->at, 8);
}

static int decode(const char *p, size_t n, tr__kvloc *l) {
  if (n != LOC_BYTES)
    return -1;
  l->file = p[0];
  l->off = get_u(p + 1, 8);
  l->len = (uint32_t)get_u(p + 9, 4);
  l->at = get_u(p + 13, 8);
  return 0;
}

uint64_t tr__kvwriter_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int tr__kvindex_get(const writer *w, const char *key, size_t klen,
                    tr__kvloc *l) {
  const char *p;
  size_t n;
  return tr__kvmap_get(w->map, key, klen, &p, &n) && decode(p, n, l) == 0;
}

int tr__kvindex_next(const writer *w, size_t *cursor, const char **key,
                     size_t *klen, tr__kvloc *l) {
  const char *p;
  size_t n;
  while (tr__kvmap_next(w->map, cursor, key, klen, &p, &n))
    if (decode(p, n, l) == 0)
      return 1;
  return 0;
}

int tr__kvindex_read(const writer *w, const tr__kvloc *l, char *buf) {
  int fd = l->file == TR_KVFILE_SNAP ? w->snap_fd : w->log_fd;
  if (!l->len)
    return 0;
  if (fd < 0)
    return -EBADF;
  return tr__kvio_pread_all(&w->io, fd, buf, l->len, (off_t)l->off);
}

/* Sets key's location, keeping the live sum. */
static int put(writer *w, const char *key, size_t klen, const tr__kvloc *l) {
  char enc[LOC_BYTES];
  tr__kvloc old;
  int had = tr__kvindex_get(w, key, klen, &old);
  encode(enc, l);
  if (tr__kvmap_set(w->map, key, klen, enc, sizeof enc))
    return -1;
  if (had)
    w->live -= klen + old.len;
  w->live += klen + l->len;
  return 0;
}

static void drop(writer *w, const char *key, size_t klen) {
  tr__kvloc old;
  if (tr__kvindex_get(w, key, klen, &old)) {
    w->live -= klen + old.len;
    tr__kvmap_delete(w->map, key, klen);
  }
}

int tr__kvindex_apply(writer *w, int file, const tr__kvrec *r) {
  tr__kvloc l;
  tr__kvrec pair;
  size_t pos = 0;
  tr__kvmap *empty;
  switch (r->type) {
  case TR_KVREC_SET:
  case TR_KVREC_SET_AT:
    l.file = file;
    l.off = r->val_off;
    l.len = r->vlen;
    l.at = r->at;
    return put(w, r->key, r->klen, &l);
  case TR_KVREC_DELETE:
    drop(w, r->key, r->klen);
    return 0;
  case TR_KVREC_EXPIRE:
    if (!tr__kvindex_get(w, r->key, r->klen, &l))
      return 0;
    l.at = r->at;
    return put(w, r->key, r->klen, &l);
  case TR_KVREC_MSET:
    while (tr__kvlog_mset_next(r, &pos, &pair))
      if (tr__kvindex_apply(w, file, &pair))
        return -1;
    return 0;
  case TR_KVREC_FLUSH:
    if (!(empty = tr__kvmap_new()))
      return -1;
    tr__kvmap_free(w->map);
    w->map = empty;
    w->live = 0;
    return 0;
  }
  return 0; /* the end mark */
}

size_t tr__kvindex_drop_expired(writer *w, uint64_t now) {
  tr__kvbuf gone = {0};
  size_t cursor = 0, klen, pos = 0, n = 0;
  const char *key;
  tr__kvloc l;
  char *p;
  while (tr__kvindex_next(w, &cursor, &key, &klen, &l)) {
    if (!l.at || l.at > now)
      continue;
    if (!(p = tr__kvbuf_reserve(&gone, 4 + klen)))
      break; /* out of memory: the rest go at the next compaction */
    put_u(p, klen, 4);
    memcpy(p + 4, key, klen);
    gone.len += 4 + klen;
  }
  while (pos < gone.len) { /* deleting while walking would skip keys */
    klen = (size_t)get_u(gone.p + pos, 4);
    drop(w, gone.p + pos + 4, klen);
    pos += 4 + klen;
    n++;
  }
  tr__kvbuf_free(&gone);
  return n;
}

int tr__kvwriter_snapshot(writer *w) {
  tr__kvmap *next = tr__kvmap_new();
  tr__kvmap *was;
  tr__kvbuf b = {0};
  char *val = NULL, enc[LOC_BYTES];
  size_t cap = 0, cursor = 0, klen;
  uint64_t size = TR_KVLOG_HEADER, count = 0, live = 0, ticked = 0;
  uint64_t now = tr__kvwriter_now_ms();
  const char *key;
  tr__kvloc l;
  int fd = -1, rc;
  if (!next)
    return -ENOMEM;
  if ((rc = tr__kvlog_create(&w->io, w->p_snap_tmp, 1, &fd))) {
    tr__kvmap_free(next);
    return rc;
  }
  while (!rc && tr__kvindex_next(w, &cursor, &key, &klen, &l)) {
    if (l.at && l.at <= now)
      continue; /* expired: it goes */
    if (l.len > cap) {
      char *p = realloc(val, l.len);
      if (!p) {
        rc = -ENOMEM;
        break;
      }
      val = p;
      cap = l.len;
    }
    if ((rc = tr__kvindex_read(w, &l, val)))
      break;
    l.file = TR_KVFILE_SNAP;
    l.off = size + b.len + TR_KVLOG_FRAME + 9 + klen;
    encode(enc, &l);
    if (tr__kvlog_put_set_at(&b, key, klen, val, l.len, l.at) ||
        tr__kvmap_set(next, key, klen, enc, sizeof enc)) {
      rc = -ENOMEM;
      break;
    }
    count++;
    live += klen + l.len;
    if (b.len >= WRITE_CHUNK) {
      rc = tr__kvio_write_all(&w->io, fd, b.p, b.len);
      size += b.len;
      b.len = 0;
      if (size - ticked >= TICK_BYTES) {
        tr__kvwriter_beat(w);
        ticked = size;
      }
    }
  }
  if (!rc && tr__kvlog_put_end(&b, count))
    rc = -ENOMEM;
  if (!rc)
    rc = tr__kvio_write_all(&w->io, fd, b.p, b.len);
  tr__kvbuf_free(&b);
  free(val);
  if (rc) {
    w->io.close(fd);
    w->io.unlink(w->p_snap_tmp);
    tr__kvmap_free(next);
    return rc;
  }
  rc = tr__kvlog_install(&w->io, w->dir, w->p_snap, w->p_snap_tmp, fd);
  if (rc < 0) {
    tr__kvmap_free(next);
    return rc;
  }
  /* In place: the index moves into it, and the old snapshot's fd goes. */
  if (w->snap_fd >= 0)
    w->io.close(w->snap_fd);
  w->snap_fd = fd;
  was = w->map;
  w->map = next;
  w->live = live;
  tr__kvmap_free(was);
  return rc;
}

void tr__kvwriter_compact(writer *w) {
  uint64_t size = 0, was = w->log_size;
  int rc, fd;
  rc = tr__kvwriter_snapshot(w);
  if (rc) { /* 1: in place (the index is in it) but maybe not durable */
    tr_host_log(w->h, TR_LOG_WARN,
                "kv.writer: compaction stopped: %s %s: %s; the log goes on "
                "growing",
                rc < 0 ? "cannot write" : "cannot make durable",
                tr__kvwriter_base(w->p_snap), strerror(rc < 0 ? -rc : errno));
    w->compact_floor = w->log_size + w->log_size / 2;
    tr__kvwriter_beat(w);
    return;
  }
  /* The snapshot holds everything: the log may start afresh. Replaying
   * the old log over it, should the next step not happen, does no harm. */
  rc = tr__kvlog_new_log(&w->io, w->dir, w->p_log, w->p_log_tmp, &fd, &size);
  if (rc < 0) {
    tr_host_log(w->h, TR_LOG_WARN,
                "kv.writer: compaction stopped: cannot start a new %s: %s; "
                "the log goes on growing",
                tr__kvwriter_base(w->p_log), strerror(-rc));
    w->compact_floor = w->log_size + w->log_size / 2;
    tr__kvwriter_beat(w);
    return;
  }
  w->io.close(w->log_fd); /* nothing in the index points into it now */
  w->log_fd = fd;
  w->log_size = size;
  w->dirty = 0;
  w->compact_floor = 0;
  w->compactions++;
  if (rc == 1)
    tr__kvwriter_refuse(w, "fsync of the data directory failed");
  tr_host_log(w->h, TR_LOG_INFO,
              "kv.writer: compacted %s: a snapshot of %zu keys; the log was "
              "%llu bytes",
              w->dir, tr__kvmap_count(w->map), (unsigned long long)was);
  tr__kvwriter_beat(w);
}
