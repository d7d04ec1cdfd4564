/*
 * redo_dbtime.c -- replay (csrc/redo.c) of page records onto database
 * format 2 pages, whose version is the dbtime at page offset 8.  The
 * records are fed to redo_apply directly (no log files) against a real
 * database the engine made (app.edb: created, 20 records, clean term).
 * Every case works on the space page (page 2), changing byte 100 of it.
 *
 *   apply  control: an LR_PAGEDIFF whose base is the page's dbtime, then
 *          an LR_COMMIT giving the database T = dbtime_last + 1: the page
 *          gets the byte and carries T, and redo_finish writes the header
 *          with dbtime_last = T (max(header, every T replayed)).
 *   newer  the page is newer than the difference's base (base one below
 *          its dbtime), and
 *   older  older (base one above): the commit fails with
 *          JET_errLogFileCorrupt (a restore: JET_errLogCorruptDuringHardRestore)
 *          whose detail names the page, never a silent misapply; the file
 *          is byte for byte unchanged.
 *   image  an LR_PAGE whose image carries another dbtime than its
 *          commit's T: refused alike, the file unchanged.
 *   old    a group as a log written before database format 2 holds it (an
 *          LR_PAGEDIFF of 32-byte header: stamp and base LSNs, and a
 *          12-byte LR_COMMIT without database times), its base field even
 *          equal to the page's dbtime: refused at the commit (the detail
 *          says the commit carries no database times), the file unchanged.
 *   none   a commit that gives the page's database no T: refused alike.
 *   check  EseGetFileInfo with verify reports format 2 and dbtime_last;
 *          once the header's dbtime_last is below page 2's dbtime, it is
 *          JET_errDatabaseCorrupted naming the page (without verify the
 *          header alone still reads).
 *
 * usage: redo_dbtime   prints "redo_dbtime: <case>: ok" per case and
 * "redo_dbtime: ok" at the end, exit 0; else a FAIL line, exit 1.
 */
#define HARNESS_NAME "redo_dbtime"
#include "harness.h"
#include "internal.h"
#include "page.h"
#include "redo.h"

#define PAGE_SIZE 8192
#define SPACE 2
#define BYTE_AT 100

static char dir[4096], dbpath[4200];
static dbheader hdr;        /* app.edb's header after set-up */
static uint64_t dbtime2;    /* the space page's dbtime after set-up */

static void say_ok(const char *what) {
  printf("redo_dbtime: %s: ok\n", what);
  fflush(stdout);
}

static void read_page(uint32_t pgno, uint8_t *out) {
  int fd = open(dbpath, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || pread(fd, out, PAGE_SIZE, (off_t)pgno * PAGE_SIZE) != PAGE_SIZE) FAIL("read %s", dbpath);
  close(fd);
}

static void read_header(dbheader *h) {
  esio *io;
  esfile *f;
  CK(esio_new(&io));
  CK(os_open(io, dbpath, OS_READ, &f));
  CK(dbheader_read(f, PAGE_SIZE, h));
  os_close(f);
  esio_free(io);
}

/* app.edb in a new folder: created, table "t" with 20 records, clean term. */
static void setup(void) {
  harness_tempdir(dir, sizeof dir, "redo_dbtime");
  harness_in(dbpath, sizeof dbpath, dir, "app.edb");
  JET_INSTANCE inst;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  char name[64];
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "redo_dbtime"), dir, 0, 0));
  CK(JetInit(&inst));
  CK(harness_create_table(inst, dbpath, "t", &s, &db, &t));
  harness_put_keys(s, t, "k", 0, 20);
  CK(JetEndSession(s, 0));
  CK(JetTerm2(inst, JET_bitTermComplete));
  read_header(&hdr);
  uint8_t pg[PAGE_SIZE];
  read_page(SPACE, pg);
  if (page_verify(pg, PAGE_SIZE, SPACE) != PAGE_OK) FAIL("page 2 of %s does not verify", dbpath);
  dbtime2 = page_dbtime(pg);
  if (hdr.state != DB_CLEAN || dbtime2 == 0 || dbtime2 > hdr.dbtime_last || pg[BYTE_AT] != 0)
    FAIL("set-up: state %u, page 2 dbtime %llu, dbtime_last %llu, byte %u", (unsigned)hdr.state,
         (unsigned long long)dbtime2, (unsigned long long)hdr.dbtime_last, (unsigned)pg[BYTE_AT]);
}

/* A replay of app.edb (id 1) as soft recovery (restore 0) or a restore. */
static redo *start(esio **io, int restore, char *detail, size_t cap) {
  CK(esio_new(io));
  redo_cfg cfg = { .io = *io, .page_size = PAGE_SIZE, .restore = restore, .detail = detail, .detail_cap = cap };
  memcpy(cfg.sig.b, hdr.log_sig, 16);
  redo *r;
  CK(redo_new(&cfg, &r));
  log_attach a = { 1, dbpath, NULL, { 0 } };
  memcpy(a.sig, hdr.db_sig, 16);
  CK(redo_attach(r, &a));
  return r;
}

static JET_ERR feed(redo *r, uint8_t type, const uint8_t *payload, uint32_t len, uint32_t off) {
  log_record rec = { LSN(1, 4096 + off), type, payload, len };
  return redo_apply(r, &rec);
}

/* An LR_PAGEDIFF of page 2 (txid 7) setting byte BYTE_AT to 0x55 against
 * base; the 24-byte header of format 2, or (old) the 32 bytes of stamp and
 * base LSNs written before it.  Returns the payload length. */
static uint32_t diff_rec(uint8_t *p, uint64_t base, int old) {
  uint32_t h = old ? 32 : 24;
  put32(p, 1);
  put32(p + 4, SPACE);
  put64(p + 8, 7);
  if (old) {
    put64(p + 16, LSN(1, 8192));   /* the stamp lsn */
    put64(p + 24, base);           /* the base */
  } else {
    put64(p + 16, base);
  }
  put16(p + h, BYTE_AT);
  put16(p + h + 2, 1);
  p[h + 4] = 0x55;
  return h + 5;
}

/* An LR_COMMIT of txid 7 and one page record giving database dbid time T
 * (format 2), or the 12 bytes of before (old). */
static uint32_t commit_rec(uint8_t *p, uint32_t dbid, uint64_t T, int old) {
  put64(p, 7);
  put32(p + 8, 1);
  if (old) return 12;
  put32(p + 12, 1);
  put32(p + 16, dbid);
  put64(p + 20, T);
  return 28;
}

/* Replays a page record then a commit; expects want and, on failure, the
 * detail to hold needle and every byte of the folder to be as it was. */
static void expect_refused(const char *what, int restore, uint8_t ptype, const uint8_t *prec, uint32_t plen,
                           const uint8_t *crec, uint32_t clen, const char *needle) {
  int n0;
  uint64_t d0 = harness_dir_digest(dir, &n0);
  esio *io;
  char detail[600] = "";
  redo *r = start(&io, restore, detail, sizeof detail);
  JET_ERR e = feed(r, ptype, prec, plen, 0);
  if (e == JET_errSuccess) e = feed(r, LR_COMMIT, crec, clen, 16384);
  JET_ERR want = restore ? JET_errLogCorruptDuringHardRestore : JET_errLogFileCorrupt;
  if (e != want) FAIL("%s: replay gave %s, not %s (%s)", what, harness_err_name(e), harness_err_name(want), detail);
  if (!strstr(detail, needle)) FAIL("%s: the detail \"%s\" does not say \"%s\"", what, detail, needle);
  CK(redo_finish(r, 0, 1));
  redo_free(r);
  esio_free(io);
  harness_expect_dir(dir, d0, n0, what);
  say_ok(what);
}

int main(void) {
  harness_start(60);
  setup();
  uint8_t p[PAGE_SIZE + 64], c[64];
  uint64_t T = hdr.dbtime_last + 1;
  char want[64];
  snprintf(want, sizeof want, "page %u", SPACE);

  /* the refusals first: each leaves the folder as it was */
  for (int restore = 0; restore <= 1; restore++) {
    uint32_t cl = commit_rec(c, 1, T, 0);
    uint32_t pl = diff_rec(p, dbtime2 - 1, 0);
    expect_refused(restore ? "newer (restore)" : "newer", restore, LR_PAGEDIFF, p, pl, c, cl,
                   "another page version than its base");
    pl = diff_rec(p, dbtime2 + 1, 0);
    expect_refused(restore ? "older (restore)" : "older", restore, LR_PAGEDIFF, p, pl, c, cl,
                   "another page version than its base");
    /* an image of page 2 as it is, but sealed with T - 1 */
    put32(p, 1);
    put32(p + 4, SPACE);
    put64(p + 8, 7);
    read_page(SPACE, p + 16);
    page_seal(p + 16, PAGE_SIZE, SPACE, T - 1);
    expect_refused(restore ? "image (restore)" : "image", restore, LR_PAGE, p, 16 + PAGE_SIZE, c, cl,
                   "a page image of another dbtime than its commit's");
    pl = diff_rec(p, dbtime2, 1);
    uint32_t ocl = commit_rec(c, 1, T, 1);
    expect_refused(restore ? "old (restore)" : "old", restore, LR_PAGEDIFF, p, pl, c, ocl, "carries no valid database times");
    pl = diff_rec(p, dbtime2, 0);
    cl = commit_rec(c, 2, T, 0);   /* a T for another database only */
    expect_refused(restore ? "none (restore)" : "none", restore, LR_PAGEDIFF, p, pl, c, cl, "");
  }

  /* control: the right base applies and the header follows */
  esio *io;
  char detail[600] = "";
  redo *r = start(&io, 0, detail, sizeof detail);
  uint32_t pl = diff_rec(p, dbtime2, 0), cl = commit_rec(c, 1, T, 0);
  CK(feed(r, LR_PAGEDIFF, p, pl, 0));
  CK(feed(r, LR_COMMIT, c, cl, 16384));
  CK(redo_finish(r, 1, 1));
  redo_free(r);
  esio_free(io);
  uint8_t pg[PAGE_SIZE];
  read_page(SPACE, pg);
  dbheader h;
  read_header(&h);
  if (page_verify(pg, PAGE_SIZE, SPACE) != PAGE_OK || page_dbtime(pg) != T || pg[BYTE_AT] != 0x55)
    FAIL("apply: page 2 has dbtime %llu and byte %u, not %llu and 0x55", (unsigned long long)page_dbtime(pg),
         (unsigned)pg[BYTE_AT], (unsigned long long)T);
  if (h.dbtime_last != T || h.state != DB_CLEAN)
    FAIL("apply: the header's dbtime_last is %llu (state %u), not %llu", (unsigned long long)h.dbtime_last,
         (unsigned)h.state, (unsigned long long)T);
  say_ok("apply");

  /* check: EseGetFileInfo(verify) bounds every page by the header */
  EseFileInfo fi;
  char why[600] = "";
  CK(EseGetFileInfo(dbpath, 1, &fi, why, sizeof why));
  if (fi.formatVersion != 2 || fi.dbtimeLast != T) FAIL("check: format %lu, dbtime_last %llu", fi.formatVersion,
                                                        (unsigned long long)fi.dbtimeLast);
  h.dbtime_last = T - 1;   /* a header below its page 2 */
  esfile *f;
  CK(esio_new(&io));
  CK(os_open(io, dbpath, OS_WRITE, &f));
  CK(dbheader_write(f, &h));
  os_close(f);
  esio_free(io);
  harness_expect_err(EseGetFileInfo(dbpath, 1, &fi, why, sizeof why), JET_errDatabaseCorrupted, "check");
  snprintf(want, sizeof want, "page %u carries dbtime %llu", SPACE, (unsigned long long)T);
  if (!strstr(why, want)) FAIL("check: the detail \"%s\" does not say \"%s\"", why, want);
  CK(EseGetFileInfo(dbpath, 0, &fi, why, sizeof why));   /* without verify: the header alone */
  say_ok("check");
  harness_rm_rf(dir);
  printf("redo_dbtime: ok\n");
  return 0;
}
