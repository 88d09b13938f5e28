/*
 * fuzz_message.c -- libFuzzer target for the message decoder and readers
 * (core/message.c): tr_msg_decode on arbitrary bytes.
 *
 * A refused buffer must give NULL and TR_EBADMSG. An accepted one is read
 * all the way through the public readers: the name, every argument by
 * tr_msg_arg and by tr_value_next, every value with each tr_value_* reader
 * (the right one must succeed, the others must refuse), arrays and maps
 * item by item, nested to any depth the decoder allows, and tr_msg_unpack
 * on the first arguments. Every pointer a reader hands out must lie inside
 * the message's bytes, and stepping past the last argument must land
 * exactly on its end. Then the message is built again with the tr_msg_add_*
 * builders from what was read: that copy must encode, decode, read back
 * equal to the original, and encode again to the very same bytes.
 *
 * Run by scripts/fuzz; seeds in fuzz/corpus/fuzz_message/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe.h"

#define CHECK(c) ((c) ? (void)0 : failed(#c, __LINE__))

_Noreturn static void failed(const char *what, int line) {
  fprintf(stderr, "fuzz_message.c:%d: check failed: %s\n", line, what);
  abort();
}

/* The encoded bytes of the message being read: every value lies inside. */
typedef struct span {
  const uint8_t *lo, *hi;
} span;

static int inside(const span *s, const void *p) {
  return (const uint8_t *)p >= s->lo && (const uint8_t *)p < s->hi;
}

/* An int whose unsigned value does not fit int64 reads as TR_ERANGE by
 * tr_value_int, and as a double by tr_value_float. */
static int big_uint(const tr_value *v) {
  int64_t i;
  return tr_value_type(v) == TR_INT && tr_value_int(v, &i) == TR_ERANGE;
}

/* Checks v with every reader, adds the same value to out (may be NULL),
 * and returns where v ends: the next value, or the end of the message. */
static const tr_value *walk(const span *s, const tr_value *v, tr_msg *out,
                            int depth) {
  int t = tr_value_type(v), b;
  int64_t i;
  double d;
  const char *str;
  size_t len, n, j;
  tr_pid pid;
  const tr_value *item, *end;

  CHECK(v != NULL && inside(s, v));
  CHECK(t >= TR_NIL && t <= TR_MAP);
  CHECK(depth <= TR_MAX_DEPTH);

  /* Each reader succeeds on its own type only. */
  CHECK((tr_value_bool(v, &b) == 0) == (t == TR_BOOL));
  CHECK(t != TR_BOOL || b == 0 || b == 1);
  if (t == TR_INT)
    CHECK(tr_value_int(v, &i) == 0 || big_uint(v));
  else
    CHECK(tr_value_int(v, &i) == TR_ETYPE);
  CHECK((tr_value_float(v, &d) == 0) == (t == TR_INT || t == TR_FLOAT));
  CHECK((tr_value_str(v, &str, &len) == 0) == (t == TR_STR));
  if (t == TR_STR) {
    CHECK(len == 0 || inside(s, str));
    CHECK(len <= (size_t)(s->hi - (const uint8_t *)str));
  }
  CHECK((tr_value_pid(v, &pid) == 0) == (t == TR_PID));
  if (t != TR_ARRAY && t != TR_MAP) {
    CHECK(tr_value_len(v) == 0);
    CHECK(tr_value_at(v, 0) == NULL && tr_value_key(v, 0) == NULL &&
          tr_value_val(v, 0) == NULL);
  }

  switch (t) {
  case TR_NIL:
    if (out)
      CHECK(tr_msg_add_nil(out) == 0);
    break;
  case TR_BOOL:
    if (out)
      CHECK(tr_msg_add_bool(out, b) == 0);
    break;
  case TR_INT:
    if (out)
      CHECK((big_uint(v) ? tr_msg_add_float(out, d) : tr_msg_add_int(out, i)) ==
            0);
    break;
  case TR_FLOAT:
    if (out)
      CHECK(tr_msg_add_float(out, d) == 0);
    break;
  case TR_STR:
    if (out)
      CHECK(tr_msg_add_str(out, str, len) == 0);
    break;
  case TR_PID:
    if (out)
      CHECK(tr_msg_add_pid(out, pid) == 0);
    break;
  case TR_ARRAY:
  case TR_MAP:
    n = tr_value_len(v);
    CHECK(depth < TR_MAX_DEPTH); /* a container opens a level */
    if (out)
      CHECK((t == TR_ARRAY ? tr_msg_add_array(out, (uint32_t)n)
                           : tr_msg_add_map(out, (uint32_t)n)) == 0);
    /* The items follow the header; the indexed readers agree with
     * tr_value_next at the ends (in between they would cost O(n^2)). */
    item = tr_value_next(v);
    if (t == TR_ARRAY) {
      CHECK(tr_value_key(v, 0) == NULL && tr_value_at(v, n) == NULL);
      for (j = 0; j < n; j++) {
        if (j == 0 || j == n - 1)
          CHECK(tr_value_at(v, j) != NULL);
        if (j == 0)
          item = tr_value_at(v, 0);
        else if (j == n - 1)
          CHECK(tr_value_at(v, j) == item);
        item = walk(s, item, out, depth + 1);
      }
    } else {
      CHECK(tr_value_at(v, 0) == NULL && tr_value_key(v, n) == NULL &&
            tr_value_val(v, n) == NULL);
      for (j = 0; j < n; j++) {
        if (j == 0)
          item = tr_value_key(v, 0);
        else if (j == n - 1)
          CHECK(tr_value_key(v, j) == item);
        CHECK(item != NULL);
        item = walk(s, item, out, depth + 1);
        if (j == 0 || j == n - 1)
          CHECK(tr_value_val(v, j) == item);
        item = walk(s, item, out, depth + 1);
      }
    }
    if (n == 0)
      return item; /* tr_value_next of an empty container: just past it */
    /* Skipping the whole container lands where its last item ended. */
    end = tr_value_next(v);
    CHECK(end == item);
    return end;
  }
  end = tr_value_next(v);
  CHECK((const uint8_t *)end > (const uint8_t *)v &&
        (const uint8_t *)end <= s->hi);
  return end;
}

/* Reads all of m; builds the same message into a new one when copy is set.
 * Returns the copy (or NULL when not asked for). */
static tr_msg *read_all(const tr_msg *m, int copy) {
  size_t len, name_len, argc = tr_msg_argc(m), k;
  const uint8_t *bytes = tr_msg_bytes(m, &len);
  const char *name = tr_msg_name(m, &name_len);
  const tr_value *v, *a;
  tr_msg *out = NULL;
  span s;

  CHECK(bytes != NULL && len > 0);
  s.lo = bytes, s.hi = bytes + len;
  CHECK(name != NULL && (name_len == 0 || inside(&s, name)));
  CHECK(name_len <= (size_t)(s.hi - (const uint8_t *)name));
  CHECK(tr_msg_kind(m) == TR_KIND_SEND && tr_msg_from(m) == 0 &&
        tr_msg_session(m) == 0 && !tr_msg_inherited(m));
  CHECK(tr_msg_arg(m, argc) == NULL);
  if (name_len < 64 && !memchr(name, 0, name_len)) {
    char z[64];
    memcpy(z, name, name_len);
    z[name_len] = '\0';
    CHECK(tr_msg_is(m, z));
  }
  if (copy) {
    out = tr_msg_newn(name, name_len);
    CHECK(out != NULL);
  }
  v = argc ? tr_msg_arg(m, 0) : NULL;
  for (k = 0; k < argc; k++) {
    /* tr_msg_arg is O(k): checked on the first arguments and the last. */
    if (k < 8 || k == argc - 1) {
      a = tr_msg_arg(m, k);
      CHECK(a == v);
    }
    v = walk(&s, v, out, 0);
  }
  /* Past the last argument is exactly the end of the bytes. */
  CHECK(argc == 0 || (const uint8_t *)v == s.hi);
  return out;
}

/* One format letter for argument v, as tr_msg_unpack reads it. */
static char letter(const tr_value *v) {
  switch (tr_value_type(v)) {
  case TR_NIL:
    return 'n';
  case TR_BOOL:
    return 'b';
  case TR_INT:
    return big_uint(v) ? 'd' : 'I';
  case TR_FLOAT:
    return 'd';
  case TR_STR:
    return 'S';
  case TR_PID:
    return 'p';
  default:
    return '.';
  }
}

/* tr_msg_unpack on the first arguments: the right letter reads, a wrong
 * one is refused with TR_ETYPE, one letter too many with TR_ERANGE. Every
 * pointer may be NULL; a letter takes at most two. */
static void unpack(const tr_msg *m) {
  char fmt[20];
  size_t argc = tr_msg_argc(m), k;
  void *none = NULL;
  for (k = 0; k < argc && k < 16; k++) {
    const tr_value *v = tr_msg_arg(m, k);
    char c = letter(v);
    memset(fmt, '.', k);
    fmt[k] = c, fmt[k + 1] = '\0';
    CHECK(tr_msg_unpack(m, fmt, none, none) == 0);
    fmt[k] = c == 'p' ? 'b' : 'p';
    CHECK(tr_msg_unpack(m, fmt, none, none) == TR_ETYPE);
    if (c == 'I') {
      int64_t i;
      int r;
      fmt[k] = 'i';
      CHECK(tr_value_int(v, &i) == 0);
      r = tr_msg_unpack(m, fmt, none, none);
      CHECK(r == ((i < INT32_MIN || i > INT32_MAX) ? TR_ERANGE : 0));
    }
  }
  if (argc < 16) {
    memset(fmt, '.', argc + 1);
    fmt[argc + 1] = '\0';
    CHECK(tr_msg_unpack(m, fmt) == TR_ERANGE);
  }
}

/* a (decoded from the input) and b (rebuilt and decoded) hold the same. */
static const tr_value *same(const tr_value *a, const tr_value *b) {
  int ta = tr_value_type(a), tb = tr_value_type(b);
  double da, db;
  const char *sa, *sb;
  size_t la, lb, n, j;
  if (big_uint(a)) { /* rebuilt as the double it reads as */
    CHECK(tb == TR_FLOAT);
    CHECK(tr_value_float(a, &da) == 0 && tr_value_float(b, &db) == 0);
    CHECK(memcmp(&da, &db, sizeof da) == 0);
    return tr_value_next(b);
  }
  CHECK(ta == tb);
  switch (ta) {
  case TR_BOOL: {
    int x, y;
    CHECK(tr_value_bool(a, &x) == 0 && tr_value_bool(b, &y) == 0 && x == y);
    break;
  }
  case TR_INT: {
    int64_t x, y;
    CHECK(tr_value_int(a, &x) == 0 && tr_value_int(b, &y) == 0 && x == y);
    break;
  }
  case TR_FLOAT: /* bit for bit: NaNs and -0.0 included */
    CHECK(tr_value_float(a, &da) == 0 && tr_value_float(b, &db) == 0);
    CHECK(memcmp(&da, &db, sizeof da) == 0);
    break;
  case TR_STR:
    CHECK(tr_value_str(a, &sa, &la) == 0 && tr_value_str(b, &sb, &lb) == 0);
    CHECK(la == lb && (la == 0 || memcmp(sa, sb, la) == 0));
    break;
  case TR_PID: {
    tr_pid x, y;
    CHECK(tr_value_pid(a, &x) == 0 && tr_value_pid(b, &y) == 0 && x == y);
    break;
  }
  case TR_ARRAY:
  case TR_MAP:
    n = tr_value_len(a);
    CHECK(tr_value_len(b) == n);
    if (n == 0)
      return tr_value_next(b);
    if (ta == TR_MAP)
      n *= 2, a = tr_value_key(a, 0), b = tr_value_key(b, 0);
    else
      a = tr_value_at(a, 0), b = tr_value_at(b, 0);
    for (j = 0; j < n; j++) {
      const tr_value *nb = same(a, b);
      a = tr_value_next(a), b = nb;
    }
    return b;
  }
  return tr_value_next(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int err = 12345;
  tr_msg *m = tr_msg_decode(data, size, &err), *copy, *d, *again, *clone;
  const void *cb, *ab;
  size_t clen, alen, mlen, name_len, dname_len, k, argc;
  const char *name, *dname;
  const tr_value *a, *b;

  if (!m) {
    CHECK(err == TR_EBADMSG);
    return 0;
  }
  CHECK(err == 0);
  argc = tr_msg_argc(m);

  /* A clone has the same bytes. */
  clone = tr_msg_clone(m);
  CHECK(clone != NULL);
  cb = tr_msg_bytes(clone, &clen);
  ab = tr_msg_bytes(m, &mlen);
  CHECK(cb && ab && clen == mlen && memcmp(cb, ab, mlen) == 0);
  tr_msg_free(clone);

  /* Our own encoding decodes again. */
  d = tr_msg_decode(ab, mlen, &err);
  CHECK(d != NULL && err == 0 && tr_msg_argc(d) == argc);
  tr_msg_free(d);

  unpack(m);
  copy = read_all(m, 1);

  /* The rebuilt copy decodes, reads back equal, and rebuilds to the same
   * bytes (the builders' encoding is canonical). */
  cb = tr_msg_bytes(copy, &clen);
  CHECK(cb != NULL);
  d = tr_msg_decode(cb, clen, &err);
  CHECK(d != NULL && err == 0);
  name = tr_msg_name(m, &name_len);
  dname = tr_msg_name(d, &dname_len);
  CHECK(name_len == dname_len &&
        (name_len == 0 || memcmp(name, dname, name_len) == 0));
  CHECK(tr_msg_argc(d) == argc);
  a = argc ? tr_msg_arg(m, 0) : NULL;
  b = argc ? tr_msg_arg(d, 0) : NULL;
  for (k = 0; k < argc; k++) {
    const tr_value *nb = same(a, b);
    a = tr_value_next(a), b = nb;
  }
  again = read_all(d, 1);
  ab = tr_msg_bytes(again, &alen);
  CHECK(ab != NULL && alen == clen && memcmp(ab, cb, clen) == 0);

  tr_msg_free(again);
  tr_msg_free(d);
  tr_msg_free(copy);
  tr_msg_free(m);
  return 0;
}
