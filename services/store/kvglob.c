/*
 * kvglob.c -- glob matching for the native store's keys and scan (Redis's
 * KEYS rules; see kvglob.h).
 *
 * Every token but * matches exactly one byte, so one backtrack point is
 * enough: on a mismatch, the last * takes one byte more and matching goes
 * on after it. O(len(pattern) * len(s)) at worst, no recursion, so a
 * pattern of many stars cannot blow the stack or run exponentially.
 */
#include "kvglob.h"

/* Does the token at pat[*i] (not a '*') match c? Moves *i past it. */
static int token(const unsigned char *pat, size_t plen, size_t *i,
                 unsigned char c) {
  size_t p = *i;
  int neg = 0, hit = 0;
  if (pat[p] == '?') {
    *i = p + 1;
    return 1;
  }
  if (pat[p] == '\\' && p + 1 < plen) {
    *i = p + 2;
    return pat[p + 1] == c;
  }
  if (pat[p] != '[') {
    *i = p + 1;
    return pat[p] == c;
  }
  p++;
  if (p < plen && pat[p] == '^') {
    neg = 1;
    p++;
  }
  while (p < plen && pat[p] != ']') {
    unsigned char lo = pat[p], hi;
    if (lo == '\\' && p + 1 < plen) {
      hit |= pat[p + 1] == c;
      p += 2;
    } else if (p + 2 < plen && pat[p + 1] == '-' && pat[p + 2] != ']') {
      hi = pat[p + 2];
      if (lo > hi) {
        unsigned char t = lo;
        lo = hi;
        hi = t;
      }
      hit |= c >= lo && c <= hi;
      p += 3;
    } else {
      hit |= lo == c;
      p++;
    }
  }
  *i = p < plen ? p + 1 : p; /* past the ']' */
  return neg ? !hit : hit;
}

int tr__kvglob(const char *pattern, size_t plen, const char *str, size_t slen) {
  const unsigned char *pat = (const unsigned char *)pattern;
  const unsigned char *s = (const unsigned char *)str;
  size_t p = 0, i = 0, star = 0, from = 0;
  int starred = 0;
  while (i < slen) {
    if (p < plen && pat[p] == '*') {
      while (p < plen && pat[p] == '*')
        p++;
      if (p == plen)
        return 1; /* a trailing star takes the rest */
      starred = 1;
      star = p;
      from = i;
      continue;
    }
    if (p < plen) {
      size_t q = p;
      if (token(pat, plen, &q, s[i])) {
        p = q;
        i++;
        continue;
      }
    }
    if (!starred)
      return 0;
    p = star; /* the star takes one byte more */
    i = ++from;
  }
  while (p < plen && pat[p] == '*')
    p++;
  return p == plen;
}
