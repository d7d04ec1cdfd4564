/* redo.c -- replay of log records onto database files (see redo.h). */
#include "redo.h"
#include "page.h"
#include "pageop.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The replay cache holds this many bytes of pages (redo_cfg.cache_pages
 * overrides) before it writes its changed pages back: a restore step
 * (about 3 MiB of log) writes at most this much besides. */
#define REDO_CACHE_BYTES (8u << 20)
/* Soft recovery with a ring: a write-back in the middle of replay (the
 * cache full, a detach record) that finds no place in the ring (its space
 * holds images of a database replay has not repaired yet) keeps the pages
 * in the cache instead of writing them in place unprotected, up to this
 * many times the cache's size; past it they go in place (as without a
 * ring), so that a recovery never fails for memory. */
#define REDO_DEFER_FACTOR 16u

enum { SKIP_UNCOVERED = 1, SKIP_OTHER = 2 };

/* A database file replay has open. */
typedef struct redo_db {
  esfile *file;
  char *path;
  int created, wrote;     /* created by a replayed LR_CREATEDB; a commit wrote to it */
  uint8_t sig[16];        /* its header's database signature (ring images) */
  uint64_t dbtime_max;    /* the highest dbtime a replayed commit gave it */
  /* soft recovery: detached at generation end_gen while the cache still
   * held pages of it that the ring had no place for (close_db); kept open,
   * named by no id, and finished by redo_finish (or when a new database is
   * created under its name); 0: attached */
  uint32_t end_gen;
  /* how its last attachment ended (the next LR_ATTACH of the file is
   * compared with it: check_point): END_NONE still attached; END_DETACH a
   * replayed LR_DETACH made the clean point pt; END_INIT a new run began at
   * init_lsn (a recovery's end made it clean before, at no record of its
   * own); seen_lsn: the clean point its last attachment recorded, or its
   * last commit replayed since (an attach alone changes nothing).
   * pointed: its header has a clean point for certain (its last LR_ATTACH
   * recorded one, a commit followed an LR_ATTACH of LOG_FEATURE_DBPOINT,
   * whose header write it follows, or an LR_DETACH made one), so a later
   * LR_ATTACH that records none (0: a format 3 file) attached an older
   * copy; dbpoint_log: its last LR_ATTACH was of LOG_FEATURE_DBPOINT.
   * copy_attach: a restore's copy was streamed while attached by the
   * LR_ATTACH there (its header's attach_lsn): it holds the result of every
   * attachment up to it */
  int ended, pointed, dbpoint_log;
  dbpoint pt;
  lsn_t init_lsn, seen_lsn, copy_attach;
  struct redo_db *next;
} redo_db;

enum { END_NONE, END_DETACH, END_INIT };

/* A page of the replay cache: the page as replay has it (read from its
 * file, then changed by applied commits), dirty until written back.  While
 * a commit is applied, its result is staged in spare (staged = 1): the
 * commit's records are checked and applied there, and only when every
 * record of the commit passed do the staged pages become the frames'
 * pages.  So a refused commit changes no page, in the cache or on disk. */
typedef struct rframe {
  struct redo_db *d;
  uint32_t pgno;
  int dirty, staged;
  uint8_t *page, *spare;
} rframe;

typedef struct redo_page {
  uint32_t dbid, pgno;
  uint8_t *image;         /* a whole page, or the runs of a difference */
  size_t len;
  int diff;
  uint64_t base;          /* a difference or an operation: the dbtime of the page it applies to */
  int op;                 /* an operation record: its type (LR_INSERT ..), else 0; image holds its body */
  unsigned slot;          /* an operation record's slot */
} redo_page;

struct redo {
  redo_cfg cfg;
  redo_db *files;         /* every database file open (a list) */
  redo_db *db[ESE_MAX_DB + 1];   /* the file each id names now, or NULL */
  /* the id's records are not applied: SKIP_UNCOVERED, a database the
   * restore does not cover (dropped); SKIP_OTHER, the file there is
   * another database (its signature is not the log's): a commit that
   * writes to it fails (JET_errBadDbSignature), nothing else */
  uint8_t skip[ESE_MAX_DB + 1];
  uint32_t tx_other;      /* an id of SKIP_OTHER the transaction being read writes, or 0 */
  redo_page *pages;       /* images of the transaction being read */
  size_t npages, cap;
  uint64_t txid;
  uint32_t group_records; /* page records of txid read so far, skipped ones too */
  uint64_t max_txid;      /* the highest transaction id met */
  uint64_t last_commit_us;/* time of the last commit applied (or skipped before apply_from) */
  /* the last record replayed (a page record once its commit is): the
   * clean point of a replay's end; commit_lsn: the last commit applied,
   * where a restore stopped at a point in time cuts its log after */
  lsn_t last_lsn, commit_lsn;
  int stopped;            /* a commit later than cfg.stop_after_us was met */
  /* the replay cache: frames [0, nfr) of fr (each keeps its buffers when
   * the cache is emptied), found through hash (open addressing: frame
   * index + 1, 0 empty; hcap a power of two, at least twice frcap) */
  rframe *fr;
  size_t nfr, frcap;
  uint32_t *hash;
  size_t hcap;
  size_t cache_max;       /* frames held before a commit writes them back */
  size_t ndirty;          /* frames dirty (changed since read or last written back) */
  size_t defer_at;        /* after a write-back kept pages (cache_flush): the
                           * next is tried once the cache holds this many */
  size_t *staged;         /* frames staged by the commit being applied */
  size_t nstaged;
  /* cfg.dw's sync_data hook and ud while replay holds the ring (swapped
   * back by redo_finish); hooked: replay's hook is in */
  JET_ERR (*old_sync)(void *);
  void *old_ud;
  int hooked;
  /* redo_finish_step: where the end of a successful replay is (FIN_NONE
   * until its first call; only forward, asserted in fin_to); the dirty
   * frames being written back (wb[wb_at..nwb), sorted), and whether the
   * head of files was synced already */
  int fin;
  rframe **wb;
  size_t nwb, wb_at;
  int head_synced;
};

/* The end of a successful replay, step by step (redo_finish_step):
 * FIN_NONE -> FIN_WRITEBACK (the cache written back, a slice a step) ->
 * FIN_CLOSE (each file synced, then its header fixed, a step each) ->
 * FIN_DONE.  No record is applied once it began. */
enum { FIN_NONE, FIN_WRITEBACK, FIN_CLOSE, FIN_DONE };

static void fin_to(redo *r, int to) {
  assert(to == r->fin + 1);
  r->fin = to;
}

static void say(redo *r, const char *what, const char *path) {
  if (r->cfg.detail) snprintf(r->cfg.detail, r->cfg.detail_cap, "%s %s", what, path);
}

/* The ring's sync_data hook during replay: every database replay has open
 * made durable (one it closed was synced then). */
static JET_ERR sync_open(void *ud) {
  redo *r = ud;
  for (redo_db *d = r->files; d; d = d->next) {
    JET_ERR e = os_sync(d->file);
    if (e) {
      say(r, "replay could not sync", d->path);
      return e;
    }
  }
  return JET_errSuccess;
}


int redo_sig_known(const uint8_t sig[16]) {
  static const uint8_t none[16];
  return memcmp(sig, none, 16) != 0;
}

static void clean_header(dbheader *h, uint32_t gen) {
  h->state = DB_CLEAN;
  h->gen_max = gen;
}

JET_ERR redo_new(const redo_cfg *cfg, redo **out) {
  redo *r = calloc(1, sizeof *r);
  if (!r) return JET_errOutOfMemory;
  r->cfg = *cfg;
  r->last_lsn = r->commit_lsn = cfg->start_lsn;   /* a recovery that replays nothing ends at its checkpoint */
  if (!r->cfg.fix) r->cfg.fix = clean_header;
  r->cache_max = cfg->cache_pages ? cfg->cache_pages : REDO_CACHE_BYTES / cfg->page_size;
  if (r->cache_max < 1) r->cache_max = 1;
  if (r->cfg.dw) {
    r->old_sync = sync_open;
    r->old_ud = r;
    dw_swap_sync_data(r->cfg.dw, &r->old_sync, &r->old_ud);
    r->hooked = 1;
  }
  *out = r;
  return JET_errSuccess;
}

static void drop_pages(redo *r) {
  for (size_t i = 0; i < r->npages; i++) free(r->pages[i].image);
  r->npages = 0;
}

/* ---- the replay cache ---------------------------------------------------- */

static size_t hash_of(const redo_db *d, uint32_t pgno, size_t hcap) {
  uint64_t h = ((uint64_t)(uintptr_t)d >> 4) * 0x9E3779B97F4A7C15ull ^ (uint64_t)pgno * 0xC2B2AE3D27D4EB4Full;
  return (size_t)(h ^ (h >> 29)) & (hcap - 1);
}

static void hash_put(redo *r, size_t i) {
  size_t h = hash_of(r->fr[i].d, r->fr[i].pgno, r->hcap);
  while (r->hash[h]) h = (h + 1) & (r->hcap - 1);
  r->hash[h] = (uint32_t)(i + 1);
}

/* Empties the cache without writing anything (frames keep their buffers,
 * up to cache_max of them). */
static void cache_drop(redo *r) {
  for (size_t i = 0; i < r->frcap; i++) {
    r->fr[i].dirty = r->fr[i].staged = 0;
    if (i >= r->cache_max) {   /* grown by a commit bigger than the cache */
      free(r->fr[i].page);
      free(r->fr[i].spare);
      r->fr[i].page = r->fr[i].spare = NULL;
    }
  }
  r->nfr = 0;
  r->nstaged = 0;
  r->ndirty = 0;
  r->defer_at = 0;
  if (r->hash) memset(r->hash, 0, r->hcap * sizeof *r->hash);
}

static int frame_cmp(const void *a, const void *b) {
  const rframe *x = *(rframe *const *)a, *y = *(rframe *const *)b;
  uintptr_t dx = (uintptr_t)x->d, dy = (uintptr_t)y->d;
  if (dx != dy) return dx < dy ? -1 : 1;
  return x->pgno < y->pgno ? -1 : x->pgno > y->pgno;
}

/* Writes pages v[0..n) in place; with a ring (soft recovery) each batch of
 * dw_batch_max goes to the ring first (synced: a page torn in place below
 * has its copy there, dw.h W2), unless the ring has no place for the
 * batch but over images of a database replay has not repaired yet
 * (dw_may_write) or a page is not sealed: then in place directly -- or,
 * with defer, not at all: *done = the pages written (a prefix of v; all
 * of them without defer). */
static JET_ERR write_back_defer(redo *r, rframe **v, size_t n, int defer, size_t *done) {
  JET_ERR e = JET_errSuccess;
  size_t bmax = r->cfg.dw ? dw_batch_max(r->cfg.dw) : n;
  dw_image *im = r->cfg.dw ? malloc(bmax * sizeof *im) : NULL;
  if (r->cfg.dw && !im) return JET_errOutOfMemory;
  *done = 0;
  for (size_t at = 0; e == JET_errSuccess && at < n; at += bmax) {
    size_t k = n - at < bmax ? n - at : bmax;
    int ring = im && dw_may_write(r->cfg.dw, k);
    if (im && !ring && defer) break;   /* kept in the cache (cache_flush) */
    for (size_t i = 0; ring && i < k; i++) {
      rframe *f = v[at + i];
      ring = page_verify(f->page, r->cfg.page_size, f->pgno) == PAGE_OK;
      im[i] = (dw_image){ .sig = f->d->sig, .pgno = f->pgno, .dbtime = get64(f->page + DW_PAGE_DBTIME_OFF), .page = f->page };
    }
    uint64_t seq;
    if (ring && (e = dw_write(r->cfg.dw, im, k, &seq)) != JET_errSuccess) say(r, "replay could not write the double-write ring before", v[at]->d->path);
    for (size_t i = 0; e == JET_errSuccess && i < k; i++) {
      rframe *f = v[at + i];
      e = os_pwrite(f->d->file, f->page, r->cfg.page_size, (uint64_t)f->pgno * r->cfg.page_size);
      if (e) say(r, "replay could not write back a page of", f->d->path);
    }
    if (e == JET_errSuccess) *done = at + k;
  }
  free(im);
  return e;
}

static JET_ERR write_back(redo *r, rframe **v, size_t n) {
  size_t done;
  return write_back_defer(r, v, n, 0, &done);
}

/* The frames to write back, sorted (wb, nwb); wb_at = 0. */
static JET_ERR wb_list(redo *r) {
  assert(r->nstaged == 0 && !r->wb);    /* never inside a commit */
  r->nwb = r->wb_at = 0;
  if (r->nfr && !(r->wb = malloc(r->nfr * sizeof *r->wb))) return JET_errOutOfMemory;
  for (size_t i = 0; i < r->nfr; i++)
    if (r->fr[i].dirty) r->wb[r->nwb++] = &r->fr[i];
  if (r->nwb > 1) qsort(r->wb, r->nwb, sizeof *r->wb, frame_cmp);
  return JET_errSuccess;
}

/* The cache forgets its clean frames (each as on disk), keeping the dirty
 * ones (and every frame's buffers). */
static void cache_evict_clean(redo *r) {
  assert(r->nstaged == 0);
  size_t k = 0;
  for (size_t i = 0; i < r->nfr; i++)
    if (r->fr[i].dirty) {
      rframe t = r->fr[k];
      r->fr[k++] = r->fr[i];
      r->fr[i] = t;
    }
  r->nfr = k;
  memset(r->hash, 0, r->hcap * sizeof *r->hash);
  for (size_t i = 0; i < k; i++) hash_put(r, i);
}

/* Writes every dirty page back, file by file in page order, and empties
 * the cache.  On failure the cache is emptied too (the replay fails).
 * defer (soft recovery, in the middle of replay): the pages the ring has
 * no place for stay in the cache, dirty (write_back_defer), unless the
 * cache holds REDO_DEFER_FACTOR times its size already. */
static JET_ERR cache_flush(redo *r, int defer) {
  JET_ERR e = wb_list(r);
  size_t done = r->nwb;
  if (defer && r->nfr >= (size_t)REDO_DEFER_FACTOR * r->cache_max) defer = 0;
  if (e == JET_errSuccess && r->nwb) e = write_back_defer(r, r->wb, r->nwb, defer, &done);
  for (size_t i = 0; e == JET_errSuccess && i < done; i++) r->wb[i]->dirty = 0;
  int kept = e == JET_errSuccess && done < r->nwb;
  free(r->wb);
  r->wb = NULL;
  if (kept) {
    cache_evict_clean(r);
    r->ndirty = r->nfr;
    r->defer_at = r->nfr + r->cache_max;
  } else {
    cache_drop(r);
  }
  return e;
}

static void wb_kick(redo *r, rframe **v, size_t n);

/* Writes back the first max_pages of the dirty frames (file and page
 * order); they stay cached, clean. */
static JET_ERR write_some(redo *r, size_t max_pages) {
  JET_ERR e = wb_list(r);
  size_t k = r->nwb < max_pages ? r->nwb : max_pages;
  if (e == JET_errSuccess && k) e = write_back(r, r->wb, k);
  if (e == JET_errSuccess && k) {
    wb_kick(r, r->wb, k);
    for (size_t i = 0; i < k; i++) r->wb[i]->dirty = 0;   /* as on disk now */
    r->ndirty -= k;
  }
  free(r->wb);
  r->wb = NULL;
  return e;
}

/* Room for npg more frames before a commit is applied.  Soft recovery
 * writes the whole cache back (cache_flush).  A restore, whose caller
 * writes dirty pages back a slice at a time between its steps
 * (redo_write_some), writes back only the dirty pages the commit needs
 * room for (none while the caller keeps up; none for a commit bigger than
 * the cache, which the cache grows to hold, as it holds any commit whole),
 * then forgets the clean frames. */
static JET_ERR cache_room(redo *r, size_t npg) {
  if (!r->nfr || r->nfr + npg <= r->cache_max) return JET_errSuccess;
  if (!r->cfg.restore) return r->nfr + npg > r->defer_at ? cache_flush(r, 1) : JET_errSuccess;
  JET_ERR e = JET_errSuccess;
  if (npg <= r->cache_max && r->ndirty + npg > r->cache_max) e = write_some(r, r->ndirty + npg - r->cache_max);
  if (e == JET_errSuccess) cache_evict_clean(r);
  return e;
}

/* The frame of page pgno of d, read from the file when the cache does not
 * hold it (a page past the file's end reads as zeros: never written). */
static JET_ERR frame_get(redo *r, redo_db *d, uint32_t pgno, rframe **out) {
  uint32_t ps = r->cfg.page_size;
  if (r->hash) {
    for (size_t h = hash_of(d, pgno, r->hcap); r->hash[h]; h = (h + 1) & (r->hcap - 1)) {
      rframe *f = &r->fr[r->hash[h] - 1];
      if (f->d == d && f->pgno == pgno) {
        *out = f;
        return JET_errSuccess;
      }
    }
  }
  if (r->nfr == r->frcap) {   /* grow: frames, the staged list and the hash */
    size_t nc = r->frcap ? r->frcap * 2 : 64;
    if (nc > UINT32_MAX / 4) return JET_errOutOfMemory;
    rframe *nf = realloc(r->fr, nc * sizeof *nf);
    if (!nf) return JET_errOutOfMemory;
    r->fr = nf;
    memset(nf + r->frcap, 0, (nc - r->frcap) * sizeof *nf);
    size_t *ns = realloc(r->staged, nc * sizeof *ns);
    if (!ns) return JET_errOutOfMemory;
    r->staged = ns;
    uint32_t *nh = calloc(nc * 2, sizeof *nh);
    if (!nh) return JET_errOutOfMemory;
    free(r->hash);
    r->hash = nh;
    r->hcap = nc * 2;
    r->frcap = nc;
    for (size_t i = 0; i < r->nfr; i++) hash_put(r, i);
  }
  rframe *f = &r->fr[r->nfr];
  if (!f->page && !(f->page = malloc(ps))) return JET_errOutOfMemory;
  size_t got = 0;
  JET_ERR e = os_pread(d->file, f->page, ps, (uint64_t)pgno * ps, &got);
  if (e) {
    say(r, "replay could not read a page of", d->path);
    return e;
  }
  if (got < ps) memset(f->page + got, 0, ps - got);
  f->d = d;
  f->pgno = pgno;
  f->dirty = f->staged = 0;
  hash_put(r, r->nfr++);
  *out = f;
  return JET_errSuccess;
}

/* The page a record of the commit being applied works on: the frame's
 * staged copy (made on first use). */
static JET_ERR frame_stage(redo *r, rframe *f) {
  if (f->staged) return JET_errSuccess;
  if (!f->spare && !(f->spare = malloc(r->cfg.page_size))) return JET_errOutOfMemory;
  memcpy(f->spare, f->page, r->cfg.page_size);
  f->staged = 1;
  r->staged[r->nstaged++] = (size_t)(f - r->fr);
  return JET_errSuccess;
}

/* The commit being applied ends: ok, its staged pages become the frames'
 * pages (dirty); else they are forgotten. */
static void stage_end(redo *r, int ok) {
  for (size_t i = 0; i < r->nstaged; i++) {
    rframe *f = &r->fr[r->staged[i]];
    if (ok) {
      uint8_t *t = f->page;
      f->page = f->spare;
      f->spare = t;
      if (!f->dirty) r->ndirty++;
      f->dirty = 1;
    }
    f->staged = 0;
  }
  r->nstaged = 0;
}

/* No id names d any more. */
static void unbind(redo *r, const redo_db *d) {
  for (uint32_t i = 1; i <= ESE_MAX_DB; i++)
    if (r->db[i] == d) r->db[i] = NULL;
}

/* 1 when closing d unlinks it instead (close_db): nothing to sync. */
static int never_written(const redo_db *d) { return d->created && !d->wrote; }

static int cache_holds(const redo *r, const redo_db *d) {
  for (size_t i = 0; i < r->nfr; i++)
    if (r->fr[i].d == d && r->fr[i].dirty) return 1;
  return 0;
}

/* Finishes one database file: synced (unless synced already: redo_finish_step
 * did) and, when fix is given, its header fixed (as of end_gen when it was
 * kept open, else of gen); closed and forgotten (no id names it any more).
 * defer (a detach in the middle of soft recovery): when the ring has no
 * place for pages of d the cache holds (cache_flush defers them), d stays
 * open, named by no id, until redo_finish finishes it as of generation gen. */
static JET_ERR close_db(redo *r, redo_db *d, uint32_t gen, void (*fix)(dbheader *, uint32_t), int synced,
                        int defer) {
  /* a successful replay writes every page it changed back first (all
   * files: the cache is emptied), while d is still open for the ring's
   * sync_data hook; a failed one drops them */
  JET_ERR e = JET_errSuccess;
  if (fix) e = cache_flush(r, defer);
  else cache_drop(r);
  if (e == JET_errSuccess && fix && defer && cache_holds(r, d)) {
    unbind(r, d);
    d->end_gen = gen;
    return JET_errSuccess;
  }
  if (d->end_gen) gen = d->end_gen;
  for (redo_db **pp = &r->files; *pp; pp = &(*pp)->next)
    if (*pp == d) {
      *pp = d->next;
      break;
    }
  unbind(r, d);
  if (e == JET_errSuccess && fix && never_written(d)) {
    /* JetCreateDatabase never committed: creation is all or nothing */
    os_close(d->file);
    d->file = NULL;
    e = os_unlink(r->cfg.io, d->path);
    if (e == JET_errFileNotFound) e = JET_errSuccess;
  }
  if (d->file && e == JET_errSuccess) {
    dbheader h;
    if (!synced) e = os_sync(d->file);
    if (e == JET_errSuccess && fix) {
      e = dbheader_read(d->file, r->cfg.page_size, &h);
      int later = e == JET_errSuccess && d->dbtime_max > h.dbtime_last;
      if (later) h.dbtime_last = d->dbtime_max;   /* max(header, every dbtime replayed) */
      if (e == JET_errSuccess && (later || h.state != DB_CLEAN)) {
        if (h.state != DB_CLEAN) {
          fix(&h, gen);
          /* its clean point: the replayed LR_DETACH's, as the run that
           * detached it wrote it; else this replay's end (no time) */
          int exact = d->ended == END_DETACH;
          memcpy(h.log_sig, r->cfg.sig.b, 16);
          h.clean_lsn = exact ? d->pt.lsn : d->ended == END_INIT ? d->init_lsn : r->last_lsn;
          h.clean_time = exact ? d->pt.time : 0;
          if (r->stopped && h.clean_lsn > r->commit_lsn) {   /* records the cut drops: not the log's */
            h.clean_lsn = r->commit_lsn;
            h.clean_time = 0;
          }
        }
        e = dbheader_write(d->file, &h);
      }
    }
    if (e) say(r, "replay could not finish", d->path);
  }
  os_close(d->file);
  free(d->path);
  free(d);
  return e;
}

/* The attachment of id dbid ends (a detach, a new run, or the id attached
 * again).  Soft recovery finishes the file now (header clean, as the run
 * that detached it left it); a restore keeps it open until redo_finish. */
static JET_ERR end_id(redo *r, uint32_t dbid, uint32_t gen) {
  redo_db *d = r->db[dbid];
  r->db[dbid] = NULL;
  r->skip[dbid] = 0;
  if (!d || r->cfg.restore) return JET_errSuccess;
  return close_db(r, d, gen, r->cfg.fix, 0, 1);
}

/* The open file that is path (the same name, or the same file under
 * another name), or NULL. */
static redo_db *open_file_of(redo *r, const char *path) {
  for (redo_db *d = r->files; d; d = d->next)
    if (!strcmp(d->path, path) || os_same_file(d->path, path)) return d;
  return NULL;
}

/* What an attachment (an LR_ATTACH recording pt, compared when cmp)
 * tells of the file d: it is at least at pt; no change since. */
static void attached_at(redo_db *d, const dbpoint *pt, int cmp) {
  lsn_t p = pt ? pt->lsn : 0;
  if (!cmp || p > d->seen_lsn) d->seen_lsn = p;   /* not compared: the file's own state from here */
  d->dbpoint_log = pt != NULL;
  d->pointed = p != 0;
}

static JET_ERR point_mismatch(redo *r, const char *path, const dbpoint *pt, lsn_t at, const char *why) {
  if (r->cfg.detail)
    snprintf(r->cfg.detail, r->cfg.detail_cap, "%s: the log attaches it at generation %u offset %u as made clean at "
             "generation %u offset %u (dbtime %llu), but %s: an older copy of the file, or a copy of another "
             "history, was attached there; it is not replayed", path, (unsigned)LSN_GEN(at), (unsigned)LSN_OFF(at),
             (unsigned)LSN_GEN(pt->lsn), (unsigned)LSN_OFF(pt->lsn), (unsigned long long)pt->dbtime, why);
  return JET_errConsistentTimeMismatch;
}

/* An LR_ATTACH at lsn at recorded pt, the clean point the file's header had
 * then; the file replay has open (d) must be that state of the database:
 * its last attachment ended by a replayed LR_DETACH that made exactly pt
 * (the same LSN and time), or by a new run (a recovery's end made it clean
 * after its last attachment or commit replayed and before that run).
 * Otherwise the file the log attached was another copy (an older one put
 * back, another copy's): replaying on would mix two histories. */
static JET_ERR check_point(redo *r, const redo_db *d, const dbpoint *pt, lsn_t at) {
  if (!pt || d->ended == END_NONE) return JET_errSuccess;   /* not known: an older log */
  if (!pt->lsn && d->pointed)   /* a file of format 3, where the log had made the file's header format 4 */
    return point_mismatch(r, d->path, pt, at, "the log had made it clean with a clean point (the file attached has "
                          "none: a copy made before that)");
  if (!pt->lsn) return JET_errSuccess;   /* a format 3 file the log never saw rewritten: not known */
  /* another stream's point: the file as this log's last detach left it
   * (attached and detached there with no change: the dbtime moves with any
   * change), else a copy changed there or another copy */
  if (memcmp(pt->log_sig, r->cfg.sig.b, 16)) {
    if (d->ended == END_DETACH && pt->dbtime == d->pt.dbtime) return JET_errSuccess;
    return point_mismatch(r, d->path, pt, at, "its clean point was in another log stream");
  }
  if (d->ended == END_DETACH && (pt->lsn != d->pt.lsn || pt->time != d->pt.time)) {
    char why[160];
    snprintf(why, sizeof why, "the log detached it at generation %u offset %u (dbtime %llu)",
             (unsigned)LSN_GEN(d->pt.lsn), (unsigned)LSN_OFF(d->pt.lsn), (unsigned long long)d->pt.dbtime);
    return point_mismatch(r, d->path, pt, at, why);
  }
  if (d->ended == END_INIT && (pt->lsn < d->seen_lsn || pt->lsn > d->init_lsn || pt->dbtime < d->dbtime_max)) {
    char why[200];
    snprintf(why, sizeof why, "the log changed it up to generation %u offset %u (dbtime %llu) before the run that "
             "attaches it", (unsigned)LSN_GEN(d->seen_lsn), (unsigned)LSN_OFF(d->seen_lsn),
             (unsigned long long)d->dbtime_max);
    return point_mismatch(r, d->path, pt, at, why);
  }
  return JET_errSuccess;
}

/* The same for a file replay opens at an LR_ATTACH (at, pt) by its header
 * h: attached by that record (its attach_lsn), or by a later one of the
 * stream (a newer file: the dbtime rule skips what it holds), or clean at
 * pt itself (the attach never reached the header) or at a later point of
 * the stream (detached after that attachment).  A restore's copy says
 * where it was attached when it was streamed. */
static JET_ERR check_header(redo *r, const char *path, const dbheader *h, const dbpoint *pt, lsn_t at) {
  /* not known; or the file is another stream's now (soft recovery leaves
   * that to the signature rules: open_db's SKIP_OTHER and the dbtime rule) */
  if (!pt || !pt->lsn || h->version < 4 || memcmp(h->log_sig, r->cfg.sig.b, 16)) return JET_errSuccess;
  if (h->attach_lsn >= at || (h->state == DB_CLEAN && h->clean_lsn > at)) return JET_errSuccess;
  if (h->state == DB_CLEAN && h->clean_lsn == pt->lsn && h->clean_time == pt->time) return JET_errSuccess;
  char why[160];
  snprintf(why, sizeof why, "the file was %s at generation %u offset %u", h->state == DB_CLEAN ? "made clean"
           : "attached", (unsigned)LSN_GEN(h->state == DB_CLEAN ? h->clean_lsn : h->attach_lsn),
           (unsigned)LSN_OFF(h->state == DB_CLEAN ? h->clean_lsn : h->attach_lsn));
  return point_mismatch(r, path, pt, at, why);
}

/* Attaches a under its id: the database the id named before is detached
 * (implicitly), a file open under another id moves to this one, else the
 * file is opened (fresh: LR_CREATEDB's header, written when the crash came
 * before the header was).  at: an LR_ATTACH's LSN, pt the clean point it
 * records (NULL: a record before LOG_FEATURE_DBPOINT); 0, NULL for the
 * other attachments.  The point is compared (check_point, check_header)
 * only from apply_from on and past the attachment a restore's copy was
 * streamed under: the copy holds the result of the attachments before,
 * whatever file they attached. */
static JET_ERR open_db(redo *r, const log_attach *a, uint32_t gen, const dbheader *fresh, const dbpoint *pt,
                       lsn_t at) {
  uint32_t dbid = a->dbid;
  if (dbid < 1 || dbid > ESE_MAX_DB) return JET_errLogFileCorrupt;
  int cmp = at && at >= r->cfg.apply_from;
  char *path = NULL;
  JET_ERR e = r->cfg.map ? r->cfg.map(r->cfg.ud, a, fresh != NULL, &path)
                         : ((path = strdup(a->path)) ? 0 : JET_errOutOfMemory);
  if (e) return e;
  redo_db *d = path ? open_file_of(r, path) : NULL;
  if (d && d->end_gen && fresh) {   /* created anew under the name of one detached, kept open */
    e = close_db(r, d, d->end_gen, r->cfg.fix, 0, 0);
    d = NULL;
  }
  if (e == JET_errSuccess && (!d || r->db[dbid] != d)) e = end_id(r, dbid, gen);
  if (e || !path) {
    r->skip[dbid] = path ? 0 : SKIP_UNCOVERED;
    free(path);
    return e;
  }
  if (d) {                     /* the same file: it moves to this id */
    free(path);
    if (at <= d->copy_attach) cmp = 0;
    if (cmp && (e = check_point(r, d, pt, at))) return e;
    unbind(r, d);
    d->end_gen = 0;
    d->ended = END_NONE;
    attached_at(d, pt, cmp);
    r->db[dbid] = d;
    return JET_errSuccess;
  }
  esfile *f = NULL;
  /* a restore wrote this file itself (O_NOFOLLOW): a link there now was
   * planted since, and is never followed */
  e = os_open(r->cfg.io, path, OS_WRITE | (r->cfg.restore ? OS_NOFOLLOW : fresh ? OS_CREATE : 0), &f);
  if (e == JET_errSuccess) e = os_lock(f);
  dbheader h;
  int h_fresh = 0;   /* the header is fresh's (written now) */
  if (e == JET_errSuccess) {
    JET_ERR he = dbheader_read(f, r->cfg.page_size, &h);
    if (he == JET_errDatabaseCorrupted && fresh && !r->cfg.restore) {
      h_fresh = 1;
      he = dbheader_write(f, fresh);
    }   /* created but never written (never another format's header) */
    else if (he == JET_errSuccess && h.state == DB_BACKUP_COPY) he = JET_errSoftRecoveryOnBackupDatabase;
    else if (he == JET_errSuccess && h.state == DB_RESTORING && !r->cfg.restore) he = JET_errDatabaseDirtyShutdown;
    else if (he == JET_errSuccess && redo_sig_known(a->sig) && memcmp(h.db_sig, a->sig, 16) != 0) {
      /* not the database the log attached (replaced, or created again
       * under its name since): never written */
      say(r, "replay: another database than the log's (another signature) is at", path);
      os_close(f);
      free(path);
      r->skip[dbid] = SKIP_OTHER;
      return JET_errSuccess;
    } else if (he == JET_errSuccess && cmp && (he = check_header(r, path, &h, pt, at))) {
      os_close(f);
      free(path);
      return he;
    } else if (he == JET_errSuccess && !at && !r->cfg.restore && h.version >= 4 && h.state == DB_CLEAN &&
               h.clean_lsn && h.clean_time && h.clean_lsn < r->cfg.start_lsn &&
               !memcmp(h.log_sig, r->cfg.sig.b, 16)) {
      /* the checkpoint says it is attached, the file was detached (or
       * terminated) before the checkpoint: an older copy of it put back.
       * A file a replay made clean (clean_time 0: a restore's result under
       * a checkpoint left from the history it replaced) is the dbtime
       * rule's. */
      if (r->cfg.detail)
        snprintf(r->cfg.detail, r->cfg.detail_cap, "%s: attached when the checkpoint (generation %u offset %u) was "
                 "taken, but the file was made clean before it (generation %u offset %u): an older copy of the "
                 "file; it is not replayed", path, (unsigned)LSN_GEN(r->cfg.start_lsn),
                 (unsigned)LSN_OFF(r->cfg.start_lsn), (unsigned)LSN_GEN(h.clean_lsn), (unsigned)LSN_OFF(h.clean_lsn));
      os_close(f);
      free(path);
      return JET_errConsistentTimeMismatch;
    } else if (he == JET_errSuccess && r->cfg.dw) {
      uint32_t n = 0;
      he = dw_repair_file(r->cfg.dw, h.db_sig, f, &n);   /* torn or older pages from the ring */
      if (r->cfg.dw_repaired) *r->cfg.dw_repaired += n;
    }
    e = he;
  }
  if (e == JET_errSuccess && !(d = calloc(1, sizeof *d))) e = JET_errOutOfMemory;
  if (e) {
    say(r, "replay cannot use database", path);
    os_close(f);
    free(path);
    return e;
  }
  d->file = f;
  d->path = path;
  memcpy(d->sig, h_fresh ? fresh->db_sig : h.db_sig, 16);
  d->created = fresh != NULL && !r->cfg.restore;
  attached_at(d, pt, 0);
  if (r->cfg.restore && !h_fresh && h.version >= 4 && !memcmp(h.log_sig, r->cfg.sig.b, 16)) {
    d->copy_attach = h.attach_lsn;
    /* opened at the set's checkpoint (no LR_ATTACH replayed): the copy
     * says where the file was attached, and that it is format 4; a later
     * attach after a new run must record a point at or past that one.
     * (Not its dbtime_last: a copy streamed while attached holds a
     * reservation, which a later exact detach may write below.) */
    if (!at) {
      d->seen_lsn = h.attach_lsn;
      d->pointed = 1;
    }
  }
  d->next = r->files;
  r->files = d;
  r->db[dbid] = d;
  return JET_errSuccess;
}

JET_ERR redo_attach(redo *r, const log_attach *a) { return open_db(r, a, 0, NULL, NULL, 0); }

/* LR_INSERT .. LR_FREEPAGE: operation records (pageop.h). */
static int is_op(uint8_t type) { return type >= LR_INSERT && type <= LR_FREEPAGE; }

static JET_ERR page_rec(redo *r, const log_record *rec) {
  int diff = rec->type == LR_PAGEDIFF, op = is_op(rec->type);
  uint32_t hlen = op ? LR_OP_HDR : 24;
  assert(diff || op);
  if (rec->len < hlen || (op && rec->payload[1] != 0)) return JET_errLogFileCorrupt;
  uint32_t dbid = op ? rec->payload[0] : get32(rec->payload), pgno = get32(rec->payload + 4);
  uint64_t txid = get64(rec->payload + 8);
  if (dbid < 1 || dbid > ESE_MAX_DB || pgno < 2) return JET_errLogFileCorrupt;
  if (txid > r->max_txid) r->max_txid = txid;
  if (txid != r->txid) {    /* an unfinished earlier transaction is dropped */
    drop_pages(r);
    r->txid = txid;
    r->group_records = 0;
    r->tx_other = 0;
  }
  r->group_records++;
  if (r->skip[dbid] == SKIP_OTHER) r->tx_other = dbid;
  if (r->skip[dbid]) return JET_errSuccess;
  if (!r->db[dbid]) return JET_errLogFileCorrupt;
  if (r->npages == r->cap) {
    size_t nc = r->cap ? r->cap * 2 : 64;
    redo_page *np = realloc(r->pages, nc * sizeof *np);
    if (!np) return JET_errOutOfMemory;
    r->pages = np;
    r->cap = nc;
  }
  size_t len = rec->len - hlen;
  uint8_t *img = malloc(len ? len : 1);
  if (!img) return JET_errOutOfMemory;
  memcpy(img, rec->payload + hlen, len);
  r->pages[r->npages++] = (redo_page){ dbid, pgno, img, len, diff, diff || op ? get64(rec->payload + 16) : 0,
                                       op ? rec->type : 0, op ? get16(rec->payload + 2) : 0 };
  return JET_errSuccess;
}

static JET_ERR corrupt(redo *r) { return r->cfg.restore ? JET_errLogCorruptDuringHardRestore : JET_errLogFileCorrupt; }

/* Page pgno of d does not hold the state a record of the commit being
 * applied expects: a named error, never a silent misapply. */
static JET_ERR page_mismatch(redo *r, const redo_db *d, uint32_t pgno, const char *why, uint64_t have,
                             uint64_t want) {
  if (r->cfg.detail)
    snprintf(r->cfg.detail, r->cfg.detail_cap, "%s: page %u: %s (dbtime %llu, the log's %llu)", d->path,
             (unsigned)pgno, why, (unsigned long long)have, (unsigned long long)want);
  return corrupt(r);
}

static const char *op_name(int op) {
  return op == LR_INSERT ? "insert" : op == LR_REPLACE ? "replace" : op == LR_DELETE ? "delete"
         : op == LR_SPLIT ? "split" : op == LR_NEWPAGE ? "new page" : op == LR_UNLINK ? "unlink" : "free page";
}

/* An operation record that does not apply to its page (pageop_apply's
 * result pr): the slot holds another key, the page has no room, or the
 * record or page is malformed: a damaged log naming page and slot. */
static JET_ERR op_failed(redo *r, const redo_db *d, const redo_page *p, int pr) {
  if (pr == PO_NOMEM) return JET_errOutOfMemory;
  if (r->cfg.detail)
    snprintf(r->cfg.detail, r->cfg.detail_cap, "%s: page %u slot %u: %s record %s", d->path, (unsigned)p->pgno,
             p->slot, op_name(p->op),
             pr == PO_KEY ? (p->op == LR_INSERT ? "names a key that does not sort between the slot's neighbours"
                             : p->op == LR_UNLINK ? "names another key or child than the slot's"
                             : p->op == LR_FREEPAGE ? "names a page that is not empty or of another type or left"
                                                : "names another key than the slot's")
             : pr == PO_FULL ? "does not fit the page" : "does not apply (malformed, or the slot is not on the page)");
  return corrupt(r);
}

/* The dbtime rule for one page record of a commit giving its database
 * time T, on the page as replay has it (the commit's staged copy, else the
 * cache's, else the file's):
 *   page dbtime >= T             skip: the change is there already
 *   a difference or operation,   applied, sealed with T
 *   dbtime == base
 *   dbtime < base                JET_errDbTimeTooOld (a change is missing)
 *   base < dbtime < T            JET_errDbTimeTooNew (another history)
 * A page's operation records of one commit all carry the same base
 * (check_group): the rule is checked at the first, which stages the page;
 * the later ones apply to the staged page in log order.  A difference or
 * operation onto a page that fails verification is
 * JET_errReadVerifyFailure; one onto a page never written (all zeros) is
 * too old.  Except when the page's first record of the commit is an
 * LR_NEWPAGE: it formats the page whatever it held, so it applies onto
 * any page older than T (never written, of another base, or failing
 * verification: a torn page counts as dbtime 0).  Every refusal names
 * the file and page. */
static JET_ERR apply_page(redo *r, redo_db *d, const redo_page *p, uint64_t T) {
  uint32_t ps = r->cfg.page_size;
  const char *what = p->op ? "an operation record" : "a difference";
  rframe *f;
  JET_ERR e = frame_get(r, d, p->pgno, &f);
  if (e) return e;
  if (!(p->op && f->staged)) {
    const uint8_t *cur = f->staged ? f->spare : f->page;
    int v = page_verify(cur, ps, p->pgno), format = p->op == LR_NEWPAGE;
    uint64_t have = v == PAGE_OK ? page_dbtime(cur) : 0;
    if (v != PAGE_OK && v != PAGE_ZERO && !format) {
      if (r->cfg.detail)
        snprintf(r->cfg.detail, r->cfg.detail_cap, "%s: page %u fails verification (checksum or page number): %s "
                 "of the log cannot apply to it", d->path, (unsigned)p->pgno, what);
      return JET_errReadVerifyFailure;
    }
    if (have >= T) return JET_errSuccess;
    if (have != p->base && !format) {
      if (r->cfg.detail)
        snprintf(r->cfg.detail, r->cfg.detail_cap, "%s: page %u: dbtime %llu is %s the base %llu of %s "
                 "committed at %llu", d->path, (unsigned)p->pgno, (unsigned long long)have,
                 have < p->base ? "older than" : "newer than", (unsigned long long)p->base, what,
                 (unsigned long long)T);
      return have < p->base ? JET_errDbTimeTooOld : JET_errDbTimeTooNew;
    }
    if ((e = frame_stage(r, f))) return e;
  }
  if (p->op) {
    int pr = pageop_apply(f->spare, ps, p->op, p->slot, p->image, p->len);
    if (pr != PO_OK) return op_failed(r, d, p, pr);
  } else if (page_patch(f->spare, ps, p->image, p->len) != 0) {
    return page_mismatch(r, d, p->pgno, "a difference lies outside the page", page_dbtime(f->page), p->base);
  }
  page_seal(f->spare, ps, p->pgno, T);
  return JET_errSuccess;
}

uint64_t redo_commit_time(const log_record *rec) {
  uint32_t ndb = rec->type == LR_COMMIT && rec->len >= 16 ? get32(rec->payload + 12) : 0;
  return rec->type == LR_COMMIT && ndb <= ESE_MAX_DB && rec->len == 24 + 12 * ndb
             ? get64(rec->payload + 16 + 12 * ndb) : 0;
}

/* Reads the per-database dbtimes of an LR_COMMIT (u64 txid, u32 page
 * records, u32 databases, then per database u32 id + u64 dbtime, then u64
 * time) into T[id]; a commit of another length is corrupt. */
static JET_ERR commit_times(redo *r, const log_record *rec, uint64_t T[ESE_MAX_DB + 1]) {
  memset(T, 0, sizeof(uint64_t) * (ESE_MAX_DB + 1));
  uint32_t ndb = rec->len >= 16 ? get32(rec->payload + 12) : 0;
  if (rec->len < 16 || ndb > ESE_MAX_DB || rec->len != 24 + 12 * ndb) {
    if (r->cfg.detail)
      snprintf(r->cfg.detail, r->cfg.detail_cap, "log at generation %u: the commit of transaction %llu is not of "
               "the format's length (database times and commit time)", (unsigned)LSN_GEN(rec->lsn),
               (unsigned long long)get64(rec->payload));
    return corrupt(r);
  }
  for (uint32_t k = 0; k < ndb; k++) {
    uint32_t id = get32(rec->payload + 16 + 12 * k);
    uint64_t t = get64(rec->payload + 20 + 12 * k);
    if (id < 1 || id > ESE_MAX_DB || t == 0 || T[id]) return corrupt(r);
    T[id] = t;
  }
  return JET_errSuccess;
}

typedef struct pkey { uint64_t key; size_t i; } pkey;

static int key_cmp(const void *a, const void *b) {
  const pkey *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

/* The writer logs a page once per commit as an image or a difference, or
 * as operation records that all carry the page's dbtime before the commit:
 * a group naming (dbid, pgno) twice otherwise (twice as a page, as a page
 * and by operations, or by operations of different bases) is a damaged
 * log, refused before any page is staged (a second record would otherwise
 * be skipped as already there, its change lost). */
static JET_ERR check_group(redo *r, const log_record *rec, size_t *npg) {
  *npg = r->npages;           /* the distinct pages the group names */
  if (r->npages < 2) return JET_errSuccess;
  pkey *k = malloc(r->npages * sizeof *k);
  if (!k) return JET_errOutOfMemory;
  for (size_t i = 0; i < r->npages; i++) k[i] = (pkey){ (uint64_t)r->pages[i].dbid << 32 | r->pages[i].pgno, i };
  qsort(k, r->npages, sizeof *k, key_cmp);
  JET_ERR e = JET_errSuccess;
  for (size_t i = 1; i < r->npages && e == JET_errSuccess; i++) {
    if (k[i].key != k[i - 1].key) continue;
    --*npg;
    const redo_page *a = &r->pages[k[i - 1].i], *b = &r->pages[k[i].i];
    if (a->op && b->op && a->base == b->base) continue;
    e = corrupt(r);
    if (r->cfg.detail)
      snprintf(r->cfg.detail, r->cfg.detail_cap, "log at generation %u: the commit of transaction %llu names page "
               "%u of database %u twice%s", (unsigned)LSN_GEN(rec->lsn), (unsigned long long)r->txid,
               (unsigned)(k[i].key & 0xFFFFFFFFu), (unsigned)(k[i].key >> 32),
               a->op && b->op ? " (operation records of different base dbtimes)"
               : a->op || b->op ? " (as a page and by operation records)" : "");
  }
  free(k);
  return e;
}

static JET_ERR commit_rec(redo *r, const log_record *rec) {
  if (rec->len < 12) return JET_errLogFileCorrupt;
  uint64_t txid = get64(rec->payload);
  uint32_t count = get32(rec->payload + 8);
  uint64_t T[ESE_MAX_DB + 1];
  size_t npg = 0;
  JET_ERR e = JET_errSuccess;
  if (txid > r->max_txid) r->max_txid = txid;
  uint64_t at = redo_commit_time(rec);
  if (r->cfg.stop_after_us && at > r->cfg.stop_after_us) {   /* the point in time: stop before this commit */
    r->stopped = 1;   /* last_lsn stays the last commit applied: where the restored log is cut */
    drop_pages(r);
    r->txid = 0;
    r->group_records = 0;
    r->tx_other = 0;
    return JET_errSuccess;
  }
  r->last_lsn = r->commit_lsn = rec->lsn;
  /* a commit applies exactly the page records of its group */
  if (txid == r->txid && r->group_records != count) {
    e = corrupt(r);
    if (r->cfg.detail)
      snprintf(r->cfg.detail, r->cfg.detail_cap, "log at generation %u: the commit of transaction %llu counts %u page "
               "records, its group has %u", (unsigned)LSN_GEN(rec->lsn), (unsigned long long)txid, (unsigned)count,
               (unsigned)r->group_records);
  }
  if (e == JET_errSuccess) e = commit_times(r, rec, T);
  if (e == JET_errSuccess && txid == r->txid) e = check_group(r, rec, &npg);
  if (e == JET_errSuccess && txid == r->txid && r->tx_other)
    e = JET_errBadDbSignature;   /* the detail names the file (open_db) */
  if (e == JET_errSuccess && txid == r->txid) {
    /* the cache takes the whole commit without a write-back in between */
    e = cache_room(r, npg);
    for (size_t i = 0; i < r->npages && e == JET_errSuccess; i++) {
      const redo_page *p = &r->pages[i];
      redo_db *d = r->db[p->dbid];
      if (!d || !T[p->dbid]) e = corrupt(r);
      else e = apply_page(r, d, p, T[p->dbid]);
    }
    stage_end(r, e == JET_errSuccess);   /* all of the commit, or nothing */
    for (size_t i = 0; i < r->npages && e == JET_errSuccess; i++) r->db[r->pages[i].dbid]->wrote = 1;
    for (uint32_t id = 1; id <= ESE_MAX_DB && e == JET_errSuccess; id++)
      if (T[id] && r->db[id]) {
        redo_db *d = r->db[id];
        if (T[id] > d->dbtime_max) d->dbtime_max = T[id];
        d->seen_lsn = rec->lsn;
        if (d->dbpoint_log) d->pointed = 1;   /* its attach wrote its header: format 4 from then on */
      }
  }
  if (e == JET_errSuccess) r->last_commit_us = at;
  drop_pages(r);
  r->txid = 0;
  r->group_records = 0;
  r->tx_other = 0;
  return e;
}

uint64_t redo_max_txid(redo *r) { return r->max_txid; }
int redo_stopped(const redo *r) { return r->stopped; }
uint64_t redo_last_commit_us(const redo *r) { return r->last_commit_us; }

/* The attachment of an LR_CREATEDB / LR_ATTACH record; *page_size from
 * LR_CREATEDB; *pt the clean point an LR_ATTACH of LOG_FEATURE_DBPOINT
 * records (zeros otherwise: also an lsn 0 recorded means none).  Strings
 * in *a are new. */
static JET_ERR entry_of(const log_record *rec, log_attach *a, uint32_t *page_size, dbpoint *pt) {
  const uint8_t *p = rec->payload;
  size_t n = rec->len, used;
  memset(a, 0, sizeof *a);
  if (rec->type == LR_CREATEDB) {
    if (n < 4u) return JET_errLogFileCorrupt;
    *page_size = get32(p);
  }
  size_t head = rec->type == LR_CREATEDB ? 4 : 0;
  JET_ERR e = log_entry_get(p + head, n - head, a, &used);
  memset(pt, 0, sizeof *pt);
  if (e == JET_errSuccess && rec->type == LR_ATTACH && (rec->features & LOG_FEATURE_DBPOINT)) {
    if (n - head - used < DBPOINT_SIZE) {
      log_entry_clear(a);
      return JET_errLogFileCorrupt;
    }
    dbpoint_get(p + head + used, pt);
    used += DBPOINT_SIZE;
  }
  if (e == JET_errSuccess && (used != n - head || strlen(a->path) > 4096 || strlen(a->rel) > 4096)) {
    log_entry_clear(a);
    e = JET_errLogFileCorrupt;
  }
  return e;
}

JET_ERR redo_entry_of(const log_record *rec, log_attach *a) {
  uint32_t ps = 0;
  dbpoint pt;
  memset(a, 0, sizeof *a);
  switch (rec->type) {
  case LR_CREATEDB:
  case LR_ATTACH: return entry_of(rec, a, &ps, &pt);
  default: return JET_errSuccess;
  }
}

static JET_ERR attach_rec(redo *r, const log_record *rec) {
  log_attach a;
  uint32_t ps = 0;
  dbpoint pt;
  JET_ERR e = entry_of(rec, &a, &ps, &pt);
  if (e) return e;
  int create = rec->type == LR_CREATEDB;
  dbheader h = { .page_size = ps, .state = DB_DIRTY };
  if (create && ps != r->cfg.page_size) e = JET_errLogFileCorrupt;
  memcpy(h.db_sig, a.sig, 16);
  memcpy(h.log_sig, r->cfg.sig.b, 16);
  if (e == JET_errSuccess)
    e = open_db(r, &a, LSN_GEN(rec->lsn), create ? &h : NULL,
                create || !(rec->features & LOG_FEATURE_DBPOINT) ? NULL : &pt, create ? 0 : rec->lsn);
  log_entry_clear(&a);
  return e;
}

JET_ERR redo_apply(redo *r, const log_record *rec) {
  assert(r->fin == FIN_NONE);   /* the end began: no more records */
  int change = rec->type == LR_PAGEDIFF || rec->type == LR_COMMIT || is_op(rec->type);
  if (r->stopped) return JET_errSuccess;   /* past the point in time: nothing more */
  if (!change) r->last_lsn = rec->lsn;      /* a commit sets it once applied (commit_rec) */
  if (change && rec->lsn < r->cfg.apply_from) {
    size_t at = rec->type == LR_COMMIT ? 0 : 8;   /* where the record keeps its txid */
    if (rec->len >= at + 8 && get64(rec->payload + at) > r->max_txid) r->max_txid = get64(rec->payload + at);
    if (rec->type == LR_COMMIT) {
      uint64_t t = redo_commit_time(rec);
      /* the copy holds this commit already: a point in time before it is out of reach */
      if (r->cfg.stop_after_us && t > r->cfg.stop_after_us) {
        if (r->cfg.detail)
          snprintf(r->cfg.detail, r->cfg.detail_cap, "the point in time is before a commit (at generation %u) that "
                   "the database copies already hold: restore an older backup set", (unsigned)LSN_GEN(rec->lsn));
        return JET_errEndingRestoreLogTooLow;
      }
      r->last_commit_us = t;
      r->last_lsn = r->commit_lsn = rec->lsn;   /* the copy holds it */
    }
    return JET_errSuccess;
  }
  switch (rec->type) {
  case LR_PAGEDIFF:
  case LR_INSERT:
  case LR_REPLACE:
  case LR_DELETE:
  case LR_SPLIT:
  case LR_NEWPAGE:
  case LR_UNLINK:
  case LR_FREEPAGE: return page_rec(r, rec);
  case LR_COMMIT: return commit_rec(r, rec);
  case LR_CREATEDB:
  case LR_ATTACH: return attach_rec(r, rec);
  case LR_DETACH: {
    int pointed = (rec->features & LOG_FEATURE_DBPOINT) != 0;
    if (rec->len != (pointed ? 20u : 4u) || get32(rec->payload) < 1 || get32(rec->payload) > ESE_MAX_DB)
      return JET_errLogFileCorrupt;
    redo_db *d = r->db[get32(rec->payload)];
    if (d && pointed) {   /* the clean point this detach made */
      d->ended = END_DETACH;
      d->pointed = 1;
      d->pt = (dbpoint){ .lsn = rec->lsn, .time = get64(rec->payload + 4), .dbtime = get64(rec->payload + 12) };
      memcpy(d->pt.log_sig, r->cfg.sig.b, 16);
    }
    return end_id(r, get32(rec->payload), LSN_GEN(rec->lsn));
  }
  case LR_INIT: {              /* a new run: every earlier attachment ended */
    JET_ERR e = JET_errSuccess;
    for (uint32_t i = 1; i <= ESE_MAX_DB && e == JET_errSuccess; i++) {
      if (r->db[i]) {
        r->db[i]->ended = END_INIT;
        r->db[i]->init_lsn = rec->lsn;
      }
      e = end_id(r, i, LSN_GEN(rec->lsn));
    }
    return e;
  }
  default:                     /* a later version sets a feature bit (refused at
                                * the header), so an unknown type is damage; so
                                * are type 1 (whole page images, never written
                                * in log format 4) and types 3 and 4 (format
                                * 1's attachments) */
    if (r->cfg.detail)
      snprintf(r->cfg.detail, r->cfg.detail_cap, "a record of unknown type %u at generation %u offset %u",
               (unsigned)rec->type, (unsigned)LSN_GEN(rec->lsn), (unsigned)LSN_OFF(rec->lsn));
    return corrupt(r);
  }
}

/* Starts the disk's writeback of the pages v[0..n) (sorted: one range per
 * file), so that the sync that closes the file has little left. */
static void wb_kick(redo *r, rframe **v, size_t n) {
  uint64_t ps = r->cfg.page_size;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && v[j + 1]->d == v[i]->d) j++;
    os_writeback(v[i]->d->file, v[i]->pgno * ps, (v[j]->pgno - v[i]->pgno + 1) * ps);
    i = j + 1;
  }
}

size_t redo_dirty(const redo *r) { return r->ndirty; }

JET_ERR redo_write_some(redo *r, size_t max_pages) {
  assert(r->fin == FIN_NONE);
  return write_some(r, max_pages);
}

JET_ERR redo_finish_step(redo *r, uint32_t gen, size_t max_pages, int *more) {
  JET_ERR e = JET_errSuccess;
  *more = 1;
  if (r->fin == FIN_NONE) {
    drop_pages(r);               /* an unfinished transaction is dropped */
    if (r->cfg.dw) dw_repairs_done(r->cfg.dw);   /* the last write-back may use all of the ring */
    fin_to(r, FIN_WRITEBACK);
    e = wb_list(r);
  } else if (r->fin == FIN_WRITEBACK) {
    /* a slice of the write-back, in file and page order */
    size_t k = r->nwb - r->wb_at < max_pages ? r->nwb - r->wb_at : max_pages;
    if (k) e = write_back(r, r->wb + r->wb_at, k);
    if (e == JET_errSuccess && k) wb_kick(r, r->wb + r->wb_at, k);
    r->wb_at += k;
    if (e == JET_errSuccess && r->wb_at == r->nwb) {
      free(r->wb);
      r->wb = NULL;
      cache_drop(r);             /* every changed page is written */
      fin_to(r, FIN_CLOSE);
    }
  } else if (r->fin == FIN_CLOSE && r->files && !r->head_synced) {
    /* the file's pages durable first, its header after (a step each) */
    if (!never_written(r->files)) e = os_sync(r->files->file);
    if (e) say(r, "replay could not finish", r->files->path);
    r->head_synced = 1;
  } else if (r->fin == FIN_CLOSE && r->files) {
    e = close_db(r, r->files, gen, r->cfg.fix, 1, 0);   /* cache empty: nothing written but the header */
    r->head_synced = 0;
  } else if (r->fin == FIN_CLOSE) {
    fin_to(r, FIN_DONE);         /* redo_finish / redo_free give the ring back */
  }
  if (e || r->fin == FIN_DONE) *more = 0;
  return e;
}

JET_ERR redo_finish(redo *r, int ok, uint32_t gen) {
  JET_ERR e = JET_errSuccess;
  /* ok: the steps to the end, as fast as they go; a failed one, and a
   * failed replay, close the rest without a header fixed */
  for (int more = ok; e == JET_errSuccess && more;) e = redo_finish_step(r, gen, SIZE_MAX, &more);
  free(r->wb);
  r->wb = NULL;
  drop_pages(r);
  cache_drop(r);   /* a failed replay writes nothing more (after a successful one: empty) */
  while (r->files) {
    close_db(r, r->files, gen, NULL, r->head_synced, 0);
    r->head_synced = 0;
  }
  memset(r->skip, 0, sizeof r->skip);
  if (r->hooked) {             /* the ring goes back to the instance's hook */
    dw_swap_sync_data(r->cfg.dw, &r->old_sync, &r->old_ud);
    r->hooked = 0;
  }
  return e;
}

void redo_free(redo *r) {
  if (!r) return;
  redo_finish(r, 0, 0);
  free(r->pages);
  for (size_t i = 0; i < r->frcap; i++) {
    free(r->fr[i].page);
    free(r->fr[i].spare);
  }
  free(r->fr);
  free(r->hash);
  free(r->staged);
  free(r);
}
