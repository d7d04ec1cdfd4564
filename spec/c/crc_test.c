/*
 * crc_test.c -- csrc/crc32c.c against the bit-at-a-time definition of
 * CRC32C: the standard check value, then seeded random buffers of every
 * length class the lane split meets (below one lane set, between lane
 * levels, pages of every size), at unaligned offsets, continued from
 * random previous values, and split at random points (crc of a prefix
 * continued over the rest).  Prints "crc_test: ok".
 */
#define HARNESS_NAME "crc_test"
#include "harness.h"
#include "crc32c.h"

#define CHECK(c)                                                        \
  do {                                                                  \
    if (!(c)) FAIL("line %d: check failed: %s", __LINE__, #c);          \
  } while (0)

static uint32_t bitwise(uint32_t crc, const unsigned char *p, size_t n) {
  uint32_t c = ~crc;
  while (n--) {
    c ^= *p++;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
  }
  return ~c;
}

static uint64_t rng = 0x243F6A8885A308D3ull;
static uint32_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

int main(void) {
  enum { BUF = 3 * 4096 * 2 + 4096 };
  unsigned char *buf = malloc(BUF + 64), *dst = malloc(BUF + 128);
  CHECK(buf != NULL && dst != NULL);
  for (size_t i = 0; i < BUF + 64; i++) buf[i] = (unsigned char)next();
  CHECK(crc32c(0, "123456789", 9) == 0xE3069283u);
  CHECK(crc32c(0, buf, 0) == 0);
  static const size_t pages[] = { 4096, 8192, 16384, 32768 };
  for (int t = 0; t < 6000; t++) {
    size_t off = next() % 64, n;
    switch (t % 4) {
    case 0: n = next() % 800; break;                      /* under one lane set of the smallest level */
    case 1: n = 768 + next() % (3 * 4096 * 2 - 768); break;   /* across the levels */
    case 2: n = pages[next() % 2] - 4; break;            /* what page_seal covers */
    default: n = next() % BUF; break;
    }
    uint32_t seed = next() % 3 ? next() : 0;
    CHECK(crc32c(seed, buf + off, n) == bitwise(seed, buf + off, n));
    size_t cut = n ? next() % n : 0;
    CHECK(crc32c(crc32c(seed, buf + off, cut), buf + off + cut, n - cut) == bitwise(seed, buf + off, n));
    /* crc32c_copy: the same CRC, the bytes copied to any alignment of dst,
     * nothing written before or after them (log_append2 frames records so) */
    size_t doff = next() % 64;
    memset(dst, 0xA5, BUF + 128);
    CHECK(crc32c_copy(seed, dst + doff, buf + off, n) == bitwise(seed, buf + off, n));
    CHECK(memcmp(dst + doff, buf + off, n) == 0);
    for (size_t i = 0; i < doff; i++) CHECK(dst[i] == 0xA5);
    for (size_t i = doff + n; i < BUF + 128; i++) CHECK(dst[i] == 0xA5);
    CHECK(crc32c_copy(crc32c_copy(seed, dst, buf + off, cut), dst + cut, buf + off + cut, n - cut) ==
          bitwise(seed, buf + off, n));
  }
  unsigned char *big = malloc(32768);
  CHECK(big != NULL);
  for (int i = 0; i < 4; i++) {
    for (size_t j = 0; j < pages[i]; j++) big[j] = (unsigned char)next();
    CHECK(crc32c(0, big + 4, pages[i] - 4) == bitwise(0, big + 4, pages[i] - 4));
  }
  free(big);
  free(buf);
  free(dst);
  printf("crc_test: ok\n");
  return 0;
}
