/*
 * commit_during_slice.c -- issue 13: the application's commits never wait
 * for a backup's checkpoint slice.  A slice runs on the backup's worker
 * (EseBackupStep) and is held inside its double-write ring sync
 * (ESE_FAULT=holdsync:edb.dwb:GATE: the sync waits while GATE exists and
 * shows it by GATE.held); meanwhile another thread commits records and
 * reads them back.  Asserts that the commit and the read returned while
 * the slice was still held (GATE.held still there: no timing), then lets
 * the slice go on, ends the checkpoint and checks every record after a
 * new instance's recovery.  A commit that waits for the slice is reported
 * after WAIT_S seconds (the gate is then removed so the program ends).
 *   commit_during_slice
 */
#define HARNESS_NAME "commit_during_slice"
#include <pthread.h>
#include <stdatomic.h>
#include "harness.h"

#define NREC 3000
#define WAIT_S 60

static JET_INSTANCE inst;

int main(void) {
  harness_start(4 * WAIT_S);
  harness_hold h;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  /* the cut-off's checkpoint has batches to write */
  inst = harness_hold_backup(&h, "commit-slice", "edb.dwb", "", "slice", 1024, NREC, &s, &db, &t);
  /* the second session, opened before the slice runs */
  harness_app *a = harness_app_state();
  a->where = "read back during the slice";
  CK(harness_open_table(inst, h.dbpath, 0, "t", &a->s, &db, &a->t));

  /* a slice on the worker, held in its ring sync */
  harness_hold_slice(inst, &h);

  pthread_t th;
  if (pthread_create(&th, NULL, harness_app_thread, NULL) != 0) FAIL("pthread_create");
  for (int i = 0; i < WAIT_S * 100 && !atomic_load(&a->committed); i++) harness_nap_ms(10);
  int done = atomic_load(&a->committed), still = harness_exists(h.held);
  unlink(h.gate);
  pthread_join(th, NULL);
  if (!done) FAIL("the commit waited for the checkpoint slice held in its ring sync (%d s)", WAIT_S);
  if (!still) FAIL("the slice was not held when the commit returned");
  printf("commit_during_slice: a commit and a read returned while the slice was held in its sync\n");

  /* the slice goes on; the checkpoint ends */
  harness_step_checkpoint(inst);
  CK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
  CK(JetTerm(inst));   /* not clean: recovery replays from the slices' checkpoint */
  harness_expect_recovered(&h, "slice2", NREC, 20);
  printf("commit_during_slice: ok\n");
  return 0;
}
