/*
 * resp.c -- the RESP gateway's listener: tr_resp_start checks the config,
 * binds and listens, and starts an actor registered as "resp" that owns
 * the listening socket; each accepted connection becomes an actor of its
 * own (respconn.c). The gateway's state (tr__resp_gw) is shared with the
 * connections, all on this host's thread, and freed with the last of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

void tr__resp_gw_release(tr__resp_gw *gw) {
  if (--gw->refs)
    return;
  free(gw->password);
  free(gw);
}

static void server_closed(uv_handle_t *hd) {
  tr__resp_gw *gw = hd->data;
  free(hd);
  tr__resp_gw_release(gw);
}

static void on_connection(uv_stream_t *server, int status) {
  tr__resp_gw *gw = server->data;
  tr__resp_conn *c;
  if (status < 0 || !(c = calloc(1, sizeof *c))) {
    tr_host_log(gw->h, TR_LOG_WARN, "resp: accept: %s",
                status < 0 ? uv_strerror(status) : "out of memory");
    return;
  }
  uv_tcp_init(tr_host_loop(gw->h), &c->tcp);
  c->handles = 1;
  c->tcp.data = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
    uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
    return;
  }
  gw->connections++;
  if (gw->nclients >= gw->cfg.maxclients) {
    static const char full[] = "-ERR max number of clients reached\r\n";
    uv_buf_t b = uv_buf_init((char *)full, sizeof full - 1);
    gw->rejected++;
    uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
    return;
  }
  tr__resp_conn_start(gw, c); /* closes c itself when it fails */
}

static int gw_init(tr_actor *self, void *state, tr_msg *args) {
  tr__resp_gw *gw = tr_actor_ctx(self);
  (void)args;
  *(tr__resp_gw **)state = gw;
  gw->listener = tr_self(self);
  gw->server->data = gw;
  return 0;
}

static int gw_handle(tr_actor *self, void *state, tr_msg *m) {
  (void)state;
  if (m && tr_msg_kind(m) == TR_KIND_CALL)
    tr_reply_error(tr_actor_host(self), m, "resp: the gateway takes no calls");
  return TR_CONTINUE;
}

/* Closes the socket and every connection; the memory goes with the last. */
static void gw_terminate(tr_actor *self, void *state, const char *reason) {
  tr__resp_gw *gw = *(tr__resp_gw **)state;
  tr__resp_conn *c;
  (void)reason;
  for (c = gw->conns; c; c = c->next)
    tr_kill(tr_actor_host(self), c->pid, "shutdown");
  uv_close((uv_handle_t *)gw->server, server_closed);
  tr_host_log(gw->h, TR_LOG_INFO, "resp: stopped listening on %s:%d", gw->addr,
              gw->port);
}

static const tr_behaviour gw_behaviour = {"resp", sizeof(tr__resp_gw *),
                                          gw_init, gw_handle, gw_terminate};

/* 1 for an address of this machine only: 127/8, ::1, localhost. */
static int loopback(const char *addr) {
  return !strncmp(addr, "127.", 4) || !strcmp(addr, "::1") ||
         !strcmp(addr, "localhost");
}

int tr_resp_start(tr_host *h, const tr_resp_config *cfg, tr_pid *out) {
  tr__resp_gw *gw;
  struct sockaddr_storage sa;
  tr_spawn_opts o;
  int rc, len;
  if (out)
    *out = 0;
  if (!h || !cfg || cfg->port < 0 || cfg->port > 65535)
    return TR_EINVAL;
  if (tr_whereis(h, "resp"))
    return TR_EEXIST;
  if (!(gw = calloc(1, sizeof *gw)))
    return TR_ENOMEM;
  gw->h = h;
  gw->cfg = *cfg;
  snprintf(gw->addr, sizeof gw->addr, "%s",
           cfg->addr ? cfg->addr : "127.0.0.1");
  if (!strcmp(gw->addr, "localhost"))
    strcpy(gw->addr, "127.0.0.1");
  gw->cfg.addr = gw->addr;
  if (uv_ip4_addr(gw->addr, cfg->port, (struct sockaddr_in *)&sa) &&
      uv_ip6_addr(gw->addr, cfg->port, (struct sockaddr_in6 *)&sa)) {
    tr_host_log(h, TR_LOG_ERROR, "resp: '%s' is not an IP address", gw->addr);
    free(gw);
    return TR_EINVAL;
  }
  if (cfg->password && *cfg->password &&
      !(gw->password = strdup(cfg->password))) {
    free(gw);
    return TR_ENOMEM;
  }
  gw->cfg.password = gw->password;
  if (!gw->password && !loopback(gw->addr)) {
    tr_host_log(h, TR_LOG_ERROR,
                "resp: %s is not a loopback address: a password is required "
                "(--resp-password)",
                gw->addr);
    free(gw);
    return TR_EINVAL;
  }
#define DEF(f, v)                                                              \
  if (!gw->cfg.f)                                                              \
  gw->cfg.f = (v)
  DEF(maxclients, 10000);
  DEF(max_inflight, 1024);
  DEF(max_args, 65536);
  DEF(max_request, TR_KV_MAX_VALUE + 65536);
  DEF(max_output, 64u << 20);
#undef DEF
  gw->refs = 1;
  gw->start_ms = uv_now(tr_host_loop(h));
  gw->router = tr_whereis(h, "router");
  if (!(gw->server = malloc(sizeof *gw->server))) {
    free(gw->password);
    free(gw);
    return TR_ENOMEM;
  }
  uv_tcp_init(tr_host_loop(h), gw->server);
  gw->server->data = gw;
  if ((rc = uv_tcp_bind(gw->server, (struct sockaddr *)&sa, 0)) == 0)
    rc = uv_listen((uv_stream_t *)gw->server, 511, on_connection);
  if (rc) {
    tr_host_log(h, TR_LOG_ERROR, "resp: cannot listen on %s:%d: %s", gw->addr,
                cfg->port, uv_strerror(rc));
    uv_close((uv_handle_t *)gw->server, server_closed);
    return TR_EINIT;
  }
  len = sizeof sa;
  uv_tcp_getsockname(gw->server, (struct sockaddr *)&sa, &len);
  gw->port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
  memset(&o, 0, sizeof o);
  o.ctx = gw;
  o.name = "resp";
  if ((rc = tr_spawn(h, &gw_behaviour, NULL, &o, out)) != TR_OK) {
    uv_close((uv_handle_t *)gw->server, server_closed);
    return rc;
  }
  if (cfg->out_port)
    *cfg->out_port = gw->port;
  gw->cfg.out_port = NULL;
  tr_host_log(h, TR_LOG_INFO, "resp: listening on %s:%d (%s)", gw->addr,
              gw->port,
              gw->password ? "AUTH required" : "no AUTH: loopback only");
  return TR_OK;
}
