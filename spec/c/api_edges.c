/*
 * api_edges.c -- edges of the C backup and restore API that the Lua specs
 * cannot reach (instance handles 0 / JET_instanceNil, raw list buffers,
 * JetBackupInstance grbits and folders, JetRestoreInstance with no
 * destination, JetExternalRestore2's target arguments).  Rules:
 * docs/backup.md rules 3-5, the comments of ese.h.
 *
 *  1. multi-instance mode: the instance forms with handle 0 or
 *     JET_instanceNil and the legacy forms (End, Stop) answer
 *     JET_errRunningInMultiInstanceMode and leave the running backup of
 *     the one instance alone; with nothing initialized they answer
 *     JET_errNotInitialized (rules 3, 5);
 *  2. JetExternalRestore2 with target arguments (a target log path
 *     without a target checkpoint path, the reverse, a target instance
 *     name) or without szLogPath: JET_errInvalidParameter and the
 *     destination is untouched; the same call without them (and without a
 *     checkpoint path: the checkpoint goes with the logs) restores;
 *  3. JetGetAttachInfoInstance / JetGetLogInfoInstance with cbMax 16: no
 *     error, *pcbActual is the full size, the buffer holds the list's first
 *     16 bytes and nothing past them is written (ese.h);
 *  4. JetCloseFileInstance with no backup running: JET_errNoBackup
 *     (rule 4), also for a handle of a backup that has ended;
 *  5-7. JetBackupInstance refuses, and creates nothing when it does: a
 *     grbit other than 0 / JET_bitBackupIncremental (JET_errInvalidGrbit),
 *     a running external backup (JET_errBackupInProgress; that backup goes
 *     on), an instance not initialized, handle 0, an incremental without a
 *     full backup, a NULL or empty path (JET_errInvalidParameter: lua-ese
 *     does not do ESE's "truncate only"); a non-empty folder is left as it
 *     was and no backup is left running;
 *  8. JetRestoreInstance with a NULL destination: JET_errInvalidParameter,
 *     nothing written in the set or at the original paths, the callback
 *     never called; a restore into a folder then calls the callback with
 *     JET_snpRestore progress (done <= total) and every record is back.
 *  9. JetInit3's map (JET_RSTINFO) is checked before anything is made: a
 *     wrong cbStruct, crstmap < 0 or > 1024, a NULL array, a NULL or empty
 *     name, one old name twice: JET_errInvalidParameter; a new name whose
 *     folder does not exist: JET_errInvalidPath; the log folder is not
 *     created and the instance stays not initialized (a good map then
 *     inits it).
 * 10. the entry points of restore and file inspection with NULL
 *     arguments: EseRestoreBegin (no options, no out, no folder, no
 *     destination, a two-letter base name, gen_low > gen_high),
 *     EseRestoreStep, EseVerifyPages, EseGetFileInfo answer
 *     JET_errInvalidParameter; EseRestoreResultOf with no restore zeroes
 *     the result and with no result does nothing; EseRestoreDetail(NULL)
 *     is ""; EseRestoreEnd(NULL) does nothing; EseBackupStep with no
 *     pfMore, EseBackupPaceReserve / EseGetBackupPaceStatus with no
 *     out-pointer, JetGetLogInfoInstance2 with no JET_LOGINFO or a wrong
 *     cbSize: JET_errInvalidParameter.
 *
 * usage: api_edges
 * Prints one "api_edges: FAIL: ..." line per check that differs (and
 * exits 1), or "api_edges: ok" (and exits 0).
 */
#define HARNESS_NAME "api_edges"
#include "harness.h"

#define NREC 40
#define LOG_KIB 128

static char root[64], live[128], dbpath[192];
static JET_INSTANCE live_inst;
static int failures;

/* A check that differs: reported, counted; the program goes on. */
__attribute__((format(printf, 1, 2))) static void miss(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  harness_vreport("FAIL", fmt, ap);
  va_end(ap);
  failures++;
}

#define EXPECT(got, want, ...)                                                       \
  do {                                                                               \
    JET_ERR g_ = (got), w_ = (want);                                                 \
    if (g_ != w_) {                                                                  \
      char what_[256];                                                               \
      snprintf(what_, sizeof what_, __VA_ARGS__);                                    \
      miss("%s -> %s (%ld), want %s (%ld)", what_, harness_err_name(g_), (long)g_,   \
           harness_err_name(w_), (long)w_);                                          \
    }                                                                                \
  } while (0)

#define CHECK(cond, ...)            \
  do {                              \
    if (!(cond)) miss(__VA_ARGS__); \
  } while (0)

/* ---- files ------------------------------------------------------------------ */

static char *path_in(char *out, size_t n, const char *dir, const char *name) {
  if ((size_t)snprintf(out, n, "%s/%s", dir, name) >= n) FAIL("path %s/%s too long", dir, name);
  return out;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

/* ---- the live instance -------------------------------------------------------- */

/* An initialized instance on live with dbpath, table "t" and NREC records. */
static void open_live(void) {
  char name[64];
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  CK(harness_instance(&live_inst, harness_unique_name(name, sizeof name, "ae-live"), live, LOG_KIB, 0));
  CK(JetInit(&live_inst));
  CK(harness_create_table(live_inst, dbpath, "t", &s, &db, &t));
  for (int i = 0; i < NREC; i++) {
    char k[16], v[64];
    snprintf(k, sizeof k, "k%04d", i);
    memset(v, 'a' + i % 26, sizeof v);
    CK(EsePut(s, t, k, strlen(k), v, sizeof v));
  }
  CK(JetEndSession(s, 0));
}

/* Records in dir/app.edb, by a new instance on dir (terminated after). */
static long count_records(const char *dir) {
  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE ci = harness_open_dir("ae-count", dir, &s, &t);
  long n = 0;
  JET_ERR e = EseSeek(s, t, NULL, 0, JET_bitSeekGE);
  while (e == JET_errSuccess) {
    char k[EseMaxKeySize];
    size_t kl;
    n++;
    CK(EseRetrieveKey(s, t, k, sizeof k, &kl));
    e = EseSeek(s, t, k, kl, JET_bitSeekGT);
  }
  if (e != JET_errRecordNotFound) FAIL("counting %s/app.edb: seek -> %s", dir, harness_err_name(e));
  CK(JetTerm2(ci, JET_bitTermComplete));
  return n;
}

typedef JET_ERR (*list_fn)(JET_INSTANCE, char *, unsigned long, unsigned long *);

/* The list fn returns, asked with its size first (free it); *cb its size. */
static char *get_list(list_fn fn, unsigned long *cb) {
  CK(fn(live_inst, NULL, 0, cb));
  char *buf = malloc(*cb);
  if (!buf) FAIL("out of memory");
  unsigned long again = 0;
  CK(fn(live_inst, buf, *cb, &again));
  if (again != *cb) FAIL("the list changed size between two calls (%lu, %lu)", *cb, again);
  return buf;
}

/* A whole streaming backup of live_inst (no truncation: a "copy") into
 * setdir; *info gets GetLogInfoInstance2's range. */
static void stream_set(const char *setdir, JET_LOGINFO *info) {
  if (mkdir(setdir, 0700) != 0) FAIL("mkdir %s: %s", setdir, strerror(errno));
  CK(JetBeginExternalBackupInstance(live_inst, 0));
  unsigned long cb;
  char *dbs = get_list(JetGetAttachInfoInstance, &cb);
  for (char *p = dbs; *p; p += strlen(p) + 1) (void)harness_copy_stream(live_inst, p, setdir);
  free(dbs);
  CK(JetGetLogInfoInstance2(live_inst, NULL, 0, &cb, info));
  char *logs = get_list(JetGetLogInfoInstance, &cb);
  for (char *p = logs; *p; p += strlen(p) + 1) (void)harness_copy_stream(live_inst, p, setdir);
  free(logs);
  CK(JetEndExternalBackupInstance2(live_inst, JET_bitBackupEndNormal));
}

/* ---- 1: instance-less calls in multi-instance mode ------------------------------ */

static void multi_instance_mode(void) {
  CK(JetBeginExternalBackupInstance(live_inst, 0));
  EXPECT(JetEndExternalBackupInstance(0), JET_errRunningInMultiInstanceMode, "JetEndExternalBackupInstance(0)");
  EXPECT(JetEndExternalBackupInstance(JET_instanceNil), JET_errRunningInMultiInstanceMode,
         "JetEndExternalBackupInstance(JET_instanceNil)");
  EXPECT(JetEndExternalBackupInstance2(JET_instanceNil, JET_bitBackupEndAbort), JET_errRunningInMultiInstanceMode,
         "JetEndExternalBackupInstance2(JET_instanceNil, EndAbort)");
  EXPECT(JetEndExternalBackupInstance2(0, JET_bitBackupEndNormal), JET_errRunningInMultiInstanceMode,
         "JetEndExternalBackupInstance2(0, EndNormal)");
  EXPECT(JetStopBackupInstance(0), JET_errRunningInMultiInstanceMode, "JetStopBackupInstance(0)");
  EXPECT(JetStopBackupInstance(JET_instanceNil), JET_errRunningInMultiInstanceMode,
         "JetStopBackupInstance(JET_instanceNil)");
  EXPECT(JetEndExternalBackup(), JET_errRunningInMultiInstanceMode, "JetEndExternalBackup() (legacy form)");
  EXPECT(JetStopBackup(), JET_errRunningInMultiInstanceMode, "JetStopBackup() (legacy form)");
  /* none of them reached the one instance's backup: neither stopped (-801) nor ended (-520) */
  unsigned long cb = 0;
  EXPECT(JetGetAttachInfoInstance(live_inst, NULL, 0, &cb), JET_errSuccess,
         "JetGetAttachInfoInstance after the instance-less End/Stop calls");
  EXPECT(JetEndExternalBackupInstance2(live_inst, JET_bitBackupEndAbort), JET_errSuccess,
         "JetEndExternalBackupInstance2(inst, EndAbort) after the instance-less End/Stop calls");
}

/* With nothing initialized (rule 5). */
static void no_mode(void) {
  EXPECT(JetEndExternalBackupInstance(0), JET_errNotInitialized, "JetEndExternalBackupInstance(0), nothing initialized");
  EXPECT(JetStopBackupInstance(JET_instanceNil), JET_errNotInitialized,
         "JetStopBackupInstance(JET_instanceNil), nothing initialized");
  EXPECT(JetEndExternalBackup(), JET_errNotInitialized, "JetEndExternalBackup(), nothing initialized");
  EXPECT(JetStopBackup(), JET_errNotInitialized, "JetStopBackup(), nothing initialized");
}

/* ---- 2: JetExternalRestore2's target arguments ------------------------------------ */

static void external_restore_targets(void) {
  char set[192], ext[192], extdb[256], setdb[256], tgt[192], tgtname[] = "ae-target";
  JET_LOGINFO info = { sizeof(JET_LOGINFO), 0, 0, "" };
  path_in(set, sizeof set, root, "xset");
  path_in(ext, sizeof ext, root, "xrestore");
  path_in(tgt, sizeof tgt, root, "xtarget");
  stream_set(set, &info);
  /* what the caller wrote: the streamed database where it wants it restored */
  if (mkdir(ext, 0700) != 0) FAIL("mkdir %s: %s", ext, strerror(errno));
  if (harness_copy_file(path_in(setdb, sizeof setdb, set, "app.edb"), path_in(extdb, sizeof extdb, ext, "app.edb")))
    FAIL("copy %s: %s", setdb, strerror(errno));
  JET_RSTMAP map = { dbpath, extdb };
  struct {
    const char *what;
    char *log_path, *name, *tlog, *tchk;
  } cases[] = {
    { "a target log path without a target checkpoint path", ext, NULL, tgt, NULL },
    { "a target checkpoint path without a target log path", ext, NULL, NULL, tgt },
    { "a target instance name and a target log path", ext, tgtname, tgt, NULL },
    { "a target instance name alone", ext, tgtname, NULL, NULL },
    { "every target argument", ext, tgtname, tgt, tgt },
    { "a checkpoint path without a log path (szLogPath NULL)", NULL, NULL, NULL, NULL },
  };
  int n0, ns0;
  uint64_t d0 = harness_dir_digest(ext, &n0), s0 = harness_dir_digest(set, &ns0), written = d0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    EXPECT(JetExternalRestore2(ext, cases[i].log_path, &map, 1, set, &info, cases[i].name, cases[i].tlog,
                               cases[i].tchk, NULL),
           JET_errInvalidParameter, "JetExternalRestore2 with %s", cases[i].what);
    int n1, ns1;
    uint64_t d1 = harness_dir_digest(ext, &n1), s1 = harness_dir_digest(set, &ns1);
    CHECK(d1 == d0 && n1 == n0, "JetExternalRestore2 with %s changed the destination %s (%d entries, were %d)",
          cases[i].what, ext, n1, n0);
    CHECK(s1 == s0 && ns1 == ns0, "JetExternalRestore2 with %s changed the backup set", cases[i].what);
    CHECK(!exists(tgt), "JetExternalRestore2 with %s created %s", cases[i].what, tgt);
    d0 = d1, n0 = n1, s0 = s1, ns0 = ns1;   /* each case is judged on its own */
  }
  /* the same call without the target arguments, and without a checkpoint path (it goes with the logs), restores */
  EXPECT(JetExternalRestore2(NULL, ext, &map, 1, set, &info, NULL, NULL, NULL, NULL), JET_errSuccess,
         "JetExternalRestore2 without target arguments and checkpoint path");
  int n2;
  char chk[256];
  CHECK(harness_dir_digest(ext, &n2) != written, "a successful JetExternalRestore2 did not change %s", ext);
  CHECK(exists(path_in(chk, sizeof chk, ext, "edb.chk")), "no checkpoint %s after JetExternalRestore2", chk);
  long n = count_records(ext);
  CHECK(n == NREC, "JetExternalRestore2 restored %ld records, want %d", n, NREC);

  /* a checkpoint folder of its own that holds a double-write ring: refused
   * without overwrite (nothing made or removed); with it the ring stays
   * while the first steps check the set's databases (a damaged set is
   * refused with the old state whole) and is gone before any database
   * page is written */
  char cdir[192], ring[256], dest2[192];
  path_in(cdir, sizeof cdir, root, "xchk");
  path_in(dest2, sizeof dest2, root, "xdest2");
  if (mkdir(cdir, 0700) != 0) FAIL("mkdir %s: %s", cdir, strerror(errno));
  FILE *rf = fopen(path_in(ring, sizeof ring, cdir, "edb.dwb"), "w");
  if (!rf || fputs("a stale ring", rf) < 0 || fclose(rf)) FAIL("cannot write %s", ring);
  const char *dirs[1] = { set };
  EseRestoreOptions o = { .dirs = dirs, .ndirs = 1, .dest = dest2, .checkpoint_dir = cdir };
  EseRestore *r = NULL;
  EXPECT(EseRestoreBegin(&o, &r), JET_errBackupDirectoryNotEmpty, "EseRestoreBegin with a ring in the checkpoint folder");
  CHECK(exists(ring) && !exists(dest2), "a refused restore removed %s or made %s", ring, dest2);
  o.overwrite = 1;
  EXPECT(EseRestoreBegin(&o, &r), JET_errSuccess, "EseRestoreBegin (overwrite) with a ring in the checkpoint folder");
  CHECK(exists(ring), "EseRestoreBegin (overwrite) removed %s before the set was checked", ring);
  char db2[256];
  path_in(db2, sizeof db2, dest2, "app.edb");
  int finished = 0;
  uint64_t done = 0, total = 0;
  JET_ERR se = JET_errSuccess;
  while (exists(ring) && !finished && se == JET_errSuccess) se = EseRestoreStep(r, &done, &total, &finished);
  EXPECT(se, JET_errSuccess, "the steps of the restore (overwrite) up to the ring's removal");
  CHECK(!exists(ring), "the restore (overwrite) left %s", ring);
  CHECK(!exists(db2), "the restore wrote %s before it removed %s", db2, ring);
  EseRestoreEnd(r);
}

/* ---- 3: list buffers smaller than the list ----------------------------------------- */

#define SHORT_CB 16

static void short_list(const char *what, list_fn fn) {
  unsigned long full = 0, actual = 0xdeadUL;
  char *whole = get_list(fn, &full);
  if (full <= SHORT_CB + 1) FAIL("%s: the list (%lu bytes) is not longer than %d", what, full, SHORT_CB);
  unsigned char buf[4 * SHORT_CB];
  memset(buf, 0xAA, sizeof buf);
  EXPECT(fn(live_inst, (char *)buf, SHORT_CB, &actual), JET_errSuccess, "%s with cbMax %d", what, SHORT_CB);
  CHECK(actual == full, "%s with cbMax %d: *pcbActual %lu, want the full size %lu", what, SHORT_CB, actual, full);
  CHECK(memcmp(buf, whole, SHORT_CB) == 0, "%s with cbMax %d: the buffer is not the list's first %d bytes", what,
        SHORT_CB, SHORT_CB);
  for (size_t i = SHORT_CB; i < sizeof buf; i++)
    if (buf[i] != 0xAA) {
      miss("%s with cbMax %d wrote byte %zu of the buffer", what, SHORT_CB, i);
      break;
    }
  free(whole);
}

static void list_buffer_sizes(void) {
  CK(JetBeginExternalBackupInstance(live_inst, 0));
  short_list("JetGetAttachInfoInstance", JetGetAttachInfoInstance);
  short_list("JetGetLogInfoInstance", JetGetLogInfoInstance);
  CK(JetEndExternalBackupInstance2(live_inst, JET_bitBackupEndAbort));
}

/* ---- 4: CloseFile with no backup ---------------------------------------------------- */

static void close_without_backup(void) {
  EXPECT(JetCloseFileInstance(live_inst, 0), JET_errNoBackup, "JetCloseFileInstance(inst, 0) with no backup");
  CK(JetBeginExternalBackupInstance(live_inst, 0));
  unsigned long cb, lo, hi;
  char *dbs = get_list(JetGetAttachInfoInstance, &cb);
  JET_HANDLE h;
  CK(JetOpenFileInstance(live_inst, dbs, &h, &lo, &hi));
  free(dbs);
  CK(JetEndExternalBackupInstance2(live_inst, JET_bitBackupEndAbort));
  EXPECT(JetCloseFileInstance(live_inst, h), JET_errNoBackup, "JetCloseFileInstance of a handle of an ended backup");
}

/* ---- 5-7: JetBackupInstance refusals create nothing ---------------------------------- */

/* JetBackupInstance(inst, path, grbit) returns want, and watch (path or
 * the first of its folders that did not exist) still does not exist. */
static void refused(JET_INSTANCE inst, const char *path, const char *watch, JET_GRBIT grbit, JET_ERR want,
                    const char *what) {
  if (exists(watch)) FAIL("%s exists before the call", watch);
  EXPECT(JetBackupInstance(inst, path, grbit, NULL), want, "JetBackupInstance %s", what);
  CHECK(!exists(watch), "JetBackupInstance %s (refused) created %s", what, watch);
}

static int backup_calls;

static JET_ERR count_backup_progress(JET_SESID s, JET_SNP snp, JET_SNT snt, void *pv) {
  (void)s; (void)snt; (void)pv;
  if (snp == JET_snpBackup) backup_calls++;
  return JET_errSuccess;
}

static void backup_refusals(void) {
  char p[256], deep[256], name[64];
  /* the database has only a "copy" record (stream_set): an incremental has no full backup to follow */
  refused(live_inst, path_in(p, sizeof p, root, "b-incr"), p, JET_bitBackupIncremental, JET_errMissingFullBackup,
          "incremental before any full backup");
  static const struct { JET_GRBIT bit; const char *name; } bad[] = {
    { JET_bitBackupAtomic, "JET_bitBackupAtomic" },
    { JET_bitBackupSnapshot, "JET_bitBackupSnapshot" },
    { JET_bitBackupIncremental | JET_bitBackupAtomic, "JET_bitBackupIncremental | JET_bitBackupAtomic" },
    { JET_bitBackupTruncateDone, "JET_bitBackupTruncateDone" },
    { 0x80000000UL, "0x80000000" },
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char what[128];
    snprintf(what, sizeof what, "with grbit %s", bad[i].name);
    snprintf(p, sizeof p, "%s/b-grbit-%zu", root, i);
    refused(live_inst, p, p, bad[i].bit, JET_errInvalidGrbit, what);
  }

  /* B05: while an external backup runs; that backup goes on */
  CK(JetBeginExternalBackupInstance(live_inst, 0));
  path_in(p, sizeof p, root, "b-busy");
  path_in(deep, sizeof deep, p, "deeper");
  refused(live_inst, deep, p, 0, JET_errBackupInProgress, "while an external backup runs");
  unsigned long cb = 0;
  EXPECT(JetGetAttachInfoInstance(live_inst, NULL, 0, &cb), JET_errSuccess,
         "the external backup after a JetBackupInstance refused with BackupInProgress");
  CK(JetEndExternalBackupInstance2(live_inst, JET_bitBackupEndAbort));

  JET_INSTANCE ni;
  char nidir[192];
  path_in(nidir, sizeof nidir, root, "b-ni-inst");
  if (mkdir(nidir, 0700) != 0) FAIL("mkdir %s: %s", nidir, strerror(errno));
  CK(harness_instance(&ni, harness_unique_name(name, sizeof name, "ae-ni"), nidir, LOG_KIB, 0));
  refused(ni, path_in(p, sizeof p, root, "b-ni"), p, 0, JET_errNotInitialized, "on an instance not initialized");
  /* rule 6: the instance's state is checked before the grbit */
  refused(ni, path_in(p, sizeof p, root, "b-ni"), p, JET_bitBackupAtomic, JET_errNotInitialized,
          "with grbit JET_bitBackupAtomic on an instance not initialized");
  CK(JetTerm(ni));

  /* a folder that leaves no room for a file name in it: JET_errInvalidPath, nothing made */
  {
    static char longdir[4200];
    int len = snprintf(longdir, sizeof longdir, "%s/b-long", root);
    while (len < 4096 - 100) len += snprintf(longdir + len, sizeof longdir - (size_t)len, "/%.200s",
                                              "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");
    path_in(p, sizeof p, root, "b-long");
    refused(live_inst, longdir, p, 0, JET_errInvalidPath, "into a folder of PATH_MAX - 100 bytes");
  }
  /* names the Lua tools read as no set: an unfinished run (*.partial), a set expire was deleting (.expiring-*) */
  refused(live_inst, path_in(p, sizeof p, root, "b-set.partial"), p, 0, JET_errInvalidPath, "into NAME.partial");
  refused(live_inst, path_in(p, sizeof p, root, "b-set.partial/"), p, 0, JET_errInvalidPath, "into NAME.partial/");
  refused(live_inst, path_in(p, sizeof p, root, ".expiring-b"), p, 0, JET_errInvalidPath, "into .expiring-NAME");
  refused(0, path_in(p, sizeof p, root, "b-nil"), p, 0, JET_errRunningInMultiInstanceMode,
          "with instance 0 in multi-instance mode");

  /* E10: ESE's "truncate only" form is not supported; nothing is created in the current folder either */
  char cwd[192];
  int n;
  path_in(cwd, sizeof cwd, root, "b-cwd");
  if (mkdir(cwd, 0700) != 0 || chdir(cwd) != 0) FAIL("mkdir/chdir %s: %s", cwd, strerror(errno));
  EXPECT(JetBackupInstance(live_inst, "", 0, NULL), JET_errInvalidParameter, "JetBackupInstance(inst, \"\", 0)");
  EXPECT(JetBackupInstance(live_inst, NULL, 0, NULL), JET_errInvalidParameter, "JetBackupInstance(inst, NULL, 0)");
  harness_dir_digest(cwd, &n);
  CHECK(n == 0, "JetBackupInstance with an empty or NULL path created %d entries in the current folder", n);
  if (chdir("/") != 0) FAIL("chdir /: %s", strerror(errno));

  /* the accepted grbits: 0, then JET_bitBackupIncremental */
  backup_calls = 0;
  EXPECT(JetBackupInstance(live_inst, path_in(p, sizeof p, root, "bk"), 0, count_backup_progress), JET_errSuccess,
         "JetBackupInstance(inst, dir, 0)");
  CHECK(backup_calls > 0, "JetBackupInstance never called its callback");
  harness_dir_digest(p, &n);
  CHECK(n >= 2, "JetBackupInstance(inst, dir, 0) wrote %d files, want a database and a log at least", n);
  EXPECT(JetBackupInstance(live_inst, path_in(deep, sizeof deep, root, "bk-incr"), JET_bitBackupIncremental, NULL),
         JET_errSuccess, "JetBackupInstance(inst, dir, JET_bitBackupIncremental)");

  /* a folder that is not empty is left as it was, and no backup is left running */
  int n0, n1;
  uint64_t d0 = harness_dir_digest(p, &n0);
  EXPECT(JetBackupInstance(live_inst, p, 0, NULL), JET_errBackupDirectoryNotEmpty,
         "JetBackupInstance into a folder that is not empty");
  CHECK(harness_dir_digest(p, &n1) == d0 && n1 == n0, "JetBackupInstance into a folder that is not empty changed it");
  EXPECT(JetBeginExternalBackupInstance(live_inst, 0), JET_errSuccess,
         "Begin after JetBackupInstance refused a folder that is not empty");
  CK(JetEndExternalBackupInstance2(live_inst, JET_bitBackupEndAbort));
}

/* ---- 8: JetRestoreInstance --------------------------------------------------------------- */

static struct {
  int calls, progress, bad;
} rp;

static JET_ERR restore_progress(JET_SESID s, JET_SNP snp, JET_SNT snt, void *pv) {
  (void)s;
  const JET_SNPROG *pg = pv;
  rp.calls++;
  if (snp != JET_snpRestore || !pg || pg->cbStruct != sizeof(JET_SNPROG)) {
    rp.bad++;
    return JET_errSuccess;
  }
  if (snt == JET_sntProgress) {
    rp.progress++;
    if (pg->cunitDone > pg->cunitTotal || pg->cunitTotal == 0) rp.bad++;
  }
  return JET_errSuccess;
}

static void restore_instance(void) {
  char bk[192], dest[192], rdir[192], name[64];
  path_in(bk, sizeof bk, root, "bk");
  path_in(dest, sizeof dest, root, "restored");
  path_in(rdir, sizeof rdir, root, "r-inst");
  if (mkdir(rdir, 0700) != 0) FAIL("mkdir %s: %s", rdir, strerror(errno));
  JET_INSTANCE ri;
  CK(harness_instance(&ri, harness_unique_name(name, sizeof name, "ae-restore"), rdir, LOG_KIB, 0));

  /* A03: no destination (ESE: the original paths) is refused before anything is written */
  int nb0, nl0, nb1, nl1;
  uint64_t b0 = harness_dir_digest(bk, &nb0), l0 = harness_dir_digest(live, &nl0);
  memset(&rp, 0, sizeof rp);
  EXPECT(JetRestoreInstance(ri, bk, NULL, restore_progress), JET_errInvalidParameter,
         "JetRestoreInstance(inst, set, NULL, callback)");
  CHECK(harness_dir_digest(bk, &nb1) == b0 && nb1 == nb0, "JetRestoreInstance with no destination changed the set");
  CHECK(harness_dir_digest(live, &nl1) == l0 && nl1 == nl0,
        "JetRestoreInstance with no destination changed the original folder %s", live);
  CHECK(rp.calls == 0, "JetRestoreInstance with no destination called its callback %d times", rp.calls);

  /* the refused call left the instance able to restore */
  memset(&rp, 0, sizeof rp);
  EXPECT(JetRestoreInstance(ri, bk, dest, restore_progress), JET_errSuccess, "JetRestoreInstance(inst, set, dest, callback)");
  CHECK(rp.progress >= 1, "JetRestoreInstance called its callback with progress %d times, want at least once",
        rp.progress);
  CHECK(rp.bad == 0, "JetRestoreInstance's callback got %d calls that were not JET_snpRestore with done <= total",
        rp.bad);
  CK(JetTerm(ri));
  long n = count_records(dest);
  CHECK(n == NREC, "JetRestoreInstance restored %ld records, want %d", n, NREC);
}

static void init3_map(void) {
  char logs[192], nofolder[256];
  path_in(logs, sizeof logs, root, "init3");
  path_in(nofolder, sizeof nofolder, root, "no-such-folder/x.edb");
  JET_INSTANCE inst = 0;
  CK(JetCreateInstance(&inst, "init3"));
  CK(JetSetSystemParameter(&inst, 0, JET_paramLogFilePath, 0, logs));
  CK(JetSetSystemParameter(&inst, 0, JET_paramSystemPath, 0, logs));
  JET_RSTMAP twice[2] = {{dbpath, dbpath}, {dbpath, dbpath}};
  JET_RSTMAP null_old = {NULL, dbpath}, empty_new = {dbpath, ""}, no_folder = {dbpath, nofolder};
  const unsigned long cb = sizeof(JET_RSTINFO);
  struct { JET_RSTINFO ri; JET_ERR want; const char *what; } cases[] = {
    {{cb - 1, twice, 1}, JET_errInvalidParameter, "cbStruct one short"},
    {{cb, twice, -1}, JET_errInvalidParameter, "crstmap -1"},
    {{cb, twice, 1025}, JET_errInvalidParameter, "crstmap 1025"},
    {{cb, NULL, 1}, JET_errInvalidParameter, "a NULL array"},
    {{cb, twice, 2}, JET_errInvalidParameter, "one old name twice"},
    {{cb, &null_old, 1}, JET_errInvalidParameter, "a NULL old name"},
    {{cb, &empty_new, 1}, JET_errInvalidParameter, "an empty new name"},
    {{cb, &no_folder, 1}, JET_errInvalidPath, "a new name in a missing folder"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    EXPECT(JetInit3(&inst, &cases[i].ri, 0), cases[i].want, "JetInit3 with %s", cases[i].what);
    CHECK(!exists(logs), "JetInit3 with %s created the log folder", cases[i].what);
  }
  JET_SESID s;
  EXPECT(JetBeginSession(inst, &s, NULL, NULL), JET_errNotInitialized, "JetBeginSession after refused JetInit3s");
  JET_RSTINFO good = {cb, twice, 1};
  EXPECT(JetInit3(&inst, &good, 0), JET_errSuccess, "JetInit3 with a good map");
  CK(JetTerm(inst));
}

/* Long values through the C record API: a value over EseMaxValueSize is
 * JET_errRecordTooBig before a byte of it is read (the buffer here is 16
 * bytes), a key over EseMaxKeySize JET_errKeyTooBig; a 100,000-byte value
 * stores, and EseRetrieveValueAt gives slices with *pcbActual the bytes
 * left from the offset (0 at and past the end). */
static void long_values(void) {
  char name[64], dir[600], path[700];
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  JET_INSTANCE inst;
  path_in(dir, sizeof dir, root, "lv");
  path_in(path, sizeof path, dir, "app.edb");
  if (mkdir(dir, 0700) != 0) FAIL("mkdir %s: %s", dir, strerror(errno));
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "ae-lv"), dir, LOG_KIB, 0));
  CK(JetInit(&inst));
  CK(harness_create_table(inst, path, "t", &s, &db, &t));
  char small[16] = "0123456789abcdef", key[EseMaxKeySize + 1];
  memset(key, 'k', sizeof key);
  EXPECT(EsePut(s, t, "k", 1, small, (size_t)EseMaxValueSize + 1), JET_errRecordTooBig, "EsePut of 2^31 bytes");
  EXPECT(EsePut(s, t, "k", 1, small, SIZE_MAX), JET_errRecordTooBig, "EsePut of SIZE_MAX bytes");
  EXPECT(EsePut(s, t, key, sizeof key, small, 1), JET_errKeyTooBig, "EsePut of a 256-byte key");
  EXPECT(EseSeek(s, t, key, sizeof key, JET_bitSeekEQ), JET_errKeyTooBig, "EseSeek of a 256-byte key");
  size_t n = 100000, got = 0;
  char *v = malloc(n), out[32];
  if (!v) FAIL("out of memory");
  for (size_t i = 0; i < n; i++) v[i] = (char)(i * 7 + i / 251);
  CK(EsePut(s, t, "k", 1, v, n));
  CK(EseSeek(s, t, "k", 1, JET_bitSeekEQ));
  EXPECT(EseRetrieveValueAt(s, t, 8150, out, sizeof out, &got), JET_wrnBufferTruncated, "slice across a page");
  CHECK(got == n - 8150 && memcmp(out, v + 8150, sizeof out) == 0, "slice at 8150: %zu bytes left", got);
  CK(EseRetrieveValueAt(s, t, n - 5, out, sizeof out, &got));
  CHECK(got == 5 && memcmp(out, v + n - 5, 5) == 0, "slice at the end: %zu bytes left", got);
  CK(EseRetrieveValueAt(s, t, n, out, sizeof out, &got));
  CHECK(got == 0, "slice at the end: %zu", got);
  CK(EseRetrieveValueAt(s, t, SIZE_MAX, NULL, 0, &got));
  CHECK(got == 0, "slice far past the end: %zu", got);
  CK(JetEndSession(s, 0));
  free(v);
  CK(JetTerm2(inst, JET_bitTermComplete));
}

static void null_arguments(void) {
  EseRestore *r = (EseRestore *)&failures;   /* never used: every call below refuses first */
  const char *dirs[1] = { live };
  EseRestoreOptions o = { .dirs = dirs, .ndirs = 1, .dest = root };
  EXPECT(EseRestoreBegin(NULL, &r), JET_errInvalidParameter, "EseRestoreBegin without options");
  EXPECT(EseRestoreBegin(&o, NULL), JET_errInvalidParameter, "EseRestoreBegin without out");
  EseRestoreOptions bad = o;
  bad.ndirs = 0;
  EXPECT(EseRestoreBegin(&bad, &r), JET_errInvalidParameter, "EseRestoreBegin without a folder");
  bad = o;
  bad.dest = "";
  EXPECT(EseRestoreBegin(&bad, &r), JET_errInvalidParameter, "EseRestoreBegin with an empty destination");
  bad = o;
  bad.base_name = "ed";
  EXPECT(EseRestoreBegin(&bad, &r), JET_errInvalidParameter, "EseRestoreBegin with base name ed");
  bad = o;
  bad.gen_low = 5;
  bad.gen_high = 4;
  EXPECT(EseRestoreBegin(&bad, &r), JET_errInvalidParameter, "EseRestoreBegin with gen_low > gen_high");
  uint64_t done = 1, total = 1;
  int finished = 1;
  EXPECT(EseRestoreStep(NULL, &done, &total, &finished), JET_errInvalidParameter, "EseRestoreStep(NULL)");
  EseRestoreResult res;
  memset(&res, 0xff, sizeof res);
  EseRestoreResultOf(NULL, &res);
  CHECK(res.last_generation == 0 && res.reached == 0, "EseRestoreResultOf(NULL) leaves the result unset");
  EseRestoreResultOf(NULL, NULL);
  CHECK(strcmp(EseRestoreDetail(NULL), "") == 0, "EseRestoreDetail(NULL) is not empty");
  EseRestoreEnd(NULL);
  char page[4096] = { 0 }, detail[64];
  EXPECT(EseVerifyPages(NULL, sizeof page, sizeof page, 2, 4 * sizeof page, NULL, "x", detail, sizeof detail),
         JET_errInvalidParameter, "EseVerifyPages without a buffer");
  EXPECT(EseVerifyPages(page, sizeof page, sizeof page, 2, 4 * sizeof page, NULL, NULL, detail, sizeof detail),
         JET_errInvalidParameter, "EseVerifyPages without a name");
  EXPECT(EseVerifyPages(page, sizeof page, 256, 2, 4 * sizeof page, NULL, "x", detail, sizeof detail),
         JET_errInvalidParameter, "EseVerifyPages with 256-byte pages");
  EseFileInfo info;
  EXPECT(EseGetFileInfo(NULL, 0, &info, detail, sizeof detail), JET_errInvalidParameter, "EseGetFileInfo(NULL)");
  EXPECT(EseGetFileInfo(dbpath, 0, NULL, detail, sizeof detail), JET_errInvalidParameter,
         "EseGetFileInfo without info");
  EXPECT(EseBackupStep(live_inst, 0, NULL), JET_errInvalidParameter, "EseBackupStep without pfMore");
  unsigned long granted;
  unsigned long long wait;
  EXPECT(EseBackupPaceReserve(live_inst, 4096, NULL, &wait), JET_errInvalidParameter,
         "EseBackupPaceReserve without pcbGranted");
  EXPECT(EseBackupPaceReserve(live_inst, 4096, &granted, NULL), JET_errInvalidParameter,
         "EseBackupPaceReserve without pusWait");
  EXPECT(EseGetBackupPaceStatus(live_inst, NULL), JET_errInvalidParameter, "EseGetBackupPaceStatus(NULL)");
  char list[256];
  unsigned long cb;
  EXPECT(JetGetLogInfoInstance2(live_inst, list, sizeof list, &cb, NULL), JET_errInvalidParameter,
         "JetGetLogInfoInstance2 without JET_LOGINFO");
  JET_LOGINFO li = { .cbSize = sizeof li - 1 };
  EXPECT(JetGetLogInfoInstance2(live_inst, list, sizeof list, &cb, &li), JET_errInvalidParameter,
         "JetGetLogInfoInstance2 with a wrong cbSize");
}

int main(void) {
  harness_start(600);
  harness_tempdir(root, sizeof root, "ae");
  path_in(live, sizeof live, root, "live");
  path_in(dbpath, sizeof dbpath, live, "app.edb");
  if (mkdir(live, 0700) != 0) FAIL("mkdir %s: %s", live, strerror(errno));
  open_live();

  multi_instance_mode();
  external_restore_targets();
  list_buffer_sizes();
  close_without_backup();
  backup_refusals();
  restore_instance();
  init3_map();
  long_values();
  null_arguments();

  CK(JetTerm2(live_inst, JET_bitTermComplete));
  no_mode();
  if (harness_rm_rf(root) != 0) FAIL("could not remove %s", root);
  if (failures) harness_exit(1, "FAIL", "%d checks differ", failures);
  printf("api_edges: ok\n");
  return 0;
}
