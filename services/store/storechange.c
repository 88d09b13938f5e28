/*
 * storechange.c -- the native store's changes: set (with its options),
 * delete and getdel, incr, append, mset, expire, persist and flush. Each
 * is checked, finds out whether it changes anything (what does not is
 * answered here), gets the writer (tr__kvstore_writer: it may wait for
 * room), is applied to the map, then goes to the writer -- the very
 * request when the writer takes it as it is, else worded for it with the
 * answer the caller is to get (tr_forward_as). See storeops.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvstore.h"

typedef tr__kvstore store;

/* Sends the change (worded for the writer) on with m's sender and session;
 * m stays the caller's. */
static void forward_as(store *s, tr_pid w, const tr_msg *m, tr_msg *change) {
  if (!change) {
    tr_host_log(s->h, TR_LOG_ERROR,
                "kv: out of memory: a change was not sent to kv.writer");
    tr_reply_error(s->h, m, "kv: out of memory");
    return;
  }
  tr_forward_as(s->h, w, m, change);
}

/* The writer's messages are named by their change: set(key, value, ...). */
static tr_msg *writer_msg(const char *op) { return tr_msg_new(op); }

/* set's options (kvreq.c reads them). 0, or -1 with the error replied. */
static int read_opts(store *s, const tr_msg *m, const tr_value *o,
                     tr__kvreq_set *out) {
  char err[TR__KVREQ_ERR];
  if (tr__kvreq_set_opts(o, out, err)) {
    tr_reply_error(s->h, m, "%s", err);
    return -1;
  }
  if (out->px > INT64_MAX / 2) /* past any clock */
    out->px = INT64_MAX / 2;
  return 0;
}

/* Applies a set to the map: value, then expiry (at 0: none). */
static int apply_set(store *s, const char *key, size_t klen, const char *val,
                     size_t vlen, int64_t at) {
  if (tr__kvmap_set(s->map, key, klen, val, vlen))
    return -1;
  if (at || tr__kvmap_expiring(s->map)) { /* a set clears any expiry */
    if (tr__kvmap_set_expiry(s->map, key, klen, at) < 0) {
      tr__kvmap_delete(s->map, key, klen); /* not half done */
      return -1;
    }
    if (at)
      tr__kvstore_arm_sweep(s);
  }
  return 0;
}

int tr__kvstore_set(store *s, tr_msg *m, int owned, size_t argc) {
  const char *key, *val, *old = NULL;
  size_t klen, vlen, oldlen = 0;
  char num[NUMBER_TEXT];
  int64_t oldat = 0, at = 0;
  int there, held;
  tr__kvreq_set o;
  tr_pid w;
  tr_msg *c;
  if (argc != 3 && argc != 4) {
    tr_reply_error(s->h, m, "kv: set takes a key and a value (and options)");
    return 0;
  }
  if (tr__kvstore_check_key(s, m, tr_msg_arg(m, 1), &key, &klen) ||
      tr__kvstore_check_value(s, m, tr_msg_arg(m, 2), num, &val, &vlen) ||
      tr__kvstore_check_writable(s, m, key, klen) ||
      read_opts(s, m, argc == 4 ? tr_msg_arg(m, 3) : NULL, &o))
    return 0;
  if (!o.px && !o.nx && !o.xx && !o.keepttl && !o.get) { /* a plain set */
    if (!(w = tr__kvstore_writer(s, m, owned, &held)))
      return held;
    c = argc == 3 && val != num
            ? NULL /* the very request: the fast path */
            : tr_msg_pack("set", "SS", key, klen, val, vlen);
    if ((!c && (argc != 3 || val == num)) ||
        apply_set(s, key, klen, val, vlen, 0)) {
      tr_msg_free(c);
      tr__kvstore_oom(s, m);
      return 0;
    }
    if (c) {
      forward_as(s, w, m, c);
      return 0;
    }
    tr_forward(s->h, w, m); /* the writer answers the caller */
    return 1;
  }
  there = tr__kvstore_lookup(s, key, klen, &old, &oldlen, &oldat);
  if ((o.nx && there) || (o.xx && !there)) { /* nothing changes */
    tr__kvstore_reply(s, m,
                      !o.get  ? tr_msg_pack("reply", "b", 0)
                      : there ? tr_msg_pack("reply", "S", old, oldlen)
                              : tr_msg_pack("reply", "n"));
    return 0;
  }
  if (!(w = tr__kvstore_writer(s, m, owned, &held)))
    return held;
  if (o.px)
    at = tr__kvstore_now() + o.px;
  else if (o.keepttl)
    at = there ? oldat : 0;
  /* ("set", key, value, at[, old value]): built before the map changes,
   * as old points into it */
  if ((c = writer_msg("set"))) {
    tr_msg_add_str(c, key, klen);
    tr_msg_add_str(c, val, vlen);
    tr_msg_add_int(c, at);
    if (o.get && there)
      tr_msg_add_str(c, old, oldlen);
    else if (o.get)
      tr_msg_add_nil(c);
  }
  if (!c || apply_set(s, key, klen, val, vlen, at)) {
    tr_msg_free(c);
    tr__kvstore_oom(s, m);
    return 0;
  }
  forward_as(s, w, m, c);
  return 0;
}

/* delete, and getdel (answered with the value) */
int tr__kvstore_delete(store *s, tr_msg *m, int owned, size_t argc, int get) {
  const char *key, *val;
  size_t klen, vlen;
  tr_pid w;
  tr_msg *c = NULL;
  int held;
  if (argc != 2) {
    tr_reply_error(s->h, m, "kv: %s takes a key", get ? "getdel" : "delete");
    return 0;
  }
  if (tr__kvstore_check_key(s, m, tr_msg_arg(m, 1), &key, &klen))
    return 0;
  if (!tr__kvstore_lookup(s, key, klen, &val, &vlen, NULL)) {
    tr__kvstore_reply(
        s, m, get ? tr_msg_pack("reply", "n") : tr_msg_pack("reply", "b", 0));
    return 0;
  }
  if (!(w = tr__kvstore_writer(s, m, owned, &held)))
    return held;
  if (get && !(c = tr_msg_pack("delete", "SS", key, klen, val, vlen))) {
    tr__kvstore_oom(s, m);
    return 0;
  }
  tr__kvmap_delete(s->map, key, klen);
  if (!get) {
    tr_forward(s->h, w, m); /* the writer answers true */
    return 1;
  }
  forward_as(s, w, m, c);
  return 0;
}

/* Reads a value's text as Redis's string2ll does: an optional '-', digits,
 * no leading zero (but "0"), nothing else, within 64 bits. */
static int parse_int(const char *p, size_t n, int64_t *out) {
  uint64_t v = 0, limit;
  size_t i = 0;
  int neg = 0;
  if (n == 0 || n > 20)
    return -1;
  if (p[0] == '-') {
    neg = 1;
    i = 1;
  }
  if (i == n || (p[i] == '0' && (n - i > 1 || neg)))
    return -1;
  limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; i < n; i++) {
    unsigned d = (unsigned char)p[i] - '0';
    if (d > 9 || v > (limit - d) / 10)
      return -1;
    v = v * 10 + d;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return 0;
}

int tr__kvstore_incr(store *s, tr_msg *m, int owned, size_t argc) {
  const char *key, *val;
  size_t klen, vlen, n;
  int64_t by = 1, cur = 0, sum, at = 0;
  char text[NUMBER_TEXT];
  int there, held;
  tr_pid w;
  tr_msg *c;
  if ((argc != 2 && argc != 3) ||
      (argc == 3 && tr_value_int(tr_msg_arg(m, 2), &by))) {
    tr_reply_error(s->h, m, "kv: incr takes a key and an integer");
    return 0;
  }
  if (tr__kvstore_check_key(s, m, tr_msg_arg(m, 1), &key, &klen))
    return 0;
  there = tr__kvstore_lookup(s, key, klen, &val, &vlen, &at);
  if (there && parse_int(val, vlen, &cur)) {
    tr_reply_error(s->h, m, "kv: the value is not an integer or out of range");
    return 0;
  }
  if (__builtin_add_overflow(cur, by, &sum)) {
    tr_reply_error(s->h, m, "kv: increment or decrement would overflow");
    return 0;
  }
  if (!there && tr__kvstore_check_writable(s, m, key, klen))
    return 0;
  if (!(w = tr__kvstore_writer(s, m, owned, &held)))
    return held;
  n = tr__kvreq_itoa(text, sum);
  /* ("set", key, text, at, sum): its expiry kept */
  if (!(c = tr_msg_pack("set", "SSII", key, klen, text, n, at, sum)) ||
      tr__kvmap_set(s->map, key, klen, text, n)) {
    tr_msg_free(c);
    tr__kvstore_oom(s, m);
    return 0;
  }
  forward_as(s, w, m, c);
  return 0;
}

int tr__kvstore_append(store *s, tr_msg *m, int owned, size_t argc) {
  const char *key, *val, *add;
  size_t klen, vlen = 0, alen;
  char num[NUMBER_TEXT], *joined;
  int64_t at = 0;
  int there, held;
  tr_pid w;
  tr_msg *c;
  if (argc != 3) {
    tr_reply_error(s->h, m, "kv: append takes a key and a text");
    return 0;
  }
  if (tr__kvstore_check_key(s, m, tr_msg_arg(m, 1), &key, &klen) ||
      tr__kvstore_check_value(s, m, tr_msg_arg(m, 2), num, &add, &alen))
    return 0;
  there = tr__kvstore_lookup(s, key, klen, &val, &vlen, &at);
  if (!there)
    vlen = 0;
  if (vlen + alen > TR_KV_MAX_VALUE) {
    tr_reply_error(s->h, m,
                   "kv: the value would be too big (%zu bytes; the limit is "
                   "%u)",
                   vlen + alen, (unsigned)TR_KV_MAX_VALUE);
    return 0;
  }
  if (!there && tr__kvstore_check_writable(s, m, key, klen))
    return 0;
  if (!(w = tr__kvstore_writer(s, m, owned, &held)))
    return held;
  if (!(joined = malloc(vlen + alen + 1))) {
    tr__kvstore_oom(s, m);
    return 0;
  }
  if (vlen)
    memcpy(joined, val, vlen);
  memcpy(joined + vlen, add, alen);
  c = tr_msg_pack("set", "SSII", key, klen, joined, vlen + alen, at,
                  (int64_t)(vlen + alen));
  if (!c || tr__kvmap_set(s->map, key, klen, joined, vlen + alen)) {
    free(joined);
    tr_msg_free(c);
    tr__kvstore_oom(s, m);
    return 0;
  }
  free(joined);
  forward_as(s, w, m, c);
  return 0;
}

/* mset(key, value, ...): all checked before any is set; one record. */
int tr__kvstore_mset(store *s, tr_msg *m, int owned, size_t argc) {
  const tr_value *v = tr_msg_arg(m, 1);
  const char *key, *val;
  size_t klen, vlen, i;
  char num[NUMBER_TEXT];
  int numbers = 0, held;
  tr_pid w;
  tr_msg *c = NULL;
  if (argc < 3 || argc % 2 == 0) {
    tr_reply_error(s->h, m, "kv: mset takes keys and values, in pairs");
    return 0;
  }
  for (i = 1; i < argc; i += 2) {
    if (tr__kvstore_check_key(s, m, v, &key, &klen) ||
        tr__kvstore_check_value(s, m, tr_value_next(v), num, &val, &vlen) ||
        tr__kvstore_check_writable(s, m, key, klen))
      return 0;
    numbers |= val == num;
    v = tr_value_next(tr_value_next(v));
  }
  if (!(w = tr__kvstore_writer(s, m, owned, &held)))
    return held;
  if (numbers && !(c = writer_msg("mset"))) { /* values as text */
    tr__kvstore_oom(s, m);
    return 0;
  }
  v = tr_msg_arg(m, 1);
  for (i = 1; i < argc; i += 2) {
    tr_value_str(v, &key, &klen);
    tr__kvstore_check_value(s, m, tr_value_next(v), num, &val,
                            &vlen); /* checked */
    if (c) {
      tr_msg_add_str(c, key, klen);
      tr_msg_add_str(c, val, vlen);
    }
    if (apply_set(s, key, klen, val, vlen, 0)) {
      /* Those set already stay: the writer is still told of them all,
       * so that memory and the log agree once memory is had again. */
      tr_host_log(s->h, TR_LOG_ERROR, "kv: out of memory in an mset");
    }
    v = tr_value_next(tr_value_next(v));
  }
  if (!c) {
    tr_forward(s->h, w, m); /* the writer answers true */
    return 1;
  }
  forward_as(s, w, m, c);
  return 0;
}

int tr__kvstore_expire(store *s, tr_msg *m, int owned, size_t argc) {
  const char *key;
  size_t klen;
  int64_t ms, at;
  int held;
  tr_pid w;
  tr_msg *c;
  if (argc != 3 || tr_value_int(tr_msg_arg(m, 2), &ms)) {
    tr_reply_error(s->h, m, "kv: expire takes a key and a time in ms");
    return 0;
  }
  if (tr__kvstore_check_key(s, m, tr_msg_arg(m, 1), &key, &klen))
    return 0;
  if (!tr__kvstore_lookup(s, key, klen, NULL, NULL, NULL)) {
    tr__kvstore_reply(s, m, tr_msg_pack("reply", "b", 0));
    return 0;
  }
  if (!(w = tr__kvstore_writer(s, m, owned, &held)))
    return held;
  if (ms <= 0) { /* gone now */
    if (!(c = tr_msg_pack("delete", "S", key, klen))) {
      tr__kvstore_oom(s, m);
      return 0;
    }
    tr__kvmap_delete(s->map, key, klen);
  } else {
    at = tr__kvstore_now() + (ms > INT64_MAX / 4 ? INT64_MAX / 4 : ms);
    if (!(c = tr_msg_pack("expire", "SI", key, klen, at)) ||
        tr__kvmap_set_expiry(s->map, key, klen, at) < 0) {
      tr_msg_free(c);
      tr__kvstore_oom(s, m);
      return 0;
    }
    tr__kvstore_arm_sweep(s);
  }
  forward_as(s, w, m, c);
  return 0;
}

int tr__kvstore_persist(store *s, tr_msg *m, int owned, size_t argc) {
  const char *key;
  size_t klen;
  int64_t at = 0;
  int held;
  tr_pid w;
  if (argc != 2) {
    tr_reply_error(s->h, m, "kv: persist takes a key");
    return 0;
  }
  if (tr__kvstore_check_key(s, m, tr_msg_arg(m, 1), &key, &klen))
    return 0;
  if (!tr__kvstore_lookup(s, key, klen, NULL, NULL, &at) || !at) {
    tr__kvstore_reply(s, m, tr_msg_pack("reply", "b", 0));
    return 0;
  }
  if (!(w = tr__kvstore_writer(s, m, owned, &held)))
    return held;
  tr__kvmap_set_expiry(s->map, key, klen, 0); /* frees, never fails */
  forward_as(s, w, m, tr_msg_pack("expire", "SI", key, klen, 0));
  return 0;
}

int tr__kvstore_flush(store *s, tr_msg *m, int owned, size_t argc) {
  int held;
  tr_pid w;
  if (argc != 1) {
    tr_reply_error(s->h, m, "kv: flush takes no arguments");
    return 0;
  }
  if (!(w = tr__kvstore_writer(s, m, owned, &held)))
    return held;
  tr__kvmap_clear(s->map);
  tr_forward(s->h, w, m); /* the writer answers true */
  return 1;
}
