/*
 * test_lua_console.c -- an embedding program opens the console with one
 * call (trL_console_start) and keeps stepping its own frame loop; a client
 * on a thread of its own connects to the socket as `troupe attach` does
 * and evaluates lines on the program's host: it sees the program's actors
 * and calls them. The socket is mode 0600, a bad path fails with a
 * message, and the socket file goes with the host.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <lauxlib.h>

#include "luatest.h"
#include "test.h"
#include "troupe_lua.h"

#define DEADLINE_MS 30000

/* The client's side of a session: its socket, and what it read. */
typedef struct client {
  const char *path;
  char out[4096]; /* the answers, each ended by the console's "\0" */
  size_t len;
  int ok; /* 1 when every answer came, -1 when something failed */
  _Atomic int done;
} client;

/* Reads until the answer's "\0" (ready for the next statement). */
static int read_answer(int fd, client *c) {
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    ssize_t n;
    if (poll(&p, 1, DEADLINE_MS) <= 0)
      return -1;
    n = read(fd, c->out + c->len, sizeof c->out - 1 - c->len);
    if (n <= 0)
      return -1;
    c->len += (size_t)n;
    c->out[c->len] = '\0';
    if (c->out[c->len - 1] == '\0') { /* the end: each answer a line */
      c->out[c->len - 1] = '\n';
      return 0;
    }
    if (c->len == sizeof c->out - 1)
      return -1;
  }
}

static void run_client(void *arg) {
  client *c = arg;
  static const char *const lines[] = {
      "x = 6 * 7\n", "=x\n", "=actor.call(actor.whereis('game'), 'score')\n"};
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  size_t i;
  c->ok = -1;
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", c->path);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
      read_answer(fd, c) == 0) { /* the greeting */
    for (i = 0; i < sizeof lines / sizeof *lines; i++) {
      if (write(fd, lines[i], strlen(lines[i])) < 0 || read_answer(fd, c))
        break;
    }
    if (i == sizeof lines / sizeof *lines)
      c->ok = 1;
  }
  if (fd >= 0)
    close(fd);
  atomic_store(&c->done, 1);
}

/* The program: a game actor that answers "score", then the console. */
static const char game[] =
    "local actor = require 'actor'\n"
    "actor.spawn(function()\n"
    "  actor.register('game')\n"
    "  actor.serve { score = function() return 1234 end }\n"
    "end)\n";

static void test_attach_to_an_embedded_host(void) {
  tr_host *h = tr_host_new(NULL);
  lua_State *L = test_lua_new();
  client c = {0};
  char path[256];
  struct stat st;
  uv_thread_t t;
  snprintf(path, sizeof path, "console-%d.sock", (int)getpid());
  CHECK_EQ(trL_attach(L, h), TR_OK);
  CHECK_EQ(luaL_dostring(L, game), LUA_OK);
  STEP_UNTIL(h, tr_whereis(h, "game") != 0, DEADLINE_MS);
  CHECK(tr_whereis(h, "game") != 0);

  CHECK_EQ(trL_console_start(L, path), LUA_OK); /* the one call */
  lua_settop(L, 0);
  STEP_UNTIL(h, stat(path, &st) == 0, DEADLINE_MS); /* the listener runs */
  CHECK_EQ(stat(path, &st), 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK_EQ(st.st_mode & 0777, 0600);

  c.path = path;
  CHECK_EQ(uv_thread_create(&t, run_client, &c), 0);
  STEP_UNTIL(h, atomic_load(&c.done), DEADLINE_MS); /* the frame loop */
  CHECK(atomic_load(&c.done));
  uv_thread_join(&t); /* its reads end by their own deadline */
  CHECK_EQ(c.ok, 1);
  CHECK(strstr(c.out, "console") != NULL); /* the greeting */
  CHECK(strstr(c.out, "\n42\n") != NULL);
  CHECK(strstr(c.out, "\n1234\n") != NULL);
  if (!strstr(c.out, "\n1234\n"))
    fprintf(stderr, "the console said: %s\n", c.out);

  lua_close(L);
  tr_host_free(h);
  CHECK(stat(path, &st) != 0 && errno == ENOENT); /* gone with the host */
}

/* A socket that cannot be made fails the call with a message. */
static void test_bad_path(void) {
  tr_host *h = tr_host_new(NULL);
  lua_State *L = test_lua_new();
  CHECK_EQ(trL_attach(L, h), TR_OK);
  CHECK(trL_console_start(L, "no-such-folder/console.sock") != LUA_OK);
  CHECK(lua_tostring(L, -1) &&
        strstr(lua_tostring(L, -1), "no-such-folder") != NULL);
  lua_close(L);
  tr_host_free(h);
}

int main(void) {
  RUN(test_attach_to_an_embedded_host);
  RUN(test_bad_path);
  return test_report();
}
