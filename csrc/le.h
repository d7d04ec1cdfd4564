/*
 * le.h -- the one little-endian codec: every on-disk and in-log integer of
 * lua-ese (pages, database headers, log framing and records, the checkpoint
 * file, the ring) is little-endian, read and written only through these.
 * A memcpy keeps unaligned access legal; on a big-endian machine the bytes
 * are swapped, so files move between machines unchanged.
 */
#ifndef ESE_LE_H
#define ESE_LE_H
#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LE16(v) __builtin_bswap16(v)
#define LE32(v) __builtin_bswap32(v)
#define LE64(v) __builtin_bswap64(v)
#else
#define LE16(v) (v)
#define LE32(v) (v)
#define LE64(v) (v)
#endif

static inline uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return LE16(v); }
static inline uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return LE32(v); }
static inline uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return LE64(v); }
static inline void put16(uint8_t *p, uint16_t v) { v = LE16(v); memcpy(p, &v, 2); }
static inline void put32(uint8_t *p, uint32_t v) { v = LE32(v); memcpy(p, &v, 4); }
static inline void put64(uint8_t *p, uint64_t v) { v = LE64(v); memcpy(p, &v, 8); }

#endif
