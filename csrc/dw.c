/* dw.c -- the double-write ring (format and invariants in dw.h). */
#include "dw.h"
#include "crc32c.h"
#include "page.h"
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_SIZE 2048u
#define DESC_SIGS 56u
#define DESC_ENTRIES (DESC_SIGS + DW_MAX_SIGS * 16u)   /* 568 */
#define ENTRY_SIZE 20u
#define ALIGN 4096u
#define ZERO_CHUNK (1u << 20)

static const uint8_t HDR_MAGIC[8] = { 'E', 'S', 'E', 'D', 'W', 'B', 0, 0 };
static const uint8_t DESC_MAGIC[8] = { 'E', 'S', 'E', 'D', 'W', 'D', 0, 1 };

/* A batch in the ring whose bytes are still there (dw_write's overlap
 * check): [off, off + len). */
typedef struct live { uint64_t seq, off, len; } live;

/* A recovery table entry: the image at file offset img of batch seq,
 * whose batch lies at ring offset boff, blen bytes.  done: its database
 * was repaired (dw_repair_file); dead: its batch was overwritten by a
 * recovery write (only ever an entry that is done). */
typedef struct entry {
  uint8_t sig[16];
  uint32_t pgno, checksum;
  uint64_t seq, dbtime, img, boff, blen;
  int done, dead;
} entry;

struct dw {
  esio *io;
  esfile *f;
  int state;                 /* DW_* */
  JET_ERR err;               /* FAILED: the sticky error */
  atomic_int busy;           /* a call is running (one caller at a time) */
  /* the ring's writers' lock (dw_mutex, dw.h): held by a pager across a
   * batch's ring write and its in-place writes */
  pthread_mutex_t hold;
  uint32_t psz, batch_max;
  uint64_t ring_size;
  uint8_t log_sig[16], ring_id[16];
  uint64_t slot_gen[2];      /* generations of the two header slots */
  int cur_slot;              /* the slot holding the current header */
  uint64_t floor;            /* batches with seq < floor are dead */
  uint64_t next_seq, last_seq, synced_seq;
  uint64_t pos;              /* ring offset of the next batch */
  JET_ERR (*sync_data)(void *ud);
  void *ud;
  uint8_t *buf;              /* one batch: DW_DESC_SIZE + batch_max pages */
  live *lv;                  /* batches still in the ring, at most nlv_cap */
  size_t nlv, nlv_cap;
  entry *tab;                /* RECOVERING: sorted by (sig, pgno), unique */
  size_t ntab;
};

/* ---- one caller at a time ------------------------------------------------ */

static void enter(dw *d) {
  int was = atomic_exchange(&d->busy, 1);
  assert(!was && "dw: concurrent calls (the caller must hold the instance lock)");
  (void)was;
}
static void leave(dw *d) { atomic_store(&d->busy, 0); }

/* ---- geometry ------------------------------------------------------------ */

static uint64_t batch_bytes(uint32_t psz, uint32_t n) { return DW_DESC_SIZE + (uint64_t)n * psz; }

uint64_t dw_min_ring_size(uint32_t page_size, uint32_t batch_max) {
  return 2 * batch_bytes(page_size, batch_max ? batch_max : DW_MAX_IMAGES);
}

char *dw_file_name(const char *dir, const char *base) {
  size_t n = strlen(base);
  char *name = malloc(n + 5);
  if (!name) return NULL;
  memcpy(name, base, n);
  memcpy(name + n, ".dwb", 5);
  char *p = os_join(dir, name);
  free(name);
  return p;
}

static char *tmp_name(const char *dir, const char *base) {
  size_t n = strlen(base);
  char *b = malloc(n + 4);
  if (!b) return NULL;
  memcpy(b, base, n);
  memcpy(b + n, "tmp", 4);
  char *p = dw_file_name(dir, b);
  free(b);
  return p;
}

int dw_state(const dw *d) { return d->state; }
uint64_t dw_last_seq(const dw *d) { return d->last_seq; }
uint64_t dw_synced_seq(const dw *d) { return d->synced_seq; }
uint32_t dw_batch_max(const dw *d) { return d->batch_max; }
pthread_mutex_t *dw_mutex(dw *d) { return &d->hold; }
uint64_t dw_ring_size(const dw *d) { return d->ring_size; }
size_t dw_entries(const dw *d) { return d->ntab; }

/* ---- header slots -------------------------------------------------------- */

static void slot_put(const dw *d, uint8_t *s, uint64_t gen) {
  memset(s, 0, SLOT_SIZE);
  memcpy(s + 4, HDR_MAGIC, 8);
  put32(s + 12, DW_VERSION);
  put32(s + 16, d->psz);
  put64(s + 24, d->ring_size);
  memcpy(s + 32, d->log_sig, 16);
  memcpy(s + 48, d->ring_id, 16);
  put64(s + 64, gen);
  put64(s + 72, d->floor);
  put32(s, crc32c(0, s + 4, SLOT_SIZE - 4));
}

enum { SLOT_OK, SLOT_NO_MAGIC, SLOT_BAD_CRC };
static int slot_check(const uint8_t *s) {
  if (memcmp(s + 4, HDR_MAGIC, 8)) return SLOT_NO_MAGIC;
  return get32(s) == crc32c(0, s + 4, SLOT_SIZE - 4) ? SLOT_OK : SLOT_BAD_CRC;
}
/* Two valid slots describe the same ring. */
static int slots_agree(const uint8_t *a, const uint8_t *b) {
  return !memcmp(a + 12, b + 12, 64 - 12);   /* version .. ring id */
}

/* ---- life cycle ---------------------------------------------------------- */

static void dw_free(dw *d) {
  if (!d) return;
  if (d->f) os_close(d->f);
  pthread_mutex_destroy(&d->hold);
  free(d->buf);
  free(d->lv);
  free(d->tab);
  free(d);
}

void dw_close(dw *d) {
  if (!d) return;
  enter(d);
  dw_free(d);
}

static JET_ERR config_ok(const dw_config *cfg) {
  if (!cfg->io || !cfg->dir || !cfg->base || !cfg->log_sig || !page_size_valid(cfg->page_size) ||
      cfg->batch_max > DW_MAX_IMAGES)
    return JET_errInvalidParameter;
  return JET_errSuccess;
}

/* A dw with its buffers for ring_size (batch_max lowered to fit it). */
static JET_ERR dw_alloc(const dw_config *cfg, uint64_t ring_size, dw **out) {
  dw *d = calloc(1, sizeof *d);
  if (!d) return JET_errOutOfMemory;
  if (pthread_mutex_init(&d->hold, NULL) != 0) {
    free(d);
    return JET_errOutOfMemory;
  }
  d->io = cfg->io;
  d->psz = cfg->page_size;
  d->ring_size = ring_size;
  d->batch_max = cfg->batch_max ? cfg->batch_max : DW_MAX_IMAGES;
  while (d->batch_max > 1 && dw_min_ring_size(d->psz, d->batch_max) > ring_size) d->batch_max--;
  memcpy(d->log_sig, cfg->log_sig, 16);
  d->sync_data = cfg->sync_data;
  d->ud = cfg->ud;
  d->nlv_cap = (size_t)(ring_size / batch_bytes(d->psz, 1)) + 1;
  d->buf = malloc(batch_bytes(d->psz, d->batch_max));
  d->lv = malloc(d->nlv_cap * sizeof *d->lv);
  if (!d->buf || !d->lv) {
    dw_free(d);
    return JET_errOutOfMemory;
  }
  *out = d;
  return JET_errSuccess;
}

/* A ring starting over: seq floor on, position 0, nothing live. */
static void start_over(dw *d) {
  d->next_seq = d->floor;
  d->last_seq = d->synced_seq = d->floor - 1;
  d->pos = 0;
  d->nlv = 0;
  free(d->tab);
  d->tab = NULL;
  d->ntab = 0;
  d->state = DW_READY;
}

/* The new file's bytes (os_write_atomic's fill): the ring's room
 * reserved (os_reserve; zeros written where the file system cannot or a
 * fault is armed: either way the ring reads as zeros), then both header
 * slots. */
static JET_ERR fill_new_file(void *ud, esfile *f) {
  dw *d = ud;
  int reserved = 0;
  uint64_t total = DW_HDR_SIZE + d->ring_size;
  uint8_t *zeros = NULL;
  JET_ERR e = os_reserve(f, total, &reserved);
  if (!e && !reserved && !(zeros = calloc(1, ZERO_CHUNK))) e = JET_errOutOfMemory;
  for (uint64_t off = DW_HDR_SIZE; !e && !reserved && off < total; off += ZERO_CHUNK)
    e = os_pwrite(f, zeros, total - off < ZERO_CHUNK ? (size_t)(total - off) : ZERO_CHUNK, off);
  free(zeros);
  uint8_t hdr[DW_HDR_SIZE];
  slot_put(d, hdr, 1);
  slot_put(d, hdr + SLOT_SIZE, 0);
  if (!e) e = os_pwrite(f, hdr, sizeof hdr, 0);
  return e;
}

JET_ERR dw_create(const dw_config *cfg, dw **out) {
  JET_ERR e = config_ok(cfg);
  if (e) return e;
  if (cfg->ring_size % ALIGN || cfg->ring_size < dw_min_ring_size(cfg->page_size, cfg->batch_max))
    return JET_errInvalidParameter;
  char *path = dw_file_name(cfg->dir, cfg->base), *tmp = tmp_name(cfg->dir, cfg->base);
  dw *d = NULL;
  if (!path || !tmp) e = JET_errOutOfMemory;
  else if (os_kind(path) != OS_ABSENT) e = JET_errFileAlreadyExists;
  else e = dw_alloc(cfg, cfg->ring_size, &d);
  if (!e) {
    os_random(d->ring_id, sizeof d->ring_id);
    d->floor = 1;
    d->slot_gen[0] = 1;
    d->cur_slot = 0;
    /* Btmp.dwb written, synced, renamed to B.dwb, the folder synced; a
     * failure before the rename removes Btmp.dwb */
    e = os_write_atomic(d->io, tmp, path, fill_new_file, d, 1);
    /* A B.dwb renamed but whose folder sync failed is removed again:
     * none is left behind on an error. */
    if (e && os_kind(path) == OS_FILE) (void)os_unlink(d->io, path);
  }
  if (!e) e = os_open(d->io, path, OS_WRITE, &d->f);
  free(path);
  free(tmp);
  if (e) {
    dw_free(d);
    return e;
  }
  start_over(d);
  *out = d;
  return JET_errSuccess;
}

/* ---- open: header checks ------------------------------------------------- */

static JET_ERR refuse(const char **why, const char *reason, JET_ERR e) {
  if (why) *why = reason;
  return e;
}

/* Reads and checks the header of the open file f into a new dw. */
static JET_ERR read_header(const dw_config *cfg, esfile *f, dw **out, const char **why) {
  uint8_t hdr[DW_HDR_SIZE];
  uint64_t size = 0;
  size_t got = 0;
  JET_ERR e = os_pread(f, hdr, sizeof hdr, 0, &got);
  if (!e) e = os_size(f, &size);
  if (e) return e;
  if (got < sizeof hdr) memset(hdr + got, 0, sizeof hdr - got);
  int st[2] = { slot_check(hdr), slot_check(hdr + SLOT_SIZE) };
  if (st[0] == SLOT_NO_MAGIC && st[1] == SLOT_NO_MAGIC)
    return refuse(why, "B.dwb is not a double-write ring (no magic)", JET_errFileInvalidType);
  if (st[0] != SLOT_OK && st[1] != SLOT_OK)
    return refuse(why, "B.dwb: no header slot passes its checksum", JET_errReadVerifyFailure);
  int cur = st[0] != SLOT_OK ? 1 : st[1] != SLOT_OK ? 0 : get64(hdr + SLOT_SIZE + 64) > get64(hdr + 64);
  const uint8_t *s = hdr + cur * SLOT_SIZE;
  if (st[0] == SLOT_OK && st[1] == SLOT_OK && !slots_agree(hdr, hdr + SLOT_SIZE))
    return refuse(why, "B.dwb: the two header slots describe different rings", JET_errReadVerifyFailure);
  if (get32(s + 12) != DW_VERSION)
    return refuse(why, "B.dwb has an unknown format version", JET_errFileInvalidType);
  uint64_t ring = get64(s + 24);
  if (ring == 0 || ring % ALIGN || size != DW_HDR_SIZE + ring)
    return refuse(why, "B.dwb: the file size is not the header's ring size", JET_errReadVerifyFailure);
  if (get32(s + 16) != cfg->page_size)
    return refuse(why, "B.dwb was made for another page size", JET_errPageSizeMismatch);
  if (memcmp(s + 32, cfg->log_sig, 16))
    return refuse(why, "B.dwb belongs to another log stream", JET_errBadLogSignature);
  if (get64(s + 72) == 0 || ring < batch_bytes(cfg->page_size, 1) * 2)
    return refuse(why, "B.dwb: the header's floor or ring size is out of range", JET_errReadVerifyFailure);
  dw *d = NULL;
  if ((e = dw_alloc(cfg, ring, &d)) != JET_errSuccess) return e;
  memcpy(d->ring_id, s + 48, 16);
  d->cur_slot = cur;
  d->slot_gen[0] = st[0] == SLOT_OK ? get64(hdr + 64) : 0;
  d->slot_gen[1] = st[1] == SLOT_OK ? get64(hdr + SLOT_SIZE + 64) : 0;
  d->floor = get64(s + 72);
  *out = d;
  return JET_errSuccess;
}

/* ---- open: the recovery scan --------------------------------------------- */

/* 1 when desc (read at ring offset off) is a live descriptor of this ring
 * whose batch lies inside the ring. */
static int desc_valid(const dw *d, const uint8_t *desc, uint64_t off) {
  if (memcmp(desc + 4, DESC_MAGIC, 8) || get32(desc) != crc32c(0, desc + 4, DW_DESC_SIZE - 4)) return 0;
  uint32_t n = get32(desc + 12), nsig = get32(desc + 48);
  if (n == 0 || n > DW_MAX_IMAGES || nsig == 0 || nsig > DW_MAX_SIGS) return 0;
  if (get64(desc + 24) != off || memcmp(desc + 32, d->ring_id, 16) || get64(desc + 16) < d->floor) return 0;
  if (off + batch_bytes(d->psz, n) > d->ring_size) return 0;
  for (uint32_t i = 0; i < n; i++)
    if (desc[DESC_ENTRIES + i * ENTRY_SIZE + 16] >= nsig) return 0;
  return 1;
}

/* The image of entry ent of a descriptor verifies. */
static int image_valid(const dw *d, const uint8_t *img, uint32_t pgno, uint32_t checksum) {
  return page_verify(img, d->psz, pgno) == PAGE_OK && get32(img) == checksum;
}

static int entry_cmp(const void *a, const void *b) {
  const entry *x = a, *y = b;
  int c = memcmp(x->sig, y->sig, 16);
  if (c) return c;
  if (x->pgno != y->pgno) return x->pgno < y->pgno ? -1 : 1;
  /* newest first: seq, then dbtime */
  if (x->seq != y->seq) return x->seq > y->seq ? -1 : 1;
  if (x->dbtime != y->dbtime) return x->dbtime > y->dbtime ? -1 : 1;
  return 0;
}

static JET_ERR tab_add(dw *d, size_t *cap, const entry *en) {
  if (d->ntab == *cap) {
    size_t nc = *cap ? *cap * 2 : 64;
    entry *t = realloc(d->tab, nc * sizeof *t);
    if (!t) return JET_errOutOfMemory;
    d->tab = t;
    *cap = nc;
  }
  d->tab[d->ntab++] = *en;
  return JET_errSuccess;
}

/* Every 4096-byte step of the ring is tried as a descriptor (batches of
 * other laps may start anywhere); the valid images of valid descriptors
 * go to the table, which is then sorted and reduced to the newest per
 * (sig, pgno).  The highest seq seen continues the numbering. */
static JET_ERR scan(dw *d) {
  size_t cap = 0;
  uint64_t max_seq = 0, newest_end = 0;
  JET_ERR e = JET_errSuccess;
  for (uint64_t off = 0; !e && off + DW_DESC_SIZE <= d->ring_size; off += ALIGN) {
    uint8_t *desc = d->buf;
    if ((e = os_pread_full(d->f, desc, DW_DESC_SIZE, DW_HDR_SIZE + off)) != JET_errSuccess) break;
    if (!desc_valid(d, desc, off)) continue;
    uint64_t seq = get64(desc + 16);
    uint32_t n = get32(desc + 12);
    if (seq > max_seq) {
      max_seq = seq;
      newest_end = off + batch_bytes(d->psz, n);
    }
    uint8_t *img = malloc(d->psz);
    if (!img) {
      e = JET_errOutOfMemory;
      break;
    }
    for (uint32_t i = 0; !e && i < n; i++) {
      const uint8_t *en = desc + DESC_ENTRIES + i * ENTRY_SIZE;
      entry x;
      memcpy(x.sig, desc + DESC_SIGS + 16u * en[16], 16);
      x.pgno = get32(en);
      x.checksum = get32(en + 4);
      x.dbtime = get64(en + 8);
      x.seq = seq;
      x.img = DW_HDR_SIZE + off + DW_DESC_SIZE + (uint64_t)i * d->psz;
      x.boff = off;
      x.blen = batch_bytes(d->psz, n);
      x.done = x.dead = 0;
      if ((e = os_pread_full(d->f, img, d->psz, x.img)) == JET_errSuccess && image_valid(d, img, x.pgno, x.checksum))
        e = tab_add(d, &cap, &x);
    }
    free(img);
  }
  if (e) return e;
  if (d->ntab) qsort(d->tab, d->ntab, sizeof *d->tab, entry_cmp);
  size_t k = 0;
  for (size_t i = 0; i < d->ntab; i++)
    if (k == 0 || memcmp(d->tab[k - 1].sig, d->tab[i].sig, 16) || d->tab[k - 1].pgno != d->tab[i].pgno)
      d->tab[k++] = d->tab[i];
  d->ntab = k;
  if (max_seq >= d->floor) d->floor = max_seq + 1;   /* in memory only: dw_discard writes it */
  /* recovery writes (dw_write while RECOVERING) continue after the newest
   * batch, numbered from the floor on */
  d->next_seq = d->floor;
  d->last_seq = d->synced_seq = d->floor - 1;
  d->pos = newest_end < d->ring_size ? newest_end : 0;
  return JET_errSuccess;
}

JET_ERR dw_open(const dw_config *cfg, dw **out, const char **why) {
  if (why) *why = NULL;
  JET_ERR e = config_ok(cfg);
  if (e) return e;
  char *path = dw_file_name(cfg->dir, cfg->base);
  if (!path) return JET_errOutOfMemory;
  esfile *f = NULL;
  dw *d = NULL;
  e = os_open(cfg->io, path, OS_WRITE | OS_NOFOLLOW, &f);
  free(path);
  if (!e) e = read_header(cfg, f, &d, why);
  if (e) {
    if (f) os_close(f);
    return e;
  }
  d->f = f;
  d->state = DW_RECOVERING;
  if ((e = scan(d)) != JET_errSuccess) {
    dw_free(d);
    return e;
  }
  *out = d;
  return JET_errSuccess;
}

/* ---- discard --------------------------------------------------------------- */

JET_ERR dw_discard(dw *d) {
  enter(d);
  assert(d->state == DW_RECOVERING || d->state == DW_READY || d->state == DW_FAILED);
  JET_ERR e = d->err;
  if (!e) {
    uint64_t floor = d->next_seq > d->floor ? d->next_seq : d->floor;
    int slot = 1 - d->cur_slot;
    uint64_t gen = d->slot_gen[d->cur_slot] + 1;
    uint64_t old_floor = d->floor;
    d->floor = floor;
    uint8_t s[SLOT_SIZE];
    slot_put(d, s, gen);
    e = os_pwrite(d->f, s, SLOT_SIZE, (uint64_t)slot * SLOT_SIZE);
    if (!e) e = os_sync(d->f);
    if (e) {
      d->floor = old_floor;
      d->err = e;
      d->state = DW_FAILED;
    } else {
      d->slot_gen[slot] = gen;
      d->cur_slot = slot;
      start_over(d);
    }
  }
  leave(d);
  return e;
}

/* ---- writing --------------------------------------------------------------- */

void dw_note_synced(dw *d) { dw_note_synced_to(d, d->last_seq); }

void dw_note_synced_to(dw *d, uint64_t seq) {
  enter(d);
  assert(seq <= d->last_seq);
  if (seq > d->synced_seq) d->synced_seq = seq;
  leave(d);
}

/* Drops the live batches that [off, off + len) overlaps; 1 when one of them
 * still needs its in-place writes made durable. */
static int overlap_unsynced(dw *d, uint64_t off, uint64_t len) {
  int need = 0;
  for (size_t i = 0; i < d->nlv; i++)
    if (d->lv[i].off < off + len && off < d->lv[i].off + d->lv[i].len && d->lv[i].seq > d->synced_seq) need = 1;
  return need;
}
static void drop_overlapped(dw *d, uint64_t off, uint64_t len) {
  for (size_t i = 0; i < d->nlv;)
    if (d->lv[i].off < off + len && off < d->lv[i].off + d->lv[i].len) d->lv[i] = d->lv[--d->nlv];
    else i++;
}

/* The descriptor and images of v[0..n) into d->buf for ring offset off. */
static JET_ERR build_batch(dw *d, const dw_image *v, size_t n, uint64_t seq, uint64_t off) {
  uint8_t *desc = d->buf;
  memset(desc, 0, DW_DESC_SIZE);
  memcpy(desc + 4, DESC_MAGIC, 8);
  put32(desc + 12, (uint32_t)n);
  put64(desc + 16, seq);
  put64(desc + 24, off);
  memcpy(desc + 32, d->ring_id, 16);
  uint32_t nsig = 0;
  for (size_t i = 0; i < n; i++) {
    /* the caller sealed it (dw.h); only the number is asserted: asserts are
     * on in every build, and a second checksum of every page would double
     * the write-back's (a stale one is caught by the torn-write sweeps: the
     * image would not repair) */
    assert(page_pgno(v[i].page) == v[i].pgno && "dw_write: an image of another page");
    uint32_t k = 0;
    while (k < nsig && memcmp(desc + DESC_SIGS + 16 * k, v[i].sig, 16)) k++;
    if (k == nsig) {
      if (nsig == DW_MAX_SIGS) return JET_errInvalidParameter;
      memcpy(desc + DESC_SIGS + 16 * nsig++, v[i].sig, 16);
    }
    uint8_t *en = desc + DESC_ENTRIES + i * ENTRY_SIZE;
    put32(en, v[i].pgno);
    put32(en + 4, get32(v[i].page));
    put64(en + 8, v[i].dbtime);
    en[16] = (uint8_t)k;
    memcpy(d->buf + DW_DESC_SIZE + i * d->psz, v[i].page, d->psz);
  }
  put32(desc + 48, nsig);
  put32(desc, crc32c(0, desc + 4, DW_DESC_SIZE - 4));
  return JET_errSuccess;
}

static int overlaps(const entry *x, uint64_t off, uint64_t len) {
  return x->boff < off + len && off < x->boff + x->blen;
}

/* 1 when [off, off + len) holds a batch with an image recovery may still
 * need (of a database not repaired yet); *next = the end of the last such. */
static int blocked(const dw *d, uint64_t off, uint64_t len, uint64_t *next) {
  int b = 0;
  for (size_t i = 0; i < d->ntab; i++) {
    const entry *x = &d->tab[i];
    if (x->done || x->dead || !overlaps(x, off, len)) continue;
    if (!b || x->boff + x->blen > *next) *next = x->boff + x->blen;
    b = 1;
  }
  return b;
}

/* *off = the ring offset of the next batch of n images: right after the
 * previous one, or 0 when it would pass the ring's end.  RECOVERING: the
 * first such place from there on (wrapping) that overwrites no image a
 * database not repaired yet may need; 0 when there is none. */
static int batch_off(const dw *d, size_t n, uint64_t *off) {
  uint64_t len = batch_bytes(d->psz, (uint32_t)n), at = d->pos;
  for (uint64_t tries = d->ring_size / ALIGN + 2; tries > 0; tries--) {
    if (at + len > d->ring_size) at = 0;
    uint64_t next = 0;
    if (d->state == DW_READY || !blocked(d, at, len, &next)) {
      *off = at;
      return 1;
    }
    at = next;   /* past the batch in the way: a multiple of ALIGN too */
  }
  return 0;
}

/* READY: always.  RECOVERING: a place for it exists (batch_off). */
static int may_write(const dw *d, size_t n) {
  uint64_t off;
  return batch_off(d, n, &off);
}

int dw_may_write(dw *d, size_t n) {
  enter(d);
  int ok = !d->err && (d->state == DW_READY || d->state == DW_RECOVERING) && n >= 1 && n <= d->batch_max &&
           may_write(d, n);
  leave(d);
  return ok;
}

void dw_swap_sync_data(dw *d, JET_ERR (**fn)(void *), void **ud) {
  enter(d);
  JET_ERR (*f)(void *) = d->sync_data;
  void *u = d->ud;
  d->sync_data = *fn;
  d->ud = *ud;
  *fn = f;
  *ud = u;
  leave(d);
}

JET_ERR dw_write(dw *d, const dw_image *v, size_t n, uint64_t *seq) {
  enter(d);
  JET_ERR e = d->err;
  if (e) goto out;
  assert(d->state == DW_READY || d->state == DW_RECOVERING);
  if (n == 0 || n > d->batch_max || !may_write(d, n)) {
    e = JET_errInvalidParameter;
    goto out;
  }
  uint64_t len = batch_bytes(d->psz, (uint32_t)n), off = 0;
  batch_off(d, n, &off);
  if ((e = build_batch(d, v, n, d->next_seq, off)) != JET_errSuccess) goto out;
  /* a recovery write over batches of the table: their databases were
   * repaired, but the pages found whole in place may not be durable yet */
  int old = 0;
  for (size_t i = 0; i < d->ntab; i++)
    if (!d->tab[i].dead && overlaps(&d->tab[i], off, len)) old = 1;
  if (old || overlap_unsynced(d, off, len)) {
    /* W3: the batches about to be overwritten may be needed to repair a
     * page torn in place; make their in-place writes durable first. */
    if (!d->sync_data) e = JET_errInvalidParameter;
    else e = d->sync_data(d->ud);
    if (e) goto out;
    d->synced_seq = d->last_seq;
  }
  drop_overlapped(d, off, len);
  for (size_t i = 0; i < d->ntab; i++)
    if (overlaps(&d->tab[i], off, len)) d->tab[i].dead = 1;
  e = os_pwrite(d->f, d->buf, (size_t)len, DW_HDR_SIZE + off);
  if (!e) e = os_sync(d->f);
  if (e) {
    d->err = e;
    d->state = DW_FAILED;
    goto out;
  }
  assert(d->nlv < d->nlv_cap);
  d->lv[d->nlv++] = (live){ d->next_seq, off, len };
  *seq = d->last_seq = d->next_seq++;
  d->pos = off + len;
out:
  leave(d);
  return e;
}

/* ---- recovery lookups ------------------------------------------------------ */

static const entry *lookup(const dw *d, const uint8_t *sig, uint32_t pgno) {
  size_t lo = 0, hi = d->ntab;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const entry *x = &d->tab[mid];
    int c = memcmp(x->sig, sig, 16);
    if (c == 0) c = x->pgno < pgno ? -1 : x->pgno > pgno;
    if (c == 0) return x->dead ? NULL : x;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

int dw_find(const dw *d, const uint8_t *sig, uint32_t pgno, uint64_t *seq, uint64_t *dbtime) {
  const entry *x = lookup(d, sig, pgno);
  if (!x) return 0;
  if (seq) *seq = x->seq;
  if (dbtime) *dbtime = x->dbtime;
  return 1;
}

static JET_ERR repair_page(dw *d, const entry *x, uint8_t *page, int *repaired) {
  *repaired = 0;
  /* Only a damaged page (bad checksum or number: a torn write) is repaired.
   * A page whole in place is left alone whatever its dbtime: an older one
   * is brought forward by the log (WAL, the checkpoint's order), and a ring
   * of another history (a restore's stream) must not move it.  An all-zero
   * page (never written, or past the end of the file) likewise: the log
   * holds the page's creation since the checkpoint that would have synced
   * it, and an image of another history must not extend the file. */
  int v = page_verify(page, d->psz, x->pgno);
  if (v == PAGE_OK || v == PAGE_ZERO) return JET_errSuccess;
  uint8_t *img = malloc(d->psz);
  if (!img) return JET_errOutOfMemory;
  JET_ERR e = os_pread_full(d->f, img, d->psz, x->img);
  if (!e && !image_valid(d, img, x->pgno, x->checksum)) e = JET_errReadVerifyFailure;
  if (!e) {
    memcpy(page, img, d->psz);
    *repaired = 1;
  }
  free(img);
  return e;
}

JET_ERR dw_repair_page(dw *d, const uint8_t *sig, uint32_t pgno, uint8_t *page, int *repaired) {
  enter(d);
  assert(d->state == DW_RECOVERING || d->state == DW_FAILED);
  JET_ERR e = d->err;
  *repaired = 0;
  const entry *x = e ? NULL : lookup(d, sig, pgno);
  if (x) e = repair_page(d, x, page, repaired);
  leave(d);
  return e;
}

JET_ERR dw_repair_file(dw *d, const uint8_t *sig, esfile *db, uint32_t *repaired) {
  enter(d);
  assert(d->state == DW_RECOVERING || d->state == DW_FAILED);
  JET_ERR e = d->err;
  uint32_t count = 0;
  uint8_t *page = e ? NULL : malloc(d->psz);
  if (!e && !page) e = JET_errOutOfMemory;
  for (size_t i = 0; !e && i < d->ntab; i++) {
    entry *x = &d->tab[i];
    if (memcmp(x->sig, sig, 16) || x->dead) continue;
    size_t got = 0;
    uint64_t at = (uint64_t)x->pgno * d->psz;
    if ((e = os_pread(db, page, d->psz, at, &got)) != JET_errSuccess) break;
    memset(page + got, 0, d->psz - got);   /* past the end: never written */
    int fixed = 0;
    e = repair_page(d, x, page, &fixed);
    /* a write that extended the file, cut after its first got bytes, the
     * rest of the page zeros anyway (a long value's short last page, a
     * free-list page of few entries): the page verifies as read, and is
     * written whole so that the file ends on a page boundary again (a
     * clean file cut short is refused at attach) */
    if (!e && !fixed && got > 0 && got < d->psz && page_verify(page, d->psz, x->pgno) == PAGE_OK) fixed = 1;
    if (!e && fixed && !(e = os_pwrite(db, page, d->psz, at))) count++;
  }
  if (!e && count) e = os_sync(db);
  for (size_t i = 0; !e && i < d->ntab; i++)   /* repaired: its images are no longer needed */
    if (!memcmp(d->tab[i].sig, sig, 16)) d->tab[i].done = 1;
  free(page);
  if (repaired) *repaired = count;
  leave(d);
  return e;
}

void dw_repairs_done(dw *d) {
  enter(d);
  if (d->state == DW_RECOVERING)
    for (size_t i = 0; i < d->ntab; i++) d->tab[i].done = 1;
  leave(d);
}
