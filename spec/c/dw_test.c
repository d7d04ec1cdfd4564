/*
 * dw_test.c -- unit test of the double-write ring (csrc/dw.c) on real
 * files: torn batches at every 512-byte boundary, torn descriptors, the
 * wrap's data-sync hook, which image recovery picks and when it repairs,
 * header refusals, and an I/O error at each write or sync.
 *
 * Links dw, os, page, crc32c and errors only (Makefile UNIT_dw_test).
 * Prints "dw_test: ok ..." and exits 0, or "dw_test: FAIL: ..." and 1.
 * Works in a folder /tmp/ese-dw-XXXXXX, removed at the end.
 */
#define HARNESS_NAME "dw_test"
#include "harness.h"
#include "dw.h"
#include "page.h"
#include "crc32c.h"

HARNESS_SYNCS_OFF()   /* the ring's logic is tested here, not the disk's */

#define CHECK(c) \
  do { \
    if (!(c)) FAIL("%s:%d: check failed: %s", __FILE__, __LINE__, #c); \
  } while (0)
#define EXPECT(x, want) \
  do { \
    char what_[256]; \
    snprintf(what_, sizeof what_, "%s:%d: %s", __FILE__, __LINE__, #x); \
    harness_expect_err((x), (want), what_); \
  } while (0)

static char root[64];
static const uint8_t LOGSIG[16] = "log-signature-01";
static const uint8_t SIG_A[16] = "database-A-sig..";
static const uint8_t SIG_B[16] = "database-B-sig..";
static const uint8_t SIG_C[16] = "database-C-sig..";

/* ---- pages and files ------------------------------------------------------ */

/* A sealed page pgno at dbtime whose body depends on (sig, pgno, dbtime). */
static void make_page(uint8_t *pg, uint32_t psz, const uint8_t *sig, uint32_t pgno, uint64_t dbtime) {
  uint64_t h = harness_mix(harness_hash_bytes(sig, 16) ^ ((uint64_t)pgno << 32) ^ dbtime);
  memset(pg, 0, psz);
  pg[16] = PAGE_LEAF;
  for (uint32_t i = PAGE_HDR; i < psz; i += 8) {
    h = harness_mix(h + i);
    memcpy(pg + i, &h, 8);
  }
  page_seal(pg, psz, pgno, dbtime);   /* offset 8 is the page's dbtime */
}

static int page_is(const uint8_t *pg, uint32_t psz, const uint8_t *sig, uint32_t pgno, uint64_t dbtime) {
  uint8_t *want = malloc(psz);
  CHECK(want);
  make_page(want, psz, sig, pgno, dbtime);
  int same = !memcmp(pg, want, psz);
  free(want);
  return same;
}

static void raw_pwrite(const char *path, const void *buf, size_t n, uint64_t off) {
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  CHECK(fd >= 0);
  CHECK(pwrite(fd, buf, n, (off_t)off) == (ssize_t)n);
  close(fd);
}
static void raw_pread(const char *path, void *buf, size_t n, uint64_t off) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  CHECK(fd >= 0);
  CHECK(pread(fd, buf, n, (off_t)off) == (ssize_t)n);
  close(fd);
}
/* The whole file in a new buffer. */
static uint8_t *slurp(const char *path, size_t *n) {
  struct stat st;
  CHECK(stat(path, &st) == 0);
  uint8_t *b = malloc((size_t)st.st_size + 1);
  CHECK(b);
  raw_pread(path, b, (size_t)st.st_size, 0);
  *n = (size_t)st.st_size;
  return b;
}
static void put_file(const char *path, const uint8_t *b, size_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  CHECK(fd >= 0);
  CHECK(write(fd, b, n) == (ssize_t)n);
  close(fd);
}
/* Page pgno of the database file at path as the test writes it in place. */
static void put_page(const char *path, uint32_t psz, const uint8_t *sig, uint32_t pgno, uint64_t dbtime) {
  uint8_t *pg = malloc(psz);
  CHECK(pg);
  make_page(pg, psz, sig, pgno, dbtime);
  raw_pwrite(path, pg, psz, (uint64_t)pgno * psz);
  free(pg);
}
static int file_page_is(const char *path, uint32_t psz, const uint8_t *sig, uint32_t pgno, uint64_t dbtime) {
  uint8_t *pg = malloc(psz);
  CHECK(pg);
  raw_pread(path, pg, psz, (uint64_t)pgno * psz);
  int r = page_is(pg, psz, sig, pgno, dbtime);
  free(pg);
  return r;
}

/* ---- the ring --------------------------------------------------------------- */

typedef struct hook { int calls; JET_ERR fail; esfile *db; } hook;
static JET_ERR hook_fn(void *ud) {
  hook *h = ud;
  h->calls++;
  if (h->fail) return h->fail;
  return h->db ? os_sync(h->db) : JET_errSuccess;
}

static dw_config cfg_of(esio *io, const char *dir, uint32_t psz, uint64_t ring, uint32_t batch_max, hook *h) {
  dw_config c = { .io = io, .dir = dir, .base = "edb", .page_size = psz, .ring_size = ring,
                  .batch_max = batch_max, .log_sig = LOGSIG, .sync_data = hook_fn, .ud = h };
  return c;
}

static char *ring_path(const char *dir) {
  char *p = dw_file_name(dir, "edb");
  CHECK(p);
  return p;
}

static char *fresh(const char *name) {
  static char dir[256];
  return harness_fresh_dir(dir, sizeof dir, root, name);
}

/* One batch of n pages of (sig, pgno[i], dbtime[i]). */
static uint64_t write_batch(dw *d, uint32_t psz, const uint8_t *const *sig, const uint32_t *pgno, const uint64_t *dbtime,
                            size_t n, JET_ERR want) {
  dw_image v[8];
  uint8_t *pages = malloc((size_t)psz * n);
  CHECK(pages && n <= 8);
  for (size_t i = 0; i < n; i++) {
    make_page(pages + i * psz, psz, sig[i], pgno[i], dbtime[i]);
    v[i] = (dw_image){ sig[i], pgno[i], dbtime[i], pages + i * psz };
  }
  uint64_t seq = 0;
  EXPECT(dw_write(d, v, n, &seq), want);
  free(pages);
  return seq;
}
/* A batch of the pages of one database. */
static uint64_t batch1(dw *d, uint32_t psz, const uint8_t *sig, uint32_t p0, uint64_t t0, uint32_t p1, uint64_t t1, size_t n) {
  const uint8_t *s[2] = { sig, sig };
  uint32_t pg[2] = { p0, p1 };
  uint64_t t[2] = { t0, t1 };
  return write_batch(d, psz, s, pg, t, n, JET_errSuccess);
}

/* The table has (sig, pgno) at seq and dbtime (seq 0: has no entry), and
 * the image it repairs with is exactly that page, whole. */
static void expect_entry(dw *d, uint32_t psz, const uint8_t *sig, uint32_t pgno, uint64_t want_seq, uint64_t want_dbtime,
                         const char *what) {
  uint64_t seq = 0, dbtime = 0;
  int has = dw_find(d, sig, pgno, &seq, &dbtime);
  if (!want_seq) {
    if (has) FAIL("%s: page %u has an entry (seq %llu, dbtime %llu), want none", what, pgno, (unsigned long long)seq,
                  (unsigned long long)dbtime);
    return;
  }
  if (!has || seq != want_seq || dbtime != want_dbtime)
    FAIL("%s: page %u: entry %d seq %llu dbtime %llu, want seq %llu dbtime %llu", what, pgno, has,
         (unsigned long long)seq, (unsigned long long)dbtime, (unsigned long long)want_seq,
         (unsigned long long)want_dbtime);
  uint8_t *pg = malloc(psz);   /* a damaged page in place: always repaired */
  CHECK(pg);
  memset(pg, 0xA5, psz);
  int repaired = 0;
  EXPECT(dw_repair_page(d, sig, pgno, pg, &repaired), JET_errSuccess);
  if (!repaired || !page_is(pg, psz, sig, pgno, dbtime)) FAIL("%s: page %u: the image is not the page of dbtime %llu", what, pgno, (unsigned long long)dbtime);
  free(pg);
}

static dw *open_ok(const dw_config *c) {
  dw *d = NULL;
  const char *why = NULL;
  JET_ERR e = dw_open(c, &d, &why);
  if (e) FAIL("dw_open -> %s (%s)", harness_err_name(e), why ? why : "");
  CHECK(dw_state(d) == DW_RECOVERING);
  return d;
}

/* ---- cases ------------------------------------------------------------------- */

/* Header refusals: each leaves the folder exactly as it was. */
static void test_header(esio *io) {
  const char *dir = fresh("header");
  char *path = ring_path(dir);
  uint32_t psz = 4096;
  uint64_t ring = dw_min_ring_size(psz, 2);
  hook h = { 0 };
  dw_config c = cfg_of(io, dir, psz, ring, 2, &h);
  dw *d = NULL;

  dw_config bad = c;
  bad.ring_size = ring - 4096;
  EXPECT(dw_create(&bad, &d), JET_errInvalidParameter);
  bad.ring_size = ring + 512;
  EXPECT(dw_create(&bad, &d), JET_errInvalidParameter);
  bad = c;
  bad.page_size = 1000;
  EXPECT(dw_create(&bad, &d), JET_errInvalidParameter);
  CHECK(os_kind(path) == OS_ABSENT);
  EXPECT(dw_open(&c, &d, NULL), JET_errFileNotFound);

  EXPECT(dw_create(&c, &d), JET_errSuccess);
  CHECK(dw_state(d) == DW_READY && dw_ring_size(d) == ring && dw_batch_max(d) == 2);
  uint64_t seq = batch1(d, psz, SIG_A, 5, 1, 6, 1, 2);
  CHECK(seq == 1);
  dw_close(d);
  struct stat st;
  CHECK(stat(path, &st) == 0 && (uint64_t)st.st_size == DW_HDR_SIZE + ring);

  int n0;
  uint64_t d0 = harness_dir_digest(dir, &n0);
  EXPECT(dw_create(&c, &d), JET_errFileAlreadyExists);
  harness_expect_dir(dir, d0, n0, "dw_create over an existing ring");

  const char *why = NULL;
  dw_config other = c;
  other.page_size = 8192;
  EXPECT(dw_open(&other, &d, &why), JET_errPageSizeMismatch);
  CHECK(why != NULL);
  other = c;
  other.log_sig = SIG_A;
  EXPECT(dw_open(&other, &d, &why), JET_errBadLogSignature);
  harness_expect_dir(dir, d0, n0, "a refused dw_open");

  size_t n;
  uint8_t *orig = slurp(path, &n), *b = malloc(n);
  CHECK(b);
  /* not a ring: no magic in either slot */
  memcpy(b, orig, n);
  b[4] = 'X';
  b[2048 + 4] = 'X';
  put_file(path, b, n);
  EXPECT(dw_open(&c, &d, &why), JET_errFileInvalidType);
  /* one slot damaged (a torn dw_discard): the other one serves */
  memcpy(b, orig, n);
  b[100] ^= 1;
  put_file(path, b, n);
  d = open_ok(&c);
  expect_entry(d, psz, SIG_A, 5, 1, 1, "one header slot damaged");
  dw_close(d);
  memcpy(b, orig, n);
  b[2048 + 100] ^= 1;
  put_file(path, b, n);
  dw_close(open_ok(&c));
  /* both damaged */
  b[100] ^= 1;
  put_file(path, b, n);
  EXPECT(dw_open(&c, &d, &why), JET_errReadVerifyFailure);
  /* a newer format version, checksums right */
  memcpy(b, orig, n);
  for (int s = 0; s < 2; s++) {
    put32(b + s * 2048 + 12, DW_VERSION + 1);
    put32(b + s * 2048, crc32c(0, b + s * 2048 + 4, 2044));
  }
  put_file(path, b, n);
  EXPECT(dw_open(&c, &d, &why), JET_errFileInvalidType);
  /* slots that disagree (another ring size in one) */
  memcpy(b, orig, n);
  put64(b + 2048 + 24, ring * 2);
  put32(b + 2048, crc32c(0, b + 2048 + 4, 2044));
  put_file(path, b, n);
  EXPECT(dw_open(&c, &d, &why), JET_errReadVerifyFailure);
  /* cut short, and grown */
  put_file(path, orig, n - 4096);
  EXPECT(dw_open(&c, &d, &why), JET_errReadVerifyFailure);
  put_file(path, orig, n);
  raw_pwrite(path, "x", 1, n);
  EXPECT(dw_open(&c, &d, &why), JET_errReadVerifyFailure);
  put_file(path, orig, 100);   /* slot 0's magic, its checksum cut off */
  EXPECT(dw_open(&c, &d, &why), JET_errReadVerifyFailure);
  put_file(path, orig, 0);
  EXPECT(dw_open(&c, &d, &why), JET_errFileInvalidType);
  put_file(path, orig, n);
  int n1;
  uint64_t d1 = harness_dir_digest(dir, &n1);
  /* each refusal above read only; the last state opens as before */
  d = open_ok(&c);
  expect_entry(d, psz, SIG_A, 6, 1, 1, "restored ring");
  dw_close(d);
  harness_expect_dir(dir, d1, n1, "dw_open and recovery lookups");
  free(b);
  free(orig);
  free(path);
}

/* A batch torn at every 512-byte boundary of its write, the new bytes at
 * the head (the rest old), at the tail, or at the head with 512 bytes of
 * noise at the cut.  The batch overwrites an older one of the same layout,
 * whose descriptor survives a tail cut: its image slots then hold the new
 * batch's images, which verify as pages but are not the ones it names. */
static int test_torn_batch(esio *io) {
  const char *dir = fresh("torn");
  char *path = ring_path(dir), db[300];
  harness_in(db, sizeof db, dir, "a.edb");
  uint32_t psz = 4096;
  uint64_t ring = dw_min_ring_size(psz, 2), blen = DW_DESC_SIZE + 2 * psz;
  hook h = { 0 };
  dw_config c = cfg_of(io, dir, psz, ring, 2, &h);
  dw *d = NULL;
  EXPECT(dw_create(&c, &d), JET_errSuccess);
  /* pages 3, 4 (A, B) and 7, 8 (C, D) of database A */
  CHECK(batch1(d, psz, SIG_A, 3, 1, 4, 1, 2) == 1);   /* ring offset 0 */
  put_page(db, psz, SIG_A, 3, 1);
  put_page(db, psz, SIG_A, 4, 1);
  CHECK(batch1(d, psz, SIG_A, 7, 5, 8, 5, 2) == 2);   /* at blen */
  put_page(db, psz, SIG_A, 7, 5);
  put_page(db, psz, SIG_A, 8, 5);
  size_t n;
  uint8_t *before = slurp(path, &n);
  CHECK(h.calls == 0);
  CHECK(batch1(d, psz, SIG_A, 3, 9, 4, 9, 2) == 3);   /* wraps over batch 1 */
  CHECK(h.calls == 1 && dw_synced_seq(d) == 2);        /* batch 1 in place made durable first */
  dw_close(d);
  uint8_t *after = slurp(path, &n), *b = malloc(n);
  CHECK(b);
  /* In place at the crash: pages 3, 4 at dbtime 1 (synced by the hook), 7
   * torn (its write of batch 2 in flight), 8 at 5. */
  uint8_t torn[4096];
  make_page(torn, psz, SIG_A, 7, 5);
  memset(torn + 2048, 0x5A, 2048);
  raw_pwrite(db, torn, psz, 7ull * psz);
  size_t dbn;
  uint8_t *db0 = slurp(db, &dbn);

  int points = 0;
  for (int mode = 0; mode < 3; mode++) {   /* 0 head, 1 tail, 2 head + noise */
    for (uint64_t cut = 512; cut < blen; cut += 512) {
      memcpy(b, before, n);
      uint64_t at = DW_HDR_SIZE;   /* batch 3 is at ring offset 0 */
      if (mode == 1) memcpy(b + at + cut, after + at + cut, blen - cut);
      else memcpy(b + at, after + at, cut);
      if (mode == 2)
        for (uint64_t i = 0; i < 512 && cut + i < blen; i++) b[at + cut + i] = (uint8_t)harness_mix(cut * 1000 + i);
      put_file(path, b, n);
      put_file(db, db0, dbn);
      char what[64];
      snprintf(what, sizeof what, "mode %d cut %llu", mode, (unsigned long long)cut);
      dw *r = open_ok(&c);
      /* (a head cut before 4096 but past the entries leaves a descriptor
       * that is whole in effect, the rest being zeros in both; its image
       * slots then hold batch 1's images, which the entries' checksums
       * reject: the expectations below are the same) */
      int desc_new = mode != 1 && cut >= DW_DESC_SIZE;
      int old_desc = mode == 1 && cut >= DW_DESC_SIZE;     /* batch 1's descriptor still whole */
      /* page 3: batch 3's image when it is whole; batch 1's when the tail
       * cut left it whole (cut at or past its end); else none */
      if (desc_new && cut >= DW_DESC_SIZE + psz) expect_entry(r, psz, SIG_A, 3, 3, 9, what);
      else if (old_desc && cut >= DW_DESC_SIZE + psz) expect_entry(r, psz, SIG_A, 3, 1, 1, what);
      else expect_entry(r, psz, SIG_A, 3, 0, 0, what);
      /* page 4: batch 3's image is never whole (the last cut is 512 bytes
       * short); batch 1's is overwritten at least in part */
      expect_entry(r, psz, SIG_A, 4, 0, 0, what);
      /* batch 2 is untouched: the state before the torn batch */
      expect_entry(r, psz, SIG_A, 7, 2, 5, what);
      expect_entry(r, psz, SIG_A, 8, 2, 5, what);
      esfile *f;
      EXPECT(os_open(io, db, OS_WRITE, &f), JET_errSuccess);
      uint32_t fixed = 0;
      EXPECT(dw_repair_file(r, SIG_A, f, &fixed), JET_errSuccess);
      os_close(f);
      CHECK(fixed == 1);   /* page 7; page 3 is whole in place: left (the log moves it forward) */
      CHECK(file_page_is(db, psz, SIG_A, 3, 1));
      CHECK(file_page_is(db, psz, SIG_A, 4, 1));
      CHECK(file_page_is(db, psz, SIG_A, 7, 5));
      CHECK(file_page_is(db, psz, SIG_A, 8, 5));
      dw_close(r);
      points++;
    }
  }
  free(b);
  free(before);
  free(after);
  free(db0);
  free(path);
  return points;
}

/* A damaged descriptor drops its whole batch; a damaged image only itself. */
static void test_torn_descriptor(esio *io) {
  const char *dir = fresh("desc");
  char *path = ring_path(dir);
  uint32_t psz = 8192;
  hook h = { 0 };
  dw_config c = cfg_of(io, dir, psz, dw_min_ring_size(psz, 2) * 2, 2, &h);
  dw *d = NULL;
  EXPECT(dw_create(&c, &d), JET_errSuccess);
  batch1(d, psz, SIG_A, 10, 4, 11, 4, 2);
  batch1(d, psz, SIG_A, 10, 6, 12, 6, 2);
  dw_close(d);
  uint64_t b2 = DW_HDR_SIZE + DW_DESC_SIZE + 2 * psz;   /* file offset of batch 2 */
  size_t n;
  uint8_t *orig = slurp(path, &n);
  uint8_t x = orig[b2 + 600];   /* inside batch 2's entry table */
  raw_pwrite(path, (uint8_t[]){ (uint8_t)(x ^ 0x10) }, 1, b2 + 600);
  d = open_ok(&c);
  expect_entry(d, psz, SIG_A, 10, 1, 4, "batch 2's descriptor damaged");
  expect_entry(d, psz, SIG_A, 11, 1, 4, "batch 2's descriptor damaged");
  expect_entry(d, psz, SIG_A, 12, 0, 0, "batch 2's descriptor damaged");
  CHECK(dw_entries(d) == 2);
  dw_close(d);
  put_file(path, orig, n);
  raw_pwrite(path, "!", 1, b2 + DW_DESC_SIZE + psz + 100);   /* batch 2's second image (page 12) */
  d = open_ok(&c);
  expect_entry(d, psz, SIG_A, 10, 2, 6, "batch 2's image of page 12 damaged");
  expect_entry(d, psz, SIG_A, 11, 1, 4, "batch 2's image of page 12 damaged");
  expect_entry(d, psz, SIG_A, 12, 0, 0, "batch 2's image of page 12 damaged");
  /* an image that changes after the scan is refused, the page left as it was */
  raw_pwrite(path, "!", 1, b2 + DW_DESC_SIZE + 100);   /* batch 2's image of page 10 */
  uint8_t *pg = malloc(psz);   /* a damaged page in place */
  CHECK(pg);
  memset(pg, 0xA5, psz);
  int repaired = 1;
  EXPECT(dw_repair_page(d, SIG_A, 10, pg, &repaired), JET_errReadVerifyFailure);
  CHECK(repaired == 0 && pg[0] == 0xA5 && pg[100] == 0xA5);
  free(pg);
  dw_close(d);
  free(orig);
  free(path);
}

/* Wrapping: the hook runs exactly when a batch whose in-place writes may
 * not be durable is about to be overwritten; a failing hook leaves the
 * ring as it was. */
static void test_wrap(esio *io) {
  const char *dir = fresh("wrap");
  char *path = ring_path(dir);
  uint32_t psz = 4096;   /* a batch of 1 image is 8 KiB, of 2 images 12 KiB */
  hook h = { 0 };
  dw_config c = cfg_of(io, dir, psz, 40960, 2, &h);   /* 40 KiB */
  dw *d = NULL;
  EXPECT(dw_create(&c, &d), JET_errSuccess);
  CHECK(batch1(d, psz, SIG_A, 1, 1, 2, 1, 2) == 1);   /* [0, 12K) */
  uint64_t ev = esio_count(io);
  CHECK(batch1(d, psz, SIG_A, 3, 2, 0, 0, 1) == 2);   /* [12K, 20K) */
  CHECK(esio_count(io) - ev == 2);                     /* one write, one sync */
  CHECK(batch1(d, psz, SIG_A, 4, 3, 5, 3, 2) == 3);   /* [20K, 32K) */
  CHECK(batch1(d, psz, SIG_A, 6, 4, 0, 0, 1) == 4);   /* [32K, 40K) */
  CHECK(h.calls == 0 && dw_synced_seq(d) == 0);
  /* wraps over batch 1 (not durable in place): the hook first */
  ev = esio_count(io);
  CHECK(batch1(d, psz, SIG_A, 1, 5, 0, 0, 1) == 5);   /* [0, 8K) */
  CHECK(esio_count(io) - ev == 2);
  CHECK(h.calls == 1 && dw_synced_seq(d) == 4);
  /* over batches 2, 3, 4 (durable since the hook): no hook */
  CHECK(batch1(d, psz, SIG_A, 7, 6, 8, 6, 2) == 6);   /* [8K, 20K) */
  CHECK(batch1(d, psz, SIG_A, 9, 7, 0, 0, 1) == 7);   /* [20K, 28K) */
  CHECK(batch1(d, psz, SIG_A, 10, 8, 11, 8, 2) == 8); /* [28K, 40K) */
  CHECK(h.calls == 1);
  /* wraps over batches 5 and 6 (not durable): the hook fails, nothing is
   * written, the ring stays usable */
  size_t n, n2;
  uint8_t *pre = slurp(path, &n);
  h.fail = JET_errDiskIO;
  const uint8_t *s[2] = { SIG_A, SIG_A };
  uint32_t pg[2] = { 12, 13 };
  uint64_t t[2] = { 9, 9 };
  write_batch(d, psz, s, pg, t, 2, JET_errDiskIO);
  CHECK(h.calls == 2 && dw_state(d) == DW_READY && dw_last_seq(d) == 8);
  uint8_t *post = slurp(path, &n2);
  CHECK(n2 == n && !memcmp(pre, post, n));
  free(pre);
  free(post);
  h.fail = 0;
  CHECK(write_batch(d, psz, s, pg, t, 2, JET_errSuccess) == 9);   /* [0, 12K) */
  CHECK(h.calls == 3 && dw_synced_seq(d) == 8);
  CHECK(batch1(d, psz, SIG_A, 30, 10, 0, 0, 1) == 10);   /* [12K, 20K) */
  CHECK(batch1(d, psz, SIG_A, 31, 11, 0, 0, 1) == 11);   /* [20K, 28K) */
  CHECK(batch1(d, psz, SIG_A, 32, 12, 33, 12, 2) == 12); /* [28K, 40K) */
  CHECK(h.calls == 3);
  /* the caller made the databases durable itself (a checkpoint): the next
   * wrap over batch 9 needs no hook */
  dw_note_synced(d);
  CHECK(dw_synced_seq(d) == 12);
  CHECK(batch1(d, psz, SIG_A, 1, 13, 0, 0, 1) == 13);   /* [0, 8K) */
  CHECK(h.calls == 3);
  /* too many images, or none: refused, nothing written */
  dw_image none[3];
  uint64_t seq;
  EXPECT(dw_write(d, none, 0, &seq), JET_errInvalidParameter);
  EXPECT(dw_write(d, none, 3, &seq), JET_errInvalidParameter);
  CHECK(dw_last_seq(d) == 13);
  dw_close(d);
  /* What is left: batches 13, 10, 11, 12 (9's descriptor is overwritten) */
  d = open_ok(&c);
  expect_entry(d, psz, SIG_A, 1, 13, 13, "after the wraps");
  expect_entry(d, psz, SIG_A, 30, 10, 10, "after the wraps");
  expect_entry(d, psz, SIG_A, 31, 11, 11, "after the wraps");
  expect_entry(d, psz, SIG_A, 32, 12, 12, "after the wraps");
  expect_entry(d, psz, SIG_A, 33, 12, 12, "after the wraps");
  expect_entry(d, psz, SIG_A, 12, 0, 0, "after the wraps");
  CHECK(dw_entries(d) == 5);
  /* numbering goes on after a reopen */
  EXPECT(dw_discard(d), JET_errSuccess);
  CHECK(batch1(d, psz, SIG_A, 1, 14, 0, 0, 1) == 14);
  dw_close(d);
  free(path);
}

/* Which image wins, when recovery repairs, and databases it does not know. */
static void test_choice_and_repair(esio *io) {
  const char *dir = fresh("choice");
  char db[300], dbb[300];
  harness_in(db, sizeof db, dir, "a.edb");
  harness_in(dbb, sizeof dbb, dir, "b.edb");
  uint32_t psz = 8192;
  hook h = { 0 };
  dw_config c = cfg_of(io, dir, psz, DW_DEFAULT_SIZE, 0, &h);
  dw *d = NULL;
  uint64_t ev = esio_count(io);
  EXPECT(dw_create(&c, &d), JET_errSuccess);
  /* the ring's room reserved (os_reserve: no event) or, where the file
   * system cannot, zeros in 1 MiB writes; the header, its sync, the
   * rename, the folder sync */
  CHECK(esio_count(io) - ev == (harness_can_reserve(dir) ? 0 : DW_DEFAULT_SIZE / (1u << 20)) + 4);
  CHECK(dw_batch_max(d) == DW_MAX_IMAGES);
  /* page 20: dbtime 5 then 9 -> 9; page 21: 9 then 7 (seq decides) -> 7 */
  batch1(d, psz, SIG_A, 20, 5, 21, 9, 2);
  batch1(d, psz, SIG_A, 20, 9, 21, 7, 2);
  /* pages 30..35 of A and the same numbers of B and C in one batch */
  const uint8_t *s[8] = { SIG_A, SIG_A, SIG_A, SIG_A, SIG_A, SIG_A, SIG_B, SIG_C };
  uint32_t pg[8] = { 30, 31, 32, 33, 34, 35, 30, 31 };
  uint64_t t[8] = { 5, 5, 5, 5, 5, 5, 50, 60 };
  write_batch(d, psz, s, pg, t, 8, JET_errSuccess);
  dw_close(d);
  /* in place: 20 at 7 (older, whole: left), 21 at 8 (newer: left), 30 at 3
   * (older, whole: left), 31 at 8 (newer), 32 at 5 (equal), 33 torn, 34 with another
   * page's number in it, 35 past the end of the file (all zeros: left to
   * the log) */
  put_page(db, psz, SIG_A, 20, 7);
  put_page(db, psz, SIG_A, 21, 8);
  put_page(db, psz, SIG_A, 30, 3);
  put_page(db, psz, SIG_A, 31, 8);
  put_page(db, psz, SIG_A, 32, 5);
  uint8_t pgbuf[8192];
  make_page(pgbuf, psz, SIG_A, 33, 5);
  pgbuf[5000] ^= 0xFF;
  raw_pwrite(db, pgbuf, psz, 33ull * psz);
  make_page(pgbuf, psz, SIG_A, 99, 5);
  raw_pwrite(db, pgbuf, psz, 34ull * psz);
  put_page(dbb, psz, SIG_B, 30, 70);   /* B's page 30 newer than the ring's */

  d = open_ok(&c);
  expect_entry(d, psz, SIG_A, 20, 2, 9, "newest seq");
  expect_entry(d, psz, SIG_A, 21, 2, 7, "newest seq, lower dbtime");
  expect_entry(d, psz, SIG_B, 30, 3, 50, "database B");
  expect_entry(d, psz, SIG_C, 31, 3, 60, "database C");
  expect_entry(d, psz, SIG_B, 31, 0, 0, "no such page of B");
  CHECK(dw_entries(d) == 10);

  esfile *f;
  uint32_t fixed = 0;
  /* a database the ring has nothing of: untouched */
  char dbx[300];
  harness_in(dbx, sizeof dbx, dir, "x.edb");
  put_page(dbx, psz, SIG_A, 30, 1);   /* A's bytes, but the database is another */
  int n0;
  uint64_t d0 = harness_dir_digest(dir, &n0);
  static const uint8_t SIG_X[16] = "database-X-sig..";
  EXPECT(os_open(io, dbx, OS_WRITE, &f), JET_errSuccess);
  EXPECT(dw_repair_file(d, SIG_X, f, &fixed), JET_errSuccess);
  os_close(f);
  CHECK(fixed == 0);
  harness_expect_dir(dir, d0, n0, "repair of a database the ring does not hold");
  /* B: its page 30 in place is newer: left alone; B's images never go to A */
  EXPECT(os_open(io, dbb, OS_WRITE, &f), JET_errSuccess);
  EXPECT(dw_repair_file(d, SIG_B, f, &fixed), JET_errSuccess);
  os_close(f);
  CHECK(fixed == 0 && file_page_is(dbb, psz, SIG_B, 30, 70));
  /* A */
  EXPECT(os_open(io, db, OS_WRITE, &f), JET_errSuccess);
  ev = esio_count(io);
  EXPECT(dw_repair_file(d, SIG_A, f, &fixed), JET_errSuccess);
  os_close(f);
  CHECK(fixed == 2);   /* 33, 34 */
  CHECK(esio_count(io) - ev == 3);   /* their writes, one sync */
  CHECK(file_page_is(db, psz, SIG_A, 20, 7));
  CHECK(file_page_is(db, psz, SIG_A, 21, 8));
  CHECK(file_page_is(db, psz, SIG_A, 30, 3));
  CHECK(file_page_is(db, psz, SIG_A, 31, 8));
  CHECK(file_page_is(db, psz, SIG_A, 32, 5));
  CHECK(file_page_is(db, psz, SIG_A, 33, 5));
  CHECK(file_page_is(db, psz, SIG_A, 34, 5));
  uint64_t dbsize = 0;
  EXPECT(os_open(io, db, OS_READ, &f), JET_errSuccess);
  EXPECT(os_size(f, &dbsize), JET_errSuccess);
  os_close(f);
  CHECK(dbsize == 35ull * psz);   /* page 35 not written past the end */
  /* a second pass repairs nothing */
  EXPECT(os_open(io, db, OS_WRITE, &f), JET_errSuccess);
  EXPECT(dw_repair_file(d, SIG_A, f, &fixed), JET_errSuccess);
  os_close(f);
  CHECK(fixed == 0);

  /* dw_discard: every batch dead, numbering goes on, the ring starts over */
  ev = esio_count(io);
  EXPECT(dw_discard(d), JET_errSuccess);
  CHECK(esio_count(io) - ev == 2);   /* one header slot, one sync */
  CHECK(dw_state(d) == DW_READY && dw_entries(d) == 0);
  CHECK(batch1(d, psz, SIG_A, 40, 11, 0, 0, 1) == 4);
  dw_close(d);
  d = open_ok(&c);
  expect_entry(d, psz, SIG_A, 40, 4, 11, "after dw_discard");
  expect_entry(d, psz, SIG_A, 20, 0, 0, "after dw_discard");
  CHECK(dw_entries(d) == 1);
  EXPECT(dw_discard(d), JET_errSuccess);
  EXPECT(dw_discard(d), JET_errSuccess);   /* READY -> READY */
  dw_close(d);
  d = open_ok(&c);
  CHECK(dw_entries(d) == 0);
  dw_close(d);
}

/* ---- I/O errors ---------------------------------------------------------------- */

/* Make a ring, write batches with in-place writes and a wrap (the hook
 * syncs the database), reopen, repair, discard.  The first error. */
static JET_ERR scenario(esio *io, const char *dir) {
  char db[300];
  harness_in(db, sizeof db, dir, "a.edb");
  uint32_t psz = 4096;
  hook h = { 0 };
  dw_config c = cfg_of(io, dir, psz, dw_min_ring_size(psz, 2), 2, &h);
  dw *d = NULL;
  JET_ERR e = os_create_new(io, db, &h.db);
  if (e) return e;
  uint8_t pg[4096];
  if (!(e = dw_create(&c, &d))) {
    for (uint32_t i = 0; !e && i < 3; i++) {
      dw_image v[2];
      uint8_t pages[2][4096];
      for (uint32_t k = 0; k < 2; k++) {
        make_page(pages[k], psz, SIG_A, 2 * i + k, 10 + i);
        v[k] = (dw_image){ SIG_A, 2 * i + k, 10 + i, pages[k] };
      }
      uint64_t seq;
      if (!(e = dw_write(d, v, 2, &seq)))
        for (uint32_t k = 0; !e && k < 2; k++) e = os_pwrite(h.db, pages[k], psz, (uint64_t)(2 * i + k) * psz);
    }
    dw_close(d);
    d = NULL;
  }
  if (!e) {
    make_page(pg, psz, SIG_A, 5, 12);
    pg[3000] ^= 1;   /* page 5 torn in place */
    e = os_pwrite(h.db, pg, psz, 5ull * psz);
  }
  if (!e) e = dw_open(&c, &d, NULL);
  uint32_t fixed = 0;
  if (!e && !(e = dw_repair_file(d, SIG_A, h.db, &fixed)) && fixed != 1) e = JET_errInvalidParameter;
  if (!e) e = dw_discard(d);
  if (d) dw_close(d);
  os_close(h.db);
  return e;
}

static int test_io_errors(void) {
  char dir[300];
  unsetenv("ESE_FAULT");
  esio *io;
  EXPECT(esio_new(&io), JET_errSuccess);
  harness_fresh_dir(dir, sizeof dir, root, "faults");
  EXPECT(scenario(io, dir), JET_errSuccess);
  int events = (int)esio_count(io);
  CHECK(esio_open_files(io) == 0);
  esio_free(io);
  CHECK(events > 10);
  static const char *const kinds[] = { "eio:%d", "enospc:%d", "eio:%d+" };
  int runs = 0;
  for (int kind = 0; kind < 3; kind++)
    for (int k = 1; k <= events; k++) {
      char spec[32];
      snprintf(spec, sizeof spec, kinds[kind], k);
      setenv("ESE_FAULT", spec, 1);
      EXPECT(esio_new(&io), JET_errSuccess);
      harness_fresh_dir(dir, sizeof dir, root, "faults");
      JET_ERR e = scenario(io, dir);
      JET_ERR want = kind == 1 ? JET_errDiskFull : JET_errDiskIO;
      if (e != want) FAIL("%s: the scenario returned %s (%ld), want %s", spec, harness_err_name(e), (long)e, harness_err_name(want));
      CHECK(esio_open_files(io) == 0);
      esio_free(io);
      runs++;
    }
  unsetenv("ESE_FAULT");
  return runs;
}

/* Recovery's own writes (dw_write while RECOVERING): after the newest
 * batch, never over the images of a database not repaired yet (the batch
 * goes past them; refused when there is no such place), a sync before the
 * images of a repaired one are overwritten; a later dw_open prefers them. */
static void test_recovery_writes(esio *io) {
  const char *dir = fresh("recwrite");
  char db[300];
  harness_in(db, sizeof db, dir, "a.edb");
  uint32_t psz = 4096;
  uint64_t ring = 3 * (DW_DESC_SIZE + 2ull * psz);   /* three batches of two */
  hook h = { 0 };
  dw_config c = cfg_of(io, dir, psz, ring, 2, &h);
  dw *d = NULL;
  EXPECT(dw_create(&c, &d), JET_errSuccess);
  batch1(d, psz, SIG_A, 5, 1, 6, 1, 2);   /* seq 1 at 0 */
  batch1(d, psz, SIG_B, 5, 2, 6, 2, 2);   /* seq 2 */
  batch1(d, psz, SIG_A, 7, 3, 8, 3, 2);   /* seq 3, ending at the ring's end */
  dw_close(d);
  put_page(db, psz, SIG_A, 5, 1);
  put_page(db, psz, SIG_A, 6, 1);
  put_page(db, psz, SIG_A, 7, 3);
  put_page(db, psz, SIG_A, 8, 3);

  d = open_ok(&c);
  /* the next batch goes to offset 0, over seq 1: A not repaired yet */
  CHECK(dw_may_write(d, 1) == 0);
  CHECK(h.calls == 0);
  const uint8_t *sa[1] = { SIG_A };
  uint32_t p5[1] = { 5 };
  uint64_t t10[1] = { 10 };
  int n0;
  uint64_t d0 = harness_dir_digest(dir, &n0);
  write_batch(d, psz, sa, p5, t10, 1, JET_errInvalidParameter);
  harness_expect_dir(dir, d0, n0, "a refused recovery write");
  expect_entry(d, psz, SIG_A, 5, 1, 1, "before the repair");
  esfile *f;
  EXPECT(os_open(io, db, OS_WRITE, &f), JET_errSuccess);
  uint32_t fixed = 9;
  EXPECT(dw_repair_file(d, SIG_A, f, &fixed), JET_errSuccess);
  CHECK(fixed == 0);
  h.db = f;
  /* A repaired: seq 1 may go; the images it held are synced first */
  CHECK(dw_may_write(d, 2) == 1);
  CHECK(batch1(d, psz, SIG_A, 5, 10, 6, 10, 2) == 4);
  CHECK(h.calls == 1);
  expect_entry(d, psz, SIG_A, 5, 0, 0, "an overwritten image");
  expect_entry(d, psz, SIG_A, 7, 3, 3, "an image not overwritten");
  /* the next place holds seq 2, and B was never repaired: the batch skips
   * it and goes over seq 3 (A's, synced first) */
  CHECK(batch1(d, psz, SIG_A, 7, 11, 8, 11, 2) == 5);
  CHECK(h.calls == 2);
  expect_entry(d, psz, SIG_A, 7, 0, 0, "an overwritten image");
  dw_close(d);
  os_close(f);

  d = open_ok(&c);
  expect_entry(d, psz, SIG_A, 5, 4, 10, "recovery's image");
  expect_entry(d, psz, SIG_A, 6, 4, 10, "recovery's image");
  expect_entry(d, psz, SIG_B, 5, 2, 2, "B's image kept");
  expect_entry(d, psz, SIG_B, 6, 2, 2, "B's image kept");
  expect_entry(d, psz, SIG_A, 8, 5, 11, "recovery's image placed after B's");
  EXPECT(dw_discard(d), JET_errSuccess);
  CHECK(batch1(d, psz, SIG_A, 5, 12, 0, 0, 1) == 6);
  dw_close(d);
}

int main(void) {
  harness_tempdir(root, sizeof root, "dw");
  esio *io;
  EXPECT(esio_new(&io), JET_errSuccess);
  test_header(io);
  int points = test_torn_batch(io);
  test_torn_descriptor(io);
  test_wrap(io);
  test_choice_and_repair(io);
  test_recovery_writes(io);
  CHECK(esio_open_files(io) == 0);
  esio_free(io);
  int faults = test_io_errors();
  if (harness_rm_rf(root) != 0) FAIL("cannot remove %s", root);
  printf("dw_test: ok %d torn-batch points, %d fault runs\n", points, faults);
  return 0;
}
