/*
 * troupe.h -- the public C API of troupe's kernel, a Lua-scriptable actor
 * host: hosts, actors, messages, sending, calls, timers, names, monitors
 * and links. The services built on it (supervision, the router, the store)
 * are in troupe_services.h, the Lua layer in troupe_lua.h.
 *
 * Everything a host knows lives in its tr_host (no global state), so several
 * hosts can live in one process, one per thread; a node (tr_node_new) joins
 * them into one pid space. Names: what an actor does
 * is tr_<verb> (tr_spawn, tr_send, tr_call, tr_reply, tr_link, tr_monitor,
 * tr_after ...), what is done to or asked of a thing is tr_<thing>_<verb>
 * (tr_host_run, tr_msg_add_int, tr_mailbox_room, tr_actor_name); names
 * starting with tr__ are troupe's internals.
 *
 * Arguments: the host, then who acts, then the target, then the rest, then
 * out-pointers: tr_call(h, from, to, m, ms, &session), tr_after(h, to, ms,
 * m, &timer), tr_monitor(h, watcher, target, &ref). A function that makes
 * something returns 0 or an error and stores its id through an out-pointer
 * (may be NULL), set to 0 on error.
 *
 * Threads: every function here must be called on the host's loop thread,
 * except tr_send, tr_send_named, tr_host_stop, tr_host_new (whose thread
 * becomes the loop thread) and the tr_msg_* and tr_value_* builders and
 * readers, which are safe from any thread. Those that take a tr_host check
 * it first, all alike: no host gives TR_EINVAL, another thread TR_ETHREAD,
 * and nothing is done. Those with no error code to return give their
 * "nothing" instead: tr_alive 0, tr_whereis 0, tr_actor_name NULL,
 * tr_host_get_stats all zeros. The tr_actor functions are for the actor's
 * own callbacks, on the loop thread by construction. tr_host_log (which
 * names the actor whose callback logs only on the loop thread), and the
 * plain accessors tr_host_loop, tr_host_data and tr_host_set_data, do not
 * check.
 *
 * Ownership: a tr_msg handed to a send, call, reply or spawn belongs to the
 * host from then on, whether the call succeeds or not. A tr_msg given to an
 * actor's handle callback belongs to the host and is valid only during that
 * callback; so are the tr_value pointers read from it.
 */
#ifndef TROUPE_H
#define TROUPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TR_VERSION_MAJOR 0
#define TR_VERSION_MINOR 1
#define TR_VERSION_PATCH 0
#define TR_VERSION "0.1.0"

/* Marks the public API, what libtroupe.so exports: the library is built
 * with hidden visibility, so anything not declared TR_API in a public
 * header stays inside it. */
#ifndef TR_API
#if defined(__GNUC__) || defined(__clang__)
#define TR_API __attribute__((visibility("default")))
#else
#define TR_API
#endif
#endif

struct uv_loop_s;

typedef struct tr_node tr_node;   /* hosts on threads, one pid space */
typedef struct tr_host tr_host;   /* one loop, its actors, timers, names */
typedef struct tr_actor tr_actor; /* a running actor, seen from its callbacks */
typedef struct tr_msg tr_msg;     /* a name plus a tuple of values, encoded */
typedef struct tr_value tr_value; /* one decoded value inside a tr_msg */

/* A pid names an actor, in 64 bits:
 *   bits 40-63  the generation of its slot (24 bits, never 0), bumped each
 *               time the slot is freed, so the pid of a dead actor does not
 *               reach the slot's next tenant (a freed slot rests behind at
 *               least 4096 other free ones before reuse, so a generation
 *               comes round again only after 2^24 such reuses of one slot)
 *   bits 32-39  the id of its node (tr_pid_node): 0 when not in a cluster
 *               (tr_node_set_id, tr_host_set_node_id)
 *   bits 24-31  the index of its host in the node (tr_pid_host)
 *   bits 0-23   its slot plus one
 * 0 is no actor. A pid is a value: it travels in messages, between hosts
 * and nodes, unchanged. */
typedef uint64_t tr_pid;
#define TR_PID_HOST_SHIFT 24
#define TR_PID_NODE_SHIFT 32
#define TR_PID_GEN_SHIFT 40
/* The index of pid's host in its node. */
TR_API uint32_t tr_pid_host(tr_pid pid);
/* The id of pid's node (0: not in a cluster). */
TR_API uint32_t tr_pid_node(tr_pid pid);
/* Writes pid as text, with snprintf's contract (size may be 0; returns the
 * length it needs): "<pid SLOT.GEN>" for node 0 and host 0,
 * "<pid HOST.SLOT.GEN>" for another host, "<pid NODE:HOST.SLOT.GEN>" for a
 * pid of a node with an id (SLOT being the slot plus one, as in the pid).
 * How logs and the Lua layer print pids. */
TR_API int tr_pid_format(tr_pid pid, char *buf, size_t size);

/* Errors are negative; 0 is success. tr_strerror names them. */
enum {
  TR_OK = 0,
  TR_ENOPROC = -1, /* no such actor: dead, never existed, or unknown name */
  TR_EFULL = -2,   /* the destination mailbox (or cross-thread inbox) is full */
  TR_ENOMEM = -3,  /* out of memory */
  TR_EINVAL = -4,  /* a bad argument */
  TR_ETIMEDOUT = -5, /* a call or wait ran out of time */
  TR_EBADMSG = -6,   /* a malformed, truncated or unfinished message buffer */
  TR_ETYPE = -7,     /* a value is not of the type asked for */
  TR_ERANGE = -8,    /* an index or number outside what is allowed */
  TR_EEXIST = -9,    /* a name is already taken */
  TR_ESTOPPED = -10, /* the host is stopping or stopped */
  TR_EINIT = -11,    /* an actor's init callback failed */
  TR_ETHREAD = -12, /* called from a thread other than the host's loop thread */
  TR_EREPLY = -13   /* the callee answered with an error reply */
};
TR_API const char *tr_strerror(int err);

/* ---------------------------------------------------------------- host */

typedef struct tr_host_config {
  struct uv_loop_s *loop;    /* borrow this loop; NULL: the host owns one */
  uint32_t mailbox_capacity; /* default user messages per mailbox: 1024 */
  uint32_t actor_budget;     /* messages one actor handles per turn: 64 */
  uint32_t turn_budget;      /* messages one turn handles in all: 4096 */
  uint32_t inbox_capacity;   /* cross-thread messages in flight: 65536 */
  /* Where the host's log texts go, bare; NULL: whole lines (log_line). */
  void (*log)(void *ud, int level, const char *text);
  void *log_ud;
  int log_level; /* the most detailed level logged; 0 means TR_LOG_INFO */
  /* How long one tr_host_step may run, in microseconds; 0 means 4000. */
  uint32_t step_budget_us;
  /* When log is NULL: where whole lines go (no newline; len bytes), made
   * as log_format says, with the same log_ud; NULL writes them to stderr.
   * For a program that keeps its own file (reopened by it at will). */
  void (*log_line)(void *ud, int level, const char *line, size_t len);
  /* TR_LOG_TEXT (0): "2026-01-31T12:00:00.123Z info  [<pid 3.1> store]
   * text", the time in UTC with milliseconds, the actor whose callback
   * logs (its registered name, if any) left out when there is none.
   * TR_LOG_JSON: one object a line, {"ts", "level", "pid", "name", "msg"}
   * (pid and name null when none; bytes that are not UTF-8 become U+FFFD). */
  int log_format;
} tr_host_config;

enum { TR_LOG_ERROR = 1, TR_LOG_WARN = 2, TR_LOG_INFO = 3, TR_LOG_DEBUG = 4 };
enum { TR_LOG_TEXT = 0, TR_LOG_JSON = 1 };

typedef struct tr_host_stats {
  uint64_t delivered;    /* messages handed to a handle callback */
  uint64_t dead_letters; /* messages that could not be delivered */
  uint64_t late_replies; /* replies to calls already over (timed out, gone) */
  uint32_t actors;       /* live actors */
  uint32_t ready;        /* actors waiting in the ready queue */
  uint32_t timers;       /* pending timers (send-after, timeouts, calls) */
  /* Messages delivered per second over the last full second (or, on a
   * host quiet since, over the time since that second began). */
  uint32_t per_second;
} tr_host_stats;

/* Makes a host on the calling thread, which becomes its loop thread.
 * cfg may be NULL for the defaults. Returns NULL when out of memory or when
 * the loop cannot be set up. */
TR_API tr_host *tr_host_new(const tr_host_config *cfg);

/* Runs the loop until tr_host_stop, then stops every actor in reverse start
 * order (calling terminate callbacks) and returns 0. TR_EINVAL inside an
 * actor's callback (libuv loops do not nest), TR_ETHREAD off the loop
 * thread; the same holds for tr_host_step. */
TR_API int tr_host_run(tr_host *h);

/* One bounded turn that never blocks: handles at most turn_budget messages,
 * due timers and ready I/O, and ends once step_budget_us (default 4000 us,
 * a quarter of a 60 fps frame) have passed. Returns 1 when work is left
 * (more mail, pending timers), 0 when idle, TR_ESTOPPED once the host has
 * stopped. For a game calling it once a frame. The budget is checked
 * between messages: a step overruns it by one message's handling at most;
 * a Lua actor busy at the step's end is suspended then by the Lua layer's
 * clock (tr_host_step_end) and resumes at the next step. tr_host_run's
 * turns are not bounded by it (a turn there lasts up to 10 ms). */
TR_API int tr_host_step(tr_host *h);
/* tr_host_step with a budget of its own for this call (microseconds, > 0;
 * TR_EINVAL for 0). */
TR_API int tr_host_step_for(tr_host *h, uint32_t budget_us);
/* Inside tr_host_step: when the step ends, on uv_hrtime's clock (ns); 0
 * outside a step (tr_host_run's turns) and off the loop thread. For code
 * that stops itself on time, as the Lua layer's clock does. */
TR_API uint64_t tr_host_step_end(const tr_host *h);

/* Asks the host to stop; safe from any thread and from inside an actor.
 * tr_host_run returns, after shutting the actors down, once it is seen. */
TR_API void tr_host_stop(tr_host *h);

/* Stops whatever still runs, closes the host's handles and frees it all.
 * A borrowed loop is left open (it is run until the host's handles close).
 * Other threads must be done with tr_send on h before it is freed. */
TR_API void tr_host_free(tr_host *h);

TR_API struct uv_loop_s *tr_host_loop(tr_host *h);
/* One pointer for the embedding program, like uv_loop_t's data; troupe's
 * own layers never use it. */
TR_API void tr_host_set_data(tr_host *h, void *data);
TR_API void *tr_host_data(tr_host *h);
TR_API void tr_host_get_stats(tr_host *h, tr_host_stats *out);
TR_API void tr_host_log(tr_host *h, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* The most detailed level h logs from now on (TR_LOG_ERROR..TR_LOG_DEBUG;
 * TR_EINVAL outside). Read by tr_host_log on any thread. */
TR_API int tr_host_set_log_level(tr_host *h, int level);
/* The level h logs at; 0 when h cannot be asked (see "Threads"). */
TR_API int tr_host_log_level(tr_host *h);

/* ---------------------------------------------------------------- node */

/* A node is one process's hosts, each on its own thread with its own loop,
 * sharing one pid space and one table of names: any actor may send to,
 * call, reply to, forward to, monitor, link and kill any pid of the node,
 * and register, whereis and send_named reach every host. A host made by
 * tr_host_new is a node of one (index 0).
 *
 * What crosses hosts travels in lanes, one per ordered pair of hosts:
 * a sender's loop batches what it sends to a host and hands the batch
 * over with one lock and at most one wake-up when its turn ends (or the
 * batch is large, or the receiver has nothing else to do), so order holds
 * per pair of actors as inside a host. Mail that finds its mailbox full
 * waits there, in order, until the actor has room, and holds its room in
 * the lane meanwhile: a lane is bounded (at most the receiver's
 * inbox_capacity messages in flight or waiting from one host to another),
 * past which tr_send and tr_call fail TR_EFULL (a dead letter) and
 * tr_send_if_room / tr_call_if_room fail TR_EFULL uncounted, for a sender
 * that waits with tr_notify_room on the remote pid until the lane has
 * room. A dead pid is found when the mail arrives: a dead letter there,
 * and a call is answered "noproc" at once. What works on a local pid and
 * not on a remote one says so where it is declared. */

/* A node for at most max_hosts hosts (1 to 255). NULL when out of memory
 * or max_hosts is out of range. */
TR_API tr_node *tr_node_new(uint32_t max_hosts);

/* Makes a host of the node on the calling thread, as tr_host_new does
 * (the thread becomes its loop thread; cfg may be NULL): for an embedder
 * that runs hosts on threads of its own. Its index is the next free one,
 * from 0. NULL when the node is full, stopping, or out of memory. */
TR_API tr_host *tr_node_join(tr_node *n, const tr_host_config *cfg);

/* What runs on each thread tr_node_start makes, on that thread; any may
 * be NULL. */
typedef struct tr_node_hooks {
  /* Before the host's loop runs: to spawn what runs there (open a Lua
   * state on it, say). */
  void (*setup)(tr_host *h, void *ud);
  /* Once the host has stopped all its actors, before it is freed: to let
   * go of what setup made. */
  void (*teardown)(tr_host *h, void *ud);
  void *ud;
} tr_node_hooks;

/* Starts `threads` threads, each joining a host to the node (with cfg,
 * which may be NULL; its loop is the host's own), calling hooks->setup,
 * running it until tr_node_stop, calling hooks->teardown and freeing it.
 * Once per node. 0, TR_EINVAL (0 threads, more than the node has room
 * for, a second start), or TR_ENOMEM with no thread left running. */
TR_API int tr_node_start(tr_node *n, uint32_t threads,
                         const tr_host_config *cfg, const tr_node_hooks *hooks);

/* Asks every host of the node to stop, as tr_host_stop does; from any
 * thread, actor callbacks included. */
TR_API void tr_node_stop(tr_node *n);

/* Waits for the threads tr_node_start made: returns once each has stopped
 * and freed its host. From a thread that is not one of them. */
TR_API void tr_node_wait(tr_node *n);

/* Frees the node, once every host of it has been freed (TR_EINVAL before,
 * with nothing done). */
TR_API int tr_node_free(tr_node *n);

TR_API tr_node *tr_host_node(const tr_host *h);
/* The host's index in its node: the tr_pid_host of its actors. */
TR_API uint32_t tr_host_index(const tr_host *h);
/* Hosts that have joined the node so far (freed ones included). */
TR_API uint32_t tr_node_size(const tr_node *n);

/* ---------------------------------------------------------------- wire */

/* Beyond one process: a cluster of nodes (processes), each with an id
 * from 1 to 255 that its pids carry (tr_pid_node). The core carries
 * messages between hosts of one node; between nodes it offers a seam, the
 * wire, and a service (a NATS client, a socket) carries the bytes. The
 * core knows nothing of the transport.
 *
 * A node's id is set before its hosts join (tr_node_set_id), a lone
 * host's before it spawns (tr_host_set_node_id); 1 to 255, else
 * TR_EINVAL (TR_EINVAL too once it is too late). Pids made afterwards
 * carry it, and start from a random generation, so that a node which
 * comes back under its id does not hand its predecessor's pids to new
 * actors. 0, the default, is "not in a cluster". */
TR_API int tr_node_set_id(tr_node *n, uint32_t id);
TR_API uint32_t tr_node_id(const tr_node *n);
TR_API int tr_host_set_node_id(tr_host *h, uint32_t id);
/* The id of h's node: the tr_pid_node of its actors. */
TR_API uint32_t tr_host_node_id(const tr_host *h);

/* The transport, set per host by the service that carries it. carry is
 * called on h's loop thread with one message bound for node `node`, as
 * bytes it must copy before returning (they are the core's again after),
 * and returns 0 once it has taken them, or:
 *   TR_ENOPROC  no such node, or not connected to it now
 *   TR_EFULL    the transport pushes back (its queue is full)
 *   TR_ERANGE   the message is too large for the transport
 * carry must not call back into the host (no sends from inside it). */
typedef struct tr_wire {
  int (*carry)(void *ud, uint32_t node, const void *bytes, size_t len);
  void *ud;
} tr_wire;

/* Sets h's wire (copied; NULL removes it); TR_EINVAL while h's node has
 * no id (or for a NULL carry). From then on whatever h's
 * actors send, call, reply, notify, forward, monitor, demonitor, link,
 * unlink, kill or signal toward a pid of another node goes through it:
 * the same functions, the same guarantees as between hosts, so a pid is a
 * pid wherever its actor lives. Set one on every host of the node that
 * talks to other nodes: an answer leaves through the wire of the host
 * that answers. Loop thread only.
 *
 * Failures come back where a local failure would: a send fails with
 * carry's error (TR_ENOPROC, TR_EFULL, TR_ERANGE; a dead letter, but for
 * tr_send_if_room's TR_EFULL), and a call is answered at once, tr_call
 * returning 0, with a failed call (TR_KIND_ERROR) named "noconnection",
 * "full" or "toolarge" (tr_call_if_room's TR_EFULL is returned, as for a
 * full mailbox). A pid of another node with no wire set is TR_ENOPROC /
 * "noconnection". A message that reached the other node meets what it
 * would meet there from a local sender: a dead pid is a dead letter (a
 * call fails "noproc" at once), a full mailbox refuses mail (a call fails
 * "full"). tr_mailbox_room and tr_notify_room know nothing of the other
 * side: the room is the transport's to refuse. tr_spawn_on reaches the
 * hosts of h's own node only.
 *
 * The bytes (version 1, little-endian), one message each:
 *   0  u8   version, 1
 *   1  u8   kind: TR_KIND_SEND, _CALL, _REPLY, _ERROR, _DOWN, _NOTICE, or
 *           monitor 16, demonitor 17, link 18, unlink 19, exit 20, kill 21
 *   2  u16  0 (reserved)
 *   4  u64  from: the sender's pid, of another node (0 for none: sends,
 *           notices, kill)
 *   12 u64  to: the destination pid, of the receiving node
 *   20 u64  session: the call's, a reply's, a monitor's ref; else 0
 *   28 u32  n, the payload's length; the whole is 32 + n bytes
 *   32 n    the payload: the message as tr_msg_bytes encodes it; a
 *           signal's reason (exit, kill) is its one argument
 * Pids travel as they are: 64 bits, their node in them. */
TR_API int tr_host_set_wire(tr_host *h, const tr_wire *w);

/* Hands h bytes that arrived from another node (one message, as above),
 * on h's loop thread: decoded, checked and delivered as from a local
 * sender -- mail, a call (its answer goes back through the wire), an
 * answer to a pending call, a monitor (its down goes back when the target
 * ends), a link, an exit signal, a kill. A pid of another host of h's
 * node is reached through the node's lanes. TR_OK once taken (which is
 * not delivered: a dead pid is a dead letter, as for a send); TR_EBADMSG
 * for bytes that are not such a message or not meant for this node, or
 * a signal claiming a sender of this node (mail and calls may: another
 * node forwards them back), with nothing done; the bytes stay the
 * caller's. */
TR_API int tr_wire_deliver(tr_host *h, const void *bytes, size_t len);

/* Tells h that node `node` is gone, or its connection dropped: every call
 * of h's actors pending on an actor there fails at once "noconnection";
 * every monitor they hold on one fires, down with reason "noconnection";
 * every link to one signals exit "noconnection" (a trapping actor gets the
 * exit message, another ends, as for a linked crash); and what h keeps for
 * actors there (calls they made, monitors they hold) is dropped. Loop
 * thread only; TR_EINVAL for node 0 or h's own. */
TR_API int tr_host_node_lost(tr_host *h, uint32_t node);

/* -------------------------------------------------------------- actors */

/* What handle returns. */
enum {
  TR_CONTINUE = 0, /* done with this message; wait for the next */
  TR_YIELD = 1,    /* not done: call handle again with m == NULL later,
                      after the other ready actors had their turn */
  TR_STOP = 2      /* exit, with reason "normal" unless tr_exit gave one */
};

/* A native actor's behaviour: callbacks plus the size of its private state,
 * which the host allocates zeroed with the actor and frees after terminate. */
typedef struct tr_behaviour {
  const char *name; /* shown in logs */
  size_t state_size;
  /* Called once by tr_spawn, with the spawn arguments (possibly NULL, and
   * like m below valid only during the call). Non-zero fails the spawn:
   * terminate is not called, so init cleans up after itself. May be NULL. */
  int (*init)(tr_actor *self, void *state, tr_msg *args);
  /* Called for each message; m is NULL when resumed after TR_YIELD. */
  int (*handle)(tr_actor *self, void *state, tr_msg *m);
  /* Called once when the actor ends, whatever the reason. May be NULL. */
  void (*terminate)(tr_actor *self, void *state, const char *reason);
} tr_behaviour;

typedef struct tr_spawn_opts {
  uint32_t capacity; /* mailbox capacity; 0: the host's default */
  int trap_exit;     /* turn exit signals from links into messages */
  tr_pid link;       /* link to this actor once started; 0: none */
  const char *name;  /* register under this name; NULL: none */
  /* A C pointer for the actor (its config, the embedder's objects), read
   * with tr_actor_ctx in any callback, init included: pointers never travel
   * in messages, which carry values. The host neither reads nor frees it;
   * it must outlive the actor, or init copies what it needs into state. */
  void *ctx;
} tr_spawn_opts;

/* Starts an actor. args (may be NULL) is passed to init and then freed:
 * values for the actor, while a C pointer goes in opts->ctx. opts may be
 * NULL. On success stores the pid in *out (may be NULL). */
TR_API int tr_spawn(tr_host *h, const tr_behaviour *b, tr_msg *args,
                    const tr_spawn_opts *opts, tr_pid *out);

/* tr_spawn on host `host` of h's node, for the actor `from`, which gets
 * the answer as a call's, carrying the session stored in *session: a
 * TR_KIND_REPLY named "spawned" whose argument (and sender) is the new
 * pid, or a TR_KIND_ERROR "error" whose text is tr_strerror's of why
 * tr_spawn failed there. opts->name is copied; opts->ctx is handed over as
 * it is, to be used on that host's thread. On h's own index it spawns at
 * once, answering the same way. TR_ENOPROC when no such host is there. */
TR_API int tr_spawn_on(tr_host *h, tr_pid from, uint32_t host,
                       const tr_behaviour *b, tr_msg *args,
                       const tr_spawn_opts *opts, uint64_t *session);

TR_API tr_pid tr_self(const tr_actor *self);
TR_API tr_host *tr_actor_host(const tr_actor *self);
TR_API void *tr_actor_state(const tr_actor *self);
/* The ctx given at spawn (tr_spawn_opts.ctx), NULL when none. */
TR_API void *tr_actor_ctx(const tr_actor *self);

/* Ends the calling actor after the current callback returns. reason NULL or
 * "normal" is a normal exit; anything else is abnormal and travels links. */
TR_API void tr_exit(tr_actor *self, const char *reason);

/* Ends another actor now (untrappable). TR_ENOPROC when it is not alive.
 * An actor may not kill itself this way; it uses tr_exit. An actor of
 * another host ends when its host takes the order: 0 once it is sent. */
TR_API int tr_kill(tr_host *h, tr_pid pid, const char *reason);
/* 1 for the reason of an end someone asked for -- "killed" (tr_kill's
 * default), "reset" and "restart" (a supervisor's) -- rather than a crash:
 * logged at debug level, not as a warning. */
TR_API int tr_reason_deliberate(const char *reason);

/* 1 while pid lives. A pid of another host cannot be looked up from here:
 * 1 while its host is there (monitor it to learn of its end). */
TR_API int tr_alive(tr_host *h, tr_pid pid);
TR_API void tr_trap_exit(tr_actor *self, int on);

/* Asks for a call of handle with m == NULL after the other ready actors had
 * their turn, as returning TR_YIELD does; for init, or code outside handle. */
TR_API void tr_wake(tr_actor *self);

/* Names an heir for pid: when pid ends, the sends and calls still queued in
 * its mailbox go to the heir, in their order and ahead of the heir's own
 * mail, keeping sender, session and kind (a call among them now waits on
 * the heir). A router that restarts what it routes to loses no request. */
TR_API int tr_mailbox_set_heir(tr_host *h, tr_pid pid, tr_pid heir);
/* True for a message the heir got that way: it is older than any other mail
 * for the dead actor, which a router holding mail must put first. */
TR_API int tr_msg_inherited(const tr_msg *m);

/* Liveness, for supervisors. An actor shows life by taking a message or by
 * calling tr_heartbeat (for long work between messages). tr_actor_quiet_ms
 * says how long pid has had something to do without showing life: 0 for one
 * that waits with nothing to do, however long; TR_ENOPROC if not alive. */
TR_API void tr_heartbeat(tr_actor *self);
TR_API int64_t tr_actor_quiet_ms(tr_host *h, tr_pid pid);

/* Sends and calls queued for pid (TR_ENOPROC if not alive); 0 tells an
 * actor that batches work, such as a writer, that now is the time to
 * flush. */
TR_API int tr_mailbox_count(tr_host *h, tr_pid pid);

/* Looking into a running host, as a debugger or an operator's console
 * would. What an actor is doing now: */
enum {
  TR_STATUS_RUNNING = 0, /* inside one of its callbacks */
  TR_STATUS_READY,       /* in the ready queue: has mail or was suspended */
  TR_STATUS_WAITING,     /* nothing to do until mail comes (see `wait`) */
  TR_STATUS_EXITING      /* told to end inside its callback; ends soon */
};
/* What a waiting actor waits for. */
enum {
  TR_WAIT_NONE = 0,
  TR_WAIT_RECEIVE, /* any mail */
  TR_WAIT_CALL,    /* the answer to a call (tr_await on its session) */
  TR_WAIT_SLEEP,   /* a tr_timeout (tr_await on it) */
  TR_WAIT_ROOM,    /* room in a full mailbox (tr_await on tr_notify_room) */
  TR_WAIT_OTHER    /* tr_await on a session no ref of this host names */
};

typedef struct tr_actor_info {
  tr_pid pid;
  uint32_t host; /* index of its host in the node (tr_pid_host) */
  /* The behaviour's name ("lua" for a Lua actor; "?" when unnamed) and
   * the behaviour itself, with the actor's state: for the code that
   * defined the behaviour to say more (the Lua layer does). */
  const char *kind;
  const tr_behaviour *behaviour;
  void *state;
  char name[256];    /* registered name, "" when none */
  int status;        /* TR_STATUS_* */
  int wait;          /* TR_WAIT_* while TR_STATUS_WAITING, else TR_WAIT_NONE */
  tr_pid waits_on;   /* TR_WAIT_CALL: the callee; TR_WAIT_ROOM: the full one */
  uint64_t awaits;   /* the session of its tr_await (for tr_call_cancel) */
  uint32_t mailbox;  /* sends and calls queued (tr_mailbox_count) */
  uint32_t held;     /* sends and calls it keeps aside (tr_mailbox_hold) */
  uint32_t capacity; /* bounds mailbox + held */
  uint32_t queued;   /* every message queued, answers and notices too */
  uint64_t mailbox_bytes; /* their encoded bytes (a walk of the mailbox) */
  uint64_t handled;       /* messages handed to its handle callback */
  uint64_t run_ns;        /* time its turns took while timing was on
                            (tr_host_set_timing), counted as each turn ends */
  tr_pid supervisor; /* who restarts it (tr_actor_set_supervisor); 0: none */
  uint32_t restarts; /* how often that supervisor restarted it so far */
} tr_actor_info;

/* Fills *out for pid, an actor of h. TR_ENOPROC when it is not alive;
 * TR_EINVAL for a pid of another host (its host answers for it). Loop
 * thread only; O(1) but for mailbox_bytes and queued, O(queued). */
TR_API int tr_actor_get_info(tr_host *h, tr_pid pid, tr_actor_info *out);

/* The pids of h's live actors, oldest first: up to cap of them into pids
 * (may be NULL when cap is 0), and how many there are in all into *n (may
 * be NULL), so a caller whose array was short asks again with room for
 * *n. The calling host's actors only: another host's are listed on its
 * own thread. */
TR_API int tr_host_actors(tr_host *h, tr_pid *pids, size_t cap, size_t *n);

/* Turns the measure of each actor's run time (tr_actor_info.run_ns) on
 * (on != 0) or off; off at first. It costs a clock read per actor's turn,
 * as much as a message when each turn handles one (a call ping-pong), so
 * it is there to switch on while looking, as OTP's scheduler_wall_time. */
TR_API int tr_host_set_timing(tr_host *h, int on);

/* Records that sup supervises pid and has restarted it `restarts` times,
 * for tr_actor_get_info; supervisors call it as they start a child. */
TR_API int tr_actor_set_supervisor(tr_host *h, tr_pid pid, tr_pid sup,
                                   uint32_t restarts);

/* Until a message carrying this session arrives (a reply, an error reply,
 * a timeout), leave every other message queued, in order. 0 ends the wait;
 * it also ends by itself when the message comes. */
TR_API void tr_await(tr_actor *self, uint64_t session);

/* In handle: ends the handling of the current message as a return would,
 * and takes the next one -- the message handle would be called with next
 * (under tr_await, only the awaited answer) -- into *m, which is then the
 * message being handled, as if handle had been called with it. Returns 1,
 * or 0 with *m NULL when there is none queued, or the actor's share of
 * the turn is used up, or a step's deadline has passed: return from
 * handle then, and it is called as usual. An actor that runs a loop of
 * its own (a Lua coroutine) thus handles a queue of mail in one call. */
TR_API int tr_mailbox_next(tr_actor *self, tr_msg **m);

/* ------------------------------------------------------------ messages */

/* Kinds of message, as tr_msg_kind reports them. */
enum {
  TR_KIND_SEND = 0,    /* a plain message */
  TR_KIND_CALL = 1,    /* a request: answer it with tr_reply */
  TR_KIND_REPLY = 2,   /* the answer to a call; session names the call */
  TR_KIND_ERROR = 3,   /* a call failed; see "Failed calls" below */
  TR_KIND_DOWN = 4,    /* a monitored actor ended: down(ref, pid, reason) */
  TR_KIND_EXIT = 5,    /* a linked actor ended, trapped: exit(pid, reason) */
  TR_KIND_TIMEOUT = 6, /* a tr_timeout fired; session names it */
  TR_KIND_ROOM = 7,    /* a full mailbox has room again (tr_notify_room) */
  TR_KIND_NOTICE = 8   /* news the receiver asked for (tr_notify), such as a
                          supervisor's started/stopped to its listener */
};

/* Value types, as tr_value_type reports them. */
enum {
  TR_NIL = 0,
  TR_BOOL,
  TR_INT,
  TR_FLOAT,
  TR_STR,
  TR_PID,
  TR_ARRAY,
  TR_MAP
};

/* How deep tables may nest inside a message (the tuple itself is level 0). */
#define TR_MAX_DEPTH 30
/* The largest encoded message, in bytes. */
#define TR_MAX_MSG (64u * 1024u * 1024u)

/* Building. A message is begun with a name, then values are added in order.
 * Arrays and maps announce their size: an array of n takes the next n
 * values, a map of n the next 2n (key, value, key, value ...). The add
 * functions return 0 or an error, and an error sticks: once one add fails,
 * sending the message fails with the same error. */
TR_API tr_msg *tr_msg_new(const char *name);
TR_API tr_msg *tr_msg_newn(const char *name, size_t len);
/* tr_msg_newn for a sender on h's loop thread: the memory of messages h
 * has delivered and freed is reused (h keeps a few hundred), where
 * tr_msg_newn would ask malloc. The message is like any other: any thread
 * may send or free it. Off the loop thread, for a NULL h, or for a name
 * longer than 31 bytes, it is tr_msg_newn. */
TR_API tr_msg *tr_host_msg_newn(tr_host *h, const char *name, size_t len);
TR_API int tr_msg_add_nil(tr_msg *m);
TR_API int tr_msg_add_bool(tr_msg *m, int b);
TR_API int tr_msg_add_int(tr_msg *m, int64_t i);
TR_API int tr_msg_add_float(tr_msg *m, double d);
TR_API int tr_msg_add_str(tr_msg *m, const char *s, size_t len);
TR_API int tr_msg_add_cstr(tr_msg *m, const char *s);
TR_API int tr_msg_add_pid(tr_msg *m, tr_pid pid);
TR_API int tr_msg_add_array(tr_msg *m, uint32_t n);
TR_API int tr_msg_add_map(tr_msg *m, uint32_t n);

/* Builds a whole message from a format, one letter per value:
 *   n nil   b bool (int)   i int   I int64_t   d double
 *   s NUL-terminated string   S bytes (const char *, size_t)   p tr_pid
 * Returns NULL on an unknown letter or when out of memory. */
TR_API tr_msg *tr_msg_pack(const char *name, const char *fmt, ...);

/* A message from an encoded buffer (a MessagePack array whose first element
 * is the name string), copied and checked: a truncated, malformed, too deep
 * or trailing-bytes buffer gives NULL and *err = TR_EBADMSG. */
TR_API tr_msg *tr_msg_decode(const void *buf, size_t len, int *err);

/* The encoded bytes of a finished message; NULL for an unfinished one. */
TR_API const void *tr_msg_bytes(const tr_msg *m, size_t *len);

/* A copy of a received message, to keep past the callback or forward. */
TR_API tr_msg *tr_msg_clone(const tr_msg *m);

/* Frees a message that was never handed to the host. */
TR_API void tr_msg_free(tr_msg *m);

/* Reading. tr_value pointers point into the message's buffer: valid until
 * the message is freed or added to. */
/* The name's bytes, not NUL-terminated (a name may hold NUL): use *len. */
TR_API const char *tr_msg_name(const tr_msg *m, size_t *len);
TR_API int tr_msg_is(const tr_msg *m, const char *name); /* name equals */
TR_API int tr_msg_kind(const tr_msg *m);
TR_API tr_pid tr_msg_from(const tr_msg *m);
TR_API uint64_t tr_msg_session(const tr_msg *m);
TR_API size_t tr_msg_argc(const tr_msg *m);
/* Argument i (0-based, after the name), or NULL past the end or when the
 * message cannot be decoded. */
TR_API const tr_value *tr_msg_arg(const tr_msg *m, size_t i);

/* Reads arguments by format, zero-copy: the letters of tr_msg_pack, where
 * 's' and 'S' both give const char ** then size_t * (the bytes are not
 * NUL-terminated); 'n' and '.' (skip one) take no pointer; any pointer may
 * be NULL. TR_ERANGE when there are fewer arguments than letters or an 'i'
 * does not fit an int, TR_ETYPE on a mismatch, TR_EINVAL for an unknown
 * letter, TR_EBADMSG for an unfinished message. */
TR_API int tr_msg_unpack(const tr_msg *m, const char *fmt, ...);

TR_API int tr_value_type(const tr_value *v); /* -1 for NULL */
TR_API int tr_value_bool(const tr_value *v, int *out);
TR_API int tr_value_int(const tr_value *v, int64_t *out);
TR_API int tr_value_float(const tr_value *v, double *out); /* ints convert */
TR_API int tr_value_str(const tr_value *v, const char **s, size_t *len);
TR_API int tr_value_pid(const tr_value *v, tr_pid *out);
TR_API size_t tr_value_len(const tr_value *v); /* array items or map pairs */
TR_API const tr_value *tr_value_at(const tr_value *v, size_t i);  /* array */
TR_API const tr_value *tr_value_key(const tr_value *v, size_t i); /* map */
TR_API const tr_value *tr_value_val(const tr_value *v, size_t i); /* map */
/* The value stored right after v: the next argument, array item, or map key
 * or value -- O(1) where the indexed readers above are O(i). Only as many
 * steps as the container's length are meaningful. */
TR_API const tr_value *tr_value_next(const tr_value *v);

/* ------------------------------------------------------------- sending */

/* Sends m to pid, from `from` (0 when not an actor). Safe from any thread:
 * off the loop thread it goes through a locked inbox, is checked when the
 * loop takes it, and counts as a dead letter if it cannot be delivered.
 * On the loop thread: TR_ENOPROC for a dead pid, TR_EFULL for a full
 * mailbox; both count as dead letters. A mailbox is full when the sends
 * and calls queued in it, plus those its actor holds aside
 * (tr_mailbox_hold), reach its capacity; every other kind of message
 * (answers, notices) is never refused for room. */
TR_API int tr_send(tr_host *h, tr_pid from, tr_pid to, tr_msg *m);
TR_API int tr_send_named(tr_host *h, tr_pid from, const char *name, tr_msg *m);

/* How many more sends and calls pid's mailbox takes now, less the room
 * promised to senders woken from a wait (tr_notify_room) that have not
 * used it yet -- but for the caller's own, while it handles its room
 * message: a sender that checks first and waits when it finds 0 thus
 * queues fairly behind those already waiting. TR_ENOPROC when pid is not
 * alive. Loop thread only. */
TR_API int tr_mailbox_room(tr_host *h, tr_pid pid);

/* tr_mailbox_room and then tr_send or tr_call in one go, for a sender
 * that waits for room instead of failing: m goes only into room that
 * tr_mailbox_room would report, and where there is none the answer is
 * TR_EFULL, not counted as a dead letter (and, for the call, with no
 * error message to the caller): the sender waits (tr_notify_room) and
 * sends anew. m is the host's either way, as for every send. A dead pid
 * is TR_ENOPROC and a dead letter, as for tr_send. Loop thread only. */
TR_API int tr_send_if_room(tr_host *h, tr_pid from, tr_pid to, tr_msg *m);
TR_API int tr_call_if_room(tr_host *h, tr_pid from, tr_pid to, tr_msg *m,
                           uint32_t timeout_ms, uint64_t *session);

/* For senders that wait instead of failing on TR_EFULL: `waiter` gets a
 * TR_KIND_ROOM message from `full`, its session being the id stored in
 * *id (may be NULL), once the mailbox of `full` has room for it or `full` has
 * ended, or a TR_KIND_TIMEOUT with that session when timeout_ms (0: none)
 * passes first. The sender then tries again. Waiters queue in the order
 * they began to wait, and each slot that frees wakes one of them: the slot
 * is promised to that waiter until it has handled its room message (a
 * waiter that ends first, or does not send, passes it to the next). At
 * once when there is room no earlier waiter was promised. A waiter that
 * finds its room taken (by a sender that did not wait) and waits again
 * while handling that room message keeps its place at the front. */
TR_API int tr_notify_room(tr_host *h, tr_pid waiter, tr_pid full,
                          uint32_t timeout_ms, uint64_t *id);

/* Takes the message being handled (m, in handle) out of the host's hands:
 * the actor owns it from now on, to free or to send on later, as a router
 * holding mail for an actor being restarted does. NULL if m is not the
 * message being handled. */
TR_API tr_msg *tr_keep(tr_actor *self, tr_msg *m);

/* Counts n sends and calls that self keeps aside (tr_keep) to pass on
 * later against its own mailbox's capacity (n < 0: -n of them were passed
 * on or freed), so that senders find it full while it holds its fill and
 * what it holds stays bounded; when held mail leaves, senders waiting for
 * room are woken. Called in handle, after taking m, it fills the slot m
 * left. Returns how many are held now, or TR_EINVAL (releasing more than
 * are held). */
TR_API int tr_mailbox_hold(tr_actor *self, int n);

/* Puts m, a message self took over (tr_keep) or is handling, back at the
 * front of its own mailbox, as if it had never been taken: for an actor
 * that ends before it has done anything with it, so that its heir (or its
 * next take) gets it first, in order. Not checked against capacity (it was
 * admitted once; release it first if it was counted by tr_mailbox_hold);
 * a call waits on self again, and fails "down" if self ends without an
 * heir. In self's callbacks only, terminate included. Takes m either way;
 * TR_EINVAL elsewhere. */
TR_API int tr_mailbox_putback(tr_actor *self, tr_msg *m);

/* Sends m as a notice (TR_KIND_NOTICE): news that `to` asked for, such as
 * a supervisor's to its listener. Like a reply, it is never refused for a
 * full mailbox and does not count against its capacity, so keep notices
 * few (bounded by what the receiver asked for). TR_ENOPROC (a dead letter)
 * when `to` is not alive; loop thread only. */
TR_API int tr_notify(tr_host *h, tr_pid from, tr_pid to, tr_msg *m);

/* Sends a message on to `to` keeping its sender, session and kind, so the
 * answer to a forwarded call goes straight back to the caller, and the
 * caller now hears at once if `to` dies. m is the message being handled
 * (taken over without a copy) or one the caller owns. */
TR_API int tr_forward(tr_host *h, tr_pid to, tr_msg *m);
/* tr_forward of a new message in place of `request` (the message being
 * handled, or one kept): m goes to `to` with request's sender, session and
 * kind, so `to` answers request's caller, and request is left to the
 * caller to free as usual (it is not to be answered any more). m is taken
 * either way. A store forwards a change to its writer this way, worded
 * for the writer. */
TR_API int tr_forward_as(tr_host *h, tr_pid to, const tr_msg *request,
                         tr_msg *m);

/* Calls: sends m to `to` as a request from the actor `from`. A call that
 * cannot be sent fails at once like tr_send (TR_ENOPROC, TR_EFULL). The
 * answer arrives later in from's mailbox, carrying the session stored in
 * *session: a TR_KIND_REPLY, or a failed call. An answer after the first
 * is dropped and counted as late.
 *
 * Failed calls. Every failed call arrives as TR_KIND_ERROR -- that kind is
 * the one check -- whose name says why and whose one argument is a text:
 *   "error"   the callee answered with tr_reply_error; the text is its own
 *   "timeout" timeout_ms (0: none) passed first
 *   "down"    the callee ended before answering; the text is its reason
 *   "noproc", "full"  a forwarded call found no actor or a full mailbox
 *   "cancelled"  the caller's side gave it up (tr_call_cancel)
 *   "noconnection", "full", "toolarge"  a call to another node that the
 *             wire could not carry, or whose node was lost (see "wire")
 * Only "error" comes from the callee; the others come from the core. */
TR_API int tr_call(tr_host *h, tr_pid from, tr_pid to, tr_msg *m,
                   uint32_t timeout_ms, uint64_t *session);

/* Ends caller's call `session` now, as failed "cancelled": what waits for
 * it (tr_await, actor.call) goes on at once, and the callee's answer, when
 * it comes, is dropped as late. The REPL ends a call at the prompt so on
 * Ctrl-C. TR_ENOPROC when that call is not pending; caller on h. */
TR_API int tr_call_cancel(tr_host *h, tr_pid caller, uint64_t session);

/* Answers the call `request` (a TR_KIND_CALL message). TR_ENOPROC when the
 * call is over (timed out, caller gone): the reply is dropped as late. */
TR_API int tr_reply(tr_host *h, const tr_msg *request, tr_msg *reply);
/* Answers a call later, from its caller's pid and session. */
TR_API int tr_reply_to(tr_host *h, tr_pid caller, uint64_t session,
                       tr_msg *reply);

/* Answers a call with an error reply: a TR_KIND_ERROR named "error" whose
 * one argument is the text (printf-style), which the caller's actor.call
 * raises. How troupe's own actors refuse a request. TR_EINVAL, and nothing
 * sent, if request is not a call. */
TR_API int tr_reply_error(tr_host *h, const tr_msg *request, const char *fmt,
                          ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
TR_API int tr_reply_error_to(tr_host *h, tr_pid caller, uint64_t session,
                             const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* A call from outside any actor (the embedding program, on the loop thread,
 * not inside a callback): runs the loop until the answer comes. On success
 * *reply holds the reply, to be freed with tr_msg_free. An error reply
 * returns TR_EREPLY with the error in *reply (its text is argument 0; free
 * it too); a failure from the core returns TR_ETIMEDOUT or TR_ENOPROC with
 * *reply NULL. */
TR_API int tr_host_call(tr_host *h, tr_pid to, tr_msg *m, uint32_t timeout_ms,
                        tr_msg **reply);

/* The answer to a tr_host_call_async: rc is TR_OK with the reply, or why
 * the call failed -- TR_EREPLY (reply is the error reply, its text argument
 * 0), TR_ETIMEDOUT or TR_ENOPROC (the callee ended first; reply says how:
 * see "Failed calls") -- or TR_ESTOPPED with reply NULL when the host shut
 * down first. reply is lent for the callback (copy what you keep). */
typedef void (*tr_call_cb)(tr_host *h, void *ud, int rc, tr_msg *reply);

/* A call that does not block the frame: sends m to `to` and returns at
 * once; cb(h, ud, ...) runs exactly once with the answer, inside a later
 * tr_host_step (or tr_host_run), as an actor's callback does -- it may
 * send and make calls, not step the host or tr_host_call. The guarantees
 * are tr_call's: one answer, timeout_ms (0: none), TR_ENOPROC at once when
 * the callee ends before answering. *id (may be NULL) names the call for
 * tr_host_call_cancel. On the loop thread only. An error returned here
 * (TR_ENOPROC, TR_EFULL, TR_ESTOPPED, ...) is the answer: cb never runs. */
TR_API int tr_host_call_async(tr_host *h, tr_pid to, tr_msg *m,
                              uint32_t timeout_ms, tr_call_cb cb, void *ud,
                              tr_pid *id);

/* Forgets a call made with tr_host_call_async: its callback will not run
 * (a reply that comes anyway is counted as late). TR_ENOPROC when the call
 * is over (its callback ran) or id names none. */
TR_API int tr_host_call_cancel(tr_host *h, tr_pid id);

/* -------------------------------------------------------------- timers */

/* Sends m to `to` after ms milliseconds; *timer (may be NULL) names it for
 * tr_cancel. Dropped, not counted, if `to` has ended by then. TR_ENOPROC
 * if `to` is not alive now (of another host: sent, and checked there). */
TR_API int tr_after(tr_host *h, tr_pid to, uint32_t ms, tr_msg *m,
                    uint64_t *timer);

/* After ms milliseconds, a TR_KIND_TIMEOUT message named "timeout" reaches
 * `to`, its session being the id stored in *timer (may be NULL), which
 * also names it for tr_cancel. TR_ENOPROC if `to` is not alive. */
TR_API int tr_timeout(tr_host *h, tr_pid to, uint32_t ms, uint64_t *timer);

/* Cancels a pending tr_after or tr_timeout. TR_ENOPROC if it is gone. */
TR_API int tr_cancel(tr_host *h, uint64_t timer);

/* --------------------------------------------------------------- names */

/* Names are the node's: registered on one host, found from all of them.
 * Registers pid, an actor of h, under name. TR_EEXIST if the name is taken
 * or the actor has a name already; TR_ENOPROC if pid is not alive here.
 * The name is released when the actor ends; tr_unregister on another host
 * frees the name (the actor's own copy of it, which tr_actor_name shows
 * there, goes when it ends). */
TR_API int tr_register(tr_host *h, const char *name, tr_pid pid);
TR_API int tr_unregister(tr_host *h, const char *name);
TR_API tr_pid tr_whereis(tr_host *h, const char *name);   /* 0 when unknown */
TR_API const char *tr_actor_name(tr_host *h, tr_pid pid); /* NULL when none */

/* ----------------------------------------------------- monitors, links */

/* watcher gets down(ref, pid, reason) (TR_KIND_DOWN) when target ends, or
 * at once with reason "noproc" if it is not alive; the ref is stored in
 * *ref (may be NULL), for tr_demonitor. TR_ENOPROC if watcher is not
 * alive. */
TR_API int tr_monitor(tr_host *h, tr_pid watcher, tr_pid target, uint64_t *ref);
TR_API int tr_demonitor(tr_host *h, uint64_t ref);

/* Links two actors: when one ends abnormally, the other ends with the same
 * reason, or, if it traps exits, gets exit(pid, reason) (TR_KIND_EXIT).
 * Linking to an actor that is not alive acts as if it had just ended with
 * "noproc". */
TR_API int tr_link(tr_host *h, tr_pid a, tr_pid b);
TR_API int tr_unlink(tr_host *h, tr_pid a, tr_pid b);

#ifdef __cplusplus
}
#endif
#endif
