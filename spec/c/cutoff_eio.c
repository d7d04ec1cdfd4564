/*
 * cutoff_eio.c -- review of issue 13: an I/O error inside the backup's
 * cut-off roll, which runs without the instance lock while the
 * application commits.  Thread X makes the cut-off (EseBackupStep,
 * ESE_bitBackupStepCutOff); its roll is held in a sync that then fails
 * with EIO (ESE_FAULT=holdsync:NAME:GATE:eio):
 *   switch  the log folder's sync after the switch (NAME "db": the closing
 *           file complete and renamed, appends going to the new
 *           generation).  Meanwhile thread A commits durably: its record
 *           is in the new generation, so its commit must not return while
 *           X is held, and after the failed sync it must not succeed (an
 *           acknowledged commit whose generation's rename is not durable).
 *   next    the new file's sync while it is made (NAME "edbtmp.log"): the
 *           log's preparer thread makes it after the first commit and
 *           writes the next generation's header ahead (the roll then only
 *           renames), so the gate is made before that commit (16 MiB logs:
 *           nothing rolls before the cut-off) and the cut-off's roll waits
 *           for the file; A commits lazily into the closing generation,
 *           which stays good.  No edbtmp.log is left.
 * Either way X answers JET_errDiskIO, the instance is unavailable (a put
 * answers JET_errInstanceUnavailable, a commit never succeeds), and after
 * a new instance's recovery every record committed before is there, A's
 * all or none.
 *   cutoff_eio [switch|next]   (no argument: both)
 */
#define HARNESS_NAME "cutoff_eio"
#include <pthread.h>
#include <stdatomic.h>
#include "harness.h"

#define NREC 1000

static JET_INSTANCE inst;
static JET_SESID s2;
static JET_TABLEID t2;
static atomic_int a_done;
static atomic_long a_err;
static int a_lazy;

/* A: keys "c" 0..19 in one transaction; the commit's answer in a_err. */
static void *commit_a(void *unused) {
  (void)unused;
  CK(JetBeginTransaction(s2));
  harness_put_keys(s2, t2, "c", 0, 20);
  atomic_store(&a_err, JetCommitTransaction(s2, a_lazy ? JET_bitCommitLazyFlush : 0));
  atomic_store(&a_done, 1);
  return NULL;
}

/* Whether keys "c" 0..19 are all there (1) or none (0); else FAIL. */
static int c_state(JET_SESID s, JET_TABLEID t, const char *where) {
  char k[32], v[512];
  (void)harness_key_value(k, sizeof k, v, "c", 0);
  int present = EseSeek(s, t, k, strlen(k), JET_bitSeekEQ) == JET_errSuccess;
  harness_expect_keys(s, t, "c", 0, 20, present, where);
  return present;
}

static void run_case(const char *name) {
  int sw = !strcmp(name, "switch");
  a_lazy = !sw;
  atomic_store(&a_done, 0);
  char tag[32];
  snprintf(tag, sizeof tag, "cuteio-%s", name);
  harness_hold h;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  if (sw) {
    inst = harness_hold_backup(&h, tag, "db", ":eio", name, 1024, NREC, &s, &db, &t);
  } else {   /* the gate before the first commit asks the preparer for the next file */
    harness_hold_setup_name(&h, tag, "edbtmp.log", ":eio");
    harness_hold_instance(&h, name, 16384, &inst);
    harness_hold_close(&h);
    harness_backup_dirty(inst, h.dbpath, NREC, &s, &db, &t);
  }
  CK(harness_open_table(inst, h.dbpath, 0, "t", &s2, &db, &t2));
  harness_nap_ms(100);   /* switch: the log's next file made ahead (its sync is not the one held) */
  pthread_t tx, ta;
  harness_cut *x = harness_cut_start(&h, inst, &tx);
  if (pthread_create(&ta, NULL, commit_a, NULL) != 0) FAIL("pthread_create");
  /* switch: A must not return while X is held (given 300 ms to do so
   * wrongly); next: A must return while X is held, waited for (a lazy
   * commit took longer than 300 ms on a loaded machine now and then) */
  uint64_t limit = harness_now_us() + (sw ? 300000u : HARNESS_WAIT_US);
  while (harness_now_us() < limit && !atomic_load(&a_done)) harness_nap_ms(1);
  int a_early = atomic_load(&a_done), still = harness_cut_held(&h);
  unlink(h.gate);
  pthread_join(tx, NULL);
  pthread_join(ta, NULL);
  JET_ERR xe = atomic_load(&x->err), ae = atomic_load(&a_err);
  printf("cutoff_eio: %s: cut-off %ld, commit %ld (returned while held: %d)\n", name, (long)xe, (long)ae, a_early);
  if (!still) FAIL("%s: the cut-off was not held throughout (it answered %ld)", name, (long)xe);
  if (sw && a_early)
    FAIL("switch: a durable commit in the new generation returned (%ld) while its roll was held", (long)ae);
  if (sw && ae == JET_errSuccess) FAIL("switch: a durable commit succeeded after its roll's folder sync failed");
  if (!sw && (!a_early || ae != JET_errSuccess))
    FAIL("next: the lazy commit into the closing file did not return at once with 0 (%ld)", (long)ae);
  harness_expect_err(xe, JET_errDiskIO, "the cut-off whose roll's sync failed");
  unsetenv("ESE_FAULT");
  harness_expect_err(EsePut(s, t, "late", 4, "x", 1), JET_errInstanceUnavailable, "a put after the failed roll");
  JET_ERR ce = JetBeginTransaction(s);
  if (ce == JET_errSuccess) ce = EsePut(s, t, "late2", 5, "x", 1);
  if (ce == JET_errSuccess) ce = JetCommitTransaction(s, 0);
  if (ce == JET_errSuccess) FAIL("%s: a transaction after the failed roll committed", name);
  char tmp[450];
  snprintf(tmp, sizeof tmp, "%s/edbtmp.log", h.dir);
  if (!sw && harness_exists(tmp)) FAIL("next: %s left after its failed sync", tmp);
  (void)JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort);
  (void)JetTerm(inst);

  JET_SESID s3;
  JET_TABLEID t3;
  JET_INSTANCE i2 = harness_open_dir(name, h.dir, &s3, &t3);
  harness_expect_keys(s3, t3, "a", 0, NREC, 1, "after recovery");
  harness_expect_keys(s3, t3, "b", 0, NREC, 1, "after recovery");
  int c = c_state(s3, t3, "after recovery");
  CK(JetTerm2(i2, JET_bitTermComplete));
  harness_rm_rf(h.root);
  printf("cutoff_eio: %s: instance unavailable, recovered (A's commit %s)\n", name, c ? "there" : "not there");
  printf("cutoff_eio: %s: ok\n", name);
}

int main(int argc, char **argv) {
  harness_start(600);
  const char *cases[] = { "switch", "next" };
  for (int i = 0; i < 2; i++)
    if (argc < 2 || !strcmp(argv[1], cases[i])) run_case(cases[i]);
  printf("cutoff_eio: ok\n");
  return 0;
}
