/*
 * disk_bench.c -- what this machine's disk allows a reader and a durable
 * committer to do at the same time, without any engine: the frontier that
 * bounds the "under load" targets of ese-backup-bench.
 *
 *   A committer thread overwrites 4 KiB of a preallocated file and
 *   fdatasyncs it, without pause (what a single durable writer of any
 *   engine does to the disk).  A reader streams a cold file of random data
 *   (BENCH_DISK_MIB, default 128) front to back with one read in flight,
 *   under each schedule:
 *     buffered 1 MiB     pread through the page cache (kernel readahead),
 *                        as a plain copy does
 *     direct N KiB       O_DIRECT preads of N KiB (no readahead, no cache)
 *     direct 1 MiB paced O_DIRECT 1 MiB, each read begun only when the
 *                        committer has no sync in flight (waits <= 2 ms)
 *   For each schedule: the reader alone, the committer alone (for as long
 *   as the reader alone took), and both together.  The reader's ratio is
 *   its time alone over its time with the committer; the committer's, its
 *   rate with the reader over its rate alone.  A backup that must keep
 *   >= 0.8 of its idle speed (<= 1.25 x its idle time) while a writer keeps
 *   >= 0.8 of its rate needs a schedule where both ratios reach 0.8.
 *
 * Environment: BENCH_DIR, BENCH_ROUNDS (default 8), BENCH_DISK_MIB,
 * BENCH_KEEP as in ese-backup-bench.
 */
#include "bench_common.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define WRITER_FILE_BYTES (16u << 20)
#define WRITE_BYTES 4096u
#define PACE_MAX_S 0.002

typedef struct schedule {
  const char *name;
  size_t chunk;
  int direct, paced;
} schedule;

static const schedule schedules[] = {
  { "buffered 1 MiB (a plain copy)", 1u << 20, 0, 0 },
  { "direct 1 MiB", 1u << 20, 1, 0 },
  { "direct 256 KiB", 256u << 10, 1, 0 },
  { "direct 128 KiB", 128u << 10, 1, 0 },
  { "direct 64 KiB", 64u << 10, 1, 0 },
  { "direct 1 MiB, paced by the committer's syncs", 1u << 20, 1, 1 },
};
#define NSCHED (sizeof schedules / sizeof schedules[0])

/* The committer: parked unless run; syncing is set while a sync is in flight. */
typedef struct committer {
  char path[4400];
  pthread_t tid;
  atomic_int run, quit, syncing;
  atomic_uint_fast64_t commits;
} committer;

static void *committer_main(void *arg) {
  committer *c = arg;
  int fd = open(c->path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die(c->path);
  uint8_t *block = malloc(WRITE_BYTES);
  if (!block) die("malloc");
  memset(block, 0xA5, WRITE_BYTES);
  uint64_t i = 0;
  while (!atomic_load(&c->quit)) {
    if (!atomic_load(&c->run)) {
      usleep(200);
      continue;
    }
    atomic_store(&c->syncing, 1);
    off_t off = (off_t)((i % (WRITER_FILE_BYTES / WRITE_BYTES)) * WRITE_BYTES);
    if (pwrite(fd, block, WRITE_BYTES, off) != (ssize_t)WRITE_BYTES) die("pwrite");
    if (fdatasync(fd) != 0) die("fdatasync");
    atomic_store(&c->syncing, 0);
    atomic_store(&c->commits, ++i);
  }
  free(block);
  close(fd);
  return NULL;
}

/* A file of n bytes: random (the reader's source) or zeros (the committer's). */
static void make_file(const char *path, uint64_t n, int random) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) die(path);
  size_t len = 1u << 20;
  uint8_t *buf = calloc(1, len);
  if (!buf) die("calloc");
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (uint64_t off = 0; off < n; off += len) {
    if (random)
      for (size_t j = 0; j < len; j += 8) {
        x = mix64(x);
        memcpy(buf + j, &x, 8);
      }
    size_t w = n - off < len ? (size_t)(n - off) : len;
    if (pwrite(fd, buf, w, (off_t)off) != (ssize_t)w) die("pwrite");
  }
  if (fsync(fd) != 0) die("fsync");
  close(fd);
  free(buf);
}

static void drop_cache(const char *path) {
  if (drop_file_cache(path) != 0) die(path);
}

/* Streams path under schedule s (c: the committer, for pacing); seconds. */
static double read_all(const char *path, const schedule *s, committer *c, uint8_t *buf, int *direct_ok) {
  int fd = -1;
  if (s->direct) {
    fd = open(path, O_RDONLY | O_CLOEXEC | O_DIRECT);
    if (fd < 0 && errno != EINVAL) die(path);
    *direct_ok = fd >= 0;
  }
  if (fd < 0 && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) die(path);
  double t0 = now_s();
  for (uint64_t off = 0;;) {
    if (s->paced) {
      double w0 = now_s();
      while (atomic_load(&c->syncing) && atomic_load(&c->run) && now_s() - w0 < PACE_MAX_S) {}
    }
    ssize_t n = pread(fd, buf, s->chunk, (off_t)off);
    if (n < 0) die("pread");
    if (n == 0) break;
    off += (uint64_t)n;
  }
  double secs = now_s() - t0;
  close(fd);
  return secs;
}

typedef struct tally {
  double read_alone, read_loaded;   /* seconds, summed over rounds */
  double wr_alone_secs, wr_loaded_secs;
  uint64_t wr_alone, wr_loaded;     /* commits */
  int direct_ok;
} tally;

static uint64_t commits_during(committer *c, double *secs, double len, const char *src, const schedule *s,
                               uint8_t *buf, int *direct_ok) {
  uint64_t c0 = atomic_load(&c->commits);
  double t0 = now_s();
  if (src) {
    *secs = read_all(src, s, c, buf, direct_ok);
  } else {
    usleep((useconds_t)(len * 1e6));
  }
  uint64_t n = atomic_load(&c->commits) - c0;
  double t = now_s() - t0;
  if (!src) *secs = t;
  return n;
}

int main(void) {
  const char *rounds_s = getenv("BENCH_ROUNDS");
  const char *mib_s = getenv("BENCH_DISK_MIB");
  int rounds = rounds_s && *rounds_s ? atoi(rounds_s) : 8;
  uint64_t mib = mib_s && *mib_s ? strtoull(mib_s, NULL, 10) : 128;
  if (rounds <= 0 || mib == 0) { fprintf(stderr, "bench: bad BENCH_ROUNDS or BENCH_DISK_MIB\n"); return 2; }
  if (bench_make_root("ese-disk-bench") != 0) return 2;
  uint8_t *buf = aligned_alloc(4096, 1u << 20);
  if (!buf) die("aligned_alloc");

  char src[4400];
  static committer c;
  join(src, sizeof src, g_root, "source.bin");
  join(c.path, sizeof c.path, g_root, "committer.log");
  make_file(src, mib << 20, 1);
  make_file(c.path, WRITER_FILE_BYTES, 0);
  if (pthread_create(&c.tid, NULL, committer_main, &c) != 0) die("pthread_create");

  printf("disk frontier (no engine): a %" PRIu64 " MiB cold file read with one read in flight, and a\n"
         "committer overwriting 4 KiB + fdatasync without pause; %d interleaved rounds\n\n", mib, rounds);
  static tally t[NSCHED];
  for (int round = 0; round < rounds; round++)
    for (size_t j = 0; j < NSCHED; j++) {
      size_t k = (round + j) % NSCHED;
      const schedule *s = &schedules[k];
      /* alone before loaded on even rounds, after on odd ones: the
       * host's cache of the source favours whichever read comes second */
      for (int half = 0; half < 2; half++) {
        double secs;
        drop_cache(src);
        if ((half == 0) == (round % 2 == 0)) {
          atomic_store(&c.run, 0);
          double len = read_all(src, s, &c, buf, &t[k].direct_ok);
          t[k].read_alone += len;
          atomic_store(&c.run, 1);
          usleep(20000);
          t[k].wr_alone += commits_during(&c, &secs, len, NULL, s, buf, &t[k].direct_ok);
          t[k].wr_alone_secs += secs;
        } else {
          atomic_store(&c.run, 1);
          usleep(20000);
          t[k].wr_loaded += commits_during(&c, &secs, 0, src, s, buf, &t[k].direct_ok);
          t[k].wr_loaded_secs += secs;
          t[k].read_loaded += secs;
        }
      }
      atomic_store(&c.run, 0);
    }
  atomic_store(&c.quit, 1);
  pthread_join(c.tid, NULL);

  printf("  %-46s %9s %9s %7s %9s %9s %7s\n", "reader schedule", "alone", "loaded", "reader", "commits", "loaded",
         "writer");
  printf("  %-46s %9s %9s %7s %9s %9s %7s\n", "", "MiB/s", "MiB/s", "ratio", "alone/s", "/s", "ratio");
  double best = 0;
  const char *best_name = "";
  for (size_t k = 0; k < NSCHED; k++) {
    double bytes = (double)(mib << 20) * rounds;
    double ra = t[k].read_alone, rl = t[k].read_loaded;
    double wa = t[k].wr_alone / t[k].wr_alone_secs, wl = t[k].wr_loaded / t[k].wr_loaded_secs;
    double rr = ra / rl, wr = wa > 0 ? wl / wa : 0;
    printf("  %-46s %9.0f %9.0f %7.2f %9.0f %9.0f %7.2f%s\n", schedules[k].name, bytes / ra / (1 << 20),
           bytes / rl / (1 << 20), rr, wa, wl, wr,
           schedules[k].direct && !t[k].direct_ok ? "  (no O_DIRECT here: buffered)" : "");
    double m = rr < wr ? rr : wr;
    if (m > best) { best = m; best_name = schedules[k].name; }
  }
  printf("\n  best schedule for both (the lower of its two ratios): %.2f (%s)\n", best, best_name);
  printf("  both >= 0.80 (what the under-load targets need) %s on this disk\n", best >= 0.8 ? "reachable" : "NOT reachable");
  free(buf);
  bench_remove_root();
  return 0;
}
