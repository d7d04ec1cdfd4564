/*
 * cutoff_after_wait.c -- the backup's cut-off waits (lock released) for a
 * checkpoint slice's unlocked I/O before it rolls the log (cut_off,
 * ckpt_wait_idle); what happened meanwhile is answered before the roll.  A
 * stepwise backup's first slice runs on the backup's worker, held in its
 * double-write ring sync (ESE_FAULT=holdsync:edb.dwb:GATE[:eio]); thread X
 * asks for the log list (JetGetLogInfoInstance2), whose cut-off waits for
 * that slice; meanwhile:
 *   stop     the backup is stopped (JetStopBackupInstance): X answers
 *            JET_errBackupAbortByServer;
 *   end      thread Z ends the backup (JetEndExternalBackupInstance2,
 *            abort), which waits for the slice and for X: X answers
 *            JET_errNoBackup, Z 0;
 *   unavail  the held ring sync then fails (:eio): the instance is
 *            unavailable, X answers JET_errInstanceUnavailable.
 * Either way the log must not roll: no new archived generation (before,
 * the cut-off rolled first and refused after).  Every record is there
 * after a new instance's recovery.
 *   ownslice a full backup begun at once (its checkpoint taken by Begin),
 *            records committed after it: X's cut-off rolls, then X's own
 *            checkpoint (to the cut-off) writes their pages in a slice,
 *            held in its ring sync; thread Z ends the backup meanwhile
 *            (it waits for the slice): X answers JET_errNoBackup, Z 0
 *            (X moved the ended backup to its log list after its last
 *            slice before: an assertion, "illegal backup state move",
 *            which cutoff_races' end case met now and then under load).
 *   cutoff_after_wait [stop|end|unavail|ownslice]   (no argument: all four)
 */
#define HARNESS_NAME "cutoff_after_wait"
#include <pthread.h>
#include <stdatomic.h>
#include "harness.h"

#define NREC 3000

static JET_INSTANCE inst;
static atomic_int x_done, z_done;
static atomic_long x_err, z_err;

static void *list_x(void *unused) {
  (void)unused;
  char buf[4096];
  unsigned long cb = 0;
  JET_LOGINFO li = { .cbSize = sizeof li };
  atomic_store(&x_err, JetGetLogInfoInstance2(inst, buf, sizeof buf, &cb, &li));
  atomic_store(&x_done, 1);
  return NULL;
}

static void *end_z(void *unused) {
  (void)unused;
  atomic_store(&z_err, JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
  atomic_store(&z_done, 1);
  return NULL;
}

static void run_case(const char *name) {
  int stop = !strcmp(name, "stop"), end = !strcmp(name, "end");
  atomic_store(&x_done, 0);
  atomic_store(&z_done, 0);
  char tag[32];
  snprintf(tag, sizeof tag, "cutwait-%s", name);
  harness_hold h;
  harness_hold_setup(&h, tag, stop || end ? "" : ":eio");
  harness_hold_instance(&h, name, 256, &inst);
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  harness_dirty_rounds(inst, h.dbpath, NREC, &s, &db, &t);   /* the checkpoint in an older generation */
  CK(JetBeginExternalBackupInstance(inst, ESE_bitBackupStepwise));
  unsigned long before = harness_last_archived(h.dir);
  /* the first slice, on the backup's worker, held in its ring sync */
  harness_hold_close(&h);
  int more = 0;
  CK(EseBackupStep(inst, 0, &more));
  if (!more) FAIL("%s: the step took no slice", name);
  if (!harness_hold_wait(&h, NULL, 60000)) FAIL("%s: the slice was not held", name);
  pthread_t tx, tz;
  if (pthread_create(&tx, NULL, list_x, NULL) != 0) FAIL("pthread_create");
  /* X's cut-off waits for the slice; then Z waits for the slice and for X
   * (each waited for, not slept for: a Z not there yet when the slice went
   * on left X free to roll) */
  harness_backup_await(inst, -1, 0, 1, &x_done, "the log list's cut-off waiting for the slice");
  if (stop) CK(JetStopBackupInstance(inst));
  if (end && pthread_create(&tz, NULL, end_z, NULL) != 0) FAIL("pthread_create");
  if (end) harness_backup_await(inst, BACKUP_ENDING, 0, 1, &z_done, "end: the end waiting for the slice");
  int early = atomic_load(&x_done) || atomic_load(&z_done), still = harness_exists(h.held);
  unlink(h.gate);
  pthread_join(tx, NULL);
  if (end) pthread_join(tz, NULL);
  JET_ERR xe = atomic_load(&x_err);
  unsigned long after = harness_last_archived(h.dir);
  printf("cutoff_after_wait: %s: log list %ld, archived %lu -> %lu\n", name, (long)xe, before, after);
  if (!still) FAIL("%s: the slice was not held throughout", name);
  if (early) FAIL("%s: the log list (%ld) or the end returned while the slice was held", name, (long)xe);
  harness_expect_err(xe, stop ? JET_errBackupAbortByServer : end ? JET_errNoBackup : JET_errInstanceUnavailable,
                     "the log list whose cut-off waited for the slice");
  if (end) harness_expect_err(atomic_load(&z_err), JET_errSuccess, "the end");
  if (after != before) FAIL("%s: the cut-off rolled the log (%lu generations archived)", name, after - before);
  unsetenv("ESE_FAULT");
  (void)JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort);
  (void)JetTerm(inst);
  JET_INSTANCE i2 = harness_open_dir(tag, h.dir, &s, &t);
  harness_expect_rounds(s, t, NREC, "after recovery");
  CK(JetTerm2(i2, JET_bitTermComplete));
  harness_rm_rf(h.root);
  printf("cutoff_after_wait: %s: ok\n", name);
}

/* The "ownslice" case. */
static void run_ownslice(void) {
  atomic_store(&x_done, 0);
  atomic_store(&z_done, 0);
  harness_hold h;
  harness_hold_setup_name(&h, "cutwait-own", "app.edb", "");   /* the checkpoint's end: its sync of the database */
  harness_hold_instance(&h, "ownslice", 256, &inst);
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  harness_dirty_rounds(inst, h.dbpath, 200, &s, &db, &t);
  CK(JetBeginExternalBackupInstance(inst, 0));   /* its checkpoint taken here, the gate not made */
  harness_commit_keys(s, t, "c", 0, 200, 0);       /* pages the cut-off's checkpoint must write */
  harness_hold_close(&h);
  pthread_t tx, tz;
  if (pthread_create(&tx, NULL, list_x, NULL) != 0) FAIL("pthread_create");
  if (!harness_hold_wait(&h, &x_done, 60000)) {
    unlink(h.gate);
    FAIL("ownslice: the log list's checkpoint slice was not held (it answered %ld)", (long)atomic_load(&x_err));
  }
  if (pthread_create(&tz, NULL, end_z, NULL) != 0) FAIL("pthread_create");
  harness_backup_await(inst, BACKUP_ENDING, 0, 0, &z_done, "ownslice: the end waiting for the slice");
  int early = atomic_load(&x_done) || atomic_load(&z_done), still = harness_exists(h.held);
  unlink(h.gate);
  pthread_join(tx, NULL);
  pthread_join(tz, NULL);
  JET_ERR xe = atomic_load(&x_err);
  printf("cutoff_after_wait: ownslice: log list %ld, end %ld\n", (long)xe, (long)atomic_load(&z_err));
  if (!still) FAIL("ownslice: the slice was not held throughout");
  if (early) FAIL("ownslice: the log list (%ld) or the end returned while the slice was held", (long)xe);
  harness_expect_err(xe, JET_errNoBackup, "the log list whose backup ended during its checkpoint");
  harness_expect_err(atomic_load(&z_err), JET_errSuccess, "the end");
  unsetenv("ESE_FAULT");
  harness_commit_keys(s, t, "d", 0, 20, 0);   /* the instance goes on */
  CK(JetTerm(inst));
  JET_INSTANCE i2 = harness_open_dir("cutwait-own", h.dir, &s, &t);
  harness_expect_rounds(s, t, 200, "after recovery");
  CK(JetTerm2(i2, JET_bitTermComplete));
  harness_rm_rf(h.root);
  printf("cutoff_after_wait: ownslice: ok\n");
}

int main(int argc, char **argv) {
  harness_start(600);
  const char *cases[] = { "stop", "end", "unavail" };
  for (int i = 0; i < 3; i++)
    if (argc < 2 || !strcmp(argv[1], cases[i])) run_case(cases[i]);
  if (argc < 2 || !strcmp(argv[1], "ownslice")) run_ownslice();
  printf("cutoff_after_wait: ok\n");
  return 0;
}
