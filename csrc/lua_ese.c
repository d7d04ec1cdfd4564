/*
 * lua_ese.c -- luaopen_ese_core: the module table, the class helpers, the
 * ese.Error object and the option-table parser shared by every type.
 *
 * luaopen_ese_core runs once per require; under busted's insulation that is
 * once per spec file in one lua_State, so everything here is idempotent:
 * metatables are found again by name and reused, never redefined.
 */
#include <string.h>
#include "lua_ese.h"
#include "os.h"
#include "restore.h"

/* ---- error objects ----------------------------------------------------- */

/* __tostring: "NAME (code): message [in op: detail]".  Reads the fields so
 * that an error object built or edited in Lua prints as well. */
static int error_tostring(lua_State *L) {
  luaL_Buffer b;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "name");
  lua_getfield(L, 1, "code");
  lua_getfield(L, 1, "message");
  lua_getfield(L, 1, "op");
  lua_getfield(L, 1, "detail");
  luaL_buffinit(L, &b);
  if (lua_type(L, 2) == LUA_TSTRING) {
    lua_pushvalue(L, 2);
    luaL_addvalue(&b);
  } else {
    luaL_addstring(&b, "JET_errUnknown");
  }
  if (lua_isinteger(L, 3)) {
    lua_pushfstring(L, " (%I)", (lua_Integer)lua_tointeger(L, 3));
    luaL_addvalue(&b);
  }
  if (lua_type(L, 4) == LUA_TSTRING) {
    luaL_addstring(&b, ": ");
    lua_pushvalue(L, 4);
    luaL_addvalue(&b);
  }
  int has_op = lua_type(L, 5) == LUA_TSTRING;
  int has_detail = lua_type(L, 6) == LUA_TSTRING && lua_rawlen(L, 6) > 0;
  if (has_op || has_detail) {
    luaL_addstring(&b, " [");
    if (has_op) {
      luaL_addstring(&b, "in ");
      lua_pushvalue(L, 5);
      luaL_addvalue(&b);
    }
    if (has_detail) {
      if (has_op) luaL_addstring(&b, ": ");
      lua_pushvalue(L, 6);
      luaL_addvalue(&b);
    }
    luaL_addchar(&b, ']');
  }
  luaL_pushresult(&b);
  return 1;
}

const char *ese_checkstring(lua_State *L, int idx, const char *op, const char *what) {
  size_t n;
  const char *p = luaL_checklstring(L, idx, &n);
  if (strlen(p) != n)
    ese_raise_detail(L, JET_errInvalidPath, op, lua_pushfstring(L, "%s...: %s holds a NUL byte", p, what));
  return p;
}

const char *ese_checkpath(lua_State *L, int idx, const char *op) { return ese_checkstring(L, idx, op, "a path"); }

void ese_push_hex16(lua_State *L, const unsigned char b[16]) {
  static const char digits[] = "0123456789abcdef";
  char hex[32];
  for (int i = 0; i < 16; i++) {
    hex[2 * i] = digits[b[i] >> 4];
    hex[2 * i + 1] = digits[b[i] & 15];
  }
  lua_pushlstring(L, hex, sizeof hex);
}

static int hex_digit(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int ese_hex16(const char *s, size_t len, unsigned char out[16]) {
  if (!s || len != 32) return 0;
  for (int i = 0; i < 16; i++) {
    int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return 0;
    out[i] = (unsigned char)(hi << 4 | lo);
  }
  return 1;
}

/* Raises "unknown option 'k'" for the key below the value on top (inside
 * a lua_next loop over the options table at arg). */
static int unknown_option(lua_State *L, int arg) {
  lua_pushvalue(L, -2);
  return luaL_argerror(L, arg, lua_pushfstring(L, "unknown option '%s'", luaL_tolstring(L, -1, NULL)));
}

void ese_checkkeys(lua_State *L, int arg, const char *const *names) {
  arg = lua_absindex(L, arg);
  for (lua_pushnil(L); lua_next(L, arg); lua_pop(L, 1)) {
    const char *const *n = names;
    if (lua_type(L, -2) == LUA_TSTRING)
      for (; *n && strcmp(*n, lua_tostring(L, -2)) != 0; n++) {}
    if (lua_type(L, -2) != LUA_TSTRING || !*n) unknown_option(L, arg);
  }
}

void ese_push_error(lua_State *L, JET_ERR err, const char *op, const char *detail) {
  const char *name = EseErrorName(err);
  const char *msg = EseErrorMessage(err);
  lua_createtable(L, 0, 5);
  lua_pushstring(L, name ? name : "JET_errUnknown");
  lua_setfield(L, -2, "name");
  lua_pushinteger(L, (lua_Integer)err);
  lua_setfield(L, -2, "code");
  if (msg) lua_pushstring(L, msg);
  else lua_pushfstring(L, "Unknown error %I", (lua_Integer)err);
  lua_setfield(L, -2, "message");
  if (op) {
    lua_pushstring(L, op);
    lua_setfield(L, -2, "op");
  }
  if (detail && *detail) {
    lua_pushstring(L, detail);
    lua_setfield(L, -2, "detail");
  }
  luaL_setmetatable(L, ESE_ERROR_T);
}

int ese_raise_detail(lua_State *L, JET_ERR err, const char *op, const char *detail) {
  ese_push_error(L, err, op, detail);
  return lua_error(L);
}

int ese_warning(lua_State *L, JET_ERR err, const char *op) {
  if (err <= 0) return 0;
  ese_push_error(L, err, op, NULL);
  return 1;
}

int ese_raise(lua_State *L, JET_ERR err, const char *op) {
  return ese_raise_detail(L, err, op, NULL);
}

int ese_raise_ses(lua_State *L, JET_ERR err, const char *op, JET_SESID sesid) {
  char detail[512];
  EseSessionErrorDetail(sesid, detail, sizeof detail);
  return ese_raise_detail(L, err, op, detail);
}

int ese_raise_inst(lua_State *L, JET_ERR err, const char *op, JET_INSTANCE inst) {
  char detail[512];
  EseInstanceErrorDetail(inst, detail, sizeof detail);
  return ese_raise_detail(L, err, op, detail);
}

/* ---- classes ----------------------------------------------------------- */

void ese_newclass(lua_State *L, const char *tname, const luaL_Reg *meta,
                  const luaL_Reg *methods) {
  if (luaL_newmetatable(L, tname)) {   /* new: fill it; else reuse as is */
    if (meta) luaL_setfuncs(L, meta, 0);
    if (methods) {
      lua_newtable(L);
      luaL_setfuncs(L, methods, 0);
      lua_setfield(L, -2, "__index");
    }
  }
  lua_pop(L, 1);
}

void ese_addmethods(lua_State *L, const char *tname, const luaL_Reg *methods) {
  luaL_getmetatable(L, tname);
  if (lua_getfield(L, -1, "__index") == LUA_TTABLE) luaL_setfuncs(L, methods, 0);
  lua_pop(L, 2);
}

/* ---- option tables ----------------------------------------------------- */

JET_GRBIT ese_optflags(lua_State *L, int arg, const EseFlag *flags, JET_GRBIT def,
                       int *given) {
  JET_GRBIT grbit = 0;
  int any = 0;
  switch (lua_type(L, arg)) {
    case LUA_TNONE:
    case LUA_TNIL:
      break;
    case LUA_TNUMBER: {
      lua_Integer n = luaL_checkinteger(L, arg);
      luaL_argcheck(L, n >= 0, arg, "grbit must not be negative");
      grbit = (JET_GRBIT)n;
      any = 1;
      break;
    }
    case LUA_TTABLE:
      arg = lua_absindex(L, arg);
      lua_pushnil(L);
      while (lua_next(L, arg)) {
        const EseFlag *f = NULL;
        if (lua_type(L, -2) == LUA_TSTRING) {
          const char *k = lua_tostring(L, -2);
          for (f = flags; f->name && strcmp(f->name, k) != 0; f++) {}
          if (!f->name) f = NULL;
        }
        if (!f) return (JET_GRBIT)unknown_option(L, arg);
        if (!lua_isboolean(L, -1))
          return (JET_GRBIT)luaL_argerror(
              L, arg, lua_pushfstring(L, "option '%s' must be a boolean", f->name));
        if (lua_toboolean(L, -1)) {
          grbit |= f->bit;
          any = 1;
        }
        lua_pop(L, 1);
      }
      break;
    default:
      luaL_typeerror(L, arg, "nil, table or integer");
  }
  if (given) *given = any;
  return any ? grbit : def;
}

/* ---- the module -------------------------------------------------------- */

static void add_error(const char *name, JET_ERR code, const char *msg, void *ud) {
  lua_State *L = (lua_State *)ud;
  (void)msg;
  lua_pushinteger(L, (lua_Integer)code);
  lua_setfield(L, -2, name);
  lua_pushstring(L, name);
  lua_rawseti(L, -2, (lua_Integer)code);
}

/* message(name | code): the sentence of that error in the one table
 * (ese_errors.h), the same text C's EseErrorMessage gives and every raised
 * error object carries; nil for an unknown name or code.  Upvalue 1: the
 * errors table (name -> code). */
static int l_message(lua_State *L) {
  lua_Integer code;
  if (lua_type(L, 1) == LUA_TSTRING) {
    if (lua_getfield(L, lua_upvalueindex(1), lua_tostring(L, 1)) != LUA_TNUMBER) {
      lua_pushnil(L);
      return 1;
    }
    code = lua_tointeger(L, -1);
  } else {
    code = luaL_checkinteger(L, 1);
  }
  const char *msg = code == (lua_Integer)(JET_ERR)code ? EseErrorMessage((JET_ERR)code) : NULL;
  if (msg) lua_pushstring(L, msg);
  else lua_pushnil(L);
  return 1;
}

/* core._thread_syncs() -> the fsyncs run on the calling thread so far
 * (os_thread_syncs): a test hook, so that a spec sees which syncs a step
 * left to an engine thread without timing it. */
static int l_thread_syncs(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)os_thread_syncs());
  return 1;
}

/* core._db_name_problem(name [, base]) -> why a backup set cannot hold a
 * database named name beside logs of base name base, or nil: the rule of
 * restore_db_name_problem (restore.c), for ese.util's db_name_problem. */
static int l_db_name_problem(lua_State *L) {
  size_t n = 0;
  const char *name = luaL_checklstring(L, 1, &n);
  const char *base = luaL_optstring(L, 2, NULL);
  char why[160];
  if (strlen(name) != n) lua_pushliteral(L, "a name holding a NUL byte");   /* C would read it cut */
  else if (restore_db_name_problem(name, base, why, sizeof why)) lua_pushstring(L, why);
  else lua_pushnil(L);
  return 1;
}

/* core._backup_epoch(inst) -> the instance object's count of Begins
 * (EseInstance.backup_epoch), for backup_run.lua: a run whose count
 * changed meanwhile no longer owns the instance's backup. */
static int l_backup_epoch(lua_State *L) {
  EseInstance *I = ese_toinstance(L, 1);
  lua_pushinteger(L, I->backup_epoch);
  return 1;
}

static const luaL_Reg error_meta[] = {
  {"__tostring", error_tostring},
  {NULL, NULL}
};

int luaopen_ese_core(lua_State *L) {
  luaL_checkversion(L);
  ese_newclass(L, ESE_ERROR_T, error_meta, NULL);
  lua_newtable(L);                       /* the module */
  ese_open_instance(L);
  ese_open_session(L);
  ese_open_table(L);
  ese_open_reader(L);
  ese_open_backup(L);
  ese_open_restore(L);
  ese_open_check(L);
  ese_open_fs(L);
  ese_open_zstd(L);
  lua_pushliteral(L, ESE_VERSION);
  lua_setfield(L, -2, "version");
  lua_pushcfunction(L, l_thread_syncs);
  lua_setfield(L, -2, "_thread_syncs");
  lua_pushcfunction(L, l_db_name_problem);
  lua_setfield(L, -2, "_db_name_problem");
  lua_pushcfunction(L, l_backup_epoch);
  lua_setfield(L, -2, "_backup_epoch");
  lua_newtable(L);                       /* errors, both directions */
  EseForEachError(add_error, L);
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, l_message, 1);
  lua_setfield(L, -3, "message");
  lua_setfield(L, -2, "errors");
  luaL_getmetatable(L, ESE_ERROR_T);
  lua_setfield(L, -2, "Error");
  return 1;
}
