/*
 * simdisk.c -- the power-loss simulator's disk: from a recorded run
 * (oplog.h) and a crash point it builds, in a directory, one state a disk
 * could be in after losing power there, as a model of the file system
 * allows:
 *
 *   always     what was fsynced is there: a file's data up to its last
 *              fsync, the directory's entries up to its last fsync.
 *   ext4-ordered (data=ordered, auto_da_alloc, as Debian mounts ext4)
 *              of a file's unsynced writes, a prefix in issue order
 *              survives, cut at a 4 KiB block of the file; of the unsynced
 *              directory changes (new names, renames, unlinks), a prefix
 *              (the journal commits them in order); a rename over an
 *              existing name that survives brings the renamed file's
 *              earlier writes with it (the old file or the new, whole).
 *              An exchange (RENAME_EXCHANGE) brings nothing with it. A
 *              truncate is journaled with the directory's changes: one
 *              issued before the last directory change that survives
 *              happened too.
 *   strict     each unsynced 4 KiB block of a file is, on its own, the new
 *              data, the old (zeros past the old size: allocated, never
 *              written), or torn (new then old, at a 512-byte boundary);
 *              the size is the old or the new one; each
 *              unsynced directory change happened or did not, on its own
 *              (in order, one that cannot apply any more is skipped).
 *
 * Everything is chosen with the caller's generator, so a seed replays.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oplog.h"

#define BLOCK 4096u

pl_op *pl_log_add(pl_log *l, const pl_op *op, const void *bytes, size_t n) {
  pl_op *o;
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 1024;
    l->ops = realloc(l->ops, l->cap * sizeof *l->ops);
    if (!l->ops)
      abort();
  }
  o = &l->ops[l->n++];
  *o = *op;
  if (op->type == PL_WRITE) {
    if (l->nbytes + n > l->bytes_cap) {
      while (l->nbytes + n > l->bytes_cap)
        l->bytes_cap = l->bytes_cap ? l->bytes_cap * 2 : 1 << 20;
      l->bytes = realloc(l->bytes, l->bytes_cap);
      if (!l->bytes)
        abort();
    }
    memcpy(l->bytes + l->nbytes, bytes, n);
    o->data = l->nbytes;
    o->len = n;
    l->nbytes += n;
  }
  return o;
}

void pl_log_free(pl_log *l) {
  free(l->ops);
  free(l->bytes);
  memset(l, 0, sizeof *l);
}

uint64_t pl_rand(pl_rng *r) {
  uint64_t x = r->s ? r->s : 0x9e3779b97f4a7c15ull;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return r->s = x;
}

void pl_rmdir_files(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char p[4096];
  if (!d)
    return;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' &&
        (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
      continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
}

/* A file's bytes as they are built. */
typedef struct buf {
  char *p;
  size_t len, cap;
} buf;

static void buf_size(buf *b, size_t len) {
  if (len > b->cap) {
    b->cap = len * 2;
    if (!(b->p = realloc(b->p, b->cap)))
      abort();
  }
  if (len > b->len)
    memset(b->p + b->len, 0, len - b->len);
  b->len = len;
}

/* Applies bytes [from, to) of data op o (a write, or a truncate as one
 * unit) to b. */
static void apply(const pl_log *l, const pl_op *o, buf *b, uint64_t from,
                  uint64_t to) {
  if (o->type == PL_TRUNC) {
    buf_size(b, o->len);
    return;
  }
  if (o->off + to > b->len)
    buf_size(b, o->off + to);
  memcpy(b->p + o->off + from, l->bytes + o->data + from, to - from);
}

typedef struct inode {
  size_t *ops; /* its data ops (TRUNC, WRITE): op indices */
  size_t n, cap;
  size_t synced; /* ops[0..synced) are durable */
  size_t forced; /* ops[0..forced) survive all the same (ext4 rename) */
} inode;

typedef struct entry {
  char name[32];
  int ino;
} entry;

typedef struct ns {
  entry e[64];
  int n;
} ns;

static int ns_find(const ns *s, const char *name) {
  int i;
  for (i = 0; i < s->n; i++)
    if (!strcmp(s->e[i].name, name))
      return i;
  return -1;
}

static void ns_set(ns *s, const char *name, int ino) {
  int i = ns_find(s, name);
  if (i < 0 && s->n < (int)(sizeof s->e / sizeof *s->e)) {
    i = s->n++;
    snprintf(s->e[i].name, sizeof s->e[i].name, "%s", name);
  }
  if (i >= 0)
    s->e[i].ino = ino;
}

static void ns_del(ns *s, const char *name) {
  int i = ns_find(s, name);
  if (i >= 0)
    s->e[i] = s->e[--s->n];
}

/* Applies a directory change; 0 when it cannot (its name is gone). For a
 * rename over an existing name, *replaced says so. */
static int ns_apply(ns *s, const pl_op *o, int *replaced) {
  int a = ns_find(s, o->name), b, ino;
  *replaced = 0;
  switch (o->type) {
  case PL_CREATE:
    ns_set(s, o->name, o->ino);
    return 1;
  case PL_UNLINK:
    if (a < 0)
      return 0;
    ns_del(s, o->name);
    return 1;
  case PL_RENAME:
    if (a < 0)
      return 0;
    ino = s->e[a].ino;
    *replaced = ns_find(s, o->name2) >= 0;
    ns_del(s, o->name);
    ns_set(s, o->name2, ino);
    return 1;
  case PL_EXCHANGE:
    b = ns_find(s, o->name2);
    if (a < 0 || b < 0)
      return 0;
    ino = s->e[a].ino;
    s->e[a].ino = s->e[b].ino;
    s->e[b].ino = ino;
    return 1;
  }
  return 0;
}

static int is_ns(int type) {
  return type == PL_CREATE || type == PL_UNLINK || type == PL_RENAME ||
         type == PL_EXCHANGE;
}

/* The units a data op is cut into under ext4-ordered: its 4 KiB blocks of
 * the file (a truncate is one). */
static size_t units_of(const pl_op *o) {
  if (o->type == PL_TRUNC || !o->len)
    return 1;
  return (size_t)((o->off + o->len - 1) / BLOCK - o->off / BLOCK + 1);
}

/* Where unit u of write o ends, in o's bytes. */
static uint64_t unit_end(const pl_op *o, size_t u) {
  uint64_t end = (o->off / BLOCK + u + 1) * BLOCK - o->off;
  return end < o->len ? end : o->len;
}

static void build_ext4(const pl_log *l, const inode *in, pl_rng *r, buf *b) {
  size_t i, total = 0, forced_units = 0, want, done = 0, u;
  for (i = 0; i < in->n; i++) {
    size_t k = units_of(&l->ops[in->ops[i]]);
    if (i < in->synced || i < in->forced)
      forced_units += k;
    total += k;
  }
  want = forced_units + (size_t)pl_below(r, total - forced_units + 1);
  for (i = 0; i < in->n && done < want; i++) {
    const pl_op *o = &l->ops[in->ops[i]];
    size_t k = units_of(o);
    if (done + k <= want) {
      apply(l, o, b, 0, o->len);
      done += k;
      continue;
    }
    u = want - done; /* the first u blocks of it */
    apply(l, o, b, 0, unit_end(o, u - 1));
    done = want;
  }
}

static void build_strict(const pl_log *l, const inode *in, pl_rng *r, buf *b) {
  buf old = {0}, now = {0};
  size_t i, size, blocks, bl;
  for (i = 0; i < in->n; i++) {
    const pl_op *o = &l->ops[in->ops[i]];
    if (i < in->synced)
      apply(l, o, &old, 0, o->len);
    apply(l, o, &now, 0, o->len);
  }
  if (in->synced == in->n) {
    *b = now;
    free(old.p);
    return;
  }
  size = pl_below(r, 2) ? now.len : old.len;
  blocks = ((now.len > old.len ? now.len : old.len) + BLOCK - 1) / BLOCK;
  buf_size(b, blocks * BLOCK);
  for (bl = 0; bl < blocks; bl++) {
    char o[BLOCK], n[BLOCK];
    size_t at = bl * BLOCK, cut;
    memset(o, 0, BLOCK);
    memset(n, 0, BLOCK);
    if (at < old.len)
      memcpy(o, old.p + at, old.len - at < BLOCK ? old.len - at : BLOCK);
    if (at < now.len)
      memcpy(n, now.p + at, now.len - at < BLOCK ? now.len - at : BLOCK);
    if (!memcmp(o, n, BLOCK)) {
      memcpy(b->p + at, n, BLOCK);
      continue;
    }
    switch (pl_below(r, 3)) {
    case 0:
      memcpy(b->p + at, n, BLOCK);
      break;
    case 1: /* never written: past the old size, zeros */
      memcpy(b->p + at, o, BLOCK);
      break;
    default:
      cut = 512 * (size_t)(1 + pl_below(r, BLOCK / 512 - 1));
      memcpy(b->p + at, n, cut);
      memcpy(b->p + at + cut, o + cut, BLOCK - cut);
    }
  }
  b->len = size;
  free(old.p);
  free(now.p);
}

int pl_simdisk_build(const pl_log *l, size_t k, int model, pl_rng *r,
                     const char *dir) {
  inode *in = calloc((size_t)l->inodes + 1, sizeof *in);
  size_t *nsops = malloc((k + 1) * sizeof *nsops), nns = 0, durable = 0, i,
         keep;
  ns s = {0};
  int rc = 0, j;
  char path[4096];
  if (!in || !nsops)
    abort();
  for (i = 0; i < k; i++) {
    const pl_op *o = &l->ops[i];
    inode *x = o->ino > 0 && o->ino <= l->inodes ? &in[o->ino] : NULL;
    if (is_ns(o->type)) {
      nsops[nns++] = i;
    } else if (o->type == PL_DIRSYNC) {
      durable = nns;
    } else if (o->type == PL_FSYNC && x) {
      x->synced = x->n;
    } else if ((o->type == PL_WRITE || o->type == PL_TRUNC) && x) {
      if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 16;
        if (!(x->ops = realloc(x->ops, x->cap * sizeof *x->ops)))
          abort();
      }
      x->ops[x->n++] = i;
    }
  }
  /* the directory: a prefix (ext4) or a subset (strict) of what was not
   * made durable happened */
  keep = durable + (size_t)pl_below(r, nns - durable + 1);
  for (i = 0; i < nns; i++) {
    const pl_op *o = &l->ops[nsops[i]];
    int replaced, src = ns_find(&s, o->name);
    int ino = src >= 0 ? s.e[src].ino : 0;
    if (i >= durable &&
        (model == PL_EXT4_ORDERED ? i >= keep : pl_below(r, 2) == 0))
      continue;
    if (ns_apply(&s, o, &replaced) && replaced && model == PL_EXT4_ORDERED &&
        o->type == PL_RENAME) {
      size_t m = 0; /* its writes before the rename come with it */
      while (m < in[ino].n && in[ino].ops[m] < nsops[i])
        m++;
      if (m > in[ino].forced)
        in[ino].forced = m;
    }
  }
  if (model == PL_EXT4_ORDERED && keep > 0) {
    /* a truncate is journaled with the directory's changes, in order:
     * those before the last one kept happened too */
    size_t last = nsops[keep - 1];
    int x;
    for (x = 1; x <= l->inodes; x++) {
      size_t m;
      for (m = in[x].n; m > 0; m--)
        if (l->ops[in[x].ops[m - 1]].type == PL_TRUNC &&
            in[x].ops[m - 1] < last)
          break;
      if (m > in[x].forced)
        in[x].forced = m;
    }
  }
  if (mkdir(dir, 0755) && errno != EEXIST)
    rc = -1;
  pl_rmdir_files(dir);
  for (j = 0; !rc && j < s.n; j++) {
    buf b = {0};
    int fd;
    if (model == PL_EXT4_ORDERED)
      build_ext4(l, &in[s.e[j].ino], r, &b);
    else
      build_strict(l, &in[s.e[j].ino], r, &b);
    snprintf(path, sizeof path, "%s/%s", dir, s.e[j].name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || (b.len && write(fd, b.p, b.len) != (ssize_t)b.len))
      rc = -1;
    if (fd >= 0)
      close(fd);
    free(b.p);
  }
  for (j = 0; j <= l->inodes; j++)
    free(in[j].ops);
  free(in);
  free(nsops);
  return rc;
}
