/*
 * oom_paths.c -- C allocations that fail in a restore's steps and in
 * ese.file_info(log, true): every realloc and strdup of the library (the
 * program links it with -Wl,--wrap=realloc,--wrap=strdup) in turn fails,
 * the k-th one counted from where the sweep arms, for k = 1, 2, ... until
 * the operation succeeds with no failure met.  Among them: restore.c's
 * note_skipped (a database the replayed logs create that no set holds)
 * and lua_check.c's note_db (a database a log's records create or attach).
 *
 * usage: oom_paths SET LIVE DEST_ROOT LOG NDB
 *   SET, LIVE: a backup set and a live log folder whose logs after the set
 *   create a database the set does not hold; DEST_ROOT: an empty folder
 *   (each try restores into a new folder in it); LOG: a log whose records
 *   create or attach NDB databases.
 * Each failing try must end with JET_errOutOfMemory (the restore's step,
 * or file_info's error object), a restore's database left "restoring"
 * (not clean: only a failure in the two steps after the replay's
 * write-back, which make the next generation and the checkpoint, may
 * leave it clean; run with ESE_FAULT_COUNT set, which makes the steps
 * run in line, one state's work each, as the count of steps needs); every try must leave the open descriptors and, unless
 * ESE_SANITIZED, the bytes malloc holds (mallinfo2; run with
 * GLIBC_TUNABLES=glibc.malloc.tcache_count=0 and MALLOC_ARENA_MAX=1) as
 * they were; the try that succeeds must report every database (the
 * restore's not_restored 1, file_info's NDB): a failure swallowed would
 * drop one in silence.  Prints "restore: N tries", "file_info: N tries"
 * and "oom_paths: ok" last.
 */
#define HARNESS_NAME "oom_paths"
#include "harness.h"
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <malloc.h>

int luaopen_ese_core(lua_State *L);

static atomic_long armed_at, calls;   /* armed_at 0: no failure */

void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);

#include <execinfo.h>
static int fails_now(void) {
  long k = atomic_load(&armed_at);
  int f = k && atomic_fetch_add(&calls, 1) + 1 == k;
  if (f && getenv("OOM_TRACE")) {
    void *b[8];
    int n = backtrace(b, 8);
    backtrace_symbols_fd(b, n, 2);
  }
  return f;
}

void *__wrap_realloc(void *p, size_t n) { return n && fails_now() ? NULL : __real_realloc(p, n); }
char *__wrap_strdup(const char *s) { return fails_now() ? NULL : __real_strdup(s); }

static void arm(long k) {
  atomic_store(&calls, 0);
  atomic_store(&armed_at, k);
}

/* 1 when the armed failure happened; disarms. */
static int disarm(void) {
  long k = atomic_exchange(&armed_at, 0);
  return atomic_load(&calls) >= k;
}

static int open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) FAIL("opendir /proc/self/fd: %s", strerror(errno));
  int n = 0;
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

static int sanitized;

static void *no_op(void *arg) { return arg; }

static void same_state(const char *what, long k, int fds, size_t held) {
  if (open_fds() != fds) FAIL("%s, failure %ld: %d descriptors open, %d before", what, k, open_fds(), fds);
  if (!sanitized && mallinfo2().uordblks != held)
    FAIL("%s, failure %ld: malloc holds %zu bytes, %zu before", what, k, mallinfo2().uordblks, held);
}

/* A failed try whose database was left clean: its step (1: the first). */
typedef struct { long k, step; } clean_try;

static long restores(const char *set, const char *live, const char *root) {
  clean_try clean[64];
  size_t nclean = 0;
  for (long k = 1;; k++) {
    char dest[512];
    snprintf(dest, sizeof dest, "%s/d%ld", root, k);
    int fds = open_fds();
    size_t held = mallinfo2().uordblks;
    const char *dirs[] = { set };
    char detail[600] = "";
    EseRestoreOptions o = { .dirs = dirs, .ndirs = 1, .dest = dest, .live_log_path = live, .detail = detail,
                            .detail_cap = sizeof detail };
    EseRestore *r = NULL;
    arm(k);
    JET_ERR e = EseRestoreBegin(&o, &r);
    int finished = 0;
    long steps = 0;
    while (e == JET_errSuccess && !finished) {
      steps++;
      e = EseRestoreStep(r, NULL, NULL, &finished);
    }
    int met = disarm();
    if (!met) {   /* no failure met: the whole restore ran */
      if (e) FAIL("restore without a failure: %ld (%s)", (long)e, r ? EseRestoreDetail(r) : detail);
      EseRestoreResult res;
      EseRestoreResultOf(r, &res);
      const char *name = EseRestoreNotRestored(r, 0, NULL, NULL);
      if (res.not_restored != 1 || !name || !strstr(name, "other.edb"))
        FAIL("restore: not_restored %lu (%s), want other.edb", res.not_restored, name ? name : "none");
      EseRestoreEnd(r);
      same_state("restore", k, fds, held);
      harness_rm_rf(dest);
      /* a database is made clean at the end of the replay's write-back;
       * only the two steps after it (the next generation, the
       * checkpoint: ESE_FAULT_COUNT makes the steps run in line, one
       * state's work a step) may fail with it clean */
      for (size_t i = 0; i < nclean; i++)
        if (clean[i].step < steps - 1)
          FAIL("restore, failure %ld: failed at step %ld of %ld, and its database was left clean", clean[i].k,
               clean[i].step, steps);
      return k;
    }
    if (e == JET_errSuccess) {
      /* a failure swallowed: the restore must still be whole */
      EseRestoreResult res;
      EseRestoreResultOf(r, &res);
      if (res.not_restored != 1) FAIL("restore, failure %ld: succeeded with not_restored %lu", k, res.not_restored);
    } else if (e != JET_errOutOfMemory) {
      FAIL("restore, failure %ld: %ld (%s), want JET_errOutOfMemory", k, (long)e, r ? EseRestoreDetail(r) : detail);
    }
    if (r) EseRestoreEnd(r);
    char db[600];
    EseFileInfo fi;
    snprintf(db, sizeof db, "%s/app.edb", dest);
    if (e && EseGetFileInfo(db, 0, &fi, NULL, 0) == JET_errSuccess && fi.state == 1) {
      if (nclean == sizeof clean / sizeof *clean) FAIL("restore: too many failures leave a clean database");
      clean[nclean++] = (clean_try){ k, steps };
    }
    same_state("restore", k, fds, held);
    harness_rm_rf(dest);
  }
}

static long file_infos(const char *log, long ndb) {
  for (long k = 1;; k++) {
    int fds = open_fds();
    size_t held = mallinfo2().uordblks;
    lua_State *L = luaL_newstate();
    if (!L) FAIL("luaL_newstate");
    luaL_openlibs(L);
    luaL_requiref(L, "ese.core", luaopen_ese_core, 0);
    lua_getfield(L, -1, "file_info");
    lua_pushstring(L, log);
    lua_pushboolean(L, 1);
    arm(k);
    int rc = lua_pcall(L, 2, 1, 0);
    int met = disarm();
    if (rc == LUA_OK) {
      lua_getfield(L, -1, "databases");
      long n = lua_istable(L, -1) ? (long)luaL_len(L, -1) : -1;
      if (n != ndb) FAIL("file_info, failure %ld (%s): %ld databases, want %ld", k, met ? "met" : "none", n, ndb);
    } else {
      lua_getfield(L, -1, "code");
      if (lua_tointeger(L, -1) != JET_errOutOfMemory)
        FAIL("file_info, failure %ld: error %s, want JET_errOutOfMemory", k, luaL_tolstring(L, -2, NULL));
      if (!met) FAIL("file_info failed without a failure met");
    }
    lua_close(L);
    same_state("file_info", k, fds, held);
    if (!met) return k;
  }
}

int main(int argc, char **argv) {
  if (argc != 6) FAIL("usage: oom_paths SET LIVE DEST_ROOT LOG NDB");
  sanitized = getenv("ESE_SANITIZED") != NULL;
  /* glibc keeps a joined thread's stack for the next thread, with its TLS
   * vector, which malloc holds: the first thread a restore's worker makes
   * is made here first, so that its bytes are held before the sweep */
  pthread_t th;
  if (pthread_create(&th, NULL, no_op, NULL) != 0 || pthread_join(th, NULL) != 0) FAIL("pthread_create");
  if (getenv("OOM_TRACE")) {   /* debugging: where the failure is (backtrace loads its library now) */
    void *b[2];
    backtrace(b, 2);
  }
  printf("restore: %ld tries\n", restores(argv[1], argv[2], argv[3]));
  printf("file_info: %ld tries\n", file_infos(argv[4], atol(argv[5])));
  printf("oom_paths: ok\n");
  return 0;
}
