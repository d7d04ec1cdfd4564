/* table.c -- tables in a database's catalog, cursors, and reads of the
 * session's view (isolation.h: the committed tree, in a transaction as of
 * its snapshot and merged with its write set): the entry gates
 * (table_enter, table_call_enter), table_create, table_open, table_close,
 * table_seek, table_count, table_retrieve, table_retrieve_slice and the
 * write into a transaction's write set (table_write_in_txn).  Every Ese*
 * table entry point is jet_table.c's. */
#include "table.h"
#include "database.h"
#include "isolation.h"
#include "lv.h"
#include "page.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TABLE_NAME 64

JET_ERR table_enter(JET_SESID sesid, JET_TABLEID tid, essession **ps, estable **pt, esdb **pdb) {
  essession *s;
  JET_ERR e = session_enter(sesid, &s);
  if (e) return e;
  estable *t = (estable *)tid;
  if (!t || tid == JET_tableidNil) e = JET_errInvalidTableId;
  else {
    estable *x = s->tables;
    while (x && x != t) x = x->next;
    if (!x || t->magic != TABLE_MAGIC) e = JET_errInvalidTableId;
  }
  esdb *db = e ? NULL : db_by_id(s->inst, t->dbid);
  if (e == JET_errSuccess && !db) e = JET_errDatabaseNotFound;
  if (e) {
    inst_leave(s->inst);
    return e;
  }
  *ps = s;
  *pt = t;
  *pdb = db;
  return JET_errSuccess;
}

void table_free(estable *t) {
  t->magic = 0;
  bt_rec_free(&t->cur);
  bt_rec_free(&t->scan);
  free(t->name);
  free(t);
}

static JET_ERR check_name(const char *name) {
  if (!name) return JET_errInvalidParameter;
  size_t n = strlen(name);
  return n == 0 || n > MAX_TABLE_NAME ? JET_errInvalidName : JET_errSuccess;
}

static JET_ERR new_handle(essession *s, esdb *db, uint32_t root, const char *name, JET_TABLEID *ptid) {
  estable *t = calloc(1, sizeof *t);
  if (!t || !(t->name = strdup(name))) {
    free(t);
    return JET_errOutOfMemory;
  }
  t->magic = TABLE_MAGIC;
  t->s = s;
  t->dbid = db->dbid;
  t->root = root;
  t->next = s->tables;
  s->tables = t;
  *ptid = (JET_TABLEID)t;
  return JET_errSuccess;
}

/* The root of a table from the catalog, or JET_errObjectNotFound. */
static JET_ERR catalog_find(esdb *db, const char *name, uint32_t *root) {
  uint32_t cat;
  bt_rec r = { 0 };
  JET_ERR e = pager_get_root(db->pg, &cat);
  if (e == JET_errSuccess) e = bt_seek(db->pg, cat, name, strlen(name), JET_bitSeekEQ, &r);
  if (e == JET_errRecordNotFound) e = JET_errObjectNotFound;
  if (e == JET_errSuccess && r.vlen != 4) e = JET_errDatabaseCorrupted;
  if (e == JET_errSuccess) *root = get32(r.val);
  bt_rec_free(&r);
  return e;
}

static JET_ERR table_db_enter(JET_SESID sesid, JET_DBID dbid, essession **ps, esdb **pdb) {
  essession *s;
  JET_ERR e = session_enter(sesid, &s);
  if (e) return e;
  esdb *db = db_by_id(s->inst, dbid);
  if (!db || !s->dbopen[dbid]) {
    inst_leave(s->inst);
    return JET_errDatabaseNotFound;
  }
  *ps = s;
  *pdb = db;
  return JET_errSuccess;
}

JET_ERR table_call_enter(JET_SESID sesid, JET_DBID dbid, const char *name, JET_TABLEID *ptid,
                                essession **ps, esdb **pdb) {
  JET_ERR e = check_name(name);
  if (e) return e;
  if (!ptid) return JET_errInvalidParameter;
  return table_db_enter(sesid, dbid, ps, pdb);
}

JET_ERR table_create(essession *s, esdb *db, const char *name, JET_TABLEID *ptid) {
  assert(inst_lock_held(s->inst));
  uint32_t root, cat;
  JET_ERR e = catalog_find(db, name, &root);
  if (e == JET_errSuccess) e = JET_errTableDuplicate;
  else if (e == JET_errObjectNotFound) e = JET_errSuccess;
  if (e == JET_errSuccess) e = pager_get_root(db->pg, &cat);
  if (e == JET_errSuccess) e = bt_create(db->pg, &root);
  if (e == JET_errSuccess) {
    uint8_t v[4];
    put32(v, root);
    e = bt_put(db->pg, cat, name, strlen(name), v, 4);
  }
  if (e == JET_errSuccess) e = new_handle(s, db, root, name, ptid);
  return e;
}

JET_ERR table_open(essession *s, esdb *db, const char *name, JET_TABLEID *ptid) {
  assert(inst_lock_held(s->inst));
  uint32_t root;
  JET_ERR e = catalog_find(db, name, &root);
  if (e == JET_errSuccess) e = new_handle(s, db, root, name, ptid);
  return e;
}

JET_ERR table_close(essession *s, JET_TABLEID tid) {
  assert(inst_lock_held(s->inst));
  for (estable **pp = &s->tables; *pp; pp = &(*pp)->next)
    if (*pp == (estable *)tid) {
      estable *t = *pp;
      *pp = t->next;
      table_free(t);
      return JET_errSuccess;
    }
  return JET_errInvalidTableId;
}

JET_ERR table_check_record(size_t klen, size_t vlen) {
  if (klen == 0) return JET_errInvalidParameter;
  if (klen > EseMaxKeySize) return JET_errKeyTooBig;
  return vlen > EseMaxValueSize ? JET_errRecordTooBig : JET_errSuccess;
}

/* Seek in the session's view (isolation.h): outside a transaction the
 * committed tree; in one its snapshot (the tree merged with the version
 * store) merged with its write set, which wins on equal keys and whose
 * tombstones hide records.  The tree is read from the cursor's position
 * hint (t->hint) when it is still current, so stepping through a table
 * does not descend from the root; a tree record becomes current by a swap
 * of t->scan and t->cur.  keys_only: a long value of the tree is not read
 * (vlen 0), for callers that need keys alone (EseCount, EseDelete's
 * lookup).  Clean pages over the cache size are dropped after the seek
 * (pager_trim_clean), so reads alone never grow the cache; nor does a
 * cursor keep a long value's copy but its current record's. */
static JET_ERR merged_seek_k(essession *s, estable *t, esdb *db, const void *key, size_t klen, JET_GRBIT op,
                             int keys_only) {
  t->scan.keys_only = keys_only;
  JET_ERR e = iso_seek(s, db, t->root, key, klen, op, &t->cur, &t->scan, &t->hint);
  t->has_cur = e == JET_errSuccess;
  t->scan.keys_only = t->cur.keys_only = 0;
  /* a long value's copy is not kept where no record needs it: scan is
   * scratch after the seek, cur too when the seek found nothing */
  bt_rec_release(&t->scan);
  if (!t->has_cur) bt_rec_release(&t->cur);
  pager_trim_clean(db->pg);
  return e;
}

static JET_ERR merged_seek(essession *s, estable *t, esdb *db, const void *key, size_t klen, JET_GRBIT op) {
  return merged_seek_k(s, t, db, key, klen, op, 0);
}

/* A second use of the cursor inside one call (EseDelete's lookup,
 * EseCount's walk): the current record is set aside and put back. */
typedef struct saved_cur { bt_rec cur; int has; } saved_cur;
static void cur_save(estable *t, saved_cur *sv) {
  sv->cur = t->cur;
  sv->has = t->has_cur;
  t->cur = (bt_rec){ 0 };
  t->has_cur = 0;
}
static void cur_restore(estable *t, saved_cur *sv) {
  bt_rec_free(&t->cur);
  t->cur = sv->cur;
  t->has_cur = sv->has;
}

/* A delete's key in the transaction's view (iso_present_fn): looked up
 * with the cursor, its record set aside meanwhile. */
typedef struct view_key { essession *s; estable *t; esdb *db; const void *key; size_t klen; } view_key;

static JET_ERR view_present(void *ud) {
  view_key *k = ud;
  saved_cur sv;
  cur_save(k->t, &sv);
  JET_ERR e = merged_seek_k(k->s, k->t, k->db, k->key, k->klen, JET_bitSeekEQ, 1);
  cur_restore(k->t, &sv);
  return e;
}

JET_ERR table_write_in_txn(essession *s, estable *t, esdb *db, const void *key, size_t klen, const void *val,
                           size_t vlen, int tomb) {
  assert(inst_lock_held(s->inst) && s->in_txn);
  view_key k = { s, t, db, key, klen };
  JET_ERR e = iso_check_write(s, t->dbid, t->root, key, klen, vlen, tomb, view_present, &k);
  if (e == JET_errSuccess) e = ws_put(&s->ws, t->dbid, t->root, key, klen, val, vlen, tomb);
  return e;
}

/* A failed read: the pager's detail (which page, why) for the session. */
static void page_detail(essession *s, esdb *db, JET_ERR e) {
  const char *d = e ? pager_error_detail(db->pg) : "";
  if (d[0]) session_detail(s, "%s", d);
}

/* Copies n bytes of src into pv (at most cbMax); 1 when truncated. */
static int copy_out(void *pv, size_t cbMax, size_t *pcb, const void *src, size_t n) {
  if (pcb) *pcb = n;
  if (pv && cbMax && n) memcpy(pv, src, n < cbMax ? n : cbMax);
  return cbMax < n;
}

JET_ERR table_seek(essession *s, estable *t, esdb *db, const void *key, size_t klen, JET_GRBIT op,
                   const table_out *out) {
  assert(inst_lock_held(s->inst));
  JET_ERR e = klen > EseMaxKeySize ? JET_errKeyTooBig : merged_seek(s, t, db, key ? key : "", klen, op);
  if (e != JET_errRecordNotFound) page_detail(s, db, e);
  if (e == JET_errSuccess && out) {
    int trunc = copy_out(out->key, out->key_max, out->key_len, t->cur.key, t->cur.klen);
    trunc |= copy_out(out->val, out->val_max, out->val_len, t->cur.val, t->cur.vlen);
    if (trunc) e = JET_wrnBufferTruncated;
  }
  return e;
}

/* Records of the merged view with from <= key (and key <= to when has_to),
 * counted by stepping the cursor (its record set aside meanwhile). */
static JET_ERR merged_count(essession *s, estable *t, esdb *db, const void *from, size_t cbFrom, const void *to,
                            size_t cbTo, int has_to, uint64_t *pc) {
  saved_cur sv;
  uint8_t probe[EseMaxKeySize];
  uint64_t n = 0;
  cur_save(t, &sv);
  JET_ERR e = has_to && cbTo == 0 ? JET_errRecordNotFound : merged_seek_k(s, t, db, from, cbFrom, JET_bitSeekGE, 1);
  while (e == JET_errSuccess) {
    size_t kl = t->cur.klen;
    if (has_to && ws_keycmp(t->cur.key, kl, to, cbTo) > 0) break;
    if (kl > sizeof probe) { e = JET_errDatabaseCorrupted; break; }
    n++;
    memcpy(probe, t->cur.key, kl);
    e = merged_seek_k(s, t, db, probe, kl, JET_bitSeekGT, 1);
  }
  cur_restore(t, &sv);
  if (e == JET_errRecordNotFound) e = JET_errSuccess;
  if (e == JET_errSuccess) *pc = n;
  return e;
}

JET_ERR table_count(essession *s, estable *t, esdb *db, const void *from, size_t cbFrom, const void *to, size_t cbTo,
                    uint64_t *pc) {
  assert(inst_lock_held(s->inst));
  JET_ERR e = merged_count(s, t, db, cbFrom ? from : "", cbFrom, to, cbTo, to != NULL, pc);
  page_detail(s, db, e);
  return e;
}

JET_ERR table_retrieve(estable *t, int want_key, size_t off, void *pv, size_t cbMax, size_t *pcb) {
  assert(inst_lock_held(t->s->inst));
  if (!t->has_cur) return JET_errNoCurrentRecord;
  const uint8_t *src = want_key ? t->cur.key : t->cur.val;
  size_t n = want_key ? t->cur.klen : t->cur.vlen;
  n = off < n ? n - off : 0;
  return copy_out(pv, cbMax, pcb, n ? src + off : src, n) ? JET_wrnBufferTruncated : JET_errSuccess;
}

/* The seek leaves a long value of the tree out of line (refs_only: r.val
 * is its reference, read while the instance lock is still held, so no
 * commit can free its pages before the slice is copied); a value from the
 * write set or the version store is a copy in memory.  The cursor (its
 * record and its position hint) is not used. */
JET_ERR table_retrieve_slice(essession *s, estable *t, esdb *db, const void *key, size_t klen, size_t off, void *pv,
                             size_t cbMax, size_t *pcb) {
  assert(inst_lock_held(s->inst));
  bt_rec r = { 0 }, scan = { .refs_only = 1 };
  JET_ERR e = iso_seek(s, db, t->root, key, klen, JET_bitSeekEQ, &r, &scan, NULL);
  size_t len = r.vlen;
  uint32_t lvlen, dir;
  if (e == JET_errSuccess && r.is_ref) {
    if (lv_ref_decode(r.val, r.vlen, &lvlen, &dir)) e = JET_errDatabaseCorrupted;
    len = lvlen;
  }
  if (e == JET_errSuccess) {
    size_t left = off < len ? len - off : 0, n = left < cbMax ? left : cbMax;
    if (pcb) *pcb = left;
    if (n && r.is_ref) e = lv_read(db->pg, r.val, off, n, pv);
    else if (n) memcpy(pv, r.val + off, n);
    if (e == JET_errSuccess && left > cbMax) e = JET_wrnBufferTruncated;
  }
  bt_rec_free(&r);
  bt_rec_free(&scan);
  pager_trim_clean(db->pg);
  if (e != JET_errRecordNotFound) page_detail(s, db, e);
  return e;
}
