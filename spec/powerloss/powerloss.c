/*
 * powerloss.c -- the power-loss simulator's command line (scripts/powerloss
 * runs it, ctest's powerloss/short too): for each writer and fsync policy
 * asked for, a recorded workload, crash points sampled from it, disk
 * states built under the models, each checked on a restarted writer; then
 * a table of what was tried and any violation, with the seed to replay it.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "powerloss.h"

static void usage(FILE *f) {
  fputs("usage: powerloss [--states N] [--seed S] [--writer log|json|both]\n"
        "                 [--policy always|everysec|no|all]\n"
        "                 [--model ext4-ordered|strict|both] [--point K]\n"
        "                 [--changes N] [--tmp DIR] [--verbose]\n"
        "Records a workload through each writer, builds the disk states a "
        "power cut\n"
        "at sampled crash points could leave, restarts the writer on each and "
        "checks\n"
        "what it loads against what its fsync policy promised. --states is "
        "the total,\n"
        "shared by the writers and policies (default 3000). --point K replays "
        "crash\n"
        "point K of one writer and policy, --states states there, saying each\n"
        "violation. Exit status 1 when a violation was found.\n",
        f);
}

int main(int argc, char **argv) {
  static const char *const pnames[] = {"everysec", "always", "no"};
  pl_opts o;
  long total = 3000;
  int writers[2] = {1, 1}, policies[3] = {1, 1, 1}, i, wr, p, bad = 0;
  int combos = 0, failed = 0;
  char tmp[4096];
  const char *src = getenv("TROUPE_SOURCE_DIR");
  long sum_states = 0, sum_viol = 0;
  double t0 = pl_now_s();
  memset(&o, 0, sizeof o);
  o.model = -1;
  o.point = -1;
  o.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
  o.changes = 0;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--verbose")) {
      o.verbose = 1;
    } else if (!v) {
      usage(stderr);
      return 2;
    } else if (!strcmp(a, "--states")) {
      total = atol(v), i++;
    } else if (!strcmp(a, "--seed")) {
      o.seed = strtoull(v, NULL, 0), i++;
    } else if (!strcmp(a, "--point")) {
      o.point = atol(v), i++;
    } else if (!strcmp(a, "--changes")) {
      o.changes = atoi(v), i++;
    } else if (!strcmp(a, "--tmp")) {
      o.tmp = v, i++;
    } else if (!strcmp(a, "--writer")) {
      writers[0] = strcmp(v, "json") != 0;
      writers[1] = strcmp(v, "log") != 0;
      i++;
    } else if (!strcmp(a, "--policy")) {
      for (p = 0; p < 3; p++)
        policies[p] = !strcmp(v, "all") || !strcmp(v, pnames[p]);
      i++;
    } else if (!strcmp(a, "--model")) {
      o.model = !strcmp(v, "strict")         ? PL_STRICT
                : !strcmp(v, "ext4-ordered") ? PL_EXT4_ORDERED
                                             : -1;
      i++;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (!o.tmp) {
    /* in memory when there is room: the writers' repairs fsync, and a
     * disk's fsync costs more than the rest of a state's check */
    const char *base = getenv("TMPDIR");
    if (!base)
      base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(tmp, sizeof tmp, "%s/powerloss-XXXXXX", base);
    if (!mkdtemp(tmp)) {
      perror("powerloss: mkdtemp");
      return 2;
    }
    o.tmp = tmp;
  } else {
    mkdir(o.tmp, 0755);
  }
  snprintf(tmp + 2048, 2048, "%s/lua", src ? src : TROUPE_SOURCE_DIR);
  o.lua_dir = tmp + 2048;
  for (wr = 0; wr < 2; wr++)
    for (p = 0; p < 3; p++)
      combos += writers[wr] && policies[p];
  printf("powerloss: seed %llu, %ld states over %d writer x policy runs\n",
         (unsigned long long)o.seed, total, combos);
  printf("%-6s %-9s %7s %7s %9s %8s %8s %10s %7s\n", "writer", "policy",
         "states", "points", "compact", "ext4-ord", "strict", "violations",
         "secs");
  for (wr = 0; wr < 2; wr++)
    for (p = 0; p < 3; p++) {
      pl_result res;
      double t1 = pl_now_s();
      if (!writers[wr] || !policies[p])
        continue;
      memset(&res, 0, sizeof res);
      o.writer = wr;
      o.policy = p;
      o.states = o.point >= 0 ? total : total / combos;
      {
        pl_opts run = o;
        if (!run.changes)
          run.changes = wr == PL_LOG ? 700 : 160;
        if ((wr == PL_LOG ? pl_log_run(&run, &res) : pl_json_run(&run, &res))) {
          failed = 1;
          continue;
        }
      }
      printf("%-6s %-9s %7ld %7ld %9ld %8ld %8ld %10ld %7.1f\n",
             wr == PL_LOG ? "log" : "json", pnames[p], res.states, res.points,
             res.compact_points, res.by_model[0], res.by_model[1],
             res.violations, pl_now_s() - t1);
      if (res.violations)
        printf("       first: %s\n", res.first);
      sum_states += res.states;
      sum_viol += res.violations;
      bad |= res.violations > 0;
    }
  printf("powerloss: %ld states, %ld violations, %.1f s (seed %llu)\n",
         sum_states, sum_viol, pl_now_s() - t0, (unsigned long long)o.seed);
  if (o.tmp == tmp) {
    char p2[4200];
    snprintf(p2, sizeof p2, "%s/state", tmp);
    pl_rmdir_files(p2);
    rmdir(p2);
    snprintf(p2, sizeof p2, "%s/record", tmp);
    pl_rmdir_files(p2);
    rmdir(p2);
    rmdir(tmp);
  }
  return failed ? 2 : bad ? 1 : 0;
}
