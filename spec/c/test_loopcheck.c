/*
 * test_loopcheck.c -- every function that must run on the loop thread
 * checks it the same way: TR_ETHREAD from another thread (0 or NULL for
 * those with no error code), TR_EINVAL without a host, and nothing done
 * either way (messages handed over are freed, the actors unharmed).
 */
#include <string.h>
#include <uv.h>

#include "test.h"
#include "troupe.h"

enum { NCALLS = 26 };

typedef struct probe {
  tr_host *h; /* the host to call, or NULL */
  tr_pid pid; /* a live actor on it */
  int rc[NCALLS];
  int64_t quiet;
  tr_pid alive, where;
  const char *name;
  tr_host_stats st;
  tr_msg *reply;
  uint64_t ids[5];
} probe;

static int idle_handle(tr_actor *self, void *state, tr_msg *m) {
  (void)self, (void)state, (void)m;
  return TR_CONTINUE;
}

static const tr_behaviour idle_b = {"idle", 0, NULL, idle_handle, NULL};

/* Everything a loop-thread-only function can be asked, from wherever this
 * runs; the answers are checked by the caller. */
static void call_all(void *arg) {
  probe *p = arg;
  tr_host *h = p->h;
  tr_pid pid = p->pid, out = 1;
  int i = 0;
  p->ids[0] = p->ids[1] = p->ids[2] = p->ids[3] = p->ids[4] = 1;
  p->rc[i++] = tr_spawn(h, &idle_b, tr_msg_new("args"), NULL, &out);
  p->rc[i++] = tr_kill(h, pid, "x");
  p->rc[i++] = tr_mailbox_set_heir(h, pid, 0);
  p->rc[i++] = tr_mailbox_count(h, pid);
  p->rc[i++] = tr_mailbox_room(h, pid);
  p->rc[i++] = tr_notify_room(h, pid, pid, 0, &p->ids[0]);
  p->rc[i++] = tr_notify(h, 0, pid, tr_msg_new("n"));
  p->rc[i++] = tr_forward(h, pid, tr_msg_new("f"));
  p->rc[i++] = tr_call(h, pid, pid, tr_msg_new("c"), 0, &p->ids[1]);
  p->rc[i++] = tr_send_if_room(h, 0, pid, tr_msg_new("s"));
  p->rc[i++] = tr_call_if_room(h, pid, pid, tr_msg_new("c"), 0, &p->ids[4]);
  p->rc[i++] = tr_reply_to(h, pid, 1, tr_msg_new("r"));
  p->rc[i++] = tr_reply_error_to(h, pid, 1, "e");
  p->rc[i++] = tr_host_call(h, pid, tr_msg_new("hc"), 10, &p->reply);
  p->rc[i++] = tr_after(h, pid, 10, tr_msg_new("a"), &p->ids[2]);
  p->rc[i++] = tr_timeout(h, pid, 10, &p->ids[3]);
  p->rc[i++] = tr_cancel(h, 1);
  p->rc[i++] = tr_register(h, "someone", pid);
  p->rc[i++] = tr_unregister(h, "idle");
  p->rc[i++] = tr_monitor(h, pid, pid, NULL);
  p->rc[i++] = tr_demonitor(h, 1);
  p->rc[i++] = tr_link(h, pid, pid + 1);
  p->rc[i++] = tr_unlink(h, pid, pid + 1);
  p->rc[i++] = tr_host_run(h);
  p->rc[i++] = tr_host_step(h);
  p->rc[i++] = out == 0 ? TR_OK : -100; /* the out-pointer was cleared */
  p->quiet = tr_actor_quiet_ms(h, pid);
  p->alive = (tr_pid)tr_alive(h, pid);
  p->where = tr_whereis(h, "idle");
  p->name = tr_actor_name(h, pid);
  memset(&p->st, 0xff, sizeof p->st);
  tr_host_get_stats(h, &p->st);
}

static void check_all(const probe *p, int want) {
  int i;
  for (i = 0; i < NCALLS - 1; i++) {
    if (p->rc[i] != want)
      printf("  call %d gave %d\n", i, p->rc[i]);
    CHECK_EQ(p->rc[i], want);
  }
  CHECK_EQ(p->rc[NCALLS - 1], TR_OK);
  for (i = 0; i < 5; i++)
    CHECK_EQ(p->ids[i], 0);
  CHECK_EQ(p->quiet, want);
  CHECK_EQ(p->alive, 0);
  CHECK_EQ(p->where, 0);
  CHECK(p->name == NULL);
  CHECK(p->reply == NULL);
  CHECK_EQ(p->st.delivered, 0);
  CHECK_EQ(p->st.actors, 0);
}

static void test_other_thread(void) {
  tr_host *h = tr_host_new(NULL);
  tr_spawn_opts o = {0};
  tr_host_stats st;
  probe p;
  uv_thread_t t;
  memset(&p, 0, sizeof p);
  o.name = "idle";
  p.h = h;
  CHECK_EQ(tr_spawn(h, &idle_b, NULL, &o, &p.pid), TR_OK);
  CHECK_EQ(uv_thread_create(&t, call_all, &p), 0);
  uv_thread_join(&t);
  check_all(&p, TR_ETHREAD);
  /* Nothing was done: the actor lives, named, alone, unlinked, with
   * nothing queued and no timer pending. */
  CHECK(tr_alive(h, p.pid));
  CHECK_EQ(tr_whereis(h, "idle"), p.pid);
  CHECK_EQ(tr_whereis(h, "someone"), 0);
  CHECK_EQ(tr_mailbox_count(h, p.pid), 0);
  tr_host_get_stats(h, &st);
  CHECK_EQ(st.actors, 1);
  CHECK_EQ(st.timers, 0);
  CHECK_EQ(tr_host_step(h), 0);
  CHECK_EQ(st.delivered, 0);
  tr_host_free(h);
}

static void test_no_host(void) {
  probe p;
  memset(&p, 0, sizeof p);
  p.pid = 1;
  call_all(&p);
  check_all(&p, TR_EINVAL);
}

int main(void) {
  RUN(test_other_thread);
  RUN(test_no_host);
  return test_report();
}
