/*
 * commit_ckpt_due.c -- a commit that finds a checkpoint due takes it in
 * slices, the instance lock released in each slice's I/O and between two
 * slices, so that the application's other sessions go on meanwhile (a
 * blocking checkpoint held the lock for all of its write-back).
 *
 * Thread A commits keys "a" ten at a time on an instance with 128 KiB log
 * files and a checkpoint depth of 0 (the commit after each roll takes a
 * checkpoint) until one of its commits is held in its checkpoint's
 * double-write ring sync (ESE_FAULT=holdsync:edb.dwb:GATE: the sync waits
 * while GATE exists and shows it by GATE.held).  Meanwhile the
 * application's thread commits keys "c" on a second session and reads them
 * back.  Asserts that this returned while A's checkpoint was still held
 * (GATE.held still there: no timing), then lets A go on, and checks every
 * key A committed and the "c" keys after a new instance's recovery.  A
 * commit that waits for the checkpoint is reported after WAIT_S seconds
 * (the gate is then removed so that the program ends).
 * With "eio" the held sync then fails (holdsync:...:eio): the held commit
 * still answers success (it was durable before its checkpoint began: the
 * checkpoint's start flushes the log), the instance is unavailable after
 * it (JET_errInstanceUnavailable), and recovery finds every key.
 *   commit_ckpt_due [eio]
 */
#define HARNESS_NAME "commit_ckpt_due"
#include <pthread.h>
#include <stdatomic.h>
#include "harness.h"

#define WAIT_S 60
#define BATCH 10
#define MAX_KEYS 200000

static JET_SESID sa;
static JET_TABLEID ta;
static atomic_int a_keys, a_stop, a_done;
static atomic_long a_err;

/* Thread A: batches of "a" keys, durable, until told to stop. */
static void *writer(void *unused) {
  (void)unused;
  JET_ERR e = JET_errSuccess;
  int n = 0;
  while (!atomic_load(&a_stop) && n < MAX_KEYS && e == JET_errSuccess) {
    e = JetBeginTransaction(sa);
    if (e == JET_errSuccess) harness_put_keys(sa, ta, "a", n, n + BATCH);
    if (e == JET_errSuccess) e = JetCommitTransaction(sa, 0);
    if (e == JET_errSuccess) atomic_store(&a_keys, n += BATCH);
  }
  atomic_store(&a_err, e);
  atomic_store(&a_done, 1);
  return NULL;
}

int main(int argc, char **argv) {
  int eio = argc > 1 && !strcmp(argv[1], "eio");
  harness_start(4 * WAIT_S);
  harness_hold h;
  JET_INSTANCE inst;
  JET_DBID db;
  char name[64];
  harness_hold_setup(&h, "ckpt-due", eio ? ":eio" : "");
  HARNESS_CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "ckdue"), h.dir, 128, 20000), FAIL);
  HARNESS_CK(JetSetSystemParameter(&inst, 0, JET_paramCheckpointDepthMax, 0, NULL), FAIL);
  HARNESS_CK(JetInit(&inst), FAIL);
  HARNESS_CK(harness_create_table(inst, h.dbpath, "t", &sa, &db, &ta), FAIL);
  harness_app *app = harness_app_state();
  app->where = "read back during the held checkpoint";
  CK(harness_open_table(inst, h.dbpath, 0, "t", &app->s, &db, &app->t));

  /* A's commits until one's checkpoint is held in its ring sync */
  pthread_t tw;
  harness_hold_thread(&h, &tw, writer, &a_done, &a_err, 60000, "a commit's checkpoint");

  pthread_t th;
  if (pthread_create(&th, NULL, harness_app_thread, NULL) != 0) FAIL("pthread_create");
  for (int i = 0; i < WAIT_S * 100 && !atomic_load(&app->committed); i++) harness_nap_ms(10);
  int done = atomic_load(&app->committed), still = harness_exists(h.held) && !atomic_load(&a_done);
  atomic_store(&a_stop, 1);
  unlink(h.gate);
  pthread_join(th, NULL);
  pthread_join(tw, NULL);
  if (!done) FAIL("another session's commit waited for a commit's checkpoint held in its ring sync (%d s)", WAIT_S);
  if (!still) FAIL("the checkpoint was not held when the other session's commit returned");
  CK((JET_ERR)atomic_load(&a_err));   /* the held commit too: its answer is its flush's */
  int n = atomic_load(&a_keys);
  printf("commit_ckpt_due: another session committed and read while a commit's checkpoint was held (%d keys)\n", n);
  if (eio) {
    JET_ERR e = JetBeginTransaction(sa);
    if (e != JET_errInstanceUnavailable) FAIL("after the checkpoint's failed sync a begin answered %ld", (long)e);
    printf("commit_ckpt_due: the checkpoint's failed sync left the commit answered and the instance unavailable\n");
    (void)JetTerm(inst);
  } else {
    CK(JetTerm(inst));   /* not clean: recovery replays from the last checkpoint */
  }
  JET_SESID s;
  JET_TABLEID t;
  unsetenv("ESE_FAULT");
  JET_INSTANCE i2 = harness_open_dir("ckdue2", h.dir, &s, &t);
  harness_expect_keys(s, t, "a", 0, n, 1, "after recovery");
  harness_expect_keys(s, t, "c", 0, 20, 1, "after recovery");
  CK(JetTerm2(i2, JET_bitTermComplete));
  harness_rm_rf(h.root);
  printf("commit_ckpt_due: ok\n");
  return 0;
}
