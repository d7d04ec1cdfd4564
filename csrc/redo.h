/*
 * redo.h -- the replay engine that soft recovery (recovery.c) and restore
 * (restore.c) share: log records in, pages out to the database files
 * through a bounded replay cache (read, check, apply; changed pages written
 * back in file and page order when the cache is full and at the end).  A
 * transaction's records are buffered until its LR_COMMIT; an unfinished
 * transaction is dropped.  LR_COMMIT gives each database it changed a
 * dbtime T, and each page record obeys the dbtime rule: a page whose
 * dbtime is T or more already holds the change (skipped, so replaying a
 * log again changes nothing); an image (it must carry T) is written over
 * an older page; a difference applies only to a page whose dbtime is its
 * base (then sealed with T): older is JET_errDbTimeTooOld, between base
 * and T JET_errDbTimeTooNew, never a misapply.  A commit applies whole or
 * not at all (a refused commit changes no page); a failed replay drops the
 * pages not yet written back.  A database's header ends with dbtime_last
 * = max(its own, every T replayed).
 *
 * Database ids: an id names a database from its attachment (LR_CREATEDB,
 * LR_ATTACH, a checkpoint or header table) to its LR_DETACH, an LR_INIT (a
 * new run: every attachment ended) or the next attachment of the same id
 * (an implicit detach).  One file is open once: an attachment of a file
 * already open under another id moves it to the new id.  Soft recovery
 * closes a detached database at once (header clean); a restore keeps every
 * file it opened until redo_finish, so none is marked clean before the
 * whole replay succeeded.
 */
#ifndef ESE_REDO_H
#define ESE_REDO_H
#include "log_format.h"
#include "dw.h"
#include "dbheader.h"

typedef struct redo redo;

typedef struct redo_cfg {
  esio *io;
  uint32_t page_size;
  log_sig sig;               /* the stream: a database header is stamped with it */
  /* Where a database named in the log lives now: *out = a new string, or
   * NULL to skip its records (restore of a set without it).  a: the
   * attachment as logged (absolute and relative path, signature); fresh:
   * named by LR_CREATEDB.  NULL map: the absolute path as logged. */
  JET_ERR (*map)(void *ud, const log_attach *a, int fresh, char **out);
  void *ud;
  int restore;               /* hard recovery: accept DB_RESTORING, skip unmapped */
  /* How a database's header ends when replay is done with it (at its
   * detach or at the end); NULL: state clean. */
  void (*fix)(dbheader *h, uint32_t gen);
  char *detail;              /* receives a sentence on failure */
  size_t detail_cap;
  /* Page and commit records before this lsn are not applied (the copy
   * being restored holds their changes already); their ids still count
   * for redo_max_txid.  0: apply everything. */
  lsn_t apply_from;
  /* Pages the replay cache holds before a commit writes them back (a
   * commit bigger than that is held whole); 0: 8 MiB worth. */
  uint32_t cache_pages;
  /* Soft recovery: the double-write ring (RECOVERING); each database is
   * repaired from it when replay opens it, before any write, and the
   * write-back of the replay cache goes through it (batches of
   * dw_batch_max, each dw_write before its in-place pwrites; the ring's
   * sync_data hook is replay's while redo holds it: it syncs the databases
   * replay has open), so a page torn while recovery writes it has a copy
   * in the ring for the next init.  Pages for which the ring has no
   * place but over images of a database not repaired yet (dw_may_write)
   * stay in the cache until a later write-back (at the latest
   * redo_finish, when that space is free), up to REDO_DEFER_FACTOR times
   * the cache's size; past it they are written in place directly.  NULL: none -- a restore: it discarded the ring before
   * writing (dw.h W4), and every database it writes is DB_RESTORING until
   * redo_finish fixes the headers, which attach and soft recovery refuse:
   * a page torn by a crash during a restore is never used, the remedy
   * being to restore again, which writes it over. */
  dw *dw;
  uint32_t *dw_repaired;     /* when not NULL: += the pages repaired */
  /* A restore to a point in time: the first commit whose time (µs since
   * the epoch) is later is not applied, and redo_apply says so through
   * redo_stopped; nothing is applied after it.  0: no limit. */
  uint64_t stop_after_us;
  /* Soft recovery: the checkpoint replay starts from.  A database its
   * attach table names (redo_attach) whose file a detach or clean term
   * made clean before it, in this stream, is an older copy:
   * JET_errConsistentTimeMismatch.
   * Also the clean point (dbheader.h) of a replay that replays no record. */
  lsn_t start_lsn;
} redo_cfg;

JET_ERR redo_new(const redo_cfg *cfg, redo **out);
/* 1 when an attachment records a database signature (not all zeros:
 * format 1 entries have none). */
int redo_sig_known(const uint8_t sig[16]);
/* A database attached when replay starts (from the checkpoint or the first
 * log header). */
JET_ERR redo_attach(redo *r, const log_attach *a);
JET_ERR redo_apply(redo *r, const log_record *rec);
/* The attachment an LR_CREATEDB / LR_ATTACH record (either format) names
 * into *a (strings new: log_entry_clear); a->path NULL for other records. */
JET_ERR redo_entry_of(const log_record *rec, log_attach *a);

/* Syncs every open database and, when ok, rewrites its header through
 * cfg.fix; closes them.  gen is the last generation replayed.  ok: the
 * steps of redo_finish_step left, done at once; a step that fails, and
 * !ok, leave every database not finished yet without its header fixed. */
JET_ERR redo_finish(redo *r, int ok, uint32_t gen);
/* The end of a successful replay in steps, each of bounded work, so that a
 * caller may yield between them: the replay cache written back, at most
 * max_pages pages a step (each step's pages sent to the disk at once:
 * sync_file_range), then per open database one step that syncs it and one
 * that fixes its header (cfg.fix) and closes it.  *more = 0 after the
 * last (or on failure).  No record may be applied once the first step ran;
 * redo_finish / redo_free end what is left. */
JET_ERR redo_finish_step(redo *r, uint32_t gen, size_t max_pages, int *more);
/* Between records: the replay cache's changed pages not written back yet. */
size_t redo_dirty(const redo *r);
/* Between records: writes back at most max_pages of the changed pages (in
 * file and page order), which stay cached, clean.  A restore calls it
 * between its steps so that the cache never fills with changed pages:
 * then a full cache (cfg.restore) only forgets its clean pages, and no
 * step writes more than a slice (soft recovery writes the whole cache
 * back when it is full). */
JET_ERR redo_write_some(redo *r, size_t max_pages);
void redo_free(redo *r);
/* The highest transaction id replay met: a new run numbers its
 * transactions after it, so a group never merges with an unfinished one
 * of an earlier run. */
uint64_t redo_max_txid(redo *r);
/* cfg.stop_after_us: 1 once a commit later than it was met (the caller
 * stops feeding records; that commit and its group were not applied). */
int redo_stopped(const redo *r);
/* The time (µs) an LR_COMMIT carries (after its per-database dbtimes); 0
 * for another record or a commit not of the format's length (replay
 * refuses it). */
uint64_t redo_commit_time(const log_record *rec);
/* The time (µs) of the last commit applied or skipped as older than
 * apply_from; 0 before the first. */
uint64_t redo_last_commit_us(const redo *r);

#endif
