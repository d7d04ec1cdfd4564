/* jet_instance.c -- the instance's entry points: JetCreateInstance*,
 * JetSetSystemParameter, JetGetSystemParameter, EseInstanceErrorDetail
 * (each gates through instance.c and calls inst_create, inst_set_param,
 * inst_get_param, inst_copy_detail there), EseGetVersionStoreInfo
 * (isolation.c's iso_store_info), JetInit* and JetTerm* (instance.c's
 * registry and state gate, inst_init_with / inst_term_with, run
 * lifecycle.c's work in the layers: lifecycle_init, lifecycle_term),
 * JetStopService*, EseArchiveStatus. */
#include "lifecycle.h"
#include "archive.h"
#include "isolation.h"
#include <stdio.h>
#include <string.h>

/* ---- creation, parameters, the error detail -------------------------------- */

JET_ERR JET_API JetCreateInstance2(JET_INSTANCE *pinstance, const char *szInstanceName,
                                   const char *szDisplayName, JET_GRBIT grbit) {
  (void)szDisplayName; (void)grbit;
  if (!pinstance) return JET_errInvalidParameter;
  esinst *inst;
  JET_ERR e = inst_create(szInstanceName, &inst);
  if (e == JET_errSuccess) *pinstance = (JET_INSTANCE)inst;
  return e;
}

JET_ERR JET_API JetCreateInstance(JET_INSTANCE *pinstance, const char *szInstanceName) {
  return JetCreateInstance2(pinstance, szInstanceName, NULL, 0);
}

JET_ERR JET_API JetSetSystemParameter(JET_INSTANCE *pinstance, JET_SESID sesid, unsigned long paramid,
                                      JET_API_PTR lParam, const char *szParam) {
  (void)sesid;
  esinst *inst;
  JET_ERR e = inst_lock_params(pinstance, 1, &inst);
  if (e) return e;
  e = inst_set_param(inst, paramid, lParam, szParam);
  inst_unlock_handle(inst);
  return e;
}

JET_ERR JET_API JetGetSystemParameter(JET_INSTANCE instance, JET_SESID sesid, unsigned long paramid,
                                      JET_API_PTR *plParam, char *szParam, unsigned long cbMax) {
  (void)sesid;
  esinst *inst;
  JET_ERR e = inst_lock_params(&instance, 0, &inst);
  if (e) return e;
  e = inst_get_param(inst, paramid, plParam, szParam, cbMax);
  inst_unlock_handle(inst);
  return e;
}

void EseInstanceErrorDetail(JET_INSTANCE instance, char *buf, size_t cb) {
  if (!buf || cb == 0) return;
  buf[0] = 0;
  esinst *inst;
  if (inst_lock_handle(instance, &inst)) return;
  inst_copy_detail(inst, buf, cb);
  inst_unlock_handle(inst);
}

JET_ERR JET_API EseGetVersionStoreInfo(JET_INSTANCE instance, EseVersionStoreInfo *info) {
  if (!info) return JET_errInvalidParameter;
  esinst *inst;
  JET_ERR e = inst_enter_handle(instance, &inst);
  if (e) return e;
  iso_store_info(inst, info);
  inst_leave(inst);
  return JET_errSuccess;
}

/* ---- init ---------------------------------------------------------------- */

JET_ERR JET_API JetInit3(JET_INSTANCE *pinstance, JET_RSTINFO *prstInfo, JET_GRBIT grbit) {
  (void)grbit;
  return inst_init_with(pinstance, prstInfo, lifecycle_init);
}

JET_ERR JET_API JetInit2(JET_INSTANCE *pinstance, JET_GRBIT grbit) { return JetInit3(pinstance, NULL, grbit); }
JET_ERR JET_API JetInit(JET_INSTANCE *pinstance) { return JetInit3(pinstance, NULL, 0); }

/* ---- term and stop ------------------------------------------------------- */

JET_ERR JET_API JetTerm2(JET_INSTANCE instance, JET_GRBIT grbit) { return inst_term_with(instance, grbit, lifecycle_term); }

JET_ERR JET_API JetTerm(JET_INSTANCE instance) { return JetTerm2(instance, JET_bitTermAbrupt); }

static JET_ERR stop_service(esinst *inst) {
  if (inst->state == INST_CREATED) return JET_errNotInitialized;
  inst->stopped = 1;
  return JET_errSuccess;
}

JET_ERR JET_API JetStopServiceInstance(JET_INSTANCE instance) { return inst_call_ungated(instance, stop_service); }

JET_ERR JET_API JetStopService(void) {
  esinst *inst;
  JET_ERR e = inst_legacy(&inst);
  return e ? e : JetStopServiceInstance((JET_INSTANCE)inst);
}

JET_ERR JET_API EseArchiveStatus(JET_INSTANCE instance, EseArchiveInfo *info) {
  if (!info || info->cbStruct != sizeof *info) return JET_errInvalidParameter;
  esinst *inst;
  JET_ERR e = inst_enter_handle(instance, &inst);
  if (e) return e;
  archive_status st;
  memset(&st, 0, sizeof st);
  info->fEnabled = inst->archive != NULL;
  if (inst->archive) archive_get_status(inst->archive, &st);
  info->ulShippedGeneration = st.shipped;
  info->ulPending = st.pending;
  info->cbPending = st.pending_bytes;
  info->fBacklogged = st.backlogged;
  info->ulFailures = st.failures;
  snprintf(info->szLastError, sizeof info->szLastError, "%s", st.last_error);
  inst_leave(inst);
  return JET_errSuccess;
}
