/*
 * dw_torn.c -- a database page torn in place is repaired from the
 * double-write ring B.dwb, and no committed transaction is lost.
 *
 * A child process (fork) inits an instance on a fresh folder with a
 * 16-page cache and a checkpoint depth no run reaches, creates a database
 * and a table and commits NREC records durably, one per transaction: the
 * cache evicts, so pages are written in place with no checkpoint since
 * (the ring holds their images).  It then ends with _exit, without term:
 * a crash (what it wrote is in the kernel).
 *
 * The parent reads the ring (dw_open: reads only) and the database file,
 * picks the in-place pages whose newest ring image has their dbtime, and
 * writes noise over the second 512-byte sector of each of up to NTORN of
 * them: the state a crash in the middle of their last in-place write
 * leaves.  Then:
 *  1. on a copy of the database, dw_repair_file alone (no log) makes every
 *     torn page again exactly what it was before the noise, and touches no
 *     other page;
 *  2. JetInit on the folder (soft recovery) reports those pages repaired
 *     from the ring (esinst.dw_repaired) and every record committed is
 *     there with its value; EseGetFileInfo(verify) passes on the database.
 *
 * Two rounds: the default ring (16 MiB: every page written is still in it)
 * and a 256 KiB one (batches of 15 pages; it wraps many times, each
 * overwrite of a batch preceded by a sync of the database).
 *
 * Prints "dw_torn: ok ..." and exits 0, or what differed and exits 1.
 */
#define HARNESS_NAME "dw_torn"
#include "harness.h"
#include "internal.h"
#include "page.h"

#define NREC 3000
#define NTORN 8
#define PSZ 8192

static void key_of(char *k, int i) { snprintf(k, 16, "k%06d", (i * 7919) % NREC); }
static size_t value_of(char *v, const char *k, int i) {
  return harness_value(v, k, strlen(k), (uint32_t)i, harness_value_hash(k, strlen(k), (uint32_t)i), 200);
}

static unsigned long g_dw_size;   /* 0: the default ring */

static JET_INSTANCE new_instance(const char *dir) {
  JET_INSTANCE inst;
  CK(JetCreateInstance(&inst, "dw_torn"));
  CK(JetSetSystemParameter(&inst, 0, JET_paramSystemPath, 0, dir));
  CK(JetSetSystemParameter(&inst, 0, JET_paramLogFilePath, 0, dir));
  CK(JetSetSystemParameter(&inst, 0, JET_paramCacheSizeMax, 16, NULL));
  CK(JetSetSystemParameter(&inst, 0, JET_paramCheckpointDepthMax, (JET_API_PTR)1 << 40, NULL));
  if (g_dw_size) CK(JetSetSystemParameter(&inst, 0, JET_paramDoubleWriteSize, g_dw_size, NULL));
  return inst;
}

static void child(const char *dir, const char *db) {
  JET_INSTANCE inst = new_instance(dir);
  JET_SESID s;
  JET_DBID dbid;
  JET_TABLEID t;
  CK(JetInit(&inst));
  CK(JetBeginSession(inst, &s, NULL, NULL));
  CK(JetCreateDatabase(s, db, NULL, &dbid, 0));
  CK(EseCreateTable(s, dbid, "t", &t));
  char k[16], v[256];
  for (int i = 0; i < NREC; i++) {
    key_of(k, i);
    size_t n = value_of(v, k, i);
    CK(JetBeginTransaction(s));
    CK(EsePut(s, t, k, strlen(k), v, n));
    CK(JetCommitTransaction(s, 0));
  }
  _exit(0);   /* a crash: no term, no checkpoint */
}

static void read_page(esfile *f, uint32_t pgno, uint8_t *buf) {
  if (os_pread_full(f, buf, PSZ, (uint64_t)pgno * PSZ)) FAIL("cannot read page %u", pgno);
}

/* One round on a fresh folder; returns the pages torn and repaired. */
static int round_with(void) {
  char dir[256], db[300], copy[300], logp[300];
  harness_tempdir(dir, sizeof dir, "dwtorn");
  snprintf(db, sizeof db, "%s/torn.edb", dir);
  snprintf(copy, sizeof copy, "%s/copy.edb", dir);
  snprintf(logp, sizeof logp, "%s/edb.log", dir);
  pid_t pid = harness_fork();
  if (pid == 0) child(dir, db);
  int st = harness_wait(pid);
  if (!WIFEXITED(st) || WEXITSTATUS(st)) FAIL("the writer failed (status %d)", st);

  esio *io;
  CK(esio_new(&io));
  log_header lh;
  CK(log_read_header(io, logp, &lh));
  esfile *f;
  CK(os_open(io, db, OS_WRITE, &f));
  dbheader h;
  CK(dbheader_read(f, PSZ, &h));
  uint64_t size;
  CK(os_size(f, &size));
  uint32_t npages = (uint32_t)(size / PSZ);

  dw_config c = { .io = io, .dir = dir, .base = "edb", .page_size = PSZ, .log_sig = lh.sig.b };
  dw *ring;
  const char *why = NULL;
  JET_ERR e = dw_open(&c, &ring, &why);
  if (e) FAIL("no ring after the writer: %ld %s", (long)e, why ? why : "");
  if (dw_entries(ring) == 0) FAIL("the ring holds no page: evictions did not go through it");

  /* pages whose last in-place write has its image in the ring: tear them */
  uint32_t torn[NTORN];
  uint8_t *before = malloc((size_t)NTORN * PSZ), *buf = malloc(PSZ);
  if (!before || !buf) FAIL("out of memory");
  uint32_t *cand = malloc(npages * sizeof *cand), ncand = 0;
  if (!cand) FAIL("out of memory");
  for (uint32_t pg = 3; pg < npages; pg++) {
    uint64_t seq, dbt;
    if (!dw_find(ring, h.db_sig, pg, &seq, &dbt)) continue;
    read_page(f, pg, buf);
    if (page_verify(buf, PSZ, pg) == PAGE_OK && get64(buf + DW_PAGE_DBTIME_OFF) == dbt) cand[ncand++] = pg;
  }
  int ntorn = 0;
  for (uint32_t i = 0; i < ncand && ntorn < NTORN; i += 1 + ncand / NTORN) {
    uint32_t pg = cand[i];
    read_page(f, pg, buf);
    memcpy(before + (size_t)ntorn * PSZ, buf, PSZ);
    for (int i = 512; i < 1024; i++) buf[i] = (uint8_t)harness_mix((uint64_t)pg * 1000 + (uint64_t)i);
    CK(os_pwrite(f, buf, PSZ, (uint64_t)pg * PSZ));
    if (page_verify(buf, PSZ, pg) == PAGE_OK) FAIL("page %u still verifies with noise in it", pg);
    torn[ntorn++] = pg;
  }
  if (ntorn < 3) FAIL("only %d pages of %u had their image in the ring", ntorn, npages);
  free(cand);
  os_close(f);

  /* 1. the ring alone repairs them, on a copy */
  if (harness_copy_file(db, copy)) FAIL("cannot copy %s", db);
  esfile *cf;
  CK(os_open(io, copy, OS_WRITE, &cf));
  uint32_t repaired = 0;
  CK(dw_repair_file(ring, h.db_sig, cf, &repaired));
  if (repaired != (uint32_t)ntorn) FAIL("dw_repair_file repaired %u pages, %d were torn", repaired, ntorn);
  for (int i = 0; i < ntorn; i++) {
    read_page(cf, torn[i], buf);
    if (memcmp(buf, before + (size_t)i * PSZ, PSZ)) FAIL("page %u is not as it was before the tear", torn[i]);
  }
  os_close(cf);
  dw_close(ring);
  if (unlink(copy)) FAIL("cannot remove the copy");
  log_header_clear(&lh);
  esio_free(io);

  /* 2. soft recovery: repaired from the ring, nothing committed lost */
  JET_INSTANCE inst = new_instance(dir);
  JET_SESID s;
  JET_DBID dbid;
  JET_TABLEID t;
  CK(JetInit(&inst));
  uint32_t by_ring = ((esinst *)inst)->dw_repaired;
  if (by_ring != (uint32_t)ntorn) FAIL("recovery took %u pages from the ring, %d were torn", by_ring, ntorn);
  CK(JetBeginSession(inst, &s, NULL, NULL));
  CK(JetAttachDatabase(s, db, 0));
  CK(JetOpenDatabase(s, db, NULL, &dbid, 0));
  CK(EseOpenTable(s, dbid, "t", &t));
  char k[16], v[256], got[256];
  for (int i = 0; i < NREC; i++) {
    key_of(k, i);
    size_t n = value_of(v, k, i), gn = 0;
    e = EseSeek(s, t, k, strlen(k), JET_bitSeekEQ);
    if (e) FAIL("committed record %s is gone after recovery (%ld)", k, (long)e);
    CK(EseRetrieveValue(s, t, got, sizeof got, &gn));
    if (gn != n || memcmp(got, v, n)) FAIL("record %s has another value after recovery", k);
  }
  CK(JetTerm2(inst, JET_bitTermComplete));
  EseFileInfo fi;
  char detail[512];
  e = EseGetFileInfo(db, 1, &fi, detail, sizeof detail);
  if (e) FAIL("the recovered database does not verify: %ld %s", (long)e, detail);
  harness_rm_rf(dir);
  free(before);
  free(buf);
  return ntorn;
}

int main(void) {
  harness_start(120);
  int a = round_with();
  g_dw_size = 256 * 1024;   /* a small ring: batches of 15 pages, it wraps (a database sync before each overwrite) */
  int b = round_with();
  printf("dw_torn: ok %d torn pages repaired from the ring (alone and by recovery), %d with a 256 KiB ring; "
         "%d committed records all back each time\n", a, b, NREC);
  return 0;
}
