/*
 * mailbox.c -- per-actor FIFO queues.
 *
 * A mailbox is a singly-linked list of messages, oldest first. Only sends
 * and calls count against its capacity, with those the actor keeps aside
 * to pass on later (tr_mailbox_hold): replies, errors, timeouts, death
 * notices and notices (tr_notify) answer something the actor asked for,
 * and refusing them would leave it waiting forever. Senders waiting for
 * room queue on the mailbox too (refs.c wakes them).
 *
 * While an actor awaits a session (a call's reply, a timeout), only the
 * message with that session may be taken; the rest stay queued in order.
 * The match is found once -- by one scan when the wait starts, then by
 * looking at each arrival -- so waiting costs O(1) per message.
 */
#include "host.h"

static int matches(const tr_msg *m, uint64_t session) {
  return m->session == session && !tr__is_user(m);
}

void tr__mailbox_init(tr__mailbox *mb, uint32_t capacity) {
  mb->head = mb->tail = mb->match = mb->match_prev = NULL;
  mb->user = mb->held = mb->granted = 0;
  mb->capacity = capacity;
  tr__list_init(&mb->waiters);
}

void tr__mailbox_put(tr__mailbox *mb, tr_msg *m, uint64_t await) {
  m->next = NULL;
  if (await && !mb->match && matches(m, await)) {
    mb->match = m;
    mb->match_prev = mb->tail;
  }
  if (mb->tail)
    mb->tail->next = m;
  else
    mb->head = m;
  mb->tail = m;
  if (tr__is_user(m))
    mb->user++;
}

void tr__mailbox_await(tr__mailbox *mb, uint64_t session) {
  tr_msg *prev = NULL, *m;
  mb->match = mb->match_prev = NULL;
  if (!session)
    return;
  for (m = mb->head; m; prev = m, m = m->next) {
    if (matches(m, session)) {
      mb->match = m;
      mb->match_prev = prev;
      return;
    }
  }
}

tr_msg *tr__mailbox_take(tr__mailbox *mb, uint64_t await) {
  tr_msg *m, *prev = NULL;
  if (await) {
    m = mb->match;
    prev = mb->match_prev;
    if (!m)
      return NULL;
    mb->match = mb->match_prev = NULL;
  } else {
    m = mb->head;
    if (!m)
      return NULL;
  }
  if (prev)
    prev->next = m->next;
  else
    mb->head = m->next;
  if (mb->tail == m)
    mb->tail = prev;
  m->next = NULL;
  if (tr__is_user(m))
    mb->user--;
  return m;
}

void tr__mailbox_prepend(tr__mailbox *mb, tr_msg *head, tr_msg *tail,
                         uint32_t user) {
  if (!head)
    return;
  if (mb->match && !mb->match_prev)
    mb->match_prev = tail; /* the match was the head: now tail precedes it */
  tail->next = mb->head;
  mb->head = head;
  if (!mb->tail)
    mb->tail = tail;
  mb->user += user;
}

void tr__mailbox_putback(tr__mailbox *mb, tr_msg *m, uint64_t await) {
  tr__mailbox_prepend(mb, m, m, tr__is_user(m) ? 1 : 0);
  if (await && matches(m, await)) { /* first in line again: the match */
    mb->match = m;
    mb->match_prev = NULL;
  }
}
