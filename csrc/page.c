/* page.c -- page checksum and identity. */
#include "page.h"
#include "crc32c.h"
#include <assert.h>
#include <stdio.h>
#include <string.h>

void page_checksum(uint8_t *pg, size_t page_size) { put32(pg, crc32c(0, pg + 4, page_size - 4)); }

void page_seal(uint8_t *pg, size_t page_size, uint32_t pgno, uint64_t dbtime) {
  page_stamp(pg, pgno, dbtime);
  page_checksum(pg, page_size);
}

static int all_zero(const uint8_t *pg, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (pg[i]) return 0;
  return 1;
}

int page_verify(const uint8_t *pg, size_t page_size, uint32_t pgno) {
  if (get32(pg) != crc32c(0, pg + 4, page_size - 4))
    return all_zero(pg, page_size) ? PAGE_ZERO : PAGE_BAD_CHECKSUM;
  return page_pgno(pg) == pgno ? PAGE_OK : PAGE_BAD_PGNO;
}

JET_ERR page_check(const uint8_t *pg, size_t page_size, uint32_t pgno, int zero_ok, const char *name, char *detail,
                   size_t cap) {
  const char *why;
  switch (page_verify(pg, page_size, pgno)) {
  case PAGE_OK: return JET_errSuccess;
  case PAGE_ZERO:
    if (zero_ok) return JET_errSuccess;
    why = "page was never written";
    break;
  case PAGE_BAD_PGNO: why = "page number mismatch"; break;
  default: why = "checksum mismatch"; break;
  }
  if (detail && cap) snprintf(detail, cap, "%s: page %u: %s", name, (unsigned)pgno, why);
  return JET_errReadVerifyFailure;
}

int page_size_valid(unsigned long size) {
  return size == 4096 || size == 8192 || size == 16384 || size == 32768;
}

/* Equal bytes shorter than this between two changes are sent with them:
 * a run header costs 4 bytes. */
#define DIFF_JOIN 8

/* The first offset >= i where base and page differ, or size. */
static size_t next_change(const uint8_t *base, const uint8_t *page, size_t i, size_t size) {
  while (i < size && (i & 7)) {
    if (base[i] != page[i]) return i;
    i++;
  }
  for (; i + 8 <= size; i += 8)
    if (get64(base + i) != get64(page + i)) break;
  while (i < size && base[i] == page[i]) i++;
  return i;
}

size_t page_diff(const uint8_t *base, const uint8_t *page, size_t size, uint8_t *out) {
  size_t n = 0, i = next_change(base, page, 16, size);
  while (i < size) {
    size_t start = i, end = i + 1, same = 0;
    for (size_t j = end; j < size && same < DIFF_JOIN;) {
      /* a word whose 8 bytes all differ (dense changes: a long value's
       * page) in one step; the same result as byte by byte */
      if (j + 8 <= size) {
        uint64_t x = get64(base + j) ^ get64(page + j);
        if (!((x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull)) {   /* no byte of x is zero */
          same = 0;
          end = j += 8;
          continue;
        }
      }
      if (base[j] == page[j]) same++;
      else {
        same = 0;
        end = j + 1;
      }
      j++;
    }
    size_t len = end - start;
    assert(n + 4 + len <= size - 12);
    put16(out + n, (uint16_t)start);
    put16(out + n + 2, (uint16_t)len);
    memcpy(out + n + 4, page + start, len);
    n += 4 + len;
    i = next_change(base, page, end, size);
  }
  return n;
}

size_t page_span(const uint8_t *base, const uint8_t *page, size_t size, uint8_t head[4]) {
  size_t start = next_change(base, page, 16, size), end = size;
  if (start == size) return 0;
  while (end - start >= 8 && get64(base + end - 8) == get64(page + end - 8)) end -= 8;
  while (base[end - 1] == page[end - 1]) end--;   /* stops at start at the latest: it differs */
  size_t len = end - start;
  assert(4 + len <= PAGE_DIFF_MAX(size));
  put16(head, (uint16_t)start);
  put16(head + 2, (uint16_t)len);
  return len;
}

int page_patch(uint8_t *page, size_t size, const uint8_t *runs, size_t n) {
  size_t k = 0;
  while (k < n) {
    if (n - k < 4) return -1;
    size_t off = get16(runs + k), len = get16(runs + k + 2);
    if (off < 16 || len == 0 || off + len > size || n - k - 4 < len) return -1;
    memcpy(page + off, runs + k + 4, len);
    k += 4 + len;
  }
  return 0;
}
