/* jet_table.c -- the table entry points that change data: EseCreateTable,
 * EsePut, EseDelete.  Each enters through table.c (table_call_enter,
 * table_enter), does the work there (table_create; table_write_in_txn, a
 * write into the open transaction's write set) or, outside a transaction,
 * makes the call its own transaction (txn.c: txn_commit_and_leave,
 * txn_autocommit_write).  The entry points that only read or move a cursor
 * are table.c's. */
#include "table.h"
#include "database.h"
#include "txn.h"

JET_ERR JET_API EseCreateTable(JET_SESID sesid, JET_DBID dbid, const char *szTableName, JET_TABLEID *ptableid) {
  essession *s;
  esdb *db;
  JET_ERR e = table_call_enter(sesid, dbid, szTableName, ptableid, &s, &db);
  if (e) return e;
  e = table_create(s, db, szTableName, ptableid);
  if (e) {
    db_discard_pending(s->inst);
    inst_leave(s->inst);
    return e;
  }
  return txn_commit_and_leave(s->inst, 0);
}

/* A put (tomb 0) or delete (tomb 1) of an entered table: into the open
 * transaction's write set, or committed as its own transaction. */
static JET_ERR write_entered(essession *s, estable *t, esdb *db, const void *key, size_t klen, const void *val,
                             size_t vlen, int tomb) {
  if (!s->in_txn) return txn_autocommit_write(s, db, t->root, key, klen, val, vlen, tomb);
  JET_ERR e = table_write_in_txn(s, t, db, key, klen, val, vlen, tomb);
  inst_leave(s->inst);
  return e;
}

JET_ERR JET_API EsePut(JET_SESID sesid, JET_TABLEID tableid, const void *pvKey, size_t cbKey,
                       const void *pvData, size_t cbData) {
  if (!pvKey || (!pvData && cbData)) return JET_errInvalidParameter;
  essession *s;
  estable *t;
  esdb *db;
  JET_ERR e = table_enter(sesid, tableid, &s, &t, &db);
  if (e) return e;
  e = table_check_record(cbKey, cbData);
  if (e) {
    inst_leave(s->inst);
    return e;
  }
  return write_entered(s, t, db, pvKey, cbKey, pvData, cbData, 0);
}

JET_ERR JET_API EseDelete(JET_SESID sesid, JET_TABLEID tableid, const void *pvKey, size_t cbKey) {
  if (!pvKey || cbKey == 0) return JET_errInvalidParameter;
  if (cbKey > EseMaxKeySize) return JET_errKeyTooBig;   /* as EsePut: no such key can exist */
  essession *s;
  estable *t;
  esdb *db;
  JET_ERR e = table_enter(sesid, tableid, &s, &t, &db);
  if (e) return e;
  return write_entered(s, t, db, pvKey, cbKey, NULL, 0, 1);
}
