/*
 * router.c -- the one well-known entry point: a native actor registered as
 * "router" that starts the services behind it and forwards to them.
 *
 * A message's name is its destination. The router keeps, per destination,
 * the pid of the running child and a queue of held messages. It forwards
 * with tr_forward (no copy; sender, session and kind kept) while the child
 * is up and has room; otherwise it holds the message (tr_keep) and sends
 * the queue on, in order, once its supervisor reports the child started
 * again or the mailbox has room. The router is each child's heir, so what
 * a child had queued when it died comes back to the router ahead of its
 * own mail and goes to the new instance: a restart loses no request.
 *
 * What it holds counts against its own mailbox (tr_mailbox_hold), whose
 * capacity is the host's default: a flood through the router finds it full
 * as it would find the child, and waits or is refused, instead of piling
 * up here. The supervisors' news comes as notices (tr_notify), which a
 * full mailbox still takes: a restarted child's held mail always leaves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe_services.h"

enum { SVC_IDLE, SVC_UP, SVC_FAILED };

typedef struct service {
  const tr_service *def;
  tr_sup_spec spec;    /* def's, with the router as listener and kids */
  tr_child_spec *kids; /* def's children without free_arg: a service that
                          gave up may be started again, so the args are
                          the router's to free, once, when it ends */
  tr_pid sup;
  int state;
} service;

typedef struct dest {
  const char *name; /* the child spec's */
  service *svc;
  tr_pid pid;    /* 0 while not running */
  uint64_t room; /* a tr_notify_room wait in flight, 0 when none */
  tr_msg **q;    /* held messages: a ring */
  size_t head, len, cap;
  size_t inherited; /* how many at the front came back from a dead child */
} dest;

typedef struct relay { /* a reset call the router makes for a caller */
  uint64_t session;
  tr_pid caller;
  uint64_t caller_session;
} relay;

typedef struct router {
  tr_actor *self;
  tr_host *h;
  service *svc;
  size_t nsvc;
  dest *d;
  size_t nd;
  relay *relays;
  size_t nrelays, relay_cap;
} router;

/* Keeps m at the back of d's queue, counted in the router's mailbox. */
static int hold(router *r, dest *d, tr_msg *m) {
  if (d->len == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 64, i;
    tr_msg **q = malloc(cap * sizeof *q);
    if (!q)
      return TR_ENOMEM;
    for (i = 0; i < d->len; i++)
      q[i] = d->q[(d->head + i) % d->cap];
    free(d->q);
    d->q = q;
    d->cap = cap;
    d->head = 0;
  }
  d->q[(d->head + d->len++) % d->cap] = m;
  tr_mailbox_hold(r->self, 1);
  return TR_OK;
}

static tr_msg *unhold(router *r, dest *d) {
  tr_msg *m = d->q[d->head];
  if (d->inherited)
    d->inherited--;
  d->head = (d->head + 1) % d->cap;
  d->len--;
  tr_mailbox_hold(r->self, -1);
  return m;
}

/* Answers a call with an error the caller's call raises; drops a send. */
static void refuse(router *r, tr_msg *m, const char *why) {
  if (tr_reply_error(r->h, m, "%s", why) == TR_EINVAL)
    tr_host_log(r->h, TR_LOG_WARN, "router: dropped a message: %s", why);
}

static dest *find(router *r, const char *name, size_t len) {
  size_t i;
  for (i = 0; i < r->nd; i++)
    if (strlen(r->d[i].name) == len && !memcmp(r->d[i].name, name, len))
      return &r->d[i];
  return NULL;
}

/* Can d take a message now? Sets up a wait for room if it is full. */
static int ready(router *r, dest *d) {
  int room;
  if (!d->pid)
    return 0;
  room = tr_mailbox_room(r->h, d->pid);
  if (room == TR_ENOPROC) {
    d->pid = 0; /* dead; its supervisor will say so, and start another */
    return 0;
  }
  if (room == 0) {
    if (!d->room)
      tr_notify_room(r->h, tr_self(r->self), d->pid, 0, &d->room);
    return 0;
  }
  return 1;
}

static void flush(router *r, dest *d) {
  while (d->len && ready(r, d))
    tr_forward(r->h, d->pid, unhold(r, d));
}

static void fail_held(router *r, dest *d, const char *why) {
  while (d->len) {
    tr_msg *m = unhold(r, d);
    if (tr_msg_kind(m) == TR_KIND_CALL)
      tr_reply_error_to(r->h, tr_msg_from(m), tr_msg_session(m), "%s", why);
    tr_msg_free(m);
  }
}

static int start_service(router *r, service *s) {
  tr_spawn_opts o = {0};
  int rc;
  o.link = tr_self(r->self);
  s->state = SVC_UP;
  rc = tr_sup_start(r->h, &s->spec, &o, &s->sup);
  if (rc) {
    s->state = SVC_FAILED;
    tr_host_log(r->h, TR_LOG_ERROR, "router: service %s did not start: %s",
                s->def->name, tr_strerror(rc));
  }
  return rc;
}

static void route(router *r, tr_msg *m) {
  size_t len;
  const char *name = tr_msg_name(m, &len);
  dest *d = find(r, name, len);
  if (!d) {
    refuse(r, m, "no such destination");
    return;
  }
  if (d->svc->state == SVC_IDLE)
    start_service(r, d->svc);
  if (d->svc->state == SVC_FAILED) {
    refuse(r, m, "the service is down (it could not be kept running)");
    return;
  }
  if (!d->len && ready(r, d)) {
    tr_forward(r->h, d->pid, m);
    return;
  }
  m = tr_keep(r->self, m);
  if (hold(r, d, m)) {
    refuse(r, m, "out of memory");
    tr_msg_free(m);
  } else if (tr_msg_inherited(m)) {
    /* Older than all held mail but what came back before it: move it from
     * the back to just after those. O(held), and only in a restart. */
    size_t i = d->len - 1;
    for (; i > d->inherited; i--)
      d->q[(d->head + i) % d->cap] = d->q[(d->head + i - 1) % d->cap];
    d->q[(d->head + d->inherited++) % d->cap] = m;
  }
}

static service *svc_of(router *r, tr_pid sup) {
  size_t i;
  for (i = 0; i < r->nsvc; i++)
    if (r->svc[i].sup && r->svc[i].sup == sup)
      return &r->svc[i];
  return NULL;
}

/* started(name, pid) and stopped(name, pid, reason) from a supervisor. */
static void child_news(router *r, tr_msg *m, int started) {
  const char *name;
  size_t len;
  tr_pid pid;
  dest *d;
  if (tr_msg_unpack(m, "sp", &name, &len, &pid) || !(d = find(r, name, len)))
    return;
  if (started) {
    d->pid = pid;
    d->room = 0;
    tr_mailbox_set_heir(r->h, pid, tr_self(r->self));
    flush(r, d);
  } else if (d->pid == pid) {
    d->pid = 0;
  }
}

static void service_ended(router *r, service *s, tr_msg *m) {
  const char *why = "stopped";
  size_t len = 7, i;
  char text[200];
  tr_msg_unpack(m, ".s", &why, &len);
  s->state = SVC_FAILED;
  s->sup = 0;
  snprintf(text, sizeof text, "the service %s is down: %.*s", s->def->name,
           (int)len, why);
  tr_host_log(r->h, TR_LOG_ERROR, "router: %s", text);
  for (i = 0; i < r->nd; i++)
    if (r->d[i].svc == s) {
      r->d[i].pid = 0;
      fail_held(r, &r->d[i], text);
    }
}

/* router reset(name): the child's supervisor restarts it (a failed service
 * starts afresh); the supervisor's answer goes back to the caller. */
static void control(router *r, tr_msg *m) {
  const char *op, *name;
  size_t oplen, len;
  dest *d;
  relay *rl;
  uint64_t session;
  if (tr_msg_kind(m) != TR_KIND_CALL ||
      tr_msg_unpack(m, "ss", &op, &oplen, &name, &len) || oplen != 5 ||
      memcmp(op, "reset", 5)) {
    refuse(r, m, "unknown router request");
    return;
  }
  if (!(d = find(r, name, len))) {
    refuse(r, m, "no such destination");
    return;
  }
  if (d->svc->state != SVC_UP) {
    if (start_service(r, d->svc) == TR_OK)
      tr_reply(r->h, m, tr_msg_pack("reply", "s", "ok"));
    else
      refuse(r, m, "the service did not start");
    return;
  }
  if (r->nrelays == r->relay_cap) {
    size_t cap = r->relay_cap ? r->relay_cap * 2 : 8;
    relay *v = realloc(r->relays, cap * sizeof *v);
    if (!v) {
      refuse(r, m, "out of memory");
      return;
    }
    r->relays = v;
    r->relay_cap = cap;
  }
  if (tr_call(r->h, tr_self(r->self), d->svc->sup,
              tr_msg_pack("restart", "S", name, len), 10000, &session)) {
    refuse(r, m, "the supervisor is gone");
    return;
  }
  rl = &r->relays[r->nrelays++];
  rl->session = session;
  rl->caller = tr_msg_from(m);
  rl->caller_session = tr_msg_session(m);
}

static void answer(router *r, tr_msg *m) {
  const char *text;
  size_t i, len;
  for (i = 0; i < r->nrelays; i++) {
    relay rl = r->relays[i];
    if (rl.session != tr_msg_session(m))
      continue;
    r->relays[i] = r->relays[--r->nrelays];
    if (tr_msg_kind(m) == TR_KIND_REPLY)
      tr_reply_to(r->h, rl.caller, rl.caller_session, tr_keep(r->self, m));
    else if (tr_msg_is(m, "error") &&
             tr_msg_unpack(m, "s", &text, &len) == TR_OK)
      tr_reply_error_to(r->h, rl.caller, rl.caller_session, "%.*s", (int)len,
                        text);
    else
      tr_reply_error_to(r->h, rl.caller, rl.caller_session,
                        "the restart did not finish");
    return;
  }
}

static int router_handle(tr_actor *self, void *state, tr_msg *m) {
  router *r = state;
  service *s;
  size_t i;
  (void)self;
  if (!m)
    return TR_CONTINUE;
  switch (tr_msg_kind(m)) {
  case TR_KIND_NOTICE:
    if ((s = svc_of(r, tr_msg_from(m))) &&
        (tr_msg_is(m, "started") || tr_msg_is(m, "stopped")))
      child_news(r, m, tr_msg_is(m, "started"));
    break;
  case TR_KIND_SEND:
  case TR_KIND_CALL:
    if (tr_msg_is(m, "router"))
      control(r, m);
    else
      route(r, m);
    break;
  case TR_KIND_EXIT:
    if ((s = svc_of(r, tr_msg_from(m))))
      service_ended(r, s, m);
    break;
  case TR_KIND_ROOM:
    for (i = 0; i < r->nd; i++)
      if (r->d[i].room == tr_msg_session(m)) {
        r->d[i].room = 0;
        flush(r, &r->d[i]);
      }
    break;
  case TR_KIND_REPLY:
  case TR_KIND_ERROR:
    answer(r, m);
    break;
  }
  return TR_CONTINUE;
}

/* The services' args are the router's (see kids): freed once, at its end
 * or when its init fails. */
static void free_args(const tr_service *defs, size_t n) {
  size_t i, j;
  for (i = 0; i < n; i++)
    for (j = 0; j < defs[i].spec->nchildren; j++)
      if (defs[i].spec->children[j].free_arg)
        defs[i].spec->children[j].free_arg(defs[i].spec->children[j].arg);
}

/* Frees what the router holds, and the services' args. */
static void router_free(router *r) {
  size_t i;
  for (i = 0; i < r->nd; i++) {
    while (r->d[i].len)
      tr_msg_free(unhold(r, &r->d[i]));
    free(r->d[i].q);
  }
  for (i = 0; i < r->nsvc; i++)
    free(r->svc[i].kids);
  if (r->nsvc)
    free_args(r->svc[0].def, r->nsvc);
  free(r->d);
  free(r->svc);
  free(r->relays);
}

/* Ends the services that run, children included, before their args go. */
static void stop_services(router *r) {
  size_t i;
  for (i = 0; i < r->nsvc; i++)
    if (r->svc[i].sup) {
      tr_kill(r->h, r->svc[i].sup, "shutdown");
      r->svc[i].sup = 0;
    }
}

/* What tr_router_start hands init (its ctx, valid during init only). */
typedef struct router_ctx {
  const tr_service *defs;
  size_t n;
} router_ctx;

static int router_init(tr_actor *self, void *state, tr_msg *args) {
  router *r = state;
  const router_ctx *c = tr_actor_ctx(self);
  const tr_service *defs = c->defs;
  size_t i, j, nd = 0;
  (void)args;
  r->self = self;
  r->h = tr_actor_host(self);
  r->nsvc = c->n;
  for (i = 0; i < r->nsvc; i++)
    nd += defs[i].spec->nchildren;
  r->svc = calloc(r->nsvc ? r->nsvc : 1, sizeof *r->svc);
  r->d = calloc(nd ? nd : 1, sizeof *r->d);
  if (!r->svc || !r->d) {
    free(r->svc);
    free(r->d);
    free_args(defs, r->nsvc);
    return -1;
  }
  for (i = 0; i < r->nsvc; i++)
    r->svc[i].def = &defs[i];
  for (i = 0; i < r->nsvc; i++) {
    service *s = &r->svc[i];
    s->spec = *defs[i].spec;
    s->spec.listener = tr_self(self);
    s->spec.heir = tr_self(self);
    s->kids =
        calloc(s->spec.nchildren ? s->spec.nchildren : 1, sizeof *s->kids);
    if (!s->kids) {
      router_free(r);
      return -1;
    }
    for (j = 0; j < s->spec.nchildren; j++) {
      s->kids[j] = s->spec.children[j];
      s->kids[j].free_arg = NULL;
      r->d[r->nd].name = s->spec.children[j].name;
      r->d[r->nd++].svc = s;
    }
    s->spec.children = s->kids;
  }
  tr_trap_exit(self, 1);
  for (i = 0; i < r->nsvc; i++)
    if (!r->svc[i].def->lazy && start_service(r, &r->svc[i])) {
      stop_services(r);
      router_free(r);
      return -1;
    }
  return 0;
}

static void router_terminate(tr_actor *self, void *state, const char *why) {
  router *r = state;
  size_t i;
  (void)self;
  stop_services(r);
  for (i = 0; i < r->nd; i++)
    fail_held(r, &r->d[i], why);
  router_free(r);
}

static const tr_behaviour router_behaviour = {
    "router", sizeof(router), router_init, router_handle, router_terminate};

int tr_router_start(tr_host *h, const tr_service *services, size_t n,
                    tr_pid *out) {
  tr_spawn_opts o = {0};
  router_ctx c;
  size_t i, j, k, l;
  if (out)
    *out = 0;
  if (n && !services)
    return TR_EINVAL;
  for (i = 0; i < n; i++) {
    const tr_sup_spec *spec = services[i].spec;
    if (!spec || !services[i].name || (spec->nchildren && !spec->children))
      return TR_EINVAL;
    /* Children are destinations: each needs a name of its own. */
    for (j = 0; j < spec->nchildren; j++) {
      const char *name = spec->children[j].name;
      if (!name || !*name)
        return TR_EINVAL;
      for (k = 0; k <= i; k++)
        for (l = 0; l < (k == i ? j : services[k].spec->nchildren); l++)
          if (!strcmp(services[k].spec->children[l].name, name))
            return TR_EINVAL;
    }
  }
  o.name = "router"; /* capacity: the host's default, like any actor */
  c.defs = services;
  c.n = n;
  o.ctx = &c;
  return tr_spawn(h, &router_behaviour, NULL, &o, out);
}
