/*
 * kvreq.h -- the store protocol's checks of a request's arguments, shared
 * by both stores (the native one, storeops.c and storechange.c; the one in
 * Redis, redisops.c): a key, a value (numbers as their text), set's
 * options and scan's arguments, each read into plain values or refused
 * with the protocol's one error text for it. Each store then does its own
 * work with them.
 */
#ifndef TR_KVREQ_H
#define TR_KVREQ_H

#include <stdint.h>

#include "troupe_services.h"

#define NUMBER_TEXT 32    /* a number's text, for tr__kvreq_value */
#define TR__KVREQ_ERR 128 /* bytes for an error's text */

/* Each check returns 0, or -1 with the error's text in err (TR__KVREQ_ERR
 * bytes), to be replied as it is. */

/* v's decimal text in buf (NUMBER_TEXT bytes), not terminated; its length.
 * (incr makes one per request: printf's parsing of "%lld" was a tenth of
 * its cost.) */
size_t tr__kvreq_itoa(char *buf, int64_t v);

/* A key: a string of 1..TR_KV_MAX_KEY bytes. */
int tr__kvreq_key(const tr_value *v, const char **key, size_t *klen, char *err);

/* A value as stored: a string of at most TR_KV_MAX_VALUE bytes as it is,
 * an integer as its decimal text, a float as the shortest %.17g text that
 * reads back the same, in buf (NUMBER_TEXT bytes; *val == buf tells it
 * was a number). */
int tr__kvreq_value(const tr_value *v, char *buf, const char **val,
                    size_t *vlen, char *err);

/* set's options (its fourth argument, a map, or nil or NULL: none). */
typedef struct tr__kvreq_set {
  int64_t px; /* the expiry asked for, ms (ex made ms); 0: none */
  int nx, xx, keepttl, get;
} tr__kvreq_set;
int tr__kvreq_set_opts(const tr_value *o, tr__kvreq_set *out, char *err);

/* scan(cursor[, pattern[, count]]) of m (argc its arguments): *pat NULL
 * when no pattern; count 10 when not given, at most 100000. */
int tr__kvreq_scan(const tr_msg *m, size_t argc, int64_t *cursor,
                   const char **pat, size_t *plen, int64_t *count, char *err);

#endif
