/*
 * names.c -- global names and each host's cluster actor.
 *
 * A global name is a key of the cluster's bucket (g.<name>, or h.<hex>
 * for a name with other bytes) whose value is its owner's pid, which names
 * the owner's node. Registering creates the key (atomically: one owner);
 * the name is released when the owner ends (its host's cluster actor
 * monitors it), when its node stops (it deletes its own), or when its
 * node is lost (the survivors delete the keys of the lost node). A name
 * whose owner's node is not live is not found.
 *
 * The KV calls block, so the cluster actor ("troupe.cluster.<index>")
 * hands them to the worker thread as jobs, and the worker sends the
 * answer back to it (tr_send, safe from any thread), which answers the
 * call it kept (tr_reply_to). It also answers, at once, node(), nodes(),
 * peer(node, host) -- another node's cluster actor -- and
 * whereis_local(name), for actors of other nodes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

#define NAME_MAX_BYTES 200

static uint32_t pid_node(tr_pid pid) { return (uint32_t)(pid >> 32) & 0xff; }

/* The bucket's key for a global name. */
static void name_key(const char *name, char *key, size_t size) {
  size_t i, n = strlen(name);
  int plain = n > 0;
  for (i = 0; i < n && plain; i++)
    plain = (name[i] >= 'a' && name[i] <= 'z') ||
            (name[i] >= 'A' && name[i] <= 'Z') ||
            (name[i] >= '0' && name[i] <= '9') || name[i] == '_' ||
            name[i] == '-';
  if (plain) {
    snprintf(key, size, "g.%s", name);
    return;
  }
  snprintf(key, size, "h.");
  for (i = 0; i < n && 2 + 2 * i + 2 < size; i++)
    snprintf(key + 2 + 2 * i, 3, "%02x", (unsigned char)name[i]);
}

static tr_pid entry_pid(kvEntry *e) {
  char text[32];
  int n = kvEntry_ValueLen(e);
  if (n <= 0 || n >= (int)sizeof text)
    return 0;
  memcpy(text, kvEntry_Value(e), (size_t)n);
  text[n] = '\0';
  return (tr_pid)strtoull(text, NULL, 10);
}

static int live(tr_cluster *c, tr_pid pid) {
  uint32_t n = pid_node(pid);
  return n == c->id || (n < TR__NODES && atomic_load(&c->alive[n]));
}

/* answer(caller, session, registered pid|0, ok, value|text) to the actor */
static void answer(tr__job *job, int ok, tr_pid registered, tr_pid value,
                   const char *text) {
  tr_msg *m = tr_msg_new("answer");
  if (!m)
    return;
  tr_msg_add_pid(m, job->caller);
  tr_msg_add_int(m, (int64_t)job->session);
  tr_msg_add_pid(m, registered);
  tr_msg_add_bool(m, ok);
  if (text)
    tr_msg_add_cstr(m, text);
  else if (value)
    tr_msg_add_pid(m, value);
  else
    tr_msg_add_nil(m);
  tr_msg_add_cstr(m, job->name);
  tr_send(job->h, 0, job->actor, m);
}

void tr__names_forget_node(tr_cluster *c, uint32_t node) {
  kvKeysList keys;
  kvEntry *e;
  int i;
  memset(&keys, 0, sizeof keys);
  if (kvStore_Keys(&keys, c->kv, NULL) != NATS_OK)
    return;
  for (i = 0; i < keys.Count; i++) {
    const char *k = keys.Keys[i];
    if ((k[0] != 'g' && k[0] != 'h') || k[1] != '.')
      continue;
    if (kvStore_Get(&e, c->kv, k) != NATS_OK)
      continue;
    if (pid_node(entry_pid(e)) == node)
      kvStore_Delete(c->kv, k);
    kvEntry_Destroy(e);
  }
  kvKeysList_Destroy(&keys);
}

void tr__names_run(tr_cluster *c, tr__job *job) {
  char key[2 * NAME_MAX_BYTES + 8], value[32], text[NAME_MAX_BYTES + 128];
  kvEntry *e = NULL;
  uint64_t rev;
  tr_pid owner;
  natsStatus s;
  if (job->op == TR__JOB_FORGET_NODE) {
    tr__names_forget_node(c, job->node);
    return;
  }
  name_key(job->name, key, sizeof key);
  switch (job->op) {
  case TR__JOB_REGISTER:
    snprintf(value, sizeof value, "%llu", (unsigned long long)job->pid);
    s = kvStore_CreateString(&rev, c->kv, key, value);
    if (s != NATS_OK && kvStore_Get(&e, c->kv, key) == NATS_OK) {
      owner = entry_pid(e);
      /* held for a node that is gone, and not yet cleaned: take it */
      if (!live(c, owner))
        s = kvStore_UpdateString(&rev, c->kv, key, value, kvEntry_Revision(e));
      kvEntry_Destroy(e);
      if (s != NATS_OK) {
        snprintf(text, sizeof text, "the global name '%s' is taken", job->name);
        answer(job, 0, 0, 0, text);
        return;
      }
    } else if (s != NATS_OK) {
      snprintf(text, sizeof text, "'%s': %s", job->name,
               nats_GetLastError(NULL));
      answer(job, 0, 0, 0, text);
      return;
    }
    answer(job, 1, job->pid, 0, NULL);
    return;
  case TR__JOB_WHEREIS:
    owner = 0;
    if ((s = kvStore_Get(&e, c->kv, key)) == NATS_OK) {
      owner = entry_pid(e);
      kvEntry_Destroy(e);
      if (!live(c, owner))
        owner = 0;
    } else if (s != NATS_NOT_FOUND) {
      snprintf(text, sizeof text, "'%s': %s", job->name,
               nats_GetLastError(NULL));
      answer(job, 0, 0, 0, text);
      return;
    }
    answer(job, 1, 0, owner, NULL);
    return;
  case TR__JOB_UNREGISTER:
    if (kvStore_Delete(c->kv, key) != NATS_OK) {
      snprintf(text, sizeof text, "'%s': %s", job->name,
               nats_GetLastError(NULL));
      answer(job, 0, 0, 0, text);
      return;
    }
    answer(job, 1, 0, 0, NULL);
    return;
  case TR__JOB_RELEASE: /* only if it is still the ended actor's */
    if (kvStore_Get(&e, c->kv, key) == NATS_OK) {
      if (entry_pid(e) == job->pid)
        kvStore_Delete(c->kv, key);
      kvEntry_Destroy(e);
    }
    return;
  }
}

/* ------------------------------------------------------ the actor */

typedef struct reg {
  uint64_t ref;
  tr_pid pid;
  char *name;
} reg;

typedef struct names_state {
  tr__link *link;
  reg *regs;
  size_t n, cap;
} names_state;

static int push_job(tr_actor *self, names_state *st, int op, const tr_msg *m,
                    const char *name, size_t len, tr_pid pid) {
  tr__job *job = calloc(1, sizeof *job + len + 1);
  if (!job)
    return TR_ENOMEM;
  job->op = op;
  job->h = tr_actor_host(self);
  job->actor = tr_self(self);
  job->caller = m ? tr_msg_from(m) : 0;
  job->session = m ? tr_msg_session(m) : 0;
  job->pid = pid;
  memcpy(job->name, name, len);
  tr__cluster_push(st->link->c, job);
  return TR_OK;
}

static void reply_nodes(tr_host *h, tr_cluster *c, const tr_msg *m) {
  tr_msg *out = tr_msg_new("reply");
  uint32_t n, count = 1, hosts;
  uv_mutex_lock(&c->lock);
  for (n = 1; n < TR__NODES; n++) /* named: its heartbeat came */
    count += c->peers[n] && c->peers[n]->alive && c->peers[n]->name[0];
  tr_msg_add_array(out, count);
  for (n = 0, hosts = 0; n < TR__NODES; n++)
    if (c->links[n])
      hosts = n + 1;
  tr_msg_add_map(out, 3);
  tr_msg_add_cstr(out, "name");
  tr_msg_add_cstr(out, c->node_name);
  tr_msg_add_cstr(out, "id");
  tr_msg_add_int(out, c->id);
  tr_msg_add_cstr(out, "hosts");
  tr_msg_add_int(out, hosts);
  for (n = 1; n < TR__NODES; n++)
    if (c->peers[n] && c->peers[n]->alive && c->peers[n]->name[0]) {
      tr_msg_add_map(out, 3);
      tr_msg_add_cstr(out, "name");
      tr_msg_add_cstr(out, c->peers[n]->name);
      tr_msg_add_cstr(out, "id");
      tr_msg_add_int(out, n);
      tr_msg_add_cstr(out, "hosts");
      tr_msg_add_int(out, c->peers[n]->hosts);
    }
  uv_mutex_unlock(&c->lock);
  tr_reply(h, m, out);
}

/* peer(node, host): node is a name or an id. */
static void reply_peer(tr_host *h, tr_cluster *c, const tr_msg *m) {
  const tr_value *v = tr_msg_arg(m, 0);
  const char *s;
  size_t len;
  int64_t id = 0, host = 0;
  uint32_t n;
  tr_pid pid = 0;
  char name[TR__NAME_MAX + 1] = "";
  if (tr_value_str(v, &s, &len) == TR_OK)
    snprintf(name, sizeof name, "%.*s", (int)len, s);
  else if (tr_value_int(v, &id) != TR_OK) {
    tr_reply_error(h, m, "peer: a node's name or id expected");
    return;
  }
  tr_value_int(tr_msg_arg(m, 1), &host);
  uv_mutex_lock(&c->lock);
  for (n = 1; n < TR__NODES; n++) {
    tr__peer *p = c->peers[n];
    if (!p || !p->alive || (name[0] ? strcmp(p->name, name) : n != id))
      continue;
    if (host < 0 || (uint64_t)host >= p->hosts) {
      uv_mutex_unlock(&c->lock);
      tr_reply_error(h, m, "node '%s' has hosts 0..%u, not %lld", p->name,
                     (unsigned)p->hosts - 1, (long long)host);
      return;
    }
    pid = p->actors[host];
    break;
  }
  uv_mutex_unlock(&c->lock);
  if (!pid) {
    if (name[0])
      tr_reply_error(h, m, "no live node named '%s'", name);
    else
      tr_reply_error(h, m, "no live node with id %lld", (long long)id);
    return;
  }
  tr_reply(h, m, tr_msg_pack("reply", "p", pid));
}

static int names_init(tr_actor *self, void *state, tr_msg *args) {
  names_state *st = state;
  (void)args;
  st->link = tr_actor_ctx(self);
  return 0;
}

static void on_answer(tr_actor *self, names_state *st, tr_msg *m) {
  tr_host *h = tr_actor_host(self);
  tr_pid caller = 0, registered = 0, value = 0;
  int64_t session = 0;
  int ok = 0;
  const char *text, *name;
  size_t len, nlen;
  tr_msg *out;
  if (tr_msg_unpack(m, "pIpb", &caller, &session, &registered, &ok))
    return;
  if (!ok) {
    tr_msg_unpack(m, "....s", &text, &len);
    tr_reply_error_to(h, caller, (uint64_t)session, "%.*s", (int)len, text);
    return;
  }
  if (registered) { /* released when it ends: watched from here */
    if (st->n == st->cap) {
      size_t cap = st->cap ? st->cap * 2 : 8;
      reg *r = realloc(st->regs, cap * sizeof *r);
      if (r) {
        st->regs = r;
        st->cap = cap;
      }
    }
    if (st->n < st->cap && tr_msg_unpack(m, ".....s", &name, &nlen) == TR_OK) {
      reg *r = &st->regs[st->n];
      if ((r->name = strndup(name, nlen)) != NULL &&
          tr_monitor(h, tr_self(self), registered, &r->ref) == TR_OK) {
        r->pid = registered;
        st->n++;
      } else {
        free(r->name);
      }
    }
  }
  out = tr_msg_new("reply");
  if (tr_value_pid(tr_msg_arg(m, 4), &value) == TR_OK)
    tr_msg_add_pid(out, value);
  else if (registered)
    tr_msg_add_bool(out, 1);
  else
    tr_msg_add_nil(out);
  tr_reply_to(h, caller, (uint64_t)session, out);
}

static int names_handle(tr_actor *self, void *state, tr_msg *m) {
  names_state *st = state;
  tr_host *h = tr_actor_host(self);
  tr_cluster *c = st->link->c;
  const char *name;
  size_t len, i;
  tr_pid pid = 0;
  int kind = m ? tr_msg_kind(m) : -1, op;
  if (kind == TR_KIND_SEND && tr_msg_is(m, "answer")) {
    on_answer(self, st, m);
    return TR_CONTINUE;
  }
  if (kind == TR_KIND_DOWN) {
    int64_t ref;
    if (tr_msg_unpack(m, "I", &ref))
      return TR_CONTINUE;
    for (i = 0; i < st->n; i++)
      if (st->regs[i].ref == (uint64_t)ref) {
        reg r = st->regs[i];
        st->regs[i] = st->regs[--st->n];
        push_job(self, st, TR__JOB_RELEASE, NULL, r.name, strlen(r.name),
                 r.pid);
        free(r.name);
        break;
      }
    return TR_CONTINUE;
  }
  if (kind != TR_KIND_CALL)
    return TR_CONTINUE;
  if (tr_msg_is(m, "node")) {
    tr_reply(h, m, tr_msg_pack("reply", "si", c->node_name, (int)c->id));
  } else if (tr_msg_is(m, "nodes")) {
    reply_nodes(h, c, m);
  } else if (tr_msg_is(m, "peer")) {
    reply_peer(h, c, m);
  } else if (tr_msg_is(m, "whereis_local")) {
    char buf[256];
    if (tr_msg_unpack(m, "s", &name, &len) || len >= sizeof buf) {
      tr_reply_error(h, m, "whereis_local: a name expected");
      return TR_CONTINUE;
    }
    snprintf(buf, sizeof buf, "%.*s", (int)len, name);
    pid = tr_whereis(h, buf);
    tr_reply(h, m,
             pid ? tr_msg_pack("reply", "p", pid) : tr_msg_pack("reply", "n"));
  } else if ((op = tr_msg_is(m, "register")     ? TR__JOB_REGISTER
                   : tr_msg_is(m, "whereis")    ? TR__JOB_WHEREIS
                   : tr_msg_is(m, "unregister") ? TR__JOB_UNREGISTER
                                                : -1) >= 0) {
    if (tr_msg_unpack(m, "s", &name, &len) || len < 1 || len > NAME_MAX_BYTES ||
        memchr(name, 0, len)) {
      tr_reply_error(h, m,
                     "a global name of 1 to %d bytes, without NUL, "
                     "expected",
                     NAME_MAX_BYTES);
      return TR_CONTINUE;
    }
    if (op == TR__JOB_REGISTER) {
      if (tr_value_pid(tr_msg_arg(m, 1), &pid) != TR_OK)
        pid = tr_msg_from(m);
      if (!pid || pid_node(pid) != c->id) {
        tr_reply_error(h, m,
                       "only an actor of this node may be registered "
                       "from it");
        return TR_CONTINUE;
      }
    }
    if (push_job(self, st, op, m, name, len, pid) != TR_OK)
      tr_reply_error(h, m, "out of memory");
  } else {
    tr_reply_error(h, m,
                   "the cluster actor answers node, nodes, peer, "
                   "whereis_local, register, whereis and unregister");
  }
  return TR_CONTINUE;
}

static void names_terminate(tr_actor *self, void *state, const char *reason) {
  names_state *st = state;
  size_t i;
  (void)self;
  (void)reason;
  for (i = 0; i < st->n; i++)
    free(st->regs[i].name);
  free(st->regs);
}

static const tr_behaviour names_behaviour = {
    "cluster", sizeof(names_state), names_init, names_handle, names_terminate};

int tr__names_actor_start(tr__link *l) {
  tr_spawn_opts o;
  char name[64];
  memset(&o, 0, sizeof o);
  snprintf(name, sizeof name, "troupe.cluster.%u", (unsigned)l->index);
  o.name = name;
  o.ctx = l;
  o.capacity = 4096;
  return tr_spawn(l->h, &names_behaviour, NULL, &o, &l->actor);
}
