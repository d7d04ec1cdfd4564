/*
 * dbheader.h -- the database header, on page 0 and again on page 1 (the
 * shadow).  Both are full pages with the common page header (page.h); the
 * fields follow at PAGE_HDR.  A header is written to page 0, synced, then
 * to page 1, synced: one of the two is always whole.  Reading takes page 0,
 * or page 1 when page 0 fails its checksum.
 *
 *   +0  char[8]  magic "ESEDB\0\0\3"     +8  u32 page size
 *   +12 u32 state (DB_*)                 +16 u8[16] database signature
 *   +32 u8[16] log signature             +48 u32 gen_min  +52 u32 gen_max
 *   +56 u64 created (µs)                 +64 backup records, 5 x 16 bytes:
 *       full, incremental, differential, copy, current: u32 gen_lo,
 *       u32 gen_hi, u64 time.  "current" is set only in a streamed copy: the
 *       log range a restore must replay (gen_hi 0 until the trailer page,
 *       the stream's last page, fixes it).
 *   +144 u64 backup_lsn: in a streamed copy, the checkpoint when the backup
 *       began, the log position from which a restore replays page changes
 *       (0 elsewhere).
 *   +152 u64 dbtime_last (page offset 184): no page of the database carries
 *       a higher dbtime.  Each commit gives every database it changes the
 *       next dbtime T and stamps the pages it changed with T (page.h).
 *       While attached the header holds a reservation (the dbtime in use
 *       plus up to DBTIME_RESERVE, renewed before it runs out), so that
 *       after a crash max(header, every T replayed) still bounds every page;
 *       a clean detach writes the exact last T.
 *   +160 u64 clean_lsn (format 4): where in the log of log_sig it was last
 *       made clean (the LSN of its LR_DETACH, a clean term's LR_DETACH, or
 *       the last record a recovery or restore replayed); 0: never, or
 *       not known (a format 3 file).
 *   +168 u64 clean_time: the time (µs) its LR_DETACH carries; 0 when a
 *       replay's end made it clean.
 *   +176 u64 attach_lsn: the LSN of the LR_ATTACH / LR_CREATEDB of its
 *       last attachment (0: not known).
 *   While clean, (log_sig, clean_lsn, clean_time, dbtime_last) is its
 *   *clean point*: attach logs it in LR_ATTACH, and a replay of that
 *   attach compares it with the file it has (JET_errConsistentTimeMismatch:
 *   an older copy, or another copy, of the file than the log attached).
 *
 * The last magic byte is the format version.  Format 3 (no clean point:
 * its bytes from +160 are zeros) is read, with clean_lsn and attach_lsn 0,
 * and written as format 4 at its first header write.  Format 1 and 2
 * (magic ending in 1 or 2: page offset 8 held an LSN, no dbtime_last; no
 * long values nor free list) and any other version is
 * JET_errInvalidDatabaseVersion, never read as a database.
 */
#ifndef ESE_DBHEADER_H
#define ESE_DBHEADER_H
#include <stdint.h>
#include "ese.h"
#include "os.h"

#define DB_FORMAT 4       /* written */
#define DB_FORMAT_MIN 3   /* the oldest read: format 3 lacks the clean point (read as 0) */
/* dbtimes a header reserves ahead of the one in use (see dbtime_last). */
#define DBTIME_RESERVE 4096u
/* The highest dbtime_last a header may hold: room to count on, never wraps.
 * A header above it is JET_errDatabaseCorrupted, read or written. */
#define DBTIME_MAX (UINT64_MAX >> 2)

enum { DB_CLEAN = 1, DB_DIRTY = 2, DB_BACKUP_COPY = 3, DB_RESTORING = 4 };
enum { BK_FULL = 0, BK_INCREMENTAL = 1, BK_DIFFERENTIAL = 2, BK_COPY = 3, BK_CURRENT = 4, BK_KINDS = 5 };

typedef struct bkrecord { uint32_t gen_lo, gen_hi; uint64_t time; } bkrecord;

typedef struct dbheader {
  uint32_t page_size;
  uint32_t state;
  uint8_t db_sig[16];
  uint8_t log_sig[16];
  uint32_t gen_min, gen_max;
  uint64_t created;
  bkrecord backup[BK_KINDS];
  uint64_t backup_lsn;
  uint64_t dbtime_last;
  uint64_t clean_lsn, clean_time, attach_lsn;   /* format 4 (above); 0 in format 3 */
  uint32_t version;      /* the format version read (DB_FORMAT_MIN..DB_FORMAT; written as DB_FORMAT) */
} dbheader;

/* A clean point (above): where and when a database was last made clean,
 * as its header says it, an LR_ATTACH carries it, or a replayed LR_DETACH
 * makes it.  lsn 0: not known (a format 3 header, an attachment logged
 * before LOG_FEATURE_DBPOINT), never compared. */
typedef struct dbpoint { uint8_t log_sig[16]; uint64_t lsn, time, dbtime; } dbpoint;
#define DBPOINT_SIZE 40u
void dbpoint_put(uint8_t *p, const dbpoint *pt);
void dbpoint_get(const uint8_t *p, dbpoint *pt);
/* The clean point of a header (meaningful when it is clean). */
dbpoint dbheader_point(const dbheader *h);

/* Encodes h into a sealed page image of page_size bytes at pgno 0 or 1. */
/* pgno is 0 or 1, or the trailer's page number in a streamed copy. */
void dbheader_encode(const dbheader *h, uint8_t *page, uint32_t pgno);
/* 0 and *h when page is a valid header page; JET_errDatabaseCorrupted
 * otherwise; JET_errInvalidDatabaseVersion when it is a whole header page
 * of another format version (*h then holds what the header says, with
 * h->version). */
JET_ERR dbheader_decode(const uint8_t *page, uint32_t page_size, uint32_t pgno, dbheader *h);
/* Reads the header of an open file; expect_page_size 0 accepts any.
 * JET_errDatabaseCorrupted when neither copy is a header,
 * JET_errInvalidDatabaseVersion when the header is of another format
 * version (checked before the page size; *h as dbheader_decode says),
 * JET_errPageSizeMismatch when the page size differs. */
JET_ERR dbheader_read(esfile *f, uint32_t expect_page_size, dbheader *h);
/* 1 when a header copy of the file starts like one (its magic and a legal
 * page size): the file claims to be a database, maybe a damaged one. */
int dbheader_claimed(esfile *f);
/* Writes both copies, each followed by a sync.  A dbtime_last above
 * DBTIME_MAX is JET_errDatabaseCorrupted before anything is written: the
 * file never holds a header that dbheader_read refuses (an attach or a
 * reservation past the limit fails instead). */
JET_ERR dbheader_write(esfile *f, const dbheader *h);
/* The dbtime rule of a file's pages (dbtime_last above): among pages
 * [first, first+cnt) in buf (page size ps), header pages aside, one that
 * carries a dbtime above bound is JET_errDatabaseCorrupted, detail (when
 * not NULL) naming name and the page: the header would hand that dbtime
 * out again.  `ese check`, ese.verify_pages and a restore's copy apply it. */
JET_ERR dbheader_check_dbtimes(const uint8_t *buf, uint32_t ps, uint32_t first, uint32_t cnt, uint64_t bound,
                               const char *name, char *detail, size_t cb);

#endif
