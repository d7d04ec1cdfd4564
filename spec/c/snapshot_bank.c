/*
 * snapshot_bank.c -- snapshot isolation and write conflicts under real
 * threads (C harness of issue 11).
 *
 *   snapshot_bank [W [R [MS [PAD]]]]  W mover threads (default 4), R
 *                               summing threads (default 2), MS
 *                               milliseconds per round (default 1500), PAD
 *                               (default 0): each balance is followed by
 *                               0 .. PAD filler bytes, as many and which
 *                               ones a function of the balance, so that
 *                               with PAD above a page the accounts are
 *                               long values, replaced again and again, and
 *                               every read checks the whole value
 *
 * Table "acct" holds NACC accounts of START each.  Each mover repeats: in
 * a transaction, read two accounts, move an amount from one to the other
 * (two puts), commit; JET_errWriteConflict from a put means roll back and
 * retry, which is the only error allowed.  Each summer repeats: in a
 * transaction, sum every account three ways while the movers commit
 * (a forward walk by GE/GT seeks, a backward walk by LE/LT seeks, and an
 * EQ seek of each account) pausing now and then; every sum must be the
 * starting total and every walk must see NACC accounts.
 *
 * Round 1: in this process; afterwards the total holds outside a
 *          transaction, no transaction is open and the version store is
 *          empty (EseGetVersionStoreInfo); clean term.
 * Round 2: the same in a child process SIGKILLed mid-run (kill -9); soft
 *          recovery at the next init brings back a state whose total still
 *          holds with NACC accounts.
 *
 * Prints "snapshot_bank: ok ..." and exits 0, or what differed and exits 1.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>

#define HARNESS_NAME "snapshot_bank"
#define FAIL_RETURN(...)                                                                      \
  do {                                                                                        \
    failf(__VA_ARGS__);                                                                       \
    return 0;                                                                                 \
  } while (0)
#define CK(x) HARNESS_CK(x, FAIL_RETURN)
#include "harness.h"

HARNESS_SYNCS_OFF()   /* a kill -9 keeps the page cache: the syncs change nothing here */

#define NACC 64
#define START 1000
#define MAXT 16

static int W = 4, R = 2, MS = 1500, PAD = 0;

/* ---- failures and counters (MAP_SHARED: round 2 reads a child's) ------ */
typedef struct shared {
  atomic_int failed;
  char msg[512];
  atomic_int started;            /* threads running */
  atomic_llong commits, conflicts, sums, steps;
} shared;
static shared *sh;
static pthread_mutex_t fail_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int stop;
static JET_INSTANCE g_inst;
static char dbpath[512];

__attribute__((format(printf, 1, 2))) static void failf(const char *fmt, ...) {
  pthread_mutex_lock(&fail_mu);
  if (!atomic_load(&sh->failed)) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sh->msg, sizeof sh->msg, fmt, ap);
    va_end(ap);
    atomic_store(&sh->failed, 1);
  }
  atomic_store(&stop, 1);
  pthread_mutex_unlock(&fail_mu);
}

static size_t acct_key(char *k, int i) { return (size_t)sprintf(k, "acct%03d", i); }

/* The filler after balance bal: its length (0 .. PAD) and byte. */
static size_t pad_len(long bal) { return PAD ? (size_t)(harness_mix((uint64_t)bal * 2654435761u + 7) % (uint64_t)(PAD + 1)) : 0; }
static char pad_byte(long bal) { return (char)('a' + bal % 26); }

/* The balance at the cursor (a decimal string, then its filler). */
static int cur_balance(JET_SESID s, JET_TABLEID t, long *bal) {
  size_t cap = (size_t)PAD + 32, n = 0;
  char *v = malloc(cap + 1);
  if (!v) FAIL_RETURN("out of memory");
  JET_ERR e = EseRetrieveValue(s, t, v, cap, &n);
  if (e != JET_errSuccess || n == 0 || n > cap) {
    free(v);
    FAIL_RETURN("a balance of %zu bytes (%s)", n, harness_err_name(e));
  }
  v[n] = 0;
  char *end;
  *bal = strtol(v, &end, 10);
  size_t digits = (size_t)(end - v), want = pad_len(*bal);
  int ok = digits > 0 && n == digits + want;
  for (size_t i = digits; ok && i < n; i++) ok = v[i] == pad_byte(*bal);
  if (!ok) {
    v[digits < 24 ? digits : 24] = 0;
    failf("a balance %s.. of %zu bytes, not its %zu digits and %zu filler bytes", v, n, digits, want);
  }
  free(v);
  return ok;
}

static int get_balance(JET_SESID s, JET_TABLEID t, int i, long *bal) {
  char k[16];
  size_t kl = acct_key(k, i);
  JET_ERR e = EseSeek(s, t, k, kl, JET_bitSeekEQ);
  if (e != JET_errSuccess) FAIL_RETURN("seek %s -> %s", k, harness_err_name(e));
  return cur_balance(s, t, bal);
}

/* A put that may conflict: 1 done, 0 failed, -1 a write conflict. */
static int put_balance(JET_SESID s, JET_TABLEID t, int i, long bal) {
  char k[16];
  size_t kl = acct_key(k, i), pl = pad_len(bal);
  char *v = malloc(32 + pl);
  if (!v) FAIL_RETURN("out of memory");
  int vl = snprintf(v, 32, "%ld", bal);
  memset(v + vl, pad_byte(bal), pl);
  JET_ERR e = EsePut(s, t, k, kl, v, (size_t)vl + pl);
  free(v);
  if (e == JET_errWriteConflict) return -1;
  if (e < 0) FAIL_RETURN("put %s -> %s", k, harness_err_name(e));
  return 1;
}

static int open_session(JET_SESID *s, JET_TABLEID *t) {
  JET_DBID db;
  CK(harness_open_table(g_inst, dbpath, 0, "acct", s, &db, t));
  return 1;
}

/* One transfer, retried until it commits. */
static int transfer(JET_SESID s, JET_TABLEID t, uint64_t *rng) {
  *rng = harness_mix(*rng);
  int a = (int)(*rng % NACC), b = (int)((*rng >> 20) % (NACC - 1));
  if (b >= a) b++;
  long amount = (long)((*rng >> 40) % 50);
  for (;;) {
    long ba, bb;
    CK(JetBeginTransaction(s));
    if (!get_balance(s, t, a, &ba) || !get_balance(s, t, b, &bb)) return 0;
    long m = amount < ba ? amount : ba;
    if ((*rng >> 10) % 4 == 0) sched_yield();   /* let the others in between read and write */
    int r = put_balance(s, t, a, ba - m);
    if (r > 0) r = put_balance(s, t, b, bb + m);
    if (r == 0) return 0;
    if (r < 0) {
      atomic_fetch_add(&sh->conflicts, 1);
      CK(JetRollback(s, 0));
      continue;
    }
    CK(JetCommitTransaction(s, (*rng >> 12) % 2 ? JET_bitCommitLazyFlush : 0));
    atomic_fetch_add(&sh->commits, 1);
    return 1;
  }
}

static void *mover(void *arg) {
  uint64_t rng = (uint64_t)(intptr_t)arg * 7919u + 1;
  JET_SESID s;
  JET_TABLEID t;
  if (!open_session(&s, &t)) return NULL;
  atomic_fetch_add(&sh->started, 1);
  while (!atomic_load(&stop))
    if (!transfer(s, t, &rng)) break;
  if (JetEndSession(s, 0) < 0) failf("mover: JetEndSession failed");
  return NULL;
}

/* Walks the table in one direction from its end: the sum and count of the
 * accounts seen. */
static int walk(JET_SESID s, JET_TABLEID t, int forward, long *sum, int *count, uint64_t *rng) {
  *sum = 0;
  *count = 0;
  char last[16];
  size_t ll = 0;
  for (;;) {
    JET_ERR e = ll ? EseSeek(s, t, last, ll, forward ? JET_bitSeekGT : JET_bitSeekLT)
                   : EseSeek(s, t, "", 0, forward ? JET_bitSeekGE : JET_bitSeekLE);
    if (e == JET_errRecordNotFound) return 1;
    if (e < 0) FAIL_RETURN("walk seek -> %s", harness_err_name(e));
    CK(EseRetrieveKey(s, t, last, sizeof last, &ll));
    if (ll >= sizeof last) FAIL_RETURN("a key of %zu bytes", ll);
    long bal;
    if (!cur_balance(s, t, &bal)) return 0;
    *sum += bal;
    (*count)++;
    atomic_fetch_add(&sh->steps, 1);
    *rng = harness_mix(*rng);
    if (*rng % 16 == 0) usleep(50);   /* commits of the movers land mid-walk */
  }
}

static void *summer(void *arg) {
  uint64_t rng = (uint64_t)(intptr_t)arg * 104729u + 3;
  JET_SESID s;
  JET_TABLEID t;
  if (!open_session(&s, &t)) return NULL;
  atomic_fetch_add(&sh->started, 1);
  while (!atomic_load(&stop)) {
    if (JetBeginTransaction(s) < 0) { failf("summer: begin failed"); break; }
    long fsum, bsum, esum = 0;
    int fcount, bcount;
    if (!walk(s, t, 1, &fsum, &fcount, &rng) || !walk(s, t, 0, &bsum, &bcount, &rng)) break;
    int ok = 1;
    for (int i = 0; ok && i < NACC; i++) {
      long b;
      ok = get_balance(s, t, i, &b);
      esum += b;
    }
    if (!ok) break;
    if (fsum != (long)NACC * START || bsum != fsum || esum != fsum || fcount != NACC || bcount != NACC) {
      failf("a snapshot's sums differ: forward %ld over %d, backward %ld over %d, by key %ld; want %ld over %d",
            fsum, fcount, bsum, bcount, esum, (long)NACC * START, NACC);
      break;
    }
    atomic_fetch_add(&sh->sums, 1);
    JET_ERR e = rng % 2 ? JetCommitTransaction(s, 0) : JetRollback(s, 0);
    if (e < 0) { failf("summer: end of transaction -> %s", harness_err_name(e)); break; }
  }
  if (JetEndSession(s, 0) < 0) failf("summer: JetEndSession failed");
  return NULL;
}

/* An initialized instance on dir; attach: the database exists (after a
 * term or a kill), attach it. */
static int open_instance(const char *dir, int attach) {
  char name[64];
  CK(harness_instance(&g_inst, harness_unique_name(name, sizeof name, "bank"), dir, 256, 0));
  CK(JetInit(&g_inst));
  if (attach) {
    JET_SESID s;
    CK(JetBeginSession(g_inst, &s, NULL, NULL));
    CK(JetAttachDatabase(s, dbpath, 0));
    CK(JetEndSession(s, 0));
  }
  return 1;
}

static int setup(void) {
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  CK(harness_create_table(g_inst, dbpath, "acct", &s, &db, &t));
  CK(JetBeginTransaction(s));
  for (int i = 0; i < NACC; i++)
    if (put_balance(s, t, i, START) <= 0) FAIL_RETURN("setup put failed");
  CK(JetCommitTransaction(s, 0));
  CK(JetEndSession(s, 0));
  return 1;
}

/* Runs the threads for ms milliseconds (forever when ms is 0). */
static int run(int ms) {
  pthread_t th[2 * MAXT];
  int n = 0;
  atomic_store(&stop, 0);
  for (int i = 0; i < W; i++)
    if (pthread_create(&th[n++], NULL, mover, (void *)(intptr_t)(i + 1)) != 0) FAIL_RETURN("pthread_create");
  for (int i = 0; i < R; i++)
    if (pthread_create(&th[n++], NULL, summer, (void *)(intptr_t)(i + 1)) != 0) FAIL_RETURN("pthread_create");
  uint64_t t0 = harness_now_us();
  while (!atomic_load(&stop) && (ms == 0 || harness_now_us() - t0 < (uint64_t)ms * 1000u)) usleep(10000);
  atomic_store(&stop, 1);
  for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
  return !atomic_load(&sh->failed);
}

/* The total and the count of accounts outside a transaction. */
static int check_total(const char *when) {
  JET_SESID s;
  JET_TABLEID t;
  if (!open_session(&s, &t)) return 0;
  long sum = 0;
  for (int i = 0; i < NACC; i++) {
    long b;
    if (!get_balance(s, t, i, &b)) return 0;
    if (b < 0) FAIL_RETURN("%s: account %d has %ld", when, i, b);
    sum += b;
  }
  if (sum != (long)NACC * START) FAIL_RETURN("%s: the total is %ld, want %ld", when, sum, (long)NACC * START);
  EseVersionStoreInfo vi;
  CK(EseGetVersionStoreInfo(g_inst, &vi));
  if (vi.cbVersions || vi.cVersions || vi.cbUncommitted || vi.cTransactions)
    FAIL_RETURN("%s: the version store holds %llu bytes, %llu versions, %llu uncommitted, %lu transactions",
                when, vi.cbVersions, vi.cVersions, vi.cbUncommitted, vi.cTransactions);
  CK(JetEndSession(s, 0));
  return 1;
}

static int round_inproc(const char *dir) {
  if (!open_instance(dir, 0) || !setup() || !run(MS) || !check_total("after round 1")) return 0;
  CK(JetTerm2(g_inst, JET_bitTermComplete));
  if (!open_instance(dir, 1) || !check_total("after re-init")) return 0;
  CK(JetTerm2(g_inst, JET_bitTermComplete));
  return 1;
}

static int round_kill(const char *dir) {
  atomic_store(&sh->started, 0);
  long long c0 = atomic_load(&sh->commits);
  pid_t pid = harness_fork();
  if (pid == 0) {
    int ok = open_instance(dir, 0) && setup() && run(0);
    _exit(ok ? 0 : 1);
  }
  uint64_t t0 = harness_now_us();
  while (atomic_load(&sh->started) < W + R && !atomic_load(&sh->failed) && harness_now_us() - t0 < 30000000u)
    usleep(1000);
  usleep((useconds_t)MS * 500u);
  /* and a transfer committed (a loaded machine may not have run a mover
   * in those MS / 2 ms: then nothing was tested, which the check below
   * reports); a bound for a hang only */
  for (uint64_t lim = harness_now_us() + HARNESS_WAIT_US;
       atomic_load(&sh->commits) == c0 && !atomic_load(&sh->failed) && harness_now_us() < lim;)
    usleep(1000);
  kill(pid, SIGKILL);
  int status = harness_wait(pid);
  if (atomic_load(&sh->failed)) return 0;
  if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
    FAIL_RETURN("crash round: the child ended on its own (%s) before the kill", harness_status_text(status));
  if (atomic_load(&sh->commits) == c0) FAIL_RETURN("crash round: no transfer committed before the kill");
  if (!open_instance(dir, 1) || !check_total("after kill -9 and recovery")) return 0;
  CK(JetTerm2(g_inst, JET_bitTermComplete));
  return 1;
}

int main(int argc, char **argv) {
  if (argc > 1) W = atoi(argv[1]);
  if (argc > 2) R = atoi(argv[2]);
  if (argc > 3) MS = atoi(argv[3]);
  if (argc > 4) PAD = atoi(argv[4]);
  if (W < 2 || W > MAXT || R < 1 || R > MAXT || MS < 100 || PAD < 0 || PAD > (1 << 24)) {
    printf("usage: snapshot_bank [W (2..%d) [R (1..%d) [ms (>= 100) [pad (0..2^24)]]]]\n", MAXT, MAXT);
    return 2;
  }
  harness_start(600);
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED) FAIL("mmap: %s", strerror(errno));
  memset(sh, 0, sizeof *sh);
  char dir[64], dir2[64];
  harness_tempdir(dir, sizeof dir, "bank");
  snprintf(dbpath, sizeof dbpath, "%s/bank.edb", dir);
  int ok = round_inproc(dir);
  long long c1 = atomic_load(&sh->commits), x1 = atomic_load(&sh->conflicts), s1 = atomic_load(&sh->sums),
            st1 = atomic_load(&sh->steps);
  harness_rm_rf(dir);
  if (ok) {
    printf("snapshot_bank: round 1: %d movers, %d summers, %d ms: %lld transfers committed, %lld write conflicts "
           "retried, %lld snapshot sums (%lld walk steps) all %d\n",
           W, R, MS, c1, x1, s1, st1, NACC * START);
    harness_tempdir(dir2, sizeof dir2, "bank");
    snprintf(dbpath, sizeof dbpath, "%s/bank.edb", dir2);
    ok = round_kill(dir2);
    harness_rm_rf(dir2);
  }
  if (!ok) FAIL("%s", sh->msg[0] ? sh->msg : "?");
  printf("snapshot_bank: round 2 (kill -9 mid-run): %lld transfers, %lld conflicts, %lld sums before the kill; "
         "total %d after recovery\n",
         atomic_load(&sh->commits) - c1, atomic_load(&sh->conflicts) - x1, atomic_load(&sh->sums) - s1,
         NACC * START);
  printf("snapshot_bank: ok\n");
  return 0;
}
