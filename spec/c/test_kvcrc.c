/*
 * test_kvcrc.c -- the log's CRC-32 (services/store/kvcrc.c): its table
 * follows the rule its comment gives, and its values are zlib's crc32()
 * for every length up to 300 at every alignment, in pieces, and at 1 MiB.
 */
#include <stdlib.h>
#include <zlib.h>

#include "store/kvlog.h"
#include "test.h"

static uint32_t zcrc(uint32_t c, const unsigned char *p, size_t n) {
  return (uint32_t)crc32(c, p, (uInt)n);
}

static void test_table(void) {
  uint32_t i, k, c;
  for (i = 0; i < 256; i++) {
    for (c = i, k = 0; k < 8; k++)
      c = c & 1 ? c >> 1 ^ 0xedb88320u : c >> 1;
    CHECK_EQ(tr__kvcrc_tab[0][i], c);
    for (k = 1; k < 8; k++)
      CHECK_EQ(tr__kvcrc_tab[k][i],
               tr__kvcrc_tab[k - 1][i] >> 8 ^
                   tr__kvcrc_tab[0][tr__kvcrc_tab[k - 1][i] & 0xff]);
  }
}

static void test_as_zlib(void) {
  enum { BIG = 1 << 20 };
  unsigned char *b = malloc(BIG);
  size_t off, n, cut, i;
  uint32_t x = 12345;
  CHECK(b != NULL);
  if (!b)
    return;
  for (i = 0; i < BIG; i++) /* any bytes: a xorshift's */
    x ^= x << 13, x ^= x >> 17, x ^= x << 5, b[i] = (unsigned char)x;
  CHECK_EQ(tr__kvcrc(0, "123456789", 9), 0xcbf43926u); /* the check value */
  CHECK_EQ(tr__kvcrc(0, b, 0), 0u);
  for (off = 0; off < 8; off++)
    for (n = 0; n <= 300; n++)
      CHECK_EQ(tr__kvcrc(0, b + off, n), zcrc(0, b + off, n));
  for (cut = 0; cut <= 40; cut++) /* the frame's way: len bytes, then body */
    CHECK_EQ(tr__kvcrc(tr__kvcrc(0, b, cut), b + cut, 40 - cut),
             zcrc(zcrc(0, b, cut), b + cut, 40 - cut));
  CHECK_EQ(tr__kvcrc(0, b, BIG), zcrc(0, b, BIG));
  free(b);
}

int main(void) {
  RUN(test_table);
  RUN(test_as_zlib);
  return test_report();
}
