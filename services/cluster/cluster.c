/*
 * cluster.c -- a node's membership of a cluster over NATS: the config
 * checked, the control connection (claim, global names, heartbeats) made
 * and its worker thread run, hosts attached and detached, all let go.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"

static void say(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  if (!err || !errlen)
    return;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* Names go into subjects and bucket names: a safe alphabet only. */
int tr_cluster_name_ok(const char *s) {
  size_t n = 0;
  if (!s)
    return 0;
  for (; s[n]; n++)
    if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
          (s[n] >= '0' && s[n] <= '9') || s[n] == '_' || s[n] == '-'))
      return 0;
  return n >= 1 && n <= TR__NAME_MAX;
}

int tr_cluster_config_tls(tr_cluster_config *cfg, const char *spec, char *buf,
                          size_t size, char *err, size_t errlen) {
  char *item, *save = NULL;
  if (!cfg || !spec || !buf || strlen(spec) >= size || !*spec) {
    say(err, errlen, "ca=FILE,cert=FILE,key=FILE expected");
    return TR_EINVAL;
  }
  strcpy(buf, spec);
  for (item = strtok_r(buf, ",", &save); item;
       item = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(item, '=');
    const char **to = NULL;
    if (eq) {
      *eq = '\0';
      to = !strcmp(item, "ca")     ? &cfg->tls_ca
           : !strcmp(item, "cert") ? &cfg->tls_cert
           : !strcmp(item, "key")  ? &cfg->tls_key
                                   : NULL;
    }
    if (!to || !eq[1]) {
      say(err, errlen, "ca=FILE, cert=FILE or key=FILE expected, got '%s'",
          item);
      return TR_EINVAL;
    }
    *to = eq + 1;
  }
  if (!cfg->tls_cert != !cfg->tls_key) {
    say(err, errlen, "%s", "cert and key go together");
    return TR_EINVAL;
  }
  return TR_OK;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* The options every connection of c is made with: the server, the
 * security options passed through, reconnecting for ever. */
int tr__cluster_options(tr_cluster *c, natsOptions **out, char *err,
                        size_t errlen) {
  natsOptions *o = NULL;
  natsStatus s = natsOptions_Create(&o);
  const char *what = "options";
  if (s == NATS_OK && (what = "url", 1))
    s = natsOptions_SetURL(o, c->url);
  if (s == NATS_OK && (what = "name", 1))
    s = natsOptions_SetName(o, c->node_name);
  if (s == NATS_OK)
    s = natsOptions_SetMaxReconnect(o, -1);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectWait(o, 100);
  if (s == NATS_OK) /* a dead server is seen in about a second */
    s = natsOptions_SetPingInterval(o, 500);
  if (s == NATS_OK)
    s = natsOptions_SetMaxPingsOut(o, 2);
  if (s == NATS_OK)
    s = natsOptions_SetTimeout(o, 2000);
  if (s == NATS_OK && c->creds && (what = "--cluster-creds", 1))
    s = natsOptions_SetUserCredentialsFromFiles(o, c->creds, NULL);
  if (s == NATS_OK && (c->tls_ca || c->tls_cert) && (what = "tls", 1))
    s = natsOptions_SetSecure(o, true);
  if (s == NATS_OK && c->tls_ca && (what = "tls ca", 1))
    s = natsOptions_LoadCATrustedCertificates(o, c->tls_ca);
  if (s == NATS_OK && c->tls_cert && (what = "tls cert/key", 1))
    s = natsOptions_LoadCertificatesChain(o, c->tls_cert, c->tls_key);
  if (s != NATS_OK) {
    say(err, errlen, "%s: %s", what, nats_GetLastError(NULL));
    natsOptions_Destroy(o);
    return TR_EINVAL;
  }
  *out = o;
  return TR_OK;
}

void tr__cluster_log(tr_cluster *c, int level, const char *fmt, ...) {
  va_list ap;
  uint32_t i;
  tr__news *n;
  if (c->nnews == TR__NEWS)
    return; /* the loop is behind: the oldest news is enough */
  n = &c->news[c->nnews++];
  n->level = level;
  va_start(ap, fmt);
  vsnprintf(n->text, sizeof n->text, fmt, ap);
  va_end(ap);
  for (i = 0; i < TR__NODES; i++)
    if (c->links[i]) { /* said on a loop thread: tr_host_log is for those */
      tr__link_wake(c->links[i]);
      break;
    }
}

void tr__cluster_say_news(tr_cluster *c, tr_host *h) {
  tr__news news[TR__NEWS];
  uint32_t n, i;
  uv_mutex_lock(&c->lock);
  n = c->nnews;
  memcpy(news, c->news, n * sizeof *news);
  c->nnews = 0;
  uv_mutex_unlock(&c->lock);
  for (i = 0; i < n; i++)
    tr_host_log(h, news[i].level, "cluster: %s", news[i].text);
}

void tr__cluster_push(tr_cluster *c, tr__job *job) {
  job->next = NULL;
  uv_mutex_lock(&c->lock);
  *c->jobs_tail = job;
  c->jobs_tail = &job->next;
  uv_cond_signal(&c->cond);
  uv_mutex_unlock(&c->lock);
}

void tr__cluster_lost(tr_cluster *c, uint32_t node) {
  uint32_t i;
  atomic_store(&c->alive[node], 0);
  for (i = 0; i < TR__NODES; i++)
    if (c->links[i]) {
      atomic_store(&c->links[i]->lost[node], 1);
      tr__link_wake(c->links[i]);
    }
}

void tr__wait_closed(atomic_int *closed) {
  int i;
  for (i = 0; i < 2000 && !atomic_load(closed); i++)
    uv_sleep(1);
}

static void on_ctl_closed(natsConnection *nc, void *ud) {
  tr_cluster *c = ud;
  (void)nc;
  atomic_store(&c->closed, 1);
}

static void on_ctl_disconnected(natsConnection *nc, void *ud) {
  tr_cluster *c = ud;
  uint32_t n;
  (void)nc;
  if (atomic_load(&c->closing))
    return;
  uv_mutex_lock(&c->lock);
  c->ctl_down = 1; /* no heartbeats come: every node is lost to us */
  for (n = 1; n < TR__NODES; n++)
    if (c->peers[n] && c->peers[n]->alive) {
      c->peers[n]->alive = 0;
      tr__cluster_lost(c, n);
    }
  uv_mutex_unlock(&c->lock);
}

static void on_ctl_reconnected(natsConnection *nc, void *ud) {
  tr_cluster *c = ud;
  (void)nc;
  if (atomic_load(&c->closing))
    return;
  uv_mutex_lock(&c->lock);
  c->ctl_down = 0;
  c->beat_now = c->hello_now = 1; /* we are back, and they beat at once */
  uv_cond_signal(&c->cond);
  uv_mutex_unlock(&c->lock);
}

/* The worker: heartbeats, lost nodes, the claim kept fresh, and the jobs
 * (global names), whose KV calls block. */
static void worker(void *arg) {
  tr_cluster *c = arg;
  uint64_t now, next_beat = 0, next_claim = 0;
  uint64_t claim_every = (uint64_t)c->lost_ms * 1000000 / 3;
  tr__job *job;
  uv_mutex_lock(&c->lock);
  while (!c->stopping) {
    now = uv_hrtime();
    if (now >= next_beat || c->beat_now) {
      int hello = c->hello_now;
      c->beat_now = c->hello_now = 0;
      uv_mutex_unlock(&c->lock);
      if (hello)
        tr__peers_hello(c);
      tr__peers_beat(c, 0);
      uv_mutex_lock(&c->lock);
      next_beat = now + (uint64_t)TR__HEARTBEAT_MS * 1000000;
    }
    tr__peers_check(c, uv_hrtime()); /* now: the beat took time */
    if (now >= next_claim && !c->ctl_down) {
      uv_mutex_unlock(&c->lock);
      tr__claim_refresh(c);
      uv_mutex_lock(&c->lock);
      next_claim = now + claim_every;
    }
    if ((job = c->jobs) != NULL) {
      if (!(c->jobs = job->next))
        c->jobs_tail = &c->jobs;
      c->busy = job->h;
      uv_mutex_unlock(&c->lock);
      tr__names_run(c, job);
      free(job);
      uv_mutex_lock(&c->lock);
      c->busy = NULL;
      uv_cond_broadcast(&c->cond); /* a detach may wait for it */
      continue;
    }
    uv_cond_timedwait(&c->cond, &c->lock, 50 * 1000000ull);
  }
  uv_mutex_unlock(&c->lock);
}

int tr_cluster_new(const tr_cluster_config *cfg, tr_cluster **out, char *err,
                   size_t errlen) {
  tr_cluster *c;
  natsOptions *o = NULL;
  natsStatus s;
  kvConfig kc;
  jsOptions jo;
  char bucket[TR__NAME_MAX + 16];
  int rc;
  if (out)
    *out = NULL;
  if (!cfg || !out)
    return TR_EINVAL;
  if (!cfg->url ||
      (strncmp(cfg->url, "nats://", 7) && strncmp(cfg->url, "tls://", 6)) ||
      strlen(cfg->url) < 8 || strlen(cfg->url) > 1000) {
    say(err, errlen,
        "the NATS server must be nats://HOST:PORT (or tls://HOST:PORT), "
        "got '%s'",
        cfg->url ? cfg->url : "");
    return TR_EINVAL;
  }
  if (!tr_cluster_name_ok(cfg->node)) {
    say(err, errlen,
        "the node's name must be 1 to 64 of A-Z a-z 0-9 _ -, got '%s'",
        cfg->node ? cfg->node : "");
    return TR_EINVAL;
  }
  if (cfg->cluster && !tr_cluster_name_ok(cfg->cluster)) {
    say(err, errlen,
        "the cluster's name must be 1 to 64 of A-Z a-z 0-9 _ -, got '%s'",
        cfg->cluster);
    return TR_EINVAL;
  }
  if (cfg->creds && access(cfg->creds, R_OK)) {
    say(err, errlen, "--cluster-creds: cannot read %s: %s", cfg->creds,
        strerror(errno));
    return TR_EINVAL;
  }
  if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
    say(err, errlen, "tls: cert and key go together");
    return TR_EINVAL;
  }
  if (!(c = calloc(1, sizeof *c)))
    return TR_ENOMEM;
  c->url = strdup(cfg->url);
  c->node_name = strdup(cfg->node);
  c->cluster = strdup(cfg->cluster ? cfg->cluster : "troupe");
  c->creds = dup_or_null(cfg->creds);
  c->tls_ca = dup_or_null(cfg->tls_ca);
  c->tls_cert = dup_or_null(cfg->tls_cert);
  c->tls_key = dup_or_null(cfg->tls_key);
  c->lost_ms = cfg->lost_ms ? cfg->lost_ms : 1500;
  c->max_buffered = cfg->max_buffered ? cfg->max_buffered : TR__MAX_BUFFERED;
  c->jobs_tail = &c->jobs;
  uv_mutex_init(&c->lock);
  uv_cond_init(&c->cond);
  snprintf(c->prefix, sizeof c->prefix, "troupe.%s.", c->cluster);
  if (!c->url || !c->node_name || !c->cluster) {
    tr_cluster_free(c);
    return TR_ENOMEM;
  }
  if ((rc = tr__cluster_options(c, &o, err, errlen)) != TR_OK) {
    tr_cluster_free(c);
    return rc;
  }
  natsOptions_SetDisconnectedCB(o, on_ctl_disconnected, c);
  natsOptions_SetReconnectedCB(o, on_ctl_reconnected, c);
  natsOptions_SetClosedCB(o, on_ctl_closed, c);
  if ((s = natsConnection_Connect(&c->ctl, o)) != NATS_OK) {
    say(err, errlen, "cannot reach the NATS server %s: %s", c->url,
        natsStatus_GetText(s));
    natsOptions_Destroy(o);
    tr_cluster_free(c);
    return TR_ENOPROC;
  }
  natsOptions_Destroy(o);
  c->max_payload = natsConnection_GetMaxPayload(c->ctl);
  snprintf(bucket, sizeof bucket, "troupe_%s", c->cluster);
  kvConfig_Init(&kc);
  kc.Bucket = bucket;
  kc.History = 1;
  kc.StorageType = js_FileStorage; /* claims outlive a server restart */
  jsOptions_Init(&jo);
  jo.Wait = 2000; /* a KV call gives up after 2 s (the server is away) */
  if ((s = natsConnection_JetStream(&c->js, c->ctl, &jo)) != NATS_OK ||
      ((s = js_KeyValue(&c->kv, c->js, bucket)) != NATS_OK &&
       (s = js_CreateKeyValue(&c->kv, c->js, &kc)) != NATS_OK &&
       (s = js_KeyValue(&c->kv, c->js, bucket)) != NATS_OK)) {
    say(err, errlen,
        "cannot open the key-value bucket %s on %s (is JetStream on? "
        "nats-server -js): %s",
        bucket, c->url, nats_GetLastError(NULL));
    tr_cluster_free(c);
    return TR_ENOPROC;
  }
  if ((rc = tr__claim(c, err, errlen)) != TR_OK ||
      (rc = tr__peers_start(c, err, errlen)) != TR_OK) {
    tr_cluster_free(c);
    return rc;
  }
  if (uv_thread_create(&c->worker, worker, c)) {
    say(err, errlen, "cannot start the cluster's thread");
    tr_cluster_free(c);
    return TR_ENOMEM;
  }
  c->worker_on = 1;
  tr__peers_greet(c);
  *out = c;
  return TR_OK;
}

uint32_t tr_cluster_node_id(const tr_cluster *c) { return c ? c->id : 0; }

int tr_cluster_attach(tr_cluster *c, tr_host *h) {
  tr__link *l;
  uint32_t i;
  char err[256];
  int rc;
  if (!c || !h)
    return TR_EINVAL;
  i = tr_host_index(h);
  if (i >= TR__NODES)
    return TR_ERANGE;
  uv_mutex_lock(&c->lock);
  rc = c->links[i] ? TR_EEXIST : TR_OK;
  uv_mutex_unlock(&c->lock);
  if (rc)
    return rc;
  if (!(l = calloc(1, sizeof *l)))
    return TR_ENOMEM;
  l->c = c;
  l->h = h;
  l->index = i;
  if ((rc = tr__link_open(l, err, sizeof err)) != TR_OK) {
    tr_host_log(h, TR_LOG_ERROR, "cluster: %s", err);
    free(l);
    return rc;
  }
  uv_mutex_lock(&c->lock);
  c->links[i] = l;
  for (i = 1; i < TR__NODES; i++) /* nodes lost before it came: none */
    atomic_store(&l->lost[i], 0);
  uv_mutex_unlock(&c->lock);
  if ((rc = tr__names_actor_start(l)) != TR_OK)
    tr_host_log(h, TR_LOG_ERROR, "cluster: cannot start troupe.cluster.%u: %s",
                (unsigned)l->index, tr_strerror(rc));
  uv_mutex_lock(&c->lock);
  uv_cond_signal(&c->cond); /* a heartbeat now names its actor */
  uv_mutex_unlock(&c->lock);
  return TR_OK;
}

void tr_cluster_detach(tr_cluster *c, tr_host *h) {
  tr__link *l;
  tr__job **at, *job;
  uint32_t i;
  if (!c || !h || (i = tr_host_index(h)) >= TR__NODES)
    return;
  uv_mutex_lock(&c->lock);
  l = c->links[i];
  c->links[i] = NULL; /* the worker wakes it no more */
  /* nor answers it: its jobs go, and the one running is waited for */
  for (at = &c->jobs; (job = *at) != NULL;)
    if (job->h == h) {
      *at = job->next;
      free(job);
    } else {
      at = &job->next;
    }
  c->jobs_tail = &c->jobs;
  for (job = c->jobs; job; job = job->next)
    c->jobs_tail = &job->next;
  while (c->busy == h)
    uv_cond_wait(&c->cond, &c->lock);
  uv_mutex_unlock(&c->lock);
  if (!l)
    return;
  tr__link_close(l);
  free(l);
}

void tr_cluster_free(tr_cluster *c) {
  tr__job *job;
  uint32_t n;
  if (!c)
    return;
  if (c->worker_on) {
    uv_mutex_lock(&c->lock);
    c->stopping = 1;
    uv_cond_signal(&c->cond);
    uv_mutex_unlock(&c->lock);
    uv_thread_join(&c->worker);
  }
  while ((job = c->jobs) != NULL) {
    c->jobs = job->next;
    free(job);
  }
  if (c->kv && c->id &&
      natsConnection_Status(c->ctl) == NATS_CONN_STATUS_CONNECTED) {
    /* (with NATS away, the others find us lost and clean up instead) */
    tr__names_forget_node(c, c->id); /* our global names go with us */
    tr__peers_beat(c, 1);            /* the others see us go at once */
    tr__claim_release(c);
  }
  if (c->hb_sub) {
    /* drained: its callback has run for the last time (disconnected,
     * nothing comes, and a drain would wait for the server) */
    if (natsConnection_Status(c->ctl) == NATS_CONN_STATUS_CONNECTED &&
        natsSubscription_Drain(c->hb_sub) == NATS_OK)
      natsSubscription_WaitForDrainCompletion(c->hb_sub, 2000);
    else
      natsSubscription_Unsubscribe(c->hb_sub);
    natsSubscription_Destroy(c->hb_sub);
  }
  kvStore_Destroy(c->kv);
  jsCtx_Destroy(c->js);
  if (c->ctl) {
    if (natsConnection_Status(c->ctl) == NATS_CONN_STATUS_CONNECTED)
      natsConnection_FlushTimeout(c->ctl, 1000);
    atomic_store(&c->closing, 1);
    natsConnection_Close(c->ctl);
    tr__wait_closed(&c->closed);
    natsConnection_Destroy(c->ctl);
  }
  for (n = 0; n < TR__NODES; n++)
    free(c->peers[n]);
  uv_cond_destroy(&c->cond);
  uv_mutex_destroy(&c->lock);
  free(c->url);
  free(c->node_name);
  free(c->cluster);
  free(c->creds);
  free(c->tls_ca);
  free(c->tls_cert);
  free(c->tls_key);
  free(c);
}

void tr_cluster_lib_close(void) { nats_CloseAndWait(1000); }
