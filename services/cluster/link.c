/*
 * link.c -- one host's connection to NATS, driven by the host's own loop
 * through troupe's libuv adapter (natsuv.c), and the host's wire: what the core
 * carries toward another node is batched per destination host and
 * published once per loop turn (uv_check, after the loop's I/O), or at
 * once when a frame would pass the server's max_payload; what arrives on
 * the host's subject is read in the same uv_check and handed to the core.
 *
 * libnats reads and writes the socket on the loop's thread (natsuv.c
 * polls it there); its timers (pings) and its reconnecting run on threads
 * of its own, which reach us only through the callbacks below, atomics,
 * the async handle and natsuv.c's queue.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

#define MAX_FRAMES_PER_TURN 256 /* frames read per turn before yielding */

void tr__link_wake(tr__link *l) {
  atomic_store(&l->news, 1);
  uv_async_send(&l->async);
}

static void on_disconnected(natsConnection *nc, void *ud) {
  tr__link *l = ud;
  uint32_t n;
  (void)nc;
  if (atomic_load(&l->closing))
    return; /* our own close: nobody to tell */
  atomic_store(&l->connected, 0);
  /* mail in flight may be gone: every node is lost to this host (calls
   * fail, monitors fire "noconnection") until the connection is back */
  for (n = 1; n < TR__NODES; n++)
    atomic_store(&l->lost[n], 1);
  tr__link_wake(l);
}

static void on_closed_cb(natsConnection *nc, void *ud) {
  tr__link *l = ud;
  (void)nc;
  atomic_store(&l->closed, 1); /* the last callback: l may go now */
}

static void on_reconnected(natsConnection *nc, void *ud) {
  tr__link *l = ud;
  (void)nc;
  if (atomic_load(&l->closing))
    return;
  atomic_store(&l->connected, 1);
  tr__link_wake(l);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err,
                     void *ud) {
  tr__link *l = ud;
  (void)nc;
  (void)sub;
  (void)l;
  (void)err; /* slow consumer cannot be: the subscription is unbounded */
}

/* Publishes every frame filled this turn. */
static void flush(tr__link *l) {
  tr__batch *b;
  natsStatus s;
  while ((b = l->dirty) != NULL) {
    l->dirty = b->next_dirty;
    b->dirty = 0;
    if (b->f.count) {
      s = natsConnection_Publish(l->nc, b->subject, b->f.buf, (int)b->f.len);
      if (s != NATS_OK) {
        l->refused += b->f.count;
        tr_host_log(
            l->h, TR_LOG_WARN, "cluster: %u messages to node %u not sent: %s",
            (unsigned)b->f.count, (unsigned)b->node, natsStatus_GetText(s));
      }
    }
    tr__frame_start(&b->f, l->c->id, l->index);
  }
  l->pending = 0;
  l->buffered = (size_t)natsConnection_Buffered(l->nc);
}

/* A frame from a node we have not heard yet: it is there (its first
 * heartbeat, on another connection, may come after its first message, and
 * our answers must not be refused meanwhile). */
static void heard(tr_cluster *c, uint32_t node) {
  tr__peer *p;
  uv_mutex_lock(&c->lock);
  if ((p = c->peers[node]) || (p = c->peers[node] = calloc(1, sizeof *p))) {
    if (!p->hosts)
      p->hosts = 1;
    p->last_seen = uv_hrtime();
    p->alive = 1;
    atomic_store(&c->alive[node], 1);
  }
  uv_mutex_unlock(&c->lock);
}

/* Hands what arrived to the core, a bounded number of frames a turn. */
static int receive(tr__link *l) {
  int msgs = 0, bytes = 0, i;
  unsigned refused = 0;
  natsMsg *m;
  tr__frame_reader r;
  const void *env;
  size_t len;
  if (natsSubscription_GetPending(l->sub, &msgs, &bytes) != NATS_OK)
    return 0;
  for (i = 0; i < msgs && i < MAX_FRAMES_PER_TURN; i++) {
    if (natsSubscription_NextMsg(&m, l->sub, 0) != NATS_OK)
      break;
    if (tr__frame_open(&r, natsMsg_GetData(m),
                       (size_t)natsMsg_GetDataLength(m)) != TR_OK)
      tr_host_log(l->h, TR_LOG_WARN,
                  "cluster: a malformed frame of %d bytes dropped",
                  natsMsg_GetDataLength(m));
    else {
      if (r.node && r.node < TR__NODES && !atomic_load(&l->c->alive[r.node]))
        heard(l->c, r.node);
      while (tr__frame_next(&r, &env, &len))
        if (tr_wire_deliver(l->h, env, len) != TR_OK)
          refused++;
      if (refused) /* not for us, or not well made: said, not delivered */
        tr_host_log(l->h, TR_LOG_WARN,
                    "cluster: %u messages from node %u refused by the core",
                    refused, (unsigned)r.node);
      refused = 0;
    }
    natsMsg_Destroy(m);
  }
  return msgs > MAX_FRAMES_PER_TURN;
}

static void on_idle(uv_idle_t *idle) { (void)idle; }

/* While the idle handle runs, the loop's poll does not block. */
static void keep_turning(tr__link *l, int on) {
  if (on && !l->idle_on)
    uv_idle_start(&l->idle, on_idle);
  else if (!on && l->idle_on)
    uv_idle_stop(&l->idle);
  l->idle_on = on;
}

static void on_check(uv_check_t *check) {
  tr__link *l = check->data;
  int more = receive(l);
  if (l->dirty)
    flush(l);
  keep_turning(l, more);
}

/* News from the other threads, on the loop: nodes lost, the connection
 * gone or back (said once per change). */
static void on_async(uv_async_t *async) {
  tr__link *l = async->data;
  uint32_t n;
  int up = atomic_load(&l->connected);
  if (!atomic_exchange(&l->news, 0))
    return;
  tr__cluster_say_news(l->c, l->h);
  if (!up && !atomic_exchange(&l->said_down, 1))
    tr_host_log(l->h, TR_LOG_WARN,
                "cluster: connection to %s lost; every other node is "
                "unreachable from host %u until it is back",
                l->c->url, (unsigned)l->index);
  else if (up && atomic_exchange(&l->said_down, 0)) {
    tr_host_log(l->h, TR_LOG_INFO,
                "cluster: connection to %s back (%llu messages refused "
                "meanwhile)",
                l->c->url, (unsigned long long)l->refused);
    l->refused = 0;
  }
  for (n = 1; n < TR__NODES; n++)
    if (atomic_exchange(&l->lost[n], 0))
      tr_host_node_lost(l->h, n);
}

/* The wire's carry, on the loop thread: one envelope for node. */
static int carry(void *ud, uint32_t node, const void *bytes, size_t len) {
  tr__link *l = ud;
  tr__batch *b;
  uint32_t host;
  int rc;
  if (node == 0 || node >= TR__NODES || node == l->c->id)
    return TR_ENOPROC;
  if (!atomic_load(&l->connected) || !atomic_load(&l->c->alive[node])) {
    l->refused++;
    return TR_ENOPROC;
  }
  if (len > tr__frame_room(l->limit))
    return TR_ERANGE;
  if (l->buffered + l->pending + len > l->c->max_buffered) {
    /* the last flush's figure may be old: ask again before refusing */
    l->buffered = (size_t)natsConnection_Buffered(l->nc);
    if (l->buffered + l->pending + len > l->c->max_buffered)
      return TR_EFULL;
  }
  /* the destination pid's host (the envelope's "to", at 12, bits 24-31):
   * one frame per destination host, so the receiving host delivers it */
  host = len >= 20 ? ((const uint8_t *)bytes)[15] : 0;
  if (!l->batches[node] &&
      !(l->batches[node] = calloc(TR__NODES, sizeof(tr__batch *))))
    return TR_ENOMEM;
  if (!(b = l->batches[node][host])) {
    if (!(b = calloc(1, sizeof *b)))
      return TR_ENOMEM;
    b->node = node;
    b->host = host;
    snprintf(b->subject, sizeof b->subject, "%s%u.%u", l->c->prefix,
             (unsigned)node, (unsigned)host);
    if (tr__frame_start(&b->f, l->c->id, l->index) != TR_OK) {
      free(b);
      return TR_ENOMEM;
    }
    l->batches[node][host] = b;
  }
  if ((rc = tr__frame_add(&b->f, bytes, len, l->limit)) == 1) {
    /* full: this one goes now, in order before the envelope */
    natsConnection_Publish(l->nc, b->subject, b->f.buf, (int)b->f.len);
    l->pending -= b->f.len - TR__FRAME_HEADER < l->pending
                      ? b->f.len - TR__FRAME_HEADER
                      : l->pending;
    tr__frame_start(&b->f, l->c->id, l->index);
    rc = tr__frame_add(&b->f, bytes, len, l->limit);
  }
  if (rc != TR_OK)
    return rc;
  l->pending += len + TR__FRAME_PER_ENVELOPE;
  if (!b->dirty) {
    b->dirty = 1;
    b->next_dirty = l->dirty;
    l->dirty = b;
    keep_turning(l, 1); /* the poll does not block: the check flushes */
  }
  return TR_OK;
}

int tr__link_open(tr__link *l, char *err, size_t errlen) {
  uv_loop_t *loop = tr_host_loop(l->h);
  natsOptions *o = NULL;
  natsStatus s;
  char subject[TR__NAME_MAX + 48];
  tr_wire w;
  int rc;
  /* made here, on the host's loop thread (tr_cluster_attach's), which it
   * takes for the loop's: the first attach comes from Connect below */
  if (tr__natsuv_new(loop, &l->uv) != TR_OK) {
    snprintf(err, errlen, "out of memory");
    return TR_ENOMEM;
  }
  if ((rc = tr__cluster_options(l->c, &o, err, errlen)) != TR_OK) {
    tr__natsuv_free(l->uv);
    return rc;
  }
  tr__natsuv_set(l->uv, o);
  natsOptions_SetSendAsap(o, true); /* we batch; no flusher thread */
  natsOptions_SetIOBufSize(o, 1 << 20);
  natsOptions_SetReconnectBufSize(o, 8 << 20);
  natsOptions_SetDisconnectedCB(o, on_disconnected, l);
  natsOptions_SetReconnectedCB(o, on_reconnected, l);
  natsOptions_SetClosedCB(o, on_closed_cb, l);
  natsOptions_SetErrorHandler(o, on_error, l);
  natsOptions_SetNoEcho(o, true);
  s = natsConnection_Connect(&l->nc, o);
  natsOptions_Destroy(o);
  if (s != NATS_OK) {
    snprintf(err, errlen, "host %u cannot reach the NATS server %s: %s",
             (unsigned)l->index, l->c->url, natsStatus_GetText(s));
    tr__natsuv_free(l->uv); /* its handles close as the loop runs on */
    return TR_ENOPROC;
  }
  snprintf(subject, sizeof subject, "%s%u.%u", l->c->prefix, (unsigned)l->c->id,
           (unsigned)l->index);
  s = natsConnection_SubscribeSync(&l->sub, l->nc, subject);
  if (s == NATS_OK) /* nothing dropped as a slow consumer */
    s = natsSubscription_SetPendingLimits(l->sub, -1, -1);
  if (s != NATS_OK) {
    snprintf(err, errlen, "cannot subscribe to %s: %s", subject,
             natsStatus_GetText(s));
    natsSubscription_Destroy(l->sub);
    atomic_store(&l->closing, 1);
    natsConnection_Close(l->nc);
    tr__wait_closed(&l->closed);
    natsConnection_Destroy(l->nc);
    tr__natsuv_free(l->uv);
    return TR_ENOPROC;
  }
  l->limit = (size_t)natsConnection_GetMaxPayload(l->nc);
  atomic_store(&l->connected, 1);
  uv_check_init(loop, &l->check);
  uv_idle_init(loop, &l->idle);
  uv_async_init(loop, &l->async, on_async);
  l->check.data = l->idle.data = l->async.data = l;
  uv_check_start(&l->check, on_check);
  uv_unref((uv_handle_t *)&l->check);
  uv_unref((uv_handle_t *)&l->async);
  w.carry = carry;
  w.ud = l;
  tr_host_set_wire(l->h, &w);
  return TR_OK;
}

static void on_closed(uv_handle_t *handle) {
  tr__link *l = handle->data;
  l->handles--;
}

void tr__link_close(tr__link *l) {
  uint32_t n, i;
  uv_loop_t *loop = tr_host_loop(l->h);
  uint64_t until = uv_hrtime() + 500 * 1000000ull;
  tr_host_set_wire(l->h, NULL);
  if (l->dirty)
    flush(l);
  /* what was sent last leaves before the connection closes (bounded:
   * the server may be gone) */
  while (atomic_load(&l->connected) && natsConnection_Buffered(l->nc) > 0 &&
         uv_hrtime() < until)
    uv_run(loop, UV_RUN_NOWAIT);
  /* No unsubscribing first: what it writes would make Close flush, which
   * waits for the server's answer that only this thread could read. */
  /* Closing detaches from the loop: the poll handle closes there */
  atomic_store(&l->closing, 1);
  natsConnection_Close(l->nc);
  tr__wait_closed(&l->closed);
  natsSubscription_Destroy(l->sub);
  natsConnection_Destroy(l->nc);
  /* libnats calls it no more: its handles close with ours below */
  tr__natsuv_free(l->uv);
  l->handles = 3;
  uv_close((uv_handle_t *)&l->check, on_closed);
  uv_close((uv_handle_t *)&l->idle, on_closed);
  uv_close((uv_handle_t *)&l->async, on_closed);
  while (l->handles)
    uv_run(loop, UV_RUN_NOWAIT);
  for (n = 0; n < TR__NODES; n++)
    if (l->batches[n]) {
      for (i = 0; i < TR__NODES; i++)
        if (l->batches[n][i]) {
          tr__frame_free(&l->batches[n][i]->f);
          free(l->batches[n][i]);
        }
      free(l->batches[n]);
    }
}
