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

static size_t new_value(char *k, size_t kn, char *v, size_t vn, int i) {
  snprintf(k, kn, "b%02d", i);
  return (size_t)snprintf(v, vn, "updated during the slice|%s|%0*d", k, 40 + i % 200, i);
}

int main(void) {
  harness_start(600);
  harness_hold h;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  JET_INSTANCE inst = harness_hold_backup(&h, "update-slice", "edb.dwb", "", "uslice", 1024, NREC, &s, &db, &t);
  harness_hold_slice(inst, &h);

  CK(JetBeginTransaction(s));
  for (int i = 0; i < NREC; i++) {
    char k[32], v[512];
    size_t vl = new_value(k, sizeof k, v, sizeof v, i);
    CK(EsePut(s, t, k, strlen(k), v, vl));
  }
  CK(JetCommitTransaction(s, 0));
  if (!harness_exists(h.held)) FAIL("the slice was not held while the records changed");
  unlink(h.gate);

  harness_step_checkpoint(inst);
  CK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
  CK(JetTerm2(inst, JET_bitTermComplete));
  unsetenv("ESE_FAULT");
  JET_INSTANCE i2 = harness_open_dir("uslice2", h.dir, &s, &t);
  for (int i = 0; i < NREC; i++) {
    char k[32], v[512], got[512];
    size_t vl = new_value(k, sizeof k, v, sizeof v, i), gl = 0;
    CK(EseSeek(s, t, k, strlen(k), JET_bitSeekEQ));
    CK(EseRetrieveValue(s, t, got, sizeof got, &gl));
    if (gl != vl || memcmp(got, v, vl) != 0) FAIL("%s has its value of before the slice after a clean term", k);
  }
  harness_expect_keys(s, t, "a", 0, NREC, 1, "after a clean term");
  CK(JetTerm2(i2, JET_bitTermComplete));
  harness_rm_rf(h.root);
  printf("update_during_slice: ok\n");
  return 0;
}
