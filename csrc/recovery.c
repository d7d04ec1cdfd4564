/* recovery.c -- soft recovery at init: redo every committed transaction
 * from the checkpoint to the end of the log onto the database files, then
 * mark them clean and detached.  Redo writes whole page images, so it is
 * idempotent: a crash during recovery is recovered by the next init. */
#include "internal.h"
#include "page.h"
#include <stdlib.h>
#include <string.h>

typedef struct redo_db {
  esfile *file;
  char *path;
  uint32_t page_size;
} redo_db;

typedef struct redo_page {
  uint32_t dbid, pgno;
  uint8_t *image;
} redo_page;

typedef struct redo {
  esinst *inst;
  redo_db db[ESE_MAX_DB + 1];
  redo_page *pages;       /* images of the transaction being read */
  size_t npages, cap;
  uint64_t txid;
  log_sig sig;            /* of the stream being replayed */
} redo;

static void drop_pages(redo *r) {
  for (size_t i = 0; i < r->npages; i++) free(r->pages[i].image);
  r->npages = 0;
}

/* Finishes one database: synced and marked clean. */
static JET_ERR redo_close_db(redo *r, uint32_t dbid, uint32_t gen) {
  redo_db *d = &r->db[dbid];
  if (!d->file) return JET_errSuccess;
  dbheader h;
  JET_ERR e = os_sync(d->file);
  if (e == JET_errSuccess) e = dbheader_read(d->file, d->page_size, &h);
  if (e == JET_errSuccess && h.state == DB_DIRTY) {
    h.state = DB_CLEAN;
    h.gen_max = gen;
    e = dbheader_write(d->file, &h);
  }
  if (e) inst_detail(r->inst, "recovery of %s failed", d->path);
  os_close(d->file);
  free(d->path);
  memset(d, 0, sizeof *d);
  return e;
}

static JET_ERR redo_open_db(redo *r, uint32_t dbid, const char *path, const dbheader *fresh) {
  if (dbid < 1 || dbid > ESE_MAX_DB) return JET_errLogFileCorrupt;
  if (r->db[dbid].file) redo_close_db(r, dbid, 0);
  redo_db *d = &r->db[dbid];
  esfile *f;
  JET_ERR e = fresh ? os_open(r->inst->io, path, OS_WRITE | OS_CREATE, &f) : db_open_file(r->inst, path, 0, &f);
  if (e == JET_errSuccess && fresh) e = os_lock(f);
  if (e) {
    inst_detail(r->inst, "recovery needs database %s", path);
    return e;
  }
  dbheader h;
  uint32_t ps = fresh ? fresh->page_size : r->inst->prm.page_size;
  JET_ERR he = dbheader_read(f, ps, &h);
  if (he && fresh) he = dbheader_write(f, fresh);      /* created but never written */
  else if (he == JET_errSuccess && h.state == DB_BACKUP_COPY) he = JET_errSoftRecoveryOnBackupDatabase;
  if (he) {
    os_close(f);
    inst_detail(r->inst, "recovery cannot use database %s", path);
    return he;
  }
  if (!(d->path = strdup(path))) {
    os_close(f);
    return JET_errOutOfMemory;
  }
  d->file = f;
  d->page_size = ps;
  return JET_errSuccess;
}

static JET_ERR redo_page_rec(redo *r, const log_record *rec) {
  if (rec->len < 16) return JET_errLogFileCorrupt;
  uint32_t dbid = get32(rec->payload), pgno = get32(rec->payload + 4);
  uint64_t txid = get64(rec->payload + 8);
  if (dbid < 1 || dbid > ESE_MAX_DB || !r->db[dbid].file || rec->len - 16 != r->db[dbid].page_size)
    return JET_errLogFileCorrupt;
  if (txid != r->txid) {    /* an unfinished earlier transaction is dropped */
    drop_pages(r);
    r->txid = txid;
  }
  if (r->npages == r->cap) {
    size_t nc = r->cap ? r->cap * 2 : 64;
    redo_page *np = realloc(r->pages, nc * sizeof *np);
    if (!np) return JET_errOutOfMemory;
    r->pages = np;
    r->cap = nc;
  }
  uint8_t *img = malloc(rec->len - 16);
  if (!img) return JET_errOutOfMemory;
  memcpy(img, rec->payload + 16, rec->len - 16);
  r->pages[r->npages++] = (redo_page){ dbid, pgno, img };
  return JET_errSuccess;
}

static JET_ERR redo_commit(redo *r, const log_record *rec) {
  if (rec->len < 12) return JET_errLogFileCorrupt;
  uint64_t txid = get64(rec->payload);
  JET_ERR e = JET_errSuccess;
  if (txid == r->txid) {
    for (size_t i = 0; i < r->npages && e == JET_errSuccess; i++) {
      redo_db *d = &r->db[r->pages[i].dbid];
      if (!d->file) return JET_errLogFileCorrupt;
      e = os_pwrite(d->file, r->pages[i].image, d->page_size, (uint64_t)r->pages[i].pgno * d->page_size);
    }
  }
  drop_pages(r);
  r->txid = 0;
  return e;
}

static JET_ERR redo_record(redo *r, const log_record *rec) {
  char path[4097];
  switch (rec->type) {
  case LR_PAGE: return redo_page_rec(r, rec);
  case LR_COMMIT: return redo_commit(r, rec);
  case LR_CREATEDB: {
    if (rec->len < 24 || rec->len - 24 > 4096) return JET_errLogFileCorrupt;
    memcpy(path, rec->payload + 24, rec->len - 24);
    path[rec->len - 24] = 0;
    dbheader h = { .page_size = get32(rec->payload + 4), .state = DB_DIRTY };
    if (!page_size_valid(h.page_size)) return JET_errLogFileCorrupt;
    memcpy(h.db_sig, rec->payload + 8, 16);
    memcpy(h.log_sig, r->sig.b, 16);
    return redo_open_db(r, get32(rec->payload), path, &h);
  }
  case LR_ATTACH:
    if (rec->len < 4 || rec->len - 4 > 4096) return JET_errLogFileCorrupt;
    memcpy(path, rec->payload + 4, rec->len - 4);
    path[rec->len - 4] = 0;
    return redo_open_db(r, get32(rec->payload), path, NULL);
  case LR_DETACH:
    if (rec->len < 4 || get32(rec->payload) < 1 || get32(rec->payload) > ESE_MAX_DB) return JET_errLogFileCorrupt;
    return redo_close_db(r, get32(rec->payload), LSN_GEN(rec->lsn));
  default:
    return JET_errSuccess;   /* records of later versions or of backup bookkeeping */
  }
}

static JET_ERR new_stream(esinst *inst, const log_config *cfg, const char *chkp) {
  JET_ERR e = log_create(cfg, NULL, 1, 0, NULL, 0, &inst->log);
  if (e) return e;
  chkfile c = { .lsn = log_end(inst->log) };
  memcpy(&c.sig, log_signature(inst->log), sizeof c.sig);
  e = chk_write(inst->io, chkp, &c);
  if (e == JET_errSuccess) inst->checkpoint = c.lsn;
  return e;
}

JET_ERR recover(esinst *inst) {
  esparams *prm = &inst->prm;
  char *chkp = chk_path(prm);
  if (!chkp) return JET_errOutOfMemory;
  log_config cfg = { inst->io, prm->log_path, prm->base, prm->log_file_kib * 1024u, prm->page_size };
  chkfile chk;
  uint32_t lo, hi;
  int has_cur;
  JET_ERR ce = chk_read(inst->io, chkp, &chk);
  JET_ERR e = log_scan_dir(prm->log_path, prm->base, &lo, &hi, &has_cur);
  if (e == JET_errSuccess && ce == JET_errFileNotFound && !has_cur && lo == 0) {
    e = new_stream(inst, &cfg, chkp);
    free(chkp);
    return e;
  }
  if (e == JET_errSuccess && ce != JET_errSuccess && ce != JET_errFileNotFound) e = ce;
  if (e == JET_errSuccess && !has_cur) e = JET_errMissingLogFile;
  /* the size of existing logs wins over the parameter */
  log_header cur = { 0 };
  char *curpath = e ? NULL : log_file_name(prm->log_path, prm->base, 0);
  if (e == JET_errSuccess && !curpath) e = JET_errOutOfMemory;
  if (e == JET_errSuccess) e = log_read_header(inst->io, curpath, &cur);
  free(curpath);
  if (e == JET_errSuccess && cur.page_size != prm->page_size) e = JET_errPageSizeMismatch;
  if (e == JET_errSuccess && ce == JET_errSuccess && memcmp(chk.sig.b, cur.sig.b, 16) != 0)
    e = JET_errBadCheckpointSignature;
  cfg.file_size = cur.file_size;
  lsn_t from = ce == JET_errSuccess ? chk.lsn : LSN(lo ? lo : cur.gen, 0);
  redo r = { .inst = inst, .sig = cur.sig };
  log_header_clear(&cur);

  log_reader *rd = NULL;
  if (e == JET_errSuccess)
    e = log_reader_open(inst->io, prm->log_path, prm->base, prm->page_size, ce == JET_errSuccess ? &chk.sig : NULL,
                        from, LOG_READ_CURRENT, &rd);
  for (uint32_t i = 0; e == JET_errSuccess && ce == JET_errSuccess && i < chk.natt; i++)
    e = redo_open_db(&r, chk.att[i].dbid, chk.att[i].path, NULL);
  log_record rec;
  JET_ERR more = 0;
  while (e == JET_errSuccess && (more = log_reader_next(rd, &rec)) == 0) e = redo_record(&r, &rec);
  if (e == JET_errSuccess && more < 0) e = more;
  lsn_t end = rd ? log_reader_end(rd) : 0;
  drop_pages(&r);
  free(r.pages);
  for (uint32_t i = 1; i <= ESE_MAX_DB; i++) {
    if (e == JET_errSuccess) {
      e = redo_close_db(&r, i, LSN_GEN(end));
    } else {          /* failed: leave the files dirty for the next try */
      os_close(r.db[i].file);
      free(r.db[i].path);
    }
  }
  if (rd) log_reader_close(rd);
  if (ce == JET_errSuccess) chk_clear(&chk);
  if (e == JET_errSuccess) e = log_reopen(&cfg, end, &inst->log);
  if (e == JET_errSuccess) {
    chkfile c = { .lsn = end };
    memcpy(&c.sig, log_signature(inst->log), sizeof c.sig);
    e = chk_write(inst->io, chkp, &c);
    inst->checkpoint = end;
  }
  free(chkp);
  return e;
}
