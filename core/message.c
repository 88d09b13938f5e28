/*
 * message.c -- building, checking and reading messages.
 *
 * A message is one MessagePack buffer: an array whose first element is the
 * name (a str) and whose other elements are the arguments. The envelope
 * (sender, session, kind) lives beside it in struct tr_msg (message.h).
 *
 * Building. Values are encoded by msgpack-c's packer, whose write callback
 * appends to m->buf: first the struct's inline `small` bytes, then the heap,
 * doubling. The buffer starts with an array32 header (0xdd + 4 bytes count)
 * that is patched each time a top-level value completes, so the bytes are
 * valid MessagePack whenever no array or map is left open. Open containers
 * are tracked in m->open, a stack of how many values each still takes; it
 * is allocated only while a container is open. Any failure is stored in
 * m->err and every later add returns it without touching the buffer.
 *
 * Reading. A `const tr_value *` is nothing but a pointer to the first byte
 * of an encoded value inside m->buf. The reader below is hand-written on
 * purpose: msgpack-c's C unpacker builds an object tree in a zone allocated
 * per message, while reading arguments in place needs no allocation at all.
 * It also cannot be trusted with foreign bytes: it allocates room for an
 * array's claimed count before reading a single element, so the 5 bytes
 * dd ff ff ff ff make it ask for ~100 GB (NOMEM, or an abort under ASAN),
 * and it reports "too deep" with the same code as out-of-memory.
 *
 * So foreign buffers are checked by check_msg: one bounded pass that never
 * reads past the end, refuses counts larger than the bytes left, bounds the
 * nesting and the ext types. After that every buffer a reader can see is
 * valid (our packer made it, or check_msg passed it), which is the
 * invariant the tr_value_* functions rely on: they get only a value
 * pointer, so they skip without bounds. Where the message's end is known
 * (tr_msg_arg, tr_msg_unpack) skipping is bounded anyway; it is cheap.
 */
#include <limits.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"

#define HDR 5    /* 0xdd + 4-byte count: the array32 header we always write */
#define TR_EXT 8 /* internal: an ext that is not a pid; refused by check */

const char *tr_strerror(int err) {
  switch (err) {
  case TR_OK:
    return "ok";
  case TR_ENOPROC:
    return "no such actor";
  case TR_EFULL:
    return "mailbox full";
  case TR_ENOMEM:
    return "out of memory";
  case TR_EINVAL:
    return "invalid argument";
  case TR_ETIMEDOUT:
    return "timed out";
  case TR_EBADMSG:
    return "bad message";
  case TR_ETYPE:
    return "wrong type";
  case TR_ERANGE:
    return "out of range";
  case TR_EEXIST:
    return "name already taken";
  case TR_ESTOPPED:
    return "host stopped";
  case TR_EINIT:
    return "actor init failed";
  case TR_ETHREAD:
    return "wrong thread";
  case TR_EREPLY:
    return "error reply";
  default:
    return "unknown error";
  }
}

/* ------------------------------------------------------------ big endian */

static inline uint16_t be16(const uint8_t *p) {
  return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}
static inline uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}
static inline uint64_t be64(const uint8_t *p) {
  return (uint64_t)be32(p) << 32 | be32(p + 4);
}
static inline void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* --------------------------------------------------------- the reader */

/* What one value's first bytes say. */
typedef struct head {
  uint8_t type; /* TR_NIL..TR_MAP, or TR_EXT */
  uint8_t size; /* bytes of the header, fixed-size payload included */
  uint32_t n;   /* str/bin/ext: payload bytes; array: items; map: pairs */
} head;

/* Reads the header at p. end NULL trusts the buffer (see the top comment);
 * otherwise -1 if the header is cut short or the byte is never used (0xc1).
 * The payload (n bytes or items) is not checked here. */
static int read_head(const uint8_t *p, const uint8_t *end, head *h) {
  static const uint8_t fixed[] = {
      /* c0..df: header bytes (with fixed-size payloads and ext types) */
      1, 0, 1, 1, 2, 3, 5, 3, 4, 6, 5, 9, 2, 3, 5, 9,
      2, 3, 5, 9, 2, 2, 2, 2, 2, 2, 3, 5, 3, 5, 3, 5};
  h->type = TR_EXT, h->size = 1, h->n = 0;
  if (end && p >= end)
    return -1;
  uint8_t b = p[0];
  if (b <= 0x7f || b >= 0xe0) { /* fixint */
    h->type = TR_INT;
  } else if (b <= 0x8f) {
    h->type = TR_MAP, h->n = b & 0x0f;
  } else if (b <= 0x9f) {
    h->type = TR_ARRAY, h->n = b & 0x0f;
  } else if (b <= 0xbf) {
    h->type = TR_STR, h->n = b & 0x1f;
  }
  if (b < 0xc0 || b >= 0xe0)
    return 0;
  if (b == 0xc1)
    return -1;
  h->size = fixed[b - 0xc0];
  if (end && (size_t)(end - p) < h->size)
    return -1;
  switch (b) {
  case 0xc0:
    h->type = TR_NIL;
    break;
  case 0xc2:
  case 0xc3:
    h->type = TR_BOOL;
    break;
  case 0xc4:
  case 0xd9:
    h->type = TR_STR, h->n = p[1];
    break;
  case 0xc5:
  case 0xda:
    h->type = TR_STR, h->n = be16(p + 1);
    break;
  case 0xc6:
  case 0xdb:
    h->type = TR_STR, h->n = be32(p + 1);
    break;
  case 0xc7:
    h->n = p[1];
    break;
  case 0xc8:
    h->n = be16(p + 1);
    break;
  case 0xc9:
    h->n = be32(p + 1);
    break;
  case 0xca:
  case 0xcb:
    h->type = TR_FLOAT;
    break;
  case 0xd4:
  case 0xd5:
  case 0xd6:
  case 0xd7:
  case 0xd8:
    h->n = 1u << (b - 0xd4); /* fixext: the size is in the format byte */
    break;
  case 0xdc:
    h->type = TR_ARRAY, h->n = be16(p + 1);
    break;
  case 0xdd:
    h->type = TR_ARRAY, h->n = be32(p + 1);
    break;
  case 0xde:
    h->type = TR_MAP, h->n = be16(p + 1);
    break;
  case 0xdf:
    h->type = TR_MAP, h->n = be32(p + 1);
    break;
  default:
    h->type = TR_INT;
    break; /* cc..d3 */
  }
  if ((b >= 0xc7 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8))
    h->type = (p[h->size - 1] == TR_EXT_PID && h->n == 8) ? TR_PID : TR_EXT;
  return 0;
}

/* Skips n values from p. Returns where they end, or NULL if they would run
 * past end (NULL end: trusted, no checks). Iterative: a count of values
 * still to skip replaces recursion. */
static const uint8_t *skip(const uint8_t *p, const uint8_t *end, size_t n) {
  head h;
  while (n) {
    if (read_head(p, end, &h))
      return NULL;
    p += h.size, n--;
    if (h.type == TR_ARRAY)
      n += h.n;
    else if (h.type == TR_MAP)
      n += 2 * (size_t)h.n;
    else if (end && h.n > (size_t)(end - p))
      return NULL;
    else
      p += h.n;
  }
  return p;
}

/* Where a checked buffer keeps its parts. */
typedef struct layout {
  uint32_t hdr;      /* size of the outer array's header */
  uint32_t argc;     /* values after the name */
  uint32_t name_off; /* the name's bytes */
  uint32_t name_len;
  uint32_t args_off; /* the first argument */
} layout;

/* Checks a foreign buffer in one bounded pass: one array, a str first, no
 * trailing bytes, tables no deeper than TR_MAX_DEPTH, only pid exts, no
 * count larger than the bytes left (every value takes at least one). */
static int check_msg(const uint8_t *buf, size_t len, layout *out) {
  const uint8_t *p = buf, *end = buf + len;
  uint32_t left[TR_MAX_DEPTH + 1]; /* values still due at each level */
  int d = 0;
  head h;
  if (read_head(p, end, &h) || h.type != TR_ARRAY || h.n == 0)
    return -1;
  out->hdr = h.size, out->argc = h.n - 1;
  p += h.size;
  if (read_head(p, end, &h) || h.type != TR_STR || (*p >= 0xc4 && *p <= 0xc6))
    return -1; /* the name is a str, not bin */
  p += h.size;
  if (h.n > (size_t)(end - p))
    return -1;
  out->name_off = (uint32_t)(p - buf), out->name_len = h.n;
  p += h.n;
  out->args_off = (uint32_t)(p - buf);
  left[0] = out->argc;
  for (;;) {
    while (left[d] == 0)
      if (d-- == 0)
        return p == end ? 0 : -1;
    left[d]--;
    if (read_head(p, end, &h))
      return -1;
    p += h.size;
    if (h.type == TR_ARRAY || h.type == TR_MAP) {
      uint64_t items = h.type == TR_MAP ? 2 * (uint64_t)h.n : h.n;
      if (d == TR_MAX_DEPTH || items > (size_t)(end - p))
        return -1;
      if (items)
        left[++d] = (uint32_t)items;
    } else if (h.type == TR_EXT || h.n > (size_t)(end - p)) {
      return -1;
    } else {
      p += h.n;
    }
  }
}

/* ----------------------------------------------------------- building */

static tr_msg *msg_alloc(size_t len) {
  tr_msg *m = malloc(sizeof *m);
  if (!m)
    return NULL;
  memset(m, 0, offsetof(tr_msg, small));
  m->buf = m->small, m->cap = TR_MSG_INLINE;
  if (len > TR_MSG_INLINE) {
    if (!(m->buf = malloc(len)))
      return free(m), NULL;
    m->cap = len;
  }
  return m;
}

/* Sets the sticky error and returns it. */
static int fail(tr_msg *m, int err) {
  if (!m->err)
    m->err = err;
  return m->err;
}

#if defined(__GNUC__)
#define COLD __attribute__((noinline, cold))
#else
#define COLD
#endif

/* Makes room for n more bytes: small -> heap, doubling, up to TR_MAX_MSG.
 * Kept out of line so that put stays small enough to inline. */
COLD static int grow(tr_msg *m, size_t n) {
  size_t need = m->len + n, cap = m->cap;
  if (n > TR_MAX_MSG || need > TR_MAX_MSG)
    return fail(m, TR_ERANGE);
  while (cap < need)
    cap *= 2;
  if (cap > TR_MAX_MSG)
    cap = TR_MAX_MSG;
  char *b = m->buf == m->small ? malloc(cap) : realloc(m->buf, cap);
  if (!b)
    return fail(m, TR_ENOMEM);
  if (m->buf == m->small)
    memcpy(b, m->small, m->len);
  m->buf = b, m->cap = cap;
  return 0;
}

/* msgpack-c's write callback. All or nothing, so a failed write leaves no
 * half-copied bytes. */
static int put(void *data, const char *s, size_t n) {
  tr_msg *m = data;
  if (n > m->cap - m->len && grow(m, n))
    return m->err;
  if (n) /* memcpy may not see NULL, even for 0 bytes */
    memcpy(m->buf + m->len, s, n);
  m->len += n;
  return 0;
}

static inline tr_msg *init_short(tr_msg *m, const char *name, size_t len) {
  static const char hdr[HDR] = {(char)0xdd, 0, 0, 0, 1};
  _Static_assert(HDR + 1 + 31 <= TR_MSG_INLINE, "a fixstr name fits inline");
  m->next = NULL, m->from = 0, m->session = 0, m->err = 0, m->argc = 0;
  m->depth = 0, m->kind = 0, m->inherited = 0, m->open = NULL;
  m->buf = m->small, m->cap = TR_MSG_INLINE;
  memcpy(m->buf, hdr, HDR);
  m->buf[HDR] = (char)(0xa0 | len);
  if (len)
    memcpy(m->buf + HDR + 1, name, len);
  m->name_off = HDR + 1, m->name_len = (uint32_t)len;
  m->len = m->args_off = (uint32_t)(HDR + 1 + len);
  return m;
}

tr_msg *tr__msg_init_short(tr_msg *m, const char *name, size_t len) {
  return init_short(m, name, len);
}

tr_msg *tr_msg_newn(const char *name, size_t len) {
  static const char hdr[HDR] = {(char)0xdd, 0, 0, 0, 1};
  tr_msg *m;
  if ((!name && len) || len > TR_MAX_MSG - HDR - 5)
    return NULL;
  if (len <= TR__SHORT_NAME) { /* the usual: its bytes written directly */
    if (!(m = malloc(sizeof *m)))
      return NULL;
    return init_short(m, name, len);
  }
  if (!(m = msg_alloc(0)))
    return NULL;
  msgpack_packer pk;
  msgpack_packer_init(&pk, m, put);
  put(m, hdr, HDR);
  msgpack_pack_str(&pk, len);
  m->name_off = (uint32_t)m->len, m->name_len = (uint32_t)len;
  if (msgpack_pack_str_body(&pk, name, len))
    return tr_msg_free(m), NULL;
  m->args_off = (uint32_t)m->len;
  return m;
}

tr_msg *tr_msg_new(const char *name) {
  return name ? tr_msg_newn(name, strlen(name)) : NULL;
}

/* A value (scalar or empty container) is complete: count it at its level,
 * then close every container it filled. */
static void completed(tr_msg *m) {
  if (m->depth == 0) {
    put32((uint8_t *)m->buf + 1, ++m->argc + 1);
    return;
  }
  m->open[m->depth - 1]--;
  while (m->depth && m->open[m->depth - 1] == 0)
    m->depth--;
  if (m->depth == 0)
    free(m->open), m->open = NULL;
}

/* Each add starts here: NULL and sticky errors, and a packer on m. */
#define BEGIN(m, pk)                                                           \
  msgpack_packer pk;                                                           \
  if (!(m))                                                                    \
    return TR_EINVAL;                                                          \
  if ((m)->err)                                                                \
    return (m)->err;                                                           \
  msgpack_packer_init(&pk, (m), put)

/* The packer's callback has set m->err when a write fails. */
#define DONE(m, r) return (r) ? (m)->err : (completed(m), 0)

int tr_msg_add_nil(tr_msg *m) {
  BEGIN(m, pk);
  DONE(m, msgpack_pack_nil(&pk));
}

int tr_msg_add_bool(tr_msg *m, int b) {
  BEGIN(m, pk);
  DONE(m, b ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk));
}

int tr_msg_add_int(tr_msg *m, int64_t i) {
  BEGIN(m, pk);
  DONE(m, msgpack_pack_int64(&pk, i));
}

int tr_msg_add_float(tr_msg *m, double d) {
  BEGIN(m, pk);
  DONE(m, msgpack_pack_double(&pk, d));
}

int tr_msg_add_str(tr_msg *m, const char *s, size_t len) {
  BEGIN(m, pk);
  if (!s && len)
    return fail(m, TR_EINVAL);
  if (len > TR_MAX_MSG)
    return fail(m, TR_ERANGE);
  DONE(m, msgpack_pack_str(&pk, len) || msgpack_pack_str_body(&pk, s, len));
}

int tr_msg_add_cstr(tr_msg *m, const char *s) {
  if (m && !m->err && !s)
    return fail(m, TR_EINVAL);
  return tr_msg_add_str(m, s, s ? strlen(s) : 0);
}

int tr_msg_add_pid(tr_msg *m, tr_pid pid) {
  BEGIN(m, pk);
  uint8_t b[8];
  put32(b, (uint32_t)(pid >> 32)), put32(b + 4, (uint32_t)pid);
  DONE(m, msgpack_pack_ext(&pk, 8, TR_EXT_PID) ||
              msgpack_pack_ext_body(&pk, b, 8));
}

/* Opens an array or map taking `items` values (a map's n pairs are 2n). */
static int add_container(tr_msg *m, int map, uint32_t n) {
  BEGIN(m, pk);
  uint64_t items = map ? 2 * (uint64_t)n : n;
  if (m->depth >= TR_MAX_DEPTH || items > TR_MAX_MSG)
    return fail(m, TR_ERANGE);
  if (!m->open && items) {
    if (!(m->open = malloc(TR_MAX_DEPTH * sizeof *m->open)))
      return fail(m, TR_ENOMEM);
  }
  if (map ? msgpack_pack_map(&pk, n) : msgpack_pack_array(&pk, n)) {
    if (m->depth == 0)
      free(m->open), m->open = NULL;
    return m->err;
  }
  if (!items)
    DONE(m, 0); /* empty: complete at once */
  /* Count the container in its parent now, without closing the parent:
   * its items are still to come. */
  if (m->depth == 0)
    put32((uint8_t *)m->buf + 1, ++m->argc + 1);
  else
    m->open[m->depth - 1]--;
  m->open[m->depth++] = (uint32_t)items;
  return 0;
}

int tr_msg_add_array(tr_msg *m, uint32_t n) { return add_container(m, 0, n); }
int tr_msg_add_map(tr_msg *m, uint32_t n) { return add_container(m, 1, n); }

int tr__msg_check(const tr_msg *m) {
  if (!m)
    return TR_EINVAL;
  return m->err ? m->err : m->depth ? TR_EBADMSG : 0;
}

tr_msg *tr_msg_pack(const char *name, const char *fmt, ...) {
  tr_msg *m = tr_msg_new(name);
  if (!m || !fmt)
    return tr_msg_free(m), NULL;
  va_list ap;
  va_start(ap, fmt);
  for (const char *f = fmt; *f && !m->err; f++) {
    switch (*f) {
    case 'n':
      tr_msg_add_nil(m);
      break;
    case 'b':
      tr_msg_add_bool(m, va_arg(ap, int));
      break;
    case 'i':
      tr_msg_add_int(m, va_arg(ap, int));
      break;
    case 'I':
      tr_msg_add_int(m, va_arg(ap, int64_t));
      break;
    case 'd':
      tr_msg_add_float(m, va_arg(ap, double));
      break;
    case 's':
      tr_msg_add_cstr(m, va_arg(ap, const char *));
      break;
    case 'S': {
      const char *s = va_arg(ap, const char *);
      tr_msg_add_str(m, s, va_arg(ap, size_t));
      break;
    }
    case 'p':
      tr_msg_add_pid(m, va_arg(ap, tr_pid));
      break;
    default:
      fail(m, TR_EINVAL);
      break;
    }
  }
  va_end(ap);
  if (m->err)
    tr_msg_free(m), m = NULL;
  return m;
}

/* ------------------------------------------------ whole messages */

tr_msg *tr_msg_decode(const void *buf, size_t len, int *err) {
  layout l;
  int e = TR_EBADMSG;
  tr_msg *m = NULL;
  if (!buf || len > TR_MAX_MSG || check_msg(buf, len, &l))
    goto out;
  /* The header is rewritten as array32, so that adds can patch it. */
  size_t body = len - l.hdr, shift = HDR - l.hdr;
  if (HDR + body > TR_MAX_MSG)
    goto out;
  e = TR_ENOMEM;
  if (!(m = msg_alloc(HDR + body)))
    goto out;
  m->buf[0] = (char)0xdd;
  put32((uint8_t *)m->buf + 1, l.argc + 1);
  memcpy(m->buf + HDR, (const char *)buf + l.hdr, body);
  m->len = HDR + body;
  m->argc = l.argc, m->name_len = l.name_len;
  m->name_off = (uint32_t)(l.name_off + shift);
  m->args_off = (uint32_t)(l.args_off + shift);
  m->kind = TR_KIND_SEND;
  e = 0;
out:
  if (err)
    *err = e;
  return m;
}

const void *tr_msg_bytes(const tr_msg *m, size_t *len) {
  int ok = tr__msg_check(m) == 0;
  if (len)
    *len = ok ? m->len : 0;
  return ok ? m->buf : NULL;
}

tr_msg *tr_msg_clone(const tr_msg *m) {
  if (!m)
    return NULL;
  tr_msg *c = msg_alloc(m->len);
  if (!c)
    return NULL;
  memcpy(c->buf, m->buf, m->len);
  c->len = m->len;
  c->from = m->from, c->session = m->session, c->kind = m->kind;
  c->err = m->err, c->argc = m->argc, c->depth = m->depth;
  c->name_off = m->name_off, c->name_len = m->name_len;
  c->args_off = m->args_off;
  if (m->open) { /* cloned while building: keep the open containers too */
    if (!(c->open = malloc(TR_MAX_DEPTH * sizeof *c->open)))
      return tr_msg_free(c), NULL;
    memcpy(c->open, m->open, TR_MAX_DEPTH * sizeof *c->open);
  }
  return c;
}

void tr_msg_free(tr_msg *m) {
  if (!m)
    return;
  if (m->buf != m->small)
    free(m->buf);
  free(m->open);
  free(m);
}

/* ------------------------------------------------------ reading */

/* The name's bytes: NOT NUL-terminated (names may hold NUL); use *len. */
const char *tr_msg_name(const tr_msg *m, size_t *len) {
  if (len)
    *len = m ? m->name_len : 0;
  return m ? m->buf + m->name_off : NULL;
}

int tr_msg_is(const tr_msg *m, const char *name) {
  if (!m || !name)
    return 0;
  size_t n = strlen(name);
  return n == m->name_len && memcmp(m->buf + m->name_off, name, n) == 0;
}

int tr_msg_kind(const tr_msg *m) { return m ? m->kind : -1; }
tr_pid tr_msg_from(const tr_msg *m) { return m ? m->from : 0; }
uint64_t tr_msg_session(const tr_msg *m) { return m ? m->session : 0; }
size_t tr_msg_argc(const tr_msg *m) { return m ? m->argc : 0; }

/* O(i): values are skipped from the first argument. */
const tr_value *tr_msg_arg(const tr_msg *m, size_t i) {
  if (tr__msg_check(m) || i >= m->argc)
    return NULL;
  const uint8_t *b = (const uint8_t *)m->buf;
  const uint8_t *p = skip(b + m->args_off, b + m->len, i);
  return p && p < b + m->len ? (const tr_value *)p : NULL;
}

int tr_value_type(const tr_value *v) {
  head h;
  if (!v)
    return -1;
  read_head((const uint8_t *)v, NULL, &h);
  return h.type == TR_EXT ? -1 : h.type;
}

int tr_value_bool(const tr_value *v, int *out) {
  if (!v)
    return TR_EINVAL;
  uint8_t b = *(const uint8_t *)v;
  if (b != 0xc2 && b != 0xc3)
    return TR_ETYPE;
  if (out)
    *out = b == 0xc3;
  return 0;
}

int tr_value_int(const tr_value *v, int64_t *out) {
  if (!v)
    return TR_EINVAL;
  const uint8_t *p = (const uint8_t *)v;
  int64_t i;
  uint64_t u;
  switch (p[0]) {
  case 0xcc:
    i = p[1];
    break;
  case 0xcd:
    i = be16(p + 1);
    break;
  case 0xce:
    i = be32(p + 1);
    break;
  case 0xcf:
    if ((u = be64(p + 1)) > INT64_MAX)
      return TR_ERANGE;
    i = (int64_t)u;
    break;
  case 0xd0:
    i = (int8_t)p[1];
    break;
  case 0xd1:
    i = (int16_t)be16(p + 1);
    break;
  case 0xd2:
    i = (int32_t)be32(p + 1);
    break;
  case 0xd3: /* two's complement without implementation-defined casts */
    u = be64(p + 1);
    i = u <= INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
    break;
  default:
    if (p[0] <= 0x7f)
      i = p[0];
    else if (p[0] >= 0xe0)
      i = (int8_t)p[0];
    else
      return TR_ETYPE;
  }
  if (out)
    *out = i;
  return 0;
}

int tr_value_float(const tr_value *v, double *out) {
  if (!v)
    return TR_EINVAL;
  const uint8_t *p = (const uint8_t *)v;
  double d;
  if (p[0] == 0xcb) {
    uint64_t u = be64(p + 1);
    memcpy(&d, &u, sizeof d);
  } else if (p[0] == 0xca) {
    uint32_t u = be32(p + 1);
    float f;
    memcpy(&f, &u, sizeof f);
    d = f;
  } else if (p[0] == 0xcf) { /* too big for int64, not for a double */
    d = (double)be64(p + 1);
  } else {
    int64_t i;
    int r = tr_value_int(v, &i);
    if (r)
      return r;
    d = (double)i;
  }
  if (out)
    *out = d;
  return 0;
}

/* Strings (and bin, for robustness) are NOT NUL-terminated: use *len. */
int tr_value_str(const tr_value *v, const char **s, size_t *len) {
  head h;
  if (!v)
    return TR_EINVAL;
  read_head((const uint8_t *)v, NULL, &h);
  if (h.type != TR_STR)
    return TR_ETYPE;
  if (s)
    *s = (const char *)v + h.size;
  if (len)
    *len = h.n;
  return 0;
}

int tr_value_pid(const tr_value *v, tr_pid *out) {
  head h;
  if (!v)
    return TR_EINVAL;
  read_head((const uint8_t *)v, NULL, &h);
  if (h.type != TR_PID)
    return TR_ETYPE;
  if (out)
    *out = be64((const uint8_t *)v + h.size);
  return 0;
}

size_t tr_value_len(const tr_value *v) {
  head h;
  if (!v)
    return 0;
  read_head((const uint8_t *)v, NULL, &h);
  return h.type == TR_ARRAY || h.type == TR_MAP ? h.n : 0;
}

/* Item i of an array (map 0) or of a map's flattened pairs (map 1). */
static const tr_value *item(const tr_value *v, int map, size_t i) {
  head h;
  if (!v)
    return NULL;
  const uint8_t *p = (const uint8_t *)v;
  read_head(p, NULL, &h);
  if (h.type != (map ? TR_MAP : TR_ARRAY))
    return NULL;
  if (i >= (map ? 2 * (size_t)h.n : h.n))
    return NULL;
  return (const tr_value *)skip(p + h.size, NULL, i);
}

int tr_msg_inherited(const tr_msg *m) { return m && m->inherited; }

const tr_value *tr_value_next(const tr_value *v) {
  return v ? (const tr_value *)skip((const uint8_t *)v, NULL, 1) : NULL;
}

const tr_value *tr_value_at(const tr_value *v, size_t i) {
  return item(v, 0, i);
}
const tr_value *tr_value_key(const tr_value *v, size_t i) {
  return i > SIZE_MAX / 2 - 1 ? NULL : item(v, 1, 2 * i);
}
const tr_value *tr_value_val(const tr_value *v, size_t i) {
  return i > SIZE_MAX / 2 - 1 ? NULL : item(v, 1, 2 * i + 1);
}

/* Reads arguments by format, zero-copy:
 *   n  checks a nil (takes no pointer)      b  int *  (0 or 1)
 *   i  int *  (TR_ERANGE if it does not fit)  I  int64_t *
 *   d  double * (ints convert)                p  tr_pid *
 *   s, S  const char **, size_t *: both letters give pointer AND length,
 *         since the bytes are not NUL-terminated (pack's 's' and 'S' make
 *         the same str, so one format string serves both ways)
 *   .  skips one argument (takes no pointer)
 * Any pointer may be NULL to check without storing. TR_ERANGE when there
 * are fewer arguments than letters (checked first), TR_ETYPE on a mismatch,
 * TR_EINVAL on an unknown letter, TR_EBADMSG for an unfinished message.
 * On error, outputs before the failing letter may have been written. */
int tr_msg_unpack(const tr_msg *m, const char *fmt, ...) {
  int r = 0;
  if (!m || !fmt)
    return TR_EINVAL;
  if (tr__msg_check(m))
    return TR_EBADMSG;
  if (strlen(fmt) > m->argc)
    return TR_ERANGE;
  const uint8_t *p = (const uint8_t *)m->buf + m->args_off;
  const uint8_t *end = (const uint8_t *)m->buf + m->len;
  va_list ap;
  va_start(ap, fmt);
  for (const char *f = fmt; *f && !r; f++) {
    const tr_value *v = (const tr_value *)p;
    switch (*f) {
    case 'n':
      r = tr_value_type(v) == TR_NIL ? 0 : TR_ETYPE;
      break;
    case 'b':
      r = tr_value_bool(v, va_arg(ap, int *));
      break;
    case 'i': {
      int *out = va_arg(ap, int *);
      int64_t i;
      if (!(r = tr_value_int(v, &i))) {
        if (i < INT_MIN || i > INT_MAX)
          r = TR_ERANGE;
        else if (out)
          *out = (int)i;
      }
      break;
    }
    case 'I':
      r = tr_value_int(v, va_arg(ap, int64_t *));
      break;
    case 'd':
      r = tr_value_float(v, va_arg(ap, double *));
      break;
    case 's':
    case 'S': {
      const char **s = va_arg(ap, const char **);
      r = tr_value_str(v, s, va_arg(ap, size_t *));
      break;
    }
    case 'p':
      r = tr_value_pid(v, va_arg(ap, tr_pid *));
      break;
    case '.':
      break;
    default:
      r = TR_EINVAL;
      break;
    }
    if (!r && !(p = skip(p, end, 1)))
      r = TR_EBADMSG;
  }
  va_end(ap);
  return r;
}
