/*
 * begin_after_eio.c -- review of issue 13: a call that waits for a
 * checkpoint slice's unlocked I/O answers the state gate after the wait.
 * JetBeginExternalBackupInstance (thread X, no backup yet) takes its
 * checkpoint in slices, one held in its double-write ring sync, which then
 * fails with EIO (ESE_FAULT=holdsync:edb.dwb:GATE:eio); meanwhile a
 * stepwise Begin (thread Y) waits for that I/O in ckpt_start.  X's failure
 * makes the instance unavailable: Y must not then answer success (it made
 * a backup of an unavailable instance before).
 *   begin_after_eio
 */
#define HARNESS_NAME "begin_after_eio"
#include <pthread.h>
#include "harness.h"

#define NREC 3000

static JET_INSTANCE inst;
static atomic_long x_err, y_err;
static atomic_int x_done, y_done;

static void *begin_x(void *unused) {
  (void)unused;
  atomic_store(&x_err, JetBeginExternalBackupInstance(inst, 0));
  atomic_store(&x_done, 1);
  return NULL;
}

static void *begin_y(void *unused) {
  (void)unused;
  atomic_store(&y_err, JetBeginExternalBackupInstance(inst, ESE_bitBackupStepwise));
  atomic_store(&y_done, 1);
  return NULL;
}

int main(void) {
  harness_start(600);
  harness_hold h;
  harness_hold_setup(&h, "begin-eio", ":eio");
  harness_hold_instance(&h, "beio", 256, &inst);
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  harness_dirty_rounds(inst, h.dbpath, NREC, &s, &db, &t);
  pthread_t tx, ty;
  harness_hold_thread(&h, &tx, begin_x, &x_done, &x_err, 60000, "Begin's checkpoint slice");
  if (pthread_create(&ty, NULL, begin_y, NULL) != 0) FAIL("pthread_create");
  harness_nap_ms(500);   /* Y waits for X's slice */
  int early = atomic_load(&y_done);
  unlink(h.gate);
  pthread_join(tx, NULL);
  pthread_join(ty, NULL);
  JET_ERR xe = atomic_load(&x_err), ye = atomic_load(&y_err);
  printf("begin_after_eio: Begin %ld, stepwise Begin %ld\n", (long)xe, (long)ye);
  if (early) FAIL("the stepwise Begin returned (%ld) while the slice was held", (long)ye);
  harness_expect_err(xe, JET_errDiskIO, "the Begin whose ring sync failed");
  harness_expect_err(ye, JET_errInstanceUnavailable, "the stepwise Begin that waited for it (the instance unavailable)");
  unsetenv("ESE_FAULT");
  (void)JetTerm(inst);
  JET_INSTANCE i2 = harness_open_dir("beio2", h.dir, &s, &t);
  harness_expect_rounds(s, t, NREC, "after recovery");
  CK(JetTerm2(i2, JET_bitTermComplete));
  harness_rm_rf(h.root);
  printf("begin_after_eio: ok\n");
  return 0;
}
