/*
 * check.c -- the power-loss simulator's workload and checker: a seeded
 * history of sets, deletes and msets driven through a writer (marking
 * each change issued and acknowledged in the recording), crash points
 * sampled from the recording, and for each disk state the restarted
 * writer's content checked against the history: exactly the state after
 * some prefix of it, no shorter than the fsync policy promised by then.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "powerloss.h"

/* ------------------------------------------------------------ workload */

static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* One key's entry in a state's hash (a state hashes to the sum). */
static uint64_t entry_hash(const char *k, size_t kn, const char *v, size_t vn) {
  uint64_t h = 1469598103934665603ull;
  size_t i;
  for (i = 0; i < kn; i++)
    h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
  h = (h ^ 0x1ff) * 1099511628211ull;
  for (i = 0; i < vn; i++)
    h = (h ^ (unsigned char)v[i]) * 1099511628211ull;
  return mix(h ^ vn);
}

/* A state: the value of each key, or none. */
typedef struct state {
  int keys;
  const char **val;
  size_t *len;
} state;

static int key_index(const char *k) { return atoi(k + 1); }

static uint64_t apply(state *s, const pl_change *c, uint64_t h) {
  int i;
  for (i = 0; i < c->n; i++) {
    int k = key_index(c->key[i]);
    if (s->val[k])
      h -= entry_hash(c->key[i], strlen(c->key[i]), s->val[k], s->len[k]);
    s->val[k] = c->type == PL_DEL ? NULL : c->val[i];
    s->len[k] = c->vlen[i];
    if (s->val[k])
      h += entry_hash(c->key[i], strlen(c->key[i]), s->val[k], s->len[k]);
  }
  return h;
}

void pl_workload_make(pl_workload *w, int n, uint64_t seed, int keys,
                      int shrink) {
  pl_rng r = {mix(seed) | 1};
  state s;
  int i, j;
  memset(w, 0, sizeof *w);
  w->n = n;
  w->c = calloc((size_t)n, sizeof *w->c);
  w->hash = calloc((size_t)n + 1, sizeof *w->hash);
  s.keys = keys;
  s.val = calloc((size_t)keys, sizeof *s.val);
  s.len = calloc((size_t)keys, sizeof *s.len);
  for (i = 0; i < n; i++) {
    pl_change *c = &w->c[i];
    uint64_t roll = pl_below(&r, 100);
    c->type = roll < 62 ? PL_SET : roll < 82 ? PL_DEL : PL_MSET;
    c->n = c->type == PL_MSET ? 2 + (int)pl_below(&r, PL_MAX_PAIRS - 1) : 1;
    for (j = 0; j < c->n; j++) {
      size_t len, b;
      uint64_t size = pl_below(&r, 100);
      snprintf(c->key[j], sizeof c->key[j], "k%02d",
               (int)pl_below(&r, (uint64_t)keys));
      if (c->type == PL_DEL)
        continue;
      len = size < 70   ? 12 + pl_below(&r, 290)
            : size < 95 ? 300 + pl_below(&r, 1700)
                        : 2000 + pl_below(&r, 4000);
      len = len / (size_t)shrink + 8;
      c->val[j] = malloc(len);
      /* which change and pair wrote it, then bytes of every kind */
      b = (size_t)snprintf(c->val[j], len, "c%d.%d:", i, j);
      for (; b < len; b++)
        c->val[j][b] = (char)pl_below(&r, 256);
      c->vlen[j] = len;
    }
    for (j = 1; c->type == PL_MSET && j < c->n;
         j++) /* keys of an mset differ */
      if (!strcmp(c->key[j], c->key[0]))
        snprintf(c->key[j], sizeof c->key[j], "k%02d",
                 (key_index(c->key[0]) + j) % keys);
    for (j = 2; c->type == PL_MSET && j < c->n; j++)
      if (!strcmp(c->key[j], c->key[1])) { /* short of a pair instead */
        int m;
        for (m = j; m < c->n; m++)
          free(c->val[m]);
        c->n = j;
      }
    c->sync_after = pl_below(&r, 100) < 12;
    c->group = pl_below(&r, 100) < 20;
    w->hash[i + 1] = apply(&s, c, w->hash[i]);
  }
  free(s.val);
  free(s.len);
}

void pl_workload_free(pl_workload *w) {
  int i, j;
  for (i = 0; i < w->n; i++)
    for (j = 0; j < w->c[i].n; j++)
      free(w->c[i].val[j]);
  free(w->c);
  free(w->hash);
  memset(w, 0, sizeof *w);
}

void pl_content_add(pl_content *c, const char *k, size_t kn, const char *v,
                    size_t vn) {
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 64;
    c->key = realloc(c->key, c->cap * sizeof *c->key);
    c->val = realloc(c->val, c->cap * sizeof *c->val);
    c->vlen = realloc(c->vlen, c->cap * sizeof *c->vlen);
    if (!c->key || !c->val || !c->vlen)
      abort();
  }
  c->key[c->n] = strndup(k, kn);
  c->val[c->n] = malloc(vn ? vn : 1);
  memcpy(c->val[c->n], v, vn);
  c->vlen[c->n++] = vn;
}

void pl_content_free(pl_content *c) {
  size_t i;
  for (i = 0; i < c->n; i++) {
    free(c->key[i]);
    free(c->val[i]);
  }
  free(c->key);
  free(c->val);
  free(c->vlen);
  memset(c, 0, sizeof *c);
}

/* The state after changes 0..p-1, into s (its arrays keys long). */
static void state_at(const pl_workload *w, int p, state *s) {
  int i;
  memset(s->val, 0, (size_t)s->keys * sizeof *s->val);
  for (i = 0; i < p; i++)
    apply(s, &w->c[i], 0);
}

int pl_check(const pl_workload *w, const pl_content *c, int lo, int hi,
             char *why, size_t n) {
  uint64_t h = 0;
  size_t i, j;
  int p, any = -1, keys = 100;
  state s;
  for (i = 0; i < c->n; i++) {
    for (j = 0; j < i; j++)
      if (!strcmp(c->key[i], c->key[j])) {
        snprintf(why, n, "key %s given twice", c->key[i]);
        return -1;
      }
    h += entry_hash(c->key[i], strlen(c->key[i]), c->val[i], c->vlen[i]);
  }
  for (p = lo; p <= hi && p <= w->n; p++)
    if (w->hash[p] == h)
      return 0;
  for (p = 0; p <= w->n && any < 0; p++)
    if (w->hash[p] == h)
      any = p;
  if (any >= 0) {
    snprintf(why, n,
             "the state after %d changes, but %d were promised and %d issued",
             any, lo, hi);
    return -1;
  }
  /* no prefix at all: name what differs from the one promised */
  s.keys = keys;
  s.val = calloc((size_t)keys, sizeof *s.val);
  s.len = calloc((size_t)keys, sizeof *s.len);
  state_at(w, lo, &s);
  {
    size_t len = (size_t)snprintf(why, n,
                                  "no prefix of the history (%d promised, %d "
                                  "issued) explains it; against %d changes:",
                                  lo, hi, lo);
    int shown = 0;
    for (i = 0; i < c->n && shown < 4 && len < n; i++) {
      int k = key_index(c->key[i]);
      if (k < 0 || k >= keys || !s.val[k] || s.len[k] != c->vlen[i] ||
          memcmp(s.val[k], c->val[i], c->vlen[i])) {
        len += (size_t)snprintf(why + len, n - len, " %s=%.12s(%zu bytes)",
                                c->key[i], c->vlen[i] ? c->val[i] : "(empty)",
                                c->vlen[i]);
        shown++;
      }
    }
    for (p = 0; p < keys && shown < 6 && len < n; p++) {
      char name[16];
      int found = 0;
      if (!s.val[p])
        continue;
      snprintf(name, sizeof name, "k%02d", p);
      for (i = 0; i < c->n && !found; i++)
        found = !strcmp(c->key[i], name);
      if (!found) {
        len += (size_t)snprintf(why + len, n - len, " %s missing", name);
        shown++;
      }
    }
  }
  free(s.val);
  free(s.len);
  return -1;
}

/* ------------------------------------------------------------ driving */

typedef struct inflight {
  int change, *acked, *failed;
} inflight;

static void on_answer(tr_host *h, void *ud, int rc, tr_msg *reply) {
  inflight *f = ud;
  int b = 0;
  (void)h;
  if (rc == TR_OK && tr_value_bool(tr_msg_arg(reply, 0), &b) == TR_OK && b) {
    pl_mark(PL_ACKED, f->change);
    (*f->acked)++;
  } else {
    const char *s = NULL;
    size_t len = 0;
    if (reply)
      tr_value_str(tr_msg_arg(reply, 0), &s, &len);
    fprintf(stderr, "powerloss: change %d refused: %.*s\n", f->change, (int)len,
            s ? s : tr_strerror(rc));
    (*f->failed)++;
  }
  free(f);
}

static tr_msg *change_msg(const pl_change *c) {
  tr_msg *m;
  int j;
  if (c->type == PL_DEL)
    return tr_msg_pack("delete", "s", c->key[0]);
  m = tr_msg_new(c->type == PL_SET ? "set" : "mset");
  for (j = 0; j < c->n; j++) {
    tr_msg_add_cstr(m, c->key[j]);
    tr_msg_add_str(m, c->val[j], c->vlen[j]);
  }
  return m;
}

int pl_drive(tr_host *h, tr_pid pid, const pl_workload *w, int policy) {
  int i = 0, failed = 0;
  while (i < w->n && !failed) {
    int first = i, acked = 0, sync = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do { /* a group goes out together: one batch, one write */
      inflight *f = malloc(sizeof *f);
      f->change = i;
      f->acked = &acked;
      f->failed = &failed;
      pl_mark(PL_ISSUED, i);
      if (tr_host_call_async(h, pid, change_msg(&w->c[i]), 10000, on_answer, f,
                             NULL) != TR_OK) {
        free(f);
        return -1;
      }
      sync |= w->c[i].sync_after;
    } while (w->c[i++].group && i < w->n);
    while (acked + failed < i - first)
      tr_host_step(h);
    if (sync && policy == TR_FSYNC_EVERYSEC && !failed) {
      /* the writer's one-second timer, fired by the workload: the run
       * does not wait for it, and replays the same */
      tr_msg *r = NULL;
      tr_send(h, 0, pid, tr_msg_new("sync"));
      if (tr_host_call(h, pid, tr_msg_new("stats"), 10000, &r) != TR_OK)
        failed++;
      tr_msg_free(r);
    }
  }
  return failed ? -1 : 0;
}

/* Loads everything the writer at pid has into c (c may be NULL). */
int pl_load_all(tr_host *h, tr_pid pid, pl_content *c, char *why, size_t n) {
  int64_t cursor = 0;
  for (;;) {
    tr_msg *r = NULL;
    const tr_value *e, *v;
    const char *s;
    size_t len, i;
    int rc = tr_host_call(h, pid, tr_msg_pack("load", "I", cursor), 30000, &r);
    if (rc != TR_OK) {
      snprintf(why, n, "load failed: %s", tr_strerror(rc));
      tr_msg_free(r);
      return -1;
    }
    for (i = 3; i <= 4; i++) /* refused, unavailable */
      if (tr_value_str(tr_msg_arg(r, i), &s, &len) == TR_OK) {
        snprintf(why, n, "the writer %s: %.*s",
                 i == 3 ? "refuses changes" : "is unavailable", (int)len, s);
        tr_msg_free(r);
        return -1;
      }
    e = tr_msg_arg(r, 0);
    for (i = 0; c && i + 1 < tr_value_len(e); i += 2) {
      const char *k;
      size_t kn;
      tr_value_str(tr_value_at(e, i), &k, &kn);
      tr_value_str(tr_value_at(e, i + 1), &s, &len);
      pl_content_add(c, k, kn, s, len);
    }
    v = tr_msg_arg(r, 1);
    if (tr_value_int(v, &cursor) != TR_OK) {
      tr_msg_free(r);
      return 0;
    }
    tr_msg_free(r);
  }
}

/* ------------------------------------------------------------ exploring */

double pl_now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int same(const pl_content *a, const pl_content *b) {
  size_t i, j;
  if (a->n != b->n)
    return 0;
  for (i = 0; i < a->n; i++) {
    int found = 0;
    for (j = 0; j < b->n && !found; j++)
      found = !strcmp(a->key[i], b->key[j]) && a->vlen[i] == b->vlen[j] &&
              !memcmp(a->val[i], b->val[j], a->vlen[i]);
    if (!found)
      return 0;
  }
  return 1;
}

/* The writer starts on dir twice: both must load, and load the same. */
static int start_twice(pl_start_fn start, void *ud, const char *dir, int policy,
                       pl_content *c, char *why, size_t n) {
  pl_content again = {0};
  int rc;
  if (start(ud, dir, policy, c, why, n))
    return -1;
  rc = start(ud, dir, policy, &again, why, n);
  if (!rc && !same(c, &again)) {
    snprintf(why, n, "a second start loads %zu keys, the first %zu", again.n,
             c->n);
    rc = -1;
  }
  pl_content_free(&again);
  return rc;
}

static int is_mark(int type) {
  return type == PL_ISSUED || type == PL_ACKED || type == PL_COMPACT_IN ||
         type == PL_COMPACT_OUT;
}

static void shuffle(size_t *a, size_t n, pl_rng *r) {
  size_t i;
  for (i = n; i > 1; i--) {
    size_t j = (size_t)pl_below(r, i), t = a[i - 1];
    a[i - 1] = a[j];
    a[j] = t;
  }
}

static const char *const policy_names[] = {"everysec", "always", "no"};
static const char *const model_names[] = {"ext4-ordered", "strict"};

void pl_explore(const pl_opts *o, const pl_log *l, const pl_workload *w,
                pl_start_fn start, void *ud, pl_result *res) {
  size_t n = l->n, i, ncand = 0, ncomp = 0, npts, *cand, *comp, *pts;
  int *lo = calloc(n + 1, sizeof *lo), *hi = calloc(n + 1, sizeof *hi);
  char *incomp = calloc(n + 1, 1);
  int acked = 0, issued = 0, promised = 0, compacting = 0;
  char *ackd = calloc((size_t)w->n + 1, 1), dir[4096], why[500];
  long per_point = 4;
  pl_rng r = {mix(o->seed ^ 0x5eed) | 1};
  double t0 = pl_now_s();
  cand = malloc((n + 1) * sizeof *cand);
  comp = malloc((n + 1) * sizeof *comp);
  pts = malloc((n + 1) * sizeof *pts);
  /* what was promised and issued before each op */
  for (i = 0; i <= n; i++) {
    const pl_op *op = i < n ? &l->ops[i] : NULL;
    lo[i] = o->policy == TR_FSYNC_ALWAYS     ? acked
            : o->policy == TR_FSYNC_EVERYSEC ? promised
                                             : 0;
    hi[i] = issued;
    incomp[i] = (char)compacting;
    if (!op || !is_mark(op->type)) {
      if (compacting)
        comp[ncomp++] = i;
      cand[ncand++] = i;
    }
    if (!op)
      break;
    if (op->type == PL_ISSUED && op->change + 1 > issued)
      issued = op->change + 1;
    if (op->type == PL_ACKED) {
      ackd[op->change] = 1;
      while (acked < w->n && ackd[acked])
        acked++;
    }
    /* everysec's promise: what was acknowledged before the writer's last
     * sync -- the log's fsync; the JSON writer's, once the directory is
     * fsynced too (data.json is a new file each time) */
    if (op->type == PL_DIRSYNC || (op->type == PL_FSYNC && o->writer == PL_LOG))
      promised = acked;
    if (op->type == PL_COMPACT_IN)
      compacting = 1;
    if (op->type == PL_COMPACT_OUT)
      compacting = 0;
  }
  res->ops = (long)ncand;
  if (o->point >= 0) {
    npts = 1;
    pts[0] = (size_t)o->point > n ? n : (size_t)o->point;
    per_point = o->states > 0 ? o->states : 8;
  } else {
    size_t want = (size_t)((o->states + per_point - 1) / per_point), take;
    if (want >= ncand) {
      memcpy(pts, cand, ncand * sizeof *pts);
      npts = ncand;
      per_point = (o->states + (long)ncand - 1) / (long)(ncand ? ncand : 1);
    } else { /* half inside compactions, when there are any */
      shuffle(comp, ncomp, &r);
      take = ncomp < want / 2 ? ncomp : want / 2;
      memcpy(pts, comp, take * sizeof *pts);
      npts = take;
      shuffle(cand, ncand, &r);
      for (i = 0; i < ncand && npts < want; i++) {
        size_t j;
        int dup = 0;
        for (j = 0; j < take && !dup; j++)
          dup = pts[j] == cand[i];
        if (!dup)
          pts[npts++] = cand[i];
      }
    }
  }
  snprintf(dir, sizeof dir, "%s/state", o->tmp);
  if (o->point >= 0 && o->verbose) /* what led up to the crash point */
    for (i = pts[0] > 40 ? pts[0] - 40 : 0; i < pts[0] && i < n; i++) {
      const pl_op *op = &l->ops[i];
      static const char *const names[] = {
          "?",       "create",     "trunc",      "write",  "fsync",
          "dirsync", "rename",     "xchg",       "unlink", "issued",
          "acked",   "compact-in", "compact-out"};
      fprintf(stderr, "  %5zu %-11s ino %d %s%s%s off %llu len %llu chg %d\n",
              i, names[op->type], op->ino, op->name, op->name2[0] ? " -> " : "",
              op->name2, (unsigned long long)op->off,
              (unsigned long long)op->len, op->change);
    }
  for (i = 0; i < npts; i++) {
    size_t k = pts[i];
    long s;
    res->points++;
    res->compact_points += incomp[k];
    for (s = 0; s < per_point; s++) {
      int model = o->model >= 0 ? o->model : (int)(s % 2);
      pl_rng sr = {mix(o->seed * 1000003u + k * 7919u + (uint64_t)s) | 1};
      pl_content c = {0};
      int bad;
      why[0] = '\0';
      if (pl_simdisk_build(l, k, model, &sr, dir)) {
        perror("powerloss: building a state");
        continue;
      }
      res->states++;
      res->by_model[model]++;
      bad = start_twice(start, ud, dir, o->policy, &c, why, sizeof why) ||
            pl_check(w, &c, lo[k], hi[k], why, sizeof why);
      pl_content_free(&c);
      if (!bad)
        continue;
      res->violations++;
      res->viol_model[model]++;
      if (!res->first[0] || o->verbose) {
        char line[sizeof res->first];
        snprintf(line, sizeof line,
                 "%s writer, fsync %s, model %s, --point %zu state %ld%s: %s",
                 o->writer == PL_LOG ? "log" : "json", policy_names[o->policy],
                 model_names[model], k, s,
                 incomp[k] ? " (inside a compaction)" : "", why);
        if (!res->first[0])
          snprintf(res->first, sizeof res->first, "%s", line);
        if (o->verbose)
          fprintf(stderr, "violation: %s\n", line);
      }
    }
  }
  res->check_s += pl_now_s() - t0;
  free(lo);
  free(hi);
  free(incomp);
  free(ackd);
  free(cand);
  free(comp);
  free(pts);
}
