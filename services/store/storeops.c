/*
 * storeops.c -- the native store's requests: the checks they share, the
 * reads, and which request goes where; the changes are storechange.c's,
 * the actor store.c's. The protocol is troupe_services.h's "store"
 * section.
 *
 * Reads are answered at once. A key found expired is removed then (the
 * writer is not told: its times are absolute). A change is checked (key a
 * string of 1..TR_KV_MAX_KEY bytes, valid UTF-8 if the writer's load said
 * "utf8"; value a string or number of at most TR_KV_MAX_VALUE bytes as
 * text: kvreq.c's checks, shared with the store in Redis), the writer
 * asked for, then it is applied to the map and sent on
 * with the caller's sender and session, so the writer answers the caller
 * once it is written. A plain set (key, string value), a delete of a key
 * that is there, an mset of strings and a flush are the very request
 * forwarded (tr_forward: no copy); the rest are worded for the writer
 * (tr_forward_as) with the answer the caller is to get. A request that
 * changes nothing is answered by the store. A bad request gets an error reply
 * and changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvglob.h"
#include "kvstore.h"

typedef tr__kvstore store;

void tr__kvstore_reply(store *s, const tr_msg *m, tr_msg *r) {
  if (tr_msg_kind(m) == TR_KIND_CALL)
    tr_reply(s->h, m, r);
  else
    tr_msg_free(r);
}

int tr__kvstore_check_key(store *s, const tr_msg *m, const tr_value *v,
                          const char **key, size_t *klen) {
  char err[TR__KVREQ_ERR];
  if (!tr__kvreq_key(v, key, klen, err))
    return 0;
  tr_reply_error(s->h, m, "%s", err);
  return -1;
}

/* Is s valid UTF-8 as Lua's utf8.len has it: no overlong forms, no
 * surrogates, nothing past U+10FFFF (the JSON writer checks with it)? */
static int utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0, j, k;
  while (i < n) {
    unsigned c = s[i], lo = 0x80, hi = 0xbf;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      k = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      k = 2;
      if (c == 0xe0)
        lo = 0xa0; /* no overlong form */
      if (c == 0xed)
        hi = 0x9f; /* no surrogate */
    } else if (c >= 0xf0 && c <= 0xf4) {
      k = 3;
      if (c == 0xf0)
        lo = 0x90; /* no overlong form */
      if (c == 0xf4)
        hi = 0x8f; /* nothing past U+10FFFF */
    } else {
      return 0; /* a continuation byte, or a lead byte never valid */
    }
    if (n - i <= k || s[i + 1] < lo || s[i + 1] > hi)
      return 0;
    for (j = 2; j <= k; j++)
      if ((s[i + j] & 0xc0) != 0x80)
        return 0;
    i += k + 1;
  }
  return 1;
}

/* A key as an error shows it, as the JSON writer does: quoted, its first
 * 40 bytes, each one that is not printable ASCII (or is '"', '\\') as
 * \xHH, and "..." when cut. buf holds 170 bytes or more. */
static void show_key(char *buf, const char *key, size_t klen) {
  size_t i, n = klen > 40 ? 40 : klen;
  char *p = buf;
  *p++ = '"';
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)key[i];
    if (c < 32 || c >= 127 || c == '"' || c == '\\')
      p += sprintf(p, "\\x%02x", c);
    else
      *p++ = (char)c;
  }
  strcpy(p, klen > 40 ? "...\"" : "\"");
}

/* A key the writer cannot write is refused (the writer's load said which
 * it takes). 0, or -1 with the error replied. */
int tr__kvstore_check_writable(store *s, const tr_msg *m, const char *key,
                               size_t klen) {
  char shown[200];
  if (!s->utf8_keys || utf8_valid((const unsigned char *)key, klen))
    return 0;
  show_key(shown, key, klen);
  tr_reply_error(s->h, m,
                 "kv: the key %s is not valid UTF-8, and a JSON key is text "
                 "(the log writer takes any bytes)",
                 shown);
  return -1;
}

/* A value as the store keeps it (tr__kvreq_value). buf holds NUMBER_TEXT
 * bytes. 0, or -1 with the error replied. */
int tr__kvstore_check_value(store *s, const tr_msg *m, const tr_value *v,
                            char *buf, const char **val, size_t *vlen) {
  char err[TR__KVREQ_ERR];
  if (!tr__kvreq_value(v, buf, val, vlen, err))
    return 0;
  tr_reply_error(s->h, m, "%s", err);
  return -1;
}

/* The key's value and expiry, or 0 when it is missing or has expired (and
 * is removed now). */
int tr__kvstore_lookup(store *s, const char *key, size_t klen, const char **val,
                       size_t *vlen, int64_t *at) {
  int64_t when = 0;
  if (!tr__kvmap_get_at(s->map, key, klen, val, vlen, &when))
    return 0;
  if (when && when <= tr__kvstore_now()) {
    tr__kvmap_delete(s->map, key, klen);
    return 0;
  }
  if (at)
    *at = when;
  return 1;
}

void tr__kvstore_oom(store *s, const tr_msg *m) {
  tr_reply_error(s->h, m, "kv: out of memory");
}

/* ----------------------------------------------------------------- reads */

static void op_get(store *s, const tr_msg *m, size_t argc) {
  const char *key, *val;
  size_t klen, vlen;
  if (argc != 2)
    tr_reply_error(s->h, m, "kv: get takes a key");
  else if (!tr__kvstore_check_key(s, m, tr_msg_arg(m, 1), &key, &klen))
    tr__kvstore_reply(s, m,
                      tr__kvstore_lookup(s, key, klen, &val, &vlen, NULL)
                          ? tr_msg_pack("reply", "S", val, vlen)
                          : tr_msg_pack("reply", "n"));
}

static void op_exists(store *s, const tr_msg *m, size_t argc) {
  const tr_value *v = tr_msg_arg(m, 1);
  const char *key;
  size_t klen, i;
  int64_t n = 0;
  if (argc < 2) {
    tr_reply_error(s->h, m, "kv: exists takes one key or more");
    return;
  }
  for (i = 1; i < argc; i++, v = tr_value_next(v)) {
    if (tr__kvstore_check_key(s, m, v, &key, &klen))
      return;
    n += tr__kvstore_lookup(s, key, klen, NULL, NULL, NULL);
  }
  tr__kvstore_reply(s, m, tr_msg_pack("reply", "I", n));
}

static void op_strlen(store *s, const tr_msg *m, size_t argc) {
  const char *key;
  size_t klen, vlen = 0;
  if (argc != 2)
    tr_reply_error(s->h, m, "kv: strlen takes a key");
  else if (!tr__kvstore_check_key(s, m, tr_msg_arg(m, 1), &key, &klen))
    tr__kvstore_reply(
        s, m,
        tr_msg_pack("reply", "I",
                    tr__kvstore_lookup(s, key, klen, NULL, &vlen, NULL)
                        ? (int64_t)vlen
                        : 0));
}

static void op_mget(store *s, const tr_msg *m, size_t argc) {
  const tr_value *v = tr_msg_arg(m, 1);
  const char *key, *val;
  size_t klen, vlen, i;
  tr_msg *r;
  if (argc < 2) {
    tr_reply_error(s->h, m, "kv: mget takes one key or more");
    return;
  }
  for (i = 1; i < argc; i++, v = tr_value_next(v)) /* all keys first */
    if (tr__kvstore_check_key(s, m, v, &key, &klen))
      return;
  if (!(r = tr_msg_new("reply"))) {
    tr__kvstore_oom(s, m);
    return;
  }
  v = tr_msg_arg(m, 1);
  for (i = 1; i < argc; i++, v = tr_value_next(v)) {
    tr_value_str(v, &key, &klen);
    if (tr__kvstore_lookup(s, key, klen, &val, &vlen, NULL))
      tr_msg_add_str(r, val, vlen);
    else
      tr_msg_add_nil(r);
  }
  if (!tr_msg_bytes(r, &vlen)) {
    tr_msg_free(r);
    tr_reply_error(s->h, m, "kv: the values do not fit in one reply");
    return;
  }
  tr__kvstore_reply(s, m, r);
}

/* The keys (pointers into the map) of a keys or scan reply. */
typedef struct keylist {
  const char **key;
  size_t *len;
  size_t n, cap;
  uint64_t bytes;
} keylist;

static int keylist_add(keylist *l, const char *key, size_t klen) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    const char **k = realloc(l->key, cap * sizeof *k);
    size_t *n;
    if (!k)
      return -1;
    l->key = k;
    if (!(n = realloc(l->len, cap * sizeof *n)))
      return -1;
    l->len = n;
    l->cap = cap;
  }
  l->key[l->n] = key;
  l->len[l->n++] = klen;
  l->bytes += klen + 5; /* its header in the message at most */
  return 0;
}

static void keylist_free(keylist *l) {
  free(l->key);
  free(l->len);
}

/* Adds the array of keys to r. */
static void add_keys(tr_msg *r, const keylist *l) {
  size_t i;
  tr_msg_add_array(r, (uint32_t)l->n);
  for (i = 0; i < l->n; i++)
    tr_msg_add_str(r, l->key[i], l->len[i]);
}

static void op_keys(store *s, const tr_msg *m, size_t argc) {
  keylist l = {0};
  const char *pat, *key;
  size_t plen, klen;
  uint64_t cursor = 0;
  int64_t at, now = tr__kvstore_now();
  tr_msg *r;
  if (argc != 2 || tr_value_str(tr_msg_arg(m, 1), &pat, &plen)) {
    tr_reply_error(s->h, m, "kv: keys takes a pattern");
    return;
  }
  while (
      tr__kvmap_scan(s->map, &cursor, SIZE_MAX, &key, &klen, NULL, NULL, &at)) {
    if ((at && at <= now) || !tr__kvglob(pat, plen, key, klen))
      continue;
    if (keylist_add(&l, key, klen)) {
      keylist_free(&l);
      tr__kvstore_oom(s, m);
      return;
    }
  }
  if (l.bytes + 64 > TR_MAX_MSG || l.n > UINT32_MAX) {
    tr_reply_error(s->h, m,
                   "kv: the %zu keys matching do not fit in one reply; use "
                   "scan",
                   l.n);
  } else if (!(r = tr_msg_new("reply"))) {
    tr__kvstore_oom(s, m);
  } else {
    add_keys(r, &l);
    tr__kvstore_reply(s, m, r);
  }
  keylist_free(&l);
}

/* scan(cursor[, pattern[, count]]) -> next, keys */
static void op_scan(store *s, const tr_msg *m, size_t argc) {
  keylist l = {0};
  const char *pat, *key;
  size_t plen, klen, looked = 0;
  int64_t cursor, count, at, now = tr__kvstore_now();
  uint64_t c;
  tr_msg *r;
  char err[TR__KVREQ_ERR];
  if (tr__kvreq_scan(m, argc, &cursor, &pat, &plen, &count, err)) {
    tr_reply_error(s->h, m, "%s", err);
    return;
  }
  c = (uint64_t)cursor;
  while (looked < (size_t)count &&
         tr__kvmap_scan(s->map, &c, (size_t)count * 10, &key, &klen, NULL, NULL,
                        &at)) {
    looked++;
    if ((at && at <= now) || (pat && !tr__kvglob(pat, plen, key, klen)))
      continue;
    if (keylist_add(&l, key, klen)) {
      keylist_free(&l);
      tr__kvstore_oom(s, m);
      return;
    }
  }
  if (!(r = tr_msg_new("reply"))) {
    tr__kvstore_oom(s, m);
  } else {
    tr_msg_add_int(r, (int64_t)c);
    add_keys(r, &l);
    tr__kvstore_reply(s, m, r);
  }
  keylist_free(&l);
}

static void op_ttl(store *s, const tr_msg *m, size_t argc) {
  const char *key;
  size_t klen;
  int64_t at = 0, left;
  if (argc != 2) {
    tr_reply_error(s->h, m, "kv: ttl takes a key");
    return;
  }
  if (tr__kvstore_check_key(s, m, tr_msg_arg(m, 1), &key, &klen))
    return;
  if (!tr__kvstore_lookup(s, key, klen, NULL, NULL, &at))
    left = -2;
  else if (!at)
    left = -1;
  else
    left = at - tr__kvstore_now();
  tr__kvstore_reply(s, m, tr_msg_pack("reply", "I", left < -2 ? 0 : left));
}

/* count and stats are exact: what has expired goes first (each key once,
 * O(log n) each, however long since the sweep). */
static void op_count(store *s, const tr_msg *m, int stats) {
  tr_msg *r;
  tr__kvmap_expire(s->map, tr__kvstore_now(), SIZE_MAX);
  if (!stats) {
    tr__kvstore_reply(
        s, m, tr_msg_pack("reply", "I", (int64_t)tr__kvmap_count(s->map)));
    return;
  }
  if (!(r = tr_msg_new("reply"))) {
    tr__kvstore_oom(s, m);
    return;
  }
  tr_msg_add_map(r, 3);
  tr_msg_add_cstr(r, "keys");
  tr_msg_add_int(r, (int64_t)tr__kvmap_count(s->map));
  tr_msg_add_cstr(r, "expiring");
  tr_msg_add_int(r, (int64_t)tr__kvmap_expiring(s->map));
  tr_msg_add_cstr(r, "bytes");
  tr_msg_add_int(r, (int64_t)tr__kvmap_bytes(s->map));
  tr__kvstore_reply(s, m, r);
}

/* ------------------------------------------------------------- dispatch */

static int is_op(const char *op, size_t len, const char *name) {
  return strlen(name) == len && !memcmp(op, name, len);
}

int tr__kvstore_serve(store *s, tr_msg *m, int owned) {
  const char *op;
  size_t oplen, argc = tr_msg_argc(m);
  if (tr_value_str(tr_msg_arg(m, 0), &op, &oplen)) {
    tr_reply_error(s->h, m,
                   "kv: a request starts with get, set, delete or another "
                   "operation");
    return 0;
  }
  /* the usual first */
  if (is_op(op, oplen, "get"))
    op_get(s, m, argc);
  else if (is_op(op, oplen, "set"))
    return tr__kvstore_set(s, m, owned, argc);
  else if (is_op(op, oplen, "delete"))
    return tr__kvstore_delete(s, m, owned, argc, 0);
  else if (is_op(op, oplen, "getdel"))
    return tr__kvstore_delete(s, m, owned, argc, 1);
  else if (is_op(op, oplen, "exists"))
    op_exists(s, m, argc);
  else if (is_op(op, oplen, "incr"))
    return tr__kvstore_incr(s, m, owned, argc);
  else if (is_op(op, oplen, "append"))
    return tr__kvstore_append(s, m, owned, argc);
  else if (is_op(op, oplen, "strlen"))
    op_strlen(s, m, argc);
  else if (is_op(op, oplen, "mget"))
    op_mget(s, m, argc);
  else if (is_op(op, oplen, "mset"))
    return tr__kvstore_mset(s, m, owned, argc);
  else if (is_op(op, oplen, "keys"))
    op_keys(s, m, argc);
  else if (is_op(op, oplen, "scan"))
    op_scan(s, m, argc);
  else if (is_op(op, oplen, "expire"))
    return tr__kvstore_expire(s, m, owned, argc);
  else if (is_op(op, oplen, "ttl"))
    op_ttl(s, m, argc);
  else if (is_op(op, oplen, "persist"))
    return tr__kvstore_persist(s, m, owned, argc);
  else if (is_op(op, oplen, "flush"))
    return tr__kvstore_flush(s, m, owned, argc);
  else if ((is_op(op, oplen, "count") || is_op(op, oplen, "stats") ||
            is_op(op, oplen, "info")) &&
           argc != 1)
    tr_reply_error(s->h, m, "kv: %.*s takes no arguments", (int)oplen, op);
  else if (is_op(op, oplen, "count"))
    op_count(s, m, 0);
  else if (is_op(op, oplen, "stats"))
    op_count(s, m, 1);
  else if (is_op(op, oplen, "info"))
    tr__kvstore_reply(s, m, tr_msg_pack("reply", "s", s->info ? s->info : ""));
  else
    tr_reply_error(s->h, m, "kv: unknown operation \"%.*s\"", (int)oplen, op);
  return 0;
}
