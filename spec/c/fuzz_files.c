/*
 * fuzz_files.c -- a deterministic (seeded) mutation fuzzer of the files the
 * engine reads back: databases, streamed copies, log generations and the
 * checkpoint.
 *
 *   fuzz_files             FUZZ_ITERS=n    iterations (default 300)
 *                          FUZZ_SEED=s     seed (default fixed, printed)
 *                          FUZZ_ONLY=i     runs just iteration i (reproduce)
 *                          FUZZ_TIMEOUT=s  watchdog of one iteration (default 30)
 *                          FUZZ_RESEAL=p   percent of iterations resealed (default 25)
 *                          FUZZ_VERBOSE=1  prints every iteration
 *                          FUZZ_KEEP=1     keeps the folders of a failure
 *                          FUZZ_CONTINUE=1 reports every failure, then exits 1
 *
 * First real inputs are made with the C API in a temporary folder (64 KiB
 * log files; checkpoints only at the cut-offs of backups): a database with
 * three tables and 3000 records (page splits; one value in twelve of
 * 900..1800 bytes; one key in eight long), updated and deleted over
 * many generations; a streamed backup set (JetBackupInstance: the copy
 * with its trailer page, the logs of about fifteen generations); then a
 * fourth table, more inserts, updates and deletes, a transaction left
 * open, and an abrupt JetTerm: an instance folder that recovery has about
 * a dozen generations of work for (dirty database, checkpoint, B.log,
 * archived logs, the next generation made ahead).  The clean database of a
 * restore of the set is the third input.  A deterministic model knows
 * every committed version of every key before the backup (state A) and at
 * the abrupt term (state B).  The three inputs are checked whole first.
 *
 * Each iteration copies one pristine input folder, applies 1..8 random
 * mutations to one of its files (bit flips; byte ranges overwritten with
 * random, zero or 0xFF bytes; a sector or page of zeros; truncation;
 * garbage appended; two pages swapped; a page copied over another) and
 * runs, in a forked child with a watchdog (alarm), EseGetFileInfo(verify)
 * on that file and then the consumer of the input:
 *   crash:   JetInit on the instance folder (soft recovery), attach, a full
 *            walk of every table (EseSeek GE, then GT), JetTerm;
 *   backup:  EseRestoreBegin/Step/End or JetRestoreInstance of the set into
 *            a fresh folder, then an instance there attaches and walks it;
 *   attach:  a new instance attaches the mutated clean database and walks it.
 * Every call must return; every failure must be an error of the table
 * (EseErrorName != NULL).  Never silently wrong: a walk that succeeds may
 * only return keys the generator wrote, in strictly ascending order, each
 * with the value of one of its committed versions (never one of the
 * transaction left open); and where the input promises more it must be
 * exact: a restore that succeeds holds exactly state A (docs/backup.md: a
 * restore holds every transaction committed before the cut-off), an attach
 * of the clean database exactly state A, and a recovery exactly state B
 * unless the file damaged is B.log (where a damaged tail is a torn tail,
 * legitimately cut).
 *
 * In a quarter of the iterations the damage is resealed: the checksums it
 * broke are recomputed (pages, with their pgno set to their place; the log
 * header and records; the checkpoint), so that it reaches the code behind
 * them (tree pages, record payloads, page differences).  The engine cannot
 * tell such damage from data, so there only the first rule holds: every
 * call returns, with success or an error of the table.
 *
 * The child's exit status says what happened (0 accepted, 2 rejected with
 * a JET_err); a signal (crash, ASan abort, watchdog) or any other status is
 * a failure, reported with the seed and iteration that reproduce it.
 * Prints "fuzz_files: ok <n> iterations, <r> rejected with JET_err, <a>
 * accepted" and exits 0, or the failure and exits 1.
 */
#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>

#include "crc32c.h"       /* the engine's CRC-32C, to reseal damage */
#include "log.h"          /* LOG_DATA_START: the first record of a log file */

#define HARNESS_NAME "fuzz_files"
__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...);
#define FAIL die
#include "harness.h"

/* The engine's syncs only matter for power loss, which this program does
 * not simulate (ESE_REAL_SYNC=1 keeps them). */
HARNESS_SYNCS_OFF()

/* ---- the model ------------------------------------------------------------- */

#define NT 4                /* tables */
#define NKEY 1500           /* key indexes per table */
#define NA 1000             /* keys 0..NA-1 of tables 0..2 inserted before the backup */
#define NB 1300             /* keys NA..NB-1 of tables 0..2 inserted after it */
#define ND 400              /* keys of table 3 ("delta", created after the backup) */
#define OPEN_VER 7          /* the version the transaction left open writes */
#define VBUF 4096

static const char *const tname[NT] = { "alpha", "beta", "gamma", "delta" };
static const char tletter[NT] = { 'a', 'b', 'g', 'd' };

enum { ST_A, ST_B, NSTATES };
typedef struct model {
  int8_t ver[NT][NKEY];     /* current version, -1 absent */
  uint8_t mask[NT][NKEY];   /* every version committed so far */
  int table[NT];            /* the table exists */
} model;

static model cur;            /* while the inputs are made */
static model snap[NSTATES];  /* state A (at the backup), state B (at the abrupt term) */

/* The key of (t, i): "<letter><6 digits>", for one key in eight followed by
 * up to 119 filler bytes (long separators).  Returns its length. */
static size_t key_of(int t, int i, char *out) {
  size_t n = (size_t)snprintf(out, 16, "%c%06d", tletter[t], i);
  uint64_t h = harness_mix((uint64_t)t * 1000003u + (uint64_t)i);
  if (h % 8 == 0) {
    size_t extra = 1 + (size_t)(h >> 8) % 119;
    for (size_t k = 0; k < extra; k++) out[n + k] = (char)('A' + (h >> (k % 40)) % 26);
    n += extra;
  }
  return n;
}

/* The value of version v of (t, i): mostly short, one in twelve large
 * (900..1800 bytes: splits, few records a page). */
static size_t value_of(int t, int i, int v, char *out) {
  char key[256];
  size_t kl = key_of(t, i, key);
  uint64_t h = harness_value_hash(key, kl, (uint32_t)v);
  size_t len = h % 12 == 0 ? 900 + (size_t)(h >> 8) % 900 : 12 + (size_t)(h >> 8) % 180;
  return harness_value(out, key, kl, (uint32_t)v, h, len);
}

/* ---- reports ----------------------------------------------------------------- */

static char root[128];
static unsigned long long seed;
static long cur_iter = -1;
static int verbose;
static char cur_desc[1024];

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  harness_vreport("FAIL", fmt, ap);
  va_end(ap);
  if (cur_iter >= 0) {
    printf("fuzz_files: iteration %ld: %s\n", cur_iter, cur_desc);
    printf("fuzz_files: reproduce: FUZZ_SEED=%llu FUZZ_ONLY=%ld fuzz_files (FUZZ_KEEP=1 keeps the folders)\n",
           seed, cur_iter);
  }
  if (root[0] && getenv("FUZZ_KEEP")) printf("fuzz_files: folders kept in %s\n", root);
  else if (root[0]) harness_rm_rf(root);
  fflush(stdout);
  exit(1);
}

/* ---- making the inputs ---------------------------------------------------------- */

static JET_SESID g_s;
static JET_DBID g_db;
static JET_TABLEID g_t[NT];
static int in_txn, txn_ops, batch_size = 40;
static model txn_base;      /* the model when the open transaction began */

static void begin(void) {
  CK(JetBeginTransaction(g_s));
  in_txn = 1;
  txn_ops = 0;
  txn_base = cur;
}

static void commit(void) {
  CK(JetCommitTransaction(g_s, 0));
  in_txn = 0;
}

/* Ends a batch of batch_size writes with a commit and begins the next. */
static void batch(void) {
  if (in_txn && ++txn_ops >= batch_size) {
    commit();
    begin();
  }
}

static void put(int t, int i, int v) {
  char k[256], val[VBUF];
  size_t kl = key_of(t, i, k), vl = value_of(t, i, v, val);
  CK(EsePut(g_s, g_t[t], k, kl, val, vl));
  cur.ver[t][i] = (int8_t)v;
  cur.mask[t][i] |= (uint8_t)(1u << v);
  batch();
}

static void del(int t, int i) {
  char k[256];
  size_t kl = key_of(t, i, k);
  CK(EseDelete(g_s, g_t[t], k, kl));
  cur.ver[t][i] = -1;
  batch();
}

static uint64_t hk(int salt, int t, int i) {
  return harness_mix(((uint64_t)salt << 40) ^ ((uint64_t)t << 20) ^ (uint64_t)i);
}

/* A permutation of lo..hi-1 (deterministic). */
static void shuffled(int *a, int lo, int hi, int salt) {
  int n = hi - lo;
  for (int k = 0; k < n; k++) a[k] = lo + k;
  for (int k = n - 1; k > 0; k--) {
    int j = (int)(hk(salt, 0, k) % (uint64_t)(k + 1));
    int x = a[k];
    a[k] = a[j];
    a[j] = x;
  }
}

static void create_table(int t) {
  CK(EseCreateTable(g_s, g_db, tname[t], &g_t[t]));
  cur.table[t] = 1;
}

/* Inserts keys lo..hi-1 of tables t0..t1-1, shuffled and interleaved, in
 * transactions of 40 writes, one stretch in eight as single-write commits. */
static void insert_range(int t0, int t1, int lo, int hi, int salt) {
  static int perm[NT][NKEY];
  for (int t = t0; t < t1; t++) shuffled(perm[t], lo, hi, salt + t);
  for (int k = 0; k < hi - lo; k++) {
    int outside = (k / 40) % 8 == 7;
    if (outside && in_txn) commit();
    if (!outside && !in_txn) begin();
    for (int t = t0; t < t1; t++) put(t, perm[t][k], 0);
  }
  if (in_txn) commit();
}

/* Updates (to version v) one key in `upd` and deletes one in `dl` of the
 * present keys of tables t0..t1-1. */
static void churn(int t0, int t1, int v, int upd, int dl, int salt) {
  begin();
  for (int t = t0; t < t1; t++)
    for (int i = 0; i < NKEY; i++) {
      if (cur.ver[t][i] < 0) continue;
      uint64_t h = hk(salt, t, i);
      if (h % (uint64_t)upd == 0) put(t, i, v);
      else if (h % (uint64_t)dl == 1) del(t, i);
    }
  commit();
}

/* Copies every regular file of src into dst (made). */
static void copy_dir(const char *src, const char *dst) {
  if (mkdir(dst, 0700) != 0 && errno != EEXIST) FAIL("mkdir %s: %s", dst, strerror(errno));
  DIR *d = opendir(src);
  if (!d) FAIL("opendir %s: %s", src, strerror(errno));
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    char a[512], b[512];
    struct stat st;
    snprintf(a, sizeof a, "%s/%s", src, de->d_name);
    if (stat(a, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    snprintf(b, sizeof b, "%s/%s", dst, de->d_name);
    if (harness_copy_file(a, b) != 0) FAIL("copy %s: %s", a, strerror(errno));
  }
  closedir(d);
}

static char live[256], crash0[256], set0[256], clean0[256];   /* pristine inputs */
static char work_crash[256], work_set[256], work_rs[256], work_att[256];

/* The generation of B.log of the live folder, when verbose. */
static void say_gen(const char *when) {
  if (!verbose) return;
  char p[300];
  EseFileInfo fi;
  snprintf(p, sizeof p, "%s/edb.log", live);
  CK(EseGetFileInfo(p, 0, &fi, NULL, 0));
  printf("fuzz_files: %s: generation %lu\n", when, fi.generation);
}

/* A full backup of inst into a folder that is removed at once: the cut-off
 * checkpoints and the logs before it are truncated, so that the next set
 * or the instance folder holds only the generations of what follows. */
static void checkpoint_and_truncate(JET_INSTANCE inst) {
  char tmpset[300];
  snprintf(tmpset, sizeof tmpset, "%s/set-tmp", root);
  CK(JetBackupInstance(inst, tmpset, 0, NULL));
  if (harness_rm_rf(tmpset) != 0) FAIL("could not remove %s", tmpset);
}

/* Checkpoints are taken only at the cut-offs of backups (the depth is the
 * default 256 MiB), so that every generation of the set (from its Begin
 * checkpoint) and of the instance folder (after the last cut-off) is
 * replayed by restore and recovery. */
static void make_inputs(void) {
  JET_INSTANCE inst;
  char dbpath[512], name[64];
  mkdir(live, 0700);
  snprintf(dbpath, sizeof dbpath, "%s/app.edb", live);
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "fuzz-make"), live, 64, 0));
  CK(JetInit(&inst));
  memset(&cur, 0, sizeof cur);
  memset(cur.ver, -1, sizeof cur.ver);
  CK(JetBeginSession(inst, &g_s, NULL, NULL));
  CK(JetCreateDatabase(g_s, dbpath, NULL, &g_db, 0));
  for (int t = 0; t < 3; t++) create_table(t);
  insert_range(0, 3, 0, NA, 1);
  say_gen("state A, inserts done");
  checkpoint_and_truncate(inst);
  churn(0, 3, 1, 20, 35, 2);
  snap[ST_A] = cur;
  say_gen("state A, before the backup set");
  CK(JetBackupInstance(inst, set0, 0, NULL));

  create_table(3);
  insert_range(3, 4, 0, ND, 3);
  insert_range(0, 3, NA, NB, 4);
  churn(0, 4, 2, 7, 23, 5);
  say_gen("phase B1 done");
  checkpoint_and_truncate(inst);
  churn(0, 4, 3, 60, 90, 6);
  say_gen("state B");
  snap[ST_B] = cur;
  /* a transaction left open: none of it may ever be seen */
  batch_size = 1 << 30;
  begin();
  for (int t = 0; t < NT; t++)
    for (int i = 0; i < 60; i++) {
      int k = (int)(hk(7, t, i) % NKEY);
      if (i % 5 == 0 && cur.ver[t][k] >= 0) del(t, k);
      else put(t, k, OPEN_VER);
    }
  cur = txn_base;
  CK(JetTerm(inst));                 /* abrupt: the database stays dirty */
  copy_dir(live, crash0);
}

/* ---- one iteration's child ----------------------------------------------------- */

typedef struct shared {
  long err;                 /* the first error of the consumer */
  char where[160];
  long info_err;            /* EseGetFileInfo(verify) of the mutated file */
  char msg[1024];           /* a failure */
  int records;              /* records walked */
} shared;
static shared *sh;

__attribute__((noreturn, format(printf, 1, 2))) static void child_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sh->msg, sizeof sh->msg, fmt, ap);
  va_end(ap);
  _exit(1);
}

/* Checks that a result is a success, a warning or an error of the table. */
static JET_ERR known(JET_ERR e, const char *what) {
  if (e != 0 && !EseErrorName(e)) child_fail("%s returned %ld, which is not in the error table", what, (long)e);
  return e;
}

/* known(), and remembers the first error. */
static JET_ERR note(JET_ERR e, const char *what) {
  known(e, what);
  if (e < 0 && sh->err == 0) {
    sh->err = e;
    snprintf(sh->where, sizeof sh->where, "%s", what);
  }
  return e;
}

#define NOTE(x) note((x), #x)

static int keycmp(const char *a, size_t al, const char *b, size_t bl) {
  int c = memcmp(a, b, al < bl ? al : bl);
  return c ? c : al < bl ? -1 : al > bl;
}

/* "absent" or "version N" (a static buffer of two). */
static const char *version_text(int v) {
  static char b[2][24];
  static int k;
  k ^= 1;
  if (v < 0) return "absent";
  snprintf(b[k], sizeof b[k], "version %d", v);
  return b[k];
}

/* The damage was resealed (checksums recomputed): the engine cannot tell
 * it from data, so only "returns, with an error of the table" is checked. */
static int resealed;

/* Walks every table of the database on s (open as db) against model state
 * st; exact: the tables must hold exactly that state.  A wrong answer ends
 * the child (child_fail); an error is returned. */
static JET_ERR walk(JET_SESID s, JET_DBID db, int st, int exact) {
  const model *m = &snap[st];
  static char key[512], val[VBUF], want[VBUF], wkey[256];
  for (int t = 0; t < NT; t++) {
    JET_TABLEID tid;
    JET_ERR e = known(EseOpenTable(s, db, tname[t], &tid), "EseOpenTable");
    if (e == JET_errObjectNotFound) {
      if (exact && m->table[t] && !resealed)
        child_fail("LOST: the run succeeded but table %s is missing (state %c has it)", tname[t], "AB"[st]);
      continue;            /* not created yet (a damaged B.log cut before it) */
    }
    if (note(e, "EseOpenTable") < 0) return e;
    if (!m->table[t] && !resealed) child_fail("table %s opened, but it did not exist in state %c", tname[t], "AB"[st]);
    static int8_t seen[NKEY];
    memset(seen, -1, sizeof seen);
    size_t pl = 0;
    static char prev[512];
    e = known(EseSeek(s, tid, NULL, 0, JET_bitSeekGE), "EseSeek GE");
    for (long n = 0; e >= 0; n++) {
      size_t kl, vl;
      e = NOTE(EseRetrieveKey(s, tid, key, sizeof key, &kl));
      if (e < 0) return e;
      if (resealed) {      /* anything but a crash or a hang goes; a walk that does not advance ends */
        if (kl > sizeof key || (pl && keycmp(prev, pl, key, kl) >= 0) || n > 4 * NKEY) break;
        e = NOTE(EseRetrieveValue(s, tid, val, sizeof val, &vl));
        if (e < 0) return e;
        memcpy(prev, key, kl);
        pl = kl;
        sh->records++;
        e = known(EseSeek(s, tid, key, kl, JET_bitSeekGT), "EseSeek GT");
        continue;
      }
      if (e > 0) child_fail("table %s: a key of %zu bytes (warning %s)", tname[t], kl, harness_err_name(e));
      e = NOTE(EseRetrieveValue(s, tid, val, sizeof val, &vl));
      if (e < 0) return e;
      if (e > 0) child_fail("table %s: a value of %zu bytes (warning %s)", tname[t], vl, harness_err_name(e));
      if (pl && keycmp(prev, pl, key, kl) >= 0)
        child_fail("table %s: key '%.*s' returned after '%.*s' (not ascending)", tname[t], (int)kl, key, (int)pl, prev);
      memcpy(prev, key, kl);
      pl = kl;
      int i = -1;
      if (kl >= 7 && key[0] == tletter[t]) {
        i = 0;
        for (int k = 1; k < 7; k++) i = key[k] >= '0' && key[k] <= '9' && i >= 0 ? i * 10 + key[k] - '0' : -1;
      }
      if (i < 0 || i >= NKEY || key_of(t, i, wkey) != kl || memcmp(wkey, key, kl))
        child_fail("WRONG: table %s returned the key '%.*s', which the generator never wrote there", tname[t],
                   (int)(kl > 80 ? 80 : kl), key);
      int v = -1;
      for (int c = 0; c < 8 && v < 0; c++)
        if (m->mask[t][i] >> c & 1) {
          size_t wl = value_of(t, i, c, want);
          if (wl == vl && !memcmp(want, val, vl)) v = c;
        }
      if (v < 0) {
        int other = -1;
        for (int c = 0; c < 8 && other < 0; c++) {
          size_t wl = value_of(t, i, c, want);
          if (wl == vl && !memcmp(want, val, vl)) other = c;
        }
        child_fail("WRONG: table %s key %.*s has a value (%zu bytes, '%.*s...') that is none of its committed "
                   "versions in state %c%s%s",
                   tname[t], (int)(kl > 40 ? 40 : kl), key, vl, (int)(vl > 24 ? 24 : vl), val, "AB"[st],
                   other < 0 ? "" : ": it is ", other < 0 ? "" : version_text(other));
      }
      seen[i] = (int8_t)v;
      sh->records++;
      e = known(EseSeek(s, tid, key, kl, JET_bitSeekGT), "EseSeek GT");
    }
    if (e < 0 && e != JET_errRecordNotFound) return note(e, "EseSeek");
    NOTE(EseCloseTable(s, tid));
    if (exact && !resealed)
      for (int i = 0; i < NKEY; i++)
        if (seen[i] != m->ver[t][i]) {
          char k[256];
          size_t kl = key_of(t, i, k);
          child_fail("LOST: the run succeeded but table %s key %.*s is %s, state %c has %s", tname[t],
                     (int)(kl > 40 ? 40 : kl), k, version_text(seen[i]), "AB"[st], version_text(m->ver[t][i]));
        }
  }
  return JET_errSuccess;
}

/* An instance on dir (logs and checkpoint there), inited, with dbpath
 * attached and walked against state st.  Returns the first error. */
static JET_ERR open_and_walk(const char *dir, const char *dbpath, int st, int exact) {
  JET_INSTANCE inst;
  JET_SESID s;
  JET_DBID db;
  char name[64];
  JET_ERR e = NOTE(harness_instance(&inst, harness_unique_name(name, sizeof name, "fuzz"), dir, 64, 0));
  if (e < 0) return e;
  e = NOTE(JetInit(&inst));
  if (e >= 0) e = NOTE(JetBeginSession(inst, &s, NULL, NULL));
  if (e >= 0) e = NOTE(JetAttachDatabase(s, dbpath, 0));
  if (e >= 0) e = NOTE(JetOpenDatabase(s, dbpath, NULL, &db, 0));
  if (e >= 0) e = walk(s, db, st, exact);
  JET_ERR te = NOTE(JetTerm2(inst, e >= 0 ? JET_bitTermComplete : JET_bitTermAbrupt));
  return e < 0 ? e : te;
}

enum { SC_CRASH, SC_SET, SC_ATTACH, NSC };
static const char *const scname[NSC] = { "crash (soft recovery)", "backup set (restore)", "attach (clean database)" };

static JET_ERR restore(int stepwise) {
  if (!stepwise) return NOTE(JetRestoreInstance(0, work_set, work_rs, NULL));
  const char *dirs[1] = { work_set };
  char detail[256] = "";
  EseRestoreOptions o = { .dirs = dirs, .ndirs = 1, .dest = work_rs, .detail = detail, .detail_cap = sizeof detail };
  EseRestore *r;
  JET_ERR e = NOTE(EseRestoreBegin(&o, &r));
  if (e < 0) return e;
  int fin = 0;
  for (int steps = 0; !fin; steps++) {
    e = NOTE(EseRestoreStep(r, NULL, NULL, &fin));
    if (e < 0) break;
    if (steps > 1000000) child_fail("EseRestoreStep did not finish after %d steps", steps);
  }
  EseRestoreEnd(r);
  return e;
}

/* The child: EseGetFileInfo(verify) of the mutated file, then the consumer. */
static void child(int sc, const char *file, int stepwise) {
  EseFileInfo fi;
  char detail[512];
  sh->info_err = note(EseGetFileInfo(file, 1, &fi, detail, sizeof detail), "EseGetFileInfo");
  sh->err = 0;
  sh->where[0] = 0;
  JET_ERR e = 0;
  char dbp[512];
  switch (sc) {
  case SC_CRASH:
    snprintf(dbp, sizeof dbp, "%s/app.edb", work_crash);
    {
      const char *slash = strrchr(file, '/');
      int exact = strcmp(slash ? slash + 1 : file, "edb.log") != 0;
      e = open_and_walk(work_crash, dbp, ST_B, exact);
    }
    break;
  case SC_SET:
    e = restore(stepwise);
    snprintf(dbp, sizeof dbp, "%s/app.edb", work_rs);
    if (e >= 0) e = open_and_walk(work_rs, dbp, ST_A, 1);
    break;
  case SC_ATTACH:
    snprintf(dbp, sizeof dbp, "%s/app.edb", work_att);
    e = open_and_walk(work_att, dbp, ST_A, 1);
    break;
  }
  _exit(e < 0 || sh->err < 0 ? 2 : 0);
}

/* ---- mutations -------------------------------------------------------------------- */

static uint64_t rs;
static uint64_t rnd(void) {
  rs ^= rs << 13;
  rs ^= rs >> 7;
  rs ^= rs << 17;
  return harness_mix(rs);
}
static size_t rndn(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

typedef struct fbuf { uint8_t *d; size_t n, cap; } fbuf;

static void fb_reserve(fbuf *b, size_t n) {
  if (n <= b->cap) return;
  size_t c = b->cap ? b->cap : 65536;
  while (c < n) c *= 2;
  if (!(b->d = realloc(b->d, c))) FAIL("out of memory");
  b->cap = c;
}

static void fb_read(fbuf *b, const char *path) {
  int fd = open(path, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) FAIL("open %s: %s", path, strerror(errno));
  fb_reserve(b, (size_t)st.st_size + 1);
  b->n = (size_t)st.st_size;
  if (b->n && read(fd, b->d, b->n) != (ssize_t)b->n) FAIL("read %s", path);
  close(fd);
}

static void fb_write(const fbuf *b, const char *path) {
  int fd = open(path, O_WRONLY | O_TRUNC);
  if (fd < 0) FAIL("open %s: %s", path, strerror(errno));
  if (b->n && write(fd, b->d, b->n) != (ssize_t)b->n) FAIL("write %s", path);
  close(fd);
}

/* An offset to damage: the first pages (headers) a quarter of the time,
 * around the end of the data (log tails, the last pages) a quarter,
 * anywhere otherwise; half of them 8-aligned (record and field starts). */
static size_t pick_off(const fbuf *b) {
  if (b->n == 0) return 0;
  size_t off;
  switch (rndn(4)) {
  case 0: off = rndn(b->n < 16384 ? b->n : 16384); break;
  case 1: {
    size_t end = b->n;
    while (end > 0 && b->d[end - 1] == 0) end--;
    size_t lo = end > 512 ? end - 512 : 0;
    off = lo + rndn(end + 64 - lo);
    break;
  }
  default: off = rndn(b->n); break;
  }
  if (rndn(2)) off &= ~(size_t)7;
  return off < b->n ? off : b->n - 1;
}

static uint8_t fill_byte(int kind) { return kind == 0 ? (uint8_t)rnd() : kind == 1 ? 0 : 0xFF; }
static const char *const fill_name[3] = { "random", "zero", "0xff" };

/* One random mutation of b (block size bs for page operations); appends
 * what it did to desc. */
static void mutate(fbuf *b, size_t bs, char *desc, size_t dcap) {
  char what[160];
  size_t r = rndn(100);
  if (b->n == 0) r = 75;   /* only growing makes sense */
  if (r < 20) {                                  /* flip bits */
    size_t off = pick_off(b), nb = 1 + rndn(8);
    snprintf(what, sizeof what, "flip %zu bits near %zu", nb, off);
    for (size_t k = 0; k < nb; k++) {
      size_t o = off + rndn(16);
      if (o >= b->n) o = b->n - 1;
      b->d[o] ^= (uint8_t)(1u << rndn(8));
    }
  } else if (r < 46) {                           /* overwrite a range */
    size_t off = pick_off(b), q = rndn(10);
    size_t len = q < 6 ? 1 + rndn(16) : q < 9 ? 17 + rndn(500) : 513 + rndn(2 * bs);
    int kind = (int)rndn(3);
    if (off + len > b->n) len = b->n - off;
    for (size_t k = 0; k < len; k++) b->d[off + k] = fill_byte(kind);
    snprintf(what, sizeof what, "%zu %s bytes at %zu", len, fill_name[kind], off);
  } else if (r < 58) {                           /* a lost write: a sector or a page of zeros */
    size_t unit = rndn(2) ? 512 : bs, nu = (b->n + unit - 1) / unit, u = rndn(nu);
    if (unit > b->n) unit = b->n;
    size_t off = u * unit, len = off + unit > b->n ? b->n - off : unit;
    memset(b->d + off, 0, len);
    snprintf(what, sizeof what, "zero %zu bytes at %zu (a lost %s)", len, off, unit == 512 ? "sector" : "page");
  } else if (r < 66) {                           /* truncate */
    size_t q = rndn(10), n = q == 0 ? 0 : q < 4 ? rndn(b->n / bs + 1) * bs : rndn(b->n);
    snprintf(what, sizeof what, "truncate %zu -> %zu", b->n, n);
    b->n = n;
  } else if (r < 76) {                           /* extend with garbage */
    size_t len = rndn(2) ? bs * (1 + rndn(2)) : 1 + rndn(2 * bs);
    int kind = (int)rndn(3);
    fb_reserve(b, b->n + len);
    for (size_t k = 0; k < len; k++) b->d[b->n + k] = fill_byte(kind);
    snprintf(what, sizeof what, "append %zu %s bytes at %zu", len, fill_name[kind], b->n);
    b->n += len;
  } else if (r < 88) {                           /* swap two pages */
    size_t np = b->n / bs;
    if (np < 2) {
      snprintf(what, sizeof what, "swap (too short)");
    } else {
      size_t a = rndn(np), c = rndn(np - 1);
      if (c >= a) c++;
      for (size_t k = 0; k < bs; k++) {
        uint8_t x = b->d[a * bs + k];
        b->d[a * bs + k] = b->d[c * bs + k];
        b->d[c * bs + k] = x;
      }
      snprintf(what, sizeof what, "swap pages %zu and %zu (of %zu bytes)", a, c, bs);
    }
  } else {                                       /* a page over another */
    size_t np = b->n / bs;
    if (np < 2) {
      snprintf(what, sizeof what, "duplicate (too short)");
    } else {
      size_t a = rndn(np), c = rndn(np - 1);
      if (c >= a) c++;
      memcpy(b->d + c * bs, b->d + a * bs, bs);
      snprintf(what, sizeof what, "page %zu copied over page %zu (of %zu bytes)", a, c, bs);
    }
  }
  size_t l = strlen(desc);
  snprintf(desc + l, dcap - l, "%s%s", l ? "; " : "", what);
}

static void st32le(uint8_t *p, uint32_t v) {
  for (int k = 0; k < 4; k++) p[k] = (uint8_t)(v >> (8 * k));
}
static uint32_t ld32le(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Percent of iterations whose damage is resealed (FUZZ_RESEAL). */
static int reseal_pct;

/* Recomputes the checksums the damage broke (docs/format.md), so that the
 * damage reaches the code behind them: every page of a database that
 * differs from the original, with its pgno set to its place (a page moved
 * by a swap passes as that page); a log's header and every record it still
 * frames (reserved bytes zeroed); the checkpoint. */
static void reseal(fbuf *b, const fbuf *o, const char *name) {
  size_t l = strlen(name);
  if (l > 4 && !strcmp(name + l - 4, ".edb")) {
    const size_t ps = 8192;
    for (size_t p = 0; (p + 1) * ps <= b->n; p++) {
      uint8_t *pg = b->d + p * ps;
      if ((p + 1) * ps <= o->n && !memcmp(pg, o->d + p * ps, ps)) continue;
      size_t k = 0;
      while (k < ps && !pg[k]) k++;
      if (k == ps) continue;                   /* a never-written page stays one */
      st32le(pg + 4, (uint32_t)p);
      st32le(pg, crc32c(0, pg + 4, ps - 4));
    }
  } else if (l > 4 && !strcmp(name + l - 4, ".log")) {
    if (b->n < 4096) return;
    st32le(b->d, crc32c(0, b->d + 4, 4096 - 4));
    uint32_t gen = ld32le(b->d + 12);
    for (size_t pos = LOG_DATA_START; pos + 16 <= b->n;) {   /* the records, not the shadow slots */
      uint32_t len = ld32le(b->d + pos);
      uint64_t fr = (12u + (uint64_t)len + 7u) & ~(uint64_t)7u;
      if (len == 0 || fr > b->n - pos) break;
      uint8_t *r = b->d + pos;
      r[5] = r[6] = r[7] = 0;
      st32le(r + 8 + len, crc32c(crc32c(gen, r + 4, 1), r + 8, len));
      pos += fr;
    }
  } else if (b->n >= 8) {
    st32le(b->d, crc32c(0, b->d + 4, b->n - 4));
  }
}

/* ---- choosing a file --------------------------------------------------------------- */

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The regular files of dir but the lock file, sorted, in names (n). */
static int list_files(const char *dir, char names[][64], int max) {
  DIR *d = opendir(dir);
  if (!d) FAIL("opendir %s: %s", dir, strerror(errno));
  char *tmp[256];
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL && n < 256 && n < max) {
    if (de->d_name[0] == '.' || !strcmp(de->d_name, "edb.lck")) continue;
    tmp[n++] = strdup(de->d_name);
  }
  closedir(d);
  qsort(tmp, (size_t)n, sizeof *tmp, name_cmp);
  for (int k = 0; k < n; k++) {
    snprintf(names[k], 64, "%s", tmp[k]);
    free(tmp[k]);
  }
  return n;
}

/* A file of dir to damage: by kind first (database, B.log, archived log,
 * checkpoint, anything else), so that a folder of many logs does not drown
 * the others. */
static void pick_file(const char *dir, char *out, size_t cap) {
  char names[256][64];
  int n = list_files(dir, names, 256);
  if (n == 0) FAIL("%s is empty", dir);
  int kinds[256], count[5] = { 0 };
  for (int k = 0; k < n; k++) {
    const char *s = names[k];
    size_t l = strlen(s);
    int kind = l > 4 && !strcmp(s + l - 4, ".edb") ? 0 : !strcmp(s, "edb.log") ? 1
               : l == 15 && !strncmp(s, "edb", 3) && !strcmp(s + 11, ".log") ? 2 : !strcmp(s, "edb.chk") ? 3 : 4;
    kinds[k] = kind;
    count[kind]++;
  }
  static const int weight[5] = { 35, 20, 30, 12, 3 };
  int total = 0;
  for (int k = 0; k < 5; k++) total += count[k] ? weight[k] : 0;
  int r = (int)rndn((size_t)total), kind = 0;
  for (kind = 0; kind < 5; kind++) {
    if (!count[kind]) continue;
    if (r < weight[kind]) break;
    r -= weight[kind];
  }
  int which = (int)rndn((size_t)count[kind]);
  for (int k = 0; k < n; k++)
    if (kinds[k] == kind && which-- == 0) {
      snprintf(out, cap, "%s/%s", dir, names[k]);
      return;
    }
  FAIL("pick_file");
}

/* ---- the parent ---------------------------------------------------------------------- */

static pid_t g_child;
static void on_alarm(int sig) {
  (void)sig;
  if (g_child > 0) kill(g_child, SIGKILL);
}

/* Runs the child of scenario sc on file; returns its wait status. */
static int run_child(int sc, const char *file, int stepwise, unsigned timeout) {
  memset(sh, 0, sizeof *sh);
  pid_t pid = harness_fork();
  if (pid == 0) {
    signal(SIGALRM, SIG_DFL);
    alarm(timeout);                      /* a hang ends the child with SIGALRM */
    child(sc, file, stepwise);
  }
  g_child = pid;
  alarm(timeout + 15);                   /* and if even that fails, SIGKILL */
  int st = harness_wait(pid);
  alarm(0);
  g_child = 0;
  return st;
}

/* The error tally of the rejections. */
typedef struct tally { long err; int n; } tally;
static tally tallies[64];
static void count_err(long e) {
  for (int k = 0; k < 64; k++) {
    if (tallies[k].n && tallies[k].err == e) {
      tallies[k].n++;
      return;
    }
    if (!tallies[k].n) {
      tallies[k].err = e;
      tallies[k].n = 1;
      return;
    }
  }
}

static const char *base_of(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

static int keep_going, failures;

/* Checks a child's status: 0 accepted, 1 rejected; a failure dies (with
 * FUZZ_CONTINUE=1 it is reported, counted, and 2 is returned). */
static int judge(int st, int sc, const char *file) {
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 2) {
    if (!EseErrorName(sh->err)) FAIL("rejected with %ld, which is not in the error table", sh->err);
    return 1;
  }
  const char *why = WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? " (watchdog: a hang)"
                    : WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? " (killed by the watchdog: a hang)"
                    : WIFSIGNALED(st) ? " (a crash)" : "";
  if (keep_going && cur_iter >= 0) {
    printf("fuzz_files: FAIL: %s on %s: the child ended with %s%s%s%s\n", scname[sc], base_of(file),
           harness_status_text(st), why, sh->msg[0] ? ": " : "", sh->msg);
    printf("fuzz_files: iteration %ld: %s\n", cur_iter, cur_desc);
    printf("fuzz_files: reproduce: FUZZ_SEED=%llu FUZZ_ONLY=%ld fuzz_files\n", seed, cur_iter);
    failures++;
    return 2;
  }
  FAIL("%s on %s: the child ended with %s%s%s%s", scname[sc], file, harness_status_text(st), why,
       sh->msg[0] ? ": " : "", sh->msg);
}

/* Prepares the working copy of scenario sc's input. */
static void fresh_copy(int sc) {
  if (harness_rm_rf(work_rs) || harness_rm_rf(work_crash) || harness_rm_rf(work_set) || harness_rm_rf(work_att))
    FAIL("could not clean the working folders");
  if (sc == SC_CRASH) copy_dir(crash0, work_crash);
  else if (sc == SC_SET) copy_dir(set0, work_set);
  else copy_dir(clean0, work_att);
}

int main(void) {
  harness_start(0);
  const char *se = getenv("FUZZ_SEED");
  seed = se && *se ? strtoull(se, NULL, 0) : 20240611ull;
  int iters = harness_env_int("FUZZ_ITERS", 300, 0);
  long only = getenv("FUZZ_ONLY") && *getenv("FUZZ_ONLY") ? atol(getenv("FUZZ_ONLY")) : -1;
  if (only >= iters) iters = (int)only + 1;   /* the reproduction of any iteration */
  unsigned timeout = (unsigned)harness_env_int("FUZZ_TIMEOUT", 30, 1);
  verbose = harness_env_int("FUZZ_VERBOSE", 0, 0);
  keep_going = harness_env_int("FUZZ_CONTINUE", 0, 0);
  reseal_pct = harness_env_int("FUZZ_RESEAL", 25, 0);
  printf("fuzz_files: seed %llu, %d iterations (FUZZ_SEED, FUZZ_ITERS; FUZZ_ONLY=i runs iteration i)\n", seed,
         iters);
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED) FAIL("mmap: %s", strerror(errno));
  signal(SIGALRM, on_alarm);

  harness_tempdir(root, sizeof root, "fuzz");
  snprintf(live, sizeof live, "%s/live", root);
  snprintf(crash0, sizeof crash0, "%s/crash0", root);
  snprintf(set0, sizeof set0, "%s/set0", root);
  snprintf(clean0, sizeof clean0, "%s/clean0", root);
  snprintf(work_crash, sizeof work_crash, "%s", live);   /* recovery opens the database by its logged path */
  snprintf(work_set, sizeof work_set, "%s/set", root);
  snprintf(work_rs, sizeof work_rs, "%s/rs", root);
  snprintf(work_att, sizeof work_att, "%s/att", root);
  uint64_t t0 = harness_now_us();
  make_inputs();

  /* The pristine inputs are accepted whole; the clean database is the
   * restore's. */
  char file[512];
  for (int sc = 0; sc < NSC; sc++) {
    if (sc == SC_ATTACH) {
      char from[512], to[512];
      mkdir(clean0, 0700);
      snprintf(from, sizeof from, "%s/app.edb", work_rs);
      snprintf(to, sizeof to, "%s/app.edb", clean0);
      if (harness_copy_file(from, to) != 0) FAIL("copy %s: %s", from, strerror(errno));
      EseFileInfo fi;
      CK(EseGetFileInfo(to, 1, &fi, NULL, 0));
      if (fi.state != 1) FAIL("the restored database is in state %lu, not clean", fi.state);
    }
    fresh_copy(sc);
    snprintf(file, sizeof file, "%s/app.edb", sc == SC_CRASH ? work_crash : sc == SC_SET ? work_set : work_att);
    snprintf(cur_desc, sizeof cur_desc, "baseline %s, nothing damaged", scname[sc]);
    int st = run_child(sc, file, 1, timeout);
    if (judge(st, sc, file) != 0)
      FAIL("baseline %s rejected: %s at %s", scname[sc], harness_err_name(sh->err), sh->where);
    if (sh->info_err < 0) FAIL("baseline %s: EseGetFileInfo(verify) of %s: %s", scname[sc], file, harness_err_name(sh->info_err));
    if (verbose) printf("fuzz_files: baseline %s: %d records\n", scname[sc], sh->records);
  }
  {
    char names[256][64];
    int nc = list_files(crash0, names, 256), ns = list_files(set0, names, 256);
    printf("fuzz_files: inputs made in %.1f s: instance folder of %d files, backup set of %d files, states A/B checked\n",
           (double)(harness_now_us() - t0) / 1e6, nc, ns);
  }

  int rejected = 0, accepted = 0, ran = 0, info_rejected = 0;
  int per_sc[NSC][2] = { { 0 } };
  fbuf fb = { 0 }, orig = { 0 };
  for (long it = 0; it < iters; it++) {
    if (only >= 0 && it != only) continue;
    cur_iter = it;
    rs = harness_mix(seed ^ harness_mix((uint64_t)it + 1)) | 1;
    int sc = (int)rndn(100);
    sc = sc < 40 ? SC_CRASH : sc < 80 ? SC_SET : SC_ATTACH;
    int stepwise = (int)rndn(2);
    fresh_copy(sc);
    pick_file(sc == SC_CRASH ? work_crash : sc == SC_SET ? work_set : work_att, file, sizeof file);
    size_t bs = strstr(base_of(file), ".edb") ? 8192 : strstr(base_of(file), ".log") ? 4096 : 16;
    fb_read(&fb, file);
    fb_read(&orig, file);
    int nm = 1 + (int)rndn(8);
    char desc[700] = "";
    for (int k = 0; k < nm; k++) mutate(&fb, bs, desc, sizeof desc);
    resealed = (int)rndn(100) < reseal_pct;
    if (resealed) reseal(&fb, &orig, base_of(file));
    fb_write(&fb, file);
    snprintf(cur_desc, sizeof cur_desc, "%s%s, file %s%s: %s", scname[sc],
             sc == SC_SET ? (stepwise ? " stepwise" : " JetRestoreInstance") : "", base_of(file),
             resealed ? " (checksums recomputed after the damage)" : "", desc);
    int st = run_child(sc, file, stepwise, timeout);
    int rej = judge(st, sc, file);
    ran++;
    if (rej == 2) continue;
    per_sc[sc][rej]++;
    if (sh->info_err < 0) info_rejected++;
    if (rej) {
      rejected++;
      count_err(sh->err);
    } else {
      accepted++;
    }
    if (verbose || only >= 0)
      printf("fuzz_files: %ld: %s -> %s%s%s (GetFileInfo %s, %d records)\n", it, cur_desc,
             rej ? harness_err_name(sh->err) : "accepted", rej ? " at " : "", rej ? sh->where : "",
             sh->info_err ? harness_err_name(sh->info_err) : "ok", sh->records);
  }
  cur_iter = -1;
  free(fb.d);
  free(orig.d);
  if (failures) FAIL("%d of %d iterations failed (above)", failures, ran);
  printf("fuzz_files: by input: crash %d rejected / %d accepted, backup set %d / %d, attach %d / %d; "
         "EseGetFileInfo(verify) rejected %d damaged files\n",
         per_sc[SC_CRASH][1], per_sc[SC_CRASH][0], per_sc[SC_SET][1], per_sc[SC_SET][0], per_sc[SC_ATTACH][1],
         per_sc[SC_ATTACH][0], info_rejected);
  printf("fuzz_files: errors:");
  for (int k = 0; k < 64 && tallies[k].n; k++) printf(" %s %d", harness_err_name(tallies[k].err), tallies[k].n);
  printf("\n");
  if (harness_rm_rf(root) != 0) FAIL("could not remove %s", root);
  root[0] = 0;
  printf("fuzz_files: ok %d iterations, %d rejected with JET_err, %d accepted (seed %llu, %.1f s)\n", ran, rejected,
         accepted, seed, (double)(harness_now_us() - t0) / 1e6);
  return 0;
}
