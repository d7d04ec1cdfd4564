/*
 * table.h -- table cursors (table.c): a table of a database, opened by a
 * session, with its position in the tree.  Layer: instance, session and
 * database state.
 */
#ifndef ESE_TABLE_H
#define ESE_TABLE_H
#include "session.h"
#include "btree.h"
#include "database.h"

#define TABLE_MAGIC 0x5441424cu

struct estable {
  uint32_t magic;
  essession *s;
  estable *next;
  uint32_t dbid, root;
  char *name;
  bt_rec cur;
  int has_cur;
  bt_rec scan;            /* merged_seek's tree record, swapped into cur */
  bt_hint hint;           /* the tree position of the last seek (btree.h) */
};

/* Frees a cursor (the caller unlinked it from its session). */
void table_free(estable *t);

/* Enters s's instance for a call on cursor tid of that session: on success
 * the lock is held, *pt is the cursor and *pdb its database; on failure
 * nothing is held. */
JET_ERR table_enter(JET_SESID sesid, JET_TABLEID tid, essession **ps, estable **pt, esdb **pdb);
/* The same for EseCreateTable / EseOpenTable: the name checked
 * (JET_errInvalidName), dbid open in the session (JET_errDatabaseNotFound). */
JET_ERR table_call_enter(JET_SESID sesid, JET_DBID dbid, const char *name, JET_TABLEID *ptid, essession **ps,
                         esdb **pdb);
/* With the lock held: adds table name to db's catalog (pending pages, for
 * the caller to commit or discard; JET_errTableDuplicate) and opens a
 * cursor on it for s. */
JET_ERR table_create(essession *s, esdb *db, const char *name, JET_TABLEID *ptid);
/* Keys of 1..EseMaxKeySize bytes (JET_errInvalidParameter,
 * JET_errKeyTooBig), values up to EseMaxValueSize (JET_errRecordTooBig; a
 * value too large for its leaf goes out of line: lv.h). */
JET_ERR table_check_record(size_t klen, size_t vlen);
/* With the lock held, s in a transaction: a put (tomb 0) or delete (tomb
 * 1) checked for a write conflict (iso_check_write) and added to the write
 * set; a delete of a key not in s's view is JET_errRecordNotFound. */
JET_ERR table_write_in_txn(essession *s, estable *t, esdb *db, const void *key, size_t klen, const void *val,
                           size_t vlen, int tomb);

#endif
