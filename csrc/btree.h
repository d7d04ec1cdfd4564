/*
 * btree.h -- ordered key/value trees (B+tree) over the pager.
 *
 * A tree is named by its root page number, which never changes (a root
 * split moves the root's records into two new children).  Keys compare with
 * memcmp order, a shorter key first on a tie; keys are 1..EseMaxKeySize
 * bytes; values 0..LV_MAX bytes (lv.h: a value whose tag byte, key and
 * bytes exceed EseMaxRecordSize(page size) is stored out of line; bt_seek
 * returns it whole either way, or only its reference when the caller sets
 * bt_rec.refs_only, for a slice read with lv_read).  Callers hold the
 * instance lock; every page the tree changes goes through pager_write or
 * pager_alloc, so it becomes part of the pending commit.
 */
#ifndef ESE_BTREE_H
#define ESE_BTREE_H
#include <stddef.h>
#include <stdint.h>
#include "ese.h"
#include "pager.h"

/* A record copied out of the tree; buffers grow as needed, free with
 * bt_rec_free. */
typedef struct bt_rec {
  uint8_t *key; size_t klen, kcap;
  uint8_t *val; size_t vlen, vcap;
  int keys_only;                 /* set by the caller: a long value is not read (vlen 0) */
  int refs_only;                 /* set by the caller: a long value is not read; val holds its
                                  * reference (the leaf value, tag included: lv.h) and is_ref is set */
  int is_ref;                    /* set by a seek: val is a long value's reference (refs_only) */
} bt_rec;
void bt_rec_free(bt_rec *r);
/* Frees r's value buffer when it holds room for more than BT_REC_KEEP
 * bytes (a long value read before): for a record that is no longer needed
 * (a cursor's scratch record, or its record after a seek found none). */
#define BT_REC_KEEP ((size_t)1 << 20)
void bt_rec_release(bt_rec *r);
/* Copies key and value into r, growing its buffers (is_ref cleared). */
JET_ERR bt_rec_set(bt_rec *r, const void *key, size_t klen, const void *val, size_t vlen);

/* Allocates an empty root leaf. */
JET_ERR bt_create(pager *p, uint32_t *root);
/* Inserts, or replaces the value of an existing key (a long value
 * replaced frees its pages).  JET_errKeyTooBig over EseMaxKeySize,
 * JET_errRecordTooBig over LV_MAX. */
JET_ERR bt_put(pager *p, uint32_t root, const void *key, size_t klen, const void *val, size_t vlen);
/* JET_errRecordNotFound when absent. */
JET_ERR bt_delete(pager *p, uint32_t root, const void *key, size_t klen);
/* op is one of JET_bitSeekEQ/LT/LE/GE/GT.  klen 0: GE/GT give the first
 * record, LE/LT the last.  JET_errRecordNotFound when none qualifies. */
JET_ERR bt_seek(pager *p, uint32_t root, const void *key, size_t klen, JET_GRBIT op, bt_rec *out);

/* A position kept across calls (a cursor's): the path (page numbers and
 * the child taken at each branch) of the last bt_seek_hint on it, and
 * pager_changes() when it was taken.  It holds no page pointers.  Zero it
 * to start (valid = 0). */
#define BT_MAXDEPTH 24
typedef struct bt_hint {
  const pager *p;
  uint32_t root;
  uint64_t changes;
  int valid;
  unsigned depth;                 /* pgno[depth] is the leaf */
  unsigned slot;                  /* the record found in it (a hint too) */
  uint32_t pgno[BT_MAXDEPTH];
  uint16_t c[BT_MAXDEPTH];
} bt_hint;
/* bt_seek, which starts from the leaf of h instead of the root when h is
 * of this pager and tree, the pager reports no change since h was taken
 * (pager_changes), and key lies between that leaf's first and last key
 * (the leaf then holds the answer, or its neighbour does, reached through
 * h's path).  Otherwise it descends from the root.  Either way h is left
 * at the position found (also on JET_errRecordNotFound); h NULL: bt_seek. */
JET_ERR bt_seek_hint(pager *p, uint32_t root, const void *key, size_t klen, JET_GRBIT op, bt_rec *out, bt_hint *h);
/* Walks every page of the tree and checks order, bounds and page types;
 * JET_errDatabaseCorrupted on a fault.  For tests and `ese check`. */
JET_ERR bt_check(pager *p, uint32_t root, uint64_t *nrecords);
/* bt_check that also marks owned[pgno] for every page of the tree and of
 * its long values; a page out of [0, npages) or marked already is
 * JET_errDatabaseCorrupted (a page reachable twice). */
JET_ERR bt_check_owned(pager *p, uint32_t root, uint8_t *owned, uint32_t npages, uint64_t *nrecords);

#endif
