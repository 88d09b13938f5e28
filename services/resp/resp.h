/*
 * resp.h -- the RESP gateway's insides, shared by services/resp/ only: the
 * gateway (the listener's state, shared with its connections), a
 * connection, its reply ring and output buffers, and the command table.
 */
#ifndef TR_RESP_H
#define TR_RESP_H

#include <hiredis/read.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "troupe_services.h"

/* A growable byte buffer: requests' arguments and replies. */
typedef struct tr__rbuf {
  char *p;
  size_t len, cap;
  int oom; /* an append failed: the connection is closed */
} tr__rbuf;

void tr__rbuf_add(tr__rbuf *b, const void *s, size_t n);
void tr__rbuf_free(tr__rbuf *b);
void tr__rbuf_simple(tr__rbuf *b, const char *s);      /* +s */
void tr__rbuf_error(tr__rbuf *b, const char *fmt, ...) /* -text */
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void tr__rbuf_int(tr__rbuf *b, int64_t v);                /* :v */
void tr__rbuf_bulk(tr__rbuf *b, const char *s, size_t n); /* $n s */
void tr__rbuf_nil(tr__rbuf *b);                           /* $-1 */
void tr__rbuf_array(tr__rbuf *b, int64_t n);              /* *n */

typedef struct tr__resp_conn tr__resp_conn;

/* The gateway: the listener's state, which every connection points at;
 * freed when the listener and the last connection have ended. */
typedef struct tr__resp_gw {
  tr_host *h;
  tr_pid listener, router;
  tr_resp_config cfg; /* limits resolved; addr and password point below */
  char addr[64];
  char *password;
  int port;
  uint32_t refs;
  uv_tcp_t *server;     /* freed in its close callback */
  tr__resp_conn *conns; /* a list, for INFO and to close them at the end */
  uint32_t nclients;
  uint64_t start_ms, next_id;
  /* INFO stats */
  uint64_t connections, rejected, commands, hits, misses, net_in, net_out,
      errors;
} tr__resp_gw;

void tr__resp_gw_release(tr__resp_gw *gw);

/* A reply slot: one per call in flight, or per reply made before earlier
 * ones were answered; replies go out in slot order. */
enum {
  TR__RS_READY = 1, /* answered: reply or bytes holds it */
  TR__RS_PART = 2,  /* one call of a command of several: folded, not sent */
};
typedef struct tr__rslot {
  uint64_t session; /* the call's, 0 for bytes made here */
  tr_msg *reply;    /* kept until its turn (tr_keep) */
  tr__rbuf bytes;   /* a reply made here, awaiting its turn */
  uint8_t cmd, flags;
  int64_t arg; /* what the answer needs of the request (INFO sections) */
} tr__rslot;

/* A request's arguments, copied out of the reader as they are parsed. */
typedef struct tr__rarg {
  size_t off, len;
} tr__rarg;

struct tr__resp_conn {
  uv_tcp_t tcp;
  uv_write_t wreq;
  uv_timer_t idle;
  int handles; /* open uv handles: the memory goes when the last closes */
  tr__resp_gw *gw;
  tr_host *h;
  tr_actor *self;
  tr_pid pid;
  tr__resp_conn *prev, *next;
  redisReader *rd;
  /* the request being parsed or run */
  tr__rarg *argv;
  uint32_t argc, argcap, argn;
  tr__rbuf abuf;
  const char *perr; /* why a request was refused while parsed */
  int have_cmd;     /* argv holds a command not all sent yet */
  uint32_t part;    /* its next call (DEL's keys) */
  /* reply slots: a ring */
  tr__rslot *ring;
  uint32_t head, count, cap;
  /* folding the parts of a command (DEL, INFO) */
  int64_t agg;
  tr_msg *agg_err;
  int64_t info[4]; /* keys, expiring, bytes, loaded */
  /* output: out gathers, wbuf is being written */
  tr__rbuf out, wbuf;
  int writing, reading, paused, closing, ended, authed, quit, eof, room_wait;
  tr_pid store; /* "kv" while calls go straight to it, else 0 (router) */
  uint64_t id, created_ms, last_ms, cmds;
  char peer[64];
  char rbuf[65536];
};

/* respconn.c */
int tr__resp_conn_start(tr__resp_gw *gw, tr__resp_conn *c);
tr__rbuf *tr__resp_reply(tr__resp_conn *c); /* where a reply made here goes */
/* Calls the store with m for command cmd (TR__RS_PART for a part):
 * 0, 1 when it is full (the conn waits for room; m is gone), or
 * -1 when the store is not there (answered with an error). */
int tr__resp_call(tr__resp_conn *c, tr_msg *m, int cmd, int flags, int64_t arg);
void tr__resp_close(tr__resp_conn *c, const char *why);
/* A slot answered already (for a reply made when its turn comes), or one
 * for a call made elsewhere than the router (0, -1 when out of memory). */
tr__rslot *tr__resp_slot(tr__resp_conn *c);
int tr__resp_track(tr__resp_conn *c, uint64_t session, int cmd, int64_t arg);

/* respcmd.c */
enum { TR__CMD_DONE = 0, TR__CMD_BLOCKED = 1, TR__CMD_CLOSE = 2 };
/* Runs the request in c->argv from c->part on. */
int tr__resp_exec(tr__resp_conn *c);
/* Writes the answer to slot s (reply, or NULL for bytes) into out. */
void tr__resp_answer(tr__resp_conn *c, tr__rslot *s, tr_msg *reply,
                     tr__rbuf *out);
const char *tr__resp_arg(tr__resp_conn *c, uint32_t i, size_t *len);
/* COMMAND's table, for respinfo.c */
typedef struct tr__resp_cmdinfo {
  const char *name;
  int arity;
  const char *flags; /* space separated */
  int first, last, step;
} tr__resp_cmdinfo;
const tr__resp_cmdinfo *tr__resp_command_at(size_t i); /* NULL past the end */

/* respinfo.c */
enum {
  TR__INFO_SERVER = 1,
  TR__INFO_CLIENTS = 2,
  TR__INFO_MEMORY = 4,
  TR__INFO_PERSISTENCE = 8,
  TR__INFO_STATS = 16,
  TR__INFO_KEYSPACE = 32,
  TR__INFO_ALL = 63
};
/* The sections named in argv[1..] (0 when one is unknown: empty) */
int64_t tr__resp_info_sections(tr__resp_conn *c);
/* INFO's text from the store's stats (c->info) and the writer's reply */
void tr__resp_info(tr__resp_conn *c, int64_t sections, tr_msg *wstats,
                   tr__rbuf *out);
void tr__resp_command(tr__resp_conn *c, tr__rbuf *out);

#endif
