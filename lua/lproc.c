/*
 * lproc.c -- Lua actors: a coroutine driven by a native actor's callbacks.
 *
 * The coroutine runs until it waits -- in receive, call, sleep or a send to
 * a full mailbox -- and yields back here; the core keeps its mail queued
 * until handle is called with the next message, which is pushed onto the
 * coroutine's stack as the waiting function's results; mail already
 * queued, receive takes without a yield. The clock (lclock.c) suspends an
 * actor that runs a slice without waiting (TR_YIELD), so the other actors
 * run, and ends one stuck where it cannot yield past hard_limit slices.
 * An error ends this actor only: its traceback goes to the log and its
 * reason to its links and monitors.
 */
#include <string.h>

#include "ltroupe.h"

/* What trL__spawn hands init (its ctx, valid during init only): the new
 * coroutine, its registry ref and the arguments waiting on its stack. */
typedef struct spawn_ctx {
  trL__host *lh;
  lua_State *co;
  int ref, nargs;
} spawn_ctx;

static int proc_init(tr_actor *self, void *state, tr_msg *args) {
  trL__proc *p = state;
  const spawn_ctx *c = tr_actor_ctx(self);
  (void)args;
  p->lh = c->lh;
  p->self = self;
  p->co = c->co;
  p->ref = c->ref;
  p->nargs = c->nargs;
  p->why = TRL_START;
  p->module_ref = LUA_NOREF;
  *(trL__proc **)lua_getextraspace(p->co) = p;
  trL__clock_attach(p->lh, p->co);
  tr_wake(self); /* the first resume happens in handle, on the scheduler */
  return 0;
}

/* The reason an actor ended with, from its error value. */
static const char *error_text(lua_State *co) {
  const char *msg = lua_tostring(co, -1);
  if (msg)
    return msg;
  if (luaL_callmeta(co, -1, "__tostring") && lua_type(co, -1) == LUA_TSTRING)
    return lua_tostring(co, -1);
  return lua_pushfstring(co, "(error object is a %s value)",
                         luaL_typename(co, -1));
}

static int resume(trL__proc *p, int nargs) {
  lua_State *co = p->co, *L = p->lh->L;
  trL__proc *outer = p->lh->running;
  int nres, rc;
  p->why =
      TRL_PREEMPT; /* a bare coroutine.yield counts as letting others run */
  p->preempted = 0;
  p->strikes = 0;
  p->lh->running = p;
  trL__clock_enter(p->lh, co);
  rc = lua_resume(co, L, nargs, &nres);
  trL__clock_leave(p->lh, co, outer ? outer->co : NULL);
  p->lh->running = outer;
  if (p->runaway && (rc == LUA_YIELD || rc == LUA_OK)) {
    /* It caught the runaway error and went on: it ends all the same. */
    lua_settop(co, 0);
    trL__clock_runaway(co, p->lh);
    rc = LUA_ERRRUN;
  }
  if (rc == LUA_YIELD) {
    if (nres) /* a coroutine.yield's values; actor functions yield none */
      lua_pop(co, nres);
    if (p->why != TRL_PREEMPT)
      return TR_CONTINUE; /* waits for mail */
    p->preempted = 0;
    return TR_YIELD;
  }
  if (rc == LUA_OK) {
    lua_settop(co, 0);
    return TR_STOP;
  }
  if (rc == LUA_ERRMEM) {
    lua_settop(co, 0);
    lua_pushfstring(co, "out of memory: the Lua heap limit (%d MiB) is reached",
                    (int)(p->lh->mem_limit >> 20));
  }
  {
    const char *msg = error_text(co);
    tr_host *h = tr_actor_host(p->self);
    tr_pid pid = tr_self(p->self);
    luaL_traceback(L, co, msg, 0);
    if (pid == p->lh->root) {
      /* actor.run raises it, traceback and all: said once, by its caller */
      lua_setfield(L, LUA_REGISTRYINDEX, "actor.root_error");
    } else {
      char text[48];
      tr_pid_format(pid, text, sizeof text);
      tr_host_log(h, TR_LOG_ERROR, "Lua actor %s failed: %s", text,
                  lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    tr_exit(p->self, msg);
    return TR_STOP;
  }
}

/* Pushes what a failed call raises: the text of an error reply, or the
 * core's verdict ("timeout", "down: <reason>", "full", "noproc"). */
static void push_call_error(lua_State *co, tr_msg *m) {
  size_t len, rlen;
  const char *name = tr_msg_name(m, &len), *why = NULL;
  int has_why = tr_msg_argc(m) > 0 &&
                tr_value_str(tr_msg_arg(m, 0), &why, &rlen) == TR_OK;
  if (has_why && tr_msg_is(m, "error")) {
    lua_pushlstring(co, why, rlen);
  } else if (has_why && (rlen != len || memcmp(why, name, len) != 0)) {
    lua_pushlstring(co, name, len);
    lua_pushliteral(co, ": ");
    lua_pushlstring(co, why, rlen);
    lua_concat(co, 3);
  } else {
    lua_pushlstring(co, name, len);
  }
}

/* m as receive's results, pushed onto the coroutine's stack: its name and
 * its arguments; how many, or -1 for what receive does not take -- a
 * stale timeout, an answer nobody waits for any more. Receive (or serve's
 * step) runs in C, where LUA_MINSTACK slots are free: no luaL_checkstack
 * for the name. */
static int received(trL__proc *p, tr_msg *m) {
  int kind = tr_msg_kind(m);
  size_t len;
  const char *name;
  if (kind != TR_KIND_SEND && kind != TR_KIND_CALL && kind != TR_KIND_DOWN &&
      kind != TR_KIND_EXIT && kind != TR_KIND_NOTICE)
    return -1;
  if (p->recv_timer) {
    tr_cancel(p->lh->h, p->recv_timer);
    p->recv_timer = 0;
  }
  p->msg = m; /* for actor.forward, until the next wait */
  p->last_from = tr_msg_from(m);
  p->call_from = p->last_from;
  p->call_session = kind == TR_KIND_CALL ? tr_msg_session(m) : 0;
  name = tr_msg_name(m, &len);
  lua_pushlstring(p->co, name, len);
  return 1 + trL__push_args(p->co, m, 0);
}

/* Receive without a wait: mail already queued is taken right here, in the
 * running coroutine, with no yield and resume per message, as long as the
 * actor's share of the turn lasts. The message handled until now is done
 * with (freed, if a preemption had kept it). */
int trL__receive_now(trL__proc *p) {
  tr_msg *m;
  int n;
  while (tr_mailbox_next(p->self, &m)) {
    if (p->kept)
      tr_msg_free(p->msg);
    p->kept = 0;
    p->msg = NULL;
    if ((n = received(p, m)) >= 0)
      return n;
  }
  return -1;
}

static int handle_msg(trL__proc *p, tr_msg *m);

/* While the coroutine runs on the message receive gave it, actor.forward
 * may send it on (received sets p->msg; the answer to another wait is no
 * such message). A preemption is no wait of the handler's: the message is
 * kept across it (the core would free it), until the coroutine waits or
 * ends. */
static int proc_handle(tr_actor *self, void *state, tr_msg *m) {
  trL__proc *p = state;
  int rc;
  TRL_STACK_MARK(p->lh->L); /* a handler leaves the main state as it was */
  if (!p->kept)
    p->msg = NULL;
  rc = handle_msg(p, m);
  TRL_STACK_CHECK(p->lh->L);
  if (rc == TR_YIELD && p->msg) {
    if (!p->kept && (p->msg = tr_keep(self, p->msg)) != NULL)
      p->kept = 1;
    return rc;
  }
  if (p->kept)
    tr_msg_free(p->msg);
  p->msg = NULL;
  p->kept = 0;
  return rc;
}

static int handle_msg(trL__proc *p, tr_msg *m) {
  lua_State *co = p->co;
  int kind, n;
  if (!m) {
    if (p->why == TRL_START)
      return resume(p, p->nargs);
    return p->why == TRL_PREEMPT ? resume(p, 0) : TR_CONTINUE;
  }
  kind = tr_msg_kind(m);
  switch (p->why) {
  case TRL_RECV:
    if (kind == TR_KIND_TIMEOUT && tr_msg_session(m) == p->recv_timer) {
      p->recv_timer = 0;
      return resume(p, 0);
    }
    n = received(p, m);
    return n < 0 ? TR_CONTINUE : resume(p, n);
  case TRL_CALL: /* tr_await lets only the answer through */
    /* a reply, or TR_KIND_ERROR: the call failed (error reply or core) */
    kind = kind == TR_KIND_REPLY;
    lua_pushboolean(co, kind);
    if (kind) {
      n = trL__push_args(co, m, 0);
    } else {
      push_call_error(co, m);
      n = 1;
    }
    return resume(p, 1 + n);
  case TRL_SLEEP:
    return resume(p, 0);
  case TRL_ROOM:
    lua_pushboolean(co, kind == TR_KIND_ROOM);
    return resume(p, 1);
  default:
    return TR_CONTINUE;
  }
}

/* -------------------------------------------------------------- ending */

/* An end asked for (tr_reason_deliberate: a kill, a supervisor's reset or
 * restart) that finds the actor preempted in the middle of a call it has
 * neither answered, nor forwarded, nor deferred: the call goes back to its
 * mailbox, as if the end had come between two messages, where it comes for
 * a native actor. Its heir gets it with the rest of its mail (the router
 * holds it while the actor restarts and hands it to the new instance);
 * without one it fails "down: <reason>". The call being handled by a crash
 * fails as it would have: it may be what crashed it. */
static void drop_kept(tr_actor *self, trL__proc *p, const char *reason) {
  tr_msg *m = p->msg;
  if (m && tr_reason_deliberate(reason) && tr_msg_kind(m) == TR_KIND_CALL &&
      p->call_session && tr_msg_session(m) == p->call_session)
    tr_mailbox_putback(self, m);
  else
    tr_msg_free(m);
}

/* While a coroutine's to-be-closed variables are closed, its stack is gone:
 * a traceback must be taken where an error is raised. This call hook takes
 * one into the registry whenever the closing code calls error, or assert
 * with a false value, the two ways Lua code fails on purpose; an error Lua
 * itself raises (indexing nil...) carries its position only. */
#define TRL_CLOSE_TB "actor.close_traceback"

static void closing_hook(lua_State *co, lua_Debug *ar) {
  int top = lua_gettop(co), raising = 0;
  if (ar->event != LUA_HOOKCALL || !lua_getinfo(co, "f", ar))
    return;
  lua_getglobal(co, "error");
  if (lua_rawequal(co, -1, -2)) {
    raising = 1;
  } else {
    lua_getglobal(co, "assert");
    if (lua_rawequal(co, -1, -3) && lua_getlocal(co, ar, 1))
      raising = !lua_toboolean(co, -1);
  }
  lua_settop(co, top);
  if (raising) {
    luaL_traceback(co, co, NULL, 1);
    lua_setfield(co, LUA_REGISTRYINDEX, TRL_CLOSE_TB);
  }
}

/* Closes the coroutine's pending to-be-closed variables, with the actor
 * detached (nothing there can wait). An error one of them raises is
 * logged with its traceback, as an error in the actor's body is: the
 * actor is ending anyway, but the error must not vanish. A coroutine that
 * died of an error hands it to the closing, which returns that same error
 * when nothing new went wrong. */
static void close_thread(trL__proc *p, tr_pid pid) {
  lua_State *co = p->co, *L = p->lh->L;
  int st = lua_status(co), rc, top = lua_gettop(L);
  int died = st != LUA_OK && st != LUA_YIELD;
  luaL_checkstack(L, 4, "closing an actor");
  if (died && lua_gettop(co) > 0) { /* a copy: the closing reads it there */
    lua_pushvalue(co, -1);
    lua_xmove(co, L, 1);
  } else {
    lua_pushnil(L);
  }
  lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, TRL_CLOSE_TB);
  lua_sethook(co, closing_hook, LUA_MASKCALL, 0);
#if LUA_VERSION_RELEASE_NUM >= 50406
  rc = lua_closethread(co, L);
#else
  rc = lua_resetthread(co);
#endif
  lua_sethook(co, NULL, 0, 0);
  if (rc != LUA_OK && lua_gettop(co) > 0) {
    lua_xmove(co, L, 1);
    if (!died || !lua_rawequal(L, top + 1, top + 2)) {
      const char *msg = error_text(L);
      char text[48];
      tr_pid_format(pid, text, sizeof text);
      lua_getfield(L, LUA_REGISTRYINDEX, TRL_CLOSE_TB);
      tr_host_log(tr_actor_host(p->self), TR_LOG_ERROR,
                  "Lua actor %s failed while ending, in a "
                  "to-be-closed variable: %s\n%s",
                  text, msg,
                  lua_isstring(L, -1) ? lua_tostring(L, -1)
                                      : "(no traceback: the error was not "
                                        "raised by error or assert)");
    }
  }
  lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, TRL_CLOSE_TB);
  lua_settop(L, top);
}

static void proc_terminate(tr_actor *self, void *state, const char *reason) {
  trL__proc *p = state;
  lua_State *L = p->lh->L;
  *(trL__proc **)lua_getextraspace(p->co) = NULL;
  if (p->kept)
    drop_kept(self, p, reason);
  p->msg = NULL;
  p->kept = 0;
  close_thread(p, tr_self(self));
  luaL_unref(L, LUA_REGISTRYINDEX, p->ref);
  luaL_unref(L, LUA_REGISTRYINDEX, p->module_ref);
  if (tr_self(self) == p->lh->root) {
    p->lh->root_ended = 1;
    /* Killed, or taken down by a link: actor.run fails with the reason
     * (a Lua error has set its traceback already). */
    if (reason && strcmp(reason, "normal") != 0 &&
        strcmp(reason, "shutdown") != 0) {
      int set = lua_getfield(L, LUA_REGISTRYINDEX, "actor.root_error");
      lua_pop(L, 1);
      if (set == LUA_TNIL) {
        lua_pushfstring(L, "the root actor ended: %s", reason);
        lua_setfield(L, LUA_REGISTRYINDEX, "actor.root_error");
      }
    }
    tr_host_stop(tr_actor_host(self));
  }
}

const tr_behaviour trL__proc_behaviour = {"lua", sizeof(trL__proc), proc_init,
                                          proc_handle, proc_terminate};

tr_pid trL__spawn(lua_State *L, int idx) {
  trL__host *lh = trL__host_get(L);
  int top = lua_gettop(L), rc;
  tr_msg *args = NULL;
  tr_spawn_opts o = {0};
  spawn_ctx c;
  tr_pid pid;
  luaL_checktype(L, idx, LUA_TFUNCTION);
  trL__clock_start(lh);
  if (top > idx) { /* arguments travel as a copy, like any message */
    args = tr_msg_new("spawn");
    if (!args)
      luaL_error(L, "out of memory");
    trL__add_values(L, args, idx + 1, top);
  }
  c.lh = lh;
  c.co = lua_newthread(L);
  lua_pushvalue(L, idx);
  lua_xmove(L, c.co, 1);
  c.ref = luaL_ref(L, LUA_REGISTRYINDEX);
  c.nargs = args ? trL__push_args(c.co, args, 0) : 0;
  tr_msg_free(args);
  o.ctx = &c;
  rc = tr_spawn(lh->h, &trL__proc_behaviour, NULL, &o, &pid);
  if (rc) {
    luaL_unref(L, LUA_REGISTRYINDEX, c.ref);
    luaL_error(L, "spawn: %s", tr_strerror(rc));
  }
  return pid;
}
