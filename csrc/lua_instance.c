/*
 * lua_instance.c -- ese.Instance: named instances (create_instance), the
 * legacy global instance (ese.init / ese.term), system parameters, init,
 * term and stop_service.  begin_session is added by lua_session.c, the
 * backup methods by lua_backup.c (ese_addmethods).
 *
 * The userdata is created closed before the engine call that makes the
 * instance (so a memory error cannot leak it) and marked open after.  Term
 * marks it closed unless the engine says the instance keeps running; a
 * closed instance object never passes its handle to C again.
 */
#include <string.h>
#include "lua_ese.h"

/* ---- accessors --------------------------------------------------------- */

EseInstance *ese_toinstance(lua_State *L, int idx) {
  return (EseInstance *)luaL_checkudata(L, idx, ESE_INSTANCE_T);
}

EseInstance *ese_checkinstance(lua_State *L, int idx, const char *op) {
  EseInstance *I = ese_toinstance(L, idx);
  if (!I->open) ese_raise(L, JET_errInvalidInstance, op);
  return I;
}

/* Pushes a new, closed instance object; user value 1 is its name. */
static EseInstance *new_instance(lua_State *L, const char *name) {
  EseInstance *I = (EseInstance *)lua_newuserdatauv(L, sizeof *I, 1);
  I->inst = 0;
  I->open = 0;
  I->legacy = 0;
  I->backup_epoch = 0;
  luaL_setmetatable(L, ESE_INSTANCE_T);
  lua_pushstring(L, name);
  lua_setiuservalue(L, -2, 1);
  return I;
}

/* ---- system parameters -------------------------------------------------- */

enum { P_STR, P_INT, P_BOOL, P_CACHE, P_PACE };

/* backup_pace's names, in the order of their ESE_backupPace* values */
static const char *const pace_names[] = { "none", "auto", NULL };

/* Applied in this order: page_size before cache_size (bytes -> pages). */
static const struct param {
  const char *key;
  unsigned long id;
  int type;
} params[] = {
  {"system_path", JET_paramSystemPath, P_STR},
  {"log_path", JET_paramLogFilePath, P_STR},
  {"base_name", JET_paramBaseName, P_STR},
  {"log_file_size", JET_paramLogFileSize, P_INT},
  {"circular_log", JET_paramCircularLog, P_BOOL},
  {"page_size", JET_paramDatabasePageSize, P_INT},
  {"max_open_backup_files", JET_paramMaxOpenBackupFiles, P_INT},
  {"checkpoint_depth", JET_paramCheckpointDepthMax, P_INT},
  {"dw_size", JET_paramDoubleWriteSize, P_INT},
  {"archive_path", JET_paramArchivePath, P_STR},
  {"archive_command", JET_paramArchiveCommand, P_STR},
  {"archive_timeout", JET_paramArchiveTimeout, P_INT},
  {"archive_max_backlog", JET_paramArchiveMaxBacklog, P_INT},
  {"archive_command_timeout", JET_paramArchiveCommandTimeout, P_INT},
  {"archive_retry_max", JET_paramArchiveRetryMax, P_INT},
  {"cache_size", JET_paramCacheSizeMax, P_CACHE},
  {"backup_max_rate", JET_paramBackupMaxRate, P_INT},
  {"backup_pace", JET_paramBackupPace, P_PACE},
  {"max_ver_pages", JET_paramMaxVerPages, P_INT},
};
#define NPARAMS (sizeof params / sizeof params[0])
#define DEFAULT_PAGE_SIZE 8192

/* The checked values of a params table; strings stay anchored in it. */
typedef struct pvals {
  int set[NPARAMS];
  const char *s[NPARAMS];
  lua_Integer n[NPARAMS];
} pvals;

static int param_index(const char *key) {
  for (size_t i = 0; i < NPARAMS; i++)
    if (strcmp(params[i].key, key) == 0) return (int)i;
  return -1;
}

/* Checks every key and value type of the params table at arg (nil/none is
 * an empty table).  Raises ordinary argument errors; calls no engine. */
static void check_params(lua_State *L, int arg, pvals *pv) {
  memset(pv, 0, sizeof *pv);
  if (lua_isnoneornil(L, arg)) return;
  luaL_checktype(L, arg, LUA_TTABLE);
  arg = lua_absindex(L, arg);
  lua_pushnil(L);
  while (lua_next(L, arg)) {
    int i = lua_type(L, -2) == LUA_TSTRING ? param_index(lua_tostring(L, -2)) : -1;
    if (i < 0) {
      lua_pushvalue(L, -2);
      luaL_argerror(L, arg,
                    lua_pushfstring(L, "unknown parameter '%s'", luaL_tolstring(L, -1, NULL)));
    }
    const char *key = params[i].key;
    switch (params[i].type) {
      case P_STR:
        if (lua_type(L, -1) != LUA_TSTRING)
          luaL_argerror(L, arg, lua_pushfstring(L, "parameter '%s': string expected, got %s",
                                                key, luaL_typename(L, -1)));
        pv->s[i] = ese_checkstring(L, -1, "params", params[i].id == JET_paramBaseName ? "the base name"
                                   : params[i].id == JET_paramArchiveCommand ? "the archive command" : "a path");
        break;
      case P_PACE: {
        int k = -1;
        if (lua_type(L, -1) == LUA_TSTRING)
          for (int j = 0; pace_names[j]; j++)
            if (strcmp(lua_tostring(L, -1), pace_names[j]) == 0) k = j;
        if (k < 0)
          luaL_argerror(L, arg, lua_pushfstring(L, "parameter '%s': \"none\" or \"auto\" expected, got %s",
                                                key, lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                                                   : luaL_typename(L, -1)));
        pv->n[i] = k;
        break;
      }
      case P_BOOL:
        if (!lua_isboolean(L, -1))
          luaL_argerror(L, arg, lua_pushfstring(L, "parameter '%s': boolean expected, got %s",
                                                key, luaL_typename(L, -1)));
        pv->n[i] = lua_toboolean(L, -1);
        break;
      default:
        if (!lua_isinteger(L, -1))
          luaL_argerror(L, arg, lua_pushfstring(L, "parameter '%s': integer expected, got %s",
                                                key, luaL_typename(L, -1)));
        pv->n[i] = lua_tointeger(L, -1);
        if (pv->n[i] < 0)
          luaL_argerror(L, arg, lua_pushfstring(L, "parameter '%s' must not be negative", key));
        break;
    }
    pv->set[i] = 1;
    lua_pop(L, 1);
  }
}

/* Sets the checked parameters on *pinst (0 = the legacy instance).  Calls
 * only the engine, never Lua, so the caller may clean up before raising. */
static JET_ERR apply_params(JET_INSTANCE *pinst, const pvals *pv) {
  for (size_t i = 0; i < NPARAMS; i++) {
    if (!pv->set[i]) continue;
    JET_ERR err;
    if (params[i].type == P_STR) {
      err = JetSetSystemParameter(pinst, 0, params[i].id, 0, pv->s[i]);
    } else if (params[i].type == P_CACHE) {
      lua_Integer page = 0;
      int ps = param_index("page_size");
      if (pv->set[ps]) {
        page = pv->n[ps];
      } else {
        JET_API_PTR v = 0;
        if (JetGetSystemParameter(*pinst, 0, JET_paramDatabasePageSize, &v, NULL, 0) >= 0)
          page = (lua_Integer)v;
      }
      if (page <= 0) page = DEFAULT_PAGE_SIZE;
      err = JetSetSystemParameter(pinst, 0, params[i].id, (JET_API_PTR)(pv->n[i] / page), NULL);
    } else {
      err = JetSetSystemParameter(pinst, 0, params[i].id, (JET_API_PTR)pv->n[i], NULL);
    }
    if (err < 0) return err;
  }
  return 0;
}

/* ---- term ---------------------------------------------------------------- */

static const EseFlag term_flags[] = {
  {"complete", JET_bitTermComplete},
  {"abrupt", JET_bitTermAbrupt},
  {"stop_backup", JET_bitTermStopBackup},
  {NULL, 0}
};

/* Errors after which JetTerm left the instance running (rule 7: a
 * complete term during a backup; or a grbit the engine refused). */
static int term_kept_running(JET_ERR err) {
  return err == JET_errBackupInProgress || err == JET_errInvalidGrbit ||
         err == JET_errInvalidParameter || err == JET_errRestoreInProgress ||
         err == JET_errTermInProgress;
}

/* Forget the legacy registry entry if it is the object at idx. */
static void legacy_forget(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  lua_getfield(L, LUA_REGISTRYINDEX, ESE_LEGACY_KEY);
  if (lua_rawequal(L, -1, idx)) {
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, ESE_LEGACY_KEY);
  }
  lua_pop(L, 1);
}

/* Terminates the open instance object at idx with the options at optarg. */
static int term_instance(lua_State *L, int idx, int optarg) {
  EseInstance *I = ese_checkinstance(L, idx, "term");
  int given = 0;
  JET_GRBIT grbit = ese_optflags(L, optarg, term_flags, 0, &given);
  JET_ERR err = given ? JetTerm2(I->inst, grbit) : JetTerm(I->inst);
  if (err >= 0 || !term_kept_running(err)) {
    I->open = 0;
    if (I->legacy) legacy_forget(L, idx);
  }
  if (err < 0) {
    if (I->open) return ese_raise_inst(L, err, "term", I->inst);
    return ese_raise(L, err, "term");
  }
  return 0;
}

/* __gc and __close: an abrupt term (committed data is in the log; the next
 * init recovers).  Idempotent; never raises. */
static int inst_gc(lua_State *L) {
  EseInstance *I = ese_toinstance(L, 1);
  if (I->open) {
    I->open = 0;
    (void)JetTerm(I->inst);
    if (I->legacy) legacy_forget(L, 1);
  }
  return 0;
}

static int inst_tostring(lua_State *L) {
  EseInstance *I = ese_toinstance(L, 1);
  if (!I->open) {
    lua_pushliteral(L, ESE_INSTANCE_T " (closed)");
  } else if (I->legacy) {
    lua_pushfstring(L, ESE_INSTANCE_T " (legacy): %p", (void *)I);
  } else {
    lua_getiuservalue(L, 1, 1);
    lua_pushfstring(L, ESE_INSTANCE_T " (%s): %p", lua_tostring(L, -1), (void *)I);
  }
  return 1;
}

/* ---- methods ------------------------------------------------------------- */

/* The options of init at arg (nil or a table) into *ri: opts.remap = {
 * [old_path] = new_path, ... } moves databases for this init's soft
 * recovery (JetInit3's JET_RSTMAP; its strings and array stay on the Lua
 * stack until the caller returns).  Wrong Lua types are argument errors;
 * the engine checks the paths. */
static void check_init_opts(lua_State *L, int arg, JET_RSTINFO *ri) {
  *ri = (JET_RSTINFO){ sizeof *ri, NULL, 0 };
  if (lua_isnoneornil(L, arg)) return;
  luaL_checktype(L, arg, LUA_TTABLE);
  static const char *const keys[] = { "remap", NULL };
  ese_checkkeys(L, arg, keys);
  if (lua_getfield(L, arg, "remap") == LUA_TNIL) return;
  luaL_argcheck(L, lua_istable(L, -1), arg, "remap must be a table of path = path");
  int map = lua_gettop(L);
  long n = 0;
  for (lua_pushnil(L); lua_next(L, map); lua_pop(L, 1)) {
    luaL_argcheck(L, lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING, arg,
                  "remap: every key and value must be a path string");
    n++;
  }
  luaL_argcheck(L, n <= 1024, arg, "remap: at most 1024 entries");
  ri->rgrstmap = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *ri->rgrstmap, 0);   /* freed by the GC */
  for (lua_pushnil(L); lua_next(L, map); lua_pop(L, 1)) {
    ri->rgrstmap[ri->crstmap].szDatabaseName = (char *)ese_checkpath(L, -2, "init");
    ri->rgrstmap[ri->crstmap].szNewDatabaseName = (char *)ese_checkpath(L, -1, "init");
    ri->crstmap++;
  }
}

/* inst:init(opts): see check_init_opts. */
static int inst_init(lua_State *L) {
  EseInstance *I = ese_checkinstance(L, 1, "init");
  JET_RSTINFO ri;
  check_init_opts(L, 2, &ri);
  JET_ERR err = JetInit3(&I->inst, &ri, 0);
  if (err < 0) return ese_raise_inst(L, err, "init", I->inst);
  return 0;
}

static int inst_term(lua_State *L) {
  return term_instance(L, 1, 2);
}

static int inst_stop_service(lua_State *L) {
  EseInstance *I = ese_checkinstance(L, 1, "stop_service");
  JET_ERR err = JetStopServiceInstance(I->inst);
  if (err < 0) return ese_raise_inst(L, err, "stop_service", I->inst);
  return 0;
}

/* inst:set_params(params): before init only (JET_errAlreadyInitialized),
 * except backup_max_rate and backup_pace, which may change at any time. */
static int inst_set_params(lua_State *L) {
  EseInstance *I = ese_checkinstance(L, 1, "set_params");
  pvals pv;
  check_params(L, 2, &pv);
  JET_ERR err = apply_params(&I->inst, &pv);
  if (err < 0) return ese_raise_inst(L, err, "set_params", I->inst);
  return 0;
}

/* inst:archive_status() -> { shipped_generation, pending, pending_bytes,
 * backlog, failures, last_error } or nil when no archive is configured. */
static int inst_archive_status(lua_State *L) {
  EseInstance *I = ese_checkinstance(L, 1, "archive_status");
  EseArchiveInfo ai;
  memset(&ai, 0, sizeof ai);
  ai.cbStruct = sizeof ai;
  JET_ERR err = EseArchiveStatus(I->inst, &ai);
  if (err < 0) return ese_raise_inst(L, err, "archive_status", I->inst);
  if (!ai.fEnabled) {
    lua_pushnil(L);
    return 1;
  }
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, (lua_Integer)ai.ulShippedGeneration);
  lua_setfield(L, -2, "shipped_generation");
  lua_pushinteger(L, (lua_Integer)ai.ulPending);
  lua_setfield(L, -2, "pending");
  lua_pushinteger(L, (lua_Integer)ai.cbPending);
  lua_setfield(L, -2, "pending_bytes");
  lua_pushboolean(L, ai.fBacklogged);
  lua_setfield(L, -2, "backlog");
  lua_pushinteger(L, (lua_Integer)ai.ulFailures);
  lua_setfield(L, -2, "failures");
  if (ai.szLastError[0]) {
    lua_pushstring(L, ai.szLastError);
    lua_setfield(L, -2, "last_error");
  }
  return 1;
}

/* inst:pace_status() -> the backup pacer's state (EseGetBackupPaceStatus):
 * { max_rate, rate (bytes/s, 0: none), pace ("none" | "auto"), congested,
 * commit_recent, commit_normal (seconds), bytes, waited (seconds), waits }. */
static int inst_pace_status(lua_State *L) {
  EseInstance *I = ese_checkinstance(L, 1, "pace_status");
  EseBackupPaceStatus st;
  JET_ERR err = EseGetBackupPaceStatus(I->inst, &st);
  if (err < 0) return ese_raise_inst(L, err, "pace_status", I->inst);
  lua_createtable(L, 0, 9);
  lua_pushinteger(L, (lua_Integer)st.maxRate);
  lua_setfield(L, -2, "max_rate");
  lua_pushinteger(L, (lua_Integer)st.rate);
  lua_setfield(L, -2, "rate");
  lua_pushstring(L, pace_names[st.pace == ESE_backupPaceAuto]);
  lua_setfield(L, -2, "pace");
  lua_pushboolean(L, st.congested);
  lua_setfield(L, -2, "congested");
  lua_pushnumber(L, (lua_Number)st.commitRecentUs / 1e6);
  lua_setfield(L, -2, "commit_recent");
  lua_pushnumber(L, (lua_Number)st.commitNormalUs / 1e6);
  lua_setfield(L, -2, "commit_normal");
  lua_pushinteger(L, (lua_Integer)st.bytes);
  lua_setfield(L, -2, "bytes");
  lua_pushnumber(L, (lua_Number)st.waitedUs / 1e6);
  lua_setfield(L, -2, "waited");
  lua_pushinteger(L, (lua_Integer)st.waits);
  lua_setfield(L, -2, "waits");
  return 1;
}

/* inst:version_store() -> { bytes, versions, uncommitted, max, transactions }
 * (EseGetVersionStoreInfo; bytes as the limit counts them). */
static int inst_version_store(lua_State *L) {
  EseInstance *I = ese_checkinstance(L, 1, "version_store");
  EseVersionStoreInfo vi;
  JET_ERR err = EseGetVersionStoreInfo(I->inst, &vi);
  if (err < 0) return ese_raise_inst(L, err, "version_store", I->inst);
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, (lua_Integer)vi.cbVersions);
  lua_setfield(L, -2, "bytes");
  lua_pushinteger(L, (lua_Integer)vi.cVersions);
  lua_setfield(L, -2, "versions");
  lua_pushinteger(L, (lua_Integer)vi.cbUncommitted);
  lua_setfield(L, -2, "uncommitted");
  lua_pushinteger(L, (lua_Integer)vi.cbMax);
  lua_setfield(L, -2, "max");
  lua_pushinteger(L, (lua_Integer)vi.cTransactions);
  lua_setfield(L, -2, "transactions");
  return 1;
}

/* inst:base_name() -> the logs' base name (JET_paramBaseName, e.g. "edb"):
 * what names B.chk, B.lck and the log generations, known before a backup
 * lists its logs (backup.run_to checks its databases' names with it). */
static int inst_base_name(lua_State *L) {
  EseInstance *I = ese_checkinstance(L, 1, "base_name");
  char base[JET_BASE_NAME_LENGTH + 1];
  JET_ERR err = JetGetSystemParameter(I->inst, 0, JET_paramBaseName, NULL, base, sizeof base);
  if (err < 0) return ese_raise_inst(L, err, "base_name", I->inst);
  lua_pushstring(L, base);
  return 1;
}

static int inst_is_open(lua_State *L) {
  lua_pushboolean(L, ese_toinstance(L, 1)->open);
  return 1;
}

/* ---- module functions ----------------------------------------------------- */

/* ese.create_instance(name, params) -> ese.Instance (multi-instance mode). */
static int l_create_instance(lua_State *L) {
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  /* C would take it cut at the NUL ("a\0x" in use as "a") */
  if (strlen(name) != len) return ese_raise_detail(L, JET_errInvalidName, "create_instance", "the name holds a NUL byte");
  pvals pv;
  check_params(L, 2, &pv);
  EseInstance *I = new_instance(L, name);
  JET_INSTANCE inst = 0;
  JET_ERR err = JetCreateInstance(&inst, name);
  if (err < 0) return ese_raise(L, err, "create_instance");
  I->inst = inst;
  I->open = 1;
  err = apply_params(&I->inst, &pv);
  if (err < 0) {
    char detail[512];
    detail[0] = '\0';
    EseInstanceErrorDetail(I->inst, detail, sizeof detail);
    detail[sizeof detail - 1] = '\0';
    I->open = 0;
    (void)JetTerm(I->inst);
    return ese_raise_detail(L, err, "create_instance", detail);
  }
  return 1;
}

/* ese.init(params, opts) -> the global (legacy) instance: JetInit3(&0),
 * opts as inst:init's (check_init_opts). */
static int l_init(lua_State *L) {
  pvals pv;
  JET_RSTINFO ri;
  check_params(L, 1, &pv);
  check_init_opts(L, 2, &ri);
  EseInstance *I = new_instance(L, "legacy");
  JET_INSTANCE inst = 0;
  JET_ERR err = apply_params(&inst, &pv);
  if (err < 0) return ese_raise(L, err, "init");
  err = JetInit3(&inst, &ri, 0);
  if (err < 0) return ese_raise(L, err, "init");
  I->inst = inst;
  I->open = 1;
  I->legacy = 1;
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, ESE_LEGACY_KEY);
  return 1;
}

/* ese.term(opts): terminates the global instance of ese.init. */
static int l_term(lua_State *L) {
  lua_settop(L, 1);
  if (lua_getfield(L, LUA_REGISTRYINDEX, ESE_LEGACY_KEY) == LUA_TUSERDATA)
    return term_instance(L, 2, 1);
  /* No legacy object of ours: let the engine answer for the mode
   * (JET_errNotInitialized, JET_errRunningInMultiInstanceMode). */
  int given = 0;
  JET_GRBIT grbit = ese_optflags(L, 1, term_flags, 0, &given);
  JET_ERR err = given ? JetTerm2(0, grbit) : JetTerm(0);
  if (err < 0) return ese_raise(L, err, "term");
  return 0;
}

/* ese.stop_service(): JetStopService, the instance-less form. */
static int l_stop_service(lua_State *L) {
  JET_ERR err = JetStopService();
  if (err < 0) return ese_raise(L, err, "stop_service");
  return 0;
}

static const luaL_Reg inst_meta[] = {
  {"__gc", inst_gc},
  {"__close", inst_gc},
  {"__tostring", inst_tostring},
  {NULL, NULL}
};

static const luaL_Reg inst_methods[] = {
  {"init", inst_init},
  {"term", inst_term},
  {"stop_service", inst_stop_service},
  {"set_params", inst_set_params},
  {"pace_status", inst_pace_status},
  {"is_open", inst_is_open},
  {"base_name", inst_base_name},
  {"archive_status", inst_archive_status},
  {"version_store", inst_version_store},
  {NULL, NULL}
};

static const luaL_Reg module_funcs[] = {
  {"create_instance", l_create_instance},
  {"init", l_init},
  {"term", l_term},
  {"stop_service", l_stop_service},
  {NULL, NULL}
};

int ese_open_instance(lua_State *L) {
  ese_newclass(L, ESE_INSTANCE_T, inst_meta, inst_methods);
  luaL_setfuncs(L, module_funcs, 0);
  return 0;
}
