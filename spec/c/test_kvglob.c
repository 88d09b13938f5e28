/*
 * test_kvglob.c -- the store's glob patterns (services/store/kvglob.c):
 * Redis's KEYS rules, binary keys, and patterns that would be slow if
 * matched by plain recursion.
 */
#include <string.h>

#include "store/kvglob.h"
#include "test.h"

static int g(const char *pat, const char *s) {
  return tr__kvglob(pat, strlen(pat), s, strlen(s));
}

static void test_basics(void) {
  CHECK(g("*", ""));
  CHECK(g("*", "anything"));
  CHECK(g("", ""));
  CHECK(!g("", "a"));
  CHECK(g("abc", "abc"));
  CHECK(!g("abc", "abcd"));
  CHECK(!g("abcd", "abc"));
  CHECK(g("user:*", "user:42"));
  CHECK(g("user:*", "user:"));
  CHECK(!g("user:*", "use"));
  CHECK(g("*:42", "user:42"));
  CHECK(g("u*r:*2", "user:42"));
  CHECK(!g("u*r:*3", "user:42"));
  CHECK(g("h?llo", "hello"));
  CHECK(!g("h?llo", "hllo"));
  CHECK(g("a**b", "ab"));
  CHECK(g("*a*b*", "xxaxxbxx"));
  CHECK(!g("*a*b*", "xxbxxaxx"));
  CHECK(g("*ab", "aab")); /* the star takes one more, then matches */
}

static void test_classes(void) {
  CHECK(g("h[ae]llo", "hello"));
  CHECK(g("h[ae]llo", "hallo"));
  CHECK(!g("h[ae]llo", "hillo"));
  CHECK(g("h[^e]llo", "hallo"));
  CHECK(!g("h[^e]llo", "hello"));
  CHECK(g("h[a-b]llo", "hbllo"));
  CHECK(!g("h[a-b]llo", "hcllo"));
  CHECK(g("h[b-a]llo", "hallo")); /* a range either way round */
  CHECK(g("[^a-c]", "d"));
  CHECK(!g("[^a-c]", "b"));
  CHECK(g("[a-]", "-")); /* a '-' before ']' is itself */
  CHECK(g("[\\]]", "]"));
  CHECK(g("[\\-]", "-"));
  CHECK(!g("[]", "a"));
  CHECK(g("[abc", "b")); /* never closed: runs to the end */
  CHECK(g("x[0-9][0-9]", "x42"));
  CHECK(!g("x[0-9][0-9]", "x4a"));
}

static void test_escapes(void) {
  CHECK(g("a\\*b", "a*b"));
  CHECK(!g("a\\*b", "axb"));
  CHECK(g("a\\?b", "a?b"));
  CHECK(!g("a\\?b", "axb"));
  CHECK(g("\\[x]", "[x]"));
  CHECK(g("a\\", "a\\")); /* a trailing backslash is itself */
}

static void test_binary(void) {
  const char key[] = {'k', 0, (char)0xff, 'z'};
  const char pat1[] = {'k', 0, '*'};
  const char pat2[] = {'k', '?', '[', (char)0xf0, '-', (char)0xff, ']', 'z'};
  CHECK(tr__kvglob(pat1, 3, key, 4));
  CHECK(tr__kvglob(pat2, 8, key, 4));
  CHECK(!tr__kvglob("k", 1, key, 4));
}

static void test_many_stars(void) {
  char s[4001], pat[81];
  memset(s, 'a', 4000);
  s[4000] = '\0';
  memset(pat, 0, sizeof pat);
  for (int i = 0; i < 40; i++) {
    pat[2 * i] = '*';
    pat[2 * i + 1] = 'a';
  }
  pat[79] = 'b'; /* ... *b: never matches; quick all the same */
  CHECK(!g(pat, s));
  pat[79] = 'a';
  CHECK(g(pat, s));
}

int main(void) {
  RUN(test_basics);
  RUN(test_classes);
  RUN(test_escapes);
  RUN(test_binary);
  RUN(test_many_stars);
  return test_report();
}
