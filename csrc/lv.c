/* lv.c -- long values out of line (layout and rules: lv.h). */
#include "lv.h"
#include "page.h"
#include "pageop.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define CORRUPT JET_errDatabaseCorrupted

int lv_ref_decode(const uint8_t *v, size_t n, uint32_t *len, uint32_t *dir) {
  if (n != LV_REF_SIZE || v[0] != LV_TAG_LONG) return -1;
  *len = get32(v + 1);
  *dir = get32(v + 5);
  return *len == 0 || *len > LV_MAX || *dir == 0 ? -1 : 0;
}

static size_t pages_of(uint32_t psz, size_t len) { return (len + lv_data_cap(psz) - 1) / lv_data_cap(psz); }

JET_ERR lv_put(pager *p, const void *val, size_t vlen, uint8_t ref[LV_REF_SIZE]) {
  uint32_t psz = pager_page_size(p), first = 0, pgno;
  size_t dcap = lv_data_cap(psz), ecap = lv_dir_cap(psz), n = pages_of(psz, vlen);
  uint8_t *dir = NULL, *pg;
  const uint8_t *src = val;
  if (vlen == 0 || vlen > LV_MAX) return JET_errInvalidParameter;
  for (size_t i = 0; i < n; i++) {
    JET_ERR e;
    if (i % ecap == 0) {         /* a new directory page, chained after the last */
      if ((e = pager_alloc(p, &pgno, &pg))) return e;
      pg[16] = PAGE_LVDIR;
      if (dir) put32(dir + LV_OFF_NEXT, pgno);
      else first = pgno;
      dir = pg;
    }
    if ((e = pager_alloc(p, &pgno, &pg))) return e;
    size_t used = i + 1 < n ? dcap : vlen - i * dcap;
    pg[16] = PAGE_LVDATA;
    put32(pg + LV_OFF_COUNT, (uint32_t)used);
    memcpy(pg + PAGE_HDR, src + i * dcap, used);
    uint32_t cnt = get32(dir + LV_OFF_COUNT);
    put32(dir + PAGE_HDR + 4 * cnt, pgno);
    put32(dir + LV_OFF_COUNT, cnt + 1);
  }
  ref[0] = LV_TAG_LONG;
  put32(ref + 1, (uint32_t)vlen);
  put32(ref + 5, first);
  return JET_errSuccess;
}

/* Directory page k (0-based) of the chain that starts at dir, checked: its
 * entry count is what a value of npages data pages gives it. */
static JET_ERR dir_page(pager *p, uint32_t dir, size_t k, size_t npages, const uint8_t **out) {
  uint32_t psz = pager_page_size(p);
  size_t ecap = lv_dir_cap(psz), ndirs = (npages + ecap - 1) / ecap;
  const uint8_t *pg;
  for (size_t i = 0;; i++) {
    JET_ERR e = pager_read(p, dir, &pg);
    if (e) return e;
    size_t want = i + 1 < ndirs ? ecap : npages - i * ecap;
    if (page_type(pg) != PAGE_LVDIR || get32(pg + LV_OFF_COUNT) != want || get32(pg + LV_OFF_NEXT + 4)) return CORRUPT;
    uint32_t next = get32(pg + LV_OFF_NEXT);
    if ((next == 0) != (i + 1 == ndirs)) return CORRUPT;
    if (i == k) {
      *out = pg;
      return JET_errSuccess;
    }
    dir = next;
  }
}

/* Data page number pgno, index i of a value of len bytes, checked. */
static JET_ERR data_page(pager *p, uint32_t pgno, size_t i, size_t len, const uint8_t **out) {
  uint32_t psz = pager_page_size(p);
  size_t dcap = lv_data_cap(psz), n = pages_of(psz, len);
  JET_ERR e = pager_read(p, pgno, out);
  if (e) return e;
  size_t want = i + 1 < n ? dcap : len - i * dcap;
  /* bytes 24 .. 31 are zeros (docs/format.md, "Long values") */
  int reserved = get32(*out + LV_OFF_NEXT) || get32(*out + LV_OFF_NEXT + 4);
  return page_type(*out) != PAGE_LVDATA || get32(*out + LV_OFF_COUNT) != want || reserved ? CORRUPT : JET_errSuccess;
}

JET_ERR lv_read(pager *p, const uint8_t ref[LV_REF_SIZE], size_t off, size_t n, uint8_t *dst) {
  uint32_t len, dir, psz = pager_page_size(p);
  size_t dcap = lv_data_cap(psz), ecap = lv_dir_cap(psz);
  if (lv_ref_decode(ref, LV_REF_SIZE, &len, &dir)) return CORRUPT;
  if (off > len || n > len - off) return JET_errInvalidParameter;
  if (n == 0) return JET_errSuccess;
  size_t npages = pages_of(psz, len), i = off / dcap, at = off - i * dcap;
  const uint8_t *dp, *pg;
  size_t k = i / ecap;           /* the directory page dp is */
  JET_ERR e = dir_page(p, dir, k, npages, &dp);
  while (e == JET_errSuccess && n) {
    if (i / ecap != k) {         /* on to the next directory page */
      if ((e = dir_page(p, get32(dp + LV_OFF_NEXT), 0, npages - i, &dp))) break;
      k++;
    }
    if ((e = data_page(p, get32(dp + PAGE_HDR + 4 * (i % ecap)), i, len, &pg))) break;
    size_t take = dcap - at < n ? dcap - at : n;
    memcpy(dst, pg + PAGE_HDR + at, take);
    dst += take;
    n -= take;
    at = 0;
    i++;
  }
  return e;
}

JET_ERR lv_walk(pager *p, const uint8_t ref[LV_REF_SIZE], int (*fn)(void *ud, uint32_t pgno), void *ud) {
  uint32_t len, dir, psz = pager_page_size(p);
  size_t ecap = lv_dir_cap(psz);
  if (lv_ref_decode(ref, LV_REF_SIZE, &len, &dir)) return CORRUPT;
  size_t npages = pages_of(psz, len);
  for (size_t k = 0; k * ecap < npages; k++) {
    const uint8_t *dp, *pg;
    JET_ERR e = dir_page(p, dir, 0, npages - k * ecap, &dp);   /* the rest of the chain from dir */
    if (e) return e;
    if (fn && fn(ud, dir)) return CORRUPT;
    for (size_t j = 0; j < get32(dp + LV_OFF_COUNT); j++) {
      uint32_t pgno = get32(dp + PAGE_HDR + 4 * j);
      if ((e = data_page(p, pgno, k * ecap + j, len, &pg))) return e;
      if (fn && fn(ud, pgno)) return CORRUPT;
    }
    dir = get32(dp + LV_OFF_NEXT);
  }
  return JET_errSuccess;
}

/* Frees page pgno of a value, of type (PAGE_LVDATA, PAGE_LVDIR) and next
 * (its u32 at offset 24): marked free first by an LR_FREEPAGE record
 * (pageop.h; bytes 16.. zeroed, 48 bytes of log, no page image), then put
 * on the free list.  A page of another type or next (a damaged value) is
 * CORRUPT, the page unchanged.  The mark rewrites bytes 16.. whole: the
 * page before is kept without a copy (pager_write_op_over), the check made
 * first on the page as it is. */
static JET_ERR free_one(pager *p, uint32_t pgno, int type, uint32_t next) {
  uint8_t h[PO_ENTRY_HDR], body[PO_FREEPAGE_LEN], *pg;
  const uint8_t *cur;
  uint32_t psz = pager_page_size(p);
  body[0] = (uint8_t)type;
  put32(body + 1, next);
  pageop_entry(h, PO_FREEPAGE, 0, sizeof body);
  JET_ERR e = pager_read(p, pgno, &cur);
  if (e) return e;
  if (pageop_can_free(cur, psz, 0, body, sizeof body) != PO_OK) return CORRUPT;
  /* bytes 16 .. 31 kept: pageop_apply checks them again, with the same result */
  if ((e = pager_write_op_over(p, pgno, &pg, PAGE_HDR, h, sizeof h, body, sizeof body))) return e;
  int r = pageop_apply(pg, psz, PO_FREEPAGE, 0, body, sizeof body);
  /* never fails (pageop_can_free passed on the same bytes); if it did, the
   * page's bytes past PAGE_HDR would be undefined: never logged, as the
   * failed operation's pending pages are discarded (the page before put
   * back) by every caller */
  assert(r == PO_OK);
  if (r != PO_OK) return r == PO_NOMEM ? JET_errOutOfMemory : CORRUPT;
  return pager_free(p, pgno);
}

JET_ERR lv_free(pager *p, const uint8_t ref[LV_REF_SIZE]) {
  uint32_t len, dir, psz = pager_page_size(p);
  size_t ecap = lv_dir_cap(psz);
  if (lv_ref_decode(ref, LV_REF_SIZE, &len, &dir)) return CORRUPT;
  size_t npages = pages_of(psz, len), ndirs = (npages + ecap - 1) / ecap;
  uint32_t *ents = malloc(ecap * sizeof *ents);
  if (!ents) return JET_errOutOfMemory;
  JET_ERR e = JET_errSuccess;
  /* Each directory page is read (checked) and its list copied before any
   * page is freed: a freed page may become a free-list page at once. */
  for (size_t k = 0; k < ndirs && e == JET_errSuccess; k++) {
    const uint8_t *dp;
    if ((e = dir_page(p, dir, 0, npages - k * ecap, &dp))) break;
    size_t cnt = get32(dp + LV_OFF_COUNT);
    uint32_t next = get32(dp + LV_OFF_NEXT);
    for (size_t j = 0; j < cnt; j++) ents[j] = get32(dp + PAGE_HDR + 4 * j);
    for (size_t j = 0; j < cnt && e == JET_errSuccess; j++) e = free_one(p, ents[j], PAGE_LVDATA, 0);
    if (e == JET_errSuccess) e = free_one(p, dir, PAGE_LVDIR, next);
    dir = next;
  }
  free(ents);
  return e;
}
