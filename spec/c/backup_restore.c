/*
 * backup_restore.c -- writer threads commit while a backup thread streams
 * the database and logs into a folder; then a restore of that folder must
 * hold every transaction committed before GetLogInfo returned, none
 * started after it, and no half transaction.  Then an incremental backup
 * over more writes, and a restore of full + incremental.  Then (G06) a
 * child process reopens the folder, its writers commit while an
 * incremental backup truncates the logs (after they rolled the log past
 * the cut-off), and it is SIGKILLed while they go on: soft recovery of
 * the folder holds every transaction whose commit had returned (also
 * those before the truncation), and no half transaction.
 *
 * usage: backup_restore [writers] [seconds-per-phase-ms]
 * Prints "backup_restore: ok ..." and exits 0 on success.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>

#define HARNESS_NAME "backup_restore"
#include "harness.h"

#define MAXW 8
#define MAXTX 200000

static JET_INSTANCE inst;
static char dir[64], dbpath[400];
static atomic_int stop_writers;
/* What the G06 child's writers and backup tell the parent; in memory
 * shared with it, so it outlives the SIGKILL. */
typedef struct {
  atomic_int committed[MAXW];  /* per writer: the highest transaction number whose commit returned */
  atomic_int truncated;        /* the child's TruncateLog returned */
  int ndeleted;                /* logs that TruncateLog was to delete (the last backup's) */
  char first_deleted[512];     /* the first of them */
} shared_state;
static shared_state *sh;
static atomic_int *committed;  /* sh->committed */
static int cut_lo[MAXW];   /* committed when GetLogInfo was called */
static int cut_hi[MAXW];   /* the highest that may have started before it returned */
static JET_LOGINFO cut_info = { sizeof(JET_LOGINFO), 0, 0, "" };

typedef struct { int id; } warg;

static void *writer(void *p) {
  int id = ((warg *)p)->id;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  CK(harness_open_table(inst, dbpath, 0, "data", &s, &db, &t));
  for (int tx = atomic_load(&committed[id]) + 1; !atomic_load(&stop_writers) && tx < MAXTX; tx++) {
    char k[32], v[120];
    CK(JetBeginTransaction(s));
    for (int j = 0; j < 3; j++) {   /* a transaction: three records that must travel together */
      snprintf(k, sizeof k, "w%d-%07d-%d", id, tx, j);
      memset(v, 'a' + (tx + j) % 26, sizeof v);
      CK(EsePut(s, t, k, strlen(k), v, sizeof v));
    }
    CK(JetCommitTransaction(s, 0));
    atomic_store(&committed[id], tx);
  }
  CK(JetEndSession(s, 0));
  return NULL;
}

static JET_ERR log_info2(JET_INSTANCE i, char *szz, unsigned long cb, unsigned long *pcb) {
  return JetGetLogInfoInstance2(i, szz, cb, pcb, &cut_info);
}

/* The commits of writers 0..nw-1 that had returned. */
static int commits_returned(int nw) {
  int n = 0;
  for (int w = 0; w < nw; w++) n += atomic_load(&committed[w]);
  return n;
}

/* Waits until the writers (nw) have rolled the log past the generation
 * that was current at the cut-off: that generation is then an older file
 * TruncateLog could wrongly delete.  FAIL when they commit nothing for
 * HARNESS_WAIT_US (a hang; 10 s for the whole roll was a measure of the
 * disk, which three writers' durable commits missed on a loaded machine). */
static void wait_roll_past_cutoff(const char *logdir, int nw) {
  char p[300];
  snprintf(p, sizeof p, "%s/edb%08lX.log", logdir, cut_info.ulGenHigh + 1);
  int last = -1;
  uint64_t limit = 0;
  while (access(p, F_OK) != 0) {
    int c = commits_returned(nw);
    if (c != last) {
      last = c;
      limit = harness_now_us() + HARNESS_WAIT_US;
    }
    if (harness_now_us() > limit)
      FAIL("the writers did not roll the log to %s: no commit in %u s", p, HARNESS_WAIT_US / 1000000u);
    usleep(1000);
  }
}

/* One backup into destdir; the cut-off sample is taken right after
 * GetLogInfo returns.  With logdir, TruncateLog waits until the log has
 * rolled past the cut-off (wait_roll_past_cutoff). */
static void backup(const char *destdir, int incremental, int nw, const char *logdir) {
  if (mkdir(destdir, 0700) != 0) FAIL("mkdir %s: %s", destdir, strerror(errno));
  CK(JetBeginExternalBackupInstance(inst, incremental ? JET_bitBackupIncremental : 0));
  char *buf, **names;
  int n;
  if (!incremental) {
    names = harness_list(inst, JetGetAttachInfoInstance, &buf, &n);
    for (int i = 0; i < n; i++) harness_copy_stream(inst, names[i], destdir);
    free(names);
    free(buf);
  }
  for (int i = 0; i < nw; i++) cut_lo[i] = atomic_load(&committed[i]);
  names = harness_list(inst, log_info2, &buf, &n);   /* the first call is the cut-off */
  for (int i = 0; i < nw; i++) cut_hi[i] = atomic_load(&committed[i]) + 1;
  for (int i = 0; i < n; i++) harness_copy_stream(inst, names[i], destdir);
  free(names);
  free(buf);
  names = harness_list(inst, JetGetTruncateLogInfoInstance, &buf, &n);
  sh->ndeleted = n;
  snprintf(sh->first_deleted, sizeof sh->first_deleted, "%s", n ? names[0] : "");
  free(names);
  free(buf);
  if (logdir) wait_roll_past_cutoff(logdir, nw);
  CK(JetTruncateLogInstance(inst));
  CK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndNormal));
}

/* Restores sets into dest and checks writer w's transactions: all of
 * 1..lo present, none above hi, each whole. */
static void check_restored(const char *dest, int nw, const int *lo, const int *hi);

static void check_restore(const char **sets, int nsets, const char *dest, int nw, const int *lo, const int *hi) {
  EseRestoreOptions o = { .dirs = sets, .ndirs = (unsigned long)nsets, .dest = dest };
  EseRestore *r;
  CK(EseRestoreBegin(&o, &r));
  int fin = 0;
  while (!fin) {
    JET_ERR e = EseRestoreStep(r, NULL, NULL, &fin);
    if (e) FAIL("restore step: %s (%s)", harness_err_name(e), EseRestoreDetail(r));
  }
  EseRestoreEnd(r);
  check_restored(dest, nw, lo, hi);
}

/* Checks the database restored in dest: writer w's transactions 1..lo[w]
 * all there, none above hi[w], each whole. */
static void check_restored(const char *dest, int nw, const int *lo, const int *hi) {
  JET_INSTANCE ri;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  CK(harness_instance(&ri, "restored", dest, 0, 0));
  CK(JetInit(&ri));
  char rp[600];
  snprintf(rp, sizeof rp, "%s/app.edb", dest);
  CK(harness_open_table(ri, rp, 1, "data", &s, &db, &t));
  static int count[MAXW][MAXTX];
  memset(count, 0, sizeof count);
  JET_ERR e = EseSeek(s, t, NULL, 0, JET_bitSeekGE);
  while (e == 0) {
    char k[64];
    size_t kl;
    CK(EseRetrieveKey(s, t, k, sizeof k - 1, &kl));
    k[kl] = 0;
    int w, tx, j;
    if (sscanf(k, "w%d-%d-%d", &w, &tx, &j) == 3 && w < nw && tx < MAXTX) count[w][tx]++;
    e = EseSeek(s, t, k, kl, JET_bitSeekGT);
  }
  for (int w = 0; w < nw; w++)
    for (int tx = 1; tx < MAXTX; tx++) {
      if (tx <= lo[w] && count[w][tx] != 3)
        FAIL("writer %d transaction %d committed before the cut-off has %d/3 records", w, tx, count[w][tx]);
      if (count[w][tx] != 0 && count[w][tx] != 3)
        FAIL("writer %d transaction %d is half there (%d/3)", w, tx, count[w][tx]);
      if (tx > hi[w] && count[w][tx]) FAIL("writer %d transaction %d began after the cut-off but is restored", w, tx);
    }
  CK(JetTerm2(ri, JET_bitTermComplete));
}

static void run_writers(pthread_t *th, warg *args, int nw) {
  atomic_store(&stop_writers, 0);
  for (int i = 0; i < nw; i++) {
    args[i].id = i;
    int pe = pthread_create(&th[i], NULL, writer, &args[i]);
    if (pe) FAIL("pthread_create: %s", strerror(pe));
  }
}

static void stop(pthread_t *th, int nw) {
  atomic_store(&stop_writers, 1);
  for (int i = 0; i < nw; i++) pthread_join(th[i], NULL);
}

/* ---- G06: a SIGKILL after a TruncateLog under the writers ------------------- */

/* The child: the folder live reopened (soft recovery of nothing: it was
 * terminated clean), writers, an incremental backup whose TruncateLog runs
 * under them; then the writers go on until the parent kills the process. */
__attribute__((noreturn)) static void g06_child(const char *live, const char *destdir, int nw) {
  alarm(60);   /* the parent kills it long before; a lost parent must not leave it running */
  JET_SESID s;
  CK(harness_instance(&inst, "live-g06", live, 128, 64));
  CK(JetInit(&inst));
  CK(JetBeginSession(inst, &s, NULL, NULL));
  CK(JetAttachDatabase(s, dbpath, 0));
  pthread_t th[MAXW];
  warg args[MAXW];
  run_writers(th, args, nw);
  backup(destdir, 1, nw, live);
  atomic_store(&sh->truncated, 1);
  for (;;) pause();
}

/* Runs the child, kills it ms/2 after its TruncateLog returned (and once a
 * commit returned after it), and checks the folder's soft recovery.
 * Returns the commits made after the truncation. */
static int g06(const char *live, const char *destdir, int nw, int ms) {
  int before[MAXW], lo[MAXW], hi[MAXW];
  pid_t pid = harness_fork();
  if (pid == 0) g06_child(live, destdir, nw);
  /* while the child's writers commit, it is not hung (its backup waits
   * for them to roll the log) */
  int last = -1;
  uint64_t limit = 0;
  while (!atomic_load(&sh->truncated)) {
    int st, c = commits_returned(nw);
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) FAIL("the G06 child ended before its TruncateLog: %s", harness_status_text(st));
    if (c != last) {
      last = c;
      limit = harness_now_us() + HARNESS_WAIT_US;
    }
    if (harness_now_us() > limit) {
      kill(pid, SIGKILL);
      harness_wait(pid);
      FAIL("the G06 child did not truncate, its writers did not commit for %u s", HARNESS_WAIT_US / 1000000u);
    }
    usleep(1000);
  }
  int at_truncation = 0;
  for (int w = 0; w < nw; w++) at_truncation += before[w] = atomic_load(&committed[w]);
  usleep((useconds_t)ms * 500);   /* the writers commit on after the truncation */
  /* at least one of them: under load ms/2 passed before any did (then
   * nothing was tested, and the check below said so) */
  for (uint64_t lim = harness_now_us() + HARNESS_WAIT_US; commits_returned(nw) == at_truncation;) {
    if (harness_now_us() > lim) break;   /* reported below: nothing was tested */
    usleep(1000);
  }
  if (kill(pid, SIGKILL) != 0) FAIL("kill: %s", strerror(errno));
  int st = harness_wait(pid);
  if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
    FAIL("the G06 child ended with %s, want the SIGKILL", harness_status_text(st));
  if (sh->ndeleted == 0) FAIL("the G06 TruncateLog had no log to delete: nothing was tested");
  if (access(sh->first_deleted, F_OK) == 0) FAIL("%s is still there after TruncateLog", sh->first_deleted);
  int after = 0;
  for (int w = 0; w < nw; w++) {
    lo[w] = atomic_load(&committed[w]);   /* every commit that returned */
    hi[w] = lo[w] + 1;                    /* the one in flight at the kill may be there, whole */
    after += lo[w] - before[w];
  }
  if (after == 0) FAIL("no commit returned after the G06 TruncateLog: nothing was tested");
  check_restored(live, nw, lo, hi);
  return after;
}

int main(int argc, char **argv) {
  int nw = argc > 1 ? atoi(argv[1]) : 3;
  int ms = argc > 2 ? atoi(argv[2]) : 300;
  if (nw < 1 || nw > MAXW) nw = 3;
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED) FAIL("mmap: %s", strerror(errno));
  committed = sh->committed;
  harness_tempdir(dir, sizeof dir, "br");
  char live[200], full[200], incr[200], r1[200], r2[200];
  snprintf(live, sizeof live, "%s/live", dir);
  snprintf(full, sizeof full, "%s/full", dir);
  snprintf(incr, sizeof incr, "%s/incr", dir);
  snprintf(r1, sizeof r1, "%s/restore1", dir);
  snprintf(r2, sizeof r2, "%s/restore2", dir);
  mkdir(live, 0700);
  snprintf(dbpath, sizeof dbpath, "%s/app.edb", live);
  /* 128 KiB logs; a small cache (64 pages): pages are flushed during the copy */
  CK(harness_instance(&inst, "live", live, 128, 64));
  CK(JetInit(&inst));
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  CK(harness_create_table(inst, dbpath, "data", &s, &db, &t));

  pthread_t th[MAXW];
  warg args[MAXW];
  run_writers(th, args, nw);
  usleep((useconds_t)ms * 1000);
  int lo1[MAXW], hi1[MAXW], lo2[MAXW], hi2[MAXW];
  backup(full, 0, nw, NULL);
  JET_LOGINFO full_info = cut_info;
  memcpy(lo1, cut_lo, sizeof lo1);
  memcpy(hi1, cut_hi, sizeof hi1);
  usleep((useconds_t)ms * 1000);
  backup(incr, 1, nw, NULL);
  memcpy(lo2, cut_lo, sizeof lo2);
  memcpy(hi2, cut_hi, sizeof hi2);
  stop(th, nw);

  int total = 0;
  for (int i = 0; i < nw; i++) total += atomic_load(&committed[i]);
  const char *sets1[] = { full };
  check_restore(sets1, 1, r1, nw, lo1, hi1);
  /* the same set through ESE's external restore: the database is written
   * by the caller where it wants it, the logs replay in another folder */
  char ext[300], extdb[400], fulldb[400];
  snprintf(ext, sizeof ext, "%s/ext", dir);
  snprintf(extdb, sizeof extdb, "%s/app.edb", ext);
  snprintf(fulldb, sizeof fulldb, "%s/app.edb", full);
  if (mkdir(ext, 0700) != 0 || harness_copy_file(fulldb, extdb) != 0)
    FAIL("copy %s to %s: %s", fulldb, extdb, strerror(errno));
  JET_RSTMAP map = { dbpath, extdb };
  CK(JetExternalRestore2(ext, ext, &map, 1, full, &full_info, NULL, NULL, NULL, NULL));
  check_restored(ext, nw, lo1, hi1);
  const char *sets2[] = { full, incr };
  check_restore(sets2, 2, r2, nw, lo2, hi2);
  CK(JetTerm2(inst, JET_bitTermComplete));
  char g06dir[200];
  snprintf(g06dir, sizeof g06dir, "%s/incr-g06", dir);
  int after = g06(live, g06dir, nw, ms);
  if (harness_rm_rf(dir) != 0) FAIL("could not remove %s", dir);
  printf("backup_restore: ok: %d writers committed %d transactions during a full and an incremental backup; "
         "the full (by EseRestore and by JetExternalRestore2) and full+incremental restores hold exactly the transactions before their cut-off; "
         "after a TruncateLog under the writers (%d logs deleted) and a SIGKILL with %d commits since, soft recovery holds every committed transaction\n",
         nw, total, sh->ndeleted, after);
  return 0;
}
