/*
 * peers.c -- which nodes are there: each node publishes a heartbeat every
 * 250 ms on troupe.<cluster>.hb (its id, name, hosts and each host's
 * cluster actor), and a farewell when it stops; a node unheard for
 * lost_ms is lost, and every attached host is told (tr_host_node_lost).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

static void on_heartbeat(natsConnection *nc, natsSubscription *sub,
                         natsMsg *msg, void *ud) {
  tr_cluster *c = ud;
  char text[8192], name[TR__NAME_MAX + 1], *at, *end;
  int len = natsMsg_GetDataLength(msg), n;
  unsigned id, hosts, i;
  tr__peer *p;
  (void)nc;
  (void)sub;
  if (len <= 0 || len >= (int)sizeof text) {
    natsMsg_Destroy(msg);
    return;
  }
  memcpy(text, natsMsg_GetData(msg), (size_t)len);
  text[len] = '\0';
  natsMsg_Destroy(msg);
  if (sscanf(text, "hello %u", &id) == 1) { /* a node joins: beat now */
    uv_mutex_lock(&c->lock);
    c->beat_now = 1;
    uv_cond_signal(&c->cond);
    uv_mutex_unlock(&c->lock);
    return;
  }
  if (sscanf(text, "bye %u", &id) == 1) {
    if (id == 0 || id >= TR__NODES || id == c->id)
      return;
    uv_mutex_lock(&c->lock);
    if ((p = c->peers[id]) != NULL && p->alive) {
      p->alive = 0;
      tr__cluster_lost(c, id);
      tr__cluster_log(c, TR_LOG_INFO, "node %s (%u) left", p->name, id);
    }
    uv_mutex_unlock(&c->lock);
    return;
  }
  if (sscanf(text, "%u %64s %u%n", &id, name, &hosts, &n) != 3 || id == 0 ||
      id >= TR__NODES || id == c->id || hosts > TR__NODES)
    return;
  uv_mutex_lock(&c->lock);
  if (!(p = c->peers[id]) && !(p = c->peers[id] = calloc(1, sizeof *p))) {
    uv_mutex_unlock(&c->lock);
    return;
  }
  if (p->alive && strcmp(p->name, name)) {
    /* another node took the id (this one lost it): the old one is gone */
    p->alive = 0;
    tr__cluster_lost(c, id);
  }
  snprintf(p->name, sizeof p->name, "%s", name);
  p->hosts = hosts;
  for (at = text + n, i = 0; i < hosts; i++) {
    p->actors[i] = (tr_pid)strtoull(at, &end, 10);
    at = end;
  }
  p->last_seen = uv_hrtime();
  if (!p->alive) {
    p->alive = 1;
    atomic_store(&c->alive[id], 1);
    tr__cluster_log(c, TR_LOG_INFO, "node %s (%u) is there", p->name, id);
  }
  uv_mutex_unlock(&c->lock);
}

int tr__peers_start(tr_cluster *c, char *err, size_t errlen) {
  char subject[TR__NAME_MAX + 32];
  natsStatus s;
  snprintf(subject, sizeof subject, "%shb", c->prefix);
  s = natsConnection_Subscribe(&c->hb_sub, c->ctl, subject, on_heartbeat, c);
  if (s == NATS_OK)
    s = natsSubscription_SetPendingLimits(c->hb_sub, -1, -1);
  if (s != NATS_OK) {
    snprintf(err, errlen, "cannot subscribe to %s: %s", subject,
             natsStatus_GetText(s));
    return TR_ENOPROC;
  }
  return TR_OK;
}

/* Says hello: the others beat at once. */
void tr__peers_hello(tr_cluster *c) {
  char text[32], subject[TR__NAME_MAX + 32];
  snprintf(subject, sizeof subject, "%shb", c->prefix);
  snprintf(text, sizeof text, "hello %u", (unsigned)c->id);
  natsConnection_PublishString(c->ctl, subject, text);
}

/* Says hello (the others beat at once) and waits, 3 heartbeats at most,
 * to hear every node whose claim was fresh: a node knows its peers before
 * its first actor runs. */
void tr__peers_greet(tr_cluster *c) {
  uint64_t until = uv_hrtime() + 3ull * TR__HEARTBEAT_MS * 1000000;
  uint32_t n;
  int missing = 1;
  tr__peers_hello(c);
  natsConnection_FlushTimeout(c->ctl, 1000);
  while (missing && uv_hrtime() < until) {
    missing = 0;
    for (n = 1; n < TR__NODES && !missing; n++)
      missing = c->expect[n] && !atomic_load(&c->alive[n]);
    if (missing)
      uv_sleep(2);
  }
}

void tr__peers_beat(tr_cluster *c, int farewell) {
  char text[8192], subject[TR__NAME_MAX + 32];
  size_t n;
  uint32_t hosts = 0, i;
  snprintf(subject, sizeof subject, "%shb", c->prefix);
  if (farewell) {
    n = (size_t)snprintf(text, sizeof text, "bye %u", (unsigned)c->id);
  } else {
    uv_mutex_lock(&c->lock);
    for (i = 0; i < TR__NODES; i++)
      if (c->links[i])
        hosts = i + 1;
    n = (size_t)snprintf(text, sizeof text, "%u %s %u", (unsigned)c->id,
                         c->node_name, (unsigned)hosts);
    for (i = 0; i < hosts && n < sizeof text - 24; i++)
      n += (size_t)snprintf(
          text + n, sizeof text - n, " %llu",
          (unsigned long long)(c->links[i] ? c->links[i]->actor : 0));
    uv_mutex_unlock(&c->lock);
  }
  natsConnection_Publish(c->ctl, subject, text, (int)n);
  if (farewell)
    natsConnection_FlushTimeout(c->ctl, 1000);
}

void tr__peers_check(tr_cluster *c, uint64_t now) {
  uint64_t bound = (uint64_t)c->lost_ms * 1000000;
  uint32_t id;
  tr__job *job;
  for (id = 1; id < TR__NODES; id++) {
    tr__peer *p = c->peers[id];
    /* last_seen may be later than now: heard since now was read */
    if (!p || !p->alive || p->last_seen >= now || now - p->last_seen <= bound)
      continue;
    p->alive = 0;
    tr__cluster_lost(c, id);
    tr__cluster_log(c, TR_LOG_INFO, "node %s (%u) lost: silent for %llu ms",
                    p->name, id,
                    (unsigned long long)((now - p->last_seen) / 1000000));
    /* its global names go: a survivor deletes them (each does; the
     * deletes are checked against the owner, so doing it twice is
     * harmless) */
    if ((job = calloc(1, sizeof *job + 1)) != NULL) {
      job->op = TR__JOB_FORGET_NODE;
      job->node = id;
      *c->jobs_tail = job;
      c->jobs_tail = &job->next;
    }
  }
}
