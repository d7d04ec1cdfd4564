/* dbheader.c -- the database header and its shadow copy. */
#include "dbheader.h"
#include "page.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The magic is MAGIC_PREFIX then the format version byte. */
static const char MAGIC_PREFIX[7] = { 'E', 'S', 'E', 'D', 'B', 0, 0 };

static int magic_ok(const uint8_t *b) { return memcmp(b, MAGIC_PREFIX, 7) == 0; }

void dbheader_encode(const dbheader *h, uint8_t *page, uint32_t pgno) {
  memset(page, 0, h->page_size);
  uint8_t *b = page + PAGE_HDR;
  page[16] = PAGE_DBHEADER;
  memcpy(b, MAGIC_PREFIX, 7);
  b[7] = DB_FORMAT;
  put32(b + 8, h->page_size);
  put32(b + 12, h->state);
  memcpy(b + 16, h->db_sig, 16);
  memcpy(b + 32, h->log_sig, 16);
  put32(b + 48, h->gen_min);
  put32(b + 52, h->gen_max);
  put64(b + 56, h->created);
  for (int i = 0; i < BK_KINDS; i++) {
    put32(b + 64 + 16 * i, h->backup[i].gen_lo);
    put32(b + 68 + 16 * i, h->backup[i].gen_hi);
    put64(b + 72 + 16 * i, h->backup[i].time);
  }
  put64(b + 144, h->backup_lsn);
  put64(b + 152, h->dbtime_last);
  put64(b + 160, h->clean_lsn);
  put64(b + 168, h->clean_time);
  put64(b + 176, h->attach_lsn);
  page_seal(page, h->page_size, pgno, 0);
}

JET_ERR dbheader_decode(const uint8_t *page, uint32_t page_size, uint32_t pgno, dbheader *h) {
  const uint8_t *b = page + PAGE_HDR;
  if (!magic_ok(b) || get32(b + 8) != page_size || page_type(page) != PAGE_DBHEADER ||
      page_verify(page, page_size, pgno) != PAGE_OK)
    return JET_errDatabaseCorrupted;
  memset(h, 0, sizeof *h);
  h->version = b[7];
  h->page_size = page_size;
  h->state = get32(b + 12);
  memcpy(h->db_sig, b + 16, 16);
  memcpy(h->log_sig, b + 32, 16);
  h->gen_min = get32(b + 48);
  h->gen_max = get32(b + 52);
  h->created = get64(b + 56);
  for (int i = 0; i < BK_KINDS; i++) {
    h->backup[i].gen_lo = get32(b + 64 + 16 * i);
    h->backup[i].gen_hi = get32(b + 68 + 16 * i);
    h->backup[i].time = get64(b + 72 + 16 * i);
  }
  h->backup_lsn = get64(b + 144);
  /* format 1 has no dbtime_last; format 3 has zeros from +160 (no clean point) */
  if (h->version < DB_FORMAT_MIN || h->version > DB_FORMAT) return JET_errInvalidDatabaseVersion;
  h->dbtime_last = get64(b + 152);
  if (h->version >= 4) {
    h->clean_lsn = get64(b + 160);
    h->clean_time = get64(b + 168);
    h->attach_lsn = get64(b + 176);
  }
  if (h->dbtime_last > DBTIME_MAX) return JET_errDatabaseCorrupted;   /* room to count on, never wraps */
  if (h->state < DB_CLEAN || h->state > DB_RESTORING) return JET_errDatabaseCorrupted;
  return JET_errSuccess;
}

/* The page size a header copy claims (the magic and a legal page size in
 * page 0, else in the shadow at page 1 of a legal page size), or 0 when
 * neither copy starts like a header; an I/O error of page 0 in *err. */
static uint32_t claimed_page_size(esfile *f, JET_ERR *err) {
  uint8_t first[PAGE_HDR + 16];
  size_t got;
  *err = os_pread(f, first, sizeof first, 0, &got);
  if (*err) return 0;
  if (got == sizeof first && magic_ok(first + PAGE_HDR) && page_size_valid(get32(first + PAGE_HDR + 8)))
    return get32(first + PAGE_HDR + 8);
  /* page 0 may be torn or damaged: try the shadow at every legal page size */
  for (uint32_t ps = 4096; ps <= 32768; ps *= 2)
    if (os_pread(f, first, sizeof first, ps, &got) == JET_errSuccess && got == sizeof first &&
        magic_ok(first + PAGE_HDR) && get32(first + PAGE_HDR + 8) == ps)
      return ps;
  return 0;
}

int dbheader_claimed(esfile *f) {
  JET_ERR e;
  return claimed_page_size(f, &e) != 0;
}

JET_ERR dbheader_read(esfile *f, uint32_t expect_page_size, dbheader *h) {
  JET_ERR e;
  size_t got;
  uint32_t ps = claimed_page_size(f, &e);
  if (e) return e;
  if (!ps) return JET_errDatabaseCorrupted;
  uint8_t *page = malloc(ps);
  if (!page) return JET_errOutOfMemory;
  e = JET_errDatabaseCorrupted;
  for (uint32_t pgno = 0; pgno < 2 && e == JET_errDatabaseCorrupted; pgno++) {
    if (os_pread(f, page, ps, (uint64_t)pgno * ps, &got) == JET_errSuccess && got == ps)
      e = dbheader_decode(page, ps, pgno, h);
  }
  free(page);
  /* another format is named as such whatever its page size */
  if (e != JET_errInvalidDatabaseVersion && expect_page_size && ps != expect_page_size) e = JET_errPageSizeMismatch;
  return e;
}

JET_ERR dbheader_write(esfile *f, const dbheader *h) {
  if (h->dbtime_last > DBTIME_MAX) return JET_errDatabaseCorrupted;   /* dbheader_decode would refuse it */
  uint8_t *page = malloc(h->page_size);
  if (!page) return JET_errOutOfMemory;
  JET_ERR e = JET_errSuccess;
  for (uint32_t pgno = 0; pgno < 2 && e == JET_errSuccess; pgno++) {
    dbheader_encode(h, page, pgno);
    e = os_pwrite(f, page, h->page_size, (uint64_t)pgno * h->page_size);
    if (e == JET_errSuccess) e = os_sync(f);
  }
  free(page);
  return e;
}

JET_ERR dbheader_check_dbtimes(const uint8_t *buf, uint32_t ps, uint32_t first, uint32_t cnt, uint64_t bound,
                               const char *name, char *detail, size_t cb) {
  for (uint32_t k = 0; k < cnt; k++) {
    const uint8_t *pg = buf + (size_t)k * ps;
    if (page_type(pg) == PAGE_DBHEADER || page_dbtime(pg) <= bound) continue;
    if (detail)
      snprintf(detail, cb, "%s: page %u carries dbtime %llu, above the header's dbtime_last %llu", name,
               (unsigned)(first + k), (unsigned long long)page_dbtime(pg), (unsigned long long)bound);
    return JET_errDatabaseCorrupted;
  }
  return JET_errSuccess;
}

void dbpoint_put(uint8_t *p, const dbpoint *pt) {
  memcpy(p, pt->log_sig, 16);
  put64(p + 16, pt->lsn);
  put64(p + 24, pt->time);
  put64(p + 32, pt->dbtime);
}

void dbpoint_get(const uint8_t *p, dbpoint *pt) {
  memcpy(pt->log_sig, p, 16);
  pt->lsn = get64(p + 16);
  pt->time = get64(p + 24);
  pt->dbtime = get64(p + 32);
}

dbpoint dbheader_point(const dbheader *h) {
  dbpoint pt = { .lsn = h->clean_lsn, .time = h->clean_time, .dbtime = h->dbtime_last };
  memcpy(pt.log_sig, h->log_sig, 16);
  return pt;
}
