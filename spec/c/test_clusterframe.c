/*
 * test_clusterframe.c -- the cluster's wire frames (services/cluster/
 * frame.c): envelopes batched and read back whole and in order, the size
 * limit kept, an envelope too large refused, and every damaged frame
 * (cut short, bad header, lengths that lie) refused before any envelope.
 */
#include <stdlib.h>

#include "cluster/frame.h"
#include "test.h"

static void test_round_trip(void) {
  tr__frame f = {0};
  tr__frame_reader r;
  const void *b;
  size_t len, i;
  char text[64];
  CHECK_EQ(tr__frame_start(&f, 7, 3), 0);
  for (i = 0; i < 100; i++) {
    int n = snprintf(text, sizeof text, "envelope %zu", i);
    CHECK_EQ(tr__frame_add(&f, text, (size_t)n, 1 << 20), 0);
  }
  CHECK_EQ(tr__frame_add(&f, "", 0, 1 << 20), 0); /* empty is an envelope */
  CHECK_EQ(f.count, 101);
  CHECK_EQ(tr__frame_open(&r, f.buf, f.len), 0);
  CHECK_EQ(r.node, 7);
  CHECK_EQ(r.host, 3);
  for (i = 0; i < 100; i++) {
    int n = snprintf(text, sizeof text, "envelope %zu", i);
    CHECK_EQ(tr__frame_next(&r, &b, &len), 1);
    CHECK_EQ(len, n);
    CHECK(memcmp(b, text, len) == 0);
  }
  CHECK_EQ(tr__frame_next(&r, &b, &len), 1);
  CHECK_EQ(len, 0);
  CHECK_EQ(tr__frame_next(&r, &b, &len), 0);
  /* started anew: the header again, nothing in it */
  CHECK_EQ(tr__frame_start(&f, 1, 0), 0);
  CHECK_EQ(f.len, TR__FRAME_HEADER);
  CHECK_EQ(tr__frame_open(&r, f.buf, f.len), 0);
  CHECK_EQ(tr__frame_next(&r, &b, &len), 0);
  tr__frame_free(&f);
}

static void test_limit(void) {
  enum { LIMIT = 1000 };
  tr__frame f = {0};
  tr__frame_reader r;
  char *big = calloc(1, LIMIT);
  const void *b;
  size_t len, room = tr__frame_room(LIMIT);
  CHECK_EQ(room, LIMIT - TR__FRAME_HEADER - TR__FRAME_PER_ENVELOPE);
  CHECK_EQ(tr__frame_start(&f, 1, 1), 0);
  CHECK_EQ(tr__frame_add(&f, big, room + 1, LIMIT), TR_ERANGE);
  CHECK_EQ(f.count, 0);
  CHECK_EQ(tr__frame_add(&f, "x", 1, LIMIT), 0);
  CHECK_EQ(tr__frame_add(&f, big, room, LIMIT), 1); /* not beside "x" */
  CHECK_EQ(tr__frame_start(&f, 1, 1), 0);
  big[0] = 'a', big[room - 1] = 'z';
  CHECK_EQ(tr__frame_add(&f, big, room, LIMIT), 0); /* alone it fits */
  CHECK_EQ(f.len, LIMIT);
  CHECK_EQ(tr__frame_add(&f, "", 0, LIMIT), 1);
  CHECK_EQ(tr__frame_open(&r, f.buf, f.len), 0);
  CHECK_EQ(tr__frame_next(&r, &b, &len), 1);
  CHECK_EQ(len, room);
  CHECK(((const char *)b)[0] == 'a' && ((const char *)b)[room - 1] == 'z');
  CHECK_EQ(tr__frame_room(10), 0);
  tr__frame_free(&f);
  free(big);
}

static void test_damaged(void) {
  tr__frame f = {0};
  tr__frame_reader r;
  uint8_t *copy;
  size_t cut;
  CHECK_EQ(tr__frame_start(&f, 2, 0), 0);
  CHECK_EQ(tr__frame_add(&f, "hello", 5, 4096), 0);
  CHECK_EQ(tr__frame_add(&f, "world!", 6, 4096), 0);
  copy = malloc(f.len + 1);
  for (cut = 0; cut < f.len; cut++) /* every prefix is refused */
    CHECK_EQ(tr__frame_open(&r, f.buf, cut), TR_EBADMSG);
  memcpy(copy, f.buf, f.len);
  copy[f.len] = 0; /* a byte too many */
  CHECK_EQ(tr__frame_open(&r, copy, f.len + 1), TR_EBADMSG);
  copy[3] = 2; /* another version */
  CHECK_EQ(tr__frame_open(&r, copy, f.len), TR_EBADMSG);
  memcpy(copy, f.buf, f.len);
  copy[0] = 'X';
  CHECK_EQ(tr__frame_open(&r, copy, f.len), TR_EBADMSG);
  memcpy(copy, f.buf, f.len);
  copy[6] = 1; /* a flag this version does not know */
  CHECK_EQ(tr__frame_open(&r, copy, f.len), TR_EBADMSG);
  memcpy(copy, f.buf, f.len);
  copy[8] = 3; /* a count that lies */
  CHECK_EQ(tr__frame_open(&r, copy, f.len), TR_EBADMSG);
  memcpy(copy, f.buf, f.len);
  copy[TR__FRAME_HEADER] = 200; /* a length that lies */
  CHECK_EQ(tr__frame_open(&r, copy, f.len), TR_EBADMSG);
  memcpy(copy, f.buf, f.len);
  copy[TR__FRAME_HEADER + 3] = 0xff; /* a length past 4 GiB's worth */
  CHECK_EQ(tr__frame_open(&r, copy, f.len), TR_EBADMSG);
  CHECK_EQ(tr__frame_open(&r, NULL, 0), TR_EBADMSG);
  memcpy(copy, f.buf, f.len);
  CHECK_EQ(tr__frame_open(&r, copy, f.len), 0);
  free(copy);
  tr__frame_free(&f);
}

int main(void) {
  RUN(test_round_trip);
  RUN(test_limit);
  RUN(test_damaged);
  return test_report();
}
