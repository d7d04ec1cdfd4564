/*
 * rel_paths.c -- folder parameters given as relative paths are the
 * folders they named at JetInit, whatever the process's working folder
 * later: an embedder that calls chdir after init must not have its log
 * rolled, its checkpoint written, its archive shipped into other folders
 * (or fail).  Before (session 16) they were used as given: after the
 * chdir the first roll failed (the log folder "logs" was looked for in
 * the new working folder).
 *
 * In a new folder T (the working folder at init): an instance with
 * system_path "sys", log_path "logs", archive_path "arc" (relative),
 * 64 KiB logs, a checkpoint at every roll, a database "app.edb"; after
 * init the process moves to another new folder O; records are committed
 * past several rolls, the archive ships every closed generation, the
 * instance ends abruptly (soft recovery must replay).  Then:
 *   - T/logs holds edb.log and the closed generations, T/sys edb.chk,
 *     T/arc every closed generation with the log folder's bytes;
 *   - O is still empty (nothing made or written relative to it);
 *   - an instance on T's folders (absolute paths, still from O) recovers
 *     and finds every record;
 *   - JetGetSystemParameter reports the folders as absolute paths (and
 *     as given after an init that failed: a second instance's, the
 *     folders held).
 * Run by spec/archive_spec.lua.
 *
 * Usage: rel_paths
 * Prints "rel_paths: ok N generations archived".
 */
#define HARNESS_NAME "rel_paths"
#include "harness.h"

#define NREC 1200

static void put_all(JET_SESID s, JET_TABLEID t) {
  char v[1024];
  memset(v, 'v', sizeof v);
  for (int i = 0; i < NREC; i++) {
    char k[32];
    snprintf(k, sizeof k, "k%06d", i);
    CK(JetBeginTransaction(s));
    CK(EsePut(s, t, k, strlen(k), v, sizeof v));
    CK(JetCommitTransaction(s, 0));
  }
}

static void expect_all(JET_SESID s, JET_TABLEID t) {
  for (int i = 0; i < NREC; i++) {
    char k[32];
    snprintf(k, sizeof k, "k%06d", i);
    JET_ERR e = EseSeek(s, t, k, strlen(k), JET_bitSeekEQ);
    if (e != JET_errSuccess) FAIL("after recovery: %s missing (%s)", k, harness_err_name(e));
  }
}

/* FAILs unless the folder parameter id of inst reads want. */
static void expect_param(JET_INSTANCE inst, unsigned long id, const char *want) {
  char got[4200];
  CK(JetGetSystemParameter(inst, 0, id, NULL, got, sizeof got));
  if (strcmp(got, want) != 0) FAIL("parameter %lu reads %s, want %s", id, got, want);
}

int main(void) {
  harness_start(600);
  char top[256], other[256], real_top[4096], sys[4200], logs[4200], arc[4200], db[4200], p[4300], q[4300];
  harness_tempdir(top, sizeof top, "rel-paths");
  harness_tempdir(other, sizeof other, "rel-paths-other");
  if (!realpath(top, real_top)) FAIL("realpath %s: %s", top, strerror(errno));
  harness_in(sys, sizeof sys, real_top, "sys");
  harness_in(logs, sizeof logs, real_top, "logs");
  harness_in(arc, sizeof arc, real_top, "arc");
  harness_in(db, sizeof db, real_top, "app.edb");
  if (chdir(top) != 0) FAIL("chdir %s: %s", top, strerror(errno));

  JET_INSTANCE inst;
  char name[64];
  CK(JetCreateInstance(&inst, harness_unique_name(name, sizeof name, "relpaths")));
  CK(JetSetSystemParameter(&inst, 0, JET_paramSystemPath, 0, "sys"));
  CK(JetSetSystemParameter(&inst, 0, JET_paramLogFilePath, 0, "logs"));
  CK(JetSetSystemParameter(&inst, 0, JET_paramArchivePath, 0, "arc"));
  CK(JetSetSystemParameter(&inst, 0, JET_paramLogFileSize, 64, NULL));
  CK(JetSetSystemParameter(&inst, 0, JET_paramCheckpointDepthMax, 0, NULL));   /* one at every roll */
  CK(JetSetSystemParameter(&inst, 0, JET_paramArchiveTimeout, 0, NULL));
  CK(JetSetSystemParameter(&inst, 0, JET_paramArchiveRetryMax, 50, NULL));
  CK(JetInit(&inst));
  /* an init that fails (the folders are held) leaves the parameters as given */
  JET_INSTANCE second;
  CK(JetCreateInstance(&second, harness_unique_name(name, sizeof name, "relpaths")));
  CK(JetSetSystemParameter(&second, 0, JET_paramSystemPath, 0, "sys"));
  CK(JetSetSystemParameter(&second, 0, JET_paramLogFilePath, 0, "logs"));
  harness_expect_err(JetInit(&second), JET_errFileAccessDenied, "a second init on the same folders");
  expect_param(second, JET_paramLogFilePath, "logs");
  CK(JetTerm(second));
  JET_SESID s;
  JET_DBID dbid;
  JET_TABLEID t;
  CK(harness_create_table(inst, "app.edb", "t", &s, &dbid, &t));
  if (chdir(other) != 0) FAIL("chdir %s: %s", other, strerror(errno));

  put_all(s, t);   /* 1.2 MiB of records: the 64 KiB logs roll many times */
  EseArchiveInfo ai;
  memset(&ai, 0, sizeof ai);
  ai.cbStruct = sizeof ai;
  CK(EseArchiveStatus(inst, &ai));
  unsigned long closed = ai.ulShippedGeneration + ai.ulPending;
  if (closed < 3) FAIL("only %lu generations closed", closed);
  for (int i = 0; ai.ulShippedGeneration < closed; i++) {   /* a hang guard, not a speed check */
    if (i == 120000) FAIL("the archive shipped through %lu of %lu: %s", ai.ulShippedGeneration, closed, ai.szLastError);
    harness_nap_ms(1);
    CK(EseArchiveStatus(inst, &ai));
  }
  expect_param(inst, JET_paramSystemPath, sys);
  expect_param(inst, JET_paramLogFilePath, logs);
  expect_param(inst, JET_paramArchivePath, arc);
  CK(JetEndSession(s, 0));
  CK(JetTerm2(inst, JET_bitTermAbrupt));

  int n;
  harness_dir_digest(other, &n);
  if (n != 0) FAIL("%d entries made in the working folder %s", n, other);
  harness_in(p, sizeof p, logs, "edb.log");
  if (!harness_exists(p)) FAIL("no %s", p);
  harness_in(p, sizeof p, sys, "edb.chk");
  if (!harness_exists(p)) FAIL("no %s", p);
  for (unsigned long g = 1; g <= closed; g++) {
    char f[32];
    snprintf(f, sizeof f, "edb%08lX.log", g);
    harness_in(p, sizeof p, logs, f);
    harness_in(q, sizeof q, arc, f);
    if (!harness_exists(q)) FAIL("generation %lu not in the archive %s", g, arc);
    if (harness_exists(p) && harness_file_hash(p) != harness_file_hash(q)) FAIL("%s differs from %s", q, p);
  }

  /* soft recovery of the stream, from the other folder, by absolute paths */
  CK(JetCreateInstance(&inst, harness_unique_name(name, sizeof name, "relpaths")));
  CK(JetSetSystemParameter(&inst, 0, JET_paramSystemPath, 0, sys));
  CK(JetSetSystemParameter(&inst, 0, JET_paramLogFilePath, 0, logs));
  CK(JetInit(&inst));
  CK(harness_open_table(inst, db, 1, "t", &s, &dbid, &t));
  expect_all(s, t);
  CK(JetEndSession(s, 0));
  CK(JetTerm2(inst, JET_bitTermComplete));
  harness_dir_digest(other, &n);
  if (n != 0) FAIL("%d entries made in the working folder %s", n, other);

  if (chdir("/") != 0) FAIL("chdir /");
  harness_rm_rf(top);
  harness_rm_rf(other);
  printf("rel_paths: ok %lu generations archived\n", closed);
  return 0;
}
