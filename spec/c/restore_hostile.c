/*
 * restore_hostile.c -- JetExternalRestore2 given hostile paths (review of
 * issue 8, items 1 and 3; docs/backup.md "Where a restore writes"):
 *  1. a rstmap szNewDatabaseName that is a symbolic link to the caller's
 *     copy: JET_errInvalidPath, the copy unchanged byte for byte;
 *  2. a szCheckpointFilePath that is the backup folder it reads
 *     (szBackupLogPath), also through a link: JET_errInvalidParameter, the
 *     set unchanged, the log folder not made;
 *  3. two rstmap entries naming one file (the same path, or two hard
 *     links): JET_errInvalidParameter before the file is touched;
 *  4. a record of the set's first log damaged: the in-place restore is
 *     JET_errLogCorruptDuringHardRestore with the caller's copy unchanged
 *     byte for byte (its pages and its logs are read before it is written);
 *  5. after all that the plain in-place restore works.
 *
 * usage: restore_hostile
 * Prints "restore_hostile: FAIL: ..." and exits 1 at the first check that
 * differs, else "restore_hostile: ok".
 */
#define HARNESS_NAME "restore_hostile"
#include "harness.h"

#define NREC 40
#define LOG_KIB 128

static char root[64];

/* JetExternalRestore2 of bk's logs into logs (checkpoint folder chk) with
 * the databases dbs[0..n) restored in place, each logged as original. */
static JET_ERR external(const char *bk, const char *original, const char *chk, const char *logs, const char *const *dbs,
                        int n) {
  JET_RSTMAP map[4];
  for (int i = 0; i < n; i++) map[i] = (JET_RSTMAP){ (char *)original, (char *)dbs[i] };
  JET_LOGINFO info = { sizeof(JET_LOGINFO), 0, 0, "edb" };
  return JetExternalRestore2((char *)chk, (char *)logs, map, n, (char *)bk, &info, NULL, NULL, NULL, NULL);
}

/* XORs byte off of path with 0x5a. */
static void flip(const char *path, off_t off) {
  int fd = open(path, O_RDWR | O_CLOEXEC);
  unsigned char c;
  if (fd < 0 || pread(fd, &c, 1, off) != 1) FAIL("read %s: %s", path, strerror(errno));
  c ^= 0x5a;
  if (pwrite(fd, &c, 1, off) != 1) FAIL("write %s: %s", path, strerror(errno));
  close(fd);
}

static void copy(const char *from, const char *to) {
  if (harness_copy_file(from, to)) FAIL("copy %s to %s: %s", from, to, strerror(errno));
}

int main(void) {
  harness_start(600);
  harness_tempdir(root, sizeof root, "rh");
  char live[128], bk[128], dbpath[192], copy1[192], lnk[192], logs[192], p[192], q[192];
  harness_in(live, sizeof live, root, "live");
  harness_in(bk, sizeof bk, root, "bk");
  harness_in(dbpath, sizeof dbpath, live, "app.edb");
  harness_in(logs, sizeof logs, root, "logs");
  harness_make_dir(live);

  JET_INSTANCE li;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  char name[64];
  CK(harness_instance(&li, harness_unique_name(name, sizeof name, "rh"), live, LOG_KIB, 0));
  CK(JetInit(&li));
  CK(harness_create_table(li, dbpath, "t", &s, &db, &t));
  harness_put_keys(s, t, "k", 0, NREC);
  CK(JetBackupInstance(li, bk, 0, NULL));
  CK(JetEndSession(s, 0));
  CK(JetTerm2(li, JET_bitTermComplete));
  char bkdb[192];
  harness_in(bkdb, sizeof bkdb, bk, "app.edb");
  int nb;
  uint64_t db0 = harness_dir_digest(bk, &nb);

  /* 1: the caller's copy named through a link */
  harness_make_dir(harness_in(p, sizeof p, root, "dbs"));
  copy(bkdb, harness_in(copy1, sizeof copy1, p, "app.edb"));
  uint64_t h0 = harness_file_hash(copy1);
  if (symlink(copy1, harness_in(lnk, sizeof lnk, p, "link.edb")) != 0) FAIL("symlink: %s", strerror(errno));
  const char *one[1] = { lnk };
  harness_expect_err(external(bk, dbpath, NULL, logs, one, 1), JET_errInvalidPath, "a rstmap target that is a link");
  if (harness_file_hash(copy1) != h0) FAIL("the restore wrote through the link %s", lnk);
  if (access(logs, F_OK) == 0) FAIL("a refused restore made %s", logs);

  /* 2: the checkpoint folder is the backup folder (or a link to it) */
  const char *own[1] = { copy1 };
  harness_expect_err(external(bk, dbpath, bk, logs, own, 1), JET_errInvalidParameter,
                     "szCheckpointFilePath = szBackupLogPath");
  if (symlink(bk, harness_in(q, sizeof q, root, "bklink")) != 0) FAIL("symlink: %s", strerror(errno));
  harness_expect_err(external(bk, dbpath, q, logs, own, 1), JET_errInvalidParameter,
         "szCheckpointFilePath a link to szBackupLogPath");
  harness_expect_dir(bk, db0, nb, "a restore with the set as checkpoint folder");
  if (harness_file_hash(copy1) != h0) FAIL("a refused restore changed %s", copy1);
  if (access(logs, F_OK) == 0) FAIL("a refused restore made %s", logs);

  /* 3: one file named twice */
  const char *twice[2] = { copy1, copy1 };
  harness_expect_err(external(bk, dbpath, NULL, logs, twice, 2), JET_errInvalidParameter, "one rstmap target twice");
  if (link(copy1, harness_in(q, sizeof q, p, "hard.edb")) != 0) FAIL("link: %s", strerror(errno));
  const char *hard[2] = { copy1, q };
  harness_expect_err(external(bk, dbpath, NULL, logs, hard, 2), JET_errInvalidParameter, "two hard links of one file");
  if (harness_file_hash(copy1) != h0) FAIL("a refused restore changed %s", copy1);
  if (access(logs, F_OK) == 0) FAIL("a refused restore made %s", logs);

  /* 4: a damaged record in the set's first log (the replay's first) */
  char firstlog[192];
  snprintf(firstlog, sizeof firstlog, "%s/edb%08X.log", bk, 1u);
  if (access(firstlog, F_OK) != 0) FAIL("no %s in the set", firstlog);
  flip(firstlog, 12288 + 40);          /* LOG_DATA_START: inside the generation's first record */
  harness_expect_err(external(bk, dbpath, NULL, logs, own, 1), JET_errLogCorruptDuringHardRestore,
                     "an in-place restore of a set with a damaged log record");
  if (harness_file_hash(copy1) != h0) FAIL("a refused in-place restore changed %s", copy1);
  flip(firstlog, 12288 + 40);

  /* 5: the plain form works */
  CK(external(bk, dbpath, NULL, logs, own, 1));
  JET_INSTANCE ci;
  CK(harness_instance(&ci, harness_unique_name(name, sizeof name, "rh-check"), logs, LOG_KIB, 0));
  CK(JetInit(&ci));
  CK(harness_open_table(ci, copy1, 1, "t", &s, &db, &t));
  harness_expect_keys(s, t, "k", 0, NREC, 1, copy1);
  CK(JetEndSession(s, 0));
  CK(JetTerm2(ci, JET_bitTermComplete));

  if (harness_rm_rf(root) != 0) FAIL("could not remove %s", root);
  printf("restore_hostile: ok\n");
  return 0;
}
