/*
 * kvstore.h -- what the native store's two files share: its state, kept
 * by store.c (the actor: loading, the writer, the sweep), and the
 * requests, served by storeops.c.
 */
#ifndef TR_KVSTORE_H
#define TR_KVSTORE_H

#include <stdint.h>

#include "kvmap.h"
#include "troupe_services.h"

typedef struct tr__kvstore {
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
  uint64_t sweep_timer; /* the sweep's tr_timeout, 0: none pending */
} tr__kvstore;

/* Serves one request (storeops.c); returns 1 when m was taken (forwarded
 * or held), 0 when the caller still owns it. owned: m is the store's (a
 * held change), else the message being handled. */
int tr__kvstore_serve(tr__kvstore *s, tr_msg *m, int owned);

/* The writer, ready to take a change: its pid, or 0 when the change
 * cannot go now -- the caller got an error reply, or m was taken to wait
 * for room at the writer (*held set; it is served again then). store.c. */
tr_pid tr__kvstore_writer(tr__kvstore *s, tr_msg *m, int owned, int *held);

/* Keys expire then: the sweep is set to run, if it is not already. */
void tr__kvstore_arm_sweep(tr__kvstore *s);

/* The wall clock, ms since the Unix epoch: what expiry times are in. */
int64_t tr__kvstore_now(void);

#endif
