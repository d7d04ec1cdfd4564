/*
 * page.h -- the layout every database page shares.
 *
 *   offset 0   u32 checksum   CRC32C of bytes 4 .. page size
 *   offset 4   u32 pgno       the page's own number
 *   offset 8   u64 dbtime     the database time of the commit that last
 *                             changed the page (database format 2; see
 *                             dbheader.h): a page's version, which replay
 *                             compares with a change's base
 *   offset 16  u8  type       PAGE_* below
 *   offset 17..31             owner-defined (btree, header, space page)
 *   offset 32                 body
 * A page of all zeros is "not initialized": never written, legal in a file
 * (page_verify reports PAGE_ZERO).  All integers are little-endian (le.h).
 */
#ifndef ESE_PAGE_H
#define ESE_PAGE_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "ese.h"
#include "le.h"   /* get16/32/64, put16/32/64 */

#define PAGE_HDR 32
/* PAGE_LVDATA, PAGE_LVDIR: a long value's pages (lv.h); PAGE_FREELIST: a
 * page of the free list (pager.h); database format 3. */
enum { PAGE_FREE = 0, PAGE_DBHEADER = 1, PAGE_SPACE = 2, PAGE_LEAF = 3, PAGE_BRANCH = 4,
       PAGE_LVDATA = 5, PAGE_LVDIR = 6, PAGE_FREELIST = 7 };
enum { PAGE_OK = 0, PAGE_ZERO = 1, PAGE_BAD_CHECKSUM = 2, PAGE_BAD_PGNO = 3 };

/* 8 bytes as a big-endian number: the order memcmp gives them (one
 * instruction where the compiler sees the pattern) */
static inline uint64_t get64be(const void *v) {
  const uint8_t *p = v;
  return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 | (uint64_t)p[3] << 32 |
         (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 | (uint64_t)p[6] << 8 | p[7];
}
/* The order of keys (memcmp, then the shorter first), the one both the
 * tree pages (po_keycmp) and the write set (ws_keycmp) sort by: the first
 * 8 bytes compared as one number first, where most comparisons end. */
static inline int page_keycmp(const void *a, size_t al, const void *b, size_t bl) {
  size_t m = al < bl ? al : bl;
  if (m >= 8) {
    uint64_t x = get64be(a), y = get64be(b);
    if (x != y) return x < y ? -1 : 1;
  }
  int r = m ? memcmp(a, b, m) : 0;
  if (r) return r;
  return (al > bl) - (al < bl);
}

static inline uint32_t page_pgno(const uint8_t *pg) { return get32(pg + 4); }
static inline uint64_t page_dbtime(const uint8_t *pg) { return get64(pg + 8); }
static inline uint8_t page_type(const uint8_t *pg) { return pg[16]; }

/* Stamps pgno and dbtime and computes the checksum. */
void page_seal(uint8_t *pg, size_t page_size, uint32_t pgno, uint64_t dbtime);
/* Stamps pgno and dbtime (bytes 4 .. 15) only: the checksum (bytes 0 .. 3)
 * is stale until page_checksum.  The page cache stamps a page at each
 * commit and computes its checksum once, when the page leaves the cache
 * (pager.h, "Checksum rule"). */
static inline void page_stamp(uint8_t *pg, uint32_t pgno, uint64_t dbtime) {
  put32(pg + 4, pgno);
  put64(pg + 8, dbtime);
}
/* Computes the checksum of a stamped page (bytes 0 .. 3). */
void page_checksum(uint8_t *pg, size_t page_size);
/* PAGE_OK, PAGE_ZERO, PAGE_BAD_CHECKSUM or PAGE_BAD_PGNO. */
int page_verify(const uint8_t *pg, size_t page_size, uint32_t pgno);
/* page_verify's verdict as an error, the one check every reader of
 * database pages uses (the cache, a backup's stream, `ese check`, a
 * restore's copy): JET_errSuccess for a good page, and for a page never
 * written (all zeros) when zero_ok; else JET_errReadVerifyFailure and, when
 * detail is not NULL, "<name>: page <pgno>: <why>" in its cap bytes, why
 * being "checksum mismatch", "page number mismatch" or "page was never
 * written".  (Replay and the ring judge pages by their dbtime and their
 * own table: they use page_verify's verdict directly.) */
JET_ERR page_check(const uint8_t *pg, size_t page_size, uint32_t pgno, int zero_ok, const char *name, char *detail,
                   size_t cap);
int page_size_valid(unsigned long size);

/* The bytes of page that differ from base, from offset 16 on (the
 * checksum, number and dbtime are sealed again after a patch), as runs:
 * u16 offset, u16 length, the bytes, in increasing offset order.  Two
 * runs are at least DIFF_JOIN (8) equal bytes apart, more than the 4 bytes
 * a run header costs, so k runs take at most size - 16 - 8(k - 1) + 4k <=
 * size - 12 = PAGE_DIFF_MAX(size) bytes (one run of the whole body, the
 * largest), the room out must have.  Returns the encoded size; 0 when the
 * pages agree from offset 16 on. */
#define PAGE_DIFF_MAX(size) ((size) - 12)
size_t page_diff(const uint8_t *base, const uint8_t *page, size_t size, uint8_t *out);
/* page_diff as one run, from the first to the last byte that differs
 * (the bytes between them sent whether equal or not): for a page that
 * changes whole (a long value's data page, written once per value), where
 * page_diff would compare every byte to find the same single run.  Its
 * length is returned (0: the pages agree from offset 16 on, head
 * untouched) and its 4-byte header (u16 offset, u16 length) put in head:
 * head followed by the length's bytes from page + offset is page_diff's
 * encoding of the run (same bound), sent from the page by the caller
 * (database.c log_page: no copy of a long value's page). */
size_t page_span(const uint8_t *base, const uint8_t *page, size_t size, uint8_t head[4]);
/* Applies encoded runs to page: 0, or -1 when a run lies outside it. */
int page_patch(uint8_t *page, size_t size, const uint8_t *runs, size_t n);

#endif
