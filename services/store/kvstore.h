/*
 * kvstore.h -- what the native store's files share: its state, kept by
 * store.c (the actor: loading, the writer, the sweep); the requests,
 * served by storeops.c (checks, reads, dispatch) and storechange.c (the
 * changes).
 */
#ifndef TR_KVSTORE_H
#define TR_KVSTORE_H

#include <stdint.h>

#include "kvmap.h"
#include "kvreq.h"
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

/* storeops.c: what requests share. Each check returns 0, or -1 with the
 * error replied (the checks of key and value are kvreq.h's). */
/* Replies r to m if m is a call, else frees r. */
void tr__kvstore_reply(tr__kvstore *s, const tr_msg *m, tr_msg *r);
void tr__kvstore_oom(tr__kvstore *s, const tr_msg *m);
/* A string of 1..TR_KV_MAX_KEY bytes. */
int tr__kvstore_check_key(tr__kvstore *s, const tr_msg *m, const tr_value *v,
                          const char **key, size_t *klen);
/* A value as stored: a string, or a number's text in buf (NUMBER_TEXT
 * bytes; *val == buf tells it was a number). */
int tr__kvstore_check_value(tr__kvstore *s, const tr_msg *m, const tr_value *v,
                            char *buf, const char **val, size_t *vlen);
/* A key the writer can write (valid UTF-8 if its load said "utf8"). */
int tr__kvstore_check_writable(tr__kvstore *s, const tr_msg *m, const char *key,
                               size_t klen);
/* The key's value and expiry (any pointer may be NULL), or 0 when it is
 * missing or has expired (it is removed then). */
int tr__kvstore_lookup(tr__kvstore *s, const char *key, size_t klen,
                       const char **val, size_t *vlen, int64_t *at);

/* storechange.c: the changes, each returning 1 when m was taken (as
 * tr__kvstore_serve does). argc is m's. */
int tr__kvstore_set(tr__kvstore *s, tr_msg *m, int owned, size_t argc);
/* delete, or getdel (get 1) */
int tr__kvstore_delete(tr__kvstore *s, tr_msg *m, int owned, size_t argc,
                       int get);
int tr__kvstore_incr(tr__kvstore *s, tr_msg *m, int owned, size_t argc);
int tr__kvstore_append(tr__kvstore *s, tr_msg *m, int owned, size_t argc);
int tr__kvstore_mset(tr__kvstore *s, tr_msg *m, int owned, size_t argc);
int tr__kvstore_expire(tr__kvstore *s, tr_msg *m, int owned, size_t argc);
int tr__kvstore_persist(tr__kvstore *s, tr_msg *m, int owned, size_t argc);
int tr__kvstore_flush(tr__kvstore *s, tr_msg *m, int owned, size_t argc);

#endif
