/*
 * term_race.c -- JET_errTermInProgress from another thread
 * (JetEndExternalBackup / JetEndExternalBackupInstance; docs/backup.md
 * rule 6).  Lua cannot reach this state: term waits for every call
 * inside the instance, and a Lua state runs one call at a time.
 *
 * Each round:
 *   1. an instance (named, or the legacy one) with a database, a table and
 *      a running external backup;
 *   2. a writer thread commits one record durably; this program's
 *      fdatasync() holds that thread inside its log flush (the instance
 *      lock released, the call still counted as active) until released;
 *   3. a term thread calls JetTerm2(JET_bitTermStopBackup): it marks the
 *      instance "terminating" and waits for the writer;
 *   4. this thread polls (bounded) until a harmless call answers
 *      JET_errTermInProgress, then checks that JetEndExternalBackupInstance
 *      (EndNormal and EndAbort), JetBeginExternalBackupInstance,
 *      JetBeginSession and a second JetTerm2 answer JET_errTermInProgress
 *      (for the legacy instance: JetEndExternalBackup, JetBeginExternalBackup),
 *      and that JetStopBackupInstance / JetStopBackup (not gated) succeed;
 *   5. releases the writer: its commit succeeds, the term succeeds, the
 *      handle is gone (JET_errInvalidInstance, or JET_errNotInitialized for
 *      the legacy forms), and a new instance on the folder finds every
 *      committed record.
 *
 * usage: term_race [rounds]     (default 4; the last round is the legacy one)
 * Prints "term_race: ok ..." and exits 0, or what differed and exits 1.
 */
#include <pthread.h>

#define HARNESS_NAME "term_race"
#include "harness.h"

#define EXPECT(got, want, what)                                                                  \
  do {                                                                                           \
    JET_ERR g_ = (got);                                                                          \
    if (g_ != (want))                                                                            \
      FAIL("round %d: %s -> %s (%ld), want %s", round_no, what, harness_err_name(g_), (long)g_,  \
           harness_err_name(want));                                                              \
  } while (0)

static int round_no;

/* ---- the fdatasync hold ----------------------------------------------------
 * The engine's objects are linked into this program, so this definition
 * replaces libc's for them.  When armed, the writer thread's next
 * fdatasync (its commit's log flush, made without the instance lock) waits
 * until released; every other sync runs for real. */
static pthread_mutex_t hold_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cv = PTHREAD_COND_INITIALIZER;
static int hold_armed, hold_inside, hold_release;
static pthread_t hold_thread;

static void deadline(struct timespec *ts, int seconds) {
  clock_gettime(CLOCK_REALTIME, ts);
  ts->tv_sec += seconds;
}

int fdatasync(int fd) {
  pthread_mutex_lock(&hold_mu);
  if (hold_armed && pthread_equal(pthread_self(), hold_thread)) {
    hold_armed = 0;
    hold_inside = 1;
    pthread_cond_broadcast(&hold_cv);
    struct timespec ts;
    deadline(&ts, 2 * HARNESS_WAIT_US / 1000000u);   /* never hang the suite; past the polls' bound */
    while (!hold_release)
      if (pthread_cond_timedwait(&hold_cv, &hold_mu, &ts) == ETIMEDOUT) break;
    hold_inside = 0;
  }
  pthread_mutex_unlock(&hold_mu);
  return (int)syscall(SYS_fdatasync, fd);
}

/* ---- threads ---------------------------------------------------------------- */

typedef struct {
  JET_SESID s;
  JET_TABLEID t;
  char key[32];
  JET_ERR result;
} writer_arg;

static void *writer(void *p) {
  writer_arg *a = p;
  pthread_mutex_lock(&hold_mu);
  hold_thread = pthread_self();
  hold_armed = 1;
  pthread_mutex_unlock(&hold_mu);
  a->result = EsePut(a->s, a->t, a->key, strlen(a->key), "held", 4);   /* durable autocommit */
  return NULL;
}

typedef struct {
  JET_INSTANCE inst;
  JET_ERR result;
} term_arg;

static void *terminator(void *p) {
  term_arg *a = p;
  a->result = JetTerm2(a->inst, JET_bitTermStopBackup);
  return NULL;
}

/* ---- one round ----------------------------------------------------------------- */

/* 1 MiB logs: the few commits here never roll the log, so the only sync
 * the writer makes is its log flush, outside the instance lock */
#define LOG_KIB 1024

/* Every committed record is back on a new instance of dir. */
static void check_records(const char *dir, const char *dbpath, int nkeys, const char *held_key) {
  JET_INSTANCE inst;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  char name[64];
  snprintf(name, sizeof name, "term-race-check-%d", round_no);
  CK(harness_instance(&inst, name, dir, LOG_KIB, 0));
  CK(JetInit(&inst));
  CK(harness_open_table(inst, dbpath, 1, "t", &s, &db, &t));
  for (int i = 0; i <= nkeys; i++) {
    char k[32];
    if (i < nkeys) snprintf(k, sizeof k, "k%03d", i);
    else snprintf(k, sizeof k, "%s", held_key);
    JET_ERR e = EseSeek(s, t, k, strlen(k), JET_bitSeekEQ);
    if (e)
      FAIL("round %d: committed record %s is missing after the term (seek -> %s)", round_no, k, harness_err_name(e));
  }
  CK(JetTerm2(inst, JET_bitTermComplete));
}

/* Returns how many polls it took to see JET_errTermInProgress. */
static int one_round(const char *root, int legacy) {
  char dir[300], dbpath[400], iname[64], rname[16];
  snprintf(rname, sizeof rname, "r%d", round_no);
  harness_fresh_dir(dir, sizeof dir, root, rname);
  snprintf(dbpath, sizeof dbpath, "%s/app.edb", dir);
  JET_INSTANCE inst = 0;
  if (legacy) {
    CK(harness_params(NULL, dir, LOG_KIB, 0));
  } else {
    snprintf(iname, sizeof iname, "term-race-%d", round_no);
    CK(harness_instance(&inst, iname, dir, LOG_KIB, 0));
  }
  CK(JetInit(&inst));
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  CK(harness_create_table(inst, dbpath, "t", &s, &db, &t));
  enum { NKEYS = 8 };
  for (int i = 0; i < NKEYS; i++) {
    char k[32];
    snprintf(k, sizeof k, "k%03d", i);
    CK(EsePut(s, t, k, strlen(k), "v", 1));
  }
  CK(legacy ? JetBeginExternalBackup(0) : JetBeginExternalBackupInstance(inst, 0));

  /* 2. the writer, held inside its log flush */
  pthread_mutex_lock(&hold_mu);
  hold_armed = hold_inside = hold_release = 0;
  pthread_mutex_unlock(&hold_mu);
  writer_arg wa = { .s = s, .t = t };
  snprintf(wa.key, sizeof wa.key, "held%d", round_no);
  pthread_t wt, tt;
  if (pthread_create(&wt, NULL, writer, &wa) != 0) FAIL("pthread_create");
  pthread_mutex_lock(&hold_mu);
  struct timespec ts;
  deadline(&ts, HARNESS_WAIT_US / 1000000u);
  while (!hold_inside)
    if (pthread_cond_timedwait(&hold_cv, &hold_mu, &ts) == ETIMEDOUT) break;
  int inside = hold_inside;
  pthread_mutex_unlock(&hold_mu);
  if (!inside) FAIL("round %d: the writer never reached its log flush", round_no);

  /* 3. term on another thread */
  term_arg ta = { .inst = inst, .result = 1 };
  if (pthread_create(&tt, NULL, terminator, &ta) != 0) FAIL("pthread_create");

  /* 4. poll with a call that changes nothing until the term shows (bounded
   * by time, for a hang: 200,000 polls, half a second, passed before a
   * loaded machine ran the term thread) */
  int polls = 0;
  JET_ERR e = 0;
  char buf[1024];
  unsigned long cb;
  for (uint64_t limit = harness_now_us() + HARNESS_WAIT_US; harness_now_us() < limit; polls++) {
    e = legacy ? JetGetAttachInfo(buf, sizeof buf, &cb) : JetGetAttachInfoInstance(inst, buf, sizeof buf, &cb);
    if (e != JET_errSuccess) break;
    if (polls % 64 == 63) usleep(50);
  }
  if (e == JET_errSuccess)
    FAIL("round %d: JET_errTermInProgress never observed in %d polls (%u s)", round_no, polls,
         HARNESS_WAIT_US / 1000000u);
  EXPECT(e, JET_errTermInProgress, legacy ? "JetGetAttachInfo during JetTerm2" : "JetGetAttachInfoInstance during JetTerm2");
  if (legacy) {
    EXPECT(JetEndExternalBackup(), JET_errTermInProgress, "JetEndExternalBackup during JetTerm2");
    EXPECT(JetBeginExternalBackup(0), JET_errTermInProgress, "JetBeginExternalBackup during JetTerm2");
    EXPECT(JetStopBackup(), JET_errSuccess, "JetStopBackup during JetTerm2 (not gated)");
  }
  EXPECT(JetEndExternalBackupInstance(inst), JET_errTermInProgress, "JetEndExternalBackupInstance during JetTerm2");
  EXPECT(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort), JET_errTermInProgress,
         "JetEndExternalBackupInstance2(EndAbort) during JetTerm2");
  EXPECT(JetBeginExternalBackupInstance(inst, 0), JET_errTermInProgress,
         "JetBeginExternalBackupInstance during JetTerm2");
  JET_SESID s2;
  EXPECT(JetBeginSession(inst, &s2, NULL, NULL), JET_errTermInProgress, "JetBeginSession during JetTerm2");
  EXPECT(JetTerm2(inst, JET_bitTermAbrupt), JET_errTermInProgress, "a second JetTerm2 during JetTerm2");
  EXPECT(JetStopBackupInstance(inst), JET_errSuccess, "JetStopBackupInstance during JetTerm2 (not gated)");
  /* the writer is still held: the term is still waiting for it */
  pthread_mutex_lock(&hold_mu);
  inside = hold_inside;
  pthread_mutex_unlock(&hold_mu);
  if (!inside) FAIL("round %d: the writer left its log flush before it was released", round_no);

  /* 5. release; everything completes */
  pthread_mutex_lock(&hold_mu);
  hold_release = 1;
  pthread_cond_broadcast(&hold_cv);
  pthread_mutex_unlock(&hold_mu);
  pthread_join(wt, NULL);
  pthread_join(tt, NULL);
  EXPECT(wa.result, JET_errSuccess, "the held commit");
  EXPECT(ta.result, JET_errSuccess, "JetTerm2(JET_bitTermStopBackup)");
  if (legacy) {
    EXPECT(JetEndExternalBackup(), JET_errNotInitialized, "JetEndExternalBackup after the term");
    EXPECT(JetStopBackup(), JET_errNotInitialized, "JetStopBackup after the term");
  } else {
    EXPECT(JetEndExternalBackupInstance(inst), JET_errInvalidInstance, "JetEndExternalBackupInstance after the term");
  }
  check_records(dir, dbpath, NKEYS, wa.key);
  return polls + 1;
}

int main(int argc, char **argv) {
  harness_start(900);
  int rounds = argc > 1 ? atoi(argv[1]) : 4;
  if (rounds < 2) rounds = 2;
  char root[64];
  harness_tempdir(root, sizeof root, "term-race");
  int total_polls = 0;
  for (round_no = 1; round_no <= rounds; round_no++) total_polls += one_round(root, round_no == rounds);
  if (harness_rm_rf(root) != 0) printf("term_race: note: could not remove %s\n", root);
  printf("term_race: ok %d rounds (%d named, 1 legacy): JET_errTermInProgress from End/Begin during JetTerm2 "
         "on another thread (%d polls in all)\n", rounds, rounds - 1, total_polls);
  return 0;
}
