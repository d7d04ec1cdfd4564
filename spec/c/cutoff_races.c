/*
 * cutoff_races.c -- issue 13: the backup's cut-off rolls the log without
 * the instance lock; what other backup calls do meanwhile.  Thread X makes
 * the cut-off (EseBackupStep, ESE_bitBackupStepCutOff), held in its roll
 * (ESE_FAULT=holdsync:log-next:GATE); meanwhile:
 *   second  thread Y asks for the log list (JetGetLogInfoInstance2), which
 *           makes the cut-off too: it must wait for X's (not return while
 *           X is held), then both succeed and the log rolled once (one new
 *           archived generation, the last one the list names);
 *   open    thread Y opens the database for the backup: refused with
 *           JET_errInvalidBackupSequence (the cut-off began), which ends
 *           the backup once X's roll is done (Y does not return while X
 *           is held); X then answers JET_errNoBackup, and the instance
 *           goes on (a commit, then a new backup).
 *   end     (ROUNDS rounds, each a new backup) thread Y asks for the log
 *           list, which waits for X's roll, and thread Z ends the backup
 *           (JetEndExternalBackupInstance2, abort), which waits for it
 *           too; once X's roll is done Y and Z race for the lock: every
 *           way round, X and Y answer JET_errNoBackup and Z 0.  Y's wait
 *           must count as the backup's (bk->waiting): when Z won, it freed
 *           the backup under Y, which then read it freed (Y answered 0, a
 *           log list of an ended backup, or crashed).
 *   full    (logs of 64 KiB) thread F commits small transactions lazily
 *           into the closing file until it is full: F's roll waits for X's
 *           (F does not return while X is held), then finds the file it
 *           found full rolled and does not roll again: X's roll is the only
 *           one (one more archived generation, the last the log list
 *           names), and every record of F is there after recovery.
 *   cutoff_races [second|open|end|full]   (no argument: all four)
 */
#define HARNESS_NAME "cutoff_races"
#include <pthread.h>
#include <stdatomic.h>
#include "harness.h"

#define NREC 2000

static JET_INSTANCE inst;
static atomic_int y_done;
static atomic_long y_err;
static JET_LOGINFO li;
static const char *dbpath;

/* Y: the log list (arg non-NULL) or the database opened for the backup. */
static void *call_y(void *list) {
  char buf[4096];
  unsigned long cb = 0, lo, hi;
  JET_HANDLE hf;
  li.cbSize = sizeof li;
  atomic_store(&y_err, list ? JetGetLogInfoInstance2(inst, buf, sizeof buf, &cb, &li)
                            : JetOpenFileInstance(inst, dbpath, &hf, &lo, &hi));
  atomic_store(&y_done, 1);
  return NULL;
}

#define ROUNDS 12

static atomic_int z_done;
static atomic_long z_err;

static void *end_z(void *unused) {
  (void)unused;
  atomic_store(&z_err, JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
  atomic_store(&z_done, 1);
  return NULL;
}

/* The "end" case: ROUNDS backups, each ended while its cut-off is held and
 * a log list waits for it. */
static void run_end(void) {
  harness_hold h;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  inst = harness_hold_backup(&h, "cutrace-end", "log-next", "", "end", 1024, 200, &s, &db, &t);
  for (int r = 0; r < ROUNDS; r++) {
    atomic_store(&y_done, 0);
    atomic_store(&z_done, 0);
    if (r) CK(JetBeginExternalBackupInstance(inst, 0));
    pthread_t tx, ty, tz;
    harness_cut *x = harness_cut_start(&h, inst, &tx);
    /* Y waits for X's roll, then Z ends the backup (waiting for it too):
     * each waited for, not slept for (a Z that had not come yet when X
     * went on left X and Y nothing to answer but 0, 2 % of runs under
     * load) */
    if (pthread_create(&ty, NULL, call_y, &li) != 0) FAIL("pthread_create");
    harness_backup_await(inst, -1, 1, 1, &y_done, "end: the log list waiting for the cut-off's roll");
    if (pthread_create(&tz, NULL, end_z, NULL) != 0) FAIL("pthread_create");
    harness_backup_await(inst, BACKUP_ENDING, 1, 1, &z_done, "end: the end waiting for the cut-off's roll");
    int early = atomic_load(&y_done) || atomic_load(&z_done);
    int still = harness_cut_held(&h);
    unlink(h.gate);
    pthread_join(tx, NULL);
    pthread_join(ty, NULL);
    pthread_join(tz, NULL);
    JET_ERR xe = atomic_load(&x->err), ye = atomic_load(&y_err), ze = atomic_load(&z_err);
    if (!still) FAIL("end round %d: the cut-off was not held throughout (it answered %ld)", r, (long)xe);
    if (early) FAIL("end round %d: the log list (%ld) or the end (%ld) returned while the cut-off was held", r,
                    (long)ye, (long)ze);
    char what[96];
    snprintf(what, sizeof what, "end round %d: the log list that waited for the cut-off of an ended backup", r);
    harness_expect_err(ye, JET_errNoBackup, what);
    snprintf(what, sizeof what, "end round %d: the cut-off whose backup ended meanwhile", r);
    harness_expect_err(xe, JET_errNoBackup, what);
    snprintf(what, sizeof what, "end round %d: the end", r);
    harness_expect_err(ze, JET_errSuccess, what);
    harness_commit_keys(s, t, "c", 0, 20, 0);
  }
  CK(JetTerm(inst));
  harness_expect_recovered(&h, "end", 200, 20);
  printf("cutoff_races: end: %d rounds: log list %d, cut-off %d, end 0\n", ROUNDS, JET_errNoBackup, JET_errNoBackup);
  printf("cutoff_races: end: ok\n");
}

static atomic_int f_stop, f_count;
static JET_SESID fs;
static JET_TABLEID ft;

/* F: transactions of 10 keys "f", lazily, until f_stop; f_count of them. */
static void *filler(void *unused) {
  (void)unused;
  for (int i = 0; !atomic_load(&f_stop); i++) {
    harness_commit_keys(fs, ft, "f", i * 10, i * 10 + 10, JET_bitCommitLazyFlush);
    atomic_store(&f_count, i + 1);
  }
  return NULL;
}

/* The "full" case. */
static void run_full(void) {
  harness_hold h;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  inst = harness_hold_backup(&h, "cutrace-full", "log-next", "", "full", 64, 200, &s, &db, &t);
  CK(harness_open_table(inst, h.dbpath, 0, "t", &fs, &db, &ft));
  unsigned long before = harness_last_archived(h.dir);
  pthread_t tx, tf;
  harness_cut *x = harness_cut_start(&h, inst, &tx);
  if (pthread_create(&tf, NULL, filler, NULL) != 0) FAIL("pthread_create");
  int last = -1, same_ms = 0;
  for (int i = 0; i < 20000 && same_ms < 500; i++) {   /* F blocked: its count stands still */
    harness_nap_ms(1);
    int c = atomic_load(&f_count);
    same_ms = c == last ? same_ms + 1 : 0;
    last = c;
  }
  int still = harness_cut_held(&h);
  atomic_store(&f_stop, 1);   /* F ends the transaction that waits: it does not fill another file */
  unlink(h.gate);
  pthread_join(tx, NULL);
  pthread_join(tf, NULL);
  if (!still) FAIL("full: the cut-off was not held throughout (it answered %ld)", (long)atomic_load(&x->err));
  if (same_ms < 500) FAIL("full: F never waited (the closing file never filled: %d transactions)", last);
  CK(atomic_load(&x->err));
  unsigned long after = harness_last_archived(h.dir);
  char buf[4096];
  unsigned long cb = 0;
  li.cbSize = sizeof li;
  CK(JetGetLogInfoInstance2(inst, buf, sizeof buf, &cb, &li));
  int n = atomic_load(&f_count);
  printf("cutoff_races: full: %d transactions of F (%d before it waited), archived %lu -> %lu, list ends at %lu\n",
         n, last, before, after, li.ulGenHigh);
  if (after != before + 1) FAIL("full: %lu generations closed during the cut-off, want 1 (X's)", after - before);
  if (li.ulGenHigh != after) FAIL("full: the list ends at %lu, want %lu", li.ulGenHigh, after);
  CK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
  CK(JetTerm(inst));
  unsetenv("ESE_FAULT");
  JET_SESID s3;
  JET_TABLEID t3;
  JET_INSTANCE i2 = harness_open_dir("full2", h.dir, &s3, &t3);
  harness_expect_keys(s3, t3, "f", 0, n * 10, 1, "full: after recovery");
  CK(JetTerm2(i2, JET_bitTermComplete));
  harness_expect_recovered(&h, "full3", 200, 0);
  printf("cutoff_races: full: X's roll the only one, every record of F recovered\n");
  printf("cutoff_races: full: ok\n");
}

static void run_case(const char *name) {
  if (!strcmp(name, "end") || !strcmp(name, "full")) {
    if (name[0] == 'e') run_end();
    else run_full();
    return;
  }
  int second = !strcmp(name, "second");
  atomic_store(&y_done, 0);
  char tag[32];
  snprintf(tag, sizeof tag, "cutrace-%s", name);
  harness_hold h;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  inst = harness_hold_backup(&h, tag, "log-next", "", name, 1024, NREC, &s, &db, &t);
  dbpath = h.dbpath;
  unsigned long before = harness_last_archived(h.dir);
  pthread_t tx, ty;
  harness_cut *x = harness_cut_start(&h, inst, &tx);
  if (pthread_create(&ty, NULL, call_y, second ? &li : NULL) != 0) FAIL("pthread_create");
  /* Y waits for X's roll: second, counted among the backup's waiting
   * calls; open, tearing the backup down (it waits for the roll to end) */
  if (second) harness_backup_await(inst, -1, 1, 1, &y_done, "second: the log list waiting for the cut-off's roll");
  else harness_backup_await(inst, BACKUP_ENDING, 0, 1, &y_done, "open: the refused open ending the backup");
  int early = atomic_load(&y_done), still = harness_cut_held(&h);
  unlink(h.gate);
  pthread_join(tx, NULL);
  pthread_join(ty, NULL);
  JET_ERR xe = atomic_load(&x->err), ye = atomic_load(&y_err);
  if (!still) FAIL("%s: the cut-off was not held throughout (it answered %ld)", name, (long)xe);
  if (early) FAIL("%s: Y returned (%ld) while the cut-off was held", name, (long)ye);
  unsigned long after = harness_last_archived(h.dir);
  if (second) {
    printf("cutoff_races: second: cut-off %ld, log list %ld, generations %lu..%lu archived %lu -> %lu\n", (long)xe,
           (long)ye, li.ulGenLow, li.ulGenHigh, before, after);
    CK(xe);
    CK(ye);
    if (after != before + 1) FAIL("second: %lu generations archived by the cut-off, want 1", after - before);
    if (li.ulGenHigh != after) FAIL("second: the list ends at %lu, want the generation the cut-off closed (%lu)",
                                    li.ulGenHigh, after);
    CK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
  } else {
    printf("cutoff_races: open: open %ld, cut-off %ld\n", (long)ye, (long)xe);
    harness_expect_err(ye, JET_errInvalidBackupSequence, "open: the database opened during the cut-off");
    harness_expect_err(xe, JET_errNoBackup, "open: the cut-off whose backup ended meanwhile");
    harness_commit_keys(s, t, "c", 0, 20, 0);
    CK(JetBeginExternalBackupInstance(inst, 0));
    CK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
  }
  if (!second) harness_expect_keys(s, t, "c", 0, 20, 1, "open: after the backup ended");
  else harness_commit_keys(s, t, "c", 0, 20, 0);
  CK(JetTerm(inst));
  harness_expect_recovered(&h, name, NREC, 20);
  printf("cutoff_races: %s: ok\n", name);
}

int main(int argc, char **argv) {
  harness_start(600);
  const char *cases[] = { "second", "open", "end", "full" };
  for (int i = 0; i < 4; i++)
    if (argc < 2 || !strcmp(argv[1], cases[i])) run_case(cases[i]);
  printf("cutoff_races: ok\n");
  return 0;
}
