/*
 * kvglob.h -- glob patterns as Redis's KEYS and SCAN take them, for the
 * native store: binary safe (lengths, not NUL ends).
 */
#ifndef TR_KVGLOB_H
#define TR_KVGLOB_H

#include <stddef.h>

/* 1 if s matches the pattern, else 0. In the pattern: * any run of bytes,
 * ? any one byte, [abc] one of them, [^abc] none of them, [a-c] a range
 * (either way round), \x the byte x itself (inside brackets too); any
 * other byte itself. A trailing \ stands for itself; a [ never closed
 * runs to the end of the pattern. */
int tr__kvglob(const char *pat, size_t plen, const char *s, size_t slen);

#endif
