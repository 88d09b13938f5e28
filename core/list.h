/*
 * list.h -- intrusive circular doubly-linked lists.
 *
 * A tr__link sits inside the thing listed; the list head is a tr__link
 * pointing at itself when empty. Removal is O(1) and needs no head, which is
 * why actors, refs and the ready queue use it.
 */
#ifndef TR_LIST_H
#define TR_LIST_H

#include <stddef.h>

typedef struct tr__link {
  struct tr__link *prev, *next;
} tr__link;

#define tr__container(p, type, field)                                          \
  ((type *)(void *)((char *)(p)-offsetof(type, field)))

static inline void tr__list_init(tr__link *l) { l->prev = l->next = l; }
static inline int tr__list_empty(const tr__link *l) { return l->next == l; }
static inline int tr__linked(const tr__link *l) {
  return l->next != NULL && l->next != l;
}

static inline void tr__list_push(tr__link *head, tr__link *l) {
  l->prev = head->prev;
  l->next = head;
  head->prev->next = l;
  head->prev = l;
}

static inline void tr__list_remove(tr__link *l) {
  l->prev->next = l->next;
  l->next->prev = l->prev;
  l->prev = l->next = l;
}

static inline tr__link *tr__list_first(tr__link *head) {
  return head->next == head ? NULL : head->next;
}

#endif
