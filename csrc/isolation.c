/* isolation.c -- snapshot reads, write conflicts, the version store's
 * limit and its figures (iso_store_info, for jet_instance.c's
 * EseGetVersionStoreInfo) (isolation.h). */
#include "isolation.h"
#include <string.h>

static uint64_t limit_bytes(const esinst *inst) {
  return (uint64_t)inst->prm.max_ver_pages * ESE_VER_PAGE_SIZE;
}

void iso_begin(essession *s) {
  assert(inst_lock_held(s->inst));
  assert(s->in_txn && s->ws.n == 0);
  s->snap = s->inst->commit_seq;
}

static int version_read(const esinst *inst, const vsversion *v);

void iso_end(essession *s) {
  esinst *inst = s->inst;
  assert(inst_lock_held(inst));
  assert(!s->in_txn);
  uint64_t oldest = inst->commit_seq;
  for (const essession *o = inst->sessions; o; o = o->next)
    if (o->in_txn && o->snap < oldest) oldest = o->snap;
  /* the versions s's snapshot read (per key, the oldest newer than it),
   * when no other open snapshot reads them; those of commits up to the
   * oldest open snapshot go by vs_trim. Only versions newer than s's
   * snapshot are looked at: they came while s was open. */
  if (s->snap > oldest)
    for (vsversion *v = inst->vs.newest, *older; v && v->commit > s->snap; v = older) {
      older = v->gprev;
      const vsversion *p = vs_older(v);
      if (p && p->commit <= s->snap && !version_read(inst, v)) vs_drop_version(&inst->vs, v);
    }
  vs_trim(&inst->vs, oldest);
}

/* 1 when a session other than s has a transaction open. */
static int others_open(const essession *s) {
  for (const essession *o = s->inst->sessions; o; o = o->next)
    if (o != s && o->in_txn) return 1;
  return 0;
}

/* Bytes of the write sets of every session but s. */
static uint64_t others_uncommitted(const essession *s) {
  uint64_t n = 0;
  for (const essession *o = s->inst->sessions; o; o = o->next)
    if (o != s) n += o->ws.bytes;
  return n;
}

static JET_ERR out_of_versions(essession *s, uint64_t need) {
  session_detail(s, "the version store needs %llu bytes, over max_ver_pages (%lu pages of %u bytes)",
                 (unsigned long long)need, (unsigned long)s->inst->prm.max_ver_pages, ESE_VER_PAGE_SIZE);
  return JET_errVersionStoreOutOfMemory;
}

JET_ERR iso_check_write(essession *s, uint32_t dbid, uint32_t root, const void *key, size_t klen, size_t vlen,
                        int tomb, iso_present_fn present, void *ud) {
  esinst *inst = s->inst;
  assert(inst_lock_held(inst));
  assert(!tomb || present);
  for (const essession *o = inst->sessions; o; o = o->next)
    if (o != s && o->in_txn && ws_get(&o->ws, dbid, root, key, klen)) {
      session_detail(s, "another session's open transaction has written this key");
      return JET_errWriteConflict;
    }
  if (s->in_txn && vs_newest_commit(vs_find(&inst->vs, dbid, root, key, klen)) > s->snap) {
    session_detail(s, "another session committed this key after this transaction began");
    return JET_errWriteConflict;
  }
  /* a delete needs the record in the view: without it JET_errRecordNotFound,
   * looked up before any limit is checked (here, or iso_fits after the
   * before image outside a transaction) */
  JET_ERR e = tomb ? present(ud) : JET_errSuccess;
  if (e || !s->in_txn) return e;
  const wsent *old = ws_get(&s->ws, dbid, root, key, klen);
  uint64_t mine = s->ws.bytes - (old ? WS_OVERHEAD + old->klen + old->vlen : 0) + WS_OVERHEAD + klen + (tomb ? 0 : vlen);
  uint64_t need = inst->vs.bytes + others_uncommitted(s) + mine;
  if (mine > s->ws.bytes && need > limit_bytes(inst)) return out_of_versions(s, need);
  return JET_errSuccess;
}

JET_ERR iso_before_image(essession *s, const wsent *w, vsbatch *b) {
  esinst *inst = s->inst;
  assert(inst_lock_held(inst));
  if (!others_open(s)) return JET_errSuccess;   /* no snapshot older than this commit */
  esdb *db = db_by_id(inst, w->dbid);
  if (!db) return JET_errDatabaseNotFound;
  bt_rec r = { 0 };
  JET_ERR e = bt_seek(db->pg, w->root, w->key, w->klen, JET_bitSeekEQ, &r);
  /* absent before: the image says so.  A tombstone of an absent key (put,
   * then deleted, in this transaction) changes no record, but the key was
   * written: a transaction older than this commit that writes it must get
   * JET_errWriteConflict (iso_check_write: the key's newest commit), as
   * after any other write of it. */
  if (e == JET_errRecordNotFound)
    e = vs_batch_add(&inst->vs, b, w->dbid, w->root, w->key, w->klen, NULL, 0);
  else if (e == JET_errSuccess)
    e = vs_batch_add(&inst->vs, b, w->dbid, w->root, w->key, w->klen, r.val, r.vlen);
  bt_rec_free(&r);
  return e;
}

JET_ERR iso_fits(essession *s, const vsbatch *b) {
  esinst *inst = s->inst;
  assert(inst_lock_held(inst));
  if (b->bytes == 0) return JET_errSuccess;
  uint64_t need = inst->vs.bytes + b->bytes + others_uncommitted(s);
  return need > limit_bytes(inst) ? out_of_versions(s, need) : JET_errSuccess;
}

/* Whether an open snapshot reads version v: one that began at or after
 * the commit of the version before it and before v's own commit (it reads
 * the oldest version newer than itself). A snapshot begun later begins
 * after v's commit and never reads it, so a version that none reads now
 * never will. A node's first version always counts as read: vs_trim
 * drops it once every snapshot is past it, in commit order. Dropping an
 * unread version changes no read and no write conflict: the key's newest
 * commit stays above every snapshot it was above. */
static int version_read(const esinst *inst, const vsversion *v) {
  const vsversion *p = vs_older(v);
  if (!p) return 1;
  for (const essession *o = inst->sessions; o; o = o->next)
    if (o->in_txn && o->snap >= p->commit && o->snap < v->commit) return 1;
  return 0;
}

void iso_committed(esinst *inst, vsbatch *b) {
  assert(inst_lock_held(inst));
  /* a key replaced again and again while an old snapshot stays open keeps
   * the images open snapshots read, not one per replace */
  for (size_t i = 0; i < b->n; i++) {
    vsversion *newest = b->fresh[i] ? NULL : b->v[i]->node->last;
    if (newest && !version_read(inst, newest)) vs_drop_version(&inst->vs, newest);
  }
  vs_link(&inst->vs, b, ++inst->commit_seq);
}

/* Outside a transaction the view is the tree (iso_present_fn). */
typedef struct tree_key { esdb *db; uint32_t root; const void *key; size_t klen; } tree_key;

static JET_ERR tree_present(void *ud) {
  const tree_key *k = ud;
  bt_rec r = { 0 };
  JET_ERR e = bt_seek(k->db->pg, k->root, k->key, k->klen, JET_bitSeekEQ, &r);
  bt_rec_free(&r);
  return e;
}

JET_ERR iso_autocommit_write(essession *s, esdb *db, uint32_t root, const void *key, size_t klen, const void *val,
                             size_t vlen, int tomb, vsbatch *b) {
  assert(inst_lock_held(s->inst) && !s->in_txn);
  tree_key k = { db, root, key, klen };
  JET_ERR e = iso_check_write(s, db->dbid, root, key, klen, vlen, tomb, tree_present, &k);
  if (e) return e;
  wsent w = { .dbid = db->dbid, .root = root, .klen = (uint32_t)klen, .vlen = (uint32_t)vlen, .tomb = tomb,
              .key = (uint8_t *)key, .val = (uint8_t *)val };
  e = iso_before_image(s, &w, b);
  if (e == JET_errSuccess) e = iso_fits(s, b);
  if (e == JET_errSuccess)
    e = tomb ? bt_delete(db->pg, root, key, klen) : bt_put(db->pg, root, key, klen, val ? val : "", vlen);
  return e;
}

/* ---- reads -------------------------------------------------------------------
 * s's view of a key: its write set's entry; else, in a transaction, the
 * before image of the oldest version newer than its snapshot; else the
 * tree's record.  A seek merges the three ordered sources: it takes the
 * nearest key any of them has in the seek's direction and, when that key
 * has no record in the view (a tombstone, an "absent" image, or a version
 * node whose key the tree no longer has), seeks on strictly past it. */

static int nearer(int forward, const void *a, size_t alen, const void *b, size_t blen) {
  int c = ws_keycmp(a, alen, b, blen);
  return forward ? c < 0 : c > 0;
}

static int same(const void *a, size_t alen, const void *b, size_t blen) {
  return alen == blen && memcmp(a, b, alen) == 0;
}

/* The tree's record in scan becomes the answer in out. */
static JET_ERR take(bt_rec *out, bt_rec *scan) {
  bt_rec t = *out;
  *out = *scan;
  *scan = t;
  return JET_errSuccess;
}

JET_ERR iso_seek(essession *s, esdb *db, uint32_t root, const void *key, size_t klen, JET_GRBIT op, bt_rec *out,
                 bt_rec *scan, bt_hint *hint) {
  esinst *inst = s->inst;
  assert(inst_lock_held(inst));
  uint32_t dbid = db->dbid;
  const wsent *w = NULL;
  const vsnode *n = NULL;
  if (op == JET_bitSeekEQ && s->in_txn) {
    w = ws_get(&s->ws, dbid, root, key, klen);
    if (w) return w->tomb ? JET_errRecordNotFound : bt_rec_set(out, w->key, w->klen, w->val, w->vlen);
    n = vs_find(&inst->vs, dbid, root, key, klen);
    const vsversion *v = n ? vs_as_of(n, s->snap) : NULL;
    if (v) return v->absent ? JET_errRecordNotFound : bt_rec_set(out, key, klen, v->val, v->vlen);
  }
  if (op == JET_bitSeekEQ || !s->in_txn) {
    JET_ERR e = bt_seek_hint(db->pg, root, key, klen, op, scan, hint);
    return e ? e : take(out, scan);
  }
  int forward = op == JET_bitSeekGE || op == JET_bitSeekGT;
  uint8_t probe[EseMaxKeySize];
  const void *pk = key;
  size_t pklen = klen;
  JET_ERR e;
  for (;;) {
    e = bt_seek_hint(db->pg, root, pk, pklen, op, scan, hint);
    if (e && e != JET_errRecordNotFound) break;
    int have_tree = e == JET_errSuccess;
    if ((e = ws_seek(&s->ws, dbid, root, pk, pklen, op, &w)) != JET_errSuccess) break;
    n = vs_seek(&inst->vs, dbid, root, pk, pklen, op);
    /* the nearest key of the three */
    const uint8_t *mk = have_tree ? scan->key : NULL;
    size_t mkl = have_tree ? scan->klen : 0;
    if (w && (!mk || nearer(forward, w->key, w->klen, mk, mkl))) mk = w->key, mkl = w->klen;
    if (n && (!mk || nearer(forward, n->key, n->klen, mk, mkl))) mk = n->key, mkl = n->klen;
    if (!mk) {
      e = JET_errRecordNotFound;
      break;
    }
    if (w && same(w->key, w->klen, mk, mkl)) {
      if (!w->tomb) {
        e = bt_rec_set(out, w->key, w->klen, w->val, w->vlen);
        break;
      }
    } else {
      const vsversion *v = n && same(n->key, n->klen, mk, mkl) ? vs_as_of(n, s->snap) : NULL;
      if (v && !v->absent) {
        e = bt_rec_set(out, mk, mkl, v->val, v->vlen);
        break;
      }
      if (!v && have_tree && same(scan->key, scan->klen, mk, mkl)) {
        e = take(out, scan);
        break;
      }
    }
    /* no record of mk in the view: on past it (mk may point into scan,
     * which the next seek overwrites) */
    if (mkl > sizeof probe) {
      e = JET_errDatabaseCorrupted;
      break;
    }
    memcpy(probe, mk, mkl);
    pk = probe;
    pklen = mkl;
    op = forward ? JET_bitSeekGT : JET_bitSeekLT;
  }
  return e;
}

void iso_store_info(esinst *inst, EseVersionStoreInfo *info) {
  assert(inst_lock_held(inst));
  memset(info, 0, sizeof *info);
  info->cbVersions = inst->vs.bytes;
  info->cVersions = inst->vs.nversions;
  info->cbMax = limit_bytes(inst);
  for (const essession *o = inst->sessions; o; o = o->next) {
    info->cbUncommitted += o->ws.bytes;
    info->cTransactions += o->in_txn != 0;
  }
}
