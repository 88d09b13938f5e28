/*
 * ledit.c -- the REPL's line reader in the troupe binary (actor.stdin):
 * libedit's line editing, history and completion on a thread of its own,
 * so the host's loop never waits on the terminal.
 *
 * The thread reads one line each time the REPL asks (request), and sends
 * it as line(text), or eof(), to the actor that started it. On a terminal
 * it calls libedit's readline(), whose reads wait in poll() on stdin and a
 * pipe: the loop writes to it on Ctrl-C (uv_signal on host 0), and the
 * line is dropped. (libedit's rl_callback_read_char, which needs no
 * thread, overruns its buffer on lines past 1 KiB in libedit 3.1.) Completion
 * asks the same actor, with complete(text), for the candidates (Lua's state is
 * the loop's alone) and waits for complete() to hand them over. Not a terminal:
 * getline, no editing. Ctrl-C while the REPL runs code sets a hook on the
 * coroutine being watched, as lua.c does, and sends interrupt() to the actor.
 *
 * libedit's readline interface is global to the process: one reader.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <editline/readline.h>
#include <lauxlib.h>
#include <uv.h>

#include "ledit.h"
#include "troupe.h"
#include "troupe_lua.h"

#define HISTORY_LINES 1000

struct ledit {
  tr_host *h;
  tr_pid to;
  uv_thread_t thread;
  uv_sem_t want, answered;
  uv_signal_t sigint;
  int wake[2]; /* the loop -> the thread: 'i' Ctrl-C, 'q' quit */
  int started, tty, cancel;
  _Atomic int reading, quit;
  char *prompt, *history;
  char **cands; /* complete()'s answer, NULL-ended */
  size_t ncands, next;
  lua_State *co; /* what Ctrl-C interrupts, while the REPL runs code */
  tr_pid self;   /* the actor co runs in, whose pending call Ctrl-C ends */
  lua_Hook old_hook;
  int old_mask, old_count;
};

/* rl_* callbacks take no user data. */
static ledit *the;

static void send_line(ledit *e, const char *s, size_t n) {
  tr_send(e->h, 0, e->to,
          s ? tr_msg_pack("line", "S", s, n) : tr_msg_new("eof"));
}

static void on_line(ledit *e, char *line) {
  if (line && *line) {
    add_history(line);
    if (e->history)
      write_history(e->history);
  }
  send_line(e, line, line ? strlen(line) : 0);
  free(line);
}

static char *next_cand(const char *text, int state) {
  ledit *e = the;
  (void)text;
  if (!state)
    e->next = 0;
  return e->next < e->ncands ? strdup(e->cands[e->next++]) : NULL;
}

/* On the thread: the REPL's actor, idle at the prompt, answers. */
static char **complete(const char *text, int start, int end) {
  ledit *e = the;
  char **m;
  size_t i;
  (void)start;
  (void)end;
  rl_attempted_completion_over = 1; /* no file names */
  tr_send(e->h, 0, e->to, tr_msg_pack("complete", "s", text));
  uv_sem_wait(&e->answered);
  m = e->ncands ? rl_completion_matches(text, next_cand) : NULL;
  for (i = 0; i < e->ncands; i++)
    free(e->cands[i]);
  free(e->cands);
  e->cands = NULL;
  e->ncands = 0;
  return m;
}

/* libedit reads through this: it waits on the wake pipe too. Ctrl-C
 * (from the loop) ends the line as Enter would, and the line is then
 * dropped; quit ends it as the end of input would. */
static int getc_tty(FILE *f) {
  ledit *e = the;
  struct pollfd fds[2] = {{0, POLLIN, 0}, {e->wake[0], POLLIN, 0}};
  unsigned char c;
  ssize_t n;
  (void)f;
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      return EOF;
    }
    if (fds[1].revents && read(e->wake[0], &c, 1) == 1) {
      if (c == 'q') {
        e->quit = 1;
        return EOF;
      }
      e->cancel = 1;
      fputs("^C", stdout);
      fflush(stdout);
      return '\n';
    }
    if (fds[0].revents) {
      while ((n = read(0, &c, 1)) < 0 && errno == EINTR)
        ;
      return n == 1 ? c : EOF;
    }
  }
}

static void read_tty(ledit *e) {
  struct pollfd wake = {e->wake[0], POLLIN, 0};
  char *line, c;
  /* a Ctrl-C that came as the last line ended was for no line */
  while (!e->quit && poll(&wake, 1, 0) == 1 && read(e->wake[0], &c, 1) == 1)
    ;
  struct termios cooked, raw;
  int set = tcgetattr(0, &cooked) == 0;
  /* libedit writes the prompt before it leaves cooked mode: keys typed
   * in between would go through the line discipline (a Ctrl-D lost). */
  raw = cooked;
  raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
  if (set)
    tcsetattr(0, TCSADRAIN, &raw);
  for (;;) {
    e->reading = 1;
    line = readline(e->prompt);
    e->reading = 0;
    if (e->quit) {
      free(line);
      line = NULL;
      break;
    }
    if (!e->cancel)
      break;
    e->cancel = 0; /* Ctrl-C: the same prompt again, on an empty line */
    free(line);
  }
  if (set)
    tcsetattr(0, TCSADRAIN, &cooked);
  if (!e->quit)
    on_line(e, line);
}

static void reader_main(void *arg) {
  ledit *e = arg;
  char *buf = NULL;
  size_t cap = 0;
  ssize_t n;
  for (;;) {
    uv_sem_wait(&e->want);
    if (e->quit)
      break;
    if (e->tty) {
      read_tty(e);
      continue;
    }
    e->reading = 1; /* then quit: stop sees one or the other */
    if (e->quit)
      break;
    n = getline(&buf, &cap, stdin);
    e->reading = 0;
    if (n >= 0)
      send_line(e, buf, (size_t)n - (buf[n - 1] == '\n'));
    else
      send_line(e, NULL, 0);
  }
  free(buf);
}

static ledit *get(lua_State *L) {
  return lua_touserdata(L, lua_upvalueindex(1));
}

/* Raised at the watched coroutine's next instruction. */
static void interrupt_hook(lua_State *L, lua_Debug *ar) {
  ledit *e = the;
  (void)ar;
  lua_sethook(L, e->old_hook, e->old_mask, e->old_count);
  lua_pushliteral(L, "interrupted");
  lua_error(L);
}

/* A call the REPL waits in is ended now: it raises (or returns false),
 * and the hook stops the code at its next instruction, pcall or not. */
static void end_call(ledit *e) {
  tr_actor_info info;
  if (tr_actor_get_info(e->h, e->self, &info) == 0 && info.wait == TR_WAIT_CALL)
    tr_call_cancel(e->h, e->self, info.awaits);
}

static void on_sigint(uv_signal_t *s, int signum) {
  ledit *e = s->data;
  (void)signum;
  if (e->reading) {
    if (write(e->wake[1], "i", 1) < 0)
      return;
  } else if (e->co) {
    if (lua_gethook(e->co) != interrupt_hook) {
      e->old_hook = lua_gethook(e->co);
      e->old_mask = lua_gethookmask(e->co);
      e->old_count = lua_gethookcount(e->co);
    }
    lua_sethook(e->co, interrupt_hook, LUA_MASKCOUNT, 1);
    tr_send(e->h, 0, e->to, tr_msg_new("interrupt"));
    end_call(e);
  }
}

/* start(pid): the thread starts; lines go to pid. */
static int l_start(lua_State *L) {
  ledit *e = get(L);
  tr_pid *pid = luaL_checkudata(L, 1, "actor.pid");
  const char *home = getenv("HOME"), *file = getenv("TROUPE_HISTORY");
  if (e->started)
    return luaL_error(L, "the reader runs already");
  e->h = trL_host_of(L);
  e->to = *pid;
  e->tty = isatty(0) && isatty(1);
  if (e->tty) {
    if (file && *file)
      e->history = strdup(file);
    else if (home && *home && (e->history = malloc(strlen(home) + 32)))
      sprintf(e->history, "%s/.troupe_history", home);
    rl_readline_name = "troupe";
    rl_catch_signals = 0; /* Ctrl-C is the loop's (uv_signal) */
    rl_attempted_completion_function = complete;
    rl_getc_function = getc_tty;
    /* actor.sp<TAB>: dots and colons are part of the word */
    rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{(+-*/%^~#,[]";
    rl_completion_append_character = '\0';
    rl_initialize();
    using_history();
    stifle_history(HISTORY_LINES);
    if (e->history)
      read_history(e->history);
  }
  if (pipe(e->wake))
    return luaL_error(L, "cannot start the stdin reader");
  uv_sem_init(&e->want, 0);
  uv_sem_init(&e->answered, 0);
  uv_signal_init(tr_host_loop(e->h), &e->sigint);
  e->sigint.data = e;
  if (e->tty)
    uv_signal_start(&e->sigint, on_sigint, SIGINT);
  the = e;
  if (uv_thread_create(&e->thread, reader_main, e))
    return luaL_error(L, "cannot start the stdin reader");
  e->started = 1;
  return 0;
}

/* request([prompt]): read one line. */
static int l_request(lua_State *L) {
  ledit *e = get(L);
  const char *p = luaL_optstring(L, 1, "");
  if (!e->started || e->quit)
    return 0;
  free(e->prompt);
  e->prompt = strdup(p);
  uv_sem_post(&e->want);
  return 0;
}

/* complete(list): the answer to complete(text). */
static int l_complete(lua_State *L) {
  ledit *e = get(L);
  lua_Integer i, n = lua_istable(L, 1) ? (lua_Integer)lua_rawlen(L, 1) : 0;
  e->cands = calloc((size_t)n + 1, sizeof *e->cands);
  /* nothing here may raise: the reader waits for the post below */
  for (i = 0; e->cands && i < n; i++) {
    const char *c;
    lua_geti(L, 1, i + 1);
    if ((c = lua_tostring(L, -1)) && (e->cands[e->ncands] = strdup(c)))
      e->ncands++;
    lua_pop(L, 1);
  }
  uv_sem_post(&e->answered);
  return 0;
}

/* watch(self) | watch(nil): Ctrl-C interrupts the calling coroutine, of
 * the actor self, until watch(nil). */
static int l_watch(lua_State *L) {
  ledit *e = get(L);
  tr_pid *self =
      lua_isnoneornil(L, 1) ? NULL : luaL_checkudata(L, 1, "actor.pid");
  if (e->co && lua_gethook(e->co) == interrupt_hook)
    lua_sethook(e->co, e->old_hook, e->old_mask, e->old_count);
  e->co = self ? L : NULL;
  e->self = self ? *self : 0;
  return 0;
}

/* Whether the REPL talks with someone: prompts, editing, Ctrl-C. */
static int l_isatty(lua_State *L) {
  lua_pushboolean(L, isatty(0) && isatty(1));
  return 1;
}

static void closed(uv_handle_t *h) { (void)h; }

/* stop(): the thread ends (from the actor, while the loop still runs,
 * however the REPL ends). One blocked in getline cannot be woken: it is
 * left, and the process leaves with _exit (ledit_stuck). */
static int l_stop(lua_State *L) {
  ledit *e = get(L);
  (void)L;
  if (!e->started || e->quit)
    return 0;
  e->co = NULL;
  e->quit = 1;
  uv_close((uv_handle_t *)&e->sigint, closed);
  if (write(e->wake[1], "q", 1) < 0 || (!e->tty && e->reading))
    return 0;
  uv_sem_post(&e->want);
  uv_sem_post(&e->answered); /* a completion waiting for its answer */
  uv_thread_join(&e->thread);
  e->started = 0;
  return 0;
}

static int open_stdin(lua_State *L) {
  static const luaL_Reg f[] = {
      {"start", l_start}, {"request", l_request}, {"complete", l_complete},
      {"watch", l_watch}, {"isatty", l_isatty},   {"stop", l_stop},
      {NULL, NULL}};
  luaL_newlibtable(L, f);
  lua_pushvalue(L, lua_upvalueindex(1));
  luaL_setfuncs(L, f, 1);
  return 1;
}

ledit *ledit_preload(lua_State *L) {
  ledit *e = calloc(1, sizeof *e);
  if (!e)
    return NULL;
  e->wake[0] = e->wake[1] = -1;
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  lua_pushlightuserdata(L, e);
  lua_pushcclosure(L, open_stdin, 1);
  lua_setfield(L, -2, "actor.stdin");
  lua_pop(L, 2);
  return e;
}

int ledit_stuck(const ledit *e) { return e && e->started; }

void ledit_free(ledit *e) {
  if (!e)
    return;
  if (e->wake[0] >= 0) {
    close(e->wake[0]);
    close(e->wake[1]);
    uv_sem_destroy(&e->want);
    uv_sem_destroy(&e->answered);
  }
  free(e->prompt);
  free(e->history);
  free(e);
}
