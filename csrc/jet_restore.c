/* jet_restore.c -- the entry points of restore and of file inspection:
 * EseRestoreBegin / Step / ResultOf / Detail / End, JetRestoreInstance,
 * JetExternalRestore2 (restore.h: restore.c's hard recovery), and
 * EseVerifyPages, EseGetFileInfo (check.h: check.c).  Each checks its
 * arguments and calls one function below; the two Jet restores build the
 * options of a one-folder restore and run it to its end (restore_run). */
#include "restore.h"
#include "check.h"
#include "log_format.h"   /* ESE_MAX_DB */

JET_ERR EseRestoreBegin(const EseRestoreOptions *o, EseRestore **out) {
  if (!out || !restore_options_ok(o)) return JET_errInvalidParameter;
  return restore_begin(o, out);
}

JET_ERR EseRestoreStep(EseRestore *r, uint64_t *pdone, uint64_t *ptotal, int *pfinished) {
  return r ? restore_step(r, pdone, ptotal, pfinished) : JET_errInvalidParameter;
}

void EseRestoreResultOf(EseRestore *r, EseRestoreResult *out) {
  if (!out) return;
  if (r) restore_result_of(r, out);
  else memset(out, 0, sizeof *out);
}

const char *EseRestoreNotRestored(EseRestore *r, unsigned long i, int *pcreated, unsigned long *pgen) {
  return r ? restore_not_restored(r, i, pcreated, pgen) : NULL;
}

const char *EseRestoreFetchEnd(EseRestore *r) { return r ? restore_fetch_end(r) : ""; }

const char *EseRestoreDetail(EseRestore *r) { return r ? restore_detail(r) : ""; }

void EseRestoreEnd(EseRestore *r) {
  if (r) restore_end(r);
}

/* A restore of one folder's set, run to its end. */
static JET_ERR restore_folder(const EseRestoreOptions *o, JET_PFNSTATUS pfn) {
  EseRestore *r;
  JET_ERR e = EseRestoreBegin(o, &r);
  return e ? e : restore_run(r, pfn);
}

JET_ERR JET_API JetRestoreInstance(JET_INSTANCE instance, const char *szBackupPath, const char *szDest,
                                   JET_PFNSTATUS pfn) {
  if (!szBackupPath || !szDest) return JET_errInvalidParameter;
  const char *dirs[1] = { szBackupPath };
  EseRestoreOptions o = { .dirs = dirs, .ndirs = 1, .dest = szDest, .instance = instance, .overwrite = 1 };
  return restore_folder(&o, pfn);
}

JET_ERR JET_API JetExternalRestore2(char *szCheckpointFilePath, char *szLogPath, JET_RSTMAP *rgrstmap,
                                    long crstfilemap, char *szBackupLogPath, JET_LOGINFO *pLogInfo,
                                    char *szTargetInstanceName, char *szTargetInstanceLogPath,
                                    char *szTargetInstanceCheckpointPath, JET_PFNSTATUS pfn) {
  if (!szLogPath || !szBackupLogPath || !pLogInfo || pLogInfo->cbSize != sizeof *pLogInfo || crstfilemap <= 0 ||
      crstfilemap > ESE_MAX_DB || !rgrstmap || szTargetInstanceName || szTargetInstanceLogPath ||
      szTargetInstanceCheckpointPath)
    return JET_errInvalidParameter;
  const char *files[ESE_MAX_DB], *origs[ESE_MAX_DB];
  for (long i = 0; i < crstfilemap; i++) {
    files[i] = rgrstmap[i].szNewDatabaseName;
    origs[i] = rgrstmap[i].szDatabaseName;
  }
  const char *dirs[1] = { szBackupLogPath };
  EseRestoreOptions o = { .dirs = dirs, .ndirs = 1, .dest = szLogPath, .base_name = pLogInfo->szBaseName,
                          .db_files = files, .db_originals = origs, .ndb_files = (unsigned long)crstfilemap,
                          .checkpoint_dir = szCheckpointFilePath, .gen_low = pLogInfo->ulGenLow,
                          .gen_high = pLogInfo->ulGenHigh, .overwrite = 1 };
  return restore_folder(&o, pfn);
}

/* ---- file inspection (check.h) ---------------------------------------------- */

JET_ERR EseVerifyPages(const void *buf, size_t cb, unsigned long pageSize, unsigned long firstPage,
                       uint64_t fileSize, const unsigned char *copySignature, const char *name, char *detail,
                       size_t cbDetail) {
  uint32_t ps = (uint32_t)pageSize;
  if (!buf || !name || ps < 512 || ps > 65536 || pageSize != ps) return JET_errInvalidParameter;
  return check_pages(buf, cb, ps, firstPage, fileSize, copySignature, name, detail, cbDetail);
}

JET_ERR EseGetFileInfo(const char *path, int verify, EseFileInfo *info, char *detail, size_t cb) {
  if (!path || !info) return JET_errInvalidParameter;
  memset(info, 0, sizeof *info);
  if (detail && cb) detail[0] = 0;
  return check_file_info(path, verify, info, NULL, detail, cb);
}
