/*
 * lactor.c -- the C part of the `actor` module (require "actor.core").
 *
 * Each function finds the calling actor through its coroutine (lhost.c) and
 * does one thing on the core. Waiting -- receive, call, sleep, a send to a
 * full mailbox -- is a yield: the function records what it waits for,
 * yields, and lproc.c resumes it with the answer as its results. Outside
 * any actor (the main chunk of a REPL) send works from no pid, and call
 * runs the loop until its answer comes; waiting for mail needs an actor.
 */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ltroupe.h"

/* Inside an actor its coroutine knows the host: no registry lookup. */
static trL__host *host(lua_State *L) {
  trL__proc *p = trL__proc_of(L);
  return p ? p->lh : trL__host_get(L);
}

static tr_pid self_pid(lua_State *L) {
  trL__proc *p = trL__proc_of(L);
  return p ? tr_self(p->self) : 0;
}

/* A message named by the string at name_idx, with the values from first to
 * top, the top of the stack, as arguments. */
static tr_msg *build_to(lua_State *L, int name_idx, int first, int top) {
  trL__proc *p = trL__proc_of(L);
  size_t len;
  const char *name = trL__checklstring(L, name_idx, &len);
  tr_msg *m = tr_host_msg_newn(p ? p->lh->h : NULL, name, len);
  if (!m)
    luaL_error(L, "out of memory");
  trL__add_values(L, m, first, top);
  return m;
}

static tr_msg *build(lua_State *L, int name_idx, int first) {
  return build_to(L, name_idx, first, lua_gettop(L));
}

static int fail(lua_State *L, int rc) {
  luaL_pushfail(L);
  lua_pushstring(L, tr_strerror(rc));
  return 2;
}

/* ----------------------------------------------------------- spawning */

static int l_spawn(lua_State *L) {
  trL__host *lh = host(L);
  tr_pid pid;
  if (lua_type(L, 1) == LUA_TTABLE)
    return trL__spawn_table(L); /* by module, on any host: lnode.c */
  if (lua_type(L, 1) == LUA_TSTRING) {
    tr_spawn_opts o = {0};
    const tr_behaviour *b = trL__native(L, lua_tostring(L, 1), &o.ctx);
    tr_msg *args;
    int rc;
    if (!b)
      return trL__argerror(L, 1,
                           lua_pushfstring(L, "no native actor is named '%s'",
                                           lua_tostring(L, 1)));
    args = build(L, 1, 2);
    if ((rc = tr_spawn(lh->h, b, args, &o, &pid)))
      return luaL_error(L, "spawn %s: %s", lua_tostring(L, 1), tr_strerror(rc));
  } else {
    trL__checktype(L, 1, LUA_TFUNCTION);
    pid = trL__spawn(L, 1);
  }
  trL__push_pid(L, pid);
  return 1;
}

static int l_run(lua_State *L) {
  trL__host *lh;
  int rc;
  trL__checktype(L, 1, LUA_TFUNCTION);
  if (trL__proc_of(L))
    return luaL_error(L, "actor.run inside an actor");
  lh = host(L);
  if (lh->root && !lh->root_ended)
    return luaL_error(L, "actor.run is already running");
  lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, "actor.root_error");
  lh->root_ended = 0;
  trL__start_router(lh);
  lh->root = trL__spawn(L, 1);
  rc = tr_host_run(lh->h);
  lh->root = 0;
  trL__host_done(L);
  if (rc)
    return luaL_error(L, "actor.run: %s", tr_strerror(rc));
  if (lua_getfield(L, LUA_REGISTRYINDEX, "actor.root_error") != LUA_TNIL)
    return lua_error(L);
  lua_pushboolean(L, 1);
  return 1;
}

/* ------------------------------------------------------------ sending */

/* A continuation's context: a timeout, the arguments' top, and whether the
 * yield waited for room (0) or for an answer (1). Stack tops stay far below
 * 2^23 (LUAI_MAXSTACK is a million). */
#define CTX(timeout, top, phase)                                               \
  (((lua_KContext)(timeout) << 24) | ((lua_KContext)(top) << 1) | (phase))
#define CTX_TIMEOUT(c) ((uint32_t)(((c) >> 24) & 0xffffff))
/* call_timeout's: the destination is argument 2, after the timeout. */
#define CTX_AT2 ((lua_KContext)1 << 48)
#define CTX_DEST(c) (((c)&CTX_AT2) ? 2 : 1)
/* _try_call's: a failed call answers false and why, instead of raising. */
#define CTX_SOFT ((lua_KContext)1 << 49)
#define CTX_TOP(c) ((int)(((c) >> 1) & 0x7fffff))
#define CTX_PHASE(c) ((int)((c)&1))

/* Before any wait sets anything up: where the coroutine cannot yield (in a
 * metamethod, a callback of a C function, a finalizer) the wait fails with
 * Lua's own error, which lua_yield raises there -- and it fails with mail
 * queued too, which receive would otherwise take there by luck of timing,
 * and before a timer, a wait for room or a call is set that would outlive
 * it (a timer ending a later receive with no timeout of its own, an await
 * holding the actor's mail until its answer came). */
static void check_can_wait(lua_State *L) {
  if (!lua_isyieldable(L))
    lua_yield(L, 0); /* raises */
}

/* Yields until `to` has room again; k then tries again. */
static int wait_room(lua_State *L, trL__proc *p, tr_pid to, lua_KFunction k,
                     lua_KContext ctx) {
  uint64_t s;
  int rc;
  check_can_wait(L);
  rc = tr_notify_room(p->lh->h, tr_self(p->self), to, p->lh->send_timeout, &s);
  if (rc)
    return luaL_error(L, "%s", tr_strerror(rc));
  tr_await(p->self, s);
  p->why = TRL_ROOM;
  return lua_yieldk(L, 0, ctx, k);
}

/* After a wait for room: an error if it timed out, else the arguments back
 * as they were. */
static void room_resumed(lua_State *L, lua_KContext ctx) {
  if (!lua_toboolean(L, -1))
    luaL_error(L, "the mailbox of %s stayed full for %d ms",
               luaL_tolstring(L, CTX_DEST(ctx), NULL),
               (int)host(L)->send_timeout);
  lua_settop(L, CTX_TOP(ctx));
}

static int sent(lua_State *L, int rc) {
  if (rc == TR_ERANGE) { /* only the wire refuses a message for its size */
    luaL_pushfail(L);
    lua_pushliteral(L, "toolarge: over the limit of the transport to that "
                       "node (NATS max_payload)");
    return 2;
  }
  if (rc)
    return fail(L, rc);
  lua_pushboolean(L, 1);
  return 1;
}

static int send_k(lua_State *L, int status, lua_KContext ctx) {
  trL__proc *p = trL__proc_of(L);
  trL__host *lh = p ? p->lh : trL__host_get(L);
  tr_pid to;
  int top, rc;
  if (status == LUA_YIELD)
    room_resumed(L, ctx);
  to = trL__check_dest(L, lh, 1);
  if (!p)
    return sent(L, tr_send(lh->h, 0, to, build(L, 2, 3)));
  top = lua_gettop(L);
  /* Built first: a mailbox found full (the rare case) waits, and then the
   * message is built anew from the same arguments. */
  rc = tr_send_if_room(lh->h, tr_self(p->self), to, build_to(L, 2, 3, top));
  if (rc == TR_EFULL)
    return wait_room(L, p, to, send_k, CTX(0, top, 0));
  return sent(L, rc);
}

static int l_send(lua_State *L) { return send_k(L, LUA_OK, 0); }

static int l_try_send(lua_State *L) {
  trL__host *lh = host(L);
  tr_pid to = trL__check_dest(L, lh, 1);
  /* A refusal for a full mailbox is the core's, counted as a dead letter. */
  return sent(L, tr_send(lh->h, self_pid(L), to, build(L, 2, 3)));
}

/* -------------------------------------------------------------- calls */

/* Raises "call 'name' to dest failed: why", or, for _try_call, returns
 * false and why alone. */
static int call_failed(lua_State *L, lua_KContext ctx, const char *why) {
  int at = CTX_DEST(ctx);
  if (ctx & CTX_SOFT) {
    lua_pushboolean(L, 0);
    lua_pushstring(L, why);
    return 2;
  }
  return luaL_error(L, "call '%s' to %s failed: %s", lua_tostring(L, at + 1),
                    luaL_tolstring(L, at, NULL), why);
}

/* Outside any actor: run the loop until the answer comes. */
static int call_outside(lua_State *L, trL__host *lh, lua_KContext ctx,
                        tr_pid to, uint32_t ms) {
  tr_msg *reply = NULL;
  int top = lua_gettop(L), n, at = CTX_DEST(ctx);
  int rc = tr_host_call(lh->h, to, build(L, at + 1, at + 2), ms, &reply);
  if (rc)
    return call_failed(L, ctx, tr_strerror(rc));
  lua_settop(L, top);
  if (ctx & CTX_SOFT)
    lua_pushboolean(L, 1);
  n = trL__push_args(L, reply, 0) + !!(ctx & CTX_SOFT);
  tr_msg_free(reply);
  return n;
}

static int call_k(lua_State *L, int status, lua_KContext ctx) {
  trL__proc *p = trL__proc_of(L);
  trL__host *lh = p ? p->lh : trL__host_get(L);
  uint32_t ms = CTX_TIMEOUT(ctx);
  lua_KContext flags = ctx & (CTX_AT2 | CTX_SOFT);
  int soft = (ctx & CTX_SOFT) != 0;
  uint64_t session;
  tr_pid to;
  int rc, top, at = CTX_DEST(ctx);
  if (status == LUA_YIELD) {
    if (CTX_PHASE(ctx) == 1) { /* the answer: true, results... | false, why */
      top = CTX_TOP(ctx);
      if (!lua_toboolean(L, top + 1))
        return call_failed(L, ctx, lua_tostring(L, top + 2));
      return lua_gettop(L) - top - !soft;
    }
    if (soft && !lua_toboolean(L, -1)) {
      lua_pushfstring(L, "the mailbox of %s stayed full for %d ms",
                      luaL_tolstring(L, at, NULL), (int)lh->send_timeout);
      return call_failed(L, ctx, lua_tostring(L, -1));
    }
    room_resumed(L, ctx);
  }
  top = lua_gettop(L);
  if (soft && lua_type(L, at) == LUA_TSTRING &&
      !tr_whereis(lh->h, lua_tostring(L, at)))
    return call_failed(L, ctx, "no actor is registered under that name");
  to = trL__check_dest(L, lh, at);
  if (!p) /* both ways build at once, which checks the name */
    return call_outside(L, lh, ctx, to, ms);
  check_can_wait(L);
  rc = tr_call_if_room(lh->h, tr_self(p->self), to,
                       build_to(L, at + 1, at + 2, top), ms, &session);
  if (rc == TR_EFULL) /* built anew after the wait, as in send_k */
    return wait_room(L, p, to, call_k, CTX(ms, top, 0) | flags);
  if (rc)
    return call_failed(L, ctx, tr_strerror(rc));
  tr_await(p->self, session);
  p->why = TRL_CALL;
  return lua_yieldk(L, 0, CTX(ms, top, 1) | flags, call_k);
}

static int l_call(lua_State *L) {
  return call_k(L, LUA_OK, CTX(host(L)->call_timeout, 0, 0));
}

/* The timeout stays argument 1: errors then number the others as the
 * user does. 0 is no timeout. */
static int l_call_timeout(lua_State *L) {
  uint32_t ms = trL__checkms(L, 1, 0, 0xffffff);
  return call_k(L, LUA_OK, CTX(ms, 0, 0) | CTX_AT2);
}

/* _try_call(ms|nil, to, name, ...): call_timeout (nil: call_timeout's
 * default) that returns true and the reply's values, or false and why it
 * failed (what actor.call's error says after "failed: "), with no pcall
 * around it: for actor.kv, whose every request looks at a failure's reason
 * before raising it. */
static int l_try_call(lua_State *L) {
  uint32_t ms =
      lua_isnil(L, 1) ? host(L)->call_timeout : trL__checkms(L, 1, 0, 0xffffff);
  return call_k(L, LUA_OK, CTX(ms, 0, 0) | CTX_AT2 | CTX_SOFT);
}

/* Answers the call last received: "reply" with values, or "error" with a
 * text that the caller's actor.call raises. The values are the function's
 * arguments, or (results) what a handler returned. */
static int answer(lua_State *L, const char *name, size_t len, int first,
                  int results) {
  trL__proc *p = trL__proc_check(L);
  tr_msg *m;
  int rc;
  if (!(m = tr_host_msg_newn(p->lh->h, name, len)))
    return luaL_error(L, "out of memory");
  if (results)
    trL__add_results(L, m, first, lua_gettop(L));
  else
    trL__add_values(L, m, first, lua_gettop(L)); /* bad arguments first */
  if (!p->call_session) {
    tr_msg_free(m);
    return luaL_error(L, "no call to reply to");
  }
  rc = tr_reply_to(p->lh->h, p->call_from, p->call_session, m);
  p->call_session = 0;
  return sent(L, rc);
}

static int l_reply(lua_State *L) { return answer(L, "reply", 5, 1, 0); }

static int l_reply_error(lua_State *L) {
  trL__proc *p = trL__proc_check(L);
  const char *text = trL__checkstring(L, 1);
  int rc;
  if (!p->call_session)
    return luaL_error(L, "no call to reply to");
  rc = tr_reply_error_to(p->lh->h, p->call_from, p->call_session, "%s", text);
  p->call_session = 0;
  return sent(L, rc);
}

/* actor.serve's answer to what a handler returned (actor/init.lua), the
 * values from index `first` up: the reply, unless the call has been
 * answered, forwarded or deferred -- or was no call. */
static void finish(lua_State *L, int first) {
  trL__proc *p = trL__proc_of(L);
  if (p && p->call_session)
    answer(L, "reply", 5, first, 1);
}

/* finish(...): `if calling() then reply(...) end` in one C call. */
static int l_finish(lua_State *L) {
  finish(L, 1);
  return 0;
}

/* After a handler dispatch called, its results from index ctx up (ctx 0:
 * the Lua dispatch ran, which finishes by itself). */
static int dispatch_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  if (ctx)
    finish(L, (int)ctx);
  return 0;
}

/* serve's step for each message, on the stack as [handlers, lua_dispatch,
 * name, ...]: finish(handlers[name](...)) or finish(handlers.default(name,
 * ...)). Done here, the Lua dispatch's vararg frame and a dozen
 * instructions are spared per message. The
 * rest goes to lua_dispatch, the same in Lua: handlers that are no plain
 * table (a lookup from C could not wait in a metatable's __index), what
 * has no handler, and a handler that is no function (Lua's error names
 * it). */
static int dispatch(lua_State *L) {
  int top = lua_gettop(L);
  if (lua_type(L, 1) == LUA_TTABLE && !lua_getmetatable(L, 1)) {
    lua_pushvalue(L, 3); /* a raw lookup is then the same */
    if (lua_rawget(L, 1) == LUA_TFUNCTION) {
      lua_replace(L, 3); /* handler(...) */
      lua_callk(L, top - 3, LUA_MULTRET, 3, dispatch_k);
      return dispatch_k(L, LUA_OK, 3);
    }
    if (!lua_toboolean(L, -1)) {
      lua_pushliteral(L, "default");
      if (lua_rawget(L, 1) == LUA_TFUNCTION) {
        lua_replace(L, 2); /* default(name, ...) */
        lua_settop(L, top);
        lua_callk(L, top - 2, LUA_MULTRET, 2, dispatch_k);
        return dispatch_k(L, LUA_OK, 2);
      }
    }
  }
  lua_settop(L, top);
  lua_callk(L, top - 2, 0, 0, dispatch_k); /* lua_dispatch(name, ...) */
  return 0;
}

static int serve_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  return dispatch(L);
}

/* serve_step(handlers, lua_dispatch): receive(), then the dispatch above,
 * in one C call: the message comes in above the two arguments. */
static int l_serve_step(lua_State *L) {
  trL__proc *p = trL__proc_check(L);
  check_can_wait(L);
  lua_settop(L, 2);
  if (trL__receive_now(p) >= 0)
    return dispatch(L);
  p->why = TRL_RECV;
  return lua_yieldk(L, 0, 0, serve_k);
}

/* True while the message last received is a call not yet answered. */
static int l_calling(lua_State *L) {
  trL__proc *p = trL__proc_of(L);
  lua_pushboolean(L, p && p->call_session);
  return 1;
}

/* ---------------------------------------------------- waiting for mail */

static int l_receive(lua_State *L) {
  trL__proc *p = trL__proc_check(L);
  int n, timed = !lua_isnoneornil(L, 1);
  uint32_t ms = timed ? trL__checkms(L, 1, 0, UINT32_MAX) : 0;
  check_can_wait(L);
  if ((n = trL__receive_now(p)) >= 0)
    return n;
  if (timed) {
    int rc = tr_timeout(p->lh->h, tr_self(p->self), ms, &p->recv_timer);
    if (rc)
      return luaL_error(L, "%s", tr_strerror(rc));
  }
  p->why = TRL_RECV;
  return lua_yield(L, 0);
}

static int l_sleep(lua_State *L) {
  trL__proc *p = trL__proc_check(L);
  uint32_t ms = trL__checkms(L, 1, 0, UINT32_MAX);
  uint64_t s;
  int rc;
  check_can_wait(L);
  rc = tr_timeout(p->lh->h, tr_self(p->self), ms, &s);
  if (rc)
    return luaL_error(L, "%s", tr_strerror(rc));
  tr_await(p->self, s);
  p->why = TRL_SLEEP;
  return lua_yield(L, 0);
}

static int l_after(lua_State *L) {
  trL__proc *p = trL__proc_check(L);
  uint32_t ms = trL__checkms(L, 1, 0, UINT32_MAX);
  uint64_t id;
  int rc = tr_after(p->lh->h, tr_self(p->self), ms, build(L, 2, 3), &id);
  if (rc)
    return fail(L, rc);
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

/* nil, why -- the core's code for a slot that is gone names an actor */
static int gone(lua_State *L, int rc, const char *what) {
  if (rc != TR_ENOPROC)
    return sent(L, rc);
  luaL_pushfail(L);
  lua_pushstring(L, what);
  return 2;
}

static int l_cancel(lua_State *L) {
  uint64_t id = (uint64_t)trL__checkinteger(L, 1);
  return gone(L, tr_cancel(host(L)->h, id), "no such timer");
}

/* -------------------------------------------------------------- names */

static int l_register(lua_State *L) {
  trL__host *lh = host(L);
  size_t len;
  const char *name = trL__checklstring(L, 1, &len);
  tr_pid pid = lua_isnoneornil(L, 2) ? self_pid(L) : trL__test_pid(L, 2);
  int rc;
  if (len < 1 || len > 255 || strlen(name) != len)
    return trL__argerror(L, 1,
                         "a name of 1 to 255 bytes, without NUL, expected");
  if (!pid)
    return trL__typeerror(L, 2, "pid");
  rc = tr_register(lh->h, name, pid);
  if (rc == TR_EEXIST)
    return luaL_error(L,
                      "register '%s': the name is taken, or the actor "
                      "has a name already",
                      name);
  if (rc)
    return luaL_error(L, "register '%s': %s", name, tr_strerror(rc));
  return 0;
}

static int l_unregister(lua_State *L) {
  return sent(L, tr_unregister(host(L)->h, trL__checkstring(L, 1)));
}

static int l_whereis(lua_State *L) {
  tr_pid pid = tr_whereis(host(L)->h, trL__checkstring(L, 1));
  if (!pid)
    return 0;
  trL__push_pid(L, pid);
  return 1;
}

static int l_self(lua_State *L) {
  tr_pid pid = self_pid(L);
  if (!pid)
    return 0;
  trL__push_pid(L, pid);
  return 1;
}

static int l_sender(lua_State *L) {
  trL__proc *p = trL__proc_check(L);
  if (!p->last_from)
    return 0;
  trL__push_pid(L, p->last_from);
  return 1;
}

/* ------------------------------------------------------ life and death */

static tr_pid check_pid(lua_State *L, int idx) {
  tr_pid pid = trL__test_pid(L, idx);
  if (!pid)
    trL__typeerror(L, idx, "pid");
  return pid;
}

static int l_monitor(lua_State *L) {
  trL__proc *p = trL__proc_check(L);
  tr_pid target = trL__check_dest(L, p->lh, 1);
  uint64_t ref;
  int rc = tr_monitor(p->lh->h, tr_self(p->self), target, &ref);
  if (rc)
    return luaL_error(L, "%s", tr_strerror(rc));
  lua_pushinteger(L, (lua_Integer)ref);
  return 1;
}

static int l_demonitor(lua_State *L) {
  uint64_t ref = (uint64_t)trL__checkinteger(L, 1);
  return gone(L, tr_demonitor(host(L)->h, ref), "no such monitor");
}

static int l_link(lua_State *L) {
  trL__proc *p = trL__proc_check(L);
  return sent(L, tr_link(p->lh->h, tr_self(p->self), check_pid(L, 1)));
}

static int l_unlink(lua_State *L) {
  trL__proc *p = trL__proc_check(L);
  return sent(L, tr_unlink(p->lh->h, tr_self(p->self), check_pid(L, 1)));
}

static int l_trap_exit(lua_State *L) {
  trL__proc *p = trL__proc_check(L);
  trL__checktype(L, 1, LUA_TBOOLEAN);
  tr_trap_exit(p->self, lua_toboolean(L, 1));
  return 0;
}

static int l_exit(lua_State *L) {
  trL__proc *p = trL__proc_check(L);
  tr_exit(p->self, trL__optstring(L, 1, "normal"));
  p->why = TRL_RECV; /* never resumed: the actor ends when it yields */
  return lua_yield(L, 0);
}

static int l_kill(lua_State *L) {
  trL__host *lh = host(L);
  tr_pid pid = check_pid(L, 1);
  const char *reason = trL__optstring(L, 2, "killed");
  if (pid == self_pid(L)) { /* ends as a kill does: "killed" by default */
    lua_pushstring(L, reason);
    lua_replace(L, 1);
    lua_settop(L, 1);
    return l_exit(L);
  }
  return sent(L, tr_kill(lh->h, pid, reason));
}

static int l_alive(lua_State *L) {
  lua_pushboolean(L, tr_alive(host(L)->h, check_pid(L, 1)));
  return 1;
}

/* ------------------------------------------------------------- others */

/* [] -> this host's figures (actor.stats(), the spawner's "stats"). */
int trL__host_stats(lua_State *L) {
  trL__host *lh = host(L);
  tr_host_stats st;
  tr_host_get_stats(lh->h, &st);
  lua_createtable(L, 0, 10);
  lua_pushinteger(L, st.ready);
  lua_setfield(L, -2, "ready");
  lua_pushinteger(L, st.per_second);
  lua_setfield(L, -2, "per_second");
  lua_pushinteger(L, (lua_Integer)lua_gc(L, LUA_GCCOUNT) * 1024 +
                         lua_gc(L, LUA_GCCOUNTB));
  lua_setfield(L, -2, "lua_memory");
  lua_pushinteger(L, (lua_Integer)trL__mailbox_bytes(L, lh->h));
  lua_setfield(L, -2, "mailbox_bytes");
  lua_pushinteger(L, (lua_Integer)st.delivered);
  lua_setfield(L, -2, "delivered");
  lua_pushinteger(L, (lua_Integer)st.dead_letters);
  lua_setfield(L, -2, "dead_letters");
  lua_pushinteger(L, (lua_Integer)st.late_replies);
  lua_setfield(L, -2, "late_replies");
  lua_pushinteger(L, st.actors);
  lua_setfield(L, -2, "actors");
  lua_pushinteger(L, st.timers);
  lua_setfield(L, -2, "timers");
  return 1;
}

static int stats_k(lua_State *L, int status, lua_KContext ctx) {
  (void)L;
  (void)status;
  (void)ctx;
  return 2;
}

/* actor.stats([{node = true}]): this host's figures, or the node's summed
 * over its hosts (asked of their spawners), and nil or the hosts that did
 * not answer (index -> why). */
static int l_stats(lua_State *L) {
  trL__host *lh = host(L);
  int node = 0;
  lua_settop(L, 1);
  if (!lua_isnil(L, 1)) {
    trL__checktype(L, 1, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
      if (lua_type(L, -2) != LUA_TSTRING || strcmp(lua_tostring(L, -2), "node"))
        return trL__argerror(
            L, 1, lua_pushfstring(L, "unknown option %s", trL__got(L, -2)));
      node = lua_toboolean(L, -1);
      lua_pop(L, 1);
    }
  }
  trL__host_stats(L);
  lua_pushinteger(L, 1);
  lua_setfield(L, -2, "hosts"); /* how many hosts the figures sum */
  if (!node || trL__node_size(lh) <= 1)
    return 1;
  if (!trL__push_asker(L, "stats")) {
    trL__not_asked(L, lh, -1);
    return 2;
  }
  lua_insert(L, -2);
  lua_pushinteger(L, TRL_NODE_MS);
  lua_callk(L, 2, 2, 0, stats_k);
  return 2;
}

static int l_log(lua_State *L) {
  static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
  int level = trL__checkoption(L, 1, NULL, levels) + TR_LOG_ERROR;
  tr_host_log(host(L)->h, level, "%s", trL__checkstring(L, 2));
  return 0;
}

/* actor.forward(to[, name, ...]): sends the message being handled on to
 * `to`, unchanged, or as the message name, ...: a call's answer then comes
 * from `to`, straight to the caller. Only before the handler waits (the
 * message is gone after that). */
static int l_forward(lua_State *L) {
  trL__proc *p = trL__proc_check(L);
  tr_pid to = trL__check_dest(L, p->lh, 1);
  tr_msg *m = p->msg, *as = lua_gettop(L) >= 2 ? build(L, 2, 3) : NULL;
  int rc;
  if (!m) {
    tr_msg_free(as);
    return luaL_error(L, "forward: no message is being handled (forward "
                         "before waiting for anything)");
  }
  p->msg = NULL;
  if (tr_msg_kind(m) == TR_KIND_CALL)
    p->call_session = 0; /* the call is the new callee's to answer */
  if (!as)
    return sent(L, tr_forward(p->lh->h, to, m));
  rc = tr_forward_as(p->lh->h, to, m, as);
  if (p->kept) /* else m is the core's, freed after this turn */
    tr_msg_free(m);
  p->kept = 0;
  return sent(L, rc);
}

/* actor.defer() -> caller, session: answer the call last received later,
 * with actor.reply_to or actor.reply_error_to, after other mail. */
static int l_defer(lua_State *L) {
  trL__proc *p = trL__proc_check(L);
  if (!p->call_session)
    return luaL_error(L, "defer: no call to answer");
  trL__push_pid(L, p->call_from);
  lua_pushinteger(L, (lua_Integer)p->call_session);
  p->call_session = 0;
  return 2;
}

static int answer_to(lua_State *L, const char *name) { /* "reply" */
  trL__host *lh = host(L);
  tr_pid who = trL__test_pid(L, 1);
  uint64_t session;
  tr_msg *m;
  if (!who)
    return trL__typeerror(L, 1, "pid");
  session = (uint64_t)trL__checkinteger(L, 2);
  if (!(m = tr_msg_new(name)))
    return luaL_error(L, "out of memory");
  trL__add_values(L, m, 3, lua_gettop(L));
  return sent(L, tr_reply_to(lh->h, who, session, m));
}

static int l_reply_to(lua_State *L) { return answer_to(L, "reply"); }

static int l_reply_error_to(lua_State *L) {
  const char *text = trL__checkstring(L, 3);
  tr_pid who = trL__test_pid(L, 1);
  uint64_t session;
  if (!who)
    return trL__typeerror(L, 1, "pid");
  session = (uint64_t)trL__checkinteger(L, 2);
  return sent(L, tr_reply_error_to(host(L)->h, who, session, "%s", text));
}

/* actor.pending() -> sends and calls waiting in this actor's mailbox. */
static int l_pending(lua_State *L) {
  trL__proc *p = trL__proc_check(L);
  lua_pushinteger(L, tr_mailbox_count(p->lh->h, tr_self(p->self)));
  return 1;
}

/* actor.heartbeat(): shows the supervisor this actor is alive during long
 * work between messages (taking a message counts already). */
static int l_heartbeat(lua_State *L) {
  tr_heartbeat(trL__proc_check(L)->self);
  return 0;
}

/* actor.now() -> a monotonic clock in milliseconds (a float, to the
 * microsecond), for measuring: uv_hrtime, not the loop's cached time. */
static int l_now(lua_State *L) {
  lua_pushnumber(L, (lua_Number)uv_hrtime() / 1e6);
  return 1;
}

/* actor.time() -> the wall clock in whole milliseconds since the Unix
 * epoch, an integer: for times that outlive the process (the store's
 * expiries), where actor.now's clock means nothing. */
static int l_time(lua_State *L) {
  uv_timeval64_t tv;
  if (uv_gettimeofday(&tv) != 0)
    return luaL_error(L, "time: the wall clock cannot be read");
  lua_pushinteger(L, (lua_Integer)tv.tv_sec * 1000 + tv.tv_usec / 1000);
  return 1;
}

/* actor.configure{...}: changes the settings given, after checking them
 * all, and returns every setting in force. Numbers: slice (us),
 * hard_limit (slices), call_timeout, send_timeout (ms). The store's, read when
 * the router starts it (on its first request): store = "c" | "lua" |
 * "redis", writer = "log" | "json", data_dir, fsync = "everysec" | "always" |
 * "no", redis = "redis://HOST[:PORT][/DB]" (the store in Redis's server,
 * troupe_services.h; redis://127.0.0.1:6379/0 by default), redis_timeout
 * (ms it waits for Redis's answer, 2000). memory_limit
 * (MiB, 1024) bounds the Lua heap of all the host's Lua actors together.
 * The RESP gateway (troupe_services.h): resp = "[addr:]port" (or a port
 * number; false stops it) starts it at once on the router's host, with
 * resp_password, resp_maxclients, resp_max_inflight, resp_max_args,
 * resp_max_request, resp_max_output (bytes), resp_idle_ms and
 * resp_allow_flush (a boolean) as set by then. log_level = "error" | "warn"
 * | "info" | "debug": what every host of the node logs from now on (the
 * others asked through their spawners; those that did not take it come
 * back as a second value, host index -> why). */
static const char *const num_keys[] = {"slice",        "hard_limit",
                                       "call_timeout", "send_timeout",
                                       "memory_limit", NULL};
static const char *const str_keys[] = {"store", "writer", "data_dir",
                                       "fsync", "redis",  NULL};
static const char *const stores[] = {"c", "lua", "redis", NULL};
static const char *const writers[] = {"log", "json", NULL};
static const char *const fsyncs[] = {"everysec", "always", "no", NULL};
static const char *const log_levels[] = {"error", "warn", "info", "debug",
                                         NULL};

/* "[addr:]port", "[v6]:port" or a port number at the top into r. */
static int resp_address(lua_State *L, trL__resp *r) {
  const char *s = lua_tostring(L, -1), *colon, *p;
  char *end;
  long port;
  size_t alen = 0;
  if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
    return 0;
  colon = strrchr(s, ':');
  p = colon ? colon + 1 : s;
  port = strtol(p, &end, 10);
  if (!*p || *end || port < 0 || port > 65535)
    return 0;
  if (colon) {
    alen = (size_t)(colon - s);
    if (alen >= 2 && s[0] == '[' && s[alen - 1] == ']') {
      s++;
      alen -= 2;
    }
    if (!alen || alen >= sizeof r->addr)
      return 0;
  }
  memcpy(r->addr, s, alen);
  r->addr[alen] = '\0';
  r->port = (int)port;
  return 1;
}

/* A resp_* setting at the top (key k) into r; 0 for an unknown key. */
static int resp_setting(lua_State *L, const char *k, trL__resp *r) {
  static const char *const nums[] = {"resp_maxclients",
                                     "resp_max_inflight",
                                     "resp_max_args",
                                     "resp_idle_ms",
                                     "resp_max_request",
                                     "resp_max_output",
                                     NULL};
  int i, isnum;
  lua_Integer v;
  if (!strcmp(k, "resp_password")) {
    const char *p = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    if (lua_toboolean(L, -1) && (!*p || strlen(p) >= sizeof r->password ||
                                 strlen(p) != lua_rawlen(L, -1)))
      return trL__argerror(
          L, 1,
          lua_pushfstring(L,
                          "resp_password must be a string of 1..%d bytes "
                          "without NUL, or false",
                          (int)sizeof r->password - 1));
    strcpy(r->password, lua_toboolean(L, -1) ? p : "");
    return 1;
  }
  if (!strcmp(k, "resp_allow_flush")) {
    r->cfg.allow_flush = lua_toboolean(L, -1);
    return 1;
  }
  for (i = 0; nums[i] && strcmp(k, nums[i]); i++)
    ;
  if (!nums[i])
    return 0;
  v = lua_tointegerx(L, -1, &isnum);
  if (!isnum || v < 0 || (i < 4 && v > 0x7fffffff) ||
      (i >= 4 && v > ((lua_Integer)1 << 40)))
    return trL__argerror(L, 1,
                         lua_pushfstring(L,
                                         "%s must be a count >= 0 (0: the "
                                         "default), got %s",
                                         k, trL__got(L, -1)));
  switch (i) {
  case 0:
    r->cfg.maxclients = (uint32_t)v;
    break;
  case 1:
    r->cfg.max_inflight = (uint32_t)v;
    break;
  case 2:
    r->cfg.max_args = (uint32_t)v;
    break;
  case 3:
    r->cfg.idle_ms = (uint32_t)v;
    break;
  case 4:
    r->cfg.max_request = (size_t)v;
    break;
  default:
    r->cfg.max_output = (size_t)v;
  }
  return 1;
}

/* The index of the string at the top in list, or an error naming key. */
static int choice(lua_State *L, const char *key, const char *const *list) {
  const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  int i;
  for (i = 0; v && list[i]; i++)
    if (!strcmp(v, list[i]))
      return i;
  trL__got(L, -1);
  lua_pushfstring(L, "%s must be one of", key);
  for (i = 0; list[i]; i++)
    lua_pushfstring(L, " %s", list[i]);
  lua_pushfstring(L, ", got %s", lua_tostring(L, -(i + 2)));
  lua_concat(L, i + 2);
  return trL__argerror(L, 1, lua_tostring(L, -1));
}

/* [level] -> true: sets this host's log level (the spawner's
 * "log_level", which actor.configure asks of the node's other hosts). */
int trL__log_level_here(lua_State *L) {
  lua_Integer level = luaL_checkinteger(L, 1);
  int rc = level < TR_LOG_ERROR || level > TR_LOG_DEBUG
               ? TR_EINVAL
               : tr_host_set_log_level(host(L)->h, (int)level);
  if (rc)
    return luaL_error(L, "log_level: %s", tr_strerror(rc));
  lua_pushboolean(L, 1);
  return 1;
}

/* Every setting in force, as actor.configure returns them. */
static void push_settings(lua_State *L, trL__host *lh) {
  const trL__kv *kv = &lh->kv;
  const uint32_t nums[5] = {lh->slice, lh->hard_limit, lh->call_timeout,
                            lh->send_timeout, lh->memory_mib};
  int i, log_level;
  lua_createtable(L, 0, 10);
  for (i = 0; i < 5; i++) {
    lua_pushinteger(L, nums[i]);
    lua_setfield(L, -2, num_keys[i]);
  }
  lua_pushstring(L, stores[kv->lua_store]);
  lua_setfield(L, -2, "store");
  lua_pushstring(L, writers[kv->lua_writer]);
  lua_setfield(L, -2, "writer");
  lua_pushstring(L, kv->dir);
  lua_setfield(L, -2, "data_dir");
  lua_pushstring(L, fsyncs[kv->fsync]);
  lua_setfield(L, -2, "fsync");
  lua_pushstring(L, kv->redis);
  lua_setfield(L, -2, "redis");
  lua_pushinteger(L, kv->redis_timeout_ms);
  lua_setfield(L, -2, "redis_timeout");
  if ((log_level = tr_host_log_level(lh->h)) != 0) {
    lua_pushstring(L, log_levels[log_level - TR_LOG_ERROR]);
    lua_setfield(L, -2, "log_level");
  }
  trL__cluster_push(L, lh);
  if (lh->h && tr_whereis(lh->h, "resp")) { /* where it listens; nil: off */
    lua_pushfstring(L, "%s:%d", lh->resp.addr[0] ? lh->resp.addr : "127.0.0.1",
                    lh->resp.port);
    lua_setfield(L, -2, "resp");
  }
}

/* After the other hosts were asked to take the log level: the settings,
 * and the hosts that did not take it (index -> why), if any. */
static int configure_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  push_settings(L, host(L));
  if (lua_isnil(L, -2))
    return 1;
  lua_insert(L, -2);
  return 2;
}

static int configure(lua_State *L) {
  trL__host *lh = host(L);
  trL__kv *kv = &lh->kv;
  uint32_t *nums[5], next[5];
  int store = kv->lua_store, writer = kv->lua_writer, fsync = kv->fsync, i;
  int resp = 0;      /* 1: start the gateway, -1: stop it */
  int log_level = 0; /* 0: unchanged */
  trL__resp r = lh->resp;
  const char *dir = NULL, *redis = NULL;
  uint32_t redis_timeout = kv->redis_timeout_ms;
  nums[0] = &lh->slice;
  nums[1] = &lh->hard_limit;
  nums[2] = &lh->call_timeout;
  nums[3] = &lh->send_timeout;
  nums[4] = &lh->memory_mib;
  for (i = 0; i < 5; i++)
    next[i] = *nums[i];
  if (!lua_isnoneornil(L, 1)) {
    trL__checktype(L, 1, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 1)) { /* refuse what is not a setting: typos too */
      const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
      int n = -1, sk = -1, j;
      for (j = 0; num_keys[j]; j++)
        if (!strcmp(k, num_keys[j]))
          n = j;
      for (j = 0; str_keys[j]; j++)
        if (!strcmp(k, str_keys[j]))
          sk = j;
      if (n == 2 || n == 3) { /* timeouts: fractions of a ms round up */
        if (!trL__toms(L, -1, 1, 0xffffff, &next[n]))
          return trL__argerror(
              L, 1,
              lua_pushfstring(L, "%s must be 1..16777215 ms, got %s", k,
                              trL__got(L, -1)));
      } else if (n >= 0) {
        lua_Integer v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
        if (v < 1 || v > 0xffffff)
          return trL__argerror(L, 1,
                               lua_pushfstring(L,
                                               "%s must be 1..16777215, got %s",
                                               k, trL__got(L, -1)));
        next[n] = (uint32_t)v;
      } else if (sk == 0) {
        store = choice(L, k, stores);
      } else if (sk == 1) {
        writer = choice(L, k, writers);
      } else if (sk == 2) {
        dir = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        if (!*dir || strlen(dir) >= sizeof kv->dir)
          return trL__argerror(
              L, 1,
              lua_pushfstring(L, "data_dir must be a path of 1..%d bytes",
                              (int)sizeof kv->dir - 1));
      } else if (sk == 3) {
        fsync = choice(L, k, fsyncs);
      } else if (sk == 4) {
        char why[400];
        redis = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        if (!redis || strlen(redis) >= sizeof kv->redis ||
            tr_kv_redis_url_check(redis, why, sizeof why))
          return trL__argerror(
              L, 1,
              lua_pushfstring(L,
                              "redis must be redis://HOST[:PORT][/DB], "
                              "got %s%s%s",
                              trL__got(L, -1), redis ? ": " : "",
                              redis ? why : ""));
      } else if (!strcmp(k, "redis_timeout")) {
        if (!trL__toms(L, -1, 1, 0xffffff, &redis_timeout))
          return trL__argerror(
              L, 1,
              lua_pushfstring(L, "redis_timeout must be 1..16777215 ms, got %s",
                              trL__got(L, -1)));
      } else if (!strcmp(k, "log_level")) {
        log_level = choice(L, k, log_levels) + TR_LOG_ERROR;
      } else if (!strcmp(k, "resp")) {
        resp = lua_toboolean(L, -1) ? 1 : -1;
        if (resp > 0 && !resp_address(L, &r))
          return trL__argerror(
              L, 1,
              lua_pushfstring(L,
                              "resp must be \"[addr:]port\" (port 0..65535) "
                              "or false, got %s",
                              trL__got(L, -1)));
      } else if (resp_setting(L, k, &r)) {
        /* kept in r */
      } else if (trL__cluster_key(k)) {
        /* taken before the host was made: l_configure */
      } else {
        return trL__argerror(
            L, 1, lua_pushfstring(L, "unknown setting %s", trL__got(L, -2)));
      }
      lua_pop(L, 1);
    }
  }
  if (resp > 0 && lh->h && tr_whereis(lh->h, "resp"))
    return luaL_error(L, "resp: the gateway runs already (resp = false "
                         "stops it)");
  for (i = 0; i < 5; i++)
    *nums[i] = next[i];
  trL__clock_set(lh);
  lh->mem_limit = (size_t)lh->memory_mib << 20;
  kv->lua_store = store;
  kv->lua_writer = writer;
  kv->fsync = fsync;
  if (dir)
    strcpy(kv->dir, dir);
  if (redis)
    strcpy(kv->redis, redis);
  kv->redis_timeout_ms = redis_timeout;
  if (log_level)
    tr_host_set_log_level(lh->h, log_level);
  r.want = resp > 0;
  lh->resp = r;
  if (resp < 0 && lh->h && tr_whereis(lh->h, "resp"))
    tr_kill(lh->h, tr_whereis(lh->h, "resp"), "killed");
  if (resp > 0) {
    char err[256];
    if (trL__start_resp(lh, err, sizeof err))
      return luaL_error(L, "%s", err);
  }
  if (log_level && trL__node_size(lh) > 1) {
    /* the level is the node's: every other host takes it too */
    lua_settop(L, 0);
    if (!trL__push_asker(L, "log_level")) {
      trL__not_asked(L, lh, -1);
      return configure_k(L, LUA_OK, 0);
    }
    lua_pushinteger(L, log_level);
    lua_pushinteger(L, TRL_NODE_MS);
    lua_callk(L, 2, 1, 0, configure_k);
    return configure_k(L, LUA_OK, 0);
  }
  push_settings(L, lh);
  return 1;
}

/* The cluster's settings go first: the host made next joins with them
 * (lcluster.c), and the rest may need the host. */
static int l_configure(lua_State *L) {
  trL__cluster_configure(L, trL__host_ensure(L));
  return configure(L);
}

int luaopen_actor_core(lua_State *L) {
  static const luaL_Reg funcs[] = {{"run", l_run},
                                   {"spawn", l_spawn},
                                   {"send", l_send},
                                   {"try_send", l_try_send},
                                   {"call", l_call},
                                   {"call_timeout", l_call_timeout},
                                   {"reply", l_reply},
                                   {"reply_error", l_reply_error},
                                   {"forward", l_forward},
                                   {"defer", l_defer},
                                   {"reply_to", l_reply_to},
                                   {"reply_error_to", l_reply_error_to},
                                   {"pending", l_pending},
                                   {"heartbeat", l_heartbeat},
                                   {"supervise", trL__supervise},
                                   {"calling", l_calling},
                                   {"_try_call", l_try_call}, /* actor.kv's */
                                   {"_finish", l_finish},     /* serve's */
                                   {"_serve_step", l_serve_step}, /* serve's */
                                   {"log", l_log},
                                   {"receive", l_receive},
                                   {"sleep", l_sleep},
                                   {"after", l_after},
                                   {"now", l_now},
                                   {"time", l_time},
                                   {"cancel", l_cancel},
                                   {"register", l_register},
                                   {"unregister", l_unregister},
                                   {"whereis", l_whereis},
                                   {"self", l_self},
                                   {"sender", l_sender},
                                   {"monitor", l_monitor},
                                   {"demonitor", l_demonitor},
                                   {"link", l_link},
                                   {"unlink", l_unlink},
                                   {"trap_exit", l_trap_exit},
                                   {"exit", l_exit},
                                   {"kill", l_kill},
                                   {"alive", l_alive},
                                   {"stats", l_stats},
                                   {"info", trL__info},
                                   {"list", trL__list},
                                   {"timing", trL__timing},
                                   {"configure", l_configure},
                                   {NULL, NULL}};
  if (!trL__host_find(L)) {
    /* The main thread's extra space means "no actor" (trL__proc_of): Lua
     * leaves it unset and coroutines copy it, so set it before anything
     * reads it (lhost.c's ensure sets it too, but later). */
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    *(trL__proc **)lua_getextraspace(lua_tothread(L, -1)) = NULL;
    lua_pop(L, 1);
  }
  trL__open_pid(L);
  /* actor.file comes with the module: the Lua writer needs it */
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, trL__open_file);
  lua_setfield(L, -2, "actor.file");
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  trL__name_functions(L, "actor.", funcs);
  trL__open_node(L);
  lua_pushliteral(L, TR_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}
