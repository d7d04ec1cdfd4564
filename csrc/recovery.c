/* recovery.c -- soft recovery at init: redo every committed transaction
 * from the checkpoint to the end of the log onto the database files, then
 * mark them clean and detached.  Replay is idempotent, so a crash during
 * recovery is recovered by the next init.  The run that follows starts
 * with LR_INIT: every attachment before it has ended. */
#include "recovery.h"
#include "checkpoint.h"
#include "chkfile.h"
#include "database.h"
#include "redo.h"
#include "page.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1: path holds a database with signature sig; 0: a database with another
 * one; -1: no readable database header (missing, not a database); -2:
 * cannot tell for want of memory or descriptors (*err). */
static int sig_at(esinst *inst, const char *path, const uint8_t sig[16], JET_ERR *err) {
  esfile *f;
  dbheader h;
  JET_ERR e = os_open(inst->io, path, OS_READ, &f);
  if (e == JET_errSuccess) {
    e = dbheader_read(f, inst->prm.page_size, &h);
    os_close(f);
  }
  if (e == JET_errOutOfMemory || e == JET_errOutOfFileHandles) {
    *err = e;
    return -2;
  }
  return e ? -1 : memcmp(h.db_sig, sig, 16) == 0;
}

/* Where soft recovery finds a database the log names (redo_cfg.map):
 * 1. a remap entry (JetInit3) for its absolute path wins; a target that
 *    holds a database with another signature is JET_errBadDbSignature;
 * 2. else its path relative to the log folder, when a database with its
 *    signature is there (a copy of the instance's folders made together
 *    recovers the copy, never the original); for a database created in
 *    the replayed logs, also a file there without a header yet;
 * 3. else its absolute path. */
static JET_ERR soft_map(void *ud, const log_attach *a, int fresh, char **out) {
  esinst *inst = ud;
  *out = NULL;
  for (long i = 0; i < inst->nremap; i++)
    if (!strcmp(inst->remap[i].szDatabaseName, a->path)) {
      const char *to = inst->remap[i].szNewDatabaseName;
      JET_ERR e = JET_errSuccess;
      int at = redo_sig_known(a->sig) ? sig_at(inst, to, a->sig, &e) : 1;
      if (at == -2) return e;
      if (at == 0) {
        inst_detail(inst, "%s is another database than the log's %s", to, a->path);
        return JET_errBadDbSignature;
      }
      return (*out = strdup(to)) ? JET_errSuccess : JET_errOutOfMemory;
    }
  if (a->rel && *a->rel && redo_sig_known(a->sig) && inst->log_real) {
    char *joined = os_join(inst->log_real, a->rel), *p = NULL;
    if (!joined) return JET_errOutOfMemory;
    JET_ERR e = db_canon_path(joined, &p);
    free(joined);
    /* for want of memory the copy beside the log is not looked for: an
     * error, never the recorded path (the original of a copied folder) */
    if (e == JET_errOutOfMemory) return e;
    if (e != JET_errSuccess) p = NULL;
    int at = p ? sig_at(inst, p, a->sig, &e) : 0;
    if (at == -2) {
      free(p);
      return e;
    }
    if (at == 1 || (fresh && at == -1 && os_exists(p))) {
      *out = p;
      return JET_errSuccess;
    }
    free(p);
  }
  return (*out = strdup(a->path)) ? JET_errSuccess : JET_errOutOfMemory;
}

/* Marks the remap entries whose old path is a->path in hit[]. */
static void remap_mark(esinst *inst, const log_attach *a, uint8_t *hit) {
  for (long i = 0; i < inst->nremap; i++)
    if (!strcmp(inst->remap[i].szDatabaseName, a->path)) hit[i] = 1;
}

/* A remap entry must name a database the replay meets, or recovery would
 * go on at the recorded path unnoticed (writing the original the caller
 * meant to move away from).  Runs before replay opens any database: the
 * databases soft_map is asked for are those of the checkpoint's table
 * (chk, NULL when none) and of the LR_CREATEDB / LR_ATTACH records from
 * the checkpoint on (rd, a reader of its own).  When the log names no
 * database there is nothing to replay and the map has no effect.
 * An entry that matches none: JET_errInvalidParameter, the detail names it. */
static JET_ERR remap_check(esinst *inst, const chkfile *chk, log_reader *rd) {
  uint8_t *hit = calloc((size_t)inst->nremap, 1);
  if (!hit) return JET_errOutOfMemory;
  int named = 0;
  for (uint32_t i = 0; chk && i < chk->natt; i++, named = 1) remap_mark(inst, &chk->att[i], hit);
  log_record rec;
  JET_ERR e = JET_errSuccess, more = 0;
  while (e == JET_errSuccess && (more = log_reader_next(rd, &rec)) == 0) {
    log_attach a;
    e = redo_entry_of(&rec, &a);
    if (e == JET_errSuccess && a.path) {
      named = 1;
      remap_mark(inst, &a, hit);
    }
    log_entry_clear(&a);
  }
  if (e == JET_errSuccess && more < 0) e = more;
  for (long i = 0; e == JET_errSuccess && named && i < inst->nremap; i++)
    if (!hit[i]) {
      inst_detail(inst, "remap: %s names no database of the log being replayed", inst->remap[i].szDatabaseName);
      e = JET_errInvalidParameter;
    }
  free(hit);
  return e;
}

/* LR_INIT: a new run starts (durable before any record of the run). */
static JET_ERR log_run_start(esinst *inst) {
  uint8_t p[8];
  put64(p, os_now_us());
  lsn_t lsn;
  JET_ERR e = log_append(inst->log, LR_INIT, p, sizeof p, &lsn);
  if (e == JET_errSuccess) e = log_flush(inst->log, log_end(inst->log));
  return e;
}

/* The checkpoint at the end of init: the log's end, no database. */
static JET_ERR checkpoint_at_end(esinst *inst, const char *chkp) {
  chkfile c = { .lsn = log_end(inst->log), .next_txid = inst->next_txid };
  memcpy(&c.sig, log_signature(inst->log), sizeof c.sig);
  JET_ERR e = chk_write(inst->io, chkp, &c);
  if (e == JET_errSuccess) inst->checkpoint = c.lsn;
  return e;
}

/* The stream's signature, page size and file size from its newest file:
 * B.log, or the highest archived generation when a crash hit a roll
 * between the two renames (then B.log is missing). */
static JET_ERR newest_header(esinst *inst, int has_cur, uint32_t hi, log_header *h) {
  char *p = log_file_name(inst->prm.log_path, inst->prm.base, has_cur ? 0 : hi);
  if (!p) return JET_errOutOfMemory;
  JET_ERR e = log_read_header(inst->io, p, h);
  free(p);
  return e;
}

/* ---- the double-write ring (B.dwb in the system folder) ------------------ */

/* The ring of dw_size bytes, with batches as large as two of them fit in
 * it (at most DW_MAX_IMAGES pages; the parameter's minimum fits two of one
 * page of any size). */
static dw_config ring_config(esinst *inst, const uint8_t *sig) {
  uint32_t batch = DW_MAX_IMAGES;
  while (batch > 1 && dw_min_ring_size(inst->prm.page_size, batch) > inst->prm.dw_size) batch--;
  return (dw_config){ .io = inst->io, .dir = inst->prm.system_path, .base = inst->prm.base,
                      .page_size = inst->prm.page_size, .ring_size = inst->prm.dw_size, .batch_max = batch,
                      .log_sig = sig, .sync_data = ckpt_sync_databases, .ud = inst };
}

/* Opens B.dwb of the stream sig for replay's repairs (*out NULL when there
 * is none).  A B.dwb that is not this stream's ring (another log stream,
 * another page size, an unknown format, a garbled header) is never used
 * and never replaced: init fails with dw_open's error before anything is
 * written, the detail names the file.  A new stream (sig NULL) has no
 * ring: any B.dwb is another stream's. */
static JET_ERR ring_open(esinst *inst, const uint8_t *sig, dw **out) {
  static const uint8_t none[16];
  dw_config c = ring_config(inst, sig ? sig : none);
  const char *why = NULL;
  *out = NULL;
  char *p = dw_file_name(inst->prm.system_path, inst->prm.base);
  if (!p) return JET_errOutOfMemory;
  int kind = os_kind(p);
  JET_ERR e = kind == OS_ABSENT ? JET_errFileNotFound : JET_errSuccess;
  if (kind != OS_ABSENT && kind != OS_FILE) {   /* a folder, a link, a device: never opened */
    e = JET_errInvalidPath;
    why = "B.dwb is not a regular file";
  }
  if (e == JET_errSuccess) e = dw_open(&c, out, &why);
  if (e == JET_errFileNotFound) {
    free(p);
    return JET_errSuccess;
  }
  if (e == JET_errSuccess && !sig) {
    dw_close(*out);
    *out = NULL;
    e = JET_errBadLogSignature;
    why = "B.dwb belongs to another log stream";
  }
  if (e)
    inst_detail(inst, "%s: %s (remove it only when the instance it belongs to needs no recovery)", p,
                why ? why : "cannot be read");
  free(p);
  return e;
}

/* Replay is over and made every database durable: the batches of ring
 * (NULL: none) die and the run gets a READY ring in inst->dw, made anew
 * when there is none or its size is not dw_size. */
static JET_ERR ring_ready(esinst *inst, dw *ring) {
  JET_ERR e = JET_errSuccess;
  if (ring) {
    e = dw_discard(ring);
    if (e == JET_errSuccess && dw_ring_size(ring) == inst->prm.dw_size) {
      inst->dw = ring;
      return JET_errSuccess;
    }
    dw_close(ring);
    char *p = e ? NULL : dw_file_name(inst->prm.system_path, inst->prm.base);
    if (!e) e = p ? os_unlink(inst->io, p) : JET_errOutOfMemory;   /* dead: nothing in it is needed */
    free(p);
    if (e) return e;
  }
  dw_config c = ring_config(inst, log_signature(inst->log)->b);
  return dw_create(&c, &inst->dw);
}

JET_ERR recovery_run(esinst *inst) {
  esparams *prm = &inst->prm;
  char *chkp = chk_path(prm->system_path, prm->base);
  if (!chkp) return JET_errOutOfMemory;
  log_config cfg = { inst->io, prm->log_path, prm->base, prm->log_file_kib * 1024u, prm->page_size,
                     log_spares(prm->checkpoint_depth, prm->log_file_kib * 1024u) };
  chkfile chk;
  uint32_t lo, hi;
  int has_cur;
  JET_ERR ce = chk_read(inst->io, chkp, &chk);
  JET_ERR e = log_scan_dir(prm->log_path, prm->base, &lo, &hi, &has_cur);
  if (e == JET_errSuccess && ce == JET_errFileNotFound && !has_cur && lo == 0) {   /* a new stream */
    dw *none = NULL;
    e = ring_open(inst, NULL, &none);
    if (e == JET_errSuccess) e = log_create(&cfg, NULL, 1, 0, NULL, 0, &inst->log);
    if (e == JET_errSuccess) e = ring_ready(inst, NULL);
    if (e == JET_errSuccess) e = checkpoint_at_end(inst, chkp);
    free(chkp);
    return e;
  }
  if (e == JET_errSuccess && ce != JET_errSuccess && ce != JET_errFileNotFound) e = ce;
  if (e == JET_errSuccess && !has_cur && hi == 0) e = JET_errMissingLogFile;
  log_header newest = { 0 };
  if (e == JET_errSuccess) e = newest_header(inst, has_cur, hi, &newest);
  if (e == JET_errSuccess && newest.page_size != prm->page_size) e = JET_errPageSizeMismatch;
  if (e == JET_errSuccess && ce == JET_errSuccess && memcmp(chk.sig.b, newest.sig.b, 16) != 0)
    e = JET_errBadCheckpointSignature;
  cfg.file_size = newest.file_size;
  cfg.spares = log_spares(prm->checkpoint_depth, cfg.file_size);
  if (e == JET_errSuccess) prm->log_file_kib = newest.file_size / 1024u;   /* the stream's size wins */
  lsn_t from = ce == JET_errSuccess ? chk.lsn : LSN(lo ? lo : newest.gen, 0);
  /* ids of the logs before the checkpoint are below its next_txid; replay
   * raises next_txid past the ids after it */
  if (ce == JET_errSuccess && chk.next_txid > inst->next_txid) inst->next_txid = chk.next_txid;

  redo_cfg rc = { .io = inst->io, .page_size = prm->page_size, .sig = newest.sig, .map = soft_map, .ud = inst,
                  .detail = inst->detail, .detail_cap = sizeof inst->detail, .start_lsn = from };
  redo *r = NULL;
  log_reader *rd = NULL;
  int rflags = has_cur ? LOG_READ_CURRENT : 0;
  if (e == JET_errSuccess && inst->nremap > 0) {   /* a first pass: nothing is written before it */
    e = log_reader_open(inst->io, prm->log_path, prm->base, prm->page_size, &newest.sig, from, rflags, &rd);
    if (e == JET_errSuccess) e = remap_check(inst, ce == JET_errSuccess ? &chk : NULL, rd);
    if (rd) log_reader_close(rd);
    rd = NULL;
  }
  dw *ring = NULL;
  if (e == JET_errSuccess) e = ring_open(inst, newest.sig.b, &ring);   /* repairs before redo writes */
  rc.dw = ring;
  inst->dw_repaired = 0;
  rc.dw_repaired = &inst->dw_repaired;
  if (e == JET_errSuccess) e = redo_new(&rc, &r);
  if (e == JET_errSuccess)
    e = log_reader_open(inst->io, prm->log_path, prm->base, prm->page_size, &newest.sig, from, rflags, &rd);
  for (uint32_t i = 0; e == JET_errSuccess && ce == JET_errSuccess && i < chk.natt; i++)
    e = redo_attach(r, &chk.att[i]);
  log_record rec;
  JET_ERR more = 0;
  while (e == JET_errSuccess && (more = log_reader_next(rd, &rec)) == 0) e = redo_apply(r, &rec);
  int end_fault = e == JET_errSuccess && more < 0 && log_reader_problem(rd);
  if (e == JET_errSuccess && more < 0) e = more;
  lsn_t end = rd ? log_reader_end(rd) : 0;
  /* blocks of B.log the reader took from its shadow slots go back in place
   * (synced) before anything is appended */
  if (e == JET_errSuccess && rd) e = log_reader_write_back(rd);
  if (r) {
    if (redo_max_txid(r) >= inst->next_txid) inst->next_txid = redo_max_txid(r) + 1;
    JET_ERR fe = redo_finish(r, e == JET_errSuccess, LSN_GEN(end));
    if (e == JET_errSuccess) e = fe;
    redo_free(r);
  }
  if (end_fault) inst_detail(inst, "%s: %s", prm->log_path, log_reader_problem(rd));   /* after redo_finish's */
  if (rd) log_reader_close(rd);
  if (ce == JET_errSuccess) chk_clear(&chk);
  if (e == JET_errSuccess) {
    if (has_cur) e = log_reopen(&cfg, end, &inst->log);
    else {   /* created after the last commit of generation hi, even with the clock stepped back since */
      char *hp = log_file_name(prm->log_path, prm->base, hi);
      uint64_t tm = 0;
      e = hp ? log_last_commit_us(inst->io, hp, &tm) : JET_errOutOfMemory;
      free(hp);
      if (e == JET_errSuccess)
        e = log_create_after(&cfg, &newest.sig, hi + 1, newest.tm_create, tm, NULL, 0, &inst->log);
    }
  }
  log_header_clear(&newest);
  if (e == JET_errBadLogVersion)
    inst_detail(inst, "the log files or checkpoint in %s are of an older format: " LOG_OLD_FORMAT_ADVICE,
                prm->log_path);
  if (e == JET_errSuccess) e = ring_ready(inst, ring);
  else dw_close(ring);
  if (e == JET_errSuccess) e = log_run_start(inst);
  if (e == JET_errSuccess) e = checkpoint_at_end(inst, chkp);
  free(chkp);
  return e;
}
