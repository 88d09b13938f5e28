/*
 * acall.c -- calls from outside any actor that do not block: the answer
 * comes to a callback run inside a later tr_host_step (or tr_host_run).
 *
 * Each call is owned by a hidden actor, as tr_host_call's is, so it has
 * what tr_call gives any actor: one answer, the timeout, the callee's end
 * seen at once (its monitor). The actor runs the callback when the answer
 * arrives and ends; if the host shuts down first, its terminate callback
 * runs it with TR_ESTOPPED, so every call is answered exactly once.
 */
#include "host.h"

typedef struct acall {
  tr_call_cb cb;
  void *ud;
  uint64_t session;
  int done; /* the callback ran, or the call was cancelled */
} acall;

static void answer(tr_host *h, acall *c, int rc, tr_msg *m) {
  c->done = 1;
  c->cb(h, c->ud, rc, m);
}

static int acall_handle(tr_actor *self, void *state, tr_msg *m) {
  acall *c = state;
  int rc;
  if (!m || c->done || m->session != c->session || tr__is_user(m))
    return TR_CONTINUE;
  if (m->kind == TR_KIND_REPLY)
    rc = TR_OK;
  else if (tr_msg_is(m, "error"))
    rc = TR_EREPLY;
  else if (tr_msg_is(m, "timeout"))
    rc = TR_ETIMEDOUT;
  else
    rc = TR_ENOPROC;
  answer(self->host, c, rc, m);
  return TR_STOP;
}

static void acall_terminate(tr_actor *self, void *state, const char *why) {
  acall *c = state;
  (void)why;
  if (!c->done)
    answer(self->host, c, TR_ESTOPPED, NULL);
}

static const tr_behaviour acall_behaviour = {
    "host-call-async", sizeof(acall), NULL, acall_handle, acall_terminate};

int tr_host_call_async(tr_host *h, tr_pid to, tr_msg *m, uint32_t timeout_ms,
                       tr_call_cb cb, void *ud, tr_pid *id) {
  tr_pid pid;
  acall *c;
  int rc;
  if (id)
    *id = 0;
  rc = !cb ? TR_EINVAL : tr__loop_check(h);
  if (rc) {
    tr_msg_free(m);
    return rc;
  }
  if ((rc = tr_spawn(h, &acall_behaviour, NULL, NULL, &pid))) {
    tr_msg_free(m);
    return rc;
  }
  c = (void *)tr__actor(h, pid)->state;
  c->cb = cb;
  c->ud = ud;
  if ((rc = tr_call(h, pid, to, m, timeout_ms, &c->session))) {
    c->done = 1; /* refused at once: the caller hears it here, not twice */
    tr_kill(h, pid, "normal");
    return rc;
  }
  if (id)
    *id = pid;
  return TR_OK;
}

int tr_host_call_cancel(tr_host *h, tr_pid id) {
  tr_actor *a;
  int rc = tr__loop_check(h);
  if (rc)
    return rc;
  a = tr__actor(h, id);
  if (!a || a->b != &acall_behaviour || ((acall *)(void *)a->state)->done)
    return TR_ENOPROC;
  ((acall *)(void *)a->state)->done = 1;
  return tr_kill(h, id, "normal");
}
