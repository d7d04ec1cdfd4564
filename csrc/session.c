/* session.c -- sessions: begin, end, the handle check that enters the
 * session's instance.  A transaction's writes stay in its write set until
 * commit applies them (txn.c). */
#include "session.h"
#include "isolation.h"
#include "table.h"
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
