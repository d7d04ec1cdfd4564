/*
 * oom_sweep.c -- C allocations that fail, one at a time: every malloc,
 * calloc, realloc (and what calls them: strdup, opendir, ...) made by the
 * calling thread during one call is counted; run k fails the k-th of them
 * (one only), for k = 1, 2, ... until a run makes fewer than k.  Each run
 * must answer success or JET_errOutOfMemory (never crash), and must give
 * back every byte it allocated (mallinfo2 before and after the call and
 * its close; run it with GLIBC_TUNABLES=glibc.malloc.tcache_count=0).
 *
 * usage: oom_sweep LOGDIR DEST SET ZSET FILE...  (LOGDIR: a log folder of
 * base edb with archived generations and edb.log; SET, ZSET: backup sets,
 * plain and compressed, that EseRestoreBegin/Step restores into DEST, a
 * scratch folder emptied before each run; FILE: files for EseGetFileInfo
 * with verify).  Prints one line per call swept and "ok" last; exits 1 on a
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
  if (argc < 5) FAIL("usage: oom_sweep LOGDIR DEST SET ZSET FILE...");
  sweep("log_reader", read_logs, argv[1], NULL, NULL);
  restore_run rr = { argv[3], argv[2] }, rz = { argv[4], argv[2] };
  sweep("restore", restore_set, &rr, fresh_dest, argv[2]);
  sweep("restore zstd", restore_set, &rz, fresh_dest, argv[2]);
  for (int i = 5; i < argc; i++) {
    char what[64];
    snprintf(what, sizeof what, "file_info %d", i - 4);
    sweep(what, file_info, argv[i], NULL, NULL);
  }
  puts("ok");
  return 0;
#endif
}
