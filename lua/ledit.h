/* ledit.h -- the REPL's line reader (ledit.c), for troupe.c only. */
#ifndef TROUPE_LEDIT_H
#define TROUPE_LEDIT_H

#include <lua.h>

typedef struct ledit ledit;

/* Preloads actor.stdin in L, whose reader this is; NULL: out of memory. */
ledit *ledit_preload(lua_State *L);
/* Whether its thread still runs (the REPL never stopped it): the process
 * must then leave with _exit, as the thread may be in a read. */
int ledit_stuck(const ledit *e);
void ledit_free(ledit *e);

#endif
