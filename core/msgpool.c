/*
 * msgpool.c -- a host's spare messages, for senders on its loop thread.
 *
 * A burst of sends fills a mailbox before its receiver takes any: far more
 * messages at once than malloc keeps at hand per thread, so each one went
 * through malloc's slower bins on the way in and again on the way out.
 * The host keeps the messages it has delivered and freed instead (those
 * that own no memory but their own, up to TR__POOL_MAX: tr__pool_put in
 * host.h, inline where the scheduler frees them) and hands them to
 * tr_host_msg_newn. A pooled message is an ordinary one: whoever ends up
 * with it frees it with tr_msg_free, on any thread. The pool lives and
 * dies with its host; nothing here is shared between hosts or threads.
 */
#include <stdlib.h>

#include "host.h"

void tr__pool_free(tr_host *h) {
  tr_msg *m;
  while ((m = h->pool) != NULL) {
    h->pool = m->next;
    free(m);
  }
  h->pool_len = 0;
}

tr_msg *tr_host_msg_newn(tr_host *h, const char *name, size_t len) {
  tr_msg *m;
  if (tr__loop_check(h) || len > TR__SHORT_NAME || (!name && len) ||
      !(m = h->pool))
    return tr_msg_newn(name, len);
  h->pool = m->next;
  h->pool_len--;
  return tr__msg_init_short(m, name, len);
}
