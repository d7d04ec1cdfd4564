/*
 * commit_during_cutoff.c -- issue 13: the application's commits never wait
 * for the backup's log cut-off or for the log flush that starts its
 * checkpoint.  Three cases, each on an instance of its own with one sync
 * (or hold point) held (ESE_FAULT=holdsync:NAME:GATE: it waits while GATE
 * exists and shows it by GATE.held) while a call runs on thread X:
 *   next    X makes the cut-off (EseBackupStep, ESE_bitBackupStepCutOff),
 *           held in the roll while it makes the next log file (the hold
 *           point "log-next"); another thread commits durably and reads
 *           back;
 *   switch  the same cut-off held in the roll's log folder sync (after the
 *           switch to the new generation; the folder "db"); another thread
 *           commits lazily (its record goes to the new generation) and
 *           reads back;
 *   start   X begins a stepwise backup whose checkpoint starts (its
 *           checkpoint in an older generation), held in ckpt_start's log
 *           flush (the current log file, edb.log); another
 *           thread commits lazily and reads back.
 * Asserts that the commit and the read returned while X was still held
 * (GATE.held still there: no timing); in "next", that the generation the
 * roll then begins is created after those commits (its tm_create, which a
 * restore to a point in time bounds the closing generations' commits by:
 * the roll made its header before they came); then lets X go on, ends the
 * checkpoint and checks every record after a new instance's recovery.  A
 * commit that waits is reported after WAIT_S seconds (the gate is then
 * removed so the program ends).
 *   commit_during_cutoff [next|switch|start]   (no argument: all three)
 */
#define HARNESS_NAME "commit_during_cutoff"
#include <pthread.h>
#include <stdatomic.h>
#include "harness.h"

#define NREC 2000
#define WAIT_S 60

static JET_INSTANCE inst;
static atomic_int called;
static atomic_long call_err;

static int start_case;   /* X begins a stepwise backup, else it makes the cut-off */

static void *call_x(void *unused) {
  (void)unused;
  int more = 0;
  JET_ERR e = start_case ? JetBeginExternalBackupInstance(inst, ESE_bitBackupStepwise)
                         : EseBackupStep(inst, ESE_bitBackupStepCutOff, &more);
  atomic_store(&call_err, e);
  atomic_store(&called, 1);
  return NULL;
}

static void run_case(const char *name) {
  int next = !strcmp(name, "next");
  start_case = !strcmp(name, "start");
  harness_app *a = harness_app_state();
  a->grbit = next ? 0 : JET_bitCommitLazyFlush;
  a->where = "read back while the call was held";
  atomic_store(&a->committed, 0);
  atomic_store(&called, 0);
  char tag[32];
  snprintf(tag, sizeof tag, "cutoff-%s", name);
  harness_hold h;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  if (start_case) {
    harness_hold_setup_name(&h, tag, "edb.log", "");
    harness_hold_instance(&h, name, 256, &inst);
    harness_dirty_rounds(inst, h.dbpath, NREC, &s, &db, &t);   /* the checkpoint in an older generation */
    harness_commit_keys(s, t, "b", 0, 20, JET_bitCommitLazyFlush);   /* the flush has bytes to sync */
  } else {
    inst = harness_hold_backup(&h, tag, next ? "log-next" : "db", "", name, 1024, NREC, &s, &db, &t);
  }
  CK(harness_open_table(inst, h.dbpath, 0, "t", &a->s, &db, &a->t));   /* before X runs */

  pthread_t tx, ta;
  harness_hold_thread(&h, &tx, call_x, &called, &call_err, 60000, name);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);   /* the commits' times are later (os_now_us) */
  uint64_t before_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
  if (pthread_create(&ta, NULL, harness_app_thread, NULL) != 0) FAIL("pthread_create");
  for (int i = 0; i < WAIT_S * 100 && !atomic_load(&a->committed); i++) harness_nap_ms(10);
  int done = atomic_load(&a->committed), still = harness_exists(h.held) && !atomic_load(&called);
  unlink(h.gate);
  pthread_join(ta, NULL);
  pthread_join(tx, NULL);
  if (!done) FAIL("%s: the commit waited for the held call (%d s)", name, WAIT_S);
  if (!still) FAIL("%s: the call was not held when the commit returned", name);
  CK(atomic_load(&call_err));
  printf("commit_during_cutoff: %s: a commit and a read returned while the call was held in its sync\n", name);
  if (next) {
    char p[450];
    EseFileInfo fi;
    memset(&fi, 0, sizeof fi);
    snprintf(p, sizeof p, "%s/edb.log", h.dir);
    CK(EseGetFileInfo(p, 0, &fi, NULL, 0));
    if (fi.tmCreate <= before_us)
      FAIL("next: generation %lu is created at %llu, before commits of the generation before it (after %llu)",
           (unsigned long)fi.generation, (unsigned long long)fi.tmCreate, (unsigned long long)before_us);
    printf("commit_during_cutoff: next: the new generation is created after the commits the roll's wait let in\n");
  }

  /* X goes on; the checkpoint ends */
  int more = 0;
  if (start_case) CK(EseBackupStep(inst, ESE_bitBackupStepCutOff, &more));
  harness_step_checkpoint(inst);
  CK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
  CK(JetTerm(inst));   /* not clean: recovery replays from the checkpoint */
  if (!start_case) {
    harness_expect_recovered(&h, name, NREC, 20);
  } else {
    unsetenv("ESE_FAULT");
    JET_INSTANCE i2 = harness_open_dir(name, h.dir, &s, &t);
    harness_expect_rounds(s, t, NREC, "after recovery");
    harness_expect_keys(s, t, "b", 0, 20, 1, "after recovery");
    harness_expect_keys(s, t, "c", 0, 20, 1, "after recovery");
    CK(JetTerm2(i2, JET_bitTermComplete));
    harness_rm_rf(h.root);
  }
  printf("commit_during_cutoff: %s: ok\n", name);
}

int main(int argc, char **argv) {
  harness_start(3 * 4 * WAIT_S);
  const char *cases[] = { "next", "switch", "start" };
  for (int i = 0; i < 3; i++)
    if (argc < 2 || !strcmp(argv[1], cases[i])) run_case(cases[i]);
  printf("commit_during_cutoff: ok\n");
  return 0;
}
