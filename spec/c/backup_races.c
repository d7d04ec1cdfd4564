/*
 * backup_races.c -- two threads on one backup at the same moment (real
 * threads, a real database file).  Lua cannot make these calls overlap: a
 * Lua state runs one call at a time.
 *
 *   reads     Two threads call JetReadFileInstance on one reader handle of
 *             a database until it is exhausted.  Reads of one handle run
 *             one at a time (csrc/backup.c waits on f->reading), so
 *             together the threads read every byte of the stream exactly
 *             once: each chunk is the full read size (or the rest) from
 *             where the handle stood, every page of it carries its own
 *             number and checksum (page_verify) -- the page number tells
 *             where each chunk came from --, each thread's chunks move
 *             forward, the chunks ordered by offset tile the stream
 *             without overlap or gap, and their concatenation is what a
 *             single thread reads.  No two reads of the handle are ever
 *             inside the file at once.  The cache is cold (every page
 *             comes from the file) and this program's pread() makes each
 *             read of a reader thread last a while, so that reads that are
 *             not serialised do overlap.
 *   teardown  Two threads end one backup at once, in every pairing of
 *             JetEndExternalBackupInstance2 (EndNormal, EndAbort),
 *             JetEndExternalBackupInstance and JetStopBackupInstance, on an
 *             incomplete sequence with a read in flight (the tear-down
 *             waits for it), on a complete sequence, and after a stop.
 *             Exactly one End owns the tear-down and returns its own code
 *             (0 for an abort or a complete normal End, -800 for an
 *             incomplete normal End, -801 after a stop whatever it asks:
 *             rule 3); the other End returns JET_errNoBackup.  A stop
 *             always succeeds and is not a tear-down.  Only a complete
 *             normal End that owns the tear-down records the backup in the
 *             database header.  Afterwards no backup runs (an End says
 *             JET_errNoBackup, the reader handle too) and the instance
 *             accepts a new JetBeginExternalBackupInstance.
 *   commits   The cut-off's checkpoint (JetGetLogInfoInstance on thread X,
 *             thousands of pages dirty) while another thread commits one
 *             record per transaction: the checkpoint releases the instance
 *             lock between its slices, so commits complete while it runs
 *             (before, it held the lock for the whole write-back and none
 *             could); X is held between two slices (the hold point
 *             "ckpt-between", ESE_FAULT=holdsync) until two commits began
 *             and ended inside the cut-off, so that a loaded machine that
 *             did not run the committer meanwhile cannot fail it; every
 *             record committed is in the table afterwards.
 *   waiter    A read of a handle in flight, a second thread's read of the
 *             same handle waiting for it, and End(abort) from a third: the
 *             tear-down waits for the read in flight and for the waiting
 *             call (csrc/backup.c counts it in bk->waiting), so the waiting
 *             call wakes to JET_errNoBackup and never touches the freed
 *             backup (ASan, make check: a heap-use-after-free before).
 *
 * usage: backup_races [all|reads|teardown|waiter] [rounds]   (default all, 4)
 * Prints "backup_races: <test>: ok ..." per test and exits 0, or what
 * differed and exits 1.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define HARNESS_NAME "backup_races"
#include "harness.h"
#include "dbheader.h"   /* BK_COPY */
#include "page.h"       /* page_verify, page_pgno */

/* Nothing here survives a crash or checks one: syncs are no-ops
 * (ESE_REAL_SYNC=1 keeps them). */
HARNESS_SYNCS_OFF()

#define PS 8192u
#define LOG_KIB 128

/* ---- the slow pread --------------------------------------------------------
 * The engine's objects are linked into this program, so this definition
 * replaces libc's for them.  A thread marked as a test reader counts
 * itself inside while its pread runs (inside_max: the most at once) and
 * then sleeps slow_us; every other pread is the plain system call. */
static _Thread_local int test_reader;
static atomic_int slow_us, inside, inside_max, reads_entered;

ssize_t pread(int fd, void *buf, size_t n, off_t off) {
  if (!test_reader) return (ssize_t)syscall(SYS_pread64, fd, buf, n, off);
  int now = atomic_fetch_add(&inside, 1) + 1;
  for (int m = atomic_load(&inside_max); now > m && !atomic_compare_exchange_weak(&inside_max, &m, now);) {}
  atomic_fetch_add(&reads_entered, 1);
  ssize_t r = (ssize_t)syscall(SYS_pread64, fd, buf, n, off);
  int saved = errno;
  int us = atomic_load(&slow_us);
  if (us) usleep((useconds_t)us);
  atomic_fetch_sub(&inside, 1);
  errno = saved;
  return r;
}

/* ---- set-up ------------------------------------------------------------------- */

static char dir[300], dbpath[400];

static JET_INSTANCE new_instance(void) {
  JET_INSTANCE inst;
  char name[64];
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "races"), dir, LOG_KIB, 0));
  CK(JetInit(&inst));
  return inst;
}

/* A database of about 150 pages, terminated cleanly; then a new instance
 * with it attached and nothing of it cached. */
static JET_INSTANCE setup(const char *root) {
  harness_fresh_dir(dir, sizeof dir, root, "db");
  snprintf(dbpath, sizeof dbpath, "%s/app.edb", dir);
  JET_INSTANCE inst = new_instance();
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  CK(harness_create_table(inst, dbpath, "t", &s, &db, &t));
  char v[1000];
  for (int i = 0; i < 600; i++) {
    char k[32];
    if (i % 100 == 0) CK(JetBeginTransaction(s));
    snprintf(k, sizeof k, "k%05d", i);
    memset(v, 'a' + i % 26, sizeof v);
    CK(EsePut(s, t, k, strlen(k), v, sizeof v));
    if (i % 100 == 99) CK(JetCommitTransaction(s, 0));
  }
  CK(JetTerm2(inst, JET_bitTermComplete));
  inst = new_instance();
  CK(JetBeginSession(inst, &s, NULL, NULL));
  CK(JetAttachDatabase(s, dbpath, 0));
  return inst;
}

static pthread_t spawn(void *(*fn)(void *), void *arg) {
  pthread_t t;
  int r = pthread_create(&t, NULL, fn, arg);
  if (r != 0) FAIL("pthread_create: %s", strerror(r));
  return t;
}

static void join(pthread_t t) {
  int r = pthread_join(t, NULL);
  if (r != 0) FAIL("pthread_join: %s", strerror(r));
}

static void barrier_init(pthread_barrier_t *b, unsigned n) {
  int r = pthread_barrier_init(b, NULL, n);
  if (r != 0) FAIL("pthread_barrier_init: %s", strerror(r));
}

static uint64_t open_reader(JET_INSTANCE inst, const char *path, JET_HANDLE *h) {
  unsigned long lo = 0, hi = 0;
  CK(JetOpenFileInstance(inst, path, h, &lo, &hi));
  return ((uint64_t)hi << 32) | lo;
}

/* Every byte of an open reader, read by this thread cb bytes at a time;
 * *n gets the count, which must be size. */
static uint8_t *read_to_end(JET_INSTANCE inst, JET_HANDLE h, unsigned long cb, uint64_t size) {
  uint8_t *all = malloc(size + cb), *buf = malloc(cb);
  if (!all || !buf) FAIL("out of memory");
  uint64_t n = 0;
  for (;;) {
    unsigned long got = 0;
    CK(JetReadFileInstance(inst, h, buf, cb, &got));
    if (got == 0) break;
    if (n + got > size) FAIL("the stream is longer than the %llu bytes OpenFile said", (unsigned long long)size);
    memcpy(all + n, buf, got);
    n += got;
  }
  free(buf);
  if (n != size) FAIL("streamed %llu bytes, OpenFile said %llu", (unsigned long long)n, (unsigned long long)size);
  return all;
}

/* ---- reads ---------------------------------------------------------------------- */

typedef struct chunk { uint8_t *data; unsigned long len; uint64_t off; int thread; } chunk;

typedef struct reader_arg {
  JET_INSTANCE inst;
  JET_HANDLE h;
  unsigned long cb;
  uint64_t size;    /* the stream's size: a thread that reads more stops */
  int id;
  pthread_barrier_t *start;
  chunk *v;
  size_t n, cap;
  uint64_t total;
  JET_ERR err;      /* the first error */
} reader_arg;

static void *reader(void *p) {
  reader_arg *a = p;
  test_reader = 1;
  uint8_t *buf = malloc(a->cb);
  if (!buf) FAIL("out of memory");
  pthread_barrier_wait(a->start);
  for (;;) {
    unsigned long got = 0;
    JET_ERR e = JetReadFileInstance(a->inst, a->h, buf, a->cb, &got);
    if (e) {
      a->err = e;
      break;
    }
    if (got == 0) break;
    if (a->n == a->cap) {
      a->cap = a->cap ? a->cap * 2 : 64;
      chunk *nv = realloc(a->v, a->cap * sizeof *nv);
      if (!nv) FAIL("out of memory");
      a->v = nv;
    }
    uint8_t *d = malloc(got);
    if (!d) FAIL("out of memory");
    memcpy(d, buf, got);
    a->v[a->n++] = (chunk){ d, got, 0, a->id };
    if ((a->total += got) > a->size) break;
  }
  free(buf);
  return NULL;
}

static int chunk_cmp(const void *x, const void *y) {
  const chunk *a = x, *b = y;
  return a->off < b->off ? -1 : a->off > b->off;
}

/* One round: two threads drain one handle cb bytes at a time; the checks
 * of the header comment against ref (a single thread's read, size bytes).
 * Returns whether both threads got chunks. */
static int reads_round(JET_INSTANCE inst, int round, unsigned long cb, const uint8_t *ref, uint64_t size) {
  JET_HANDLE h;
  if (open_reader(inst, dbpath, &h) != size) FAIL("round %d: the stream changed size", round);
  pthread_barrier_t start;
  barrier_init(&start, 2);
  reader_arg ra[2];
  pthread_t th[2];
  atomic_store(&inside_max, 0);
  for (int i = 0; i < 2; i++) {
    ra[i] = (reader_arg){ .inst = inst, .h = h, .cb = cb, .size = size, .id = i, .start = &start };
    th[i] = spawn(reader, &ra[i]);
  }
  for (int i = 0; i < 2; i++) join(th[i]);
  pthread_barrier_destroy(&start);
  CK(JetCloseFileInstance(inst, h));
  for (int i = 0; i < 2; i++)
    if (ra[i].err) FAIL("round %d: thread %d: JetReadFileInstance -> %s (%ld)", round, i, harness_err_name(ra[i].err),
                        (long)ra[i].err);
  if (ra[0].total + ra[1].total > size)
    FAIL("round %d: the threads read %llu + %llu bytes of a %llu-byte stream", round,
         (unsigned long long)ra[0].total, (unsigned long long)ra[1].total, (unsigned long long)size);

  size_t n = ra[0].n + ra[1].n;
  chunk *all = malloc((n ? n : 1) * sizeof *all);
  if (!all) FAIL("out of memory");
  size_t k = 0;
  for (int i = 0; i < 2; i++) {
    uint64_t last = 0;
    for (size_t j = 0; j < ra[i].n; j++) {
      chunk *c = &ra[i].v[j];
      if (c->len % PS != 0 || c->len > cb)
        FAIL("round %d: thread %d got a chunk of %lu bytes (read size %lu)", round, i, c->len, cb);
      uint32_t first = page_pgno(c->data);
      for (unsigned long p = 0; p < c->len / PS; p++) {
        int v = page_verify(c->data + p * PS, PS, first + (uint32_t)p);
        if (v != PAGE_OK)
          FAIL("round %d: thread %d, chunk %zu starting at page %u: its page %lu fails page_verify (%d)", round, i, j,
               first, p, v);
      }
      c->off = (uint64_t)first * PS;
      if (j > 0 && c->off <= last)
        FAIL("round %d: thread %d read offset %llu after offset %llu", round, i, (unsigned long long)c->off,
             (unsigned long long)last);
      last = c->off;
      all[k++] = *c;
    }
  }
  qsort(all, n, sizeof *all, chunk_cmp);
  uint64_t pos = 0;
  for (size_t j = 0; j < n; j++) {
    chunk *c = &all[j];
    if (c->off != pos)
      FAIL("round %d: %s at offset %llu: thread %d's chunk starts at %llu", round, c->off < pos ? "overlap" : "gap",
           (unsigned long long)pos, c->thread, (unsigned long long)c->off);
    uint64_t want = size - pos < cb ? size - pos : cb;
    if (c->len != want)
      FAIL("round %d: the chunk at offset %llu has %lu bytes, the handle had %llu to give", round,
           (unsigned long long)pos, c->len, (unsigned long long)want);
    if (memcmp(c->data, ref + pos, c->len) != 0)
      FAIL("round %d: the chunk at offset %llu differs from a single thread's read", round, (unsigned long long)pos);
    pos += c->len;
  }
  if (pos != size) FAIL("round %d: the threads read %llu bytes of %llu", round, (unsigned long long)pos,
                        (unsigned long long)size);
  if (atomic_load(&inside_max) > 1)
    FAIL("round %d: %d reads of one handle were inside the file at once", round, atomic_load(&inside_max));
  int both = ra[0].n && ra[1].n;
  for (int i = 0; i < 2; i++) {
    for (size_t j = 0; j < ra[i].n; j++) free(ra[i].v[j].data);
    free(ra[i].v);
  }
  free(all);
  return both;
}

static void test_reads(JET_INSTANCE inst, int rounds) {
  CK(JetBeginExternalBackupInstance(inst, 0));
  JET_HANDLE h;
  uint64_t size = open_reader(inst, dbpath, &h);
  if (size % PS != 0 || size / PS < 64) FAIL("the stream is %llu bytes: want a whole number of pages, 64 or more",
                                              (unsigned long long)size);
  uint8_t *ref = read_to_end(inst, h, 3 * PS, size);
  CK(JetCloseFileInstance(inst, h));
  for (uint64_t p = 0; p < size / PS; p++) {   /* every page names itself: a chunk's place is in its pages */
    int v = page_verify(ref + p * PS, PS, (uint32_t)p);
    if (v != PAGE_OK) FAIL("page %llu of the single-thread stream fails page_verify (%d)", (unsigned long long)p, v);
  }
  static const unsigned long pages[] = { 1, 2, 3, 5, 8 };
  int both = 0;
  atomic_store(&slow_us, 200);
  for (int r = 0; r < rounds; r++) both += reads_round(inst, r, pages[r % 5] * PS, ref, size);
  atomic_store(&slow_us, 0);
  free(ref);
  CK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
  printf("backup_races: reads: ok: %d rounds, two threads on one reader handle (1 to 8 pages a call) read the "
         "%llu-byte stream exactly once between them, in order, each page its own; both threads read in %d rounds\n",
         rounds, (unsigned long long)size, both);
}

/* ---- teardown ------------------------------------------------------------------- */

enum { OP_END, OP_ABORT, OP_END1, OP_STOP };
static const char *const op_name[] = { "End2(EndNormal)", "End2(EndAbort)", "JetEndExternalBackupInstance",
                                        "JetStopBackupInstance" };

static JET_ERR do_op(JET_INSTANCE inst, int op) {
  switch (op) {
  case OP_END: return JetEndExternalBackupInstance2(inst, JET_bitBackupEndNormal);
  case OP_ABORT: return JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort);
  case OP_END1: return JetEndExternalBackupInstance(inst);
  default: return JetStopBackupInstance(inst);
  }
}

/* What op returns when it owns the tear-down of a backup. */
static JET_ERR owner_code(int op, int stopped, int complete) {
  if (op == OP_STOP) return JET_errSuccess;
  if (stopped) return JET_errBackupAbortByServer;
  if (op == OP_ABORT || complete) return JET_errSuccess;
  return JET_errBackupAbortByCaller;
}

typedef struct op_arg {
  JET_INSTANCE inst;
  int op;
  pthread_barrier_t *go;
  JET_ERR result;
} op_arg;

static void *op_thread(void *p) {
  op_arg *a = p;
  pthread_barrier_wait(a->go);
  a->result = do_op(a->inst, a->op);
  return NULL;
}

/* A reader that reads one page at a time until a call fails. */
typedef struct flight_arg {
  JET_INSTANCE inst;
  JET_HANDLE h;
  JET_ERR err;
  int reads;
} flight_arg;

static void *flight(void *p) {
  flight_arg *a = p;
  test_reader = 1;
  uint8_t *buf = malloc(PS);
  if (!buf) FAIL("out of memory");
  for (;;) {
    unsigned long got = 0;
    JET_ERR e = JetReadFileInstance(a->inst, a->h, buf, PS, &got);
    if (e) {
      a->err = e;
      break;
    }
    a->reads++;
  }
  free(buf);
  return NULL;
}

static void stream_whole(JET_INSTANCE inst, const char *path) {
  JET_HANDLE h;
  uint64_t size = open_reader(inst, path, &h);
  free(read_to_end(inst, h, 16 * PS, size));
  CK(JetCloseFileInstance(inst, h));
}

/* Every database and every log: End(normal) would then record the backup. */
static void stream_all(JET_INSTANCE inst) {
  stream_whole(inst, dbpath);
  char logs[8192];
  unsigned long cb = 0;
  CK(JetGetLogInfoInstance(inst, logs, sizeof logs, &cb));
  if (cb > sizeof logs) FAIL("the log list needs %lu bytes", cb);
  for (const char *p = logs; *p; p += strlen(p) + 1) stream_whole(inst, p);
}

static uint64_t copy_record_time(void) {
  EseFileInfo fi;
  char detail[256];
  JET_ERR e = EseGetFileInfo(dbpath, 0, &fi, detail, sizeof detail);
  if (e) FAIL("EseGetFileInfo %s -> %s (%s)", dbpath, harness_err_name(e), detail);
  return fi.backup[BK_COPY].time;
}

enum { V_INFLIGHT, V_COMPLETE, V_STOPPED };
static const char *const variant_name[] = { "incomplete, a read in flight", "complete", "after a stop" };

/* One round: a backup in the state of variant, then ops a and b at once. */
static void teardown_round(JET_INSTANCE inst, int a, int b, int variant, const char *tag) {
  int stopped = variant == V_STOPPED, complete = variant == V_COMPLETE;
  JET_ERR e = JetBeginExternalBackupInstance(inst, 0);
  if (e != JET_errSuccess) FAIL("%s: JetBeginExternalBackupInstance -> %s (%ld): the last tear-down left a backup", tag,
                                harness_err_name(e), (long)e);
  if (complete) stream_all(inst);
  if (stopped) CK(JetStopBackupInstance(inst));
  uint64_t recorded = copy_record_time();

  flight_arg fa = { .inst = inst };
  pthread_t ft = pthread_self();   /* the reader thread, when there is one */
  if (variant == V_INFLIGHT) {   /* a read inside the file: the tear-down must wait for it */
    open_reader(inst, dbpath, &fa.h);
    atomic_store(&slow_us, 3000);
    int before = atomic_load(&reads_entered);
    ft = spawn(flight, &fa);
    for (int i = 0; atomic_load(&reads_entered) == before; i++) {
      if (i > 20000) FAIL("%s: the reader never reached the file", tag);
      usleep(50);
    }
  }
  pthread_barrier_t go;
  barrier_init(&go, 3);
  op_arg oa[2] = { { inst, a, &go, 1 }, { inst, b, &go, 1 } };
  pthread_t th[2] = { spawn(op_thread, &oa[0]), spawn(op_thread, &oa[1]) };
  pthread_barrier_wait(&go);
  join(th[0]);
  join(th[1]);
  pthread_barrier_destroy(&go);
  if (variant == V_INFLIGHT) {
    join(ft);
    atomic_store(&slow_us, 0);
    int stop_in = a == OP_STOP || b == OP_STOP;
    if (fa.err != JET_errNoBackup && !(stop_in && fa.err == JET_errBackupAbortByServer))
      FAIL("%s: the reader in flight ended with %s (%ld), want JET_errNoBackup", tag, harness_err_name(fa.err),
           (long)fa.err);
    if (fa.reads < 1) FAIL("%s: the read in flight did not complete", tag);
  }

  JET_ERR ra = oa[0].result, rb = oa[1].result;
  int owner = -1;   /* the op that owned the tear-down */
  if (a != OP_STOP && b != OP_STOP) {
    int a_owns = ra == owner_code(a, stopped, complete) && rb == JET_errNoBackup;
    int b_owns = rb == owner_code(b, stopped, complete) && ra == JET_errNoBackup;
    if (!a_owns && !b_owns)
      FAIL("%s: %s -> %s (%ld), %s -> %s (%ld): want exactly one tear-down (its code) and JET_errNoBackup", tag,
           op_name[a], harness_err_name(ra), (long)ra, op_name[b], harness_err_name(rb), (long)rb);
    owner = a_owns ? a : b;
  } else {
    int end = a == OP_STOP ? b : a;
    JET_ERR rs = a == OP_STOP ? ra : rb, re = a == OP_STOP ? rb : ra;
    if (rs != JET_errSuccess) FAIL("%s: %s -> %s, want success", tag, op_name[OP_STOP], harness_err_name(rs));
    if (end == OP_STOP) {   /* two stops: the backup runs on, stopped; End owns its tear-down */
      if (re != JET_errSuccess) FAIL("%s: the second stop -> %s, want success", tag, harness_err_name(re));
      e = JetEndExternalBackupInstance2(inst, JET_bitBackupEndNormal);
      if (e != JET_errBackupAbortByServer)
        FAIL("%s: End after two stops -> %s (%ld), want JET_errBackupAbortByServer", tag, harness_err_name(e), (long)e);
    } else if (re != owner_code(end, 1, complete) && re != owner_code(end, stopped, complete)) {
      FAIL("%s: %s beside a stop -> %s (%ld), want %s (stop first) or %s (End first)", tag, op_name[end],
           harness_err_name(re), (long)re, harness_err_name(owner_code(end, 1, complete)),
           harness_err_name(owner_code(end, stopped, complete)));
    } else if (re == JET_errSuccess && complete && end != OP_ABORT) {
      owner = end;
    }
  }
  int should_record = complete && !stopped && (owner == OP_END || owner == OP_END1);
  uint64_t now = copy_record_time();
  if (should_record && now == recorded) FAIL("%s: the owning End(normal) of a complete backup recorded nothing", tag);
  if (!should_record && now != recorded) FAIL("%s: the backup was recorded, though no complete End(normal) owned it", tag);
  if (variant == V_INFLIGHT) {
    e = JetCloseFileInstance(inst, fa.h);
    if (e != JET_errNoBackup) FAIL("%s: the reader after the tear-down: CloseFile -> %s, want JET_errNoBackup", tag,
                                   harness_err_name(e));
  }
  e = JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort);
  if (e != JET_errNoBackup) FAIL("%s: after the tear-down End(abort) -> %s (%ld), want JET_errNoBackup", tag,
                                 harness_err_name(e), (long)e);
}

static void test_teardown(JET_INSTANCE inst, int rounds) {
  static const int pairs[][2] = {
    { OP_END, OP_END }, { OP_ABORT, OP_ABORT }, { OP_END1, OP_END1 }, { OP_END, OP_ABORT },
    { OP_END1, OP_ABORT }, { OP_END, OP_END1 }, { OP_STOP, OP_END }, { OP_STOP, OP_ABORT },
    { OP_STOP, OP_END1 }, { OP_STOP, OP_STOP },
  };
  int n = 0;
  for (int r = 0; r < rounds; r++)
    for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++)
      for (int v = V_INFLIGHT; v <= V_STOPPED; v++) {
        if (v == V_STOPPED && pairs[p][0] == OP_STOP) continue;   /* a stop beside a stop: V_INFLIGHT / V_COMPLETE */
        int swap = (r + (int)p) % 2;   /* either op on either thread */
        int a = pairs[p][swap], b = pairs[p][!swap];
        char tag[160];
        snprintf(tag, sizeof tag, "teardown round %d, %s + %s, %s", r, op_name[a], op_name[b], variant_name[v]);
        teardown_round(inst, a, b, v, tag);
        n++;
      }
  CK(JetBeginExternalBackupInstance(inst, 0));
  CK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
  printf("backup_races: teardown: ok: %d rounds of two concurrent tear-downs (End normal/abort/legacy, Stop; a read "
         "in flight, complete, after a stop): exactly one End owns each and returns its code, the other "
         "JET_errNoBackup; a new Begin follows every one\n", n);
}

/* ---- waiter ---------------------------------------------------------------------- */

typedef struct waiter_arg {
  JET_INSTANCE inst;
  JET_HANDLE h;
  atomic_int started;
  JET_ERR err;
} waiter_arg;

static void *waiter(void *p) {
  waiter_arg *a = p;
  uint8_t *buf = malloc(PS);
  if (!buf) FAIL("out of memory");
  atomic_store(&a->started, 1);
  unsigned long got = 0;
  a->err = JetReadFileInstance(a->inst, a->h, buf, PS, &got);
  free(buf);
  return NULL;
}

static void test_waiter(JET_INSTANCE inst, int rounds) {
  int n = 0;
  for (int r = 0; r < 5 * rounds; r++) {
    char tag[64];
    snprintf(tag, sizeof tag, "waiter round %d", r);
    CK(JetBeginExternalBackupInstance(inst, 0));
    flight_arg fa = { .inst = inst };
    open_reader(inst, dbpath, &fa.h);
    atomic_store(&slow_us, 20000);
    int before = atomic_load(&reads_entered);
    pthread_t ft = spawn(flight, &fa);
    for (int i = 0; atomic_load(&reads_entered) == before; i++) {
      if (i > 20000) FAIL("%s: the reader never reached the file", tag);
      usleep(50);
    }
    waiter_arg wa = { .inst = inst, .h = fa.h };
    pthread_t wt = spawn(waiter, &wa);
    while (!atomic_load(&wa.started)) usleep(50);
    usleep(5000);   /* into its wait for the read in flight (20 ms) */
    JET_ERR e = JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort);
    if (e != JET_errSuccess) FAIL("%s: End(abort) -> %s (%ld)", tag, harness_err_name(e), (long)e);
    join(ft);
    join(wt);
    atomic_store(&slow_us, 0);
    if (fa.err != JET_errNoBackup) FAIL("%s: the read in flight ended with %s, want JET_errNoBackup", tag,
                                        harness_err_name(fa.err));
    if (wa.err != JET_errNoBackup) FAIL("%s: the waiting read -> %s (%ld), want JET_errNoBackup", tag,
                                        harness_err_name(wa.err), (long)wa.err);
    n++;
  }
  printf("backup_races: waiter: ok: %d rounds of End(abort) while one read of a handle runs and another waits for "
         "it: both end with JET_errNoBackup\n", n);
}

/* ---- commits during the cut-off's checkpoint ---- */

static atomic_int cut_inside, cut_stop, cut_during, cut_total;
static _Atomic uint64_t cut_t0, cut_gap;   /* the cut-off's start; the longest wait between two commits in it */

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
static JET_INSTANCE cut_inst;
static atomic_int cut_done;
static atomic_long cut_err;

/* X: the cut-off (the log list, its checkpoint first). */
static void *cut_x(void *unused) {
  (void)unused;
  unsigned long need = 0;
  atomic_store(&cut_err, JetGetLogInfoInstance(cut_inst, NULL, 0, &need));
  atomic_store(&cut_done, 1);
  return NULL;
}

static void put_record(JET_SESID s, JET_TABLEID t, uint32_t key, char fill) {
  char k[16], v[200];
  snprintf(k, sizeof k, "%08x", key);
  memset(v, fill, sizeof v);
  CK(EsePut(s, t, k, strlen(k), v, sizeof v));
}

static void *committer(void *p) {
  (void)p;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  CK(harness_open_table(cut_inst, dbpath, 0, "t", &s, &db, &t));
  uint64_t prev = 0;
  for (uint32_t i = 0; !atomic_load(&cut_stop); i++) {
    int before = atomic_load(&cut_inside);
    CK(JetBeginTransaction(s));
    put_record(s, t, 0x80000000u + i, 'c');
    CK(JetCommitTransaction(s, JET_bitCommitLazyFlush));
    atomic_fetch_add(&cut_total, 1);
    uint64_t now = mono_us();
    if (atomic_load(&cut_inside)) {
      uint64_t from = prev > atomic_load(&cut_t0) ? prev : atomic_load(&cut_t0);
      if (now - from > atomic_load(&cut_gap)) atomic_store(&cut_gap, now - from);
      if (before) atomic_fetch_add(&cut_during, 1);   /* began and ended inside */
    }
    prev = now;
  }
  CK(EseCloseTable(s, t));
  CK(JetEndSession(s, 0));
  return NULL;
}

static void test_commits(const char *root) {
  harness_fresh_dir(dir, sizeof dir, root, "commits");
  snprintf(dbpath, sizeof dbpath, "%s/app.edb", dir);
  char gate[400], held[410], fault[450];
  snprintf(gate, sizeof gate, "%s/gate", root);
  snprintf(held, sizeof held, "%s.held", gate);
  snprintf(fault, sizeof fault, "holdsync:ckpt-between:%s", gate);
  setenv("ESE_FAULT", fault, 1);   /* held only while the gate exists */
  JET_INSTANCE inst;
  char name[64];
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "commits"), dir, 1024, 16384));
  /* no checkpoint of a commit's: the cut-off's is the one that writes */
  CK(JetSetSystemParameter(&inst, 0, JET_paramCheckpointDepthMax, 1ul << 30, NULL));
  CK(JetInit(&inst));
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  CK(harness_create_table(inst, dbpath, "t", &s, &db, &t));
  for (uint32_t i = 0; i < 100000; i++) {
    if (i % 10000 == 0) CK(JetBeginTransaction(s));
    put_record(s, t, (i * 2654435761u) % 100000u, 'a');
    if (i % 10000 == 9999) CK(JetCommitTransaction(s, JET_bitCommitLazyFlush));
  }
  CK(JetBeginExternalBackupInstance(inst, 0));
  /* every page dirty again for the cut-off's checkpoint */
  CK(JetBeginTransaction(s));
  for (uint32_t i = 0; i < 100000; i++) put_record(s, t, (i * 2654435761u + 7u) % 100000u, 'b');
  CK(JetCommitTransaction(s, 0));
  cut_inst = inst;
  atomic_store(&cut_stop, 0);
  pthread_t th = spawn(committer, NULL);
  while (atomic_load(&cut_total) < 3) sched_yield();   /* the committer runs */
  FILE *g = fopen(gate, "w");
  if (!g || fclose(g) != 0) FAIL("cannot make %s", gate);
  uint64_t t0 = mono_us();
  atomic_store(&cut_t0, t0);
  atomic_store(&cut_inside, 1);
  pthread_t tx = spawn(cut_x, NULL);
  /* X held between two slices (the lock released): the committer's
   * commits go on; waited for, not timed (a bound for a hang only) */
  uint64_t limit = t0 + HARNESS_WAIT_US;
  while (!harness_exists(held) && !atomic_load(&cut_done) && mono_us() < limit) usleep(1000);
  int was_held = harness_exists(held);
  while (was_held && atomic_load(&cut_during) < 2 && mono_us() < limit) usleep(1000);
  unlink(gate);
  join(tx);
  atomic_store(&cut_inside, 0);
  uint64_t took = mono_us() - t0;
  unsetenv("ESE_FAULT");
  CK(atomic_load(&cut_err));
  if (!was_held) FAIL("the cut-off's checkpoint was never held between two slices (it has one slice?)");
  atomic_store(&cut_stop, 1);
  join(th);
  int during = atomic_load(&cut_during), total = atomic_load(&cut_total);
  uint64_t gap = atomic_load(&cut_gap);
  printf("backup_races: commits: %d of %d commits ran inside the cut-off (%llu us), the longest wait %llu us\n",
         during, total, (unsigned long long)took, (unsigned long long)gap);
  /* before, the committer waited for the whole write-back (its longest
   * wait was about the cut-off's whole time): no commit began and ended
   * inside it.  Counted, not timed: the checkpoint's slices are cut by
   * bytes (at most 4 MiB each: about 20 MiB of dirty pages here make five
   * or more, whatever the disk's speed), the lock released between two,
   * where X was held until the commits came (without the hold, a loaded
   * machine that did not run the committer during the cut-off's 80 ms
   * failed this now and then). */
  if (during < 2) FAIL("%d commits began and ended inside the cut-off (%llu us; the longest wait %llu us)", during,
                       (unsigned long long)took, (unsigned long long)gap);
  CK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
  /* every committed record is there */
  int n = 0;
  for (uint32_t i = 0; i < (uint32_t)total; i++) {
    char k[16], v[200];
    size_t got = 0;
    snprintf(k, sizeof k, "%08x", 0x80000000u + i);
    CK(EseSeek(s, t, k, strlen(k), JET_bitSeekEQ));
    CK(EseRetrieveValue(s, t, v, sizeof v, &got));
    n += got == sizeof v && v[0] == 'c';
  }
  if (n != total) FAIL("%d of %d committed records found", n, total);
  CK(EseCloseTable(s, t));
  CK(JetEndSession(s, 0));
  CK(JetTerm2(inst, JET_bitTermComplete));
  printf("backup_races: commits: ok\n");
}

int main(int argc, char **argv) {
  harness_start(600);
  const char *which = argc > 1 ? argv[1] : "all";
  int rounds = argc > 2 ? atoi(argv[2]) : 4;
  if (rounds < 1) rounds = 1;
  int all = strcmp(which, "all") == 0;
  if (!all && strcmp(which, "reads") && strcmp(which, "teardown") && strcmp(which, "waiter") &&
      strcmp(which, "commits"))
    FAIL("unknown test %s (all, reads, teardown, waiter, commits)", which);
  char root[64];
  harness_tempdir(root, sizeof root, "backup-races");
  if (strcmp(which, "commits") == 0) {   /* its own database and instance */
    test_commits(root);
    if (harness_rm_rf(root) != 0) printf("backup_races: note: could not remove %s\n", root);
    return 0;
  }
  JET_INSTANCE inst = setup(root);
  if (all || strcmp(which, "reads") == 0) test_reads(inst, 5 * rounds);
  if (all || strcmp(which, "teardown") == 0) test_teardown(inst, rounds);
  if (all || strcmp(which, "waiter") == 0) test_waiter(inst, rounds);
  CK(JetTerm2(inst, JET_bitTermComplete));
  if (harness_rm_rf(root) != 0) printf("backup_races: note: could not remove %s\n", root);
  return 0;
}
