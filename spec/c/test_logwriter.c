/*
 * test_logwriter.c -- the native writer ("kv.writer") and its files, run
 * with the native store under a one_for_all supervisor in a temporary
 * directory: the format and the lock (a second writer answers every
 * request with the holder's pid), torn and corrupt log tails, damage in
 * the middle of the log (skipped, described, repaired: the records after
 * it are kept), empty, missing and damaged files, unknown versions
 * (refused, left alone), leftover tmp files, compaction, fsync policies,
 * and write and fsync failures through the file seam (services/store/kvio.h).
 */
#include <time.h>

#include "kvtest.h"
#include "store/kvlog.h"

static void test_files_and_lock(void) {
  pair a, b;
  char dir[64], want[64], text[128];
  size_t n = 0;
  char *lock, *log;
  temp_dir(dir, sizeof dir);
  CHECK_EQ(pair_start(&a, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK(kv_set(&a, "a", "1"));
  lock = file_read(dir, "LOCK", &n);
  snprintf(want, sizeof want, "pid %ld\n", (long)getpid());
  CHECK_STR(lock, want);
  free(lock);
  log = file_read(dir, "kv.log", &n);
  CHECK(log && n == TR_KVLOG_HEADER + tr__kvlog_set_size(1, 1));
  CHECK(log && !memcmp(log, "TRKVLOG2", 8));
  free(log);
  CHECK_EQ(file_size(dir, "kv.snap"), -1);

  /* a second writer on the same directory starts, but every request to
   * its store is answered with the holder's pid, and the log says so
   * once: no restarts, no cascade */
  CHECK_EQ(pair_start(&b, dir, TR_FSYNC_EVERYSEC), TR_OK);
  snprintf(text, sizeof text, "data directory %s is in use (pid %ld)", dir,
           (long)getpid());
  CHECK(!kv_set(&b, "b", "2"));
  CHECK_STR(b.error, text);
  CHECK(kv_getn(&b, "a", 1, &n) == NULL);
  CHECK_STR(b.error, text);
  CHECK(!kv_del(&b, "a"));
  CHECK_STR(b.error, text);
  CHECK_EQ(kv_count(&b), -1);
  CHECK_STR(b.error, text);
  CHECK_EQ(count_lines(&b, "in use"), 1);
  CHECK(!logged(&b, "supervisor") && !logged(&b, "ended"));
  CHECK(kv_is(&a, "a", "1")); /* the first goes on */
  CHECK(kv_set(&a, "a", "one"));
  pair_stop(&a);
  /* the directory is free now; a restart of the pair takes it */
  CHECK(!kv_set(&b, "b", "2"));
  CHECK_STR(b.error, text);
  CHECK(pair_restart(&b));
  CHECK(kv_is(&b, "a", "one"));
  CHECK(kv_set(&b, "b", "2"));
  pair_stop(&b);
  /* released with the writer */
  CHECK_EQ(pair_start(&b, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK(kv_is(&b, "a", "one") && kv_is(&b, "b", "2"));
  pair_stop(&b);
  remove_tree(dir);
}

static void test_missing_and_empty_files(void) {
  pair p;
  char dir[64], sub[128], info[512];
  size_t n = 0;
  char *log;
  temp_dir(dir, sizeof dir);
  /* the directory itself is made (its parent must exist) */
  snprintf(sub, sizeof sub, "%s/data", dir);
  CHECK_EQ(pair_start(&p, sub, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK(kv_set(&p, "a", "1"));
  pair_stop(&p);
  CHECK(file_size(sub, "kv.log") > 0);
  remove_tree(sub);

  /* an empty log, and one with half a header (a crash as it was made) */
  CHECK(file_write(dir, "kv.log", "", 0));
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK_EQ(kv_count(&p), 0);
  kv_info(&p, info, sizeof info);
  CHECK(strstr(info, "the log was empty") != NULL);
  CHECK(kv_set(&p, "a", "1"));
  pair_stop(&p);
  log = file_read(dir, "kv.log", &n);
  CHECK(log && !memcmp(log, "TRKVLOG2", 8));
  free(log);
  CHECK(file_write(dir, "kv.log", "TRKV", 4));
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK_EQ(kv_count(&p), 0);
  CHECK(kv_set(&p, "b", "2"));
  pair_stop(&p);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK(kv_is(&p, "b", "2"));
  pair_stop(&p);
  remove_tree(dir);
}

/* Three sets, one record each; the sizes of the three records. */
static void write_three(const char *dir, long long rec[3]) {
  pair p;
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK(kv_set(&p, "a", "first"));
  CHECK(kv_set(&p, "b", "second"));
  CHECK(kv_set(&p, "c", "third value"));
  pair_stop(&p);
  rec[0] = (long long)tr__kvlog_set_size(1, 5);
  rec[1] = (long long)tr__kvlog_set_size(1, 6);
  rec[2] = (long long)tr__kvlog_set_size(1, 11);
  CHECK_EQ(file_size(dir, "kv.log"), 8 + rec[0] + rec[1] + rec[2]);
}

static void test_torn_tail(void) {
  pair p;
  char dir[64], info[512];
  long long rec[3], size;
  temp_dir(dir, sizeof dir);
  write_three(dir, rec);
  size = file_size(dir, "kv.log");
  CHECK(file_truncate(dir, "kv.log", size - 5)); /* c, cut mid-record */
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK_EQ(kv_count(&p), 2);
  CHECK(kv_is(&p, "a", "first"));
  CHECK(kv_is(&p, "b", "second"));
  CHECK(kv_is(&p, "c", NULL));
  kv_info(&p, info, sizeof info);
  CHECK(strstr(info, "loaded 2 keys") != NULL);
  CHECK(strstr(info, "dropped a torn tail of 24 bytes") != NULL);
  CHECK(logged(&p, "W: kv.writer: "));
  CHECK(logged(&p, "kv.log: dropped a torn tail of 24 bytes at offset"));
  /* cut back to the good prefix, and appended to from there */
  CHECK_EQ(file_size(dir, "kv.log"), size - rec[2]);
  CHECK(kv_set(&p, "d", "fourth"));
  pair_stop(&p);
  CHECK(!has_file_like(dir, "kv.log.corrupt"));
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK_EQ(kv_count(&p), 3);
  CHECK(kv_is(&p, "d", "fourth"));
  kv_info(&p, info, sizeof info);
  CHECK(strstr(info, "dropped") == NULL);
  pair_stop(&p);

  /* a flipped byte in the last record is a torn write too */
  CHECK(file_flip(dir, "kv.log", file_size(dir, "kv.log") - 2));
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK_EQ(kv_count(&p), 2);
  CHECK(kv_is(&p, "d", NULL));
  pair_stop(&p);
  CHECK(!has_file_like(dir, "kv.log.corrupt"));
  remove_tree(dir);
}

/* A power loss can leave a log's last blocks zeroed (the file grew, the
 * data never reached the disk) with later unsynced blocks written: a whole
 * zeroed sector in a bad stretch is a torn tail, cut off with what follows
 * it, not damage (kept aside, and the records after it applied without
 * the ones lost). Found by the power-loss simulator (spec/powerloss/). */
static void test_zeroed_blocks_are_a_torn_tail(void) {
  enum { KEYS = 150 };
  pair p;
  char dir[64], key[16], val[100], info[512];
  size_t n = 0;
  char *b;
  long long size;
  int k, ok = 1;
  temp_dir(dir, sizeof dir);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  memset(val, 'v', sizeof val - 1);
  val[sizeof val - 1] = '\0';
  for (k = 0; k < KEYS && ok; k++) {
    snprintf(key, sizeof key, "k%03d", k);
    ok = kv_set(&p, key, val);
  }
  CHECK(ok);
  pair_stop(&p);
  size = file_size(dir, "kv.log");
  CHECK(size > 3 * 4096);
  /* the second 4 KiB block never made it: zeros, the third one did */
  b = file_read(dir, "kv.log", &n);
  CHECK(b != NULL && (long long)n == size);
  memset(b + 4096, 0, 4096);
  CHECK(file_write(dir, "kv.log", b, n));
  free(b);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  /* the keys written whole before 4096 are there, none after */
  CHECK(kv_count(&p) > 10 && kv_count(&p) < 4096 / 100);
  CHECK(kv_is(&p, "k000", val));
  CHECK(kv_is(&p, "k149", NULL));
  kv_info(&p, info, sizeof info);
  CHECK(strstr(info, "dropped a torn tail") != NULL);
  pair_stop(&p);
  CHECK(!has_file_like(dir, "kv.log.corrupt"));
  CHECK(file_size(dir, "kv.log") <= 4096);
  remove_tree(dir);

  /* The last fsync ended 8 bytes before a sector's end: that sector never
   * made it (zeros from record 34's start), the next one did. Records are
   * 120 bytes after the 8-byte header: record 34 starts at 4088. */
  temp_dir(dir, sizeof dir);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  for (k = 0; k < KEYS && ok; k++) {
    snprintf(key, sizeof key, "k%03d", k);
    ok = kv_set(&p, key, val);
  }
  CHECK(ok);
  pair_stop(&p);
  CHECK_EQ(file_size(dir, "kv.log"), 8 + 120 * KEYS);
  b = file_read(dir, "kv.log", &n);
  CHECK(b != NULL);
  memset(b + 4088, 0, 8);
  CHECK(file_write(dir, "kv.log", b, n));
  free(b);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK_EQ(kv_count(&p), 34);
  CHECK(kv_is(&p, "k033", val));
  CHECK(kv_is(&p, "k034", NULL));
  CHECK(kv_is(&p, "k035", NULL));
  pair_stop(&p);
  CHECK(!has_file_like(dir, "kv.log.corrupt"));
  CHECK_EQ(file_size(dir, "kv.log"), 4088);
  remove_tree(dir);
}

/* Bad bytes at the end, with no good record after them: a corrupt tail,
 * kept aside and cut off. */
static void test_corrupt_tail(void) {
  pair p;
  char dir[64], info[512];
  long long rec[3], size;
  char junk[40];
  size_t n = 0;
  char *log;
  temp_dir(dir, sizeof dir);
  write_three(dir, rec);
  size = file_size(dir, "kv.log");
  memset(junk, 0xab, sizeof junk);
  log = file_read(dir, "kv.log", &n);
  CHECK(log && file_write(dir, "kv.log", log, n));
  {
    FILE *f;
    char path[128];
    path_in(path, sizeof path, dir, "kv.log");
    f = fopen(path, "ab");
    CHECK(f && fwrite(junk, 1, sizeof junk, f) == sizeof junk);
    if (f)
      fclose(f);
  }
  free(log);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK_EQ(kv_count(&p), 3);
  CHECK(kv_is(&p, "c", "third value"));
  kv_info(&p, info, sizeof info);
  CHECK(strstr(info, "dropped 40 corrupt bytes, kept in kv.log.corrupt-") !=
        NULL);
  CHECK(logged(&p, "E: kv.writer: "));
  CHECK(logged(&p, "corrupt data at offset 84"));
  CHECK_EQ(file_size(dir, "kv.log"), size);
  CHECK(has_file_like(dir, "kv.log.corrupt-"));
  CHECK(kv_set(&p, "e", "fifth"));
  pair_stop(&p);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK_EQ(kv_count(&p), 4);
  CHECK(kv_is(&p, "e", "fifth"));
  pair_stop(&p);
  remove_tree(dir);
}

/* The name of the first file in dir whose name starts with prefix. */
static int find_file(const char *dir, const char *prefix, char *buf, size_t n) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int found = 0;
  while (d && (e = readdir(d)))
    if (!found && !strncmp(e->d_name, prefix, strlen(prefix))) {
      size_t len = strlen(e->d_name);
      if (len >= n)
        len = n - 1;
      memcpy(buf, e->d_name, len);
      buf[len] = '\0';
      found = 1;
    }
  if (d)
    closedir(d);
  return found;
}

/* A bad record in the middle of the log (a flipped byte in b's value):
 * c, written after it and acknowledged, is not lost for it. The hole is
 * described (where, how long, which record), the log is repaired at once
 * (everything into a snapshot, the damaged log kept aside whole), and
 * later starts and compactions keep what was recovered. */
static void test_mid_log_corruption(void) {
  pair p;
  char dir[64], info[512], aside[256];
  long long rec[3];
  size_t n = 0, m = 0;
  char *before, *kept;
  temp_dir(dir, sizeof dir);
  write_three(dir, rec);
  CHECK(file_flip(dir, "kv.log", 8 + rec[0] + 20)); /* inside b's value */
  before = file_read(dir, "kv.log", &n);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK_EQ(kv_count(&p), 2);
  CHECK(kv_is(&p, "a", "first"));
  CHECK(kv_is(&p, "b", NULL));
  CHECK(kv_is(&p, "c", "third value")); /* after the bad record: kept */
  kv_info(&p, info, sizeof info);
  CHECK(strstr(info, "loaded 2 keys") != NULL);
  CHECK(strstr(info, "skipped 24 damaged bytes of kv.log: 24 bytes at offset "
                     "31 (a set of \"b\")") != NULL);
  CHECK(strstr(info, "the damaged log was moved to kv.log.corrupt-") != NULL);
  CHECK(logged(&p, "kv.log IS DAMAGED: skipped 1 bad stretch of 24 bytes in "
                   "all: 24 bytes at offset 31 (a set of \"b\"); the records "
                   "after it were loaded (2 good records); a repair follows"));
  CHECK(logged(&p, "W: kv.writer: repaired"));
  /* the damaged log is kept aside whole; a new log and a snapshot hold all */
  CHECK(find_file(dir, "kv.log.corrupt-", aside, sizeof aside));
  kept = file_read(dir, aside, &m);
  CHECK(before && kept && m == n && !memcmp(before, kept, n));
  free(before);
  free(kept);
  CHECK_EQ(file_size(dir, "kv.log"), TR_KVLOG_HEADER);
  CHECK(file_size(dir, "kv.snap") > 0);
  CHECK(kv_set(&p, "d", "fourth"));
  pair_stop(&p);

  /* nothing more to say at the next start, and nothing lost */
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_NO), TR_OK);
  CHECK_EQ(kv_count(&p), 3);
  CHECK(kv_is(&p, "c", "third value") && kv_is(&p, "d", "fourth"));
  kv_info(&p, info, sizeof info);
  CHECK(strstr(info, "(snapshot 2, log 1 records)") != NULL);
  CHECK(!logged(&p, "DAMAGED"));
  /* a compaction after the repair keeps the recovered records too */
  {
    enum { SIZE = 64 * 1024 };
    char *val = calloc(1, SIZE);
    int i, ok = 1;
    for (i = 0; i < 80 && ok; i++)
      ok = kv_setn(&p, "big", 3, val, SIZE);
    CHECK(ok);
    free(val);
  }
  CHECK(writer_stat(&p, "compactions") >= 1);
  pair_stop(&p);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_NO), TR_OK);
  CHECK_EQ(kv_count(&p), 4);
  CHECK(kv_is(&p, "a", "first") && kv_is(&p, "c", "third value"));
  pair_stop(&p);
  remove_tree(dir);
}

/* A garbled length in the middle: nothing says where the bad record ends,
 * so the next whole record is looked for byte by byte. */
static void test_mid_log_garbled_length(void) {
  pair p;
  char dir[64], info[512];
  long long rec[3];
  temp_dir(dir, sizeof dir);
  write_three(dir, rec);
  CHECK(file_flip(dir, "kv.log", 8 + rec[0] + 2)); /* b's length */
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK_EQ(kv_count(&p), 2);
  CHECK(kv_is(&p, "a", "first") && kv_is(&p, "b", NULL));
  CHECK(kv_is(&p, "c", "third value"));
  kv_info(&p, info, sizeof info);
  CHECK(strstr(info, "skipped 24 damaged bytes of kv.log: 24 bytes at offset "
                     "31;") != NULL);
  pair_stop(&p);
  remove_tree(dir);
}

/* Files of another format or version make the writer unavailable: every
 * request is answered with what is wrong, and they stay as they were. */
static void refused(const char *file, const char *content, size_t n,
                    const char *why) {
  pair p;
  char dir[64];
  size_t got = 0;
  char *after;
  temp_dir(dir, sizeof dir);
  CHECK(file_write(dir, file, content, n));
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK(!kv_set(&p, "a", "1"));
  CHECK(strstr(p.error, why) != NULL);
  CHECK(strstr(p.error, "(the file is left as it is)") != NULL);
  CHECK(kv_getn(&p, "a", 1, &got) == NULL);
  CHECK(strstr(p.error, why) != NULL);
  if (!logged(&p, why))
    fprintf(stderr, "log was:\n%s", p.log);
  CHECK_EQ(count_lines(&p, why), 1);
  pair_stop(&p);
  after = file_read(dir, file, &got);
  CHECK(after && got == n && !memcmp(after, content, n));
  free(after);
  remove_tree(dir);
}

static void test_unknown_format(void) {
  refused("kv.log", "TRKVLOG3\x01\x02\x03", 11,
          "kv.log has format version 3; this build reads versions 1 and 2");
  refused("kv.log", "{\"hello\":[119,111,114,108,100]}", 31,
          "kv.log is not a troupe data file (unknown header)");
  refused("kv.snap", "TRKVSNP7", 8,
          "kv.snap has format version 7; this build reads versions 1 and 2");
  refused("kv.log", "TRKVLOG\xff", 8,
          "kv.log has an unknown format version (byte 0xff)");
}

static void test_leftover_tmp_removed(void) {
  pair p;
  char dir[64];
  temp_dir(dir, sizeof dir);
  CHECK(file_write(dir, "kv.log.tmp", "TRKVLOG1garbage", 15));
  CHECK(file_write(dir, "kv.snap.tmp", "TRKVSNP1", 8));
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK_EQ(file_size(dir, "kv.log.tmp"), -1);
  CHECK_EQ(file_size(dir, "kv.snap.tmp"), -1);
  CHECK(logged(&p, "kv.log.tmp, left over from a crash"));
  CHECK(logged(&p, "kv.snap.tmp, left over from a crash"));
  CHECK(kv_set(&p, "a", "1"));
  pair_stop(&p);
  remove_tree(dir);
}

/* A snapshot that fails its checks: what it held up to the damage is
 * kept, the file is moved aside, and a whole snapshot is written. */
static void test_damaged_snapshot(void) {
  pair p;
  char dir[64], key[8], info[512], want[128];
  tr__kvbuf b = {0};
  int i, lost;
  temp_dir(dir, sizeof dir);
  CHECK(tr__kvbuf_reserve(&b, TR_KVLOG_HEADER) != NULL);
  memcpy(b.p, "TRKVSNP2", TR_KVLOG_HEADER);
  b.len = TR_KVLOG_HEADER;
  for (i = 0; i < 5; i++) {
    snprintf(key, sizeof key, "s%d", i);
    CHECK_EQ(tr__kvlog_put_set(&b, key, 2, "snap", 4), 0);
  }
  CHECK_EQ(tr__kvlog_put_end(&b, 5), 0);
  CHECK(file_write(dir, "kv.snap", b.p, b.len));
  tr__kvbuf_free(&b);
  /* a whole one loads */
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK_EQ(kv_count(&p), 5);
  CHECK(kv_set(&p, "logged", "1"));
  pair_stop(&p);
  /* damage the fourth record's value (records are 8 + 1 + 4 + 2 + 4 + 4
   * bytes; which key it holds depends on the map's order): the fifth,
   * after it, is kept, and the one lost is named */
  CHECK(file_flip(dir, "kv.snap", 8 + 3 * 23 + 20));
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK_EQ(kv_count(&p), 5); /* four from the snapshot, one from the log */
  CHECK(kv_is(&p, "logged", "1"));
  CHECK(logged(&p, "E: kv.writer: THE SNAPSHOT IS DAMAGED"));
  kv_info(&p, info, sizeof info);
  for (i = 0, lost = -1; i < 5; i++) {
    snprintf(key, sizeof key, "s%d", i);
    if (kv_is(&p, key, NULL))
      lost = lost == -1 ? i : -2;
  }
  CHECK(lost >= 0);
  snprintf(want, sizeof want,
           "the snapshot was damaged: kept 4 keys, skipped 23 bytes at "
           "offset 77 (a set of \"s%d\")",
           lost);
  CHECK(strstr(info, want) != NULL);
  CHECK(has_file_like(dir, "kv.snap.corrupt-"));
  pair_stop(&p);
  /* the new snapshot is whole: the next start has nothing to say */
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK_EQ(kv_count(&p), 5);
  CHECK(!logged(&p, "DAMAGED"));
  kv_info(&p, info, sizeof info);
  CHECK(strstr(info, "(snapshot 5, log 0 records)") != NULL);
  pair_stop(&p);
  /* an empty snapshot is damage too, not a reason to stop */
  CHECK(file_write(dir, "kv.snap", "", 0));
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK_EQ(kv_count(&p), 0);
  CHECK(logged(&p, "DAMAGED"));
  pair_stop(&p);
  remove_tree(dir);
}

static void test_compaction(void) {
  enum { KEYS = 8, ROUNDS = 20, SIZE = 64 * 1024 };
  pair p;
  char dir[64], key[8];
  char *val = malloc(SIZE);
  int r, k, ok = 1;
  long long compactions;
  temp_dir(dir, sizeof dir);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_NO), TR_OK);
  for (r = 0; r < ROUNDS && ok; r++)
    for (k = 0; k < KEYS && ok; k++) {
      snprintf(key, sizeof key, "k%d", k);
      memset(val, 'a' + r, SIZE);
      ok = kv_setn(&p, key, strlen(key), val, SIZE);
    }
  CHECK(ok);
  CHECK(kv_del(&p, "k0"));
  compactions = writer_stat(&p, "compactions");
  printf("     %d x %d KiB written: %lld compactions\n", ROUNDS * KEYS,
         SIZE / 1024, compactions);
  CHECK(compactions >= 2);
  CHECK(logged(&p, "I: kv.writer: compacted"));
  CHECK(file_size(dir, "kv.snap") > (KEYS - 1) * SIZE / 2);
  CHECK(file_size(dir, "kv.log") < 4 * 1024 * 1024);
  CHECK_EQ(writer_stat(&p, "log_bytes"), file_size(dir, "kv.log"));
  CHECK(!has_file_like(dir, "kv.snap.tmp") &&
        !has_file_like(dir, "kv.log.tmp"));
  pair_stop(&p);

  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_NO), TR_OK);
  CHECK_EQ(kv_count(&p), KEYS - 1);
  CHECK(kv_is(&p, "k0", NULL));
  for (k = 1; k < KEYS; k++) {
    size_t n = 0;
    char *got;
    snprintf(key, sizeof key, "k%d", k);
    got = kv_getn(&p, key, strlen(key), &n);
    memset(val, 'a' + ROUNDS - 1, SIZE);
    CHECK(got && n == SIZE && !memcmp(got, val, SIZE));
    free(got);
  }
  pair_stop(&p);
  free(val);
  remove_tree(dir);
}

/* The old log's unsynced tail (everysec, no) is fsynced before a
 * compaction installs its snapshot: a restart that finds the old log
 * beside the new snapshot replays it over it, and an old log cut short by
 * a power loss would take acknowledged changes back (older values over
 * newer, deleted keys back). Found by the power-loss simulator
 * (spec/powerloss/). The seam tells which log bytes were fsynced when
 * kv.snap.tmp was renamed into place. */
static struct { int log_fd[8], dirty, dirty_at_install, installs; } order;

static int order_open(const char *path, int flags, mode_t mode) {
  int fd = open(path, flags, mode);
  size_t n = strlen(path);
  if (fd >= 0 && fd < 1024 && n >= 6 &&
      (!strcmp(path + n - 6, "kv.log") ||
       (n >= 10 && !strcmp(path + n - 10, "kv.log.tmp"))))
    for (int i = 0; i < 8; i++)
      if (order.log_fd[i] < 0) {
        order.log_fd[i] = fd;
        break;
      }
  return fd;
}

static int order_is_log(int fd) {
  for (int i = 0; i < 8; i++)
    if (order.log_fd[i] == fd)
      return 1;
  return 0;
}

static ssize_t order_write(int fd, const void *b, size_t n) {
  ssize_t w = write(fd, b, n);
  if (w > 0 && order_is_log(fd))
    order.dirty = 1;
  return w;
}

static int order_fsync(int fd) {
  int rc = fsync(fd);
  if (!rc && order_is_log(fd))
    order.dirty = 0;
  return rc;
}

static int order_close(int fd) {
  for (int i = 0; i < 8; i++)
    if (order.log_fd[i] == fd)
      order.log_fd[i] = -1;
  return close(fd);
}

static int order_rename(const char *from, const char *to) {
  size_t n = strlen(to);
  if (n >= 7 && !strcmp(to + n - 7, "kv.snap")) {
    order.installs++;
    order.dirty_at_install |= order.dirty;
  }
  return rename(from, to);
}

static void test_compaction_syncs_old_log(void) {
  enum { KEYS = 8, ROUNDS = 12, SIZE = 64 * 1024 };
  static const tr__kvio io = {.open = order_open,
                              .write = order_write,
                              .fsync = order_fsync,
                              .close = order_close,
                              .rename = order_rename};
  static const int policies[] = {TR_FSYNC_EVERYSEC, TR_FSYNC_NO};
  char dir[64], key[8];
  char *val = malloc(SIZE);
  int r, k, ok = 1;
  for (size_t i = 0; i < sizeof policies / sizeof *policies; i++) {
    pair p;
    memset(&order, 0, sizeof order);
    memset(order.log_fd, -1, sizeof order.log_fd);
    temp_dir(dir, sizeof dir);
    CHECK_EQ(pair_start_io(&p, dir, policies[i], &io), TR_OK);
    for (r = 0; r < ROUNDS && ok; r++)
      for (k = 0; k < KEYS && ok; k++) {
        snprintf(key, sizeof key, "k%d", k);
        memset(val, 'a' + r, SIZE);
        ok = kv_setn(&p, key, strlen(key), val, SIZE);
      }
    CHECK(ok);
    CHECK(writer_stat(&p, "compactions") >= 1);
    pair_stop(&p);
    CHECK(order.installs >= 1);
    CHECK_EQ(order.dirty_at_install, 0);
    remove_tree(dir);
  }
  free(val);
}

static void test_fsync_policies(void) {
  pair p;
  char dir[64];
  uint64_t end;
  long long fsyncs = 0;
  temp_dir(dir, sizeof dir);

  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_ALWAYS), TR_OK);
  CHECK(kv_set(&p, "a", "1") && kv_set(&p, "b", "2") && kv_set(&p, "c", "3"));
  CHECK_EQ(writer_stat(&p, "fsyncs"), writer_stat(&p, "flushes"));
  CHECK_EQ(writer_stat(&p, "fsyncs"), 3);
  pair_stop(&p);

  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_NO), TR_OK);
  CHECK(kv_set(&p, "a", "1") && kv_set(&p, "b", "2"));
  CHECK_EQ(writer_stat(&p, "fsyncs"), 0);
  pair_stop(&p);

  /* everysec: the timer armed by a write fsyncs within a second or so */
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK(kv_set(&p, "a", "1") && kv_set(&p, "b", "2"));
  end = uv_hrtime() + 5000000000u;
  while (uv_hrtime() < end && (fsyncs = writer_stat(&p, "fsyncs")) < 1) {
    uint64_t poll = uv_hrtime() + 50000000u;
    while (uv_hrtime() < poll)
      tr_host_step(p.h);
  }
  CHECK_EQ(fsyncs, 1);
  CHECK(kv_is(&p, "c", "3"));
  pair_stop(&p);

  CHECK_EQ(pair_start(&p, dir, 7), TR_EINIT);
  CHECK(logged(&p, "unknown fsync policy 7"));
  pair_stop(&p);
  remove_tree(dir);
}

/* ------------------------------------------- the writer's messages */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A change sent straight to the writer (as the store forwards it); the
 * reply, to free, or NULL. */
static tr_msg *wcall(pair *p, tr_msg *m) {
  return pair_call(p, "kv.writer", m);
}

/* Did the writer answer true? */
static int wtrue(pair *p, tr_msg *m) {
  tr_msg *r = wcall(p, m);
  int b = 0, ok = r && tr_msg_kind(r) == TR_KIND_REPLY &&
                  tr_value_bool(tr_msg_arg(r, 0), &b) == TR_OK && b;
  if (!ok)
    fprintf(stderr, "     the writer answered: %s\n", p->error);
  tr_msg_free(r);
  return ok;
}

static int cmp_line(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What a load hands out, whole: "\nkey=value@at" per key, sorted, then
 * "\n" (at 0: it does not expire); NULL when a load fails. The writer
 * must give no key twice and an expiries array only when one expires. */
static char *writer_dump(pair *p) {
  char *lines[256], *out;
  size_t n = 0, i, len = 2;
  int64_t cursor = 0;
  int more = 1, ok = 1;
  while (more && ok) {
    tr_msg *r = wcall(p, tr_msg_pack("load", "I", cursor));
    const tr_value *e = r ? tr_msg_arg(r, 0) : NULL, *x;
    size_t k;
    ok = e && tr_value_type(e) == TR_ARRAY;
    x = ok ? tr_msg_arg(r, 6) : NULL;
    for (k = 0; ok && k + 1 < tr_value_len(e) && n < 256; k += 2) {
      const char *key, *val;
      size_t kn, vn;
      int64_t at = 0;
      char buf[300];
      tr_value_str(tr_value_at(e, k), &key, &kn);
      tr_value_str(tr_value_at(e, k + 1), &val, &vn);
      if (tr_value_type(x) == TR_ARRAY)
        ok = tr_value_int(tr_value_at(x, k / 2), &at) == TR_OK;
      snprintf(buf, sizeof buf, "%.*s=%.*s@%lld", (int)kn, key,
               (int)(vn > 40 ? 40 : vn), val, (long long)at);
      lines[n++] = strdup(buf);
      len += strlen(buf) + 1;
    }
    if (ok && tr_value_type(x) == TR_ARRAY) {
      int any = 0;
      ok = tr_value_len(x) * 2 == tr_value_len(e);
      for (k = 0; ok && k < tr_value_len(x); k++) {
        int64_t at = 0;
        tr_value_int(tr_value_at(x, k), &at);
        any |= at != 0;
      }
      ok = ok && any;
    }
    more = ok && tr_value_int(tr_msg_arg(r, 1), &cursor) == TR_OK;
    tr_msg_free(r);
  }
  qsort(lines, n, sizeof *lines, cmp_line);
  out = malloc(len);
  out[0] = '\0';
  for (i = 0; i < n; i++) {
    strcat(out, "\n");
    strcat(out, lines[i]);
    for (size_t j = 0; j < i; j++) /* each key once */
      if (!strncmp(lines[j], lines[i], strcspn(lines[i], "=") + 1))
        ok = 0;
  }
  strcat(out, "\n");
  for (i = 0; i < n; i++)
    free(lines[i]);
  if (!ok) {
    free(out);
    return NULL;
  }
  return out;
}

static int dump_is(pair *p, const char *want) {
  char *d = writer_dump(p);
  int ok = d && !strcmp(d, want);
  if (!ok)
    fprintf(stderr, "     the writer loads:%s     wanted:%s",
            d ? d : "(failed)\n", want);
  free(d);
  return ok;
}

/* set (with an expiry, with an answer), delete, expire, mset and flush
 * as the store words them; answered as asked, kept across restarts, and
 * an expired key never handed out. */
static void test_writer_messages(void) {
  pair p;
  char dir[64], want[512];
  int64_t soon = now_ms() + 3600 * 1000, later = soon + 1000;
  tr_msg *r;
  const char *s;
  size_t n;
  int64_t i;
  int b = 1;
  temp_dir(dir, sizeof dir);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK_EQ(kv_count(&p), 0); /* loaded: the writer takes changes */
  CHECK(wtrue(&p, tr_msg_pack("set", "ss", "a", "1")));
  CHECK(wtrue(&p, tr_msg_pack("set", "ss", "e0", "")));
  CHECK(wtrue(&p, tr_msg_pack("set", "ssI", "b", "2", soon)));
  r = wcall(&p, tr_msg_pack("set", "ssIn", "c", "3", (int64_t)0));
  CHECK(r && tr_msg_kind(r) == TR_KIND_REPLY &&
        tr_value_type(tr_msg_arg(r, 0)) == TR_NIL);
  tr_msg_free(r);
  r = wcall(&p, tr_msg_pack("set", "ssns", "d", "4", "old"));
  CHECK(r && tr_msg_unpack(r, "s", &s, &n) == TR_OK && n == 3 &&
        !memcmp(s, "old", 3));
  tr_msg_free(r);
  r = wcall(&p, tr_msg_pack("set", "ssnI", "n", "10", (int64_t)10));
  CHECK(r && tr_msg_unpack(r, "I", &i) == TR_OK && i == 10);
  tr_msg_free(r);
  CHECK(wtrue(&p, tr_msg_pack("set", "ssI", "gone", "x", now_ms() - 1)));
  r = wcall(&p, tr_msg_pack("delete", "sb", "a", 0));
  CHECK(r && tr_msg_kind(r) == TR_KIND_REPLY &&
        tr_value_bool(tr_msg_arg(r, 0), &b) == TR_OK && !b);
  tr_msg_free(r);
  CHECK(wtrue(&p, tr_msg_pack("expire", "sI", "b", (int64_t)0)));
  CHECK(wtrue(&p, tr_msg_pack("expire", "sI", "d", later)));
  CHECK(wtrue(&p, tr_msg_pack("expire", "sI", "nothere", later)));
  CHECK(wtrue(&p, tr_msg_pack("mset", "ssss", "m1", "x", "m2", "y")));
  /* a send: written, nobody answered; a float expiry taken to the ms */
  CHECK_EQ(tr_send(p.h, 0, tr_whereis(p.h, "kv.writer"),
                   tr_msg_pack("set", "ssd", "sent", "s", (double)soon + 0.5)),
           TR_OK);
  /* bad ones change nothing */
  r = wcall(&p, tr_msg_pack("mset", "sss", "m1", "x", "m2"));
  CHECK(r && tr_msg_kind(r) == TR_KIND_ERROR);
  tr_msg_free(r);
  r = wcall(&p, tr_msg_pack("kv", "ssI", "expire", "b", (int64_t)1000));
  CHECK(r && tr_msg_kind(r) == TR_KIND_ERROR);
  tr_msg_free(r);
  r = wcall(&p, tr_msg_pack("expire", "s", "b"));
  CHECK(r && tr_msg_kind(r) == TR_KIND_ERROR);
  tr_msg_free(r);
  r = wcall(&p, tr_msg_pack("set", "ssI", "b", "2", (int64_t)-5));
  CHECK(r && tr_msg_kind(r) == TR_KIND_ERROR);
  tr_msg_free(r);
  snprintf(
      want, sizeof want,
      "\nb=2@0\nc=3@0\nd=4@%lld\ne0=@0\nm1=x@0\nm2=y@0\nn=10@0\nsent=s@%lld\n",
      (long long)later, (long long)soon);
  CHECK(dump_is(&p, want));
  pair_stop(&p);
  /* all of it from the log, the expired key dropped as it is read */
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK(dump_is(&p, want));
  CHECK(kv_is(&p, "d", "4") && kv_is(&p, "gone", NULL));
  kv_info(&p, want, sizeof want);
  CHECK(strstr(want, "dropped 1 expired key") != NULL);
  CHECK(wtrue(&p, tr_msg_pack("flush", "")));
  CHECK(dump_is(&p, "\n"));
  CHECK(wtrue(&p, tr_msg_pack("set", "ss", "after", "1")));
  pair_stop(&p);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK(dump_is(&p, "\nafter=1@0\n"));
  CHECK_EQ(kv_count(&p), 1);
  pair_stop(&p);
  remove_tree(dir);
}

/* An mset is one record: cut short, none of its keys is there. */
static void test_mset_all_or_none(void) {
  pair p;
  char dir[64];
  long long size;
  temp_dir(dir, sizeof dir);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK(kv_set(&p, "a", "1"));
  CHECK(wtrue(&p,
              tr_msg_pack("mset", "ssssss", "m1", "x", "m2", "y", "m3", "z")));
  pair_stop(&p);
  size = file_size(dir, "kv.log");
  CHECK(file_truncate(dir, "kv.log", size - 4));
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK(dump_is(&p, "\na=1@0\n"));
  CHECK(logged(&p, "dropped a torn tail of 42 bytes"));
  pair_stop(&p);
  remove_tree(dir);
}

/* Compaction writes each expiring key with its expiry (a T record) and
 * leaves out the keys that have expired; values are read back from the
 * log, and the index then points into the new snapshot. */
static void test_compaction_expiry(void) {
  enum { SIZE = 256 * 1024, ROUNDS = 40 };
  pair p;
  char dir[64], want[256];
  char *val = malloc(SIZE), *snap;
  int64_t soon = now_ms() + 3600 * 1000;
  size_t n = 0, i;
  int r, ok = 1, found_keep = 0, found_gone = 0;
  temp_dir(dir, sizeof dir);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_NO), TR_OK);
  CHECK(wtrue(&p, tr_msg_pack("set", "ssI", "keep", "kept", soon)));
  CHECK(wtrue(&p, tr_msg_pack("set", "ssI", "gone", "went", now_ms() - 1)));
  for (r = 0; r < ROUNDS && ok; r++) {
    memset(val, 'a' + r % 26, SIZE);
    ok = kv_setn(&p, "big", 3, val, SIZE);
  }
  CHECK(ok);
  CHECK(writer_stat(&p, "compactions") >= 1);
  snap = file_read(dir, "kv.snap", &n);
  CHECK(snap && n > 8 && !memcmp(snap, "TRKVSNP2", 8));
  for (i = 0; snap && i + 13 < n; i++) {
    if (snap[i] == 'T' && !memcmp(snap + i + 1, "\x04\0\0\0keep", 8))
      found_keep = 1;
    if (!memcmp(snap + i, "gone", 4))
      found_gone = 1;
  }
  CHECK(found_keep && !found_gone);
  free(snap);
  memset(val, 'a' + (ROUNDS - 1) % 26, 40);
  snprintf(want, sizeof want, "\nbig=%.40s@0\nkeep=kept@%lld\n", val,
           (long long)soon);
  CHECK(dump_is(&p, want));
  pair_stop(&p);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_NO), TR_OK);
  CHECK(dump_is(&p, want));
  pair_stop(&p);
  free(val);
  remove_tree(dir);
}

/* Many small keys: compaction reads the log whole and the snapshot ahead
 * in windows (kvindex.c), and each value must come back from where the
 * index moved it, in the session (a load) and after a restart. */
enum { SMALL_KEYS = 20000, SMALL_VALUE = 100 };

static void small_value(char *buf, int round, int k) {
  int n = snprintf(buf, SMALL_VALUE + 1, "r%d-k%05d-", round, k);
  memset(buf + n, 'a' + (k + round) % 26, (size_t)(SMALL_VALUE - n));
}

/* Sets keys [from, to) to their value of round r, 100 to an mset. */
static int small_round(pair *p, int r, int from, int to) {
  int k, ok = 1;
  for (k = from; k < to && ok; k += 100) {
    tr_msg *m = tr_msg_new("mset");
    int j;
    for (j = k; j < k + 100 && j < to; j++) {
      char key[16], val[SMALL_VALUE + 1];
      snprintf(key, sizeof key, "k%05d", j);
      small_value(val, r, j);
      tr_msg_add_cstr(m, key);
      tr_msg_add_str(m, val, SMALL_VALUE);
    }
    ok = wtrue(p, m);
  }
  return ok;
}

/* Every key loaded holds its value of round[k]; all of them there. */
static int small_check(pair *p, const int *round) {
  int64_t cursor = 0;
  int more = 1, seen = 0, bad = 0;
  while (more && !bad) {
    tr_msg *r = wcall(p, tr_msg_pack("load", "I", cursor));
    const tr_value *e = r ? tr_msg_arg(r, 0) : NULL, *v;
    size_t i;
    /* tr_value_next, not tr_value_at (O(i)): the test's own time between
     * calls holds the loop, and the writer's supervisor counts it */
    v = e && tr_value_len(e) ? tr_value_at(e, 0) : NULL;
    for (i = 0; e && i + 1 < tr_value_len(e); i += 2) {
      const char *key, *val;
      size_t kn, vn;
      char want[SMALL_VALUE + 1];
      int k;
      tr_value_str(v, &key, &kn);
      v = tr_value_next(v);
      tr_value_str(v, &val, &vn);
      v = tr_value_next(v);
      k = atoi(key + 1);
      small_value(want, round[k], k);
      bad |= vn != SMALL_VALUE || memcmp(val, want, SMALL_VALUE) != 0;
      seen++;
    }
    bad |= !e;
    more = r && tr_value_int(tr_msg_arg(r, 1), &cursor) == TR_OK;
    tr_msg_free(r);
  }
  if (bad || seen != SMALL_KEYS)
    fprintf(stderr, "     loaded %d keys of %d%s (%s)\n", seen, SMALL_KEYS,
            bad ? ", some wrong or a load failed" : "", p->error);
  return !bad && seen == SMALL_KEYS;
}

static void test_compaction_small_keys(void) {
  static int round[SMALL_KEYS];
  pair p;
  char dir[64];
  int k;
  temp_dir(dir, sizeof dir);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_NO), TR_OK);
  CHECK(small_round(&p, 0, 0, SMALL_KEYS));
  CHECK(small_round(&p, 1, 0, SMALL_KEYS)); /* compacts: all from the log */
  CHECK(small_round(&p, 2, 0, SMALL_KEYS / 2));
  CHECK(small_round(&p, 3, SMALL_KEYS / 4, SMALL_KEYS / 2));
  for (k = 0; k < SMALL_KEYS; k++)
    round[k] = k < SMALL_KEYS / 4 ? 2 : k < SMALL_KEYS / 2 ? 3 : 1;
  /* compacts again: the first half's values from the snapshot */
  for (k = 4; k <= 7; k++)
    CHECK(small_round(&p, k, SMALL_KEYS / 2, SMALL_KEYS));
  for (k = SMALL_KEYS / 2; k < SMALL_KEYS; k++)
    round[k] = 7;
  printf("     %d keys of %d bytes: %lld compactions, the log %lld bytes\n",
         SMALL_KEYS, SMALL_VALUE, writer_stat(&p, "compactions"),
         writer_stat(&p, "log_bytes"));
  CHECK(writer_stat(&p, "compactions") >= 2);
  CHECK(small_check(&p, round));
  pair_stop(&p);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_NO), TR_OK);
  CHECK(small_check(&p, round));
  CHECK_EQ(kv_count(&p), SMALL_KEYS);
  /* reading values back, however slowly, keeps the writer's heartbeat */
  CHECK(!logged(&p, "quiet for"));
  pair_stop(&p);
  remove_tree(dir);
}

/* Version 1 files (S, D and E records only) are read, and written anew
 * as version 2 once read; a version 1 log never gets new records. */
static void test_version_1_files(void) {
  pair p;
  char dir[64], info[512];
  tr__kvbuf b = {0};
  char *got;
  size_t n = 0;
  temp_dir(dir, sizeof dir);
  CHECK(tr__kvbuf_reserve(&b, TR_KVLOG_HEADER) != NULL);
  memcpy(b.p, "TRKVSNP1", TR_KVLOG_HEADER);
  b.len = TR_KVLOG_HEADER;
  CHECK(tr__kvlog_put_set(&b, "a", 1, "1", 1) == 0 &&
        tr__kvlog_put_set(&b, "b", 1, "2", 1) == 0 &&
        tr__kvlog_put_end(&b, 2) == 0);
  CHECK(file_write(dir, "kv.snap", b.p, b.len));
  memcpy(b.p, "TRKVLOG1", TR_KVLOG_HEADER);
  b.len = TR_KVLOG_HEADER;
  CHECK(tr__kvlog_put_set(&b, "c", 1, "3", 1) == 0 &&
        tr__kvlog_put_delete(&b, "a", 1) == 0);
  CHECK(file_write(dir, "kv.log", b.p, b.len));
  tr__kvbuf_free(&b);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK(kv_is(&p, "a", NULL) && kv_is(&p, "b", "2") && kv_is(&p, "c", "3"));
  kv_info(&p, info, sizeof info);
  CHECK(strstr(info, "(snapshot 2, log 2 records; upgraded the files to "
                     "format version 2)") != NULL);
  got = file_read(dir, "kv.snap", &n);
  CHECK(got && !memcmp(got, "TRKVSNP2", 8));
  free(got);
  got = file_read(dir, "kv.log", &n);
  CHECK(got && n == TR_KVLOG_HEADER && !memcmp(got, "TRKVLOG2", 8));
  free(got);
  CHECK(wtrue(&p, tr_msg_pack("set", "ssI", "d", "4", now_ms() + 100000)));
  pair_stop(&p);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK(kv_is(&p, "b", "2") && kv_is(&p, "c", "3") && kv_is(&p, "d", "4"));
  kv_info(&p, info, sizeof info);
  CHECK(strstr(info, "upgraded") == NULL);
  pair_stop(&p);
  remove_tree(dir);
}

/* --------------------------------------------------- the file seam */

static int fail_write;      /* errno for the next writes; 0: they work */
static int fail_fsync;      /* errno for fsync; 0: it works */
static size_t short_writes; /* > 0: a write takes at most this many bytes */
static int read_only;       /* opening to write fails with EACCES */
static int no_tmp;          /* creating a .tmp file fails with ENOSPC */
static int fail_pread;      /* errno for reading a value back; 0: it works */

static ssize_t faulty_write(int fd, const void *buf, size_t n) {
  if (fail_write) {
    errno = fail_write;
    return -1;
  }
  return write(fd, buf, short_writes && n > short_writes ? short_writes : n);
}

static int faulty_fsync(int fd) {
  if (fail_fsync) {
    errno = fail_fsync;
    return -1;
  }
  return fsync(fd);
}

static int faulty_open(const char *path, int flags, mode_t mode) {
  size_t n = strlen(path);
  if (read_only && (flags & (O_WRONLY | O_RDWR | O_CREAT))) {
    errno = EACCES;
    return -1;
  }
  if (no_tmp && n > 4 && !strcmp(path + n - 4, ".tmp")) {
    errno = ENOSPC;
    return -1;
  }
  return open(path, flags, mode);
}

static ssize_t faulty_pread(int fd, void *buf, size_t n, off_t off) {
  if (fail_pread) {
    errno = fail_pread;
    return -1;
  }
  return pread(fd, buf, n, off);
}

static const tr__kvio faulty = {.open = faulty_open,
                                .write = faulty_write,
                                .fsync = faulty_fsync,
                                .pread = faulty_pread};

/* The writer keeps no values: a load reads them back from the files, and
 * one it cannot read makes it unavailable, saying which file. */
static void test_value_read_fails(void) {
  pair p;
  char dir[64], want[200];
  size_t n = 0;
  temp_dir(dir, sizeof dir);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK(kv_set(&p, "a", "1"));
  pair_stop(&p);
  fail_pread = EIO;
  CHECK_EQ(pair_start_io(&p, dir, TR_FSYNC_EVERYSEC, &faulty), TR_OK);
  snprintf(want, sizeof want, "cannot read %s/kv.log: Input/output error", dir);
  CHECK(kv_getn(&p, "a", 1, &n) == NULL);
  CHECK(strstr(p.error, want) != NULL);
  CHECK(!kv_set(&p, "b", "2"));
  CHECK(strstr(p.error, want) != NULL);
  pair_stop(&p);
  fail_pread = 0;
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK(kv_is(&p, "a", "1"));
  pair_stop(&p);
  remove_tree(dir);
}

static void test_write_fails(void) {
  pair p;
  char dir[64];
  temp_dir(dir, sizeof dir);
  CHECK_EQ(pair_start_io(&p, dir, TR_FSYNC_EVERYSEC, &faulty), TR_OK);
  CHECK(kv_set(&p, "a", "1"));
  fail_write = ENOSPC;
  CHECK(!kv_set(&p, "a", "2"));
  CHECK_STR(p.error, "write failed: No space left on device");
  CHECK(logged(&p, "E: kv.writer: write failed: No space left on device; "
                   "changes are refused"));
  fail_write = 0; /* the disk has room again: still no, until a restart */
  CHECK(!kv_set(&p, "b", "1"));
  CHECK(strstr(p.error, "changes are refused: write failed") != NULL);
  CHECK(!kv_del(&p, "a"));
  CHECK(kv_is(&p, "b", NULL)); /* refused changes are not applied */
  CHECK_EQ(kv_count(&p), 1);   /* reads go on */
  pair_stop(&p);
  /* what was refused is not on disk */
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK(kv_is(&p, "a", "1"));
  CHECK(kv_set(&p, "b", "2"));
  pair_stop(&p);
  remove_tree(dir);
}

static void test_fsync_fails(void) {
  pair p;
  char dir[64];
  temp_dir(dir, sizeof dir);
  CHECK_EQ(pair_start_io(&p, dir, TR_FSYNC_ALWAYS, &faulty), TR_OK);
  CHECK(kv_set(&p, "a", "1"));
  fail_fsync = EIO;
  CHECK(!kv_set(&p, "a", "2"));
  CHECK_STR(p.error, "fsync failed: Input/output error");
  fail_fsync = 0; /* never tried again as if nothing happened */
  CHECK(!kv_set(&p, "c", "3"));
  CHECK(strstr(p.error, "changes are refused: fsync failed") != NULL);
  CHECK_EQ(writer_stat(&p, "fsyncs"), 1);
  CHECK(kv_is(&p, "c", NULL));
  pair_stop(&p);
  remove_tree(dir);
}

static void test_short_writes(void) {
  pair p;
  char dir[64], key[16], val[128];
  int i, ok = 1;
  temp_dir(dir, sizeof dir);
  short_writes = 7;
  CHECK_EQ(pair_start_io(&p, dir, TR_FSYNC_EVERYSEC, &faulty), TR_OK);
  for (i = 0; i < 40 && ok; i++) {
    snprintf(key, sizeof key, "key%d", i);
    memset(val, 'a' + i % 26, sizeof val);
    ok = kv_setn(&p, key, strlen(key), val, sizeof val);
  }
  CHECK(ok);
  pair_stop(&p);
  short_writes = 0;
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK_EQ(kv_count(&p), 40);
  memset(val, 'a' + 39 % 26, sizeof val);
  val[sizeof val - 1] = '\0';
  {
    size_t n = 0;
    char *got = kv_getn(&p, "key39", 5, &n);
    CHECK(got && n == sizeof val && got[0] == 'a' + 39 % 26);
    free(got);
  }
  pair_stop(&p);
  remove_tree(dir);
}

/* A compaction that cannot write its snapshot changes nothing on disk and
 * does not stop the writes; it is tried again once the log has grown. */
static void test_compaction_fails(void) {
  enum { SIZE = 256 * 1024 };
  pair p;
  char dir[64], key[8];
  char *val = malloc(SIZE);
  int i, ok = 1;
  temp_dir(dir, sizeof dir);
  CHECK_EQ(pair_start_io(&p, dir, TR_FSYNC_NO, &faulty), TR_OK);
  CHECK_EQ(kv_count(&p), 0); /* loaded, its new log made */
  no_tmp = 1;
  for (i = 0; i < 24 && ok; i++) { /* 6 MiB over 2 keys */
    snprintf(key, sizeof key, "k%d", i % 2);
    memset(val, 'a' + i, SIZE);
    ok = kv_setn(&p, key, strlen(key), val, SIZE);
  }
  CHECK(ok);
  CHECK(logged(&p, "W: kv.writer: compaction stopped: cannot write kv.snap: "
                   "No space left on device; the log goes on growing"));
  CHECK_EQ(writer_stat(&p, "compactions"), 0);
  CHECK_EQ(file_size(dir, "kv.snap"), -1);
  CHECK(file_size(dir, "kv.log") > 6 * SIZE * 4 - 1);
  CHECK(!has_file_like(dir, "kv.snap.tmp"));
  no_tmp = 0; /* room again: the next try, once the log grew, works */
  for (i = 0; i < 16 && ok; i++) {
    snprintf(key, sizeof key, "k%d", i % 2);
    memset(val, 'A' + i, SIZE);
    ok = kv_setn(&p, key, strlen(key), val, SIZE);
  }
  CHECK(ok);
  CHECK_EQ(writer_stat(&p, "compactions"), 1);
  pair_stop(&p);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_NO), TR_OK);
  {
    size_t n = 0;
    char *got = kv_getn(&p, "k1", 2, &n);
    memset(val, 'A' + 15, SIZE);
    CHECK(got && n == SIZE && !memcmp(got, val, SIZE));
    free(got);
  }
  pair_stop(&p);
  free(val);
  remove_tree(dir);
}

/* Holes the writer may not repair (a read-only directory, or no room for
 * the new snapshot) are skipped at every start, and the records after
 * them served all the same; once repair is possible, it is done. */
static void test_mid_log_corruption_unrepaired(void) {
  pair p;
  char dir[64], info[512];
  long long rec[3], size;
  temp_dir(dir, sizeof dir);
  write_three(dir, rec);
  CHECK(file_flip(dir, "kv.log", 8 + rec[0] + 20));
  size = file_size(dir, "kv.log");
  read_only = 1;
  CHECK_EQ(pair_start_io(&p, dir, TR_FSYNC_EVERYSEC, &faulty), TR_OK);
  CHECK(kv_is(&p, "c", "third value"));
  CHECK(logged(&p, "left as it is (read-only)"));
  pair_stop(&p);
  read_only = 0;
  CHECK_EQ(file_size(dir, "kv.log"), size);

  no_tmp = 1;
  CHECK_EQ(pair_start_io(&p, dir, TR_FSYNC_EVERYSEC, &faulty), TR_OK);
  CHECK(kv_is(&p, "c", "third value"));
  CHECK(logged(&p, "E: kv.writer: cannot write"));
  CHECK(!has_file_like(dir, "kv.log.corrupt-"));
  CHECK(kv_set(&p, "d", "fourth")); /* appended after the hole */
  pair_stop(&p);
  no_tmp = 0;
  CHECK_EQ(file_size(dir, "kv.log"), size + tr__kvlog_set_size(1, 6));

  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK_EQ(kv_count(&p), 3);
  CHECK(kv_is(&p, "c", "third value") && kv_is(&p, "d", "fourth"));
  kv_info(&p, info, sizeof info);
  CHECK(strstr(info, "the damaged log was moved to") != NULL);
  pair_stop(&p);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK_EQ(kv_count(&p), 3);
  CHECK(!logged(&p, "DAMAGED"));
  pair_stop(&p);
  remove_tree(dir);
}

/* A directory it may not write: loads, serves reads, refuses changes. */
static void test_read_only_directory(void) {
  pair p;
  char dir[64], info[512];
  temp_dir(dir, sizeof dir);
  CHECK_EQ(pair_start(&p, dir, TR_FSYNC_EVERYSEC), TR_OK);
  CHECK(kv_set(&p, "a", "1"));
  pair_stop(&p);
  read_only = 1;
  CHECK_EQ(pair_start_io(&p, dir, TR_FSYNC_EVERYSEC, &faulty), TR_OK);
  CHECK(kv_is(&p, "a", "1"));
  CHECK(!kv_set(&p, "b", "2"));
  CHECK(strstr(p.error, "is not writable (Permission denied)") != NULL);
  CHECK(logged(&p, "E: kv.writer: the data directory"));
  kv_info(&p, info, sizeof info);
  CHECK(strstr(info, "read-only: the data directory") != NULL);
  pair_stop(&p);
  read_only = 0;
  remove_tree(dir);
}

int main(void) {
  RUN(test_files_and_lock);
  RUN(test_missing_and_empty_files);
  RUN(test_torn_tail);
  RUN(test_zeroed_blocks_are_a_torn_tail);
  RUN(test_corrupt_tail);
  RUN(test_mid_log_corruption);
  RUN(test_mid_log_garbled_length);
  RUN(test_mid_log_corruption_unrepaired);
  RUN(test_unknown_format);
  RUN(test_leftover_tmp_removed);
  RUN(test_damaged_snapshot);
  RUN(test_compaction);
  RUN(test_compaction_syncs_old_log);
  RUN(test_fsync_policies);
  RUN(test_write_fails);
  RUN(test_fsync_fails);
  RUN(test_short_writes);
  RUN(test_compaction_fails);
  RUN(test_read_only_directory);
  RUN(test_writer_messages);
  RUN(test_mset_all_or_none);
  RUN(test_compaction_expiry);
  RUN(test_compaction_small_keys);
  RUN(test_version_1_files);
  RUN(test_value_read_fails);
  return test_report();
}
