/*
 * test_name.c -- registered names: register, whereis, unregister; one name
 * per actor and one actor per name; names released on death and re-taken
 * by a replacement; tr_send_named; bad names; a thousand names at once.
 */
#include <stdint.h>
#include <stdlib.h>

#include "test.h"

/* ------------------------------------------------------------ helpers */

/* Counts what it handles into the int its argument points at. */
static int count_init(tr_actor *self, void *state, tr_msg *args) {
  (void)args;
  *(int **)state = tr_actor_ctx(self);
  return 0;
}

static int count_handle(tr_actor *self, void *state, tr_msg *m) {
  (void)self;
  if (m)
    (**(int **)state)++;
  return TR_CONTINUE;
}

static const tr_behaviour count_b = {"count", sizeof(int *), count_init,
                                     count_handle, NULL};

static int dummy_count;

static tr_pid spawn_named(tr_host *h, const char *name, int *count) {
  tr_spawn_opts o = {0};
  tr_pid pid = 0;
  o.name = name;
  CHECK_EQ(
      test_spawn_ctx(h, &count_b, (count ? count : &dummy_count), &o, &pid),
      TR_OK);
  return pid;
}

static tr_pid spawn_count(tr_host *h, int *count) {
  return spawn_named(h, NULL, count);
}

static tr_host_stats stats_of(tr_host *h) {
  tr_host_stats st;
  tr_host_get_stats(h, &st);
  return st;
}

/* -------------------------------------------------------------- tests */

static void test_register_whereis_unregister(void) {
  tr_host *h = tr_host_new(NULL);
  tr_pid a = spawn_count(h, NULL), b = spawn_count(h, NULL);

  CHECK_EQ(tr_whereis(h, "alpha"), 0);
  CHECK(tr_actor_name(h, a) == NULL);
  CHECK_EQ(tr_register(h, "alpha", a), TR_OK);
  CHECK_EQ(tr_register(h, "beta", b), TR_OK);
  CHECK_EQ(tr_whereis(h, "alpha"), a);
  CHECK_EQ(tr_whereis(h, "beta"), b);
  CHECK_STR(tr_actor_name(h, a), "alpha");
  CHECK_STR(tr_actor_name(h, b), "beta");

  CHECK_EQ(tr_unregister(h, "alpha"), TR_OK);
  CHECK_EQ(tr_whereis(h, "alpha"), 0);
  CHECK(tr_actor_name(h, a) == NULL);
  CHECK(tr_alive(h, a)); /* the actor lives on, nameless */
  CHECK_EQ(tr_unregister(h, "alpha"), TR_ENOPROC);
  CHECK_EQ(tr_unregister(h, "never"), TR_ENOPROC);
  CHECK_EQ(tr_whereis(h, "beta"), b);

  /* Free again: anyone may take it, the old holder too. */
  CHECK_EQ(tr_register(h, "alpha", a), TR_OK);
  CHECK_EQ(tr_whereis(h, "alpha"), a);
  tr_host_free(h);
}

static void test_one_name_one_actor(void) {
  tr_host *h = tr_host_new(NULL);
  tr_pid a = spawn_count(h, NULL), b = spawn_count(h, NULL);

  CHECK_EQ(tr_register(h, "svc", a), TR_OK);
  CHECK_EQ(tr_register(h, "svc", b), TR_EEXIST);   /* taken */
  CHECK_EQ(tr_register(h, "svc", a), TR_EEXIST);   /* even by itself */
  CHECK_EQ(tr_register(h, "other", a), TR_EEXIST); /* one name each */
  CHECK_EQ(tr_whereis(h, "svc"), a);
  CHECK_EQ(tr_whereis(h, "other"), 0);
  CHECK_STR(tr_actor_name(h, a), "svc");
  CHECK(tr_actor_name(h, b) == NULL);
  tr_host_free(h);
}

static void test_released_on_death_and_retaken(void) {
  tr_host *h = tr_host_new(NULL);
  int first = 0, second = 0;
  tr_pid a = spawn_named(h, "store", &first), b;

  CHECK_EQ(tr_whereis(h, "store"), a);
  CHECK_EQ(tr_kill(h, a, "crashed"), TR_OK);
  CHECK_EQ(tr_whereis(h, "store"), 0);
  CHECK_EQ(tr_send_named(h, 0, "store", tr_msg_new("lost")), TR_ENOPROC);

  /* The replacement takes the name back; mail by name goes to it. */
  b = spawn_named(h, "store", &second);
  CHECK(b != a);
  CHECK_EQ(tr_whereis(h, "store"), b);
  CHECK_EQ(tr_send_named(h, 0, "store", tr_msg_new("hi")), TR_OK);
  CHECK(test_wait(h, &second, 1000));
  CHECK_EQ(first, 0);

  /* A normal end releases it too. */
  CHECK_EQ(tr_kill(h, b, "normal"), TR_OK);
  CHECK_EQ(tr_whereis(h, "store"), 0);
  tr_host_free(h);
}

static void test_send_named(void) {
  tr_host *h = tr_host_new(NULL);
  int n = 0;
  tr_pid a = spawn_named(h, "sink", &n);
  tr_host_stats st;

  CHECK_EQ(tr_send_named(h, a, "sink", tr_msg_new("1")), TR_OK);
  CHECK_EQ(tr_send_named(h, 0, "sink", tr_msg_new("2")), TR_OK);
  CHECK_EQ(tr_send_named(h, 0, "nobody", tr_msg_new("3")), TR_ENOPROC);
  CHECK_EQ(tr_send_named(h, 0, NULL, tr_msg_new("4")), TR_EINVAL);
  CHECK_EQ(tr_send_named(NULL, 0, "sink", tr_msg_new("5")), TR_EINVAL);
  CHECK_EQ(tr_send_named(h, 0, "sink", NULL), TR_EINVAL);
  while (tr_host_step(h) > 0)
    ;
  CHECK_EQ(n, 2);
  st = stats_of(h);
  CHECK_EQ(st.dead_letters, 1); /* the unknown name */
  CHECK_EQ(st.delivered, 2);
  tr_host_free(h);
}

static void test_bad_names(void) {
  tr_host *h = tr_host_new(NULL);
  tr_pid a = spawn_count(h, NULL), dead = spawn_count(h, NULL);
  char longest[256], too_long[257];

  memset(longest, 'n', 255);
  longest[255] = '\0';
  memset(too_long, 'x', 256);
  too_long[256] = '\0';

  CHECK_EQ(tr_register(h, "", a), TR_EINVAL);
  CHECK_EQ(tr_register(h, NULL, a), TR_EINVAL);
  CHECK_EQ(tr_register(h, too_long, a), TR_EINVAL);
  CHECK_EQ(tr_register(NULL, "x", a), TR_EINVAL);
  CHECK_EQ(tr_whereis(h, too_long), 0);
  CHECK_EQ(tr_whereis(h, NULL), 0);
  CHECK_EQ(tr_unregister(h, NULL), TR_EINVAL);
  CHECK(tr_actor_name(h, a) == NULL);

  CHECK_EQ(tr_kill(h, dead, "normal"), TR_OK);
  CHECK_EQ(tr_register(h, "ghost", dead), TR_ENOPROC);
  CHECK_EQ(tr_register(h, "ghost", 0), TR_ENOPROC);
  CHECK_EQ(tr_whereis(h, "ghost"), 0);

  CHECK_EQ(tr_register(h, longest, a), TR_OK); /* 255 bytes is fine */
  CHECK_EQ(tr_whereis(h, longest), a);
  tr_host_free(h);
}

static void test_spawn_with_a_bad_name(void) {
  tr_host *h = tr_host_new(NULL);
  static const tr_behaviour b = {"count", sizeof(int *), count_init,
                                 count_handle, NULL};
  tr_spawn_opts o = {0};
  tr_pid pid = 1;

  o.name = "";
  CHECK_EQ(tr_spawn(h, &b, tr_msg_pack("a", "I", (int64_t)0), &o, &pid),
           TR_EINVAL);
  CHECK_EQ(pid, 0);
  CHECK_EQ(stats_of(h).actors, 0);
  tr_host_free(h);
}

/* A thousand names: the table grows, and removals (every other one, then
 * the rest) never lose a name that is still registered. */
static void test_many_names(void) {
  enum { N = 1000 };
  tr_host *h = tr_host_new(NULL);
  static tr_pid pids[N];
  char name[32];
  int i, found = 0, gone = 0, again = 0;

  for (i = 0; i < N; i++) {
    snprintf(name, sizeof name, "actor-%d", i);
    pids[i] = spawn_named(h, name, NULL);
  }
  for (i = 0; i < N; i++) {
    snprintf(name, sizeof name, "actor-%d", i);
    found += tr_whereis(h, name) == pids[i];
  }
  CHECK_EQ(found, N);

  /* Unregister the even ones, kill every third odd one. */
  for (i = 0; i < N; i += 2) {
    snprintf(name, sizeof name, "actor-%d", i);
    CHECK_EQ(tr_unregister(h, name), TR_OK);
  }
  for (i = 1; i < N; i += 6)
    CHECK_EQ(tr_kill(h, pids[i], "normal"), TR_OK);
  found = gone = 0;
  for (i = 0; i < N; i++) {
    int killed = i % 2 == 1 && (i - 1) % 6 == 0;
    tr_pid want = i % 2 == 0 || killed ? 0 : pids[i];
    snprintf(name, sizeof name, "actor-%d", i);
    if (tr_whereis(h, name) == want)
      found++;
    if (!want)
      gone++;
  }
  CHECK_EQ(found, N);
  CHECK(gone > N / 2);

  /* The freed names can be taken again: each even name by the next even
   * actor (nameless since its own went). */
  for (i = 0; i < N; i += 2) {
    snprintf(name, sizeof name, "actor-%d", i);
    again += tr_register(h, name, pids[(i + 2) % N]) == TR_OK;
  }
  CHECK_EQ(again, N / 2);
  CHECK_EQ(tr_whereis(h, "actor-0"), pids[2]);
  CHECK_EQ(tr_whereis(h, "actor-998"), pids[0]);
  CHECK_STR(tr_actor_name(h, pids[0]), "actor-998");

  /* Everyone dies: every name goes with its actor. */
  tr_host_stop(h);
  CHECK_EQ(tr_host_step(h), TR_ESTOPPED);
  found = 0;
  for (i = 0; i < N; i++) {
    snprintf(name, sizeof name, "actor-%d", i);
    found += tr_whereis(h, name) != 0;
  }
  CHECK_EQ(found, 0);
  tr_host_free(h);
}

/* Random registers, unregisters and deaths checked against a model: the
 * table stays small and crowded, so probing runs wrap around its end and
 * removals shift entries back across it. */
static void test_names_against_a_model(void) {
  enum { ACTORS = 48, NAMES = 160, OPS = 20000 };
  tr_host *h = tr_host_new(NULL);
  tr_pid pids[ACTORS];
  int owner[NAMES], named[ACTORS]; /* -1: none */
  uint64_t rng = 0x9e3779b97f4a7c15ull;
  int i, op, bad_rc = 0, bad_lookup = 0;
  char name[16];

  for (i = 0; i < ACTORS; i++) {
    pids[i] = spawn_count(h, NULL);
    named[i] = -1;
  }
  for (i = 0; i < NAMES; i++)
    owner[i] = -1;
  for (op = 0; op < OPS; op++) {
    int n, j, rc, want;
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    n = (int)(rng % NAMES);
    j = (int)((rng >> 16) % ACTORS);
    snprintf(name, sizeof name, "n%d", n);
    switch ((rng >> 32) % 8) {
    case 0: /* the actor dies and is replaced, nameless */
      if (named[j] >= 0)
        owner[named[j]] = -1;
      named[j] = -1;
      tr_kill(h, pids[j], "normal");
      pids[j] = spawn_count(h, NULL);
      break;
    case 1:
    case 2:
    case 3: /* unregister */
      want = owner[n] >= 0 ? TR_OK : TR_ENOPROC;
      rc = tr_unregister(h, name);
      bad_rc += rc != want;
      if (rc == TR_OK) {
        named[owner[n]] = -1;
        owner[n] = -1;
      }
      break;
    default: /* register */
      want = owner[n] >= 0 || named[j] >= 0 ? TR_EEXIST : TR_OK;
      rc = tr_register(h, name, pids[j]);
      bad_rc += rc != want;
      if (rc == TR_OK) {
        owner[n] = j;
        named[j] = n;
      }
    }
    if (op % 50 == 0 || op == OPS - 1) {
      for (i = 0; i < NAMES; i++) {
        snprintf(name, sizeof name, "n%d", i);
        bad_lookup +=
            tr_whereis(h, name) != (owner[i] >= 0 ? pids[owner[i]] : 0);
      }
      for (i = 0; i < ACTORS; i++) {
        const char *got = tr_actor_name(h, pids[i]);
        snprintf(name, sizeof name, "n%d", named[i]);
        bad_lookup += named[i] < 0 ? got != NULL : !got || strcmp(got, name);
      }
    }
  }
  CHECK_EQ(bad_rc, 0);
  CHECK_EQ(bad_lookup, 0);
  tr_host_free(h);
}

/* Names and slots are per host. */
static void test_names_are_per_host(void) {
  tr_host *a = tr_host_new(NULL), *b = tr_host_new(NULL);
  tr_pid pa = spawn_named(a, "same", NULL), pb = spawn_named(b, "same", NULL);
  CHECK_EQ(tr_whereis(a, "same"), pa);
  CHECK_EQ(tr_whereis(b, "same"), pb);
  CHECK_EQ(tr_unregister(a, "same"), TR_OK);
  CHECK_EQ(tr_whereis(b, "same"), pb);
  tr_host_free(a);
  tr_host_free(b);
}

int main(void) {
  RUN(test_register_whereis_unregister);
  RUN(test_one_name_one_actor);
  RUN(test_released_on_death_and_retaken);
  RUN(test_send_named);
  RUN(test_bad_names);
  RUN(test_spawn_with_a_bad_name);
  RUN(test_many_names);
  RUN(test_names_against_a_model);
  RUN(test_names_are_per_host);
  return test_report();
}
