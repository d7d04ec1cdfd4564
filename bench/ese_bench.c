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
 *   C. Bulk load through the Lua API: N random records (values pooled:
 *      record i has value i % 1024 of part A) in durable transactions of
 *      10,000, by bench/ese_bench.lua run in lua5.4 against the build's
 *      module (t:put per record, 256 MiB cache, the default 1 MiB log
 *      files; and, as information, 16 MiB log files as in part A), against
 *      LMDB (C, default flags: every commit synced) and SQLite (C, WAL,
 *      synchronous=FULL) loading the same records.
 *   D. Log written per durable single-record commit, from Lua (1 MiB log
 *      files, a fresh log stream with the loaded database attached):
 *      - 10,000 inserts of new random 116-byte records into the N-record
 *        table of part C;
 *      - the mixed workload: a full backup.run of a table of 100,000 (and
 *        of N) records, then 10,000 commits cycling insert of a new
 *        random key (100-byte value) / replace of an existing key (a
 *        value of 50..150 bytes) / delete of an existing key; then an
 *        incremental backup.run, whose files' sizes are summed.
 *      Log bytes are measured on the log files themselves: the end of
 *      the records in each generation file (see bench/ese_bench.lua).
 *   E. Full scan of part C's N records from Lua (for k, v in t:pairs(), the
 *      cache warm: best of 3 after an untimed scan) against LMDB's cursor
 *      scan in C of the same records; target: at least 2 M records/s.
 *
 * Environment:
 *   BENCH_DIR      parent folder of the run's temporary folder (default /tmp)
 *   BENCH_RECORDS  records of the bulk loads (default 1000000)
 *   BENCH_SECONDS  seconds per commit test (default 3)
 *   BENCH_ROUNDS   interleaved rounds those seconds are cut into (default
 *                  12, at most 1000); more rounds pair the cases closer in
 *                  time when the disk's latency drifts
 *   BENCH_ONLY     comma-separated case ids or prefixes, e.g. "bulk.ese",
 *                  "commit.ese2,commit.raw" (the ids are printed per line);
 *                  bulk.sqlitefull.rand (SQLite FULL, random keys: about
 *                  as slow as NORMAL, ~30 s) runs only when named here
 *   BENCH_MIXED_1M 0: leave out the mixed workload on the N-record table
 *                  (log.mixed1m, about 10 s with its full backup)
 *   BENCH_LUA      the Lua 5.4 interpreter of part C and D (default lua5.4)
 *   BENCH_KEEP     1: keep the temporary folder
 *   BENCH_STRICT   1: exit 1 when a target fails
 */
#include "bench_common.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <dirent.h>
#include <lmdb.h>
#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

#define RAW_FILE_SIZE (64u << 20)
#define MIXED_SMALL 100000       /* records of log.mixed's table */
#define MIXED_MAX_BYTES 300.0    /* targets of part D */
#define INCR_MAX_MIB 3.0
#define COMMIT_MAX_BYTES 512.0
#define RAW_BLOCK 4096
#define SCAN_MIN_MRPS 2.0        /* part E: full scan from Lua, million records/s */

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
/* pool: 0, or values make_value(i % pool) (part C's records). */
static result bulk_sqlite(uint64_t n, int random, const char *sync, uint64_t pool) {
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
      make_value(val, pool ? i % pool : i);
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

/* ---- LMDB ----------------------------------------------------------------------
 * Default flags: no MDB_NOSYNC, MDB_NOMETASYNC or MDB_WRITEMAP, so every
 * mdb_txn_commit syncs the data and the meta page before it returns (a
 * durable commit, as lua-ese's and SQLite FULL's). */
#define LMDB_MAP_SIZE ((size_t)8 << 30)   /* address space only: the file grows as needed */

static void lk(int rc, const char *what) {
  if (rc != MDB_SUCCESS) { fprintf(stderr, "lmdb: %s: %s\n", what, mdb_strerror(rc)); exit(1); }
}

/* Part E's peer: full cursor scans (MDB_FIRST, then MDB_NEXT) of the n
 * records in one read transaction, one untimed to warm the cache, then
 * SCAN_ROUNDS timed: the best rate, in *r. */
#define SCAN_ROUNDS 3
static void scan_lmdb(MDB_env *env, MDB_dbi dbi, uint64_t n, result *r) {
  *r = (result){ .ran = 1 };
  for (int round = 0; round <= SCAN_ROUNDS; round++) {
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val mk, mv;
    uint64_t seen = 0, bytes = 0;
    lk(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "txn_begin");
    lk(mdb_cursor_open(txn, dbi, &cur), "cursor_open");
    double t0 = now_s();
    for (int rc = mdb_cursor_get(cur, &mk, &mv, MDB_FIRST); rc == MDB_SUCCESS; rc = mdb_cursor_get(cur, &mk, &mv, MDB_NEXT)) {
      seen++;
      bytes += mk.mv_size + mv.mv_size;   /* touch both, as the Lua scan gets both */
    }
    double secs = now_s() - t0;
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (seen != n || bytes != n * (KEY_LEN + VAL_LEN)) { fprintf(stderr, "scan_lmdb: %" PRIu64 " records\n", seen); exit(1); }
    if (round > 0 && (r->secs == 0 || secs < r->secs)) r->secs = secs;
  }
  r->rate = (double)n / r->secs;
}

/* Part C's records 0..n-1 (random keys, pooled values) in durable
 * transactions of TXN_SIZE; scan: when not NULL, part E's scan of them. */
static result bulk_lmdb(uint64_t n, result *scan) {
  char dir[4200];
  result r = { .ran = 1 };
  new_dir(dir, sizeof dir, "bulk-lmdb");
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi;
  lk(mdb_env_create(&env), "env_create");
  lk(mdb_env_set_mapsize(env, LMDB_MAP_SIZE), "set_mapsize");
  lk(mdb_env_open(env, dir, 0, 0600), "env_open");
  lk(mdb_txn_begin(env, NULL, 0, &txn), "txn_begin");
  lk(mdb_dbi_open(txn, NULL, 0, &dbi), "dbi_open");
  lk(mdb_txn_commit(txn), "txn_commit");
  uint8_t k[KEY_LEN], val[VAL_LEN];
  MDB_val mk = { KEY_LEN, k }, mv = { VAL_LEN, val };
  double t0 = now_s();
  for (uint64_t i = 0; i < n;) {
    lk(mdb_txn_begin(env, NULL, 0, &txn), "txn_begin");
    for (uint64_t j = 0; j < TXN_SIZE && i < n; j++, i++) {
      make_key(k, i, 1);
      make_value(val, i % VALUE_POOL);
      mk = (MDB_val){ KEY_LEN, k };
      mv = (MDB_val){ VAL_LEN, val };
      lk(mdb_put(txn, dbi, &mk, &mv, 0), "put");
    }
    lk(mdb_txn_commit(txn), "txn_commit");   /* durable */
  }
  r.secs = now_s() - t0;
  r.rate = (double)n / r.secs;
  /* untimed check: the count, and a sample of the keys with their values */
  MDB_stat st;
  lk(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "txn_begin");
  lk(mdb_stat(txn, dbi, &st), "stat");
  if (st.ms_entries != n) { fprintf(stderr, "bulk_lmdb: %zu records, %" PRIu64 " expected\n", st.ms_entries, n); exit(1); }
  for (uint64_t i = 0; i < n; i += n / 1000 ? n / 1000 : 1) {
    make_key(k, i, 1);
    make_value(val, i % VALUE_POOL);
    mk = (MDB_val){ KEY_LEN, k };
    lk(mdb_get(txn, dbi, &mk, &mv), "get");
    if (mv.mv_size != VAL_LEN || memcmp(mv.mv_data, val, VAL_LEN)) { fprintf(stderr, "bulk_lmdb: record %" PRIu64 " wrong\n", i); exit(1); }
  }
  mdb_txn_abort(txn);
  if (scan) scan_lmdb(env, dbi, n, scan);
  double t1 = now_s();
  mdb_env_close(env);
  r.close_secs = now_s() - t1;
  rm_tree(dir);
  return r;
}

/* ---- lua-ese through the Lua API -----------------------------------------------
 * bench/ese_bench.lua run by lua5.4 (BENCH_LUA) against the build's module
 * (BENCH_LIB_DIR, BENCH_LUA_DIR: set by bench/Makefile); it prints
 * "fingerprint <key 12345><value 12345>" and "result NAME VALUE" lines. */
#ifndef BENCH_SRC_DIR
#define BENCH_SRC_DIR "."
#endif
#ifndef BENCH_LIB_DIR
#define BENCH_LIB_DIR "../build/lib"
#endif
#ifndef BENCH_LUA_DIR
#define BENCH_LUA_DIR "../lua"
#endif
#define LUA_RESULTS 16
#define LUA_VERSION_NAME "Lua 5.4 (lua5.4)"

typedef struct lua_results {
  int n;
  char name[LUA_RESULTS][32];
  double value[LUA_RESULTS];
} lua_results;

/* The value of result name, or -1 when the script did not print it. */
static double lua_get(const lua_results *lr, const char *name) {
  for (int i = 0; i < lr->n; i++)
    if (!strcmp(lr->name[i], name)) return lr->value[i];
  return -1;
}

/* Runs the script on a new folder g_root/name with records and the steps
 * (NULL-terminated); exits when it fails or its records differ from ours. */
static lua_results run_lua(const char *name, uint64_t records, const char *const *steps) {
  lua_results lr = { 0 };
  char dir[4200], script[4200], nrec[32];
  const char *lua = getenv("BENCH_LUA");
  if (!lua || !*lua) lua = "lua5.4";
  new_dir(dir, sizeof dir, name);
  join(script, sizeof script, BENCH_SRC_DIR, "ese_bench.lua");
  snprintf(nrec, sizeof nrec, "%" PRIu64, records);
  const char *argv[24] = { lua, script, BENCH_LIB_DIR, BENCH_LUA_DIR, dir, nrec };
  int argc = 6;
  for (int i = 0; steps[i] && argc < 23; i++) argv[argc++] = steps[i];
  argv[argc] = NULL;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) die("pipe2");
  posix_spawn_file_actions_t fa;
  if (posix_spawn_file_actions_init(&fa) != 0 || posix_spawn_file_actions_adddup2(&fa, fds[1], 1) != 0) die("spawn actions");
  pid_t pid;
  int rc = posix_spawnp(&pid, lua, &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) { errno = rc; die(lua); }
  close(fds[1]);
  FILE *f = fdopen(fds[0], "r");
  if (!f) die("fdopen");
  char buf[1024], want_fp[KEY_LEN + VAL_LEN + 1];
  uint8_t k[KEY_LEN], val[VAL_LEN];
  make_key(k, 12345, 1);
  make_value(val, 12345 % VALUE_POOL);
  memcpy(want_fp, k, KEY_LEN);
  memcpy(want_fp + KEY_LEN, val, VAL_LEN);
  want_fp[KEY_LEN + VAL_LEN] = 0;
  int fp_ok = 0;
  while (fgets(buf, sizeof buf, f)) {
    char key[32];
    double v;
    buf[strcspn(buf, "\n")] = 0;
    if (!strncmp(buf, "fingerprint ", 12)) fp_ok = !strcmp(buf + 12, want_fp);
    else if (sscanf(buf, "result %31s %lf", key, &v) == 2 && lr.n < LUA_RESULTS) {
      snprintf(lr.name[lr.n], sizeof lr.name[lr.n], "%s", key);
      lr.value[lr.n++] = v;
    } else fprintf(stderr, "%s: %s\n", name, buf);
  }
  fclose(f);
  int status;
  if (waitpid(pid, &status, 0) != pid) die("waitpid");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || lua_get(&lr, "done") != 1) {
    fprintf(stderr, "bench: %s %s failed (status %d)\n", lua, script, status);
    exit(1);
  }
  if (!fp_ok) { fprintf(stderr, "bench: %s makes other records than the C cases\n", script); exit(1); }
  rm_tree(dir);
  return lr;
}

/* ---- durable single-record commits -------------------------------------
 * The disk's fsync latency drifts (other processes, the host), so the four
 * cases run interleaved: ROUNDS rounds of secs/ROUNDS seconds each, the
 * order rotating every round, every case's files kept open between its
 * rounds.  A case's rate is its commits over its time summed over rounds. */
#define ROUNDS 12          /* BENCH_ROUNDS overrides (g_rounds) */
#define ROUNDS_MAX 1000
static int g_rounds = ROUNDS;
/* Median over the rounds of (1 thread's rate / raw's rate) in the same
 * round: a figure the disk's drift between rounds moves less than the
 * ratio of the sums (0: not run). */
static double g_median_ese1_raw;

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
 * ("rawese"): what one lua-ese single-record commit wrote before log format
 * 4 -- a page image record of 8 KiB plus an LR_COMMIT record, RAWESE_BLOCK
 * bytes at 8-byte-aligned offsets -- into a sparse file (ftruncate), as
 * lua-ese's log files are made. */
#define RAWESE_BLOCK 8264   /* a framed page image (12 + 16 + 8192 -> 8224) + LR_COMMIT of one database (12 + 28 -> 40) */
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
  static double ratio[ROUNDS_MAX];
  int nratio = 0;
  double slice = secs / g_rounds;
  for (int round = 0; round < g_rounds; round++) {
    double rate[C_N] = { 0 };
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
      rate[which] = (double)(r->count - c0) / (r->secs - s0);
      r->ran = 1;
    }
    if (rate[C_RAW] > 0 && rate[C_ESE1] > 0) ratio[nratio++] = rate[C_ESE1] / rate[C_RAW];
  }
  if (nratio) {
    for (int i = 1; i < nratio; i++)   /* insertion sort: a few hundred at most */
      for (int j = i; j > 0 && ratio[j - 1] > ratio[j]; j--) {
        double x = ratio[j];
        ratio[j] = ratio[j - 1];
        ratio[j - 1] = x;
      }
    g_median_ese1_raw = nratio % 2 ? ratio[nratio / 2] : (ratio[nratio / 2 - 1] + ratio[nratio / 2]) / 2;
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
/* Part D: bytes of log per commit, over count commits in secs. */
static void log_line(const char *id, const char *label, double bytes, double count, double secs) {
  printf("  %-50s %8.0f B/commit  %6.0f commits  %6.2f s  [%s]\n", label, bytes, count, secs, id);
  fflush(stdout);
}

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
  const char *rounds_s = getenv("BENCH_ROUNDS");
  if (rounds_s && *rounds_s) g_rounds = atoi(rounds_s);
  if (n == 0 || secs <= 0 || g_rounds < 1 || g_rounds > ROUNDS_MAX) {
    fprintf(stderr, "bench: bad BENCH_RECORDS, BENCH_SECONDS or BENCH_ROUNDS\n");
    return 2;
  }
  if (bench_make_root("ese-bench") != 0) return 2;

  printf("lua-ese benchmark  (sqlite %s, %s, %s, folder %s)\n", sqlite3_libversion(), mdb_version(NULL, NULL, NULL),
         LUA_VERSION_NAME, g_root);
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
  printf("  LMDB:    default flags (each commit syncs data and meta page), the unnamed database,\n"
         "           mdb_put per record\n");
  printf("  times exclude opening and the clean close (shown as 'close'); 'logs' = lua-ese log files kept\n\n");

  result r_ese_seq = {0}, r_ese_rnd = {0}, r_sqn_seq = {0}, r_sqn_rnd = {0}, r_sqf_seq = {0}, r_sqf_rnd = {0};
  result r_raw = {0}, r_ese1 = {0}, r_ese2 = {0}, r_sqc = {0};

  printf("A. bulk load, %" PRIu64 " records in transactions of %d          records/s\n", n, TXN_SIZE);
  if (want("bulk.ese.seq")) { r_ese_seq = bulk_ese(n, 0); line("bulk.ese.seq", "lua-ese, sequential keys", &r_ese_seq, "rec/s"); }
  if (want("bulk.sqlite.seq")) { r_sqn_seq = bulk_sqlite(n, 0, "NORMAL", 0); line("bulk.sqlite.seq", "SQLite WAL NORMAL, sequential keys", &r_sqn_seq, "rec/s"); }
  if (want("bulk.sqlitefull.seq")) { r_sqf_seq = bulk_sqlite(n, 0, "FULL", 0); line("bulk.sqlitefull.seq", "SQLite WAL FULL, sequential keys", &r_sqf_seq, "rec/s"); }
  if (want("bulk.ese.rand")) { r_ese_rnd = bulk_ese(n, 1); line("bulk.ese.rand", "lua-ese, random keys", &r_ese_rnd, "rec/s"); }
  if (want("bulk.sqlite.rand")) { r_sqn_rnd = bulk_sqlite(n, 1, "NORMAL", 0); line("bulk.sqlite.rand", "SQLite WAL NORMAL, random keys", &r_sqn_rnd, "rec/s"); }
  if (want_explicit("bulk.sqlitefull.rand")) {
    r_sqf_rnd = bulk_sqlite(n, 1, "FULL", 0);
    line("bulk.sqlitefull.rand", "SQLite WAL FULL, random keys", &r_sqf_rnd, "rec/s");
  } else if (want("bulk.sqlitefull.rand")) {
    printf("  %-50s %12s  (skipped to keep the run short; BENCH_ONLY=bulk.sqlitefull.rand runs it)\n",
           "SQLite WAL FULL, random keys", "-");
  }

  printf("\nB. durable single-record commits, %.1f s each, as %d interleaved rounds    commits/s\n", secs, g_rounds);
  static const char *const cid[C_N] = { "commit.raw", "commit.rawese", "commit.ese1", "commit.ese2", "commit.sqlite" };
  static const char *const clabel[C_N] = { "raw 4 KiB pwrite + fdatasync (the target's base)",
                                           "raw, lua-ese's log shape: 8264 B, sparse (info)",
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
  /* C and D: lua-ese through the Lua API (bench/ese_bench.lua) */
  const char *m1 = getenv("BENCH_MIXED_1M");
  int mixed1m = !(m1 && !strcmp(m1, "0"));
  result r_lua = {0}, r_lua16 = {0}, r_lmdb = {0}, r_sqp = {0}, r_scan = {0}, r_scan_lmdb = {0};
  lua_results big = {0}, small = {0};
  int big_load = want("lua.bulk"), big_commit = want("log.commit"), big_mixed = mixed1m && want("log.mixed1m");
  int big_scan = want("scan.lua");
  if (big_load || big_commit || big_mixed || big_scan) {
    const char *steps[7] = { "load" };
    int ns = 1;
    if (big_commit || big_mixed || big_scan) steps[ns++] = "reopen";
    if (big_scan) steps[ns++] = "scan:3";
    if (big_commit) steps[ns++] = "commits:10000";
    if (big_mixed) steps[ns++] = "mixed:10000";
    steps[ns] = NULL;
    big = run_lua("lua-big", n, steps);
    r_lua = (result){ .ran = big_load || big_commit || big_mixed, .secs = lua_get(&big, "load_seconds") };
    r_lua.rate = (double)n / r_lua.secs;
    if (big_scan) {
      r_scan = (result){ .ran = 1, .secs = lua_get(&big, "scan_seconds") };
      r_scan.rate = lua_get(&big, "scan_records") / r_scan.secs;
    }
  }
  if (want("lua.lmdb") || want("scan.lmdb")) r_lmdb = bulk_lmdb(n, want("scan.lmdb") ? &r_scan_lmdb : NULL);
  r_lmdb.ran = want("lua.lmdb");
  if (want("lua.sqlitefull")) r_sqp = bulk_sqlite(n, 1, "FULL", VALUE_POOL);
  if (want("lua.bulk16m")) {
    static const char *const steps[] = { "load:16384", NULL };
    lua_results lr = run_lua("lua-bulk16m", n, steps);
    r_lua16 = (result){ .ran = 1, .secs = lua_get(&lr, "load_seconds") };
    r_lua16.rate = (double)n / r_lua16.secs;
  }
  if (want("log.mixed")) {
    static const char *const steps[] = { "load", "reopen", "mixed:10000", NULL };
    small = run_lua("lua-small", MIXED_SMALL, steps);
  }
  printf("\nC. bulk load of %" PRIu64 " random records in transactions of %d, lua-ese through   records/s\n"
         "   the Lua API (cache %d MiB) against C engines; the same records (value i = value i %% %d of A)\n",
         n, TXN_SIZE, CACHE_PAGES / 128, VALUE_POOL);
  line("lua.bulk", "lua-ese from Lua 5.4, 1 MiB log files (default)", &r_lua, "rec/s");
  line("lua.lmdb", "LMDB (C, durable commits)", &r_lmdb, "rec/s");
  line("lua.sqlitefull", "SQLite WAL FULL (C)", &r_sqp, "rec/s");
  line("lua.bulk16m", "lua-ese from Lua 5.4, 16 MiB log files (as A)", &r_lua16, "rec/s");

  printf("\nD. log written per durable single-record commit, lua-ese from Lua, 1 MiB log files\n");
  double commit_b = -1, mixed_b[2] = { -1, -1 }, incr_mib[2] = { -1, -1 };
  if (big_commit) {
    commit_b = lua_get(&big, "commits_log_bytes") / lua_get(&big, "commits_count");
    char label[96];
    snprintf(label, sizeof label, "%" PRIu64 "-record table, new 116-byte records", n);
    log_line("log.commit", label, commit_b, lua_get(&big, "commits_count"), lua_get(&big, "commits_seconds"));
  }
  const lua_results *mres[2] = { small.n ? &small : NULL, big_mixed ? &big : NULL };
  static const char *const mid[2] = { "log.mixed", "log.mixed1m" };
  uint64_t mrec[2] = { MIXED_SMALL, n };
  for (int i = 0; i < 2; i++) {
    if (!mres[i]) continue;
    char label[96];
    snprintf(label, sizeof label, "%" PRIu64 "-record table after a full backup, mixed", mrec[i]);
    mixed_b[i] = lua_get(mres[i], "mixed_log_bytes") / lua_get(mres[i], "mixed_count");
    log_line(mid[i], label, mixed_b[i], lua_get(mres[i], "mixed_count"), lua_get(mres[i], "mixed_seconds"));
    incr_mib[i] = lua_get(mres[i], "mixed_incr_bytes") / 1048576.0;
    printf("    %-64s %8.2f MiB  (log records in it %.2f MiB)\n", "then an incremental backup.run: its files", incr_mib[i],
           lua_get(mres[i], "mixed_incr_log_bytes") / 1048576.0);
  }
  if (!mixed1m) printf("  (the %" PRIu64 "-record mixed case is off: BENCH_MIXED_1M=0)\n", n);

  printf("\nE. full scan of the %" PRIu64 " records of part C, cached (best of %d after a warm-up)   records/s\n", n,
         SCAN_ROUNDS);
  line("scan.lua", "lua-ese from Lua 5.4: for k, v in t:pairs()", &r_scan, "rec/s");
  line("scan.lmdb", "LMDB (C): cursor MDB_FIRST / MDB_NEXT", &r_scan_lmdb, "rec/s");
  printf("\ntargets                                         target   value\n");
  target("bulk seq:  lua-ese / SQLite NORMAL", &r_ese_seq, &r_sqn_seq, 1.0, 0);
  target("bulk rand: lua-ese / SQLite NORMAL", &r_ese_rnd, &r_sqn_rnd, 1.0, 0);
  info("bulk seq:  lua-ese / SQLite FULL", &r_ese_seq, &r_sqf_seq);
  info("bulk rand: lua-ese / SQLite FULL", &r_ese_rnd, &r_sqf_rnd);
  target("commit: lua-ese 1 thread / raw fsync", &r_ese1, &r_raw, 0.9, 0);
  if (g_median_ese1_raw > 0) info_row(50, "commit: the same, median of its rounds' ratios", g_median_ese1_raw);
  target("commit: lua-ese 2 threads / raw fsync", &r_ese2, &r_raw, 1.0, 1);
  info("commit: lua-ese 1 thread / SQLite FULL", &r_ese1, &r_sqc);
  info("commit: lua-ese 2 threads / SQLite FULL", &r_ese2, &r_sqc);
  info("commit: lua-ese 1 thread / raw in its log shape", &r_ese1, &cres[C_RAWESE]);
  target("bulk from Lua: lua-ese / LMDB", &r_lua, &r_lmdb, 1.0, 0);
  target("bulk from Lua: lua-ese / SQLite FULL", &r_lua, &r_sqp, 2.0, 0);
  info("bulk from Lua, 16 MiB log files: / LMDB", &r_lua16, &r_lmdb);
  if (r_scan.ran) target_row_prec(50, "scan from Lua, M records/s", ">=", SCAN_MIN_MRPS, r_scan.rate / 1e6,
                                  r_scan.rate >= SCAN_MIN_MRPS * 1e6, 2);
  info("scan: lua-ese from Lua / LMDB in C", &r_scan, &r_scan_lmdb);
  for (int i = 0; i < 2; i++) {
    char label[96];
    if (mixed_b[i] < 0) continue;
    snprintf(label, sizeof label, "log B per mixed commit, %" PRIu64 " records", mrec[i]);
    target_row_prec(50, label, "<=", MIXED_MAX_BYTES, mixed_b[i], mixed_b[i] <= MIXED_MAX_BYTES, 0);
    snprintf(label, sizeof label, "incremental MiB after them, %" PRIu64 " records", mrec[i]);
    target_row_prec(50, label, "<=", INCR_MAX_MIB, incr_mib[i], incr_mib[i] <= INCR_MAX_MIB, 2);
  }
  if (commit_b >= 0) {
    char label[96];
    snprintf(label, sizeof label, "log B per durable insert, %" PRIu64 " records", n);
    target_row_prec(50, label, "<=", COMMIT_MAX_BYTES, commit_b, commit_b <= COMMIT_MAX_BYTES, 0);
  }
  printf("\n%d targets passed, %d failed\n", npass, nfail);

  bench_remove_root();
  return bench_exit_status();
}
