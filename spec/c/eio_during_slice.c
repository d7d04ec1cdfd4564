/*
 * eio_during_slice.c -- review of issue 13: an I/O error in a slice's
 * unlocked part.  A slice on the backup's worker is held in its
 * double-write ring sync, which then fails with EIO
 * (ESE_FAULT=holdsync:edb.dwb:GATE:eio); meanwhile a transaction commits
 * durably.  The next step answers JET_errDiskIO (or, the instance made
 * unavailable by it, JET_errInstanceUnavailable), the instance is
 * unavailable (a commit answers JET_errInstanceUnavailable),
 * and after a new instance's recovery every record committed is there.
 *   eio_during_slice
 */
#define HARNESS_NAME "eio_during_slice"
#include "harness.h"

#define NREC 3000

static int exists(const char *p) { return access(p, F_OK) == 0; }

static void nap_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

int main(void) {
  harness_start(240);
  char root[64], dir[300], dbpath[400], gate[400], held[420], fault[500];
  harness_tempdir(root, sizeof root, "eio-slice");
  harness_fresh_dir(dir, sizeof dir, root, "db");
  snprintf(dbpath, sizeof dbpath, "%s/app.edb", dir);
  snprintf(gate, sizeof gate, "%s/gate", root);
  snprintf(held, sizeof held, "%s.held", gate);
  snprintf(fault, sizeof fault, "holdsync:edb.dwb:%s:eio", gate);
  setenv("ESE_FAULT", fault, 1);   /* a sync held while GATE exists, then failed */
  char name[64];
  JET_INSTANCE inst;
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "eslice"), dir, 1024, 20000));
  CK(JetInit(&inst));
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  harness_backup_dirty(inst, dbpath, NREC, &s, &db, &t);
  int more = 0;
  CK(EseBackupStep(inst, ESE_bitBackupStepCutOff, &more));
  if (!more) FAIL("the cut-off left no checkpoint to take");
  FILE *g = fopen(gate, "w");
  if (!g || fclose(g) != 0) FAIL("cannot make %s", gate);
  CK(EseBackupStep(inst, 0, &more));
  if (!more) FAIL("the step took no slice");
  for (int i = 0; i < 60000 && !exists(held); i++) nap_ms(1);
  if (!exists(held)) FAIL("the slice was not held");
  CK(JetBeginTransaction(s));
  harness_put_keys(s, t, "c", 0, 20);
  CK(JetCommitTransaction(s, 0));
  unlink(gate);
  JET_ERR e = JET_errSuccess;
  for (int steps = 0; e == JET_errSuccess && more && steps < 1000000; steps++) e = EseBackupStep(inst, 0, &more);
  printf("eio_during_slice: the step after the failed ring sync answered %ld\n", (long)e);
  if (e != JET_errDiskIO && e != JET_errInstanceUnavailable)
    FAIL("the slice's failed ring sync was answered %ld, want JET_errDiskIO or JET_errInstanceUnavailable", (long)e);
  unsetenv("ESE_FAULT");
  JET_ERR ce = EsePut(s, t, "late", 4, "x", 1);
  if (ce != JET_errInstanceUnavailable) FAIL("a put after the failed slice answered %ld", (long)ce);
  (void)JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort);
  (void)JetTerm(inst);
  JET_INSTANCE i2 = harness_open_dir("eslice2", dir, &s, &t);
  harness_expect_keys(s, t, "a", 0, NREC, 1, "after recovery");
  harness_expect_keys(s, t, "b", 0, NREC, 1, "after recovery");
  harness_expect_keys(s, t, "c", 0, 20, 1, "after recovery");
  CK(JetTerm2(i2, JET_bitTermComplete));
  harness_rm_rf(root);
  printf("eio_during_slice: ok\n");
  return 0;
}
