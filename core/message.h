/*
 * message.h -- the inside of a tr_msg, shared by the core's files only.
 *
 * A message is one buffer of MessagePack: an array whose first element is
 * the name (a str) and whose other elements are the arguments. Messages we
 * build start with a 5-byte array32 header, patched as arguments are added,
 * so the buffer is valid MessagePack whenever no array or map is left open.
 * The envelope (sender, session, kind, mailbox link) lives beside it.
 */
#ifndef TR_MESSAGE_H
#define TR_MESSAGE_H

#include "troupe.h"

/* Small messages live in the struct itself: one allocation per message. */
#define TR_MSG_INLINE 48

/* A pid is MessagePack ext type 1, 8 bytes, big-endian (fixext 8). */
#define TR_EXT_PID 1

/* Laid out to stay at 120 bytes: with malloc's header that is a 128-byte
 * chunk, the largest that glibc keeps on its fast bins. */
struct tr_msg {
  tr_msg *next;     /* link in a mailbox or inbox */
  tr_pid from;      /* sender, 0 when none */
  uint64_t session; /* call, reply, timeout or room session; 0 when none.
                       In the cross-thread inbox: the destination pid. */
  int32_t err;      /* sticky builder error, 0 when fine */
  uint32_t argc;    /* top-level arguments after the name */
  uint32_t name_off, name_len; /* the name's bytes inside buf */
  uint32_t args_off;           /* where the first argument starts */
  uint8_t depth;               /* arrays/maps still open while building */
  uint8_t kind;                /* TR_KIND_* */
  uint8_t inherited; /* came from a dead actor's mailbox (its heir's now) */
  uint8_t origin;    /* between hosts: the index of the host it came from */
  uint32_t len, cap; /* bytes used and allocated; TR_MAX_MSG fits */
  union {
    uint32_t *open; /* values each open container still takes; NULL if flat */
    tr_pid to; /* between hosts, where a finished message (open NULL) goes */
  };
  char *buf; /* the encoding: small, or heap */
  char small[TR_MSG_INLINE];
};

/* 0 when m is complete and sendable, else its error (a sticky builder
 * error, or TR_EBADMSG while an array or map is still open). */
int tr__msg_check(const tr_msg *m);

/* The longest name a fixstr holds, written straight into the inline bytes
 * by tr__msg_init_short, which makes m (memory of a message's size) a new
 * message with that name. */
#define TR__SHORT_NAME 31
tr_msg *tr__msg_init_short(tr_msg *m, const char *name, size_t len);

/* m owns no memory but its own: a host may keep it to reuse (msgpool.c). */
static inline int tr__msg_plain(const tr_msg *m) {
  return m->buf == m->small && !m->open;
}

/* Sets the envelope. */
static inline void tr__msg_envelope(tr_msg *m, int kind, tr_pid from,
                                    uint64_t session) {
  m->kind = (uint8_t)kind;
  m->from = from;
  m->session = session;
}

#endif
