/*
 * call.c -- request and response between actors.
 *
 * A call is a ref owned by the caller with the callee as its peer; its
 * handle is the session that the request, the reply and any error carry.
 * Exactly one answer reaches the caller: the reply, or an error -- from the
 * timer ("timeout"), or from the callee's death ("down", found through the
 * ref in the callee's list, so at once and not at the timeout). Whichever
 * comes first frees the ref; anything after it finds no ref and is dropped
 * as a late reply.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "host.h"

/* tr_call, and with if_room tr_call_if_room. */
static int call(tr_host *h, tr_pid from, tr_pid to, tr_msg *m,
                uint32_t timeout_ms, uint64_t *session, int if_room) {
  tr_actor *caller, *callee = NULL;
  tr__ref *r;
  int rc = !m ? TR_EINVAL : tr__loop_check(h), remote = 0;
  if (session)
    *session = 0;
  if (!rc)
    rc = tr__msg_check(m);
  if (!rc && h->stopped)
    rc = TR_ESTOPPED;
  if (!rc && !(caller = tr__actor(h, from)))
    rc = TR_EINVAL;
  if (!rc && !(callee = tr__actor(h, to)) && !(remote = tr__remote(h, to)))
    rc = TR_ENOPROC;
  if (!rc && remote) {
    /* checked here, so that the send cannot fail; the wire's failures
     * are the call's answer instead */
    if (!tr__wired(h, to))
      rc = (rc = tr__out_room(h, to)) < 0 ? rc : rc ? TR_OK : TR_EFULL;
  } else if (!rc && !(if_room ? tr__mailbox_room(h, callee)
                              : tr__mailbox_free(&callee->mb)))
    rc = TR_EFULL;
  if (!rc && !(r = tr__ref_new(h, TR_REF_CALL, caller, callee)))
    rc = TR_ENOMEM;
  if (rc) {
    if (rc == TR_ENOPROC || (rc == TR_EFULL && !if_room))
      h->stats.dead_letters++;
    tr_msg_free(m);
    return rc;
  }
  if (timeout_ms && tr__timer_add(h, r, timeout_ms)) {
    tr__ref_free(h, r);
    tr_msg_free(m);
    return TR_ENOMEM;
  }
  tr__msg_envelope(m, TR_KIND_CALL, from, r->id);
  if (session)
    *session = r->id;
  if (remote) {
    r->peer = to; /* its end is told by the proxy on its host */
    if (!tr__wired(h, to))
      return tr__out_put(h, to, m, 0);
    if ((rc = tr__out_put(h, to, m, if_room)) == TR_EFULL && if_room) {
      if (session)
        *session = 0; /* the sender waits and calls anew */
      return rc;
    }
    return TR_OK; /* a failure is in from's mailbox, as the answer */
  }
  return tr__deliver(h, callee, m);
}

int tr_call(tr_host *h, tr_pid from, tr_pid to, tr_msg *m, uint32_t timeout_ms,
            uint64_t *session) {
  return call(h, from, to, m, timeout_ms, session, 0);
}

int tr_call_if_room(tr_host *h, tr_pid from, tr_pid to, tr_msg *m,
                    uint32_t timeout_ms, uint64_t *session) {
  return call(h, from, to, m, timeout_ms, session, 1);
}

int tr_call_cancel(tr_host *h, tr_pid caller, uint64_t session) {
  tr__ref *r;
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  r = tr__slots_get(&h->refs, session);
  if (!r || r->kind != TR_REF_CALL || r->owner != caller)
    return TR_ENOPROC;
  tr__call_fail(h, session, caller, "cancelled");
  return 0;
}

/* Delivers the answer to a call as a reply or an error reply. */
static int answer(tr_host *h, tr_pid caller, uint64_t session, tr_msg *reply,
                  int kind) {
  tr__ref *r;
  tr_pid from;
  int rc = !reply ? TR_EINVAL : tr__loop_check(h);
  if (!rc)
    rc = tr__msg_check(reply);
  if (rc) {
    tr_msg_free(reply);
    return rc;
  }
  r = tr__slots_get(&h->refs, session);
  if (!r || (r->kind != TR_REF_CALL && r->kind != TR_REF_RCALL) ||
      r->owner != caller) {
    h->stats.late_replies++;
    tr_msg_free(reply);
    return TR_ENOPROC;
  }
  from = h->current ? h->current->pid : r->peer;
  if (r->kind == TR_REF_RCALL)
    session = r->remote; /* the session as the caller's host knows it */
  tr__ref_free(h, r);
  tr__msg_envelope(reply, kind, from, session);
  return tr__deliver_pid(h, caller, reply);
}

int tr_reply_to(tr_host *h, tr_pid caller, uint64_t session, tr_msg *reply) {
  return answer(h, caller, session, reply, TR_KIND_REPLY);
}

int tr_reply(tr_host *h, const tr_msg *request, tr_msg *reply) {
  if (!request || request->kind != TR_KIND_CALL) {
    tr_msg_free(reply);
    return TR_EINVAL;
  }
  return tr_reply_to(h, request->from, request->session, reply);
}

/* The error reply: "error" and the formatted text, however long. */
static tr_msg *error_msg(const char *fmt, va_list ap) {
  char small[256], *text = small;
  tr_msg *m;
  va_list again;
  int n;
  va_copy(again, ap);
  n = vsnprintf(small, sizeof small, fmt, ap);
  if (n >= (int)sizeof small && (text = malloc((size_t)n + 1)))
    vsnprintf(text, (size_t)n + 1, fmt, again);
  va_end(again);
  if (n < 0 || !text)
    return NULL;
  m = tr_msg_pack("error", "s", text);
  if (text != small)
    free(text);
  return m;
}

int tr_reply_error(tr_host *h, const tr_msg *request, const char *fmt, ...) {
  va_list ap;
  tr_msg *m;
  if (!request || request->kind != TR_KIND_CALL)
    return TR_EINVAL;
  va_start(ap, fmt);
  m = error_msg(fmt, ap);
  va_end(ap);
  return m ? answer(h, request->from, request->session, m, TR_KIND_ERROR)
           : TR_ENOMEM;
}

int tr_reply_error_to(tr_host *h, tr_pid caller, uint64_t session,
                      const char *fmt, ...) {
  va_list ap;
  tr_msg *m;
  va_start(ap, fmt);
  m = error_msg(fmt, ap);
  va_end(ap);
  return m ? answer(h, caller, session, m, TR_KIND_ERROR) : TR_ENOMEM;
}

tr__ref *tr__call_ref(tr_host *h, const tr_msg *m) {
  tr__ref *r = tr__slots_get(&h->refs, m->session);
  return r && (r->kind == TR_REF_CALL || r->kind == TR_REF_RCALL) &&
                 r->owner == m->from
             ? r
             : NULL;
}

void tr__call_fail(tr_host *h, uint64_t session, tr_pid caller,
                   const char *name) {
  tr__ref *r = tr__slots_get(&h->refs, session);
  tr_msg *m;
  if (!r || (r->kind != TR_REF_CALL && r->kind != TR_REF_RCALL) ||
      r->owner != caller)
    return;
  m = tr__sys_msg(TR_KIND_ERROR, name,
                  r->kind == TR_REF_RCALL ? r->remote : session);
  if (m) {
    tr_msg_add_cstr(m, name);
    m->from = r->peer;
  }
  tr__ref_free(h, r);
  tr__deliver_pid(h, caller, m);
}

int tr__call_arrived(tr_host *h, tr_pid to, tr_msg *m) {
  tr_actor *a = tr__actor(h, to);
  tr__ref *r;
  if (!tr__remote(h, m->from)) { /* back on its caller's host */
    if ((r = tr__call_ref(h, m)) && a) {
      tr__list_remove(&r->by_peer);
      tr__list_push(&a->peered, &r->by_peer);
      r->peer = to;
    }
    return tr__arrive_mail(h, to, m);
  }
  if (!(r = tr__ref_new(h, TR_REF_RCALL, NULL, a))) {
    tr_host_log(h, TR_LOG_ERROR, "out of memory taking a call");
    h->stats.dead_letters++;
    tr_msg_free(m);
    return 0;
  }
  r->owner = m->from;
  r->peer = to;
  r->remote = m->session;
  m->session = r->id; /* what the callee answers; the proxy maps it back */
  return tr__arrive_mail(h, to, m);
}

void tr__call_answered(tr_host *h, tr_pid to, tr_msg *m) {
  tr__ref *r = tr__slots_get(&h->refs, m->session);
  if (r && r->kind == TR_REF_CALL && r->owner == to) {
    tr__ref_free(h, r);
    tr__deliver_pid(h, to, m);
  } else {
    h->stats.late_replies++;
    tr_msg_free(m);
  }
}

/* tr_host_call waits through a hidden actor that owns the call and keeps
 * the answer where the waiting C code can see it. */
typedef struct waiter {
  uint64_t session;
  tr_msg *answer;
  int rc, done;
} waiter;

static int waiter_handle(tr_actor *self, void *state, tr_msg *m) {
  waiter *w = *(waiter **)state;
  if (!m || m->session != w->session || tr__is_user(m))
    return TR_CONTINUE;
  if (m->kind == TR_KIND_REPLY || tr_msg_is(m, "error")) {
    w->answer = m; /* an error reply too, for its text */
    w->rc = m->kind == TR_KIND_REPLY ? TR_OK : TR_EREPLY;
    self->host->current_msg = NULL; /* keep it past this callback */
  } else {
    w->rc = tr_msg_is(m, "timeout") ? TR_ETIMEDOUT : TR_ENOPROC;
  }
  w->done = 1;
  return TR_STOP;
}

static const tr_behaviour waiter_behaviour = {"host-call", sizeof(waiter *),
                                              NULL, waiter_handle, NULL};

int tr_host_call(tr_host *h, tr_pid to, tr_msg *m, uint32_t timeout_ms,
                 tr_msg **reply) {
  waiter w = {0, NULL, 0, 0};
  tr_pid pid;
  tr_actor *a;
  int rc;
  if (reply)
    *reply = NULL;
  rc = !reply ? TR_EINVAL : tr__loop_check(h);
  if (!rc && h->current)
    rc = TR_EINVAL; /* uv_run may not run inside one of its callbacks */
  if (rc) {
    tr_msg_free(m);
    return rc;
  }
  if ((rc = tr_spawn(h, &waiter_behaviour, NULL, NULL, &pid))) {
    tr_msg_free(m);
    return rc;
  }
  a = tr__actor(h, pid);
  *(waiter **)a->state = &w;
  if ((rc = tr_call(h, pid, to, m, timeout_ms, &w.session))) {
    tr_kill(h, pid, "normal");
    return rc;
  }
  while (!w.done && !h->stopped) {
    uv_run(h->loop, UV_RUN_ONCE);
    if (atomic_load(&h->stop_requested))
      break;
  }
  if (!w.done) {
    tr_kill(h, pid, "normal");
    return TR_ESTOPPED;
  }
  *reply = w.answer;
  return w.rc;
}
