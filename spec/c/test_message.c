/*
 * test_message.c -- messages: building, reading, checking foreign buffers.
 *
 * msgpack-c's own unpacker serves as an independent oracle: whatever we
 * build or accept must unpack there to the same values our reader sees.
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <msgpack.h>
#include <stdlib.h>

#include "message.h"
#include "test.h"

/* ------------------------------------------------------------ helpers */

static uint64_t rng_next(uint64_t *s) { /* xorshift64: deterministic */
  *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
  return *s;
}

/* Decodes from an exactly-sized heap copy, so an overread is caught by
 * valgrind or ASAN rather than landing in neighbouring bytes. */
static tr_msg *decode_copy(const void *buf, size_t len, int *err) {
  char *c = malloc(len ? len : 1);
  if (len)
    memcpy(c, buf, len);
  tr_msg *m = tr_msg_decode(c, len, err);
  free(c);
  return m;
}

static int same_str(const tr_value *v, const char *s, size_t n) {
  const char *got;
  size_t len;
  return tr_value_str(v, &got, &len) == 0 && len == n && !memcmp(got, s, n);
}

static int64_t int_of(const tr_value *v) {
  int64_t i = -12345;
  tr_value_int(v, &i);
  return i;
}

/* Does our reading of v agree with msgpack-c's object o, all the way down? */
static int agree(const tr_value *v, const msgpack_object *o) {
  int64_t i;
  double d;
  tr_pid pid;
  const char *s;
  size_t n;
  switch (tr_value_type(v)) {
  case TR_NIL:
    return o->type == MSGPACK_OBJECT_NIL;
  case TR_BOOL: {
    int b;
    return o->type == MSGPACK_OBJECT_BOOLEAN && tr_value_bool(v, &b) == 0 &&
           b == (int)o->via.boolean;
  }
  case TR_INT:
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
      return tr_value_int(v, &i) == 0 && i == o->via.i64;
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
      return 0;
    if (o->via.u64 > INT64_MAX)
      return tr_value_int(v, &i) == TR_ERANGE;
    return tr_value_int(v, &i) == 0 && (uint64_t)i == o->via.u64;
  case TR_FLOAT:
    if (o->type != MSGPACK_OBJECT_FLOAT32 && o->type != MSGPACK_OBJECT_FLOAT64)
      return 0;
    if (tr_value_float(v, &d))
      return 0;
    return (isnan(d) && isnan(o->via.f64)) || d == o->via.f64;
  case TR_STR:
    if (tr_value_str(v, &s, &n))
      return 0;
    if (o->type == MSGPACK_OBJECT_STR)
      return n == o->via.str.size && !memcmp(s, o->via.str.ptr, n);
    return o->type == MSGPACK_OBJECT_BIN && n == o->via.bin.size &&
           !memcmp(s, o->via.bin.ptr, n);
  case TR_PID: {
    if (o->type != MSGPACK_OBJECT_EXT || o->via.ext.type != TR_EXT_PID ||
        o->via.ext.size != 8 || tr_value_pid(v, &pid))
      return 0;
    const uint8_t *b = (const uint8_t *)o->via.ext.ptr;
    uint64_t want = 0;
    for (int k = 0; k < 8; k++)
      want = want << 8 | b[k];
    return pid == want;
  }
  case TR_ARRAY:
    if (o->type != MSGPACK_OBJECT_ARRAY || tr_value_len(v) != o->via.array.size)
      return 0;
    for (size_t k = 0; k < o->via.array.size; k++)
      if (!agree(tr_value_at(v, k), &o->via.array.ptr[k]))
        return 0;
    return tr_value_at(v, o->via.array.size) == NULL;
  case TR_MAP:
    if (o->type != MSGPACK_OBJECT_MAP || tr_value_len(v) != o->via.map.size)
      return 0;
    for (size_t k = 0; k < o->via.map.size; k++)
      if (!agree(tr_value_key(v, k), &o->via.map.ptr[k].key) ||
          !agree(tr_value_val(v, k), &o->via.map.ptr[k].val))
        return 0;
    return tr_value_key(v, o->via.map.size) == NULL;
  default:
    return 0;
  }
}

/* The whole message against msgpack-c's unpacking of its bytes. */
static int agree_msg(tr_msg *m) {
  size_t len, nlen;
  const char *bytes = tr_msg_bytes(m, &len), *name = tr_msg_name(m, &nlen);
  msgpack_unpacked u;
  size_t off = 0;
  int ok = 0;
  if (!bytes)
    return 0;
  msgpack_unpacked_init(&u);
  if (msgpack_unpack_next(&u, bytes, len, &off) == MSGPACK_UNPACK_SUCCESS &&
      off == len && u.data.type == MSGPACK_OBJECT_ARRAY &&
      u.data.via.array.size == tr_msg_argc(m) + 1) {
    const msgpack_object *o = u.data.via.array.ptr;
    ok = o[0].type == MSGPACK_OBJECT_STR && o[0].via.str.size == nlen &&
         !memcmp(o[0].via.str.ptr, name, nlen);
    for (size_t i = 0; ok && i < tr_msg_argc(m); i++)
      ok = agree(tr_msg_arg(m, i), &o[i + 1]);
    ok = ok && tr_msg_arg(m, tr_msg_argc(m)) == NULL;
  }
  msgpack_unpacked_destroy(&u);
  return ok;
}

/* A message with one of everything, tables nested, some empty. */
static tr_msg *sample(void) {
  tr_msg *m = tr_msg_new("sample");
  tr_msg_add_nil(m);
  tr_msg_add_bool(m, 1);
  tr_msg_add_int(m, INT64_MIN);
  tr_msg_add_float(m, 2.5);
  tr_msg_add_str(m, "a\0\xff", 3);
  tr_msg_add_pid(m, 0x100000002ull);
  tr_msg_add_map(m, 2); /* {k = {1, {}, {}}, [7] = nil} */
  tr_msg_add_cstr(m, "k");
  tr_msg_add_array(m, 3);
  tr_msg_add_int(m, 1);
  tr_msg_add_array(m, 0);
  tr_msg_add_map(m, 0);
  tr_msg_add_int(m, 7);
  tr_msg_add_nil(m);
  tr_msg_add_cstr(m, "end");
  return m;
}

/* -------------------------------------------------------------- tests */

static void test_strerror(void) {
  CHECK_STR(tr_strerror(TR_OK), "ok");
  CHECK_STR(tr_strerror(TR_EBADMSG), "bad message");
  for (int e = TR_ETHREAD; e <= TR_OK; e++)
    CHECK(strcmp(tr_strerror(e), "unknown error") != 0);
  CHECK_STR(tr_strerror(-1000), "unknown error");
  CHECK_STR(tr_strerror(1), "unknown error");
}

static void test_scalars(void) {
  static const int64_t ints[] = {0,         1,         -1,
                                 127,       128,       -32,
                                 -33,       255,       256,
                                 -128,      -129,      65535,
                                 65536,     -32768,    -32769,
                                 INT32_MAX, INT32_MIN, (int64_t)UINT32_MAX + 1,
                                 INT64_MAX, INT64_MIN};
  static const double floats[] = {0.0, -0.0, 2.5, -1e300, DBL_MIN, DBL_MAX};
  static const tr_pid pids[] = {0, 1, 0x100000002ull, UINT64_MAX};
  size_t ni = sizeof ints / sizeof *ints, nf = sizeof floats / sizeof *floats;
  size_t np = sizeof pids / sizeof *pids;
  tr_msg *m = tr_msg_new("scalars");
  CHECK_EQ(tr_msg_add_nil(m), 0);
  CHECK_EQ(tr_msg_add_bool(m, 0), 0);
  CHECK_EQ(tr_msg_add_bool(m, 42), 0); /* any non-zero is true */
  for (size_t i = 0; i < ni; i++)
    CHECK_EQ(tr_msg_add_int(m, ints[i]), 0);
  for (size_t i = 0; i < nf; i++)
    CHECK_EQ(tr_msg_add_float(m, floats[i]), 0);
  CHECK_EQ(tr_msg_add_float(m, INFINITY), 0);
  CHECK_EQ(tr_msg_add_float(m, NAN), 0);
  for (size_t i = 0; i < np; i++)
    CHECK_EQ(tr_msg_add_pid(m, pids[i]), 0);
  CHECK_EQ(tr_msg_add_str(m, "a\0b", 3), 0);
  CHECK_EQ(tr_msg_add_str(m, "\xff\xfe\xc0\x80", 4), 0); /* not UTF-8 */
  CHECK_EQ(tr_msg_add_str(m, NULL, 0), 0);
  CHECK_EQ(tr_msg_add_cstr(m, ""), 0);
  CHECK_EQ(tr__msg_check(m), 0);
  CHECK_EQ(tr_msg_argc(m), 3 + ni + nf + 2 + np + 4);

  size_t a = 0;
  int b = -1;
  CHECK_EQ(tr_value_type(tr_msg_arg(m, a++)), TR_NIL);
  CHECK(tr_value_bool(tr_msg_arg(m, a++), &b) == 0 && b == 0);
  CHECK(tr_value_bool(tr_msg_arg(m, a++), &b) == 0 && b == 1);
  for (size_t i = 0; i < ni; i++) {
    const tr_value *v = tr_msg_arg(m, a++);
    CHECK_EQ(tr_value_type(v), TR_INT);
    CHECK(int_of(v) == ints[i]);
  }
  for (size_t i = 0; i < nf; i++) {
    const tr_value *v = tr_msg_arg(m, a++);
    double d = 1;
    CHECK_EQ(tr_value_type(v), TR_FLOAT);
    CHECK(tr_value_float(v, &d) == 0 && d == floats[i] &&
          signbit(d) == signbit(floats[i]));
  }
  double d = 0;
  CHECK(tr_value_float(tr_msg_arg(m, a++), &d) == 0 && isinf(d) && d > 0);
  CHECK(tr_value_float(tr_msg_arg(m, a++), &d) == 0 && isnan(d));
  for (size_t i = 0; i < np; i++) {
    const tr_value *v = tr_msg_arg(m, a++);
    tr_pid p = 7;
    CHECK_EQ(tr_value_type(v), TR_PID);
    CHECK(tr_value_pid(v, &p) == 0 && p == pids[i]);
  }
  CHECK(same_str(tr_msg_arg(m, a++), "a\0b", 3));
  CHECK(same_str(tr_msg_arg(m, a++), "\xff\xfe\xc0\x80", 4));
  CHECK(same_str(tr_msg_arg(m, a++), "", 0));
  CHECK(same_str(tr_msg_arg(m, a++), "", 0));
  CHECK(tr_msg_arg(m, a) == NULL);
  CHECK(agree_msg(m));
  tr_msg_free(m);
}

/* Strings around each str header boundary (fixstr, str8, str16, str32). */
static void test_string_sizes(void) {
  static const size_t sizes[] = {31, 32, 255, 256, 65535, 65536};
  char *s = malloc(65536);
  for (size_t i = 0; i < 65536; i++)
    s[i] = (char)(i * 7);
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
    tr_msg *m = tr_msg_new("s");
    CHECK_EQ(tr_msg_add_str(m, s, sizes[k]), 0);
    CHECK_EQ(tr_msg_add_int(m, 9), 0);
    CHECK(same_str(tr_msg_arg(m, 0), s, sizes[k]));
    CHECK_EQ(int_of(tr_msg_arg(m, 1)), 9);
    CHECK(agree_msg(m));
    tr_msg_free(m);
  }
  free(s);
}

static void test_containers(void) {
  tr_msg *m = sample();
  CHECK_EQ(tr__msg_check(m), 0);
  CHECK_EQ(tr_msg_argc(m), 8);
  const tr_value *map = tr_msg_arg(m, 6);
  CHECK_EQ(tr_value_type(map), TR_MAP);
  CHECK_EQ(tr_value_len(map), 2);
  CHECK(same_str(tr_value_key(map, 0), "k", 1));
  const tr_value *arr = tr_value_val(map, 0);
  CHECK_EQ(tr_value_type(arr), TR_ARRAY);
  CHECK_EQ(tr_value_len(arr), 3);
  CHECK_EQ(int_of(tr_value_at(arr, 0)), 1);
  CHECK_EQ(tr_value_type(tr_value_at(arr, 1)), TR_ARRAY);
  CHECK_EQ(tr_value_len(tr_value_at(arr, 1)), 0);
  CHECK(tr_value_at(tr_value_at(arr, 1), 0) == NULL);
  CHECK_EQ(tr_value_type(tr_value_at(arr, 2)), TR_MAP);
  CHECK_EQ(tr_value_len(tr_value_at(arr, 2)), 0);
  CHECK(tr_value_key(tr_value_at(arr, 2), 0) == NULL);
  CHECK(tr_value_at(arr, 3) == NULL);
  CHECK_EQ(int_of(tr_value_key(map, 1)), 7);
  CHECK_EQ(tr_value_type(tr_value_val(map, 1)), TR_NIL);
  CHECK(tr_value_key(map, 2) == NULL && tr_value_val(map, 2) == NULL);
  CHECK(tr_value_key(map, SIZE_MAX) == NULL);
  CHECK(tr_value_val(map, SIZE_MAX) == NULL);
  CHECK(same_str(tr_msg_arg(m, 7), "end", 3)); /* top level again */
  CHECK(agree_msg(m));
  tr_msg_free(m);

  /* Map keys of any type, and empty tables as top-level arguments. */
  m = tr_msg_new("keys");
  tr_msg_add_array(m, 0);
  tr_msg_add_map(m, 3);
  tr_msg_add_array(m, 1), tr_msg_add_int(m, 1), tr_msg_add_bool(m, 1);
  tr_msg_add_float(m, 1.5), tr_msg_add_pid(m, 5);
  tr_msg_add_pid(m, 6), tr_msg_add_map(m, 0);
  tr_msg_add_map(m, 0);
  CHECK_EQ(tr__msg_check(m), 0);
  CHECK_EQ(tr_msg_argc(m), 3);
  CHECK(m->open == NULL); /* the stack goes once every table closes */
  map = tr_msg_arg(m, 1);
  CHECK_EQ(tr_value_type(tr_value_key(map, 0)), TR_ARRAY);
  CHECK_EQ(tr_value_type(tr_value_key(map, 1)), TR_FLOAT);
  CHECK_EQ(tr_value_type(tr_value_key(map, 2)), TR_PID);
  CHECK_EQ(tr_value_type(tr_value_val(map, 2)), TR_MAP);
  CHECK_EQ(tr_value_type(tr_msg_arg(m, 2)), TR_MAP);
  CHECK(agree_msg(m));
  tr_msg_free(m);
}

static void test_pack_unpack(void) {
  tr_pid pid = 0xabcdef0123456789ull;
  tr_msg *m = tr_msg_pack("all", "nbiIdsSp", 1, -7, INT64_MIN, 0.25, "hi",
                          "x\0y", (size_t)3, pid);
  CHECK(m != NULL);
  CHECK(tr_msg_is(m, "all"));
  CHECK_EQ(tr_msg_argc(m), 8);
  int b = 0, i = 0;
  int64_t I = 0;
  double d = 0;
  const char *s = NULL, *S = NULL;
  size_t slen = 0, Slen = 0;
  tr_pid p = 0;
  CHECK_EQ(
      tr_msg_unpack(m, "nbiIdsSp", &b, &i, &I, &d, &s, &slen, &S, &Slen, &p),
      0);
  CHECK(b == 1 && i == -7 && I == INT64_MIN && d == 0.25 && p == pid);
  CHECK(slen == 2 && !memcmp(s, "hi", 2));
  CHECK(Slen == 3 && !memcmp(S, "x\0y", 3));
  /* '.' skips; NULL outputs check without storing; fewer letters is fine. */
  CHECK_EQ(tr_msg_unpack(m, "..i", &i), 0);
  CHECK_EQ(tr_msg_unpack(m, "nbiIdsSp", NULL, NULL, NULL, NULL, NULL, NULL,
                         NULL, NULL, NULL),
           0);
  CHECK_EQ(tr_msg_unpack(m, "", NULL), 0);
  CHECK_EQ(tr_msg_unpack(m, "..d", &d), 0); /* ints read as floats */
  CHECK(d == -7.0);
  /* Failures. */
  CHECK_EQ(tr_msg_unpack(m, "nbiIdsSp.", NULL, NULL, NULL, NULL, NULL, NULL,
                         NULL, NULL, NULL),
           TR_ERANGE);
  CHECK_EQ(tr_msg_unpack(m, "b", &b), TR_ETYPE);
  CHECK_EQ(tr_msg_unpack(m, ".i", &i), TR_ETYPE);
  CHECK_EQ(tr_msg_unpack(m, ".b.s", &b, &s, &slen), TR_ETYPE);
  CHECK_EQ(tr_msg_unpack(m, ".....i", &i), TR_ETYPE);
  CHECK_EQ(tr_msg_unpack(m, ".......I", &I), TR_ETYPE);
  CHECK_EQ(tr_msg_unpack(m, "......p", &p), TR_ETYPE);
  CHECK_EQ(tr_msg_unpack(m, ".n", NULL), TR_ETYPE);
  CHECK_EQ(tr_msg_unpack(m, "x"), TR_EINVAL);
  CHECK_EQ(tr_msg_unpack(m, NULL), TR_EINVAL);
  CHECK_EQ(tr_msg_unpack(NULL, "n"), TR_EINVAL);
  i = 99;
  CHECK_EQ(tr_msg_unpack(m, "...i", &i), TR_ERANGE); /* INT64_MIN: no int */
  CHECK_EQ(i, 99);
  tr_msg_free(m);

  m = tr_msg_pack("big", "II", (int64_t)INT_MAX + 1, (int64_t)INT_MIN);
  CHECK_EQ(tr_msg_unpack(m, "i", &i), TR_ERANGE);
  CHECK_EQ(tr_msg_unpack(m, ".i", &i), 0);
  CHECK_EQ(i, INT_MIN);
  tr_msg_free(m);

  m = tr_msg_pack("empty", "");
  CHECK(m != NULL && tr_msg_argc(m) == 0);
  CHECK_EQ(tr_msg_unpack(m, "n"), TR_ERANGE);
  tr_msg_free(m);
  CHECK(tr_msg_pack("bad", "nz") == NULL);
  CHECK(tr_msg_pack("bad", "s", (const char *)NULL) == NULL);
  CHECK(tr_msg_pack(NULL, "") == NULL);
  CHECK(tr_msg_pack("x", NULL) == NULL);
}

static void test_names(void) {
  tr_msg *m = tr_msg_newn("a\0b", 3);
  size_t len = 0;
  const char *n = tr_msg_name(m, &len);
  CHECK(len == 3 && !memcmp(n, "a\0b", 3));
  CHECK(!tr_msg_is(m, "a")); /* exact length, not a C-string prefix */
  tr_msg_free(m);
  m = tr_msg_new("ab");
  CHECK(tr_msg_is(m, "ab"));
  CHECK(!tr_msg_is(m, "a") && !tr_msg_is(m, "abc") && !tr_msg_is(m, ""));
  CHECK(!tr_msg_is(m, NULL));
  CHECK_EQ(tr_msg_kind(m), TR_KIND_SEND);
  CHECK(tr_msg_from(m) == 0 && tr_msg_session(m) == 0);
  tr_msg_free(m);
  m = tr_msg_newn(NULL, 0);
  CHECK(tr_msg_is(m, ""));
  CHECK(agree_msg(m));
  tr_msg_free(m);
  CHECK(tr_msg_new(NULL) == NULL);
  CHECK(tr_msg_newn(NULL, 1) == NULL);
  /* A long name moves the buffer to the heap from the start. */
  char big[300];
  memset(big, 'n', sizeof big);
  m = tr_msg_newn(big, sizeof big);
  tr_msg_add_int(m, 1);
  n = tr_msg_name(m, &len);
  CHECK(len == sizeof big && !memcmp(n, big, len));
  CHECK(agree_msg(m));
  tr_msg_free(m);
}

static void test_grow(void) {
  size_t mb = 1u << 20;
  char *s = malloc(mb);
  for (size_t i = 0; i < mb; i++)
    s[i] = (char)(i ^ (i >> 8));
  tr_msg *m = tr_msg_new("grow");
  CHECK_EQ(tr_msg_add_int(m, 1), 0);
  CHECK(m->buf == m->small); /* small messages stay inline */
  CHECK_EQ(tr_msg_add_str(m, s, mb), 0);
  CHECK(m->buf != m->small);
  CHECK_EQ(tr_msg_add_int(m, 2), 0);
  CHECK(same_str(tr_msg_arg(m, 1), s, mb));
  CHECK_EQ(int_of(tr_msg_arg(m, 2)), 2);
  tr_msg_free(m);

  /* Many small values crossing the inline buffer one at a time. */
  m = tr_msg_new("many");
  for (int i = 0; i < 5000; i++)
    tr_msg_add_int(m, i * 1000);
  CHECK_EQ(tr__msg_check(m), 0);
  CHECK_EQ(tr_msg_argc(m), 5000);
  int ok = 1;
  for (int i = 0; i < 5000; i += 499)
    ok &= int_of(tr_msg_arg(m, i)) == i * 1000;
  CHECK(ok);
  CHECK(agree_msg(m));
  tr_msg_free(m);
  free(s);
}

static void test_sticky_errors(void) {
  tr_msg *m = tr_msg_new("sticky");
  tr_msg_add_int(m, 1);
  size_t len = m->len;
  CHECK_EQ(tr_msg_add_str(m, "x", (size_t)TR_MAX_MSG + 1), TR_ERANGE);
  CHECK_EQ(tr_msg_add_int(m, 2), TR_ERANGE);
  CHECK_EQ(tr_msg_add_cstr(m, NULL), TR_ERANGE); /* the first error stays */
  CHECK_EQ(tr_msg_add_array(m, 1), TR_ERANGE);
  CHECK_EQ(m->len, len);
  CHECK_EQ(tr_msg_argc(m), 1);
  CHECK_EQ(tr__msg_check(m), TR_ERANGE);
  size_t n = 9;
  CHECK(tr_msg_bytes(m, &n) == NULL && n == 0);
  CHECK(tr_msg_arg(m, 0) == NULL);
  CHECK_EQ(tr_msg_unpack(m, "i", NULL), TR_EBADMSG);
  tr_msg_free(m);

  m = tr_msg_new("inval");
  CHECK_EQ(tr_msg_add_str(m, NULL, 3), TR_EINVAL);
  CHECK_EQ(tr_msg_add_nil(m), TR_EINVAL);
  tr_msg_free(m);
  m = tr_msg_new("inval");
  CHECK_EQ(tr_msg_add_cstr(m, NULL), TR_EINVAL);
  CHECK_EQ(tr__msg_check(m), TR_EINVAL);
  CHECK_EQ(tr_msg_unpack(m, ""), TR_EBADMSG); /* unreadable, whatever why */
  tr_msg_free(m);
  CHECK_EQ(tr_msg_add_nil(NULL), TR_EINVAL);
  CHECK_EQ(tr_msg_add_map(NULL, 1), TR_EINVAL);
  CHECK_EQ(tr__msg_check(NULL), TR_EINVAL);

  /* Tables that could never fit are refused before anything is written. */
  m = tr_msg_new("huge");
  CHECK_EQ(tr_msg_add_array(m, UINT32_MAX), TR_ERANGE);
  tr_msg_free(m);
  m = tr_msg_new("huge");
  CHECK_EQ(tr_msg_add_map(m, TR_MAX_MSG / 2 + 1), TR_ERANGE);
  tr_msg_free(m);

  /* Growing past TR_MAX_MSG: the second 33 MB string does not fit. */
  size_t half = TR_MAX_MSG / 2 + 1;
  char *s = calloc(1, half);
  m = tr_msg_new("max");
  CHECK_EQ(tr_msg_add_str(m, s, half), 0);
  CHECK_EQ(tr_msg_add_str(m, s, half), TR_ERANGE);
  CHECK_EQ(tr_msg_argc(m), 1);
  CHECK(m->cap <= TR_MAX_MSG);
  tr_msg_free(m);
  free(s);
}

static void test_unfinished(void) {
  tr_msg *m = tr_msg_new("open");
  tr_msg_add_int(m, 1);
  CHECK_EQ(tr_msg_add_array(m, 2), 0);
  CHECK_EQ(tr_msg_add_int(m, 2), 0);
  CHECK_EQ(tr__msg_check(m), TR_EBADMSG);
  CHECK(tr_msg_bytes(m, NULL) == NULL);
  CHECK(tr_msg_arg(m, 0) == NULL);
  CHECK_EQ(tr_msg_unpack(m, "i", NULL), TR_EBADMSG);
  tr_msg *c = tr_msg_clone(m); /* a clone keeps the open tables too */
  CHECK_EQ(tr_msg_add_map(m, 1), 0);
  CHECK_EQ(tr__msg_check(m), TR_EBADMSG);
  CHECK_EQ(tr_msg_add_nil(m), 0);
  CHECK_EQ(tr__msg_check(m), TR_EBADMSG);
  CHECK_EQ(tr_msg_add_nil(m), 0); /* closes the map, then the array */
  CHECK_EQ(tr__msg_check(m), 0);
  CHECK_EQ(tr_msg_argc(m), 2);
  CHECK(agree_msg(m));
  CHECK_EQ(tr__msg_check(c), TR_EBADMSG);
  CHECK_EQ(tr_msg_add_cstr(c, "x"), 0);
  CHECK_EQ(tr__msg_check(c), 0);
  CHECK(same_str(tr_value_at(tr_msg_arg(c, 1), 1), "x", 1));
  CHECK(agree_msg(c));
  tr_msg_free(c);
  tr_msg_free(m);
  /* Freed while a table is open: nothing leaks. */
  m = tr_msg_new("leak");
  tr_msg_add_array(m, 5);
  tr_msg_free(m);
}

/* depth nested one-item arrays around an int. */
static tr_msg *nested(int depth, int *err) {
  tr_msg *m = tr_msg_new("deep");
  *err = 0;
  for (int i = 0; i < depth && !*err; i++)
    *err = tr_msg_add_array(m, 1);
  if (!*err)
    *err = tr_msg_add_int(m, 42);
  return m;
}

static void test_depth(void) {
  int err;
  tr_msg *m = nested(TR_MAX_DEPTH, &err);
  CHECK_EQ(err, 0);
  CHECK_EQ(tr__msg_check(m), 0);
  const tr_value *v = tr_msg_arg(m, 0);
  for (int i = 0; i < TR_MAX_DEPTH; i++)
    v = tr_value_at(v, 0);
  CHECK_EQ(int_of(v), 42);
  CHECK(agree_msg(m));
  size_t len;
  const void *bytes = tr_msg_bytes(m, &len);
  tr_msg *d = decode_copy(bytes, len, &err);
  CHECK(d != NULL && err == 0);
  tr_msg_free(d);

  /* One more level: refused by the builder... */
  tr_msg_free(m);
  m = nested(TR_MAX_DEPTH + 1, &err);
  CHECK_EQ(err, TR_ERANGE);
  CHECK_EQ(tr__msg_check(m), TR_ERANGE);
  tr_msg_free(m);
  m = tr_msg_new("deep"); /* ...even an empty one */
  for (int i = 0; i < TR_MAX_DEPTH; i++)
    tr_msg_add_map(m, 1), tr_msg_add_nil(m);
  CHECK_EQ(tr_msg_add_array(m, 0), TR_ERANGE);
  tr_msg_free(m);

  /* ...and by the decoder. */
  uint8_t buf[64];
  size_t n = 0;
  buf[n++] = 0x92, buf[n++] = 0xa1, buf[n++] = 'd';
  for (int i = 0; i <= TR_MAX_DEPTH; i++)
    buf[n++] = 0x91;
  buf[n++] = 0x2a;
  CHECK(decode_copy(buf, n, &err) == NULL && err == TR_EBADMSG);
  buf[3 + TR_MAX_DEPTH] = 0x90; /* the deepest table empty: still too deep */
  CHECK(decode_copy(buf, n - 1, &err) == NULL && err == TR_EBADMSG);
  d = decode_copy(buf + 1, n - 1, &err); /* wrong shape anyway */
  CHECK(d == NULL);
  /* TR_MAX_DEPTH levels by hand: accepted. */
  n = 0;
  buf[n++] = 0x92, buf[n++] = 0xa1, buf[n++] = 'd';
  for (int i = 1; i < TR_MAX_DEPTH; i++)
    buf[n++] = 0x81, buf[n++] = 0xc0;
  buf[n++] = 0x90;
  CHECK(n <= sizeof buf);
  d = decode_copy(buf, n, &err);
  CHECK(d != NULL && err == 0);
  CHECK(agree_msg(d));
  tr_msg_free(d);
}

static void test_decode_roundtrip(void) {
  tr_msg *m = sample();
  size_t len, len2;
  const char *bytes = tr_msg_bytes(m, &len);
  int err = 1;
  tr_msg *d = decode_copy(bytes, len, &err);
  CHECK(d != NULL && err == 0);
  const char *bytes2 = tr_msg_bytes(d, &len2);
  CHECK(len2 == len && !memcmp(bytes, bytes2, len));
  CHECK(tr_msg_is(d, "sample"));
  CHECK_EQ(tr_msg_argc(d), tr_msg_argc(m));
  CHECK_EQ(tr_msg_kind(d), TR_KIND_SEND);
  CHECK(agree_msg(d));
  tr_msg_free(d);
  tr_msg_free(m);

  /* A foreign encoding (fixarray header, str8 name, bin, float32, ext8
   * pid, uint64 past INT64_MAX) is accepted, read, and can be added to. */
  static const uint8_t foreign[] = {
      0x96, 0xd9, 0x01, 'f',  0xc4, 0x02, 0x00, 0x01, 0xca, 0x3f, 0xc0,
      0x00, 0x00, 0xc7, 0x08, 0x01, 0,    0,    0,    0,    0,    0,
      0,    9,    0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xd3, 0x80, 0,    0,    0,    0,    0,    0,    0};
  d = decode_copy(foreign, sizeof foreign, NULL);
  CHECK(d != NULL);
  CHECK(tr_msg_is(d, "f"));
  CHECK_EQ(tr_msg_argc(d), 5);
  CHECK(same_str(tr_msg_arg(d, 0), "\0\1", 2)); /* bin reads as str */
  double f = 0;
  CHECK(tr_value_float(tr_msg_arg(d, 1), &f) == 0 && f == 1.5);
  tr_pid pid = 0;
  CHECK(tr_value_pid(tr_msg_arg(d, 2), &pid) == 0 && pid == 9);
  int64_t i = 5;
  CHECK_EQ(tr_value_int(tr_msg_arg(d, 3), &i), TR_ERANGE);
  CHECK_EQ(i, 5);
  CHECK(tr_value_float(tr_msg_arg(d, 3), &f) == 0 &&
        f == 18446744073709551615.0);
  CHECK(int_of(tr_msg_arg(d, 4)) == INT64_MIN);
  CHECK(agree_msg(d));
  CHECK_EQ(tr_msg_add_int(d, 77), 0);
  CHECK_EQ(tr_msg_argc(d), 6);
  CHECK_EQ(int_of(tr_msg_arg(d, 5)), 77);
  CHECK(agree_msg(d));
  tr_msg_free(d);
}

static void expect_bad(const void *buf, size_t len, const char *what) {
  int err = 0;
  tr_msg *m = decode_copy(buf, len, &err);
  if (m || err != TR_EBADMSG)
    fprintf(stderr, "accepted or wrong error: %s\n", what);
  CHECK(m == NULL && err == TR_EBADMSG);
  tr_msg_free(m);
}

static void test_decode_rejects(void) {
  tr_msg *m = sample();
  size_t len;
  const uint8_t *bytes = tr_msg_bytes(m, &len);
  for (size_t n = 0; n < len; n++)
    expect_bad(bytes, n, "truncated");
  uint8_t *more = malloc(len + 1);
  memcpy(more, bytes, len);
  more[len] = 0xc0;
  expect_bad(more, len + 1, "trailing byte");
  free(more);
  tr_msg_free(m);

  static const struct {
    const char *what;
    size_t len;
    const char *b;
  } bad[] = {
      {"fixint", 1, "\x01"},
      {"map", 4, "\x81\xa1x\xc0"},
      {"str", 2, "\xa1x"},
      {"empty array", 1, "\x90"},
      {"array32 empty", 5, "\xdd\0\0\0\0"},
      {"int name", 2, "\x91\x01"},
      {"nil name", 2, "\x91\xc0"},
      {"bin name", 3, "\x91\xc4\x00"},
      {"array name", 2, "\x91\x90"},
      {"bad ext type", 13, "\x92\xa1x\xd7\x02\0\0\0\0\0\0\0\1"},
      {"neg ext type", 13, "\x92\xa1x\xd7\xff\0\0\0\0\0\0\0\1"},
      {"ext 4 bytes", 9, "\x92\xa1x\xd6\x01\0\0\0\1"},
      {"ext8 9 bytes", 15, "\x92\xa1x\xc7\x09\x01\0\0\0\0\0\0\0\0\1"},
      {"fixext16", 21, "\x92\xa1x\xd8\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1"},
      {"never-used byte", 4, "\x92\xa1x\xc1"},
      {"huge count", 5, "\xdd\xff\xff\xff\xff"},
      {"huge inner count", 8, "\x92\xa1x\xdd\x7f\xff\xff\xff"},
      {"huge map", 8, "\x92\xa1x\xdf\x7f\xff\xff\xff"},
      {"huge str", 8, "\x92\xa1x\xdb\xff\xff\xff\xff"},
      {"short str", 5, "\x92\xa1x\xa3x"},
      {"short name", 2, "\x91\xa2"},
      {"count too small", 5, "\x91\xa1x\xc0\xc0"},
      {"count too big", 4, "\x93\xa1x\xc0"},
      {"map missing value", 5, "\x92\xa1x\x81\xc0"},
      {"two messages", 6, "\x91\xa1x\x91\xa1x"},
  };
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
    expect_bad(bad[k].b, bad[k].len, bad[k].what);

  int err = 0;
  CHECK(tr_msg_decode(NULL, 3, &err) == NULL && err == TR_EBADMSG);
  tr_msg *ok = tr_msg_decode("\x91\xa1x", 3, NULL); /* err may be NULL */
  CHECK(ok != NULL && tr_msg_argc(ok) == 0 && tr_msg_is(ok, "x"));
  tr_msg_free(ok);
  CHECK(tr_msg_decode("\x01", 1, NULL) == NULL);
  /* Bigger than TR_MAX_MSG: refused before a byte is read. */
  CHECK(tr_msg_decode("\x91\xa1x", (size_t)TR_MAX_MSG + 1, &err) == NULL &&
        err == TR_EBADMSG);
}

/* Whatever the decoder accepts must read without faults and agree with
 * msgpack-c; whatever it refuses must not crash or overread. */
static void fuzz_one(const uint8_t *buf, size_t len, int *accepted) {
  int err = 0;
  tr_msg *m = decode_copy(buf, len, &err);
  if (!m) {
    CHECK(err == TR_EBADMSG);
    return;
  }
  (*accepted)++;
  CHECK(agree_msg(m));
  tr_msg_free(m);
}

static void test_fuzz(void) {
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  uint8_t buf[96];
  int accepted = 0;
  for (int it = 0; it < 10000; it++) { /* random bytes, often a good start */
    size_t len = rng_next(&seed) % sizeof buf;
    for (size_t i = 0; i < len; i++)
      buf[i] = (uint8_t)rng_next(&seed);
    if (len >= 2 && (it & 1))
      buf[0] = 0x91 + (uint8_t)(it % 15), buf[1] = 0xa0;
    fuzz_one(buf, len, &accepted);
  }
  tr_msg *m = sample();
  size_t n;
  const uint8_t *bytes = tr_msg_bytes(m, &n);
  uint8_t *mut = malloc(n + 8);
  for (int it = 0; it < 10000; it++) { /* mutations of a valid message */
    size_t len = n - 4 + rng_next(&seed) % 9;
    memcpy(mut, bytes, n);
    memset(mut + n, 0xc0, 8);
    for (int k = 1 + (int)(rng_next(&seed) % 3); k > 0; k--)
      mut[rng_next(&seed) % len] = (uint8_t)rng_next(&seed);
    fuzz_one(mut, len, &accepted);
  }
  free(mut);
  tr_msg_free(m);
  CHECK(accepted > 100); /* the mutations do reach the readers */
}

static void test_value_accessors(void) {
  tr_msg *m =
      tr_msg_pack("t", "nbIdSp", 1, (int64_t)5, 1.5, "s", (size_t)1, (tr_pid)3);
  tr_msg_add_array(m, 1), tr_msg_add_int(m, 1);
  tr_msg_add_map(m, 1), tr_msg_add_int(m, 1), tr_msg_add_int(m, 2);
  const tr_value *v[8];
  for (int i = 0; i < 8; i++)
    v[i] = tr_msg_arg(m, (size_t)i);
  static const int types[] = {TR_NIL, TR_BOOL, TR_INT,   TR_FLOAT,
                              TR_STR, TR_PID,  TR_ARRAY, TR_MAP};
  for (int i = 0; i < 8; i++) {
    int b;
    int64_t I;
    double d;
    const char *s;
    size_t len;
    tr_pid p;
    CHECK_EQ(tr_value_type(v[i]), types[i]);
    CHECK_EQ(tr_value_bool(v[i], &b), types[i] == TR_BOOL ? 0 : TR_ETYPE);
    CHECK_EQ(tr_value_int(v[i], &I), types[i] == TR_INT ? 0 : TR_ETYPE);
    CHECK_EQ(tr_value_float(v[i], &d),
             types[i] == TR_INT || types[i] == TR_FLOAT ? 0 : TR_ETYPE);
    CHECK_EQ(tr_value_str(v[i], &s, &len), types[i] == TR_STR ? 0 : TR_ETYPE);
    CHECK_EQ(tr_value_pid(v[i], &p), types[i] == TR_PID ? 0 : TR_ETYPE);
    CHECK_EQ(tr_value_len(v[i]), types[i] >= TR_ARRAY ? 1 : 0);
    CHECK((tr_value_at(v[i], 0) != NULL) == (types[i] == TR_ARRAY));
    CHECK((tr_value_key(v[i], 0) != NULL) == (types[i] == TR_MAP));
    CHECK((tr_value_val(v[i], 0) != NULL) == (types[i] == TR_MAP));
  }
  CHECK(tr_value_at(v[6], 1) == NULL);
  CHECK(tr_value_at(v[6], SIZE_MAX) == NULL);
  CHECK(tr_msg_arg(m, 8) == NULL);
  CHECK(tr_msg_arg(m, SIZE_MAX) == NULL);
  /* NULL values. */
  int b;
  CHECK_EQ(tr_value_type(NULL), -1);
  CHECK_EQ(tr_value_bool(NULL, &b), TR_EINVAL);
  CHECK_EQ(tr_value_int(NULL, NULL), TR_EINVAL);
  CHECK_EQ(tr_value_float(NULL, NULL), TR_EINVAL);
  CHECK_EQ(tr_value_str(NULL, NULL, NULL), TR_EINVAL);
  CHECK_EQ(tr_value_pid(NULL, NULL), TR_EINVAL);
  CHECK_EQ(tr_value_len(NULL), 0);
  CHECK(tr_value_at(NULL, 0) == NULL && tr_value_key(NULL, 0) == NULL &&
        tr_value_val(NULL, 0) == NULL);
  /* NULL outputs: check only. */
  CHECK_EQ(tr_value_int(v[2], NULL), 0);
  CHECK_EQ(tr_value_str(v[4], NULL, NULL), 0);
  tr_msg_free(m);
  /* NULL messages. */
  size_t len = 1;
  CHECK(tr_msg_name(NULL, &len) == NULL && len == 0);
  CHECK(tr_msg_arg(NULL, 0) == NULL);
  CHECK(tr_msg_clone(NULL) == NULL);
  tr_msg_free(NULL);
}

static void test_clone(void) {
  tr_msg *m = sample();
  tr__msg_envelope(m, TR_KIND_CALL, 42, 7);
  m->next = m; /* the mailbox link is not copied */
  tr_msg *c = tr_msg_clone(m);
  CHECK(c != NULL && c->next == NULL);
  CHECK_EQ(tr_msg_kind(c), TR_KIND_CALL);
  CHECK(tr_msg_from(c) == 42 && tr_msg_session(c) == 7);
  size_t a, b;
  const void *ba = tr_msg_bytes(m, &a), *bb = tr_msg_bytes(c, &b);
  CHECK(a == b && ba != bb && !memcmp(ba, bb, a));
  tr_msg_add_int(c, 5);
  CHECK_EQ(tr_msg_argc(c), tr_msg_argc(m) + 1);
  CHECK(tr_msg_arg(m, tr_msg_argc(m)) == NULL);
  tr_msg_free(m); /* the clone lives on alone */
  CHECK(same_str(tr_value_key(tr_msg_arg(c, 6), 0), "k", 1));
  CHECK_EQ(int_of(tr_msg_arg(c, 8)), 5);
  CHECK(agree_msg(c));
  tr_msg *cc = tr_msg_clone(c);
  tr_msg_free(c);
  CHECK(agree_msg(cc));
  tr_msg_free(cc);
  /* A big message clones to the heap; a small one stays inline. */
  m = tr_msg_new("x");
  c = tr_msg_clone(m);
  CHECK(c->buf == c->small);
  tr_msg_free(c);
  tr_msg_free(m);
}

int main(void) {
  RUN(test_strerror);
  RUN(test_scalars);
  RUN(test_string_sizes);
  RUN(test_containers);
  RUN(test_pack_unpack);
  RUN(test_names);
  RUN(test_grow);
  RUN(test_sticky_errors);
  RUN(test_unfinished);
  RUN(test_depth);
  RUN(test_decode_roundtrip);
  RUN(test_decode_rejects);
  RUN(test_fuzz);
  RUN(test_value_accessors);
  RUN(test_clone);
  return test_report();
}
