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
static char dbpath[400];
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
  atomic_store(&detach_err, JetDetachDatabase(sa, dbpath));
  atomic_store(&detached, 1);
  return NULL;
}

static int exists(const char *p) { return access(p, F_OK) == 0; }

static void nap_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

int main(void) {
  harness_start(4 * WAIT_S);
  char root[64], dir[300], gate[400], held[420], fault[500];
  harness_tempdir(root, sizeof root, "detach-slice");
  harness_fresh_dir(dir, sizeof dir, root, "db");
  snprintf(dbpath, sizeof dbpath, "%s/app.edb", dir);
  snprintf(gate, sizeof gate, "%s/gate", root);
  snprintf(held, sizeof held, "%s.held", gate);
  snprintf(fault, sizeof fault, "holdsync:edb.dwb:%s", gate);
  setenv("ESE_FAULT", fault, 1);
  char name[64];
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "dslice"), dir, 256, 20000));
  CK(JetInit(&inst));
  JET_DBID db;
  JET_TABLEID t;
  /* dirty pages, and the checkpoint in an older generation than the log's,
   * so Begin takes a checkpoint */
  CK(harness_create_table(inst, dbpath, "t", &sa, &db, &t));
  for (int r = 0; r < 4; r++) {
    char prefix[8];
    snprintf(prefix, sizeof prefix, "k%d", r);
    CK(JetBeginTransaction(sa));
    harness_put_keys(sa, t, prefix, 0, NREC);
    CK(JetCommitTransaction(sa, 0));
  }
  CK(EseCloseTable(sa, t));
  CK(JetCloseDatabase(sa, db, 0));
  JET_SESID sc;
  CK(JetBeginSession(inst, &sc, NULL, NULL));

  FILE *g = fopen(gate, "w");
  if (!g || fclose(g) != 0) FAIL("cannot make %s", gate);
  pthread_t tb, ta;
  if (pthread_create(&tb, NULL, begin_thread, NULL) != 0) FAIL("pthread_create");
  for (int i = 0; i < WAIT_S * 1000 && !exists(held) && !atomic_load(&begun); i++) nap_ms(1);
  if (!exists(held)) {
    unlink(gate);
    FAIL("Begin's checkpoint slice was not held in its ring sync (Begin answered %ld)", (long)atomic_load(&begin_err));
  }
  /* the detach: its checks pass (no backup yet, the database not open),
   * then it waits for the slice's I/O */
  if (pthread_create(&ta, NULL, detach_thread, NULL) != 0) FAIL("pthread_create");
  nap_ms(500);
  int early = atomic_load(&detached);
  /* another session opens the database meanwhile */
  JET_DBID dbc;
  JET_ERR oe = JetOpenDatabase(sc, dbpath, NULL, &dbc, 0);
  unlink(gate);
  pthread_join(tb, NULL);
  pthread_join(ta, NULL);
  if (early) FAIL("the detach returned (%ld) while the slice was held", (long)atomic_load(&detach_err));
  JET_ERR de = atomic_load(&detach_err), be = atomic_load(&begin_err);
  printf("detach_during_slice: Begin %ld, open %ld, detach %ld\n", (long)be, (long)oe, (long)de);
  if (oe < 0) FAIL("the open during the slice failed: %ld", (long)oe);
  if (de >= 0) FAIL("the detach succeeded while a session had the database open (it checked before its wait)");
  if (de != JET_errDatabaseInUse && de != JET_errBackupInProgress) FAIL("the detach answered %ld", (long)de);
  JET_TABLEID tc;
  CK(EseOpenTable(sc, dbc, "t", &tc));
  harness_expect_keys(sc, tc, "k3", 0, NREC, 1, "read after the detach");
  CK(EseCloseTable(sc, tc));
  CK(JetCloseDatabase(sc, dbc, 0));
  if (be >= 0) CK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
  CK(JetTerm2(inst, JET_bitTermComplete));
  unsetenv("ESE_FAULT");
  JET_SESID s;
  JET_INSTANCE i2 = harness_open_dir("dslice2", dir, &s, &t);
  for (int r = 0; r < 4; r++) {
    char prefix[8];
    snprintf(prefix, sizeof prefix, "k%d", r);
    harness_expect_keys(s, t, prefix, 0, NREC, 1, "after a new instance");
  }
  CK(JetTerm2(i2, JET_bitTermComplete));
  harness_rm_rf(root);
  printf("detach_during_slice: ok\n");
  return 0;
}
