/*
 * mock_pager.h -- an in-memory stand-in for pager.c, for btree_test.c only.
 *
 * It defines the pager.h functions btree.c and lv.c call (pager_page_size,
 * pager_read, pager_write, pager_alloc, pager_free, pager_changes) with external linkage, because
 * btree.c links against them; a program including this header must not also
 * link pager.o.  The mock_* helpers are static.
 *
 * Like the real pager it keeps a committed image per page and a pending copy
 * for pages changed by the operation in progress: pager_write copies the
 * page (so a btree that keeps using a pre-write pointer reads stale data and
 * the test notices), mock_commit makes pending copies committed and checks
 * that bytes 0..15 (checksum, pgno, lsn: the pager's) were left alone,
 * mock_discard throws them away like pager_discard_pending.  Old images are
 * freed at commit, so ASan catches pointers kept across operations.
 * Page 0 stands for the database header.
 *
 * pager_write_op keeps each page's operation records like the real pager
 * (pager_write and pager_alloc drop them: the page is a difference then;
 * a page of pager_alloc_op keeps them, replayed onto zeros);
 * mock_commit replays them (pageop_apply) onto the committed image and
 * fails the test unless that gives the pending page byte for byte: the
 * determinism check of pageop.h over every btree_test workload.
 */
#ifndef MOCK_PAGER_H
#define MOCK_PAGER_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pager.h"
#include "page.h"
#include "pageop.h"

struct pager {
  uint32_t psz;
  uint8_t **img;       /* committed image per page; NULL: allocated, pending */
  uint8_t **pend;      /* pending copy, or NULL */
  uint32_t n, cap;     /* pages in the file, array capacity */
  uint32_t base;       /* n at the last commit */
  uint32_t *plist;     /* pages with a pending copy */
  uint32_t np, pcap;
  int fail_alloc;      /* > 0: the fail_alloc-th next pager_alloc fails */
  unsigned long reads, writes, allocs, frees;
  uint8_t **ops;       /* per page: operation records of the pending change */
  size_t *nops;
  uint8_t *raw;        /* per page: changed otherwise too (a difference) */
  unsigned long replayed;   /* pages whose records mock_commit replayed */
  uint64_t changes;    /* pager_changes: bumped by every write, alloc, discard */
  /* pager_write_ranges: the page as it was and the ranges declared, checked
   * at the change's record (pager_write_op): no byte outside them changed */
  uint32_t touch_pg;   /* 0: none declared */
  uint8_t *touch_before;
  uint16_t touch[PO_TOUCH_MAX][2];
  size_t ntouch;
  unsigned long touched;   /* changes checked */
};

static void *mock_xalloc(size_t n) {
  void *q = calloc(1, n ? n : 1);
  if (!q) {
    fprintf(stderr, "btree_test: mock out of memory\n");
    exit(2);
  }
  return q;
}

static pager *mock_open(uint32_t psz) {
  pager *p = mock_xalloc(sizeof *p);
  p->psz = psz;
  p->cap = 64;
  p->img = mock_xalloc(p->cap * sizeof *p->img);
  p->pend = mock_xalloc(p->cap * sizeof *p->pend);
  p->ops = mock_xalloc(p->cap * sizeof *p->ops);
  p->nops = mock_xalloc(p->cap * sizeof *p->nops);
  p->raw = mock_xalloc(p->cap);
  p->img[0] = mock_xalloc(psz);
  p->img[0][16] = PAGE_DBHEADER;
  p->n = p->base = 1;
  return p;
}

static void mock_ops_reset(pager *p, uint32_t pg) {
  free(p->ops[pg]);
  p->ops[pg] = NULL;
  p->nops[pg] = 0;
  p->raw[pg] = 0;
}

/* Replays the records of page pg onto its committed image; exits on a
 * difference from the pending page. */
static void mock_replay(pager *p, uint32_t pg) {
  if (p->raw[pg] || !p->nops[pg]) return;
  uint8_t *copy = mock_xalloc(p->psz);    /* zeros: a page new in the commit */
  if (p->img[pg]) memcpy(copy, p->img[pg], p->psz);
  size_t off = 0;
  while (off < p->nops[pg]) {
    int type, r;
    unsigned slot;
    const uint8_t *body;
    size_t blen;
    if (pageop_next(p->ops[pg], p->nops[pg], &off, &type, &slot, &body, &blen) ||
        (r = pageop_apply(copy, p->psz, type, slot, body, blen)) != PO_OK) {
      fprintf(stderr, "btree_test: FAIL page %u: a recorded operation does not replay\n", (unsigned)pg);
      exit(1);
    }
  }
  if (memcmp(copy + 16, p->pend[pg] + 16, p->psz - 16)) {
    fprintf(stderr, "btree_test: FAIL page %u: its operation records replayed give other bytes than the live change\n",
            (unsigned)pg);
    exit(1);
  }
  free(copy);
  p->replayed++;
}

static void mock_discard(pager *p) {
  p->changes++;
  for (uint32_t i = 0; i < p->np; i++) mock_ops_reset(p, p->plist[i]);
  for (uint32_t i = 0; i < p->np; i++) {
    free(p->pend[p->plist[i]]);
    p->pend[p->plist[i]] = NULL;
  }
  p->np = 0;
  p->n = p->base;
}

static void mock_commit(pager *p) {
  static const uint8_t zero[16];
  for (uint32_t i = 0; i < p->np; i++) {
    uint32_t pg = p->plist[i];
    const uint8_t *old = p->img[pg] ? p->img[pg] : zero;
    if (memcmp(old, p->pend[pg], 16)) {
      fprintf(stderr, "btree_test: FAIL btree changed bytes 0..15 of page %u\n", (unsigned)pg);
      exit(1);
    }
    mock_replay(p, pg);
    mock_ops_reset(p, pg);
    free(p->img[pg]);
    p->img[pg] = p->pend[pg];
    p->pend[pg] = NULL;
  }
  p->np = 0;
  p->base = p->n;
}

static void mock_close(pager *p) {
  mock_discard(p);
  for (uint32_t i = 0; i < p->n; i++) free(p->img[i]);
  free(p->img);
  free(p->pend);
  free(p->ops);
  free(p->nops);
  free(p->raw);
  free(p->plist);
  free(p->touch_before);
  free(p);
}

/* The committed image, for tests that damage pages (no pending copy). */
static uint8_t *mock_raw(pager *p, uint32_t pgno) { return pgno < p->base ? p->img[pgno] : NULL; }

static void mock_pend(pager *p, uint32_t pgno, uint8_t *copy) {
  if (p->np == p->pcap) {
    p->pcap = p->pcap ? 2 * p->pcap : 16;
    p->plist = realloc(p->plist, p->pcap * sizeof *p->plist);
    if (!p->plist) exit(2);
  }
  p->plist[p->np++] = pgno;
  p->pend[pgno] = copy;
}

uint32_t pager_page_size(const pager *p) { return p->psz; }
uint64_t pager_changes(const pager *p) { return p->changes; }

JET_ERR pager_read(pager *p, uint32_t pgno, const uint8_t **page) {
  if (pgno >= p->n) return JET_errReadVerifyFailure;
  p->reads++;
  *page = p->pend[pgno] ? p->pend[pgno] : p->img[pgno];
  return 0;
}

static JET_ERR mock_write(pager *p, uint32_t pgno, uint8_t **page) {
  if (pgno >= p->n) return JET_errReadVerifyFailure;
  p->writes++;
  p->changes++;
  if (!p->pend[pgno]) {
    uint8_t *copy = mock_xalloc(p->psz);
    memcpy(copy, p->img[pgno], p->psz);
    mock_pend(p, pgno, copy);
  }
  *page = p->pend[pgno];
  return 0;
}

JET_ERR pager_write(pager *p, uint32_t pgno, uint8_t **page) {
  JET_ERR e = mock_write(p, pgno, page);
  if (e == 0) {
    p->raw[pgno] = 1;
    p->nops[pgno] = 0;
  }
  return e;
}

/* The change declared by pager_write_ranges for pgno, now made: every byte
 * outside the declared ranges is as it was (pageop_touches' contract,
 * over every btree_test workload). */
static void mock_touch_check(pager *p, uint32_t pgno) {
  if (p->touch_pg != pgno || !p->touch_before) return;
  const uint8_t *now = p->pend[pgno];
  uint32_t at = 0;   /* the bytes below at are checked or declared */
  while (now && at < p->psz) {
    /* the declared range that starts lowest at or past at's next outside byte */
    uint32_t next = p->psz, end = p->psz;
    for (size_t k = 0; k < p->ntouch; k++) {
      uint32_t lo = p->touch[k][0], hi = lo + p->touch[k][1];
      if (hi > at && lo < next) {
        next = lo > at ? lo : at;
        end = hi;
      }
    }
    if (next > at && memcmp(now + at, p->touch_before + at, next - at) != 0) {
      fprintf(stderr, "btree_test: FAIL page %u changed in [%u, %u), outside the ranges pageop_touches gave\n",
              (unsigned)pgno, at, next);
      exit(1);
    }
    at = end > next ? end : next;
  }
  p->touch_pg = 0;
  p->touched++;
}

JET_ERR pager_write_ranges(pager *p, uint32_t pgno, uint8_t **page, const uint16_t (*r)[2], size_t n) {
  JET_ERR e = mock_write(p, pgno, page);
  if (e) return e;
  p->touch_pg = n ? pgno : 0;
  if (n) {
    if (!p->touch_before) p->touch_before = mock_xalloc(p->psz);
    memcpy(p->touch_before, *page, p->psz);
    memcpy(p->touch, r, n * sizeof *r);
    p->ntouch = n;
  }
  return 0;
}

JET_ERR pager_write_op(pager *p, uint32_t pgno, uint8_t **page, const void *a, size_t alen, const void *b,
                       size_t blen) {
  JET_ERR e = mock_write(p, pgno, page);
  if (e == 0 && alen + blen) mock_touch_check(p, pgno);
  if (e || p->raw[pgno] || alen + blen == 0) return e;
  uint8_t *q = realloc(p->ops[pgno], p->nops[pgno] + alen + blen);
  if (!q) exit(2);
  p->ops[pgno] = q;
  memcpy(q + p->nops[pgno], a, alen);
  if (blen) memcpy(q + p->nops[pgno] + alen, b, blen);
  p->nops[pgno] += alen + blen;
  return 0;
}

/* The page's bytes from keep on are garbage here, always (the real pager's
 * are when the page was not pending): a caller that read them before its
 * change rewrote them would fail the test. */
JET_ERR pager_write_op_over(pager *p, uint32_t pgno, uint8_t **page, size_t keep, const void *a, size_t alen,
                            const void *b, size_t blen) {
  JET_ERR e = pager_write_op(p, pgno, page, a, alen, b, blen);
  if (e == 0) memset(*page + keep, 0xA5, p->psz - keep);
  return e;
}

static JET_ERR mock_alloc(pager *p, uint32_t *pgno, uint8_t **page, int raw) {
  if (p->fail_alloc > 0 && --p->fail_alloc == 0) return JET_errDiskFull;
  if (p->n == p->cap) {
    p->cap *= 2;
    p->img = realloc(p->img, p->cap * sizeof *p->img);
    p->pend = realloc(p->pend, p->cap * sizeof *p->pend);
    p->ops = realloc(p->ops, p->cap * sizeof *p->ops);
    p->nops = realloc(p->nops, p->cap * sizeof *p->nops);
    p->raw = realloc(p->raw, p->cap);
    if (!p->img || !p->pend || !p->ops || !p->nops || !p->raw) exit(2);
    memset(p->img + p->n, 0, (p->cap - p->n) * sizeof *p->img);
    memset(p->pend + p->n, 0, (p->cap - p->n) * sizeof *p->pend);
    memset(p->ops + p->n, 0, (p->cap - p->n) * sizeof *p->ops);
    memset(p->nops + p->n, 0, (p->cap - p->n) * sizeof *p->nops);
    memset(p->raw + p->n, 0, p->cap - p->n);
  }
  p->allocs++;
  p->changes++;
  *pgno = p->n++;
  p->img[*pgno] = NULL;
  p->raw[*pgno] = (uint8_t)raw;
  mock_pend(p, *pgno, mock_xalloc(p->psz));
  *page = p->pend[*pgno];
  return 0;
}

JET_ERR pager_alloc(pager *p, uint32_t *pgno, uint8_t **page) { return mock_alloc(p, pgno, page, 1); }
/* A new page formatted by operation records (mock_replay replays them
 * onto zeros). */
JET_ERR pager_alloc_op(pager *p, uint32_t *pgno, uint8_t **page) { return mock_alloc(p, pgno, page, 0); }

/* A freed page (a long value's) is never reused here: counted only. */
JET_ERR pager_free(pager *p, uint32_t pgno) {
  if (pgno == 0 || pgno >= p->n) return JET_errDatabaseCorrupted;
  p->frees++;
  return 0;
}

#endif
