/*
 * test_kvmap.c -- the store's hash map (services/store/kvmap.c): set, get,
 * delete, binary keys and values, growth, deletion that shifts entries
 * back, iteration by cursor, and a randomised run against a plain array.
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

int main(void) {
  RUN(test_set_get_delete);
  RUN(test_binary);
  RUN(test_growth_and_iteration);
  RUN(test_against_model);
  return test_report();
}
