/* pageop.c -- tree page layout and record operations (see pageop.h). */
#include "pageop.h"
#include "ese.h"
#include "page.h"
#include <stdlib.h>
#include <string.h>

size_t po_max_record(unsigned long page_size) {
  /* Four maximal records (cell header + slot each) fill at most one leaf,
   * so any overfull page can be split into two pages that fit. */
  if (page_size < PAGE_HDR + 4 * (EseMaxKeySize + PO_LEAF_CH + 2) || page_size > 32768) return 0;
  return (page_size - PAGE_HDR) / 4 - (PO_LEAF_CH + 2);
}

int po_keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) { return page_keycmp(a, al, b, bl); }

int po_open(const uint8_t *pg, uint32_t psz, po_node *nd) {
  nd->pg = pg;
  nd->psz = psz;
  nd->leaf = pg[16] == PAGE_LEAF;
  nd->n = get16(pg + PO_OFF_N);
  nd->top = get16(pg + PO_OFF_TOP);
  if (!nd->leaf && pg[16] != PAGE_BRANCH) return PO_BAD;
  if (nd->top < PAGE_HDR + 2 * nd->n || nd->top > psz) return PO_BAD;
  return PO_OK;
}

int po_cell_get(const po_node *nd, unsigned i, po_cell *c) {
  unsigned hl = nd->leaf ? PO_LEAF_CH : PO_BR_CH;
  if (i >= nd->n) return PO_BAD;
  c->off = get16(nd->pg + PAGE_HDR + 2 * i);
  if (c->off < nd->top || c->off + hl > nd->psz) return PO_BAD;
  const uint8_t *q = nd->pg + c->off;
  c->klen = get16(q);
  c->vlen = nd->leaf ? get16(q + 2) : 0;
  c->child = nd->leaf ? 0 : get32(q + 2);
  c->key = q + hl;
  c->val = c->key + c->klen;
  c->size = hl + c->klen + c->vlen;
  if (c->klen == 0 || c->klen > EseMaxKeySize || c->off + c->size > nd->psz) return PO_BAD;
  return PO_OK;
}

void po_init(uint8_t *pg, uint32_t psz, int type, uint32_t left) {
  memset(pg + 16, 0, psz - 16);
  pg[16] = (uint8_t)type;
  put16(pg + PO_OFF_TOP, (uint16_t)psz);
  put32(pg + PO_OFF_LEFT, left);
}

void po_insert_gap(uint8_t *pg, unsigned pos, const uint8_t *src, unsigned size) {
  unsigned n = get16(pg + PO_OFF_N), top = get16(pg + PO_OFF_TOP) - size;
  memcpy(pg + top, src, size);
  memmove(pg + PAGE_HDR + 2 * (pos + 1), pg + PAGE_HDR + 2 * pos, 2 * (n - pos));
  put16(pg + PAGE_HDR + 2 * pos, (uint16_t)top);
  put16(pg + PO_OFF_N, (uint16_t)(n + 1));
  put16(pg + PO_OFF_TOP, (uint16_t)top);
}

unsigned po_leaf_cell(uint8_t *buf, const void *key, size_t klen, const void *val, size_t vlen) {
  put16(buf, (uint16_t)klen);
  put16(buf + 2, (uint16_t)vlen);
  memcpy(buf + PO_LEAF_CH, key, klen);
  if (vlen) memcpy(buf + PO_LEAF_CH + klen, val, vlen);
  return (unsigned)(PO_LEAF_CH + klen + vlen);
}

unsigned po_branch_cell(uint8_t *buf, const uint8_t *key, unsigned klen, uint32_t child) {
  put16(buf, (uint16_t)klen);
  put32(buf + 2, child);
  memcpy(buf + PO_BR_CH, key, klen);
  return PO_BR_CH + klen;
}

/* Bytes of cells and slots in use; PO_BAD in *err on a bad cell. */
static unsigned long used_bytes(const po_node *nd, int *err) {
  unsigned long used = 0;
  for (unsigned i = 0; i < nd->n; i++) {
    po_cell c;
    if (po_cell_get(nd, i, &c)) {
      *err = PO_BAD;
      return 0;
    }
    used += c.size + 2;
  }
  *err = PO_OK;
  return used;
}

/* Removes slot pos (valid, its cell c): the cell's bytes are zeroed, and
 * given back at once when it is the lowest cell, else on the next
 * compaction. */
static void remove_slot(uint8_t *pg, const po_node *nd, unsigned pos, const po_cell *c) {
  memmove(pg + PAGE_HDR + 2 * pos, pg + PAGE_HDR + 2 * (pos + 1), 2 * (nd->n - pos - 1));
  put16(pg + PAGE_HDR + 2 * (nd->n - 1), 0);
  put16(pg + PO_OFF_N, (uint16_t)(nd->n - 1));
  memset(pg + c->off, 0, c->size);
  if (c->off == nd->top) put16(pg + PO_OFF_TOP, (uint16_t)(nd->top + c->size));
}

/* Rebuilds the valid page pg from zeros with its cells in slot order and
 * cell at slot pos: inserted there, or (replace) instead of the slot's
 * cell.  tmp: a page buffer.  The caller checked (used_bytes) that every
 * cell is valid and that the result fits. */
static void compact(uint8_t *pg, uint32_t psz, unsigned pos, const uint8_t *cell, unsigned size, int replace,
                    uint8_t *tmp) {
  po_node sn;
  memcpy(tmp, pg, psz);
  po_open(tmp, psz, &sn);
  po_init(pg, psz, tmp[16], get32(tmp + PO_OFF_LEFT));
  unsigned m = replace ? sn.n : sn.n + 1;
  for (unsigned i = 0, j = 0; i < m; i++) {
    po_cell c;
    if (i == pos) {
      po_insert_gap(pg, i, cell, size);
      j += (unsigned)replace;
      continue;
    }
    po_cell_get(&sn, j++, &c);
    po_insert_gap(pg, i, tmp + c.off, c.size);
  }
}

/* compact() through a buffer of its own. */
static int compact_new(uint8_t *pg, const po_node *nd, unsigned pos, const uint8_t *cell, size_t size, int replace) {
  uint8_t *tmp = malloc(nd->psz);
  if (!tmp) return PO_NOMEM;
  compact(pg, nd->psz, pos, cell, (unsigned)size, replace, tmp);
  free(tmp);
  return PO_OK;
}

static unsigned gap_of(const po_node *nd) { return nd->top - (PAGE_HDR + 2 * nd->n); }

/* Whether body is one well-formed cell of the page's kind. */
static int cell_ok(const po_node *nd, const uint8_t *body, size_t blen) {
  size_t hl = nd->leaf ? PO_LEAF_CH : PO_BR_CH;
  if (blen < hl) return 0;
  size_t klen = get16(body), vlen = nd->leaf ? get16(body + 2) : 0;
  if (klen == 0 || klen > EseMaxKeySize || blen != hl + klen + vlen) return 0;
  return nd->leaf ? klen + vlen <= po_max_record(nd->psz) : get32(body + 2) != 0;
}

/* Whether the key of cell body sorts strictly between the keys of slots
 * pos - 1 and pos (slot order is key order: an insert at another slot, or
 * of a key already there, would break the page).  PO_OK, PO_KEY, or PO_BAD
 * for a malformed neighbour. */
static int in_order(const po_node *nd, unsigned pos, const uint8_t *body) {
  const uint8_t *key = body + (nd->leaf ? PO_LEAF_CH : PO_BR_CH);
  unsigned klen = get16(body);
  po_cell c;
  if (pos > 0 && po_cell_get(nd, pos - 1, &c)) return PO_BAD;
  if (pos > 0 && po_keycmp(c.key, c.klen, key, klen) >= 0) return PO_KEY;
  if (pos < nd->n && po_cell_get(nd, pos, &c)) return PO_BAD;
  if (pos < nd->n && po_keycmp(key, klen, c.key, c.klen) >= 0) return PO_KEY;
  return PO_OK;
}

static int op_insert(uint8_t *pg, const po_node *nd, unsigned pos, const uint8_t *body, size_t blen) {
  int err;
  if (pos > nd->n || !cell_ok(nd, body, blen)) return PO_BAD;
  if ((err = in_order(nd, pos, body))) return err;
  /* room in the gap: the page's other cells are neither read nor moved
   * (used_bytes would walk them all, for every insert of a bulk load) */
  if (gap_of(nd) >= blen + 2) {
    po_insert_gap(pg, pos, body, (unsigned)blen);
    return PO_OK;
  }
  unsigned long used = used_bytes(nd, &err) + blen + 2;
  if (err) return err;
  if (PAGE_HDR + used > nd->psz) return PO_FULL;
  return compact_new(pg, nd, pos, body, blen, 0);
}

static int op_replace(uint8_t *pg, const po_node *nd, unsigned pos, const uint8_t *body, size_t blen) {
  po_cell c;
  int err;
  if (!nd->leaf || pos >= nd->n || !cell_ok(nd, body, blen) || po_cell_get(nd, pos, &c)) return PO_BAD;
  unsigned klen = get16(body), vlen = get16(body + 2);
  if (po_keycmp(c.key, c.klen, body + PO_LEAF_CH, klen)) return PO_KEY;
  if (c.vlen == vlen) {          /* same size: overwrite in place */
    if (vlen) memcpy(pg + c.off + PO_LEAF_CH + klen, body + PO_LEAF_CH + klen, vlen);
    return PO_OK;
  }
  unsigned long used = used_bytes(nd, &err) - c.size + blen;
  if (err) return err;
  if (PAGE_HDR + used > nd->psz) return PO_FULL;
  /* removing the cell frees its slot, and its bytes when it is the lowest
   * cell: when that gap takes the new cell, remove then insert there */
  if (gap_of(nd) + 2 + (c.off == nd->top ? c.size : 0) >= blen + 2) {
    remove_slot(pg, nd, pos, &c);
    po_insert_gap(pg, pos, body, (unsigned)blen);
    return PO_OK;
  }
  return compact_new(pg, nd, pos, body, blen, 1);
}

static int op_delete(uint8_t *pg, const po_node *nd, unsigned pos, const uint8_t *body, size_t blen) {
  po_cell c;
  if (!nd->leaf || pos >= nd->n || blen < 2 || blen != 2u + get16(body) || po_cell_get(nd, pos, &c)) return PO_BAD;
  if (po_keycmp(c.key, c.klen, body + 2, blen - 2)) return PO_KEY;
  remove_slot(pg, nd, pos, &c);
  return PO_OK;
}

/* PO_NEWPAGE: built in a buffer of its own and copied over pg only when
 * every cell passed, so that a refused record leaves the page unchanged. */
static int op_newpage(uint8_t *pg, uint32_t psz, unsigned slot, const uint8_t *body, size_t blen) {
  if (slot != 0 || blen < PO_NEWPAGE_HDR) return PO_BAD;
  int type = body[0];
  uint32_t left = get32(body + 1);
  if (!(type == PAGE_LEAF && left == 0) && !(type == PAGE_BRANCH && left != 0)) return PO_BAD;
  uint8_t *tmp = malloc(psz);
  if (!tmp) return PO_NOMEM;
  po_init(tmp, psz, type, left);
  po_node nd;
  int r = PO_OK;
  for (size_t at = PO_NEWPAGE_HDR; r == PO_OK && at < blen;) {
    size_t hl = type == PAGE_LEAF ? PO_LEAF_CH : PO_BR_CH;
    size_t size = blen - at < hl ? 0 : hl + get16(body + at) + (type == PAGE_LEAF ? get16(body + at + 2) : 0);
    po_open(tmp, psz, &nd);
    if (size == 0 || size > blen - at || !cell_ok(&nd, body + at, size)) r = PO_BAD;
    else if (nd.n && in_order(&nd, nd.n, body + at) != PO_OK) r = PO_BAD;
    else if (gap_of(&nd) < size + 2) r = PO_BAD;
    else po_insert_gap(tmp, nd.n, body + at, (unsigned)size);
    at += size;
  }
  if (r == PO_OK) memcpy(pg + 16, tmp + 16, psz - 16);
  free(tmp);
  return r;
}

static int op_split(uint8_t *pg, const po_node *nd, unsigned k, const uint8_t *body, size_t blen) {
  po_cell c;
  if (k >= nd->n || blen < 6 || blen != 6u + get16(body + 4) || get32(body) == 0) return PO_BAD;
  for (unsigned i = 0; i < nd->n; i++)     /* every cell checked before any byte changes */
    if (po_cell_get(nd, i, &c)) return PO_BAD;
  po_cell_get(nd, k, &c);
  if (po_keycmp(c.key, c.klen, body + 6, blen - 6)) return PO_KEY;
  unsigned top = nd->psz;
  for (unsigned i = 0; i < nd->n; i++) {
    po_cell_get(nd, i, &c);
    if (i >= k) memset(pg + c.off, 0, c.size);
    else if (c.off < top) top = c.off;
  }
  memset(pg + PAGE_HDR + 2 * k, 0, 2 * (nd->n - k));
  put16(pg + PO_OFF_N, (uint16_t)k);
  put16(pg + PO_OFF_TOP, (uint16_t)top);
  return PO_OK;
}

static int op_unlink(uint8_t *pg, const po_node *nd, unsigned pos, const uint8_t *body, size_t blen) {
  po_cell c;
  if (nd->leaf || pos >= nd->n || blen < PO_UNLINK_HDR || blen != PO_UNLINK_HDR + (size_t)get16(body + 5) ||
      body[0] > PO_UNLINK_LEFT || (body[0] == PO_UNLINK_LEFT && pos != 0) || po_cell_get(nd, pos, &c))
    return PO_BAD;
  uint32_t child = get32(body + 1);
  if (po_keycmp(c.key, c.klen, body + PO_UNLINK_HDR, blen - PO_UNLINK_HDR)) return PO_KEY;
  if (body[0] == PO_UNLINK_CELL ? c.child != child : get32(pg + PO_OFF_LEFT) != child) return PO_KEY;
  if (body[0] == PO_UNLINK_LEFT) put32(pg + PO_OFF_LEFT, c.child);
  remove_slot(pg, nd, pos, &c);
  return PO_OK;
}

/* PO_FREEPAGE's check, on the raw page (a long value's page is no tree
 * page). */
int pageop_can_free(const uint8_t *pg, uint32_t psz, unsigned slot, const uint8_t *body, size_t blen) {
  if (!po_max_record(psz) || slot != 0 || blen != PO_FREEPAGE_LEN) return PO_BAD;
  int type = body[0];
  uint32_t left = get32(body + 1);
  if (type == PAGE_LEAF || type == PAGE_BRANCH) {
    po_node nd;
    if ((type == PAGE_LEAF) != (left == 0) || po_open(pg, psz, &nd)) return PO_BAD;
    if (pg[16] != type || nd.n != 0 || get32(pg + PO_OFF_LEFT) != left) return PO_KEY;
  } else if (type == PAGE_LVDATA || type == PAGE_LVDIR) {
    if (type == PAGE_LVDATA && left != 0) return PO_BAD;
    if (pg[16] != type || get32(pg + PO_OFF_LEFT) != left) return PO_KEY;
  } else {
    return PO_BAD;
  }
  return PO_OK;
}

/* PO_FREEPAGE: checked, then bytes 16.. zeroed. */
static int op_freepage(uint8_t *pg, uint32_t psz, unsigned slot, const uint8_t *body, size_t blen) {
  int r = pageop_can_free(pg, psz, slot, body, blen);
  if (r == PO_OK) memset(pg + 16, 0, psz - 16);
  return r;
}

int pageop_apply(uint8_t *pg, uint32_t psz, int type, unsigned slot, const uint8_t *body, size_t blen) {
  po_node nd;
  if (type == PO_NEWPAGE) return po_max_record(psz) ? op_newpage(pg, psz, slot, body, blen) : PO_BAD;
  if (type == PO_FREEPAGE) return op_freepage(pg, psz, slot, body, blen);
  if (po_open(pg, psz, &nd)) return PO_BAD;
  switch (type) {
  case PO_SPLIT: return op_split(pg, &nd, slot, body, blen);
  case PO_INSERT: return op_insert(pg, &nd, slot, body, blen);
  case PO_REPLACE: return op_replace(pg, &nd, slot, body, blen);
  case PO_DELETE: return op_delete(pg, &nd, slot, body, blen);
  case PO_UNLINK: return op_unlink(pg, &nd, slot, body, blen);
  default: return PO_BAD;
  }
}

size_t pageop_touches(const uint8_t *pg, uint32_t psz, int type, unsigned slot, size_t blen, uint16_t r[PO_TOUCH_MAX][2]) {
  po_node nd;
  if (type != PO_INSERT || po_open(pg, psz, &nd) || slot > nd.n || gap_of(&nd) < blen + 2) return 0;
  /* op_insert's first path: po_insert_gap */
  r[0][0] = PO_OFF_N;
  r[0][1] = 4;   /* n, top */
  r[1][0] = (uint16_t)(PAGE_HDR + 2 * slot);
  r[1][1] = (uint16_t)(2 * (nd.n - slot + 1));
  r[2][0] = (uint16_t)(nd.top - blen);
  r[2][1] = (uint16_t)blen;
  return 3;
}

int pageop_next(const uint8_t *buf, size_t len, size_t *off, int *type, unsigned *slot, const uint8_t **body,
                size_t *blen) {
  size_t at = *off;
  if (len - at < PO_ENTRY_HDR) return PO_BAD;
  uint32_t n = get32(buf + at + 4);
  if (n > len - at - PO_ENTRY_HDR || buf[at + 1] != 0) return PO_BAD;
  *type = buf[at];
  *slot = get16(buf + at + 2);
  *body = buf + at + PO_ENTRY_HDR;
  *blen = n;
  *off = at + PO_ENTRY_HDR + n;
  return PO_OK;
}

void pageop_entry(uint8_t h[PO_ENTRY_HDR], int type, unsigned slot, size_t blen) {
  h[0] = (uint8_t)type;
  h[1] = 0;
  put16(h + 2, (uint16_t)slot);
  put32(h + 4, (uint32_t)blen);
}
