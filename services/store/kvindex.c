/*
 * kvindex.c -- the native writer's index of its data: applying records to
 * it, handing it out to a load with the values read back, and compaction.
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
 * into it (each location rewritten in place: the index is never held
 * twice); then kv.log is replaced the same way by an empty one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "logwriter.h"

typedef tr__kvwriter writer;

#define LOC_BYTES 21           /* file, offset, length, expiry */
#define WRITE_CHUNK (1u << 20) /* a snapshot is written in chunks of this */
#define TICK_BYTES (4u << 20)  /* a heartbeat per this much written */
#define LOAD_ENTRIES 4096u     /* a load's batch: at most this many keys */
#define LOAD_BYTES (8u << 20)  /* or about this many bytes */
#define AHEAD (256u << 10)     /* a snapshot is read back this much at once */
#define PACE_NS 50000000ull    /* reading back beats this often */
#define WHOLE_LOG (16u << 20)  /* a log up to this is read whole to compact */

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

/* Reading values back for a walk over the index, with few syscalls: a
 * snapshot holds its keys in the order of the walk that wrote it, which is
 * mostly the order of the next walk, so a value just past the window read
 * last is served from a new window read ahead; a log (its live values in
 * no such order) no bigger than WHOLE_LOG is read whole once, when asked
 * (compaction) and its values are many for its size; any other value
 * takes a pread of its own. */
typedef struct reading {
  struct {
    char *buf;
    size_t cap, len;
    uint64_t at;
  } win[2]; /* per file: bytes [at, at + len) */
  int whole_log, log_tried;
} reading;

/* Up to n bytes at off, fewer at the end of the file: 0 or -errno. */
static int pread_upto(const writer *w, int fd, char *buf, size_t n,
                      uint64_t off, size_t *got) {
  *got = 0;
  while (*got < n) {
    ssize_t r = w->io.pread(fd, buf + *got, n - *got, (off_t)(off + *got));
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return errno ? -errno : -EIO;
    if (r == 0)
      break;
    *got += (size_t)r;
  }
  return 0;
}

/* Fills file's window with up to n bytes at off; 0, or -1 (the window is
 * then empty) when that cannot be done. */
static int fill_window(const writer *w, reading *rd, int file, uint64_t off,
                       size_t n) {
  int fd = file == TR_KVFILE_SNAP ? w->snap_fd : w->log_fd;
  size_t got;
  if (rd->win[file].cap < n) {
    char *p = realloc(rd->win[file].buf, n);
    if (!p)
      return -1;
    rd->win[file].buf = p;
    rd->win[file].cap = n;
  }
  rd->win[file].len = 0;
  if (fd < 0 || pread_upto(w, fd, rd->win[file].buf, n, off, &got))
    return -1;
  rd->win[file].at = off;
  rd->win[file].len = got;
  return 0;
}

static int in_window(const reading *rd, const tr__kvloc *l) {
  uint64_t at = rd->win[l->file].at, len = rd->win[l->file].len;
  return len && l->off >= at && l->off - at + l->len <= len;
}

static int read_value(const writer *w, reading *rd, const tr__kvloc *l,
                      char *out) {
  uint64_t end;
  if (!l->len || (l->file != TR_KVFILE_SNAP && l->file != TR_KVFILE_LOG))
    return tr__kvindex_read(w, l, out);
  if (l->file == TR_KVFILE_LOG && rd->whole_log && !rd->log_tried) {
    rd->log_tried = 1;
    /* Worth it when the values are many for the log's bytes (a pread
     * costs about what copying 512 bytes does). */
    if (w->log_size <= WHOLE_LOG &&
        (uint64_t)tr__kvmap_count(w->map) * 512 > w->log_size)
      fill_window(w, rd, TR_KVFILE_LOG, 0, (size_t)w->log_size);
  }
  end = rd->win[l->file].at + rd->win[l->file].len;
  if (!in_window(rd, l) && l->file == TR_KVFILE_SNAP && l->len < AHEAD &&
      (!rd->win[l->file].len || (l->off >= end && l->off - end < AHEAD)))
    fill_window(w, rd, l->file, l->off, AHEAD); /* in order: read ahead */
  if (in_window(rd, l)) {
    memcpy(out, rd->win[l->file].buf + (l->off - rd->win[l->file].at), l->len);
    return 0;
  }
  return tr__kvindex_read(w, l, out);
}

/* Long reading back shows life to the supervisor: a beat every PACE_NS,
 * looked at every 64 values. */
static void pace(writer *w, size_t i, uint64_t *last) {
  uint64_t now;
  if (i % 64 || (now = uv_hrtime()) - *last < PACE_NS)
    return;
  tr__kvwriter_beat(w);
  *last = now;
}

static void reading_free(reading *rd) {
  free(rd->win[0].buf);
  free(rd->win[1].buf);
}

typedef struct entry {
  const char *key;
  size_t klen;
  tr__kvloc l;
} entry;

static tr_msg *batch(writer *w, size_t from, entry *e) {
  size_t cursor = from, n = 0, i, klen, cap = 0;
  uint64_t bytes = 0, now = tr__kvwriter_now_ms();
  int more = 0, expiring = 0, rc = 0;
  const char *key;
  char *val = NULL;
  reading rd = {0};
  tr__kvloc l;
  tr_msg *r;
  uint64_t beat = uv_hrtime();
  while (n < LOAD_ENTRIES && bytes < LOAD_BYTES &&
         (more = tr__kvindex_next(w, &cursor, &key, &klen, &l))) {
    if (l.at && l.at <= now)
      continue; /* expired: never handed out */
    e[n].key = key;
    e[n].klen = klen;
    e[n++].l = l;
    bytes += klen + l.len;
    expiring |= l.at != 0;
    if (l.len > cap)
      cap = l.len;
  }
  if (more) { /* is there anything after? */
    size_t probe = cursor;
    more = tr__kvindex_next(w, &probe, NULL, NULL, &l);
  }
  if (!(r = tr_msg_new("reply")) || (cap && !(val = malloc(cap)))) {
    tr_msg_free(r);
    return NULL;
  }
  tr_msg_add_array(r, (uint32_t)(2 * n));
  for (i = 0; i < n && !rc; i++) {
    pace(w, i, &beat);
    if (!(rc = read_value(w, &rd, &e[i].l, val))) {
      tr_msg_add_str(r, e[i].key, e[i].klen);
      tr_msg_add_str(r, val ? val : "", e[i].l.len);
    }
  }
  free(val);
  reading_free(&rd);
  if (rc) {
    tr_msg_free(r);
    tr__kvwriter_unavailable(w, "cannot read %s: %s",
                             e[i - 1].l.file == TR_KVFILE_SNAP ? w->p_snap
                                                               : w->p_log,
                             strerror(-rc));
    return NULL;
  }
  if (more)
    tr_msg_add_int(r, (int64_t)cursor);
  else
    tr_msg_add_nil(r);
  tr_msg_add_cstr(r, w->info);
  if (w->refused)
    tr_msg_add_cstr(r, w->refused);
  else
    tr_msg_add_nil(r);
  tr_msg_add_nil(r); /* unavailable: no */
  tr_msg_add_nil(r); /* keys: any bytes */
  if (!expiring) {
    tr_msg_add_nil(r);
  } else {
    tr_msg_add_array(r, (uint32_t)n);
    for (i = 0; i < n; i++)
      tr_msg_add_int(r, (int64_t)e[i].l.at);
  }
  return r;
}

tr_msg *tr__kvindex_batch(writer *w, size_t from) {
  entry *e = malloc(LOAD_ENTRIES * sizeof *e);
  tr_msg *r = e ? batch(w, from, e) : NULL;
  free(e);
  return r;
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

/* Points every live key of the index into the snapshot just written from
 * it (in the same order, the expired ones left out), in place: a value of
 * the same length is replaced where it is, so the index is never held
 * twice and the walk is not disturbed; then the expired keys go. -1 if the
 * map would not take a location (it does not allocate for that). */
static int move_into_snapshot(writer *w, uint64_t now) {
  size_t cursor = 0, klen;
  uint64_t size = TR_KVLOG_HEADER;
  const char *key;
  char enc[LOC_BYTES];
  tr__kvloc l;
  while (tr__kvindex_next(w, &cursor, &key, &klen, &l)) {
    if (l.at && l.at <= now)
      continue;
    l.file = TR_KVFILE_SNAP;
    l.off = size + TR_KVLOG_FRAME + 9 + klen;
    size += tr__kvlog_set_at_size(klen, l.len, l.at);
    encode(enc, &l);
    if (tr__kvmap_set(w->map, key, klen, enc, sizeof enc))
      return -1;
  }
  tr__kvindex_drop_expired(w, now);
  return 0;
}

int tr__kvwriter_snapshot(writer *w) {
  tr__kvbuf b = {0};
  char *val = NULL;
  size_t cap = 0, cursor = 0, klen;
  uint64_t size = TR_KVLOG_HEADER, count = 0, ticked = 0;
  uint64_t now = tr__kvwriter_now_ms();
  const char *key;
  reading rd = {0};
  tr__kvloc l;
  int fd = -1, rc;
  uint64_t beat = uv_hrtime();
  if ((rc = tr__kvlog_create(&w->io, w->p_snap_tmp, 1, &fd)))
    return rc;
  rd.whole_log = 1;
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
    pace(w, (size_t)count, &beat);
    if ((rc = read_value(w, &rd, &l, val)))
      break;
    if (tr__kvlog_put_set_at(&b, key, klen, val, l.len, l.at)) {
      rc = -ENOMEM;
      break;
    }
    count++;
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
  reading_free(&rd);
  if (rc) {
    w->io.close(fd);
    w->io.unlink(w->p_snap_tmp);
    return rc;
  }
  if ((rc = tr__kvlog_install(&w->io, w->dir, w->p_snap, w->p_snap_tmp, fd)) <
      0)
    return rc;
  /* In place: the index moves into it, and the old snapshot's fd goes. */
  if (move_into_snapshot(w, now)) {
    /* Half moved, the index is of no use: the files are whole, a restart
     * reads them. */
    w->io.close(fd);
    tr__kvwriter_unavailable(w, "out of memory moving the index into %s",
                             w->p_snap);
    return -ENOMEM;
  }
  if (w->snap_fd >= 0)
    w->io.close(w->snap_fd);
  w->snap_fd = fd;
  return rc;
}

void tr__kvwriter_compact(writer *w) {
  uint64_t size = 0, was = w->log_size, began = uv_hrtime();
  int rc, fd;
  /* The old log first, if its tail may not be on disk (everysec, no):
   * until the new empty log is in place, a restart replays the old log
   * over the new snapshot, and an old log that a power loss cut short
   * there would take acknowledged changes back (an older value over a
   * newer one, a deleted key back). */
  if (w->policy != TR_FSYNC_ALWAYS) {
    if ((rc = tr__kvio_fsync(&w->io, w->log_fd))) {
      char why[300];
      snprintf(why, sizeof why, "fsync failed: %s", strerror(-rc));
      tr__kvwriter_refuse(w, why);
      return;
    }
    w->dirty = 0;
    w->fsyncs++;
  }
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
              "%llu bytes (%.0f ms)",
              w->dir, tr__kvmap_count(w->map), (unsigned long long)was,
              (double)(uv_hrtime() - began) / 1e6);
  tr__kvwriter_beat(w);
}
