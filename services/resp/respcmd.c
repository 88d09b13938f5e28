/*
 * respcmd.c -- the RESP gateway's command table: each command's checks
 * (arity, options, numbers, in the words Redis clients expect), the
 * request it makes of the store ("kv" through the router), and how the
 * store's answer is written back as RESP. The store's error texts are
 * mapped onto Redis's where they mean the same.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "resp.h"

/* How a slot's answer is written (tr__rslot.cmd). */
enum {
  A_BYTES = 0, /* made here: the slot's bytes */
  A_OK,        /* true: +OK, false: nil (SET refused by NX/XX) */
  A_BULK,      /* a value or nil */
  A_INT,       /* an integer, or a boolean as 1/0 */
  A_DEL,       /* DEL's parts: booleans summed */
  A_TYPE,      /* exists' count: +string or +none */
  A_TTL,       /* ms, -1, -2: seconds rounded as Redis does */
  A_PTTL,
  A_MGET,  /* a value or nil per key, as the answer's arguments */
  A_KEYS,  /* one array of keys */
  A_SCAN,  /* next, keys (arg 1: keys dropped, a TYPE other than string) */
  A_INFO1, /* INFO's part: the store's stats */
  A_INFO,  /* INFO: the writer's stats, then the text */
};

enum { F_NOAUTH = 1 }; /* runs before AUTH */

typedef struct cmd {
  const char *name;
  int arity; /* Redis's: n exactly, -n at least n (the name counts) */
  int flags;
  int (*run)(tr__resp_conn *c);
  tr__resp_cmdinfo info;
} cmd;

/* ------------------------------------------------------------ helpers */

#define ARG(i, lenp) tr__resp_arg(c, (i), (lenp))
#define DONE TR__CMD_DONE

static int arg_is(tr__resp_conn *c, uint32_t i, const char *word) {
  size_t n, k;
  const char *s = ARG(i, &n);
  if (strlen(word) != n)
    return 0;
  for (k = 0; k < n; k++)
    if (toupper((unsigned char)s[k]) != word[k])
      return 0;
  return 1;
}

/* A strict decimal int64, as Redis reads one: no sign but '-', no spaces,
 * no leading zeros. */
static int parse_ll(const char *s, size_t n, int64_t *out) {
  uint64_t v = 0, lim;
  size_t i = 0;
  int neg = 0;
  if (!n || n > 20)
    return 0;
  if (s[0] == '-') {
    neg = 1;
    if (++i == n)
      return 0;
  }
  if (s[i] == '0' && (n - i > 1 || neg))
    return 0;
  lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9' || v > (lim - (uint64_t)(s[i] - '0')) / 10)
      return 0;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return 1;
}

static int arg_ll(tr__resp_conn *c, uint32_t i, int64_t *out) {
  size_t n;
  const char *s = ARG(i, &n);
  return parse_ll(s, n, out);
}

static int reply_err(tr__resp_conn *c, const char *text) {
  tr__rbuf_add(tr__resp_reply(c), text, strlen(text));
  c->gw->errors++;
  return DONE;
}

static const char E_INT[] = "-ERR value is not an integer or out of range\r\n";
static const char E_OOM[] = "-ERR out of memory\r\n";
static const char E_SYNTAX[] = "-ERR syntax error\r\n";
static const char E_BIG[] =
    "-ERR string exceeds maximum allowed size (16777216 bytes)\r\n";

static tr_msg *kv_new(tr__resp_conn *c, const char *op) {
  tr_msg *m = tr_host_msg_newn(c->h, "kv", 2);
  if (m)
    tr_msg_add_str(m, op, strlen(op));
  return m;
}

static void add_arg(tr_msg *m, tr__resp_conn *c, uint32_t i) {
  size_t n;
  const char *s = ARG(i, &n);
  tr_msg_add_str(m, s, n);
}

/* Sends m; answered as ans. */
static int kv_send(tr__resp_conn *c, tr_msg *m, int ans, int flags,
                   int64_t arg) {
  int rc;
  if (!m)
    return reply_err(c, "-ERR out of memory\r\n");
  rc = tr__resp_call(c, m, ans, flags, arg);
  if (rc > 0)
    return TR__CMD_BLOCKED;
  if (rc < 0)
    return reply_err(c, "-ERR the store is not running\r\n");
  return DONE;
}

/* A one-key request: op key. */
static int kv_key(tr__resp_conn *c, const char *op, int ans) {
  tr_msg *m = kv_new(c, op);
  if (m)
    add_arg(m, c, 1);
  return kv_send(c, m, ans, 0, 0);
}

/* ------------------------------------------------------------ answers */

static int val_int(const tr_value *v, int64_t *out) {
  double d;
  int b;
  switch (tr_value_type(v)) {
  case TR_INT:
    return tr_value_int(v, out) == TR_OK;
  case TR_BOOL:
    tr_value_bool(v, &b);
    *out = b;
    return 1;
  case TR_FLOAT: /* a Lua number that is whole */
    tr_value_float(v, &d);
    if (d != (double)(int64_t)d)
      return 0;
    *out = (int64_t)d;
    return 1;
  default:
    return 0;
  }
}

/* A value as a bulk string (numbers as their text), nil as nil. */
static void put_value(tr__rbuf *out, const tr_value *v) {
  const char *s;
  size_t n;
  int64_t i;
  char tmp[32];
  if (tr_value_type(v) == TR_STR) {
    tr_value_str(v, &s, &n);
    tr__rbuf_bulk(out, s, n);
  } else if (tr_value_type(v) == TR_INT && val_int(v, &i)) {
    n = (size_t)snprintf(tmp, sizeof tmp, "%lld", (long long)i);
    tr__rbuf_bulk(out, tmp, n);
  } else if (tr_value_type(v) == TR_FLOAT) {
    double d;
    tr_value_float(v, &d);
    n = (size_t)snprintf(tmp, sizeof tmp, "%.17g", d);
    tr__rbuf_bulk(out, tmp, n);
  } else {
    tr__rbuf_nil(out);
  }
}

/* A failed call as a Redis error: the store's texts lose their "kv: ",
 * and those Redis has words for get Redis's. */
static void put_error(tr__resp_conn *c, tr_msg *reply, tr__rbuf *out) {
  const char *text = "", *name;
  size_t n = 0, nl;
  tr_msg_unpack(reply, "s", &text, &n);
  name = tr_msg_name(reply, &nl);
  c->gw->errors++;
  if (nl != 5 || memcmp(name, "error", 5)) {
    tr__rbuf_error(out, "ERR the store did not answer: %.*s (%.*s)", (int)nl,
                   name, (int)n, text);
    return;
  }
  if (n > 4 && !memcmp(text, "kv: ", 4)) {
    text += 4;
    n -= 4;
  }
#define IS(s) (n == sizeof(s) - 1 && !memcmp(text, s, n))
  if (IS("the value is not an integer or out of range"))
    tr__rbuf_add(out, E_INT, sizeof E_INT - 1);
  else if (IS("increment or decrement would overflow"))
    tr__rbuf_error(out, "ERR increment or decrement would overflow");
  else
    tr__rbuf_error(out, "ERR %.*s", (int)n, text);
#undef IS
}

void tr__resp_answer(tr__resp_conn *c, tr__rslot *s, tr_msg *reply,
                     tr__rbuf *out) {
  const tr_value *v;
  int64_t i;
  size_t n, k;
  if (!reply && s->cmd == A_INFO) {
    tr__resp_info(c, s->arg, NULL, out);
    c->info[3] = 0;
    return;
  }
  if (!reply) {
    if (s->bytes.len)
      tr__rbuf_add(out, s->bytes.p, s->bytes.len);
    return;
  }
  if (tr_msg_kind(reply) == TR_KIND_ERROR && s->cmd == A_INFO1) {
    c->info[3] = 0; /* INFO without the store's figures */
    return;
  }
  if (tr_msg_kind(reply) == TR_KIND_ERROR && s->cmd != A_INFO) {
    if (s->flags & TR__RS_PART) { /* the first error of the parts counts */
      if (!c->agg_err)
        c->agg_err = tr_msg_clone(reply);
      return;
    }
    put_error(c, c->agg_err ? c->agg_err : reply, out);
    tr_msg_free(c->agg_err);
    c->agg_err = NULL;
    c->agg = 0;
    return;
  }
  v = tr_msg_arg(reply, 0);
  switch (s->cmd) {
  case A_OK:
    if (tr_value_type(v) == TR_BOOL && val_int(v, &i) && !i)
      tr__rbuf_nil(out);
    else
      tr__rbuf_add(out, "+OK\r\n", 5);
    break;
  case A_BULK:
    if (tr_value_type(v) == TR_NIL || !v)
      c->gw->misses++;
    else
      c->gw->hits++;
    put_value(out, v);
    break;
  case A_DEL:
    if (val_int(v, &i))
      c->agg += i;
    if (s->flags & TR__RS_PART)
      return;
    if (c->agg_err) {
      put_error(c, c->agg_err, out);
      tr_msg_free(c->agg_err);
      c->agg_err = NULL;
    } else {
      tr__rbuf_int(out, c->agg);
    }
    c->agg = 0;
    break;
  case A_TYPE:
    tr__rbuf_add(out, val_int(v, &i) && i ? "+string\r\n" : "+none\r\n",
                 val_int(v, &i) && i ? 9 : 7);
    break;
  case A_TTL:
  case A_PTTL:
    if (!val_int(v, &i))
      i = -2;
    if (s->cmd == A_TTL && i >= 0)
      i = (i + 500) / 1000;
    tr__rbuf_int(out, i);
    break;
  case A_MGET:
    n = tr_msg_argc(reply);
    tr__rbuf_array(out, (int64_t)n);
    for (k = 0; k < n; k++, v = tr_value_next(v))
      put_value(out, v);
    break;
  case A_KEYS:
  case A_SCAN:
    if (s->cmd == A_SCAN) {
      char tmp[24];
      tr__rbuf_array(out, 2);
      if (!val_int(v, &i))
        i = 0;
      n = (size_t)snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)i);
      tr__rbuf_bulk(out, tmp, n);
      v = tr_msg_arg(reply, 1);
    }
    n = tr_value_type(v) == TR_ARRAY && !s->arg ? tr_value_len(v) : 0;
    tr__rbuf_array(out, (int64_t)n);
    for (k = 0, v = n ? tr_value_at(v, 0) : NULL; k < n;
         k++, v = tr_value_next(v))
      put_value(out, v);
    break;
  case A_INFO1: /* {keys=, expiring=, bytes=} */
    c->info[0] = c->info[1] = c->info[2] = 0;
    for (k = 0; tr_value_type(v) == TR_MAP && k < tr_value_len(v); k++) {
      const char *key;
      size_t kl;
      if (tr_value_str(tr_value_key(v, k), &key, &kl) ||
          !val_int(tr_value_val(v, k), &i))
        continue;
      if (kl == 4 && !memcmp(key, "keys", 4))
        c->info[0] = i;
      else if (kl == 8 && !memcmp(key, "expiring", 8))
        c->info[1] = i;
      else if (kl == 5 && !memcmp(key, "bytes", 5))
        c->info[2] = i;
    }
    c->info[3] = 1;
    return;
  case A_INFO:
    tr__resp_info(c, s->arg, reply, out);
    c->info[3] = 0;
    break;
  default: /* A_INT */
    if (val_int(v, &i))
      tr__rbuf_int(out, i);
    else
      tr__rbuf_error(out, "ERR the store answered something else");
  }
  tr_msg_free(c->agg_err); /* a failed part of a command cut short */
  c->agg_err = NULL;
  c->agg = 0;
}

/* ------------------------------------------------------------ commands */

static int c_ping(tr__resp_conn *c) {
  size_t n;
  const char *s;
  if (c->argc > 2) {
    tr__rbuf_error(tr__resp_reply(c),
                   "ERR wrong number of arguments for 'ping' command");
  } else if (c->argc == 1) {
    tr__rbuf_add(tr__resp_reply(c), "+PONG\r\n", 7);
  } else {
    s = ARG(1, &n);
    tr__rbuf_bulk(tr__resp_reply(c), s, n);
  }
  return DONE;
}

static int c_echo(tr__resp_conn *c) {
  size_t n;
  const char *s = ARG(1, &n);
  tr__rbuf_bulk(tr__resp_reply(c), s, n);
  return DONE;
}

static int c_quit(tr__resp_conn *c) {
  tr__rbuf_add(tr__resp_reply(c), "+OK\r\n", 5);
  return TR__CMD_CLOSE;
}

static int c_select(tr__resp_conn *c) {
  int64_t db;
  if (!arg_ll(c, 1, &db))
    return reply_err(c, E_INT);
  if (db != 0)
    return reply_err(c, "-ERR DB index is out of range\r\n");
  tr__rbuf_add(tr__resp_reply(c), "+OK\r\n", 5);
  return DONE;
}

/* 1 when user (or NULL: default) and pass match, in time that does not
 * tell how much of the password was right. */
static int check_auth(tr__resp_conn *c, int user, int pass) {
  const char *p = c->gw->password;
  size_t n, k, pl = strlen(p);
  const char *s = ARG((uint32_t)pass, &n);
  unsigned diff = n != pl;
  for (k = 0; k < n; k++)
    diff |= (unsigned char)s[k] ^ (unsigned char)p[k < pl ? k : 0];
  if (user && !arg_is(c, (uint32_t)user, "DEFAULT")) {
    size_t ul;
    const char *u = ARG((uint32_t)user, &ul);
    diff |= ul != 7 || memcmp(u, "default", 7);
  }
  return !diff;
}

static const char E_WRONGPASS[] =
    "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

static int c_auth(tr__resp_conn *c) {
  if (c->argc > 3)
    return reply_err(c, E_SYNTAX);
  if (!c->gw->password)
    return reply_err(c, "-ERR AUTH <password> called without any password "
                        "configured for the default user. Are you sure "
                        "your configuration is correct?\r\n");
  if (!check_auth(c, c->argc == 3 ? 1 : 0, (int)c->argc - 1))
    return reply_err(c, E_WRONGPASS);
  c->authed = 1;
  tr__rbuf_add(tr__resp_reply(c), "+OK\r\n", 5);
  return DONE;
}

static int c_hello(tr__resp_conn *c) {
  int64_t ver = 2;
  uint32_t i;
  tr__rbuf *out;
  char id[24];
  if (c->argc > 1) {
    if (!arg_ll(c, 1, &ver))
      return reply_err(
          c, "-ERR Protocol version is not an integer or out of range\r\n");
    if (ver != 2)
      return reply_err(c, "-NOPROTO sorry, this protocol version is not "
                          "supported (the gateway speaks RESP2)\r\n");
  }
  for (i = 2; i < c->argc; i++) {
    if (arg_is(c, i, "AUTH") && i + 2 < c->argc) {
      if (!c->gw->password || !check_auth(c, (int)i + 1, (int)i + 2))
        return reply_err(c, E_WRONGPASS);
      c->authed = 1;
      i += 2;
    } else if (arg_is(c, i, "SETNAME") && i + 1 < c->argc) {
      i++;
    } else {
      size_t n;
      const char *s = ARG(i, &n);
      tr__rbuf_error(tr__resp_reply(c),
                     "ERR Syntax error in HELLO option '%.*s'", (int)n, s);
      return DONE;
    }
  }
  if (!c->authed)
    return reply_err(c, "-NOAUTH HELLO must be called with the client already "
                        "authenticated, otherwise the HELLO <proto> AUTH "
                        "<user> <pass> option can be used to authenticate "
                        "the client and select the RESP protocol version at "
                        "the same time\r\n");
  out = tr__resp_reply(c);
  tr__rbuf_array(out, 14);
  tr__rbuf_bulk(out, "server", 6);
  tr__rbuf_bulk(out, "troupe", 6);
  tr__rbuf_bulk(out, "version", 7);
  tr__rbuf_bulk(out, "7.0.0", 5);
  tr__rbuf_bulk(out, "proto", 5);
  tr__rbuf_int(out, 2);
  tr__rbuf_bulk(out, "id", 2);
  snprintf(id, sizeof id, "%llu", (unsigned long long)c->id);
  tr__rbuf_int(out, (int64_t)c->id);
  tr__rbuf_bulk(out, "mode", 4);
  tr__rbuf_bulk(out, "standalone", 10);
  tr__rbuf_bulk(out, "role", 4);
  tr__rbuf_bulk(out, "master", 6);
  tr__rbuf_bulk(out, "modules", 7);
  tr__rbuf_array(out, 0);
  return DONE;
}

static int c_command(tr__resp_conn *c) {
  tr__resp_command(c, tr__resp_reply(c));
  return DONE;
}

static int c_info(tr__resp_conn *c) {
  int64_t sec = tr__resp_info_sections(c);
  int rc = DONE;
  if (!(sec & (TR__INFO_MEMORY | TR__INFO_PERSISTENCE | TR__INFO_KEYSPACE))) {
    c->info[3] = 0;
    tr__resp_info(c, sec, NULL, tr__resp_reply(c));
    return DONE;
  }
  if (c->part == 0) {
    rc = kv_send(c, kv_new(c, "stats"), A_INFO1, TR__RS_PART, 0);
    if (rc != DONE)
      return rc;
    c->part = 1;
  }
  { /* the writer by its name: its stats() message */
    tr_pid w = tr_whereis(c->h, "kv.writer");
    tr__rslot *s;
    uint64_t session;
    if (w && tr_call(c->h, c->pid, w, tr_msg_new("stats"), 0, &session) == 0)
      return tr__resp_track(c, session, A_INFO, sec) ? reply_err(c, E_OOM)
                                                     : DONE;
    if (!(s = tr__resp_slot(c))) /* not started yet: INFO without it */
      return reply_err(c, E_OOM);
    s->cmd = A_INFO;
    s->arg = sec;
    return DONE;
  }
}

static int c_config(tr__resp_conn *c) {
  static const char *const params[][2] = {
      {"save", ""}, {"appendonly", "yes"}, {"databases", "1"}};
  tr__rbuf *out;
  uint32_t i, k, n = 0;
  if (!arg_is(c, 1, "GET")) {
    size_t l;
    const char *s = ARG(1, &l);
    tr__rbuf_error(tr__resp_reply(c),
                   "ERR CONFIG %.*s is not supported by the gateway", (int)l,
                   s);
    return DONE;
  }
  if (c->argc < 3) {
    tr__rbuf_error(tr__resp_reply(c),
                   "ERR wrong number of arguments for 'config|get' command");
    return DONE;
  }
  for (i = 2; i < c->argc; i++)
    for (k = 0; k < 3; k++) {
      size_t l;
      const char *s = ARG(i, &l);
      if (l == strlen(params[k][0]) && !strncasecmp(s, params[k][0], l))
        n++;
    }
  out = tr__resp_reply(c);
  tr__rbuf_array(out, 2 * n);
  for (i = 2; i < c->argc; i++)
    for (k = 0; k < 3; k++) {
      size_t l;
      const char *s = ARG(i, &l);
      if (l == strlen(params[k][0]) && !strncasecmp(s, params[k][0], l)) {
        tr__rbuf_bulk(out, params[k][0], strlen(params[k][0]));
        tr__rbuf_bulk(out, params[k][1], strlen(params[k][1]));
      }
    }
  return DONE;
}

static int c_client(tr__resp_conn *c) {
  tr__rbuf *out;
  if (arg_is(c, 1, "ID")) {
    tr__rbuf_int(tr__resp_reply(c), (int64_t)c->id);
  } else if (arg_is(c, 1, "SETNAME") || arg_is(c, 1, "SETINFO")) {
    tr__rbuf_add(tr__resp_reply(c), "+OK\r\n", 5);
  } else if (arg_is(c, 1, "GETNAME")) {
    tr__rbuf_nil(tr__resp_reply(c));
  } else if (arg_is(c, 1, "INFO")) {
    char line[160];
    int n = snprintf(
        line, sizeof line, "id=%llu addr=%s age=%llu db=0\n",
        (unsigned long long)c->id, c->peer,
        (unsigned long long)((uv_now(tr_host_loop(c->h)) - c->created_ms) /
                             1000));
    out = tr__resp_reply(c);
    tr__rbuf_bulk(out, line, (size_t)n);
  } else {
    size_t l;
    const char *s = ARG(1, &l);
    tr__rbuf_error(tr__resp_reply(c),
                   "ERR unknown subcommand '%.*s'. Try CLIENT HELP.", (int)l,
                   s);
  }
  return DONE;
}

static int c_dbsize(tr__resp_conn *c) {
  return kv_send(c, kv_new(c, "count"), A_INT, 0, 0);
}

static int c_get(tr__resp_conn *c) { return kv_key(c, "get", A_BULK); }
static int c_getdel(tr__resp_conn *c) { return kv_key(c, "getdel", A_BULK); }
static int c_strlen(tr__resp_conn *c) { return kv_key(c, "strlen", A_INT); }
static int c_type(tr__resp_conn *c) { return kv_key(c, "exists", A_TYPE); }
static int c_ttl(tr__resp_conn *c) { return kv_key(c, "ttl", A_TTL); }
static int c_pttl(tr__resp_conn *c) { return kv_key(c, "ttl", A_PTTL); }
static int c_persist(tr__resp_conn *c) { return kv_key(c, "persist", A_INT); }

/* A set: key argv[1], value argv[vi], px (0: none), the flags. */
static int kv_set(tr__resp_conn *c, uint32_t vi, int64_t px, int nx, int xx,
                  int keepttl, int get, int ans) {
  tr_msg *m;
  size_t vl;
  int nopt = (px > 0) + nx + xx + keepttl + get;
  ARG(vi, &vl);
  if (vl > TR_KV_MAX_VALUE)
    return reply_err(c, E_BIG);
  if ((m = kv_new(c, "set"))) {
    add_arg(m, c, 1);
    add_arg(m, c, vi);
    if (nopt) {
      tr_msg_add_map(m, (uint32_t)nopt);
      if (px > 0) {
        tr_msg_add_str(m, "px", 2);
        tr_msg_add_int(m, px);
      }
      if (nx) {
        tr_msg_add_str(m, "nx", 2);
        tr_msg_add_bool(m, 1);
      }
      if (xx) {
        tr_msg_add_str(m, "xx", 2);
        tr_msg_add_bool(m, 1);
      }
      if (keepttl) {
        tr_msg_add_str(m, "keepttl", 7);
        tr_msg_add_bool(m, 1);
      }
      if (get) {
        tr_msg_add_str(m, "get", 3);
        tr_msg_add_bool(m, 1);
      }
    }
  }
  return kv_send(c, m, get ? A_BULK : ans, 0, 0);
}

static int64_t now_unix_ms(void) {
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int c_set(tr__resp_conn *c) {
  int nx = 0, xx = 0, keepttl = 0, get = 0, unit = 0; /* 1 EX 2 PX 3/4 AT */
  uint32_t i, ei = 0;
  int64_t v = 0, px = 0;
  for (i = 3; i < c->argc; i++) {
    if (arg_is(c, i, "NX") && !xx)
      nx = 1;
    else if (arg_is(c, i, "XX") && !nx)
      xx = 1;
    else if (arg_is(c, i, "GET"))
      get = 1;
    else if (arg_is(c, i, "KEEPTTL") && !unit)
      keepttl = 1;
    else if (!unit && !keepttl && i + 1 < c->argc &&
             (arg_is(c, i, "EX") || arg_is(c, i, "PX") ||
              arg_is(c, i, "EXAT") || arg_is(c, i, "PXAT"))) {
      unit = arg_is(c, i, "EX")     ? 1
             : arg_is(c, i, "PX")   ? 2
             : arg_is(c, i, "EXAT") ? 3
                                    : 4;
      ei = ++i;
    } else
      return reply_err(c, E_SYNTAX);
  }
  if (unit) {
    if (!arg_ll(c, ei, &v))
      return reply_err(c, E_INT);
    if (v <= 0 || ((unit == 1 || unit == 3) && v > INT64_MAX / 1000))
      return reply_err(c, "-ERR invalid expire time in 'set' command\r\n");
    px = unit == 1 || unit == 3 ? v * 1000 : v;
    if (unit >= 3) /* an absolute time: what is left of it, 1 ms at least */
      px = px - now_unix_ms() > 0 ? px - now_unix_ms() : 1;
  }
  return kv_set(c, 2, px, nx, xx, keepttl, get, A_OK);
}

static int c_setnx(tr__resp_conn *c) {
  return kv_set(c, 2, 0, 1, 0, 0, 0, A_INT);
}

static int c_setex(tr__resp_conn *c) {
  int64_t v;
  int ms = c->argv[0].len == 6; /* psetex */
  if (!arg_ll(c, 2, &v))
    return reply_err(c, E_INT);
  if (v <= 0 || (!ms && v > INT64_MAX / 1000)) {
    tr__rbuf_error(tr__resp_reply(c), "ERR invalid expire time in '%s' command",
                   ms ? "psetex" : "setex");
    return DONE;
  }
  return kv_set(c, 3, ms ? v : v * 1000, 0, 0, 0, 0, A_OK);
}

static int c_del(tr__resp_conn *c) {
  while (c->part + 1 < c->argc) {
    uint32_t i = c->part + 1;
    tr_msg *m = kv_new(c, "delete");
    int rc;
    if (m)
      add_arg(m, c, i);
    rc = kv_send(c, m, A_DEL, i + 1 < c->argc ? TR__RS_PART : 0, 0);
    if (rc != DONE)
      return rc;
    c->part++;
  }
  return DONE;
}

/* op key... (or key value ... for mset) in one request */
static int kv_keys(tr__resp_conn *c, const char *op, int ans) {
  tr_msg *m = kv_new(c, op);
  uint32_t i;
  for (i = 1; m && i < c->argc; i++)
    add_arg(m, c, i);
  return kv_send(c, m, ans, 0, 0);
}

static int c_exists(tr__resp_conn *c) { return kv_keys(c, "exists", A_INT); }
static int c_mget(tr__resp_conn *c) { return kv_keys(c, "mget", A_MGET); }

static int c_mset(tr__resp_conn *c) {
  uint32_t i;
  size_t n;
  if (c->argc % 2 == 0)
    return reply_err(c,
                     "-ERR wrong number of arguments for 'mset' command\r\n");
  for (i = 2; i < c->argc; i += 2)
    if (ARG(i, &n), n > TR_KV_MAX_VALUE)
      return reply_err(c, E_BIG);
  return kv_keys(c, "mset", A_OK);
}

static int kv_incr(tr__resp_conn *c, int64_t by) {
  tr_msg *m = kv_new(c, "incr");
  if (m) {
    add_arg(m, c, 1);
    tr_msg_add_int(m, by);
  }
  return kv_send(c, m, A_INT, 0, 0);
}

static int c_incr(tr__resp_conn *c) { return kv_incr(c, 1); }
static int c_decr(tr__resp_conn *c) { return kv_incr(c, -1); }

static int c_incrby(tr__resp_conn *c) {
  int64_t by;
  if (!arg_ll(c, 2, &by))
    return reply_err(c, E_INT);
  if ((tr__resp_arg(c, 0, &(size_t){0})[0] | 0x20) == 'd') { /* decrby */
    if (by == INT64_MIN)
      return reply_err(c, "-ERR decrement would overflow\r\n");
    by = -by;
  }
  return kv_incr(c, by);
}

static int c_append(tr__resp_conn *c) {
  tr_msg *m;
  size_t n;
  if (ARG(2, &n), n > TR_KV_MAX_VALUE)
    return reply_err(c, E_BIG);
  if ((m = kv_new(c, "append"))) {
    add_arg(m, c, 1);
    add_arg(m, c, 2);
  }
  return kv_send(c, m, A_INT, 0, 0);
}

static int c_keys(tr__resp_conn *c) { return kv_key(c, "keys", A_KEYS); }

static int c_scan(tr__resp_conn *c) {
  int64_t count = 10, cursor;
  uint32_t i, pat = 0;
  int other_type = 0;
  tr_msg *m;
  size_t n;
  const char *s = ARG(1, &n);
  char *end, tmp[24];
  if (n == 0 || n >= sizeof tmp)
    return reply_err(c, "-ERR invalid cursor\r\n");
  memcpy(tmp, s, n);
  tmp[n] = 0;
  errno = 0;
  cursor = (int64_t)strtoull(tmp, &end, 10);
  if (*end || errno || tmp[0] == '-' || tmp[0] == '+' || tmp[0] == ' ')
    return reply_err(c, "-ERR invalid cursor\r\n");
  for (i = 2; i < c->argc; i += 2) {
    if (i + 1 >= c->argc)
      return reply_err(c, E_SYNTAX);
    if (arg_is(c, i, "COUNT")) {
      if (!arg_ll(c, i + 1, &count))
        return reply_err(c, E_INT);
      if (count < 1)
        return reply_err(c, E_SYNTAX);
    } else if (arg_is(c, i, "MATCH")) {
      pat = i + 1;
    } else if (arg_is(c, i, "TYPE")) {
      other_type = !arg_is(c, i + 1, "STRING");
    } else {
      return reply_err(c, E_SYNTAX);
    }
  }
  if ((m = kv_new(c, "scan"))) {
    tr_msg_add_int(m, cursor);
    if (pat)
      add_arg(m, c, pat);
    else
      tr_msg_add_str(m, "*", 1);
    tr_msg_add_int(m, count);
  }
  return kv_send(c, m, A_SCAN, 0, other_type);
}

static int c_expire(tr__resp_conn *c) {
  int ms = c->argv[0].len == 7; /* pexpire */
  int64_t v;
  tr_msg *m;
  if (c->argc > 3)
    return reply_err(c, "-ERR EXPIRE's options (NX XX GT LT) are not "
                        "supported by the gateway\r\n");
  if (!arg_ll(c, 2, &v))
    return reply_err(c, E_INT);
  if (!ms && (v > INT64_MAX / 1000 || v < INT64_MIN / 1000)) {
    tr__rbuf_error(tr__resp_reply(c), "ERR invalid expire time in '%s' command",
                   ms ? "pexpire" : "expire");
    return DONE;
  }
  if ((m = kv_new(c, "expire"))) {
    add_arg(m, c, 1);
    tr_msg_add_int(m, ms ? v : v * 1000);
  }
  return kv_send(c, m, A_INT, 0, 0);
}

static int c_flush(tr__resp_conn *c) {
  if (c->argc > 2 ||
      (c->argc == 2 && !arg_is(c, 1, "ASYNC") && !arg_is(c, 1, "SYNC")))
    return reply_err(c, E_SYNTAX);
  if (!c->gw->cfg.allow_flush)
    return reply_err(c, "-ERR FLUSHDB and FLUSHALL are disabled on this "
                        "gateway (troupe --resp-allow-flush enables "
                        "them)\r\n");
  return kv_send(c, kv_new(c, "flush"), A_OK, 0, 0);
}

/* ------------------------------------------------------------ the table */

#define RO "readonly fast"
#define WR "write denyoom"
static const cmd commands[] = {
    {"get", 2, 0, c_get, {"get", 2, RO, 1, 1, 1}},
    {"set", -3, 0, c_set, {"set", -3, WR, 1, 1, 1}},
    {"incr", 2, 0, c_incr, {"incr", 2, WR " fast", 1, 1, 1}},
    {"ping", -1, 0, c_ping, {"ping", -1, "fast", 0, 0, 0}},
    {"echo", 2, 0, c_echo, {"echo", 2, "fast", 0, 0, 0}},
    {"quit", -1, F_NOAUTH, c_quit, {"quit", -1, "fast", 0, 0, 0}},
    {"select", 2, 0, c_select, {"select", 2, "fast", 0, 0, 0}},
    {"auth", -2, F_NOAUTH, c_auth, {"auth", -2, "noscript fast", 0, 0, 0}},
    {"hello", -1, F_NOAUTH, c_hello, {"hello", -1, "noscript fast", 0, 0, 0}},
    {"command", -1, 0, c_command, {"command", -1, "random", 0, 0, 0}},
    {"info", -1, 0, c_info, {"info", -1, "random", 0, 0, 0}},
    {"config", -2, 0, c_config, {"config", -2, "admin", 0, 0, 0}},
    {"client", -2, 0, c_client, {"client", -2, "admin", 0, 0, 0}},
    {"dbsize", 1, 0, c_dbsize, {"dbsize", 1, "readonly fast", 0, 0, 0}},
    {"setnx", 3, 0, c_setnx, {"setnx", 3, WR " fast", 1, 1, 1}},
    {"setex", 4, 0, c_setex, {"setex", 4, WR, 1, 1, 1}},
    {"psetex", 4, 0, c_setex, {"psetex", 4, WR, 1, 1, 1}},
    {"getdel", 2, 0, c_getdel, {"getdel", 2, "write fast", 1, 1, 1}},
    {"del", -2, 0, c_del, {"del", -2, "write", 1, -1, 1}},
    {"exists", -2, 0, c_exists, {"exists", -2, RO, 1, -1, 1}},
    {"decr", 2, 0, c_decr, {"decr", 2, WR " fast", 1, 1, 1}},
    {"incrby", 3, 0, c_incrby, {"incrby", 3, WR " fast", 1, 1, 1}},
    {"decrby", 3, 0, c_incrby, {"decrby", 3, WR " fast", 1, 1, 1}},
    {"append", 3, 0, c_append, {"append", 3, WR, 1, 1, 1}},
    {"strlen", 2, 0, c_strlen, {"strlen", 2, RO, 1, 1, 1}},
    {"mget", -2, 0, c_mget, {"mget", -2, RO, 1, -1, 1}},
    {"mset", -3, 0, c_mset, {"mset", -3, WR, 1, -1, 2}},
    {"keys", 2, 0, c_keys, {"keys", 2, "readonly", 0, 0, 0}},
    {"scan", -2, 0, c_scan, {"scan", -2, "readonly", 0, 0, 0}},
    {"type", 2, 0, c_type, {"type", 2, RO, 1, 1, 1}},
    {"expire", -3, 0, c_expire, {"expire", -3, "write fast", 1, 1, 1}},
    {"pexpire", -3, 0, c_expire, {"pexpire", -3, "write fast", 1, 1, 1}},
    {"ttl", 2, 0, c_ttl, {"ttl", 2, RO, 1, 1, 1}},
    {"pttl", 2, 0, c_pttl, {"pttl", 2, RO, 1, 1, 1}},
    {"persist", 2, 0, c_persist, {"persist", 2, "write fast", 1, 1, 1}},
    {"flushdb", -1, 0, c_flush, {"flushdb", -1, "write", 0, 0, 0}},
    {"flushall", -1, 0, c_flush, {"flushall", -1, "write", 0, 0, 0}},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

const tr__resp_cmdinfo *tr__resp_command_at(size_t i) {
  return i < NCOMMANDS ? &commands[i].info : NULL;
}

static const cmd *lookup(const char *s, size_t n) {
  char name[16];
  size_t i;
  if (n >= sizeof name)
    return NULL;
  for (i = 0; i < n; i++)
    name[i] = (char)tolower((unsigned char)s[i]);
  for (i = 0; i < NCOMMANDS; i++)
    if (commands[i].name[0] == name[0] && strlen(commands[i].name) == n &&
        !memcmp(commands[i].name, name, n))
      return &commands[i];
  return NULL;
}

int tr__resp_exec(tr__resp_conn *c) {
  size_t n;
  const char *name = ARG(0, &n);
  const cmd *k = lookup(name, n);
  if (!k) {
    char args[160];
    size_t used = 0, l;
    uint32_t i;
    args[0] = 0;
    for (i = 1; i < c->argc && used < 128; i++) {
      const char *s = ARG(i, &l);
      int w = snprintf(args + used, sizeof args - used, "'%.*s' ",
                       (int)(l < 128 - used ? l : 128 - used), s);
      if (w > 0)
        used +=
            (size_t)w < sizeof args - used ? (size_t)w : sizeof args - used - 1;
    }
    tr__rbuf_error(tr__resp_reply(c),
                   "ERR unknown command '%.*s', with args beginning with: %s",
                   (int)(n < 128 ? n : 128), name, args);
    c->gw->errors++;
    return DONE;
  }
  if (!c->authed && !(k->flags & F_NOAUTH))
    return reply_err(c, "-NOAUTH Authentication required.\r\n");
  if ((k->arity > 0 && c->argc != (uint32_t)k->arity) ||
      (k->arity < 0 && c->argc < (uint32_t)-k->arity)) {
    tr__rbuf_error(tr__resp_reply(c),
                   "ERR wrong number of arguments for '%s' command", k->name);
    c->gw->errors++;
    return DONE;
  }
  return k->run(c);
}
