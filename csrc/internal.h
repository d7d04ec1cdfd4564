/*
 * internal.h -- the engine's shared structures: instances, attached
 * databases, sessions and table cursors.  Only the engine's .c files include
 * it; the Lua binding sees ese.h alone.
 *
 * Locking: inst->lock (the instance lock) guards everything of an instance:
 * its state, databases, pagers, trees, sessions list and the log's append
 * side.  It is never held while waiting for a log flush by a commit (group
 * commit) and never while Lua code runs (the binding only calls Jet*).
 */
#ifndef ESE_INTERNAL_H
#define ESE_INTERNAL_H
#include <assert.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "ese.h"
#include "btree.h"
#include "dbheader.h"
#include "dw.h"
#include "log.h"
#include "os.h"
#include "pace.h"
#include "pager.h"
#include "verstore.h"
#include "writeset.h"

#define ESE_MAX_DB 32          /* databases attached to one instance at once */
#define ESE_MAX_INSTANCES 64

/* Log record types.  An attachment entry is log.h's (u32 dbid, u8[16]
 * database signature, u16 + u16 path lengths, absolute and relative path). */
enum {
  /* 1: log format 3's whole page image; never written since format 4, a
   * record of type 1 is a damaged log */
  LR_COMMIT = 2,     /* u64 txid, u32 page count, u32 m, m x (u32 dbid, u64 dbtime T),
                        u64 time (µs since the epoch, the writer's clock at commit):
                        applies the txid's pages, each database's sealed with its T */
  /* 3, 4: format 1's LR_CREATEDB / LR_ATTACH, never written since; a
   * record of either type is a damaged log */
  LR_DETACH = 5,     /* u32 dbid */
  LR_PAGEDIFF = 6,   /* u32 dbid, u32 pgno, u64 txid, u64 base dbtime, runs (page_diff):
                        the page's change from its base */
  LR_INIT = 7,       /* u64 time (µs): a run of the instance starts; every
                        attachment before this record has ended */
  LR_CREATEDB = 8,   /* u32 page size, attachment entry */
  LR_ATTACH = 9,     /* attachment entry */
  /* Operation records (pageop.h; the same numbers as PO_*): u8 dbid, u8 0,
   * u16 slot, u32 pgno, u64 txid, u64 the page's dbtime before the commit,
   * then the body: */
  LR_INSERT = 10,    /* a cell of the page's kind (leaf: u16 klen, u16 vlen,
                        key, value; branch: u16 klen, u32 child, key) */
  LR_REPLACE = 11,   /* a leaf cell: its key must be the slot's */
  LR_DELETE = 12,    /* u16 klen, key: the slot's key */
  LR_SPLIT = 13,     /* slot k; u32 the new page, u16 klen, key (slot k's):
                        the page truncated at k (its cells k.. moved to the new page) */
  LR_NEWPAGE = 14,   /* slot 0; u8 type, u32 left, cells: the page formatted with them
                        (a split's new page, a root turning branch, a new tree) */
};
#define LR_OP_HDR 24

typedef enum { INST_CREATED, INST_RUNNING, INST_TERMINATING, INST_TERMINATED } inst_state;

typedef struct esdb {
  uint32_t dbid;          /* 1..ESE_MAX_DB, the index in inst->db */
  char *path;             /* canonical absolute path */
  char *rel;              /* path relative to the log folder, or NULL */
  esfile *file;
  pager *pg;
  dbheader hdr;           /* as last written */
  uint64_t dbtime;        /* the last dbtime a commit gave it; hdr.dbtime_last >= dbtime */
  int opens;              /* JetOpenDatabase count not yet closed */
  struct esinst *inst;    /* its instance (the pager's ring hook) */
} esdb;

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

typedef struct essession essession;

typedef struct esinst {
  pthread_mutex_t lock;
  _Atomic(void *) owner;    /* with assertions on: the thread holding lock, else NULL (instance.c) */
  pthread_cond_t drained;   /* signalled when active drops to 0 */
  int active;               /* calls inside the instance (term waits for 0) */
  _Atomic int entering;     /* calls waiting for the lock (term frees after 0) */
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
  lsn_t checkpoint;       /* redo starts here */
  lsn_t ckpt_pending;     /* a checkpoint in slices under way (database.c's
                           * inst_checkpoint_start): its lsn, 0: none */
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

typedef struct estable estable;

struct essession {
  uint32_t magic;
  esinst *inst;
  essession *next;
  int in_txn;
  uint64_t snap;          /* in a transaction: commit_seq at its begin (isolation.h) */
  writeset ws;
  estable *tables;        /* open cursors (list) */
  int dbopen[ESE_MAX_DB + 1];
  char detail[256];
};

struct estable {
  uint32_t magic;
  essession *s;
  estable *next;
  uint32_t dbid, root;
  char *name;
  bt_rec cur;
  int has_cur;
  bt_rec scan;            /* merged_seek's tree record, swapped into cur */
  bt_hint hint;           /* the tree position of the last seek (btree.h) */
};

/* instance.c
 * A call enters an instance (lock taken, state gate passed, active + 1) and
 * leaves it (active - 1, lock released).  inst_unlock/inst_done_unlocked
 * let a commit wait for its log flush without the lock while still counted
 * as active, so term cannot free the instance under it. */
JET_ERR inst_enter(esinst *inst);                 /* locks and checks the state gate */
JET_ERR inst_gate(esinst *inst);                  /* the state gate again, with the lock held */
JET_ERR inst_enter_handle(JET_INSTANCE h, esinst **out);
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
/* Runs fn on the instance h names with its lock held, without the state
 * gate: for the calls that must work in every state (JetStopService,
 * JetStopBackup). */
JET_ERR inst_call_ungated(JET_INSTANCE h, JET_ERR (*fn)(esinst *));
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
JET_ERR inst_paths_ready(esinst *inst);           /* system and log folders: "." when unset, made */
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
JET_ERR inst_checkpoint(esinst *inst);            /* with the lock held */
/* The checkpoint in slices (database.c; the invariant is stated there),
 * with the lock held.  inst_checkpoint_start takes a new one (lsn: the log's
 * end now; it replaces one under way); inst_checkpoint_toward does one slice
 * (at most a few MiB / a few ms of page writes, or the checkpoint's end:
 * the sync and the checkpoint file) toward a checkpoint at or past target,
 * starting one first when none under way reaches it: *more is 1 while
 * inst->checkpoint < target.  inst_checkpoint (blocking, one lock hold)
 * ends the one under way too.  Between two slices the caller may release
 * the lock: inst_between_slices does, lets other callers in and takes it
 * back, then answers the state gate (the instance may have been stopped,
 * made unavailable or be terminating meanwhile). */
JET_ERR inst_checkpoint_start(esinst *inst);
JET_ERR inst_checkpoint_toward(esinst *inst, lsn_t target, int *more);
JET_ERR inst_between_slices(esinst *inst);
JET_ERR inst_flush_log_hook(void *ud, uint64_t lsn);
/* The ring's sync_data hook: fdatasyncs every attached database. */
JET_ERR inst_sync_databases(void *ud);
JET_ERR inst_log_attachments(esinst *inst);       /* refreshes the log's attach table */

/* database.c */
/* An absolute, normalized path: realpath of the folder + the file name
 * (JET_errInvalidPath when the folder does not exist). */
JET_ERR db_canon_path(const char *path, char **out);
/* The path of file (canonical) relative to the folder dir (canonical),
 * "../" steps included; NULL when out of memory. */
char *db_rel_path(const char *dir, const char *file);
esdb *db_by_id(esinst *inst, JET_DBID dbid);
esdb *db_by_path(esinst *inst, const char *path);
JET_ERR db_open_file(esinst *inst, const char *path, int create, esfile **out);
void db_close(esinst *inst, esdb *db);
/* Writes the header clean (gen_max the current generation, dbtime_last
 * exact): at detach and term, after a checkpoint flushed every page. */
JET_ERR db_write_clean(esinst *inst, esdb *db);
/* Commits the pending pages of every database as transaction txid (one
 * record group ending in LR_COMMIT); *commit_lsn is the commit record. */
JET_ERR db_commit_pending(esinst *inst, uint64_t txid, lsn_t *commit_lsn);
void db_discard_pending(esinst *inst);
JET_ERR db_trim(esinst *inst);

/* checkpoint.c: the checkpoint file <system_path>/<base>.chk */
typedef struct chkfile {
  log_sig sig;
  lsn_t lsn;
  uint64_t next_txid;     /* above every transaction id in the logs up to lsn */
  uint32_t natt;
  log_attach *att;
} chkfile;
JET_ERR chk_read(esio *io, const char *path, chkfile *c);   /* JET_errFileNotFound when absent */
JET_ERR chk_write(esio *io, const char *path, const chkfile *c);
void chk_clear(chkfile *c);
char *chk_path(const esparams *prm);

/* table.c: frees a cursor (the caller unlinked it from its session). */
void table_free(estable *t);

/* recovery.c: soft recovery at init (redo from the checkpoint). */
JET_ERR recover(esinst *inst);

/* backup.c: backup.h */

/* session.c */
#define SESSION_MAGIC 0x53455353u
#define TABLE_MAGIC 0x5441424cu
/* Enters the session's instance: JET_errInvalidSesid for a bad handle. */
JET_ERR session_enter(JET_SESID sesid, essession **out);
void sessions_end_all(esinst *inst);          /* term: ends every session */
void session_detail(essession *s, const char *fmt, ...);
/* Commits the pending pages as one transaction, then leaves the instance;
 * waits for the log flush without the lock; durable unless lazy. */
JET_ERR commit_and_leave(esinst *inst, int lazy);

#endif
