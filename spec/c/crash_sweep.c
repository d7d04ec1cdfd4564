/*
 * crash_sweep.c -- a process killed at every K-th engine write or sync
 * recovers to exactly the committed state (C harness of issue 2).
 *
 *   crash_sweep            ESE_CRASH_POINTS=n (default 200) crash points;
 *                          ESE_TORN_POINTS=n (default 300) torn-write and
 *                          power-cut points (see "torn writes" below);
 *                          ESE_CRASH_K=k1,k2 checks just those crash points;
 *                          ESE_CRASH_FAULT=torn:K:C:mode or power:K:S just
 *                          that fault point;
 *                          ESE_CRASH_GARBAGE=1 just the points that failed
 *                          before log format 3 (below), each failure listed,
 *                          exit 1 if any (harness_spec runs them);
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
 * Then the torn and power points (about ESE_TORN_POINTS): half on page
 * writes (head and tail), three eighths on log writes (head), an eighth
 * power cuts with seeds 4i (every unsynced write reverted) and 4i+1 (each
 * file's unsynced writes kept in order up to one torn with its head kept);
 * the same check after each.  They pass today because the log carries page
 * images that repair a torn page.
 *
 * ESE_CRASH_GARBAGE=1 runs instead the points the log before format 3 did
 * not survive (about 80 of 300 failed; they pass with the shadow slots of
 * docs/format.md): garbage on page writes, tail and garbage on log writes,
 * and power cuts with seeds 4i+2 and 4i+3 (sectors reordered).  Before the
 * slots, a log write torn with its tail new left zeros before valid
 * records, which the reader took for a hole in the log
 * (JET_errLogFileCorrupt: recovery refused); a garbage sector at the start
 * of a log write that begins inside a sector destroyed the records of
 * earlier, durable commits in that sector (a committed transaction lost).
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
#include "log.h"          /* LOG_DATA_START */

#define NTX 160      /* transactions after the setup (about 1100 writes and syncs in all) */
#define KS 400       /* data key space: k0000..k0399 */
#define VBUF 4096
#define MAXOPS 64

static char base[64];
static unsigned long long cur_k;   /* the crash point being checked */
static char cur_fault[96];         /* the torn or power point being checked, or "" */
static int garbage_mode;           /* ESE_CRASH_GARBAGE=1: a failed check is counted, not fatal */
static int in_check_child;         /* the check of a garbage point, in a child process */

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
  if (in_check_child) { fflush(stdout); _exit(1); }   /* the parent counts it and goes on */
  if (base[0] && getenv("ESE_KEEP")) printf("crash_sweep: folders kept in %s\n", base);
  else if (base[0]) harness_rm_rf(base);
  if (cur_fault[0]) printf("crash_sweep: reproduce: ESE_CRASH_FAULT=%s crash_sweep (ESE_KEEP=1 keeps the folders)\n", cur_fault);
  else if (cur_k) printf("crash_sweep: reproduce: ESE_CRASH_K=%llu crash_sweep (ESE_KEEP=1 keeps the folders)\n", cur_k);
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
static int run_child_traced(int recover, const char *dir, const char *seen, const char *fault, const char *count,
                            const char *trace) {
  pid_t pid = harness_fork();
  if (pid == 0) {
    alarm(120);   /* a hung child dies of SIGALRM, which the parent reports */
    if (fault) setenv("ESE_FAULT", fault, 1);
    if (count) setenv("ESE_FAULT_COUNT", count, 1);
    if (trace) setenv("ESE_FAULT_TRACE", trace, 1);
    if (recover) child_recover(dir);
    else child_workload(dir, seen);
    fflush(stdout);
    _exit(0);
  }
  return harness_wait(pid);
}

static int run_child(int recover, const char *dir, const char *seen, const char *fault, const char *count) {
  return run_child_traced(recover, dir, seen, fault, count, NULL);
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
    /* the key is not NUL-terminated: atoi read on into the stack ("m0014"
     * then "00" left there by an earlier call gave 1400 under make check) */
    if (kl == 5 && key[0] == 'm') {
      key[kl] = 0;
      found = atoi(key + 1);
    }
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

/* ---- torn writes and power cuts ---------------------------------------------------
 * The traced run without fault (ESE_FAULT_TRACE) lists every write: page
 * writes (crash.edb, one page) and log writes (records appended to a log
 * file: a .log file from its first record on, LOG_DATA_START, and a
 * flush's shadow slot; not its header, and not the zero fill of a new
 * file).  A
 * torn point runs the workload with ESE_FAULT=torn:K:C:mode at such a write
 * K: every cut C at which the write's end in the file crosses a 512-byte
 * sector boundary, plus one seeded cut between, in head mode (the first C
 * bytes new) and tail mode (the bytes from C new); a power point runs it
 * with ESE_FAULT=power:K:S (the unsynced writes reverted or torn by seed S
 * at event K).  Each then gets the same check as a crash point.  The
 * child's trace must show that the fault hit the write the point meant. */
typedef struct wev { uint64_t k, off; size_t n; char cls; } wev;   /* cls: 'p' page, 'l' log */
typedef struct wlist { wev *v; size_t n, cap, psz; } wlist;

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcmp(s + a - b, suffix);
}

static void read_writes(const char *trace, wlist *w) {
  FILE *f = fopen(trace, "r");
  if (!f) die("no trace in %s", trace);
  char line[600], kind[32], name[300];
  unsigned long long k, off;
  size_t n, fill = 0;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "%llu %31s %zu %llu %299s", &k, kind, &n, &off, name) != 5 || strcmp(kind, "write")) continue;
    char cls = 0;
    if (ends_with(name, ".edb")) {
      if (!w->psz) w->psz = n;    /* the first write of a database is its header page */
      if (n == w->psz) cls = 'p';
    } else if (ends_with(name, ".log") && off > 0) {
      if (!fill) fill = n;        /* the first is the zero fill of the first log file */
      /* records, and a flush's shadow slot (a commit's only write when it
       * ends in the block where the file's bytes in place end); not the
       * two slots a reopen writes at once */
      if (n != fill && (off >= LOG_DATA_START || ((off == LOG_SLOT_A || off == LOG_SLOT_B) && n == LOG_BLOCK)))
        cls = 'l';
    }
    if (!cls) continue;
    if (w->n == w->cap && !(w->v = realloc(w->v, (w->cap = w->cap ? 2 * w->cap : 256) * sizeof *w->v)))
      die("out of memory");
    w->v[w->n++] = (wev){ k, off, n, cls };
  }
  fclose(f);
}

static int same_file(const char *a, const char *b) {
  FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
  int same = fa && fb;
  while (same) {
    int ca = getc(fa), cb = getc(fb);
    if (ca != cb) same = 0;
    if (ca == EOF) break;
  }
  if (fa) fclose(fa);
  if (fb) fclose(fb);
  return same;
}

/* The cuts of write e: each C in (0, n) with off + C on a sector boundary,
 * then one seeded cut that is not; with zero, also C = 0 first (garbage: the
 * write's first sector, with what it held before the write, is noise).
 * Returns how many (at most max). */
static int cuts_of(const wev *e, size_t *c, int max, int zero) {
  int m = 0;
  if (zero) c[m++] = 0;
  for (size_t x = 512 - e->off % 512; x < e->n && m < max - 1; x += 512) c[m++] = x;
  if (e->n > 1 && m < max) {
    size_t r = 1 + harness_mix(e->k * 131 + e->n) % (e->n - 1);
    if ((e->off + r) % 512 == 0) r = r > 1 ? r - 1 : r + 1;
    c[m++] = r;
  }
  return m;
}

/* The child's trace line about its fault (the last line that starts with
 * "K torn" or "K power") in out. */
static int fault_line(const char *trace, uint64_t k, char *out, size_t n) {
  FILE *f = fopen(trace, "r");
  if (!f) return 0;
  char line[600], pre[64];
  int found = 0;
  while (fgets(line, sizeof line, f)) {
    int pl = snprintf(pre, sizeof pre, "%llu ", (unsigned long long)k);
    if (!strncmp(line, pre, (size_t)pl) && (!strncmp(line + pl, "torn", 4) || !strncmp(line + pl, "power", 5))) {
      snprintf(out, n, "%s", line);
      out[strcspn(out, "\n")] = 0;
      found = 1;
    }
  }
  fclose(f);
  return found;
}


/* One fault point: the workload with fault (it must be killed by it), the
 * fault line of its trace (must contain want), then the check, in a child
 * process in garbage mode.  Returns 1 when the check passed; power totals
 * in pw (reverted, torn, kept). */
static int fault_point(const char *fault, const char *want, const char *suffix, unsigned long pw[3]) {
  char dir[256], seen[256], trace[256], line[600], ctx[700];
  harness_fresh_dir(dir, sizeof dir, base, "run");
  snprintf(seen, sizeof seen, "%s/seen", base);
  snprintf(trace, sizeof trace, "%s/ptrace", base);
  unlink(seen);
  unlink(trace);
  uint64_t k = strtoull(strchr(fault, ':') + 1, NULL, 10);
  snprintf(cur_fault, sizeof cur_fault, "%s", fault);
  int st = run_child_traced(0, dir, seen, fault, NULL, trace);
  if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) die("workload with %s ended with %s", fault, harness_status_text(st));
  if (!fault_line(trace, k, line, sizeof line)) die("%s: no fault line in the trace", fault);
  if (!strstr(line, want) || !ends_with(line, suffix) || strstr(line, "lost")) die("%s: the fault hit something else: %s", fault, line);
  unsigned u[5];
  if (sscanf(line, "%*u power seed %*u: %u unsynced writes, %u reverted, %u torn, %u kept, %u failed",
             &u[0], &u[1], &u[2], &u[3], &u[4]) == 5) {
    if (u[4]) die("%s: %u reverts failed", fault, u[4]);
    pw[0] += u[1]; pw[1] += u[2]; pw[2] += u[3];
  }
  snprintf(ctx, sizeof ctx, "%s (%s)", fault, line);
  int c = read_seen(seen);
  if (!garbage_mode) {
    check(dir, c, ctx);
    return 1;
  }
  pid_t pid = harness_fork();
  if (pid == 0) {
    in_check_child = 1;
    check(dir, c, ctx);
    _exit(0);
  }
  return (st = harness_wait(pid), WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* The torn points of write e in mode; returns the number run, adds the
 * failed ones to *failed. */
static int torn_points(const wev *e, const char *mode, int *failed) {
  size_t c[256];
  int m = cuts_of(e, c, 256, !strcmp(mode, "garbage")), done = 0;
  char fault[96], want[96];
  unsigned long pw[3];
  int f0 = *failed;
  for (int i = 0; i < m; i++) {
    snprintf(fault, sizeof fault, "torn:%llu:%zu:%s", (unsigned long long)e->k, c[i], mode);
    snprintf(want, sizeof want, " torn %s %zu of %zu ", mode, c[i], e->n);
    if (!fault_point(fault, want, e->cls == 'p' ? " crash.edb" : ".log", pw)) (*failed)++;
    done++;
  }
  if (garbage_mode)
    printf("crash_sweep: %s write %llu (%zu bytes at %llu), %s: %d of %d points failed\n", e->cls == 'p' ? "page" : "log",
           (unsigned long long)e->k, e->n, (unsigned long long)e->off, mode, *failed - f0, done);
  return done;
}

/* Spreads picks over the writes of class cls (a golden-ratio walk: each
 * prefix of it is spread over the run) until about budget points in the
 * modes are made; a write with more cuts than the budget left (plus 8) is
 * passed over.  Returns the points made; failures add to *failed. */
static int torn_class(const wlist *w, char cls, int budget, const char *const *modes, int nmodes, int *failed,
                      int *nwrites) {
  size_t *idx = malloc((w->n + 1) * sizeof *idx), m = 0;
  char *used = calloc(w->n + 1, 1);
  if (!idx || !used) die("out of memory");
  for (size_t i = 0; i < w->n; i++)
    if (w->v[i].cls == cls) idx[m++] = i;
  int made = 0;
  size_t c[256];
  for (size_t j = 0; j < 4 * m && made < budget; j++) {
    size_t pick = (size_t)(((double)j * 0.6180339887498949 - (double)(uint64_t)((double)j * 0.6180339887498949)) * (double)m);
    if (used[pick]) continue;
    used[pick] = 1;
    const wev *e = &w->v[idx[pick]];
    int per = cuts_of(e, c, 256, 0) * nmodes;
    if (per > budget - made + 8) continue;
    for (int md = 0; md < nmodes; md++) made += torn_points(e, modes[md], failed);
    (*nwrites)++;
  }
  free(idx);
  free(used);
  return made;
}

/* The torn and power points: about budget of them, half on page writes,
 * three eighths on log writes, an eighth power cuts.  Returns how many. */
static int torn_sweep(const wlist *w, uint64_t T, int budget) {
  uint64_t t0 = harness_now_us();
  static const char *const modes[] = { "head", "tail" };
  int failed = 0, npw = 0, nlw = 0;
  int npow = budget / 8, pages = budget / 2;
  int np = torn_class(w, 'p', pages, modes, 2, &failed, &npw);
  int nl = torn_class(w, 'l', budget - npow - np, modes, 1, &failed, &nlw);
  unsigned long pw[3] = { 0, 0, 0 };
  char fault[96], want[64];
  for (int p = 0; p < npow; p++) {   /* seeds 4i and 4i+1: all reverted, or each file in order */
    uint64_t k = harness_spread((uint64_t)p, (uint64_t)npow, T);
    int seed = 4 * (p / 2) + p % 2;
    snprintf(fault, sizeof fault, "power:%llu:%d", (unsigned long long)k, seed);
    snprintf(want, sizeof want, " power seed %d:", seed);
    if (!fault_point(fault, want, "", pw)) failed++;
  }
  printf("crash_sweep: torn writes: %d points on %d page writes (head and tail), %d on %d log writes (head), each "
         "sector boundary and a seeded cut; %d power cuts (%lu unsynced writes reverted, %lu torn, %lu kept); %.1f s\n",
         np, npw, nl, nlw, npow, pw[0], pw[1], pw[2], (double)(harness_now_us() - t0) / 1e6);
  return np + nl + npow;
}

/* ESE_CRASH_FAULT=spec: just that fault point (torn:K:C:mode or
 * power:K:S).  ESE_CRASH_GARBAGE=1: just the garbage points (torn writes
 * with 512 bytes of noise at the cut), every failure counted and shown;
 * exits 1 when any failed. */
static int torn_only(const wlist *w, uint64_t T) {
  const char *one = getenv("ESE_CRASH_FAULT");
  unsigned long pw[3] = { 0, 0, 0 };
  if (one && *one) {
    fault_point(one, strncmp(one, "power", 5) ? " torn " : " power ", "", pw);
    harness_rm_rf(base);
    printf("crash_sweep: ok 1 fault point (%s) checked\n", one);
    return 0;
  }
  garbage_mode = 1;
  static const char *const gm[] = { "garbage" }, *const lm[] = { "tail", "garbage" };
  int budget = harness_env_int("ESE_TORN_POINTS", 300, 0);
  int fp = 0, fl = 0, npw = 0, nlw = 0;
  int np = torn_class(w, 'p', budget / 3, gm, 1, &fp, &npw);
  int nl = torn_class(w, 'l', budget - np - budget / 8, lm, 2, &fl, &nlw);
  int npow = budget / 8, fw = 0;
  char fault[96], want[64];
  for (int p = 0; p < npow; p++) {   /* seeds 4i+2 and 4i+3: the disk reorders sectors */
    uint64_t k = harness_spread((uint64_t)p, (uint64_t)npow, T);
    int seed = 4 * (p / 2) + 2 + p % 2;
    snprintf(fault, sizeof fault, "power:%llu:%d", (unsigned long long)k, seed);
    snprintf(want, sizeof want, " power seed %d:", seed);
    if (!fault_point(fault, want, "", pw)) fw++;
  }
  harness_rm_rf(base);
  printf("crash_sweep: expected to fail today: %d garbage points on %d page writes, %d failed; %d tail and garbage "
         "points on %d log writes, %d failed; %d reordering power cuts, %d failed\n", np, npw, fp, nl, nlw, fl, npow, fw);
  if (fp + fl + fw) {
    printf("crash_sweep: FAIL %d of %d points\n", fp + fl + fw, np + nl + npow);
    return 1;
  }
  printf("crash_sweep: ok %d points checked\n", np + nl + npow);
  return 0;
}

int main(void) {
  harness_start(1500);
  int points = harness_env_int("ESE_CRASH_POINTS", 200, 1);
  harness_tempdir(base, sizeof base, "crash");
  uint64_t t0 = harness_now_us();

  /* the event count of a run without fault (twice: is it deterministic?) */
  char dir[256], seen[256], cnt[256], fault[64], tp[2][256];
  uint64_t T = 0;
  for (int r = 0; r < 2; r++) {
    harness_fresh_dir(dir, sizeof dir, base, "count");
    snprintf(seen, sizeof seen, "%s/seen", base);
    snprintf(cnt, sizeof cnt, "%s/count.n", base);
    unlink(seen);
    snprintf(tp[r], sizeof tp[r], "%s/trace%d", base, r);
    int st = run_child_traced(0, dir, seen, NULL, cnt, tp[r]);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) die("workload without fault ended with %s", harness_status_text(st));
    if (read_seen(seen) != NTX) die("workload without fault saw %d commits", read_seen(seen));
    uint64_t t = read_count(cnt);
    if (check(dir, NTX, "no fault") != NTX) die("no fault: not every transaction back");
    if (r == 1 && t != T) printf("crash_sweep: note: event count differs between runs (%llu, %llu)\n",
                                 (unsigned long long)T, (unsigned long long)t);
    T = t;
  }
  if (T == 0) die("the workload made no writes?");
  wlist w = { 0 };
  read_writes(tp[0], &w);
  if (!same_file(tp[0], tp[1])) printf("crash_sweep: note: the events differ between runs (torn points may miss)\n");
  if (getenv("ESE_CRASH_FAULT") || getenv("ESE_CRASH_GARBAGE")) return torn_only(&w, T);

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
  printf("crash_sweep: %d crash points of %llu events checked (%d killed mid-run), %d recovery crashes; "
         "the commit in flight was back %d times, absent %d times; %.1f s\n",
         checked, (unsigned long long)T, killed, rec_crashes, hist_in, hist_cut, (double)(harness_now_us() - t0) / 1e6);
  int torn = nonly ? 0 : torn_sweep(&w, T, harness_env_int("ESE_TORN_POINTS", 300, 0));
  harness_rm_rf(base);
  printf("crash_sweep: ok %d crash points, %d torn/power points checked\n", checked, torn);
  return 0;
}
