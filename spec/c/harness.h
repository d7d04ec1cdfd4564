/*
 * harness.h -- what the C harness programs of spec/c share (crash_sweep,
 * io_errors, threads, backup_restore, backup_faults, term_race,
 * backup_two_instances): failure reports and checked calls, temporary
 * folders, child processes, instance and table set-up, deterministic
 * values, a streaming backup's lists and files.  Static inline functions
 * and macros only: each program is one translation unit that includes
 * this.
 *
 * A program defines HARNESS_NAME (its name, a string literal) before the
 * include.  Failures print "<name>: FAIL: <message>" on stdout and end the
 * process with status 1 through FAIL(...); a program that must clean up
 * first defines FAIL (a noreturn printf-like function or macro) before the
 * include, and likewise CK where a failed call must do something else than
 * FAIL (see HARNESS_CK).
 */
#ifndef ESE_SPEC_HARNESS_H
#define ESE_SPEC_HARNESS_H

#include "ese.h"
#include "backup.h"   /* backup_look: the order a harness waits for (engine-internal, linked in) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef HARNESS_NAME
#error "define HARNESS_NAME (the program's name) before including harness.h"
#endif

/* ---- reports ------------------------------------------------------------- */

/* Prints "<name>: <tag>: <message>" and a newline on stdout, flushed. */
static inline void harness_vreport(const char *tag, const char *fmt, va_list ap) {
  printf("%s: %s: ", HARNESS_NAME, tag);
  vprintf(fmt, ap);
  fputc('\n', stdout);
  fflush(stdout);
}

/* harness_vreport, then _exit(status). */
__attribute__((noreturn, format(printf, 3, 4))) static inline void harness_exit(int status, const char *tag,
                                                                               const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  harness_vreport(tag, fmt, ap);
  va_end(ap);
  _exit(status);
}

#ifndef FAIL
#define FAIL(...) harness_exit(1, "FAIL", __VA_ARGS__)
#endif

static inline const char *harness_err_name(JET_ERR e) {
  const char *n = EseErrorName(e);
  return n ? n : "?";
}

/* An engine call that must succeed (warnings allowed); on an error, fail
 * (a printf-like function or macro, e.g. FAIL) gets where and what. */
#define HARNESS_CK(x, fail)                                                                    \
  do {                                                                                         \
    JET_ERR e_ = (x);                                                                          \
    if (e_ < 0) fail("%s:%d: %s -> %s (%ld)", __FILE__, __LINE__, #x, harness_err_name(e_),     \
                     (long)e_);                                                                \
  } while (0)

#ifndef CK
#define CK(x) HARNESS_CK(x, FAIL)
#endif

/* "<what> -> <err> <name> (<the session's error detail>)" in out. */
static inline const char *harness_session_error(char *out, size_t n, JET_SESID s, JET_ERR e, const char *what) {
  char detail[256];
  EseSessionErrorDetail(s, detail, sizeof detail);
  snprintf(out, n, "%s -> %ld %s (%s)", what, (long)e, harness_err_name(e), detail);
  return out;
}

/* The same with the instance's error detail. */
static inline const char *harness_instance_error(char *out, size_t n, JET_INSTANCE inst, JET_ERR e,
                                                 const char *what) {
  char detail[256];
  EseInstanceErrorDetail(inst, detail, sizeof detail);
  snprintf(out, n, "%s -> %ld %s (%s)", what, (long)e, harness_err_name(e), detail);
  return out;
}

/* The start of main: stdout line-buffered (a report is whole when a child
 * or a kill cuts in), no fault inherited from the environment (ESE_FAULT,
 * ESE_FAULT_COUNT, ESE_FAULT_TRACE), and SIGALRM after limit_s seconds unless 0 (a hang
 * ends the program).  A hang guard only, never a speed check: 600 s at least (dw_torn
 * took 45 s at a load of 15 on a 2-core machine, and its 120 s alarm rang once there). */
static inline void harness_start(unsigned limit_s) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  unsetenv("ESE_FAULT");
  unsetenv("ESE_FAULT_COUNT");
  unsetenv("ESE_FAULT_TRACE");
  if (limit_s) alarm(limit_s);
}

/* ---- numbers, time, values --------------------------------------------------- */

static inline uint64_t harness_mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static inline uint64_t harness_hash_bytes(const void *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211ull;
  return harness_mix(h);
}

static inline uint64_t harness_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The hash a value of (key, gen) derives its length and filler from. */
static inline uint64_t harness_value_hash(const char *key, size_t klen, uint32_t gen) {
  return harness_hash_bytes(key, klen) ^ harness_mix(gen);
}

/* The value of (key, gen): "<key>|<gen>|" then filler from h up to len bytes
 * (at least the prefix; out holds VBUF-size values).  Returns its length. */
static inline size_t harness_value(char *out, const char *key, size_t klen, uint32_t gen, uint64_t h, size_t len) {
  size_t n = (size_t)snprintf(out, 300, "%.*s|%u|", (int)klen, key, gen);
  if (len < n) len = n;
  uint64_t x = h | 1;
  for (size_t k = n; k < len; k++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    out[k] = (char)('a' + x % 26);
  }
  return len;
}

/* An integer from the environment variable name, def when unset or empty,
 * at least min. */
static inline int harness_env_int(const char *name, int def, int min) {
  const char *v = getenv(name);
  int n = v && *v ? atoi(v) : def;
  return n < min ? min : n;
}

/* The p-th (0-based) of npts points spread over 1..total (every point when
 * npts == total). */
static inline unsigned long long harness_spread(unsigned long long p, unsigned long long npts,
                                                unsigned long long total) {
  if (npts == total) return p + 1;
  return npts == 1 ? 1 : 1 + p * (total - 1) / (npts - 1);
}

/* The number in the event count file that ESE_FAULT_COUNT names, in *n;
 * returns 0 when there is none. */
static inline int harness_read_count(const char *path, unsigned long long *n) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int ok = fscanf(f, "%llu", n) == 1;
  fclose(f);
  return ok;
}

/* ---- syncs ---------------------------------------------------------------------
 * HARNESS_SYNCS_OFF() defines fsync and fdatasync for the program (the
 * engine's objects are linked into it, so these replace libc's): no-ops
 * unless ESE_REAL_SYNC=1.  For faults that a sync cannot change (a SIGKILL,
 * an error returned): the fault layer still counts each sync as an event
 * before it calls it, and a run is several times cheaper. */
static inline int harness_real_sync(void) {
  static int real = -1;
  if (real < 0) {
    const char *e = getenv("ESE_REAL_SYNC");
    real = e && *e && *e != '0';
  }
  return real;
}

#define HARNESS_SYNCS_OFF()                                                                     \
  int fsync(int fd) { return harness_real_sync() ? (int)syscall(SYS_fsync, fd) : 0; }           \
  int fdatasync(int fd) { return harness_real_sync() ? (int)syscall(SYS_fdatasync, fd) : 0; }

/* ---- folders -------------------------------------------------------------------- */

static inline int harness_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb; (void)flag; (void)ftw;
  remove(path);
  return 0;
}

/* Removes dir and everything below it; 0 when it is gone (or was never
 * there), -1 when it is still there. */
static inline int harness_rm_rf(const char *dir) {
  nftw(dir, harness_rm_one, 16, FTW_DEPTH | FTW_PHYS);
  return access(dir, F_OK) == 0 ? -1 : 0;
}

/* A new folder /tmp/ese-<tag>-XXXXXX in out. */
static inline char *harness_tempdir(char *out, size_t n, const char *tag) {
  snprintf(out, n, "/tmp/ese-%s-XXXXXX", tag);
  if (!mkdtemp(out)) FAIL("mkdtemp: %s", strerror(errno));
  return out;
}

/* dir/name in out (FAIL when it does not fit). */
static inline char *harness_in(char *out, size_t n, const char *dir, const char *name) {
  if ((size_t)snprintf(out, n, "%s/%s", dir, name) >= n) FAIL("path %s/%s too long", dir, name);
  return out;
}

static inline void harness_make_dir(const char *dir) {
  if (mkdir(dir, 0700) != 0) FAIL("mkdir %s: %s", dir, strerror(errno));
}

/* FAILs unless a call returned want. */
static inline void harness_expect_err(JET_ERR got, JET_ERR want, const char *what) {
  if (got != want)
    FAIL("%s -> %s (%ld), want %s (%ld)", what, harness_err_name(got), (long)got, harness_err_name(want), (long)want);
}

/* base/name in out, removed if it was there and made again, empty. */
static inline char *harness_fresh_dir(char *out, size_t n, const char *base, const char *name) {
  snprintf(out, n, "%s/%s", base, name);
  harness_rm_rf(out);
  if (mkdir(out, 0700) != 0) FAIL("mkdir %s: %s", out, strerror(errno));
  return out;
}

/* Copies the file from to to (created or truncated); 0, or -1 with errno. */
static inline int harness_copy_file(const char *from, const char *to) {
  char buf[65536];
  int in = open(from, O_RDONLY | O_CLOEXEC);
  if (in < 0) return -1;
  int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) {
    close(in);
    return -1;
  }
  ssize_t r;
  while ((r = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, (size_t)r) != r) {
      r = -1;
      break;
    }
  int err = errno;
  close(in);
  close(out);
  errno = err;
  return r < 0 ? -1 : 0;
}

/* A digest of the content of the file at path. */
static inline uint64_t harness_file_hash(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) FAIL("open %s: %s", path, strerror(errno));
  uint64_t h = 0;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) h = harness_mix(h ^ harness_hash_bytes(buf, n));
  int bad = ferror(f);
  fclose(f);
  if (bad) FAIL("read %s failed", path);
  return h;
}

/* The state of the folder dir: a digest of each entry's name, type, size
 * and (a regular file) content, independent of listing order; a symbolic
 * link counts as itself, never as what it points at.  *n gets the number
 * of entries, -1 when dir does not exist (digest 0). */
static inline uint64_t harness_dir_digest(const char *dir, int *n) {
  DIR *d = opendir(dir);
  *n = -1;
  if (!d) {
    if (errno == ENOENT) return 0;
    FAIL("opendir %s: %s", dir, strerror(errno));
  }
  *n = 0;
  uint64_t sum = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    char p[4200];
    struct stat st;
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= sizeof p) FAIL("path too long: %s", dir);
    if (lstat(p, &st) != 0) FAIL("stat %s: %s", p, strerror(errno));
    uint64_t h = harness_hash_bytes(de->d_name, strlen(de->d_name)) ^ harness_mix((uint64_t)st.st_size);
    h ^= harness_mix((uint64_t)(st.st_mode & S_IFMT));
    if (S_ISREG(st.st_mode)) h ^= harness_file_hash(p);
    sum += harness_mix(h);
    (*n)++;
  }
  closedir(d);
  return sum;
}

/* FAILs unless dir is as it was (digest d0 with n0 entries). */
static inline void harness_expect_dir(const char *dir, uint64_t d0, int n0, const char *what) {
  int n;
  if (harness_dir_digest(dir, &n) != d0 || n != n0) FAIL("%s changed %s (%d entries, were %d)", what, dir, n, n0);
}

/* ---- child processes ------------------------------------------------------------ */

/* fork() with stdout flushed first (a child must not print it again). */
static inline pid_t harness_fork(void) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) FAIL("fork: %s", strerror(errno));
  return pid;
}

/* The wait status of the child pid. */
static inline int harness_wait(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) FAIL("waitpid: %s", strerror(errno));
  return st;
}

/* "exit N", "signal N (name)": a wait status in words (a static buffer). */
static inline const char *harness_status_text(int st) {
  static char b[64];
  if (WIFEXITED(st)) snprintf(b, sizeof b, "exit %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) snprintf(b, sizeof b, "signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
  else snprintf(b, sizeof b, "status %d", st);
  return b;
}

/* ---- instances and tables ---------------------------------------------------------- */

/* "<prefix>-<pid>-<n>" in out, n counting the calls: an instance name that
 * no other instance of this process (or of a parent) has. */
static inline const char *harness_unique_name(char *out, size_t n, const char *prefix) {
  static int counter;
  snprintf(out, n, "%s-%d-%d", prefix, (int)getpid(), ++counter);
  return out;
}

/* The system and log paths (dir), and the log file size in KiB and the
 * cache size in pages unless 0, of *pinst (NULL: the legacy instance).
 * Returns the first error (else the last result). */
static inline JET_ERR harness_params(JET_INSTANCE *pinst, const char *dir, unsigned long log_kib,
                                     unsigned long cache_pages) {
  JET_ERR e = JetSetSystemParameter(pinst, 0, JET_paramSystemPath, 0, dir);
  if (e >= 0) e = JetSetSystemParameter(pinst, 0, JET_paramLogFilePath, 0, dir);
  if (e >= 0 && log_kib) e = JetSetSystemParameter(pinst, 0, JET_paramLogFileSize, log_kib, NULL);
  if (e >= 0 && cache_pages) e = JetSetSystemParameter(pinst, 0, JET_paramCacheSizeMax, cache_pages, NULL);
  return e;
}

/* JetCreateInstance(name) and harness_params (not yet initialized). */
static inline JET_ERR harness_instance(JET_INSTANCE *inst, const char *name, const char *dir, unsigned long log_kib,
                                       unsigned long cache_pages) {
  JET_ERR e = JetCreateInstance(inst, name);
  if (e >= 0) e = harness_params(inst, dir, log_kib, cache_pages);
  return e;
}

/* A session on inst with the database dbpath (attached first when attach)
 * open and its table named table open in *t (when table).  Returns the
 * first error (else the last result). */
static inline JET_ERR harness_open_table(JET_INSTANCE inst, const char *dbpath, int attach, const char *table,
                                         JET_SESID *s, JET_DBID *db, JET_TABLEID *t) {
  JET_ERR e = JetBeginSession(inst, s, NULL, NULL);
  if (e >= 0 && attach) e = JetAttachDatabase(*s, dbpath, 0);
  if (e >= 0) e = JetOpenDatabase(*s, dbpath, NULL, db, 0);
  if (e >= 0 && table) e = EseOpenTable(*s, *db, table, t);
  return e;
}

/* A new instance (named after prefix) on dir, initialized, with a session
 * *s and table "t" of dir/app.edb (attached) open in *t. */
static inline JET_INSTANCE harness_open_dir(const char *prefix, const char *dir, JET_SESID *s, JET_TABLEID *t) {
  JET_INSTANCE inst;
  JET_DBID db;
  char name[64], p[4200];
  if ((size_t)snprintf(p, sizeof p, "%s/app.edb", dir) >= sizeof p) FAIL("path too long: %s", dir);
  HARNESS_CK(harness_instance(&inst, harness_unique_name(name, sizeof name, prefix), dir, 0, 0), FAIL);
  HARNESS_CK(JetInit(&inst), FAIL);
  HARNESS_CK(harness_open_table(inst, p, 1, "t", s, &db, t), FAIL);
  return inst;
}

/* A session on inst, a new database dbpath and a new table in it.  Returns
 * the first error (else the last result). */
static inline JET_ERR harness_create_table(JET_INSTANCE inst, const char *dbpath, const char *table, JET_SESID *s,
                                           JET_DBID *db, JET_TABLEID *t) {
  JET_ERR e = JetBeginSession(inst, s, NULL, NULL);
  if (e >= 0) e = JetCreateDatabase(*s, dbpath, NULL, db, 0);
  if (e >= 0) e = EseCreateTable(*s, *db, table, t);
  return e;
}

/* ---- streaming backup ------------------------------------------------------------ */

/* The names of the double-NUL-terminated list in buf: a NULL-terminated
 * array of pointers into buf (free it), their count in *n. */
static inline char **harness_names(char *buf, int *n) {
  int count = 0;
  for (char *p = buf; *p; p += strlen(p) + 1) count++;
  char **names = calloc((size_t)count + 1, sizeof *names);
  if (!names) FAIL("out of memory");
  count = 0;
  for (char *p = buf; *p; p += strlen(p) + 1) names[count++] = p;
  *n = count;
  return names;
}

/* Keys "<prefix><i>" (two digits at least) for i in [lo, hi), each with the
 * value harness_value gives it (gen 7, 60..359 bytes). */
static inline size_t harness_key_value(char *k, size_t kn, char *v, const char *prefix, int i) {
  snprintf(k, kn, "%s%02d", prefix, i);
  size_t kl = strlen(k);
  uint64_t h = harness_value_hash(k, kl, 7);
  return harness_value(v, k, kl, 7, h, 60 + h % 300);
}

static inline void harness_put_keys(JET_SESID s, JET_TABLEID t, const char *prefix, int lo, int hi) {
  for (int i = lo; i < hi; i++) {
    char k[32], v[512];
    size_t vl = harness_key_value(k, sizeof k, v, prefix, i);
    HARNESS_CK(EsePut(s, t, k, strlen(k), v, vl), FAIL);
  }
}

/* harness_put_keys in a transaction of its own, committed with grbit. */
static inline void harness_commit_keys(JET_SESID s, JET_TABLEID t, const char *prefix, int lo, int hi, JET_GRBIT grbit) {
  HARNESS_CK(JetBeginTransaction(s), FAIL);
  harness_put_keys(s, t, prefix, lo, hi);
  HARNESS_CK(JetCommitTransaction(s, grbit), FAIL);
}

/* The keys of harness_put_keys are all in t with their values (present), or
 * none of them is. */
static inline void harness_expect_keys(JET_SESID s, JET_TABLEID t, const char *prefix, int lo, int hi, int present,
                                       const char *where) {
  for (int i = lo; i < hi; i++) {
    char k[32], v[512], got[512];
    size_t vl = harness_key_value(k, sizeof k, v, prefix, i), gl = 0;
    JET_ERR e = EseSeek(s, t, k, strlen(k), JET_bitSeekEQ);
    if (!present) {
      if (e != JET_errRecordNotFound) FAIL("%s: %s is there (seek -> %s), it must not be", where, k, harness_err_name(e));
      continue;
    }
    if (e != JET_errSuccess) FAIL("%s: %s is missing (seek -> %s)", where, k, harness_err_name(e));
    HARNESS_CK(EseRetrieveValue(s, t, got, sizeof got, &gl), FAIL);
    if (gl != vl || memcmp(got, v, vl) != 0) FAIL("%s: %s has a wrong value (%zu bytes, want %zu)", where, k, gl, vl);
  }
}

/* A new database dbpath with table "t" (harness_create_table) holding keys
 * "a" 0..n-1, then an external backup begun (its checkpoint taken) and keys
 * "b" 0..n-1 committed after it: n records' pages dirty for the backup's
 * next checkpoint (the cut-off's). */
static inline void harness_backup_dirty(JET_INSTANCE inst, const char *dbpath, int n, JET_SESID *s, JET_DBID *db,
                                        JET_TABLEID *t) {
  HARNESS_CK(harness_create_table(inst, dbpath, "t", s, db, t), FAIL);
  harness_commit_keys(*s, *t, "a", 0, n, 0);
  HARNESS_CK(JetBeginExternalBackupInstance(inst, 0), FAIL);
  harness_commit_keys(*s, *t, "b", 0, n, 0);
}

/* ---- a checkpoint slice held in its ring sync ----------------------------------
 * ESE_FAULT=holdsync:edb.dwb:GATE[:eio]: while the file GATE exists, every
 * sync of the double-write ring waits (GATE.held shows it), then goes on
 * (with :eio fails with EIO).  A harness holds a backup's checkpoint slice
 * in its unlocked I/O that way, as long as it likes. */
typedef struct {
  char root[64], dir[300], dbpath[400], gate[400], held[420], fault[500];
} harness_hold;

static inline int harness_exists(const char *p) { return access(p, F_OK) == 0; }

/* Whether the file system of folder dir reserves a file's blocks with
 * fallocate (os_reserve then makes log and double-write files without
 * writing their zeros): a probe file made, reserved and removed. */
static inline int harness_can_reserve(const char *dir) {
  char p[512];
  snprintf(p, sizeof p, "%s/.reserve-probe", dir);
  int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return 0;
  int ok = fallocate(fd, 0, 0, 65536) == 0;
  close(fd);
  unlink(p);
  return ok;
}

static inline void harness_nap_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

/* How long a harness waits for something that must come (a thread that
 * must reach a point, a count that must grow) before it reports it: a
 * bound for a hang, never a measure (a loaded machine takes its time). */
#define HARNESS_WAIT_US (60u * 1000000u)

/* inst's running backup as backup_look sees it (the instance lock taken
 * and released: call it while no thread of this program holds it). */
static inline backup_view harness_backup_view(JET_INSTANCE inst) {
  backup_view v;
  backup_look((esinst *)inst, &v);
  return v;
}

/* Waits until inst's backup is in state (-1: any) with at least waiting
 * calls waiting on it and its cut-off at least cut (backup_view), or until
 * *done is set (the call that was to wait returned: the caller's own check
 * reports that), up to HARNESS_WAIT_US; else FAIL names what.  Returns
 * whether the backup got there. */
static inline int harness_backup_await(JET_INSTANCE inst, int state, int waiting, int cut, const atomic_int *done,
                                       const char *what) {
  uint64_t limit = harness_now_us() + HARNESS_WAIT_US;
  for (;;) {
    backup_view v = harness_backup_view(inst);
    if ((state < 0 || (int)v.state == state) && v.waiting >= waiting && v.cut >= cut) return 1;
    if (done && atomic_load(done)) return 0;
    if (harness_now_us() > limit)
      FAIL("%s: not within %u s (backup state %d, %d waiting, cut-off %d)", what, HARNESS_WAIT_US / 1000000u,
           (int)v.state, v.waiting, v.cut);
    harness_nap_ms(1);
  }
}

/* A new folder (tag) with a db folder and dir/app.edb named, the gate's
 * paths, and ESE_FAULT set to hold the syncs of the file name (the last
 * part of its path, or an os_hold_point's name; suffix: "" or ":eio"):
 * before the instance. */
static inline void harness_hold_setup_name(harness_hold *h, const char *tag, const char *name, const char *suffix) {
  harness_tempdir(h->root, sizeof h->root, tag);
  harness_fresh_dir(h->dir, sizeof h->dir, h->root, "db");
  snprintf(h->dbpath, sizeof h->dbpath, "%s/app.edb", h->dir);
  snprintf(h->gate, sizeof h->gate, "%s/gate", h->root);
  snprintf(h->held, sizeof h->held, "%s.held", h->gate);
  snprintf(h->fault, sizeof h->fault, "holdsync:%s:%s%s", name, h->gate, suffix);
  setenv("ESE_FAULT", h->fault, 1);
}

/* harness_hold_setup_name holding the double-write ring's syncs. */
static inline void harness_hold_setup(harness_hold *h, const char *tag, const char *suffix) {
  harness_hold_setup_name(h, tag, "edb.dwb", suffix);
}

/* A new instance (named after prefix, logs of log_kib KiB, a cache of
 * 20,000 pages) on h's db folder, initialized. */
static inline void harness_hold_instance(harness_hold *h, const char *prefix, unsigned long log_kib,
                                         JET_INSTANCE *inst) {
  char name[64];
  HARNESS_CK(harness_instance(inst, harness_unique_name(name, sizeof name, prefix), h->dir, log_kib, 20000), FAIL);
  HARNESS_CK(JetInit(inst), FAIL);
}

/* A new database dbpath with table "t" holding keys "k0".."k3" 0..n-1,
 * each prefix committed in a transaction of its own: n x 4 records' pages
 * dirty, and with small logs the checkpoint in an older generation than
 * the log's (so that a full backup's Begin takes one). */
static inline void harness_dirty_rounds(JET_INSTANCE inst, const char *dbpath, int n, JET_SESID *s, JET_DBID *db,
                                        JET_TABLEID *t) {
  HARNESS_CK(harness_create_table(inst, dbpath, "t", s, db, t), FAIL);
  for (int r = 0; r < 4; r++) {
    char prefix[16];   /* "k" and any int */
    snprintf(prefix, sizeof prefix, "k%d", r);
    HARNESS_CK(JetBeginTransaction(*s), FAIL);
    harness_put_keys(*s, *t, prefix, 0, n);
    HARNESS_CK(JetCommitTransaction(*s, 0), FAIL);
  }
}

/* Every key of harness_dirty_rounds is in t with its value. */
static inline void harness_expect_rounds(JET_SESID s, JET_TABLEID t, int n, const char *where) {
  for (int r = 0; r < 4; r++) {
    char prefix[16];   /* "k" and any int */
    snprintf(prefix, sizeof prefix, "k%d", r);
    harness_expect_keys(s, t, prefix, 0, n, 1, where);
  }
}

/* The gate made: the next ring sync is held. */
static inline void harness_hold_close(harness_hold *h) {
  FILE *g = fopen(h->gate, "w");
  if (!g || fclose(g) != 0) FAIL("cannot make %s", h->gate);
}

/* Waits until a ring sync is held (1), or *done is set or max_ms passed (0). */
static inline int harness_hold_wait(harness_hold *h, const atomic_int *done, long max_ms) {
  for (long i = 0; i < max_ms && !harness_exists(h->held) && !(done && atomic_load(done)); i++) harness_nap_ms(1);
  return harness_exists(h->held);
}

/* harness_hold_setup_name (tag, name, suffix), harness_hold_instance
 * (prefix, log_kib) and harness_backup_dirty (n): a backup begun with n
 * records' pages dirty, the hold not made yet; the instance. */
static inline JET_INSTANCE harness_hold_backup(harness_hold *h, const char *tag, const char *name, const char *suffix,
                                               const char *prefix, unsigned long log_kib, int n, JET_SESID *s,
                                               JET_DBID *db, JET_TABLEID *t) {
  JET_INSTANCE inst;
  harness_hold_setup_name(h, tag, name, suffix);
  harness_hold_instance(h, prefix, log_kib, &inst);
  harness_backup_dirty(inst, h->dbpath, n, s, db, t);
  return inst;
}

/* The backup's cut-off made (EseBackupStep, ESE_bitBackupStepCutOff): its
 * answer and *more.  A call that found the instance lock busy (another
 * thread held it a moment: an archiver's roll, an application's commit)
 * answers "more" having done nothing; it is called again until the
 * cut-off began (backup_look). */
static inline JET_ERR harness_cut_off(JET_INSTANCE inst, int *more) {
  JET_ERR e;
  do e = EseBackupStep(inst, ESE_bitBackupStepCutOff, more);
  while (e == JET_errSuccess && *more && harness_backup_view(inst).cut == 0);
  return e;
}

/* The backup's pending checkpoint stepped to its end (EseBackupStep, each
 * step checked); FAIL when it does not end within HARNESS_WAIT_US.  A step
 * whose slice still runs on the backup's worker answers "more" at once: a
 * bound by count (a million steps, a second or two) was passed by a slice
 * whose sync took that long on a loaded disk. */
static inline void harness_step_checkpoint(JET_INSTANCE inst) {
  uint64_t limit = harness_now_us() + HARNESS_WAIT_US;
  int more = 1;
  do HARNESS_CK(EseBackupStep(inst, 0, &more), FAIL); while (more && harness_now_us() < limit);
  if (more) FAIL("the checkpoint did not end within %u s", HARNESS_WAIT_US / 1000000u);
}

/* After harness_hold_backup (the instance gone, not clean): ESE_FAULT
 * unset, a new instance (prefix) recovers h's folder; keys "a" and "b"
 * 0..n-1 and "c" 0..nc-1 are there; a clean term; h's folders removed. */
static inline void harness_expect_recovered(harness_hold *h, const char *prefix, int n, int nc) {
  JET_SESID s;
  JET_TABLEID t;
  unsetenv("ESE_FAULT");
  JET_INSTANCE i2 = harness_open_dir(prefix, h->dir, &s, &t);
  harness_expect_keys(s, t, "a", 0, n, 1, "after recovery");
  harness_expect_keys(s, t, "b", 0, n, 1, "after recovery");
  harness_expect_keys(s, t, "c", 0, nc, 1, "after recovery");
  HARNESS_CK(JetTerm2(i2, JET_bitTermComplete), FAIL);
  harness_rm_rf(h->root);
}

/* The gate made, then fn(NULL) on a new thread *th, which must be held
 * within max_ms: else the gate is removed and FAIL names what and err,
 * fn's answer (*done: fn returned). */
static inline void harness_hold_thread(harness_hold *h, pthread_t *th, void *(*fn)(void *), const atomic_int *done,
                                       const atomic_long *err, long max_ms, const char *what) {
  harness_hold_close(h);
  if (pthread_create(th, NULL, fn, NULL) != 0) FAIL("pthread_create");
  if (!harness_hold_wait(h, done, max_ms)) {
    unlink(h->gate);
    FAIL("%s was not held (it answered %ld)", what, (long)atomic_load(err));
  }
}

/* The application's thread, while a call is held: keys "c" 0..19 committed
 * on harness_app_state()'s s and t (with grbit: 0 durably), read back
 * (where names the check), then committed set. */
typedef struct {
  JET_SESID s;
  JET_TABLEID t;
  JET_GRBIT grbit;
  const char *where;
  atomic_int committed;
} harness_app;

static inline harness_app *harness_app_state(void) {
  static harness_app a;
  return &a;
}

static inline void *harness_app_thread(void *unused) {
  (void)unused;
  harness_app *a = harness_app_state();
  harness_commit_keys(a->s, a->t, "c", 0, 20, a->grbit);
  harness_expect_keys(a->s, a->t, "c", 0, 20, 1, a->where);
  atomic_store(&a->committed, 1);
  return NULL;
}

/* The backup's cut-off (EseBackupStep, ESE_bitBackupStepCutOff) of
 * harness_cut_state()->inst on a thread of its own (harness_hold_thread's
 * fn): its answer in err, done set once it returned. */
typedef struct {
  JET_INSTANCE inst;
  atomic_int done;
  atomic_long err;
} harness_cut;

static inline harness_cut *harness_cut_state(void) {
  static harness_cut c;
  return &c;
}

static inline void *harness_cut_thread(void *unused) {
  (void)unused;
  harness_cut *c = harness_cut_state();
  int more = 0;
  atomic_store(&c->err, harness_cut_off(c->inst, &more));
  atomic_store(&c->done, 1);
  return NULL;
}

/* The highest archived log generation in dir (edb%08X.log), 0 when none. */
static inline unsigned long harness_last_archived(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) FAIL("opendir %s", dir);
  unsigned long hi = 0;
  for (struct dirent *e; (e = readdir(d));) {
    unsigned long g;
    char tail[8];
    if (strlen(e->d_name) == 15 && sscanf(e->d_name, "edb%8lx%4s", &g, tail) == 2 && !strcmp(tail, ".log") && g > hi)
      hi = g;
  }
  closedir(d);
  return hi;
}

/* The cut-off of inst started on *tx (harness_cut_thread) and held in h's
 * gate (harness_hold_thread, up to 60 s): harness_cut_state() made ready
 * (inst, done 0) and returned. */
static inline harness_cut *harness_cut_start(harness_hold *h, JET_INSTANCE inst, pthread_t *tx) {
  harness_cut *c = harness_cut_state();
  c->inst = inst;
  atomic_store(&c->done, 0);
  harness_hold_thread(h, tx, harness_cut_thread, &c->done, &c->err, 60000, "the cut-off");
  return c;
}

/* Whether the cut-off harness_cut_start began is still held in h's gate
 * (h->held there and the cut-off not returned). */
static inline int harness_cut_held(const harness_hold *h) {
  return harness_exists(h->held) && !atomic_load(&harness_cut_state()->done);
}

/* harness_backup_dirty's backup cut off, then a slice on the backup's
 * worker held in its ring sync (FAIL when there is none to hold). */
static inline void harness_hold_slice(JET_INSTANCE inst, harness_hold *h) {
  int more = 0;
  HARNESS_CK(harness_cut_off(inst, &more), FAIL);
  if (!more) FAIL("the cut-off left no checkpoint to take");
  harness_hold_close(h);
  HARNESS_CK(EseBackupStep(inst, 0, &more), FAIL);
  if (!more) FAIL("the step took no slice");
  if (!harness_hold_wait(h, NULL, 60000)) FAIL("the slice was not held");
}

/* A list call of the instance forms (JetGetAttachInfoInstance,
 * JetGetLogInfoInstance, JetGetTruncateLogInfoInstance). */
typedef JET_ERR (*harness_list_fn)(JET_INSTANCE, char *, unsigned long, unsigned long *);

/* The names of fn(inst)'s list, asked with the size first (the first call
 * is the one that counts, e.g. GetLogInfo's cut-off): harness_names of
 * the list, which is in *buf (free both). */
static inline char **harness_list(JET_INSTANCE inst, harness_list_fn fn, char **buf, int *n) {
  unsigned long cb = 0, got = 0;
  HARNESS_CK(fn(inst, NULL, 0, &cb), FAIL);
  for (;;) {
    if (!(*buf = calloc(cb + 2, 1))) FAIL("out of memory");   /* two NULs past what fn writes */
    HARNESS_CK(fn(inst, *buf, cb, &got), FAIL);
    if (got <= cb) break;
    free(*buf);   /* the list grew between the calls: ask again with its new size */
    cb = got;
  }
  return harness_names(*buf, n);
}

/* Streams the file src of inst's running external backup (OpenFile,
 * ReadFile until 0 bytes, CloseFile) into destdir under its base name, and
 * checks that as many bytes came as OpenFile announced.  Returns them. */
static inline uint64_t harness_copy_stream(JET_INSTANCE inst, const char *src, const char *destdir) {
  JET_HANDLE h;
  unsigned long lo, hi;
  HARNESS_CK(JetOpenFileInstance(inst, src, &h, &lo, &hi), FAIL);
  uint64_t size = ((uint64_t)hi << 32) | lo, got = 0;
  const char *slash = strrchr(src, '/');
  char out[4200];
  if ((size_t)snprintf(out, sizeof out, "%s/%s", destdir, slash ? slash + 1 : src) >= sizeof out)
    FAIL("path too long: %s/%s", destdir, src);
  FILE *f = fopen(out, "wb");
  if (!f) FAIL("%s: %s", out, strerror(errno));
  size_t cb = 256 * 1024;   /* a multiple of every page size */
  void *buf = aligned_alloc(4096, cb);
  if (!buf) FAIL("out of memory");
  for (;;) {
    unsigned long n = 0;
    HARNESS_CK(JetReadFileInstance(inst, h, buf, (unsigned long)cb, &n), FAIL);
    if (n == 0) break;
    if (fwrite(buf, 1, n, f) != n) FAIL("fwrite %s: %s", out, strerror(errno));
    got += n;
  }
  free(buf);
  if (fclose(f) != 0) FAIL("close %s: %s", out, strerror(errno));
  HARNESS_CK(JetCloseFileInstance(inst, h), FAIL);
  if (got != size)
    FAIL("%s streamed %llu bytes, OpenFile said %llu", src, (unsigned long long)got, (unsigned long long)size);
  return got;
}

#endif
