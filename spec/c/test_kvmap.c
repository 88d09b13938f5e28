/*
 * test_kvmap.c -- the store's hash map (services/store/kvmap.c): set, get,
 * delete, binary keys and values, growth, deletion that shifts entries
 * back, iteration by cursor, and a randomised run against a plain array;
 * expiry (the heap and its bounded sweep), and the scan cursor under
 * growth and deletion.
 */
#include <stdint.h>
#include <stdlib.h>

#include "store/kvmap.h"
#include "test.h"

static int has(tr__kvmap *m, const char *key, const char *want) {
  const char *v;
  size_t n;
  if (!tr__kvmap_get(m, key, strlen(key), &v, &n))
    return want == NULL;
  return want && n == strlen(want) && memcmp(v, want, n) == 0;
}

static void test_set_get_delete(void) {
  tr__kvmap *m = tr__kvmap_new();
  CHECK(m != NULL);
  CHECK_EQ(tr__kvmap_count(m), 0);
  CHECK(has(m, "a", NULL));
  CHECK_EQ(tr__kvmap_set(m, "a", 1, "one", 3), 0);
  CHECK_EQ(tr__kvmap_set(m, "b", 1, "two", 3), 0);
  CHECK(has(m, "a", "one"));
  CHECK(has(m, "b", "two"));
  CHECK_EQ(tr__kvmap_count(m), 2);
  CHECK_EQ(tr__kvmap_bytes(m), 8);
  /* replace: same size, then other sizes */
  CHECK_EQ(tr__kvmap_set(m, "a", 1, "uno", 3), 0);
  CHECK(has(m, "a", "uno"));
  CHECK_EQ(tr__kvmap_set(m, "a", 1, "a longer value", 14), 0);
  CHECK(has(m, "a", "a longer value"));
  CHECK_EQ(tr__kvmap_set(m, "a", 1, "", 0), 0);
  CHECK(has(m, "a", ""));
  CHECK_EQ(tr__kvmap_count(m), 2);
  CHECK_EQ(tr__kvmap_bytes(m), 1 + 0 + 1 + 3);
  CHECK_EQ(tr__kvmap_delete(m, "a", 1), 1);
  CHECK_EQ(tr__kvmap_delete(m, "a", 1), 0);
  CHECK(has(m, "a", NULL));
  CHECK(has(m, "b", "two"));
  CHECK_EQ(tr__kvmap_count(m), 1);
  CHECK_EQ(tr__kvmap_bytes(m), 4);
  tr__kvmap_free(m);
  tr__kvmap_free(NULL);
}

static void test_binary(void) {
  tr__kvmap *m = tr__kvmap_new();
  const char k1[] = {'a', 0, 'b'}, k2[] = {'a', 0, 'c'}, k3[] = {'a'};
  const char bad[] = {(char)0xff, (char)0xfe, 0, (char)0xc3};
  const char *v;
  size_t n;
  CHECK_EQ(tr__kvmap_set(m, k1, 3, bad, 4), 0);
  CHECK_EQ(tr__kvmap_set(m, k2, 3, "x", 1), 0);
  CHECK_EQ(tr__kvmap_set(m, k3, 1, "y", 1), 0);
  CHECK_EQ(tr__kvmap_count(m), 3);
  CHECK(tr__kvmap_get(m, k1, 3, &v, &n) && n == 4 && !memcmp(v, bad, 4));
  CHECK(tr__kvmap_get(m, k2, 3, &v, &n) && n == 1 && v[0] == 'x');
  CHECK(tr__kvmap_get(m, k3, 1, &v, &n) && n == 1 && v[0] == 'y');
  CHECK(!tr__kvmap_get(m, k1, 2, NULL, NULL)); /* "a\0" is another key */
  /* the empty key is a key like any other here (the store refuses it) */
  CHECK_EQ(tr__kvmap_set(m, "", 0, "empty", 5), 0);
  CHECK(tr__kvmap_get(m, "", 0, &v, &n) && n == 5);
  tr__kvmap_free(m);
}

static void key_of(char *buf, size_t n, unsigned i) {
  snprintf(buf, n, "key-%u", i);
}

static void test_growth_and_iteration(void) {
  enum { N = 20000 };
  tr__kvmap *m = tr__kvmap_new();
  unsigned char *seen = calloc(N, 1);
  char key[32];
  size_t cursor = 0, klen, vlen, visits = 0;
  const char *k, *v;
  unsigned i;
  int ok = 1;
  for (i = 0; i < N; i++) {
    key_of(key, sizeof key, i);
    ok &= tr__kvmap_set(m, key, strlen(key), (const char *)&i, sizeof i) == 0;
  }
  CHECK(ok);
  CHECK_EQ(tr__kvmap_count(m), N);
  for (i = 0; i < N; i++) {
    unsigned got;
    key_of(key, sizeof key, i);
    ok &= tr__kvmap_get(m, key, strlen(key), &v, &vlen) && vlen == sizeof got;
    memcpy(&got, v, sizeof got);
    ok &= got == i;
  }
  CHECK(ok);
  /* delete every third key: the runs shift back, the rest stay found */
  for (i = 0; i < N; i += 3) {
    key_of(key, sizeof key, i);
    ok &= tr__kvmap_delete(m, key, strlen(key)) == 1;
  }
  CHECK(ok);
  for (i = 0; i < N; i++) {
    key_of(key, sizeof key, i);
    ok &= tr__kvmap_get(m, key, strlen(key), NULL, NULL) == (i % 3 != 0);
  }
  CHECK(ok);
  CHECK_EQ(tr__kvmap_count(m), N - (N + 2) / 3);
  /* a walk in pauses (cursor kept between calls) sees each entry once */
  while (tr__kvmap_next(m, &cursor, &k, &klen, &v, &vlen)) {
    unsigned idx;
    memcpy(&idx, v, sizeof idx);
    ok &= idx < N && !seen[idx] && idx % 3 != 0 && vlen == sizeof idx;
    key_of(key, sizeof key, idx);
    ok &= klen == strlen(key) && !memcmp(k, key, klen);
    if (idx < N)
      seen[idx] = 1;
    visits++;
  }
  CHECK(ok);
  CHECK_EQ(visits, tr__kvmap_count(m));
  CHECK_EQ(tr__kvmap_next(m, &cursor, NULL, NULL, NULL, NULL), 0);
  free(seen);
  tr__kvmap_free(m);
}

/* Random sets and deletes over a small key space, checked against an
 * array after every step: exercises probe runs that wrap and shift. */
static void test_against_model(void) {
  enum { KEYS = 300, STEPS = 60000 };
  tr__kvmap *m = tr__kvmap_new();
  int present[KEYS];
  unsigned value[KEYS];
  uint64_t bytes = 0;
  uint32_t rnd = 12345;
  unsigned step, i;
  int ok = 1;
  char key[32];
  memset(present, 0, sizeof present);
  for (step = 0; step < STEPS && ok; step++) {
    unsigned k;
    rnd = rnd * 1103515245u + 12345u;
    k = (rnd >> 8) % KEYS;
    key_of(key, sizeof key, k);
    if ((rnd >> 20) % 3 == 0) {
      ok &= tr__kvmap_delete(m, key, strlen(key)) == present[k];
      if (present[k])
        bytes -= strlen(key) + sizeof(unsigned);
      present[k] = 0;
    } else {
      ok &= tr__kvmap_set(m, key, strlen(key), (const char *)&step,
                          sizeof step) == 0;
      if (!present[k])
        bytes += strlen(key) + sizeof(unsigned);
      present[k] = 1;
      value[k] = step;
    }
    if (step % 97 == 0) {
      size_t n = 0;
      for (i = 0; i < KEYS; i++) {
        const char *v;
        size_t vlen;
        key_of(key, sizeof key, i);
        if (tr__kvmap_get(m, key, strlen(key), &v, &vlen) != present[i]) {
          ok = 0;
        } else if (present[i]) {
          unsigned got;
          memcpy(&got, v, sizeof got);
          ok &= got == value[i];
          n++;
        }
      }
      ok &= n == tr__kvmap_count(m) && bytes == tr__kvmap_bytes(m);
    }
  }
  CHECK(ok);
  tr__kvmap_free(m);
}

/* Expiry: set, change, clear; removal earliest first, max at a time. */
static void test_expiry(void) {
  enum { N = 1000 };
  tr__kvmap *m = tr__kvmap_new();
  char key[32];
  int64_t at = -1;
  unsigned i;
  int ok = 1;
  CHECK_EQ(tr__kvmap_set_expiry(m, "nope", 4, 5), 0);
  CHECK_EQ(tr__kvmap_next_expiry(m), 0);
  CHECK_EQ(tr__kvmap_expire(m, 1000000, 10), 0);
  for (i = 0; i < N; i++) {
    key_of(key, sizeof key, i);
    ok &= tr__kvmap_set(m, key, strlen(key), "v", 1) == 0;
    /* times in a scrambled order: 1..N, every other key */
    if (i % 2 == 0)
      ok &= tr__kvmap_set_expiry(m, key, strlen(key),
                                 (int64_t)((i * 7919u) % N) + 1) == 1;
  }
  CHECK(ok);
  CHECK_EQ(tr__kvmap_expiring(m), N / 2);
  CHECK(tr__kvmap_get_at(m, "key-0", 5, NULL, NULL, &at) && at == 1);
  CHECK(tr__kvmap_get_at(m, "key-1", 5, NULL, NULL, &at) && at == 0);
  /* a set keeps the expiry, even when the value grows (the entry moves) */
  CHECK_EQ(tr__kvmap_set(m, "key-0", 5, "a much longer value", 19), 0);
  CHECK(tr__kvmap_get_at(m, "key-0", 5, NULL, NULL, &at) && at == 1);
  /* change one, clear one */
  CHECK_EQ(tr__kvmap_set_expiry(m, "key-0", 5, 100000), 1);
  key_of(key, sizeof key, 2);
  CHECK_EQ(tr__kvmap_set_expiry(m, key, strlen(key), 0), 1);
  CHECK_EQ(tr__kvmap_expiring(m), N / 2 - 1);
  /* bounded: 10 at most per call, the earliest first */
  CHECK_EQ(tr__kvmap_expire(m, N, 10), 10);
  CHECK_EQ(tr__kvmap_count(m), N - 10);
  while (tr__kvmap_expire(m, N, 10) > 0)
    ;
  CHECK_EQ(tr__kvmap_expiring(m), 1);
  CHECK_EQ(tr__kvmap_next_expiry(m), 100000);
  CHECK_EQ(tr__kvmap_count(m), N / 2 + 2); /* odd keys, key-0, key-2 */
  CHECK(tr__kvmap_get(m, key, strlen(key), NULL, NULL));
  CHECK(tr__kvmap_get(m, "key-0", 5, NULL, NULL));
  for (i = 4; i < N; i += 2) {
    key_of(key, sizeof key, i);
    ok &= !tr__kvmap_get(m, key, strlen(key), NULL, NULL);
  }
  CHECK(ok);
  /* deleting an expiring key takes it out of the heap too */
  CHECK_EQ(tr__kvmap_delete(m, "key-0", 5), 1);
  CHECK_EQ(tr__kvmap_expiring(m), 0);
  CHECK_EQ(tr__kvmap_expire(m, INT64_MAX, 10), 0);
  tr__kvmap_clear(m);
  CHECK_EQ(tr__kvmap_count(m), 0);
  CHECK_EQ(tr__kvmap_bytes(m), 0);
  tr__kvmap_free(m);
}

/* The heap against a model: random expiries, changes, deletes, sweeps. */
static void test_expiry_model(void) {
  enum { KEYS = 200, STEPS = 40000 };
  tr__kvmap *m = tr__kvmap_new();
  int64_t at[KEYS]; /* -1: missing */
  uint32_t rnd = 777;
  unsigned step, i;
  int ok = 1;
  char key[32];
  for (i = 0; i < KEYS; i++)
    at[i] = -1;
  for (step = 0; step < STEPS && ok; step++) {
    unsigned k, op;
    int64_t now = step, t;
    rnd = rnd * 1103515245u + 12345u;
    k = (rnd >> 8) % KEYS;
    op = (rnd >> 20) % 4;
    key_of(key, sizeof key, k);
    if (op == 0) {
      ok &= tr__kvmap_delete(m, key, strlen(key)) == (at[k] >= 0);
      at[k] = -1;
    } else if (op == 1) {
      ok &= tr__kvmap_set(m, key, strlen(key), "v", 1) == 0;
      if (at[k] < 0)
        at[k] = 0;
    } else {
      t = (rnd >> 4) % 3 == 0 ? 0 : now + (int64_t)((rnd >> 12) % 300);
      ok &= tr__kvmap_set_expiry(m, key, strlen(key), t) == (at[k] >= 0);
      if (at[k] >= 0)
        at[k] = t;
    }
    if (step % 50 == 0) {
      size_t n = 0;
      tr__kvmap_expire(m, now, SIZE_MAX);
      for (i = 0; i < KEYS; i++) {
        if (at[i] > 0 && at[i] <= now)
          at[i] = -1;
        key_of(key, sizeof key, i);
        ok &= tr__kvmap_get_at(m, key, strlen(key), NULL, NULL, &t) ==
              (at[i] >= 0);
        if (at[i] >= 0) {
          ok &= t == at[i];
          n++;
        }
      }
      ok &= n == tr__kvmap_count(m);
    }
  }
  CHECK(ok);
  tr__kvmap_free(m);
}

/* Scans in small steps while keys come and go between the steps (the
 * table grows, shift-back deletion moves entries, the order array is
 * compacted): a key there throughout is met exactly once, any other key
 * at most once. */
static void test_scan_under_change(void) {
  enum { START = 2000, ADDS = 20000 };
  tr__kvmap *m = tr__kvmap_new();
  unsigned *seen = calloc(START + ADDS, sizeof *seen);
  char *ever_gone = calloc(START + ADDS, 1);
  unsigned *lives = calloc(START + ADDS, sizeof *lives); /* times added */
  uint64_t cursor = 0;
  unsigned next = START, i, calls = 0;
  uint32_t rnd = 99;
  int ok = 1;
  char key[32];
  for (i = 0; i < START; i++) {
    key_of(key, sizeof key, i);
    ok &= tr__kvmap_set(m, key, strlen(key), (const char *)&i, sizeof i) == 0;
    lives[i] = 1;
  }
  do {
    const char *v;
    unsigned idx, j;
    /* a step: a few keys */
    for (j = 0; j < 5; j++) {
      if (!tr__kvmap_scan(m, &cursor, 50, NULL, NULL, &v, NULL, NULL))
        break;
      memcpy(&idx, v, sizeof idx);
      seen[idx]++;
    }
    calls++;
    /* between steps: add 10 keys (growth) and delete 4 at random,
     * some deleted keys coming back (a new entry each time) */
    for (j = 0; j < 10 && next < START + ADDS; j++, next++) {
      key_of(key, sizeof key, next);
      ok &= tr__kvmap_set(m, key, strlen(key), (const char *)&next,
                          sizeof next) == 0;
      lives[next] = 1;
    }
    for (j = 0; j < 4; j++) {
      rnd = rnd * 1103515245u + 12345u;
      idx = (rnd >> 8) % next;
      key_of(key, sizeof key, idx);
      if (tr__kvmap_delete(m, key, strlen(key))) {
        ever_gone[idx] = 1;
        if ((rnd >> 24) % 4 == 0) { /* back again: a new entry */
          ok &= tr__kvmap_set(m, key, strlen(key), (const char *)&idx,
                              sizeof idx) == 0;
          lives[idx]++;
        }
      }
    }
  } while (cursor != 0 && calls < 1000000);
  CHECK(ok);
  CHECK(cursor == 0);
  for (i = 0; i < next; i++) {
    /* there throughout: once; else at most once per time it was added */
    int good = !ever_gone[i] && i < START ? seen[i] == 1 : seen[i] <= lives[i];
    if (!good && ok)
      fprintf(stderr, "key %u seen %u times\n", i, seen[i]);
    ok &= good;
  }
  CHECK(ok);
  free(seen);
  free(lives);
  free(ever_gone);
  tr__kvmap_free(m);
}

/* A scan over many holes stops after max_skip of them with a cursor to go
 * on from; clear leaves a scan nothing more to find. */
static void test_scan_holes(void) {
  tr__kvmap *m = tr__kvmap_new();
  uint64_t cursor = 0;
  const char *k;
  size_t klen;
  char key[32];
  unsigned i;
  int r;
  for (i = 0; i < 100; i++) {
    key_of(key, sizeof key, i);
    tr__kvmap_set(m, key, strlen(key), "", 0);
  }
  for (i = 0; i < 40; i++) { /* holes: under half, not compacted */
    key_of(key, sizeof key, i);
    tr__kvmap_delete(m, key, strlen(key));
  }
  r = tr__kvmap_scan(m, &cursor, 10, &k, &klen, NULL, NULL, NULL);
  CHECK_EQ(r, 0);
  CHECK(cursor != 0);
  while ((r = tr__kvmap_scan(m, &cursor, 10, &k, &klen, NULL, NULL, NULL)) ==
             0 &&
         cursor != 0)
    ;
  CHECK_EQ(r, 1);
  CHECK(klen == 6 && !memcmp(k, "key-40", 6));
  tr__kvmap_clear(m);
  CHECK_EQ(tr__kvmap_scan(m, &cursor, 10, &k, &klen, NULL, NULL, NULL), 0);
  CHECK(cursor == 0);
  tr__kvmap_set(m, "new", 3, "", 0);
  CHECK_EQ(tr__kvmap_scan(m, &cursor, 10, &k, &klen, NULL, NULL, NULL), 1);
  CHECK(klen == 3);
  tr__kvmap_free(m);
}

int main(void) {
  RUN(test_set_get_delete);
  RUN(test_binary);
  RUN(test_growth_and_iteration);
  RUN(test_against_model);
  RUN(test_expiry);
  RUN(test_expiry_model);
  RUN(test_scan_under_change);
  RUN(test_scan_holes);
  return test_report();
}
