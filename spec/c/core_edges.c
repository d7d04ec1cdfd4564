/*
 * core_edges.c -- engine core edges the Lua specs do not reach:
 *   header    a database whose page 0 has a damaged page-size field (the
 *             rest of its header intact) is read from the shadow header on
 *             page 1: it attaches, its records are back, and the attach
 *             writes page 0 whole again.
 *   stale     a table handle, and a transaction's write, of a database that
 *             was closed and detached never reach a database attached later
 *             under the same id: JET_errDatabaseNotFound, the new database
 *             unchanged.
 *   tombs     a transaction deletes a run of keys: seeks in both directions
 *             step over the deleted keys (tree records and the transaction's
 *             own puts) to the next live record, or JET_errRecordNotFound.
 *   os        os_dirname and os_read_head (a missing file, a short file,
 *             max 0).
 *   lockheld  inst_lock_held (the assertions' "this thread holds the
 *             instance lock"): false before inst_lock, true after it, false
 *             in another thread meanwhile and after inst_unlock; true in
 *             the thread that took the lock while another waits in
 *             inst_wait, and true again in the waiter when it returns.
 *   zstahead  zst_open_ahead of a compressed file of one chunk (a 1 MiB
 *             log in a restore's 1 MiB chunks) starts no thread and hands
 *             out the original whole; of a 3 MiB file, one read-ahead
 *             thread, ended by zst_close; the original either way.
 *   zstasync  zst_async (a file compressed on a thread of its own) of 0,
 *             1, 1 MiB and 3 MiB + an 8 KiB tail, queued in pieces of
 *             every size from 1 byte to 1 MiB with the bytes taken
 *             between them: zst_open reads the original back; one thread
 *             while it runs, none after zst_async_free; every piece
 *             consumed once complete; more bytes than the size, or a
 *             waiting take before all of them: JET_errInvalidParameter;
 *             freed half-way: the thread is gone.
 * Prints "core_edges: <test>: ok" per test and exits 0, or says what
 * differed and exits 1.  Argument: one test name, or none for all.
 */
#define HARNESS_NAME "core_edges"
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include "harness.h"
#include "internal.h"   /* db_rel_path */
#include "os.h"
#include "page.h"
#include "zst.h"

static JET_INSTANCE start(const char *dir) {
  JET_INSTANCE inst;
  char name[64];
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "core"), dir, 0, 0));
  CK(JetInit(&inst));
  return inst;
}

/* A running instance in the fresh folder root/test, with a new database
 * <test>/<test>.edb (path in db) and its table "t" open in *s, *d, *t. */
static JET_INSTANCE start_with_table(const char *root, const char *test, char *db, size_t n, JET_SESID *s,
                                     JET_DBID *d, JET_TABLEID *t) {
  char dir[256];
  harness_fresh_dir(dir, sizeof dir, root, test);
  snprintf(db, n, "%s/%s.edb", dir, test);
  JET_INSTANCE inst = start(dir);
  CK(harness_create_table(inst, db, "t", s, d, t));
  return inst;
}

static void put(JET_SESID s, JET_TABLEID t, const char *k, const char *v) {
  CK(EsePut(s, t, k, strlen(k), v, strlen(v)));
}

/* The key the cursor stands on after a seek (op) for k, or "" and the error. */
static JET_ERR seek_key(JET_SESID s, JET_TABLEID t, const char *k, JET_GRBIT op, char *out) {
  size_t n = 0;
  out[0] = 0;
  JET_ERR e = EseSeek(s, t, k, k ? strlen(k) : 0, op);
  if (e) return e;
  CK(EseRetrieveKey(s, t, out, 63, &n));
  out[n] = 0;
  return 0;
}

static void expect_value(JET_SESID s, JET_TABLEID t, const char *k, const char *v) {
  char buf[64];
  size_t n = 0;
  JET_ERR e = EseSeek(s, t, k, strlen(k), JET_bitSeekEQ);
  if (e) FAIL("seek %s -> %ld %s", k, (long)e, harness_err_name(e));
  CK(EseRetrieveValue(s, t, buf, sizeof buf - 1, &n));
  buf[n] = 0;
  if (strcmp(buf, v)) FAIL("%s: value '%s', want '%s'", k, buf, v);
}

static void test_header(const char *root) {
  char db[300], dir[300];
  JET_SESID s;
  JET_DBID d;
  JET_TABLEID t;
  JET_INSTANCE inst = start_with_table(root, "header", db, sizeof db, &s, &d, &t);
  snprintf(dir, sizeof dir, "%s/header", root);
  put(s, t, "alpha", "one");
  CK(JetTerm2(inst, JET_bitTermComplete));

  /* the page-size field of page 0 (PAGE_HDR + 8) damaged */
  int fd = open(db, O_RDWR);
  if (fd < 0) FAIL("open %s: %s", db, strerror(errno));
  uint8_t bad[4] = { 0x34, 0x12, 0, 0 };
  if (pwrite(fd, bad, 4, PAGE_HDR + 8) != 4) FAIL("pwrite: %s", strerror(errno));
  close(fd);

  inst = start(dir);
  CK(JetBeginSession(inst, &s, NULL, NULL));
  JET_ERR e = JetAttachDatabase(s, db, 0);
  if (e) FAIL("attach with page 0 damaged -> %ld %s (want the shadow header)", (long)e, harness_err_name(e));
  CK(JetOpenDatabase(s, db, NULL, &d, 0));
  CK(EseOpenTable(s, d, "t", &t));
  expect_value(s, t, "alpha", "one");
  CK(JetTerm2(inst, JET_bitTermComplete));

  fd = open(db, O_RDONLY);
  uint8_t page0[8192];
  if (fd < 0 || pread(fd, page0, sizeof page0, 0) != (ssize_t)sizeof page0) FAIL("read page 0");
  close(fd);
  if (page_verify(page0, sizeof page0, 0) != PAGE_OK || get32(page0 + PAGE_HDR + 8) != 8192)
    FAIL("page 0 was not written whole again");
  printf("core_edges: header: ok\n");
}

static void test_stale(const char *root) {
  char a[300], b[300], buf[64];
  JET_SESID s;
  JET_DBID da, db;
  JET_TABLEID ta, tb;
  /* A: catalog, then table "t"; B: catalog, then table "x": the same roots */
  JET_INSTANCE inst = start_with_table(root, "stale", a, sizeof a, &s, &da, &ta);
  snprintf(b, sizeof b, "%s/stale/b.edb", root);
  put(s, ta, "a1", "in-a");
  CK(JetBeginTransaction(s));
  put(s, ta, "w1", "txn-write");
  CK(JetCloseDatabase(s, da, 0));
  CK(JetDetachDatabase(s, a));
  CK(JetCreateDatabase(s, b, NULL, &db, 0));
  if (db != da) FAIL("B got dbid %lu, A had %lu: the test needs the same id", (unsigned long)db, (unsigned long)da);
  CK(EseCreateTable(s, db, "x", &tb));

  JET_ERR e = EsePut(s, ta, "k2", 2, "v", 1);
  if (e != JET_errDatabaseNotFound) FAIL("put through A's table after A left -> %ld %s", (long)e, harness_err_name(e));
  e = seek_key(s, ta, "a1", JET_bitSeekEQ, buf);
  if (e != JET_errDatabaseNotFound) FAIL("seek through A's table after A left -> %ld %s", (long)e, harness_err_name(e));
  e = JetCommitTransaction(s, 0);
  if (e != JET_errDatabaseNotFound) FAIL("commit of a write to A after A left -> %ld %s", (long)e, harness_err_name(e));
  CK(EseCloseTable(s, ta));

  e = seek_key(s, tb, NULL, JET_bitSeekGE, buf);
  if (e != JET_errRecordNotFound) FAIL("B's table x holds '%s' (%ld): a write meant for A", buf, (long)e);
  /* A is intact and still holds only its committed record */
  CK(JetAttachDatabase(s, a, 0));
  CK(JetOpenDatabase(s, a, NULL, &da, 0));
  CK(EseOpenTable(s, da, "t", &ta));
  expect_value(s, ta, "a1", "in-a");
  e = seek_key(s, ta, "w1", JET_bitSeekEQ, buf);
  if (e != JET_errRecordNotFound) FAIL("the failed commit's write is in A (%ld)", (long)e);
  CK(JetTerm2(inst, JET_bitTermComplete));
  printf("core_edges: stale: ok\n");
}

static void test_tombs(const char *root) {
  char db[300], got[64];
  JET_SESID s;
  JET_DBID d;
  JET_TABLEID t;
  JET_INSTANCE inst = start_with_table(root, "tombs", db, sizeof db, &s, &d, &t);
  const char *keys[] = { "b", "c", "d", "e", "f", "g" };
  for (int i = 0; i < 6; i++) put(s, t, keys[i], "v");
  CK(JetBeginTransaction(s));
  put(s, t, "cc", "txn");                 /* a put of the transaction, then deleted */
  CK(EseDelete(s, t, "cc", 2));
  CK(EseDelete(s, t, "c", 1));
  CK(EseDelete(s, t, "d", 1));
  CK(EseDelete(s, t, "e", 1));
  CK(EseDelete(s, t, "g", 1));
  JET_ERR e = EseDelete(s, t, "dd", 2);
  if (e != JET_errRecordNotFound) FAIL("delete of a missing key in a transaction -> %ld", (long)e);
  static const struct { const char *k; JET_GRBIT op; const char *want; } cases[] = {
    { "c", JET_bitSeekGE, "f" },  { "b", JET_bitSeekGT, "f" },  { "cc", JET_bitSeekGE, "f" },
    { "f", JET_bitSeekLT, "b" },  { "e", JET_bitSeekLE, "b" },  { "z", JET_bitSeekLE, "f" },
    { NULL, JET_bitSeekLE, "f" }, { NULL, JET_bitSeekGE, "b" }, { "f", JET_bitSeekGT, NULL },
    { "b", JET_bitSeekLT, NULL }, { "d", JET_bitSeekEQ, NULL }, { "b", JET_bitSeekEQ, "b" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    e = seek_key(s, t, cases[i].k, cases[i].op, got);
    if (cases[i].want ? (e || strcmp(got, cases[i].want)) : e != JET_errRecordNotFound)
      FAIL("case %zu: seek %s op %lu -> %ld '%s', want %s", i, cases[i].k ? cases[i].k : "(none)",
           (unsigned long)cases[i].op, (long)e, got, cases[i].want ? cases[i].want : "JET_errRecordNotFound");
  }
  CK(JetCommitTransaction(s, 0));
  e = seek_key(s, t, "c", JET_bitSeekGE, got);
  if (e || strcmp(got, "f")) FAIL("after commit: seek GE c -> %ld '%s'", (long)e, got);
  CK(JetTerm2(inst, JET_bitTermComplete));
  printf("core_edges: tombs: ok\n");
}

static void test_os(const char *root) {
  static const struct { const char *path, *dir; } dn[] = {
    { "a/b/c.edb", "a/b" }, { "c.edb", "." }, { "/c.edb", "/" }, { "/x/c.edb", "/x" },
  };
  for (size_t i = 0; i < sizeof dn / sizeof dn[0]; i++) {
    char *d = os_dirname(dn[i].path);
    if (!d || strcmp(d, dn[i].dir)) FAIL("os_dirname(%s) = %s, want %s", dn[i].path, d ? d : "NULL", dn[i].dir);
    free(d);
  }
  esio *io;
  CK(esio_new(&io));
  char path[300];
  snprintf(path, sizeof path, "%s/short.bin", root);
  uint8_t *buf = NULL;
  size_t got = 99;
  uint64_t size = 0;
  JET_ERR e = os_read_head(io, path, 16, &buf, &got, &size);
  if (e != JET_errFileNotFound || buf) FAIL("os_read_head of a missing file -> %ld", (long)e);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite("hello", 1, 5, f) != 5 || fclose(f)) FAIL("write %s", path);
  CK(os_read_head(io, path, 16, &buf, &got, &size));
  if (got != 5 || size != 5 || memcmp(buf, "hello", 5)) FAIL("os_read_head: got %zu size %llu", got, (unsigned long long)size);
  free(buf);
  CK(os_read_head(io, path, 3, &buf, &got, NULL));
  if (got != 3 || memcmp(buf, "hel", 3)) FAIL("os_read_head max 3: got %zu", got);
  free(buf);
  CK(os_read_head(io, path, 0, &buf, &got, &size));
  if (got != 0 || size != 5) FAIL("os_read_head max 0: got %zu size %llu", got, (unsigned long long)size);
  free(buf);
  esio_free(io);
  printf("core_edges: os: ok\n");
}

/* db_rel_path: a database's path relative to the log folder, from the two
 * canonical paths ("../" steps where they part). */
static void test_relpath(void) {
  static const struct { const char *dir, *file, *rel; } rp[] = {
    { "/x/logs", "/x/data/app.edb", "../data/app.edb" },
    { "/x/logs", "/x/logs/app.edb", "app.edb" },
    { "/x/logs", "/x/logs/sub/app.edb", "sub/app.edb" },
    { "/x/log", "/x/logs/app.edb", "../logs/app.edb" },
    { "/x/logs/deep", "/x/app.edb", "../../app.edb" },
    { "/x/logs", "/y.edb", "../../y.edb" },
    { "/", "/app.edb", "app.edb" },
    { "/", "/a/b.edb", "a/b.edb" },
  };
  for (size_t i = 0; i < sizeof rp / sizeof rp[0]; i++) {
    char *r = db_rel_path(rp[i].dir, rp[i].file);
    if (!r || strcmp(r, rp[i].rel)) FAIL("db_rel_path(%s, %s) = %s, want %s", rp[i].dir, rp[i].file, r ? r : "NULL", rp[i].rel);
    free(r);
  }
  printf("core_edges: relpath: ok\n");
}

typedef struct lock_arg {
  esinst *inst;
  pthread_cond_t cv;
  int woken;             /* set by the other thread, under the lock */
  int held_unlocked;     /* inst_lock_held in the other thread while main holds the lock */
  int held_locked;       /* ... once it took the lock (main waiting in inst_wait) */
} lock_arg;

static void *lock_other(void *p) {
  lock_arg *a = p;
  a->held_unlocked = inst_lock_held(a->inst);
  inst_lock(a->inst);    /* main releases it in inst_wait */
  a->held_locked = inst_lock_held(a->inst);
  a->woken = 1;
  pthread_cond_broadcast(&a->cv);
  inst_unlock(a->inst);
  return NULL;
}

static void test_lockheld(const char *root) {
#ifdef NDEBUG
  (void)root;
  printf("core_edges: lockheld: ok (built with NDEBUG: the holder is not tracked)\n");
#else
  char dir[256];
  harness_fresh_dir(dir, sizeof dir, root, "lockheld");
  JET_INSTANCE h = start(dir);
  lock_arg a = { .inst = (esinst *)h };   /* a multi-instance handle is the instance */
  if (pthread_cond_init(&a.cv, NULL) != 0) FAIL("pthread_cond_init");
  if (inst_lock_held(a.inst)) FAIL("inst_lock_held before inst_lock");
  inst_lock(a.inst);
  if (!inst_lock_held(a.inst)) FAIL("inst_lock_held false after inst_lock");
  pthread_t t;
  if (pthread_create(&t, NULL, lock_other, &a) != 0) FAIL("pthread_create");
  while (!a.woken) inst_wait(a.inst, &a.cv);
  if (!inst_lock_held(a.inst)) FAIL("inst_lock_held false after inst_wait returned");
  inst_unlock(a.inst);
  if (pthread_join(t, NULL) != 0) FAIL("pthread_join");
  if (a.held_unlocked) FAIL("inst_lock_held true in a thread that does not hold the lock");
  if (!a.held_locked) FAIL("inst_lock_held false in the thread that took the lock during inst_wait");
  if (inst_lock_held(a.inst)) FAIL("inst_lock_held true after inst_unlock");
  pthread_cond_destroy(&a.cv);
  CK(JetTerm(h));
  printf("core_edges: lockheld: ok\n");
#endif
}

/* The threads of this process (/proc/self/task). */
static int threads(void) {
  DIR *d = opendir("/proc/self/task");
  if (!d) FAIL("opendir /proc/self/task: %s", strerror(errno));
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static JET_ERR to_file(void *ud, const void *p, size_t n) {
  return fwrite(p, 1, n, ud) == n ? JET_errSuccess : JET_errDiskIO;
}

static void test_zstahead(const char *root) {
  char dir[256], path[300];
  harness_fresh_dir(dir, sizeof dir, root, "zstahead");
  size_t sizes[] = { 1u << 20, 3u << 20 };
  uint8_t *data = malloc(3u << 20);
  if (!data) FAIL("malloc");
  for (size_t i = 0; i < (3u << 20); i++) data[i] = (uint8_t)((i / 7) * 31 % 251);
  esio *io;
  CK(esio_new(&io));
  for (int k = 0; k < 2; k++) {
    snprintf(path, sizeof path, "%s/f%d.zst", dir, k);
    FILE *f = fopen(path, "wbe");
    if (!f) FAIL("fopen %s: %s", path, strerror(errno));
    zst_writer *w;
    CK(zst_writer_new(1, sizes[k], 0, &w));
    CK(zst_write(w, data, sizes[k], to_file, f));
    CK(zst_finish(w, to_file, f));
    zst_writer_free(w);
    if (fclose(f) != 0) FAIL("fclose %s", path);
    int before = threads();
    zst_reader *z;
    char why[300];
    CK(zst_open_ahead(io, path, 1u << 20, &z, why, sizeof why));
    int during = threads();
    size_t off = 0, n;
    const uint8_t *p;
    do {
      CK(zst_next(z, &p, &n));
      if (off + n > sizes[k] || memcmp(p, data + off, n) != 0) FAIL("file %d: other bytes at %zu", k, off);
      off += n;
    } while (n > 0);
    if (off != sizes[k]) FAIL("file %d: %zu bytes of %zu", k, off, sizes[k]);
    zst_close(z);
    if (during != before + k) FAIL("file of %zu bytes: %d threads while read, %d before", sizes[k], during, before);
    if (threads() != before) FAIL("file of %zu bytes: %d threads after zst_close, %d before", sizes[k], threads(), before);
  }
  esio_free(io);
  free(data);
  printf("core_edges: zstahead: ok\n");
}

/* zst_async_take into f. */
static JET_ERR take_file(zst_async *a, int wait, FILE *f, int *complete) {
  const uint8_t *p;
  size_t n;
  JET_ERR e = zst_async_take(a, wait, &p, &n, complete);
  return e ? e : n ? to_file(f, p, n) : JET_errSuccess;
}

static JET_ERR put_file(zst_async *a, FILE *f, const uint8_t *p, size_t n) {
  int complete;
  JET_ERR e = zst_async_put(a, p, n);
  return e ? e : take_file(a, 0, f, &complete);
}

static void test_zstasync(const char *root) {
  char dir[256], path[300];
  harness_fresh_dir(dir, sizeof dir, root, "zstasync");
  size_t big = (3u << 20) + 8192;
  uint8_t *data = malloc(big);
  if (!data) FAIL("malloc");
  for (size_t i = 0; i < big; i++) data[i] = (uint8_t)((i / 5) * 37 % 253 ^ (i >> 13));
  size_t sizes[] = { 0, 1, 1u << 20, big }, tails[] = { 0, 1, 0, 8192 };
  size_t pieces[] = { 1, 7000, 65536, 1u << 20, 3, 300000 };
  esio *io;
  CK(esio_new(&io));
  int base = threads();
  for (int k = 0; k < 4; k++) {
    snprintf(path, sizeof path, "%s/f%d.zst", dir, k);
    FILE *f = fopen(path, "wbe");
    if (!f) FAIL("fopen %s: %s", path, strerror(errno));
    zst_async *a;
    CK(zst_async_new(1, sizes[k], (uint32_t)tails[k], &a));
    /* (a file of 0 bytes may be complete, its thread gone, already) */
    if (k > 0 && threads() != base + 1) FAIL("file %d: %d threads, %d before", k, threads(), base);
    size_t off = 0, n = 0, count = 0;
    int complete = 0;
    while (off < sizes[k]) {
      n = pieces[count % 6] < sizes[k] - off ? pieces[count % 6] : sizes[k] - off;
      if (k == 3 && off + n == sizes[k]) {
        /* one byte more than the size: refused whole, nothing queued */
        if (zst_async_put(a, data, n + 1) != JET_errInvalidParameter) FAIL("a piece past the size was taken");
        if (take_file(a, 1, f, &complete) != JET_errInvalidParameter)
          FAIL("a waiting take before the last piece did not refuse");
      }
      CK(put_file(a, f, data + off, n));
      off += n;
      count++;
    }
    CK(take_file(a, 1, f, &complete));
    if (!complete) FAIL("file %d: not complete after a waiting take", k);
    if (zst_async_consumed(a) != count) FAIL("file %d: %llu pieces consumed of %zu", k,
                                             (unsigned long long)zst_async_consumed(a), count);
    CK(take_file(a, 0, f, &complete));
    if (!complete) FAIL("file %d: a complete file's take says otherwise", k);
    long stored = ftell(f);
    if (stored < 0 || (uint64_t)stored != zst_async_written(a)) FAIL("file %d: %ld bytes stored, %llu written", k,
                                                                   stored, (unsigned long long)zst_async_written(a));
    zst_async_free(a);
    if (fclose(f) != 0) FAIL("fclose %s", path);
    if (threads() != base) FAIL("file %d: %d threads after zst_async_free, %d before", k, threads(), base);
    zst_reader *z;
    char why[300];
    CK(zst_open(io, path, &z, why, sizeof why));
    uint8_t *back = malloc(sizes[k] + 1);
    if (!back) FAIL("malloc");
    size_t got;
    CK(zst_read(z, back, sizes[k] + 1, &got));
    if (got != sizes[k] || memcmp(back, data, got) != 0) FAIL("file %d: other bytes read back (%zu of %zu)", k, got,
                                                              sizes[k]);
    if (zst_size(z) != sizes[k] || zst_tail_size(z) != tails[k]) FAIL("file %d: another layout", k);
    free(back);
    zst_close(z);
  }
  /* freed half-way, its bytes not taken: the thread ends */
  zst_async *a;
  CK(zst_async_new(3, big, 0, &a));
  CK(zst_async_put(a, data, 1u << 20));
  CK(zst_async_put(a, data + (1u << 20), 1u << 20));
  zst_async_free(a);
  if (threads() != base) FAIL("%d threads after freeing a writer half-way, %d before", threads(), base);
  if (zst_async_new(1, ZST_STREAM, 0, &a) != JET_errInvalidParameter) FAIL("an asynchronous stream was made");
  esio_free(io);
  free(data);
  printf("core_edges: zstasync: ok\n");
}

int main(int argc, char **argv) {
  harness_start(600);
  const char *which = argc > 1 ? argv[1] : "all";
  int all = strcmp(which, "all") == 0, ran = 0;
  char root[64];
  harness_tempdir(root, sizeof root, "core-edges");
  if (all || !strcmp(which, "header")) test_header(root), ran++;
  if (all || !strcmp(which, "stale")) test_stale(root), ran++;
  if (all || !strcmp(which, "tombs")) test_tombs(root), ran++;
  if (all || !strcmp(which, "os")) test_os(root), ran++;
  if (all || !strcmp(which, "relpath")) test_relpath(), ran++;
  if (all || !strcmp(which, "lockheld")) test_lockheld(root), ran++;
  if (all || !strcmp(which, "zstahead")) test_zstahead(root), ran++;
  if (all || !strcmp(which, "zstasync")) test_zstasync(root), ran++;
  if (!ran) FAIL("unknown test %s (header, stale, tombs, os, relpath, lockheld, zstahead, zstasync)", which);
  if (harness_rm_rf(root) != 0) printf("core_edges: note: could not remove %s\n", root);
  return 0;
}
