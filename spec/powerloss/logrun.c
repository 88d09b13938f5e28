/*
 * logrun.c -- the power-loss simulator's run of the native log writer:
 * the workload recorded through kvrecord.c (sets, deletes, msets, enough
 * to compact several times in this build), then each sampled disk state
 * handed to a fresh writer, whose load is checked (check.c), and a second
 * start must give the same again (the first start's repairs made nothing
 * worse).
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "powerloss.h"

static void quiet(void *ud, int level, const char *text) {
  (void)ud;
  (void)level;
  (void)text;
}

/* Anything a start kept aside as damaged: a power loss is no damage. */
static int kept_aside(const char *dir, char *why, size_t n) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int found = 0;
  while (d && (e = readdir(d)) && !found)
    if (strstr(e->d_name, ".corrupt-")) {
      snprintf(why, n, "the start kept %s aside as damaged", e->d_name);
      found = 1;
    }
  if (d)
    closedir(d);
  return found;
}

static int start_once(const char *dir, int policy, pl_content *c, char *why,
                      size_t n) {
  tr_host_config hc;
  tr_kv_config cfg;
  tr_host *h;
  tr_pid pid;
  int rc;
  memset(&hc, 0, sizeof hc);
  memset(&cfg, 0, sizeof cfg);
  hc.log = quiet;
  cfg.dir = dir;
  cfg.fsync = policy;
  if (!(h = tr_host_new(&hc)))
    return snprintf(why, n, "no host"), -1;
  rc = tr_kv_log_writer_start(h, &cfg, &pid);
  if (rc != TR_OK)
    snprintf(why, n, "the writer did not start: %s", tr_strerror(rc));
  else
    rc = pl_load_all(h, pid, c, why, n);
  tr_host_free(h);
  return rc ? -1 : 0;
}

/* One start: it must load, and keep nothing aside as damaged. */
static int start(void *ud, const char *dir, int policy, pl_content *c,
                 char *why, size_t n) {
  (void)ud;
  return start_once(dir, policy, c, why, n) || kept_aside(dir, why, n) ? -1 : 0;
}

int pl_log_run(const pl_opts *o, pl_result *res) {
  pl_log l = {0};
  pl_workload w;
  tr_host_config hc;
  tr_kv_config cfg;
  tr_host *h;
  tr_pid pid;
  char dir[4096], why[300];
  double t0 = pl_now_s();
  int rc;
  snprintf(dir, sizeof dir, "%s/record", o->tmp);
  mkdir(dir, 0755);
  pl_rmdir_files(dir);
  pl_workload_make(&w, o->changes, o->seed, 40, 1);
  memset(&hc, 0, sizeof hc);
  memset(&cfg, 0, sizeof cfg);
  hc.log = quiet;
  cfg.dir = dir;
  cfg.fsync = o->policy;
  cfg.io = pl_record_start(&l);
  h = tr_host_new(&hc);
  rc = tr_kv_log_writer_start(h, &cfg, &pid);
  if (rc == TR_OK)
    rc = pl_load_all(h, pid, NULL, why, sizeof why);
  else
    snprintf(why, sizeof why, "%s", tr_strerror(rc));
  if (rc == TR_OK && pl_drive(h, pid, &w, o->policy))
    rc = -1, snprintf(why, sizeof why, "the workload failed");
  pl_record_stop();
  tr_host_free(h);
  res->record_s += pl_now_s() - t0;
  if (rc) {
    fprintf(stderr, "powerloss: recording the log writer: %s\n", why);
    pl_log_free(&l);
    pl_workload_free(&w);
    return -1;
  }
  pl_explore(o, &l, &w, start, NULL, res);
  pl_log_free(&l);
  pl_workload_free(&w);
  return 0;
}
