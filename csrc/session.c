/* session.c -- sessions and transactions: a transaction's writes stay in
 * its write set until commit applies them and logs the changed pages. */
#include "internal.h"
#include "archive.h"
#include "isolation.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

JET_ERR session_enter(JET_SESID sesid, essession **out) {
  essession *s = (essession *)sesid;
  if (!s || sesid == JET_sesidNil || s->magic != SESSION_MAGIC) return JET_errInvalidSesid;
  JET_ERR e = inst_enter(s->inst);
  if (e == JET_errSuccess) {
    s->detail[0] = 0;
    s->inst->detail[0] = 0;
    *out = s;
  }
  return e;
}

void session_detail(essession *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->detail, sizeof s->detail, fmt, ap);
  va_end(ap);
}

void EseSessionErrorDetail(JET_SESID sesid, char *buf, size_t cb) {
  essession *s = (essession *)sesid;
  if (!buf || cb == 0) return;
  buf[0] = 0;
  if (s && sesid != JET_sesidNil && s->magic == SESSION_MAGIC) snprintf(buf, cb, "%s", s->detail);
}

JET_ERR JET_API JetBeginSession(JET_INSTANCE instance, JET_SESID *psesid, const char *szUserName,
                                const char *szPassword) {
  (void)szUserName; (void)szPassword;
  if (!psesid) return JET_errInvalidParameter;
  esinst *inst;
  JET_ERR e = inst_enter_handle(instance, &inst);
  if (e) return e;
  essession *s = calloc(1, sizeof *s);
  if (!s) {
    inst_leave(inst);
    return JET_errOutOfMemory;
  }
  s->magic = SESSION_MAGIC;
  s->inst = inst;
  ws_init(&s->ws);
  s->next = inst->sessions;
  inst->sessions = s;
  *psesid = (JET_SESID)s;
  inst_leave(inst);
  return JET_errSuccess;
}

/* With the instance lock held. */
static void session_free(essession *s) {
  esinst *inst = s->inst;
  while (s->tables) {
    estable *t = s->tables;
    s->tables = t->next;
    table_free(t);
  }
  for (int i = 1; i <= ESE_MAX_DB; i++)
    if (s->dbopen[i] && inst->db[i]) inst->db[i]->opens -= s->dbopen[i];
  ws_free(&s->ws);
  int ended = s->in_txn;
  s->in_txn = 0;   /* an open transaction is rolled back */
  for (essession **pp = &inst->sessions; *pp; pp = &(*pp)->next)
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  if (ended) iso_end(s);
  s->magic = 0;
  free(s);
}

void sessions_end_all(esinst *inst) {
  while (inst->sessions) session_free(inst->sessions);
  assert(inst->vs.bytes == 0);   /* no snapshot left to need a version */
  vs_free(&inst->vs);
}

JET_ERR JET_API JetEndSession(JET_SESID sesid, JET_GRBIT grbit) {
  (void)grbit;
  essession *s = (essession *)sesid;
  if (!s || sesid == JET_sesidNil || s->magic != SESSION_MAGIC) return JET_errInvalidSesid;
  esinst *inst = s->inst;
  inst_lock(inst);   /* ending a session is allowed in every state */
  session_free(s);
  inst_unlock(inst);
  return JET_errSuccess;
}

JET_ERR JET_API JetBeginTransaction(JET_SESID sesid) {
  essession *s;
  JET_ERR e = session_enter(sesid, &s);
  if (e) return e;
  if (s->in_txn) e = JET_errTransTooDeep;
  else {
    s->in_txn = 1;
    iso_begin(s);
  }
  inst_leave(s->inst);
  return e;
}

JET_ERR JET_API JetRollback(JET_SESID sesid, JET_GRBIT grbit) {
  (void)grbit;
  essession *s;
  JET_ERR e = session_enter(sesid, &s);
  if (e) return e;
  if (!s->in_txn) e = JET_errNotInTransaction;
  else {
    s->in_txn = 0;
    ws_clear(&s->ws);
    iso_end(s);
  }
  inst_leave(s->inst);
  return e;
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

/* t0: when the commit was asked for (pace_now_ns); a durable commit's
 * time from then to durable feeds the backup pacer (pace.h), recorded
 * under the instance lock the commit takes again anyway. */
static JET_ERR commit_timed(esinst *inst, int lazy, uint64_t t0) {
  lsn_t lsn = 0;
  JET_ERR e = db_commit_pending(inst, inst->next_txid++, &lsn);
  if (e == JET_errSuccess && log_take_rolled(inst->log) && checkpoint_due(inst)) e = inst_checkpoint(inst);
  if (e == JET_errSuccess) e = db_trim(inst);
  if (e) {
    inst_leave(inst);
    return e;
  }
  /* without the lock, still counted as active: the flush (group commit)
   * and the next log file made ahead */
  eslog *log = inst->log;
  inst_unlock(inst);
  if (!lazy && lsn) e = log_flush(log, lsn);
  JET_ERR pe = e ? JET_errSuccess : log_prepare_next(log);
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

JET_ERR commit_and_leave(esinst *inst, int lazy) { return commit_timed(inst, lazy, pace_now_ns()); }

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

JET_ERR JET_API JetCommitTransaction(JET_SESID sesid, JET_GRBIT grbit) {
  uint64_t t0 = pace_now_ns();   /* before the lock: waiting for it is part of the latency */
  essession *s;
  JET_ERR e = session_enter(sesid, &s);
  if (e) return e;
  if (!s->in_txn) {
    inst_leave(s->inst);
    return JET_errNotInTransaction;
  }
  /* the version store's limit refuses before anything is applied, and
   * the transaction stays open; any other failure ends it */
  vsbatch b;
  vs_batch_init(&b);
  e = prepare_versions(s, &b);
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
  iso_committed(s->inst, &b);
  iso_end(s);
  return commit_timed(s->inst, (grbit & JET_bitCommitLazyFlush) != 0, t0);
}
