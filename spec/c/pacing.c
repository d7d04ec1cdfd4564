/*
 * pacing.c -- the backup pacer (csrc/pace.h, docs/backup.md "Pacing").
 *
 *   pacing [unit|model|gap|rate|auto|all]   (default all)
 *
 * unit: the token bucket and the auto rule on a fake clock (time passed in,
 *       no sleeping): over any simulated span T a reader gets at most
 *       burst + rate x T bytes and, asking without pause, at least
 *       rate x T - burst; a request is split into pieces of at most one
 *       burst (at least a page); two readers share one rate; no rate: no
 *       wait; auto limits at once (at most half the read rate) when a
 *       window of commits takes 10 x its normal, goes down to a quarter
 *       of the ceiling and no lower, keeps the normal while the backup
 *       reads, and gives the limit back (rate 0) within three steps once
 *       no commit ended for a second; under a cap the floor is 1 MiB/s.
 * model: auto against a modelled writer (fake clock) whose commits take
 *       1 ms plus k ms per 100 MB/s the backup reads: with k = 0.5 the
 *       excess is within the bound (normal / 4) after 2 s and the backup
 *       reads no slower than needed (at least 30 MB/s, the aim is 40);
 *       once commits are calm the limit ends within six steps; with
 *       k = 20 (hurt at any rate) the rate holds at its floor, a quarter
 *       of the ceiling.
 * gap:  a backup after ten idle seconds: its first limit starts from the
 *       unpaced read rate, not from the last interval's bytes spread over
 *       the gap.
 * noisy: the writer of model hurt more than in proportion (0.2 ms x
 *       (rate / 40 MB/s)^3, as a disk near saturation) and, every third
 *       interval, calm whatever the backup reads: over 3 s the limit never
 *       ends, the writer keeps >= 0.8 of its rate and the backup reads at
 *       least the floor (doubling after one calm interval swung the old
 *       rule back to unpaced reads: 0.76, four ends).
 * rate: JetReadFileInstance of a database of S bytes with
 *       JET_paramBackupMaxRate = S (set while the instance runs) takes at
 *       least 0.8 s (lower bound only), delivers every byte, and no read
 *       returns 0 before the end.
 * auto: ESE_FAULT=slowsync:200:<dir>/slow makes every sync wait 200 ms
 *       while that file exists (far above a loaded machine's normal sync,
 *       so that the recent latency doubles the normal within two or three
 *       commits: with 50 ms and a normal of 20 ms under load it took more
 *       commits than the backup lasted).  A writer thread commits durably; once its
 *       baseline is known a backup begins and the file is made; the backup, with
 *       JET_paramBackupPace = auto (and a 4 MiB/s cap) must run slower
 *       than the cap (the pacer's rate in force drops below it) while
 *       commits are slow; the file is removed and the backup completes
 *       (End normal).
 */
#define HARNESS_NAME "pacing"
#include "harness.h"
#include "pace.h"
#include <pthread.h>
#include <stdatomic.h>

#define MS 1000000ull
#define SEC 1000000000ull

/* ---- unit: a fake clock ------------------------------------------------------ */

/* One reader asking for `want` bytes at a time without pause for span ns:
 * returns the bytes granted up to the end of the span. */
static uint64_t drain(pace *p, uint64_t *now, uint64_t span, uint64_t want, uint64_t unit, uint64_t *most) {
  uint64_t end = *now + span, got = 0;
  while (*now < end) {
    uint64_t g = 0, w = pace_reserve(p, want, unit, *now, &g);
    if (g > *most) *most = g;
    *now += w;                 /* the wait, then the read (instant) */
    if (*now <= end) got += g;
    if (!w) *now += 1;
  }
  return got;
}

/* auto against a modelled writer: its commits take 1 ms plus k ms per
 * 100 MB/s that the backup reads (the reader itself reads at most 100
 * MB/s); commits follow one another without pause.  Runs span ns of the
 * fake clock; returns the read rate over the span and the excess (ns)
 * of the last commit. */
static double model_run(pace *p, uint64_t *now, uint64_t span, double k, double *excess) {
  uint64_t end = *now + span, start = *now, bytes = 0, next = *now;
  double lat = 1 * MS;
  while (*now < end) {
    uint64_t g = 0, w = pace_reserve(p, 65536, 8192, *now, &g);
    uint64_t t0 = *now;
    *now += w + g * SEC / 100000000u;        /* the wait, then the read at 100 MB/s */
    bytes += g;
    double rate = (double)g * 1e9 / (double)(*now - t0);
    lat = 1e6 + k * 1e6 * rate / 1e8;
    for (; next <= *now; next += (uint64_t)lat) pace_commit_latency(p, (uint64_t)lat, next);
  }
  *excess = lat - 1e6;
  return (double)bytes * 1e9 / (double)(*now - start);
}

/* A writer hurt more than in proportion to the read rate (1 ms + 0.2 ms x
 * (rate / 40 MB/s)^3: 40 MB/s keeps it at the aim, 100 MB/s costs it
 * three quarters of its rate, as a disk near saturation) on a noisy disk:
 * in every third interval of 100 ms its commits take 0.9 ms whatever the
 * backup reads (the disk's other tenants went quiet).
 * Returns the writer's share of its idle rate over span (1 ms / the mean
 * commit), the read rate in *read and the times the limit ended (the rate
 * in force back to none) in *ends. */
static double noisy_run(pace *p, uint64_t *now, uint64_t span, double *read, int *ends) {
  uint64_t end = *now + span, start = *now, bytes = 0, next = *now, commits = 0;
  double lat_sum = 0;
  int limited = 0;
  *ends = 0;
  while (*now < end) {
    uint64_t g = 0, w = pace_reserve(p, 65536, 8192, *now, &g);
    pace_status st;
    pace_get_status(p, *now, &st);
    if (limited && st.rate == 0) (*ends)++;
    limited = st.rate != 0;
    uint64_t t0 = *now;
    *now += w + g * SEC / 100000000u;
    bytes += g;
    double rate = (double)g * 1e9 / (double)(*now - t0);
    for (; next <= *now; commits++) {
      double x = rate / 4e7;
      double lat = (next / (100 * MS)) % 3 == 0 ? 0.9e6 : 1e6 + 0.2e6 * x * x * x;
      pace_commit_latency(p, (uint64_t)lat, next);
      lat_sum += lat;
      next += (uint64_t)lat;
    }
  }
  *read = (double)bytes * 1e9 / (double)(*now - start);
  return commits ? 1e6 / (lat_sum / (double)commits) : 0;
}

static void noisy_model(void) {
  pace p;
  uint64_t now = 1 * SEC;
  if (pace_init(&p) != 0) FAIL("pace_init");
  pace_set(&p, 0, PACE_AUTO);
  for (int i = 0; i < 64; i++) pace_commit_latency(&p, 1 * MS, now);
  now += 2 * SEC;
  for (int i = 0; i < 64; i++) pace_commit_latency(&p, 1 * MS, now);
  double read;
  int ends;
  double share = noisy_run(&p, &now, 3 * SEC, &read, &ends);
  /* one calm interval is no proof that the rate is harmless: the limit
   * holds (doubling back to the ceiling swung auto between its floor and
   * unpaced reads: writer 0.78, 9 ends in 3 s) */
  if (ends > 0 || share < 0.8 || read < 25000000)
    FAIL("noisy: the writer keeps %.2f of its rate (want 0.8), the backup reads %.1f MB/s (floor 25), "
         "the limit ended %d times", share, read / 1e6, ends);
  pace_destroy(&p);
  printf("pacing: noisy ok (writer %.2f, read %.1f MB/s)\n", share, read / 1e6);
}

static void writer_model(pace *p, uint64_t *now) {
  pace_status st;
  double ex;
  pace_set(p, 0, PACE_AUTO);
  for (int i = 0; i < 50; i++) pace_commit_latency(p, 1 * MS, *now);   /* the normal: 1 ms, no backup */
  *now += 2 * SEC;
  for (int i = 0; i < 50; i++) pace_commit_latency(p, 1 * MS, *now);
  /* full speed costs the writer 0.5 ms a commit (a third of its rate):
   * the controller must bring the excess under the bound (normal / 4) */
  double r = model_run(p, now, 1 * SEC, 0.5, &ex);
  pace_get_status(p, *now, &st);
  if (st.rate == 0) FAIL("model: no limit while commits take %.0f us more", ex / 1e3);
  r = model_run(p, now, 1 * SEC, 0.5, &ex);
  pace_get_status(p, *now, &st);
  if (ex > 0.25e6 || st.congested)
    FAIL("model: after 2 s the excess is %.0f us (bound 250), rate %llu, read %.0f B/s", ex / 1e3, (unsigned long long)st.rate, r);
  double r0 = r, ex0 = ex;
  /* and not much slower than it must: 50 MB/s keeps it, the aim is 40 */
  if (r < 30000000) FAIL("model: read %.0f B/s where 40 MB/s keeps commits within the bound", r);
  /* the backup stops disturbing the writer: back to no limit within six
   * steps (a quarter up per step: 40 MB/s -> 100 MB/s in five) */
  model_run(p, now, 600 * MS + 1, 0.0, &ex);
  pace_get_status(p, *now, &st);
  if (st.rate != 0) FAIL("model: calm commits, still limited to %llu B/s after 6 steps", (unsigned long long)st.rate);
  /* a writer hurt badly even at the floor: the floor holds (the backup ends) */
  r = model_run(p, now, 2 * SEC, 20.0, &ex);
  pace_get_status(p, *now, &st);
  /* (the ceiling is the read rate seen before the limit: 90 .. 100 MB/s) */
  if (st.rate < 22500000 || st.rate > 25000000 || r < 20000000 || r > 40000000)
    FAIL("model: hurt at any rate: rate %llu, read %.0f B/s; want the floor, a quarter of the ceiling", (unsigned long long)st.rate, r);
  printf("pacing: model ok (read %.1f MB/s, excess %.0f us, bound 250)\n", r0 / 1e6, ex0 / 1e3);
}

/* A backup after ten idle seconds, on a pacer whose last backup read at
 * 100 MB/s: its first limit starts from the unpaced read rate, not from
 * the bytes of the last backup's last interval spread over the idle gap
 * (the ceiling then was 2 MiB/s and the limit 1 MiB/s: a 1M-record
 * backup ran 235 x its idle time in ese-backup-bench). */
static void idle_gap(void) {
  pace p;
  uint64_t now = 1 * SEC, g;
  double ex;
  pace_status st;
  if (pace_init(&p) != 0) FAIL("pace_init");
  pace_set(&p, 0, PACE_AUTO);
  for (int i = 0; i < 64; i++) pace_commit_latency(&p, 1 * MS, now);
  now += 1 * SEC;
  model_run(&p, &now, 1 * SEC + 50 * MS, 0.0, &ex);   /* a calm backup */
  now += 10 * SEC;
  for (int i = 0; i < 64; i++) pace_commit_latency(&p, 1 * MS, now);
  now += 1 * SEC;
  model_run(&p, &now, 20 * MS, 0.0, &ex);       /* the next one: 20 ms of reading, calm */
  for (int i = 0; i < 32; i++) pace_commit_latency(&p, 5 * MS, now);
  pace_reserve(&p, 65536, 8192, now, &g);
  pace_get_status(&p, now, &st);
  if (st.rate < 25000000 || st.rate > 50000000)
    FAIL("gap: the first limit after an idle gap is %llu B/s; want 25 .. 50 MB/s (unpaced 100 MB/s)", (unsigned long long)st.rate);
  pace_destroy(&p);
  printf("pacing: gap ok (first limit %llu B/s)\n", (unsigned long long)st.rate);
}

static void unit_tests(void) {
  pace p;
  if (pace_init(&p) != 0) FAIL("pace_init");
  uint64_t now = 1 * SEC, most = 0, g = 0;
  /* no rate: all at once */
  if (pace_reserve(&p, 1u << 20, 8192, now, &g) != 0 || g != 1u << 20) FAIL("unlimited: waited or split (%llu)", (unsigned long long)g);
  /* 1 MB/s: burst 100 kB -> pieces of 12 pages (98304 bytes) */
  pace_set(&p, 1000000, PACE_NONE);
  uint64_t got = drain(&p, &now, 10 * SEC, 1u << 20, 8192, &most);
  if (most > 100000 || most < 8192) FAIL("a piece of %llu bytes (burst 100000)", (unsigned long long)most);
  if (got > 10000000 + 100000 || got < 10000000 - 100000)
    FAIL("10 s at 1 MB/s gave %llu bytes", (unsigned long long)got);
  /* two readers alternating share the rate */
  uint64_t both = 0;
  for (uint64_t end = now + 5 * SEC; now < end;) {
    uint64_t w1 = pace_reserve(&p, 65536, 8192, now, &g);
    both += g;
    now += w1 + 1;
    uint64_t w2 = pace_reserve(&p, 65536, 8192, now, &g);
    both += g;
    now += w2 + 1;
  }
  if (both > 5000000 + 200000 || both < 5000000 - 200000) FAIL("two readers, 5 s at 1 MB/s: %llu bytes", (unsigned long long)both);
  /* a rate below a page: one page at a time, waiting for it */
  pace_set(&p, 1000, PACE_NONE);
  now += 10 * SEC;
  uint64_t w = pace_reserve(&p, 65536, 8192, now, &g);
  if (g != 8192 || w < 7 * SEC || w > 9 * SEC) FAIL("1000 B/s: a piece of %llu, wait %llu ns", (unsigned long long)g, (unsigned long long)w);
  now += w;

  /* auto, no cap: calm commits of 1 ms, reads at 100 MB/s (the reader's own pace) */
  pace_set(&p, 0, PACE_AUTO);
  for (int i = 0; i < 50; i++) pace_commit_latency(&p, 1 * MS, now);
  pace_status st;
  for (int i = 0; i < 5; i++) {           /* 10 MB per 100 ms, unlimited */
    pace_reserve(&p, 10000000, 8192, now, &g);
    now += 100 * MS;
    pace_commit_latency(&p, 1 * MS, now);
  }
  pace_get_status(&p, now, &st);
  if (st.rate != 0 || st.congested) FAIL("auto, calm: rate %llu, congested %d", (unsigned long long)st.rate, st.congested);
  /* commits now take 10 ms: congested; the first limit at once, at most half the read rate seen */
  for (int i = 0; i < 32; i++) pace_commit_latency(&p, 10 * MS, now);
  pace_reserve(&p, 8192, 8192, now, &g);     /* takes the window of 32 commits: congested */
  pace_get_status(&p, now, &st);
  if (!st.congested) FAIL("auto: 10 ms commits against 1 ms are not congested (recent %llu, normal %llu)",
                          (unsigned long long)st.commit_recent_ns, (unsigned long long)st.commit_normal_ns);
  pace_reserve(&p, 8192, 8192, now, &g);
  pace_get_status(&p, now, &st);
  if (st.rate == 0 || st.rate > 50000000) FAIL("auto, congested: rate %llu (want at most half of 100 MB/s)", (unsigned long long)st.rate);
  for (int i = 0; i < 12; i++) {
    for (int j = 0; j < 32; j++) pace_commit_latency(&p, 10 * MS, now);
    now += 100 * MS;
    pace_reserve(&p, 8192, 8192, now, &g);
  }
  pace_get_status(&p, now, &st);
  /* never below a quarter of the ceiling (100 MB/s): the backup still ends */
  if (st.rate != 25000000) FAIL("auto, congested 1.2 s: rate %llu, want 100 MB/s / 4", (unsigned long long)st.rate);
  /* the backup's slow commits did not become the normal */
  if (st.commit_normal_ns > 1 * MS) FAIL("auto: normal rose to %llu ns while the backup read", (unsigned long long)st.commit_normal_ns);
  /* no commit for more than a second: not congested, the limit ends within two steps (x2, x2) */
  now += 2 * SEC;
  for (int i = 0; i < 3; i++) {
    now += 100 * MS;
    pace_reserve(&p, 8192, 8192, now, &g);
  }
  pace_get_status(&p, now, &st);
  if (st.congested || st.rate != 0) FAIL("auto, calm again: rate %llu, congested %d", (unsigned long long)st.rate, st.congested);
  /* auto under a cap: the cap is the ceiling; the floor is 1 MiB/s */
  pace_set(&p, 2000000, PACE_AUTO);
  for (int i = 0; i < 32; i++) pace_commit_latency(&p, 30 * MS, now);
  now += 100 * MS;
  pace_reserve(&p, 8192, 8192, now, &g);
  pace_get_status(&p, now, &st);
  if (st.rate != 1u << 20) FAIL("auto under a 2 MB/s cap, congested: %llu, want 1 MiB/s", (unsigned long long)st.rate);
  pace_destroy(&p);
  pace_destroy(&p);
  printf("pacing: unit ok\n");
}

/* ---- real instances ---------------------------------------------------------- */

static char g_dir[256], g_db[400];

static JET_INSTANCE open_filled(const char *tag, int keys, JET_SESID *s, JET_TABLEID *t) {
  JET_INSTANCE inst;
  JET_DBID db;
  char name[64];
  harness_tempdir(g_dir, sizeof g_dir, tag);
  harness_in(g_db, sizeof g_db, g_dir, "app.edb");
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, tag), g_dir, 1024, 0));
  CK(JetInit(&inst));
  CK(harness_create_table(inst, g_db, "t", s, &db, t));
  for (int i = 0; i < keys; i += 500) {
    CK(JetBeginTransaction(*s));
    harness_put_keys(*s, *t, "k", i, i + 500 < keys ? i + 500 : keys);
    CK(JetCommitTransaction(*s, JET_bitCommitLazyFlush));
  }
  return inst;
}

/* Reads the open stream h to its end with JetReadFileInstance (cb bytes a
 * call); checks that no read returns 0 before size bytes came. */
static uint64_t read_stream(JET_INSTANCE inst, JET_HANDLE h, uint64_t size, unsigned long cb) {
  void *buf = aligned_alloc(4096, cb);
  if (!buf) FAIL("out of memory");
  uint64_t got = 0;
  for (;;) {
    unsigned long n = 0;
    CK(JetReadFileInstance(inst, h, buf, cb, &n));
    if (n > cb) FAIL("read %lu bytes into %lu", n, cb);
    if (n == 0) break;
    got += n;
  }
  free(buf);
  if (got != size) FAIL("streamed %llu bytes of %llu", (unsigned long long)got, (unsigned long long)size);
  return got;
}

static void finish_backup(JET_INSTANCE inst) {
  char *buf = NULL;
  int n = 0;
  char **logs = harness_list(inst, JetGetLogInfoInstance, &buf, &n);
  for (int i = 0; i < n; i++) {
    JET_HANDLE h;
    unsigned long lo, hi;
    CK(JetOpenFileInstance(inst, logs[i], &h, &lo, &hi));
    read_stream(inst, h, ((uint64_t)hi << 32) | lo, 1u << 20);
    CK(JetCloseFileInstance(inst, h));
  }
  free(logs);
  free(buf);
  CK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndNormal));
}

static void rate_test(void) {
  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE inst = open_filled("pace-rate", 4000, &s, &t);
  CK(JetBeginExternalBackupInstance(inst, 0));
  JET_HANDLE h;
  unsigned long lo, hi;
  CK(JetOpenFileInstance(inst, g_db, &h, &lo, &hi));
  uint64_t size = ((uint64_t)hi << 32) | lo;
  if (size < (1u << 20)) FAIL("the database streams only %llu bytes", (unsigned long long)size);
  JET_INSTANCE ii = inst;
  CK(JetSetSystemParameter(&ii, 0, JET_paramBackupMaxRate, (JET_API_PTR)size, NULL));   /* S/N = 1 s */
  uint64_t t0 = harness_now_us();
  read_stream(inst, h, size, 1u << 20);
  double secs = (double)(harness_now_us() - t0) / 1e6;
  if (secs < 0.8) FAIL("%llu bytes at %llu B/s took %.3f s, want >= 0.8 s", (unsigned long long)size,
                       (unsigned long long)size, secs);
  CK(JetCloseFileInstance(inst, h));
  EseBackupPaceStatus st;
  CK(EseGetBackupPaceStatus(inst, &st));
  if (st.maxRate != size || st.rate != size || st.waits == 0) FAIL("status: max %llu rate %llu waits %llu", st.maxRate, st.rate, st.waits);
  CK(JetSetSystemParameter(&ii, 0, JET_paramBackupMaxRate, 0, NULL));
  finish_backup(inst);
  CK(JetTerm2(inst, JET_bitTermComplete));
  harness_rm_rf(g_dir);
  printf("pacing: rate ok (%llu bytes in %.3f s at %llu B/s)\n", (unsigned long long)size, secs, (unsigned long long)size);
}

static atomic_int g_stop;
static atomic_ulong g_commits;
static JET_SESID g_ws;
static JET_TABLEID g_wt;

static void *writer(void *arg) {
  (void)arg;
  for (int i = 0; !atomic_load(&g_stop); i++) {
    char k[32];
    snprintf(k, sizeof k, "w%08d", i);
    JET_ERR e = JetBeginTransaction(g_ws);
    if (e >= 0) e = EsePut(g_ws, g_wt, k, strlen(k), "v", 1);
    if (e >= 0) e = JetCommitTransaction(g_ws, 0);
    if (e < 0) FAIL("writer: %s", harness_err_name(e));
    atomic_fetch_add(&g_commits, 1);
  }
  return NULL;
}

static void auto_test(void) {
  char slow[300], fault[400], tmp[256];
  /* the fault names a file in the instance's folder, made before the instance */
  harness_tempdir(tmp, sizeof tmp, "pace-auto-flag");
  harness_in(slow, sizeof slow, tmp, "slow");
  snprintf(fault, sizeof fault, "slowsync:200:%s", slow);
  setenv("ESE_FAULT", fault, 1);
  JET_SESID s;
  JET_TABLEID t;
  JET_INSTANCE inst = open_filled("pace-auto", 16000, &s, &t);
  unsetenv("ESE_FAULT");
  JET_INSTANCE ii = inst;
  CK(JetSetSystemParameter(&ii, 0, JET_paramBackupPace, ESE_backupPaceAuto, NULL));
  CK(JetSetSystemParameter(&ii, 0, JET_paramBackupMaxRate, 4u << 20, NULL));
  JET_DBID db;
  CK(harness_open_table(inst, g_db, 0, "t", &g_ws, &db, &g_wt));
  pthread_t th;
  if (pthread_create(&th, NULL, writer, NULL) != 0) FAIL("pthread_create");
  usleep(400000);                           /* the writer's normal */
  CK(JetBeginExternalBackupInstance(inst, 0));
  JET_HANDLE h;
  unsigned long lo, hi;
  CK(JetOpenFileInstance(inst, g_db, &h, &lo, &hi));
  /* syncs slow from here: made before Begin, Begin's checkpoint (whose
   * slices let commits run) made the slow commits the writer's normal
   * before the first read */
  int fd = open(slow, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) FAIL("%s: %s", slow, strerror(errno));
  close(fd);
  uint64_t size = ((uint64_t)hi << 32) | lo, got = 0, lowest = 0;
  unsigned long cb = 64 * 1024;
  void *buf = aligned_alloc(4096, cb);
  if (!buf) FAIL("out of memory");
  int removed = 0, congested = 0;
  uint64_t t0 = harness_now_us();
  for (;;) {
    unsigned long n = 0;
    CK(JetReadFileInstance(inst, h, buf, cb, &n));
    if (n == 0) break;
    got += n;
    EseBackupPaceStatus st;
    CK(EseGetBackupPaceStatus(inst, &st));
    congested |= st.congested;
    if (st.rate && (!lowest || st.rate < lowest)) lowest = st.rate;
    /* slow commits until the pacer went below the cap, or 3 s */
    if (!removed && ((lowest && lowest < (4u << 20)) || harness_now_us() - t0 > 3000000)) {
      unlink(slow);
      removed = 1;
    }
  }
  free(buf);
  if (!removed) unlink(slow);
  if (got != size) FAIL("streamed %llu bytes of %llu", (unsigned long long)got, (unsigned long long)size);
  CK(JetCloseFileInstance(inst, h));
  finish_backup(inst);
  atomic_store(&g_stop, 1);
  pthread_join(th, NULL);
  EseBackupPaceStatus st;
  CK(EseGetBackupPaceStatus(inst, &st));
  if (!congested) FAIL("slow commits (recent %llu us, normal %llu us) never counted as congested", st.commitRecentUs, st.commitNormalUs);
  if (!lowest || lowest >= (4u << 20)) FAIL("auto never went below the 4 MiB/s cap (lowest %llu)", (unsigned long long)lowest);
  CK(JetEndSession(g_ws, 0));
  CK(JetTerm2(inst, JET_bitTermComplete));
  harness_rm_rf(g_dir);
  harness_rm_rf(tmp);
  printf("pacing: auto ok (lowest rate %llu B/s, %lu commits, normal %llu us)\n", (unsigned long long)lowest,
         (unsigned long)atomic_load(&g_commits), st.commitNormalUs);
}

int main(int argc, char **argv) {
  harness_start(600);
  const char *what = argc > 1 ? argv[1] : "all";
  int all = !strcmp(what, "all");
  if (all || !strcmp(what, "unit")) unit_tests();
  if (all || !strcmp(what, "model")) {
    pace p;
    uint64_t now = 1 * SEC;
    if (pace_init(&p) != 0) FAIL("pace_init");
    writer_model(&p, &now);
    pace_destroy(&p);
  }
  if (all || !strcmp(what, "gap")) idle_gap();
  if (all || !strcmp(what, "noisy")) noisy_model();
  if (all || !strcmp(what, "rate")) rate_test();
  if (all || !strcmp(what, "auto")) auto_test();
  printf("pacing: ok %s\n", what);
  return 0;
}
