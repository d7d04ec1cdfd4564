/*
 * pageop_test.c -- operation records (csrc/pageop.c, replayed by
 * csrc/redo.c): LR_INSERT, LR_REPLACE, LR_DELETE, the records of a
 * split, LR_SPLIT and LR_NEWPAGE, and those of an emptied page freed,
 * LR_UNLINK and LR_FREEPAGE.
 *
 * Part 1, pageop_apply on page buffers:
 *   unit   insert into the gap; insert that compacts a page with holes
 *          (the result holds every record, in order, and no hole); an
 *          insert that does not fit even compacted is PO_FULL and leaves
 *          the page unchanged; replace of the same size (in place) and of
 *          another size; delete; a replace or delete naming another key
 *          than the slot's, an insert whose key does not sort strictly
 *          between the slot's neighbours, is PO_KEY, a slot past the end or a malformed
 *          cell PO_BAD, each leaving the page unchanged.
 *   split  LR_NEWPAGE formats a page whatever it held (zeros, garbage, a
 *          page of another type) from the cells it carries; a cell out of
 *          key order, malformed, a leaf with a left page, a branch without
 *          one, cells that do not fit: PO_BAD, unchanged.  LR_SPLIT at k
 *          truncates a page: slots k.. and their cells zeroed, n = k, top
 *          the lowest remaining cell; the two halves hold every record; a
 *          key that is not slot k's is PO_KEY, k >= n PO_BAD, unchanged.
 *   unlink LR_UNLINK takes a child out of a branch: its own cell (mode 0),
 *          or the leftmost child, cell 0's child becoming left (mode 1);
 *          another key or child is PO_KEY, a leaf, a slot past the end,
 *          mode 1 at a slot other than 0, a bad mode or a cut key PO_BAD,
 *          unchanged.  LR_FREEPAGE zeroes an empty leaf (left 0), an
 *          empty branch of its left, or a long value's data page (0) or
 *          directory page of its next; a page not empty, of another type or
 *          left is PO_KEY, a malformed body PO_BAD, unchanged.
 *   fuzz   hostile records (seeded: any type, slot, damaged bodies) on
 *          pages of several fills: a refusal leaves the page unchanged, a
 *          success leaves it well-formed and in key order; then damaged
 *          pages (header, slots, cells): never a read or write outside
 *          the page (make check: ASan).
 * Part 2, through redo_apply (records fed directly, no log files) against a
 * real database the engine made (app.edb: table "t" with keys k00..k19 on
 * one leaf, clean term), each in soft recovery and in a restore:
 *   <type>-once    a group of one record of that type and its LR_COMMIT
 *                  applies: the leaf holds the change and dbtime T, and its
 *                  bytes are pageop_apply's on the page before;
 *   <type>-twice   the same group again: skipped by the dbtime rule, every
 *                  byte of the folder unchanged;
 *   <type>-newer   a commit whose T is the page's dbtime: skipped, unchanged;
 *   <type>-older   a record whose base is above the page's dbtime:
 *                  JET_errDbTimeTooOld (-566) naming the page, unchanged;
 *   <type>-key     a record whose key is not the slot's (an insert: whose
 *                  key does not sort between the slot's neighbours):
 *                  JET_errLogFileCorrupt (restore:
 *                  JET_errLogCorruptDuringHardRestore), the detail naming
 *                  page and slot, unchanged;
 *   many           three records of one page in one commit apply in order;
 *   mixed-base     two records of one page with different bases: corrupt;
 *   op-and-diff    a page both as a difference and by a record: corrupt;
 *   split-*        a split of the leaf at slot 10 to a page never written
 *                  (LR_NEWPAGE of the new page with the moved cells, base
 *                  0, and LR_SPLIT of the leaf): once (both pages as
 *                  pageop_apply makes them), twice (unchanged), with the
 *                  leaf already split but the new page never written (a
 *                  crash or a fuzzy copy: the new page comes from the
 *                  record alone), with the new page written but the leaf
 *                  not, a split of the wrong key (corrupt naming page and
 *                  slot), of a base above the leaf's (-566), and an
 *                  LR_NEWPAGE onto a page of another dbtime below T
 *                  (applies: a format ignores the old bytes);
 *   rootsplit-*    a root split (two LR_NEWPAGE of the halves, LR_NEWPAGE
 *                  of the root as a branch, LR_INSERT of the separator):
 *                  once, twice, parent newer with the children never
 *                  written, children newer with the parent old;
 *   free-*         the leaf of a root split emptied and freed (LR_DELETE of
 *                  each record, LR_FREEPAGE) and taken out of the root
 *                  (LR_UNLINK): the right child by its cell, the left one
 *                  as left, the last child making the root an empty leaf
 *                  (LR_NEWPAGE): once, twice, the parent newer with the
 *                  child as before and the reverse; a wrong key or child,
 *                  and a free of a page not empty: corrupt naming page and
 *                  slot, unchanged;
 *   fuzz-redo      hostile groups of operation records (random header
 *                  fields, damaged bodies): a JET_err or success, never a
 *                  crash (make check: ASan).
 *
 * usage: pageop_test   prints "pageop_test: <case>: ok" per case and
 * "pageop_test: ok" at the end, exit 0; else a FAIL line, exit 1.
 */
#define HARNESS_NAME "pageop_test"
#include "harness.h"
#include "internal.h"
#include "page.h"
#include "pageop.h"
#include "redo.h"

#define PAGE_SIZE 8192

static char dir[4096], dbpath[4200];
static dbheader hdr;
static uint32_t leaf;       /* the page holding k00..k19 */

static void say_ok(const char *what) {
  printf("pageop_test: %s: ok\n", what);
  fflush(stdout);
}

/* ---- part 1 -------------------------------------------------------------- */

static uint8_t *leaf_page(void) {
  static uint8_t pg[PAGE_SIZE];
  po_init(pg, PAGE_SIZE, PAGE_LEAF, 0);
  return pg;
}

/* Key "kNN" and a value of vlen bytes of c as a leaf cell in buf. */
static unsigned cell_of(uint8_t *buf, int i, size_t vlen, int c) {
  char k[8];
  uint8_t v[PAGE_SIZE];
  snprintf(k, sizeof k, "k%02d", i);
  memset(v, c, vlen);
  return po_leaf_cell(buf, k, 3, v, vlen);
}

static unsigned del_of(uint8_t *buf, int i) {
  char k[16];
  snprintf(k, sizeof k, "k%02d", i);
  put16(buf, 3);
  memcpy(buf + 2, k, 3);
  return 5;
}

static void expect_po(int got, int want, const char *what) {
  if (got != want) FAIL("%s: pageop_apply gave %d, not %d", what, got, want);
}

/* The page holds n records in key order, the i-th's value of byte val(i). */
static void expect_records(const uint8_t *pg, unsigned n, const char *what) {
  po_node nd;
  if (po_open(pg, PAGE_SIZE, &nd) || nd.n != n) FAIL("%s: the page holds %u records, not %u", what, nd.n, n);
  for (unsigned i = 0; i < n; i++) {
    po_cell c, p;
    if (po_cell_get(&nd, i, &c)) FAIL("%s: slot %u is malformed", what, i);
    if (i && (po_cell_get(&nd, i - 1, &p) || po_keycmp(p.key, p.klen, c.key, c.klen) >= 0))
      FAIL("%s: slot %u is out of order", what, i);
  }
}

/* The page's cells lie back to back from top to the page's end. */
static void expect_packed(const uint8_t *pg, const char *what) {
  po_node nd;
  size_t used = 0;
  po_open(pg, PAGE_SIZE, &nd);
  for (unsigned i = 0; i < nd.n; i++) {
    po_cell c;
    po_cell_get(&nd, i, &c);
    used += c.size;
  }
  if (nd.top != PAGE_SIZE - used) FAIL("%s: cells are not packed (top %u, %zu bytes)", what, nd.top, used);
}

static void unit(void) {
  uint8_t *pg = leaf_page(), before[PAGE_SIZE], cell[PAGE_SIZE];
  unsigned n;
  /* 30 records of 200 bytes at slots in key order */
  for (int i = 0; i < 30; i++) {
    n = cell_of(cell, i, 200, 'a' + i % 26);
    expect_po(pageop_apply(pg, PAGE_SIZE, PO_INSERT, (unsigned)i, cell, n), PO_OK, "insert");
  }
  expect_records(pg, 30, "insert");
  /* a hole from every other record deleted */
  for (int i = 28; i >= 0; i -= 2) {
    n = del_of(cell, i);
    expect_po(pageop_apply(pg, PAGE_SIZE, PO_DELETE, (unsigned)i, cell, n), PO_OK, "delete");
  }
  expect_records(pg, 15, "delete");
  po_node nd;
  po_open(pg, PAGE_SIZE, &nd);
  unsigned gap = nd.top - (PAGE_HDR + 2 * nd.n);
  /* an insert larger than the gap compacts the page */
  n = cell_of(cell, 0, gap + 100, 'z');
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_INSERT, 0, cell, n), PO_OK, "compacting insert");
  expect_records(pg, 16, "compacting insert");
  expect_packed(pg, "compacting insert");
  say_ok("compact");
  /* no room even compacted: PO_FULL, unchanged (a page of four maximal
   * records, the first deleted and a fifth coming) */
  {
    static uint8_t full[PAGE_SIZE];
    po_init(full, PAGE_SIZE, PAGE_LEAF, 0);
    for (int i = 0; i < 4; i++) {
      n = cell_of(cell, i, EseMaxRecordSize(PAGE_SIZE) - 3, 'f');
      expect_po(pageop_apply(full, PAGE_SIZE, PO_INSERT, (unsigned)i, cell, n), PO_OK, "maximal insert");
    }
    n = cell_of(cell, 9, 200, 'g');
    expect_po(pageop_apply(full, PAGE_SIZE, PO_INSERT, 4, cell, n), PO_FULL, "full insert");
    n = del_of(cell, 0);
    expect_po(pageop_apply(full, PAGE_SIZE, PO_DELETE, 0, cell, n), PO_OK, "delete from a full page");
    memcpy(before, full, PAGE_SIZE);
    n = cell_of(cell, 9, EseMaxRecordSize(PAGE_SIZE) - 3, 'g');
    expect_po(pageop_apply(full, PAGE_SIZE, PO_INSERT, 3, cell, n), PO_OK, "insert into the hole (compacting)");
    n = cell_of(cell, 8, 300, 'h');
    memcpy(before, full, PAGE_SIZE);
    expect_po(pageop_apply(full, PAGE_SIZE, PO_INSERT, 3, cell, n), PO_FULL, "full insert");
    if (memcmp(before, full, PAGE_SIZE)) FAIL("full insert: the page changed");
    n = cell_of(cell, 1, EseMaxRecordSize(PAGE_SIZE) - 3 - 20, 'h');
    expect_po(pageop_apply(full, PAGE_SIZE, PO_REPLACE, 0, cell, n), PO_OK, "replace smaller on a full page");
    n = cell_of(cell, 0, 0, 'i');
    expect_po(pageop_apply(full, PAGE_SIZE, PO_INSERT, 0, cell, n), PO_OK, "insert into the freed bytes");
    memcpy(before, full, PAGE_SIZE);
    n = cell_of(cell, 1, EseMaxRecordSize(PAGE_SIZE) - 3, 'h');
    expect_po(pageop_apply(full, PAGE_SIZE, PO_REPLACE, 1, cell, n), PO_FULL, "full replace");
    if (memcmp(before, full, PAGE_SIZE)) FAIL("full replace: the page changed");
  }
  /* replace: same size in place, then larger and smaller */
  n = cell_of(cell, 1, 200, 'R');
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_REPLACE, 1, cell, n), PO_OK, "replace same size");
  po_open(pg, PAGE_SIZE, &nd);
  po_cell c;
  po_cell_get(&nd, 1, &c);
  if (c.vlen != 200 || c.val[0] != 'R' || c.val[199] != 'R') FAIL("replace same size: the value is not the new one");
  n = cell_of(cell, 1, 900, 'S');
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_REPLACE, 1, cell, n), PO_OK, "replace larger");
  n = cell_of(cell, 1, 10, 'T');
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_REPLACE, 1, cell, n), PO_OK, "replace smaller");
  po_open(pg, PAGE_SIZE, &nd);
  po_cell_get(&nd, 1, &c);
  if (c.vlen != 10 || c.val[0] != 'T' || c.key[1] != '0' || c.key[2] != '1') FAIL("replace: slot 1 is not k01 = T*10");
  expect_records(pg, 16, "replace");
  /* refusals leave the page unchanged */
  memcpy(before, pg, PAGE_SIZE);
  n = cell_of(cell, 7, 10, 'x');
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_REPLACE, 1, cell, n), PO_KEY, "replace of another key");
  n = del_of(cell, 7);
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_DELETE, 1, cell, n), PO_KEY, "delete of another key");
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_DELETE, 16, cell, n), PO_BAD, "delete past the end");
  n = cell_of(cell, 40, 10, 'x');
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_INSERT, 17, cell, n), PO_BAD, "insert past the end");
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_INSERT, 16, cell, n - 1), PO_BAD, "insert of a short cell");
  put16(cell, 0);
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_INSERT, 16, cell, n - 3), PO_BAD, "insert of an empty key");
  expect_po(pageop_apply(pg, PAGE_SIZE, 42, 0, cell, n), PO_BAD, "unknown type");
  /* an insert whose key does not sort strictly between the slot's
   * neighbours (slot 0 is k00, slot 1 k01, slot 2 k03) */
  n = cell_of(cell, 2, 10, 'x');
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_INSERT, 0, cell, n), PO_KEY, "insert above the slot's key");
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_INSERT, 3, cell, n), PO_KEY, "insert below the previous slot's key");
  n = cell_of(cell, 1, 10, 'x');
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_INSERT, 1, cell, n), PO_KEY, "insert of the slot's key");
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_INSERT, 2, cell, n), PO_KEY, "insert of the previous slot's key");
  if (memcmp(before, pg, PAGE_SIZE)) FAIL("refusals: the page changed");
  say_ok("unit");
}

/* The cells of slots [from, to) of pg after an LR_NEWPAGE header (type,
 * left) in body; returns the body's length. */
static size_t newpage_body(uint8_t *body, int type, uint32_t left, const uint8_t *pg, unsigned from, unsigned to) {
  po_node nd;
  size_t n = PO_NEWPAGE_HDR;
  body[0] = (uint8_t)type;
  put32(body + 1, left);
  if (po_open(pg, PAGE_SIZE, &nd)) FAIL("newpage_body: a malformed page");
  for (unsigned i = from; i < to; i++) {
    po_cell c;
    if (po_cell_get(&nd, i, &c)) FAIL("newpage_body: slot %u", i);
    memcpy(body + n, pg + c.off, c.size);
    n += c.size;
  }
  return n;
}

/* An LR_SPLIT body: the new page, the key of slot k of pg. */
static size_t split_body(uint8_t *body, uint32_t newpg, const uint8_t *pg, unsigned k) {
  po_node nd;
  po_cell c;
  if (po_open(pg, PAGE_SIZE, &nd) || po_cell_get(&nd, k, &c)) FAIL("split_body: slot %u", k);
  put32(body, newpg);
  put16(body + 4, (uint16_t)c.klen);
  memcpy(body + 6, c.key, c.klen);
  return 6 + c.klen;
}

static void unit_split(void) {
  static uint8_t pg[PAGE_SIZE], right[PAGE_SIZE], before[PAGE_SIZE], body[PAGE_SIZE + 8], cell[PAGE_SIZE];
  po_init(pg, PAGE_SIZE, PAGE_LEAF, 0);
  for (int i = 0; i < 30; i++) {
    unsigned n = cell_of(cell, i, 200, 'a' + i % 26);
    expect_po(pageop_apply(pg, PAGE_SIZE, PO_INSERT, (unsigned)i, cell, n), PO_OK, "split: insert");
  }
  for (int i = 28; i >= 0; i -= 7) {          /* a few holes */
    unsigned n = del_of(cell, i);
    expect_po(pageop_apply(pg, PAGE_SIZE, PO_DELETE, (unsigned)i, cell, n), PO_OK, "split: delete");
  }
  po_node nd;
  po_open(pg, PAGE_SIZE, &nd);
  unsigned n0 = nd.n, k = n0 / 2;
  /* the new page, formatted over garbage, zeros, or another page */
  size_t bl = newpage_body(body, PAGE_LEAF, 0, pg, k, n0);
  for (int over = 0; over < 3; over++) {
    if (over == 0) memset(right, 0, PAGE_SIZE);
    if (over == 1) for (unsigned i = 0; i < PAGE_SIZE; i++) right[i] = (uint8_t)(i * 7 + 3);
    if (over == 2) memcpy(right, pg, PAGE_SIZE);
    expect_po(pageop_apply(right, PAGE_SIZE, PO_NEWPAGE, 0, body, bl), PO_OK, "newpage");
    expect_records(right, n0 - k, "newpage");
    expect_packed(right, "newpage");
    if (over == 0) memcpy(before, right, PAGE_SIZE);
    else if (memcmp(before + 16, right + 16, PAGE_SIZE - 16)) FAIL("newpage over old bytes %d: not the same page", over);
  }
  /* refused: unchanged */
  memcpy(before, right, PAGE_SIZE);
  uint8_t bad[PAGE_SIZE + 8];
  memcpy(bad, body, bl);
  bad[0] = PAGE_BRANCH;                       /* a branch of left 0, and leaf cells */
  expect_po(pageop_apply(right, PAGE_SIZE, PO_NEWPAGE, 0, bad, bl), PO_BAD, "newpage: branch of left 0");
  put32(bad + 1, 9);
  bad[0] = PAGE_LEAF;                         /* a leaf with a left page */
  expect_po(pageop_apply(right, PAGE_SIZE, PO_NEWPAGE, 0, bad, bl), PO_BAD, "newpage: leaf with a left page");
  size_t b2 = newpage_body(bad, PAGE_LEAF, 0, pg, k, k + 1);   /* cell k, then cell k - 1 */
  {
    po_cell c;
    po_open(pg, PAGE_SIZE, &nd);
    po_cell_get(&nd, k - 1, &c);
    memcpy(bad + b2, pg + c.off, c.size);
    b2 += c.size;
  }
  expect_po(pageop_apply(right, PAGE_SIZE, PO_NEWPAGE, 0, bad, b2), PO_BAD, "newpage: cells out of order");
  expect_po(pageop_apply(right, PAGE_SIZE, PO_NEWPAGE, 0, body, bl - 1), PO_BAD, "newpage: a cut cell");
  expect_po(pageop_apply(right, PAGE_SIZE, PO_NEWPAGE, 1, body, bl), PO_BAD, "newpage: slot not 0");
  {   /* more cells than a page holds */
    static uint8_t big[3 * PAGE_SIZE];
    size_t b3 = PO_NEWPAGE_HDR;
    big[0] = PAGE_LEAF;
    put32(big + 1, 0);
    for (int i = 0; i < 40; i++) b3 += cell_of(big + b3, i, 200, 'b');
    expect_po(pageop_apply(right, PAGE_SIZE, PO_NEWPAGE, 0, big, b3), PO_BAD, "newpage: cells that do not fit");
  }
  if (memcmp(before, right, PAGE_SIZE)) FAIL("newpage refusals: the page changed");
  /* the split page truncated at k */
  memcpy(before, pg, PAGE_SIZE);
  size_t sl = split_body(body, 77, pg, k);
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_SPLIT, k + 1, body, sl), PO_KEY, "split: another slot's key");
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_SPLIT, n0, body, sl), PO_BAD, "split: k past the end");
  put32(body, 0);
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_SPLIT, k, body, sl), PO_BAD, "split: new page 0");
  put32(body, 77);
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_SPLIT, k, body, sl - 1), PO_BAD, "split: a cut key");
  if (memcmp(before, pg, PAGE_SIZE)) FAIL("split refusals: the page changed");
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_SPLIT, k, body, sl), PO_OK, "split");
  expect_records(pg, k, "split");
  po_open(pg, PAGE_SIZE, &nd);
  unsigned low = PAGE_SIZE;
  size_t live = 0;
  for (unsigned i = 0; i < nd.n; i++) {
    po_cell c;
    po_cell_get(&nd, i, &c);
    if (c.off < low) low = c.off;
    live += c.size;
  }
  if (nd.top != low) FAIL("split: top %u is not the lowest cell %u", nd.top, low);
  size_t nonzero = 0;                          /* the moved cells and slots are zeros */
  for (unsigned i = PAGE_HDR; i < PAGE_SIZE; i++) nonzero += pg[i] != 0;
  size_t maxnz = 4 + 2 * nd.n + live;           /* n, top, slots, the kept cells */
  if (nonzero > maxnz) FAIL("split: %zu non-zero bytes, the kept part has at most %zu", nonzero, maxnz);
  say_ok("split");
}

/* A branch of left L and cells (kNN, child 100 + NN) for NN in 10, 20, 30. */
static void branch_of(uint8_t *pg, uint32_t left) {
  uint8_t cell[64];
  po_init(pg, PAGE_SIZE, PAGE_BRANCH, left);
  for (int i = 0; i < 3; i++) {
    char k[8];
    snprintf(k, sizeof k, "k%02d", 10 * (i + 1));
    unsigned n = po_branch_cell(cell, (const uint8_t *)k, 3, 100 + 10 * (unsigned)(i + 1));
    expect_po(pageop_apply(pg, PAGE_SIZE, PO_INSERT, (unsigned)i, cell, n), PO_OK, "branch insert");
  }
}

/* An LR_UNLINK body: mode, child, key "kNN". */
static size_t unlink_body(uint8_t *body, int mode, uint32_t child, int key) {
  body[0] = (uint8_t)mode;
  put32(body + 1, child);
  put16(body + 5, 3);
  snprintf((char *)body + PO_UNLINK_HDR, 4, "k%02d", key);
  return PO_UNLINK_HDR + 3;
}

static size_t free_body(uint8_t *body, int type, uint32_t left) {
  body[0] = (uint8_t)type;
  put32(body + 1, left);
  return PO_FREEPAGE_LEN;
}

/* FAILs unless every byte of pg from 16 (past the checksum, pgno and
 * dbtime) is zero, as LR_FREEPAGE leaves it; what names the page. */
static void expect_freed(const uint8_t *pg, const char *what) {
  for (unsigned i = 16; i < PAGE_SIZE; i++)
    if (pg[i]) FAIL("%s: byte %u is not zero", what, i);
}

static void unit_unlink(void) {
  static uint8_t pg[PAGE_SIZE], before[PAGE_SIZE];
  uint8_t body[64];
  po_node nd;
  po_cell c;
  branch_of(pg, 99);
  memcpy(before, pg, PAGE_SIZE);
  /* refusals, unchanged */
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_UNLINK, 1, body, unlink_body(body, PO_UNLINK_CELL, 120, 10)), PO_KEY,
            "unlink: another slot's key");
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_UNLINK, 1, body, unlink_body(body, PO_UNLINK_CELL, 130, 20)), PO_KEY,
            "unlink: another child");
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_UNLINK, 0, body, unlink_body(body, PO_UNLINK_LEFT, 98, 10)), PO_KEY,
            "unlink: another left");
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_UNLINK, 1, body, unlink_body(body, PO_UNLINK_LEFT, 99, 20)), PO_BAD,
            "unlink: left at slot 1");
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_UNLINK, 3, body, unlink_body(body, PO_UNLINK_CELL, 140, 40)), PO_BAD,
            "unlink: slot past the end");
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_UNLINK, 1, body, unlink_body(body, 2, 120, 20)), PO_BAD,
            "unlink: unknown mode");
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_UNLINK, 1, body, unlink_body(body, PO_UNLINK_CELL, 120, 20) - 1), PO_BAD,
            "unlink: a cut key");
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_FREEPAGE, 0, body, free_body(body, PAGE_BRANCH, 99)), PO_KEY,
            "freepage: a branch with cells");
  if (memcmp(before, pg, PAGE_SIZE)) FAIL("unlink refusals: the page changed");
  /* the middle child by its cell: slot 1 (k20 -> 120) goes */
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_UNLINK, 1, body, unlink_body(body, PO_UNLINK_CELL, 120, 20)), PO_OK,
            "unlink: cell");
  if (po_open(pg, PAGE_SIZE, &nd) || nd.n != 2 || po_cell_get(&nd, 1, &c) || c.child != 130 ||
      get32(pg + PO_OFF_LEFT) != 99)
    FAIL("unlink: cell: the branch is not left 99, k10 -> 110, k30 -> 130");
  /* the leftmost child: left 99 goes, k10's child 110 becomes left */
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_UNLINK, 0, body, unlink_body(body, PO_UNLINK_LEFT, 99, 10)), PO_OK,
            "unlink: left");
  if (po_open(pg, PAGE_SIZE, &nd) || nd.n != 1 || po_cell_get(&nd, 0, &c) || c.child != 130 ||
      get32(pg + PO_OFF_LEFT) != 110 || c.key[1] != '3')
    FAIL("unlink: left: the branch is not left 110, k30 -> 130");
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_UNLINK, 0, body, unlink_body(body, PO_UNLINK_CELL, 130, 30)), PO_OK,
            "unlink: the last cell");
  /* a branch of no cell, left 110: freed with its left only */
  memcpy(before, pg, PAGE_SIZE);
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_FREEPAGE, 0, body, free_body(body, PAGE_BRANCH, 111)), PO_KEY,
            "freepage: another left");
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_FREEPAGE, 0, body, free_body(body, PAGE_LEAF, 0)), PO_KEY,
            "freepage: another type");
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_FREEPAGE, 0, body, free_body(body, PAGE_BRANCH, 0)), PO_BAD,
            "freepage: a branch of left 0");
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_FREEPAGE, 1, body, free_body(body, PAGE_BRANCH, 110)), PO_BAD,
            "freepage: slot 1");
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_FREEPAGE, 0, body, free_body(body, PAGE_BRANCH, 110) - 1), PO_BAD,
            "freepage: a cut body");
  if (memcmp(before, pg, PAGE_SIZE)) FAIL("freepage refusals: the page changed");
  expect_po(pageop_apply(pg, PAGE_SIZE, PO_FREEPAGE, 0, body, free_body(body, PAGE_BRANCH, 110)), PO_OK,
            "freepage: branch");
  expect_freed(pg, "freepage: the freed branch");
  /* a leaf: refused while it holds a record, freed when empty */
  uint8_t *lf = leaf_page(), cell[64];
  unsigned n = cell_of(cell, 1, 10, 'v');
  expect_po(pageop_apply(lf, PAGE_SIZE, PO_INSERT, 0, cell, n), PO_OK, "freepage: leaf insert");
  expect_po(pageop_apply(lf, PAGE_SIZE, PO_FREEPAGE, 0, body, free_body(body, PAGE_LEAF, 0)), PO_KEY,
            "freepage: a leaf with a record");
  expect_po(pageop_apply(lf, PAGE_SIZE, PO_UNLINK, 0, body, unlink_body(body, PO_UNLINK_CELL, 120, 1)), PO_BAD,
            "unlink: a leaf");
  n = del_of(cell, 1);
  expect_po(pageop_apply(lf, PAGE_SIZE, PO_DELETE, 0, cell, n), PO_OK, "freepage: leaf delete");
  expect_po(pageop_apply(lf, PAGE_SIZE, PO_FREEPAGE, 0, body, free_body(body, PAGE_LEAF, 5)), PO_BAD,
            "freepage: a leaf of left 5");
  expect_po(pageop_apply(lf, PAGE_SIZE, PO_FREEPAGE, 0, body, free_body(body, PAGE_LEAF, 0)), PO_OK, "freepage: leaf");
  expect_freed(lf, "freepage: the freed leaf");
  expect_po(pageop_apply(lf, PAGE_SIZE, PO_FREEPAGE, 0, body, free_body(body, PAGE_LEAF, 0)), PO_BAD,
            "freepage: a page already free");
  /* a long value's pages (lv.h): checked by type and the u32 at 24 (a
   * directory's next), nothing else; then zeros from 16 */
  static uint8_t lv[PAGE_SIZE];
  memset(lv, 0, PAGE_SIZE);
  lv[16] = PAGE_LVDIR;
  put32(lv + 20, 3);
  put32(lv + 24, 77);
  memset(lv + 32, 0xab, 12);
  memcpy(before, lv, PAGE_SIZE);
  expect_po(pageop_apply(lv, PAGE_SIZE, PO_FREEPAGE, 0, body, free_body(body, PAGE_LVDIR, 76)), PO_KEY,
            "freepage: a directory of another next");
  expect_po(pageop_apply(lv, PAGE_SIZE, PO_FREEPAGE, 0, body, free_body(body, PAGE_LVDATA, 0)), PO_KEY,
            "freepage: a directory freed as a data page");
  expect_po(pageop_apply(lv, PAGE_SIZE, PO_FREEPAGE, 0, body, free_body(body, PAGE_LVDATA, 77)), PO_BAD,
            "freepage: a data page of next 77");
  expect_po(pageop_apply(lv, PAGE_SIZE, PO_FREEPAGE, 0, body, free_body(body, PAGE_FREELIST, 77)), PO_BAD,
            "freepage: type 7");
  expect_po(pageop_apply(lv, PAGE_SIZE, PO_FREEPAGE, 0, body, free_body(body, PAGE_LEAF, 0)), PO_BAD,
            "freepage: a directory freed as a leaf");
  if (memcmp(before, lv, PAGE_SIZE)) FAIL("freepage refusals of a long value's page: the page changed");
  expect_po(pageop_apply(lv, PAGE_SIZE, PO_FREEPAGE, 0, body, free_body(body, PAGE_LVDIR, 77)), PO_OK,
            "freepage: directory");
  expect_freed(lv, "freepage: the freed directory");
  memset(lv + 16, 0x5a, PAGE_SIZE - 16);
  lv[16] = PAGE_LVDATA;
  put32(lv + 24, 0);
  expect_po(pageop_apply(lv, PAGE_SIZE, PO_FREEPAGE, 0, body, free_body(body, PAGE_LVDATA, 0)), PO_OK,
            "freepage: data page");
  expect_freed(lv, "freepage: the freed data page");
  say_ok("unlink");
}

/* A xorshift generator: the fuzz cases are the same on every run. */
static uint32_t fz_state = 0x9e3779b9u;
static uint32_t fz(uint32_t m) {
  fz_state ^= fz_state << 13;
  fz_state ^= fz_state >> 17;
  fz_state ^= fz_state << 5;
  return m ? fz_state % m : 0;
}

/* A page pageop_apply left: header in range, every cell inside [top,
 * size), no two cells overlapping, keys strictly ascending. */
static void expect_well_formed(const uint8_t *pg, const char *what, int round) {
  static uint8_t map[PAGE_SIZE];
  po_node nd;
  if (po_open(pg, PAGE_SIZE, &nd)) FAIL("%s %d: the header is malformed", what, round);
  memset(map, 0, sizeof map);
  for (unsigned i = 0; i < nd.n; i++) {
    po_cell c, p;
    if (po_cell_get(&nd, i, &c)) FAIL("%s %d: slot %u is malformed", what, round, i);
    for (unsigned b = c.off; b < c.off + c.size; b++) {
      if (map[b]) FAIL("%s %d: the cell of slot %u overlaps another", what, round, i);
      map[b] = 1;
    }
    if (i && (po_cell_get(&nd, i - 1, &p) || po_keycmp(p.key, p.klen, c.key, c.klen) >= 0))
      FAIL("%s %d: slot %u is out of order", what, round, i);
  }
}

/* Hostile records (fuzz): operations of any type at any slot with bodies
 * built right then damaged (a flipped byte, a length word of another
 * size, a cut or longer body) on pages of several fills.  Every result is
 * one of PO_*; a refusal leaves the page unchanged; a success leaves it
 * well-formed (in particular, in key order).  Then pages with damaged
 * headers and slots: no result may read or write outside the page (make
 * check runs this under ASan). */
static void fuzz(void) {
  static uint8_t pg[PAGE_SIZE], before[PAGE_SIZE], body[PAGE_SIZE + 64];
  po_init(pg, PAGE_SIZE, PAGE_LEAF, 0);
  int applied = 0;
  for (int round = 0; round < 200000; round++) {
    if (fz(5000) == 0) po_init(pg, PAGE_SIZE, PAGE_LEAF, 0);
    po_node nd;
    po_open(pg, PAGE_SIZE, &nd);
    int type = fz(8) == 0 ? (int)fz(256) : PO_INSERT + (int)fz(3);
    unsigned slot = fz(4) == 0 ? fz(65536) : fz(nd.n + 2);
    char key[8];
    unsigned klen = 1 + fz(5);
    for (unsigned i = 0; i < klen; i++) key[i] = (char)('a' + fz(4));
    size_t vlen = fz(3) == 0 ? fz(EseMaxRecordSize(PAGE_SIZE) + 2) : fz(200);
    size_t blen;
    if (type == PO_DELETE) {
      put16(body, (uint16_t)klen);
      memcpy(body + 2, key, klen);
      blen = 2 + klen;
    } else {
      static uint8_t v[PAGE_SIZE];
      if (vlen > EseMaxRecordSize(PAGE_SIZE) - klen) vlen = EseMaxRecordSize(PAGE_SIZE) - klen;
      memset(v, 'v', vlen);
      blen = po_leaf_cell(body, key, klen, v, vlen);
    }
    switch (fz(6)) {      /* the damage */
    case 0: body[fz((uint32_t)blen)] ^= (uint8_t)(1 + fz(255)); break;
    case 1: put16(body + 2 * fz(2), (uint16_t)fz(65536)); break;
    case 2: blen = fz((uint32_t)blen + 1); break;
    case 3: blen += fz(64); break;
    default: break;        /* none: a well-formed record, often at a wrong slot */
    }
    memcpy(before, pg, PAGE_SIZE);
    int r = pageop_apply(pg, PAGE_SIZE, type, slot, body, blen);
    if (r != PO_OK && r != PO_FULL && r != PO_KEY && r != PO_BAD) FAIL("fuzz %d: result %d", round, r);
    if (r != PO_OK && memcmp(before, pg, PAGE_SIZE)) FAIL("fuzz %d: refused (%d) but the page changed", round, r);
    if (r == PO_OK && type == PO_FREEPAGE) {   /* an empty leaf freed: all zeros, a leaf again */
      for (unsigned i = 16; i < PAGE_SIZE; i++)
        if (pg[i]) FAIL("fuzz %d: a freed page is not zeros", round);
      po_init(pg, PAGE_SIZE, PAGE_LEAF, 0);
    }
    if (r == PO_OK) {
      applied++;
      expect_well_formed(pg, "fuzz", round);
    }
  }
  if (applied < 1000) FAIL("fuzz: only %d records applied", applied);
  /* damaged pages: header, slots or a cell's length words */
  for (int round = 0; round < 50000; round++) {
    static uint8_t good[PAGE_SIZE];
    if (round % 500 == 0) {   /* a page of records to damage */
      po_init(good, PAGE_SIZE, round % 1000 ? PAGE_LEAF : PAGE_BRANCH, round % 1000 ? 0 : 9);
      for (int i = 0; i < 40; i++) {
        unsigned n = round % 1000 ? cell_of(body, i, 100, 'd') : po_branch_cell(body, (const uint8_t *)"b00", 3, 7);
        if (!(round % 1000)) body[PO_BR_CH + 1] = (uint8_t)('0' + i / 10), body[PO_BR_CH + 2] = (uint8_t)('0' + i % 10);
        pageop_apply(good, PAGE_SIZE, PO_INSERT, (unsigned)i, body, n);
      }
    }
    memcpy(pg, good, PAGE_SIZE);
    for (int k = 1 + (int)fz(3); k > 0; k--) {
      unsigned at = fz(4) ? 16 + fz(PAGE_HDR - 16 + 2 * 42) : fz(PAGE_SIZE);
      pg[at] = (uint8_t)fz(256);
    }
    int type = PO_INSERT + (int)fz(3);
    unsigned slot = fz(45);
    size_t blen = type == PO_DELETE ? del_of(body, (int)fz(45)) : cell_of(body, (int)fz(45), fz(300), 'e');
    int r = pageop_apply(pg, PAGE_SIZE, type, slot, body, blen);
    if (r != PO_OK && r != PO_FULL && r != PO_KEY && r != PO_BAD) FAIL("damaged page %d: result %d", round, r);
  }
  say_ok("fuzz");
}

/* ---- part 2 -------------------------------------------------------------- */

#include "redo_fixture.h"

static void setup(void) {
  make_db("pageop_test", &hdr);
  uint8_t pg[PAGE_SIZE];
  for (uint32_t p = 3; p < 64 && !leaf; p++) {
    read_page(p, pg);
    po_node nd;
    po_cell c;
    if (page_verify(pg, PAGE_SIZE, p) == PAGE_OK && pg[16] == PAGE_LEAF && !po_open(pg, PAGE_SIZE, &nd) &&
        nd.n == 20 && !po_cell_get(&nd, 0, &c) && c.klen == 3 && !memcmp(c.key, "k00", 3))
      leaf = p;
  }
  if (!leaf) FAIL("set-up: no leaf holds k00..k19");
}

static redo *start(esio **io, int restore, char *detail, size_t cap) {
  CK(esio_new(io));
  redo_cfg cfg = { .io = *io, .page_size = PAGE_SIZE, .restore = restore, .detail = detail, .detail_cap = cap };
  memcpy(cfg.sig.b, hdr.log_sig, 16);
  redo *r;
  CK(redo_new(&cfg, &r));
  log_attach a = { 1, dbpath, NULL, { 0 } };
  memcpy(a.sig, hdr.db_sig, 16);
  CK(redo_attach(r, &a));
  return r;
}

/* One record of a group. */
typedef struct rec {
  uint8_t type;
  uint8_t p[PAGE_SIZE];
  uint32_t len;
} rec;

/* An operation record of txid 7 on page pgno: type, slot, base, body. */
static void op_rec_at(rec *r, uint32_t pgno, int type, unsigned slot, uint64_t base, const uint8_t *body,
                      size_t blen) {
  r->type = (uint8_t)type;
  r->p[0] = 1;
  r->p[1] = 0;
  put16(r->p + 2, (uint16_t)slot);
  put32(r->p + 4, pgno);
  put64(r->p + 8, 7);
  put64(r->p + 16, base);
  memcpy(r->p + LR_OP_HDR, body, blen);
  r->len = LR_OP_HDR + (uint32_t)blen;
}

/* An operation record of txid 7 on the leaf. */
static void op_rec(rec *r, int type, unsigned slot, uint64_t base, const uint8_t *body, size_t blen) {
  op_rec_at(r, leaf, type, slot, base, body, blen);
}

/* Replays recs then an LR_COMMIT of txid 7 giving database 1 time T
 * (u64 txid, u32 records, u32 databases, u32 dbid + u64 T, u64 time). */
static JET_ERR replay(int restore, const rec *recs, int n, uint64_t T, char *detail, size_t cap) {
  esio *io;
  redo *r = start(&io, restore, detail, cap);
  JET_ERR e = JET_errSuccess;
  for (int i = 0; i < n && e == JET_errSuccess; i++) {
    log_record lr = { LSN(1, 12288 + 512u * (unsigned)i), recs[i].type, recs[i].p, recs[i].len, LOG_FEATURES_WRITTEN };
    e = redo_apply(r, &lr);
  }
  if (e == JET_errSuccess) {
    uint8_t c[36];
    put64(c, 7);
    put32(c + 8, (uint32_t)n);
    put32(c + 12, 1);
    put32(c + 16, 1);
    put64(c + 20, T);
    put64(c + 28, 1);          /* the commit's time (log format 4) */
    log_record lr = { LSN(1, 65536), LR_COMMIT, c, sizeof c, LOG_FEATURES_WRITTEN };
    e = redo_apply(r, &lr);
  }
  JET_ERR fe = redo_finish(r, e == JET_errSuccess, 1);
  if (e == JET_errSuccess) e = fe;
  redo_free(r);
  esio_free(io);
  return e;
}

static JET_ERR corrupt_for(int restore) { return restore ? JET_errLogCorruptDuringHardRestore : JET_errLogFileCorrupt; }

/* Replays a group; expects want, the detail to hold needle, and every byte
 * of the folder as it was. */
static void expect_same(const char *what, int restore, const rec *recs, int n, uint64_t T, JET_ERR want,
                        const char *needle) {
  int n0;
  uint64_t d0 = harness_dir_digest(dir, &n0);
  char detail[600] = "", name[80];
  snprintf(name, sizeof name, "%s%s", what, restore ? " (restore)" : "");
  JET_ERR e = replay(restore, recs, n, T, detail, sizeof detail);
  if (e != want) FAIL("%s: replay gave %s, not %s (%s)", name, harness_err_name(e), harness_err_name(want), detail);
  if (!strstr(detail, needle)) FAIL("%s: the detail \"%s\" does not say \"%s\"", name, detail, needle);
  harness_expect_dir(dir, d0, n0, name);
  say_ok(name);
}

/* The group applies: the leaf becomes pageop_apply's result on it, sealed
 * with T. */
static void expect_applies(const char *what, int restore, const rec *recs, int n, uint64_t T) {
  uint8_t want[PAGE_SIZE], got[PAGE_SIZE];
  char detail[600] = "", name[80];
  snprintf(name, sizeof name, "%s%s", what, restore ? " (restore)" : "");
  read_page(leaf, want);
  for (int i = 0; i < n; i++)
    expect_po(pageop_apply(want, PAGE_SIZE, recs[i].type, get16(recs[i].p + 2), recs[i].p + LR_OP_HDR,
                           recs[i].len - LR_OP_HDR), PO_OK, name);
  page_seal(want, PAGE_SIZE, leaf, T);
  JET_ERR e = replay(restore, recs, n, T, detail, sizeof detail);
  if (e) FAIL("%s: replay gave %s (%s)", name, harness_err_name(e), detail);
  read_page(leaf, got);
  if (memcmp(want, got, PAGE_SIZE)) FAIL("%s: the leaf is not the records applied to it", name);
  say_ok(name);
}

static uint64_t leaf_dbtime(void) {
  uint8_t pg[PAGE_SIZE];
  read_page(leaf, pg);
  return page_dbtime(pg);
}

/* Slot of key "kNN" in the leaf as it is now (-1: absent). */
static int slot_of(const char *k) {
  uint8_t pg[PAGE_SIZE];
  po_node nd;
  read_page(leaf, pg);
  if (po_open(pg, PAGE_SIZE, &nd)) FAIL("the leaf is malformed");
  for (unsigned i = 0; i < nd.n; i++) {
    po_cell c;
    if (!po_cell_get(&nd, i, &c) && c.klen == strlen(k) && !memcmp(c.key, k, c.klen)) return (int)i;
  }
  return -1;
}

/* Each case of one type, in soft recovery (restore 0) or a restore. */
static void cases(int type, const char *tname, int restore, uint64_t *T) {
  static rec r;
  uint8_t body[1024];
  char what[64];
  size_t blen;
  int slot;
  const char *key = type == PO_INSERT ? (restore ? "k05b" : "k05a") : type == PO_REPLACE ? "k07" : (restore ? "k11" : "k10");
  if (type == PO_INSERT) {
    slot = slot_of(restore ? "k05a" : "k05") + 1;
    blen = po_leaf_cell(body, key, 4, "inserted", 8);
  } else if (type == PO_REPLACE) {
    slot = slot_of(key);
    blen = po_leaf_cell(body, key, 3, restore ? "replaced again, longer" : "replaced", restore ? 22 : 8);
  } else {
    slot = slot_of(key);
    put16(body, 3);
    memcpy(body + 2, key, 3);
    blen = 5;
  }
  if (slot < 0) FAIL("%s: no slot for %s", tname, key);
  uint64_t d = leaf_dbtime();
  /* too old (the base above the page), newer (T the page's): unchanged */
  op_rec(&r, type, (unsigned)slot, d + 1, body, blen);
  snprintf(what, sizeof what, "%s-older", tname);
  expect_same(what, restore, &r, 1, *T + 1, JET_errDbTimeTooOld, "is older than the base");
  op_rec(&r, type, (unsigned)slot, d - 1, body, blen);
  snprintf(what, sizeof what, "%s-newer", tname);
  expect_same(what, restore, &r, 1, d, JET_errSuccess, "");
  {   /* another key than the slot's; an insert: at a slot out of key order */
    uint8_t wrong[1024];
    memcpy(wrong, body, blen);
    if (type != PO_INSERT) wrong[type == PO_REPLACE ? PO_LEAF_CH + 1 : 3] ^= 1;
    unsigned at = type == PO_INSERT ? 0 : (unsigned)slot;
    op_rec(&r, type, at, d, wrong, blen);
    snprintf(what, sizeof what, "%s-key", tname);
    char needle[64];
    snprintf(needle, sizeof needle, "page %u slot %u", (unsigned)leaf, at);
    expect_same(what, restore, &r, 1, *T + 1, corrupt_for(restore), needle);
  }
  /* once, then twice */
  ++*T;
  op_rec(&r, type, (unsigned)slot, d, body, blen);
  snprintf(what, sizeof what, "%s-once", tname);
  expect_applies(what, restore, &r, 1, *T);
  if (leaf_dbtime() != *T) FAIL("%s: the leaf's dbtime is not T", what);
  int now = slot_of(key);
  if ((type == PO_DELETE) != (now < 0)) FAIL("%s: %s is %s", what, key, now < 0 ? "absent" : "there");
  snprintf(what, sizeof what, "%s-twice", tname);
  expect_same(what, restore, &r, 1, *T, JET_errSuccess, "");
}

/* ---- splits through redo -------------------------------------------------- */

/* Page pgno of app.edb as held now, or zeros past the file's end. */
static void page_now(uint32_t pgno, uint8_t *out) {
  struct stat st;
  if (stat(dbpath, &st)) FAIL("stat %s", dbpath);
  if ((off_t)(pgno + 1) * PAGE_SIZE > st.st_size) memset(out, 0, PAGE_SIZE);
  else read_page(pgno, out);
}

static void write_page(uint32_t pgno, const uint8_t *pg) {
  int fd = open(dbpath, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || pwrite(fd, pg, PAGE_SIZE, (off_t)pgno * PAGE_SIZE) != PAGE_SIZE || fsync(fd)) FAIL("write %s", dbpath);
  close(fd);
}

/* The file cut back to n pages (the pages past it never written). */
static void cut_file(uint32_t n) {
  if (truncate(dbpath, (off_t)n * PAGE_SIZE)) FAIL("truncate %s", dbpath);
}

static uint32_t file_pages(void) {
  struct stat st;
  if (stat(dbpath, &st)) FAIL("stat %s", dbpath);
  return (uint32_t)(st.st_size / PAGE_SIZE);
}

/* want[i]: page pgnos[i] after the records of recs that name it applied
 * onto it as held now, sealed with T (pages the group does not apply to
 * because their dbtime is T or more: as held now). */
static void expected(const rec *recs, int n, uint64_t T, const uint32_t *pgnos, int np, uint8_t want[][PAGE_SIZE]) {
  for (int i = 0; i < np; i++) {
    page_now(pgnos[i], want[i]);
    int v = page_verify(want[i], PAGE_SIZE, pgnos[i]);
    if (v == PAGE_OK && page_dbtime(want[i]) >= T) continue;
    for (int j = 0; j < n; j++)
      if (get32(recs[j].p + 4) == pgnos[i])
        expect_po(pageop_apply(want[i], PAGE_SIZE, recs[j].type, get16(recs[j].p + 2), recs[j].p + LR_OP_HDR,
                               recs[j].len - LR_OP_HDR), PO_OK, "expected");
    page_seal(want[i], PAGE_SIZE, pgnos[i], T);
  }
}

/* The group applies: each of pages pgnos is what expected() says. */
static void expect_pages(const char *name, int restore, const rec *recs, int n, uint64_t T, const uint32_t *pgnos,
                         int np) {
  static uint8_t want[4][PAGE_SIZE];
  uint8_t got[PAGE_SIZE];
  char detail[600] = "";
  expected(recs, n, T, pgnos, np, want);
  JET_ERR e = replay(restore, recs, n, T, detail, sizeof detail);
  if (e) FAIL("%s: replay gave %s (%s)", name, harness_err_name(e), detail);
  for (int i = 0; i < np; i++) {
    page_now(pgnos[i], got);
    if (memcmp(want[i], got, PAGE_SIZE)) FAIL("%s: page %u is not the records applied to it", name, (unsigned)pgnos[i]);
    if (page_dbtime(got) < T) FAIL("%s: page %u has dbtime %llu below T", name, (unsigned)pgnos[i],
                                   (unsigned long long)page_dbtime(got));
  }
  say_ok(name);
}

/* Splits of the leaf at slot 10 to page N (never written): the records the
 * engine writes for it (btree.c split_put), replayed on every state a
 * crash or a fuzzy copy leaves. */
static void split_cases(int restore, uint64_t *T) {
  static rec g[4];
  static uint8_t lp[PAGE_SIZE], old_leaf[PAGE_SIZE], newpg[PAGE_SIZE];
  uint8_t body[PAGE_SIZE + 8];
  char name[80];
  const char *mode = restore ? " (restore)" : "";
  uint32_t N = file_pages(), pgnos[2] = { leaf, N };
  po_node nd;
  read_page(leaf, lp);
  memcpy(old_leaf, lp, PAGE_SIZE);
  if (po_open(lp, PAGE_SIZE, &nd) || nd.n < 12) FAIL("split: the leaf holds %u records", nd.n);
  uint64_t d = page_dbtime(lp);
  size_t nl = newpage_body(body, PAGE_LEAF, 0, lp, 10, nd.n);
  op_rec_at(&g[0], leaf, PO_SPLIT, 10, d, body, 0);               /* body set below */
  g[0].len = LR_OP_HDR + (uint32_t)split_body(g[0].p + LR_OP_HDR, N, lp, 10);
  op_rec_at(&g[1], N, PO_NEWPAGE, 0, 0, body, nl);
  /* refused first (unchanged): a key that is not slot 10's, a base above the leaf's */
  static rec bad[2];
  bad[0] = g[0];
  bad[0].p[LR_OP_HDR + 6] ^= 1;
  bad[1] = g[1];
  char needle[64];
  snprintf(needle, sizeof needle, "page %u slot 10", (unsigned)leaf);
  snprintf(name, sizeof name, "split-key");
  expect_same(name, restore, bad, 2, *T + 1, corrupt_for(restore), needle);
  bad[0] = g[0];
  put64(bad[0].p + 16, d + 1);
  snprintf(name, sizeof name, "split-older");
  expect_same(name, restore, bad, 2, *T + 1, JET_errDbTimeTooOld, "is older than the base");
  /* once; twice */
  ++*T;
  snprintf(name, sizeof name, "split-once%s", mode);
  expect_pages(name, restore, g, 2, *T, pgnos, 2);
  read_page(N, newpg);
  snprintf(name, sizeof name, "split-twice");
  expect_same(name, restore, g, 2, *T, JET_errSuccess, "");
  /* the leaf split on disk, the new page never written: from the record */
  cut_file(N);
  snprintf(name, sizeof name, "split-leaf-newer%s", mode);
  expect_pages(name, restore, g, 2, *T, pgnos, 2);
  uint8_t got[PAGE_SIZE];
  read_page(N, got);
  if (memcmp(got, newpg, PAGE_SIZE)) FAIL("%s: the new page is not the one of split-once", name);
  /* the new page written, the leaf as before the split */
  write_page(leaf, old_leaf);
  snprintf(name, sizeof name, "split-new-newer%s", mode);
  expect_pages(name, restore, g, 2, *T, pgnos, 2);
  read_page(leaf, got);
  /* an LR_NEWPAGE onto a page of another dbtime below T, base 0: applies */
  nl = newpage_body(body, PAGE_LEAF, 0, got, 0, 3);
  op_rec_at(&g[2], N, PO_NEWPAGE, 0, 0, body, nl);
  ++*T;
  snprintf(name, sizeof name, "newpage-over-older%s", mode);
  expect_pages(name, restore, &g[2], 1, *T, &N, 1);
  cut_file(N);                                  /* the next case's pages are new again */
}

/* The group of a root split of the leaf lp (taken as a root) into pages A
 * and B (never written): LR_NEWPAGE A (slots 0..9), B (10..), the leaf as
 * a branch over A, LR_INSERT of (key of slot 10, B) into it. */
static void root_split_group(rec g[4], const uint8_t *lp, uint32_t A, uint32_t B) {
  static uint8_t body[PAGE_SIZE + 8];
  po_node nd;
  po_cell c;
  if (po_open(lp, PAGE_SIZE, &nd) || nd.n < 12 || po_cell_get(&nd, 10, &c)) FAIL("rootsplit: the leaf");
  uint64_t d = page_dbtime(lp);
  size_t n = newpage_body(body, PAGE_LEAF, 0, lp, 0, 10);
  op_rec_at(&g[0], A, PO_NEWPAGE, 0, 0, body, n);
  n = newpage_body(body, PAGE_LEAF, 0, lp, 10, nd.n);
  op_rec_at(&g[1], B, PO_NEWPAGE, 0, 0, body, n);
  body[0] = PAGE_BRANCH;
  put32(body + 1, A);
  op_rec_at(&g[2], leaf, PO_NEWPAGE, 0, d, body, PO_NEWPAGE_HDR);
  n = po_branch_cell(body, c.key, c.klen, B);
  op_rec_at(&g[3], leaf, PO_INSERT, 0, d, body, n);
}

/* A root split of the leaf (taken as a root) into pages A and B (never
 * written), root_split_group's. */
static void root_split_cases(int restore, uint64_t *T) {
  static rec g[4];
  static uint8_t lp[PAGE_SIZE], old_leaf[PAGE_SIZE], after[3][PAGE_SIZE];
  char name[80];
  const char *mode = restore ? " (restore)" : "";
  uint32_t A = file_pages(), B = A + 1, pgnos[3] = { leaf, A, B };
  read_page(leaf, lp);
  memcpy(old_leaf, lp, PAGE_SIZE);
  root_split_group(g, lp, A, B);
  ++*T;
  snprintf(name, sizeof name, "rootsplit-once%s", mode);
  expect_pages(name, restore, g, 4, *T, pgnos, 3);
  for (int i = 0; i < 3; i++) read_page(pgnos[i], after[i]);
  if (after[0][16] != PAGE_BRANCH) FAIL("%s: the root is not a branch", name);
  snprintf(name, sizeof name, "rootsplit-twice");
  expect_same(name, restore, g, 4, *T, JET_errSuccess, "");
  /* the parent (root) newer, its children never written */
  cut_file(A);
  snprintf(name, sizeof name, "rootsplit-parent-newer%s", mode);
  expect_pages(name, restore, g, 4, *T, pgnos, 3);
  /* the children newer, the parent as before */
  write_page(leaf, old_leaf);
  snprintf(name, sizeof name, "rootsplit-children-newer%s", mode);
  expect_pages(name, restore, g, 4, *T, pgnos, 3);
  for (int i = 0; i < 3; i++) {
    uint8_t got[PAGE_SIZE];
    read_page(pgnos[i], got);
    if (memcmp(got, after[i], PAGE_SIZE)) FAIL("%s: page %u differs from rootsplit-once's", name, (unsigned)pgnos[i]);
  }
  write_page(leaf, old_leaf);                   /* the leaf again for the next mode */
  cut_file(A);
}

/* ---- emptied pages freed through redo ----------------------------------- */

/* Appends to g[*n] an LR_DELETE of each record of page pgno as held now
 * (each at slot 0, in key order), base its dbtime. */
static void delete_all(rec *g, int *n, uint32_t pgno) {
  uint8_t pg[PAGE_SIZE], body[300];
  po_node nd;
  read_page(pgno, pg);
  if (po_open(pg, PAGE_SIZE, &nd)) FAIL("free: page %u is malformed", (unsigned)pgno);
  for (unsigned i = 0; i < nd.n; i++) {
    po_cell c;
    if (po_cell_get(&nd, i, &c)) FAIL("free: page %u slot %u", (unsigned)pgno, i);
    put16(body, (uint16_t)c.klen);
    memcpy(body + 2, c.key, c.klen);
    op_rec_at(&g[(*n)++], pgno, PO_DELETE, 0, page_dbtime(pg), body, 2 + c.klen);
  }
}

/* The records of leaf pgno (a child of the root, the leaf) emptied and
 * freed, and of the root losing it (mode: PO_UNLINK_CELL of slot 0, whose
 * child it is; PO_UNLINK_LEFT: it is left; -1: its only child, the root
 * becomes an empty leaf): g[0..n). */
static int free_group(rec *g, uint32_t pgno, int mode) {
  uint8_t root[PAGE_SIZE], body[64];
  int n = 0;
  delete_all(g, &n, pgno);
  uint8_t pg[PAGE_SIZE];
  read_page(pgno, pg);
  body[0] = PAGE_LEAF;
  put32(body + 1, 0);
  op_rec_at(&g[n++], pgno, PO_FREEPAGE, 0, page_dbtime(pg), body, PO_FREEPAGE_LEN);
  read_page(leaf, root);
  if (mode < 0) {
    op_rec_at(&g[n++], leaf, PO_NEWPAGE, 0, page_dbtime(root), body, PO_NEWPAGE_HDR);   /* type leaf, left 0 */
    return n;
  }
  po_node nd;
  po_cell c;
  if (po_open(root, PAGE_SIZE, &nd) || po_cell_get(&nd, 0, &c)) FAIL("free: the root has no slot 0");
  body[0] = (uint8_t)mode;
  put32(body + 1, pgno);
  put16(body + 5, (uint16_t)c.klen);
  memcpy(body + PO_UNLINK_HDR, c.key, c.klen);
  op_rec_at(&g[n++], leaf, PO_UNLINK, 0, page_dbtime(root), body, PO_UNLINK_HDR + c.klen);
  return n;
}

/* The leaf split as a root (root_split_group) into A and B; then A or B
 * emptied, freed and taken out of the root, as the engine logs it
 * (btree.c unlink_empty), on every state a crash or a fuzzy copy leaves. */
static void free_cases(int restore, uint64_t *T) {
  static rec g[48], bad[48];
  static uint8_t split[3][PAGE_SIZE];
  char name[80], needle[64];
  const char *mode = restore ? " (restore)" : "";
  uint32_t A = file_pages(), B = A + 1, pgnos[3] = { leaf, A, B }, pa[2] = { leaf, A }, pb[2] = { leaf, B };
  read_page(leaf, split[0]);
  root_split_group(g, split[0], A, B);
  char detail[600] = "";
  if (replay(restore, g, 4, ++*T, detail, sizeof detail)) FAIL("free: the root split: %s", detail);
  for (int i = 0; i < 3; i++) read_page(pgnos[i], split[i]);
  /* the left child A: the root's left becomes slot 0's child B */
  int n = free_group(g, A, PO_UNLINK_LEFT);
  ++*T;
  snprintf(name, sizeof name, "free-left-once%s", mode);
  expect_pages(name, restore, g, n, *T, pa, 2);
  snprintf(name, sizeof name, "free-left-twice");
  expect_same(name, restore, g, n, *T, JET_errSuccess, "");
  uint8_t pg[PAGE_SIZE];
  read_page(leaf, pg);
  if (pg[16] != PAGE_BRANCH || get16(pg + PO_OFF_N) != 0 || get32(pg + PO_OFF_LEFT) != B)
    FAIL("free-left: the root is not a branch of left B and no separator");
  for (int i = 0; i < 3; i++) write_page(pgnos[i], split[i]);   /* the split again */
  /* the right child B by its cell: refusals first (unchanged) */
  n = free_group(g, B, PO_UNLINK_CELL);
  memcpy(bad, g, sizeof g);
  bad[n - 1].p[LR_OP_HDR + PO_UNLINK_HDR] ^= 1;
  snprintf(needle, sizeof needle, "page %u slot 0", (unsigned)leaf);
  expect_same("free-key", restore, bad, n, *T + 1, corrupt_for(restore), needle);
  memcpy(bad, g, sizeof g);
  put32(bad[n - 1].p + LR_OP_HDR + 1, A);
  expect_same("free-child", restore, bad, n, *T + 1, corrupt_for(restore), "another key or child");
  memcpy(bad, g, sizeof g);
  bad[n - 3] = bad[n - 2];                        /* the last delete dropped: B holds a record */
  bad[n - 2] = bad[n - 1];
  snprintf(needle, sizeof needle, "page %u slot 0: free page record", (unsigned)B);
  expect_same("free-notempty", restore, bad, n - 1, *T + 1, corrupt_for(restore), needle);
  ++*T;
  snprintf(name, sizeof name, "free-once%s", mode);
  expect_pages(name, restore, g, n, *T, pb, 2);
  snprintf(name, sizeof name, "free-twice");
  expect_same(name, restore, g, n, *T, JET_errSuccess, "");
  uint8_t freed[PAGE_SIZE], root[PAGE_SIZE];
  read_page(B, freed);
  read_page(leaf, root);
  expect_freed(freed, "free-once: the freed page");
  /* the parent newer, the child as before the group; then the reverse */
  write_page(B, split[2]);
  snprintf(name, sizeof name, "free-parent-newer%s", mode);
  expect_pages(name, restore, g, n, *T, pb, 2);
  write_page(leaf, split[0]);
  snprintf(name, sizeof name, "free-child-newer%s", mode);
  expect_pages(name, restore, g, n, *T, pb, 2);
  read_page(B, pg);
  if (memcmp(pg, freed, PAGE_SIZE)) FAIL("free-child-newer: B differs from free-once's");
  read_page(leaf, pg);
  if (memcmp(pg, root, PAGE_SIZE)) FAIL("free-child-newer: the root differs from free-once's");
  /* the root's last child: the root an empty leaf again */
  n = free_group(g, A, -1);
  ++*T;
  snprintf(name, sizeof name, "free-root-once%s", mode);
  expect_pages(name, restore, g, n, *T, pa, 2);
  snprintf(name, sizeof name, "free-root-twice");
  expect_same(name, restore, g, n, *T, JET_errSuccess, "");
  read_page(leaf, pg);
  if (pg[16] != PAGE_LEAF || get16(pg + PO_OFF_N) != 0) FAIL("free-root: the root is not an empty leaf");
  cut_file(A);
}

/* Hostile groups through redo_apply (fuzz): one to four operation records
 * with random header fields (type, the zero byte, database, slot, page
 * around the leaf, base around its dbtime) and damaged bodies, then a
 * commit.  Every outcome is a JET_err or success, never a crash (make
 * check: ASan); app.edb is put back after each. */
static void fuzz_redo(void) {
  static rec g[4];
  char saved[4300];
  snprintf(saved, sizeof saved, "%s.saved", dbpath);
  if (harness_copy_file(dbpath, saved)) FAIL("fuzz-redo: copy %s", dbpath);
  uint64_t d = leaf_dbtime();
  int refused = 0;
  for (int round = 0; round < 300; round++) {
    int n = 1 + (int)fz(4);
    for (int i = 0; i < n; i++) {
      uint8_t body[600];
      char key[8];
      unsigned klen = 3;
      snprintf(key, sizeof key, "k%02u", fz(25));
      int type = fz(10) == 0 ? (int)fz(18) : PO_INSERT + (int)fz(3);
      size_t blen = type == PO_DELETE ? (put16(body, 3), memcpy(body + 2, key, 3), 2u + klen)
                                      : po_leaf_cell(body, key, klen, "vvvvvvvvvvvvvvvvvvvv", fz(21));
      if (fz(3) == 0) body[fz((uint32_t)blen)] ^= (uint8_t)(1 + fz(255));
      if (fz(4) == 0) blen = fz((uint32_t)blen + 40);
      op_rec(&g[i], type, fz(4) ? fz(24) : fz(65536), fz(3) ? d : d - 2 + fz(5), body, blen);
      if (fz(8) == 0) g[i].p[0] = (uint8_t)fz(40);
      if (fz(10) == 0) g[i].p[1] = (uint8_t)fz(256);
      if (fz(6) == 0) put32(g[i].p + 4, fz(8) ? leaf - 2 + fz(5) : fz(UINT32_MAX));
      if (fz(10) == 0) g[i].len = fz(g[i].len + 1);
    }
    char detail[600] = "";
    JET_ERR e = replay(fz(2), g, n, d + 1 + fz(3), detail, sizeof detail);
    if (e > 0 || e < -20000) FAIL("fuzz-redo %d: result %d", round, (int)e);
    refused += e != JET_errSuccess;
    if (harness_copy_file(saved, dbpath)) FAIL("fuzz-redo: put back %s", dbpath);
  }
  if (refused < 100) FAIL("fuzz-redo: only %d groups refused", refused);
  unlink(saved);
  say_ok("fuzz-redo");
}

int main(void) {
  harness_start(600);   /* a hang only: 23 s under make check at load 18 (60 s was under 3 x that) */
  unit();
  unit_split();
  unit_unlink();
  fuzz();
  setup();
  uint64_t T = hdr.dbtime_last;
  static rec g[3];
  for (int restore = 0; restore <= 1; restore++) {
    cases(PO_INSERT, "insert", restore, &T);
    cases(PO_REPLACE, "replace", restore, &T);
    cases(PO_DELETE, "delete", restore, &T);
  }
  /* three records of one page in one commit, in order: insert k30,
   * replace it, delete k12 */
  uint8_t b[3][64];
  uint64_t d = leaf_dbtime();
  size_t l0 = po_leaf_cell(b[0], "k30", 3, "x", 1), l1 = po_leaf_cell(b[1], "k30", 3, "yyyy", 4);
  int s12 = slot_of("k12"), s30;
  s30 = slot_of("k19") + 1;
  put16(b[2], 3);
  memcpy(b[2] + 2, "k12", 3);
  op_rec(&g[0], PO_INSERT, (unsigned)s30, d, b[0], l0);
  op_rec(&g[1], PO_REPLACE, (unsigned)s30, d, b[1], l1);
  op_rec(&g[2], PO_DELETE, (unsigned)s12, d, b[2], 5);
  expect_applies("many", 0, g, 3, ++T);
  if (slot_of("k12") >= 0 || slot_of("k30") < 0) FAIL("many: k12 is there or k30 is not");
  expect_same("many-twice", 1, g, 3, T, JET_errSuccess, "");
  /* the same page with two bases, or as a difference and by a record */
  d = leaf_dbtime();
  s12 = slot_of("k13");
  put16(b[2], 3);
  memcpy(b[2] + 2, "k13", 3);
  op_rec(&g[0], PO_DELETE, (unsigned)s12, d, b[2], 5);
  op_rec(&g[1], PO_DELETE, (unsigned)s12, d + 1, b[2], 5);
  char needle[64];
  snprintf(needle, sizeof needle, "page %u of database 1 twice", (unsigned)leaf);
  expect_same("mixed-base", 0, g, 2, T + 1, JET_errLogFileCorrupt, needle);
  g[1].type = LR_PAGEDIFF;
  put32(g[1].p, 1);
  put32(g[1].p + 4, leaf);
  put64(g[1].p + 8, 7);
  put64(g[1].p + 16, d);
  put16(g[1].p + 24, 100);
  put16(g[1].p + 26, 1);
  g[1].p[28] = 0x55;
  g[1].len = 29;
  expect_same("op-and-diff", 1, g, 2, T + 1, JET_errLogCorruptDuringHardRestore, needle);
  for (int restore = 0; restore <= 1; restore++) {
    uint8_t keep[PAGE_SIZE];
    read_page(leaf, keep);
    uint32_t n0 = file_pages();
    split_cases(restore, &T);
    write_page(leaf, keep);                     /* the leaf of 20-odd records again */
    cut_file(n0);
    root_split_cases(restore, &T);
    write_page(leaf, keep);
    cut_file(n0);
    free_cases(restore, &T);
    write_page(leaf, keep);
    cut_file(n0);
  }
  fuzz_redo();
  harness_rm_rf(dir);
  printf("pageop_test: ok\n");
  return 0;
}
