/*
 * frame.h -- the cluster's wire frames: many envelopes from the core (one
 * send, call, reply, monitor, link or kill each) batched into one NATS
 * message for one destination, behind a small versioned header.
 *
 *   bytes 0-3   "TRC" and the version (1)
 *   byte  4     the sending node's id      byte 5  the sending host's index
 *   bytes 6-7   flags (0; a reader refuses others)
 *   bytes 8-11  how many envelopes follow (little-endian)
 *   then each envelope: its length (4 bytes, little-endian), its bytes
 */
#ifndef TR_CLUSTER_FRAME_H
#define TR_CLUSTER_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define TR__FRAME_VERSION 1
#define TR__FRAME_HEADER 12u
#define TR__FRAME_PER_ENVELOPE 4u

/* A frame being filled. */
typedef struct tr__frame {
  uint8_t *buf;
  size_t len, cap;
  uint32_t count; /* envelopes in it */
} tr__frame;

/* The largest envelope a frame of at most limit bytes carries. */
size_t tr__frame_room(size_t limit);

/* Empties f and writes its header (the envelopes' source). 0 or TR_ENOMEM. */
int tr__frame_start(tr__frame *f, uint32_t node, uint32_t host);

/* Adds an envelope to f, whose whole size may not pass limit: 0, 1 when it
 * does not fit beside what f holds (send f, start anew, add again),
 * TR_ERANGE when it could never fit, TR_ENOMEM. */
int tr__frame_add(tr__frame *f, const void *bytes, size_t len, size_t limit);

void tr__frame_free(tr__frame *f);

/* Reading a frame received: tr__frame_open checks the header and every
 * length (0, or TR_EBADMSG for a frame that is not whole and well made),
 * then tr__frame_next gives each envelope in turn (1), then 0. */
typedef struct tr__frame_reader {
  const uint8_t *at, *end;
  uint32_t node, host, left;
} tr__frame_reader;

int tr__frame_open(tr__frame_reader *r, const void *buf, size_t len);
int tr__frame_next(tr__frame_reader *r, const void **bytes, size_t *len);

#endif
