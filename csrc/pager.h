/*
 * pager.h -- the page cache of one database file.
 *
 * Callers hold the instance lock for every pager call but pager_read_raw.
 * Page pointers handed out stay valid until the next pager_trim(): the
 * pager never evicts during an operation (but a pointer to a
 * page from before pager_write_op_over reads the page before the change:
 * that call gives the page a new buffer).  Pages changed by the operation
 * in progress (pager_write, pager_alloc) are "pending": they are neither
 * evicted nor flushed until pager_pending() hands them to the commit, which
 * logs their images; pager_discard_pending() restores their content from
 * before the operation.  Pages 0 and 1 (the database header) never pass
 * through the pager.
 *
 * WAL rule: a dirty page is written to the file only after the log is
 * durable up to the commit record of its last change (the pager calls the
 * flush_log hook): need_lsn, kept in memory; the page itself carries its
 * dbtime (page.h), not an lsn.
 *
 * Checksum rule: a committed page is stamped with its number and dbtime
 * (page.h page_stamp) by the commit, but its checksum is computed only
 * when the page leaves the cache: by the write-back (write_frames, before
 * the ring and the in-place write) and by pager_copy_cached (into the
 * copy).  So a frame's checksum is current when it is clean (read and
 * verified, or written since its last change) and stale while it is dirty
 * or pending; nothing reads a cached frame's bytes 0 .. 3.  A page changed
 * by k commits between two write-backs costs one checksum, not k.
 *
 * Torn-write rule: every in-place page write (eviction, pager_flush_all)
 * goes first to the ring_write hook (the double-write ring, dw.h), in
 * chunks of at most ring_batch pages; a chunk's pages are written in place
 * only after ring_write returned for it (the ring is synced), so a page
 * torn in place always has an intact copy there.
 */
#ifndef ESE_PAGER_H
#define ESE_PAGER_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "ese.h"
#include "os.h"

typedef struct pager pager;

typedef struct pager_hooks {
  /* Makes the log durable up to lsn; called before a dirty page is written. */
  JET_ERR (*flush_log)(void *ud, uint64_t lsn);
  void *ud;
  /* Writes the sealed pages pgnos[i] / pages[i], i < n (n <= ring_batch,
   * ascending page numbers) to the double-write ring and makes them
   * durable there; NULL: no ring (pages go in place directly). */
  JET_ERR (*ring_write)(void *ring_ud, const uint32_t *pgnos, const uint8_t *const *pages, size_t n);
  void *ring_ud;
  size_t ring_batch;          /* at least 1 when ring_write is set */
  /* The ring's writers' lock (dw.h dw_mutex), or NULL: held across each
   * chunk's ring_write and the chunk's in-place writes, so that batches of
   * several pagers and threads never interleave there. */
  pthread_mutex_t *ring_mu;
  /* Frees room the instance holds for later (the log's spares,
   * log_release_spares), called with ud when a page's write in place
   * meets JET_errDiskFull (the file growing); nonzero: some was freed, and
   * the write is tried once more.  NULL: none. */
  int (*free_room)(void *ud);
} pager_hooks;

/* Opens the cache over an open database file of page_size pages. */
JET_ERR pager_open(esfile *file, uint32_t page_size, size_t cache_pages, pager_hooks hooks, pager **out);
void pager_close(pager *p);
uint32_t pager_page_size(const pager *p);
esfile *pager_file(pager *p);
/* A counter that changes before any page's content changes (every call that
 * hands out a writable page, and pager_discard_pending), unique to this
 * pager: while it reads the same, every page read earlier is unchanged.
 * Positions kept across calls (btree.h's bt_hint) are trusted only then. */
uint64_t pager_changes(const pager *p);

/* The page, verified (checksum and number: JET_errReadVerifyFailure, with
 * the detail in pager_error_detail).  Read-only use. */
JET_ERR pager_read(pager *p, uint32_t pgno, const uint8_t **page);
/* The page, made pending so the caller may change it.  The change is not
 * described by operation records: the page is logged as a difference (its
 * operation records of this commit, if any, are dropped). */
JET_ERR pager_write(pager *p, uint32_t pgno, uint8_t **page);
/* The page, made pending for one change the caller describes by an
 * operation record (pageop.h's entry: a then b, copied): appended to the
 * page's records of this commit, unless the page is logged as a difference
 * anyway (pager_write, pager_alloc).  The caller then makes exactly that
 * change, or, if it cannot, calls pager_write before changing anything. */
JET_ERR pager_write_op(pager *p, uint32_t pgno, uint8_t **page, const void *a, size_t alen, const void *b,
                       size_t blen);
/* pager_write_op (a record given) for a change, made next, that rewrites
 * every byte from keep on (PAGE_HDR <= keep <= the page size) whatever
 * they held: a long value's page marked free (lv.c, LR_FREEPAGE).  A page
 * not pending yet is not copied: its buffer becomes the page before (what
 * the commit diffs against, or the discard restores) and *page is a fresh
 * buffer holding the page's bytes [0, keep), the rest undefined until the
 * change.  The caller checks that it can make the change before the call
 * (on pager_read's page), and holds no pointer to the page from before
 * the call (it would read the page before).  A page pending already is as
 * pager_write_op's. */
JET_ERR pager_write_op_over(pager *p, uint32_t pgno, uint8_t **page, size_t keep, const void *a, size_t alen,
                            const void *b, size_t blen);
/* The page, made pending for one change the caller makes next that
 * changes no byte outside the ranges r[i] = {offset, length}, i < n
 * (pageop.h pageop_touches); the caller records it afterwards with
 * pager_write_op (a record: appended, nothing else).  While every change
 * of the operation to a page comes this way, the pager keeps the bytes of
 * those ranges before each change (an undo), not a copy of the whole page:
 * a bulk commit's insert costs the bytes it moves, not 8 KiB.  n == 0 (any
 * byte may change) or any other change of the page (pager_write,
 * pager_write_op without a record) makes the whole copy first, from the
 * page and its undo.  A wrong range would make the page before wrong:
 * ESE_VERIFY_REPLAY checks it at every commit (database.c). */
JET_ERR pager_write_ranges(pager *p, uint32_t pgno, uint8_t **page, const uint16_t (*r)[2], size_t n);
/* A zeroed page, pending: a page of the free list when it has one, else a
 * new page at the end of the file (number from the space page).
 *
 * Free list (database format 3).  The space page holds the first free-list
 * page and the count of free pages; a free-list page (PAGE_FREELIST)
 * holds u32 entries at 20, u32 next free-list page at 24 and the free page
 * numbers from 32 on.  pager_alloc takes the last entry of the first page,
 * or, when it has none, that page itself; pager_free appends to the first
 * page, or, when it is full (or there is none), makes the freed page the
 * new first page (a page freed by an operation record of this commit,
 * LR_FREEPAGE: a new page at the end of the file instead, listing it).
 * A page taken must be a free-list page or a page marked free (bytes 16..
 * zero: LR_FREEPAGE marks tree pages and long values' pages alike), or,
 * while the space page's flag SPACE_MARKED (pager.c) is unset (a file
 * whose free list began before long values' pages were marked), a long
 * value's page as it was; else JET_errDatabaseCorrupted, the page
 * unchanged.  These are page changes like any other (pending, logged
 * as differences, replayed, through the ring).  A reused page is taken
 * with its old content as its base (pager_write, then zeroed), so its
 * difference names the dbtime it carries on disk and replay needs no
 * format record.
 *
 * Invariant (why a page freed by commit C may be reused at once, by C
 * itself or any later commit, lazy ones included): (1) no change of C or
 * of a later commit reaches the database file before the log holds C's
 * commit record durably: pending pages are never written, committed pages
 * only after the log is durable to their commit record (WAL rule), and
 * the log is durable in order; so a crash before C is durable finds the
 * freed page's old content on disk, and the free list from before C,
 * which does not list it; (2) no reader keeps a page across calls: values
 * are copied out under the instance lock (bt_seek returns whole values),
 * so a reused page is never read as the value it held; (3) replay rebuilds
 * a reused page from its difference against the old content its base
 * dbtime names, and the double-write ring protects its in-place write like
 * any page's. */
JET_ERR pager_alloc(pager *p, uint32_t *pgno, uint8_t **page);
/* pager_alloc for a page the caller formats by operation records
 * (pageop.h PO_NEWPAGE first, then any; pager_write_op): logged as them,
 * each naming the dbtime of the page before (0 for a page new at the end
 * of the file), unless the commit changed the page otherwise too (a page
 * freed and reused in one commit: then it is a difference). */
JET_ERR pager_alloc_op(pager *p, uint32_t *pgno, uint8_t **page);
/* Puts page pgno (3 .. pages in use - 1, not free already: the caller's
 * rule) on the free list.  A page whose change in this operation is
 * described by operation records must have been marked free by the last
 * of them (LR_FREEPAGE, pageop.h: zeros from byte 16): if the operation
 * takes it again before anything else fetches it, the reuse trusts that
 * mark and does not read the page. */
JET_ERR pager_free(pager *p, uint32_t pgno);
/* The free list, checked: marks each free-list page and each entry in
 * owned[pgno] (fault: a page already marked, out of range, a bad page, an
 * entry the free list's reuse would refuse (pager_alloc's rule above), or
 * a count other than the space page's): JET_errDatabaseCorrupted with the
 * detail in pager_error_detail.  Reads every entry (the cache trimmed of
 * clean pages as it goes: pager_trim_clean).  For `ese check`. */
JET_ERR pager_check_free(pager *p, uint8_t *owned, uint32_t npages);
/* The space page (page 2): next free page number and the catalog root.
 * pager_format writes a fresh space page (pending) into a new file. */
JET_ERR pager_format(pager *p);
JET_ERR pager_get_root(pager *p, uint32_t *root);
JET_ERR pager_set_root(pager *p, uint32_t root);

/* The pending pages, in arrays the pager owns (valid until the next call
 * into the pager).  bases[i] is the page as it was before the operation
 * (it carries the dbtime a difference from it names), NULL for a page new
 * in this operation (logged as a difference from an all-zero page, dbtime
 * 0).  No page is ever logged whole: a page torn in place is repaired from
 * the double-write ring (dw.h), and every page on disk is at least as new
 * as the last checkpoint, so replay from there meets each page's chain of
 * differences at a link it holds.  The caller stamps the pages with the
 * commit's dbtime for the database (page.h page_stamp; the checksum rule
 * above) and logs them, then calls
 * pager_commit_pending(p, need_lsn): they become committed-dirty and are
 * not written before the log is durable up to need_lsn (the commit
 * record). */
size_t pager_pending(pager *p, uint32_t **pgnos, uint8_t ***pages, const uint8_t ***bases);
void pager_commit_pending(pager *p, uint64_t need_lsn);
/* Pending page i (0 .. as pager_pending numbers them): the length of its
 * operation records (*ops), to be logged instead of the page, or 0 when
 * the page is logged as a difference; *pre: the page before the commit
 * (valid until pager_commit_pending / pager_discard_pending), NULL for a
 * page new at the end of the file (its records apply to an all-zero page
 * of dbtime 0). */
size_t pager_pending_ops(pager *p, size_t i, const uint8_t **ops, const uint8_t **pre);
/* *pre of pager_pending_ops (and bases[i] of pager_pending for a page
 * pager_pending_ops gives records for) holds the first PAGE_HDR bytes of
 * the page before only (its dbtime; the page may be kept as an undo,
 * pager_write_ranges).  This gives pending page i's page before whole in
 * *pre (NULL for a page new in the operation), for a difference from it
 * or ESE_VERIFY_REPLAY; JET_errOutOfMemory when the copy cannot be made. */
JET_ERR pager_pending_pre(pager *p, size_t i, const uint8_t **pre);
void pager_discard_pending(pager *p);

/* Writes every committed dirty page (log flushed first, through the ring),
 * then fsyncs. */
JET_ERR pager_flush_all(pager *p);
/* A checkpoint in slices (checkpoint.c's ckpt_start / ckpt_toward):
 * pager_ckpt_mark lists the pages dirty now (replacing an earlier list:
 * the new one holds every page of the old that is still dirty);
 * pager_ckpt_left: listed pages not yet looked at (0: every page dirty at
 * the mark has been written since, by a slice or an eviction).  A page
 * dirtied again after its slice stays dirty (its new change is logged
 * after the mark).  pager_ckpt_clear drops the list (a full flush made it
 * moot).
 *
 * A batch is written in three calls, so that its I/O runs without the
 * instance lock (commits change the cache meanwhile):
 *   pager_ckpt_copy (lock held): the listed pages still dirty, at most
 *     pager_ckpt_batch of them (one double-write ring batch: a slice never
 *     splits a batch), in page order, sealed and copied (*n of them; 0:
 *     none was dirty, nothing to put), and their frames pinned: until
 *     pager_ckpt_done no eviction writes or drops them (pager_trim passes
 *     them by), so no older copy of a page can land in place after a newer
 *     one; the cursor moves past them.
 *   pager_ckpt_put (no instance lock needed; nothing else of this pager is
 *     called from this thread meanwhile): the log made durable to their
 *     changes (WAL), the copies through the ring and in place.
 *   pager_ckpt_done (lock held) with put's result: the pins dropped; a
 *     page whose frame no commit changed since its copy becomes clean
 *     (written), one changed meanwhile stays dirty (its change is logged
 *     after the copy).  On an error every page stays dirty and listed
 *     again.
 * One batch at a time per pager (asserted); pager_flush_all only with none
 * in flight (asserted: checkpoint.c waits for it).
 * pager_ckpt_write: the three in one lock hold. */
JET_ERR pager_ckpt_mark(pager *p);
JET_ERR pager_ckpt_copy(pager *p, size_t *n);
JET_ERR pager_ckpt_put(pager *p);
void pager_ckpt_done(pager *p, JET_ERR put);
JET_ERR pager_ckpt_write(pager *p, size_t *written);
size_t pager_ckpt_left(const pager *p);
size_t pager_ckpt_batch(const pager *p);
void pager_ckpt_clear(pager *p);
/* Evicts down to the cache size (writing dirty pages as needed).  While
 * the ring's writers' lock is held by another thread (a checkpoint's batch
 * in flight) it drops clean pages only and writes none: a commit never
 * waits for a checkpoint's I/O (the cache may stay above its size until
 * the next trim). */
JET_ERR pager_trim(pager *p);
/* Evicts clean pages (no I/O) down to the cache size: after a read, so
 * that reads (long values above all) never grow the cache past its size
 * until the next commit.  The caller holds no page pointer. */
void pager_trim_clean(pager *p);
/* Pages in use, as the space page counts them. */
JET_ERR pager_page_count(pager *p, uint32_t *count);
/* Backup readers: reads n whole pages from the file, through via (another
 * open file of the same path) or, when via is NULL, the pager's own;
 * excluded from page writes of the file (never a half-written page).
 * Needs no instance lock. */
JET_ERR pager_read_raw(pager *p, esfile *via, uint32_t first_pgno, uint32_t n, uint8_t *buf);
/* Backup readers, with the instance lock held: copies the cached image of
 * pgno (the newest committed one) into dst, sealed (its checksum computed
 * in the copy when the frame is dirty); 0 when not cached. */
int pager_copy_cached(pager *p, uint32_t pgno, uint8_t *dst);
const char *pager_error_detail(pager *p);

#endif
