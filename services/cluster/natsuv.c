/*
 * natsuv.c -- drives one libnats connection from a host's libuv loop: the
 * event-loop callbacks libnats calls (attach, read, write, detach) become
 * a uv_poll on the connection's socket, changed only on the loop thread.
 *
 * libnats calls them from the loop thread (reads, writes, publishing,
 * closing) and from threads of its own: its reconnect thread attaches the
 * new socket, its timer thread writes pings or gives up a stale socket.
 * A call from another thread is queued, under the lock, as an event that
 * carries its own values, and the async handle wakes the loop, which
 * applies the queue in order; a call on the loop thread applies the queue
 * first, then itself. Only the loop thread touches the poll handle and the
 * mask it polls for.
 */
#include <stdlib.h>
#ifndef _WIN32
#include <fcntl.h>
#include <unistd.h>
#endif

#include "cluster.h"

enum { EV_ATTACH, EV_READ, EV_WRITE, EV_DETACH };

typedef struct event {
  struct event *next;
  int kind;
  int add;         /* read, write: start (1) or stop (0) polling */
  uv_os_sock_t fd; /* attach: the connection's new socket */
} event;

struct tr__natsuv {
  uv_loop_t *loop;
  uv_thread_t thread; /* the loop's */
  natsConnection *nc;
  uv_mutex_t lock; /* the queue */
  event *head, **tail;
  uv_async_t async;
  /* the loop thread's alone: */
  uv_poll_t *poll; /* NULL while detached */
  uv_os_sock_t fd; /* what poll watches: our duplicate of the socket */
  int events;      /* UV_READABLE | UV_WRITABLE polled for */
  int handles;     /* open: the async, the polls closing */
  int freeing;     /* tr__natsuv_free asked: the last close frees */
};

static int on_loop(const tr__natsuv *a) {
  uv_thread_t self = uv_thread_self();
  return uv_thread_equal(&self, &a->thread);
}

static void maybe_free(tr__natsuv *a) {
  event *e;
  if (!a->freeing || a->handles)
    return;
  while ((e = a->head) != NULL) {
    a->head = e->next;
    free(e);
  }
  uv_mutex_destroy(&a->lock);
  free(a);
}

static void on_poll_closed(uv_handle_t *handle) {
  tr__natsuv *a = handle->data;
  free(handle);
  a->handles--;
  maybe_free(a);
}

static void on_async_closed(uv_handle_t *handle) {
  tr__natsuv *a = handle->data;
  a->handles--;
  maybe_free(a);
}

/* Stops watching the socket: the handle closes (stopping at once) and our
 * duplicate goes with it. */
static void drop_poll(tr__natsuv *a) {
  if (!a->poll)
    return;
  uv_close((uv_handle_t *)a->poll, on_poll_closed);
  a->poll = NULL;
  a->events = 0;
#ifndef _WIN32
  close(a->fd);
#endif
}

static void drain(tr__natsuv *a); /* applies the queue */

static void on_poll(uv_poll_t *poll, int status, int events) {
  tr__natsuv *a = poll->data;
  natsConnection *nc = a->nc;
  /* What other threads asked goes first: a thread that gave this socket
   * up has queued its stop, and the event is the dead socket's. */
  drain(a);
  if (a->poll != poll)
    return;
  events &= a->events;
  /* an error is the socket's: reading makes libnats see it and reconnect */
  if (status < 0 ? a->events != 0 : (events & UV_READABLE) != 0)
    natsConnection_ProcessReadEvent(nc);
  if (status == 0 && (events & UV_WRITABLE))
    natsConnection_ProcessWriteEvent(nc);
}

/* A new socket, after a connect or a reconnect. libnats closes its socket
 * itself, from whichever thread gives it up, maybe before the loop has
 * applied the stop: polling a duplicate keeps what libuv watches open
 * until the loop lets it go (libuv aborts on an epoll change for a closed
 * descriptor, and a reused number would be another socket). The one
 * socket libnats drops with no stop (a reconnect failing just after its
 * attach) is polled until the next attach: libnats, asked to read it,
 * finds it gone. If nothing can be polled, the connection stays quiet until
 * libnats' pings find it stale and reconnect, attaching again. */
static void apply_attach(tr__natsuv *a, uv_os_sock_t fd) {
  drop_poll(a);
#ifndef _WIN32
  if ((fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
    return;
#endif
  if (!(a->poll = malloc(sizeof *a->poll))) {
#ifndef _WIN32
    close(fd);
#endif
    return;
  }
  if (uv_poll_init_socket(a->loop, a->poll, fd) != 0) {
    free(a->poll);
    a->poll = NULL;
#ifndef _WIN32
    close(fd);
#endif
    return;
  }
  a->poll->data = a;
  a->fd = fd;
  a->handles++;
  a->events = UV_READABLE;
  uv_poll_start(a->poll, a->events, on_poll);
}

static void apply_mask(tr__natsuv *a, int flag, int add) {
  if (!a->poll)
    return; /* detached, or the attach failed: nothing to poll */
  a->events = add ? a->events | flag : a->events & ~flag;
  if (a->events)
    uv_poll_start(a->poll, a->events, on_poll);
  else
    uv_poll_stop(a->poll);
}

static void apply(tr__natsuv *a, int kind, int add, uv_os_sock_t fd) {
  switch (kind) {
  case EV_ATTACH:
    apply_attach(a, fd);
    break;
  case EV_READ:
    apply_mask(a, UV_READABLE, add);
    break;
  case EV_WRITE:
    apply_mask(a, UV_WRITABLE, add);
    break;
  default:
    drop_poll(a);
  }
}

/* On the loop thread: what other threads asked, in their order. */
static void drain(tr__natsuv *a) {
  event *e, *next;
  uv_mutex_lock(&a->lock);
  e = a->head;
  a->head = NULL;
  a->tail = &a->head;
  uv_mutex_unlock(&a->lock);
  for (; e; e = next) {
    next = e->next;
    apply(a, e->kind, e->add, e->fd);
    free(e);
  }
}

static void on_async(uv_async_t *async) { drain(async->data); }

static natsStatus call(tr__natsuv *a, int kind, int add, uv_os_sock_t fd) {
  event *e;
  if (on_loop(a)) {
    drain(a); /* what came before from other threads goes first */
    apply(a, kind, add, fd);
    return NATS_OK;
  }
  if (!(e = malloc(sizeof *e)))
    return NATS_NO_MEMORY;
  e->next = NULL;
  e->kind = kind;
  e->add = add;
  e->fd = fd;
  uv_mutex_lock(&a->lock);
  *a->tail = e;
  a->tail = &e->next;
  uv_mutex_unlock(&a->lock);
  uv_async_send(&a->async);
  return NATS_OK;
}

/* The first attach stores the adapter as the connection's user data;
 * libnats hands it back on reconnects and to the other callbacks. */
static natsStatus on_attach(void **ud, void *loop, natsConnection *nc,
                            natsSock socket) {
  tr__natsuv *a = loop;
  if (!*ud) {
    a->nc = nc; /* before polling: on_poll reads it */
    *ud = a;
  }
  return call(a, EV_ATTACH, 1, (uv_os_sock_t)socket);
}

static natsStatus on_read(void *ud, bool add) {
  return call(ud, EV_READ, add, 0);
}

static natsStatus on_write(void *ud, bool add) {
  return call(ud, EV_WRITE, add, 0);
}

static natsStatus on_detach(void *ud) { return call(ud, EV_DETACH, 0, 0); }

int tr__natsuv_new(uv_loop_t *loop, tr__natsuv **out) {
  tr__natsuv *a = calloc(1, sizeof *a);
  if (!a)
    return TR_ENOMEM;
  if (uv_mutex_init(&a->lock)) {
    free(a);
    return TR_ENOMEM;
  }
  a->loop = loop;
  a->thread = uv_thread_self();
  a->tail = &a->head;
  if (uv_async_init(loop, &a->async, on_async)) {
    uv_mutex_destroy(&a->lock);
    free(a);
    return TR_ENOMEM;
  }
  a->async.data = a;
  a->handles = 1;
  uv_unref((uv_handle_t *)&a->async); /* it keeps no loop running */
  *out = a;
  return TR_OK;
}

natsStatus tr__natsuv_set(tr__natsuv *a, natsOptions *o) {
  return natsOptions_SetEventLoop(o, a, on_attach, on_read, on_write,
                                  on_detach);
}

void tr__natsuv_free(tr__natsuv *a) {
  if (!a)
    return;
  drain(a);
  drop_poll(a);
  a->freeing = 1;
  uv_close((uv_handle_t *)&a->async, on_async_closed);
}
