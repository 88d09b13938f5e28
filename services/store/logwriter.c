/*
 * logwriter.c -- the native writer of the key-value store ("kv.writer"):
 * it owns the data directory, persists every change the store forwards,
 * and hands the data back to the store when it starts.
 *
 * It is written against the public headers alone, as a user's actor would
 * be (uv.h only to refresh the loop's clock after long file work, so a
 * heartbeat counts from now). Its files (format in kvlog.c) live in the
 * directory:
 *
 *   LOCK      flock'ed while a writer runs; says "pid <n>"
 *   kv.snap   a snapshot: every live key, written whole, atomically
 *   kv.log    every change since that snapshot, appended
 *   *.tmp     a file being written, renamed into place once fsynced
 *   *.corrupt-<time>   a damaged snapshot or log tail, kept aside
 *
 * Start (kvrecover.c): init makes the directory, locks it, removes
 * leftover .tmp files and opens kv.snap and kv.log; then the files are
 * read in steps of a few ms each (16 KiB to 1 MiB, as fast as the disk
 * goes), one per message taken or per turn (the actor yields between
 * them), so that loading a big store holds up no other actor, nor the
 * timers, and the writer shows life to its supervisor. A torn or corrupt
 * tail, holes or a damaged snapshot are repaired as the reading ends. Every
 * second of a long load logs how far it has got. When the writer cannot have
 * the data -- another writer holds the directory, it cannot be made, a file is
 * of an unknown format or cannot be read -- it is unavailable: it says so once
 * in the log and answers every request with that reason, the store's load
 * included, and the store answers its callers with it; a restart tries again.
 *
 * The writer holds no values: an index (kvindex.c) says where each live
 * key's value is in the files, and when the key expires, so a store of N
 * bytes costs N bytes once, in the store.
 *
 * Requests (all file work is synchronous, through the tr__kvio seam):
 *   set(key, value[, at[, answer]]), delete(key[, answer]),
 *   expire(key, at[, answer]), mset(k, v, ...), flush([answer])
 *       forwarded by the store (tr_forward_as), or sent (nobody is
 *       answered); kv(op, ...) as the store's own request is taken too.
 *       The record is added to a batch and the caller is remembered with
 *       its answer (true when none is given); once the mailbox holds
 *       nothing more (tr_mailbox_count 0), or the batch passes 1 MiB or
 *       1024 records, the batch goes out in one write, the index takes its
 *       records, and every caller in it is answered (group commit).
 *   load(cursor) -> entries, next, info, refused, unavailable, keys,
 *                   expiries
 *       a batch of the index (at most 4096 entries or about 8 MiB), the
 *       values read back from the files, keys that have expired left out;
 *       the cursor of the next one or nil, the line saying what was
 *       loaded, nil while changes are accepted or else the reason they
 *       are refused, nil or the reason the writer has no data at all,
 *       nil for keys: it writes keys of any bytes, and nil or the expiry
 *       of each key. A value that cannot be read back makes the writer
 *       unavailable, naming the file.
 *       While the files are still being read, a load is held, and answered
 *       within PROGRESS_NS with no entries, the same cursor as next and
 *       how far reading has got as info: the store asks again.
 *   stats() -> {records, flushes, fsyncs, compactions, log_bytes, keys}
 *       for tests and benchmarks.
 *
 * Durability: a change is answered once write() has handed it to the OS.
 * fsync policy: always -- fsync before answering; everysec -- a 1 s timer,
 * armed by a write, fsyncs what was written since; no -- the OS decides.
 * A failed write or fsync answers the batch with "write failed: <why>" or
 * "fsync failed: <why>" (a partly written batch is cut off the log if
 * possible) and the writer
 * refuses every later change, and tells the store (a send "failed"(why)),
 * but keeps serving loads. It never tries a failed fsync again, as if it
 * could have worked: what the kernel dropped is gone.
 *
 * Compaction (kvindex.c): when the log passes max(4 MiB, twice the live
 * data) the log is fsynced (unless the policy did already), the live keys that
 * have not expired are written as kv.snap.tmp, their values read back from the
 * files, fsynced, renamed to kv.snap, the directory fsynced, and the index
 * moves into it; then kv.log is replaced the same way by an empty one. Costs
 * O(live data) once per that much logging: O(1) amortized per write.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "logwriter.h"

#define BATCH_BYTES (1u << 20)
#define BATCH_RECORDS 1024u
/* The power-loss simulator's build (spec/powerloss/) compacts sooner, so
 * that a short run crosses several compactions, and leaves the everysec
 * fsync to its workload, so that a seed replays the same run. */
#ifdef TR_KV_COMPACT_MIN
#define COMPACT_MIN TR_KV_COMPACT_MIN
#else
#define COMPACT_MIN (4u << 20)
#endif
#ifdef TR_KV_SYNC_MS
#define SYNC_MS TR_KV_SYNC_MS
#else
#define SYNC_MS 1000u
#endif
#define CAPACITY 4096u /* mailbox: the store waits for room past this */
/* Bytes read between two messages: a step aims at STEP_NS, from
 * LOAD_STEP_MIN (a slow disk) to LOAD_STEP_MAX (the page cache). */
#define LOAD_STEP_MIN (16u << 10)
#define LOAD_STEP_MAX (1u << 20)
#define STEP_NS 5000000ull
#define PROGRESS_NS 200000000ull /* a held load is answered this soon */
#define REPORT_NS 1000000000ull  /* a long load logs this often */

typedef tr__kvwriter writer;
typedef tr__kvwaiter waiter;

/* ------------------------------------------------------------- helpers */

static char *join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p)
    snprintf(p, n, "%s/%s", dir, name);
  return p;
}

void tr__kvwriter_beat(void *ud) {
  writer *w = ud;
  uv_update_time(tr_host_loop(w->h));
  tr_heartbeat(w->self);
}

static void answer(writer *w, tr_pid caller, uint64_t session, tr_msg *r) {
  if (session)
    tr_reply_to(w->h, caller, session, r);
  else
    tr_msg_free(r);
}

void tr__kvwriter_refuse(writer *w, const char *why) {
  if (w->refused)
    return;
  w->refused = strdup(why);
  tr_host_log(w->h, TR_LOG_ERROR,
              "kv.writer: %s; changes are refused from now on (reads go "
              "on); fix the cause and restart the store",
              why);
  if (w->store)
    tr_send(w->h, tr_self(w->self), w->store,
            tr_msg_pack("failed", "s", w->refused ? w->refused : why));
}

void tr__kvwriter_unavailable(writer *w, const char *fmt, ...) {
  char why[900];
  va_list ap;
  if (w->unavailable)
    return;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  w->unavailable = strdup(why);
  snprintf(w->info, sizeof w->info, "%s", why);
  tr_host_log(w->h, TR_LOG_ERROR,
              "kv.writer: %s; every request to the store is answered with "
              "this until it restarts",
              why);
}

/* ------------------------------------------------------------- writing */

/* A failed write or fsync: everyone waiting hears why, and that is that. */
static void fail(writer *w, const char *what, int err) {
  char why[300];
  size_t i;
  snprintf(why, sizeof why, "%s failed: %s", what, strerror(err));
  tr__kvwriter_refuse(w, why);
  for (i = 0; i < w->nwait; i++) {
    tr_msg_free(w->wait[i].reply);
    tr_reply_error_to(w->h, w->wait[i].caller, w->wait[i].session, "%s", why);
  }
  w->nwait = 0;
  w->batch.len = 0;
  w->batch_records = 0;
}

static void maybe_compact(writer *w) {
  uint64_t live = w->live +
                  (uint64_t)tr__kvmap_count(w->map) * tr__kvlog_set_size(0, 0) +
                  TR_KVLOG_HEADER + TR_KVLOG_FRAME + 9;
  uint64_t limit = 2 * live > COMPACT_MIN ? 2 * live : COMPACT_MIN;
  if (!w->refused && w->log_size > limit && w->log_size >= w->compact_floor)
    tr__kvwriter_compact(w);
}

static void arm_sync(writer *w) {
  if (!w->sync_timer && tr_after(w->h, tr_self(w->self), SYNC_MS,
                                 tr_msg_new("sync"), &w->sync_timer) != TR_OK)
    w->sync_timer = 0;
}

/* Writes the batch in one go, syncs as the policy says, answers. */
static void flush(writer *w) {
  size_t i, pos;
  uint64_t at = w->log_size;
  int rc;
  if (!w->batch_records)
    return;
  rc = tr__kvio_write_all(&w->io, w->log_fd, w->batch.p, w->batch.len);
  if (rc) {
    /* Cut off what part of the batch made it, so nobody refused now finds
     * the change there after a restart; the loader would drop a torn
     * record anyway. */
    w->io.ftruncate(w->log_fd, (off_t)w->log_size);
    fail(w, "write", -rc);
    return;
  }
  /* Written: the index may point at the records now. */
  for (pos = 0; pos < w->batch.len;) {
    const unsigned char *f = (const unsigned char *)w->batch.p + pos;
    uint32_t len = (uint32_t)f[0] | (uint32_t)f[1] << 8 | (uint32_t)f[2] << 16 |
                   (uint32_t)f[3] << 24;
    tr__kvrec rec;
    tr__kvlog_decode(w->batch.p + pos + TR_KVLOG_FRAME, len,
                     at + pos + TR_KVLOG_FRAME, &rec);
    if (tr__kvindex_apply(w, TR_KVFILE_LOG, &rec))
      /* The log has the change, the index not: no compaction may drop
       * it, so nothing is taken from now on; a restart reads it. */
      tr__kvwriter_refuse(w, "out of memory indexing the log");
    pos += TR_KVLOG_FRAME + len;
  }
  w->log_size += w->batch.len;
  w->records += w->batch_records;
  w->flushes++;
  w->batch.len = 0;
  w->batch_records = 0;
  if (w->policy == TR_FSYNC_ALWAYS) {
    if ((rc = tr__kvio_fsync(&w->io, w->log_fd))) {
      fail(w, "fsync", -rc);
      return;
    }
    w->fsyncs++;
  } else if (w->policy == TR_FSYNC_EVERYSEC) {
    w->dirty = 1;
    arm_sync(w);
  }
  for (i = 0; i < w->nwait; i++)
    answer(w, w->wait[i].caller, w->wait[i].session, w->wait[i].reply);
  w->nwait = 0;
  maybe_compact(w);
}

static void on_sync(writer *w) {
  int rc;
  w->sync_timer = 0;
  if (!w->dirty || w->refused)
    return;
  w->dirty = 0;
  if ((rc = tr__kvio_fsync(&w->io, w->log_fd)))
    fail(w, "fsync", -rc);
  else
    w->fsyncs++;
}

/* A copy of v at the end of r: the answer a change was given. */
static int copy_value(tr_msg *r, const tr_value *v, int depth) {
  const tr_value *e;
  const char *str;
  size_t len, i, n;
  int64_t iv;
  double d;
  int b;
  tr_pid pid;
  if (depth > TR_MAX_DEPTH)
    return -1;
  switch (tr_value_type(v)) {
  case TR_BOOL:
    tr_value_bool(v, &b);
    return tr_msg_add_bool(r, b);
  case TR_INT:
    tr_value_int(v, &iv);
    return tr_msg_add_int(r, iv);
  case TR_FLOAT:
    tr_value_float(v, &d);
    return tr_msg_add_float(r, d);
  case TR_STR:
    tr_value_str(v, &str, &len);
    return tr_msg_add_str(r, str, len);
  case TR_PID:
    tr_value_pid(v, &pid);
    return tr_msg_add_pid(r, pid);
  case TR_ARRAY:
  case TR_MAP:
    n = tr_value_len(v);
    if (tr_value_type(v) == TR_ARRAY ? tr_msg_add_array(r, (uint32_t)n)
                                     : tr_msg_add_map(r, (uint32_t)n))
      return -1;
    if (tr_value_type(v) == TR_MAP)
      n *= 2;
    e = n ? (tr_value_type(v) == TR_ARRAY ? tr_value_at(v, 0)
                                          : tr_value_key(v, 0))
          : NULL;
    for (i = 0; i < n; i++, e = tr_value_next(e))
      if (copy_value(r, e, depth + 1))
        return -1;
    return 0;
  }
  return tr_msg_add_nil(r);
}

enum { OP_SET, OP_DELETE, OP_EXPIRE, OP_MSET, OP_FLUSH, OP_NONE };

static int op_of(const char *op, size_t len) {
  static const char *const names[] = {"set", "delete", "expire", "mset",
                                      "flush"};
  int i;
  for (i = 0; i < OP_NONE; i++)
    if (strlen(names[i]) == len && !memcmp(op, names[i], len))
      return i;
  return OP_NONE;
}

/* An expiry: nil or a number >= 0 (0: never), ms; a float (a Lua store's
 * clock may give one) is taken to the ms below. */
static int get_at(const tr_value *v, uint64_t *at) {
  int64_t i;
  double d;
  *at = 0;
  if (!v || tr_value_type(v) == TR_NIL)
    return 0;
  if (tr_value_type(v) == TR_FLOAT) {
    if (tr_value_float(v, &d) || !(d >= 0 && d < 9.2e18))
      return -1;
    *at = (uint64_t)d;
    return 0;
  }
  if (tr_value_int(v, &i) || i < 0)
    return -1;
  *at = (uint64_t)i;
  return 0;
}

static int key_ok(const tr_value *v, const char **key, size_t *klen) {
  return tr_value_str(v, key, klen) == 0 && *klen >= 1 &&
         *klen <= TR_KV_MAX_KEY;
}

/* Encodes an mset's pairs (args from `first`) as one record; 0, 1 for a
 * bad request, 2 when too big, -1 when out of memory. */
static int put_mset(tr__kvbuf *b, const tr_msg *m, size_t first) {
  size_t argc = tr_msg_argc(m), i, klen, vlen, mark;
  uint64_t bytes = 0;
  const char *key, *val;
  const tr_value *v; /* walked: tr_msg_arg(m, i) would start over each time */
  if (argc <= first || (argc - first) % 2)
    return 1;
  for (i = first, v = tr_msg_arg(m, first); i < argc; i += 2) {
    if (!key_ok(v, &key, &klen) ||
        tr_value_str(v = tr_value_next(v), &val, &vlen) ||
        vlen > TR_KV_MAX_VALUE)
      return 1;
    v = tr_value_next(v);
    bytes += klen + vlen;
  }
  if (tr__kvlog_mset_body((argc - first) / 2, bytes) > TR_KVLOG_MAX_BODY)
    return 2;
  if (tr__kvlog_mset_begin(b, (uint32_t)((argc - first) / 2), &mark))
    return -1;
  for (i = first, v = tr_msg_arg(m, first); i < argc; i += 2) {
    tr_value_str(v, &key, &klen);
    tr_value_str(v = tr_value_next(v), &val, &vlen);
    v = tr_value_next(v);
    if (tr__kvlog_mset_pair(b, key, klen, val, vlen)) {
      b->len = mark;
      return -1;
    }
  }
  tr__kvlog_mset_end(b, mark);
  return 0;
}

/* A change: ("set", key, value[, at[, answer]]), ("delete", key[, answer]),
 * ("expire", key, at[, answer]), ("mset", k, v, ...), ("flush"[, answer]),
 * or a store's own request forwarded unchanged, kv("set", key, value),
 * kv("delete", key), kv("mset", ...) or kv("flush"), answered true (not
 * kv("expire"): its time is relative). A bad one changes nothing. */
static void on_change(writer *w, tr_msg *m, int op, size_t base) {
  const char *key = NULL, *val = NULL;
  size_t argc = tr_msg_argc(m) - base, klen = 0, vlen = 0, mark, given = 0;
  const tr_value *reply_with = NULL;
  uint64_t at = 0;
  int bad = 0, rc = 0;
  tr_msg *reply = NULL;
#define ARG(i) tr_msg_arg(m, base + (i))
  switch (op) {
  case OP_SET: /* key, value, at, answer */
    given = 3;
    bad = argc < 2 || argc > (base ? 2 : 4) || !key_ok(ARG(0), &key, &klen) ||
          tr_value_str(ARG(1), &val, &vlen) || get_at(ARG(2), &at);
    break;
  case OP_DELETE:
    given = 1;
    bad = argc < 1 || argc > (base ? 1 : 2) || !key_ok(ARG(0), &key, &klen);
    break;
  case OP_EXPIRE: /* not as kv(): the store's expire is ms from now */
    given = 2;
    bad = base || argc < 2 || argc > 3 || !key_ok(ARG(0), &key, &klen) ||
          tr_value_type(ARG(1)) == TR_NIL || get_at(ARG(1), &at);
    break;
  case OP_MSET:
    bad = argc < 2 || argc % 2;
    break;
  case OP_FLUSH:
    bad = argc > (base ? 0 : 1);
    break;
  default:
    tr_reply_error(w->h, m,
                   "kv.writer: the changes are set, delete, expire, mset and "
                   "flush");
    return;
  }
#undef ARG
  if (bad) {
    tr_reply_error(w->h, m, "kv.writer: bad request");
    return;
  }
  if (vlen > TR_KV_MAX_VALUE) {
    tr_reply_error(w->h, m, "kv.writer: key or value out of limits");
    return;
  }
  if (op != OP_MSET && argc > given)
    reply_with = tr_msg_arg(m, base + given);
  if (w->unavailable) {
    tr_reply_error(w->h, m, "%s", w->unavailable);
    return;
  }
  if (w->loading) { /* the store waits for the load: nobody else should */
    tr_reply_error(w->h, m, "kv.writer: still loading the data");
    return;
  }
  if (w->refused) {
    tr_reply_error(w->h, m, "changes are refused since %s", w->refused);
    return;
  }
  if (w->nwait == w->wait_cap) {
    size_t cap = w->wait_cap ? w->wait_cap * 2 : 64;
    waiter *v = realloc(w->wait, cap * sizeof *v);
    if (!v) {
      tr_reply_error(w->h, m, "kv.writer: out of memory");
      return;
    }
    w->wait = v;
    w->wait_cap = cap;
  }
  if (tr_msg_kind(m) == TR_KIND_CALL) {
    reply = tr_host_msg_newn(w->h, "reply", 5);
    if (!reply || (reply_with ? copy_value(reply, reply_with, 0)
                              : tr_msg_add_bool(reply, 1))) {
      tr_msg_free(reply);
      tr_reply_error(w->h, m, "kv.writer: out of memory");
      return;
    }
  }
  mark = w->batch.len;
  switch (op) {
  case OP_SET:
    rc = tr__kvlog_put_set_at(&w->batch, key, klen, val, vlen, at);
    break;
  case OP_DELETE:
    rc = tr__kvlog_put_delete(&w->batch, key, klen);
    break;
  case OP_EXPIRE:
    rc = tr__kvlog_put_expire(&w->batch, key, klen, at);
    break;
  case OP_MSET:
    rc = put_mset(&w->batch, m, base);
    break;
  default:
    rc = tr__kvlog_put_flush(&w->batch);
  }
  if (rc) {
    w->batch.len = mark;
    tr_msg_free(reply);
    if (rc == 1)
      tr_reply_error(w->h, m, "kv.writer: bad request");
    else if (rc == 2)
      tr_reply_error(w->h, m,
                     "kv.writer: an mset is at most %u bytes of keys and "
                     "values",
                     (unsigned)TR_KVLOG_MAX_BODY);
    else
      tr_reply_error(w->h, m, "kv.writer: out of memory");
    return;
  }
  if (reply) {
    w->wait[w->nwait].caller = tr_msg_from(m);
    w->wait[w->nwait].session = tr_msg_session(m);
    w->wait[w->nwait++].reply = reply;
  }
  w->batch_records++;
  if (w->batch.len >= BATCH_BYTES || w->batch_records >= BATCH_RECORDS)
    flush(w);
}

/* ------------------------------------------------------------- reading */

/* A load while the files are still read: how far it has got, no entries,
 * and the same cursor, to ask again. */
static void answer_progress(writer *w, tr_msg *m) {
  char text[200];
  int64_t cursor = 0;
  tr_msg *r = tr_msg_new("reply");
  tr_msg_unpack(m, "I", &cursor);
  tr__kvwriter_recover_progress(w, text, sizeof text);
  tr_msg_add_array(r, 0);
  tr_msg_add_int(r, cursor);
  tr_msg_add_cstr(r, text);
  tr_msg_add_nil(r);
  tr_msg_add_nil(r);
  tr_msg_add_nil(r);
  tr_msg_add_nil(r);
  tr_reply(w->h, m, r);
}

/* No data, no changes: the reason, for all. */
static void answer_unavailable(writer *w, tr_msg *m) {
  tr_msg *r = tr_msg_new("reply");
  tr_msg_add_array(r, 0);
  tr_msg_add_nil(r);
  tr_msg_add_cstr(r, w->unavailable);
  tr_msg_add_cstr(r, w->unavailable);
  tr_msg_add_cstr(r, w->unavailable);
  tr_msg_add_nil(r);
  tr_msg_add_nil(r);
  tr_reply(w->h, m, r);
}

static void on_load(writer *w, tr_msg *m) {
  int64_t from;
  tr_msg *r;
  if (tr_msg_kind(m) != TR_KIND_CALL)
    return;
  if (tr_msg_unpack(m, "I", &from) || from < 0) {
    tr_reply_error(w->h, m, "kv.writer: load takes a cursor (0 to start)");
    return;
  }
  w->store = tr_msg_from(m);
  if (w->loading) { /* answered when reading ends, or with progress */
    if (w->load_call) {
      answer_progress(w, w->load_call);
      tr_msg_free(w->load_call);
    }
    w->load_call = tr_keep(w->self, m);
    w->load_call_at = uv_hrtime();
    return;
  }
  if (w->batch_records && !w->unavailable)
    flush(w); /* the index is up to date once the batch is written */
  if (w->unavailable) {
    answer_unavailable(w, m);
    return;
  }
  r = tr__kvindex_batch(w, (size_t)from);
  if (r)
    tr_reply(w->h, m, r);
  else if (w->unavailable)
    answer_unavailable(w, m);
  else
    tr_reply_error(w->h, m, "kv.writer: out of memory");
}

/* One step of reading the files; a held load is answered once they are
 * read, or with progress once it has waited PROGRESS_NS; every REPORT_NS
 * the log hears how far reading has got. */
static void load_step(writer *w) {
  char text[200];
  uint64_t now, began = uv_hrtime();
  int more = tr__kvwriter_recover_step(w, w->load_step);
  tr__kvwriter_beat(w);
  now = uv_hrtime();
  if (now - began > 2 * STEP_NS && w->load_step > LOAD_STEP_MIN)
    w->load_step /= 2;
  else if (now - began < STEP_NS / 2 && w->load_step < LOAD_STEP_MAX)
    w->load_step *= 2;
  if (more && now - w->load_report >= REPORT_NS) {
    tr__kvwriter_recover_progress(w, text, sizeof text);
    tr_host_log(w->h, TR_LOG_INFO, "kv.writer: loading %s: %s so far", w->dir,
                text);
    w->load_report = now;
  }
  if (!more && now - w->load_began >= REPORT_NS)
    tr_host_log(w->h, TR_LOG_INFO, "kv.writer: the load took %.1f s",
                (double)(now - w->load_began) / 1e9);
  if (w->load_call && (!more || now - w->load_call_at >= PROGRESS_NS)) {
    tr_msg *m = w->load_call;
    w->load_call = NULL;
    if (more)
      answer_progress(w, m);
    else
      on_load(w, m);
    tr_msg_free(m);
  }
}

static void add_stat(tr_msg *r, const char *name, uint64_t v) {
  tr_msg_add_cstr(r, name);
  tr_msg_add_int(r, (int64_t)v);
}

static void on_stats(writer *w, tr_msg *m) {
  tr_msg *r = tr_msg_new("reply");
  tr_msg_add_map(r, 6);
  add_stat(r, "records", w->records);
  add_stat(r, "flushes", w->flushes);
  add_stat(r, "fsyncs", w->fsyncs);
  add_stat(r, "compactions", w->compactions);
  add_stat(r, "log_bytes", w->log_size);
  add_stat(r, "keys", tr__kvmap_count(w->map));
  tr_reply(w->h, m, r);
}

static int writer_handle(tr_actor *self, void *state, tr_msg *m) {
  writer *w = state;
  int kind = m ? tr_msg_kind(m) : -1;
  if (kind == TR_KIND_CALL || kind == TR_KIND_SEND) {
    const char *name;
    size_t nlen;
    int op;
    name = tr_msg_name(m, &nlen);
    if ((op = op_of(name, nlen)) != OP_NONE)
      on_change(w, m, op, 0);
    else if (tr_msg_is(m, "kv"))
      on_change(w, m,
                tr_value_str(tr_msg_arg(m, 0), &name, &nlen)
                    ? OP_NONE
                    : op_of(name, nlen),
                1);
    else if (tr_msg_is(m, "load"))
      on_load(w, m);
    else if (tr_msg_is(m, "stats") && kind == TR_KIND_CALL)
      on_stats(w, m);
    else if (tr_msg_is(m, "sync") && kind == TR_KIND_SEND)
      on_sync(w);
    else
      tr_reply_error(w->h, m, "kv.writer: unknown request");
  }
  if (w->loading) { /* a step between any two messages, or per turn */
    load_step(w);
    if (w->loading)
      return tr_mailbox_count(w->h, tr_self(self)) > 0 ? TR_CONTINUE : TR_YIELD;
  }
  /* Nothing more queued: now is the time to write what was gathered. */
  if (w->batch_records && tr_mailbox_count(w->h, tr_self(self)) == 0)
    flush(w);
  return TR_CONTINUE;
}

static void writer_free(writer *w) {
  tr__kvwriter_recover_free(w);
  tr_msg_free(w->load_call); /* its caller hears "down" as the writer ends */
  w->load_call = NULL;
  if (w->log_fd >= 0)
    w->io.close(w->log_fd);
  if (w->snap_fd >= 0)
    w->io.close(w->snap_fd);
  while (w->nwait) /* its callers hear "down" as the writer ends */
    tr_msg_free(w->wait[--w->nwait].reply);
  if (w->lock_fd >= 0)
    w->io.close(w->lock_fd); /* releases the lock; LOCK itself stays */
  w->log_fd = w->lock_fd = w->snap_fd = -1;
  tr__kvmap_free(w->map);
  tr__kvbuf_free(&w->batch);
  free(w->wait);
  free(w->refused);
  free(w->unavailable);
  free(w->dir);
  free(w->p_lock);
  free(w->p_log);
  free(w->p_log_tmp);
  free(w->p_snap);
  free(w->p_snap_tmp);
}

static int writer_init(tr_actor *self, void *state, tr_msg *args) {
  writer *w = state;
  const tr_kv_config *cfg = tr_actor_ctx(self); /* may be NULL */
  (void)args;
  w->self = self;
  w->h = tr_actor_host(self);
  w->lock_fd = w->log_fd = w->snap_fd = -1;
  tr__kvio_resolve(&w->io, cfg ? (const tr__kvio *)cfg->io : NULL);
  w->policy = cfg ? cfg->fsync : TR_FSYNC_EVERYSEC;
  if (w->policy != TR_FSYNC_EVERYSEC && w->policy != TR_FSYNC_ALWAYS &&
      w->policy != TR_FSYNC_NO) {
    tr_host_log(w->h, TR_LOG_ERROR, "kv.writer: unknown fsync policy %d",
                w->policy);
    return -1;
  }
  w->dir = strdup(cfg && cfg->dir ? cfg->dir : "./troupe-data");
  if (!w->dir || !(w->p_lock = join(w->dir, "LOCK")) ||
      !(w->p_log = join(w->dir, "kv.log")) ||
      !(w->p_log_tmp = join(w->dir, "kv.log.tmp")) ||
      !(w->p_snap = join(w->dir, "kv.snap")) ||
      !(w->p_snap_tmp = join(w->dir, "kv.snap.tmp")) ||
      !(w->map = tr__kvmap_new())) {
    tr_host_log(w->h, TR_LOG_ERROR, "kv.writer: out of memory");
    writer_free(w);
    return -1;
  }
  w->load_began = w->load_report = uv_hrtime();
  w->load_step = LOAD_STEP_MIN;
  if (tr__kvwriter_recover_begin(w)) {
    tr_host_log(w->h, TR_LOG_ERROR, "kv.writer: out of memory");
    writer_free(w);
    return -1;
  }
  if (w->loading)
    tr_wake(self); /* reading starts at the first turn */
  return 0;
}

static void writer_terminate(tr_actor *self, void *state, const char *why) {
  writer *w = state;
  (void)self;
  (void)why;
  if (!w->refused && !w->unavailable && !w->loading) {
    flush(w); /* answers whoever waits */
    if (w->dirty && w->policy != TR_FSYNC_NO &&
        tr__kvio_fsync(&w->io, w->log_fd) == 0)
      w->fsyncs++;
  }
  if (w->sync_timer)
    tr_cancel(w->h, w->sync_timer);
  writer_free(w);
}

static const tr_behaviour writer_behaviour = {
    "kv.writer", sizeof(writer), writer_init, writer_handle, writer_terminate};

int tr_kv_log_writer_start(tr_host *h, void *config, tr_pid *out) {
  tr_spawn_opts o = {0};
  o.capacity = CAPACITY;
  o.ctx = config; /* read by init only: the paths are copied */
  return tr_spawn(h, &writer_behaviour, NULL, &o, out);
}
