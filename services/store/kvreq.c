/*
 * kvreq.c -- the store protocol's checks of a request's arguments and
 * their error texts, written once for both stores (see kvreq.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvreq.h"

#define SCAN_COUNT 10 /* keys looked at per scan call by default */
#define SCAN_MAX 100000

size_t tr__kvreq_itoa(char *buf, int64_t v) {
  char tmp[24], *e = tmp + sizeof tmp, *q = e;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do
    *--q = (char)('0' + u % 10);
  while (u /= 10);
  if (v < 0)
    *--q = '-';
  memcpy(buf, q, (size_t)(e - q));
  return (size_t)(e - q);
}

static int refuse(char *err, const char *text) {
  snprintf(err, TR__KVREQ_ERR, "%s", text);
  return -1;
}

static int too_big(char *err, const char *what, size_t n, unsigned limit) {
  snprintf(err, TR__KVREQ_ERR, "kv: the %s (%zu bytes; the limit is %u)", what,
           n, limit);
  return -1;
}

int tr__kvreq_key(const tr_value *v, const char **key, size_t *klen,
                  char *err) {
  if (tr_value_str(v, key, klen))
    return refuse(err, "kv: the key must be a string");
  if (*klen == 0)
    return refuse(err, "kv: the key is empty");
  if (*klen > TR_KV_MAX_KEY)
    return too_big(err, "key is too long", *klen, TR_KV_MAX_KEY);
  return 0;
}

int tr__kvreq_value(const tr_value *v, char *buf, const char **val,
                    size_t *vlen, char *err) {
  int64_t i;
  double d;
  int prec;
  switch (tr_value_type(v)) {
  case TR_STR:
    tr_value_str(v, val, vlen);
    return *vlen > TR_KV_MAX_VALUE
               ? too_big(err, "value is too big", *vlen, TR_KV_MAX_VALUE)
               : 0;
  case TR_INT:
    tr_value_int(v, &i);
    *vlen = tr__kvreq_itoa(buf, i);
    *val = buf;
    return 0;
  case TR_FLOAT:
    tr_value_float(v, &d);
    for (prec = 1; prec < 17; prec++) {
      snprintf(buf, NUMBER_TEXT, "%.*g", prec, d);
      if (strtod(buf, NULL) == d || isnan(d))
        break;
    }
    *vlen = (size_t)snprintf(buf, NUMBER_TEXT, "%.*g", prec, d);
    *val = buf;
    return 0;
  default:
    return refuse(err, "kv: the value must be a string or a number");
  }
}

static int opt_true(const tr_value *v) {
  int b = 0;
  return tr_value_bool(v, &b) == TR_OK && b;
}

static int is_name(const char *name, size_t len, const char *want) {
  return len == strlen(want) && !memcmp(name, want, len);
}

int tr__kvreq_set_opts(const tr_value *o, tr__kvreq_set *out, char *err) {
  size_t i, n, len;
  memset(out, 0, sizeof *out);
  if (!o || tr_value_type(o) == TR_NIL)
    return 0;
  if (tr_value_type(o) != TR_MAP)
    return refuse(err, "kv: set's options are a map");
  n = tr_value_len(o);
  for (i = 0; i < n; i++) {
    const tr_value *v = tr_value_val(o, i);
    const char *name;
    int64_t t;
    if (tr_value_str(tr_value_key(o, i), &name, &len))
      goto bad;
    if (is_name(name, len, "px") || is_name(name, len, "ex")) {
      /* ex's ms, doubled, still within 64 bits */
      if (tr_value_int(v, &t) || t <= 0 || out->px ||
          (name[0] == 'e' && t > INT64_MAX / 1000 / 2))
        return refuse(err,
                      "kv: px and ex are a time > 0, and only one of them");
      out->px = name[0] == 'e' ? t * 1000 : t;
    } else if (is_name(name, len, "nx")) {
      out->nx = opt_true(v);
    } else if (is_name(name, len, "xx")) {
      out->xx = opt_true(v);
    } else if (is_name(name, len, "keepttl")) {
      out->keepttl = opt_true(v);
    } else if (is_name(name, len, "get")) {
      out->get = opt_true(v);
    } else {
      goto bad;
    }
  }
  if (out->nx && out->xx)
    return refuse(err, "kv: set takes nx or xx, not both");
  if (out->keepttl && out->px)
    return refuse(err, "kv: set takes keepttl or an expiry, not both");
  return 0;
bad:
  return refuse(err, "kv: set's options are px, ex, nx, xx, keepttl and get");
}

int tr__kvreq_scan(const tr_msg *m, size_t argc, int64_t *cursor,
                   const char **pat, size_t *plen, int64_t *count, char *err) {
  const tr_value *p = tr_msg_arg(m, 2), *n = tr_msg_arg(m, 3);
  *pat = NULL;
  *plen = 0;
  *count = SCAN_COUNT;
  if (argc < 2 || argc > 4 || tr_value_int(tr_msg_arg(m, 1), cursor) ||
      *cursor < 0 ||
      (argc > 2 && tr_value_type(p) != TR_NIL && tr_value_str(p, pat, plen)) ||
      (argc > 3 && tr_value_type(n) != TR_NIL &&
       (tr_value_int(n, count) || *count < 1)))
    return refuse(err, "kv: scan takes a cursor (0 to start), and a pattern "
                       "and a count (> 0) if wanted");
  if (*count > SCAN_MAX)
    *count = SCAN_MAX;
  return 0;
}
