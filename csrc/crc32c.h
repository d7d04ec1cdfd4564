/* crc32c.h -- CRC32C (Castagnoli): SSE4.2 instruction when the CPU has it,
 * slicing-by-8 tables otherwise.  crc32c(0, p, n) starts a new checksum;
 * pass the previous result as crc to continue one. */
#ifndef ESE_CRC32C_H
#define ESE_CRC32C_H
#include <stddef.h>
#include <stdint.h>
uint32_t crc32c(uint32_t crc, const void *buf, size_t n);
/* crc32c(crc, src, n), and src[0 .. n) copied to dst (not overlapping):
 * one pass over the bytes where the CPU has the CRC32 instruction. */
uint32_t crc32c_copy(uint32_t crc, void *dst, const void *src, size_t n);
#endif
