/* jet_session.c -- the session and transaction entry points:
 * JetBeginSession, JetEndSession, EseSessionErrorDetail (session.c:
 * session_begin, session_end, session_copy_detail) and JetBeginTransaction,
 * JetRollback, JetCommitTransaction (txn.c: txn_begin, txn_rollback,
 * txn_commit).  Each checks its arguments, enters the instance (a session
 * through session_enter), makes one call and leaves; a commit leaves
 * through txn_commit, which flushes the log without the lock. */
#include "session.h"
#include "txn.h"

JET_ERR JET_API JetBeginSession(JET_INSTANCE instance, JET_SESID *psesid, const char *szUserName,
                                const char *szPassword) {
  (void)szUserName; (void)szPassword;
  if (!psesid) return JET_errInvalidParameter;
  esinst *inst;
  JET_ERR e = inst_enter_handle(instance, &inst);
  if (e) return e;
  e = session_begin(inst, psesid);
  inst_leave(inst);
  return e;
}

JET_ERR JET_API JetEndSession(JET_SESID sesid, JET_GRBIT grbit) {
  (void)grbit;
  essession *s = session_of(sesid);
  if (!s) return JET_errInvalidSesid;
  esinst *inst = s->inst;
  inst_lock(inst);   /* ending a session is allowed in every state */
  session_end(s);
  inst_unlock(inst);
  return JET_errSuccess;
}

void EseSessionErrorDetail(JET_SESID sesid, char *buf, size_t cb) {
  if (!buf || cb == 0) return;
  buf[0] = 0;
  essession *s = session_of(sesid);
  if (s) session_copy_detail(s, buf, cb);
}

/* Enters sesid's instance, calls fn, leaves. */
static JET_ERR in_session(JET_SESID sesid, JET_ERR (*fn)(essession *)) {
  essession *s;
  JET_ERR e = session_enter(sesid, &s);
  if (e) return e;
  e = fn(s);
  inst_leave(s->inst);
  return e;
}

JET_ERR JET_API JetBeginTransaction(JET_SESID sesid) { return in_session(sesid, txn_begin); }

JET_ERR JET_API JetRollback(JET_SESID sesid, JET_GRBIT grbit) {
  (void)grbit;
  return in_session(sesid, txn_rollback);
}

JET_ERR JET_API JetCommitTransaction(JET_SESID sesid, JET_GRBIT grbit) {
  uint64_t t0 = pace_now_ns();   /* before the lock: waiting for it is part of the latency */
  essession *s;
  JET_ERR e = session_enter(sesid, &s);
  if (e) return e;
  return txn_commit(s, (grbit & JET_bitCommitLazyFlush) != 0, t0);
}
