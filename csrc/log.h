/*
 * log.h -- the write-ahead log: fixed-size generation files, records,
 * group commit, and the reader that recovery, backup and restore share.
 *
 * Files (base name B, 3 characters):  B.log is the current generation;
 * B%08X.log (uppercase hex) an older one.  Every file is exactly
 * file_size bytes: a LOG_HDR_SIZE header, two shadow slots (A at
 * LOG_SLOT_A, B at LOG_SLOT_B, LOG_BLOCK bytes each), then records from
 * LOG_DATA_START on, then zeros.
 *
 * Header, format 5 (little-endian, CRC32C of bytes 4..LOG_HDR_SIZE at
 * offset 0):
 *   0 u32 checksum, 4 char[8] magic "ESELOG\0\5", 12 u32 generation,
 *   16 u32 page_size, 20 u32 file_size, 24 u8[16] log signature,
 *   40 u64 tm_create (µs), 48 u64 tm_prev_gen (tm_create of gen-1, 0 for the
 *   first), 56 u32 features (bit 0, LOG_FEATURE_FREEPAGES: the file may
 *   hold LR_UNLINK and LR_FREEPAGE records; bit 1, LOG_FEATURE_LVFREE:
 *   its LR_FREEPAGE records may free long values' pages; bit 2,
 *   LOG_FEATURE_SLOTONLY: while it is B.log, the bytes of its last block
 *   may be durable in a shadow slot only (below); bit 3,
 *   LOG_FEATURE_SEEDED: its records' CRCs are seeded with log_seed (the
 *   signature and the generation), not the generation alone; every file
 *   this version makes has all four; any other bit is a format this
 *   version does not read, as a version before bit 0, 1, 2 or 3 refuses
 *   it), 60 u32 attach
 *   count, 64 attach table: one
 *   attachment entry per database (below).  Formats 1 and 2 (magic
 *   "ESELOG\0\1", "ESELOG\0\2": records from offset 4096, no slots),
 *   3 (this layout, commits without their time) and 4 (no split records:
 *   its readers call types 13 and 14 damage) are refused with
 *   JET_errBadLogVersion, never read.
 *
 * Attachment entry (header, checkpoint, LR_ATTACH, LR_CREATEDB): u32 dbid,
 *   u8[16] database signature, u16 absolute path length, u16 relative path
 *   length, the absolute path, the path relative to the log folder (empty:
 *   unknown).  Neither has a terminator.
 * A generation is contiguous with its predecessor when its tm_prev_gen
 * equals the predecessor's tm_create.
 *
 * Record, 8-byte aligned:  u32 length of payload, u8 type, u8[3] zero,
 *   payload, u32 CRC32C (seeded with log_seed: the signature and the generation) of type byte + payload,
 *   zero padding to 8.  A zero length word ends a file's data, except in
 *   the last LOG_SLOT_HEAD bytes of a LOG_BLOCK: there it is padding that
 *   a durable flush left (below) and the data goes on at the next block.
 *
 * Shadow slots (the log tail's torn-write protection).  Durable flush k of
 * a file (k = 1, 2, ...) makes the range [S_k, E_k) durable (S_k: the
 * durable end before it).  P is where the file's bytes in place end (the
 * log's bytes before P are in place; P <= S_k, in the block of S_k or at
 * its start).  When E_k is in P's block (and not a roll's last write), the
 * flush writes only slot k mod 2 and P stays: one write + fdatasync per
 * commit.  Otherwise it writes [P, E_k) in place (rewriting the partial
 * block that holds P), then, in the same write-out (one fdatasync), slot
 * k mod 2 (0: A, 1: B).  A write of a full buffer (no sync), a roll's last
 * write and log_close put [P, end) in place too.  Slot k mod 2 is:
 *   0 u32 CRC32C of bytes 4..LOG_BLOCK, 4 u32 generation, 8 u64 k,
 *   16 u32 q = E_k / LOG_BLOCK (the block holding E_k), 20 u32 S_k,
 *   24 u32 E_k, 28 u32 zero, 32 the bytes [q*LOG_BLOCK, E_k) of the file,
 *   zeros to LOG_BLOCK.
 * A flush that would end in the last LOG_SLOT_HEAD bytes of a block pads
 * with zeros to the block's end first, so a slot always holds its block's
 * durable bytes.  Slot (k-1) mod 2, which flush k never writes, holds the
 * block of S_k with all its durable bytes (the file in place may hold only
 * those before P).  Reading B.log (archived files are complete in place),
 * a bad record (or a zero length word: P itself when the last block's
 * bytes are in a slot only) at X: (1) if a
 * valid slot of this generation holds a block at or after block(X) with
 * E > X, and that block in place of the file's yields a valid record at X,
 * the newest such slot's block is used and reading goes on (recovery writes
 * it back before it appends); (2) else when X >= S of the newest valid
 * slot, the log ends at X (a torn tail), even with valid records after it;
 * (3) else JET_errLogFileCorrupt.  With no valid slot and at most one
 * slot not zero (no durable flush of the file finished: its first slot
 * write was torn, or none happened), S is LOG_DATA_START: any X is a torn
 * tail.  With both slots damaged, X is a torn tail when no valid record
 * follows it, else corrupt.
 *
 * LSN: (generation << 32) | byte offset of the record in its file.  The
 * first record of a generation is at LOG_DATA_START.
 */
#ifndef ESE_LOG_H
#define ESE_LOG_H
#include <stddef.h>
#include <stdint.h>
#include "ese.h"
#include "os.h"

#define LOG_HDR_SIZE 4096u
#define LOG_BLOCK 4096u
#define LOG_SLOT_A 4096u
#define LOG_SLOT_B 8192u
#define LOG_SLOT_HEAD 32u
#define LOG_DATA_START 12288u
#define LOG_FEATURE_FREEPAGES 1u   /* record types 15 and 16 (emptied tree pages freed) */
#define LOG_FEATURE_LVFREE 2u      /* LR_FREEPAGE of a long value's page (types 5, 6) */
#define LOG_FEATURE_SLOTONLY 4u    /* B.log's last block may be durable in a slot only */
#define LOG_FEATURE_SEEDED 8u      /* a record's CRC is seeded with log_seed (signature and generation) */
#define LOG_FEATURE_DBPOINT 16u    /* LR_ATTACH carries the database's clean point, LR_DETACH the one it makes */
#define LOG_FEATURE_ENDMARK 32u    /* a roll closes the file with an LR_END record (its end and record count) */
/* bits this version reads */
#define LOG_FEATURES_KNOWN (LOG_FEATURE_FREEPAGES | LOG_FEATURE_LVFREE | LOG_FEATURE_SLOTONLY | LOG_FEATURE_SEEDED | \
                            LOG_FEATURE_DBPOINT | LOG_FEATURE_ENDMARK)
#define LOG_FEATURES_WRITTEN LOG_FEATURES_KNOWN   /* ... and sets in every file it makes */
/* The detail of JET_errBadLogVersion: what to do with an old log. */
#define LOG_OLD_FORMAT_ADVICE                                                                        \
  "recover and shut down cleanly with the version that wrote it, then set its logs, checkpoint and " \
  "double-write ring (B.dwb) aside (this version starts a new log stream)"
#define LOG_MIN_FILE_SIZE (64u * 1024u)
#define LOG_MAX_GEN 0x7FFFF800u

typedef uint64_t lsn_t;
#define LSN(gen, off) (((lsn_t)(gen) << 32) | (uint32_t)(off))
#define LSN_GEN(l) ((uint32_t)((l) >> 32))
#define LSN_OFF(l) ((uint32_t)(l))

typedef struct log_sig { uint8_t b[16]; } log_sig;

/* A database attachment as the log records it.  rel NULL or "": unknown. */
typedef struct log_attach {
  uint32_t dbid;
  char *path;           /* absolute */
  char *rel;            /* relative to the log folder, or NULL */
  uint8_t sig[16];      /* the database's signature (its header's db_sig) */
} log_attach;

/* Attachment entries: the encoded size; encoding into p (the paths must
 * be at most 0xFFFF bytes each); decoding one from p[0 .. n), *used = its
 * bytes, new strings in *a (log_entry_clear), JET_errLogFileCorrupt when it
 * runs past n. */
size_t log_entry_size(const log_attach *a);
void log_entry_put(uint8_t *p, const log_attach *a);
JET_ERR log_entry_get(const uint8_t *p, size_t n, log_attach *a, size_t *used);
void log_entry_clear(log_attach *a);
void log_attach_free(log_attach *a, uint32_t n);   /* n entries and the array */
/* 1 when a header's attach table can list these n entries (at least
 * without their relative paths). */
int log_attach_fits(const log_attach *att, uint32_t n);
/* The longest path a header's attach table can list (one entry alone). */
size_t log_attach_path_max(void);

/* What a file header says. */
typedef struct log_header {
  uint32_t gen, page_size, file_size;
  log_sig sig;
  uint64_t tm_create, tm_prev_gen;
  uint32_t features;    /* LOG_FEATURE_* */
  uint32_t nattach;
  log_attach *attach;   /* owned; log_header_clear frees */
} log_header;
void log_header_clear(log_header *h);
/* The log-chain rule, the one every reader of a log stream applies (the
 * reader below, ese.log_follows for `ese logs` and backup.verify): 1 when
 * next is the generation after prev and was created as its successor
 * (next's tm_prev_gen is prev's tm_create), else 0.  Signatures and page
 * sizes are compared by the callers, against the stream's. */
int log_follows(const log_header *prev, const log_header *next);

/* "B.log" (gen 0 means current) or "B%08X.log" into a new string. */
char *log_file_name(const char *dir, const char *base, uint32_t gen);
/* 1 and *gen when name is B%08X.log (hex either case, base case-insensitive),
 * 2 when it is B.log, 0 otherwise.  The engine's scans of a live folder
 * (log_scan_dir, log_reader_open) take only the exact base: a folder may
 * hold "edb" and "EDB"'s streams. */
int log_parse_name(const char *name, const char *base, uint32_t *gen);
/* log_parse_name with the base name spelled exactly (a live folder's). */
int log_parse_name_exact(const char *name, const char *base, uint32_t *gen);
/* Reads and checks a header: bad checksum or magic JET_errLogFileCorrupt,
 * an older format (1, 2) or an unknown feature bit JET_errBadLogVersion,
 * file size differing from the header JET_errLogFileSizeMismatch. */
JET_ERR log_read_header(esio *io, const char *path, log_header *h);
/* The same of a file opened already (the restore's live B.log, read later
 * through the same descriptor). */
JET_ERR log_read_header_of(esfile *f, log_header *h);
/* The lowest and highest archived generation in dir (0, 0 when none) and
 * whether B.log exists. */
JET_ERR log_scan_dir(const char *dir, const char *base, uint32_t *lo, uint32_t *hi, int *has_current);

/* ---- writer ------------------------------------------------------------
 * log_append is called with the instance lock held (one at a time);
 * log_flush is called without it, from any number of threads, and makes
 * one write + fdatasync serve every commit that waits (group commit);
 * log_roll with or without it (the backup's cut-off rolls without it), one
 * roll at a time, appends and flushes going on meanwhile (log_roll).
 * A write or sync failure is sticky: every later call returns it.
 */
typedef struct eslog eslog;

typedef struct log_config {
  esio *io;
  const char *dir, *base;
  uint32_t file_size;      /* bytes, >= LOG_MIN_FILE_SIZE */
  uint32_t page_size;
  uint32_t spares;         /* spare files kept for reuse (log_retire), <= LOG_SPARES_MAX */
} log_config;

#define LOG_SPARES_MAX 16

/* The spares of a stream of file_size-byte files with depth bytes of log
 * between checkpoints: as many files as a checkpoint retires (the depth's
 * generations, one more where it ends inside one), 1 .. 16. */
static inline uint32_t log_spares(uint64_t depth, uint32_t file_size) {
  uint64_t n = file_size ? (depth + file_size - 1) / file_size + 1 : 1;
  return n > LOG_SPARES_MAX ? LOG_SPARES_MAX : (uint32_t)n;
}

/* Starts a new stream: B.log of generation gen (1 for a new stream) with
 * a new signature when sig is NULL; fails with JET_errFileAlreadyExists
 * when B.log exists. */
JET_ERR log_create(const log_config *cfg, const log_sig *sig, uint32_t gen, uint64_t tm_prev_gen,
                   const log_attach *att, uint32_t natt, eslog **out);
/* log_create of a generation created after the time after_us too (its
 * tm_create > after_us, as > tm_prev_gen): the latest commit time of the
 * generation before (log_last_commit_us, a restore's last commit), so that
 * it is after every commit before it whatever the clock says now. */
JET_ERR log_create_after(const log_config *cfg, const log_sig *sig, uint32_t gen, uint64_t tm_prev_gen,
                         uint64_t after_us, const log_attach *att, uint32_t natt, eslog **out);
/* Reopens B.log for appending at end (an LSN of its generation, as the
 * reader found it); zeroes the file from end on (a cut torn tail), synced
 * when any zeros were written (and with them the bytes before end of its
 * block that only the newest slot held), then writes both shadow slots
 * with the block holding end (so no slot of the crashed run outlives it),
 * then syncs.  The
 * attach table of new generations starts empty (a new run). */
JET_ERR log_reopen(const log_config *cfg, lsn_t end, eslog **out);
/* The latest commit time (the last 8 bytes of each LR_COMMIT) in the
 * closed generation's file path; 0 when it holds no commit. */
JET_ERR log_last_commit_us(esio *io, const char *path, uint64_t *last);
/* Flushes what is buffered, puts the bytes a slot only held in place
 * (synced) and closes; does not roll. */
JET_ERR log_close(eslog *lg);

/* Appends a record to the buffer (not yet durable; LR_END, the roll's
 * own, is JET_errInvalidParameter); rolls to a new
 * generation first when it does not fit.  *lsn: where the record starts.
 * An LR_COMMIT's payload (>= 8 bytes, else JET_errInvalidParameter) ends
 * in the commit's time, which the log writes itself (whatever the caller
 * put there), under its mutex in log order: the most of os_now_us(), the
 * latest commit time appended (or read back by log_reopen) and the
 * generation's tm_create.  So commit times never go back in the log, each
 * is >= its generation's tm_create, and a generation's tm_create is after
 * every commit of the ones before it (docs/format.md). */
JET_ERR log_append(eslog *lg, uint8_t type, const void *payload, size_t len, lsn_t *lsn);
/* log_append of an LR_COMMIT; *time_us (when not NULL): the time the log
 * wrote in its last 8 bytes. */
JET_ERR log_append_commit(eslog *lg, const void *rec, size_t len, uint64_t *time_us, lsn_t *lsn);
/* Appends a record made of two pieces (header + body) without copying. */
JET_ERR log_append2(eslog *lg, uint8_t type, const void *p1, size_t n1, const void *p2, size_t n2, lsn_t *lsn);
/* Durable up to and including the record that starts at lsn (or everything
 * before lsn when lsn is an end position). */
JET_ERR log_flush(eslog *lg, lsn_t lsn);
/* Makes the next generation's file ahead of time (Btmp.log: from a spare,
 * log_retire, or new and zero-filled),
 * so that a roll only writes its header and renames: asks the log's
 * preparer thread (started by the first call) and returns; in line when
 * esio_ordered (os.h) or no thread could be started.  Called without the
 * instance lock (a commit after its flush); does nothing when it is made
 * or being made.  A full disk (JET_errDiskFull) is not an error of the
 * log: no Btmp.log is left, no new attempt is made before the next roll,
 * and that roll makes the file itself (failing then if there is still no
 * room).  Any other failure is the log's sticky error, returned (by this
 * call in line; by the next call, append or flush when the thread met it). */
JET_ERR log_prepare_next(eslog *lg);
/* Log recycling: path, a closed generation no longer needed (circular
 * logging's deletion below the checkpoint and every pin, a backup's
 * truncation), is deleted, or kept under a spare name (<base>spare1.log
 * .. <base>spareN.log, N = log_config.spares) when one is free (nothing
 * there: a folder, link or file of someone else's is left alone).  The
 * next Btmp.log is then made from a spare (when it is this stream's, below
 * the current generation, with one name and of the new files' size; one
 * of this stream's retired generations of another size is deleted,
 * anything else there is someone else's: left alone, never written, the
 * name not used again; a generation with another name, a hard link, is
 * deleted by log_retire rather than kept)
 * (log_prepare_next; one made new ahead gives way to it): its blocks have
 * been written, so that a commit's write into them is an overwrite, where
 * the reserved blocks of a new file cost the file system a metadata write
 * at each sync that first writes some of them.  Stale bytes of the old
 * generation stay after the new generation's records (they never check:
 * a record's CRC is seeded with log_seed, the stream's random signature
 * and the generation, so neither an old record nor a value's bytes made to
 * look like one can check in the new generation; a spare is used only
 * when its header names a lower generation of the same stream); the roll
 * that closes the file writes zeros after its last record, so that every
 * closed generation is zeros after its last record, as a new file is.
 * A path already gone (another caller retired it) is no error.
 * Spares stay when the log closes and are used by the next run; a past
 * run's spares above N (log_config.spares, when not 0) are deleted when
 * the log opens, when they are this stream's generations below the
 * current one with one name (anything else there is left alone). */
JET_ERR log_retire(eslog *lg, const char *path);
/* A full disk: the spares held now are deleted (their room, up to N files
 * of the log file size, given back) and the names are free again; returns
 * how many were.  Only files that are still this stream's retired
 * generations with one name are (read through a descriptor opened without
 * following a link, still at the name when checked): a file or a link
 * another process put at a spare's name since is left alone, and the name
 * is not used again.  Btmp.log, made ahead from a spare or new, stays (it is
 * the next generation's).  Called without any lock of the log held, by
 * the log itself when a new generation's file meets JET_errDiskFull (then
 * made once more when any were deleted), and by the instance's other
 * writers (a database's growth, pager_hooks.free_room). */
uint32_t log_release_spares(eslog *lg);
/* Makes everything durable, renames B.log to B%08X.log and starts the next
 * generation in a new B.log (the rename and the new file are synced).
 * While it makes the new file (Btmp.log with its header, synced), records
 * are appended to and flushed in the closing file as usual (a file made
 * from a spare: its old generation's bytes more than 16 KiB after its end
 * are zeroed first, 64 KiB at a time; an append that would reach the
 * piece being written waits for that write); from the
 * switch on (the closing file's last bytes in place and synced, the two
 * renames, the folder synced) they go to the new generation, and a flush
 * of one waits for the switch's end.  Another roll (a full file's, in
 * log_append) waits for this one and then rolls only if the file it found
 * full is still current. */
JET_ERR log_roll(eslog *lg);
/* The same, but log_take_rolled does not report it: the backup's cut-off,
 * which takes its own checkpoint (a commit that met it would take a
 * blocking one). */
JET_ERR log_roll_quiet(eslog *lg);
/* log_roll, unless another roll runs (then nothing: that roll closes the
 * current generation).  archive_timeout's roll, which holds the instance
 * lock: waiting for the backup's cut-off roll (which runs without it)
 * would make every commit wait for that roll. */
JET_ERR log_roll_unless_rolling(eslog *lg);
/* Position where the next record goes. */
lsn_t log_end(eslog *lg);
/* Everything before this is durable. */
lsn_t log_durable(eslog *lg);
uint32_t log_generation(eslog *lg);
const log_sig *log_signature(eslog *lg);
/* The table written into the headers of generations created from now on. */
JET_ERR log_set_attachments(eslog *lg, const log_attach *att, uint32_t natt);
/* Returns and clears "a roll happened since the last call". */
int log_take_rolled(eslog *lg);
/* fn(ud, g) is called by every log_roll that succeeds, after generation g
 * became B%08X.log (complete and synced), without the log's mutex but with
 * whatever lock the roller holds (the instance lock): fn must only take
 * locks of its own.  NULL removes it.  The archiver's hook (archive.h). */
void log_set_roll_hook(eslog *lg, void (*fn)(void *ud, uint32_t closed_gen), void *ud);
/* CLOCK_MONOTONIC µs of the first record appended to the current
 * generation (for a reopened B.log that holds records: the reopen), 0
 * while the generation holds none: archive_timeout's clock. */
uint64_t log_first_record_us(eslog *lg);

/* ---- reader ------------------------------------------------------------ */
typedef struct log_reader log_reader;

typedef struct log_record {
  lsn_t lsn;
  uint8_t type;
  const uint8_t *payload;  /* valid until the next log_reader_next */
  uint32_t len;
  uint32_t features;       /* LOG_FEATURE_* of the generation's file that holds it */
} log_record;

enum {
  LOG_READ_CURRENT = 1,   /* after the archived generations, read B.log */
  LOG_READ_RESTORE = 2,   /* errors as a hard restore names them (-570/-573) */
  LOG_READ_CLOSED = 4,    /* the last generation read is closed too (its LR_END required; a B.log read as
                           * current excepted): an image's generation has a successor, or a restore's
                           * replay reads only closed generations (hostile18r) */
};

/* Reads dir's generations from LSN_GEN(from) on, starting at from (or the
 * first record of the generation when LSN_OFF(from) == 0).  Checks every
 * header: the signature equals *sig when sig is not NULL (else
 * JET_errBadLogSignature), generations follow one another with matching
 * tm_prev_gen (else JET_errMissingPreviousLogFile, or with LOG_READ_RESTORE
 * JET_errGivenLogFileIsNotContiguous), the page size matches (else
 * JET_errPageSizeMismatch). */
JET_ERR log_reader_open(esio *io, const char *dir, const char *base, uint32_t page_size,
                        const log_sig *sig, lsn_t from, int flags, log_reader **out);
/* A reader over one finished generation's whole file, d (size bytes, as
 * decoded from a compressed log: zst.h), which it takes (freed by
 * log_reader_close, or here on failure).  Its header: the errors of
 * log_read_header; its records as an archived file's (flags: 0, or
 * LOG_READ_RESTORE for a hard restore's errors). */
JET_ERR log_reader_open_image(uint8_t *d, uint32_t size, int flags, log_reader **out);
/* 0 and *rec for each record, 1 at the end of the log.  An LR_END is
 * checked (its offset, the count of records before it, nothing valid
 * after it) and not returned; a generation with LOG_FEATURE_ENDMARK that
 * is closed (a later file read, LOG_READ_CLOSED, or a numbered file of
 * dir: every generation but B.log, the last one read too) must end in one,
 * else JET_errLogFileCorrupt (LOG_READ_RESTORE:
 * JET_errLogCorruptDuringHardRestore): bytes cut from the end of a closed
 * generation are never taken for a shorter generation.  A bad record in
 * B.log is replaced from a shadow slot or is a torn tail (the end) by the
 * rules above.  Any other bad record: JET_errLogFileCorrupt
 * (LOG_READ_RESTORE: JET_errLogCorruptDuringHardRestore). */
JET_ERR log_reader_next(log_reader *r, log_record *rec);
/* After an error of the end-record rule: what is wrong, naming the file
 * (else NULL). */
const char *log_reader_problem(const log_reader *r);
/* After the end: where the next record would go (the writer reopens here),
 * and the generation and header of the last file read. */
lsn_t log_reader_end(log_reader *r);
/* After the end: writes the blocks of B.log that the reader took from a
 * shadow slot (rule 1 above) back in place and syncs; nothing to do when
 * none was.  Recovery calls it before log_reopen. */
JET_ERR log_reader_write_back(log_reader *r);
const log_header *log_reader_header(log_reader *r);
void log_reader_close(log_reader *r);

/* Checks a whole log file (header and every record) for backup and
 * `ese check`: 0, JET_errLogFileCorrupt or JET_errLogReadVerifyFailure. */
JET_ERR log_verify_file(esio *io, const char *path, uint32_t page_size);
/* log_verify_image's `current` for a closed generation (a numbered file,
 * or one with a successor): with LOG_FEATURE_ENDMARK it must end in its
 * LR_END, else JET_errLogFileCorrupt (records that check and zeros after
 * them, but no end record: its tail is missing). */
#define LOG_VERIFY_CLOSED 2
/* The record checks of log_verify_file over a whole log image d of the
 * file h heads (current: 1 the generation being written, B.log;
 * LOG_VERIFY_CLOSED; 0 a finished file of another name):
 * JET_errLogReadVerifyFailure at the first fault.  *end_rec (when not
 * NULL): 1 when the file ends in its LR_END, 0 when it does not though its
 * header has LOG_FEATURE_ENDMARK, -1 otherwise (no bit, B.log). */
JET_ERR log_verify_image(uint8_t *d, const log_header *h, int current, int *end_rec);
/* log_verify_image's `current` for a file of that name (nl bytes, no
 * folder): 1 for a current log's name ("edb.log"), LOG_VERIFY_CLOSED for a
 * numbered generation's ("edb0000002A.log": only a roll names one, after
 * its LR_END; every reader holds such a file with LOG_FEATURE_ENDMARK to
 * it; *gen, when not NULL, its number), else 0. */
int log_verify_kind(const char *name, size_t nl, uint32_t *gen);
/* log_verify_file keeping the verified bytes: *image (free it) holds the
 * whole file, *size bytes; a backup streams exactly these bytes; *end_rec
 * (when not NULL) as log_verify_image's. */
JET_ERR log_load_verified(esio *io, const char *path, uint32_t page_size, uint8_t **image, uint32_t *size,
                          int *end_rec);

#endif
