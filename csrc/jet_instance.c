/* jet_instance.c -- the instance's entry points: JetInit* and JetTerm*
 * (instance.c's registry and state gate, inst_init_with / inst_term_with,
 * run lifecycle.c's work in the layers: lifecycle_init, lifecycle_term),
 * JetStopService*, EseArchiveStatus. */
#include "lifecycle.h"
#include "archive.h"
#include <stdio.h>
#include <string.h>

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
