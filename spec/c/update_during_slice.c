/*
 * update_during_slice.c -- review of issue 13: a page changed while its
 * checkpoint copy is written (without the lock) keeps its newer version.
 * A slice on the backup's worker is held in its double-write ring sync
 * (ESE_FAULT=holdsync:edb.dwb:GATE) with a batch of the cut-off's dirty
 * pages copied; meanwhile one transaction gives every "b" record (the
 * pages of that batch among them) a new value.  The slice then ends, the
 * checkpoint ends, and a clean term (every page still dirty written, no
 * replay at the next attach) must leave every new value in the file: a
 * page marked clean by the slice with its older copy on disk would read
 * back its old value.
 *   update_during_slice
 */
#define HARNESS_NAME "update_during_slice"
#include "harness.h"

#define NREC 3000

static int exists(const char *p) { return access(p, F_OK) == 0; }

static void nap_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

static size_t new_value(char *k, size_t kn, char *v, size_t vn, int i) {
  snprintf(k, kn, "b%02d", i);
  return (size_t)snprintf(v, vn, "updated during the slice|%s|%0*d", k, 40 + i % 200, i);
}

int main(void) {
  harness_start(240);
  char root[64], dir[300], dbpath[400], gate[400], held[420], fault[500];
  harness_tempdir(root, sizeof root, "update-slice");
  harness_fresh_dir(dir, sizeof dir, root, "db");
  snprintf(dbpath, sizeof dbpath, "%s/app.edb", dir);
  snprintf(gate, sizeof gate, "%s/gate", root);
  snprintf(held, sizeof held, "%s.held", gate);
  snprintf(fault, sizeof fault, "holdsync:edb.dwb:%s", gate);
  setenv("ESE_FAULT", fault, 1);
  char name[64];
  JET_INSTANCE inst;
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "uslice"), dir, 1024, 20000));
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
  for (int i = 0; i < NREC; i++) {
    char k[32], v[512];
    size_t vl = new_value(k, sizeof k, v, sizeof v, i);
    CK(EsePut(s, t, k, strlen(k), v, vl));
  }
  CK(JetCommitTransaction(s, 0));
  if (!exists(held)) FAIL("the slice was not held while the records changed");
  unlink(gate);

  int steps = 0;
  do CK(EseBackupStep(inst, 0, &more)); while (more && ++steps < 1000000);
  if (more) FAIL("the checkpoint did not end");
  CK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
  CK(JetTerm2(inst, JET_bitTermComplete));
  unsetenv("ESE_FAULT");
  JET_INSTANCE i2 = harness_open_dir("uslice2", dir, &s, &t);
  for (int i = 0; i < NREC; i++) {
    char k[32], v[512], got[512];
    size_t vl = new_value(k, sizeof k, v, sizeof v, i), gl = 0;
    CK(EseSeek(s, t, k, strlen(k), JET_bitSeekEQ));
    CK(EseRetrieveValue(s, t, got, sizeof got, &gl));
    if (gl != vl || memcmp(got, v, vl) != 0) FAIL("%s has its value of before the slice after a clean term", k);
  }
  harness_expect_keys(s, t, "a", 0, NREC, 1, "after a clean term");
  CK(JetTerm2(i2, JET_bitTermComplete));
  harness_rm_rf(root);
  printf("update_during_slice: ok\n");
  return 0;
}
