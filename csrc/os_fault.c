/* os_fault.c -- the undo journal of ESE_FAULT=power:K:S (see os_fault.h). */
#include "os_fault.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SECTOR = 512 };
#define POWER_MAX_BYTES ((size_t)64 << 20)

/* An inode with noted writes.  fd is a reopen of it (through /proc/self/fd),
 * not a dup: a dup would share the engine's flock and keep it held after
 * the engine closed its descriptor. */
typedef struct pfile {
  struct pfile *next;
  dev_t dev;
  ino_t ino;
  int fd;
  size_t nundo;     /* undo records pointing here; the pfile goes with the last */
  size_t keep, seen; /* power_cut, in-order class: the oldest `keep` writes stay; writes met so far */
} pfile;

typedef struct undo {
  struct undo *next;   /* the next older write */
  pfile *file;
  uint64_t seq, off;
  size_t n;
  uint8_t old[];       /* the n bytes the write replaced (zeros past the end of the file) */
} undo;

struct power_journal {
  pthread_mutex_t mu;
  uint64_t seed, seq;  /* seq: the number the next noted write gets */
  undo *head;          /* newest first */
  pfile *files;
  size_t bytes;        /* sum of n over the records, <= POWER_MAX_BYTES */
  const char *lost;    /* why the journal was dropped (then head and files are empty), or NULL */
};

power_journal *power_new(uint64_t seed) {
  power_journal *pj = calloc(1, sizeof *pj);
  if (!pj) return NULL;
  if (pthread_mutex_init(&pj->mu, NULL) != 0) { free(pj); return NULL; }
  pj->seed = seed;
  return pj;
}

static void drop_all(power_journal *pj) {
  for (undo *u = pj->head, *nx; u; u = nx) { nx = u->next; free(u); }
  for (pfile *f = pj->files, *nx; f; f = nx) { nx = f->next; close(f->fd); free(f); }
  pj->head = NULL;
  pj->files = NULL;
  pj->bytes = 0;
}

void power_free(power_journal *pj) {
  if (!pj) return;
  drop_all(pj);
  pthread_mutex_destroy(&pj->mu);
  free(pj);
}

void power_lock(power_journal *pj) { pthread_mutex_lock(&pj->mu); }
void power_unlock(power_journal *pj) { pthread_mutex_unlock(&pj->mu); }

/* From now on the cut cannot revert anything: it will be a plain crash. */
static void lose(power_journal *pj, const char *why) {
  drop_all(pj);
  pj->lost = why;
}

static pfile *file_for(power_journal *pj, int fd, dev_t dev, ino_t ino) {
  for (pfile *f = pj->files; f; f = f->next)
    if (f->dev == dev && f->ino == ino) return f;
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  pfile *f = calloc(1, sizeof *f);
  if (!f) { lose(pj, "out of memory"); return NULL; }
  if ((f->fd = open(proc, O_RDWR | O_CLOEXEC)) < 0) {
    free(f);
    lose(pj, "cannot reopen a written file through /proc/self/fd");
    return NULL;
  }
  f->dev = dev;
  f->ino = ino;
  f->next = pj->files;
  pj->files = f;
  return f;
}

static void unlink_file(power_journal *pj, pfile *f) {
  for (pfile **pp = &pj->files; *pp; pp = &(*pp)->next)
    if (*pp == f) {
      *pp = f->next;
      close(f->fd);
      free(f);
      return;
    }
}

void power_note(power_journal *pj, int fd, dev_t dev, ino_t ino, size_t n, uint64_t off) {
  if (pj->lost || n == 0) return;
  if (n > POWER_MAX_BYTES - pj->bytes) { lose(pj, "more than 64 MiB written unsynced"); return; }
  pfile *f = file_for(pj, fd, dev, ino);
  if (!f) return;
  undo *u = malloc(sizeof *u + n);
  if (!u) {
    if (f->nundo == 0) unlink_file(pj, f);
    lose(pj, "out of memory");
    return;
  }
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(f->fd, u->old + got, n - got, (off_t)(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      free(u);
      if (f->nundo == 0) unlink_file(pj, f);
      lose(pj, "cannot read the bytes a write replaces");
      return;
    }
    if (r == 0) break;
    got += (size_t)r;
  }
  memset(u->old + got, 0, n - got);
  u->file = f;
  u->seq = pj->seq++;
  u->off = off;
  u->n = n;
  u->next = pj->head;
  pj->head = u;
  f->nundo++;
  pj->bytes += n;
}

uint64_t power_sync_mark(power_journal *pj) {
  pthread_mutex_lock(&pj->mu);
  uint64_t m = pj->seq;
  pthread_mutex_unlock(&pj->mu);
  return m;
}

void power_synced(power_journal *pj, dev_t dev, ino_t ino, uint64_t mark) {
  pthread_mutex_lock(&pj->mu);
  for (undo **pp = &pj->head; *pp;) {
    undo *u = *pp;
    if (u->seq < mark && u->file->dev == dev && u->file->ino == ino) {
      *pp = u->next;
      pj->bytes -= u->n;
      if (--u->file->nundo == 0) unlink_file(pj, u->file);
      free(u);
    } else {
      pp = &u->next;
    }
  }
  pthread_mutex_unlock(&pj->mu);
}

static uint64_t mix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static int put_back(const undo *u, uint64_t from, uint64_t to) {
  const uint8_t *p = u->old + (from - u->off);
  size_t n = (size_t)(to - from), done = 0;
  while (done < n) {
    ssize_t r = pwrite(u->file->fd, p + done, n - done, (off_t)(from + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return 0;
    done += (size_t)r;
  }
  return 1;
}

/* What the cut does to one write. */
enum { KEEP, REVERT, TEAR_HEAD_KEPT, TEAR_TAIL_KEPT };

/* Seed s % 4 == 0: every unsynced write is reverted.  s % 4 == 1 (a disk
 * that writes each file in order): per file, a seeded number of its oldest
 * unsynced writes stay, the next is torn at a 512-byte boundary with its
 * head kept, the newer ones are reverted.  Otherwise (a disk that reorders
 * sectors): each write is kept, reverted, or torn at a 512-byte boundary
 * of the file inside it with its head kept or its tail kept, a quarter
 * each.  A torn write without such a boundary is reverted whole. */
void power_cut(power_journal *pj, uint64_t k, int trace_fd) {
  char line[256];
  int len;
  if (pj->lost) {
    len = snprintf(line, sizeof line, "%llu power lost: %s: crash semantics\n", (unsigned long long)k, pj->lost);
    fprintf(stderr, "ESE_FAULT=power: the undo journal was dropped (%s): the cut at event %llu reverts nothing\n",
            pj->lost, (unsigned long long)k);
  } else {
    uint64_t s = pj->seed;
    int cls = (int)(pj->seed % 4);
    for (pfile *f = pj->files; f; f = f->next) {
      f->seen = 0;
      f->keep = (size_t)(mix(&s) % (f->nundo + 1));
    }
    unsigned nw = 0, nrev = 0, ntorn = 0, nkept = 0, nfail = 0;
    for (const undo *u = pj->head; u; u = u->next) {
      nw++;
      size_t age = u->file->nundo - ++u->file->seen;   /* 0: the file's oldest unsynced write */
      int how = cls == 0 ? REVERT
              : cls == 1 ? (age < u->file->keep ? KEEP : age == u->file->keep ? TEAR_HEAD_KEPT : REVERT)
              : (int)(mix(&s) % 4);
      if (how == KEEP) { nkept++; continue; }
      uint64_t end = u->off + u->n, from = u->off, to = end;
      uint64_t first = (u->off / SECTOR + 1) * SECTOR;     /* the boundaries inside: first, first+512, ... < end */
      if (how != REVERT && first < end) {
        uint64_t b = first + (mix(&s) % ((end - 1 - first) / SECTOR + 1)) * SECTOR;
        if (how == TEAR_HEAD_KEPT) from = b;
        else to = b;
        ntorn++;
      } else {
        nrev++;
      }
      if (!put_back(u, from, to)) nfail++;
    }
    len = snprintf(line, sizeof line, "%llu power seed %llu: %u unsynced writes, %u reverted, %u torn, %u kept, %u failed\n",
                   (unsigned long long)k, (unsigned long long)pj->seed, nw, nrev, ntorn, nkept, nfail);
  }
  if (trace_fd >= 0 && len > 0) (void)!write(trace_fd, line, (size_t)len);
}
