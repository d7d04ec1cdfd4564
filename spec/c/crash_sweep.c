/*
 * crash_sweep.c -- a process killed at every K-th engine write or sync
 * recovers to exactly the committed state (C harness of issue 2).
 *
 *   crash_sweep            ESE_CRASH_POINTS=n (default 200) crash points;
 *                          ESE_CRASH_K=k1,k2 checks just those points;
 *                          ESE_KEEP=1 keeps the folders of a failure;
 *                          ESE_REAL_SYNC=1 keeps real syncs (see below)
 *
 * A child process (fork) runs a fixed, deterministic workload on a fresh
 * folder: create a database and a table (transaction 0), then NTX
 * transactions of mixed inserts, replaces and deletes (some large enough to
 * split pages, a rolled-back one now and then), each committed durably,
 * with 64 KiB log files (many log rolls and checkpoints) and a 16-page cache
 * (page write-back between checkpoints), then a clean term.  After each
 * commit returns, the child appends the transaction number to a "seen"
 * file with write() + fsync() (outside the engine).
 *
 * First a run without fault with ESE_FAULT_COUNT gives T, the number of
 * writes and syncs.  Then for K spread over 1..T the child runs with
 * ESE_FAULT=crash:K (SIGKILLed at its K-th write or sync), and the parent,
 * without the fault, re-inits an instance on the folder (soft recovery),
 * attaches the database and compares the table key by key with the model
 * after transaction c or c + 1, where c is the last number seen: every
 * returned commit is there, the one cut off is all or nothing, nothing
 * rolled back or uncommitted appears.  For every tenth crash point the
 * recovery itself is crashed first (a child with crash:J, J a pseudo-random
 * one of the events that recovery makes, counted on a copy of the folder),
 * every twentieth twice, before the parent recovers and checks.
 *
 * Prints "crash_sweep: ok ..." and exits 0, or what differed and exits 1.
 */
#include <dirent.h>
#include <signal.h>

#define HARNESS_NAME "crash_sweep"
/* A failure removes the folders (ESE_KEEP=1 keeps them) and says how to
 * reproduce it. */
__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...);
#define FAIL die
#include "harness.h"

#define NTX 160      /* transactions after the setup (about 1100 writes and syncs in all) */
#define KS 400       /* data key space: k0000..k0399 */
#define VBUF 4096
#define MAXOPS 64

static char base[64];
static unsigned long long cur_k;   /* the crash point being checked */

/* The crash injected here is a SIGKILL of the process: what the engine wrote
 * has reached the kernel and survives it whether synced or not, so a sync
 * changes nothing these checks can see; fsync and fdatasync are no-ops
 * (ESE_REAL_SYNC=1 keeps the real calls). */
HARNESS_SYNCS_OFF()

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  harness_vreport("FAIL", fmt, ap);
  va_end(ap);
  if (base[0] && getenv("ESE_KEEP")) printf("crash_sweep: folders kept in %s\n", base);
  else if (base[0]) harness_rm_rf(base);
  if (cur_k) printf("crash_sweep: reproduce: ESE_CRASH_K=%llu crash_sweep (ESE_KEEP=1 keeps the folders)\n", cur_k);
  fflush(stdout);
  exit(1);
}

/* "<key>|<gen>|" and filler; big values (split pages) for some gens. */
static size_t make_value(char *out, const char *key, size_t klen, uint32_t gen) {
  uint64_t h = harness_value_hash(key, klen, gen);
  return harness_value(out, key, klen, gen, h, (gen / 16) % 4 == 0 && h % 3 == 0 ? 900 + h % 1000 : 20 + h % 300);
}

/* ---- the workload and its model ------------------------------------------- */
enum { OP_PUT, OP_DEL };
typedef struct op { int kind, id; uint32_t gen; } op;

/* The ops of transaction n (1..NTX), given the model before it. */
static int txn_ops(int n, const uint32_t *model, op *ops) {
  uint64_t r = harness_mix((uint64_t)n * 7919);
  int nops = n % 10 == 0 ? 40 : 3 + (int)(r % 8);
  uint32_t cur[KS];
  memcpy(cur, model, sizeof cur);
  int k = 0;
  for (; k < nops && k < MAXOPS - 1; k++) {
    r = harness_mix(r);
    int id = (int)(r % KS);
    uint32_t gen = (uint32_t)n * 64 + (uint32_t)k;
    if (cur[id] && (r >> 32) % 3 == 0) ops[k] = (op){ OP_DEL, id, 0 };
    else ops[k] = (op){ OP_PUT, id, gen };
    cur[id] = ops[k].kind == OP_PUT ? gen : 0;
  }
  return k;
}

static void model_apply(uint32_t *model, const op *ops, int n) {
  for (int k = 0; k < n; k++) model[ops[k].id] = ops[k].kind == OP_PUT ? ops[k].gen : 0;
}

static void model_after(uint32_t *model, int c) {
  memset(model, 0, KS * sizeof *model);
  op ops[MAXOPS];
  for (int n = 1; n <= c; n++) model_apply(model, ops, txn_ops(n, model, ops));
}

static size_t data_key(char *k, int id) { return (size_t)sprintf(k, "k%04d", id); }
static size_t marker_key(char *k, int n) { return (size_t)sprintf(k, "m%04d", n); }

/* ---- instances --------------------------------------------------------------- */
/* 64 KiB log files; a 16-page cache for the workload and its recovery. */
static JET_ERR make_instance(const char *dir, JET_INSTANCE *inst, int small_cache) {
  char name[64];
  return harness_instance(inst, harness_unique_name(name, sizeof name, "crash"), dir, 64, small_cache ? 16 : 0);
}

/* In a child: exit 3 with a message; CCK: an engine call that must succeed. */
#define CHILD_FAIL(...) harness_exit(3, "child", __VA_ARGS__)
#define CCK(x) HARNESS_CK(x, CHILD_FAIL)

static void seen_append(int fd, int n) {
  char b[16];
  int len = snprintf(b, sizeof b, "%d\n", n);
  if (write(fd, b, (size_t)len) != len || fsync(fd) != 0) CHILD_FAIL("seen file: %s", strerror(errno));
}

static void child_workload(const char *dir, const char *seen) {
  int fd = open(seen, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) _exit(3);
  char path[512], key[32], val[VBUF];
  snprintf(path, sizeof path, "%s/crash.edb", dir);
  JET_INSTANCE inst;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  CCK(make_instance(dir, &inst, 1));
  CCK(JetInit(&inst));
  CCK(harness_create_table(inst, path, "t", &s, &db, &t));
  seen_append(fd, 0);
  uint32_t model[KS] = { 0 };
  op ops[MAXOPS];
  for (int n = 1; n <= NTX; n++) {
    if (n % 6 == 0) {  /* a rolled-back transaction: never visible */
      CCK(JetBeginTransaction(s));
      for (int k = 0; k < 5; k++) {
        size_t kl = (size_t)sprintf(key, "x%04d", n * 10 + k);
        size_t vl = make_value(val, key, kl, 1);
        CCK(EsePut(s, t, key, kl, val, vl));
      }
      CCK(JetRollback(s, 0));
    }
    int nops = txn_ops(n, model, ops);
    CCK(JetBeginTransaction(s));
    for (int k = 0; k < nops; k++) {
      size_t kl = data_key(key, ops[k].id);
      if (ops[k].kind == OP_DEL) {
        CCK(EseDelete(s, t, key, kl));
      } else {
        size_t vl = make_value(val, key, kl, ops[k].gen);
        CCK(EsePut(s, t, key, kl, val, vl));
      }
    }
    size_t kl = marker_key(key, n);
    size_t vl = make_value(val, key, kl, (uint32_t)n);
    CCK(EsePut(s, t, key, kl, val, vl));
    CCK(JetCommitTransaction(s, 0));
    model_apply(model, ops, nops);
    seen_append(fd, n);
  }
  CCK(JetEndSession(s, 0));
  CCK(JetTerm2(inst, JET_bitTermComplete));
  close(fd);
}

/* Recovery in a child (maybe with a crash fault): init, attach, clean term.
 * Errors other than init are left for the parent's check to judge. */
static void child_recover(const char *dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/crash.edb", dir);
  JET_INSTANCE inst;
  JET_SESID s;
  JET_DBID db;
  CCK(make_instance(dir, &inst, 1));
  CCK(JetInit(&inst));
  CCK(JetBeginSession(inst, &s, NULL, NULL));
  if (JetAttachDatabase(s, path, 0) >= 0) JetOpenDatabase(s, path, NULL, &db, 0);
  CCK(JetTerm2(inst, JET_bitTermComplete));
}

/* Runs fn(dir[, seen]) in a child with ESE_FAULT=fault (or none) and
 * ESE_FAULT_COUNT=count (or none).  Returns the wait status. */
static int run_child(int recover, const char *dir, const char *seen, const char *fault, const char *count) {
  pid_t pid = harness_fork();
  if (pid == 0) {
    alarm(120);   /* a hung child dies of SIGALRM, which the parent reports */
    if (fault) setenv("ESE_FAULT", fault, 1);
    if (count) setenv("ESE_FAULT_COUNT", count, 1);
    if (recover) child_recover(dir);
    else child_workload(dir, seen);
    fflush(stdout);
    _exit(0);
  }
  return harness_wait(pid);
}

/* A child must end killed by the fault, or normally when K was beyond its
 * events. */
static int expect_crash(int st, const char *what, unsigned long k) {
  if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) return 1;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
  die("%s with crash:%lu ended with %s", what, k, harness_status_text(st));
  return 0;
}

static uint64_t read_count(const char *path) {
  unsigned long long n;
  if (!harness_read_count(path, &n)) die("no event count in %s", path);
  return n;
}

/* The last transaction number in the seen file, -1 when empty. */
static int read_seen(const char *path) {
  FILE *f = fopen(path, "r");
  int last = -1, n;
  if (!f) return -1;
  while (fscanf(f, "%d", &n) == 1) last = n;
  fclose(f);
  return last;
}

/* ---- the check ----------------------------------------------------------------
 * Soft recovery on dir, then the table must equal the model after c or c+1.
 * Returns the transaction count found; dies on any difference. */
static int check(const char *dir, int c, const char *ctx) {
  char path[512], msg[512];
  snprintf(path, sizeof path, "%s/crash.edb", dir);
  JET_INSTANCE inst;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  JET_ERR e = make_instance(dir, &inst, 0);
  if (e) die("%s: instance: %ld", ctx, (long)e);
  e = JetInit(&inst);
  if (e < 0)
    die("%s: recovery failed: %s; seen %d", ctx, harness_instance_error(msg, sizeof msg, inst, e, "JetInit"), c);
#define PCKE(x, what)                                                                                  \
  do {                                                                                                 \
    JET_ERR e_ = (x);                                                                                  \
    if (e_ < 0) die("%s: %s; seen %d", ctx, harness_session_error(msg, sizeof msg, s, e_, what), c);  \
  } while (0)
#define PCK(x) PCKE(x, #x)
  if ((e = JetBeginSession(inst, &s, NULL, NULL)) < 0) die("%s: JetBeginSession -> %ld", ctx, (long)e);
  e = JetAttachDatabase(s, path, 0);
  if (e == JET_errFileNotFound && c < 0) {   /* crashed before the database was created */
    JetTerm2(inst, JET_bitTermComplete);
    return -1;
  }
  if (e < 0) PCKE(e, "JetAttachDatabase");
  PCK(JetOpenDatabase(s, path, NULL, &db, 0));
  e = EseOpenTable(s, db, "t", &t);
  if (e == JET_errObjectNotFound && c < 0) {  /* crashed before the table was created */
    JetTerm2(inst, JET_bitTermComplete);
    return -1;
  }
  if (e < 0) PCKE(e, "EseOpenTable");
  /* the transaction count: the highest marker */
  char key[300], val[VBUF], ekey[32], eval[VBUF];
  size_t kl, vl;
  int found = 0;
  e = EseSeek(s, t, "m~", 2, JET_bitSeekLT);
  if (e == 0) {
    PCK(EseRetrieveKey(s, t, key, sizeof key, &kl));
    if (kl == 5 && key[0] == 'm') found = atoi(key + 1);
  } else if (e != JET_errRecordNotFound) {
    PCKE(e, "EseSeek");
  }
  int hi = c + 1 > NTX ? NTX : c + 1;
  if (found < (c < 0 ? 0 : c) || found > hi)
    die("%s: recovered %d transactions, but %d returned committed (allowed %d..%d)", ctx, found, c, c < 0 ? 0 : c, hi);
  /* every record, in order, against the model after `found` */
  uint32_t model[KS];
  model_after(model, found);
  e = EseSeek(s, t, NULL, 0, JET_bitSeekGE);
  int nrec = 0;
  for (int pass = 0; pass < 2; pass++) {
    int lim = pass == 0 ? KS : found + 1;
    for (int id = pass == 0 ? 0 : 1; id < lim; id++) {
      size_t ekl, evl;
      if (pass == 0) {
        if (!model[id]) continue;
        ekl = data_key(ekey, id);
        evl = make_value(eval, ekey, ekl, model[id]);
      } else {
        ekl = marker_key(ekey, id);
        evl = make_value(eval, ekey, ekl, (uint32_t)id);
      }
      if (e == JET_errRecordNotFound) die("%s: after %d txns: %s missing (end of table)", ctx, found, ekey);
      PCKE(e, "EseSeek");
      PCK(EseRetrieveKey(s, t, key, sizeof key, &kl));
      PCK(EseRetrieveValue(s, t, val, sizeof val, &vl));
      if (kl != ekl || memcmp(key, ekey, kl))
        die("%s: after %d txns: found key %.*s where %s was expected", ctx, found, (int)kl, key, ekey);
      if (vl != evl || memcmp(val, eval, vl))
        die("%s: after %d txns: %s has a wrong value (%.*s...)", ctx, found, ekey, (int)(vl < 16 ? vl : 16), val);
      nrec++;
      e = EseSeek(s, t, key, kl, JET_bitSeekGT);
    }
  }
  if (e == 0) {
    PCK(EseRetrieveKey(s, t, key, sizeof key, &kl));
    die("%s: after %d txns: extra record %.*s", ctx, found, (int)kl, key);
  }
  if (e != JET_errRecordNotFound) PCKE(e, "EseSeek");
  PCK(JetEndSession(s, 0));
  e = JetTerm2(inst, JET_bitTermComplete);
  if (e < 0) die("%s: JetTerm2 after the check -> %ld %s", ctx, (long)e, EseErrorName(e));
  return found;
#undef PCK
#undef PCKE
}

/* ---- folders ------------------------------------------------------------------- */
static void copy_dir(const char *from, const char *to) {
  if (mkdir(to, 0700) != 0) die("mkdir %s: %s", to, strerror(errno));
  DIR *d = opendir(from);
  if (!d) die("opendir %s", from);
  struct dirent *de;
  char a[600], b[600];
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    snprintf(a, sizeof a, "%s/%s", from, de->d_name);
    snprintf(b, sizeof b, "%s/%s", to, de->d_name);
    if (harness_copy_file(a, b) != 0) die("copy %s to %s: %s", a, b, strerror(errno));
  }
  closedir(d);
}

/* Crashes the recovery of dir at a point J of the events it makes (counted
 * on a copy); returns 1 when it was killed. */
static int crash_recovery(const char *dir, uint64_t salt, unsigned long *jout, uint64_t *jtotal) {
  char copy[256], cnt[256], fault[64];
  snprintf(copy, sizeof copy, "%s/rcopy", base);
  snprintf(cnt, sizeof cnt, "%s/rcount", base);
  harness_rm_rf(copy);
  copy_dir(dir, copy);
  unlink(cnt);
  int st = run_child(1, copy, NULL, NULL, cnt);
  if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) die("counting recovery on a copy of %s ended with %s", dir, harness_status_text(st));
  uint64_t jt = read_count(cnt);
  harness_rm_rf(copy);
  unsigned long j = jt ? 1 + (unsigned long)(harness_mix(salt) % jt) : 1;
  snprintf(fault, sizeof fault, "crash:%lu", j);
  st = run_child(1, dir, NULL, fault, NULL);
  *jout = j;
  *jtotal = jt;
  return expect_crash(st, "recovery", j);
}

int main(void) {
  harness_start(1500);
  int points = harness_env_int("ESE_CRASH_POINTS", 200, 1);
  harness_tempdir(base, sizeof base, "crash");
  uint64_t t0 = harness_now_us();

  /* the event count of a run without fault (twice: is it deterministic?) */
  char dir[256], seen[256], cnt[256], fault[64];
  uint64_t T = 0;
  for (int r = 0; r < 2; r++) {
    harness_fresh_dir(dir, sizeof dir, base, "count");
    snprintf(seen, sizeof seen, "%s/seen", base);
    snprintf(cnt, sizeof cnt, "%s/count.n", base);
    unlink(seen);
    int st = run_child(0, dir, seen, NULL, cnt);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) die("workload without fault ended with %s", harness_status_text(st));
    if (read_seen(seen) != NTX) die("workload without fault saw %d commits", read_seen(seen));
    uint64_t t = read_count(cnt);
    if (check(dir, NTX, "no fault") != NTX) die("no fault: not every transaction back");
    if (r == 1 && t != T) printf("crash_sweep: note: event count differs between runs (%llu, %llu)\n",
                                 (unsigned long long)T, (unsigned long long)t);
    T = t;
  }
  if (T == 0) die("the workload made no writes?");

  /* the sweep */
  uint64_t npts = (uint64_t)points < T ? (uint64_t)points : T;
  /* ESE_CRASH_K=k1,k2,... checks just those points (to reproduce one) */
  uint64_t only[256];
  int nonly = 0;
  const char *ok_env = getenv("ESE_CRASH_K");
  for (const char *q = ok_env; q && *q && nonly < 256;) {
    only[nonly++] = strtoull(q, (char **)&q, 10);
    while (*q == ',' || *q == ' ') q++;
  }
  if (nonly) npts = (uint64_t)nonly;
  int checked = 0, killed = 0, rec_crashes = 0, hist_cut = 0, hist_in = 0;
  uint64_t last_k = 0;
  for (uint64_t p = 0; p < npts; p++) {
    uint64_t k = nonly ? only[p] : harness_spread(p, npts, T);
    if (k == last_k) continue;
    last_k = k;
    cur_k = k;
    harness_fresh_dir(dir, sizeof dir, base, "run");
    snprintf(seen, sizeof seen, "%s/seen", base);
    unlink(seen);
    snprintf(fault, sizeof fault, "crash:%llu", (unsigned long long)k);
    int st = run_child(0, dir, seen, fault, NULL);
    killed += expect_crash(st, "workload", (unsigned long)k);
    int c = read_seen(seen);
    char ctx[160];
    if (p % 10 == 5) {
      unsigned long j1 = 0, j2 = 0;
      uint64_t jt1 = 0, jt2 = 0;
      rec_crashes += crash_recovery(dir, k, &j1, &jt1);
      if (p % 20 == 5) rec_crashes += crash_recovery(dir, k * 31 + 7, &j2, &jt2);   /* and once more */
      snprintf(ctx, sizeof ctx, "crash:%llu (of %llu), recovery crashed at %lu/%llu%s", (unsigned long long)k,
               (unsigned long long)T, j1, (unsigned long long)jt1, j2 ? " and again" : "");
    } else {
      snprintf(ctx, sizeof ctx, "crash:%llu (of %llu)", (unsigned long long)k, (unsigned long long)T);
    }
    int found = check(dir, c, ctx);
    if (found > c && c < NTX) hist_in++;
    else if (c < NTX && c >= 0) hist_cut++;
    checked++;
  }
  harness_rm_rf(base);
  printf("crash_sweep: %d crash points of %llu events checked (%d killed mid-run), %d recovery crashes; "
         "the commit in flight was back %d times, absent %d times; %.1f s\n",
         checked, (unsigned long long)T, killed, rec_crashes, hist_in, hist_cut, (double)(harness_now_us() - t0) / 1e6);
  printf("crash_sweep: ok %d crash points checked\n", checked);
  return 0;
}
