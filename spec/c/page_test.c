/*
 * page_test.c -- csrc/page.c's differences on their own: page_diff of two
 * pages and page_patch of its runs give the new page back from offset 16
 * on, for random pages of every size with changes of every spread; no
 * change is no run; a change from offset 16 to the end is one run of the
 * whole body, the largest encoding (PAGE_DIFF_MAX bytes; page_diff asserts
 * it is never exceeded, so this runs under make check too); a new page against an all-zero
 * base; page_patch refuses a run outside the page; page_span gives
 * one run from the first to the last differing byte that patches to the
 * same page, nothing for equal pages.  Prints "page_test: ok".
 */
#define HARNESS_NAME "page_test"
#include "harness.h"
#include "page.h"

#define CHECK(c)                                                        \
  do {                                                                  \
    if (!(c)) FAIL("line %d: check failed: %s", __LINE__, #c);          \
  } while (0)

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)rng;
}

/* diff base -> page, patch a copy of base, compare from offset 16 on;
 * returns the encoded size. */
static size_t roundtrip(const uint8_t *base, const uint8_t *page, size_t ps, uint8_t *runs, uint8_t *copy) {
  size_t n = page_diff(base, page, ps, runs);
  CHECK(n <= PAGE_DIFF_MAX(ps));
  memcpy(copy, base, ps);
  CHECK(page_patch(copy, ps, runs, n) == 0);
  CHECK(memcmp(copy + 16, page + 16, ps - 16) == 0);
  CHECK(memcmp(copy, base, 16) == 0);   /* the sealed header is not in the runs */
  return n;
}

/* page_span's run encoded as log_page sends it (its header, then the
 * bytes from the page). */
static size_t page_span_run(const uint8_t *base, const uint8_t *page, size_t ps, uint8_t *runs) {
  size_t len = page_span(base, page, ps, runs);
  if (len) memcpy(runs + 4, page + get16(runs), len);
  return len ? 4 + len : 0;
}

/* page_span: one run [first, last differing byte], patching to page. */
static void span_roundtrip(const uint8_t *base, const uint8_t *page, size_t ps, uint8_t *runs, uint8_t *copy) {
  size_t first = 16, last = ps;
  while (first < ps && base[first] == page[first]) first++;
  while (last > first && base[last - 1] == page[last - 1]) last--;
  size_t n = page_span_run(base, page, ps, runs);
  CHECK(n <= PAGE_DIFF_MAX(ps));
  if (first == ps) {
    CHECK(n == 0);
    return;
  }
  CHECK(n == 4 + (last - first) && get16(runs) == first && get16(runs + 2) == last - first);
  memcpy(copy, base, ps);
  CHECK(page_patch(copy, ps, runs, n) == 0);
  CHECK(memcmp(copy + 16, page + 16, ps - 16) == 0);
}

int main(void) {
  static const size_t sizes[] = { 4096, 8192, 16384, 32768 };
  uint8_t *base = malloc(32768), *page = malloc(32768), *copy = malloc(32768), *runs = malloc(32768);
  CHECK(base && page && copy && runs);
  for (int s = 0; s < 4; s++) {
    size_t ps = sizes[s];
    for (size_t i = 0; i < ps; i++) base[i] = (uint8_t)next();
    memcpy(page, base, ps);
    page[3] ^= 1;                       /* the header only: no run */
    CHECK(roundtrip(base, page, ps, runs, copy) == 0);
    memcpy(page, base, ps);
    page[100] ^= 0xFF;                  /* one byte: one run of one byte */
    CHECK(roundtrip(base, page, ps, runs, copy) == 5);
    for (size_t i = 16; i < ps; i++) page[i] = (uint8_t)~base[i];   /* everything: the whole body */
    CHECK(roundtrip(base, page, ps, runs, copy) == ps - 12);
    CHECK(get16(runs) == 16 && get16(runs + 2) == ps - 16);
    memcpy(page, base, ps);             /* one byte in every 9: the most runs, 5 bytes per 9 */
    for (size_t i = 16; i < ps; i += 9) page[i] ^= 0x55;
    CHECK(roundtrip(base, page, ps, runs, copy) == 5 * ((ps - 16 + 8) / 9));
    memset(copy, 0, ps);                /* a new page: against zeros, its zeros are not sent */
    memset(page, 0, ps);
    memcpy(page + 16, "header", 6);
    memset(page + ps - 200, 0xAB, 200);
    uint8_t *zero = calloc(1, ps);
    CHECK(zero != NULL);
    size_t n = roundtrip(zero, page, ps, runs, copy);
    CHECK(n == 4 + 6 + 4 + 200);
    free(zero);
    for (int t = 0; t < 2000; t++) {    /* random spreads */
      memcpy(page, base, ps);
      int k = (int)(next() % 64);
      for (int j = 0; j < k; j++) {
        size_t at = 16 + next() % (ps - 16), len = 1 + next() % 300;
        if (at + len > ps) len = ps - at;
        for (size_t b = at; b < at + len; b++) page[b] = (uint8_t)next();
      }
      roundtrip(base, page, ps, runs, copy);
      span_roundtrip(base, page, ps, runs, copy);
    }
    memcpy(page, base, ps);             /* span: equal pages, the whole body, one byte at either end */
    span_roundtrip(base, page, ps, runs, copy);
    for (size_t i = 16; i < ps; i++) page[i] = (uint8_t)~base[i];
    span_roundtrip(base, page, ps, runs, copy);
    CHECK(page_span_run(base, page, ps, runs) == PAGE_DIFF_MAX(ps));
    memcpy(page, base, ps);
    page[16] ^= 1;
    span_roundtrip(base, page, ps, runs, copy);
    page[ps - 1] ^= 1;
    span_roundtrip(base, page, ps, runs, copy);
    CHECK(get16(runs + 2) == ps - 16);
    /* refusals: a run below 16, past the end, cut short, of length 0 */
    put16(runs, 8); put16(runs + 2, 4);
    CHECK(page_patch(copy, ps, runs, 8) == -1);
    put16(runs, (uint16_t)(ps - 2)); put16(runs + 2, 4);
    CHECK(page_patch(copy, ps, runs, 8) == -1);
    put16(runs, 16); put16(runs + 2, 10);
    CHECK(page_patch(copy, ps, runs, 8) == -1);
    put16(runs, 16); put16(runs + 2, 0);
    CHECK(page_patch(copy, ps, runs, 4) == -1);
  }
  free(base); free(page); free(copy); free(runs);
  printf("page_test: ok\n");
  return 0;
}
