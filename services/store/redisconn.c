/*
 * redisconn.c -- the store in Redis's connection: the URL, hiredis's async
 * API on the host's libuv loop, the requests in flight, their timeout, and
 * reconnecting with backoff.
 *
 * States: connecting (commands are queued by hiredis and go once it is
 * up), up, down (a retry is due: requests fail at once with "redis
 * unavailable: why"). The log hears of each change once: connected, cannot
 * connect, lost, reconnected; the retries in between log at debug level.
 *
 * Timeouts: hiredis 0.14 has none for async commands, so the actor's own
 * tick (a tr_timeout every TICK_MS while anything is in flight or a
 * connect is under way) looks at the oldest request: Redis answers in
 * order, so once it is past its deadline Redis is taken for hung, the
 * connection dropped (every request in flight answered "redis unavailable:
 * no answer within N ms") and made anew.
 *
 * The socket is watched by a uv_poll_t of our own (the adapter below):
 * hiredis 0.14's libuv adapter drops a poll that reports an error, so a
 * refused connect was never seen and hung until the timeout. The handle
 * is freed when uv_close is done with it, whatever became of the rest.
 * A host given by name is looked up once at start (blocking, as hiredis
 * would on every connect) and again in libuv's thread pool after each
 * failure, so that a reconnect never blocks the loop on DNS and yet
 * follows a server that moved.
 * The timers are the actor's (tr_timeout: messages). Dropping a context
 * (redisAsyncFree) runs every pending callback at once with no reply,
 * which answers those callers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <uv.h>

#include "redis.h"

#define TICK_MS 100u

uint64_t tr__redis_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* --------------------------------------------------------- the adapter */

/* hiredis's event hooks on a uv_poll_t: what it wants watched, and its
 * context (NULL once hiredis let go of it). */
typedef struct watch {
  uv_poll_t poll;
  redisAsyncContext *ac;
  int events;
} watch;

static void on_poll(uv_poll_t *hd, int status, int events) {
  watch *w = hd->data;
  if (status < 0) /* an error on the socket: hiredis reads it and gives up */
    events = w->events & (UV_READABLE | UV_WRITABLE);
  if (w->ac && (events & UV_READABLE))
    redisAsyncHandleRead(w->ac);
  if (w->ac && (events & UV_WRITABLE))
    redisAsyncHandleWrite(w->ac);
  /* libuv stopped the handle on the error; if hiredis kept the connection
   * after all, it is watched again as before */
  if (status < 0 && w->ac && w->events)
    uv_poll_start(&w->poll, w->events, on_poll);
}

static void watch_set(watch *w, int events) {
  if (events == w->events)
    return; /* no change for the kernel's poll set: each costs a syscall */
  w->events = events;
  if (events)
    uv_poll_start(&w->poll, events, on_poll);
  else
    uv_poll_stop(&w->poll);
}

static void add_read(void *p) {
  watch_set(p, ((watch *)p)->events | UV_READABLE);
}
static void del_read(void *p) {
  watch_set(p, ((watch *)p)->events & ~UV_READABLE);
}
static void add_write(void *p) {
  watch_set(p, ((watch *)p)->events | UV_WRITABLE);
}
static void del_write(void *p) {
  watch_set(p, ((watch *)p)->events & ~UV_WRITABLE);
}

static void watch_closed(uv_handle_t *hd) { free(hd->data); }

static void cleanup(void *p) {
  watch *w = p;
  w->ac = NULL;
  uv_close((uv_handle_t *)&w->poll, watch_closed);
}

static int attach(redisAsyncContext *ac, uv_loop_t *loop) {
  watch *w = calloc(1, sizeof *w);
  if (!w)
    return -1;
  if (uv_poll_init(loop, &w->poll, ac->c.fd)) {
    free(w);
    return -1;
  }
  w->ac = ac;
  w->poll.data = w;
  ac->ev.data = w;
  ac->ev.addRead = add_read;
  ac->ev.delRead = del_read;
  ac->ev.addWrite = add_write;
  ac->ev.delWrite = del_write;
  ac->ev.cleanup = cleanup;
  add_write(w); /* the connect completes (or fails) when it is writable */
  return 0;
}

/* ---------------------------------------------------------- addresses */

typedef struct tr__rresolve {
  uv_getaddrinfo_t req;
  tr__rconn *c; /* NULL once the connection let go of it */
} rresolve;

static int numeric(const char *host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host, buf) == 1 ||
         inet_pton(AF_INET6, host, buf) == 1;
}

/* The first IPv4 address of ai, else its first IPv6 one (hiredis's order),
 * as text into c->ip. 0, or -1 when there is none. */
static int pick(tr__rconn *c, const struct addrinfo *ai) {
  const struct addrinfo *a, *v6 = NULL;
  for (a = ai; a; a = a->ai_next) {
    if (a->ai_family == AF_INET)
      return uv_ip4_name((const struct sockaddr_in *)a->ai_addr, c->ip,
                         sizeof c->ip);
    if (a->ai_family == AF_INET6 && !v6)
      v6 = a;
  }
  return v6 ? uv_ip6_name((const struct sockaddr_in6 *)v6->ai_addr, c->ip,
                          sizeof c->ip)
            : -1;
}

static void resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *ai) {
  rresolve *r = req->data;
  if (r->c) {
    r->c->resolving = NULL;
    if (status == 0)
      pick(r->c, ai);
    else
      tr_host_log(r->c->h, TR_LOG_DEBUG, "kv: redis: cannot look up %s: %s",
                  r->c->url.host, uv_strerror(status));
  }
  uv_freeaddrinfo(ai);
  free(r);
}

/* Looks the host up anew, in the thread pool (a named host only). */
static void look_up(tr__rconn *c) {
  struct addrinfo hints;
  rresolve *r;
  if (c->resolving || c->closing || numeric(c->url.host) ||
      !(r = calloc(1, sizeof *r)))
    return;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  r->c = c;
  r->req.data = r;
  if (uv_getaddrinfo(tr_host_loop(c->h), &r->req, resolved, c->url.host, NULL,
                     &hints)) {
    free(r);
    return;
  }
  c->resolving = r;
}

/* The first lookup, at start: blocking, once. */
static void first_look_up(tr__rconn *c) {
  struct addrinfo hints;
  uv_getaddrinfo_t req;
  if (numeric(c->url.host)) {
    snprintf(c->ip, sizeof c->ip, "%s", c->url.host);
    return;
  }
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  if (uv_getaddrinfo(tr_host_loop(c->h), &req, NULL, c->url.host, NULL,
                     &hints) == 0) {
    pick(c, req.addrinfo);
    uv_freeaddrinfo(req.addrinfo);
  }
}

/* ------------------------------------------------------------------ URL */

int tr__redis_url_parse(const char *text, tr__redis_url *out, char *err,
                        size_t errlen) {
  const char *p, *at, *end, *hs, *he;
  char *num_end;
  long v;
  memset(out, 0, sizeof *out);
  out->port = 6379;
#define BAD(...)                                                               \
  do {                                                                         \
    snprintf(err, errlen, __VA_ARGS__);                                        \
    return -1;                                                                 \
  } while (0)
  if (!text || strncmp(text, "redis://", 8))
    BAD("a Redis URL is redis://HOST[:PORT][/DB], got '%s'",
        text ? text : "nothing");
  p = text + 8;
  end = p + strcspn(p, "/");
  at = memchr(p, '@', (size_t)(end - p));
  if (at) { /* [user]:password@ (a user is not sent: AUTH password) */
    const char *colon = memchr(p, ':', (size_t)(at - p));
    size_t n = colon ? (size_t)(at - colon - 1) : 0;
    if (!colon || !n || n >= sizeof out->password)
      BAD("the password in '%s' is not :PASSWORD@ (1..%d bytes)", text,
          (int)sizeof out->password - 1);
    memcpy(out->password, colon + 1, n);
    p = at + 1;
  }
  if (*p == '[') { /* [v6]:port */
    hs = p + 1;
    if (!(he = memchr(hs, ']', (size_t)(end - hs))))
      BAD("the host in '%s' has no closing ]", text);
    p = he + 1;
  } else {
    hs = p;
    he = memchr(p, ':', (size_t)(end - p));
    if (!he)
      he = end;
    p = he;
  }
  if (he == hs || (size_t)(he - hs) >= sizeof out->host)
    BAD("the host in '%s' is missing or too long", text);
  memcpy(out->host, hs, (size_t)(he - hs));
  if (p < end && *p == ':') {
    errno = 0;
    v = strtol(p + 1, &num_end, 10);
    if (num_end == p + 1 || num_end != end || errno || v < 1 || v > 65535)
      BAD("the port in '%s' is not 1..65535", text);
    out->port = (int)v;
  } else if (p != end) {
    BAD("'%s' has something after the host that is not :PORT", text);
  }
  if (*end == '/' && end[1]) {
    errno = 0;
    v = strtol(end + 1, &num_end, 10);
    if (*num_end || errno || v < 0 || v > 1000000)
      BAD("the database in '%s' is not a number >= 0", text);
    out->db = (int)v;
  }
#undef BAD
  snprintf(out->shown, sizeof out->shown, "redis://%s%s%s%s:%d/%d",
           out->password[0] ? ":***@" : "", strchr(out->host, ':') ? "[" : "",
           out->host, strchr(out->host, ':') ? "]" : "", out->port, out->db);
  return 0;
}

/* ----------------------------------------------------------- in flight */

static void unlink_pend(tr__rconn *c, tr__rpend *p) {
  if (p->prev)
    p->prev->next = p->next;
  else
    c->head = p->next;
  if (p->next)
    p->next->prev = p->prev;
  else
    c->tail = p->prev;
  c->inflight--;
}

static void fail(tr__rconn *c, tr_pid caller, uint64_t session,
                 const char *why) {
  if (caller && !c->closing)
    tr_reply_error_to(c->h, caller, session, "kv: redis unavailable: %s", why);
}

static void arm_tick(tr__rconn *c) {
  if (c->tick_timer || c->closing ||
      (!c->inflight && c->state != TR__R_CONNECTING))
    return;
  if (tr_timeout(c->h, c->self, TICK_MS, &c->tick_timer))
    c->tick_timer = 0;
}

static void setup_failed(tr__rconn *c, const char *why);
static void became_up(tr__rconn *c);

/* hiredis's answer to one command; reply NULL when the connection went
 * (ac->errstr then says why, if hiredis knows). */
static void on_reply(redisAsyncContext *ac, void *reply, void *priv) {
  tr__rpend *p = priv;
  tr__rconn *c = p->conn;
  redisReply *r = reply;
  char err[600];
  unlink_pend(c, p);
  if (p->answer == TR__RA_SETUP) {
    if (r && r->type == REDIS_REPLY_ERROR && ac == c->ac) {
      snprintf(err, sizeof err, "Redis refused %s: %.*s",
               p->caller == 0   ? "AUTH"
               : p->caller == 1 ? "SELECT"
                                : "PING",
               (int)r->len, r->str);
      setup_failed(c, err);
    } else if (r && ac == c->ac && --c->setup_left == 0) {
      became_up(c);
    }
  } else if (p->caller && !c->closing) {
    if (!r && ac->err) {
      snprintf(err, sizeof err, "%s (%s)", ac->errstr, c->url.shown);
      fail(c, p->caller, p->session, err);
    } else if (!r) {
      fail(c, p->caller, p->session, c->why[0] ? c->why : "connection closed");
    } else {
      tr_msg *m = tr__redis_answer(p->answer, c->url.db, r, err, sizeof err);
      if (m)
        tr_reply_to(c->h, p->caller, p->session, m);
      else
        tr_reply_error_to(c->h, p->caller, p->session, "%s", err);
    }
  }
  free(p);
}

/* ---------------------------------------------------------- connecting */

static void connect_now(tr__rconn *c);

static void schedule_retry(tr__rconn *c) {
  if (c->closing || c->retry_timer)
    return;
  if (tr_timeout(c->h, c->self, c->backoff_ms, &c->retry_timer))
    c->retry_timer = 0;
  c->backoff_ms = c->backoff_ms * 2 > TR__REDIS_BACKOFF_MAX
                      ? TR__REDIS_BACKOFF_MAX
                      : c->backoff_ms * 2;
}

/* The connection is gone (or never came): down, said once, retried. */
static void went_down(tr__rconn *c, const char *why) {
  int was_up = c->state == TR__R_UP;
  snprintf(c->why, sizeof c->why, "%s (%s)", why, c->url.shown);
  c->ac = NULL;
  c->state = TR__R_DOWN;
  if (c->closing)
    return;
  if (was_up && tr__redis_now() - c->up_since >= TR__REDIS_BACKOFF_MAX)
    c->backoff_ms = TR__REDIS_BACKOFF_MIN; /* else it flaps: back off */
  if (was_up) {
    c->down_since = tr__redis_now();
    tr_host_log(c->h, TR_LOG_WARN,
                "kv: redis: lost the connection to %s: %s; reconnecting",
                c->url.shown, why);
    c->said_down = 1;
  } else if (!c->said_down) {
    c->down_since = tr__redis_now();
    tr_host_log(c->h, TR_LOG_WARN,
                "kv: redis: cannot connect to %s: %s; retrying (requests fail "
                "meanwhile)",
                c->url.shown, why);
    c->said_down = 1;
  } else {
    tr_host_log(c->h, TR_LOG_DEBUG, "kv: redis: %s still down: %s",
                c->url.shown, why);
  }
  schedule_retry(c);
  look_up(c); /* the host may have moved */
}

/* Drops the context ourselves (a timeout, a refused setup): its pending
 * callbacks run now, answering their callers with c->why. */
static void drop(tr__rconn *c, const char *why) {
  redisAsyncContext *ac = c->ac;
  if (!ac)
    return;
  went_down(c, why); /* c->ac is NULL now: on_disconnect ignores it */
  redisAsyncFree(ac);
}

static void setup_failed(tr__rconn *c, const char *why) { drop(c, why); }

/* Connected, and AUTH and SELECT (if any) answered. */
static void became_up(tr__rconn *c) {
  if (c->said_down && c->ever_up)
    tr_host_log(c->h, TR_LOG_WARN,
                "kv: redis: reconnected to %s after %.1f s down", c->url.shown,
                (double)(tr__redis_now() - c->down_since) / 1000.0);
  else
    tr_host_log(c->h, TR_LOG_INFO, "kv: redis: connected to %s%s", c->url.shown,
                c->said_down ? " (it was down)" : "");
  c->state = TR__R_UP;
  c->up_since = tr__redis_now();
  c->ever_up = 1;
  c->said_down = 0;
  c->why[0] = '\0';
}

static void on_connect(const redisAsyncContext *ac, int status) {
  tr__rconn *c = ac->data;
  if (ac != c->ac)
    return;
  if (status != REDIS_OK) { /* hiredis frees ac after this */
    went_down(c, ac->errstr[0] ? ac->errstr : "cannot connect");
    return;
  }
  if (!c->setup_left)
    became_up(c);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  tr__rconn *c = ac->data;
  (void)status;
  if (ac != c->ac) /* dropped by us: said already */
    return;
  went_down(c, ac->err && ac->errstr[0] ? ac->errstr
                                        : "the server closed the connection");
}

static tr__rpend *new_pend(tr__rconn *c, tr_pid caller, uint64_t session,
                           int answer) {
  tr__rpend *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->conn = c;
  p->caller = caller;
  p->session = session;
  p->answer = answer;
  p->deadline = tr__redis_now() + c->timeout_ms;
  return p;
}

/* Queues argv on the context; p joins the list. 0, or -1 (p freed). */
static int send_argv(tr__rconn *c, tr__rpend *p, int argc, const char **argv,
                     const size_t *argvlen) {
  if (redisAsyncCommandArgv(c->ac, on_reply, p, argc, argv, argvlen) !=
      REDIS_OK) {
    free(p);
    return -1;
  }
  p->prev = c->tail;
  if (c->tail)
    c->tail->next = p;
  else
    c->head = p;
  c->tail = p;
  c->inflight++;
  arm_tick(c);
  return 0;
}

/* AUTH and SELECT (when the URL asks for them) and a PING, queued ahead
 * of everything: the store is up once Redis has answered them all, not
 * when the socket connects (a stopped Redis's kernel accepts it). */
static int setup(tr__rconn *c) {
  static const char *const what[] = {"AUTH", "SELECT", "PING"};
  char db[16];
  const char *argv[2];
  size_t len[2];
  int i, argc;
  tr__rpend *p;
  for (i = 0; i < 3; i++) {
    argv[0] = what[i];
    len[0] = strlen(what[i]);
    argc = 2;
    if (i == 0 && c->url.password[0]) {
      argv[1] = c->url.password;
      len[1] = strlen(c->url.password);
    } else if (i == 1 && c->url.db) {
      argv[1] = db;
      len[1] = (size_t)snprintf(db, sizeof db, "%d", c->url.db);
    } else if (i == 2) {
      argc = 1;
    } else {
      continue;
    }
    /* the caller field says which it was, for the error's text */
    if (!(p = new_pend(c, (tr_pid)i, 0, TR__RA_SETUP)) ||
        send_argv(c, p, argc, argv, len))
      return -1;
    c->setup_left++;
  }
  return 0;
}

static void connect_now(tr__rconn *c) {
  redisAsyncContext *ac;
  c->state = TR__R_CONNECTING;
  c->connect_began = tr__redis_now();
  c->setup_left = 0;
  if (!c->ip[0]) {
    char why[300];
    snprintf(why, sizeof why, "cannot find the address of %s", c->url.host);
    went_down(c, why);
    return;
  }
  ac = redisAsyncConnect(c->ip, c->url.port);
  if (!ac) {
    went_down(c, "out of memory");
    return;
  }
  if (ac->err) {
    char why[256];
    snprintf(why, sizeof why, "%s", ac->errstr);
    redisAsyncFree(ac);
    went_down(c, why);
    return;
  }
  ac->data = c;
  if (attach(ac, tr_host_loop(c->h))) {
    redisAsyncFree(ac);
    went_down(c, "cannot watch its socket on the loop");
    return;
  }
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  c->ac = ac;
  if (setup(c)) {
    drop(c, "out of memory");
    return;
  }
  arm_tick(c);
}

void tr__rconn_start(tr__rconn *c) {
  c->backoff_ms = TR__REDIS_BACKOFF_MIN;
  first_look_up(c);
  connect_now(c);
}

void tr__rconn_stop(tr__rconn *c) {
  redisAsyncContext *ac = c->ac;
  c->closing = 1;
  if (c->retry_timer)
    tr_cancel(c->h, c->retry_timer);
  if (c->tick_timer)
    tr_cancel(c->h, c->tick_timer);
  c->retry_timer = c->tick_timer = 0;
  if (c->resolving) { /* its callback frees it, whenever it runs */
    c->resolving->c = NULL;
    uv_cancel((uv_req_t *)&c->resolving->req);
    c->resolving = NULL;
  }
  c->ac = NULL;
  if (ac)
    redisAsyncFree(ac); /* the pending callbacks free their requests */
}

/* The tick: a connect or a request past its time drops the connection. */
static void tick(tr__rconn *c) {
  uint64_t now = tr__redis_now();
  char why[128];
  c->tick_timer = 0;
  if (c->state == TR__R_CONNECTING && c->ac &&
      now - c->connect_began >= c->timeout_ms) {
    snprintf(why, sizeof why, "no connection within %u ms", c->timeout_ms);
    drop(c, why);
  } else if (c->head && c->head->deadline <= now) {
    snprintf(why, sizeof why, "no answer within %u ms", c->timeout_ms);
    drop(c, why);
  }
  arm_tick(c);
}

void tr__rconn_flush(tr__rconn *c) {
  if (c->ac && (c->ac->c.flags & REDIS_CONNECTED) && c->ac->c.obuf &&
      sdslen(c->ac->c.obuf))
    redisAsyncHandleWrite(c->ac);
}

int tr__rconn_timer(tr__rconn *c, uint64_t id) {
  if (id && id == c->retry_timer) {
    c->retry_timer = 0;
    if (c->state == TR__R_DOWN)
      connect_now(c);
    return 1;
  }
  if (id && id == c->tick_timer) {
    tick(c);
    return 1;
  }
  return 0;
}

void tr__rconn_command(tr__rconn *c, const tr_msg *m, int answer, int argc,
                       const char **argv, const size_t *argvlen) {
  int call = tr_msg_kind(m) == TR_KIND_CALL;
  tr__rpend *p;
  if (c->state == TR__R_DOWN || !c->ac) {
    if (call)
      fail(c, tr_msg_from(m), tr_msg_session(m),
           c->why[0] ? c->why : "not connected");
    return;
  }
  if (c->inflight >= TR__REDIS_MAX_INFLIGHT) {
    if (call)
      tr_reply_error(c->h, m,
                     "kv: redis: %u requests await Redis already; try again",
                     TR__REDIS_MAX_INFLIGHT);
    return;
  }
  if (!(p = new_pend(c, call ? tr_msg_from(m) : 0, tr_msg_session(m),
                     answer))) {
    if (call)
      tr_reply_error(c->h, m, "kv: out of memory");
    return;
  }
  if (send_argv(c, p, argc, argv, argvlen) && call)
    fail(c, tr_msg_from(m), tr_msg_session(m),
         c->ac->errstr[0] ? c->ac->errstr : "the connection is closing");
}
