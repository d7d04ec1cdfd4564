/* session.c -- sessions: begin (session_begin), end (session_end,
 * sessions_end_all), the handle check (session_of) and the one that enters
 * the session's instance (session_enter), the error detail.  The entry
 * points are jet_session.c's.  A transaction's writes stay in its write set
 * until commit applies them (txn.c). */
#include "session.h"
#include "isolation.h"
#include "table.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

essession *session_of(JET_SESID sesid) {
  essession *s = (essession *)sesid;
  return s && sesid != JET_sesidNil && s->magic == SESSION_MAGIC ? s : NULL;
}

JET_ERR session_enter(JET_SESID sesid, essession **out) {
  essession *s = session_of(sesid);
  if (!s) return JET_errInvalidSesid;
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

void session_copy_detail(const essession *s, char *buf, size_t cb) { snprintf(buf, cb, "%s", s->detail); }

JET_ERR session_begin(esinst *inst, JET_SESID *psesid) {
  assert(inst_lock_held(inst));
  essession *s = calloc(1, sizeof *s);
  if (!s) return JET_errOutOfMemory;
  s->magic = SESSION_MAGIC;
  s->inst = inst;
  ws_init(&s->ws);
  s->next = inst->sessions;
  inst->sessions = s;
  *psesid = (JET_SESID)s;
  return JET_errSuccess;
}

void session_end(essession *s) {
  assert(inst_lock_held(s->inst));
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
  while (inst->sessions) session_end(inst->sessions);
  assert(inst->vs.bytes == 0);   /* no snapshot left to need a version */
  vs_free(&inst->vs);
}
