/*
 * store.c -- the native key-value store ("kv"), the actor: starting,
 * loading through the writer, getting a change to the writer, and the
 * sweep of expired keys. The requests are served by storeops.c.
 *
 * It is written against the public headers alone, as a user's actor would
 * be; the protocol is the one in troupe_services.h's "store" section. It
 * is started after its writer, by the same one_for_all supervisor.
 *
 * Start: init finds "kv.writer" and calls load(0), then tr_await's the
 * answer, so every request stays queued, in order, while the data comes
 * in; each batch names the cursor of the next, and the last one ends the
 * wait. A writer still reading its files answers within 200 ms or so with
 * no entries and how far it has got, and is asked again. Once the load
 * has taken load_wait_ms (tr_kv_config; 2 s by default), the store stops
 * awaiting: it takes its mail between batches and answers each request
 * with an error saying it is still loading, so a long load costs callers
 * a clear error, never a timeout; a load that ends sooner is invisible
 * (the requests that waited are served, in order). A long load logs how
 * far it has got every second. A failed load ends the store abnormally:
 * its supervisor restarts the pair. A writer that has no data to give
 * (another writer holds the directory, ...) says why in its answer, and
 * the store answers every request with that. A key whose expiry came
 * while it was on its way is not loaded.
 *
 * Changes: a request that changes something is checked, then the writer
 * asked for (tr__kvstore_writer), then applied and forwarded. If the
 * writer's mailbox is full the change waits (tr_notify_room + tr_await,
 * the rest of the mailbox queued behind it) and is served anew once there
 * is room, so no change is applied here that the writer could not take.
 * If the writer is gone, or has said that it refuses changes (its
 * "failed" message, or a refused in a load reply), changes are answered
 * with an error and the map is left alone; reads go on.
 *
 * Expiry: keys are removed when a request finds them expired, and by a
 * sweep, a tr_timeout set only while some key expires: at most every
 * SWEEP_MS, sooner when the earliest expiry is sooner, at most SWEEP_MAX
 * keys a turn (the map's expiry heap gives them earliest first).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvstore.h"

#define CAPACITY (1u << 16)
#define LOAD_WAIT_MS 2000u /* requests wait this long for a load at most */
#define REPORT_MS 1000u    /* a long load logs this often */

#define SWEEP_MS 100u   /* expired keys are swept this often at least */
#define SWEEP_MAX 1000u /* and at most this many a turn */

typedef tr__kvstore store;

static void set_text(char **dst, const char *s, size_t len) {
  char *p = malloc(len + 1);
  if (!p)
    return;
  memcpy(p, s, len);
  p[len] = '\0';
  free(*dst);
  *dst = p;
}

/* ------------------------------------------------------------- loading */

static uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* Asks for a batch; awaits it (requests stay queued) unless the load has
 * taken too long already. */
static int ask_load(store *s, int64_t cursor) {
  uint64_t session = 0;
  int rc = tr_call(s->h, tr_self(s->self), s->writer,
                   tr_msg_pack("load", "I", cursor), 0, &session);
  if (rc) {
    tr_host_log(s->h, TR_LOG_ERROR, "kv: cannot ask kv.writer for the data: %s",
                tr_strerror(rc));
    return rc;
  }
  s->waiting = session;
  if (!s->impatient)
    tr_await(s->self, session);
  return TR_OK;
}

/* How far the load has got, for the "still loading" error. */
static void load_progress(store *s, char *buf, size_t n) {
  size_t keys = tr__kvmap_count(s->map);
  if (keys || !s->progress)
    snprintf(buf, n, "%zu keys so far", keys);
  else
    snprintf(buf, n, "kv.writer is reading %s", s->progress);
}

/* Between two batches: past load_wait_ms, the requests waiting are
 * answered; every second the log hears how far it has got. */
static void load_clock(store *s, int progress) {
  uint64_t now = now_ms();
  char text[300];
  if (!s->impatient && now - s->load_began >= s->load_wait_ms) {
    s->impatient = 1;
    load_progress(s, text, sizeof text);
    tr_host_log(s->h, TR_LOG_WARN,
                "kv: loading is taking long (%s): requests are answered with "
                "an error until it ends",
                text);
  } else if (!progress && now - s->load_report >= REPORT_MS) {
    /* the writer reports on its files itself */
    tr_host_log(s->h, TR_LOG_INFO, "kv: loading: %zu keys so far",
                tr__kvmap_count(s->map));
    s->load_report = now;
  }
}

static void load_failed(store *s, const tr_msg *m, const char *why) {
  const char *text = NULL;
  size_t len = 0;
  if (m && tr_value_str(tr_msg_arg(m, 0), &text, &len) == TR_OK)
    tr_host_log(s->h, TR_LOG_ERROR, "kv: loading failed: %s (%.*s)", why,
                (int)len, text);
  else
    tr_host_log(s->h, TR_LOG_ERROR, "kv: loading failed: %s", why);
  tr_exit(s->self, "kv: loading failed");
}

/* A batch: entries {k1, v1, ...}, next cursor or nil, info[, refused,
 * unavailable, keys, expiries]. */
static void on_batch(store *s, tr_msg *m) {
  const tr_value *entries = tr_msg_arg(m, 0), *v, *exp = tr_msg_arg(m, 6);
  const char *text;
  size_t n, i, len;
  int64_t next, now = tr__kvstore_now();
  if (tr_msg_kind(m) != TR_KIND_REPLY) {
    load_failed(s, m, "kv.writer did not answer the load");
    return;
  }
  if (tr_value_type(entries) != TR_ARRAY || tr_value_len(entries) % 2) {
    load_failed(s, NULL, "a load batch is not an array of key, value pairs");
    return;
  }
  n = tr_value_len(entries) / 2;
  if (tr_value_type(exp) == TR_ARRAY && tr_value_len(exp) != n) {
    load_failed(s, NULL, "a load batch's expiries are not one per key");
    return;
  }
  exp = tr_value_type(exp) == TR_ARRAY && n ? tr_value_at(exp, 0) : NULL;
  v = n ? tr_value_at(entries, 0) : NULL;
  for (i = 0; i < n; i++) {
    const tr_value *val = tr_value_next(v);
    const char *key, *bytes;
    size_t klen, vlen;
    int64_t at = 0;
    if (tr_value_str(v, &key, &klen) || tr_value_str(val, &bytes, &vlen)) {
      load_failed(s, NULL, "a key or value in a load batch is not a string");
      return;
    }
    if (exp) {
      if (tr_value_int(exp, &at) || at < 0) {
        load_failed(s, NULL, "an expiry in a load batch is not a time");
        return;
      }
      exp = tr_value_next(exp);
    }
    if (at && at <= now) { /* expired on the way */
      v = tr_value_next(val);
      continue;
    }
    if (tr__kvmap_set(s->map, key, klen, bytes, vlen) ||
        (at && tr__kvmap_set_expiry(s->map, key, klen, at) < 0)) {
      load_failed(s, NULL, "out of memory");
      return;
    }
    v = tr_value_next(val);
  }
  if (tr_value_int(tr_msg_arg(m, 1), &next) == TR_OK) {
    if (!n && tr_value_str(tr_msg_arg(m, 2), &text, &len) == TR_OK)
      set_text(&s->progress, text, len); /* the writer is reading still */
    load_clock(s, !n);
    if (ask_load(s, next))
      tr_exit(s->self, "kv: loading failed");
    return;
  }
  if (tr_value_str(tr_msg_arg(m, 2), &text, &len) == TR_OK)
    set_text(&s->info, text, len);
  if (tr_value_str(tr_msg_arg(m, 3), &text, &len) == TR_OK)
    set_text(&s->refused, text, len);
  if (tr_value_str(tr_msg_arg(m, 4), &text, &len) == TR_OK)
    set_text(&s->unavailable, text, len);
  s->utf8_keys = tr_value_str(tr_msg_arg(m, 5), &text, &len) == TR_OK &&
                 len == 4 && !memcmp(text, "utf8", 4);
  s->loading = 0;
  tr__kvstore_arm_sweep(s);
  if (now_ms() - s->load_began >= REPORT_MS)
    tr_host_log(s->h, TR_LOG_INFO, "kv: loaded %zu keys in %.1f s",
                tr__kvmap_count(s->map),
                (double)(now_ms() - s->load_began) / 1000.0);
}

/* Serves a request once the store can: an error while the writer has no
 * data, or while a long load goes on; else the request (storeops.c). */
static int serve(store *s, tr_msg *m, int owned) {
  if (!tr_msg_is(m, "kv")) {
    tr_reply_error(s->h, m, "kv: unknown request (requests are named \"kv\")");
    return 0;
  }
  if (s->unavailable) {
    tr_reply_error(s->h, m, "%s", s->unavailable);
    return 0;
  }
  if (s->loading) { /* only once the load has taken long: see load_clock */
    char text[300];
    load_progress(s, text, sizeof text);
    tr_reply_error(s->h, m, "kv: the store is still loading (%s); try again",
                   text);
    return 0;
  }
  return tr__kvstore_serve(s, m, owned);
}

/* ---------------------------------------------------------- the writer */

static tr_pid writer_pid(store *s) {
  if (!s->writer || !tr_alive(s->h, s->writer))
    s->writer = tr_whereis(s->h, "kv.writer");
  return s->writer;
}

tr_pid tr__kvstore_writer(store *s, tr_msg *m, int owned, int *held) {
  tr_pid w;
  *held = 0;
  if (s->refused) {
    tr_reply_error(s->h, m, "kv: changes are refused: %s", s->refused);
    return 0;
  }
  if (!(w = writer_pid(s))) {
    tr_reply_error(s->h, m,
                   "kv: the writer is not running; nothing was changed");
    return 0;
  }
  if (tr_mailbox_room(s->h, w) == 0) {
    /* Wait for room, the rest of the mailbox queued behind this change. */
    tr_msg *keep = owned ? m : tr_keep(s->self, m);
    uint64_t id = 0;
    if (!keep || tr_notify_room(s->h, tr_self(s->self), w, 0, &id)) {
      tr_reply_error(s->h, m, "kv: cannot wait for the writer");
      if (keep && !owned)
        tr_msg_free(keep); /* kept above: ours to free now */
      return 0;
    }
    s->held = keep;
    s->waiting = id;
    tr_await(s->self, id);
    *held = 1;
    return 0;
  }
  return w;
}

/* ----------------------------------------------------------- the sweep */

int64_t tr__kvstore_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void tr__kvstore_arm_sweep(store *s) {
  int64_t next, wait;
  if (s->sweep_timer || !(next = tr__kvmap_next_expiry(s->map)))
    return;
  wait = next - tr__kvstore_now();
  if (wait > SWEEP_MS)
    wait = SWEEP_MS;
  if (tr_timeout(s->h, tr_self(s->self), wait > 0 ? (uint32_t)wait : 1,
                 &s->sweep_timer))
    s->sweep_timer = 0;
}

/* Removes what has expired, SWEEP_MAX keys at most a turn: one that finds
 * more comes back at once, after the mail queued meanwhile. */
static void sweep(store *s) {
  size_t n = tr__kvmap_expire(s->map, tr__kvstore_now(), SWEEP_MAX);
  s->sweep_timer = 0;
  if (n == SWEEP_MAX) {
    if (tr_timeout(s->h, tr_self(s->self), 1, &s->sweep_timer))
      s->sweep_timer = 0;
    return;
  }
  tr__kvstore_arm_sweep(s);
}

static int store_handle(tr_actor *self, void *state, tr_msg *m) {
  store *s = state;
  int kind;
  (void)self;
  if (!m)
    return TR_CONTINUE;
  kind = tr_msg_kind(m);
  if (s->waiting && tr_msg_session(m) == s->waiting && kind != TR_KIND_SEND &&
      kind != TR_KIND_CALL) {
    s->waiting = 0;
    if (s->loading) {
      on_batch(s, m);
    } else { /* room at the writer (or it has ended): try again */
      tr_msg *held = s->held;
      s->held = NULL;
      if (held && !serve(s, held, 1))
        tr_msg_free(held);
    }
    return TR_CONTINUE;
  }
  if (kind == TR_KIND_SEND && tr_msg_is(m, "failed") &&
      tr_msg_from(m) == s->writer) {
    const char *why;
    size_t len;
    if (tr_msg_unpack(m, "s", &why, &len) == TR_OK)
      set_text(&s->refused, why, len);
    return TR_CONTINUE;
  }
  if (kind == TR_KIND_TIMEOUT && s->sweep_timer &&
      tr_msg_session(m) == s->sweep_timer) {
    sweep(s);
    return TR_CONTINUE;
  }
  if (kind == TR_KIND_CALL || kind == TR_KIND_SEND)
    serve(s, m, 0);
  return TR_CONTINUE;
}

static void store_free(store *s) {
  tr__kvmap_free(s->map);
  tr_msg_free(s->held); /* its caller hears "down" as the store ends */
  free(s->info);
  free(s->refused);
  free(s->progress);
  free(s->unavailable);
  s->map = NULL;
  s->held = NULL;
}

static int store_init(tr_actor *self, void *state, tr_msg *args) {
  store *s = state;
  const tr_kv_config *cfg = tr_actor_ctx(self); /* may be NULL */
  (void)args;
  s->self = self;
  s->h = tr_actor_host(self);
  s->loading = 1;
  s->load_wait_ms = cfg && cfg->load_wait_ms ? cfg->load_wait_ms : LOAD_WAIT_MS;
  s->load_began = s->load_report = now_ms();
  if (!(s->writer = tr_whereis(s->h, "kv.writer"))) {
    tr_host_log(s->h, TR_LOG_ERROR,
                "kv: no kv.writer is running (start it before the store)");
    return -1;
  }
  if (!(s->map = tr__kvmap_new())) {
    tr_host_log(s->h, TR_LOG_ERROR, "kv: out of memory");
    return -1;
  }
  if (ask_load(s, 0)) {
    store_free(s);
    return -1;
  }
  return 0;
}

static void store_terminate(tr_actor *self, void *state, const char *why) {
  (void)self;
  (void)why;
  store_free(state);
}

static const tr_behaviour store_behaviour = {"kv", sizeof(store), store_init,
                                             store_handle, store_terminate};

int tr_kv_store_start(tr_host *h, void *config, tr_pid *out) {
  tr_spawn_opts o = {0};
  o.capacity = CAPACITY;
  o.ctx = config; /* read by init only: the writer holds the rest */
  return tr_spawn(h, &store_behaviour, NULL, &o, out);
}
