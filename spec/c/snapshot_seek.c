/*
 * snapshot_seek.c -- every seek of a transaction against a model of its
 * snapshot (C harness of issue 11).
 *
 *   snapshot_seek [ROUNDS [SEED]]   default 300 rounds, seed 1
 *
 * Keys "k00", "k02", ... "k46" (NK of them).  Each round: session A begins
 * a transaction (its snapshot) and writes some keys of its own; session B
 * commits outside a transaction, session C in short transactions; session
 * D begins a second snapshot half-way.  In between, A's writes and the
 * others' go on interleaved, and after every step:
 * - every seek of A and D (EQ, LT, LE, GE, GT at every key, between keys,
 *   before and after all, and with no key) finds exactly what the model
 *   says: the committed state as of its begin overlaid with its own writes;
 * - B's seeks outside a transaction find the last committed state;
 * - a write by B or C of a key A holds, and a write by A of a key another
 *   session committed after A began, is JET_errWriteConflict and changes
 *   nothing; any other write succeeds.
 * A then commits or rolls back; with no transaction open the version store
 * is empty.
 *
 * Also EseGetVersionStoreInfo's refusals (before init, NULL, a bad handle)
 * and JET_paramMaxVerPages's default.
 *
 * Prints "snapshot_seek: ok ..." and exits 0, or the first difference and
 * exits 1.
 */
#define HARNESS_NAME "snapshot_seek"
#include "harness.h"

HARNESS_SYNCS_OFF()

#define NK 24
#define NONE (-2)   /* no entry in a write set */
#define GONE (-1)   /* absent / a tombstone */

static const JET_GRBIT OPS[] = { JET_bitSeekEQ, JET_bitSeekLT, JET_bitSeekLE, JET_bitSeekGE, JET_bitSeekGT };
static const char *OPNAME[] = { "EQ", "LT", "LE", "GE", "GT" };

typedef struct view {
  JET_SESID s;
  JET_TABLEID t;
  int snap[NK];     /* the committed state at its begin */
  int ws[NK];       /* its writes: NONE, GONE or a value */
  int changed[NK];  /* committed by another after its begin */
  int open;
} view;

static int committed[NK];
static uint64_t rng = 1, next_value = 1;
static unsigned long long nseeks, nconflicts, nwrites;

static uint64_t rnd(uint64_t n) {
  rng = harness_mix(rng);
  return rng % n;
}

static size_t key_of(char *k, int i) { return (size_t)sprintf(k, "k%02d", 2 * i); }
static size_t val_of(char *v, int id) { return (size_t)sprintf(v, "v%d", id); }

/* The value of key i in v's view (a transaction) or the committed one. */
static int seen(const view *v, int i) {
  if (!v || !v->open) return committed[i];
  return v->ws[i] != NONE ? v->ws[i] : v->snap[i];
}

static int keycmp(const char *a, size_t al, const char *b, size_t bl) {
  int c = memcmp(a, b, al < bl ? al : bl);
  return c ? c : al < bl ? -1 : al > bl;
}

/* The index the model's seek finds, or -1. */
static int model_seek(const view *v, const char *p, size_t pl, int op) {
  if (pl == 0) {   /* GE/GT: the first, LE/LT: the last */
    if (op >= 3) {
      for (int i = 0; i < NK; i++)
        if (seen(v, i) != GONE) return i;
    } else {
      for (int i = NK - 1; i >= 0; i--)
        if (seen(v, i) != GONE) return i;
    }
    return -1;
  }
  char k[16];
  if (op == 0 || op >= 3) {
    for (int i = 0; i < NK; i++) {
      size_t kl = key_of(k, i);
      int c = keycmp(k, kl, p, pl);
      if (seen(v, i) == GONE || c < 0 || (c == 0 && op == 4)) continue;
      return op == 0 && c != 0 ? -1 : i;
    }
    return -1;
  }
  for (int i = NK - 1; i >= 0; i--) {
    size_t kl = key_of(k, i);
    int c = keycmp(k, kl, p, pl);
    if (seen(v, i) == GONE || c > 0 || (c == 0 && op == 1)) continue;
    return i;
  }
  return -1;
}

/* Every seek of s against the model of v (NULL: outside a transaction). */
static void check_view(JET_SESID s, JET_TABLEID t, const view *v, const char *who, int round) {
  for (int j = -2; j <= 2 * NK + 1; j++) {
    char p[16];
    size_t pl = j == -2 ? 0 : j == -1 ? (size_t)sprintf(p, "a") : j == 2 * NK + 1 ? (size_t)sprintf(p, "z")
                                                                  : (size_t)sprintf(p, "k%02d", j);
    for (int o = 0; o < 5; o++) {
      if (pl == 0 && o == 0) continue;
      int want = model_seek(v, p, pl, o);
      JET_ERR e = EseSeek(s, t, pl ? p : "", pl, OPS[o]);
      nseeks++;
      if (want < 0) {
        if (e != JET_errRecordNotFound)
          FAIL("round %d: %s seek %s '%.*s' -> %s, want nothing", round, who, OPNAME[o], (int)pl, p,
               harness_err_name(e));
        continue;
      }
      if (e != JET_errSuccess)
        FAIL("round %d: %s seek %s '%.*s' -> %s, want k%02d", round, who, OPNAME[o], (int)pl, p,
             harness_err_name(e), 2 * want);
      char gk[16], gv[32], wk[16], wv[32];
      size_t gkl = 0, gvl = 0, wkl = key_of(wk, want), wvl = val_of(wv, seen(v, want));
      CK(EseRetrieveKey(s, t, gk, sizeof gk, &gkl));
      CK(EseRetrieveValue(s, t, gv, sizeof gv, &gvl));
      if (gkl != wkl || memcmp(gk, wk, wkl) || gvl != wvl || memcmp(gv, wv, wvl))
        FAIL("round %d: %s seek %s '%.*s' found %.*s=%.*s, want %s=%s", round, who, OPNAME[o], (int)pl, p,
             (int)gkl, gk, (int)gvl, gv, wk, wv);
    }
  }
}

static void begin(view *v) {
  CK(JetBeginTransaction(v->s));
  memcpy(v->snap, committed, sizeof committed);
  for (int i = 0; i < NK; i++) {
    v->ws[i] = NONE;
    v->changed[i] = 0;
  }
  v->open = 1;
}

/* A committed change of key i by a session other than the views'. */
static void note_commit(view *const *views, int nv, int i, int val) {
  committed[i] = val;
  for (int k = 0; k < nv; k++)
    if (views[k]->open) views[k]->changed[i] = 1;
}

/* 1 when an open view other than except holds key i in its write set. */
static int held(view *const *views, int nv, const view *except, int i) {
  for (int k = 0; k < nv; k++)
    if (views[k] != except && views[k]->open && views[k]->ws[i] != NONE) return 1;
  return 0;
}

static void expect(JET_ERR got, JET_ERR want, const char *what, int round, int i) {
  if (got != want)
    FAIL("round %d: %s k%02d -> %s (%ld), want %s", round, what, 2 * i, harness_err_name(got), (long)got,
         harness_err_name(want));
  if (got == JET_errWriteConflict) nconflicts++;
  if (got == JET_errSuccess) nwrites++;
}

/* A write (put, or delete when del) by the transaction of v. */
static void view_write(view *v, view *const *views, int nv, int i, int del, int round) {
  char k[16], val[32];
  size_t kl = key_of(k, i);
  if (del) {
    JET_ERR want = v->changed[i] || held(views, nv, v, i) ? JET_errWriteConflict
                   : seen(v, i) == GONE                  ? JET_errRecordNotFound
                                                         : JET_errSuccess;
    expect(EseDelete(v->s, v->t, k, kl), want, "txn delete", round, i);
    if (want == JET_errSuccess) v->ws[i] = GONE;
  } else {
    int id = (int)next_value++;
    JET_ERR want = v->changed[i] || held(views, nv, v, i) ? JET_errWriteConflict : JET_errSuccess;
    expect(EsePut(v->s, v->t, k, kl, val, val_of(val, id)), want, "txn put", round, i);
    if (want == JET_errSuccess) v->ws[i] = id;
  }
}

static void end(view *v, int commit, view *const *views, int nv) {
  if (commit) {
    CK(JetCommitTransaction(v->s, JET_bitCommitLazyFlush));
    v->open = 0;   /* not "another" for its own commit */
    for (int i = 0; i < NK; i++)   /* a delete of a key absent before changes nothing */
      if (v->ws[i] != NONE && !(v->ws[i] == GONE && committed[i] == GONE)) note_commit(views, nv, i, v->ws[i]);
  } else {
    CK(JetRollback(v->s, 0));
  }
  v->open = 0;
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 300;
  rng = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
  harness_start(600);
  char dir[64], dbpath[128], name[64];
  harness_tempdir(dir, sizeof dir, "snapseek");
  snprintf(dbpath, sizeof dbpath, "%s/seek.edb", dir);
  JET_INSTANCE inst;
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "seek"), dir, 256, 0));
  EseVersionStoreInfo vi0;
  harness_expect_err(EseGetVersionStoreInfo(inst, &vi0), JET_errNotInitialized, "EseGetVersionStoreInfo before init");
  CK(JetInit(&inst));
  harness_expect_err(EseGetVersionStoreInfo(inst, NULL), JET_errInvalidParameter, "EseGetVersionStoreInfo(NULL)");
  harness_expect_err(EseGetVersionStoreInfo((JET_INSTANCE)&vi0, &vi0), JET_errInvalidInstance,
                     "EseGetVersionStoreInfo(a bad handle)");
  JET_API_PTR pages = 0;
  CK(JetGetSystemParameter(inst, 0, JET_paramMaxVerPages, &pages, NULL, 0));
  CK(EseGetVersionStoreInfo(inst, &vi0));
  if (pages != 16384 || vi0.cbMax != 16384ull * 16384) FAIL("max_ver_pages %lu, cbMax %llu", (unsigned long)pages, vi0.cbMax);
  view A = { 0 }, C = { 0 }, D = { 0 };
  JET_SESID sb;
  JET_TABLEID tb;
  JET_DBID db;
  CK(harness_create_table(inst, dbpath, "t", &sb, &db, &tb));
  CK(harness_open_table(inst, dbpath, 0, "t", &A.s, &db, &A.t));
  CK(harness_open_table(inst, dbpath, 0, "t", &C.s, &db, &C.t));
  CK(harness_open_table(inst, dbpath, 0, "t", &D.s, &db, &D.t));
  view *views[] = { &A, &C, &D };
  for (int i = 0; i < NK; i++) committed[i] = GONE;
  unsigned long long maxver = 0;
  for (int r = 0; r < rounds; r++) {
    begin(&A);
    for (int step = 0; step < 12; step++) {
      int i = (int)rnd(NK);
      switch (rnd(5)) {
      case 0:   /* A writes */
        view_write(&A, views, 3, i, rnd(3) == 0, r);
        break;
      case 1: { /* B commits a put outside a transaction */
        char k[16], val[32];
        int id = (int)next_value++;
        JET_ERR want = held(views, 3, NULL, i) ? JET_errWriteConflict : JET_errSuccess;
        expect(EsePut(sb, tb, k, key_of(k, i), val, val_of(val, id)), want, "put", r, i);
        if (want == JET_errSuccess) note_commit(views, 3, i, id);
        break;
      }
      case 2: { /* B deletes outside a transaction */
        char k[16];
        JET_ERR want = held(views, 3, NULL, i) ? JET_errWriteConflict
                       : committed[i] == GONE  ? JET_errRecordNotFound
                                               : JET_errSuccess;
        expect(EseDelete(sb, tb, k, key_of(k, i)), want, "delete", r, i);
        if (want == JET_errSuccess) note_commit(views, 3, i, GONE);
        break;
      }
      case 3:   /* C: a short transaction of one to three writes */
        begin(&C);
        for (int n = 1 + (int)rnd(3); n > 0; n--) view_write(&C, views, 3, (int)rnd(NK), rnd(4) == 0, r);
        end(&C, rnd(5) != 0, views, 3);
        break;
      default:  /* D begins a second snapshot, or ends it */
        if (D.open) end(&D, 0, views, 3);
        else begin(&D);
        break;
      }
      EseVersionStoreInfo vi;
      CK(EseGetVersionStoreInfo(inst, &vi));
      if (vi.cbVersions > maxver) maxver = vi.cbVersions;
      check_view(A.s, A.t, &A, "A (transaction)", r);
      if (D.open) check_view(D.s, D.t, &D, "D (second snapshot)", r);
      check_view(sb, tb, NULL, "B (outside)", r);
    }
    if (D.open) end(&D, 0, views, 3);
    end(&A, rnd(2) == 0, views, 3);
    check_view(sb, tb, NULL, "B after A ended", r);
    EseVersionStoreInfo vi;
    CK(EseGetVersionStoreInfo(inst, &vi));
    if (vi.cbVersions || vi.cVersions || vi.cbUncommitted || vi.cTransactions)
      FAIL("round %d: no transaction open, yet the version store holds %llu bytes, %llu versions, %llu "
           "uncommitted, %lu transactions", r, vi.cbVersions, vi.cVersions, vi.cbUncommitted, vi.cTransactions);
  }
  CK(JetTerm2(inst, JET_bitTermComplete));
  harness_rm_rf(dir);
  printf("snapshot_seek: ok %d rounds, %llu seeks checked, %llu writes, %llu write conflicts, version store at "
         "most %llu bytes\n", rounds, nseeks, nwrites, nconflicts, maxver);
  return 0;
}
