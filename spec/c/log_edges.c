/*
 * log_edges.c -- edges of the log, restore and backup code that the Lua
 * specs do not reach.
 *
 *   empty-range  Two full backups back to back with nothing written
 *          between them: the second set's only log (the generation the
 *          first backup's cut-off started) holds no record.  Its restore
 *          replays nothing, yet the restored stream must go on from that
 *          generation (csrc/restore.c replay_finish): dest/edb.log is the
 *          next generation, its tm_prev_gen the set's last log's
 *          tm_create, the database's gen_max that last generation; an
 *          instance on dest then recovers, reads every record, commits,
 *          and a new backup of it lists generations above the set's.
 *
 * usage: log_edges [empty-range]   (default: every test)
 * Prints "log_edges: <test>: ok ..." per test and exits 0, or what
 * differed and exits 1.
 */
#include <dirent.h>

#define HARNESS_NAME "log_edges"
#include "harness.h"

#define LOG_KIB 128

static void file_info(const char *path, EseFileInfo *fi) {
  char detail[256];
  JET_ERR e = EseGetFileInfo(path, 0, fi, detail, sizeof detail);
  if (e) FAIL("EseGetFileInfo %s -> %s (%s)", path, harness_err_name(e), detail);
}

/* The highest generation of the archived logs edbXXXXXXXX.log in dir, and
 * that log's info. */
static unsigned long highest_log(const char *dir, EseFileInfo *hi) {
  DIR *d = opendir(dir);
  if (!d) FAIL("opendir %s: %s", dir, strerror(errno));
  unsigned long best = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t n = strlen(de->d_name);
    if (n != 15 || strncmp(de->d_name, "edb", 3) || strcmp(de->d_name + 11, ".log")) continue;
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
    EseFileInfo fi;
    file_info(p, &fi);
    if (fi.generation > best) {
      best = fi.generation;
      *hi = fi;
    }
  }
  closedir(d);
  if (best == 0) FAIL("%s holds no archived log", dir);
  return best;
}

static JET_INSTANCE new_instance(const char *dir) {
  JET_INSTANCE inst;
  char name[64];
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "edges"), dir, LOG_KIB, 0));
  return inst;
}

/* ---- empty-range ---------------------------------------------------------------- */
static void test_empty_range(const char *root) {
  char live[512], b1[512], b2[512], b3[512], dest[512], dbpath[600], rdb[600], p[600];
  harness_fresh_dir(live, sizeof live, root, "live");
  snprintf(b1, sizeof b1, "%s/b1", root);
  snprintf(b2, sizeof b2, "%s/b2", root);
  snprintf(b3, sizeof b3, "%s/b3", root);
  snprintf(dest, sizeof dest, "%s/dest", root);
  snprintf(dbpath, sizeof dbpath, "%s/app.edb", live);
  snprintf(rdb, sizeof rdb, "%s/app.edb", dest);

  JET_INSTANCE inst = new_instance(live);
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  CK(JetInit(&inst));
  CK(harness_create_table(inst, dbpath, "t", &s, &db, &t));
  harness_put_keys(s, t, "k", 0, 50);
  CK(JetBackupInstance(inst, b1, 0, NULL));
  CK(JetBackupInstance(inst, b2, 0, NULL));   /* nothing written since b1's cut-off */
  CK(JetTerm2(inst, JET_bitTermComplete));

  EseFileInfo last;
  unsigned long hi = highest_log(b2, &last);
  CK(JetRestoreInstance(0, b2, dest, NULL));

  EseFileInfo cur, dbi;
  snprintf(p, sizeof p, "%s/edb.log", dest);
  file_info(p, &cur);
  if (cur.generation != hi + 1)
    FAIL("empty-range: the restored edb.log is generation %lu, the set's last log is %lu (want %lu)",
         cur.generation, hi, hi + 1);
  if (cur.tmPrevGen != last.tmCreate)
    FAIL("empty-range: the restored edb.log does not follow generation %lu (tm_prev_gen %llu, want %llu)", hi,
         (unsigned long long)cur.tmPrevGen, (unsigned long long)last.tmCreate);
  file_info(rdb, &dbi);
  if (dbi.genMax != hi) FAIL("empty-range: the restored database's gen_max is %lu, want %lu", dbi.genMax, hi);

  /* the restored folder runs, and its stream goes on above the set's */
  inst = new_instance(dest);
  CK(JetInit(&inst));
  CK(harness_open_table(inst, rdb, 1, "t", &s, &db, &t));
  harness_expect_keys(s, t, "k", 0, 50, 1, "empty-range: the restored database");
  harness_put_keys(s, t, "n", 0, 10);
  CK(JetBackupInstance(inst, b3, 0, NULL));
  CK(JetTerm2(inst, JET_bitTermComplete));
  EseFileInfo last3;
  unsigned long hi3 = highest_log(b3, &last3);
  if (hi3 <= hi) FAIL("empty-range: a backup of the restored folder ends at generation %lu, not above %lu", hi3, hi);
  printf("log_edges: empty-range: ok (set of generation %lu, restored edb.log %lu, next backup up to %lu)\n", hi,
         cur.generation, hi3);
}

int main(int argc, char **argv) {
  harness_start(600);
  const char *which = argc > 1 ? argv[1] : "all";
  char root[256];
  harness_tempdir(root, sizeof root, "log-edges");
  int any = 0;
  if (!strcmp(which, "all") || !strcmp(which, "empty-range")) {
    test_empty_range(root);
    any = 1;
  }
  if (!any) FAIL("unknown test %s", which);
  harness_rm_rf(root);
  return 0;
}
