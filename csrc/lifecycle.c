/* lifecycle.c -- an instance's init and term in the layers below it,
 * the work JetInit* and JetTerm* (jet_instance.c) hand to instance.c's
 * registry and state gate (inst_init_with, inst_term_with):
 * - lifecycle_init: the restore map checked and copied, the folders and
 *   parameters checked, B.lck taken (log folder, the checkpoint's
 *   folder when it is another, archive_path's folder), soft recovery
 *   (recovery.c), the log archive's thread started (archive.c); on a
 *   failure everything it took is released and the instance stays as it
 *   was (CREATED);
 * - lifecycle_term: the archive's thread stopped, a running backup torn
 *   down (backup.c), the sessions ended, then a clean shutdown (every
 *   database written clean, two checkpoints, the ring discarded) or the
 *   log flushed, and everything the instance holds released.
 * It sits above backup and restore (term ends a backup), below the entry
 * points. */
#include "lifecycle.h"
#include "database.h"
#include "session.h"
#include "checkpoint.h"
#include "recovery.h"
#include "archive.h"
#include "backup.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long term lets the archive's ship in progress finish (archive_stop). */
#define ARCHIVE_TERM_GRACE_MS 5000u

/* ---- init ----------------------------------------------------------------- */

/* B.lck of dir, locked in *out for as long as the instance runs. */
static JET_ERR lock_folder(esinst *inst, const char *dir, const char *what, esfile **out) {
  char *path;
  JET_ERR e = os_lock_folder(inst->io, dir, inst->prm.base, out, &path);
  if (!path) return JET_errOutOfMemory;
  if (e == JET_errFileAccessDenied) inst_detail(inst, "%s is held by another instance or process", what);
  else if (e == JET_errInvalidPath)
    inst_detail(inst, "the lock file %s of the %s is a symbolic link or not a regular file", path, what);
  free(path);
  return e;
}

/* The log folder's B.lck; when B.chk lives in another folder, that
 * folder's B.lck too: two instances of one base name never share a
 * checkpoint, and a restore (of any process) sees the folder in use.
 * With archive_path, that folder's B.lck too (the folder made when
 * missing), unless it is the system folder, held already: two instances
 * of one base name (in this process or another) never archive into one
 * folder at once, where each would write the other's NAME.part and find
 * the other's generations under its own numbers; the second one's init
 * fails (JET_errFileAccessDenied) before its recovery, having written
 * nothing in the archive; a link or anything but a regular file as B.lck
 * fails it as in the log folder (JET_errInvalidPath).  A folder that
 * cannot be made, or a lock file that cannot be opened otherwise (a file
 * in the folder's place, no permission) does not fail init: the archive's
 * thread takes the lock before its first ship there (archive.c,
 * arc_lock), reporting and retrying as for a failed ship until it holds
 * it (docs/format.md, Lock files). */
static JET_ERR lock_folders(esinst *inst) {
  const esparams *p = &inst->prm;
  char what[64 + 4096];
  snprintf(what, sizeof what, "log folder %s", p->log_path);
  JET_ERR e = lock_folder(inst, p->log_path, what, &inst->lockfile);
  if (e == JET_errSuccess && !os_same_file(p->system_path, p->log_path)) {
    snprintf(what, sizeof what, "system (checkpoint) folder %s", p->system_path);
    e = lock_folder(inst, p->system_path, what, &inst->syslockfile);
  }
  if (e == JET_errSuccess && p->archive_path && !os_same_file(p->archive_path, p->system_path) &&
      os_mkdir_p(p->archive_path, 0700) == JET_errSuccess) {
    snprintf(what, sizeof what, "log archive folder %s", p->archive_path);
    JET_ERR le = lock_folder(inst, p->archive_path, what, &inst->arclockfile);
    if (le == JET_errFileAccessDenied || le == JET_errInvalidPath) e = le;   /* another archiver; a link */
    else if (le) inst->detail[0] = 0;  /* the archive takes it later: no failure, no detail */
  }
  return e;
}

/* 1 when init holds the archive folder (its B.lck, or it is the system
 * folder, whose B.lck is held). */
static int archive_locked(const esinst *inst) {
  return inst->arclockfile || os_same_file(inst->prm.archive_path, inst->prm.system_path);
}

static void release_resources(esinst *inst) {
  assert(!inst->archive || inst->state != INST_RUNNING);
  archive_free(inst->archive);   /* stopped first (term), or never started */
  inst->archive = NULL;
  for (int i = 1; i <= ESE_MAX_DB; i++)
    if (inst->db[i]) db_close(inst, inst->db[i]);
  if (inst->log) log_close(inst->log);
  inst->log = NULL;
  dw_close(inst->dw);
  inst->dw = NULL;
  os_close(inst->lockfile);
  inst->lockfile = NULL;
  os_close(inst->syslockfile);
  inst->syslockfile = NULL;
  os_close(inst->arclockfile);
  inst->arclockfile = NULL;
  esio_free(inst->io);
  inst->io = NULL;
}

/* The canonical log folder: database paths are recorded relative to it. */
static JET_ERR log_folder_real(esinst *inst) {
  free(inst->log_real);
  inst->log_real = NULL;
  return os_abs_path(inst->prm.log_path, 1, &inst->log_real);
}

static void remap_free(JET_RSTMAP *m, long n) {
  for (long i = 0; m && i < n; i++) {
    free(m[i].szDatabaseName);
    free(m[i].szNewDatabaseName);
  }
  free(m);
}

/* Checks JetInit3's map and copies it with canonical paths (an old name
 * whose folder is gone stays as given; one with a trailing '/', or a new
 * name that is a folder or another non-regular file, is
 * JET_errInvalidPath) into *out. */
static JET_ERR remap_copy(const JET_RSTINFO *ri, JET_RSTMAP **out, long *nout) {
  *out = NULL;
  *nout = 0;
  if (!ri) return JET_errSuccess;
  if (ri->cbStruct != sizeof *ri || ri->crstmap < 0 || ri->crstmap > 1024 || (ri->crstmap > 0 && !ri->rgrstmap))
    return JET_errInvalidParameter;
  for (long i = 0; i < ri->crstmap; i++) {
    const JET_RSTMAP *m = &ri->rgrstmap[i];
    if (!m->szDatabaseName || !*m->szDatabaseName || !m->szNewDatabaseName || !*m->szNewDatabaseName)
      return JET_errInvalidParameter;
  }
  /* an old name ending in '/' names no database file: it would never
   * match, and recovery would go on at the recorded paths unnoticed */
  for (long i = 0; i < ri->crstmap; i++) {
    const char *old = ri->rgrstmap[i].szDatabaseName;
    if (old[strlen(old) - 1] == '/') return JET_errInvalidPath;
  }
  JET_RSTMAP *m = calloc(ri->crstmap ? (size_t)ri->crstmap : 1, sizeof *m);
  if (!m) return JET_errOutOfMemory;
  JET_ERR e = JET_errSuccess;
  for (long i = 0; e == JET_errSuccess && i < ri->crstmap; i++) {
    if (db_canon_path(ri->rgrstmap[i].szDatabaseName, &m[i].szDatabaseName) != JET_errSuccess &&
        !(m[i].szDatabaseName = strdup(ri->rgrstmap[i].szDatabaseName)))
      e = JET_errOutOfMemory;
    if (e == JET_errSuccess) e = db_canon_path(ri->rgrstmap[i].szNewDatabaseName, &m[i].szNewDatabaseName);
    int kind = e == JET_errSuccess ? os_kind(m[i].szNewDatabaseName) : OS_ABSENT;
    if (kind == OS_DIR || kind == OS_OTHER) e = JET_errInvalidPath;   /* a folder, FIFO, device: never a database */
    for (long j = 0; e == JET_errSuccess && j < i; j++)
      if (!strcmp(m[i].szDatabaseName, m[j].szDatabaseName)) e = JET_errInvalidParameter;
  }
  if (e) {
    remap_free(m, ri->crstmap);
    return e;
  }
  *out = m;
  *nout = ri->crstmap;
  return JET_errSuccess;
}

/* archive_timeout's roll (the archiver's thread, no lock held): rolls the
 * log when the instance runs and its current generation holds records,
 * unless another roll runs (the backup's cut-off, without the lock: it
 * closes that generation; waiting for it with the lock held would make
 * every commit wait). */
static JET_ERR archive_roll(void *ud) {
  esinst *inst = ud;
  inst_lock(inst);
  JET_ERR e = inst_gate(inst) ? JET_errTermInProgress : JET_errSuccess;
  if (e == JET_errSuccess && log_first_record_us(inst->log)) e = inst_fatal(inst, log_roll_unless_rolling(inst->log));
  inst_unlock(inst);
  return e;
}

/* The archive parameters, checked before init changes anything: one of
 * archive_path and archive_command, and a folder that is not the log
 * folder (its copies would be the logs themselves: "shipped" at once,
 * never kept anywhere else).  After inst_paths_ready. */
static JET_ERR archive_params_check(esinst *inst) {
  const esparams *p = &inst->prm;
  if (p->archive_path && p->archive_command) {
    inst_detail(inst, "archive_path and archive_command are both set: archive with one of them");
    return JET_errInvalidParameter;
  }
  if (p->archive_path && os_same_file(p->archive_path, p->log_path)) {
    inst_detail(inst, "archive_path %s is the log folder: archive to another folder", p->archive_path);
    return JET_errInvalidParameter;
  }
  return JET_errSuccess;
}

/* The log archive, when configured: its thread starts once recovery has
 * made the log ready. */
static JET_ERR archive_begin(esinst *inst) {
  const esparams *p = &inst->prm;
  if (!p->archive_path && !p->archive_command) return JET_errSuccess;
  archive_config c = {
    .log_dir = inst->log_real, .base = p->base, .system_path = p->system_path, .path = p->archive_path,
    .command = p->archive_command, .timeout_s = p->archive_timeout, .max_backlog = p->archive_max_backlog,
    .command_timeout_s = p->archive_command_timeout, .retry_max_ms = p->archive_retry_max,
    .file_size = p->log_file_kib * 1024u, .log = inst->log, .roll = archive_roll, .ud = inst,
    .locked = p->archive_path && archive_locked(inst),
  };
  return archive_start(&c, &inst->archive);
}

JET_ERR lifecycle_init(esinst *inst, const JET_RSTINFO *ri) {
  /* transaction ids grow across runs (recovery raises this past every id
   * it meets), so a log never holds two groups of one id back to back */
  inst->next_txid = os_now_us();
  inst->detail[0] = 0;      /* a detail belongs to this init's failure only */
  JET_ERR e = remap_copy(ri, &inst->remap, &inst->nremap);
  if (e) return e;
  char *given[INST_FOLDERS] = { NULL };
  e = esio_new(&inst->io);
  if (e == JET_errSuccess) e = inst_paths_ready(inst, given);
  if (e == JET_errSuccess) e = archive_params_check(inst);
  if (e == JET_errSuccess) e = log_folder_real(inst);
  if (e == JET_errSuccess) e = lock_folders(inst);
  if (e == JET_errSuccess) e = recovery_run(inst);
  if (e == JET_errSuccess) e = archive_begin(inst);
  remap_free(inst->remap, inst->nremap);     /* the map serves this recovery only */
  inst->remap = NULL;
  inst->nremap = 0;
  inst_paths_given(inst, given, e != JET_errSuccess);
  if (e) {
    release_resources(inst);
    return e;
  }
  inst->state = INST_RUNNING;
  inst->stopped = 0;
  inst->unavailable = 0;
  return JET_errSuccess;
}

/* ---- term ------------------------------------------------------------------ */

static JET_ERR shutdown_clean(esinst *inst) {
  JET_ERR e = ckpt_take(inst);
  for (int i = 1; e == JET_errSuccess && i <= ESE_MAX_DB; i++) {
    esdb *db = inst->db[i];
    if (!db) continue;
    e = db_write_clean(inst, db);
    if (e == JET_errSuccess) db_close(inst, db);
  }
  if (e == JET_errSuccess) e = db_log_attachments(inst);
  if (e == JET_errSuccess) e = ckpt_take(inst);
  /* every database is clean and closed: no batch of the ring is needed */
  if (e == JET_errSuccess && inst->dw) e = inst_fatal(inst, dw_discard(inst->dw));
  return e;
}

/* Term's work in the layers, with the lock held, the instance TERMINATING
 * and no call inside it (inst_term_with): the archive's thread stopped, the
 * backup torn down, the sessions ended, then a clean shutdown (complete)
 * or the log flushed, and everything the instance holds released. */
JET_ERR lifecycle_term(esinst *inst, JET_GRBIT grbit) {
  JET_ERR e = JET_errSuccess;
  if (inst->archive) {   /* its thread may wait for the lock (a roll): joined without it */
    inst_unlock(inst);
    archive_stop(inst->archive, ARCHIVE_TERM_GRACE_MS);
    inst_lock(inst);
  }
  backup_teardown(inst);
  sessions_end_all(inst);
  if ((grbit & JET_bitTermComplete) && !inst->unavailable) e = shutdown_clean(inst);
  else if (inst->log && !inst->unavailable) e = log_flush(inst->log, log_end(inst->log));
  release_resources(inst);
  return e;
}
