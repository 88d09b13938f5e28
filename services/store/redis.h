/*
 * redis.h -- what the store in Redis shares between its files: the URL
 * (redisconn.c parses it), the connection with its requests in flight
 * (redisconn.c), the requests mapped to commands (redisops.c) and the
 * actor (redisstore.c).
 */
#ifndef TR_REDIS_H
#define TR_REDIS_H

#include <stdint.h>

#include "troupe_services.h"

struct redisAsyncContext;

#define TR__REDIS_TIMEOUT_MS 2000u    /* a request's wait for Redis, default */
#define TR__REDIS_BACKOFF_MIN 100u    /* reconnect after this long at first, */
#define TR__REDIS_BACKOFF_MAX 2000u   /* doubling up to this */
#define TR__REDIS_MAX_INFLIGHT 65536u /* requests awaiting Redis at most */

typedef struct tr__redis_url {
  char host[256];
  int port;
  int db;
  char password[256]; /* "" for none */
  char shown[300];    /* for logs and errors: the URL without the password */
} tr__redis_url;

/* Parses "redis://[:password@]host[:port][/db]" (port 6379, db 0 when not
 * given; host an IPv4 address, a name, or [an IPv6 address]). 0, or -1
 * with why in err. */
int tr__redis_url_parse(const char *text, tr__redis_url *out, char *err,
                        size_t errlen);

/* How a reply is turned into the store's answer (redisops.c). */
enum {
  TR__RA_VALUE = 1, /* bulk or nil: the value or nil */
  TR__RA_SET,       /* OK: true; nil: false (nx/xx kept it from being set) */
  TR__RA_BOOL,      /* integer: true when not 0 */
  TR__RA_INT,       /* integer */
  TR__RA_OK,        /* OK: true */
  TR__RA_VALUES,    /* an array of bulk or nil: one value each */
  TR__RA_KEYS,      /* an array of keys */
  TR__RA_SCAN,      /* [cursor, keys] */
  TR__RA_STATS,     /* INFO memory keyspace: {keys=, expiring=, bytes=} */
  TR__RA_SETUP      /* AUTH, SELECT: for the connection itself */
};

/* A request awaiting Redis's answer, in the connection's list in the order
 * sent (Redis answers in that order). */
typedef struct tr__rpend {
  struct tr__rpend *next, *prev;
  struct tr__rconn *conn;
  tr_pid caller;     /* 0: nobody to answer (a send, or the setup) */
  uint64_t session;  /* the caller's call */
  int answer;        /* TR__RA_* */
  uint64_t deadline; /* ms, monotonic */
} tr__rpend;

enum { TR__R_CONNECTING = 0, TR__R_UP, TR__R_DOWN };

typedef struct tr__rconn {
  tr_host *h;
  tr_pid self;
  tr__redis_url url;
  uint32_t timeout_ms;
  struct redisAsyncContext *ac; /* NULL while down */
  int state;                    /* TR__R_* */
  int ever_up;    /* connected once: a later loss is "lost", not "cannot" */
  int said_down;  /* the log has said it is down since the last "up" */
  int closing;    /* the actor ends: replies go nowhere */
  int setup_left; /* AUTH, SELECT not yet answered: not up until they are */
  uint32_t backoff_ms;
  uint64_t retry_timer, tick_timer; /* tr_timeout ids; 0: none pending */
  uint64_t connect_began, down_since, up_since; /* ms, monotonic */
  char why[512]; /* why Redis is unavailable, while it is */
  char ip[256];  /* the host's address as last found; "" while unknown */
  struct tr__rresolve *resolving; /* a lookup under way, or NULL */
  tr__rpend *head, *tail;
  size_t inflight;
} tr__rconn;

uint64_t tr__redis_now(void); /* ms, monotonic */

/* Connects (at once, asynchronously); conn's h, self, url and timeout_ms
 * set. Never fails but for memory: a Redis that is not there is retried. */
void tr__rconn_start(tr__rconn *conn);
/* Frees the connection (the actor ends); nobody is answered any more. */
void tr__rconn_stop(tr__rconn *conn);
/* Writes what is queued for Redis now, rather than when the loop next
 * polls: the actor calls it once its mailbox is empty, so a burst of
 * requests goes in one write. */
void tr__rconn_flush(tr__rconn *conn);
/* The actor's tr_timeout came: a retry or the tick. 1 if it was one. */
int tr__rconn_timer(tr__rconn *conn, uint64_t id);
/* Sends a command for the call m (or a send: nobody answered); its reply is
 * turned into m's answer as `answer` says. While Redis is down the caller
 * is answered "redis unavailable" at once. */
void tr__rconn_command(tr__rconn *conn, const tr_msg *m, int answer, int argc,
                       const char **argv, const size_t *argvlen);

/* redisops.c: the answer to a call from Redis's reply (a redisReply *);
 * NULL with the error's text in err. db: the database (stats reads its
 * line of INFO). */
tr_msg *tr__redis_answer(int answer, int db, const void *reply, char *err,
                         size_t errlen);
/* Serves one request of the store protocol (troupe_services.h). */
void tr__redis_serve(tr__rconn *conn, const tr_msg *m);

#endif
