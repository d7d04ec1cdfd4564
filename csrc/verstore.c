/* verstore.c -- the version store (verstore.h): a skip list of keys, each
 * with its before images in commit order. */
#include "verstore.h"
#include "writeset.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

static vsnode *node_new(int level) {
  return calloc(1, sizeof(vsnode) + (size_t)level * sizeof(vsnode *));
}

JET_ERR vs_init(verstore *vs) {
  memset(vs, 0, sizeof *vs);
  if (!(vs->head = node_new(VS_MAXLEVEL))) return JET_errOutOfMemory;
  vs->head->level = VS_MAXLEVEL;
  vs->level = 1;
  vs->rng = 0x2545f4914f6cdd1dull;
  return JET_errSuccess;
}

static void version_free(vsversion *v) {
  free(v->val);
  free(v);
}

static void node_free(vsnode *n) {
  free(n->key);
  free(n);
}

void vs_free(verstore *vs) {
  if (!vs->head) return;
  for (vsversion *v = vs->oldest, *nx; v; v = nx) {
    nx = v->gnext;
    version_free(v);
  }
  for (vsnode *n = vs->head->next[0], *nx; n; n = nx) {
    nx = n->next[0];
    node_free(n);
  }
  free(vs->head);
  memset(vs, 0, sizeof *vs);
}

/* Node n against the probe (dbid, root, key). */
static int node_cmp(const vsnode *n, uint32_t dbid, uint32_t root, const void *key, size_t klen) {
  if (n->dbid != dbid) return n->dbid < dbid ? -1 : 1;
  if (n->root != root) return n->root < root ? -1 : 1;
  return ws_keycmp(n->key, n->klen, key, klen);
}

/* The last node < probe at each level in pred (the head when none); returns
 * the node after pred[0] (the first >= probe) or NULL. */
static vsnode *search(const verstore *vs, uint32_t dbid, uint32_t root, const void *key, size_t klen,
                      vsnode **pred) {
  vsnode *x = vs->head;
  for (int l = vs->level - 1; l >= 0; l--) {
    while (x->next[l] && node_cmp(x->next[l], dbid, root, key, klen) < 0) x = x->next[l];
    if (pred) pred[l] = x;
  }
  return x->next[0];
}

vsnode *vs_find(const verstore *vs, uint32_t dbid, uint32_t root, const void *key, size_t klen) {
  if (!vs->head) return NULL;
  vsnode *n = search(vs, dbid, root, key, klen, NULL);
  return n && node_cmp(n, dbid, root, key, klen) == 0 ? n : NULL;
}

/* The last node < (dbid, root, key), or NULL. */
static vsnode *before(const verstore *vs, uint32_t dbid, uint32_t root, const void *key, size_t klen) {
  vsnode *pred[VS_MAXLEVEL];
  search(vs, dbid, root, key, klen, pred);
  return pred[0] == vs->head ? NULL : pred[0];
}

vsnode *vs_seek(const verstore *vs, uint32_t dbid, uint32_t root, const void *key, size_t klen, JET_GRBIT op) {
  vsnode *n;
  if (!vs->head) return NULL;
  if (klen == 0) {
    /* the first node of the tree, or the last: before the next root */
    if (op == JET_bitSeekGE || op == JET_bitSeekGT) n = search(vs, dbid, root, "", 0, NULL);
    else n = root == UINT32_MAX ? before(vs, dbid + 1, 0, "", 0) : before(vs, dbid, root + 1, "", 0);
  } else if (op == JET_bitSeekEQ) {
    return vs_find(vs, dbid, root, key, klen);
  } else if (op == JET_bitSeekGE || op == JET_bitSeekGT) {
    n = search(vs, dbid, root, key, klen, NULL);
    if (n && op == JET_bitSeekGT && node_cmp(n, dbid, root, key, klen) == 0) n = n->next[0];
  } else {
    n = before(vs, dbid, root, key, klen);
    if (op == JET_bitSeekLE) {
      vsnode *eq = vs_find(vs, dbid, root, key, klen);
      if (eq) n = eq;
    }
  }
  return n && n->dbid == dbid && n->root == root ? n : NULL;
}

const vsversion *vs_as_of(const vsnode *n, uint64_t snap) {
  const vsversion *v = n->first;
  while (v && v->commit <= snap) v = v->next;
  return v;
}

uint64_t vs_newest_commit(const vsnode *n) { return n && n->last ? n->last->commit : 0; }

void vs_batch_init(vsbatch *b) { memset(b, 0, sizeof *b); }

void vs_batch_free(vsbatch *b) {
  for (size_t i = 0; i < b->n; i++) {
    version_free(b->v[i]);
    if (b->fresh[i]) node_free(b->fresh[i]);
  }
  free(b->v);
  free(b->fresh);
  memset(b, 0, sizeof *b);
}

static int random_level(uint64_t *rng) {
  uint64_t x = *rng;
  x ^= x << 13; x ^= x >> 7; x ^= x << 17;
  *rng = x;
  int l = 1;
  while (l < VS_MAXLEVEL && (x & 3) == 0) {   /* p = 1/4 */
    l++;
    x >>= 2;
  }
  return l;
}

JET_ERR vs_batch_add(verstore *vs, vsbatch *b, uint32_t dbid, uint32_t root, const void *key, size_t klen,
                     const void *val, size_t vlen) {
  if (!vs->head && vs_init(vs) != JET_errSuccess) return JET_errOutOfMemory;
  if (b->n == b->cap) {
    size_t nc = b->cap ? b->cap * 2 : 16;
    vsversion **nv = realloc(b->v, nc * sizeof *nv);
    if (!nv) return JET_errOutOfMemory;
    b->v = nv;
    vsnode **nf = realloc(b->fresh, nc * sizeof *nf);
    if (!nf) return JET_errOutOfMemory;
    b->fresh = nf;
    b->cap = nc;
  }
  vsversion *v = calloc(1, sizeof *v);
  if (!v) return JET_errOutOfMemory;
  if (val) {
    if (!(v->val = malloc(vlen ? vlen : 1))) {
      free(v);
      return JET_errOutOfMemory;
    }
    if (vlen) memcpy(v->val, val, vlen);
    v->vlen = (uint32_t)vlen;
  } else {
    v->absent = 1;
  }
  vsnode *fresh = NULL;
  if (!(v->node = vs_find(vs, dbid, root, key, klen))) {
    int lv = random_level(&vs->rng);
    if (!(fresh = node_new(lv)) || !(fresh->key = malloc(klen))) {
      if (fresh) free(fresh);
      version_free(v);
      return JET_errOutOfMemory;
    }
    memcpy(fresh->key, key, klen);
    fresh->klen = (uint32_t)klen;
    fresh->dbid = dbid;
    fresh->root = root;
    fresh->level = lv;
    v->node = fresh;
    b->bytes += VS_OVERHEAD + klen;
  }
  b->v[b->n] = v;
  b->fresh[b->n] = fresh;
  b->n++;
  b->bytes += VS_OVERHEAD + (val ? vlen : 0);
  return JET_errSuccess;
}

static void node_link(verstore *vs, vsnode *n) {
  vsnode *pred[VS_MAXLEVEL];
  vsnode *at = search(vs, n->dbid, n->root, n->key, n->klen, pred);
  assert(!at || node_cmp(at, n->dbid, n->root, n->key, n->klen) != 0);
  (void)at;
  int lv = n->level;
  for (int l = vs->level; l < lv; l++) pred[l] = vs->head;
  if (lv > vs->level) vs->level = lv;
  for (int l = 0; l < lv; l++) {
    n->next[l] = pred[l]->next[l];
    pred[l]->next[l] = n;
  }
}

static void node_unlink(verstore *vs, vsnode *n) {
  vsnode *pred[VS_MAXLEVEL];
  vsnode *at = search(vs, n->dbid, n->root, n->key, n->klen, pred);
  assert(at == n);
  (void)at;
  for (int l = 0; l < n->level; l++)
    if (pred[l]->next[l] == n) pred[l]->next[l] = n->next[l];
  while (vs->level > 1 && !vs->head->next[vs->level - 1]) vs->level--;
}

void vs_link(verstore *vs, vsbatch *b, uint64_t c) {
  assert(!vs->newest || vs->newest->commit < c);
  for (size_t i = 0; i < b->n; i++) {
    vsversion *v = b->v[i];
    vsnode *n = v->node;
    if (b->fresh[i]) node_link(vs, n);
    v->commit = c;
    if (n->last) n->last->next = v;
    else n->first = v;
    n->last = v;
    v->gprev = vs->newest;
    if (vs->newest) vs->newest->gnext = v;
    else vs->oldest = v;
    vs->newest = v;
    vs->nversions++;
  }
  vs->bytes += b->bytes;
  free(b->v);
  free(b->fresh);
  memset(b, 0, sizeof *b);
}

void vs_trim(verstore *vs, uint64_t oldest_needed) {
  while (vs->oldest && vs->oldest->commit <= oldest_needed) {
    vsversion *v = vs->oldest;
    vsnode *n = v->node;
    assert(n->first == v);   /* the store's oldest is its node's oldest */
    vs->oldest = v->gnext;
    if (vs->oldest) vs->oldest->gprev = NULL;
    else vs->newest = NULL;
    n->first = v->next;
    vs->bytes -= VS_OVERHEAD + (v->absent ? 0 : v->vlen);
    vs->nversions--;
    version_free(v);
    if (!n->first) {
      n->last = NULL;
      node_unlink(vs, n);
      vs->bytes -= VS_OVERHEAD + n->klen;
      node_free(n);
    }
  }
}

const vsversion *vs_older(const vsversion *v) {
  const vsversion *p = v->node->first;
  if (p == v) return NULL;
  while (p->next != v) p = p->next;
  return p;
}

void vs_drop_version(verstore *vs, vsversion *v) {
  vsnode *n = v->node;
  vsversion *p = (vsversion *)vs_older(v);
  assert(p);   /* never a node's first: vs_trim's order needs it */
  p->next = v->next;
  if (n->last == v) n->last = p;
  if (v->gprev) v->gprev->gnext = v->gnext;
  else vs->oldest = v->gnext;
  if (v->gnext) v->gnext->gprev = v->gprev;
  else vs->newest = v->gprev;
  vs->bytes -= VS_OVERHEAD + (v->absent ? 0 : v->vlen);
  vs->nversions--;
  version_free(v);
}

int vs_has_db(const verstore *vs, uint32_t dbid) {
  if (!vs->head) return 0;
  const vsnode *n = search(vs, dbid, 0, "", 0, NULL);
  return n && n->dbid == dbid;
}

void vs_drop_db(verstore *vs, uint32_t dbid) {
  if (!vs->head) return;
  /* the versions, off the store's list (their nodes go next, whole) */
  vsversion *prev = NULL;
  for (vsversion *v = vs->oldest, *nx; v; v = nx) {
    nx = v->gnext;
    if (v->node->dbid != dbid) {
      prev = v;
      continue;
    }
    if (prev) prev->gnext = nx;
    else vs->oldest = nx;
    if (nx) nx->gprev = prev;
    if (vs->newest == v) vs->newest = prev;
    vs->bytes -= VS_OVERHEAD + (v->absent ? 0 : v->vlen);
    vs->nversions--;
    version_free(v);
  }
  vsnode *n;
  while ((n = search(vs, dbid, 0, "", 0, NULL)) != NULL && n->dbid == dbid) {
    node_unlink(vs, n);
    vs->bytes -= VS_OVERHEAD + n->klen;
    node_free(n);
  }
}
