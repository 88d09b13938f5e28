/*
 * ltroupe.h -- the Lua layer's insides, shared by the files of lua/ only.
 *
 * One lua_State per host: every Lua actor on a host is a coroutine of that
 * state (an idle coroutine costs about a kilobyte, a lua_State of its own
 * tens). Values cross between actors as messages, copied, never shared.
 *
 * Names: trL_ is the layer's public API (troupe_lua.h); what is declared
 * here is trL__, internal, and hidden from the module's exports.
 */
#ifndef TR_LTROUPE_H
#define TR_LTROUPE_H

#include <lauxlib.h>
#include <lua.h>
#include <stdatomic.h>
#include <time.h>

#include "troupe.h"
#include "troupe_lua.h"
#include "troupe_services.h"

#define TRL_PID "actor.pid" /* metatable of pid userdata */

/* Debug builds check the layer's own stack discipline where C code runs
 * between Lua calls (Debian's liblua is built without LUA_USE_APICHECK, so
 * Lua's own API checks are not there to catch a slip). */
#ifndef NDEBUG
#include <assert.h>
#define TRL_STACK_MARK(L) const int trl_top_ = lua_gettop(L)
#define TRL_STACK_CHECK(L) assert(lua_gettop(L) == trl_top_)
#else
#define TRL_STACK_MARK(L) ((void)0)
#define TRL_STACK_CHECK(L) ((void)0)
#endif

/* A supervisor child that is a Lua actor: a function in the registry, or
 * a module whose value is the actor's function, with string arguments
 * (lservice.c). */
typedef struct trL__child {
  struct trL__host *lh;
  int fn_ref;         /* LUA_NOREF when the function comes from module */
  const char *module; /* e.g. "actor.store" */
  const char *args[2];
  int nargs;
  tr_pid out;
} trL__child;

/* The store behind the router, as actor.configure set it up: everything
 * the router and the supervisor keep pointers to lives here. */
typedef struct trL__kv {
  char dir[1024];
  int fsync;        /* TR_FSYNC_* */
  int lua_store;    /* 1: the Lua store instead of the native one; 2: the
                       store in Redis (redis below), with no writer */
  char redis[1024]; /* the store in Redis's URL */
  uint32_t redis_timeout_ms; /* its wait for Redis's answer */
  int lua_writer;            /* the Lua JSON writer instead of the native log */
  /* The settings above as they were when the service first started (on
   * its first request): its restarts keep them. */
  int settled;
  char run_dir[1024];
  char run_redis[1024];
  tr_kv_config cfg;
  trL__child writer, store;
  tr_child_spec children[2];
  tr_sup_spec spec;
  tr_service service;
} trL__kv;

/* The RESP gateway's settings, as actor.configure's resp* keys set them:
 * it starts on the router's host once resp is set (lservice.c). */
typedef struct trL__resp {
  int want; /* resp was set: start it when the host is there */
  char addr[64];
  int port;
  char password[256];
  tr_resp_config cfg; /* the limits; addr and password point above */
} trL__resp;

/* The cluster actor.configure asks for in a plain Lua script (lcluster.c):
 * kept until the layer makes its host, which then joins it. */
typedef struct trL__cluster {
  int want; /* cluster and node were set */
  char url[1001];
  char node[65], name[65]; /* name "": the default, "troupe" */
  char creds[1024];        /* "": none */
  char tls[4096];          /* "ca=FILE,cert=FILE,key=FILE", "": none */
  uint32_t lost_ms;        /* 0: the default */
  tr_cluster *c;           /* joined: the layer's own host is attached */
  int joined;              /* c was ever set: libnats is in use */
} trL__cluster;

#define TRL_DESTS 4 /* destination pids remembered (a power of 2) */

/* The host behind a lua_State, kept as a userdata in the registry. */
typedef struct trL__host {
  tr_host *h;
  lua_State *L;         /* the main state */
  const void *pid_meta; /* the pid metatable, once looked up (lpid.c) */
  int owns_host;        /* made by actor.run: freed when run returns */
  int detached;         /* the attached host has stopped: h is NULL */
  tr_pid root;          /* the actor actor.run waits for */
  int root_ended;
  uint32_t slice;      /* us an actor may run before it is suspended */
  uint32_t hard_limit; /* slices in a non-yieldable call before a kill */
  uint32_t call_timeout, send_timeout; /* ms, defaults */
  struct trL__proc *running;           /* the actor being resumed, or NULL */
  /* The Lua heap's limit, kept by an allocator wrapped around the state's
   * own: what actors allocate while they run may not pass it. */
  lua_Alloc alloc;
  void *alloc_ud;
  size_t mem_used, mem_limit;
  uint32_t memory_mib; /* mem_limit in MiB, as actor.configure sets it */
  trL__kv kv;
  trL__resp resp;
  trL__cluster cluster;
  /* The clock (lclock.c): the tick's handler reads what resume writes. */
  uint8_t clock;                 /* TRL_CLOCK_* */
  timer_t clock_timer;           /* while TRL_CLOCK_TICK */
  _Atomic(lua_State *) clock_co; /* the coroutine being resumed, or NULL */
  atomic_uint clock_gen;         /* resumes begun */
  atomic_uint clock_overdue;     /* ticks the running resume outlasted */
  unsigned clock_seen;           /* clock_gen at the last tick */
  /* Inside tr_host_step the tick comes at the step's end if that is
   * sooner, and stops whatever runs then (times on uv_hrtime's clock). */
  _Atomic uint64_t clock_due;      /* when the timer fires, 0: it is off */
  _Atomic uint64_t clock_step_end; /* the running step's end, 0 if none */
  /* Pids that are destinations lately (lpid.c), by their userdata's
   * address: a hit needs no metatable check. A registry ref keeps each
   * userdata alive, so its address names no other object meanwhile. */
  struct trL__dest {
    const void *ud;
    tr_pid pid;
    int ref;
  } dests[TRL_DESTS];
} trL__host;

enum { TRL_CLOCK_OFF, TRL_CLOCK_TICK, TRL_CLOCK_COUNT };

/* What a suspended Lua actor waits for. */
enum { TRL_START, TRL_RECV, TRL_CALL, TRL_SLEEP, TRL_ROOM, TRL_PREEMPT };

/* A Lua actor: the state of a native actor that runs a coroutine. */
typedef struct trL__proc {
  trL__host *lh;
  tr_actor *self;
  lua_State *co;
  int ref;             /* registry ref keeping co alive */
  uint8_t why;         /* TRL_* */
  uint8_t preempted;   /* the hook yielded */
  uint8_t runaway;     /* past the hard limit: ends at the next chance */
  uint32_t strikes;    /* without the clock: slices run unable to yield */
  int nargs;           /* values waiting on co's stack for the first resume */
  uint64_t recv_timer; /* receive's timeout session, 0 when none */
  tr_pid call_from;    /* the call last received, for actor.reply */
  uint64_t call_session;
  tr_pid last_from; /* sender of the message last received */
  tr_msg *msg;      /* the message being handled, for actor.forward */
  uint8_t kept;     /* msg is ours: kept across a preemption */
  int module_ref;   /* "module" or "module.fn" it was started as, for
                       actor.info (a registry ref); LUA_NOREF: a function */
} trL__proc;

/* lhost.c */
trL__host *trL__host_ensure(lua_State *L); /* settings only: no tr_host */
trL__host *trL__host_get(lua_State *L);    /* the host, made on first use */
trL__host *trL__host_find(lua_State *L);   /* ... or NULL, making nothing */
trL__proc *trL__proc_of(lua_State *L);     /* the running actor, or NULL */
trL__proc *trL__proc_check(lua_State *L);  /* ... or a Lua error */
/* The behaviour defined as name (trL_define), and its ctx; NULL if none. */
const tr_behaviour *trL__native(lua_State *L, const char *name, void **ctx);
void trL__host_done(lua_State *L); /* frees a host made by actor.run */

/* lproc.c */
extern const tr_behaviour trL__proc_behaviour;
/* Spawns fn (at index idx) with the values above it as arguments. */
tr_pid trL__spawn(lua_State *L, int idx);
/* The next queued message that receive takes, pushed onto p's coroutine
 * as receive's results: how many, or -1 when the actor must wait. */
int trL__receive_now(trL__proc *p);

/* lvalue.c: Lua values <-> message values. trL__add_values adds the values
 * at [first, last] to m, last being the top of the stack; on a refused value it
 * frees m and raises a bad argument error naming it (its index is its argument
 * number). trL__add_results does the same for what a handler returned, naming
 * the value by its place among them. trL__push_args pushes a message's
 * arguments (from index `from`) and returns how many. */
void trL__add_values(lua_State *L, tr_msg *m, int first, int last);
void trL__add_results(lua_State *L, tr_msg *m, int first, int last);
int trL__push_args(lua_State *L, tr_msg *m, size_t from);
int trL__push_value(lua_State *L, const tr_value *v);

/* lclock.c: trL__clock_start (on the loop thread, before the first Lua
 * actor runs) sets the clock up, or the count hooks without it;
 * trL__clock_set follows a new slice; trL__clock_stop ends it with the
 * state. trL__clock_attach sets a new actor's coroutine up. */
void trL__clock_start(trL__host *lh);
void trL__clock_set(trL__host *lh);
void trL__clock_stop(trL__host *lh);
void trL__clock_attach(trL__host *lh, lua_State *co);
void trL__clock_runaway(lua_State *co, const trL__host *lh); /* pushes why */
void trL__clock_arm(trL__host *lh);

/* Around each resume: which coroutine the tick may stop. The signal
 * fences keep the compiler from moving these stores across the resume;
 * the handler runs on this same thread. Once the resume is over, a hook
 * the tick set and the coroutine did not meet is taken off. */
static inline void trL__clock_enter(trL__host *lh, lua_State *co) {
  atomic_store_explicit(&lh->clock_overdue, 0, memory_order_relaxed);
  atomic_store_explicit(
      &lh->clock_gen,
      atomic_load_explicit(&lh->clock_gen, memory_order_relaxed) + 1,
      memory_order_relaxed);
  atomic_store_explicit(&lh->clock_co, co, memory_order_relaxed);
  atomic_signal_fence(memory_order_seq_cst);
  /* Set after co: a tick due at once (a step already over) finds it. */
  if (lh->clock == TRL_CLOCK_TICK) {
    uint64_t end = tr_host_step_end(lh->h);
    atomic_store_explicit(&lh->clock_step_end, end, memory_order_relaxed);
    /* A timer set past the step's end is set anew: at the first resume
     * of a step, and after idling (not again until its tick) */
    uint64_t due = atomic_load_explicit(&lh->clock_due, memory_order_relaxed);
    if (!due || (end && end < due))
      trL__clock_arm(lh);
  }
}
static inline void trL__clock_leave(trL__host *lh, lua_State *co,
                                    lua_State *outer) {
  atomic_signal_fence(memory_order_seq_cst);
  atomic_store_explicit(&lh->clock_co, outer, memory_order_relaxed);
  atomic_signal_fence(memory_order_seq_cst);
  if (lh->clock == TRL_CLOCK_TICK && lua_gethookmask(co))
    lua_sethook(co, NULL, 0, 0);
}

/* lservice.c */
void trL__start_router(trL__host *lh); /* unless the host has one */
/* Starts the RESP gateway as lh->resp says, if it is wanted and not
 * running: 0, or a tr_* error with why in err. */
int trL__start_resp(trL__host *lh, char *err, size_t errlen);
int trL__supervise(lua_State *L); /* actor.supervise */

/* lnode.c: the spawner (started with the router by trL_attach) and
 * actor.host, actor.hosts, actor.core._spawn_module. */
void trL__start_spawner(trL__host *lh); /* unless the host has one */
void trL__open_node(lua_State *L);      /* into the table on top */
int trL__spawn_table(lua_State *L);     /* actor.spawn{module = ...} */

/* linspect.c: actor.info, actor.list, actor.timing; the bytes queued in h's
 * mailboxes (a walk of them all, for actor.stats). actor.list, actor.info,
 * actor.stats{node = true} and actor.configure{log_level} ask other hosts
 * through their spawners (lnode.c), waiting TRL_NODE_MS for each answer. */
#define TRL_NODE_MS 1000
int trL__info(lua_State *L);
int trL__list(lua_State *L);
int trL__host_info(lua_State *L); /* [pid]: this host's only */
int trL__host_list(lua_State *L); /* []: this host's actors */
int trL__node_size(const trL__host *lh);
/* Pushes the asker `what` of actor/init.lua and returns 1, or returns 0
 * with why it cannot ask pushed; trL__not_asked turns that why into the
 * table of hosts left out (every other one, or only `only` when >= 0). */
int trL__push_asker(lua_State *L, const char *what);
void trL__not_asked(lua_State *L, const trL__host *lh, int only);
int trL__set_node_asks(lua_State *L); /* actor.core._set_node_asks */
/* lactor.c: the spawner's "stats" and "log_level", this host's only. */
int trL__host_stats(lua_State *L);     /* [] -> actor.stats() */
int trL__log_level_here(lua_State *L); /* [TR_LOG_*] -> true */
int trL__timing(lua_State *L);
/* pid, a Lua actor just spawned by module (lnode.c), was started as
 * module or module.fn (fn may be NULL): actor.info's module. */
void trL__set_module(lua_State *L, tr_pid pid, const char *module,
                     const char *fn);
size_t trL__mailbox_bytes(lua_State *L, tr_host *h);

/* lcluster.c: actor.configure's cluster settings, taken (checked, kept)
 * before anything else of the call, and refused once the state has a host:
 * a node's id is in every pid, so the host joins as it is made
 * (trL__cluster_join, which says why it cannot in err). trL__cluster_key
 * tells configure's loop which keys were taken. trL__cluster_leave lets go
 * of the host (its actors ended) before tr_host_free, trL__cluster_free
 * after it; trL__cluster_end as the state closes. */
void trL__cluster_configure(lua_State *L, trL__host *lh);
int trL__cluster_key(const char *k);
int trL__cluster_join(trL__host *lh, char *err, size_t errlen);
void trL__cluster_leave(trL__host *lh);
void trL__cluster_free(trL__host *lh);
void trL__cluster_end(trL__host *lh); /* the state closes: libnats too */
void trL__cluster_push(lua_State *L, const trL__host *lh); /* settings */

/* lfile.c */
int trL__open_file(lua_State *L); /* require "actor.file" (preloaded) */

/* largs.c: checks that raise as Lua's libraries do, naming the function
 * by its public name ("bad argument #2 to 'actor.send' (...)"); arg is the
 * argument's number as the user wrote it, which is its stack index in
 * every function of the module. trL__name_functions records the public
 * names (prefix .. name) of a library's functions, but those named _*. */
void trL__name_functions(lua_State *L, const char *prefix, const luaL_Reg *fns);
int trL__argerror(lua_State *L, int arg, const char *msg);
int trL__typeerror(lua_State *L, int arg, const char *tname);
void trL__checktype(lua_State *L, int arg, int t);
const char *trL__checklstring(lua_State *L, int arg, size_t *len);
#define trL__checkstring(L, arg) trL__checklstring(L, arg, NULL)
const char *trL__optstring(lua_State *L, int arg, const char *def);
lua_Integer trL__checkinteger(lua_State *L, int arg);
int trL__checkoption(lua_State *L, int arg, const char *def,
                     const char *const list[]);
/* Durations: a number of ms, an integer or a float (actor.now() gives
 * fractions), rounded up to whole ms -- a wait is never shorter than asked,
 * and 0 stays 0 -- which must then be within lo..hi. trL__toms stores it
 * and returns 1, or returns 0 (NaN, negative, too big, not a number). */
int trL__toms(lua_State *L, int idx, uint32_t lo, uint32_t hi, uint32_t *ms);
uint32_t trL__checkms(lua_State *L, int arg, uint32_t lo, uint32_t hi);
/* Pushes the value at idx as an error message shows it: 5, 'text', nil,
 * a table. */
const char *trL__got(lua_State *L, int idx);

/* lpid.c */
void trL__push_pid(lua_State *L, tr_pid pid);
/* lconsole.c: package.preload["actor.console_io"] */
void trL__console_preload(lua_State *L);
tr_pid trL__test_pid(lua_State *L, int idx); /* 0 if not a pid */
/* A pid or a registered name at idx; raises an error for anything else. */
tr_pid trL__check_dest(lua_State *L, trL__host *lh, int idx);
void trL__open_pid(lua_State *L);

#endif
