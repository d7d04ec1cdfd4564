/* page.c -- page checksum and identity. */
#include "page.h"
#include "crc32c.h"

void page_seal(uint8_t *pg, size_t page_size, uint32_t pgno, uint64_t lsn) {
  put32(pg + 4, pgno);
  put64(pg + 8, lsn);
  put32(pg, crc32c(0, pg + 4, page_size - 4));
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

int page_size_valid(unsigned long size) {
  return size == 4096 || size == 8192 || size == 16384 || size == 32768;
}
