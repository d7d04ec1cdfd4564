/*
 * zst.h -- the files of a compressed backup set (NAME.zst): written and
 * read streaming, in bounded memory, with libzstd.
 *
 * Layout (docs/format.md, "Compressed files"); integers little-endian:
 *   frame A  a zstd frame with its content size and content checksum:
 *            bytes [0, size - tail) of the file
 *   frame B  a zstd frame, the same: the last `tail` bytes (a streamed
 *            database copy: its trailer page; a log: none, an empty frame)
 *   footer   a zstd skippable frame: u32 magic 0x184D2A5E, u32 32, then
 *            "EZST", u32 layout version 1, u64 size, u64 offset of frame B,
 *            u32 tail, u32 CRC32C of the 28 bytes before it
 * The footer makes the size and the tail readable without decoding frame
 * A (a restore checks a database's trailer before it writes anything);
 * plain `zstd -d` decodes the file into the original bytes.
 *
 * Invariants of the reader: every byte it hands out comes from a frame
 * whose layout the footer confirmed; frame A's end (its checksum, no byte
 * more than its content size) is checked before the first byte of the
 * tail is handed out; frame B is decoded and checked at open.  Any fault
 * is JET_errReadVerifyFailure with a sentence in the reader's detail (the
 * callers name a log's fault with their log error).  Memory: one input
 * buffer (ZSTD_DStreamInSize), the tail (at most ZST_TAIL_MAX), and a
 * decoder whose window is at most 2^ZST_WINDOW_LOG_MAX bytes (a file that
 * needs more is refused as damaged).
 */
#ifndef ESE_ZST_H
#define ESE_ZST_H
#include <stddef.h>
#include <stdint.h>
#include "ese.h"
#include "os.h"
#include "dbheader.h"
#include "log.h"

#define ZST_SUFFIX ".zst"
#define ZST_FOOTER 40u              /* bytes of the footer frame */
#define ZST_TAIL_MAX 65536u         /* frame B holds at most this */
#define ZST_WINDOW_LOG_MAX 24       /* 16 MiB: what levels 1..19 use at most */
#define ZST_LEVEL_MIN 1
#define ZST_LEVEL_MAX 19
#define ZST_LEVEL_DEFAULT 1
/* Pieces an asynchronous writer holds at most (queued or being
 * compressed): a backup's chunks in flight per file. */
#define ZST_ASYNC_DEPTH 3

/* 1 when the name ends in ".zst" (then *stem_len is the length before it). */
int zst_name(const char *name, size_t *stem_len);

/* ---- writer ------------------------------------------------------------ */

typedef struct zst_writer zst_writer;
/* Receives each piece of the compressed file, in order. */
typedef JET_ERR (*zst_emit)(void *ud, const void *p, size_t n);

/* A writer for a file of exactly size bytes whose last tail bytes go to
 * frame B; level ZST_LEVEL_MIN..ZST_LEVEL_MAX.  JET_errInvalidParameter
 * for a level out of range or a tail above size or ZST_TAIL_MAX.  It
 * compresses on the caller's thread (zst_async: on a thread of its own).
 * size ZST_STREAM (tail 0): a plain zstd stream of any length instead, one
 * frame without content size, frame B or footer (backup.run_to's
 * compressed archive), which a worker thread of libzstd compresses while
 * the caller goes on (zst_write returns what is ready). */
#define ZST_STREAM UINT64_MAX
JET_ERR zst_writer_new(int level, uint64_t size, uint32_t tail, zst_writer **out);
/* Compresses n more bytes; more than size in all: JET_errInvalidParameter
 * (nothing of them is taken). */
JET_ERR zst_write(zst_writer *w, const void *p, size_t n, zst_emit emit, void *ud);
/* Ends frame A, writes frame B and the footer.  Fewer than size bytes
 * written: JET_errInvalidParameter.  The writer is spent afterwards. */
JET_ERR zst_finish(zst_writer *w, zst_emit emit, void *ud);
/* Compressed bytes emitted so far. */
uint64_t zst_written(const zst_writer *w);
void zst_writer_free(zst_writer *w);

/* ---- asynchronous writer ------------------------------------------------ */

/* A file writer (as zst_writer_new; not ZST_STREAM) whose compression
 * runs on a thread of its own, so that the caller reads and hashes the
 * next chunk, or the next file, meanwhile (a backup set's files:
 * lua_zstd.c, backup_run.lua's zstd_out).  The caller queues pieces of the
 * original (zst_async_put) and takes the compressed bytes made so far
 * (zst_async_take); the thread compresses the pieces in order and, once
 * size bytes came, ends frame A and writes frame B and the footer by
 * itself.
 *
 * Invariants: the thread reads a queued piece's bytes where the caller
 * left them (no copy): they must stay valid and unchanged until
 * zst_async_consumed counts the piece; at most ZST_ASYNC_DEPTH pieces
 * are queued or being compressed; the compressed bytes not taken are at
 * most those of the pieces consumed since the last take and of the end
 * (so memory is bounded by the pieces' sizes).  No lock is held when a
 * call returns.  The thread blocks every signal. */
typedef struct zst_async zst_async;
/* Starts the thread.  Errors of zst_writer_new (ZST_STREAM:
 * JET_errInvalidParameter); no thread: JET_errOutOfMemory. */
JET_ERR zst_async_new(int level, uint64_t size, uint32_t tail, zst_async **out);
/* Queues the n bytes at p (n 0: nothing), waiting while ZST_ASYNC_DEPTH
 * pieces are queued.  More than size in all: JET_errInvalidParameter
 * (nothing queued); the thread failed (libzstd, memory): its error,
 * JET_errOutOfMemory. */
JET_ERR zst_async_put(zst_async *a, const void *p, size_t n);
/* The pieces the thread is done with (their memory may be reused),
 * counted from the first zst_async_put that queued one. */
uint64_t zst_async_consumed(zst_async *a);
/* The compressed bytes made so far, in *p and *n (valid until the next
 * take or zst_async_free; none: *n 0), without waiting; wait: after
 * waiting until the file is complete (fewer than size bytes queued:
 * JET_errInvalidParameter).  *complete 1 when the file was complete and
 * these are its last bytes.  The thread's failure: its error. */
JET_ERR zst_async_take(zst_async *a, int wait, const uint8_t **p, size_t *n, int *complete);
/* Compressed bytes handed out so far. */
uint64_t zst_async_written(const zst_async *a);
/* Stops the thread (after the step it is in: at most 128 KiB of input)
 * and frees everything; the pieces' memory is not touched afterwards. */
void zst_async_free(zst_async *a);

/* ---- reader ------------------------------------------------------------ */

typedef struct zst_reader zst_reader;

/* 1 when the open file starts with a zstd frame's magic (it claims to be
 * a compressed file, maybe a damaged one). */
int zst_claimed(esfile *f);
/* Opens path and checks its layout (footer, both frame headers, frame B
 * whole).  Errors of os_open as they are; a damaged file:
 * JET_errReadVerifyFailure, detail (cap bytes) saying what is wrong. */
JET_ERR zst_open(esio *io, const char *path, zst_reader **out, char *detail, size_t cap);
/* zst_open of the open file f, which the reader takes (zst_close closes
 * it; on failure it is closed here). */
JET_ERR zst_adopt(esfile *f, zst_reader **out, char *detail, size_t cap);
/* Back to the original's first byte (the layout is not checked again);
 * not with read-ahead. */
void zst_rewind(zst_reader *z);
uint64_t zst_size(const zst_reader *z);          /* bytes of the original file */
uint64_t zst_stored_size(const zst_reader *z);   /* bytes of the .zst file */
uint32_t zst_tail_size(const zst_reader *z);
const uint8_t *zst_tail(const zst_reader *z);    /* the last tail bytes (decoded at open) */
/* The next bytes of the original file, from the start: *got < n only at
 * its end.  Damage: JET_errReadVerifyFailure (zst_detail says what). */
JET_ERR zst_read(zst_reader *z, void *buf, size_t n, size_t *got);
/* Exactly n bytes or JET_errReadVerifyFailure. */
JET_ERR zst_read_full(zst_reader *z, void *buf, size_t n);
const char *zst_detail(const zst_reader *z);
/* zst_open, with a thread that decodes the next chunk bytes of the
 * original while the caller uses the last (two buffers of chunk bytes):
 * read it with zst_next only.  A file of one chunk gets no thread
 * (nothing to decode ahead): zst_next decodes it on the caller's thread,
 * into one buffer. */
JET_ERR zst_open_ahead(esio *io, const char *path, size_t chunk, zst_reader **out, char *detail, size_t cap);
/* The next piece of the original, at most chunk bytes (fewer only at its
 * end; *n 0 at the end): *p is valid until the next zst_next or
 * zst_close.  A fault: its error (zst_detail says what; read it after
 * the error is returned). */
JET_ERR zst_next(zst_reader *z, const uint8_t **p, size_t *n);
void zst_close(zst_reader *z);

/* The header of a compressed log, read from the start of z (a fresh
 * reader): the errors of log_read_header, JET_errReadVerifyFailure for a
 * damaged container. */
JET_ERR zst_log_header(zst_reader *z, log_header *h);
/* The whole original of a compressed log, read from its start again
 * (zst_rewind: not with read-ahead): *d (malloc'd, the caller frees it)
 * holds zst_size bytes, *n; the records are not checked (log_verify_image
 * does).  JET_errReadVerifyFailure for a damaged container (zst_detail),
 * JET_errLogFileCorrupt for an original larger than any log. */
JET_ERR zst_log_image(zst_reader *z, uint8_t **d, uint32_t *n);
/* The header of a compressed database, read from the start of z (the
 * first two pages at the largest page size): the errors of dbheader_read,
 * JET_errReadVerifyFailure for a damaged container.  A streamed copy's
 * trailer is zst_tail (backup_trailer_check). */
JET_ERR zst_db_header(zst_reader *z, dbheader *h);

#endif
