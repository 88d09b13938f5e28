/*
 * cluster.h -- the cluster's insides, shared by its files: the node's
 * state (its control connection, peers, claim, the worker thread's jobs)
 * and each host's link (its data connection, driven by the host's loop).
 */
#ifndef TR_CLUSTER_H
#define TR_CLUSTER_H

#include <nats/nats.h>
#include <stdatomic.h>
#include <uv.h>

#include "frame.h"
#include "troupe_services.h"

#define TR__NODES 256        /* node ids 1..255; 0 is no cluster */
#define TR__HEARTBEAT_MS 250 /* how often a node says it is there */
#define TR__NAME_MAX 64      /* node and cluster names */
#define TR__MAX_BUFFERED (32u << 20)

typedef struct tr__link tr__link;
typedef struct tr__natsuv tr__natsuv;

/* A line for the log, from a thread that may not log (tr_host_log is for
 * loop threads): said by the next host loop that looks. */
#define TR__NEWS 16
typedef struct tr__news {
  int level;
  char text[160];
} tr__news;

/* Another node, as its heartbeats describe it. */
typedef struct tr__peer {
  int alive;
  uint64_t last_seen; /* uv_hrtime of its last heartbeat */
  char name[TR__NAME_MAX + 1];
  uint32_t hosts;
  tr_pid actors[TR__NODES]; /* its hosts' cluster actors */
} tr__peer;

/* Work for the worker thread, whose KV calls block: a global name asked
 * by a cluster actor (answered to it with tr_send), or a node to clean. */
enum {
  TR__JOB_REGISTER,
  TR__JOB_WHEREIS,
  TR__JOB_UNREGISTER,
  TR__JOB_RELEASE,
  TR__JOB_FORGET_NODE
};

typedef struct tr__job {
  struct tr__job *next;
  int op;
  tr_host *h;    /* the asking actor's host (tr_send's) */
  tr_pid actor;  /* who gets the answer */
  tr_pid caller; /* whose call it answers (0: none) */
  uint64_t session;
  tr_pid pid;    /* register: whom; release: who ended */
  uint32_t node; /* forget_node: which */
  char name[];   /* the global name */
} tr__job;

struct tr_cluster {
  char *url, *node_name, *cluster, *creds, *tls_ca, *tls_cert, *tls_key;
  char prefix[TR__NAME_MAX + 16]; /* "troupe.<cluster>." */
  uint32_t lost_ms, max_buffered, id;
  natsConnection *ctl; /* the control connection: claim, names, heartbeats */
  natsSubscription *hb_sub;
  jsCtx *js;
  kvStore *kv;
  uint64_t claim_rev; /* the revision of our claim, for its refresh */
  int64_t max_payload;

  uv_mutex_t lock; /* all below, but alive (read by carry at any time) */
  uv_cond_t cond;
  uv_thread_t worker;
  int worker_on, stopping;
  int ctl_down;  /* the control connection is disconnected */
  tr_host *busy; /* the host whose job the worker runs now */
  int beat_now, hello_now;
  tr__news news[TR__NEWS];
  uint32_t nnews;                  /* a node said hello: beat at once */
  unsigned char expect[TR__NODES]; /* fresh claims seen when joining */
  atomic_int closing, closed;      /* of the control connection */
  tr__peer *peers[TR__NODES];
  tr__link *links[TR__NODES]; /* by host index */
  tr__job *jobs, **jobs_tail;
  _Atomic unsigned char alive[TR__NODES];
};

/* One destination host's frame being filled. */
typedef struct tr__batch {
  tr__frame f;
  uint32_t node, host;
  struct tr__batch *next_dirty;
  int dirty;
  char subject[TR__NAME_MAX + 48];
} tr__batch;

struct tr__link {
  tr_cluster *c;
  tr_host *h;
  uint32_t index;
  natsConnection *nc;
  natsSubscription *sub;
  tr__natsuv *uv;   /* drives nc from the host's loop */
  uv_check_t check; /* after I/O: deliver what came, send what is batched */
  uv_idle_t idle;   /* while something waits: no blocking poll */
  uv_async_t async; /* news from other threads: nodes lost, connection */
  int idle_on, handles;
  size_t limit;    /* the largest frame: the server's max_payload */
  size_t buffered; /* bytes waiting in libnats at the last flush */
  size_t pending;  /* bytes in frames not yet published */
  tr__batch **batches[TR__NODES]; /* by node, then by its host */
  tr__batch *dirty;
  tr_pid actor; /* "troupe.cluster.<index>" */
  atomic_int connected;
  atomic_int news;                       /* async has something to do */
  _Atomic unsigned char lost[TR__NODES]; /* to tell the host */
  atomic_int said_down;       /* logged the drop, not yet the return */
  atomic_int closing, closed; /* natsConnection_Close asked, done */
  uint64_t refused;           /* sends refused while disconnected */
};

/* cluster.c */
int tr__cluster_options(tr_cluster *c, natsOptions **out, char *err,
                        size_t errlen);
void tr__cluster_push(tr_cluster *c, tr__job *job);
/* Keeps a line for the log (c->lock held) and wakes a host to say it;
 * tr__cluster_say_news says what is kept, on h's loop thread. */
void tr__cluster_log(tr_cluster *c, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void tr__cluster_say_news(tr_cluster *c, tr_host *h);
/* Marks node lost for every attached host (c->lock held). */
void tr__cluster_lost(tr_cluster *c, uint32_t node);

/* claim.c: the node id, in the bucket; c->kv open. */
int tr__claim(tr_cluster *c, char *err, size_t errlen);
int tr__claim_refresh(tr_cluster *c);
void tr__claim_release(tr_cluster *c);

/* peers.c: heartbeats in and out, lost nodes found (the worker's). */
int tr__peers_start(tr_cluster *c, char *err, size_t errlen);
void tr__peers_beat(tr_cluster *c, int farewell);
void tr__peers_greet(tr_cluster *c);
void tr__peers_hello(tr_cluster *c);
void tr__peers_check(tr_cluster *c, uint64_t now);

/* names.c: global names in the bucket (the worker's) and the cluster
 * actor of each host. */
void tr__names_run(tr_cluster *c, tr__job *job);
void tr__names_forget_node(tr_cluster *c, uint32_t node);
int tr__names_actor_start(tr__link *l);

/* Waits (2 s at most) until a connection's closed callback has run:
 * libnats calls its callbacks later, on a thread of its own. */
void tr__wait_closed(atomic_int *closed);

/* link.c */
int tr__link_open(tr__link *l, char *err, size_t errlen);
void tr__link_close(tr__link *l);
void tr__link_wake(tr__link *l);

/* natsuv.c: a connection driven by a host's loop. Made on the loop's
 * thread, which it takes for the loop's; tr__natsuv_set gives o its
 * callbacks (one connection per adapter). tr__natsuv_free, on the loop
 * thread once the connection is destroyed (libnats calls it no more),
 * closes its handles: its memory goes in the last close callback, as the
 * loop runs. */
int tr__natsuv_new(uv_loop_t *loop, tr__natsuv **out);
natsStatus tr__natsuv_set(tr__natsuv *a, natsOptions *o);
void tr__natsuv_free(tr__natsuv *a);

#endif
