/*
 * bench_common.h -- what ese_bench.c and backup_bench.c share: the record
 * shape and its generators, the engines' settings and setup, the run's
 * temporary folder, BENCH_ONLY selection and the target rows.
 *
 * Each bench is one translation unit, so everything here is static (inline
 * for the functions); a bench includes this header once.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include "ese.h"
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KEY_LEN 16
#define VAL_LEN 100
#define TXN_SIZE 10000
#define VALUE_POOL 1024        /* part C: record i has value make_value(i % VALUE_POOL) */
#define PAGE_SIZE 8192
#define CACHE_PAGES 32768      /* x 8 KiB = 256 MiB */
#ifndef LOG_FILE_KIB
#define LOG_FILE_KIB 16384     /* 16 MiB log files */
#endif
#define SQLITE_CACHE_KIB 262144 /* 256 MiB, the same budget */

static char g_root[4096];      /* the run's temporary folder */
static const char *g_only;     /* BENCH_ONLY */
static int npass, nfail;       /* targets */

/* ---- helpers ------------------------------------------------------------ */
static inline double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* splitmix64's finalizer: a bijection on 64 bits, so distinct inputs give
 * distinct keys. */
static inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/* Key i: 16 hex digits of i (sequential) or of mix64(i) (random order). */
static inline void make_key(uint8_t *k, uint64_t i, int random) {
  char buf[KEY_LEN + 1];
  snprintf(buf, sizeof buf, "%016" PRIx64, random ? mix64(i) : i);
  memcpy(k, buf, KEY_LEN);
}

static inline void make_value(uint8_t *v, uint64_t i) {
  uint64_t x = mix64(i ^ 0x5555555555555555ull);
  for (int j = 0; j < VAL_LEN; j++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    v[j] = (uint8_t)('a' + x % 26);
  }
}

static inline void die(const char *what) {
  perror(what);
  exit(1);
}

static inline int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st; (void)flag; (void)ftw;
  remove(path);
  return 0;
}
static inline void rm_tree(const char *path) { nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

/* Cold reads of a file: writes it back and drops its page cache; 0, or -1
 * (errno) when it cannot be opened or written back. */
static inline int drop_file_cache(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int r = fdatasync(fd);
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
  return r;
}

static inline void join(char *out, size_t n, const char *dir, const char *name) {
  if ((size_t)snprintf(out, n, "%s/%s", dir, name) >= n) { fprintf(stderr, "path too long\n"); exit(1); }
}

/* A new empty folder g_root/name. */
static inline void new_dir(char *out, size_t n, const char *name) {
  join(out, n, g_root, name);
  rm_tree(out);
  if (mkdir(out, 0700) != 0) die(out);
}

/* Makes g_root, the run's folder <BENCH_DIR or /tmp>/<prefix>.XXXXXX;
 * 0, or -1 (reported) when it cannot. */
static inline int bench_make_root(const char *prefix) {
  const char *base = getenv("BENCH_DIR");
  snprintf(g_root, sizeof g_root, "%s/%s.XXXXXX", base && *base ? base : "/tmp", prefix);
  if (!mkdtemp(g_root)) { perror(g_root); return -1; }
  return 0;
}

/* Removes g_root unless BENCH_KEEP=1. */
static inline void bench_remove_root(void) {
  const char *keep = getenv("BENCH_KEEP");
  if (!(keep && !strcmp(keep, "1"))) rm_tree(g_root);
}

/* main's exit status: 1 when BENCH_STRICT=1 and a target failed. */
static inline int bench_exit_status(void) {
  const char *strict = getenv("BENCH_STRICT");
  return strict && !strcmp(strict, "1") && nfail ? 1 : 0;
}

/* Does BENCH_ONLY select this case id? (a token selects every id it
 * prefixes at a dot) */
static inline int want(const char *id) {
  if (!g_only || !*g_only) return 1;
  const char *p = g_only;
  while (*p) {
    size_t n = strcspn(p, ",");
    if (n && strncmp(id, p, n) == 0 && (id[n] == 0 || id[n] == '.')) return 1;
    p += n;
    if (*p == ',') p++;
  }
  return 0;
}

/* ---- lua-ese -------------------------------------------------------------- */
#define CK(x)                                                                                   \
  do {                                                                                          \
    JET_ERR e_ = (x);                                                                           \
    if (e_ < 0) {                                                                               \
      fprintf(stderr, "%s:%d: %s -> %ld %s\n", __FILE__, __LINE__, #x, e_,                      \
              EseErrorName(e_) ? EseErrorName(e_) : "?");                                       \
      exit(1);                                                                                  \
    }                                                                                           \
  } while (0)

typedef struct ese_env {
  JET_INSTANCE inst;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  char dir[4200], path[4300];
} ese_env;

/* A new instance on folder v->dir (system and log files there) and a
 * session of it. */
static inline void ese_instance(ese_env *v, const char *name) {
  CK(JetCreateInstance(&v->inst, name));
  CK(JetSetSystemParameter(&v->inst, 0, JET_paramSystemPath, 0, v->dir));
  CK(JetSetSystemParameter(&v->inst, 0, JET_paramLogFilePath, 0, v->dir));
  CK(JetSetSystemParameter(&v->inst, 0, JET_paramLogFileSize, LOG_FILE_KIB, NULL));
  CK(JetSetSystemParameter(&v->inst, 0, JET_paramCacheSizeMax, CACHE_PAGES, NULL));
  CK(JetSetSystemParameter(&v->inst, 0, JET_paramDatabasePageSize, PAGE_SIZE, NULL));
  CK(JetSetSystemParameter(&v->inst, 0, JET_paramCircularLog, 0, NULL));
  CK(JetInit(&v->inst));
  CK(JetBeginSession(v->inst, &v->s, NULL, NULL));
}

/* A new database v->path with the table kv, in a new instance. */
static inline void ese_create(ese_env *v, const char *name) {
  ese_instance(v, name);
  CK(JetCreateDatabase(v->s, v->path, NULL, &v->db, 0));
  CK(EseCreateTable(v->s, v->db, "kv", &v->t));
}

/* Clean shutdown. */
static inline void ese_close(ese_env *v) {
  CK(EseCloseTable(v->s, v->t));
  CK(JetEndSession(v->s, 0));
  CK(JetTerm2(v->inst, JET_bitTermComplete));
}

/* Records 0..n-1 (make_key(i, random), make_value(i)) in durable
 * transactions of TXN_SIZE (fsync at every commit); returns the seconds. */
static inline double ese_bulk_put(ese_env *v, uint64_t n, int random) {
  uint8_t k[KEY_LEN], val[VAL_LEN];
  double t0 = now_s();
  for (uint64_t i = 0; i < n;) {
    CK(JetBeginTransaction(v->s));
    for (uint64_t j = 0; j < TXN_SIZE && i < n; j++, i++) {
      make_key(k, i, random);
      make_value(val, i);
      CK(EsePut(v->s, v->t, k, KEY_LEN, val, VAL_LEN));
    }
    CK(JetCommitTransaction(v->s, 0));
  }
  return now_s() - t0;
}

/* One record in its own durable transaction (no JET_bitCommitLazyFlush). */
static inline void ese_put_durable(JET_SESID s, JET_TABLEID t, const uint8_t *k, const uint8_t *val) {
  CK(JetBeginTransaction(s));
  CK(EsePut(s, t, k, KEY_LEN, val, VAL_LEN));
  CK(JetCommitTransaction(s, 0));
}

/* ---- SQLite ------------------------------------------------------------------ */
static inline void sq_check(sqlite3 *db, int rc, const char *what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    fprintf(stderr, "sqlite: %s: %s\n", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    exit(1);
  }
}
static inline void sq_exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    fprintf(stderr, "sqlite: %s: %s\n", sql, msg ? msg : "?");
    exit(1);
  }
}

/* A new database dir/bench.sqlite: WAL, synchronous=sync, the cache budget,
 * table kv(k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID. */
static inline sqlite3 *sq_open(const char *dir, const char *sync) {
  char path[4300], sql[128];
  join(path, sizeof path, dir, "bench.sqlite");
  sqlite3 *db;
  sq_check(NULL, sqlite3_open(path, &db), "open");
  sq_exec(db, "PRAGMA journal_mode=WAL");
  snprintf(sql, sizeof sql, "PRAGMA synchronous=%s", sync);
  sq_exec(db, sql);
  snprintf(sql, sizeof sql, "PRAGMA cache_size=-%d", SQLITE_CACHE_KIB);
  sq_exec(db, sql);
  sq_exec(db, "CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID");
  return db;
}

/* The statements of a single-record commit: INSERT, begin_sql, COMMIT. */
static inline void sq_prepare_put(sqlite3 *db, const char *begin_sql, sqlite3_stmt **ins, sqlite3_stmt **begin,
                                  sqlite3_stmt **commit) {
  sq_check(db, sqlite3_prepare_v2(db, "INSERT INTO kv (k, v) VALUES (?, ?)", -1, ins, NULL), "prepare");
  sq_check(db, sqlite3_prepare_v2(db, begin_sql, -1, begin, NULL), "prepare");
  sq_check(db, sqlite3_prepare_v2(db, "COMMIT", -1, commit, NULL), "prepare");
}

/* Binds k and val to ins and runs it. */
static inline void sq_insert(sqlite3 *db, sqlite3_stmt *ins, const uint8_t *k, const uint8_t *val) {
  sqlite3_bind_blob(ins, 1, k, KEY_LEN, SQLITE_TRANSIENT);
  sqlite3_bind_blob(ins, 2, val, VAL_LEN, SQLITE_TRANSIENT);
  sq_check(db, sqlite3_step(ins), "INSERT");
  sqlite3_reset(ins);
}

/* One record in its own transaction (statements of sq_prepare_put). */
static inline void sq_put_txn(sqlite3 *db, sqlite3_stmt *ins, sqlite3_stmt *begin, sqlite3_stmt *commit,
                              const uint8_t *k, const uint8_t *val) {
  sq_check(db, sqlite3_step(begin), "BEGIN");
  sqlite3_reset(begin);
  sq_insert(db, ins, k, val);
  sq_check(db, sqlite3_step(commit), "COMMIT");
  sqlite3_reset(commit);
}

/* ---- report ---------------------------------------------------------------- */
/* A target row (label padded to width), counted in npass / nfail; bound and
 * value with prec decimals. */
static inline void target_row_prec(int width, const char *label, const char *op, double bound, double value, int ok,
                                   int prec) {
  if (ok) npass++;
  else nfail++;
  printf("  %-*s %s %4.*f  %6.*f  %s\n", width, label, op, prec, bound, prec, value, ok ? "PASS" : "FAIL");
}

/* A target row of a ratio (two decimals). */
static inline void target_row(int width, const char *label, const char *op, double bound, double value, int ok) {
  target_row_prec(width, label, op, bound, value, ok, 2);
}

/* An informational ratio row. */
static inline void info_row(int width, const char *label, double value) {
  printf("  %-*s %7s  %6.2f  (info)\n", width, label, "", value);
}

#endif
