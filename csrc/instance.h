/*
 * instance.h -- an instance (instance.c): the process mode and registry,
 * the parameters, the state gate and the instance lock.  Layer: instance,
 * session and database state (with database.h, session.h, table.h,
 * checkpoint.h); the upper layers (transactions, backup and restore, the
 * Jet* entry points) use it, the layers below never include it.
 *
 * Locking: inst->lock (the instance lock) guards everything of an instance:
 * its state, databases, pagers, trees, sessions list and the log's append
 * side.  It is never held while waiting for a log flush by a commit (group
 * commit) and never while Lua code runs (the binding only calls Jet*).
 */
#ifndef ESE_INSTANCE_H
#define ESE_INSTANCE_H
#include <assert.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "ese.h"
#include "dw.h"
#include "log.h"
#include "log_format.h"
#include "os.h"
#include "pace.h"
#include "verstore.h"

#define ESE_MAX_INSTANCES 64

typedef enum { INST_CREATED, INST_RUNNING, INST_TERMINATING, INST_TERMINATED } inst_state;

typedef struct esparams {
  char *system_path, *log_path;
  char base[4];
  uint32_t log_file_kib;
  int circular;
  uint32_t page_size;
  uint32_t cache_pages;
  uint32_t max_backup_files;
  uint64_t checkpoint_depth;   /* bytes of log between checkpoints */
  uint64_t dw_size;            /* bytes of double-write ring (B.dwb) made at init */
  /* the log archive (archive.h): a folder or a command, NULL: none */
  char *archive_path, *archive_command;
  uint32_t archive_timeout;        /* seconds; 0: off */
  uint64_t archive_max_backlog;    /* bytes; 0: no limit */
  uint32_t archive_command_timeout;/* seconds; 0: none */
  uint32_t archive_retry_max;      /* ms: the backoff's cap */
  uint64_t backup_max_rate;    /* bytes/s, 0: none (mirrored in esinst.pace) */
  int backup_pace;             /* ESE_backupPace* (mirrored in esinst.pace) */
  uint32_t max_ver_pages;      /* the version store's limit, in ESE_VER_PAGE_SIZE pages (isolation.h) */
} esparams;

typedef struct essession essession;   /* session.h */
typedef struct esdb esdb;             /* database.h */

typedef struct esinst {
  pthread_mutex_t lock;
  _Atomic(void *) owner;    /* with assertions on: the thread holding lock, else NULL (instance.c) */
  pthread_cond_t drained;   /* signalled when active drops to 0 */
  int active;               /* calls inside the instance (term waits for 0) */
  _Atomic int entering;     /* calls waiting for the lock (term frees after 0) */
  _Atomic unsigned long lock_gen;  /* + 1 each time a caller takes the lock (inst_lock,
                             inst_enter_handle_within): ckpt_between_slices sees a handoff */
  char *name;             /* NULL for the legacy or an unnamed instance */
  char *log_real;         /* the log folder's canonical path (from init) */
  JET_RSTMAP *remap;      /* JetInit3's map, canonical copies; during init only */
  long nremap;
  int legacy;
  inst_state state;
  int stopped;            /* JetStopService */
  int restoring;
  JET_ERR unavailable;    /* a fatal I/O error, sticky */
  esparams prm;
  esio *io;
  eslog *log;
  esfile *lockfile;       /* holds the log folder */
  esfile *syslockfile;    /* holds the system folder when it is another one */
  esfile *arclockfile;    /* holds archive_path's folder (B.lck there) when it is another one */
  lsn_t checkpoint;       /* redo starts here */
  lsn_t ckpt_pending;     /* a checkpoint in slices under way (checkpoint.c's
                           * ckpt_start): its lsn, 0: none */
  int ckpt_io;            /* checkpoint.c's: a slice's I/O runs without the lock */
  pthread_cond_t ckpt_idle;  /* signalled (under the lock) when ckpt_io drops to 0 */
  dw *dw;                 /* the double-write ring B.dwb: READY from the end of
                           * recovery to term; every in-place page write of a
                           * pager goes through it (pager.h) */
  uint32_t dw_repaired;   /* pages the last soft recovery took from the ring */
  esdb *db[ESE_MAX_DB + 1];
  /* backup.c's (backup.h): the external backup in progress, or NULL.  Its
   * struct is private to backup.c; the other files only test the pointer:
   * non-NULL exactly while a backup runs (Begin to the end of its
   * tear-down), and attach, detach and term with complete refuse then. */
  struct esbackup *backup;
  uint32_t backup_file_serial; /* backup.c's: the last reader handle serial handed out */
  uint32_t log_hold_gen;  /* circular logging keeps the logs from this generation on
                             (0: none); set through inst_hold_logs (a backup's pin) */
  struct esarchive *archive;  /* the log archive's thread (archive.h), or NULL; from
                             the end of init to term; its pin: inst_keep_logs_from */
  essession *sessions;    /* list */
  uint64_t next_txid;
  /* isolation.h: the number of the last commit of records (0 at init),
   * and the before images open snapshots need */
  uint64_t commit_seq;
  verstore vs;
  uint8_t *diffbuf;       /* commit: a page difference being logged, then an all-zero page (page.h PAGE_DIFF_MAX + page size) */
  pace pace;              /* pace.h: the backup reads' token bucket and the
                           * durable-commit latency (its own locking) */
  char detail[256];
} esinst;

/*
 * A call enters an instance (lock taken, state gate passed, active + 1) and
 * leaves it (active - 1, lock released).  inst_unlock/inst_done_unlocked
 * let a commit wait for its log flush without the lock while still counted
 * as active, so term cannot free the instance under it. */
JET_ERR inst_enter(esinst *inst);                 /* locks and checks the state gate */
JET_ERR inst_gate(esinst *inst);                  /* the state gate again, with the lock held */
JET_ERR inst_enter_handle(JET_INSTANCE h, esinst **out);
/* inst_enter_handle that waits for the instance lock max_us at most: when
 * it is not free in time, *busy 1 and nothing entered (JET_errSuccess). */
JET_ERR inst_enter_handle_within(JET_INSTANCE h, uint64_t max_us, esinst **out, int *busy);
JET_ERR inst_legacy(esinst **out);                /* the legacy instance, for instance-less calls */
void inst_leave(esinst *inst);
void inst_lock(esinst *inst);                     /* the lock alone, counted for term */
void inst_unlock(esinst *inst);
void inst_done_unlocked(esinst *inst);
/* Waits on cv, which is signalled under inst->lock, releasing the lock
 * meanwhile (pthread_cond_wait that keeps inst_lock_held true). */
void inst_wait(esinst *inst, pthread_cond_t *cv);
/* 1 when the calling thread holds inst->lock; for assert() (always 1 with
 * NDEBUG).  Every function documented "with the lock held" asserts it. */
int inst_lock_held(esinst *inst);
/* The instance h names, locked without the state gate, with the process
 * lock held too (no instance: its error, nothing held); inst_unlock_handle
 * releases both (inst NULL: the process lock alone). */
JET_ERR inst_lock_handle(JET_INSTANCE h, esinst **out);
void inst_unlock_handle(esinst *inst);
/* Runs fn on the instance h names with its lock held, without the state
 * gate: for the calls that must work in every state (JetStopService,
 * JetStopBackup). */
JET_ERR inst_call_ungated(JET_INSTANCE h, JET_ERR (*fn)(esinst *));
/* A new named instance (multi-instance mode; JET_errRunningInOneInstanceMode,
 * JET_errTooManyInstances, JET_errInstanceNameInUse), registered. */
JET_ERR inst_create(const char *name, esinst **out);
/* The instance whose parameters *pinstance (pinstance NULL: none) names, as
 * inst_lock_handle with legacy mode's rules: set 1: none named is the
 * legacy instance before JetInit (made on first use;
 * JET_errAlreadyInitialized after it, JET_errRunningInMultiInstanceMode in
 * that mode); set 0: none named is the legacy instance, the one before
 * JetInit, or *out NULL for the defaults.  An unknown handle:
 * JET_errInvalidInstance.  Released by inst_unlock_handle. */
JET_ERR inst_lock_params(const JET_INSTANCE *pinstance, int set, esinst **out);
/* With the lock held (inst_get_param: or inst NULL, the defaults): one
 * parameter set (JET_errAlreadyInitialized once initialized, but for the
 * backup pacing's) or read (a string into s of cb bytes). */
JET_ERR inst_set_param(esinst *inst, unsigned long id, JET_API_PTR l, const char *s);
JET_ERR inst_get_param(esinst *inst, unsigned long id, JET_API_PTR *l, char *s, unsigned long cb);
/* With the lock held: the detail of the instance's last failure, into buf. */
void inst_copy_detail(esinst *inst, char *buf, size_t cb);
/* With the lock held: */
JET_ERR inst_fatal(esinst *inst, JET_ERR err);    /* records a fatal I/O error */
void inst_detail(esinst *inst, const char *fmt, ...);
void inst_hold_logs(esinst *inst, uint32_t gen);  /* sets log_hold_gen */
/* The lowest generation circular logging must keep, given that it would
 * keep below_gen on otherwise: a backup's pin (log_hold_gen) and the first
 * generation the archive has not shipped (archive_pin) lower it. */
uint32_t inst_keep_logs_from(esinst *inst, uint32_t below_gen);
/* below_gen, lowered to the first generation the archive has not shipped
 * (archive_pin): what may be deleted stays below it (circular logging,
 * a backup's truncation). */
uint32_t inst_unshipped_from(esinst *inst, uint32_t below_gen);
/* The registry's side of JetInit3 and JetTerm2 (jet_instance.c passes its
 * work in the layers down).  inst_init_with finds or makes the instance
 * (legacy mode's rules), and with the process lock and the instance lock
 * held calls init (JET_errAlreadyInitialized unless the instance is
 * created); a legacy instance is registered when init succeeded.
 * inst_term_with refuses a term under way (JET_errTermInProgress), one
 * during a restore (JET_errRestoreInProgress) and a complete one while a
 * backup runs without JET_bitTermStopBackup (JET_errBackupInProgress,
 * the instance keeps running); else a running instance becomes
 * TERMINATING, waits until no call is inside, and term runs with the lock
 * held; then the instance leaves the registry and is freed once no call
 * waits for it.  Returns init's or term's error. */
typedef JET_ERR (*inst_init_fn)(esinst *inst, const JET_RSTINFO *ri);
typedef JET_ERR (*inst_term_fn)(esinst *inst, JET_GRBIT grbit);
JET_ERR inst_init_with(JET_INSTANCE *pinstance, const JET_RSTINFO *ri, inst_init_fn init);
JET_ERR inst_term_with(JET_INSTANCE instance, JET_GRBIT grbit, inst_term_fn term);
/* The folder parameters at init: the system and log folders ("." when
 * unset) made, and these (real paths) and archive_path (joined to the
 * working folder: it may be made later) made absolute (os_abs_path), so that a chdir of the process after init
 * changes none of them.  given[] gets the strings they replaced (NULL:
 * none), which inst_paths_given puts back (restore: init failed, so the
 * next init resolves them again) or frees. */
#define INST_FOLDERS 3
JET_ERR inst_paths_ready(esinst *inst, char *given[INST_FOLDERS]);
void inst_paths_given(esinst *inst, char *given[INST_FOLDERS], int restore);
/* Restore: the named instance (created, not initialized) is "restoring"
 * until inst_end_restore; h 0 names none.  Legacy mode refuses. */
JET_ERR inst_begin_restore(JET_INSTANCE h, esinst **out);
void inst_end_restore(esinst *inst);
/* A running instance of this process that uses path (a folder: its log or
 * system folder, or the folder of a database it has attached; a file: a
 * database it has attached), compared as files (device and inode, so a
 * symbolic link to it matches): JET_errFileAccessDenied and a sentence
 * naming the instance in detail.  A restoring instance uses nothing. */
JET_ERR inst_path_user(const char *path, char *detail, size_t cap);
/* The log's flush hook a pager calls before writing a page back (WAL). */
JET_ERR inst_flush_log_hook(void *ud, uint64_t lsn);
/* The pager's free_room hook: a database's growth met a full disk; the
 * log's spares are deleted (log_release_spares); nonzero when any were. */
int inst_free_room_hook(void *ud);

#endif
