/*
 * dw.h -- the double-write ring (B.dwb): torn database page writes are
 * repaired from copies written and synced before the pages are written in
 * place, so the log never needs whole page images for this.
 *
 * Used by the engine: every in-place page write of a pager goes through
 * the instance's ring (pager.h, database.c), soft recovery repairs from it
 * (recovery.c, redo.c's open_db) and writes its replay cache back through
 * it (redo.c's write_back), a restore removes it (restore.c);
 * docs/format.md, "Double-write ring".
 *
 * File (base name B, in the system path): B.dwb, exactly
 * DW_HDR_SIZE + ring_size bytes, created zero-filled at its full size (made
 * under the name Btmp.dwb, synced, renamed, folder synced), never grown.
 * All integers little-endian.
 *
 * Header, two 2048-byte slots at offsets 0 and 2048 (ping-pong: dw_discard
 * rewrites the older slot, so a torn header write leaves the other one):
 *   0 u32 CRC32C of bytes 4..2048 of the slot, 4 char[8] magic "ESEDWB\0\0",
 *   12 u32 format version (1), 16 u32 page size, 20 u32 zero,
 *   24 u64 ring_size, 32 u8[16] log signature, 48 u8[16] ring id (random,
 *   made at create), 64 u64 slot generation (the valid slot with the higher
 *   one is current), 72 u64 floor: batches with seq < floor are dead,
 *   80..2048 zero.
 *
 * Ring: bytes [DW_HDR_SIZE, DW_HDR_SIZE + ring_size) of the file; offsets
 * below are ring offsets (file offset - DW_HDR_SIZE).  A batch is one
 * contiguous write at a multiple of 4096:
 *   [descriptor, DW_DESC_SIZE bytes][count page images, page size each]
 * placed right after the previous batch, or at ring offset 0 when it does
 * not fit before the ring's end (the tail is left as it is).
 *
 * Descriptor:
 *   0 u32 CRC32C of bytes 4..4096, 4 char[8] magic "ESEDWD\0\1",
 *   12 u32 count (1..DW_MAX_IMAGES), 16 u64 seq (1, 2, ... per ring),
 *   24 u64 the descriptor's own ring offset, 32 u8[16] ring id,
 *   48 u32 nsig (1..DW_MAX_SIGS), 52 u32 zero,
 *   56 the signature table: DW_MAX_SIGS x u8[16] (entries past nsig zero),
 *   568 count entries of 20 bytes: u32 pgno, u32 checksum (the image's own
 *       page checksum, its bytes 0..4), u64 dbtime, u8 signature index,
 *       u8[3] zero.
 * Image i lies at descriptor + DW_DESC_SIZE + i * page size.
 *
 * An image is valid when its descriptor is (CRC, magic, ring id, own
 * offset, seq >= floor, sizes in range) and the image itself verifies
 * (page_verify: checksum and pgno) with the checksum its entry names.  The
 * entry's checksum tells a torn batch's new image from an old lap's image
 * left in the same place, which verifies too.
 *
 * Invariants the caller keeps (they make every valid image a state the
 * database may be repaired to):
 *   W1 the log is durable up to the newest change of every page before its
 *      image goes to dw_write (WAL, as for any page write);
 *   W2 a page is written in place only after the dw_write that holds its
 *      image returned (the batch is synced): so a torn in-place page always
 *      has an intact copy in the ring;
 *   W3 a ring segment is overwritten only when the in-place writes of the
 *      batches in it are durable: dw_write calls the sync_data hook first
 *      when they may not be (tracked as synced_seq, see dw_note_synced);
 *   W4 a database written other than through the ring (restore) makes the
 *      ring dead first (dw_discard), so no stale image can move a page
 *      forward into another history.
 * Pages carry their dbtime at page offset DW_PAGE_DBTIME_OFF (u64): the
 * in-place page's dbtime is read there.
 *
 * Threads: one dw is used by one thread at a time (asserted: a concurrent
 * call aborts).  The engine's pagers serialise their batches with the
 * ring's writers' lock (dw_mutex), held across a batch's dw_write and the
 * in-place writes of its pages: so when dw_write runs, the in-place writes
 * of every earlier batch were issued, and the sync_data hook makes them
 * durable (W3).  A checkpoint's batch is written with that lock alone (no
 * instance lock: checkpoint.c); every other dw call is made with the
 * instance lock held while no such batch is in flight.  The sync_data hook
 * runs inside dw_write and must not call into the ring nor take the
 * instance lock.
 */
#ifndef ESE_DW_H
#define ESE_DW_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "ese.h"
#include "os.h"

#define DW_HDR_SIZE 4096u
#define DW_DESC_SIZE 4096u
#define DW_MAX_SIGS 32u
#define DW_MAX_IMAGES 176u                  /* (4096 - 568) / 20 */
#define DW_DEFAULT_SIZE (16u * 1024u * 1024u)
#define DW_PAGE_DBTIME_OFF 8
#define DW_VERSION 1u

typedef struct dw dw;

typedef struct dw_config {
  esio *io;
  const char *dir, *base;     /* the file is dir/base.dwb */
  uint32_t page_size;
  uint64_t ring_size;         /* dw_create: a multiple of 4096, at least
                               * dw_min_ring_size(page_size, batch_max);
                               * dw_open takes the header's */
  uint32_t batch_max;         /* images per batch: 1..DW_MAX_IMAGES, 0 for
                               * DW_MAX_IMAGES (dw_open lowers it to what
                               * the file's ring holds twice) */
  const uint8_t *log_sig;     /* 16 bytes: the instance's log stream */
  /* Makes every in-place page write issued so far durable (fdatasync of
   * every database file).  Called by dw_write before it overwrites a
   * batch whose in-place writes may not be durable. */
  JET_ERR (*sync_data)(void *ud);
  void *ud;
} dw_config;

/* One page for a batch.  page is sealed (page_verify passes for pgno) and
 * carries dbtime at DW_PAGE_DBTIME_OFF. */
typedef struct dw_image {
  const uint8_t *sig;         /* 16 bytes: the database's signature */
  uint32_t pgno;
  uint64_t dbtime;
  const uint8_t *page;
} dw_image;

/* Bytes of ring two batches of batch_max images need. */
uint64_t dw_min_ring_size(uint32_t page_size, uint32_t batch_max);
/* "dir/base.dwb" as a new string, NULL on OOM. */
char *dw_file_name(const char *dir, const char *base);

/* States (asserted):  dw_create -> READY;  dw_open -> RECOVERING (dw_write
 * allowed too: recovery writes, see dw_may_write);
 * RECOVERING --dw_discard--> READY;  READY --dw_discard--> READY;
 * a failed ring write or sync in any state -> FAILED (sticky: every later
 * call returns that error; only dw_close is left). */
enum { DW_RECOVERING = 1, DW_READY = 2, DW_FAILED = 3 };
int dw_state(const dw *d);

/* Makes a new ring file.  B.dwb present: JET_errFileAlreadyExists, the file
 * untouched.  A ring_size that is not a multiple of 4096 or below
 * dw_min_ring_size, a bad page size or batch_max: JET_errInvalidParameter,
 * nothing made.  On an error no B.dwb is left. */
JET_ERR dw_create(const dw_config *cfg, dw **out);

/* Opens an existing ring and collects what recovery may use (state
 * RECOVERING).  Writes nothing; on a refusal the file is untouched:
 *   no B.dwb                          JET_errFileNotFound
 *   neither slot has the magic        JET_errFileInvalidType
 *   format version other than 1       JET_errFileInvalidType
 *   no slot passes its CRC, the slots
 *   disagree, or the file size is not
 *   DW_HDR_SIZE + ring_size           JET_errReadVerifyFailure
 *   page size differs                 JET_errPageSizeMismatch
 *   log signature differs             JET_errBadLogSignature
 * *why (when not NULL) gets a constant sentence naming the reason. */
JET_ERR dw_open(const dw_config *cfg, dw **out, const char **why);

/* Flushes nothing (every write is synced when it returns), closes, frees. */
void dw_close(dw *d);

/* ---- writing (READY, or RECOVERING for recovery's own writes) ------------
 * While RECOVERING, batches are numbered from the newest seq dw_open found
 * + 1 (so a later dw_open prefers them) and go after the newest batch, or
 * further on (wrapping) past every batch holding a table image of a
 * database dw_repair_file has not repaired yet: an image a database not
 * yet opened may need is never overwritten.
 * Overwriting table batches calls sync_data first (W3: the pages found
 * whole in place may not be durable yet); their entries then die
 * (dw_find and the repairs no longer see them). */

/* 1 when dw_write of n images would be accepted now (READY: n in range;
 * RECOVERING: also a place by the rule above exists); 0 and the caller
 * writes in place directly, as without a ring. */
int dw_may_write(dw *d, size_t n);
/* Exchanges the sync_data hook and its ud with *fn, *ud (soft recovery's
 * replay puts its own in while it writes and the instance's back). */
void dw_swap_sync_data(dw *d, JET_ERR (**fn)(void *), void **ud);

/* Writes images v[0..n) (1 <= n <= dw_batch_max, distinct (sig, pgno),
 * at most DW_MAX_SIGS signatures) as one batch and fdatasyncs B.dwb; calls
 * sync_data first when the batch would overwrite a batch whose seq is
 * above synced_seq.  Returns with *seq the batch's number; the caller may
 * now write the pages in place (W2).  A hook error is returned with
 * nothing written; a write or sync error makes the ring FAILED; a batch
 * dw_may_write refuses is JET_errInvalidParameter, nothing written. */
JET_ERR dw_write(dw *d, const dw_image *v, size_t n, uint64_t *seq);
/* The caller made every database durable (a checkpoint's fdatasync, the
 * sync_data hook's work done by itself): every batch written so far has
 * its in-place writes durable. */
void dw_note_synced(dw *d);
/* The same for the batches up to seq (a dw_last_seq read before the
 * caller's syncs began: batches written since may not be durable). */
void dw_note_synced_to(dw *d, uint64_t seq);
/* The ring's writers' lock (see Threads above). */
pthread_mutex_t *dw_mutex(dw *d);
uint64_t dw_last_seq(const dw *d);     /* of the newest batch, 0 if none */
uint64_t dw_synced_seq(const dw *d);   /* batches <= it are durable in place */
uint32_t dw_batch_max(const dw *d);
uint64_t dw_ring_size(const dw *d);

/* Makes every batch written so far dead (header floor = next seq, written
 * to the older header slot and synced) and starts the ring over at offset
 * 0.  The caller has made every database durable first (RECOVERING: after
 * the repairs, W4: before a restore writes).  RECOVERING or READY ->
 * READY; the recovery table is freed. */
JET_ERR dw_discard(dw *d);

/* ---- recovery (RECOVERING) ---------------------------------------------
 * The table holds, per (database signature, pgno), the valid image of the
 * newest seq (dbtime breaks a tie).  A signature no database has is never
 * asked for and so ignored. */
size_t dw_entries(const dw *d);
/* 1 and the image's seq and dbtime when the table has (sig, pgno). */
int dw_find(const dw *d, const uint8_t *sig, uint32_t pgno, uint64_t *seq, uint64_t *dbtime);
/* page holds the page as read in place (all zeros past the end of the
 * file).  When the table has (sig, pgno) and page is damaged (page_verify:
 * a bad checksum or number; a page that verifies is left alone whatever
 * its dbtime, and so is an all-zero one: the log brings either forward,
 * and a ring of another history must not), page
 * becomes the image (read again and
 * verified: a ring that changed meanwhile is JET_errReadVerifyFailure) and
 * *repaired = 1; else page is left as it is and *repaired = 0. */
JET_ERR dw_repair_page(dw *d, const uint8_t *sig, uint32_t pgno, uint8_t *page, int *repaired);
/* dw_repair_page for every entry of sig over the database file db (page n
 * at n * page size): reads each page, writes the repaired ones in place and
 * then fdatasyncs db when any was; *repaired (may be NULL) counts them.  A
 * page the file ends inside (a write that extended it, torn) that verifies
 * as read, zeros past the end (its lost part was zeros), counts as repaired
 * too: written whole, so the file ends on a page boundary again. */
JET_ERR dw_repair_file(dw *d, const uint8_t *sig, esfile *db, uint32_t *repaired);
/* Soft recovery's replay has opened every database it will (its end,
 * before its last write-back): the images of databases it never repaired
 * are needed by no one (a database detached before the checkpoint was
 * durable then, and the ring is discarded when recovery ends), so they no
 * longer hold ring space (no-op unless RECOVERING).  Without this, a ring
 * full of such batches sent replay's write-back in place unprotected. */
void dw_repairs_done(dw *d);

#endif
