/* log_reader.c -- reading the log: the reader that recovery, restore and
 * `ese check` share, and whole-file verification for backups (format:
 * log.h). */
#include "log_format.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int log_follows(const log_header *prev, const log_header *next) {
  /* no generation follows the last one (gen + 1 would wrap to 0) */
  return prev->gen < UINT32_MAX && next->gen == prev->gen + 1 && next->tm_prev_gen == prev->tm_create;
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
  int closed;         /* LOG_READ_CLOSED (an image): its generation has a successor */
  int ended;          /* the file being read: its LR_END was read */
  uint32_t nrec;      /* the file being read: records read (UINT32_MAX: started inside it) */
  uint32_t start_off; /* LSN_OFF(from) for the first file, 0: its first record */
  uint32_t pos;
  uint32_t cur_end;   /* B.log loaded: where its log ends (log_walk_current) */
  log_walk walk;      /* B.log: the blocks taken from slots */
  JET_ERR walk_err;   /* B.log: corrupt at cur_end (reported when reached) */
  uint8_t *data;
  size_t data_cap;
  lsn_t end;
  JET_ERR err;        /* sticky */
  char why[160];      /* log_reader_problem */
};

/* The reader's error at a generation's end record: why[] names the file. */
static JET_ERR end_fault(log_reader *r, const rfile *rf, JET_ERR e, const char *what) {
  const char *name = rf->path ? strrchr(rf->path, '/') : NULL;
  name = name ? name + 1 : rf->path;
  if (name) snprintf(r->why, sizeof r->why, "log %s (generation %u) %s", name, (unsigned)rf->h.gen, what);
  else snprintf(r->why, sizeof r->why, "log generation %u %s", (unsigned)rf->h.gen, what);
  return r->err = e;
}

const char *log_reader_problem(const log_reader *r) { return r->why[0] ? r->why : NULL; }

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
 *  - LSN_OFF(from) must be 0 or an 8-aligned offset in [LOG_DATA_START,
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
  JET_ERR e = log_scan_run(dir, base, &s);
  if (e) return e;
  log_reader *r = calloc(1, sizeof *r);
  if (!r) { log_scan_free(&s); return JET_errOutOfMemory; }
  r->io = io;
  r->restore = restore;
  r->closed = (flags & LOG_READ_CLOSED) != 0;   /* the last file read is closed too (a restore's replay) */
  r->start_off = LSN_OFF(from);

  /* The current file's header, when it is to be read. */
  log_header ch;
  memset(&ch, 0, sizeof ch);
  char *cpath = NULL;
  int have_cur = 0;
  if (want_cur && s.cur) {
    if (!(cpath = os_join(dir, s.cur))) { e = JET_errOutOfMemory; goto fail; }
    if ((e = log_read_header(io, cpath, &ch))) {
      if (e == JET_errLogFileCorrupt) e = err_corrupt;   /* JET_errBadLogVersion stays */
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
  size_t nfiles = narch + (want_cur ? 1 : 0);
  /* r->n counts files only once they exist: log_reader_close (fail) walks them */
  if (!(r->files = calloc(nfiles, sizeof *r->files))) { e = JET_errOutOfMemory; goto fail; }
  r->n = nfiles;
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
    if (j > 0 && !log_follows(&r->files[j - 1].h, &rf->h)) { e = err_contig; goto fail; }
  }
  if (r->start_off &&
      (r->start_off < LOG_DATA_START || r->start_off % 8 != 0 || r->start_off > r->files[0].h.file_size)) {
    e = JET_errInvalidParameter;
    goto fail;
  }
  free(cpath);
  log_header_clear(&ch);
  log_scan_free(&s);
  *out = r;
  return JET_errSuccess;
fail:
  free(cpath);
  log_header_clear(&ch);
  log_scan_free(&s);
  log_reader_close(r);
  return e;
}

JET_ERR log_reader_open_image(uint8_t *d, uint32_t size, int flags, log_reader **out) {
  *out = NULL;
  log_reader *r = calloc(1, sizeof *r);
  if (!r || !(r->files = calloc(1, sizeof *r->files))) {
    free(r);
    free(d);
    return JET_errOutOfMemory;
  }
  r->n = 1;
  r->restore = (flags & LOG_READ_RESTORE) != 0;
  r->closed = (flags & LOG_READ_CLOSED) != 0;
  r->data = d;
  r->data_cap = size;
  JET_ERR e = size < LOG_HDR_SIZE ? JET_errLogFileCorrupt : log_hdr_decode(d, &r->files[0].h);
  if (e == JET_errSuccess && r->files[0].h.file_size != size) e = JET_errLogFileSizeMismatch;
  if (e) {
    log_reader_close(r);
    return e;
  }
  r->loaded = 1;        /* log_reader_next reads d as a finished generation's file */
  r->pos = LOG_DATA_START;
  *out = r;
  return JET_errSuccess;
}

JET_ERR log_reader_next(log_reader *r, log_record *rec) {
  if (r->err) return r->err;
  const JET_ERR err_corrupt = r->restore ? JET_errLogCorruptDuringHardRestore : JET_errLogFileCorrupt;
  for (;;) {
    if (r->done) return 1;
    rfile *rf = &r->files[r->fi];
    uint32_t fs = rf->h.file_size, gen = rf->h.gen, seed = log_hdr_seed(&rf->h);
    if (!r->loaded) {
      JET_ERR e = log_load_file(r->io, rf->path, fs, &r->data, &r->data_cap);
      if (e) return r->err = e;
      r->pos = (r->fi == 0 && r->start_off) ? r->start_off : LOG_DATA_START;
      r->nrec = r->pos == LOG_DATA_START ? 0 : UINT32_MAX;
      r->ended = 0;
      /* B.log: where it ends, blocks from the slots put in place (log.h) */
      if (rf->current) r->walk_err = log_walk_current(r->data, fs, gen, seed, r->pos, &r->walk);
      r->cur_end = r->walk.end;
      r->loaded = 1;
    }
    const uint8_t *d = r->data;
    uint32_t pos = r->pos;
    if (rf->current ? pos < r->cur_end : (uint64_t)pos + 4 <= fs && ld32(d + pos) != 0) {
      uint32_t fr = log_rec_check(d, fs, pos, seed);
      /* a generation's LR_END is its last record: none after it */
      if (fr && r->ended) return end_fault(r, rf, err_corrupt, "has records after its end record");
      if (fr && d[pos + 4] == LR_END && (rf->h.features & LOG_FEATURE_ENDMARK)) {
        if (!log_end_check(d, fs, pos, seed, r->nrec))
          return end_fault(r, rf, err_corrupt, "has an end record that does not match its records");
        r->ended = 1;
        r->pos = pos + fr;
        continue;
      }
      if (fr) {
        if (r->nrec != UINT32_MAX) r->nrec++;
        rec->lsn = LSN(gen, pos);
        rec->type = d[pos + 4];
        rec->len = ld32(d + pos);
        rec->payload = d + pos + 8;
        rec->features = rf->h.features;
        r->pos = pos + fr;
        return 0;
      }
      uint32_t np = log_skip_pad(d, fs, pos);
      if (np != pos) { r->pos = np; continue; }
      assert(!rf->current);   /* the walk went the same way */
      if (r->restore)
        return r->err = log_valid_after(d, fs, pos, seed) ? JET_errLogCorruptDuringHardRestore
                                                         : JET_errLogTornWriteDuringHardRestore;
      return r->err = JET_errLogFileCorrupt;
    }
    if (rf->current) {
      if (r->walk_err) return r->err = err_corrupt;
      r->done = 1;
      r->end = LSN(gen, pos);
      return 1;
    }
    /* End of a finished generation's data: padding, then zeros to the end. */
    uint32_t np = log_skip_pad(d, fs, pos);
    if (np != pos) { r->pos = np; continue; }
    if (!log_all_zero(d + pos, fs - pos)) return r->err = err_corrupt;
    /* a closed generation ends in its LR_END: bytes cut from its end are
     * not a shorter generation.  Closed: a successor follows, or
     * LOG_READ_CLOSED, or it is a numbered file of a folder (only B.log
     * is open; the last archived one too was closed by its roll) */
    if ((rf->h.features & LOG_FEATURE_ENDMARK) && !r->ended && (r->fi + 1 < r->n || r->closed || rf->path))
      return end_fault(r, rf, err_corrupt, "is closed but lacks its end record: its tail is missing (cut or zeroed)");
    if (r->fi + 1 == r->n) {
      r->done = 1;
      r->end = LSN(gen + 1, 0);  /* archived files only: the next generation */
      return 1;
    }
    r->fi++;
    r->loaded = 0;
  }
}

JET_ERR log_reader_write_back(log_reader *r) {
  if (!r->loaded || !r->files[r->fi].current || r->walk.nsub == 0) return JET_errSuccess;
  const rfile *rf = &r->files[r->fi];
  esfile *f;
  JET_ERR e = os_open(r->io, rf->path, OS_WRITE, &f);
  if (e) return e;
  for (uint32_t i = 0; !e && i < r->walk.nsub; i++) {
    uint32_t at = r->walk.sub[i], n = rf->h.file_size - at < LOG_BLOCK ? rf->h.file_size - at : LOG_BLOCK;
    e = os_pwrite(f, r->data + at, n, at);
  }
  if (!e) e = os_sync(f);
  os_close(f);
  return e;
}

lsn_t log_reader_end(log_reader *r) {
  if (r->done) return r->end;
  const rfile *rf = &r->files[r->fi];
  return LSN(rf->h.gen, r->loaded ? r->pos : (r->fi == 0 && r->start_off) ? r->start_off : LOG_DATA_START);
}

const log_header *log_reader_header(log_reader *r) { return &r->files[r->fi].h; }

/* ---- verification -------------------------------------------------------- */
/* Header problems (checksum, magic, size, generation differing from an
 * archived name): JET_errLogFileCorrupt; page size differing (page_size !=
 * 0): JET_errPageSizeMismatch; a bad record: JET_errLogReadVerifyFailure,
 * except a torn tail (bad record, nothing valid after) in a file named like
 * a current log ("XXX.log"); I/O errors as they come. */
JET_ERR log_verify_image(uint8_t *d, const log_header *h, int current, int *end_rec) {
  if (end_rec) *end_rec = -1;
  uint32_t pos = LOG_DATA_START, fsize = h->file_size, gen = h->gen, seed = log_hdr_seed(h);
  log_walk w;
  if (current == 1)
    return log_walk_current(d, fsize, gen, seed, pos, &w) ? JET_errLogReadVerifyFailure : JET_errSuccess;
  uint32_t nrec = 0;
  int ended = 0;
  for (;;) {
    uint32_t fr = log_rec_check(d, fsize, pos, seed), np;
    if (fr && ended) return JET_errLogReadVerifyFailure;   /* LR_END is the last record */
    if (fr && d[pos + 4] == LR_END && (h->features & LOG_FEATURE_ENDMARK)) {
      if (!log_end_check(d, fsize, pos, seed, nrec)) return JET_errLogReadVerifyFailure;
      ended = 1;
    }
    if (fr) {
      pos += fr;
      nrec++;
    } else if ((np = log_skip_pad(d, fsize, pos)) != pos) pos = np;
    else break;
  }
  if (end_rec && (h->features & LOG_FEATURE_ENDMARK)) *end_rec = ended;
  /* a finished generation is zeros after its last record (damage before
   * the end is told as such, not as a missing end record) */
  if (!log_all_zero(d + pos, fsize - pos)) return JET_errLogReadVerifyFailure;
  /* a closed generation ends in its LR_END: JET_errLogFileCorrupt, its
   * tail is missing (log.h) */
  if (current == LOG_VERIFY_CLOSED && (h->features & LOG_FEATURE_ENDMARK) && !ended) return JET_errLogFileCorrupt;
  return JET_errSuccess;
}

int log_verify_kind(const char *name, size_t nl, uint32_t *gen) {
  if (nl < 4 || strncasecmp(name + nl - 4, ".log", 4) != 0) return 0;
  if (nl == 7) return 1;   /* "edb.log": the current generation */
  if (nl != 15) return 0;
  char n[16], b[4];
  memcpy(n, name, 15);   /* name may go on (NAME.zst's NAME) */
  n[15] = '\0';
  memcpy(b, name, 3);
  b[3] = '\0';
  /* "edb0000002A.log": a numbered generation, closed by the roll that named it */
  return log_parse_name(n, b, gen) == 1 ? LOG_VERIFY_CLOSED : 0;
}

JET_ERR log_load_verified(esio *io, const char *path, uint32_t page_size, uint8_t **image, uint32_t *size,
                          int *end_rec) {
  *image = NULL;
  *size = 0;
  /* one handle: the header is decoded from the very bytes handed out */
  esfile *f;
  JET_ERR e = os_open(io, path, OS_READ, &f);
  if (e) return e;
  log_header h;
  memset(&h, 0, sizeof h);
  uint64_t fsize = 0;
  uint8_t *d = malloc(LOG_HDR_SIZE);
  if (!d) e = JET_errOutOfMemory;
  if (!e) e = os_size(f, &fsize);
  if (!e) e = fsize < LOG_HDR_SIZE ? JET_errLogFileCorrupt : os_pread_full(f, d, LOG_HDR_SIZE, 0);
  if (!e) e = log_hdr_decode(d, &h);
  if (!e && h.file_size != fsize) e = JET_errLogFileCorrupt;
  const char *name = strrchr(path, '/');
  name = name ? name + 1 : path;
  size_t nl = strlen(name);
  uint32_t g = 0;
  int current = log_verify_kind(name, nl, &g);
  if (!e && current == LOG_VERIFY_CLOSED && g != h.gen) e = JET_errLogFileCorrupt;
  if (!e && page_size && h.page_size != page_size) e = JET_errPageSizeMismatch;
  if (!e) {
    uint8_t *nd = realloc(d, h.file_size);
    if (!nd) e = JET_errOutOfMemory;
    else d = nd;
  }
  if (!e) e = os_pread_full(f, d + LOG_HDR_SIZE, h.file_size - LOG_HDR_SIZE, LOG_HDR_SIZE);
  os_close(f);
  if (!e) e = log_verify_image(d, &h, current, end_rec);
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
  JET_ERR e = log_load_verified(io, path, page_size, &d, &n, NULL);
  free(d);
  return e;
}
