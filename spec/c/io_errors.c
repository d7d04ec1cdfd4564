/*
 * io_errors.c -- failing writes and syncs: every engine call returns a
 * JET_err (no crash, no hang), and after a re-init nothing committed is
 * lost and nothing uncommitted appears (C harness of issue 2).
 *
 *   io_errors              ESE_IO_POINTS=n (default 60) points per mode;
 *                          ESE_IO_ONLY=eio:17 runs just that fault;
 *                          ESE_VERBOSE=1 prints each run's outcome;
 *                          ESE_KEEP=1 keeps the folder of a failure;
 *                          ESE_REAL_SYNC=1 keeps real syncs (see below)
 *
 * A run without fault with ESE_FAULT_COUNT gives T, the writes and syncs of
 * the workload.  Then for each mode (eio:K, enospc:K, eio:K+ sticky) and K
 * spread over 1..T, a child process: sets ESE_FAULT before JetInit and
 * unsets it after; runs the workload (create a database and a table, then
 * NTX transactions of inserts, replaces and deletes plus a marker key each;
 * most durable, some lazy, some autocommit puts outside a transaction, some
 * rolled back), going on after failures (once the instance is unavailable
 * every call must say JET_errInstanceUnavailable); records for each
 * transaction whether its commit returned success, returned an error
 * (then it is all or nothing) or never happened; terms (clean; if that
 * fails, it is gone anyway), re-inits without the fault, and checks: every
 * durable commit that returned success is back, every lazy one too unless
 * nothing after it is, no rolled-back or never-committed transaction shows,
 * the table equals the model of the transactions present, key by key, and
 * the recovered instance takes and keeps a new commit.
 *
 * Prints "io_errors: ok ..." and exits 0, or what differed and exits 1.
 */
#include <signal.h>
#include <sys/mman.h>

#define HARNESS_NAME "io_errors"
#include "harness.h"

#define NTX 30
#define KS 200
#define VBUF 4096
#define MAXOPS 48

/* Faults here are errors returned to the engine, never a lost page cache:
 * a sync changes nothing these checks can observe, so fsync/fdatasync are
 * no-ops unless ESE_REAL_SYNC=1. */
HARNESS_SYNCS_OFF()

static char base[64];
static const char *ctx = "";

/* A failure in the child: "io_errors: FAIL: <fault>: <message>". */
__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  FAIL("%s: %s", ctx, msg);
}

static size_t make_value(char *out, const char *key, size_t klen, uint32_t gen) {
  uint64_t h = harness_value_hash(key, klen, gen);
  return harness_value(out, key, klen, gen, h, h % 5 == 0 ? 900 + h % 1000 : 20 + h % 300);
}

/* ---- the workload: transaction n (1..NTX) ----------------------------------
 * kind: durable, lazy, autocommit (one put outside a transaction: the
 * marker), or rolled back (never visible).  Ops do not depend on earlier
 * outcomes; a delete of an absent key is a no-op (JET_errRecordNotFound). */
enum { TX_DURABLE, TX_LAZY, TX_AUTO, TX_ROLLBACK };
enum { OP_PUT, OP_DEL };
typedef struct op { int kind, id; uint32_t gen; } op;

static int txn_kind(int n) {
  if (n % 7 == 0) return TX_ROLLBACK;
  if (n % 5 == 0) return TX_AUTO;
  if (n % 4 == 1) return TX_LAZY;
  return TX_DURABLE;
}

static int txn_ops(int n, op *ops) {
  if (txn_kind(n) == TX_AUTO) return 0;
  uint64_t r = harness_mix((uint64_t)n * 104729);
  int nops = n % 9 == 0 ? 30 : 2 + (int)(r % 8);
  for (int k = 0; k < nops && k < MAXOPS; k++) {
    r = harness_mix(r);
    int id = (int)(r % KS);
    ops[k] = (r >> 32) % 4 == 0 ? (op){ OP_DEL, id, 0 } : (op){ OP_PUT, id, (uint32_t)n * 64 + (uint32_t)k };
  }
  return nops;
}

static size_t data_key(char *k, int id) { return (size_t)sprintf(k, "k%04d", id); }
static size_t marker_key(char *k, int n) { return (size_t)sprintf(k, "m%04d", n); }

/* ---- outcomes ------------------------------------------------------------------ */
enum { OUT_NONE = 0, OUT_OK, OUT_AMBIG, OUT_UNCOMMITTED };

typedef struct result {
  int setup;                 /* OUT_*: the database + table creation */
  int out[NTX + 1];
  int init_failed;
  JET_ERR first_err;
  char first_op[48];
  int unavailable;           /* saw JET_errInstanceUnavailable */
  int present;               /* transactions found after re-init */
  int ambiguous_present, ambiguous_absent;
  int term_failed;
} result;

static result *res;          /* MAP_SHARED: the child fills it */

static int allowed_error(JET_ERR e) {
  return e == JET_errDiskIO || e == JET_errDiskFull || e == JET_errLogWriteFail || e == JET_errLogDiskFull ||
         e == JET_errInstanceUnavailable;
}

/* A workload call under the fault: success, or an I/O error / unavailable. */
static JET_ERR call(JET_ERR e, const char *what) {
  if (e >= 0) return 0;
  if (!allowed_error(e)) die("%s -> %ld %s (not an I/O error)", what, (long)e, EseErrorName(e));
  if (!res->first_err) {
    res->first_err = e;
    snprintf(res->first_op, sizeof res->first_op, "%s", what);
  }
  if (e == JET_errInstanceUnavailable) res->unavailable = 1;
  return e;
}

/* A commit that returned success is committed; one refused at the door
 * (JET_errInstanceUnavailable) never happened; any other error leaves it
 * all or nothing. */
static int outcome(JET_ERR e) {
  return e == 0 ? OUT_OK : e == JET_errInstanceUnavailable ? OUT_UNCOMMITTED : OUT_AMBIG;
}

/* 64 KiB log files, a 16-page cache. */
static JET_ERR make_instance(const char *dir, JET_INSTANCE *inst) {
  char name[64];
  return harness_instance(inst, harness_unique_name(name, sizeof name, "ioerr"), dir, 64, 16);
}

static void workload(const char *dir, const char *fault) {
  char path[512], key[32], val[VBUF];
  snprintf(path, sizeof path, "%s/io.edb", dir);
  JET_INSTANCE inst;
  JET_SESID s = 0;
  JET_DBID db;
  JET_TABLEID t = 0;
  JET_ERR e = make_instance(dir, &inst);
  if (e) die("instance: %ld", (long)e);
  if (fault) setenv("ESE_FAULT", fault, 1);
  e = call(JetInit(&inst), "JetInit");
  unsetenv("ESE_FAULT");
  if (e) {
    res->init_failed = 1;
    JET_ERR te = JetTerm(inst);
    if (te < 0 && te != JET_errNotInitialized) die("JetTerm after a failed JetInit -> %ld", (long)te);
    return;
  }
  int ok = !call(JetBeginSession(inst, &s, NULL, NULL), "JetBeginSession");
  if (ok) {
    res->setup = OUT_AMBIG;
    ok = !call(JetCreateDatabase(s, path, NULL, &db, 0), "JetCreateDatabase") &&
         !call(EseCreateTable(s, db, "t", &t), "EseCreateTable");
    if (ok) res->setup = OUT_OK;
  }
  for (int n = 1; n <= NTX && ok; n++) {
    op ops[MAXOPS];
    int nops = txn_ops(n, ops), kind = txn_kind(n);
    size_t kl, vl;
    if (kind == TX_AUTO) {
      kl = marker_key(key, n);
      vl = make_value(val, key, kl, (uint32_t)n);
      e = call(EsePut(s, t, key, kl, val, vl), "EsePut (autocommit)");
      res->out[n] = outcome(e);
      continue;
    }
    if (call(JetBeginTransaction(s), "JetBeginTransaction")) {
      res->out[n] = OUT_UNCOMMITTED;
      continue;
    }
    e = 0;
    for (int k = 0; k < nops && !e; k++) {
      kl = data_key(key, ops[k].id);
      if (ops[k].kind == OP_DEL) {
        e = EseDelete(s, t, key, kl);
        if (e == JET_errRecordNotFound) e = 0;
        e = call(e, "EseDelete");
      } else {
        vl = make_value(val, key, kl, ops[k].gen);
        e = call(EsePut(s, t, key, kl, val, vl), "EsePut");
      }
    }
    if (!e) {
      kl = marker_key(key, n);
      vl = make_value(val, key, kl, (uint32_t)n);
      e = call(EsePut(s, t, key, kl, val, vl), "EsePut");
    }
    if (!e && n % 3 == 0) {   /* a read inside the transaction */
      size_t gl;
      e = call(EseSeek(s, t, key, kl, JET_bitSeekEQ), "EseSeek");
      if (!e) e = call(EseRetrieveValue(s, t, val, sizeof val, &gl), "EseRetrieveValue");
    }
    if (e || kind == TX_ROLLBACK) {
      JET_ERR re = JetRollback(s, 0);
      if (re < 0 && !allowed_error(re)) die("JetRollback -> %ld %s", (long)re, EseErrorName(re));
      res->out[n] = OUT_UNCOMMITTED;
      continue;
    }
    e = call(JetCommitTransaction(s, kind == TX_LAZY ? JET_bitCommitLazyFlush : 0), "JetCommitTransaction");
    res->out[n] = outcome(e);
  }
  /* once the instance is unavailable, every call says so */
  if (res->unavailable) {
    JET_SESID s2;
    e = JetBeginSession(inst, &s2, NULL, NULL);
    if (e != JET_errInstanceUnavailable) die("JetBeginSession on an unavailable instance -> %ld", (long)e);
    if (t && (e = EseSeek(s, t, NULL, 0, JET_bitSeekGE)) != JET_errInstanceUnavailable)
      die("EseSeek on an unavailable instance -> %ld", (long)e);
  }
  e = JetTerm2(inst, JET_bitTermComplete);
  if (e < 0) {
    if (!allowed_error(e)) die("JetTerm2 -> %ld %s", (long)e, EseErrorName(e));
    res->term_failed = 1;
  }
}

/* ---- the check after re-init ----------------------------------------------------- */
static void check(const char *dir) {
  char path[512], msg[512], key[300], val[VBUF], ekey[32], eval[VBUF];
  snprintf(path, sizeof path, "%s/io.edb", dir);
  JET_INSTANCE inst;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  JET_ERR e = make_instance(dir, &inst);
  if (e) die("instance: %ld", (long)e);
  e = JetInit(&inst);
  if (e < 0) die("re-init without the fault failed: %s", harness_instance_error(msg, sizeof msg, inst, e, "JetInit"));
#define PCKE(x, what)                                                                            \
  do {                                                                                           \
    JET_ERR e_ = (x);                                                                            \
    if (e_ < 0) die("after re-init: %s", harness_session_error(msg, sizeof msg, s, e_, what));   \
  } while (0)
#define PCK(x) PCKE(x, #x)
  if ((e = JetBeginSession(inst, &s, NULL, NULL)) < 0) die("JetBeginSession -> %ld", (long)e);
  int created = 1;
  e = JetAttachDatabase(s, path, 0);
  if (e == JET_errFileNotFound && res->setup != OUT_OK) created = 0;
  else if (e < 0) PCKE(e, "JetAttachDatabase");
  if (created) {
    PCK(JetOpenDatabase(s, path, NULL, &db, 0));
    e = EseOpenTable(s, db, "t", &t);
    if (e == JET_errObjectNotFound && res->setup != OUT_OK) created = 0;
    else if (e < 0) PCKE(e, "EseOpenTable");
  }
  if (!created) {  /* creation never returned: nothing else may exist */
    for (int n = 1; n <= NTX; n++)
      if (res->out[n]) die("transaction %d has an outcome but the table is not there", n);
    PCK(JetTerm2(inst, JET_bitTermComplete));
    return;
  }
  /* which transactions are present (their markers) */
  int present[NTX + 1] = { 0 }, last_present = 0;
  for (int n = 1; n <= NTX; n++) {
    size_t kl = marker_key(key, n);
    e = EseSeek(s, t, key, kl, JET_bitSeekEQ);
    if (e != JET_errRecordNotFound) PCKE(e, "EseSeek");
    present[n] = e == 0;
    if (present[n]) last_present = n, res->present++;
  }
  for (int n = 1; n <= NTX; n++) {
    int o = res->out[n];
    if (o == OUT_AMBIG) (present[n] ? res->ambiguous_present++ : res->ambiguous_absent++);
    if ((o == OUT_NONE || o == OUT_UNCOMMITTED) && present[n])
      die("transaction %d was never committed (%s) but is back", n,
          o == OUT_NONE ? "not reached" : "rolled back or refused");
    if (o == OUT_OK && !present[n]) {
      int lazy = txn_kind(n) == TX_LAZY;
      if (!lazy) die("transaction %d returned committed (durable) and is lost", n);
      if (n < last_present) die("lazy transaction %d is lost but the later %d is back", n, last_present);
    }
  }
  /* the model of the transactions present, in order */
  uint32_t model[KS] = { 0 };
  for (int n = 1; n <= NTX; n++) {
    if (!present[n]) continue;
    op ops[MAXOPS];
    int nops = txn_ops(n, ops);
    for (int k = 0; k < nops; k++) model[ops[k].id] = ops[k].kind == OP_PUT ? ops[k].gen : 0;
  }
  e = EseSeek(s, t, NULL, 0, JET_bitSeekGE);
  for (int pass = 0; pass < 2; pass++)
    for (int id = pass ? 1 : 0; id < (pass ? NTX + 1 : KS); id++) {
      size_t ekl, evl, kl, vl;
      if (pass == 0) {
        if (!model[id]) continue;
        ekl = data_key(ekey, id);
        evl = make_value(eval, ekey, ekl, model[id]);
      } else {
        if (!present[id]) continue;
        ekl = marker_key(ekey, id);
        evl = make_value(eval, ekey, ekl, (uint32_t)id);
      }
      if (e == JET_errRecordNotFound) die("%s missing (end of table)", ekey);
      PCKE(e, "EseSeek");
      PCK(EseRetrieveKey(s, t, key, sizeof key, &kl));
      PCK(EseRetrieveValue(s, t, val, sizeof val, &vl));
      if (kl != ekl || memcmp(key, ekey, kl)) die("found key %.*s where %s was expected", (int)kl, key, ekey);
      if (vl != evl || memcmp(val, eval, vl)) die("%s has a wrong value", ekey);
      e = EseSeek(s, t, key, kl, JET_bitSeekGT);
    }
  if (e == 0) {
    size_t kl;
    PCK(EseRetrieveKey(s, t, key, sizeof key, &kl));
    die("extra record %.*s", (int)kl, key);
  }
  if (e != JET_errRecordNotFound) PCKE(e, "EseSeek");
  /* the recovered instance works: a new durable commit survives a clean term */
  PCK(JetBeginTransaction(s));
  PCK(EsePut(s, t, "z-after", 7, "ok", 2));
  PCK(JetCommitTransaction(s, 0));
  PCK(JetTerm2(inst, JET_bitTermComplete));
  PCK(make_instance(dir, &inst));
  PCK(JetInit(&inst));
  PCK(harness_open_table(inst, path, 1, "t", &s, &db, &t));
  PCK(EseSeek(s, t, "z-after", 7, JET_bitSeekEQ));
  PCK(JetTerm2(inst, JET_bitTermComplete));
#undef PCK
#undef PCKE
}

/* ---- driver ------------------------------------------------------------------------- */
/* One run in a child: the workload under fault, then the check. */
static int run_one(const char *fault, const char *count_file) {
  char dir[256];
  harness_fresh_dir(dir, sizeof dir, base, "run");
  memset(res, 0, sizeof *res);
  pid_t pid = harness_fork();
  if (pid == 0) {
    alarm(60);   /* a hang dies of SIGALRM */
    static char c[96];
    snprintf(c, sizeof c, "%s", fault ? fault : "no fault");
    ctx = c;
    if (count_file) setenv("ESE_FAULT_COUNT", count_file, 1);
    workload(dir, fault);
    unsetenv("ESE_FAULT_COUNT");
    check(dir);
    fflush(stdout);
    _exit(0);
  }
  int st = harness_wait(pid);
  if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 1)
      printf("io_errors: FAIL: %s: the child ended with %s%s\n", fault ? fault : "no fault", harness_status_text(st),
             WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? " (hung)" : "");
    printf("io_errors: reproduce: ESE_IO_ONLY=%s io_errors (ESE_KEEP=1 keeps the folder)\n",
           fault ? fault : "none");
    if (getenv("ESE_KEEP")) printf("io_errors: folder kept: %s\n", dir);
    else harness_rm_rf(base);
    exit(1);
  }
  return 1;
}

int main(void) {
  harness_start(1500);
  int points = harness_env_int("ESE_IO_POINTS", 60, 1);
  harness_tempdir(base, sizeof base, "ioerr");
  res = mmap(NULL, sizeof *res, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (res == MAP_FAILED) return 1;
  uint64_t t0 = harness_now_us();

  char cnt[256];
  snprintf(cnt, sizeof cnt, "%s/count.n", base);
  run_one(NULL, cnt);
  for (int n = 1; n <= NTX; n++)
    if (txn_kind(n) != TX_ROLLBACK && res->out[n] != OUT_OK) FAIL("without fault transaction %d did not commit", n);
  unsigned long long T = 0;
  if (!harness_read_count(cnt, &T) || T == 0) FAIL("no event count in %s", cnt);

  /* ESE_IO_ONLY=eio:12 runs just that fault */
  const char *only = getenv("ESE_IO_ONLY");
  static const char *modes[] = { "eio:%llu", "enospc:%llu", "eio:%llu+" };
  int runs = 0, init_fail = 0, unavail = 0, amb_in = 0, amb_out = 0, term_fail = 0;
  for (int m = 0; m < 3; m++) {
    unsigned long long npts = (unsigned long long)points < T ? (unsigned long long)points : T, last = 0;
    if (only && *only) npts = m == 0;
    for (unsigned long long p = 0; p < npts; p++) {
      unsigned long long k = harness_spread(p, npts, T);
      if (k == last) continue;
      last = k;
      char fault[64];
      snprintf(fault, sizeof fault, modes[m], k);
      if (only && *only) snprintf(fault, sizeof fault, "%s", only);
      run_one(fault, NULL);
      runs++;
      init_fail += res->init_failed;
      unavail += res->unavailable;
      amb_in += res->ambiguous_present;
      amb_out += res->ambiguous_absent;
      term_fail += res->term_failed;
      if (getenv("ESE_VERBOSE"))
        printf("  %s: first error %s -> %ld, unavailable %d, %d txns back, ambiguous back %d / lost %d\n", fault,
               res->first_op, (long)res->first_err, res->unavailable, res->present, res->ambiguous_present,
               res->ambiguous_absent);
    }
  }
  harness_rm_rf(base);
  printf("io_errors: %d faulted runs over %llu events (eio, enospc, sticky eio): JetInit failed %d, instance "
         "unavailable %d, term failed %d; failed commits back %d / absent %d; %.1f s\n",
         runs, T, init_fail, unavail, term_fail, amb_in, amb_out, (double)(harness_now_us() - t0) / 1e6);
  printf("io_errors: ok %d fault points, every call returned an error, nothing committed lost\n", runs);
  return 0;
}
