/*
 * log_format.h -- what the log writer (log.c), the reader (log_reader.c)
 * and the shared format code (log_format.c) have in common: record
 * framing, header encoding, record checks, and the record types every
 * writer and reader of records shares (LR_*).
 */
#ifndef ESE_LOG_FORMAT_H
#define ESE_LOG_FORMAT_H
#include <stddef.h>
#include <stdint.h>
#include "log.h"
#include "le.h"

#define ESE_MAX_DB 32          /* databases attached to one instance at once: ids 1..32 */

/* Log record types (the one list; docs/format.md has each one's bytes).
 * An attachment entry is log.h's (u32 dbid, u8[16]
 * database signature, u16 + u16 path lengths, absolute and relative path). */
enum {
  /* 1: log format 3's whole page image; never written since format 4, a
   * record of type 1 is a damaged log */
  LR_COMMIT = 2,     /* u64 txid, u32 page count, u32 m, m x (u32 dbid, u64 dbtime T),
                        u64 time (µs since the epoch, the writer's clock at commit):
                        applies the txid's pages, each database's sealed with its T */
  /* 3, 4: format 1's LR_CREATEDB / LR_ATTACH, never written since; a
   * record of either type is a damaged log */
  LR_DETACH = 5,     /* u32 dbid; LOG_FEATURE_DBPOINT: u64 time (µs), u64 dbtime (the exact
                        last dbtime): with its own LSN, the clean point it gives the file */
  LR_PAGEDIFF = 6,   /* u32 dbid, u32 pgno, u64 txid, u64 base dbtime, runs (page_diff):
                        the page's change from its base */
  LR_INIT = 7,       /* u64 time (µs): a run of the instance starts; every
                        attachment before this record has ended */
  LR_CREATEDB = 8,   /* u32 page size, attachment entry */
  LR_ATTACH = 9,     /* attachment entry; LOG_FEATURE_DBPOINT: the clean point its header had
                        (dbheader.h: u8[16] log signature, u64 clean_lsn, u64 clean_time,
                        u64 dbtime_last; DBPOINT_SIZE bytes) */
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
  LR_UNLINK = 15,    /* a branch; slot i; u8 mode, u32 child, u16 klen, key (slot i's): the
                        emptied child taken out (mode 0: slot i's cell; 1: left, which
                        becomes slot 0's child) */
  LR_FREEPAGE = 16,  /* slot 0; u8 type, u32 left: the empty page marked free (bytes 16.. zero) */
  LR_END = 17,       /* LOG_FEATURE_ENDMARK: u32 its own offset, u32 the number of records before it
                        in the file; a roll's last record of the closing generation */
};
#define LR_END_LEN 8u
#define LR_END_FRAMED 24u     /* rec_framed(LR_END_LEN) */
#define LR_OP_HDR 24

#define LOG_BUF_DEFAULT (1u << 20)
#define REC_OVERHEAD 12u      /* u32 len, u8 type, u8[3] zero, ..., u32 crc */
#define REC_MIN 16u           /* the smallest framed record (1-byte payload) */

/* little-endian fields: le.h's codec under the log's names */
static inline uint16_t ld16(const uint8_t *p) { return get16(p); }
static inline uint32_t ld32(const uint8_t *p) { return get32(p); }
static inline uint64_t ld64(const uint8_t *p) { return get64(p); }
static inline void st16(uint8_t *p, uint16_t v) { put16(p, v); }
static inline void st32(uint8_t *p, uint32_t v) { put32(p, v); }
static inline void st64(uint8_t *p, uint64_t v) { put64(p, v); }

/* Framed size of a record of len payload bytes (computed in 64 bits). */
static inline uint64_t rec_framed(uint64_t len) { return (REC_OVERHEAD + len + 7u) & ~(uint64_t)7u; }

extern const uint8_t log_magic[8];

/* The CRC seed of the records of generation gen of the stream sig in a
 * file with the header's features: with LOG_FEATURE_SEEDED the CRC32C (seed
 * gen) of the 16 signature bytes, else gen.  The signature is random and
 * in no record, so that bytes an application wrote into an older
 * generation (a recycled file's, log.h log_retire) cannot be made to check
 * as a record of a later one. */
uint32_t log_seed(uint32_t gen, const log_sig *sig, uint32_t features);
/* log_seed of the file a header heads. */
uint32_t log_hdr_seed(const log_header *h);
uint32_t log_rec_crc(uint32_t seed, uint8_t type, const void *p1, size_t n1, const void *p2, size_t n2);
JET_ERR log_attach_copy(const log_attach *src, uint32_t n, log_attach **out);
/* Encodes a LOG_HDR_SIZE header into b (JET_errInvalidParameter when the
 * attach table does not fit); decodes and checks one. */
JET_ERR log_hdr_encode(uint8_t *b, uint32_t gen, uint32_t page_size, uint32_t file_size, const log_sig *sig,
                       uint64_t tm_create, uint64_t tm_prev, const log_attach *att, uint32_t natt);
JET_ERR log_hdr_decode(const uint8_t *b, log_header *h);
/* The framed size of a valid record at pos of a file image, 0 when none. */
uint32_t log_rec_check(const uint8_t *d, uint32_t fsize, uint32_t pos, uint32_t seed);
/* Encodes into p[LR_END_FRAMED] the LR_END of a file of seed `seed` at pos
 * with count records before it. */
void log_end_encode(uint8_t *p, uint32_t seed, uint32_t pos, uint32_t count);
/* Closes the image d of a generation (header h, its data followed by
 * zeros) as a roll would: its LR_END put after its last record (at *at).
 * 1 when put, 0 when none is needed (no LOG_FEATURE_ENDMARK, or it ends
 * in one already), -1 when there is no room for it. */
int log_close_image(uint8_t *d, const log_header *h, uint32_t *at);
/* Where the records of a finished generation's image d end (the archived
 * reader's walk: valid records and padding from LOG_DATA_START), in
 * *count (when not NULL) how many there are, in *last (when not NULL)
 * where the last one starts (UINT32_MAX: none). */
uint32_t log_data_end(const uint8_t *d, uint32_t fsize, uint32_t seed, uint32_t *count, uint32_t *last);
/* 1 when a valid LR_END of a file of seed `seed` is at pos with count
 * records before it. */
int log_end_check(const uint8_t *d, uint32_t fsize, uint32_t pos, uint32_t seed, uint32_t count);
/* Is there a valid record at any 8-aligned offset after pos? */
int log_valid_after(const uint8_t *d, uint32_t fsize, uint32_t pos, uint32_t seed);
/* Reads a whole file of size bytes into *buf (grown as needed). */
JET_ERR log_load_file(esio *io, const char *path, uint32_t size, uint8_t **buf, size_t *cap);
int log_all_zero(const uint8_t *p, size_t n);

/* The padding of log.h: pos itself, or the next block when pos is in the
 * last LOG_SLOT_HEAD bytes of a block and zeros run to the block's end. */
uint32_t log_skip_pad(const uint8_t *d, uint32_t fsize, uint32_t pos);

/* A shadow slot (log.h).  seq 0: none (or not valid). */
typedef struct log_slot {
  uint64_t seq;
  uint32_t q, s, e;
  const uint8_t *block;   /* e % LOG_BLOCK bytes of block q, then zeros */
} log_slot;
/* Encodes a slot into p[LOG_BLOCK]: block holds the bytes [q*LOG_BLOCK, e)
 * (e % LOG_BLOCK <= LOG_BLOCK - LOG_SLOT_HEAD). */
void log_slot_encode(uint8_t *p, uint32_t gen, uint64_t seq, uint32_t s, uint32_t e, const uint8_t *block);
/* 1 when p[LOG_BLOCK] is a valid slot of generation gen in a file of fsize
 * bytes (*sl filled, block pointing into p). */
int log_slot_decode(const uint8_t *p, uint32_t gen, uint32_t fsize, log_slot *sl);

/* Walks the records of B.log's image d from pos by the rules of log.h,
 * putting slot blocks in place in d (rule 1); w->end: where the log ends
 * (rule 2), or the bad record of JET_errLogFileCorrupt (rule 3); w->sub:
 * the offsets of the blocks taken from slots. */
typedef struct log_walk {
  uint32_t end;
  uint32_t nsub, sub[2];
} log_walk;
JET_ERR log_walk_current(uint8_t *d, uint32_t fsize, uint32_t gen, uint32_t seed, uint32_t pos, log_walk *w);

/* The log files of a folder: archived generations sorted, and B.log; the
 * base name matched exactly. */
typedef struct scan_ent { uint32_t gen; int canon; char *name; } scan_ent;
typedef struct scan_res {
  const char *base;
  scan_ent *v;
  size_t n, cap;
  char *cur;      /* name of B.log as found, or NULL */
  int cur_canon;
} scan_res;
JET_ERR log_scan_run(const char *dir, const char *base, scan_res *s);
void log_scan_free(scan_res *s);

#endif
