/*
 * host.h -- the inside of a host and its actors, shared by the core's files.
 *
 * A host is one libuv loop plus everything that runs on it: the actor table,
 * the ready queue, the timer heap, the names, the refs between actors, and
 * the locked inbox that other threads send through. Nothing here is global:
 * every function takes the host it works on.
 */
#ifndef TR_HOST_H
#define TR_HOST_H

#include <stdatomic.h>
#include <uv.h>

#include "list.h"
#include "message.h"
#include "slots.h"
#include "troupe.h"

/* A ref is what the host keeps between an owner actor and a peer: a pending
 * call, a timer, a monitor, a link, a wait for mailbox room. It sits in two
 * lists, so the death of either side finds it in O(1) per ref. */
enum {
  TR_REF_AFTER,   /* owner gets msg at `due` */
  TR_REF_TIMEOUT, /* owner gets a TR_KIND_TIMEOUT at `due` */
  TR_REF_CALL,    /* owner called peer; may have a `due` */
  TR_REF_MONITOR, /* owner watches peer */
  TR_REF_LINK,    /* owner and peer are linked */
  TR_REF_ROOM,    /* owner waits for room in peer's mailbox; in the peer's
                     mb.waiters, oldest first, not in its peered list */
  TR_REF_GRANT,   /* owner was told of room in peer's mailbox and has not
                     handled that message yet: the room is promised to it */
  /* Proxies of what an actor of another host (the owner, not in a list
   * here) holds on a local peer; `remote` is the owner host's id of it. */
  TR_REF_RCALL,    /* a call from another host, waiting on peer: its session
                      as the callee sees it is this ref's id */
  TR_REF_RMONITOR, /* a monitor from another host on peer */
  /* Mail from other hosts that found peer's mailbox full, in order (msg
   * to last), waiting for room among the senders in peer's mb.waiters;
   * the lanes it came through count it in flight until it is in. */
  TR_REF_PARKED
};

typedef struct tr__ref {
  uint64_t id;        /* handle in host->refs: session, timer id or ref */
  uint8_t kind;       /* TR_REF_* */
  tr_pid owner, peer; /* see above; 0 when that side has none */
  tr__link by_owner;  /* in the owner's list */
  tr__link by_peer;   /* in the peer's list */
  uint64_t due;       /* loop time in ms; meaningful while heap_i is set */
  uint64_t seq;       /* ties between equal `due`s go first-come */
  uint32_t heap_i;    /* index in the timer heap, TR__NOHEAP when absent */
  tr_msg *msg;        /* TR_REF_AFTER: what to send; TR_REF_PARKED: mail */
  tr_msg *last;       /* TR_REF_PARKED: the newest of it */
  uint64_t remote;    /* TR_REF_RCALL, TR_REF_RMONITOR: the owner's id */
  struct tr__ref *next_free;
} tr__ref;

#define TR__NOHEAP UINT32_MAX

typedef struct tr__mailbox {
  tr_msg *head, *tail;
  uint32_t user; /* sends and calls queued */
  uint32_t held; /* sends and calls the actor keeps aside (tr_mailbox_hold) */
  uint32_t capacity; /* bounds user + held */
  uint32_t granted;  /* TR_REF_GRANTs on this mailbox: room promised */
  tr__link waiters;  /* TR_REF_ROOM refs (by_peer), oldest first */
  /* While awaiting a session: the matching message once seen, and the node
   * before it (NULL when it is the head), so taking it is O(1). */
  tr_msg *match, *match_prev;
  struct tr__ref *parked; /* mail from other hosts waiting, or NULL */
} tr__mailbox;

/* An actor's life: LIVE; EXITING once told to end while inside one of its
 * callbacks; REAPING while queued in host->reap; DEAD once taken out of the
 * table (its memory goes right after). Sends reach LIVE and EXITING only. */
enum { TR__LIVE = 0, TR__EXITING, TR__REAPING, TR__DEAD };

struct tr_actor {
  tr_host *host;
  const tr_behaviour *b;
  void *ctx; /* the spawner's pointer (tr_spawn_opts.ctx), never freed here */
  tr_pid pid;
  tr__link ready;   /* in host->ready, or in host->reap while dying */
  tr__link started; /* in host->started, in start order */
  tr__link owned;   /* refs whose owner this is */
  tr__link peered;  /* refs whose peer this is */
  tr__mailbox mb;
  uint64_t await; /* session awaited, 0 when none */
  uint64_t beat;  /* loop time (ms) it last showed life */
  tr_pid heir;    /* who inherits its queued mail, 0 when nobody */
  char *name;     /* registered name, NULL when none */
  char *reason;   /* exit reason once exiting */
  uint8_t life;   /* TR__LIVE ... TR__DEAD */
  uint8_t trap_exit;
  uint8_t yielded;      /* handle returned TR_YIELD: call it again */
  uint8_t running;      /* inside one of its callbacks */
  uint8_t no_terminate; /* init failed: terminate is not called */
  /* For tr_actor_get_info: counters, not costs (one add per message, one
   * per scheduler turn). */
  uint64_t handled;  /* messages taken by handle */
  uint64_t run_ns;   /* time its dispatches took */
  tr_pid supervisor; /* tr_actor_set_supervisor */
  uint32_t restarts;
  _Alignas(max_align_t) unsigned char state[];
};

/* Names: one table per node (a lone host's is its own). Writers lock it;
 * so do readers, but for a lone host's loop thread, the one writer. */
typedef struct tr__names {
  struct tr__name *v; /* open addressing, linear probing */
  uint32_t cap, used;
  uv_mutex_t lock;
  int shared; /* a node's: every host locks to read */
} tr__names;

/* What one host sends to another: the batch it builds (its own, no lock)
 * and the actors waiting for room in the lane. */
typedef struct tr__out {
  tr_msg *head, *tail;
  uint32_t len;
  uint8_t dirty;    /* in h->dirty, to be flushed */
  tr__link waiters; /* TR_REF_ROOM refs (by_peer), oldest first */
} tr__out;

/* node.c: the lane from one host to another, owned by the node. The
 * sender appends whole batches under the lock; the receiver takes them
 * all under it. inflight (handed over and not in a mailbox yet, parked
 * mail too) is read unlocked by the sender, for its bound. */
typedef struct tr__lane {
  uv_mutex_t lock;
  tr_msg *head, *tail;
  tr_host *dst;         /* NULL while the receiver is not there */
  atomic_uint inflight; /* messages handed over and not in yet */
  atomic_uint batches;  /* handed over since the receiver last looked */
  atomic_uint capacity; /* the receiver's inbox_capacity; 0: no receiver */
  atomic_int waiting;   /* the sender has actors waiting for room */
} tr__lane;

struct tr_host {
  uv_loop_t *loop;
  tr_node *node;     /* NULL for a lone host */
  uint32_t index;    /* in the node: tr_pid_host of its actors */
  uint64_t pid_base; /* node and host bits, XORed into handles */
  uv_loop_t own_loop;
  uint8_t owns_loop;
  uv_thread_t thread;
  uv_idle_t idle;   /* active while actors are ready: the loop won't block */
  uv_timer_t timer; /* armed for the earliest ref in the heap */
  uv_async_t async; /* wakes the loop for the inbox and for stop */
  int closing;      /* handles still to close */

  tr_host_config cfg;
  void *data; /* tr_host_set_data */
  tr__slots actors;
  tr__slots refs;
  tr__link started;  /* live actors, oldest first */
  tr__link ready;    /* actors with something to do */
  tr__link reap;     /* actors to end, worked off one by one */
  int reaping;       /* working off host->reap now */
  int shutting_down; /* ending every actor: no links, monitors or calls fire */
  int in_run;        /* inside tr_host_run */
  uint64_t step_end; /* inside tr_host_step: its deadline (uv_hrtime) */
  tr_pid resume;     /* the actor a step's deadline cut short: first next */
  uint32_t resume_left;  /* what was left of its share of the turn */
  tr_actor *current;     /* whose callback runs now */
  tr_msg *current_msg;   /* the message its handle works on */
  uint64_t current_room; /* its session, if it is a room message */
  uint8_t current_user;  /* it is a send or a call: its slot frees */
  uint32_t share;        /* handle turns the current actor has left */

  tr__ref **heap; /* timer min-heap on (due, seq) */
  uint32_t heap_len, heap_cap;
  uint64_t seq;
  uint64_t armed_due; /* when the uv timer fires, UINT64_MAX when stopped */
  tr__ref *free_refs;

  tr__names *names; /* the node's, or own_names */
  tr__names own_names;
  tr__out *out;    /* per host of the node: what goes there */
  uint32_t *dirty; /* indices of outs with a batch to flush */
  uint32_t ndirty;
  uv_prepare_t prepare; /* flushes the batches before the loop waits */

  uv_mutex_t inbox_lock;
  tr_msg *inbox_head, *inbox_tail;
  uint32_t inbox_len;
  atomic_int stop_requested;
  int stopped;
  atomic_int log_level; /* cfg.log_level as changed since (tr_host_log) */

  tr_host_stats stats;
  /* Messages per second (tr_host_stats.per_second): delivered when the
   * current second began (loop ms), and the last full second's rate. */
  uint64_t rate_at, rate_base;
  uint32_t rate_last;
  uint8_t timing; /* tr_host_set_timing: run_ns is measured */

  tr_wire wire; /* tr_host_set_wire: carry NULL when none */

  tr_msg *pool; /* delivered messages kept for reuse (msgpool.c) */
  uint32_t pool_len;
};

/* msgpool.c: keeps m (delivered, done with) for tr_host_msg_newn, or frees
 * it; tr__pool_free frees what is kept, as the host goes. */
#define TR__POOL_MAX 256
static inline void tr__pool_put(tr_host *h, tr_msg *m) {
  if (m && h->pool_len < TR__POOL_MAX && tr__msg_plain(m)) {
    m->next = h->pool;
    h->pool = m;
    h->pool_len++;
  } else {
    tr_msg_free(m);
  }
}
void tr__pool_free(tr_host *h);

/* mailbox.c */
void tr__mailbox_init(tr__mailbox *mb, uint32_t capacity);
void tr__mailbox_put(tr__mailbox *mb, tr_msg *m, uint64_t await);
tr_msg *tr__mailbox_take(tr__mailbox *mb, uint64_t await);
void tr__mailbox_await(tr__mailbox *mb, uint64_t session);
void tr__mailbox_prepend(tr__mailbox *mb, tr_msg *head, tr_msg *tail,
                         uint32_t user);
/* m back at the front, as if it had never been taken (tr_mailbox_putback). */
void tr__mailbox_putback(tr__mailbox *mb, tr_msg *m, uint64_t await);
static inline int tr__is_user(const tr_msg *m) {
  return m->kind == TR_KIND_SEND || m->kind == TR_KIND_CALL;
}
/* Free slots: what capacity leaves of the queued and held mail. */
static inline uint32_t tr__mailbox_free(const tr__mailbox *mb) {
  uint32_t used = mb->user + mb->held;
  return used < mb->capacity ? mb->capacity - used : 0;
}

/* host.c: a host of node n at index (n NULL: a lone one, index 0), with
 * n's names (NULL: its own) and lanes to `hosts` hosts. */
tr_host *tr__host_new(const tr_host_config *cfg, tr_node *n, uint32_t index,
                      tr__names *names, uint32_t hosts);

/* node.c */
#define TR__LANE_BATCH 512   /* a batch this long goes at once */
#define TR__SPIN_NS 50000ull /* how long a host looks before it sleeps */
static inline uint32_t tr__pid_host(tr_pid pid) {
  return (uint32_t)(pid >> TR_PID_HOST_SHIFT) & 0xffu;
}
static inline uint32_t tr__pid_node(tr_pid pid) {
  return (uint32_t)(pid >> TR_PID_NODE_SHIFT) & 0xffu;
}
/* The node and host bits of a pid. */
#define TR__PID_WHERE (0xffffull << TR_PID_HOST_SHIFT)
/* to lives on another host than h, of this node or another (0 is no
 * actor: local). One compare: the wire's test is off this path. */
static inline int tr__remote(const tr_host *h, tr_pid to) {
  return to && ((to ^ h->pid_base) & TR__PID_WHERE);
}
/* to lives on another node than h: the wire's, not a lane's. */
static inline int tr__wired(const tr_host *h, tr_pid to) {
  return ((to ^ h->pid_base) >> TR_PID_NODE_SHIFT) & 0xffu;
}
/* The origin of a message that came through the wire (a host index is
 * below 255): delivered as from a local sender, never parked. */
#define TR__ORIGIN_WIRE 255
/* Puts m (its envelope set) into the batch for to's host (through the
 * wire when to is of another node); TR_EFULL when
 * the lane has no room (with if_room: not a dead letter), TR_ENOPROC when
 * that host is not there. Frees m on failure. */
int tr__out_put(tr_host *h, tr_pid to, tr_msg *m, int if_room);
/* Room left in the lane to to's host; TR_ENOPROC when it is not there. */
int tr__out_room(tr_host *h, tr_pid to);
void tr__out_flush(tr_host *h);
/* Hands over now the batches for hosts that wait for them (tr__node_spin):
 * they would look at nothing while the turn goes on. */
void tr__out_flush_waited(tr_host *h);
/* A control message to an actor of another host. */
int tr__out_ctl(tr_host *h, int kind, tr_pid from, tr_pid to, uint64_t session,
                const char *reason);
/* Takes what other hosts sent and wakes those waiting for lane room. */
void tr__lanes_drain(tr_host *h);
uint64_t tr__out_wait_room(tr_host *h, tr_actor *w, tr_pid full,
                           uint32_t timeout_ms);
/* Moves a's parked mail in while it has room; 1 when all of it went (r is
 * freed then), 0 when some waits still. */
int tr__unpark(tr_host *h, tr_actor *a, tr__ref *r);
/* a ends: its parked mail is dropped, each a dead letter. */
void tr__unpark_drop(tr_host *h, tr_actor *a, tr__ref *r);
/* a ends with an heir: its parked sends and calls go to the heir. */
void tr__unpark_bequeath(tr_host *h, tr_actor *a, tr_actor *heir);
/* Mail from another host for to: in, or parked. 1 when parked. */
int tr__arrive_mail(tr_host *h, tr_pid to, tr_msg *m);
/* A message from another host or node (m->to set) is handed in here. 1
 * when it was parked. */
int tr__arrive(tr_host *h, tr_msg *m);
void tr__node_leave(tr_host *h);
/* A tr_spawn_on for h arrives. */
void tr__spawn_arrived(tr_host *h, tr_msg *m);
/* The loop is about to sleep: look at the lanes a while first. */
void tr__node_spin(tr_host *h);
/* Kinds of message only the core sends between hosts. */
enum {
  TR__KIND_MONITOR = 16,
  TR__KIND_DEMONITOR,
  TR__KIND_LINK,
  TR__KIND_UNLINK,
  TR__KIND_EXIT, /* a link's signal: from ended with the reason (arg 0) */
  TR__KIND_KILL,
  TR__KIND_SPAWN /* tr_spawn_on: arg 0 names the request in the node */
};
/* The kinds of monitors and links, and of the down and exit they end in:
 * each between two actors that both know of it, so the sender is named. */
static inline int tr__kind_ties(int kind) {
  switch (kind) {
  case TR_KIND_DOWN:
  case TR__KIND_MONITOR:
  case TR__KIND_DEMONITOR:
  case TR__KIND_LINK:
  case TR__KIND_UNLINK:
  case TR__KIND_EXIT:
    return 1;
  default:
    return 0;
  }
}

/* sched.c */
void tr__sched_wake(tr_host *h, tr_actor *a);
void tr__idle_cb(uv_idle_t *idle);
void tr__sched_turn(tr_host *h, uint32_t budget);
/* Rolls the per-second rate over when a second has passed since it began. */
void tr__rate_update(tr_host *h, uint64_t now_ms);
/* a has mail it may take now: under tr_await, only the awaited answer. */
static inline int tr__has_mail(const tr_actor *a) {
  return a->await ? a->mb.match != NULL : a->mb.head != NULL;
}
static inline int tr__runnable(const tr_actor *a) {
  if (a->life != TR__LIVE)
    return 0;
  return a->yielded || tr__has_mail(a);
}

/* send.c: hands m to actor a on the loop thread; user messages obey the
 * mailbox capacity, others do not. Frees m and counts a dead letter on
 * failure. */
int tr__deliver(tr_host *h, tr_actor *a, tr_msg *m);
int tr__deliver_pid(tr_host *h, tr_pid to, tr_msg *m);
void tr__inbox_drain(tr_host *h);
/* tr_mailbox_room of a live actor. */
uint32_t tr__mailbox_room(tr_host *h, tr_actor *a);
/* Takes the whole cross-thread inbox; with stop, marks the host stopped
 * under the same lock, so no send slips in after. */
tr_msg *tr__inbox_take(tr_host *h, int stop);
/* A new message of one kind with "name" and maybe a pid and a reason. */
tr_msg *tr__sys_msg(int kind, const char *name, uint64_t session);

/* actor.c */
static inline tr_actor *tr__actor(tr_host *h, tr_pid pid) {
  /* Another host's index leaves a slot number past any table. */
  tr_actor *a = tr__slots_get(&h->actors, pid ^ h->pid_base);
  return a && a->life <= TR__EXITING ? a : NULL;
}
void tr__actor_end(tr_host *h, tr_actor *a, const char *reason);
void tr__actor_free(tr_host *h, tr_actor *a);
void tr__shutdown(tr_host *h);
/* Asked by every send and most calls: on Unix, where uv_thread_t is a
 * pthread_t, pthread_self with glibc's inline pthread_equal is one cheap
 * call instead of two calls into libuv. */
static inline int tr__on_loop_thread(const tr_host *h) {
#ifdef _WIN32
  uv_thread_t self = uv_thread_self();
  return uv_thread_equal(&self, &h->thread);
#else
  return pthread_equal(pthread_self(), h->thread);
#endif
}
/* The entry check of every function that must run on the loop thread:
 * TR_EINVAL for no host, TR_ETHREAD on another thread, else 0. Those that
 * have no error code to return give their "nothing" (0, NULL) instead. */
static inline int tr__loop_check(const tr_host *h) {
  if (!h)
    return TR_EINVAL;
  return tr__on_loop_thread(h) ? 0 : TR_ETHREAD;
}

/* refs.c */
tr__ref *tr__ref_new(tr_host *h, int kind, tr_actor *owner, tr_actor *peer);
void tr__ref_free(tr_host *h, tr__ref *r);
void tr__refs_on_death(tr_host *h, tr_actor *a);
/* Wakes a's waiters for room, oldest first, one per free slot not promised
 * to a waiter woken before: call it when a's mailbox frees slots. */
void tr__refs_room(tr_host *h, tr_actor *a);
/* owner has handled the room message of `session`: the room it promised
 * goes back to the mailbox (and to the next waiter, if the owner did not
 * take it). */
void tr__refs_room_handled(tr_host *h, tr_actor *owner, uint64_t session);
/* tr_notify_room once both are known alive: the wait's id, 0 on error. */
uint64_t tr__refs_wait_room(tr_host *h, tr_actor *w, tr_actor *f,
                            uint32_t timeout_ms);
void tr__refs_clear(tr_host *h);
/* monitor.c: what a link does when `from` ends with reason. */
void tr__exit_signal(tr_host *h, tr_actor *to, tr_pid from, const char *reason);
/* A monitor, link or exit signal from another host arrives (m is one of
 * the TR__KIND_* above, or a TR_KIND_DOWN). Frees m. */
void tr__ctl_arrived(tr_host *h, tr_pid to, tr_msg *m);
/* The down message for monitor `ref` of pid, ended with reason. */
tr_msg *tr__down_msg(uint64_t ref, tr_pid pid, const char *reason);

/* call.c: ends a pending call with an error named `name` to its caller. */
void tr__call_fail(tr_host *h, uint64_t session, tr_pid caller,
                   const char *name);
/* send.c: call m now waits on `to` (its end fails the call at once). */
void tr__call_waits_on(tr_host *h, tr_msg *m, tr_pid to);
/* The ref of call m (a TR_REF_CALL or TR_REF_RCALL), NULL when over. */
tr__ref *tr__call_ref(tr_host *h, const tr_msg *m);
/* The answer to a call from another host arrives: delivered if the call
 * is still on, else dropped as late. */
void tr__call_answered(tr_host *h, tr_pid to, tr_msg *m);
/* A call from another host arrives for to: it waits on a proxy ref.
 * 1 when it was parked (tr__arrive_mail). */
int tr__call_arrived(tr_host *h, tr_pid to, tr_msg *m);

/* wire.c: sends m (its envelope set) to `to` of another node through h's
 * wire, as tr__out_put does; frees m. */
int tr__wire_put(tr_host *h, tr_pid to, tr_msg *m, int if_room);
/* h's pids carry node id `id` from now on, from a random generation. */
void tr__wire_join(tr_host *h, uint32_t id);

/* timer.c */
int tr__timer_add(tr_host *h, tr__ref *r, uint32_t ms);
void tr__timer_remove(tr_host *h, tr__ref *r);
void tr__timer_cb(uv_timer_t *t);
void tr__timer_arm(tr_host *h);

/* name.c */
void tr__names_init(tr__names *n, int shared);
void tr__names_free(tr__names *n);
void tr__name_release(tr_host *h, tr_actor *a);
tr_pid tr__name_lookup(tr_host *h, const char *name);
int tr__name_check(const char *name); /* TR_EINVAL: empty or too long */

#endif
