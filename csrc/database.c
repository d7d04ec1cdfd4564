/* database.c -- the attached databases: the work of the database entry
 * points (db_create, db_attach, db_detach, db_open_for, db_close_for; the
 * entry points are jet_database.c's), the attachment table in the log, and
 * the log records of a commit's pending pages (db_commit_pending, for
 * txn.c). */
#include "database.h"
#include "checkpoint.h"
#include "table.h"
#include "page.h"
#include "pageop.h"
#include <assert.h>
#include <stdatomic.h>
#include <stdio.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

esdb *db_by_id(esinst *inst, JET_DBID dbid) {
  return dbid >= 1 && dbid <= ESE_MAX_DB ? inst->db[dbid] : NULL;
}

JET_ERR db_canon_path(const char *path, char **out) {
  if (!path || !*path) return JET_errInvalidPath;
  size_t n = strlen(path);
  if (n >= PATH_MAX || path[n - 1] == '/') return JET_errInvalidPath;
  char *dir = os_dirname(path);
  if (!dir) return JET_errOutOfMemory;
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  char *real;
  JET_ERR e = os_abs_path(dir, 1, &real);
  free(dir);
  if (e) return e;
  *out = os_join(real, base);
  free(real);
  return *out ? JET_errSuccess : JET_errOutOfMemory;
}

char *db_rel_path(const char *dir, const char *file) {
  /* common: the length of the longest common prefix of whole components */
  size_t common = 0, i = 0, dlen = strlen(dir);
  for (; dir[i] && dir[i] == file[i]; i++)
    if (dir[i] == '/') common = i + 1;
  if (!dir[i] && file[i] == '/') common = i + 1;        /* file is inside dir */
  else if (!dir[i] && i > 0 && dir[i - 1] == '/') common = i;
  size_t ups = 0;
  for (const char *p = dir + (common < dlen ? common : dlen); *p; ups++) {
    const char *slash = strchr(p, '/');
    p = slash ? slash + 1 : p + strlen(p);
  }
  size_t rest = strlen(file + common);
  char *out = malloc(ups * 3 + rest + 1);
  if (!out) return NULL;
  for (size_t k = 0; k < ups; k++) memcpy(out + 3 * k, "../", 3);
  memcpy(out + 3 * ups, file + common, rest + 1);
  return out;
}

/* The database attached under a canonical path, or NULL. */
static esdb *db_find(esinst *inst, const char *canon) {
  for (int i = 1; i <= ESE_MAX_DB; i++)
    if (inst->db[i] && !strcmp(inst->db[i]->path, canon)) return inst->db[i];
  return NULL;
}

JET_ERR db_by_path(esinst *inst, const char *path, esdb **out) {
  char *c;
  *out = NULL;
  JET_ERR e = db_canon_path(path, &c);
  if (e) return e == JET_errOutOfMemory ? e : JET_errSuccess;   /* a path no database has */
  *out = db_find(inst, c);
  free(c);
  return JET_errSuccess;
}

/* The lowest free database id, or 0 when ESE_MAX_DB are attached. */
static uint32_t free_dbid(const esinst *inst) {
  for (uint32_t i = 1; i <= ESE_MAX_DB; i++)
    if (!inst->db[i]) return i;
  return 0;
}

/* The attachment entry of a database (its strings borrowed). */
static log_attach entry_of(const esdb *db) {
  log_attach a = { db->dbid, db->path, db->rel, { 0 } };
  memcpy(a.sig, db->hdr.db_sig, 16);
  return a;
}

/* The attached databases' entries in att; returns how many. */
uint32_t db_attachments(const esinst *inst, log_attach att[ESE_MAX_DB]) {
  uint32_t n = 0;
  for (int i = 1; i <= ESE_MAX_DB; i++)
    if (inst->db[i]) att[n++] = entry_of(inst->db[i]);
  return n;
}

/* Whether one more database, at the canonical path, can be attached: a
 * free id, and every log file's header can list it with the others.
 * Checked before anything is logged or written. */
static JET_ERR room_for(esinst *inst, const char *path) {
  size_t len = strlen(path), most = log_attach_path_max();
  if (len > most) {
    /* no table can list it, whatever is attached: not a count problem */
    const char *base = strrchr(path, '/') + 1;   /* canonical: absolute */
    inst_detail(inst, "%.40s.../%.60s: the absolute path (the working folder included for a relative one) is %zu "
                "bytes, a log header lists at most %zu: use a shorter folder", path, base, len, most);
    return JET_errInvalidPath;
  }
  log_attach att[ESE_MAX_DB + 1];
  uint32_t n = db_attachments(inst, att);
  att[n] = (log_attach){ 0, (char *)path, NULL, { 0 } };
  if (free_dbid(inst) && log_attach_fits(att, n + 1)) return JET_errSuccess;
  inst_detail(inst, "%s: %u databases attached, the log header's attach table cannot list one more", path,
              (unsigned)n);
  return JET_errTooManyAttachedDatabases;
}

JET_ERR db_open_file(esinst *inst, const char *path, int create, esfile **out) {
  JET_ERR e = os_open(inst->io, path, OS_WRITE | (create ? OS_CREATE | OS_EXCL : 0), out);
  if (e == JET_errSuccess && (e = os_lock(*out)) != JET_errSuccess) {
    os_close(*out);
    *out = NULL;
    inst_detail(inst, "%s is in use by another instance or process", path);
  }
  return e;
}

/* A database goes away: the table handles and transaction writes that name
 * its id are left naming none (dbid 0: JET_errDatabaseNotFound), so they
 * never reach a database attached later under the same id.  A write set
 * entry keeps its hash slot (a lookup just no longer matches it). */
static void forget_dbid(esinst *inst, uint32_t dbid) {
  for (essession *s = inst->sessions; s; s = s->next) {
    for (estable *t = s->tables; t; t = t->next)
      if (t->dbid == dbid) t->dbid = 0;
    for (size_t i = 0; i < s->ws.n; i++)
      if (s->ws.ents[i].dbid == dbid) {
        s->ws.ents[i].dbid = 0;
        s->ws.sorted = 0;
      }
  }
}

void db_close(esinst *inst, esdb *db) {
  forget_dbid(inst, db->dbid);
  if (inst->dw) pthread_mutex_lock(dw_mutex(inst->dw));   /* as in db_register */
  inst->db[db->dbid] = NULL;
  if (inst->dw) pthread_mutex_unlock(dw_mutex(inst->dw));
  pager_close(db->pg);
  os_close(db->file);
  free(db->path);
  free(db->rel);
  free(db);
}

/* The path relative to the log folder, or NULL: none is recorded (only
 * the absolute path) when it would not fit a record or memory is short. */
static char *rel_of(const esinst *inst, const char *path) {
  char *rel = inst->log_real ? db_rel_path(inst->log_real, path) : NULL;
  if (rel && strlen(rel) > 4096) {
    free(rel);
    rel = NULL;
  }
  return rel;
}

/* The pager's ring_write hook: the pages, stamped with the database's
 * signature and their dbtime, as one batch of the instance's ring. */
static JET_ERR ring_write(void *ud, const uint32_t *pgnos, const uint8_t *const *pages, size_t n) {
  esdb *db = ud;
  dw_image v[DW_MAX_IMAGES];
  assert(db->inst->dw && n <= dw_batch_max(db->inst->dw) && n <= DW_MAX_IMAGES);
  for (size_t i = 0; i < n; i++)
    v[i] = (dw_image){ db->hdr.db_sig, pgnos[i], get64(pages[i] + DW_PAGE_DBTIME_OFF), pages[i] };
  uint64_t seq;
  return dw_write(db->inst->dw, v, n, &seq);
}

static JET_ERR db_register(esinst *inst, char *path, esfile *f, const dbheader *h, esdb **out) {
  uint32_t dbid = free_dbid(inst);
  if (!dbid) return JET_errOutOfMemory;
  esdb *db = calloc(1, sizeof *db);
  if (!db) return JET_errOutOfMemory;
  assert(inst->dw && "a running instance has its ring (recovery made it)");
  pager_hooks hooks = { inst_flush_log_hook, inst, ring_write, db, dw_batch_max(inst->dw), dw_mutex(inst->dw),
                        inst_free_room_hook };
  JET_ERR e = pager_open(f, inst->prm.page_size, inst->prm.cache_pages, hooks, &db->pg);
  if (e) { free(db); return e; }
  db->rel = rel_of(inst, path);
  db->dbid = dbid;
  db->inst = inst;
  db->path = path;
  db->file = f;
  db->hdr = *h;
  /* the ring's sync_data hook (ckpt_sync_databases) reads inst->db under
   * the ring's writers' lock alone while a checkpoint batch is in flight */
  pthread_mutex_lock(dw_mutex(inst->dw));
  inst->db[dbid] = db;
  pthread_mutex_unlock(dw_mutex(inst->dw));
  *out = db;
  return JET_errSuccess;
}

/* A clean database holds every page it allocated, whole: its size is whole
 * pages and reaches the space page's count.  A file cut short or torn at
 * its end is JET_errDatabaseCorrupted at attach, before anything is logged
 * or written (not on the first read of a missing page). */
static JET_ERR whole_file(esinst *inst, esdb *db) {
  uint32_t ps = pager_page_size(db->pg), next;
  uint64_t size;
  JET_ERR e = os_size(db->file, &size);
  if (e == JET_errSuccess) e = pager_page_count(db->pg, &next);
  if (e || (size % ps == 0 && size / ps >= next)) return e;
  inst_detail(inst, "%s: %llu bytes, %u pages of %u bytes by its space page: a clean database cut short", db->path,
              (unsigned long long)size, (unsigned)next, (unsigned)ps);
  return JET_errDatabaseCorrupted;
}

JET_ERR db_log_attachments(esinst *inst) {
  log_attach att[ESE_MAX_DB];
  uint32_t n = db_attachments(inst, att);
  return log_set_attachments(inst->log, att, n);
}

/* Logs LR_CREATEDB (with the page size) or LR_ATTACH of the attachment a
 * (with pt, the clean point the file's header had), and makes it durable;
 * *lsn: where. */
static JET_ERR log_db_entry(esinst *inst, uint8_t type, const log_attach *a, uint32_t page_size, const dbpoint *pt,
                            lsn_t *lsn) {
  size_t head = type == LR_CREATEDB ? 4 : 0, body = log_entry_size(a), n = head + body + (pt ? DBPOINT_SIZE : 0);
  uint8_t *buf = malloc(n);
  if (!buf) return JET_errOutOfMemory;
  put32(buf, page_size);
  log_entry_put(buf + head, a);
  if (pt) dbpoint_put(buf + head + body, pt);
  JET_ERR e = log_append(inst->log, type, buf, n, lsn);
  free(buf);
  if (e == JET_errSuccess) e = log_flush(inst->log, *lsn);
  return inst_fatal(inst, e);
}

/* Detach and a clean term: LR_DETACH of db (its id, the time and its exact
 * last dbtime) made durable, then its header clean with that clean point
 * (dbheader.h), which the next attach logs and a replay of that attach
 * compares. */
JET_ERR db_write_clean(esinst *inst, esdb *db) {
  uint8_t rec[20];
  uint64_t now = os_now_us();
  put32(rec, db->dbid);
  put64(rec + 4, now);
  put64(rec + 12, db->dbtime);
  lsn_t lsn;
  JET_ERR e = log_append(inst->log, LR_DETACH, rec, sizeof rec, &lsn);
  if (e == JET_errSuccess) e = log_flush(inst->log, lsn);
  if (e) return inst_fatal(inst, e);
  db->hdr.state = DB_CLEAN;
  db->hdr.gen_max = log_generation(inst->log);
  db->hdr.dbtime_last = db->dbtime;   /* every page is flushed: the reservation is not needed */
  db->hdr.clean_lsn = lsn;
  db->hdr.clean_time = now;
  return dbheader_write(db->file, &db->hdr);
}

static void header_new(esinst *inst, dbheader *h) {
  memset(h, 0, sizeof *h);
  h->page_size = inst->prm.page_size;
  h->state = DB_DIRTY;
  os_random(h->db_sig, sizeof h->db_sig);
  memcpy(h->log_sig, log_signature(inst->log)->b, 16);
  h->gen_min = h->gen_max = log_generation(inst->log);
  h->created = os_now_us();
  h->dbtime_last = DBTIME_RESERVE;   /* esdb.dbtime starts at 0 */
}

JET_ERR db_create(essession *s, const char *szFilename, JET_DBID *pdbid) {
  assert(inst_lock_held(s->inst));
  JET_ERR e = JET_errSuccess;
  esinst *inst = s->inst;
  char *path = NULL;
  esfile *f = NULL;
  esdb *db = NULL;
  dbheader h;
  if (!pdbid) e = JET_errInvalidParameter;
  else if (inst->backup) e = JET_errBackupInProgress;
  if (e == JET_errSuccess) e = db_canon_path(szFilename, &path);
  if (e == JET_errSuccess && os_exists(path)) e = JET_errFileAlreadyExists;
  if (e == JET_errSuccess) e = room_for(inst, path);
  if (e == JET_errSuccess) {
    header_new(inst, &h);
    log_attach a = { free_dbid(inst), path, rel_of(inst, path), { 0 } };
    memcpy(a.sig, h.db_sig, 16);
    lsn_t at;
    e = log_db_entry(inst, LR_CREATEDB, &a, h.page_size, NULL, &at);
    free(a.rel);
    h.attach_lsn = at;
  }
  if (e == JET_errSuccess) e = db_open_file(inst, path, 1, &f);
  if (e == JET_errSuccess) e = dbheader_write(f, &h);
  if (e == JET_errSuccess && (e = db_register(inst, path, f, &h, &db)) == JET_errSuccess) {
    path = NULL;
    f = NULL;
    uint32_t root;
    e = pager_format(db->pg);
    if (e == JET_errSuccess) e = bt_create(db->pg, &root);
    if (e == JET_errSuccess) e = pager_set_root(db->pg, root);
    if (e == JET_errSuccess) e = db_log_attachments(inst);
    if (e) {                     /* db_close drops its pending pages */
      char *p = strdup(db->path);
      db_close(inst, db);
      if (p) { os_unlink(inst->io, p); free(p); }
    }
  }
  if (e) {
    if (f) { os_close(f); os_unlink(inst->io, path); }
    free(path);
    session_detail(s, "%s", inst->detail);
    return e;
  }
  s->dbopen[db->dbid]++;
  db->opens++;
  *pdbid = db->dbid;
  return JET_errSuccess;
}

JET_ERR db_attach(essession *s, const char *szFilename) {
  assert(inst_lock_held(s->inst));
  JET_ERR e = JET_errSuccess;
  esinst *inst = s->inst;
  char *path = NULL;
  esfile *f = NULL;
  dbheader h;
  esdb *db = NULL;
  int cut = 0;   /* whole_file refused the file and said why */
  if (inst->backup) e = JET_errBackupInProgress;
  if (e == JET_errSuccess) e = db_canon_path(szFilename, &path);
  if (e == JET_errSuccess && db_find(inst, path)) {   /* attached already: nothing to do */
    free(path);
    return JET_errSuccess;
  }
  if (e == JET_errSuccess) e = room_for(inst, path);
  if (e == JET_errSuccess) e = db_open_file(inst, path, 0, &f);
  if (e == JET_errSuccess) e = dbheader_read(f, inst->prm.page_size, &h);
  if (e == JET_errSuccess) {
    if (h.state == DB_BACKUP_COPY) e = JET_errSoftRecoveryOnBackupDatabase;
    else if (h.state != DB_CLEAN) e = JET_errDatabaseDirtyShutdown;
  }
  if (e == JET_errSuccess) e = db_register(inst, path, f, &h, &db);
  if (e == JET_errSuccess) {
    path = NULL;
    f = NULL;
    db->dbtime = h.dbtime_last;
    uint32_t root;
    e = pager_get_root(db->pg, &root);
    if (e == JET_errSuccess && (e = whole_file(inst, db)) == JET_errDatabaseCorrupted) cut = 1;
    lsn_t at = 0;
    if (e == JET_errSuccess) {
      log_attach a = entry_of(db);
      dbpoint pt = dbheader_point(&h);   /* what the header says now: a replay of this attach compares it */
      e = log_db_entry(inst, LR_ATTACH, &a, 0, &pt, &at);
    }
    if (e == JET_errSuccess) {
      db->hdr.state = DB_DIRTY;
      db->hdr.attach_lsn = at;
      /* The backup bookkeeping counts generations of the log stream the
       * header names: a database of another stream (another instance's, a
       * log folder made anew) has had no full backup of this one, so no
       * incremental of this stream may build on it (ESE resets it too). */
      if (memcmp(db->hdr.log_sig, log_signature(inst->log)->b, 16))
        for (int k = BK_FULL; k <= BK_COPY; k++) db->hdr.backup[k] = (bkrecord){ 0, 0, 0 };
      memcpy(db->hdr.log_sig, log_signature(inst->log)->b, 16);
      db->hdr.gen_min = db->hdr.gen_max = log_generation(inst->log);
      db->hdr.dbtime_last = db->dbtime + DBTIME_RESERVE;   /* the reservation (dbheader.h) */
      e = dbheader_write(db->file, &db->hdr);
    }
    if (e == JET_errSuccess) e = db_log_attachments(inst);
    if (e) {
      if (db->pg && pager_error_detail(db->pg)[0]) inst_detail(inst, "%s", pager_error_detail(db->pg));
      db_close(inst, db);
    }
  }
  if (e) {
    if (e == JET_errInvalidDatabaseVersion)
      inst_detail(inst, "%s: database format %u, this engine reads formats %u to %u (dump and reload it with the "
                  "engine that wrote it)", szFilename, (unsigned)h.version, (unsigned)DB_FORMAT_MIN, (unsigned)DB_FORMAT);
    else if ((e == JET_errDatabaseCorrupted && !cut) || e == JET_errPageSizeMismatch ||
             e == JET_errSoftRecoveryOnBackupDatabase || e == JET_errDatabaseDirtyShutdown)
      inst_detail(inst, "%s", szFilename);
    session_detail(s, "%s", inst->detail);
  }
  os_close(f);
  free(path);
  return e;
}

/* Flushes and marks the database clean, then forgets it. */
static JET_ERR detach_one(esinst *inst, esdb *db) {
  JET_ERR e = ckpt_take(inst);
  if (e == JET_errSuccess) e = db_write_clean(inst, db);
  if (e) return inst_fatal(inst, e);
  vs_drop_db(&inst->vs, db->dbid);   /* none (JetDetachDatabase refuses while a snapshot needs one) */
  db_close(inst, db);
  e = db_log_attachments(inst);
  if (e == JET_errSuccess) e = ckpt_take(inst);
  return e;
}

JET_ERR db_detach(essession *s, const char *szFilename) {
  assert(inst_lock_held(s->inst));
  esinst *inst = s->inst;
  /* A checkpoint slice's I/O (Begin's, no backup yet) runs without the
   * lock: wait for it before the checks, so that they still hold when
   * detach_one acts (ckpt_take's wait released the lock after them: a
   * session opened the database, or Begin made its backup, meanwhile and
   * the detach closed it under them).  The lock stays held from here. */
  ckpt_wait_idle(inst);
  JET_ERR e = inst_gate(inst);
  esdb *only = NULL;
  if (e == JET_errSuccess && szFilename) e = db_by_path(inst, szFilename, &only);
  if (e == JET_errSuccess && inst->backup) e = JET_errBackupInProgress;
  else if (e == JET_errSuccess && szFilename && !only) {
    session_detail(s, "%s is not attached to this instance", szFilename);
    e = JET_errDatabaseNotFound;
  }
  for (int i = 1; e == JET_errSuccess && i <= ESE_MAX_DB; i++) {
    esdb *db = inst->db[i];
    if (!db || (only && db != only)) continue;
    if (db->opens) {
      /* say who holds it: a session's own open handles are the usual cause */
      int mine = s->dbopen[db->dbid];
      session_detail(s, "%s is open %d time%s (%d by this session, %d by others): close every handle of it "
                     "(JetCloseDatabase; in Lua db:close(), or end the session) first",
                     db->path, db->opens, db->opens == 1 ? "" : "s", mine, db->opens - mine);
      e = JET_errDatabaseInUse;
    } else if (vs_has_db(&inst->vs, db->dbid)) {
      /* an open snapshot needs its versions: after a detach and attach it
       * would read later commits and write over them without a conflict */
      session_detail(s, "an open transaction's snapshot still needs versions of %s", db->path);
      e = JET_errDatabaseInUse;
    } else e = detach_one(inst, db);
  }
  return e;
}

JET_ERR db_open_for(essession *s, const char *szFilename, JET_DBID *pdbid) {
  assert(inst_lock_held(s->inst));
  if (!pdbid) return JET_errInvalidParameter;
  esdb *db;
  JET_ERR e = db_by_path(s->inst, szFilename, &db);
  if (e) return e;
  if (!db) {
    /* after a restore, open without attach is the usual cause: say so */
    session_detail(s, "%s is not attached to this instance: attach it first (JetAttachDatabase; in Lua "
                   "s:attach_database(path)), or create it (JetCreateDatabase)", szFilename ? szFilename : "(null)");
    return JET_errDatabaseNotFound;
  }
  s->dbopen[db->dbid]++;
  db->opens++;
  *pdbid = db->dbid;
  return JET_errSuccess;
}

JET_ERR db_close_for(essession *s, JET_DBID dbid) {
  assert(inst_lock_held(s->inst));
  esdb *db = db_by_id(s->inst, dbid);
  if (!db || s->dbopen[dbid] == 0) return JET_errDatabaseNotFound;
  s->dbopen[dbid]--;
  db->opens--;
  return JET_errSuccess;
}

/* ---- commit of pending pages ------------------------------------------- */

/* Logs one pending page as its difference from base, the page before the
 * change; a page new in this commit (base NULL) as a difference from an
 * all-zero page of dbtime 0.  The page is stamped first with dbtime T, the
 * commit's time for its database (its checksum is the pager's to compute
 * when the page leaves the cache: pager.h, checksum rule); the difference
 * names the dbtime of its
 * base, which replay finds on the page.  No page goes to the log whole: a
 * torn page is the double-write ring's to repair (pager.h).  ready: 1 +
 * the size of the page's difference from base already in inst->diffbuf
 * (diff_if_smaller made it), 0: made here. */
static JET_ERR log_page(esinst *inst, esdb *db, uint32_t pgno, uint8_t *page, const uint8_t *base, uint64_t txid,
                        uint64_t T, size_t ready) {
  uint32_t ps = db->hdr.page_size;
  page_stamp(page, pgno, T);   /* bytes 4 .. 15 only: a difference starts at 16 */
  if (!inst->diffbuf && !(inst->diffbuf = malloc(PAGE_DIFF_MAX(ps) + ps))) return JET_errOutOfMemory;
  uint8_t *zero = inst->diffbuf + PAGE_DIFF_MAX(ps);   /* the base of a new page, never written */
  if (!base && !ready) memset(zero, 0, ps);
  uint8_t head[24 + 4];
  put32(head, db->dbid);
  put32(head + 4, pgno);
  put64(head + 8, txid);
  put64(head + 16, base ? page_dbtime(base) : 0);
  lsn_t l;
  if (!ready && page_type(page) == PAGE_LVDATA) {
    /* a long value's data page is written whole, once per value: one run
     * (page_span's), its header after the record's head and its
     * bytes sent from the page, not copied into diffbuf first */
    size_t len = page_span(base ? base : zero, page, ps, head + 24);
    return log_append2(inst->log, LR_PAGEDIFF, head, len ? 28 : 24, page + (len ? get16(head + 24) : 0), len, &l);
  }
  size_t n = ready ? ready - 1 : page_diff(base ? base : zero, page, ps, inst->diffbuf);
  return log_append2(inst->log, LR_PAGEDIFF, head, 24, inst->diffbuf, n, &l);
}

_Static_assert((int)LR_INSERT == (int)PO_INSERT && (int)LR_REPLACE == (int)PO_REPLACE && (int)LR_DELETE == (int)PO_DELETE &&
               (int)LR_SPLIT == (int)PO_SPLIT && (int)LR_NEWPAGE == (int)PO_NEWPAGE &&
               (int)LR_UNLINK == (int)PO_UNLINK && (int)LR_FREEPAGE == (int)PO_FREEPAGE,
               "operation record types are pageop's");

/* ESE_VERIFY_REPLAY=1 (make test, make check): every commit replays its
 * operation records onto copies of the pages from before it and compares
 * them with the live pages (pageop.h, determinism rule 4). */
static int verify_replay(void) {
  static atomic_int v = -1;
  int x = atomic_load(&v);
  if (x < 0) {
    const char *s = getenv("ESE_VERIFY_REPLAY");
    x = s && *s && strcmp(s, "0") != 0;
    atomic_store(&v, x);
  }
  return x;
}

/* The operation records ops[0..n) of page pgno replayed onto pre, stamped
 * with T, must give page (stamped; bytes 0 .. 3, the checksum, are stale in
 * the cache and not compared): else a determinism bug, a fatal error of
 * the commit naming the page and the first differing byte. */
static JET_ERR verify_ops(esinst *inst, esdb *db, uint32_t pgno, const uint8_t *page, const uint8_t *pre,
                          const uint8_t *ops, size_t n, uint64_t T) {
  uint32_t ps = db->hdr.page_size;
  uint8_t *copy = malloc(ps);
  if (!copy) return JET_errOutOfMemory;
  if (pre) memcpy(copy, pre, ps);
  else memset(copy, 0, ps);     /* a page new at the end of the file */
  int r = PO_OK;
  for (size_t off = 0; r == PO_OK && off < n;) {
    int type;
    unsigned slot;
    const uint8_t *body;
    size_t blen;
    r = pageop_next(ops, n, &off, &type, &slot, &body, &blen);
    if (r == PO_OK) r = pageop_apply(copy, ps, type, slot, body, blen);
  }
  size_t at = 4;
  if (r == PO_OK) {
    page_stamp(copy, pgno, T);
    while (at < ps && copy[at] == page[at]) at++;
  }
  free(copy);
  if (r == PO_OK && at == ps) return JET_errSuccess;
  if (r == PO_OK)
    inst_detail(inst, "ESE_VERIFY_REPLAY: the operation records of page %u of %s replayed give other bytes than the "
                "live page from byte %zu on (a determinism bug)", (unsigned)pgno, db->path, at);
  else
    inst_detail(inst, "ESE_VERIFY_REPLAY: an operation record of page %u of %s does not replay (result %d: a "
                "determinism bug)", (unsigned)pgno, db->path, r);
  fprintf(stderr, "ese: %s\n", inst->detail);
  return JET_errDatabaseCorrupted;
}

/* Logs pending page k, pgno, as its operation records ops[0..n) (pager.h
 * pager_pending_ops), each naming the page's dbtime before the commit
 * (pre's header); the page is stamped with T.  *count += the records. */
static JET_ERR log_ops(esinst *inst, esdb *db, size_t k, uint32_t pgno, uint8_t *page, const uint8_t *pre,
                       const uint8_t *ops, size_t n, uint64_t txid, uint64_t T, uint32_t *count) {
  uint8_t head[LR_OP_HDR];
  page_stamp(page, pgno, T);
  head[0] = (uint8_t)db->dbid;
  head[1] = 0;
  put32(head + 4, pgno);
  put64(head + 8, txid);
  put64(head + 16, pre ? page_dbtime(pre) : 0);
  for (size_t off = 0; off < n;) {
    int type;
    unsigned slot;
    const uint8_t *body;
    size_t blen;
    lsn_t l;
    if (pageop_next(ops, n, &off, &type, &slot, &body, &blen)) return JET_errDatabaseCorrupted;   /* never: the pager's own */
    put16(head + 2, (uint16_t)slot);
    JET_ERR e = log_append2(inst->log, (uint8_t)type, head, sizeof head, body, blen, &l);
    if (e) return e;
    (*count)++;
  }
  if (!verify_replay()) return JET_errSuccess;
  const uint8_t *whole;
  JET_ERR e = pager_pending_pre(db->pg, k, &whole);
  return e ? e : verify_ops(inst, db, pgno, page, whole, ops, n, T);
}

/* Whether the operation records ops[0..n) of pending page k cost the log
 * more than its difference from the page before (a page changed by many
 * records in one commit, as in a bulk load): then it is logged as the
 * difference, which is left in inst->diffbuf, and the result is 1 + its
 * size (log_page's ready); else 0.  Only records of more than
 * OPS_CHECK_DIFF bytes are compared (a single-record commit never pays for
 * page_diff). */
#define OPS_CHECK_DIFF 1024
/* An entry of n bytes (PO_ENTRY_HDR + body) frames to at most
 * 12 + LR_OP_HDR + body + 7 bytes, at most OPS_FRAMED_MAX times n: records
 * of up to OPS_CHECK_DIFF / OPS_FRAMED_MAX bytes are not framed one by one. */
#define OPS_FRAMED_MAX (1 + (12 + LR_OP_HDR + 7) / PO_ENTRY_HDR)
static size_t diff_if_smaller(esinst *inst, esdb *db, size_t k, const uint8_t *page, const uint8_t *ops, size_t n) {
  uint32_t ps = db->hdr.page_size;
  size_t framed = 0;
  if (n * OPS_FRAMED_MAX <= OPS_CHECK_DIFF) return 0;
  for (size_t off = 0; off < n;) {
    int type;
    unsigned slot;
    const uint8_t *body;
    size_t blen;
    if (pageop_next(ops, n, &off, &type, &slot, &body, &blen)) return 1;
    framed += (12 + LR_OP_HDR + blen + 7) & ~(size_t)7;
  }
  if (framed <= OPS_CHECK_DIFF) return 0;
  if (!inst->diffbuf && !(inst->diffbuf = malloc(PAGE_DIFF_MAX(ps) + ps))) return 0;
  const uint8_t *pre;
  if (pager_pending_pre(db->pg, k, &pre)) return 0;   /* no memory: logged as its records */
  if (!pre) {                   /* a new page: its difference from zeros (log_page's base) */
    memset(inst->diffbuf + PAGE_DIFF_MAX(ps), 0, ps);
    pre = inst->diffbuf + PAGE_DIFF_MAX(ps);
  }
  size_t d = page_diff(pre, page, ps, inst->diffbuf);
  return ((12 + 24 + d + 7) & ~(size_t)7) < framed ? d + 1 : 0;
}

/* The dbtime the commit in progress gives db: one above the last.  When
 * it passes the header's reservation, the header reserves the next
 * DBTIME_RESERVE first (written and synced before any page carries it). */
static JET_ERR next_dbtime(esdb *db, uint64_t *T) {
  *T = db->dbtime + 1;
  if (*T <= db->hdr.dbtime_last) return JET_errSuccess;
  db->hdr.dbtime_last = db->dbtime + DBTIME_RESERVE;
  return dbheader_write(db->file, &db->hdr);
}

JET_ERR db_commit_pending(esinst *inst, uint64_t txid, lsn_t *commit_lsn) {
  uint32_t total = 0, ndb = 0;
  uint64_t stamp[ESE_MAX_DB + 1] = { 0 };   /* the dbtime each database's pages get, 0: untouched */
  uint8_t rec[16 + 12 * ESE_MAX_DB + 8];
  JET_ERR e = JET_errSuccess;
  for (int i = 1; e == JET_errSuccess && i <= ESE_MAX_DB; i++) {
    esdb *db = inst->db[i];
    if (!db) continue;
    uint32_t *pgnos;
    uint8_t **pages;
    const uint8_t **bases;
    size_t n = pager_pending(db->pg, &pgnos, &pages, &bases);
    if (n == (size_t)-1) { e = JET_errOutOfMemory; break; }
    if (n == 0) continue;
    e = next_dbtime(db, &stamp[i]);
    if (e == JET_errSuccess) {
      put32(rec + 16 + 12 * ndb, db->dbid);
      put64(rec + 20 + 12 * ndb, stamp[i]);
      ndb++;
    }
    for (size_t k = 0; k < n && e == JET_errSuccess; k++) {
      const uint8_t *ops, *pre;
      size_t nops = pager_pending_ops(db->pg, k, &ops, &pre);
      size_t ready = nops ? diff_if_smaller(inst, db, k, pages[k], ops, nops) : 0;
      if (nops && !ready) {
        e = log_ops(inst, db, k, pgnos[k], pages[k], pre, ops, nops, txid, stamp[i], &total);
      } else {
        e = log_page(inst, db, pgnos[k], pages[k], bases[k], txid, stamp[i], ready);
        total++;
      }
    }
  }
  if (e == JET_errSuccess && total) {
    /* u64 txid, u32 page and operation records, u32 databases, per database u32 id + u64
     * dbtime, u64 time: what a restore to a point in time stops by */
    put64(rec, txid);
    put32(rec + 8, total);
    put32(rec + 12, ndb);
    put64(rec + 16 + 12 * ndb, 0);   /* the time: the log stamps it (log_append_commit) */
    e = log_append_commit(inst->log, rec, 16 + 12 * (size_t)ndb + 8, NULL, commit_lsn);
  } else if (e == JET_errSuccess) {
    *commit_lsn = 0;
  }
  if (e) {
    db_discard_pending(inst);
    return inst_fatal(inst, e);
  }
  for (int i = 1; i <= ESE_MAX_DB; i++)
    if (inst->db[i]) {
      if (stamp[i]) inst->db[i]->dbtime = stamp[i];
      pager_commit_pending(inst->db[i]->pg, *commit_lsn);
    }
  return JET_errSuccess;
}

void db_discard_pending(esinst *inst) {
  for (int i = 1; i <= ESE_MAX_DB; i++)
    if (inst->db[i]) pager_discard_pending(inst->db[i]->pg);
}

JET_ERR db_trim(esinst *inst) {
  JET_ERR e = JET_errSuccess;
  for (int i = 1; i <= ESE_MAX_DB && e == JET_errSuccess; i++)
    if (inst->db[i]) e = pager_trim(inst->db[i]->pg);
  return inst_fatal(inst, e);
}
