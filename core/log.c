/*
 * log.c -- a host's log: the level it logs at, and its lines.
 *
 * tr_host_log formats the text, then hands it to the embedder's log
 * callback bare, or makes a whole line of it -- the time (UTC, ms), the
 * level, the actor whose callback logs -- as text or as one JSON object,
 * for log_line or stderr. A line is written with one call, so lines from
 * several threads do not mix.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "host.h"

static const char *const levels[] = {"error", "warn", "info", "debug"};

/* A line being built; what does not fit is cut off. */
typedef struct line {
  char *p;
  size_t len, cap; /* cap keeps a byte for the newline */
} line;

static void put(line *b, const char *s, size_t n) {
  if (n > b->cap - b->len)
    n = b->cap - b->len;
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

static void puts_(line *b, const char *s) { put(b, s, strlen(s)); }

/* The length of the UTF-8 sequence at s (n bytes left), 0 if it is not
 * one: shippers' JSON parsers refuse such bytes. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  size_t k, i;
  if (s[0] < 0x80)
    return 1;
  if (s[0] >= 0xc2 && s[0] <= 0xdf)
    k = 2;
  else if (s[0] >= 0xe0 && s[0] <= 0xef)
    k = 3;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4)
    k = 4;
  else
    return 0;
  if (n < k)
    return 0;
  for (i = 1; i < k; i++)
    if ((s[i] & 0xc0) != 0x80)
      return 0;
  /* Overlong forms, surrogates and past U+10FFFF. */
  if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
      (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
    return 0;
  return k;
}

/* s as a JSON string, quotes included. */
static void json_str(line *b, const char *s) {
  const unsigned char *u = (const unsigned char *)s;
  size_t n = strlen(s), i = 0, k;
  char esc[8];
  put(b, "\"", 1);
  while (i < n) {
    if (u[i] == '"' || u[i] == '\\') {
      esc[0] = '\\';
      esc[1] = (char)u[i];
      put(b, esc, 2);
      k = 1;
    } else if (u[i] == '\n') {
      put(b, "\\n", 2), k = 1;
    } else if (u[i] == '\t') {
      put(b, "\\t", 2), k = 1;
    } else if (u[i] < 0x20 || u[i] == 0x7f) {
      snprintf(esc, sizeof esc, "\\u%04x", u[i]);
      put(b, esc, 6);
      k = 1;
    } else if ((k = utf8_len(u + i, n - i)) != 0) {
      put(b, s + i, k);
    } else {
      put(b, "\\ufffd", 6), k = 1;
    }
    i += k;
  }
  put(b, "\"", 1);
}

/* Now, as 2026-01-31T12:00:00.123Z. */
static void timestamp(char *out, size_t size) {
  uv_timeval64_t tv;
  struct tm tm;
  time_t t;
  if (uv_gettimeofday(&tv)) {
    snprintf(out, size, "?");
    return;
  }
  t = (time_t)tv.tv_sec;
#ifdef _WIN32
  gmtime_s(&tm, &t);
#else
  gmtime_r(&t, &tm);
#endif
  snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
           (int)(tv.tv_usec / 1000));
}

static void write_line(tr_host *h, int level, const char *text) {
  char buf[8192], ts[96], pid[48] = "";
  line b = {buf, 0, sizeof buf - 1};
  const char *name = NULL;
  /* Only the loop thread may look at whose callback runs. */
  if (h && h->current && tr__on_loop_thread(h)) {
    tr_pid_format(h->current->pid, pid, sizeof pid);
    name = h->current->name;
  }
  timestamp(ts, sizeof ts);
  if (h && h->cfg.log_format == TR_LOG_JSON) {
    puts_(&b, "{\"ts\":\"");
    puts_(&b, ts);
    puts_(&b, "\",\"level\":\"");
    puts_(&b, levels[level - 1]);
    puts_(&b, "\",\"pid\":");
    if (*pid)
      json_str(&b, pid);
    else
      puts_(&b, "null");
    puts_(&b, ",\"name\":");
    if (name)
      json_str(&b, name);
    else
      puts_(&b, "null");
    puts_(&b, ",\"msg\":");
    json_str(&b, text);
    if (b.len == b.cap) /* cut short: keep it one valid object */
      b.len = (size_t)snprintf(buf, sizeof buf,
                               "{\"ts\":\"%s\",\"level\":\"%s\",\"pid\":null,"
                               "\"name\":null,\"msg\":\"(line too long)\"}",
                               ts, levels[level - 1]);
    else
      puts_(&b, "}");
  } else {
    b.len =
        (size_t)snprintf(buf, sizeof buf, "%s %-5s ", ts, levels[level - 1]);
    if (*pid) {
      puts_(&b, "[");
      puts_(&b, pid);
      if (name) {
        puts_(&b, " ");
        puts_(&b, name);
      }
      puts_(&b, "] ");
    }
    puts_(&b, text);
  }
  if (h && h->cfg.log_line) {
    h->cfg.log_line(h->cfg.log_ud, level, buf, b.len);
  } else {
    buf[b.len++] = '\n'; /* the byte cap kept */
    fwrite(buf, 1, b.len, stderr);
  }
}

void tr_host_log(tr_host *h, int level, const char *fmt, ...) {
  char text[1024];
  va_list ap;
  if (level < TR_LOG_ERROR)
    level = TR_LOG_ERROR;
  if (level > TR_LOG_DEBUG)
    level = TR_LOG_DEBUG;
  if (h && level > atomic_load_explicit(&h->log_level, memory_order_relaxed))
    return; /* before formatting: debug lines cost nothing when off */
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (h && h->cfg.log)
    h->cfg.log(h->cfg.log_ud, level, text);
  else
    write_line(h, level, text);
}

int tr_host_set_log_level(tr_host *h, int level) {
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  if (level < TR_LOG_ERROR || level > TR_LOG_DEBUG)
    return TR_EINVAL;
  atomic_store(&h->log_level, level);
  return TR_OK;
}

int tr_host_log_level(tr_host *h) {
  return tr__loop_check(h) ? 0 : atomic_load(&h->log_level);
}
