/*
 * kv.c -- the store for a C program: tr_kv_start sets up the router with
 * the native store pair behind it (or the store in Redis), and tr_kv_set / get
 * / delete / incr
 * ... and tr_kv_request (any request) make requests from outside any
 * actor.
 *
 * The router keeps pointers into the specs it is given for as long as it
 * runs. They live in the state of a small actor ("kv.config") spawned just
 * before the router: a host stops its actors newest first, so it outlives
 * the router, and frees them when it ends. No global state, no leak.
 *
 * A request has 5 s in all. A store that is still loading a big data
 * directory answers "still loading" (once the load has taken its
 * load_wait_ms); such a request is asked again every RETRY_MS, the loop
 * running meanwhile (kv.config answers a "pause" call late), until it is
 * served or its 5 s are nearly spent: then the "still loading" error is
 * what the caller gets. Never a timeout because of the load, never past
 * the 5 s.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "troupe_services.h"

#define REQUEST_MS 5000u
#define RETRY_MS 100u
#define SLACK_MS 500u /* asked again only if this much is left for it */
#define LOADING "kv: the store is still loading"

typedef struct kv_setup {
  tr_kv_config cfg;
  char dir[1024];
  char redis[1024]; /* "" for the native store */
  tr_child_spec children[2];
  tr_sup_spec spec;
  tr_service service;
} kv_setup;

/* Builds the setup in its own state from a copy of the config (its ctx,
 * valid during init only), then starts the router, which is therefore
 * newer than it. */
static int keeper_init(tr_actor *self, void *state, tr_msg *args) {
  kv_setup *s = state;
  const tr_kv_config *cfg = tr_actor_ctx(self);
  (void)args;
  s->cfg = *cfg;
  strcpy(s->dir, cfg->dir); /* its length was checked by tr_kv_start */
  s->cfg.dir = s->dir;
  s->children[0].name = "kv.writer";
  s->children[0].start = tr_kv_log_writer_start;
  s->children[0].arg = &s->cfg;
  s->children[1].name = "kv";
  s->children[1].start = tr_kv_store_start;
  s->children[1].arg = &s->cfg;
  s->spec.strategy = TR_ONE_FOR_ALL; /* a store restarts with its writer */
  s->spec.children = s->children;
  s->spec.nchildren = 2;
  if (cfg->redis) {               /* the store in Redis: one actor, no writer */
    strcpy(s->redis, cfg->redis); /* its length was checked too */
    s->cfg.redis = s->redis;
    s->children[0] = s->children[1];
    s->children[0].start = tr_kv_redis_store_start;
    s->spec.nchildren = 1;
  }
  s->service.name = "kv";
  s->service.spec = &s->spec;
  s->service.lazy = 1;
  return tr_router_start(tr_actor_host(self), &s->service, 1, NULL) ? -1 : 0;
}

/* It keeps the setup alive, and answers pause(ms) calls ms late. */
static int keeper_handle(tr_actor *self, void *state, tr_msg *m) {
  tr_host *h = tr_actor_host(self);
  int ms;
  tr_pid caller;
  int64_t session;
  (void)state;
  if (!m)
    return TR_CONTINUE;
  if (tr_msg_kind(m) == TR_KIND_CALL && tr_msg_is(m, "pause") &&
      tr_msg_unpack(m, "i", &ms) == TR_OK && ms >= 0)
    tr_after(
        h, tr_self(self), (uint32_t)ms,
        tr_msg_pack("resume", "pI", tr_msg_from(m), (int64_t)tr_msg_session(m)),
        NULL);
  else if (tr_msg_is(m, "resume") &&
           tr_msg_unpack(m, "pI", &caller, &session) == TR_OK)
    tr_reply_to(h, caller, (uint64_t)session, tr_msg_pack("reply", "b", 1));
  return TR_CONTINUE;
}

static const tr_behaviour keeper = {"kv.config", sizeof(kv_setup), keeper_init,
                                    keeper_handle, NULL};

int tr_kv_start(tr_host *h, const tr_kv_config *cfg) {
  tr_spawn_opts o = {0};
  tr_kv_config c = {0};
  const char *dir = cfg && cfg->dir ? cfg->dir : "./troupe-data";
  if (!h)
    return TR_EINVAL;
  if (tr_whereis(h, "router"))
    return TR_EEXIST;
  if (strlen(dir) >= sizeof((kv_setup *)0)->dir)
    return TR_ERANGE;
  if (cfg && cfg->redis) {
    char why[400];
    if (strlen(cfg->redis) >= sizeof((kv_setup *)0)->redis)
      return TR_ERANGE;
    if (tr_kv_redis_url_check(cfg->redis, why, sizeof why)) {
      tr_host_log(h, TR_LOG_ERROR, "kv: %s", why);
      return TR_EINVAL;
    }
  }
  if (cfg)
    c = *cfg;
  c.dir = dir;
  o.name = "kv.config";
  o.ctx = &c;
  return tr_spawn(h, &keeper, NULL, &o, NULL);
}

static uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* Is the reply the store's "still loading"? */
static int loading(const tr_msg *reply) {
  const char *why;
  size_t len;
  return tr_msg_kind(reply) == TR_KIND_ERROR && tr_msg_is(reply, "error") &&
         tr_msg_unpack(reply, "s", &why, &len) == TR_OK &&
         len >= strlen(LOADING) && !memcmp(why, LOADING, strlen(LOADING));
}

/* One request through the router; *reply on success. Asked again while
 * the store is loading, within REQUEST_MS in all. An error reply's text
 * goes to *err and gives TR_EINVAL. */
static int request(tr_host *h, tr_msg *m, tr_msg **reply, char **err) {
  tr_pid router = tr_whereis(h, "router"), keeper = tr_whereis(h, "kv.config");
  uint64_t start = now_ms(), spent;
  tr_msg *last = NULL; /* the last "still loading" */
  const char *why;
  size_t len;
  int rc;
  if (err)
    *err = NULL;
  if (!m)
    return TR_ENOMEM;
  if (!router) {
    tr_msg_free(m);
    return TR_ENOPROC;
  }
  for (;;) {
    tr_msg *again = tr_msg_clone(m), *r = NULL;
    if (!again) {
      tr_msg_free(m);
      return TR_ENOMEM;
    }
    spent = now_ms() - start;
    rc = tr_host_call(h, router, again,
                      spent < REQUEST_MS ? REQUEST_MS - (uint32_t)spent : 1,
                      reply);
    if (rc == TR_ETIMEDOUT && last) { /* it was loading: that is the news */
      *reply = last;
      last = NULL;
      rc = TR_EREPLY;
    }
    if (rc != TR_EREPLY || !loading(*reply) || !keeper ||
        now_ms() - start + RETRY_MS + SLACK_MS >= REQUEST_MS)
      break;
    tr_msg_free(last);
    last = *reply;
    *reply = NULL;
    /* A pause answered late (a busy host) is still a pause; one that
     * cannot be had at all leaves the loading error as the answer. */
    rc = tr_host_call(h, keeper, tr_msg_pack("pause", "i", (int)RETRY_MS),
                      RETRY_MS + 1000u, &r);
    tr_msg_free(r);
    if (rc == TR_ESTOPPED)
      break;
    if (rc != TR_OK && rc != TR_ETIMEDOUT) {
      *reply = last;
      last = NULL;
      rc = TR_EREPLY;
      break;
    }
  }
  tr_msg_free(last);
  tr_msg_free(m);
  if (rc != TR_EREPLY)
    return rc;
  if (err && tr_msg_unpack(*reply, "s", &why, &len) == TR_OK &&
      (*err = malloc(len + 1))) {
    memcpy(*err, why, len);
    (*err)[len] = '\0';
  }
  tr_msg_free(*reply);
  *reply = NULL;
  return TR_EINVAL;
}

int tr_kv_set(tr_host *h, const void *key, size_t klen, const void *value,
              size_t vlen, char **err) {
  tr_msg *reply = NULL;
  int rc = request(h, tr_msg_pack("kv", "sSS", "set", key, klen, value, vlen),
                   &reply, err);
  tr_msg_free(reply);
  return rc;
}

int tr_kv_delete(tr_host *h, const void *key, size_t klen, int *existed,
                 char **err) {
  tr_msg *reply = NULL;
  int rc =
      request(h, tr_msg_pack("kv", "sS", "delete", key, klen), &reply, err);
  if (existed && (rc || tr_value_bool(tr_msg_arg(reply, 0), existed)))
    *existed = 0;
  tr_msg_free(reply);
  return rc;
}

int tr_kv_get(tr_host *h, const void *key, size_t klen, char **value,
              size_t *len, char **err) {
  tr_msg *reply = NULL;
  const char *v;
  size_t n;
  int rc = request(h, tr_msg_pack("kv", "sS", "get", key, klen), &reply, err);
  *value = NULL;
  *len = 0;
  if (rc)
    return rc;
  if (tr_value_str(tr_msg_arg(reply, 0), &v, &n) == TR_OK) {
    if (!(*value = malloc(n ? n : 1))) {
      tr_msg_free(reply);
      return TR_ENOMEM;
    }
    memcpy(*value, v, n);
    *len = n;
  }
  tr_msg_free(reply);
  return TR_OK;
}

int tr_kv_set_with(tr_host *h, const void *key, size_t klen, const void *value,
                   size_t vlen, const tr_kv_set_opts *opts, int *done,
                   char **err) {
  tr_msg *m = tr_msg_pack("kv", "sSS", "set", key, klen, value, vlen), *reply;
  uint32_t n = 0;
  int rc, b = 0;
  if (done)
    *done = 0;
  if (opts)
    n = (opts->px > 0) + !!opts->nx + !!opts->xx + !!opts->keepttl;
  if (m && n) { /* else a plain set: the store's fast path */
    tr_msg_add_map(m, n);
    if (opts->px > 0) {
      tr_msg_add_cstr(m, "px");
      tr_msg_add_int(m, opts->px);
    }
    if (opts->nx) {
      tr_msg_add_cstr(m, "nx");
      tr_msg_add_bool(m, 1);
    }
    if (opts->xx) {
      tr_msg_add_cstr(m, "xx");
      tr_msg_add_bool(m, 1);
    }
    if (opts->keepttl) {
      tr_msg_add_cstr(m, "keepttl");
      tr_msg_add_bool(m, 1);
    }
  }
  reply = NULL;
  rc = request(h, m, &reply, err);
  if (!rc && done && tr_value_bool(tr_msg_arg(reply, 0), &b) == TR_OK)
    *done = b;
  tr_msg_free(reply);
  return rc;
}

/* A request whose answer is one integer, into *out (may be NULL). */
static int int_request(tr_host *h, tr_msg *m, int64_t *out, char **err) {
  tr_msg *reply = NULL;
  int64_t v = 0;
  int rc = request(h, m, &reply, err);
  if (!rc && tr_value_int(tr_msg_arg(reply, 0), &v))
    rc = TR_EBADMSG;
  if (out)
    *out = rc ? 0 : v;
  tr_msg_free(reply);
  return rc;
}

int tr_kv_exists(tr_host *h, const void *key, size_t klen, int *exists,
                 char **err) {
  int64_t n = 0;
  int rc =
      int_request(h, tr_msg_pack("kv", "sS", "exists", key, klen), &n, err);
  if (exists)
    *exists = n > 0;
  return rc;
}

int tr_kv_incr(tr_host *h, const void *key, size_t klen, int64_t by,
               int64_t *value, char **err) {
  return int_request(h, tr_msg_pack("kv", "sSI", "incr", key, klen, by), value,
                     err);
}

int tr_kv_expire(tr_host *h, const void *key, size_t klen, int64_t ms,
                 int *existed, char **err) {
  tr_msg *reply = NULL;
  int rc = request(h, tr_msg_pack("kv", "sSI", "expire", key, klen, ms), &reply,
                   err);
  if (existed && (rc || tr_value_bool(tr_msg_arg(reply, 0), existed)))
    *existed = 0;
  tr_msg_free(reply);
  return rc;
}

int tr_kv_ttl(tr_host *h, const void *key, size_t klen, int64_t *ms,
              char **err) {
  return int_request(h, tr_msg_pack("kv", "sS", "ttl", key, klen), ms, err);
}

int tr_kv_request(tr_host *h, tr_msg *m, tr_msg **reply, char **err) {
  *reply = NULL;
  if (m && !tr_msg_is(m, "kv")) {
    tr_msg_free(m);
    if (err)
      *err = NULL;
    return TR_EINVAL;
  }
  return request(h, m, reply, err);
}
