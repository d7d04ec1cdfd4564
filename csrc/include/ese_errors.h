/*
 * ese_errors.h -- the one table of every JET_err lua-ese can return.
 *
 * ESE_ERRORS(X) expands X(name, code, message) once per error.  The C enum,
 * the name/message lookups (errors.c) and the Lua tables ese.errors[name] and
 * ese.errors[code] are all generated from this list; nothing else defines an
 * error number.
 */
#ifndef ESE_ERRORS_H
#define ESE_ERRORS_H

#define ESE_ERRORS(X) \
  X(JET_errSuccess,                        0,     "The operation completed successfully") \
  X(JET_wrnBufferTruncated,                1006,  "The buffer was too small; the value was truncated") \
  X(JET_wrnArchiveBacklog,                 3100,  "The commit is durable, but the log archive is behind by more than archive_max_backlog bytes") \
  X(JET_errArchiveTimelineConflict,        -3101, "The log archive holds another timeline's file of a generation this log stream wrote anew (after a point-in-time restore): point archive_path at a new folder") \
  X(JET_errKeyTooBig,                      -408,  "The key is longer than 255 bytes (JET_cbKeyMost)") \
  X(JET_errLogFileCorrupt,                 -501,  "A log file is damaged before its last record") \
  X(JET_errBackupDirectoryNotEmpty,        -504,  "The destination folder is not empty") \
  X(JET_errBackupInProgress,               -505,  "A backup is in progress") \
  X(JET_errRestoreInProgress,              -506,  "A restore is in progress") \
  X(JET_errMissingPreviousLogFile,         -509,  "A log file needed for recovery is missing") \
  X(JET_errLogWriteFail,                   -510,  "Writing the log failed") \
  X(JET_errBadLogVersion,                  -514,  "A log file or checkpoint is of a format this version does not read (older, or with unknown features)") \
  X(JET_errLoggingDisabled,                -516,  "Logging is disabled for this instance") \
  X(JET_errLogSequenceEnd,                 -519,  "The log stream has used its last generation number") \
  X(JET_errNoBackup,                       -520,  "No backup is in progress") \
  X(JET_errInvalidBackupSequence,          -521,  "The backup call is out of sequence") \
  X(JET_errBackupNotAllowedYet,            -523,  "A backup cannot start yet: recovery has not finished") \
  X(JET_errInvalidBackup,                  -526,  "Invalid backup: the backup cannot be taken as asked, or the folder is not a valid backup set") \
  X(JET_errMissingLogFile,                 -528,  "The current log file, which recovery needs, is missing") \
  X(JET_errLogDiskFull,                    -529,  "The log disk is full") \
  X(JET_errBadLogSignature,                -530,  "A log file belongs to another log stream") \
  X(JET_errBadDbSignature,                 -531,  "A database file is another database than the log names (its signature differs)") \
  X(JET_errBadCheckpointSignature,         -532,  "The checkpoint file belongs to another log stream") \
  X(JET_errCheckpointCorrupt,              -533,  "The checkpoint file is damaged") \
  X(JET_errBadPatchPage,                   -535,  "The trailer page of a streamed database copy is damaged or missing") \
  X(JET_errLogFileSizeMismatch,            -541,  "A log file has the wrong size") \
  X(JET_errSoftRecoveryOnBackupDatabase,   -544,  "The database is a streamed backup copy; restore it first") \
  X(JET_errDatabaseDirtyShutdown,          -550,  "The database was not shut down cleanly; recovery must run first") \
  X(JET_errConsistentTimeMismatch,         -551,  "The database is another copy than the log attached: its last clean point is not the one the log recorded (an older copy put back, or a copy of another history)") \
  X(JET_errDatabasePatchFileMismatch,      -552,  "The database does not match its log files") \
  X(JET_errEndingRestoreLogTooLow,         -553,  "The backup's logs end before the database copy needs") \
  X(JET_errStartingRestoreLogTooHigh,      -554,  "The backup's logs start after the database copy needs") \
  X(JET_errGivenLogFileHasBadSignature,    -555,  "A log file of the backup set belongs to another instance") \
  X(JET_errGivenLogFileIsNotContiguous,    -556,  "The log files of the backup set are not contiguous") \
  X(JET_errMissingRestoreLogFiles,         -557,  "Log files needed by the restore are missing") \
  X(JET_errMissingFullBackup,              -560,  "An incremental backup needs a full backup first") \
  X(JET_errMissingCurrentLogFiles,         -565,  "Log files after the backup set are missing") \
  X(JET_errDbTimeTooOld,                   -566,  "A database page is older than a log record needs: a change before it is missing") \
  X(JET_errDbTimeTooNew,                   -567,  "A database page is newer than a log record's base but older than its commit") \
  X(JET_errMissingFileToBackup,            -569,  "A file of the backup is missing") \
  X(JET_errLogTornWriteDuringHardRestore,  -570,  "A torn write was found in a log of the backup set") \
  X(JET_errLogCorruptDuringHardRestore,    -573,  "A log record of the backup set is corrupt") \
  X(JET_errBadRestoreTargetInstance,       -577,  "The restore target instance is not valid for this restore") \
  X(JET_errLogReadVerifyFailure,           -612,  "A log file failed verification while it was read") \
  X(JET_errRestoreOfNonBackupDatabase,     -615,  "The database is not a streamed backup copy") \
  X(JET_errLogFileNotCopied,               -616,  "Log files must be read before they are truncated") \
  X(JET_errBackupAbortByCaller,            -800,  "The backup was ended before it was complete") \
  X(JET_errBackupAbortByServer,            -801,  "The backup was stopped (stop_backup or term) before it ended") \
  X(JET_errInvalidGrbit,                   -900,  "A grbit (option bit) is not valid for this call") \
  X(JET_errTermInProgress,                 -1000, "The instance is terminating and accepts no new call") \
  X(JET_errInvalidName,                    -1002, "The name is empty, too long or holds characters that are not allowed") \
  X(JET_errInvalidParameter,               -1003, "A parameter is not valid for this call") \
  X(JET_errOutOfMemory,                    -1011, "Out of memory or over a resource limit") \
  X(JET_errOutOfFileHandles,               -1020, "Out of file descriptors (the process's open-file limit)") \
  X(JET_errReadVerifyFailure,              -1018, "A page failed its checksum or page-number check") \
  X(JET_errDiskIO,                         -1022, "A disk read, write or sync failed") \
  X(JET_errInvalidPath,                    -1023, "The path is empty, too long or cannot be used here") \
  X(JET_errRecordTooBig,                   -1026, "The value is longer than 2^31 - 1 bytes") \
  X(JET_errNotInitialized,                 -1029, "The instance is not initialized") \
  X(JET_errAlreadyInitialized,             -1030, "The instance is already initialized") \
  X(JET_errFileAccessDenied,               -1032, "The file is locked by another process or cannot be opened") \
  X(JET_errVersionStoreOutOfMemory,        -1069, "The version store is full (JET_paramMaxVerPages): the write or commit was not applied; a transaction it was part of stays open") \
  X(JET_errRunningInOneInstanceMode,       -1080, "The process runs the legacy single instance; named instances cannot start") \
  X(JET_errRunningInMultiInstanceMode,     -1081, "The process runs named instances; use the instance form") \
  X(JET_errInstanceNameInUse,              -1086, "An instance of this name already exists") \
  X(JET_errInstanceUnavailable,            -1090, "The instance is unavailable after a fatal error") \
  X(JET_errWriteConflict,                  -1102, "Another transaction has written this key and not committed, or committed it after this transaction began; roll back and retry") \
  X(JET_errInvalidSesid,                   -1104, "The session is invalid or ended") \
  X(JET_errInvalidInstance,                -1115, "The instance handle is invalid") \
  X(JET_errDatabaseInUse,                  -1202, "The database is in use by another session or instance") \
  X(JET_errDatabaseNotFound,               -1203, "No attached database has this name or handle") \
  X(JET_errDatabaseCorrupted,              -1206, "The file is not a valid database") \
  X(JET_errInvalidDatabaseVersion,         -1209, "The database file is of another format version than this engine reads") \
  X(JET_errPageSizeMismatch,               -1213, "The page size of a file does not match the others' or the instance's") \
  X(JET_errTooManyInstances,               -1214, "Too many instances are running in this process") \
  X(JET_errTableDuplicate,                 -1303, "A table of this name already exists") \
  X(JET_errObjectNotFound,                 -1305, "No table of this name exists") \
  X(JET_errInvalidTableId,                 -1310, "The table handle is invalid or closed") \
  X(JET_errClientRequestToStopJetService,  -1329, "The instance's service was stopped; only term is allowed") \
  X(JET_errRecordNotFound,                 -1601, "No record has this key") \
  X(JET_errNoCurrentRecord,                -1603, "The cursor is not on a record") \
  X(JET_errNotInTransaction,               -1054, "No transaction is active") \
  X(JET_errTransTooDeep,                   -1005, "A transaction is already active; transactions do not nest") \
  X(JET_errTooManyAttachedDatabases,       -1805, "Too many databases are attached: 32 at most, their paths within the log header's attach table") \
  X(JET_errDiskFull,                       -1808, "The disk is full: a write or a file extension found no space") \
  X(JET_errPermissionDenied,               -1809, "The operating system denied access to a file or folder") \
  X(JET_errFileNotFound,                   -1811, "The file or folder was not found") \
  X(JET_errFileInvalidType,                -1812, "The file is of another type: neither a database nor a log file") \
  X(JET_errFileAlreadyExists,              -1814, "The file already exists") \
  X(JET_errAfterInitialization,            -1850, "This parameter cannot change after the instance was initialized")

#endif
