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
 * folders, a destination, a generation range in order, a base name of
 * three ASCII letters or digits (JET_paramBaseName's rule: "../" or "a/b"
 * would name no log of any instance). */
static inline int restore_options_ok(const EseRestoreOptions *o) {
  if (!o || !o->dirs || o->ndirs == 0 || !o->dest || !*o->dest || o->gen_low > o->gen_high) return 0;
  const char *b = o->base_name ? o->base_name : "edb";
  if (strlen(b) != 3) return 0;
  for (int i = 0; i < 3; i++)
    if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= 'A' && b[i] <= 'Z') || (b[i] >= '0' && b[i] <= '9'))) return 0;
  return 1;
}

/* Validates everything and refuses before it writes anything; then *out
 * is the restore, in its first state. */
JET_ERR restore_begin(const EseRestoreOptions *o, EseRestore **out);
/* One step (see EseRestoreStep in ese.h); an error sticks. */
JET_ERR restore_step(EseRestore *r, uint64_t *pdone, uint64_t *ptotal, int *pfinished);
/* Where a finished restore stopped (zeros while a step runs). */
void restore_result_of(EseRestore *r, EseRestoreResult *out);
/* The i-th database (0 ..) the replayed logs create or attach that no set
 * holds, as the log names it (*created: at a create record, else at an
 * attach; *gen: the generation), NULL past the last; not restored. */
const char *restore_not_restored(EseRestore *r, size_t i, int *created, unsigned long *gen);
const char *restore_fetch_end(EseRestore *r);
/* The detail of the restore's first refusal or failure ("" if none). */
const char *restore_detail(EseRestore *r);
/* Why a backup set cannot hold a database named name (its plain name,
 * not NAME.zst) beside logs of base name base (NULL: only the rules
 * without it): 1 with the reason in why (cap bytes, e.g. "the name of the
 * set's manifest"), or 0 when it can.  The names: manifest.json, NAME.zst
 * (a restore takes every one for a compressed file), .ese-fetch (a
 * restore's own folder), a log generation of base (BXXXXXXXX.log), its copy on
 * the way into the log archive (BXXXXXXXX.log.part), a spare log file
 * (BspareN.log), and the
 * files a restore writes itself (B.chk, B.chk.tmp, B.lck, B.dwb, Btmp.dwb,
 * B.arc, B.arc.tmp, Btmp.log, B.log); base in any case, as a
 * case-insensitive file system takes it.  The one rule: restore_begin,
 * and ese.util's db_name_problem (backup.run, run_to, verify) through
 * ese.core._db_name_problem. */
int restore_db_name_problem(const char *name, const char *base, char *why, size_t cap);
/* Frees r (a step running on its worker ends first). */
void restore_end(EseRestore *r);
/* Steps r to its end in one go, reporting percent to pfn; ends it. */
JET_ERR restore_run(EseRestore *r, JET_PFNSTATUS pfn);

#endif
