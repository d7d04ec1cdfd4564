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

int main(void) {
  harness_start(600);
  harness_hold h;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  /* the held sync then fails */
  JET_INSTANCE inst = harness_hold_backup(&h, "eio-slice", "edb.dwb", ":eio", "eslice", 1024, NREC, &s, &db, &t);
  harness_hold_slice(inst, &h);
  harness_commit_keys(s, t, "c", 0, 20, 0);
  unlink(h.gate);
  int more = 1;
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
  harness_expect_recovered(&h, "eslice2", NREC, 20);
  printf("eio_during_slice: ok\n");
  return 0;
}
