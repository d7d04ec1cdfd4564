/* zst.c -- compressed backup files (zst.h): frame A, frame B, footer. */
#include "zst.h"
#include "crc32c.h"
#include "log.h"
#include "log_format.h"
#include <assert.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#define FOOTER_MAGIC 0x184D2A5Eu    /* a zstd skippable frame (0x184D2A50..5F) */
#define FRAME_MAGIC 0xFD2FB528u
#define LAYOUT_VERSION 1u

/* ld32, ld64, st32, st64: little-endian, from log_format.h */

int zst_name(const char *name, size_t *stem_len) {
  size_t n = strlen(name), k = sizeof ZST_SUFFIX - 1;
  if (n <= k || strcmp(name + n - k, ZST_SUFFIX) != 0) return 0;
  if (stem_len) *stem_len = n - k;
  return 1;
}

/* ---- writer ------------------------------------------------------------ */

/* Phases, in order: frame A open (PH_A), frame A ended and the tail being
 * gathered (PH_TAIL: only when size - tail bytes came), finished. */
enum { PH_A, PH_TAIL, PH_DONE };

struct zst_writer {
  ZSTD_CCtx *cc;
  uint64_t size, in;        /* bytes pledged, bytes taken */
  uint64_t out;             /* compressed bytes emitted */
  uint64_t b_off;           /* where frame B starts (set when A ends) */
  uint32_t tail;
  int phase;
  uint8_t *obuf;
  size_t ocap;
  uint8_t tbuf[];           /* the tail, gathered */
};

/* workers: libzstd's worker threads (0: compressed on the calling thread). */
static JET_ERR writer_new(int level, uint64_t size, uint32_t tail, int workers, zst_writer **out) {
  *out = NULL;
  if (level < ZST_LEVEL_MIN || level > ZST_LEVEL_MAX || tail > size || tail > ZST_TAIL_MAX ||
      (size == ZST_STREAM && tail))
    return JET_errInvalidParameter;
  zst_writer *w = calloc(1, sizeof *w + tail);
  if (!w) return JET_errOutOfMemory;
  w->size = size;
  w->tail = tail;
  w->ocap = ZSTD_CStreamOutSize();
  w->cc = ZSTD_createCCtx();
  w->obuf = malloc(w->ocap);
  if (!w->cc || !w->obuf || ZSTD_isError(ZSTD_CCtx_setParameter(w->cc, ZSTD_c_compressionLevel, level)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(w->cc, ZSTD_c_checksumFlag, 1)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(w->cc, ZSTD_c_contentSizeFlag, 1)) ||
      (size != ZST_STREAM && ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(w->cc, size - tail)))) {
    zst_writer_free(w);
    return JET_errOutOfMemory;
  }
  /* a libzstd built without threads compresses in the caller's thread */
  if (workers) (void)ZSTD_CCtx_setParameter(w->cc, ZSTD_c_nbWorkers, workers);
  *out = w;
  return JET_errSuccess;
}

JET_ERR zst_writer_new(int level, uint64_t size, uint32_t tail, zst_writer **out) {
  /* a stream (backup.run_to's archive, every file of a set one after the
   * other): one worker thread of libzstd compresses while the caller
   * reads and hashes the next chunk (its job buffers are bounded: a few
   * windows).  A file: on the caller's thread (zst_async_new puts it on
   * a thread of its own) */
  return writer_new(level, size, tail, size == ZST_STREAM ? 1 : 0, out);
}

uint64_t zst_written(const zst_writer *w) { return w->out; }

void zst_writer_free(zst_writer *w) {
  if (!w) return;
  ZSTD_freeCCtx(w->cc);
  free(w->obuf);
  free(w);
}

static JET_ERR put(zst_writer *w, const void *p, size_t n, zst_emit emit, void *ud) {
  if (n == 0) return JET_errSuccess;
  w->out += n;
  return emit(ud, p, n);
}

/* Feeds src (may be empty) to frame A with directive op until the input is
 * taken (and, for ZSTD_e_end, the frame is flushed), emitting the output. */
static JET_ERR feed(zst_writer *w, const void *src, size_t n, ZSTD_EndDirective op, zst_emit emit, void *ud) {
  ZSTD_inBuffer in = { src, n, 0 };
  for (;;) {
    ZSTD_outBuffer o = { w->obuf, w->ocap, 0 };
    size_t left = ZSTD_compressStream2(w->cc, &o, &in, op);
    if (ZSTD_isError(left)) return JET_errOutOfMemory;
    JET_ERR e = put(w, w->obuf, o.pos, emit, ud);
    if (e) return e;
    if (op == ZSTD_e_end ? left == 0 : in.pos == in.size) return JET_errSuccess;
  }
}

JET_ERR zst_write(zst_writer *w, const void *p, size_t n, zst_emit emit, void *ud) {
  assert(w->phase != PH_DONE);
  if (w->size == ZST_STREAM) return feed(w, p, n, ZSTD_e_continue, emit, ud);
  if (n > w->size - w->in) return JET_errInvalidParameter;
  const uint8_t *b = p;
  uint64_t a_size = w->size - w->tail;
  if (w->in < a_size) {
    size_t k = n < a_size - w->in ? n : (size_t)(a_size - w->in);
    JET_ERR e = feed(w, b, k, ZSTD_e_continue, emit, ud);
    if (e) return e;
    w->in += k;
    b += k;
    n -= k;
  }
  if (w->in == a_size && w->phase == PH_A) {
    JET_ERR e = feed(w, NULL, 0, ZSTD_e_end, emit, ud);
    if (e) return e;
    w->b_off = w->out;
    w->phase = PH_TAIL;
  }
  if (n) {                         /* the tail: whole at finish */
    assert(w->phase == PH_TAIL);
    memcpy(w->tbuf + (w->in - a_size), b, n);
    w->in += n;
  }
  return JET_errSuccess;
}

JET_ERR zst_finish(zst_writer *w, zst_emit emit, void *ud) {
  assert(w->phase != PH_DONE);
  if (w->size == ZST_STREAM) {       /* one frame, nothing after it */
    w->phase = PH_DONE;
    return feed(w, NULL, 0, ZSTD_e_end, emit, ud);
  }
  if (w->in != w->size) return JET_errInvalidParameter;
  JET_ERR e = JET_errSuccess;
  if (w->phase == PH_A) e = zst_write(w, NULL, 0, emit, ud);    /* size == tail: frame A is empty */
  assert(e || w->phase == PH_TAIL);
  size_t bound = ZSTD_compressBound(w->tail);
  uint8_t *fb = e ? NULL : malloc(bound + ZST_FOOTER);
  if (!e && !fb) e = JET_errOutOfMemory;
  size_t bn = 0;
  if (!e) {
    /* a one-shot frame records its content size; the session's pledge ended with frame A */
    bn = ZSTD_compress2(w->cc, fb, bound, w->tbuf, w->tail);
    if (ZSTD_isError(bn)) e = JET_errOutOfMemory;
  }
  if (!e) {
    uint8_t *f = fb + bn;
    st32(f, FOOTER_MAGIC);
    st32(f + 4, 32);
    memcpy(f + 8, "EZST", 4);
    st32(f + 12, LAYOUT_VERSION);
    st64(f + 16, w->size);
    st64(f + 24, w->b_off);
    st32(f + 32, w->tail);
    st32(f + 36, crc32c(0, f + 8, 28));
    e = put(w, fb, bn + ZST_FOOTER, emit, ud);
  }
  free(fb);
  w->phase = PH_DONE;
  return e;
}

/* ---- asynchronous writer ------------------------------------------------ */

/* A growing byte buffer. */
typedef struct zbuf {
  uint8_t *p;
  size_t len, cap;
} zbuf;

static JET_ERR zbuf_add(zbuf *b, const void *p, size_t n) {
  if (n > b->cap - b->len) {
    size_t cap = b->cap ? b->cap : 65536;
    while (cap - b->len < n) cap *= 2;
    uint8_t *q = realloc(b->p, cap);
    if (!q) return JET_errOutOfMemory;
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
  return JET_errSuccess;
}

/* The thread feeds its writer at most this many bytes between two looks
 * at the stop flag (zst_async_free waits for one step at most). */
#define ASYNC_STEP (128u << 10)

/* Under mu: q[] (the slots head .. tail-1), head, tail, out, err, done,
 * stop.  The writer w is the thread's alone; the caller's fields (size,
 * queued, spare, taken) are the caller's alone. */
struct zst_async {
  zst_writer *w;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t work;          /* the thread waits for a piece, or stop */
  pthread_cond_t room;          /* the caller waits for a free slot, or done */
  struct { const uint8_t *p; size_t n; } q[ZST_ASYNC_DEPTH];
  uint64_t head, tail;          /* pieces consumed, pieces queued */
  zbuf out;                     /* compressed bytes made and not taken */
  JET_ERR err;                  /* the thread's failure */
  int done, stop;               /* the thread ended (file complete, a failure or stop); stop asked */
  uint64_t size, queued;        /* bytes pledged, bytes queued */
  zbuf spare;                   /* the bytes the last take handed out (swapped with out) */
  uint64_t taken;               /* compressed bytes handed out */
};

static JET_ERR async_emit(void *ud, const void *p, size_t n) {
  zst_async *a = ud;
  pthread_mutex_lock(&a->mu);
  JET_ERR e = zbuf_add(&a->out, p, n);
  pthread_mutex_unlock(&a->mu);
  return e;
}

/* The thread: each piece in order into the writer, then (every byte of
 * the file in) frame B and the footer. */
static void *async_main(void *arg) {
  zst_async *a = arg;
  os_block_signals();   /* the application's threads take its signals */
  uint64_t fed = 0;
  JET_ERR e = JET_errSuccess;
  pthread_mutex_lock(&a->mu);
  while (fed < a->size && !a->stop) {
    while (a->head == a->tail && !a->stop) pthread_cond_wait(&a->work, &a->mu);
    if (a->stop) break;
    const uint8_t *p = a->q[a->head % ZST_ASYNC_DEPTH].p;
    size_t n = a->q[a->head % ZST_ASYNC_DEPTH].n;
    for (size_t off = 0; off < n && !a->stop && !e;) {
      size_t k = n - off < ASYNC_STEP ? n - off : ASYNC_STEP;
      pthread_mutex_unlock(&a->mu);
      e = zst_write(a->w, p + off, k, async_emit, a);
      off += k;
      pthread_mutex_lock(&a->mu);
    }
    fed += n;
    a->head++;                  /* the piece's bytes are not read again */
    pthread_cond_signal(&a->room);
    if (e) break;
  }
  if (!e && !a->stop) {
    pthread_mutex_unlock(&a->mu);
    e = zst_finish(a->w, async_emit, a);
    pthread_mutex_lock(&a->mu);
  }
  a->err = e;
  a->done = 1;
  pthread_cond_broadcast(&a->room);
  pthread_mutex_unlock(&a->mu);
  return NULL;
}

JET_ERR zst_async_new(int level, uint64_t size, uint32_t tail, zst_async **out) {
  *out = NULL;
  if (size == ZST_STREAM) return JET_errInvalidParameter;
  zst_async *a = calloc(1, sizeof *a);
  if (!a) return JET_errOutOfMemory;
  JET_ERR e = writer_new(level, size, tail, 0, &a->w);
  if (e) {
    free(a);
    return e;
  }
  a->size = size;
  pthread_mutex_init(&a->mu, NULL);
  pthread_cond_init(&a->work, NULL);
  pthread_cond_init(&a->room, NULL);
  if (pthread_create(&a->th, NULL, async_main, a) != 0) {
    pthread_cond_destroy(&a->room);
    pthread_cond_destroy(&a->work);
    pthread_mutex_destroy(&a->mu);
    zst_writer_free(a->w);
    free(a);
    return JET_errOutOfMemory;
  }
  *out = a;
  return JET_errSuccess;
}

JET_ERR zst_async_put(zst_async *a, const void *p, size_t n) {
  if (n > a->size - a->queued) return JET_errInvalidParameter;
  if (n == 0) return JET_errSuccess;
  pthread_mutex_lock(&a->mu);
  while (a->tail - a->head == ZST_ASYNC_DEPTH && !a->done) pthread_cond_wait(&a->room, &a->mu);
  /* bytes remain to come: the thread ended only by a failure */
  assert(a->err || !a->done);
  JET_ERR e = a->err;
  if (!e) {
    a->q[a->tail % ZST_ASYNC_DEPTH].p = p;
    a->q[a->tail % ZST_ASYNC_DEPTH].n = n;
    a->tail++;
    a->queued += n;
    pthread_cond_signal(&a->work);
  }
  pthread_mutex_unlock(&a->mu);
  return e;
}

uint64_t zst_async_consumed(zst_async *a) {
  pthread_mutex_lock(&a->mu);
  uint64_t n = a->head;
  pthread_mutex_unlock(&a->mu);
  return n;
}

JET_ERR zst_async_take(zst_async *a, int wait, const uint8_t **p, size_t *n, int *complete) {
  *p = NULL;
  *n = 0;
  *complete = 0;
  if (wait && a->queued != a->size) return JET_errInvalidParameter;
  a->spare.len = 0;             /* the bytes the last take handed out are the caller's no more */
  pthread_mutex_lock(&a->mu);
  while (wait && !a->done) pthread_cond_wait(&a->room, &a->mu);
  zbuf t = a->out;
  a->out = a->spare;
  a->spare = t;
  JET_ERR e = a->err;
  int done = a->done;
  pthread_mutex_unlock(&a->mu);
  if (e) return e;
  *p = a->spare.p;
  *n = a->spare.len;
  a->taken += a->spare.len;
  *complete = done;
  return JET_errSuccess;
}

uint64_t zst_async_written(const zst_async *a) { return a->taken; }

void zst_async_free(zst_async *a) {
  if (!a) return;
  pthread_mutex_lock(&a->mu);
  a->stop = 1;
  pthread_cond_signal(&a->work);
  pthread_mutex_unlock(&a->mu);
  pthread_join(a->th, NULL);
  pthread_cond_destroy(&a->room);
  pthread_cond_destroy(&a->work);
  pthread_mutex_destroy(&a->mu);
  zst_writer_free(a->w);
  free(a->out.p);
  free(a->spare.p);
  free(a);
}

/* ---- reader ------------------------------------------------------------ */

/* The read-ahead of zst_open_ahead: a thread decodes the next chunk into
 * one of two buffers while the caller uses the other.  Under mu: full[],
 * len[], err[], stop, held.  Once the thread runs, only it touches the
 * decoding state of the reader (zst_read); the caller takes buffers with
 * zst_next and ends it in zst_close. */
typedef struct ahead {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint8_t *buf[2];
  size_t len[2], cap;
  JET_ERR err[2];
  int full[2];
  int stop;
  int next;                     /* the buffer zst_next hands out next */
  int held;                     /* the buffer the caller holds, -1 none */
  int inline_;                  /* the file is one chunk: no thread, zst_next decodes into buf[0] */
} ahead;

struct zst_reader {
  ahead *ah;                    /* NULL: zst_read in the caller's thread */
  esfile *f;
  ZSTD_DCtx *dc;
  uint64_t stored, size, b_off; /* file size, original size, frame B's offset (= frame A's end) */
  uint32_t tail;
  uint64_t pos;                 /* bytes of the original handed out */
  uint64_t coff;                /* next byte of frame A to read from the file */
  int a_done;                   /* frame A's end checked */
  size_t left;                  /* the decoder's last hint: 0 once frame A is whole */
  ZSTD_inBuffer in;
  uint8_t *ibuf, *tbuf;
  size_t icap;
  char detail[200];
};

static JET_ERR damaged(char *detail, size_t cap, const char *path, const char *fmt, ...) {
  if (detail && cap) {
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *name = strrchr(path, '/');
    snprintf(detail, cap, "%s: %s", name ? name + 1 : path, what);
  }
  return JET_errReadVerifyFailure;
}

int zst_claimed(esfile *f) {
  uint8_t b[4];
  size_t got;
  return os_pread(f, b, 4, 0, &got) == JET_errSuccess && got == 4 && ld32(b) == FRAME_MAGIC;
}

/* The footer, frame A's header and frame B, checked and decoded into z. */
static JET_ERR check_layout(zst_reader *z, const char *path, char *detail, size_t cap) {
  uint8_t ft[ZST_FOOTER], head[32];
  size_t got;
  JET_ERR e = os_size(z->f, &z->stored);
  if (e) return e;
  if (z->stored < ZST_FOOTER + 2 * 9)
    return damaged(detail, cap, path, "%llu bytes is too short for a compressed file (cut short?)",
                   (unsigned long long)z->stored);
  if ((e = os_pread_full(z->f, ft, ZST_FOOTER, z->stored - ZST_FOOTER))) return e;
  if (ld32(ft) != FOOTER_MAGIC || ld32(ft + 4) != 32 || memcmp(ft + 8, "EZST", 4) ||
      ld32(ft + 36) != crc32c(0, ft + 8, 28))
    return damaged(detail, cap, path, "its footer is missing or damaged (cut short?)");
  if (ld32(ft + 12) != LAYOUT_VERSION)
    return damaged(detail, cap, path, "compressed layout version %u, this engine reads %u", ld32(ft + 12),
                   LAYOUT_VERSION);
  z->size = ld64(ft + 16);
  z->b_off = ld64(ft + 24);
  z->tail = ld32(ft + 32);
  uint64_t b_end = z->stored - ZST_FOOTER;
  if (z->tail > ZST_TAIL_MAX || z->tail > z->size || z->b_off < 9 || z->b_off >= b_end)
    return damaged(detail, cap, path, "its footer describes no possible layout");
  if ((e = os_pread(z->f, head, sizeof head, 0, &got))) return e;
  unsigned long long a = ZSTD_getFrameContentSize(head, got);
  if (a != z->size - z->tail)
    return damaged(detail, cap, path, "its first frame holds %s bytes, the footer says %llu",
                   a == ZSTD_CONTENTSIZE_ERROR ? "no frame of" : a == ZSTD_CONTENTSIZE_UNKNOWN ? "an unknown count of" : "another count of",
                   (unsigned long long)(z->size - z->tail));
  /* frame B, whole: its bytes are at most a frame header, one block and
   * a checksum around ZST_TAIL_MAX bytes */
  uint64_t bn = b_end - z->b_off;
  if (bn > ZSTD_compressBound(ZST_TAIL_MAX) + 64)
    return damaged(detail, cap, path, "its last frame is %llu bytes long", (unsigned long long)bn);
  uint8_t *fb = malloc((size_t)bn);
  if (!fb) return JET_errOutOfMemory;
  if ((e = os_pread_full(z->f, fb, (size_t)bn, z->b_off))) {
    free(fb);
    return e;
  }
  unsigned long long bs = ZSTD_getFrameContentSize(fb, (size_t)bn);
  size_t fl = ZSTD_findFrameCompressedSize(fb, (size_t)bn);
  size_t dn = 0;
  if (bs == z->tail && !ZSTD_isError(fl) && fl == bn) dn = ZSTD_decompressDCtx(z->dc, z->tbuf, z->tail ? z->tail : 1, fb, (size_t)bn);
  free(fb);
  if (ZSTD_isError(dn) && ZSTD_getErrorCode(dn) == ZSTD_error_memory_allocation) return JET_errOutOfMemory;
  if (bs != z->tail || ZSTD_isError(fl) || fl != bn || ZSTD_isError(dn) || dn != z->tail)
    return damaged(detail, cap, path, "its last frame is damaged (%s)",
                   ZSTD_isError(dn) ? ZSTD_getErrorName(dn) : "sizes differ from the footer's");
  return JET_errSuccess;
}

JET_ERR zst_open(esio *io, const char *path, zst_reader **out, char *detail, size_t cap) {
  esfile *f;
  *out = NULL;
  if (detail && cap) detail[0] = 0;
  JET_ERR e = os_open(io, path, OS_READ, &f);
  return e ? e : zst_adopt(f, out, detail, cap);
}

JET_ERR zst_adopt(esfile *f, zst_reader **out, char *detail, size_t cap) {
  *out = NULL;
  if (detail && cap) detail[0] = 0;
  zst_reader *z = calloc(1, sizeof *z);
  if (!z) {
    os_close(f);
    return JET_errOutOfMemory;
  }
  z->f = f;
  z->icap = ZSTD_DStreamInSize();
  JET_ERR e = JET_errSuccess;
  if (!(z->dc = ZSTD_createDCtx()) || !(z->ibuf = malloc(z->icap)) || !(z->tbuf = malloc(ZST_TAIL_MAX)) ||
      ZSTD_isError(ZSTD_DCtx_setParameter(z->dc, ZSTD_d_windowLogMax, ZST_WINDOW_LOG_MAX)))
    e = JET_errOutOfMemory;
  if (e == JET_errSuccess) e = check_layout(z, os_path(f), detail, cap);
  if (e) {
    zst_close(z);
    return e;
  }
  zst_rewind(z);
  *out = z;
  return JET_errSuccess;
}

void zst_rewind(zst_reader *z) {
  assert(!z->ah);
  ZSTD_DCtx_reset(z->dc, ZSTD_reset_session_only);
  z->in = (ZSTD_inBuffer){ z->ibuf, 0, 0 };
  z->left = 1;
  z->pos = z->coff = 0;
  z->a_done = 0;
  z->detail[0] = 0;
}

uint64_t zst_size(const zst_reader *z) { return z->size; }
uint64_t zst_stored_size(const zst_reader *z) { return z->stored; }
uint32_t zst_tail_size(const zst_reader *z) { return z->tail; }
const uint8_t *zst_tail(const zst_reader *z) { return z->tbuf; }
const char *zst_detail(const zst_reader *z) { return z->detail; }

static void ahead_end(ahead *a);

void zst_close(zst_reader *z) {
  if (!z) return;
  if (z->ah) ahead_end(z->ah);
  os_close(z->f);
  ZSTD_freeDCtx(z->dc);
  free(z->ibuf);
  free(z->tbuf);
  free(z);
}

static JET_ERR bad(zst_reader *z, const char *fmt, const char *what) {
  return damaged(z->detail, sizeof z->detail, os_path(z->f), fmt, what);
}

/* More of frame A into the input buffer once the last is consumed (none
 * past frame A's end: the decoder may still hold output to flush). */
static JET_ERR refill(zst_reader *z) {
  if (z->in.pos < z->in.size || z->coff >= z->b_off) return JET_errSuccess;
  size_t want = z->b_off - z->coff < z->icap ? (size_t)(z->b_off - z->coff) : z->icap;
  JET_ERR e = os_pread_full(z->f, z->ibuf, want, z->coff);
  if (e) return e;
  z->coff += want;
  z->in = (ZSTD_inBuffer){ z->ibuf, want, 0 };
  return JET_errSuccess;
}

/* One decoding step into o; a step that moves nothing with every byte of
 * frame A taken means the frame is cut short. */
static JET_ERR step(zst_reader *z, ZSTD_outBuffer *o, size_t *left) {
  JET_ERR e = refill(z);
  if (e) return e;
  size_t in0 = z->in.pos;
  *left = ZSTD_decompressStream(z->dc, o, &z->in);
  /* the decoder's own memory is not the file's damage */
  if (ZSTD_isError(*left) && ZSTD_getErrorCode(*left) == ZSTD_error_memory_allocation) return JET_errOutOfMemory;
  if (ZSTD_isError(*left)) return bad(z, "its first frame is damaged (%s)", ZSTD_getErrorName(*left));
  z->left = *left;
  if (*left && o->pos == 0 && z->in.pos == in0 && z->coff >= z->b_off)
    return bad(z, "its first frame ends before its content does (cut short?)%s", "");
  return JET_errSuccess;
}

/* Frame A was decoded up to its content size: its checksum and its end
 * must come next, exactly where frame B starts. */
static JET_ERR end_of_a(zst_reader *z) {
  uint8_t one;
  size_t left = z->left;
  while (left != 0) {
    ZSTD_outBuffer o = { &one, 1, 0 };
    JET_ERR e = step(z, &o, &left);
    if (e) return e;
    if (o.pos) return bad(z, "its first frame holds more bytes than the footer says%s", "");
  }
  if (z->in.pos != z->in.size || z->coff != z->b_off)
    return bad(z, "bytes follow its first frame before the last one%s", "");
  z->a_done = 1;
  return JET_errSuccess;
}

JET_ERR zst_read(zst_reader *z, void *buf, size_t n, size_t *got) {
  uint8_t *b = buf;
  size_t done = 0;
  uint64_t a_size = z->size - z->tail;
  while (done < n && z->pos < a_size) {
    size_t room = n - done < a_size - z->pos ? n - done : (size_t)(a_size - z->pos);
    ZSTD_outBuffer o = { b + done, room, 0 };
    size_t left;
    JET_ERR e = step(z, &o, &left);
    if (e) return e;
    done += o.pos;
    z->pos += o.pos;
    if (left == 0 && z->pos < a_size) return bad(z, "its first frame ends before its content size%s", "");
  }
  if (z->pos == a_size && !z->a_done) {
    JET_ERR e = end_of_a(z);
    if (e) return e;
  }
  if (done < n && z->pos < z->size) {
    size_t k = n - done < z->size - z->pos ? n - done : (size_t)(z->size - z->pos);
    memcpy(b + done, z->tbuf + (z->pos - a_size), k);
    done += k;
    z->pos += k;
  }
  *got = done;
  return JET_errSuccess;
}

JET_ERR zst_read_full(zst_reader *z, void *buf, size_t n) {
  size_t got;
  JET_ERR e = zst_read(z, buf, n, &got);
  if (e == JET_errSuccess && got != n) e = bad(z, "it ends before the bytes asked for%s", "");
  return e;
}

/* ---- the headers of compressed databases and logs ---------------------- */

JET_ERR zst_log_header(zst_reader *z, log_header *h) {
  memset(h, 0, sizeof *h);
  uint8_t *b = malloc(LOG_HDR_SIZE);
  if (!b) return JET_errOutOfMemory;
  size_t got = 0;
  JET_ERR e = zst_read(z, b, LOG_HDR_SIZE, &got);
  if (e == JET_errSuccess && got < LOG_HDR_SIZE) e = JET_errLogFileCorrupt;
  if (e == JET_errSuccess) e = log_hdr_decode(b, h);
  free(b);
  if (e == JET_errSuccess && h->file_size != z->size) e = JET_errLogFileSizeMismatch;
  if (e) log_header_clear(h);
  return e;
}

JET_ERR zst_log_image(zst_reader *z, uint8_t **d, uint32_t *n) {
  *d = NULL;
  *n = 0;
  if (z->size > UINT32_MAX) return JET_errLogFileCorrupt;   /* no log is that large (its header's file size) */
  uint8_t *b = malloc(z->size ? (size_t)z->size : 1);
  if (!b) return JET_errOutOfMemory;
  zst_rewind(z);
  JET_ERR e = zst_read_full(z, b, (size_t)z->size);
  if (e) {
    free(b);
    return e;
  }
  *d = b;
  *n = (uint32_t)z->size;
  return JET_errSuccess;
}

JET_ERR zst_db_header(zst_reader *z, dbheader *h) {
  size_t n = z->size < 2 * 32768u ? (size_t)z->size : 2 * 32768u;
  uint8_t *b = malloc(n ? n : 1);
  if (!b) return JET_errOutOfMemory;
  JET_ERR e = zst_read_full(z, b, n);
  JET_ERR d = JET_errDatabaseCorrupted;
  /* page 0, else its shadow, at every legal page size (dbheader_read) */
  for (uint32_t ps = 4096; !e && ps <= 32768 && d == JET_errDatabaseCorrupted; ps *= 2)
    for (uint32_t pgno = 0; pgno < 2 && (pgno + 1) * (size_t)ps <= n && d == JET_errDatabaseCorrupted; pgno++)
      d = dbheader_decode(b + pgno * ps, ps, pgno, h);
  free(b);
  return e ? e : d;
}

/* ---- read-ahead ---------------------------------------------------------- */

static void *ahead_main(void *arg) {
  zst_reader *z = arg;
  ahead *a = z->ah;
  for (int i = 0;; i ^= 1) {
    pthread_mutex_lock(&a->mu);
    while (a->full[i] && !a->stop) pthread_cond_wait(&a->cv, &a->mu);
    int stop = a->stop;
    pthread_mutex_unlock(&a->mu);
    if (stop) return NULL;
    size_t got = 0;
    JET_ERR e = zst_read(z, a->buf[i], a->cap, &got);
    pthread_mutex_lock(&a->mu);
    a->len[i] = got;
    a->err[i] = e;
    a->full[i] = 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    if (e || got == 0) return NULL;     /* the end, or a fault: nothing more to decode */
  }
}

static void ahead_end(ahead *a) {
  if (a->inline_) {
    free(a->buf[0]);
    free(a);
    return;
  }
  pthread_mutex_lock(&a->mu);
  a->stop = 1;
  pthread_cond_broadcast(&a->cv);
  pthread_mutex_unlock(&a->mu);
  pthread_join(a->th, NULL);
  pthread_cond_destroy(&a->cv);
  pthread_mutex_destroy(&a->mu);
  free(a->buf[0]);
  free(a->buf[1]);
  free(a);
}

JET_ERR zst_open_ahead(esio *io, const char *path, size_t chunk, zst_reader **out, char *detail, size_t cap) {
  assert(chunk > 0);
  zst_reader *z;
  JET_ERR e = zst_open(io, path, &z, detail, cap);
  if (e) return e;
  ahead *a = calloc(1, sizeof *a);
  /* a file of one chunk (a log of the default size in a restore's 1 MiB
   * chunks) is decoded in zst_next, on the caller's thread: a thread
   * could decode nothing ahead of it, the caller would wait for it */
  int one = zst_size(z) <= chunk;
  if (a && (!(a->buf[0] = malloc(chunk)) || (!one && !(a->buf[1] = malloc(chunk))))) {
    free(a->buf[0]);
    free(a);
    a = NULL;
  }
  if (!a) {
    zst_close(z);
    return JET_errOutOfMemory;
  }
  a->cap = chunk;
  a->held = -1;
  if (one) {
    a->inline_ = 1;
    z->ah = a;
    *out = z;
    return JET_errSuccess;
  }
  pthread_mutex_init(&a->mu, NULL);
  pthread_cond_init(&a->cv, NULL);
  z->ah = a;
  if (pthread_create(&a->th, NULL, ahead_main, z) != 0) {
    z->ah = NULL;
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a->buf[0]);
    free(a->buf[1]);
    free(a);
    zst_close(z);
    return JET_errOutOfMemory;
  }
  *out = z;
  return JET_errSuccess;
}

JET_ERR zst_next(zst_reader *z, const uint8_t **p, size_t *n) {
  ahead *a = z->ah;
  assert(a);
  if (a->inline_) {
    size_t got = 0;
    JET_ERR e = zst_read(z, a->buf[0], a->cap, &got);
    *p = a->buf[0];
    *n = e ? 0 : got;
    return e;
  }
  pthread_mutex_lock(&a->mu);
  if (a->held >= 0) {                 /* the caller is done with the last one */
    a->full[a->held] = 0;
    a->held = -1;
    pthread_cond_broadcast(&a->cv);
  }
  int i = a->next;
  while (!a->full[i]) pthread_cond_wait(&a->cv, &a->mu);
  JET_ERR e = a->err[i];
  *p = a->buf[i];
  *n = e ? 0 : a->len[i];
  if (e == JET_errSuccess && a->len[i] > 0) {
    a->held = i;
    a->next ^= 1;
  }
  pthread_mutex_unlock(&a->mu);
  return e;
}
