/*
 * respinfo.c -- the RESP gateway's INFO and COMMAND replies: INFO's
 * sections (server, clients, memory, persistence, stats, keyspace) from
 * the gateway's counters, the store's kv("stats") and the writer's
 * stats(); COMMAND's table as redis-cli reads it at start.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "resp.h"

int64_t tr__resp_info_sections(tr__resp_conn *c) {
  static const char *const names[] = {"server",      "clients", "memory",
                                      "persistence", "stats",   "keyspace"};
  int64_t sec = 0;
  uint32_t i, k;
  if (c->argc == 1)
    return TR__INFO_ALL;
  for (i = 1; i < c->argc; i++) {
    size_t n;
    const char *s = tr__resp_arg(c, i, &n);
    if ((n == 3 && !strncasecmp(s, "all", 3)) ||
        (n == 7 && !strncasecmp(s, "default", 7)) ||
        (n == 8 && !strncasecmp(s, "everything", 8)))
      return TR__INFO_ALL;
    for (k = 0; k < 6; k++)
      if (n == strlen(names[k]) && !strncasecmp(s, names[k], n))
        sec |= (int64_t)1 << k;
  }
  return sec;
}

static void line(tr__rbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void line(tr__rbuf *b, const char *fmt, ...) {
  char tmp[256];
  int n;
  va_list ap;
  va_start(ap, fmt);
  n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0)
    tr__rbuf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
  tr__rbuf_add(b, "\r\n", 2);
}

/* The writer's {records=, flushes=, fsyncs=, compactions=, log_bytes=,
 * keys=} into w[6]; -1 for what it does not tell. */
static void writer_stats(tr_msg *m, int64_t *w) {
  static const char *const keys[] = {"records",     "flushes",   "fsyncs",
                                     "compactions", "log_bytes", "keys"};
  const tr_value *v =
      m && tr_msg_kind(m) == TR_KIND_REPLY ? tr_msg_arg(m, 0) : NULL;
  size_t i, k;
  for (k = 0; k < 6; k++)
    w[k] = -1;
  for (i = 0; tr_value_type(v) == TR_MAP && i < tr_value_len(v); i++) {
    const char *s;
    size_t n;
    int64_t x;
    double d;
    const tr_value *val = tr_value_val(v, i);
    if (tr_value_str(tr_value_key(v, i), &s, &n))
      continue;
    if (tr_value_int(val, &x) != TR_OK) {
      if (tr_value_float(val, &d) != TR_OK)
        continue;
      x = (int64_t)d;
    }
    for (k = 0; k < 6; k++)
      if (n == strlen(keys[k]) && !memcmp(s, keys[k], n))
        w[k] = x;
  }
}

void tr__resp_info(tr__resp_conn *c, int64_t sec, tr_msg *wstats,
                   tr__rbuf *out) {
  tr__resp_gw *gw = c->gw;
  tr__rbuf b = {0};
  uint64_t now = uv_now(tr_host_loop(c->h)), up = (now - gw->start_ms) / 1000;
  size_t rss = 0;
  int64_t w[6];
  uv_resident_set_memory(&rss);
  writer_stats(wstats, w);
  if (sec & TR__INFO_SERVER) {
    line(&b, "# Server");
    line(&b, "redis_version:7.0.0"); /* the protocol level clients expect */
    line(&b, "troupe_version:%s", TR_VERSION);
    line(&b, "redis_mode:standalone");
    line(&b, "process_id:%d", (int)getpid());
    line(&b, "tcp_port:%d", gw->port);
    line(&b, "uptime_in_seconds:%llu", (unsigned long long)up);
    line(&b, "uptime_in_days:%llu", (unsigned long long)up / 86400);
    tr__rbuf_add(&b, "\r\n", 2);
  }
  if (sec & TR__INFO_CLIENTS) {
    line(&b, "# Clients");
    line(&b, "connected_clients:%u", gw->nclients);
    line(&b, "maxclients:%u", gw->cfg.maxclients);
    tr__rbuf_add(&b, "\r\n", 2);
  }
  if (sec & TR__INFO_MEMORY) {
    line(&b, "# Memory");
    line(&b, "used_memory:%lld", (long long)c->info[2]);
    line(&b, "used_memory_rss:%zu", rss);
    line(&b, "used_memory_dataset:%lld", (long long)c->info[2]);
    tr__rbuf_add(&b, "\r\n", 2);
  }
  if (sec & TR__INFO_PERSISTENCE) {
    line(&b, "# Persistence");
    line(&b, "loading:0");
    line(&b, "aof_enabled:1");
    line(&b, "aof_last_write_status:%s",
         wstats && tr_msg_kind(wstats) == TR_KIND_REPLY ? "ok" : "err");
    line(&b, "writer_records:%lld", (long long)w[0]);
    line(&b, "writer_flushes:%lld", (long long)w[1]);
    line(&b, "writer_fsyncs:%lld", (long long)w[2]);
    line(&b, "writer_compactions:%lld", (long long)w[3]);
    line(&b, "aof_current_size:%lld", (long long)w[4]);
    line(&b, "writer_keys:%lld", (long long)w[5]);
    tr__rbuf_add(&b, "\r\n", 2);
  }
  if (sec & TR__INFO_STATS) {
    line(&b, "# Stats");
    line(&b, "total_connections_received:%llu",
         (unsigned long long)gw->connections);
    line(&b, "total_commands_processed:%llu", (unsigned long long)gw->commands);
    line(&b, "total_net_input_bytes:%llu", (unsigned long long)gw->net_in);
    line(&b, "total_net_output_bytes:%llu", (unsigned long long)gw->net_out);
    line(&b, "rejected_connections:%llu", (unsigned long long)gw->rejected);
    line(&b, "keyspace_hits:%llu", (unsigned long long)gw->hits);
    line(&b, "keyspace_misses:%llu", (unsigned long long)gw->misses);
    line(&b, "total_error_replies:%llu", (unsigned long long)gw->errors);
    tr__rbuf_add(&b, "\r\n", 2);
  }
  if (sec & TR__INFO_KEYSPACE) {
    line(&b, "# Keyspace");
    if (c->info[3] && c->info[0])
      line(&b, "db0:keys=%lld,expires=%lld,avg_ttl=0", (long long)c->info[0],
           (long long)c->info[1]);
    tr__rbuf_add(&b, "\r\n", 2);
  }
  if (b.len >= 2)
    b.len -= 2; /* no blank line at the end */
  tr__rbuf_bulk(out, b.p ? b.p : "", b.len);
  if (b.oom)
    out->oom = 1;
  tr__rbuf_free(&b);
}

static void command_entry(tr__rbuf *out, const tr__resp_cmdinfo *k) {
  char flags[64];
  char *save, *f;
  int n = 0;
  tr__rbuf_array(out, 6);
  tr__rbuf_bulk(out, k->name, strlen(k->name));
  tr__rbuf_int(out, k->arity);
  snprintf(flags, sizeof flags, "%s", k->flags);
  for (f = strtok_r(flags, " ", &save); f; f = strtok_r(NULL, " ", &save))
    n++;
  tr__rbuf_array(out, n);
  snprintf(flags, sizeof flags, "%s", k->flags);
  for (f = strtok_r(flags, " ", &save); f; f = strtok_r(NULL, " ", &save)) {
    tr__rbuf_add(out, "+", 1);
    tr__rbuf_add(out, f, strlen(f));
    tr__rbuf_add(out, "\r\n", 2);
  }
  tr__rbuf_int(out, k->first);
  tr__rbuf_int(out, k->last);
  tr__rbuf_int(out, k->step);
}

void tr__resp_command(tr__resp_conn *c, tr__rbuf *out) {
  size_t n = 0, i, l;
  const tr__resp_cmdinfo *t = tr__resp_command_at(0);
  const char *sub;
  uint32_t a;
  while (tr__resp_command_at(n))
    n++;
  if (c->argc == 1) {
    tr__rbuf_array(out, (int64_t)n);
    for (i = 0; i < n; i++)
      command_entry(out, &t[i]);
    return;
  }
  sub = tr__resp_arg(c, 1, &l);
  if (l == 5 && !strncasecmp(sub, "count", 5)) {
    tr__rbuf_int(out, (int64_t)n);
  } else if (l == 4 && !strncasecmp(sub, "docs", 4)) {
    tr__rbuf_array(out, 0); /* no docs: clients use their own */
  } else if (l == 4 && !strncasecmp(sub, "list", 4)) {
    tr__rbuf_array(out, (int64_t)n);
    for (i = 0; i < n; i++)
      tr__rbuf_bulk(out, t[i].name, strlen(t[i].name));
  } else if (l == 4 && !strncasecmp(sub, "info", 4)) {
    tr__rbuf_array(out, c->argc - 2);
    for (a = 2; a < c->argc; a++) {
      const char *s = tr__resp_arg(c, a, &l);
      for (i = 0; i < n; i++)
        if (strlen(t[i].name) == l && !strncasecmp(s, t[i].name, l))
          break;
      if (i < n)
        command_entry(out, &t[i]);
      else
        tr__rbuf_add(out, "*-1\r\n", 5);
    }
  } else {
    tr__rbuf_error(out, "ERR unknown subcommand '%.*s'. Try COMMAND HELP.",
                   (int)l, sub);
  }
}
