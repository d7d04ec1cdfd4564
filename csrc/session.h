/*
 * session.h -- sessions (session.c): a session of an instance, its
 * transaction flag, snapshot and write set, its open cursors.  Layer:
 * instance, session and database state; the entry points are
 * jet_session.c's.
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
/* The session a handle names, or NULL (a handle is checked by its magic
 * number only: one used after its session ended is undefined). */
essession *session_of(JET_SESID sesid);
/* Enters the session's instance: JET_errInvalidSesid for a bad handle. */
JET_ERR session_enter(JET_SESID sesid, essession **out);
/* With the lock held: a new session of inst, its handle in *psesid. */
JET_ERR session_begin(esinst *inst, JET_SESID *psesid);
/* With the lock held: ends s (its cursors closed, its database opens
 * dropped, an open transaction rolled back) and frees it. */
void session_end(essession *s);
void sessions_end_all(esinst *inst);          /* term: ends every session */
void session_detail(essession *s, const char *fmt, ...);
/* The detail of s's last failure, into buf. */
void session_copy_detail(const essession *s, char *buf, size_t cb);

#endif
