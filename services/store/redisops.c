/*
 * redisops.c -- the store protocol (troupe_services.h's "store" section)
 * mapped onto Redis commands, and Redis's replies turned back into the
 * store's answers. Each request is checked as the native store checks it
 * (kvreq.c's checks: same limits, same words), then becomes one command:
 *   get GET, set SET (PX NX XX KEEPTTL GET), delete DEL, getdel GETDEL,
 *   exists EXISTS, incr INCRBY, append APPEND, strlen STRLEN, mget MGET,
 *   mset MSET, keys KEYS, scan SCAN (MATCH COUNT), expire PEXPIRE, ttl
 *   PTTL, persist PERSIST, flush FLUSHDB, count DBSIZE, stats INFO memory
 *   keyspace; info is answered here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "kvreq.h"
#include "redis.h"

#define MAX_ARGS 65536 /* keys of one exists, mget, mset (as the gateway's) */

/* ------------------------------------------------------------- answers */

static tr_msg *add_keys(tr_msg *r, const redisReply *a, char *err,
                        size_t errlen) {
  size_t i, bytes = 64;
  for (i = 0; i < a->elements; i++)
    bytes += a->element[i]->len + 5;
  if (bytes > TR_MAX_MSG) {
    tr_msg_free(r);
    snprintf(err, errlen,
             "kv: the %zu keys matching do not fit in one reply; use scan",
             a->elements);
    return NULL;
  }
  tr_msg_add_array(r, (uint32_t)a->elements);
  for (i = 0; i < a->elements; i++)
    tr_msg_add_str(r, a->element[i]->str, a->element[i]->len);
  return r;
}

/* A number after "name:" or "name=" in INFO's text; 0 when not there. */
static int64_t info_field(const char *text, const char *name) {
  const char *p = strstr(text, name);
  return p ? strtoll(p + strlen(name), NULL, 10) : 0;
}

static tr_msg *stats(const redisReply *r, int db) {
  char name[32];
  tr_msg *m = tr_msg_new("reply");
  const char *line;
  if (!m)
    return NULL;
  snprintf(name, sizeof name, "\ndb%d:", db);
  line = strstr(r->str, name);
  tr_msg_add_map(m, 3);
  tr_msg_add_cstr(m, "keys");
  tr_msg_add_int(m, line ? info_field(line, "keys=") : 0);
  tr_msg_add_cstr(m, "expiring");
  tr_msg_add_int(m, line ? info_field(line, "expires=") : 0);
  tr_msg_add_cstr(m, "bytes"); /* Redis's: its dataset's memory */
  tr_msg_add_int(m, info_field(r->str, "\nused_memory_dataset:"));
  return m;
}

/* Redis's words for what the native store says in its own. */
static void error_text(const redisReply *r, char *err, size_t errlen) {
  static const char *const same[][2] = {
      {"ERR value is not an integer or out of range",
       "kv: the value is not an integer or out of range"},
      {"ERR increment or decrement would overflow",
       "kv: increment or decrement would overflow"}};
  size_t i;
  for (i = 0; i < sizeof same / sizeof same[0]; i++)
    if (r->len == strlen(same[i][0]) && !memcmp(r->str, same[i][0], r->len)) {
      snprintf(err, errlen, "%s", same[i][1]);
      return;
    }
  snprintf(err, errlen, "kv: redis: %.*s", (int)r->len, r->str);
}

tr_msg *tr__redis_answer(int answer, int db, const void *reply, char *err,
                         size_t errlen) {
  const redisReply *r = reply;
  tr_msg *m;
  size_t i, bytes = 64;
  int kind = r->type;
  if (kind == REDIS_REPLY_ERROR) {
    error_text(r, err, errlen);
    return NULL;
  }
  switch (answer) {
  case TR__RA_VALUE:
    if (kind == REDIS_REPLY_STRING)
      return tr_msg_pack("reply", "S", r->str, r->len);
    if (kind == REDIS_REPLY_NIL)
      return tr_msg_pack("reply", "n");
    break;
  case TR__RA_SET:
    if (kind == REDIS_REPLY_STATUS || kind == REDIS_REPLY_NIL)
      return tr_msg_pack("reply", "b", kind == REDIS_REPLY_STATUS);
    break;
  case TR__RA_OK:
    if (kind == REDIS_REPLY_STATUS)
      return tr_msg_pack("reply", "b", 1);
    break;
  case TR__RA_BOOL:
    if (kind == REDIS_REPLY_INTEGER)
      return tr_msg_pack("reply", "b", r->integer != 0);
    break;
  case TR__RA_INT:
    if (kind == REDIS_REPLY_INTEGER)
      return tr_msg_pack("reply", "I", (int64_t)r->integer);
    break;
  case TR__RA_VALUES:
    if (kind != REDIS_REPLY_ARRAY)
      break;
    for (i = 0; i < r->elements; i++)
      bytes += r->element[i]->len + 5;
    if (bytes > TR_MAX_MSG) {
      snprintf(err, errlen, "kv: the values do not fit in one reply");
      return NULL;
    }
    if (!(m = tr_msg_new("reply")))
      break;
    for (i = 0; i < r->elements; i++)
      if (r->element[i]->type == REDIS_REPLY_STRING)
        tr_msg_add_str(m, r->element[i]->str, r->element[i]->len);
      else
        tr_msg_add_nil(m);
    return m;
  case TR__RA_KEYS:
    if (kind != REDIS_REPLY_ARRAY || !(m = tr_msg_new("reply")))
      break;
    return add_keys(m, r, err, errlen);
  case TR__RA_SCAN: {
    unsigned long long next;
    char *end;
    if (kind != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_ARRAY)
      break;
    next = strtoull(r->element[0]->str, &end, 10);
    if (*end || next > INT64_MAX || !(m = tr_msg_new("reply")))
      break;
    tr_msg_add_int(m, (int64_t)next);
    return add_keys(m, r->element[1], err, errlen);
  }
  case TR__RA_STATS:
    if (kind == REDIS_REPLY_STRING)
      return stats(r, db);
    break;
  default:
    break;
  }
  snprintf(err, errlen, "kv: redis answered what the store cannot read");
  return NULL;
}

/* ------------------------------------------------------------ requests */

/* The command being built for one request: its words, and the number
 * texts they point to. */
typedef struct cmd {
  const char **argv;
  size_t *len;
  int argc, cap;
  char nums[4][NUMBER_TEXT];
  int nnums;
  char *numbuf; /* mset's numbers' texts, NUMBER_TEXT bytes each */
} cmd;

static int cmd_init(cmd *c, size_t cap) {
  memset(c, 0, sizeof *c);
  c->argv = malloc(cap * sizeof *c->argv);
  c->len = malloc(cap * sizeof *c->len);
  c->cap = (int)cap;
  return c->argv && c->len ? 0 : -1;
}

static void cmd_free(cmd *c) {
  free(c->argv);
  free(c->len);
  free(c->numbuf);
}

static void word(cmd *c, const char *s, size_t n) {
  c->argv[c->argc] = s;
  c->len[c->argc++] = n;
}

static void cword(cmd *c, const char *s) { word(c, s, strlen(s)); }

static void number(cmd *c, int64_t v) {
  char *buf = c->nums[c->nnums++];
  word(c, buf, tr__kvreq_itoa(buf, v));
}

static void refuse(tr__rconn *conn, const tr_msg *m, const char *fmt,
                   const char *arg) {
  if (tr_msg_kind(m) == TR_KIND_CALL)
    tr_reply_error(conn->h, m, fmt, arg);
}

/* A key, as the native store checks one (kvreq.c). 0, or -1 with the error
 * replied. */
static int key_of(tr__rconn *conn, const tr_msg *m, const tr_value *v,
                  const char **key, size_t *klen) {
  char err[TR__KVREQ_ERR];
  if (!tr__kvreq_key(v, key, klen, err))
    return 0;
  refuse(conn, m, "%s", err);
  return -1;
}

/* A value as the native store keeps it: a string, or a number's text (in
 * buf, NUMBER_TEXT bytes). 0, or -1 with the error replied. */
static int value_of(tr__rconn *conn, const tr_msg *m, const tr_value *v,
                    char *buf, const char **val, size_t *vlen) {
  char err[TR__KVREQ_ERR];
  if (!tr__kvreq_value(v, buf, val, vlen, err))
    return 0;
  refuse(conn, m, "%s", err);
  return -1;
}

/* set's options (kvreq.c reads them) as SET's words. 0, or -1 with the
 * error replied; *get set when the old value is asked for. */
static int set_opts(tr__rconn *conn, const tr_msg *m, const tr_value *o, cmd *c,
                    int *get) {
  tr__kvreq_set opt;
  char err[TR__KVREQ_ERR];
  if (tr__kvreq_set_opts(o, &opt, err)) {
    refuse(conn, m, "%s", err);
    return -1;
  }
  if (opt.px) {
    cword(c, "PX");
    number(c, opt.px);
  }
  if (opt.nx)
    cword(c, "NX");
  if (opt.xx)
    cword(c, "XX");
  if (opt.keepttl)
    cword(c, "KEEPTTL");
  if (opt.get)
    cword(c, "GET");
  *get = opt.get;
  return 0;
}

static int is_op(const char *op, size_t len, const char *name) {
  return strlen(name) == len && !memcmp(op, name, len);
}

/* The command's name and the key v: 0, or -1 with the error replied. */
static int key_command(tr__rconn *conn, const tr_msg *m, const tr_value *v,
                       cmd *c, const char *command) {
  const char *key;
  size_t klen;
  if (key_of(conn, m, v, &key, &klen))
    return -1;
  cword(c, command);
  word(c, key, klen);
  return 0;
}

/* Requests of one key and nothing else: op -> command, answer. */
static const struct {
  const char *op, *command;
  int answer;
} keyed[] = {
    {"get", "GET", TR__RA_VALUE},       {"delete", "DEL", TR__RA_BOOL},
    {"getdel", "GETDEL", TR__RA_VALUE}, {"strlen", "STRLEN", TR__RA_INT},
    {"ttl", "PTTL", TR__RA_INT},        {"persist", "PERSIST", TR__RA_BOOL}};

/* Fills c for the request; its answer in *answer. 0, or -1 with the
 * error replied (or *answer 0: answered already). */
static int build(tr__rconn *conn, const tr_msg *m, const char *op, size_t oplen,
                 size_t argc, cmd *c, int *answer) {
  const tr_value *v = tr_msg_arg(m, 1);
  const char *key, *val;
  size_t klen, vlen, i;
  int get;
  int64_t n;
  for (i = 0; i < sizeof keyed / sizeof keyed[0]; i++)
    if (is_op(op, oplen, keyed[i].op)) {
      if (argc != 2) {
        refuse(conn, m, "kv: %s takes a key", keyed[i].op);
        return -1;
      }
      if (key_command(conn, m, v, c, keyed[i].command))
        return -1;
      *answer = keyed[i].answer;
      return 0;
    }
  if (is_op(op, oplen, "set")) {
    if (argc != 3 && argc != 4) {
      refuse(conn, m, "%s", "kv: set takes a key and a value (and options)");
      return -1;
    }
    if (key_command(conn, m, v, c, "SET") ||
        value_of(conn, m, tr_value_next(v), c->nums[c->nnums++], &val, &vlen))
      return -1;
    word(c, val, vlen);
    if (set_opts(conn, m, argc == 4 ? tr_msg_arg(m, 3) : NULL, c, &get))
      return -1;
    *answer = get ? TR__RA_VALUE : TR__RA_SET;
    return 0;
  }
  if (is_op(op, oplen, "exists") || is_op(op, oplen, "mget")) {
    int exists = op[0] == 'e';
    if (argc < 2) {
      refuse(conn, m, "kv: %s takes one key or more",
             exists ? "exists" : "mget");
      return -1;
    }
    cword(c, exists ? "EXISTS" : "MGET");
    for (i = 1; i < argc; i++, v = tr_value_next(v)) {
      if (key_of(conn, m, v, &key, &klen))
        return -1;
      word(c, key, klen);
    }
    *answer = exists ? TR__RA_INT : TR__RA_VALUES;
    return 0;
  }
  if (is_op(op, oplen, "incr")) {
    n = 1;
    if ((argc != 2 && argc != 3) ||
        (argc == 3 && tr_value_int(tr_msg_arg(m, 2), &n))) {
      refuse(conn, m, "%s", "kv: incr takes a key and an integer");
      return -1;
    }
    if (key_command(conn, m, v, c, "INCRBY"))
      return -1;
    number(c, n);
    *answer = TR__RA_INT;
    return 0;
  }
  if (is_op(op, oplen, "append")) {
    if (argc != 3) {
      refuse(conn, m, "%s", "kv: append takes a key and a text");
      return -1;
    }
    if (key_command(conn, m, v, c, "APPEND") ||
        value_of(conn, m, tr_value_next(v), c->nums[c->nnums++], &val, &vlen))
      return -1;
    word(c, val, vlen);
    *answer = TR__RA_INT;
    return 0;
  }
  if (is_op(op, oplen, "mset")) {
    if (argc < 3 || argc % 2 == 0) {
      refuse(conn, m, "%s", "kv: mset takes keys and values, in pairs");
      return -1;
    }
    if (!(c->numbuf = malloc((argc / 2) * NUMBER_TEXT))) {
      refuse(conn, m, "%s", "kv: out of memory");
      return -1;
    }
    cword(c, "MSET");
    for (i = 1; i < argc; i += 2) {
      const tr_value *val_v = tr_value_next(v);
      if (key_of(conn, m, v, &key, &klen) ||
          value_of(conn, m, val_v, c->numbuf + (i / 2) * NUMBER_TEXT, &val,
                   &vlen))
        return -1;
      word(c, key, klen);
      word(c, val, vlen);
      v = tr_value_next(val_v);
    }
    *answer = TR__RA_OK;
    return 0;
  }
  if (is_op(op, oplen, "keys")) {
    if (argc != 2 || tr_value_str(v, &val, &vlen)) {
      refuse(conn, m, "%s", "kv: keys takes a pattern");
      return -1;
    }
    cword(c, "KEYS");
    word(c, val, vlen);
    *answer = TR__RA_KEYS;
    return 0;
  }
  if (is_op(op, oplen, "scan")) {
    int64_t cursor, count;
    const char *pat;
    size_t plen;
    char err[TR__KVREQ_ERR];
    if (tr__kvreq_scan(m, argc, &cursor, &pat, &plen, &count, err)) {
      refuse(conn, m, "%s", err);
      return -1;
    }
    cword(c, "SCAN");
    number(c, cursor);
    if (pat) {
      cword(c, "MATCH");
      word(c, pat, plen);
    }
    cword(c, "COUNT");
    number(c, count);
    *answer = TR__RA_SCAN;
    return 0;
  }
  if (is_op(op, oplen, "expire")) {
    if (argc != 3 || tr_value_int(tr_msg_arg(m, 2), &n)) {
      refuse(conn, m, "%s", "kv: expire takes a key and a time in ms");
      return -1;
    }
    if (key_command(conn, m, v, c, "PEXPIRE"))
      return -1;
    number(c, n);
    *answer = TR__RA_BOOL;
    return 0;
  }
  if ((is_op(op, oplen, "flush") || is_op(op, oplen, "count") ||
       is_op(op, oplen, "stats") || is_op(op, oplen, "info")) &&
      argc != 1) {
    char name[8];
    snprintf(name, sizeof name, "%.*s", (int)oplen, op);
    refuse(conn, m, "kv: %s takes no arguments", name);
    return -1;
  }
  if (is_op(op, oplen, "flush")) {
    cword(c, "FLUSHDB");
    *answer = TR__RA_OK;
  } else if (is_op(op, oplen, "count")) {
    cword(c, "DBSIZE");
    *answer = TR__RA_INT;
  } else if (is_op(op, oplen, "stats")) {
    cword(c, "INFO");
    cword(c, "memory");
    cword(c, "keyspace");
    *answer = TR__RA_STATS;
  } else if (is_op(op, oplen, "info")) {
    char text[400];
    snprintf(text, sizeof text, "the store is in Redis at %s (%s)",
             conn->url.shown,
             conn->state == TR__R_UP ? "connected" : "not connected");
    if (tr_msg_kind(m) == TR_KIND_CALL)
      tr_reply(conn->h, m, tr_msg_pack("reply", "s", text));
    *answer = 0;
    return -1;
  } else {
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(oplen > 40 ? 40 : oplen), op);
    refuse(conn, m, "kv: unknown operation \"%s\"", name);
    return -1;
  }
  return 0;
}

void tr__redis_serve(tr__rconn *conn, const tr_msg *m) {
  const char *op;
  size_t oplen, argc = tr_msg_argc(m);
  int answer = 0;
  cmd c;
  if (!tr_msg_is(m, "kv")) {
    refuse(conn, m, "%s", "kv: unknown request (requests are named \"kv\")");
    return;
  }
  if (tr_value_str(tr_msg_arg(m, 0), &op, &oplen)) {
    refuse(conn, m, "%s",
           "kv: a request starts with get, set, delete or another operation");
    return;
  }
  if (argc > MAX_ARGS + 1) {
    refuse(conn, m, "%s", "kv: too many keys for one request");
    return;
  }
  if (cmd_init(&c, argc + 12)) {
    cmd_free(&c);
    refuse(conn, m, "%s", "kv: out of memory");
    return;
  }
  if (!build(conn, m, op, oplen, argc, &c, &answer))
    tr__rconn_command(conn, m, answer, c.argc, c.argv, c.len);
  cmd_free(&c);
}
