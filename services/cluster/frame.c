/*
 * frame.c -- batching the core's envelopes into one NATS message per
 * destination, and reading them back (the format is in frame.h).
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "troupe.h"

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

size_t tr__frame_room(size_t limit) {
  size_t over = TR__FRAME_HEADER + TR__FRAME_PER_ENVELOPE;
  return limit > over ? limit - over : 0;
}

int tr__frame_start(tr__frame *f, uint32_t node, uint32_t host) {
  if (f->cap < TR__FRAME_HEADER) {
    uint8_t *b = realloc(f->buf, 4096);
    if (!b)
      return TR_ENOMEM;
    f->buf = b;
    f->cap = 4096;
  }
  memcpy(f->buf, "TRC", 3);
  f->buf[3] = TR__FRAME_VERSION;
  f->buf[4] = (uint8_t)node;
  f->buf[5] = (uint8_t)host;
  f->buf[6] = f->buf[7] = 0;
  put32(f->buf + 8, 0);
  f->len = TR__FRAME_HEADER;
  f->count = 0;
  return TR_OK;
}

int tr__frame_add(tr__frame *f, const void *bytes, size_t len, size_t limit) {
  size_t need;
  if (len > tr__frame_room(limit) || len > UINT32_MAX)
    return TR_ERANGE;
  need = f->len + TR__FRAME_PER_ENVELOPE + len;
  if (need > limit)
    return 1;
  if (need > f->cap) {
    size_t cap = f->cap * 2;
    uint8_t *b;
    while (cap < need)
      cap *= 2;
    if (cap > limit)
      cap = limit;
    if (!(b = realloc(f->buf, cap)))
      return TR_ENOMEM;
    f->buf = b;
    f->cap = cap;
  }
  put32(f->buf + f->len, (uint32_t)len);
  memcpy(f->buf + f->len + TR__FRAME_PER_ENVELOPE, bytes, len);
  f->len = need;
  put32(f->buf + 8, ++f->count);
  return TR_OK;
}

void tr__frame_free(tr__frame *f) {
  free(f->buf);
  memset(f, 0, sizeof *f);
}

int tr__frame_open(tr__frame_reader *r, const void *buf, size_t len) {
  const uint8_t *p = buf, *at, *end;
  uint32_t n, i;
  if (!p || len < TR__FRAME_HEADER || memcmp(p, "TRC", 3) ||
      p[3] != TR__FRAME_VERSION || p[6] || p[7])
    return TR_EBADMSG;
  n = get32(p + 8);
  end = p + len;
  /* Every length is checked now: a bad frame is refused whole, before any
   * of its envelopes is delivered. */
  for (i = 0, at = p + TR__FRAME_HEADER; i < n; i++) {
    uint32_t l;
    if ((size_t)(end - at) < TR__FRAME_PER_ENVELOPE)
      return TR_EBADMSG;
    l = get32(at);
    at += TR__FRAME_PER_ENVELOPE;
    if ((size_t)(end - at) < l)
      return TR_EBADMSG;
    at += l;
  }
  if (at != end)
    return TR_EBADMSG;
  r->at = p + TR__FRAME_HEADER;
  r->end = end;
  r->node = p[4];
  r->host = p[5];
  r->left = n;
  return TR_OK;
}

int tr__frame_next(tr__frame_reader *r, const void **bytes, size_t *len) {
  uint32_t l;
  if (!r->left)
    return 0;
  l = get32(r->at);
  *bytes = r->at + TR__FRAME_PER_ENVELOPE;
  *len = l;
  r->at += TR__FRAME_PER_ENVELOPE + l;
  r->left--;
  return 1;
}
