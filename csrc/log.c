/*
 * log.c -- the write-ahead log: generation files, records, group commit and
 * the reader (format: log.h).
 *
 * Writer state lives in struct eslog behind one mutex (mu) and one condvar
 * (cv).  Appends copy framed records into `buf` (the bytes of the current
 * file from offset buf_off on that no write has taken yet).  A flush takes
 * the whole of `buf` by swapping it with `spare`, marks the log busy,
 * writes (and, for a commit, syncs) without the mutex, then advances
 * `written` (and `durable`) and wakes the waiters; appends go on into the
 * other buffer meanwhile.  A full buffer is written without a sync.  A roll
 * owns the log the same way (busy) while it writes, renames and creates
 * files.  Invariant when not busy and no error: durable <= written ==
 * LSN(gen, buf_off), and end == LSN(gen, buf_off + len).
 *
 * Group commit: the thread that becomes the flusher syncs every record
 * appended so far.  When other committers were seen waiting during the
 * previous sync, it first waits a little (at most half the last sync's
 * time) for one more append, so that two or more commits share each sync
 * instead of alternating one by one.
 *
 * A new generation file is made complete under the name Btmp.log (full size,
 * written with zeros so that a commit's fdatasync never allocates blocks,
 * header, synced) and only then renamed to B.log, so a crash never leaves a
 * B.log with a half-written header.  A roll renames B.log to B%08X.log, then
 * Btmp.log to B.log, then syncs the folder: a crash between the two renames
 * leaves the archived files complete and no B.log (the reader then reports
 * JET_errMissingLogFile with LOG_READ_CURRENT; read without it and start the
 * next generation with log_create(sig, hi + 1, tm_create of hi)).
 */
#include "log.h"
#include "crc32c.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LOG_BUF_DEFAULT (1u << 20)
#define REC_OVERHEAD 12u      /* u32 len, u8 type, u8[3] zero, ..., u32 crc */
#define REC_MIN 16u           /* the smallest framed record (1-byte payload) */
#define ZERO_CHUNK (64u * 1024u)

static const uint8_t log_magic[8] = {'E', 'S', 'E', 'L', 'O', 'G', 0, 1};

/* ---- little-endian helpers --------------------------------------------- */
static uint16_t ld16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t ld32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t ld64(const uint8_t *p) { return (uint64_t)ld32(p) | ((uint64_t)ld32(p + 4) << 32); }
static void st16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void st32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static void st64(uint8_t *p, uint64_t v) { st32(p, (uint32_t)v); st32(p + 4, (uint32_t)(v >> 32)); }

/* Framed size of a record of len payload bytes (computed in 64 bits). */
static uint64_t rec_framed(uint64_t len) { return (REC_OVERHEAD + len + 7u) & ~(uint64_t)7u; }

static uint32_t rec_crc(uint32_t gen, uint8_t type, const void *p1, size_t n1, const void *p2, size_t n2) {
  uint32_t c = crc32c(gen, &type, 1);
  if (n1) c = crc32c(c, p1, n1);
  if (n2) c = crc32c(c, p2, n2);
  return c;
}

/* ---- attachments and headers ------------------------------------------- */
static void attach_free(log_attach *a, uint32_t n) {
  if (!a) return;
  for (uint32_t i = 0; i < n; i++) free(a[i].path);
  free(a);
}

static JET_ERR attach_copy(const log_attach *src, uint32_t n, log_attach **out) {
  *out = NULL;
  if (n == 0) return JET_errSuccess;
  if (!src) return JET_errInvalidParameter;
  log_attach *a = calloc(n, sizeof *a);
  if (!a) return JET_errOutOfMemory;
  for (uint32_t i = 0; i < n; i++) {
    const char *p = src[i].path ? src[i].path : "";
    a[i].dbid = src[i].dbid;
    if (!(a[i].path = strdup(p))) { attach_free(a, n); return JET_errOutOfMemory; }
  }
  *out = a;
  return JET_errSuccess;
}

void log_header_clear(log_header *h) {
  if (!h) return;
  attach_free(h->attach, h->nattach);
  memset(h, 0, sizeof *h);
}

/* Serializes a header into b[LOG_HDR_SIZE]; JET_errInvalidParameter when the
 * attachment table does not fit. */
static JET_ERR hdr_encode(uint8_t *b, uint32_t gen, uint32_t page_size, uint32_t file_size, const log_sig *sig,
                          uint64_t tm_create, uint64_t tm_prev, const log_attach *att, uint32_t natt) {
  memset(b, 0, LOG_HDR_SIZE);
  memcpy(b + 4, log_magic, 8);
  st32(b + 12, gen);
  st32(b + 16, page_size);
  st32(b + 20, file_size);
  memcpy(b + 24, sig->b, 16);
  st64(b + 40, tm_create);
  st64(b + 48, tm_prev);
  st32(b + 56, natt);
  size_t off = 60;
  for (uint32_t i = 0; i < natt; i++) {
    const char *p = att[i].path ? att[i].path : "";
    size_t n = strlen(p);
    if (n > 0xFFFF || off + 6 + n > LOG_HDR_SIZE) return JET_errInvalidParameter;
    st32(b + off, att[i].dbid);
    st16(b + off + 4, (uint16_t)n);
    memcpy(b + off + 6, p, n);
    off += 6 + n;
  }
  st32(b, crc32c(0, b + 4, LOG_HDR_SIZE - 4));
  return JET_errSuccess;
}

static JET_ERR hdr_decode(const uint8_t *b, log_header *h) {
  memset(h, 0, sizeof *h);
  if (ld32(b) != crc32c(0, b + 4, LOG_HDR_SIZE - 4)) return JET_errLogFileCorrupt;
  if (memcmp(b + 4, log_magic, 8) != 0) return JET_errLogFileCorrupt;
  h->gen = ld32(b + 12);
  h->page_size = ld32(b + 16);
  h->file_size = ld32(b + 20);
  memcpy(h->sig.b, b + 24, 16);
  h->tm_create = ld64(b + 40);
  h->tm_prev_gen = ld64(b + 48);
  uint32_t n = ld32(b + 56);
  if (h->gen == 0 || h->gen > LOG_MAX_GEN || h->file_size < LOG_MIN_FILE_SIZE || h->file_size % 8 != 0 ||
      n > (LOG_HDR_SIZE - 60) / 6)
    return JET_errLogFileCorrupt;
  if (n) {
    if (!(h->attach = calloc(n, sizeof *h->attach))) return JET_errOutOfMemory;
    h->nattach = n;
    size_t off = 60;
    for (uint32_t i = 0; i < n; i++) {
      if (off + 6 > LOG_HDR_SIZE) { log_header_clear(h); return JET_errLogFileCorrupt; }
      uint16_t len = ld16(b + off + 4);
      if (off + 6 + len > LOG_HDR_SIZE) { log_header_clear(h); return JET_errLogFileCorrupt; }
      h->attach[i].dbid = ld32(b + off);
      if (!(h->attach[i].path = malloc((size_t)len + 1))) { log_header_clear(h); return JET_errOutOfMemory; }
      memcpy(h->attach[i].path, b + off + 6, len);
      h->attach[i].path[len] = '\0';
      off += 6 + (size_t)len;
    }
  }
  return JET_errSuccess;
}

JET_ERR log_read_header(esio *io, const char *path, log_header *h) {
  memset(h, 0, sizeof *h);
  esfile *f;
  JET_ERR e = os_open(io, path, OS_READ, &f);
  if (e) return e;
  uint8_t *b = malloc(LOG_HDR_SIZE);
  if (!b) { os_close(f); return JET_errOutOfMemory; }
  size_t got = 0;
  uint64_t size = 0;
  e = os_pread(f, b, LOG_HDR_SIZE, 0, &got);
  if (!e) e = os_size(f, &size);
  os_close(f);
  if (!e && got < LOG_HDR_SIZE) e = JET_errLogFileCorrupt;
  if (!e) e = hdr_decode(b, h);
  free(b);
  if (!e && h->file_size != size) e = JET_errLogFileSizeMismatch;
  if (e) log_header_clear(h);
  return e;
}

/* ---- names and folder scan --------------------------------------------- */
char *log_file_name(const char *dir, const char *base, uint32_t gen) {
  char name[64];
  size_t bl = strlen(base);
  if (bl > 32) return NULL;
  if (gen == 0) snprintf(name, sizeof name, "%s.log", base);
  else snprintf(name, sizeof name, "%s%08X.log", base, (unsigned)gen);
  if (!dir) return strdup(name);
  return os_join(dir, name);
}

int log_parse_name(const char *name, const char *base, uint32_t *gen) {
  if (!name || !base) return 0;
  size_t bl = strlen(base), nl = strlen(name);
  if (nl < bl + 4 || strncasecmp(name, base, bl) != 0) return 0;
  const char *s = name + bl;
  if (strcasecmp(s, ".log") == 0) return 2;
  if (nl != bl + 12 || strcasecmp(s + 8, ".log") != 0) return 0;
  uint32_t g = 0;
  for (int i = 0; i < 8; i++) {
    char c = s[i];
    uint32_t d;
    if (c >= '0' && c <= '9') d = (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f') d = (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') d = (uint32_t)(c - 'A' + 10);
    else return 0;
    g = (g << 4) | d;
  }
  if (g == 0) return 0;  /* generations start at 1 */
  if (gen) *gen = g;
  return 1;
}

/* The log files of a folder: archived generations (sorted, one name per
 * generation, the canonical spelling preferred) and the current file. */
typedef struct scan_ent { uint32_t gen; int canon; char *name; } scan_ent;
typedef struct scan_res {
  const char *base;
  scan_ent *v;
  size_t n, cap;
  char *cur;      /* name of B.log as found, or NULL */
  int cur_canon;
} scan_res;

static JET_ERR scan_cb(const char *name, void *ud) {
  scan_res *s = ud;
  uint32_t gen = 0;
  int k = log_parse_name(name, s->base, &gen);
  if (k == 0) return JET_errSuccess;
  char *canon = log_file_name(NULL, s->base, k == 2 ? 0 : gen);
  if (!canon) return JET_errOutOfMemory;
  int is_canon = strcmp(canon, name) == 0;
  free(canon);
  if (k == 2) {
    if (s->cur && (s->cur_canon || !is_canon)) return JET_errSuccess;
    char *d = strdup(name);
    if (!d) return JET_errOutOfMemory;
    free(s->cur);
    s->cur = d;
    s->cur_canon = is_canon;
    return JET_errSuccess;
  }
  if (s->n == s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 64;
    scan_ent *nv = realloc(s->v, nc * sizeof *nv);
    if (!nv) return JET_errOutOfMemory;
    s->v = nv;
    s->cap = nc;
  }
  if (!(s->v[s->n].name = strdup(name))) return JET_errOutOfMemory;
  s->v[s->n].gen = gen;
  s->v[s->n].canon = is_canon;
  s->n++;
  return JET_errSuccess;
}

static int scan_cmp(const void *a, const void *b) {
  const scan_ent *x = a, *y = b;
  if (x->gen != y->gen) return x->gen < y->gen ? -1 : 1;
  return y->canon - x->canon;  /* canonical name first */
}

static void scan_free(scan_res *s) {
  for (size_t i = 0; i < s->n; i++) free(s->v[i].name);
  free(s->v);
  free(s->cur);
  memset(s, 0, sizeof *s);
}

static JET_ERR scan_run(const char *dir, const char *base, scan_res *s) {
  memset(s, 0, sizeof *s);
  s->base = base;
  JET_ERR e = os_list_dir(dir, scan_cb, s);
  if (e) { scan_free(s); return e; }
  if (s->n > 1) qsort(s->v, s->n, sizeof *s->v, scan_cmp);
  size_t w = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (w > 0 && s->v[w - 1].gen == s->v[i].gen) { free(s->v[i].name); continue; }
    s->v[w++] = s->v[i];
  }
  s->n = w;
  return JET_errSuccess;
}

JET_ERR log_scan_dir(const char *dir, const char *base, uint32_t *lo, uint32_t *hi, int *has_current) {
  scan_res s;
  JET_ERR e = scan_run(dir, base, &s);
  if (e) return e;
  if (lo) *lo = s.n ? s.v[0].gen : 0;
  if (hi) *hi = s.n ? s.v[s.n - 1].gen : 0;
  if (has_current) *has_current = s.cur != NULL;
  scan_free(&s);
  return JET_errSuccess;
}

/* ---- records ------------------------------------------------------------ */
/* The framed size of a valid record at pos of file data d (fsize bytes) of
 * generation gen, or 0: sane length, zero reserved bytes, matching crc. */
static uint32_t rec_check(const uint8_t *d, uint32_t fsize, uint32_t pos, uint32_t gen) {
  if ((uint64_t)pos + REC_MIN > fsize) return 0;
  const uint8_t *p = d + pos;
  uint32_t len = ld32(p);
  if (len == 0 || p[5] || p[6] || p[7]) return 0;
  uint64_t fr = rec_framed(len);
  if (fr > (uint64_t)fsize - pos) return 0;
  if (rec_crc(gen, p[4], p + 8, len, NULL, 0) != ld32(p + 8 + len)) return 0;
  return (uint32_t)fr;
}

/* Is there a valid record at any 8-aligned offset after pos? */
static int valid_after(const uint8_t *d, uint32_t fsize, uint32_t pos, uint32_t gen) {
  for (uint64_t p = (uint64_t)pos + 8; p + REC_MIN <= fsize; p += 8)
    if (rec_check(d, fsize, (uint32_t)p, gen)) return 1;
  return 0;
}

/* Reads a whole file of size bytes into *buf (grown as needed). */
static JET_ERR load_file(esio *io, const char *path, uint32_t size, uint8_t **buf, size_t *cap) {
  if (*cap < size) {
    uint8_t *nb = realloc(*buf, size);
    if (!nb) return JET_errOutOfMemory;
    *buf = nb;
    *cap = size;
  }
  esfile *f;
  JET_ERR e = os_open(io, path, OS_READ, &f);
  if (e) return e;
  e = os_pread_full(f, *buf, size, 0);
  os_close(f);
  return e;
}

/* ---- writer ------------------------------------------------------------- */
struct eslog {
  esio *io;
  char *dir, *cur_path, *tmp_path, *base;
  uint32_t new_file_size;   /* size of generations created from now on */
  uint32_t page_size;
  log_sig sig;

  pthread_mutex_t mu;
  pthread_cond_t cv;
  log_attach *att;          /* table for new generations */
  uint32_t natt;
  esfile *f;                /* the current B.log */
  uint32_t gen, file_size;  /* of the current file */
  uint64_t tm_create;
  uint8_t *buf;             /* records no write has taken yet */
  size_t cap, len;
  uint32_t buf_off;         /* file offset of buf[0] */
  uint8_t *spare;           /* the other buffer (the flusher's while busy) */
  size_t spare_cap;
  lsn_t end, written, durable;
  int busy;                 /* a flush or a roll owns the file */
  pthread_cond_t appended;  /* a delaying flusher waits here for one more append */
  int delaying;
  uint64_t nappends;
  int waited_in_sync;       /* another committer waited during the last sync */
  int tmp_ready, tmp_busy;  /* Btmp.log made ahead (zeros, no header) / being made */
  int rolling;              /* a roll owns Btmp.log */
  uint64_t last_sync_us;
  int rolled;
  JET_ERR err;              /* sticky write/sync failure */
};

static void lg_free(eslog *lg) {
  if (!lg) return;
  os_close(lg->f);
  free(lg->dir);
  free(lg->base);
  free(lg->cur_path);
  free(lg->tmp_path);
  free(lg->buf);
  free(lg->spare);
  attach_free(lg->att, lg->natt);
  pthread_cond_destroy(&lg->cv);
  pthread_cond_destroy(&lg->appended);
  pthread_mutex_destroy(&lg->mu);
  free(lg);
}

static JET_ERR cfg_check(const log_config *cfg) {
  if (!cfg || !cfg->io || !cfg->dir || !cfg->base || !cfg->base[0] || strlen(cfg->base) > 32 ||
      cfg->file_size < LOG_MIN_FILE_SIZE || cfg->file_size % 8 != 0)
    return JET_errInvalidParameter;
  return JET_errSuccess;
}

static char *tmp_name(const char *dir, const char *base) {
  char name[48];
  snprintf(name, sizeof name, "%stmp.log", base);
  return os_join(dir, name);
}

static JET_ERR lg_new(const log_config *cfg, eslog **out) {
  *out = NULL;
  eslog *lg = calloc(1, sizeof *lg);
  if (!lg) return JET_errOutOfMemory;
  if (pthread_mutex_init(&lg->mu, NULL) != 0) { free(lg); return JET_errOutOfMemory; }
  if (pthread_cond_init(&lg->cv, NULL) != 0) {
    pthread_mutex_destroy(&lg->mu);
    free(lg);
    return JET_errOutOfMemory;
  }
  if (pthread_cond_init(&lg->appended, NULL) != 0) {
    pthread_cond_destroy(&lg->cv);
  pthread_cond_destroy(&lg->appended);
    pthread_mutex_destroy(&lg->mu);
    free(lg);
    return JET_errOutOfMemory;
  }
  lg->io = cfg->io;
  lg->new_file_size = cfg->file_size;
  lg->page_size = cfg->page_size;
  size_t cap = cfg->file_size < LOG_BUF_DEFAULT ? cfg->file_size : LOG_BUF_DEFAULT;
  lg->dir = strdup(cfg->dir);
  lg->base = strdup(cfg->base);
  lg->cur_path = log_file_name(cfg->dir, cfg->base, 0);
  lg->tmp_path = tmp_name(cfg->dir, cfg->base);
  lg->buf = malloc(cap);
  lg->spare = malloc(cap);
  if (!lg->dir || !lg->base || !lg->cur_path || !lg->tmp_path || !lg->buf || !lg->spare) { lg_free(lg); return JET_errOutOfMemory; }
  lg->cap = lg->spare_cap = cap;
  *out = lg;
  return JET_errSuccess;
}

/* Prepares the next generation file under the name Btmp.log (which no log
 * name parses as): a stale one is removed, the new one made full size
 * (zeros), the header written and synced.  The caller renames it to B.log
 * and syncs the folder, so B.log is never seen half made. */
/* A file of file_size bytes under the name tmp (a stale one is removed
 * first), zeros written after the header's place; the header is written
 * (and the whole synced) when the file becomes a generation. */
static JET_ERR make_zero_file(esio *io, const char *tmp, uint32_t file_size, esfile **out) {
  JET_ERR e;
  if (os_exists(tmp) && (e = os_unlink(io, tmp))) return e;
  esfile *f;
  if ((e = os_open(io, tmp, OS_WRITE | OS_CREATE | OS_EXCL, &f))) return e;
  size_t zn = file_size < (1u << 20) ? file_size : (1u << 20);
  uint8_t *zeros = calloc(1, zn);
  if (!zeros) e = JET_errOutOfMemory;
  for (uint32_t off = LOG_HDR_SIZE; !e && off < file_size; off += (uint32_t)zn)
    e = os_pwrite(f, zeros, file_size - off < zn ? file_size - off : zn, off);
  free(zeros);
  if (e) {
    os_close(f);
    (void)os_unlink(io, tmp);
    return e;
  }
  *out = f;
  return JET_errSuccess;
}

/* The next generation's file under tmp with its header, synced: the file
 * log_prepare_next made ahead (ready), or a new one. */
static JET_ERR prepare_tmp(esio *io, const char *tmp, const uint8_t *hdr, uint32_t file_size, int ready,
                           esfile **out) {
  esfile *f = NULL;
  JET_ERR e = ready ? os_open(io, tmp, OS_WRITE, &f) : make_zero_file(io, tmp, file_size, &f);
  uint64_t size = 0;
  if (!e && ready && (e = os_size(f, &size)) == JET_errSuccess && size != file_size) e = JET_errLogFileSizeMismatch;
  if (!e && !(e = os_pwrite(f, hdr, LOG_HDR_SIZE, 0)) && !(e = os_sync(f))) {
    *out = f;
    return JET_errSuccess;
  }
  os_close(f);
  (void)os_unlink(io, tmp);
  return e;
}

JET_ERR log_prepare_next(eslog *lg) {
  pthread_mutex_lock(&lg->mu);
  if (lg->err || lg->tmp_ready || lg->tmp_busy || lg->rolling) {
    JET_ERR e = lg->err;
    pthread_mutex_unlock(&lg->mu);
    return e;
  }
  lg->tmp_busy = 1;
  uint32_t size = lg->new_file_size;
  pthread_mutex_unlock(&lg->mu);
  esfile *f = NULL;
  JET_ERR e = make_zero_file(lg->io, lg->tmp_path, size, &f);
  os_close(f);
  pthread_mutex_lock(&lg->mu);
  lg->tmp_busy = 0;
  if (e) lg->err = e;     /* the log cannot go on without its next file */
  else lg->tmp_ready = 1;
  pthread_cond_broadcast(&lg->cv);
  pthread_mutex_unlock(&lg->mu);
  return e;
}

static uint64_t next_tm(uint64_t prev) {
  uint64_t now = os_now_us();
  return now > prev ? now : prev + 1;
}

JET_ERR log_create(const log_config *cfg, const log_sig *sig, uint32_t gen, uint64_t tm_prev_gen,
                   const log_attach *att, uint32_t natt, eslog **out) {
  if (!out) return JET_errInvalidParameter;
  *out = NULL;
  JET_ERR e = cfg_check(cfg);
  if (e) return e;
  if (gen == 0 || gen > LOG_MAX_GEN) return gen > LOG_MAX_GEN ? JET_errLogSequenceEnd : JET_errInvalidParameter;
  eslog *lg;
  if ((e = lg_new(cfg, &lg))) return e;
  if ((e = attach_copy(att, natt, &lg->att))) { lg_free(lg); return e; }
  lg->natt = natt;
  if (sig) lg->sig = *sig;
  else os_random(lg->sig.b, sizeof lg->sig.b);
  lg->gen = gen;
  lg->file_size = cfg->file_size;
  lg->tm_create = next_tm(tm_prev_gen);
  uint8_t *hdr = malloc(LOG_HDR_SIZE);
  if (!hdr) { lg_free(lg); return JET_errOutOfMemory; }
  e = hdr_encode(hdr, gen, lg->page_size, lg->file_size, &lg->sig, lg->tm_create, tm_prev_gen, lg->att, lg->natt);
  if (!e && os_exists(lg->cur_path)) e = JET_errFileAlreadyExists;
  if (!e) e = prepare_tmp(lg->io, lg->tmp_path, hdr, lg->file_size, 0, &lg->f);
  free(hdr);
  if (!e && (e = os_rename(lg->io, lg->tmp_path, lg->cur_path))) (void)os_unlink(lg->io, lg->tmp_path);
  if (!e) e = os_sync_dir(lg->io, lg->dir);
  if (e) { lg_free(lg); return e; }
  lg->buf_off = LOG_HDR_SIZE;
  lg->end = lg->written = lg->durable = LSN(gen, LOG_HDR_SIZE);
  *out = lg;
  return JET_errSuccess;
}

static int all_zero(const uint8_t *p, size_t n) {
  size_t i = 0;
  for (; i < n && ((uintptr_t)(p + i) & 7); i++)
    if (p[i]) return 0;
  for (; i + 32 <= n; i += 32) {
    uint64_t a, b, c, d;
    memcpy(&a, p + i, 8);
    memcpy(&b, p + i + 8, 8);
    memcpy(&c, p + i + 16, 8);
    memcpy(&d, p + i + 24, 8);
    if (a | b | c | d) return 0;
  }
  for (; i < n; i++)
    if (p[i]) return 0;
  return 1;
}

JET_ERR log_reopen(const log_config *cfg, lsn_t end, eslog **out) {
  if (!out) return JET_errInvalidParameter;
  *out = NULL;
  JET_ERR e = cfg_check(cfg);
  if (e) return e;
  eslog *lg;
  if ((e = lg_new(cfg, &lg))) return e;
  log_header h;
  if ((e = log_read_header(lg->io, lg->cur_path, &h))) { lg_free(lg); return e; }
  uint32_t off = LSN_OFF(end) ? LSN_OFF(end) : LOG_HDR_SIZE;
  if (cfg->page_size && h.page_size != cfg->page_size) e = JET_errPageSizeMismatch;
  else if (LSN_GEN(end) != h.gen || off < LOG_HDR_SIZE || off % 8 != 0 || off > h.file_size)
    e = JET_errInvalidParameter;
  if (!e) e = os_open(lg->io, lg->cur_path, OS_WRITE, &lg->f);
  /* Zero the tail: read it chunk by chunk, rewrite the chunks that are not
   * already zero, then sync. */
  uint8_t *chunk = NULL, *zeros = NULL;
  if (!e && (!(chunk = malloc(ZERO_CHUNK)) || !(zeros = calloc(1, ZERO_CHUNK)))) e = JET_errOutOfMemory;
  int wrote = 0;
  for (uint64_t p = off; !e && p < h.file_size;) {
    size_t n = h.file_size - p < ZERO_CHUNK ? (size_t)(h.file_size - p) : ZERO_CHUNK;
    if (!(e = os_pread_full(lg->f, chunk, n, p)) && !all_zero(chunk, n)) {
      e = os_pwrite(lg->f, zeros, n, p);
      wrote = 1;
    }
    p += n;
  }
  free(chunk);
  free(zeros);
  if (!e && wrote) e = os_sync(lg->f);
  if (e) { log_header_clear(&h); lg_free(lg); return e; }
  lg->sig = h.sig;
  lg->gen = h.gen;
  lg->file_size = h.file_size;
  lg->page_size = h.page_size;
  lg->tm_create = h.tm_create;
  lg->att = h.attach;      /* the table of new generations, until set again */
  lg->natt = h.nattach;
  h.attach = NULL;
  h.nattach = 0;
  log_header_clear(&h);
  lg->buf_off = off;
  lg->end = lg->written = lg->durable = LSN(lg->gen, off);
  *out = lg;
  return JET_errSuccess;
}

JET_ERR log_close(eslog *lg) {
  if (!lg) return JET_errSuccess;
  JET_ERR e = log_flush(lg, log_end(lg));
  lg_free(lg);
  return e;
}

/* Takes the buffered range for a write: the caller holds mu and has set
 * busy.  Swaps the buffers so appends go on into the other one. */
static void take_buffer(eslog *lg, uint8_t **wb, size_t *wlen, uint32_t *woff) {
  *wb = lg->buf;
  *wlen = lg->len;
  *woff = lg->buf_off;
  uint8_t *t = lg->buf;
  size_t tc = lg->cap;
  lg->buf = lg->spare;
  lg->cap = lg->spare_cap;
  lg->spare = t;
  lg->spare_cap = tc;
  lg->buf_off += (uint32_t)lg->len;
  lg->len = 0;
}

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Waits (mutex held) up to us microseconds for one more append. */
static void delay_for_append(eslog *lg, uint64_t us) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t ns = (uint64_t)ts.tv_nsec + us * 1000u;
  ts.tv_sec += (time_t)(ns / 1000000000u);
  ts.tv_nsec = (long)(ns % 1000000000u);
  uint64_t before = lg->nappends;
  lg->delaying = 1;
  while (lg->nappends == before && !lg->err)
    if (pthread_cond_timedwait(&lg->appended, &lg->mu, &ts) != 0) break;
  lg->delaying = 0;
  if (lg->nappends == before) lg->waited_in_sync = 0;   /* nobody came: stop delaying */
}

/* Writes out (and with sync, syncs) everything appended, until the record
 * at lsn (or the end position lsn) is written (durable).  Mutex held. */
static JET_ERR write_out(eslog *lg, lsn_t lsn, int sync) {
  for (;;) {
    if (lg->err) return lg->err;
    /* positions are record boundaries: x > lsn covers the record starting
     * at lsn; x >= end covers any end position */
    lsn_t have = sync ? lg->durable : lg->written;
    if (have > lsn || have >= lg->end) return JET_errSuccess;
    if (lg->busy) {
      if (sync) lg->waited_in_sync = 1;
      pthread_cond_wait(&lg->cv, &lg->mu);
      continue;
    }
    lg->busy = 1;
    if (sync && lg->waited_in_sync && lg->last_sync_us) {
      uint64_t d = lg->last_sync_us / 2;
      delay_for_append(lg, d > 2000 ? 2000 : d);
    }
    uint8_t *wb;
    size_t wlen;
    uint32_t woff;
    take_buffer(lg, &wb, &wlen, &woff);
    esfile *f = lg->f;
    uint32_t gen = lg->gen;
    pthread_mutex_unlock(&lg->mu);
    JET_ERR e = JET_errSuccess;
    if (wlen) e = os_pwrite(f, wb, wlen, woff);
    uint64_t t0 = sync ? mono_us() : 0;
    if (!e && sync) e = os_sync(f);
    uint64_t took = sync ? mono_us() - t0 : 0;
    pthread_mutex_lock(&lg->mu);
    if (e) lg->err = e;
    else {
      lg->written = LSN(gen, woff + (uint32_t)wlen);
      if (sync) {
        lg->durable = lg->written;
        lg->last_sync_us = took;
      }
    }
    lg->busy = 0;
    pthread_cond_broadcast(&lg->cv);
  }
}

JET_ERR log_flush(eslog *lg, lsn_t lsn) {
  pthread_mutex_lock(&lg->mu);
  JET_ERR e = write_out(lg, lsn, 1);
  pthread_mutex_unlock(&lg->mu);
  return e;
}

JET_ERR log_roll(eslog *lg) {
  uint8_t *hdr = malloc(LOG_HDR_SIZE);
  if (!hdr) return JET_errOutOfMemory;
  pthread_mutex_lock(&lg->mu);
  while ((lg->busy || lg->tmp_busy) && !lg->err) pthread_cond_wait(&lg->cv, &lg->mu);
  JET_ERR e = lg->err;
  if (!e && lg->gen >= LOG_MAX_GEN) e = JET_errLogSequenceEnd;
  uint32_t gen = lg->gen, ngen = gen + 1;
  uint64_t tm_prev = lg->tm_create, tm_new = next_tm(tm_prev);
  if (!e) e = hdr_encode(hdr, ngen, lg->page_size, lg->new_file_size, &lg->sig, tm_new, tm_prev, lg->att, lg->natt);
  if (e) {
    pthread_mutex_unlock(&lg->mu);
    free(hdr);
    return e;
  }
  lg->busy = 1;
  uint8_t *wb;
  size_t wlen;
  uint32_t woff;
  take_buffer(lg, &wb, &wlen, &woff);
  esfile *old = lg->f, *nf = NULL;
  uint32_t nsize = lg->new_file_size;
  int ready = lg->tmp_ready;
  lg->tmp_ready = 0;
  lg->rolling = 1;          /* Btmp.log is the roll's until it is renamed */
  pthread_mutex_unlock(&lg->mu);

  int synced = 0;
  if (wlen) {
    e = os_pwrite(old, wb, wlen, woff);
    if (!e) e = os_sync(old);
  }
  if (!e) synced = 1;
  char *arch = log_file_name(lg->dir, lg->base, gen);
  if (!e && !arch) e = JET_errOutOfMemory;
  if (!e && os_exists(arch)) e = JET_errFileAlreadyExists;  /* never overwrite an archived file */
  if (!e) e = prepare_tmp(lg->io, lg->tmp_path, hdr, nsize, ready, &nf);
  /* A crash between the two renames leaves no B.log: the archived files
   * are complete and Btmp.log holds the next (empty) generation. */
  if (!e) e = os_rename(lg->io, lg->cur_path, arch);
  if (!e) e = os_rename(lg->io, lg->tmp_path, lg->cur_path);
  if (!e) e = os_sync_dir(lg->io, lg->dir);
  free(arch);
  free(hdr);

  pthread_mutex_lock(&lg->mu);
  if (synced) lg->written = lg->durable = LSN(gen, woff + (uint32_t)wlen);
  if (e) {
    lg->err = e;
  } else {
    lg->f = nf;
    lg->gen = ngen;
    lg->file_size = nsize;
    lg->tm_create = tm_new;
    lg->buf_off = LOG_HDR_SIZE;
    lg->len = 0;  /* appends wait for a roll (the caller's instance lock) */
    lg->end = lg->written = lg->durable = LSN(ngen, LOG_HDR_SIZE);
    lg->rolled = 1;
  }
  lg->busy = 0;
  lg->rolling = 0;
  pthread_cond_broadcast(&lg->cv);
  pthread_mutex_unlock(&lg->mu);
  if (!e) os_close(old);
  else os_close(nf);
  return e;
}

JET_ERR log_append2(eslog *lg, uint8_t type, const void *p1, size_t n1, const void *p2, size_t n2, lsn_t *lsn) {
  if (!lg || (n1 && !p1) || (n2 && !p2) || n1 > UINT32_MAX || n2 > UINT32_MAX) return JET_errInvalidParameter;
  uint64_t n = (uint64_t)n1 + n2;
  /* A zero length word ends a file's data, so a payload has >= 1 byte. */
  if (n == 0 || n > UINT32_MAX - 16) return JET_errInvalidParameter;
  uint64_t framed = rec_framed(n);
  JET_ERR e;
  pthread_mutex_lock(&lg->mu);
  for (;;) {
    if (lg->err) { e = lg->err; break; }
    uint32_t off = LSN_OFF(lg->end);
    if (off + framed > lg->file_size) {
      if (framed > lg->new_file_size - LOG_HDR_SIZE) { e = JET_errInvalidParameter; break; }
      pthread_mutex_unlock(&lg->mu);
      if ((e = log_roll(lg))) return e;
      pthread_mutex_lock(&lg->mu);
      continue;
    }
    if (lg->len + framed > lg->cap) {
      if (lg->len > 0) {
        /* The buffer is full: write it out, without a sync. */
        if ((e = write_out(lg, lg->end, 0))) break;
        continue;
      }
      size_t nc = lg->cap * 2 > framed ? lg->cap * 2 : (size_t)framed;
      uint8_t *nb = realloc(lg->buf, nc);
      if (!nb) { e = JET_errOutOfMemory; break; }
      lg->buf = nb;
      lg->cap = nc;
    }
    uint8_t *p = lg->buf + lg->len;
    st32(p, (uint32_t)n);
    p[4] = type;
    p[5] = p[6] = p[7] = 0;
    if (n1) memcpy(p + 8, p1, n1);
    if (n2) memcpy(p + 8 + n1, p2, n2);
    st32(p + 8 + n, rec_crc(lg->gen, type, p1, n1, p2, n2));
    memset(p + REC_OVERHEAD + n, 0, (size_t)(framed - REC_OVERHEAD - n));
    if (lsn) *lsn = lg->end;
    lg->len += (size_t)framed;
    lg->end += framed;
    lg->nappends++;
    if (lg->delaying) pthread_cond_signal(&lg->appended);
    e = JET_errSuccess;
    break;
  }
  pthread_mutex_unlock(&lg->mu);
  return e;
}

JET_ERR log_append(eslog *lg, uint8_t type, const void *payload, size_t len, lsn_t *lsn) {
  return log_append2(lg, type, payload, len, NULL, 0, lsn);
}

lsn_t log_end(eslog *lg) {
  pthread_mutex_lock(&lg->mu);
  lsn_t v = lg->end;
  pthread_mutex_unlock(&lg->mu);
  return v;
}

lsn_t log_durable(eslog *lg) {
  pthread_mutex_lock(&lg->mu);
  lsn_t v = lg->durable;
  pthread_mutex_unlock(&lg->mu);
  return v;
}

uint32_t log_generation(eslog *lg) {
  pthread_mutex_lock(&lg->mu);
  uint32_t v = lg->gen;
  pthread_mutex_unlock(&lg->mu);
  return v;
}

const log_sig *log_signature(eslog *lg) { return &lg->sig; }

JET_ERR log_set_attachments(eslog *lg, const log_attach *att, uint32_t natt) {
  log_attach *a;
  JET_ERR e = attach_copy(att, natt, &a);
  if (e) return e;
  /* Check now that the table fits a header, so a later roll cannot fail. */
  uint8_t *hdr = malloc(LOG_HDR_SIZE);
  if (!hdr) { attach_free(a, natt); return JET_errOutOfMemory; }
  e = hdr_encode(hdr, 1, lg->page_size, lg->new_file_size, &lg->sig, 0, 0, a, natt);
  free(hdr);
  if (e) { attach_free(a, natt); return e; }
  pthread_mutex_lock(&lg->mu);
  log_attach *old = lg->att;
  uint32_t nold = lg->natt;
  lg->att = a;
  lg->natt = natt;
  pthread_mutex_unlock(&lg->mu);
  attach_free(old, nold);
  return JET_errSuccess;
}

int log_take_rolled(eslog *lg) {
  pthread_mutex_lock(&lg->mu);
  int r = lg->rolled;
  lg->rolled = 0;
  pthread_mutex_unlock(&lg->mu);
  return r;
}

/* ---- reader -------------------------------------------------------------- */
typedef struct rfile {
  char *path;
  log_header h;
  int current;
} rfile;

struct log_reader {
  esio *io;
  rfile *files;
  size_t n;
  size_t fi;          /* the file being read */
  int loaded, done, restore;
  uint32_t start_off; /* LSN_OFF(from) for the first file, 0: its first record */
  uint32_t pos;
  uint8_t *data;
  size_t data_cap;
  lsn_t end;
  JET_ERR err;        /* sticky */
};

void log_reader_close(log_reader *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n; i++) {
    free(r->files[i].path);
    log_header_clear(&r->files[i].h);
  }
  free(r->files);
  free(r->data);
  free(r);
}

/*
 * Which files are read, and the errors (choices where log.h leaves room):
 *  - LSN_GEN(from) == 0 means "from the lowest generation present".
 *  - The generations read are LSN_GEN(from), +1, ... as archived files
 *    B%08X.log, then (LOG_READ_CURRENT) B.log, whose generation must be the
 *    next one.  Every header is read and checked here, before any record.
 *  - The first generation missing: JET_errMissingLogFile when it would be
 *    B.log's (LOG_READ_CURRENT, no archived file at or above it, and B.log
 *    absent or of a lower generation); otherwise JET_errMissingPreviousLogFile.
 *  - A gap in the archived generations, archived files after the run, B.log
 *    not the next generation, or tm_prev_gen not matching the predecessor's
 *    tm_create: JET_errMissingPreviousLogFile (LOG_READ_RESTORE:
 *    JET_errGivenLogFileIsNotContiguous).  With LOG_READ_CURRENT and archived
 *    files read but B.log absent: JET_errMissingLogFile.
 *  - A header whose checksum or magic is bad, or whose generation differs
 *    from its file name: JET_errLogFileCorrupt (LOG_READ_RESTORE:
 *    JET_errLogCorruptDuringHardRestore).  Size mismatch:
 *    JET_errLogFileSizeMismatch.
 *  - Signature: compared with *sig, or when sig is NULL with the first
 *    file's: JET_errBadLogSignature.  page_size 0 accepts any page size.
 *  - LSN_OFF(from) must be 0 or an 8-aligned offset in [LOG_HDR_SIZE,
 *    file size] (else JET_errInvalidParameter).
 */
JET_ERR log_reader_open(esio *io, const char *dir, const char *base, uint32_t page_size,
                        const log_sig *sig, lsn_t from, int flags, log_reader **out) {
  if (!out || !io || !dir || !base) return JET_errInvalidParameter;
  *out = NULL;
  const int restore = (flags & LOG_READ_RESTORE) != 0, want_cur = (flags & LOG_READ_CURRENT) != 0;
  const JET_ERR err_contig = restore ? JET_errGivenLogFileIsNotContiguous : JET_errMissingPreviousLogFile;
  const JET_ERR err_corrupt = restore ? JET_errLogCorruptDuringHardRestore : JET_errLogFileCorrupt;
  scan_res s;
  JET_ERR e = scan_run(dir, base, &s);
  if (e) return e;
  log_reader *r = calloc(1, sizeof *r);
  if (!r) { scan_free(&s); return JET_errOutOfMemory; }
  r->io = io;
  r->restore = restore;
  r->start_off = LSN_OFF(from);

  /* The current file's header, when it is to be read. */
  log_header ch;
  memset(&ch, 0, sizeof ch);
  char *cpath = NULL;
  int have_cur = 0;
  if (want_cur && s.cur) {
    if (!(cpath = os_join(dir, s.cur))) { e = JET_errOutOfMemory; goto fail; }
    if ((e = log_read_header(io, cpath, &ch))) {
      if (e == JET_errLogFileCorrupt) e = err_corrupt;
      goto fail;
    }
    have_cur = 1;
  }
  uint32_t g0 = LSN_GEN(from);
  if (g0 == 0) g0 = s.n ? s.v[0].gen : have_cur ? ch.gen : 0;
  if (g0 == 0) { e = want_cur ? JET_errMissingLogFile : JET_errMissingPreviousLogFile; goto fail; }

  size_t i = 0;
  while (i < s.n && s.v[i].gen < g0) i++;
  size_t k = i;
  while (k < s.n && s.v[k].gen == g0 + (uint32_t)(k - i)) k++;
  size_t narch = k - i;
  if (narch == 0) {
    if (!want_cur) { e = JET_errMissingPreviousLogFile; goto fail; }
    if (!have_cur || ch.gen < g0) { e = i < s.n ? JET_errMissingPreviousLogFile : JET_errMissingLogFile; goto fail; }
    if (ch.gen > g0) { e = JET_errMissingPreviousLogFile; goto fail; }
    if (i < s.n) { e = err_contig; goto fail; }  /* archived files above B.log */
  } else {
    if (k < s.n) { e = err_contig; goto fail; }  /* a gap */
    if (want_cur) {
      if (!have_cur) { e = JET_errMissingLogFile; goto fail; }
      if (ch.gen != g0 + (uint32_t)narch) { e = err_contig; goto fail; }
    }
  }
  r->n = narch + (want_cur ? 1 : 0);
  if (!(r->files = calloc(r->n, sizeof *r->files))) { e = JET_errOutOfMemory; goto fail; }
  for (size_t j = 0; j < r->n; j++) {
    rfile *rf = &r->files[j];
    uint32_t expect = g0 + (uint32_t)j;
    if (j < narch) {
      if (!(rf->path = os_join(dir, s.v[i + j].name))) { e = JET_errOutOfMemory; goto fail; }
      if ((e = log_read_header(io, rf->path, &rf->h))) {
        if (e == JET_errLogFileCorrupt) e = err_corrupt;
        goto fail;
      }
    } else {
      rf->path = cpath;
      cpath = NULL;
      rf->h = ch;
      memset(&ch, 0, sizeof ch);
      rf->current = 1;
    }
    if (rf->h.gen != expect) { e = err_corrupt; goto fail; }
    const log_sig *want = sig ? sig : &r->files[0].h.sig;
    if (memcmp(rf->h.sig.b, want->b, sizeof want->b) != 0) { e = JET_errBadLogSignature; goto fail; }
    if (page_size && rf->h.page_size != page_size) { e = JET_errPageSizeMismatch; goto fail; }
    if (j > 0 && rf->h.tm_prev_gen != r->files[j - 1].h.tm_create) { e = err_contig; goto fail; }
  }
  if (r->start_off &&
      (r->start_off < LOG_HDR_SIZE || r->start_off % 8 != 0 || r->start_off > r->files[0].h.file_size)) {
    e = JET_errInvalidParameter;
    goto fail;
  }
  free(cpath);
  log_header_clear(&ch);
  scan_free(&s);
  *out = r;
  return JET_errSuccess;
fail:
  free(cpath);
  log_header_clear(&ch);
  scan_free(&s);
  log_reader_close(r);
  return e;
}

JET_ERR log_reader_next(log_reader *r, log_record *rec) {
  if (r->err) return r->err;
  for (;;) {
    if (r->done) return 1;
    rfile *rf = &r->files[r->fi];
    uint32_t fs = rf->h.file_size, gen = rf->h.gen;
    if (!r->loaded) {
      JET_ERR e = load_file(r->io, rf->path, fs, &r->data, &r->data_cap);
      if (e) return r->err = e;
      r->pos = (r->fi == 0 && r->start_off) ? r->start_off : LOG_HDR_SIZE;
      r->loaded = 1;
    }
    const uint8_t *d = r->data;
    uint32_t pos = r->pos;
    if ((uint64_t)pos + 4 <= fs && ld32(d + pos) != 0) {
      uint32_t fr = rec_check(d, fs, pos, gen);
      if (fr) {
        rec->lsn = LSN(gen, pos);
        rec->type = d[pos + 4];
        rec->len = ld32(d + pos);
        rec->payload = d + pos + 8;
        r->pos = pos + fr;
        return 0;
      }
      int later = valid_after(d, fs, pos, gen);
      if (rf->current && !later) {  /* torn tail: the log ends here */
        r->done = 1;
        r->end = LSN(gen, pos);
        return 1;
      }
      if (r->restore) return r->err = later ? JET_errLogCorruptDuringHardRestore : JET_errLogTornWriteDuringHardRestore;
      return r->err = JET_errLogFileCorrupt;
    }
    /* End of this file's data.  A finished generation is zeros from here
     * on; in the current one, a valid record further on means a hole in
     * the middle of the log, not a tail. */
    if (rf->current ? valid_after(d, fs, pos, gen) : !all_zero(d + pos, fs - pos))
      return r->err = r->restore ? JET_errLogCorruptDuringHardRestore : JET_errLogFileCorrupt;
    if (rf->current) {
      r->done = 1;
      r->end = LSN(gen, pos);
      return 1;
    }
    if (r->fi + 1 == r->n) {
      r->done = 1;
      r->end = LSN(gen + 1, 0);  /* archived files only: the next generation */
      return 1;
    }
    r->fi++;
    r->loaded = 0;
  }
}

lsn_t log_reader_end(log_reader *r) {
  if (r->done) return r->end;
  const rfile *rf = &r->files[r->fi];
  return LSN(rf->h.gen, r->loaded ? r->pos : (r->fi == 0 && r->start_off) ? r->start_off : LOG_HDR_SIZE);
}

const log_header *log_reader_header(log_reader *r) { return &r->files[r->fi].h; }

/* ---- verification -------------------------------------------------------- */
/* Header problems (checksum, magic, size, generation differing from an
 * archived name): JET_errLogFileCorrupt; page size differing (page_size !=
 * 0): JET_errPageSizeMismatch; a bad record: JET_errLogReadVerifyFailure,
 * except a torn tail (bad record, nothing valid after) in a file named like
 * a current log ("XXX.log"); I/O errors as they come. */
JET_ERR log_load_verified(esio *io, const char *path, uint32_t page_size, uint8_t **image, uint32_t *size) {
  *image = NULL;
  *size = 0;
  log_header h;
  JET_ERR e = log_read_header(io, path, &h);
  if (e == JET_errLogFileSizeMismatch) return JET_errLogFileCorrupt;
  if (e) return e;
  const char *name = strrchr(path, '/');
  name = name ? name + 1 : path;
  size_t nl = strlen(name);
  int current = 0;
  if (nl >= 4 && strcasecmp(name + nl - 4, ".log") == 0) {
    if (nl == 7) {
      current = 1;
    } else if (nl == 15) {
      char b[4];
      memcpy(b, name, 3);
      b[3] = '\0';
      uint32_t g;
      if (log_parse_name(name, b, &g) == 1 && g != h.gen) e = JET_errLogFileCorrupt;
    }
  }
  if (!e && page_size && h.page_size != page_size) e = JET_errPageSizeMismatch;
  uint8_t *d = NULL;
  size_t cap = 0;
  if (!e) e = load_file(io, path, h.file_size, &d, &cap);
  /* the header again, from the very bytes handed out */
  log_header h2;
  if (!e && hdr_decode(d, &h2) != JET_errSuccess) e = JET_errLogFileCorrupt;
  if (!e) {
    if (h2.gen != h.gen || h2.file_size != h.file_size) e = JET_errLogFileCorrupt;
    log_header_clear(&h2);
  }
  uint32_t pos = LOG_HDR_SIZE;
  while (!e && (uint64_t)pos + 4 <= h.file_size && ld32(d + pos) != 0) {
    uint32_t fr = rec_check(d, h.file_size, pos, h.gen);
    if (fr) { pos += fr; continue; }
    if (!(current && !valid_after(d, h.file_size, pos, h.gen))) e = JET_errLogReadVerifyFailure;
    break;
  }
  /* a finished generation is zeros after its last record */
  if (!e && !current && !all_zero(d + pos, h.file_size - pos)) e = JET_errLogReadVerifyFailure;
  if (e) free(d);
  else {
    *image = d;
    *size = h.file_size;
  }
  log_header_clear(&h);
  return e;
}

JET_ERR log_verify_file(esio *io, const char *path, uint32_t page_size) {
  uint8_t *d;
  uint32_t n;
  JET_ERR e = log_load_verified(io, path, page_size, &d, &n);
  free(d);
  return e;
}
