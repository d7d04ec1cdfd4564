/*
 * backup_bench.c -- lua-ese's streaming backup against a plain copy of the
 * same file and SQLite's online backup API, with and without a writer, and
 * restore against a plain copy of the backup set.
 *
 *   Setup (untimed): N records (default 1,000,000; 16-byte keys, 100-byte
 *   values, sequential keys, transactions of 10,000) into a lua-ese
 *   database (then a clean JetTerm and a new JetInit + attach, so the file
 *   is complete and the cache cold) and into SQLite (WAL, WITHOUT ROWID;
 *   closed after the load, so the WAL is checkpointed into the file).
 *
 *   Every case streams into a new file (or folder) in the run's folder and
 *   makes it durable (fsync of each file and of the folder), and before
 *   every timed case the OS page cache of its source files is dropped
 *   (fdatasync + posix_fadvise(POSIX_FADV_DONTNEED)): cold reads, unless
 *   BENCH_COLD=0.  The cases run as BENCH_ROUNDS interleaved rounds, the
 *   order rotating every round (the disk drifts); a case's figure is its
 *   bytes (or commits) over its time summed over the rounds.
 *
 *   A. idle: raw copy of the .edb (pread 1 MiB -> pwrite); lua-ese's full
 *      external backup (Begin, AttachInfo, OpenFile/ReadFile 1 MiB/
 *      CloseFile, GetLogInfo, the logs, TruncateLog, End normal) into a
 *      folder; SQLite sqlite3_backup_step(-1) from a new connection into a
 *      new file.  Info: the same reads into memory (raw pread, lua-ese's
 *      stream without the destination).
 *   B. under load: a writer thread, its own session, commits single
 *      records durably and continuously; its rate alone (for as long as an
 *      idle backup takes) and during a lua-ese backup, the backup's time,
 *      its restarts (a sequence that fails and is begun again; a database
 *      opened more than once), and the time and writer rate of each phase
 *      of the sequence.  Controls (info): the writer during the same
 *      backup into memory (no destination writes) and during a raw copy of
 *      the .edb -- what the disk alone does to a durable committer.
 *      SQLite: a writer on another connection during
 *      sqlite3_backup_step(100) (capped; restarts = the backup starting
 *      over at page 1 because another connection wrote) and during
 *      sqlite3_backup_step(-1).
 *   Small reads (info): the same idle and under-load lua-ese backups reading
 *      64 KiB at a time (below READAHEAD_MIN of csrc/backup.c, so without
 *      kernel readahead): the application's own trade of backup speed for
 *      the writer's rate.
 *   D. pacing (issue 12): the same writer during a full backup into a
 *      folder with backup_pace none, backup_max_rate = 50% and 25% of the
 *      idle backup's rate (measured once in the setup), and backup_pace
 *      auto; per case the writer's commit rate and p99 commit latency
 *      against the writer alone, and the backup's time against the idle
 *      backup's; an idle backup at 50% checks that the rate holds (+-10%).
 *      The writer's rate and p99 "alone" for these cases are those of the
 *      writer alone for PACE_ALONE_S right before each backup (the disk of
 *      a shared machine drifts within seconds).  pace.automem: auto with
 *      the set into memory (what the backup's reads alone cost the writer:
 *      a set written to another device).
 *      Read size x pacing x writer: the frontier printed beside what
 *      ese-disk-bench measures for the disk alone.
 *   C. restore: JetRestoreInstance of an idle set into a new folder vs a
 *      plain copy of the set's files.  Untimed checks: the restored idle
 *      set has the loaded records; a set taken under load restores with
 *      every writer commit that returned before GetLogInfo and none that
 *      began after it returned.
 *
 * Environment:
 *   BENCH_DIR      parent folder of the run's temporary folder (default /tmp)
 *   BENCH_RECORDS  records loaded (default 1000000)
 *   BENCH_ROUNDS   interleaved rounds (default 8)
 *   BENCH_SECONDS  cap of one SQLite step(100)-under-load case (default:
 *                  3 x its idle backup time, at least 1 s)
 *   BENCH_ONLY     comma-separated case ids or prefixes ("idle", "load.ese",
 *                  "restore"); the ids are printed per line
 *   BENCH_COLD     0: warm page cache (no fadvise); default 1
 *   BENCH_KEEP     1: keep the temporary folder
 *   BENCH_STRICT   1: exit 1 when a target fails
 */
#include "bench_common.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define CHUNK (1u << 20)       /* every stream reads and writes 1 MiB at a time */
#define SQ_STEP_PAGES 100
#define WRITER_ID_BASE (1ull << 40)

#define SMALL_CHUNK (64u << 10)
#define PACE_ALONE_S 0.3       /* the writer alone before each paced backup with the writer */
static int g_cold = 1;
static uint8_t *g_buf;         /* CHUNK bytes, 4 KiB aligned */
static unsigned long g_read = CHUNK;   /* bytes per JetReadFileInstance */

/* ---- helpers ------------------------------------------------------------ */
static void sync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) die(dir);
  if (fsync(fd) != 0) die("fsync dir");
  close(fd);
}

static uint64_t file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Cold reads: write back and drop the page cache of a file. */
static void drop_cache(const char *path) {
  if (g_cold) (void)drop_file_cache(path);   /* a file that is gone has nothing cached */
}

/* ... of every regular file of a folder (but SQLite's mapped -shm). */
static void drop_dir_cache(const char *dir) {
  if (!g_cold) return;
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *de;
  char p[4400];
  while ((de = readdir(d)) != NULL) {
    size_t l = strlen(de->d_name);
    if (de->d_name[0] == '.' || (l > 4 && !strcmp(de->d_name + l - 4, "-shm"))) continue;
    join(p, sizeof p, dir, de->d_name);
    drop_cache(p);
  }
  closedir(d);
}

/* Copies src into dst (created, must not exist) with CHUNK preads and
 * pwrites (dst NULL: reads only); fsyncs dst.  Returns the bytes. */
static uint64_t copy_file(const char *src, const char *dst) {
  int in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0) die(src);
  int out = -1;
  if (dst && (out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) die(dst);
  uint64_t off = 0;
  for (;;) {
    ssize_t n = pread(in, g_buf, CHUNK, (off_t)off);
    if (n < 0) die("pread");
    if (n == 0) break;
    if (out >= 0 && pwrite(out, g_buf, (size_t)n, (off_t)off) != n) die("pwrite");
    off += (uint64_t)n;
  }
  if (out >= 0) {
    if (fsync(out) != 0) die("fsync");
    close(out);
  }
  close(in);
  return off;
}

/* ---- lua-ese -------------------------------------------------------------- */
/* Opens an existing database of folder dir (a restored one: attach). */
static void ese_attach(ese_env *v, const char *name) {
  ese_instance(v, name);
  CK(JetAttachDatabase(v->s, v->path, 0));
  CK(JetOpenDatabase(v->s, v->path, NULL, &v->db, 0));
  CK(EseOpenTable(v->s, v->db, "kv", &v->t));
}

static double ese_load(ese_env *v, uint64_t n) {
  new_dir(v->dir, sizeof v->dir, "ese");
  join(v->path, sizeof v->path, v->dir, "bench.edb");
  ese_create(v, "bk-load");
  double secs = ese_bulk_put(v, n, 0);
  ese_close(v);                       /* clean: every page in the file */
  ese_attach(v, "bk-ese");            /* a new instance: cold cache */
  return secs;
}

/* A sample of loaded keys (stride) reads back with its value. */
static int check_loaded(ese_env *v, uint64_t n) {
  uint8_t k[KEY_LEN], val[VAL_LEN], got[VAL_LEN];
  for (uint64_t i = 0; i < n; i += n / 997 ? n / 997 : 1) {
    size_t cb;
    make_key(k, i, 0);
    make_value(val, i);
    if (EseSeek(v->s, v->t, k, KEY_LEN, JET_bitSeekEQ) != JET_errSuccess) return 0;
    CK(EseRetrieveValue(v->s, v->t, got, sizeof got, &cb));
    if (cb != VAL_LEN || memcmp(got, val, VAL_LEN)) return 0;
  }
  return 1;
}

/* Commit latency histograms: HBUCKET_US-wide buckets, the last one holds
 * everything from HBUCKETS - 1 buckets on. */
#define HBUCKET_US 20
#define HBUCKETS 100000

/* The latency (ms) below which a fraction q of the commits in h fall. */
static double hist_quantile(const uint64_t *h, double q) {
  uint64_t total = 0, seen = 0;
  for (int i = 0; i < HBUCKETS; i++) total += h[i];
  if (!total) return 0;
  for (int i = 0; i < HBUCKETS; i++) {
    seen += h[i];
    if ((double)seen >= q * (double)total) return (double)(i + 1) * HBUCKET_US / 1000.0;
  }
  return (double)HBUCKETS * HBUCKET_US / 1000.0;
}

/* ---- writer threads ---------------------------------------------------------
 * One per engine, parked between the windows that need it.  Commit i of a
 * writer writes the key of WRITER_ID_BASE | i; commits counts those that
 * returned (so every id below a sample of it is committed). */
typedef struct writer {
  int is_sqlite;
  JET_INSTANCE inst;
  const char *path;
  pthread_t tid;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int run, parked, quit;
  atomic_uint_fast64_t commits;
  atomic_uint_fast64_t max_lat_ns;   /* longest commit since the main thread reset it */
  _Atomic uint32_t hist[HBUCKETS];   /* commit latencies since the reset, HBUCKET_US wide */
} writer;

static void *writer_main(void *arg) {
  writer *w = arg;
  JET_SESID s = 0;
  JET_DBID db = 0;
  JET_TABLEID t = 0;
  sqlite3 *sq = NULL;
  sqlite3_stmt *ins = NULL, *begin = NULL, *commit = NULL;
  if (w->is_sqlite) {
    sq_check(NULL, sqlite3_open(w->path, &sq), "open");
    sqlite3_busy_timeout(sq, 10000);
    sq_exec(sq, "PRAGMA journal_mode=WAL");
    sq_exec(sq, "PRAGMA synchronous=FULL");
    sq_prepare_put(sq, "BEGIN IMMEDIATE", &ins, &begin, &commit);
  } else {
    CK(JetBeginSession(w->inst, &s, NULL, NULL));
    CK(JetOpenDatabase(s, w->path, NULL, &db, 0));
    CK(EseOpenTable(s, db, "kv", &t));
  }
  uint8_t k[KEY_LEN], val[VAL_LEN];
  for (;;) {
    pthread_mutex_lock(&w->mu);
    while (!w->run && !w->quit) {
      w->parked = 1;
      pthread_cond_broadcast(&w->cv);
      pthread_cond_wait(&w->cv, &w->mu);
    }
    w->parked = 0;
    int quit = w->quit;
    pthread_mutex_unlock(&w->mu);
    if (quit) break;
    uint64_t i = atomic_load(&w->commits), id = WRITER_ID_BASE | i;
    make_key(k, id, 1);
    make_value(val, id);
    double t0 = now_s();
    if (w->is_sqlite) {
      sq_put_txn(sq, ins, begin, commit, k, val);
    } else {
      ese_put_durable(s, t, k, val);     /* durable */
    }
    uint64_t lat = (uint64_t)((now_s() - t0) * 1e9);
    uint64_t b = lat / 1000 / HBUCKET_US;
    atomic_fetch_add_explicit(&w->hist[b < HBUCKETS ? b : HBUCKETS - 1], 1, memory_order_relaxed);
    uint64_t m = atomic_load(&w->max_lat_ns);
    while (lat > m && !atomic_compare_exchange_weak(&w->max_lat_ns, &m, lat)) {}
    atomic_store(&w->commits, i + 1);
  }
  if (w->is_sqlite) {
    sqlite3_finalize(ins);
    sqlite3_finalize(begin);
    sqlite3_finalize(commit);
    sqlite3_close(sq);
  } else {
    CK(EseCloseTable(s, t));
    CK(JetCloseDatabase(s, db, 0));
    CK(JetEndSession(s, 0));
  }
  return NULL;
}

static void writer_init(writer *w, int is_sqlite, JET_INSTANCE inst, const char *path) {
  memset(w, 0, sizeof *w);
  w->is_sqlite = is_sqlite;
  w->inst = inst;
  w->path = path;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  if (pthread_create(&w->tid, NULL, writer_main, w) != 0) die("pthread_create");
  pthread_mutex_lock(&w->mu);
  while (!w->parked) pthread_cond_wait(&w->cv, &w->mu);
  pthread_mutex_unlock(&w->mu);
}

/* Lets the writer go and returns once it has committed at least once. */
static void writer_go(writer *w) {
  uint64_t c0 = atomic_load(&w->commits);
  pthread_mutex_lock(&w->mu);
  w->run = 1;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  while (atomic_load(&w->commits) == c0) usleep(100);
}

static void writer_park(writer *w) {
  pthread_mutex_lock(&w->mu);
  w->run = 0;
  while (!w->parked) pthread_cond_wait(&w->cv, &w->mu);
  pthread_mutex_unlock(&w->mu);
}

static void writer_quit(writer *w) {
  pthread_mutex_lock(&w->mu);
  w->quit = 1;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->tid, NULL);
}

/* A window of the writer's commits. */
typedef struct wwin {
  uint64_t c0, c1;
  double t0, t1;
} wwin;
static void win_open(writer *w, wwin *x) {
  atomic_store(&w->max_lat_ns, 0);
  for (int i = 0; i < HBUCKETS; i++) atomic_store_explicit(&w->hist[i], 0, memory_order_relaxed);
  x->c0 = atomic_load(&w->commits);
  x->t0 = now_s();
}
static void win_close(writer *w, wwin *x) {
  x->c1 = atomic_load(&w->commits);
  x->t1 = now_s();
}
/* Adds the writer's histogram since win_open to h (HBUCKETS counts). */
static void win_hist(writer *w, uint64_t *h) {
  for (int i = 0; i < HBUCKETS; i++) h[i] += atomic_load_explicit(&w->hist[i], memory_order_relaxed);
}

/* ---- lua-ese external backup ------------------------------------------------- */
enum { PH_DB, PH_GLI, PH_LOGS, PH_END, PH_N };
static const char *const ph_name[PH_N] = { "Begin + databases", "GetLogInfo", "logs", "TruncateLog + End" };

typedef struct bkrun {
  double secs;
  double ph_secs[PH_N];    /* the last attempt's phases */
  uint64_t ph_commits[PH_N];   /* writer commits returned in each phase */
  uint64_t db_bytes, log_bytes;
  int nlogs, db_opens, ndbs;
  int restarts;            /* sequences that failed and were begun again */
  uint64_t cut_before, cut_after;   /* writer commits returned before GetLogInfo / when it returned */
} bkrun;

/* Streams one file of the backup into folder (NULL: into memory only).
 * Fails (returns the error) rather than exiting, so a failed sequence can
 * be counted as a restart. */
static JET_ERR stream_file(JET_INSTANCE inst, const char *path, const char *folder, uint64_t *bytes) {
  JET_HANDLE h;
  unsigned long lo = 0, hi = 0;
  JET_ERR e = JetOpenFileInstance(inst, path, &h, &lo, &hi);
  if (e) return e;
  uint64_t size = (uint64_t)lo | ((uint64_t)hi << 32), off = 0;
  int out = -1;
  if (folder) {
    const char *slash = strrchr(path, '/');
    char dst[4400];
    join(dst, sizeof dst, folder, slash ? slash + 1 : path);
    if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) die(dst);
  }
  for (;;) {
    unsigned long n = 0;
    if ((e = JetReadFileInstance(inst, h, g_buf, g_read, &n)) != JET_errSuccess || n == 0) break;
    if (out >= 0 && pwrite(out, g_buf, n, (off_t)off) != (ssize_t)n) die("pwrite");
    off += n;
  }
  if (out >= 0) {
    if (fsync(out) != 0) die("fsync");
    close(out);
  }
  JET_ERR ce = JetCloseFileInstance(inst, h);
  if (e == JET_errSuccess && off != size) {
    fprintf(stderr, "backup: %s streamed %" PRIu64 " of %" PRIu64 " bytes\n", path, off, size);
    e = JET_errBackupAbortByCaller;
  }
  *bytes += off;
  return e ? e : ce;
}

/* NUL-separated list -> count; calls fn(name) for each. */
typedef JET_ERR (*listfn)(JET_INSTANCE, char *, unsigned long, unsigned long *);
static char *get_list(JET_INSTANCE inst, listfn fn, JET_ERR *pe) {
  unsigned long cb = 0;
  if ((*pe = fn(inst, NULL, 0, &cb)) != JET_errSuccess) return NULL;
  char *buf = calloc(1, cb + 2);
  if (!buf) die("calloc");
  if ((*pe = fn(inst, buf, cb, &cb)) != JET_errSuccess) { free(buf); return NULL; }
  return buf;
}

/* One attempt of the whole sequence, timed by phase. */
static void phase_mark(bkrun *r, writer *w, int ph, double *t, uint64_t *c) {
  double t1 = now_s();
  uint64_t c1 = w ? atomic_load(&w->commits) : 0;
  r->ph_secs[ph] = t1 - *t;
  r->ph_commits[ph] = c1 - *c;
  *t = t1;
  *c = c1;
}

static JET_ERR backup_once(ese_env *v, const char *folder, writer *w, bkrun *r) {
  double t = now_s();
  uint64_t c = w ? atomic_load(&w->commits) : 0;
  memset(r->ph_secs, 0, sizeof r->ph_secs);
  memset(r->ph_commits, 0, sizeof r->ph_commits);
  JET_ERR e = JetBeginExternalBackupInstance(v->inst, 0);
  if (e) return e;
  char *dbs = get_list(v->inst, JetGetAttachInfoInstance, &e);
  for (char *p = dbs; e == JET_errSuccess && p && *p; p += strlen(p) + 1) {
    r->db_opens++;
    r->ndbs++;
    e = stream_file(v->inst, p, folder, &r->db_bytes);
  }
  free(dbs);
  phase_mark(r, w, PH_DB, &t, &c);
  if (w) r->cut_before = atomic_load(&w->commits);
  char *logs = e ? NULL : get_list(v->inst, JetGetLogInfoInstance, &e);
  if (w) r->cut_after = atomic_load(&w->commits);
  phase_mark(r, w, PH_GLI, &t, &c);
  for (char *p = logs; e == JET_errSuccess && p && *p; p += strlen(p) + 1) {
    r->nlogs++;
    e = stream_file(v->inst, p, folder, &r->log_bytes);
  }
  free(logs);
  if (e == JET_errSuccess && folder) sync_dir(folder);
  phase_mark(r, w, PH_LOGS, &t, &c);
  if (e == JET_errSuccess) e = JetTruncateLogInstance(v->inst);
  if (e == JET_errSuccess) e = JetEndExternalBackupInstance2(v->inst, JET_bitBackupEndNormal);
  else (void)JetEndExternalBackupInstance2(v->inst, JET_bitBackupEndAbort);
  phase_mark(r, w, PH_END, &t, &c);
  return e;
}

/* A full backup into folder (made empty first; NULL: into memory); a
 * failed sequence is begun again (a restart), at most 3 times. */
static bkrun ese_backup(ese_env *v, const char *folder, writer *w) {
  bkrun r = { 0 };
  double t0 = now_s();
  for (;;) {
    if (folder) {
      rm_tree(folder);
      if (mkdir(folder, 0700) != 0) die(folder);
    }
    JET_ERR e = backup_once(v, folder, w, &r);
    if (e == JET_errSuccess) break;
    char detail[512];
    EseInstanceErrorDetail(v->inst, detail, sizeof detail);
    fprintf(stderr, "backup: attempt %d failed: %ld %s %s\n", r.restarts + 1, e,
            EseErrorName(e) ? EseErrorName(e) : "?", detail);
    if (++r.restarts > 3) exit(1);
    r.db_bytes = r.log_bytes = 0;
    r.nlogs = r.ndbs = 0;
  }
  r.secs = now_s() - t0;
  return r;
}

/* ---- SQLite -------------------------------------------------------------------- */
static double sqlite_load(const char *dir, uint64_t n) {
  sqlite3 *db = sq_open(dir, "NORMAL");
  sqlite3_stmt *ins;
  sq_check(db, sqlite3_prepare_v2(db, "INSERT INTO kv (k, v) VALUES (?, ?)", -1, &ins, NULL), "prepare");
  uint8_t k[KEY_LEN], val[VAL_LEN];
  double t0 = now_s();
  for (uint64_t i = 0; i < n;) {
    sq_exec(db, "BEGIN");
    for (uint64_t j = 0; j < TXN_SIZE && i < n; j++, i++) {
      make_key(k, i, 0);
      make_value(val, i);
      sq_insert(db, ins, k, val);
    }
    sq_exec(db, "COMMIT");
  }
  double secs = now_s() - t0;
  sqlite3_finalize(ins);
  sq_check(db, sqlite3_close(db), "close");   /* checkpoints the WAL into the file */
  return secs;
}

typedef struct sqrun {
  double secs;
  uint64_t bytes;
  int restarts, steps, finished;
} sqrun;

/* sqlite3_backup from a new connection on src into the new file dst,
 * step(pages) until done or cap seconds; restarts = steps after which
 * fewer pages are done than before (the backup began again at page 1). */
static sqrun sqlite_backup(const char *src, const char *dst, int pages, double cap) {
  sqrun r = { 0 };
  unlink(dst);
  double t0 = now_s();
  sqlite3 *s, *d;
  sq_check(NULL, sqlite3_open_v2(src, &s, SQLITE_OPEN_READWRITE, NULL), "open src");
  sq_check(NULL, sqlite3_open(dst, &d), "open dst");
  sqlite3_backup *b = sqlite3_backup_init(d, "main", s, "main");
  if (!b) sq_check(d, SQLITE_ERROR, "backup_init");
  int rc, prev_done = -1;
  do {
    rc = sqlite3_backup_step(b, pages);
    r.steps++;
    int done = sqlite3_backup_pagecount(b) - sqlite3_backup_remaining(b);
    if (rc == SQLITE_OK && prev_done >= 0 && done <= prev_done) r.restarts++;
    if (rc == SQLITE_OK) prev_done = done;
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(1);
  } while ((rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && (cap <= 0 || now_s() - t0 < cap));
  r.finished = rc == SQLITE_DONE;
  if (rc != SQLITE_DONE && rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) sq_check(d, rc, "backup_step");
  r.bytes = (uint64_t)sqlite3_backup_pagecount(b) * 4096u;
  sqlite3_backup_finish(b);
  sq_check(d, sqlite3_close(d), "close dst");
  sq_check(s, sqlite3_close(s), "close src");
  r.secs = now_s() - t0;
  return r;
}

/* ---- results ----------------------------------------------------------------- */
typedef struct acc {
  double secs;             /* summed over rounds */
  double amount;           /* bytes or commits */
  double lo, hi;           /* per-round rate */
  int rounds;
} acc;

static void acc_add(acc *a, double amount, double secs) {
  double rate = amount / secs;
  if (a->rounds == 0 || rate < a->lo) a->lo = rate;
  if (rate > a->hi) a->hi = rate;
  a->amount += amount;
  a->secs += secs;
  a->rounds++;
}
static double acc_rate(const acc *a) { return a->secs > 0 ? a->amount / a->secs : 0; }

#define MIB (1024.0 * 1024.0)

static void line_mib(const char *id, const char *label, const acc *a) {
  if (!a->rounds) return;
  printf("  %-52s %8.1f MiB/s %8.1f MiB %6.2f s  [%s]  rounds %.0f..%.0f\n", label, acc_rate(a) / MIB,
         a->amount / a->rounds / MIB, a->secs / a->rounds, id, a->lo / MIB, a->hi / MIB);
}
static void line_rate(const char *id, const char *label, const acc *a, double max_lat_ms) {
  if (!a->rounds) return;
  printf("  %-52s %8.0f /s     %8.0f     %6.2f s  [%s]  rounds %.0f..%.0f", label, acc_rate(a),
         a->amount / a->rounds, a->secs / a->rounds, id, a->lo, a->hi);
  if (max_lat_ms >= 0) printf("  max commit %.0f ms", max_lat_ms);
  printf("\n");
}

static void target(const char *label, int ran, double value, const char *op, double bound) {
  if (!ran) return;
  int ok = !strcmp(op, ">=") ? value >= bound : !strcmp(op, "<=") ? value <= bound : value == bound;
  target_row(56, label, op, bound, value, ok);
}
static void info(const char *label, int ran, double value) {
  if (!ran) return;
  info_row(56, label, value);
}

/* ---- the cases --------------------------------------------------------------- */
enum {
  K_RAWCOPY, K_ESE, K_SQLITE, K_RAWREAD, K_ESEMEM, K_EWRITER, K_ESELOAD, K_ESEMEMLOAD, K_RAWLOAD, K_SWRITER,
  K_SQSTEP, K_SQALL, K_ESE64, K_ESELOAD64,
  K_PNONE, K_PRATE50, K_PRATE25, K_PAUTO, K_PNONE64, K_PAUTO64, K_PAUTOMEM, K_PRATEIDLE, K_N
};
#define K_P0 K_PNONE
#define NPACE (K_PRATEIDLE - K_PNONE)   /* the paced cases with the writer */
static const char *const kid[K_N] = {
  "idle.raw", "idle.ese", "idle.sqlite", "idle.rawread", "idle.esemem",
  "load.ese.writer", "load.ese.backup", "load.ese.mem", "load.ese.rawcopy", "load.sqlite.writer", "load.sqlite.step100", "load.sqlite.stepall",
  "idle.ese64k", "load.ese64k",
  "pace.none", "pace.rate50", "pace.rate25", "pace.auto", "pace.none64k", "pace.auto64k", "pace.automem", "pace.idle.rate50",
};
/* Pacing of the pace.* cases: backup_max_rate as a share of the idle rate (0: none), auto, read size,
 * the set into memory (mem: what the disk's reads alone cost the writer, the set's writes to another
 * device). */
static const struct { double share; int pace_auto; unsigned long read; int mem; const char *label; } pcase[K_N - K_P0] = {
  { 0, 0, CHUNK, 0, "pace none, 1 MiB reads" },
  { 0.5, 0, CHUNK, 0, "max_rate 50% of idle, 1 MiB reads" },
  { 0.25, 0, CHUNK, 0, "max_rate 25% of idle, 1 MiB reads" },
  { 0, 1, CHUNK, 0, "pace auto, 1 MiB reads" },
  { 0, 0, SMALL_CHUNK, 0, "pace none, 64 KiB reads" },
  { 0, 1, SMALL_CHUNK, 0, "pace auto, 64 KiB reads" },
  { 0, 1, CHUNK, 1, "pace auto, 1 MiB, set into memory" },
  { 0.5, 0, CHUNK, 0, "max_rate 50% of idle, no writer" },
};

typedef struct bench {
  ese_env v;
  char sqdir[4200], sqpath[4300], scratch[4200];
  char set_idle[4300], set_load[4300];
  writer ew, sw;
  int sel[K_N];
  acc a[K_N];
  /* under load */
  acc ese_wr_during;          /* ese writer commits during its backups */
  acc sq_wr_during_step, sq_wr_during_all;
  double ese_idle_last, sq_idle_last;   /* seconds of the last idle backup (the writer windows' length) */
  double sq_cap;
  int ese_restarts, ese_db_opens, ese_dbs, ese_load_runs;
  int sq_restarts, sq_finished, sq_runs;
  double lat_alone_ms, lat_during_ms, sq_lat_alone_ms, sq_lat_during_ms;
  uint64_t ese_db_bytes, ese_log_bytes;
  uint64_t ese_load_log_bytes, ese_load_commits;   /* the sets under load: log shipped, writer commits meanwhile */
  int ese_logs, ese_runs;
  double ph_idle[PH_N], ph_load[PH_N], ph_memload[PH_N];
  uint64_t phc_load[PH_N], phc_memload[PH_N];
  acc ese_wr_during_mem, ese_wr_during_raw, ese_wr_during64;
  double lat_during_mem_ms, lat_during_raw_ms;
  uint64_t load_cut_before, load_cut_after, load_writer_end;
  int have_set_idle, have_set_load;
  /* pacing */
  double idle_rate;                   /* bytes/s of the setup's idle backup into a folder */
  acc pace_wr[K_N - K_P0];            /* the writer during each paced backup */
  acc pace_alone[K_N - K_P0];         /* ... and alone just before it (PACE_ALONE_S) */
  uint64_t *hist[K_N];                /* commit latencies per case (K_EWRITER and the pace cases) */
  uint64_t *hist_alone[K_N];          /* the pace cases' writer alone just before the backup */
} bench;

static uint64_t *new_hist(uint64_t **h) {
  if (!*h && !(*h = calloc(HBUCKETS, sizeof(uint64_t)))) die("calloc");
  return *h;
}
static uint64_t *case_hist(bench *B, int k) { return new_hist(&B->hist[k]); }

static void set_pace(bench *B, uint64_t rate, int pace_auto) {
  JET_INSTANCE ii = B->v.inst;
  CK(JetSetSystemParameter(&ii, 0, JET_paramBackupMaxRate, (JET_API_PTR)rate, NULL));
  CK(JetSetSystemParameter(&ii, 0, JET_paramBackupPace, pace_auto ? ESE_backupPaceAuto : ESE_backupPaceNone, NULL));
}

static double ms(uint64_t ns) { return (double)ns / 1e6; }

static void run_case(bench *B, int k) {
  char dst[4400];
  switch (k) {
  case K_RAWCOPY: case K_RAWREAD: {
    join(dst, sizeof dst, B->scratch, "raw.edb");
    unlink(dst);
    drop_cache(B->v.path);
    double t0 = now_s();
    uint64_t n = copy_file(B->v.path, k == K_RAWCOPY ? dst : NULL);
    if (k == K_RAWCOPY) sync_dir(B->scratch);
    acc_add(&B->a[k], (double)n, now_s() - t0);
    unlink(dst);
    break;
  }
  case K_ESE: case K_ESEMEM: {
    join(dst, sizeof dst, g_root, "set-new");
    drop_dir_cache(B->v.dir);
    bkrun r = ese_backup(&B->v, k == K_ESE ? dst : NULL, NULL);
    acc_add(&B->a[k], (double)(r.db_bytes + r.log_bytes), r.secs);
    B->ese_restarts += r.restarts;
    if (k == K_ESE) {
      B->ese_idle_last = r.secs;
      B->ese_db_bytes += r.db_bytes;
      B->ese_log_bytes += r.log_bytes;
      B->ese_logs += r.nlogs;
      for (int i = 0; i < PH_N; i++) B->ph_idle[i] += r.ph_secs[i];
      B->ese_runs++;
      rm_tree(B->set_idle);
      if (rename(dst, B->set_idle) != 0) die("rename");
      B->have_set_idle = 1;
    }
    break;
  }
  case K_SQLITE: {
    join(dst, sizeof dst, B->scratch, "copy.sqlite");
    drop_dir_cache(B->sqdir);
    sqrun r = sqlite_backup(B->sqpath, dst, -1, 0);
    acc_add(&B->a[k], (double)r.bytes, r.secs);
    B->sq_idle_last = r.secs;
    unlink(dst);
    break;
  }
  case K_EWRITER: case K_SWRITER: {
    writer *w = k == K_EWRITER ? &B->ew : &B->sw;
    double len = k == K_EWRITER ? B->ese_idle_last : B->sq_idle_last;
    if (len < 0.5) len = 0.5;
    drop_dir_cache(k == K_EWRITER ? B->v.dir : B->sqdir);   /* as before a backup with the writer */
    wwin x;
    writer_go(w);
    win_open(w, &x);
    usleep((useconds_t)(len * 1e6));
    win_close(w, &x);
    double lat = ms(atomic_load(&w->max_lat_ns));
    writer_park(w);
    win_hist(w, case_hist(B, k));
    acc_add(&B->a[k], (double)(x.c1 - x.c0), x.t1 - x.t0);
    double *m = k == K_EWRITER ? &B->lat_alone_ms : &B->sq_lat_alone_ms;
    if (lat > *m) *m = lat;
    break;
  }
  case K_RAWLOAD: {     /* control: a plain copy of the .edb with the lua-ese writer */
    join(dst, sizeof dst, B->scratch, "raw.edb");
    unlink(dst);
    drop_cache(B->v.path);
    wwin x;
    writer_go(&B->ew);
    win_open(&B->ew, &x);
    double t0 = now_s();
    uint64_t nb = copy_file(B->v.path, dst);
    sync_dir(B->scratch);
    double t1 = now_s();
    win_close(&B->ew, &x);
    double lat = ms(atomic_load(&B->ew.max_lat_ns));
    writer_park(&B->ew);
    acc_add(&B->a[k], (double)nb, t1 - t0);
    acc_add(&B->ese_wr_during_raw, (double)(x.c1 - x.c0), x.t1 - x.t0);
    if (lat > B->lat_during_raw_ms) B->lat_during_raw_ms = lat;
    unlink(dst);
    break;
  }
  case K_ESELOAD: case K_ESEMEMLOAD: {
    int mem = k == K_ESEMEMLOAD;
    join(dst, sizeof dst, g_root, "set-new");
    drop_dir_cache(B->v.dir);
    wwin x;
    writer_go(&B->ew);
    win_open(&B->ew, &x);
    bkrun r = ese_backup(&B->v, mem ? NULL : dst, &B->ew);
    win_close(&B->ew, &x);
    double lat = ms(atomic_load(&B->ew.max_lat_ns));
    writer_park(&B->ew);
    acc_add(&B->a[k], (double)(r.db_bytes + r.log_bytes), r.secs);
    acc_add(mem ? &B->ese_wr_during_mem : &B->ese_wr_during, (double)(x.c1 - x.c0), x.t1 - x.t0);
    double *m = mem ? &B->lat_during_mem_ms : &B->lat_during_ms;
    if (lat > *m) *m = lat;
    for (int i = 0; i < PH_N; i++) {
      (mem ? B->ph_memload : B->ph_load)[i] += r.ph_secs[i];
      (mem ? B->phc_memload : B->phc_load)[i] += r.ph_commits[i];
    }
    B->ese_restarts += r.restarts;
    if (mem) break;
    B->ese_load_log_bytes += r.log_bytes;
    B->ese_load_commits += x.c1 - x.c0;
    B->ese_db_opens += r.db_opens;
    B->ese_dbs += r.ndbs;
    B->ese_load_runs++;
    B->load_cut_before = r.cut_before;
    B->load_cut_after = r.cut_after;
    B->load_writer_end = atomic_load(&B->ew.commits);
    rm_tree(B->set_load);
    if (rename(dst, B->set_load) != 0) die("rename");
    B->have_set_load = 1;
    break;
  }
  case K_ESE64: case K_ESELOAD64: {   /* 64 KiB reads into a folder that is thrown away */
    int load = k == K_ESELOAD64;
    join(dst, sizeof dst, g_root, "set-small");
    drop_dir_cache(B->v.dir);
    wwin x;
    if (load) {
      writer_go(&B->ew);
      win_open(&B->ew, &x);
    }
    g_read = SMALL_CHUNK;
    bkrun r = ese_backup(&B->v, dst, load ? &B->ew : NULL);
    g_read = CHUNK;
    if (load) {
      win_close(&B->ew, &x);
      writer_park(&B->ew);
      acc_add(&B->ese_wr_during64, (double)(x.c1 - x.c0), x.t1 - x.t0);
    }
    B->ese_restarts += r.restarts;
    acc_add(&B->a[k], (double)(r.db_bytes + r.log_bytes), r.secs);
    rm_tree(dst);
    break;
  }
  case K_PNONE: case K_PRATE50: case K_PRATE25: case K_PAUTO: case K_PNONE64: case K_PAUTO64: case K_PAUTOMEM:
  case K_PRATEIDLE: {
    int i = k - K_P0, load = k != K_PRATEIDLE;
    join(dst, sizeof dst, g_root, "set-pace");
    drop_dir_cache(B->v.dir);
    set_pace(B, (uint64_t)(pcase[i].share * B->idle_rate), pcase[i].pace_auto);
    g_read = pcase[i].read;
    wwin x;
    if (load) {
      /* the writer alone right before the backup: on a shared machine
       * the disk drifts within seconds, so the writer's rate in the
       * rounds of load.ese.writer says little about this moment */
      writer_go(&B->ew);
      win_open(&B->ew, &x);
      usleep((useconds_t)(PACE_ALONE_S * 1e6));
      win_close(&B->ew, &x);
      win_hist(&B->ew, new_hist(&B->hist_alone[k]));
      acc_add(&B->pace_alone[i], (double)(x.c1 - x.c0), x.t1 - x.t0);
      win_open(&B->ew, &x);
    }
    bkrun r = ese_backup(&B->v, pcase[i].mem ? NULL : dst, load ? &B->ew : NULL);
    if (load) {
      win_close(&B->ew, &x);
      writer_park(&B->ew);
      win_hist(&B->ew, case_hist(B, k));
      acc_add(&B->pace_wr[i], (double)(x.c1 - x.c0), x.t1 - x.t0);
    }
    g_read = CHUNK;
    set_pace(B, 0, 0);
    B->ese_restarts += r.restarts;
    acc_add(&B->a[k], (double)(r.db_bytes + r.log_bytes), r.secs);
    rm_tree(dst);
    break;
  }
  case K_SQSTEP: case K_SQALL: {
    join(dst, sizeof dst, B->scratch, "copy.sqlite");
    drop_dir_cache(B->sqdir);
    wwin x;
    writer_go(&B->sw);
    win_open(&B->sw, &x);
    double cap = B->sq_cap > 0 ? B->sq_cap : 3 * B->sq_idle_last;
    if (cap < 1) cap = 1;
    sqrun r = sqlite_backup(B->sqpath, dst, k == K_SQSTEP ? SQ_STEP_PAGES : -1, cap);
    win_close(&B->sw, &x);
    double lat = ms(atomic_load(&B->sw.max_lat_ns));
    writer_park(&B->sw);
    acc_add(&B->a[k], (double)r.bytes, r.secs);
    acc_add(k == K_SQSTEP ? &B->sq_wr_during_step : &B->sq_wr_during_all, (double)(x.c1 - x.c0), x.t1 - x.t0);
    if (lat > B->sq_lat_during_ms) B->sq_lat_during_ms = lat;
    if (k == K_SQSTEP) {
      B->sq_restarts += r.restarts;
      B->sq_finished += r.finished;
      B->sq_runs++;
    } else if (!r.finished) {
      fprintf(stderr, "sqlite step(-1) under load did not finish\n");
    }
    unlink(dst);
    break;
  }
  }
}

/* Keys of the writer: ids [from, to) present (want 1) or absent (0), a
 * sample of at most ~400 of them. */
static int check_writer_keys(ese_env *v, uint64_t from, uint64_t to, int present) {
  uint8_t k[KEY_LEN], val[VAL_LEN], got[VAL_LEN];
  uint64_t n = to > from ? to - from : 0, step = n / 400 ? n / 400 : 1;
  for (uint64_t i = 0; i < n; i = (i + step < n || i == n - 1) ? i + step : n - 1) {
    uint64_t id = WRITER_ID_BASE | (from + i);
    make_key(k, id, 1);
    JET_ERR e = EseSeek(v->s, v->t, k, KEY_LEN, JET_bitSeekEQ);
    if (present) {
      size_t cb;
      if (e != JET_errSuccess) return 0;
      make_value(val, id);
      CK(EseRetrieveValue(v->s, v->t, got, sizeof got, &cb));
      if (cb != VAL_LEN || memcmp(got, val, VAL_LEN)) return 0;
    } else if (e != JET_errRecordNotFound) {
      return 0;
    }
  }
  return 1;
}

/* Restores set into a new folder (untimed) and runs the checks. */
static int verify_set(bench *B, const char *set, const char *name, uint64_t nrec, int with_writer) {
  ese_env r;
  new_dir(r.dir, sizeof r.dir, name);
  join(r.path, sizeof r.path, r.dir, "bench.edb");
  JET_ERR e = JetRestoreInstance(0, set, r.dir, NULL);
  if (e) {
    fprintf(stderr, "restore of %s: %ld %s\n", set, e, EseErrorName(e) ? EseErrorName(e) : "?");
    return 0;
  }
  ese_attach(&r, name);
  int ok = check_loaded(&r, nrec);
  if (ok && with_writer) {
    ok = check_writer_keys(&r, 0, B->load_cut_before, 1) &&
         check_writer_keys(&r, B->load_cut_after + 1, B->load_writer_end, 0);
  }
  ese_close(&r);
  rm_tree(r.dir);
  return ok;
}

int main(void) {
  const char *recs = getenv("BENCH_RECORDS");
  const char *rounds_s = getenv("BENCH_ROUNDS");
  const char *secs_s = getenv("BENCH_SECONDS");
  const char *cold = getenv("BENCH_COLD");
  g_only = getenv("BENCH_ONLY");
  uint64_t n = recs && *recs ? strtoull(recs, NULL, 10) : 1000000;
  int rounds = rounds_s && *rounds_s ? atoi(rounds_s) : 8;
  g_cold = !(cold && !strcmp(cold, "0"));
  if (n == 0 || rounds <= 0) { fprintf(stderr, "bench: bad BENCH_RECORDS or BENCH_ROUNDS\n"); return 2; }
  if (bench_make_root("ese-backup-bench") != 0) return 2;
  if (!(g_buf = aligned_alloc(4096, CHUNK))) die("aligned_alloc");
  memset(g_buf, 0, CHUNK);

  static bench B;
  B.sq_cap = secs_s && *secs_s ? strtod(secs_s, NULL) : 0;
  int any_ese = 0, any_sq = 0, any_restore = want("restore");
  for (int k = 0; k < K_N; k++) {
    B.sel[k] = want(kid[k]);
    if (B.sel[k] && (k == K_RAWCOPY || k == K_RAWREAD || k == K_ESE || k == K_ESEMEM || k == K_EWRITER || k == K_ESELOAD ||
                     k == K_ESEMEMLOAD || k == K_RAWLOAD || k == K_ESE64 || k == K_ESELOAD64 || k >= K_P0))
      any_ese = 1;
    if (B.sel[k] && k >= K_P0) B.sel[K_EWRITER] = B.sel[K_ESE] = 1;   /* what the paced cases compare with */
    if (B.sel[k] && (k == K_SQLITE || k == K_SWRITER || k == K_SQSTEP || k == K_SQALL)) any_sq = 1;
  }
  if (any_restore) { any_ese = 1; B.sel[K_ESE] = 1; }   /* the restore needs an idle set */
  if (B.sel[K_ESELOAD] || B.sel[K_ESEMEMLOAD] || B.sel[K_RAWLOAD] || B.sel[K_ESELOAD64]) B.sel[K_EWRITER] = 1;   /* the rate to compare with */
  if (B.sel[K_SQSTEP] || B.sel[K_SQALL]) { B.sel[K_SWRITER] = 1; B.sel[K_SQLITE] = 1; }
  if (B.sel[K_EWRITER] || B.sel[K_ESELOAD]) B.sel[K_ESE] = 1;   /* the idle time to compare with */

  printf("lua-ese backup benchmark  (sqlite %s, folder %s)\n", sqlite3_libversion(), g_root);
  printf("  data: %" PRIu64 " records, %d-byte keys (16 hex digits of i), %d-byte values, loaded in\n"
         "        key order in transactions of %d; writers add single records (hashed keys)\n",
         n, KEY_LEN, VAL_LEN, TXN_SIZE);
  printf("  lua-ese: page %d B, cache %d pages (%d MiB), log files %d KiB, circular logging off;\n"
         "           after the load a clean JetTerm and a new instance (database complete on disk)\n",
         PAGE_SIZE, CACHE_PAGES, CACHE_PAGES / 128, LOG_FILE_KIB);
  printf("  SQLite:  WAL, WITHOUT ROWID, page 4096; closed after the load (WAL checkpointed);\n"
         "           backups from a new connection into a new file (synchronous default)\n");
  printf("  every stream: %u KiB reads into a new file in the same file system, fsync of the file(s)\n"
         "  and folder included; before each case the sources' page cache is\n  %s;\n"
         "  %d interleaved rounds, order rotating; a figure is its total over its total time\n\n",
         CHUNK / 1024, g_cold ? "dropped (fdatasync + POSIX_FADV_DONTNEED): cold reads" : "kept: warm reads",
         rounds);

  /* ---- setup ---- */
  new_dir(B.scratch, sizeof B.scratch, "scratch");
  join(B.set_idle, sizeof B.set_idle, g_root, "set-idle");
  join(B.set_load, sizeof B.set_load, g_root, "set-load");
  printf("setup\n");
  if (any_ese) {
    double t = ese_load(&B.v, n);
    printf("  %-52s %8.2f s   database %.1f MiB\n", "lua-ese load (untimed setup)", t, (double)file_size(B.v.path) / MIB);
    /* an untimed first backup: truncates the load's logs, sets the writer window */
    bkrun r = ese_backup(&B.v, NULL, NULL);
    B.ese_idle_last = r.secs;
    /* the idle rate the pace cases' max_rate is a share of: one more
     * untimed backup, cold, into a folder */
    char pdst[4300];
    join(pdst, sizeof pdst, g_root, "set-pace");
    drop_dir_cache(B.v.dir);
    r = ese_backup(&B.v, pdst, NULL);
    rm_tree(pdst);
    B.idle_rate = (double)(r.db_bytes + r.log_bytes) / r.secs;
    printf("  %-52s %8.2f s   %.1f MiB/s (the pace cases' base rate)\n", "lua-ese idle backup (untimed setup)", r.secs,
           B.idle_rate / MIB);
    writer_init(&B.ew, 0, B.v.inst, B.v.path);
  }
  if (any_sq) {
    new_dir(B.sqdir, sizeof B.sqdir, "sqlite");
    join(B.sqpath, sizeof B.sqpath, B.sqdir, "bench.sqlite");
    double t = sqlite_load(B.sqdir, n);
    printf("  %-52s %8.2f s   database %.1f MiB\n", "SQLite load (untimed setup)", t, (double)file_size(B.sqpath) / MIB);
    B.sq_idle_last = 1;
    writer_init(&B.sw, 1, 0, B.sqpath);
  }
  fflush(stdout);

  /* ---- interleaved rounds ---- */
  double t_rounds = now_s();
  for (int round = 0; round < rounds; round++)
    for (int j = 0; j < K_N; j++) {
      int k = (round + j) % K_N;
      if (B.sel[k]) run_case(&B, k);
    }
  t_rounds = now_s() - t_rounds;

  printf("\nA. idle backup, stream to a new durable file        throughput   per round   time\n");
  line_mib(kid[K_RAWCOPY], "raw copy of the .edb (pread + pwrite)", &B.a[K_RAWCOPY]);
  line_mib(kid[K_ESE], "lua-ese external backup (database + logs)", &B.a[K_ESE]);
  line_mib(kid[K_SQLITE], "SQLite backup_step(-1)", &B.a[K_SQLITE]);
  line_mib(kid[K_RAWREAD], "raw read of the .edb, no destination (info)", &B.a[K_RAWREAD]);
  line_mib(kid[K_ESEMEM], "lua-ese backup, no destination (info)", &B.a[K_ESEMEM]);
  if (B.ese_runs) {
    printf("  lua-ese set per backup: database stream %.1f MiB, %.1f logs, %.1f MiB of log\n",
           (double)B.ese_db_bytes / B.ese_runs / MIB, (double)B.ese_logs / B.ese_runs,
           (double)B.ese_log_bytes / B.ese_runs / MIB);
    printf("  lua-ese phases per backup:");
    for (int i = 0; i < PH_N; i++) printf("%s %s %.3f s", i ? "," : "", ph_name[i], B.ph_idle[i] / B.ese_runs);
    printf("\n");
  }

  printf("\nB. under load: a writer committing single records durably, without pause\n");
  line_rate(kid[K_EWRITER], "lua-ese writer alone", &B.a[K_EWRITER], B.a[K_EWRITER].rounds ? B.lat_alone_ms : -1);
  line_rate(kid[K_ESELOAD], "lua-ese writer during the backup", &B.ese_wr_during, B.ese_wr_during.rounds ? B.lat_during_ms : -1);
  line_mib(kid[K_ESELOAD], "lua-ese backup with the writer", &B.a[K_ESELOAD]);
  if (B.ese_load_runs) {
    printf("  lua-ese restarts: %d (sequences begun again), database opens %d for %d databases streamed\n",
           B.ese_restarts, B.ese_db_opens, B.ese_dbs);
    if (B.ese_load_commits)
      printf("  lua-ese log shipped per writer commit during the backup: %.0f B (%.1f MiB of log files for %llu "
             "commits; whole generation files, so at most one file's size beyond the commits' records)\n",
             (double)B.ese_load_log_bytes / (double)B.ese_load_commits, (double)B.ese_load_log_bytes / MIB,
             (unsigned long long)B.ese_load_commits);
    printf("  lua-ese phases with the writer (s per backup, writer commits/s):\n   ");
    for (int i = 0; i < PH_N; i++)
      printf("%s %s %.3f s %.0f/s", i ? "," : "", ph_name[i], B.ph_load[i] / B.ese_load_runs,
             B.ph_load[i] > 0 ? (double)B.phc_load[i] / B.ph_load[i] : 0.0);
    printf("\n");
  }
  line_rate(kid[K_ESEMEMLOAD], "lua-ese writer during a backup to memory (info)", &B.ese_wr_during_mem,
            B.ese_wr_during_mem.rounds ? B.lat_during_mem_ms : -1);
  line_mib(kid[K_ESEMEMLOAD], "lua-ese backup to memory with the writer (info)", &B.a[K_ESEMEMLOAD]);
  if (B.a[K_ESEMEMLOAD].rounds) {
    printf("   ");
    for (int i = 0; i < PH_N; i++)
      printf("%s %s %.3f s %.0f/s", i ? "," : "", ph_name[i], B.ph_memload[i] / B.a[K_ESEMEMLOAD].rounds,
             B.ph_memload[i] > 0 ? (double)B.phc_memload[i] / B.ph_memload[i] : 0.0);
    printf("\n");
  }
  line_rate(kid[K_RAWLOAD], "lua-ese writer during a raw copy of the .edb (control)", &B.ese_wr_during_raw,
            B.ese_wr_during_raw.rounds ? B.lat_during_raw_ms : -1);
  line_mib(kid[K_RAWLOAD], "raw copy of the .edb with the writer (control)", &B.a[K_RAWLOAD]);
  line_mib(kid[K_ESE64], "lua-ese backup, 64 KiB reads, idle (info)", &B.a[K_ESE64]);
  line_rate(kid[K_ESELOAD64], "lua-ese writer during a backup with 64 KiB reads (info)", &B.ese_wr_during64, -1);
  line_mib(kid[K_ESELOAD64], "lua-ese backup, 64 KiB reads, with the writer (info)", &B.a[K_ESELOAD64]);
  line_rate(kid[K_SWRITER], "SQLite writer alone (WAL FULL)", &B.a[K_SWRITER], B.a[K_SWRITER].rounds ? B.sq_lat_alone_ms : -1);
  line_rate(kid[K_SQSTEP], "SQLite writer during backup_step(100)", &B.sq_wr_during_step, -1);
  line_mib(kid[K_SQSTEP], "SQLite backup_step(100) with the writer", &B.a[K_SQSTEP]);
  if (B.sq_runs)
    printf("  SQLite step(%d): %d restarts in %d runs, %d finished (cap %.1f s per run)\n", SQ_STEP_PAGES,
           B.sq_restarts, B.sq_runs, B.sq_finished, B.sq_cap > 0 ? B.sq_cap : (3 * B.sq_idle_last < 1 ? 1 : 3 * B.sq_idle_last));
  line_rate(kid[K_SQALL], "SQLite writer during backup_step(-1)", &B.sq_wr_during_all, -1);
  line_mib(kid[K_SQALL], "SQLite backup_step(-1) with the writer", &B.a[K_SQALL]);
  int ran_pace = 0;
  for (int k = K_P0; k < K_N; k++) ran_pace |= B.a[k].rounds > 0;
  double idle_secs = B.a[K_ESE].rounds ? B.a[K_ESE].secs / B.a[K_ESE].rounds : 0;
  double alone = acc_rate(&B.a[K_EWRITER]);
  double p99_alone = B.hist[K_EWRITER] ? hist_quantile(B.hist[K_EWRITER], 0.99) : 0;
  if (ran_pace) {
    printf("\nD. pacing: the writer during a full backup into a folder (base rate %.1f MiB/s = the idle backup's)\n",
           B.idle_rate / MIB);
    printf("  %-36s %12s %9s %9s %10s %9s %9s\n", "pacing, read size", "backup MiB/s", "time/idle", "writer/s",
           "w/alone", "p99 ms", "p99/alone");
    printf("  %-36s %12s %9s %9.0f %10s %9.2f %9s  [%s]\n", "writer alone (rounds of its own)", "", "", alone, "", p99_alone,
           "", kid[K_EWRITER]);
    printf("  (w/alone and p99/alone: against the writer alone for %.1f s right before each backup)\n", PACE_ALONE_S);
    for (int k = K_P0; k < K_N; k++) {
      int i = k - K_P0;
      if (!B.a[k].rounds) continue;
      double secs = B.a[k].secs / B.a[k].rounds;
      if (k == K_PRATEIDLE) {
        printf("  %-36s %12.1f %9.2f %9s %10s %9s %9s  [%s]  (max_rate %.1f MiB/s)\n", pcase[i].label,
               acc_rate(&B.a[k]) / MIB, idle_secs > 0 ? secs / idle_secs : 0, "", "", "", "", kid[k],
               pcase[i].share * B.idle_rate / MIB);
        continue;
      }
      double wr = acc_rate(&B.pace_wr[i]), p99 = hist_quantile(B.hist[k], 0.99);
      double al = acc_rate(&B.pace_alone[i]), p99al = hist_quantile(B.hist_alone[k], 0.99);
      printf("  %-36s %12.1f %9.2f %9.0f %10.2f %9.2f %9.2f  [%s]  (alone before it: %.0f/s, p99 %.2f ms)\n",
             pcase[i].label, acc_rate(&B.a[k]) / MIB, idle_secs > 0 ? secs / idle_secs : 0, wr, al > 0 ? wr / al : 0,
             p99, p99al > 0 ? p99 / p99al : 0, kid[k], al, p99al);
    }
    printf("  (the disk alone: ese-disk-bench below prints a durable committer against a plain reader per read size)\n");
  }
  fflush(stdout);

  /* ---- restore ---- */
  acc ar = { 0 }, ac = { 0 };
  int verified_idle = -1, verified_load = -1;
  if (any_restore && B.have_set_idle) {
    printf("\nC. restore of an idle set (%.1f MiB) into a new folder\n", (double)(B.ese_db_bytes + B.ese_log_bytes) / B.ese_runs / MIB);
    char dst[4300];
    for (int round = 0; round < rounds; round++)
      for (int j = 0; j < 2; j++) {
        int which = (round + j) % 2;
        new_dir(dst, sizeof dst, "restore-dst");
        drop_dir_cache(B.set_idle);
        double t0 = now_s();
        if (which == 0) {
          CK(JetRestoreInstance(0, B.set_idle, dst, NULL));
          acc_add(&ar, 1, now_s() - t0);
        } else {
          DIR *d = opendir(B.set_idle);
          if (!d) die(B.set_idle);
          struct dirent *de;
          char s[4400], o[4400];
          while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.') continue;
            join(s, sizeof s, B.set_idle, de->d_name);
            join(o, sizeof o, dst, de->d_name);
            copy_file(s, o);
          }
          closedir(d);
          sync_dir(dst);
          acc_add(&ac, 1, now_s() - t0);
        }
        rm_tree(dst);
      }
    printf("  %-52s %8.2f s  [restore.ese]  rounds %.2f..%.2f s\n", "JetRestoreInstance (copy, verify, replay)",
           ar.secs / ar.rounds, 1 / ar.hi, 1 / ar.lo);
    printf("  %-52s %8.2f s  [restore.copy]  rounds %.2f..%.2f s\n", "plain copy of the set's files", ac.secs / ac.rounds,
           1 / ac.hi, 1 / ac.lo);
    verified_idle = verify_set(&B, B.set_idle, "verify-idle", n, 0);
  }
  if (B.have_set_load) verified_load = verify_set(&B, B.set_load, "verify-load", n, 1);
  if (verified_idle >= 0 || verified_load >= 0) {
    printf("\nchecks (untimed restores)\n");
    if (verified_idle >= 0)
      printf("  idle set restores with the loaded records (sample of 1000): %s\n", verified_idle ? "ok" : "WRONG");
    if (verified_load >= 0)
      printf("  set under load restores with the loaded records, writer commits before GetLogInfo (%" PRIu64
             ") present,\n  none begun after it returned (%" PRIu64 "..%" PRIu64 ") (samples): %s\n",
             B.load_cut_before, B.load_cut_after + 1, B.load_writer_end, verified_load ? "ok" : "WRONG");
  }

  printf("\ntargets                                                  target   value\n");
  int ran_idle = B.a[K_ESE].rounds && B.a[K_RAWCOPY].rounds;
  target("idle: lua-ese backup / raw copy (MiB/s)", ran_idle, acc_rate(&B.a[K_ESE]) / acc_rate(&B.a[K_RAWCOPY]), ">=", 0.9);
  info("idle: lua-ese backup / SQLite backup (MiB/s)", B.a[K_ESE].rounds && B.a[K_SQLITE].rounds,
       acc_rate(&B.a[K_ESE]) / acc_rate(&B.a[K_SQLITE]));
  info("idle, no destination: lua-ese stream / raw pread", B.a[K_ESEMEM].rounds && B.a[K_RAWREAD].rounds,
       acc_rate(&B.a[K_ESEMEM]) / acc_rate(&B.a[K_RAWREAD]));
  int ran_load = B.a[K_ESELOAD].rounds > 0;
  target("load: lua-ese restarts", ran_load, (double)(B.ese_restarts + B.ese_db_opens - B.ese_dbs), "==", 0);
  target("load: lua-ese backup time / idle backup time", ran_load && B.a[K_ESE].rounds,
         (B.a[K_ESELOAD].secs / B.a[K_ESELOAD].rounds) / (B.a[K_ESE].secs / B.a[K_ESE].rounds), "<=", 1.25);
  target("load: lua-ese writer during backup / alone", ran_load && B.a[K_EWRITER].rounds,
         acc_rate(&B.ese_wr_during) / acc_rate(&B.a[K_EWRITER]), ">=", 0.8);
  info("load: lua-ese writer during backup to memory / alone", B.a[K_ESEMEMLOAD].rounds && B.a[K_EWRITER].rounds,
       acc_rate(&B.ese_wr_during_mem) / acc_rate(&B.a[K_EWRITER]));
  info("load: lua-ese writer during raw copy / alone (control)", B.a[K_RAWLOAD].rounds && B.a[K_EWRITER].rounds,
       acc_rate(&B.ese_wr_during_raw) / acc_rate(&B.a[K_EWRITER]));
  info("load, 64 KiB reads: writer during backup / alone", B.a[K_ESELOAD64].rounds && B.a[K_EWRITER].rounds,
       acc_rate(&B.ese_wr_during64) / acc_rate(&B.a[K_EWRITER]));
  info("load, 64 KiB reads: backup time / its idle time", B.a[K_ESELOAD64].rounds && B.a[K_ESE64].rounds,
       (B.a[K_ESELOAD64].secs / B.a[K_ESELOAD64].rounds) / (B.a[K_ESE64].secs / B.a[K_ESE64].rounds));
  info("idle, 64 KiB reads / 1 MiB reads (MiB/s)", B.a[K_ESE64].rounds && B.a[K_ESE].rounds,
       acc_rate(&B.a[K_ESE64]) / acc_rate(&B.a[K_ESE]));
  info("load: SQLite step(100) restarts", B.sq_runs > 0, B.sq_restarts);
  info("load: SQLite writer during step(100) / alone", B.sq_runs > 0 && B.a[K_SWRITER].rounds,
       acc_rate(&B.sq_wr_during_step) / acc_rate(&B.a[K_SWRITER]));
  info("load: SQLite step(-1) time / idle time", B.a[K_SQALL].rounds && B.a[K_SQLITE].rounds,
       (B.a[K_SQALL].secs / B.a[K_SQALL].rounds) / (B.a[K_SQLITE].secs / B.a[K_SQLITE].rounds));
  info("load: SQLite writer during step(-1) / alone", B.a[K_SQALL].rounds && B.a[K_SWRITER].rounds,
       acc_rate(&B.sq_wr_during_all) / acc_rate(&B.a[K_SWRITER]));
  if (ran_pace) {
    target("pace: max_rate 50%, idle: rate held / max_rate", B.a[K_PRATEIDLE].rounds > 0,
           acc_rate(&B.a[K_PRATEIDLE]) / (0.5 * B.idle_rate), ">=", 0.9);
    target("pace: max_rate 50%, idle: rate held / max_rate", B.a[K_PRATEIDLE].rounds > 0,
           acc_rate(&B.a[K_PRATEIDLE]) / (0.5 * B.idle_rate), "<=", 1.1);
    target("pace: max_rate 50%, load: rate held / max_rate", B.a[K_PRATE50].rounds > 0,
           acc_rate(&B.a[K_PRATE50]) / (0.5 * B.idle_rate), "<=", 1.1);
    double al_auto = acc_rate(&B.pace_alone[K_PAUTO - K_P0]);
    double p99al_auto = B.hist_alone[K_PAUTO] ? hist_quantile(B.hist_alone[K_PAUTO], 0.99) : 0;
    int ran_auto = B.a[K_PAUTO].rounds > 0 && al_auto > 0 && idle_secs > 0;
    target("pace auto: writer during backup / alone", ran_auto, acc_rate(&B.pace_wr[K_PAUTO - K_P0]) / al_auto, ">=", 0.8);
    target("pace auto: writer p99 during backup / alone", ran_auto && p99al_auto > 0,
           hist_quantile(B.hist[K_PAUTO], 0.99) / p99al_auto, "<=", 3);
    target("pace auto: backup time / idle backup time", ran_auto, (B.a[K_PAUTO].secs / B.a[K_PAUTO].rounds) / idle_secs,
           "<=", 4);
    info("pace auto: writer during backup / alone in rounds of its own", B.a[K_PAUTO].rounds && alone > 0,
         acc_rate(&B.pace_wr[K_PAUTO - K_P0]) / alone);
    info("pace auto, set into memory: writer during backup / alone",
         B.a[K_PAUTOMEM].rounds && acc_rate(&B.pace_alone[K_PAUTOMEM - K_P0]) > 0,
         acc_rate(&B.pace_wr[K_PAUTOMEM - K_P0]) / acc_rate(&B.pace_alone[K_PAUTOMEM - K_P0]));
    info("pace auto, set into memory: backup time / idle backup time", B.a[K_PAUTOMEM].rounds && idle_secs > 0,
         (B.a[K_PAUTOMEM].secs / B.a[K_PAUTOMEM].rounds) / idle_secs);
    info("pace none: writer during backup / alone", B.a[K_PNONE].rounds && acc_rate(&B.pace_alone[0]) > 0,
         acc_rate(&B.pace_wr[0]) / acc_rate(&B.pace_alone[0]));
    info("pace none: writer p99 during backup / alone", B.a[K_PNONE].rounds && B.hist_alone[K_PNONE],
         B.hist_alone[K_PNONE] ? hist_quantile(B.hist[K_PNONE], 0.99) / hist_quantile(B.hist_alone[K_PNONE], 0.99) : 0);
  }
  info("restore: JetRestoreInstance time / plain copy time", ar.rounds && ac.rounds,
       (ar.secs / ar.rounds) / (ac.secs / ac.rounds));
  if (verified_idle == 0 || verified_load == 0) nfail++;
  printf("\n%d targets passed, %d failed  (rounds %.1f s)\n", npass, nfail, t_rounds);

  if (any_ese) {
    writer_quit(&B.ew);
    ese_close(&B.v);
  }
  if (any_sq) writer_quit(&B.sw);
  bench_remove_root();
  for (int k = 0; k < K_N; k++) {
    free(B.hist[k]);
    free(B.hist_alone[k]);
  }
  free(g_buf);
  return bench_exit_status();
}
