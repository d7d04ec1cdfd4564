/*
 * ese_bench.c -- lua-ese against SQLite and the raw fsync rate of the disk.
 *
 *   A. Bulk load: N records (default 1,000,000; 16-byte keys, 100-byte
 *      values) in transactions of 10,000, keys in sequential order and in a
 *      reproducible pseudo-random order; lua-ese vs SQLite (WAL,
 *      synchronous=NORMAL and, as a second line, synchronous=FULL).
 *   B. Durable single-record commits for a few seconds each: lua-ese with
 *      one thread and with two threads (group commit), SQLite WAL
 *      synchronous=FULL, and the raw rate of a loop of 4 KiB pwrite +
 *      fdatasync on a preallocated file in the same folder.
 *
 * Environment:
 *   BENCH_DIR      parent folder of the run's temporary folder (default /tmp)
 *   BENCH_RECORDS  records of the bulk loads (default 1000000)
 *   BENCH_SECONDS  seconds per commit test (default 3)
 *   BENCH_ONLY     comma-separated case ids or prefixes, e.g. "bulk.ese",
 *                  "commit.ese2,commit.raw" (the ids are printed per line);
 *                  bulk.sqlitefull.rand (SQLite FULL, random keys: about
 *                  as slow as NORMAL, ~30 s) runs only when named here
 *   BENCH_KEEP     1: keep the temporary folder
 *   BENCH_STRICT   1: exit 1 when a target fails
 */
#include "bench_common.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <dirent.h>

#define RAW_FILE_SIZE (64u << 20)
#define RAW_BLOCK 4096

/* Cases that run only when BENCH_ONLY names them (or a prefix at least as
 * long as "bulk.sqlitefull"), to keep the default run short. */
static int want_explicit(const char *id) {
  if (!g_only || !*g_only) return 0;
  const char *p = g_only;
  while (*p) {
    size_t n = strcspn(p, ",");
    if (n >= strlen("bulk.sqlitefull") && strncmp(id, p, n) == 0 && (id[n] == 0 || id[n] == '.')) return 1;
    p += n;
    if (*p == ',') p++;
  }
  return 0;
}

static int count_logs(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t l = strlen(de->d_name);
    if (l >= 7 && strncmp(de->d_name, "edb", 3) == 0 && strcmp(de->d_name + l - 4, ".log") == 0) n++;
  }
  closedir(d);
  return n;
}

/* ---- lua-ese -------------------------------------------------------------- */
static void ese_open(ese_env *v, const char *name) {
  new_dir(v->dir, sizeof v->dir, name);
  join(v->path, sizeof v->path, v->dir, "bench.edb");
  ese_create(v, name);
}

/* Clean shutdown; returns its duration. */
static double ese_close_timed(ese_env *v) {
  double t0 = now_s();
  ese_close(v);
  return now_s() - t0;
}

typedef struct result {
  double rate, secs, close_secs;
  double lo, hi;          /* slowest and fastest round (part B) */
  uint64_t count;
  int logs;
  int ran;
} result;

static result bulk_ese(uint64_t n, int random) {
  ese_env v;
  result r = { .ran = 1 };
  ese_open(&v, random ? "bulk-ese-rand" : "bulk-ese-seq");
  uint8_t k[KEY_LEN], val[VAL_LEN];
  r.secs = ese_bulk_put(&v, n, random);   /* durable: fsync at every commit */
  r.rate = (double)n / r.secs;
  /* untimed check: a sample of the keys reads back with its value */
  for (uint64_t i = 0; i < n; i += n / 1000 ? n / 1000 : 1) {
    uint8_t got[VAL_LEN];
    size_t cb;
    make_key(k, i, random);
    make_value(val, i);
    CK(EseSeek(v.s, v.t, k, KEY_LEN, JET_bitSeekEQ));
    CK(EseRetrieveValue(v.s, v.t, got, sizeof got, &cb));
    if (cb != VAL_LEN || memcmp(got, val, VAL_LEN)) { fprintf(stderr, "bulk_ese: record %" PRIu64 " wrong\n", i); exit(1); }
  }
  r.logs = count_logs(v.dir);
  r.close_secs = ese_close_timed(&v);
  rm_tree(v.dir);
  return r;
}

/* ---- SQLite ------------------------------------------------------------------ */
static result bulk_sqlite(uint64_t n, int random, const char *sync) {
  char dir[4200], name[64];
  result r = { .ran = 1 };
  snprintf(name, sizeof name, "bulk-sqlite-%s-%s", sync, random ? "rand" : "seq");
  new_dir(dir, sizeof dir, name);
  sqlite3 *db = sq_open(dir, sync);
  sqlite3_stmt *ins, *begin, *commit;
  sq_prepare_put(db, "BEGIN", &ins, &begin, &commit);
  uint8_t k[KEY_LEN], val[VAL_LEN];
  double t0 = now_s();
  for (uint64_t i = 0; i < n;) {
    sq_check(db, sqlite3_step(begin), "BEGIN");
    sqlite3_reset(begin);
    for (uint64_t j = 0; j < TXN_SIZE && i < n; j++, i++) {
      make_key(k, i, random);
      make_value(val, i);
      sq_insert(db, ins, k, val);
    }
    sq_check(db, sqlite3_step(commit), "COMMIT");
    sqlite3_reset(commit);
  }
  r.secs = now_s() - t0;
  r.rate = (double)n / r.secs;
  sqlite3_stmt *cnt;
  sq_check(db, sqlite3_prepare_v2(db, "SELECT count(*) FROM kv", -1, &cnt, NULL), "prepare");
  sq_check(db, sqlite3_step(cnt), "count");
  if ((uint64_t)sqlite3_column_int64(cnt, 0) != n) { fprintf(stderr, "bulk_sqlite: count wrong\n"); exit(1); }
  sqlite3_finalize(cnt);
  sqlite3_finalize(ins);
  sqlite3_finalize(begin);
  sqlite3_finalize(commit);
  double t1 = now_s();
  sq_check(db, sqlite3_close(db), "close");   /* checkpoints the WAL into the database */
  r.close_secs = now_s() - t1;
  rm_tree(dir);
  return r;
}

/* ---- durable single-record commits -------------------------------------
 * The disk's fsync latency drifts (other processes, the host), so the four
 * cases run interleaved: ROUNDS rounds of secs/ROUNDS seconds each, the
 * order rotating every round, every case's files kept open between its
 * rounds.  A case's rate is its commits over its time summed over rounds. */
#define ROUNDS 12

typedef struct ctx_ese {
  ese_env v;
  int nthreads;
  uint64_t seq;          /* keys used so far per thread */
} ctx_ese;

typedef struct cthread {
  ctx_ese *c;
  int id;
  double secs;
  pthread_barrier_t *bar;
  uint64_t n;
  double t_start, t_end;
} cthread;

static void *ese_commit_thread(void *arg) {
  cthread *c = arg;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  CK(JetBeginSession(c->c->v.inst, &s, NULL, NULL));
  CK(JetOpenDatabase(s, c->c->v.path, NULL, &db, 0));
  CK(EseOpenTable(s, db, "kv", &t));
  uint8_t k[KEY_LEN], val[VAL_LEN];
  pthread_barrier_wait(c->bar);
  c->t_start = now_s();
  double deadline = c->t_start + c->secs;
  uint64_t i = c->c->seq;
  do {
    uint64_t id = ((uint64_t)c->id << 40) | i;
    make_key(k, id, 1);
    make_value(val, id);
    ese_put_durable(s, t, k, val);
    i++;
  } while ((c->t_end = now_s()) < deadline);
  c->n = i - c->c->seq;
  CK(EseCloseTable(s, t));
  CK(JetCloseDatabase(s, db, 0));
  CK(JetEndSession(s, 0));
  return NULL;
}

static void commit_ese_round(ctx_ese *c, double secs, result *r) {
  pthread_barrier_t bar;
  pthread_barrier_init(&bar, NULL, (unsigned)c->nthreads);
  cthread th[8];
  pthread_t tid[8];
  for (int i = 0; i < c->nthreads; i++) {
    th[i] = (cthread){ .c = c, .id = i + 1, .secs = secs, .bar = &bar };
    pthread_create(&tid[i], NULL, ese_commit_thread, &th[i]);
  }
  uint64_t total = 0, most = 0;
  double t0 = 1e300, t1 = 0;
  for (int i = 0; i < c->nthreads; i++) {
    pthread_join(tid[i], NULL);
    total += th[i].n;
    if (th[i].n > most) most = th[i].n;
    if (th[i].t_start < t0) t0 = th[i].t_start;
    if (th[i].t_end > t1) t1 = th[i].t_end;
  }
  c->seq += most;
  pthread_barrier_destroy(&bar);
  r->count += total;
  r->secs += t1 - t0;
}

typedef struct ctx_sqlite {
  char dir[4200];
  sqlite3 *db;
  sqlite3_stmt *ins, *begin, *commit;
  uint64_t seq;
} ctx_sqlite;

static void commit_sqlite_round(ctx_sqlite *c, double secs, result *r) {
  uint8_t k[KEY_LEN], val[VAL_LEN];
  double t0 = now_s(), t1, deadline = t0 + secs;
  uint64_t i = 0;
  do {
    uint64_t id = (1ull << 40) | (c->seq + i);
    make_key(k, id, 1);
    make_value(val, id);
    sq_put_txn(c->db, c->ins, c->begin, c->commit, k, val);
    i++;
  } while ((t1 = now_s()) < deadline);
  c->seq += i;
  r->count += i;
  r->secs += t1 - t0;
}

/* pwrite + fdatasync in a loop, sequential through one file.  The target
 * case ("raw"): 4 KiB blocks at 4 KiB-aligned offsets of a file written in
 * full (not sparse) and synced beforehand.  The informational case
 * ("rawese"): what one lua-ese single-record commit writes -- an LR_PAGE
 * record with an 8 KiB page image plus an LR_COMMIT record, RAWESE_BLOCK
 * bytes at 8-byte-aligned offsets -- into a sparse file (ftruncate), as
 * lua-ese's log files are made. */
#define RAWESE_BLOCK 8248   /* framed LR_PAGE (12 + 16 + 8192 -> 8224) + LR_COMMIT (12 + 12 -> 24) */
#define RAWESE_FILE_SIZE (256u << 20)

typedef struct ctx_raw {
  char dir[4200];
  int fd;
  int ese_shape;
  uint64_t pos;          /* next write offset */
} ctx_raw;

static void raw_open(ctx_raw *c, const char *name, int ese_shape) {
  char path[4300];
  c->ese_shape = ese_shape;
  new_dir(c->dir, sizeof c->dir, name);
  snprintf(path, sizeof path, "%s/raw.dat", c->dir);
  c->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (c->fd < 0) { perror(path); exit(1); }
  if (ese_shape) {
    if (ftruncate(c->fd, RAWESE_FILE_SIZE) != 0) { perror("ftruncate"); exit(1); }
    c->pos = 4096;       /* after a log file header */
  } else {
    static uint8_t chunk[1 << 20];
    for (uint32_t off = 0; off < RAW_FILE_SIZE; off += sizeof chunk)
      if (pwrite(c->fd, chunk, sizeof chunk, off) != (ssize_t)sizeof chunk) { perror("pwrite"); exit(1); }
  }
  if (fsync(c->fd) != 0) { perror("fsync"); exit(1); }
}

static void commit_raw_round(ctx_raw *c, double secs, result *r) {
  static uint8_t block[RAWESE_BLOCK];
  size_t n = c->ese_shape ? RAWESE_BLOCK : RAW_BLOCK;
  uint64_t size = c->ese_shape ? RAWESE_FILE_SIZE : RAW_FILE_SIZE;
  memset(block, 'x', sizeof block);
  double t0 = now_s(), t1, deadline = t0 + secs;
  uint64_t i = 0;
  do {
    if (c->pos + n > size) c->pos = c->ese_shape ? 4096 : 0;
    if (pwrite(c->fd, block, n, (off_t)c->pos) != (ssize_t)n) { perror("pwrite"); exit(1); }
    if (fdatasync(c->fd) != 0) { perror("fdatasync"); exit(1); }
    c->pos += n;
    i++;
  } while ((t1 = now_s()) < deadline);
  r->count += i;
  r->secs += t1 - t0;
}

static void round_minmax(result *r, uint64_t count0, double secs0) {
  double rate = (double)(r->count - count0) / (r->secs - secs0);
  if (r->lo == 0 || rate < r->lo) r->lo = rate;
  if (rate > r->hi) r->hi = rate;
}

/* Part B's cases, run interleaved. */
enum { C_RAW, C_RAWESE, C_ESE1, C_ESE2, C_SQLITE, C_N };

static void commit_all(double secs, const int *sel, result *res) {
  ctx_raw cr = { .fd = -1 }, cre = { .fd = -1 };
  ctx_ese c1 = { .nthreads = 1 }, c2 = { .nthreads = 2 };
  ctx_sqlite cs = { 0 };
  if (sel[C_RAW]) raw_open(&cr, "commit-raw", 0);
  if (sel[C_RAWESE]) raw_open(&cre, "commit-rawese", 1);
  if (sel[C_ESE1]) ese_open(&c1.v, "commit-ese1");
  if (sel[C_ESE2]) ese_open(&c2.v, "commit-ese2");
  if (sel[C_SQLITE]) {
    new_dir(cs.dir, sizeof cs.dir, "commit-sqlite");
    cs.db = sq_open(cs.dir, "FULL");
    sq_prepare_put(cs.db, "BEGIN", &cs.ins, &cs.begin, &cs.commit);
  }
  double slice = secs / ROUNDS;
  for (int round = 0; round < ROUNDS; round++) {
    for (int j = 0; j < C_N; j++) {
      int which = (round + j) % C_N;
      if (!sel[which]) continue;
      result *r = &res[which];
      uint64_t c0 = r->count;
      double s0 = r->secs;
      switch (which) {
      case C_RAW: commit_raw_round(&cr, slice, r); break;
      case C_RAWESE: commit_raw_round(&cre, slice, r); break;
      case C_ESE1: commit_ese_round(&c1, slice, r); break;
      case C_ESE2: commit_ese_round(&c2, slice, r); break;
      default: commit_sqlite_round(&cs, slice, r); break;
      }
      round_minmax(r, c0, s0);
      r->ran = 1;
    }
  }
  ctx_raw *raws[2] = { sel[C_RAW] ? &cr : NULL, sel[C_RAWESE] ? &cre : NULL };
  for (int i = 0; i < 2; i++)
    if (raws[i]) { close(raws[i]->fd); rm_tree(raws[i]->dir); }
  ctx_ese *ce[2] = { sel[C_ESE1] ? &c1 : NULL, sel[C_ESE2] ? &c2 : NULL };
  result *re[2] = { &res[C_ESE1], &res[C_ESE2] };
  for (int i = 0; i < 2; i++) {
    if (!ce[i]) continue;
    re[i]->logs = count_logs(ce[i]->v.dir);
    re[i]->close_secs = ese_close_timed(&ce[i]->v);
    rm_tree(ce[i]->v.dir);
  }
  if (sel[C_SQLITE]) {
    sqlite3_finalize(cs.ins);
    sqlite3_finalize(cs.begin);
    sqlite3_finalize(cs.commit);
    double t0 = now_s();
    sq_check(cs.db, sqlite3_close(cs.db), "close");
    res[C_SQLITE].close_secs = now_s() - t0;
    rm_tree(cs.dir);
  }
  for (int i = 0; i < C_N; i++)
    if (res[i].ran) res[i].rate = (double)res[i].count / res[i].secs;
}

/* ---- report ---------------------------------------------------------------- */
static void line(const char *id, const char *label, const result *r, const char *unit) {
  if (!r->ran) return;
  printf("  %-50s %12.0f %s  %7.2f s", label, r->rate, unit, r->secs);
  if (r->close_secs > 0) printf("  close %6.2f s", r->close_secs);
  else printf("  %14s", "");
  if (r->logs) printf("  logs %4d", r->logs);
  else printf("  %9s", "");
  printf("  [%s]", id);
  if (r->hi > 0) printf("  rounds %.0f..%.0f", r->lo, r->hi);
  printf("\n");
  fflush(stdout);
}

static void target(const char *label, const result *a, const result *b, double min, int strict) {
  if (!a->ran || !b->ran) return;
  double ratio = a->rate / b->rate;
  target_row(50, label, strict ? "> " : ">=", min, ratio, strict ? ratio > min : ratio >= min);
}

static void info(const char *label, const result *a, const result *b) {
  if (!a->ran || !b->ran) return;
  info_row(50, label, a->rate / b->rate);
}

int main(void) {
  const char *recs = getenv("BENCH_RECORDS");
  const char *secs_s = getenv("BENCH_SECONDS");
  g_only = getenv("BENCH_ONLY");
  uint64_t n = recs && *recs ? strtoull(recs, NULL, 10) : 1000000;
  double secs = secs_s && *secs_s ? strtod(secs_s, NULL) : 3.0;
  if (n == 0 || secs <= 0) { fprintf(stderr, "bench: bad BENCH_RECORDS or BENCH_SECONDS\n"); return 2; }
  if (bench_make_root("ese-bench") != 0) return 2;

  printf("lua-ese benchmark  (sqlite %s, folder %s)\n", sqlite3_libversion(), g_root);
  printf("  data: %" PRIu64 " records, %d-byte keys (16 hex digits of i, or of a bijective 64-bit hash of i\n"
         "        for the random order), %d-byte values; bulk transactions of %d records\n",
         n, KEY_LEN, VAL_LEN, TXN_SIZE);
  printf("  lua-ese: page %d B, JET_paramCacheSizeMax %d pages (%d MiB), log files %d KiB,\n"
         "           circular logging off, JetCommitTransaction(grbit 0) = durable (fdatasync) commit\n",
         PAGE_SIZE, CACHE_PAGES, CACHE_PAGES / 128, LOG_FILE_KIB);
  printf("  SQLite:  journal_mode=WAL, cache_size=-%d (%d MiB), page size 4096 (default),\n"
         "           wal_autocheckpoint 1000 (default), table kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID,\n"
         "           prepared INSERT, explicit BEGIN/COMMIT; synchronous=NORMAL (WAL synced at\n"
         "           checkpoints only) or FULL (WAL synced at every commit)\n",
         SQLITE_CACHE_KIB, SQLITE_CACHE_KIB / 1024);
  printf("  times exclude opening and the clean close (shown as 'close'); 'logs' = lua-ese log files kept\n\n");

  result r_ese_seq = {0}, r_ese_rnd = {0}, r_sqn_seq = {0}, r_sqn_rnd = {0}, r_sqf_seq = {0}, r_sqf_rnd = {0};
  result r_raw = {0}, r_ese1 = {0}, r_ese2 = {0}, r_sqc = {0};

  printf("A. bulk load, %" PRIu64 " records in transactions of %d          records/s\n", n, TXN_SIZE);
  if (want("bulk.ese.seq")) { r_ese_seq = bulk_ese(n, 0); line("bulk.ese.seq", "lua-ese, sequential keys", &r_ese_seq, "rec/s"); }
  if (want("bulk.sqlite.seq")) { r_sqn_seq = bulk_sqlite(n, 0, "NORMAL"); line("bulk.sqlite.seq", "SQLite WAL NORMAL, sequential keys", &r_sqn_seq, "rec/s"); }
  if (want("bulk.sqlitefull.seq")) { r_sqf_seq = bulk_sqlite(n, 0, "FULL"); line("bulk.sqlitefull.seq", "SQLite WAL FULL, sequential keys", &r_sqf_seq, "rec/s"); }
  if (want("bulk.ese.rand")) { r_ese_rnd = bulk_ese(n, 1); line("bulk.ese.rand", "lua-ese, random keys", &r_ese_rnd, "rec/s"); }
  if (want("bulk.sqlite.rand")) { r_sqn_rnd = bulk_sqlite(n, 1, "NORMAL"); line("bulk.sqlite.rand", "SQLite WAL NORMAL, random keys", &r_sqn_rnd, "rec/s"); }
  if (want_explicit("bulk.sqlitefull.rand")) {
    r_sqf_rnd = bulk_sqlite(n, 1, "FULL");
    line("bulk.sqlitefull.rand", "SQLite WAL FULL, random keys", &r_sqf_rnd, "rec/s");
  } else if (want("bulk.sqlitefull.rand")) {
    printf("  %-50s %12s  (skipped to keep the run short; BENCH_ONLY=bulk.sqlitefull.rand runs it)\n",
           "SQLite WAL FULL, random keys", "-");
  }

  printf("\nB. durable single-record commits, %.1f s each, as %d interleaved rounds    commits/s\n", secs, ROUNDS);
  static const char *const cid[C_N] = { "commit.raw", "commit.rawese", "commit.ese1", "commit.ese2", "commit.sqlite" };
  static const char *const clabel[C_N] = { "raw 4 KiB pwrite + fdatasync (the target's base)",
                                           "raw, lua-ese's log shape: 8248 B, sparse (info)",
                                           "lua-ese, 1 thread", "lua-ese, 2 threads (group commit)",
                                           "SQLite WAL FULL, 1 thread" };
  int sel[C_N];
  result cres[C_N];
  memset(cres, 0, sizeof cres);
  for (int i = 0; i < C_N; i++) sel[i] = want(cid[i]);
  commit_all(secs, sel, cres);
  for (int i = 0; i < C_N; i++) line(cid[i], clabel[i], &cres[i], "/s   ");
  r_raw = cres[C_RAW];
  r_ese1 = cres[C_ESE1];
  r_ese2 = cres[C_ESE2];
  r_sqc = cres[C_SQLITE];
  printf("\ntargets                                         target   ratio\n");
  target("bulk seq:  lua-ese / SQLite NORMAL", &r_ese_seq, &r_sqn_seq, 1.0, 0);
  target("bulk rand: lua-ese / SQLite NORMAL", &r_ese_rnd, &r_sqn_rnd, 1.0, 0);
  info("bulk seq:  lua-ese / SQLite FULL", &r_ese_seq, &r_sqf_seq);
  info("bulk rand: lua-ese / SQLite FULL", &r_ese_rnd, &r_sqf_rnd);
  target("commit: lua-ese 1 thread / raw fsync", &r_ese1, &r_raw, 0.9, 0);
  target("commit: lua-ese 2 threads / raw fsync", &r_ese2, &r_raw, 1.0, 1);
  info("commit: lua-ese 1 thread / SQLite FULL", &r_ese1, &r_sqc);
  info("commit: lua-ese 2 threads / SQLite FULL", &r_ese2, &r_sqc);
  info("commit: lua-ese 1 thread / raw in its log shape", &r_ese1, &cres[C_RAWESE]);
  printf("\n%d targets passed, %d failed\n", npass, nfail);

  bench_remove_root();
  return bench_exit_status();
}
