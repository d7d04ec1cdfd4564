/* crc32c.c -- CRC32C, hardware (SSE4.2 crc32 instruction) when present. */
#include "crc32c.h"
#include <string.h>

#define POLY 0x82F63B78u

/* Slicing-by-8 table, computed at compile time would need C23; it is built
 * on first use under a once-flag instead. */
#include <pthread.h>
static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static int have_hw;

/* The hardware path runs three lanes of LANE_MAX >> j bytes side by side
 * (the instruction's latency is three times its issue interval) and joins
 * them with shift[j]: the register after LANE_MAX >> j zero bytes, as a
 * byte-sliced linear map, so that crc(A || B) = shift(crc(A)) ^ crc0(B). */
#define LANE_MAX 4096u
#define LANE_LEVELS 5          /* lanes of 4096, 2048, 1024, 512, 256 bytes */
static uint32_t shift[LANE_LEVELS][4][256];

/* a * b modulo the polynomial (bit-reflected, as the register holds it) */
static uint32_t mul_mod(uint32_t a, uint32_t b) {
  uint32_t m = 1u << 31, prod = 0;
  for (; m; m >>= 1) {
    if (a & m) prod ^= b;
    b = (b & 1) ? (b >> 1) ^ POLY : b >> 1;
  }
  return prod;
}

/* x^(8 n) modulo the polynomial: the effect of n zero bytes */
static uint32_t zeros_op(size_t n) {
  uint32_t result = 1u << 31, sq = 1u << 30;   /* x^0 and x^1 */
  for (size_t bits = 8 * n; bits; bits >>= 1) {
    if (bits & 1) result = mul_mod(result, sq);
    sq = mul_mod(sq, sq);
  }
  return result;
}

static void table_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
    table[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++) table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xFF];
  for (int j = 0; j < LANE_LEVELS; j++) {
    uint32_t op = zeros_op(LANE_MAX >> j);
    for (int b = 0; b < 4; b++)
      for (uint32_t i = 0; i < 256; i++) shift[j][b][i] = mul_mod(op, i << (8 * b));
  }
#if defined(__x86_64__)
  __builtin_cpu_init();
  have_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t shifted(int level, uint32_t c) {
  return shift[level][0][c & 0xFF] ^ shift[level][1][(c >> 8) & 0xFF] ^ shift[level][2][(c >> 16) & 0xFF] ^
         shift[level][3][c >> 24];
}

static uint32_t crc_sw(uint32_t c, const uint8_t *p, size_t n) {
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    w ^= c;
    c = table[7][w & 0xFF] ^ table[6][(w >> 8) & 0xFF] ^ table[5][(w >> 16) & 0xFF] ^
        table[4][(w >> 24) & 0xFF] ^ table[3][(w >> 32) & 0xFF] ^ table[2][(w >> 40) & 0xFF] ^
        table[1][(w >> 48) & 0xFF] ^ table[0][w >> 56];
    p += 8; n -= 8;
  }
  while (n--) c = table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__)
/* The CRC of p[0 .. n), three lanes at a time; with dst, each word read is
 * also stored at the same place of dst (crc32c_copy: one pass over the
 * bytes instead of a memcpy and a CRC).  Inlined into its two callers, so
 * that the test of dst goes away in each. */
__attribute__((target("sse4.2"), always_inline)) static inline uint32_t crc_hw_lanes(uint32_t c, uint8_t *dst,
                                                                                   const uint8_t *p, size_t n) {
  uint64_t c64 = c;
  for (int level = 0; level < LANE_LEVELS; level++) {
    size_t lane = LANE_MAX >> level;
    while (n >= 3 * lane) {
      uint64_t a = c64, b = 0, d = 0;
      for (size_t i = 0; i < lane; i += 8) {
        uint64_t wa, wb, wd;
        memcpy(&wa, p + i, 8);
        memcpy(&wb, p + lane + i, 8);
        memcpy(&wd, p + 2 * lane + i, 8);
        if (dst) {
          memcpy(dst + i, &wa, 8);
          memcpy(dst + lane + i, &wb, 8);
          memcpy(dst + 2 * lane + i, &wd, 8);
        }
        a = __builtin_ia32_crc32di(a, wa);
        b = __builtin_ia32_crc32di(b, wb);
        d = __builtin_ia32_crc32di(d, wd);
      }
      c64 = shifted(level, shifted(level, (uint32_t)a) ^ (uint32_t)b) ^ (uint32_t)d;
      p += 3 * lane;
      if (dst) dst += 3 * lane;
      n -= 3 * lane;
    }
  }
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    if (dst) {
      memcpy(dst, &w, 8);
      dst += 8;
    }
    c64 = __builtin_ia32_crc32di(c64, w);
    p += 8; n -= 8;
  }
  c = (uint32_t)c64;
  while (n--) {
    if (dst) *dst++ = *p;
    c = __builtin_ia32_crc32qi(c, *p++);
  }
  return c;
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const uint8_t *p, size_t n) {
  return crc_hw_lanes(c, NULL, p, n);
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw_copy(uint32_t c, uint8_t *dst, const uint8_t *p, size_t n) {
  return crc_hw_lanes(c, dst, p, n);
}
#endif

uint32_t crc32c(uint32_t crc, const void *buf, size_t n) {
  pthread_once(&table_once, table_init);
  uint32_t c = ~crc;
#if defined(__x86_64__)
  if (have_hw) return ~crc_hw(c, buf, n);
#endif
  return ~crc_sw(c, buf, n);
}

uint32_t crc32c_copy(uint32_t crc, void *dst, const void *src, size_t n) {
  pthread_once(&table_once, table_init);
  uint32_t c = ~crc;
#if defined(__x86_64__)
  if (have_hw) return ~crc_hw_copy(c, dst, src, n);
#endif
  if (n) memcpy(dst, src, n);
  return ~crc_sw(c, src, n);
}
