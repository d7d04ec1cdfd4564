/* instance.c -- the process-wide mode, instances (inst_create), parameters
 * (inst_set_param, inst_get_param), the state gate, the instance lock (and
 * who holds it), and the registry's side of init and term.  The entry
 * points are jet_instance.c's: it gates through the functions here
 * (inst_enter_handle, inst_lock_handle, inst_lock_params) and drives the
 * layers at init and term. */
#include "instance.h"
#include "database.h"
#include "archive.h"
#include "isolation.h"
#include "page.h"
#include <assert.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

enum { MODE_NONE, MODE_LEGACY, MODE_MULTI };

/* The one process-wide state of the engine (documented in docs/api.md):
 * the mode, the registry of live instances (so instance handles are
 * validated, never trusted; session and table handles carry a magic
 * number only, like ESE's: using one after it ended is undefined) and the
 * legacy instance's parameters set before JetInit. */
static struct {
  pthread_mutex_t lock;
  int mode;
  esinst *inst[ESE_MAX_INSTANCES];
  int ninst;
  esinst *legacy_pending;    /* created by JetSetSystemParameter(NULL, ...) */
} g_process = { PTHREAD_MUTEX_INITIALIZER, MODE_NONE, { 0 }, 0, NULL };

static void params_default(esparams *p) {
  memset(p, 0, sizeof *p);
  memcpy(p->base, "edb", 4);
  p->log_file_kib = 1024;
  p->page_size = 8192;
  p->cache_pages = 8192;
  p->max_backup_files = 8;
  p->checkpoint_depth = 32u << 20;
  p->dw_size = DW_DEFAULT_SIZE;
  p->archive_timeout = 60;
  p->archive_command_timeout = 300;
  p->archive_retry_max = 30000;
  p->max_ver_pages = ESE_VER_PAGES_DEFAULT;
}

static void params_free(esparams *p) {
  free(p->system_path);
  free(p->log_path);
  free(p->archive_path);
  free(p->archive_command);
}

static JET_ERR inst_new(const char *name, int legacy, esinst **out) {
  esinst *inst = calloc(1, sizeof *inst);
  if (!inst) return JET_errOutOfMemory;
  if (name && !(inst->name = strdup(name))) { free(inst); return JET_errOutOfMemory; }
  if (pace_init(&inst->pace) != 0) {
    free(inst->name);
    free(inst);
    return JET_errOutOfMemory;
  }
  if (pthread_mutex_init(&inst->lock, NULL) != 0 || pthread_cond_init(&inst->drained, NULL) != 0 ||
      pthread_cond_init(&inst->ckpt_idle, NULL) != 0) {
    pace_destroy(&inst->pace);
    free(inst->name);
    free(inst);
    return JET_errOutOfMemory;
  }
  params_default(&inst->prm);
  inst->legacy = legacy;
  inst->state = INST_CREATED;
  inst->next_txid = 1;
  *out = inst;
  return JET_errSuccess;
}

static void inst_free(esinst *inst) {
  params_free(&inst->prm);
  free(inst->log_real);
  free(inst->diffbuf);
  vs_free(&inst->vs);
  pthread_mutex_destroy(&inst->lock);
  pthread_cond_destroy(&inst->drained);
  pthread_cond_destroy(&inst->ckpt_idle);
  pace_destroy(&inst->pace);
  free(inst->name);
  free(inst);
}

/* With g_process.lock held. */
static int registry_index(esinst *inst) {
  for (int i = 0; i < g_process.ninst; i++)
    if (g_process.inst[i] == inst) return i;
  return -1;
}

static void registry_remove(esinst *inst) {
  int i = registry_index(inst);
  if (i < 0) return;
  g_process.inst[i] = g_process.inst[--g_process.ninst];
  if (g_process.ninst == 0) g_process.mode = MODE_NONE;
}

/* The instance a handle names, with the process lock held by the caller. */
static esinst *resolve(JET_INSTANCE h) {
  if (g_process.mode == MODE_LEGACY && (h == 0 || h == JET_instanceNil)) return g_process.inst[0];
  esinst *inst = (esinst *)h;
  return registry_index(inst) >= 0 ? inst : NULL;
}

/* The error for a handle that names no live instance, with the process
 * lock held: no instance named in multi-instance mode is ambiguous (docs/backup.md
 * rule 5); with nothing initialized, not initialized. */
static JET_ERR unresolved(JET_INSTANCE h) {
  if (h != 0 && h != JET_instanceNil) return JET_errInvalidInstance;
  return g_process.mode == MODE_MULTI ? JET_errRunningInMultiInstanceMode : JET_errNotInitialized;
}

static JET_ERR gate(esinst *inst) {
  if (inst->state == INST_CREATED) return JET_errNotInitialized;
  if (inst->state == INST_TERMINATED) return JET_errTermInProgress;   /* being freed */
  if (inst->stopped) return JET_errClientRequestToStopJetService;
  if (inst->state == INST_TERMINATING) return JET_errTermInProgress;
  if (inst->restoring) return JET_errRestoreInProgress;
  if (inst->unavailable) return JET_errInstanceUnavailable;
  return JET_errSuccess;
}

JET_ERR inst_gate(esinst *inst) {
  assert(inst_lock_held(inst));
  return gate(inst);
}

/* ---- the instance lock ------------------------------------------------------
 * Every acquisition of inst->lock goes through inst_lock (or inst_wait's
 * return from a wait) and every release through inst_unlock (or inst_wait),
 * so that, with assertions on, inst->owner names the thread that holds the
 * lock: set right after it is taken, cleared right before it is released.
 * Only the holder writes it, so a thread reads its own mark there exactly
 * when it holds the lock (relaxed loads suffice). */
#ifndef NDEBUG
static _Thread_local char this_thread;   /* its address names the calling thread */
static void owner_set(esinst *inst) { atomic_store_explicit(&inst->owner, (void *)&this_thread, memory_order_relaxed); }
static void owner_clear(esinst *inst) {
  assert(inst_lock_held(inst));
  atomic_store_explicit(&inst->owner, NULL, memory_order_relaxed);
}
int inst_lock_held(esinst *inst) {
  return atomic_load_explicit(&inst->owner, memory_order_relaxed) == (void *)&this_thread;
}
#else
static void owner_set(esinst *inst) { (void)inst; }
static void owner_clear(esinst *inst) { (void)inst; }
int inst_lock_held(esinst *inst) { (void)inst; return 1; }
#endif

void inst_lock(esinst *inst) {
  atomic_fetch_add(&inst->entering, 1);
  pthread_mutex_lock(&inst->lock);
  atomic_fetch_sub(&inst->entering, 1);
  atomic_fetch_add(&inst->lock_gen, 1);
  owner_set(inst);
}

void inst_unlock(esinst *inst) {
  owner_clear(inst);
  pthread_mutex_unlock(&inst->lock);
}

void inst_wait(esinst *inst, pthread_cond_t *cv) {
  owner_clear(inst);
  pthread_cond_wait(cv, &inst->lock);
  owner_set(inst);
}

/* The entry after the lock was taken: the gate, active + 1 (else unlocked). */
static JET_ERR enter_locked(esinst *inst) {
  JET_ERR e = gate(inst);
  if (e == JET_errSuccess) inst->detail[0] = 0;   /* a detail belongs to this call's failure only */
  if (e) inst_unlock(inst);
  else inst->active++;
  return e;
}

JET_ERR inst_enter(esinst *inst) {
  inst_lock(inst);
  return enter_locked(inst);
}

void inst_leave(esinst *inst) {
  assert(inst_lock_held(inst) && inst->active > 0);
  if (--inst->active == 0) pthread_cond_broadcast(&inst->drained);
  inst_unlock(inst);
}

void inst_done_unlocked(esinst *inst) {
  inst_lock(inst);
  inst_leave(inst);
}

/* The wait for the instance lock runs without the process lock (other
 * instances' calls go on meanwhile).  The handle stays safe: entering is
 * raised under the process lock, before a term could take the instance out
 * of the registry, and term frees an instance only once entering is 0
 * (inst_term_with); once the lock is taken the state gate turns a
 * terminated instance away, and a wait that timed out touches nothing
 * after entering drops. */
JET_ERR inst_enter_handle_within(JET_INSTANCE h, uint64_t max_us, esinst **out, int *busy) {
  *busy = 0;
  pthread_mutex_lock(&g_process.lock);
  esinst *inst = resolve(h);
  JET_ERR e = inst ? JET_errSuccess : unresolved(h);
  if (inst) atomic_fetch_add(&inst->entering, 1);
  pthread_mutex_unlock(&g_process.lock);
  if (!inst) return e;
  struct timespec ts = os_deadline(CLOCK_MONOTONIC, max_us);
  int r = pthread_mutex_clocklock(&inst->lock, CLOCK_MONOTONIC, &ts);
  if (r != 0) {
    atomic_fetch_sub(&inst->entering, 1);
    *busy = 1;            /* not free in time: nothing entered (inst may be gone now) */
    return JET_errSuccess;
  }
  atomic_fetch_sub(&inst->entering, 1);   /* the lock held: term cannot free it meanwhile */
  atomic_fetch_add(&inst->lock_gen, 1);
  owner_set(inst);
  e = enter_locked(inst);
  if (e == JET_errSuccess) *out = inst;
  return e;
}

JET_ERR inst_enter_handle(JET_INSTANCE h, esinst **out) {
  pthread_mutex_lock(&g_process.lock);
  esinst *inst = resolve(h);
  JET_ERR e = inst ? inst_enter(inst) : unresolved(h);
  pthread_mutex_unlock(&g_process.lock);
  if (e == JET_errSuccess) *out = inst;
  return e;
}

JET_ERR inst_legacy(esinst **out) {
  pthread_mutex_lock(&g_process.lock);
  JET_ERR e = JET_errSuccess;
  if (g_process.mode == MODE_MULTI) e = JET_errRunningInMultiInstanceMode;
  else if (g_process.mode == MODE_NONE) e = JET_errNotInitialized;
  else *out = g_process.inst[0];
  pthread_mutex_unlock(&g_process.lock);
  return e;
}

JET_ERR inst_fatal(esinst *inst, JET_ERR err) {
  assert(inst_lock_held(inst));
  if (err == JET_errDiskIO || err == JET_errDiskFull || err == JET_errLogWriteFail || err == JET_errLogDiskFull) {
    if (!inst->unavailable) inst->unavailable = err;
  }
  return err;
}

void inst_detail(esinst *inst, const char *fmt, ...) {
  assert(inst_lock_held(inst));
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(inst->detail, sizeof inst->detail, fmt, ap);
  va_end(ap);
}

void inst_hold_logs(esinst *inst, uint32_t gen) {
  assert(inst_lock_held(inst));
  inst->log_hold_gen = gen;
}

uint32_t inst_unshipped_from(esinst *inst, uint32_t below_gen) {
  assert(inst_lock_held(inst));
  uint32_t unshipped = inst->archive ? archive_pin(inst->archive) : below_gen;
  return unshipped < below_gen ? unshipped : below_gen;
}

uint32_t inst_keep_logs_from(esinst *inst, uint32_t below_gen) {
  assert(inst_lock_held(inst));
  uint32_t keep = below_gen;
  if (inst->log_hold_gen && inst->log_hold_gen < keep) keep = inst->log_hold_gen;
  return inst_unshipped_from(inst, keep);
}

JET_ERR inst_flush_log_hook(void *ud, uint64_t lsn) {
  esinst *inst = ud;
  return inst->log ? log_flush(inst->log, lsn) : JET_errSuccess;
}

int inst_free_room_hook(void *ud) {
  esinst *inst = ud;
  return inst->log && log_release_spares(inst->log) > 0;
}

/* ---- creation and parameters ------------------------------------------- */

JET_ERR inst_create(const char *name, esinst **out) {
  pthread_mutex_lock(&g_process.lock);
  JET_ERR e = JET_errSuccess;
  if (g_process.mode == MODE_LEGACY) e = JET_errRunningInOneInstanceMode;
  else if (g_process.ninst >= ESE_MAX_INSTANCES) e = JET_errTooManyInstances;
  for (int i = 0; e == JET_errSuccess && i < g_process.ninst; i++) {
    const char *n = g_process.inst[i]->name;
    if ((n == NULL && name == NULL) || (n && name && !strcmp(n, name))) e = JET_errInstanceNameInUse;
  }
  esinst *inst = NULL;
  if (e == JET_errSuccess) e = inst_new(name, 0, &inst);
  if (e == JET_errSuccess) {
    g_process.inst[g_process.ninst++] = inst;
    g_process.mode = MODE_MULTI;
    *out = inst;
  }
  pthread_mutex_unlock(&g_process.lock);
  return e;
}

static JET_ERR set_path(char **dst, const char *s) {
  if (!s || !*s) return JET_errInvalidParameter;
  if (strlen(s) > 4000) return JET_errInvalidPath;
  char *d = strdup(s);
  if (!d) return JET_errOutOfMemory;
  free(*dst);
  *dst = d;
  return JET_errSuccess;
}

/* An optional string parameter: NULL or "" turns it off. */
static JET_ERR set_optional(char **dst, const char *s) {
  if (!s || !*s) {
    free(*dst);
    *dst = NULL;
    return JET_errSuccess;
  }
  return set_path(dst, s);
}

static JET_ERR param_set(esparams *p, unsigned long id, JET_API_PTR l, const char *s) {
  switch (id) {
  case JET_paramArchivePath: return set_optional(&p->archive_path, s);
  case JET_paramArchiveCommand: return set_optional(&p->archive_command, s);
  case JET_paramArchiveTimeout:
    if (l > 31536000) return JET_errInvalidParameter;   /* a year */
    p->archive_timeout = (uint32_t)l;
    return JET_errSuccess;
  case JET_paramArchiveMaxBacklog:
    if (l > ((JET_API_PTR)1 << 50)) return JET_errInvalidParameter;
    p->archive_max_backlog = l;
    return JET_errSuccess;
  case JET_paramArchiveCommandTimeout:
    if (l > 86400) return JET_errInvalidParameter;
    p->archive_command_timeout = (uint32_t)l;
    return JET_errSuccess;
  case JET_paramArchiveRetryMax:
    if (l < 1 || l > 3600000) return JET_errInvalidParameter;
    p->archive_retry_max = (uint32_t)l;
    return JET_errSuccess;
  case JET_paramSystemPath: return set_path(&p->system_path, s);
  case JET_paramLogFilePath: return set_path(&p->log_path, s);
  case JET_paramBaseName:
    if (!s || strlen(s) != 3) return JET_errInvalidParameter;
    for (int i = 0; i < 3; i++)
      if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
        return JET_errInvalidParameter;
    memcpy(p->base, s, 4);
    return JET_errSuccess;
  case JET_paramLogFileSize:
    if (l < 64 || l > 1048576) return JET_errInvalidParameter;
    p->log_file_kib = (uint32_t)l;
    return JET_errSuccess;
  case JET_paramCircularLog:
    if (l > 1) return JET_errInvalidParameter;
    p->circular = (int)l;
    return JET_errSuccess;
  case JET_paramCacheSizeMax:
    if (l < 16 || l > (1u << 30)) return JET_errInvalidParameter;
    p->cache_pages = (uint32_t)l;
    return JET_errSuccess;
  case JET_paramDatabasePageSize:
    if (!page_size_valid(l)) return JET_errInvalidParameter;
    p->page_size = (uint32_t)l;
    return JET_errSuccess;
  case JET_paramMaxOpenBackupFiles:
    if (l < 1 || l > 1024) return JET_errInvalidParameter;
    p->max_backup_files = (uint32_t)l;
    return JET_errSuccess;
  case JET_paramCheckpointDepthMax:
    if (l > ((JET_API_PTR)1 << 40)) return JET_errInvalidParameter;
    p->checkpoint_depth = l;
    return JET_errSuccess;
  case JET_paramDoubleWriteSize:
    /* a multiple of 4096, at least two batches of one image of the largest
     * page size (dw_min_ring_size), at most 1 GiB */
    if (l % 4096 || l < dw_min_ring_size(32768, 1) || l > ((JET_API_PTR)1 << 30)) return JET_errInvalidParameter;
    p->dw_size = l;
    return JET_errSuccess;
  case JET_paramBackupMaxRate:
    if (l > ((JET_API_PTR)1 << 50)) return JET_errInvalidParameter;   /* also a negative long */
    p->backup_max_rate = l;
    return JET_errSuccess;
  case JET_paramBackupPace:
    if (l != ESE_backupPaceNone && l != ESE_backupPaceAuto) return JET_errInvalidParameter;
    p->backup_pace = (int)l;
    return JET_errSuccess;
  case JET_paramMaxVerPages:
    if (l < 1 || l > ESE_VER_PAGES_MAX) return JET_errInvalidParameter;
    p->max_ver_pages = (uint32_t)l;
    return JET_errSuccess;
  default: return JET_errInvalidParameter;
  }
}

static JET_ERR param_get(const esparams *p, unsigned long id, JET_API_PTR *l, char *s, unsigned long cb) {
  const char *str = NULL;
  JET_API_PTR v = 0;
  switch (id) {
  case JET_paramSystemPath: str = p->system_path ? p->system_path : "."; break;
  case JET_paramLogFilePath: str = p->log_path ? p->log_path : "."; break;
  case JET_paramBaseName: str = p->base; break;
  case JET_paramLogFileSize: v = p->log_file_kib; break;
  case JET_paramCircularLog: v = (JET_API_PTR)p->circular; break;
  case JET_paramCacheSizeMax: v = p->cache_pages; break;
  case JET_paramDatabasePageSize: v = p->page_size; break;
  case JET_paramMaxOpenBackupFiles: v = p->max_backup_files; break;
  case JET_paramCheckpointDepthMax: v = (JET_API_PTR)p->checkpoint_depth; break;
  case JET_paramDoubleWriteSize: v = (JET_API_PTR)p->dw_size; break;
  case JET_paramArchivePath: str = p->archive_path ? p->archive_path : ""; break;
  case JET_paramArchiveCommand: str = p->archive_command ? p->archive_command : ""; break;
  case JET_paramArchiveTimeout: v = p->archive_timeout; break;
  case JET_paramArchiveMaxBacklog: v = (JET_API_PTR)p->archive_max_backlog; break;
  case JET_paramArchiveCommandTimeout: v = p->archive_command_timeout; break;
  case JET_paramArchiveRetryMax: v = p->archive_retry_max; break;
  case JET_paramBackupMaxRate: v = (JET_API_PTR)p->backup_max_rate; break;
  case JET_paramBackupPace: v = (JET_API_PTR)p->backup_pace; break;
  case JET_paramMaxVerPages: v = p->max_ver_pages; break;
  default: return JET_errInvalidParameter;
  }
  if (str) {
    if (!s || cb <= strlen(str)) return JET_errInvalidParameter;
    memcpy(s, str, strlen(str) + 1);
  } else if (l) {
    *l = v;
  } else {
    return JET_errInvalidParameter;
  }
  return JET_errSuccess;
}

/* Legacy mode's rules for a parameter's instance: a set with no instance
 * named is one before JetInit (the pending legacy instance, made on first
 * use); a get with none named reads the legacy instance, the pending one,
 * or (NULL) the defaults. */
JET_ERR inst_lock_params(const JET_INSTANCE *pinstance, int set, esinst **out) {
  JET_INSTANCE h = pinstance ? *pinstance : 0;
  int unnamed = h == 0 || h == JET_instanceNil;
  pthread_mutex_lock(&g_process.lock);
  JET_ERR e = JET_errSuccess;
  esinst *inst = NULL;
  if (set && unnamed) {
    if (g_process.mode == MODE_MULTI) e = JET_errRunningInMultiInstanceMode;
    else if (g_process.mode == MODE_LEGACY) e = JET_errAlreadyInitialized;
    else if (!g_process.legacy_pending) e = inst_new(NULL, 1, &g_process.legacy_pending);
    inst = g_process.legacy_pending;
  } else if (!(inst = resolve(h)) && unnamed && !set) {
    inst = g_process.legacy_pending;
  } else if (!inst) {
    e = JET_errInvalidInstance;
  }
  if (e) {
    pthread_mutex_unlock(&g_process.lock);
    return e;
  }
  if (inst) inst_lock(inst);
  *out = inst;
  return JET_errSuccess;
}

JET_ERR inst_set_param(esinst *inst, unsigned long id, JET_API_PTR l, const char *s) {
  assert(inst_lock_held(inst));
  /* the pacing parameters may change while the instance runs */
  int live = id == JET_paramBackupMaxRate || id == JET_paramBackupPace;
  JET_ERR e = inst->state != INST_CREATED && !live ? JET_errAlreadyInitialized : param_set(&inst->prm, id, l, s);
  if (e == JET_errSuccess && live) pace_set(&inst->pace, inst->prm.backup_max_rate, inst->prm.backup_pace);
  return e;
}

JET_ERR inst_get_param(esinst *inst, unsigned long id, JET_API_PTR *l, char *s, unsigned long cb) {
  assert(!inst || inst_lock_held(inst));
  if (inst) return param_get(&inst->prm, id, l, s, cb);
  esparams d;
  params_default(&d);
  return param_get(&d, id, l, s, cb);
}

/* ---- init and term: the registry's side --------------------------------------
 * jet_instance.c's JetInit3 and JetTerm2 pass their work in the layers
 * (recovery, the archive, the backup, the sessions, the databases) down as
 * a function, so that this file calls no layer above it. */

static char **folder_param(esparams *p, int i) {
  return i == 0 ? &p->system_path : i == 1 ? &p->log_path : &p->archive_path;
}

JET_ERR inst_paths_ready(esinst *inst, char *given[INST_FOLDERS]) {
  esparams *p = &inst->prm;
  if (!p->system_path && set_path(&p->system_path, ".")) return JET_errOutOfMemory;
  if (!p->log_path && set_path(&p->log_path, ".")) return JET_errOutOfMemory;
  JET_ERR e = os_mkdir_p(p->system_path, 0700);
  if (e == JET_errSuccess) e = os_mkdir_p(p->log_path, 0700);
  for (int i = 0; e == JET_errSuccess && i < INST_FOLDERS; i++) {
    char **f = folder_param(p, i), *abs;
    if (!*f) continue;
    /* the archive's folder may not be there yet (it is made later): joined */
    if ((e = os_abs_path(*f, i != 2, &abs)) != JET_errSuccess) {
      if (e == JET_errInvalidPath && (*f)[0] != '/')
        inst_detail(inst, "%s %s is relative and the working folder cannot be read (removed?): name it from the root",
                    i == 0 ? "system_path" : i == 1 ? "log_path" : "archive_path", *f);
      break;
    }
    given[i] = *f;
    *f = abs;
  }
  return e;
}

void inst_paths_given(esinst *inst, char *given[INST_FOLDERS], int restore) {
  for (int i = 0; i < INST_FOLDERS; i++) {
    if (!given[i]) continue;
    char **f = folder_param(&inst->prm, i);
    if (restore) {
      free(*f);
      *f = given[i];
    } else {
      free(given[i]);
    }
    given[i] = NULL;
  }
}

JET_ERR inst_init_with(JET_INSTANCE *pinstance, const JET_RSTINFO *ri, inst_init_fn init) {
  pthread_mutex_lock(&g_process.lock);
  JET_ERR e = JET_errSuccess;
  esinst *inst = NULL;
  int fresh = 0;
  if (!pinstance || *pinstance == 0 || *pinstance == JET_instanceNil) {
    if (g_process.mode == MODE_MULTI) e = JET_errRunningInMultiInstanceMode;
    else if (g_process.mode == MODE_LEGACY) e = JET_errAlreadyInitialized;
    else if (g_process.legacy_pending) inst = g_process.legacy_pending;
    else if ((e = inst_new(NULL, 1, &inst)) == JET_errSuccess) fresh = 1;
  } else if (!(inst = resolve(*pinstance))) {
    e = JET_errInvalidInstance;
  }
  if (e == JET_errSuccess) {
    inst_lock(inst);
    e = inst->state != INST_CREATED ? JET_errAlreadyInitialized : init(inst, ri);
    inst_unlock(inst);
    if (inst->legacy) {
      if (e == JET_errSuccess) {
        g_process.legacy_pending = NULL;
        g_process.inst[g_process.ninst++] = inst;
        g_process.mode = MODE_LEGACY;
        if (pinstance) *pinstance = (JET_INSTANCE)inst;
      } else if (fresh) {
        inst_free(inst);
      }
    }
  }
  pthread_mutex_unlock(&g_process.lock);
  return e;
}

JET_ERR inst_term_with(JET_INSTANCE instance, JET_GRBIT grbit, inst_term_fn term) {
  pthread_mutex_lock(&g_process.lock);
  esinst *inst = resolve(instance);
  if (!inst) {
    JET_ERR e = unresolved(instance);
    pthread_mutex_unlock(&g_process.lock);
    return e;
  }
  inst_lock(inst);
  pthread_mutex_unlock(&g_process.lock);
  if (inst->state == INST_TERMINATING || inst->state == INST_TERMINATED) {   /* another term has it */
    inst_unlock(inst);
    return JET_errTermInProgress;
  }
  JET_ERR e = JET_errSuccess;
  if (inst->restoring) {                 /* the restore owns it until EseRestoreEnd */
    inst_unlock(inst);
    return JET_errRestoreInProgress;
  }
  if (inst->state == INST_RUNNING && inst->backup && (grbit & JET_bitTermComplete) &&
      !(grbit & JET_bitTermStopBackup)) {
    inst_unlock(inst);   /* rule 7: the instance keeps running */
    return JET_errBackupInProgress;
  }
  if (inst->state == INST_RUNNING) {
    inst->state = INST_TERMINATING;
    while (inst->active > 0) inst_wait(inst, &inst->drained);
    e = term(inst, grbit);
  }
  inst->state = INST_TERMINATED;
  inst_unlock(inst);
  pthread_mutex_lock(&g_process.lock);
  registry_remove(inst);
  pthread_mutex_unlock(&g_process.lock);
  /* A call that was waiting for the lock sees INST_TERMINATED and leaves;
   * free only when none is left inside or waiting. */
  for (;;) {
    inst_lock(inst);
    int busy = inst->active > 0 || atomic_load(&inst->entering) > 0;
    inst_unlock(inst);
    if (!busy) break;
    sched_yield();
  }
  inst_free(inst);
  return e;
}


/* ---- stop and restore ------------------------------------------------------ */


JET_ERR inst_lock_handle(JET_INSTANCE h, esinst **out) {
  pthread_mutex_lock(&g_process.lock);
  esinst *inst = resolve(h);
  if (!inst) {
    JET_ERR e = unresolved(h);
    pthread_mutex_unlock(&g_process.lock);
    return e;
  }
  inst_lock(inst);
  *out = inst;
  return JET_errSuccess;
}

void inst_unlock_handle(esinst *inst) {
  if (inst) inst_unlock(inst);
  pthread_mutex_unlock(&g_process.lock);
}

JET_ERR inst_call_ungated(JET_INSTANCE h, JET_ERR (*fn)(esinst *)) {
  esinst *inst;
  JET_ERR e = inst_lock_handle(h, &inst);
  if (e) return e;
  e = fn(inst);
  inst_unlock_handle(inst);
  return e;
}

JET_ERR inst_begin_restore(JET_INSTANCE h, esinst **out) {
  pthread_mutex_lock(&g_process.lock);
  JET_ERR e = JET_errSuccess;
  esinst *inst = NULL;
  if (g_process.mode == MODE_LEGACY) e = JET_errRunningInOneInstanceMode;
  else if (h && !(inst = resolve(h))) e = JET_errInvalidInstance;
  if (e == JET_errSuccess && inst) {
    inst_lock(inst);
    if (inst->state != INST_CREATED) e = JET_errAlreadyInitialized;
    else {
      inst->state = INST_RUNNING;      /* "initialized for restore": the gate says RestoreInProgress */
      inst->restoring = 1;
    }
    inst_unlock(inst);
  }
  pthread_mutex_unlock(&g_process.lock);
  if (e == JET_errSuccess) *out = inst;
  return e;
}

/* A sentence naming what of inst uses path, or NULL; with inst->lock held. */
static const char *path_use(esinst *inst, const char *path, const char **db) {
  *db = NULL;
  if (os_same_file(path, inst->prm.log_path)) return "as its log folder";
  if (os_same_file(path, inst->prm.system_path)) return "as its system (checkpoint) folder";
  /* the generations shipped there may be the only copies left (the log
   * truncation deleted them): a restore with overwrite would remove them */
  if (inst->prm.archive_path && os_same_file(path, inst->prm.archive_path)) return "as its log archive";
  for (int i = 1; i <= ESE_MAX_DB; i++) {
    if (!inst->db[i]) continue;
    *db = inst->db[i]->path;
    if (os_same_file(path, *db)) return "as an attached database";
    char *dir = os_dirname(*db);
    int in = dir && os_same_file(path, dir);
    free(dir);
    if (in) return "for a database it has attached:";
  }
  *db = NULL;
  return NULL;
}

JET_ERR inst_path_user(const char *path, char *detail, size_t cap) {
  JET_ERR e = JET_errSuccess;
  pthread_mutex_lock(&g_process.lock);
  for (int i = 0; i < g_process.ninst && e == JET_errSuccess; i++) {
    esinst *inst = g_process.inst[i];
    inst_lock(inst);
    const char *db, *how = NULL;
    if ((inst->state == INST_RUNNING || inst->state == INST_TERMINATING) && !inst->restoring)
      how = path_use(inst, path, &db);
    if (how) {
      snprintf(detail, cap, "instance '%s' of this process uses %s %s%s%s", inst->name ? inst->name : "(legacy)", path,
               how, db ? " " : "", db ? db : "");
      e = JET_errFileAccessDenied;
    }
    inst_unlock(inst);
  }
  pthread_mutex_unlock(&g_process.lock);
  return e;
}

void inst_end_restore(esinst *inst) {
  if (!inst) return;
  inst_lock(inst);
  inst->restoring = 0;
  inst->state = INST_CREATED;
  inst_unlock(inst);
}

void inst_copy_detail(esinst *inst, char *buf, size_t cb) {
  assert(inst_lock_held(inst));
  snprintf(buf, cb, "%s", inst->detail);
}
