/*
 * kvtest.h -- helpers for the tests of the native store and its writer:
 * run the pair the way it runs for real (a one_for_all supervisor, writer
 * first), in a temporary directory, call it from outside any actor, catch
 * what the host logs, and poke at the files.
 */
#ifndef TR_KVTEST_H
#define TR_KVTEST_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/kvio.h"
#include "test.h"
#include "troupe_services.h"

typedef struct pair {
  tr_host *h;
  tr_pid sup;
  int rc; /* what starting the supervisor gave */
  tr_kv_config cfg;
  char dir[256];
  char log[16384]; /* every line the host logged, "E: text\n" */
  char error[512]; /* the text of the last error reply */
} pair;

static inline void pair_log(void *ud, int level, const char *text) {
  pair *p = ud;
  size_t len = strlen(p->log);
  char tag = level == TR_LOG_ERROR  ? 'E'
             : level == TR_LOG_WARN ? 'W'
             : level == TR_LOG_INFO ? 'I'
                                    : 'D';
  snprintf(p->log + len, sizeof p->log - len, "%c: %s\n", tag, text);
}

/* Starts host and pair on dir; p->rc says whether the supervisor started.
 * wait_ms is the store's load_wait_ms (0: its default). */
static inline int pair_start_wait(pair *p, const char *dir, int fsync,
                                  const tr__kvio *io, uint32_t wait_ms) {
  tr_host_config hc;
  tr_sup_spec spec;
  tr_child_spec kids[2];
  memset(&hc, 0, sizeof hc);
  memset(&spec, 0, sizeof spec);
  memset(kids, 0, sizeof kids);
  p->log[0] = p->error[0] = '\0';
  snprintf(p->dir, sizeof p->dir, "%s", dir);
  p->cfg.dir = p->dir;
  p->cfg.fsync = fsync;
  p->cfg.io = io;
  p->cfg.load_wait_ms = wait_ms;
  hc.log = pair_log;
  hc.log_ud = p;
  p->h = tr_host_new(&hc);
  kids[0].name = "kv.writer";
  kids[0].start = tr_kv_log_writer_start;
  kids[0].arg = &p->cfg;
  kids[1].name = "kv";
  kids[1].start = tr_kv_store_start;
  kids[1].arg = &p->cfg;
  spec.strategy = TR_ONE_FOR_ALL;
  spec.children = kids;
  spec.nchildren = 2;
  p->sup = 0;
  p->rc = tr_sup_start(p->h, &spec, NULL, &p->sup);
  return p->rc;
}

static inline int pair_start_io(pair *p, const char *dir, int fsync,
                                const tr__kvio *io) {
  return pair_start_wait(p, dir, fsync, io, 0);
}

static inline int pair_start(pair *p, const char *dir, int fsync) {
  return pair_start_io(p, dir, fsync, NULL);
}

/* Restarts the pair through its supervisor, as actor.reset does. */
static inline int pair_restart(pair *p) {
  tr_msg *r = NULL;
  int ok = tr_host_call(p->h, p->sup, tr_msg_pack("restart", "s", "kv"), 20000,
                        &r) == TR_OK;
  tr_msg_free(r);
  return ok;
}

/* Ends host and pair; TROUPE_TEST_LOG=1 in the environment prints what
 * the host logged. */
static inline void pair_stop(pair *p) {
  tr_host_free(p->h);
  if (getenv("TROUPE_TEST_LOG"))
    fputs(p->log, stdout);
  p->h = NULL;
}

static inline int logged(const pair *p, const char *text) {
  return strstr(p->log, text) != NULL;
}

/* How many lines of the log hold text. */
static inline int count_lines(const pair *p, const char *text) {
  const char *line = p->log;
  int n = 0;
  while (*line) {
    const char *end = strchr(line, '\n'), *hit = strstr(line, text);
    if (!end)
      end = line + strlen(line);
    if (hit && hit < end)
      n++;
    line = *end ? end + 1 : end;
  }
  return n;
}

/* A call to name; the reply (to free) or NULL. An error reply is returned
 * too; its text is kept in p->error. */
static inline tr_msg *pair_call(pair *p, const char *name, tr_msg *req) {
  tr_msg *r = NULL;
  const char *s;
  size_t n;
  tr_pid to = tr_whereis(p->h, name);
  int rc;
  p->error[0] = '\0';
  rc = tr_host_call(p->h, to, req, 20000, &r);
  if (rc != TR_OK && rc != TR_EREPLY)
    return NULL;
  if (rc == TR_EREPLY && tr_msg_unpack(r, "s", &s, &n) == TR_OK)
    snprintf(p->error, sizeof p->error, "%.*s", (int)n, s);
  return r;
}

/* 1 when the reply is `true`, 0 for an error reply (text in p->error). */
static inline int kv_setn(pair *p, const char *k, size_t kn, const char *v,
                          size_t vn) {
  tr_msg *r = pair_call(p, "kv", tr_msg_pack("kv", "sSS", "set", k, kn, v, vn));
  int ok = 0, b = 0;
  if (r && tr_msg_kind(r) != TR_KIND_ERROR &&
      tr_msg_unpack(r, "b", &b) == TR_OK)
    ok = b;
  tr_msg_free(r);
  return ok;
}

static inline int kv_set(pair *p, const char *k, const char *v) {
  return kv_setn(p, k, strlen(k), v, strlen(v));
}

static inline int kv_del(pair *p, const char *k) {
  tr_msg *r =
      pair_call(p, "kv", tr_msg_pack("kv", "sS", "delete", k, strlen(k)));
  int ok = r && tr_msg_kind(r) != TR_KIND_ERROR;
  tr_msg_free(r);
  return ok;
}

/* The value (malloc'd, NUL added, length in *n) or NULL when missing. */
static inline char *kv_getn(pair *p, const char *k, size_t kn, size_t *n) {
  tr_msg *r = pair_call(p, "kv", tr_msg_pack("kv", "sS", "get", k, kn));
  const tr_value *v =
      r && tr_msg_kind(r) != TR_KIND_ERROR ? tr_msg_arg(r, 0) : NULL;
  const char *s;
  size_t len;
  char *out = NULL;
  if (v && tr_value_str(v, &s, &len) == TR_OK && (out = malloc(len + 1))) {
    memcpy(out, s, len);
    out[len] = '\0';
    if (n)
      *n = len;
  }
  tr_msg_free(r);
  return out;
}

/* Is k's value v (v NULL: is k missing)? */
static inline int kv_is(pair *p, const char *k, const char *v) {
  size_t n = 0;
  char *got = kv_getn(p, k, strlen(k), &n);
  int ok = v ? got && n == strlen(v) && !memcmp(got, v, n) : got == NULL;
  free(got);
  return ok;
}

static inline long long kv_count(pair *p) {
  tr_msg *r = pair_call(p, "kv", tr_msg_pack("kv", "s", "count"));
  int64_t n = -1;
  if (r)
    tr_msg_unpack(r, "I", &n);
  tr_msg_free(r);
  return n;
}

static inline void kv_info(pair *p, char *buf, size_t size) {
  tr_msg *r = pair_call(p, "kv", tr_msg_pack("kv", "s", "info"));
  const char *s = "";
  size_t n = 0;
  if (r)
    tr_msg_unpack(r, "s", &s, &n);
  snprintf(buf, size, "%.*s", (int)n, s);
  tr_msg_free(r);
}

/* One of the writer's stats ("flushes", "fsyncs", ...); -1 on failure. */
static inline long long writer_stat(pair *p, const char *name) {
  tr_msg *r = pair_call(p, "kv.writer", tr_msg_new("stats"));
  const tr_value *m = r ? tr_msg_arg(r, 0) : NULL;
  long long out = -1;
  size_t i;
  for (i = 0; m && i < tr_value_len(m); i++) {
    const char *s;
    size_t n;
    int64_t v;
    if (tr_value_str(tr_value_key(m, i), &s, &n) == TR_OK &&
        n == strlen(name) && !memcmp(s, name, n) &&
        tr_value_int(tr_value_val(m, i), &v) == TR_OK)
      out = v;
  }
  tr_msg_free(r);
  return out;
}

/* ------------------------------------------------------------- files */

static inline void temp_dir(char *buf, size_t n) {
  snprintf(buf, n, "/tmp/troupe-kv-XXXXXX");
  if (!mkdtemp(buf))
    buf[0] = '\0';
}

static inline void path_in(char *buf, size_t n, const char *dir,
                           const char *name) {
  snprintf(buf, n, "%s/%s", dir, name);
}

static inline void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[512];
  if (!d)
    return;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    path_in(path, sizeof path, dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

/* Is there a file in dir whose name starts with prefix? */
static inline int has_file_like(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int found = 0;
  if (!d)
    return 0;
  while ((e = readdir(d)))
    if (!strncmp(e->d_name, prefix, strlen(prefix)))
      found = 1;
  closedir(d);
  return found;
}

static inline long long file_size(const char *dir, const char *name) {
  char path[512];
  struct stat st;
  path_in(path, sizeof path, dir, name);
  return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* The file's bytes (malloc'd) and size, or NULL. */
static inline char *file_read(const char *dir, const char *name, size_t *n) {
  char path[512];
  FILE *f;
  char *buf = NULL;
  long size;
  path_in(path, sizeof path, dir, name);
  if (!(f = fopen(path, "rb")))
    return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
      fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1))) {
    *n = fread(buf, 1, (size_t)size, f);
    buf[*n] = '\0';
  }
  fclose(f);
  return buf;
}

static inline int file_write(const char *dir, const char *name,
                             const void *data, size_t n) {
  char path[512];
  FILE *f;
  int ok;
  path_in(path, sizeof path, dir, name);
  if (!(f = fopen(path, "wb")))
    return 0;
  ok = fwrite(data, 1, n, f) == n;
  return fclose(f) == 0 && ok;
}

static inline int file_truncate(const char *dir, const char *name,
                                long long size) {
  char path[512];
  path_in(path, sizeof path, dir, name);
  return truncate(path, (off_t)size) == 0;
}

static inline int file_flip(const char *dir, const char *name, long long at) {
  size_t n = 0;
  char *b = file_read(dir, name, &n);
  int ok = b && at >= 0 && (size_t)at < n;
  if (ok) {
    b[at] ^= 0x5a;
    ok = file_write(dir, name, b, n);
  }
  free(b);
  return ok;
}

#endif
