/*
 * backup_manifest.c -- JetBackupInstance writes the manifest.json of
 * ese.backup's backup.run (issue 8 item 10), and refuses a full backup of
 * no database (item 4).  In the folder given:
 *   live/   an instance with app.edb, table "t", keys "k00".."k<n>"
 *   set/    JetBackupInstance full
 *   inc/    JetBackupInstance incremental, after keys "m00".."m<n>"
 *   none/   a second instance with no database attached: its full
 *           JetBackupInstance must return JET_errDatabaseNotFound, write no
 *           file and truncate no log
 *   faultK/ a full JetBackupInstance whose K-th write or sync fails
 *           (ESE_FAULT=eio:K), for K = 1, 2, ... until one succeeds:
 *           each failure returns JET_errDiskIO and leaves no file
 *   copy/   set/ restored (EseRestoreBegin: a new timeline, copy/edb.tl)
 *   cset/   JetBackupInstance full of an instance on copy/: its manifest
 *           records the timeline (timeline18)
 * The spec (backup_manifest_spec.lua) then checks the manifests with
 * backup.verify, compares their keys with backup.run's and restores.
 *
 * usage: backup_manifest DIR [keys]
 * Prints "backup_manifest: ok: ..." and exits 0 on success.
 */
#include <dirent.h>

#define HARNESS_NAME "backup_manifest"
#include "harness.h"

/* The entries of dir (but . and ..), -1 when it cannot be opened. */
static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
  closedir(d);
  return n;
}

int main(int argc, char **argv) {
  harness_start(600);
  if (argc < 2) FAIL("usage: backup_manifest DIR [keys]");
  const char *top = argv[1];
  if (strlen(top) > 1024) FAIL("DIR too long");
  int keys = argc > 2 ? atoi(argv[2]) : 200;
  char live[1100], db[1200], set[1100], inc[1100], none[1100], nonelive[1100];
  snprintf(live, sizeof live, "%s/live", top);
  snprintf(db, sizeof db, "%s/app.edb", live);
  snprintf(set, sizeof set, "%s/set", top);
  snprintf(inc, sizeof inc, "%s/inc", top);
  snprintf(none, sizeof none, "%s/none", top);
  snprintf(nonelive, sizeof nonelive, "%s/nonelive", top);
  if (mkdir(live, 0700) != 0 || mkdir(nonelive, 0700) != 0) FAIL("mkdir: %s", strerror(errno));

  JET_INSTANCE inst, other;
  JET_SESID s;
  JET_DBID dbid;
  JET_TABLEID t;
  CK(harness_instance(&inst, "manifest-live", live, 64, 0));
  CK(JetInit(&inst));
  CK(harness_create_table(inst, db, "t", &s, &dbid, &t));
  harness_put_keys(s, t, "k", 0, keys);
  CK(JetBackupInstance(inst, set, 0, NULL));
  harness_put_keys(s, t, "m", 0, keys);
  CK(JetBackupInstance(inst, inc, JET_bitBackupIncremental, NULL));

  /* an instance with no database: refused, nothing written */
  CK(harness_instance(&other, "manifest-none", nonelive, 64, 0));
  CK(JetInit(&other));
  int before = count_entries(nonelive);
  JET_ERR e = JetBackupInstance(other, none, 0, NULL);
  if (e != JET_errDatabaseNotFound)
    FAIL("a full JetBackupInstance of no database returned %ld %s, not JET_errDatabaseNotFound", (long)e,
         harness_err_name(e));
  if (count_entries(none) > 0) FAIL("the refused backup wrote %d files into %s", count_entries(none), none);
  if (count_entries(nonelive) != before) FAIL("the refused backup changed the log folder");
  /* it ended with abort: a new backup can begin */
  CK(JetBeginExternalBackupInstance(other, 0));
  CK(JetEndExternalBackupInstance2(other, JET_bitBackupEndAbort));
  CK(JetTerm2(other, JET_bitTermComplete));

  /* a JetBackupInstance whose K-th write or sync fails (ESE_FAULT=eio:K,
   * read by the esio the call makes; the instance's own was made at
   * init) leaves no file of its own behind, for every K until one
   * succeeds; the backup is ended (the next one begins) */
  int k;
  for (k = 1; k < 100000; k++) {
    char fset[1200], spec[32];
    snprintf(fset, sizeof fset, "%s/fault%d", top, k);
    snprintf(spec, sizeof spec, "eio:%d", k);
    if (setenv("ESE_FAULT", spec, 1) != 0) FAIL("setenv: %s", strerror(errno));
    JET_ERR fe = JetBackupInstance(inst, fset, 0, NULL);
    unsetenv("ESE_FAULT");
    if (fe == JET_errSuccess) break;
    if (fe != JET_errDiskIO) FAIL("eio:%d: JetBackupInstance returned %ld %s, not JET_errDiskIO", k, (long)fe,
                                  harness_err_name(fe));
    int left = count_entries(fset);
    if (left > 0) FAIL("eio:%d: the failed JetBackupInstance left %d files in %s", k, left, fset);
  }
  if (k < 3) FAIL("the fault sweep ended at eio:%d: no write was faulted", k);

  CK(EseCloseTable(s, t));
  CK(JetEndSession(s, 0));
  CK(JetTerm2(inst, JET_bitTermComplete));

  /* set/ restored into copy/, an instance on it backed up into cset/ */
  char copy[1100], cdb[1200], cset[1100];
  snprintf(copy, sizeof copy, "%s/copy", top);
  snprintf(cdb, sizeof cdb, "%s/app.edb", copy);
  snprintf(cset, sizeof cset, "%s/cset", top);
  const char *dirs[] = { set };
  EseRestoreOptions ro = { .dirs = dirs, .ndirs = 1, .dest = copy };
  EseRestore *r = NULL;
  CK(EseRestoreBegin(&ro, &r));
  for (int fin = 0; !fin;) {
    uint64_t done, total;
    JET_ERR re = EseRestoreStep(r, &done, &total, &fin);
    if (re < 0) {
      EseRestoreEnd(r);
      CK(re);
    }
  }
  EseRestoreEnd(r);
  JET_INSTANCE ci;
  JET_SESID cs;
  CK(harness_instance(&ci, "manifest-copy", copy, 64, 0));
  CK(JetInit(&ci));
  CK(JetBeginSession(ci, &cs, NULL, NULL));
  CK(JetAttachDatabase(cs, cdb, 0));
  CK(JetBackupInstance(ci, cset, 0, NULL));
  CK(JetEndSession(cs, 0));
  CK(JetTerm2(ci, JET_bitTermComplete));
  printf("%s: ok: full %s, incremental %s, %d keys each; no-database full refused; a failed backup at any of "
         "%d writes left no file\n", HARNESS_NAME, set, inc, keys, k - 1);
  return 0;
}
