/*
 * backup_two_instances.c -- peer case G05: two named instances (multi-
 * instance mode), each in its own folder with its own database, table and
 * two writer threads committing small transactions, are backed up at the
 * same time by one backup thread each: a full streaming backup (Begin,
 * GetAttachInfo, OpenFile/ReadFile/CloseFile, GetLogInfo, the logs,
 * TruncateLog, End normal), then an incremental one, the two threads
 * meeting before each GetLogInfo so that both cut-offs roll their logs at
 * once.  Then both instances are terminated and each set is restored into
 * a new folder: the full set by JetRestoreInstance or JetExternalRestore2
 * (alternating by round and instance), full + incremental by EseRestore.
 * Each restored database must hold every transaction of its own writers
 * committed before its own GetLogInfo was called, none begun after it
 * returned, no half transaction, and nothing of the other instance (its
 * records, its table, its database file); the backup's lists must name
 * only files of its own instance.
 *
 * A transaction of writer w of instance X (tag 'A' or 'B') number tx puts
 * the records "Xw<w>-<tx>-0..2" and sets "Xw<w>-last" to tx; every value
 * is derived from its key and tx (harness_value), so a record of the other
 * instance or a wrong value is seen.
 *
 * usage: backup_two_instances [rounds] [warm-up commits per writer]
 * Prints "backup_two_instances: ok: ..." and exits 0 on success.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>

#define HARNESS_NAME "backup_two_instances"
#include "harness.h"

#define NI 2           /* instances */
#define NW 2           /* writers per instance */
#define NPUT 3         /* records of one transaction besides the "last" one */
#define AFTER 5        /* commits each writer makes past a cut-off before the next step */
#define DURING 40      /* commits each writer makes inside a backup before its GetLogInfo */
/* the longest a writer may go without a commit while it is waited for: a
 * bound for a hang (20 s for all 200 warm-up commits was a measure of the
 * disk: a loaded machine's durable commits missed it, 14 of 200 once) */
#define WAIT_S (HARNESS_WAIT_US / 1000000u)

enum { FULL, INCR, NSETS };

typedef struct side {
  int id;
  char tag;                       /* 'A', 'B': the first byte of each key */
  char name[64], table[16], dbfile[16];
  char dir[300], live[320], dbpath[340], set[NSETS][320];
  JET_INSTANCE inst;
  atomic_int committed[NW];       /* per writer: the highest transaction whose commit returned */
  atomic_int stop;
  /* per set and writer: commits that had returned when GetLogInfo was
   * called (every one of them must be restored), and when it returned
   * (transactions above that + 1 began after it: none may be restored) */
  int before[NSETS][NW], at_return[NSETS][NW];
  JET_LOGINFO info[NSETS];
  int nlogs[NSETS];
  long during;                    /* commits that returned between a Begin and its End */
  uint64_t bytes;
} side;

static side sides[NI];
static pthread_barrier_t meet;    /* the two backup threads, before each GetLogInfo */

/* a/b in out; fails when it does not fit. */
static char *path_join(char *out, size_t n, const char *a, const char *b) {
  if ((size_t)snprintf(out, n, "%s/%s", a, b) >= n) FAIL("path too long: %s/%s", a, b);
  return out;
}

/* The key of record j (-1: the "last" record) of writer w's transaction tx. */
static size_t key_of(char *out, size_t n, char tag, int w, int tx, int j) {
  int len = j < 0 ? snprintf(out, n, "%cw%d-last", tag, w) : snprintf(out, n, "%cw%d-%07d-%d", tag, w, tx, j);
  if (len < 0 || (size_t)len >= n) FAIL("key too long");
  return (size_t)len;
}

/* The value of key at transaction tx: "<key>|<tx>|" and 20..179 bytes of
 * filler derived from both. */
static size_t value_of(char *out, const char *key, size_t klen, int tx) {
  uint64_t h = harness_value_hash(key, klen, (uint32_t)tx);
  return harness_value(out, key, klen, (uint32_t)tx, h, 20 + h % 160);
}

/* ---- writers -------------------------------------------------------------------- */

typedef struct { side *sd; int w; } warg;

static void *writer(void *p) {
  side *sd = ((warg *)p)->sd;
  int w = ((warg *)p)->w;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  CK(harness_open_table(sd->inst, sd->dbpath, 0, sd->table, &s, &db, &t));
  for (int tx = 1; !atomic_load(&sd->stop); tx++) {
    char k[64], v[320];
    CK(JetBeginTransaction(s));
    for (int j = -1; j < NPUT; j++) {
      size_t kl = key_of(k, sizeof k, sd->tag, w, tx, j);
      size_t vl = value_of(v, k, kl, tx);
      CK(EsePut(s, t, k, kl, v, vl));
    }
    CK(JetCommitTransaction(s, 0));
    atomic_store(&sd->committed[w], tx);
  }
  CK(JetEndSession(s, 0));
  return NULL;
}

/* Waits until every writer of sd has committed at least min[w] (min NULL:
 * n each) transactions; FAIL when one commits nothing for WAIT_S. */
static void wait_commits(side *sd, const int *min, int n, const char *what) {
  for (int w = 0; w < NW; w++) {
    int last = -1, c;
    uint64_t limit = 0;
    while ((c = atomic_load(&sd->committed[w])) < (min ? min[w] : n)) {
      if (c != last) {   /* progress: the bound starts again */
        last = c;
        limit = harness_now_us() + WAIT_S * 1000000u;
      }
      if (harness_now_us() > limit)
        FAIL("instance %c writer %d committed %d transactions, want %d %s; none in the last %u s", sd->tag, w, c,
             min ? min[w] : n, what, WAIT_S);
      usleep(200);
    }
  }
}

/* ---- backups -------------------------------------------------------------------- */

static _Thread_local JET_LOGINFO *tl_info;   /* where log_info2 puts the range */

static JET_ERR log_info2(JET_INSTANCE i, char *szz, unsigned long cb, unsigned long *pcb) {
  return JetGetLogInfoInstance2(i, szz, cb, pcb, tl_info);
}

/* Every name of the list must be a file of sd's own folder. */
static void check_own(const side *sd, char **names, int n, const char *what) {
  size_t dl = strlen(sd->live);
  for (int i = 0; i < n; i++)
    if (strncmp(names[i], sd->live, dl) != 0 || names[i][dl] != '/' || strchr(names[i] + dl + 1, '/'))
      FAIL("instance %c's %s names %s, not a file of its folder %s", sd->tag, what, names[i], sd->live);
}

/* One streaming backup of sd (k: FULL or INCR) into sd->set[k]. */
static void backup(side *sd, int k) {
  const char *dest = sd->set[k];
  if (mkdir(dest, 0700) != 0) FAIL("mkdir %s: %s", dest, strerror(errno));
  int begun[NW];
  for (int w = 0; w < NW; w++) begun[w] = atomic_load(&sd->committed[w]);
  CK(JetBeginExternalBackupInstance(sd->inst, k == INCR ? JET_bitBackupIncremental : 0));
  char *buf, **names;
  int n;
  if (k == FULL) {
    names = harness_list(sd->inst, JetGetAttachInfoInstance, &buf, &n);
    if (n != 1 || strcmp(names[0], sd->dbpath) != 0)
      FAIL("instance %c's GetAttachInfo lists %d databases (first %s), want only %s", sd->tag, n,
           n ? names[0] : "-", sd->dbpath);
    for (int i = 0; i < n; i++) sd->bytes += harness_copy_stream(sd->inst, names[i], dest);
    free(names);
    free(buf);
  }
  /* DURING commits per writer since Begin (in a full backup, partly
   * after its database was streamed), all before the cut-off: the restore
   * must have them */
  int min[NW];
  for (int w = 0; w < NW; w++) min[w] = begun[w] + DURING;
  wait_commits(sd, min, 0, "during the backup");
  int pe = pthread_barrier_wait(&meet);   /* both cut-offs at once */
  if (pe != 0 && pe != PTHREAD_BARRIER_SERIAL_THREAD) FAIL("pthread_barrier_wait: %s", strerror(pe));
  for (int w = 0; w < NW; w++) sd->before[k][w] = atomic_load(&sd->committed[w]);
  sd->info[k] = (JET_LOGINFO){ sizeof(JET_LOGINFO), 0, 0, "" };
  tl_info = &sd->info[k];
  names = harness_list(sd->inst, log_info2, &buf, &n);   /* the first call is the cut-off */
  for (int w = 0; w < NW; w++) sd->at_return[k][w] = atomic_load(&sd->committed[w]);
  if (n == 0) FAIL("instance %c's GetLogInfo lists no log", sd->tag);
  check_own(sd, names, n, "GetLogInfo");
  sd->nlogs[k] = n;
  for (int i = 0; i < n; i++) sd->bytes += harness_copy_stream(sd->inst, names[i], dest);
  free(names);
  free(buf);
  names = harness_list(sd->inst, JetGetTruncateLogInfoInstance, &buf, &n);
  check_own(sd, names, n, "GetTruncateLogInfo");
  free(names);
  free(buf);
  CK(JetTruncateLogInstance(sd->inst));
  CK(JetEndExternalBackupInstance2(sd->inst, JET_bitBackupEndNormal));
  for (int w = 0; w < NW; w++) sd->during += atomic_load(&sd->committed[w]) - begun[w];
}

/* A backup thread: the full backup, AFTER commits per writer, the
 * incremental one. */
static void *backup_thread(void *p) {
  side *sd = p;
  backup(sd, FULL);
  int min[NW];
  for (int w = 0; w < NW; w++) min[w] = sd->at_return[FULL][w] + AFTER;
  wait_commits(sd, min, 0, "after the full backup's cut-off");
  backup(sd, INCR);
  return NULL;
}

/* ---- restores and their checks -------------------------------------------------- */

/* Opens the database restored in dest and checks it against sd's cut-off
 * of set k (what). */
static void check_restored(const side *sd, const char *dest, int k, const char *what) {
  const side *other = &sides[1 - sd->id];
  char p[400], iname[64];
  if (access(path_join(p, sizeof p, dest, other->dbfile), F_OK) == 0)
    FAIL("%s of instance %c: the other instance's database %s is in %s", what, sd->tag, other->dbfile, dest);
  JET_INSTANCE ri;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t, t2;
  CK(harness_instance(&ri, harness_unique_name(iname, sizeof iname, "g05-restored"), dest, 0, 0));
  CK(JetInit(&ri));
  CK(harness_open_table(ri, path_join(p, sizeof p, dest, sd->dbfile), 1, sd->table, &s, &db, &t));
  JET_ERR e = EseOpenTable(s, db, other->table, &t2);
  if (e != JET_errObjectNotFound)
    FAIL("%s of instance %c: opening the other instance's table %s -> %s, want JET_errObjectNotFound", what,
         sd->tag, other->table, harness_err_name(e));

  /* count[w][tx]: records of writer w's transaction tx found (each checked) */
  int cap[NW], *count[NW], last[NW];
  for (int w = 0; w < NW; w++) {
    cap[w] = atomic_load(&sd->committed[w]) + 2;   /* nothing above committed + 1 was ever begun */
    if (!(count[w] = calloc((size_t)cap[w], sizeof *count[w]))) FAIL("out of memory");
    last[w] = 0;
  }
  e = EseSeek(s, t, NULL, 0, JET_bitSeekGE);
  while (e == 0) {
    char k[EseMaxKeySize + 1], v[401], want[320];
    size_t kl, vl;
    CK(EseRetrieveKey(s, t, k, sizeof k - 1, &kl));
    if (kl >= sizeof k) FAIL("a key of %zu bytes", kl);
    k[kl] = 0;
    CK(EseRetrieveValue(s, t, v, sizeof v - 1, &vl));
    if (vl >= sizeof v) FAIL("%s of instance %c: key %s has a value of %zu bytes", what, sd->tag, k, vl);
    v[vl] = 0;
    char tag, rest[16];
    int w, tx, j, c = 0;
    if (sscanf(k, "%cw%d-%7d-%d%n", &tag, &w, &tx, &j, &c) == 4 && (size_t)c == kl && j >= 0 && j < NPUT) {
      if (tag != sd->tag) FAIL("%s of instance %c holds the record %s of instance %c", what, sd->tag, k, tag);
      if (w < 0 || w >= NW || tx < 1 || tx >= cap[w])
        FAIL("%s of instance %c holds the record %s, which no writer wrote", what, sd->tag, k);
      count[w][tx]++;
    } else if (sscanf(k, "%cw%d-%15s%n", &tag, &w, rest, &c) == 3 && (size_t)c == kl && !strcmp(rest, "last")) {
      if (tag != sd->tag) FAIL("%s of instance %c holds the record %s of instance %c", what, sd->tag, k, tag);
      if (w < 0 || w >= NW) FAIL("%s of instance %c holds the record %s, which no writer wrote", what, sd->tag, k);
      if (vl <= kl + 1 || sscanf(v + kl + 1, "%d", &tx) != 1 || tx < 1 || tx >= cap[w])
        FAIL("%s of instance %c: %s has the value %.40s", what, sd->tag, k, v);
      last[w] = tx;
    } else {
      FAIL("%s of instance %c holds the record %s, which is not one of its writers'", what, sd->tag, k);
    }
    size_t wl = value_of(want, k, kl, tx);
    if (vl != wl || memcmp(v, want, wl) != 0)
      FAIL("%s of instance %c: the value of %s is not the one of transaction %d", what, sd->tag, k, tx);
    e = EseSeek(s, t, k, kl, JET_bitSeekGT);
  }
  if (e != JET_errRecordNotFound) FAIL("%s: EseSeek -> %s", what, harness_err_name(e));
  for (int w = 0; w < NW; w++) {
    int lo = sd->before[k][w], hi = sd->at_return[k][w] + 1, top = 0;
    for (int tx = 1; tx < cap[w]; tx++) {
      if (count[w][tx] != 0 && count[w][tx] != NPUT)
        FAIL("%s of instance %c: writer %d transaction %d is half there (%d/%d records)", what, sd->tag, w, tx,
             count[w][tx], NPUT);
      if (tx <= lo && count[w][tx] != NPUT)
        FAIL("%s of instance %c: writer %d transaction %d, committed before GetLogInfo was called, is missing",
             what, sd->tag, w, tx);
      if (tx > hi && count[w][tx])
        FAIL("%s of instance %c: writer %d transaction %d began after GetLogInfo returned but is restored", what,
             sd->tag, w, tx);
      if (count[w][tx]) {
        if (tx != top + 1)
          FAIL("%s of instance %c: writer %d transaction %d is there but %d is not", what, sd->tag, w, tx, top + 1);
        top = tx;
      }
    }
    if (last[w] != top)
      FAIL("%s of instance %c: writer %d's last record says %d, its records end at %d (half a transaction)", what,
           sd->tag, w, last[w], top);
    free(count[w]);
  }
  CK(JetTerm2(ri, JET_bitTermComplete));
}

/* Restores sd's full set into dest by JetRestoreInstance, or (ext) by
 * JetExternalRestore2 with the database copied there by the caller. */
static void restore_full(side *sd, char *dest, int ext) {
  if (!ext) {
    CK(JetRestoreInstance(0, sd->set[FULL], dest, NULL));
    return;
  }
  char from[400], to[400];
  if (mkdir(dest, 0700) != 0) FAIL("mkdir %s: %s", dest, strerror(errno));
  path_join(from, sizeof from, sd->set[FULL], sd->dbfile);
  path_join(to, sizeof to, dest, sd->dbfile);
  if (harness_copy_file(from, to) != 0) FAIL("copy %s to %s: %s", from, to, strerror(errno));
  JET_RSTMAP map = { sd->dbpath, to };
  JET_LOGINFO info = sd->info[FULL];
  CK(JetExternalRestore2(dest, dest, &map, 1, sd->set[FULL], &info, NULL, NULL, NULL, NULL));
}

/* Restores sd's full + incremental sets into dest by EseRestore. */
static void restore_both(side *sd, const char *dest) {
  const char *sets[] = { sd->set[FULL], sd->set[INCR] };
  EseRestoreOptions o = { .dirs = sets, .ndirs = NSETS, .dest = dest };
  EseRestore *r;
  CK(EseRestoreBegin(&o, &r));
  int fin = 0;
  while (!fin) {
    JET_ERR e = EseRestoreStep(r, NULL, NULL, &fin);
    if (e) FAIL("restore of instance %c's full + incremental: %s (%s)", sd->tag, harness_err_name(e),
                EseRestoreDetail(r));
  }
  EseRestoreEnd(r);
}

/* ---- a round ------------------------------------------------------------------- */

typedef struct { long commits, during, logs; uint64_t bytes; int ext; } totals;

static void round_run(const char *base, int round, int warm, totals *tot) {
  char rdir[200];
  if ((size_t)snprintf(rdir, sizeof rdir, "%s/round%d", base, round) >= sizeof rdir) FAIL("path too long");
  if (mkdir(rdir, 0700) != 0) FAIL("mkdir %s: %s", rdir, strerror(errno));
  JET_SESID setup[NI];
  pthread_t wth[NI][NW];
  warg wargs[NI][NW];
  for (int i = 0; i < NI; i++) {
    side *sd = &sides[i];
    memset(sd, 0, sizeof *sd);
    sd->id = i;
    sd->tag = (char)('A' + i);
    snprintf(sd->table, sizeof sd->table, "data%c", sd->tag);
    snprintf(sd->dbfile, sizeof sd->dbfile, "inst%c.edb", sd->tag);
    char sub[8] = { sd->tag, 0 };
    path_join(sd->dir, sizeof sd->dir, rdir, sub);
    path_join(sd->live, sizeof sd->live, sd->dir, "live");
    path_join(sd->dbpath, sizeof sd->dbpath, sd->live, sd->dbfile);
    path_join(sd->set[FULL], sizeof sd->set[FULL], sd->dir, "full");
    path_join(sd->set[INCR], sizeof sd->set[INCR], sd->dir, "incr");
    if (mkdir(sd->dir, 0700) != 0 || mkdir(sd->live, 0700) != 0)
      FAIL("mkdir %s: %s", sd->live, strerror(errno));
    snprintf(sd->name, sizeof sd->name, "g05-%c-%d-%d", sd->tag, (int)getpid(), round);
    /* 128 KiB logs, 64 cache pages: the logs roll and pages are flushed
     * while the backups stream */
    CK(harness_instance(&sd->inst, sd->name, sd->live, 128, 64));
    CK(JetInit(&sd->inst));
    JET_DBID db;
    JET_TABLEID t;
    CK(harness_create_table(sd->inst, sd->dbpath, sd->table, &setup[i], &db, &t));
  }
  for (int i = 0; i < NI; i++)
    for (int w = 0; w < NW; w++) {
      wargs[i][w] = (warg){ &sides[i], w };
      int pe = pthread_create(&wth[i][w], NULL, writer, &wargs[i][w]);
      if (pe) FAIL("pthread_create: %s", strerror(pe));
    }
  for (int i = 0; i < NI; i++) wait_commits(&sides[i], NULL, warm, "before the backups");

  pthread_t bth[NI];
  for (int i = 0; i < NI; i++) {
    int pe = pthread_create(&bth[i], NULL, backup_thread, &sides[i]);
    if (pe) FAIL("pthread_create: %s", strerror(pe));
  }
  for (int i = 0; i < NI; i++) {
    int pe = pthread_join(bth[i], NULL);
    if (pe) FAIL("pthread_join: %s", strerror(pe));
  }
  for (int i = 0; i < NI; i++) {
    side *sd = &sides[i];
    int min[NW];
    for (int w = 0; w < NW; w++) min[w] = sd->at_return[INCR][w] + AFTER;
    wait_commits(sd, min, 0, "after the incremental backup's cut-off");
    atomic_store(&sd->stop, 1);
  }
  for (int i = 0; i < NI; i++) {
    for (int w = 0; w < NW; w++) {
      int pe = pthread_join(wth[i][w], NULL);
      if (pe) FAIL("pthread_join: %s", strerror(pe));
      tot->commits += atomic_load(&sides[i].committed[w]);
    }
    CK(JetEndSession(setup[i], 0));
    CK(JetTerm2(sides[i].inst, JET_bitTermComplete));
  }

  for (int i = 0; i < NI; i++) {
    side *sd = &sides[i];
    char dest[400], what[64];
    int ext = (round + i) % 2;
    tot->ext += ext;
    tot->logs += sd->nlogs[FULL] + sd->nlogs[INCR];
    tot->during += sd->during;
    tot->bytes += sd->bytes;
    restore_full(sd, path_join(dest, sizeof dest, sd->dir, "restore-full"), ext);
    snprintf(what, sizeof what, "round %d: the full restore (%s)", round,
             ext ? "JetExternalRestore2" : "JetRestoreInstance");
    check_restored(sd, dest, FULL, what);
    restore_both(sd, path_join(dest, sizeof dest, sd->dir, "restore-both"));
    snprintf(what, sizeof what, "round %d: the full + incremental restore", round);
    check_restored(sd, dest, INCR, what);
  }
}

int main(int argc, char **argv) {
  harness_start(1800);   /* a hang only: the waits for the writers end when they stop (WAIT_S) */
  int rounds = argc > 1 ? atoi(argv[1]) : 3;
  int warm = argc > 2 ? atoi(argv[2]) : 200;
  if (rounds < 1) rounds = 3;
  if (warm < 1) warm = 200;
  int pe = pthread_barrier_init(&meet, NULL, NI);
  if (pe) FAIL("pthread_barrier_init: %s", strerror(pe));
  char dir[64];
  harness_tempdir(dir, sizeof dir, "g05");
  totals tot = { 0, 0, 0, 0, 0 };
  uint64_t t0 = harness_now_us();
  for (int r = 0; r < rounds; r++) round_run(dir, r, warm, &tot);
  uint64_t ms = (harness_now_us() - t0) / 1000;
  pthread_barrier_destroy(&meet);
  if (harness_rm_rf(dir) != 0) FAIL("could not remove %s", dir);
  printf("backup_two_instances: ok: %d rounds, 2 instances x %d writers committed %ld transactions (%ld of "
         "them inside a backup) while both were backed up at once (full + incremental, %ld logs, %llu bytes "
         "streamed); each full restore (%d by JetExternalRestore2, %d by JetRestoreInstance) and "
         "full+incremental restore (EseRestore) holds exactly its own instance's transactions before its "
         "GetLogInfo, whole, and nothing of the other (%llu ms)\n",
         rounds, NW, tot.commits, tot.during, tot.logs, (unsigned long long)tot.bytes, tot.ext,
         rounds * NI - tot.ext, (unsigned long long)ms);
  return 0;
}
