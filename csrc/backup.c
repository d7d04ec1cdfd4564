/*
 * backup.c -- the external (streaming) backup of an instance: one
 * esbackup per instance while a backup runs, its state machine (backup.h:
 * the states, the legal moves and what each call answers in each state),
 * the work of each call of the sequence (backup_begin ... backup_end,
 * backup_stop: jet_backup.c's Jet*Instance entry points enter the
 * instance, call one of them and leave), and the trailer page of a
 * streamed copy.  Every backup_* call runs in the entered instance (lock
 * held, asserted) and answers first what the backup's state refuses
 * (bk_check: backup.h's table).
 *
 * Invariants:
 * - inst->backup != NULL exactly while a backup is in progress (Begin to
 *   the end of its tear-down); attach and detach are refused meanwhile.
 * - bk->state changes only in bk_move, with the instance lock held.
 * - Logs from the generation Begin pinned (inst_hold_logs) on are never
 *   deleted by circular logging while the backup runs.
 * - A database stream is: a header snapshot (state DB_BACKUP_COPY, current
 *   backup range [copy_mic, 0]) on pages 0 and 1, pages 2..n-1 as the file
 *   has them (each read whole, under the pager's I/O lock, and verified),
 *   then one trailer page (the same header with gen_hi = the generation
 *   current when the stream ended and the database's dbtime_last then, a
 *   bound of every page streamed).  n is fixed at OpenFile.
 * - Reads run without the instance lock; bk->busy counts them, and a
 *   tear-down waits until it is 0.
 * - End in steps (ESE_bitBackupStepEnd): each database's header record is
 *   written a page at a time, page 0 then page 1, each synced before the
 *   next is written; the sync runs on the backup's engine thread (worker)
 *   while the caller yields, and is collected (waited for without the
 *   instance lock, counted busy) before anything else of the End is done.
 *   A tear-down collects a job left running first.
 * - A paced read (pace.h) sleeps out of the instance (neither the lock
 *   held nor counted active nor busy): a stop, an end or a term never
 *   waits for a pacing sleep.
 * - A database stream reads through its own handle of the file, with
 *   kernel readahead only for reads of at least READAHEAD_MIN bytes: the
 *   caller's read size is then what the disk sees, and a small one lets a
 *   committer's log sync in sooner (bench/disk_bench.c measures the trade).
 */
#include "backup.h"
#include "checkpoint.h"
#include "page.h"
#include <stdlib.h>
#include <string.h>

#define READAHEAD_MIN (256u << 10)
/* A step waits this long for its job on the worker, then answers "more"
 * (the next step collects it). */
#define STEP_WAIT_US BACKUP_STEP_WAIT_US

enum { JOB_NONE, JOB_SLICE, JOB_UNLINK, JOB_DIRSYNC, JOB_HEADER };

typedef struct bkfile {
  int used;
  int reading;            /* a read runs without the lock: close waits */
  uint32_t serial;
  int is_db;
  uint32_t dbid, pages;   /* database: its number and pages streamed */
  uint32_t gen;           /* log: its generation */
  char *path;             /* log: its file */
  uint8_t *image;         /* log: the bytes verified at OpenFile, streamed as they are */
  uint64_t size, pos;
  dbheader hdr;           /* database: the header snapshot (pages 0, 1 and, with gen_hi set, the trailer) */
  esfile *own;            /* database: the stream's own handle of the file, or NULL (the pager's) */
  int readahead;          /* own's kernel readahead is on */
} bkfile;

typedef struct bkdb {
  uint32_t dbid;
  char *path;
  int done;               /* streamed to its end and closed */
} bkdb;

struct esbackup {
  backup_state state;     /* backup.h; moved by bk_move only */
  int incremental;        /* the kind, fixed at Begin */
  uint64_t begin_time;
  lsn_t begin_lsn;        /* the checkpoint at Begin: a restore replays from here */
  lsn_t ckpt_target;      /* the checkpoint the backup waits for: Begin's (stepwise), then the cut-off's */
  uint32_t copy_mic;      /* the first log to copy (an incremental's is fixed with the list) */
  uint32_t copy_mac;      /* one past the last log to copy; 0 until GetLogInfo rolled the log */
  uint32_t delete_mic, delete_mac;   /* TruncateLog deletes [delete_mic, delete_mac) (from LOGS on) */
  uint32_t delete_at;     /* the truncation's next log to delete (0: not begun; then delete_mic .. delete_mac) */
  bkdb dbs[ESE_MAX_DB];   /* the databases attached at Begin */
  int ndbs;
  uint8_t *log_done;      /* from LOGS on: per generation copy_mic .. copy_mac-1, read to its end */
  bkfile *files;          /* the reader slots (JET_paramMaxOpenBackupFiles) */
  uint32_t nfiles;
  /* EseBackupStep's work on the backup's engine thread (worker), so that
   * no step waits for a whole fsync: job says what runs there (JOB_*), not
   * collected yet; collecting: a call waits for it (without the lock).
   * JOB_SLICE: a checkpoint slice (slice_job, which takes the instance
   * lock itself; slice_more: its answer); JOB_UNLINK: a part of the truncation's deletions (from
   * job_at on); JOB_DIRSYNC: the truncation's log folder sync; JOB_HEADER:
   * an End step's header page sync.  End in steps (end_step): the record
   * written (end_kind, end_rec), the next database (end_db, an index of
   * dbs) and its next header page (end_page). */
  os_worker *worker;
  esinst *inst;
  int job, collecting;
  int slice_more;
  uint32_t job_at;
  int ending, end_kind, end_db, end_page;
  bkrecord end_rec;
  int busy;               /* reads in progress without the lock (and a job's collection) */
  int waiting;            /* calls waiting on idle (a read of their handle, another call's cut-off): waiter_leaves */
  pthread_cond_t idle;    /* a read ended, or a waiting call left */
};

/* ---- the state machine (backup.h) ------------------------------------------- */

#define FROM(s) (1u << (s))
#define LIVE (FROM(BACKUP_DATABASES) | FROM(BACKUP_UNLISTED) | FROM(BACKUP_LOGS) | FROM(BACKUP_TRUNCATED))

/* The states each state may be entered from: backup.h's moves. */
static const unsigned legal_from[BACKUP_NSTATES] = {
  [BACKUP_NONE] = FROM(BACKUP_ENDING),
  [BACKUP_DATABASES] = FROM(BACKUP_NONE),
  [BACKUP_UNLISTED] = FROM(BACKUP_NONE),
  [BACKUP_LOGS] = FROM(BACKUP_DATABASES) | FROM(BACKUP_UNLISTED),
  [BACKUP_TRUNCATED] = FROM(BACKUP_LOGS),
  [BACKUP_STOPPED] = LIVE,
  [BACKUP_ENDING] = LIVE | FROM(BACKUP_STOPPED),
};

/* The error of a call that state s does not allow: no backup (rule 4),
 * stopped (rule 3), else out of sequence. */
static JET_ERR refusal(backup_state s) {
  if (s == BACKUP_NONE || s == BACKUP_ENDING) return JET_errNoBackup;
  return s == BACKUP_STOPPED ? JET_errBackupAbortByServer : JET_errInvalidBackupSequence;
}

/* The one place the state changes.  Every call checks its state before it
 * moves, so an illegal move is a bug: asserted, and with NDEBUG refused
 * with the error the call gets in that state. */
static JET_ERR bk_move(esinst *inst, struct esbackup *bk, backup_state to) {
  assert(inst_lock_held(inst) && inst->backup == bk);
  (void)inst;   /* for the assertion only */
  int legal = (legal_from[to] & FROM(bk->state)) != 0;
  assert(legal && "illegal backup state move");
  if (!legal) return refusal(bk->state);
  bk->state = to;
  return JET_errSuccess;
}

static int listed(const struct esbackup *bk) { return bk->state == BACKUP_LOGS || bk->state == BACKUP_TRUNCATED; }

/* ---- helpers --------------------------------------------------------------- */

static void file_close(bkfile *f) {
  os_close(f->own);
  free(f->path);
  free(f->image);
  memset(f, 0, sizeof *f);
}

/* Waits up to max_us for the End step's sync (bk->job) without the
 * instance lock (counted busy, so a tear-down waits); 1 when it came back
 * (*e its result, bk->job 0), 0 while it runs or another call collects it.
 * With the instance lock held (released and taken back). */
static int collect_job(esinst *inst, struct esbackup *bk, uint64_t max_us, JET_ERR *e) {
  assert(inst_lock_held(inst) && bk->job);
  if (bk->collecting) return 0;
  JET_ERR r = JET_errSuccess;
  if (max_us == 0) {                     /* no wait: the lock stays held */
    int done = os_worker_collect(bk->worker, 0, &r);
    if (done) bk->job = JOB_NONE;
    if (done && e) *e = r;
    return done;
  }
  bk->collecting = 1;
  bk->busy++;
  inst_unlock(inst);
  int done = os_worker_collect(bk->worker, max_us, &r);
  inst_lock(inst);
  bk->busy--;
  bk->collecting = 0;
  if (done) bk->job = JOB_NONE;
  pthread_cond_broadcast(&bk->idle);
  if (done && e) *e = r;
  return done;
}

/* Ends the backup: nothing recorded.  With the instance lock held.  A job
 * left on the worker is collected first; an End step's header sync that
 * failed there makes the instance refuse writes, as End's own failing sync
 * does (its error is never dropped: a sync's EIO is reported once, so a
 * later sync of the file may succeed over pages the failed one lost), and
 * is the answer; so is a failed truncation's log folder sync (the
 * instance goes on, as after the step that would have collected it); else
 * 0. */
static JET_ERR teardown(esinst *inst) {
  assert(inst_lock_held(inst));
  struct esbackup *bk = inst->backup;
  if (!bk || bk->state == BACKUP_ENDING) return JET_errSuccess;   /* another call is tearing it down */
  (void)bk_move(inst, bk, BACKUP_ENDING);          /* bk_check lets no new call in */
  JET_ERR lost = JET_errSuccess;
  while (bk->job) {                                /* another call collecting it handles its result */
    int kind = bk->job;
    JET_ERR r = JET_errSuccess;
    if (bk->collecting) {
      inst_wait(inst, &bk->idle);
    } else if (collect_job(inst, bk, UINT64_MAX, &r) && r) {
      if (kind == JOB_HEADER) lost = inst_fatal(inst, r);
      if (kind == JOB_DIRSYNC) lost = r;   /* the truncation's deletions may not be durable: said, as its step would */
    }
  }
  while (bk->busy || bk->waiting) inst_wait(inst, &bk->idle);
  os_worker_free(bk->worker);                      /* no job: only the thread's join */
  for (uint32_t i = 0; i < bk->nfiles; i++) file_close(&bk->files[i]);
  for (int i = 0; i < bk->ndbs; i++) free(bk->dbs[i].path);
  free(bk->files);
  free(bk->log_done);
  (void)bk_move(inst, bk, BACKUP_NONE);
  pthread_cond_destroy(&bk->idle);
  free(bk);
  inst->backup = NULL;
  inst_hold_logs(inst, 0);
  return lost;
}

void backup_teardown(esinst *inst) { (void)teardown(inst); }

/* "A backup runs" (and, unless stopped_ok, "it was not stopped") in the
 * entered instance inst; else its refusal. */
static JET_ERR bk_check(esinst *inst, int stopped_ok, struct esbackup **pbk) {
  assert(inst_lock_held(inst));
  backup_state s = inst->backup ? inst->backup->state : BACKUP_NONE;
  if (s == BACKUP_NONE || s == BACKUP_ENDING || (s == BACKUP_STOPPED && !stopped_ok)) return refusal(s);
  *pbk = inst->backup;
  return JET_errSuccess;
}

/* What a call that let the lock go answers when it has it again: the
 * state gate, then a stop or an end meanwhile (refusal); else 0. */
static JET_ERR bk_still(esinst *inst, struct esbackup *bk) {
  JET_ERR e = inst_gate(inst);
  if (e == JET_errSuccess && (bk->state == BACKUP_STOPPED || bk->state == BACKUP_ENDING)) e = refusal(bk->state);
  return e;
}

/* A call that waited on bk->idle counted itself in bk->waiting (so that a
 * tear-down frees bk only after the call has looked at it again): done. */
static void waiter_leaves(struct esbackup *bk) {
  if (--bk->waiting == 0 && bk->state == BACKUP_ENDING) pthread_cond_broadcast(&bk->idle);
}

/* Writes names into a double-NUL-terminated list; *pcb gets the full size. */
static void put_list(char **names, int n, char *buf, unsigned long cbMax, unsigned long *pcb) {
  size_t total = 1;
  for (int i = 0; i < n; i++) total += strlen(names[i]) + 1;
  if (pcb) *pcb = (unsigned long)total;
  if (!buf || cbMax == 0) return;
  size_t off = 0;
  for (int i = 0; i < n && off < cbMax; i++) {
    size_t len = strlen(names[i]) + 1;
    size_t k = len <= cbMax - off ? len : cbMax - off;
    memcpy(buf + off, names[i], k);
    off += k;
  }
  if (off < cbMax) buf[off] = 0;
}

static JET_ERR log_list(esinst *inst, uint32_t lo, uint32_t hi_excl, char *buf, unsigned long cbMax,
                        unsigned long *pcb) {
  int n = hi_excl > lo ? (int)(hi_excl - lo) : 0;
  char **names = calloc((size_t)n + 1, sizeof *names);
  JET_ERR e = names ? JET_errSuccess : JET_errOutOfMemory;
  for (int i = 0; e == JET_errSuccess && i < n; i++)
    if (!(names[i] = log_file_name(inst->prm.log_path, inst->prm.base, lo + (uint32_t)i))) e = JET_errOutOfMemory;
  if (e == JET_errSuccess) put_list(names, n, buf, cbMax, pcb);
  for (int i = 0; names && i < n; i++) free(names[i]);
  free(names);
  return e;
}

/* ---- the backup's checkpoints ---------------------------------------------- */

/* Takes the checkpoint at or past target in slices (checkpoint.c), releasing
 * the lock in (their I/O) and between them: the application's commits (and the backup's own
 * reads) run meanwhile.  bk (NULL in Begin, before the backup exists) is
 * kept busy while the lock is released, so a tear-down waits for this
 * call; a stop or an end meanwhile is answered as on entry.  With the
 * lock held; the caller checks its own state again after. */
static JET_ERR run_checkpoint(esinst *inst, struct esbackup *bk, lsn_t target) {
  assert(inst_lock_held(inst));
  JET_ERR e = JET_errSuccess;
  if (bk) bk->busy++;   /* the lock is released in and between slices */
  for (int more = 1; e == JET_errSuccess && more;) {
    pace_note_backup_work(&inst->pace, pace_now_ns());   /* commits slowed by it are not the pacer's normal */
    e = ckpt_toward(inst, target, &more);
    if (e == JET_errSuccess && more) e = ckpt_between_slices(inst);
    if (e == JET_errSuccess && more && bk) e = bk_still(inst, bk);
  }
  if (bk) {
    bk->busy--;
    pthread_cond_broadcast(&bk->idle);   /* a tear-down may wait (bk stays valid while the lock is held) */
    /* the last slice released the lock too (checkpoint_end's syncs, or
     * ckpt_wait_idle): a stop or an end meanwhile is answered here, before
     * the caller moves the backup on */
    if (e == JET_errSuccess) e = bk_still(inst, bk);
  }
  return e;
}

/* copy_mac while a cut-off's roll runs without the lock: not 0, so that
 * a database is refused and no second cut-off starts (cut_off waits). */
#define CUT_RUNNING UINT32_MAX

/* The log cut-off, once per backup (copy_mac != 0 says it happened, even
 * when a later step failed): the log rolls, the logs to copy end before
 * the new generation, and a checkpoint from there on is due (ckpt_target).
 * The roll runs without the instance lock (as a slice's I/O, ckpt_io_begin:
 * no checkpoint meanwhile, bk kept busy so a tear-down waits), so the
 * application's commits go on into the closing generation while the next
 * file is made (log_roll); copy_mac is CUT_RUNNING meanwhile.  A commit
 * before this call returns is in a generation before copy_mac or after;
 * one after it, after the cut-off.  A stop, an end or the instance made
 * unavailable while it waits for a slice's I/O (before the roll) is
 * answered then, and the log does not roll; one during the roll is
 * answered after it (the roll stays done). */
static JET_ERR cut_off(esinst *inst, struct esbackup *bk) {
  assert(inst_lock_held(inst) && (bk->state == BACKUP_DATABASES || bk->state == BACKUP_UNLISTED));
  /* another call's roll: counted in bk->waiting, as wait_for_reader, so
   * that a tear-down (which waits for that roll, bk->busy) frees bk only
   * after this call has looked at it again */
  bk->waiting++;
  while (bk->copy_mac == CUT_RUNNING) inst_wait(inst, &bk->idle);
  waiter_leaves(bk);
  JET_ERR e = bk_still(inst, bk);
  if (e || bk->copy_mac) return e;
  bk->copy_mac = CUT_RUNNING;
  bk->busy++;
  ckpt_wait_idle(inst);
  /* The wait released the lock: the log rolls only for a backup that still
   * runs, in an instance that still takes writes.  A stop, an end or the
   * instance made unavailable meanwhile (a slice's failed I/O) is answered
   * here, before the roll: nothing is cut off (copy_mac 0 again). */
  e = bk_still(inst, bk);
  eslog *log = inst->log;
  if (e == JET_errSuccess) {
    int unlocked = ckpt_io_begin(inst);
    e = log_roll_quiet(log);   /* the backup takes its checkpoint: no commit's is due for it */
    ckpt_io_end(inst, unlocked);
    if (e) e = inst_fatal(inst, e);
  }
  bk->busy--;
  assert(bk->copy_mac == CUT_RUNNING);
  if (e == JET_errSuccess) {
    bk->copy_mac = log_generation(log);
    bk->ckpt_target = log_end(log);
  } else {
    bk->copy_mac = 0;
  }
  pthread_cond_broadcast(&bk->idle);   /* a tear-down or another cut-off may wait */
  return e ? e : bk_still(inst, bk);
}

/* ---- Begin / AttachInfo ------------------------------------------------------ */

/* JET_errBackupInProgress of a Begin while inst's backup runs, its detail
 * saying which and how to end it (a backup dropped by a coroutine that
 * was never closed stays begun: docs/api.md, Coroutines). */
static JET_ERR in_progress(esinst *inst) {
  const struct esbackup *bk = inst->backup;
  uint64_t now = os_now_us();
  inst_detail(inst, "%s backup of this instance began %.1f s ago and has not ended: end it first "
              "(JetEndExternalBackupInstance2 with JET_bitBackupEndAbort; in Lua inst:end_external_backup{ abort = "
              "true }), or stop it (JetStopBackupInstance, inst:stop_backup())",
              bk->incremental ? "an incremental" : "a full or copy",
              now > bk->begin_time ? (double)(now - bk->begin_time) / 1e6 : 0.0);
  return JET_errBackupInProgress;
}

JET_ERR backup_begin(esinst *inst, JET_GRBIT grbit) {
  assert(inst_lock_held(inst) && !(grbit & ~(JET_bitBackupIncremental | ESE_bitBackupStepwise)));
  int incr = (grbit & JET_bitBackupIncremental) != 0, stepwise = (grbit & ESE_bitBackupStepwise) != 0;
  uint32_t lo = 0, hi = 0;
  int cur;
  lsn_t target = 0;
  JET_ERR e = JET_errSuccess;
  if (incr && inst->prm.circular) {
    e = JET_errInvalidBackup;
    inst_detail(inst, "an incremental backup is not possible with circular logging on");
  }
  else if (inst->backup) e = in_progress(inst);
  for (int i = 1; e == JET_errSuccess && incr && i <= ESE_MAX_DB; i++)
    if (inst->db[i] && inst->db[i]->hdr.backup[BK_FULL].gen_lo == 0) {
      e = JET_errMissingFullBackup;
      inst_detail(inst, "%s has no full backup", inst->db[i]->path);
    }
  if (e == JET_errSuccess && incr) e = log_scan_dir(inst->prm.log_path, inst->prm.base, &lo, &hi, &cur);
  /* A full backup starts at a checkpoint taken now: its copies replay from
   * here, so the set ships the log of the commits made during the backup,
   * not all the log since the last checkpoint (up to checkpoint_depth).
   * The set ships whole generations from the checkpoint's: when the last
   * checkpoint is in the current generation already, a new one would ship
   * nothing less, and is not taken (a checkpoint writes every dirty page
   * back).  Stepwise, Begin only starts it (EseBackupStep writes it): its
   * lsn is the set's start all the same, since the database copies take
   * every page at least as new as the cache holds it (read_pages), whether
   * or not it was written back yet.  Else it is taken here in slices, the
   * lock released between them (run_checkpoint): then everything is
   * checked again. */
  if (e == JET_errSuccess && !incr && LSN_GEN(inst->checkpoint) < log_generation(inst->log)) {
    if (stepwise) {
      e = ckpt_start(inst);   /* may wait (lock released) for another slice's I/O */
      target = inst->ckpt_pending;
      if (e == JET_errSuccess && inst->backup) e = in_progress(inst);   /* begun meanwhile */
    } else {
      e = run_checkpoint(inst, NULL, log_end(inst->log));
      if (e == JET_errSuccess && inst->backup) e = in_progress(inst);   /* begun meanwhile */
    }
  }
  struct esbackup *bk = e ? NULL : calloc(1, sizeof *bk);
  if (e == JET_errSuccess && !bk) e = JET_errOutOfMemory;
  if (e == JET_errSuccess && !(bk->files = calloc(inst->prm.max_backup_files, sizeof *bk->files))) e = JET_errOutOfMemory;
  if (e == JET_errSuccess && pthread_cond_init(&bk->idle, NULL) != 0) e = JET_errOutOfMemory;
  if (e == JET_errSuccess && (e = os_worker_new(&bk->worker)) != JET_errSuccess) pthread_cond_destroy(&bk->idle);
  if (e) {
    if (bk) free(bk->files);
    free(bk);
    return e;
  }
  bk->incremental = incr;
  bk->inst = inst;
  bk->nfiles = inst->prm.max_backup_files;
  bk->begin_time = os_now_us();
  bk->begin_lsn = target ? target : inst->checkpoint;
  bk->ckpt_target = target;
  bk->copy_mic = incr ? (lo ? lo : log_generation(inst->log)) : LSN_GEN(bk->begin_lsn);
  inst->backup = bk;
  (void)bk_move(inst, bk, incr ? BACKUP_UNLISTED : BACKUP_DATABASES);
  inst_hold_logs(inst, bk->copy_mic);
  for (int i = 1; i <= ESE_MAX_DB && e == JET_errSuccess; i++) {
    if (!inst->db[i]) continue;
    bkdb *d = &bk->dbs[bk->ndbs];
    d->dbid = (uint32_t)i;
    if (!(d->path = strdup(inst->db[i]->path))) e = JET_errOutOfMemory;
    bk->ndbs++;
  }
  if (e) teardown(inst);
  return e;
}

JET_ERR backup_attach_info(esinst *inst, char *szzDatabases, unsigned long cbMax, unsigned long *pcbActual) {
  struct esbackup *bk;
  JET_ERR e = bk_check(inst, 0, &bk);
  if (e) return e;
  if (bk->incremental) return JET_errInvalidBackupSequence;
  char *names[ESE_MAX_DB];
  for (int i = 0; i < bk->ndbs; i++) names[i] = bk->dbs[i].path;
  put_list(names, bk->ndbs, szzDatabases, cbMax, pcbActual);
  return JET_errSuccess;
}

/* ---- the trailer of a streamed copy (backup.h) ---------------------------------- */

/* The trailer of a stream whose header snapshot is hdr: the same header,
 * its current record completed with gen_hi and the database's dbtime_last
 * when the stream ended, as page pgno. */
static void trailer_encode(const dbheader *hdr, uint32_t gen_hi, uint64_t dbtime_last, uint8_t *page, uint32_t pgno) {
  dbheader h = *hdr;
  h.backup[BK_CURRENT].gen_hi = gen_hi;
  h.dbtime_last = dbtime_last;
  dbheader_encode(&h, page, pgno);
}

int backup_copy_size_ok(uint32_t ps, uint64_t size) { return size % ps == 0 && size >= 4ull * ps; }

JET_ERR backup_trailer_decode(const uint8_t *page, uint32_t ps, uint32_t pgno, const uint8_t db_sig[16],
                              dbheader *t) {
  if (dbheader_decode(page, ps, pgno, t) != JET_errSuccess) return JET_errBadPatchPage;
  return memcmp(t->db_sig, db_sig, 16) ? JET_errDatabasePatchFileMismatch : JET_errSuccess;
}

JET_ERR backup_trailer_read(esfile *f, const dbheader *h, uint64_t size, dbheader *t) {
  uint32_t ps = h->page_size;
  uint8_t *pg = malloc(ps);
  if (!pg) return JET_errOutOfMemory;
  JET_ERR e = os_pread_full(f, pg, ps, (size / ps - 1) * ps);
  if (e == JET_errSuccess) e = backup_trailer_check(pg, h, size, t);
  free(pg);
  return e;
}

JET_ERR backup_trailer_check(const uint8_t *pg, const dbheader *h, uint64_t size, dbheader *t) {
  JET_ERR e = backup_trailer_decode(pg, h->page_size, (uint32_t)(size / h->page_size - 1), h->db_sig, t);
  if (e == JET_errSuccess && (memcmp(t->log_sig, h->log_sig, 16) ||
                              t->backup[BK_CURRENT].gen_lo != h->backup[BK_CURRENT].gen_lo))
    e = JET_errDatabasePatchFileMismatch;
  return e;
}

/* ---- OpenFile / ReadFile / CloseFile ----------------------------------------- */

static bkdb *listed_db(struct esbackup *bk, const char *canon) {
  for (int i = 0; i < bk->ndbs; i++)
    if (!strcmp(bk->dbs[i].path, canon)) return &bk->dbs[i];
  return NULL;
}

static JET_ERR open_db_stream(esinst *inst, struct esbackup *bk, bkdb *d, bkfile *f) {
  assert(inst_lock_held(inst) && bk->state == BACKUP_DATABASES);
  esdb *db = db_by_id(inst, d->dbid);
  if (!db) return JET_errDatabaseNotFound;
  uint32_t n;
  JET_ERR e = pager_page_count(db->pg, &n);
  if (e) return e;
  f->hdr = db->hdr;
  f->hdr.state = DB_BACKUP_COPY;
  f->hdr.backup[BK_CURRENT] = (bkrecord){ bk->copy_mic, 0, bk->begin_time };
  f->hdr.backup_lsn = bk->begin_lsn;
  /* without its own handle the stream reads through the pager's */
  if (os_open(inst->io, db->path, OS_READ, &f->own) != JET_errSuccess) f->own = NULL;
  f->readahead = 1;
  f->is_db = 1;
  f->dbid = d->dbid;
  f->pages = n;
  f->size = ((uint64_t)n + 1) * db->hdr.page_size;
  return JET_errSuccess;
}

/* A log of the list; before the list (an incremental's UNLISTED) none. */
static JET_ERR open_log_stream(esinst *inst, struct esbackup *bk, const char *name, bkfile *f) {
  assert(inst_lock_held(inst));
  uint32_t gen = 0;
  const char *slash = strrchr(name, '/');
  int kind = log_parse_name(slash ? slash + 1 : name, inst->prm.base, &gen);
  if (!listed(bk) || kind != 1 || gen < bk->copy_mic || gen >= bk->copy_mac) return JET_errInvalidParameter;
  char *path = log_file_name(inst->prm.log_path, inst->prm.base, gen);
  if (!path) return JET_errOutOfMemory;
  uint32_t n = 0;
  /* verified once, here; the stream hands out exactly these bytes, so a
   * change to the file after this point never reaches the backup */
  JET_ERR e = log_load_verified(inst->io, path, inst->prm.page_size, &f->image, &n, NULL);
  if (e == JET_errFileNotFound) e = JET_errMissingFileToBackup;
  else if (e == JET_errLogFileCorrupt || e == JET_errPageSizeMismatch)
    e = JET_errLogReadVerifyFailure;   /* the file fails verification; I/O errors stay what they are */
  if (e) inst_detail(inst, "log %s", path);
  f->path = path;
  f->size = n;
  f->gen = gen;
  return e;
}

JET_ERR backup_open_file(esinst *inst, const char *szFileName, JET_HANDLE *phfFile, unsigned long *pulFileSizeLow,
                         unsigned long *pulFileSizeHigh) {
  struct esbackup *bk;
  JET_ERR e = bk_check(inst, 0, &bk);
  if (e) return e;
  bkfile *f = NULL;
  if (!szFileName || !*szFileName || !phfFile) e = JET_errInvalidParameter;
  for (uint32_t i = 0; e == JET_errSuccess && !f && i < bk->nfiles; i++)
    if (!bk->files[i].used) f = &bk->files[i];
  if (e == JET_errSuccess && !f) e = JET_errOutOfMemory;   /* over the open-file limit (rule 8) */
  esdb *db = NULL;
  if (e == JET_errSuccess) e = db_by_path(inst, szFileName, &db);
  bkdb *d = db ? listed_db(bk, db->path) : NULL;
  if (e == JET_errSuccess) {
    memset(f, 0, sizeof *f);
    if (d) {
      if (bk->state != BACKUP_DATABASES || bk->copy_mac) {   /* an incremental, or after the cut-off */
        e = JET_errInvalidBackupSequence;
        teardown(inst);
        inst_detail(inst, "%s: a database streams before the log list, never after it nor in an incremental: "
                    "the backup ended", szFileName);
      } else {
        e = open_db_stream(inst, bk, d, f);
      }
    } else if (bk->state == BACKUP_DATABASES) {
      e = JET_errDatabaseNotFound;
      inst_detail(inst, "%s is not a database of this backup (the attach info lists them)", szFileName);
    } else {
      int was_listed = listed(bk);
      uint32_t lo = bk->copy_mic, hi = bk->copy_mac;
      e = open_log_stream(inst, bk, szFileName, f);
      if (e) teardown(inst);
      /* a name the list does not hold: say which, and that the backup ended */
      if (e == JET_errInvalidParameter && was_listed)
        inst_detail(inst, "%s is not a log of the list (generations %u .. %u): the backup ended", szFileName, lo,
                    hi - 1);
      else if (e == JET_errInvalidParameter)
        inst_detail(inst, "%s: no log is listed before the log info succeeds: the backup ended", szFileName);
    }
  }
  if (e == JET_errSuccess) {
    f->used = 1;
    /* per instance, so a handle of an earlier backup never names a file of this one */
    inst->backup_file_serial = (inst->backup_file_serial + 1) & 0xFFFFFF;
    if (inst->backup_file_serial == 0) inst->backup_file_serial = 1;
    f->serial = inst->backup_file_serial;
    *phfFile = (JET_HANDLE)(((uintptr_t)f->serial << 16) | (uintptr_t)(f - bk->files));
    if (pulFileSizeLow) *pulFileSizeLow = (unsigned long)(f->size & 0xFFFFFFFFu);
    if (pulFileSizeHigh) *pulFileSizeHigh = (unsigned long)(f->size >> 32);
  } else if (f && inst->backup) {
    file_close(f);
  }
  return e;
}

static bkfile *handle_file(struct esbackup *bk, JET_HANDLE h) {
  uintptr_t slot = h & 0xFFFF, serial = h >> 16;
  if (slot >= bk->nfiles) return NULL;
  bkfile *f = &bk->files[slot];
  return f->used && f->serial == serial ? f : NULL;
}

/* One read at a time on a handle: waits until f (NULL: none) has no read
 * running or the backup ends.  Counted in bk->waiting, so a tear-down
 * frees bk only after this call has looked at it again.  With the lock
 * held (released while waiting). */
static void wait_for_reader(esinst *inst, struct esbackup *bk, bkfile *f) {
  assert(inst_lock_held(inst));
  bk->waiting++;
  while (f && f->reading && bk->state != BACKUP_ENDING) inst_wait(inst, &bk->idle);
  waiter_leaves(bk);
}

/* Pages [pgno, pgno+n) into dst: those the cache holds from memory (the
 * newest committed image: a change after the backup's checkpoint is in the
 * logs the backup lists, and replay meets a whole image of the page before
 * any difference, so a newer image is as good as the file's), the others
 * from the file.  Each carries the dbtime of its last commit, at most the
 * database's dbtime_last.  Called without the instance lock. */
static JET_ERR read_pages(esinst *inst, esdb *db, esfile *via, uint32_t pgno, uint32_t n, uint8_t *dst) {
  assert(!inst_lock_held(inst));
  uint32_t ps = db->hdr.page_size;
  uint8_t *cached = malloc(n);
  if (!cached) return JET_errOutOfMemory;
  inst_lock(inst);
  for (uint32_t k = 0; k < n; k++) cached[k] = (uint8_t)pager_copy_cached(db->pg, pgno + k, dst + (size_t)k * ps);
  inst_unlock(inst);
  JET_ERR e = JET_errSuccess;
  for (uint32_t k = 0; k < n && e == JET_errSuccess;) {
    if (cached[k]) {
      k++;
      continue;
    }
    uint32_t m = 1;
    while (k + m < n && !cached[k + m]) m++;
    e = pager_read_raw(db->pg, via, pgno + k, m, dst + (size_t)k * ps);
    k += m;
  }
  free(cached);
  return e;
}

/* Copies stream bytes [pos, pos+n) of a database into buf (no instance
 * lock held; the pager's I/O lock keeps pages whole). */
static JET_ERR read_db(esinst *inst, esdb *db, bkfile *f, uint8_t *buf, uint64_t pos, size_t n, uint32_t trailer_gen) {
  assert(!inst_lock_held(inst));
  int readahead = n >= READAHEAD_MIN;
  if (f->own && readahead != f->readahead) {
    os_readahead(f->own, readahead);
    f->readahead = readahead;
  }
  uint32_t ps = db->hdr.page_size;
  uint32_t first = (uint32_t)(pos / ps), count = (uint32_t)(n / ps);
  JET_ERR e = JET_errSuccess;
  for (uint32_t i = 0; i < count && e == JET_errSuccess; i++) {
    uint32_t pgno = first + i;
    uint8_t *dst = buf + (size_t)i * ps;
    if (pgno < 2) {
      dbheader_encode(&f->hdr, dst, pgno);
    } else if (pgno == f->pages) {
      /* dbtime_last now: it bounds every page streamed before (they were
       * read earlier, and it only grows) */
      inst_lock(inst);
      uint64_t dbtime_last = db->hdr.dbtime_last;
      inst_unlock(inst);
      trailer_encode(&f->hdr, trailer_gen, dbtime_last, dst, pgno);
    } else {
      uint32_t run = 1;
      while (i + run < count && pgno + run < f->pages) run++;
      e = read_pages(inst, db, f->own, pgno, run, dst);
      char why[sizeof inst->detail];
      for (uint32_t k = 0; k < run && e == JET_errSuccess; k++)
        if ((e = page_check(dst + (size_t)k * ps, ps, pgno + k, 1, db->path, why, sizeof why)) != JET_errSuccess) {
          inst_lock(inst);
          inst_detail(inst, "%s", why);
          inst_unlock(inst);
        }
      i += run - 1;
    }
  }
  return e;
}

/* One read of at most cb bytes of the stream hfFile into pv, in the
 * entered instance.  Paced (pace.h): *credit is what the bucket granted
 * the call so far; when it asks for a wait, nothing is read, *wait_ns says
 * how long, and the caller sleeps that long with no lock held and out of
 * the instance, enters again and calls again with the same *credit (so a
 * stop or an end during the sleep answers as usual).  The read itself runs
 * with the lock released (counted busy).  *at_end: the stream has been
 * delivered to its end. */
JET_ERR backup_read(esinst *inst, JET_HANDLE hfFile, void *pv, unsigned long cb, unsigned long *pcbActual, int paced,
                    uint64_t *credit, uint64_t *wait_ns, int *at_end) {
  assert(inst_lock_held(inst));
  *wait_ns = 0;
  struct esbackup *bk;
  JET_ERR e = bk_check(inst, 0, &bk);
  if (e) return e;
  bkfile *f = handle_file(bk, hfFile);
  wait_for_reader(inst, bk, f);
  if (bk->state == BACKUP_ENDING) return JET_errNoBackup;
  if (!f || !f->used || !pv) return JET_errInvalidParameter;
  if (cb == 0 || cb % inst->prm.page_size) return JET_errInvalidParameter;
  uint64_t pos = f->pos;
  size_t n = f->size - pos < cb ? (size_t)(f->size - pos) : cb;
  if (paced && n > *credit) {
    uint64_t got = 0;
    *wait_ns = pace_reserve(&inst->pace, n - *credit, inst->prm.page_size, pace_now_ns(), &got);
    *credit += got;
    if (*wait_ns) return JET_errSuccess;
  }
  if (paced && n > *credit) n = (size_t)*credit;
  esdb *db = f->is_db ? db_by_id(inst, f->dbid) : NULL;
  uint32_t gen = log_generation(inst->log);
  bk->busy++;
  f->reading = 1;
  inst_unlock(inst);
  if (n == 0) e = JET_errSuccess;
  else if (f->is_db) e = db ? read_db(inst, db, f, pv, pos, n, gen) : JET_errDatabaseNotFound;
  else memcpy(pv, f->image + pos, n);   /* the bytes verified at OpenFile: a log read cannot fail */
  inst_lock(inst);
  f->reading = 0;
  bk->busy--;
  pthread_cond_broadcast(&bk->idle);   /* a tear-down, a close or a read of this handle may wait */
  if (e == JET_errSuccess) {
    f->pos += n;
    if (pcbActual) *pcbActual = (unsigned long)n;
    *at_end = f->pos == f->size;
  } else {
    file_close(f);          /* this database fails; the backup goes on (rule 10) */
  }
  return e;
}

JET_ERR backup_close_file(esinst *inst, JET_HANDLE hfFile) {
  struct esbackup *bk;
  JET_ERR e = bk_check(inst, 1, &bk);
  if (e) return e;
  bkfile *f = handle_file(bk, hfFile);
  wait_for_reader(inst, bk, f);
  if (bk->state == BACKUP_ENDING) e = JET_errNoBackup;   /* ended while this call waited */
  else if (!f || !f->used) e = JET_errInvalidParameter;
  else {
    if (f->pos == f->size) {
      if (f->is_db) {
        for (int i = 0; i < bk->ndbs; i++)
          if (bk->dbs[i].dbid == f->dbid) bk->dbs[i].done = 1;
      } else if (bk->log_done && f->gen >= bk->copy_mic && f->gen < bk->copy_mac) {
        bk->log_done[f->gen - bk->copy_mic] = 1;
      }
    }
    file_close(f);
  }
  return e;
}

/* ---- GetLogInfo / TruncateLog ------------------------------------------------ */

static int any_open(struct esbackup *bk) {
  for (uint32_t i = 0; i < bk->nfiles; i++)
    if (bk->files[i].used) return 1;
  return 0;
}

/* Once per backup: roll the log (the cut-off), checkpoint (in slices), fix
 * the ranges; then DATABASES or UNLISTED -> LOGS.  While the checkpoint
 * releases the lock, no reader can open: a database is refused after the
 * cut-off, a log before the list. */
static JET_ERR prepare_logs(esinst *inst, struct esbackup *bk) {
  assert(inst_lock_held(inst) && (bk->state == BACKUP_DATABASES || bk->state == BACKUP_UNLISTED));
  uint32_t lo, hi;
  int cur;
  JET_ERR e;
  if ((e = cut_off(inst, bk)) != JET_errSuccess) return e;
  if ((e = run_checkpoint(inst, bk, bk->ckpt_target)) != JET_errSuccess) return e;
  if (listed(bk)) return JET_errSuccess;   /* another call listed the logs while the lock was released */
  if ((e = log_scan_dir(inst->prm.log_path, inst->prm.base, &lo, &hi, &cur)) != JET_errSuccess) return e;
  if (lo == 0) return JET_errFileNotFound;
  if (bk->incremental) {
    bk->copy_mic = lo;
    for (int i = 0; i < bk->ndbs; i++) {
      esdb *db = db_by_id(inst, bk->dbs[i].dbid);
      if (!db) continue;
      uint32_t last = db->hdr.backup[BK_FULL].gen_hi;
      if (db->hdr.backup[BK_INCREMENTAL].gen_hi > last) last = db->hdr.backup[BK_INCREMENTAL].gen_hi;
      if (lo > last + 1) {
        /* ESE's rule (backup.cxx, ErrBKICheckLogsForIncrementalBackup):
         * each attached database's last full or incremental must reach
         * the logs on disk; a backup taken while it was detached (or
         * another instance's, for a file brought from there) deleted them */
        inst_detail(inst, "log generation %u is missing for %s: its last backup ended at %u, later logs were "
                    "truncated (by a backup taken while it was detached?); take a full backup", last + 1, db->path,
                    last);
        return JET_errMissingFileToBackup;
      }
    }
  }
  bk->delete_mac = LSN_GEN(inst->checkpoint) < bk->copy_mac ? LSN_GEN(inst->checkpoint) : bk->copy_mac;
  bk->delete_mac = inst_unshipped_from(inst, bk->delete_mac);   /* never a log the archive has not shipped */
  if (!bk->incremental)
    for (int i = 0; i < bk->ndbs; i++) {
      esdb *db = db_by_id(inst, bk->dbs[i].dbid);
      uint32_t cap = bk->dbs[i].done ? bk->delete_mac : (db ? db->hdr.backup[BK_FULL].gen_hi : 0);
      if (cap < bk->delete_mac) bk->delete_mac = cap;
    }
  bk->delete_mic = lo < bk->delete_mac ? lo : bk->delete_mac;
  if (!(bk->log_done = calloc(bk->copy_mac - bk->copy_mic + 1, 1))) return JET_errOutOfMemory;
  return bk_move(inst, bk, BACKUP_LOGS);
}

JET_ERR backup_log_info(esinst *inst, int truncate_list, char *szz, unsigned long cbMax, unsigned long *pcb,
                        JET_LOGINFO *li) {
  assert(!li || li->cbSize == sizeof *li);
  struct esbackup *bk;
  JET_ERR e = bk_check(inst, 0, &bk);
  if (e) return e;
  if (any_open(bk)) e = JET_errInvalidBackupSequence;
  else if (!listed(bk)) e = prepare_logs(inst, bk);
  if (e == JET_errSuccess) {
    e = truncate_list ? log_list(inst, bk->delete_mic, bk->delete_mac, szz, cbMax, pcb)
                      : log_list(inst, bk->copy_mic, bk->copy_mac, szz, cbMax, pcb);
    if (e) teardown(inst);
  }
  if (e == JET_errSuccess && li) {
    li->ulGenLow = bk->copy_mic;
    li->ulGenHigh = bk->copy_mac - 1;
    memcpy(li->szBaseName, inst->prm.base, 4);
  }
  return e;
}

#define TRUNCATE_PART_US 2000u   /* a stepwise truncation deletes logs for about this long a call */

static JET_ERR truncate_part(esinst *inst, struct esbackup *bk, uint64_t budget_us, int *more);
static JET_ERR end_step(esinst *inst, struct esbackup *bk, int *more);
static JET_ERR end_fail(esinst *inst, JET_ERR e);
static JET_ERR dirsync_job(void *ud);
static JET_ERR unlink_job(void *ud);
static JET_ERR delete_some(esinst *inst, uint32_t *at, uint32_t mac, uint64_t budget_us);

/* A slice of the backup's checkpoint, or (cut: asked, before the log
 * list) the cut-off, which is then the call's slice. */
static JET_ERR slice_step(esinst *inst, struct esbackup *bk, int cut, int *more) {
  assert(inst_lock_held(inst));
  JET_ERR e = JET_errSuccess;
  *more = 0;
  if (cut && !listed(bk) && !bk->copy_mac) e = any_open(bk) ? JET_errInvalidBackupSequence : cut_off(inst, bk);
  else cut = 0;
  if (e == JET_errSuccess) pace_note_backup_work(&inst->pace, pace_now_ns());
  if (e == JET_errSuccess && cut) *more = inst->checkpoint < bk->ckpt_target;   /* the roll (a new log file made) */
  else if (e == JET_errSuccess) e = ckpt_toward(inst, bk->ckpt_target, more);
  return e;
}

/* JOB_SLICE on the worker: slice_step under the instance lock, taken here
 * (the caller holds none meanwhile).  bk lives until the job is collected
 * (a tear-down collects it first). */
static JET_ERR slice_job(void *ud) {
  struct esbackup *bk = ud;
  esinst *inst = bk->inst;
  inst_lock(inst);
  JET_ERR e = bk_still(inst, bk);
  int more = 0;
  if (e == JET_errSuccess) e = slice_step(inst, bk, 0, &more);
  bk->slice_more = more;
  inst_unlock(inst);
  return e;
}

/* Deletes the logs from *at on, before mac, until budget_us passed (at
 * least one); *at moves past each one deleted (or found gone). */
static JET_ERR delete_some(esinst *inst, uint32_t *at, uint32_t mac, uint64_t budget_us) {
  uint64_t t0 = os_mono_us();
  JET_ERR e = JET_errSuccess;
  for (int n = 0; e == JET_errSuccess && *at < mac && !(n && os_mono_us() - t0 >= budget_us); n++) {
    char *p = log_file_name(inst->prm.log_path, inst->prm.base, *at);
    if (!p) e = JET_errOutOfMemory;
    else if (os_exists(p)) e = log_retire(inst->log, p);   /* deleted, or a spare for a next generation */
    free(p);
    if (e == JET_errSuccess) (*at)++;
  }
  return e;
}

/* JOB_UNLINK on the worker: a part of the truncation's deletions, from
 * job_at on (finish_job takes job_at back into delete_at). */
static JET_ERR unlink_job(void *ud) {
  struct esbackup *bk = ud;
  return delete_some(bk->inst, &bk->job_at, bk->delete_mac, TRUNCATE_PART_US);
}

/* JOB_DIRSYNC on the worker: the truncation's log folder sync. */
static JET_ERR dirsync_job(void *ud) {
  struct esbackup *bk = ud;
  return os_sync_dir(bk->inst->io, bk->inst->prm.log_path);
}

/* Collects the pending job (waiting STEP_WAIT_US at most; *pending 1 while
 * it runs) and does what follows it: after the truncation's folder sync
 * the backup is truncated; after a header page's sync End goes on, or, on
 * its failure, ends (end_fail).  Its error, else 0. */
static JET_ERR finish_job(esinst *inst, struct esbackup *bk, int *pending) {
  int kind = bk->job;
  JET_ERR e = JET_errSuccess;
  /* a slice takes the instance lock itself: with the lock held (and taken
   * back after a wait) a call never waits for it, it only looks */
  *pending = !collect_job(inst, bk, kind == JOB_SLICE ? 0 : STEP_WAIT_US, &e);
  if (*pending) return JET_errSuccess;
  if (kind == JOB_UNLINK) bk->delete_at = bk->job_at;   /* the logs it deleted, also before a failure */
  if (kind == JOB_DIRSYNC && e == JET_errSuccess && bk->state == BACKUP_LOGS) e = bk_move(inst, bk, BACKUP_TRUNCATED);
  if (kind == JOB_HEADER && e) e = end_fail(inst, e);
  return e;
}

/* One slice of the backup's pending checkpoint (ese.h), a part of the
 * truncation (ESE_bitBackupStepTruncate: truncate_part) or a step of End
 * (ESE_bitBackupStepEnd: end_step).  Before the log list,
 * ESE_bitBackupStepCutOff makes the cut-off first (refused with a reader
 * open, as GetLogInfo is); after the list nothing is pending.
 * A step's sync runs on the backup's worker, unless the I/O events are
 * counted (esio_ordered: then every step runs in line, as one blocking
 * call would): a checkpoint slice (slice_job; the cut-off's log roll is
 * made in line, so a commit after the call is after the cut-off), the
 * truncation's deletions and folder
 * sync, an End header page's sync.  The entry point waits for the
 * instance lock BACKUP_STEP_WAIT_US at most (a slice on the worker holds
 * it); the call waits for a sync STEP_WAIT_US at most without the lock,
 * for a slice not at all (it starts it and answers "more", and
 * *started_job 1: the caller yields once it left the instance, so that
 * the worker takes the lock before the caller's next call), and answers
 * *pfMore 1 while the job runs; a later call collects it first
 * (finish_job), whatever it asks: an error is that call's; a slice's or
 * the truncation's answer is the answer of a call that asked for the same
 * kind of step; else the call goes on with what it asked. */
JET_ERR backup_step(esinst *inst, JET_GRBIT grbit, int *pfMore, int *started_job) {
  assert(inst_lock_held(inst) && *pfMore == 0);
  *started_job = 0;
  struct esbackup *bk;
  JET_ERR e = bk_check(inst, 0, &bk);
  if (e) return e;
  int slice = !(grbit & (ESE_bitBackupStepTruncate | ESE_bitBackupStepEnd)), was = bk->job, pending = 0;
  if (was != JOB_NONE) {
    e = finish_job(inst, bk, &pending);
    int trunc = (was == JOB_DIRSYNC || was == JOB_UNLINK) && (grbit & ESE_bitBackupStepTruncate);
    if (e || pending || (was == JOB_SLICE && slice) || trunc) {
      /* after a part of the deletions, the folder's sync is left at least */
      *pfMore = pending || (e == JET_errSuccess && ((was == JOB_SLICE && bk->slice_more) || was == JOB_UNLINK));
      *started_job = pending && was == JOB_SLICE;   /* the caller yields: the worker takes the lock first */
      return e;
    }
  }
  if (grbit & ESE_bitBackupStepEnd) {
    e = end_step(inst, bk, pfMore);
  } else if (grbit & ESE_bitBackupStepTruncate) {
    e = truncate_part(inst, bk, TRUNCATE_PART_US, pfMore);
  } else {
    int cut = (grbit & ESE_bitBackupStepCutOff) && !listed(bk) && !bk->copy_mac;
    /* the cut-off (refused with a reader open, else the log's roll) is made
     * in line, so that a commit after this call is after it; nothing to
     * do: answered in line too */
    int quick = cut || inst->checkpoint >= bk->ckpt_target;
    if (!quick && !esio_ordered(inst->io) && os_worker_start(bk->worker, slice_job, bk)) {
      bk->job = JOB_SLICE;     /* it runs once this call leaves the lock; a later call collects it */
      *pfMore = *started_job = 1;
    } else {
      e = slice_step(inst, bk, cut, pfMore);   /* in line */
    }
  }
  return e;
}

static int all_logs_done(struct esbackup *bk) {
  for (uint32_t g = bk->copy_mic; g < bk->copy_mac; g++)
    if (!bk->log_done[g - bk->copy_mic]) return 0;
  return 1;
}

/* The truncation, a part per call: the logs from delete_at on are deleted
 * until budget_us passed (at least one per call; *more = 1 while any is
 * left); then, in a call of its own unless budget_us is UINT64_MAX (one
 * call does it all), the backup moves to TRUNCATED and the log folder is
 * synced (*more = 0).  Either way the same events in the same order. */
static JET_ERR truncate_part(esinst *inst, struct esbackup *bk, uint64_t budget_us, int *more) {
  assert(inst_lock_held(inst));
  *more = 0;
  if (any_open(bk) || !listed(bk)) return JET_errInvalidBackupSequence;
  if (!all_logs_done(bk)) return JET_errLogFileNotCopied;
  if (bk->state == BACKUP_TRUNCATED) return JET_errSuccess;   /* deleted and the folder synced: nothing to do */
  if (bk->delete_at < bk->delete_mic) bk->delete_at = bk->delete_mic;
  /* stepwise, the deletions and the folder's sync run on the worker
   * (JOB_UNLINK, JOB_DIRSYNC); the call that collects the sync
   * (EseBackupStep: finish_job) moves the backup to TRUNCATED */
  int async = budget_us != UINT64_MAX && !esio_ordered(inst->io);
  int kind = bk->delete_at < bk->delete_mac ? JOB_UNLINK : JOB_DIRSYNC;
  bk->job_at = bk->delete_at;
  if (async && os_worker_start(bk->worker, kind == JOB_UNLINK ? unlink_job : dirsync_job, bk)) {
    bk->job = kind;
    int pending = 0;
    JET_ERR e = finish_job(inst, bk, &pending);
    *more = pending || (e == JET_errSuccess && kind == JOB_UNLINK);
    return e;
  }
  int n = bk->delete_at < bk->delete_mac;
  JET_ERR e = delete_some(inst, &bk->delete_at, bk->delete_mac, budget_us);
  if (e == JET_errSuccess && bk->delete_at < bk->delete_mac) {
    *more = 1;
    return JET_errSuccess;
  }
  if (e == JET_errSuccess && n && budget_us != UINT64_MAX) {
    *more = 1;     /* the folder's sync: the next call */
    return JET_errSuccess;
  }
  if (e == JET_errSuccess) e = os_sync_dir(inst->io, inst->prm.log_path);
  if (e == JET_errSuccess) e = bk_move(inst, bk, BACKUP_TRUNCATED);   /* as finish_job: once synced */
  return e;
}

JET_ERR backup_truncate(esinst *inst) {
  struct esbackup *bk;
  JET_ERR e = bk_check(inst, 0, &bk);
  if (e) return e;
  int more;
  e = truncate_part(inst, bk, UINT64_MAX, &more);
  assert(e || !more);
  return e;
}

/* ---- End / Stop -------------------------------------------------------------- */

/* Rule 1: complete = the log phase reached and every listed file read
 * to its end (each database of a full backup, each log). */
static int complete(struct esbackup *bk) {
  if (!listed(bk) || !all_logs_done(bk)) return 0;
  for (int i = 0; !bk->incremental && i < bk->ndbs; i++)
    if (!bk->dbs[i].done) return 0;
  return 1;
}

/* Rule 11: the record a successful End writes in each database's header:
 * its kind (truncated or not) and the generations of the set. */
static void end_record(struct esbackup *bk, int truncated, int *kind, bkrecord *rec) {
  *kind = bk->incremental ? (truncated ? BK_INCREMENTAL : BK_DIFFERENTIAL) : (truncated ? BK_FULL : BK_COPY);
  *rec = (bkrecord){ bk->copy_mic, bk->copy_mac - 1, os_now_us() };
}

/* The record in db's header (in memory). */
static void put_record(esdb *db, int kind, const bkrecord *rec) {
  db->hdr.backup[kind] = *rec;
  if (kind == BK_FULL) {
    memset(&db->hdr.backup[BK_INCREMENTAL], 0, sizeof(bkrecord));
    memset(&db->hdr.backup[BK_DIFFERENTIAL], 0, sizeof(bkrecord));
  }
}

static JET_ERR record_backup(esinst *inst, struct esbackup *bk, int truncated) {
  assert(inst_lock_held(inst) && listed(bk));
  int kind;
  bkrecord rec;
  end_record(bk, truncated, &kind, &rec);
  JET_ERR e = JET_errSuccess;
  for (int i = 0; i < bk->ndbs && e == JET_errSuccess; i++) {
    esdb *db = db_by_id(inst, bk->dbs[i].dbid);
    if (!db) continue;
    put_record(db, kind, &rec);
    e = dbheader_write(db->file, &db->hdr);
  }
  return inst_fatal(inst, e);
}

/* The end of End in steps: success, or a failure (the instance then
 * refuses writes, as after End's); either way the backup ends. */
static JET_ERR end_fail(esinst *inst, JET_ERR e) {
  e = inst_fatal(inst, e);
  teardown(inst);
  return e;
}

/* One step of End in steps (ESE_bitBackupStepEnd, ese.h), after
 * EseBackupStep collected the sync of the page before: the next header
 * page written and its sync started on the worker (JOB_HEADER; in line
 * with ordered I/O, esio_ordered, so the fault events are End's, in End's
 * order, or when no thread could be started), else the tear-down.  A
 * failure ends the backup, as End's does (end_fail). */
static JET_ERR end_step(esinst *inst, struct esbackup *bk, int *more) {
  assert(inst_lock_held(inst));
  *more = 0;
  JET_ERR e = JET_errSuccess;
  if (!bk->ending) {
    if (!complete(bk)) return JET_errBackupAbortByCaller;   /* as End's; the backup goes on */
    end_record(bk, bk->state == BACKUP_TRUNCATED, &bk->end_kind, &bk->end_rec);
    bk->ending = 1;
  }
  assert(bk->job == JOB_NONE);   /* the page before: durable (EseBackupStep collected its sync) */
  esdb *db = NULL;
  while (e == JET_errSuccess && bk->end_db < bk->ndbs && !(db = db_by_id(inst, bk->dbs[bk->end_db].dbid)))
    bk->end_db++;
  if (e == JET_errSuccess && db) {
    uint32_t pg = (uint32_t)bk->end_page;
    uint8_t *page = malloc(db->hdr.page_size);
    if (pg == 0) put_record(db, bk->end_kind, &bk->end_rec);
    if (!page) e = JET_errOutOfMemory;
    else if (db->hdr.dbtime_last > DBTIME_MAX) e = JET_errDatabaseCorrupted;   /* as dbheader_write */
    else {
      dbheader_encode(&db->hdr, page, pg);
      e = os_pwrite(db->file, page, db->hdr.page_size, (uint64_t)pg * db->hdr.page_size);
    }
    free(page);
    if (++bk->end_page == 2) {
      bk->end_page = 0;
      bk->end_db++;
    }
    *more = e == JET_errSuccess;
    if (e == JET_errSuccess && !esio_ordered(inst->io) && os_worker_start(bk->worker, os_sync_job, db->file))
      bk->job = JOB_HEADER;
    else if (e == JET_errSuccess)
      e = os_sync(db->file);
    if (e == JET_errSuccess) return JET_errSuccess;
  }
  *more = 0;
  return end_fail(inst, e);
}

JET_ERR backup_end(esinst *inst, JET_GRBIT grbit) {
  int normal = (grbit & JET_bitBackupEndNormal) != 0, abort_ = (grbit & JET_bitBackupEndAbort) != 0;
  struct esbackup *bk;
  JET_ERR e = bk_check(inst, 1, &bk);
  if (e) return e;
  if (normal == abort_) return JET_errInvalidParameter;   /* the backup goes on (rule 2) */
  if (bk->state == BACKUP_STOPPED) e = JET_errBackupAbortByServer;   /* rule 3: whatever End asks */
  else if (abort_) e = JET_errSuccess;
  else if (!complete(bk)) e = JET_errBackupAbortByCaller;
  else if (!(grbit & JET_bitBackupNoDbHeaderUpdate))
    e = record_backup(inst, bk, bk->state == BACKUP_TRUNCATED || (grbit & JET_bitBackupTruncateDone));
  JET_ERR lost = teardown(inst);   /* an End step's failed sync: its error, whatever End asked */
  if (lost && (e == JET_errSuccess || e == JET_errBackupAbortByServer)) e = lost;
  return e;
}

/* Rule 3: the running backup (if any) stops; succeeds in every state. */
JET_ERR backup_stop(esinst *inst) {
  assert(inst_lock_held(inst));
  struct esbackup *bk = inst->backup;
  if (bk && bk->state != BACKUP_STOPPED && bk->state != BACKUP_ENDING) (void)bk_move(inst, bk, BACKUP_STOPPED);
  return JET_errSuccess;
}

void backup_look(esinst *inst, backup_view *v) {
  inst_lock(inst);
  const struct esbackup *bk = inst->backup;
  *v = (backup_view){ bk ? bk->state : BACKUP_NONE, bk ? bk->waiting : 0,
                      !bk || !bk->copy_mac ? 0 : bk->copy_mac == CUT_RUNNING ? 1 : 2 };
  inst_unlock(inst);
}
