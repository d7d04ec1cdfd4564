/* jet_database.c -- the database entry points: JetCreateDatabase,
 * JetAttachDatabase, JetDetachDatabase, JetOpenDatabase, JetCloseDatabase.
 * Each enters the session's instance, calls database.c for the work
 * (db_create, db_attach, db_detach, db_open_for, db_close_for) and leaves;
 * a creation commits its pages as a transaction (txn.c) on the way out. */
#include "database.h"
#include "session.h"
#include "txn.h"

typedef enum db_call { DB_CREATE, DB_ATTACH, DB_DETACH, DB_OPEN, DB_CLOSE } db_call;

/* One entry point: the session entered, the work, the instance left (a
 * creation that succeeded leaves through its commit; one that failed has
 * dropped what it made: db_create). */
static JET_ERR db_entry(JET_SESID sesid, db_call c, const char *name, JET_DBID dbid, JET_DBID *pdbid) {
  essession *s;
  JET_ERR e = session_enter(sesid, &s);
  if (e) return e;
  switch (c) {
  case DB_CREATE:
    e = db_create(s, name, pdbid);
    if (e == JET_errSuccess) return txn_commit_and_leave(s->inst, 0);
    break;
  case DB_ATTACH: e = db_attach(s, name); break;
  case DB_DETACH: e = db_detach(s, name); break;
  case DB_OPEN: e = db_open_for(s, name, pdbid); break;
  case DB_CLOSE: e = db_close_for(s, dbid); break;
  }
  inst_leave(s->inst);
  return e;
}

JET_ERR JET_API JetCreateDatabase(JET_SESID sesid, const char *szFilename, const char *szConnect,
                                  JET_DBID *pdbid, JET_GRBIT grbit) {
  (void)szConnect; (void)grbit;
  return db_entry(sesid, DB_CREATE, szFilename, 0, pdbid);
}

JET_ERR JET_API JetAttachDatabase(JET_SESID sesid, const char *szFilename, JET_GRBIT grbit) {
  (void)grbit;
  return db_entry(sesid, DB_ATTACH, szFilename, 0, NULL);
}

JET_ERR JET_API JetDetachDatabase(JET_SESID sesid, const char *szFilename) {
  return db_entry(sesid, DB_DETACH, szFilename, 0, NULL);
}

JET_ERR JET_API JetOpenDatabase(JET_SESID sesid, const char *szFilename, const char *szConnect,
                                JET_DBID *pdbid, JET_GRBIT grbit) {
  (void)szConnect; (void)grbit;
  return db_entry(sesid, DB_OPEN, szFilename, 0, pdbid);
}

JET_ERR JET_API JetCloseDatabase(JET_SESID sesid, JET_DBID dbid, JET_GRBIT grbit) {
  (void)grbit;
  return db_entry(sesid, DB_CLOSE, NULL, dbid, NULL);
}
