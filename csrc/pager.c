/* pager.c -- page cache of one database file: verify on read, pending
 * pages for the commit in progress, WAL-ordered write-back. */
#include "pager.h"
#include "page.h"
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPACE_PGNO 2
#define SPACE_NEXT (PAGE_HDR + 0)   /* u32 next free page number */
#define SPACE_ROOT (PAGE_HDR + 4)   /* u32 catalog root */
#define SPACE_FREE (PAGE_HDR + 8)   /* u32 first free-list page, 0: none */
#define SPACE_NFREE (PAGE_HDR + 12) /* u32 free pages (free-list pages included) */
#define SPACE_FLAGS (PAGE_HDR + 16) /* u32: bit 0, SPACE_MARKED (below) */
/* Every page on the free list is a free-list page or marked free (bytes
 * 16.. zero): set in a new database, and whenever the free list is empty;
 * never set in a file whose free list may still hold a long value's page
 * freed as it was (by an engine before LR_FREEPAGE marked them, log
 * feature bit 1), whose reuse accepts such pages too. */
#define SPACE_MARKED 1u
#define FL_COUNT 20                 /* free-list page: u32 entries */
#define FL_NEXT 24                  /* u32 next free-list page, 0: the last */

typedef struct frame {
  uint32_t pgno;
  uint8_t *data;
  /* the page before the pending operation: pre, a whole copy; or, while
   * every change of the operation declared the bytes it touches
   * (pager_write_ranges), none, but undo: the bytes of those ranges before
   * each change, entries of [bytes][u16 offset][u16 length] read from the
   * end (undoing the changes last first gives the page before).  pre_hdr:
   * its first PAGE_HDR bytes (the dbtime records name).  isnew: a page new
   * in the operation (no page before: pre NULL, no undo) */
  uint8_t *pre;
  uint8_t pre_hdr[PAGE_HDR];
  int isnew, undoing;
  uint8_t *undo;
  size_t nundo, undocap;
  int dirty;             /* committed change not yet in the file */
  uint64_t ver;          /* + 1 at every commit of a change (pager_ckpt_done compares) */
  int pinned;            /* in the checkpoint batch in flight: never evicted nor written by another write-back */
  int pending;           /* changed by the operation in progress */
  uint64_t need_lsn;     /* the log must be durable to here before a write */
  /* the operation records of the pending change (pager_write_op), in
   * order; raw: the page was also changed otherwise (pager_write, a new
   * page), so it is logged as a difference and ops stays empty */
  uint8_t *ops;
  size_t nops, opscap;
  int raw;
  /* marked free by this operation's record (pager_free after an
   * LR_FREEPAGE: bytes 16.. zero) and not handed out since (fetch clears
   * it): reuse_page need not check them */
  int marked;
  struct frame *hnext;
  struct frame *prev, *next;   /* LRU: head = most recent */
} frame;

struct pager {
  esfile *file;
  uint32_t psz;
  size_t cap;                  /* frames the cache aims to keep */
  pager_hooks hooks;
  frame **hash;
  size_t nbuckets, nframes;
  frame lru;                   /* sentinel */
  frame **pend;                /* pending frames, in order of first change */
  size_t npend, pendcap;
  uint32_t *pend_pgnos;
  uint8_t **pend_pages;
  const uint8_t **pend_bases;
  size_t pend_outcap;
  pthread_rwlock_t io;         /* page writes exclusive of raw (backup) reads */
  /* page buffers of ended operations (their pre copies) and of dropped
   * frames, reused by the next ones instead of a malloc and a free per page
   * per commit; at most spare_max kept: a quarter of the cache, at least
   * SPARE_MIN (a bulk commit of 10,000 random records pends ~7,000 pages) */
  uint8_t **spare;
  size_t nspare, spare_max;
  char detail[256];
  /* bumped before every change of a page's content (pager_write,
   * pager_write_op, new_page, pager_discard_pending); starts at a value of
   * its own per pager (the high 32 bits: g_epoch), so a position remembered
   * for one pager never matches another opened at the same address */
  uint64_t changes;
  /* a checkpoint in slices (pager.h): the pages dirty at pager_ckpt_mark,
   * ascending; ck[ckat..ckn) are still to be looked at */
  uint32_t *ck;
  size_t ckn, ckat;
  /* the checkpoint batch (pager_ckpt_copy .. pager_ckpt_done): its pinned
   * frames wb[0..wbn) with their versions at the copy, the copies (sealed,
   * in wb_img), the lsn the log must reach first and the cursor before it;
   * arrays of pager_ckpt_batch entries, made at the first batch */
  frame **wb;
  uint64_t *wb_ver;
  uint32_t *wb_pgno;
  const uint8_t **wb_page;
  uint8_t *wb_img;
  size_t wbn, wb_from;
  uint64_t wb_need;
  int wb_busy;
};

static _Atomic uint64_t g_epoch;

#define SPARE_MIN 1024u
#define OPS_KEEP 256u    /* an operation buffer up to this size stays with its frame (3% of an 8 KiB page) */

static uint8_t *buf_get(pager *p) { return p->nspare ? p->spare[--p->nspare] : malloc(p->psz); }
static void buf_put(pager *p, uint8_t *b) {
  if (!b) return;
  if (p->nspare < p->spare_max && (p->spare || (p->spare = malloc(p->spare_max * sizeof *p->spare))))
    p->spare[p->nspare++] = b;
  else
    free(b);
}

static size_t hash_of(uint32_t pgno, size_t nbuckets) { return (pgno * 2654435761u) & (nbuckets - 1); }
static size_t bucket(const pager *p, uint32_t pgno) { return hash_of(pgno, p->nbuckets); }

static void lru_unlink(frame *f) { f->prev->next = f->next; f->next->prev = f->prev; }
static void lru_front(pager *p, frame *f) {
  f->next = p->lru.next; f->prev = &p->lru;
  p->lru.next->prev = f; p->lru.next = f;
}

JET_ERR pager_open(esfile *file, uint32_t page_size, size_t cache_pages, pager_hooks hooks, pager **out) {
  pager *p = calloc(1, sizeof *p);
  if (!p) return JET_errOutOfMemory;
  p->file = file;
  p->psz = page_size;
  p->cap = cache_pages < 16 ? 16 : cache_pages;
  p->spare_max = p->cap / 4 > SPARE_MIN ? p->cap / 4 : SPARE_MIN;
  p->hooks = hooks;
  p->nbuckets = 1024;
  p->hash = calloc(p->nbuckets, sizeof *p->hash);
  if (!p->hash) { free(p); return JET_errOutOfMemory; }
  p->lru.next = p->lru.prev = &p->lru;
  p->changes = (atomic_fetch_add(&g_epoch, 1) + 1) << 32;
  if (pthread_rwlock_init(&p->io, NULL) != 0) { free(p->hash); free(p); return JET_errOutOfMemory; }
  *out = p;
  return JET_errSuccess;
}

static void frame_free(frame *f) {
  free(f->data);
  free(f->pre);
  free(f->ops);
  free(f->undo);
  free(f);
}

void pager_close(pager *p) {
  if (!p) return;
  for (frame *f = p->lru.next, *n; f != &p->lru; f = n) {
    n = f->next;
    frame_free(f);
  }
  pthread_rwlock_destroy(&p->io);
  while (p->nspare) free(p->spare[--p->nspare]);
  free(p->spare);
  free(p->hash);
  free(p->pend);
  free(p->pend_pgnos);
  free(p->pend_pages);
  free(p->pend_bases);
  free(p->ck);
  assert(!p->wb_busy && "pager_close: a checkpoint batch in flight");
  free(p->wb);
  free(p->wb_ver);
  free(p->wb_pgno);
  free(p->wb_page);
  free(p->wb_img);
  free(p);
}

uint32_t pager_page_size(const pager *p) { return p->psz; }
esfile *pager_file(pager *p) { return p->file; }
uint64_t pager_changes(const pager *p) { return p->changes; }
const char *pager_error_detail(pager *p) { return p->detail; }

static frame *lookup(pager *p, uint32_t pgno) {
  for (frame *f = p->hash[bucket(p, pgno)]; f; f = f->hnext)
    if (f->pgno == pgno) return f;
  return NULL;
}

static JET_ERR grow_hash(pager *p) {
  size_t nb = p->nbuckets * 2;
  frame **h = calloc(nb, sizeof *h);
  if (!h) return JET_errOutOfMemory;
  for (size_t i = 0; i < p->nbuckets; i++)
    for (frame *f = p->hash[i], *n; f; f = n) {
      n = f->hnext;
      size_t b = hash_of(f->pgno, nb);
      f->hnext = h[b];
      h[b] = f;
    }
  free(p->hash);
  p->hash = h;
  p->nbuckets = nb;
  return JET_errSuccess;
}

static JET_ERR frame_new(pager *p, uint32_t pgno, frame **out) {
  if (p->nframes >= p->nbuckets && grow_hash(p) != JET_errSuccess) return JET_errOutOfMemory;
  frame *f = calloc(1, sizeof *f);
  if (!f || !(f->data = buf_get(p))) { free(f); return JET_errOutOfMemory; }
  f->pgno = pgno;
  size_t b = bucket(p, pgno);
  f->hnext = p->hash[b];
  p->hash[b] = f;
  lru_front(p, f);
  p->nframes++;
  *out = f;
  return JET_errSuccess;
}

static void frame_drop(pager *p, frame *f) {
  frame **pp = &p->hash[bucket(p, f->pgno)];
  while (*pp != f) pp = &(*pp)->hnext;
  *pp = f->hnext;
  lru_unlink(f);
  p->nframes--;
  buf_put(p, f->data);   /* an eviction's buffer serves the next frame */
  buf_put(p, f->pre);
  free(f->ops);
  free(f->undo);
  free(f);
}

/* Brings pgno into the cache (verified) and to the LRU front. */
static JET_ERR fetch(pager *p, uint32_t pgno, frame **out) {
  if (pgno < SPACE_PGNO) {   /* the header pages: only a damaged pointer (a child, a long value's page) leads here */
    snprintf(p->detail, sizeof p->detail, "%s: a pointer to page %u, a header page", os_path(p->file), (unsigned)pgno);
    return JET_errDatabaseCorrupted;
  }
  frame *f = lookup(p, pgno);
  if (f) {
    f->marked = 0;
    lru_unlink(f);
    lru_front(p, f);
    *out = f;
    return JET_errSuccess;
  }
  JET_ERR e = frame_new(p, pgno, &f);
  if (e) return e;
  size_t got;
  pthread_rwlock_rdlock(&p->io);
  e = os_pread(p->file, f->data, p->psz, (uint64_t)pgno * p->psz, &got);
  pthread_rwlock_unlock(&p->io);
  if (e == JET_errSuccess && got < p->psz) memset(f->data + got, 0, p->psz - got);
  if (e == JET_errSuccess) {
    e = page_check(f->data, p->psz, pgno, 0, os_path(p->file), p->detail, sizeof p->detail);
  }
  if (e) {
    frame_drop(p, f);
    return e;
  }
  *out = f;
  return JET_errSuccess;
}

JET_ERR pager_read(pager *p, uint32_t pgno, const uint8_t **page) {
  frame *f;
  JET_ERR e = fetch(p, pgno, &f);
  if (e) return e;
  *page = f->data;
  return JET_errSuccess;
}

/* *b of *cap bytes holds need bytes, grown by doubling; 0: no memory. */
static int room(uint8_t **b, size_t *cap, size_t need) {
  if (need <= *cap) return 1;
  size_t nc = *cap ? *cap * 2 : 256;
  while (nc < need) nc *= 2;
  uint8_t *q = realloc(*b, nc);
  if (!q) return 0;
  *b = q;
  *cap = nc;
  return 1;
}

/* Undoes the recorded changes onto pg, last first. */
static void undo_onto(const frame *f, uint8_t *pg) {
  for (size_t at = f->nundo; at > 0;) {
    size_t off = get16(f->undo + at - 4), len = get16(f->undo + at - 2);
    at -= 4 + len;
    memcpy(pg + off, f->undo + at, len);
  }
}

/* A whole copy of the page before the operation in f->pre (from the undo
 * records when there were any): from here on every change is covered. */
static JET_ERR pre_whole(pager *p, frame *f) {
  if (!f->undoing) return JET_errSuccess;
  if (!(f->pre = buf_get(p))) return JET_errOutOfMemory;
  memcpy(f->pre, f->data, p->psz);
  undo_onto(f, f->pre);
  memcpy(f->pre, f->pre_hdr, PAGE_HDR);   /* the header as it was: the page may be stamped by now */
  f->undoing = 0;
  f->nundo = 0;
  return JET_errSuccess;
}

/* f pending (a no-op when it is already): its page before the operation
 * kept as a whole copy, or, with undo, as undo records of the changes
 * (none yet), or nothing for a page new in it. */
static JET_ERR make_pending(pager *p, frame *f, int is_new, int undo) {
  if (f->pending) return JET_errSuccess;
  if (p->npend == p->pendcap) {
    size_t nc = p->pendcap ? p->pendcap * 2 : 64;
    frame **np = realloc(p->pend, nc * sizeof *np);
    if (!np) return JET_errOutOfMemory;
    p->pend = np;
    p->pendcap = nc;
  }
  f->isnew = is_new;
  f->undoing = 0;
  f->nundo = 0;
  if (!is_new) {
    memcpy(f->pre_hdr, f->data, PAGE_HDR);
    if (undo) f->undoing = 1;
    else if (!(f->pre = buf_get(p))) return JET_errOutOfMemory;
    else memcpy(f->pre, f->data, p->psz);
  }
  f->pending = 1;
  p->pend[p->npend++] = f;
  return JET_errSuccess;
}

JET_ERR pager_write(pager *p, uint32_t pgno, uint8_t **page) {
  frame *f;
  p->changes++;
  JET_ERR e = fetch(p, pgno, &f);
  if (e == JET_errSuccess) e = make_pending(p, f, 0, 0);
  if (e == JET_errSuccess) e = pre_whole(p, f);   /* any byte may change now */
  if (e) return e;
  f->raw = 1;
  f->nops = 0;
  *page = f->data;
  return JET_errSuccess;
}

/* make_pending for a change that rewrites bytes keep.. whole (pager.h
 * pager_write_op_over): a frame not pending yet gives its buffer to pre
 * (the page before, no copy) and takes a fresh one holding bytes
 * [0, keep); a pending one keeps its buffer, made whole first (the change
 * comes next). */
static JET_ERR make_pending_over(pager *p, frame *f, size_t keep) {
  if (f->pending) return pre_whole(p, f);
  uint8_t *fresh = buf_get(p);
  if (!fresh) return JET_errOutOfMemory;
  JET_ERR e = make_pending(p, f, 0, 1);   /* pending with no copy (as an undo of nothing yet) */
  if (e) {
    buf_put(p, fresh);
    return e;
  }
  f->undoing = 0;
  f->pre = f->data;
  f->data = fresh;
  memcpy(fresh, f->pre, keep);
  return JET_errSuccess;
}

/* pager_write_op, and pager_write_op_over when keep is not 0. */
static JET_ERR write_op(pager *p, uint32_t pgno, uint8_t **page, size_t keep, const void *a, size_t alen,
                        const void *b, size_t blen) {
  frame *f;
  p->changes++;
  JET_ERR e = fetch(p, pgno, &f);
  /* room for the record first, so that a failure leaves the page as it
   * was (a frame not pending holds no records and is not raw) */
  if (e == JET_errSuccess && !f->raw && alen + blen && !room(&f->ops, &f->opscap, f->nops + alen + blen))
    e = JET_errOutOfMemory;
  if (e == JET_errSuccess) e = keep ? make_pending_over(p, f, keep) : make_pending(p, f, 0, 0);
  /* without a record the change comes next, of any bytes; with one it was
   * made (after a call without one, or declared by pager_write_ranges) */
  if (e == JET_errSuccess && alen + blen == 0) e = pre_whole(p, f);
  if (e) return e;
  if (!f->raw && alen + blen) {
    memcpy(f->ops + f->nops, a, alen);
    if (blen) memcpy(f->ops + f->nops + alen, b, blen);
    f->nops += alen + blen;
  }
  *page = f->data;
  return JET_errSuccess;
}

JET_ERR pager_write_op(pager *p, uint32_t pgno, uint8_t **page, const void *a, size_t alen, const void *b,
                       size_t blen) {
  return write_op(p, pgno, page, 0, a, alen, b, blen);
}

JET_ERR pager_write_op_over(pager *p, uint32_t pgno, uint8_t **page, size_t keep, const void *a, size_t alen,
                            const void *b, size_t blen) {
  assert(keep >= PAGE_HDR && keep <= p->psz && alen + blen > 0);
  return write_op(p, pgno, page, keep, a, alen, b, blen);
}

JET_ERR pager_write_ranges(pager *p, uint32_t pgno, uint8_t **page, const uint16_t (*r)[2], size_t n) {
  frame *f;
  p->changes++;
  JET_ERR e = fetch(p, pgno, &f);
  if (e == JET_errSuccess) e = make_pending(p, f, 0, 1);
  if (e) return e;
  size_t need = f->nundo;
  for (size_t i = 0; i < n; i++) need += 4u + r[i][1];
  int whole = n == 0;
  for (size_t i = 0; i < n; i++) whole |= (size_t)r[i][0] + r[i][1] > p->psz;
  if (f->undoing && !whole && !room(&f->undo, &f->undocap, need)) whole = 1;   /* no memory: a whole copy, if it can */
  if (whole) {
    if ((e = pre_whole(p, f))) return e;
  } else if (f->undoing) {
    for (size_t i = 0; i < n; i++) {
      uint8_t *u = f->undo + f->nundo;
      memcpy(u, f->data + r[i][0], r[i][1]);
      put16(u + r[i][1], r[i][0]);
      put16(u + r[i][1] + 2, r[i][1]);
      f->nundo += 4u + r[i][1];
    }
  }
  *page = f->data;
  return JET_errSuccess;
}

size_t pager_pending_ops(pager *p, size_t i, const uint8_t **ops, const uint8_t **pre) {
  assert(i < p->npend);
  frame *f = p->pend[i];
  *ops = f->ops;
  *pre = f->isnew ? NULL : f->pre_hdr;
  return f->raw ? 0 : f->nops;
}

JET_ERR pager_pending_pre(pager *p, size_t i, const uint8_t **pre) {
  assert(i < p->npend);
  frame *f = p->pend[i];
  JET_ERR e = pre_whole(p, f);
  *pre = e ? NULL : f->pre;
  return e;
}

/* After a commit or a discard: the frame holds no operation records (a
 * small buffer stays for its next operation). */
static void keep_small(uint8_t **b, size_t *cap) {
  if (*cap > OPS_KEEP) {
    free(*b);
    *b = NULL;
    *cap = 0;
  }
}

static void ops_reset(frame *f) {
  keep_small(&f->ops, &f->opscap);
  f->nops = 0;
  f->raw = 0;
  f->marked = 0;
  keep_small(&f->undo, &f->undocap);
  f->nundo = 0;
  f->undoing = 0;
  f->isnew = 0;
}

/* A frame for a page that has no valid content yet, pending and zeroed;
 * raw: logged as a difference (else by the operation records the caller
 * gives it, pager_alloc_op). */
static JET_ERR new_page(pager *p, uint32_t pgno, uint8_t **page, int raw) {
  p->changes++;
  frame *f = lookup(p, pgno);
  int created = f == NULL;
  JET_ERR e = created ? frame_new(p, pgno, &f) : JET_errSuccess;
  if (e) return e;
  if ((e = make_pending(p, f, created, 0))) {
    if (created) frame_drop(p, f);   /* never leave a frame of garbage cached */
    return e;
  }
  memset(f->data, 0, p->psz);
  f->raw = raw;
  f->nops = 0;
  *page = f->data;
  return JET_errSuccess;
}

JET_ERR pager_format(pager *p) {
  uint8_t *sp;
  JET_ERR e = new_page(p, SPACE_PGNO, &sp, 1);
  if (e) return e;
  sp[16] = PAGE_SPACE;
  put32(sp + SPACE_NEXT, SPACE_PGNO + 1);
  put32(sp + SPACE_ROOT, 0);
  put32(sp + SPACE_FLAGS, SPACE_MARKED);
  return JET_errSuccess;
}

static JET_ERR check_space(pager *p, const uint8_t *sp) {
  uint32_t next = get32(sp + SPACE_NEXT), head = get32(sp + SPACE_FREE);
  if (page_type(sp) != PAGE_SPACE || next <= SPACE_PGNO || (head && (head <= SPACE_PGNO || head >= next)) ||
      get32(sp + SPACE_NFREE) >= next) {
    snprintf(p->detail, sizeof p->detail, "%s: page 2 is not a space page", os_path(p->file));
    return JET_errDatabaseCorrupted;
  }
  return JET_errSuccess;
}

static JET_ERR space_bad(pager *p, uint32_t pgno, const char *why) {
  snprintf(p->detail, sizeof p->detail, "%s: free list: page %u %s", os_path(p->file), (unsigned)pgno, why);
  return JET_errDatabaseCorrupted;
}

static uint32_t fl_cap(const pager *p) { return (p->psz - PAGE_HDR) / 4; }

/* Free-list page pgno, checked (type, entry count). */
static JET_ERR fl_page(pager *p, uint32_t pgno, int write, uint8_t **pg) {
  JET_ERR e = write ? pager_write(p, pgno, pg) : pager_read(p, pgno, (const uint8_t **)pg);
  if (e) return e;
  if (page_type(*pg) != PAGE_FREELIST || get32(*pg + FL_COUNT) > fl_cap(p)) return space_bad(p, pgno, "is not a free-list page");
  return JET_errSuccess;
}

/* Whether bytes 16.. of pg are zeros: a tree page freed (LR_FREEPAGE
 * leaves it so, type PAGE_FREE). */
static int freed_mark(const uint8_t *pg, uint32_t psz) {
  /* all zero iff the first is and each equals the next (memcmp's word-wide
   * compare: every reuse of a freed long-value page checks a whole page) */
  return pg[16] == 0 && memcmp(pg + 16, pg + 17, psz - 17) == 0;
}

/* Whether pg may be taken from the free list: only tree pages and long
 * values' pages marked free (LR_FREEPAGE: bytes 16.. zero) are ever freed,
 * and free-list pages hold them (alloc takes an empty one itself); a long
 * value's page as it was only when the space page's flags lack SPACE_MARKED
 * (a file whose free list began before such pages were marked).  The rule
 * of reuse_page and of pager_check_free (`ese check`). */
static int freeable(uint32_t space_flags, const uint8_t *pg, uint32_t psz) {
  int t = page_type(pg);
  if (t == PAGE_LVDATA || t == PAGE_LVDIR) return !(space_flags & SPACE_MARKED);
  return t == PAGE_FREELIST || (t == PAGE_FREE && freed_mark(pg, psz));
}

#define NOT_FREEABLE "is not a page that is ever freed (a page in use?)"

/* A page that held other content, taken for new content: pending with
 * its old content as the base (pager.h), then zeroed (a page marked free
 * is zeros from byte 16 on already: freeable checked it).  A page that is
 * not freeable (a tree page in use above all) is a damaged free list or a
 * caller's bug, refused before it is overwritten. */
static JET_ERR reuse_page(pager *p, const uint8_t *sp, uint32_t pgno, uint8_t **page, int raw) {
  frame *f = lookup(p, pgno);
  int marked = f && f->marked;
  JET_ERR e = raw ? pager_write(p, pgno, page) : pager_write_op(p, pgno, page, NULL, 0, NULL, 0);
  if (e) return e;
  if (!marked && !freeable(get32(sp + SPACE_FLAGS), *page, p->psz)) return space_bad(p, pgno, NOT_FREEABLE);
  memset(*page, 0, marked || page_type(*page) == PAGE_FREE ? 16 : p->psz);
  return JET_errSuccess;
}

static JET_ERR alloc(pager *p, uint32_t *pgno, uint8_t **page, int raw) {
  uint8_t *sp, *fl;
  JET_ERR e = pager_write(p, SPACE_PGNO, &sp);
  if (e == JET_errSuccess) e = check_space(p, sp);
  if (e) return e;
  uint32_t n = get32(sp + SPACE_NEXT), head = get32(sp + SPACE_FREE);
  if (head) {
    if ((e = fl_page(p, head, 1, &fl))) return e;
    uint32_t cnt = get32(fl + FL_COUNT), got = head;
    if (cnt) {
      got = get32(fl + PAGE_HDR + 4 * (cnt - 1));
      if (got <= SPACE_PGNO || got >= n || got == head) return space_bad(p, got, "is out of range");
      put32(fl + FL_COUNT, cnt - 1);
    } else {
      put32(sp + SPACE_FREE, get32(fl + FL_NEXT));
    }
    uint32_t nfree = get32(sp + SPACE_NFREE);
    if (nfree == 0) return space_bad(p, got, "is listed beyond the free count");
    put32(sp + SPACE_NFREE, nfree - 1);
    if ((e = reuse_page(p, sp, got, page, raw))) return e;
    if (nfree == 1) put32(sp + SPACE_FLAGS, get32(sp + SPACE_FLAGS) | SPACE_MARKED);   /* the list is empty */
    *pgno = got;
    return JET_errSuccess;
  }
  if (n == UINT32_MAX) return JET_errDiskFull;
  e = new_page(p, n, page, raw);
  if (e) return e;
  put32(sp + SPACE_NEXT, n + 1);
  *pgno = n;
  return JET_errSuccess;
}

JET_ERR pager_alloc(pager *p, uint32_t *pgno, uint8_t **page) { return alloc(p, pgno, page, 1); }
JET_ERR pager_alloc_op(pager *p, uint32_t *pgno, uint8_t **page) { return alloc(p, pgno, page, 0); }

JET_ERR pager_free(pager *p, uint32_t pgno) {
  uint8_t *sp, *fl;
  JET_ERR e = pager_write(p, SPACE_PGNO, &sp);
  if (e == JET_errSuccess) e = check_space(p, sp);
  if (e) return e;
  uint32_t head = get32(sp + SPACE_FREE);
  if (pgno <= SPACE_PGNO || pgno >= get32(sp + SPACE_NEXT) || pgno == head) return space_bad(p, pgno, "cannot be freed");
  if (get32(sp + SPACE_NFREE) == 0) put32(sp + SPACE_FLAGS, get32(sp + SPACE_FLAGS) | SPACE_MARKED);
  /* a change of this commit described by operation records: its last,
   * LR_FREEPAGE, marked the page free (zeros from byte 16) */
  frame *f = lookup(p, pgno);
  int by_record = f && f->pending && !f->raw && f->nops;
  if (by_record) f->marked = 1;
  if (head) {
    if ((e = fl_page(p, head, 1, &fl))) return e;
    uint32_t cnt = get32(fl + FL_COUNT);
    if (cnt < fl_cap(p)) {
      put32(fl + PAGE_HDR + 4 * cnt, pgno);
      put32(fl + FL_COUNT, cnt + 1);
      put32(sp + SPACE_NFREE, get32(sp + SPACE_NFREE) + 1);
      return JET_errSuccess;
    }
  }
  /* the first free-list page is full, or there is none: pgno becomes it,
   * unless this commit's change of pgno is described by operation records
   * (a tree page freed by LR_FREEPAGE): as a free-list page it would be
   * logged as its difference from the page before the commit, as large as
   * the records the commit removed from it; a new page at the end of the
   * file becomes the first free-list page instead, listing pgno. */
  if (by_record) {
    uint32_t n = get32(sp + SPACE_NEXT);
    if (n == UINT32_MAX) return JET_errDiskFull;
    if ((e = new_page(p, n, &fl, 1))) return e;
    put32(sp + SPACE_NEXT, n + 1);
    fl[16] = PAGE_FREELIST;
    put32(fl + FL_NEXT, head);
    put32(fl + PAGE_HDR, pgno);
    put32(fl + FL_COUNT, 1);
    put32(sp + SPACE_FREE, n);
    put32(sp + SPACE_NFREE, get32(sp + SPACE_NFREE) + 2);
    return JET_errSuccess;
  }
  if ((e = reuse_page(p, sp, pgno, &fl, 1))) return e;
  fl[16] = PAGE_FREELIST;
  put32(fl + FL_NEXT, head);
  put32(sp + SPACE_FREE, pgno);
  put32(sp + SPACE_NFREE, get32(sp + SPACE_NFREE) + 1);
  return JET_errSuccess;
}

static JET_ERR mark(pager *p, uint8_t *owned, uint32_t npages, uint32_t pgno) {
  if (pgno <= SPACE_PGNO || pgno >= npages) return space_bad(p, pgno, "is out of range");
  if (owned[pgno]) return space_bad(p, pgno, "is listed twice, or is in use");
  owned[pgno] = 1;
  return JET_errSuccess;
}

JET_ERR pager_check_free(pager *p, uint8_t *owned, uint32_t npages) {
  const uint8_t *sp;
  uint8_t *fl;
  JET_ERR e = pager_read(p, SPACE_PGNO, &sp);
  if (e == JET_errSuccess) e = check_space(p, sp);
  if (e) return e;
  uint32_t nfree = get32(sp + SPACE_NFREE), flags = get32(sp + SPACE_FLAGS), seen = 0, next;
  /* a copy of each free-list page: the entries are read (and the cache
   * trimmed) while it is walked */
  uint8_t *copy = malloc(p->psz);
  if (!copy) return JET_errOutOfMemory;
  for (uint32_t pg = get32(sp + SPACE_FREE); pg && e == JET_errSuccess; pg = next) {
    if ((e = mark(p, owned, npages, pg)) || (e = fl_page(p, pg, 0, &fl))) break;
    memcpy(copy, fl, p->psz);
    next = get32(copy + FL_NEXT);
    seen++;
    for (uint32_t i = 0; i < get32(copy + FL_COUNT) && e == JET_errSuccess; i++, seen++) {
      uint32_t q = get32(copy + PAGE_HDR + 4 * i);
      const uint8_t *qp;
      /* the next allocation that met it would refuse it (reuse_page) */
      if ((e = mark(p, owned, npages, q)) == JET_errSuccess && (e = pager_read(p, q, &qp)) == JET_errSuccess &&
          !freeable(flags, qp, p->psz))
        e = space_bad(p, q, NOT_FREEABLE);
      pager_trim_clean(p);
    }
  }
  free(copy);
  if (e == JET_errSuccess && seen != nfree) {
    snprintf(p->detail, sizeof p->detail, "%s: free list: %u pages listed, the space page counts %u",
             os_path(p->file), (unsigned)seen, (unsigned)nfree);
    e = JET_errDatabaseCorrupted;
  }
  return e;
}

/* A u32 field of the space page, checked. */
static JET_ERR space_field(pager *p, size_t off, uint32_t *v) {
  const uint8_t *sp;
  JET_ERR e = pager_read(p, SPACE_PGNO, &sp);
  if (e == JET_errSuccess) e = check_space(p, sp);
  if (e == JET_errSuccess) *v = get32(sp + off);
  return e;
}

JET_ERR pager_get_root(pager *p, uint32_t *root) { return space_field(p, SPACE_ROOT, root); }

JET_ERR pager_set_root(pager *p, uint32_t root) {
  uint8_t *sp;
  JET_ERR e = pager_write(p, SPACE_PGNO, &sp);
  if (e == JET_errSuccess) put32(sp + SPACE_ROOT, root);
  return e;
}

JET_ERR pager_page_count(pager *p, uint32_t *count) { return space_field(p, SPACE_NEXT, count); }

size_t pager_pending(pager *p, uint32_t **pgnos, uint8_t ***pages, const uint8_t ***bases) {
  if (p->npend > p->pend_outcap) {
    uint32_t *a = realloc(p->pend_pgnos, p->npend * sizeof *a);
    if (a) p->pend_pgnos = a;
    uint8_t **b = realloc(p->pend_pages, p->npend * sizeof *b);
    if (b) p->pend_pages = b;
    const uint8_t **c = realloc(p->pend_bases, p->npend * sizeof *c);
    if (c) p->pend_bases = c;
    if (!a || !b || !c) return (size_t)-1;
    p->pend_outcap = p->npend;
  }
  for (size_t i = 0; i < p->npend; i++) {
    frame *f = p->pend[i];
    p->pend_pgnos[i] = f->pgno;
    p->pend_pages[i] = f->data;
    /* a page logged by its records needs only pre's header (pager.h) */
    if (f->isnew) p->pend_bases[i] = NULL;
    else if (!f->raw && f->nops) p->pend_bases[i] = f->pre_hdr;
    else if (pre_whole(p, f)) return (size_t)-1;
    else p->pend_bases[i] = f->pre;
  }
  *pgnos = p->pend_pgnos;
  *pages = p->pend_pages;
  *bases = p->pend_bases;
  return p->npend;
}

void pager_commit_pending(pager *p, uint64_t need_lsn) {
  for (size_t i = 0; i < p->npend; i++) {
    frame *f = p->pend[i];
    f->pending = 0;
    f->dirty = 1;
    f->ver++;
    f->need_lsn = need_lsn;
    buf_put(p, f->pre);
    f->pre = NULL;
    ops_reset(f);
  }
  p->npend = 0;
}

void pager_discard_pending(pager *p) {
  p->changes++;
  for (size_t i = 0; i < p->npend; i++) {
    frame *f = p->pend[i];
    f->pending = 0;
    if (f->undoing) {
      undo_onto(f, f->data);
      /* the header too: a commit that fails after it stamped the page
       * (bytes 4..15, not in the undo records) must leave its old dbtime,
       * which the page's next records name and its checksum covers */
      memcpy(f->data, f->pre_hdr, PAGE_HDR);
      ops_reset(f);
    } else if (f->pre) {
      ops_reset(f);
      memcpy(f->data, f->pre, p->psz);
      buf_put(p, f->pre);
      f->pre = NULL;
    } else {
      assert(f->isnew);
      frame_drop(p, f);    /* a page new in this operation: forget it */
    }
  }
  p->npend = 0;
}

static int by_pgno(const void *a, const void *b) {
  uint32_t x = (*(frame *const *)a)->pgno, y = (*(frame *const *)b)->pgno;
  return x < y ? -1 : x > y;
}

/* Writes n sealed pages (pgnos ascending) in place, chunk by chunk, each
 * to the ring first (torn-write rule, pager.h), the ring's writers' lock
 * held across a chunk's ring write and its in-place writes; *done: the
 * pages written in place (a prefix).  Needs no instance lock. */
static JET_ERR write_pages(pager *p, const uint32_t *pgnos, const uint8_t *const *pages, size_t n, size_t *done) {
  size_t chunk = p->hooks.ring_write ? p->hooks.ring_batch : n;
  JET_ERR e = JET_errSuccess;
  *done = 0;
  assert(chunk >= 1 || n == 0);
  for (size_t at = 0; at < n && e == JET_errSuccess; at += chunk) {
    size_t m = n - at < chunk ? n - at : chunk;
    if (p->hooks.ring_mu) pthread_mutex_lock(p->hooks.ring_mu);
    if (p->hooks.ring_write) e = p->hooks.ring_write(p->hooks.ring_ud, pgnos + at, pages + at, m);
    for (size_t i = at; i < at + m && e == JET_errSuccess; i++) {
      for (int again = 1;; again = 0) {   /* once more after free_room freed some */
        pthread_rwlock_wrlock(&p->io);
        e = os_pwrite(p->file, pages[i], p->psz, (uint64_t)pgnos[i] * p->psz);
        pthread_rwlock_unlock(&p->io);
        if (e != JET_errDiskFull || !again || !p->hooks.free_room || !p->hooks.free_room(p->hooks.ud)) break;
      }
      if (e == JET_errSuccess) (*done)++;
    }
    if (p->hooks.ring_mu) pthread_mutex_unlock(p->hooks.ring_mu);
  }
  return e;
}

/* Writes the given dirty frames in page order after making the log durable
 * to the highest need_lsn among them (write_pages); each one written in
 * place is clean. */
static JET_ERR write_frames(pager *p, frame **v, size_t n) {
  if (n == 0) return JET_errSuccess;
  uint64_t need = 0;
  for (size_t i = 0; i < n; i++) {
    assert(!v[i]->pinned);
    if (v[i]->need_lsn > need) need = v[i]->need_lsn;
  }
  JET_ERR e = p->hooks.flush_log ? p->hooks.flush_log(p->hooks.ud, need) : JET_errSuccess;
  if (e) return e;
  qsort(v, n, sizeof *v, by_pgno);
  uint32_t *pgnos = malloc(n * sizeof *pgnos);
  const uint8_t **pages = malloc(n * sizeof *pages);
  size_t done = 0;
  if (!pgnos || !pages) e = JET_errOutOfMemory;
  for (size_t i = 0; i < n && e == JET_errSuccess; i++) {
    page_checksum(v[i]->data, p->psz);   /* checksum rule (pager.h) */
    pgnos[i] = v[i]->pgno;
    pages[i] = v[i]->data;
  }
  if (e == JET_errSuccess) e = write_pages(p, pgnos, pages, n, &done);
  for (size_t i = 0; i < done; i++) v[i]->dirty = 0;
  free(pgnos);
  free(pages);
  return e;
}

JET_ERR pager_flush_all(pager *p) {
  assert(!p->wb_busy && "pager_flush_all: a checkpoint batch in flight");
  size_t n = 0;
  for (frame *f = p->lru.next; f != &p->lru; f = f->next) n += f->dirty && !f->pending;
  if (n) {
    frame **v = malloc(n * sizeof *v);
    if (!v) return JET_errOutOfMemory;
    n = 0;
    for (frame *f = p->lru.next; f != &p->lru; f = f->next)
      if (f->dirty && !f->pending) v[n++] = f;
    JET_ERR e = write_frames(p, v, n);
    free(v);
    if (e) return e;
  }
  return os_sync(p->file);
}

static int by_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

void pager_ckpt_clear(pager *p) {
  free(p->ck);
  p->ck = NULL;
  p->ckn = p->ckat = 0;
}

JET_ERR pager_ckpt_mark(pager *p) {
  pager_ckpt_clear(p);
  size_t n = 0;
  for (frame *f = p->lru.next; f != &p->lru; f = f->next) n += f->dirty && !f->pending;
  if (n == 0) return JET_errSuccess;
  if (!(p->ck = malloc(n * sizeof *p->ck))) return JET_errOutOfMemory;
  for (frame *f = p->lru.next; f != &p->lru; f = f->next)
    if (f->dirty && !f->pending) p->ck[p->ckn++] = f->pgno;
  qsort(p->ck, p->ckn, sizeof *p->ck, by_u32);
  return JET_errSuccess;
}

size_t pager_ckpt_left(const pager *p) { return p->ckn - p->ckat; }

size_t pager_ckpt_batch(const pager *p) { return p->hooks.ring_write ? p->hooks.ring_batch : 64; }

/* The listed pages still dirty, up to one batch, in page order: each was
 * dirty at the mark and has not been written since (a write clears dirty
 * only after its in-place write; a page dirtied again after the mark is
 * written with its newer content, which is as good).  No page is pending
 * here: an operation's pages are committed or discarded under the lock
 * hold it began in, and the caller holds the lock. */
JET_ERR pager_ckpt_copy(pager *p, size_t *n) {
  assert(!p->wb_busy && "pager_ckpt_copy: a batch in flight already");
  size_t max = pager_ckpt_batch(p), m = 0;
  uint64_t need = 0;
  *n = 0;
  if (!p->wb) {
    p->wb = malloc(max * sizeof *p->wb);
    p->wb_ver = malloc(max * sizeof *p->wb_ver);
    p->wb_pgno = malloc(max * sizeof *p->wb_pgno);
    p->wb_page = malloc(max * sizeof *p->wb_page);
    p->wb_img = malloc(max * (size_t)p->psz);
    if (!p->wb || !p->wb_ver || !p->wb_pgno || !p->wb_page || !p->wb_img) {
      free(p->wb), free(p->wb_ver), free(p->wb_pgno), free(p->wb_page), free(p->wb_img);
      p->wb = NULL, p->wb_ver = NULL, p->wb_pgno = NULL, p->wb_page = NULL, p->wb_img = NULL;
      return JET_errOutOfMemory;
    }
  }
  p->wb_from = p->ckat;
  while (p->ckat < p->ckn && m < max) {
    frame *f = lookup(p, p->ck[p->ckat++]);
    assert(!f || (!f->pending && !f->pinned));
    if (!f || !f->dirty || f->pending) continue;
    uint8_t *img = p->wb_img + m * (size_t)p->psz;
    page_checksum(f->data, p->psz);   /* checksum rule (pager.h): in the frame too, which is clean if unchanged */
    memcpy(img, f->data, p->psz);
    f->pinned = 1;
    p->wb[m] = f;
    p->wb_ver[m] = f->ver;
    p->wb_pgno[m] = f->pgno;
    p->wb_page[m] = img;
    if (f->need_lsn > need) need = f->need_lsn;
    m++;
  }
  p->wbn = m;
  p->wb_need = need;
  p->wb_busy = m > 0;
  if (m == 0 && p->ckat == p->ckn) pager_ckpt_clear(p);
  *n = m;
  return JET_errSuccess;
}

JET_ERR pager_ckpt_put(pager *p) {
  assert(p->wb_busy);
  JET_ERR e = p->hooks.flush_log ? p->hooks.flush_log(p->hooks.ud, p->wb_need) : JET_errSuccess;
  size_t done = 0, m = p->wbn;
  if (e == JET_errSuccess) e = write_pages(p, p->wb_pgno, p->wb_page, m, &done);
  /* the batch's in-place pages go to the disk now (page order): the
   * fdatasync that ends the checkpoint, or the ring's when it wraps, then
   * finds little left to wait for */
  if (e == JET_errSuccess)
    os_writeback(p->file, (uint64_t)p->wb_pgno[0] * p->psz, (uint64_t)(p->wb_pgno[m - 1] - p->wb_pgno[0] + 1) * p->psz);
  return e;
}

void pager_ckpt_done(pager *p, JET_ERR put) {
  assert(p->wb_busy);
  for (size_t i = 0; i < p->wbn; i++) {
    frame *f = p->wb[i];
    f->pinned = 0;
    if (put == JET_errSuccess && f->ver == p->wb_ver[i]) f->dirty = 0;
  }
  p->wbn = 0;
  p->wb_busy = 0;
  if (put) p->ckat = p->wb_from;   /* listed again: the pages are still dirty */
  else if (p->ckat == p->ckn) pager_ckpt_clear(p);
}

void pager_trim_clean(pager *p) {
  for (frame *f = p->lru.prev; f != &p->lru && p->nframes > p->cap;) {
    frame *prev = f->prev;
    if (!f->pending && !f->dirty) frame_drop(p, f);
    f = prev;
  }
}

JET_ERR pager_trim(pager *p) {
  if (p->nframes <= p->cap) return JET_errSuccess;
  size_t excess = p->nframes - p->cap + p->cap / 8;   /* evict in batches */
  frame **v = malloc(excess * sizeof *v);
  if (!v) return JET_errOutOfMemory;
  size_t n = 0, ndirty = 0;
  for (frame *f = p->lru.prev; f != &p->lru && n < excess; f = f->prev)
    if (!f->pending && !f->pinned) v[n++] = f;
  /* the ring's writers' lock held elsewhere: a checkpoint's batch in
   * flight (pager.h); no dirty page is written now */
  int ring_busy = p->hooks.ring_mu && pthread_mutex_trylock(p->hooks.ring_mu) != 0;
  if (p->hooks.ring_mu && !ring_busy) pthread_mutex_unlock(p->hooks.ring_mu);
  for (size_t i = 0; i < n && !ring_busy; i++)
    if (v[i]->dirty) v[ndirty++] = v[i];
  /* v[0..ndirty) are dirty victims; clean ones are dropped below either way */
  JET_ERR e = write_frames(p, v, ndirty);
  if (e == JET_errSuccess) {
    frame *f = p->lru.prev;
    while (f != &p->lru && p->nframes > p->cap) {
      frame *prev = f->prev;
      if (!f->pending && !f->dirty) frame_drop(p, f);
      f = prev;
    }
  }
  free(v);
  return e;
}

JET_ERR pager_read_raw(pager *p, esfile *via, uint32_t first_pgno, uint32_t n, uint8_t *buf) {
  size_t len = (size_t)n * p->psz, got;
  pthread_rwlock_rdlock(&p->io);
  JET_ERR e = os_pread(via ? via : p->file, buf, len, (uint64_t)first_pgno * p->psz, &got);
  pthread_rwlock_unlock(&p->io);
  if (e == JET_errSuccess && got < len) memset(buf + got, 0, len - got);
  return e;
}

int pager_copy_cached(pager *p, uint32_t pgno, uint8_t *dst) {
  frame *f = lookup(p, pgno);
  if (!f || f->pending) return 0;
  memcpy(dst, f->data, p->psz);
  if (f->dirty) page_checksum(dst, p->psz);   /* checksum rule (pager.h): a clean frame's is current */
  return 1;
}
