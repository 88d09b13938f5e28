/*
 * supervisor.c -- a native actor that starts children and restarts them.
 *
 * It is written against the public headers alone, as a user's actor would
 * be. It traps exits and links to each child, so a crash reaches it at once
 * as an exit message; a tick at the shortest heartbeat interval reads each
 * child's tr_actor_quiet_ms and restarts one that has had work without taking
 * any for longer than its cutoff -- a busy child that keeps taking mail is
 * never restarted. Restarts follow the strategy (one_for_one, one_for_all,
 * rest_for_one); more than `intensity` of them within `period_ms` (on the
 * loop's monotonic clock) and it gives up: it stops its children, newest
 * first, and ends abnormally, so whoever is linked to it hears of it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "troupe_services.h"

typedef struct child {
  tr_child_spec spec; /* name copied */
  tr_pid pid;         /* 0 while not running */
  uint32_t starts;    /* for which_children and tr_actor_get_info */
} child;

typedef struct sup {
  tr_actor *self;
  tr_host *h;
  int strategy;
  uint32_t intensity, period_ms, tick_ms;
  uint64_t tick; /* the tr_timeout of the next tick: not a user message, so
                    a full mailbox cannot drop it, nor a sender fake it */
  tr_pid listener, heir;
  tr_pid parent; /* opts.link of tr_sup_start: its abnormal end is ours */
  child *c;
  size_t n;
  uint64_t *restarts; /* ring of the last `intensity` restart times */
  size_t ring_len, ring_at;
  int gave_up;
} sup;

static uint64_t now_ms(sup *s) { return uv_now(tr_host_loop(s->h)); }

static void tell(sup *s, const char *what, child *c, tr_pid pid,
                 const char *reason) {
  tr_msg *m;
  if (!s->listener)
    return;
  m = reason ? tr_msg_pack(what, "sps", c->spec.name, pid, reason)
             : tr_msg_pack(what, "sp", c->spec.name, pid);
  /* A notice: a listener whose mailbox is full (a router holding mail for
   * this very child) must still hear that it is back. */
  tr_notify(s->h, tr_self(s->self), s->listener, m);
}

static int start_child(sup *s, child *c) {
  tr_pid pid = 0;
  int rc = c->spec.start(s->h, c->spec.arg, &pid);
  if (rc || !pid) {
    tr_host_log(s->h, TR_LOG_ERROR, "supervisor: child %s failed to start: %s",
                c->spec.name, rc ? tr_strerror(rc) : "no pid");
    return rc ? rc : TR_EINIT;
  }
  c->pid = pid;
  tr_actor_set_supervisor(s->h, pid, tr_self(s->self), c->starts++);
  if (s->heir) /* from the start: mail queued before anyone hears of it */
    tr_mailbox_set_heir(s->h, pid, s->heir);
  tr_link(s->h, tr_self(s->self), pid); /* a dead pid comes back as exit */
  if (tr_register(s->h, c->spec.name, pid) != TR_OK)
    tr_host_log(s->h, TR_LOG_WARN, "supervisor: cannot register %s",
                c->spec.name);
  tell(s, "started", c, pid, NULL);
  return TR_OK;
}

/* Ends a running child without hearing of it as a crash. */
static void stop_child(sup *s, child *c, const char *reason) {
  tr_pid pid = c->pid;
  if (!pid)
    return;
  c->pid = 0;
  tr_unlink(s->h, tr_self(s->self), pid);
  tr_kill(s->h, pid, reason);
  tell(s, "stopped", c, pid, reason);
}

static void stop_from(sup *s, size_t first, const char *reason) {
  size_t i = s->n;
  while (i-- > first)
    stop_child(s, &s->c[i], reason);
}

/* May one more restart happen now? Records it if so. */
static int allow_restart(sup *s) {
  uint64_t now = now_ms(s);
  if (s->ring_len == s->intensity) {
    uint64_t oldest = s->restarts[s->ring_at];
    if (now - oldest <= s->period_ms)
      return 0;
  } else {
    s->ring_len++;
  }
  s->restarts[s->ring_at] = now;
  s->ring_at = (s->ring_at + 1) % s->intensity;
  return 1;
}

static void give_up(sup *s) {
  tr_host_log(s->h, TR_LOG_ERROR,
              "supervisor: more than %u restarts in %u ms; giving up",
              (unsigned)s->intensity, (unsigned)s->period_ms);
  stop_from(s, 0, "shutdown");
  s->gave_up = 1;
  tr_exit(s->self, "restart intensity exceeded");
}

/* Restarts child i and whoever the strategy takes along; `counted` says
 * whether this restart counts towards the intensity (crashes do, resets
 * asked for by a call do not). A child that fails to start is a crash too:
 * the restart is tried again, counted, until it works or intensity ends
 * it. */
static void restart(sup *s, size_t i, int counted) {
  size_t first = s->strategy == TR_ONE_FOR_ALL ? 0 : i;
  size_t last = s->strategy == TR_ONE_FOR_ONE ? i + 1 : s->n;
  if (s->strategy != TR_ONE_FOR_ONE)
    stop_from(s, first, "restart");
  for (;;) {
    size_t j;
    int failed = 0;
    if (counted && !allow_restart(s)) {
      give_up(s);
      return;
    }
    for (j = first; j < last && !failed; j++) {
      child *c = &s->c[j];
      /* A temporary sibling stopped along with the group stays down. */
      if (c->pid || (j != i && c->spec.restart == TR_TEMPORARY))
        continue;
      failed = start_child(s, c) != TR_OK;
    }
    if (!failed)
      return;
    counted = 1;
  }
}

static int wants_restart(const child *c, const char *reason) {
  if (c->spec.restart == TR_TEMPORARY)
    return 0;
  if (c->spec.restart == TR_TRANSIENT)
    return strcmp(reason, "normal") != 0 && strcmp(reason, "shutdown") != 0;
  return 1;
}

static child *find_pid(sup *s, tr_pid pid) {
  size_t i;
  for (i = 0; i < s->n; i++)
    if (s->c[i].pid && s->c[i].pid == pid)
      return &s->c[i];
  return NULL;
}

static child *find_name(sup *s, const char *name, size_t len) {
  size_t i;
  for (i = 0; i < s->n; i++)
    if (strlen(s->c[i].spec.name) == len &&
        !memcmp(s->c[i].spec.name, name, len))
      return &s->c[i];
  return NULL;
}

static void on_exit_msg(sup *s, tr_msg *m) {
  tr_pid pid = 0;
  const char *r;
  size_t len;
  char reason[256];
  child *c;
  if (tr_msg_unpack(m, "ps", &pid, &r, &len))
    return;
  snprintf(reason, sizeof reason, "%.*s", (int)len, r);
  if (!(c = find_pid(s, pid))) {
    /* The parent's abnormal end is ours too. Anyone else is a child that
     * was replaced before its exit came in (two children of a group
     * ending in the same turn): nothing to do. */
    if (pid == s->parent && strcmp(reason, "normal") != 0)
      tr_exit(s->self, reason);
    return;
  }
  c->pid = 0;
  tell(s, "stopped", c, pid, reason);
  if (wants_restart(c, reason)) {
    restart(s, (size_t)(c - s->c), 1);
    if (c->pid) { /* which pid went, which came, and why: for the log */
      char was[48], now[48];
      tr_pid_format(pid, was, sizeof was);
      tr_pid_format(c->pid, now, sizeof now);
      tr_host_log(s->h, TR_LOG_WARN,
                  "supervisor: restarted %s: %s -> %s, reason: %s",
                  c->spec.name, was, now, reason);
    }
  }
}

static void on_tick(sup *s) {
  size_t i;
  for (i = 0; i < s->n; i++) {
    child *c = &s->c[i];
    int64_t quiet;
    if (!c->pid || c->spec.cutoff_ms == UINT32_MAX)
      continue;
    quiet = tr_actor_quiet_ms(s->h, c->pid);
    if (quiet > (int64_t)c->spec.cutoff_ms) {
      tr_host_log(s->h, TR_LOG_WARN,
                  "supervisor: %s quiet for %lld ms (cutoff %u): restarting",
                  c->spec.name, (long long)quiet, (unsigned)c->spec.cutoff_ms);
      stop_child(s, c, "heartbeat timeout");
      if (wants_restart(c, "heartbeat timeout"))
        restart(s, i, 1);
      if (s->gave_up)
        return;
    }
  }
  tr_timeout(s->h, tr_self(s->self), s->tick_ms, &s->tick);
}

/* A child that is itself a supervisor: OTP's "supervisor" type, else
 * "worker". */
static int is_sup(sup *s, const child *c, const char **kind) {
  tr_actor_info info;
  *kind = NULL;
  if (!c->pid || tr_actor_get_info(s->h, c->pid, &info) != TR_OK)
    return 0;
  *kind = info.kind;
  return !strcmp(info.kind, "supervisor");
}

/* which_children() -> {{name=, pid=, restart=, type=, kind=, restarts=},
 * ...}, as OTP's, in start order; pid and kind nil while not running. */
static tr_msg *which_children(sup *s) {
  static const char *const restarts[] = {"permanent", "transient", "temporary"};
  tr_msg *r = tr_msg_new("reply");
  size_t i;
  tr_msg_add_array(r, (uint32_t)s->n);
  for (i = 0; i < s->n; i++) {
    const child *c = &s->c[i];
    const char *kind;
    int sup_type = is_sup(s, c, &kind);
    tr_msg_add_map(r, 6);
    tr_msg_add_cstr(r, "name");
    tr_msg_add_cstr(r, c->spec.name);
    tr_msg_add_cstr(r, "pid");
    if (c->pid)
      tr_msg_add_pid(r, c->pid);
    else
      tr_msg_add_nil(r);
    tr_msg_add_cstr(r, "restart");
    tr_msg_add_cstr(r, restarts[c->spec.restart - TR_PERMANENT]);
    tr_msg_add_cstr(r, "type");
    tr_msg_add_cstr(r, sup_type ? "supervisor" : "worker");
    tr_msg_add_cstr(r, "kind");
    if (kind)
      tr_msg_add_cstr(r, kind);
    else
      tr_msg_add_nil(r);
    tr_msg_add_cstr(r, "restarts");
    tr_msg_add_int(r, c->starts ? c->starts - 1 : 0);
  }
  return r;
}

/* count_children() -> {specs=, active=, supervisors=, workers=}, as OTP's:
 * supervisors and workers count the specs of each type, running or not
 * (a child not running counts as a worker: its type is not known). */
static tr_msg *count_children(sup *s) {
  uint32_t active = 0, sups = 0;
  size_t i;
  for (i = 0; i < s->n; i++) {
    const char *kind;
    active += s->c[i].pid != 0;
    sups += is_sup(s, &s->c[i], &kind);
  }
  tr_msg *r = tr_msg_new("reply");
  tr_msg_add_map(r, 4);
  tr_msg_add_cstr(r, "specs");
  tr_msg_add_int(r, (int64_t)s->n);
  tr_msg_add_cstr(r, "active");
  tr_msg_add_int(r, active);
  tr_msg_add_cstr(r, "supervisors");
  tr_msg_add_int(r, sups);
  tr_msg_add_cstr(r, "workers");
  tr_msg_add_int(r, (int64_t)s->n - sups);
  return r;
}

static void on_call(sup *s, tr_msg *m) {
  const char *name;
  size_t len, i;
  child *c;
  tr_msg *r;
  if (tr_msg_is(m, "restart") && tr_msg_unpack(m, "s", &name, &len) == TR_OK) {
    if (!(c = find_name(s, name, len))) {
      tr_reply_error(s->h, m, "no such child");
      return;
    }
    stop_child(s, c, "reset");
    restart(s, (size_t)(c - s->c), 0);
    if (s->gave_up)
      tr_reply_error(s->h, m, "restart intensity exceeded");
    else
      tr_reply(s->h, m, tr_msg_pack("reply", "s", "ok"));
  } else if (tr_msg_is(m, "which_children")) {
    tr_reply(s->h, m, which_children(s));
  } else if (tr_msg_is(m, "count_children")) {
    tr_reply(s->h, m, count_children(s));
  } else if (tr_msg_is(m, "children")) {
    r = tr_msg_new("reply");
    for (i = 0; i < s->n; i++) {
      tr_msg_add_cstr(r, s->c[i].spec.name);
      tr_msg_add_pid(r, s->c[i].pid);
    }
    tr_reply(s->h, m, r);
  } else {
    tr_reply_error(s->h, m, "unknown request");
  }
}

static int sup_handle(tr_actor *self, void *state, tr_msg *m) {
  sup *s = state;
  (void)self;
  if (!m || s->gave_up)
    return TR_CONTINUE;
  switch (tr_msg_kind(m)) {
  case TR_KIND_EXIT:
    on_exit_msg(s, m);
    break;
  case TR_KIND_CALL:
    on_call(s, m);
    break;
  case TR_KIND_TIMEOUT:
    if (s->tick && tr_msg_session(m) == s->tick)
      on_tick(s);
    break;
  default:
    break;
  }
  return TR_CONTINUE;
}

static void free_children(sup *s) {
  size_t i;
  for (i = 0; i < s->n; i++) {
    if (s->c[i].spec.free_arg)
      s->c[i].spec.free_arg(s->c[i].spec.arg);
    free((char *)s->c[i].spec.name);
  }
  free(s->c);
  free(s->restarts);
  s->c = NULL;
  s->n = 0;
}

/* A failed init has taken the args over all the same (TR_EINIT tells the
 * caller so): each is freed once, whether copied yet or not. */
static int init_failed(sup *s, const tr_sup_spec *spec) {
  size_t i;
  for (i = 0; i < s->n; i++)
    free((char *)s->c[i].spec.name);
  free(s->c);
  free(s->restarts);
  s->c = NULL;
  s->restarts = NULL;
  s->n = 0;
  for (i = 0; i < spec->nchildren; i++)
    if (spec->children[i].free_arg)
      spec->children[i].free_arg(spec->children[i].arg);
  return -1;
}

/* What tr_sup_start hands init (its ctx, valid during init only): the
 * spec, and the parent, since exits from anyone else are not ours. */
typedef struct sup_ctx {
  const tr_sup_spec *spec;
  tr_pid parent;
} sup_ctx;

static int sup_init(tr_actor *self, void *state, tr_msg *args) {
  sup *s = state;
  const sup_ctx *ctx = tr_actor_ctx(self);
  const tr_sup_spec *spec = ctx->spec;
  size_t i;
  (void)args;
  s->parent = ctx->parent;
  s->self = self;
  s->h = tr_actor_host(self);
  s->strategy = spec->strategy;
  s->intensity = spec->intensity ? spec->intensity : 3;
  s->period_ms = spec->period_ms ? spec->period_ms : 5000;
  s->listener = spec->listener;
  s->heir = spec->heir;
  s->tick_ms = UINT32_MAX;
  s->c = calloc(spec->nchildren ? spec->nchildren : 1, sizeof *s->c);
  s->restarts = calloc(s->intensity, sizeof *s->restarts);
  if (!s->c || !s->restarts)
    return init_failed(s, spec);
  for (i = 0; i < spec->nchildren; i++) {
    child *c = &s->c[i];
    c->spec = spec->children[i];
    if (!c->spec.heartbeat_ms)
      c->spec.heartbeat_ms = 200;
    if (!c->spec.cutoff_ms)
      c->spec.cutoff_ms = 500;
    if (c->spec.heartbeat_ms < s->tick_ms)
      s->tick_ms = c->spec.heartbeat_ms;
    if (!(c->spec.name = strdup(spec->children[i].name)))
      return init_failed(s, spec);
    s->n = i + 1;
  }
  tr_trap_exit(self, 1);
  for (i = 0; i < s->n; i++) {
    if (start_child(s, &s->c[i])) {
      stop_from(s, 0, "shutdown");
      free_children(s);
      return -1;
    }
  }
  if (s->n)
    tr_timeout(s->h, tr_self(self), s->tick_ms, &s->tick);
  return 0;
}

static void sup_terminate(tr_actor *self, void *state, const char *reason) {
  sup *s = state;
  (void)self;
  (void)reason;
  stop_from(s, 0, "shutdown");
  free_children(s);
}

static const tr_behaviour sup_behaviour = {"supervisor", sizeof(sup), sup_init,
                                           sup_handle, sup_terminate};

int tr_sup_start(tr_host *h, const tr_sup_spec *spec, const tr_spawn_opts *opts,
                 tr_pid *out) {
  tr_spawn_opts o = {0};
  sup_ctx ctx;
  size_t i, j;
  if (out)
    *out = 0;
  if (!spec || (spec->nchildren && !spec->children) ||
      spec->strategy < TR_ONE_FOR_ONE || spec->strategy > TR_REST_FOR_ONE)
    return TR_EINVAL;
  for (i = 0; i < spec->nchildren; i++) {
    const tr_child_spec *c = &spec->children[i];
    if (!c->name || !*c->name || !c->start || c->restart < TR_PERMANENT ||
        c->restart > TR_TEMPORARY)
      return TR_EINVAL;
    for (j = 0; j < i; j++) /* each child is registered under its name */
      if (!strcmp(spec->children[j].name, c->name))
        return TR_EINVAL;
  }
  if (opts)
    o = *opts;
  ctx.spec = spec;
  ctx.parent = o.link;
  o.ctx = &ctx; /* the supervisor's own: opts->ctx is not used */
  return tr_spawn(h, &sup_behaviour, NULL, &o, out);
}
