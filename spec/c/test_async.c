/*
 * test_async.c -- tr_host_call_async: a call from the main thread whose
 * answer comes to a callback inside a later tr_host_step, never blocking
 * the frame, with tr_call's guarantees: exactly one answer (a reply, an
 * error reply, a timeout, the callee's end at once, the host's shutdown),
 * and none after tr_host_call_cancel.
 */
#include "test.h"

typedef struct answer {
  int calls; /* times the callback ran */
  int rc;    /* its rc */
  char text[64];
} answer;

static void on_answer(tr_host *h, void *ud, int rc, tr_msg *reply) {
  answer *a = ud;
  const char *s;
  size_t len;
  (void)h;
  a->calls++;
  a->rc = rc;
  a->text[0] = '\0';
  if (reply && tr_msg_unpack(reply, "s", &s, &len) == TR_OK)
    test_copy_str(a->text, sizeof a->text, s, len);
}

/* server: "echo" replies with its argument, "refuse" with an error reply,
 * "hold" is never answered, "die" ends it without an answer. */
static int server_handle(tr_actor *self, void *state, tr_msg *m) {
  tr_host *h = tr_actor_host(self);
  const char *s;
  size_t len;
  (void)state;
  if (tr_msg_is(m, "echo") && tr_msg_unpack(m, "s", &s, &len) == TR_OK)
    tr_reply(h, m, tr_msg_pack("echo", "S", s, len));
  else if (tr_msg_is(m, "refuse"))
    tr_reply_error(h, m, "no %s", "way");
  else if (tr_msg_is(m, "die"))
    return TR_STOP;
  return TR_CONTINUE;
}

static const tr_behaviour server = {"server", 0, NULL, server_handle, NULL};

static tr_pid start_server(tr_host *h) {
  tr_pid pid = 0;
  CHECK_EQ(tr_spawn(h, &server, NULL, NULL, &pid), TR_OK);
  return pid;
}

static void test_reply_in_a_later_step(void) {
  tr_host *h = tr_host_new(NULL);
  tr_pid srv = start_server(h), id = 0;
  answer a = {0, 99, ""};
  int i;
  CHECK_EQ(tr_host_call_async(h, srv, tr_msg_pack("echo", "s", "hi"), 5000,
                              on_answer, &a, &id),
           TR_OK);
  CHECK(id != 0);
  CHECK_EQ(a.calls, 0); /* nothing ran yet: the call returned at once */
  STEP_UNTIL(h, a.calls > 0, 10000);
  CHECK_EQ(a.calls, 1);
  CHECK_EQ(a.rc, TR_OK);
  CHECK_STR(a.text, "hi");
  for (i = 0; i < 10; i++)
    tr_host_step(h);
  CHECK_EQ(a.calls, 1);                             /* once */
  CHECK_EQ(tr_host_call_cancel(h, id), TR_ENOPROC); /* it is over */
  tr_host_free(h);
}

static void test_error_reply(void) {
  tr_host *h = tr_host_new(NULL);
  tr_pid srv = start_server(h);
  answer a = {0, 99, ""};
  CHECK_EQ(tr_host_call_async(h, srv, tr_msg_new("refuse"), 5000, on_answer, &a,
                              NULL),
           TR_OK);
  STEP_UNTIL(h, a.calls > 0, 10000);
  CHECK_EQ(a.calls, 1);
  CHECK_EQ(a.rc, TR_EREPLY);
  CHECK_STR(a.text, "no way");
  tr_host_free(h);
}

static void test_timeout(void) {
  tr_host *h = tr_host_new(NULL);
  tr_pid srv = start_server(h);
  answer a = {0, 99, ""};
  CHECK_EQ(
      tr_host_call_async(h, srv, tr_msg_new("hold"), 50, on_answer, &a, NULL),
      TR_OK);
  STEP_UNTIL(h, a.calls > 0, 10000);
  CHECK_EQ(a.calls, 1);
  CHECK_EQ(a.rc, TR_ETIMEDOUT);
  tr_host_free(h);
}

/* The callee ends without answering: the error comes at once, long before
 * the call's own timeout. */
static void test_callee_dies(void) {
  tr_host *h = tr_host_new(NULL);
  tr_pid srv = start_server(h);
  answer a = {0, 99, ""};
  uint64_t start = uv_hrtime();
  CHECK_EQ(
      tr_host_call_async(h, srv, tr_msg_new("die"), 60000, on_answer, &a, NULL),
      TR_OK);
  STEP_UNTIL(h, a.calls > 0, 30000);
  CHECK((uv_hrtime() - start) / 1000000u < 30000);
  CHECK_EQ(a.calls, 1);
  CHECK_EQ(a.rc, TR_ENOPROC);
  tr_host_free(h);
}

static void test_refused_at_once(void) {
  tr_host *h = tr_host_new(NULL);
  tr_pid srv = start_server(h), id = 5;
  answer a = {0, 99, ""};
  int i;
  CHECK_EQ(tr_kill(h, srv, NULL), TR_OK);
  CHECK_EQ(
      tr_host_call_async(h, srv, tr_msg_new("echo"), 0, on_answer, &a, &id),
      TR_ENOPROC);
  CHECK_EQ(id, 0);
  CHECK_EQ(tr_host_call_async(h, srv, tr_msg_new("echo"), 0, NULL, &a, &id),
           TR_EINVAL);
  for (i = 0; i < 10; i++)
    tr_host_step(h);
  CHECK_EQ(a.calls, 0); /* the returned error was the answer */
  tr_host_free(h);
}

static void test_cancel(void) {
  tr_host *h = tr_host_new(NULL);
  tr_pid srv = start_server(h), id = 0;
  answer a = {0, 99, ""};
  int i;
  CHECK_EQ(tr_host_call_async(h, srv, tr_msg_pack("echo", "s", "x"), 0,
                              on_answer, &a, &id),
           TR_OK);
  CHECK_EQ(tr_host_call_cancel(h, id), TR_OK);
  CHECK_EQ(tr_host_call_cancel(h, id), TR_ENOPROC);
  CHECK_EQ(tr_host_call_cancel(h, srv), TR_ENOPROC); /* not a call */
  for (i = 0; i < 20; i++)
    tr_host_step(h);
  CHECK_EQ(a.calls, 0);
  tr_host_free(h);
}

/* Calls still waiting when the host goes are answered TR_ESTOPPED, once. */
static void test_pending_at_shutdown(void) {
  tr_host *h = tr_host_new(NULL);
  tr_pid srv = start_server(h);
  answer a = {0, 99, ""};
  CHECK_EQ(
      tr_host_call_async(h, srv, tr_msg_new("hold"), 0, on_answer, &a, NULL),
      TR_OK);
  tr_host_step(h);
  CHECK_EQ(a.calls, 0);
  tr_host_free(h);
  CHECK_EQ(a.calls, 1);
  CHECK_EQ(a.rc, TR_ESTOPPED);
}

/* Many calls in flight, collected over frames: each answered once. */
static void test_many_in_flight(void) {
  enum { N = 200 };
  tr_host *h = tr_host_new(NULL);
  tr_pid srv = start_server(h);
  answer a[N];
  int i, done = 0, frames = 0;
  memset(a, 0, sizeof a);
  for (i = 0; i < N; i++)
    CHECK_EQ(tr_host_call_async(h, srv, tr_msg_pack("echo", "s", "n"), 10000,
                                on_answer, &a[i], NULL),
             TR_OK);
  while (done < N && frames < 100000) {
    tr_host_step(h);
    frames++;
    for (done = 0, i = 0; i < N; i++)
      done += a[i].calls;
  }
  for (i = 0; i < N; i++) {
    CHECK_EQ(a[i].calls, 1);
    CHECK_EQ(a[i].rc, TR_OK);
  }
  tr_host_free(h);
}

int main(void) {
  RUN(test_reply_in_a_later_step);
  RUN(test_error_reply);
  RUN(test_timeout);
  RUN(test_callee_dies);
  RUN(test_refused_at_once);
  RUN(test_cancel);
  RUN(test_pending_at_shutdown);
  RUN(test_many_in_flight);
  return test_report();
}
