/*
 * detach_during_slice.c -- review of issue 13: a detach that waits for a
 * checkpoint slice's unlocked I/O must not act on checks it made before
 * that wait.  JetBeginExternalBackupInstance (no backup exists yet) takes
 * its checkpoint in slices, one held inside its double-write ring sync
 * (ESE_FAULT=holdsync:edb.dwb:GATE); meanwhile JetDetachDatabase of the
 * database (no session has it open) waits for that I/O, and then another
 * session opens the database.  When the slice goes on, the detach must
 * not close the database under that session (nor detach it under the
 * backup Begin made meanwhile): it answers JET_errDatabaseInUse or
 * JET_errBackupInProgress, and the session reads its records.
 *   detach_during_slice
 */
#define HARNESS_NAME "detach_during_slice"
#include <pthread.h>
#include <stdatomic.h>
#include "harness.h"

#define NREC 3000
#define WAIT_S 60

static JET_INSTANCE inst;
static JET_SESID sa;
static harness_hold h;
static atomic_long begin_err, detach_err;
static atomic_int begun, detached;

static void *begin_thread(void *unused) {
  (void)unused;
  atomic_store(&begin_err, JetBeginExternalBackupInstance(inst, 0));
  atomic_store(&begun, 1);
  return NULL;
}

static void *detach_thread(void *unused) {
  (void)unused;
  atomic_store(&detach_err, JetDetachDatabase(sa, h.dbpath));
  atomic_store(&detached, 1);
  return NULL;
}

int main(void) {
  harness_start(4 * WAIT_S);
  harness_hold_setup(&h, "detach-slice", "");
  harness_hold_instance(&h, "dslice", 256, &inst);
  JET_DBID db;
  JET_TABLEID t;
  harness_dirty_rounds(inst, h.dbpath, NREC, &sa, &db, &t);
  CK(EseCloseTable(sa, t));
  CK(JetCloseDatabase(sa, db, 0));
  JET_SESID sc;
  CK(JetBeginSession(inst, &sc, NULL, NULL));

  pthread_t tb, ta;
  harness_hold_thread(&h, &tb, begin_thread, &begun, &begin_err, WAIT_S * 1000, "Begin's checkpoint slice");
  /* the detach: its checks pass (no backup yet, the database not open),
   * then it waits for the slice's I/O */
  if (pthread_create(&ta, NULL, detach_thread, NULL) != 0) FAIL("pthread_create");
  harness_nap_ms(500);
  int early = atomic_load(&detached);
  /* another session opens the database meanwhile */
  JET_DBID dbc;
  JET_ERR oe = JetOpenDatabase(sc, h.dbpath, NULL, &dbc, 0);
  unlink(h.gate);
  pthread_join(tb, NULL);
  pthread_join(ta, NULL);
  if (early) FAIL("the detach returned (%ld) while the slice was held", (long)atomic_load(&detach_err));
  JET_ERR de = atomic_load(&detach_err), be = atomic_load(&begin_err);
  printf("detach_during_slice: Begin %ld, open %ld, detach %ld\n", (long)be, (long)oe, (long)de);
  harness_expect_err(be, JET_errSuccess, "the Begin whose slice was held while the detach waited");
  if (oe < 0) FAIL("the open during the slice failed: %ld", (long)oe);
  if (de >= 0) FAIL("the detach succeeded while a session had the database open (it checked before its wait)");
  if (de != JET_errDatabaseInUse && de != JET_errBackupInProgress) FAIL("the detach answered %ld", (long)de);
  JET_TABLEID tc;
  CK(EseOpenTable(sc, dbc, "t", &tc));
  harness_expect_keys(sc, tc, "k3", 0, NREC, 1, "read after the detach");
  CK(EseCloseTable(sc, tc));
  CK(JetCloseDatabase(sc, dbc, 0));
  CK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
  CK(JetTerm2(inst, JET_bitTermComplete));
  unsetenv("ESE_FAULT");
  JET_SESID s;
  JET_INSTANCE i2 = harness_open_dir("dslice2", h.dir, &s, &t);
  harness_expect_rounds(s, t, NREC, "after a new instance");
  CK(JetTerm2(i2, JET_bitTermComplete));
  harness_rm_rf(h.root);
  printf("detach_during_slice: ok\n");
  return 0;
}
