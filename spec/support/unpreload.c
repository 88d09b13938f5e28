/*
 * unpreload.c -- for the ThreadSanitizer build's Lua specs: preloaded into
 * the stock lua5.4 after libtsan.so, it takes LD_PRELOAD out of the
 * environment before main, so that the shells and programs a spec starts
 * (io.popen, os.execute) do not load ThreadSanitizer's runtime too: under
 * it Debian's sh and bash crash at once. The interpreter keeps what the
 * loader has already loaded.
 */
#include <stdlib.h>

__attribute__((constructor)) static void troupe_unpreload(void) {
  unsetenv("LD_PRELOAD");
}
