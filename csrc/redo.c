/* redo.c -- replay of log records onto database files (see redo.h). */
#include "redo.h"
#include "page.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SKIP_UNCOVERED = 1, SKIP_OTHER = 2 };

/* A database file replay has open. */
typedef struct redo_db {
  esfile *file;
  char *path;
  int created, wrote;     /* created by a replayed LR_CREATEDB; a commit wrote to it */
  uint64_t dbtime_max;    /* the highest dbtime a replayed commit gave it */
  struct redo_db *next;
} redo_db;

typedef struct redo_page {
  uint32_t dbid, pgno;
  uint8_t *image;         /* a whole page, or the runs of a difference */
  size_t len;
  int diff;
  uint64_t base;          /* a difference: the dbtime of the page it applies to */
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
  uint8_t *scratch;       /* a page being patched */
};

static void say(redo *r, const char *what, const char *path) {
  if (r->cfg.detail) snprintf(r->cfg.detail, r->cfg.detail_cap, "%s %s", what, path);
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
  if (!r->cfg.fix) r->cfg.fix = clean_header;
  *out = r;
  return JET_errSuccess;
}

static void drop_pages(redo *r) {
  for (size_t i = 0; i < r->npages; i++) free(r->pages[i].image);
  r->npages = 0;
}


/* No id names d any more. */
static void unbind(redo *r, const redo_db *d) {
  for (uint32_t i = 1; i <= ESE_MAX_DB; i++)
    if (r->db[i] == d) r->db[i] = NULL;
}

/* Finishes one database file: synced and, when fix is given, its header
 * fixed; closed and forgotten (no id names it any more). */
static JET_ERR close_db(redo *r, redo_db *d, uint32_t gen, void (*fix)(dbheader *, uint32_t)) {
  JET_ERR e = JET_errSuccess;
  for (redo_db **pp = &r->files; *pp; pp = &(*pp)->next)
    if (*pp == d) {
      *pp = d->next;
      break;
    }
  unbind(r, d);
  if (fix && d->created && !d->wrote) {
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
      int later = e == JET_errSuccess && d->dbtime_max > h.dbtime_last;
      if (later) h.dbtime_last = d->dbtime_max;   /* max(header, every dbtime replayed) */
      if (e == JET_errSuccess && (later || h.state != DB_CLEAN)) {
        if (h.state != DB_CLEAN) fix(&h, gen);
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
  return close_db(r, d, gen, r->cfg.fix);
}

/* The open file that is path (the same name, or the same file under
 * another name), or NULL. */
static redo_db *open_file_of(redo *r, const char *path) {
  for (redo_db *d = r->files; d; d = d->next)
    if (!strcmp(d->path, path) || os_same_file(d->path, path)) return d;
  return NULL;
}

/* Attaches a under its id: the database the id named before is detached
 * (implicitly), a file open under another id moves to this one, else the
 * file is opened (fresh: LR_CREATEDB's header, written when the crash came
 * before the header was). */
static JET_ERR open_db(redo *r, const log_attach *a, uint32_t gen, const dbheader *fresh) {
  uint32_t dbid = a->dbid;
  if (dbid < 1 || dbid > ESE_MAX_DB) return JET_errLogFileCorrupt;
  char *path = NULL;
  JET_ERR e = r->cfg.map ? r->cfg.map(r->cfg.ud, a, fresh != NULL, &path)
                         : ((path = strdup(a->path)) ? 0 : JET_errOutOfMemory);
  if (e) return e;
  redo_db *d = path ? open_file_of(r, path) : NULL;
  if (!d || r->db[dbid] != d) e = end_id(r, dbid, gen);
  if (e || !path) {
    r->skip[dbid] = path ? 0 : SKIP_UNCOVERED;
    free(path);
    return e;
  }
  if (d) {                     /* the same file: it moves to this id */
    unbind(r, d);
    r->db[dbid] = d;
    free(path);
    return JET_errSuccess;
  }
  esfile *f = NULL;
  /* a restore wrote this file itself (O_NOFOLLOW): a link there now was
   * planted since, and is never followed */
  e = os_open(r->cfg.io, path, OS_WRITE | (r->cfg.restore ? OS_NOFOLLOW : fresh ? OS_CREATE : 0), &f);
  if (e == JET_errSuccess) e = os_lock(f);
  dbheader h;
  if (e == JET_errSuccess) {
    JET_ERR he = dbheader_read(f, r->cfg.page_size, &h);
    if (he == JET_errDatabaseCorrupted && fresh && !r->cfg.restore)
      he = dbheader_write(f, fresh);   /* created but never written (never another format's header) */
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
  d->created = fresh != NULL && !r->cfg.restore;
  d->next = r->files;
  r->files = d;
  r->db[dbid] = d;
  return JET_errSuccess;
}

JET_ERR redo_attach(redo *r, const log_attach *a) { return open_db(r, a, 0, NULL); }

static JET_ERR page_rec(redo *r, const log_record *rec) {
  int diff = rec->type == LR_PAGEDIFF;
  uint32_t hlen = diff ? 24 : 16;
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
  r->pages[r->npages++] = (redo_page){ dbid, pgno, img, len, diff, diff ? get64(rec->payload + 16) : 0 };
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

/* Applies a difference to the page on disk, which must be its base (the
 * page's dbtime is the difference's), and seals it with the commit's
 * dbtime T. */
static JET_ERR apply_diff(redo *r, redo_db *d, const redo_page *p, uint64_t T) {
  uint32_t ps = r->cfg.page_size;
  if (!r->scratch && !(r->scratch = malloc(ps))) return JET_errOutOfMemory;
  JET_ERR e = os_pread_full(d->file, r->scratch, ps, (uint64_t)p->pgno * ps);
  if (e) return e;
  if (page_verify(r->scratch, ps, p->pgno) != PAGE_OK)
    return page_mismatch(r, d, p->pgno, "a difference meets a page that fails verification", 0, p->base);
  if (page_dbtime(r->scratch) != p->base)
    return page_mismatch(r, d, p->pgno, "a difference meets another page version than its base",
                         page_dbtime(r->scratch), p->base);
  if (page_patch(r->scratch, ps, p->image, p->len) != 0)
    return page_mismatch(r, d, p->pgno, "a difference lies outside the page", page_dbtime(r->scratch), p->base);
  page_seal(r->scratch, ps, p->pgno, T);
  return os_pwrite(d->file, r->scratch, ps, (uint64_t)p->pgno * ps);
}

/* Reads the per-database dbtimes of an LR_COMMIT (u64 txid, u32 page
 * records, u32 databases, then per database u32 id + u64 dbtime) into
 * T[id]; a commit without them (12 bytes: written before database format
 * 2) or of another length is corrupt. */
static JET_ERR commit_times(redo *r, const log_record *rec, uint64_t T[ESE_MAX_DB + 1]) {
  memset(T, 0, sizeof(uint64_t) * (ESE_MAX_DB + 1));
  uint32_t ndb = rec->len >= 16 ? get32(rec->payload + 12) : 0;
  if (rec->len < 16 || ndb > ESE_MAX_DB || rec->len != 16 + 12 * ndb) {
    if (r->cfg.detail)
      snprintf(r->cfg.detail, r->cfg.detail_cap, "log at generation %u: the commit of transaction %llu carries no "
               "valid database times (a log written before database format 2?)", (unsigned)LSN_GEN(rec->lsn),
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

static JET_ERR commit_rec(redo *r, const log_record *rec) {
  if (rec->len < 12) return JET_errLogFileCorrupt;
  uint64_t txid = get64(rec->payload);
  uint32_t count = get32(rec->payload + 8);
  uint64_t T[ESE_MAX_DB + 1];
  JET_ERR e = JET_errSuccess;
  if (txid > r->max_txid) r->max_txid = txid;
  /* a commit applies exactly the page records of its group */
  if (txid == r->txid && r->group_records != count) {
    e = corrupt(r);
    if (r->cfg.detail)
      snprintf(r->cfg.detail, r->cfg.detail_cap, "log at generation %u: the commit of transaction %llu counts %u page "
               "records, its group has %u", (unsigned)LSN_GEN(rec->lsn), (unsigned long long)txid, (unsigned)count,
               (unsigned)r->group_records);
  }
  if (e == JET_errSuccess) e = commit_times(r, rec, T);
  if (e == JET_errSuccess && txid == r->txid && r->tx_other)
    e = JET_errBadDbSignature;   /* the detail names the file (open_db) */
  if (e == JET_errSuccess && txid == r->txid) {
    for (size_t i = 0; i < r->npages && e == JET_errSuccess; i++) {
      const redo_page *p = &r->pages[i];
      redo_db *d = r->db[p->dbid];
      if (!d || !T[p->dbid]) {
        e = corrupt(r);
        break;
      }
      d->wrote = 1;
      if (p->diff) e = apply_diff(r, d, p, T[p->dbid]);
      else if (page_dbtime(p->image) != T[p->dbid])   /* an image carries its commit's dbtime */
        e = page_mismatch(r, d, p->pgno, "a page image of another dbtime than its commit's", page_dbtime(p->image),
                          T[p->dbid]);
      else e = os_pwrite(d->file, p->image, r->cfg.page_size, (uint64_t)p->pgno * r->cfg.page_size);
    }
    for (uint32_t id = 1; id <= ESE_MAX_DB && e == JET_errSuccess; id++)
      if (T[id] && r->db[id] && T[id] > r->db[id]->dbtime_max) r->db[id]->dbtime_max = T[id];
  }
  drop_pages(r);
  r->txid = 0;
  r->group_records = 0;
  r->tx_other = 0;
  return e;
}

uint64_t redo_max_txid(redo *r) { return r->max_txid; }

/* The attachment of an LR_CREATEDB / LR_ATTACH record (either format);
 * *page_size from LR_CREATEDB.  Strings in *a are new. */
static JET_ERR entry_of(const log_record *rec, log_attach *a, uint32_t *page_size) {
  const uint8_t *p = rec->payload;
  size_t n = rec->len, used;
  int v1 = rec->type == LR_CREATEDB_V1 || rec->type == LR_ATTACH_V1;
  memset(a, 0, sizeof *a);
  if (rec->type == LR_CREATEDB || rec->type == LR_CREATEDB_V1) {
    if (n < (v1 ? 24u : 4u)) return JET_errLogFileCorrupt;
    *page_size = get32(p + (v1 ? 4 : 0));
  }
  if (v1) {                    /* u32 dbid, [u32 page size, u8[16] signature,] path to the end */
    size_t off = rec->type == LR_CREATEDB_V1 ? 24 : 4;
    if (n < off || n - off > 4096) return JET_errLogFileCorrupt;
    a->dbid = get32(p);
    if (rec->type == LR_CREATEDB_V1) memcpy(a->sig, p + 8, 16);
    if (!(a->path = malloc(n - off + 1))) return JET_errOutOfMemory;
    memcpy(a->path, p + off, n - off);
    a->path[n - off] = 0;
    return JET_errSuccess;
  }
  size_t head = rec->type == LR_CREATEDB ? 4 : 0;
  JET_ERR e = log_entry_get(p + head, n - head, 0, a, &used);
  if (e == JET_errSuccess && (used != n - head || strlen(a->path) > 4096 || strlen(a->rel) > 4096)) {
    log_entry_clear(a);
    e = JET_errLogFileCorrupt;
  }
  return e;
}

JET_ERR redo_entry_of(const log_record *rec, log_attach *a) {
  uint32_t ps = 0;
  memset(a, 0, sizeof *a);
  switch (rec->type) {
  case LR_CREATEDB:
  case LR_CREATEDB_V1:
  case LR_ATTACH:
  case LR_ATTACH_V1: return entry_of(rec, a, &ps);
  default: return JET_errSuccess;
  }
}

static JET_ERR attach_rec(redo *r, const log_record *rec) {
  log_attach a;
  uint32_t ps = 0;
  JET_ERR e = entry_of(rec, &a, &ps);
  if (e) return e;
  int create = rec->type == LR_CREATEDB || rec->type == LR_CREATEDB_V1;
  dbheader h = { .page_size = ps, .state = DB_DIRTY };
  if (create && ps != r->cfg.page_size) e = JET_errLogFileCorrupt;
  memcpy(h.db_sig, a.sig, 16);
  memcpy(h.log_sig, r->cfg.sig.b, 16);
  if (e == JET_errSuccess) e = open_db(r, &a, LSN_GEN(rec->lsn), create ? &h : NULL);
  log_entry_clear(&a);
  return e;
}

JET_ERR redo_apply(redo *r, const log_record *rec) {
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
  case LR_CREATEDB:
  case LR_CREATEDB_V1:
  case LR_ATTACH:
  case LR_ATTACH_V1: return attach_rec(r, rec);
  case LR_DETACH:
    if (rec->len < 4 || get32(rec->payload) < 1 || get32(rec->payload) > ESE_MAX_DB) return JET_errLogFileCorrupt;
    return end_id(r, get32(rec->payload), LSN_GEN(rec->lsn));
  case LR_INIT: {              /* a new run: every earlier attachment ended */
    JET_ERR e = JET_errSuccess;
    for (uint32_t i = 1; i <= ESE_MAX_DB && e == JET_errSuccess; i++) e = end_id(r, i, LSN_GEN(rec->lsn));
    return e;
  }
  default:
    return JET_errSuccess;   /* records of later versions */
  }
}

JET_ERR redo_finish(redo *r, int ok, uint32_t gen) {
  JET_ERR e = JET_errSuccess;
  drop_pages(r);
  while (r->files) {
    JET_ERR ce = close_db(r, r->files, gen, ok ? r->cfg.fix : NULL);
    if (e == JET_errSuccess) e = ce;
  }
  memset(r->skip, 0, sizeof r->skip);
  return e;
}

void redo_free(redo *r) {
  if (!r) return;
  redo_finish(r, 0, 0);
  free(r->pages);
  free(r->scratch);
  free(r);
}
