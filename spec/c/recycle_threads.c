/*
 * recycle_threads.c -- log recycling under real threads (docs/format.md,
 * "Log recycling (spares)"): circular logging, 64 KiB log files and a
 * checkpoint at every roll, so that every few commits a generation is
 * retired (a spare) and the next one is made from it, while full backups
 * with truncation (JetBackupInstance) retire generations too.
 *
 *   recycle_threads [rounds [writers]]   (default 3 rounds, 3 writers)
 *
 * Each round runs a child process on the same folder: W writer threads
 * commit one put per durable transaction (keys "r<round>w<t>-<i>", values
 * of 16 .. 1500 bytes and now and then 12000 bytes: long values), noting
 * each commit after it returned in shared memory; a backup thread runs full
 * backups into two folders in turn, noting for each the commits returned
 * before it began and, once it returned, that it is complete.  Round 2
 * also ships every closed generation to a log archive (archive_path).  The
 * parent SIGKILLs the child once it made 3 backups and the log moved 20
 * generations on (30 s at most, else FAIL), then checks:
 *  - no spare name beyond the one kept (checkpoint depth 0: edbspare1.log);
 *  - every closed generation in the folder, in the archive and in the
 *    last complete backup verifies (EseGetFileInfo with verify: records
 *    checked, zeros after the last);
 *  - recovery: every commit that returned is back with its value, for each
 *    thread a prefix of its commits (the one in flight may be there), the
 *    rounds before exactly as recovered then; after a clean term the
 *    database verifies and so does every closed generation;
 *  - the last complete backup restores (JetRestoreInstance) into a new
 *    folder holding every commit that returned before it began.
 * The last round then restores that backup over the folder itself (its
 * spare and later generations there) and commits again across rolls:
 * every restored commit and every new one is back after a clean term,
 * every closed generation verifies.
 *
 * Prints "recycle_threads: ok ..." and exits 0, or what differed and exits 1.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>

#define HARNESS_NAME "recycle_threads"
#include "harness.h"

/* A SIGKILL loses nothing a sync would keep: syncs are no-ops unless
 * ESE_REAL_SYNC=1 (a run is several times faster). */
HARNESS_SYNCS_OFF()

#define MAXW 8
#define MAXR 8
#define VBUF 16384
#define LOG_KIB 64

static int W = 3, R = 3;

/* Shared between the parent and the child of a round. */
typedef struct {
  atomic_int acked[MAXW];        /* commits of writer t that returned */
  atomic_int snap[2][MAXW];      /* acked[] when backup slot k began */
  atomic_int set_ok[2];          /* backup slot k is complete */
  atomic_int last_set;           /* the slot completed last, -1 none */
  atomic_int backups;            /* backups completed */
} shared;

static shared *sh;
static char root[64], dir[300], dbpath[400], arch[300], sets[2][300];
/* per round and writer: the commits recovered (a prefix), once checked */
static int recovered[MAXR + 1][MAXW];

/* ---- values -------------------------------------------------------------- */

static size_t key_of(char *k, size_t n, int round, int t, int i) {
  snprintf(k, n, "r%dw%d-%07d", round, t, i);
  return strlen(k);
}

static size_t value_of(char *v, const char *k, size_t kl) {
  uint64_t h = harness_value_hash(k, kl, 11);
  return harness_value(v, k, kl, 11, h, h % 29 == 0 ? 12000 : 16 + h % 1485);
}

/* ---- the child ------------------------------------------------------------ */

static JET_INSTANCE open_instance(const char *d, int archive) {
  JET_INSTANCE inst;
  char name[64];
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "recycle"), d, LOG_KIB, 0));
  CK(JetSetSystemParameter(&inst, 0, JET_paramCircularLog, 1, NULL));
  CK(JetSetSystemParameter(&inst, 0, JET_paramCheckpointDepthMax, 0, NULL));
  if (archive) CK(JetSetSystemParameter(&inst, 0, JET_paramArchivePath, 0, arch));
  CK(JetInit(&inst));
  return inst;
}

/* An instance on d (open_instance, no archive) with table "t" of db
 * (attached) open in *s, *t. */
static JET_INSTANCE open_table_on(const char *d, const char *db, JET_SESID *s, JET_TABLEID *t) {
  JET_INSTANCE inst = open_instance(d, 0);
  JET_DBID id;
  CK(harness_open_table(inst, db, 1, "t", s, &id, t));
  return inst;
}

typedef struct {
  JET_INSTANCE inst;
  int round, t;
} writer_arg;

static void *writer(void *p) {
  writer_arg *a = p;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  CK(harness_open_table(a->inst, dbpath, 0, "t", &s, &db, &t));
  static _Thread_local char v[VBUF];
  for (int i = 0;; i++) {
    char k[64];
    size_t kl = key_of(k, sizeof k, a->round, a->t, i), vl = value_of(v, k, kl);
    CK(JetBeginTransaction(s));
    CK(EsePut(s, t, k, kl, v, vl));
    CK(JetCommitTransaction(s, 0));
    atomic_store(&sh->acked[a->t], i + 1);
  }
  return NULL;
}

static void *backups(void *p) {
  JET_INSTANCE inst = *(JET_INSTANCE *)p;
  for (int n = 0;; n++) {
    int k = n % 2;
    atomic_store(&sh->set_ok[k], 0);
    if (harness_rm_rf(sets[k]) != 0) FAIL("cannot remove %s", sets[k]);
    for (int t = 0; t < W; t++) atomic_store(&sh->snap[k][t], atomic_load(&sh->acked[t]));
    CK(JetBackupInstance(inst, sets[k], 0, NULL));
    atomic_store(&sh->set_ok[k], 1);
    atomic_store(&sh->last_set, k);
    atomic_fetch_add(&sh->backups, 1);
  }
  return NULL;
}

static _Noreturn void child(int round) {
  JET_INSTANCE inst = open_instance(dir, round == 2);
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  if (round == 1) CK(harness_create_table(inst, dbpath, "t", &s, &db, &t));
  else CK(harness_open_table(inst, dbpath, 1, "t", &s, &db, &t));
  pthread_t th[MAXW + 1];
  writer_arg args[MAXW];
  for (int i = 0; i < W; i++) {
    args[i] = (writer_arg){ inst, round, i };
    if (pthread_create(&th[i], NULL, writer, &args[i]) != 0) FAIL("pthread_create");
  }
  if (pthread_create(&th[W], NULL, backups, &inst) != 0) FAIL("pthread_create");
  for (;;) pause();   /* until the parent's SIGKILL */
}

/* ---- the parent's checks ---------------------------------------------------- */

static unsigned long current_gen(const char *d) {
  char p[400];
  EseFileInfo fi;
  snprintf(p, sizeof p, "%s/edb.log", d);
  return EseGetFileInfo(p, 0, &fi, NULL, 0) == JET_errSuccess ? fi.generation : 0;
}

/* Every closed generation (edbXXXXXXXX.log) in d verifies; at most
 * max_spares spare names, none above max_spares; returns the generations. */
static int check_folder(const char *d, int max_spares, const char *what) {
  DIR *dd = opendir(d);
  if (!dd) FAIL("opendir %s: %s", d, strerror(errno));
  int n = 0;
  for (struct dirent *e; (e = readdir(dd));) {
    unsigned long g;
    unsigned k;
    char tail[8], p[600], detail[300] = "";
    EseFileInfo fi;
    snprintf(p, sizeof p, "%s/%s", d, e->d_name);
    if (strlen(e->d_name) == 15 && sscanf(e->d_name, "edb%8lx%4s", &g, tail) == 2 && !strcmp(tail, ".log")) {
      JET_ERR r = EseGetFileInfo(p, 1, &fi, detail, sizeof detail);
      if (r != JET_errSuccess) FAIL("%s: %s does not verify: %s (%s)", what, p, harness_err_name(r), detail);
      if (fi.generation != g) FAIL("%s: %s holds generation %lu", what, p, fi.generation);
      n++;
    } else if (sscanf(e->d_name, "edbspare%u%4s", &k, tail) == 2 && !strcmp(tail, ".log")) {
      if ((int)k > max_spares) FAIL("%s: %s, more spares than kept (%d)", what, p, max_spares);
    }
  }
  closedir(dd);
  return n;
}

/* The keys of round r, writer t, in tbl: [0, lo) present with their
 * values, then at most up to hi - 1; returns how many (a prefix). */
static int check_keys(JET_SESID s, JET_TABLEID tbl, int r, int t, int lo, int hi, const char *what) {
  static char v[VBUF], got[VBUF];
  int i = 0;
  for (;; i++) {
    char k[64];
    size_t kl = key_of(k, sizeof k, r, t, i), gl = 0;
    JET_ERR e = EseSeek(s, tbl, k, kl, JET_bitSeekEQ);
    if (e == JET_errRecordNotFound) break;
    if (e != JET_errSuccess) FAIL("%s: seek %s -> %s", what, k, harness_err_name(e));
    size_t vl = value_of(v, k, kl);
    CK(EseRetrieveValue(s, tbl, got, sizeof got, &gl));
    if (gl != vl || memcmp(got, v, vl) != 0) FAIL("%s: %s has a wrong value (%zu bytes, want %zu)", what, k, gl, vl);
  }
  if (i < lo || i > hi) FAIL("%s: round %d writer %d: %d commits back, want %d .. %d", what, r, t, i, lo, hi);
  for (int j = i + 1; j <= hi + 1; j++) {   /* nothing after the gap */
    char k[64];
    size_t kl = key_of(k, sizeof k, r, t, j);
    if (EseSeek(s, tbl, k, kl, JET_bitSeekEQ) != JET_errRecordNotFound) FAIL("%s: %s is there after a gap", what, k);
  }
  return i;
}

static void check_db_file(const char *path, const char *what) {
  EseFileInfo fi;
  char detail[300] = "";
  JET_ERR e = EseGetFileInfo(path, 1, &fi, detail, sizeof detail);
  if (e != JET_errSuccess) FAIL("%s: %s does not verify: %s (%s)", what, path, harness_err_name(e), detail);
}

/* Recovery of dir after round r's kill, its checks and a clean term. */
static void check_recovery(int r) {
  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE inst = open_table_on(dir, dbpath, &s, &t);
  for (int q = 1; q < r; q++)
    for (int w = 0; w < W; w++) check_keys(s, t, q, w, recovered[q][w], recovered[q][w], "after recovery");
  for (int w = 0; w < W; w++) {
    int a = atomic_load(&sh->acked[w]);
    recovered[r][w] = check_keys(s, t, r, w, a, a + 1, "after recovery");
  }
  CK(JetTerm2(inst, JET_bitTermComplete));
  check_db_file(dbpath, "after recovery and a clean term");
  check_folder(dir, 1, "after recovery and a clean term");
}

/* The last complete backup of round r restored into a new folder (or over
 * dir when in_place): every commit returned before it began is there.
 * Returns the slot. */
static int check_restore(int r, int in_place) {
  int k = atomic_load(&sh->last_set);
  if (k < 0 || !atomic_load(&sh->set_ok[k])) FAIL("round %d: no complete backup", r);
  check_folder(sets[k], 0, "the backup set");
  char dest[300], db2[400];
  if (in_place) snprintf(dest, sizeof dest, "%s", dir);
  else harness_fresh_dir(dest, sizeof dest, root, "restored");
  snprintf(db2, sizeof db2, "%s/app.edb", dest);
  CK(JetRestoreInstance(0, sets[k], dest, NULL));
  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE inst = open_table_on(dest, db2, &s, &t);
  for (int w = 0; w < W; w++) {
    int a = atomic_load(&sh->snap[k][w]);
    check_keys(s, t, r, w, a, recovered[r][w], "after the restore");
  }
  CK(JetTerm2(inst, JET_bitTermComplete));
  check_db_file(db2, "after the restore");
  if (!in_place) harness_rm_rf(dest);
  return k;
}

/* After the in-place restore: commits across rolls on the restored folder
 * (its spare and later generations were there), then everything back. */
static void check_after_restore(int r) {
  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE inst = open_table_on(dir, dbpath, &s, &t);
  unsigned long g0 = current_gen(dir);
  static char v[VBUF];
  int n = 0;
  for (; n < 20000 && current_gen(dir) < g0 + 8; n++) {
    char k[64];
    size_t kl = key_of(k, sizeof k, r + 1, 0, n), vl = value_of(v, k, kl);
    CK(EsePut(s, t, k, kl, v, vl));
  }
  if (current_gen(dir) < g0 + 8) FAIL("the log did not roll 8 times after the restore");
  CK(JetTerm2(inst, JET_bitTermComplete));
  inst = open_table_on(dir, dbpath, &s, &t);
  check_keys(s, t, r + 1, 0, n, n, "after commits on the restored folder");
  for (int w = 0; w < W; w++) check_keys(s, t, r, w, atomic_load(&sh->snap[atomic_load(&sh->last_set)][w]),
                                         recovered[r][w], "after commits on the restored folder");
  CK(JetTerm2(inst, JET_bitTermComplete));
  check_db_file(dbpath, "after commits on the restored folder");
  check_folder(dir, 1, "after commits on the restored folder");
}

static void round_run(int r) {
  memset(sh, 0, sizeof *sh);
  atomic_store(&sh->last_set, -1);
  unsigned long g0 = current_gen(dir);
  pid_t pid = harness_fork();
  if (pid == 0) child(r);
  /* edb.log may be missing a moment (a roll's renames): the highest
   * generation seen counts.  Waited for while the child makes progress (a
   * roll or a backup within HARNESS_WAIT_US: a bound for a hang; 30 s for
   * the whole was a measure of the machine) */
  unsigned long g = g0, seen_g = 0;
  int seen_b = -1;
  uint64_t limit = 0;
  for (;;) {
    unsigned long c = current_gen(dir);
    if (c > g) g = c;
    int b = atomic_load(&sh->backups);
    if ((b >= 3 && g >= g0 + 20) || (harness_now_us() > limit && seen_b >= 0)) break;
    if (g != seen_g || b != seen_b) {
      seen_g = g;
      seen_b = b;
      limit = harness_now_us() + HARNESS_WAIT_US;
    }
    harness_nap_ms(20);
  }
  int enough = atomic_load(&sh->backups) >= 3 && g >= g0 + 20;
  kill(pid, SIGKILL);
  int st = harness_wait(pid);
  if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) FAIL("round %d: the child ended (%s)", r, harness_status_text(st));
  if (!enough)
    FAIL("round %d: %d backups, generation %lu from %lu, then no progress in %u s", r, atomic_load(&sh->backups), g,
         g0, HARNESS_WAIT_US / 1000000u);
  int acked = 0;
  for (int w = 0; w < W; w++) acked += atomic_load(&sh->acked[w]);
  int closed = check_folder(dir, 1, "after the kill");
  int shipped = r == 2 ? check_folder(arch, 0, "the log archive") : 0;
  check_recovery(r);
  int k = check_restore(r, 0);
  printf("recycle_threads: round %d: %d commits returned, %d backups (the last restored: slot %d), log at "
         "generation %lu; %d closed generations verified in the folder, %d shipped\n",
         r, acked, atomic_load(&sh->backups), k, current_gen(dir), closed, shipped);
}

int main(int argc, char **argv) {
  if (argc > 1) R = atoi(argv[1]);
  if (argc > 2) W = atoi(argv[2]);
  if (R < 1 || R > MAXR || W < 1 || W > MAXW) {
    printf("usage: recycle_threads [rounds (1..%d) [writers (1..%d)]]\n", MAXR, MAXW);
    return 2;
  }
  harness_start(1800);   /* a hang only: each round waits while its child makes progress */
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED) FAIL("mmap");
  harness_tempdir(root, sizeof root, "recycle");
  harness_fresh_dir(dir, sizeof dir, root, "db");
  harness_fresh_dir(arch, sizeof arch, root, "arch");
  snprintf(sets[0], sizeof sets[0], "%s/set0", root);
  snprintf(sets[1], sizeof sets[1], "%s/set1", root);
  snprintf(dbpath, sizeof dbpath, "%s/app.edb", dir);
  for (int r = 1; r <= R; r++) round_run(r);
  check_restore(R, 1);
  check_after_restore(R);
  harness_rm_rf(root);
  printf("recycle_threads: ok %d rounds x %d writers with backups, killed: every commit back, every closed "
         "generation verified, every last backup restored, also over the folder\n", R, W);
  return 0;
}
