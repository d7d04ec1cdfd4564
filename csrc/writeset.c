/* writeset.c -- a transaction's private writes: hash for lookup, sorted
 * index built by the first seek or commit that needs it, then kept valid
 * as entries are added (a binary search and a move per new entry). */
#include "writeset.h"
#include "page.h"
#include <stdlib.h>
#include <string.h>

int ws_keycmp(const void *a, size_t alen, const void *b, size_t blen) { return page_keycmp(a, alen, b, blen); }

static uint64_t hash(uint32_t dbid, uint32_t root, const uint8_t *k, size_t n) {
  uint64_t h = 1469598103934665603ull ^ ((uint64_t)dbid << 32 | root);
  for (size_t i = 0; i < n; i++) h = (h ^ k[i]) * 1099511628211ull;
  return h ^ (h >> 29);
}

void ws_init(writeset *w) { memset(w, 0, sizeof *w); }


/* n bytes of the arena (stable until ws_clear), or NULL. */
static uint8_t *arena_get(writeset *w, size_t n) {
  ws_block *b = w->arena;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > WS_BLOCK_SIZE ? n : WS_BLOCK_SIZE;
    if (!(b = malloc(sizeof *b + cap))) return NULL;
    b->used = 0;
    b->cap = cap;
    if (cap > WS_BLOCK_SIZE && w->arena) {   /* behind the block in use, which keeps its room */
      b->next = w->arena->next;
      w->arena->next = b;
    } else {
      b->next = w->arena;
      w->arena = b;
    }
  }
  uint8_t *q = b->data + b->used;
  b->used += n;
  return q;
}

/* Frees the arena but one block of WS_BLOCK_SIZE bytes, kept empty for the
 * next transaction. */
static void arena_reset(writeset *w, int keep) {
  ws_block *kept = NULL;
  for (ws_block *b = w->arena, *next; b; b = next) {
    next = b->next;
    if (keep && !kept && b->cap == WS_BLOCK_SIZE) {
      kept = b;
      kept->used = 0;
      kept->next = NULL;
    } else {
      free(b);
    }
  }
  w->arena = kept;
}

/* Empties the set.  The arrays of a set of more than WS_KEEP_ENTRIES
 * entries are freed (the next put starts them small): kept, a session
 * would hold a large transaction's memory until it ends, and zero its
 * whole hash at every later clear. */
void ws_clear(writeset *w) {
  for (size_t i = 0; i < w->n; i++)
    if (w->ents[i].val_own) free(w->ents[i].val);
  arena_reset(w, 1);
  w->n = 0;
  w->bytes = 0;
  w->sorted = 0;     /* built by the first seek (a load that never seeks never sorts) */
  if (w->cap > WS_KEEP_ENTRIES || w->nslots > 4 * WS_KEEP_ENTRIES || w->ocap > WS_KEEP_ENTRIES) {
    free(w->ents);
    free(w->slots);
    free(w->order);
    w->ents = NULL;
    w->slots = w->order = NULL;
    w->cap = w->nslots = w->ocap = 0;
  } else if (w->slots) {
    memset(w->slots, 0, w->nslots * sizeof *w->slots);
  }
}

void ws_free(writeset *w) {
  ws_clear(w);
  arena_reset(w, 0);
  free(w->ents);
  free(w->slots);
  free(w->order);
  memset(w, 0, sizeof *w);
}

static size_t *find_slot(const writeset *w, uint32_t dbid, uint32_t root, const void *key, size_t klen) {
  size_t mask = w->nslots - 1, i = hash(dbid, root, key, klen) & mask;
  for (;; i = (i + 1) & mask) {
    size_t s = w->slots[i];
    if (s == 0) return &w->slots[i];
    const wsent *e = &w->ents[s - 1];
    if (e->dbid == dbid && e->root == root && e->klen == klen && memcmp(e->key, key, klen) == 0)
      return &w->slots[i];
  }
}

static JET_ERR rehash(writeset *w) {
  size_t ns = w->nslots ? w->nslots * 2 : 64;
  size_t *slots = calloc(ns, sizeof *slots);
  if (!slots) return JET_errOutOfMemory;
  free(w->slots);
  w->slots = slots;
  w->nslots = ns;
  for (size_t i = 0; i < w->n; i++) {
    const wsent *e = &w->ents[i];
    *find_slot(w, e->dbid, e->root, e->key, e->klen) = i + 1;
  }
  return JET_errSuccess;
}

const wsent *ws_get(const writeset *w, uint32_t dbid, uint32_t root, const void *key, size_t klen) {
  if (w->n == 0) return NULL;
  size_t s = *find_slot(w, dbid, root, key, klen);
  return s ? &w->ents[s - 1] : NULL;
}

static int ent_cmp(const wsent *a, const wsent *b) {
  if (a->dbid != b->dbid) return a->dbid < b->dbid ? -1 : 1;
  if (a->root != b->root) return a->root < b->root ? -1 : 1;
  return ws_keycmp(a->key, a->klen, b->key, b->klen);
}

/* Keeps the sorted index valid for the new entry i (when it is valid): the
 * entry goes to its place by binary search, so that a transaction whose
 * loop body writes while it iterates (a seek after every put) does not
 * sort the whole set again at each step.  On failure the index is marked
 * stale and the next ws_sorted builds it (or reports the failure). */
static void order_insert(writeset *w, size_t i) {
  if (!w->sorted) return;
  if (w->ocap < w->n) {
    size_t nc = w->ocap ? w->ocap * 2 : 64;
    while (nc < w->n) nc *= 2;
    size_t *o = realloc(w->order, nc * sizeof *o);
    if (!o) {
      w->sorted = 0;
      return;
    }
    w->order = o;
    w->ocap = nc;
  }
  const wsent *e = &w->ents[i];
  size_t lo = 0, hi = w->n - 1;     /* the index holds the other n - 1 entries */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ent_cmp(&w->ents[w->order[mid]], e) < 0) lo = mid + 1; else hi = mid;
  }
  memmove(w->order + lo + 1, w->order + lo, (w->n - 1 - lo) * sizeof *w->order);
  w->order[lo] = i;
}

JET_ERR ws_put(writeset *w, uint32_t dbid, uint32_t root, const void *key, size_t klen,
               const void *val, size_t vlen, int tomb) {
  if ((w->n + 1) * 2 > w->nslots && rehash(w) != JET_errSuccess) return JET_errOutOfMemory;
  size_t *slot = find_slot(w, dbid, root, key, klen);
  if (*slot) {   /* a replaced value: a malloc of its own, freed when replaced again */
    wsent *e = &w->ents[*slot - 1];
    uint8_t *v = NULL;
    if (!tomb) {
      if (!(v = malloc(vlen ? vlen : 1))) return JET_errOutOfMemory;
      if (vlen) memcpy(v, val, vlen);
    }
    w->bytes = w->bytes - e->vlen + (tomb ? 0 : vlen);
    if (e->val_own) free(e->val);
    e->val = v;
    e->val_own = v != NULL;
    e->vlen = tomb ? 0 : (uint32_t)vlen;
    e->tomb = tomb;
    return JET_errSuccess;
  }
  if (w->n == w->cap) {
    size_t nc = w->cap ? w->cap * 2 : 64;
    wsent *ne = realloc(w->ents, nc * sizeof *ne);
    if (!ne) return JET_errOutOfMemory;
    w->ents = ne;
    w->cap = nc;
  }
  wsent *e = &w->ents[w->n];
  size_t vl = tomb ? 0 : vlen;
  /* A value over WS_OVERHEAD bytes gets an allocation of its own, freed
   * when the key is written again.  In the arena it would stay until the
   * transaction ends while w->bytes (which the version store's limit
   * counts) no longer counts it: a transaction that put large values and
   * replaced them held any amount of memory under any limit.  A smaller
   * one left there wastes at most the WS_OVERHEAD its entry counts. */
  int own = vl > WS_OVERHEAD;
  uint8_t *ov = own ? malloc(vl) : NULL;
  if (own && !ov) return JET_errOutOfMemory;
  uint8_t *kv = arena_get(w, klen + (own ? 0 : vl));
  if (!kv) {
    free(ov);
    return JET_errOutOfMemory;
  }
  memcpy(kv, key, klen);
  if (own) memcpy(ov, val, vl);
  else if (vl) memcpy(kv + klen, val, vl);
  e->key = kv;
  e->klen = (uint32_t)klen;
  e->dbid = dbid;
  e->root = root;
  e->val = tomb ? NULL : own ? ov : kv + klen;
  e->val_own = own;
  e->vlen = tomb ? 0 : (uint32_t)vlen;
  e->tomb = tomb;
  *slot = ++w->n;
  order_insert(w, w->n - 1);
  w->bytes += WS_OVERHEAD + klen + e->vlen;
  return JET_errSuccess;
}

static int order_cmp(const void *x, const void *y, void *ud) {
  const wsent *ents = ud;
  return ent_cmp(&ents[*(const size_t *)x], &ents[*(const size_t *)y]);
}

JET_ERR ws_sorted(writeset *w, const size_t **order) {
  if (!w->sorted) {
    if (w->ocap < w->n || !w->order) {
      size_t nc = w->n ? w->n : 1;
      size_t *o = realloc(w->order, nc * sizeof *o);
      if (!o) return JET_errOutOfMemory;
      w->order = o;
      w->ocap = nc;
    }
    size_t *o = w->order;
    for (size_t i = 0; i < w->n; i++) o[i] = i;
    qsort_r(o, w->n, sizeof *o, order_cmp, w->ents);
    w->sorted = 1;
    w->full_sorts++;
  }
  *order = w->order;
  return JET_errSuccess;
}

/* Compares entry e with the probe (dbid, root, key). */
static int probe_cmp(const wsent *e, uint32_t dbid, uint32_t root, const void *key, size_t klen) {
  wsent p = { .dbid = dbid, .root = root, .klen = (uint32_t)klen, .key = (uint8_t *)key };
  return ent_cmp(e, &p);
}

JET_ERR ws_seek(writeset *w, uint32_t dbid, uint32_t root, const void *key, size_t klen, JET_GRBIT op,
                const wsent **out) {
  const size_t *o;
  *out = NULL;
  if (w->n == 0) return JET_errSuccess;
  JET_ERR err = ws_sorted(w, &o);
  if (err) return err;
  /* lo = first entry >= probe (or > probe for GT/LE) within the sorted list */
  int strict = klen && (op == JET_bitSeekGT || op == JET_bitSeekLE);
  size_t lo = 0, hi = w->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    const wsent *e = &w->ents[o[mid]];
    int c = klen ? probe_cmp(e, dbid, root, key, klen)
                 : (e->dbid != dbid ? (e->dbid < dbid ? -1 : 1) : e->root != root ? (e->root < root ? -1 : 1)
                                                                                  : (op == JET_bitSeekGE || op == JET_bitSeekGT) ? 0 : -1);
    if (c < 0 || (strict && c == 0)) lo = mid + 1;
    else hi = mid;
  }
  const wsent *e = NULL;
  if (op == JET_bitSeekGE || op == JET_bitSeekGT || op == JET_bitSeekEQ) {
    if (lo < w->n) e = &w->ents[o[lo]];
    if (e && op == JET_bitSeekEQ && probe_cmp(e, dbid, root, key, klen) != 0) e = NULL;
  } else {
    if (lo > 0) e = &w->ents[o[lo - 1]];
  }
  if (e && (e->dbid != dbid || e->root != root)) e = NULL;
  *out = e;
  return JET_errSuccess;
}
