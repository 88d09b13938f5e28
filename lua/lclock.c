/*
 * lclock.c -- the clock that suspends a Lua actor which runs too long.
 *
 * An actor that computes without waiting must be suspended so that the
 * others run. A count hook would do it, but Lua traps every instruction of
 * a hooked coroutine, which costs ordinary actor code about a fifth of its
 * speed. So actors run unhooked, and a timer ticks every `slice`
 * microseconds while Lua actors run. Its signal's handler, on the loop
 * thread, finds the resume that was running at the previous tick still
 * running and sets a count hook of one instruction on its coroutine: Lua's
 * own way to stop a running state from outside (lua.c does it on ^C). The
 * hook yields; where the actor cannot yield (inside a C function such as
 * table.sort) it counts the ticks the resume outlasts against hard_limit
 * instead. A tick that finds no resume since the last one does not set
 * the timer again; the next resume does: an idle host gets no ticks. (A
 * timer on the thread's CPU clock would stop by itself, but the kernel
 * runs those on its scheduler tick, milliseconds apart.) A tick costs the
 * thread a signal and a timer, some microseconds (about 17 under the
 * hypervisor troupe is measured on): the default slice of 1 ms keeps that
 * under 2% of a busy host's time.
 *
 * Inside tr_host_step the tick comes at the step's end if that is sooner
 * than a slice, and stops whatever Lua actor runs then at once: a frame's
 * step keeps to its budget whatever the slice. The first resume of a step
 * sets the timer so (tr_host_step_end), the next ones only look; one
 * begun after the step's end (the scheduler lets none, but for the first
 * of a late turn) gets a tick at once.
 *
 * A coroutine an actor makes itself cannot be suspended (its yield would
 * go to its resumer): coroutine.create and coroutine.wrap give those made
 * inside an actor a count hook, which checks the ticks counted against
 * the actor that runs them.
 *
 * The signal is one realtime signal, TRL_CLOCK_SIGNAL, whose handler is
 * installed for the process on first use and left there. Where the clock
 * cannot be had -- no such timers, the signal handled by someone else or
 * blocked on the loop thread -- every Lua actor gets a count hook of
 * TRL_INSNS_PER_US instructions per microsecond of slice instead, which
 * counts its strikes itself: slower, but just as safe.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ltroupe.h"

#ifndef TRL_CLOCK_SIGNAL
#define TRL_CLOCK_SIGNAL (SIGRTMAX - 4)
#endif
#ifndef sigev_notify_thread_id /* Linux's, named by its kernel headers */
#define sigev_notify_thread_id _sigev_un._tid
#endif
#define TRL_INSNS_PER_US 10   /* a count hook's slice, without the clock */
#define TRL_NESTED_COUNT 1000 /* instructions between a nested hook's looks */

#define RUNAWAY "runaway actor killed: %d slices of %d us without yielding"

static int count_of(const trL__host *lh) {
  return (int)(lh->slice * TRL_INSNS_PER_US);
}

/* The hook, set by the tick on the actor's coroutine (or for good on every
 * coroutine, without the clock) and on the coroutines an actor makes. An
 * actor past the hard limit is marked: the error raised here may be
 * caught by a pcall, but the actor ends the next time it yields or returns
 * all the same (lproc.c). */
static void hook(lua_State *L, lua_Debug *ar) {
  trL__proc *p = trL__proc_of(L);
  trL__host *lh;
  int over;
  (void)ar;
  if (p && lua_isyieldable(L)) {
    p->preempted = 1;
    lua_yield(L, 0);
    return;
  }
  if (!p && (lh = trL__host_find(L)) != NULL)
    p = lh->running;
  if (!p)
    return;
  lh = p->lh;
  if (lh->clock == TRL_CLOCK_TICK) {
    if (L == p->co) /* the next tick sets it again */
      lua_sethook(L, NULL, 0, 0);
    over = atomic_load_explicit(&lh->clock_overdue, memory_order_relaxed) >
           lh->hard_limit;
  } else {
    over = ++p->strikes > lh->hard_limit;
  }
  if (p->runaway || over) {
    p->runaway = 1;
    luaL_error(L, RUNAWAY, (int)lh->hard_limit, (int)lh->slice);
  }
}

void trL__clock_runaway(lua_State *co, const trL__host *lh) {
  lua_pushfstring(co, RUNAWAY, (int)lh->hard_limit, (int)lh->slice);
}

/* uv_hrtime's clock, read the async-signal-safe way. */
static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Sets the one tick to come: gap ns from now (0: a slice), or, with
 * use_end, the running step's end if that comes first -- at once if it
 * has passed -- and the tick there stops whatever runs. */
static void set_timer(trL__host *lh, uint64_t now, uint64_t gap, int use_end) {
  uint64_t slice = (uint64_t)lh->slice * 1000;
  uint64_t due = now + (gap > slice ? gap : slice);
  uint64_t end =
      atomic_load_explicit(&lh->clock_step_end, memory_order_relaxed);
  struct itimerspec t;
  if (use_end && end && end < due)
    due = end > now ? end : now;
  atomic_store_explicit(&lh->clock_due, due, memory_order_relaxed);
  t.it_value.tv_sec = (time_t)(due / 1000000000u);
  t.it_value.tv_nsec = (long)(due % 1000000000u);
  t.it_interval.tv_sec = t.it_interval.tv_nsec = 0;
  /* async-signal-safe */
  timer_settime(lh->clock_timer, TIMER_ABSTIME, &t, NULL);
}

/* On the loop thread, between any two of its instructions. Only what is
 * safe there: atomics, timer_settime, and lua_sethook, which Lua allows
 * from a signal handler. */
static void tick(siginfo_t *si) {
  trL__host *lh = si->si_value.sival_ptr;
  lua_State *co;
  unsigned gen, seen;
  int final;
  uint64_t now, end;
  if (si->si_code != SI_TIMER || !lh)
    return;
  co = atomic_load_explicit(&lh->clock_co, memory_order_relaxed);
  gen = atomic_load_explicit(&lh->clock_gen, memory_order_relaxed);
  now = now_ns();
  end = atomic_load_explicit(&lh->clock_step_end, memory_order_relaxed);
  /* the tick set for the step's end (no timer fires early), or one that
   * came after it anyway */
  final = end && end <= now;
  seen = lh->clock_seen;
  lh->clock_seen = gen;
  if (gen == seen && !co) { /* no resume since the last tick: idle */
    atomic_store_explicit(&lh->clock_due, 0, memory_order_relaxed);
    return;
  }
  if (gen == seen) /* the same resume as at the last tick */
    atomic_store_explicit(
        &lh->clock_overdue,
        atomic_load_explicit(&lh->clock_overdue, memory_order_relaxed) + 1,
        memory_order_relaxed);
  if (co && (gen == seen || final))
    lua_sethook(co, hook, LUA_MASKCOUNT, 1);
  /* One tick at a time, the next a slice after this one's work, or four
   * times as long as that work took if longer: setting a hook walks the
   * coroutine's call frames, which in a deep recursion takes longer than a
   * short slice (and grows with it, slower still on a busy or sanitized
   * machine), and the thread must keep most of its time. After the step's
   * end, the step is done with: the next tick is a slice away. */
  end = now_ns();
  set_timer(lh, end, 4 * (end - now), !final);
}

/* The handler: errno is the interrupted code's, whatever tick calls. */
static void on_tick(int sig, siginfo_t *si, void *uc) {
  int saved = errno;
  (void)sig;
  (void)uc;
  tick(si);
  errno = saved;
}

/* The resume about to begin finds the timer stopped, or set past the end
 * of the step it runs in: set it. */
void trL__clock_arm(trL__host *lh) { set_timer(lh, now_ns(), 0, 1); }

/* The handler in place (ours already, or nobody's before), and the signal
 * not blocked on this thread. */
static int signal_ours(void) {
  struct sigaction sa, old;
  sigset_t mask;
  if (sigaction(TRL_CLOCK_SIGNAL, NULL, &old) != 0)
    return 0;
  if (!((old.sa_flags & SA_SIGINFO) && old.sa_sigaction == on_tick)) {
    if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL)
      return 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_tick;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(TRL_CLOCK_SIGNAL, &sa, NULL) != 0)
      return 0;
  }
  return pthread_sigmask(SIG_BLOCK, NULL, &mask) == 0 &&
         !sigismember(&mask, TRL_CLOCK_SIGNAL);
}

/* (A count hook's per-instruction cost is what the clock saves; the
 * wrappers keep it off the actor's coroutine while it makes its own.) */
static int make_nested(lua_State *L) {
  trL__host *lh = trL__host_find(L);
  int nest = lh && lh->running && lh->clock == TRL_CLOCK_TICK;
  lua_Hook old = lua_gethook(L);
  int mask = lua_gethookmask(L), count = lua_gethookcount(L);
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  if (nest) /* lua_newthread copies its creator's hook */
    lua_sethook(L, hook, LUA_MASKCOUNT, TRL_NESTED_COUNT);
  lua_call(L, 1, 1);
  if (nest)
    lua_sethook(L, old, mask, count);
  return 1;
}

static void wrap_makers(lua_State *L) {
  static const char *const makers[] = {"create", "wrap"};
  int i;
  if (lua_getglobal(L, "coroutine") != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  for (i = 0; i < 2; i++) {
    lua_getfield(L, -1, makers[i]);
    if (lua_iscfunction(L, -1) && lua_tocfunction(L, -1) != make_nested) {
      lua_pushcclosure(L, make_nested, 1);
      lua_setfield(L, -2, makers[i]);
    } else {
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
}

void trL__clock_start(trL__host *lh) {
  struct sigevent ev;
  if (lh->clock != TRL_CLOCK_OFF)
    return;
  lh->clock = TRL_CLOCK_COUNT;
  if (!signal_ours())
    return;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_THREAD_ID;
  ev.sigev_signo = TRL_CLOCK_SIGNAL;
  ev.sigev_value.sival_ptr = lh;
  ev.sigev_notify_thread_id = gettid();
  if (timer_create(CLOCK_MONOTONIC, &ev, &lh->clock_timer) != 0)
    return;
  lh->clock = TRL_CLOCK_TICK;
  wrap_makers(lh->L);
}

/* A new slice takes effect at the next start of the timer. */
void trL__clock_set(trL__host *lh) {
  if (lh->clock == TRL_CLOCK_TICK &&
      atomic_load_explicit(&lh->clock_due, memory_order_relaxed))
    trL__clock_arm(lh);
}

/* timer_delete also drops a tick still pending: none comes after this. */
void trL__clock_stop(trL__host *lh) {
  if (lh->clock == TRL_CLOCK_TICK)
    timer_delete(lh->clock_timer);
  lh->clock = TRL_CLOCK_OFF;
}

void trL__clock_attach(trL__host *lh, lua_State *co) {
  if (lh->clock != TRL_CLOCK_TICK)
    lua_sethook(co, hook, LUA_MASKCOUNT, count_of(lh));
}
