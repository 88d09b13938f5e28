/*
 * store.c -- the native key-value store ("kv"): serves get, set, delete,
 * count and info from memory, and has its writer ("kv.writer") persist
 * every change.
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
 * the store answers every request with that.
 *
 * Requests: kv(op, ...) calls (sends are served the same, unanswered).
 * Reads are answered from the map at once. A set or delete is checked
 * (key a string of 1..TR_KV_MAX_KEY bytes, value a string of at most
 * TR_KV_MAX_VALUE; and a key the writer can write: valid UTF-8 if its
 * load said "utf8", as the JSON writer does), applied to the map, then the
 * very call is forwarded to the writer, which answers the caller once the
 * change is written. A bad request gets an error reply ("error", text)
 * and changes nothing: the map never holds what the writer refuses. If
 * the writer's mailbox is full the change waits (tr_notify_room +
 * tr_await, the rest of the mailbox queued behind it), so no change is
 * applied here that the writer could not take. If the writer is gone, or
 * has said that it refuses changes (its "failed" message, or a fourth
 * value in a load reply -- both additions to that protocol), changes
 * are answered with an error and the map is left alone; reads go on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvmap.h"
#include "troupe_services.h"

#define CAPACITY (1u << 16)
#define LOAD_WAIT_MS 2000u /* requests wait this long for a load at most */
#define REPORT_MS 1000u    /* a long load logs this often */

typedef struct store {
  tr_actor *self;
  tr_host *h;
  tr__kvmap *map;
  tr_pid writer;
  int loading;
  int impatient; /* the load took long: requests get "still loading" */
  uint32_t load_wait_ms;
  uint64_t load_began, load_report; /* ms, monotonic */
  char *progress;    /* how far the writer has got reading its files */
  char *unavailable; /* the writer has no data, for this reason */
  uint64_t waiting;  /* the session awaited: a load batch, or room */
  tr_msg *held;      /* a change waiting for room at the writer */
  char *info;        /* what the writer loaded */
  char *refused;     /* why the writer refuses changes; NULL: it takes them */
  int utf8_keys;     /* the writer takes valid UTF-8 keys only */
} store;

static void reply(store *s, const tr_msg *m, tr_msg *r) {
  if (tr_msg_kind(m) == TR_KIND_CALL)
    tr_reply(s->h, m, r);
  else
    tr_msg_free(r);
}

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
 * unavailable, keys]. */
static void on_batch(store *s, tr_msg *m) {
  const tr_value *entries = tr_msg_arg(m, 0), *v;
  const char *text;
  size_t n, i, len;
  int64_t next;
  if (tr_msg_kind(m) != TR_KIND_REPLY) {
    load_failed(s, m, "kv.writer did not answer the load");
    return;
  }
  if (tr_value_type(entries) != TR_ARRAY || tr_value_len(entries) % 2) {
    load_failed(s, NULL, "a load batch is not an array of key, value pairs");
    return;
  }
  n = tr_value_len(entries) / 2;
  v = n ? tr_value_at(entries, 0) : NULL;
  for (i = 0; i < n; i++) {
    const tr_value *val = tr_value_next(v);
    const char *key, *bytes;
    size_t klen, vlen;
    if (tr_value_str(v, &key, &klen) || tr_value_str(val, &bytes, &vlen)) {
      load_failed(s, NULL, "a key or value in a load batch is not a string");
      return;
    }
    if (tr__kvmap_set(s->map, key, klen, bytes, vlen)) {
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
  if (now_ms() - s->load_began >= REPORT_MS)
    tr_host_log(s->h, TR_LOG_INFO, "kv: loaded %zu keys in %.1f s",
                tr__kvmap_count(s->map),
                (double)(now_ms() - s->load_began) / 1000.0);
}

/* ------------------------------------------------------------ requests */

static int check_key(store *s, const tr_msg *m, const tr_value *v,
                     const char **key, size_t *klen) {
  if (tr_value_str(v, key, klen)) {
    tr_reply_error(s->h, m, "kv: the key must be a string");
    return -1;
  }
  if (*klen == 0) {
    tr_reply_error(s->h, m, "kv: the key is empty");
    return -1;
  }
  if (*klen > TR_KV_MAX_KEY) {
    tr_reply_error(s->h, m,
                   "kv: the key is too long (%zu bytes; the limit is %u)",
                   *klen, (unsigned)TR_KV_MAX_KEY);
    return -1;
  }
  return 0;
}

/* Is s valid UTF-8 as Lua's utf8.len has it: no overlong forms, no
 * surrogates, nothing past U+10FFFF (the JSON writer checks with it)? */
static int utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0, j, k;
  while (i < n) {
    unsigned c = s[i], lo = 0x80, hi = 0xbf;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      k = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      k = 2;
      if (c == 0xe0)
        lo = 0xa0; /* no overlong form */
      if (c == 0xed)
        hi = 0x9f; /* no surrogate */
    } else if (c >= 0xf0 && c <= 0xf4) {
      k = 3;
      if (c == 0xf0)
        lo = 0x90; /* no overlong form */
      if (c == 0xf4)
        hi = 0x8f; /* nothing past U+10FFFF */
    } else {
      return 0; /* a continuation byte, or a lead byte never valid */
    }
    if (n - i <= k || s[i + 1] < lo || s[i + 1] > hi)
      return 0;
    for (j = 2; j <= k; j++)
      if ((s[i + j] & 0xc0) != 0x80)
        return 0;
    i += k + 1;
  }
  return 1;
}

/* A key as an error shows it, as the JSON writer does: quoted, its first
 * 40 bytes, each one that is not printable ASCII (or is '"', '\\') as
 * \xHH, and "..." when cut. buf holds 170 bytes or more. */
static void show_key(char *buf, const char *key, size_t klen) {
  size_t i, n = klen > 40 ? 40 : klen;
  char *p = buf;
  *p++ = '"';
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)key[i];
    if (c < 32 || c >= 127 || c == '"' || c == '\\')
      p += sprintf(p, "\\x%02x", c);
    else
      *p++ = (char)c;
  }
  strcpy(p, klen > 40 ? "...\"" : "\"");
}

static tr_pid writer_pid(store *s) {
  if (!s->writer || !tr_alive(s->h, s->writer))
    s->writer = tr_whereis(s->h, "kv.writer");
  return s->writer;
}

/* set or delete; returns 1 when m was taken (forwarded or held). */
static int change(store *s, tr_msg *m, int owned, int set) {
  const char *key, *val = NULL;
  size_t klen, vlen = 0, argc = tr_msg_argc(m);
  tr_pid w;
  if (argc != (set ? 3u : 2u)) {
    tr_reply_error(s->h, m,
                   set ? "kv: set takes a key and a value"
                       : "kv: delete takes a key");
    return 0;
  }
  if (check_key(s, m, tr_msg_arg(m, 1), &key, &klen))
    return 0;
  if (set && tr_value_str(tr_msg_arg(m, 2), &val, &vlen)) {
    tr_reply_error(s->h, m, "kv: the value must be a string");
    return 0;
  }
  if (vlen > TR_KV_MAX_VALUE) {
    tr_reply_error(s->h, m,
                   "kv: the value is too big (%zu bytes; the limit is %u)",
                   vlen, (unsigned)TR_KV_MAX_VALUE);
    return 0;
  }
  if (set && s->utf8_keys && !utf8_valid((const unsigned char *)key, klen)) {
    char shown[200];
    show_key(shown, key, klen);
    tr_reply_error(s->h, m,
                   "kv: the key %s is not valid UTF-8, and a JSON key is text "
                   "(the log writer takes any bytes)",
                   shown);
    return 0;
  }
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
    tr_msg *held = owned ? m : tr_keep(s->self, m);
    uint64_t id = 0;
    if (!held || tr_notify_room(s->h, tr_self(s->self), w, 0, &id)) {
      tr_reply_error(s->h, m, "kv: cannot wait for the writer");
      if (held && !owned)
        tr_msg_free(held); /* kept above: ours to free now */
      return 0;
    }
    s->held = held;
    s->waiting = id;
    tr_await(s->self, id);
    return 1;
  }
  if (set ? tr__kvmap_set(s->map, key, klen, val, vlen)
          : (tr__kvmap_delete(s->map, key, klen), 0)) {
    tr_reply_error(s->h, m, "kv: out of memory");
    return 0;
  }
  tr_forward(s->h, w, m); /* the writer answers the caller */
  return 1;
}

static int is_op(const char *op, size_t len, const char *name) {
  return strlen(name) == len && !memcmp(op, name, len);
}

/* Serves one request; returns 1 when m was taken (forwarded or held). */
static int serve(store *s, tr_msg *m, int owned) {
  const char *op, *key, *val;
  size_t oplen, klen, vlen, argc = tr_msg_argc(m);
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
  if (tr_value_str(tr_msg_arg(m, 0), &op, &oplen)) {
    tr_reply_error(s->h, m,
                   "kv: a request starts with get, set, delete, count or info");
    return 0;
  }
  if (is_op(op, oplen, "get")) {
    if (argc != 2)
      tr_reply_error(s->h, m, "kv: get takes a key");
    else if (!check_key(s, m, tr_msg_arg(m, 1), &key, &klen))
      reply(s, m,
            tr__kvmap_get(s->map, key, klen, &val, &vlen)
                ? tr_msg_pack("reply", "S", val, vlen)
                : tr_msg_pack("reply", "n"));
  } else if (is_op(op, oplen, "set") || is_op(op, oplen, "delete")) {
    return change(s, m, owned, oplen == 3);
  } else if (is_op(op, oplen, "count") && argc == 1) {
    reply(s, m, tr_msg_pack("reply", "I", (int64_t)tr__kvmap_count(s->map)));
  } else if (is_op(op, oplen, "info") && argc == 1) {
    reply(s, m, tr_msg_pack("reply", "s", s->info ? s->info : ""));
  } else if (is_op(op, oplen, "count") || is_op(op, oplen, "info")) {
    tr_reply_error(s->h, m, "kv: %.*s takes no arguments", (int)oplen, op);
  } else {
    tr_reply_error(s->h, m, "kv: unknown operation \"%.*s\"", (int)oplen, op);
  }
  return 0;
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
