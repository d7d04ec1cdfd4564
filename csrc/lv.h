/*
 * lv.h -- long values: a value too large for its leaf lives out of line,
 * in pages of its own (ESE's long values), over the pager.
 *
 * Every leaf value starts with a tag byte (database format 3):
 *   LV_TAG_INLINE (0), then the value's bytes: a value whose tag, key and
 *       bytes fit in a record (1 + klen + vlen <= EseMaxRecordSize);
 *   LV_TAG_LONG (1), then u32 length (1 .. LV_MAX), u32 first directory
 *       page: LV_REF_SIZE bytes in all; any other value.
 * Out of line, a value of length L is ceil(L / D) data pages, D = page size
 * - 32, each holding D bytes of it but the last (L - D * (count - 1)), and
 * ceil(pages / E) directory pages, E = (page size - 32) / 4, chained, each
 * listing up to E data pages in value order:
 *   data page      16 u8 PAGE_LVDATA, 17..19 0, 20 u32 bytes held (1..D),
 *                  24..31 0, 32.. the bytes, zeros after them
 *   directory page 16 u8 PAGE_LVDIR, 17..19 0, 20 u32 entries (1..E),
 *                  24 u32 next directory page (0: the last), 28 u32 0,
 *                  32.. u32 data page numbers
 * So byte o of a value is in data page o / D, listed by directory page
 * o / (D * E) of the chain: a slice reads at most one directory page per
 * 16 MiB (8 KiB pages) before its data.  Nothing read is trusted: a page of
 * another type, a count or a length that disagrees with the value's length,
 * a reserved field that is not zero (a directory page's bytes 28 .. 31, a
 * data page's 24 .. 31), a chain too long or too short is
 * JET_errDatabaseCorrupted.
 *
 * Pages come from pager_alloc (the free list first) and go back with
 * pager_free when the value is replaced or deleted, each first marked free
 * by an LR_FREEPAGE record of its type (pageop.h: bytes 16.. zeroed, 48
 * bytes of log, no image), the mark the free list's reuse and `ese check`
 * require (pager.h says why a freed page may be reused at once).  Callers
 * hold the instance lock.
 */
#ifndef ESE_LV_H
#define ESE_LV_H
#include <stddef.h>
#include <stdint.h>
#include "ese.h"
#include "pager.h"

#define LV_TAG_INLINE 0
#define LV_TAG_LONG   1
#define LV_REF_SIZE   9
#define LV_MAX        0x7fffffffu          /* 2^31 - 1: ESE's long-value limit */
#define LV_OFF_COUNT  20                   /* data: bytes held; directory: entries */
#define LV_OFF_NEXT   24                   /* directory: next directory page */

static inline size_t lv_data_cap(uint32_t psz) { return psz - 32; }
static inline size_t lv_dir_cap(uint32_t psz) { return (psz - 32) / 4; }

/* Decodes a reference (the leaf value, tag included): 0, or -1 when it is
 * not a well-formed LV_TAG_LONG reference. */
int lv_ref_decode(const uint8_t *v, size_t n, uint32_t *len, uint32_t *dir);
/* Writes val out of line (pending pages) and the reference into ref. */
JET_ERR lv_put(pager *p, const void *val, size_t vlen, uint8_t ref[LV_REF_SIZE]);
/* Copies bytes [off, off + n) of the value ref names into dst; the caller
 * keeps off + n within its length. */
JET_ERR lv_read(pager *p, const uint8_t ref[LV_REF_SIZE], size_t off, size_t n, uint8_t *dst);
/* Frees every page of the value ref names. */
JET_ERR lv_free(pager *p, const uint8_t ref[LV_REF_SIZE]);
/* The pages of the value, checked as lv_read checks them: fn(ud, pgno)
 * for every directory and data page (fn returning non-zero stops with
 * JET_errDatabaseCorrupted).  For the tree check (btree.c). */
JET_ERR lv_walk(pager *p, const uint8_t ref[LV_REF_SIZE], int (*fn)(void *ud, uint32_t pgno), void *ud);

#endif
