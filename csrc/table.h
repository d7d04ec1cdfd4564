/*
 * table.h -- table cursors (table.c): a table of a database, opened by a
 * session, with its position in the tree.  Layer: instance, session and
 * database state; the entry points are jet_table.c's.
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

/* The reads and cursor moves of the session's view (isolation.h), each
 * with the lock held (s entered, t its cursor on db: table_enter or
 * table_call_enter).  Where they copy a key or a value out: at most the
 * buffer's size (NULL: none), the whole length in *len (NULL: not told),
 * JET_wrnBufferTruncated when it was cut. */
typedef struct table_out {
  void *key;
  size_t key_max, *key_len;
  void *val;
  size_t val_max, *val_len;
} table_out;
/* Opens a cursor on table name of db (JET_errObjectNotFound) for s, or
 * closes s's cursor tid (JET_errInvalidTableId). */
JET_ERR table_open(essession *s, esdb *db, const char *name, JET_TABLEID *ptid);
JET_ERR table_close(essession *s, JET_TABLEID tid);
/* Moves the cursor to the record op (one JET_bitSeek*) finds for key
 * (NULL with klen 0: the empty key; over EseMaxKeySize: JET_errKeyTooBig,
 * as no such key exists); out (NULL: none) gets the record's key and
 * value. */
JET_ERR table_seek(essession *s, estable *t, esdb *db, const void *key, size_t klen, JET_GRBIT op,
                   const table_out *out);
/* The records with from <= key (and key <= to when to is not NULL; cbTo 0
 * then: none), in *pc; the cursor's record is kept. */
JET_ERR table_count(essession *s, estable *t, esdb *db, const void *from, size_t cbFrom, const void *to, size_t cbTo,
                    uint64_t *pc);
/* The current record's key (want_key 1) or value from byte off on (past
 * the end: none left, *pcb 0); JET_errNoCurrentRecord without one. */
JET_ERR table_retrieve(estable *t, int want_key, size_t off, void *pv, size_t cbMax, size_t *pcb);
/* The value of the record key, from byte off on (the bytes left after off
 * in *pcb), read without moving the cursor (a long value from its pages). */
JET_ERR table_retrieve_slice(essession *s, estable *t, esdb *db, const void *key, size_t klen, size_t off, void *pv,
                             size_t cbMax, size_t *pcb);

#endif
