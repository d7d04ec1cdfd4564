/* log_format.c -- the log's file format, shared by the writer and the
 * reader: record checksums, headers, file names, the folder scan, record
 * checks (format: log.h). */
#include "log_format.h"
#include "crc32c.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <assert.h>

const uint8_t log_magic[8] = {'E', 'S', 'E', 'L', 'O', 'G', 0, 5};

uint32_t log_seed(uint32_t gen, const log_sig *sig, uint32_t features) {
  return (features & LOG_FEATURE_SEEDED) ? crc32c(gen, sig->b, sizeof sig->b) : gen;
}

uint32_t log_hdr_seed(const log_header *h) { return log_seed(h->gen, &h->sig, h->features); }

uint32_t log_rec_crc(uint32_t seed, uint8_t type, const void *p1, size_t n1, const void *p2, size_t n2) {
  uint32_t c = crc32c(seed, &type, 1);
  if (n1) c = crc32c(c, p1, n1);
  if (n2) c = crc32c(c, p2, n2);
  return c;
}

/* ---- attachments and headers ------------------------------------------- */
#define HDR_FEATURES 56u
#define HDR_NATTACH 60u
#define HDR_TABLE 64u

static size_t slen(const char *p) { return p ? strlen(p) : 0; }

size_t log_entry_size(const log_attach *a) { return 24 + slen(a->path) + slen(a->rel); }

void log_entry_put(uint8_t *p, const log_attach *a) {
  size_t n = slen(a->path), r = slen(a->rel);
  st32(p, a->dbid);
  memcpy(p + 4, a->sig, 16);
  st16(p + 20, (uint16_t)n);
  st16(p + 22, (uint16_t)r);
  if (n) memcpy(p + 24, a->path, n);
  if (r) memcpy(p + 24 + n, a->rel, r);
}

void log_entry_clear(log_attach *a) {
  free(a->path);
  free(a->rel);
  memset(a, 0, sizeof *a);
}

static char *dup_n(const uint8_t *p, size_t n) {
  char *s = malloc(n + 1);
  if (s) { memcpy(s, p, n); s[n] = 0; }
  return s;
}

JET_ERR log_entry_get(const uint8_t *p, size_t n, log_attach *a, size_t *used) {
  memset(a, 0, sizeof *a);
  size_t head = 24;
  if (n < head) return JET_errLogFileCorrupt;
  size_t plen = ld16(p + 20), rlen = ld16(p + 22);
  if (n - head < plen + rlen) return JET_errLogFileCorrupt;
  a->dbid = ld32(p);
  memcpy(a->sig, p + 4, 16);
  if (!(a->path = dup_n(p + head, plen)) || !(a->rel = dup_n(p + head + plen, rlen))) {
    log_entry_clear(a);
    return JET_errOutOfMemory;
  }
  *used = head + plen + rlen;
  return JET_errSuccess;
}

void log_attach_free(log_attach *a, uint32_t n) {
  if (!a) return;
  for (uint32_t i = 0; i < n; i++) log_entry_clear(&a[i]);
  free(a);
}

JET_ERR log_attach_copy(const log_attach *src, uint32_t n, log_attach **out) {
  *out = NULL;
  if (n == 0) return JET_errSuccess;
  if (!src) return JET_errInvalidParameter;
  log_attach *a = calloc(n, sizeof *a);
  if (!a) return JET_errOutOfMemory;
  for (uint32_t i = 0; i < n; i++) {
    a[i].dbid = src[i].dbid;
    memcpy(a[i].sig, src[i].sig, 16);
    a[i].path = strdup(src[i].path ? src[i].path : "");
    a[i].rel = strdup(src[i].rel ? src[i].rel : "");
    if (!a[i].path || !a[i].rel) { log_attach_free(a, n); return JET_errOutOfMemory; }
  }
  *out = a;
  return JET_errSuccess;
}

void log_header_clear(log_header *h) {
  if (!h) return;
  log_attach_free(h->attach, h->nattach);
  memset(h, 0, sizeof *h);
}

size_t log_attach_path_max(void) { return LOG_HDR_SIZE - HDR_TABLE - 24; }

int log_attach_fits(const log_attach *att, uint32_t natt) {
  size_t bare = HDR_TABLE;
  for (uint32_t i = 0; i < natt; i++) {
    if (slen(att[i].path) > 0xFFFF) return 0;
    bare += 24 + slen(att[i].path);
  }
  return bare <= LOG_HDR_SIZE;
}

/* Serializes a header into b[LOG_HDR_SIZE]; JET_errInvalidParameter when the
 * attachment table does not fit even without its relative paths (a table
 * that fits only without them is written without them: relative unknown). */
JET_ERR log_hdr_encode(uint8_t *b, uint32_t gen, uint32_t page_size, uint32_t file_size, const log_sig *sig,
                          uint64_t tm_create, uint64_t tm_prev, const log_attach *att, uint32_t natt) {
  memset(b, 0, LOG_HDR_SIZE);
  memcpy(b + 4, log_magic, 8);
  st32(b + 12, gen);
  st32(b + 16, page_size);
  st32(b + 20, file_size);
  memcpy(b + 24, sig->b, 16);
  st64(b + 40, tm_create);
  st64(b + 48, tm_prev);
  st32(b + HDR_FEATURES, LOG_FEATURES_WRITTEN);
  st32(b + HDR_NATTACH, natt);
  size_t total = HDR_TABLE;
  for (uint32_t i = 0; i < natt; i++) {
    if (slen(att[i].rel) > 0xFFFF) return JET_errInvalidParameter;
    total += log_entry_size(&att[i]);
  }
  if (!log_attach_fits(att, natt)) return JET_errInvalidParameter;
  size_t off = HDR_TABLE;
  for (uint32_t i = 0; i < natt; i++) {
    log_attach a = att[i];
    if (total > LOG_HDR_SIZE) a.rel = NULL;
    log_entry_put(b + off, &a);
    off += log_entry_size(&a);
  }
  st32(b, crc32c(0, b + 4, LOG_HDR_SIZE - 4));
  return JET_errSuccess;
}

JET_ERR log_hdr_decode(const uint8_t *b, log_header *h) {
  memset(h, 0, sizeof *h);
  if (ld32(b) != crc32c(0, b + 4, LOG_HDR_SIZE - 4)) return JET_errLogFileCorrupt;
  /* "ESELOG\0" and a format byte: 1 .. 4 are older formats, never read */
  if (memcmp(b + 4, log_magic, 7) != 0) return JET_errLogFileCorrupt;
  if (b[11] != log_magic[7]) return b[11] >= 1 && b[11] < log_magic[7] ? JET_errBadLogVersion : JET_errLogFileCorrupt;
  if (ld32(b + HDR_FEATURES) & ~LOG_FEATURES_KNOWN) return JET_errBadLogVersion;
  h->features = ld32(b + HDR_FEATURES);
  h->gen = ld32(b + 12);
  h->page_size = ld32(b + 16);
  h->file_size = ld32(b + 20);
  memcpy(h->sig.b, b + 24, 16);
  h->tm_create = ld64(b + 40);
  h->tm_prev_gen = ld64(b + 48);
  uint32_t n = ld32(b + HDR_NATTACH);
  if (h->gen == 0 || h->gen > LOG_MAX_GEN || h->file_size < LOG_MIN_FILE_SIZE || h->file_size % 1024 != 0 ||
      n > (LOG_HDR_SIZE - HDR_TABLE) / 24)
    return JET_errLogFileCorrupt;
  if (n) {
    if (!(h->attach = calloc(n, sizeof *h->attach))) return JET_errOutOfMemory;
    h->nattach = n;
    size_t off = HDR_TABLE, used;
    for (uint32_t i = 0; i < n; i++, off += used) {
      JET_ERR e = log_entry_get(b + off, LOG_HDR_SIZE - off, &h->attach[i], &used);
      if (e) { log_header_clear(h); return e; }
    }
  }
  return JET_errSuccess;
}

JET_ERR log_read_header_of(esfile *f, log_header *h) {
  memset(h, 0, sizeof *h);
  uint8_t *b = malloc(LOG_HDR_SIZE);
  if (!b) return JET_errOutOfMemory;
  size_t got = 0;
  uint64_t size = 0;
  JET_ERR e = os_pread(f, b, LOG_HDR_SIZE, 0, &got);
  if (!e) e = os_size(f, &size);
  if (!e && got < LOG_HDR_SIZE) e = JET_errLogFileCorrupt;
  if (!e) e = log_hdr_decode(b, h);
  free(b);
  if (!e && h->file_size != size) e = JET_errLogFileSizeMismatch;
  if (e) log_header_clear(h);
  return e;
}

JET_ERR log_read_header(esio *io, const char *path, log_header *h) {
  memset(h, 0, sizeof *h);
  esfile *f;
  JET_ERR e = os_open(io, path, OS_READ, &f);
  if (e) return e;
  e = log_read_header_of(f, h);
  os_close(f);
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

int log_parse_name_exact(const char *name, const char *base, uint32_t *gen) {
  return name && base && strncmp(name, base, strlen(base)) == 0 ? log_parse_name(name, base, gen) : 0;
}

/* The log files of a folder: archived generations (sorted, one name per
 * generation, the canonical spelling preferred) and the current file.
 * The base name is matched exactly: a live folder may hold the streams of
 * two instances whose base names differ only by case ("edb", "EDB"); a
 * restore reads a set's logs by their own names (restore.c). */

static JET_ERR scan_cb(const char *name, void *ud) {
  scan_res *s = ud;
  uint32_t gen = 0;
  int k = log_parse_name_exact(name, s->base, &gen);
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

void log_scan_free(scan_res *s) {
  for (size_t i = 0; i < s->n; i++) free(s->v[i].name);
  free(s->v);
  free(s->cur);
  memset(s, 0, sizeof *s);
}

JET_ERR log_scan_run(const char *dir, const char *base, scan_res *s) {
  memset(s, 0, sizeof *s);
  s->base = base;
  JET_ERR e = os_list_dir(dir, scan_cb, s);
  if (e) { log_scan_free(s); return e; }
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
  JET_ERR e = log_scan_run(dir, base, &s);
  if (e) return e;
  if (lo) *lo = s.n ? s.v[0].gen : 0;
  if (hi) *hi = s.n ? s.v[s.n - 1].gen : 0;
  if (has_current) *has_current = s.cur != NULL;
  log_scan_free(&s);
  return JET_errSuccess;
}

/* ---- records ------------------------------------------------------------ */
/* The framed size of a valid record at pos of file data d (fsize bytes) of
 * generation gen, or 0: sane length, zero reserved bytes, matching crc. */
uint32_t log_rec_check(const uint8_t *d, uint32_t fsize, uint32_t pos, uint32_t seed) {
  if ((uint64_t)pos + REC_MIN > fsize) return 0;
  const uint8_t *p = d + pos;
  uint32_t len = ld32(p);
  if (len == 0 || p[5] || p[6] || p[7]) return 0;
  uint64_t fr = rec_framed(len);
  if (fr > (uint64_t)fsize - pos) return 0;
  if (log_rec_crc(seed, p[4], p + 8, len, NULL, 0) != ld32(p + 8 + len)) return 0;
  return (uint32_t)fr;
}

void log_end_encode(uint8_t *p, uint32_t seed, uint32_t pos, uint32_t count) {
  uint8_t pl[LR_END_LEN];
  st32(pl, pos);
  st32(pl + 4, count);
  memset(p, 0, LR_END_FRAMED);
  st32(p, LR_END_LEN);
  p[4] = LR_END;
  memcpy(p + 8, pl, LR_END_LEN);
  st32(p + 8 + LR_END_LEN, log_rec_crc(seed, LR_END, pl, LR_END_LEN, NULL, 0));
}

uint32_t log_data_end(const uint8_t *d, uint32_t fsize, uint32_t seed, uint32_t *count, uint32_t *last) {
  uint32_t pos = LOG_DATA_START, n = 0, at = 0, fr, np;
  for (;;) {
    if ((fr = log_rec_check(d, fsize, pos, seed))) {
      at = pos;
      pos += fr;
      n++;
    } else if ((np = log_skip_pad(d, fsize, pos)) != pos) {
      pos = np;
    } else {
      break;
    }
  }
  if (count) *count = n;
  if (last) *last = n ? at : UINT32_MAX;
  return pos;
}

int log_close_image(uint8_t *d, const log_header *h, uint32_t *at) {
  if (!(h->features & LOG_FEATURE_ENDMARK)) return 0;
  uint32_t fs = h->file_size, seed = log_hdr_seed(h), n, last;
  uint32_t pos = log_data_end(d, fs, seed, &n, &last);
  if (n && d[last + 4] == LR_END) return 0;   /* closed by a roll already */
  if ((uint64_t)pos + LR_END_FRAMED > fs) return -1;
  log_end_encode(d + pos, seed, pos, n);
  if (at) *at = pos;
  return 1;
}

int log_end_check(const uint8_t *d, uint32_t fsize, uint32_t pos, uint32_t seed, uint32_t count) {
  if (log_rec_check(d, fsize, pos, seed) != LR_END_FRAMED) return 0;
  const uint8_t *p = d + pos;
  return ld32(p) == LR_END_LEN && p[4] == LR_END && ld32(p + 8) == pos && (count == UINT32_MAX || ld32(p + 12) == count);
}

/* Is there a valid record at any 8-aligned offset after pos? */
int log_valid_after(const uint8_t *d, uint32_t fsize, uint32_t pos, uint32_t seed) {
  for (uint64_t p = (uint64_t)pos + 8; p + REC_MIN <= fsize; p += 8)
    if (log_rec_check(d, fsize, (uint32_t)p, seed)) return 1;
  return 0;
}

/* Reads a whole file of size bytes into *buf (grown as needed). */
JET_ERR log_load_file(esio *io, const char *path, uint32_t size, uint8_t **buf, size_t *cap) {
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

int log_all_zero(const uint8_t *p, size_t n) {
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

/* ---- padding and shadow slots (log.h) ------------------------------------ */
uint32_t log_skip_pad(const uint8_t *d, uint32_t fsize, uint32_t pos) {
  uint32_t in = pos % LOG_BLOCK;
  if (in <= LOG_BLOCK - LOG_SLOT_HEAD || pos >= fsize) return pos;
  uint32_t next = pos - in + LOG_BLOCK;
  if (next > fsize) next = fsize;
  return log_all_zero(d + pos, next - pos) ? next : pos;
}

void log_slot_encode(uint8_t *p, uint32_t gen, uint64_t seq, uint32_t s, uint32_t e, const uint8_t *block) {
  memset(p, 0, LOG_SLOT_HEAD);
  st32(p + 4, gen);
  st64(p + 8, seq);
  st32(p + 16, e / LOG_BLOCK);
  st32(p + 20, s);
  st32(p + 24, e);
  uint32_t n = e % LOG_BLOCK;
  assert(n <= LOG_BLOCK - LOG_SLOT_HEAD);
  memcpy(p + LOG_SLOT_HEAD, block, n);
  memset(p + LOG_SLOT_HEAD + n, 0, LOG_BLOCK - LOG_SLOT_HEAD - n);
  st32(p, crc32c(0, p + 4, LOG_BLOCK - 4));
}

int log_slot_decode(const uint8_t *p, uint32_t gen, uint32_t fsize, log_slot *sl) {
  memset(sl, 0, sizeof *sl);
  if (ld32(p) != crc32c(0, p + 4, LOG_BLOCK - 4)) return 0;
  sl->seq = ld64(p + 8);
  sl->q = ld32(p + 16);
  sl->s = ld32(p + 20);
  sl->e = ld32(p + 24);
  sl->block = p + LOG_SLOT_HEAD;
  return ld32(p + 4) == gen && sl->seq != 0 && ld32(p + 28) == 0 && sl->s >= LOG_DATA_START && sl->s <= sl->e &&
         sl->e <= fsize && sl->q == sl->e / LOG_BLOCK && sl->e % LOG_BLOCK <= LOG_BLOCK - LOG_SLOT_HEAD;
}

/* Rule (1) of log.h at x: the valid slots (newest first) whose block is at
 * or after block(x) and whose durable end is past x; the first whose block
 * yields a valid record at x stays in d.  1 and the block's offset in *off. */
static int substitute(uint8_t *d, uint32_t fs, uint32_t seed, uint32_t x, log_slot *sl, int *used, uint32_t *off) {
  uint8_t save[LOG_BLOCK];
  int order[2] = { 0, 1 };
  if (sl[1].seq > sl[0].seq) { order[0] = 1; order[1] = 0; }
  for (int k = 0; k < 2; k++) {
    log_slot *s = &sl[order[k]];
    if (used[order[k]] || !s->seq || x >= s->e || s->q < x / LOG_BLOCK) continue;
    uint32_t at = s->q * LOG_BLOCK, n = fs - at < LOG_BLOCK ? fs - at : LOG_BLOCK;
    uint32_t keep = n < LOG_BLOCK - LOG_SLOT_HEAD ? n : LOG_BLOCK - LOG_SLOT_HEAD;
    memcpy(save, d + at, n);
    memcpy(d + at, s->block, keep);
    memset(d + at + keep, 0, n - keep);
    if (log_rec_check(d, fs, x, seed)) {
      used[order[k]] = 1;
      *off = at;
      return 1;
    }
    memcpy(d + at, save, n);
  }
  return 0;
}

JET_ERR log_walk_current(uint8_t *d, uint32_t fs, uint32_t gen, uint32_t seed, uint32_t pos, log_walk *w) {
  memset(w, 0, sizeof *w);
  log_slot sl[2];
  int nvalid = 0, ndamaged = 0, used[2] = { 0, 0 };
  for (int i = 0; i < 2; i++) {
    const uint8_t *p = d + (i ? LOG_SLOT_B : LOG_SLOT_A);
    if (log_slot_decode(p, gen, fs, &sl[i])) nvalid++;
    else {
      memset(&sl[i], 0, sizeof sl[i]);
      ndamaged += !log_all_zero(p, LOG_BLOCK);
    }
  }
  /* No valid slot: no durable flush of this file finished (both zero, or
   * the first one's slot write torn), so all of it is a tail (S = the
   * first record); both slots damaged: nothing is known, a bad record is
   * a tail only when nothing valid follows. */
  uint32_t s_new = nvalid ? (sl[1].seq > sl[0].seq ? sl[1].s : sl[0].s) : LOG_DATA_START;
  int known = nvalid || ndamaged < 2;
  for (;;) {
    if (pos >= fs) break;
    uint32_t fr = log_rec_check(d, fs, pos, seed);
    if (fr) { pos += fr; continue; }
    uint32_t np = log_skip_pad(d, fs, pos);
    if (np != pos) { pos = np; continue; }
    uint32_t off;
    if (w->nsub < 2 && substitute(d, fs, seed, pos, sl, used, &off)) {
      w->sub[w->nsub++] = off;
      continue;
    }
    if (known ? pos >= s_new : !log_valid_after(d, fs, pos, seed)) break;   /* rule (2): the tail */
    w->end = pos;
    return JET_errLogFileCorrupt;                                          /* rule (3) */
  }
  w->end = pos;
  return JET_errSuccess;
}
