/*
 * enter_within.c -- issue 13 review: a call that waits a bounded time for
 * one instance's lock (inst_enter_handle_within: EseBackupStep's entry)
 * holds no process-wide lock meanwhile, so calls on other instances go on.
 * Instance A's lock is held by this program (instance.h: inst_lock); a
 * thread waits for it with inst_enter_handle_within and a long bound; once
 * it waits (A->entering > 0), calls on instance B (EseBackupStep, a
 * session) must return while that wait goes on.  A call on B that waited
 * is reported after WAIT_S seconds (A is then released so the program
 * ends).  Then A is released: the waiter enters it.
 *   enter_within
 */
#define HARNESS_NAME "enter_within"
#include <pthread.h>
#include <stdatomic.h>
#include "harness.h"
#include "instance.h"

#define WAIT_S 60

static JET_INSTANCE a_h;
static atomic_int waited;
static JET_ERR waiter_err;
static int waiter_busy;

static void *waiter(void *unused) {
  (void)unused;
  esinst *got = NULL;
  waiter_err = inst_enter_handle_within(a_h, (uint64_t)4 * WAIT_S * 1000000u, &got, &waiter_busy);
  if (waiter_err == JET_errSuccess && !waiter_busy) inst_leave(got);
  atomic_store(&waited, 1);
  return NULL;
}

static JET_INSTANCE make(const char *root, const char *tag) {
  char dir[300], name[64];
  JET_INSTANCE h;
  harness_fresh_dir(dir, sizeof dir, root, tag);
  CK(harness_instance(&h, harness_unique_name(name, sizeof name, tag), dir, 0, 0));
  CK(JetInit(&h));
  return h;
}

/* A waiter started on a_h while this thread holds A's lock; returns once
 * it waits. */
static pthread_t start_waiter(esinst *A) {
  pthread_t th;
  atomic_store(&waited, 0);
  if (pthread_create(&th, NULL, waiter, NULL) != 0) FAIL("pthread_create");
  while (atomic_load(&A->entering) == 0) harness_nap_ms(1);
  return th;
}

static atomic_int b_done;
static JET_INSTANCE b_h;

static void *b_calls(void *unused) {
  (void)unused;
  int more = 0;
  harness_expect_err(EseBackupStep(b_h, 0, &more), JET_errNoBackup, "EseBackupStep on B");
  JET_SESID s;
  CK(JetBeginSession(b_h, &s, NULL, NULL));
  CK(JetEndSession(s, 0));
  atomic_store(&b_done, 1);
  return NULL;
}

int main(void) {
  harness_start(4 * WAIT_S);
  char root[64];
  harness_tempdir(root, sizeof root, "enter-within");
  a_h = make(root, "a");
  b_h = make(root, "b");
  esinst *A = (esinst *)a_h;

  inst_lock(A);
  pthread_t th = start_waiter(A);
  pthread_t bt;
  if (pthread_create(&bt, NULL, b_calls, NULL) != 0) FAIL("pthread_create");
  for (int i = 0; i < WAIT_S * 100 && !atomic_load(&b_done); i++) harness_nap_ms(10);
  int done = atomic_load(&b_done), still = !atomic_load(&waited);
  inst_unlock(A);
  pthread_join(bt, NULL);
  pthread_join(th, NULL);
  if (!done) FAIL("calls on instance B waited while a call waited for instance A's lock (%d s)", WAIT_S);
  if (!still) FAIL("the waiter on A was not waiting when B's calls returned");
  if (waiter_err != JET_errSuccess || waiter_busy)
    FAIL("the waiter on A did not enter it once free: %s, busy %d", harness_err_name(waiter_err), waiter_busy);
  printf("enter_within: B's calls returned while a call waited for A's lock\n");

  CK(JetTerm(a_h));
  CK(JetTerm(b_h));
  harness_rm_rf(root);
  printf("enter_within: ok\n");
  return 0;
}
