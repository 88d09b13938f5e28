/* tclient.h -- the console's clients in the troupe binary (tclient.c). */
#ifndef TROUPE_TCLIENT_H
#define TROUPE_TCLIENT_H

/* `troupe attach PATH`: a REPL into the host serving the console at path.
 * Returns the exit status. */
int troupe_attach(const char *path);

/* `troupe top PATH`: the busiest actors, refreshed each second; sort is
 * the first key (m, b, k or r; NULL: m). Returns the exit status. */
int troupe_top(const char *path, const char *sort);

#endif
