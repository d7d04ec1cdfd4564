/* jet_backup.c -- the entry points of the external (streaming) backup:
 * the Jet*Instance calls of the sequence, EseBackupStep,
 * JetStopBackupInstance, the pacer's two calls and the legacy
 * instance-less forms.  Each checks its arguments, enters the instance
 * (the state gate), calls one backup_* function of backup.c (backup.h
 * says what each answers in each backup state) and leaves.  The only
 * logic of their own: a paced read sleeps out of the instance when the
 * pacer asks (ENTERED_READ), and JetReadFileInstance reads piece after
 * piece until the caller's buffer is full. */
#include "archive.h"
#include "backup.h"
#include "pace.h"
#include <sched.h>

/* Runs call in the instance entered from handle instance (named inst
 * there), then leaves it. */
#define ENTERED(instance, call)                        \
  do {                                                 \
    esinst *inst;                                      \
    JET_ERR e_ = inst_enter_handle((instance), &inst); \
    if (e_) return e_;                                 \
    e_ = (call);                                       \
    inst_leave(inst);                                  \
    return e_;                                         \
  } while (0)

JET_ERR JET_API JetBeginExternalBackupInstance(JET_INSTANCE instance, JET_GRBIT grbit) {
  /* the grbit is checked in the instance: the gate's refusal comes first */
  int bad = (grbit & ~(JET_bitBackupIncremental | ESE_bitBackupStepwise)) != 0;
  ENTERED(instance, bad ? JET_errInvalidGrbit : backup_begin(inst, grbit));
}

JET_ERR JET_API JetGetAttachInfoInstance(JET_INSTANCE instance, char *szzDatabases, unsigned long cbMax,
                                         unsigned long *pcbActual) {
  ENTERED(instance, backup_attach_info(inst, szzDatabases, cbMax, pcbActual));
}

JET_ERR JET_API JetOpenFileInstance(JET_INSTANCE instance, const char *szFileName, JET_HANDLE *phfFile,
                                    unsigned long *pulFileSizeLow, unsigned long *pulFileSizeHigh) {
  ENTERED(instance, backup_open_file(inst, szFileName, phfFile, pulFileSizeLow, pulFileSizeHigh));
}

/* One backup_read, after as many pacing sleeps as the pacer asks for,
 * each slept with no lock held and out of the instance. */
static JET_ERR read_piece(JET_INSTANCE instance, JET_HANDLE hfFile, void *pv, unsigned long cb,
                          unsigned long *pcbActual, int paced, int *at_end) {
  uint64_t credit = 0, wait = 0;
  for (;;) {
    esinst *inst;
    JET_ERR e = inst_enter_handle(instance, &inst);
    if (e) return e;
    e = backup_read(inst, hfFile, pv, cb, pcbActual, paced, &credit, &wait, at_end);
    inst_leave(inst);
    if (e || !wait) return e;
    pace_sleep_ns(wait);
  }
}

/* Paced: piece after piece until cb bytes or the end.  Bytes delivered
 * before an error are returned first; the next call meets the error. */
JET_ERR JET_API JetReadFileInstance(JET_INSTANCE instance, JET_HANDLE hfFile, void *pv, unsigned long cb,
                                    unsigned long *pcbActual) {
  unsigned long done = 0, got = 0;
  int at_end = 0;
  JET_ERR e;
  do {
    got = 0;
    e = read_piece(instance, hfFile, pv ? (uint8_t *)pv + done : NULL, cb - done, &got, 1, &at_end);
    done += got;
  } while (e == JET_errSuccess && got && !at_end && done < cb);
  if (e && done) e = JET_errSuccess;
  if (e == JET_errSuccess && pcbActual) *pcbActual = done;
  return e;
}

JET_ERR EseReadFileInstanceUnpaced(JET_INSTANCE instance, JET_HANDLE hfFile, void *pv, unsigned long cb,
                                   unsigned long *pcbActual) {
  int at_end = 0;
  return read_piece(instance, hfFile, pv, cb, pcbActual, 0, &at_end);
}

JET_ERR JET_API JetCloseFileInstance(JET_INSTANCE instance, JET_HANDLE hfFile) {
  ENTERED(instance, backup_close_file(inst, hfFile));
}

JET_ERR JET_API JetGetLogInfoInstance(JET_INSTANCE instance, char *szzLogs, unsigned long cbMax,
                                      unsigned long *pcbActual) {
  ENTERED(instance, backup_log_info(inst, 0, szzLogs, cbMax, pcbActual, NULL));
}

JET_ERR JET_API JetGetLogInfoInstance2(JET_INSTANCE instance, char *szzLogs, unsigned long cbMax,
                                       unsigned long *pcbActual, JET_LOGINFO *pLogInfo) {
  if (!pLogInfo || pLogInfo->cbSize != sizeof *pLogInfo) return JET_errInvalidParameter;
  ENTERED(instance, backup_log_info(inst, 0, szzLogs, cbMax, pcbActual, pLogInfo));
}

JET_ERR JET_API JetGetTruncateLogInfoInstance(JET_INSTANCE instance, char *szzLogs, unsigned long cbMax,
                                              unsigned long *pcbActual) {
  ENTERED(instance, backup_log_info(inst, 1, szzLogs, cbMax, pcbActual, NULL));
}

JET_ERR EseGetTimeline(JET_INSTANCE instance, unsigned char id[16], unsigned char parent[16], int *pfHas) {
  if (!id || !parent || !pfHas) return JET_errInvalidParameter;
  *pfHas = 0;
  ENTERED(instance, inst->log ? timeline_read(inst->io, inst->prm.system_path, inst->prm.base,
                                              log_signature(inst->log), id, parent, pfHas)
                              : JET_errNotInitialized);
}

/* The instance lock BACKUP_STEP_WAIT_US at most: the backup's worker may
 * hold it for a slice (its ring syncs included); then "more", call again. */
JET_ERR EseBackupStep(JET_INSTANCE instance, JET_GRBIT grbit, int *pfMore) {
  if (!pfMore) return JET_errInvalidParameter;
  *pfMore = 0;
  JET_GRBIT kinds = grbit & (ESE_bitBackupStepCutOff | ESE_bitBackupStepTruncate | ESE_bitBackupStepEnd);
  if ((grbit & ~kinds) || (kinds & (kinds - 1))) return JET_errInvalidGrbit;
  esinst *inst;
  int busy = 0, started = 0;
  JET_ERR e = inst_enter_handle_within(instance, BACKUP_STEP_WAIT_US, &inst, &busy);
  if (e || busy) {
    *pfMore = busy;
    return e;
  }
  e = backup_step(inst, grbit, pfMore, &started);
  inst_leave(inst);
  if (started) sched_yield();
  return e;
}

JET_ERR JET_API JetTruncateLogInstance(JET_INSTANCE instance) { ENTERED(instance, backup_truncate(inst)); }

JET_ERR JET_API JetEndExternalBackupInstance2(JET_INSTANCE instance, JET_GRBIT grbit) {
  ENTERED(instance, backup_end(inst, grbit));
}

JET_ERR JET_API JetEndExternalBackupInstance(JET_INSTANCE instance) {
  return JetEndExternalBackupInstance2(instance, JET_bitBackupEndNormal);
}

JET_ERR JET_API JetStopBackupInstance(JET_INSTANCE instance) { return inst_call_ungated(instance, backup_stop); }

/* ---- the pacer (pace.h) ------------------------------------------------------ */

JET_ERR EseBackupPaceReserve(JET_INSTANCE instance, unsigned long cbWant, unsigned long *pcbGranted,
                             unsigned long long *pusWait) {
  if (!pcbGranted || !pusWait) return JET_errInvalidParameter;
  esinst *inst;
  JET_ERR e = inst_enter_handle(instance, &inst);
  if (e) return e;
  uint64_t got = 0;
  uint64_t wait = pace_reserve(&inst->pace, cbWant, inst->prm.page_size, pace_now_ns(), &got);
  inst_leave(inst);
  *pcbGranted = (unsigned long)got;
  *pusWait = (wait + 999) / 1000;
  return JET_errSuccess;
}

JET_ERR EseGetBackupPaceStatus(JET_INSTANCE instance, EseBackupPaceStatus *status) {
  if (!status) return JET_errInvalidParameter;
  esinst *inst;
  JET_ERR e = inst_enter_handle(instance, &inst);
  if (e) return e;
  pace_status st;
  pace_get_status(&inst->pace, pace_now_ns(), &st);
  inst_leave(inst);
  status->maxRate = st.max_rate;
  status->rate = st.rate;
  status->pace = st.mode;
  status->congested = st.congested;
  status->commitRecentUs = st.commit_recent_ns / 1000;
  status->commitNormalUs = st.commit_normal_ns / 1000;
  status->bytes = st.bytes;
  status->waitedUs = st.waited_ns / 1000;
  status->waits = st.waits;
  return JET_errSuccess;
}

/* ---- legacy instance-less forms (the mode rule: inst_legacy) ------------------ */

#define LEGACY(call)                      \
  do {                                    \
    esinst *inst_;                        \
    JET_ERR e_ = inst_legacy(&inst_);     \
    if (e_) return e_;                    \
    return call;                          \
  } while (0)
#define LI ((JET_INSTANCE)inst_)

JET_ERR JET_API JetBeginExternalBackup(JET_GRBIT grbit) { LEGACY(JetBeginExternalBackupInstance(LI, grbit)); }
JET_ERR JET_API JetGetAttachInfo(char *szz, unsigned long cbMax, unsigned long *pcb) {
  LEGACY(JetGetAttachInfoInstance(LI, szz, cbMax, pcb));
}
JET_ERR JET_API JetOpenFile(const char *name, JET_HANDLE *ph, unsigned long *lo, unsigned long *hi) {
  LEGACY(JetOpenFileInstance(LI, name, ph, lo, hi));
}
JET_ERR JET_API JetReadFile(JET_HANDLE h, void *pv, unsigned long cb, unsigned long *pcb) {
  LEGACY(JetReadFileInstance(LI, h, pv, cb, pcb));
}
JET_ERR JET_API JetCloseFile(JET_HANDLE h) { LEGACY(JetCloseFileInstance(LI, h)); }
JET_ERR JET_API JetGetLogInfo(char *szz, unsigned long cbMax, unsigned long *pcb) {
  LEGACY(JetGetLogInfoInstance(LI, szz, cbMax, pcb));
}
JET_ERR JET_API JetTruncateLog(void) { LEGACY(JetTruncateLogInstance(LI)); }
JET_ERR JET_API JetEndExternalBackup(void) { LEGACY(JetEndExternalBackupInstance2(LI, JET_bitBackupEndNormal)); }
JET_ERR JET_API JetStopBackup(void) { LEGACY(JetStopBackupInstance(LI)); }
JET_ERR JET_API JetBackup(const char *szBackupPath, JET_GRBIT grbit, JET_PFNSTATUS pfnStatus) {
  LEGACY(JetBackupInstance(LI, szBackupPath, grbit, pfnStatus));
}
