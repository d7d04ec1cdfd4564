/*
 * btree.c -- B+tree over the pager (interface in btree.h).
 *
 * Page layout, cells and the record operations: pageop.h (shared with
 * replay).  Every change of a tree page goes through pageop_apply and is
 * recorded as an operation record (pager_write_op): inserts, replaces,
 * deletes, and splits as what they move (split_put: LR_NEWPAGE of a page
 * from pager_alloc_op with the moved cells, LR_SPLIT of the split page);
 * the space page and long values' pages are the pager's and lv.c's
 * (logged as differences).
 * A branch with separators K0 < .. < Kn-1 has n + 1 children: `left` holds
 * the keys below K0, the child of cell i the keys in [Ki, Ki+1) (the last
 * one up to the branch's own upper bound).  A separator made by a leaf split
 * is the shortest prefix of the right page's first key that sorts above the
 * left page's last key.  All leaves are at the same depth; the root page
 * never moves (a root split moves its cells into two new children; a
 * root left with one child takes that child's cells, collapse_root).
 *
 * Nothing read from a page is trusted: node_open and cell_get bounds-check
 * the header, slots and cells, and any fault is JET_errDatabaseCorrupted.
 *
 * Values: a leaf cell's value is a tag byte and the value inline, or a
 * reference to a long value out of line (lv.h); bt_put chooses, bt_seek
 * returns the whole value either way (rec_from_cell), and a replace or
 * delete frees the old value's pages.
 */
#include <stdlib.h>
#include <string.h>
#include "btree.h"
#include "lv.h"
#include "page.h"
#include "pageop.h"

#define OFF_LEFT PO_OFF_LEFT
#define LEAF_CH  PO_LEAF_CH
#define BR_CH    PO_BR_CH
#define MAXDEPTH BT_MAXDEPTH      /* 24; fan-out >= 15: far beyond any real tree */
#define MAXCELL  ((32768 - PAGE_HDR) / 4)   /* largest leaf cell + slot */
#define CORRUPT  JET_errDatabaseCorrupted

typedef po_node node;
typedef po_cell cell;

typedef struct cref { const uint8_t *p; unsigned size; } cref;

/* One level of a descent: the page and the child taken (branches). */
typedef struct level { uint32_t pgno; node nd; unsigned c; } level;

/* State of one operation. */
typedef struct bt {
  pager *p;
  uint32_t psz, root;
  level path[MAXDEPTH];
  unsigned depth;                /* path[depth] is the current leaf */
  uint8_t *scratch;              /* page copy for splits */
  uint8_t *body;                 /* an LR_NEWPAGE body being built */
  cref *cells;
  unsigned ccap;
  unsigned slot;                 /* seek: the record's slot in path[depth] */
} bt;

#define keycmp po_keycmp

static JET_ERR node_open(const uint8_t *pg, uint32_t psz, node *nd) { return po_open(pg, psz, nd) ? CORRUPT : 0; }
static JET_ERR cell_get(const node *nd, unsigned i, cell *c) { return po_cell_get(nd, i, c) ? CORRUPT : 0; }

/* Child c (0..n) of a branch. */
static JET_ERR child_at(const node *nd, unsigned c, uint32_t *pgno) {
  cell ce;
  if (c == 0) {
    *pgno = get32(nd->pg + OFF_LEFT);
  } else {
    JET_ERR e = cell_get(nd, c - 1, &ce);
    if (e) return e;
    *pgno = ce.child;
  }
  return *pgno ? 0 : CORRUPT;
}

/* First slot whose key is >= key (upper: > key). */
static JET_ERR node_search(const node *nd, const void *key, size_t klen, int upper, unsigned *pos) {
  unsigned lo = 0, hi = nd->n;
  while (lo < hi) {
    unsigned mid = lo + (hi - lo) / 2;
    cell c;
    JET_ERR e = cell_get(nd, mid, &c);
    if (e) return e;
    int r = keycmp(c.key, c.klen, key, klen);
    if (r < 0 || (upper && r == 0)) lo = mid + 1; else hi = mid;
  }
  *pos = lo;
  return 0;
}

/* ---- page building ------------------------------------------------------ */

#define branch_cell po_branch_cell

/* One operation (pageop.h) on page pgno of p: applied by pageop_apply,
 * the function replay calls, then recorded for the log (pager_write_op).
 * *full: the page has no room for it; the page is then unchanged and no
 * record is kept (the caller splits it).  A record that cannot be kept
 * (out of memory) makes the page a difference, so the log never misses
 * a change made. */
static JET_ERR page_op_of(pager *p, uint32_t psz, uint32_t pgno, int type, unsigned pos, const uint8_t *body,
                          size_t blen, uint8_t **pg, int *full) {
  uint8_t h[PO_ENTRY_HDR];
  uint16_t touch[PO_TOUCH_MAX][2];
  const uint8_t *now;
  *full = 0;
  JET_ERR e = pager_read(p, pgno, &now);
  /* pending, no record yet; the bytes the operation may change kept (an undo) */
  if (e == JET_errSuccess) e = pager_write_ranges(p, pgno, pg, touch, pageop_touches(now, psz, type, pos, blen, touch));
  if (e) return e;
  int r = pageop_apply(*pg, psz, type, pos, body, blen);
  if (r == PO_FULL) {
    *full = 1;
    return 0;
  }
  if (r != PO_OK) return r == PO_NOMEM ? JET_errOutOfMemory : CORRUPT;
  pageop_entry(h, type, pos, blen);
  if ((e = pager_write_op(p, pgno, pg, h, sizeof h, body, blen))) {
    uint8_t *again;
    JET_ERR e2 = pager_write(p, pgno, &again);   /* the page is pending: no allocation */
    return e2 ? e2 : e;
  }
  return 0;
}

static JET_ERR page_op(bt *t, uint32_t pgno, int type, unsigned pos, const uint8_t *body, size_t blen, uint8_t **pg,
                       int *full) {
  return page_op_of(t->p, t->psz, pgno, type, pos, body, blen, pg, full);
}

/* page_op that must fit (a page just formatted or truncated for it). */
static JET_ERR page_op_fits(bt *t, uint32_t pgno, int type, unsigned pos, const uint8_t *body, size_t blen) {
  uint8_t *pg;
  int full;
  JET_ERR e = page_op(t, pgno, type, pos, body, blen, &pg, &full);
  return e ? e : full ? CORRUPT : 0;
}

/* Formats page pgno (pending by pager_alloc_op, or the root) as a page of
 * type and left holding the cells c[from..to) but c[skip]: one
 * LR_NEWPAGE record, which carries them. */
static JET_ERR format_page(bt *t, uint32_t pgno, int type, uint32_t left, const cref *c, unsigned from, unsigned to,
                           unsigned skip) {
  if (!t->body && !(t->body = malloc(t->psz + PO_NEWPAGE_HDR))) return JET_errOutOfMemory;
  size_t blen = PO_NEWPAGE_HDR;
  t->body[0] = (uint8_t)type;
  put32(t->body + 1, left);
  for (unsigned i = from; i < to; i++) {
    if (i == skip) continue;
    if (blen + c[i].size > t->psz + PO_NEWPAGE_HDR) return CORRUPT;
    memcpy(t->body + blen, c[i].p, c[i].size);
    blen += c[i].size;
  }
  return page_op_fits(t, pgno, PO_NEWPAGE, 0, t->body, blen);
}

/* A new page formatted as format_page does. */
static JET_ERR new_page(bt *t, int type, uint32_t left, const cref *c, unsigned from, unsigned to, unsigned skip,
                        uint32_t *pgno) {
  uint8_t *pg;
  JET_ERR e = pager_alloc_op(t->p, pgno, &pg);
  return e ? e : format_page(t, *pgno, type, left, c, from, to, skip);
}

/* Copies pg to scratch and lists its cells (validated) in slot order with
 * the new cell ins at position pos; *used = bytes of cells and slots. */
static JET_ERR gather(bt *t, const node *nd, unsigned pos, const uint8_t *ins, unsigned isz, unsigned *used) {
  node sn;
  if (!t->scratch && !(t->scratch = malloc(t->psz))) return JET_errOutOfMemory;
  if (t->ccap < nd->n + 1) {
    cref *c = realloc(t->cells, (nd->n + 1) * sizeof *c);
    if (!c) return JET_errOutOfMemory;
    t->cells = c;
    t->ccap = nd->n + 1;
  }
  memcpy(t->scratch, nd->pg, t->psz);
  node_open(t->scratch, t->psz, &sn);
  *used = isz + 2;
  for (unsigned i = 0, j = 0; i <= nd->n; i++) {
    cell c;
    if (i == pos) {
      t->cells[i] = (cref){ins, isz};
      continue;
    }
    JET_ERR e = cell_get(&sn, j++, &c);
    if (e) return e;
    t->cells[i] = (cref){sn.pg + c.off, c.size};
    *used += c.size + 2;
  }
  return 0;
}

/* Split point k of m cells: a leaf keeps [0,k) and moves [k,m) right; a
 * branch keeps [0,k), promotes cell k and moves [k+1,m).  Both halves must
 * fit.  pref > 0 (append at the right edge of the tree): leave the left page
 * as full as possible, so sequential loads fill pages; pref < 0
 * (prepend at the left edge): the mirror image; else balance the bytes.
 * -1 when no split fits (only on a corrupted page). */
static int choose_split(const cref *c, unsigned m, int leaf, unsigned cap, int pref) {
  unsigned long total = 0, left = 0;
  long best = -1, bestd = 0;
  for (unsigned i = 0; i < m; i++) total += c[i].size + 2;
  for (unsigned k = 1; k + (leaf ? 0 : 1) < m; k++) {
    left += c[k - 1].size + 2;
    unsigned long right = total - left - (leaf ? 0 : c[k].size + 2);
    if (left > cap || right > cap) continue;
    long d = labs((long)left - (long)right);
    if (best < 0 || pref > 0 || (pref == 0 && d < bestd)) best = k, bestd = d;
    if (pref < 0) break;
  }
  return (int)best;
}

/* Puts cell ins at slot pos of the writable page pgno, which has no room
 * for it even compacted (pageop_apply said PO_FULL), by a split, logged as
 * what it moves (docs/format.md, *Splits*).  The cells with ins at pos,
 * c[0..m), split at k (choose_split): the left half [0,k), the right half
 * [rfrom,m) (a branch promotes c[k]: its key is the separator, its child
 * the right page's left).  A page other than the root keeps the left half:
 * the right half goes to a new page (LR_NEWPAGE with its cells), the page
 * is truncated where its first cell of the right half (or the promoted
 * one) sits (LR_SPLIT; none when only ins moves), and ins is inserted
 * into its half (LR_INSERT); *right / sep / *seplen give the new page for
 * the parent.  The root keeps its number: both halves go to new pages
 * (LR_NEWPAGE each), the root becomes a branch over the left one
 * (LR_NEWPAGE of the root) with the separator of the right one
 * (LR_INSERT), ins goes to its half, and *right = 0. */
static JET_ERR split_put(bt *t, uint32_t pgno, uint8_t *pg, unsigned pos, const uint8_t *ins, unsigned isz,
                         int redge, int ledge, uint8_t *sep, unsigned *seplen, uint32_t *right) {
  node nd;
  unsigned used;
  JET_ERR e = node_open(pg, t->psz, &nd);
  *right = 0;
  if (e) return e;
  if (pos > nd.n) return CORRUPT;
  if ((e = gather(t, &nd, pos, ins, isz, &used))) return e;
  const cref *c = t->cells;
  unsigned m = nd.n + 1, hl = nd.leaf ? LEAF_CH : BR_CH, rfrom;
  int type = pg[16], pref = (redge && pos == nd.n) ? 1 : (ledge && pos == 0) ? -1 : 0;
  uint32_t left = get32(pg + OFF_LEFT), rleft = 0, lpg = pgno, rpg;
  int k = choose_split(c, m, nd.leaf, t->psz - PAGE_HDR, pref);
  if (k < 0) return CORRUPT;
  const uint8_t *a = c[k - 1].p, *b = c[k].p;
  if (nd.leaf) {                 /* shortest prefix of b above a (a < b) */
    unsigned al = get16(a), bl = get16(b), i = 0;
    while (i < al && i < bl && a[hl + i] == b[hl + i]) i++;
    *seplen = i < bl ? i + 1 : bl;
    rfrom = (unsigned)k;
  } else {
    *seplen = get16(b);
    rleft = get32(b + 2);
    rfrom = (unsigned)k + 1;
  }
  memcpy(sep, b + hl, *seplen);
  if ((e = new_page(t, type, rleft, c, rfrom, m, pos, &rpg))) return e;
  if (pgno == t->root) {
    uint8_t bc[BR_CH + EseMaxKeySize];
    if ((e = new_page(t, type, left, c, 0, (unsigned)k, pos, &lpg)) ||
        (e = format_page(t, pgno, PAGE_BRANCH, lpg, c, 0, 0, 0)) ||
        (e = page_op_fits(t, pgno, PO_INSERT, 0, bc, branch_cell(bc, sep, *seplen, rpg))))
      return e;
  } else {
    /* the page keeps its cells [0, kt): cut at its slot kt, the cell at
     * c[kt] or (past ins) c[kt + 1] */
    unsigned kt = (unsigned)k - (pos < (unsigned)k), ci = kt < pos ? kt : kt + 1;
    if (kt < nd.n) {
      uint8_t body[6 + EseMaxKeySize];
      unsigned kl = get16(c[ci].p);
      put32(body, rpg);
      put16(body + 4, (uint16_t)kl);
      memcpy(body + 6, c[ci].p + hl, kl);
      if ((e = page_op_fits(t, pgno, PO_SPLIT, kt, body, 6 + kl))) return e;
    }
    *right = rpg;
  }
  if (pos < (unsigned)k) return page_op_fits(t, lpg, PO_INSERT, pos, ins, isz);
  if (pos >= rfrom) return page_op_fits(t, rpg, PO_INSERT, pos - rfrom, ins, isz);
  return 0;                      /* a branch's promoted cell: the separator */
}

/* ---- descent ------------------------------------------------------------ */

static JET_ERR bt_init(bt *t, pager *p, uint32_t root) {
  /* path[] is filled by load() level by level (not cleared: a seek's
   * bt lives on the stack for every step of a scan) */
  t->depth = 0;
  t->scratch = NULL;
  t->body = NULL;
  t->cells = NULL;
  t->ccap = 0;
  t->slot = 0;
  t->p = p;
  t->root = root;
  t->psz = pager_page_size(p);
  return po_max_record(t->psz) ? 0 : JET_errInvalidParameter;
}

static void bt_done(bt *t) {
  free(t->scratch);
  free(t->body);
  free(t->cells);
}

/* Reads page pgno as level d of the path. */
static JET_ERR load(bt *t, unsigned d, uint32_t pgno) {
  const uint8_t *pg;
  if (d >= MAXDEPTH) return CORRUPT;
  JET_ERR e = pager_read(t->p, pgno, &pg);
  if (e) return e;
  t->path[d].pgno = pgno;
  t->path[d].c = 0;
  t->depth = d;
  return node_open(pg, t->psz, &t->path[d].nd);
}

/* From level d down to a leaf, taking at each branch the child that may
 * hold key (edge 0), or the first (edge < 0) or last (edge > 0) child. */
static JET_ERR descend(bt *t, unsigned d, const void *key, size_t klen, int edge) {
  for (;; d++) {
    level *l = &t->path[d];
    uint32_t child;
    JET_ERR e = 0;
    if (l->nd.leaf) return 0;
    if (edge) l->c = edge < 0 ? 0 : l->nd.n;
    else e = node_search(&l->nd, key, klen, 1, &l->c);
    if (e || (e = child_at(&l->nd, l->c, &child)) || (e = load(t, d + 1, child))) return e;
  }
}

/* Moves the path to the next (dir > 0) or previous (dir < 0) leaf. */
static JET_ERR step(bt *t, int dir) {
  for (unsigned d = t->depth; d-- > 0;) {
    level *l = &t->path[d];
    uint32_t child;
    JET_ERR e;
    if (dir > 0 ? l->c >= l->nd.n : l->c == 0) continue;
    l->c = dir > 0 ? l->c + 1 : l->c - 1;
    if ((e = child_at(&l->nd, l->c, &child)) || (e = load(t, d + 1, child))) return e;
    return descend(t, d + 1, NULL, 0, -dir);
  }
  return JET_errRecordNotFound;
}

/* Whether every level above d took its last (side > 0) or first child. */
static int at_edge(const bt *t, unsigned d, int side) {
  for (unsigned i = 0; i < d; i++)
    if (t->path[i].c != (side > 0 ? t->path[i].nd.n : 0)) return 0;
  return 1;
}

/* ---- public ------------------------------------------------------------- */

void bt_rec_free(bt_rec *r) {
  free(r->key);
  free(r->val);
  memset(r, 0, sizeof *r);
}

void bt_rec_release(bt_rec *r) {
  if (r->vcap <= BT_REC_KEEP) return;
  free(r->val);
  r->val = NULL;
  r->vcap = r->vlen = 0;
}

JET_ERR bt_create(pager *p, uint32_t *root) {
  uint8_t *pg;
  uint32_t pgno, psz = pager_page_size(p);
  if (!po_max_record(psz)) return JET_errInvalidParameter;
  uint8_t body[PO_NEWPAGE_HDR] = { PAGE_LEAF, 0, 0, 0, 0 };
  int full;
  JET_ERR e = pager_alloc_op(p, &pgno, &pg);
  if (e == JET_errSuccess) e = page_op_of(p, psz, pgno, PO_NEWPAGE, 0, body, sizeof body, &pg, &full);
  if (e) return e;
  *root = pgno;
  return full ? CORRUPT : 0;
}

/* The reference of the long value a leaf cell holds, copied into ref: 1,
 * or 0 for an inline value. */
static int long_ref(const cell *c, uint8_t ref[LV_REF_SIZE]) {
  if (!c->vlen || c->val[0] != LV_TAG_LONG) return 0;
  memcpy(ref, c->val, c->vlen < LV_REF_SIZE ? c->vlen : LV_REF_SIZE);
  return 1;
}

JET_ERR bt_put(pager *p, uint32_t root, const void *key, size_t klen, const void *val, size_t vlen) {
  bt t;
  uint8_t buf[MAXCELL], sep[EseMaxKeySize], *pg, venc[MAXCELL], oldref[LV_REF_SIZE];
  unsigned pos, seplen, isz;
  uint32_t right;
  size_t elen;
  cell c;
  JET_ERR e = bt_init(&t, p, root);
  if (e) return e;
  if (!klen || !key || (vlen && !val)) return JET_errInvalidParameter;
  if (klen > EseMaxKeySize) return JET_errKeyTooBig;
  if (vlen > LV_MAX) return JET_errRecordTooBig;
  if ((e = load(&t, 0, root)) || (e = descend(&t, 0, key, klen, 0))) return e;
  level *lf = &t.path[t.depth];
  if ((e = node_search(&lf->nd, key, klen, 0, &pos))) return e;
  int exists = 0, had_long = 0;
  if (pos < lf->nd.n) {
    if ((e = cell_get(&lf->nd, pos, &c))) return e;
    exists = keycmp(c.key, c.klen, key, klen) == 0;
    had_long = exists && long_ref(&c, oldref);
  }
  /* The old long value's pages are freed first, so the new one may reuse
   * them in this same commit (pager.h: the free-list invariant).  Neither
   * touches a tree page: the path stays valid. */
  if (had_long && (e = lv_free(p, oldref))) return e;
  if (1 + klen + vlen <= po_max_record(t.psz)) {
    venc[0] = LV_TAG_INLINE;
    if (vlen) memcpy(venc + 1, val, vlen);
    elen = 1 + vlen;
  } else {
    if ((e = lv_put(p, val, vlen, venc))) return e;
    elen = LV_REF_SIZE;
  }
  isz = po_leaf_cell(buf, key, klen, venc, elen);
  /* Put the cell (a replace: over the slot's); while a page splits, put
   * (separator, new page) into its parent, at the slot after the child the
   * descent took. */
  int type = exists ? PO_REPLACE : PO_INSERT;
  for (unsigned d = t.depth;; d--) {
    int full;
    e = page_op(&t, t.path[d].pgno, type, pos, buf, isz, &pg, &full);
    if (e || !full) break;
    if (type == PO_REPLACE) {    /* a longer value that does not fit: remove the old cell, split */
      uint8_t del[2 + EseMaxKeySize];
      put16(del, (uint16_t)klen);
      memcpy(del + 2, key, klen);
      if ((e = page_op_fits(&t, t.path[d].pgno, PO_DELETE, pos, del, 2 + klen))) break;
    }
    e = split_put(&t, t.path[d].pgno, pg, pos, buf, isz, at_edge(&t, d, 1), at_edge(&t, d, -1), sep, &seplen, &right);
    if (e || !right) break;
    if (d == 0) { e = CORRUPT; break; }
    pos = t.path[d - 1].c;
    isz = branch_cell(buf, sep, seplen, right);
    type = PO_INSERT;
  }
  bt_done(&t);
  return e;
}

/* Frees the empty page of level d (a leaf with no record, or a branch
 * with no separator whose one child, left, was freed): LR_FREEPAGE marks it
 * free (bytes 16.. zeroed), then it goes on the free list (pager_free). */
static JET_ERR free_page(bt *t, unsigned d, uint32_t left) {
  uint8_t body[PO_FREEPAGE_LEN];
  body[0] = t->path[d].nd.leaf ? PAGE_LEAF : PAGE_BRANCH;
  put32(body + 1, left);
  JET_ERR e = page_op_fits(t, t->path[d].pgno, PO_FREEPAGE, 0, body, sizeof body);
  return e ? e : pager_free(t->p, t->path[d].pgno);
}

/* While the root is a branch without separators (its one child, left,
 * holds every key), the child takes the root's place, and the tree loses a
 * level: LR_NEWPAGE formats the root as the child (its type, left and
 * cells), LR_SPLIT at slot 0 empties the child (its cells went to the
 * root), LR_FREEPAGE marks it free and it goes on the free list.  The root
 * page never moves (the catalog and the space page name it). */
static JET_ERR collapse_root(bt *t) {
  for (;;) {
    const uint8_t *pg;
    node rn, cn;
    unsigned used;
    JET_ERR e = pager_read(t->p, t->root, &pg);
    if (e || (e = node_open(pg, t->psz, &rn))) return e;
    if (rn.leaf || rn.n) return 0;
    uint32_t child = get32(pg + OFF_LEFT);
    if (child == t->root) return CORRUPT;
    if ((e = pager_read(t->p, child, &pg)) || (e = node_open(pg, t->psz, &cn))) return e;
    if ((e = gather(t, &cn, cn.n, NULL, 0, &used))) return e;   /* the cells, from a copy (t->scratch) */
    int type = cn.leaf ? PAGE_LEAF : PAGE_BRANCH;
    uint32_t left = get32(t->scratch + OFF_LEFT);
    if ((e = format_page(t, t->root, type, left, t->cells, 0, cn.n + 1, cn.n))) return e;
    if (cn.n) {
      uint8_t body[6 + EseMaxKeySize];
      unsigned klen = get16(t->cells[0].p);
      put32(body, t->root);
      put16(body + 4, (uint16_t)klen);
      memcpy(body + 6, t->cells[0].p + (cn.leaf ? LEAF_CH : BR_CH), klen);
      if ((e = page_op_fits(t, child, PO_SPLIT, 0, body, 6 + klen))) return e;
    }
    uint8_t fb[PO_FREEPAGE_LEN];
    fb[0] = (uint8_t)type;
    put32(fb + 1, left);
    if ((e = page_op_fits(t, child, PO_FREEPAGE, 0, fb, sizeof fb)) || (e = pager_free(t->p, child))) return e;
  }
}

/* The leaf t->path[t->depth] (not the root) has just lost its last
 * record: it is freed and taken out of its parent (LR_UNLINK), and so is
 * each branch above it that thereby loses its only child.  A parent with
 * separators loses the one next to the child: the child's own cell (its
 * keys go to the child before it), or, for its leftmost child, cell 0,
 * whose child becomes the leftmost (taking the keys below it).  The root
 * never moves: a root left without any child becomes an empty leaf again
 * (LR_NEWPAGE); a root left with one child takes that child's content
 * (collapse_root).  The levels of t->path
 * are those of the descent (their nodes opened on the pages as read then:
 * n as before the delete). */
static JET_ERR unlink_empty(bt *t) {
  uint32_t left = 0;                        /* the freed child of the branch at level d */
  for (unsigned d = t->depth; d > 0; d--) {
    JET_ERR e = free_page(t, d, left);
    if (e) return e;
    level *pl = &t->path[d - 1];
    uint32_t child = t->path[d].pgno;
    if (pl->nd.n == 0) {                    /* its only child: the parent is empty now */
      if (d - 1 == 0) {
        uint8_t body[PO_NEWPAGE_HDR] = { PAGE_LEAF, 0, 0, 0, 0 };
        return page_op_fits(t, pl->pgno, PO_NEWPAGE, 0, body, sizeof body);
      }
      left = child;
      continue;
    }
    unsigned slot = pl->c ? pl->c - 1 : 0;
    cell c;
    uint8_t body[PO_UNLINK_HDR + EseMaxKeySize];
    if ((e = cell_get(&pl->nd, slot, &c))) return e;
    body[0] = pl->c ? PO_UNLINK_CELL : PO_UNLINK_LEFT;
    put32(body + 1, child);
    put16(body + 5, (uint16_t)c.klen);
    memcpy(body + PO_UNLINK_HDR, c.key, c.klen);
    if ((e = page_op_fits(t, pl->pgno, PO_UNLINK, slot, body, PO_UNLINK_HDR + c.klen))) return e;
    return d - 1 == 0 && pl->nd.n == 1 ? collapse_root(t) : 0;
  }
  return 0;
}

JET_ERR bt_delete(pager *p, uint32_t root, const void *key, size_t klen) {
  bt t;
  unsigned pos;
  uint8_t *pg;
  cell c;
  JET_ERR e = bt_init(&t, p, root);
  if (e) return e;
  if (!klen || !key) return JET_errInvalidParameter;
  if ((e = load(&t, 0, root)) || (e = descend(&t, 0, key, klen, 0))) return e;
  level *lf = &t.path[t.depth];
  if ((e = node_search(&lf->nd, key, klen, 0, &pos))) return e;
  if (pos >= lf->nd.n) return JET_errRecordNotFound;
  if ((e = cell_get(&lf->nd, pos, &c))) return e;
  if (keycmp(c.key, c.klen, key, klen)) return JET_errRecordNotFound;
  uint8_t del[2 + EseMaxKeySize], ref[LV_REF_SIZE];
  int full, had_long = long_ref(&c, ref);
  put16(del, (uint16_t)klen);
  memcpy(del + 2, key, klen);
  e = page_op(&t, lf->pgno, PO_DELETE, pos, del, 2 + (unsigned)klen, &pg, &full);
  if (e == JET_errSuccess && lf->nd.n == 1 && t.depth > 0) e = unlink_empty(&t);
  bt_done(&t);
  return e || !had_long ? e : lv_free(p, ref);
}

/* Grows *b to hold need bytes; a buffer over BT_REC_KEEP (a long value
 * read before) shrinks when need is under a quarter of it, so that a
 * cursor does not keep a large value's memory for small ones. */
static JET_ERR grow(uint8_t **b, size_t *cap, size_t need) {
  if (*b && need <= *cap && (*cap <= BT_REC_KEEP || need >= *cap / 4)) return 0;
  size_t n = need < 16 ? 16 : need;
  uint8_t *q = realloc(*b, n);
  if (!q) return JET_errOutOfMemory;
  *b = q;
  *cap = n;
  return 0;
}

JET_ERR bt_rec_set(bt_rec *r, const void *key, size_t klen, const void *val, size_t vlen) {
  JET_ERR e;
  if ((e = grow(&r->key, &r->kcap, klen)) || (e = grow(&r->val, &r->vcap, vlen))) return e;
  memcpy(r->key, key, klen);
  if (vlen) memcpy(r->val, val, vlen);
  r->klen = klen;
  r->vlen = vlen;
  r->is_ref = 0;
  return 0;
}

/* The record of a leaf cell into out: its key and its whole value (inline,
 * or read from out of line; keys_only: none; refs_only: the reference). */
static JET_ERR rec_from_cell(pager *p, const cell *c, bt_rec *out) {
  uint32_t len, dir;
  if (c->vlen && c->val[0] == LV_TAG_INLINE) return bt_rec_set(out, c->key, c->klen, c->val + 1, c->vlen - 1);
  if (lv_ref_decode(c->val, c->vlen, &len, &dir)) return CORRUPT;
  JET_ERR e = bt_rec_set(out, c->key, c->klen, out->refs_only && !out->keys_only ? c->val : NULL,
                         out->refs_only && !out->keys_only ? c->vlen : 0);
  if (out->keys_only || out->refs_only) {
    out->is_ref = e == JET_errSuccess && !out->keys_only;
    return e;
  }
  if (e == JET_errSuccess) e = grow(&out->val, &out->vcap, len);
  if (e == JET_errSuccess) e = lv_read(p, c->val, 0, len, out->val);
  if (e == JET_errSuccess) out->vlen = len;
  return e;
}

/* Whether h may stand for the root's descent to key: the hint is current
 * (same pager and tree, no page changed since) and key is the key at its
 * slot (*exact = that slot) or lies within its leaf's first..last key
 * (*exact = -1).  Then the leaf is loaded as t->path[h->depth]; the levels
 * above are not (hint_path loads them when a step needs them). */
static int hint_leaf(bt *t, const bt_hint *h, const void *key, size_t klen, long *exact) {
  cell a, b;
  *exact = -1;
  if (!h || !h->valid || !klen || h->p != t->p || h->root != t->root || h->changes != pager_changes(t->p) ||
      h->depth >= MAXDEPTH || load(t, h->depth, h->pgno[h->depth]))
    return 0;
  const node *nd = &t->path[h->depth].nd;
  if (!nd->leaf || nd->n == 0) return 0;
  if (h->slot < nd->n && !cell_get(nd, h->slot, &a) && !keycmp(a.key, a.klen, key, klen)) {
    *exact = h->slot;
    return 1;
  }
  if (cell_get(nd, 0, &a) || cell_get(nd, nd->n - 1, &b)) return 0;
  return keycmp(a.key, a.klen, key, klen) <= 0 && keycmp(key, klen, b.key, b.klen) <= 0;
}

/* Loads the branch levels of h's path above its leaf; -1 when they do not
 * lead to that leaf (never for a current hint: then a descent from the root
 * is made instead). */
static int hint_path(bt *t, const bt_hint *h) {
  for (unsigned d = h->depth; d-- > 0;) {
    uint32_t child;
    level *l = &t->path[d];
    if (load(t, d, h->pgno[d]) || l->nd.leaf || h->c[d] > l->nd.n || child_at(&l->nd, h->c[d], &child) ||
        child != h->pgno[d + 1])
      return -1;
    l->c = h->c[d];
  }
  t->depth = h->depth;
  return 0;
}

/* Asks the CPU for the cell of the record after slot i (fwd) or before it,
 * which a scan reads next: a leaf's cells lie in the order they were put,
 * so neighbouring keys are far apart in the page.  Only a hint to the
 * cache; nothing is read here.  Always inlined: as a function of its own
 * GCC finds it has no effect and drops the call. */
static inline __attribute__((always_inline)) void prefetch_next(const node *nd, unsigned i, int fwd) {
  unsigned j = fwd ? i + 1 : i - 1;
  if (j >= nd->n) return;               /* also i == 0 backward */
  unsigned off = get16(nd->pg + PAGE_HDR + 2 * j);
  if (off >= nd->top && off + 128 <= nd->psz) {
    __builtin_prefetch(nd->pg + off);
    __builtin_prefetch(nd->pg + off + 64);
  }
}

/* The seek on a path whose leaf is t->path[t->depth] (the levels above
 * loaded unless lazy: then h's path is loaded before a step needs it;
 * *stale when that fails).  exact >= 0: the slot that holds key. */
static JET_ERR seek_leaf(bt *t, const bt_hint *lazy, int *stale, long exact, const void *key, size_t klen,
                         JET_GRBIT op, bt_rec *out) {
  unsigned i = 0;
  cell c;
  JET_ERR e;
  int fwd = op == JET_bitSeekGE || op == JET_bitSeekGT;
  int back = op == JET_bitSeekLE || op == JET_bitSeekLT;
  node *nd = &t->path[t->depth].nd;
  int upper = op == JET_bitSeekGT || op == JET_bitSeekLE;
  if (!klen) i = fwd ? 0 : nd->n;
  else if (exact >= 0) i = (unsigned)exact + (unsigned)upper;
  else if ((e = node_search(nd, key, klen, upper, &i))) return e;
  /* i: the candidate for a forward op, one past it for a backward op;
   * walk over empty leaves and leaf ends to the neighbouring leaf. */
  if (lazy && ((fwd && i >= nd->n) || (back && i == 0)) && hint_path(t, lazy)) {
    *stale = 1;
    return 0;
  }
  while (fwd && i >= nd->n) {
    if ((e = step(t, 1))) return e;
    nd = &t->path[t->depth].nd;
    i = 0;
  }
  while (back && i == 0) {
    if ((e = step(t, -1))) return e;
    nd = &t->path[t->depth].nd;
    i = nd->n;
  }
  if (back) i--;
  if (i >= nd->n) return JET_errRecordNotFound;  /* EQ past the end */
  if ((e = cell_get(nd, i, &c))) return e;
  t->slot = i;
  prefetch_next(nd, i, !back);
  if (op == JET_bitSeekEQ && keycmp(c.key, c.klen, key, klen)) return JET_errRecordNotFound;
  return rec_from_cell(t->p, &c, out);
}

JET_ERR bt_seek_hint(pager *p, uint32_t root, const void *key, size_t klen, JET_GRBIT op, bt_rec *out, bt_hint *h) {
  bt t;
  int fwd = op == JET_bitSeekGE || op == JET_bitSeekGT;
  int back = op == JET_bitSeekLE || op == JET_bitSeekLT;
  JET_ERR e = bt_init(&t, p, root);
  if (e) return e;
  if ((!fwd && !back && op != JET_bitSeekEQ) || (klen && !key) || (!klen && !fwd && !back)) return JET_errInvalidParameter;
  long exact;
  int stale = 0, lazy = hint_leaf(&t, h, key, klen, &exact);
  if (lazy) {
    unsigned d = t.depth;
    e = seek_leaf(&t, h, &stale, exact, key, klen, op, out);
    if (!stale && t.depth == d && t.path[d].pgno == h->pgno[d]) {   /* same leaf: only the slot moves */
      h->slot = t.slot;
      return e;
    }
  }
  if (!lazy || stale) {
    /* klen 0: the first (GE/GT) or last (LE/LT) record. */
    if ((e = load(&t, 0, root)) || (e = descend(&t, 0, key, klen, klen ? 0 : fwd ? -1 : 1))) return e;
    e = seek_leaf(&t, NULL, &stale, -1, key, klen, op, out);
  }
  if (h && (e == JET_errSuccess || e == JET_errRecordNotFound)) {
    *h = (bt_hint){ .p = p, .root = root, .changes = pager_changes(p), .valid = 1, .depth = t.depth, .slot = t.slot };
    for (unsigned d = 0; d <= t.depth; d++) {
      h->pgno[d] = t.path[d].pgno;
      h->c[d] = (uint16_t)t.path[d].c;
    }
  } else if (h) {
    h->valid = 0;
  }
  return e;
}

JET_ERR bt_seek(pager *p, uint32_t root, const void *key, size_t klen, JET_GRBIT op, bt_rec *out) {
  return bt_seek_hint(p, root, key, klen, op, out, NULL);
}

/* ---- check ---------------------------------------------------------------- */

typedef struct chk {
  bt *t;
  uint8_t *map;                  /* bytes of the page in use, overlap test */
  int leafdepth;
  uint64_t count;
  uint8_t *owned;                /* NULL, or owned[pgno] set for each page met (bt_check_owned) */
  uint32_t npages;
} chk;

static int own(void *ud, uint32_t pgno) {
  chk *k = ud;
  if (!k->owned) return 0;
  if (pgno >= k->npages || k->owned[pgno]) return 1;
  k->owned[pgno] = 1;
  return 0;
}

/* A leaf cell's value: a tag and the value inline, or a reference to a
 * long value too large to be inline, whose pages are checked (and owned). */
static JET_ERR check_value(chk *k, const cell *c) {
  uint32_t len, dir;
  if (!c->vlen || c->val[0] > LV_TAG_LONG) return CORRUPT;
  if (c->val[0] == LV_TAG_INLINE) return JET_errSuccess;
  if (lv_ref_decode(c->val, c->vlen, &len, &dir) || 1 + c->klen + (size_t)len <= po_max_record(k->t->psz)) return CORRUPT;
  return lv_walk(k->t->p, c->val, own, k);
}

/* Checks the subtree at pgno, whose keys must lie in [lo, hi) (NULL: no
 * bound; a branch's separators strictly above lo). */
static JET_ERR check_page(chk *k, uint32_t pgno, unsigned depth, const uint8_t *lo, unsigned lol,
                          const uint8_t *hi, unsigned hil) {
  const uint8_t *pg;
  node nd;
  cell c, prev = {0};
  JET_ERR e;
  uint32_t psz = k->t->psz;
  if (depth >= MAXDEPTH || own(k, pgno)) return CORRUPT;
  if ((e = pager_read(k->t->p, pgno, &pg)) || (e = node_open(pg, psz, &nd))) return e;
  memset(k->map, 0, psz);
  memset(k->map, 1, PAGE_HDR + 2 * nd.n);
  for (unsigned i = 0; i < nd.n; i++) {
    if ((e = cell_get(&nd, i, &c))) return e;
    for (unsigned b = c.off; b < c.off + c.size; b++) {
      if (k->map[b]) return CORRUPT;
      k->map[b] = 1;
    }
    if (i && keycmp(prev.key, prev.klen, c.key, c.klen) >= 0) return CORRUPT;
    int rlo = lo ? keycmp(c.key, c.klen, lo, lol) : 1;
    if (rlo < 0 || (!nd.leaf && rlo == 0)) return CORRUPT;
    if (hi && keycmp(c.key, c.klen, hi, hil) >= 0) return CORRUPT;
    if (nd.leaf && c.klen + c.vlen > po_max_record(psz)) return CORRUPT;
    if (nd.leaf && (e = check_value(k, &c))) return e;
    prev = c;
  }
  if (nd.leaf) {
    if (get32(pg + OFF_LEFT)) return CORRUPT;
    if (k->leafdepth < 0) k->leafdepth = (int)depth;
    if (k->leafdepth != (int)depth) return CORRUPT;
    k->count += nd.n;
    return 0;
  }
  for (unsigned i = 0; i <= nd.n; i++) {
    const uint8_t *clo = lo, *chi = hi;
    unsigned clol = lol, chil = hil;
    uint32_t child;
    if (i > 0) {
      cell_get(&nd, i - 1, &c);
      clo = c.key, clol = c.klen;
    }
    if (i < nd.n) {
      cell_get(&nd, i, &c);
      chi = c.key, chil = c.klen;
    }
    if ((e = child_at(&nd, i, &child)) || (e = check_page(k, child, depth + 1, clo, clol, chi, chil))) return e;
  }
  return 0;
}

JET_ERR bt_check(pager *p, uint32_t root, uint64_t *nrecords) { return bt_check_owned(p, root, NULL, 0, nrecords); }

JET_ERR bt_check_owned(pager *p, uint32_t root, uint8_t *owned, uint32_t npages, uint64_t *nrecords) {
  bt t;
  JET_ERR e = bt_init(&t, p, root);
  if (e) return e;
  chk k = {&t, malloc(t.psz), -1, 0, owned, npages};
  if (!k.map) return JET_errOutOfMemory;
  e = check_page(&k, root, 0, NULL, 0, NULL, 0);
  free(k.map);
  if (!e && nrecords) *nrecords = k.count;
  return e;
}
