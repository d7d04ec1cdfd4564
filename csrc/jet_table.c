/* jet_table.c -- the table entry points.  Each checks its arguments,
 * enters through table.c (table_call_enter for a table by name,
 * table_enter for a cursor), makes one call there and leaves: EseOpenTable
 * (table_open), EseCloseTable (table_close), EseSeek and EseSeekRetrieve
 * (table_seek), EseCount (table_count), EseRetrieveKey, EseRetrieveValue,
 * EseRetrieveValueAt (table_retrieve), EseRetrieveSlice
 * (table_retrieve_slice).  The ones that change data: EseCreateTable
 * (table_create), EsePut, EseDelete (table_write_in_txn, a write into the
 * open transaction's write set) or, outside a transaction, the call made
 * its own transaction (txn.c: txn_commit_and_leave, txn_autocommit_write).
 * Also EseMaxRecordSize (pageop.c's po_max_record). */
#include "table.h"
#include "database.h"
#include "pageop.h"
#include "txn.h"

/* The rest of an entry point on cursor tableid of sesid: enters
 * (table_enter: s, t, db for call), evaluates call, leaves, returns its
 * result. */
#define ON_CURSOR(sesid, tableid, call)                           \
  do {                                                            \
    essession *s;                                                 \
    estable *t;                                                   \
    esdb *db;                                                     \
    JET_ERR e_ = table_enter((sesid), (tableid), &s, &t, &db);    \
    if (e_) return e_;                                            \
    e_ = (call);                                                  \
    inst_leave(s->inst);                                          \
    return e_;                                                    \
  } while (0)

size_t EseMaxRecordSize(unsigned long cbPage) { return po_max_record(cbPage); }

/* EseCreateTable (create 1: the catalog's new entry committed, or its
 * pending pages dropped) and EseOpenTable. */
static JET_ERR by_name(JET_SESID sesid, JET_DBID dbid, const char *name, JET_TABLEID *ptid, int create) {
  essession *s;
  esdb *db;
  JET_ERR e = table_call_enter(sesid, dbid, name, ptid, &s, &db);
  if (e) return e;
  if (!create) e = table_open(s, db, name, ptid);
  else if ((e = table_create(s, db, name, ptid)) == JET_errSuccess) return txn_commit_and_leave(s->inst, 0);
  else db_discard_pending(s->inst);
  inst_leave(s->inst);
  return e;
}

JET_ERR JET_API EseCreateTable(JET_SESID sesid, JET_DBID dbid, const char *szTableName, JET_TABLEID *ptableid) {
  return by_name(sesid, dbid, szTableName, ptableid, 1);
}

JET_ERR JET_API EseOpenTable(JET_SESID sesid, JET_DBID dbid, const char *szTableName, JET_TABLEID *ptableid) {
  return by_name(sesid, dbid, szTableName, ptableid, 0);
}

JET_ERR JET_API EseCloseTable(JET_SESID sesid, JET_TABLEID tableid) {
  essession *s;
  JET_ERR e = session_enter(sesid, &s);
  if (e) return e;
  e = table_close(s, tableid);
  inst_leave(s->inst);
  return e;
}

static int seek_grbit_ok(JET_GRBIT g) {
  return g == JET_bitSeekEQ || g == JET_bitSeekLT || g == JET_bitSeekLE || g == JET_bitSeekGE || g == JET_bitSeekGT;
}

/* EseSeek (out NULL) and EseSeekRetrieve.  A NULL output buffer with a
 * size (nothing would be copied into it, and the call would succeed) is
 * JET_errInvalidParameter, as for every retrieve. */
static JET_ERR seek(JET_SESID sesid, JET_TABLEID tableid, const void *pvKey, size_t cbKey, JET_GRBIT grbit,
                    const table_out *out) {
  if (!seek_grbit_ok(grbit)) return JET_errInvalidGrbit;
  if ((!pvKey && cbKey) || (cbKey == 0 && grbit == JET_bitSeekEQ)) return JET_errInvalidParameter;
  if (out && ((!out->key && out->key_max) || (!out->val && out->val_max))) return JET_errInvalidParameter;
  ON_CURSOR(sesid, tableid, table_seek(s, t, db, pvKey, cbKey, grbit, out));
}

JET_ERR JET_API EseSeek(JET_SESID sesid, JET_TABLEID tableid, const void *pvKey, size_t cbKey, JET_GRBIT grbit) {
  return seek(sesid, tableid, pvKey, cbKey, grbit, NULL);
}

JET_ERR JET_API EseSeekRetrieve(JET_SESID sesid, JET_TABLEID tableid, const void *pvKey, size_t cbKey,
                                JET_GRBIT grbit, void *pvKeyOut, size_t cbKeyMax, size_t *pcbKey, void *pvData,
                                size_t cbDataMax, size_t *pcbData) {
  table_out out = { pvKeyOut, cbKeyMax, pcbKey, pvData, cbDataMax, pcbData };
  return seek(sesid, tableid, pvKey, cbKey, grbit, &out);
}

JET_ERR JET_API EseCount(JET_SESID sesid, JET_TABLEID tableid, const void *pvFrom, size_t cbFrom, const void *pvTo,
                         size_t cbTo, uint64_t *pcRecords) {
  if (!pcRecords || (!pvFrom && cbFrom) || (!pvTo && cbTo)) return JET_errInvalidParameter;
  if (cbFrom > EseMaxKeySize || cbTo > EseMaxKeySize) return JET_errKeyTooBig;
  ON_CURSOR(sesid, tableid, table_count(s, t, db, pvFrom, cbFrom, pvTo, cbTo, pcRecords));
}

JET_ERR JET_API EseRetrieveKey(JET_SESID sesid, JET_TABLEID tableid, void *pv, size_t cbMax, size_t *pcbActual) {
  if (!pv && cbMax) return JET_errInvalidParameter;
  ON_CURSOR(sesid, tableid, table_retrieve(t, 1, 0, pv, cbMax, pcbActual));
}

JET_ERR JET_API EseRetrieveValue(JET_SESID sesid, JET_TABLEID tableid, void *pv, size_t cbMax, size_t *pcbActual) {
  if (!pv && cbMax) return JET_errInvalidParameter;
  ON_CURSOR(sesid, tableid, table_retrieve(t, 0, 0, pv, cbMax, pcbActual));
}

JET_ERR JET_API EseRetrieveValueAt(JET_SESID sesid, JET_TABLEID tableid, size_t ibOffset, void *pv, size_t cbMax,
                                   size_t *pcbActual) {
  if (!pv && cbMax) return JET_errInvalidParameter;
  ON_CURSOR(sesid, tableid, table_retrieve(t, 0, ibOffset, pv, cbMax, pcbActual));
}

JET_ERR JET_API EseRetrieveSlice(JET_SESID sesid, JET_TABLEID tableid, const void *pvKey, size_t cbKey,
                                 size_t ibOffset, void *pv, size_t cbMax, size_t *pcbActual) {
  if (!pvKey || cbKey == 0 || (!pv && cbMax)) return JET_errInvalidParameter;
  if (cbKey > EseMaxKeySize) return JET_errKeyTooBig;
  ON_CURSOR(sesid, tableid, table_retrieve_slice(s, t, db, pvKey, cbKey, ibOffset, pv, cbMax, pcbActual));
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
