/*
 * cursor_api.c -- the C cursor entries the Lua binding passes only one way:
 * EseSeekRetrieve (seek + key + value in one call) and EseCount.
 *   retrieve  EseSeekRetrieve gives EseSeek's record and error for each
 *             op; a short key or value buffer: JET_wrnBufferTruncated, the
 *             full sizes, no byte written past cbMax, and the cursor on the
 *             record (EseRetrieveKey / EseRetrieveValue give the rest);
 *             NULL buffers with cbMax 0 ask the sizes; not found leaves no
 *             current record (JET_errNoCurrentRecord); refusals as EseSeek
 *             (JET_errInvalidGrbit, JET_errInvalidParameter,
 *             JET_errKeyTooBig, JET_errInvalidTableId,
 *             JET_errInvalidSesid).
 *   count     EseCount over ranges (NULL / empty bounds, both included, an
 *             empty key as upper bound), inside a transaction over its own
 *             puts and deletes; the cursor's record is unchanged by it;
 *             refusals (JET_errInvalidParameter, JET_errKeyTooBig).
 *   slice     EseRetrieveSlice of an inline and a long value: the bytes
 *             from an offset, the length left in *pcbActual, a short
 *             buffer JET_wrnBufferTruncated with nothing written past
 *             cbMax, at and past the end 0 bytes, NULL with cbMax 0 the
 *             size; not found JET_errRecordNotFound; the cursor's record
 *             unchanged; refusals (JET_errInvalidParameter,
 *             JET_errKeyTooBig, JET_errInvalidTableId, JET_errInvalidSesid).
 *   walk      20,000 records: stepping with EseSeekRetrieve forward (GT
 *             the last key) and backward (LT) inside a transaction that
 *             replaced, added and deleted records meets every record of
 *             the merged view once, in order, and as many as EseCount.
 * Prints "cursor_api: <test>: ok" per test and exits 0, or says what
 * differed and exits 1.  Argument: one test name, or none for all.
 */
#define HARNESS_NAME "cursor_api"
#include "harness.h"

#define EXPECT(got, want, what)                                                                              \
  do {                                                                                                       \
    JET_ERR g_ = (got), w_ = (want);                                                                         \
    if (g_ != w_) FAIL("%s -> %s (%ld), want %s (%ld)", what, harness_err_name(g_), (long)g_,               \
                       harness_err_name(w_), (long)w_);                                                      \
  } while (0)

static JET_INSTANCE start(const char *root, const char *test, JET_SESID *s, JET_TABLEID *t) {
  JET_INSTANCE inst;
  JET_DBID d;
  char dir[256], db[320], name[64];
  harness_fresh_dir(dir, sizeof dir, root, test);
  snprintf(db, sizeof db, "%s/%s.edb", dir, test);
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "cursor"), dir, 0, 0));
  CK(JetInit(&inst));
  CK(harness_create_table(inst, db, "t", s, &d, t));
  return inst;
}

static void put(JET_SESID s, JET_TABLEID t, const char *k, const char *v) {
  CK(EsePut(s, t, k, strlen(k), v, strlen(v)));
}

/* EseSeekRetrieve into NUL-terminated key and value buffers of 64 bytes. */
static JET_ERR sr(JET_SESID s, JET_TABLEID t, const char *k, JET_GRBIT op, char *key, char *val) {
  size_t kl = 0, vl = 0;
  key[0] = val[0] = 0;
  JET_ERR e = EseSeekRetrieve(s, t, k, k ? strlen(k) : 0, op, key, 63, &kl, val, 63, &vl);
  if (e == JET_errSuccess) key[kl] = 0, val[vl] = 0;
  return e;
}

static uint64_t count(JET_SESID s, JET_TABLEID t, const char *from, const char *to) {
  uint64_t n = 12345;
  CK(EseCount(s, t, from, from ? strlen(from) : 0, to, to ? strlen(to) : 0, &n));
  return n;
}

static void test_retrieve(const char *root) {
  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE inst = start(root, "retrieve", &s, &t);
  char key[64], val[64];
  put(s, t, "b", "value-b");
  put(s, t, "d", "value-d");
  static const struct { const char *k; JET_GRBIT op; const char *want; } cases[] = {
    { "a", JET_bitSeekGE, "b" }, { "b", JET_bitSeekGT, "d" }, { "c", JET_bitSeekLE, "b" },
    { "d", JET_bitSeekEQ, "d" }, { "e", JET_bitSeekLT, "d" }, { NULL, JET_bitSeekGE, "b" },
    { NULL, JET_bitSeekLE, "d" }, { "e", JET_bitSeekGT, NULL }, { "b", JET_bitSeekLT, NULL },
    { "c", JET_bitSeekEQ, NULL },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    JET_ERR e = sr(s, t, cases[i].k, cases[i].op, key, val);
    JET_ERR plain = EseSeek(s, t, cases[i].k, cases[i].k ? strlen(cases[i].k) : 0, cases[i].op);
    if (e != plain) FAIL("case %zu: EseSeekRetrieve -> %ld, EseSeek -> %ld", i, (long)e, (long)plain);
    if (!cases[i].want) {
      EXPECT(e, JET_errRecordNotFound, "seek without a record");
      size_t n;
      EXPECT(EseRetrieveKey(s, t, key, sizeof key, &n), JET_errNoCurrentRecord, "retrieve after not found");
      continue;
    }
    EXPECT(e, JET_errSuccess, "seek");
    if (strcmp(key, cases[i].want) || strncmp(val, "value-", 6) || strcmp(val + 6, key))
      FAIL("case %zu: got '%s' = '%s', want '%s'", i, key, val, cases[i].want);
  }
  /* short buffers: truncated, full sizes, nothing past cbMax, cursor on the record */
  char kb[8], vb[8];
  size_t kl = 0, vl = 0;
  memset(kb, '#', sizeof kb);
  memset(vb, '#', sizeof vb);
  EXPECT(EseSeekRetrieve(s, t, "d", 1, JET_bitSeekEQ, kb, 1, &kl, vb, 3, &vl), JET_wrnBufferTruncated, "short value");
  if (kl != 1 || vl != 7 || memcmp(vb, "val#", 4) || kb[0] != 'd' || kb[1] != '#')
    FAIL("short value: sizes %zu %zu, bytes '%.4s' '%.2s'", kl, vl, vb, kb);
  EXPECT(EseSeekRetrieve(s, t, "b", 1, JET_bitSeekEQ, kb, 0, &kl, vb, sizeof vb, &vl), JET_wrnBufferTruncated,
         "short key");
  if (kl != 1 || vl != 7 || memcmp(vb, "value-b", 7)) FAIL("short key: sizes %zu %zu", kl, vl);
  CK(EseRetrieveValue(s, t, val, sizeof val, &vl));
  if (vl != 7 || memcmp(val, "value-b", 7)) FAIL("the cursor is not on b after a truncated call");
  EXPECT(EseSeekRetrieve(s, t, NULL, 0, JET_bitSeekGE, NULL, 0, &kl, NULL, 0, &vl), JET_wrnBufferTruncated,
         "sizes only");
  if (kl != 1 || vl != 7) FAIL("sizes only: %zu %zu", kl, vl);
  put(s, t, "e", "");
  EXPECT(EseSeekRetrieve(s, t, "e", 1, JET_bitSeekEQ, kb, sizeof kb, NULL, NULL, 0, NULL), JET_errSuccess,
         "an empty value with no value buffer");
  /* refusals */
  char big[EseMaxKeySize + 1];
  memset(big, 'x', sizeof big);
  EXPECT(EseSeekRetrieve(s, t, "b", 1, 0, key, 63, &kl, val, 63, &vl), JET_errInvalidGrbit, "grbit 0");
  EXPECT(EseSeekRetrieve(s, t, "b", 1, JET_bitSeekGE | JET_bitSeekLE, key, 63, &kl, val, 63, &vl),
         JET_errInvalidGrbit, "two ops");
  EXPECT(EseSeekRetrieve(s, t, NULL, 0, JET_bitSeekEQ, key, 63, &kl, val, 63, &vl), JET_errInvalidParameter,
         "EQ the empty key");
  EXPECT(EseSeekRetrieve(s, t, NULL, 3, JET_bitSeekGE, key, 63, &kl, val, 63, &vl), JET_errInvalidParameter,
         "NULL key of 3 bytes");
  EXPECT(EseSeekRetrieve(s, t, big, sizeof big, JET_bitSeekLE, key, 63, &kl, val, 63, &vl), JET_errKeyTooBig,
         "a key of 256 bytes");
  EXPECT(EseSeekRetrieve(s, JET_tableidNil, "b", 1, JET_bitSeekGE, key, 63, &kl, val, 63, &vl),
         JET_errInvalidTableId, "no table");
  EXPECT(EseSeekRetrieve(JET_sesidNil, t, "b", 1, JET_bitSeekGE, key, 63, &kl, val, 63, &vl), JET_errInvalidSesid,
         "no session");
  CK(EseCloseTable(s, t));
  EXPECT(EseSeekRetrieve(s, t, "b", 1, JET_bitSeekGE, key, 63, &kl, val, 63, &vl), JET_errInvalidTableId,
         "a closed table");
  EXPECT(EseCount(s, t, NULL, 0, NULL, 0, &(uint64_t){ 0 }), JET_errInvalidTableId, "count on a closed table");
  CK(JetEndSession(s, 0));
  CK(JetTerm2(inst, JET_bitTermComplete));
}

static void test_slice(const char *root) {
  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE inst = start(root, "slice", &s, &t);
  enum { LONG = 100000 };
  static char lv[LONG];
  for (size_t i = 0; i < LONG; i++) lv[i] = (char)('a' + (i * 7 + i / 8192) % 26);
  put(s, t, "b", "value-b");
  CK(EsePut(s, t, "l", 1, lv, LONG));
  char buf[32];   /* slices of at most 16 bytes: the rest is a guard */
  size_t n = 0;
  CK(EseSeek(s, t, "b", 1, JET_bitSeekEQ));   /* the cursor's record: b */
  static const struct { const char *k; size_t off, max, left; } ok[] = {
    { "b", 0, 7, 7 }, { "b", 6, 7, 1 }, { "b", 7, 7, 0 }, { "b", 100, 7, 0 },
    { "l", 0, 10, LONG }, { "l", 8160, 16, LONG - 8160 }, { "l", 50000, 10, LONG - 50000 },
    { "l", LONG - 3, 16, 3 }, { "l", LONG, 16, 0 }, { "l", (size_t)1 << 40, 16, 0 },
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    const char *src = ok[i].k[0] == 'b' ? "value-b" : lv;
    memset(buf, '#', sizeof buf);
    JET_ERR e = EseRetrieveSlice(s, t, ok[i].k, 1, ok[i].off, buf, ok[i].max, &n);
    size_t copied = ok[i].left < ok[i].max ? ok[i].left : ok[i].max;
    EXPECT(e, ok[i].left > ok[i].max ? JET_wrnBufferTruncated : JET_errSuccess, "slice");
    if (n != ok[i].left || (copied && memcmp(buf, src + ok[i].off, copied)) || buf[ok[i].max] != '#')
      FAIL("slice %zu: left %zu (want %zu), bytes or the guard wrong", i, n, ok[i].left);
  }
  EXPECT(EseRetrieveSlice(s, t, "l", 1, 3, NULL, 0, &n), JET_wrnBufferTruncated, "the size");
  if (n != LONG - 3) FAIL("the size: %zu", n);
  EXPECT(EseRetrieveSlice(s, t, "c", 1, 0, buf, 4, &n), JET_errRecordNotFound, "no such key");
  CK(EseRetrieveValue(s, t, buf, sizeof buf, &n));
  if (n != 7 || memcmp(buf, "value-b", 7)) FAIL("the cursor left b");
  char big[EseMaxKeySize + 1];
  memset(big, 'x', sizeof big);
  EXPECT(EseRetrieveSlice(s, t, NULL, 1, 0, buf, 4, &n), JET_errInvalidParameter, "NULL key");
  EXPECT(EseRetrieveSlice(s, t, "b", 0, 0, buf, 4, &n), JET_errInvalidParameter, "the empty key");
  EXPECT(EseRetrieveSlice(s, t, "b", 1, 0, NULL, 4, &n), JET_errInvalidParameter, "NULL buffer of 4 bytes");
  EXPECT(EseRetrieveSlice(s, t, big, sizeof big, 0, buf, 4, &n), JET_errKeyTooBig, "a key of 256 bytes");
  EXPECT(EseRetrieveSlice(s, JET_tableidNil, "b", 1, 0, buf, 4, &n), JET_errInvalidTableId, "no table");
  EXPECT(EseRetrieveSlice(JET_sesidNil, t, "b", 1, 0, buf, 4, &n), JET_errInvalidSesid, "no session");
  CK(EseCloseTable(s, t));
  CK(JetEndSession(s, 0));
  CK(JetTerm2(inst, JET_bitTermComplete));
}

static void test_count(const char *root) {
  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE inst = start(root, "count", &s, &t);
  uint64_t n;
  char key[64], val[64];
  EXPECT(EseCount(s, t, NULL, 0, NULL, 0, &n), JET_errSuccess, "count of an empty table");
  if (n != 0) FAIL("empty table: %llu", (unsigned long long)n);
  for (const char *const *k = (const char *const[]){ "k1", "k2", "k3", "k4", "k5", NULL }; *k; k++) put(s, t, *k, "v");
  static const struct { const char *from, *to; uint64_t want; } cases[] = {
    { NULL, NULL, 5 }, { "k2", "k4", 3 }, { "k2", "k2", 1 }, { "k25", "k45", 2 }, { "k4", "k2", 0 },
    { "", NULL, 5 }, { NULL, "", 0 }, { "k5", NULL, 1 }, { NULL, "k1", 1 }, { "k6", NULL, 0 },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    n = count(s, t, cases[i].from, cases[i].to);
    if (n != cases[i].want) FAIL("count case %zu: %llu, want %llu", i, (unsigned long long)n,
                                 (unsigned long long)cases[i].want);
  }
  CK(JetBeginTransaction(s));
  put(s, t, "k0", "new");
  put(s, t, "k35", "new");
  put(s, t, "k2", "replaced");
  CK(EseDelete(s, t, "k4", 2));
  CK(EseDelete(s, t, "k5", 2));
  put(s, t, "k9", "new");
  CK(EseDelete(s, t, "k9", 2));
  CK(sr(s, t, "k3", JET_bitSeekEQ, key, val));
  if ((n = count(s, t, NULL, NULL)) != 5) FAIL("in the transaction: %llu, want 5", (unsigned long long)n);
  if ((n = count(s, t, "k3", "k5")) != 2) FAIL("k3..k5 in the transaction: %llu, want 2", (unsigned long long)n);
  size_t kl;
  CK(EseRetrieveKey(s, t, key, sizeof key, &kl));
  if (kl != 2 || memcmp(key, "k3", 2)) FAIL("count moved the cursor to '%.*s'", (int)kl, key);
  CK(JetRollback(s, 0));
  if ((n = count(s, t, NULL, NULL)) != 5) FAIL("after rollback: %llu", (unsigned long long)n);
  char big[EseMaxKeySize + 1];
  memset(big, 'x', sizeof big);
  EXPECT(EseCount(s, t, NULL, 0, NULL, 0, NULL), JET_errInvalidParameter, "no count pointer");
  EXPECT(EseCount(s, t, NULL, 2, NULL, 0, &n), JET_errInvalidParameter, "NULL from of 2 bytes");
  EXPECT(EseCount(s, t, NULL, 0, NULL, 2, &n), JET_errInvalidParameter, "NULL to of 2 bytes");
  EXPECT(EseCount(s, t, big, sizeof big, NULL, 0, &n), JET_errKeyTooBig, "from of 256 bytes");
  EXPECT(EseCount(s, t, NULL, 0, big, sizeof big, &n), JET_errKeyTooBig, "to of 256 bytes");
  EXPECT(EseCount(JET_sesidNil, t, NULL, 0, NULL, 0, &n), JET_errInvalidSesid, "no session");
  CK(JetEndSession(s, 0));
  CK(JetTerm2(inst, JET_bitTermComplete));
}

static void test_walk(const char *root) {
  enum { N = 20000 };
  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE inst = start(root, "walk", &s, &t);
  char k[32], key[64], val[64];
  CK(JetBeginTransaction(s));
  for (int i = 0; i < N; i++) {
    snprintf(k, sizeof k, "%08d", i * 2);
    put(s, t, k, "committed-value-of-some-length");
  }
  CK(JetCommitTransaction(s, 0));
  CK(JetBeginTransaction(s));
  long live = N;
  for (int i = 0; i < N; i += 7) {   /* odd keys added, every 7th replaced, every 13th deleted */
    snprintf(k, sizeof k, "%08d", i * 2 + 1);
    put(s, t, k, "new");
    live++;
    snprintf(k, sizeof k, "%08d", i * 2);
    put(s, t, k, "replaced");
  }
  for (int i = 0; i < N; i += 13) {
    snprintf(k, sizeof k, "%08d", i * 2);
    CK(EseDelete(s, t, k, strlen(k)));
    live--;
  }
  uint64_t n = count(s, t, NULL, NULL);
  if ((long)n != live) FAIL("count %llu, want %ld", (unsigned long long)n, live);
  for (int dir = 0; dir < 2; dir++) {
    long seen = 0;
    char last[64] = "";
    JET_ERR e = sr(s, t, NULL, dir ? JET_bitSeekLE : JET_bitSeekGE, key, val);
    while (e == JET_errSuccess) {
      int c = strcmp(key, last);
      if (seen && (dir ? c >= 0 : c <= 0)) FAIL("walk %d: '%s' after '%s'", dir, key, last);
      long i = strtol(key, NULL, 10);
      const char *want = i % 2 ? "new" : (i / 2) % 7 == 0 ? "replaced" : "committed-value-of-some-length";
      if (i % 2 == 0 && (i / 2) % 13 == 0) FAIL("walk %d: deleted key %s seen", dir, key);
      if (strcmp(val, want)) FAIL("walk %d: %s = '%s', want '%s'", dir, key, val, want);
      seen++;
      snprintf(last, sizeof last, "%s", key);
      e = sr(s, t, last, dir ? JET_bitSeekLT : JET_bitSeekGT, key, val);
    }
    EXPECT(e, JET_errRecordNotFound, "the end of the walk");
    if (seen != live) FAIL("walk %d saw %ld records, want %ld", dir, seen, live);
  }
  CK(JetCommitTransaction(s, 0));
  if ((long)count(s, t, NULL, NULL) != live) FAIL("count after commit");
  CK(JetEndSession(s, 0));
  CK(JetTerm2(inst, JET_bitTermComplete));
}

/* A NULL buffer with cbMax > 0 (found by hostile18e): JET_errInvalidParameter
 * from every retrieve, as EseRetrieveSlice; before, EseRetrieveKey,
 * EseRetrieveValue, EseRetrieveValueAt and EseSeekRetrieve answered
 * success (the sizes in *pcbActual) with nothing copied, so a caller read
 * its buffer as filled.  NULL with cbMax 0 still asks the size. */
static void test_nullbuf(const char *root) {
  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE inst = start(root, "nullbuf", &s, &t);
  char key[64], val[64];
  size_t kl = 0, vl = 0;
  put(s, t, "b", "value-b");
  CK(EseSeek(s, t, "b", 1, JET_bitSeekEQ));
  EXPECT(EseRetrieveKey(s, t, NULL, 8, &kl), JET_errInvalidParameter, "RetrieveKey NULL of 8 bytes");
  EXPECT(EseRetrieveValue(s, t, NULL, 8, &vl), JET_errInvalidParameter, "RetrieveValue NULL of 8 bytes");
  EXPECT(EseRetrieveValueAt(s, t, 2, NULL, 8, &vl), JET_errInvalidParameter, "RetrieveValueAt NULL of 8 bytes");
  EXPECT(EseSeekRetrieve(s, t, "b", 1, JET_bitSeekEQ, NULL, 8, &kl, val, sizeof val, &vl), JET_errInvalidParameter,
         "SeekRetrieve NULL key buffer of 8 bytes");
  EXPECT(EseSeekRetrieve(s, t, "b", 1, JET_bitSeekEQ, key, sizeof key, &kl, NULL, 8, &vl), JET_errInvalidParameter,
         "SeekRetrieve NULL value buffer of 8 bytes");
  /* the sizes alone still work, and the cursor is where it was */
  kl = vl = 0;
  EXPECT(EseRetrieveKey(s, t, NULL, 0, &kl), JET_wrnBufferTruncated, "RetrieveKey the size");
  EXPECT(EseRetrieveValueAt(s, t, 2, NULL, 0, &vl), JET_wrnBufferTruncated, "RetrieveValueAt the size");
  if (kl != 1 || vl != 5) FAIL("the sizes: key %zu, value from 2 %zu", kl, vl);
  EXPECT(EseSeekRetrieve(s, t, "a", 1, JET_bitSeekGE, NULL, 0, &kl, NULL, 0, &vl), JET_wrnBufferTruncated,
         "SeekRetrieve the sizes");
  if (kl != 1 || vl != 7) FAIL("SeekRetrieve sizes: key %zu, value %zu", kl, vl);
  CK(EseRetrieveValue(s, t, val, sizeof val, &vl));
  if (vl != 7 || memcmp(val, "value-b", 7)) FAIL("the cursor left b");
  CK(EseCloseTable(s, t));
  CK(JetEndSession(s, 0));
  CK(JetTerm2(inst, JET_bitTermComplete));
}

int main(int argc, char **argv) {
  harness_start(600);
  const char *which = argc > 1 ? argv[1] : "all";
  int all = strcmp(which, "all") == 0, ran = 0;
  char root[64];
  harness_tempdir(root, sizeof root, "cursor-api");
  if (all || !strcmp(which, "retrieve")) test_retrieve(root), ran++, printf("cursor_api: retrieve: ok\n");
  if (all || !strcmp(which, "count")) test_count(root), ran++, printf("cursor_api: count: ok\n");
  if (all || !strcmp(which, "walk")) test_walk(root), ran++, printf("cursor_api: walk: ok\n");
  if (all || !strcmp(which, "slice")) test_slice(root), ran++, printf("cursor_api: slice: ok\n");
  if (all || !strcmp(which, "nullbuf")) test_nullbuf(root), ran++, printf("cursor_api: nullbuf: ok\n");
  if (!ran) FAIL("unknown test %s (retrieve, count, walk, slice, nullbuf)", which);
  if (harness_rm_rf(root) != 0) printf("cursor_api: note: could not remove %s\n", root);
  return 0;
}
