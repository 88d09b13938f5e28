/*
 * troupe_services.h -- the services troupe builds on its kernel: supervision
 * (tr_sup_start), the router (tr_router_start), the key-value store (its
 * protocol, and tr_kv_* for a C program), the RESP gateway and the cluster
 * over NATS (tr_cluster_*).
 *
 * Everything here is written against troupe.h alone, as a user's own
 * native actors would be; this header sits on troupe.h as lauxlib.h sits
 * on lua.h, and includes it.
 */
#ifndef TROUPE_SERVICES_H
#define TROUPE_SERVICES_H

#include <stddef.h>
#include <stdint.h>

#include "troupe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --------------------------------------------------------- supervision */

enum { TR_PERMANENT = 0, TR_TRANSIENT, TR_TEMPORARY }; /* restart policy */
enum { TR_ONE_FOR_ONE = 0, TR_ONE_FOR_ALL, TR_REST_FOR_ONE }; /* strategy */

/* One child of a supervisor. */
typedef struct tr_child_spec {
  const char *name; /* registered under this name while it runs (required) */
  /* Starts the child and stores its pid; non-zero fails the start. The
   * supervisor links to it and registers its name. arg is for starting:
   * a child keeps no pointer into it (free_arg may run before the child's
   * terminate does). */
  int (*start)(tr_host *h, void *arg, tr_pid *out);
  void *arg;
  void (*free_arg)(void *arg); /* called when the supervisor ends; or NULL */
  int restart;           /* TR_PERMANENT (restart always), TR_TRANSIENT (after
                            an abnormal end), TR_TEMPORARY (never) */
  uint32_t heartbeat_ms; /* how often its liveness is checked: 0 means 200 */
  uint32_t cutoff_ms;    /* quiet longer than this (tr_actor_quiet_ms) and it
                            is restarted: 0 means 500, UINT32_MAX never */
} tr_child_spec;

typedef struct tr_sup_spec {
  int strategy;       /* TR_ONE_FOR_ONE, TR_ONE_FOR_ALL, TR_REST_FOR_ONE */
  uint32_t intensity; /* at most this many restarts ... (0 means 3) */
  uint32_t period_ms; /* ... in this many ms (0 means 5000); past that the
                         supervisor stops its children and ends with reason
                         "restart intensity exceeded" */
  const tr_child_spec *children;
  size_t nchildren;
  /* Told started(name, pid) and stopped(name, pid, reason) for each child
   * (notices, tr_notify: never refused for a full mailbox); 0 for nobody. */
  tr_pid listener;
  /* Every child's heir (tr_mailbox_set_heir) from its start; 0: none. */
  tr_pid heir;
} tr_sup_spec;

/* Starts a supervisor, which starts the children in order (stopping them in
 * reverse order when it ends). The spec is copied; the args are not, and
 * must live as long as the supervisor (free_arg ends them). opts (may be
 * NULL) applies to the supervisor, but for its ctx, which is its own. A
 * child that fails to start fails this call with TR_EINIT. It answers
 * calls:
 *   restart(name) -> "ok"    restart a child now, as actor.reset does
 *   children() -> name, pid, name, pid ...
 *   which_children() -> one array of maps, a child each in start order:
 *     {name=, pid=, restart= "permanent"|"transient"|"temporary",
 *      type= "supervisor"|"worker", kind= its behaviour's name ("lua"
 *      for a Lua actor), restarts= how often restarted}; pid and kind
 *     are nil while the child is not running
 *   count_children() -> one map {specs=, active=, supervisors=, workers=}
 *     as OTP's: children, those running, those that are supervisors (a
 *     child not running counts as a worker) and the rest
 * Each child it starts is marked as its own (tr_actor_set_supervisor), so
 * tr_actor_get_info shows its supervisor and restarts.
 * A crashed child is restarted at once; a quiet one at its heartbeat. */
TR_API int tr_sup_start(tr_host *h, const tr_sup_spec *spec,
                        const tr_spawn_opts *opts, tr_pid *out);

/* -------------------------------------------------------------- router */

/* A service behind the router: a supervisor whose children the router
 * reaches by their names. */
typedef struct tr_service {
  const char *name;        /* for logs */
  const tr_sup_spec *spec; /* the router sets its listener to itself */
  int lazy;                /* start on the first message for it, not at once */
} tr_service;

/* Starts the router, registered as "router", and the services behind it;
 * services and their specs must outlive the router. A message sent or
 * called to the router is named after its destination, a child of a
 * service ("kv"); the router forwards it unchanged, sender and session
 * kept, so the reply goes straight back. While that child is being
 * restarted its messages wait in order, and what a dead child had not
 * handled comes back to the router (it is the child's heir) and goes to the
 * new one: a restart loses no request. The router's mailbox has the
 * host's mailbox_capacity, and the mail it holds for a child that is
 * restarting or full counts against it (tr_mailbox_hold): past that bound
 * a send or call to the router is refused with TR_EFULL like any other
 * (a Lua send waits), whichever child it is for. Mail a dead child had
 * queued (up to that child's capacity) comes back on top of the bound
 * until it is passed on. Messages named "router" are for the
 * router itself: call("router", "router", "reset", name) restarts a child
 * through its supervisor. A destination whose service gave up answers calls
 * with an error. */
TR_API int tr_router_start(tr_host *h, const tr_service *services, size_t n,
                           tr_pid *out);

/* --------------------------------------------------------------- store */

/* The key-value store is two actors supervised together (one_for_all):
 * a writer, registered as "kv.writer", which owns the data directory, and
 * the store, registered as "kv", which serves requests from memory. Either
 * side may be native or Lua; they only talk through these messages.
 *
 * Requests are calls to "kv" (usually through the router) of a message
 * named "kv" whose first value says what is asked: kv("get", key) below is
 * the message "kv" holding "get" and key. Keys are strings
 * of 1..TR_KV_MAX_KEY bytes (and as the writer can write them: see keys
 * below), values strings of 0..TR_KV_MAX_VALUE bytes; a value given as an
 * integer is stored as its decimal text, a float as the shortest "%.17g"
 * text that reads back the same (as Redis stores what it is sent). A key
 * whose expiry has passed is gone for every request. Times: ms.
 *   kv("get", key)             -> value | nil
 *   kv("set", key, value[, opts]) -> true, or false when nx/xx kept it from
 *       being set; with get, the old value | nil instead (set or not).
 *       opts, a map, all optional: px = ms or ex = seconds (> 0: the key
 *       expires then), nx = true (only if it is missing), xx = true (only
 *       if it is there), keepttl = true (keep its expiry: else a set
 *       clears it), get = true
 *   kv("delete", key)          -> true if the key was there, else false
 *   kv("getdel", key)          -> value | nil, and the key is gone
 *   kv("exists", key...)       -> how many of the keys are there (a key
 *                                 given twice counts twice)
 *   kv("incr", key[, by])      -> the new value (by: 1 when not given), an
 *       integer: the value's
 *       text is a 64-bit decimal integer (a missing key counts as 0); its
 *       expiry is kept. Else the error "kv: the value is not an integer or
 *       out of range" (and for an overflow: "kv: increment or decrement
 *       would overflow"), and nothing changes.
 *   kv("append", key, text)    -> the value's new length (expiry kept)
 *   kv("strlen", key)          -> the value's length, 0 when missing
 *   kv("mget", key...)         -> value | nil for each key, in order
 *   kv("mset", key, value, ...) -> true: all of them set or none (their
 *                                 expiries cleared), one record
 *   kv("keys", pattern)        -> an array of the keys matching the glob
 *       pattern (* ? [abc] [^a-c] [a-c] \x, as Redis's KEYS)
 *   kv("scan", cursor[, pattern[, count]]) -> next, an array of keys
 *       cursor 0 starts and a next of 0 ends; about count (default 10)
 *       keys are looked at per call. A key there for the whole scan is
 *       returned exactly once, however many keys are added or removed
 *       meanwhile; a key added or removed meanwhile at most once (a key
 *       removed and added again counts as two keys: it may come twice).
 *   kv("expire", key, ms)      -> true if the key is there (it expires ms
 *                                 from now; ms <= 0 removes it), else false
 *   kv("ttl", key)             -> ms left; -1 when the key does not expire,
 *                                 -2 when it is missing (as Redis's PTTL)
 *   kv("persist", key)         -> true if an expiry was removed
 *   kv("flush")                -> true: every key is removed
 *   kv("count")                -> number of keys
 *   kv("stats")                -> {keys=, expiring=, bytes=} (bytes: keys
 *                                 and values together)
 *   kv("info")                 -> a line saying what was loaded at start
 * A bad request gets an error reply ("error", text) and changes nothing.
 *
 * The store applies a change to its memory, then forwards it to the writer
 * with the caller's sender and session (tr_forward_as), which answers the
 * caller once the change is handed to the OS (and fsynced as its policy
 * says): an acknowledged write survives the process being killed. A
 * request that changes nothing (a delete of a missing key, a set refused
 * by nx) is answered by the store. Expired keys are removed from memory
 * when read and by a sweep that does bounded work per turn; the writer is
 * not told (expiry times are absolute, and a writer drops what has expired
 * when it loads or compacts). The writer's messages are named by what they
 * do. The changes it takes (forwarded calls, or sends: then nobody is
 * answered), answer being what the writer answers the caller (true when
 * not given; given as nil, nil):
 *   set(key, value[, at[, answer]])  at: when the key expires, ms since
 *                                    the Unix epoch; nil or 0: never
 *   delete(key[, answer])
 *   expire(key, at[, answer])        at 0: it no longer expires
 *   mset(key, value, ...)            all or none, expiries cleared; true
 *   flush([answer])                  every key removed
 * and the store's own kv("set", key, value), kv("delete", key),
 * kv("mset", ...) and kv("flush"), forwarded unchanged and answered true
 * (a plain set passes through the store without a new message).
 * The writer batches what is queued into one write (group commit); after
 * a failed write or fsync it answers every change with an error and never
 * again acknowledges one, while the store keeps serving reads.
 *
 * At start the store loads through the writer, in batches:
 *   load(cursor)
 *       -> entries, next, info, refused, unavailable, keys, expiries
 * entries is an array {k1, v1, k2, v2, ...}, each key once in a whole load
 * (nothing changes the writer's data until the store has loaded and passes
 * changes on); next the cursor of the next batch, nil after the last; info
 * the line kv("info") returns; refused nil while the writer takes changes,
 * else why it does not; unavailable nil, else why the writer has no data to
 * give at all (its data directory is in use by another writer, cannot be
 * made, holds a file it cannot read): the store then answers every request
 * with that text, e.g. "data directory ./troupe-data is in use (pid 1234)";
 * keys says which keys the writer can write: nil, any bytes (the native
 * log writer); "utf8", valid UTF-8 only (the JSON writer: JSON keys are
 * text); expiries nil when no key of the batch expires, else an array
 * with one time per pair of entries: when that key expires (ms since the
 * Unix epoch), 0 for never. A writer gives no key that has expired.
 * The store refuses a set of any other key itself, before applying it, with
 * the error 'kv: the key "\xff" is not valid UTF-8, and a JSON key is text
 * (the log writer takes any bytes)', so that it never holds what its writer
 * cannot write. The last batch's info, refused, unavailable and keys are
 * the ones that count. Cursor 0 starts. A writer still reading its files
 * holds a load and answers it within 200 ms or so with no entries, the same
 * cursor as next, and how far it has got as info; the store asks again.
 * Requests wait in the store's mailbox while it loads; once a load has
 * taken load_wait_ms (2 s by default: well within a call's default 5 s),
 * the store answers them, until it has loaded, with an error saying it is
 * still loading and how far it has got, rather than leave them to time out.
 * When a write fails, the writer sends whoever loaded last "failed"(why);
 * the store then refuses changes itself, leaving its memory as it is. The
 * writer also answers stats() -> {records=, flushes=, fsyncs=,
 * compactions=, log_bytes=, keys=} (what it has done since it started). */
#define TR_KV_MAX_KEY 65535
#define TR_KV_MAX_VALUE (16u * 1024u * 1024u)

enum { TR_FSYNC_EVERYSEC = 0, TR_FSYNC_ALWAYS, TR_FSYNC_NO };

typedef struct tr_kv_config {
  const char *dir; /* the data directory: "./troupe-data" when NULL */
  int fsync;       /* TR_FSYNC_EVERYSEC (default), _ALWAYS or _NO */
  /* how long requests wait for the store to load before they are answered
   * "still loading": 0 means 2000 ms */
  uint32_t load_wait_ms;
  /* tests: file operations to use instead of the real ones (a struct
   * tr__kvio, services/store/kvio.h); NULL for the real ones */
  const void *io;
  /* The store in Redis: "redis://[:PASSWORD@]HOST[:PORT][/DB]" (port 6379
   * and db 0 when not given) makes tr_kv_start run the store in Redis
   * (tr_kv_redis_store_start) instead of the native pair; dir, fsync,
   * load_wait_ms and io are then unused. NULL: the native store. */
  const char *redis;
  /* how long a request waits for Redis's answer before it fails "kv: redis
   * unavailable: no answer within N ms": 0 means 2000 ms */
  uint32_t redis_timeout_ms;
} tr_kv_config;

/* tr_child_spec start functions, arg a tr_kv_config *. The writer makes the
 * directory if needed and locks it: a second writer on the same directory,
 * in this process or another, starts unavailable, and its store answers
 * every request with "data directory <dir> is in use (pid <n>)". */
TR_API int tr_kv_log_writer_start(tr_host *h, void *config, tr_pid *out);
TR_API int tr_kv_store_start(tr_host *h, void *config, tr_pid *out);

/* The store in Redis: one actor, registered as "kv" by its supervisor,
 * with no writer, that serves the same requests from a Redis server
 * (config->redis, a tr_kv_config *) through hiredis's async API on the
 * host's loop, so actor.kv, tr_kv_* and the RESP gateway work over it
 * unchanged; several troupe processes on one Redis share one store. Each
 * request becomes one command (get GET, set SET with PX NX XX KEEPTTL GET,
 * delete DEL, getdel GETDEL, exists EXISTS, incr INCRBY, append APPEND,
 * strlen STRLEN, mget MGET, mset MSET, keys KEYS, scan SCAN, expire
 * PEXPIRE, ttl PTTL, persist PERSIST, flush FLUSHDB, count DBSIZE, stats
 * INFO) and is answered when Redis answers it: a change acknowledged is
 * one Redis has applied, as durable as Redis's persistence settings make
 * it (appendonly, appendfsync). What differs from the native store: count
 * and stats are Redis's (DBSIZE may count keys whose expiry has passed
 * but which Redis has not yet removed; stats' bytes is Redis's
 * used_memory_dataset), scan has Redis's promise (a key there for the
 * whole scan comes at least once, possibly more), flush empties the whole
 * Redis database, info says where Redis is, and append's limit is Redis's
 * (512 MB) rather than TR_KV_MAX_VALUE on the result.
 * It connects at once and never fails to start for a Redis that is not
 * there: while Redis is down or unreachable each request fails at once
 * with "kv: redis unavailable: <why> (<url>)", a request Redis does not
 * answer within redis_timeout_ms fails then (the connection is dropped as
 * hung), and the store reconnects with backoff (100 ms doubling to 2 s).
 * The log says so once per change: connected, cannot connect, lost,
 * reconnected. At most 65536 requests await Redis at once; past that a
 * request is refused ("kv: redis: 65536 requests await Redis already; try
 * again"). A bad URL fails the start (TR_EINIT, the reason logged). */
TR_API int tr_kv_redis_store_start(tr_host *h, void *config, tr_pid *out);
/* 0 if url is a Redis URL the store takes; else TR_EINVAL and why in err
 * (errlen bytes; err may be NULL). */
TR_API int tr_kv_redis_url_check(const char *url, char *err, size_t errlen);

/* The store for a C program, as troupe sets it up for Lua: the router,
 * with the native store and log writer behind it (or, when cfg->redis is
 * set, the store in Redis), started on the first request. cfg (may be
 * NULL) is copied. TR_EEXIST if the host has a router already; TR_EINVAL
 * for a bad cfg->redis (the reason logged). */
TR_API int tr_kv_start(tr_host *h, const tr_kv_config *cfg);

/* Requests from outside any actor (they run the loop until answered, as
 * tr_host_call does; timeout 5 s). get stores a copy of the value in
 * *value (free it) and its length in *len, or NULL when the key is
 * missing. A refused request returns TR_EINVAL and, if err is not NULL,
 * a copy of the store's reason (free it). */
TR_API int tr_kv_set(tr_host *h, const void *key, size_t klen,
                     const void *value, size_t vlen, char **err);
TR_API int tr_kv_get(tr_host *h, const void *key, size_t klen, char **value,
                     size_t *len, char **err);
/* *existed (may be NULL): whether the key was there. */
TR_API int tr_kv_delete(tr_host *h, const void *key, size_t klen, int *existed,
                        char **err);

/* A set with options; tr_kv_set is one with none. */
typedef struct tr_kv_set_opts {
  int64_t px;  /* > 0: the key expires this many ms from now; 0: never */
  int nx, xx;  /* only if the key is missing / only if it is there */
  int keepttl; /* keep the key's expiry (else the set clears it) */
} tr_kv_set_opts;
/* *done (may be NULL): 1 when set, 0 when nx or xx kept it from being. */
TR_API int tr_kv_set_with(tr_host *h, const void *key, size_t klen,
                          const void *value, size_t vlen,
                          const tr_kv_set_opts *opts, int *done, char **err);
TR_API int tr_kv_exists(tr_host *h, const void *key, size_t klen, int *exists,
                        char **err);
/* Adds by to the integer the key holds (0 when missing): *value gets the
 * sum. TR_EINVAL (and err) when the value is not an integer. */
TR_API int tr_kv_incr(tr_host *h, const void *key, size_t klen, int64_t by,
                      int64_t *value, char **err);
/* The key expires ms from now (ms <= 0: it is removed); *existed (may be
 * NULL) says whether it was there. */
TR_API int tr_kv_expire(tr_host *h, const void *key, size_t klen, int64_t ms,
                        int *existed, char **err);
/* *ms: the ms left, -1 when the key does not expire, -2 when missing. */
TR_API int tr_kv_ttl(tr_host *h, const void *key, size_t klen, int64_t *ms,
                     char **err);
/* Any request, as a message named "kv" (tr_msg_pack("kv", "ss", "keys",
 * "user:*")), taken either way: *reply gets the answer (free it), read
 * with troupe.h's accessors. */
TR_API int tr_kv_request(tr_host *h, tr_msg *request, tr_msg **reply,
                         char **err);

/* ------------------------------------------------------------- gateway */

/* A RESP2 gateway: a TCP listener whose connections speak the protocol of
 * Redis clients (redis-cli, redis-benchmark, client libraries) and map
 * each command onto a call to the store through the router (the "router"
 * pid, messages named "kv"). It runs on the host that has the router.
 *
 * Commands: PING ECHO QUIT SELECT(0) AUTH HELLO(2) COMMAND INFO CONFIG(GET)
 * CLIENT DBSIZE GET SET(EX PX NX XX GET KEEPTTL) SETNX SETEX PSETEX GETDEL
 * DEL EXISTS INCR INCRBY DECR DECRBY APPEND STRLEN MGET MSET KEYS SCAN TYPE
 * EXPIRE PEXPIRE TTL PTTL PERSIST FLUSHDB/FLUSHALL (only with allow_flush).
 * Requests must be RESP arrays of bulk strings (inline commands are
 * refused). Replies go out in request order, however the store answers
 * them; a write is answered once the writer has it.
 *
 * Limits (0 in a field means its default):
 *   maxclients    connections at once (10000); past it a new one is told
 *                 "-ERR max number of clients reached" and closed
 *   max_inflight  commands of one connection awaiting their reply (1024):
 *                 past it the connection stops reading its socket until
 *                 answers drain
 *   max_args      arguments of one request (65536)
 *   max_request   bytes of one request (TR_KV_MAX_VALUE + 64 KiB): a longer
 *                 one is a protocol error, answered and closed
 *   max_output    bytes of replies queued for a client that does not read
 *                 them (64 MiB): past it the client is disconnected
 *   idle_ms       a connection with nothing in flight and silent this long
 *                 is closed (0: never) */
typedef struct tr_resp_config {
  const char *addr;     /* to bind: NULL for 127.0.0.1 (IPv4 or IPv6 text) */
  int port;             /* 1..65535; 0 picks a free port (see out_port) */
  const char *password; /* AUTH password; NULL: none. Required when addr
                           is not a loopback address */
  uint32_t maxclients, max_inflight, max_args, idle_ms;
  size_t max_request, max_output;
  int allow_flush; /* FLUSHDB and FLUSHALL empty the store; else refused */
  int *out_port;   /* when not NULL, gets the port bound */
} tr_resp_config;

/* Starts the gateway on h, registered as "resp": it binds and listens at
 * once and says where in the host's log (and whether AUTH is required).
 * cfg is copied. TR_EINVAL for a bad address or port, or a non-loopback
 * address without a password; TR_EINIT when it cannot listen (the reason
 * is logged); TR_EEXIST when h runs one already. Stopping it (tr_kill)
 * closes its connections. */
TR_API int tr_resp_start(tr_host *h, const tr_resp_config *cfg, tr_pid *out);

/* ------------------------------------------------------------- cluster */

/* A cluster joins troupe nodes (processes, on one machine or many)
 * through a NATS server: each node's hosts reach the actors of the others
 * with send, call, reply, forward, monitor, link and kill, pids unchanged
 * (a pid names its node: tr_pid_node). Nothing of troupe's own listens on
 * a port; every node connects out to NATS. Built on the kernel's wire
 * (tr_host_set_wire): what the core hands over for another node is
 * batched, one NATS message per destination host per loop turn (or when
 * NATS's max_payload is near), and published on that host's subject,
 * troupe.<cluster>.<node id>.<host index>.
 *
 * A node is known to the others by its heartbeats (every 250 ms on
 * troupe.<cluster>.hb, and a farewell on a clean stop); one silent for
 * lost_ms, or gone from our side when our connection drops, is lost:
 * calls to it fail "noconnection" at once, monitors of its actors get
 * down "noconnection", links to them exit so, and mail to it is refused
 * ("noconnection") until it is back. Its node id (1..255) is claimed in
 * the JetStream key-value bucket troupe_<cluster> when the node starts
 * (key node.<id>, refreshed while the node runs, released when it stops;
 * a claim not refreshed for lost_ms is taken over), and global names are
 * kept there too (see the README's "A cluster over NATS"). */
typedef struct tr_cluster tr_cluster;

typedef struct tr_cluster_config {
  const char *url;  /* the NATS server: nats://HOST:PORT (required) */
  const char *node; /* this node's name: 1-64 of A-Z a-z 0-9 _ - (required) */
  const char *cluster; /* the cluster's name, same alphabet; NULL: "troupe" */
  uint32_t lost_ms;    /* a node silent this long is lost: 0 means 1500 */
  /* libnats' security options, passed through: a .creds file (JWT and
   * seed), and TLS (on when any of these is given): the CA file to trust,
   * this node's certificate chain and its key (both or neither). */
  const char *creds;
  const char *tls_ca, *tls_cert, *tls_key;
  /* Bytes waiting to be written to NATS past which sends to other nodes
   * fail "full" (TR_EFULL): 0 means 32 MiB. */
  uint32_t max_buffered;
} tr_cluster_config;

/* 1 when s is a good node or cluster name (1 to 64 of A-Z a-z 0-9 _ -,
 * as subjects and the bucket's keys take them), else 0. */
TR_API int tr_cluster_name_ok(const char *s);
/* Reads TLS options written "ca=FILE,cert=FILE,key=FILE" (any of them;
 * cert and key together) into cfg's tls_ fields, which then point into
 * buf, a copy of spec (size bytes). TR_OK, or TR_EINVAL with why in err
 * (errlen bytes), the fields then partly set. */
TR_API int tr_cluster_config_tls(tr_cluster_config *cfg, const char *spec,
                                 char *buf, size_t size, char *err,
                                 size_t errlen);

/* Connects to NATS, claims a node id and starts the heartbeats; blocks
 * until it is done (a few round trips to the server). Call it before the
 * node's hosts start, then give the id to the node (tr_node_set_id) and
 * attach each host on its own thread. On failure *out is NULL and err
 * (errlen bytes, may be NULL) says why: TR_EINVAL for a bad config,
 * TR_EEXIST when the name is held by a live node or no id is free,
 * TR_ENOPROC when the server cannot be reached or has no JetStream. */
TR_API int tr_cluster_new(const tr_cluster_config *cfg, tr_cluster **out,
                          char *err, size_t errlen);
/* The node id claimed (1..255). */
TR_API uint32_t tr_cluster_node_id(const tr_cluster *c);
/* Joins h, a host of the node whose id c holds, to the cluster, on h's
 * loop thread: its own NATS connection driven by h's loop (its socket
 * polled there), its wire, and its cluster actor, registered as
 * "troupe.cluster.<index>", which answers these calls (the Lua layer's
 * actor.node, nodes, register_global ... make them):
 *   node() -> name, id                 this node
 *   nodes() -> {{name=, id=, hosts=}, ...}  the live nodes, this first
 *   peer(node, host) -> pid            that host's cluster actor on another
 *                                      node (node: its name or id)
 *   whereis_local(name) -> pid | nil   a local name, for other nodes
 *   register(name[, pid]) -> true      a global name for an actor of this
 *                                      node (the caller by default); an
 *                                      error reply if it is taken
 *   whereis(name) -> pid | nil         a global name (nil: its owner's
 *                                      node is not live)
 *   unregister(name) -> nil
 * The global names' calls answer once the bucket has (its KV calls run on
 * the cluster's thread). TR_ENOPROC when NATS cannot be reached,
 * TR_EEXIST when h is attached already. */
TR_API int tr_cluster_attach(tr_cluster *c, tr_host *h);
/* Lets go of h, on its loop thread, once its actors have ended (before
 * tr_host_free): closes its connection and handles. */
TR_API void tr_cluster_detach(tr_cluster *c, tr_host *h);
/* Says farewell (peers see the node lost at once), releases the node's
 * global names and its id, and frees c; every host detached first. */
TR_API void tr_cluster_free(tr_cluster *c);
/* Stops libnats' own threads and releases its memory (waiting up to a
 * second for them), at a program's end or before the code is unloaded (a
 * Lua module's state closing): call it once every cluster of the process
 * is freed. A tr_cluster_new after it opens libnats again. */
TR_API void tr_cluster_lib_close(void);

#ifdef __cplusplus
}
#endif
#endif
