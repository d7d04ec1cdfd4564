/*
 * log.c -- the write-ahead log's writer: generation files, records, group
 * commit (format: log.h; shared format code: log_format.c; reader:
 * log_reader.c).
 *
 * Writer state lives in struct eslog behind one mutex (mu) and one condvar
 * (cv).  Appends copy framed records into `buf` (the bytes of the current
 * file from offset buf_off on that no write has taken yet).  A flush takes
 * the whole of `buf` by swapping it with `spare`, marks the log busy,
 * writes (and, for a commit, syncs) without the mutex, then advances
 * `written` (and `durable`) and wakes the waiters; appends go on into the
 * other buffer meanwhile.  A full buffer is written without a sync.  A roll
 * makes the next file first (rolling, not busy: the current file takes
 * records and flushes meanwhile; a recycled one's old bytes well after its
 * end are zeroed then, an append waiting only while a chunk it would
 * reach is written, limit), then owns the log the same way (busy) while
 * it writes the closing file's last bytes and renames, appends going on
 * into the new generation (roll).  Invariant when not busy and no
 * error: durable <= written == LSN(gen, buf_off), and end == LSN(gen,
 * buf_off + len); while a roll is busy, written and durable are still the
 * closing generation's (gen, buf_off and end the new one's).
 *
 * Shadow slots (format: log.h).  `tail` holds the bytes of the block that
 * holds `written`, from the block's start to written (zeros after); a write
 * keeps it up to date.  `placed` is where the file's bytes in place end
 * (placed <= written, in written's block when they differ: the bytes
 * between are in the newest slot and in tail only).  A durable write (a
 * flush, a roll's last write) pads the buffer when it would end in the
 * last LOG_SLOT_HEAD bytes of a block; a flush that ends in placed's block
 * then writes only slot (seq mod 2) with the block holding its end (the
 * tail): one write + sync per commit; any other write puts [placed, end)
 * in place first, as one pwrite (the bytes before the buffer go into the
 * room buf_new keeps before it), then the slot, then syncs once.  Only the
 * owner of busy touches tail, placed, slot and seq.
 *
 * Group commit: the thread that becomes the flusher syncs every record
 * appended so far.  When other committers were seen waiting during the
 * previous sync, it first waits a little (at most half the last sync's
 * time) for one more append, so that two or more commits share each sync
 * instead of alternating one by one.
 *
 * The next generation's file is made ahead after a commit (log_prepare_next)
 * by the log's preparer thread, so that the committing thread never makes
 * a generation's room: the thread reserves it (or writes its zeros), writes
 * the next generation's header (tmp_hdr_gen) and syncs; the roll then only
 * renames (a 1 MiB durable put writes about 1 MiB, not 2; a roll costs the
 * committing thread no sync of the new file), or writes the header again
 * when the attach table changed since (att_ver).  The roll waits for a file asked of the thread (prep_want) or
 * being made (tmp_busy), and makes one itself only when none was asked
 * for.  When the esio's event order is relied on (esio_ordered: ESE_FAULT
 * counting events, ESE_FAULT_COUNT/TRACE), the committing thread makes it
 * in line without the extra sync (the order the crash and torn sweeps
 * cover); the bytes and the states of Btmp.log are the same either way: it
 * is either absent, or being made (never read, removed by whoever makes it
 * next), or complete (tmp_ready: zeros from LOG_HDR_SIZE on, or a spare's
 * old records after zeroed slots, tmp_stale_end, log_retire; its header the
 * next generation's when tmp_hdr_gen says so, else zeros or the spare's old one)
 * until a roll takes it.  When the disk is full that is left to the roll, so a full
 * disk stops the log only when a roll finds no room, not while the
 * current file has some.
 *
 * A new generation file is made complete under the name Btmp.log (full
 * size: its blocks reserved with fallocate, or written with zeros where
 * the file system cannot or a fault is armed, so that a commit's write
 * never needs free space and the bytes after the last record read as
 * zeros; header; synced) and only then renamed to B.log, so a crash never
 * leaves a B.log with a half-written header.  A roll renames B.log to B%08X.log, then
 * Btmp.log to B.log, then syncs the folder: a crash between the two renames
 * leaves the archived files complete and no B.log (the reader then reports
 * JET_errMissingLogFile with LOG_READ_CURRENT; read without it and start the
 * next generation with log_create(sig, hi + 1, tm_create of hi)).
 * Each rename renames the open handle too (os_rename_file): a file is
 * known by the name it has now (the current file as B.log, the closing
 * one as B%08X.log once renamed), so an ESE_FAULT fault that names B.log
 * reaches the current file's syncs, and the closing file's last one in a
 * roll, whatever name the file was made under.
 */
#include "log_format.h"
#include "crc32c.h"
#include <assert.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ZERO_CHUNK (64u * 1024u)
/* The room kept after a closing recycled file's end when a roll zeroes its
 * old bytes after that while appends go on (roll, part 1). */
#define ROLL_ROOM (4u * LOG_BLOCK)

/* A spare name's state: no file (as far as the log knows), a retired
 * generation's file waiting there, a rename to or from it under way (mu
 * released), or something else there (a folder, a link, ...: left alone,
 * the name not used by this log). */
enum { REUSE_NONE, REUSE_HELD, REUSE_MOVING, REUSE_FOREIGN };


/* ---- writer ------------------------------------------------------------- */
/* The preparer thread: none (not started yet, or ordered I/O: esio_ordered,
 * then log_prepare_next makes the file in line), running (waits on
 * prep_cv), stopping (lg_free: it exits at its next wait, then is joined).
 * NONE -> RUNNING (first log_prepare_next) -> STOPPING (lg_free). */
typedef enum { PREP_NONE, PREP_RUNNING, PREP_STOPPING } prep_state;

struct eslog {
  esio *io;
  char *dir, *cur_path, *tmp_path, *base;
  uint32_t new_file_size;   /* size of generations created from now on */
  uint32_t page_size;
  log_sig sig;

  pthread_mutex_t mu;
  pthread_cond_t cv;
  log_attach *att;          /* table for new generations */
  uint32_t natt;
  esfile *f;                /* the current B.log */
  uint32_t gen, file_size;  /* of the current file */
  uint32_t seed;            /* its records' CRC seed (log_seed) */
  uint64_t tm_create;
  uint8_t *buf;             /* records no write has taken yet (buf_new: with
                             * LOG_BLOCK bytes of room before buf[0]) */
  size_t cap, len;
  uint32_t buf_off;         /* file offset of buf[0] */
  uint8_t *spare;           /* the other buffer (the flusher's while busy) */
  size_t spare_cap;
  lsn_t end, written, durable;
  uint8_t *tail;            /* LOG_BLOCK: the block holding written, up to it */
  uint32_t placed;          /* the file holds the log's bytes in place up to
                             * here; placed <= LSN_OFF(written), both in one
                             * block when they differ (the rest is in a slot) */
  uint8_t *slot;            /* LOG_BLOCK: a slot being written */
  uint64_t seq;             /* the last slot written to the current file */
  int busy;                 /* a flush or a roll owns the file */
  pthread_cond_t appended;  /* a delaying flusher waits here for one more append */
  int delaying;
  uint64_t nappends;
  int waited_in_sync;       /* another committer waited during the last sync */
  int tmp_ready, tmp_busy;  /* Btmp.log made ahead / being made */
  esfile *tmp_f;            /* while tmp_ready: the ready Btmp.log's file, as
                             * made or taken (the roll uses this descriptor
                             * and checks that the name still holds it,
                             * os_is_at: it never opens the name) */
  uint32_t tmp_hdr_gen;     /* not 0: the ready Btmp.log has the header of this
                             * generation, written and synced ahead (tm_create
                             * tmp_hdr_tm, the attach table of att_ver
                             * tmp_hdr_att, encoded when ncommits was
                             * tmp_hdr_commits); 0: its header is the roll's to write */
  uint64_t tmp_hdr_tm, tmp_hdr_att, tmp_hdr_commits;
  uint64_t last_commit_us;  /* the time of the latest LR_COMMIT appended (or,
                             * after log_reopen, in the reopened file): the
                             * log stamps each commit (append) with the most
                             * of os_now_us(), this and tm_create */
  uint64_t ncommits;        /* LR_COMMIT records appended (never goes back) */
  uint32_t nreuse;          /* spare files kept at most (log_config.spares) */
  char **reuse_path;        /* their names: <base>spare1.log ... */
  uint8_t *reuse;           /* per spare: REUSE_NONE, _HELD, _MOVING or _FOREIGN */
  uint32_t stale_end;       /* the current file is a recycled one: bytes from
                             * written up to here may be an old generation's
                             * (0: none; zeros after written) */
  uint32_t limit;           /* a roll writes zeros over the current file's
                             * old bytes from here on (part 1, one chunk):
                             * an append that would pass it waits (0: none) */
  uint32_t tmp_stale_end;   /* the same for the ready Btmp.log (not 0: a
                             * spare's, its old header and records after
                             * zeroed slots; data_end is >= LOG_DATA_START) */
  prep_state prep;          /* the preparer thread (log_prepare_next) */
  int prep_want;            /* a commit asked for Btmp.log; the thread has not taken it */
  pthread_t prep_th;        /* valid while prep != PREP_NONE */
  pthread_cond_t prep_cv;   /* prep_want or PREP_STOPPING */
  int tmp_short;            /* making it ahead found the disk full: left to the next roll */
  int rolling;              /* a roll runs (one at a time) and owns Btmp.log */
  uint64_t att_ver;         /* counts log_set_attachments: a roll's header is of the table it read */
  uint64_t last_sync_us;
  int rolled;
  uint64_t first_us;        /* monotonic µs of the first record of the current
                             * generation (a reopened file with records: the
                             * reopen), 0 while it holds none */
  void (*on_roll)(void *ud, uint32_t closed_gen);   /* log_set_roll_hook */
  void *on_roll_ud;
  uint32_t features;        /* the current file's header's LOG_FEATURE_* */
  uint32_t nrec;            /* records in the current file (its LR_END's count) */
  int closed;               /* the current file ends in its LR_END already (log_reopen
                             * of a B.log a roll had closed before a crash) */
  JET_ERR err;              /* sticky write/sync failure */
};

/* The room an append keeps after a record in the current file for the
 * LR_END a roll closes it with, and for the padding a durable flush may
 * put before it (pad_for_slot: less than LOG_SLOT_HEAD bytes). */
#define END_ROOM (LR_END_FRAMED + LOG_SLOT_HEAD)
static uint32_t end_room(const eslog *lg) { return (lg->features & LOG_FEATURE_ENDMARK) ? END_ROOM : 0; }

/* Append buffers carry LOG_BLOCK bytes of room before their first byte,
 * where a write in place puts the bytes of the block that only a slot held
 * so far (write_range), so that the write stays one pwrite. */
static uint8_t *buf_new(size_t cap) {
  uint8_t *m = malloc(LOG_BLOCK + cap);
  return m ? m + LOG_BLOCK : NULL;
}

static void buf_free(uint8_t *b) {
  if (b) free(b - LOG_BLOCK);
}

static void lg_free(eslog *lg) {
  if (!lg) return;
  pthread_mutex_lock(&lg->mu);
  prep_state was = lg->prep;
  if (was == PREP_RUNNING) {
    lg->prep = PREP_STOPPING;
    pthread_cond_signal(&lg->prep_cv);
  }
  pthread_mutex_unlock(&lg->mu);
  if (was == PREP_RUNNING) pthread_join(lg->prep_th, NULL);   /* after a file in the making is done */
  os_close(lg->f);
  os_close(lg->tmp_f);
  for (uint32_t k = 0; lg->reuse_path && k < lg->nreuse; k++) free(lg->reuse_path[k]);
  free(lg->reuse_path);
  free(lg->reuse);
  free(lg->dir);
  free(lg->base);
  free(lg->cur_path);
  free(lg->tmp_path);
  buf_free(lg->buf);
  buf_free(lg->spare);
  free(lg->tail);
  free(lg->slot);
  log_attach_free(lg->att, lg->natt);
  pthread_cond_destroy(&lg->cv);
  pthread_cond_destroy(&lg->appended);
  pthread_cond_destroy(&lg->prep_cv);
  pthread_mutex_destroy(&lg->mu);
  free(lg);
}

static JET_ERR cfg_check(const log_config *cfg) {
  if (!cfg || !cfg->io || !cfg->dir || !cfg->base || !cfg->base[0] || strlen(cfg->base) > 32 ||
      cfg->file_size < LOG_MIN_FILE_SIZE || cfg->file_size % 1024 != 0)
    return JET_errInvalidParameter;
  return JET_errSuccess;
}

static char *tmp_name(const char *dir, const char *base) {
  char name[48];
  snprintf(name, sizeof name, "%stmp.log", base);
  return os_join(dir, name);
}

/* The spare name k (1 ..): <base>sparek.log (log_retire). */
static char *spare_name(const char *dir, const char *base, uint32_t k) {
  char name[48];
  snprintf(name, sizeof name, "%sspare%u.log", base, k);
  return os_join(dir, name);
}

static JET_ERR lg_new(const log_config *cfg, eslog **out) {
  *out = NULL;
  eslog *lg = calloc(1, sizeof *lg);
  if (!lg) return JET_errOutOfMemory;
  if (pthread_mutex_init(&lg->mu, NULL) != 0) { free(lg); return JET_errOutOfMemory; }
  if (pthread_cond_init(&lg->cv, NULL) != 0) {
    pthread_mutex_destroy(&lg->mu);
    free(lg);
    return JET_errOutOfMemory;
  }
  if (pthread_cond_init(&lg->appended, NULL) != 0) {
    pthread_cond_destroy(&lg->cv);
    pthread_mutex_destroy(&lg->mu);
    free(lg);
    return JET_errOutOfMemory;
  }
  if (pthread_cond_init(&lg->prep_cv, NULL) != 0) {
    pthread_cond_destroy(&lg->appended);
    pthread_cond_destroy(&lg->cv);
    pthread_mutex_destroy(&lg->mu);
    free(lg);
    return JET_errOutOfMemory;
  }
  lg->io = cfg->io;
  lg->new_file_size = cfg->file_size;
  lg->page_size = cfg->page_size;
  size_t cap = cfg->file_size < LOG_BUF_DEFAULT ? cfg->file_size : LOG_BUF_DEFAULT;
  lg->dir = strdup(cfg->dir);
  lg->base = strdup(cfg->base);
  lg->cur_path = log_file_name(cfg->dir, cfg->base, 0);
  lg->tmp_path = tmp_name(cfg->dir, cfg->base);
  lg->buf = buf_new(cap);
  lg->spare = buf_new(cap);
  lg->tail = calloc(1, LOG_BLOCK);
  lg->slot = malloc(LOG_BLOCK);
  if (!lg->dir || !lg->base || !lg->cur_path || !lg->tmp_path || !lg->buf || !lg->spare || !lg->tail || !lg->slot) {
    lg_free(lg);
    return JET_errOutOfMemory;
  }
  lg->cap = lg->spare_cap = cap;
  lg->nreuse = cfg->spares < LOG_SPARES_MAX ? cfg->spares : LOG_SPARES_MAX;
  if (lg->nreuse && (!(lg->reuse_path = calloc(lg->nreuse, sizeof *lg->reuse_path)) ||
                     !(lg->reuse = calloc(lg->nreuse, 1)))) {
    lg_free(lg);
    return JET_errOutOfMemory;
  }
  for (uint32_t k = 0; k < lg->nreuse; k++) {
    if (!(lg->reuse_path[k] = spare_name(cfg->dir, cfg->base, k + 1))) {
      lg_free(lg);
      return JET_errOutOfMemory;
    }
    int kind = os_kind(lg->reuse_path[k]);
    if (kind == OS_FILE) lg->reuse[k] = REUSE_HELD;   /* a past run's: checked when taken */
    else if (kind != OS_ABSENT) lg->reuse[k] = REUSE_FOREIGN;
  }
  *out = lg;
  return JET_errSuccess;
}

/* What spare_check finds at a spare name. */
enum { SC_ABSENT, SC_RETRY, SC_FOREIGN, SC_OURS, SC_DEAD };

/* Opens spare name path (flags: OS_READ or OS_WRITE; never following a
 * link) and tells what is there: SC_ABSENT nothing; SC_RETRY an error
 * that may pass (no descriptor or memory, EIO): nothing known, tried again
 * later; SC_FOREIGN not this log's: not a regular file, a symbolic link,
 * permission denied, a damaged header or another stream's (never written
 * nor deleted); SC_OURS a retired generation of this stream (signature
 * lg->sig) below gen with one name, which it may take; SC_DEAD this
 * stream's, which it can never take: a generation not below gen (a
 * record's CRC is seeded with the signature and the generation, so its
 * records could check in the generation it would become: one left after
 * an in-place restore) or a file with another name too (a hard link, as
 * older versions kept: writing it would change what the other name shows;
 * unlinking this name leaves that one alone).  *f: the file open (SC_OURS,
 * SC_DEAD), else NULL.  b: room for LOG_HDR_SIZE bytes. */
static int spare_check(eslog *lg, const char *path, int flags, uint32_t gen, uint8_t *b, esfile **f) {
  *f = NULL;
  JET_ERR e = os_open(lg->io, path, flags | OS_NOFOLLOW, f);
  int kind = os_kind(path);
  if (e == JET_errFileNotFound && kind == OS_ABSENT) return SC_ABSENT;
  if (e == JET_errPermissionDenied || (kind != OS_FILE && kind != OS_ABSENT)) {
    os_close(*f);
    *f = NULL;
    return SC_FOREIGN;
  }
  if (e) return SC_RETRY;
  size_t got = 0;
  log_header h;
  memset(&h, 0, sizeof h);
  int r = SC_RETRY;
  if (!os_pread(*f, b, LOG_HDR_SIZE, 0, &got)) {
    if (got < LOG_HDR_SIZE || log_hdr_decode(b, &h) || memcmp(h.sig.b, lg->sig.b, sizeof h.sig.b) != 0)
      r = SC_FOREIGN;
    else r = h.gen < gen && os_sole_name(*f) ? SC_OURS : SC_DEAD;
  }
  log_header_clear(&h);
  if (r != SC_OURS && r != SC_DEAD) {
    os_close(*f);
    *f = NULL;
  }
  return r;
}

/* Unlinks path when the file f (spare_check's) is still at that name
 * (os_is_at: a file another process put there since stays); closes f.
 * 1 when it was unlinked. */
static int unlink_checked(eslog *lg, const char *path, esfile *f) {
  int there = f && os_is_at(f, path);
  os_close(f);
  return there && os_unlink(lg->io, path) == JET_errSuccess;
}

/* Deletes the file at spare name path when it is this stream's (spare_check:
 * SC_OURS or SC_DEAD) still at the name; *what: spare_check's answer. */
static int drop_retired(eslog *lg, const char *path, uint32_t gen, uint8_t *b, int *what) {
  esfile *f;
  *what = spare_check(lg, path, OS_READ, gen, b, &f);
  return (*what == SC_OURS || *what == SC_DEAD) && unlink_checked(lg, path, f);
}

/* A past run's spares beyond the number kept now (a lower checkpoint
 * depth, a larger file size) would never be taken: deleted when the log
 * opens (lg's signature and generation set, no other thread yet), so that
 * none stays forever; only this stream's files (drop_retired): a
 * user's file, another stream's stay.  A failure leaves a file no run reads. */
static JET_ERR drop_spares_beyond(eslog *lg) {
  uint8_t *b = lg->nreuse ? malloc(LOG_HDR_SIZE) : NULL;
  if (lg->nreuse && !b) return JET_errOutOfMemory;
  JET_ERR e = JET_errSuccess;
  for (uint32_t k = lg->nreuse + 1; lg->nreuse && !e && k <= LOG_SPARES_MAX; k++) {
    char *p = spare_name(lg->dir, lg->base, k);
    if (!p) e = JET_errOutOfMemory;
    else {
      int what;
      (void)drop_retired(lg, p, lg->gen, b, &what);
    }
    free(p);
  }
  free(b);
  return e;
}

/* Zeros over [from, to) of f, ZERO_CHUNK at a time; with check, a chunk
 * already all zero is read and left alone (*wrote: a chunk was written). */
static JET_ERR zero_fill(esfile *f, uint64_t from, uint64_t to, int check, int *wrote) {
  uint8_t *zeros = calloc(1, ZERO_CHUNK), *chunk = check ? malloc(ZERO_CHUNK) : NULL;
  JET_ERR e = !zeros || (check && !chunk) ? JET_errOutOfMemory : JET_errSuccess;
  for (uint64_t p = from; !e && p < to; p += ZERO_CHUNK) {
    size_t n = to - p < ZERO_CHUNK ? (size_t)(to - p) : ZERO_CHUNK;
    if (check && ((e = os_pread_full(f, chunk, n, p)) || log_all_zero(chunk, n))) continue;
    if (!(e = os_pwrite(f, zeros, n, p))) *wrote = 1;
  }
  free(zeros);
  free(chunk);
  return e;
}

static uint64_t next_tm(uint64_t prev) {
  uint64_t now = os_now_us();
  return now > prev ? now : prev + 1;
}

/* The tm_create of the next generation (mu held): after the current one's
 * and after every commit appended so far (last_commit_us), whatever the
 * wall clock says now. */
static uint64_t next_gen_tm(const eslog *lg) {
  return next_tm(lg->last_commit_us > lg->tm_create ? lg->last_commit_us : lg->tm_create);
}

/* A file of file_size bytes under the name tmp (a stale one is removed
 * first) that reads as zeros after the header's place, its blocks
 * reserved (os_reserve) or, where the file system cannot or a fault is
 * armed, written with zeros; the header is written (and the whole synced)
 * when the file becomes a generation.  sync: synced here too (the
 * preparer thread), so that the roll's sync has only the header to
 * write. */
static JET_ERR make_zero_file(esio *io, const char *tmp, uint32_t file_size, int sync, esfile **out) {
  esfile *f;
  JET_ERR e = os_create_new(io, tmp, &f);
  if (e) return e;
  int reserved = 0;
  size_t zn = file_size < (1u << 20) ? file_size : (1u << 20);
  uint8_t *zeros = NULL;
  e = os_reserve(f, file_size, &reserved);
  if (!e && !reserved && !(zeros = calloc(1, zn))) e = JET_errOutOfMemory;
  for (uint32_t off = LOG_HDR_SIZE; !e && !reserved && off < file_size; off += (uint32_t)zn)
    e = os_pwrite(f, zeros, file_size - off < zn ? file_size - off : zn, off);
  free(zeros);
  if (!e && sync) e = os_sync(f);
  if (e) {
    os_close(f);
    (void)os_unlink(io, tmp);
    return e;
  }
  *out = f;
  return JET_errSuccess;
}

/* make_zero_file of Btmp.log (without mu); on a full disk the held spares
 * are deleted (log_release_spares) and, when there were any, it is made
 * once more with their room. */
static JET_ERR make_tmp_file(eslog *lg, uint32_t file_size, int sync, esfile **out) {
  JET_ERR e = make_zero_file(lg->io, lg->tmp_path, file_size, sync, out);
  if (e == JET_errDiskFull && log_release_spares(lg)) e = make_zero_file(lg->io, lg->tmp_path, file_size, sync, out);
  return e;
}

/* The next generation's file Btmp.log with its header (hdr), synced: tf,
 * the file log_prepare_next made ahead (its descriptor, taken from
 * tmp_f: the name is checked to hold it still, os_is_at, and never
 * opened, so that a file another process renamed over Btmp.log meanwhile
 * is never written nor made a generation), or a new one (make_tmp_file:
 * none made ahead, or another file at the name, removed as a stale one);
 * *fresh then.  hdr NULL: tf's header was written and synced ahead
 * (write_hdr_ahead); a new file made instead has no header yet (the
 * caller writes it, and syncs). */
static JET_ERR prepare_tmp(eslog *lg, const uint8_t *hdr, uint32_t file_size, esfile *tf, esfile **out, int *fresh) {
  assert(hdr || tf);
  esfile *f = tf;
  JET_ERR e = JET_errSuccess;
  uint64_t size = 0;
  if (f && !os_is_at(f, lg->tmp_path)) {   /* another's file at the name */
    os_close(f);
    f = NULL;
  }
  *fresh = !f;
  if (!f) e = make_tmp_file(lg, file_size, 0, &f);
  else if ((e = os_size(f, &size)) == JET_errSuccess && size != file_size) e = JET_errLogFileSizeMismatch;
  if (!e && (!hdr || (!(e = os_pwrite(f, hdr, LOG_HDR_SIZE, 0)) && !(e = os_sync(f))))) {
    *out = f;
    return JET_errSuccess;
  }
  os_close(f);
  (void)os_unlink(lg->io, lg->tmp_path);
  return e;
}

/* Renames the log's new file f (Btmp.log, complete) to B.log.  The rename
 * is by name: when another process put its own file at Btmp.log right
 * before it, that file is at B.log then (os_is_at): it goes back, nothing
 * replaced (os_rename_noreplace), and the result is JET_errLogWriteFail,
 * as after a crash between a roll's renames (no B.log; f, its name lost,
 * never becomes a generation). */
static JET_ERR rename_current(eslog *lg, esfile *f) {
  JET_ERR e = os_rename_file(f, lg->cur_path);
  if (!e && !os_is_at(f, lg->cur_path)) {
    /* back at Btmp.log when it can go there without replacing anything;
     * else it stays at B.log: never deleted, and the log stops either way */
    (void)os_rename_noreplace(lg->io, lg->cur_path, lg->tmp_path);
    e = JET_errLogWriteFail;
  }
  return e;
}

/* A spare name holding a retired generation's file (mu held), or -1. */
static int spare_held(const eslog *lg) {
  for (uint32_t k = 0; k < lg->nreuse; k++)
    if (lg->reuse[k] == REUSE_HELD) return (int)k;
  return -1;
}

/* Whether Btmp.log is to be made now (mu held). */
static int tmp_wanted(const eslog *lg) {
  if (lg->err || lg->tmp_busy || lg->rolling) return 0;
  if (!lg->tmp_ready) return !lg->tmp_short || spare_held(lg) >= 0;   /* a spare needs no room */
  return !lg->tmp_stale_end && spare_held(lg) >= 0;   /* a new one made ahead gives way to a spare */
}

/* The next generation's header hdr written into Btmp.log f ahead of the
 * roll, and f synced (its zeros or a spare's zeroed slots with it): the
 * roll that takes the file then writes and syncs nothing of it
 * (prepare_tmp). */
static JET_ERR write_hdr_ahead(esfile *f, const uint8_t *hdr) {
  JET_ERR e = os_pwrite(f, hdr, LOG_HDR_SIZE, 0);
  return e ? e : os_sync(f);
}

/* Where the bytes of f (size bytes, a closed generation's: zeros after its
 * last record) stop being zeros: *end, read back from the end a chunk at a
 * time (LOG_DATA_START when there are none). */
static JET_ERR data_end(esfile *f, uint32_t size, uint32_t *end) {
  uint8_t *c = malloc(ZERO_CHUNK);
  if (!c) return JET_errOutOfMemory;
  JET_ERR e = JET_errSuccess;
  *end = LOG_DATA_START;
  for (uint32_t at = size; !e && at > LOG_DATA_START;) {
    uint32_t from = at - LOG_DATA_START > ZERO_CHUNK ? at - ZERO_CHUNK : LOG_DATA_START, n = at - from;
    if ((e = os_pread_full(f, c, n, from))) break;
    while (n > 0 && c[n - 1] == 0) n--;
    if (n) {
      *end = from + n;
      break;
    }
    at = from;
  }
  free(c);
  return e;
}

/* A retired generation's file, at spare name path, as Btmp.log (without
 * mu; the caller owns tmp_busy): *taken SPARE_TAKEN when it is there,
 * its slots zeroed (and hdr written, when given).  Taken only when it is a
 * retired generation of this stream below gen with one name (spare_check:
 * SC_OURS).  Anything not known to be this log's (SC_FOREIGN) is someone
 * else's: never written nor deleted, *taken SPARE_FOREIGN (no error), the
 * name not used again by this run (a file a past run found there when it
 * opened is taken for a spare and checked here).  An error that may pass
 * (SC_RETRY): *taken SPARE_RETRY, the name held, tried again later.  This
 * stream's file it can never take (SC_DEAD) and a retired generation not
 * of the size of new files (this is the one check of it: log_retire keeps
 * any) are unlinked at that name instead (SPARE_UNUSED, no error).  *old_end: where its old bytes
 * end (data_end), for the roll that closes the generation made of it.
 * Order: the rename (over a new
 * Btmp.log made ahead, if any), the folder synced, then the slots'
 * zeros: a crash before the folder's sync may leave the file under the
 * spare name, never changed; its header and records stay until the roll
 * writes the header (or hdr, given, is written and synced here: the
 * next generation's, write_hdr_ahead) and appends overwrite them.  The checks are made on
 * the open descriptor and the rename is by name: when what the rename
 * moved is not the file checked (os_is_at: another process swapped the
 * name meanwhile), *taken is SPARE_SWAPPED and nothing is written to
 * either file: what the rename moved goes back to the spare name (when
 * nothing is there again: os_rename_noreplace), Btmp.log (the log's own
 * name) must be made anew, which removes what is still there (as a stale
 * one), and the spare name is someone else's from then on. */
enum { SPARE_UNUSED, SPARE_TAKEN, SPARE_SWAPPED, SPARE_FOREIGN, SPARE_RETRY };
static JET_ERR take_spare(eslog *lg, const char *path, uint32_t gen, const uint8_t *hdr,
                          int *taken, uint32_t *old_end, esfile **kept) {
  *kept = NULL;
  *taken = SPARE_UNUSED;
  *old_end = 0;
  esfile *f = NULL;
  uint64_t fsize = 0;
  uint8_t *b = calloc(1, LOG_HDR_SIZE > 2 * LOG_BLOCK ? LOG_HDR_SIZE : 2 * LOG_BLOCK);
  if (!b) return JET_errOutOfMemory;
  int what = spare_check(lg, path, OS_WRITE, gen, b, &f);
  JET_ERR e = JET_errSuccess;
  if (what == SC_FOREIGN) *taken = SPARE_FOREIGN;   /* not known to be this log's: left alone */
  if (what == SC_RETRY) *taken = SPARE_RETRY;       /* not known now: held, tried again */
  int fits = what == SC_OURS && !os_size(f, &fsize) && fsize == lg->new_file_size;
  /* how far its old bytes reach: the roll that closes the generation made
   * of it zeroes after its last record up to there, no further */
  if (fits) fits = data_end(f, (uint32_t)fsize, old_end) == JET_errSuccess;
  if (fits) {
    memset(b, 0, 2 * LOG_BLOCK);
    if (!(e = os_rename_file(f, lg->tmp_path))) *taken = os_is_at(f, lg->tmp_path) ? SPARE_TAKEN : SPARE_SWAPPED;
    if (!e && *taken == SPARE_TAKEN) e = os_sync_dir(lg->io, lg->dir);
    if (!e && *taken == SPARE_TAKEN) e = os_pwrite(f, b, 2 * LOG_BLOCK, LOG_SLOT_A);
    if (!e && *taken == SPARE_TAKEN && hdr) e = write_hdr_ahead(f, hdr);
  }
  /* the other's, back; when it cannot go back (its name taken again, or a
   * file system without a rename that replaces nothing nor links), it
   * stays at Btmp.log and the log stops: making Btmp.log anew would delete it */
  if (*taken == SPARE_SWAPPED && os_rename_noreplace(lg->io, lg->tmp_path, path) && !e) e = JET_errLogWriteFail;
  free(b);
  if (!e && *taken == SPARE_TAKEN) *kept = f;   /* Btmp.log's file, for tmp_f */
  else if (*taken != SPARE_UNUSED) os_close(f);
  else {   /* not of use (this stream's, SC_DEAD, or not fitting; or gone): a new file is made instead */
    (void)unlink_checked(lg, path, f);
    e = JET_errSuccess;
  }
  return e;
}

/* Makes Btmp.log (mu held; released during the I/O): from a spare when one
 * is held (replacing a new one made ahead), else a new file (none made
 * ahead); tmp_busy meanwhile, then tmp_ready (tmp_f its file), tmp_short
 * (disk full) or the log's sticky error. */
static JET_ERR make_tmp_locked(eslog *lg, int sync) {
  assert(tmp_wanted(lg));
  lg->tmp_busy = 1;
  int k = spare_held(lg), was_ready = lg->tmp_ready;
  esfile *old_f = lg->tmp_f, *new_f = NULL;   /* the file made ahead before, if any; the one made now */
  lg->tmp_f = NULL;
  if (k >= 0) lg->reuse[k] = REUSE_MOVING;
  lg->tmp_ready = 0;
  lg->tmp_stale_end = 0;
  uint32_t size = lg->new_file_size, gen = lg->gen;
  log_sig sig = lg->sig;
  /* On the preparer thread (sync) the next generation's header goes in
   * ahead too, so that a roll (on a committing thread) only renames; none
   * when it cannot be made now (no memory, the last generation): the
   * roll writes it. */
  uint8_t *hdr = sync && gen < LOG_MAX_GEN ? malloc(LOG_HDR_SIZE) : NULL;
  uint64_t tm_new = next_gen_tm(lg), att_ver = lg->att_ver, ncommits = lg->ncommits;
  if (hdr && log_hdr_encode(hdr, gen + 1, lg->page_size, size, &sig, tm_new, lg->tm_create, lg->att, lg->natt)) {
    free(hdr);
    hdr = NULL;
  }
  pthread_mutex_unlock(&lg->mu);
  int taken = SPARE_UNUSED, made = 0;
  uint32_t old_end = 0;
  JET_ERR e = k >= 0 ? take_spare(lg, lg->reuse_path[k], gen, hdr, &taken, &old_end, &new_f)
                     : JET_errSuccess;
  if (!e && taken != SPARE_TAKEN && (!was_ready || taken == SPARE_SWAPPED)) {   /* none, or not the one checked */
    e = make_tmp_file(lg, size, sync && !hdr, &new_f);
    if (!e && hdr) e = write_hdr_ahead(new_f, hdr);
    made = 1;
  }
  if (e && (taken == SPARE_TAKEN || made)) (void)os_unlink(lg->io, lg->tmp_path);   /* never left half made */
  if (e || new_f) {   /* replaced (its name went to the new one), or none ready after an error */
    os_close(old_f);
    old_f = NULL;
  }
  if (e) {
    os_close(new_f);
    new_f = NULL;
  }
  int have_hdr = hdr != NULL;
  free(hdr);
  pthread_mutex_lock(&lg->mu);
  assert(lg->tmp_busy && !lg->tmp_ready && !lg->rolling);   /* a roll waits while tmp_busy */
  lg->tmp_busy = 0;
  if (k >= 0)
    lg->reuse[k] = taken == SPARE_FOREIGN || taken == SPARE_SWAPPED ? REUSE_FOREIGN
                   : taken == SPARE_RETRY                           ? REUSE_HELD
                                                                    : REUSE_NONE;
  if (e) lg->tmp_hdr_gen = 0;
  if (e == JET_errDiskFull) lg->tmp_short = 1;   /* the current file still takes records */
  else if (e) lg->err = e;                       /* the log cannot go on without its next file */
  else {
    lg->tmp_ready = 1;
    lg->tmp_f = new_f ? new_f : old_f;
    lg->tmp_stale_end = taken == SPARE_TAKEN ? old_end : 0;
    if (taken == SPARE_TAKEN || made) {   /* a file made ready ahead before (not replaced) keeps its header */
      lg->tmp_hdr_gen = have_hdr ? gen + 1 : 0;
      lg->tmp_hdr_tm = tm_new;
      lg->tmp_hdr_att = att_ver;
      lg->tmp_hdr_commits = ncommits;
    }
  }
  pthread_cond_broadcast(&lg->cv);
  return e == JET_errDiskFull ? JET_errSuccess : e;
}

/* Log recycling (log.h): the file of a generation no longer needed is kept
 * under a free spare name (a rename: its bytes unchanged, so the folder
 * need not be synced; after a crash it is under one name or the other),
 * or deleted when there is none (take_spare checks it when it is taken,
 * and deletes one not of use).  A free
 * name is one where nothing is: a folder, a link or a file someone put
 * there is left alone (renamed over, a folder would fail this retire and
 * every later one, a checkpoint with it; a link would be replaced) and the
 * name is not used again by this log; a rename that fails all the same
 * deletes the file instead.  A generation with another name (a hard link,
 * as an archive_command "ln %p ..." makes) is deleted (that name keeps
 * its bytes), never kept: take_spare leaves such a file alone, so it would
 * hold the spare name for good. */
JET_ERR log_retire(eslog *lg, const char *path) {
  esfile *f = NULL;
  int sole = os_open(lg->io, path, OS_READ | OS_NOFOLLOW, &f) == JET_errSuccess && os_sole_name(f);
  os_close(f);
  int k = -1;
  while (sole) {   /* each turn marks a name REUSE_FOREIGN or ends */
    pthread_mutex_lock(&lg->mu);
    k = -1;
    for (uint32_t i = 0; !lg->err && i < lg->nreuse && k < 0; i++)
      if (lg->reuse[i] == REUSE_NONE) k = (int)i;
    if (k >= 0) lg->reuse[k] = REUSE_MOVING;
    pthread_mutex_unlock(&lg->mu);
    if (k < 0 || os_kind(lg->reuse_path[k]) == OS_ABSENT) break;
    pthread_mutex_lock(&lg->mu);
    lg->reuse[k] = REUSE_FOREIGN;
    pthread_mutex_unlock(&lg->mu);
  }
  int keep = k >= 0, planted = 0;
  if (keep) os_hold_point(lg->io, "log-retire");   /* a harness plants a file here (spec/c/log_test.c) */
  /* never over a file made at the name since the look above (another
   * program's): that name is then left alone for good */
  JET_ERR e = keep ? os_rename_noreplace(lg->io, path, lg->reuse_path[k]) : os_unlink(lg->io, path);
  if (keep && e) {
    planted = os_kind(lg->reuse_path[k]) != OS_ABSENT;
    keep = 0;
    e = os_unlink(lg->io, path);
  }
  if (k >= 0) {
    pthread_mutex_lock(&lg->mu);
    lg->reuse[k] = keep && !e ? REUSE_HELD : planted ? REUSE_FOREIGN : REUSE_NONE;
    pthread_mutex_unlock(&lg->mu);
  }
  /* Gone already: a backup's truncation (on its worker, without the
   * instance lock) and a commit's circular checkpoint may both retire a
   * generation below their pins; the second finds it gone, as wanted. */
  return e == JET_errFileNotFound ? JET_errSuccess : e;
}

/* Spares on a full disk (log.h): each HELD name is marked MOVING under mu
 * (so that neither the preparer nor log_retire uses it meanwhile), its
 * file deleted without mu when it is still a retired generation of this
 * stream (drop_retired: another process may have put its own file or a
 * link at the name since), the name then free (NONE), HELD again after an
 * error that may pass (SC_RETRY: no descriptor, EIO), or FOREIGN when
 * something else is there (left alone, never used).  Btmp.log, made from
 * a spare or new, is the next generation's and stays. */
uint32_t log_release_spares(eslog *lg) {
  uint32_t freed = 0;
  uint8_t *b = lg->nreuse ? malloc(LOG_HDR_SIZE) : NULL;
  for (uint32_t k = 0; b && k < lg->nreuse; k++) {
    pthread_mutex_lock(&lg->mu);
    int held = lg->reuse[k] == REUSE_HELD;
    uint32_t gen = lg->gen;
    if (held) lg->reuse[k] = REUSE_MOVING;
    pthread_mutex_unlock(&lg->mu);
    if (!held) continue;
    int what, gone = drop_retired(lg, lg->reuse_path[k], gen, b, &what);
    freed += (uint32_t)gone;
    gone = gone || os_kind(lg->reuse_path[k]) == OS_ABSENT;
    pthread_mutex_lock(&lg->mu);   /* an error that may pass (SC_RETRY): held, tried again */
    lg->reuse[k] = gone ? REUSE_NONE : what == SC_RETRY ? REUSE_HELD : REUSE_FOREIGN;
    pthread_mutex_unlock(&lg->mu);
  }
  free(b);   /* no memory: nothing freed (the caller's JET_errDiskFull stands) */
  return freed;
}

/* The preparer thread: makes Btmp.log (synced) whenever a commit asked
 * for it and it is wanted, until lg_free stops it. */
static void *prep_main(void *arg) {
  eslog *lg = arg;
  os_block_signals();   /* the application's threads take its signals */
  pthread_mutex_lock(&lg->mu);
  for (;;) {
    while (lg->prep == PREP_RUNNING && !lg->prep_want) pthread_cond_wait(&lg->prep_cv, &lg->mu);
    if (lg->prep != PREP_RUNNING) break;
    lg->prep_want = 0;
    if (tmp_wanted(lg)) (void)make_tmp_locked(lg, 1);   /* a failure is the log's sticky error */
    else pthread_cond_broadcast(&lg->cv);                /* a roll may wait for prep_want */
  }
  pthread_mutex_unlock(&lg->mu);
  return NULL;
}

JET_ERR log_prepare_next(eslog *lg) {
  pthread_mutex_lock(&lg->mu);
  JET_ERR e = lg->err;
  if (!tmp_wanted(lg)) {
    pthread_mutex_unlock(&lg->mu);
    return e;
  }
  if (lg->prep == PREP_NONE && !esio_ordered(lg->io) && pthread_create(&lg->prep_th, NULL, prep_main, lg) == 0)
    lg->prep = PREP_RUNNING;
  if (lg->prep == PREP_RUNNING) {
    lg->prep_want = 1;
    pthread_cond_signal(&lg->prep_cv);
  } else {
    e = make_tmp_locked(lg, 0);   /* in line: ordered I/O, or no thread could be started */
  }
  pthread_mutex_unlock(&lg->mu);
  return e;
}

JET_ERR log_create(const log_config *cfg, const log_sig *sig, uint32_t gen, uint64_t tm_prev_gen,
                   const log_attach *att, uint32_t natt, eslog **out) {
  return log_create_after(cfg, sig, gen, tm_prev_gen, tm_prev_gen, att, natt, out);
}

JET_ERR log_create_after(const log_config *cfg, const log_sig *sig, uint32_t gen, uint64_t tm_prev_gen,
                         uint64_t after_us, const log_attach *att, uint32_t natt, eslog **out) {
  if (!out) return JET_errInvalidParameter;
  *out = NULL;
  JET_ERR e = cfg_check(cfg);
  if (e) return e;
  if (gen == 0 || gen > LOG_MAX_GEN) return gen > LOG_MAX_GEN ? JET_errLogSequenceEnd : JET_errInvalidParameter;
  eslog *lg;
  if ((e = lg_new(cfg, &lg))) return e;
  if ((e = log_attach_copy(att, natt, &lg->att))) { lg_free(lg); return e; }
  lg->natt = natt;
  if (sig) lg->sig = *sig;
  else os_random(lg->sig.b, sizeof lg->sig.b);
  lg->gen = gen;
  lg->seed = log_seed(gen, &lg->sig, LOG_FEATURES_WRITTEN);
  lg->features = LOG_FEATURES_WRITTEN;
  lg->file_size = cfg->file_size;
  lg->tm_create = next_tm(after_us > tm_prev_gen ? after_us : tm_prev_gen);
  uint8_t *hdr = malloc(LOG_HDR_SIZE);
  if (!hdr) { lg_free(lg); return JET_errOutOfMemory; }
  e = log_hdr_encode(hdr, gen, lg->page_size, lg->file_size, &lg->sig, lg->tm_create, tm_prev_gen, lg->att, lg->natt);
  if (!e && os_exists(lg->cur_path)) e = JET_errFileAlreadyExists;
  int fresh;
  if (!e) e = prepare_tmp(lg, hdr, lg->file_size, NULL, &lg->f, &fresh);
  free(hdr);
  if (!e && (e = rename_current(lg, lg->f)) && e != JET_errLogWriteFail) (void)os_unlink(lg->io, lg->tmp_path);
  if (!e) e = os_sync_dir(lg->io, lg->dir);
  if (!e) e = drop_spares_beyond(lg);
  if (e) { lg_free(lg); return e; }
  lg->buf_off = LOG_DATA_START;
  lg->end = lg->written = lg->durable = LSN(gen, LOG_DATA_START);
  lg->placed = LOG_DATA_START;
  *out = lg;
  return JET_errSuccess;
}

/* The latest commit time in the reopened file f (file_size bytes, its
 * records in place up to off, zeros after): the time in the last 8 bytes
 * of each LR_COMMIT (log.h), 0 when none. */
static JET_ERR last_commit_in_file(esfile *f, uint32_t file_size, uint32_t off, uint64_t *last, uint32_t *nrec) {
  *last = 0;
  if (nrec) *nrec = 0;
  uint8_t *d = calloc(1, file_size);
  if (!d) return JET_errOutOfMemory;
  JET_ERR e = os_pread_full(f, d, off, 0);
  if (e) { free(d); return e; }
  log_reader *rd;
  if ((e = log_reader_open_image(d, file_size, 0, &rd))) return e;   /* d is the reader's */
  log_record rec;
  while ((e = log_reader_next(rd, &rec)) == 0) {
    if (nrec) ++*nrec;
    if (rec.type == LR_COMMIT && rec.len >= 8 && ld64(rec.payload + rec.len - 8) > *last)
      *last = ld64(rec.payload + rec.len - 8);
  }
  log_reader_close(rd);
  return e < 0 ? e : JET_errSuccess;
}

JET_ERR log_last_commit_us(esio *io, const char *path, uint64_t *last) {
  *last = 0;
  esfile *f;
  JET_ERR e = os_open(io, path, OS_READ, &f);
  if (e) return e;
  uint64_t size = 0;
  e = os_size(f, &size);
  if (!e && (size < LOG_DATA_START || size > UINT32_MAX)) e = JET_errLogFileCorrupt;
  if (!e) e = last_commit_in_file(f, (uint32_t)size, (uint32_t)size, last, NULL);
  os_close(f);
  return e;
}

/* 1 when f holds a valid LR_END at pos (any count). */
static int log_end_at(esfile *f, uint32_t pos, uint32_t seed) {
  uint8_t b[LR_END_FRAMED];
  if (os_pread_full(f, b, sizeof b, pos)) return 0;
  return ld32(b) == LR_END_LEN && b[4] == LR_END && log_rec_check(b, sizeof b, 0, seed) && ld32(b + 8) == pos;
}

JET_ERR log_reopen(const log_config *cfg, lsn_t end, eslog **out) {
  if (!out) return JET_errInvalidParameter;
  *out = NULL;
  JET_ERR e = cfg_check(cfg);
  if (e) return e;
  eslog *lg;
  if ((e = lg_new(cfg, &lg))) return e;
  log_header h;
  if ((e = log_read_header(lg->io, lg->cur_path, &h))) { lg_free(lg); return e; }
  uint32_t off = LSN_OFF(end) ? LSN_OFF(end) : LOG_DATA_START;
  if (cfg->page_size && h.page_size != cfg->page_size) e = JET_errPageSizeMismatch;
  else if (LSN_GEN(end) != h.gen || off < LOG_DATA_START || off % 8 != 0 || off > h.file_size)
    e = JET_errInvalidParameter;
  /* an end in the last bytes of a block (a torn record there): appends
   * start at the next block, so that slots can hold the block */
  uint32_t zero_from = off;
  if (off % LOG_BLOCK > LOG_BLOCK - LOG_SLOT_HEAD) {
    off += LOG_BLOCK - off % LOG_BLOCK;
    if (off > h.file_size) off = h.file_size;
  }
  if (!e) e = os_open(lg->io, lg->cur_path, OS_WRITE, &lg->f);
  /* Zero the tail: read it chunk by chunk, rewrite the chunks that are not
   * already zero, and sync when one was.  Then both slots get the block
   * holding off (the slots of the crashed run may hold records after off;
   * the block's bytes before off come from the newest slot holding them,
   * written in place first when the file lags),
   * and a sync.  The zeros are durable before the slots are written: a
   * power cut that tore the slot write (both slots damaged) with the
   * zeroing undone would leave whole records after a torn one, which the
   * reader must call JET_errLogFileCorrupt (log.h). */
  uint8_t *chunk = NULL;
  if (!e && !(chunk = malloc(2 * LOG_BLOCK))) e = JET_errOutOfMemory;
  uint64_t seq = 0;
  uint32_t bstart = off - off % LOG_BLOCK;
  const uint8_t *from_slot = NULL;   /* the newest slot holding [bstart, off) */
  uint64_t from_seq = 0;
  if (!e && !(e = os_pread_full(lg->f, chunk, 2 * LOG_BLOCK, LOG_SLOT_A))) {
    log_slot sl;
    for (uint32_t i = 0; i < 2; i++) {
      if (!log_slot_decode(chunk + i * LOG_BLOCK, h.gen, h.file_size, &sl)) continue;
      if (sl.seq > seq) seq = sl.seq;
      if (off > bstart && sl.q == bstart / LOG_BLOCK && sl.e >= off && sl.seq > from_seq) {
        from_slot = sl.block;
        from_seq = sl.seq;
      }
    }
  }
  if (!e && off > bstart) e = os_pread_full(lg->f, lg->tail, off - bstart, bstart);
  /* A flush that ended in the block of its durable start wrote only its
   * slot (write_range): that block's bytes before off may be in a slot
   * only.  They go in place (synced below) before the slots are rewritten. */
  int zeroed = 0;
  if (!e && from_slot && memcmp(lg->tail, from_slot, off - bstart) != 0) {
    memcpy(lg->tail, from_slot, off - bstart);
    e = os_pwrite(lg->f, lg->tail, off - bstart, bstart);
    zeroed = 1;
  }
  if (!e) e = zero_fill(lg->f, zero_from, h.file_size, 1, &zeroed);
  if (!e && zeroed) e = os_sync(lg->f);
  if (!e) {
    for (uint32_t i = 0; i < 2; i++) {
      seq++;
      log_slot_encode(chunk + (seq % 2) * LOG_BLOCK, h.gen, seq, off, off, lg->tail);
    }
    e = os_pwrite(lg->f, chunk, 2 * LOG_BLOCK, LOG_SLOT_A);
  }
  free(chunk);
  if (!e) e = os_sync(lg->f);
  /* the next commit's time and the next generation's tm_create come after
   * the commits already in the file, even with the clock stepped back
   * since they were written */
  if (!e) e = last_commit_in_file(lg->f, h.file_size, off, &lg->last_commit_us, &lg->nrec);
  if (e) { log_header_clear(&h); lg_free(lg); return e; }
  lg->sig = h.sig;
  lg->gen = h.gen;
  lg->seed = log_hdr_seed(&h);
  lg->file_size = h.file_size;
  lg->page_size = h.page_size;
  lg->tm_create = h.tm_create;
  uint32_t features = h.features;
  lg->features = features;
  /* A B.log that ends in its LR_END: a roll closed it and a crash came
   * before its renames.  Nothing more goes into it; it rolls at once. */
  lg->closed = 0;
  /* right before the end, or before the padding a durable write put
   * after it (the end then at a block's start) */
  for (uint32_t pad = 0; (features & LOG_FEATURE_ENDMARK) && !lg->closed && pad < LOG_SLOT_HEAD; pad += 8)
    if ((pad == 0 || zero_from % LOG_BLOCK == 0) && zero_from >= LOG_DATA_START + LR_END_FRAMED + pad)
      lg->closed = log_end_at(lg->f, zero_from - LR_END_FRAMED - pad, lg->seed);
  /* the table of new generations starts empty: a reopened stream starts a
   * new run, with no database attached (the header's are a past run's) */
  log_header_clear(&h);
  if ((e = drop_spares_beyond(lg))) { lg_free(lg); return e; }
  lg->seq = seq;
  lg->buf_off = off;
  lg->end = lg->written = lg->durable = LSN(lg->gen, off);
  lg->placed = off;
  if (off > LOG_DATA_START) lg->first_us = os_mono_us();   /* records of a past run, not yet in a closed file */
  /* A file made by a version without a feature bit this one writes (log
   * format 5 before LR_UNLINK / LR_FREEPAGE): nothing is appended to it,
   * so that no record its header does not announce is ever in it (a
   * version without the bit reads it whole); the next generation, which
   * has the bit, takes the appends. */
  if (((features & LOG_FEATURES_WRITTEN) != LOG_FEATURES_WRITTEN || lg->closed) && (e = log_roll(lg))) {
    (void)log_close(lg);
    return e;
  }
  *out = lg;
  return JET_errSuccess;
}

/* A closed B.log holds its records in place (no bytes in a slot only):
 * the bytes a flush left in its slot alone are written in place, then
 * synced.  Neither slot is written, so a torn write here loses nothing. */
JET_ERR log_close(eslog *lg) {
  if (!lg) return JET_errSuccess;
  JET_ERR e = log_flush(lg, log_end(lg));
  pthread_mutex_lock(&lg->mu);
  assert(e || !lg->busy);   /* the caller closes after its last append */
  uint32_t w = LSN_OFF(lg->written), p = lg->placed;
  if (!e && !lg->err && p < w) {
    e = os_pwrite(lg->f, lg->tail + p % LOG_BLOCK, w - p, p);
    if (!e) e = os_sync(lg->f);
    if (!e) lg->placed = w;
  }
  pthread_mutex_unlock(&lg->mu);
  lg_free(lg);
  return e;
}

/* Takes the buffered range for a write: the caller holds mu and has set
 * busy.  Swaps the buffers so appends go on into the other one. */
static void take_buffer(eslog *lg, uint8_t **wb, size_t *wlen, uint32_t *woff) {
  *wb = lg->buf;
  *wlen = lg->len;
  *woff = lg->buf_off;
  uint8_t *t = lg->buf;
  size_t tc = lg->cap;
  lg->buf = lg->spare;
  lg->cap = lg->spare_cap;
  lg->spare = t;
  lg->spare_cap = tc;
  lg->buf_off += (uint32_t)lg->len;
  lg->len = 0;
}

/* Before a durable write (mu held, busy): when the buffered data would end
 * in the last LOG_SLOT_HEAD bytes of a block, zeros to the block's end (or
 * the file's), so that the slot holds the block's durable bytes.  The
 * buffer always has room (log_append2 keeps LOG_SLOT_HEAD spare). */
static void pad_for_slot(eslog *lg) {
  uint32_t e = lg->buf_off + (uint32_t)lg->len, in = e % LOG_BLOCK;
  if (in <= LOG_BLOCK - LOG_SLOT_HEAD) return;
  uint32_t to = e - in + LOG_BLOCK;
  if (to > lg->file_size) to = lg->file_size;
  assert(lg->len + (to - e) <= lg->cap);
  memset(lg->buf + lg->len, 0, to - e);
  lg->len += to - e;
  lg->end += to - e;
}

/* Writes the range wb[0 .. wlen) at woff of f (the owner of busy, without
 * mu; wb is a taken buffer, with LOG_BLOCK bytes of room before it) and
 * keeps tail.  Not durable: in place, from placed on.  Durable, with the
 * slot of flush seq (durable range [s, woff + wlen)) and one sync:
 *  - a flush that ends in the block holding placed (in_place 0) writes
 *    only its slot: the block's bytes from placed on stay in the slot
 *    until a later write puts them in place (one write per flush, as a
 *    raw pwrite + fdatasync);
 *  - otherwise (or in_place: a roll's last write, which leaves the file
 *    complete in place) the range goes in place from placed on, then the
 *    slot.
 * Either way slot (seq - 1) mod 2, which holds the durable bytes of the
 * block that placed is in, is not written. */
static JET_ERR write_range(eslog *lg, esfile *f, uint32_t gen, uint8_t *wb, size_t wlen, uint32_t woff, int durable,
                           int in_place, uint64_t seq, uint32_t s) {
  JET_ERR e = JET_errSuccess;
  uint32_t w = woff + (uint32_t)wlen, in = w % LOG_BLOCK, p = lg->placed;
  assert(p <= woff && (p == woff || p / LOG_BLOCK == woff / LOG_BLOCK));
  if (!durable || in_place || w / LOG_BLOCK != p / LOG_BLOCK) {
    uint32_t lag = woff - p;   /* bytes only a slot holds so far: tail[p % LOG_BLOCK, woff % LOG_BLOCK) */
    memcpy(wb - lag, lg->tail + p % LOG_BLOCK, lag);
    if (w > p) e = os_pwrite(f, wb - lag, w - p, p);
    if (!e) lg->placed = w;
  }
  if (!e && wlen) {
    if (w / LOG_BLOCK == woff / LOG_BLOCK) memcpy(lg->tail + woff % LOG_BLOCK, wb, wlen);
    else {
      memset(lg->tail, 0, LOG_BLOCK);
      memcpy(lg->tail, wb + (w - in - woff), in);
    }
  }
  if (!e && durable) {
    log_slot_encode(lg->slot, gen, seq, s, w, lg->tail);
    e = os_pwrite(f, lg->slot, LOG_BLOCK, seq % 2 ? LOG_SLOT_B : LOG_SLOT_A);
  }
  if (!e && durable) e = os_sync(f);
  return e;
}

/* Waits (mutex held) up to us microseconds for one more append. */
static void delay_for_append(eslog *lg, uint64_t us) {
  struct timespec ts = os_deadline(CLOCK_REALTIME, us);
  uint64_t before = lg->nappends;
  lg->delaying = 1;
  while (lg->nappends == before && !lg->err)
    if (pthread_cond_timedwait(&lg->appended, &lg->mu, &ts) != 0) break;
  lg->delaying = 0;
  if (lg->nappends == before) lg->waited_in_sync = 0;   /* nobody came: stop delaying */
}

/* Writes out (and with sync, syncs) everything appended, until the record
 * at lsn (or the end position lsn) is written (durable).  Mutex held. */
static JET_ERR write_out(eslog *lg, lsn_t lsn, int sync) {
  for (;;) {
    if (lg->err) return lg->err;
    /* positions are record boundaries: x > lsn covers the record starting
     * at lsn; x >= end covers any end position */
    lsn_t have = sync ? lg->durable : lg->written;
    if (have > lsn || have >= lg->end) return JET_errSuccess;
    if (lg->busy) {
      if (sync) lg->waited_in_sync = 1;
      pthread_cond_wait(&lg->cv, &lg->mu);
      continue;
    }
    lg->busy = 1;
    if (sync && lg->waited_in_sync && lg->last_sync_us) {
      uint64_t d = lg->last_sync_us / 2;
      delay_for_append(lg, d > 2000 ? 2000 : d);
    }
    uint8_t *wb;
    size_t wlen;
    uint32_t woff;
    if (sync) pad_for_slot(lg);
    take_buffer(lg, &wb, &wlen, &woff);
    esfile *f = lg->f;
    uint32_t gen = lg->gen, s = LSN_OFF(lg->durable);
    uint64_t seq = sync ? ++lg->seq : 0;
    pthread_mutex_unlock(&lg->mu);
    uint64_t t0 = sync ? os_mono_us() : 0;
    JET_ERR e = write_range(lg, f, gen, wb, wlen, woff, sync, 0, seq, s);
    uint64_t took = sync ? os_mono_us() - t0 : 0;
    pthread_mutex_lock(&lg->mu);
    if (e) lg->err = e;
    else {
      lg->written = LSN(gen, woff + (uint32_t)wlen);
      if (sync) {
        lg->durable = lg->written;
        lg->last_sync_us = took;
      }
    }
    lg->busy = 0;
    pthread_cond_broadcast(&lg->cv);
  }
}

JET_ERR log_flush(eslog *lg, lsn_t lsn) {
  pthread_mutex_lock(&lg->mu);
  JET_ERR e = write_out(lg, lsn, 1);
  pthread_mutex_unlock(&lg->mu);
  return e;
}

/* The closing file's LR_END (u32 its offset, u32 the records before it),
 * put in the buffer (mu held, at the switch): append kept its room in the
 * file (end_room) and in the buffer.  It goes out in the roll's last write
 * of the file, whose sync precedes the renames, so a generation with a
 * successor always ends in it (docs/format.md). */
static void put_end(eslog *lg) {
  uint32_t off = LSN_OFF(lg->end);
  assert(off + LR_END_FRAMED <= lg->file_size && lg->len + LR_END_FRAMED + LOG_SLOT_HEAD <= lg->cap);
  log_end_encode(lg->buf + lg->len, lg->seed, off, lg->nrec);
  lg->len += LR_END_FRAMED;
  lg->end += LR_END_FRAMED;
}

/* A roll in two parts, so that appends and flushes of the closing file go on
 * while the next file is made.  Part 1 (rolling set, the log not busy):
 * Btmp.log made complete with the next generation's header and synced,
 * without the mutex.  Part 2, the switch: under the mutex the buffered
 * bytes are taken for the closing file and appends go on at once into the
 * new generation (gen, end, file_size and the buffer's offset are the new
 * file's); then, busy and without the mutex, the closing file's last bytes
 * in place and synced, the two renames and the folder's sync.  written and
 * durable stay in the closing generation until then, so a flush of a new
 * record waits for the switch (busy), and one of an older record is served
 * by the switch's sync.  Rolls run one at a time (rolling); only_gen != 0:
 * roll only when the current generation is still only_gen once this roll
 * owns the log (a full file rolled by another roll meanwhile is not rolled
 * again).  note: log_take_rolled reports it.  if_idle: nothing when
 * another roll runs (it closes the current generation). */
static JET_ERR roll(eslog *lg, uint32_t only_gen, int note, int if_idle) {
  uint8_t *hdr = malloc(LOG_HDR_SIZE);
  if (!hdr) return JET_errOutOfMemory;
  pthread_mutex_lock(&lg->mu);
  /* A file asked of the preparer (prep_want) or being made is waited for,
   * so that the roll makes it itself only when none was asked for (a roll
   * before the first commit, or after a full disk). */
  while ((lg->rolling || lg->tmp_busy || lg->prep_want) && !lg->err && !(if_idle && lg->rolling))
    pthread_cond_wait(&lg->cv, &lg->mu);
  JET_ERR e = lg->err;
  if (!e && ((only_gen && lg->gen != only_gen) || (if_idle && lg->rolling))) {   /* rolled by another roll meanwhile */
    pthread_mutex_unlock(&lg->mu);
    free(hdr);
    return JET_errSuccess;
  }
  if (!e && lg->gen >= LOG_MAX_GEN) e = JET_errLogSequenceEnd;
  uint32_t gen = lg->gen, ngen = gen + 1;
  /* A header the preparer wrote ahead for this generation and attach
   * table, when no commit came into the closing generation since (counted:
   * ncommits; a time compared could let one through when the wall clock
   * stepped back): a generation's tm_create is after every commit of the
   * ones before it (a restore to a point in time bounds the commits a
   * backup's copies may hold by it: restore.c, copy_end_time), which
   * next_gen_tm made so when it was encoded, and which holds only while
   * no commit comes.  A transaction whose records fill the file (a long
   * value) rolls before its own commit. */
  int hdr_ahead = lg->tmp_ready && lg->tmp_hdr_gen == ngen && lg->tmp_hdr_att == lg->att_ver &&
                  lg->tmp_hdr_commits == lg->ncommits && lg->last_commit_us < lg->tmp_hdr_tm;
  uint64_t tm_prev = lg->tm_create, tm_new = hdr_ahead ? lg->tmp_hdr_tm : next_gen_tm(lg);
  if (!e && !hdr_ahead)   /* else encoded only if the switch must write it again */
    e = log_hdr_encode(hdr, ngen, lg->page_size, lg->new_file_size, &lg->sig, tm_new, tm_prev, lg->att, lg->natt);
  if (e) {
    pthread_mutex_unlock(&lg->mu);
    free(hdr);
    return e;
  }
  esfile *nf = NULL;
  uint32_t nsize = lg->new_file_size;
  int ready = lg->tmp_ready;
  uint32_t stale_end = ready ? lg->tmp_stale_end : 0;
  esfile *tf = lg->tmp_f;   /* the file made ahead (ready) */
  lg->tmp_f = NULL;
  lg->tmp_ready = 0;
  lg->tmp_stale_end = 0;
  lg->tmp_hdr_gen = 0;
  lg->tmp_short = 0;        /* the roll makes the file now; the next may be made ahead again */
  lg->rolling = 1;          /* Btmp.log is the roll's until it is renamed; no other roll starts */
  uint64_t att_ver = lg->att_ver;
  esfile *closing = lg->f;
  uint32_t ztop = lg->stale_end < lg->file_size ? lg->stale_end : lg->file_size;
  pthread_mutex_unlock(&lg->mu);

  /* part 1: the next file, while the closing one takes records; first, a
   * recycled closing file's old bytes more than ROLL_ROOM after its end
   * are zeroed from the top down, a chunk at a time, appends and flushes
   * going on: an append that would reach the chunk being written waits
   * for it (limit), one after it writes over its zeros; the switch, which
   * flushes wait for, zeroes what is left, about ROLL_ROOM (a little-used
   * file's roll: a backup's cut-off, archive_timeout) */
  char *arch = log_file_name(lg->dir, lg->base, gen);
  if (!arch) e = JET_errOutOfMemory;
  if (!e && os_exists(arch)) e = JET_errFileAlreadyExists;  /* never overwrite an archived file */
  os_hold_point(lg->io, "log-next");   /* a harness holds the roll here (spec/c/commit_during_cutoff.c) */
  int zeroed = 0;           /* a recycled file: zeros after its last record (log.h) */
  uint32_t zeros_from = 0;  /* the closing file is zeros from here to ztop (0: none written) */
  for (uint32_t top = ztop; !e && top;) {
    pthread_mutex_lock(&lg->mu);
    uint32_t lo = (LSN_OFF(lg->end) + ROLL_ROOM + LOG_BLOCK - 1) / LOG_BLOCK * LOG_BLOCK;
    uint32_t a = top > ZERO_CHUNK ? (top - ZERO_CHUNK) / LOG_BLOCK * LOG_BLOCK : 0;
    if (a < lo) a = lo;
    if (a < top) lg->limit = a;   /* end <= a - ROLL_ROOM: no write of the log reaches [a, top) */
    pthread_mutex_unlock(&lg->mu);
    if (a >= top) break;
    os_hold_point(lg->io, "log-zeros");   /* a harness holds a chunk here (spec/c/log_test.c) */
    e = zero_fill(closing, a, top, 0, &zeroed);
    pthread_mutex_lock(&lg->mu);
    lg->limit = 0;
    pthread_cond_broadcast(&lg->cv);
    pthread_mutex_unlock(&lg->mu);
    if (!e) zeros_from = top = a;
  }
  int fresh = 0;   /* a new file, not the one made ahead (none, or another's file took its name) */
  if (!e) e = prepare_tmp(lg, hdr_ahead ? NULL : hdr, nsize, tf, &nf, &fresh);
  else os_close(tf);
  if (fresh) stale_end = 0;   /* a new file (zeros), not the spare made ahead: no old bytes to zero at its roll */

  /* part 2: the switch */
  pthread_mutex_lock(&lg->mu);
  while (lg->busy && !lg->err) pthread_cond_wait(&lg->cv, &lg->mu);
  assert(lg->rolling && gen == lg->gen);   /* no other roll ran: rolling */
  if (!e) e = lg->err;
  int rewrite = 0;
  /* The header again when the attach table changed meanwhile, or a commit
   * came into the closing generation after tm_new (during part 1: the
   * closing file took records): the last commit before the switch is
   * known here, under mu, and the new generation is created after it. */
  if (!e && lg->last_commit_us >= tm_new) {
    tm_new = next_tm(lg->last_commit_us);
    rewrite = 1;
  }
  if (!e && (rewrite || lg->att_ver != att_ver || (hdr_ahead && fresh))) {   /* fresh: no header yet */
    e = log_hdr_encode(hdr, ngen, lg->page_size, nsize, &lg->sig, tm_new, tm_prev, lg->att, lg->natt);
    rewrite = 1;
  }
  if (e) {
    lg->rolling = 0;
    pthread_cond_broadcast(&lg->cv);
    pthread_mutex_unlock(&lg->mu);
    if (nf) {
      os_close(nf);
      (void)os_unlink(lg->io, lg->tmp_path);
    }
    free(arch);
    free(hdr);
    return e;
  }
  lg->busy = 1;
  uint8_t *wb;
  size_t wlen;
  uint32_t woff;
  if (end_room(lg) && !lg->closed) put_end(lg);   /* the closing file's LR_END, in its last write */
  pad_for_slot(lg);
  take_buffer(lg, &wb, &wlen, &woff);
  uint32_t s = LSN_OFF(lg->durable);
  int unsynced = lg->durable < lg->written;   /* written == LSN(gen, woff): not busy before */
  uint64_t seq = ++lg->seq;
  esfile *old = lg->f;
  uint32_t old_size = lg->file_size;
  uint32_t old_stale = zeros_from ? zeros_from : lg->stale_end;   /* zeros from zeros_from on: part 1 */
  /* appends go on into the new generation: the records' lsns and CRCs are
   * ngen's, its file is made; flushes wait (busy) */
  lg->gen = ngen;
  lg->seed = log_seed(ngen, &lg->sig, LOG_FEATURES_WRITTEN);
  lg->features = LOG_FEATURES_WRITTEN;
  lg->nrec = 0;
  lg->closed = 0;
  lg->file_size = nsize;
  lg->tm_create = tm_new;
  lg->buf_off = LOG_DATA_START;
  lg->end = LSN(ngen, LOG_DATA_START);
  lg->first_us = 0;
  pthread_mutex_unlock(&lg->mu);

  int synced = 0;
  if (rewrite) {
    e = os_pwrite(nf, hdr, LOG_HDR_SIZE, 0);
    if (!e) e = os_sync(nf);
  }
  /* Invariant: the closing file is complete in place and durable before it
   * is renamed (an archived file is complete without its slots, and never
   * written again).  The buffered bytes and those only a slot holds go in
   * place with a sync; bytes already in place but not synced (a full
   * buffer written without a sync, write_out(..., 0), by an append that
   * then failed, so that nothing was buffered since) get the sync alone. */
  uint32_t wend = woff + (uint32_t)wlen;
  if (!e && old_stale > wend) e = zero_fill(old, wend, old_stale < old_size ? old_stale : old_size, 0, &zeroed);
  if (!e && (wlen || lg->placed < woff)) e = write_range(lg, old, gen, wb, wlen, woff, 1, 1, seq, s);
  else if (!e && (unsynced || zeroed)) e = os_sync(old);
  if (!e) synced = 1;
  /* A crash between the two renames leaves no B.log: the archived files
   * are complete and Btmp.log holds the next (empty) generation. */
  if (!e) e = os_rename_file(old, arch);
  if (!e) e = rename_current(lg, nf);
  if (!e) e = os_sync_dir(lg->io, lg->dir);
  free(arch);
  free(hdr);

  pthread_mutex_lock(&lg->mu);
  if (synced) lg->written = lg->durable = LSN(gen, woff + (uint32_t)wlen);
  if (e) {
    lg->err = e;   /* sticky: the records appended to the new generation are never written */
  } else {
    lg->f = nf;
    lg->stale_end = stale_end;
    lg->written = lg->durable = LSN(ngen, LOG_DATA_START);
    lg->placed = LOG_DATA_START;
    lg->seq = 0;
    memset(lg->tail, 0, LOG_BLOCK);
    if (note) lg->rolled = 1;
  }
  lg->busy = 0;
  lg->rolling = 0;
  void (*hook)(void *, uint32_t) = e ? NULL : lg->on_roll;
  void *hook_ud = lg->on_roll_ud;
  pthread_cond_broadcast(&lg->cv);
  pthread_mutex_unlock(&lg->mu);
  if (!e) os_close(old);
  else os_close(nf);
  if (hook) hook(hook_ud, gen);   /* gen is closed: B%08X.log, complete and synced */
  return e;
}

JET_ERR log_roll(eslog *lg) { return roll(lg, 0, 1, 0); }
JET_ERR log_roll_quiet(eslog *lg) { return roll(lg, 0, 0, 0); }
JET_ERR log_roll_unless_rolling(eslog *lg) { return roll(lg, 0, 1, 1); }

/* log_append2; *commit_us: the time the log stamped an LR_COMMIT with (its
 * payload's last 8 bytes: log.h), when not NULL. */
static JET_ERR append(eslog *lg, uint8_t type, const void *p1, size_t n1, const void *p2, size_t n2,
                      uint64_t *commit_us, lsn_t *lsn) {
  if (!lg || (n1 && !p1) || (n2 && !p2) || n1 > UINT32_MAX || n2 > UINT32_MAX) return JET_errInvalidParameter;
  uint64_t n = (uint64_t)n1 + n2;
  /* A zero length word ends a file's data, so a payload has >= 1 byte;
   * an LR_COMMIT's ends in the 8 bytes of its time. */
  if (n == 0 || n > UINT32_MAX - 16 || (type == LR_COMMIT && n < 8)) return JET_errInvalidParameter;
  if (type == LR_END) return JET_errInvalidParameter;   /* the roll's own (put_end) */
  uint64_t framed = rec_framed(n);
  JET_ERR e;
  pthread_mutex_lock(&lg->mu);
  for (;;) {
    if (lg->err) { e = lg->err; break; }
    uint32_t off = LSN_OFF(lg->end);
    uint64_t room = framed + end_room(lg);
    if (lg->limit && off + framed > lg->limit && off + room <= lg->file_size) {
      pthread_cond_wait(&lg->cv, &lg->mu);   /* a roll zeroes a chunk there (part 1): a moment */
      continue;
    }
    if (off + room > lg->file_size) {
      if (framed + END_ROOM > lg->new_file_size - LOG_DATA_START) { e = JET_errInvalidParameter; break; }
      uint32_t full = lg->gen;
      pthread_mutex_unlock(&lg->mu);
      if ((e = roll(lg, full, 1, 0))) return e;
      pthread_mutex_lock(&lg->mu);
      continue;
    }
    if (lg->len + framed + LR_END_FRAMED + LOG_SLOT_HEAD > lg->cap) {   /* room for put_end, pad_for_slot */
      if (lg->len > 0) {
        /* The buffer is full: write it out, without a sync. */
        if ((e = write_out(lg, lg->end, 0))) break;
        continue;
      }
      size_t need = (size_t)framed + LR_END_FRAMED + LOG_SLOT_HEAD;
      size_t nc = lg->cap * 2 > need ? lg->cap * 2 : need;
      uint8_t *nb = realloc(lg->buf - LOG_BLOCK, LOG_BLOCK + nc);
      if (!nb) { e = JET_errOutOfMemory; break; }
      lg->buf = nb + LOG_BLOCK;
      lg->cap = nc;
    }
    uint8_t *p = lg->buf + lg->len;
    st32(p, (uint32_t)n);
    p[4] = type;
    p[5] = p[6] = p[7] = 0;
    /* the payload copied and its CRC made in one pass (log_rec_crc's value) */
    uint32_t c = crc32c(lg->seed, &type, 1);
    if (type == LR_COMMIT) {
      /* The commit's time, stamped here under mu, in log order: never
       * before the latest commit appended nor the generation's tm_create,
       * whatever the wall clock did (a restore to a point in time replays
       * a prefix of the log and bounds generations' commits by tm_create) */
      uint64_t t = os_now_us();
      if (t < lg->last_commit_us) t = lg->last_commit_us;
      if (t < lg->tm_create) t = lg->tm_create;
      /* copied with its CRC in one pass as any record, the caller's last
       * 8 bytes (wherever they lie in p1, p2) replaced by the time */
      size_t head = (size_t)n - 8, a = head < n1 ? head : n1;
      if (a) c = crc32c_copy(c, p + 8, p1, a);
      if (head > a) c = crc32c_copy(c, p + 8 + a, p2, head - a);
      put64(p + 8 + head, t);
      c = crc32c(c, p + 8 + head, 8);
      lg->last_commit_us = t;
      lg->ncommits++;
      if (commit_us) *commit_us = t;
    } else {
      if (n1) c = crc32c_copy(c, p + 8, p1, n1);
      if (n2) c = crc32c_copy(c, p + 8 + n1, p2, n2);
    }
    st32(p + 8 + n, c);
    memset(p + REC_OVERHEAD + n, 0, (size_t)(framed - REC_OVERHEAD - n));
    if (lsn) *lsn = lg->end;
    if (!lg->first_us) lg->first_us = os_mono_us();
    lg->len += (size_t)framed;
    lg->end += framed;
    lg->nrec++;
    lg->nappends++;
    if (lg->delaying) pthread_cond_signal(&lg->appended);
    e = JET_errSuccess;
    break;
  }
  pthread_mutex_unlock(&lg->mu);
  return e;
}

JET_ERR log_append2(eslog *lg, uint8_t type, const void *p1, size_t n1, const void *p2, size_t n2, lsn_t *lsn) {
  return append(lg, type, p1, n1, p2, n2, NULL, lsn);
}

JET_ERR log_append(eslog *lg, uint8_t type, const void *payload, size_t len, lsn_t *lsn) {
  return append(lg, type, payload, len, NULL, 0, NULL, lsn);
}

JET_ERR log_append_commit(eslog *lg, const void *rec, size_t len, uint64_t *time_us, lsn_t *lsn) {
  return append(lg, LR_COMMIT, rec, len, NULL, 0, time_us, lsn);
}

lsn_t log_end(eslog *lg) {
  pthread_mutex_lock(&lg->mu);
  lsn_t v = lg->end;
  pthread_mutex_unlock(&lg->mu);
  return v;
}

lsn_t log_durable(eslog *lg) {
  pthread_mutex_lock(&lg->mu);
  lsn_t v = lg->durable;
  pthread_mutex_unlock(&lg->mu);
  return v;
}

uint32_t log_generation(eslog *lg) {
  pthread_mutex_lock(&lg->mu);
  uint32_t v = lg->gen;
  pthread_mutex_unlock(&lg->mu);
  return v;
}

const log_sig *log_signature(eslog *lg) { return &lg->sig; }

JET_ERR log_set_attachments(eslog *lg, const log_attach *att, uint32_t natt) {
  log_attach *a;
  JET_ERR e = log_attach_copy(att, natt, &a);
  if (e) return e;
  /* Check now that the table fits a header, so a later roll cannot fail. */
  uint8_t *hdr = malloc(LOG_HDR_SIZE);
  if (!hdr) { log_attach_free(a, natt); return JET_errOutOfMemory; }
  e = log_hdr_encode(hdr, 1, lg->page_size, lg->new_file_size, &lg->sig, 0, 0, a, natt);
  free(hdr);
  if (e) { log_attach_free(a, natt); return e; }
  pthread_mutex_lock(&lg->mu);
  log_attach *old = lg->att;
  uint32_t nold = lg->natt;
  lg->att = a;
  lg->natt = natt;
  lg->att_ver++;
  pthread_mutex_unlock(&lg->mu);
  log_attach_free(old, nold);
  return JET_errSuccess;
}

int log_take_rolled(eslog *lg) {
  pthread_mutex_lock(&lg->mu);
  int r = lg->rolled;
  lg->rolled = 0;
  pthread_mutex_unlock(&lg->mu);
  return r;
}

void log_set_roll_hook(eslog *lg, void (*fn)(void *ud, uint32_t closed_gen), void *ud) {
  pthread_mutex_lock(&lg->mu);
  lg->on_roll = fn;
  lg->on_roll_ud = ud;
  pthread_mutex_unlock(&lg->mu);
}

uint64_t log_first_record_us(eslog *lg) {
  pthread_mutex_lock(&lg->mu);
  uint64_t v = lg->first_us;
  pthread_mutex_unlock(&lg->mu);
  return v;
}
