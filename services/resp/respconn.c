/*
 * respconn.c -- one client connection of the RESP gateway, an actor: it
 * reads its socket, parses requests with hiredis's redisReader (objects
 * made by the callbacks below: the arguments are copied into one buffer,
 * no object per argument), runs them (respcmd.c), each call to the store
 * taking a slot in a ring, and writes the replies in request order however
 * the store answers them. Output is gathered and written once per read
 * batch or per batch of answers.
 *
 * Backpressure: past max_inflight slots the connection stops parsing and
 * reading until answers drain; when the store is full it waits for room
 * (tr_notify_room); past max_output bytes of unread replies the client is
 * disconnected; a request longer than max_request, with more than
 * max_args arguments, or malformed, is a protocol error: answered, then
 * the connection is closed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

/* ------------------------------------------------------------ buffers */

static int rbuf_grow(tr__rbuf *b, size_t n) {
  size_t cap;
  char *p;
  if (b->len + n <= b->cap)
    return 0;
  for (cap = b->cap ? b->cap : 256; cap < b->len + n; cap *= 2)
    ;
  if (!(p = realloc(b->p, cap))) {
    b->oom = 1;
    return -1;
  }
  b->p = p;
  b->cap = cap;
  return 0;
}

void tr__rbuf_add(tr__rbuf *b, const void *s, size_t n) {
  if (n && !rbuf_grow(b, n)) {
    memcpy(b->p + b->len, s, n);
    b->len += n;
  }
}

void tr__rbuf_free(tr__rbuf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

/* prefix, a decimal, \r\n */
static void rbuf_num(tr__rbuf *b, char prefix, int64_t v) {
  char tmp[24], *e = tmp + sizeof tmp, *q = e;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  if (rbuf_grow(b, 26))
    return;
  do
    *--q = (char)('0' + u % 10);
  while (u /= 10);
  if (v < 0)
    *--q = '-';
  b->p[b->len++] = prefix;
  memcpy(b->p + b->len, q, (size_t)(e - q));
  b->len += (size_t)(e - q);
  b->p[b->len++] = '\r';
  b->p[b->len++] = '\n';
}

void tr__rbuf_simple(tr__rbuf *b, const char *s) {
  size_t n = strlen(s);
  if (rbuf_grow(b, n + 3))
    return;
  b->p[b->len++] = '+';
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len++] = '\r';
  b->p[b->len++] = '\n';
}

void tr__rbuf_error(tr__rbuf *b, const char *fmt, ...) {
  char text[512];
  size_t i, n;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  n = strlen(text);
  for (i = 0; i < n; i++) /* an error is one line */
    if (text[i] == '\r' || text[i] == '\n')
      text[i] = ' ';
  tr__rbuf_add(b, "-", 1);
  tr__rbuf_add(b, text, n);
  tr__rbuf_add(b, "\r\n", 2);
}

void tr__rbuf_int(tr__rbuf *b, int64_t v) { rbuf_num(b, ':', v); }
void tr__rbuf_array(tr__rbuf *b, int64_t n) { rbuf_num(b, '*', n); }
void tr__rbuf_nil(tr__rbuf *b) { tr__rbuf_add(b, "$-1\r\n", 5); }

void tr__rbuf_bulk(tr__rbuf *b, const char *s, size_t n) {
  rbuf_num(b, '$', (int64_t)n);
  if (!rbuf_grow(b, n + 2)) {
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len++] = '\r';
    b->p[b->len++] = '\n';
  }
}

/* ------------------------------------------------------------- parser */

/* The reader's objects: the request's array is the connection itself,
 * its strings are copied into c->abuf (each one's object the connection
 * too: the reader only checks it is not NULL); anything else is refused.
 * A NULL fails the parse (hiredis calls it out of memory): perr says why. */

static void *mk_array(const redisReadTask *t, int n) {
  tr__resp_conn *c = t->privdata;
  if (t->parent) {
    c->perr = "nested arrays are not requests";
    return NULL;
  }
  if (n < 0 || (uint32_t)n > c->gw->cfg.max_args) {
    c->perr = n < 0 ? "invalid multibulk length" : "too many arguments";
    return NULL;
  }
  c->argc = 0;
  c->argn = (uint32_t)n;
  c->abuf.len = 0;
  return c;
}

static void *mk_string(const redisReadTask *t, char *s, size_t len) {
  tr__resp_conn *c = t->privdata;
  if (!t->parent || t->type != REDIS_REPLY_STRING) {
    c->perr = "expected '*' (a request is an array of bulk strings; inline "
              "commands are not supported)";
    return NULL;
  }
  if (c->argc == c->argcap) {
    uint32_t cap = c->argcap ? c->argcap * 2 : 16;
    tr__rarg *a = realloc(c->argv, cap * sizeof *a);
    if (!a) {
      c->perr = "out of memory";
      return NULL;
    }
    c->argv = a;
    c->argcap = cap;
  }
  c->argv[c->argc].off = c->abuf.len;
  c->argv[c->argc].len = len;
  tr__rbuf_add(&c->abuf, s, len);
  if (c->abuf.oom) {
    c->abuf.oom = 0;
    c->perr = "out of memory";
    return NULL;
  }
  c->argc++;
  return c;
}

static void *mk_integer(const redisReadTask *t, long long v) {
  tr__resp_conn *c = t->privdata;
  (void)v;
  c->perr = "expected '$', got ':'";
  return NULL;
}

static void *mk_nil(const redisReadTask *t) {
  tr__resp_conn *c = t->privdata;
  c->perr = "expected a bulk string, got a null";
  return NULL;
}

static void no_free(void *obj) { (void)obj; }

static const redisReplyObjectFunctions reader_fns = {
    mk_string, mk_array, mk_integer, mk_nil, no_free};

const char *tr__resp_arg(tr__resp_conn *c, uint32_t i, size_t *len) {
  *len = c->argv[i].len;
  return c->abuf.p + c->argv[i].off;
}

/* ------------------------------------------------------------- output */

static void conn_flush(tr__resp_conn *c);
static void conn_after(tr__resp_conn *c);

static void on_write(uv_write_t *req, int status) {
  tr__resp_conn *c = req->data;
  c->writing = 0;
  c->wbuf.len = 0;
  if (c->ended)
    return;
  if (status < 0) {
    tr__resp_close(c, uv_strerror(status));
    return;
  }
  conn_after(c);
}

/* Writes what out holds: at once as far as the socket takes it, the rest
 * through one uv_write; while that runs, out gathers the next batch. */
static void conn_flush(tr__resp_conn *c) {
  uv_buf_t b;
  int n;
  tr__rbuf t;
  if (c->out.oom || c->wbuf.oom) {
    tr__resp_close(c, "out of memory");
    return;
  }
  if (c->writing || !c->out.len || c->ended)
    return;
  b = uv_buf_init(c->out.p, (unsigned)c->out.len);
  n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
  if (n < 0 && n != UV_EAGAIN) {
    c->out.len = 0;
    tr__resp_close(c, uv_strerror(n));
    return;
  }
  if (n < 0)
    n = 0;
  c->gw->net_out += (uint64_t)n;
  if ((size_t)n == c->out.len) {
    c->out.len = 0;
    if (c->out.cap > (1u << 20)) /* a big reply went: let its room go */
      tr__rbuf_free(&c->out);
    return;
  }
  memmove(c->out.p, c->out.p + n, c->out.len - (size_t)n);
  c->out.len -= (size_t)n;
  t = c->wbuf; /* out is written from wbuf; out takes wbuf's old room */
  c->wbuf = c->out;
  c->out = t;
  c->out.len = 0;
  b = uv_buf_init(c->wbuf.p, (unsigned)c->wbuf.len);
  c->wreq.data = c;
  if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write)) {
    c->wbuf.len = 0;
    tr__resp_close(c, "write failed");
    return;
  }
  c->gw->net_out += c->wbuf.len;
  c->writing = 1;
}

/* ------------------------------------------------------------ slots */

static tr__rslot *slot_push(tr__resp_conn *c) {
  tr__rslot *s;
  if (c->count == c->cap) { /* grow the ring, unwrapping it */
    uint32_t cap = c->cap ? c->cap * 2 : 64, i;
    tr__rslot *r = malloc(cap * sizeof *r);
    if (!r)
      return NULL;
    for (i = 0; i < c->count; i++)
      r[i] = c->ring[(c->head + i) % c->cap];
    free(c->ring);
    c->ring = r;
    c->cap = cap;
    c->head = 0;
  }
  s = &c->ring[(c->head + c->count++) % c->cap];
  memset(s, 0, sizeof *s);
  return s;
}

tr__rbuf *tr__resp_reply(tr__resp_conn *c) {
  tr__rslot *s;
  if (!c->count)
    return &c->out;
  if (!(s = slot_push(c))) {
    c->out.oom = 1;
    return &c->out;
  }
  s->flags = TR__RS_READY;
  return &s->bytes;
}

/* Sends out, in order, every answered slot at the head of the ring. */
static void emit_ready(tr__resp_conn *c) {
  while (c->count) {
    tr__rslot *s = &c->ring[c->head];
    if (!(s->flags & TR__RS_READY))
      break;
    tr__resp_answer(c, s, s->reply, &c->out);
    tr_msg_free(s->reply);
    tr__rbuf_free(&s->bytes);
    c->head = (c->head + 1) % c->cap;
    c->count--;
  }
}

tr__rslot *tr__resp_slot(tr__resp_conn *c) {
  tr__rslot *s = slot_push(c);
  if (s)
    s->flags = TR__RS_READY;
  return s;
}

/* A slot for a call in flight; -1 when out of memory. */
static int track(tr__resp_conn *c, uint64_t session, int cmd, int flags,
                 int64_t arg) {
  tr__rslot *s = slot_push(c);
  if (!s)
    return -1;
  s->session = session;
  s->cmd = (uint8_t)cmd;
  s->flags = (uint8_t)flags;
  s->arg = arg;
  return 0;
}

int tr__resp_track(tr__resp_conn *c, uint64_t session, int cmd, int64_t arg) {
  return track(c, session, cmd, 0, arg);
}

/* Where a call goes: a request of the store straight to it, saving the
 * router's hop, while it runs; else the router, which holds requests while
 * the store restarts (and gets back, as its heir, what the store had
 * queued when it died). Once a connection has had to use the router it
 * stays with it until all its calls are answered, then looks the store up
 * again: a later request must not overtake one the router still holds. */
static tr_pid destination(tr__resp_conn *c, tr_msg *m) {
  if (!c->gw->router)
    c->gw->router = tr_whereis(c->h, "router");
  if (!tr_msg_is(m, "kv"))
    return c->gw->router;
  if (!c->store && c->count == 0)
    c->store = tr_whereis(c->h, "kv");
  if (c->store && tr_mailbox_room(c->h, c->store) == TR_ENOPROC)
    c->store = 0;
  return c->store ? c->store : c->gw->router;
}

int tr__resp_call(tr__resp_conn *c, tr_msg *m, int cmd, int flags,
                  int64_t arg) {
  uint64_t session;
  tr_pid to = destination(c, m);
  int rc = tr_call_if_room(c->h, c->pid, to, m, 0, &session);
  if (rc == TR_ENOPROC) { /* restarted? look again */
    c->gw->router = tr_whereis(c->h, "router");
    c->store = 0;
    return -1;
  }
  if (rc == TR_EFULL) {
    if (!c->room_wait && tr_notify_room(c->h, c->pid, to, 0, NULL) == TR_OK)
      c->room_wait = 1;
    return 1;
  }
  if (rc)
    return -1;
  if (track(c, session, cmd, flags, arg)) {
    c->out.oom = 1;
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------ running */

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);

static void on_alloc(uv_handle_t *hd, size_t size, uv_buf_t *buf) {
  tr__resp_conn *c = hd->data;
  (void)size;
  *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void set_reading(tr__resp_conn *c, int on) {
  if (on && !c->reading && !c->closing)
    c->reading = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0;
  else if (!on && c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
}

static void protocol_error(tr__resp_conn *c, const char *why) {
  tr__rbuf_error(tr__resp_reply(c), "ERR Protocol error: %s", why);
  c->quit = 1; /* close once the replies before it are out */
}

/* Runs what the reader holds, request by request, until it has no whole
 * request left, a limit is reached, or the router is full. */
static void conn_run(tr__resp_conn *c) {
  void *req;
  while (!c->closing && !c->quit && !c->room_wait) {
    if (!c->have_cmd) {
      if (c->count >= c->gw->cfg.max_inflight) {
        c->paused = 1;
        break;
      }
      c->perr = NULL;
      if (c->rd->ridx == -1 && c->rd->pos < c->rd->len &&
          c->rd->buf[c->rd->pos] != '*') { /* clearer than the reader */
        protocol_error(c, "expected '*' (a request is an array of bulk "
                          "strings; inline commands are not supported)");
        break;
      }
      if (redisReaderGetReply(c->rd, &req) != REDIS_OK) {
        protocol_error(c, c->perr ? c->perr : c->rd->errstr);
        break;
      }
      if (!req) {
        if (c->rd->len - c->rd->pos > c->gw->cfg.max_request)
          protocol_error(c, "the request is larger than max_request");
        break;
      }
      if (!c->argc)
        continue; /* an empty array, ignored as Redis does */
      c->have_cmd = 1;
      c->part = 0;
      c->gw->commands++;
      c->cmds++;
    }
    switch (tr__resp_exec(c)) {
    case TR__CMD_BLOCKED:
      return;
    case TR__CMD_CLOSE:
      c->quit = 1;
      /* fallthrough */
    default:
      c->have_cmd = 0;
    }
  }
}

/* After answers: out they go, and reading resumes if it waited for them. */
static void conn_after(tr__resp_conn *c) {
  emit_ready(c);
  if (c->paused && c->count < c->gw->cfg.max_inflight) {
    c->paused = 0;
    conn_run(c);
    emit_ready(c);
  }
  conn_flush(c);
  if ((c->quit || (c->eof && !c->have_cmd && !c->paused)) && !c->count) {
    if (!c->writing) /* else once the write is done */
      tr__resp_close(c, NULL);
    return;
  }
  if (!c->ended && c->out.len + c->wbuf.len > c->gw->cfg.max_output) {
    tr_host_log(c->h, TR_LOG_WARN,
                "resp: client %s closed: more than %zu bytes of replies "
                "unread",
                c->peer, c->gw->cfg.max_output);
    tr__resp_close(c, NULL);
    return;
  }
  set_reading(c, !c->paused && !c->room_wait && !c->quit && !c->eof);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  tr__resp_conn *c = st->data;
  if (n == UV_EOF) { /* answer what was asked, then close */
    c->eof = 1;
    set_reading(c, 0);
    conn_after(c);
    return;
  }
  if (n < 0) {
    tr__resp_close(c, uv_strerror((int)n));
    return;
  }
  if (!n)
    return;
  c->gw->net_in += (uint64_t)n;
  c->last_ms = uv_now(tr_host_loop(c->h));
  if (redisReaderFeed(c->rd, buf->base, (size_t)n) != REDIS_OK) {
    tr__resp_close(c, "out of memory");
    return;
  }
  conn_run(c);
  conn_after(c);
}

void tr__resp_close(tr__resp_conn *c, const char *why) {
  if (c->closing)
    return;
  c->closing = 1;
  if (why)
    tr_host_log(c->h, TR_LOG_DEBUG, "resp: client %s closed: %s", c->peer, why);
  set_reading(c, 0);
  tr_wake(c->self); /* its handle ends it */
}

static void on_idle(uv_timer_t *t) {
  tr__resp_conn *c = t->data;
  uint64_t now = uv_now(tr_host_loop(c->h));
  if (!c->count && !c->writing && now - c->last_ms >= c->gw->cfg.idle_ms)
    tr__resp_close(c, "idle");
}

/* ------------------------------------------------------------- actor */

static int conn_init(tr_actor *self, void *state, tr_msg *args) {
  tr__resp_conn *c = tr_actor_ctx(self);
  (void)args;
  *(tr__resp_conn **)state = c;
  c->self = self;
  c->pid = tr_self(self);
  return 0;
}

static int conn_handle(tr_actor *self, void *state, tr_msg *m) {
  tr__resp_conn *c = *(tr__resp_conn **)state;
  do {
    uint64_t session;
    uint32_t i;
    if (!m || c->closing)
      continue;
    if (tr_msg_kind(m) == TR_KIND_ROOM) {
      c->room_wait = 0;
      conn_run(c);
      continue;
    }
    if (tr_msg_kind(m) != TR_KIND_REPLY && tr_msg_kind(m) != TR_KIND_ERROR)
      continue;
    session = tr_msg_session(m);
    for (i = 0; i < c->count; i++) {
      tr__rslot *s = &c->ring[(c->head + i) % c->cap];
      if (s->session != session || (s->flags & TR__RS_READY))
        continue;
      s->flags |= TR__RS_READY;
      if (i == 0) { /* its turn now: no need to keep it */
        tr__resp_answer(c, s, m, &c->out);
        s->session = 0;
        s->bytes.len = 0;
        s->cmd = 0;
        s->flags = TR__RS_READY;
        emit_ready(c);
      } else {
        s->reply = tr_keep(self, m);
      }
      break;
    }
  } while (!c->closing && tr_mailbox_next(self, &m));
  if (c->closing)
    return TR_STOP;
  conn_after(c);
  return c->closing ? TR_STOP : TR_CONTINUE;
}

static void conn_closed(uv_handle_t *hd) {
  tr__resp_conn *c = hd->data;
  if (--c->handles)
    return;
  tr__rbuf_free(&c->out);
  tr__rbuf_free(&c->wbuf);
  free(c);
}

static void conn_terminate(tr_actor *self, void *state, const char *reason) {
  tr__resp_conn *c = *(tr__resp_conn **)state;
  tr__resp_gw *gw = c->gw;
  (void)self;
  (void)reason;
  c->ended = 1;
  set_reading(c, 0);
  if (!c->writing && c->out.len) { /* the last words, as far as they go */
    uv_buf_t b = uv_buf_init(c->out.p, (unsigned)c->out.len);
    uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
  }
  while (c->count) {
    tr__rslot *s = &c->ring[c->head];
    tr_msg_free(s->reply);
    tr__rbuf_free(&s->bytes);
    c->head = (c->head + 1) % c->cap;
    c->count--;
  }
  tr_msg_free(c->agg_err);
  free(c->ring);
  free(c->argv);
  tr__rbuf_free(&c->abuf);
  redisReaderFree(c->rd);
  if (c->prev)
    c->prev->next = c->next;
  else
    gw->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  gw->nclients--;
  tr__resp_gw_release(gw);
  if (gw->cfg.idle_ms)
    uv_close((uv_handle_t *)&c->idle, conn_closed);
  uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static const tr_behaviour conn_behaviour = {"resp.conn",
                                            sizeof(tr__resp_conn *), conn_init,
                                            conn_handle, conn_terminate};

int tr__resp_conn_start(tr__resp_gw *gw, tr__resp_conn *c) {
  tr_spawn_opts o;
  struct sockaddr_storage sa;
  int len = sizeof sa;
  char ip[48] = "?";
  c->gw = gw;
  c->h = gw->h;
  c->authed = !gw->password;
  c->id = ++gw->next_id;
  c->created_ms = c->last_ms = uv_now(tr_host_loop(gw->h));
  if (!uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &len)) {
    if (sa.ss_family == AF_INET6)
      uv_ip6_name((struct sockaddr_in6 *)&sa, ip, sizeof ip);
    else
      uv_ip4_name((struct sockaddr_in *)&sa, ip, sizeof ip);
    snprintf(c->peer, sizeof c->peer, "%s:%d", ip,
             ntohs(((struct sockaddr_in *)&sa)->sin_port));
  }
  uv_tcp_nodelay(&c->tcp, 1);
  /* the reader only reads its functions */
  if (!(c->rd = redisReaderCreateWithFunctions(
            (redisReplyObjectFunctions *)&reader_fns)))
    goto fail;
  c->rd->privdata = c;
  memset(&o, 0, sizeof o);
  o.ctx = c;
  if (tr_spawn(gw->h, &conn_behaviour, NULL, &o, NULL) != TR_OK)
    goto fail;
  gw->refs++;
  gw->nclients++;
  c->next = gw->conns;
  if (gw->conns)
    gw->conns->prev = c;
  gw->conns = c;
  if (gw->cfg.idle_ms) {
    uint64_t every = gw->cfg.idle_ms / 4 ? gw->cfg.idle_ms / 4 : 1;
    uv_timer_init(tr_host_loop(gw->h), &c->idle);
    c->idle.data = c;
    c->handles++;
    uv_timer_start(&c->idle, on_idle, every, every);
  }
  set_reading(c, 1);
  return 0;
fail:
  tr_host_log(gw->h, TR_LOG_WARN, "resp: cannot take a client: out of memory");
  if (c->rd)
    redisReaderFree(c->rd);
  uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
  return -1;
}
