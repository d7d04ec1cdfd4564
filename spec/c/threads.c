/*
 * threads.c -- the engine under real threads (C harness of issue 2).
 *
 *   threads [N [M [P]]]  N writer threads (default 4), M transactions each
 *                        (default 500); the reader pauses P us between
 *                        walks (default 50: a reader that never pauses
 *                        holds the instance lock most of the time and the
 *                        commit rate measures that instead)
 *
 * Every writer has its own session on one instance and commits M
 * transactions: a few puts into its own key range of table "data" (the
 * first, "t<t>-<i>-0", is the transaction's marker and is never touched
 * again), now and then a replace or a delete of one of its earlier keys,
 * and every other transaction one put into table "shared" (keys of all
 * threads interleave there).  Commits are durable, one in four lazy.  A
 * reader thread seeks concurrently: every marker of a commit that returned
 * must be visible to another session, records come in key order and every
 * value is the one written for its key (values carry their key).
 *
 * Round 1: clean term, re-init, every record back with the right value,
 *          exact counts, key order by GT seeks (and LT seeks backwards);
 *          commits/second reported.
 * Round 2: the same workload, abrupt term (JetTerm), re-init: for each
 *          thread the recovered data is exactly the state after a prefix
 *          of its transactions that holds every durable commit.
 * Round 3: the same workload in a child process SIGKILLed mid-run: each
 *          thread's state is a prefix holding every commit that returned
 *          durable, and at most the one commit in flight beyond the last
 *          that returned.
 *
 * Prints "threads: ok ..." and exits 0, or what differed and exits 1.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>

#define HARNESS_NAME "threads"
/* A JET call that must succeed (warnings allowed) and REQ(c, ...): on
 * failure, report (the first failure of any thread) and return 0 from the
 * enclosing int function. */
#define FAIL_RETURN(...)                                                                      \
  do {                                                                                        \
    failf(__VA_ARGS__);                                                                       \
    return 0;                                                                                 \
  } while (0)
#define CK(x) HARNESS_CK(x, FAIL_RETURN)
#define REQ(c, ...)                                                                           \
  do {                                                                                        \
    if (!(c)) FAIL_RETURN(__VA_ARGS__);                                                       \
  } while (0)
#include "harness.h"

#define MAXT 32
#define KEYS_PER_TXN 3
#define VBUF 4096

static int N = 4, M = 500;
static unsigned reader_pace_us = 50;

/* ---- failure reporting (first failure wins, any thread) ---------------- */
static pthread_mutex_t fail_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int failed;

__attribute__((format(printf, 1, 2))) static void failf(const char *fmt, ...) {
  pthread_mutex_lock(&fail_mu);
  if (!atomic_load(&failed)) {
    va_list ap;
    va_start(ap, fmt);
    harness_vreport("FAIL", fmt, ap);
    va_end(ap);
  }
  atomic_store(&failed, 1);
  pthread_mutex_unlock(&fail_mu);
}

/* ---- values: "<key>|<gen>|" then filler derived from key and gen -------- */
static size_t make_value(char *out, const char *key, size_t klen, uint32_t gen) {
  uint64_t h = harness_value_hash(key, klen, gen);
  return harness_value(out, key, klen, gen, h, h % 23 == 0 ? 1200 + h % 600 : 16 + h % 180);
}

/* The gen of a well-formed value for key, 0 when it is not one. */
static uint32_t check_value(const char *key, size_t klen, const char *val, size_t vlen) {
  if (vlen < klen + 3 || memcmp(val, key, klen) || val[klen] != '|') return 0;
  uint32_t gen = 0;
  size_t k = klen + 1;
  while (k < vlen && val[k] >= '0' && val[k] <= '9' && k < klen + 12) gen = gen * 10 + (uint32_t)(val[k++] - '0');
  if (k >= vlen || val[k] != '|' || gen == 0) return 0;
  char exp[VBUF];
  size_t n = make_value(exp, key, klen, gen);
  return n == vlen && !memcmp(exp, val, n) ? gen : 0;
}

static size_t data_key(char *k, int t, int i, int j) { return (size_t)sprintf(k, "t%02d-%06d-%d", t, i, j); }
static size_t shared_key(char *k, int t, int i) { return (size_t)sprintf(k, "%06d-t%02d", i, t); }

/* ---- the deterministic workload ------------------------------------------
 * gen[(i * KEYS_PER_TXN) + j] of a thread: 0 absent, else the gen of the
 * value of key (t, i, j).  The shared key (t, i) exists iff i is even. */
enum { OP_PUT, OP_DEL };
typedef struct op { int kind, shared, i, j; uint32_t gen; } op;

static int txn_ops(int t, int i, const uint32_t *gen, op *ops, int *lazy) {
  int n = 0;
  int nput = 1 + (int)(harness_mix(((uint64_t)t << 32) | (uint32_t)i) % 3);
  for (int j = 0; j < nput; j++) ops[n++] = (op){ OP_PUT, 0, i, j, 1 };
  if (i % 5 == 4) ops[n++] = (op){ OP_PUT, 0, i / 2, 1, (uint32_t)i + 1 };
  if (i % 7 == 6 && gen[(i / 3) * KEYS_PER_TXN + 2]) ops[n++] = (op){ OP_DEL, 0, i / 3, 2, 0 };
  if (i % 2 == 0) ops[n++] = (op){ OP_PUT, 1, i, 0, 1 };
  *lazy = i % 4 == 1;
  return n;
}

static void model_apply(uint32_t *gen, const op *ops, int n) {
  for (int k = 0; k < n; k++)
    if (!ops[k].shared) gen[ops[k].i * KEYS_PER_TXN + ops[k].j] = ops[k].kind == OP_PUT ? ops[k].gen : 0;
}

/* The model of thread t after its transactions 0..p-1. */
static void model_build(uint32_t *gen, int t, int m, int p) {
  memset(gen, 0, (size_t)m * KEYS_PER_TXN * sizeof *gen);
  op ops[8];
  int lazy;
  for (int i = 0; i < p; i++) model_apply(gen, ops, txn_ops(t, i, gen, ops, &lazy));
}

/* ---- shared progress (MAP_SHARED: the crash round reads a child's) ------ */
typedef struct progress {
  atomic_int committed[MAXT];  /* commits that returned */
  atomic_int durable[MAXT];    /* 1 + index of the last durable commit that returned */
  atomic_int started;
  atomic_int stop;
} progress;
static progress *prog;
static char dbpath[512];

/* ---- the instance ---------------------------------------------------------- */
/* An initialized instance on dir with 256 KiB log files. */
static int open_instance(const char *dir, JET_INSTANCE *inst) {
  char name[64];
  CK(harness_instance(inst, harness_unique_name(name, sizeof name, "threads"), dir, 256, 0));
  CK(JetInit(inst));
  return 1;
}

/* A session on inst with the tables "data" and "shared" open. */
static int open_tables(JET_INSTANCE inst, int attach, JET_SESID *s, JET_TABLEID *td, JET_TABLEID *tsh) {
  JET_DBID db;
  CK(harness_open_table(inst, dbpath, attach, "data", s, &db, td));
  CK(EseOpenTable(*s, db, "shared", tsh));
  return 1;
}

typedef struct worker {
  JET_INSTANCE inst;
  int t, m;
  pthread_t th;
  uint64_t commits, lazies;
} worker;

static int worker_run(worker *w) {
  JET_SESID s;
  JET_TABLEID td, tsh;
  int t = w->t;
  if (!open_tables(w->inst, 0, &s, &td, &tsh)) return 0;
  uint32_t *gen = calloc((size_t)w->m * KEYS_PER_TXN, sizeof *gen);
  REQ(gen, "out of memory");
  char key[64], val[VBUF], got[VBUF];
  for (int i = 0; i < w->m && !atomic_load(&failed) && !atomic_load(&prog->stop); i++) {
    op ops[8];
    int lazy;
    int n = txn_ops(t, i, gen, ops, &lazy);
    CK(JetBeginTransaction(s));
    for (int k = 0; k < n; k++) {
      size_t kl = ops[k].shared ? shared_key(key, t, ops[k].i) : data_key(key, t, ops[k].i, ops[k].j);
      JET_TABLEID tb = ops[k].shared ? tsh : td;
      if (ops[k].kind == OP_DEL) {
        CK(EseDelete(s, tb, key, kl));
      } else {
        size_t vl = make_value(val, key, kl, ops[k].gen);
        CK(EsePut(s, tb, key, kl, val, vl));
      }
    }
    if (i % 16 == 3) {  /* the transaction reads its own marker */
      size_t kl = data_key(key, t, i, 0), gl;
      CK(EseSeek(s, td, key, kl, JET_bitSeekEQ));
      CK(EseRetrieveValue(s, td, got, sizeof got, &gl));
      REQ(check_value(key, kl, got, gl) == 1, "thread %d txn %d: own uncommitted marker reads wrong", t, i);
    }
    CK(JetCommitTransaction(s, lazy ? JET_bitCommitLazyFlush : 0));
    model_apply(gen, ops, n);
    atomic_store(&prog->committed[t], i + 1);
    if (!lazy) atomic_store(&prog->durable[t], i + 1);
    w->commits++;
    w->lazies += lazy;
    if (i % 10 == 0) {  /* read back after commit, outside a transaction */
      for (int j = 0; j < KEYS_PER_TXN; j++) {
        size_t kl = data_key(key, t, i / 2, j), gl;
        JET_ERR e = EseSeek(s, td, key, kl, JET_bitSeekEQ);
        uint32_t want = gen[(i / 2) * KEYS_PER_TXN + j];
        if (!want) {
          REQ(e == JET_errRecordNotFound, "thread %d: key %s should be absent, seek -> %ld", t, key, (long)e);
          continue;
        }
        CK(e);
        CK(EseRetrieveValue(s, td, got, sizeof got, &gl));
        REQ(check_value(key, kl, got, gl) == want, "thread %d: key %s reads gen %u, want %u", t, key,
            check_value(key, kl, got, gl), want);
      }
    }
  }
  free(gen);
  CK(JetEndSession(s, 0));
  return 1;
}

static void *worker_main(void *arg) {
  worker_run(arg);
  return NULL;
}

/* ---- the concurrent reader ------------------------------------------------ */
typedef struct reader {
  JET_INSTANCE inst;
  pthread_t th;
  atomic_int done;
  unsigned pace_us;       /* pause between walks */
  uint64_t seeks;
} reader;

static int reader_run(reader *r) {
  JET_SESID s;
  JET_TABLEID td, tsh;
  if (!open_tables(r->inst, 0, &s, &td, &tsh)) return 0;
  uint64_t x = 88172645463325252ull;
  char key[300], prev[300], val[VBUF];
  while (!atomic_load(&r->done) && !atomic_load(&failed)) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    int t = (int)(x % (uint64_t)N);
    int c = atomic_load(&prog->committed[t]);
    if (c == 0) { sched_yield(); continue; }
    if (r->pace_us) usleep(r->pace_us);
    int i = (int)((x >> 20) % (uint64_t)c);
    size_t kl = data_key(key, t, i, 0), vl, pl;
    JET_ERR e = EseSeek(s, td, key, kl, JET_bitSeekEQ);
    REQ(e == 0, "reader: marker %s of a returned commit not visible: %ld %s", key, (long)e, EseErrorName(e));
    CK(EseRetrieveValue(s, td, val, sizeof val, &vl));
    REQ(check_value(key, kl, val, vl) == 1, "reader: marker %s has a wrong value", key);
    r->seeks++;
    /* walk on with GT seeks: strictly increasing keys, well-formed values */
    JET_TABLEID tb = (x >> 40) & 1 ? tsh : td;
    if (tb == tsh) {
      kl = shared_key(key, t, i);
      e = EseSeek(s, tb, key, kl, JET_bitSeekGE);
      if (e == JET_errRecordNotFound) continue;
      CK(e);
      CK(EseRetrieveKey(s, tb, key, sizeof key, &kl));
    }
    memcpy(prev, key, kl);
    pl = kl;
    for (int k = 0; k < 12; k++) {
      CK(EseRetrieveValue(s, tb, val, sizeof val, &vl));
      REQ(check_value(key, kl, val, vl), "reader: record %.*s has a value not written for it", (int)kl, key);
      e = EseSeek(s, tb, prev, pl, JET_bitSeekGT);
      r->seeks++;
      if (e == JET_errRecordNotFound) break;
      CK(e);
      CK(EseRetrieveKey(s, tb, key, sizeof key, &kl));
      int c2 = memcmp(prev, key, pl < kl ? pl : kl);
      REQ(c2 < 0 || (c2 == 0 && pl < kl), "reader: GT seek from %.*s went to %.*s", (int)pl, prev, (int)kl, key);
      memcpy(prev, key, kl);
      pl = kl;
    }
  }
  CK(JetEndSession(s, 0));
  return 1;
}

static void *reader_main(void *arg) {
  reader_run(arg);
  return NULL;
}

/* ---- one run of the workload on an initialized instance --------------------- */
typedef struct stats { uint64_t commits, lazies, seeks, us; } stats;

static int setup_db(JET_INSTANCE inst) {
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t1, t2;
  CK(harness_create_table(inst, dbpath, "data", &s, &db, &t1));
  CK(EseCreateTable(s, db, "shared", &t2));
  CK(JetEndSession(s, 0));
  return 1;
}

static int run_workload(JET_INSTANCE inst, int m, stats *st) {
  worker w[MAXT];
  reader r = { .inst = inst, .pace_us = reader_pace_us };
  for (int t = 0; t < N; t++) {
    atomic_store(&prog->committed[t], 0);
    atomic_store(&prog->durable[t], 0);
  }
  atomic_store(&prog->stop, 0);
  uint64_t t0 = harness_now_us();
  REQ(pthread_create(&r.th, NULL, reader_main, &r) == 0, "pthread_create");
  for (int t = 0; t < N; t++) {
    w[t] = (worker){ .inst = inst, .t = t, .m = m };
    REQ(pthread_create(&w[t].th, NULL, worker_main, &w[t]) == 0, "pthread_create");
  }
  atomic_store(&prog->started, 1);
  memset(st, 0, sizeof *st);
  for (int t = 0; t < N; t++) {
    pthread_join(w[t].th, NULL);
    st->commits += w[t].commits;
    st->lazies += w[t].lazies;
  }
  st->us = harness_now_us() - t0;
  atomic_store(&r.done, 1);
  pthread_join(r.th, NULL);
  st->seeks = r.seeks;
  return !atomic_load(&failed);
}

/* ---- verification after re-init ----------------------------------------------
 * For each thread t the recovered prefix p[t] must lie in [lo[t], hi[t]]; the
 * tables must equal the model after those prefixes exactly. */
static int parse_data_key(const char *k, size_t kl, int *t, int *i, int *j) {
  char buf[64];
  if (kl >= sizeof buf) return 0;
  memcpy(buf, k, kl);
  buf[kl] = 0;
  return sscanf(buf, "t%d-%d-%d", t, i, j) == 3;
}

static int verify(const char *dir, int m, const int *lo, const int *hi, int *p, uint64_t *nrec) {
  JET_INSTANCE inst;
  JET_SESID s;
  JET_TABLEID td, tsh;
  if (!open_instance(dir, &inst) || !open_tables(inst, 1, &s, &td, &tsh)) return 0;
  char key[300], val[VBUF], ekey[64], eval[VBUF];
  size_t kl, vl;
  /* each thread's prefix: the last key of its range names it */
  for (int t = 0; t < N; t++) {
    char hk[32];
    size_t hl = (size_t)sprintf(hk, "t%02d-~", t);
    JET_ERR e = EseSeek(s, td, hk, hl, JET_bitSeekLT);
    int tt = -1, i = -1, j;
    if (e == 0) {
      CK(EseRetrieveKey(s, td, key, sizeof key, &kl));
      REQ(parse_data_key(key, kl, &tt, &i, &j), "bad key %.*s", (int)kl, key);
    } else {
      REQ(e == JET_errRecordNotFound, "seek LT %s -> %ld", hk, (long)e);
    }
    p[t] = tt == t ? i + 1 : 0;
    REQ(p[t] >= lo[t] && p[t] <= hi[t],
        "thread %d: recovered %d transactions, expected between %d and %d", t, p[t], lo[t], hi[t]);
  }
  /* data: one forward pass by GT seeks against the model */
  uint32_t *gen = malloc((size_t)m * KEYS_PER_TXN * sizeof *gen);
  REQ(gen, "out of memory");
  uint64_t count = 0, want = 0;
  JET_ERR e = EseSeek(s, td, NULL, 0, JET_bitSeekGE);
  int ok = 1;
  for (int t = 0; t < N && ok; t++) {
    model_build(gen, t, m, p[t]);
    for (int i = 0; i < p[t] && ok; i++)
      for (int j = 0; j < KEYS_PER_TXN && ok; j++) {
        if (!gen[i * KEYS_PER_TXN + j]) continue;
        want++;
        size_t ekl = data_key(ekey, t, i, j);
        size_t evl = make_value(eval, ekey, ekl, gen[i * KEYS_PER_TXN + j]);
        if (e) { failf("data: %s missing (seek -> %ld)", ekey, (long)e); ok = 0; break; }
        if (EseRetrieveKey(s, td, key, sizeof key, &kl) || EseRetrieveValue(s, td, val, sizeof val, &vl)) {
          failf("data: retrieve failed at %s", ekey); ok = 0; break;
        }
        if (kl != ekl || memcmp(key, ekey, kl)) {
          failf("data: found key %.*s where %s was expected", (int)kl, key, ekey); ok = 0; break;
        }
        if (vl != evl || memcmp(val, eval, vl)) {
          failf("data: %s has a wrong value (gen %u, want %u)", ekey, check_value(key, kl, val, vl),
                gen[i * KEYS_PER_TXN + j]);
          ok = 0; break;
        }
        count++;
        e = EseSeek(s, td, key, kl, JET_bitSeekGT);
      }
  }
  free(gen);
  if (!ok) return 0;
  if (e == 0) {
    CK(EseRetrieveKey(s, td, key, sizeof key, &kl));
    REQ(0, "data: extra record %.*s after the last expected one", (int)kl, key);
  }
  REQ(e == JET_errRecordNotFound, "data: last GT seek -> %ld", (long)e);
  REQ(count == want, "data: %llu records, want %llu", (unsigned long long)count, (unsigned long long)want);
  /* shared: keys (i, t) for even i < p[t], ordered by i then t */
  uint64_t scount = 0, swant = 0;
  e = EseSeek(s, tsh, NULL, 0, JET_bitSeekGE);
  int maxp = 0;
  for (int t = 0; t < N; t++) maxp = p[t] > maxp ? p[t] : maxp;
  for (int i = 0; i < maxp; i += 2)
    for (int t = 0; t < N; t++) {
      if (i >= p[t]) continue;
      swant++;
      size_t ekl = shared_key(ekey, t, i);
      size_t evl = make_value(eval, ekey, ekl, 1);
      REQ(e == 0, "shared: %s missing (seek -> %ld)", ekey, (long)e);
      CK(EseRetrieveKey(s, tsh, key, sizeof key, &kl));
      CK(EseRetrieveValue(s, tsh, val, sizeof val, &vl));
      REQ(kl == ekl && !memcmp(key, ekey, kl), "shared: found %.*s where %s was expected", (int)kl, key, ekey);
      REQ(vl == evl && !memcmp(val, eval, vl), "shared: %s has a wrong value", ekey);
      scount++;
      e = EseSeek(s, tsh, key, kl, JET_bitSeekGT);
    }
  REQ(e == JET_errRecordNotFound, "shared: a record beyond the expected ones (seek -> %ld)", (long)e);
  REQ(scount == swant, "shared: %llu records, want %llu", (unsigned long long)scount, (unsigned long long)swant);
  /* shared backwards with LT seeks: the same count */
  uint64_t back = 0;
  e = EseSeek(s, tsh, NULL, 0, JET_bitSeekLE);
  while (e == 0) {
    back++;
    CK(EseRetrieveKey(s, tsh, key, sizeof key, &kl));
    e = EseSeek(s, tsh, key, kl, JET_bitSeekLT);
  }
  REQ(e == JET_errRecordNotFound && back == swant, "shared: LT walk saw %llu records, want %llu",
      (unsigned long long)back, (unsigned long long)swant);
  CK(JetEndSession(s, 0));
  CK(JetTerm2(inst, JET_bitTermComplete));
  *nrec = count + scount;
  return 1;
}

/* ---- rounds ---------------------------------------------------------------- */
static int round_inproc(int complete, stats *st, uint64_t *nrec, int *prefix_sum) {
  char dir[64];
  harness_tempdir(dir, sizeof dir, "threads");
  snprintf(dbpath, sizeof dbpath, "%s/threads.edb", dir);
  JET_INSTANCE inst;
  int ok = open_instance(dir, &inst) && setup_db(inst) && run_workload(inst, M, st);
  if (!ok) { harness_rm_rf(dir); return 0; }
  JET_ERR e = complete ? JetTerm2(inst, JET_bitTermComplete) : JetTerm(inst);
  if (e < 0) {
    failf("%s -> %ld %s", complete ? "JetTerm2(complete)" : "JetTerm", (long)e, EseErrorName(e));
    harness_rm_rf(dir);
    return 0;
  }
  int lo[MAXT], hi[MAXT], p[MAXT];
  for (int t = 0; t < N; t++) {
    lo[t] = complete ? M : atomic_load(&prog->durable[t]);
    hi[t] = M;
  }
  ok = verify(dir, M, lo, hi, p, nrec);
  *prefix_sum = 0;
  for (int t = 0; ok && t < N; t++) *prefix_sum += p[t];
  harness_rm_rf(dir);
  return ok;
}

/* Round 3: a child runs the workload with a large M and is killed. */
static int round_kill(int *durable_sum, int *prefix_sum, uint64_t *nrec) {
  const int m3 = 200000;
  char dir[64];
  harness_tempdir(dir, sizeof dir, "threads");
  snprintf(dbpath, sizeof dbpath, "%s/threads.edb", dir);
  atomic_store(&prog->started, 0);
  pid_t pid = harness_fork();
  if (pid == 0) {
    JET_INSTANCE inst;
    stats st;
    int ok = open_instance(dir, &inst) && setup_db(inst) && run_workload(inst, m3, &st);
    _exit(ok ? 0 : 1);
  }
  uint64_t t0 = harness_now_us();
  while (!atomic_load(&prog->started) && harness_now_us() - t0 < 30000000u) usleep(1000);
  /* let every thread commit for a while, then kill */
  usleep(300000);
  kill(pid, SIGKILL);
  int status = harness_wait(pid);
  if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
    failf("crash round: the child ended on its own (%s) before the kill", harness_status_text(status));
    harness_rm_rf(dir);
    return 0;
  }
  int lo[MAXT], hi[MAXT], p[MAXT];
  *durable_sum = 0;
  for (int t = 0; t < N; t++) {
    lo[t] = atomic_load(&prog->durable[t]);
    hi[t] = atomic_load(&prog->committed[t]) + 1;
    *durable_sum += lo[t];
  }
  int ok = verify(dir, m3, lo, hi, p, nrec);
  *prefix_sum = 0;
  for (int t = 0; ok && t < N; t++) *prefix_sum += p[t];
  harness_rm_rf(dir);
  return ok;
}

int main(int argc, char **argv) {
  if (argc > 1) N = atoi(argv[1]);
  if (argc > 2) M = atoi(argv[2]);
  if (argc > 3) reader_pace_us = (unsigned)atoi(argv[3]);
  if (N < 1 || N > MAXT || M < 1 || M > 999999) {
    printf("usage: threads [N (1..%d) [M [reader pause in us]]]\n", MAXT);
    return 2;
  }
  harness_start(0);
  prog = mmap(NULL, sizeof *prog, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (prog == MAP_FAILED) { printf("threads: FAIL: mmap\n"); return 1; }
  memset(prog, 0, sizeof *prog);

  stats st;
  uint64_t nrec;
  int psum;
  if (!round_inproc(1, &st, &nrec, &psum)) return 1;
  double secs = (double)st.us / 1e6;
  printf("threads: round 1 (clean term): %d threads x %d txns, %llu commits (%llu lazy) in %.2f s = %.0f commits/s; "
         "%llu concurrent seeks; %llu records verified after re-init\n",
         N, M, (unsigned long long)st.commits, (unsigned long long)st.lazies, secs, (double)st.commits / secs,
         (unsigned long long)st.seeks, (unsigned long long)nrec);
  double rate = (double)st.commits / secs;

  if (!round_inproc(0, &st, &nrec, &psum)) return 1;
  printf("threads: round 2 (abrupt term): %llu commits, %d recovered; %llu records verified\n",
         (unsigned long long)st.commits, psum, (unsigned long long)nrec);

  int dsum, psum3;
  if (!round_kill(&dsum, &psum3, &nrec)) return 1;
  printf("threads: round 3 (SIGKILL mid-run): %d durable commits returned, %d transactions recovered; "
         "%llu records verified\n", dsum, psum3, (unsigned long long)nrec);

  printf("threads: ok %d threads x %d txns, %.0f commits/s, clean + abrupt term + kill: every committed record back\n",
         N, M, rate);
  return 0;
}
