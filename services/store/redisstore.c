/*
 * redisstore.c -- the store in Redis, the actor ("kv"): it serves the
 * store protocol of troupe_services.h from a Redis server (redisops.c maps
 * each request to a command, redisconn.c keeps the connection), so
 * actor.kv, tr_kv_* and the RESP gateway work over it unchanged. It has no
 * writer and keeps no data: a change is acknowledged once Redis has
 * answered it, and is as durable as Redis's own settings make it.
 *
 * It answers each request when Redis does, in the order sent; while
 * Redis is down each request fails at once ("kv: redis unavailable:
 * why"), and a request Redis does not answer within timeout_ms fails then
 * (the connection is taken for hung, dropped and made anew). Nothing waits
 * in its mailbox for Redis.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis.h"

#define CAPACITY (1u << 16)

typedef struct rstore {
  tr__rconn *conn; /* on the heap: its requests point to it */
} rstore;

static int rstore_init(tr_actor *self, void *state, tr_msg *args) {
  rstore *s = state;
  const tr_kv_config *cfg = tr_actor_ctx(self);
  tr_host *h = tr_actor_host(self);
  char err[400];
  (void)args;
  if (!cfg || !cfg->redis) {
    tr_host_log(h, TR_LOG_ERROR, "kv: the redis store has no redis URL");
    return -1;
  }
  if (!(s->conn = calloc(1, sizeof *s->conn))) {
    tr_host_log(h, TR_LOG_ERROR, "kv: out of memory");
    return -1;
  }
  if (tr__redis_url_parse(cfg->redis, &s->conn->url, err, sizeof err)) {
    tr_host_log(h, TR_LOG_ERROR, "kv: %s", err);
    free(s->conn);
    s->conn = NULL;
    return -1;
  }
  s->conn->h = h;
  s->conn->self = tr_self(self);
  s->conn->timeout_ms =
      cfg->redis_timeout_ms ? cfg->redis_timeout_ms : TR__REDIS_TIMEOUT_MS;
  tr__rconn_start(s->conn);
  return 0;
}

static int rstore_handle(tr_actor *self, void *state, tr_msg *m) {
  rstore *s = state;
  int kind;
  if (!m)
    return TR_CONTINUE;
  kind = tr_msg_kind(m);
  if (kind == TR_KIND_TIMEOUT) {
    tr__rconn_timer(s->conn, tr_msg_session(m));
    return TR_CONTINUE;
  }
  if (kind == TR_KIND_CALL || kind == TR_KIND_SEND) {
    tr__redis_serve(s->conn, m);
    if (tr_mailbox_count(tr_actor_host(self), tr_self(self)) == 0)
      tr__rconn_flush(s->conn);
  }
  return TR_CONTINUE;
}

static void rstore_terminate(tr_actor *self, void *state, const char *why) {
  rstore *s = state;
  (void)self;
  (void)why;
  if (!s->conn)
    return;
  tr__rconn_stop(s->conn);
  free(s->conn);
  s->conn = NULL;
}

static const tr_behaviour rstore_behaviour = {
    "kv.redis", sizeof(rstore), rstore_init, rstore_handle, rstore_terminate};

int tr_kv_redis_store_start(tr_host *h, void *config, tr_pid *out) {
  tr_spawn_opts o = {0};
  o.capacity = CAPACITY;
  o.ctx = config; /* read by init only */
  return tr_spawn(h, &rstore_behaviour, NULL, &o, out);
}

int tr_kv_redis_url_check(const char *url, char *err, size_t errlen) {
  tr__redis_url u;
  char why[400];
  if (tr__redis_url_parse(url, &u, why, sizeof why)) {
    if (err && errlen)
      snprintf(err, errlen, "%s", why);
    return TR_EINVAL;
  }
  return TR_OK;
}
