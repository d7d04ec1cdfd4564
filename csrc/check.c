/* check.c -- header and checksum inspection of database and log files,
 * without an instance (ese info, ese logs, ese check, backup.verify):
 * check.h's check_pages and check_file_info, called by jet_restore.c's
 * EseVerifyPages and EseGetFileInfo. */
#include "check.h"
#include "instance.h"
#include "database.h"
#include "backup.h"
#include "dbcheck.h"
#include "page.h"
#include "log_format.h"
#include "zst.h"
#include "redo.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHECK_CHUNK 256u

/* A streamed copy's size (backup_copy_size_ok). */
static JET_ERR copy_size(uint32_t ps, uint64_t size, const char *name, char *detail, size_t cb) {
  if (backup_copy_size_ok(ps, size)) return JET_errSuccess;
  if (detail) snprintf(detail, cb, "%s: %llu bytes is not a streamed copy's whole pages", name, (unsigned long long)size);
  return JET_errBadPatchPage;
}

JET_ERR check_pages(const void *buf, size_t cb, uint32_t ps, unsigned long firstPage, uint64_t fileSize,
                    const unsigned char *copySignature, const char *name, char *detail, size_t cbDetail) {
  assert(buf && name && ps >= 512 && ps <= 65536);
  JET_ERR e = copySignature ? copy_size(ps, fileSize, name, detail, cbDetail) : JET_errSuccess;
  if (e) return e;
  if (cb % ps || (uint64_t)firstPage * ps + cb > fileSize) return JET_errInvalidParameter;
  uint64_t n = fileSize / ps;
  const uint8_t *b = buf;
  for (size_t k = 0; k < cb / ps; k++) {
    uint64_t pgno = (uint64_t)firstPage + k;
    const uint8_t *pg = b + k * ps;
    if (pgno < 2) continue;           /* the header pair */
    if (copySignature && pgno == n - 1) {    /* the trailer of a streamed copy */
      dbheader t;
      if (backup_trailer_decode(pg, ps, (uint32_t)pgno, copySignature, &t) != JET_errSuccess) {
        if (detail) snprintf(detail, cbDetail, "%s: the trailer page %llu is damaged", name, (unsigned long long)pgno);
        return JET_errBadPatchPage;
      }
      continue;
    }
    JET_ERR e = page_check(pg, ps, (uint32_t)pgno, 1, name, detail, cbDetail);
    if (e) return e;
  }
  return JET_errSuccess;
}

static void log_fields(const log_header *lh, EseFileInfo *info) {
  info->kind = EseFileLog;
  info->pageSize = lh->page_size;
  info->generation = lh->gen;
  info->fileSize = lh->file_size;
  info->tmCreate = lh->tm_create;
  info->tmPrevGen = lh->tm_prev_gen;
  info->attached = lh->nattach;
  info->logEndRecord = -1;   /* verify tells */
  memcpy(info->logSignature, lh->sig.b, 16);
}

static void db_fields(const dbheader *h, uint64_t size, EseFileInfo *info) {
  info->kind = EseFileDatabase;
  info->pageSize = h->page_size;
  info->state = h->state;
  info->formatVersion = h->version;
  info->dbtimeLast = h->dbtime_last;
  info->pages = (unsigned long)(size / h->page_size);
  info->genMin = h->gen_min;
  info->genMax = h->gen_max;
  memcpy(info->dbSignature, h->db_sig, 16);
  memcpy(info->logSignature, h->log_sig, 16);
  for (int i = 0; i < BK_KINDS; i++)
    info->backup[i] = (EseBackupRecord){ h->backup[i].gen_lo, h->backup[i].gen_hi, h->backup[i].time };
  if (h->state == DB_BACKUP_COPY) {   /* as restore.c's check_dbs takes it */
    uint32_t lo = h->backup[BK_CURRENT].gen_lo;
    info->replayGen = lo;
    info->replayOffset = h->backup_lsn && LSN_GEN(h->backup_lsn) == lo ? LSN_OFF(h->backup_lsn) : 0;
  }
}

/* Where the page walk reads a database's pages: a plain file (each chunk
 * at its offset) or a compressed one (zst.h: in order, from its start). */
typedef struct page_src {
  esfile *f;              /* a plain file, else NULL */
  zst_reader *z;          /* a compressed one, else NULL */
  const char *path;       /* the name details give */
} page_src;

/* cnt pages from page first.  A compressed source hands out its bytes in
 * order: first is the page after the last read. */
static JET_ERR src_read(page_src *s, uint8_t *buf, uint64_t first, uint32_t cnt, uint32_t ps) {
  if (s->f) return os_pread_full(s->f, buf, (size_t)cnt * ps, first * ps);
  return zst_read_full(s->z, buf, (size_t)cnt * ps);
}

/* The trailer of a streamed copy (its last page) into *t: 1 when it
 * decodes and belongs to the copy of header h (backup_trailer_check); a
 * compressed copy holds it as its last frame (zst_tail). */
static int src_trailer(page_src *s, const dbheader *h, uint64_t size, dbheader *t) {
  uint32_t ps = h->page_size;
  if (size / ps < 3) return 0;
  if (s->f) return backup_trailer_read(s->f, h, size, t) == JET_errSuccess;
  return zst_tail_size(s->z) == ps && size % ps == 0 &&
         backup_trailer_check(zst_tail(s->z), h, size, t) == JET_errSuccess;
}

/* A clean database holds every page it has allocated, whole: its size is
 * whole pages and at least the space page's count (page 2, "next free page
 * number").  A file cut short or torn at its end is JET_errDatabaseCorrupted
 * (a dirty one may lack pages its log still holds: not checked).  The size
 * is checked before any page is read (sp NULL), the count on page 2 when
 * it is read (sp); a damaged page 2 is the page walk's to report. */
static JET_ERR clean_size(const char *path, uint32_t ps, uint64_t size, const uint8_t *sp, char *detail, size_t cb) {
  uint64_t n = size / ps;
  const char *why = NULL;
  uint32_t next = 0;
  if (size % ps) why = "is not whole pages";
  else if (n < 3) why = "ends before its space page (page 2)";
  else if (sp && page_verify(sp, ps, 2) == PAGE_OK && page_type(sp) == PAGE_SPACE && (next = get32(sp + PAGE_HDR)) > n)
    why = "short";
  if (!why) return JET_errSuccess;
  if (detail && next)
    snprintf(detail, cb, "%s: %llu pages of %u bytes, its space page counts %u: a clean database cut short", path,
             (unsigned long long)n, (unsigned)ps, (unsigned)next);
  else if (detail)
    snprintf(detail, cb, "%s: %llu bytes %s: a clean database cut short", path, (unsigned long long)size, why);
  return JET_errDatabaseCorrupted;
}

/* Every page of database h (size bytes) from s, in chunks of CHECK_CHUNK
 * pages: a streamed copy's size and trailer, a clean database's size, each
 * page's checksum and number, no dbtime above bound.  A compressed source
 * is read to its end (its frame's checksum), from its start. */
static JET_ERR verify_pages(page_src *s, const dbheader *h, uint64_t size, uint64_t bound, char *detail, size_t cb) {
  uint32_t ps = h->page_size;
  uint64_t n = size / ps;
  const unsigned char *copy = h->state == DB_BACKUP_COPY ? h->db_sig : NULL;
  int clean = h->state == DB_CLEAN;
  JET_ERR e = copy ? copy_size(ps, size, s->path, detail, cb) : JET_errSuccess;
  if (e == JET_errSuccess && clean) e = clean_size(s->path, ps, size, NULL, detail, cb);
  if (e) return e;
  uint8_t *buf = malloc((size_t)CHECK_CHUNK * ps);
  if (!buf) return JET_errOutOfMemory;
  if (s->z && n > 2) e = zst_read_full(s->z, buf, 2u * ps);     /* the header pair: read already */
  for (uint64_t first = 2; first < n && e == JET_errSuccess; first += CHECK_CHUNK) {
    uint32_t cnt = n - first < CHECK_CHUNK ? (uint32_t)(n - first) : CHECK_CHUNK;
    e = src_read(s, buf, first, cnt, ps);
    if (e == JET_errSuccess && clean && first == 2) e = clean_size(s->path, ps, size, buf, detail, cb);
    if (e == JET_errSuccess) e = EseVerifyPages(buf, (size_t)cnt * ps, ps, (unsigned long)first, size, copy, s->path, detail, cb);
    if (e == JET_errSuccess) e = dbheader_check_dbtimes(buf, ps, (uint32_t)first, cnt, bound, s->path, detail, cb);
  }
  for (size_t got = 1; s->z && e == JET_errSuccess && got;)    /* the rest, to the frame's end */
    e = zst_read(s->z, buf, (size_t)CHECK_CHUNK * ps, &got);
  free(buf);
  return e;
}

/* The fields of database h (size bytes, read from s) into info.  A
 * streamed copy's "current" backup record and dbtime_last are completed in
 * its trailer (the last page: the generations the copy needs, gen_hi set
 * when the copy's stream ended, and the dbtime_last that bounds every page
 * streamed; the header's has gen_hi 0 and the dbtime_last of when the
 * stream began): the trailer's are taken when it decodes and belongs to
 * this copy, else the header's are kept (verify_pages reports a damaged
 * trailer).  With verify every page (verify_pages), none carrying a dbtime
 * above the header's dbtime_last (clean: exact; dirty: its reservation) or
 * a copy's trailer's; no bound for a database being restored (its pages
 * come from a copy, its header is fixed when replay ends) or a copy whose
 * trailer is damaged. */
static JET_ERR db_pages(page_src *s, const dbheader *h, uint64_t size, int verify, EseFileInfo *info, char *detail,
                        size_t cb) {
  dbheader t;
  int trailer = h->state == DB_BACKUP_COPY && src_trailer(s, h, size, &t);
  db_fields(h, size, info);
  if (trailer) {
    info->backup[BK_CURRENT] = (EseBackupRecord){ t.backup[BK_CURRENT].gen_lo, t.backup[BK_CURRENT].gen_hi,
                                                  t.backup[BK_CURRENT].time };
    info->dbtimeLast = t.dbtime_last;
  }
  if (!verify) return JET_errSuccess;
  uint64_t bound = h->state == DB_BACKUP_COPY ? (trailer ? t.dbtime_last : UINT64_MAX)
                   : h->state == DB_RESTORING ? UINT64_MAX : h->dbtime_last;
  return verify_pages(s, h, size, bound, detail, cb);
}

/* 1 when f starts like a log file (its magic, either format: the first 6
 * bytes "ESELOG" at offset 4), a damaged one maybe. */
static int claims_log(esfile *f) {
  uint8_t b[12];
  size_t got;
  return os_pread(f, b, sizeof b, 0, &got) == JET_errSuccess && got == sizeof b && !memcmp(b + 4, log_magic, 6);
}

/* 1 when path names a numbered generation ("edb0000002A.log", with zst its
 * compressed "edb0000002A.log.zst"): a roll closed it (log_verify_kind). */
static int closed_name(const char *path, int zst) {
  const char *name = strrchr(path, '/');
  name = name ? name + 1 : path;
  size_t nl = strlen(name);
  if (zst) {
    if (nl < 4 || strcasecmp(name + nl - 4, ".zst") != 0) return 0;
    nl -= 4;
  }
  return log_verify_kind(name, nl, NULL) == LOG_VERIFY_CLOSED;
}

/* The detail of a closed generation without its LR_END (log_verify_image's
 * JET_errLogFileCorrupt, as the log reader says it: docs/format.md, "The end record"). */
static void lacks_end(const char *path, char *detail, size_t cb) {
  if (detail) snprintf(detail, cb, "%s is closed but lacks its end record: its tail is missing (cut or zeroed)", path);
}

/* ---- compressed files (zst.h) -------------------------------------------- */

/* The databases the records of the log image d (n bytes, whose checks
 * passed) create or attach, in order: fn for each (check.h).  d is taken. */
static JET_ERR log_databases(uint8_t *d, uint32_t n, check_db_fn fn, void *ud) {
  log_reader *rd = NULL;
  JET_ERR e = log_reader_open_image(d, n, 0, &rd);   /* it takes d */
  while (e == JET_errSuccess) {
    log_record rec;
    JET_ERR more = log_reader_next(rd, &rec);
    if (more) {
      e = more == 1 ? JET_errSuccess : more;
      break;
    }
    if (rec.type != LR_CREATEDB && rec.type != LR_ATTACH) continue;
    log_attach a;
    if ((e = redo_entry_of(&rec, &a)) == JET_errSuccess) {
      e = fn(ud, &a, rec.type == LR_CREATEDB, rec.lsn);
      log_entry_clear(&a);
    }
  }
  log_reader_close(rd);
  return e;
}

/* A log read whole and checked (e: the checks' answer) into d (n bytes):
 * with fn, its databases from the same bytes (log_databases); d freed. */
static JET_ERR checked_log(JET_ERR e, uint8_t *d, uint32_t n, check_db_fn fn, void *ud) {
  if (e || !fn) {
    free(d);
    return e;
  }
  return log_databases(d, n, fn, ud);
}

/* The header's attach table of lh through dbs (check_dbs). */
static JET_ERR header_dbs(const log_header *lh, const check_dbs *dbs) {
  JET_ERR e = JET_errSuccess;
  for (uint32_t i = 0; dbs && dbs->header && i < lh->nattach && e == JET_errSuccess; i++)
    e = dbs->fn(dbs->header, &lh->attach[i], 0, LSN(lh->gen, 0));
  return e;
}

/* The records' databases of dbs: fn and its ud for checked_log (NULL, NULL: none). */
#define RECORDS_FN(dbs) ((dbs) && (dbs)->records ? (dbs)->fn : NULL)
#define RECORDS_UD(dbs) ((dbs) ? (dbs)->records : NULL)

/* Every record of a compressed log: the whole original in memory (a log
 * is its file size, as log_verify_file loads it); fn as checked_log;
 * *end_rec as log_verify_image's. */
static JET_ERR zst_verify_log(zst_reader *z, const log_header *lh, int kind, check_db_fn fn, void *ud,
                              int *end_rec) {
  uint8_t *d;
  uint32_t n;
  JET_ERR e = zst_log_image(z, &d, &n);
  if (e == JET_errSuccess) e = log_verify_image(d, lh, kind, end_rec);
  if (e == JET_errReadVerifyFailure) e = JET_errLogReadVerifyFailure;
  return checked_log(e, d, n, fn, ud);
}

/* A file that starts with a zstd frame (z, opened once): the header of
 * the original (a log, else a database), with verify every record or
 * page, each read from the original's start again (zst_rewind). */
static JET_ERR zst_info(zst_reader *z, const char *path, int verify, EseFileInfo *info, const check_dbs *dbs,
                        char *detail, size_t cb) {
  info->compressed = 1;
  info->storedSize = zst_stored_size(z);
  log_header lh;
  JET_ERR e = zst_log_header(z, &lh);
  if (e == JET_errSuccess) {
    log_fields(&lh, info);
    e = header_dbs(&lh, dbs);
    if (e == JET_errSuccess && verify) {
      /* NAME.zst of a numbered generation's NAME is closed (log_verify_kind); a
       * compressed B.log is read as a finished file, as before */
      int kind = closed_name(path, 1) ? LOG_VERIFY_CLOSED : 0;
      e = zst_verify_log(z, &lh, kind, RECORDS_FN(dbs), RECORDS_UD(dbs), &info->logEndRecord);
      if (e == JET_errLogFileCorrupt && kind && info->logEndRecord == 0) lacks_end(path, detail, cb);
      else if (e && e != JET_errOutOfMemory && detail)
        snprintf(detail, cb, "%s", zst_detail(z)[0] ? zst_detail(z) : "a log record fails verification");
    }
    log_header_clear(&lh);
    return e;
  }
  if (e == JET_errReadVerifyFailure && detail) snprintf(detail, cb, "%s", zst_detail(z));
  if (e == JET_errBadLogVersion || e == JET_errReadVerifyFailure || e == JET_errOutOfMemory) return e;
  dbheader h;
  zst_rewind(z);
  e = zst_db_header(z, &h);
  page_src src = { NULL, z, path };
  if (e == JET_errSuccess && verify) zst_rewind(z);     /* the page walk reads from the start */
  if (e == JET_errSuccess) e = db_pages(&src, &h, zst_size(z), verify, info, detail, cb);
  if (e == JET_errReadVerifyFailure && detail && !detail[0]) snprintf(detail, cb, "%s", zst_detail(z));
  if (e == JET_errDatabaseCorrupted && detail && !detail[0])
    snprintf(detail, cb, "%s: the original is neither a database nor a log file", path);
  return e;
}

static JET_ERR db_info(esio *io, const char *path, int verify, EseFileInfo *info, char *detail, size_t cb) {
  esfile *f;
  JET_ERR e = os_open(io, path, OS_READ, &f);
  if (e) return e;
  dbheader h;
  uint64_t size = 0;
  e = dbheader_read(f, 0, &h);
  if (e == JET_errInvalidDatabaseVersion) {
    info->kind = EseFileDatabase;
    info->pageSize = h.page_size;
    info->formatVersion = h.version;
    if (detail)
      snprintf(detail, cb, "%s: database format %u, this engine reads formats %u to %u (dump and reload it "
               "with the engine that wrote it)", path, (unsigned)h.version, (unsigned)DB_FORMAT_MIN, (unsigned)DB_FORMAT);
  }
  if (e == JET_errDatabaseCorrupted && !dbheader_claimed(f) && !claims_log(f)) {
    /* no header of either kind: another kind of file, not a damaged one */
    if (detail) snprintf(detail, cb, "%s is neither a database nor a log file", path);
    e = JET_errFileInvalidType;
  }
  if (e == JET_errSuccess) e = os_size(f, &size);
  page_src src = { f, NULL, path };
  if (e == JET_errSuccess) e = db_pages(&src, &h, size, verify, info, detail, cb);
  /* a clean database's structure (dbcheck.h), read at random through a
   * pager: a plain file's only */
  if (verify && e == JET_errSuccess && h.state == DB_CLEAN) e = db_check_structure(f, h.page_size, detail, cb);
  os_close(f);
  return e;
}

JET_ERR check_file_info(const char *path, int verify, EseFileInfo *info, const check_dbs *dbs, char *detail,
                        size_t cb) {
  assert(path && info);
  esio *io;
  JET_ERR e = esio_new(&io);
  if (e) return e;
  esfile *probe;
  JET_ERR pe = os_open(io, path, OS_READ, &probe);
  if (pe == JET_errOutOfMemory || pe == JET_errOutOfFileHandles) {   /* not the file's: answered as such */
    esio_free(io);
    return pe;
  }
  if (pe == JET_errSuccess) {
    if (zst_claimed(probe)) {   /* a compressed file: this one open, read to the end */
      zst_reader *z;
      e = zst_adopt(probe, &z, detail, cb);
      if (e == JET_errSuccess) e = zst_info(z, path, verify, info, dbs, detail, cb);
      zst_close(z);
      esio_free(io);
      return e;
    }
    os_close(probe);
  }
  log_header lh;
  JET_ERR le = log_read_header(io, path, &lh);
  if (le == JET_errSuccess) {
    log_fields(&lh, info);
    e = header_dbs(&lh, dbs);
    log_header_clear(&lh);
    if (e == JET_errSuccess && verify) {   /* one read: the checks and the records' databases (checked_log) */
      uint8_t *d;
      uint32_t n;
      e = log_load_verified(io, path, 0, &d, &n, &info->logEndRecord);
      e = checked_log(e, d, n, RECORDS_FN(dbs), RECORDS_UD(dbs));
    }
    if (e == JET_errLogFileCorrupt && info->logEndRecord == 0 && closed_name(path, 0))
      lacks_end(path, detail, cb);
    else if (e && e != JET_errOutOfMemory && e != JET_errOutOfFileHandles && detail)
      snprintf(detail, cb, "%s: a log record fails verification", path);
  } else if (le == JET_errOutOfMemory || le == JET_errOutOfFileHandles) {
    e = le;   /* the reader's resources, not the file: never "not a log" (then a damaged database) */
  } else if (le == JET_errBadLogVersion) {
    e = le;
    if (detail) snprintf(detail, cb, "%s is a log of an older format (or with unknown features): " LOG_OLD_FORMAT_ADVICE, path);
  } else {
    e = db_info(io, path, verify, info, detail, cb);
    if (e == JET_errDatabaseCorrupted && le == JET_errLogFileSizeMismatch) e = JET_errLogFileCorrupt;
    if (e == JET_errInvalidPath && detail && !detail[0] && os_kind(path) == OS_DIR)
      snprintf(detail, cb, "%s is a folder, not a database or log file", path);
    if (e && detail && !detail[0]) snprintf(detail, cb, "%s", path);
  }
  esio_free(io);
  return e;
}
