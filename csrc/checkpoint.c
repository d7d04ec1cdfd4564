/*
 * checkpoint.c -- taking a checkpoint: every change logged before an lsn
 * made durable in the database files (the pagers' dirty pages through the
 * double-write ring and in place, every database synced), then the
 * checkpoint file (chkfile.c) moved to that lsn and, with circular logging,
 * the logs below it deleted.  Blocking (ckpt_take: a commit's when the log
 * passed checkpoint_depth, attach, detach, term) or in slices between which
 * the caller releases the instance lock (ckpt_start / ckpt_toward: a
 * backup's Begin and cut-off).
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
    if (os_exists(p)) e = os_unlink(inst->io, p);
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

/* The checkpoint file for lsn, then the instance's checkpoint moves there
 * (and circular logging deletes the logs below it).  Every change logged
 * before lsn is durable in the databases. */
static JET_ERR record_checkpoint(esinst *inst, lsn_t lsn) {
  log_attach att[ESE_MAX_DB];
  chkfile c = { .lsn = lsn, .att = att, .natt = db_attachments(inst, att), .next_txid = inst->next_txid };
  memcpy(&c.sig, log_signature(inst->log), sizeof c.sig);
  char *path = chk_path(inst->prm.system_path, inst->prm.base);
  JET_ERR e = path ? chk_write(inst->io, path, &c) : JET_errOutOfMemory;
  free(path);
  if (e == JET_errSuccess) {
    inst->checkpoint = lsn;
    if (inst->prm.circular) {
      e = delete_old_logs(inst, inst_keep_logs_from(inst, LSN_GEN(lsn)));   /* a backup's and the archive's pins */
    }
  }
  return e;
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
 * and replay from L redoes it.  Attach and detach take a blocking
 * checkpoint, which ends the sliced one (drop_pending), so the databases
 * are those of the start until the end.
 *
 * Double-write ring: a slice writes whole ring batches (pager_ckpt_write:
 * at most one batch per call, each synced in the ring before its pages go
 * in place, W2), all under one lock hold, so no batch is half written in
 * place when another caller gets the lock; the ring's wrap-around sync
 * (W3) happens inside dw_write as for any page write.  The end (all lists
 * exhausted), under one lock hold: every database fdatasynced, so every
 * in-place write so far is durable, slices and evictions between them
 * included; only then dw_note_synced and the checkpoint file for L.  A
 * blocking checkpoint taken meanwhile (a commit's, attach, detach, term)
 * has an lsn past L and ends the sliced one: its file is never written
 * after a newer one. */

#define SLICE_US 4000u              /* a slice writes batches until this much time passed */
#define SLICE_BYTES (4u << 20)      /* or this many bytes of pages */

JET_ERR ckpt_start(esinst *inst) {
  assert(inst_lock_held(inst));
  lsn_t lsn = log_end(inst->log);
  JET_ERR e = log_flush(inst->log, lsn);
  for (int i = 1; e == JET_errSuccess && i <= ESE_MAX_DB; i++)
    if (inst->db[i]) e = pager_ckpt_mark(inst->db[i]->pg);
  if (e) {
    drop_pending(inst);
    return inst_fatal(inst, e);
  }
  inst->ckpt_pending = lsn;
  return JET_errSuccess;
}

/* One slice of the checkpoint under way: page batches until SLICE_US or
 * SLICE_BYTES, or, once no page is listed any more (in a call of its own
 * when this one wrote pages), its end.  *more: 1 unless it ended.  When
 * the I/O events' order is relied on (esio_ordered: ESE_FAULT counting
 * events, ESE_FAULT_COUNT/TRACE) a slice is cut by bytes only, so that a
 * fault test's event K is the same event in every run. */
static JET_ERR checkpoint_slice(esinst *inst, int *more) {
  uint64_t t0 = os_now_us(), bytes = 0;
  uint64_t slice_us = esio_ordered(inst->io) ? UINT64_MAX : SLICE_US;
  JET_ERR e = JET_errSuccess;
  *more = 1;
  for (int i = 1; i <= ESE_MAX_DB; i++) {
    esdb *db = inst->db[i];
    while (db && pager_ckpt_left(db->pg)) {
      if (bytes && (bytes >= SLICE_BYTES || os_now_us() - t0 >= slice_us)) return JET_errSuccess;
      size_t n;
      if ((e = pager_ckpt_write(db->pg, &n)) != JET_errSuccess) return inst_fatal(inst, e);
      bytes += (uint64_t)n * pager_page_size(db->pg) + 1;   /* + 1: a batch found clean counts too */
    }
  }
  if (bytes) return JET_errSuccess;
  lsn_t lsn = inst->ckpt_pending;
  e = ckpt_sync_databases(inst);
  if (e == JET_errSuccess && inst->dw) dw_note_synced(inst->dw);
  if (e == JET_errSuccess) e = record_checkpoint(inst, lsn);
  if (e) return inst_fatal(inst, e);
  drop_pending(inst);
  *more = 0;
  return JET_errSuccess;
}

JET_ERR ckpt_toward(esinst *inst, lsn_t target, int *more) {
  assert(inst_lock_held(inst));
  *more = 0;
  if (inst->checkpoint >= target) return JET_errSuccess;
  JET_ERR e = inst->ckpt_pending >= target ? JET_errSuccess : ckpt_start(inst);
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
  sched_yield();
  uint64_t t0 = os_mono_us();
  while (waiters && atomic_load(&inst->lock_gen) == gen && os_mono_us() - t0 < HANDOFF_US) {
    struct timespec nap = { 0, 20000 };   /* 20 µs */
    nanosleep(&nap, NULL);
  }
  inst_lock(inst);
  return inst_gate(inst);
}
