/*
 * backup_folder.c -- JetBackupInstance: the whole external backup sequence
 * into a folder in one call, with a progress callback (ESE's JetBackup).
 * It uses only the public Jet* calls, like any client would; a stop from
 * another thread (JetStopBackupInstance) makes it fail with
 * JET_errBackupAbortByServer, and any failure ends the backup with
 * End(abort) so nothing is recorded.  The folder must be empty
 * (JET_errBackupDirectoryNotEmpty), full or incremental, and is created
 * when missing.  A refused call (a path NULL or empty, a grbit other than
 * 0 or JET_bitBackupIncremental, a refused Begin) creates nothing.
 */
#include "internal.h"
#include <stdlib.h>
#include <string.h>

#define CHUNK (1u << 20)

typedef struct job {
  JET_INSTANCE inst;
  const char *folder;
  JET_PFNSTATUS pfn;
  JET_SNPROG prog;
  uint64_t done, total;
  uint8_t *buf;
  esio *io;
} job;

static JET_ERR progress(job *j) {
  if (!j->pfn) return JET_errSuccess;
  j->prog.cunitDone = j->total ? (unsigned long)(j->done * 100 / j->total) : 0;
  return j->pfn(0, JET_snpBackup, JET_sntProgress, &j->prog);
}

static JET_ERR copy_one(job *j, const char *path) {
  JET_HANDLE h;
  unsigned long lo, hi;
  JET_ERR e = JetOpenFileInstance(j->inst, path, &h, &lo, &hi);
  if (e) return e;
  const char *slash = strrchr(path, '/');
  char *dst = os_join(j->folder, slash ? slash + 1 : path);
  esfile *out = NULL;
  if (!dst) e = JET_errOutOfMemory;
  else e = os_open(j->io, dst, OS_WRITE | OS_CREATE | OS_EXCL, &out);
  uint64_t off = 0;
  for (unsigned long n = 1; e == JET_errSuccess && n > 0;) {
    n = 0;
    e = JetReadFileInstance(j->inst, h, j->buf, CHUNK, &n);
    if (e == JET_errSuccess && n) e = os_pwrite(out, j->buf, n, off);
    off += n;
    j->done += n;
    if (e == JET_errSuccess) e = progress(j);
  }
  if (e == JET_errSuccess) e = os_sync(out);
  os_close(out);
  free(dst);
  JET_ERR ce = JetCloseFileInstance(j->inst, h);
  return e ? e : (ce == JET_errNoBackup ? JET_errSuccess : ce);
}

/* Names of a double-NUL-terminated list into a new array (free it and *buf). */
static JET_ERR get_list(JET_ERR (*fn)(JET_INSTANCE, char *, unsigned long, unsigned long *), JET_INSTANCE inst,
                        char **buf, char ***names, int *n) {
  unsigned long cb = 0;
  JET_ERR e = fn(inst, NULL, 0, &cb);
  if (e) return e;
  if (!(*buf = malloc(cb + 2))) return JET_errOutOfMemory;
  if ((e = fn(inst, *buf, cb, &cb)) != JET_errSuccess) return e;
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

static JET_ERR copy_list(job *j, JET_ERR (*fn)(JET_INSTANCE, char *, unsigned long, unsigned long *)) {
  char *buf = NULL, **names = NULL;
  int n = 0;
  JET_ERR e = get_list(fn, j->inst, &buf, &names, &n);
  for (int i = 0; e == JET_errSuccess && i < n; i++) e = copy_one(j, names[i]);
  free(names);
  free(buf);
  return e;
}

static JET_ERR size_list(job *j, JET_ERR (*fn)(JET_INSTANCE, char *, unsigned long, unsigned long *)) {
  char *buf = NULL, **names = NULL;
  int n = 0;
  JET_ERR e = get_list(fn, j->inst, &buf, &names, &n);
  for (int i = 0; e == JET_errSuccess && i < n; i++) {
    EseFileInfo fi;
    if (EseGetFileInfo(names[i], 0, &fi, NULL, 0) == JET_errSuccess)
      j->total += fi.kind == EseFileDatabase ? (uint64_t)(fi.pages + 1) * fi.pageSize : fi.fileSize;
  }
  free(names);
  free(buf);
  return e;
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
  e = esio_new(&j.io);
  if (e == JET_errSuccess && !(j.buf = aligned_alloc(4096, CHUNK))) e = JET_errOutOfMemory;
  if (e == JET_errSuccess) e = os_mkdir_p(szBackupPath, 0700);
  if (e == JET_errSuccess) e = os_list_dir(szBackupPath, folder_empty_entry, NULL);
  int notified = e == JET_errSuccess && pfnStatus;   /* the callback hears of a backup that started copying */
  if (notified) pfnStatus(0, JET_snpBackup, JET_sntBegin, &j.prog);
  if (e == JET_errSuccess && !incr) e = size_list(&j, JetGetAttachInfoInstance);
  if (e == JET_errSuccess && !incr) e = copy_list(&j, JetGetAttachInfoInstance);
  if (e == JET_errSuccess) e = size_list(&j, JetGetLogInfoInstance);
  if (e == JET_errSuccess) e = copy_list(&j, JetGetLogInfoInstance);
  if (e == JET_errSuccess) e = os_sync_dir(j.io, szBackupPath);
  if (e == JET_errSuccess) e = JetTruncateLogInstance(instance);
  if (e == JET_errSuccess) e = JetEndExternalBackupInstance2(instance, JET_bitBackupEndNormal);
  else if (e != JET_errNoBackup) {
    JET_ERR ae = JetEndExternalBackupInstance2(instance, JET_bitBackupEndAbort);
    (void)ae;   /* the first error is the one to report */
  }
  if (notified) pfnStatus(0, JET_snpBackup, e ? JET_sntFail : JET_sntComplete, &j.prog);
  free(j.buf);
  esio_free(j.io);
  return e;
}

JET_ERR JET_API JetBackup(const char *szBackupPath, JET_GRBIT grbit, JET_PFNSTATUS pfnStatus) {
  esinst *inst;
  JET_ERR e = inst_legacy(&inst);
  return e ? e : JetBackupInstance((JET_INSTANCE)inst, szBackupPath, grbit, pfnStatus);
}
