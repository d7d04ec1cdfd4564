/*
 * pageop.h -- the tree page layout and the record operations on it: pure
 * functions (page bytes, operation) -> page bytes, shared by the live tree
 * (btree.c) and replay (redo.c), so that replaying an operation record
 * gives exactly the bytes the live change gave.
 *
 * Tree page layout (integers little-endian; bytes 0..15 belong to page.h
 * and the pager, these functions never touch them):
 *   16  u8   type     PAGE_LEAF or PAGE_BRANCH
 *   17  u8   reserved 0
 *   18  u16  n        number of slots (records, or separators of a branch)
 *   20  u16  top      offset of the lowest cell; cells live in [top, size)
 *   22  u16  reserved 0
 *   24  u32  left     branch: leftmost child; leaf: 0
 *   28  u32  reserved 0
 *   32  u16  slot[n]  cell offsets, in strictly ascending key order
 *        ... free gap [32 + 2n, top) ...
 *  top       cells, in any order, with holes left by deletes until the page
 *            is compacted (rebuilt) when the gap is too small for an insert
 * Leaf cell:   u16 klen, u16 vlen, key[klen], value[vlen]
 * Branch cell: u16 klen, u32 child, key[klen]
 *
 * Determinism rules (what makes replay equal the live bytes):
 *  1. one implementation: the live path applies every insert, replace,
 *     delete, split and new page through pageop_apply, the function
 *     replay calls;
 *  2. replay never decides: the slot and the cell are in the record (a
 *     split: the split slot, and the moved cells in the new page's); the
 *     one implicit step, compacting the page when the gap is too small for
 *     an insert, depends on the page bytes alone;
 *  3. no uninitialised bytes: a compaction rebuilds the page from zeros,
 *     a removed cell is zeroed;
 *  4. checked: ESE_VERIFY_REPLAY=1 replays each commit's records onto the
 *     pages' copies from before the commit and compares (database.c).
 * Nothing read from a page or a record is trusted: every function
 * bounds-checks the header, the slot and the cells.
 */
#ifndef ESE_PAGEOP_H
#define ESE_PAGEOP_H
#include <stddef.h>
#include <stdint.h>
#include "page.h"

#define PO_OFF_N    18
#define PO_OFF_TOP  20
#define PO_OFF_LEFT 24
#define PO_LEAF_CH  4            /* leaf cell header: klen, vlen */
#define PO_BR_CH    6            /* branch cell header: klen, child */

/* Operation types; the numbers are the log record types (internal.h). */
enum { PO_INSERT = 10, PO_REPLACE = 11, PO_DELETE = 12, PO_SPLIT = 13, PO_NEWPAGE = 14, PO_UNLINK = 15,
       PO_FREEPAGE = 16 };

#define PO_NEWPAGE_HDR 5        /* PO_NEWPAGE body: u8 type, u32 left */
#define PO_UNLINK_HDR  7        /* PO_UNLINK body: u8 mode, u32 child, u16 klen (then the key) */
#define PO_FREEPAGE_LEN 5       /* PO_FREEPAGE body: u8 type, u32 left */
enum { PO_UNLINK_CELL = 0, PO_UNLINK_LEFT = 1 };   /* PO_UNLINK modes */

/* Results of pageop_apply. */
enum {
  PO_OK = 0,
  PO_FULL,     /* the page has no room even compacted (insert, a longer
                * replace): the page is unchanged, the caller splits */
  PO_KEY,      /* replace, delete: the slot holds another key; insert:
                * the key does not sort strictly between the keys of slots
                * slot - 1 and slot; unchanged */
  PO_BAD,      /* the page or the operation is malformed; unchanged */
  PO_NOMEM     /* unchanged */
};

/* A validated view of a page: PAGE_HDR + 2n <= top <= psz. */
typedef struct po_node {
  const uint8_t *pg;
  uint32_t psz;
  unsigned n, top;
  int leaf;
} po_node;

/* One cell, bounds-checked: it lies inside [top, psz). */
typedef struct po_cell {
  const uint8_t *key, *val;      /* val: leaf only */
  unsigned klen, vlen, off, size;
  uint32_t child;                /* branch only */
} po_cell;

/* The largest leaf record (key + encoded value) of a page of page_size
 * bytes, 0 for a size no tree page may have (EseMaxRecordSize). */
size_t po_max_record(unsigned long page_size);
int po_keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl);
/* 0, or PO_BAD. */
int po_open(const uint8_t *pg, uint32_t psz, po_node *nd);
/* 0, or PO_BAD (i >= n, or the cell out of bounds). */
int po_cell_get(const po_node *nd, unsigned i, po_cell *c);
/* An empty page of type (PAGE_LEAF, PAGE_BRANCH): bytes 16.. zeroed. */
void po_init(uint8_t *pg, uint32_t psz, int type, uint32_t left);
/* Puts a cell at slot pos; the caller checked the gap holds size + 2. */
void po_insert_gap(uint8_t *pg, unsigned pos, const uint8_t *src, unsigned size);
/* Builds a cell into buf; returns its size. */
unsigned po_leaf_cell(uint8_t *buf, const void *key, size_t klen, const void *val, size_t vlen);
unsigned po_branch_cell(uint8_t *buf, const uint8_t *key, unsigned klen, uint32_t child);

/* Applies one operation to the tree page pg (bytes 16.. only):
 *   PO_NEWPAGE body = u8 type (PAGE_LEAF, PAGE_BRANCH), u32 left (a leaf:
 *              0; a branch: not 0), then the page's cells, of that kind,
 *              in strictly ascending key order (none: an empty page);
 *              slot 0.  The page is formatted: whatever it held (zeros, a
 *              page of another type, garbage) is replaced by an empty page
 *              of type and left, then each cell is put at the next slot
 *              (just below the previous one).  PO_BAD when a cell is
 *              malformed or out of order, or the cells do not fit;
 *   PO_SPLIT   slot = k (0 .. n - 1), body = u32 the new page the cells of
 *              slots k .. n - 1 went to (not 0), u16 klen, key: the key
 *              of slot k (else PO_KEY).  The page is truncated at k: the
 *              cells of slots k .. n - 1 and those slots are zeroed, n
 *              becomes k and top the lowest offset of a remaining cell
 *              (the page size when none remains);
 *   PO_INSERT  body = a cell of the page's kind whose key sorts strictly
 *              between the keys of slots slot - 1 and slot (else PO_KEY),
 *              put at slot (0..n): in
 *              the gap, else after compacting the page, else PO_FULL;
 *   PO_REPLACE body = a leaf cell whose key must be the slot's: the value
 *              is overwritten in place when its length is the same, else
 *              the cell is removed and the new one inserted (compacting as
 *              an insert does), PO_FULL when it does not fit compacted;
 *   PO_DELETE  body = u16 klen, key: the slot's key; its cell is zeroed and
 *              the slot removed;
 *   PO_UNLINK  a branch page only; body = u8 mode, u32 child, u16 klen,
 *              key: the key of slot (else PO_KEY).  Takes the child out of
 *              the branch (an emptied child, freed by PO_FREEPAGE):
 *              mode PO_UNLINK_CELL: the child of slot's cell must be child;
 *              the cell is zeroed and the slot removed (its keys now belong
 *              to the child before it);
 *              mode PO_UNLINK_LEFT: slot must be 0 and the page's left
 *              must be child; left becomes the child of slot 0's cell, and
 *              that cell is zeroed and its slot removed (the keys below
 *              slot 0's key now belong to that child).  A child other than
 *              the record's: PO_KEY;
 *   PO_FREEPAGE slot 0; body = u8 type, u32 left: the page must be an empty
 *              tree page of that type and left (a leaf: n = 0, left 0; a
 *              branch: n = 0, left its one child, freed before it), or a
 *              long value's page of that type whose u32 at offset 24 is
 *              left (PAGE_LVDATA: 0; PAGE_LVDIR: its next directory page,
 *              lv.h), else PO_KEY; any other type PO_BAD.  Bytes 16..
 *              become zeros: type PAGE_FREE (0), the mark that the free
 *              list's reuse checks.  The page's other bytes are not
 *              checked: a long value's page is freed whole.
 * On any result but PO_OK the page is unchanged. */
int pageop_apply(uint8_t *pg, uint32_t psz, int type, unsigned slot, const uint8_t *body, size_t blen);
/* pageop_apply(pg, psz, PO_FREEPAGE, slot, body, blen)'s result, the page
 * unchanged: PO_OK when the page may be freed so.  It reads bytes 16 .. 31
 * of pg only (the type, n, top and left). */
int pageop_can_free(const uint8_t *pg, uint32_t psz, unsigned slot, const uint8_t *body, size_t blen);
/* The bytes pageop_apply(pg, psz, type, slot, body of blen bytes) may
 * change, for an undo (pager.h pager_write_ranges): up to PO_TOUCH_MAX
 * ranges {offset, length} in r, their count returned; 0 when any byte
 * may change.  An insert into a gap with room for it: the header's n and
 * top, the slots from slot on and the cell's place below top; any other
 * operation: 0. */
#define PO_TOUCH_MAX 3
size_t pageop_touches(const uint8_t *pg, uint32_t psz, int type, unsigned slot, size_t blen, uint16_t r[PO_TOUCH_MAX][2]);

/* A recorded operation as the pager keeps it and the log carries it after
 * its header: u8 type, u8 0, u16 slot, u32 body length, body. */
#define PO_ENTRY_HDR 8
/* Writes an entry's header (type, slot, body length) into h. */
void pageop_entry(uint8_t h[PO_ENTRY_HDR], int type, unsigned slot, size_t blen);
/* The entry at *off of buf[0..len): 0 and *off advanced, or PO_BAD. */
int pageop_next(const uint8_t *buf, size_t len, size_t *off, int *type, unsigned *slot, const uint8_t **body,
                size_t *blen);

#endif
