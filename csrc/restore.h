/* restore.h -- hard recovery (restore.c): a backup set, its incrementals,
 * archived and live logs restored into a destination folder in steps.
 * jet_restore.c's entry points (EseRestoreBegin ..., JetRestoreInstance,
 * JetExternalRestore2) check their arguments and call these.  An
 * EseRestore belongs to one caller at a time; nothing here takes an
 * instance lock (restore_begin registers the restore with the instance
 * layer: inst_begin_restore, the gate of a restore). */
#ifndef ESE_RESTORE_H
#define ESE_RESTORE_H
#include "ese.h"
#include <string.h>

/* The checks of the options an entry point makes before restore_begin:
 * folders, a destination, a generation range in order, a three-letter
 * base name. */
static inline int restore_options_ok(const EseRestoreOptions *o) {
  if (!o || !o->dirs || o->ndirs == 0 || !o->dest || !*o->dest || o->gen_low > o->gen_high) return 0;
  return strlen(o->base_name ? o->base_name : "edb") == 3;
}

/* Validates everything and refuses before it writes anything; then *out
 * is the restore, in its first state. */
JET_ERR restore_begin(const EseRestoreOptions *o, EseRestore **out);
/* One step (see EseRestoreStep in ese.h); an error sticks. */
JET_ERR restore_step(EseRestore *r, uint64_t *pdone, uint64_t *ptotal, int *pfinished);
/* Where a finished restore stopped (zeros while a step runs). */
void restore_result_of(EseRestore *r, EseRestoreResult *out);
/* The detail of the restore's first refusal or failure ("" if none). */
const char *restore_detail(EseRestore *r);
/* Frees r (a step running on its worker ends first). */
void restore_end(EseRestore *r);
/* Steps r to its end in one go, reporting percent to pfn; ends it. */
JET_ERR restore_run(EseRestore *r, JET_PFNSTATUS pfn);

#endif
