/*
 * restore.c -- hard recovery: validate a backup set (plus incrementals and
 * live logs), copy it into the destination, replay its logs there with the
 * redo engine, and leave a clean database with a log stream that an
 * instance on the destination opens.
 *
 * Invariants:
 * - Every file written is dest + "/" + a name read from a folder listing
 *   (never a path from a file's content), a database the caller named to
 *   restore in place, or the checkpoint in chk_dir.
 * - Nothing is created, deleted or written before check_dest passed: no
 *   running instance uses dest, chk_dir or an in-place database; dest is
 *   empty unless overwrite; no file to be written is a symbolic link (and
 *   every one is opened with O_NOFOLLOW besides).  From then on until End
 *   the restore holds dest's B.lck, so no instance opens dest meanwhile.
 * - Until the last step finishes, the databases in dest carry
 *   DB_RESTORING: attach refuses them, a new restore overwrites them.
 */
#include "restore.h"
#include "archive.h"
#include "redo.h"
#include "backup.h"
#include "chkfile.h"
#include "command.h"
#include "page.h"
#include "zst.h"
#include "log_format.h"
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COPY_CHUNK (1u << 20)
#define REPLAY_RECORDS 4096
/* A replay step ends after this many bytes of log records too, so that a
 * caller that yields between steps (ese.restore's on_progress) never waits
 * for more than about 3 MiB of log (under 4 MiB of the stream with the
 * headers), whatever the records' size. */
#define REPLAY_BYTES (3u << 20)
/* ... and after this many µs (a loaded machine reads and applies slower) */
#define REPLAY_US 4000u
/* A step runs on the restore's worker (os_worker) while the caller
 * yields; restore_step waits this long for it before it returns "not
 * finished" (the next call collects it). */
#define STEP_WAIT_US 2000u
/* The replay's changed pages go back to the files this many bytes a step
 * (redo_write_some), once more than DIRTY_BYTES of them wait; so the
 * replay cache (8 MiB) never fills with changed pages, and no step writes
 * it back whole.  The end of the replay writes the rest the same way. */
#define WRITEBACK_BYTES (1u << 20)
#define DIRTY_BYTES (4u << 20)

/* A database the replayed logs create (LR_CREATEDB) or attach (LR_ATTACH)
 * from the set's start on that no file of the sets is (map_path found
 * none): as ESE's hard restore, which replays only the databases of its
 * restore map (the set's) and skips the others (logredo.cxx,
 * ErrLGRISetupFMPFromAttach: not in the map, skipped attach; "we replay
 * create dbs only on soft recovery"), it is not restored; unlike ESE,
 * the restore says so: EseRestoreNotRestored lists it. */
typedef struct rsskip {
  char *path;             /* as the log names it */
  uint8_t sig[16];        /* its signature (zeros: a log that records none) */
  int created;            /* first met at an LR_CREATEDB, else an LR_ATTACH */
  uint32_t gen;           /* where it was first met */
} rsskip;

typedef struct rsfile {
  char *src, *name;       /* source path; base name in dest */
  char *orig;             /* in place: the database's path at backup time */
  int is_db, in_place;
  int zst;                /* src is NAME.zst (zst.h), restored as NAME */
  int live_cur;           /* src is a live folder's B.log: copied as an archived file (live_img) */
  int live;               /* src is in the live log folder or the log archive (its base name matched exactly) */
  int live_dir;           /* src is in the live log folder (live_log_path) */
  int held;               /* a live generation copied into dest's FETCH_DIR by ST_CHECK (hold_live_gen): src,
                           * renamed into place by ST_COPY */
  uint8_t *live_img;      /* a live B.log: read whole by the scan, as dest will hold it (live_image_of),
                           * and copied from here, so that what the instance running there does next
                           * (a roll renames B.log, a checkpoint retires it, recycling rewrites the
                           * file as a later generation) changes nothing of what is read or copied */
  int mapped;             /* replay found it attached or created in the logs */
  uint32_t gen;           /* log */
  uint64_t size;          /* bytes to copy (a database without its trailer) */
  log_header lh;          /* log */
  uint64_t last_commit;   /* log: last_commit_in's answer once known (lc_known) */
  int lc_known;
  dbheader dh;            /* database header */
} rsfile;

/* The restore's steps (restore_step runs one step of the state it is
 * in); only forward, one state at a time (asserted in to_state):
 *   ST_CHECK      with overwrite or a database restored in place: first
 *                 each live generation the copy takes copied into dest's
 *                 FETCH_DIR (hold_live_gen), a step; then a chunk
 *                 of a database of the set read and its pages checked as
 *                 the copy checks them, nothing written, a step; then each
 *                 log the replay reads, read as it reads it (check_log), a
 *                 step; after the last, what dest holds of the old state
 *                 goes (clear_dest);
 *   ST_COPY       a chunk of a file copied into dest, a step (a held
 *                 generation renamed into place, a step);
 *   ST_REPLAY     at most REPLAY_RECORDS / REPLAY_BYTES / REPLAY_US of log
 *                 replayed, a step;
 *   ST_TRIM       the replay ended: its checks, the logs after it removed
 *                 and the cut generation ended, durably (one step);
 *   ST_WRITEBACK  redo_finish_step: the replay cache written back
 *                 (WRITEBACK_BYTES a step), each database synced, then its
 *                 header made clean (a step each);
 *   ST_NEWLOG     the next generation created (one step);
 *   ST_CHECKPOINT the checkpoint written (one step);
 *   ST_DONE. */
enum rs_state { ST_CHECK, ST_COPY, ST_REPLAY, ST_TRIM, ST_WRITEBACK, ST_NEWLOG, ST_CHECKPOINT, ST_DONE };

struct EseRestore {
  esinst *inst;           /* the restoring instance, or NULL */
  esio *io;
  char *dest, *chk_dir, base[4];
  uint32_t page_size, file_size;
  rsfile *files;
  size_t nfiles, cap;
  uint32_t lo, hi;        /* generations copied */
  uint32_t replay_from, replay_to;
  lsn_t replay_lsn;       /* where replay starts: the earliest checkpoint a copy needs */
  log_sig sig;
  enum rs_state state;
  size_t cur;             /* file being copied */
  uint64_t cur_off;
  esfile *in, *out;
  zst_reader *zin;        /* the compressed file being copied, in place of in */
  int check;              /* ST_CHECK first: overwrite, or a database restored in place */
  uint32_t check_gen;     /* ST_CHECK: the next log to check (replay_from .. replay_to), 0: the databases first */
  size_t hold_next;       /* ST_CHECK: the next file hold_live_gen looks at */
  int held_all;           /* ST_CHECK: every live generation held; then the databases, then the logs */
  int copy_begun;         /* ST_COPY's first step ran */
  rsfile *hold_f;         /* ST_CHECK: the generation hold_live_gen copies, a chunk a step (else NULL) */
  esfile *hold_in, *hold_out;
  char *hold_dst;         /* its copy in FETCH_DIR */
  uint64_t hold_off;      /* bytes of it copied */
  int hold_same;          /* its header is the scan's */
  int check_stop;         /* ST_CHECK: a commit after to_time met, the replay stops there: no later record read */
  uint8_t *img;           /* a live B.log being copied: its image as an archived file (live_img) */
  esfile *lockf;          /* dest's B.lck, held from Begin to End */
  uint8_t *buf;
  redo *rd;
  log_reader *reader;
  uint32_t last_gen;      /* last generation replayed */
  uint64_t next_txid;     /* ST_NEWLOG on: the checkpoint's next transaction id */
  lsn_t chk_lsn;          /* ST_CHECKPOINT: where the new generation's records begin */
  uint64_t replay_base;   /* done when the replay began */
  uint64_t done, total;
  int logs_only;          /* the sets hold logs; databases are in place */
  int overwrite;          /* dest may hold files: the set's and the log stream's are replaced */
  uint32_t gen_low, gen_high;
  uint32_t min_gen;       /* the sets' first generation: an older one in the archive or live logs is not read */
  /* a point in time (EseRestoreOptions.to_time_us, allow_partial) */
  uint64_t to_time;
  int allow_partial;
  uint8_t parent_tl[16];  /* the sets' timeline (has_parent_tl), the new one's parent */
  int has_parent_tl;
  uint32_t gap;           /* allow_partial: the first generation missing after the sets, 0: none */
  uint32_t need_gen;      /* the last generation a database copy needs: a stop must come after it */
  lsn_t cut;              /* the first record after the last commit applied */
  int after_commit;       /* the next record read sets cut */
  int stopped;            /* replay stopped before a commit later than to_time */
  int reached;            /* the logs went past to_time (or to_generation ended them) */
  int cut_by_gen;         /* to_generation ends the replay (the logs reach it) */
  uint64_t last_commit_us;
  char *fetch_dir;        /* restore_command: dest/.ese-fetch, made by Begin (or by hold_live_gen), removed by End */
  int fetch;              /* restore_command given: check_dest checks dest/.ese-fetch */
  int live;               /* live_log_path given: with overwrite, hold_live_gen copies into dest/.ese-fetch */
  int made_dest;          /* Begin made dest (it was absent): a refusal after that removes it again */
  /* The steps run on worker, the caller waiting STEP_WAIT_US at most a
   * call (restore_step), so that no call waits for a whole sync (a
   * copied file's, a database's, a folder's) nor for a slow replay step
   * on a loaded machine; job: one was started and is not collected yet
   * (the caller touches nothing else of r meanwhile); shown_done: done as
   * it was when the job started.  In one go (restore_run) or with ordered
   * I/O (esio_ordered: the fault events' numbers) every step runs in line,
   * as before. */
  os_worker *worker;
  int job, in_one_go;
  uint64_t shown_done;
  JET_ERR failed;
  char detail[512];
  lsn_t rec_lsn;          /* ST_REPLAY: the record redo_apply applies (0: the first log's header) */
  rsskip *skipped;        /* databases the logs name that no set holds (rsskip) */
  size_t nskipped;
  char fetch_end[480];    /* restore_command: why the fetching ended ("" no exit status did: none ran, or
                           * to_generation or to_time ended it) */
};

static void to_state(EseRestore *r, enum rs_state to) {
  assert(to == r->state + 1);
  r->state = to;
}

static JET_ERR fail(EseRestore *r, JET_ERR e, const char *fmt, const char *what) {
  if (e && !r->detail[0]) snprintf(r->detail, sizeof r->detail, fmt, what ? what : "");
  return e;
}

const char *restore_detail(EseRestore *r) { return r->detail; }

/* A file of the set: dir + name (dir NULL: the path name), restored
 * under its base name, less the ".zst" of a compressed one (zst). */
static JET_ERR add_file(EseRestore *r, const char *dir, const char *name, int zst, rsfile **out) {
  if (r->nfiles == r->cap) {
    size_t nc = r->cap ? r->cap * 2 : 16;
    rsfile *nf = realloc(r->files, nc * sizeof *nf);
    if (!nf) return JET_errOutOfMemory;
    r->files = nf;
    r->cap = nc;
  }
  rsfile *f = &r->files[r->nfiles];
  memset(f, 0, sizeof *f);
  const char *slash = strrchr(name, '/');
  const char *leaf = slash ? slash + 1 : name;
  size_t stem = strlen(leaf);
  if (zst) zst_name(leaf, &stem);
  if (!(f->src = dir ? os_join(dir, name) : strdup(name)) || !(f->name = strndup(leaf, stem))) {
    free(f->src);
    free(f->name);
    return JET_errOutOfMemory;
  }
  f->zst = zst;
  r->nfiles++;
  *out = f;
  return JET_errSuccess;
}

static rsfile *log_of(EseRestore *r, uint32_t gen) {
  for (size_t i = 0; i < r->nfiles; i++)
    if (!r->files[i].is_db && r->files[i].gen == gen) return &r->files[i];
  return NULL;
}

typedef struct scan_ctx { EseRestore *r; const char *dir; int live; JET_ERR err; } scan_ctx;

/* The header of a compressed log (zst.h); a damaged container is a
 * damaged log, JET_errLogFileCorrupt. */
static JET_ERR zst_log_read(EseRestore *r, const char *path, log_header *h) {
  zst_reader *z;
  char why[300];
  JET_ERR e = zst_open(r->io, path, &z, why, sizeof why);
  if (e == JET_errSuccess) {
    e = zst_log_header(z, h);
    snprintf(why, sizeof why, "%s", zst_detail(z));
    zst_close(z);
  }
  if (e != JET_errReadVerifyFailure) return e;
  return fail(r, JET_errLogFileCorrupt, "%s", why);
}

static JET_ERR live_image_of(EseRestore *r, esfile *in, const rsfile *f, uint8_t **out);

/* A live folder's B.log at path p, opened (*held) and its header read
 * through that descriptor: what the scan finds is what is copied later,
 * whatever the instance running there does to the name meanwhile. */
static JET_ERR hold_live(EseRestore *r, const char *p, esfile **held, log_header *h) {
  memset(h, 0, sizeof *h);
  JET_ERR e = os_open(r->io, p, OS_READ, held);
  if (e == JET_errSuccess && (e = log_read_header_of(*held, h))) {
    os_close(*held);
    *held = NULL;
  }
  return e;
}

/* The live B.log that an earlier listing read (old, its image) found
 * again archived by a later one (scan_live): the instance there rolled
 * since, and the archived file (dir/name, header *h, taken) is the whole
 * generation, the image only what was durable when it was read: the
 * archived file is the one copied and replayed. */
static JET_ERR live_rolled(rsfile *old, const char *dir, const char *name, log_header *h) {
  char *src = os_join(dir, name);
  if (!src) {
    log_header_clear(h);
    return JET_errOutOfMemory;
  }
  free(old->src);
  old->src = src;
  free(old->live_img);
  old->live_img = NULL;
  old->live_cur = 0;
  log_header_clear(&old->lh);
  old->lh = *h;
  old->size = h->file_size;
  old->lc_known = 0;      /* its last commit read again, from the whole file */
  return JET_errSuccess;
}

/* A log of the sources (live: of the live log folder; current: its B.log),
 * in dest under its canonical name (log_file_name). */
static JET_ERR scan_log(EseRestore *r, const char *dir, const char *name, uint32_t gen, int live, int current, int zst) {
  /* a generation before the sets' (in the archive or live logs) is not
   * read: no copy needs it (check_dbs), and it may be of an older format,
   * damaged or one of a gap the archive has */
  if (!current && gen < r->min_gen) return JET_errSuccess;
  char *p = os_join(dir, name);
  if (!p) return JET_errOutOfMemory;
  log_header h;
  esfile *held = NULL;
  if (current) os_hold_point(r->io, "restore-live");   /* a spec rolls the live log here (restore_refusals_spec) */
  JET_ERR e = current ? hold_live(r, p, &held, &h) : zst ? zst_log_read(r, p, &h) : log_read_header(r->io, p, &h);
  free(p);
  if (e == JET_errBadLogVersion) return fail(r, e, "log %s is of an older format: " LOG_OLD_FORMAT_ADVICE, name);
  if (e) return fail(r, e, "log %s is unreadable", name);
  if (current) gen = h.gen;
  if ((!current && r->gen_high && (gen < r->gen_low || gen > r->gen_high)) || gen < r->min_gen) {
    log_header_clear(&h);
    os_close(held);
    return JET_errSuccess;
  }
  if (h.gen != gen) {
    log_header_clear(&h);
    return fail(r, JET_errLogFileCorrupt, "log %s holds another generation", name);
  }
  rsfile *old = log_of(r, gen);
  if (old && old->live_cur && !current && live && old->lh.tm_create == h.tm_create)
    return live_rolled(old, dir, name, &h);
  if (old) {              /* the same generation in two sets: must be the same file */
    int same = old->lh.tm_create == h.tm_create;
    log_header_clear(&h);
    os_close(held);
    return same ? JET_errSuccess : fail(r, JET_errGivenLogFileIsNotContiguous, "log %s differs between sets", name);
  }
  rsfile *f;
  e = add_file(r, dir, name, zst, &f);
  if (e) {
    log_header_clear(&h);
    os_close(held);
    return e;
  }
  f->gen = gen;
  f->lh = h;
  f->size = h.file_size;
  f->live = live;
  f->live_cur = current;  /* a live B.log becomes an archived generation in dest */
  if (current) {
    e = live_image_of(r, held, f, &f->live_img);
    os_close(held);
    if (e) return e;
    os_hold_point(r->io, "restore-live-open");   /* and here, B.log read (restore_refusals_spec) */
  }
  free(f->name);          /* a set's EDB0000000A.LOG is edb0000000A.log in dest: the instance's scan matches exactly */
  if (!(f->name = log_file_name(NULL, r->base, gen))) return JET_errOutOfMemory;
  return JET_errSuccess;
}

static int has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

int restore_db_name_problem(const char *name, const char *base, char *why, size_t cap) {
  static const char *const own[] = { ".chk", ".chk.tmp", ".lck", ".dwb", "tmp.dwb", ".arc", ".arc.tmp", "tmp.log",
                                     ".log", ".tl", ".tl.tmp" };
  size_t n = strlen(name);
  const char *said = NULL;
  if (strcmp(name, "manifest.json") == 0) said = "the name of the set's manifest";
  else if (n >= 4 && strcasecmp(name + n - 4, ".zst") == 0) said = "the name of a compressed file of a set";
  else if (strcmp(name, ".ese-fetch") == 0) said = "the name of a restore's own folder";
  if (said || !base || strncasecmp(name, base, strlen(base)) != 0) {
    if (said) snprintf(why, cap, "%s", said);
    return said != NULL;
  }
  const char *rest = name + strlen(base);
  size_t rn = strlen(rest);
  int hex = rn >= 12 && strncasecmp(rest + 8, ".log", 4) == 0;
  for (int i = 0; hex && i < 8; i++) hex = isxdigit((unsigned char)rest[i]) != 0;
  if (hex && rn == 12) {
    snprintf(why, cap, "the name of a log generation of base name %s", base);
    return 1;
  }
  if (hex && strcasecmp(rest + 12, ".part") == 0) {
    snprintf(why, cap, "the name of a log generation's copy on its way into the log archive (base name %s)", base);
    return 1;
  }
  /* BspareN.log: a retired generation the log recycles (log.c, spare_name) */
  size_t digits = rn > 9 && strncasecmp(rest, "spare", 5) == 0 && strcasecmp(rest + rn - 4, ".log") == 0 ? rn - 9 : 0;
  for (size_t i = 0; i < digits; i++)
    if (!isdigit((unsigned char)rest[5 + i])) digits = 0;
  if (digits) {
    snprintf(why, cap, "the name of a spare log file the log recycles (base name %s)", base);
    return 1;
  }
  for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
    if (strcasecmp(rest, own[i]) == 0) {
      snprintf(why, cap, "the name of a file a restore writes itself (base name %s)", base);
      return 1;
    }
  return 0;
}

/* What a restore takes of a database's header h and size: a streamed copy
 * (its backup record set: JET_errRestoreOfNonBackupDatabase) of whole
 * pages with its trailer (JET_errBadPatchPage); the trailer is read next. */
static JET_ERR copy_header_check(const dbheader *h, uint64_t size) {
  if (h->state != DB_BACKUP_COPY || h->backup[BK_CURRENT].gen_lo == 0) return JET_errRestoreOfNonBackupDatabase;
  return backup_copy_size_ok(h->page_size, size) ? JET_errSuccess : JET_errBadPatchPage;
}

/* The header, size and trailer of a compressed database (zst.h), with
 * the errors of the plain read below; a damaged container is
 * JET_errReadVerifyFailure, as a damaged page is. */
static JET_ERR zst_db_read(EseRestore *r, const char *path, dbheader *h, uint64_t *size, dbheader *t) {
  zst_reader *z;
  char why[300] = "";
  JET_ERR e = zst_open(r->io, path, &z, why, sizeof why);
  if (e == JET_errSuccess) {
    *size = zst_size(z);
    e = zst_db_header(z, h);
    if (e == JET_errSuccess) e = copy_header_check(h, *size);
    if (e == JET_errSuccess && zst_tail_size(z) != h->page_size) e = JET_errBadPatchPage;   /* the trailer, alone */
    if (e == JET_errSuccess) e = backup_trailer_check(zst_tail(z), h, *size, t);
    snprintf(why, sizeof why, "%s", zst_detail(z));
    zst_close(z);
  }
  return e == JET_errReadVerifyFailure ? fail(r, e, "%s", why) : e;
}

/* The header, size and trailer of a plain database file. */
static JET_ERR plain_db_read(EseRestore *r, const char *path, const char *name, int orig, dbheader *h,
                             uint64_t *size, dbheader *t) {
  esfile *fh;
  JET_ERR e = os_open(r->io, path, OS_READ, &fh);
  /* In a set's folder, only what is not a regular file (a FIFO, a socket,
   * a folder: JET_errInvalidPath) and is not named *.edb is passed over.
   * Any other failure to open (EACCES, EMFILE, a dangling link) fails the
   * restore: the file may be a database of the set, and a restore that
   * skipped it would report success without it. */
  if (e == JET_errInvalidPath && !orig && !has_suffix(name, ".edb")) return JET_errDatabaseCorrupted;
  if (e == JET_errInvalidPath && !orig) return fail(r, e, "%s is not a regular file", name);
  if (e) return fail(r, e, "database %s cannot be opened", name);
  e = dbheader_read(fh, 0, h);
  if (e == JET_errSuccess) e = os_size(fh, size);
  if (e == JET_errSuccess) e = copy_header_check(h, *size);
  if (e == JET_errSuccess) e = backup_trailer_read(fh, h, *size, t);
  os_close(fh);
  return e;
}

/* A database of the set: dir + name, or (dir NULL) the path name; zst: a
 * compressed one (every NAME.zst of a set that is not a log is one). */
static JET_ERR scan_db(EseRestore *r, const char *dir, const char *name, const char *orig, int zst) {
  char *p = dir ? os_join(dir, name) : strdup(name);
  if (!p) return JET_errOutOfMemory;
  dbheader h, t;
  uint64_t size = 0;
  JET_ERR e = zst ? zst_db_read(r, p, &h, &size, &t) : plain_db_read(r, p, name, orig != NULL, &h, &size, &t);
  free(p);
  /* a file that does not claim to be a database is not part of the set */
  if (e == JET_errDatabaseCorrupted && !zst && !orig && !has_suffix(name, ".edb")) return JET_errSuccess;
  if (e == JET_errFileNotFound && orig) return fail(r, e, "database %s not found", name);
  if (e == JET_errInvalidDatabaseVersion) {   /* refused before anything is written */
    char what[400];
    snprintf(what, sizeof what, "database %.300s: database format %u, this engine reads formats %u to %u", name,
             (unsigned)h.version, (unsigned)DB_FORMAT_MIN, (unsigned)DB_FORMAT);
    return fail(r, e, "%s", what);
  }
  if (e) return fail(r, e, "database %s", name);
  /* the plain name (NAME.zst's NAME): what the restore writes */
  char plain[256], why[160], what[420];    /* a folder entry's name: 255 bytes at most */
  size_t stem = strlen(name);
  if (zst) zst_name(name, &stem);
  snprintf(plain, sizeof plain, "%.*s", (int)stem, name);
  if (!orig && restore_db_name_problem(plain, r->base, why, sizeof why)) {
    snprintf(what, sizeof what, "database %s: a set cannot hold it under %s", name, why);
    return fail(r, JET_errInvalidBackup, "%s", what);
  }
  if (r->page_size && h.page_size != r->page_size) return fail(r, JET_errPageSizeMismatch, "database %s", name);
  r->page_size = h.page_size;
  rsfile *f;
  if ((e = add_file(r, dir, name, zst, &f)) != JET_errSuccess) return e;
  f->is_db = 1;
  if (orig) {
    f->in_place = 1;
    if (!(f->orig = strdup(orig))) return JET_errOutOfMemory;
  }
  f->dh = h;
  f->dh.backup[BK_CURRENT].gen_hi = t.backup[BK_CURRENT].gen_hi;
  /* the trailer's dbtime_last bounds every page the stream copied */
  if (t.dbtime_last > f->dh.dbtime_last) f->dh.dbtime_last = t.dbtime_last;
  f->size = size - h.page_size;
  return JET_errSuccess;
}

static JET_ERR scan_entry(const char *name, void *ud) {
  scan_ctx *c = ud;
  uint32_t gen;
  size_t stem;
  /* a compressed set (zst.h): every NAME.zst is a file of the set, a log
   * or a database; a live log folder has none */
  int zst = !c->live && zst_name(name, &stem);
  char plain[64];
  /* a live folder's logs of the exact base only: "EDB"'s beside "edb"'s are another stream */
  int kind = c->live ? log_parse_name_exact(name, c->r->base, &gen) : log_parse_name(name, c->r->base, &gen);
  if (zst && stem < sizeof plain) {
    snprintf(plain, sizeof plain, "%.*s", (int)stem, name);
    kind = log_parse_name(plain, c->r->base, &gen);
  }
  if (kind == 1) return scan_log(c->r, c->dir, name, gen, c->live, 0, zst);
  if (kind == 2) return c->live ? scan_log(c->r, c->dir, name, 0, 1, 1, 0) : JET_errSuccess;
  if (c->live || c->r->logs_only) return JET_errSuccess;
  return scan_db(c->r, c->dir, name, NULL, zst);
}

static JET_ERR scan_dir(EseRestore *r, const char *dir, int live) {
  scan_ctx c = { r, dir, live, 0 };
  JET_ERR e = os_list_dir(dir, scan_entry, &c);
  if (e == JET_errFileNotFound || e == JET_errInvalidPath)   /* absent, or there but no folder (ENOTDIR) */
    fail(r, JET_errFileNotFound, os_exists(dir) ? "%s is not a folder" : "folder %s not found", dir);
  return e;
}

/* A generation missing below a live folder's B.log (as scanned): the
 * scan's listing was made before a roll of the instance running there
 * gave B.log's generation its name, and B.log was opened after it. */
static int live_gap(EseRestore *r) {
  for (size_t i = 0; i < r->nfiles; i++)
    if (r->files[i].live_cur)
      for (uint32_t g = r->min_gen; g < r->files[i].gen; g++)
        if (!log_of(r, g)) return 1;
  return 0;
}

#define LIVE_RESCANS 8

/* An entry of a folder read by the base name exactly (the live log
 * folder, the log archive) named as a log of base name B in another case
 * only, whose header carries the sets' log signature (os_list_dir's
 * callback): *name of the first is kept.  One of another stream (another
 * instance's, whose base name differs by case) is not counted. */
typedef struct {
  EseRestore *r;
  const char *dir;
  char first[64];
} case_ctx;

static JET_ERR other_case_log(const char *name, void *ud) {
  case_ctx *c = ud;
  if (c->first[0] || !log_parse_name(name, c->r->base, NULL) || log_parse_name_exact(name, c->r->base, NULL))
    return JET_errSuccess;
  char *p = os_join(c->dir, name);
  if (!p) return JET_errOutOfMemory;
  log_header h;
  if (log_read_header(c->r->io, p, &h) == JET_errSuccess) {
    if (!memcmp(h.sig.b, c->r->sig.b, 16)) snprintf(c->first, sizeof c->first, "%s", name);
    log_header_clear(&h);
  }
  free(p);
  return JET_errSuccess;
}

/* The logs found in a folder read by the base name exactly (live 1). */
static size_t exact_logs(const EseRestore *r) {
  size_t n = 0;
  for (size_t i = 0; i < r->nfiles; i++) n += r->files[i].live && !r->files[i].is_db;
  return n;
}

/* After the scan of dir (what: "live log folder" or "log archive", short:
 * "live folder" or "archive"), which read its logs by the base name
 * exactly (it may hold two instances' streams whose names differ only by
 * case) while the sets' are found in any case: when it gave no log (before:
 * exact_logs before the scan) but holds one of the sets' stream under base
 * name B in another case, base_name was given in another case than the
 * instance's, and the restore would end with what it has, the commits
 * after it left out in silence: JET_errInvalidParameter naming that log. */
static JET_ERR refuse_other_case(EseRestore *r, const char *dir, size_t before, const char *what, const char *short_what) {
  if (exact_logs(r) > before) return JET_errSuccess;
  case_ctx c = { .r = r, .dir = dir };
  JET_ERR e = os_list_dir(dir, other_case_log, &c);
  char msg[300];
  if (e != JET_errSuccess) {
    snprintf(msg, sizeof msg, "%s %.200s cannot be read", what, dir);
    return fail(r, e, "%s", msg);
  }
  if (!c.first[0]) return JET_errSuccess;
  snprintf(msg, sizeof msg, "the %s holds %s and no log of base name %s: base_name names the %s's logs exactly, in "
           "their case (give the instance's base name)", what, c.first, r->base, short_what);
  return fail(r, JET_errInvalidParameter, "%s", msg);
}

/* A live log folder: listed again while a generation is missing below
 * its B.log (live_gap: the instance there rolled between the listing and
 * the open of B.log), at most LIVE_RESCANS times. What a listing found
 * stays (the same generation found again is one file, scan_log), so a
 * later listing only adds the names the roll made; a gap that stays is
 * check_logs' refusal as before.  Then refuse_other_case. */
static JET_ERR scan_live(EseRestore *r, const char *dir) {
  size_t before = exact_logs(r), n0 = r->nfiles;
  JET_ERR e = scan_dir(r, dir, 1);
  for (int i = 0; e == JET_errSuccess && i < LIVE_RESCANS && live_gap(r); i++) e = scan_dir(r, dir, 1);
  for (size_t i = n0; i < r->nfiles; i++) r->files[i].live_dir = 1;
  if (e == JET_errSuccess) e = refuse_other_case(r, dir, before, "live log folder", "live folder");
  return e;
}

/* The log archive (archive_path): read as the live folder is, by the base
 * name exactly; base_name in another case than its logs' is refused. */
static JET_ERR scan_archive(EseRestore *r, const char *dir) {
  size_t before = exact_logs(r);
  JET_ERR e = scan_dir(r, dir, 1);
  if (e == JET_errSuccess) e = refuse_other_case(r, dir, before, "log archive", "archive");
  return e;
}

/* restore_command fetches each generation by its file name under
 * base_name (its %f): an archive holds the instance's names, in the case
 * the sets' logs (found in any case) have them.  A base_name in another
 * case would fetch nothing, the first missing name taken as the end of
 * the archive and every commit after the sets left out in silence:
 * JET_errInvalidParameter naming a log of the sets, before anything is
 * written or fetched. */
static JET_ERR check_fetch_case(EseRestore *r) {
  size_t n = strlen(r->base);
  for (size_t i = 0; i < r->nfiles; i++) {
    const rsfile *f = &r->files[i];
    const char *slash = strrchr(f->src, '/'), *leaf = slash ? slash + 1 : f->src;   /* as the set names it */
    if (f->is_db || f->live || strncmp(leaf, r->base, n) == 0) continue;
    char msg[400];
    snprintf(msg, sizeof msg, "the backup set holds %.64s and restore_command fetches the archived logs by their "
             "names under base name %s (%%f): base_name names them exactly, in their case (give the instance's base "
             "name)", leaf, r->base);
    return fail(r, JET_errInvalidParameter, "%s", msg);
  }
  return JET_errSuccess;
}

/* The logs of the sets: one stream, no gap, each following the last. */
static JET_ERR check_logs(EseRestore *r, uint32_t set_hi) {
  r->lo = UINT32_MAX;
  r->hi = 0;
  r->gap = 0;   /* a gap an earlier pass found may since be fetched (restore_command) */
  for (size_t i = 0; i < r->nfiles; i++)
    if (!r->files[i].is_db) {
      if (r->files[i].gen < r->lo) r->lo = r->files[i].gen;
      if (r->files[i].gen > r->hi) r->hi = r->files[i].gen;
    }
  if (r->hi == 0)
    return fail(r, JET_errFileNotFound, "the backup set has no log files of base name %s (the option base_name names "
                "the logs' base name)", r->base);
  rsfile *first = log_of(r, r->lo);
  r->sig = first->lh.sig;
  r->file_size = first->lh.file_size;
  for (uint32_t g = r->lo; g <= r->hi; g++) {
    rsfile *f = log_of(r, g);
    char gname[32];
    snprintf(gname, sizeof gname, "%u", g);
    if (!f && g > set_hi && r->allow_partial) {   /* a gap after the sets: the logs end before it */
      r->gap = g;
      r->hi = g - 1;
      break;
    }
    if (!f) return fail(r, g > set_hi ? JET_errMissingCurrentLogFiles : JET_errMissingRestoreLogFiles,
                        "log generation %s is missing", gname);
    if (memcmp(f->lh.sig.b, r->sig.b, 16)) return fail(r, JET_errGivenLogFileHasBadSignature, "log %s belongs to another instance", f->name);
    if (f->lh.page_size != r->page_size) return fail(r, JET_errPageSizeMismatch, "log %s", f->name);
    rsfile *prev = g > r->lo ? log_of(r, g - 1) : NULL;
    if (prev && f->lh.tm_prev_gen != prev->lh.tm_create)
      return fail(r, JET_errGivenLogFileIsNotContiguous, "log %s does not follow its predecessor", f->name);
  }
  return JET_errSuccess;
}

static JET_ERR check_dbs(EseRestore *r, unsigned long to_gen, uint32_t set_lo, uint32_t set_hi) {
  int ndb = 0;
  r->replay_from = UINT32_MAX;
  r->replay_to = to_gen && to_gen < r->hi ? (uint32_t)to_gen : r->hi;
  /* also when the logs end at to_gen: a fetch stops there, and what would
   * follow is not replayed anyway */
  r->cut_by_gen = to_gen && to_gen <= r->hi;
  for (size_t i = 0; i < r->nfiles; i++) {
    rsfile *f = &r->files[i];
    if (!f->is_db) continue;
    ndb++;
    bkrecord *b = &f->dh.backup[BK_CURRENT];
    if (memcmp(f->dh.log_sig, r->sig.b, 16)) return fail(r, JET_errGivenLogFileHasBadSignature, "database %s belongs to another log stream", f->name);
    if (b->gen_lo < set_lo) return fail(r, JET_errStartingRestoreLogTooHigh, "the logs start after database %s needs", f->name);
    if (b->gen_hi > set_hi || b->gen_hi > r->replay_to) return fail(r, JET_errEndingRestoreLogTooLow, "the logs end before database %s needs", f->name);
    if (b->gen_lo < r->replay_from) r->replay_from = b->gen_lo;
    if (b->gen_hi > r->need_gen) r->need_gen = b->gen_hi;
    lsn_t at = f->dh.backup_lsn && LSN_GEN(f->dh.backup_lsn) == b->gen_lo ? f->dh.backup_lsn : LSN(b->gen_lo, 0);
    if (r->replay_lsn == 0 || at < r->replay_lsn) r->replay_lsn = at;
  }
  if (ndb == 0) return fail(r, JET_errFileNotFound, "the backup set has no database%s", NULL);
  return JET_errSuccess;
}

/* last: the time of rec when it is a commit (redo_commit_time), else last. */
static uint64_t commit_time(const log_record *rec, uint64_t last) {
  uint64_t t = redo_commit_time(rec);
  return t ? t : last;
}

/* A reader of f's records (*rd): the file read whole into memory as the
 * log reader loads one (its file size), from where it is: the live
 * image the scan took, a compressed log decoded (zst.h; damage there is
 * a damaged log, JET_errLogFileCorrupt), a plain file; flags as
 * log_reader_open_image's.  One source for the commit-time checks and
 * ST_CHECK's read of the logs. */
static JET_ERR source_log_reader(EseRestore *r, const rsfile *f, int flags, log_reader **rd) {
  *rd = NULL;
  uint8_t *d = NULL;
  JET_ERR e = JET_errSuccess;
  if (f->zst && !f->live_img) {
    zst_reader *z;
    char why[300];
    uint32_t n = 0;
    if ((e = zst_open(r->io, f->src, &z, why, sizeof why)) == JET_errSuccess) {
      e = zst_log_image(z, &d, &n);   /* check.c's read of a compressed log too */
      zst_close(z);
    }
    if (e == JET_errReadVerifyFailure || (e == JET_errSuccess && n != f->size)) e = JET_errLogFileCorrupt;
  } else if (!(d = malloc(f->size))) {
    e = JET_errOutOfMemory;
  } else if (f->live_img) {
    memcpy(d, f->live_img, f->size);
  } else {
    esfile *in;
    if ((e = os_open(r->io, f->src, OS_READ, &in)) == JET_errSuccess) {
      e = os_pread_full(in, d, f->size, 0);
      os_close(in);
    }
  }
  if (e) {
    free(d);
    return e;
  }
  return log_reader_open_image(d, (uint32_t)f->size, flags, rd);   /* takes d */
}

/* A point in time before the end of the backup: the copies may hold later
 * commits. */
static JET_ERR too_early(EseRestore *r) {
  char g[16];
  snprintf(g, sizeof g, "%u", r->need_gen);
  return fail(r, JET_errEndingRestoreLogTooLow, "the point in time is before the end of the backup (log "
              "generation %s): the database copies may hold later changes; restore an older set", g);
}

static uint64_t last_commit_scan(EseRestore *r, rsfile *f);
/* The time of the last commit in generation gen of the sources (0: none,
 * or the file cannot be read: replay reports that); read before anything
 * is written, for the to_time checks. */
static uint64_t last_commit_in(EseRestore *r, uint32_t gen) {
  rsfile *f = log_of(r, gen);
  if (!f) return 0;
  if (!f->lc_known) {   /* Begin's checks ask of a generation more than once: read it once */
    f->last_commit = last_commit_scan(r, f);
    f->lc_known = 1;
  }
  return f->last_commit;
}

static uint64_t last_commit_scan(EseRestore *r, rsfile *f) {
  log_reader *rd;
  if (source_log_reader(r, f, 0, &rd)) return 0;   /* unreadable: no commit read (replay reports it) */
  uint64_t last = 0;
  log_record rec;
  while (log_reader_next(rd, &rec) == 0 && LSN_GEN(rec.lsn) == f->gen) last = commit_time(&rec, last);
  log_reader_close(rd);
  return last;
}

/* The time of the last commit the database copies may hold: the last
 * commit of the generations up to need_gen, the newest first; when none
 * of the sets' generations holds one, the creation of the first (every
 * commit before it came earlier; a copy may hold any of them). */
static uint64_t copy_end_time(EseRestore *r) {
  for (uint32_t g = r->need_gen; g >= r->lo && g > 0; g--) {
    uint64_t t = last_commit_in(r, g);
    if (t) return t;
  }
  rsfile *first = log_of(r, r->lo);
  return first ? first->lh.tm_create : 0;
}

static JET_ERR check_copy_end(EseRestore *r) {
  if (!r->to_time) return JET_errSuccess;
  /* the copies may hold any commit up to the end of the generation they
   * need (the backup's cut-off), and that generation may hold none (a
   * backup of an idle instance): a point in time before the last commit
   * they may hold is out of reach (replay would stop there too, but only
   * after the copy, or never when the commit is in no replayed log) */
  if (copy_end_time(r) > r->to_time) return too_early(r);
  return JET_errSuccess;
}

/* to_time: not before the backup's end; without allow_partial, the logs
 * must go past it (a generation begun after it, or a commit after it in
 * the last one).  Else nothing is restored. */
static JET_ERR check_reach(EseRestore *r) {
  JET_ERR e = check_copy_end(r);
  if (e || !r->to_time || r->allow_partial || r->cut_by_gen) return e;
  rsfile *last = log_of(r, r->replay_to);
  if (last && last->lh.tm_create > r->to_time) return JET_errSuccess;
  if (last_commit_in(r, r->replay_to) > r->to_time) return JET_errSuccess;
  char g[16];
  snprintf(g, sizeof g, "%u", r->replay_to + 1);
  return fail(r, JET_errMissingLogFile, "the logs end before the point in time: generation %s (or a later "
              "commit) is needed to show that nothing more was committed by then; give the archive or live "
              "logs that hold it, or allow_partial to restore to the end of these", g);
}

/* Each database is restored once.  Two sets holding one name (two full
 * sets given as a chain), or two in-place entries naming one file or one
 * original, would write one file twice, and replay would find only one of
 * them in the logs: after everything was written. */
static JET_ERR check_unique(EseRestore *r) {
  for (size_t i = 0; i < r->nfiles; i++) {
    rsfile *a = &r->files[i];
    for (size_t j = i + 1; a->is_db && j < r->nfiles; j++) {
      rsfile *b = &r->files[j];
      if (!b->is_db) continue;
      if (a->in_place && (!strcmp(a->orig, b->orig) || os_same_file(a->src, b->src)))
        return fail(r, JET_errInvalidParameter, "%s: one database named twice in the restore map", b->src);
      if (!a->in_place && !strcmp(a->name, b->name))
        return fail(r, JET_errInvalidBackupSequence,
                    "database %s is in two of the sets (a chain holds one full or copy set, then incrementals)",
                    b->name);
    }
  }
  return JET_errSuccess;
}

/* ---- where the restore writes ------------------------------------------ */

/* B + suffix (".lck", ".chk", "tmp.log", ...) in buf. */
static const char *base_file(const EseRestore *r, const char *suffix, char *buf, size_t cap) {
  snprintf(buf, cap, "%s%s", r->base, suffix);
  return buf;
}

static int is_lock_file(const char *path) { return has_suffix(path, ".lck"); }

/* Whether some open file holds path (a regular file) locked: a lock of
 * our own on it, let go at once, tells (flock locks belong to an open
 * file, so a holder in this process conflicts as well); never kept,
 * never stolen.  A file we cannot open is not judged here. */
static int locked(EseRestore *r, const char *path) {
  esfile *f;
  if (os_kind(path) != OS_FILE || os_open(r->io, path, OS_READ | OS_NOFOLLOW, &f)) return 0;
  JET_ERR e = os_lock(f);
  os_close(f);
  return e == JET_errFileAccessDenied;
}

static JET_ERR locked_fail(EseRestore *r, const char *path) {
  return fail(r, JET_errFileAccessDenied,
              is_lock_file(path) ? "%s is locked: a running instance (of this process or another) uses the folder"
                                 : "%s is locked: a running instance (of this process or another) has it open", path);
}

static int stream_file(const EseRestore *r, const char *name);

typedef struct dest_ctx {
  EseRestore *r;
  const char *dir;
  size_t entries;
  char *held;          /* a locked entry, a log-folder lock first */
  int stream_dir;      /* dir is dest, with overwrite: a folder named as a file of the log stream is refused */
} dest_ctx;

/* Counts the entries; remembers a locked one, a log-folder lock first; in
 * dest, refuses a folder where overwrite would delete a file of the
 * stream (clean_dest), before any other goes. */
static JET_ERR probe_entry(const char *name, void *ud) {
  dest_ctx *c = ud;
  c->entries++;
  char *p = os_join(c->dir, name);
  if (!p) return JET_errOutOfMemory;
  JET_ERR e = JET_errSuccess;
  if (c->stream_dir && stream_file(c->r, name) && os_kind(p) == OS_DIR)
    e = fail(c->r, JET_errInvalidPath, "%s is a folder: a restore with overwrite replaces the log stream's files "
                                       "and cannot delete it", p);
  if (e == JET_errSuccess && !(c->held && is_lock_file(c->held)) && locked(c->r, p) &&
      (!c->held || is_lock_file(p))) {
    free(c->held);
    c->held = p;
    p = NULL;
  }
  free(p);
  return e;
}

/* No running instance uses path (in this process: the registry; in any:
 * the locks on the files in it); *entries gets how many it holds. */
static JET_ERR probe_user(EseRestore *r, const char *path, size_t *entries) {
  char who[512];
  JET_ERR e = inst_path_user(path, who, sizeof who);
  if (e) return fail(r, e, "%s", who);
  dest_ctx c = { r, path, 0, NULL, path == r->dest && r->overwrite };
  if (os_kind(path) == OS_FILE) e = locked(r, path) ? locked_fail(r, path) : JET_errSuccess;
  else e = os_list_dir(path, probe_entry, &c);     /* follows a link to a folder */
  if (e == JET_errFileNotFound) e = JET_errSuccess;   /* absent, or not a folder (mkdir says so later) */
  else if (e && !r->detail[0]) fail(r, e, "%s cannot be read as a folder", path);
  if (e == JET_errSuccess && c.held) e = locked_fail(r, c.held);
  free(c.held);
  *entries = c.entries;
  return e;
}

/* A file the restore writes must be a regular file or absent. */
static JET_ERR writable(EseRestore *r, const char *dir, const char *name) {
  char *p = dir ? os_join(dir, name) : strdup(name);
  if (!p) return JET_errOutOfMemory;
  int kind = os_kind(p);
  JET_ERR e = JET_errSuccess;
  if (kind == OS_LINK) e = fail(r, JET_errInvalidPath, "%s is a symbolic link: a restore never writes through one", p);
  else if (kind != OS_ABSENT && kind != OS_FILE) e = fail(r, JET_errInvalidPath, "%s is not a regular file", p);
  free(p);
  return e;
}

/* Whether name is of the log stream of base name B that overwrite
 * replaces: every B*.log (spelled as the log scan reads it: B exactly, so
 * another instance's EDB*.log beside edb's stays), B.chk, Btmp.log, the
 * double-write ring B.dwb and Btmp.dwb; not B.lck (the restore holds it). */
static int stream_file(const EseRestore *r, const char *name) {
  uint32_t gen;
  size_t n = strlen(name);
  return log_parse_name_exact(name, r->base, &gen) != 0 ||
         (n == 7 && !strncmp(name, r->base, 3) && (!strcmp(name + 3, ".chk") || !strcmp(name + 3, ".dwb"))) ||
         (n == 10 && !strncmp(name, r->base, 3) && (!strcmp(name + 3, "tmp.log") || !strcmp(name + 3, "tmp.dwb")));
}

#define FETCH_DIR ".ese-fetch"

/* An entry of a dest/.ese-fetch an interrupted restore left: a regular
 * file named as a generation of base name B (one it fetched), or "held-"
 * and such a name (a live generation hold_live_gen copied). */
static JET_ERR fetch_leftover(const char *name, void *ud) {
  dest_ctx *c = ud;
  uint32_t gen;
  char *p = os_join(c->dir, name);
  if (!p) return JET_errOutOfMemory;
  JET_ERR e = JET_errSuccess;
  const char *gen_name = strncmp(name, "held-", 5) ? name : name + 5;
  if (!log_parse_name_exact(gen_name, c->r->base, &gen) || os_kind(p) != OS_FILE)
    e = fail(c->r, JET_errInvalidPath, "%s is not a log an interrupted restore fetched or held: " FETCH_DIR " is the "
                                       "folder a restore with restore_command or live_log_path writes into and "
                                       "empties, remove it", p);
  free(p);
  return e;
}

/* With restore_command or live_log_path (and overwrite): dest/.ese-fetch,
 * which fetch_logs and hold_live_gen write into and End empties, is absent
 * or the real folder an interrupted restore left, holding only its fetched
 * or held generations.  A link (End would empty the
 * folder it names, outside dest), a file or a folder holding anything else
 * is refused here, before anything is touched. */
static JET_ERR check_fetch_dir(EseRestore *r) {
  char *p = os_join(r->dest, FETCH_DIR);
  if (!p) return JET_errOutOfMemory;
  int kind = os_kind(p);
  JET_ERR e = JET_errSuccess;
  if (kind == OS_DIR) {
    dest_ctx c = { .r = r, .dir = p };
    e = os_list_dir(p, fetch_leftover, &c);
    if (e && !r->detail[0]) fail(r, e, "%s cannot be read", p);
  } else if (kind != OS_ABSENT) {
    e = fail(r, JET_errInvalidPath, kind == OS_LINK ? "%s is a symbolic link: the name of the folder a restore with "
                                                      "restore_command or live_log_path writes into and empties, "
                                                      "remove it"
                                                    : "%s is not a folder: the name of the folder a restore with "
                                                      "restore_command or live_log_path writes into and empties, "
                                                      "remove it", p);
  }
  free(p);
  return e;
}

/* Every refusal that depends on dest, before anything is touched. */
static JET_ERR check_dest(EseRestore *r) {
  int overwrite = r->overwrite;
  size_t n = 0, other = 0;
  char name[16];
  int one = !strcmp(r->dest, r->chk_dir) || os_same_file(r->dest, r->chk_dir);
  JET_ERR e = probe_user(r, r->dest, &n);
  if (e == JET_errSuccess && !one) e = probe_user(r, r->chk_dir, &other);
  for (size_t i = 0; e == JET_errSuccess && i < r->nfiles; i++)
    if (r->files[i].in_place) e = probe_user(r, r->files[i].src, &other);
  if (e) return e;
  if (!overwrite && n > 0)
    return fail(r, JET_errBackupDirectoryNotEmpty, "%s is not empty (pass overwrite to restore over it)", r->dest);
  /* a checkpoint folder may hold other things, not a checkpoint or a ring */
  for (int k = 0; !overwrite && !one && k < 2; k++) {
    char *p = os_join(r->chk_dir, base_file(r, k ? ".dwb" : ".chk", name, sizeof name));
    if (!p) return JET_errOutOfMemory;
    if (os_kind(p) != OS_ABSENT)
      e = fail(r, JET_errBackupDirectoryNotEmpty, "%s exists (pass overwrite to restore over it)", p);
    free(p);
    if (e) return e;
  }
  for (size_t i = 0; e == JET_errSuccess && i < r->nfiles; i++) {
    rsfile *f = &r->files[i];
    if (f->is_db || f->gen <= r->replay_to)
      e = writable(r, f->in_place ? NULL : r->dest, f->in_place ? f->src : f->name);
  }
  static const char *const in_dest[] = { ".lck", ".log", "tmp.log" },
                           *const in_chk[] = { ".chk", ".chk.tmp", ".dwb", "tmp.dwb", ".arc", ".arc.tmp", ".tl",
                                                ".tl.tmp" };
  for (size_t i = 0; e == JET_errSuccess && i < sizeof in_dest / sizeof *in_dest; i++)
    e = writable(r, r->dest, base_file(r, in_dest[i], name, sizeof name));
  for (size_t i = 0; e == JET_errSuccess && i < sizeof in_chk / sizeof *in_chk; i++)
    e = writable(r, r->chk_dir, base_file(r, in_chk[i], name, sizeof name));
  if (e == JET_errSuccess && (r->fetch || r->live) && overwrite) e = check_fetch_dir(r);
  return e;
}

/* Holds dest's log-folder lock for the restore (an instance that inits on
 * dest meanwhile gets JET_errFileAccessDenied). */
static JET_ERR lock_dest(EseRestore *r) {
  char *p;
  JET_ERR e = os_lock_folder(r->io, r->dest, r->base, &r->lockf, &p);
  if (!p) return JET_errOutOfMemory;
  if (e == JET_errFileAccessDenied)
    fail(r, e, "%s was locked by an instance that began meanwhile", p);
  free(p);
  return e;
}

/* The double-write ring of the checkpoint folder goes before the first
 * database page is written: the restored stream keeps its log signature,
 * so a ring left there would repair restored pages forward into the
 * history the restore replaces (an instance makes a new one at init). */
static JET_ERR drop_ring(EseRestore *r) {
  char name[16];
  JET_ERR e = JET_errSuccess;
  int gone = 0;
  for (int k = 0; e == JET_errSuccess && k < 2; k++) {
    char *p = os_join(r->chk_dir, base_file(r, k ? "tmp.dwb" : ".dwb", name, sizeof name));
    if (!p) return JET_errOutOfMemory;
    if (os_kind(p) != OS_ABSENT && (e = os_unlink(r->io, p)) == JET_errSuccess) gone = 1;
    if (e) fail(r, e, "%s cannot be removed", p);
    free(p);
  }
  if (e == JET_errSuccess && gone) e = os_sync_dir(r->io, r->chk_dir);
  return e;
}

/* With overwrite: the log stream of base name B in dest goes (it is
 * replaced by the restored one; a generation outside the restored range
 * would not follow it), B.lck stays (the restore holds it). */
static JET_ERR clean_dest(const char *name, void *ud) {
  EseRestore *r = ud;
  if (!stream_file(r, name)) return JET_errSuccess;
  char *p = os_join(r->dest, name);
  if (!p) return JET_errOutOfMemory;
  JET_ERR e = os_unlink(r->io, p);
  if (e) fail(r, e, "%s cannot be removed", p);
  free(p);
  return e;
}

/* With overwrite: every database of the set already in dest goes before
 * the log stream does (each is made anew by its copy anyway): a restore
 * killed after this leaves no database of the old state beside the new
 * ones to be attached as if the restore had not run (the copies are
 * "being restored" until the end). */
static JET_ERR drop_dbs(EseRestore *r) {
  JET_ERR e = JET_errSuccess;
  int gone = 0;
  for (size_t i = 0; e == JET_errSuccess && i < r->nfiles; i++) {
    rsfile *f = &r->files[i];
    if (!f->is_db || f->in_place) continue;
    char *p = os_join(r->dest, f->name);
    if (!p) return JET_errOutOfMemory;
    if (os_kind(p) == OS_FILE && (e = os_unlink(r->io, p)) == JET_errSuccess) gone = 1;
    if (e) fail(r, e, "%s cannot be removed", p);
    free(p);
  }
  if (e == JET_errSuccess && gone) e = os_sync_dir(r->io, r->dest);
  return e;
}

/* What dest (and the checkpoint folder) hold that the restored state
 * replaces: with overwrite the set's databases and the log stream of base
 * name B; always the double-write ring. */
static JET_ERR clear_dest(EseRestore *r) {
  JET_ERR e = JET_errSuccess;
  if (r->overwrite) e = drop_dbs(r);
  if (e == JET_errSuccess && r->overwrite) e = os_list_dir(r->dest, clean_dest, r);
  if (e == JET_errSuccess) e = drop_ring(r);
  return e;
}

/* Empties the fetch folder: the files restore_command wrote there, the
 * live generations hold_live_gen copied there, and whatever else a command
 * made (a folder at %p, say: a refusal must still leave dest as it came);
 * never through a link (os_empty_folder). */
static JET_ERR empty_fetch_dir(EseRestore *r) {
  return os_empty_folder(r->fetch_dir);
}

static void drop_fetch_dir(EseRestore *r) {
  if (!r->fetch_dir) return;
  (void)empty_fetch_dir(r);   /* never through a link */
  (void)rmdir(r->fetch_dir);
  free(r->fetch_dir);
  r->fetch_dir = NULL;
}

/* restore_command: fetches generations hi + 1, hi + 2, ... into
 * dest/.ese-fetch until the command fails (the end of the archive), a
 * generation begins after to_time, or to_generation is passed.  A fetch
 * that is killed (timeout, signal) or cannot start is an error, and so is
 * a command that says success but leaves no log of that generation. */
static JET_ERR fetch_logs(EseRestore *r, const EseRestoreOptions *o) {
  if (!(r->fetch_dir = os_join(r->dest, FETCH_DIR))) return JET_errOutOfMemory;
  JET_ERR e = os_mkdir_p(r->fetch_dir, 0700);
  if (e) return fail(r, e, "%s cannot be made", r->fetch_dir);
  if (os_kind(r->fetch_dir) != OS_DIR)   /* a link put there since check_dest */
    return fail(r, JET_errInvalidPath, "%s is not a folder: a restore never writes through a link", r->fetch_dir);
  /* what an interrupted restore fetched (check_fetch_dir) goes: each
   * generation is fetched again, and a command that says it fetched one
   * but wrote nothing must not find an old copy there */
  if ((e = empty_fetch_dir(r)) != JET_errSuccess)
    return fail(r, e, "%s cannot be emptied", r->fetch_dir);
  char msg[400];
  for (uint32_t g = r->hi + 1; e == JET_errSuccess && g <= LOG_MAX_GEN; g++) {
    if (o->to_generation && g > o->to_generation) break;   /* not asked for (B.arc marks every restore) */
    char *name = log_file_name(NULL, r->base, g), *path = name ? os_join(r->fetch_dir, name) : NULL;
    if (!path) { free(name); return JET_errOutOfMemory; }
    int exited = 0;   /* ran and exited with a status other than 0 (not its output's words: a signal is none) */
    command_run c = { .templ = o->restore_command, .path = path, .file = name, .what = "restore_command",
                      .timeout_s = o->restore_command_timeout_s ? o->restore_command_timeout_s : 300,
                      .timeout_name = "its time limit", .pexited = &exited };
    msg[0] = 0;
    int rc = command_exec(&c, msg, sizeof msg);
    int end = 0;
    if (rc == 1 && exited) {
      /* not in the archive: its end; kept for the result, since a failing
       * fetch (a network error) ends the archive here too, and only the
       * command's own words tell the two apart */
      end = 1;
      snprintf(r->fetch_end, sizeof r->fetch_end, "fetching %s: %s", name, msg);
    }
    else if (rc != 0) e = fail(r, JET_errMissingLogFile, "fetching a log: %s", msg);
    else if (!os_exists(path))
      e = fail(r, JET_errMissingLogFile, "restore_command said it fetched %s, but wrote no file there", path);
    if (e == JET_errSuccess && !end) {
      e = scan_log(r, r->fetch_dir, name, g, 0, 0, 0);
      rsfile *f = e == JET_errSuccess ? log_of(r, g) : NULL;
      if (f) r->hi = g;
      if (f && r->to_time && f->lh.tm_create > r->to_time) end = 1;   /* begun after the point in time */
    }
    free(name);
    free(path);
    if (end) break;
  }
  return e;
}

/* A restore's options with every folder and file path of them absolute
 * (os_abs_path, joined to the working folder), so that a chdir of the
 * process between Begin and a step (an on_progress callback, another
 * thread or coroutine) changes none of the files the steps use: the
 * strings in str, freed by abs_free.  db_originals stay as given (the
 * paths a log recorded). */
typedef struct abs_options {
  EseRestoreOptions o;
  const char **dirs, **db_files;
  char **str;
  size_t n;
  const char *bad;        /* the path that could not be made absolute */
} abs_options;

static void abs_free(abs_options *a) {
  for (size_t i = 0; i < a->n; i++) free(a->str[i]);
  free(a->str);
  free(a->dirs);
  free(a->db_files);
}

static const char *abs_dup(abs_options *a, const char *path, JET_ERR *e) {
  if (!path || *e) return path;
  char *p;
  if ((*e = os_abs_path(path, 0, &p)) != JET_errSuccess) {
    a->bad = path;
    return path;
  }
  a->str[a->n++] = p;
  return p;
}

static JET_ERR abs_options_of(const EseRestoreOptions *o, abs_options *a) {
  memset(a, 0, sizeof *a);
  a->o = *o;
  a->str = calloc(4 + o->ndirs + o->ndb_files, sizeof *a->str);
  a->dirs = calloc(o->ndirs, sizeof *a->dirs);
  a->db_files = calloc(o->ndb_files ? o->ndb_files : 1, sizeof *a->db_files);
  if (!a->str || !a->dirs || !a->db_files) return JET_errOutOfMemory;
  JET_ERR e = JET_errSuccess;
  for (unsigned long i = 0; i < o->ndirs; i++) a->dirs[i] = abs_dup(a, o->dirs[i], &e);
  for (unsigned long i = 0; i < o->ndb_files; i++) a->db_files[i] = abs_dup(a, o->db_files[i], &e);
  a->o.dirs = a->dirs;
  if (o->ndb_files) a->o.db_files = a->db_files;
  a->o.dest = abs_dup(a, o->dest, &e);
  a->o.checkpoint_dir = abs_dup(a, o->checkpoint_dir, &e);
  a->o.live_log_path = abs_dup(a, o->live_log_path, &e);
  a->o.archive_path = abs_dup(a, o->archive_path, &e);
  return e;
}

static JET_ERR begin_with(const EseRestoreOptions *o, EseRestore **out);

/* *out = the deepest part of path that exists (path itself, or a folder
 * above it; "/" or "." at most), a new string. */
static JET_ERR existing_prefix(const char *path, char **out) {
  char *p = strdup(path);
  while (p && !os_exists(p) && strcmp(p, "/") && strcmp(p, ".")) {
    char *up = os_dirname(p);
    free(p);
    p = up;
  }
  *out = p;
  return p ? JET_errSuccess : JET_errOutOfMemory;
}

/* An absolute folder path that does not exist yet, whose missing part
 * holds "..": replaced by the folder it names once made (its deepest
 * existing folder resolved, each ".." of the missing part taking back the
 * component before it: the folders made there are folders, not links),
 * so that the checks see the folder the restore would write: "/nx/.." is
 * "/", "X/nx/.." is X (not empty), not a new empty folder. */
static JET_ERR settle_absent(char **path) {
  if (os_exists(*path)) return JET_errSuccess;
  char *p;
  if (existing_prefix(*path, &p)) return JET_errOutOfMemory;
  const char *rest = *path + strlen(p);
  int dots = 0;
  for (const char *c = rest; *c; c++)
    if (c[0] == '.' && c[1] == '.' && (c == rest || c[-1] == '/') && (!c[2] || c[2] == '/')) dots = 1;
  char *real = dots ? realpath(p, NULL) : NULL;
  free(p);
  if (!real) return JET_errSuccess;          /* no "..", or unreadable: mkdir says why later */
  size_t cap = strlen(real) + strlen(rest) + 2, n = strlen(real);
  char *out = malloc(cap);
  if (!out) {
    free(real);
    return JET_errOutOfMemory;
  }
  memcpy(out, real, n + 1);
  free(real);
  if (n == 1) n = 0;                         /* "/": components are appended as "/name" */
  for (const char *c = rest; *c;) {
    while (*c == '/') c++;
    size_t k = strcspn(c, "/");
    if (k == 2 && c[0] == '.' && c[1] == '.') {
      while (n > 0 && out[n - 1] != '/') n--;
      if (n > 0) n--;                        /* the slash before it */
    } else if (k && !(k == 1 && c[0] == '.')) {
      out[n++] = '/';
      memcpy(out + n, c, k);
      n += k;
    }
    c += k;
  }
  if (n == 0) out[n++] = '/';
  out[n] = 0;
  free(*path);
  *path = out;
  return JET_errSuccess;
}

/* *inside = whether path (absent, or a folder; made later) lies inside the
 * folder dir: an ancestor of its deepest existing prefix, once resolved
 * (links, ..), is dir.  A restore there would put live databases in a
 * backup set's folder (expire deletes it whole; a set without manifest
 * then fails verify). */
static JET_ERR inside_folder(const char *path, const char *dir, int *inside) {
  *inside = 0;
  char *p;
  if (existing_prefix(path, &p)) return JET_errOutOfMemory;
  errno = 0;
  char *real = realpath(p, NULL);
  free(p);
  if (!real) return errno == ENOMEM ? JET_errOutOfMemory : JET_errSuccess;   /* unreadable: mkdir says why later */
  for (char *slash; !*inside; *slash = 0) {
    *inside = os_same_file(real, dir);
    if (!(slash = strrchr(real, '/')) || slash == real) break;
  }
  free(real);
  return JET_errSuccess;
}

/* No source of the restore (a set, archive_path, live_log_path) is
 * dest's FETCH_DIR or inside it: the restore empties that folder (an
 * interrupted restore's fetched or held generations, which are named as a
 * log folder's and an archive's are) before it reads them. */
static JET_ERR source_in_fetch_dir(EseRestore *r, const EseRestoreOptions *o) {
  char *fetch = os_join(r->dest, FETCH_DIR);
  if (!fetch) return JET_errOutOfMemory;
  JET_ERR e = JET_errSuccess;
  for (unsigned long i = 0; os_kind(fetch) == OS_DIR && e == JET_errSuccess && i < o->ndirs + 2; i++) {
    const char *src = i < o->ndirs ? o->dirs[i] : i == o->ndirs ? o->archive_path : o->live_log_path;
    int inside = 0;
    if (src && (e = inside_folder(src, fetch, &inside)) == JET_errSuccess && inside)
      e = fail(r, JET_errInvalidParameter, "%s is the destination's " FETCH_DIR " or in it, the folder a restore "
               "empties before it writes its fetched or held logs there: move the logs elsewhere and name that folder",
               src);
  }
  free(fetch);
  return e;
}

JET_ERR restore_begin(const EseRestoreOptions *o, EseRestore **out) {
  assert(restore_options_ok(o) && out);
  abs_options a;
  JET_ERR e = abs_options_of(o, &a);
  if (e == JET_errInvalidPath && a.bad && o->detail && o->detail_cap)   /* getcwd failed */
    snprintf(o->detail, o->detail_cap, "%s is relative and the working folder cannot be read (removed?): name it "
             "from the root", a.bad);
  if (e == JET_errSuccess) e = begin_with(&a.o, out);
  abs_free(&a);
  return e;
}

/* A generation the copy takes from the live log folder (or, with the
 * check of an overwrite, from the log archive too), read from there
 * (B.log's image the scan took already), not held yet. */
static int live_to_hold(const EseRestore *r, const rsfile *c) {
  return !c->is_db && c->live && (c->live_dir || r->check) && !c->live_img && !c->held && c->gen <= r->replay_to;
}

/* dest as the restore found it, absent or empty: its fetch folder and its
 * lock file removed, dest itself when Begin made it.  Only while nothing
 * else of dest was written (a refusal of Begin after the fetch, a failure
 * of the hold step of a restore into a new or empty dest). */
static void give_back_dest(EseRestore *r) {
  char name[16];
  char *lk = os_join(r->dest, base_file(r, ".lck", name, sizeof name));
  drop_fetch_dir(r);
  if (lk) (void)os_unlink(r->io, lk);
  free(lk);
  if (r->made_dest) (void)rmdir(r->dest);
}

static JET_ERR begin_with(const EseRestoreOptions *o, EseRestore **out) {
  const char *base = o->base_name ? o->base_name : "edb";
  EseRestore *r = calloc(1, sizeof *r);
  if (!r) return JET_errOutOfMemory;
  memcpy(r->base, base, 4);
  JET_ERR e = inst_begin_restore(o->instance, &r->inst);
  if (e) {
    free(r);
    return e;
  }
  r->logs_only = o->ndb_files > 0;
  r->to_time = o->to_time_us;
  r->allow_partial = o->allow_partial != 0;
  if (o->parent_timeline) {
    memcpy(r->parent_tl, o->parent_timeline, 16);
    r->has_parent_tl = 1;
  }
  r->after_commit = 1;
  r->gen_low = (uint32_t)o->gen_low;
  r->gen_high = (uint32_t)o->gen_high;
  if ((e = esio_new(&r->io)) == JET_errSuccess && !(r->dest = strdup(o->dest))) e = JET_errOutOfMemory;
  if (e == JET_errSuccess && !(r->chk_dir = strdup(o->checkpoint_dir ? o->checkpoint_dir : o->dest))) e = JET_errOutOfMemory;
  if (e == JET_errSuccess) e = settle_absent(&r->dest);
  if (e == JET_errSuccess) e = settle_absent(&r->chk_dir);
  for (unsigned long i = 0; e == JET_errSuccess && i < o->ndb_files; i++) {
    if (!o->db_files[i] || !o->db_originals || !o->db_originals[i]) e = JET_errInvalidParameter;
    else e = scan_db(r, NULL, o->db_files[i], o->db_originals[i], 0);
  }
  for (unsigned long i = 0; e == JET_errSuccess && i < o->ndirs; i++) e = scan_dir(r, o->dirs[i], 0);
  uint32_t set_lo = 0, set_hi = 0;
  if (e == JET_errSuccess && !r->page_size) e = fail(r, JET_errFileNotFound, "the backup set has no database%s", NULL);
  if (e == JET_errSuccess) e = check_logs(r, UINT32_MAX);
  set_lo = r->lo;
  set_hi = r->hi;
  r->min_gen = e == JET_errSuccess ? set_lo : 0;
  if (e == JET_errSuccess && o->archive_path) e = scan_archive(r, o->archive_path);
  if (e == JET_errSuccess && o->archive_path) e = check_logs(r, set_hi);
  int fetch = o->restore_command && *o->restore_command;
  if (e == JET_errSuccess && fetch) e = check_fetch_case(r);
  /* with restore_command the live logs come after the fetched ones: later */
  if (e == JET_errSuccess && o->live_log_path && !fetch) e = scan_live(r, o->live_log_path);
  if (e == JET_errSuccess && o->live_log_path && !fetch) e = check_logs(r, set_hi);
  if (e == JET_errSuccess) e = check_dbs(r, o->to_generation, set_lo, set_hi);
  /* dest is emptied of logs and checkpoint before the copy, chk_dir gets
   * the checkpoint: never a folder the restore reads */
  for (unsigned long i = 0; e == JET_errSuccess && i <= o->ndirs; i++) {
    const char *src = i < o->ndirs ? o->dirs[i] : o->live_log_path;
    if (i == o->ndirs && o->archive_path && (os_same_file(o->archive_path, r->dest) ||
                                             os_same_file(o->archive_path, r->chk_dir)))
      e = fail(r, JET_errInvalidParameter, "%s is also the log archive of the restore", r->dest);
    else if (src && os_same_file(src, r->dest)) e = fail(r, JET_errInvalidParameter, "%s is also a source of the restore", r->dest);
    else if (src && os_same_file(src, r->chk_dir))
      e = fail(r, JET_errInvalidParameter, "checkpoint folder %s is also a source of the restore", r->chk_dir);
  }
  /* the root folder (a script's "$DEST/" with DEST unset): never (backup.run
   * refuses it as DEST too) */
  if (e == JET_errSuccess && (os_same_file(r->dest, "/") || os_same_file(r->chk_dir, "/")))
    e = fail(r, JET_errInvalidPath, "%s is the root folder: name the restore's own folder",
             os_same_file(r->dest, "/") ? r->dest : r->chk_dir);
  for (unsigned long i = 0; e == JET_errSuccess && i < 2 * o->ndirs; i++) {
    const char *in = i % 2 ? r->chk_dir : r->dest;
    int inside = 0;
    if (i % 2 && !strcmp(r->chk_dir, r->dest)) continue;
    if ((e = inside_folder(in, o->dirs[i / 2], &inside)) != JET_errSuccess || !inside) continue;
    size_t n = strlen(in) + strlen(o->dirs[i / 2]) + 32;
    char *what = malloc(n);
    if (!what) {
      e = JET_errOutOfMemory;
      break;
    }
    snprintf(what, n, "%s is inside the backup set %s", in, o->dirs[i / 2]);
    e = fail(r, JET_errInvalidParameter, "%s: the restored files would live (and be expired) in the set", what);
    free(what);
  }
  if (e == JET_errSuccess) e = source_in_fetch_dir(r, o);
  if (e == JET_errSuccess) e = check_unique(r);
  /* with restore_command, what the sets alone decide is refused before the fetch */
  if (e == JET_errSuccess) e = fetch ? check_copy_end(r) : check_reach(r);
  if (e == JET_errSuccess && (os_folder_too_long(r->dest) || os_folder_too_long(r->chk_dir)))
    e = fail(r, JET_errInvalidPath, "%s: the path leaves no room for a file name", r->dest);
  r->overwrite = o->overwrite != 0;
  r->fetch = fetch;
  r->live = o->live_log_path != NULL;
  if (e == JET_errSuccess) e = check_dest(r);
  /* nothing was touched before this line */
  r->made_dest = e == JET_errSuccess && !os_exists(r->dest);
  if (e == JET_errSuccess && (e = os_mkdir_p(r->dest, 0700)) != JET_errSuccess)
    fail(r, e, "destination %s cannot be made a folder (a file, a dangling link or a missing parent is in the way)",
         r->dest);
  if (e == JET_errSuccess && (e = os_mkdir_p(r->chk_dir, 0700)) != JET_errSuccess)
    fail(r, e, "checkpoint folder %s cannot be made a folder", r->chk_dir);
  if (e == JET_errSuccess) e = lock_dest(r);
  /* restore_command: the archive's generations are fetched into dest (the
   * only folder a restore writes) once dest is checked and locked; then
   * the checks that depend on the logs run again, before any other write */
  if (e == JET_errSuccess && fetch) e = fetch_logs(r, o);
  if (e == JET_errSuccess && fetch) e = check_logs(r, set_hi);
  if (e == JET_errSuccess && fetch && o->live_log_path) e = scan_live(r, o->live_log_path);
  if (e == JET_errSuccess && fetch && o->live_log_path) e = check_logs(r, set_hi);
  if (e == JET_errSuccess && fetch) e = check_dbs(r, o->to_generation, set_lo, set_hi);
  if (e == JET_errSuccess && fetch) e = check_reach(r);
  /* every refusal came first; what dest holds of an old state (with
   * overwrite) or a file restored in place goes only after the set's
   * databases were read whole and checked (ST_CHECK): a damaged set is
   * refused while that state is whole */
  r->check = r->overwrite;
  for (size_t i = 0; i < r->nfiles; i++) r->check |= r->files[i].in_place;
  if (e == JET_errSuccess && !r->check) e = clear_dest(r);
  if (e == JET_errSuccess && !(r->buf = malloc(COPY_CHUNK))) e = JET_errOutOfMemory;
  if (e == JET_errSuccess) e = os_worker_new(&r->worker);
  if (e) {
    if (o->detail && o->detail_cap) snprintf(o->detail, o->detail_cap, "%s", r->detail);
    r->failed = e;
    /* a refusal after the fetch: dest goes back as it came, absent or
     * empty (without overwrite check_dest found it empty: the lock file
     * is the restore's own, and a retry must not find dest not empty) */
    if (r->lockf && (r->made_dest || !r->overwrite)) give_back_dest(r);
    restore_end(r);
    return e;
  }
  for (size_t i = 0; i < r->nfiles; i++) {
    rsfile *f = &r->files[i];
    if (f->is_db || f->gen <= r->replay_to) r->total += f->size * 2;
    if (r->check && (f->is_db || (f->gen >= r->replay_from && f->gen <= r->replay_to))) r->total += f->size;
  }
  /* a restore into a new or empty dest holds the live generations too
   * (ST_CHECK's hold steps, then ST_COPY): one retired by the instance
   * there once the copy began would fail it half-way, dest half written */
  int hold = 0;
  for (size_t i = 0; i < r->nfiles; i++) hold |= live_to_hold(r, &r->files[i]);
  r->state = r->check || hold ? ST_CHECK : ST_COPY;
  *out = r;
  return JET_errSuccess;
}

/* ---- copy ---------------------------------------------------------------- */

/* Checks the pages of a chunk from page 2 on (pages 0 and 1, the header,
 * are written when the copy of the file starts). */
static JET_ERR verify_chunk(EseRestore *r, rsfile *f, const uint8_t *buf, uint64_t off, size_t n) {
  uint32_t ps = r->page_size;
  for (size_t k = 0; k < n; k += ps) {
    uint32_t pgno = (uint32_t)((off + k) / ps);
    if (pgno < 2) continue;
    char what[300];
    JET_ERR e = page_check(buf + k, ps, pgno, 1, f->name, what, sizeof what);
    if (e) return fail(r, e, "database %s", what);
  }
  /* no page above the copy's bound (scan_db: header and trailer): the
   * restored header would hand its dbtime out again */
  char detail[400];
  JET_ERR e = dbheader_check_dbtimes(buf, ps, (uint32_t)(off / ps), (uint32_t)(n / ps), f->dh.dbtime_last, f->name,
                                     detail, sizeof detail);
  return e ? fail(r, e, "database %s", detail) : JET_errSuccess;
}

/* A live folder's B.log (of a running or crashed instance) into r->img
 * as dest holds it: an archived generation, complete in place.  Its
 * durable bytes are read by the rules of the shadow slots (log.h): the
 * last block's may be in a slot only (one write per durable commit), so
 * the blocks a slot holds go in place, the torn tail after the durable end
 * becomes zeros, and so do both slots (an archived file's are never read).
 * A copy taken byte for byte would end at the bytes in place and lose the
 * commits a slot alone held, without a word. */
static JET_ERR live_image_of(EseRestore *r, esfile *in, const rsfile *f, uint8_t **out) {
  uint8_t *img = malloc(f->size);
  if (!img) return JET_errOutOfMemory;
  JET_ERR e = os_pread_full(in, img, f->size, 0);
  log_walk w;
  uint32_t fs = (uint32_t)f->size;
  if (e == JET_errSuccess && log_walk_current(img, fs, f->gen, log_hdr_seed(&f->lh), LOG_DATA_START, &w))
    e = fail(r, JET_errLogCorruptDuringHardRestore, "the live log %s is damaged before its durable end", f->src);
  if (e) {
    free(img);
    return e;
  }
  memset(img + w.end, 0, fs - w.end);
  memset(img + LOG_SLOT_A, 0, LOG_DATA_START - LOG_SLOT_A);
  /* closed as a roll closes it (its end record), so that dest's copy
   * followed by the restored stream's next generation is a whole closed
   * generation (docs/format.md, "The end record"); an append leaves room */
  if (log_close_image(img, &f->lh, NULL) < 0) {
    free(img);
    return fail(r, JET_errLogCorruptDuringHardRestore, "the live log %s has no room for its end record", f->src);
  }
  *out = img;
  return JET_errSuccess;
}

/* The source of f opened for reading chunks (r->in, or r->zin decoding
 * a compressed file a chunk ahead on a thread of its own); a compressed
 * file whose layout changed since the scan is damaged: why says how. */
static JET_ERR open_src(EseRestore *r, const rsfile *f, char *why, size_t cap) {
  return f->zst ? zst_open_ahead(r->io, f->src, COPY_CHUNK, &r->zin, why, cap) : os_open(r->io, f->src, OS_READ, &r->in);
}

/* The next n bytes of f at r->cur_off into *src (r->buf, the decoder's or
 * the live image's bytes). */
static JET_ERR chunk_in(EseRestore *r, const rsfile *f, size_t n, const uint8_t **src) {
  *src = r->buf;
  if (r->zin) {
    size_t got = 0;
    JET_ERR e = zst_next(r->zin, src, &got);
    /* a damaged compressed file is a damaged database or log */
    if (e == JET_errReadVerifyFailure || (e == JET_errSuccess && got < n))
      return fail(r, f->is_db ? JET_errReadVerifyFailure : JET_errLogFileCorrupt, "%s",
                  e ? zst_detail(r->zin) : "a compressed file ends early");
    return e;
  }
  if (r->img) {
    *src = r->img + r->cur_off;
    return JET_errSuccess;
  }
  return os_pread_full(r->in, r->buf, n, r->cur_off);
}

static size_t chunk_len(const EseRestore *r, const rsfile *f) {
  return f->size - r->cur_off < COPY_CHUNK ? (size_t)(f->size - r->cur_off) : COPY_CHUNK;
}

/* ST_CHECK of a log the replay reads: its whole file read and its records
 * read as the replay reads them (its errors: JET_errLogCorruptDuringHardRestore,
 * JET_errLogTornWriteDuringHardRestore), with to_time up to the first
 * commit after it (where the replay stops). */
static JET_ERR check_log(EseRestore *r, rsfile *f) {
  log_reader *rd;
  /* every log a restore reads is closed: a numbered generation (a roll
   * named it after its LR_END; the last one too), or a live B.log's image
   * (closed as dest will hold it, live_image_of): it must end in its LR_END (hostile18r, endrule18: the
   * archive's last file cut at a record boundary restored as a whole,
   * shorter generation, its cut commits dropped) */
  int flags = LOG_READ_RESTORE | LOG_READ_CLOSED;
  JET_ERR e = source_log_reader(r, f, flags, &rd);
  log_record rec;
  while (e == JET_errSuccess && (e = log_reader_next(rd, &rec)) == JET_errSuccess)
    if (r->to_time && redo_commit_time(&rec) > r->to_time) {
      r->check_stop = 1;
      break;
    }
  if (e < 0 && rd && log_reader_problem(rd)) {
    char why[320];
    snprintf(why, sizeof why, "%s: %s", f->name, log_reader_problem(rd));
    e = fail(r, e, "checking the logs: %s", why);
    log_reader_close(rd);
    return e;
  }
  log_reader_close(rd);
  return e == 1 ? JET_errSuccess : e;
}

/* Whether f's header *h is still the one the scan read (the same
 * generation, created at the same time); h is cleared. */
static int same_log(const rsfile *f, log_header *h) {
  int same = h->gen == f->gen && h->tm_create == f->lh.tm_create;
  log_header_clear(h);
  return same;
}

/* ST_CHECK's first steps, before its read of the databases and the logs
 * and so long before clear_dest: the next generation of the live log folder the copy takes (B.log's
 * image the scan took already) copied into dest's FETCH_DIR as
 * "held-NAME", its header the one the scan read before and after the
 * copy; from then on the check and the copy read that file.  The instance
 * running there retires generations behind its checkpoint (circular
 * logging, a truncating backup) and recycles their files as later ones: a
 * copy from the folder after clear_dest could fail with dest's old state
 * gone.  A generation gone or changed by now is refused here, dest's old
 * state untouched.  On disk, a chunk at a time (r->buf), one generation a
 * step: the live folder may hold many generations of up to 1 GiB, which
 * memory need not hold at once.  *more: 0 when none is left. */
static JET_ERR hold_live_gen(EseRestore *r, int *more) {
  *more = 0;
  JET_ERR e = JET_errSuccess;
  rsfile *f = r->hold_f;
  if (!f) {   /* the next generation to hold: opened, its header checked, its copy made */
    while (r->hold_next < r->nfiles && !f) {
      rsfile *c = &r->files[r->hold_next++];
      if (live_to_hold(r, c)) f = c;
    }
    if (!f) return JET_errSuccess;
    if (!r->fetch_dir) {   /* not made by fetch_logs: what an interrupted restore held there (check_fetch_dir) goes */
      if (!(r->fetch_dir = os_join(r->dest, FETCH_DIR))) return JET_errOutOfMemory;
      if ((e = os_mkdir_p(r->fetch_dir, 0700)) != JET_errSuccess) return fail(r, e, "%s cannot be made", r->fetch_dir);
      if (os_kind(r->fetch_dir) != OS_DIR)   /* a link put there since check_dest */
        return fail(r, JET_errInvalidPath, "%s is not a folder: a restore never writes through a link", r->fetch_dir);
      if ((e = empty_fetch_dir(r)) != JET_errSuccess) return fail(r, e, "%s cannot be emptied", r->fetch_dir);
    }
    size_t len = strlen(f->name) + 6;
    char *leaf = malloc(len);
    if (!leaf) return JET_errOutOfMemory;
    snprintf(leaf, len, "held-%s", f->name);
    r->hold_dst = os_join(r->fetch_dir, leaf);
    free(leaf);
    if (!r->hold_dst) return JET_errOutOfMemory;
    r->hold_f = f;
    r->hold_off = 0;
    r->hold_same = 0;
  }
  *more = 1;
  log_header h;
  if (!r->hold_in) {
    e = os_open(r->io, f->src, OS_READ, &r->hold_in);
    r->hold_same = e == JET_errSuccess && log_read_header_of(r->hold_in, &h) == JET_errSuccess && same_log(f, &h);
    if (r->hold_same && (e = os_create_new(r->io, r->hold_dst, &r->hold_out)) != JET_errSuccess)
      e = fail(r, e, "%s cannot be made", r->hold_dst);
  }
  /* one chunk a step: a caller that yields between steps waits for 1 MiB, not for a generation of up to 1 GiB */
  if (r->hold_same && e == JET_errSuccess && r->hold_off < f->size) {
    size_t n = f->size - r->hold_off < COPY_CHUNK ? (size_t)(f->size - r->hold_off) : COPY_CHUNK;
    if ((e = os_pread_full(r->hold_in, r->buf, n, r->hold_off)) == JET_errSuccess &&
        (e = os_pwrite(r->hold_out, r->buf, n, r->hold_off)) != 0)
      e = fail(r, e, "%s cannot be written", r->hold_dst);
    r->hold_off += n;
    if (e == JET_errSuccess && r->hold_off < f->size) return JET_errSuccess;
  }
  /* durable before ST_COPY renames it into place (copy_step): a crash
   * after that finds the whole generation there */
  if (r->hold_same && e == JET_errSuccess && (e = os_sync(r->hold_out)) != JET_errSuccess)
    e = fail(r, e, "%s cannot be written", r->hold_dst);
  if (r->hold_same && e == JET_errSuccess)
    r->hold_same = log_read_header_of(r->hold_in, &h) == JET_errSuccess && same_log(f, &h);
  int made = r->hold_out != NULL;
  os_close(r->hold_in);
  os_close(r->hold_out);
  r->hold_in = r->hold_out = NULL;
  r->hold_f = NULL;
  char *dst = r->hold_dst;
  r->hold_dst = NULL;
  if (e == JET_errSuccess && r->hold_same) {
    free(f->src);
    f->src = dst;
    f->held = 1;
    return JET_errSuccess;
  }
  if (made) (void)os_unlink(r->io, dst);
  free(dst);
  if (e && e != JET_errFileNotFound) return fail(r, e, "the live log %s cannot be read", f->src);
  return fail(r, JET_errMissingCurrentLogFiles, "live log %s was retired or recycled by the instance on the live "
              "log folder since the restore listed it (circular logging, or a backup truncated it): nothing was "
              "changed, restore again", f->src);
}

static JET_ERR check_step(EseRestore *r) {
  /* the live generations first (hold_live_gen): the check of large
   * databases may take long, and an instance with circular logging
   * retires generations meanwhile; the sooner they are held, the fewer
   * restores are refused for it */
  if (!r->held_all) {
    if (!r->hold_next) os_hold_point(r->io, "restore-hold");   /* a spec retires live logs here (mend17_spec) */
    int more;
    JET_ERR e = hold_live_gen(r, &more);
    if (e || more) return e;
    r->held_all = 1;
    if (!r->check) {      /* a new or empty dest: nothing to check before the copy */
      r->cur = 0;
      to_state(r, ST_COPY);
      return JET_errSuccess;
    }
    os_hold_point(r->io, "restore-check");   /* and here, as the databases are checked (review17_spec) */
    return JET_errSuccess;
  }
  while (r->cur < r->nfiles && !r->files[r->cur].is_db) r->cur++;
  if (r->cur == r->nfiles && !r->check_gen) r->check_gen = r->replay_from;
  if (r->cur == r->nfiles && r->check_gen <= r->replay_to) {   /* then the logs the replay reads */
    rsfile *f = log_of(r, r->check_gen++);
    if (!f) return JET_errSuccess;
    JET_ERR e = r->check_stop ? JET_errSuccess : check_log(r, f);
    if (e) return fail(r, e, "checking log %s", f->name);
    r->done += f->size;
    return JET_errSuccess;
  }
  if (r->cur == r->nfiles) {          /* every database and log checked: now the old state goes */
    os_hold_point(r->io, "restore-clear");   /* a spec retires live logs here (mend17_spec) */
    JET_ERR e = clear_dest(r);
    if (e) return e;
    r->cur = 0;
    to_state(r, ST_COPY);
    return JET_errSuccess;
  }
  rsfile *f = &r->files[r->cur];
  JET_ERR e = JET_errSuccess;
  if (!r->in && !r->zin) {
    char why[300];
    r->cur_off = 0;
    if ((e = open_src(r, f, why, sizeof why)) == JET_errReadVerifyFailure) return fail(r, e, "%s", why);
    if (e) return fail(r, e, "checking %s", f->name);
  }
  size_t n = chunk_len(r, f);
  const uint8_t *src;
  e = chunk_in(r, f, n, &src);
  if (e == JET_errSuccess) e = verify_chunk(r, f, src, r->cur_off, n);
  if (e) return fail(r, e, "checking %s", f->name);
  r->cur_off += n;
  r->done += n;
  if (r->cur_off == f->size) {
    os_close(r->in);
    zst_close(r->zin);
    r->in = NULL;
    r->zin = NULL;
    r->cur++;
  }
  return JET_errSuccess;
}

static JET_ERR copy_step(EseRestore *r) {
  if (!r->copy_begun) {
    r->copy_begun = 1;
    os_hold_point(r->io, "restore-copy");   /* a spec retires live logs here (mend18_spec) */
  }
  while (r->cur < r->nfiles && !r->files[r->cur].is_db && r->files[r->cur].gen > r->replay_to) r->cur++;
  if (r->cur == r->nfiles) {
    to_state(r, ST_REPLAY);
    r->replay_base = r->done;
    return os_sync_dir(r->io, r->dest);
  }
  rsfile *f = &r->files[r->cur];
  JET_ERR e = JET_errSuccess;
  if (!r->in && !r->zin && !r->img) {
    char *dst = f->in_place ? strdup(f->src) : os_join(r->dest, f->name);
    if (!dst) return JET_errOutOfMemory;
    /* a held generation (hold_live_gen: whole and synced in dest's
     * FETCH_DIR) goes into place by its name, not written again; the
     * folder's sync at the end of the copy makes the name durable.  Where
     * the rename fails (FETCH_DIR another file system), it is copied. */
    if (f->held && os_rename(r->io, f->src, dst) == JET_errSuccess) {
      free(f->src);
      f->src = dst;
      f->held = 0;
      r->done += f->size;
      r->cur++;
      return JET_errSuccess;
    }
    char why[300];
    /* a compressed file is decoded a chunk ahead, on a thread of its own */
    if (f->live_img) {      /* a live B.log, as the scan read it */
      r->img = f->live_img;
      f->live_img = NULL;
    } else {
      e = open_src(r, f, why, sizeof why);
    }
    if (e == JET_errReadVerifyFailure) {   /* its layout was checked by the scan: changed since */
      free(dst);
      return fail(r, f->is_db ? e : JET_errLogFileCorrupt, "%s", why);
    }
    /* in dest a file is made anew (an old one unlinked first: a write
     * must not reach another name of its inode, such as a 'cp -al' copy
     * or the set's own file); in place it is the caller's */
    if (e == JET_errSuccess)
      e = f->in_place ? os_open(r->io, dst, OS_WRITE | OS_NOFOLLOW, &r->out) : os_create_new(r->io, dst, &r->out);
    free(dst);
    r->cur_off = 0;
    if (e == JET_errSuccess && f->is_db) {
      /* the header first: from now on the file says "being restored",
       * whatever fails later */
      dbheader h = f->dh;
      h.state = DB_RESTORING;
      for (uint32_t pg = 0; pg < 2 && e == JET_errSuccess; pg++) {
        dbheader_encode(&h, r->buf, pg);
        e = os_pwrite(r->out, r->buf, r->page_size, (uint64_t)pg * r->page_size);
      }
      if (e == JET_errSuccess) e = os_sync(r->out);
    }
    if (e) return fail(r, e, "copying %s", f->name);
  }
  size_t n = chunk_len(r, f);
  const uint8_t *src;
  /* a damaged compressed file: its output so far stays marked "being
   * restored" (a database) or is replaced by the next restore (a log) */
  e = chunk_in(r, f, n, &src);
  if (e == JET_errSuccess && f->is_db) e = verify_chunk(r, f, src, r->cur_off, n);
  /* a database's header pages are written already; in place, nothing else changes */
  size_t skip = f->is_db && r->cur_off == 0 ? 2u * r->page_size : 0;
  if (e == JET_errSuccess && !f->in_place && n > skip) e = os_pwrite(r->out, src + skip, n - skip, r->cur_off + skip);
  /* the chunk goes to the disk now, so that the sync at the file's end
   * does not write the whole file in one step */
  if (e == JET_errSuccess && !f->in_place && n > skip) os_writeback(r->out, r->cur_off + skip, n - skip);
  if (e) return fail(r, e, "copying %s", f->name);
  r->cur_off += n;
  r->done += n;
  if (r->cur_off == f->size) {
    if (f->in_place) e = os_truncate(r->out, f->size);    /* drop the trailer page */
    if (e == JET_errSuccess) e = os_sync(r->out);
    if (e) (void)fail(r, e, "copying %s", f->name);
    os_close(r->in);
    os_close(r->out);
    zst_close(r->zin);
    free(r->img);
    r->in = r->out = NULL;
    r->zin = NULL;
    r->img = NULL;
    r->cur++;
  }
  return e;
}

/* ---- replay -------------------------------------------------------------- */

/* A database of a replayed record that no set holds (map_path): noted
 * once (rsskip), when its record is at or after the sets' start; one the
 * first log's header attaches, or a record before the start names, was
 * detached before the full began (a full streams every database
 * attached), and has no change in the replayed range. */
static JET_ERR note_skipped(EseRestore *r, const log_attach *a, int fresh, int has_sig) {
  if (r->rec_lsn == 0 || r->rec_lsn < r->replay_lsn) return JET_errSuccess;
  for (size_t i = 0; i < r->nskipped; i++)
    if (has_sig ? memcmp(r->skipped[i].sig, a->sig, 16) == 0 : strcmp(r->skipped[i].path, a->path) == 0)
      return JET_errSuccess;
  rsskip *ns = realloc(r->skipped, (r->nskipped + 1) * sizeof *ns);
  if (!ns) return JET_errOutOfMemory;
  r->skipped = ns;
  rsskip *k = &ns[r->nskipped];
  memset(k, 0, sizeof *k);
  if (!(k->path = strdup(a->path))) return JET_errOutOfMemory;
  if (has_sig) memcpy(k->sig, a->sig, 16);
  k->created = fresh;
  k->gen = LSN_GEN(r->rec_lsn);
  r->nskipped++;
  return JET_errSuccess;
}

/* A database named in the log is restored when a database of the set has
 * its signature (db_signature in the copy's header), whatever the copy is
 * named; a log that records no signature (format 1) is matched by base
 * name (in place: by the path at backup time).  It is restored under its
 * name in the set (in place: at the path the caller gave), so a copy
 * saved under another name is restored under that name. */
static JET_ERR map_path(void *ud, const log_attach *a, int fresh, char **out) {
  EseRestore *r = ud;
  (void)fresh;
  const char *logged = a->path;
  const char *slash = strrchr(logged, '/');
  const char *name = slash ? slash + 1 : logged;
  int has_sig = redo_sig_known(a->sig);
  *out = NULL;
  for (size_t i = 0; i < r->nfiles; i++) {
    rsfile *f = &r->files[i];
    if (!f->is_db) continue;
    if (has_sig ? memcmp(f->dh.db_sig, a->sig, 16) == 0
                : (f->in_place ? !strcmp(f->orig, logged) : !strcmp(f->name, name))) {
      f->mapped = 1;
      *out = f->in_place ? strdup(f->src) : os_join(r->dest, f->name);
      return *out ? JET_errSuccess : JET_errOutOfMemory;
    }
  }
  return note_skipped(r, a, fresh, has_sig);
}

static void restored_header(dbheader *h, uint32_t gen) {
  h->state = DB_CLEAN;
  h->gen_max = gen;
  memset(&h->backup[BK_CURRENT], 0, sizeof(bkrecord));
  memset(&h->backup[BK_FULL], 0, sizeof(bkrecord));      /* rule 11: a new full first */
  memset(&h->backup[BK_INCREMENTAL], 0, sizeof(bkrecord));
  memset(&h->backup[BK_DIFFERENTIAL], 0, sizeof(bkrecord));
  h->backup_lsn = 0;
}

static JET_ERR replay_open(EseRestore *r) {
  redo_cfg rc = { .io = r->io, .page_size = r->page_size, .sig = r->sig, .map = map_path, .ud = r,
                  .restore = 1, .fix = restored_header, .detail = r->detail, .detail_cap = sizeof r->detail,
                  /* before the checkpoint the copy starts from, every page change is in the
                   * copy already, and replay must meet each page's whole image (logged
                   * first after a checkpoint) before any difference */
                  .apply_from = r->replay_lsn, .stop_after_us = r->to_time };
  JET_ERR e = redo_new(&rc, &r->rd);
  if (e == JET_errSuccess)
    e = log_reader_open(r->io, r->dest, r->base, r->page_size, &r->sig, LSN(r->replay_from, 0),
                        LOG_READ_RESTORE | LOG_READ_CLOSED, &r->reader);   /* dest's logs: every one closed */
  /* databases attached when replay starts: the first log's header; the
   * others are attached or created by records of the replayed logs */
  rsfile *first = log_of(r, r->replay_from);
  for (uint32_t i = 0; e == JET_errSuccess && first && i < first->lh.nattach; i++)
    e = redo_attach(r->rd, &first->lh.attach[i]);
  return e;
}

/* A restore stopped at a point in time: the generation of the cut in dest
 * ends there.  Its records from the cut on (the commits after the point
 * in time and any group they began) become zeros, as the rest of a
 * generation is, and so do both shadow slots (a slot's copy of a block
 * past the cut must never come back); synced. */
static JET_ERR cut_generation(EseRestore *r) {
  rsfile *f = log_of(r, LSN_GEN(r->cut));
  if (!f) return JET_errSuccess;
  char *p = os_join(r->dest, f->name);
  if (!p) return JET_errOutOfMemory;
  esfile *out = NULL;
  JET_ERR e = os_open(r->io, p, OS_WRITE | OS_NOFOLLOW, &out);
  free(p);
  /* the generation ends at the cut as a roll ends one: its end record
   * there (counted over the records before it), zeros after */
  uint8_t *img = e == JET_errSuccess ? calloc(1, f->size) : NULL;
  if (e == JET_errSuccess && !img) e = JET_errOutOfMemory;
  if (e == JET_errSuccess) e = os_pread_full(out, img, LSN_OFF(r->cut), 0);
  uint32_t at = 0;
  int closed = e == JET_errSuccess ? log_close_image(img, &f->lh, &at) : 0;
  if (closed < 0) e = JET_errLogCorruptDuringHardRestore;
  memset(r->buf, 0, COPY_CHUNK);
  if (e == JET_errSuccess) e = os_pwrite(out, r->buf, LOG_DATA_START - LOG_SLOT_A, LOG_SLOT_A);
  for (uint64_t off = LSN_OFF(r->cut); e == JET_errSuccess && off < f->size;) {
    size_t n = f->size - off < COPY_CHUNK ? (size_t)(f->size - off) : COPY_CHUNK;
    e = os_pwrite(out, r->buf, n, off);
    off += n;
  }
  if (e == JET_errSuccess && closed) e = os_pwrite(out, img + at, LR_END_FRAMED, at);
  free(img);
  if (e == JET_errSuccess) e = os_sync(out);
  os_close(out);
  return e ? fail(r, e, "cutting log %s at the point in time", f->name) : JET_errSuccess;
}

/* The replay ended (the logs did, or a commit after the point in time):
 * its checks and the stream trimmed to it, in a step of their own. */
static JET_ERR replay_trim(EseRestore *r) {
  /* a range without a record: the stream still reaches replay_from */
  if (r->last_gen == 0) r->last_gen = r->replay_from;
  if (r->stopped) r->last_gen = LSN_GEN(r->cut);
  else if (r->to_time) {
    /* the logs went past the point in time when a generation replayed
     * began after it, or to_generation ended the replay on purpose (a
     * commit after it would have stopped the replay); without
     * allow_partial, check_reach made sure of it at Begin */
    rsfile *last = log_of(r, r->replay_to);
    r->reached = (last && last->lh.tm_create > r->to_time) || r->cut_by_gen;
    if (!r->reached && !r->allow_partial)
      return fail(r, JET_errMissingLogFile, "the logs end before the point in time%s", "");
  }
  for (size_t i = 0; i < r->nfiles; i++)
    if (r->files[i].is_db && !r->files[i].mapped)
      return fail(r, JET_errDatabasePatchFileMismatch, "database %s is not attached in the logs of the set", r->files[i].name);
  /* logs after the point in time are not part of the restored stream; they
   * go (and the cut generation ends) durably before any database is marked
   * clean: a crash in between leaves databases "being restored" (refused
   * until a new restore), never clean ones beside later logs */
  JET_ERR e = JET_errSuccess;
  for (size_t i = 0; e == JET_errSuccess && i < r->nfiles; i++)
    if (!r->files[i].is_db && r->files[i].gen > r->last_gen) {
      char *p = os_join(r->dest, r->files[i].name);
      if (!p) return JET_errOutOfMemory;
      if (os_exists(p)) e = os_unlink(r->io, p);
      free(p);
    }
  if (e == JET_errSuccess && r->stopped) e = cut_generation(r);
  if (e == JET_errSuccess) {
    /* every restore starts a new timeline of the log stream: the instance
     * the logs came from may still run (or be restored again) and write
     * the generations this stream writes next under the same numbers, and
     * when the stream is cut before the end of the logs given, an archive
     * already holds the old timeline's.  B.arc ahead of the restored log
     * says so to the log archive: nothing ships into a folder that holds
     * this stream's files, nor through a command, until the folder or the
     * command is a new one (docs/guide.md, "After a restore") */
    e = archive_mark(r->io, r->chk_dir, r->base, &r->sig, ARC_MARK_RESTORED);
    if (e) return fail(r, e, "writing %s.arc", r->base);
    /* and its identity, which the instance's backup sets record: expire
     * ranks each timeline's sets apart (docs/backup.md, retention) */
    e = timeline_write(r->io, r->chk_dir, r->base, &r->sig, r->has_parent_tl ? r->parent_tl : NULL, r->last_gen);
    if (e) return fail(r, e, "writing %s.tl", r->base);
  }
  if (e == JET_errSuccess) e = os_sync_dir(r->io, r->dest);
  if (e == JET_errSuccess) to_state(r, ST_WRITEBACK);
  return e;
}

/* A step of the replay's end (redo_finish_step): a slice of the cache
 * written back, a database synced, or its header made clean. */
static JET_ERR writeback_step(EseRestore *r) {
  int more = 0;
  JET_ERR e = redo_finish_step(r->rd, r->last_gen, WRITEBACK_BYTES / r->page_size, &more);
  if (e || more) return e;
  r->next_txid = redo_max_txid(r->rd) + 1;
  r->last_commit_us = redo_last_commit_us(r->rd);
  redo_free(r->rd);
  r->rd = NULL;
  log_reader_close(r->reader);
  r->reader = NULL;
  to_state(r, ST_NEWLOG);
  return JET_errSuccess;
}

/* The stream goes on after the last generation replayed: a new one. */
static JET_ERR newlog_step(EseRestore *r) {
  rsfile *last = log_of(r, r->last_gen);
  log_config cfg = { r->io, r->dest, r->base, r->file_size, r->page_size, 0 };
  eslog *lg = NULL;
  /* created after the last commit replayed (the restoring host's clock may be behind the source's) */
  JET_ERR e = log_create_after(&cfg, &r->sig, r->last_gen + 1, last ? last->lh.tm_create : 0, r->last_commit_us, NULL,
                               0, &lg);
  if (e == JET_errSuccess) {
    r->chk_lsn = log_end(lg);
    e = log_close(lg);
  }
  if (e == JET_errSuccess) to_state(r, ST_CHECKPOINT);
  return e;
}

/* The checkpoint at the new generation's start: an instance on dest
 * replays nothing before it. */
static JET_ERR checkpoint_step(EseRestore *r) {
  chkfile c = { .sig = r->sig, .next_txid = r->next_txid, .lsn = r->chk_lsn };
  char *chkp = chk_path(r->chk_dir, r->base);
  JET_ERR e = chkp ? chk_write(r->io, chkp, &c) : JET_errOutOfMemory;
  free(chkp);
  if (e == JET_errSuccess) e = os_sync_dir(r->io, r->dest);
  if (e == JET_errSuccess) to_state(r, ST_DONE);
  return e;
}

static JET_ERR replay_step(EseRestore *r) {
  uint64_t t0 = os_mono_us();
  JET_ERR e = r->rd ? JET_errSuccess : replay_open(r);
  size_t dirty_max = DIRTY_BYTES / r->page_size;
  if (e == JET_errSuccess && redo_dirty(r->rd) >= dirty_max) {   /* this step writes a slice back */
    e = redo_write_some(r->rd, WRITEBACK_BYTES / r->page_size);
    return e ? fail(r, e, "%s", "writing replayed pages back") : JET_errSuccess;
  }
  log_record rec;
  uint64_t bytes = 0;
  for (int n = 0; e == JET_errSuccess && n < REPLAY_RECORDS && bytes < REPLAY_BYTES && os_mono_us() - t0 < REPLAY_US
                  && redo_dirty(r->rd) < dirty_max;
       n++) {
    JET_ERR more = log_reader_next(r->reader, &rec);
    if (more < 0) {
      char g[16];
      snprintf(g, sizeof g, "%u", r->last_gen ? r->last_gen : r->replay_from);
      if (log_reader_problem(r->reader)) return fail(r, more, "replay failed: %s", log_reader_problem(r->reader));
      return fail(r, more, "replay failed in or after log generation %s", g);
    }
    if (more == 1 || LSN_GEN(rec.lsn) > r->replay_to) {
      to_state(r, ST_TRIM);
      return JET_errSuccess;
    }
    r->last_gen = LSN_GEN(rec.lsn);
    if (r->after_commit) {
      r->cut = rec.lsn;
      r->after_commit = 0;
    }
    /* done: the bytes copied, then the position in the replayed stream */
    if (r->last_gen >= r->replay_from)
      r->done = r->replay_base + (uint64_t)(r->last_gen - r->replay_from) * r->file_size + LSN_OFF(rec.lsn);
    bytes += rec.len + 16u;        /* the payload and about its header */
    r->rec_lsn = rec.lsn;
    e = redo_apply(r->rd, &rec);
    if (e == JET_errSuccess && redo_stopped(r->rd)) {
      /* a commit later than the point in time: it and all after it stay out */
      if (LSN_GEN(rec.lsn) <= r->need_gen) return too_early(r);
      r->stopped = r->reached = 1;
      to_state(r, ST_TRIM);
      return JET_errSuccess;
    }
    if (e == JET_errSuccess && rec.type == LR_COMMIT) r->after_commit = 1;
  }
  return e;
}

void restore_result_of(EseRestore *r, EseRestoreResult *out) {
  memset(out, 0, sizeof *out);
  if (r->job) return;   /* a step runs on the worker: nothing to tell yet */
  out->last_generation = r->last_gen;
  out->last_commit_us = r->last_commit_us;
  out->reached = r->reached;
  out->gap_generation = r->gap;
  out->stopped_at_time = r->stopped;
  out->not_restored = r->nskipped;
}

const char *restore_fetch_end(EseRestore *r) { return r->job ? "" : r->fetch_end; }

const char *restore_not_restored(EseRestore *r, size_t i, int *created, unsigned long *gen) {
  if (r->job || i >= r->nskipped) return NULL;
  if (created) *created = r->skipped[i].created;
  if (gen) *gen = r->skipped[i].gen;
  return r->skipped[i].path;
}

/* One step of r's state (the worker's job, or in line). */
static JET_ERR run_step(void *ud) {
  EseRestore *r = ud;
  switch (r->state) {
  case ST_CHECK: return check_step(r);
  case ST_COPY: return copy_step(r);
  case ST_REPLAY: return replay_step(r);
  case ST_TRIM: return replay_trim(r);
  case ST_WRITEBACK: return writeback_step(r);
  case ST_NEWLOG: return newlog_step(r);
  case ST_CHECKPOINT: return checkpoint_step(r);
  case ST_DONE: break;
  }
  return JET_errSuccess;
}

/* The step: a job of the worker collected (or still running: *pending,
 * nothing else done), else the next step on the worker (waited for
 * STEP_WAIT_US at most); in line when the restore runs in one go, or with
 * ordered I/O. */
static JET_ERR step(EseRestore *r, int *pending) {
  JET_ERR e = JET_errSuccess;
  *pending = 0;
  if (!r->job) {
    if (r->in_one_go || esio_ordered(r->io) || r->state == ST_DONE) return run_step(r);
    r->shown_done = r->done;
    if (!os_worker_start(r->worker, run_step, r)) return run_step(r);   /* no thread: in line */
    r->job = 1;
  }
  if (!os_worker_collect(r->worker, STEP_WAIT_US, &e)) {
    *pending = 1;
    return JET_errSuccess;
  }
  r->job = 0;
  return e;
}

JET_ERR restore_step(EseRestore *r, uint64_t *pdone, uint64_t *ptotal, int *pfinished) {
  JET_ERR e = r->failed;
  int pending = 0;
  if (e == JET_errSuccess) e = step(r, &pending);
  if (e) r->failed = e;
  uint64_t done = pending ? r->shown_done : r->done;   /* r's fields are the job's while it runs */
  if (!pending && r->state == ST_DONE && e == JET_errSuccess) done = r->done = r->total;
  if (pdone) *pdone = done < r->total ? done : r->total;
  if (ptotal) *ptotal = r->total;
  if (pfinished) *pfinished = !pending && r->state == ST_DONE && e == JET_errSuccess;
  return e;
}

void restore_end(EseRestore *r) {
  os_worker_free(r->worker);   /* a step still running on it ends first */
  /* ended in the hold steps of a restore into a new or empty dest
   * (failed, or given up): nothing of dest was written but the held
   * generations */
  if (r->state == ST_CHECK && !r->check && r->lockf) give_back_dest(r);
  redo_free(r->rd);
  log_reader_close(r->reader);
  os_close(r->in);
  os_close(r->out);
  os_close(r->hold_in);
  os_close(r->hold_out);
  free(r->hold_dst);
  zst_close(r->zin);
  free(r->img);
  drop_fetch_dir(r);
  os_close(r->lockf);
  for (size_t i = 0; i < r->nfiles; i++) {
    free(r->files[i].src);
    free(r->files[i].name);
    free(r->files[i].orig);
    free(r->files[i].live_img);
    if (!r->files[i].is_db) log_header_clear(&r->files[i].lh);
  }
  free(r->files);
  for (size_t i = 0; i < r->nskipped; i++) free(r->skipped[i].path);
  free(r->skipped);
  free(r->buf);
  free(r->dest);
  free(r->chk_dir);
  esio_free(r->io);
  inst_end_restore(r->inst);
  free(r);
}

/* Steps a begun restore to its end, reporting percent to pfn; ends it. */
JET_ERR restore_run(EseRestore *r, JET_PFNSTATUS pfn) {
  JET_SNPROG prog = { sizeof prog, 0, 100 };
  JET_ERR e = JET_errSuccess;
  if (pfn) pfn(0, JET_snpRestore, JET_sntBegin, &prog);
  int finished = 0;
  r->in_one_go = 1;
  while (e == JET_errSuccess && !finished) {
    uint64_t done, total;
    e = restore_step(r, &done, &total, &finished);
    prog.cunitDone = total ? (unsigned long)(done * 100 / total) : 100;
    if (e == JET_errSuccess && pfn) e = pfn(0, JET_snpRestore, JET_sntProgress, &prog);
  }
  if (pfn) pfn(0, JET_snpRestore, e ? JET_sntFail : JET_sntComplete, &prog);
  restore_end(r);
  return e;
}
