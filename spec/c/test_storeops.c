/*
 * test_storeops.c -- the native store's requests (services/store/
 * storeops.c) against a test writer: a real actor registered "kv.writer"
 * that loads what the test gives it, records each change the store sends
 * it and answers as the protocol says (the answer given, else true). So
 * what the store answers itself, what it sends the writer and how it is
 * worded are all checked, for requests the log writer may not take yet.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test.h"
#include "troupe_services.h"

#define MAX_GOT 64

typedef struct writer_rec {
  tr_msg *got[MAX_GOT]; /* the changes the store sent, in order */
  int named[MAX_GOT];   /* 1: sent as the writer's message, set(...) */
  int n;
  tr_msg *load; /* the load reply to give (cloned), or NULL: nothing */
} writer_rec;

static void add_value(tr_msg *r, const tr_value *v) {
  int64_t i;
  int b;
  const char *s;
  size_t n;
  switch (tr_value_type(v)) {
  case TR_BOOL:
    tr_value_bool(v, &b);
    tr_msg_add_bool(r, b);
    break;
  case TR_INT:
    tr_value_int(v, &i);
    tr_msg_add_int(r, i);
    break;
  case TR_STR:
    tr_value_str(v, &s, &n);
    tr_msg_add_str(r, s, n);
    break;
  default:
    tr_msg_add_nil(r);
  }
}

/* Where the answer is in each change (after the op), as the protocol has
 * it: set(key, value, at, answer), delete(key, answer), expire(key, at,
 * answer), flush(answer); 0: none. */
static size_t answer_at(const tr_msg *m) {
  const char *op;
  size_t len;
  if (tr_value_str(tr_msg_arg(m, 0), &op, &len))
    return 0;
  if (len == 3 && !memcmp(op, "set", 3))
    return 4;
  if (len == 6 && !memcmp(op, "delete", 6))
    return 2;
  if (len == 6 && !memcmp(op, "expire", 6))
    return 3;
  if (len == 5 && !memcmp(op, "flush", 5))
    return 1;
  return 0;
}

/* The writer's own messages are named by their change: set(key, ...). */
static int is_change(const tr_msg *m) {
  return tr_msg_is(m, "set") || tr_msg_is(m, "delete") ||
         tr_msg_is(m, "expire") || tr_msg_is(m, "mset") ||
         tr_msg_is(m, "flush");
}

/* A change recorded as kv(op, ...) whichever way it came, so the checks
 * below read one shape (named[] says which it was). */
static tr_msg *as_kv(const tr_msg *m) {
  const char *name;
  size_t len, i, n = tr_msg_argc(m);
  tr_msg *c;
  if (tr_msg_is(m, "kv"))
    return tr_msg_clone(m);
  name = tr_msg_name(m, &len);
  if (!(c = tr_msg_new("kv")))
    return NULL;
  tr_msg_add_str(c, name, len);
  for (i = 0; i < n; i++)
    add_value(c, tr_msg_arg(m, i));
  return c;
}

static int writer_handle(tr_actor *self, void *state, tr_msg *m) {
  writer_rec *w = *(writer_rec **)state;
  tr_host *h = tr_actor_host(self);
  if (!m)
    return TR_CONTINUE;
  if (tr_msg_is(m, "load") && tr_msg_kind(m) == TR_KIND_CALL) {
    tr_msg *r = w->load ? tr_msg_clone(w->load) : NULL;
    if (!r) {
      r = tr_msg_new("reply");
      tr_msg_add_array(r, 0);
      tr_msg_add_nil(r);
      tr_msg_add_cstr(r, "a test writer");
    }
    tr_reply(h, m, r);
  } else if (tr_msg_is(m, "kv") || is_change(m)) {
    tr_msg *c = as_kv(m);
    size_t at = answer_at(c);
    int kept = c && w->n < MAX_GOT;
    CHECK(c != NULL);
    if (kept) {
      w->named[w->n] = !tr_msg_is(m, "kv");
      w->got[w->n++] = c;
    }
    if (tr_msg_kind(m) == TR_KIND_CALL) {
      tr_msg *r = tr_msg_new("reply");
      if (at && tr_msg_argc(c) > at)
        add_value(r, tr_msg_arg(c, at));
      else
        tr_msg_add_bool(r, 1);
      tr_reply(h, m, r);
    }
    if (!kept)
      tr_msg_free(c);
  }
  return TR_CONTINUE;
}

static const tr_behaviour writer_b = {"test-writer", sizeof(writer_rec *),
                                      test_ptr_init, writer_handle, NULL};

static void quiet(void *ud, int level, const char *text) {
  (void)ud, (void)level, (void)text;
}

static tr_host *start(writer_rec *w) {
  tr_host_config hc = {0};
  tr_spawn_opts o = {0};
  tr_host *h;
  tr_pid store;
  hc.log = quiet;
  h = tr_host_new(&hc);
  o.name = "kv.writer";
  CHECK_EQ(test_spawn_ctx(h, &writer_b, w, &o, NULL), TR_OK);
  CHECK_EQ(tr_kv_store_start(h, NULL, &store), TR_OK);
  CHECK_EQ(tr_register(h, "kv", store), TR_OK);
  return h;
}

static void stop(tr_host *h, writer_rec *w) {
  int i;
  tr_host_free(h);
  for (i = 0; i < w->n; i++)
    tr_msg_free(w->got[i]);
  tr_msg_free(w->load);
  memset(w, 0, sizeof *w);
}

/* A request to the store; the reply (an error reply too), to free. */
static tr_msg *req(tr_host *h, tr_msg *m) {
  tr_msg *r = NULL;
  tr_host_call(h, tr_whereis(h, "kv"), m, 5000, &r);
  return r;
}

static int is_bool(tr_msg *r, int want) {
  int b = -1, ok = r && tr_msg_kind(r) == TR_KIND_REPLY &&
                   tr_value_bool(tr_msg_arg(r, 0), &b) == TR_OK && b == want;
  tr_msg_free(r);
  return ok;
}

static int is_int(tr_msg *r, int64_t want) {
  int64_t i = 0;
  int ok = r && tr_msg_kind(r) == TR_KIND_REPLY &&
           tr_value_int(tr_msg_arg(r, 0), &i) == TR_OK && i == want;
  tr_msg_free(r);
  return ok;
}

/* A string reply (or nil for want NULL), at argument i. */
static int str_at(const tr_msg *r, size_t i, const char *want) {
  const char *s;
  size_t n;
  if (!r || tr_msg_kind(r) == TR_KIND_ERROR)
    return 0;
  if (!want)
    return tr_value_type(tr_msg_arg(r, i)) == TR_NIL;
  return tr_value_str(tr_msg_arg(r, i), &s, &n) == TR_OK && n == strlen(want) &&
         !memcmp(s, want, n);
}

static int is_str(tr_msg *r, const char *want) {
  int ok = str_at(r, 0, want);
  tr_msg_free(r);
  return ok;
}

static int is_error(tr_msg *r, const char *text) {
  const char *s;
  size_t n;
  char buf[512];
  int ok = 0;
  if (r && tr_msg_kind(r) == TR_KIND_ERROR &&
      tr_msg_unpack(r, "s", &s, &n) == TR_OK) {
    test_copy_str(buf, sizeof buf, s, n);
    ok = strcmp(buf, text) == 0 || strstr(buf, text) != NULL;
    if (!ok)
      fprintf(stderr, "  error \"%s\", wanted \"%s\"\n", buf, text);
  }
  tr_msg_free(r);
  return ok;
}

static tr_msg *get(tr_host *h, const char *k) {
  return req(h, tr_msg_pack("kv", "ss", "get", k));
}

/* The last change sent to the writer, or NULL when there is none past
 * *seen (moved on to it). */
static const tr_msg *sent(writer_rec *w, int *seen) {
  if (*seen >= w->n)
    return NULL;
  *seen = w->n;
  return w->got[w->n - 1];
}

/* opts maps: {name = true} or {name = n} */
static tr_msg *set_opt(const char *k, const char *v, const char *opt,
                       int64_t n) {
  tr_msg *m = tr_msg_pack("kv", "sss", "set", k, v);
  tr_msg_add_map(m, 1);
  tr_msg_add_cstr(m, opt);
  if (n)
    tr_msg_add_int(m, n);
  else
    tr_msg_add_bool(m, 1);
  return m;
}

static int64_t wall_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* set: plain (forwarded as it is), numbers as text, nx/xx/get/px/keepttl
 * worded for the writer; what changes nothing answered by the store. */
static void test_set(void) {
  writer_rec w = {0};
  tr_host *h = start(&w);
  const tr_msg *c;
  int seen = 0;
  int64_t at = 0, left;
  tr_msg *m;
  CHECK(is_bool(req(h, tr_msg_pack("kv", "sss", "set", "a", "1")), 1));
  CHECK((c = sent(&w, &seen)) && tr_msg_argc(c) == 3 &&
        !w.named[seen - 1]); /* as it was */
  CHECK(is_bool(req(h, tr_msg_pack("kv", "ssI", "set", "n", (int64_t)-42)), 1));
  CHECK(is_str(get(h, "n"), "-42"));
  CHECK((c = sent(&w, &seen)) && str_at(c, 2, "-42") && tr_msg_argc(c) == 3 &&
        w.named[seen - 1]); /* worded for the writer: set(key, text) */
  CHECK(is_bool(req(h, tr_msg_pack("kv", "ssd", "set", "f", 0.1)), 1));
  CHECK(is_str(get(h, "f"), "0.1"));
  CHECK(is_bool(req(h, tr_msg_pack("kv", "ssd", "set", "f", 1.5e300)), 1));
  CHECK(is_str(get(h, "f"), "1.5e+300"));
  CHECK(is_bool(req(h, tr_msg_pack("kv", "ssd", "set", "f", 3.0)), 1));
  CHECK(is_str(get(h, "f"), "3"));
  CHECK(is_bool(req(h, tr_msg_pack("kv", "ssd", "set", "f", 1.0 / 3)), 1));
  CHECK(is_str(get(h, "f"), "0.3333333333333333"));
  seen = w.n;
  /* nx / xx: refused ones are the store's answer, nothing sent */
  CHECK(is_bool(req(h, set_opt("a", "2", "nx", 0)), 0));
  CHECK(is_bool(req(h, set_opt("new", "2", "xx", 0)), 0));
  CHECK(sent(&w, &seen) == NULL);
  CHECK(is_str(get(h, "a"), "1"));
  CHECK(is_bool(req(h, set_opt("a", "2", "xx", 0)), 1));
  CHECK(is_str(get(h, "a"), "2"));
  CHECK(is_bool(req(h, set_opt("b", "2", "nx", 0)), 1));
  /* get: the old value, from the writer (set) or the store (refused) */
  CHECK(is_str(req(h, set_opt("a", "3", "get", 0)), "2"));
  CHECK((c = sent(&w, &seen)) && tr_msg_argc(c) == 5 && str_at(c, 4, "2"));
  CHECK(is_str(req(h, set_opt("fresh", "x", "get", 0)), NULL));
  CHECK((c = sent(&w, &seen)) && tr_msg_argc(c) == 5 &&
        tr_value_type(tr_msg_arg(c, 4)) == TR_NIL);
  /* px: an absolute time sent, a ttl read back */
  CHECK(is_bool(req(h, set_opt("t", "v", "px", 60000)), 1));
  CHECK((c = sent(&w, &seen)) && tr_value_int(tr_msg_arg(c, 3), &at) == TR_OK);
  CHECK(at > wall_ms() + 50000 && at <= wall_ms() + 60000);
  m = req(h, tr_msg_pack("kv", "ss", "ttl", "t"));
  CHECK(m && tr_value_int(tr_msg_arg(m, 0), &left) == TR_OK && left > 50000 &&
        left <= 60000);
  tr_msg_free(m);
  CHECK(is_bool(req(h, set_opt("t", "v2", "ex", 100)), 1));
  m = req(h, tr_msg_pack("kv", "ss", "ttl", "t"));
  CHECK(m && tr_value_int(tr_msg_arg(m, 0), &left) == TR_OK && left > 90000 &&
        left <= 100000);
  tr_msg_free(m);
  /* keepttl keeps it (and says so to the writer); a plain set clears it */
  CHECK(is_bool(req(h, set_opt("t", "v3", "keepttl", 0)), 1));
  CHECK((c = sent(&w, &seen)) &&
        tr_value_int(tr_msg_arg(c, 3), &left) == TR_OK && left > wall_ms());
  CHECK(!is_int(req(h, tr_msg_pack("kv", "ss", "ttl", "t")), -1));
  CHECK(is_bool(req(h, tr_msg_pack("kv", "sss", "set", "t", "v4")), 1));
  CHECK(is_int(req(h, tr_msg_pack("kv", "ss", "ttl", "t")), -1));
  /* bad options change nothing */
  CHECK(is_error(req(h, set_opt("a", "9", "px", -5)), "px and ex"));
  m = tr_msg_pack("kv", "sss", "set", "a", "9");
  tr_msg_add_map(m, 2);
  tr_msg_add_cstr(m, "nx");
  tr_msg_add_bool(m, 1);
  tr_msg_add_cstr(m, "xx");
  tr_msg_add_bool(m, 1);
  CHECK(is_error(req(h, m), "nx or xx"));
  CHECK(is_error(req(h, set_opt("a", "9", "bogus", 0)), "options are"));
  CHECK(is_str(get(h, "a"), "3"));
  stop(h, &w);
}

static void test_delete_getdel_exists(void) {
  writer_rec w = {0};
  tr_host *h = start(&w);
  const tr_msg *c;
  int seen;
  CHECK(is_bool(req(h, tr_msg_pack("kv", "sss", "set", "a", "1")), 1));
  CHECK(is_bool(req(h, tr_msg_pack("kv", "sss", "set", "b", "2")), 1));
  seen = w.n;
  CHECK(is_int(
      req(h, tr_msg_pack("kv", "sssss", "exists", "a", "b", "a", "zz")), 3));
  CHECK(is_bool(req(h, tr_msg_pack("kv", "ss", "delete", "zz")), 0));
  CHECK(sent(&w, &seen) == NULL); /* the store's own answer */
  CHECK(is_bool(req(h, tr_msg_pack("kv", "ss", "delete", "a")), 1));
  CHECK((c = sent(&w, &seen)) && tr_msg_argc(c) == 2);
  CHECK(is_str(get(h, "a"), NULL));
  CHECK(is_str(req(h, tr_msg_pack("kv", "ss", "getdel", "b")), "2"));
  CHECK((c = sent(&w, &seen)) && tr_msg_argc(c) == 3 && str_at(c, 2, "2"));
  CHECK(is_str(req(h, tr_msg_pack("kv", "ss", "getdel", "b")), NULL));
  CHECK(sent(&w, &seen) == NULL);
  CHECK(is_int(req(h, tr_msg_pack("kv", "s", "count")), 0));
  CHECK(is_error(req(h, tr_msg_pack("kv", "s", "exists")), "exists takes"));
  stop(h, &w);
}

static void test_incr_append_strlen(void) {
  writer_rec w = {0};
  tr_host *h = start(&w);
  const tr_msg *c;
  int seen = 0;
  int64_t at = -1;
  CHECK(is_int(req(h, tr_msg_pack("kv", "ssi", "incr", "n", 5)), 5));
  CHECK((c = sent(&w, &seen)) && str_at(c, 2, "5") &&
        tr_value_int(tr_msg_arg(c, 3), &at) == TR_OK && at == 0);
  CHECK(is_int(req(h, tr_msg_pack("kv", "ssi", "incr", "n", -7)), -2));
  CHECK(is_str(get(h, "n"), "-2"));
  CHECK(is_bool(
      req(h, tr_msg_pack("kv", "ssI", "set", "n", (int64_t)INT64_MAX - 1)), 1));
  CHECK(is_int(req(h, tr_msg_pack("kv", "ssi", "incr", "n", 1)), INT64_MAX));
  seen = w.n;
  CHECK(is_error(req(h, tr_msg_pack("kv", "ssi", "incr", "n", 1)),
                 "kv: increment or decrement would overflow"));
  CHECK(sent(&w, &seen) == NULL);
  CHECK(is_str(get(h, "n"), "9223372036854775807"));
  /* not integers, exactly as Redis's string2ll reads them */
  {
    static const char *bad[] = {"",
                                "x",
                                "1.5",
                                " 1",
                                "1 ",
                                "+1",
                                "01",
                                "-0",
                                "99999999999999999999",
                                "9223372036854775808"};
    size_t i;
    for (i = 0; i < sizeof bad / sizeof *bad; i++) {
      CHECK(is_bool(req(h, tr_msg_pack("kv", "sss", "set", "s", bad[i])), 1));
      CHECK(is_error(req(h, tr_msg_pack("kv", "ssi", "incr", "s", 1)),
                     "kv: the value is not an integer or out of range"));
    }
  }
  CHECK(is_bool(
      req(h, tr_msg_pack("kv", "sss", "set", "s", "-9223372036854775808")), 1));
  CHECK(is_int(req(h, tr_msg_pack("kv", "ssi", "incr", "s", 0)), INT64_MIN));
  CHECK(is_error(req(h, tr_msg_pack("kv", "ssi", "incr", "s", -1)),
                 "would overflow"));
  CHECK(is_error(req(h, tr_msg_pack("kv", "sss", "incr", "s", "x")),
                 "incr takes a key and an integer"));
  /* incr keeps the expiry, and says so to the writer */
  CHECK(is_bool(req(h, set_opt("e", "10", "px", 60000)), 1));
  CHECK(is_int(req(h, tr_msg_pack("kv", "ssi", "incr", "e", 1)), 11));
  CHECK((c = sent(&w, &seen)) && tr_value_int(tr_msg_arg(c, 3), &at) == TR_OK &&
        at > wall_ms());
  CHECK(!is_int(req(h, tr_msg_pack("kv", "ss", "ttl", "e")), -1));
  /* append */
  CHECK(is_int(req(h, tr_msg_pack("kv", "sss", "append", "ap", "abc")), 3));
  CHECK(is_int(req(h, tr_msg_pack("kv", "sss", "append", "ap", "de")), 5));
  CHECK((c = sent(&w, &seen)) && str_at(c, 2, "abcde"));
  CHECK(is_int(req(h, tr_msg_pack("kv", "ssi", "append", "ap", 7)), 6));
  CHECK(is_str(get(h, "ap"), "abcde7"));
  CHECK(is_int(req(h, tr_msg_pack("kv", "ss", "strlen", "ap")), 6));
  CHECK(is_int(req(h, tr_msg_pack("kv", "ss", "strlen", "none")), 0));
  stop(h, &w);
}

static void test_mget_mset(void) {
  writer_rec w = {0};
  tr_host *h = start(&w);
  const tr_msg *c;
  tr_msg *r;
  int seen = 0;
  CHECK(is_bool(req(h, tr_msg_pack("kv", "sssss", "mset", "a", "1", "b", "2")),
                1));
  CHECK((c = sent(&w, &seen)) && tr_msg_argc(c) == 5); /* as it was */
  CHECK(is_bool(
      req(h, tr_msg_pack("kv", "ssssssi", "mset", "a", "x", "c", "y", "d", 4)),
      1));
  CHECK((c = sent(&w, &seen)) && tr_msg_argc(c) == 7 && str_at(c, 6, "4"));
  /* all or none: a bad key late in the list, nothing set, nothing sent */
  CHECK(is_error(req(h, tr_msg_pack("kv", "sssss", "mset", "a", "z", "", "v")),
                 "key is empty"));
  CHECK(is_error(req(h, tr_msg_pack("kv", "ssss", "mset", "a", "z", "b")),
                 "in pairs"));
  CHECK(sent(&w, &seen) == NULL);
  r = req(h, tr_msg_pack("kv", "sssss", "mget", "a", "zz", "d", "b"));
  CHECK(r && tr_msg_argc(r) == 4 && str_at(r, 0, "x") && str_at(r, 1, NULL) &&
        str_at(r, 2, "4") && str_at(r, 3, "2"));
  tr_msg_free(r);
  stop(h, &w);
}

/* The keys of an array reply at argument i, joined by ',' in order. */
static void joined(const tr_msg *r, size_t i, char *buf, size_t n) {
  const tr_value *a = tr_msg_arg(r, i), *v;
  size_t k, len, used = 0;
  const char *s;
  buf[0] = '\0';
  if (tr_value_type(a) != TR_ARRAY)
    return;
  for (k = 0, v = tr_value_at(a, 0); k < tr_value_len(a);
       k++, v = tr_value_next(v)) {
    if (tr_value_str(v, &s, &len) || used + len + 2 > n)
      return;
    if (used)
      buf[used++] = ',';
    memcpy(buf + used, s, len);
    used += len;
    buf[used] = '\0';
  }
}

static void test_keys_scan(void) {
  enum { START = 200 };
  writer_rec w = {0};
  tr_host *h = start(&w);
  unsigned char seen[START + 400];
  int64_t cursor = 0;
  char key[32], buf[256];
  tr_msg *r;
  int i, added = 0, calls = 0, ok = 1;
  for (i = 0; i < 3; i++) {
    snprintf(key, sizeof key, "user:%d", i);
    CHECK(is_bool(req(h, tr_msg_pack("kv", "sss", "set", key, "v")), 1));
  }
  CHECK(is_bool(req(h, tr_msg_pack("kv", "sss", "set", "other", "v")), 1));
  r = req(h, tr_msg_pack("kv", "ss", "keys", "user:[0-1]"));
  joined(r, 0, buf, sizeof buf);
  CHECK_STR(buf, "user:0,user:1"); /* in the order added */
  tr_msg_free(r);
  r = req(h, tr_msg_pack("kv", "ss", "keys", "*"));
  CHECK(r && tr_value_len(tr_msg_arg(r, 0)) == 4);
  tr_msg_free(r);
  r = req(h, tr_msg_pack("kv", "sis", "scan", 0, "user:*"));
  CHECK(r && tr_msg_argc(r) == 2);
  joined(r, 1, buf, sizeof buf);
  CHECK_STR(buf, "user:0,user:1,user:2");
  tr_msg_free(r);
  CHECK(is_bool(req(h, tr_msg_pack("kv", "s", "flush")), 1));
  CHECK(is_int(req(h, tr_msg_pack("kv", "s", "count")), 0));
  /* a scan while keys come and go: each key there throughout, once */
  for (i = 0; i < START; i++) {
    snprintf(key, sizeof key, "k%d", i);
    CHECK(is_bool(req(h, tr_msg_pack("kv", "sss", "set", key, "v")), 1));
  }
  memset(seen, 0, sizeof seen);
  do {
    const tr_value *a, *v;
    size_t k, len;
    const char *s;
    r = req(h, tr_msg_pack("kv", "sInI", "scan", cursor, (int64_t)7));
    if (!r || tr_value_int(tr_msg_arg(r, 0), &cursor)) {
      ok = 0;
      tr_msg_free(r);
      break;
    }
    a = tr_msg_arg(r, 1);
    for (k = 0, v = tr_value_at(a, 0); k < tr_value_len(a);
         k++, v = tr_value_next(v)) {
      tr_value_str(v, &s, &len);
      test_copy_str(key, sizeof key, s, len);
      seen[atoi(key + 1)]++;
    }
    tr_msg_free(r);
    /* between calls: two more keys, and every 10th old key deleted */
    for (k = 0; k < 2 && added < 400; k++, added++) {
      snprintf(key, sizeof key, "k%d", START + added);
      ok &= is_bool(req(h, tr_msg_pack("kv", "sss", "set", key, "v")), 1);
    }
    snprintf(key, sizeof key, "k%d", (calls * 10) % START + 5);
    tr_msg_free(req(h, tr_msg_pack("kv", "ss", "delete", key)));
    calls++;
  } while (cursor != 0 && calls < 10000);
  CHECK(ok);
  CHECK(cursor == 0);
  for (i = 0; i < START + 400; i++) {
    int gone = i < START && i % 10 == 5;
    if (gone ? seen[i] > 1 : i < START ? seen[i] != 1 : seen[i] > 1)
      ok = 0;
  }
  CHECK(ok);
  CHECK(is_error(req(h, tr_msg_pack("kv", "si", "scan", -1)), "scan takes"));
  stop(h, &w);
}

static void test_expire_ttl_persist(void) {
  writer_rec w = {0};
  tr_host *h = start(&w);
  const tr_msg *c;
  int seen = 0;
  int64_t at = 0;
  tr_msg *r;
  CHECK(is_bool(req(h, tr_msg_pack("kv", "ssi", "expire", "none", 100)), 0));
  CHECK(sent(&w, &seen) == NULL);
  CHECK(is_int(req(h, tr_msg_pack("kv", "ss", "ttl", "none")), -2));
  CHECK(is_bool(req(h, tr_msg_pack("kv", "sss", "set", "k", "v")), 1));
  CHECK(is_int(req(h, tr_msg_pack("kv", "ss", "ttl", "k")), -1));
  CHECK(is_bool(req(h, tr_msg_pack("kv", "ss", "persist", "k")), 0));
  seen = w.n;
  CHECK(is_bool(req(h, tr_msg_pack("kv", "ssi", "expire", "k", 60000)), 1));
  CHECK((c = sent(&w, &seen)) && str_at(c, 0, "expire") &&
        tr_value_int(tr_msg_arg(c, 2), &at) == TR_OK && at > wall_ms());
  CHECK(is_bool(req(h, tr_msg_pack("kv", "ss", "persist", "k")), 1));
  CHECK((c = sent(&w, &seen)) && str_at(c, 0, "expire") &&
        tr_value_int(tr_msg_arg(c, 2), &at) == TR_OK && at == 0);
  CHECK(is_int(req(h, tr_msg_pack("kv", "ss", "ttl", "k")), -1));
  /* ms <= 0 removes it: a delete to the writer */
  CHECK(is_bool(req(h, tr_msg_pack("kv", "ssi", "expire", "k", 0)), 1));
  CHECK((c = sent(&w, &seen)) && str_at(c, 0, "delete"));
  CHECK(is_str(get(h, "k"), NULL));
  /* a key that expires is gone for every request once its time is past,
   * and for count at once: nothing is told to the writer */
  CHECK(is_bool(req(h, tr_msg_pack("kv", "sss", "set", "keep", "v")), 1));
  CHECK(is_bool(req(h, set_opt("soon", "v", "px", 30)), 1));
  CHECK(is_bool(req(h, set_opt("soon2", "v", "px", 30)), 1));
  r = req(h, tr_msg_pack("kv", "s", "stats"));
  CHECK(r && tr_value_type(tr_msg_arg(r, 0)) == TR_MAP);
  tr_msg_free(r);
  seen = w.n;
  {
    uint64_t end = uv_hrtime() + 2000000000u;
    int64_t n = -1;
    while (n != 1 && uv_hrtime() < end) {
      r = req(h, tr_msg_pack("kv", "s", "count"));
      n = -1;
      if (r)
        tr_value_int(tr_msg_arg(r, 0), &n);
      tr_msg_free(r);
    }
    CHECK_EQ(n, 1);
  }
  CHECK(is_str(get(h, "soon"), NULL));
  CHECK(is_int(req(h, tr_msg_pack("kv", "ss", "ttl", "soon2")), -2));
  CHECK(sent(&w, &seen) == NULL);
  /* the sweep stops once nothing expires: the host goes idle */
  CHECK(is_bool(req(h, set_opt("s", "v", "px", 20)), 1));
  STEP_UNTIL(h, tr_host_step(h) == 0, 2000);
  CHECK_EQ(tr_host_step(h), 0);
  r = req(h, tr_msg_pack("kv", "s", "stats"));
  CHECK(r && tr_value_type(tr_msg_arg(r, 0)) == TR_MAP);
  if (r) {
    const tr_value *m = tr_msg_arg(r, 0);
    int64_t keys = -1, expiring = -1, bytes = -1;
    tr_value_int(tr_value_val(m, 0), &keys);
    tr_value_int(tr_value_val(m, 1), &expiring);
    tr_value_int(tr_value_val(m, 2), &bytes);
    CHECK_EQ(keys, 1);
    CHECK_EQ(expiring, 0);
    CHECK_EQ(bytes, 5); /* "keep", "v" */
  }
  tr_msg_free(r);
  stop(h, &w);
}

/* A load with expiries: a key already past is not loaded, the others keep
 * their times. */
static void test_load_expiries(void) {
  writer_rec w = {0};
  tr_host *h;
  tr_msg *r = tr_msg_new("reply");
  int64_t now = wall_ms(), left = 0;
  tr_msg_add_array(r, 6);
  tr_msg_add_cstr(r, "past");
  tr_msg_add_cstr(r, "1");
  tr_msg_add_cstr(r, "later");
  tr_msg_add_cstr(r, "2");
  tr_msg_add_cstr(r, "never");
  tr_msg_add_cstr(r, "3");
  tr_msg_add_nil(r);
  tr_msg_add_cstr(r, "three keys");
  tr_msg_add_nil(r);
  tr_msg_add_nil(r);
  tr_msg_add_nil(r);
  tr_msg_add_array(r, 3);
  tr_msg_add_int(r, now - 1000);
  tr_msg_add_int(r, now + 60000);
  tr_msg_add_int(r, 0);
  w.load = r;
  h = start(&w);
  CHECK(is_str(req(h, tr_msg_pack("kv", "s", "info")), "three keys"));
  CHECK(is_int(req(h, tr_msg_pack("kv", "s", "count")), 2));
  CHECK(is_str(get(h, "past"), NULL));
  CHECK(is_str(get(h, "later"), "2"));
  r = req(h, tr_msg_pack("kv", "ss", "ttl", "later"));
  CHECK(r && tr_value_int(tr_msg_arg(r, 0), &left) == TR_OK && left > 50000);
  tr_msg_free(r);
  CHECK(is_int(req(h, tr_msg_pack("kv", "ss", "ttl", "never")), -1));
  stop(h, &w);
}

int main(void) {
  RUN(test_set);
  RUN(test_delete_getdel_exists);
  RUN(test_incr_append_strlen);
  RUN(test_mget_mset);
  RUN(test_keys_scan);
  RUN(test_expire_ttl_persist);
  RUN(test_load_expiries);
  return test_report();
}
