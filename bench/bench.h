/*
 * bench.h -- what the C benchmarks share: their command line (scale,
 * names) and TROUPE_BENCH_RUNS, the table rows they print under the header
 * scripts/bench prints (| benchmark | result | unit | target |), and the
 * median of the runs with the min and max beside it. Each bench/<name>.c
 * is one program including it once.
 */
#ifndef TR_BENCH_H
#define TR_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe.h"

static const char *bench_name = "bench"; /* for its messages */
static double scale = 1.0;               /* multiplies every count */
static int runs = 5;                     /* runs per row */

static uint64_t count(double n) {
  double v = n * scale;
  return v < 1 ? 1 : (uint64_t)v;
}

_Noreturn static void die(const char *what, int rc) {
  fprintf(stderr, "%s: %s: %s\n", bench_name, what, tr_strerror(rc));
  exit(1);
}

static void row(const char *name, const char *result, const char *unit,
                const char *target) {
  printf("| %s | %s | %s | %s |\n", name, result, unit, target);
  fflush(stdout);
}

/* A rate (things per second) as "8.12 M". */
static void rate_text(char *buf, size_t size, double r) {
  if (r >= 1e6)
    snprintf(buf, size, "%.2f M", r / 1e6);
  else if (r >= 1e3)
    snprintf(buf, size, "%.1f k", r / 1e3);
  else
    snprintf(buf, size, "%.0f", r);
}

static int cmp_ns(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* n things done in each of ns[0..runs-1] nanoseconds, as the median rate
 * with the min and max: "8.12 M (7.90 M-8.20 M)". Sorts ns; returns the
 * median rate. */
static double rate_row(const char *name, uint64_t n, uint64_t *ns,
                       const char *unit, const char *target) {
  char med[32], lo[32], hi[32], buf[100];
  double m;
  qsort(ns, (size_t)runs, sizeof *ns, cmp_ns);
  m = ns[(runs - 1) / 2] ? (double)n * 1e9 / (double)ns[(runs - 1) / 2] : 0;
  rate_text(med, sizeof med, m);
  rate_text(lo, sizeof lo, (double)n * 1e9 / (double)ns[runs - 1]);
  rate_text(hi, sizeof hi, ns[0] ? (double)n * 1e9 / (double)ns[0] : 0);
  snprintf(buf, sizeof buf, "%s (%s-%s)", med, lo, hi);
  row(name, buf, unit, target);
  return m;
}

static uint64_t *new_times(void) {
  uint64_t *ns = calloc((size_t)runs, sizeof *ns);
  if (!ns)
    die("calloc", TR_ENOMEM);
  return ns;
}

/* The names after the scale pick what runs; none: all. */
static int wanted(int argc, char **argv, const char *name) {
  if (argc <= 2)
    return 1;
  for (int i = 2; i < argc; i++)
    if (!strcmp(argv[i], name))
      return 1;
  return 0;
}

/* Reads TROUPE_BENCH_RUNS and the scale; exits 2 on bad ones, saying
 * names (the benchmarks one may pick) in the usage. */
static void bench_args(int argc, char **argv, const char *name,
                       const char *names) {
  const char *env = getenv("TROUPE_BENCH_RUNS");
  bench_name = name;
  if (env && *env) {
    char *end;
    long v = strtol(env, &end, 10);
    if (*end || v < 1 || v > 1000) {
      fprintf(stderr, "%s: TROUPE_BENCH_RUNS must be 1..1000\n", name);
      exit(2);
    }
    runs = (int)v;
  }
  if (argc > 1) {
    char *end;
    scale = strtod(argv[1], &end);
    if (*end || !(scale > 0)) {
      fprintf(stderr, "usage: %s [scale > 0] [%s ...]\n", argv[0], names);
      exit(2);
    }
  }
}

#endif
