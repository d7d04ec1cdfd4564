/*
 * checkpoint.c -- taking a checkpoint: every change logged before an lsn
 * made durable in the database files (the pagers' dirty pages through the
 * double-write ring and in place, every database synced), then the
 * checkpoint file (chkfile.c) moved to that lsn and, with circular logging,
 * the logs below it deleted.  Blocking (ckpt_take: detach, term) or in
 * slices between which the caller releases the instance lock (ckpt_start /
 * ckpt_toward: a commit's when the log passed checkpoint_depth, txn.c, and
 * a backup's Begin and cut-off).
 */
#include "checkpoint.h"
#include "chkfile.h"
#include "database.h"
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- checkpoint ----------------------------------------------------------- */

static JET_ERR delete_old_logs(esinst *inst, uint32_t below_gen) {
  uint32_t lo, hi;
  int cur;
  JET_ERR e = log_scan_dir(inst->prm.log_path, inst->prm.base, &lo, &hi, &cur);
  for (uint32_t g = lo; e == JET_errSuccess && lo && g < below_gen && g <= hi; g++) {
    char *p = log_file_name(inst->prm.log_path, inst->prm.base, g);
    if (!p) return JET_errOutOfMemory;
    if (os_exists(p)) e = log_retire(inst->log, p);   /* deleted, or a spare for a next generation */
    free(p);
  }
  return e;
}

JET_ERR ckpt_sync_databases(void *ud) {
  esinst *inst = ud;
  JET_ERR e = JET_errSuccess;
  for (int i = 1; e == JET_errSuccess && i <= ESE_MAX_DB; i++)
    if (inst->db[i]) e = os_sync(inst->db[i]->file);
  return e;
}

/* The checkpoint file's content for lsn, now (att: ESE_MAX_DB entries). */
static chkfile chk_for(esinst *inst, lsn_t lsn, log_attach *att) {
  chkfile c = { .lsn = lsn, .att = att, .natt = db_attachments(inst, att), .next_txid = inst->next_txid };
  memcpy(&c.sig, log_signature(inst->log), sizeof c.sig);
  return c;
}

/* The checkpoint file for lsn was written: the instance's checkpoint moves
 * there (and circular logging deletes the logs below it). */
static JET_ERR checkpoint_moved(esinst *inst, lsn_t lsn) {
  inst->checkpoint = lsn;
  if (!inst->prm.circular) return JET_errSuccess;
  return delete_old_logs(inst, inst_keep_logs_from(inst, LSN_GEN(lsn)));   /* a backup's and the archive's pins */
}

/* The checkpoint file for lsn, then the instance's checkpoint moves there.
 * Every change logged before lsn is durable in the databases. */
static JET_ERR record_checkpoint(esinst *inst, lsn_t lsn) {
  log_attach att[ESE_MAX_DB];
  chkfile c = chk_for(inst, lsn, att);
  char *path = chk_path(inst->prm.system_path, inst->prm.base);
  JET_ERR e = path ? chk_write(inst->io, path, &c) : JET_errOutOfMemory;
  free(path);
  return e ? e : checkpoint_moved(inst, lsn);
}

/* ---- a slice's I/O without the lock ----------------------------------------
 * A slice writes its page batches and, at its end, syncs the databases and
 * writes the checkpoint file without the instance lock (ckpt_io set), so
 * that the application's commits never wait for that I/O.  What keeps it
 * consistent: the batch's pages are copied and their frames pinned under
 * the lock (pager_ckpt_copy: a commit changes the frame, never the copy,
 * and no eviction writes or drops a pinned frame); the ring's writers'
 * lock orders its batch against evictions' (dw.h; an eviction that finds
 * the ring busy writes nothing, pager_trim); no database goes meanwhile
 * (detach and term take a blocking checkpoint first, and ckpt_take,
 * ckpt_start and ckpt_toward wait until no slice's I/O runs: one at a
 * time, and a blocking checkpoint never interleaves with one; a database
 * created or attached meanwhile only adds one, C1 below).
 * With ordered I/O (esio_ordered: fault tests counting events) the lock
 * stays held, so the events come in the same order in every run. */

void ckpt_wait_idle(esinst *inst) {
  assert(inst_lock_held(inst));
  while (inst->ckpt_io) inst_wait(inst, &inst->ckpt_idle);
}

int ckpt_io_begin(esinst *inst) {
  assert(inst_lock_held(inst) && !inst->ckpt_io);
  if (esio_ordered(inst->io)) return 0;
  inst->ckpt_io = 1;
  inst_unlock(inst);
  return 1;
}

void ckpt_io_end(esinst *inst, int unlocked) {
  if (!unlocked) return;
  inst_lock(inst);
  assert(inst->ckpt_io);
  inst->ckpt_io = 0;
  pthread_cond_broadcast(&inst->ckpt_idle);
}

/* Drops the checkpoint under way (its lists): one at or past its lsn was
 * taken, or it failed. */
static void drop_pending(esinst *inst) {
  for (int i = 1; i <= ESE_MAX_DB; i++)
    if (inst->db[i]) pager_ckpt_clear(inst->db[i]->pg);
  inst->ckpt_pending = 0;
}

/* Order: log durable to lsn -> every dirty page through the ring and in
 * place -> every database fdatasynced (pager_flush_all) -> the ring told
 * so (its batches may be overwritten without a sync) -> B.chk. */
JET_ERR ckpt_take(esinst *inst) {
  assert(inst_lock_held(inst));
  ckpt_wait_idle(inst);
  lsn_t lsn = log_end(inst->log);
  JET_ERR e = log_flush(inst->log, lsn);
  for (int i = 1; e == JET_errSuccess && i <= ESE_MAX_DB; i++)
    if (inst->db[i]) {
      e = pager_flush_all(inst->db[i]->pg);
    }
  if (e == JET_errSuccess && inst->dw) dw_note_synced(inst->dw);
  if (e == JET_errSuccess) e = record_checkpoint(inst, lsn);
  if (e == JET_errSuccess) drop_pending(inst);   /* lsn is past its: every page it listed is written */
  return inst_fatal(inst, e);
}

/* ---- the checkpoint in slices ------------------------------------------------
 * Same order as ckpt_take, but the page writes are cut into slices
 * between which the caller may release the instance lock, so that commits
 * run (and a Lua caller yields to its event loop) while the cache is
 * written back.
 *
 * Invariant (C1): while ckpt_pending = L != 0, every change logged before L
 * is in the database files already, or in a page listed by its pager
 * (pager_ckpt_mark) at or after the list's cursor.  Start: L is the log's
 * end, taken under the lock hold that lists every dirty page (and the log
 * is made durable to L, as ckpt_take does).  A slice moves the cursor
 * only past pages it wrote or found clean; a page is clean only after its
 * in-place write (write_frames clears dirty then), by a slice or an
 * eviction meanwhile, and a page written with content newer than L is as
 * good (replay from L meets it at a later link of its chain).  A page
 * dirtied again after its slice stays dirty: that change is logged after L,
 * and replay from L redoes it.  Detach takes a blocking checkpoint, which
 * ends the sliced one (drop_pending), so no database of the start goes
 * before the end.  A database created or attached meanwhile (no blocking
 * checkpoint) has no change logged before L (new, or clean when attached):
 * it has no list; when it came before the end's I/O, the end syncs it (its
 * header) and the checkpoint file names it attached at L, and replay then
 * meets its LR_CREATEDB / LR_ATTACH after L for the file it has open
 * already (redo.c open_db: the same file keeps its id).
 *
 * Double-write ring: a slice writes whole ring batches (pager_ckpt_copy,
 * _put, _done: one batch per call, synced in the ring before its pages go
 * in place, W2), each under the ring's writers' lock, so no batch is half
 * written in place when another writer gets the ring; the ring's
 * wrap-around sync (W3) happens inside dw_write as for any page write.
 * The end (all lists exhausted): every database fdatasynced, so every
 * in-place write issued before is durable, slices and evictions between
 * them included; only then dw_note_synced_to (the ring's newest batch when
 * the syncs began) and the checkpoint file for L.  The I/O of both runs
 * without the instance lock (above).  A blocking checkpoint taken
 * meanwhile (detach, term) waits for that I/O, has an lsn past L and ends
 * the sliced one: its file is never written after a newer one. */

#define SLICE_US 4000u              /* a slice writes batches until this much time passed */
#define SLICE_BYTES (4u << 20)      /* or this many bytes of pages */

/* L and the page lists under one lock hold (C1), then the log made
 * durable to L without the lock (as a slice's I/O: no checkpoint starts or
 * slices meanwhile); the checkpoint's end needs it, no slice before. */
JET_ERR ckpt_start(esinst *inst) {
  assert(inst_lock_held(inst));
  ckpt_wait_idle(inst);
  JET_ERR e = inst_gate(inst);   /* the wait released the lock: that slice may have failed (unavailable) */
  if (e) return e;
  lsn_t lsn = log_end(inst->log);
  for (int i = 1; e == JET_errSuccess && i <= ESE_MAX_DB; i++)
    if (inst->db[i]) e = pager_ckpt_mark(inst->db[i]->pg);
  if (e == JET_errSuccess) {
    inst->ckpt_pending = lsn;
    eslog *log = inst->log;
    int unlocked = ckpt_io_begin(inst);
    e = log_flush(log, lsn);
    ckpt_io_end(inst, unlocked);
  }
  if (e) {
    drop_pending(inst);
    return inst_fatal(inst, e);
  }
  return inst_gate(inst);   /* as after a slice's I/O */
}

/* The checkpoint's end, once no page is listed: the databases synced and
 * the checkpoint file written (without the lock), then the ring told and
 * the checkpoint moved. */
static JET_ERR checkpoint_end(esinst *inst, int *more) {
  lsn_t lsn = inst->ckpt_pending;
  esfile *files[ESE_MAX_DB];
  int nf = 0;
  for (int i = 1; i <= ESE_MAX_DB; i++)
    if (inst->db[i]) files[nf++] = inst->db[i]->file;
  uint64_t seq = inst->dw ? dw_last_seq(inst->dw) : 0;   /* every batch before the syncs */
  log_attach att[ESE_MAX_DB];
  chkfile c = chk_for(inst, lsn, att);
  char *path = chk_path(inst->prm.system_path, inst->prm.base);
  if (!path) return inst_fatal(inst, JET_errOutOfMemory);
  int unlocked = ckpt_io_begin(inst);
  JET_ERR e = JET_errSuccess;
  for (int k = 0; k < nf && e == JET_errSuccess; k++) e = os_sync(files[k]);
  if (e == JET_errSuccess) e = chk_write(inst->io, path, &c);
  ckpt_io_end(inst, unlocked);
  free(path);
  if (e == JET_errSuccess && inst->dw) dw_note_synced_to(inst->dw, seq);
  if (e == JET_errSuccess) e = checkpoint_moved(inst, lsn);
  if (e) return inst_fatal(inst, e);
  drop_pending(inst);
  *more = 0;
  return JET_errSuccess;
}

/* One slice of the checkpoint under way: page batches until SLICE_US or
 * SLICE_BYTES, or, once no page is listed any more (in a call of its own
 * when this one wrote pages), its end.  *more: 1 unless it ended.  When
 * the I/O events' order is relied on (esio_ordered: ESE_FAULT counting
 * events, ESE_FAULT_COUNT/TRACE) a slice is cut by bytes only, so that a
 * fault test's event K is the same event in every run.  Each batch's I/O
 * runs without the lock (above); after it the state gate is answered. */
static JET_ERR checkpoint_slice(esinst *inst, int *more) {
  uint64_t t0 = os_now_us(), bytes = 0;
  uint64_t slice_us = esio_ordered(inst->io) ? UINT64_MAX : SLICE_US;
  JET_ERR e = JET_errSuccess;
  *more = 1;
  for (int i = 1; i <= ESE_MAX_DB; i++) {
    while (inst->db[i] && pager_ckpt_left(inst->db[i]->pg)) {
      if (bytes && (bytes >= SLICE_BYTES || os_now_us() - t0 >= slice_us)) return JET_errSuccess;
      pager *pg = inst->db[i]->pg;
      size_t n;
      if ((e = pager_ckpt_copy(pg, &n)) == JET_errSuccess && n) {
        int unlocked = ckpt_io_begin(inst);
        e = pager_ckpt_put(pg);
        ckpt_io_end(inst, unlocked);
        pager_ckpt_done(pg, e);
      }
      if (e) return inst_fatal(inst, e);
      if ((e = inst_gate(inst)) != JET_errSuccess) return e;
      bytes += (uint64_t)n * pager_page_size(pg) + 1;   /* + 1: a batch found clean counts too */
    }
  }
  if (bytes) return JET_errSuccess;
  return checkpoint_end(inst, more);
}

JET_ERR ckpt_toward(esinst *inst, lsn_t target, int *more) {
  assert(inst_lock_held(inst));
  *more = 0;
  ckpt_wait_idle(inst);
  JET_ERR e = inst_gate(inst);   /* as in ckpt_start */
  if (e) return e;
  if (inst->checkpoint >= target) return JET_errSuccess;
  e = inst->ckpt_pending >= target ? JET_errSuccess : ckpt_start(inst);
  if (e == JET_errSuccess) e = checkpoint_slice(inst, more);
  return e;
}

/* A pthread mutex is not fair: a thread that unlocks and locks again at
 * once keeps it from a waiter that was not running at that moment (a
 * loaded machine), and a commit would wait for the whole checkpoint.  So
 * when callers wait (inst->entering), the lock is handed over: this
 * caller waits until another one took it (inst->lock_gen moved), at most
 * HANDOFF_US, sleeping in short naps. */
#define HANDOFF_US 2000u
JET_ERR ckpt_between_slices(esinst *inst) {
  unsigned long gen = atomic_load(&inst->lock_gen);
  int waiters = atomic_load(&inst->entering) > 0;
  inst_unlock(inst);
  os_hold_point(inst->io, "ckpt-between");   /* a harness holds the checkpoint here (spec/c/backup_races.c) */
  sched_yield();
  uint64_t t0 = os_mono_us();
  while (waiters && atomic_load(&inst->lock_gen) == gen && os_mono_us() - t0 < HANDOFF_US) {
    struct timespec nap = { 0, 20000 };   /* 20 µs */
    nanosleep(&nap, NULL);
  }
  inst_lock(inst);
  return inst_gate(inst);
}
