/*
 * session.h -- sessions (session.c): a session of an instance, its
 * transaction flag, snapshot and write set, its open cursors.  Layer:
 * instance, session and database state.
 */
#ifndef ESE_SESSION_H
#define ESE_SESSION_H
#include "instance.h"
#include "writeset.h"

typedef struct estable estable;   /* table.h */

struct essession {
  uint32_t magic;
  esinst *inst;
  essession *next;
  int in_txn;
  uint64_t snap;          /* in a transaction: commit_seq at its begin (isolation.h) */
  writeset ws;
  estable *tables;        /* open cursors (list) */
  int dbopen[ESE_MAX_DB + 1];
  char detail[256];
};

#define SESSION_MAGIC 0x53455353u
/* Enters the session's instance: JET_errInvalidSesid for a bad handle. */
JET_ERR session_enter(JET_SESID sesid, essession **out);
void sessions_end_all(esinst *inst);          /* term: ends every session */
void session_detail(essession *s, const char *fmt, ...);

#endif
