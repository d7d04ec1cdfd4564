/*
 * restore_live.c -- the C restore entry points never destroy live data and
 * never write through a symbolic link (docs/backup.md, "Where a restore
 * writes"):
 *  1. JetRestoreInstance into the log folder of a running instance of this
 *     process, directly or through a symbolic link to it, and into the log
 *     folder of an instance that another process holds:
 *     JET_errFileAccessDenied, and the folder is unchanged;
 *  2. JetExternalRestore2 with that folder as szLogPath, or as
 *     szCheckpointFilePath (szLogPath then a folder that does not exist and
 *     is not made): JET_errFileAccessDenied, nothing changed; without them
 *     it restores;
 *  3. JetRestoreInstance overwrites, as ESE's does: into a new folder, then
 *     again into the same one, both restore every record; EseRestoreBegin
 *     without .overwrite refuses that folder (JET_errBackupDirectoryNotEmpty,
 *     nothing changed), with it restores;
 *  4. a planted symbolic link dest/app.edb, or edb.chk in the checkpoint
 *     folder, to an outside file: JET_errInvalidPath, and the outside file
 *     is unchanged byte for byte; the same when the link replaces the
 *     copied database after EseRestoreStep copied it, before the replay
 *     reopens it;
 *  5. after all that every record of the running instances is there (the
 *     child's after its term, this process's after term and a new init).
 *
 * usage: restore_live
 * Prints "restore_live: FAIL: ..." and exits 1 at the first check that
 * differs, else "restore_live: ok".
 */
#define HARNESS_NAME "restore_live"
#include "harness.h"

#define NREC 40
#define MORE 10
#define LOG_KIB 128

static char root[64];

static void make_link(const char *target, const char *link) {
  if (symlink(target, link) != 0) FAIL("symlink %s: %s", link, strerror(errno));
}

/* An initialized instance on dir with dir/app.edb, table "t" and the keys
 * prefix 0..NREC; *s and *t stay open. */
static JET_INSTANCE open_instance(const char *dir, const char *prefix, JET_SESID *s, JET_TABLEID *t) {
  JET_INSTANCE inst;
  JET_DBID db;
  char name[64], p[256];
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "rl"), dir, LOG_KIB, 0));
  CK(JetInit(&inst));
  CK(harness_create_table(inst, harness_in(p, sizeof p, dir, "app.edb"), "t", s, &db, t));
  harness_put_keys(*s, *t, prefix, 0, NREC);
  return inst;
}

/* The keys prefix lo..hi are all in dir/app.edb, read by a new instance. */
static void expect_keys(const char *dir, const char *prefix, int lo, int hi) {
  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE ci = harness_open_dir("rl-check", dir, &s, &t);
  harness_expect_keys(s, t, prefix, lo, hi, 1, dir);
  CK(JetTerm2(ci, JET_bitTermComplete));
}

/* The child: holds held (its log folder) until release_fd reads EOF, then
 * adds MORE keys and terminates cleanly. */
static void child(const char *held, int ready_fd, int release_fd) {
  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE ci = open_instance(held, "c", &s, &t);
  char c;
  if (write(ready_fd, "r", 1) != 1) FAIL("child: write: %s", strerror(errno));
  while (read(release_fd, &c, 1) < 0 && errno == EINTR) {}
  harness_put_keys(s, t, "c", NREC, NREC + MORE);
  CK(JetEndSession(s, 0));
  CK(JetTerm2(ci, JET_bitTermComplete));
  _exit(0);
}

/* The in-place form: bk's database copied to dbdir/app.edb (the caller's
 * part of JetExternalRestore2), then JetExternalRestore2(chk, logs). */
static JET_ERR external(const char *bk, const char *original, const char *chk, const char *logs, const char *dbdir) {
  char db[256], src[256];
  if (access(dbdir, F_OK) != 0) harness_make_dir(dbdir);
  if (harness_copy_file(harness_in(src, sizeof src, bk, "app.edb"), harness_in(db, sizeof db, dbdir, "app.edb")))
    FAIL("copy to %s: %s", db, strerror(errno));
  JET_RSTMAP map = { (char *)original, db };
  JET_LOGINFO info = { sizeof(JET_LOGINFO), 0, 0, "edb" };
  return JetExternalRestore2((char *)chk, (char *)logs, &map, 1, (char *)bk, &info, NULL, NULL, NULL, NULL);
}

int main(void) {
  harness_start(600);
  harness_tempdir(root, sizeof root, "rl");
  char live[128], held[128], bk[128], link[128], p[256], q[256], dbpath[192], outside[128];
  harness_in(live, sizeof live, root, "live");
  harness_in(held, sizeof held, root, "held");
  harness_in(bk, sizeof bk, root, "bk");
  harness_in(dbpath, sizeof dbpath, live, "app.edb");
  harness_make_dir(live);
  harness_make_dir(held);

  /* the other process first: it must not inherit this one's instances */
  int ready[2], release[2];
  if (pipe(ready) != 0 || pipe(release) != 0) FAIL("pipe: %s", strerror(errno));
  pid_t pid = harness_fork();
  if (pid == 0) {
    close(ready[0]);
    close(release[1]);
    child(held, ready[1], release[0]);
  }
  close(ready[1]);
  close(release[0]);
  char c;
  if (read(ready[0], &c, 1) != 1) FAIL("the child did not open %s", held);

  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE li = open_instance(live, "k", &s, &t);
  CK(JetBackupInstance(li, bk, 0, NULL));

  /* 1: a running instance's log folder, here, through a link, in the child */
  int n0;
  uint64_t d0 = harness_dir_digest(live, &n0);
  harness_expect_err(JetRestoreInstance(0, bk, live, NULL), JET_errFileAccessDenied,
                     "JetRestoreInstance into a live folder");
  harness_expect_dir(live, d0, n0, "JetRestoreInstance into a live folder");
  make_link(live, harness_in(link, sizeof link, root, "link"));
  harness_expect_err(JetRestoreInstance(0, bk, link, NULL), JET_errFileAccessDenied,
         "JetRestoreInstance into a link to a live folder");
  harness_expect_dir(live, d0, n0, "JetRestoreInstance into a link to a live folder");
  int nh;
  uint64_t dh = harness_dir_digest(held, &nh);
  harness_expect_err(JetRestoreInstance(0, bk, held, NULL), JET_errFileAccessDenied,
         "JetRestoreInstance into a folder another process holds");
  harness_expect_dir(held, dh, nh, "JetRestoreInstance into a folder another process holds");

  /* 2: JetExternalRestore2, the live folder as log or checkpoint folder */
  harness_in(p, sizeof p, root, "x1");
  harness_expect_err(external(bk, dbpath, NULL, p, p), JET_errSuccess, "JetExternalRestore2 into x1");
  expect_keys(p, "k", 0, NREC);
  harness_in(p, sizeof p, root, "x2");
  harness_expect_err(external(bk, dbpath, NULL, live, p), JET_errFileAccessDenied,
                     "JetExternalRestore2 with a live log folder");
  harness_expect_dir(live, d0, n0, "JetExternalRestore2 with a live log folder");
  harness_expect_err(external(bk, dbpath, live, harness_in(q, sizeof q, root, "x-new"), p), JET_errFileAccessDenied,
         "JetExternalRestore2 with a live checkpoint folder");
  harness_expect_dir(live, d0, n0, "JetExternalRestore2 with a live checkpoint folder");
  if (access(q, F_OK) == 0) FAIL("JetExternalRestore2 refused but made %s", q);
  harness_expect_err(external(bk, dbpath, NULL, p, p), JET_errSuccess, "JetExternalRestore2 into x2");
  expect_keys(p, "k", 0, NREC);

  /* 3: overwrite is the C entry points' default; EseRestoreBegin's option */
  harness_in(p, sizeof p, root, "r1");
  harness_expect_err(JetRestoreInstance(0, bk, p, NULL), JET_errSuccess, "JetRestoreInstance into a new folder");
  harness_expect_err(JetRestoreInstance(0, bk, p, NULL), JET_errSuccess,
                     "JetRestoreInstance again into the same folder");
  expect_keys(p, "k", 0, NREC);
  const char *dirs[1] = { bk };
  char detail[512] = "";
  EseRestoreOptions o = { .dirs = dirs, .ndirs = 1, .dest = p, .detail = detail, .detail_cap = sizeof detail };
  EseRestore *r = NULL;
  d0 = harness_dir_digest(p, &n0);
  harness_expect_err(EseRestoreBegin(&o, &r), JET_errBackupDirectoryNotEmpty,
                     "EseRestoreBegin into a folder that is not empty");
  harness_expect_dir(p, d0, n0, "EseRestoreBegin without overwrite");
  if (!strstr(detail, "not empty")) FAIL("EseRestoreBegin's detail: '%s'", detail);
  o.overwrite = 1;
  CK(EseRestoreBegin(&o, &r));
  int finished = 0;
  while (!finished) CK(EseRestoreStep(r, NULL, NULL, &finished));
  EseRestoreEnd(r);
  expect_keys(p, "k", 0, NREC);

  /* 4: planted links */
  harness_in(outside, sizeof outside, root, "outside");
  if (harness_copy_file(dbpath, outside)) FAIL("copy %s: %s", outside, strerror(errno));
  uint64_t h0 = harness_file_hash(outside);
  harness_make_dir(harness_in(p, sizeof p, root, "r2"));
  make_link(outside, harness_in(q, sizeof q, p, "app.edb"));
  harness_expect_err(JetRestoreInstance(0, bk, p, NULL), JET_errInvalidPath, "JetRestoreInstance over a link app.edb");
  if (harness_file_hash(outside) != h0) FAIL("JetRestoreInstance wrote through the link %s", q);
  harness_make_dir(harness_in(q, sizeof q, root, "c3"));
  char chk[256];
  make_link(outside, harness_in(chk, sizeof chk, q, "edb.chk"));
  harness_in(p, sizeof p, root, "x3");
  harness_expect_err(external(bk, dbpath, q, p, p), JET_errInvalidPath,
         "JetExternalRestore2 with a link edb.chk in its checkpoint folder");
  if (harness_file_hash(outside) != h0) FAIL("JetExternalRestore2 wrote through the link %s", chk);

  /* 4b: a link planted after the copy, before the replay reopens the
   * copied database: the replay refuses it and never writes through it */
  harness_in(p, sizeof p, root, "r4");
  o = (EseRestoreOptions){ .dirs = dirs, .ndirs = 1, .dest = p };
  CK(EseRestoreBegin(&o, &r));
  uint64_t done = 0, total = 1;
  finished = 0;
  while (done * 2 < total) CK(EseRestoreStep(r, &done, &total, &finished));
  harness_in(q, sizeof q, p, "app.edb");
  if (unlink(q) != 0) FAIL("unlink %s: %s", q, strerror(errno));
  make_link(outside, q);
  JET_ERR re = JET_errSuccess;
  while (re == JET_errSuccess && !finished) re = EseRestoreStep(r, NULL, NULL, &finished);
  EseRestoreEnd(r);
  harness_expect_err(re, JET_errInvalidPath, "a restore whose copied database became a link before replay");
  if (harness_file_hash(outside) != h0) FAIL("the restore's replay wrote through the link %s", q);

  /* 5: the running instances lost nothing */
  close(release[1]);
  int st = harness_wait(pid);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) FAIL("the child ended with %s", harness_status_text(st));
  expect_keys(held, "c", 0, NREC + MORE);
  harness_put_keys(s, t, "k", NREC, NREC + MORE);
  CK(JetEndSession(s, 0));
  CK(JetTerm2(li, JET_bitTermComplete));
  expect_keys(live, "k", 0, NREC + MORE);

  if (harness_rm_rf(root) != 0) FAIL("could not remove %s", root);
  printf("restore_live: ok\n");
  return 0;
}
