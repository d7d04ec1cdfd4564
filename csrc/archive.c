/*
 * archive.c -- the log archive's thread (archive.h: states, invariants,
 * locks).  A generation is shipped by one of two means:
 *
 * Folder (archive_path): copied to NAME.part in the folder (made anew),
 * fsynced, renamed to NAME, the folder fsynced.  A NAME already there with
 * the same bytes counts as shipped (a ship that a crash or a stop cut after
 * the rename); with other bytes it is an error, retried and reported, and
 * the file is never overwritten.  When that file is a generation of this
 * very log stream (its signature, its number) it is another timeline's: a
 * point-in-time restore continued the stream from an earlier point, and
 * the archive holds the old timeline's files of the numbers the new one
 * writes.  Both stay (the old timeline's restore points must still
 * restore; the new generations stay pinned in the log folder), and
 * last_error names JET_errArchiveTimelineConflict and says to point
 * archive_path at a new folder; init says so already when the folder holds
 * a generation of the stream at or above the log's current one.  After a
 * restore (B.arc holds the restore's mark, or a number ahead of the log)
 * nothing ships at all into a folder that holds any file of this stream:
 * the instance the logs came from may still run and archive there the
 * generation this one writes next under the same number, which the bytes
 * cannot show before both exist (a fork); a folder without any is a new
 * one, recorded in B.arc at once, and takes every generation.
 *
 * Command (archive_command): run as command.h runs a user's command (the
 * ONE place lua-ese starts a process, only when configured), with %p the
 * log file's absolute path and %f its name; exit status 0 = shipped; past
 * archive_command_timeout it is killed and counts as a failure.
 *
 * A failure is retried with exponential backoff: 1 s (or archive_retry_max
 * when smaller), doubling, capped at archive_retry_max.
 */
#include "archive.h"
#include "command.h"
#include "crc32c.h"
#include "os.h"
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ARC_SIZE 32u
#define COPY_CHUNK (1u << 20)
static const char ARC_MAGIC[8] = { 'E', 'S', 'E', 'A', 'R', 'C', 0, 1 };

typedef enum { ARC_IDLE, ARC_SHIPPING, ARC_ROLLING, ARC_STOPPED } arc_state;

struct esarchive {
  archive_config cfg;         /* strings owned (copies) */
  esio *io;                   /* the thread's own (and start's) */
  log_sig sig;                /* the stream's */
  char *arc_path;             /* <system_path>/<base>.arc */
  esfile *lock;               /* the thread's: archive_path's <base>.lck, when init did not hold it */
  pthread_t thread;
  int started;
  _Atomic uint64_t stop_at;   /* monotonic µs after which a ship in progress gives up; 0: no stop */

  pthread_mutex_t mu;         /* guards the fields below */
  pthread_cond_t cv;          /* closed rose, or stop */
  arc_state state;
  int stop;
  uint32_t next;              /* the first generation not shipped */
  uint32_t shipped;           /* the highest shipped (0: none yet) */
  uint32_t closed;            /* the highest closed generation */
  uint64_t retry_at;          /* monotonic µs: no ship attempt before */
  uint32_t delay_ms;          /* the current backoff */
  uint32_t failures;
  int hold;                   /* ships nothing (archive.h): set before the thread starts */
  _Atomic int backlogged;
  char last_error[512];
};

/* The only place the state changes (mu held). */
static void arc_move(esarchive *a, arc_state to) {
  static const unsigned legal_from[] = {
    [ARC_IDLE] = 1u << ARC_SHIPPING | 1u << ARC_ROLLING,
    [ARC_SHIPPING] = 1u << ARC_IDLE,
    [ARC_ROLLING] = 1u << ARC_IDLE,
    [ARC_STOPPED] = 1u << ARC_IDLE,
  };
  assert((legal_from[to] & (1u << a->state)) && "illegal archiver state move");
  a->state = to;
}

static void set_error(esarchive *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->last_error, sizeof a->last_error, fmt, ap);
  va_end(ap);
}

/* mu held. */
static uint32_t pending(const esarchive *a) { return a->closed >= a->next ? a->closed + 1 - a->next : 0; }
static void update_backlog(esarchive *a) {
  uint64_t bytes = (uint64_t)pending(a) * a->cfg.file_size;
  atomic_store(&a->backlogged, a->cfg.max_backlog && bytes > a->cfg.max_backlog);
}

static int stopping(esarchive *a) {
  uint64_t at = atomic_load(&a->stop_at);
  return at && os_mono_us() >= at;
}

/* ---- small files beside the checkpoint: <base>.arc, <base>.tl ----------
 * u32 CRC32C of bytes 4..size, an 8-byte magic, then the body; written
 * whole through a temporary file (os_write_file_atomic). */

/* <base><ext> in folder dir: a new string, or NULL. */
static char *sys_name(const char *dir, const char *base, const char *ext) {
  char name[16];
  snprintf(name, sizeof name, "%s%s", base, ext);
  return os_join(dir, name);
}

/* b[size]: its body from byte 12 filled in by the caller. */
static JET_ERR small_write(esio *io, const char *path, const char magic[8], uint8_t *b, size_t size) {
  memcpy(b + 4, magic, 8);
  uint32_t c = crc32c(0, b + 4, size - 4);
  memcpy(b, &c, 4);
  return os_write_file_atomic(io, path, b, size);
}

/* The file at path into out[size], its size, magic and CRC checked:
 * JET_errSuccess, JET_errFileNotFound, JET_errLogFileCorrupt (another
 * size, magic or CRC: damaged), or the read's error. */
static JET_ERR small_read(esio *io, const char *path, const char magic[8], uint8_t *out, size_t size) {
  uint8_t *b = NULL;
  size_t got = 0;
  uint32_t c;
  JET_ERR e = os_read_head(io, path, size + 1, &b, &got, NULL);
  if (e == JET_errSuccess &&
      (got != size || memcmp(b + 4, magic, 8) != 0 || (memcpy(&c, b, 4), c != crc32c(0, b + 4, size - 4))))
    e = JET_errLogFileCorrupt;
  if (e == JET_errSuccess) memcpy(out, b, size);
  free(b);
  return e;
}

/* <base>.arc: the magic "ESEARC\0\1", u8[16] the log stream's
 * signature, u32 the first generation not shipped. */
static JET_ERR arc_write_at(esio *io, const char *path, const log_sig *sig, uint32_t next) {
  uint8_t b[ARC_SIZE] = { 0 };
  memcpy(b + 12, sig->b, 16);
  memcpy(b + 28, &next, 4);
  return small_write(io, path, ARC_MAGIC, b, ARC_SIZE);
}

static JET_ERR arc_write(esarchive *a, uint32_t next) { return arc_write_at(a->io, a->arc_path, &a->sig, next); }

JET_ERR archive_mark(esio *io, const char *system_path, const char *base, const log_sig *sig, uint32_t next) {
  char *p = sys_name(system_path, base, ".arc");
  JET_ERR e = p ? arc_write_at(io, p, sig, next) : JET_errOutOfMemory;
  free(p);
  return e;
}

/* <base>.tl (archive.h): the magic "ESETL\0\0\1", then its fields. */
static const char TL_MAGIC[8] = { 'E', 'S', 'E', 'T', 'L', 0, 0, 1 };

JET_ERR timeline_write(esio *io, const char *system_path, const char *base, const log_sig *sig,
                       const uint8_t *parent, uint32_t fork_gen) {
  uint8_t b[TL_SIZE] = { 0 };
  os_random(b + 12, 16);
  if (parent) memcpy(b + 28, parent, 16);
  memcpy(b + 44, sig->b, 16);
  memcpy(b + 60, &fork_gen, 4);
  char *p = sys_name(system_path, base, ".tl");
  JET_ERR e = p ? small_write(io, p, TL_MAGIC, b, TL_SIZE) : JET_errOutOfMemory;
  free(p);
  return e;
}

JET_ERR timeline_read(esio *io, const char *system_path, const char *base, const log_sig *sig, uint8_t id[16],
                      uint8_t parent[16], int *has) {
  *has = 0;
  char *p = sys_name(system_path, base, ".tl");
  if (!p) return JET_errOutOfMemory;
  uint8_t b[TL_SIZE];
  int kind = os_kind(p);
  JET_ERR e = kind == OS_ABSENT ? JET_errFileNotFound
              : kind != OS_FILE  ? JET_errLogFileCorrupt   /* a link or a folder: never followed */
                                 : small_read(io, p, TL_MAGIC, b, TL_SIZE);
  free(p);
  if (e == JET_errFileNotFound) return JET_errSuccess;   /* the stream's root timeline */
  if (e == JET_errSuccess && memcmp(b + 44, sig->b, 16) == 0) {
    memcpy(id, b + 12, 16);
    memcpy(parent, b + 28, 16);
    *has = 1;
  }
  return e;
}

/* The stored next generation of this stream, or 0 (none, another
 * stream's, or damaged or unreadable: *damaged set).  A damaged file may have held a
 * restore's mark (ARC_MARK_RESTORED): archive_start treats it as one. */
static uint32_t arc_read(esarchive *a, int *damaged) {
  uint8_t b[ARC_SIZE];
  uint32_t next = 0;
  JET_ERR e = small_read(a->io, a->arc_path, ARC_MAGIC, b, ARC_SIZE);
  if (e == JET_errSuccess) {
    if (memcmp(b + 12, a->sig.b, 16) == 0) memcpy(&next, b + 28, 4);
  } else if (e != JET_errFileNotFound) {
    *damaged = 1;   /* damaged, or there but unreadable (a folder, an I/O error): what it holds is unknown */
  }
  return next;
}

/* ---- shipping to a folder ------------------------------------------------- */

#define TIMELINE_ADVICE                                                                                      \
  "(another timeline: this log stream was continued from an earlier point, by a point-in-time restore or a " \
  "copy of an older state); the archive keeps the old timeline's files, never overwritten, and the new "    \
  "generations wait in the log folder: point archive_path at a new folder (and take a full backup) to "     \
  "archive the new timeline, and keep this folder for the old one's restore points"

/* 1 when the file at path is generation g of this log stream (a timeline
 * of it: the same signature and number). */
static int of_stream(esarchive *a, const char *path, uint32_t g) {
  log_header h;
  if (log_read_header(a->io, path, &h)) return 0;
  int same = h.gen == g && memcmp(h.sig.b, a->sig.b, sizeof h.sig.b) == 0;
  log_header_clear(&h);
  return same;
}

/* Whether the archive folder holds a file of this log stream (its lowest
 * or highest generation there): 1 with its path in *held, 0 (absent,
 * empty, or another stream's files), or -1 when it cannot be listed
 * (*err). */
static int stream_file(esarchive *a, char **held, JET_ERR *err) {
  uint32_t lo = 0, hi = 0;
  *held = NULL;
  if (os_kind(a->cfg.path) == OS_ABSENT) return 0;
  if ((*err = log_scan_dir(a->cfg.path, a->cfg.base, &lo, &hi, NULL)) != JET_errSuccess) return -1;
  for (int i = 0; hi && i < 2; i++) {
    uint32_t g = i ? hi : lo;
    char *p = log_file_name(a->cfg.path, a->cfg.base, g);
    if (!p) { *err = JET_errOutOfMemory; return -1; }
    if (of_stream(a, p, g)) { *held = p; return 1; }
    free(p);
  }
  return 0;
}

/* Says JET_errArchiveTimelineConflict in last_error when the archive folder
 * already holds a generation of this stream at or above gen, the log's
 * current one (mu not needed: before the thread starts). */
static void timeline_probe(esarchive *a, uint32_t gen) {
  uint32_t hi = 0;
  if (!a->cfg.path || log_scan_dir(a->cfg.path, a->cfg.base, NULL, &hi, NULL) || hi < gen) return;
  char *p = log_file_name(a->cfg.path, a->cfg.base, hi);
  if (p && of_stream(a, p, hi))
    set_error(a, "%s: %s is generation %u of this log stream, which is at generation %u " TIMELINE_ADVICE,
              EseErrorName(JET_errArchiveTimelineConflict), p, hi, gen);
  free(p);
}

/* 1 when the files a and b hold the same bytes. */
static JET_ERR same_bytes(esfile *x, esfile *y, int *same) {
  uint64_t nx, ny;
  JET_ERR e = os_size(x, &nx);
  if (!e) e = os_size(y, &ny);
  *same = 0;
  if (e || nx != ny) return e;
  uint8_t *bx = malloc(COPY_CHUNK), *by = malloc(COPY_CHUNK);
  if (!bx || !by) e = JET_errOutOfMemory;
  *same = 1;
  for (uint64_t off = 0; !e && *same && off < nx; off += COPY_CHUNK) {
    size_t n = nx - off < COPY_CHUNK ? (size_t)(nx - off) : COPY_CHUNK;
    if (!(e = os_pread_full(x, bx, n, off)) && !(e = os_pread_full(y, by, n, off))) *same = memcmp(bx, by, n) == 0;
  }
  free(bx);
  free(by);
  return e;
}

/* A copy being shipped: src's size bytes through buf. */
typedef struct shipment {
  esarchive *a;
  esfile *src;
  uint64_t size;
  uint8_t *buf;
  int stopped;            /* a stop came before the copy was whole */
} shipment;

/* src into f, chunk by chunk (os_write_atomic's fill); a stop asked
 * meanwhile ends it with an error, so nothing is synced or renamed. */
static JET_ERR ship_fill(void *ud, esfile *f) {
  shipment *s = ud;
  JET_ERR e = JET_errSuccess;
  for (uint64_t off = 0; !e && off < s->size; off += COPY_CHUNK) {
    if (stopping(s->a)) {
      s->stopped = 1;
      return JET_errTermInProgress;
    }
    size_t k = s->size - off < COPY_CHUNK ? (size_t)(s->size - off) : COPY_CHUNK;
    if (!(e = os_pread_full(s->src, s->buf, k, off))) e = os_pwrite(f, s->buf, k, off);
  }
  return e;
}

/* The folder's <base>.lck held (by init, or now by the thread): 0, else
 * the reason in msg. */
static JET_ERR arc_lock(esarchive *a, char *msg, size_t cap) {
  if (a->cfg.locked || a->lock) return JET_errSuccess;
  char *path;
  JET_ERR e = os_lock_folder(a->io, a->cfg.path, a->cfg.base, &a->lock, &path);
  if (e == JET_errFileAccessDenied)
    snprintf(msg, cap, "the lock file %s of archive_path is held by another instance or process: nothing is shipped "
             "there until it is free", path);
  else if (e == JET_errInvalidPath)
    snprintf(msg, cap, "the lock file %s of archive_path is a symbolic link or not a regular file: nothing is "
             "shipped there until it is a file", path);
  else if (e)
    snprintf(msg, cap, "the lock file %s of archive_path cannot be opened (%s): nothing is shipped there until it "
             "can", path ? path : a->cfg.path, EseErrorName(e));
  free(path);
  return e;
}

/* 0 shipped, 1 failed (msg), 2 stopped.  NAME.part is written, then
 * renamed (os_write_atomic); a failure or a stop removes it. */
static int ship_folder(esarchive *a, uint32_t g, const char *src_path, const char *name, char *msg, size_t cap) {
  const char *dir = a->cfg.path;
  char *dst = os_join(dir, name), *tmp = NULL;
  esfile *src = NULL, *old = NULL;
  uint8_t *buf = NULL;
  int r = 1;
  JET_ERR e = dst ? os_mkdir_p(dir, 0700) : JET_errOutOfMemory;
  if (e) { snprintf(msg, cap, "archive_path %s is not a folder that can be made (%s)", dir, EseErrorName(e)); goto out; }
  if (arc_lock(a, msg, cap)) goto out;
  if ((e = os_open(a->io, src_path, OS_READ, &src))) { snprintf(msg, cap, "cannot read %s (%s)", src_path, EseErrorName(e)); goto out; }
  int kind = os_kind(dst);
  if (kind != OS_ABSENT) {
    int same = 0;
    e = kind == OS_FILE ? os_open(a->io, dst, OS_READ | OS_NOFOLLOW, &old) : JET_errInvalidPath;
    if (!e) e = same_bytes(src, old, &same);
    if (!e && same) r = 0;
    else if (!e && of_stream(a, dst, g))
      snprintf(msg, cap, "%s: %s holds generation %u of this log stream with other bytes than %s " TIMELINE_ADVICE,
               EseErrorName(JET_errArchiveTimelineConflict), dst, g, src_path);
    else snprintf(msg, cap, "%s exists with other content than %s: never overwritten (move it away)", dst, src_path);
    goto out;
  }
  size_t n = strlen(dst);
  if (!(tmp = malloc(n + 6)) || !(buf = malloc(COPY_CHUNK))) { snprintf(msg, cap, "out of memory"); goto out; }
  memcpy(tmp, dst, n);
  memcpy(tmp + n, ".part", 6);
  shipment s = { a, src, 0, buf, 0 };
  if (!(e = os_size(src, &s.size))) e = os_write_atomic(a->io, tmp, dst, ship_fill, &s, 1);
  r = s.stopped ? 2 : e ? 1 : 0;
  if (r == 1) snprintf(msg, cap, "copying %s to %s failed (%s)", src_path, dst, EseErrorName(e));
out:
  os_close(src);
  os_close(old);
  free(buf);
  free(tmp);
  free(dst);
  return r;
}

/* ---- shipping through a command -------------------------------------------- */

static int arc_stop_cb(void *ud) { return stopping(ud); }

/* 0 shipped, 1 failed (msg), 2 stopped. */
static int ship_command(esarchive *a, const char *src_path, const char *name, char *msg, size_t cap) {
  command_run c = { .templ = a->cfg.command, .path = src_path, .file = name, .what = "archive_command",
                    .timeout_s = a->cfg.command_timeout_s, .timeout_name = "archive_command_timeout",
                    .stop = arc_stop_cb, .ud = a };
  return command_exec(&c, msg, cap);
}

/* ---- the thread ------------------------------------------------------------ */

/* Ships generation g: 0 shipped (and recorded in .arc), 1 failed (msg), 2
 * stopped. */
static int ship(esarchive *a, uint32_t g, char *msg, size_t cap) {
  char *src = log_file_name(a->cfg.log_dir, a->cfg.base, g);
  if (!src) { snprintf(msg, cap, "out of memory"); return 1; }
  const char *name = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
  int r;
  if (!os_exists(src)) {
    snprintf(msg, cap, "%s is missing from the log folder: it cannot be archived", src);
    r = 1;
  } else {
    r = a->cfg.path ? ship_folder(a, g, src, name, msg, cap) : ship_command(a, src, name, msg, cap);
  }
  JET_ERR e = r == 0 ? arc_write(a, g + 1) : JET_errSuccess;
  if (e) {
    snprintf(msg, cap, "%s shipped, but recording it in %s failed (%s)", name, a->arc_path, EseErrorName(e));
    r = 1;
  }
  free(src);
  return r;
}

static void after_failure(esarchive *a) {
  uint32_t cap = a->cfg.retry_max_ms ? a->cfg.retry_max_ms : 1;
  a->delay_ms = a->delay_ms ? (a->delay_ms > cap / 2 ? cap : a->delay_ms * 2) : (cap < 1000 ? cap : 1000);
  a->retry_at = os_mono_us() + (uint64_t)a->delay_ms * 1000u;
  a->failures++;
}

static void wait_until(esarchive *a, uint64_t until_us) {
  if (until_us <= os_mono_us()) return;
  struct timespec ts = { (time_t)(until_us / 1000000u), (long)(until_us % 1000000u) * 1000 };   /* cv's clock */
  (void)pthread_cond_timedwait(&a->cv, &a->mu, &ts);
}

/* A closed generation waits to ship (mu held). */
static int due(const esarchive *a) { return !a->hold && a->next <= a->closed; }

static void *arc_main(void *ud) {
  esarchive *a = ud;
  os_block_signals();   /* the application's threads take its signals */
  uint64_t roll_retry_at = 0;
  uint64_t timeout_us = (uint64_t)a->cfg.timeout_s * 1000000u;
  /* the archive_timeout clock is polled (a first record sets no signal) */
  uint64_t poll_us = timeout_us / 4 < 1000000u ? timeout_us / 4 : 1000000u;
  pthread_mutex_lock(&a->mu);
  while (!a->stop) {
    if (due(a) && os_mono_us() >= a->retry_at) {
      uint32_t g = a->next;
      arc_move(a, ARC_SHIPPING);
      pthread_mutex_unlock(&a->mu);
      char msg[sizeof a->last_error];
      msg[0] = 0;
      int r = ship(a, g, msg, sizeof msg);
      pthread_mutex_lock(&a->mu);
      arc_move(a, ARC_IDLE);
      if (r == 0) {
        a->next = g + 1;
        a->shipped = g;
        a->failures = 0;
        a->delay_ms = 0;
        a->retry_at = 0;
      } else if (r == 1) {
        set_error(a, "%s", msg);
        after_failure(a);
      }
      update_backlog(a);
      continue;
    }
    pthread_mutex_unlock(&a->mu);
    os_hold_point(a->io, "archive-wait");
    uint64_t first = timeout_us ? log_first_record_us(a->cfg.log) : 0, now = os_mono_us();
    pthread_mutex_lock(&a->mu);
    if (a->stop) break;   /* raised while the mutex was let go: its broadcast is gone, do not wait */
    if (first && now >= first + timeout_us && now >= roll_retry_at && !a->stop) {
      arc_move(a, ARC_ROLLING);
      pthread_mutex_unlock(&a->mu);
      JET_ERR e = a->cfg.roll(a->cfg.ud);   /* takes the instance lock; the roll hook raises closed */
      pthread_mutex_lock(&a->mu);
      arc_move(a, ARC_IDLE);
      if (e) {
        if (e != JET_errTermInProgress) set_error(a, "the archive_timeout roll failed (%s)", EseErrorName(e));
        roll_retry_at = os_mono_us() + 1000000u;
      } else if (log_first_record_us(a->cfg.log) == first) {
        roll_retry_at = os_mono_us() + poll_us;   /* another roll runs (the cut-off's) and closes it: look again later */
      }
      continue;
    }
    if (due(a) && os_mono_us() >= a->retry_at) continue;   /* raised meanwhile */
    uint64_t until = UINT64_MAX;
    if (due(a)) until = a->retry_at;
    if (timeout_us) {
      uint64_t t = first ? (first + timeout_us > roll_retry_at ? first + timeout_us : roll_retry_at) : now + poll_us;
      if (t < until) until = t;
    }
    if (until == UINT64_MAX) pthread_cond_wait(&a->cv, &a->mu);
    else wait_until(a, until);
  }
  arc_move(a, ARC_STOPPED);
  pthread_mutex_unlock(&a->mu);
  return NULL;
}

/* The log's roll hook (with the roller's instance lock held). */
static void arc_closed(void *ud, uint32_t g) {
  esarchive *a = ud;
  pthread_mutex_lock(&a->mu);
  if (g > a->closed) a->closed = g;
  update_backlog(a);
  pthread_cond_broadcast(&a->cv);
  pthread_mutex_unlock(&a->mu);
}

/* ---- the interface ---------------------------------------------------------- */

static char *dup_or_null(const char *s, int *oom) {
  if (!s) return NULL;
  char *d = strdup(s);
  if (!d) *oom = 1;
  return d;
}

void archive_free(esarchive *a) {
  if (!a) return;
  assert(!a->started || a->state == ARC_STOPPED);
  free((char *)a->cfg.log_dir);
  free((char *)a->cfg.base);
  free((char *)a->cfg.system_path);
  free((char *)a->cfg.path);
  free((char *)a->cfg.command);
  free(a->arc_path);
  os_close(a->lock);
  if (a->io) esio_free(a->io);
  pthread_cond_destroy(&a->cv);
  pthread_mutex_destroy(&a->mu);
  free(a);
}

JET_ERR archive_start(const archive_config *cfg, esarchive **out) {
  *out = NULL;
  if (!cfg->log || !cfg->roll || (!cfg->path) == (!cfg->command)) return JET_errInvalidParameter;
  esarchive *a = calloc(1, sizeof *a);
  if (!a) return JET_errOutOfMemory;
  pthread_condattr_t ca;
  int ok = pthread_mutex_init(&a->mu, NULL) == 0;
  if (ok && pthread_condattr_init(&ca) == 0) {
    ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&a->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
  } else if (ok) {
    pthread_mutex_destroy(&a->mu);
    ok = 0;
  }
  if (!ok) { free(a); return JET_errOutOfMemory; }
  a->cfg = *cfg;
  int oom = 0;
  a->cfg.log_dir = dup_or_null(cfg->log_dir, &oom);
  a->cfg.base = dup_or_null(cfg->base, &oom);
  a->cfg.system_path = dup_or_null(cfg->system_path, &oom);
  a->cfg.path = dup_or_null(cfg->path, &oom);
  a->cfg.command = dup_or_null(cfg->command, &oom);
  a->arc_path = sys_name(cfg->system_path, cfg->base, ".arc");
  JET_ERR e = oom || !a->arc_path ? JET_errOutOfMemory : esio_new(&a->io);
  uint32_t lo = 0, hi = 0;
  int cur = 0;
  if (!e) e = log_scan_dir(cfg->log_dir, cfg->base, &lo, &hi, &cur);
  if (e) { archive_free(a); return e; }
  a->sig = *log_signature(cfg->log);
  uint32_t gen = log_generation(cfg->log);
  a->closed = gen - 1;
  int damaged = 0;
  uint32_t stored = arc_read(a, &damaged), first = lo ? lo : gen;
  a->next = stored ? stored : first;
  if (stored) a->shipped = stored - 1;
  if (stored && stored < first) {
    set_error(a, "generations %u to %u were removed from the log folder before they were archived (a gap in the archive)",
              stored, first - 1);
    a->next = first;
  } else if (stored > gen || damaged) {
    /* the stream went back (a restore): the generations in the log folder
     * may be the new timeline's (the cut one of a point in time), not what
     * was shipped under their numbers, and the next ones surely are: only
     * a new folder (or a new command destination) takes them, all */
    a->next = first;
    a->shipped = 0;
    char why[128], *held = NULL;   /* a restore's mark (ARC_MARK_RESTORED), or a number ahead */
    int found = 0;
    JET_ERR le = JET_errSuccess;
    if (damaged)   /* hostile18r: it may have held a restore's mark; a new folder rewrites it */
      snprintf(why, sizeof why, "is damaged or unreadable (it may have held a restore's mark: remove it if this "
               "folder was never restored)");
    else if (stored == ARC_MARK_RESTORED)
      snprintf(why, sizeof why, "was left by a restore (a new timeline of the log stream)");
    else snprintf(why, sizeof why, "is ahead of the log (generation %u, the log is at %u)", stored, gen);
    if (cfg->command) {   /* no way to see what the destination holds: ship nothing */
      a->hold = 1;
      a->failures = 1;
      set_error(a, "%s: %s %s: the log stream went back "
                "(a restore), and archive_command's destination may hold the old timeline's "
                "files of these numbers, which a command could overwrite; nothing ships: point archive_command at "
                "a new destination and remove %s (every generation in the log folder then ships there)",
                EseErrorName(JET_errArchiveTimelineConflict), a->arc_path, why, a->arc_path);
    } else if ((found = stream_file(a, &held, &le)) != 0) {
      /* the folder holds this stream's files: the old timeline's (or the
       * original instance's, which may still run and archive the
       * generation the restored stream writes next under the same number:
       * a fork that the bytes alone cannot show before both exist) */
      a->hold = 1;
      a->failures = 1;
      /* what to do first, then the paths (hostile18r: last_error holds
       * 512 bytes, and two long paths before the advice left none of it) */
      const char *leaf = found > 0 ? strrchr(held, '/') : NULL;
      if (found > 0)
        set_error(a, "%s: nothing ships there: point archive_path at a new folder (and take a full backup) to "
                  "archive this new timeline of the log stream; the folder holds its %s, the old timeline's (or a "
                  "running original's), kept for their restore points, never overwritten; %s %s",
                  EseErrorName(JET_errArchiveTimelineConflict), leaf ? leaf + 1 : held, a->arc_path, why);
      else
        set_error(a, "%s: %s %s and the archive folder %s cannot be listed (%s): whether it holds this log "
                  "stream's files is unknown, nothing ships (init again once it can be read)",
                  EseErrorName(JET_errArchiveTimelineConflict), a->arc_path, why, a->cfg.path, EseErrorName(le));
    } else {
      /* a new folder for this timeline: recorded at once, so that a crash
       * after its first file never finds this stream's file there beside
       * the mark and takes the folder for the old timeline's */
      JET_ERR we = arc_write(a, first);
      if (we) set_error(a, "%s %s, and recording a new archive folder in it failed (%s): every generation in the "
                        "log folder ships", a->arc_path, why, EseErrorName(we));
    }
    free(held);
  }
  if (!a->hold) timeline_probe(a, gen);
  update_backlog(a);
  log_set_roll_hook(cfg->log, arc_closed, a);
  if (pthread_create(&a->thread, NULL, arc_main, a) != 0) {
    log_set_roll_hook(cfg->log, NULL, NULL);
    archive_free(a);
    return JET_errOutOfMemory;
  }
  a->started = 1;
  *out = a;
  return JET_errSuccess;
}

void archive_stop(esarchive *a, uint32_t grace_ms) {
  if (!a || !a->started) return;
  log_set_roll_hook(a->cfg.log, NULL, NULL);
  atomic_store(&a->stop_at, os_mono_us() + (uint64_t)grace_ms * 1000u);
  pthread_mutex_lock(&a->mu);
  a->stop = 1;
  pthread_cond_broadcast(&a->cv);
  pthread_mutex_unlock(&a->mu);
  pthread_join(a->thread, NULL);
  a->started = 0;
}

uint32_t archive_pin(esarchive *a) {
  pthread_mutex_lock(&a->mu);
  uint32_t g = a->next;
  pthread_mutex_unlock(&a->mu);
  return g;
}

int archive_backlogged(esarchive *a) { return atomic_load(&a->backlogged); }

void archive_get_status(esarchive *a, archive_status *st) {
  pthread_mutex_lock(&a->mu);
  st->shipped = a->shipped;
  st->pending = pending(a);
  st->pending_bytes = (uint64_t)st->pending * a->cfg.file_size;
  st->backlogged = atomic_load(&a->backlogged);
  st->failures = a->failures;
  snprintf(st->last_error, sizeof st->last_error, "%s", a->last_error);
  pthread_mutex_unlock(&a->mu);
}
