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
 *   cutoff_races [second|open|end]   (no argument: all three)
 */
#define HARNESS_NAME "cutoff_races"
#include <dirent.h>
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

/* The highest archived generation in dir (edb%08X.log), 0 when none. */
static unsigned long last_archived(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) FAIL("opendir %s", dir);
  unsigned long hi = 0;
  for (struct dirent *e; (e = readdir(d));) {
    unsigned long g;
    char tail[8];
    if (strlen(e->d_name) == 15 && sscanf(e->d_name, "edb%8lx%4s", &g, tail) == 2 && !strcmp(tail, ".log") && g > hi)
      hi = g;
  }
  closedir(d);
  return hi;
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
  harness_cut *x = harness_cut_state();
  x->inst = inst;
  for (int r = 0; r < ROUNDS; r++) {
    atomic_store(&x->done, 0);
    atomic_store(&y_done, 0);
    atomic_store(&z_done, 0);
    if (r) CK(JetBeginExternalBackupInstance(inst, 0));
    pthread_t tx, ty, tz;
    harness_hold_thread(&h, &tx, harness_cut_thread, &x->done, &x->err, 60000, "the cut-off");
    if (pthread_create(&ty, NULL, call_y, &li) != 0) FAIL("pthread_create");
    harness_nap_ms(20);
    if (pthread_create(&tz, NULL, end_z, NULL) != 0) FAIL("pthread_create");
    harness_nap_ms(20);
    int early = atomic_load(&y_done) || atomic_load(&z_done);
    int still = harness_exists(h.held) && !atomic_load(&x->done);
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

static void run_case(const char *name) {
  if (!strcmp(name, "end")) {
    run_end();
    return;
  }
  int second = !strcmp(name, "second");
  harness_cut *x = harness_cut_state();
  atomic_store(&x->done, 0);
  atomic_store(&y_done, 0);
  char tag[32];
  snprintf(tag, sizeof tag, "cutrace-%s", name);
  harness_hold h;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  inst = harness_hold_backup(&h, tag, "log-next", "", name, 1024, NREC, &s, &db, &t);
  dbpath = h.dbpath;
  x->inst = inst;
  unsigned long before = last_archived(h.dir);
  pthread_t tx, ty;
  harness_hold_thread(&h, &tx, harness_cut_thread, &x->done, &x->err, 60000, "the cut-off");
  if (pthread_create(&ty, NULL, call_y, second ? &li : NULL) != 0) FAIL("pthread_create");
  harness_nap_ms(300);
  int early = atomic_load(&y_done), still = harness_exists(h.held) && !atomic_load(&x->done);
  unlink(h.gate);
  pthread_join(tx, NULL);
  pthread_join(ty, NULL);
  JET_ERR xe = atomic_load(&x->err), ye = atomic_load(&y_err);
  if (!still) FAIL("%s: the cut-off was not held throughout (it answered %ld)", name, (long)xe);
  if (early) FAIL("%s: Y returned (%ld) while the cut-off was held", name, (long)ye);
  unsigned long after = last_archived(h.dir);
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
  harness_start(300);
  const char *cases[] = { "second", "open", "end" };
  for (int i = 0; i < 3; i++)
    if (argc < 2 || !strcmp(argv[1], cases[i])) run_case(cases[i]);
  printf("cutoff_races: ok\n");
  return 0;
}
