/*
 * table.h -- table cursors (table.c): a table of a database, opened by a
 * session, with its position in the tree.  Layer: instance, session and
 * database state.
 */
#ifndef ESE_TABLE_H
#define ESE_TABLE_H
#include "session.h"
#include "btree.h"

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

#endif
