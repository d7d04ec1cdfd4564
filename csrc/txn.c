/*
 * txn.c -- transactions: txn_begin (a snapshot, isolation.h), txn_rollback
 * (the write set dropped), txn_commit (the write set applied to the trees
 * in key order, the pages' log records and the commit record appended by
 * database.c, the log flushed without the instance lock so that commits
 * group) and txn_commit_and_leave, the same commit for the entry points
 * that change pages outside a user transaction (create and attach a
 * database, create a table), txn_autocommit_write for a put or delete
 * outside one.  The entry points are jet_session.c's (JetBeginTransaction,
 * JetRollback, JetCommitTransaction), jet_database.c's and jet_table.c's.
 */
#include "txn.h"
#include "archive.h"
#include "checkpoint.h"
#include "database.h"
#include "isolation.h"
#include "session.h"

JET_ERR txn_begin(essession *s) {
  assert(inst_lock_held(s->inst));
  if (s->in_txn) {
    /* often two coroutines (or handlers) of one session, each beginning its own */
    session_detail(s, "this session's transaction is still open: one transaction per session; code that needs "
                      "its own (a coroutine that yields inside one) needs its own session");
    return JET_errTransTooDeep;
  }
  s->in_txn = 1;
  iso_begin(s);
  return JET_errSuccess;
}

JET_ERR txn_rollback(essession *s) {
  assert(inst_lock_held(s->inst));
  if (!s->in_txn) return JET_errNotInTransaction;
  s->in_txn = 0;
  ws_clear(&s->ws);
  iso_end(s);
  return JET_errSuccess;
}

/* Checkpoint when the log since the last one exceeds the depth parameter:
 * a deeper checkpoint means a longer recovery but fewer whole page images
 * (the first change of a page after a checkpoint is logged whole). */
static int checkpoint_due(esinst *inst) {
  lsn_t end = log_end(inst->log), chk = inst->checkpoint;
  uint64_t gens = LSN_GEN(end) - LSN_GEN(chk);
  uint64_t bytes = gens * inst->prm.log_file_kib * 1024u + LSN_OFF(end) - LSN_OFF(chk);
  return bytes >= inst->prm.checkpoint_depth;
}

/* The checkpoint a commit found due, to the log's end, in slices
 * (checkpoint.h): the instance lock is released in each slice's I/O and
 * between two slices (ckpt_between_slices hands it to a waiting caller),
 * so that other sessions read and commit meanwhile instead of waiting for
 * the whole write-back (a blocking ckpt_take held the lock for all of
 * it).  With the lock held; the caller still counts as active, so a term
 * waits for it.  A slice's failed I/O made the instance unavailable
 * (inst_fatal) and is answered; so is a stop or a term begun meanwhile
 * (the state gate): the rest of the checkpoint is then left to the
 * term's own. */
static JET_ERR checkpoint_in_slices(esinst *inst) {
  assert(inst_lock_held(inst));
  /* One under way (another commit's, still in its slices, or a backup's)
   * is joined, not started anew: under steady writing each roll's commit
   * finds the checkpoint due until one ends, and restarting it at every
   * roll would keep every one of them slicing. */
  lsn_t target = inst->ckpt_pending ? inst->ckpt_pending : log_end(inst->log);
  JET_ERR e = JET_errSuccess;
  for (int more = 1; e == JET_errSuccess && more;) {
    e = ckpt_toward(inst, target, &more);
    if (e == JET_errSuccess && more) e = ckpt_between_slices(inst);
  }
  return e;
}

/* t0: when the commit was asked for (pace_now_ns); a durable commit's
 * time from then to durable feeds the backup pacer (pace.h), recorded
 * under the instance lock the commit takes again anyway. */
/* s and b (or NULL): the session whose writes these are and the before
 * images they collected (isolation.h); b is kept under the commit's number
 * only when the commit is logged (db_commit_pending): a commit that fails
 * there changed nothing, so no snapshot needs them and no write may
 * conflict with it. */
static JET_ERR commit_timed(esinst *inst, int lazy, uint64_t t0, essession *s, vsbatch *b) {
  lsn_t lsn = 0;
  JET_ERR e = db_commit_pending(inst, inst->next_txid++, &lsn);
  if (b) {
    if (e == JET_errSuccess) iso_committed(inst, b);
    else vs_batch_free(b);
    iso_end(s);
  }
  if (e) {
    inst_leave(inst);
    return e;
  }
  /* The commit is decided: its record is in the log.  A checkpoint when
   * due and the cache's trim come after it; their failure (a full disk
   * for a page write) makes the instance unavailable (inst_fatal) but does
   * not undo the commit: it is flushed all the same, and its answer is the
   * flush's.  (Answering the trim's error for a commit that recovery then
   * brings back would tell the caller to retry a transaction that is
   * there.) */
  JET_ERR after = JET_errSuccess;
  if (log_take_rolled(inst->log) && checkpoint_due(inst)) after = checkpoint_in_slices(inst);
  if (after == JET_errSuccess) after = db_trim(inst);
  /* without the lock, still counted as active: the flush (group commit)
   * and the next log file made ahead */
  eslog *log = inst->log;
  inst_unlock(inst);
  if (!lazy && lsn) e = log_flush(log, lsn);
  JET_ERR pe = e || after ? JET_errSuccess : log_prepare_next(log);
  inst_lock(inst);
  if (!lazy && lsn && e == JET_errSuccess) {
    uint64_t now = pace_now_ns();
    pace_commit_latency(&inst->pace, now > t0 ? now - t0 : 0, now);
  }
  inst_fatal(inst, e ? e : pe);
  if (e == JET_errSuccess && inst->archive && archive_backlogged(inst->archive)) e = JET_wrnArchiveBacklog;
  inst_leave(inst);
  return e;
}

JET_ERR txn_commit_and_leave(esinst *inst, int lazy) { return commit_timed(inst, lazy, pace_now_ns(), NULL, NULL); }

JET_ERR txn_autocommit_write(essession *s, esdb *db, uint32_t root, const void *key, size_t klen, const void *val,
                             size_t vlen, int tomb) {
  vsbatch b;
  vs_batch_init(&b);
  JET_ERR e = iso_autocommit_write(s, db, root, key, klen, val, vlen, tomb, &b);
  if (e) {
    vs_batch_free(&b);
    db_discard_pending(s->inst);
    inst_leave(s->inst);
    return e;
  }
  return commit_timed(s->inst, 0, pace_now_ns(), s, &b);
}

/* The before images of s's write set that other open snapshots need, in
 * b; JET_errVersionStoreOutOfMemory past the limit.  Nothing applied. */
static JET_ERR prepare_versions(essession *s, vsbatch *b) {
  const size_t *order;
  JET_ERR e = ws_sorted(&s->ws, &order);
  for (size_t i = 0; e == JET_errSuccess && i < s->ws.n; i++) e = iso_before_image(s, &s->ws.ents[order[i]], b);
  if (e == JET_errSuccess) e = iso_fits(s, b);
  return e;
}

/* Applies the write set to the trees (pending pages), in key order. */
static JET_ERR apply_writes(essession *s) {
  esinst *inst = s->inst;
  const size_t *order;
  JET_ERR e = ws_sorted(&s->ws, &order);
  for (size_t i = 0; e == JET_errSuccess && i < s->ws.n; i++) {
    const wsent *w = &s->ws.ents[order[i]];
    esdb *db = db_by_id(inst, w->dbid);
    if (!db) { e = JET_errDatabaseNotFound; break; }
    if (w->tomb) {
      e = bt_delete(db->pg, w->root, w->key, w->klen);
      if (e == JET_errRecordNotFound) e = JET_errSuccess;
    } else {
      e = bt_put(db->pg, w->root, w->key, w->klen, w->val, w->vlen);
    }
    if (e && db->pg && pager_error_detail(db->pg)[0]) session_detail(s, "%s", pager_error_detail(db->pg));
  }
  return e;
}

JET_ERR txn_commit(essession *s, int lazy, uint64_t t0) {
  assert(inst_lock_held(s->inst));
  if (!s->in_txn) {
    inst_leave(s->inst);
    return JET_errNotInTransaction;
  }
  /* the version store's limit refuses before anything is applied, and
   * the transaction stays open; any other failure ends it */
  vsbatch b;
  vs_batch_init(&b);
  JET_ERR e = prepare_versions(s, &b);
  if (e == JET_errVersionStoreOutOfMemory) {
    vs_batch_free(&b);
    inst_leave(s->inst);
    return e;
  }
  s->in_txn = 0;
  if (e == JET_errSuccess) e = apply_writes(s);
  ws_clear(&s->ws);
  if (e) {
    vs_batch_free(&b);
    db_discard_pending(s->inst);
    iso_end(s);
    inst_fatal(s->inst, e);
    inst_leave(s->inst);
    return e;
  }
  return commit_timed(s->inst, lazy, t0, s, &b);
}
