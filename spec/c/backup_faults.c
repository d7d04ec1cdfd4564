/*
 * backup_faults.c -- JetBackupInstance under stress:
 *  1. a one-call backup into a folder, restored: every record is back;
 *  2. a stop from another thread while JetBackupInstance streams: it fails
 *     with JET_errBackupAbortByServer, nothing is recorded, a new backup
 *     can begin;
 *  3. crash points during a backup (and its TruncateLog): a child process
 *     is killed at its K-th write or sync; afterwards the live instance
 *     still recovers every record, and the partial backup folder is either
 *     refused by restore or restores every record -- never silently wrong.
 *
 * usage: backup_faults [crash-points]     (default 40)
 * Prints "backup_faults: ok ..." and exits 0 on success.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#define HARNESS_NAME "backup_faults"
#include "harness.h"

#define NREC 3000

static char root[256];

/* An initialized instance on dir with 128 KiB log files. */
static JET_INSTANCE open_inst(const char *name, const char *dir) {
  JET_INSTANCE inst;
  CK(harness_instance(&inst, name, dir, 128, 0));
  CK(JetInit(&inst));
  return inst;
}

/* Records in dir/app.edb via a fresh instance on dir; -1 when it cannot open. */
static long count_records(const char *dir, JET_ERR *why) {
  JET_INSTANCE inst;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  char p[600];
  snprintf(p, sizeof p, "%s/app.edb", dir);
  CK(harness_instance(&inst, "count", dir, 0, 0));
  JET_ERR e = JetInit(&inst);
  if (e == 0) e = harness_open_table(inst, p, 1, "data", &s, &db, &t);
  long n = -1;
  if (e == 0) {
    n = 0;
    JET_ERR se = EseSeek(s, t, NULL, 0, JET_bitSeekGE);
    char k[64];
    size_t kl;
    while (se == 0) {
      n++;
      CK(EseRetrieveKey(s, t, k, sizeof k, &kl));
      se = EseSeek(s, t, k, kl, JET_bitSeekGT);
    }
    if (se != JET_errRecordNotFound) n = -1, e = se;
  }
  if (why) *why = e;
  JetTerm2(inst, e == 0 ? JET_bitTermComplete : JET_bitTermAbrupt);
  return n;
}

static void populate(const char *live) {
  mkdir(live, 0700);
  JET_INSTANCE inst = open_inst("live", live);
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  char p[600];
  snprintf(p, sizeof p, "%s/app.edb", live);
  CK(harness_create_table(inst, p, "data", &s, &db, &t));
  CK(JetBeginTransaction(s));
  for (int i = 0; i < NREC; i++) {
    char k[32], v[200];
    snprintf(k, sizeof k, "k%06d", i);
    memset(v, 'a' + i % 26, sizeof v);
    CK(EsePut(s, t, k, strlen(k), v, sizeof v));
    if (i % 500 == 499) {
      CK(JetCommitTransaction(s, 0));
      CK(JetBeginTransaction(s));
    }
  }
  CK(JetCommitTransaction(s, 0));
  CK(JetTerm2(inst, JET_bitTermComplete));
}

static JET_INSTANCE attach_live(const char *live) {
  JET_INSTANCE inst = open_inst("live", live);
  JET_SESID s;
  char p[600];
  snprintf(p, sizeof p, "%s/app.edb", live);
  CK(JetBeginSession(inst, &s, NULL, NULL));
  CK(JetAttachDatabase(s, p, 0));
  return inst;
}

/* ---- 2: stop from another thread ----------------------------------------- */

static JET_INSTANCE g_inst;
static atomic_int g_progress_calls, g_stopped;

static void *stopper(void *ud) {
  (void)ud;
  while (atomic_load(&g_progress_calls) < 2) usleep(100);
  CK(JetStopBackupInstance(g_inst));
  atomic_store(&g_stopped, 1);
  return NULL;
}

static JET_ERR slow_progress(JET_SESID s, JET_SNP snp, JET_SNT snt, void *pv) {
  (void)s; (void)snp; (void)pv;
  if (snt == JET_sntProgress) {
    atomic_fetch_add(&g_progress_calls, 1);
    if (!atomic_load(&g_stopped)) usleep(20000);
  }
  return JET_errSuccess;
}

/* ---- 3: crash points ------------------------------------------------------ */

static int run_child_backup(const char *live, const char *dest, long crash_at) {
  pid_t pid = harness_fork();
  if (pid == 0) {
    char f[64];
    snprintf(f, sizeof f, "crash:%ld", crash_at);
    if (crash_at > 0) setenv("ESE_FAULT", f, 1);
    JET_INSTANCE inst = attach_live(live);
    JET_ERR e = JetBackupInstance(inst, dest, 0, NULL);
    unsetenv("ESE_FAULT");
    JetTerm2(inst, JET_bitTermComplete);
    _exit(e == 0 ? 0 : 3);
  }
  int st = harness_wait(pid);
  if (WIFSIGNALED(st)) return -1;          /* killed at the crash point */
  return WIFEXITED(st) ? WEXITSTATUS(st) : 4;
}

int main(int argc, char **argv) {
  int points = argc > 1 ? atoi(argv[1]) : 40;
  harness_tempdir(root, sizeof root, "bf");
  char live[300], bk1[300], r1[300], bk2[300];
  snprintf(live, sizeof live, "%s/live", root);
  snprintf(bk1, sizeof bk1, "%s/bk1", root);
  snprintf(r1, sizeof r1, "%s/r1", root);
  snprintf(bk2, sizeof bk2, "%s/bk2", root);
  populate(live);

  /* 1 */
  JET_INSTANCE inst = attach_live(live);
  CK(JetBackupInstance(inst, bk1, 0, NULL));
  if (JetBackupInstance(inst, bk1, 0, NULL) != JET_errBackupDirectoryNotEmpty) FAIL("a non-empty folder was accepted");
  CK(JetRestoreInstance(0, bk1, r1, NULL));
  long n = count_records(r1, NULL);
  if (n != NREC) FAIL("restore of a one-call backup has %ld records, want %d", n, NREC);

  /* 2 */
  g_inst = inst;
  pthread_t th;
  pthread_create(&th, NULL, stopper, NULL);
  JET_ERR e = JetBackupInstance(inst, bk2, 0, slow_progress);
  pthread_join(th, NULL);
  if (e != JET_errBackupAbortByServer) FAIL("stopped backup returned %s, want JET_errBackupAbortByServer", EseErrorName(e));
  CK(JetBeginExternalBackupInstance(inst, 0));   /* no backup is left running */
  CK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
  CK(JetTerm2(inst, JET_bitTermComplete));

  /* 3: learn the number of I/O events of one backup, then crash at spread points */
  char cnt[300];
  snprintf(cnt, sizeof cnt, "%s/count", root);
  setenv("ESE_FAULT_COUNT", cnt, 1);
  char bk[400];
  snprintf(bk, sizeof bk, "%s/bkc", root);
  if (run_child_backup(live, bk, 0) != 0) FAIL("reference backup failed");
  unsetenv("ESE_FAULT_COUNT");
  unsigned long long count;
  if (!harness_read_count(cnt, &count)) FAIL("no event count in %s", cnt);
  long total = (long)count;
  int refused = 0, restored = 0;
  for (int i = 1; i <= points; i++) {
    long k = 1 + (long)((double)(total - 1) * i / (points + 1));
    char dest[400], rdir[400];
    snprintf(dest, sizeof dest, "%s/bk-%d", root, i);
    snprintf(rdir, sizeof rdir, "%s/rs-%d", root, i);
    int rc = run_child_backup(live, dest, k);
    JET_ERR why;
    long live_n = count_records(live, &why);
    if (live_n != NREC) FAIL("crash at event %ld: the live database has %ld records (%s)", k, live_n, EseErrorName(why));
    JET_ERR re = JetRestoreInstance(0, dest, rdir, NULL);
    if (re == 0) {
      long rn = count_records(rdir, &why);
      if (rn != NREC) FAIL("crash at event %ld (child rc %d): restore succeeded with %ld records", k, rc, rn);
      restored++;
    } else {
      refused++;
    }
    if (harness_rm_rf(dest) != 0 || harness_rm_rf(rdir) != 0) FAIL("could not remove %s or %s", dest, rdir);
  }
  if (harness_rm_rf(root) != 0) FAIL("could not remove %s", root);
  printf("backup_faults: ok: one-call backup restored %d records; a stop from another thread aborted a running "
         "JetBackupInstance; %d crash points during a backup: live always recovered, %d partial sets refused, %d restored whole\n",
         NREC, points, refused, restored);
  return 0;
}
