/*
 * oom_sweep.c -- C allocations that fail, one at a time: every malloc,
 * calloc, realloc (and what calls them: strdup, opendir, ...) made by the
 * calling thread during one call is counted; run k fails the k-th of them
 * (one only), for k = 1, 2, ... until a run makes fewer than k.  Each run
 * must answer success or JET_errOutOfMemory (never crash), and must give
 * back every byte it allocated (mallinfo2 before and after the call and
 * its close; run it with GLIBC_TUNABLES=glibc.malloc.tcache_count=0).
 *
 * usage: oom_sweep LOGDIR DEST SET ZSET CRASHED ORIGINAL FILE...  (LOGDIR:
 * a log folder of base edb with archived generations and edb.log; SET,
 * ZSET: backup sets, plain and compressed, that EseRestoreBegin/Step
 * restores into DEST, a scratch folder emptied before each run; CRASHED: a
 * copy (64 KiB logs) of the folder ORIGINAL made after its instance was
 * killed, with table "t" of app.edb holding a00001 .. a00300 (ORIGINAL
 * recovered since), copied to DEST for each run of the engine: init (the
 * copy's recovery), 20 puts committed, term; after each run the folder
 * must open with those records, and the run's when its commit succeeded,
 * and ORIGINAL/app.edb must be as it was (the copy's logs name it);
 * FILE: files for EseGetFileInfo with verify).  Prints one line per call swept and "ok" last; exits 1 on a
 * failure.  Built with AddressSanitizer (make check) it cannot replace the
 * allocator: it prints "skip" and exits 0.
 */
#define HARNESS_NAME "oom_sweep"
#include "harness.h"
#include "log.h"
#include "os.h"
#include <malloc.h>

#if defined(__SANITIZE_ADDRESS__)
#define OOM_SWEEP_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OOM_SWEEP_OFF 1
#endif
#endif

#ifndef OOM_SWEEP_OFF
HARNESS_SYNCS_OFF()   /* a sync changes nothing these checks see */

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

/* Counted on every thread (a restore's steps run on its worker, while the
 * caller waits): one thread allocates at a time, so the order is the
 * same in every run. */
static atomic_int armed;
static atomic_ulong seen, fail_at;

/* 1 when this allocation is the one to fail (errno ENOMEM, as malloc's). */
static int fails(void) {
  if (!atomic_load(&armed) || atomic_fetch_add(&seen, 1) + 1 != atomic_load(&fail_at)) return 0;
  errno = ENOMEM;
  return 1;
}

void *malloc(size_t n) { return fails() ? NULL : __libc_malloc(n); }
void *calloc(size_t a, size_t b) { return fails() ? NULL : __libc_calloc(a, b); }
void *realloc(void *q, size_t n) { return n && fails() ? NULL : __libc_realloc(q, n); }

/* The bytes malloc holds (GLIBC_TUNABLES=glibc.malloc.tcache_count=0:
 * else chunks in the thread cache count as held). */
static size_t held(void) { return mallinfo2().uordblks; }

typedef JET_ERR (*swept_fn)(void *ud);

/* Runs fn with the k-th allocation failing, k = 1.. until none fails
 * (before each run: prep(prep_arg) when given). */
static void (*after_run)(JET_ERR e);   /* a check after each run, when set */

static void sweep(const char *what, swept_fn fn, void *ud, void (*prep)(const char *), const char *prep_arg) {
  unsigned long k;
  if (prep) prep(prep_arg);
  (void)fn(ud);                          /* once whole: caches (a thread's stack) made */
  for (k = 1;; k++) {
    if (prep) prep(prep_arg);
    size_t before = held();
    atomic_store(&seen, 0);
    atomic_store(&fail_at, k);
    atomic_store(&armed, 1);
    JET_ERR e = fn(ud);
    atomic_store(&armed, 0);
    long live = (long)(held() - before);
    if (after_run) after_run(e);
    if (e != JET_errSuccess && e != JET_errOutOfMemory)
      FAIL("%s: allocation %lu failing: %s, not JET_errOutOfMemory", what, k, harness_err_name(e));
    if (live != 0) FAIL("%s: allocation %lu failing: %ld bytes not given back", what, k, live);
    if (atomic_load(&seen) < k) {
      if (e != JET_errSuccess) FAIL("%s: no allocation failed and the call answered %s", what, harness_err_name(e));
      break;
    }
  }
  printf("%s: %lu allocations swept\n", what, k - 1);
  fflush(stdout);
}

/* log_reader_open over the folder, every record read, closed. */
static JET_ERR read_logs(void *ud) {
  esio *io;
  JET_ERR e = esio_new(&io);
  if (e) return e;
  log_reader *r = NULL;
  e = log_reader_open(io, (const char *)ud, "edb", 0, NULL, 0, LOG_READ_CURRENT, &r);
  log_record rec;
  while (e == JET_errSuccess && (e = log_reader_next(r, &rec)) == 0) {}
  if (e == 1) e = JET_errSuccess;   /* the end of the log */
  log_reader_close(r);
  esio_free(io);
  return e;
}

/* A restore of the set into an empty folder, every step, ended. */
typedef struct restore_run { const char *set, *dest; } restore_run;

static JET_ERR restore_set(void *ud) {
  const restore_run *rr = ud;
  const char *dirs[1] = { rr->set };
  EseRestoreOptions o = { .dirs = dirs, .ndirs = 1, .dest = rr->dest };
  EseRestore *r = NULL;
  JET_ERR e = EseRestoreBegin(&o, &r);
  uint64_t done, total;
  int finished = 0;
  while (e == JET_errSuccess && !finished) e = EseRestoreStep(r, &done, &total, &finished);
  if (r) EseRestoreEnd(r);
  return e;
}

static void fresh_dest(const char *dest) {
  harness_rm_rf(dest);
  harness_make_dir(dest);
}

/* The engine on a copy of a folder that needs recovery (its instance was
 * killed): init (soft recovery), its table of app.edb, a transaction of
 * 20 puts committed, a complete term (abrupt after a failure). */
static const char *engine_dir, *engine_src;

static void engine_copy(const char *unused) {
  (void)unused;
  harness_rm_rf(engine_dir);
  harness_make_dir(engine_dir);
  DIR *d = opendir(engine_src);
  if (!d) FAIL("opendir %s: %s", engine_src, strerror(errno));
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char from[4200], to[4200];
    if (harness_copy_file(harness_in(from, sizeof from, engine_src, de->d_name),
                          harness_in(to, sizeof to, engine_dir, de->d_name)) != 0)
      FAIL("cannot copy %s", from);
  }
  closedir(d);
}

static JET_ERR open_app(JET_INSTANCE *inst, JET_SESID *s, JET_TABLEID *t) {
  char db[4200];
  JET_DBID dbid;
  snprintf(db, sizeof db, "%s/app.edb", engine_dir);
  JET_ERR e = harness_instance(inst, "oom", engine_dir, 64, 0);
  if (e >= 0) e = JetInit(inst);
  if (e >= 0) e = harness_open_table(*inst, db, 1, "t", s, &dbid, t);
  return e;
}

static JET_ERR has_key(JET_SESID s, JET_TABLEID t, const char *key) {
  size_t left = 0;
  return EseRetrieveSlice(s, t, key, strlen(key), 0, NULL, 0, &left);
}

static JET_ERR engine(void *ud) {
  (void)ud;
  JET_INSTANCE inst = 0;
  JET_SESID s;
  JET_TABLEID t;
  JET_ERR e = open_app(&inst, &s, &t);
  if (e >= 0) e = JetBeginTransaction(s);
  for (int i = 0; i < 20 && e >= 0; i++) {
    char k[32], v[300];
    snprintf(k, sizeof k, "oom%05d", i);
    memset(v, 'o', sizeof v);
    e = EsePut(s, t, k, strlen(k), v, sizeof v);
  }
  if (e >= 0) e = JetCommitTransaction(s, 0);
  JET_ERR te = inst ? JetTerm2(inst, e >= 0 ? JET_bitTermComplete : JET_bitTermAbrupt) : JET_errSuccess;
  if (e >= 0) e = te;
  return e < 0 ? e : JET_errSuccess;
}

/* The bytes of a file (*n), or NULL when it cannot be read. */
static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rbe");
  char *b = NULL;
  long sz = f && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
  if (sz >= 0 && fseek(f, 0, SEEK_SET) == 0 && (b = malloc((size_t)sz + 1)) && fread(b, 1, (size_t)sz, f) != (size_t)sz) {
    free(b);
    b = NULL;
  }
  if (f) fclose(f);
  *n = sz < 0 ? 0 : (size_t)sz;
  return b;
}

static const char *engine_orig;
static char *src_db;          /* ORIGINAL/app.edb as it was: no run may write it */
static size_t src_db_n;

/* After a run: the folder opens (recovery) with no allocation failing, the
 * records it had are there, and so is the run's transaction when its
 * commit answered success; the folder it was copied from is as it was. */
static void engine_after(JET_ERR run) {
  char p[4200];
  size_t n;
  char *now = slurp(harness_in(p, sizeof p, engine_orig, "app.edb"), &n);
  int same = now && n == src_db_n && memcmp(now, src_db, n) == 0;
  free(now);
  if (!same) FAIL("engine: the run (%s) wrote %s, the original of the folder it recovers", harness_err_name(run), p);
  if (run != JET_errSuccess && run != JET_errOutOfMemory) return;   /* the caller reports it */
  JET_INSTANCE inst = 0;
  JET_SESID s;
  JET_TABLEID t;
  JET_ERR e = open_app(&inst, &s, &t);
  if (e < 0) FAIL("engine: the folder does not open after the run (%s): %s", harness_err_name(run), harness_err_name(e));
  if ((e = has_key(s, t, "a00001")) < 0 || (e = has_key(s, t, "a00300")) < 0)
    FAIL("engine: a record before the run is gone after it (%s): %s", harness_err_name(run), harness_err_name(e));
  if (run == JET_errSuccess && (e = has_key(s, t, "oom00019")) < 0)
    FAIL("engine: the run's commit answered success, its record is gone: %s", harness_err_name(e));
  if ((e = JetTerm2(inst, JET_bitTermAbrupt)) < 0) FAIL("engine: term after the run: %s", harness_err_name(e));
}

static JET_ERR file_info(void *ud) {
  EseFileInfo fi;
  char detail[300];
  return EseGetFileInfo((const char *)ud, 1, &fi, detail, sizeof detail);
}
#endif

int main(int argc, char **argv) {
#ifdef OOM_SWEEP_OFF
  (void)argc;
  (void)argv;
  puts("skip");
  return 0;
#else
  if (argc < 7) FAIL("usage: oom_sweep LOGDIR DEST SET ZSET CRASHED ORIGINAL FILE...");
  sweep("log_reader", read_logs, argv[1], NULL, NULL);
  restore_run rr = { argv[3], argv[2] }, rz = { argv[4], argv[2] };
  sweep("restore", restore_set, &rr, fresh_dest, argv[2]);
  sweep("restore zstd", restore_set, &rz, fresh_dest, argv[2]);
  engine_dir = argv[2];
  engine_src = argv[5];
  engine_orig = argv[6];
  char srcp[4200];
  if (!(src_db = slurp(harness_in(srcp, sizeof srcp, engine_orig, "app.edb"), &src_db_n))) FAIL("cannot read %s", srcp);
  after_run = engine_after;
  sweep("engine", engine, NULL, engine_copy, NULL);
  after_run = NULL;
  for (int i = 7; i < argc; i++) {
    char what[64];
    snprintf(what, sizeof what, "file_info %d", i - 6);
    sweep(what, file_info, argv[i], NULL, NULL);
  }
  puts("ok");
  return 0;
#endif
}
