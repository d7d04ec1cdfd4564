/*
 * ese.h -- the public C API of lua-ese.
 *
 * Instance, session, database, transaction and backup functions keep the
 * names, signatures, error numbers and grbits of Microsoft's Extensible
 * Storage Engine (char forms only).  The record API (ordered key/value
 * tables) has names of its own, prefixed Ese.
 *
 * Every function returns a JET_ERR: 0 on success, a negative JET_err on
 * failure, a positive JET_wrn on success with a warning.  Every function is
 * safe to call from several threads, on different sessions of one instance.
 * A session is used by one thread at a time.
 */
#ifndef ESE_H
#define ESE_H

#include <stddef.h>
#include <stdint.h>
#include "ese_errors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define JET_API
/* The version of lua-ese (ese.version; the manifest of a backup set). */
#define ESE_VERSION "0.1.0"

typedef long          JET_ERR;
typedef uintptr_t     JET_INSTANCE;
typedef uintptr_t     JET_SESID;
typedef uintptr_t     JET_TABLEID;
typedef uintptr_t     JET_HANDLE;
typedef unsigned long JET_DBID;
typedef unsigned long JET_GRBIT;
typedef uintptr_t     JET_API_PTR;

#define JET_instanceNil ((JET_INSTANCE)~(JET_INSTANCE)0)
#define JET_sesidNil    ((JET_SESID)~(JET_SESID)0)
#define JET_tableidNil  ((JET_TABLEID)~(JET_TABLEID)0)
#define JET_dbidNil     ((JET_DBID)0xFFFFFFFF)

enum {
#define ESE_ERROR_ENUM(name, code, msg) name = code,
  ESE_ERRORS(ESE_ERROR_ENUM)
#undef ESE_ERROR_ENUM
};

/* The error's name ("JET_errNoBackup") or NULL when the number is unknown. */
const char *EseErrorName(JET_ERR err);
/* A one-sentence description, or NULL when the number is unknown. */
const char *EseErrorMessage(JET_ERR err);
/* Calls fn once per entry of the error table, in table order. */
void EseForEachError(void (*fn)(const char *name, JET_ERR code, const char *msg, void *ud), void *ud);

/* ---- grbits ------------------------------------------------------------ */
#define JET_bitBackupIncremental      0x00000001UL
#define JET_bitBackupAtomic           0x00000004UL
#define JET_bitBackupSnapshot         0x00000010UL
#define JET_bitBackupEndNormal        0x00000001UL
#define JET_bitBackupEndAbort         0x00000002UL
#define JET_bitBackupTruncateDone     0x00000100UL
#define JET_bitBackupNoDbHeaderUpdate 0x00000200UL
#define JET_bitTermComplete           0x00000001UL
#define JET_bitTermAbrupt             0x00000002UL
#define JET_bitTermStopBackup         0x00000004UL
#define JET_bitCommitLazyFlush        0x00000001UL
#define JET_bitDbReadOnly             0x00000001UL

/* Seek grbits of EseSeek (ESE's JetSeek values). */
#define JET_bitSeekEQ 0x00000001UL
#define JET_bitSeekLT 0x00000002UL
#define JET_bitSeekLE 0x00000004UL
#define JET_bitSeekGE 0x00000008UL
#define JET_bitSeekGT 0x00000010UL

/* ---- system parameters (JetSetSystemParameter / JetGetSystemParameter) ---
 * Per instance; set before JetInit (after it: JET_errAlreadyInitialized).
 * Paths and the base name go in szParam, numbers in lParam. */
#define JET_paramSystemPath        0   /* folder of the checkpoint file (edb.chk) */
#define JET_paramLogFilePath       2   /* folder of the log files */
#define JET_paramBaseName          3   /* three characters; default "edb" */
#define JET_paramMaxVerPages       9   /* the version store's limit, in pages of 16 KiB; default 16384 (256 MiB);
                                           * 1 .. 1048576 (docs/api.md "Transactions") */
#define JET_paramLogFileSize       11  /* KiB, 64..1048576; default 1024 */
#define JET_paramCircularLog       17  /* 0 or 1 */
#define JET_paramCacheSizeMax      23  /* pages, for each attached database */
#define JET_paramCheckpointDepthMax 24 /* bytes of log between checkpoints; default 256 MiB; 0: at every roll */
#define JET_paramDatabasePageSize  64  /* bytes: 4096, 8192, 16384 or 32768 */
#define JET_paramMaxOpenBackupFiles 1001 /* lua-ese: readers open at once (rule 8); default 8 */
#define JET_paramDoubleWriteSize   1002 /* lua-ese: bytes of the double-write ring B.dwb made at init;
                                           * default 16 MiB; a multiple of 4096, 73728 .. 1 GiB */
/* The log archive (lua-ese's own numbers; docs/api.md "The log archive"):
 * every closed log generation is shipped by a thread of the instance to a
 * folder or through a command; at most one of the two is set. */
#define JET_paramArchivePath       1003 /* folder; "" (default): none */
#define JET_paramArchiveCommand    1004 /* command line, %p path, %f file name, %% %; "": none */
#define JET_paramArchiveTimeout    1005 /* seconds; default 60; 0: off; at most 31536000 */
#define JET_paramArchiveMaxBacklog 1006 /* bytes; 0 (default): no limit; at most 2^50 */
#define JET_paramArchiveCommandTimeout 1007 /* seconds; default 300; 0: none; at most 86400 */
#define JET_paramArchiveRetryMax   1008 /* ms: the retry backoff's cap; default 30000; 1 .. 3600000 */
/* Backup pacing (lua-ese; docs/backup.md "Pacing"): every streaming read of
 * the instance's backups (JetReadFileInstance, the Lua readers) shares one
 * token bucket.  Both may also be set while the instance runs; they take
 * effect at the next read. */
#define JET_paramBackupMaxRate     1010 /* lua-ese: bytes/s of backup reads, 0 (default): no limit */
#define JET_paramBackupPace        1011 /* lua-ese: ESE_backupPaceNone (default) or ESE_backupPaceAuto */
#define ESE_backupPaceNone 0
#define ESE_backupPaceAuto 1            /* slow backup reads while durable commits wait longer than usual */

/* ---- instances ---------------------------------------------------------
 * Process-wide mode (the only C global): none, legacy or multi-instance.
 * JetInit(NULL) or JetInit(&0) while the mode is none enters legacy mode
 * with one implicit instance; JetCreateInstance enters multi-instance mode.
 * The mode returns to none when the last instance terminates. */
JET_ERR JET_API JetCreateInstance(JET_INSTANCE *pinstance, const char *szInstanceName);
JET_ERR JET_API JetCreateInstance2(JET_INSTANCE *pinstance, const char *szInstanceName,
                                   const char *szDisplayName, JET_GRBIT grbit);
JET_ERR JET_API JetInit(JET_INSTANCE *pinstance);
JET_ERR JET_API JetInit2(JET_INSTANCE *pinstance, JET_GRBIT grbit);
/* Moved databases for the soft recovery of this init (ESE's JET_RSTINFO,
 * without its stop position and status callback): cbStruct =
 * sizeof(JET_RSTINFO); each JET_RSTMAP maps a database's absolute path as
 * the log names it (szDatabaseName) to where it is now
 * (szNewDatabaseName).  A map entry wins over both paths the log records
 * (absolute, and relative to the log folder).  JetInit3 refuses a bad
 * map before it touches anything (JET_errInvalidParameter: wrong
 * cbStruct, crstmap < 0 or > 1024, a NULL array with crstmap > 0, a NULL
 * or empty name, one szDatabaseName twice; JET_errInvalidPath: the new
 * name's folder does not exist, a name ends with '/', a new name is a
 * folder or not a regular file); a new name that holds a database with
 * another signature than the log's: JET_errBadDbSignature. */
typedef struct { char *szDatabaseName; char *szNewDatabaseName; } JET_RSTMAP;
typedef struct {
  unsigned long cbStruct;
  JET_RSTMAP *rgrstmap;
  long crstmap;
} JET_RSTINFO;
JET_ERR JET_API JetInit3(JET_INSTANCE *pinstance, JET_RSTINFO *prstInfo, JET_GRBIT grbit);
/* JetTerm is JetTerm2(instance, JET_bitTermAbrupt).  Abrupt: nothing more is
 * flushed (committed data is in the log), the databases stay "dirty" and the
 * next JetInit recovers.  Complete: everything flushed, databases clean. */
JET_ERR JET_API JetTerm(JET_INSTANCE instance);
JET_ERR JET_API JetTerm2(JET_INSTANCE instance, JET_GRBIT grbit);
JET_ERR JET_API JetStopService(void);
JET_ERR JET_API JetStopServiceInstance(JET_INSTANCE instance);
/* pinstance may be NULL for the legacy instance before JetInit. */
JET_ERR JET_API JetSetSystemParameter(JET_INSTANCE *pinstance, JET_SESID sesid, unsigned long paramid,
                                      JET_API_PTR lParam, const char *szParam);
JET_ERR JET_API JetGetSystemParameter(JET_INSTANCE instance, JET_SESID sesid, unsigned long paramid,
                                      JET_API_PTR *plParam, char *szParam, unsigned long cbMax);

/* ---- sessions, databases, transactions --------------------------------- */
JET_ERR JET_API JetBeginSession(JET_INSTANCE instance, JET_SESID *psesid,
                                const char *szUserName, const char *szPassword);
JET_ERR JET_API JetEndSession(JET_SESID sesid, JET_GRBIT grbit);
JET_ERR JET_API JetCreateDatabase(JET_SESID sesid, const char *szFilename, const char *szConnect,
                                  JET_DBID *pdbid, JET_GRBIT grbit);
JET_ERR JET_API JetAttachDatabase(JET_SESID sesid, const char *szFilename, JET_GRBIT grbit);
JET_ERR JET_API JetDetachDatabase(JET_SESID sesid, const char *szFilename);
JET_ERR JET_API JetOpenDatabase(JET_SESID sesid, const char *szFilename, const char *szConnect,
                                JET_DBID *pdbid, JET_GRBIT grbit);
JET_ERR JET_API JetCloseDatabase(JET_SESID sesid, JET_DBID dbid, JET_GRBIT grbit);
/* Transactions do not nest (JET_errTransTooDeep).  Writes of a transaction
 * are private to its session until commit; a commit is one atomic log
 * record group, durable on return unless JET_bitCommitLazyFlush. */
JET_ERR JET_API JetBeginTransaction(JET_SESID sesid);
JET_ERR JET_API JetCommitTransaction(JET_SESID sesid, JET_GRBIT grbit);
JET_ERR JET_API JetRollback(JET_SESID sesid, JET_GRBIT grbit);

/* ---- ordered key/value tables (lua-ese's record API) --------------------
 * Keys are byte strings compared with memcmp order (shorter first on a tie),
 * 1..EseMaxKeySize bytes (longer: JET_errKeyTooBig); values 0..EseMaxValueSize
 * bytes (longer: JET_errRecordTooBig).  A value whose key + value + 1 exceeds
 * EseMaxRecordSize(page size) is a long value, stored out of line in pages
 * of its own, whose space a replace or delete frees for reuse.
 * Creating a table commits at once (it is not undone by JetRollback).
 * Writes outside a transaction commit at once, durably.
 * Reads outside a transaction see the last committed state; inside one,
 * the committed state as of JetBeginTransaction plus the transaction's own
 * writes (snapshot isolation).  A write of a key that another open
 * transaction has written, or (in a transaction) that a commit changed
 * after this transaction began: JET_errWriteConflict. */
#define EseMaxKeySize 255
#define EseMaxValueSize 0x7fffffffu   /* 2^31 - 1 */
size_t EseMaxRecordSize(unsigned long cbPage);

JET_ERR JET_API EseCreateTable(JET_SESID sesid, JET_DBID dbid, const char *szTableName, JET_TABLEID *ptableid);
JET_ERR JET_API EseOpenTable(JET_SESID sesid, JET_DBID dbid, const char *szTableName, JET_TABLEID *ptableid);
JET_ERR JET_API EseCloseTable(JET_SESID sesid, JET_TABLEID tableid);
JET_ERR JET_API EsePut(JET_SESID sesid, JET_TABLEID tableid, const void *pvKey, size_t cbKey,
                       const void *pvData, size_t cbData);
/* JET_errRecordNotFound when the key is absent. */
JET_ERR JET_API EseDelete(JET_SESID sesid, JET_TABLEID tableid, const void *pvKey, size_t cbKey);
/* Positions the cursor on the record found by grbit (one JET_bitSeek*) from
 * pvKey; cbKey 0 with GE/GT means "the first record", with LE/LT "the last".
 * JET_errRecordNotFound when there is none (the cursor then has no record). */
JET_ERR JET_API EseSeek(JET_SESID sesid, JET_TABLEID tableid, const void *pvKey, size_t cbKey, JET_GRBIT grbit);
/* Copy the current record's key or value; *pcbActual is its full size and
 * JET_wrnBufferTruncated is returned when cbMax was smaller.  pv may be NULL
 * with cbMax 0 to ask the size (NULL with cbMax > 0: JET_errInvalidParameter,
 * here and in EseSeekRetrieve, EseRetrieveValueAt, EseRetrieveSlice).
 * JET_errNoCurrentRecord without a record. */
JET_ERR JET_API EseRetrieveKey(JET_SESID sesid, JET_TABLEID tableid, void *pv, size_t cbMax, size_t *pcbActual);
JET_ERR JET_API EseRetrieveValue(JET_SESID sesid, JET_TABLEID tableid, void *pv, size_t cbMax, size_t *pcbActual);
/* EseSeek, then the found record's key into pvKeyOut and its value into
 * pvData, in one call (one entry into the instance: the way to step
 * through a table, seeking GT / LT the last key returned).  The sizes and
 * JET_wrnBufferTruncated as EseRetrieveKey / EseRetrieveValue (either
 * buffer short: the cursor is on the record, so they give the rest).
 * A cursor keeps its position in the tree between calls and starts the next
 * seek from there while no page of the database has changed since (then
 * a step costs no descent from the root); any change makes it descend. */
JET_ERR JET_API EseSeekRetrieve(JET_SESID sesid, JET_TABLEID tableid, const void *pvKey, size_t cbKey,
                                JET_GRBIT grbit, void *pvKeyOut, size_t cbKeyMax, size_t *pcbKey, void *pvData,
                                size_t cbDataMax, size_t *pcbData);
/* *pcRecords = the records with pvFrom <= key <= pvTo, as seeks see them
 * (inside a transaction its snapshot: its own writes count, its deletes
 * and other sessions' later commits do not).  pvFrom
 * NULL or cbFrom 0: from the first record; pvTo NULL: to the last (pvTo
 * non-NULL with cbTo 0 is the empty key: nothing lies at or below it).
 * Walks the range; the cursor's current record is unchanged.  Bounds longer
 * than EseMaxKeySize: JET_errKeyTooBig, as EseSeek. */
JET_ERR JET_API EseCount(JET_SESID sesid, JET_TABLEID tableid, const void *pvFrom, size_t cbFrom, const void *pvTo,
                         size_t cbTo, uint64_t *pcRecords);
/* A slice of the current record's value: up to cbMax bytes from byte
 * ibOffset (0-based) on; *pcbActual is the value's length from ibOffset to
 * its end (0 at or past the end, which is no error), and
 * JET_wrnBufferTruncated is returned when that is more than cbMax. */
JET_ERR JET_API EseRetrieveValueAt(JET_SESID sesid, JET_TABLEID tableid, size_t ibOffset, void *pv, size_t cbMax,
                                   size_t *pcbActual);
/* A slice of the value of the record with key pvKey (as EseSeek with
 * JET_bitSeekEQ sees it), in one call: up to cbMax bytes from byte
 * ibOffset on, *pcbActual and JET_wrnBufferTruncated as EseRetrieveValueAt
 * (pv NULL with cbMax 0 asks the size).  Only the pages that hold the
 * slice are read (a long value's directory pages before it, its data
 * pages within it), not the whole value.  The cursor is unchanged.
 * JET_errRecordNotFound when there is no such record; cbKey 0:
 * JET_errInvalidParameter; over EseMaxKeySize: JET_errKeyTooBig. */
JET_ERR JET_API EseRetrieveSlice(JET_SESID sesid, JET_TABLEID tableid, const void *pvKey, size_t cbKey,
                                 size_t ibOffset, void *pv, size_t cbMax, size_t *pcbActual);

/* ---- external (streaming) backup ----------------------------------------
 * The sequence: Begin -> GetAttachInfo -> OpenFile/ReadFile/CloseFile per
 * database -> GetLogInfo (rolls the log: the cut-off) -> OpenFile/ReadFile/
 * CloseFile per log -> optional TruncateLog -> End.  Rules: docs/backup.md,
 * rules 1-11.  Lists are double-NUL-terminated full
 * paths; *pcbActual gets the full size needed (the buffer receives at most
 * cbMax bytes).  Each instance form has a legacy form without the instance
 * (legacy mode only).  ReadFile buffers are a multiple of the page size. */
JET_ERR JET_API JetBeginExternalBackupInstance(JET_INSTANCE instance, JET_GRBIT grbit);
JET_ERR JET_API JetGetAttachInfoInstance(JET_INSTANCE instance, char *szzDatabases, unsigned long cbMax,
                                         unsigned long *pcbActual);
JET_ERR JET_API JetOpenFileInstance(JET_INSTANCE instance, const char *szFileName, JET_HANDLE *phfFile,
                                    unsigned long *pulFileSizeLow, unsigned long *pulFileSizeHigh);
JET_ERR JET_API JetReadFileInstance(JET_INSTANCE instance, JET_HANDLE hfFile, void *pv, unsigned long cb,
                                    unsigned long *pcbActual);
JET_ERR JET_API JetCloseFileInstance(JET_INSTANCE instance, JET_HANDLE hfFile);
/* The backup's checkpoints in slices (an ESE extension), for a caller that
 * must not block (a Lua coroutine yields between two calls).  A full
 * Begin takes a checkpoint (the set's replay starts there) and the log
 * cut-off (the first GetLogInfo) takes another; each writes every dirty page
 * of the cache back.  The plain calls do this themselves, releasing the
 * instance lock between slices of at most a few MiB / a few ms of page
 * writes (the application's commits run meanwhile).  With
 * ESE_bitBackupStepwise, Begin only starts its checkpoint (its position is
 * fixed: the set is the same); EseBackupStep then writes one slice of the
 * backup's pending checkpoint per call, *pfMore 1 while more remain.  With
 * ESE_bitBackupStepCutOff (before the log list: DATABASES or UNLISTED, no
 * reader open) it first makes the cut-off (the log rolls; a database can
 * no longer be opened for the backup) and starts its checkpoint; GetLogInfo
 * then finishes what is left (nothing after *pfMore came back 0).  Slices
 * left undone are harmless: the next checkpoint supersedes them. */
#define ESE_bitBackupStepwise         0x00010000UL   /* Begin */
#define ESE_bitBackupStepCutOff       0x00000001UL   /* EseBackupStep */
/* EseBackupStep with ESE_bitBackupStepTruncate: JetTruncateLogInstance in
 * parts (same checks and errors): each call deletes logs of the truncation
 * for about 2 ms (at least one), *pfMore 1 while more remain; the last call
 * moves the backup to "truncated" and syncs the log folder.  Ended before
 * that last call, the backup is recorded as not truncated (a copy or a
 * differential), whatever logs were deleted already: they are in the set. */
#define ESE_bitBackupStepTruncate     0x00000002UL   /* EseBackupStep */
/* An EseBackupStep call waits for the disk about 4 ms at most, but for
 * the cut-off's log roll (made in the call, so that a commit after the
 * call is after the cut-off): a checkpoint slice, the truncation's
 * deletions and folder sync and End's header syncs run on an engine
 * thread of the backup; a call waits for the instance lock
 * about 2 ms at most (that thread holds it during a slice) and for a sync
 * about 2 ms at most, without the lock; a call that finds the lock busy
 * or its step still running answers *pfMore 1 having done nothing (call
 * again: with ESE_bitBackupStepCutOff again, which once the cut-off is
 * made asks for nothing more); a later call collects the step: its error,
 * or its *pfMore.  With
 * ESE_FAULT event counting (tests) every step runs in line, as before. */
/* EseBackupStep with ESE_bitBackupStepEnd: JetEndExternalBackupInstance2
 * (JET_bitBackupEndNormal) in steps.  The first call checks that the
 * backup is complete (else JET_errBackupAbortByCaller, and the backup goes
 * on: End it); each call then writes one header page of one database (the
 * backup's record, rule 11: page 0, then page 1) and starts its sync on an
 * engine thread, or collects that sync (waiting about 2 ms at most, no
 * engine lock held; still running: *pfMore 1 and nothing else done), so no
 * call waits for a whole fsync.  A page is written only after the one
 * before it is durable.  The last call ends the backup (*pfMore 0), as End
 * does; a failure (a sync's JET_errDiskIO) ends it too, with that error.
 * The record is a full or incremental one when the backup was truncated
 * (ESE_bitBackupStepTruncate or JetTruncateLogInstance), else a copy or a
 * differential.  With ESE_FAULT event counting (tests) the syncs run in
 * line, in End's order. */
#define ESE_bitBackupStepEnd          0x00000004UL   /* EseBackupStep */
JET_ERR EseBackupStep(JET_INSTANCE instance, JET_GRBIT grbit, int *pfMore);
/* The timeline of a running instance's log stream (docs/format.md, <base>.tl
 * in its system folder, written by every restore): *pfHas = 1 and its 16
 * bytes in id (its parent's in parent: zeros for the root), or *pfHas = 0 for the stream's root timeline (never
 * restored).  JET_errLogFileCorrupt: the file is damaged or not a file. */
JET_ERR EseGetTimeline(JET_INSTANCE instance, unsigned char id[16], unsigned char parent[16], int *pfHas);
/* Pacing (JET_paramBackupMaxRate, JET_paramBackupPace).  JetReadFileInstance
 * paces itself: it reads in pieces of at most one burst (the rate's bytes
 * of 100 ms) and sleeps, without any engine lock, before a piece the
 * bucket cannot pay yet; it may then return fewer bytes than asked before
 * the end of the stream (never 0 before it).  A caller that waits its own
 * way (the Lua readers yield) asks EseBackupPaceReserve for up to cbWant
 * bytes: it charges *pcbGranted of them (a multiple of the page size, at
 * most one burst; cbWant itself when no rate is in force) and says how
 * long to wait before reading them (*pusWait, 0: at once); it then reads
 * them with EseReadFileInstanceUnpaced, which is JetReadFileInstance
 * without the pacing.  instance 0 names the legacy instance. */
JET_ERR EseBackupPaceReserve(JET_INSTANCE instance, unsigned long cbWant, unsigned long *pcbGranted,
                             unsigned long long *pusWait);
JET_ERR EseReadFileInstanceUnpaced(JET_INSTANCE instance, JET_HANDLE hfFile, void *pv, unsigned long cb,
                                   unsigned long *pcbActual);
typedef struct {
  unsigned long long maxRate;      /* JET_paramBackupMaxRate */
  unsigned long long rate;         /* the rate in force now, bytes/s (0: none) */
  int pace;                        /* JET_paramBackupPace */
  int congested;                   /* auto: recent durable commits wait at least twice their normal */
  unsigned long long commitRecentUs, commitNormalUs;   /* durable-commit latency: recent, baseline */
  unsigned long long bytes;        /* bytes charged to the bucket since init */
  unsigned long long waitedUs, waits;   /* the waits it asked for */
} EseBackupPaceStatus;
JET_ERR EseGetBackupPaceStatus(JET_INSTANCE instance, EseBackupPaceStatus *status);
JET_ERR JET_API JetGetLogInfoInstance(JET_INSTANCE instance, char *szzLogs, unsigned long cbMax,
                                      unsigned long *pcbActual);
#define JET_BASE_NAME_LENGTH 3
typedef struct {
  unsigned long cbSize;      /* sizeof(JET_LOGINFO) */
  unsigned long ulGenLow;
  unsigned long ulGenHigh;
  char szBaseName[JET_BASE_NAME_LENGTH + 1];
} JET_LOGINFO;
JET_ERR JET_API JetGetLogInfoInstance2(JET_INSTANCE instance, char *szzLogs, unsigned long cbMax,
                                       unsigned long *pcbActual, JET_LOGINFO *pLogInfo);
JET_ERR JET_API JetGetTruncateLogInfoInstance(JET_INSTANCE instance, char *szzLogs, unsigned long cbMax,
                                              unsigned long *pcbActual);
JET_ERR JET_API JetTruncateLogInstance(JET_INSTANCE instance);
JET_ERR JET_API JetEndExternalBackupInstance(JET_INSTANCE instance);
JET_ERR JET_API JetEndExternalBackupInstance2(JET_INSTANCE instance, JET_GRBIT grbit);
JET_ERR JET_API JetStopBackupInstance(JET_INSTANCE instance);

JET_ERR JET_API JetBeginExternalBackup(JET_GRBIT grbit);
JET_ERR JET_API JetGetAttachInfo(char *szzDatabases, unsigned long cbMax, unsigned long *pcbActual);
JET_ERR JET_API JetOpenFile(const char *szFileName, JET_HANDLE *phfFile, unsigned long *pulFileSizeLow,
                            unsigned long *pulFileSizeHigh);
JET_ERR JET_API JetReadFile(JET_HANDLE hfFile, void *pv, unsigned long cb, unsigned long *pcbActual);
JET_ERR JET_API JetCloseFile(JET_HANDLE hfFile);
JET_ERR JET_API JetGetLogInfo(char *szzLogs, unsigned long cbMax, unsigned long *pcbActual);
JET_ERR JET_API JetTruncateLog(void);
JET_ERR JET_API JetEndExternalBackup(void);
JET_ERR JET_API JetStopBackup(void);

/* ---- restore (hard recovery) ---------------------------------------------
 * Puts a backup set back into dest and replays its logs to a consistent,
 * clean database: a full set first, then any incremental sets in order,
 * then (live_log_path) the logs written after the backup.  Checks log and
 * database signatures, generation continuity, the copy's log range and
 * every page checksum, and refuses a wrong set with the ESE error for it
 * (docs/backup.md rule 12).
 * Writes only inside dest (and the checkpoint into checkpoint_dir): names
 * from a set are base names found by listing its folder, never paths.  An
 * instance may be named (created, not initialized): it is "restoring"
 * meanwhile, so other calls on it get JET_errRestoreInProgress.  A failed
 * restore leaves the databases in dest marked "being restored" (attach
 * refuses them); a new restore into dest (with overwrite) may be tried.
 *
 * Begin refuses, before it creates, deletes or writes anything:
 * - dest or checkpoint_dir used by a running instance (in this process:
 *   its log or system folder; in any process: a locked log-folder lock
 *   file B.lck or a locked database file in it; a database to restore in
 *   place that an instance has attached): JET_errFileAccessDenied, the
 *   detail naming the holder.  Folders are compared as the files they
 *   resolve to, so a symbolic link to a live folder is refused alike;
 * - dest not empty, or checkpoint_dir holding B.chk, without overwrite:
 *   JET_errBackupDirectoryNotEmpty;
 * - a file the restore would write (a database of the set, a log of the
 *   replayed range, B.log, Btmp.log, B.chk, B.chk.tmp) that is a symbolic
 *   link or not a regular file: JET_errInvalidPath.  A restore never
 *   writes through a link (every file is opened with O_NOFOLLOW); dest and
 *   checkpoint_dir themselves may be links to folders (they are followed).
 * With overwrite, the restore replaces the databases of the set and the
 * log stream of base name B in dest (every B*.log, B.chk, also generations
 * outside the restored range: they would not follow the restored stream);
 * every other file in dest is left as it was.  The restore holds dest's
 * B.lck from Begin to End, so no instance opens dest meanwhile.
 *
 * Every path of the options but db_originals is made absolute at Begin
 * (joined to the working folder then): a chdir between steps changes
 * nothing.
 * Stepwise, so that a caller can report progress (and a Lua caller yield)
 * between steps: Begin validates the set; each Step copies or replays a
 * bounded amount; *pfinished is 1 after the last; End frees (and, when the
 * restore did not finish, leaves dest to be restored again: its databases
 * marked being restored, or, after a failure in the last steps (the next
 * log generation, the checkpoint), replayed and clean but its log folder
 * unfinished). */
typedef struct EseRestore EseRestore;
typedef struct EseRestoreOptions {
  const char *const *dirs;        /* backup sets: the full one first */
  unsigned long ndirs;
  const char *dest;               /* receives databases, logs, checkpoint */
  const char *live_log_path;      /* NULL, or a log folder to replay after the sets */
  unsigned long to_generation;    /* 0: everything; else stop after this generation */
  const char *base_name;          /* NULL: "edb" */
  JET_INSTANCE instance;          /* 0, or an instance that is restoring meanwhile */
  /* JetExternalRestore2's form: streamed databases the caller has already
   * written (restored where they are, not copied), each with the path it
   * had when it was backed up; the sets in dirs then hold only logs. */
  const char *const *db_files, *const *db_originals;
  unsigned long ndb_files;
  const char *checkpoint_dir;     /* NULL: dest */
  unsigned long gen_low, gen_high;/* 0, 0: every log generation of the sets */
  int overwrite;                  /* 0: refuse a dest that is not empty (see above) */
  char *detail;                   /* NULL, or receives why EseRestoreBegin refused */
  size_t detail_cap;
  /* A folder of archived log generations (files named as the stream names
   * them) to replay after the sets, before live_log_path; NULL: none. */
  const char *archive_path;
  /* A point in time, µs since the Unix epoch: replay stops before the
   * first commit later than it (0: no limit).  The logs must reach past
   * it (a later commit, or a generation begun later), else the restore
   * fails with JET_errMissingLogFile, unless allow_partial: then it ends
   * at the end of the logs or at a gap in them (EseRestoreResultOf says
   * where). */
  uint64_t to_time_us;
  int allow_partial;
  /* A command that fetches one archived generation (%f its file name, %p
   * where to write it), run for each generation after the sets until it
   * fails (exit status not 0: the end of the archive), then replayed as
   * archive_path is (before live_log_path).  The files go to a folder
   * .ese-fetch in dest, removed at End.  NULL: none. */
  const char *restore_command;
  uint32_t restore_command_timeout_s; /* a fetch running longer is killed: an error (0: 300 s) */
  /* The timeline of the sets restored (16 bytes, a manifest's "timeline"),
   * NULL: the stream's root timeline.  Every restore writes a new timeline
   * into dest's system folder (<base>.tl, docs/format.md) whose parent is
   * this one. */
  const unsigned char *parent_timeline;
} EseRestoreOptions;
/* Where a finished restore stopped. */
typedef struct EseRestoreResult {
  unsigned long last_generation;  /* the last generation whose records were replayed (all or up to the stop) */
  uint64_t last_commit_us;        /* time of the last commit the databases hold (0: none in the logs replayed) */
  int reached;                    /* to_time_us: 1 when the logs reached past it (or to_generation ended them) */
  unsigned long gap_generation;   /* allow_partial: the first generation missing, 0: none */
  int stopped_at_time;            /* to_time_us: 1 when a commit after it ended the replay (0: the logs' end
                                   * or to_generation did) */
  unsigned long not_restored;     /* databases the replayed logs create or attach that no set holds (as ESE's
                                   * hard restore, it skips them): EseRestoreNotRestored names each */
} EseRestoreResult;
JET_ERR EseRestoreBegin(const EseRestoreOptions *opts, EseRestore **prestore);
JET_ERR EseRestoreStep(EseRestore *restore, uint64_t *pdone, uint64_t *ptotal, int *pfinished);
void EseRestoreEnd(EseRestore *restore);
/* Where the last failure of this restore was ("generation 5: ..."). */
const char *EseRestoreDetail(EseRestore *restore);
/* Where the restore stopped, once a step said finished. */
void EseRestoreResultOf(EseRestore *restore, EseRestoreResult *result);
/* Once a step said finished: the i-th (0 .. not_restored - 1) database the
 * replayed logs create (*pcreated 1) or attach (0) at generation *pgen
 * that no set holds, by its path in the log; NULL past the last.  The
 * string lives until EseRestoreEnd. */
const char *EseRestoreNotRestored(EseRestore *restore, unsigned long i, int *pcreated, unsigned long *pgen);
/* Once a step said finished: why restore_command's fetching ended, when a
 * fetch's exit status other than 0 ended it (the archive's end, or a fetch
 * that failed: "fetching edb0000000A.log: restore_command 'rclone' exited
 * with status 1: <the last 200 bytes of its output>"); "" when none did.
 * The string lives until EseRestoreEnd. */
const char *EseRestoreFetchEnd(EseRestore *restore);

typedef unsigned long JET_SNP;
typedef unsigned long JET_SNT;
#define JET_snpRestore 8
#define JET_snpBackup 9
#define JET_sntBegin 5
#define JET_sntProgress 0
#define JET_sntComplete 6
#define JET_sntFail 3
typedef struct { unsigned long cbStruct, cunitDone, cunitTotal; } JET_SNPROG;
typedef JET_ERR (*JET_PFNSTATUS)(JET_SESID sesid, JET_SNP snp, JET_SNT snt, void *pv);
/* One call: restore the set in szBackupPath into szDest (EseRestore with
 * one folder, overwrite on: ESE's JetRestoreInstance replaces the files it
 * restores; a live folder or a planted link is still refused); instance
 * may be 0.  pfn (may be NULL) gets JET_snpRestore progress in percent; a
 * non-zero return from it stops the restore. */
JET_ERR JET_API JetRestoreInstance(JET_INSTANCE instance, const char *szBackupPath, const char *szDest,
                                   JET_PFNSTATUS pfn);

/* ---- one-call backup into a folder (ESE's JetBackup) ----------------------
 * The whole external sequence into szBackupPath (created when missing; it
 * must be empty: JET_errBackupDirectoryNotEmpty): full (grbit 0) or
 * incremental (JET_bitBackupIncremental); the logs are truncated after
 * they are copied.  pfnStatus (may be NULL) gets JET_snpBackup progress in
 * percent; a non-zero return stops the backup.  Any failure ends the backup
 * with End(abort): nothing is recorded. */
JET_ERR JET_API JetBackupInstance(JET_INSTANCE instance, const char *szBackupPath, JET_GRBIT grbit,
                                  JET_PFNSTATUS pfnStatus);
JET_ERR JET_API JetBackup(const char *szBackupPath, JET_GRBIT grbit, JET_PFNSTATUS pfnStatus);

/* ---- inspecting files (ese info / ese logs / ese check) -------------------
 * Reads the header of a database, streamed copy or log file without an
 * instance; with verify, checks every page checksum and page number (a
 * database; pages never written are accepted) or every record (a log) and
 * returns the error of the first fault: JET_errReadVerifyFailure,
 * JET_errLogReadVerifyFailure, JET_errLogFileCorrupt,
 * JET_errDatabaseCorrupted (not a database or log), JET_errBadPatchPage (a
 * streamed copy whose trailer is damaged).  detail gets a sentence naming
 * the page or file. */
enum { EseFileDatabase = 1, EseFileLog = 2 };
typedef struct EseBackupRecord { unsigned long genLow, genHigh; uint64_t time; } EseBackupRecord;
typedef struct EseFileInfo {
  int kind;                       /* EseFileDatabase or EseFileLog */
  unsigned long pageSize;
  /* database */
  unsigned long state;            /* 1 clean, 2 dirty, 3 streamed backup copy, 4 being restored */
  unsigned long pages;            /* pages in the file (a streamed copy: with its trailer) */
  unsigned long genMin, genMax;   /* log generations it needed when last attached */
  unsigned char dbSignature[16];
  EseBackupRecord backup[5];      /* full, incremental, differential, copy, current (streamed copy) */
  unsigned long formatVersion;    /* the database format (3; another one is JET_errInvalidDatabaseVersion) */
  uint64_t dbtimeLast;            /* no page carries a higher dbtime (the header's reservation while attached) */
  unsigned long replayGen, replayOffset; /* a streamed copy: where a restore's replay of it starts (the backup's
                                          * checkpoint: offset 0 is the generation's first record) */
  /* database and log */
  unsigned char logSignature[16];
  /* log */
  unsigned long generation, fileSize;
  uint64_t tmCreate, tmPrevGen;
  unsigned long attached;         /* databases in its header's attach table */
  int logEndRecord;               /* verified: 1 it ends in its end record (LR_END), 0 it lacks one though its
                                   * header has the bit (corrupt in a closed generation: its tail is cut; a
                                   * numbered file, NAME.zst of one too, is closed: EseGetFileInfo with
                                   * verify fails, JET_errLogFileCorrupt), -1 not known (not verified, no
                                   * bit, B.log) */
  /* a compressed file of a backup set (NAME.zst, docs/format.md): the
   * fields above describe the original; a damaged container is
   * JET_errReadVerifyFailure (a log's, with verify: JET_errLogReadVerifyFailure) */
  int compressed;
  uint64_t storedSize;            /* bytes of the compressed file */
} EseFileInfo;
JET_ERR EseGetFileInfo(const char *szPath, int verify, EseFileInfo *info, char *detail, size_t cbDetail);
/* The page checks of EseGetFileInfo(verify) over one chunk of a database
 * file that the caller read itself (so that it can hash the same bytes and
 * check a large file in bounded steps): cb bytes (whole pages) starting at
 * page firstPage of a file of fileSize bytes.  Pages 0 and 1 (the header
 * pair, which EseGetFileInfo reads) are passed over.  copySignature: the
 * database signature when the file is a streamed backup copy (its size
 * must then be whole pages, at least 4, and its last page is the trailer,
 * which must decode and carry that signature), else NULL.  name names the
 * file in detail.  JET_errReadVerifyFailure (a bad checksum or page
 * number), JET_errBadPatchPage (a copy's size or trailer),
 * JET_errInvalidParameter (a chunk that is not whole pages or lies past
 * the end). */
JET_ERR EseVerifyPages(const void *buf, size_t cb, unsigned long pageSize, unsigned long firstPage,
                       uint64_t fileSize, const unsigned char *copySignature, const char *name, char *detail,
                       size_t cbDetail);

/* ESE's external restore: szBackupLogPath holds the streamed logs of
 * pLogInfo's range, rgrstmap maps each database's path at backup time to
 * the file the caller wrote its stream into; the logs are replayed in
 * szLogPath (checkpoint in szCheckpointFilePath) and the databases are
 * restored in place.  A running target instance is not supported: the
 * target arguments must be NULL (JET_errInvalidParameter).  Overwrite is
 * on (szLogPath usually holds the databases the caller streamed); a live
 * szLogPath or szCheckpointFilePath, a database to restore that an
 * instance has attached, or a planted link is refused as EseRestoreBegin
 * says. */
JET_ERR JET_API JetExternalRestore2(char *szCheckpointFilePath, char *szLogPath, JET_RSTMAP *rgrstmap,
                                    long crstfilemap, char *szBackupLogPath, JET_LOGINFO *pLogInfo,
                                    char *szTargetInstanceName, char *szTargetInstanceLogPath,
                                    char *szTargetInstanceCheckpointPath, JET_PFNSTATUS pfn);

/* The log archive of a running instance.  cbStruct = sizeof(EseArchiveInfo).
 * fEnabled 0: no archive configured (every other field 0).
 * ulShippedGeneration: the highest generation shipped (0: none yet);
 * ulPending / cbPending: closed generations not yet shipped and their
 * bytes; fBacklogged: cbPending > JET_paramArchiveMaxBacklog (commits then
 * return JET_wrnArchiveBacklog); ulFailures: failed attempts since the last
 * success; szLastError: the last failure, kept after a later success
 * ("" when none). */
typedef struct {
  unsigned long cbStruct;
  int fEnabled;
  unsigned long ulShippedGeneration;
  unsigned long ulPending;
  unsigned long long cbPending;
  int fBacklogged;
  unsigned long ulFailures;
  char szLastError[512];
} EseArchiveInfo;
JET_ERR JET_API EseArchiveStatus(JET_INSTANCE instance, EseArchiveInfo *info);

/* The version store (snapshot isolation; docs/api.md "Transactions"): the
 * before images kept for open snapshots and the uncommitted write sets,
 * which together stay within cbMax (JET_paramMaxVerPages x 16 KiB). */
typedef struct {
  unsigned long long cbVersions;     /* bytes of kept versions (0 when no transaction is open) */
  unsigned long long cVersions;      /* kept versions */
  unsigned long long cbUncommitted;  /* bytes of every session's write set */
  unsigned long long cbMax;          /* the limit of cbVersions + cbUncommitted */
  unsigned long cTransactions;       /* open transactions */
} EseVersionStoreInfo;
JET_ERR JET_API EseGetVersionStoreInfo(JET_INSTANCE instance, EseVersionStoreInfo *info);

/* Detail of the last failure on this session or instance ("file X page 12"),
 * "" when none; copies at most cb bytes with a terminating NUL. */
void EseSessionErrorDetail(JET_SESID sesid, char *buf, size_t cb);
void EseInstanceErrorDetail(JET_INSTANCE instance, char *buf, size_t cb);

#ifdef __cplusplus
}
#endif
#endif
