/*
 * step_races.c -- hostile review of issue 13's backup worker: threads
 * calling EseBackupStep (every kind, out of order) on one backup while
 * another thread ends it (JetStopBackupInstance, End normal or abort, or
 * JetTerm2 complete / not complete) while a slice, a truncation part or an
 * End step's sync runs on the backup's worker.  Asserts: no crash, no hang
 * (SIGALRM), every answer from the set a step may give, and the data of
 * every committed record after a new instance's recovery.
 *   step_races [rounds]
 */
#define HARNESS_NAME "step_races"
#include <pthread.h>
#include <stdatomic.h>
#include "harness.h"

#define LOG_KIB 128
#define NREC 1500

static char dir[300], dbpath[400];
static JET_INSTANCE inst;
static atomic_int stop_steppers, bad;
static atomic_int answers[8];

static JET_INSTANCE new_instance(void) {
  JET_INSTANCE i;
  char name[64];
  CK(harness_instance(&i, harness_unique_name(name, sizeof name, "steps"), dir, LOG_KIB, 64));
  CK(JetInit(&i));
  return i;
}

static int allowed(JET_ERR e, int after_term) {
  switch (e) {
  case JET_errSuccess: case JET_errNoBackup: case JET_errBackupAbortByServer: case JET_errInvalidBackupSequence:
  case JET_errLogFileNotCopied: case JET_errBackupAbortByCaller:
    return 1;
  case JET_errInvalidInstance: case JET_errNotInitialized: case JET_errTermInProgress:
    return after_term;
  default:
    return 0;
  }
}

static atomic_int termed;

static void *stepper(void *p) {
  unsigned seed = (unsigned)(uintptr_t)p;
  static const JET_GRBIT kinds[4] = { 0, ESE_bitBackupStepCutOff, ESE_bitBackupStepTruncate, ESE_bitBackupStepEnd };
  while (!atomic_load(&stop_steppers)) {
    int k = (int)(rand_r(&seed) % 4), more = 0;
    JET_ERR e = EseBackupStep(inst, kinds[k], &more);
    if (!allowed(e, atomic_load(&termed))) {
      printf("step_races: step %d answered %s\n", k, harness_err_name(e));
      atomic_store(&bad, 1);
    }
    atomic_fetch_add(&answers[k], 1);
    if (e == JET_errInvalidInstance || e == JET_errNotInitialized) break;
  }
  return NULL;
}

/* Streams every database and log of the backup, so End may record it. */
static void stream(const char *path) {
  JET_HANDLE h;
  unsigned long lo, hi;
  CK(JetOpenFileInstance(inst, path, &h, &lo, &hi));
  static char buf[65536];
  unsigned long got;
  do CK(JetReadFileInstance(inst, h, buf, sizeof buf, &got)); while (got);
  CK(JetCloseFileInstance(inst, h));
}

static void round_(int r) {
  harness_fresh_dir(dir, sizeof dir, getenv("STEP_ROOT"), "db");
  snprintf(dbpath, sizeof dbpath, "%s/app.edb", dir);
  inst = new_instance();
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  harness_backup_dirty(inst, dbpath, NREC, &s, &db, &t);   /* dirty pages: the backup's checkpoint has slices */
  int op = r % 6;
  if (r % 2) {                              /* everything read: End steps may write the header */
    stream(dbpath);
    char logs[16384];
    unsigned long cb = 0;
    CK(JetGetLogInfoInstance(inst, logs, sizeof logs, &cb));
    for (const char *p = logs; *p; p += strlen(p) + 1) stream(p);
  }
  atomic_store(&stop_steppers, 0);
  atomic_store(&termed, 0);
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    if (pthread_create(&th[i], NULL, stepper, (void *)(uintptr_t)(r * 7 + i + 1)) != 0) FAIL("pthread_create");
  usleep((useconds_t)(200 + (r * 1237) % 15000));
  JET_ERR e = JET_errSuccess;
  const char *what = "";
  switch (op) {
  case 0: what = "Stop"; e = JetStopBackupInstance(inst); break;
  case 1: what = "End(abort)"; e = JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort); break;
  case 2: what = "End(normal)"; e = JetEndExternalBackupInstance2(inst, JET_bitBackupEndNormal); break;
  case 3:
    what = "Stop+End(abort)";
    e = JetStopBackupInstance(inst);
    if (e == 0) e = JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort);
    break;
  case 4: what = "Term(complete)"; atomic_store(&termed, 1); e = JetTerm2(inst, JET_bitTermComplete); break;
  case 5: what = "Term"; atomic_store(&termed, 1); e = JetTerm(inst); break;
  }
  int alive = op < 4 || (op == 4 && e == JET_errBackupInProgress);   /* term complete refuses during a backup */
  if (!allowed(e, 0) && !(op == 4 && e == JET_errBackupInProgress))
    printf("step_races: round %d %s answered %s\n", r, what, harness_err_name(e)), atomic_store(&bad, 1);
  usleep(3000);
  atomic_store(&stop_steppers, 1);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  if (alive) {
    JET_ERR a = JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort);
    if (a != JET_errSuccess && a != JET_errNoBackup && a != JET_errBackupAbortByServer)
      printf("step_races: round %d final abort %s\n", r, harness_err_name(a)), atomic_store(&bad, 1);
    CK(JetTerm2(inst, (r / 6) % 2 ? JET_bitTermComplete : 0));
  }
  /* a new instance: recovery, then every record */
  JET_INSTANCE i2 = harness_open_dir("steps2", dir, &s, &t);
  harness_expect_keys(s, t, "a", 0, NREC, 1, "after the round");
  harness_expect_keys(s, t, "b", 0, NREC, 1, "after the round");
  CK(JetTerm2(i2, JET_bitTermComplete));
}

int main(int argc, char **argv) {
  harness_start(600);
  int rounds = argc > 1 ? atoi(argv[1]) : 12;
  char root[64];
  harness_tempdir(root, sizeof root, "step-races");
  setenv("STEP_ROOT", root, 1);
  for (int r = 0; r < rounds; r++) round_(r);
  if (harness_rm_rf(root) != 0) printf("step_races: note: could not remove %s\n", root);
  if (atomic_load(&bad)) FAIL("unexpected answers (above)");
  printf("step_races: ok %d rounds (steps: %d slice, %d cut-off, %d truncate, %d end)\n", rounds,
         answers[0], answers[1], answers[2], answers[3]);
  return 0;
}
