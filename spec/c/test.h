/*
 * test.h -- the C tests' harness: checks that count failures, a runner that
 * names each test, and a way to step a host until something has happened
 * (with a deadline, never a sleep that hopes).
 *
 * Each spec/c/test_<feature>.c is one executable run by ctest:
 *
 *   static void test_something(void) { CHECK(1 + 1 == 2); }
 *   int main(void) { RUN(test_something); return test_report(); }
 */
#ifndef TR_TEST_H
#define TR_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "troupe.h"

/* Atomic: tests that start threads CHECK on them too. */
static _Atomic int test_failures;
static _Atomic int test_checks;

#define CHECK(cond)                                                            \
  do {                                                                         \
    test_checks++;                                                             \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      test_failures++;                                                         \
    }                                                                          \
  } while (0)

#define CHECK_EQ(a, b)                                                         \
  do {                                                                         \
    long long a_ = (long long)(a), b_ = (long long)(b);                        \
    test_checks++;                                                             \
    if (a_ != b_) {                                                            \
      fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld != %lld)\n",     \
              __FILE__, __LINE__, #a, #b, a_, b_);                             \
      test_failures++;                                                         \
    }                                                                          \
  } while (0)

#define CHECK_STR(a, b)                                                        \
  do {                                                                         \
    const char *a_ = (a), *b_ = (b);                                           \
    test_checks++;                                                             \
    if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                   \
      fprintf(stderr, "%s:%d: CHECK_STR failed: %s == \"%s\" (got \"%s\")\n",  \
              __FILE__, __LINE__, #a, b_ ? b_ : "(null)", a_ ? a_ : "(null)"); \
      test_failures++;                                                         \
    }                                                                          \
  } while (0)

#define RUN(fn)                                                                \
  do {                                                                         \
    int before_ = test_failures;                                               \
    fn();                                                                      \
    printf("%s %s\n", test_failures == before_ ? "ok  " : "FAIL", #fn);        \
  } while (0)

static inline int test_report(void) {
  printf("%d checks, %d failed\n", test_checks, test_failures);
  return test_failures ? 1 : 0;
}

/* Copies len bytes of s to dst (n bytes), cut to fit, NUL-terminated: for
 * keeping a string argument, which is not NUL-terminated, past the
 * callback. */
static inline void test_copy_str(char *dst, size_t n, const char *s,
                                 size_t len) {
  if (len >= n)
    len = n - 1;
  memcpy(dst, s, len);
  dst[len] = '\0';
}

/* tr_spawn with ctx (tr_spawn_opts.ctx) set in a copy of opts, which may
 * be NULL for the defaults. */
static inline int test_spawn_ctx(tr_host *h, const tr_behaviour *b, void *ctx,
                                 const tr_spawn_opts *opts, tr_pid *out) {
  tr_spawn_opts o = {0};
  if (opts)
    o = *opts;
  o.ctx = ctx;
  return tr_spawn(h, b, NULL, &o, out);
}

/* An init for test actors whose state is one pointer to the test's own
 * record, given as the actor's ctx (test_spawn_ctx). */
static inline int test_ptr_init(tr_actor *self, void *state, tr_msg *args) {
  (void)args;
  *(void **)state = tr_actor_ctx(self);
  return 0;
}

/* Steps h until cond (any expression) holds or ms milliseconds pass; the
 * general form of test_wait. */
#define STEP_UNTIL(h, cond, ms)                                                \
  do {                                                                         \
    uint64_t end_ = uv_hrtime() + (uint64_t)(ms)*1000000u;                     \
    while (!(cond) && uv_hrtime() < end_)                                      \
      if (tr_host_step(h) < 0)                                                 \
        break;                                                                 \
  } while (0)

/* A trace of events in order, a letter each: who handled what, when. */
static char test_trace[4096];
static int test_trace_len;

static inline void test_trace_reset(void) {
  test_trace_len = 0;
  test_trace[0] = '\0';
}

static inline void test_trace_add(char c) {
  if (test_trace_len < (int)sizeof test_trace - 1) {
    test_trace[test_trace_len++] = c;
    test_trace[test_trace_len] = '\0';
  }
}

/* Steps h until *flag is non-zero or ms milliseconds pass; returns *flag.
 * Steps never block, so this spins: fine for tests, which are short. */
static inline int test_wait(tr_host *h, const volatile int *flag, unsigned ms) {
  uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000u;
  while (!*flag && uv_hrtime() < end)
    if (tr_host_step(h) < 0)
      break;
  return *flag;
}

#endif
