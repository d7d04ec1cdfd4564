/* redo.c -- replay of log records onto database files (see redo.h). */
#include "redo.h"
#include "page.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct redo_db {
  esfile *file;
  char *path;
  int skip;               /* a database the restore does not cover */
  int created, wrote;     /* created by a replayed LR_CREATEDB; a commit wrote to it */
} redo_db;

typedef struct redo_page {
  uint32_t dbid, pgno;
  uint8_t *image;         /* a whole page, or the runs of a difference */
  size_t len;
  int diff;
  uint64_t stamp, base;   /* a difference: the lsn to seal with, the lsn it applies to */
} redo_page;

struct redo {
  redo_cfg cfg;
  redo_db db[ESE_MAX_DB + 1];
  redo_page *pages;       /* images of the transaction being read */
  size_t npages, cap;
  uint64_t txid;
  uint32_t group_records; /* page records of txid read so far, skipped ones too */
  uint64_t max_txid;      /* the highest transaction id met */
  uint8_t *scratch;       /* a page being patched */
};

static void say(redo *r, const char *what, const char *path) {
  if (r->cfg.detail) snprintf(r->cfg.detail, r->cfg.detail_cap, "%s %s", what, path);
}

static void clean_header(dbheader *h, uint32_t gen) {
  h->state = DB_CLEAN;
  h->gen_max = gen;
}

JET_ERR redo_new(const redo_cfg *cfg, redo **out) {
  redo *r = calloc(1, sizeof *r);
  if (!r) return JET_errOutOfMemory;
  r->cfg = *cfg;
  if (!r->cfg.fix) r->cfg.fix = clean_header;
  *out = r;
  return JET_errSuccess;
}

static void drop_pages(redo *r) {
  for (size_t i = 0; i < r->npages; i++) free(r->pages[i].image);
  r->npages = 0;
}


/* Finishes one database: synced and, when fix is given, its header fixed. */
static JET_ERR close_db(redo *r, uint32_t dbid, uint32_t gen, void (*fix)(dbheader *, uint32_t)) {
  redo_db *d = &r->db[dbid];
  JET_ERR e = JET_errSuccess;
  if (d->file && fix && d->created && !d->wrote) {
    /* JetCreateDatabase never committed: creation is all or nothing */
    os_close(d->file);
    d->file = NULL;
    e = os_unlink(r->cfg.io, d->path);
    if (e == JET_errFileNotFound) e = JET_errSuccess;
  }
  if (d->file) {
    dbheader h;
    e = os_sync(d->file);
    if (e == JET_errSuccess && fix) {
      e = dbheader_read(d->file, r->cfg.page_size, &h);
      if (e == JET_errSuccess && h.state != DB_CLEAN) {
        fix(&h, gen);
        e = dbheader_write(d->file, &h);
      }
    }
    if (e) say(r, "replay could not finish", d->path);
  }
  os_close(d->file);
  free(d->path);
  memset(d, 0, sizeof *d);
  return e;
}

static JET_ERR open_db(redo *r, uint32_t dbid, const char *logged, const dbheader *fresh) {
  if (dbid < 1 || dbid > ESE_MAX_DB) return JET_errLogFileCorrupt;
  if (r->db[dbid].file || r->db[dbid].skip) {   /* the id is reused without a detach */
    redo_db *old = &r->db[dbid];
    close_db(r, dbid, 0, old->created && !old->wrote ? r->cfg.fix : NULL);
  }
  redo_db *d = &r->db[dbid];
  char *path = NULL;
  JET_ERR e = r->cfg.map ? r->cfg.map(r->cfg.ud, logged, &path) : ((path = strdup(logged)) ? 0 : JET_errOutOfMemory);
  if (e) return e;
  if (!path) {
    d->skip = 1;
    return JET_errSuccess;
  }
  esfile *f = NULL;
  e = os_open(r->cfg.io, path, OS_WRITE | (fresh && !r->cfg.restore ? OS_CREATE : 0), &f);
  if (e == JET_errSuccess) e = os_lock(f);
  dbheader h;
  if (e == JET_errSuccess) {
    JET_ERR he = dbheader_read(f, r->cfg.page_size, &h);
    if (he && fresh && !r->cfg.restore) he = dbheader_write(f, fresh);   /* created but never written */
    else if (he == JET_errSuccess && h.state == DB_BACKUP_COPY) he = JET_errSoftRecoveryOnBackupDatabase;
    else if (he == JET_errSuccess && h.state == DB_RESTORING && !r->cfg.restore) he = JET_errDatabaseDirtyShutdown;
    e = he;
  }
  if (e) {
    say(r, "replay cannot use database", path);
    os_close(f);
    free(path);
    return e;
  }
  d->file = f;
  d->path = path;
  d->created = fresh != NULL && !r->cfg.restore;
  return JET_errSuccess;
}

JET_ERR redo_attach(redo *r, uint32_t dbid, const char *logged_path) { return open_db(r, dbid, logged_path, NULL); }

static JET_ERR page_rec(redo *r, const log_record *rec) {
  int diff = rec->type == LR_PAGEDIFF;
  uint32_t hlen = diff ? 32 : 16;
  if (rec->len < hlen) return JET_errLogFileCorrupt;
  uint32_t dbid = get32(rec->payload), pgno = get32(rec->payload + 4);
  uint64_t txid = get64(rec->payload + 8);
  if (dbid < 1 || dbid > ESE_MAX_DB || pgno < 2) return JET_errLogFileCorrupt;
  if (!diff && rec->len - hlen != r->cfg.page_size) return JET_errLogFileCorrupt;
  if (txid > r->max_txid) r->max_txid = txid;
  if (txid != r->txid) {    /* an unfinished earlier transaction is dropped */
    drop_pages(r);
    r->txid = txid;
    r->group_records = 0;
  }
  r->group_records++;
  if (r->db[dbid].skip) return JET_errSuccess;
  if (!r->db[dbid].file) return JET_errLogFileCorrupt;
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
  r->pages[r->npages++] = (redo_page){ dbid, pgno, img, len, diff, diff ? get64(rec->payload + 16) : 0,
                                       diff ? get64(rec->payload + 24) : 0 };
  return JET_errSuccess;
}

/* Applies a difference to the page on disk, which must be its base. */
static JET_ERR apply_diff(redo *r, redo_db *d, const redo_page *p) {
  uint32_t ps = r->cfg.page_size;
  if (!r->scratch && !(r->scratch = malloc(ps))) return JET_errOutOfMemory;
  JET_ERR e = os_pread_full(d->file, r->scratch, ps, (uint64_t)p->pgno * ps);
  if (e == JET_errSuccess && (page_verify(r->scratch, ps, p->pgno) != PAGE_OK || page_lsn(r->scratch) != p->base ||
                              page_patch(r->scratch, ps, p->image, p->len) != 0)) {
    char what[64];
    snprintf(what, sizeof what, "page %u of", p->pgno);
    say(r, what, d->path);
    e = r->cfg.restore ? JET_errLogCorruptDuringHardRestore : JET_errLogFileCorrupt;
  }
  if (e == JET_errSuccess) {
    page_seal(r->scratch, ps, p->pgno, p->stamp);
    e = os_pwrite(d->file, r->scratch, ps, (uint64_t)p->pgno * ps);
  }
  return e;
}

static JET_ERR commit_rec(redo *r, const log_record *rec) {
  if (rec->len < 12) return JET_errLogFileCorrupt;
  uint64_t txid = get64(rec->payload);
  uint32_t count = get32(rec->payload + 8);
  JET_ERR e = JET_errSuccess;
  if (txid > r->max_txid) r->max_txid = txid;
  /* a commit applies exactly the page records of its group */
  if (txid == r->txid && r->group_records != count) {
    e = r->cfg.restore ? JET_errLogCorruptDuringHardRestore : JET_errLogFileCorrupt;
    if (r->cfg.detail)
      snprintf(r->cfg.detail, r->cfg.detail_cap, "log at generation %u: the commit of transaction %llu counts %u page "
               "records, its group has %u", (unsigned)LSN_GEN(rec->lsn), (unsigned long long)txid, (unsigned)count,
               (unsigned)r->group_records);
  }
  if (e == JET_errSuccess && txid == r->txid) {
    for (size_t i = 0; i < r->npages && e == JET_errSuccess; i++) {
      const redo_page *p = &r->pages[i];
      redo_db *d = &r->db[p->dbid];
      if (!d->file) return JET_errLogFileCorrupt;
      d->wrote = 1;
      e = p->diff ? apply_diff(r, d, p)
                  : os_pwrite(d->file, p->image, r->cfg.page_size, (uint64_t)p->pgno * r->cfg.page_size);
    }
  }
  drop_pages(r);
  r->txid = 0;
  r->group_records = 0;
  return e;
}

uint64_t redo_max_txid(redo *r) { return r->max_txid; }

static JET_ERR path_of(const log_record *rec, size_t off, char *path) {
  if (rec->len < off || rec->len - off > 4096) return JET_errLogFileCorrupt;
  memcpy(path, rec->payload + off, rec->len - off);
  path[rec->len - off] = 0;
  return JET_errSuccess;
}

JET_ERR redo_apply(redo *r, const log_record *rec) {
  char path[4097];
  JET_ERR e;
  int change = rec->type == LR_PAGE || rec->type == LR_PAGEDIFF || rec->type == LR_COMMIT;
  if (change && rec->lsn < r->cfg.apply_from) {
    size_t at = rec->type == LR_COMMIT ? 0 : 8;   /* where the record keeps its txid */
    if (rec->len >= at + 8 && get64(rec->payload + at) > r->max_txid) r->max_txid = get64(rec->payload + at);
    return JET_errSuccess;
  }
  switch (rec->type) {
  case LR_PAGE:
  case LR_PAGEDIFF: return page_rec(r, rec);
  case LR_COMMIT: return commit_rec(r, rec);
  case LR_CREATEDB: {
    if ((e = path_of(rec, 24, path)) != JET_errSuccess) return e;
    dbheader h = { .page_size = get32(rec->payload + 4), .state = DB_DIRTY };
    if (h.page_size != r->cfg.page_size) return JET_errLogFileCorrupt;
    memcpy(h.db_sig, rec->payload + 8, 16);
    memcpy(h.log_sig, r->cfg.sig.b, 16);
    return open_db(r, get32(rec->payload), path, &h);
  }
  case LR_ATTACH:
    if ((e = path_of(rec, 4, path)) != JET_errSuccess) return e;
    return open_db(r, get32(rec->payload), path, NULL);
  case LR_DETACH:
    if (rec->len < 4 || get32(rec->payload) < 1 || get32(rec->payload) > ESE_MAX_DB) return JET_errLogFileCorrupt;
    return close_db(r, get32(rec->payload), LSN_GEN(rec->lsn), r->cfg.fix);
  default:
    return JET_errSuccess;   /* records of later versions */
  }
}

JET_ERR redo_finish(redo *r, int ok, uint32_t gen) {
  JET_ERR e = JET_errSuccess;
  drop_pages(r);
  for (uint32_t i = 1; i <= ESE_MAX_DB; i++) {
    JET_ERR ce = close_db(r, i, gen, ok ? r->cfg.fix : NULL);
    if (e == JET_errSuccess) e = ce;
  }
  return e;
}

void redo_free(redo *r) {
  if (!r) return;
  redo_finish(r, 0, 0);
  free(r->pages);
  free(r->scratch);
  free(r);
}
