/*
 * redo_count.c -- replay's two guards against a commit that closes the
 * wrong group of page records, on real files, with processes that crash
 * (fork, then _exit without a term: what was flushed is on disk, nothing
 * more).
 *
 *   count  A LR_COMMIT whose page count differs from the page records of
 *          its group (csrc/redo.c commit_rec) is refused: soft recovery
 *          fails with JET_errLogFileCorrupt (-501), a restore with
 *          JET_errLogCorruptDuringHardRestore (-573).  The damage is made
 *          with the log's own format code (log_rec_crc) so that the record
 *          is otherwise valid: its checksum matches and log_verify_file
 *          accepts the file.  After a refused recovery no page of the
 *          refused group carries the group's dbtime in the database file,
 *          every file of the folder is byte for byte as it was (when the
 *          group is the first one replayed), the database is still dirty,
 *          and the next JetInit refuses again; a refused restore leaves the
 *          database "being restored".  Controls: the same record resealed
 *          with its own count is the writer's bytes, the crashed folder
 *          recovers every record (each page of the last group then carries
 *          its dbtime) and the untouched set restores every record.
 *  txid   Transaction ids continue across runs (csrc/recovery.c raises
 *          next_txid past every id replay meets), also when the clock does
 *          not advance (this program's clock_gettime serves a frozen
 *          CLOCK_REALTIME to the engine).  Run 1 (clock F) commits, takes a
 *          full backup, commits more and crashes; the last commit record
 *          is then cut off, as a torn write would, so run 1 ends in an
 *          unfinished group of id X.  Run 2 recovers, commits, takes an
 *          incremental backup, commits more and crashes, its clock frozen
 *          at X (txid-at-x: an id equal to the unfinished group's would
 *          join it) or at F (txid-still: the clock has not moved at all).
 *          Then: in the log, every id written after the run boundary is
 *          greater than every id before it, commit ids strictly increase
 *          and each page record carries its own commit's id; the chain
 *          full + incremental (whose replay crosses the boundary) restores
 *          exactly the records committed before the incremental's cut-off
 *          and not the unfinished one; run 3 recovers every record of both
 *          runs with its value, and not the unfinished one.
 *  clean  txid-at-x, but between run 1 and run 2 a run only recovers and
 *          terminates cleanly: run 2 replays nothing, so its ids come from
 *          the checkpoint's next id (not the clock alone); they still grow
 *          and the chain restores (not part of the default run; the spec
 *          runs it by name).
 *
 *   chk-v1 A checkpoint of format 1, 2 or 3 (those of log formats 1 and
 *          2): JetInit refuses it with JET_errBadLogVersion (-514), its
 *          detail says what to do, and no file of the folder changes.
 *   log-v1 The same for a log of format 1, 2, 3 or 4, and for a format 5
 *          log with an unknown feature bit.
 *
 *   attach-entry Crafted attachment entries (checksums resealed): lengths
 *          past the LR_CREATEDB record, the log header or the checkpoint,
 *          a byte left over, dbid 0 or 33: JET_errLogFileCorrupt /
 *          JET_errCheckpointCorrupt, the database untouched.
 *
 *   dbtime The dbtime rule (csrc/redo.c) on a crashed run's real log, its
 *          last LR_PAGEDIFF's base moved by +1 or -1 (checksum resealed
 *          with log_rec_crc): soft recovery fails with JET_errDbTimeTooOld
 *          (-566; the page is older than the base) or JET_errDbTimeTooNew
 *          (-567; between base and commit), every file of the folder
 *          unchanged (the groups before it were applied in the replay
 *          cache only), again on retry; a restore of full + incremental
 *          with the incremental's last difference moved alike fails the
 *          same way, the database left being restored (control: the
 *          untouched chain restores every record).  Idempotence: the
 *          crashed run's logs and checkpoint put back beside the database
 *          recovery finished, a second recovery writes nothing to the
 *          database (its modification time, set to 2001, stays) and
 *          leaves it byte for byte as it was; a replay through a one-page cache stopped
 *          after the second commit (the first written back, the second
 *          dropped), then a whole recovery, gives the same bytes as one
 *          recovery.
 *
 * usage: redo_count [count|txid|txid-at-x|txid-still|clean|restored-chk|chk-v1|log-v1|attach-entry|dbtime]
 *        (default: count, then txid = txid-at-x and txid-still)
 * Prints "redo_count: <test>: ok ..." per test and exits 0, or what differed
 * and exits 1.
 */
#include <dirent.h>

#define HARNESS_NAME "redo_count"
#include "harness.h"
#include "crc32c.h"
#include "internal.h"     /* LR_* record types, DB_* header states */
#include "log_format.h"   /* record framing and checksum: the writer's own code */
#include "page.h"
#include "redo.h"     /* a replay stopped half-way (dbtime) */

/* Crashes here are process exits: written data survives them synced or
 * not, so syncs are no-ops (ESE_REAL_SYNC=1 keeps them). */
HARNESS_SYNCS_OFF()

#define LOG_KIB 128
#define PAGE_SIZE 8192u

/* ---- the clock ---------------------------------------------------------------
 * The engine's objects are linked into this program, so this definition
 * replaces libc's for them: while frozen_us is not 0, CLOCK_REALTIME reads
 * frozen_us (always a time in the past, so a timed wait on it returns at
 * once); every other clock, and CLOCK_REALTIME otherwise, is the kernel's. */
static uint64_t frozen_us;

int clock_gettime(clockid_t clk, struct timespec *ts) {
  if (clk == CLOCK_REALTIME && frozen_us) {
    ts->tv_sec = (time_t)(frozen_us / 1000000u);
    ts->tv_nsec = (long)(frozen_us % 1000000u) * 1000;
    return 0;
  }
  return (int)syscall(SYS_clock_gettime, clk, ts);
}

/* ---- files ---------------------------------------------------------------------- */

static uint8_t *read_whole(const char *path, size_t *size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) FAIL("open %s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) FAIL("fstat %s: %s", path, strerror(errno));
  uint8_t *b = malloc((size_t)st.st_size + 1);
  if (!b) FAIL("out of memory reading %s", path);
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t r = pread(fd, b + got, (size_t)st.st_size - got, (off_t)got);
    if (r <= 0) FAIL("read %s: %s", path, r < 0 ? strerror(errno) : "short");
    got += (size_t)r;
  }
  if (close(fd) != 0) FAIL("close %s: %s", path, strerror(errno));
  *size = got;
  return b;
}

static void pwrite_all(const char *path, const void *b, size_t n, uint64_t off) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) FAIL("open %s: %s", path, strerror(errno));
  if (pwrite(fd, b, n, (off_t)off) != (ssize_t)n) FAIL("write %s: %s", path, strerror(errno));
  if (close(fd) != 0) FAIL("close %s: %s", path, strerror(errno));
}

static int is_lock_file(const char *name) { return strcmp(name, "edb.lck") == 0; }

/* The regular files of dir, sorted by name (at most 64). */
typedef struct dlist { char name[64][64]; int n; } dlist;

static int name_cmp(const void *a, const void *b) { return strcmp(a, b); }

static void list_dir(const char *dir, dlist *l) {
  DIR *d = opendir(dir);
  if (!d) FAIL("opendir %s: %s", dir, strerror(errno));
  l->n = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    size_t len = strlen(de->d_name);
    if (l->n == 64 || len >= 64) FAIL("%s: unexpected entry %s", dir, de->d_name);
    memcpy(l->name[l->n++], de->d_name, len + 1);
  }
  if (closedir(d) != 0) FAIL("closedir %s: %s", dir, strerror(errno));
  qsort(l->name, (size_t)l->n, sizeof l->name[0], name_cmp);
}

/* dst (made afresh) gets a copy of every file of src. */
static void copy_dir(const char *src, const char *dst) {
  harness_rm_rf(dst);
  if (mkdir(dst, 0700) != 0) FAIL("mkdir %s: %s", dst, strerror(errno));
  dlist l;
  list_dir(src, &l);
  for (int i = 0; i < l.n; i++) {
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/%s", src, l.name[i]);
    snprintf(b, sizeof b, "%s/%s", dst, l.name[i]);
    if (harness_copy_file(a, b) != 0) FAIL("copy %s to %s: %s", a, b, strerror(errno));
  }
}

/* Every file of a folder (but the lock file) and its bytes. */
typedef struct dsnap { dlist l; uint8_t *data[64]; size_t size[64]; } dsnap;

static void snap_take(const char *dir, dsnap *s) {
  list_dir(dir, &s->l);
  for (int i = 0; i < s->l.n; i++) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, s->l.name[i]);
    s->data[i] = is_lock_file(s->l.name[i]) ? NULL : read_whole(p, &s->size[i]);
  }
}

static void snap_free(dsnap *s) {
  for (int i = 0; i < s->l.n; i++) free(s->data[i]);
  s->l.n = 0;
}

/* dir holds the same files as s, with the same bytes. */
static void snap_expect_same(const char *dir, const dsnap *s, const char *what) {
  dsnap now;
  snap_take(dir, &now);
  if (now.l.n != s->l.n) FAIL("%s: %s holds %d files, %d before", what, dir, now.l.n, s->l.n);
  for (int i = 0; i < s->l.n; i++) {
    if (strcmp(now.l.name[i], s->l.name[i]) != 0)
      FAIL("%s: %s holds %s where it held %s", what, dir, now.l.name[i], s->l.name[i]);
    if (!s->data[i]) continue;
    if (now.size[i] != s->size[i] || memcmp(now.data[i], s->data[i], s->size[i]) != 0)
      FAIL("%s: %s/%s changed", what, dir, s->l.name[i]);
  }
  snap_free(&now);
}

/* ---- the log, read with the engine's reader ----------------------------------- */

typedef struct lrec {
  uint32_t gen, off, len;
  uint8_t type;
  uint64_t txid;     /* page records and commits; 0 for the others */
  uint32_t count;    /* a commit: the page records it says its group has */
  uint32_t pgno;     /* a page record: its page */
  uint32_t dbid;     /* a page record: its database id */
  uint64_t stamp;    /* a page record: the dbtime the page carries once its commit is applied */
} lrec;
typedef struct lrecs { lrec *v; size_t n; } lrecs;

/* A record applied to a page at its base dbtime (payload offset 16): a
 * difference or an operation record (LR_INSERT .. LR_NEWPAGE). */
static int is_based(uint8_t type) { return type == LR_PAGEDIFF || (type >= LR_INSERT && type <= LR_NEWPAGE); }
static int is_page_rec(const lrec *x) { return is_based(x->type); }
static lsn_t lrec_lsn(const lrec *x) { return LSN(x->gen, x->off); }

/* Every record of dir's logs from the lowest generation on (current: B.log
 * too); any reader error fails. */
static void read_log(const char *dir, int current, lrecs *out) {
  esio *io;
  log_reader *r;
  CK(esio_new(&io));
  CK(log_reader_open(io, dir, "edb", PAGE_SIZE, NULL, 0, current ? LOG_READ_CURRENT : 0, &r));
  size_t cap = 0;
  out->v = NULL;
  out->n = 0;
  log_record rec;
  JET_ERR e;
  while ((e = log_reader_next(r, &rec)) == 0) {
    if (out->n == cap) {
      cap = cap ? cap * 2 : 256;
      lrec *nv = realloc(out->v, cap * sizeof *nv);
      if (!nv) FAIL("out of memory");
      out->v = nv;
    }
    lrec *x = &out->v[out->n++];
    *x = (lrec){ LSN_GEN(rec.lsn), LSN_OFF(rec.lsn), rec.len, rec.type, 0, 0, 0, 0, 0 };
    if (is_page_rec(x)) {
      if (rec.len < 24) FAIL("%s: a page record of %u bytes", dir, rec.len);
      x->dbid = x->type == LR_PAGEDIFF ? get32(rec.payload) : rec.payload[0];
      x->pgno = get32(rec.payload + 4);
      x->txid = get64(rec.payload + 8);
    }
    if (x->type == LR_COMMIT) {
      /* u64 txid, u32 page records, u32 databases, per database u32 id + u64 dbtime, u64 time */
      if (rec.len < 16 || rec.len != 24 + 12 * get32(rec.payload + 12))
        FAIL("%s: a commit record of %u bytes", dir, rec.len);
      x->txid = get64(rec.payload);
      x->count = get32(rec.payload + 8);
      /* a difference's page gets the commit's dbtime of its database */
      for (size_t i = out->n - 1; i-- > 0 && is_page_rec(&out->v[i]) && out->v[i].txid == x->txid;)
        for (uint32_t k = 0; k < get32(rec.payload + 12); k++)
          if (get32(rec.payload + 16 + 12 * k) == out->v[i].dbid && is_based(out->v[i].type))
            out->v[i].stamp = get64(rec.payload + 20 + 12 * k);
    }
  }
  if (e != 1) FAIL("reading the logs of %s: %s (%ld)", dir, harness_err_name(e), (long)e);
  log_reader_close(r);
  esio_free(io);
}

/* The commit records of L, in log order, into idx (at most max); their number. */
static size_t commits_of(const lrecs *L, size_t *idx, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < L->n; i++)
    if (L->v[i].type == LR_COMMIT) {
      if (n == max) FAIL("more than %zu commits", max);
      idx[n++] = i;
    }
  return n;
}

/* The file of generation gen in dir: archived, or else B.log. */
static void gen_path(const char *dir, uint32_t gen, char *out, size_t n) {
  snprintf(out, n, "%s/edb%08X.log", dir, (unsigned)gen);
  if (access(out, F_OK) == 0) return;
  snprintf(out, n, "%s/edb.log", dir);
  esio *io;
  log_header h;
  CK(esio_new(&io));
  CK(log_read_header(io, out, &h));
  if (h.gen != gen) FAIL("%s has generation %u, not %u", out, h.gen, gen);
  log_header_clear(&h);
  esio_free(io);
}

/* The CRC seed of the records of the log file at path (its header's
 * generation, signature and features: log_seed). */
static uint32_t file_seed(const char *path) {
  esio *io;
  log_header h;
  CK(esio_new(&io));
  CK(log_read_header(io, path, &h));
  uint32_t seed = log_seed(h.gen, &h.sig, h.features);
  log_header_clear(&h);
  esio_free(io);
  return seed;
}

/* Rewrites the page count of commit record x in dir to count and seals its
 * checksum again with log_rec_crc.  The stored checksum must be the one
 * log_rec_crc gives for the stored bytes (the reseal is the writer's), and
 * afterwards log_verify_file must accept the file: the record is valid,
 * only its count says otherwise. */
static void set_commit_count(const char *dir, const lrec *x, uint32_t count) {
  char path[600];
  gen_path(dir, x->gen, path, sizeof path);
  uint8_t rec[8 + 24 + 12 * 32 + 4];
  size_t len = x->len, n = 8 + len + 4;
  if (len > 24 + 12 * 32) FAIL("%s offset %u: a commit record of %u bytes", path, x->off, x->len);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) FAIL("open %s: %s", path, strerror(errno));
  if (pread(fd, rec, n, x->off) != (ssize_t)n) FAIL("read %s: %s", path, strerror(errno));
  if (close(fd) != 0) FAIL("close %s: %s", path, strerror(errno));
  if (ld32(rec) != len || rec[4] != LR_COMMIT || ld64(rec + 8) != x->txid || ld32(rec + 16) != x->count)
    FAIL("%s offset %u is not the commit record read there", path, x->off);
  uint32_t seed = file_seed(path);
  if (log_rec_crc(seed, LR_COMMIT, rec + 8, len, NULL, 0) != ld32(rec + 8 + len))
    FAIL("%s offset %u: log_rec_crc does not give the writer's checksum", path, x->off);
  st32(rec + 16, count);
  st32(rec + 8 + len, log_rec_crc(seed, LR_COMMIT, rec + 8, len, NULL, 0));
  pwrite_all(path, rec, n, x->off);
  esio *io;
  CK(esio_new(&io));
  JET_ERR e = log_verify_file(io, path, PAGE_SIZE);
  esio_free(io);
  if (e) FAIL("%s fails log_verify_file after the reseal (%s): the damage is not the count alone", path,
              harness_err_name(e));
}

/* Zeroes record x in dir: the log then ends before it, as after a torn write. */
static void cut_record(const char *dir, const lrec *x) {
  char path[600];
  gen_path(dir, x->gen, path, sizeof path);
  uint8_t zeros[64] = { 0 };
  uint64_t framed = rec_framed(x->len);
  if (framed > sizeof zeros) FAIL("record of %u bytes too long to cut", x->len);
  pwrite_all(path, zeros, (size_t)framed, x->off);
  /* the flush that wrote it never finished: the shadow slots that hold it
   * (their durable end past it) lose it too, else recovery takes the record
   * back from them.  A slot of the record's block keeps the bytes before
   * it, which may be in no other place (a flush that stayed in its block
   * wrote only its slot): its durable end becomes the record's offset,
   * resealed.  Any other such slot goes. */
  size_t n;
  uint8_t *img = read_whole(path, &n), blank[LOG_BLOCK] = { 0 };
  for (uint32_t at = LOG_SLOT_A; at <= LOG_SLOT_B; at += LOG_BLOCK) {
    uint8_t *sl = img + at;
    if (ld32(sl + 24) <= x->off) continue;
    if (ld32(sl + 16) != x->off / LOG_BLOCK) {
      pwrite_all(path, blank, sizeof blank, at);
      continue;
    }
    uint32_t in = x->off % LOG_BLOCK;
    memset(sl + LOG_SLOT_HEAD + in, 0, LOG_BLOCK - LOG_SLOT_HEAD - in);
    st32(sl + 24, x->off);
    if (ld32(sl + 20) > x->off) st32(sl + 20, x->off);
    st32(sl, crc32c(0, sl + 4, LOG_BLOCK - 4));
    pwrite_all(path, sl, LOG_BLOCK, at);
  }
  free(img);
}

/* How many pages of the group closed by commit L->v[ci] carry, in the
 * database file dbpath, the dbtime that group stamps them with. */
static size_t group_pages_applied(const lrecs *L, size_t ci, const char *dbpath) {
  size_t size, n = 0;
  uint8_t *db = read_whole(dbpath, &size);
  for (size_t i = ci; i-- > 0 && is_page_rec(&L->v[i]) && L->v[i].txid == L->v[ci].txid;) {
    const lrec *x = &L->v[i];
    if ((uint64_t)x->pgno * PAGE_SIZE + PAGE_SIZE > size) continue;   /* not in the file: not applied */
    if (page_dbtime(db + (size_t)x->pgno * PAGE_SIZE) == x->stamp) n++;
  }
  free(db);
  return n;
}

/* ---- instances, tables, records --------------------------------------------- */

/* The value of key: "<key>|7|" and filler, 60 to 359 bytes. */
/* One transaction putting prefix lo..hi-1. */
static void put_txn(JET_SESID s, JET_TABLEID t, const char *prefix, int lo, int hi) {
  CK(JetBeginTransaction(s));
  harness_put_keys(s, t, prefix, lo, hi);
  CK(JetCommitTransaction(s, 0));
}


static JET_INSTANCE new_instance(const char *dir) {
  JET_INSTANCE inst;
  char name[64];
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "redo"), dir, LOG_KIB, 0));
  return inst;
}

/* JetInit of a new instance on dir; its result, the instance in *inst
 * (terminated already when the init failed). */
static JET_ERR init_dir(const char *dir, JET_INSTANCE *inst) {
  *inst = new_instance(dir);
  JET_ERR e = JetInit(inst);
  if (e != JET_errSuccess) CK(JetTerm(*inst));
  return e;
}

/* An initialized instance on dir with dir/app.edb attached and table t open. */
static JET_INSTANCE open_dir(const char *dir, JET_SESID *s, JET_TABLEID *t) {
  JET_INSTANCE inst;
  JET_DBID db;
  char dbpath[600];
  snprintf(dbpath, sizeof dbpath, "%s/app.edb", dir);
  JET_ERR e = init_dir(dir, &inst);
  if (e) FAIL("JetInit on %s -> %s (%ld)", dir, harness_err_name(e), (long)e);
  CK(harness_open_table(inst, dbpath, 1, "t", s, &db, t));
  return inst;
}

static unsigned long db_state(const char *path) {
  EseFileInfo fi;
  char detail[256];
  JET_ERR e = EseGetFileInfo(path, 0, &fi, detail, sizeof detail);
  if (e) FAIL("EseGetFileInfo %s -> %s (%s)", path, harness_err_name(e), detail);
  return fi.state;
}

/* Runs fn(arg) in a child process that then ends without a term (a crash);
 * the child must exit 0. */
static void run_crashing(void (*fn)(const void *), const void *arg, const char *what) {
  pid_t pid = harness_fork();
  if (pid == 0) {
    fn(arg);
    _exit(0);
  }
  int st = harness_wait(pid);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) FAIL("%s: the child ended with %s", what, harness_status_text(st));
}

/* ---- count ------------------------------------------------------------------------ */

/* Run A, in this process: a database with b00..b19, terminated cleanly. */
static void make_base(const char *dir) {
  JET_INSTANCE inst = new_instance(dir);
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  char dbpath[600];
  snprintf(dbpath, sizeof dbpath, "%s/app.edb", dir);
  CK(JetInit(&inst));
  CK(harness_create_table(inst, dbpath, "t", &s, &db, &t));
  harness_put_keys(s, t, "b", 0, 20);
  CK(JetTerm2(inst, JET_bitTermComplete));
}

/* Run B, crashing: two transactions (t1 00..29, t2 00..09) after the clean base. */
static void run_b(const void *arg) {
  JET_SESID s;
  JET_TABLEID t;
  open_dir(arg, &s, &t);
  put_txn(s, t, "t1-", 0, 30);
  put_txn(s, t, "t2-", 0, 10);
}

/* Run C, crashing: one transaction (r 00..29), then a full backup into set. */
typedef struct run_c_arg { const char *dir, *set; } run_c_arg;
/* A full external backup of inst into set, step by step, with the
 * transaction r0..r29 committed after the databases are streamed: Begin
 * takes a checkpoint, so only a commit made during the backup is in the
 * log the set replays. */
static void run_c(const void *p) {
  const run_c_arg *a = p;
  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE inst = open_dir(a->dir, &s, &t);
  if (mkdir(a->set, 0700) != 0) FAIL("mkdir %s: %s", a->set, strerror(errno));
  CK(JetBeginExternalBackupInstance(inst, 0));
  char *buf;
  int n;
  char **names = harness_list(inst, JetGetAttachInfoInstance, &buf, &n);
  for (int i = 0; i < n; i++) harness_copy_stream(inst, names[i], a->set);
  free(names);
  free(buf);
  put_txn(s, t, "r", 0, 30);
  names = harness_list(inst, JetGetLogInfoInstance, &buf, &n);
  for (int i = 0; i < n; i++) harness_copy_stream(inst, names[i], a->set);
  free(names);
  free(buf);
  CK(JetEndExternalBackupInstance(inst));
}

/* Recovery of crashed, put back from saved (the log names the database by
 * its path, so the folder is used where it was made), in which commit
 * number `which` of run B (0: t1, 1: t2) says count + delta page records. */
static void count_variant(const char *crashed, const char *saved, size_t first_b, int which, int delta,
                          const char *name) {
  const char *dir = crashed;
  char what[128], dbpath[600];
  copy_dir(saved, dir);
  snprintf(dbpath, sizeof dbpath, "%s/app.edb", dir);
  snprintf(what, sizeof what, "count %s (commit of t%d, count %+d)", name, which + 1, delta);
  lrecs L;
  size_t ci[256];
  read_log(dir, 1, &L);
  size_t nc = commits_of(&L, ci, 256);
  if (nc != first_b + 2) FAIL("%s: %zu commits in the log, want %zu", what, nc, first_b + 2);
  const lrec *x = &L.v[ci[first_b + (size_t)which]];
  size_t group = 0;   /* the page records right before the commit carrying its id */
  for (size_t i = ci[first_b + (size_t)which]; i-- > 0 && is_page_rec(&L.v[i]) && L.v[i].txid == x->txid;) group++;
  if (x->count == 0 || group != x->count)
    FAIL("%s: the writer's commit says %u page records, its group has %zu", what, x->count, group);
  set_commit_count(dir, x, (uint32_t)((int)x->count + delta));
  size_t xi = ci[first_b + (size_t)which];
  if (group_pages_applied(&L, xi, dbpath) != 0)   /* so that replay alone can put them there */
    FAIL("%s: the crashed run already wrote the group's pages into the database", what);

  dsnap before;
  snap_take(dir, &before);
  JET_INSTANCE inst;
  JET_ERR e = init_dir(dir, &inst);
  if (delta == 0) {   /* the control: the record is the writer's, everything recovers */
    if (e != JET_errSuccess) FAIL("%s: JetInit -> %s (%ld), want success", what, harness_err_name(e), (long)e);
    JET_SESID s;
    JET_DBID db;
    JET_TABLEID t;
    CK(harness_open_table(inst, dbpath, 1, "t", &s, &db, &t));
    harness_expect_keys(s, t, "b", 0, 20, 1, what);
    harness_expect_keys(s, t, "t1-", 0, 30, 1, what);
    harness_expect_keys(s, t, "t2-", 0, 10, 1, what);
    CK(JetTerm2(inst, JET_bitTermComplete));
    if (db_state(dbpath) != DB_CLEAN) FAIL("%s: the database is not clean after the term", what);
    if (which == 1 && group_pages_applied(&L, xi, dbpath) != x->count)   /* t2 is the last change of its pages */
      FAIL("%s: %zu of the %u pages of the recovered group carry its dbtime", what, group_pages_applied(&L, xi, dbpath),
           x->count);
    snap_free(&before);
    free(L.v);
    return;
  }
  if (e != JET_errLogFileCorrupt)
    FAIL("%s: JetInit -> %s (%ld), want JET_errLogFileCorrupt (-501)", what, harness_err_name(e), (long)e);
  if (which == 0) snap_expect_same(dir, &before, what);   /* nothing of the group, nor anything else, was written */
  if (group_pages_applied(&L, xi, dbpath) != 0) FAIL("%s: pages of the refused group reached the database", what);
  if (db_state(dbpath) != DB_DIRTY) FAIL("%s: the database is in state %lu after the refusal, want dirty", what, db_state(dbpath));
  e = init_dir(dir, &inst);
  if (e != JET_errLogFileCorrupt)
    FAIL("%s: the second JetInit -> %s (%ld), want JET_errLogFileCorrupt again", what, harness_err_name(e), (long)e);
  if (which == 0) snap_expect_same(dir, &before, what);
  snap_free(&before);
  free(L.v);
}

/* A restore of set (a copy of it) whose last commit says its count + delta. */
static void count_restore(const char *root, const char *set, int delta, const char *name) {
  char copy[300], dest[300], dbpath[600], what[128];
  harness_fresh_dir(copy, sizeof copy, root, name);
  copy_dir(set, copy);
  snprintf(dest, sizeof dest, "%s/%s-dest", root, name);
  harness_rm_rf(dest);
  snprintf(dbpath, sizeof dbpath, "%s/app.edb", dest);
  snprintf(what, sizeof what, "count %s (restore, last commit, count %+d)", name, delta);
  lrecs L;
  size_t ci[256];
  read_log(copy, 0, &L);
  size_t nc = commits_of(&L, ci, 256);
  if (nc == 0) FAIL("%s: no commit in the set", what);
  const lrec *x = &L.v[ci[nc - 1]];
  if (x->count == 0) FAIL("%s: the last commit has no page", what);
  set_commit_count(copy, x, (uint32_t)((int)x->count + delta));
  free(L.v);
  JET_ERR e = JetRestoreInstance(0, copy, dest, NULL);
  if (delta == 0) {
    if (e != JET_errSuccess) FAIL("%s: JetRestoreInstance -> %s (%ld), want success", what, harness_err_name(e), (long)e);
    JET_SESID s;
    JET_TABLEID t;
    JET_INSTANCE inst = open_dir(dest, &s, &t);
    harness_expect_keys(s, t, "b", 0, 20, 1, what);
    harness_expect_keys(s, t, "r", 0, 30, 1, what);
    CK(JetTerm2(inst, JET_bitTermComplete));
    return;
  }
  if (e != JET_errLogCorruptDuringHardRestore)
    FAIL("%s: JetRestoreInstance -> %s (%ld), want JET_errLogCorruptDuringHardRestore (-573)", what,
         harness_err_name(e), (long)e);
  if (db_state(dbpath) != DB_RESTORING)
    FAIL("%s: the restored database is in state %lu, want 4 (being restored)", what, db_state(dbpath));
}

static void test_count(const char *root) {
  char crashed[300], saved[300], bk[300], set[300];
  harness_fresh_dir(crashed, sizeof crashed, root, "crashed");
  make_base(crashed);
  lrecs L;
  size_t ci[256];
  read_log(crashed, 1, &L);
  size_t first_b = commits_of(&L, ci, 256);
  free(L.v);
  run_crashing(run_b, crashed, "run B");
  harness_fresh_dir(saved, sizeof saved, root, "saved");
  copy_dir(crashed, saved);

  count_variant(crashed, saved, first_b, 1, 0, "control");
  count_variant(crashed, saved, first_b, 0, +1, "first-plus");
  count_variant(crashed, saved, first_b, 0, -1, "first-minus");
  count_variant(crashed, saved, first_b, 1, +1, "last-plus");
  count_variant(crashed, saved, first_b, 1, -1, "last-minus");

  harness_fresh_dir(bk, sizeof bk, root, "bk");
  make_base(bk);
  snprintf(set, sizeof set, "%s/set", root);
  harness_rm_rf(set);
  run_c_arg ca = { bk, set };
  run_crashing(run_c, &ca, "run C");
  count_restore(root, set, 0, "restore-control");
  count_restore(root, set, +1, "restore-plus");
  count_restore(root, set, -1, "restore-minus");
  printf("redo_count: count: ok: a commit whose page count is its group's +-1 (record otherwise valid) fails "
         "recovery with JET_errLogFileCorrupt (none of its pages applied, files unchanged, database dirty, again "
         "on retry) and restore with JET_errLogCorruptDuringHardRestore (database left being restored); the "
         "resealed writer's record recovers and restores every record\n");
}

/* ---- txid ------------------------------------------------------------------------- */

#define CLOCK_F 1600000000000000ull   /* September 2020, in µs: before any real run */

typedef struct run_arg {
  const char *dir, *set;
  uint64_t clock;
  int backup_kind;                    /* 0 none, 1 full, 2 incremental */
  const char *prefix;
  int lo, mid, hi;                    /* put lo..mid-1, back up, put mid..hi-1 */
  int create;                         /* create the database (run 1) */
  int clean_only;                     /* only recover and terminate cleanly */
} run_arg;

static void run_n(const void *p) {
  const run_arg *a = p;
  frozen_us = a->clock;
  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE inst;
  if (a->clean_only) {
    JET_ERR e = init_dir(a->dir, &inst);
    if (e) FAIL("clean run: JetInit -> %s", harness_err_name(e));
    CK(JetTerm2(inst, JET_bitTermComplete));
    return;
  }
  if (a->create) {
    JET_DBID db;
    char dbpath[600];
    snprintf(dbpath, sizeof dbpath, "%s/app.edb", a->dir);
    inst = new_instance(a->dir);
    CK(JetInit(&inst));
    CK(harness_create_table(inst, dbpath, "t", &s, &db, &t));
  } else {
    inst = open_dir(a->dir, &s, &t);
  }
  harness_put_keys(s, t, a->prefix, a->lo, a->mid);
  if (a->backup_kind) CK(JetBackupInstance(inst, a->set, a->backup_kind == 2 ? JET_bitBackupIncremental : 0, NULL));
  harness_put_keys(s, t, a->prefix, a->mid, a->hi);
}

/* Ids across the boundary (the lsn where the later run's records start):
 * each one after it is above every one before it; commit ids strictly
 * increase; every page record carries the id of the commit that follows
 * it, except the unfinished group right before the boundary. */
static void check_ids(const lrecs *L, lsn_t boundary, uint64_t torn, const char *where) {
  uint64_t max_before = 0, min_after = UINT64_MAX, last_commit = 0;
  size_t nafter = 0;
  for (size_t i = 0; i < L->n; i++) {
    const lrec *x = &L->v[i];
    if (!x->txid) continue;
    if (lrec_lsn(x) < boundary) {
      if (x->txid > max_before) max_before = x->txid;
    } else {
      nafter++;
      if (x->txid < min_after) min_after = x->txid;
    }
    if (x->type == LR_COMMIT) {
      if (x->txid <= last_commit)
        FAIL("%s: commit %llu (generation %u offset %u) follows commit %llu: ids must grow", where,
             (unsigned long long)x->txid, x->gen, x->off, (unsigned long long)last_commit);
      last_commit = x->txid;
      continue;
    }
    /* the commit that closes x: the next one, not past the boundary when x is before it */
    int before = lrec_lsn(x) < boundary;
    size_t j = i + 1;
    while (j < L->n && L->v[j].type != LR_COMMIT && (!before || lrec_lsn(&L->v[j]) < boundary)) j++;
    int closed = j < L->n && L->v[j].type == LR_COMMIT && (!before || lrec_lsn(&L->v[j]) < boundary);
    if (!closed && before && x->txid == torn) continue;
    if (!closed) FAIL("%s: page record at generation %u offset %u has no commit", where, x->gen, x->off);
    if (L->v[j].txid != x->txid)
      FAIL("%s: page record of transaction %llu (generation %u offset %u) is closed by commit %llu", where,
           (unsigned long long)x->txid, x->gen, x->off, (unsigned long long)L->v[j].txid);
  }
  if (max_before < torn) FAIL("%s: the unfinished transaction %llu is not in the log", where, (unsigned long long)torn);
  if (nafter == 0) FAIL("%s: nothing after the run boundary", where);
  if (min_after <= max_before)
    FAIL("%s: transaction %llu after the run boundary is not above %llu before it", where,
         (unsigned long long)min_after, (unsigned long long)max_before);
}

/* The checkpoint of dir holds a next transaction id above every id in
 * dir's logs (the restored ones and the new current one). */
static void expect_chk_above_logs(const char *dir, const char *where) {
  char path[400];
  snprintf(path, sizeof path, "%s/edb.chk", dir);
  esio *io;
  chkfile c;
  CK(esio_new(&io));
  CK(chk_read(io, path, &c));
  lrecs L;
  read_log(dir, 1, &L);
  uint64_t max = 0;
  for (size_t i = 0; i < L.n; i++)
    if (L.v[i].txid > max) max = L.v[i].txid;
  if (max == 0) FAIL("%s: no transaction in the restored logs", where);
  if (c.next_txid <= max)
    FAIL("%s: the restored checkpoint's next id %llu is not above %llu, an id of its logs", where,
         (unsigned long long)c.next_txid, (unsigned long long)max);
  free(L.v);
  chk_clear(&c);
  esio_free(io);
}

/* Restores the chain full + incremental into dest; the result. */
static JET_ERR restore_chain(const char *full, const char *incr, const char *dest) {
  const char *dirs[2] = { full, incr };
  char detail[256] = "";
  EseRestoreOptions o = { .dirs = dirs, .ndirs = 2, .dest = dest, .detail = detail, .detail_cap = sizeof detail };
  EseRestore *r;
  JET_ERR e = EseRestoreBegin(&o, &r);
  if (e) {
    printf("redo_count: note: restore refused: %s\n", detail);
    return e;
  }
  int finished = 0;
  while (e == JET_errSuccess && !finished) e = EseRestoreStep(r, NULL, NULL, &finished);
  const char *d = EseRestoreDetail(r);
  if (e) printf("redo_count: note: restore failed: %s\n", d && *d ? d : "(the engine gives no detail)");
  EseRestoreEnd(r);
  return e;
}

/* clock2_at_x: run 2's clock reads X (else F, the instant run 1 ran at). */
static void test_txid(const char *root, const char *test, int clean_between, int clock2_at_x) {
  char live[300], full[300], incr[300], dest[300];
  harness_fresh_dir(live, sizeof live, root, test);
  snprintf(full, sizeof full, "%s/%s-full", root, test);
  snprintf(incr, sizeof incr, "%s/%s-incr", root, test);
  snprintf(dest, sizeof dest, "%s/%s-dest", root, test);
  harness_rm_rf(full);
  harness_rm_rf(incr);
  harness_rm_rf(dest);

  /* run 1, clock F: k00..k09 are in the full set, k10..k19 only in the log */
  run_arg r1 = { .dir = live, .set = full, .clock = CLOCK_F, .backup_kind = 1, .prefix = "k", .lo = 0, .mid = 10,
                 .hi = 20, .create = 1 };
  run_crashing(run_n, &r1, "run 1");
  lrecs L;
  size_t ci[512];
  read_log(live, 1, &L);
  size_t nc = commits_of(&L, ci, 512);
  if (nc < 10) FAIL("%s: run 1 left %zu commits after its backup", test, nc);
  lrec torn = L.v[ci[nc - 1]];           /* k19's commit */
  if (torn.txid < CLOCK_F || torn.txid >= CLOCK_F + 1000)
    FAIL("%s: run 1's last transaction is %llu: the frozen clock (%llu) was not used", test,
         (unsigned long long)torn.txid, CLOCK_F);
  free(L.v);
  cut_record(live, &torn);               /* run 1 now ends in an unfinished group of id X */
  lsn_t boundary = LSN(torn.gen, torn.off);

  if (clean_between) {                   /* a run that replays the log and writes no transaction */
    run_arg rc = { .dir = live, .clock = CLOCK_F, .clean_only = 1 };
    run_crashing(run_n, &rc, "clean run");
  }
  /* run 2, clock X or F: m00..m09 are in the incremental set, m10..m14 only in the log */
  run_arg r2 = { .dir = live, .set = incr, .clock = clock2_at_x ? torn.txid : CLOCK_F, .backup_kind = 2, .prefix = "m", .lo = 0, .mid = 10,
                 .hi = 15 };
  run_crashing(run_n, &r2, "run 2");

  /* the chain's replay crosses the boundary */
  char where[128];
  JET_ERR e = restore_chain(full, incr, dest);
  snprintf(where, sizeof where, "%s: restore of full + incremental", test);
  if (e) FAIL("%s -> %s (%ld), want success", where, harness_err_name(e), (long)e);
  expect_chk_above_logs(dest, where);
  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE inst = open_dir(dest, &s, &t);
  harness_expect_keys(s, t, "k", 0, 19, 1, where);
  harness_expect_keys(s, t, "k", 19, 20, 0, where);   /* the unfinished transaction */
  harness_expect_keys(s, t, "m", 0, 10, 1, where);
  harness_expect_keys(s, t, "m", 10, 15, 0, where);   /* after the incremental's cut-off */
  CK(JetTerm2(inst, JET_bitTermComplete));

  /* the ids themselves, in the logs the chain replayed */
  snprintf(where, sizeof where, "%s: the incremental set's logs", test);
  read_log(incr, 0, &L);
  check_ids(&L, boundary, torn.txid, where);
  free(L.v);

  /* run 3, the real clock: soft recovery of everything both runs committed */
  snprintf(where, sizeof where, "%s: run 3 (recovery)", test);
  inst = open_dir(live, &s, &t);
  harness_expect_keys(s, t, "k", 0, 19, 1, where);
  harness_expect_keys(s, t, "k", 19, 20, 0, where);
  harness_expect_keys(s, t, "m", 0, 15, 1, where);
  CK(JetTerm2(inst, JET_bitTermComplete));
  printf("redo_count: %s: ok: run 1 (clock frozen at %llu) ends in unfinished transaction %llu; run 2%s, its clock "
         "frozen at %llu, numbers its transactions above every id in the log (commit ids grow across the run "
         "boundary); full + incremental restores exactly the records committed before the cut-off; run 3 recovers "
         "every record of both runs\n", test, CLOCK_F, (unsigned long long)torn.txid,
         clean_between ? " (after a run that only recovered and terminated cleanly)" : "",
         (unsigned long long)r2.clock);
}

/* live gets app.edb with k00..k09, then a clean term. */
static void make_clean_k10(const char *live) {
  char dbpath[400];
  snprintf(dbpath, sizeof dbpath, "%s/app.edb", live);
  JET_INSTANCE inst = new_instance(live);
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  CK(JetInit(&inst));
  CK(harness_create_table(inst, dbpath, "t", &s, &db, &t));
  harness_put_keys(s, t, "k", 0, 10);
  CK(JetTerm2(inst, JET_bitTermComplete));
}

/* A full set whose logs were all written before the checkpoint it copies
 * from (a clean term, then a new run that backs up before writing): replay
 * skips every record, and still the restored checkpoint's next id is above
 * every id of the restored logs. */
static void test_restored_chk(const char *root) {
  char live[300], set[300], dest[300];
  harness_fresh_dir(live, sizeof live, root, "restored-chk");
  snprintf(set, sizeof set, "%s/restored-chk-set", root);
  snprintf(dest, sizeof dest, "%s/restored-chk-dest", root);
  harness_rm_rf(set);
  harness_rm_rf(dest);
  make_clean_k10(live);
  JET_INSTANCE inst;
  JET_SESID s;
  JET_TABLEID t;
  inst = open_dir(live, &s, &t);
  CK(JetBackupInstance(inst, set, 0, NULL));
  CK(JetTerm2(inst, JET_bitTermComplete));
  CK(JetRestoreInstance(0, set, dest, NULL));
  expect_chk_above_logs(dest, "restored-chk");
  inst = open_dir(dest, &s, &t);
  harness_expect_keys(s, t, "k", 0, 10, 1, "restored-chk");
  CK(JetTerm2(inst, JET_bitTermComplete));
  printf("redo_count: restored-chk: ok: a set whose records all precede its checkpoint restores with a "
         "checkpoint whose next transaction id is above every id of its logs\n");
}

/* JetInit on live must return JET_errBadLogVersion and leave every file of
 * the folder as it was (nothing written before the refusal). */
static void init_refuses_version(const char *live, const char *what) {
  dsnap before;
  snap_take(live, &before);
  char name[64];
  JET_INSTANCE inst;
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "ver"), live, 1024, 0));
  JET_ERR e = JetInit(&inst);
  if (e != JET_errBadLogVersion) {
    char detail[600];
    FAIL("%s: %s", what, harness_instance_error(detail, sizeof detail, inst, e, "JetInit"));
  }
  char detail[600];
  EseInstanceErrorDetail(inst, detail, sizeof detail);
  if (!strstr(detail, "shut down cleanly"))
    FAIL("%s: the detail of JET_errBadLogVersion does not say what to do: '%s'", what, detail);
  JetTerm(inst);
  snap_expect_same(live, &before, what);
  snap_free(&before);
}

/* A checkpoint of an older format (1, 2, 3: the ones of log formats 1
 * and 2) is refused with JET_errBadLogVersion, nothing written; the
 * original (format 4) still recovers. */
static void test_chk_v1(const char *root) {
  char live[300], chk[400];
  harness_fresh_dir(live, sizeof live, root, "chk-v1");
  snprintf(chk, sizeof chk, "%s/edb.chk", live);
  make_clean_k10(live);
  size_t n;
  uint8_t *v4 = read_whole(chk, &n), *old = malloc(n);
  if (!old) FAIL("out of memory");
  if (n != 48 || v4[11] != 4) FAIL("chk-v1: %s is not a format 4 checkpoint without databases", chk);
  for (uint8_t v = 1; v <= 3; v++) {
    memcpy(old, v4, n);
    old[11] = v;
    put32(old, crc32c(0, old + 4, n - 4));
    pwrite_all(chk, old, n, 0);
    char what[64];
    snprintf(what, sizeof what, "chk-v1: a format %u checkpoint", v);
    init_refuses_version(live, what);
  }
  pwrite_all(chk, v4, n, 0);
  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE inst = open_dir(live, &s, &t);
  harness_expect_keys(s, t, "k", 0, 10, 1, "chk-v1");
  CK(JetTerm2(inst, JET_bitTermComplete));
  free(old);
  free(v4);
  printf("redo_count: chk-v1: ok: checkpoints of formats 1, 2 and 3 are JET_errBadLogVersion, nothing written\n");
}

/* A log of format 1 or 2 (header magic ending 01 or 02, records from 4096),
 * 3 or 4, or of format 5 with an unknown feature bit is refused with
 * JET_errBadLogVersion, nothing written; the original still recovers. */
static void test_log_v1(const char *root) {
  char live[300], path[400];
  harness_fresh_dir(live, sizeof live, root, "log-v1");
  snprintf(path, sizeof path, "%s/edb.log", live);
  make_clean_k10(live);
  size_t n;
  uint8_t *img = read_whole(path, &n), *old = malloc(LOG_HDR_SIZE);
  if (!old) FAIL("out of memory");
  if (img[11] != 5 || ld32(img + 56) != LOG_FEATURES_WRITTEN)
    FAIL("log-v1: %s is not a format 5 log with this version's features", path);
  static const struct { uint8_t version; uint32_t features; const char *what; } cases[] = {
    { 1, 0, "log-v1: a format 1 log" },
    { 2, 0, "log-v1: a format 2 log" },
    { 3, 0, "log-v1: a format 3 log" },
    { 4, 0, "log-v1: a format 4 log" },
    { 5, 127, "log-v1: a format 5 log with feature bit 6" },
    { 5, 0x80000000u, "log-v1: a format 5 log with feature bit 31" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    memcpy(old, img, LOG_HDR_SIZE);
    old[11] = cases[i].version;
    st32(old + 56, cases[i].features);
    st32(old, crc32c(0, old + 4, LOG_HDR_SIZE - 4));
    pwrite_all(path, old, LOG_HDR_SIZE, 0);
    init_refuses_version(live, cases[i].what);
  }
  pwrite_all(path, img, LOG_HDR_SIZE, 0);
  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE inst = open_dir(live, &s, &t);
  harness_expect_keys(s, t, "k", 0, 10, 1, "log-v1");
  CK(JetTerm2(inst, JET_bitTermComplete));
  free(old);
  free(img);
  printf("redo_count: log-v1: ok: logs of formats 1 to 4, and of format 5 with an unknown feature bit, are "
         "JET_errBadLogVersion, nothing written; the untouched log recovers\n");
}

/* ---- attach-entry: crafted attachment entries --------------------------------- */

static void write_file(const char *path, const void *b, size_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) FAIL("open %s: %s", path, strerror(errno));
  if (write(fd, b, n) != (ssize_t)n) FAIL("write %s: %s", path, strerror(errno));
  if (close(fd) != 0) FAIL("close %s: %s", path, strerror(errno));
}

/* JetInit on dir must return want, and a.edb must be as it was (adb). */
static void init_refuses(const char *dir, const char *dbpath, const uint8_t *adb, size_t adbn, JET_ERR want,
                         const char *what) {
  char name[64];
  JET_INSTANCE inst;
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "ae"), dir, 1024, 0));
  JET_ERR e = JetInit(&inst);
  if (e != want) {
    char detail[600];
    FAIL("attach-entry: %s: %s", what, harness_instance_error(detail, sizeof detail, inst, e, "JetInit"));
  }
  JetTerm(inst);
  size_t n;
  uint8_t *now = read_whole(dbpath, &n);
  if (n != adbn || memcmp(now, adb, n) != 0) FAIL("attach-entry: %s: a.edb changed", what);
  free(now);
}

static void test_attach_entry(const char *root) {
  char live[300], pa[400], logp[400], chkp[400];
  harness_fresh_dir(live, sizeof live, root, "attach-entry");
  snprintf(pa, sizeof pa, "%s/a.edb", live);
  snprintf(logp, sizeof logp, "%s/edb.log", live);
  snprintf(chkp, sizeof chkp, "%s/edb.chk", live);
  char name[64];
  JET_INSTANCE inst;
  JET_SESID sa;
  JET_DBID da;
  JET_TABLEID ta;
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "ae"), live, 1024, 0));
  CK(JetInit(&inst));
  CK(harness_create_table(inst, pa, "t", &sa, &da, &ta));
  harness_put_keys(sa, ta, "a", 0, 5);
  CK(JetTerm(inst));
  size_t ln, cn, an;
  uint8_t *log0 = read_whole(logp, &ln), *chk0 = read_whole(chkp, &cn), *adb = read_whole(pa, &an);
  uint8_t *img = malloc(ln), *chk = malloc(cn + 64);
  if (!img || !chk) FAIL("out of memory");
  /* the LR_CREATEDB record: u32 page size, then the entry (u32 dbid,
   * u8[16] signature, u16 absolute and u16 relative length, the paths) */
  uint32_t seed = file_seed(logp), pos = LOG_DATA_START, at = 0, len = 0;
  while (pos + 8 <= ln && ld32(log0 + pos)) {
    if (log0[pos + 4] == LR_CREATEDB) {
      at = pos;
      len = ld32(log0 + pos);
      break;
    }
    pos += (uint32_t)rec_framed(ld32(log0 + pos));
  }
  if (!at) FAIL("attach-entry: no LR_CREATEDB in %s", logp);
  uint16_t alen = ld16(log0 + at + 8 + 4 + 20), rlen = ld16(log0 + at + 8 + 4 + 22);
  if (4 + 24 + (uint32_t)alen + rlen != len) FAIL("attach-entry: LR_CREATEDB of %u bytes, entry %u + %u", len, alen, rlen);
  struct { const char *what; uint32_t off; uint32_t val; int bytes; } bad[] = {
    { "absolute length 0xFFFF", 24, 0xFFFF, 2 },
    { "relative length 0xFFFF", 26, 0xFFFF, 2 },
    { "absolute length one past the record", 24, alen + 1u, 2 },
    { "relative length one past the record", 26, rlen + 1u, 2 },
    { "absolute length one short (a byte left over)", 24, alen - 1u, 2 },
    { "dbid 0", 4, 0, 4 },
    { "dbid 33", 4, 33, 4 },
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memcpy(img, log0, ln);
    uint8_t *p = img + at + 8;
    if (bad[i].bytes == 2) st16(p + bad[i].off, (uint16_t)bad[i].val);
    else st32(p + bad[i].off, bad[i].val);
    st32(p + len, log_rec_crc(seed, LR_CREATEDB, p, len, NULL, 0));
    write_file(logp, img, ln);
    write_file(chkp, chk0, cn);
    init_refuses(live, pa, adb, an, JET_errLogFileCorrupt, bad[i].what);
  }
  /* the generation header's attach table: one entry running past the header */
  memcpy(img, log0, ln);
  st32(img + 60, 1);
  memset(img + 64, 0, 24);
  st32(img + 64, 1);
  st16(img + 64 + 20, (uint16_t)(LOG_HDR_SIZE - 64 - 24 + 1));
  st32(img, crc32c(0, img + 4, LOG_HDR_SIZE - 4));
  write_file(logp, img, ln);
  write_file(chkp, chk0, cn);
  init_refuses(live, pa, adb, an, JET_errLogFileCorrupt, "a header entry running past the header");
  /* the checkpoint's table: one entry whose paths run past the file */
  memcpy(chk, chk0, cn);
  if (cn != 48 || ld32(chk + 36) != 0) FAIL("attach-entry: %s is not an empty format 3 checkpoint", chkp);
  st32(chk + 36, 1);
  memset(chk + 48, 0, 24);
  st32(chk + 48, 1);
  st16(chk + 48 + 20, 8);
  memcpy(chk + 48 + 24, "/x", 2);   /* 2 of the 8 bytes */
  st32(chk, crc32c(0, chk + 4, 48 + 24 + 2 - 4));
  write_file(logp, log0, ln);
  write_file(chkp, chk, 48 + 24 + 2);
  init_refuses(live, pa, adb, an, JET_errCheckpointCorrupt, "a checkpoint entry running past the file");
  /* the originals still recover */
  write_file(chkp, chk0, cn);
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "ae"), live, 1024, 0));
  CK(JetInit(&inst));
  CK(harness_open_table(inst, pa, 1, "t", &sa, &da, &ta));
  harness_expect_keys(sa, ta, "a", 0, 5, 1, "attach-entry a.edb");
  CK(JetTerm2(inst, JET_bitTermComplete));
  free(log0);
  free(chk0);
  free(adb);
  free(img);
  free(chk);
  printf("redo_count: attach-entry: ok: attachment entries whose lengths run past their record, header or "
         "checkpoint, leave bytes over, or name id 0 or 33 (checksums resealed) are JET_errLogFileCorrupt / "
         "JET_errCheckpointCorrupt, the database untouched; the untouched files recover\n");
}

/* ---- dbtime ------------------------------------------------------------------------ */

/* Rewrites the base dbtime of the difference or operation record x in dir
 * to its base + delta,
 * checksum resealed with log_rec_crc (the writer's code). */
static void shift_one_base(const char *dir, const lrec *x, int delta) {
  char path[600];
  gen_path(dir, x->gen, path, sizeof path);
  size_t len = x->len, n = 8 + len + 4;
  uint8_t *rec = malloc(n);
  if (!rec) FAIL("out of memory");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || pread(fd, rec, n, x->off) != (ssize_t)n) FAIL("read %s: %s", path, strerror(errno));
  close(fd);
  if (ld32(rec) != len || rec[4] != x->type || !is_based(x->type) || ld32(rec + 12) != x->pgno)
    FAIL("%s offset %u is not the difference read there", path, x->off);
  uint32_t seed = file_seed(path);
  if (log_rec_crc(seed, x->type, rec + 8, len, NULL, 0) != ld32(rec + 8 + len))
    FAIL("%s offset %u: log_rec_crc does not give the writer's checksum", path, x->off);
  st64(rec + 8 + 16, (uint64_t)((int64_t)ld64(rec + 8 + 16) + delta));
  st32(rec + 8 + len, log_rec_crc(seed, x->type, rec + 8, len, NULL, 0));
  pwrite_all(path, rec, n, x->off);
  free(rec);
}

/* shift_one_base on x and every other record of its commit for its page
 * (a page's operation records of one commit all carry the same base). */
static void shift_diff_base(const char *dir, int current, const lrec *x, int delta) {
  lrecs L;
  read_log(dir, current, &L);
  for (size_t i = 0; i < L.n; i++)
    if (is_based(L.v[i].type) && L.v[i].txid == x->txid && L.v[i].dbid == x->dbid && L.v[i].pgno == x->pgno)
      shift_one_base(dir, &L.v[i], delta);
  free(L.v);
}

/* The last difference or operation record of dir's logs (current: B.log
 * too). */
static lrec last_diff(const char *dir, int current, const char *what) {
  lrecs L;
  read_log(dir, current, &L);
  lrec x = { 0 };
  for (size_t i = 0; i < L.n; i++) {
    if (is_based(L.v[i].type)) x = L.v[i];
  }
  if (!is_based(x.type)) FAIL("%s: no difference in the logs of %s (%zu records)", what, dir, L.n);
  free(L.v);
  return x;
}

/* Run D, crashing: a full backup into set, two transactions on the same
 * pages (u: images, v: differences of them), an incremental into incr. */
typedef struct run_d_arg { const char *dir, *set, *incr; } run_d_arg;
static void run_d(const void *p) {
  const run_d_arg *a = p;
  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE inst = open_dir(a->dir, &s, &t);
  CK(JetBackupInstance(inst, a->set, 0, NULL));
  put_txn(s, t, "u", 0, 3);   /* few: no split, so v's pages are differences */
  put_txn(s, t, "v", 0, 3);
  CK(JetBackupInstance(inst, a->incr, JET_bitBackupIncremental, NULL));
}

/* Soft recovery of saved (copied to crashed) whose last difference names
 * base + delta: refused with want, every file of the folder unchanged (the
 * groups before it were applied in the replay cache only), again on retry. */
static void dbtime_soft(const char *crashed, const char *saved, int delta, JET_ERR want, const char *name) {
  char what[128];
  snprintf(what, sizeof what, "dbtime %s (soft recovery, base %+d)", name, delta);
  copy_dir(saved, crashed);
  lrec x = last_diff(crashed, 1, what);
  shift_diff_base(crashed, 1, &x, delta);
  dsnap before;
  snap_take(crashed, &before);
  for (int k = 0; k < 2; k++) {
    JET_INSTANCE inst;
    JET_ERR e = init_dir(crashed, &inst);
    if (e != want)
      FAIL("%s: JetInit -> %s (%ld), want %s", what, harness_err_name(e), (long)e, harness_err_name(want));
    snap_expect_same(crashed, &before, what);
  }
  snap_free(&before);
}

/* A restore of the chain full + incr (copies) whose last difference
 * names base + delta: want (success: every record is back). */
static void dbtime_restore(const char *root, const char *full, const char *incr, int delta, JET_ERR want,
                           const char *name) {
  char icopy[300], dest[300], dbpath[600], what[128];
  snprintf(what, sizeof what, "dbtime %s (restore, base %+d)", name, delta);
  harness_fresh_dir(icopy, sizeof icopy, root, name);
  copy_dir(incr, icopy);
  snprintf(dest, sizeof dest, "%s/%s-dest", root, name);
  harness_rm_rf(dest);
  snprintf(dbpath, sizeof dbpath, "%s/app.edb", dest);
  if (delta) {
    lrec x = last_diff(icopy, 0, what);
    shift_diff_base(icopy, 0, &x, delta);
  }
  JET_ERR e = restore_chain(full, icopy, dest);
  if (e != want) FAIL("%s: restore -> %s (%ld), want %s", what, harness_err_name(e), (long)e, harness_err_name(want));
  if (want != JET_errSuccess) {
    if (db_state(dbpath) != DB_RESTORING)
      FAIL("%s: the restored database is in state %lu, want 4 (being restored)", what, db_state(dbpath));
    return;
  }
  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE inst = open_dir(dest, &s, &t);
  harness_expect_keys(s, t, "b", 0, 20, 1, what);
  harness_expect_keys(s, t, "u", 0, 3, 1, what);
  harness_expect_keys(s, t, "v", 0, 3, 1, what);
  CK(JetTerm2(inst, JET_bitTermComplete));
}

/* A soft recovery of dir that crashed half-way: replay from the
 * checkpoint through a cache of one page, so that each commit first
 * writes the pages of the one before back, up to the second commit of
 * the log; then it stops without finishing (what it had not written back
 * is dropped, the header stays dirty). */
static void replay_half(const char *dir) {
  esio *io;
  char chkp[600], logp[600];
  snprintf(chkp, sizeof chkp, "%s/edb.chk", dir);
  snprintf(logp, sizeof logp, "%s/edb.log", dir);
  CK(esio_new(&io));
  chkfile chk;
  log_header h;
  CK(chk_read(io, chkp, &chk));
  CK(log_read_header(io, logp, &h));
  redo_cfg rc = { .io = io, .page_size = PAGE_SIZE, .sig = h.sig, .cache_pages = 1 };
  redo *r;
  log_reader *rd;
  CK(redo_new(&rc, &r));
  for (uint32_t i = 0; i < chk.natt; i++) CK(redo_attach(r, &chk.att[i]));
  CK(log_reader_open(io, dir, "edb", PAGE_SIZE, &h.sig, chk.lsn, LOG_READ_CURRENT, &rd));
  log_record rec;
  int commits = 0;
  while (commits < 2 && log_reader_next(rd, &rec) == 0) {
    CK(redo_apply(r, &rec));
    commits += rec.type == LR_COMMIT;
  }
  if (commits < 2) FAIL("dbtime half: fewer than 2 commits after the checkpoint of %s", dir);
  log_reader_close(rd);
  redo_free(r);
  log_header_clear(&h);
  chk_clear(&chk);
  esio_free(io);
}

static void test_dbtime(const char *root) {
  char crashed[300], saved[300], bk[300], full[300], incr[300], dbpath[600];
  harness_fresh_dir(crashed, sizeof crashed, root, "dt-crashed");
  make_base(crashed);
  run_crashing(run_b, crashed, "run B");
  harness_fresh_dir(saved, sizeof saved, root, "dt-saved");
  copy_dir(crashed, saved);
  /* the dbtime rule in soft recovery: the page older than the base, and
   * between the base and the commit */
  dbtime_soft(crashed, saved, +1, JET_errDbTimeTooOld, "too-old");
  dbtime_soft(crashed, saved, -1, JET_errDbTimeTooNew, "too-new");

  /* replayed twice: recover, then put the crashed run's logs and checkpoint
   * back beside the recovered database and recover again: every record
   * meets a page already at its commit's dbtime (skipped), the database
   * file stays byte for byte as the first recovery left it */
  copy_dir(saved, crashed);
  snprintf(dbpath, sizeof dbpath, "%s/app.edb", crashed);
  JET_INSTANCE inst;
  JET_ERR e = init_dir(crashed, &inst);
  if (e) FAIL("dbtime twice: the first JetInit -> %s (%ld)", harness_err_name(e), (long)e);
  CK(JetTerm2(inst, JET_bitTermComplete));
  size_t n1, n2;
  uint8_t *once = read_whole(dbpath, &n1);
  dlist l;
  list_dir(crashed, &l);   /* every file but the database: the crashed run's again */
  for (int i = 0; i < l.n; i++)
    if (strcmp(l.name[i], "app.edb") != 0) {
      char to[600];
      snprintf(to, sizeof to, "%s/%s", crashed, l.name[i]);
      if (unlink(to) != 0) FAIL("unlink %s: %s", to, strerror(errno));
    }
  list_dir(saved, &l);
  for (int i = 0; i < l.n; i++)
    if (strcmp(l.name[i], "app.edb") != 0) {
      char from[600], to[600];
      snprintf(from, sizeof from, "%s/%s", saved, l.name[i]);
      snprintf(to, sizeof to, "%s/%s", crashed, l.name[i]);
      if (harness_copy_file(from, to) != 0) FAIL("copy %s to %s: %s", from, to, strerror(errno));
    }
  /* an old modification time: a page or header write would move it */
  struct timespec old_time[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
  if (utimensat(AT_FDCWD, dbpath, old_time, 0) != 0) FAIL("utimensat %s: %s", dbpath, strerror(errno));
  e = init_dir(crashed, &inst);
  if (e) FAIL("dbtime twice: the second JetInit -> %s (%ld)", harness_err_name(e), (long)e);
  CK(JetTerm2(inst, JET_bitTermComplete));
  struct stat st;
  if (stat(dbpath, &st) != 0) FAIL("stat %s: %s", dbpath, strerror(errno));
  if (st.st_mtim.tv_sec != 1000000000 || st.st_mtim.tv_nsec != 0)
    FAIL("dbtime twice: the second replay wrote to %s (its modification time moved)", dbpath);
  uint8_t *twice = read_whole(dbpath, &n2);
  if (n1 != n2 || memcmp(once, twice, n1) != 0) FAIL("dbtime twice: the second replay changed %s", dbpath);
  free(twice);
  /* a recovery that crashed half-way (the first group written back, the
   * second not, the header dirty), then a whole one: the same bytes */
  copy_dir(saved, crashed);
  replay_half(crashed);
  size_t nh;
  uint8_t *half = read_whole(dbpath, &nh);
  e = init_dir(crashed, &inst);
  if (e) FAIL("dbtime half: JetInit after the half replay -> %s (%ld)", harness_err_name(e), (long)e);
  CK(JetTerm2(inst, JET_bitTermComplete));
  uint8_t *after = read_whole(dbpath, &n2);
  if (n1 != n2 || memcmp(once, after, n1) != 0) FAIL("dbtime half: the recovery after a half replay differs from one");
  {
    char spath[600];
    size_t ns;
    snprintf(spath, sizeof spath, "%s/app.edb", saved);
    uint8_t *crashed_db = read_whole(spath, &ns);
    if (ns == nh && memcmp(crashed_db, half, ns) == 0) FAIL("dbtime half: the half replay wrote nothing back");
    free(crashed_db);
  }
  free(half);
  free(after);
  free(once);
  {
    JET_SESID s;
    JET_TABLEID t;
    inst = open_dir(crashed, &s, &t);
    harness_expect_keys(s, t, "t1-", 0, 30, 1, "dbtime twice");
    harness_expect_keys(s, t, "t2-", 0, 10, 1, "dbtime twice");
    CK(JetTerm2(inst, JET_bitTermComplete));
  }

  /* and in a restore of full + incremental */
  harness_fresh_dir(bk, sizeof bk, root, "dt-bk");
  make_base(bk);
  snprintf(full, sizeof full, "%s/dt-full", root);
  snprintf(incr, sizeof incr, "%s/dt-incr", root);
  harness_rm_rf(full);
  harness_rm_rf(incr);
  run_d_arg da = { bk, full, incr };
  run_crashing(run_d, &da, "run D");
  dbtime_restore(root, full, incr, 0, JET_errSuccess, "dt-control");
  dbtime_restore(root, full, incr, +1, JET_errDbTimeTooOld, "dt-old");
  dbtime_restore(root, full, incr, -1, JET_errDbTimeTooNew, "dt-new");
  printf("redo_count: dbtime: ok: a difference whose base is above its page's dbtime is JET_errDbTimeTooOld, "
         "below it (the page between base and commit) JET_errDbTimeTooNew, in soft recovery (every file unchanged, "
         "again on retry) and in a restore (database left being restored); a log replayed twice, or after a replay "
         "that stopped half-way, leaves the database byte for byte as one replay\n");
}

int main(int argc, char **argv) {
  harness_start(600);
  const char *which = argc > 1 ? argv[1] : "all";
  char root[64];
  harness_tempdir(root, sizeof root, "redo-count");
  int all = strcmp(which, "all") == 0;
  if (all || strcmp(which, "count") == 0) test_count(root);
  int txid = all || strcmp(which, "txid") == 0;
  if (txid || strcmp(which, "txid-at-x") == 0) test_txid(root, "txid-at-x", 0, 1);
  if (txid || strcmp(which, "txid-still") == 0) test_txid(root, "txid-still", 0, 0);
  if (strcmp(which, "clean") == 0) test_txid(root, "clean", 1, 1);
  if (all || strcmp(which, "restored-chk") == 0) test_restored_chk(root);
  if (all || strcmp(which, "chk-v1") == 0) test_chk_v1(root);
  if (all || strcmp(which, "log-v1") == 0) test_log_v1(root);
  if (all || strcmp(which, "attach-entry") == 0) test_attach_entry(root);
  if (all || strcmp(which, "dbtime") == 0) test_dbtime(root);
  if (!all && strcmp(which, "count") && strncmp(which, "txid", 4) && strcmp(which, "clean") &&
      strcmp(which, "restored-chk") && strcmp(which, "chk-v1") && strcmp(which, "log-v1") &&
      strcmp(which, "attach-entry") && strcmp(which, "dbtime"))
    FAIL("unknown test %s (count, txid, txid-at-x, txid-still, clean, restored-chk, chk-v1, log-v1, attach-entry, "
         "dbtime)",
         which);
  if (harness_rm_rf(root) != 0) printf("redo_count: note: could not remove %s\n", root);
  return 0;
}
