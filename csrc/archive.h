/*
 * archive.h -- the log archive (continuous backup): a background thread of
 * an instance that ships every closed log generation, once, in order, to a
 * folder (archive_path) or through a command (archive_command).
 *
 * States of the thread (one enum, moved only by arc_move, which asserts the
 * move):
 *   IDLE      waiting: nothing closed to ship, a retry's backoff, the
 *             archive_timeout clock, or a stop
 *   SHIPPING  copying generation `next` (or running the command for it)
 *             without any lock
 *   ROLLING   calling the instance's roll callback (archive_timeout): the
 *             callback takes the instance lock itself
 *   STOPPED   the thread has returned (archive_stop joined it)
 * Moves: IDLE -> SHIPPING -> IDLE, IDLE -> ROLLING -> IDLE, IDLE -> STOPPED.
 *
 * Invariants:
 * - Generations below `next` are shipped (durably: the folder's file and
 *   the folder synced, or the command exited 0); `next` only grows, and is
 *   durable in <system_path>/<base>.arc (format: docs/format.md) before the
 *   status says so.  Every generation from `next` on stays in the log folder
 *   (archive_pin): circular logging and backup truncation keep them.
 * - `closed` is the highest closed generation (current - 1); the roll hook
 *   raises it.  Pending = closed + 1 - next generations.
 * - `hold`: set at start, never cleared: an archive whose <base>.arc is
 *   ahead of the log (the stream went back: a restore) ships nothing
 *   through a command (its destination may hold the old timeline's files,
 *   which it could overwrite) nor into a folder that holds any file of
 *   this stream (the old timeline's, or those of the instance the logs
 *   came from, which may still archive there the numbers this one writes
 *   next); everything stays pending and pinned.
 * - Nothing is shipped into archive_path while another archiver may: the
 *   folder is held (<base>.lck) by init (cfg.locked) or, when init could
 *   not take it (the folder missing or unusable then), by the thread
 *   before its first ship there (a failure otherwise: reported, retried).
 * - Locks: a->mu guards every field the thread shares.  It is a leaf lock:
 *   taken under the instance lock (hook, pin, status) and never held while
 *   taking any other lock; the thread holds no lock while it ships or rolls.
 */
#ifndef ESE_ARCHIVE_H
#define ESE_ARCHIVE_H
#include <stddef.h>
#include <stdint.h>
#include "ese.h"
#include "log.h"

typedef struct esarchive esarchive;

typedef struct archive_config {
  const char *log_dir;        /* canonical (absolute): %p is log_dir/name */
  const char *base;
  const char *system_path;    /* folder of <base>.arc */
  const char *path;           /* archive_path, or NULL */
  int locked;                 /* init holds path's folder; else the thread takes
                               * its <base>.lck before its first ship there */
  const char *command;        /* archive_command, or NULL */
  uint32_t timeout_s;         /* archive_timeout; 0: off */
  uint64_t max_backlog;       /* bytes; 0: no limit */
  uint32_t command_timeout_s; /* a command running longer is killed (0: never) */
  uint32_t retry_max_ms;      /* the backoff's cap */
  uint32_t file_size;         /* bytes of a generation file */
  eslog *log;                 /* outlives the archiver (archive_stop first) */
  /* archive_timeout's roll: called by the thread with no lock held; it
   * takes the instance lock and rolls when the instance runs, unless
   * another roll runs (then 0, the generation not closed yet: the thread
   * looks again after its poll interval). */
  JET_ERR (*roll)(void *ud);
  void *ud;
} archive_config;

/* Reads <base>.arc, finds the first unshipped generation (the .arc's,
 * else the lowest generation in the log folder), hooks the log's rolls and
 * starts the thread.  Copies every string of cfg. */
JET_ERR archive_start(const archive_config *cfg, esarchive **out);
/* Asks the thread to stop, lets the ship in progress finish for at most
 * grace_ms (then a command is killed, a copy abandoned: that generation
 * stays pending) and joins it.  Unhooks the log.  The pin stays valid
 * until archive_free. */
void archive_stop(esarchive *a, uint32_t grace_ms);
void archive_free(esarchive *a);   /* after archive_stop; NULL is fine */

/* The first generation not yet shipped: logs from it on must be kept. */
uint32_t archive_pin(esarchive *a);
/* 1 when pending bytes exceed archive_max_backlog (a commit's warning). */
int archive_backlogged(esarchive *a);

typedef struct archive_status {
  uint32_t shipped;           /* the highest shipped generation, 0: none */
  uint32_t pending;           /* closed generations not yet shipped */
  uint64_t pending_bytes;
  int backlogged;
  uint32_t failures;          /* failed attempts since the last success */
  char last_error[512];       /* "" when none */
} archive_status;
void archive_get_status(esarchive *a, archive_status *st);

/* Writes <system_path>/<base>.arc naming next as the first generation not
 * shipped of the stream sig (durably: os_write_file_atomic).  Every
 * restore (a new timeline: the stream goes on from the restored point,
 * and the instance the logs came from may go on too) writes
 * ARC_MARK_RESTORED, ahead of any generation the stream will reach: the
 * archive then knows the stream went back (archive_start), however many
 * generations the instance writes before an archive is configured (a
 * real number could be reached, and the generations below it taken for
 * shipped). */
#define ARC_MARK_RESTORED UINT32_MAX
JET_ERR archive_mark(esio *io, const char *system_path, const char *base, const log_sig *sig, uint32_t next);

/* <system_path>/<base>.tl: the timeline of the log stream a restore
 * started (docs/format.md): u32 CRC32C of bytes 4..64, "ESETL\0\0\1",
 * u8[16] the timeline's id (random), u8[16] its parent's (zeros: the
 * root timeline, never restored), u8[16] the stream's log signature, u32
 * the fork generation (the last generation the restore replayed), u32 0.
 * Every restore writes a new one (timeline_write: durably, through a
 * temporary file, never through a link). */
#define TL_SIZE 64
JET_ERR timeline_write(esio *io, const char *system_path, const char *base, const log_sig *sig,
                       const uint8_t *parent, uint32_t fork_gen);
/* The timeline id (and its parent's, zeros: the root) of stream sig in system_path: *has = 0 when there is no
 * <base>.tl (the root timeline) or it names another stream (a folder
 * given a new stream since); JET_errLogFileCorrupt when it is damaged or
 * not a file (a link is never followed). */
JET_ERR timeline_read(esio *io, const char *system_path, const char *base, const log_sig *sig, uint8_t id[16],
                      uint8_t parent[16], int *has);

#endif
