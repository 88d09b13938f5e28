/*
 * troupe.c -- the `troupe` executable: Lua 5.4 with the `actor` module,
 * running a script as the root actor of a host.
 *
 *   troupe script.lua [args]   the script is the root actor; `arg` as in lua
 *   troupe -e 'code'           the same for a string
 *   troupe                     a REPL, itself an actor on a live host
 *   troupe -i script.lua       the script, then the REPL on the same host
 *
 * Besides the `actor` module, Lua gets one native C actor to spawn by
 * name, actor.spawn("echo"), for trying Lua <-> C messaging (and for
 * bench/lua.lua): it answers calls and "ping" sends with their arguments.
 *
 * The process ends when the root actor returns, after every actor has been
 * stopped in reverse start order, with status 0; a root that fails, is
 * killed or exits with a reason exits 1, its reason on stderr (an error's
 * traceback once: the root's is not logged, actor.run raises it). The REPL
 * reads stdin on a thread of its own (ledit.c), one line when the REPL asks
 * for it, and hands it over with tr_send, the one call that is safe from
 * any thread; the loop never blocks on the terminal.
 *
 * With --threads N (default: the cores) it is a node of N hosts: the root
 * runs on host 0, on the main thread; tr_node_start runs hosts 1..N-1,
 * each opening a lua_State of its own set up as the root's (libraries,
 * package.path with the script's folder, the store options), whose
 * spawner starts actors there by module. When the root ends, host 0 has
 * stopped; then the node is stopped, its threads joined, all freed.
 * --threads 1 is one host of tr_host_new, as troupe has always run.
 *
 * Every host logs through one sink: lines (text or JSON, log.c's) go to
 * stderr or to --log-file, written whole under a lock. Signals come through
 * the root host's loop (uv_signal_t): SIGHUP reopens the log file, for
 * logrotate; SIGTERM, and SIGINT but in the REPL, stop the node as its end
 * would (newest actors first, terminate callbacks run, the store's writer
 * flushes). The first one gives the signals back to the system, so a
 * second one ends the process at once.
 *
 * The module's Lua files are found from where the executable is, installed
 * (TROUPE_LUA_RELDIR, e.g. ../share/lua/5.4) or in its build tree (lua/),
 * unless TROUPE_LUA_PATH names them: no source path is compiled in.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>
#include <uv.h>

#include "ledit.h"
#include "tclient.h"
#include "troupe.h"
#include "troupe_lua.h"
#include "troupe_services.h"

static const char usage[] =
    "usage: troupe [options] [script [args...]]\n"
    "       troupe attach PATH       a REPL into the host serving PATH\n"
    "       troupe top PATH [m|b|k|r]  its busiest actors, live (q quits)\n"
    "Runs a Lua script as the root actor of a troupe host; the process ends\n"
    "when it returns, after every actor has stopped. Without a script, opens\n"
    "a REPL on a live host. Exits 0 when the root returns; 1 when it fails,\n"
    "is killed or exits with a reason (said on stderr); 2 for bad usage.\n"
    "\n"
    "options:\n"
    "  -e CODE        run CODE as the root actor instead of a script; the\n"
    "                 arguments after it are its ... and arg[1..]\n"
    "  -i             open the REPL once the script or CODE has run, on\n"
    "                 the same host (its actors keep running)\n"
    "  -t, --threads N  hosts in the node, one thread each (1..255; default:\n"
    "                 TROUPE_THREADS, else the number of cores); the root\n"
    "                 runs on host 0, actor.spawn{module=, host=} starts\n"
    "                 actors on the others; a script's folder is on\n"
    "                 package.path on every host\n"
    "  --log-level L  error, warn, info (default) or debug; a script may\n"
    "                 change it: actor.configure{log_level = L}\n"
    "  --log-format F text (default) or json: one object a line, with ts,\n"
    "                 level, pid, name and msg\n"
    "  --log-file PATH  log there (appending) instead of stderr; SIGHUP\n"
    "                 reopens it (for logrotate)\n"
    "  --console PATH  serve a console on the Unix socket PATH (mode 0600)\n"
    "                 for `troupe attach PATH` and `troupe top PATH`\n"
    "  -h, --help     show this help\n"
    "  -v, --version  show the version\n"
    "\n"
    "the store (require \"actor.kv\"), started on its first request:\n"
    "  --data-dir DIR            where it keeps its files (./troupe-data)\n"
    "  --store c|lua|redis       the store actor: native (c), Lua, or the\n"
    "                            store in a Redis server (no files here)\n"
    "  --redis URL               that server: redis://HOST[:PORT][/DB]\n"
    "                            (redis://127.0.0.1:6379/0)\n"
    "  --redis-timeout MS        how long a request waits for Redis's\n"
    "                            answer before it fails (2000)\n"
    "  --writer log|json         the writer: native append-only log, or\n"
    "                            Lua writing data.json\n"
    "  --fsync everysec|always|no  when writes reach the disk (everysec)\n"
    "\n"
    "the RESP gateway: the store served to Redis clients (off by default):\n"
    "  --resp [ADDR:]PORT        listen there (ADDR: 127.0.0.1; beyond\n"
    "                            loopback a password is required)\n"
    "  --resp-password PASS      clients must AUTH (or TROUPE_RESP_PASSWORD)\n"
    "  --resp-maxclients N       connections at once (10000)\n"
    "  --resp-max-inflight N     commands awaiting replies per client before\n"
    "                            its socket is no longer read (1024)\n"
    "  --resp-max-args N         arguments per request (65536)\n"
    "  --resp-max-request BYTES  bytes per request (16 MiB + 64 KiB)\n"
    "  --resp-max-output BYTES   unread replies before a client is\n"
    "                            disconnected (64 MiB)\n"
    "  --resp-idle-ms MS         close idle clients after MS (0: never)\n"
    "  --resp-allow-flush        let FLUSHDB/FLUSHALL empty the store\n"
    "\n"
    "a cluster over NATS (README \"A cluster over NATS\"; off by default):\n"
    "  --cluster nats://HOST:PORT  join the cluster through that NATS server\n"
    "                            (JetStream on: nats-server -js)\n"
    "  --node NAME               this node's name in it (required with\n"
    "                            --cluster; A-Z a-z 0-9 _ -, up to 64)\n"
    "  --cluster-name NAME       the cluster's name (troupe): its subjects\n"
    "                            troupe.NAME.*, its bucket troupe_NAME\n"
    "  --cluster-lost-ms MS      a node silent this long is lost (1500;\n"
    "                            100..60000); heartbeats every 250 ms\n"
    "  --cluster-creds FILE      NATS credentials (a .creds file)\n"
    "  --cluster-tls ca=FILE,cert=FILE,key=FILE  TLS to NATS: the CA to\n"
    "                            trust and/or this node's certificate and\n"
    "                            key (cert and key together)\n"
    "\n"
    "native actors (actor.spawn(NAME)):\n"
    "  echo           answers a call with its own arguments, and a send\n"
    "                 named \"ping\" with \"pong\" and the same arguments,\n"
    "                 sent back to the sender: for trying Lua <-> C\n"
    "\n"
    "signals: SIGTERM, and SIGINT but in the REPL, stop every actor in\n"
    "order (newest first, terminate callbacks run, the store flushes), then\n"
    "exit (0 for SIGTERM, 130 for SIGINT); a second one ends troupe at once.\n"
    "\n"
    "environment:\n"
    "  TROUPE_THREADS   the default of --threads\n"
    "  TROUPE_RESP_PASSWORD  the default of --resp-password\n"
    "  TROUPE_HISTORY   the REPL's history file (default: ~/.troupe_history)\n"
    "  TROUPE_LUA_PATH  where the `actor` module's Lua files are (default:\n"
    "                   " TROUPE_LUA_RELDIR " from the folder troupe is in,\n"
    "                   or lua/ beside it in a build tree)\n";

/* ------------------------------------------------------- log, signals */

/* Where every host's lines go: stderr, or the --log-file, which SIGHUP
 * reopens under the lock while other hosts may be writing. */
typedef struct logsink {
  uv_mutex_t lock;
  const char *path; /* NULL: stderr */
  int fd;
} logsink;

static void sink_line(void *ud, int level, const char *line, size_t len) {
  logsink *s = ud;
  char buf[8192];
  size_t n = len < sizeof buf - 1 ? len : sizeof buf - 1, off = 0;
  ssize_t w;
  (void)level;
  memcpy(buf, line, n);
  buf[n++] = '\n'; /* one write a line: appends do not interleave */
  uv_mutex_lock(&s->lock);
  while (off < n && ((w = write(s->fd, buf + off, n - off)) > 0 ||
                     (w < 0 && errno == EINTR)))
    off += w > 0 ? (size_t)w : 0;
  uv_mutex_unlock(&s->lock);
}

/* Opens (or, after a rename by logrotate, reopens) the file; 0 or errno. */
static int sink_open(logsink *s) {
  int fd = open(s->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return errno;
  uv_mutex_lock(&s->lock);
  if (s->fd != 2)
    close(s->fd);
  s->fd = fd;
  uv_mutex_unlock(&s->lock);
  return 0;
}

typedef struct signals {
  uv_signal_t term, intr, hup;
  tr_host *h;
  tr_node *node;
  logsink *log;
  int intr_on, hup_on;
  int signum; /* the signal that stopped troupe, 0 when none */
} signals;

static void on_stop_signal(uv_signal_t *sig, int signum) {
  signals *s = sig->data;
  tr_host_log(s->h, TR_LOG_INFO, "%s: stopping every actor",
              signum == SIGTERM ? "SIGTERM" : "SIGINT");
  s->signum = signum;
  /* Back to the system's action: a second signal ends troupe at once. */
  uv_signal_stop(&s->term);
  if (s->intr_on)
    uv_signal_stop(&s->intr);
  if (s->node)
    tr_node_stop(s->node);
  else
    tr_host_stop(s->h);
}

static void on_hup(uv_signal_t *sig, int signum) {
  signals *s = sig->data;
  int err = sink_open(s->log);
  (void)signum;
  if (err)
    tr_host_log(s->h, TR_LOG_ERROR, "SIGHUP: cannot reopen %s: %s",
                s->log->path, strerror(err));
  else
    tr_host_log(s->h, TR_LOG_INFO, "SIGHUP: reopened %s", s->log->path);
}

/* SIGINT stays as it is in the REPL (and when ignored from the start, as
 * shells do for background jobs); SIGHUP is taken with a log file only. */
static void signals_start(signals *s, int repl) {
  uv_loop_t *loop = tr_host_loop(s->h);
  struct sigaction old;
  uv_signal_init(loop, &s->term);
  uv_signal_start(&s->term, on_stop_signal, SIGTERM);
  uv_unref((uv_handle_t *)&s->term); /* signals keep no loop running */
  s->term.data = s;
  s->intr_on =
      !repl && sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler != SIG_IGN;
  if (s->intr_on) {
    uv_signal_init(loop, &s->intr);
    uv_signal_start(&s->intr, on_stop_signal, SIGINT);
    uv_unref((uv_handle_t *)&s->intr);
    s->intr.data = s;
  }
  if ((s->hup_on = s->log->path != NULL) != 0) {
    uv_signal_init(loop, &s->hup);
    uv_signal_start(&s->hup, on_hup, SIGHUP);
    uv_unref((uv_handle_t *)&s->hup);
    s->hup.data = s;
  }
}

/* Closed before the host: tr_host_free's loop runs their close. */
static void signals_close(signals *s) {
  uv_close((uv_handle_t *)&s->term, NULL);
  if (s->intr_on)
    uv_close((uv_handle_t *)&s->intr, NULL);
  if (s->hup_on)
    uv_close((uv_handle_t *)&s->hup, NULL);
}

/* ------------------------------------------------- the echo actor */

/* Adds a copy of v (and, for a container, of what it holds) to m. */
static void copy_value(tr_msg *m, const tr_value *v) {
  size_t n = tr_value_len(v), i;
  const tr_value *c;
  int64_t i64;
  double d;
  const char *s;
  size_t len;
  int b;
  tr_pid pid;
  switch (tr_value_type(v)) {
  case TR_BOOL:
    tr_value_bool(v, &b);
    tr_msg_add_bool(m, b);
    break;
  case TR_INT:
    tr_value_int(v, &i64);
    tr_msg_add_int(m, i64);
    break;
  case TR_FLOAT:
    tr_value_float(v, &d);
    tr_msg_add_float(m, d);
    break;
  case TR_STR:
    tr_value_str(v, &s, &len);
    tr_msg_add_str(m, s, len);
    break;
  case TR_PID:
    tr_value_pid(v, &pid);
    tr_msg_add_pid(m, pid);
    break;
  case TR_ARRAY:
    tr_msg_add_array(m, (uint32_t)n);
    for (i = 0, c = tr_value_at(v, 0); i < n; i++, c = tr_value_next(c))
      copy_value(m, c);
    break;
  case TR_MAP: /* n pairs: 2n values, key, value, key, value ... */
    tr_msg_add_map(m, (uint32_t)n);
    for (i = 0, c = tr_value_key(v, 0); i < 2 * n; i++, c = tr_value_next(c))
      copy_value(m, c);
    break;
  default:
    tr_msg_add_nil(m);
  }
}

/* echo: a call gets its arguments back as the reply, but a call named
 * "error" gets an error reply whose text is its first argument; a send
 * named "ping" gets "pong" with the same arguments. Anything else is
 * read and dropped: its integer arguments are added to the actor's state,
 * so a stream sent to echo costs the reading that any receiver does. */
static int echo_handle(tr_actor *self, void *state, tr_msg *m) {
  tr_host *h = tr_actor_host(self);
  int call = tr_msg_kind(m) == TR_KIND_CALL;
  const tr_value *v;
  const char *text;
  tr_msg *out;
  size_t i, n = tr_msg_argc(m);
  int64_t k;
  if (!call && !(tr_msg_kind(m) == TR_KIND_SEND && tr_msg_is(m, "ping"))) {
    for (i = 0, v = tr_msg_arg(m, 0); i < n; i++, v = tr_value_next(v))
      if (tr_value_int(v, &k) == TR_OK)
        *(int64_t *)state += k;
    return TR_CONTINUE;
  }
  if (call && tr_msg_is(m, "error") && !tr_msg_unpack(m, "s", &text, &n)) {
    tr_reply_error(h, m, "%.*s", (int)n, text);
    return TR_CONTINUE;
  }
  /* The reply is built value by value, not cloned: echo reads what it got. */
  out = tr_msg_new(call ? "reply" : "pong");
  for (i = 0, v = tr_msg_arg(m, 0); i < n; i++, v = tr_value_next(v))
    copy_value(out, v);
  if (call)
    tr_reply(h, m, out);
  else
    tr_send(h, tr_self(self), tr_msg_from(m), out);
  return TR_CONTINUE;
}

static const tr_behaviour echo_behaviour = {"echo", sizeof(int64_t), NULL,
                                            echo_handle, NULL};

/* --------------------------------------------------------------- main */

/* Whether dir holds the `actor` module's Lua files. */
static int has_module(const char *dir) {
  char path[PATH_MAX];
  int n = snprintf(path, sizeof path, "%s/actor/init.lua", dir);
  return n > 0 && (size_t)n < sizeof path && access(path, R_OK) == 0;
}

/* Lua's package.path gains the module's folder: TROUPE_LUA_PATH, else the
 * installed one, found from where this executable is (so a copied or moved
 * install works: no path is compiled in), else lua/ beside the executable,
 * as in the build tree. An install also puts its folder of C modules on
 * package.cpath. actor.core and actor.stdin are preloaded from this binary.
 * A script's own folder comes next, on every host: a module beside the
 * script is found wherever actor.spawn{module = ...} starts it. */
static void setup(lua_State *L, ledit **r, const char *script_dir) {
  const char *env = getenv("TROUPE_LUA_PATH");
  char exe[PATH_MAX], dir[PATH_MAX + 64], cdir[PATH_MAX + 64];
  size_t n = sizeof exe;
  char *slash;
  if (uv_exepath(exe, &n) || !(slash = strrchr(exe, '/')))
    strcpy(exe, ".");
  else
    *slash = '\0';
  snprintf(dir, sizeof dir, "%s/%s", exe, TROUPE_LUA_RELDIR);
  snprintf(cdir, sizeof cdir, "%s/%s", exe, TROUPE_LUA_CRELDIR);
  if (script_dir) { /* after the module's folder, which goes first below */
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", script_dir, script_dir);
    lua_getfield(L, -2, "path");
    lua_concat(L, 2);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
  }
  if (env && *env) {
    trL_openlibs(L, env);
  } else if (has_module(dir)) {
    trL_openlibs(L, dir);
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/?.so;", cdir);
    lua_getfield(L, -2, "cpath");
    lua_concat(L, 2);
    lua_setfield(L, -2, "cpath");
    lua_pop(L, 1);
  } else {
    snprintf(cdir, sizeof cdir, "%s/lua", exe);
    trL_openlibs(L, has_module(cdir) ? cdir : dir);
  }
  if (r) /* not on the other hosts of the node: stdin is the root's */
    *r = ledit_preload(L);
}

/* arg as lua sets it: arg[0] the script, arg[1..] its arguments. */
static void set_arg(lua_State *L, char **argv, int argc, int script) {
  int i;
  lua_createtable(L, argc - script, script + 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

/* Runs the chunk (below its nargs arguments on the stack) as the root actor
 * through actor.run, which raises the root's error with its traceback
 * already in it. Returns 0, or 1 after printing the error. */
static int run_root(lua_State *L, int nargs) {
  int base = lua_gettop(L) - nargs; /* the chunk */
  lua_getglobal(L, "require");
  lua_pushliteral(L, "actor");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK)
    goto error;
  lua_getfield(L, -1, "run");
  lua_remove(L, -2);
  lua_insert(L, base); /* run, chunk, args... */
  if (lua_pcall(L, nargs + 1, 0, 0) != LUA_OK)
    goto error;
  return 0;
error:
  fprintf(stderr, "troupe: %s\n", lua_tostring(L, -1));
  return 1;
}

/* The store's and the gateway's options, as actor.configure takes them
 * (the gateway's, from RESP_OPTS on, for host 0 only: it runs beside the
 * router; those past NUM_OPTS are numbers). */
static const char *const store_opts[][2] = {
    {"--data-dir", "data_dir"},
    {"--store", "store"},
    {"--writer", "writer"},
    {"--fsync", "fsync"},
    {"--redis", "redis"},
    {"--redis-timeout", "redis_timeout"},
    {"--resp", "resp"},
    {"--resp-password", "resp_password"},
    {"--resp-maxclients", "resp_maxclients"},
    {"--resp-max-inflight", "resp_max_inflight"},
    {"--resp-max-args", "resp_max_args"},
    {"--resp-max-request", "resp_max_request"},
    {"--resp-max-output", "resp_max_output"},
    {"--resp-idle-ms", "resp_idle_ms"},
    {"--resp-allow-flush", "resp_allow_flush"}}; /* a flag: no value */
#define NSTORE_OPTS (sizeof store_opts / sizeof store_opts[0])
#define RESP_OPTS 6
#define NUM_OPTS 8
#define FLAG_OPT (NSTORE_OPTS - 1)

/* Hands the options to actor.configure, which checks them; the gateway's
 * on the root host only. */
static int configure(lua_State *L, const char *const *values, int root) {
  size_t i;
  lua_getglobal(L, "require");
  lua_pushliteral(L, "actor");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK)
    return -1;
  lua_getfield(L, -1, "configure");
  lua_newtable(L);
  for (i = 0; i < (root ? NSTORE_OPTS : RESP_OPTS); i++)
    if (values[i]) {
      if (i == FLAG_OPT)
        lua_pushboolean(L, 1);
      else if (i < NUM_OPTS || !lua_stringtonumber(L, values[i]))
        lua_pushstring(L, values[i]);
      lua_setfield(L, -2, store_opts[i][1]);
    }
  if (lua_pcall(L, 1, 0, 0) != LUA_OK)
    return -1;
  lua_pop(L, 1);
  return 0;
}

/* Matches --opt VALUE or --opt=VALUE at argv[*i]; -1 when VALUE is
 * missing, 0 when argv[*i] is not this option. */
static int option(int argc, char **argv, int *i, const char *opt,
                  const char **value) {
  size_t n = strlen(opt);
  if (strncmp(argv[*i], opt, n))
    return 0;
  if (argv[*i][n] == '=') {
    *value = argv[*i] + n + 1;
    return 1;
  }
  if (argv[*i][n])
    return 0;
  if (*i + 1 >= argc)
    return -1;
  *value = argv[++*i];
  return 1;
}

/* What every host's lua_State is made with (all but the reader, which is
 * host 0's). */
typedef struct state_opts {
  const char *const *store_values;
  tr_cluster *cluster;    /* NULL: not in one */
  const char *script_dir; /* NULL: none to add */
  char **argv;
  int argc, arg0;
} state_opts;

/* A lua_State for h, set up as the root's is: libraries, package.path,
 * attached to h (which starts the router or finds it, and the spawner),
 * echo defined, the store options configured. NULL with a message on
 * stderr when it cannot be; *status then says how to exit. */
static lua_State *open_state(tr_host *h, ledit **r, const state_opts *o,
                             int *status) {
  lua_State *L = luaL_newstate();
  int rc;
  *status = 1;
  if (!L) {
    fprintf(stderr, "troupe: out of memory\n");
    return NULL;
  }
  luaL_openlibs(L);
  setup(L, r, o->script_dir);
  if ((rc = trL_attach(L, h)) != TR_OK) {
    fprintf(stderr, "troupe: %s\n", tr_strerror(rc));
    lua_close(L);
    return NULL;
  }
  trL_define(L, "echo", &echo_behaviour, NULL);
  if (configure(L, o->store_values, r != NULL)) {
    fprintf(stderr, "troupe: %s\n", lua_tostring(L, -1));
    lua_close(L);
    *status = 2;
    return NULL;
  }
  set_arg(L, o->argv, o->argc, o->arg0);
  return L;
}

/* The other hosts of the node: each thread opens its state in setup (the
 * host's data pointer holds it) and closes it in teardown, once every
 * actor of the host has ended. The root waits until every host is set up,
 * so that actor.hosts() is the whole node and every spawner is there. */
typedef struct others {
  const state_opts *opts;
  uv_mutex_t lock;
  uv_cond_t cond;
  uint32_t ready;
} others;

/* The node leaves its cluster (if in one), and libnats ends its own
 * threads and frees its memory. */
static void cluster_end(tr_cluster *c) {
  if (c) {
    tr_cluster_free(c);
    tr_cluster_lib_close();
  }
}

static void other_setup(tr_host *h, void *ud) {
  others *o = ud;
  int status;
  tr_host_set_data(h, open_state(h, NULL, o->opts, &status));
  if (o->opts->cluster && tr_host_data(h))
    tr_cluster_attach(o->opts->cluster, h); /* a failure is logged */
  uv_mutex_lock(&o->lock);
  o->ready++;
  uv_cond_signal(&o->cond);
  uv_mutex_unlock(&o->lock);
}

static void other_teardown(tr_host *h, void *ud) {
  others *o = ud;
  lua_State *L = tr_host_data(h);
  if (o->opts->cluster)
    tr_cluster_detach(o->opts->cluster, h);
  if (L)
    lua_close(L);
}

/* How many hosts: --threads, else TROUPE_THREADS, else the cores. 0 for
 * a bad number. */
static uint32_t parse_threads(const char *s) {
  char *end;
  long n;
  if (!s || !*s)
    return 0;
  errno = 0;
  n = strtol(s, &end, 10);
  if (errno || *end || n < 1 || n > 255)
    return 0;
  return (uint32_t)n;
}

/* The cluster's options, as given (NULL: not given). */
enum { CL_URL, CL_NODE, CL_NAME, CL_LOST, CL_CREDS, CL_TLS, NCLUSTER_OPTS };
static const char *const cluster_opts[NCLUSTER_OPTS] = {
    "--cluster",         "--node",          "--cluster-name",
    "--cluster-lost-ms", "--cluster-creds", "--cluster-tls"};

/* Joins the cluster the options name, before any host starts: *out NULL
 * when not asked. 0, or the exit status after saying why on stderr. */
static int cluster_join(const char *const *v, tr_cluster **out) {
  tr_cluster_config cfg;
  static char tls[4096];
  char err[512] = "", *end;
  long ms = 0;
  int rc, i;
  *out = NULL;
  for (i = 0; i < NCLUSTER_OPTS && !v[i]; i++)
    ;
  if (i == NCLUSTER_OPTS)
    return 0;
  if (!v[CL_URL] || !v[CL_NODE]) {
    fprintf(stderr,
            "troupe: %s needs %s too (a node joins a cluster with "
            "--cluster nats://HOST:PORT --node NAME)\n",
            v[CL_URL] ? "--cluster" : cluster_opts[i],
            v[CL_URL] ? "--node" : "--cluster");
    return 2;
  }
  memset(&cfg, 0, sizeof cfg);
  cfg.url = v[CL_URL];
  cfg.node = v[CL_NODE];
  cfg.cluster = v[CL_NAME];
  cfg.creds = v[CL_CREDS];
  if (v[CL_LOST]) {
    errno = 0;
    ms = strtol(v[CL_LOST], &end, 10);
    if (errno || *end || !*v[CL_LOST] || ms < 100 || ms > 60000) {
      fprintf(stderr,
              "troupe: --cluster-lost-ms: 100 to 60000 expected, got '%s'\n",
              v[CL_LOST]);
      return 2;
    }
    cfg.lost_ms = (uint32_t)ms;
  }
  if (v[CL_TLS] && tr_cluster_config_tls(&cfg, v[CL_TLS], tls, sizeof tls, err,
                                         sizeof err)) {
    fprintf(stderr, "troupe: --cluster-tls: %s\n", err);
    return 2;
  }
  if ((rc = tr_cluster_new(&cfg, out, err, sizeof err)) != TR_OK) {
    fprintf(stderr, "troupe: --cluster: %s\n", err[0] ? err : tr_strerror(rc));
    tr_cluster_lib_close(); /* what libnats opened on the way */
    return rc == TR_EINVAL ? 2 : 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  lua_State *L;
  tr_node *node;
  tr_host *h;
  ledit *r = NULL;
  others other;
  state_opts so;
  tr_node_hooks hooks = {other_setup, other_teardown, &other};
  const char *code = NULL, *store_values[NSTORE_OPTS] = {NULL};
  const char *console = NULL, *cluster_values[NCLUSTER_OPTS] = {NULL};
  tr_cluster *cluster = NULL;
  const char *threads_opt = NULL, *log_opt[3] = {NULL, NULL, NULL};
  static const char *const log_opts[3] = {"--log-level", "--log-format",
                                          "--log-file"};
  static const char *const levels[] = {"error", "warn", "info", "debug"};
  tr_host_config hc;
  logsink sink;
  signals sigs;
  char script_dir[PATH_MAX];
  int script = 0, i, rc, nargs = 0, args_from = 0, interactive = 0;
  uint32_t threads;
  size_t k;

  if (argc >= 3 && !strcmp(argv[1], "attach") && argc == 3)
    return troupe_attach(argv[2]);
  if (argc >= 3 && !strcmp(argv[1], "top") && argc <= 4)
    return troupe_top(argv[2], argc == 4 ? argv[3] : NULL);
  for (i = 1; i < argc; i++) {
    int got = 0;
    if (!strcmp(argv[i], store_opts[FLAG_OPT][0])) {
      store_values[FLAG_OPT] = "1";
      continue;
    }
    for (k = 0; k < FLAG_OPT; k++) {
      got = option(argc, argv, &i, store_opts[k][0], &store_values[k]);
      if (got < 0) {
        fprintf(stderr, "troupe: %s needs a value\n%s", store_opts[k][0],
                usage);
        return 2;
      }
      if (got)
        break;
    }
    if (k < FLAG_OPT)
      continue;
    for (k = 0; k < 3; k++)
      if ((got = option(argc, argv, &i, log_opts[k], &log_opt[k])) != 0)
        break;
    if (got < 0) {
      fprintf(stderr, "troupe: %s needs a value\n%s", log_opts[k], usage);
      return 2;
    }
    if (got)
      continue;
    for (k = 0; k < NCLUSTER_OPTS; k++)
      if ((got = option(argc, argv, &i, cluster_opts[k], &cluster_values[k])) !=
          0)
        break;
    if (got < 0) {
      fprintf(stderr, "troupe: %s needs a value\n%s", cluster_opts[k], usage);
      return 2;
    }
    if (got)
      continue;
    if ((got = option(argc, argv, &i, "--console", &console)) < 0) {
      fprintf(stderr, "troupe: --console needs a path\n%s", usage);
      return 2;
    }
    if (got)
      continue;
    if ((got = option(argc, argv, &i, "--threads", &threads_opt)) == 0)
      got = option(argc, argv, &i, "-t", &threads_opt);
    if (got < 0) {
      fprintf(stderr, "troupe: --threads needs a value\n%s", usage);
      return 2;
    }
    if (got) {
      if (!parse_threads(threads_opt)) {
        fprintf(stderr, "troupe: --threads: 1 to 255 expected, got '%s'\n%s",
                threads_opt, usage);
        return 2;
      }
      continue;
    }
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      fputs(usage, stdout);
      return 0;
    } else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--version")) {
      printf("troupe %s (%s)\n", TR_VERSION, LUA_RELEASE);
      return 0;
    } else if (!strcmp(argv[i], "-i")) {
      interactive = 1;
    } else if (!strcmp(argv[i], "-e")) {
      if (++i >= argc) {
        fprintf(stderr, "troupe: -e needs code\n%s", usage);
        return 2;
      }
      code = argv[i];
      args_from = i + 1;
      break;
    } else if (!strcmp(argv[i], "--")) {
      if (i + 1 < argc)
        script = i + 1;
      break;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "troupe: unknown option '%s'\n%s", argv[i], usage);
      return 2;
    } else {
      script = i;
      break;
    }
  }
  if (!store_values[RESP_OPTS + 1] && getenv("TROUPE_RESP_PASSWORD") &&
      *getenv("TROUPE_RESP_PASSWORD"))
    store_values[RESP_OPTS + 1] = getenv("TROUPE_RESP_PASSWORD");
  if (threads_opt) {
    threads = parse_threads(threads_opt);
  } else if (getenv("TROUPE_THREADS") && *getenv("TROUPE_THREADS")) {
    if (!(threads = parse_threads(getenv("TROUPE_THREADS")))) {
      fprintf(stderr, "troupe: TROUPE_THREADS: 1 to 255 expected, got '%s'\n",
              getenv("TROUPE_THREADS"));
      return 2;
    }
  } else {
    unsigned cores = uv_available_parallelism();
    threads = cores < 1 ? 1 : cores > 255 ? 255 : cores;
  }

  memset(&hc, 0, sizeof hc);
  for (k = 0; log_opt[0] && k < 4 && strcmp(log_opt[0], levels[k]); k++)
    ;
  if (k == 4) {
    fprintf(stderr,
            "troupe: --log-level: error, warn, info or debug expected, got "
            "'%s'\n%s",
            log_opt[0], usage);
    return 2;
  }
  hc.log_level = log_opt[0] ? TR_LOG_ERROR + (int)k : 0;
  if (log_opt[1] && strcmp(log_opt[1], "text") && strcmp(log_opt[1], "json")) {
    fprintf(stderr, "troupe: --log-format: text or json expected, got '%s'\n%s",
            log_opt[1], usage);
    return 2;
  }
  hc.log_format =
      log_opt[1] && !strcmp(log_opt[1], "json") ? TR_LOG_JSON : TR_LOG_TEXT;
  sink.path = log_opt[2];
  sink.fd = 2;
  uv_mutex_init(&sink.lock);
  if (sink.path && (rc = sink_open(&sink)) != 0) {
    fprintf(stderr, "troupe: --log-file: cannot open %s: %s\n", sink.path,
            strerror(rc));
    uv_mutex_destroy(&sink.lock);
    return 1;
  }
  hc.log_line = sink_line;
  hc.log_ud = &sink;

  if ((rc = cluster_join(cluster_values, &cluster)) != 0) {
    uv_mutex_destroy(&sink.lock);
    return rc;
  }

  memset(&so, 0, sizeof so);
  so.store_values = store_values;
  so.cluster = cluster;
  so.argv = argv;
  so.argc = argc;
  so.arg0 = code ? args_from - 1 : script; /* arg[0]: the code, the script */
  if (script && strcmp(argv[script], "-")) {
    const char *slash = strrchr(argv[script], '/');
    if (!slash)
      strcpy(script_dir, ".");
    else
      snprintf(script_dir, sizeof script_dir, "%.*s",
               (int)(slash - argv[script]), argv[script]);
    if (slash == argv[script])
      strcpy(script_dir, "/");
    so.script_dir = script_dir;
  }

  /* One thread is one host, as troupe has always made it: no node. */
  node = threads > 1 ? tr_node_new(threads) : NULL;
  if (node && cluster) /* before any host joins: every pid carries it */
    tr_node_set_id(node, tr_cluster_node_id(cluster));
  if ((threads > 1 && !node) ||
      !(h = node ? tr_node_join(node, &hc) : tr_host_new(&hc))) {
    fprintf(stderr, "troupe: out of memory\n");
    tr_node_free(node);
    cluster_end(cluster);
    return 1;
  }
  if (!node && cluster)
    tr_host_set_node_id(h, tr_cluster_node_id(cluster));
  if (!(L = open_state(h, &r, &so, &rc))) {
    ledit_free(r);
    tr_host_free(h);
    tr_node_free(node);
    cluster_end(cluster);
    return rc;
  }
  if (cluster && (rc = tr_cluster_attach(cluster, h)) != TR_OK) {
    fprintf(stderr, "troupe: --cluster: host 0 cannot join: %s\n",
            tr_strerror(rc));
    lua_close(L);
    tr_host_free(h);
    tr_node_free(node);
    cluster_end(cluster);
    return 1;
  }
  if (threads > 1) {
    other.opts = &so;
    other.ready = 0;
    uv_mutex_init(&other.lock);
    uv_cond_init(&other.cond);
    if ((rc = tr_node_start(node, threads - 1, &hc, &hooks)) != TR_OK) {
      fprintf(stderr, "troupe: cannot start %u threads: %s\n",
              (unsigned)threads - 1, tr_strerror(rc));
      tr_cluster_detach(cluster, h);
      lua_close(L);
      tr_host_free(h);
      tr_node_free(node);
      cluster_end(cluster);
      return 1;
    }
    /* Every thread signals once its state is set up (or failed to be).
     * One whose host could not join (out of memory) never does: the wait
     * is bounded for it alone, 30 s without news. */
    uv_mutex_lock(&other.lock);
    while (other.ready < threads - 1 &&
           uv_cond_timedwait(&other.cond, &other.lock, 30000000000ull) == 0)
      ;
    uv_mutex_unlock(&other.lock);
  }

  memset(&sigs, 0, sizeof sigs);
  sigs.h = h;
  sigs.node = node;
  sigs.log = &sink;
  signals_start(&sigs, interactive || (!code && !script));

  if (console && trL_console_start(L, console) != LUA_OK) {
    fprintf(stderr, "troupe: --console: %s\n", lua_tostring(L, -1));
    rc = 1; /* as for a script that does not load */
    goto stop;
  }
  if (code) {
    rc = luaL_loadbuffer(L, code, strlen(code), "=(command line)");
    for (i = args_from; rc == LUA_OK && i < argc; i++, nargs++)
      lua_pushstring(L, argv[i]);
  } else if (script) {
    rc = luaL_loadfile(L, strcmp(argv[script], "-") ? argv[script] : NULL);
    for (i = script + 1; rc == LUA_OK && i < argc; i++, nargs++)
      lua_pushstring(L, argv[i]);
  }
  if (!code && !script) {
    lua_getglobal(L, "require");
    lua_pushliteral(L, "actor.repl");
    rc = lua_pcall(L, 1, 1, 0);
  } else if (interactive && rc == LUA_OK) {
    /* The REPL is the root and runs the chunk with its arguments first;
     * a closure holds the chunk, as actor.run copies its arguments. */
    static const char wrap[] =
        "local repl, chunk = ...\n"
        "return function(...) return repl(chunk, ...) end";
    lua_pushvalue(L, -nargs - 1);
    lua_remove(L, -nargs - 2);
    if ((rc = luaL_loadstring(L, wrap)) == LUA_OK) {
      lua_getglobal(L, "require");
      lua_pushliteral(L, "actor.repl");
      rc = lua_pcall(L, 1, 1, 0);
    }
    if (rc == LUA_OK) {
      lua_rotate(L, -3, -1); /* wrap, repl, chunk */
      rc = lua_pcall(L, 2, 1, 0);
    }
    if (rc == LUA_OK)
      lua_insert(L, -nargs - 1);
  }
  if (rc != LUA_OK) {
    fprintf(stderr, "troupe: %s\n", lua_tostring(L, -1));
    rc = 1;
  } else {
    rc = run_root(L, nargs);
  }
  /* The root has ended and host 0 has stopped its actors: now the rest of
   * the node, each host ending its own actors on its own thread. */
stop:
  tr_node_stop(node);
  tr_node_wait(node);
  signals_close(&sigs);
  if (sigs.signum) /* stopped as asked: the root's end is no failure */
    rc = sigs.signum == SIGINT ? 130 : 0;
  if (ledit_stuck(r)) {
    /* The reader may be blocked in a read and cannot be joined. */
    fflush(stdout);
    _exit(rc);
  }
  ledit_free(r);
  if (threads > 1) {
    uv_cond_destroy(&other.cond);
    uv_mutex_destroy(&other.lock);
  }
  tr_cluster_detach(cluster, h);
  lua_close(L);
  tr_host_free(h);
  tr_node_free(node);
  cluster_end(cluster); /* farewell said, names and the node id released */
  if (sink.fd != 2)
    close(sink.fd);
  uv_mutex_destroy(&sink.lock);
  return rc;
}
