/*
 * writeset.h -- a transaction's private writes: (dbid, root, key) ->
 * value or tombstone, last write wins.  Nothing here is visible to other
 * sessions; commit applies the entries to the trees in key order.
 */
#ifndef ESE_WRITESET_H
#define ESE_WRITESET_H
#include <stddef.h>
#include <stdint.h>
#include "ese.h"

typedef struct wsent {
  uint32_t dbid, root;
  uint32_t klen, vlen;
  int tomb;
  int val_own;              /* val is a malloc of its own (a value over
                             * WS_OVERHEAD bytes, or one replaced in the
                             * transaction), else in the arena */
  uint8_t *key, *val;
} wsent;

/* A block of the write set's arena: the keys, and the values of at most
 * WS_OVERHEAD bytes written once, of a transaction, freed together by
 * ws_clear (a bulk load's 10,000 puts cost a few blocks, not 20,000
 * mallocs and frees).  A larger value has its own malloc, freed when it is
 * replaced: the arena keeps nothing the set no longer counts but those. */
typedef struct ws_block {
  struct ws_block *next;
  size_t used, cap;
  uint8_t data[];
} ws_block;

typedef struct writeset {
  wsent *ents;              /* insertion order, overwritten in place */
  size_t n, cap;
  size_t *slots;            /* open-addressing hash of entry index + 1 */
  size_t nslots;
  size_t *order;            /* entry indexes sorted by (dbid, root, key) */
  size_t ocap;              /* order's capacity */
  int sorted;               /* order is valid: built by ws_sorted, then kept
                             * valid by each new entry's insertion */
  uint64_t full_sorts;      /* times ws_sorted built order from scratch (tests) */
  size_t bytes;             /* sum of WS_OVERHEAD + klen + vlen over the entries */
  ws_block *arena;          /* the block in use first, then the full ones */
} writeset;

#define WS_OVERHEAD 64      /* bytes counted per entry besides key and value */
#define WS_BLOCK_SIZE (64u * 1024u) /* arena block; a larger key + value gets a block of its own size */
#define WS_KEEP_ENTRIES 1024 /* ws_clear keeps the arrays of a set of at most this many entries */

void ws_init(writeset *w);
void ws_free(writeset *w);
void ws_clear(writeset *w);
JET_ERR ws_put(writeset *w, uint32_t dbid, uint32_t root, const void *key, size_t klen,
               const void *val, size_t vlen, int tomb);
/* The entry for the key, or NULL. */
const wsent *ws_get(const writeset *w, uint32_t dbid, uint32_t root, const void *key, size_t klen);
/* Entries in (dbid, root, key) order: *out gets the sorted index array. */
JET_ERR ws_sorted(writeset *w, const size_t **order);
/* Seek among the entries of one tree (tombstones included): op is one
 * JET_bitSeek*; *out NULL when none qualifies.  klen 0 as in bt_seek.
 * JET_errOutOfMemory when the sorted index cannot be built. */
JET_ERR ws_seek(writeset *w, uint32_t dbid, uint32_t root, const void *key, size_t klen, JET_GRBIT op,
                const wsent **out);
int ws_keycmp(const void *a, size_t alen, const void *b, size_t blen);

#endif
