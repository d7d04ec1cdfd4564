/*
 * btree_test.c -- standalone test of csrc/btree.c against a reference model
 * (a sorted array), over the in-memory pager of mock_pager.h.
 *
 * It brings its own pager, so it must NOT be linked with pager.o (the
 * generic spec/c rule links every core object).  Build and run:
 *
 *   gcc -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -O1 -g \
 *       -fsanitize=address,undefined -Icsrc/include -Icsrc \
 *       spec/c/btree_test.c csrc/btree.c csrc/page.c csrc/crc32c.c \
 *       -o /tmp/btree_test -pthread && /tmp/btree_test
 *
 * Prints "btree_test: ok" and exits 0 on success; exits non-zero with a
 * message on the first failure.  -v prints fill factors and statistics.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "btree.h"
#include "mock_pager.h"
#include "pageop.h"

static int verbose;

static void fail(int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "btree_test: FAIL line %d: ", line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}
#define CHECK(cond, ...) do { if (!(cond)) fail(__LINE__, __VA_ARGS__); } while (0)
#define OK(call) do { JET_ERR e_ = (call); if (e_) fail(__LINE__, "%s -> %ld", #call, e_); } while (0)

/* ---- random numbers (splitmix64) ---------------------------------------- */
static uint64_t rng_state = 0x5eed;
static uint64_t mix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static uint64_t rnd(void) { return mix(&rng_state); }
static size_t rndn(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

/* ---- the reference model: records sorted by key --------------------------- */
typedef struct rec { uint8_t *k, *v; size_t kl, vl; } rec;
typedef struct model { rec *r; size_t n, cap; } model;

static int keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
  size_t m = al < bl ? al : bl;
  int r = m ? memcmp(a, b, m) : 0;
  return r ? r : (al > bl) - (al < bl);
}

/* First index whose key is >= k (upper: > k). */
static size_t m_bound(const model *m, const uint8_t *k, size_t kl, int upper) {
  size_t lo = 0, hi = m->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int r = keycmp(m->r[mid].k, m->r[mid].kl, k, kl);
    if (r < 0 || (upper && r == 0)) lo = mid + 1; else hi = mid;
  }
  return lo;
}

static void m_put(model *m, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  size_t i = m_bound(m, k, kl, 0);
  if (i < m->n && !keycmp(m->r[i].k, m->r[i].kl, k, kl)) {
    free(m->r[i].v);
  } else {
    if (m->n == m->cap) {
      m->cap = m->cap ? 2 * m->cap : 1024;
      m->r = realloc(m->r, m->cap * sizeof *m->r);
      CHECK(m->r, "oom");
    }
    memmove(m->r + i + 1, m->r + i, (m->n - i) * sizeof *m->r);
    m->n++;
    m->r[i].k = mock_xalloc(kl);
    memcpy(m->r[i].k, k, kl);
    m->r[i].kl = kl;
  }
  m->r[i].v = mock_xalloc(vl);
  if (vl) memcpy(m->r[i].v, v, vl);
  m->r[i].vl = vl;
}

static int m_del(model *m, const uint8_t *k, size_t kl) {
  size_t i = m_bound(m, k, kl, 0);
  if (i >= m->n || keycmp(m->r[i].k, m->r[i].kl, k, kl)) return 0;
  free(m->r[i].k);
  free(m->r[i].v);
  memmove(m->r + i, m->r + i + 1, (m->n - i - 1) * sizeof *m->r);
  m->n--;
  return 1;
}

static void m_free(model *m) {
  for (size_t i = 0; i < m->n; i++) free(m->r[i].k), free(m->r[i].v);
  free(m->r);
  memset(m, 0, sizeof *m);
}

/* The index bt_seek must find, or -1. */
static long m_expect(const model *m, const uint8_t *k, size_t kl, JET_GRBIT op) {
  long n = (long)m->n, lo = (long)m_bound(m, k, kl, 0), up = (long)m_bound(m, k, kl, 1);
  long i = -1;
  switch (op) {
  case JET_bitSeekEQ: i = (lo < n && up > lo) ? lo : -1; break;
  case JET_bitSeekGE: i = kl ? lo : 0; break;
  case JET_bitSeekGT: i = kl ? up : 0; break;
  case JET_bitSeekLE: i = kl ? up - 1 : n - 1; break;
  case JET_bitSeekLT: i = kl ? lo - 1 : n - 1; break;
  }
  return i >= 0 && i < n ? i : -1;
}

/* ---- a tree under test, with its model -------------------------------------- */
typedef struct T {
  pager *p;
  uint32_t root, psz;
  size_t maxrec;
  model m;
  bt_rec rec;
  bt_hint hint;        /* every t_seek starts from it (btree.h): stale after each t_put / t_del */
} T;

static void t_open(T *t, uint32_t psz) {
  memset(t, 0, sizeof *t);
  t->psz = psz;
  t->p = mock_open(psz);
  t->maxrec = po_max_record(psz);
  OK(bt_create(t->p, &t->root));
  mock_commit(t->p);
}

static unsigned long g_replayed;   /* pages whose operation records mock_commit replayed */
static unsigned long g_touched;    /* changes checked against their pager_write_ranges */

static void t_close(T *t) {
  g_replayed += t->p->replayed;
  g_touched += t->p->touched;
  mock_close(t->p);
  m_free(&t->m);
  bt_rec_free(&t->rec);
}

static void t_put(T *t, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  JET_ERR e = bt_put(t->p, t->root, k, kl, v, vl);
  CHECK(e == 0, "bt_put klen %zu vlen %zu -> %ld", kl, vl, e);
  mock_commit(t->p);
  m_put(&t->m, k, kl, v, vl);
}

static void t_del(T *t, const uint8_t *k, size_t kl) {
  JET_ERR e = bt_delete(t->p, t->root, k, kl);
  int had = m_del(&t->m, k, kl);
  CHECK(e == (had ? 0 : JET_errRecordNotFound), "bt_delete -> %ld (model had it: %d)", e, had);
  mock_commit(t->p);
}

static const char *opname(JET_GRBIT op) {
  return op == JET_bitSeekEQ ? "EQ" : op == JET_bitSeekLT ? "LT" : op == JET_bitSeekLE ? "LE"
       : op == JET_bitSeekGE ? "GE" : "GT";
}

/* Seeks and compares with the model; returns the index found or -1. */
static long t_seek(T *t, const uint8_t *k, size_t kl, JET_GRBIT op) {
  JET_ERR e = bt_seek_hint(t->p, t->root, k, kl, op, &t->rec, &t->hint);
  long i = m_expect(&t->m, k, kl, op);
  if (i < 0) {
    CHECK(e == JET_errRecordNotFound, "seek %s klen %zu: expected not found, got %ld", opname(op), kl, e);
    return -1;
  }
  CHECK(e == 0, "seek %s klen %zu -> %ld, model has index %ld of %zu", opname(op), kl, e, i, t->m.n);
  const rec *r = &t->m.r[i];
  CHECK(t->rec.klen == r->kl && !memcmp(t->rec.key, r->k, r->kl), "seek %s klen %zu: wrong key (model index %ld)",
        opname(op), kl, i);
  CHECK(t->rec.vlen == r->vl && (!r->vl || !memcmp(t->rec.val, r->v, r->vl)), "seek %s: wrong value", opname(op));
  return i;
}

static const JET_GRBIT ops[5] = {JET_bitSeekEQ, JET_bitSeekLT, JET_bitSeekLE, JET_bitSeekGE, JET_bitSeekGT};

/* bt_check, then a full forward walk (GE "" then GT) and backward walk
 * (LE "" then LT), both compared with the model. */
static void t_verify(T *t) {
  uint64_t n = ~0ull;
  OK(bt_check(t->p, t->root, &n));
  CHECK(n == t->m.n, "bt_check counts %llu records, model has %zu", (unsigned long long)n, t->m.n);
  long i = t_seek(t, NULL, 0, JET_bitSeekGE);
  for (size_t j = 0; j < t->m.n; j++) {
    CHECK(i == (long)j, "forward walk at %zu found %ld", j, i);
    uint8_t k[256];
    memcpy(k, t->rec.key, t->rec.klen);
    i = t_seek(t, k, t->rec.klen, JET_bitSeekGT);
  }
  CHECK(i == -1, "forward walk did not end");
  i = t_seek(t, NULL, 0, JET_bitSeekLE);
  for (size_t j = t->m.n; j-- > 0;) {
    CHECK(i == (long)j, "backward walk at %zu found %ld", j, i);
    uint8_t k[256];
    memcpy(k, t->rec.key, t->rec.klen);
    i = t_seek(t, k, t->rec.klen, JET_bitSeekLT);
  }
  CHECK(i == -1, "backward walk did not end");
}

/* ---- keys and values ---------------------------------------------------- */

/* Key number idx of a pool: lengths 1..255, first bytes from {00, 61, ff}
 * so that keys share prefixes and tie on length; the rest random. */
static size_t pool_key(uint64_t idx, uint8_t *k) {
  uint64_t s = idx * 7919 + 17;
  size_t r = mix(&s) % 100, kl;
  kl = r < 40 ? 1 + mix(&s) % 8 : r < 80 ? 9 + mix(&s) % 32 : 41 + mix(&s) % 215;
  for (size_t j = 0; j < kl; j++) k[j] = j < 4 ? (uint8_t)"\x00\x61\xff"[mix(&s) % 3] : (uint8_t)mix(&s);
  return kl;
}

static void fill(uint8_t *v, size_t n) {
  for (size_t i = 0; i < n; i++) v[i] = (uint8_t)rnd();
}

/* Value sizes 0..vmax: mostly small, some up to vmax, some exactly vmax. */
static size_t pick_vlen(size_t vmax) {
  size_t r = rndn(100), small = vmax < 32 ? vmax : 32, mid = vmax < 300 ? vmax : 300;
  return r < 3 ? vmax : r < 10 ? rndn(vmax + 1) : r < 30 ? rndn(mid + 1) : rndn(small + 1);
}

/* A probe: a pool key, a model key, or a model key changed a little. */
static size_t probe_key(T *t, uint8_t *k) {
  size_t r = rndn(6), kl;
  if (r == 0 || !t->m.n) return pool_key(rndn(30000), k);
  const rec *x = &t->m.r[rndn(t->m.n)];
  memcpy(k, x->k, kl = x->kl);
  if (r == 2) k[kl - 1]++;
  if (r == 3) k[kl - 1]--;
  if (r == 4 && kl > 1) kl--;
  if (r == 5 && kl < 255) k[kl++] = (uint8_t)rndn(2) * 0xff;
  return kl;
}

static void probe_all(T *t, int nprobes) {
  uint8_t k[256];
  for (int i = 0; i < nprobes; i++) {
    size_t kl = probe_key(t, k);
    for (int o = 0; o < 5; o++) t_seek(t, k, kl, ops[o]);
  }
  for (int o = 1; o < 5; o++) t_seek(t, NULL, 0, ops[o]);
}

/* ---- phases ------------------------------------------------------------- */

static void test_errors(uint32_t psz) {
  T t;
  uint8_t k[300] = {1}, v[40000] = {0};
  uint64_t n = 99;
  t_open(&t, psz);
  OK(bt_check(t.p, t.root, &n));
  CHECK(n == 0, "empty tree has %llu records", (unsigned long long)n);
  for (int o = 0; o < 5; o++)
    CHECK(bt_seek(t.p, t.root, k, 1, ops[o], &t.rec) == JET_errRecordNotFound, "seek in empty tree");
  for (int o = 1; o < 5; o++)
    CHECK(bt_seek(t.p, t.root, NULL, 0, ops[o], &t.rec) == JET_errRecordNotFound, "seek \"\" in empty tree");
  CHECK(bt_put(t.p, t.root, k, 0, v, 1) == JET_errInvalidParameter, "klen 0 put");
  CHECK(bt_put(t.p, t.root, k, 256, v, 1) == JET_errKeyTooBig, "klen 256 put");
  CHECK(bt_put(t.p, t.root, k, 1, v, (size_t)EseMaxValueSize + 1) == JET_errRecordTooBig, "vlen 2^31");
  CHECK(bt_put(t.p, t.root, k, 1, v, (size_t)-1) == JET_errRecordTooBig, "huge vlen");
  CHECK(bt_delete(t.p, t.root, k, 0) == JET_errInvalidParameter, "klen 0 delete");
  CHECK(bt_delete(t.p, t.root, k, 1) == JET_errRecordNotFound, "delete absent");
  CHECK(bt_seek(t.p, t.root, NULL, 0, JET_bitSeekEQ, &t.rec) == JET_errInvalidParameter, "EQ klen 0");
  CHECK(bt_seek(t.p, t.root, k, 1, 0, &t.rec) == JET_errInvalidParameter, "op 0");
  CHECK(bt_seek(t.p, t.root, k, 1, JET_bitSeekGE | JET_bitSeekLE, &t.rec) == JET_errInvalidParameter, "two ops");
  mock_commit(t.p);
  t_put(&t, k, 255, v, t.maxrec - 255);   /* exactly the maximum */
  t_put(&t, k, 1, v, t.maxrec - 1);
  t_put(&t, k, 1, v, 0);                  /* shrink, then same-size replace */
  t_put(&t, k, 1, v, 0);
  t_verify(&t);
  t_close(&t);
}

/* Random puts, replaces, deletes and seeks over a pool of keys. */
static void test_random(uint32_t psz, int nops) {
  T t;
  uint8_t k[256], *v = mock_xalloc(psz);
  t_open(&t, psz);
  for (int op = 1; op <= nops; op++) {
    size_t r = rndn(100), kl;
    if (r < 55) {
      kl = pool_key(rndn(30000), k);
      size_t vl = pick_vlen(t.maxrec - kl);
      fill(v, vl);
      t_put(&t, k, kl, v, vl);
    } else if (r < 80) {
      if (rndn(10) < 7 && t.m.n) {
        const rec *x = &t.m.r[rndn(t.m.n)];
        memcpy(k, x->k, kl = x->kl);
      } else {
        kl = pool_key(rndn(30000), k);
      }
      t_del(&t, k, kl);
    } else {
      kl = probe_key(&t, k);
      t_seek(&t, k, kl, ops[rndn(5)]);
      if (rndn(50) == 0) t_seek(&t, NULL, 0, ops[1 + rndn(4)]);
    }
    if (op % 25000 == 0) t_verify(&t);
  }
  t_verify(&t);
  probe_all(&t, 2000);
  size_t live = t.m.n;
  /* Empty most leaves: seeks and walks must step over empty pages. */
  while (t.m.n > live / 20) {
    const rec *x = &t.m.r[rndn(t.m.n)];
    size_t kl = x->kl;
    memcpy(k, x->k, kl);
    t_del(&t, k, kl);
  }
  t_verify(&t);
  probe_all(&t, 2000);
  while (t.m.n) {
    size_t kl = t.m.r[t.m.n / 2].kl;
    memcpy(k, t.m.r[t.m.n / 2].k, kl);
    t_del(&t, k, kl);
  }
  t_verify(&t);
  probe_all(&t, 100);
  for (int i = 0; i < 3000; i++) {     /* refill the emptied tree */
    size_t kl = pool_key(rndn(30000), k), vl = pick_vlen(t.maxrec - kl);
    fill(v, vl);
    t_put(&t, k, kl, v, vl);
  }
  t_verify(&t);
  probe_all(&t, 500);
  if (verbose)
    printf("  random %5u: %d ops, peak %zu records, %u pages\n", (unsigned)psz, nops, live, (unsigned)t.p->n - 1);
  free(v);
  t_close(&t);
}

/* Pages of each type in the mock file. */
static void count_pages(pager *p, uint32_t *leaves, uint32_t *branches) {
  *leaves = *branches = 0;
  for (uint32_t i = 1; i < p->n; i++) {
    *leaves += p->img[i][16] == PAGE_LEAF;
    *branches += p->img[i][16] == PAGE_BRANCH;
  }
}

/* Sequential bulk load (ascending, or descending with dir < 0) of n
 * records, 16-byte keys and 100-byte values; returns the fill factor. */
static double test_bulk(uint32_t psz, uint32_t n, int dir) {
  T t;
  uint8_t k[16] = "bulk-key", v[100];
  uint32_t leaves, branches;
  t_open(&t, psz);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t x = dir > 0 ? i : n - 1 - i;
    for (int b = 0; b < 8; b++) k[8 + b] = (uint8_t)((uint64_t)x >> (56 - 8 * b));
    memset(v, 0, sizeof v);
    memcpy(v, &x, sizeof x);
    t_put(&t, k, 16, v, 100);
  }
  count_pages(t.p, &leaves, &branches);
  double data = (double)n * (16 + 100);
  double fill = data / ((double)(leaves + branches) * psz);
  double leaffill = data / ((double)leaves * (psz - PAGE_HDR));
  if (verbose)
    printf("  bulk %-4s %5u: %u records, %u leaves + %u branches, data/pages %.1f%%, data/leaf bodies %.1f%%\n",
           dir > 0 ? "asc" : "desc", (unsigned)psz, (unsigned)n, (unsigned)leaves, (unsigned)branches,
           100 * fill, 100 * leaffill);
  CHECK(fill > 0.85, "bulk load fill factor %.3f", fill);
  t_verify(&t);
  probe_all(&t, 1000);
  t_close(&t);
  return fill;
}

/* Many maximum-size records mixed with small ones; grow and shrink values. */
static void test_maxsize(uint32_t psz) {
  T t;
  uint8_t k[256], *v = mock_xalloc(psz);
  t_open(&t, psz);
  for (int i = 0; i < 1500; i++) {
    size_t kl = rndn(3) ? 255 : 1 + rndn(255);
    fill(k, kl);
    size_t vl = rndn(3) ? t.maxrec - kl : rndn(20);
    fill(v, vl);
    t_put(&t, k, kl, v, vl);
  }
  t_verify(&t);
  for (int i = 0; i < 1500; i++) {       /* replace with other sizes */
    const rec *x = &t.m.r[rndn(t.m.n)];
    size_t kl = x->kl, vl = rndn(2) ? t.maxrec - kl : rndn(t.maxrec - kl + 1);
    memcpy(k, x->k, kl);
    fill(v, vl);
    t_put(&t, k, kl, v, vl);
  }
  t_verify(&t);
  probe_all(&t, 500);
  free(v);
  t_close(&t);
}

/* pager_alloc failures in the middle of splits: the error comes back, and
 * discarding the pending pages leaves the tree as it was. */
static void test_alloc_failure(uint32_t psz) {
  T t;
  uint8_t k[256], *v = mock_xalloc(psz);
  int failed = 0;
  t_open(&t, psz);
  for (int i = 0; i < 3000; i++) {
    size_t kl = pool_key(rndn(30000), k), vl = pick_vlen(t.maxrec - kl);
    fill(v, vl);
    t.p->fail_alloc = 1 + (int)rndn(2);
    JET_ERR e = bt_put(t.p, t.root, k, kl, v, vl);
    t.p->fail_alloc = 0;
    if (e == JET_errDiskFull) {
      failed++;
      mock_discard(t.p);
    } else {
      CHECK(e == 0, "bt_put -> %ld", e);
      mock_commit(t.p);
      m_put(&t.m, k, kl, v, vl);
    }
    if (i % 500 == 0) t_verify(&t);
  }
  t_verify(&t);
  CHECK(failed > 10, "only %d injected failures", failed);
  free(v);
  t_close(&t);
}

/* Position hints: a walk from a current hint reads about one page per
 * step (no descent from the root), with the same answers as the model; a
 * hint taken before puts that split its leaf and its parents (and before a
 * discarded operation) still gives the model's answers. */
static void test_hint(uint32_t psz) {
  T t;
  uint8_t k[16] = "hint-key", v[100] = {0};
  t_open(&t, psz);
  for (uint32_t i = 0; i < 20000; i++) {
    for (int b = 0; b < 8; b++) k[8 + b] = (uint8_t)((uint64_t)(i * 2) >> (56 - 8 * b));
    t_put(&t, k, 16, v, sizeof v);
  }
  unsigned long r0 = t.p->reads;
  t_verify(&t);                         /* forward and backward walks, hinted */
  unsigned long hinted = t.p->reads - r0;
  bt_hint none = { 0 };
  r0 = t.p->reads;
  long i = 0;
  OK(bt_seek(t.p, t.root, NULL, 0, JET_bitSeekGE, &t.rec));
  while (i == 0) {
    memcpy(k, t.rec.key, 16);
    i = bt_seek_hint(t.p, t.root, k, 16, JET_bitSeekGT, &t.rec, &none);
    none.valid = 0;                     /* never a hint: a descent per step */
  }
  unsigned long plain = t.p->reads - r0;
  if (verbose) printf("  hint %5u: walk reads %lu hinted (both ways), %lu plain (forward)\n", (unsigned)psz, hinted, plain);
  CHECK(hinted < 2 * t.m.n + t.m.n / 4, "hinted walks read %lu pages for 2 x %zu records", hinted, t.m.n);
  CHECK(plain >= 2 * t.m.n, "plain walk read only %lu pages for %zu records", plain, t.m.n);
  /* a hint at the end of a leaf, then puts right after it until that leaf
   * and the branches above split: each step must see the new keys */
  for (int round = 0; round < 40; round++) {
    size_t at = rndn(t.m.n);
    memcpy(k, t.m.r[at].k, 16);
    t_seek(&t, k, 16, JET_bitSeekEQ);
    uint8_t nk[16];
    memcpy(nk, k, 16);
    for (int j = 0; j < 1 + (int)rndn(300); j++) {
      nk[15] = (uint8_t)(nk[15] | 1);   /* odd: between the even keys of the load */
      nk[14] = (uint8_t)rndn(256);
      t_put(&t, nk, 16, v, sizeof v);
      if (rndn(4) == 0) t_seek(&t, k, 16, ops[rndn(5)]);
    }
    t_seek(&t, k, 16, JET_bitSeekGT);
    t_seek(&t, k, 16, JET_bitSeekLT);
    t_seek(&t, nk, 16, JET_bitSeekLE);
    /* a put that is discarded: pages restored and a new page forgotten */
    t_seek(&t, k, 16, JET_bitSeekGE);
    OK(bt_put(t.p, t.root, nk, 16, v, sizeof v));
    mock_discard(t.p);
    t_seek(&t, k, 16, JET_bitSeekGT);
  }
  t_verify(&t);
  t_close(&t);
}

/* ---- damaged pages ---------------------------------------------------------- */

/* Every kind of call on a damaged tree: any result, but no crash (ASan). */
static void abuse(T *t) {
  uint8_t k[256], v[64] = {0};
  uint64_t n;
  bt_check(t->p, t->root, &n);
  for (int i = 0; i < 30; i++) {
    size_t kl = probe_key(t, k);
    for (int o = 0; o < 5; o++) bt_seek(t->p, t->root, k, kl, ops[o], &t->rec);
  }
  for (int dir = 0; dir < 2; dir++) {
    JET_ERR e = bt_seek(t->p, t->root, NULL, 0, dir ? JET_bitSeekLE : JET_bitSeekGE, &t->rec);
    for (size_t s = 0; !e && s < t->m.n + 50; s++) {
      memcpy(k, t->rec.key, t->rec.klen);
      e = bt_seek(t->p, t->root, k, t->rec.klen, dir ? JET_bitSeekLT : JET_bitSeekGT, &t->rec);
    }
  }
  for (int i = 0; i < 20; i++) {
    size_t kl = probe_key(t, k);
    if (rndn(2)) bt_put(t->p, t->root, k, kl, v, rndn(sizeof v));
    else bt_delete(t->p, t->root, k, kl);
  }
  mock_discard(t->p);
}

static uint32_t pick_page(pager *p, int type) {
  for (int tries = 0; tries < 100000; tries++) {
    uint32_t pg = 1 + (uint32_t)rndn(p->n - 1);
    if (p->img[pg][16] == type && (type == PAGE_BRANCH || get16(p->img[pg] + 18) >= 2)) return pg;
  }
  fail(__LINE__, "no page of type %d", type);
  return 0;
}

static void test_corruption(uint32_t psz) {
  T t;
  uint8_t k[256], v[600], *save = mock_xalloc(psz);
  int detected = 0, trials = 600;
  t_open(&t, psz);
  for (int i = 0; i < 4000; i++) {
    size_t kl = pool_key(rndn(30000), k), vl = rndn(psz / 64);
    fill(v, vl);
    t_put(&t, k, kl, v, vl);
  }
  t_verify(&t);
  CHECK(t.p->img[t.root][16] == PAGE_BRANCH, "tree too small for the corruption test");
  /* Damage that bt_check must report. */
  for (int c = 0; c < 12; c++) {
    uint32_t pg = pick_page(t.p, c < 7 ? PAGE_LEAF : PAGE_BRANCH);
    uint8_t *img = mock_raw(t.p, pg);
    unsigned n = get16(img + 18), top = get16(img + 20);
    memcpy(save, img, psz);
    switch (c) {
    case 0: fill(img + top, psz - top); break;                    /* garbage cells */
    case 1: put16(img + 32, (uint16_t)(psz - 1)); break;          /* slot past the end */
    case 2: put16(img + 18, 0xffff); break;                       /* slot count */
    case 3: img[16] = PAGE_FREE; break;                           /* type */
    case 4: put16(img + 20, (uint16_t)(psz + 2)); break;          /* top */
    case 5: { uint16_t a = get16(img + 32); put16(img + 32, get16(img + 34)); put16(img + 34, a); } break;
    case 6: put16(img + get16(img + 32 + 2 * (n - 1)) + 2, 0xfff0); break;  /* vlen */
    case 7: put32(img + 24, t.root); break;                       /* cycle */
    case 8: put32(img + 24, 0); break;                            /* child 0 */
    case 9: put32(img + get16(img + 32) + 2, 0x7fffffff); break;  /* child beyond the file */
    case 10: put16(img + get16(img + 32), 0); break;              /* separator length 0 */
    case 11: memset(img + get16(img + 32) + 6, 0xff, get16(img + get16(img + 32))); break; /* separator too high */
    }
    JET_ERR e = bt_check(t.p, t.root, NULL);
    CHECK(c == 9 ? e != 0 : e == JET_errDatabaseCorrupted, "damage case %d: bt_check -> %ld", c, e);
    abuse(&t);
    memcpy(img, save, psz);
  }
  /* Random damage: no crash, whatever it finds. */
  for (int i = 0; i < trials; i++) {
    uint32_t pg = pick_page(t.p, rndn(4) ? PAGE_LEAF : PAGE_BRANCH);
    uint8_t *img = mock_raw(t.p, pg);
    unsigned n = get16(img + 18), top = get16(img + 20);
    memcpy(save, img, psz);
    for (int j = 0, m = 1 + (int)rndn(8); j < m; j++) {
      size_t where = rndn(3);
      size_t off = where == 0 ? 16 + rndn(16 + 2 * n) : where == 1 ? top + rndn(psz - top) : 16 + rndn(psz - 17);
      if (rndn(2)) img[off] = (uint8_t)rnd();
      else if (off + 2 <= psz) put16(img + off, (uint16_t)(rndn(2) ? rnd() : rndn(psz + 16)));
    }
    detected += bt_check(t.p, t.root, NULL) != 0;
    abuse(&t);
    memcpy(img, save, psz);
  }
  t_verify(&t);                          /* the undamaged tree again */
  if (verbose) printf("  corrupt %5u: %d/%d random damages detected by bt_check\n", (unsigned)psz, detected, trials);
  free(save);
  t_close(&t);
}

/* The first committed page of type ty in the mock, or 0. */
static uint32_t page_of_type(pager *p, int ty) {
  for (uint32_t pg = 1; pg < p->base; pg++)
    if (p->img[pg] && p->img[pg][16] == ty) return pg;
  return 0;
}

/* Long values (lv.h): every boundary size stores and reads back (at 4 KiB
 * pages a value of two directory pages too), replacing them by short ones
 * frees their pages, and damage to a long value's pages is
 * JET_errDatabaseCorrupted from bt_check and from bt_seek of its key. */
static void test_long_values(uint32_t psz) {
  T t;
  size_t dcap = psz - PAGE_HDR, ecap = (psz - PAGE_HDR) / 4;
  t_open(&t, psz);
  size_t inl = t.maxrec - 1 - 3;     /* the largest inline value of a 3-byte key */
  size_t sizes[] = {0, 1, inl, inl + 1, dcap - 1, dcap, dcap + 1, 3 * dcap + 7, psz == 4096 ? dcap * ecap + 1 : 2 * dcap};
  size_t ns = sizeof sizes / sizeof *sizes, big = 0;
  for (size_t i = 0; i < ns; i++) big = sizes[i] > big ? sizes[i] : big;
  uint8_t k[4], *v = mock_xalloc(big);
  for (size_t i = 0; i < ns; i++) {
    snprintf((char *)k, sizeof k, "L%02zu", i);
    fill(v, sizes[i]);
    t_put(&t, k, 3, v, sizes[i]);
  }
  t_verify(&t);
  CHECK(page_of_type(t.p, PAGE_LVDATA) && page_of_type(t.p, PAGE_LVDIR), "no long-value pages");
  /* damage: bt_check and a seek of the damaged value refuse it */
  snprintf((char *)k, sizeof k, "L%02zu", ns - 2);
  uint8_t *save = mock_xalloc(psz);
  for (int c = 0; c < 5; c++) {
    uint32_t pg = page_of_type(t.p, c < 2 ? PAGE_LVDATA : PAGE_LVDIR);
    uint8_t *img = mock_raw(t.p, pg);
    memcpy(save, img, psz);
    switch (c) {
    case 0: put32(img + 20, get32(img + 20) - 1); break;          /* bytes held */
    case 1: img[16] = PAGE_LEAF; break;                            /* type */
    case 2: put32(img + 20, get32(img + 20) + 1); break;          /* entries */
    case 3: put32(img + 32, t.root); break;                        /* an entry naming the root */
    case 4: put32(img + 24, pg); break;                            /* a chain that loops */
    }
    CHECK(bt_check(t.p, t.root, NULL) == JET_errDatabaseCorrupted, "long-value damage %d: bt_check", c);
    int hit = 0;                     /* some value's seek meets the damage */
    for (size_t i = 0; i < ns; i++) {
      snprintf((char *)k, sizeof k, "L%02zu", i);
      JET_ERR e = bt_seek(t.p, t.root, k, 3, JET_bitSeekEQ, &t.rec);
      CHECK(e == 0 || e == JET_errDatabaseCorrupted, "long-value damage %d: seek -> %ld", c, e);
      hit += e == JET_errDatabaseCorrupted;
    }
    CHECK(hit > 0, "long-value damage %d: no seek noticed it", c);
    memcpy(img, save, psz);
  }
  t_verify(&t);
  unsigned long frees = t.p->frees;
  for (size_t i = 0; i < ns; i++) {
    snprintf((char *)k, sizeof k, "L%02zu", i);
    t_put(&t, k, 3, (const uint8_t *)"short", 5);
  }
  CHECK(t.p->frees > frees + big / dcap, "replacing the long values freed only %lu pages", t.p->frees - frees);
  t_verify(&t);
  free(save);
  free(v);
  t_close(&t);
}

int main(int argc, char **argv) {
  static const uint32_t sizes[] = {4096, 8192, 32768};
  verbose = argc > 1 && !strcmp(argv[1], "-v");
  setvbuf(stdout, NULL, _IONBF, 0);
  CHECK(po_max_record(4096) >= 1000 && po_max_record(1024) == 0, "po_max_record (EseMaxRecordSize)");
  for (int s = 0; s < 3; s++) {
    uint32_t psz = sizes[s];
    size_t r = po_max_record(psz);
    CHECK(4 * (r + 6) <= psz - PAGE_HDR, "4 records of %zu bytes do not fit a %u page", r, (unsigned)psz);
    if (verbose) printf("page %u: po_max_record %zu\n", (unsigned)psz, r);
    test_errors(psz);
    test_random(psz, 100000);
    test_bulk(psz, 200000, 1);
    test_bulk(psz, 50000, -1);
    test_maxsize(psz);
    test_alloc_failure(psz);
    test_hint(psz);
    test_corruption(psz);
    test_long_values(psz);
  }
  CHECK(g_replayed > 100000, "only %lu pages had their operation records replayed", g_replayed);
  CHECK(g_touched > 100000, "only %lu changes were checked against their declared ranges", g_touched);
  printf("btree_test: ok\n");
  return 0;
}
