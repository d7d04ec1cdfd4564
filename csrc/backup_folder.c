/*
 * backup_folder.c -- JetBackupInstance: the whole external backup sequence
 * into a folder in one call, with a progress callback (ESE's JetBackup).
 * It uses only the public Jet* calls, like any client would; a stop from
 * another thread (JetStopBackupInstance) makes it fail with
 * JET_errBackupAbortByServer, and any failure ends the backup with
 * End(abort) so nothing is recorded.  The folder must be empty
 * (JET_errBackupDirectoryNotEmpty), full or incremental, and is created
 * when missing.  A refused call (a path NULL or empty, a grbit other than
 * 0 or JET_bitBackupIncremental, a refused Begin) creates nothing.  A
 * full backup with no database attached cannot be restored: it is refused
 * (JET_errDatabaseNotFound) before a file is written.  A failure before
 * the log truncation removes the files this call created (and the folder
 * when it made it); after it (the truncation or End fails) the complete
 * set is kept, as it holds the only copy of the truncated logs.
 *
 * The folder gets the manifest.json of ese.backup's backup.run (same keys
 * in the same order, SHA-256 of each file as it streamed, libcrypto):
 * written last, after every file is fsynced, and fsynced itself before
 * the folder, the truncation and End, so a folder with a manifest is a
 * complete set.  The key order is encode_manifest's: top-level keys
 * sorted, "files" last, each entry's keys sorted.
 */
#include "ese.h"
#include "os.h"
#include "sha256.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1u << 20)
#define MANIFEST "manifest.json"

/* One file of the set, for the manifest. */
typedef struct entry {
  char *name;       /* base name (owned) */
  int db;           /* a database (else a log) */
  int created;      /* this call created folder/name (O_EXCL) */
  uint64_t size;
  char sha[65];
} entry;

typedef struct job {
  JET_INSTANCE inst;
  const char *folder;
  JET_PFNSTATUS pfn;
  JET_SNPROG prog;
  uint64_t done, total;
  uint8_t *buf;
  esio *io;
  int db_phase;     /* copying databases (else logs) */
  entry *files;
  int nfiles, cap;
  JET_LOGINFO li;   /* of the log list (generations, base name) */
  int manifest_created;
  time_t began;
} job;

static JET_ERR progress(job *j) {
  if (!j->pfn) return JET_errSuccess;
  j->prog.cunitDone = j->total ? (unsigned long)(j->done * 100 / j->total) : 0;
  return j->pfn(0, JET_snpBackup, JET_sntProgress, &j->prog);
}

/* A new entry for the file of base name `name`; NULL on OOM. */
static entry *add_entry(job *j, const char *name) {
  if (j->nfiles == j->cap) {
    int nc = j->cap ? j->cap * 2 : 8;
    entry *nf = realloc(j->files, (size_t)nc * sizeof *nf);
    if (!nf) return NULL;
    j->files = nf;
    j->cap = nc;
  }
  entry *f = &j->files[j->nfiles];
  memset(f, 0, sizeof *f);
  if (!(f->name = strdup(name))) return NULL;
  f->db = j->db_phase;
  j->nfiles++;
  return f;
}

static JET_ERR copy_one(job *j, const char *path) {
  JET_HANDLE h;
  unsigned long lo, hi;
  JET_ERR e = JetOpenFileInstance(j->inst, path, &h, &lo, &hi);
  if (e) return e;
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  char *dst = os_join(j->folder, base);
  esfile *out = NULL;
  essha *sha = NULL;
  entry *ent = NULL;
  if (!dst || !(ent = add_entry(j, base))) e = JET_errOutOfMemory;
  else e = sha256_new(&sha);
  if (e == JET_errSuccess) e = os_open(j->io, dst, OS_WRITE | OS_CREATE | OS_EXCL, &out);
  if (e == JET_errSuccess) ent->created = 1;
  uint64_t off = 0;
  for (unsigned long n = 1; e == JET_errSuccess && n > 0;) {
    n = 0;
    e = JetReadFileInstance(j->inst, h, j->buf, CHUNK, &n);
    if (e == JET_errSuccess && n) e = sha256_update(sha, j->buf, n);
    if (e == JET_errSuccess && n) e = os_pwrite(out, j->buf, n, off);
    off += n;
    j->done += n;
    if (e == JET_errSuccess) e = progress(j);
  }
  if (e == JET_errSuccess) e = os_sync(out);
  if (e == JET_errSuccess) e = sha256_hex(sha, ent->sha);
  if (ent) ent->size = off;
  sha256_free(sha);
  os_close(out);
  free(dst);
  JET_ERR ce = JetCloseFileInstance(j->inst, h);
  return e ? e : (ce == JET_errNoBackup ? JET_errSuccess : ce);
}

/* ---- manifest.json ------------------------------------------------------------ */

typedef struct text { char *p; size_t n, cap; int oom; } text;

static void put(text *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int need = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (need < 0 || t->oom) { t->oom = 1; return; }
  if (t->n + (size_t)need + 1 > t->cap) {
    size_t nc = (t->cap ? t->cap * 2 : 1024) + (size_t)need;
    char *np = realloc(t->p, nc);
    if (!np) { t->oom = 1; return; }
    t->p = np;
    t->cap = nc;
  }
  va_start(ap, fmt);
  vsnprintf(t->p + t->n, t->cap - t->n, fmt, ap);
  va_end(ap);
  t->n += (size_t)need;
}

/* A JSON string as lua-cjson writes it ('/' escaped too). */
static void put_str(text *t, const char *s) {
  put(t, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    switch (c) {
    case '"': put(t, "\\\""); break;
    case '\\': put(t, "\\\\"); break;
    case '/': put(t, "\\/"); break;
    case '\b': put(t, "\\b"); break;
    case '\f': put(t, "\\f"); break;
    case '\n': put(t, "\\n"); break;
    case '\r': put(t, "\\r"); break;
    case '\t': put(t, "\\t"); break;
    default:
      if (c < 0x20 || c == 0x7f) put(t, "\\u%04x", c);
      else put(t, "%c", c);
    }
  }
  put(t, "\"");
}

static void put_hex(text *t, const unsigned char *b) {
  char hex[33];
  for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", b[i]);
  put_str(t, hex);
}

/* The manifest of the files copied (read back from the copies: page size,
 * signatures, generations) into the folder, fsynced. */
static JET_ERR write_manifest(job *j, int incr) {
  EseFileInfo fi, first = {0};
  int have_first = 0, have_log = 0;
  unsigned char log_sig[16] = {0};
  text t = {0};
  text files = {0};
  unsigned char timeline[16], parent[16];
  static const unsigned char root[16];
  int has_timeline = 0;   /* the instance's timeline (absent: the stream's root one) */
  JET_ERR e = EseGetTimeline(j->inst, timeline, parent, &has_timeline);
  for (int i = 0; i < j->nfiles && e == JET_errSuccess; i++) {
    entry *f = &j->files[i];
    char *path = os_join(j->folder, f->name);
    if (!path) { e = JET_errOutOfMemory; break; }
    e = EseGetFileInfo(path, 0, &fi, NULL, 0);
    free(path);
    if (e) break;
    if (!have_first) { first = fi; have_first = 1; }
    put(&files, "%s    {", i ? ",\n" : "");
    if (f->db) {
      put(&files, "\"db_signature\": ");
      put_hex(&files, fi.dbSignature);
      put(&files, ", \"log_signature\": ");
      put_hex(&files, fi.logSignature);
      put(&files, ", ");
    } else {
      if (!have_log) { memcpy(log_sig, fi.logSignature, 16); have_log = 1; }
      else if (memcmp(log_sig, fi.logSignature, 16) != 0) e = JET_errGivenLogFileHasBadSignature;
      put(&files, "\"generation\": %lu, ", fi.generation);
    }
    put(&files, "\"name\": ");
    put_str(&files, f->name);
    put(&files, ", \"sha256\": \"%s\", \"size\": %llu, \"type\": \"%s\"}", f->sha,
        (unsigned long long)f->size, f->db ? "database" : "log");
  }
  if (e == JET_errSuccess && !have_log) e = JET_errMissingRestoreLogFiles;   /* the engine lists the current log at least */
  if (e == JET_errSuccess) {
    char when[32];
    struct tm tm;
    if (!gmtime_r(&j->began, &tm) || !strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm)) when[0] = 0;
    j->li.szBaseName[JET_BASE_NAME_LENGTH] = 0;
    put(&t, "{\n  \"base_name\": ");
    put_str(&t, j->li.szBaseName);
    put(&t, ",\n  \"engine_version\": \"%s\"", ESE_VERSION);
    put(&t, ",\n  \"format\": \"lua-ese backup\",\n  \"format_version\": 1");
    put(&t, ",\n  \"gen_high\": %lu,\n  \"gen_low\": %lu", j->li.ulGenHigh, j->li.ulGenLow);
    put(&t, ",\n  \"kind\": \"%s\",\n  \"log_signature\": ", incr ? "incremental" : "full");
    put_hex(&t, log_sig);
    put(&t, ",\n  \"page_size\": %lu,\n  \"time\": \"%s\",\n  \"time_unix\": %lld", first.pageSize, when,
        (long long)j->began);
    if (has_timeline) {
      put(&t, ",\n  \"timeline\": ");
      put_hex(&t, timeline);
      if (memcmp(parent, root, 16) != 0) {
        put(&t, ",\n  \"timeline_parent\": ");
        put_hex(&t, parent);
      }
    }
    put(&t, ",\n  \"truncated\": true,\n  \"files\": [\n%s\n  ]\n}\n", files.p ? files.p : "");
    if (t.oom || files.oom) e = JET_errOutOfMemory;
  }
  char *path = e ? NULL : os_join(j->folder, MANIFEST);
  if (e == JET_errSuccess && !path) e = JET_errOutOfMemory;
  esfile *out = NULL;
  if (e == JET_errSuccess) e = os_open(j->io, path, OS_WRITE | OS_CREATE | OS_EXCL, &out);
  if (e == JET_errSuccess) j->manifest_created = 1;
  if (e == JET_errSuccess) e = os_pwrite(out, t.p, t.n, 0);
  if (e == JET_errSuccess) e = os_sync(out);
  os_close(out);
  free(path);
  free(t.p);
  free(files.p);
  return e;
}

/* The attach list (logs = 0) or the log list (logs = 1; its JET_LOGINFO
 * into j->li) in buf, as JetGetAttachInfoInstance / JetGetLogInfoInstance2. */
static JET_ERR list_call(job *j, int logs, char *buf, unsigned long cb, unsigned long *pcb) {
  if (!logs) return JetGetAttachInfoInstance(j->inst, buf, cb, pcb);
  memset(&j->li, 0, sizeof j->li);
  j->li.cbSize = sizeof j->li;
  return JetGetLogInfoInstance2(j->inst, buf, cb, pcb, &j->li);
}

/* Names of a double-NUL-terminated list into a new array (free it and *buf). */
static JET_ERR get_list(job *j, int logs, char **buf, char ***names, int *n) {
  unsigned long cb = 0;
  JET_ERR e = list_call(j, logs, NULL, 0, &cb);
  if (e) return e;
  if (!(*buf = malloc(cb + 2))) return JET_errOutOfMemory;
  if ((e = list_call(j, logs, *buf, cb, &cb)) != JET_errSuccess) return e;
  int count = 0;
  for (char *p = *buf; *p; p += strlen(p) + 1) count++;
  if (!(*names = calloc((size_t)count + 1, sizeof **names))) return JET_errOutOfMemory;
  count = 0;
  for (char *p = *buf; *p; p += strlen(p) + 1) (*names)[count++] = p;
  *n = count;
  return JET_errSuccess;
}

static JET_ERR folder_empty_entry(const char *name, void *ud) {
  (void)name; (void)ud;
  return JET_errBackupDirectoryNotEmpty;
}

static JET_ERR copy_list(job *j, int logs) {
  char *buf = NULL, **names = NULL;
  int n = 0;
  JET_ERR e = get_list(j, logs, &buf, &names, &n);
  j->db_phase = !logs;
  for (int i = 0; e == JET_errSuccess && i < n; i++) e = copy_one(j, names[i]);
  free(names);
  free(buf);
  return e;
}

/* Adds the sizes of a list to j->total.  A full backup of no database:
 * JET_errDatabaseNotFound (a set without a database cannot be restored). */
static JET_ERR size_list(job *j, int logs) {
  char *buf = NULL, **names = NULL;
  int n = 0;
  JET_ERR e = get_list(j, logs, &buf, &names, &n);
  if (e == JET_errSuccess && !logs && n == 0) e = JET_errDatabaseNotFound;
  for (int i = 0; e == JET_errSuccess && i < n; i++) {
    EseFileInfo fi;
    if (EseGetFileInfo(names[i], 0, &fi, NULL, 0) == JET_errSuccess)
      j->total += fi.kind == EseFileDatabase ? (uint64_t)(fi.pages + 1) * fi.pageSize : fi.fileSize;
  }
  free(names);
  free(buf);
  return e;
}

/* After a failure before the truncation: removes exactly the files this
 * call created (opened with O_EXCL, so none was there before), never
 * another, and the folder when this call made it and it is empty then. */
static void remove_created(job *j, int made_folder) {
  for (int i = 0; i <= j->nfiles; i++) {
    int mine = i < j->nfiles ? j->files[i].created : j->manifest_created;
    char *p = mine ? os_join(j->folder, i < j->nfiles ? j->files[i].name : MANIFEST) : NULL;
    if (p) (void)os_unlink(j->io, p);     /* best effort: the first error is the one reported */
    free(p);
  }
  if (made_folder) (void)rmdir(j->folder);
}

/* Whether the folder's last name is one the Lua tools read as no set:
 * NAME.partial (an unfinished backup.run: verify and restore refuse it)
 * or .expiring-NAME (a set backup.expire was deleting: the next expire
 * deletes it unread).  A set written there would look complete to this
 * call, its logs truncated, and be refused or deleted afterwards. */
static int reserved_set_name(const char *path) {
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/') n--;
  size_t at = n;
  while (at > 0 && path[at - 1] != '/') at--;
  static const char partial[] = ".partial", expiring[] = ".expiring-";
  size_t len = n - at, pl = sizeof partial - 1, el = sizeof expiring - 1;
  return (len >= pl && memcmp(path + n - pl, partial, pl) == 0) ||
         (len >= el && memcmp(path + at, expiring, el) == 0);
}

JET_ERR JET_API JetBackupInstance(JET_INSTANCE instance, const char *szBackupPath, JET_GRBIT grbit,
                                  JET_PFNSTATUS pfnStatus) {
  if (!szBackupPath || !*szBackupPath) return JET_errInvalidParameter;   /* no "truncate only" form */
  int incr = (grbit & JET_bitBackupIncremental) != 0;
  job j = { .inst = instance, .folder = szBackupPath, .pfn = pfnStatus, .prog = { sizeof(JET_SNPROG), 0, 100 } };
  /* Begin comes before the folder is touched: a call that the instance
   * refuses (its state, a backup in progress, no full backup) creates
   * nothing.  From here on this call owns a backup, and every failure
   * ends it with End(abort). */
  JET_ERR e = JetBeginExternalBackupInstance(instance, grbit);   /* 0 or Incremental, else InvalidGrbit */
  if (e) return e;
  j.began = time(NULL);
  e = reserved_set_name(szBackupPath) ? JET_errInvalidPath : JET_errSuccess;   /* nothing made: End(abort) below */
  if (e == JET_errSuccess) e = esio_new(&j.io);
  if (e == JET_errSuccess && !(j.buf = aligned_alloc(4096, CHUNK))) e = JET_errOutOfMemory;
  int made_folder = e == JET_errSuccess && os_kind(szBackupPath) == OS_ABSENT;
  if (e == JET_errSuccess) e = os_mkdir_p(szBackupPath, 0700);
  if (e == JET_errSuccess) e = os_list_dir(szBackupPath, folder_empty_entry, NULL);
  int notified = e == JET_errSuccess && pfnStatus;   /* the callback hears of a backup that started copying */
  if (notified) pfnStatus(0, JET_snpBackup, JET_sntBegin, &j.prog);
  if (e == JET_errSuccess && !incr) e = size_list(&j, 0);
  if (e == JET_errSuccess && !incr) e = copy_list(&j, 0);
  if (e == JET_errSuccess) e = size_list(&j, 1);
  if (e == JET_errSuccess) e = copy_list(&j, 1);
  if (e == JET_errSuccess) e = write_manifest(&j, incr);   /* last, fsynced */
  if (e == JET_errSuccess) e = os_sync_dir(j.io, szBackupPath);
  if (e && j.io) remove_created(&j, made_folder);   /* nothing truncated yet: the set is of no use */
  if (e == JET_errSuccess) e = JetTruncateLogInstance(instance);   /* from here on the set holds the only copy */
  if (e == JET_errSuccess) e = JetEndExternalBackupInstance2(instance, JET_bitBackupEndNormal);
  else if (e != JET_errNoBackup) {
    JET_ERR ae = JetEndExternalBackupInstance2(instance, JET_bitBackupEndAbort);
    (void)ae;   /* the first error is the one to report */
  }
  if (notified) pfnStatus(0, JET_snpBackup, e ? JET_sntFail : JET_sntComplete, &j.prog);
  for (int i = 0; i < j.nfiles; i++) free(j.files[i].name);
  free(j.files);
  free(j.buf);
  esio_free(j.io);
  return e;
}
