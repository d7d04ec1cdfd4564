/*
 * backup.h -- the external (streaming) backup of an instance (backup.c):
 * its state machine, the calls the rest of the engine makes into it, and
 * the trailer page of a streamed database copy.
 *
 * One backup per instance at a time; its state is one backup_state, moved
 * only by backup.c's bk_move, which asserts that the move is legal (and,
 * with NDEBUG, refuses an illegal one with refusal()'s error).  Every
 * field of the backup lives in backup.c's struct esbackup; other files
 * see the instance's pointer to it (instance.h) and the functions below.
 *
 * States:
 *   NONE       no backup: inst->backup is NULL (a struct esbackup is NONE
 *              only while Begin builds it and after its tear-down).
 *   DATABASES  a full backup before its log list: the attached databases
 *              (GetAttachInfo) are streamed.
 *   UNLISTED   an incremental backup before its log list: nothing opens.
 *   LOGS       the log list is fixed (GetLogInfo made the cut-off: the log
 *              rolled, a checkpoint, the copy and delete ranges): the
 *              listed logs are streamed; TruncateLog is allowed.
 *   TRUNCATED  as LOGS, after a TruncateLog: End records a full (or an
 *              incremental) backup, not a copy (or differential).
 *   STOPPED    JetStopBackupInstance: the streaming calls refuse; CloseFile and End
 *              work, End ends it and refuses.
 *   ENDING     a tear-down waits for the reads running without the lock
 *              (and the calls waiting on one); every call refuses; then
 *              the struct is freed and the instance is at NONE.
 *
 * Moves (the only ones bk_move allows) and the calls that make them:
 *   NONE      -> DATABASES  Begin (full)
 *   NONE      -> UNLISTED   Begin (incremental)
 *   DATABASES -> LOGS       the first GetLogInfo / GetTruncateLogInfo that
 *   UNLISTED  -> LOGS         succeeds (a failed one may have rolled the
 *                             log already; copy_mac != 0 says so)
 *                           (EseBackupStep with ESE_bitBackupStepCutOff makes
 *                           the cut-off without the move: copy_mac != 0)
 *   LOGS      -> TRUNCATED  TruncateLog (again in TRUNCATED: no move)
 *   DATABASES, UNLISTED, LOGS, TRUNCATED -> STOPPED    JetStopBackup (in
 *                             STOPPED, ENDING or NONE it moves nothing)
 *   any but ENDING -> ENDING  End; a call that ends the backup (a database
 *                             opened out of sequence, a log open that fails,
 *                             a log list that cannot be built); term
 *   ENDING    -> NONE       the tear-down, once no read runs or waits
 *
 * What each call answers, by state (ENDING answers as NONE, but Begin is
 * InProgress there; the instance's own gate, docs/backup.md rule 6, comes
 * first).  "Seq" = JET_errInvalidBackupSequence, "+" = the backup then
 * ends (-> ENDING):
 *
 *   call          NONE      DATABASES     UNLISTED      LOGS, TRUNCATED    STOPPED
 *   Begin         starts    InProgress    InProgress    InProgress         InProgress
 *   AttachInfo    NoBackup  the list      Seq           full: the list,    AbortByServer
 *                                                       incremental: Seq
 *   OpenFile db   NoBackup  opens (Seq+   Seq+          Seq+               AbortByServer
 *                           after the
 *                           cut-off)
 *   OpenFile log  NoBackup  DbNotFound    InvalidParam+ a listed log opens AbortByServer
 *                                                       (else InvalidParam+)
 *   ReadFile      NoBackup  reads         InvalidParam  reads              AbortByServer
 *   CloseFile     NoBackup  closes        InvalidParam  closes             closes
 *   GetLogInfo    NoBackup  -> LOGS       -> LOGS       the list           AbortByServer
 *   TruncateLog   NoBackup  Seq           Seq           deletes            AbortByServer
 *                                                       (-> TRUNCATED)
 *   End           NoBackup  AbortByCaller AbortByCaller records if         AbortByServer+
 *                           + (abort: 0+) + (abort: 0+) complete, 0+; else
 *                                                       AbortByCaller+
 *                                                       (abort: 0+)
 *   Stop          success   -> STOPPED    -> STOPPED    -> STOPPED         success
 *
 * GetLogInfo and TruncateLog with a reader open are Seq too; no reader is
 * ever open in UNLISTED, none of a database in LOGS or TRUNCATED.  End with
 * neither or both of normal and abort is InvalidParam and moves nothing.
 *
 * Locking: the instance lock guards the state and every field;
 * backup_teardown, the backup_* calls and backup.c's helpers that need
 * the lock assert it is held (the trailer functions need no instance).
 */
#ifndef ESE_BACKUP_H
#define ESE_BACKUP_H
#include "instance.h"
#include "database.h"

typedef enum {
  BACKUP_NONE,
  BACKUP_DATABASES,
  BACKUP_UNLISTED,
  BACKUP_LOGS,
  BACKUP_TRUNCATED,
  BACKUP_STOPPED,
  BACKUP_ENDING,
  BACKUP_NSTATES
} backup_state;

/* Ends a running backup, nothing recorded (term); with the lock held. */
void backup_teardown(esinst *inst);

/* The calls of the sequence, each in the entered instance (inst_enter:
 * the lock held and the gate passed; asserted) and each answering first
 * what the table above says for the backup's state.  jet_backup.c's
 * entry points check their arguments, enter, call one of these, leave. */

/* Begin: grbit is 0, JET_bitBackupIncremental and/or ESE_bitBackupStepwise
 * (the entry point refuses any other bit); a full backup takes its
 * checkpoint first (in slices, the lock released between them) unless
 * stepwise. */
JET_ERR backup_begin(esinst *inst, JET_GRBIT grbit);
JET_ERR backup_attach_info(esinst *inst, char *szz, unsigned long cbMax, unsigned long *pcb);
JET_ERR backup_open_file(esinst *inst, const char *name, JET_HANDLE *ph, unsigned long *size_lo,
                         unsigned long *size_hi);
/* One read of at most cb bytes (a multiple of the page size) of stream h,
 * with the lock released while it copies.  Paced (pace.h): *credit is
 * what the bucket granted this read so far (0 on the first call); when
 * the bucket asks for a wait, nothing is read and *wait_ns > 0: the
 * caller leaves the instance, sleeps, enters again and calls again with
 * the same *credit.  *at_end: the stream was delivered to its end. */
JET_ERR backup_read(esinst *inst, JET_HANDLE h, void *pv, unsigned long cb, unsigned long *pcb, int paced,
                    uint64_t *credit, uint64_t *wait_ns, int *at_end);
JET_ERR backup_close_file(esinst *inst, JET_HANDLE h);
/* GetLogInfo (truncate_list 0) or GetTruncateLogInfo (1); li, when
 * given, has the right cbSize (checked by the entry point). */
JET_ERR backup_log_info(esinst *inst, int truncate_list, char *szz, unsigned long cbMax, unsigned long *pcb,
                        JET_LOGINFO *li);
/* How long EseBackupStep waits for the instance lock (a slice on the
 * backup's worker may hold it) before it answers "more". */
#define BACKUP_STEP_WAIT_US 2000u
/* EseBackupStep's work: grbit is one of the step kinds or none (checked
 * by the entry point), *more 0 on entry; *started_job 1: the caller
 * yields once it has left the instance. */
JET_ERR backup_step(esinst *inst, JET_GRBIT grbit, int *more, int *started_job);
JET_ERR backup_truncate(esinst *inst);
JET_ERR backup_end(esinst *inst, JET_GRBIT grbit);
/* Stop (rule 3): succeeds in every state; ungated (the entry point uses
 * inst_call_ungated: a stop works while term runs). */
JET_ERR backup_stop(esinst *inst);
/* What a harness (spec/c) waits for before it lets a held call go on, so
 * that the order it tests is made, not hoped for: the running backup's
 * state (BACKUP_NONE: none), the calls waiting on it (bk->waiting: another
 * call's cut-off, a read of their handle) and whether its cut-off is under
 * way (the roll, or the wait for a slice's I/O before it) or made.  Takes
 * the instance lock (the caller holds none). */
typedef struct {
  backup_state state;
  int waiting;
  int cut;                /* 0: not made; 1: under way; 2: made */
} backup_view;
void backup_look(esinst *inst, backup_view *v);

/* 1 when size bytes of page size ps can be a streamed copy: whole pages,
 * the header pair, a page and the trailer at least (a restore refuses
 * anything else). */
int backup_copy_size_ok(uint32_t ps, uint64_t size);
/* The trailer of a streamed database copy: its last page, a header page
 * (dbheader.h) numbered by its place whose "current" record has gen_hi set
 * to the generation current when the stream ended; backup.c writes it.
 * Decodes page (page number pgno, page size ps) into *t: JET_errBadPatchPage
 * when it is no header page, JET_errDatabasePatchFileMismatch when it is
 * another database's (db_sig differs). */
JET_ERR backup_trailer_decode(const uint8_t *page, uint32_t ps, uint32_t pgno, const uint8_t db_sig[16],
                              dbheader *t);
/* Reads and decodes the trailer (the last whole page) of the streamed copy
 * f of size bytes (at least one page) whose header is h: the
 * errors of backup_trailer_decode, JET_errDatabasePatchFileMismatch too
 * when it names other logs than h (log signature, first generation), or
 * the read's error. */
JET_ERR backup_trailer_read(esfile *f, const dbheader *h, uint64_t size, dbheader *t);
/* The same checks over the trailer page pg already read (a compressed
 * copy's last frame, zst.h). */
JET_ERR backup_trailer_check(const uint8_t *pg, const dbheader *h, uint64_t size, dbheader *t);

#endif
