/*
 * log_test.c -- standalone test of the write-ahead log (csrc/log.c).
 *
 * gcc -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -O1 -g -fsanitize=address,undefined -Icsrc/include -Icsrc spec/c/log_test.c csrc/log.c csrc/os.c csrc/crc32c.c -o /tmp/log_test -pthread
 *
 * Prints "log_test: ok" and exits 0 on success.  Works in a fresh folder
 * made with mkdtemp under /tmp, removed at the end.
 */
#include "log.h"
#include "log_format.h"
#include "crc32c.h"
#include "os.h"
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FS (64u * 1024u)
#define PGSZ 8192u

#define CHECK(c)                                                          \
  do {                                                                    \
    if (!(c)) {                                                           \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
      exit(1);                                                            \
    }                                                                     \
  } while (0)
#define CHECK_ERR(expr, want)                                                              \
  do {                                                                                     \
    JET_ERR got_ = (expr);                                                                 \
    if (got_ != (JET_ERR)(want)) {                                                         \
      fprintf(stderr, "%s:%d: %s returned %ld, wanted %ld\n", __FILE__, __LINE__, #expr, \
              (long)got_, (long)(want));                                                   \
      exit(1);                                                                             \
    }                                                                                      \
  } while (0)
#define OK(expr) CHECK_ERR(expr, JET_errSuccess)

static char root[64];

static char *subdir(const char *name) {
  char *d = os_join(root, name);
  CHECK(d);
  OK(os_mkdir_p(d, 0700));
  return d;
}

static char *path_of(const char *dir, uint32_t gen) {
  char *p = log_file_name(dir, "edb", gen);
  CHECK(p);
  return p;
}

/* Raw file helpers (the test itself may use POSIX directly). */
static void raw_write(const char *path, uint64_t off, const void *buf, size_t n) {
  int fd = open(path, O_WRONLY);
  CHECK(fd >= 0);
  CHECK(pwrite(fd, buf, n, (off_t)off) == (ssize_t)n);
  close(fd);
}
static void raw_read(const char *path, uint64_t off, void *buf, size_t n) {
  int fd = open(path, O_RDONLY);
  CHECK(fd >= 0);
  CHECK(pread(fd, buf, n, (off_t)off) == (ssize_t)n);
  close(fd);
}
static void copy_file(const char *from, const char *to) {
  static uint8_t buf[1 << 16];
  int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  CHECK(in >= 0 && out >= 0);
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0) CHECK(write(out, buf, (size_t)n) == n);
  CHECK(n == 0);
  close(in);
  close(out);
}
static void rm_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    char *p = os_join(dir, de->d_name);
    CHECK(p);
    struct stat st;
    if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) rm_tree(p);
    else unlink(p);
    free(p);
  }
  closedir(d);
  rmdir(dir);
}

/* Deterministic payloads: record i has type rec_type(i) and these bytes. */
static size_t rec_len(int i) {
  if (i % 97 == 13) return 20000 + (size_t)(i % 5) * 1000;   /* big ones */
  return 1 + (size_t)((i * 7919) % 3000);
}
/* A record's type: never LR_COMMIT, whose last 8 bytes the log writes (its time) */
static uint8_t rec_type(int i) {   /* LR_END is the log's own (a roll's), refused by log_append */
  return i % 251 == LR_COMMIT ? 251 : i % 251 == LR_END ? 252 : (uint8_t)(i % 251);
}
static void rec_fill(int i, uint8_t *p, size_t n) {
  for (size_t j = 0; j < n; j++) p[j] = (uint8_t)(i * 31 + (int)j * 7 + (int)(j >> 8));
}

typedef struct expect {
  int n, cap;
  lsn_t *lsn;
  int *id;
} expect;
static void exp_add(expect *x, int id, lsn_t lsn) {
  if (x->n == x->cap) {
    x->cap = x->cap ? x->cap * 2 : 256;
    x->lsn = realloc(x->lsn, (size_t)x->cap * sizeof *x->lsn);
    x->id = realloc(x->id, (size_t)x->cap * sizeof *x->id);
    CHECK(x->lsn && x->id);
  }
  x->lsn[x->n] = lsn;
  x->id[x->n] = id;
  x->n++;
}

static uint8_t scratch[64 * 1024];

/* Appends record id (in two pieces for odd ids). */
static void append_id(eslog *lg, int id, expect *x) {
  size_t n = rec_len(id);
  CHECK(n <= sizeof scratch);
  rec_fill(id, scratch, n);
  lsn_t l;
  if (id % 2) OK(log_append2(lg, rec_type(id), scratch, n / 3, scratch + n / 3, n - n / 3, &l));
  else OK(log_append(lg, rec_type(id), scratch, n, &l));
  if (x) {
    if (x->n) CHECK(l > x->lsn[x->n - 1]);
    exp_add(x, id, l);
  }
}

static void check_rec(const log_record *rec, int id, lsn_t lsn) {
  size_t n = rec_len(id);
  CHECK(rec->lsn == lsn);
  CHECK(rec->type == rec_type(id));
  CHECK(rec->len == n);
  rec_fill(id, scratch, n);
  CHECK(memcmp(rec->payload, scratch, n) == 0);
}

/* Reads dir from `from` and checks the records against x[first..]; returns
 * how many were read; *end gets log_reader_end. */
static int read_check(esio *io, const char *dir, const log_sig *sig, lsn_t from, int flags, const expect *x,
                      int first, lsn_t *end) {
  log_reader *r;
  OK(log_reader_open(io, dir, "edb", PGSZ, sig, from, flags, &r));
  log_record rec;
  int i = first;
  JET_ERR e;
  while ((e = log_reader_next(r, &rec)) == 0) {
    CHECK(i < x->n);
    check_rec(&rec, x->id[i], x->lsn[i]);
    i++;
  }
  CHECK_ERR(e, 1);
  CHECK_ERR(log_reader_next(r, &rec), 1);
  if (end) *end = log_reader_end(r);
  log_reader_close(r);
  return i - first;
}

/* Opens a reader that should fail at open or while reading. */
static JET_ERR read_err(esio *io, const char *dir, const log_sig *sig, lsn_t from, int flags, int *nread) {
  log_reader *r;
  JET_ERR e = log_reader_open(io, dir, "edb", PGSZ, sig, from, flags, &r);
  if (nread) *nread = 0;
  if (e) return e;
  log_record rec;
  while ((e = log_reader_next(r, &rec)) == 0)
    if (nread) (*nread)++;
  log_reader_close(r);
  return e == 1 ? 0 : e;
}

static log_config mkcfg(esio *io, const char *dir, uint32_t fs) {
  log_config c = {.io = io, .dir = dir, .base = "edb", .file_size = fs, .page_size = PGSZ};
  return c;
}

/* ---- names ---------------------------------------------------------------- */
static void test_names(void) {
  uint32_t g = 0;
  CHECK(log_parse_name("edb.log", "edb", &g) == 2);
  CHECK(log_parse_name("EDB.log", "edb", &g) == 2);
  CHECK(log_parse_name("edb0000001A.log", "edb", &g) == 1 && g == 0x1A);
  CHECK(log_parse_name("EDB0000001a.log", "edb", &g) == 1 && g == 0x1A);
  CHECK(log_parse_name("edb0000001G.log", "edb", &g) == 0);
  CHECK(log_parse_name("edb000001A.log", "edb", &g) == 0);
  CHECK(log_parse_name("edb00000000.log", "edb", &g) == 0);
  CHECK(log_parse_name("edb.chk", "edb", &g) == 0);
  CHECK(log_parse_name("abc.log", "edb", &g) == 0);
  CHECK(log_parse_name("edb00000001.logx", "edb", &g) == 0);
  char *n = log_file_name("/x/y", "edb", 0x2B);
  CHECK(n && !strcmp(n, "/x/y/edb0000002B.log"));
  free(n);
  n = log_file_name("/x/y/", "res", 0);
  CHECK(n && !strcmp(n, "/x/y/res.log"));
  free(n);
}

/* ---- a long stream: rolls, reading back, reopen ---------------------------- */
static void test_stream(esio *io, const char *dir, expect *x, log_sig *sig_out) {
  log_config cfg = mkcfg(io, dir, FS);
  log_attach att[2] = {{1, "/data/one.edb", "../data/one.edb", {1, 2, 3}}, {7, "/data/seven.edb", NULL, {7}}};
  eslog *lg;
  OK(log_create(&cfg, NULL, 1, 0, att, 2, &lg));
  eslog *lg2 = NULL;
  CHECK_ERR(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg2), JET_errFileAlreadyExists);
  CHECK(lg2 == NULL);
  *sig_out = *log_signature(lg);
  CHECK(log_generation(lg) == 1);
  CHECK(log_end(lg) == LSN(1, LOG_DATA_START));
  CHECK(!log_take_rolled(lg));
  int rolls = 0;
  for (int i = 0; i < 1500; i++) {
    append_id(lg, i, x);
    rolls += log_take_rolled(lg);
    if (i % 50 == 0) OK(log_flush(lg, x->lsn[x->n - 1]));
    if (i % 50 == 0) CHECK(log_durable(lg) > x->lsn[x->n - 1]);
    if (i == 700) {
      log_attach a3 = {3, "/data/three.edb", "three.edb", {0}};
      OK(log_set_attachments(lg, &a3, 1));
    }
  }
  /* errors that change nothing */
  lsn_t dummy;
  CHECK_ERR(log_append(lg, 1, scratch, 0, &dummy), JET_errInvalidParameter);
  CHECK_ERR(log_append(lg, 1, scratch, FS - LOG_DATA_START - 11, &dummy), JET_errInvalidParameter);
  uint32_t gen = log_generation(lg);
  CHECK(gen > 20);
  CHECK(rolls == (int)gen - 1);
  lsn_t end = log_end(lg);
  OK(log_close(lg));
  printf("log_test: stream: %d records over %u generations\n", x->n, gen);

  uint32_t lo, hi;
  int cur;
  OK(log_scan_dir(dir, "edb", &lo, &hi, &cur));
  CHECK(lo == 1 && hi == gen - 1 && cur == 1);

  /* everything, from the start */
  lsn_t rend;
  CHECK(read_check(io, dir, sig_out, LSN(1, 0), LOG_READ_CURRENT, x, 0, &rend) == x->n);
  CHECK(rend == end);
  /* the header of the last file, its attachment table set at record 700 */
  log_reader *r;
  OK(log_reader_open(io, dir, "edb", PGSZ, NULL, LSN(1, 0), LOG_READ_CURRENT, &r));
  CHECK(log_reader_header(r)->gen == 1 && log_reader_header(r)->nattach == 2);
  CHECK(!strcmp(log_reader_header(r)->attach[1].path, "/data/seven.edb") && log_reader_header(r)->attach[1].dbid == 7);
  /* the signature and the relative path (none: empty) come back */
  CHECK(!strcmp(log_reader_header(r)->attach[0].rel, "../data/one.edb") && log_reader_header(r)->attach[0].sig[2] == 3);
  CHECK(!strcmp(log_reader_header(r)->attach[1].rel, "") && log_reader_header(r)->attach[1].sig[0] == 7);
  log_record rec;
  while (log_reader_next(r, &rec) == 0) {}
  CHECK(log_reader_header(r)->gen == gen && log_reader_header(r)->nattach == 1);
  CHECK(log_reader_header(r)->attach[0].dbid == 3 && !strcmp(log_reader_header(r)->attach[0].path, "/data/three.edb"));
  CHECK(!strcmp(log_reader_header(r)->attach[0].rel, "three.edb"));
  CHECK(log_reader_header(r)->tm_prev_gen != 0);
  log_reader_close(r);
  /* from a record in the middle (and from gen 0 = the lowest present) */
  int k = x->n / 2;
  CHECK(read_check(io, dir, NULL, x->lsn[k], LOG_READ_CURRENT, x, k, NULL) == x->n - k);
  CHECK(read_check(io, dir, NULL, 0, LOG_READ_CURRENT, x, 0, NULL) == x->n);
  /* archived only: the end is the start of the next generation */
  int narch = 0;
  while (narch < x->n && LSN_GEN(x->lsn[narch]) < gen) narch++;
  CHECK(read_check(io, dir, sig_out, LSN(1, 0), 0, x, 0, &rend) == narch);
  CHECK(rend == LSN(gen, 0));
  /* every file verifies, and what a backup streams of it is the file */
  for (uint32_t g = 0; g < gen; g++) {
    char *p = path_of(dir, g);
    OK(log_verify_file(io, p, PGSZ));
    uint8_t *img, *raw = malloc(FS);
    uint32_t n;
    CHECK(raw);
    OK(log_load_verified(io, p, PGSZ, &img, &n, NULL));
    raw_read(p, 0, raw, FS);
    CHECK(n == FS && !memcmp(img, raw, FS));
    free(img);
    free(raw);
    free(p);
  }
  /* an archived file under another generation's name */
  {
    char *a1 = path_of(dir, 1), *wrong = path_of(dir, 0x77);
    copy_file(a1, wrong);
    CHECK_ERR(log_verify_file(io, wrong, PGSZ), JET_errLogFileCorrupt);
    CHECK(unlink(wrong) == 0);
    CHECK_ERR(log_verify_file(io, wrong, PGSZ), JET_errFileNotFound);
    free(a1);
    free(wrong);
  }

  /* reopen at the end (with torn bytes past it) and append more */
  char *cur_path = path_of(dir, 0);
  uint8_t junk[100];
  memset(junk, 0xA5, sizeof junk);
  raw_write(cur_path, LSN_OFF(end) + 64, junk, sizeof junk);
  CHECK(read_check(io, dir, sig_out, LSN(1, 0), LOG_READ_CURRENT, x, 0, &rend) == x->n && rend == end);
  OK(log_reopen(&cfg, end, &lg));
  uint8_t back[100];
  raw_read(cur_path, LSN_OFF(end) + 64, back, sizeof back);
  memset(junk, 0, sizeof junk);
  CHECK(!memcmp(back, junk, sizeof back));
  CHECK(log_end(lg) == end && log_generation(lg) == gen);
  CHECK(!memcmp(log_signature(lg)->b, sig_out->b, 16));
  for (int i = 1500; i < 1800; i++) append_id(lg, i, x);
  end = log_end(lg);
  OK(log_close(lg));
  CHECK(read_check(io, dir, sig_out, LSN(1, 0), LOG_READ_CURRENT, x, 0, &rend) == x->n && rend == end);
  /* a roll after the reopen starts with an empty attachment table: a
   * reopened stream is a new run, with nothing attached yet (the header's
   * table was the past run's) */
  OK(log_scan_dir(dir, "edb", &lo, &hi, &cur));
  CHECK(hi >= gen);
  OK(log_reader_open(io, dir, "edb", PGSZ, sig_out, LSN(hi, 0), LOG_READ_CURRENT, &r));
  while (log_reader_next(r, &rec) == 0) {}
  CHECK(log_reader_header(r)->gen == hi + 1 && log_reader_header(r)->nattach == 0);
  log_reader_close(r);
  free(cur_path);
}

/* ---- contiguity and signatures --------------------------------------------- */
static void make_stream(esio *io, const char *dir, const log_sig *sig, int nrec, expect *x) {
  log_config cfg = mkcfg(io, dir, FS);
  eslog *lg;
  OK(log_create(&cfg, sig, 1, 0, NULL, 0, &lg));
  for (int i = 0; i < nrec; i++) append_id(lg, i, x);
  OK(log_close(lg));
}

/* Generation 2 of a new stream in subdir name (signature sig, or a new
 * one when NULL) copied over to. */
static void foreign_gen2(esio *io, const char *name, const log_sig *sig, const char *to) {
  char *dir = subdir(name);
  expect x = {0};
  make_stream(io, dir, sig, 200, &x);
  char *g2 = path_of(dir, 2);
  copy_file(g2, to);
  free(g2);
  free(dir);
  free(x.lsn);
  free(x.id);
}

static void test_contiguity(esio *io, const char *dir, const log_sig *sig, const expect *x) {
  char *a2 = path_of(dir, 2), *hold = os_join(dir, "hold.tmp");
  CHECK(hold);
  /* a missing middle file */
  CHECK(rename(a2, hold) == 0);
  CHECK_ERR(read_err(io, dir, sig, LSN(1, 0), LOG_READ_CURRENT, NULL), JET_errMissingPreviousLogFile);
  CHECK_ERR(read_err(io, dir, sig, LSN(1, 0), LOG_READ_CURRENT | LOG_READ_RESTORE, NULL),
            JET_errGivenLogFileIsNotContiguous);
  CHECK_ERR(read_err(io, dir, sig, LSN(1, 0), 0, NULL), JET_errMissingPreviousLogFile);
  CHECK_ERR(read_err(io, dir, sig, LSN(2, 0), LOG_READ_CURRENT, NULL), JET_errMissingPreviousLogFile);
  CHECK(rename(hold, a2) == 0);
  /* a missing B.log, and generations past the end */
  char *cur = path_of(dir, 0), *hold_cur = os_join(dir, "hold2.tmp");
  CHECK(hold_cur);
  CHECK(rename(cur, hold_cur) == 0);
  CHECK_ERR(read_err(io, dir, sig, LSN(1, 0), LOG_READ_CURRENT, NULL), JET_errMissingLogFile);
  CHECK(rename(hold_cur, cur) == 0);
  CHECK_ERR(read_err(io, dir, sig, LSN(0x999, 0), LOG_READ_CURRENT, NULL), JET_errMissingLogFile);
  CHECK_ERR(read_err(io, dir, sig, LSN(0x999, 0), 0, NULL), JET_errMissingPreviousLogFile);
  free(cur);
  free(hold_cur);
  /* a wrong page size */
  {
    log_reader *r;
    CHECK_ERR(log_reader_open(io, dir, "edb", 4096, sig, LSN(1, 0), LOG_READ_CURRENT, &r), JET_errPageSizeMismatch);
    CHECK_ERR(log_verify_file(io, a2, 4096), JET_errPageSizeMismatch);
  }

  CHECK(rename(a2, hold) == 0);
  /* gen 2 of another stream: bad signature (given or taken from gen 1) */
  foreign_gen2(io, "other", NULL, a2);
  CHECK_ERR(read_err(io, dir, sig, LSN(1, 0), LOG_READ_CURRENT, NULL), JET_errBadLogSignature);
  CHECK_ERR(read_err(io, dir, NULL, LSN(1, 0), LOG_READ_CURRENT, NULL), JET_errBadLogSignature);
  /* gen 2 of a stream with the same signature but another history */
  foreign_gen2(io, "twin", sig, a2);
  CHECK_ERR(read_err(io, dir, sig, LSN(1, 0), LOG_READ_CURRENT, NULL), JET_errMissingPreviousLogFile);
  CHECK_ERR(read_err(io, dir, sig, LSN(1, 0), LOG_READ_RESTORE, NULL), JET_errGivenLogFileIsNotContiguous);
  /* ... which is fine when reading starts there */
  CHECK_ERR(read_err(io, dir, sig, LSN(2, 0), 0, NULL), JET_errMissingPreviousLogFile);
  CHECK(rename(hold, a2) == 0);
  CHECK(read_check(io, dir, sig, LSN(1, 0), LOG_READ_CURRENT, x, 0, NULL) == x->n);
  free(a2);
  free(hold);
}

/* ---- torn tails and corruption ---------------------------------------------- */
static void test_torn(esio *io) {
  char *dir = subdir("torn");
  expect x = {0};
  make_stream(io, dir, NULL, 80, &x);   /* two or three generations */
  char *cur = path_of(dir, 0);
  /* both shadow slots damaged: a bad record is a torn tail when nothing
   * valid follows it, else corruption (the slots: test_slots) */
  uint8_t noslots[2 * LOG_BLOCK];
  memset(noslots, 0xC3, sizeof noslots);
  raw_write(cur, LOG_SLOT_A, noslots, sizeof noslots);
  int last = x.n - 1;
  lsn_t l_last = x.lsn[last];
  uint32_t cur_gen = LSN_GEN(l_last);
  CHECK(cur_gen >= 2 && LSN_GEN(x.lsn[last - 10]) == cur_gen);
  /* the crc and tail of the last record zeroed: a torn tail */
  size_t n = rec_len(x.id[last]);
  uint8_t save[64 * 1024];
  size_t framed = (12 + n + 7) & ~(size_t)7;
  raw_read(cur, LSN_OFF(l_last), save, framed);
  uint8_t z[64] = {0};
  raw_write(cur, LSN_OFF(l_last) + framed - 8, z, 8);
  lsn_t end;
  CHECK(read_check(io, dir, NULL, LSN(1, 0), LOG_READ_CURRENT, &x, 0, &end) == last);
  CHECK(end == l_last);
  CHECK_ERR(log_verify_file(io, cur, PGSZ), JET_errSuccess);  /* a current log may end torn */
  /* an impossible length is a torn tail as well */
  raw_write(cur, LSN_OFF(l_last), save, framed);
  uint8_t big[4] = {0xFF, 0xFF, 0xFF, 0x7F};
  raw_write(cur, LSN_OFF(l_last), big, 4);
  CHECK(read_check(io, dir, NULL, LSN(1, 0), LOG_READ_CURRENT, &x, 0, &end) == last && end == l_last);
  /* garbage in the middle of the last record */
  raw_write(cur, LSN_OFF(l_last), save, framed);
  uint8_t g[16];
  memset(g, 0x5A, sizeof g);
  raw_write(cur, LSN_OFF(l_last) + 8 + n / 2, g, n / 2 < 16 ? 1 : 16);
  CHECK(read_check(io, dir, NULL, LSN(1, 0), LOG_READ_CURRENT, &x, 0, &end) == last && end == l_last);

  /* a bad record with valid ones after it: corruption */
  int mid = last - 5;
  uint8_t b;
  raw_read(cur, LSN_OFF(x.lsn[mid]) + 9, &b, 1);
  b ^= 0x40;
  raw_write(cur, LSN_OFF(x.lsn[mid]) + 9, &b, 1);
  int nread;
  CHECK_ERR(read_err(io, dir, NULL, LSN(1, 0), LOG_READ_CURRENT, &nread), JET_errLogFileCorrupt);
  CHECK(nread == mid);
  CHECK_ERR(read_err(io, dir, NULL, LSN(1, 0), LOG_READ_CURRENT | LOG_READ_RESTORE, NULL),
            JET_errLogCorruptDuringHardRestore);
  CHECK_ERR(log_verify_file(io, cur, PGSZ), JET_errLogReadVerifyFailure);
  b ^= 0x40;
  raw_write(cur, LSN_OFF(x.lsn[mid]) + 9, &b, 1);

  /* the cut torn tail: reopen there, append, read all */
  log_config cfg = mkcfg(io, dir, FS);
  eslog *lg;
  x.n = last;  /* the torn record is gone */
  OK(log_reopen(&cfg, l_last, &lg));
  uint8_t back[64];
  raw_read(cur, LSN_OFF(l_last), back, sizeof back);
  CHECK(!memcmp(back, z, sizeof back));
  for (int i = 1000; i < 1100; i++) append_id(lg, i, &x);
  CHECK(x.lsn[last] == l_last);
  lsn_t wend = log_end(lg);
  OK(log_close(lg));
  CHECK(read_check(io, dir, NULL, LSN(1, 0), LOG_READ_CURRENT, &x, 0, &end) == x.n && end == wend);

  /* corruption in an archived file: never a torn tail */
  char *a1 = path_of(dir, 1);
  int l1 = 0;
  while (LSN_GEN(x.lsn[l1 + 1]) == 1) l1++;   /* the last record of gen 1 */
  uint8_t c4[4];
  raw_read(a1, LSN_OFF(x.lsn[l1]) + 4, c4, 1);
  c4[0] ^= 1;   /* its type byte */
  raw_write(a1, LSN_OFF(x.lsn[l1]) + 4, c4, 1);
  CHECK_ERR(read_err(io, dir, NULL, LSN(1, 0), LOG_READ_CURRENT, &nread), JET_errLogFileCorrupt);
  CHECK(nread == l1);
  /* its end record (LR_END, a valid record after it) makes it damage, not a torn write */
  CHECK_ERR(read_err(io, dir, NULL, LSN(1, 0), LOG_READ_RESTORE, NULL), JET_errLogCorruptDuringHardRestore);
  CHECK_ERR(log_verify_file(io, a1, PGSZ), JET_errLogReadVerifyFailure);
  c4[0] ^= 1;
  raw_write(a1, LSN_OFF(x.lsn[l1]) + 4, c4, 1);
  OK(log_verify_file(io, a1, PGSZ));

  /* corrupted headers */
  raw_read(a1, 30, &b, 1);
  b ^= 0x80;
  raw_write(a1, 30, &b, 1);
  log_header h;
  CHECK_ERR(log_read_header(io, a1, &h), JET_errLogFileCorrupt);
  CHECK_ERR(read_err(io, dir, NULL, LSN(1, 0), LOG_READ_CURRENT, NULL), JET_errLogFileCorrupt);
  CHECK_ERR(read_err(io, dir, NULL, LSN(1, 0), LOG_READ_RESTORE, NULL), JET_errLogCorruptDuringHardRestore);
  CHECK_ERR(log_verify_file(io, a1, PGSZ), JET_errLogFileCorrupt);
  b ^= 0x80;
  raw_write(a1, 30, &b, 1);
  OK(log_read_header(io, a1, &h));
  CHECK(h.gen == 1 && h.file_size == FS && h.page_size == PGSZ && h.tm_prev_gen == 0);
  log_header_clear(&h);
  raw_read(cur, 5, &b, 1);   /* the magic of B.log */
  b ^= 0x01;
  raw_write(cur, 5, &b, 1);
  CHECK_ERR(read_err(io, dir, NULL, LSN(1, 0), LOG_READ_CURRENT, NULL), JET_errLogFileCorrupt);
  b ^= 0x01;
  raw_write(cur, 5, &b, 1);
  /* a file of the wrong size */
  CHECK(truncate(a1, FS - 4096) == 0);
  CHECK_ERR(log_read_header(io, a1, &h), JET_errLogFileSizeMismatch);
  CHECK_ERR(read_err(io, dir, NULL, LSN(1, 0), LOG_READ_CURRENT, NULL), JET_errLogFileSizeMismatch);
  CHECK_ERR(log_verify_file(io, a1, PGSZ), JET_errLogFileCorrupt);
  /* ... shorter than a header */
  CHECK(truncate(a1, 100) == 0);
  CHECK_ERR(log_read_header(io, a1, &h), JET_errLogFileCorrupt);
  CHECK_ERR(log_verify_file(io, a1, PGSZ), JET_errLogFileCorrupt);

  free(a1);
  free(cur);
  free(x.lsn);
  free(x.id);
  free(dir);
}

/* ---- odd sizes: a record filling a whole file, the last generation ---------- */
static void test_limits(esio *io) {
  char *dir = subdir("limits");
  log_config cfg = mkcfg(io, dir, FS);
  eslog *lg;
  expect x = {0};
  OK(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg));
  static uint8_t whole[FS];
  /* the largest record leaves room for the roll's end record (LR_END) and
   * the padding before it: LR_END_FRAMED + LOG_SLOT_HEAD bytes */
  size_t maxlen = FS - LOG_DATA_START - 12 - LR_END_FRAMED - LOG_SLOT_HEAD;
  for (size_t j = 0; j < maxlen; j++) whole[j] = (uint8_t)(j * 13);
  lsn_t l1, l2, l3;
  OK(log_append(lg, 9, "x", 1, &l1));
  CHECK_ERR(log_append(lg, 9, whole, maxlen + 8, &l2), JET_errInvalidParameter);   /* one word more */
  OK(log_append(lg, 9, whole, maxlen, &l2));     /* rolls, then fills gen 2 up to the end record's room */
  CHECK(LSN_GEN(l2) == 2 && LSN_OFF(l2) == LOG_DATA_START);
  CHECK(log_end(lg) == LSN(2, FS - LR_END_FRAMED - LOG_SLOT_HEAD));
  OK(log_append(lg, 9, "y", 1, &l3));            /* rolls again */
  CHECK(l3 == LSN(3, LOG_DATA_START));
  OK(log_close(lg));
  log_reader *r;
  log_record rec;
  OK(log_reader_open(io, dir, "edb", PGSZ, NULL, LSN(1, 0), LOG_READ_CURRENT, &r));
  OK(log_reader_next(r, &rec));
  CHECK(rec.lsn == l1 && rec.len == 1 && rec.payload[0] == 'x' && rec.type == 9);
  OK(log_reader_next(r, &rec));
  CHECK(rec.lsn == l2 && rec.len == maxlen && !memcmp(rec.payload, whole, maxlen));
  OK(log_reader_next(r, &rec));
  CHECK(rec.lsn == l3 && rec.len == 1 && rec.payload[0] == 'y');
  CHECK_ERR(log_reader_next(r, &rec), 1);
  CHECK(log_reader_end(r) == LSN(3, LOG_DATA_START + 16));
  log_reader_close(r);
  free(x.lsn);
  free(x.id);

  /* generations run out */
  char *d2 = subdir("maxgen");
  cfg = mkcfg(io, d2, FS);
  OK(log_create(&cfg, NULL, LOG_MAX_GEN - 1, 12345, NULL, 0, &lg));
  OK(log_roll(lg));
  CHECK(log_generation(lg) == LOG_MAX_GEN && log_take_rolled(lg) && !log_take_rolled(lg));
  CHECK_ERR(log_roll(lg), JET_errLogSequenceEnd);
  OK(log_append(lg, 1, "z", 1, &l1));
  OK(log_flush(lg, l1));
  OK(log_close(lg));
  OK(log_reader_open(io, d2, "edb", PGSZ, NULL, LSN(LOG_MAX_GEN - 1, 0), LOG_READ_CURRENT, &r));
  CHECK(log_reader_header(r)->tm_prev_gen == 12345);
  OK(log_reader_next(r, &rec));
  CHECK(rec.lsn == l1);
  CHECK_ERR(log_reader_next(r, &rec), 1);
  log_reader_close(r);
  free(d2);
  free(dir);
}

/* B.log at path as a roll leaves it before its renames: its end record
 * (LR_END: its offset, the records before it) after its last record. */
static void close_like_roll(esio *io, const char *path) {
  log_header h;
  OK(log_read_header(io, path, &h));
  static uint8_t img[FS];
  CHECK(h.file_size == FS);
  raw_read(path, 0, img, FS);
  uint32_t seed = log_hdr_seed(&h), n, pos = log_data_end(img, FS, seed, &n, NULL);
  uint8_t rec[LR_END_FRAMED];
  log_end_encode(rec, seed, pos, n);
  raw_write(path, pos, rec, sizeof rec);
  log_header_clear(&h);
}

/* ---- the end record's checks: an LR_END the writer never writes ------- */
/* Reads dir from generation 1; the reader's error and its problem text. */
static JET_ERR end_problem(esio *io, const char *dir, const char **why) {
  log_reader *r;
  OK(log_reader_open(io, dir, "edb", PGSZ, NULL, LSN(1, 0), 0, &r));
  log_record rec;
  JET_ERR e;
  while ((e = log_reader_next(r, &rec)) == 0) {}
  static char text[160];
  snprintf(text, sizeof text, "%s", log_reader_problem(r) ? log_reader_problem(r) : "");
  *why = text;
  log_reader_close(r);
  return e;
}

static void test_end_record_checks(esio *io) {
  char *dir = subdir("endchecks");
  expect x = {0};
  make_stream(io, dir, NULL, 300, &x);   /* generations 1 .. n, each closed by its roll's LR_END */
  char *g1 = path_of(dir, 1);
  log_header h;
  OK(log_read_header(io, g1, &h));
  uint32_t seed = log_hdr_seed(&h), n, last, end;
  static uint8_t img[FS], keep[FS];
  raw_read(g1, 0, img, FS);
  memcpy(keep, img, FS);
  end = log_data_end(img, FS, seed, &n, &last);
  CHECK(n >= 2 && img[last + 4] == LR_END && end == last + LR_END_FRAMED);
  const char *why;
  /* a count that does not match the records before it */
  uint8_t rec[LR_END_FRAMED];
  log_end_encode(rec, seed, last, n);   /* n: one more than the n - 1 records before it */
  raw_write(g1, last, rec, sizeof rec);
  CHECK_ERR(end_problem(io, dir, &why), JET_errLogFileCorrupt);
  CHECK(strstr(why, "edb00000001.log") && strstr(why, "does not match its records"));
  CHECK_ERR(log_verify_file(io, g1, PGSZ), JET_errLogReadVerifyFailure);
  /* an offset that is not its own */
  log_end_encode(rec, seed, last + 8, n - 1);
  raw_write(g1, last, rec, sizeof rec);
  CHECK_ERR(end_problem(io, dir, &why), JET_errLogFileCorrupt);
  CHECK(strstr(why, "does not match its records"));
  /* a record after it (a copy of the first: a record's CRC holds no offset) */
  raw_write(g1, 0, keep, FS);
  uint32_t fr = log_rec_check(keep, FS, LOG_DATA_START, seed);
  CHECK(fr && end + fr <= FS);
  raw_write(g1, end, keep + LOG_DATA_START, fr);
  CHECK_ERR(end_problem(io, dir, &why), JET_errLogFileCorrupt);
  CHECK(strstr(why, "has records after its end record"));
  CHECK_ERR(log_verify_file(io, g1, PGSZ), JET_errLogReadVerifyFailure);
  /* its end record gone: a closed generation without it */
  raw_write(g1, 0, keep, FS);
  memset(rec, 0, sizeof rec);
  raw_write(g1, last, rec, sizeof rec);
  CHECK_ERR(end_problem(io, dir, &why), JET_errLogFileCorrupt);
  CHECK(strstr(why, "lacks its end record"));
  CHECK_ERR(log_verify_file(io, g1, PGSZ), JET_errLogFileCorrupt);
  raw_write(g1, 0, keep, FS);
  OK(log_verify_file(io, g1, PGSZ));
  /* LR_END is the roll's own: an append of one is refused */
  log_config cfg = mkcfg(io, dir, FS);
  eslog *lg;
  char *d2 = subdir("endchecks2");
  cfg.dir = d2;
  OK(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg));
  lsn_t l;
  CHECK_ERR(log_append(lg, LR_END, "12345678", 8, &l), JET_errInvalidParameter);
  OK(log_close(lg));
  log_header_clear(&h);
  printf("log_test: end records: a wrong count, a wrong offset, a record after it, none: refused, named\n");
  free(d2);
  free(g1);
  free(x.lsn);
  free(x.id);
  free(dir);
}

/* ---- the one crash window of a roll: B.log renamed, the next not yet in place */
static void test_roll_window(esio *io) {
  char *dir = subdir("window");
  expect x = {0};
  make_stream(io, dir, NULL, 60, &x);
  uint32_t g = LSN_GEN(x.lsn[x.n - 1]);
  char *cur = path_of(dir, 0), *arch = path_of(dir, g), *tmp = os_join(dir, "edbtmp.log");
  CHECK(tmp);
  close_like_roll(io, cur);   /* the roll's last write, then the crash after its first rename */
  CHECK(rename(cur, arch) == 0);
  int fd = open(tmp, O_WRONLY | O_CREAT, 0600);   /* a stale half-made next file */
  CHECK(fd >= 0 && write(fd, "junk", 4) == 4);
  close(fd);
  CHECK_ERR(read_err(io, dir, NULL, LSN(1, 0), LOG_READ_CURRENT, NULL), JET_errMissingLogFile);
  /* the way out: read the archived files, start the next generation */
  uint32_t lo, hi;
  int has_cur;
  OK(log_scan_dir(dir, "edb", &lo, &hi, &has_cur));
  CHECK(lo == 1 && hi == g && !has_cur);
  log_reader *r;
  OK(log_reader_open(io, dir, "edb", PGSZ, NULL, LSN(1, 0), 0, &r));
  log_record rec;
  int n = 0;
  while (log_reader_next(r, &rec) == 0) n++;
  CHECK(n == x.n && log_reader_end(r) == LSN(g + 1, 0));
  log_sig sig = log_reader_header(r)->sig;
  uint64_t tm = log_reader_header(r)->tm_create;
  log_reader_close(r);
  log_config cfg = mkcfg(io, dir, FS);
  eslog *lg;
  OK(log_create(&cfg, &sig, g + 1, tm, NULL, 0, &lg));
  append_id(lg, 5000, &x);
  OK(log_close(lg));
  CHECK(!os_exists(tmp));
  CHECK(read_check(io, dir, &sig, LSN(1, 0), LOG_READ_CURRENT, &x, 0, NULL) == x.n);
  free(cur);
  free(arch);
  free(tmp);
  free(x.lsn);
  free(x.id);
  free(dir);
}

/* A log of generation 1 with spares spare names (log_retire), rolled
 * rolls times. */
static eslog *recycling_log(esio *io, const char *dir, int rolls, uint32_t spares, log_config *cfg) {
  *cfg = mkcfg(io, dir, FS);
  cfg->spares = spares;
  eslog *lg;
  OK(log_create(cfg, NULL, 1, 0, NULL, 0, &lg));
  for (int i = 0; i < rolls; i++) OK(log_roll(lg));
  return lg;
}

/* ---- log_retire with something else at the spare's name ------------------
 * A folder made at the spare name while the log is open (none was there at
 * open): the retire leaves it alone, deletes the generation instead and
 * never uses the name again.  Before, the rename over it failed (EISDIR):
 * the retire returned the error, and so did every later one (with circular
 * logging, every checkpoint: the instance became unavailable). */
static void test_retire_foreign(esio *io) {
  char *dir = subdir("retire_foreign");
  log_config cfg;
  eslog *lg = recycling_log(io, dir, 3, 1, &cfg);
  char *spare = os_join(dir, "edbspare1.log"), *inside = os_join(dir, "edbspare1.log/inside");
  CHECK(spare && inside);
  OK(os_mkdir_p(inside, 0700));
  for (uint32_t g = 1; g <= 3; g++) {
    char *p = path_of(dir, g);
    OK(log_retire(lg, p));   /* deleted, the folder left alone */
    CHECK(!os_exists(p));
    free(p);
  }
  CHECK(os_kind(inside) == OS_DIR);
  OK(log_roll(lg));   /* a new file: no spare taken */
  OK(log_close(lg));
  CHECK(os_kind(spare) == OS_DIR && os_kind(inside) == OS_DIR);
  free(spare);
  free(inside);
  free(dir);
}

/* ---- log_retire of a generation already gone ---------------------------------
 * A backup's truncation deletes its logs on its worker, without the
 * instance lock, while a commit's checkpoint with circular logging deletes
 * below its pins under the lock; each looks whether a generation is there
 * (os_exists) and then retires it, so the two may retire the same one:
 * the second finds it gone.  That is no error (the file is gone, as
 * wanted): before, it returned JET_errFileNotFound, which failed the
 * checkpoint (the instance then unavailable) or the truncation. */
static void test_retire_gone(esio *io) {
  char *dir = subdir("retire");
  log_config cfg;
  eslog *lg = recycling_log(io, dir, 2, 1, &cfg);
  char *g1 = path_of(dir, 1), *g2 = path_of(dir, 2), *spare = os_join(dir, "edbspare1.log");
  CHECK(spare);
  OK(log_retire(lg, g1));   /* kept as the spare */
  CHECK(!os_exists(g1) && os_exists(spare));
  OK(log_retire(lg, g1));   /* gone (the spare name is taken: a deletion) */
  OK(log_retire(lg, g2));   /* deleted */
  CHECK(!os_exists(g2));
  OK(log_retire(lg, g2));   /* gone */
  OK(log_close(lg));
  OK(log_reopen(&cfg, LSN(3, LOG_DATA_START), &lg));   /* the spare is free again at open */
  CHECK(os_exists(spare));
  CHECK(os_unlink(io, spare) == JET_errSuccess);
  OK(log_retire(lg, g1));   /* gone, a spare name free */
  CHECK(!os_exists(spare));
  OK(log_close(lg));
  free(g1);
  free(g2);
  free(spare);
  free(dir);
}

/* ---- log_retire of a generation with another name -------------------------
 * A closed generation an archive_command hard-linked into its archive ("ln
 * %p ...") has two names: kept as a spare, it could never be taken (the
 * log leaves a file with another name alone: writing it would change the
 * archived copy) and would hold the spare's name for good.  It is deleted
 * instead (the other name keeps its bytes) and the spare name stays free.
 * Before, it was renamed to the spare name. */
static void test_retire_linked(esio *io) {
  char *dir = subdir("retire_linked");
  log_config cfg;
  eslog *lg = recycling_log(io, dir, 2, 1, &cfg);
  char *g1 = path_of(dir, 1), *g2 = path_of(dir, 2), *spare = os_join(dir, "edbspare1.log");
  char *other = os_join(root, "retire_linked.arch");
  CHECK(spare && other);
  CHECK(link(g1, other) == 0);
  static uint8_t was[FS], now[FS];
  raw_read(g1, 0, was, sizeof was);
  OK(log_retire(lg, g1));
  CHECK(!os_exists(g1) && !os_exists(spare));
  raw_read(other, 0, now, sizeof now);
  CHECK(memcmp(was, now, sizeof was) == 0);
  OK(log_retire(lg, g2));   /* the spare name is free: kept there */
  CHECK(!os_exists(g2) && os_exists(spare));
  OK(log_close(lg));
  free(g1);
  free(g2);
  free(spare);
  free(other);
  free(dir);
}

/* ---- log_retire with a file planted at the spare's name as it renames -----
 * Another process of the user makes a file at the spare name between
 * log_retire's look (nothing there) and its rename (held there at the
 * "log-retire" hold point, ESE_FAULT=holdsync:log-retire:GATE): the file
 * stays, the generation is deleted instead and the name is never used
 * again.  Before, the rename replaced the planted file (its bytes lost). */
static eslog *planted_lg;
static char *planted_g1;
static void *planted_retire(void *arg) {
  (void)arg;
  OK(log_retire(planted_lg, planted_g1));
  return NULL;
}
static void test_retire_planted(void) {
  char *dir = subdir("retire_planted"), *gate = os_join(root, "retire_planted.gate");
  char *spare = os_join(dir, "edbspare1.log");
  CHECK(gate && spare);
  char held[600], fault[700];
  snprintf(held, sizeof held, "%s.held", gate);
  snprintf(fault, sizeof fault, "holdsync:log-retire:%s", gate);
  setenv("ESE_FAULT", fault, 1);
  esio *io;
  OK(esio_new(&io));
  unsetenv("ESE_FAULT");
  log_config cfg;
  planted_lg = recycling_log(io, dir, 2, 1, &cfg);
  planted_g1 = path_of(dir, 1);
  int fd = open(gate, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);   /* the gate: the retire held */
  CHECK(fd >= 0);
  close(fd);
  pthread_t th;
  CHECK(pthread_create(&th, NULL, planted_retire, NULL) == 0);
  while (access(held, F_OK) != 0) usleep(1000);
  fd = open(spare, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);   /* another program's file */
  CHECK(fd >= 0);
  CHECK(write(fd, "planted", 7) == 7);
  close(fd);
  CHECK(unlink(gate) == 0);
  CHECK(pthread_join(th, NULL) == 0);
  char got[16] = "";
  fd = open(spare, O_RDONLY | O_CLOEXEC);
  CHECK(fd >= 0);
  ssize_t n = read(fd, got, sizeof got - 1);
  close(fd);
  CHECK(n == 7 && memcmp(got, "planted", 7) == 0);   /* before: generation 1's header */
  CHECK(!os_exists(planted_g1));                     /* deleted instead */
  char *g2 = path_of(dir, 2);
  OK(log_retire(planted_lg, g2));                    /* the name is not used again */
  CHECK(!os_exists(g2));
  OK(log_close(planted_lg));
  fd = open(spare, O_RDONLY | O_CLOEXEC);
  CHECK(fd >= 0 && read(fd, got, sizeof got - 1) == 7 && memcmp(got, "planted", 7) == 0);
  close(fd);
  esio_free(io);
  printf("log_test: a file planted at the spare name while a retire renames stays; the generation is deleted\n");
  free(g2);
  free(planted_g1);
  free(spare);
  free(gate);
  free(dir);
}

/* ---- log_release_spares with another file swapped in at a spare's name -----
 * A full disk deletes the spares the log holds (log_release_spares).
 * Another process may have put its own file at a spare's name since the
 * log put a retired generation there (a rename by name over it, a
 * symbolic link): only this stream's retired generations, still at the
 * name when checked, are deleted; the others stay and their names are
 * never used by this log.  Before, each held name was unlinked unread:
 * the user's file and the link were gone, and the count said 3. */
static void test_release_foreign(esio *io) {
  char *dir = subdir("release_foreign");
  log_config cfg;
  eslog *lg = recycling_log(io, dir, 4, 3, &cfg);
  char *sp[3], *g[4], *user = os_join(root, "release_user"), *link_to = os_join(root, "release_target");
  CHECK(user && link_to);
  for (uint32_t k = 0; k < 3; k++) {
    char name[32];
    snprintf(name, sizeof name, "edbspare%u.log", k + 1);
    CHECK((sp[k] = os_join(dir, name)));
  }
  for (uint32_t k = 0; k < 4; k++) g[k] = path_of(dir, k + 1);
  for (uint32_t k = 0; k < 3; k++) {
    OK(log_retire(lg, g[k]));   /* kept as spare k + 1 */
    CHECK(os_exists(sp[k]) && !os_exists(g[k]));
  }
  static uint8_t bytes[FS], back[FS];
  for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = (uint8_t)(i * 7 + 1);
  int fd = open(user, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  CHECK(fd >= 0 && write(fd, bytes, sizeof bytes) == (ssize_t)sizeof bytes);
  close(fd);
  CHECK(rename(user, sp[0]) == 0);             /* another process's file over spare 1 */
  CHECK((fd = open(link_to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0);
  close(fd);
  CHECK(unlink(sp[2]) == 0 && symlink(link_to, sp[2]) == 0);   /* a link at spare 3 */
  CHECK(log_release_spares(lg) == 1);          /* spare 2 only */
  CHECK(!os_exists(sp[1]));
  raw_read(sp[0], 0, back, sizeof back);
  CHECK(memcmp(back, bytes, sizeof bytes) == 0);
  CHECK(os_kind(sp[2]) == OS_LINK && os_kind(link_to) == OS_FILE);
  OK(log_retire(lg, g[3]));                    /* into spare 2, the one name free */
  CHECK(os_exists(sp[1]) && !os_exists(g[3]));
  CHECK(log_release_spares(lg) == 1);
  CHECK(!os_exists(sp[1]) && os_exists(sp[0]) && os_kind(sp[2]) == OS_LINK);
  OK(log_close(lg));
  for (uint32_t k = 0; k < 3; k++) free(sp[k]);
  for (uint32_t k = 0; k < 4; k++) free(g[k]);
  free(user);
  free(link_to);
  free(dir);
}

/* Waits (at most 10 s) until the file tmp (edbtmp.log, made by the log's
 * preparer thread) holds generation gen's header. */
static void wait_tmp_header(const char *tmp, uint32_t gen) {
  for (int i = 0; i < 20000; i++) {
    uint8_t h[16] = { 0 };
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    uint32_t g = 0;
    if (fd >= 0 && pread(fd, h, sizeof h, 0) == (ssize_t)sizeof h) memcpy(&g, h + 12, 4);
    if (fd >= 0) close(fd);
    if (g == gen) return;
    usleep(500);
  }
}

/* ---- the header written ahead and a wall clock stepped back -----------------
 * The preparer writes the next generation's header ahead (tm_create T1);
 * a roll takes it when no commit came into the closing generation since.
 * A commit at R1 > T1, then the clock stepped back an hour
 * (ESE_FAULT=clockback) and a commit at R2 < T1: the last commit's time
 * alone said "none since T1", and the roll took the header, a generation
 * created before a commit of the one it follows (a restore to a point in
 * time bounds the closing generations' commits by tm_create: restore.c
 * copy_end_time).  Now it counts the commits since the header (and keeps
 * the latest commit time seen): generation 2's tm_create > R1.  Before the
 * fix: tm_create == T1 < R1. */
static void commit_at(eslog *lg, uint64_t *t) {
  uint8_t rec[32] = { 0 };
  *t = os_now_us();   /* as database.c stamps a commit, before the append */
  memcpy(rec + 24, t, 8);
  lsn_t l;
  OK(log_append(lg, LR_COMMIT, rec, sizeof rec, &l));
  OK(log_flush(lg, l));
}

static void test_hdr_ahead_clock(void) {
  char *dir = subdir("hdr_clock"), *back = os_join(root, "hdr_clock.back"), *tmp = os_join(dir, "edbtmp.log");
  char *g2 = path_of(dir, 1), spec[128];
  CHECK(back && tmp);
  snprintf(spec, sizeof spec, "clockback:3600000000:%s", back);
  esio *io;
  setenv("ESE_FAULT", spec, 1);
  OK(esio_new(&io));
  unsetenv("ESE_FAULT");
  CHECK(!esio_ordered(io));   /* the preparer thread writes the header ahead */
  log_config cfg = mkcfg(io, dir, FS);
  eslog *lg;
  OK(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg));
  uint64_t r0, r1, r2;
  commit_at(lg, &r0);
  OK(log_prepare_next(lg));
  wait_tmp_header(tmp, 2);
  log_header h;
  OK(log_read_header(io, tmp, &h));
  uint64_t t1 = h.tm_create;
  uint32_t gen1 = h.gen;
  log_header_clear(&h);
  CHECK(gen1 == 2 && t1 > r0);
  while (os_now_us() <= t1) {}
  commit_at(lg, &r1);   /* after the header: R1 > T1 */
  int fd = open(back, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  CHECK(fd >= 0);
  close(fd);
  commit_at(lg, &r2);   /* the clock an hour behind: R2 < T1 */
  CHECK(r2 < t1 && t1 < r1);
  OK(log_roll(lg));
  CHECK(unlink(back) == 0);
  free(g2);
  g2 = path_of(dir, 0);
  OK(log_read_header(io, g2, &h));
  uint64_t tm2 = h.tm_create;
  uint32_t gen2 = h.gen;
  log_header_clear(&h);
  CHECK(gen2 == 2);
  if (tm2 <= r1) fprintf(stderr, "generation 2 created at %llu, before a commit of generation 1 at %llu\n",
                         (unsigned long long)tm2, (unsigned long long)r1);
  CHECK(tm2 > r1);
  OK(log_close(lg));
  esio_free(io);
  printf("log_test: a header written ahead is not taken after a commit, whatever the clock says\n");
  free(g2);
  free(tmp);
  free(back);
  free(dir);
}

/* ---- commit times and generation times across restarts and rolls ----------
 * What a restore to a point in time relies on (restore.c copy_end_time,
 * check_reach): commit times never go back in log order, each is >= its
 * generation's tm_create, and a generation's tm_create is after every
 * commit of the ones before.  The log stamps an LR_COMMIT's time itself
 * (its last 8 bytes), under its mutex.  Checked here on the records read
 * back, for: a reopen with the clock stepped back an hour (before: nothing
 * seeded the latest commit time, the next commit and generation 2's
 * tm_create were an hour before the commits of generation 1), a commit
 * whose caller stamped its time before a roll and appended after it
 * (before: the record kept the caller's time, below the generation's
 * tm_create), and a stream created after a closed generation
 * (log_last_commit_us + log_create_after: recovery with no B.log). */
static void clock_commit(eslog *lg, uint64_t stamp) {
  uint8_t rec[32] = { 0 };
  memcpy(rec + 24, &stamp, 8);   /* what the caller had put there: the log writes the time */
  lsn_t l;
  OK(log_append(lg, LR_COMMIT, rec, sizeof rec, &l));
  OK(log_flush(lg, l));
}

/* Checks the invariants over every record of dir; returns how many commits. */
static int check_commit_times(esio *io, const char *dir, uint64_t *last) {
  log_reader *r;
  OK(log_reader_open(io, dir, "edb", PGSZ, NULL, LSN(1, 0), LOG_READ_CURRENT, &r));
  log_record rec;
  uint64_t prev = 0, tm = 0;
  uint32_t gen = 0;
  int n = 0;
  JET_ERR e;
  while ((e = log_reader_next(r, &rec)) == 0) {
    if (LSN_GEN(rec.lsn) != gen) {
      gen = LSN_GEN(rec.lsn);
      tm = log_reader_header(r)->tm_create;
      if (tm <= prev) fprintf(stderr, "generation %u created at %llu, not after a commit at %llu before it\n", gen,
                              (unsigned long long)tm, (unsigned long long)prev);
      CHECK(tm > prev);
    }
    if (rec.type != LR_COMMIT) continue;
    uint64_t t = ld64(rec.payload + rec.len - 8);
    if (t < prev || t < tm) fprintf(stderr, "commit %d of generation %u at %llu: before %llu (the one before) or "
                                    "%llu (tm_create)\n", n, gen, (unsigned long long)t, (unsigned long long)prev,
                                    (unsigned long long)tm);
    CHECK(t >= prev && t >= tm);
    prev = t;
    n++;
  }
  CHECK_ERR(e, 1);
  log_reader_close(r);
  if (last) *last = prev;
  return n;
}

static void test_clock_commits(void) {
  char *back = os_join(root, "hdr_clock.back"), spec[128];   /* process-wide: test_hdr_ahead_clock's */
  CHECK(back);
  snprintf(spec, sizeof spec, "clockback:3600000000:%s", back);
  esio *io;
  setenv("ESE_FAULT", spec, 1);
  OK(esio_new(&io));
  unsetenv("ESE_FAULT");
  /* a reopen with the clock stepped back */
  char *dir = subdir("clock_reopen");
  log_config cfg = mkcfg(io, dir, FS);
  eslog *lg;
  OK(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg));
  clock_commit(lg, os_now_us());
  clock_commit(lg, os_now_us());
  lsn_t end = log_end(lg);
  OK(log_close(lg));
  int fd = open(back, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  CHECK(fd >= 0);
  close(fd);
  OK(log_reopen(&cfg, end, &lg));
  clock_commit(lg, os_now_us());
  OK(log_roll(lg));
  clock_commit(lg, os_now_us());
  /* a commit stamped by its caller before a roll, appended after it */
  uint64_t early = os_now_us();
  OK(log_roll(lg));
  clock_commit(lg, early);
  OK(log_close(lg));
  CHECK(check_commit_times(io, dir, NULL) == 5);
  /* a stream going on after a closed generation (recovery without B.log) */
  char *dir2 = subdir("clock_after"), *g1 = path_of(dir2, 1), *cur = path_of(dir2, 0);
  CHECK(unlink(back) == 0);
  cfg = mkcfg(io, dir2, FS);
  OK(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg));
  clock_commit(lg, 0);
  log_sig sig = *log_signature(lg);
  OK(log_close(lg));
  close_like_roll(io, cur);   /* closed by a roll that a crash cut between its renames */
  CHECK(rename(cur, g1) == 0);
  log_header h;
  OK(log_read_header(io, g1, &h));
  uint64_t tm1 = h.tm_create, last = 0;
  log_header_clear(&h);
  fd = open(back, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  CHECK(fd >= 0);
  close(fd);
  OK(log_last_commit_us(io, g1, &last));
  CHECK(last >= tm1);
  OK(log_create_after(&cfg, &sig, 2, tm1, last, NULL, 0, &lg));
  clock_commit(lg, 0);
  OK(log_close(lg));
  CHECK(unlink(back) == 0);
  CHECK(check_commit_times(io, dir2, NULL) == 2);
  /* an LR_COMMIT too short for its time is refused, nothing appended */
  lsn_t l;
  char *dir3 = subdir("clock_short");
  cfg = mkcfg(io, dir3, FS);
  OK(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg));
  CHECK_ERR(log_append(lg, LR_COMMIT, "1234567", 7, &l), JET_errInvalidParameter);
  CHECK(log_end(lg) == LSN(1, LOG_DATA_START));
  /* a commit in two pieces whose time bytes span both (log_append2): the
   * caller's bytes before them kept, the time in the last 8, the CRC good */
  OK(log_append2(lg, LR_COMMIT, "abc", 3, "defxxxxxxxx", 11, &l));
  OK(log_flush(lg, log_end(lg)));
  OK(log_close(lg));
  log_reader *r;
  log_record rec;
  OK(log_reader_open(io, dir3, "edb", PGSZ, NULL, LSN(1, 0), LOG_READ_CURRENT, &r));
  OK(log_reader_next(r, &rec));
  CHECK(rec.type == LR_COMMIT && rec.len == 14 && !memcmp(rec.payload, "abcdef", 6));
  CHECK(ld64(rec.payload + 6) >= log_reader_header(r)->tm_create);
  log_reader_close(r);
  esio_free(io);
  printf("log_test: commit times: stamped by the log, never back, after their generation's creation, across a "
         "reopen with the clock stepped back and a roll\n");
  free(dir3);
  free(g1);
  free(cur);
  free(dir2);
  free(dir);
  free(back);
}

/* Right before the roll's rename of edbtmp.log to edb.log
 * (ESE_FAULT=swap): the rename moves the other file; the roll sees it
 * at edb.log, puts it back (unchanged) and stops the log, as a crash
 * between the two renames would (no edb.log, generation 1 archived and
 * complete).  Before, the other file stayed as edb.log. */
static void swapped_at_rename(const char *name, const char *victim) {
  static uint8_t bytes[FS], back[FS];
  for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = (uint8_t)(i * 13 + 5);
  int fd;
  eslog *lg;
  lsn_t l;
  log_config cfg;
  char *d2 = subdir(name), *tmp2 = os_join(d2, "edbtmp.log"), *cur2 = path_of(d2, 0), *g1 = path_of(d2, 1);
  char spec[160];
  CHECK(tmp2);
  snprintf(spec, sizeof spec, "swap:edbtmp.log:%s", victim);
  CHECK((fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0);
  CHECK(write(fd, bytes, sizeof bytes) == (ssize_t)sizeof bytes);
  close(fd);
  esio *sio;
  setenv("ESE_FAULT", spec, 1);
  OK(esio_new(&sio));
  unsetenv("ESE_FAULT");
  cfg = mkcfg(sio, d2, FS);
  /* log_create's rename the same way: refused, the other file back */
  CHECK_ERR(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg), JET_errLogWriteFail);
  CHECK(!os_exists(victim) && !os_exists(cur2));
  raw_read(tmp2, 0, back, sizeof back);
  CHECK(memcmp(back, bytes, sizeof bytes) == 0);
  OK(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg));   /* edbtmp.log is the log's name: made anew */
  CHECK((fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0);
  CHECK(write(fd, bytes, sizeof bytes) == (ssize_t)sizeof bytes);
  close(fd);
  OK(log_append(lg, 1, "abc", 3, &l));
  OK(log_flush(lg, l));
  OK(log_prepare_next(lg));   /* in line: the swap fault orders the I/O */
  CHECK_ERR(log_roll(lg), JET_errLogWriteFail);
  CHECK(!os_exists(victim) && !os_exists(cur2) && os_exists(g1));
  raw_read(tmp2, 0, back, sizeof back);
  CHECK(memcmp(back, bytes, sizeof bytes) == 0);   /* back at edbtmp.log, never written */
  CHECK_ERR(log_close(lg), JET_errLogWriteFail);
  esio_free(sio);
  free(d2);
  free(tmp2);
  free(cur2);
  free(g1);
}

/* ---- a passing error when a spare is taken ---------------------------------
 * The preparer takes a held spare (this stream's retired generation 1)
 * while no descriptor is left for a moment (RLIMIT_NOFILE lowered: EMFILE,
 * as when another thread of the application holds them): the name stays
 * HELD, so log_release_spares (a full disk) deletes it afterwards.  Before,
 * any open error made the name FOREIGN for the rest of the run: the spare
 * stayed, never taken nor released (the reviewer's /tmp/rv14/emfile_spare).
 * ESE_FAULT_COUNT orders the I/O: the preparer runs in line. */
static void test_spare_emfile(void) {
  char *dir = subdir("spare_emfile"), *count = os_join(root, "spare_emfile.count");
  char *spare = os_join(dir, "edbspare1.log"), *g1 = path_of(dir, 1);
  CHECK(count && spare && g1);
  setenv("ESE_FAULT_COUNT", count, 1);
  esio *io;
  OK(esio_new(&io));
  unsetenv("ESE_FAULT_COUNT");
  CHECK(esio_ordered(io));
  log_config cfg = mkcfg(io, dir, FS);
  cfg.spares = 1;
  eslog *lg;
  OK(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg));
  for (int i = 0; i < 3; i++) OK(log_roll(lg));
  OK(log_prepare_next(lg));   /* a new edbtmp.log made ahead (no spare yet) */
  OK(log_retire(lg, g1));     /* generation 1 kept as spare 1 (HELD) */
  CHECK(os_exists(spare) && !os_exists(g1));
  int lowest = open("/dev/null", O_RDONLY | O_CLOEXEC);
  CHECK(lowest >= 0);
  close(lowest);
  struct rlimit old, now;
  CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
  now = old;
  now.rlim_cur = (rlim_t)lowest;
  CHECK(setrlimit(RLIMIT_NOFILE, &now) == 0);
  JET_ERR pe = log_prepare_next(lg);   /* takes spare 1 over the file made ahead: cannot open it */
  CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
  OK(pe);
  CHECK(os_exists(spare));
  uint32_t freed = log_release_spares(lg);
  if (freed != 1) fprintf(stderr, "log_release_spares freed %u, edbspare1.log %s\n", freed,
                          os_exists(spare) ? "still there" : "gone");
  CHECK(freed == 1 && !os_exists(spare));
  OK(log_roll(lg));
  OK(log_close(lg));
  esio_free(io);
  printf("log_test: a spare that could not be opened for a moment (EMFILE) stays held, released on a full disk\n");
  free(g1);
  free(spare);
  free(count);
  free(dir);
}

/* ---- a file system without renameat2 RENAME_NOREPLACE ----------------------
 * ESE_FAULT=norenameat2 (renameat2 fails with EINVAL, as on NFS or FUSE):
 * os_rename_noreplace links the file at the new name (link never
 * replaces) and removes the old name; where it cannot link (a folder
 * here) it fails and removes nothing.  The swaps of test_tmp_swapped
 * again under it: the other file goes back to edbtmp.log.  Before, the
 * rename back failed, its result ignored: the other file stayed as
 * edb.log (spec/c/log_test.c, "!os_exists(victim) && !os_exists(cur2)"). */
static void test_norenameat2(void) {
  char *flag = os_join(root, "norenameat2.on"), spec[200];
  char *a = os_join(root, "nr.a"), *b = os_join(root, "nr.b"), *d = os_join(root, "nr.d");
  char *victim = os_join(root, "nr.victim");
  CHECK(flag && a && b && d && victim);
  snprintf(spec, sizeof spec, "norenameat2:%s", flag);
  esio *io;
  setenv("ESE_FAULT", spec, 1);
  OK(esio_new(&io));
  unsetenv("ESE_FAULT");
  int fd = open(flag, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  CHECK(fd >= 0);
  close(fd);
  uint8_t x[2] = { 0 };
  CHECK((fd = open(a, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0 && write(fd, "a", 1) == 1);
  close(fd);
  CHECK((fd = open(b, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0 && write(fd, "b", 1) == 1);
  close(fd);
  CHECK_ERR(os_rename_noreplace(io, a, b), JET_errFileAlreadyExists);   /* b kept */
  raw_read(a, 0, x, 1);
  CHECK(x[0] == 'a');
  raw_read(b, 0, x, 1);
  CHECK(x[0] == 'b');
  CHECK(unlink(b) == 0);
  OK(os_rename_noreplace(io, a, b));   /* moved: one name */
  CHECK(!os_exists(a));
  raw_read(b, 0, x, 1);
  CHECK(x[0] == 'a');
  struct stat st;
  CHECK(stat(b, &st) == 0 && st.st_nlink == 1);
  CHECK(mkdir(d, 0700) == 0);   /* no link: an error, nothing removed */
  CHECK(os_rename_noreplace(io, d, a) != JET_errSuccess);
  CHECK(stat(d, &st) == 0 && S_ISDIR(st.st_mode) && !os_exists(a));
  esio_free(io);
  swapped_at_rename("norenameat2_swapped", victim);
  CHECK(unlink(flag) == 0);
  printf("log_test: norenameat2: a rename that replaces nothing by link + unlink; another file swapped in goes back\n");
  free(victim);
  free(d);
  free(b);
  free(a);
  free(flag);
}

/* ---- another file swapped in at Btmp.log before the roll takes it -----------
 * The preparer makes edbtmp.log (its header written ahead); another
 * process then renames its own file over that name.  The roll keeps the
 * file the preparer made (its descriptor) and checks that the name still
 * holds it (device and inode, os_is_at): it is not, so the roll makes a
 * new file (the name is the log's own: what is there goes, as a stale
 * one) and never writes the other file nor makes it a generation.
 * Before, the roll opened edbtmp.log by name and renamed that file to
 * edb.log without writing it (its header taken for written ahead): the
 * records of generation 2 went into the other file, and edb.log had no
 * log header. */
static void test_tmp_swapped(esio *io) {
  char *dir = subdir("tmp_swapped"), *tmp = os_join(dir, "edbtmp.log"), *cur = path_of(dir, 0);
  char *victim = os_join(root, "tmp_swapped.victim"), *keep = os_join(root, "tmp_swapped.keep");
  CHECK(tmp && victim && keep);
  log_config cfg = mkcfg(io, dir, FS);
  eslog *lg;
  OK(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg));
  lsn_t l;
  OK(log_append(lg, 1, "abc", 3, &l));
  OK(log_flush(lg, l));
  OK(log_prepare_next(lg));
  wait_tmp_header(tmp, 2);
  static uint8_t bytes[FS], back[FS];
  for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = (uint8_t)(i * 13 + 5);
  int fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  CHECK(fd >= 0 && write(fd, bytes, sizeof bytes) == (ssize_t)sizeof bytes);
  close(fd);
  CHECK(link(victim, keep) == 0);      /* its bytes seen under another name */
  CHECK(rename(victim, tmp) == 0);     /* the other process's file over edbtmp.log */
  OK(log_roll(lg));
  OK(log_append(lg, 1, "def", 3, &l));
  OK(log_flush(lg, l));
  OK(log_close(lg));
  raw_read(keep, 0, back, sizeof back);
  CHECK(memcmp(back, bytes, sizeof bytes) == 0);
  log_header h;
  OK(log_read_header(io, cur, &h));    /* edb.log is generation 2's own file */
  uint32_t gen = h.gen;
  log_header_clear(&h);
  CHECK(gen == 2);

  swapped_at_rename("tmp_swapped2", victim);
  free(tmp);
  free(cur);
  free(victim);
  free(keep);
  free(dir);
}

/* A stream in dir (64 KiB files, one spare, ESE_FAULT_TRACE at trace:
 * ordered I/O, edbtmp.log made in line) with generations 1 and 2 full,
 * generation 1 retired as the spare and edbtmp.log made of it. */
static eslog *recycled_setup(const char *dir, const char *trace, esio **io) {
  setenv("ESE_FAULT_TRACE", trace, 1);
  OK(esio_new(io));
  unsetenv("ESE_FAULT_TRACE");
  log_config cfg = mkcfg(*io, dir, FS);
  cfg.spares = 1;
  eslog *lg;
  OK(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg));
  static uint8_t rec[3000];
  memset(rec, 0xA5, sizeof rec);
  lsn_t l;
  while (log_generation(lg) < 3) OK(log_append(lg, 1, rec, sizeof rec, &l));   /* 1 and 2 full */
  OK(log_flush(lg, log_end(lg)));
  char *g1 = path_of(dir, 1);
  OK(log_retire(lg, g1));       /* the spare */
  OK(log_prepare_next(lg));     /* edbtmp.log made of it */
  free(g1);
  return lg;
}

/* Bytes an ESE_FAULT_TRACE file shows written to edb.log after event
 * mark, up to edb.log's rename (a roll's switch); from_sync: only after
 * the sync of edbtmp.log (the next file's, where the switch begins). */
static uint64_t roll_writes(const char *trace, uint64_t mark, int from_sync) {
  FILE *t = fopen(trace, "r");
  CHECK(t);
  char kind[16], name[64];
  unsigned long long k, n, off;
  int on = !from_sync, done = 0;
  uint64_t wrote = 0;
  while (fscanf(t, "%llu %15s %llu %llu %63s", &k, kind, &n, &off, name) == 5) {
    if (k <= mark || done) continue;
    if (!strcmp(kind, "sync") && !strcmp(name, "edbtmp.log")) on = 1;
    else if (!strcmp(kind, "rename") && !strcmp(name, "edb.log")) done = 1;
    else if (on && !strcmp(kind, "write") && !strcmp(name, "edb.log")) wrote += n;
  }
  fclose(t);
  return wrote;
}

/* ---- the roll of a little-used file made from a spare -----------------------
 * The roll that closes it zeroes its old generation's bytes after its last
 * record (every closed generation is zeros after its last record).  Those
 * more than ROLL_ROOM (log.c: 16 KiB) after its end are zeroed in the
 * roll's first part, appends and flushes going on (appends stop before
 * them meanwhile); the switch, which flushes wait for, zeroes the rest.
 * ESE_FAULT_TRACE numbers the roll's writes: from the next file's sync to
 * the closing file's rename (the switch) 24 KiB go to edb.log (20 KiB of
 * zeros, the record's bytes, a slot), at most 28 KiB.  Before, the switch
 * zeroed all of them: 55 KiB with these 64 KiB files. */
static void test_recycled_roll(void) {
  char *dir = subdir("recycled_roll"), *trace = os_join(root, "recycled_roll.trace");
  CHECK(trace);
  esio *io;
  eslog *lg = recycled_setup(dir, trace, &io);
  lsn_t l;
  char *g4 = path_of(dir, 4);
  OK(log_roll(lg));             /* generation 4 in generation 1's file */
  OK(log_append(lg, 1, "little", 6, &l));
  OK(log_flush(lg, l));
  uint64_t mark = esio_count(io);
  OK(log_roll(lg));             /* closes 4: a little-used recycled file */
  OK(log_close(lg));
  esio_free(io);
  uint64_t wrote = roll_writes(trace, mark, 1);
  printf("log_test: recycled roll: the switch wrote %llu bytes to the closing file\n", (unsigned long long)wrote);
  CHECK(wrote > 0 && wrote <= 28u * 1024u);
  uint8_t *b = malloc(FS);   /* generation 4 closed: its record, then zeros */
  CHECK(b);
  raw_read(g4, 0, b, FS);
  CHECK(!memcmp(b + LOG_DATA_START + 8, "little", 6));
  for (uint32_t i = LOG_DATA_START + LOG_BLOCK; i < FS; i++) CHECK(b[i] == 0);
  free(b);
  free(g4);
  free(trace);
  free(dir);
}

/* The spare made edbtmp.log ahead, then another process's file renamed
 * over edbtmp.log: the roll makes a new file (zeros) instead, and that
 * generation's roll zeroes nothing beyond its records (no old bytes).
 * Before, the new file took the spare's old end (stale_end from the file
 * made ahead): its roll wrote zeros over zeros, 55 KiB in all here. */
static void test_recycled_swapped(void) {
  char *dir = subdir("recycled_swapped"), *trace = os_join(root, "recycled_swapped.trace");
  char *victim = os_join(root, "recycled_swapped.victim"), *tmp = os_join(dir, "edbtmp.log");
  CHECK(trace && victim && tmp);
  esio *io;
  eslog *lg = recycled_setup(dir, trace, &io);
  lsn_t l;
  int fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  CHECK(fd >= 0 && write(fd, "not a log", 9) == 9);
  close(fd);
  CHECK(rename(victim, tmp) == 0);   /* another process's file over edbtmp.log */
  OK(log_roll(lg));             /* generation 4 in a new file */
  OK(log_append(lg, 1, "little", 6, &l));
  OK(log_flush(lg, l));
  uint64_t mark = esio_count(io);
  OK(log_roll(lg));             /* closes 4 */
  OK(log_close(lg));
  esio_free(io);
  uint64_t wrote = roll_writes(trace, mark, 0);
  if (wrote > 8192) fprintf(stderr, "the roll of a new file wrote %llu bytes to it\n", (unsigned long long)wrote);
  CHECK(wrote > 0 && wrote <= 8192);
  printf("log_test: a new file made for a swapped spare: its roll wrote %llu bytes to it (no old bytes)\n",
         (unsigned long long)wrote);
  free(tmp);
  free(victim);
  free(trace);
  free(dir);
}

/* The same roll held while it writes its first chunk of zeros
 * (ESE_FAULT=holdsync:log-zeros:GATE; ROLL_ROOM after the file's end,
 * rounded up to a block, to the old bytes' end): a record appended and
 * flushed meanwhile below the chunk goes on; one that would reach into it
 * waits for the chunk, then writes over its zeros.  All three records are
 * intact after the roll, and the closed file is zeros after its last
 * record.  Without the wait the big record was flushed into the chunk
 * and then zeroed (checked by removing it). */
static eslog *held_lg;
static void *big_append(void *arg) {
  lsn_t l;
  OK(log_append(held_lg, 1, arg, 30000, &l));
  OK(log_flush(held_lg, l));
  return NULL;
}
static void *held_roll(void *arg) {
  (void)arg;
  OK(log_roll(held_lg));
  return NULL;
}
static void test_recycled_roll_held(void) {
  char *dir = subdir("recycled_held"), *gate = os_join(root, "recycled_held.gate");
  CHECK(gate);
  size_t gl = strlen(gate);
  char *held = malloc(gl + 6);
  CHECK(held);
  memcpy(held, gate, gl);
  memcpy(held + gl, ".held", 6);
  char fault[160];
  snprintf(fault, sizeof fault, "holdsync:log-zeros:%s", gate);
  setenv("ESE_FAULT", fault, 1);
  esio *io;
  OK(esio_new(&io));
  unsetenv("ESE_FAULT");
  log_config cfg = mkcfg(io, dir, FS);
  cfg.spares = 1;
  OK(log_create(&cfg, NULL, 1, 0, NULL, 0, &held_lg));
  static uint8_t rec[3000], big[30000];
  memset(rec, 0xA5, sizeof rec);
  memset(big, 0x5A, sizeof big);
  lsn_t l;
  while (log_generation(held_lg) < 3) OK(log_append(held_lg, 1, rec, sizeof rec, &l));
  OK(log_flush(held_lg, log_end(held_lg)));
  char *g1 = path_of(dir, 1), *g4 = path_of(dir, 4), *cur = path_of(dir, 0);
  OK(log_retire(held_lg, g1));
  OK(log_prepare_next(held_lg));   /* the preparer thread makes edbtmp.log of the spare ... */
  OK(log_roll(held_lg));           /* ... which this roll waits for: generation 4 */
  OK(log_append(held_lg, 1, "little", 6, &l));
  OK(log_flush(held_lg, l));
  int fd = open(gate, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);   /* the gate: the chunk held */
  CHECK(fd >= 0);
  close(fd);
  pthread_t ra, ba;
  CHECK(pthread_create(&ra, NULL, held_roll, NULL) == 0);
  while (access(held, F_OK) != 0) usleep(1000);
  OK(log_append(held_lg, 1, "during", 6, &l));   /* below the chunk: goes on, flushed now */
  OK(log_flush(held_lg, l));
  CHECK(LSN_GEN(l) == 4);
  CHECK(pthread_create(&ba, NULL, big_append, big) == 0);   /* would reach into it: waits */
  usleep(100000);                  /* (the order of the test, not asserted: no timing) */
  CHECK(unlink(gate) == 0);
  CHECK(pthread_join(ra, NULL) == 0 && pthread_join(ba, NULL) == 0);
  OK(log_close(held_lg));
  esio_free(io);
  uint8_t *b = malloc(FS), *c = malloc(FS);
  CHECK(b && c);
  raw_read(g4, 0, b, FS);          /* generation 4: little, during, (big,) then zeros */
  raw_read(cur, 0, c, FS);         /* generation 5: (big) */
  CHECK(!memcmp(b + LOG_DATA_START + 8, "little", 6) && !memcmp(b + LOG_DATA_START + 24 + 8, "during", 6));
  uint32_t len, at = LOG_DATA_START + 48;
  memcpy(&len, b + at, 4);
  /* the big record in 4 (before the roll) or, when the roll came first,
   * the roll's end record there and the big record in 5 */
  int in4 = len != 0 && b[at + 4] != LR_END;
  const uint8_t *rb = in4 ? b + at : c + LOG_DATA_START;
  if (in4) at += 30016;
  memcpy(&len, rb, 4);
  CHECK(len == 30000 && !memcmp(rb + 8, big, sizeof big));
  memcpy(&len, b + at, 4);         /* the roll's end record (LR_END), then zeros */
  CHECK(len == LR_END_LEN && b[at + 4] == LR_END);
  for (uint32_t i = at + LR_END_FRAMED; i < FS; i++) CHECK(b[i] == 0);
  printf("log_test: recycled roll held in its zeros: a record below them went on, one into them waited, "
         "both intact (the big one in generation %d)\n", rb == c + LOG_DATA_START ? 5 : 4);
  free(b);
  free(c);
  free(g1);
  free(g4);
  free(cur);
  free(held);
  free(gate);
  free(dir);
}

/* ---- crash points: kill at every write/sync/rename, recover, compare -------- */
#define CR_RECS 40
static int crash_child(const char *dir, int k, int wfd) {
  char spec[32];
  snprintf(spec, sizeof spec, "crash:%d", k);
  setenv("ESE_FAULT", spec, 1);
  esio *io;
  if (esio_new(&io)) return 2;
  log_config cfg = mkcfg(io, dir, FS);
  eslog *lg;
  if (log_create(&cfg, NULL, 1, 0, NULL, 0, &lg)) return 3;
  for (int i = 0; i < CR_RECS; i++) {
    size_t n = (i % 3 == 2) ? 25000 : 100 + (size_t)i;  /* big ones force rolls */
    rec_fill(i, scratch, n);
    lsn_t l;
    if (log_append(lg, 1, scratch, n, &l) || log_flush(lg, l)) return 4;
    if (write(wfd, &i, sizeof i) != (ssize_t)sizeof i) return 5;   /* acknowledged */
  }
  if (log_close(lg)) return 6;
  int events = (int)esio_count(io);
  esio_free(io);
  return events < 255 ? 100 + (events > 150 ? 150 : events) : 7;
}

static void test_crash_points(esio *io) {
  int k;
  for (k = 1;; k++) {
    char name[32];
    snprintf(name, sizeof name, "crash%d", k);
    char *dir = subdir(name);
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      close(pfd[0]);
      _exit(crash_child(dir, k, pfd[1]));
    }
    close(pfd[1]);
    int acked = -1, v;
    while (read(pfd[0], &v, sizeof v) == (ssize_t)sizeof v) acked = v;
    close(pfd[0]);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    int finished = WIFEXITED(st) && WEXITSTATUS(st) >= 100;
    CHECK(finished || (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL));
    /* recover: B.log and the archived files, or (the roll window) the
     * archived files alone */
    log_reader *r;
    JET_ERR e = log_reader_open(io, dir, "edb", PGSZ, NULL, LSN(1, 0), LOG_READ_CURRENT, &r);
    if (e == JET_errMissingLogFile) {
      uint32_t lo, hi;
      int cur;
      OK(log_scan_dir(dir, "edb", &lo, &hi, &cur));
      CHECK(!cur);
      if (hi == 0) { CHECK(acked < 0); free(dir); continue; }   /* died in log_create */
      e = log_reader_open(io, dir, "edb", PGSZ, NULL, LSN(1, 0), 0, &r);
    }
    OK(e);
    log_record rec;
    int n = 0;
    while ((e = log_reader_next(r, &rec)) == 0) {
      size_t len = (n % 3 == 2) ? 25000 : 100 + (size_t)n;
      CHECK(rec.len == len);
      rec_fill(n, scratch, len);
      CHECK(!memcmp(rec.payload, scratch, len));
      n++;
    }
    CHECK_ERR(e, 1);
    log_reader_close(r);
    CHECK(n >= acked + 1 && n <= acked + 2);   /* every acknowledged record, at most one more */
    free(dir);
    if (finished) break;
  }
  printf("log_test: crash points: killed at each of %d writes/syncs/renames, every acknowledged record recovered\n", k - 1);
}

/* ---- group commit -------------------------------------------------------------- */
#define GC_THREADS 4
#define GC_PER 500
typedef struct gc_arg {
  eslog *lg;
  pthread_mutex_t *inst;
  int tid;
  JET_ERR err;
} gc_arg;

static void *gc_thread(void *p) {
  gc_arg *a = p;
  uint8_t buf[200];
  for (int i = 0; i < GC_PER && !a->err; i++) {
    size_t n = 8 + (size_t)((i * 37 + a->tid * 11) % 150);
    memset(buf, 0, sizeof buf);
    buf[0] = (uint8_t)a->tid;
    memcpy(buf + 1, &i, sizeof i);
    for (size_t j = 5; j < n; j++) buf[j] = (uint8_t)(j ^ (size_t)i);
    lsn_t l;
    pthread_mutex_lock(a->inst);
    JET_ERR e = log_append(a->lg, 42, buf, n, &l);
    pthread_mutex_unlock(a->inst);
    if (!e) e = log_flush(a->lg, l);
    if (!e && log_durable(a->lg) <= l) e = -1;
    a->err = e;
  }
  return NULL;
}

static void test_group_commit(esio *io) {
  char *dir = subdir("group");
  log_config cfg = mkcfg(io, dir, FS);   /* small: rolls happen under the flushes */
  eslog *lg;
  OK(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg));
  pthread_mutex_t inst = PTHREAD_MUTEX_INITIALIZER;
  gc_arg args[GC_THREADS];
  pthread_t th[GC_THREADS];
  uint64_t io0 = esio_count(io);
  for (int t = 0; t < GC_THREADS; t++) {
    args[t] = (gc_arg){.lg = lg, .inst = &inst, .tid = t, .err = 0};
    CHECK(pthread_create(&th[t], NULL, gc_thread, &args[t]) == 0);
  }
  for (int t = 0; t < GC_THREADS; t++) CHECK(pthread_join(th[t], NULL) == 0);
  uint64_t events = esio_count(io) - io0;
  for (int t = 0; t < GC_THREADS; t++) OK(args[t].err);
  uint32_t rolls = log_generation(lg) - 1;
  OK(log_close(lg));
  /* every commit is there, each thread's in order */
  log_reader *r;
  OK(log_reader_open(io, dir, "edb", PGSZ, NULL, LSN(1, 0), LOG_READ_CURRENT, &r));
  int next[GC_THREADS] = {0}, total = 0;
  log_record rec;
  JET_ERR e;
  while ((e = log_reader_next(r, &rec)) == 0) {
    CHECK(rec.type == 42 && rec.len >= 8);
    int t = rec.payload[0], i;
    memcpy(&i, rec.payload + 1, sizeof i);
    CHECK(t < GC_THREADS && i == next[t]);
    CHECK(rec.len == 8 + (uint32_t)((i * 37 + t * 11) % 150));
    for (size_t j = 5; j < rec.len; j++) CHECK(rec.payload[j] == (uint8_t)(j ^ (size_t)i));
    next[t]++;
    total++;
  }
  CHECK_ERR(e, 1);
  log_reader_close(r);
  CHECK(total == GC_THREADS * GC_PER);
  /* each flush is a write + a sync; a roll with nothing buffered costs 6
   * events (next file: truncate, header write, sync; two renames; dir sync) */
  uint64_t flushes = (events - 6u * rolls) / 2u;
  printf("log_test: group commit: %d commits by %d threads, %llu writes+syncs, ~%llu flushes (%.2f commits per fsync), %u rolls\n",
         total, GC_THREADS, (unsigned long long)events, (unsigned long long)flushes,
         flushes ? (double)total / (double)flushes : 0.0, rolls);
  CHECK(flushes <= (uint64_t)total);
  free(dir);
}

/* ---- the attach table changed while a roll made the next file -------------
 * roll's part 1 writes the next file's header with the table it read; a
 * log_set_attachments before the switch makes the switch write it again
 * (log.c roll, att_ver).  The roll is held at its "log-next" hold point
 * (ESE_FAULT=holdsync:log-next:PATH) while the table changes. */
static void *roll_thread(void *p) {
  static JET_ERR e;
  e = log_roll(p);
  return &e;
}

static void test_roll_attach(void) {
  char *dir = subdir("rollatt");
  char hold[600], held[620], spec[700];
  snprintf(hold, sizeof hold, "%s/hold", root);
  snprintf(held, sizeof held, "%s.held", hold);
  snprintf(spec, sizeof spec, "holdsync:log-next:%s", hold);
  int fd = open(hold, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  CHECK(fd >= 0);
  close(fd);
  esio *io;
  setenv("ESE_FAULT", spec, 1);
  OK(esio_new(&io));
  unsetenv("ESE_FAULT");
  log_config cfg = mkcfg(io, dir, FS);
  log_attach one = {1, "/data/one.edb", NULL, {1}}, two = {2, "/data/two.edb", "two.edb", {2}};
  eslog *lg;
  OK(log_create(&cfg, NULL, 1, 0, &one, 1, &lg));
  lsn_t l;
  OK(log_append(lg, 1, "abc", 3, &l));
  pthread_t th;
  CHECK(pthread_create(&th, NULL, roll_thread, lg) == 0);
  for (int i = 0; i < 10000 && access(held, F_OK) != 0; i++) usleep(1000);
  CHECK(access(held, F_OK) == 0);   /* the roll is held, its next file's header not yet written */
  OK(log_set_attachments(lg, &two, 1));
  unlink(hold);
  void *r;
  CHECK(pthread_join(th, &r) == 0);
  OK(*(JET_ERR *)r);
  log_header h;
  char *cur = path_of(dir, 0);
  OK(log_read_header(io, cur, &h));
  CHECK(h.gen == 2 && h.nattach == 1 && h.attach[0].dbid == 2 && !strcmp(h.attach[0].path, "/data/two.edb"));
  log_header_clear(&h);
  OK(log_close(lg));
  esio_free(io);
  free(cur);
  free(dir);
  printf("log_test: roll-attach: the table set while the roll made the next file is in its header\n");
}

/* ---- fault injection ----------------------------------------------------------- */
static void test_faults(void) {
  char *dir = subdir("fault");
  esio *io;
  /* create: zeros write(1) header write(2) sync(3) rename(4) dir sync(5);
   * flush: write(6) */
  setenv("ESE_FAULT", "eio:6", 1);
  OK(esio_new(&io));
  unsetenv("ESE_FAULT");
  log_config cfg = mkcfg(io, dir, FS);
  eslog *lg;
  OK(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg));
  lsn_t l, l2;
  OK(log_append(lg, 1, "abc", 3, &l));
  CHECK_ERR(log_flush(lg, l), JET_errDiskIO);
  CHECK_ERR(log_flush(lg, l), JET_errDiskIO);          /* sticky ... */
  CHECK_ERR(log_append(lg, 1, "def", 3, &l2), JET_errDiskIO);
  CHECK_ERR(log_roll(lg), JET_errDiskIO);
  CHECK(log_durable(lg) <= l);
  CHECK_ERR(log_close(lg), JET_errDiskIO);
  esio_free(io);
  printf("log_test: fault: eio:6 -> flush JET_errDiskIO (%d), sticky on flush/append/roll/close\n",
         (int)JET_errDiskIO);

  /* a failing create leaves no B.log behind */
  char *d2 = subdir("fault2");
  setenv("ESE_FAULT", "enospc:2", 1);
  OK(esio_new(&io));
  unsetenv("ESE_FAULT");
  cfg = mkcfg(io, d2, FS);
  CHECK_ERR(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg), JET_errDiskFull);
  char *cur = path_of(d2, 0), *tmp = os_join(d2, "edbtmp.log");
  CHECK(tmp && !os_exists(cur) && !os_exists(tmp));
  free(tmp);
  OK(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg));
  OK(log_close(lg));
  esio_free(io);
  free(cur);

  /* a failing roll (the rename) is sticky too */
  char *d3 = subdir("fault3");
  /* 1-5 create; roll: 6-8 the next file under edbtmp.log (truncate,
   * header, sync), 9-11 the tail (in place, its slot, sync), 12 rename B.log
   * to B00000001.log */
  setenv("ESE_FAULT", "eio:12", 1);
  OK(esio_new(&io));
  unsetenv("ESE_FAULT");
  cfg = mkcfg(io, d3, FS);
  OK(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg));
  OK(log_append(lg, 1, "abc", 3, &l));
  CHECK_ERR(log_roll(lg), JET_errDiskIO);
  CHECK(log_durable(lg) > l);   /* the write before the rename made it */
  CHECK_ERR(log_append(lg, 1, "abc", 3, &l), JET_errDiskIO);
  CHECK_ERR(log_close(lg), JET_errDiskIO);
  esio_free(io);
  cur = path_of(d3, 0);
  char *a1 = path_of(d3, 1);
  CHECK(os_exists(cur) && !os_exists(a1));
  free(cur);
  free(a1);
  free(d3);
  free(d2);
  free(dir);
}


/* ---- a fault that names B.log reaches the file of that name ----------------
 * The log's files are made as Btmp.log and renamed (log_create, roll: to
 * B.log, the closing one to B%08X.log); the open handle is known by its
 * current name (os_rename_file), so ESE_FAULT=synceio:1:edb.log:GATE, which
 * fails every sync of a file named edb.log made while GATE exists, reaches
 * the current file's syncs after a roll (a flush) and the closing file's
 * last sync in a roll.  Before, the handle kept the name edbtmp.log: no
 * fault naming edb.log ever reached a file the log made. */
static void touch(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  CHECK(fd >= 0);
  close(fd);
}

static void test_fault_names(void) {
  char gate[600], spec[700];
  snprintf(gate, sizeof gate, "%s/names-gate", root);
  snprintf(spec, sizeof spec, "synceio:1:edb.log:%s", gate);
  for (int closing = 0; closing < 2; closing++) {
    char *dir = subdir(closing ? "names-closing" : "names-current");
    esio *io;
    setenv("ESE_FAULT", spec, 1);
    OK(esio_new(&io));
    unsetenv("ESE_FAULT");
    log_config cfg = mkcfg(io, dir, FS);
    eslog *lg;
    lsn_t l;
    OK(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg));
    OK(log_append(lg, 1, "abc", 3, &l));
    OK(log_roll(lg));                      /* no gate yet: no sync fails */
    OK(log_append(lg, 1, "def", 3, &l));
    touch(gate);
    /* the flush's sync of edb.log (generation 2), or the roll's last sync
     * of the closing edb.log before it becomes edb00000002.log */
    CHECK_ERR(closing ? log_roll(lg) : log_flush(lg, l), JET_errDiskIO);
    CHECK(unlink(gate) == 0);
    CHECK_ERR(log_close(lg), JET_errDiskIO);
    esio_free(io);
    free(dir);
  }
  /* os_rename_file: the handle reports the new name; a failed rename
   * leaves both as they were */
  esio *io;
  OK(esio_new(&io));
  char *a = os_join(root, "rn-a"), *b = os_join(root, "rn-b"), *c = os_join(root, "no-such-dir/rn-c");
  CHECK(a && b && c);
  esfile *f;
  OK(os_create_new(io, a, &f));
  OK(os_rename_file(f, b));
  CHECK(!strcmp(os_path(f), b) && os_exists(b) && !os_exists(a));
  CHECK_ERR(os_rename_file(f, c), JET_errFileNotFound);
  CHECK(!strcmp(os_path(f), b) && os_exists(b));
  os_close(f);
  CHECK(unlink(b) == 0);
  esio_free(io);
  free(a);
  free(b);
  free(c);
  printf("log_test: fault names: synceio naming edb.log fails a flush after a roll and a roll's closing sync\n");
}

/* ---- a roll syncs the closing file's bytes written without a sync ----------
 * log_append2 writes a full buffer out without a sync (write_out(..., 0))
 * before it grows the buffer for a record larger than it; when that
 * allocation fails (JET_errOutOfMemory: the append's alone, not the log's)
 * nothing is buffered and nothing lags behind placed, yet the file's last
 * bytes are not durable.  A roll then archives the file: it must sync it
 * first.  Record A (small) is written that way (the allocation made to
 * fail by an address-space limit just above what the process maps: the
 * buffer's growth asks for OOM_REC bytes more), then the log rolls.  A run
 * with the power-cut model (ESE_FAULT=power:K:0, every unsynced write
 * reverted) cut at the first event after the roll must still find A in the
 * archived generation 1.  Before, the roll skipped the closing file's sync
 * when nothing was buffered: A was lost with the cut.
 * Not under AddressSanitizer (its allocator reserves far more than the
 * limit leaves, and aborts rather than fail an allocation). */
#define OOM_FS (4u << 20)
#define OOM_REC (3u << 20)

#ifndef __SANITIZE_ADDRESS__
static void oom_steps(esio *io, const char *dir, uint8_t *big, eslog **out) {
  log_config cfg = mkcfg(io, dir, OOM_FS);
  eslog *lg;
  lsn_t l;
  OK(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg));
  OK(log_append(lg, 7, "record A", 8, &l));
  FILE *sf = fopen("/proc/self/statm", "r");
  unsigned long pages = 0;
  CHECK(sf && fscanf(sf, "%lu", &pages) == 1);
  fclose(sf);
  struct rlimit old, low;
  CHECK(getrlimit(RLIMIT_AS, &old) == 0);
  low = old;
  low.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (256u << 10);   /* 256 KiB of room */
  CHECK(setrlimit(RLIMIT_AS, &low) == 0);
  JET_ERR e = log_append(lg, 8, big, OOM_REC, &l);   /* A written without a sync, then no room */
  CHECK(setrlimit(RLIMIT_AS, &old) == 0);
  CHECK_ERR(e, JET_errOutOfMemory);
  OK(log_roll(lg));
  *out = lg;
}

/* The first record of dir's log is A, in the archived generation 1. */
static void expect_record_a(esio *io, const char *dir) {
  log_reader *r;
  log_record rec;
  OK(log_reader_open(io, dir, "edb", PGSZ, NULL, LSN(1, 0), LOG_READ_CURRENT, &r));
  if (log_reader_next(r, &rec) != 0 || LSN_GEN(rec.lsn) != 1 || rec.type != 7 || rec.len != 8 ||
      memcmp(rec.payload, "record A", 8) != 0) {
    fprintf(stderr, "%s:%d: record A is not the first record of %s\n", __FILE__, __LINE__, dir);
    exit(1);
  }
  log_reader_close(r);
}
#endif

static void test_roll_syncs_written(void) {
#ifdef __SANITIZE_ADDRESS__
  printf("log_test: roll after a write without a sync: skipped under AddressSanitizer\n");
#else
  uint8_t *big = calloc(1, OOM_REC);
  CHECK(big);
  /* the dry run: the events up to the roll's end, counted with a power
   * cut armed that never comes, so that files are made as in the child
   * (zeros written: os_reserve reserves only on an esio without faults) */
  char *dry = subdir("oom-dry"), *cut = subdir("oom-cut");
  esio *io;
  setenv("ESE_FAULT", "power:999999999999:0", 1);
  OK(esio_new(&io));
  unsetenv("ESE_FAULT");
  eslog *lg;
  oom_steps(io, dry, big, &lg);
  uint64_t k = esio_count(io) + 1;   /* the first event after the roll */
  OK(log_close(lg));
  esio_free(io);
  char spec[64];
  snprintf(spec, sizeof spec, "power:%llu:0", (unsigned long long)k);
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    setenv("ESE_FAULT", spec, 1);
    if (esio_new(&io)) _exit(2);
    oom_steps(io, cut, big, &lg);
    lsn_t l;
    (void)log_append(lg, 9, "record C", 8, &l);
    (void)log_flush(lg, l);   /* its write is event k: the cut */
    _exit(3);
  }
  int st;
  CHECK(waitpid(pid, &st, 0) == pid);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);   /* cut at event k */
  OK(esio_new(&io));
  expect_record_a(io, dry);
  expect_record_a(io, cut);   /* after the cut: A's write synced by the roll */
  esio_free(io);
  free(dry);
  free(cut);
  free(big);
  printf("log_test: roll after a write without a sync: the archived file's bytes survive a power cut after it\n");
#endif
}

/* ---- shadow slots (log.h): each slot state, torn and garbled blocks ------- */
typedef struct slotted {
  char *dir, *cur;
  lsn_t r[8];          /* record starts */
  size_t len[8];
  int n;
  uint8_t file[FS];    /* B.log as the writer left it */
} slotted;

static lsn_t put_rec(eslog *lg, slotted *t, size_t n) {
  CHECK(n <= sizeof scratch);
  rec_fill(t->n + 500, scratch, n);
  lsn_t l;
  OK(log_append(lg, (uint8_t)(t->n + 10), scratch, n, &l));   /* never LR_COMMIT (its time is the log's) */
  t->r[t->n] = l;
  t->len[t->n++] = n;
  return l;
}

/* Reads t->dir's B.log: the records (checked against t) until the end or
 * an error; *end the reader's end. */
static JET_ERR read_slotted(esio *io, const slotted *t, int *nread, lsn_t *end, int write_back) {
  log_reader *r;
  OK(log_reader_open(io, t->dir, "edb", PGSZ, NULL, LSN(1, 0), LOG_READ_CURRENT, &r));
  log_record rec;
  JET_ERR e;
  *nread = 0;
  while ((e = log_reader_next(r, &rec)) == 0) {
    int i = (*nread)++;
    CHECK(i < t->n && rec.lsn == t->r[i] && rec.len == t->len[i] && rec.type == (uint8_t)(i + 10));
    rec_fill(i + 500, scratch, t->len[i]);
    CHECK(!memcmp(rec.payload, scratch, t->len[i]));
  }
  if (e == 1) {
    *end = log_reader_end(r);
    if (write_back) OK(log_reader_write_back(r));
  }
  log_reader_close(r);
  return e == 1 ? 0 : e;
}

/* A fresh B.log of generation 1 with durable flushes of records of the
 * sizes in sizes[] (0 ends a flush, -1 the list); t->file: its bytes. */
static void make_slotted(esio *io, const char *name, const int *sizes, slotted *t) {
  memset(t, 0, sizeof *t);
  t->dir = subdir(name);
  t->cur = path_of(t->dir, 0);
  log_config cfg = mkcfg(io, t->dir, FS);
  eslog *lg;
  OK(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg));
  for (; *sizes >= 0; sizes++) {
    if (*sizes) put_rec(lg, t, (size_t)*sizes);
    else OK(log_flush(lg, log_end(lg)));
  }
  OK(log_close(lg));
  raw_read(t->cur, 0, t->file, FS);
}

static void free_slotted(slotted *t) {
  free(t->dir);
  free(t->cur);
}

/* Restores B.log to t->file. */
static void reset_slotted(const slotted *t) { raw_write(t->cur, 0, t->file, FS); }

static uint64_t slot_seq(const uint8_t *f, uint32_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | f[at + 8 + i];
  return v;
}
static uint32_t slot_u32(const uint8_t *f, uint32_t at, uint32_t off) {
  return (uint32_t)f[at + off] | (uint32_t)f[at + off + 1] << 8 | (uint32_t)f[at + off + 2] << 16 |
         (uint32_t)f[at + off + 3] << 24;
}

/* A block of bytes no writer made. */
static void fill_junk(uint8_t *junk) {
  for (size_t i = 0; i < LOG_BLOCK; i++) junk[i] = (uint8_t)(i * 151 + 7);
}

static void test_slots(esio *io) {
  static const uint8_t zero[LOG_BLOCK];
  uint8_t junk[LOG_BLOCK];
  fill_junk(junk);
  int nread;
  lsn_t end;

  /* Two small flushes in block 3: flush 1 wrote slot B, flush 2 slot A,
   * each with the block holding its end. */
  static const int two[] = { 100, 0, 200, 0, -1 };
  slotted t;
  make_slotted(io, "slots", two, &t);
  uint32_t e1 = LSN_OFF(t.r[1]), e2 = e1 + 216;
  CHECK(LSN_OFF(t.r[0]) == LOG_DATA_START);
  CHECK(slot_seq(t.file, LOG_SLOT_B) == 1 && slot_seq(t.file, LOG_SLOT_A) == 2);
  CHECK(slot_u32(t.file, LOG_SLOT_B, 20) == LOG_DATA_START && slot_u32(t.file, LOG_SLOT_B, 24) == e1);
  CHECK(slot_u32(t.file, LOG_SLOT_A, 20) == e1 && slot_u32(t.file, LOG_SLOT_A, 24) == e2);
  CHECK(slot_u32(t.file, LOG_SLOT_A, 16) == 3);
  CHECK(!memcmp(t.file + LOG_SLOT_A + LOG_SLOT_HEAD, t.file + LOG_DATA_START, e2 - LOG_DATA_START));
  CHECK(!memcmp(t.file + LOG_SLOT_B + LOG_SLOT_HEAD, t.file + LOG_DATA_START, e1 - LOG_DATA_START));
  CHECK(read_slotted(io, &t, &nread, &end, 0) == 0 && nread == 2 && end == LSN(1, e2));

  /* Flush 3 tore block 3: the durable records there are garbage. */
  /* both slots valid: the newest (A) gives the block back, both records */
  raw_write(t.cur, LOG_DATA_START, junk, 64);
  CHECK(read_slotted(io, &t, &nread, &end, 0) == 0 && nread == 2 && end == LSN(1, e2));
  /* the whole block garbled: the same */
  raw_write(t.cur, LOG_DATA_START, junk, LOG_BLOCK);
  CHECK(read_slotted(io, &t, &nread, &end, 0) == 0 && nread == 2 && end == LSN(1, e2));
  /* only A valid (B torn) */
  raw_write(t.cur, LOG_SLOT_B + 200, junk, 16);
  CHECK(read_slotted(io, &t, &nread, &end, 0) == 0 && nread == 2 && end == LSN(1, e2));
  /* only B valid (A torn: flush 2 never finished): record 0 back from B,
   * record 1 (after B's S) is a torn tail */
  reset_slotted(&t);
  raw_write(t.cur, LOG_DATA_START, junk, LOG_BLOCK);
  raw_write(t.cur, LOG_SLOT_A + 100, junk, 16);
  CHECK(read_slotted(io, &t, &nread, &end, 0) == 0 && nread == 1 && end == LSN(1, e1));
  /* only B, the records intact: B does not end the log early */
  reset_slotted(&t);
  raw_write(t.cur, LOG_SLOT_A, zero, LOG_BLOCK);
  CHECK(read_slotted(io, &t, &nread, &end, 0) == 0 && nread == 2 && end == LSN(1, e2));
  /* no slot (both zero: no durable flush finished) or only a torn one (the
   * first flush cut before its sync): the whole file is a tail, a bad
   * record 0 ends it even with record 1 valid after it (before format 3:
   * JET_errLogFileCorrupt) */
  for (int torn = 0; torn < 2; torn++) {
    reset_slotted(&t);
    raw_write(t.cur, LOG_SLOT_A, zero, LOG_BLOCK);
    raw_write(t.cur, LOG_SLOT_B, torn ? junk : zero, LOG_BLOCK);
    raw_write(t.cur, LOG_DATA_START + 20, junk, 8);
    CHECK(read_slotted(io, &t, &nread, &end, 0) == 0 && nread == 0 && end == LSN(1, LOG_DATA_START));
  }
  /* both slots damaged: nothing is known; record 0 bad with record 1 valid
   * after it is corruption, a bad last record a torn tail */
  reset_slotted(&t);
  raw_write(t.cur, LOG_SLOT_A, junk, LOG_BLOCK);
  raw_write(t.cur, LOG_SLOT_B, junk, LOG_BLOCK);
  raw_write(t.cur, LOG_DATA_START + 20, junk, 8);
  CHECK_ERR(read_slotted(io, &t, &nread, &end, 0), JET_errLogFileCorrupt);
  CHECK(nread == 0);
  reset_slotted(&t);
  raw_write(t.cur, LOG_SLOT_A, junk, LOG_BLOCK);
  raw_write(t.cur, LOG_SLOT_B, junk, LOG_BLOCK);
  raw_write(t.cur, e1 + 20, junk, 8);
  CHECK(read_slotted(io, &t, &nread, &end, 0) == 0 && nread == 1 && end == LSN(1, e1));
  /* a slot of another generation is not valid */
  reset_slotted(&t);
  {
    uint8_t s[LOG_BLOCK];
    memcpy(s, t.file + LOG_SLOT_A, LOG_BLOCK);
    s[4] = 2;   /* generation 2, checksum resealed */
    uint32_t c = crc32c(0, s + 4, LOG_BLOCK - 4);
    s[0] = (uint8_t)c; s[1] = (uint8_t)(c >> 8); s[2] = (uint8_t)(c >> 16); s[3] = (uint8_t)(c >> 24);
    raw_write(t.cur, LOG_SLOT_A, s, LOG_BLOCK);
    raw_write(t.cur, LOG_DATA_START, junk, LOG_BLOCK);
    CHECK(read_slotted(io, &t, &nread, &end, 0) == 0 && nread == 1 && end == LSN(1, e1));   /* from B */
  }

  /* Recovery writes a block taken from a slot back (synced) before it
   * appends: the file's block is the writer's again, and a reopen there
   * appends after both records. */
  reset_slotted(&t);
  raw_write(t.cur, LOG_DATA_START, junk, LOG_BLOCK);
  CHECK(read_slotted(io, &t, &nread, &end, 1) == 0 && nread == 2 && end == LSN(1, e2));
  {
    uint8_t now[LOG_BLOCK];
    raw_read(t.cur, LOG_DATA_START, now, LOG_BLOCK);
    CHECK(!memcmp(now, t.file + LOG_DATA_START, LOG_BLOCK));
    log_config cfg = mkcfg(io, t.dir, FS);
    eslog *lg;
    OK(log_reopen(&cfg, end, &lg));
    /* both slots now hold the reopened block (seq 3 and 4), none of the old run */
    raw_read(t.cur, 0, t.file, FS);
    CHECK(slot_seq(t.file, LOG_SLOT_B) == 3 && slot_seq(t.file, LOG_SLOT_A) == 4);
    CHECK(slot_u32(t.file, LOG_SLOT_A, 20) == e2 && slot_u32(t.file, LOG_SLOT_A, 24) == e2);
    put_rec(lg, &t, 300);
    OK(log_close(lg));
    CHECK(read_slotted(io, &t, &nread, &end, 0) == 0 && nread == 3);
  }
  free_slotted(&t);

  /* Out-of-order sectors: flush 3 (records 2..4 over several blocks)
   * landed except its first sector, and its slot was not written: the log
   * ends where flush 3 began, though valid records follow (before format 3:
   * JET_errLogFileCorrupt, init refused). */
  static const int three[] = { 100, 0, 200, 0, 3000, 3000, 3000, 0, -1 };
  make_slotted(io, "slots-order", three, &t);
  e2 = LSN_OFF(t.r[2]);
  CHECK(slot_seq(t.file, LOG_SLOT_B) == 3);
  {
    static const int two_only[] = { 100, 0, 200, 0, -1 };
    slotted before;
    make_slotted(io, "slots-order-before", two_only, &before);
    raw_write(t.cur, LOG_SLOT_B, before.file + LOG_SLOT_B, LOG_BLOCK);   /* slot B as after flush 1 */
    free_slotted(&before);
  }
  uint32_t sec = (e2 + 511) & ~511u;
  raw_write(t.cur, e2, zero, sec - e2);                                   /* the first sector: old bytes */
  CHECK(read_slotted(io, &t, &nread, &end, 0) == 0 && nread == 2 && end == LSN(1, e2));
  /* the same with flush 3's slot written: the log ends there too (X >= S) */
  reset_slotted(&t);
  raw_write(t.cur, e2, zero, sec - e2);
  CHECK(read_slotted(io, &t, &nread, &end, 0) == 0 && nread == 2 && end == LSN(1, e2));
  free_slotted(&t);

  /* A bad record below S of the newest slot, in a block no slot holds:
   * JET_errLogFileCorrupt (not a tail); at or after S: the tail. */
  static const int spans[] = { 100, 0, 5000, 0, 5000, 0, -1 };
  make_slotted(io, "slots-below", spans, &t);
  uint32_t s3 = LSN_OFF(t.r[2]);
  CHECK(slot_u32(t.file, slot_seq(t.file, LOG_SLOT_A) == 3 ? LOG_SLOT_A : LOG_SLOT_B, 20) == s3);
  raw_write(t.cur, LOG_DATA_START + 20, junk, 8);                        /* record 0, block 3 */
  CHECK_ERR(read_slotted(io, &t, &nread, &end, 0), JET_errLogFileCorrupt);
  CHECK(nread == 0);
  CHECK_ERR(log_verify_file(io, t.cur, PGSZ), JET_errLogReadVerifyFailure);
  reset_slotted(&t);
  CHECK(s3 / LOG_BLOCK != (s3 + 5012) / LOG_BLOCK);
  raw_write(t.cur, s3 + 20, junk, 8);                                    /* record 2's first block */
  CHECK(read_slotted(io, &t, &nread, &end, 0) == 0 && nread == 2 && end == LSN(1, s3));
  OK(log_verify_file(io, t.cur, PGSZ));
  free_slotted(&t);

  /* A flush that would end in the last LOG_SLOT_HEAD bytes of a block pads
   * to the block's end; the reader steps over the padding. */
  static const int pad[] = { (int)(LOG_BLOCK - 8 - 12 - 8), 0, 50, 0, -1 };
  make_slotted(io, "slots-pad", pad, &t);
  CHECK(LSN_OFF(t.r[1]) == LOG_DATA_START + LOG_BLOCK);
  CHECK(read_slotted(io, &t, &nread, &end, 0) == 0 && nread == 2);
  OK(log_verify_file(io, t.cur, PGSZ));
  free_slotted(&t);
  printf("log_test: slots: each slot state, garbled blocks, out-of-order sectors, below/after S, write-back, padding\n");
}


/* ---- one write per commit: a flush in the block where the file's bytes in
 * place end writes only its slot (log.h, LOG_FEATURE_SLOTONLY) ------------ */
/* B.log of t as it is now into crash->dir (a crash image), crash->r/len
 * from t. */
static void crash_image(const slotted *t, const char *name, slotted *crash) {
  memset(crash, 0, sizeof *crash);
  crash->dir = subdir(name);
  crash->cur = path_of(crash->dir, 0);
  raw_read(t->cur, 0, crash->file, FS);
  int fd = open(crash->cur, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0);
  CHECK(pwrite(fd, crash->file, FS, 0) == (ssize_t)FS);
  close(fd);
  memcpy(crash->r, t->r, sizeof t->r);
  memcpy(crash->len, t->len, sizeof t->len);
  crash->n = t->n;
}

static void test_slot_only(esio *io) {
  static const uint8_t zero[LOG_BLOCK];
  uint8_t junk[LOG_BLOCK];
  fill_junk(junk);
  int nread;
  lsn_t end;
  slotted t, c;
  memset(&t, 0, sizeof t);
  t.dir = subdir("slot-only");
  t.cur = path_of(t.dir, 0);
  log_config cfg = mkcfg(io, t.dir, FS);
  eslog *lg;
  OK(log_create(&cfg, NULL, 1, 0, NULL, 0, &lg));
  uint64_t n0 = esio_count(io);
  put_rec(lg, &t, 100);
  OK(log_flush(lg, log_end(lg)));
  put_rec(lg, &t, 200);
  OK(log_flush(lg, log_end(lg)));
  /* two flushes inside block 3: a slot write and a sync each, nothing in place */
  CHECK(esio_count(io) - n0 == 4);
  uint32_t e1 = LSN_OFF(t.r[1]), e2 = e1 + 216;
  raw_read(t.cur, 0, t.file, FS);
  CHECK(!memcmp(t.file + LOG_DATA_START, zero, LOG_BLOCK));
  CHECK(slot_seq(t.file, LOG_SLOT_B) == 1 && slot_seq(t.file, LOG_SLOT_A) == 2);
  CHECK(slot_u32(t.file, LOG_SLOT_A, 20) == e1 && slot_u32(t.file, LOG_SLOT_A, 24) == e2);

  /* a crash now: the records come from the newest slot */
  crash_image(&t, "slot-only-crash", &c);
  CHECK(read_slotted(io, &c, &nread, &end, 0) == 0 && nread == 2 && end == LSN(1, e2));
  OK(log_verify_file(io, c.cur, PGSZ));
  /* flush 2's slot write torn: flush 1's slot holds record 0 */
  raw_write(c.cur, LOG_SLOT_A + 100, junk, 16);
  CHECK(read_slotted(io, &c, &nread, &end, 0) == 0 && nread == 1 && end == LSN(1, e1));
  /* a slot write torn while the other slot is damaged too: nothing durable
   * is known, the block is a tail (no record valid after it) */
  raw_write(c.cur, LOG_SLOT_B + 100, junk, 16);
  CHECK(read_slotted(io, &c, &nread, &end, 0) == 0 && nread == 0);

  /* Recovery reopening at the end without taking a block from a slot (its
   * checkpoint at the end: the reader starts at e2): the reopen puts the
   * bytes only the slot held in place before it rewrites both slots, so
   * the records stay (before: both slots rewritten from the zeros in
   * place, records 0 and 1 gone). */
  reset_slotted(&c);
  {
    log_config cc = mkcfg(io, c.dir, FS);
    eslog *l2;
    OK(log_reopen(&cc, LSN(1, e2), &l2));
    uint8_t now[LOG_BLOCK];
    raw_read(c.cur, LOG_DATA_START, now, LOG_BLOCK);
    CHECK(!memcmp(now, c.file + LOG_SLOT_A + LOG_SLOT_HEAD, e2 - LOG_DATA_START));
    put_rec(l2, &c, 300);
    OK(log_flush(l2, log_end(l2)));
    CHECK(read_slotted(io, &c, &nread, &end, 0) == 0 && nread == 3);
    OK(log_close(l2));
    CHECK(read_slotted(io, &c, &nread, &end, 0) == 0 && nread == 3);
  }
  free_slotted(&c);

  /* A flush that leaves the block: [P, E) in place (one write), then its
   * slot; a torn in-place write is repaired from the other slot. */
  put_rec(lg, &t, 5000);
  n0 = esio_count(io);
  OK(log_flush(lg, log_end(lg)));
  CHECK(esio_count(io) - n0 == 3);
  uint32_t e3 = LSN_OFF(t.r[2]) + 5016;
  raw_read(t.cur, 0, t.file, FS);
  CHECK(slot_seq(t.file, LOG_SLOT_B) == 3 && slot_u32(t.file, LOG_SLOT_B, 24) == e3);
  CHECK(!memcmp(t.file + LOG_DATA_START, t.file + LOG_SLOT_A + LOG_SLOT_HEAD, e2 - LOG_DATA_START));
  crash_image(&t, "slot-only-cross", &c);
  CHECK(read_slotted(io, &c, &nread, &end, 0) == 0 && nread == 3 && end == LSN(1, e3));
  raw_write(c.cur, LOG_DATA_START, junk, LOG_BLOCK);   /* block 3 garbled by flush 3 */
  raw_write(c.cur, LOG_SLOT_B + 100, junk, 16);        /* and flush 3's slot torn */
  CHECK(read_slotted(io, &c, &nread, &end, 0) == 0 && nread == 2 && end == LSN(1, e2));
  free_slotted(&c);

  /* a small flush again (slot only), then close: everything in place */
  put_rec(lg, &t, 40);
  OK(log_flush(lg, log_end(lg)));
  raw_read(t.cur, 0, t.file, FS);
  uint32_t e4 = e3 + 56;
  CHECK(slot_u32(t.file, LOG_SLOT_A, 24) == e4);
  uint32_t b4 = e4 - e4 % LOG_BLOCK;
  CHECK(!memcmp(t.file + e3, zero, e4 - e3));
  OK(log_close(lg));
  raw_read(t.cur, 0, t.file, FS);
  CHECK(!memcmp(t.file + b4, t.file + LOG_SLOT_A + LOG_SLOT_HEAD, e4 - b4));
  raw_write(t.cur, LOG_SLOT_A, zero, LOG_BLOCK);       /* closed: in place alone holds the log */
  raw_write(t.cur, LOG_SLOT_B, zero, LOG_BLOCK);
  CHECK(read_slotted(io, &t, &nread, &end, 0) == 0 && nread == 4 && end == LSN(1, e4));
  free_slotted(&t);

  /* A B.log of the version before bit 2 (features: bits 0 and 1; bit 3
   * kept, as its records here were written seeded) is read, and a reopen
   * appends to the next generation, never to it. */
  static const int one[] = { 100, 0, -1 };
  make_slotted(io, "slot-only-old", one, &t);
  uint8_t h[LOG_HDR_SIZE];
  memcpy(h, t.file, LOG_HDR_SIZE);
  CHECK(h[56] == LOG_FEATURES_WRITTEN);
  h[56] = LOG_FEATURE_FREEPAGES | LOG_FEATURE_LVFREE | LOG_FEATURE_SEEDED;
  uint32_t crc = crc32c(0, h + 4, LOG_HDR_SIZE - 4);
  for (int b = 0; b < 4; b++) h[b] = (uint8_t)(crc >> (8 * b));
  raw_write(t.cur, 0, h, LOG_HDR_SIZE);
  CHECK(read_slotted(io, &t, &nread, &end, 0) == 0 && nread == 1);
  {
    log_config co = mkcfg(io, t.dir, FS);
    eslog *l3;
    OK(log_reopen(&co, end, &l3));
    CHECK(log_generation(l3) == 2);
    OK(log_close(l3));
    char *arch = path_of(t.dir, 1);
    uint8_t a[LOG_HDR_SIZE];
    raw_read(arch, 0, a, LOG_HDR_SIZE);
    CHECK(a[56] == (LOG_FEATURE_FREEPAGES | LOG_FEATURE_LVFREE | LOG_FEATURE_SEEDED));
    OK(log_verify_file(io, arch, PGSZ));
    free(arch);
  }
  free_slotted(&t);
  printf("log_test: slot-only: one write per flush inside a block, crash images, reopen at the end, a flush "
         "leaving the block, close, a file of the version before bit 2\n");
}

/* ---- older formats and unknown features: JET_errBadLogVersion ------------- */
static void test_versions(esio *io) {
  static const int one[] = { 100, 0, -1 };
  slotted t;
  make_slotted(io, "versions", one, &t);
  struct { uint8_t version; uint32_t features; } bad[] = { { 1, 0 }, { 2, 0 }, { 3, 0 }, { 4, 0 }, { 5, 127 },
                                                           { 5, 0x80000000u } };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint8_t h[LOG_HDR_SIZE];
    memcpy(h, t.file, LOG_HDR_SIZE);
    CHECK(h[11] == 5);
    h[11] = bad[i].version;
    for (int b = 0; b < 4; b++) h[56 + b] = (uint8_t)(bad[i].features >> (8 * b));
    uint32_t c = crc32c(0, h + 4, LOG_HDR_SIZE - 4);
    for (int b = 0; b < 4; b++) h[b] = (uint8_t)(c >> (8 * b));
    raw_write(t.cur, 0, h, LOG_HDR_SIZE);
    log_header lh;
    CHECK_ERR(log_read_header(io, t.cur, &lh), JET_errBadLogVersion);
    CHECK_ERR(read_err(io, t.dir, NULL, LSN(1, 0), LOG_READ_CURRENT, NULL), JET_errBadLogVersion);
    CHECK_ERR(read_err(io, t.dir, NULL, LSN(1, 0), LOG_READ_CURRENT | LOG_READ_RESTORE, NULL), JET_errBadLogVersion);
    CHECK_ERR(log_verify_file(io, t.cur, PGSZ), JET_errBadLogVersion);
    log_config cfg = mkcfg(io, t.dir, FS);
    eslog *lg = NULL;
    CHECK_ERR(log_reopen(&cfg, LSN(1, LOG_DATA_START), &lg), JET_errBadLogVersion);
    CHECK(lg == NULL);
    uint8_t now[FS];
    raw_read(t.cur, 0, now, FS);
    CHECK(!memcmp(now, h, LOG_HDR_SIZE) && !memcmp(now + LOG_HDR_SIZE, t.file + LOG_HDR_SIZE, FS - LOG_HDR_SIZE));
  }
  /* a wrong magic (a format after this one's) is still damage */
  uint8_t h[LOG_HDR_SIZE];
  memcpy(h, t.file, LOG_HDR_SIZE);
  h[11] = 6;
  uint32_t c = crc32c(0, h + 4, LOG_HDR_SIZE - 4);
  for (int b = 0; b < 4; b++) h[b] = (uint8_t)(c >> (8 * b));
  raw_write(t.cur, 0, h, LOG_HDR_SIZE);
  log_header lh;
  CHECK_ERR(log_read_header(io, t.cur, &lh), JET_errLogFileCorrupt);
  free_slotted(&t);
  printf("log_test: versions: formats 1 to 4 and unknown feature bits are JET_errBadLogVersion, nothing written\n");
}

int main(void) {
  snprintf(root, sizeof root, "/tmp/log_test.XXXXXX");
  CHECK(mkdtemp(root));
  unsetenv("ESE_FAULT");
  unsetenv("ESE_FAULT_COUNT");
  esio *io;
  OK(esio_new(&io));

  test_roll_syncs_written();   /* first: a small heap (its allocation failure) */
  test_names();
  char *a = subdir("a");
  expect x = {0};
  log_sig sig;
  test_stream(io, a, &x, &sig);
  test_contiguity(io, a, &sig, &x);
  test_torn(io);
  test_slots(io);
  test_slot_only(io);
  test_versions(io);
  test_limits(io);
  test_roll_window(io);
  test_end_record_checks(io);
  test_retire_foreign(io);
  test_retire_gone(io);
  test_release_foreign(io);
  test_retire_linked(io);
  test_retire_planted();
  test_hdr_ahead_clock();
  test_clock_commits();
  test_tmp_swapped(io);
  test_norenameat2();
  test_spare_emfile();
  test_recycled_roll();
  test_recycled_swapped();
  test_recycled_roll_held();
  test_crash_points(io);
  test_group_commit(io);
  test_roll_attach();
  test_faults();
  test_fault_names();

  free(x.lsn);
  free(x.id);
  free(a);
  esio_free(io);
  rm_tree(root);
  printf("log_test: ok\n");
  return 0;
}
