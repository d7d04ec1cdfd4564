/* os.c -- POSIX files with checked results, locks and fault injection. */
#include "os.h"
#include "os_fault.h"
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { FAULT_NONE, FAULT_CRASH, FAULT_EIO, FAULT_ENOSPC, FAULT_SPACE, FAULT_EACCES, FAULT_TORN, FAULT_POWER, FAULT_SLOWSYNC, FAULT_SYNCEIO, FAULT_HOLDSYNC, FAULT_SWAP };
enum { TORN_HEAD, TORN_TAIL, TORN_GARBAGE };
/* ESE_FAULT=clockback:US:PATH: os_now_us is US µs behind while PATH exists
 * (process-wide, as the clock is: the first esio that names it sets it,
 * for the rest of the process). */
static _Atomic uint64_t clock_back_us;
static char *_Atomic clock_back_path;
/* ESE_FAULT=norenameat2:PATH: renameat2 RENAME_NOREPLACE fails with EINVAL
 * while PATH exists (a file system without it); process-wide as above. */
static char *_Atomic norenameat2_path;
/* What an event is (for ESE_FAULT_TRACE and torn:, which cuts writes only). */
enum { EV_WRITE, EV_SYNC, EV_TRUNCATE, EV_RENAME, EV_UNLINK, EV_SYNCDIR };
static const char *const ev_names[] = { "write", "sync", "truncate", "rename", "unlink", "syncdir" };
/* fault_event's answer for the torn write at event K (never an errno). */
#define FE_TORN (-1)

struct esio {
  atomic_uint_fast64_t events;  /* writes + syncs so far */
  int fault;                    /* FAULT_* */
  uint64_t fault_at;            /* the event number that faults */
  int sticky;                   /* every event from fault_at on faults */
  char *count_path;             /* ESE_FAULT_COUNT */
  char *fault_name;             /* the base name a fault names: FAULT_EACCES, os_open refuses it;
                                 * FAULT_SYNCEIO, its syncs fail; FAULT_HOLDSYNC, its syncs are held;
                                 * FAULT_SWAP, a rename of it moves fault_path's file */
  atomic_uint_fast64_t name_syncs;   /* FAULT_SYNCEIO: os_syncs of fault_name so far (fault_at: the first to fail) */
  atomic_uint_fast64_t space;   /* FAULT_SPACE: bytes files may still grow by */
  atomic_int open_files;        /* os_open successes not yet os_closed */
  uint64_t torn_cut;            /* FAULT_TORN: C, the bytes of the write at K that are new (head) */
  int torn_mode;                /* FAULT_TORN: TORN_* */
  power_journal *power;         /* FAULT_POWER: the old bytes of unsynced writes */
  int trace_fd;                 /* ESE_FAULT_TRACE, or -1 */
  uint64_t slow_ms;             /* FAULT_SLOWSYNC: the delay of a sync */
  int hold_eio;                 /* FAULT_HOLDSYNC: a held sync then fails with EIO */
  char *fault_path;             /* the fault holds only while this file exists: FAULT_SLOWSYNC (always
                                 * given), FAULT_SYNCEIO (optional: syncs counted while it exists),
                                 * FAULT_HOLDSYNC (a sync is held while it exists), FAULT_SWAP
                                 * (the file put in place of the renamed one) */
};

struct esfile {
  int fd;
  esio *io;
  char *path;
  dev_t dev;                    /* the inode, for the power journal */
  ino_t ino;
};

JET_ERR os_err(int e) {
  switch (e) {
  case ENOSPC: case EDQUOT: return JET_errDiskFull;
  case EACCES: case EPERM: case EROFS: return JET_errPermissionDenied;
  case ENOENT: case ENOTDIR: return JET_errFileNotFound;
  case EEXIST: return JET_errFileAlreadyExists;
  case ENAMETOOLONG: case ELOOP: return JET_errInvalidPath;
  case ENOMEM: return JET_errOutOfMemory;
  case EMFILE: case ENFILE: return JET_errOutOfFileHandles;
  case EWOULDBLOCK: return JET_errFileAccessDenied;
  default: return JET_errDiskIO;
  }
}

/* After "torn:" or "power:": "K:C[:head|tail|garbage]" or "K:S".  Anything
 * else is JET_errInvalidParameter (a test that misspells its fault must
 * not pass without it). */
static JET_ERR parse_torn_power(esio *io, int torn, const char *p) {
  char *end;
  errno = 0;
  io->fault_at = strtoull(p, &end, 10);
  if (errno || end == p || *end != ':' || io->fault_at == 0) return JET_errInvalidParameter;
  p = end + 1;
  uint64_t v = strtoull(p, &end, 10);
  if (errno || end == p) return JET_errInvalidParameter;
  if (!torn) {
    if (*end) return JET_errInvalidParameter;
    if (!(io->power = power_new(v))) return JET_errOutOfMemory;
    io->fault = FAULT_POWER;
    return JET_errSuccess;
  }
  io->torn_cut = v;
  io->torn_mode = TORN_HEAD;
  if (!strcmp(end, ":tail")) io->torn_mode = TORN_TAIL;
  else if (!strcmp(end, ":garbage")) io->torn_mode = TORN_GARBAGE;
  else if (*end && strcmp(end, ":head")) return JET_errInvalidParameter;
  io->fault = FAULT_TORN;
  return JET_errSuccess;
}

JET_ERR esio_new(esio **out) {
  esio *io = calloc(1, sizeof *io);
  if (!io) return JET_errOutOfMemory;
  const char *f = getenv("ESE_FAULT");
  if (f && *f) {
    const char *colon = strchr(f, ':');
    if (colon) {
      size_t n = (size_t)(colon - f);
      if (n == 5 && !strncmp(f, "crash", 5)) io->fault = FAULT_CRASH;
      else if (n == 3 && !strncmp(f, "eio", 3)) io->fault = FAULT_EIO;
      else if (n == 6 && !strncmp(f, "enospc", 6)) io->fault = FAULT_ENOSPC;
      else if (n == 5 && !strncmp(f, "space", 5)) io->fault = FAULT_SPACE;
      if ((n == 4 && !strncmp(f, "torn", 4)) || (n == 5 && !strncmp(f, "power", 5))) {
        JET_ERR e = parse_torn_power(io, n == 4, colon + 1);
        if (e) { free(io); return e; }
      } else if (n == 8 && !strncmp(f, "slowsync", 8)) {   /* slowsync:MS:PATH, no event count */
        char *end;
        io->slow_ms = strtoull(colon + 1, &end, 10);
        if (*end != ':' || !end[1] || io->slow_ms == 0 || io->slow_ms > 10000) { free(io); return JET_errInvalidParameter; }
        if (!(io->fault_path = strdup(end + 1))) { free(io); return JET_errOutOfMemory; }
        io->fault = FAULT_SLOWSYNC;
      } else if (n == 7 && !strncmp(f, "synceio", 7)) {   /* synceio:K:NAME, no event count */
        char *end;
        io->fault_at = strtoull(colon + 1, &end, 10);
        if (*end != ':' || !end[1] || io->fault_at == 0) { free(io); return JET_errInvalidParameter; }
        if (!(io->fault_name = strdup(end + 1))) { free(io); return JET_errOutOfMemory; }
        char *c2 = strchr(io->fault_name, ':');   /* synceio:K:NAME:PATH */
        if (c2 && !(io->fault_path = strdup(c2 + 1))) { free(io->fault_name); free(io); return JET_errOutOfMemory; }
        if (c2) *c2 = 0;
        io->fault = FAULT_SYNCEIO;
      } else if (n == 8 && !strncmp(f, "holdsync", 8)) {   /* holdsync:NAME:PATH[:eio], no event count */
        if (!(io->fault_name = strdup(colon + 1))) { free(io); return JET_errOutOfMemory; }
        char *c2 = strchr(io->fault_name, ':');
        if (!c2 || !c2[1] || c2 == io->fault_name) { free(io->fault_name); free(io); return JET_errInvalidParameter; }
        if (!(io->fault_path = strdup(c2 + 1))) { free(io->fault_name); free(io); return JET_errOutOfMemory; }
        *c2 = 0;
        size_t pl = strlen(io->fault_path);
        char *pw = strstr(io->fault_path, ":power:");
        if (pl > 4 && !strcmp(io->fault_path + pl - 4, ":eio")) {   /* holdsync:NAME:PATH:eio */
          io->fault_path[pl - 4] = 0;
          io->hold_eio = 1;
        } else if (pw) {   /* holdsync:NAME:PATH:power:S */
          char *end;
          errno = 0;
          uint64_t seed = strtoull(pw + 7, &end, 10);
          if (errno || end == pw + 7 || *end || pw == io->fault_path || !(io->power = power_new(seed))) {
            free(io->fault_name); free(io->fault_path); free(io);
            return JET_errInvalidParameter;
          }
          *pw = 0;
        }
        io->fault = FAULT_HOLDSYNC;
      } else if (n == 4 && !strncmp(f, "swap", 4)) {   /* swap:NAME:PATH, no event count */
        char *c2 = strchr(colon + 1, ':');
        if (!c2 || c2 == colon + 1 || !c2[1]) { free(io); return JET_errInvalidParameter; }
        if (!(io->fault_name = strndup(colon + 1, (size_t)(c2 - colon - 1)))) { free(io); return JET_errOutOfMemory; }
        if (!(io->fault_path = strdup(c2 + 1))) { free(io->fault_name); free(io); return JET_errOutOfMemory; }
        io->fault = FAULT_SWAP;
      } else if (n == 9 && !strncmp(f, "clockback", 9)) {   /* clockback:US:PATH, process-wide, no event count */
        char *end, *none = NULL, *p;
        uint64_t us = strtoull(colon + 1, &end, 10);
        if (*end != ':' || !end[1] || us == 0) { free(io); return JET_errInvalidParameter; }
        if (!(p = strdup(end + 1))) { free(io); return JET_errOutOfMemory; }
        atomic_store(&clock_back_us, us);
        if (!atomic_compare_exchange_strong(&clock_back_path, &none, p)) free(p);   /* the first path stays */
      } else if (n == 11 && !strncmp(f, "norenameat2", 11)) {   /* norenameat2:PATH, process-wide, no event count */
        char *none = NULL, *p;
        if (!colon[1]) { free(io); return JET_errInvalidParameter; }
        if (!(p = strdup(colon + 1))) { free(io); return JET_errOutOfMemory; }
        if (!atomic_compare_exchange_strong(&norenameat2_path, &none, p)) free(p);   /* the first path stays */
      } else if (n == 6 && !strncmp(f, "eacces", 6)) {   /* no event count: every open of the name */
        if (!(io->fault_name = strdup(colon + 1))) { free(io); return JET_errOutOfMemory; }
        io->fault = FAULT_EACCES;
      } else {
        char *end;
        io->fault_at = strtoull(colon + 1, &end, 10);
        io->sticky = *end == '+';
        if (io->fault == FAULT_SPACE) atomic_store(&io->space, io->fault_at);
        else if (io->fault_at == 0) io->fault = FAULT_NONE;
      }
    }
  }
  io->trace_fd = -1;
  const char *c = getenv("ESE_FAULT_COUNT");
  const char *t = getenv("ESE_FAULT_TRACE");
  JET_ERR e = JET_errSuccess;
  if (c && *c && !(io->count_path = strdup(c))) e = JET_errOutOfMemory;
  else if (t && *t && (io->trace_fd = open(t, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) e = os_err(errno);
  if (e) {
    free(io->count_path); free(io->fault_name); free(io->fault_path); power_free(io->power); free(io);
    return e;
  }
  *out = io;
  return JET_errSuccess;
}

void esio_free(esio *io) {
  if (!io) return;
  /* Every file opened through io is closed first: term (release_resources)
   * relies on it to leave no descriptor, and so no lock, behind. */
  assert(atomic_load(&io->open_files) == 0);
  if (io->count_path) {
    FILE *f = fopen(io->count_path, "we");   /* O_CLOEXEC, as every descriptor */
    int ok = f && fprintf(f, "%llu\n", (unsigned long long)atomic_load(&io->events)) > 0;
    if (f && fclose(f) != 0) ok = 0;
    /* a harness that reads a count nobody wrote would take a wrong one: say so */
    if (!ok) fprintf(stderr, "ESE_FAULT_COUNT: cannot write %s: %s\n", io->count_path, strerror(errno));
    free(io->count_path);
  }
  free(io->fault_name);
  free(io->fault_path);
  power_free(io->power);
  if (io->trace_fd >= 0) close(io->trace_fd);
  free(io);
}

uint64_t esio_count(esio *io) { return atomic_load(&io->events); }

int esio_open_files(esio *io) { return atomic_load(&io->open_files); }

int esio_ordered(esio *io) {
  return (io->fault != FAULT_NONE && io->fault != FAULT_SLOWSYNC && io->fault != FAULT_EACCES &&
          io->fault != FAULT_SYNCEIO && io->fault != FAULT_HOLDSYNC) || io->count_path ||
         io->trace_fd >= 0;
}

static _Noreturn void fault_kill(void) {
  kill(getpid(), SIGKILL);
  for (;;) pause();
}

/* ESE_FAULT_TRACE: one line per event, "K kind n off name" (name: the
 * file's last path part), or a line about the fault at K. */
static void trace(esio *io, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trace(esio *io, const char *fmt, ...) {
  if (io->trace_fd < 0) return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (len > 0) (void)!write(io->trace_fd, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* Counts one event (kind EV_*, on path, n bytes at off for a write);
 * returns the errno to fake, FE_TORN for the torn write, or 0.  crash:,
 * power: and torn: at an event other than a write kill here. */
static int fault_event(esio *io, int kind, const char *path, size_t nb, uint64_t off) {
  uint64_t n = atomic_fetch_add(&io->events, 1) + 1;
  if (io->trace_fd >= 0)
    trace(io, "%llu %s %zu %llu %s\n", (unsigned long long)n, ev_names[kind], nb, (unsigned long long)off, base_name(path));
  if (io->fault == FAULT_NONE || io->fault == FAULT_SPACE || io->fault == FAULT_EACCES || io->fault == FAULT_SLOWSYNC ||
      io->fault == FAULT_SYNCEIO || io->fault == FAULT_HOLDSYNC || io->fault == FAULT_SWAP || n < io->fault_at ||
      (n > io->fault_at && !io->sticky))
    return 0;
  switch (io->fault) {
  case FAULT_CRASH: fault_kill();
  case FAULT_EIO: return EIO;
  case FAULT_ENOSPC: return ENOSPC;
  case FAULT_TORN:
    if (kind == EV_WRITE) return FE_TORN;
    trace(io, "%llu torn: not a write: crash\n", (unsigned long long)n);
    fault_kill();
  case FAULT_POWER:
    power_lock(io->power);   /* held to the end: no write lands after the cut */
    power_cut(io->power, n, io->trace_fd);
    fault_kill();
  default: return 0;
  }
}

/* Writes all n bytes (pwrite until done); 0 or the errno. */
static int write_all(int fd, const void *buf, size_t n, uint64_t off) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = pwrite(fd, (const char *)buf + done, n - done, (off_t)(off + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += (size_t)r;
  }
  return 0;
}

/* torn:K:C:mode at a write of n bytes at off: the part the mode says, then
 * SIGKILL.  garbage: the head, then the whole 512-byte sector of the file
 * that holds byte C of the write (C < n) is noise (seeded by K and C), also
 * its bytes before C, which may be older than the write: a disk that tears
 * a sector may leave all of it unreadable. */
static _Noreturn void torn_write(esfile *f, const void *buf, size_t n, uint64_t off) {
  esio *io = f->io;
  size_t c = io->torn_cut < n ? (size_t)io->torn_cut : n;
  static const char *const modes[] = { "head", "tail", "garbage" };
  trace(io, "%llu torn %s %zu of %zu %s\n", (unsigned long long)io->fault_at, modes[io->torn_mode], c, n, base_name(f->path));
  if (io->torn_mode == TORN_TAIL) {
    (void)write_all(f->fd, (const char *)buf + c, n - c, off + c);
  } else {
    (void)write_all(f->fd, buf, c, off);
    if (io->torn_mode == TORN_GARBAGE && c < n) {
      uint8_t noise[512];
      uint64_t x = io->fault_at * 0x9e3779b97f4a7c15ull ^ (c + 1);
      for (size_t i = 0; i < sizeof noise; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        noise[i] = (uint8_t)(x >> 24);
      }
      (void)write_all(f->fd, noise, sizeof noise, (off + c) / 512 * 512);
    }
  }
  fault_kill();
}

/* Opens path with O_NONBLOCK, so that a FIFO in place of a file cannot
 * block the open, and keeps the descriptor only for a regular file (then
 * with O_NONBLOCK cleared).  Anything else (FIFO, socket, device, folder):
 * JET_errInvalidPath; a socket or a device without a driver fails open()
 * itself with ENXIO, a folder opened for writing with EISDIR: also
 * JET_errInvalidPath. */
static JET_ERR open_regular(const char *path, int oflags, int *fd, struct stat *out) {
  int d = open(path, oflags | O_NONBLOCK, 0600);
  if (d < 0) return errno == ENXIO || errno == EISDIR ? JET_errInvalidPath : os_err(errno);
  struct stat st;
  int fl = 0;
  JET_ERR e = JET_errSuccess;
  if (fstat(d, &st) != 0) e = os_err(errno);
  else if (!S_ISREG(st.st_mode)) e = JET_errInvalidPath;
  else if ((fl = fcntl(d, F_GETFL)) < 0 || fcntl(d, F_SETFL, fl & ~O_NONBLOCK) != 0) e = os_err(errno);
  if (e) close(d);
  else { *fd = d; *out = st; }
  return e;
}

/* FAULT_SPACE: f grows to end bytes (a write or a truncate); takes the
 * growth from the budget, or returns ENOSPC and takes nothing. */
static int space_event(esfile *f, uint64_t end) {
  esio *io = f->io;
  struct stat st;
  if (io->fault != FAULT_SPACE || fstat(f->fd, &st) != 0 || (uint64_t)st.st_size >= end) return 0;
  uint64_t grow = end - (uint64_t)st.st_size;
  uint_fast64_t left = atomic_load(&io->space);
  do {
    if (grow > left) return ENOSPC;
  } while (!atomic_compare_exchange_weak(&io->space, &left, left - grow));
  return 0;
}

JET_ERR os_open(esio *io, const char *path, int flags, esfile **out) {
  int oflags = O_CLOEXEC | ((flags & OS_WRITE) ? O_RDWR : O_RDONLY);
  if (flags & OS_CREATE) oflags |= O_CREAT;
  if (flags & OS_EXCL) oflags |= O_EXCL;
  if (flags & OS_NOFOLLOW) oflags |= O_NOFOLLOW;
  if (io->fault == FAULT_EACCES) {
    const char *slash = strrchr(path, '/');
    if (!strcmp(slash ? slash + 1 : path, io->fault_name)) return os_err(EACCES);
  }
  esfile *f = calloc(1, sizeof *f);
  if (!f || !(f->path = strdup(path))) { free(f); return JET_errOutOfMemory; }
  struct stat st = { 0 };
  JET_ERR e = open_regular(path, oflags, &f->fd, &st);
  if (e) {
    free(f->path); free(f);
    return e;
  }
  f->dev = st.st_dev;
  f->ino = st.st_ino;
  f->io = io;
  atomic_fetch_add(&io->open_files, 1);
  *out = f;
  return JET_errSuccess;
}

JET_ERR os_lock(esfile *f) {
  if (flock(f->fd, LOCK_EX | LOCK_NB) == 0) return JET_errSuccess;
  return errno == EWOULDBLOCK ? JET_errFileAccessDenied : os_err(errno);
}

/* Loop invariant: nothing is held; each turn ends holding the lock on the
 * inode path names (checked after the lock: a replacement by another
 * process meanwhile means another turn) or with an error.  A shared inode
 * (st_nlink > 1) is unlinked only while its lock is held, so a live
 * holder under any of its names is always seen first. */
JET_ERR os_open_lock(esio *io, const char *path, esfile **out) {
  *out = NULL;
  for (int turn = 0; turn < 8; turn++) {
    esfile *f;
    JET_ERR e = os_open(io, path, OS_WRITE | OS_CREATE | OS_NOFOLLOW, &f);
    if (e) return e;
    struct stat st, at;
    if ((e = os_lock(f)) == JET_errSuccess && fstat(f->fd, &st) != 0) e = os_err(errno);
    if (e) { os_close(f); return e; }
    if (lstat(path, &at) != 0 || at.st_dev != st.st_dev || at.st_ino != st.st_ino) { os_close(f); continue; }
    if (st.st_nlink <= 1) { *out = f; return JET_errSuccess; }
    esfile *n = NULL;
    e = os_unlink(io, path);
    if (e == JET_errSuccess || e == JET_errFileNotFound)
      e = os_open(io, path, OS_WRITE | OS_CREATE | OS_EXCL | OS_NOFOLLOW, &n);
    if (e == JET_errSuccess && (e = os_lock(n)) != JET_errSuccess) os_close(n);
    os_close(f);
    if (e == JET_errFileAlreadyExists) continue;  /* another process made it first: lock theirs */
    if (e == JET_errSuccess) *out = n;
    return e;
  }
  return JET_errFileAccessDenied;
}

JET_ERR os_lock_folder(esio *io, const char *dir, const char *base, esfile **out, char **path) {
  char name[16];
  snprintf(name, sizeof name, "%.3s.lck", base);
  char *p = os_join(dir, name);
  JET_ERR e = p ? os_open_lock(io, p, out) : JET_errOutOfMemory;
  if (path) *path = p;
  else free(p);
  return e;
}

void os_close(esfile *f) {
  if (!f) return;
  atomic_fetch_sub(&f->io->open_files, 1);
  close(f->fd);
  free(f->path);
  free(f);
}

const char *os_path(const esfile *f) { return f->path; }

JET_ERR os_pread(esfile *f, void *buf, size_t n, uint64_t off, size_t *got) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = pread(f->fd, (char *)buf + done, n - done, (off_t)(off + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return os_err(errno);
    }
    if (r == 0) break;
    done += (size_t)r;
  }
  *got = done;
  return JET_errSuccess;
}

void os_readahead(esfile *f, int on) {
  (void)posix_fadvise(f->fd, 0, 0, on ? POSIX_FADV_NORMAL : POSIX_FADV_RANDOM);
}

JET_ERR os_pread_full(esfile *f, void *buf, size_t n, uint64_t off) {
  size_t got;
  JET_ERR e = os_pread(f, buf, n, off, &got);
  if (e) return e;
  return got == n ? JET_errSuccess : JET_errDiskIO;
}

JET_ERR os_pwrite(esfile *f, const void *buf, size_t n, uint64_t off) {
  esio *io = f->io;
  int fe = fault_event(io, EV_WRITE, f->path, n, off);
  if (fe == FE_TORN) torn_write(f, buf, n, off);
  if (!fe) fe = space_event(f, off + n);
  if (fe) return os_err(fe);
  if (!io->power) return (fe = write_all(f->fd, buf, n, off)) ? os_err(fe) : JET_errSuccess;
  power_lock(io->power);
  power_note(io->power, f->fd, f->dev, f->ino, n, off);
  fe = write_all(f->fd, buf, n, off);
  power_unlock(io->power);
  return fe ? os_err(fe) : JET_errSuccess;
}

static _Thread_local uint64_t thread_syncs;

uint64_t os_thread_syncs(void) { return thread_syncs; }

/* FAULT_HOLDSYNC for a sync of path: while the file fault_path exists, the
 * sync waits, with fault_path + ".held" made meanwhile (removed when it goes
 * on); 1 when it was held and must then fail (hold_eio). */
static int hold_sync(esio *io, const char *path) {
  if (io->fault != FAULT_HOLDSYNC || strcmp(base_name(path), io->fault_name) || access(io->fault_path, F_OK) != 0)
    return 0;
  size_t n = strlen(io->fault_path);
  char *held = malloc(n + 6);
  if (!held) return 0;
  memcpy(held, io->fault_path, n);
  memcpy(held + n, ".held", 6);
  int fd = open(held, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) close(fd);
  while (access(io->fault_path, F_OK) == 0) {
    struct timespec nap = { 0, 1000000 };
    nanosleep(&nap, NULL);
  }
  if (io->power) {   /* holdsync:NAME:PATH:power:S: the power is cut where the thread was held */
    power_lock(io->power);   /* held to the end: no write lands after the cut */
    power_cut(io->power, atomic_load(&io->events), io->trace_fd);
    fault_kill();
  }
  unlink(held);
  free(held);
  return io->hold_eio;
}

void os_hold_point(esio *io, const char *name) { (void)hold_sync(io, name); }

/* power: the writes noted before the sync started are durable once it
 * succeeded, even when the harness made fdatasync a no-op. */
JET_ERR os_sync(esfile *f) {
  esio *io = f->io;
  int fe = fault_event(io, EV_SYNC, f->path, 0, 0);
  if (fe) return os_err(fe);
  if (io->fault == FAULT_SYNCEIO && !strcmp(base_name(f->path), io->fault_name) &&
      (!io->fault_path || access(io->fault_path, F_OK) == 0) && atomic_fetch_add(&io->name_syncs, 1) + 1 >= io->fault_at)
    return os_err(EIO);
  if (hold_sync(io, f->path)) return os_err(EIO);
  uint64_t mark = io->power ? power_sync_mark(io->power) : 0;
  if (io->fault == FAULT_SLOWSYNC && access(io->fault_path, F_OK) == 0) {
    struct timespec ts = { (time_t)(io->slow_ms / 1000), (long)(io->slow_ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
  }
  thread_syncs++;
  if (fdatasync(f->fd) != 0) return os_err(errno);
  if (io->power) power_synced(io->power, f->dev, f->ino, mark);
  return JET_errSuccess;
}

void os_writeback(esfile *f, uint64_t off, uint64_t len) {
  if (f && len) (void)sync_file_range(f->fd, (off64_t)off, (off64_t)len, SYNC_FILE_RANGE_WRITE);
}

JET_ERR os_size(esfile *f, uint64_t *size) {
  struct stat st;
  if (fstat(f->fd, &st) != 0) return os_err(errno);
  *size = (uint64_t)st.st_size;
  return JET_errSuccess;
}

int os_sole_name(esfile *f) {
  struct stat st;
  return fstat(f->fd, &st) == 0 && st.st_nlink == 1;
}

int os_is_at(esfile *f, const char *path) {
  struct stat st;
  return lstat(path, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino;
}

JET_ERR os_truncate(esfile *f, uint64_t size) {
  int fe = fault_event(f->io, EV_TRUNCATE, f->path, 0, size);
  if (!fe) fe = space_event(f, size);
  if (fe) return os_err(fe);
  return ftruncate(f->fd, (off_t)size) == 0 ? JET_errSuccess : os_err(errno);
}

JET_ERR os_reserve(esfile *f, uint64_t size, int *done) {
  esio *io = f->io;
  *done = 0;
  if (io->fault != FAULT_NONE || esio_ordered(io) || size > (uint64_t)INT64_MAX) return JET_errSuccess;
  if (fallocate(f->fd, 0, 0, (off_t)size) == 0) {
    *done = 1;
    return JET_errSuccess;
  }
  /* EOPNOTSUPP, ENOSYS, EINVAL...: a file system or sandbox without it */
  return errno == ENOSPC || errno == EDQUOT ? os_err(errno) : JET_errSuccess;
}

JET_ERR os_read_head(esio *io, const char *path, size_t max, uint8_t **buf, size_t *got, uint64_t *size) {
  esfile *f;
  JET_ERR e = os_open(io, path, OS_READ, &f);
  if (e) return e;
  uint8_t *b = malloc(max ? max : 1);
  if (!b) e = JET_errOutOfMemory;
  else e = os_pread(f, b, max, 0, got);
  if (e == JET_errSuccess && size) e = os_size(f, size);
  os_close(f);
  if (e) free(b);
  else *buf = b;
  return e;
}

JET_ERR os_rename(esio *io, const char *from, const char *to) {
  int fe = fault_event(io, EV_RENAME, from, 0, 0);
  if (fe) return os_err(fe);
  if (io->fault == FAULT_SWAP && !strcmp(base_name(from), io->fault_name) && access(io->fault_path, F_OK) == 0 &&
      rename(io->fault_path, from) != 0)
    return os_err(errno);
  return rename(from, to) == 0 ? JET_errSuccess : os_err(errno);
}

JET_ERR os_rename_noreplace(esio *io, const char *from, const char *to) {
  int fe = fault_event(io, EV_RENAME, from, 0, 0);
  if (fe) return os_err(fe);
  const char *no = atomic_load(&norenameat2_path);
  int r;
  if (no && access(no, F_OK) == 0) {
    errno = EINVAL;
    r = -1;
  } else {
    r = renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
  }
  if (r == 0) return JET_errSuccess;
  if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) return os_err(errno);
  /* A file system without RENAME_NOREPLACE (FUSE, NFS, CIFS): a second name,
   * which link never replaces, then the first goes.  Where links are not
   * possible either, an error: nothing at `to` is ever replaced. */
  if (link(from, to) != 0) return os_err(errno);
  if (unlink(from) != 0) {
    int er = errno;
    (void)unlink(to);   /* the link just made: `from` keeps the file */
    return os_err(er);
  }
  return JET_errSuccess;
}

JET_ERR os_rename_file(esfile *f, const char *to) {
  char *name = strdup(to);
  if (!name) return JET_errOutOfMemory;
  JET_ERR e = os_rename(f->io, f->path, to);
  if (e) {
    free(name);
    return e;
  }
  free(f->path);
  f->path = name;
  return JET_errSuccess;
}

JET_ERR os_unlink(esio *io, const char *path) {
  int fe = fault_event(io, EV_UNLINK, path, 0, 0);
  if (fe) return os_err(fe);
  struct stat st;
  int give = io->fault == FAULT_SPACE && lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1;
  if (unlink(path) != 0) return os_err(errno);
  if (give) atomic_fetch_add(&io->space, (uint_fast64_t)st.st_size);   /* FAULT_SPACE: its room freed */
  return JET_errSuccess;
}

JET_ERR os_create_new(esio *io, const char *path, esfile **out) {
  if (os_kind(path) != OS_ABSENT) {
    JET_ERR e = os_unlink(io, path);
    if (e && e != JET_errFileNotFound) return e;
  }
  return os_open(io, path, OS_WRITE | OS_CREATE | OS_EXCL | OS_NOFOLLOW, out);
}

JET_ERR os_sync_dir(esio *io, const char *dir) {
  int fe = fault_event(io, EV_SYNCDIR, dir, 0, 0);
  if (fe) return os_err(fe);
  if (hold_sync(io, dir)) return os_err(EIO);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return os_err(errno);
  thread_syncs++;
  int r = fsync(fd);
  int e = errno;
  close(fd);
  return r == 0 ? JET_errSuccess : os_err(e);
}

JET_ERR os_write_atomic(esio *io, const char *tmp, const char *path, os_fill_fn fill, void *ud, int remove_tmp) {
  char *dir = os_dirname(path);
  if (!dir) return JET_errOutOfMemory;
  esfile *f;
  JET_ERR e = os_create_new(io, tmp, &f);
  if (e == JET_errSuccess) {
    e = fill(ud, f);
    if (e == JET_errSuccess) e = os_sync(f);
    os_close(f);
  }
  if (e == JET_errSuccess) e = os_rename(io, tmp, path);
  if (e && remove_tmp) (void)os_unlink(io, tmp);
  if (e == JET_errSuccess) e = os_sync_dir(io, dir);
  free(dir);
  return e;
}

typedef struct bytes { const void *p; size_t n; } bytes;

static JET_ERR fill_bytes(void *ud, esfile *f) {
  const bytes *b = ud;
  return os_pwrite(f, b->p, b->n, 0);
}

JET_ERR os_write_file_atomic(esio *io, const char *path, const void *buf, size_t n) {
  size_t k = strlen(path);
  char *tmp = malloc(k + 5);
  if (!tmp) return JET_errOutOfMemory;
  memcpy(tmp, path, k);
  memcpy(tmp + k, ".tmp", 5);
  bytes b = { buf, n };
  JET_ERR e = os_write_atomic(io, tmp, path, fill_bytes, &b, 0);
  free(tmp);
  return e;
}

int os_folder_too_long(const char *path) {
  size_t n = strlen(path), part = 0;
  if (n + 1 + NAME_MAX >= PATH_MAX) return 1;
  for (size_t i = 0; i < n; i++) {
    part = path[i] == '/' ? 0 : part + 1;
    if (part > NAME_MAX) return 1;
  }
  return 0;
}

JET_ERR os_mkdir_p(const char *dir, int mode) {
  if (os_folder_too_long(dir)) return JET_errInvalidPath;
  size_t n = strlen(dir);
  char *p = malloc(n + 1);
  if (!p) return JET_errOutOfMemory;
  memcpy(p, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (p[i] == '/' || p[i] == '\0') {
      char c = p[i];
      p[i] = '\0';
      if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST) {
        JET_ERR e = os_err(errno);
        free(p);
        return e;
      }
      p[i] = c;
    }
  }
  free(p);
  struct stat st;
  if (stat(dir, &st) != 0) return os_err(errno);
  return S_ISDIR(st.st_mode) ? JET_errSuccess : JET_errInvalidPath;
}

int os_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

int os_kind(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return OS_ABSENT;
  if (S_ISREG(st.st_mode)) return OS_FILE;
  if (S_ISDIR(st.st_mode)) return OS_DIR;
  return S_ISLNK(st.st_mode) ? OS_LINK : OS_OTHER;
}

int os_same_file(const char *a, const char *b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the open folder d (left open), sorted, into a new array
 * (*names, *n; os_free_names).  errno on failure, nothing left allocated. */
int os_read_names(DIR *d, char ***names, size_t *n) {
  char **v = NULL;
  size_t cnt = 0, cap = 0;
  int err = 0;
  struct dirent *de;
  errno = 0;
  while ((de = readdir(d)) != NULL) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    if (cnt == cap) {
      size_t nc = cap ? cap * 2 : 16;
      char **nv = realloc(v, nc * sizeof *nv);
      if (!nv) { err = ENOMEM; break; }
      v = nv;
      cap = nc;
    }
    if (!(v[cnt] = strdup(de->d_name))) { err = ENOMEM; break; }
    cnt++;
    errno = 0;
  }
  if (!err && errno) err = errno;
  if (err) {
    for (size_t i = 0; i < cnt; i++) free(v[i]);
    free(v);
    return err;
  }
  if (cnt) qsort(v, cnt, sizeof *v, cmp_names);
  *names = v;
  *n = cnt;
  return 0;
}

void os_free_names(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

/* Removes every entry of the folder open as fd (taken over and closed),
 * depth first, never following a link; one descriptor per level (the
 * listing's).  errno on failure (the first one). */
int os_remove_entries(int fd) {
  DIR *d = fdopendir(fd);
  if (!d) { int e = errno; close(fd); return e; }
  int dfd = dirfd(d);
  char **v = NULL;
  size_t n = 0;
  int e = os_read_names(d, &v, &n);
  for (size_t i = 0; i < n && !e; i++) {
    if (unlinkat(dfd, v[i], 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR && errno != EPERM) { e = errno; break; }
    int sub = openat(dfd, v[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) { e = errno; break; }
    e = os_remove_entries(sub);
    if (!e && unlinkat(dfd, v[i], AT_REMOVEDIR) != 0 && errno != ENOENT) e = errno;
  }
  if (v) os_free_names(v, n);
  closedir(d);
  return e;
}

JET_ERR os_empty_folder(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  int e = fd < 0 ? errno : os_remove_entries(fd);
  return e ? os_err(e) : JET_errSuccess;
}

JET_ERR os_list_dir(const char *dir, JET_ERR (*fn)(const char *, void *), void *ud) {
  DIR *d = opendir(dir);
  if (!d) return os_err(errno);
  /* the names are read first, then handed out: what fn or another process
   * does to the folder meanwhile (a delete, a rename to a new name) does
   * not change which names one listing hands out, so a caller that finds
   * the folder changed under it can tell by listing again */
  char **names = NULL;
  size_t n = 0, cap = 0;
  JET_ERR r = JET_errSuccess;
  struct dirent *de;
  errno = 0;
  while (r == JET_errSuccess && (de = readdir(d)) != NULL) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    if (n == cap) {
      size_t nc = cap ? cap * 2 : 32;
      char **nn = realloc(names, nc * sizeof *nn);
      if (!nn) r = JET_errOutOfMemory;
      else names = nn, cap = nc;
    }
    if (r == JET_errSuccess && !(names[n] = strdup(de->d_name))) r = JET_errOutOfMemory;
    if (r == JET_errSuccess) n++;
    errno = 0;
  }
  if (r == JET_errSuccess && errno) r = os_err(errno);   /* readdir failed: not a short listing */
  closedir(d);
  for (size_t i = 0; i < n; i++) {
    if (r == JET_errSuccess) r = fn(names[i], ud);
    free(names[i]);
  }
  free(names);
  return r;
}

/* p in place without what names nothing: a run of slashes is one, and a
 * "." component followed by another one goes ("a/./b" is "a/b" whatever
 * a is).  A last "." and a trailing slash stay: both follow a link there
 * ("link/." is the folder, "link" the link). */
static void lexical_tidy(char *p) {
  char *w = p;
  for (const char *r = p; *r;) {
    if (*r == '/' && w > p && w[-1] == '/') { r++; continue; }
    if (*r == '.' && (w == p || w[-1] == '/') && r[1] == '/') {
      const char *n = r + 1;
      while (*n == '/') n++;
      if (*n) { r = n; continue; }   /* "./" followed by a component */
    }
    *w++ = *r++;
  }
  *w = 0;
}

JET_ERR os_abs_path(const char *path, int real, char **out) {
  if (real) {
    *out = realpath(path, NULL);
    return *out ? JET_errSuccess : errno == ENOMEM ? JET_errOutOfMemory : JET_errInvalidPath;
  }
  if (path[0] == '/' || !*path) {
    *out = strdup(path);
  } else {
    char *cwd = getcwd(NULL, 0);
    if (!cwd) return errno == ENOMEM ? JET_errOutOfMemory : JET_errInvalidPath;
    *out = os_join(cwd, path);
    free(cwd);
  }
  if (!*out) return JET_errOutOfMemory;
  lexical_tidy(*out);
  return JET_errSuccess;
}

char *os_join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  while (a > 1 && dir[a - 1] == '/') a--;
  char *s = malloc(a + b + 2);
  if (!s) return NULL;
  memcpy(s, dir, a);
  s[a] = '/';
  memcpy(s + a + 1, name, b + 1);
  return s;
}

char *os_dirname(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return strdup(".");
  size_t n = slash == path ? 1 : (size_t)(slash - path);
  char *d = malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, path, n);
  d[n] = 0;
  return d;
}

uint64_t os_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t os_mono_us(void) { return os_mono_ns() / 1000u; }

struct timespec os_deadline(clockid_t clk, uint64_t us) {
  struct timespec ts;
  clock_gettime(clk, &ts);
  uint64_t ns = (uint64_t)ts.tv_nsec + us * 1000u;
  ts.tv_sec += (time_t)(ns / 1000000000u);
  ts.tv_nsec = (long)(ns % 1000000000u);
  return ts;
}

uint64_t os_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t t = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
  const char *back_path = atomic_load(&clock_back_path);   /* ESE_FAULT=clockback:US:PATH */
  uint64_t back = back_path && access(back_path, F_OK) == 0 ? atomic_load(&clock_back_us) : 0;
  return t > back ? t - back : 0;
}

void os_random(void *buf, size_t n) {
  ssize_t r = getrandom(buf, n, GRND_NONBLOCK);
  if (r == (ssize_t)n) return;
  uint64_t x = os_now_us() ^ ((uint64_t)getpid() << 32);
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    ((uint8_t *)buf)[i] = (uint8_t)x;
  }
}

/* ---- the worker ------------------------------------------------------------ */

typedef enum { WK_IDLE, WK_RUNNING, WK_DONE } wk_state;

struct os_worker {
  pthread_mutex_t mu;
  pthread_cond_t cv;      /* a job given (RUNNING), done (DONE), or stop */
  wk_state state;         /* moved by wk_to only */
  int started, stop;      /* the thread runs; os_worker_free asks it to end */
  pthread_t th;
  os_job_fn fn;
  void *ud;
  JET_ERR result;         /* DONE: fn's answer */
};

static void wk_to(os_worker *w, wk_state to) {
  assert((w->state == WK_IDLE && to == WK_RUNNING) || (w->state == WK_RUNNING && to == WK_DONE) ||
         (w->state == WK_DONE && to == WK_IDLE));
  w->state = to;
}

static void *wk_main(void *arg) {
  os_worker *w = arg;
  os_block_signals();
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->stop && w->state != WK_RUNNING) pthread_cond_wait(&w->cv, &w->mu);
    if (w->state != WK_RUNNING) break;     /* stop, and nothing left to run */
    os_job_fn fn = w->fn;
    void *ud = w->ud;
    pthread_mutex_unlock(&w->mu);          /* the job runs without the worker's lock */
    JET_ERR e = fn(ud);
    pthread_mutex_lock(&w->mu);
    w->result = e;
    wk_to(w, WK_DONE);
    pthread_cond_broadcast(&w->cv);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

JET_ERR os_worker_new(os_worker **out) {
  os_worker *w = calloc(1, sizeof *w);
  if (!w) return JET_errOutOfMemory;
  if (pthread_mutex_init(&w->mu, NULL) != 0) {
    free(w);
    return JET_errOutOfMemory;
  }
  pthread_condattr_t ca;        /* timed waits on CLOCK_MONOTONIC (never set back) */
  int ok = pthread_condattr_init(&ca) == 0;
  if (ok) {
    ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&w->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
  }
  if (!ok) {
    pthread_mutex_destroy(&w->mu);
    free(w);
    return JET_errOutOfMemory;
  }
  *out = w;
  return JET_errSuccess;
}

void os_worker_free(os_worker *w) {
  if (!w) return;
  pthread_mutex_lock(&w->mu);
  while (w->state == WK_RUNNING) pthread_cond_wait(&w->cv, &w->mu);
  w->stop = 1;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  if (w->started) pthread_join(w->th, NULL);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  free(w);
}

int os_worker_start(os_worker *w, os_job_fn fn, void *ud) {
  pthread_mutex_lock(&w->mu);
  assert(w->state == WK_IDLE && !w->stop);
  if (!w->started) w->started = pthread_create(&w->th, NULL, wk_main, w) == 0;
  if (w->started) {
    w->fn = fn;
    w->ud = ud;
    wk_to(w, WK_RUNNING);
    pthread_cond_broadcast(&w->cv);
  }
  int ok = w->started;
  pthread_mutex_unlock(&w->mu);
  return ok;
}

int os_worker_collect(os_worker *w, uint64_t max_us, JET_ERR *e) {
  pthread_mutex_lock(&w->mu);
  assert(w->state != WK_IDLE);
  if (max_us == UINT64_MAX) {
    while (w->state == WK_RUNNING) pthread_cond_wait(&w->cv, &w->mu);
  } else if (w->state == WK_RUNNING && max_us) {
    struct timespec ts = os_deadline(CLOCK_MONOTONIC, max_us);   /* the cv's clock (os_worker_new) */
    while (w->state == WK_RUNNING && pthread_cond_timedwait(&w->cv, &w->mu, &ts) == 0) {}
  }
  int done = w->state == WK_DONE;
  if (done) {
    *e = w->result;
    wk_to(w, WK_IDLE);
  }
  pthread_mutex_unlock(&w->mu);
  return done;
}

JET_ERR os_sync_job(void *f) { return os_sync(f); }

void os_block_signals(void) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
}
