/*
 * lua_backup.c -- the external (streaming) backup sequence, one Lua call
 * per ESE call:
 *
 *   inst:begin_external_backup(opts)  JetBeginExternalBackupInstance
 *   inst:get_attach_info()            JetGetAttachInfoInstance -> { path, ... }
 *   inst:open_file(path)              JetOpenFileInstance -> ese.Reader
 *   inst:get_log_info()               JetGetLogInfoInstance2 -> { path, ... },
 *                                     { gen_low =, gen_high =, base_name = }
 *   inst:get_truncate_log_info()      JetGetTruncateLogInfoInstance -> { path, ... }
 *   inst:truncate_log()               JetTruncateLogInstance
 *   inst:end_external_backup(opts)    JetEndExternalBackupInstance[2]
 *   inst:stop_backup()                JetStopBackupInstance
 *   inst:backup_step(opts)            EseBackupStep -> true while more remain
 *
 * and the legacy instance-less forms ese.begin_external_backup,
 * ese.get_attach_info, ese.open_file, ese.get_log_info, ese.truncate_log,
 * ese.end_external_backup, ese.stop_backup, which call JetBeginExternalBackup
 * etc. and so answer as the engine does for the mode (not initialized,
 * multi-instance).
 *
 * Options: Begin { incremental = true, stepwise = true } or a raw grbit;
 * backup_step { cutoff = true }, { truncate = true }, { finish = true } (End
 * in steps) or a raw grbit; End { normal = true }
 * (the default), { abort = true }, { truncate_done = true } (with normal when
 * neither normal nor abort is given), or a raw grbit.  The engine judges the
 * bits (JET_errInvalidGrbit, JET_errInvalidParameter).
 *
 * Every Begin that succeeds bumps the instance object's backup epoch, which
 * readers compare with theirs.
 */
#include <string.h>
#include "lua_ese.h"

/* Pushes the ese.init object (or nil) and returns its index, 0 for none. */
static int push_legacy(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, ESE_LEGACY_KEY) == LUA_TUSERDATA &&
      luaL_testudata(L, -1, ESE_INSTANCE_T))
    return lua_gettop(L);
  return 0;
}

/* ---- options ------------------------------------------------------------------ */

static const EseFlag begin_flags[] = {
  {"incremental", JET_bitBackupIncremental},
  {"stepwise", ESE_bitBackupStepwise},
  {NULL, 0}
};

static const EseFlag step_flags[] = {
  {"cutoff", ESE_bitBackupStepCutOff},
  {"truncate", ESE_bitBackupStepTruncate},
  {"finish", ESE_bitBackupStepEnd},
  {NULL, 0}
};

static const EseFlag end_flags[] = {
  {"normal", JET_bitBackupEndNormal},
  {"abort", JET_bitBackupEndAbort},
  {"truncate_done", JET_bitBackupTruncateDone},
  {NULL, 0}
};

/* End's grbit from the argument at arg; *given is 0 when it was absent. */
static JET_GRBIT end_grbit(lua_State *L, int arg, int *given) {
  JET_GRBIT grbit = ese_optflags(L, arg, end_flags, JET_bitBackupEndNormal, NULL);
  if (lua_istable(L, arg) && !(grbit & (JET_bitBackupEndNormal | JET_bitBackupEndAbort)))
    grbit |= JET_bitBackupEndNormal;
  *given = !lua_isnoneornil(L, arg);
  return grbit;
}

/* ---- lists ------------------------------------------------------------------------ */

enum { LIST_ATTACH, LIST_LOG, LIST_TRUNCATE };

typedef struct listcall {
  int kind;
  int legacy;
  JET_INSTANCE inst;
  JET_LOGINFO *li;     /* LIST_LOG of an instance: JetGetLogInfoInstance2 */
} listcall;

static JET_ERR list_call(const listcall *c, char *buf, unsigned long cb, unsigned long *pcb) {
  switch (c->kind) {
    case LIST_ATTACH:
      return c->legacy ? JetGetAttachInfo(buf, cb, pcb) : JetGetAttachInfoInstance(c->inst, buf, cb, pcb);
    case LIST_LOG:
      if (c->legacy) return JetGetLogInfo(buf, cb, pcb);
      return JetGetLogInfoInstance2(c->inst, buf, cb, pcb, c->li);
    default:
      return JetGetTruncateLogInfoInstance(c->inst, buf, cb, pcb);
  }
}

/* Pushes the list as an array of strings: asks the size with no buffer,
 * then fetches it (again, bigger, should it have grown meanwhile). */
static int push_list(lua_State *L, const listcall *c, const char *op) {
  unsigned long need = 0;
  JET_ERR err = list_call(c, NULL, 0, &need);
  if (err < 0) return ese_raise_inst(L, err, op, c->inst);
  const char *buf = NULL;
  size_t len = 0;
  for (int tries = 0;; tries++) {
    size_t cap = need > 0 ? need : 1;
    char *b = (char *)lua_newuserdatauv(L, cap, 0);
    unsigned long got = 0;
    err = list_call(c, b, (unsigned long)cap, &got);
    if (err < 0) return ese_raise_inst(L, err, op, c->inst);
    if (got <= cap || tries == 8) {
      buf = b;
      len = got < cap ? got : cap;
      break;
    }
    need = got;
    lua_pop(L, 1);
  }
  lua_newtable(L);
  lua_Integer i = 0;
  for (size_t off = 0; off < len && buf[off];) {
    size_t n = strnlen(buf + off, len - off);
    lua_pushlstring(L, buf + off, n);
    lua_rawseti(L, -2, ++i);
    off += n + 1;
  }
  lua_remove(L, -2);   /* the buffer */
  return 1;
}

/* ---- instance methods ------------------------------------------------------------- */

static int inst_begin_external_backup(lua_State *L) {
  EseInstance *I = ese_checkinstance(L, 1, "begin_external_backup");
  JET_GRBIT grbit = ese_optflags(L, 2, begin_flags, 0, NULL);
  JET_ERR err = JetBeginExternalBackupInstance(I->inst, grbit);
  if (err < 0) return ese_raise_inst(L, err, "begin_external_backup", I->inst);
  I->backup_epoch++;
  return 0;
}

static int inst_get_attach_info(lua_State *L) {
  EseInstance *I = ese_checkinstance(L, 1, "get_attach_info");
  listcall c = { LIST_ATTACH, 0, I->inst, NULL };
  return push_list(L, &c, "get_attach_info");
}

static int inst_open_file(lua_State *L) {
  ese_checkinstance(L, 1, "open_file");
  ese_checkpath(L, 2, "open_file");
  return ese_reader_open(L, 1, 2, 0, "open_file");
}

static int inst_get_log_info(lua_State *L) {
  EseInstance *I = ese_checkinstance(L, 1, "get_log_info");
  JET_LOGINFO li;
  memset(&li, 0, sizeof li);
  li.cbSize = sizeof li;
  listcall c = { LIST_LOG, 0, I->inst, &li };
  push_list(L, &c, "get_log_info");
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)li.ulGenLow);
  lua_setfield(L, -2, "gen_low");
  lua_pushinteger(L, (lua_Integer)li.ulGenHigh);
  lua_setfield(L, -2, "gen_high");
  li.szBaseName[JET_BASE_NAME_LENGTH] = '\0';
  lua_pushstring(L, li.szBaseName);
  lua_setfield(L, -2, "base_name");
  /* the timeline (EseGetTimeline): absent for the stream's root one */
  unsigned char id[2][16];
  int has = 0;
  JET_ERR err = EseGetTimeline(I->inst, id[0], id[1], &has);
  if (err < 0) return ese_raise_inst(L, err, "get_log_info", I->inst);
  static const unsigned char root[16];
  for (int k = 0; has && k < 2; k++) {
    if (k == 1 && memcmp(id[1], root, 16) == 0) break;   /* the parent is the root timeline: absent */
    ese_push_hex16(L, id[k]);
    lua_setfield(L, -2, k ? "timeline_parent" : "timeline");
  }
  return 2;
}

static int inst_get_truncate_log_info(lua_State *L) {
  EseInstance *I = ese_checkinstance(L, 1, "get_truncate_log_info");
  listcall c = { LIST_TRUNCATE, 0, I->inst, NULL };
  return push_list(L, &c, "get_truncate_log_info");
}

static int inst_truncate_log(lua_State *L) {
  EseInstance *I = ese_checkinstance(L, 1, "truncate_log");
  JET_ERR err = JetTruncateLogInstance(I->inst);
  if (err < 0) return ese_raise_inst(L, err, "truncate_log", I->inst);
  return 0;
}

static int inst_end_external_backup(lua_State *L) {
  EseInstance *I = ese_checkinstance(L, 1, "end_external_backup");
  int given = 0;
  JET_GRBIT grbit = end_grbit(L, 2, &given);
  JET_ERR err = given ? JetEndExternalBackupInstance2(I->inst, grbit)
                      : JetEndExternalBackupInstance(I->inst);
  if (err < 0) return ese_raise_inst(L, err, "end_external_backup", I->inst);
  return 0;
}

/* One slice of the backup's pending checkpoint (EseBackupStep): true while
 * more remain.  A caller that must not block (a coroutine) calls it
 * between two yields until it answers false. */
static int inst_backup_step(lua_State *L) {
  EseInstance *I = ese_checkinstance(L, 1, "backup_step");
  JET_GRBIT grbit = ese_optflags(L, 2, step_flags, 0, NULL);
  int more = 0;
  JET_ERR err = EseBackupStep(I->inst, grbit, &more);
  if (err < 0) return ese_raise_inst(L, err, "backup_step", I->inst);
  lua_pushboolean(L, more);
  return 1;
}

static int inst_stop_backup(lua_State *L) {
  EseInstance *I = ese_checkinstance(L, 1, "stop_backup");
  JET_ERR err = JetStopBackupInstance(I->inst);
  if (err < 0) return ese_raise_inst(L, err, "stop_backup", I->inst);
  return 0;
}

/* ---- legacy module functions -------------------------------------------------------- */

/* The detail of a failed legacy call: the legacy instance's, if any (handle
 * 0 names the legacy instance in legacy mode, nothing otherwise). */
static int raise_legacy(lua_State *L, JET_ERR err, const char *op) {
  return ese_raise_inst(L, err, op, 0);
}

static int l_begin_external_backup(lua_State *L) {
  JET_GRBIT grbit = ese_optflags(L, 1, begin_flags, 0, NULL);
  /* looked up first: what can raise (memory) raises before the backup is
   * begun, never between the Begin and the epoch's bump */
  int li = push_legacy(L);
  JET_ERR err = JetBeginExternalBackup(grbit);
  if (err < 0) return raise_legacy(L, err, "begin_external_backup");
  if (li) ((EseInstance *)lua_touserdata(L, li))->backup_epoch++;
  return 0;
}

static int l_get_attach_info(lua_State *L) {
  listcall c = { LIST_ATTACH, 1, 0, NULL };
  return push_list(L, &c, "get_attach_info");
}

static int l_open_file(lua_State *L) {
  ese_checkpath(L, 1, "open_file");
  int li = push_legacy(L);
  return ese_reader_open(L, li, 1, 1, "open_file");
}

static int l_get_log_info(lua_State *L) {
  listcall c = { LIST_LOG, 1, 0, NULL };
  return push_list(L, &c, "get_log_info");
}

static int l_truncate_log(lua_State *L) {
  JET_ERR err = JetTruncateLog();
  if (err < 0) return raise_legacy(L, err, "truncate_log");
  return 0;
}

/* ese.end_external_backup(): JetEndExternalBackup, which has no grbit (the
 * options of End2 are on inst:end_external_backup). */
static int l_end_external_backup(lua_State *L) {
  luaL_argcheck(L, lua_isnoneornil(L, 1), 1,
                "no options (JetEndExternalBackup ends normally; use inst:end_external_backup(opts))");
  JET_ERR err = JetEndExternalBackup();
  if (err < 0) return raise_legacy(L, err, "end_external_backup");
  return 0;
}

static int l_stop_backup(lua_State *L) {
  JET_ERR err = JetStopBackup();
  if (err < 0) return raise_legacy(L, err, "stop_backup");
  return 0;
}

static const luaL_Reg inst_backup_methods[] = {
  {"begin_external_backup", inst_begin_external_backup},
  {"get_attach_info", inst_get_attach_info},
  {"open_file", inst_open_file},
  {"get_log_info", inst_get_log_info},
  {"get_truncate_log_info", inst_get_truncate_log_info},
  {"truncate_log", inst_truncate_log},
  {"end_external_backup", inst_end_external_backup},
  {"stop_backup", inst_stop_backup},
  {"backup_step", inst_backup_step},
  {NULL, NULL}
};

static const luaL_Reg module_funcs[] = {
  {"begin_external_backup", l_begin_external_backup},
  {"get_attach_info", l_get_attach_info},
  {"open_file", l_open_file},
  {"get_log_info", l_get_log_info},
  {"truncate_log", l_truncate_log},
  {"end_external_backup", l_end_external_backup},
  {"stop_backup", l_stop_backup},
  {NULL, NULL}
};

int ese_open_backup(lua_State *L) {
  ese_addmethods(L, ESE_INSTANCE_T, inst_backup_methods);
  luaL_setfuncs(L, module_funcs, 0);
  return 0;
}
