/*
 * archive_during_cutoff.c -- review of issue 13: archive_timeout's roll
 * (the archiver's thread, with the instance lock held) while the backup's
 * cut-off rolls the log without the lock.  An instance archives to a
 * folder with archive_timeout 1 s; a backup is begun and records are
 * committed (the current generation holds records); thread X makes the
 * cut-off (EseBackupStep, ESE_bitBackupStepCutOff), held in its roll while
 * it makes the next file (ESE_FAULT=holdsync:log-next:GATE) for longer
 * than archive_timeout, so the archiver's roll comes meanwhile.  Then:
 *  - a durable commit and a read on another thread return while X is
 *    still held (the archiver's roll must not wait for X's with the
 *    instance lock held: every commit would wait for the cut-off);
 *  - once X goes on, the generation it closed is shipped, every shipped
 *    file is the log's (never one shipped before its roll ended), the
 *    backup ends, and after a new instance's recovery every record is
 *    there.
 *   archive_during_cutoff
 */
#define HARNESS_NAME "archive_during_cutoff"
#include <pthread.h>
#include <stdatomic.h>
#include "harness.h"

#define NREC 500
#define WAIT_S 60

static JET_INSTANCE inst;

int main(void) {
  harness_start(600);
  harness_hold h;
  harness_hold_setup_name(&h, "arc-cutoff", "log-next", "");
  char arch[400], name[64];
  snprintf(arch, sizeof arch, "%s/arch", h.root);
  harness_make_dir(arch);
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "arccut"), h.dir, 1024, 20000));
  CK(JetSetSystemParameter(&inst, 0, JET_paramArchivePath, 0, arch));
  CK(JetSetSystemParameter(&inst, 0, JET_paramArchiveTimeout, 1, NULL));
  CK(JetInit(&inst));
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  harness_backup_dirty(inst, h.dbpath, NREC, &s, &db, &t);
  harness_app *a = harness_app_state();
  a->where = "read back while the cut-off was held";
  CK(harness_open_table(inst, h.dbpath, 0, "t", &a->s, &db, &a->t));
  JET_LOGINFO li = { .cbSize = sizeof li };

  pthread_t tx, ta;
  harness_cut *x = harness_cut_start(&h, inst, &tx);
  harness_nap_ms(2500);   /* archive_timeout passed: the archiver's roll came */
  if (pthread_create(&ta, NULL, harness_app_thread, NULL) != 0) FAIL("pthread_create");
  for (int i = 0; i < WAIT_S * 100 && !atomic_load(&a->committed); i++) harness_nap_ms(10);
  int done = atomic_load(&a->committed), still = harness_cut_held(&h);
  unlink(h.gate);
  pthread_join(tx, NULL);
  pthread_join(ta, NULL);
  if (!still) FAIL("the cut-off was not held throughout (it answered %ld)", (long)atomic_load(&x->err));
  if (!done) FAIL("a commit waited for the held cut-off (%d s): the archiver's roll held the instance lock", WAIT_S);
  CK(atomic_load(&x->err));
  printf("archive_during_cutoff: a commit and a read returned while the cut-off was held past archive_timeout\n");
  char buf[4096];
  unsigned long cb = 0;
  CK(JetGetLogInfoInstance2(inst, buf, sizeof buf, &cb, &li));
  EseArchiveInfo ai = { .cbStruct = sizeof ai };
  for (uint64_t limit = harness_now_us() + HARNESS_WAIT_US;;) {
    CK(EseArchiveStatus(inst, &ai));
    if (ai.ulShippedGeneration >= li.ulGenHigh || harness_now_us() > limit) break;
    harness_nap_ms(1);
  }
  if (ai.ulShippedGeneration < li.ulGenHigh)
    FAIL("generation %lu (the cut-off's) not archived: shipped %lu", li.ulGenHigh, ai.ulShippedGeneration);
  for (unsigned long g = 1; g <= ai.ulShippedGeneration; g++) {   /* each shipped whole, as the log has it */
    char a[450], l[450];
    snprintf(a, sizeof a, "%s/edb%08lX.log", arch, g);
    snprintf(l, sizeof l, "%s/edb%08lX.log", h.dir, g);
    if (!harness_exists(a) || harness_file_hash(a) != harness_file_hash(l)) FAIL("%s is not %s", a, l);
  }
  harness_step_checkpoint(inst);
  CK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
  CK(JetTerm(inst));
  harness_expect_recovered(&h, "arccut2", NREC, 20);
  printf("archive_during_cutoff: generations 1..%lu archived, each as the log has it\n", ai.ulShippedGeneration);
  printf("archive_during_cutoff: ok\n");
  return 0;
}
