/*
 * lua_restore.c -- ese.core.restore_begin: the stepwise restore (EseRestore*)
 * as a userdata "ese.Restore".  lua/ese/init.lua drives it (ese.restore),
 * so the progress callback runs as plain Lua between steps and may yield.
 */
#include <string.h>
#include "lua_ese.h"

#define ESE_RESTORE_T "ese.Restore"

/* to_time's end: 10000-01-01 00:00:00 UTC in seconds since the epoch (util.TO_TIME_MAX) */
#define TO_TIME_MAX 253402300800.0

typedef struct EseRestoreUd {
  EseRestore *r;    /* NULL once closed */
} EseRestoreUd;     /* user value 1: the ese.Instance restoring, if any */

static EseRestoreUd *torestore(lua_State *L, int idx) {
  return (EseRestoreUd *)luaL_checkudata(L, idx, ESE_RESTORE_T);
}

static int restore_close(lua_State *L) {
  EseRestoreUd *u = torestore(L, 1);
  if (u->r) {
    EseRestoreEnd(u->r);
    u->r = NULL;
  }
  return 0;
}

/* The path option `name` on top of the stack: NULL when nil; not a string
 * is an argument error naming it (not "#-1", the stack slot). */
static const char *opt_path(lua_State *L, const char *name) {
  if (lua_isnil(L, -1)) return NULL;
  if (lua_type(L, -1) != LUA_TSTRING) luaL_argerror(L, 3, lua_pushfstring(L, "%s must be a string", name));
  return ese_checkpath(L, -1, "restore");
}

/* restore_begin(dirs, dest, opts) */
static int restore_begin(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const char *dest = ese_checkpath(L, 2, "restore");
  lua_Integer n = luaL_len(L, 1);
  luaL_argcheck(L, n >= 1 && n <= 1024, 1, "a list of 1 to 1024 backup folders");
  const char **dirs = lua_newuserdatauv(L, sizeof(char *) * (size_t)n, 0);
  /* the names, kept in a table of our own until the call returns: an entry
   * that __index made is referenced by nothing else, and a collection (any
   * allocation below, or Lua code of the options' __index) would free it */
  lua_createtable(L, (int)n, 0);
  int names = lua_gettop(L);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, 1, i);
    if (lua_type(L, -1) != LUA_TSTRING) return luaL_argerror(L, 1, "backup folders must be strings");
    dirs[i - 1] = ese_checkpath(L, -1, "restore");
    lua_rawseti(L, names, i);
  }
  EseRestoreOptions o = { .dirs = dirs, .ndirs = (unsigned long)n, .dest = dest };
  unsigned char parent_tl[16];
  int has_inst = 0;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    /* on_progress: ese.restore's, which passes its options through */
    static const char *const keys[] = { "live_log_path", "to_generation", "overwrite", "base_name",
                                        "instance", "on_progress", "archive_path", "to_time", "allow_partial",
                                        "restore_command", "parent_timeline", NULL };
    ese_checkkeys(L, 3, keys);
    lua_getfield(L, 3, "live_log_path");
    o.live_log_path = opt_path(L, "live_log_path");
    lua_getfield(L, 3, "to_generation");
    if (!lua_isnil(L, -1)) {
      int isint = 0;   /* a number, not a string that converts */
      lua_Integer g = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
      luaL_argcheck(L, isint, 3, "to_generation must be an integer");
      luaL_argcheck(L, g > 0, 3, "to_generation must be positive");
      o.to_generation = (unsigned long)g;
    }
    lua_getfield(L, 3, "archive_path");
    o.archive_path = opt_path(L, "archive_path");
    lua_getfield(L, 3, "restore_command");
    if (!lua_isnil(L, -1)) {
      if (lua_type(L, -1) != LUA_TSTRING) return luaL_argerror(L, 3, "restore_command must be a string");
      o.restore_command = ese_checkpath(L, -1, "restore");   /* C would run it cut at a NUL byte */
    }
    lua_getfield(L, 3, "to_time");
    if (!lua_isnil(L, -1)) {
      /* seconds since the epoch, fractions allowed; to the microsecond */
      int isnum = lua_type(L, -1) == LUA_TNUMBER;   /* not a string that converts */
      lua_Number t = lua_tonumber(L, -1);
      luaL_argcheck(L, isnum, 3, "to_time must be a number (seconds since the epoch)");
      /* at least 1 us once rounded (0 is "no time"), before 10000-01-01 (util.TO_TIME_MAX) */
      luaL_argcheck(L, t * 1e6 >= 0.5 && t < TO_TIME_MAX, 3,
                    "to_time must be seconds since the epoch, after 1970-01-01 00:00:00 UTC and before the year 10000");
      o.to_time_us = (uint64_t)(t * 1e6 + 0.5);
    }
    lua_getfield(L, 3, "allow_partial");
    if (!lua_isnil(L, -1) && !lua_isboolean(L, -1)) return luaL_argerror(L, 3, "allow_partial must be a boolean");
    o.allow_partial = lua_toboolean(L, -1);
    if (o.allow_partial && !o.to_time_us) return luaL_argerror(L, 3, "allow_partial needs to_time");
    lua_getfield(L, 3, "overwrite");
    if (!lua_isnil(L, -1) && !lua_isboolean(L, -1)) return luaL_argerror(L, 3, "overwrite must be a boolean");
    o.overwrite = lua_toboolean(L, -1);
    lua_getfield(L, 3, "base_name");
    o.base_name = opt_path(L, "base_name");
    /* ese.restore's: the "timeline" of the sets' manifests (32 hex digits) */
    lua_getfield(L, 3, "parent_timeline");
    if (!lua_isnil(L, -1)) {
      size_t len = 0;
      const char *hex = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
      if (!ese_hex16(hex, len, parent_tl)) return luaL_argerror(L, 3, "parent_timeline must be 32 hexadecimal digits");
      o.parent_timeline = parent_tl;
    }
    lua_getfield(L, 3, "instance");
    if (!lua_isnil(L, -1)) {
      EseInstance *ei = (EseInstance *)luaL_testudata(L, -1, ESE_INSTANCE_T);
      if (!ei) return luaL_argerror(L, 3, "instance must be an ese.Instance");
      if (!ei->open) return ese_raise(L, JET_errInvalidInstance, "restore");
      o.instance = ei->inst;
      has_inst = lua_gettop(L);
    }
  }
  EseRestoreUd *u = lua_newuserdatauv(L, sizeof *u, 1);
  u->r = NULL;
  luaL_setmetatable(L, ESE_RESTORE_T);
  if (has_inst) {
    lua_pushvalue(L, has_inst);
    lua_setiuservalue(L, -2, 1);
  }
  EseRestore *r = NULL;
  char detail[512] = "";
  o.detail = detail;
  o.detail_cap = sizeof detail;
  JET_ERR e = EseRestoreBegin(&o, &r);
  if (e) return ese_raise_detail(L, e, "restore", detail);
  u->r = r;
  return 1;
}

/* r:step() -> done, total, finished */
static int restore_step(lua_State *L) {
  EseRestoreUd *u = torestore(L, 1);
  if (!u->r) return ese_raise(L, JET_errInvalidParameter, "restore");
  uint64_t done = 0, total = 0;
  int finished = 0;
  JET_ERR e = EseRestoreStep(u->r, &done, &total, &finished);
  if (e) {
    char detail[512];
    strncpy(detail, EseRestoreDetail(u->r), sizeof detail - 1);
    detail[sizeof detail - 1] = 0;
    EseRestoreEnd(u->r);
    u->r = NULL;
    return ese_raise_detail(L, e, "restore", detail);
  }
  lua_pushinteger(L, (lua_Integer)done);
  lua_pushinteger(L, (lua_Integer)total);
  lua_pushboolean(L, finished);
  return 3;
}

/* r:result() -> { last_generation, last_commit_time (seconds, or nil),
 * last_commit_time_us (the same, an integer count of microseconds: the
 * exact value the commit record carries), reached (boolean),
 * stopped_at_time (boolean), gap_generation (or nil), not_restored (or nil:
 * the databases the logs create or attach that no set holds), fetch_end (or
 * nil: why restore_command's fetching ended) }, once finished. */
static int restore_result(lua_State *L) {
  EseRestoreUd *u = torestore(L, 1);
  if (!u->r) return ese_raise(L, JET_errInvalidParameter, "restore");
  EseRestoreResult res;
  EseRestoreResultOf(u->r, &res);
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, (lua_Integer)res.last_generation);
  lua_setfield(L, -2, "last_generation");
  if (res.last_commit_us) {
    lua_pushnumber(L, (lua_Number)res.last_commit_us / 1e6);
    lua_setfield(L, -2, "last_commit_time");
    lua_pushinteger(L, (lua_Integer)res.last_commit_us);
    lua_setfield(L, -2, "last_commit_time_us");
  }
  lua_pushboolean(L, res.reached);
  lua_setfield(L, -2, "reached");
  lua_pushboolean(L, res.stopped_at_time);
  lua_setfield(L, -2, "stopped_at_time");
  if (res.gap_generation) {
    lua_pushinteger(L, (lua_Integer)res.gap_generation);
    lua_setfield(L, -2, "gap_generation");
  }
  const char *fetch_end = EseRestoreFetchEnd(u->r);
  if (*fetch_end) {   /* why restore_command's fetching ended */
    lua_pushstring(L, fetch_end);
    lua_setfield(L, -2, "fetch_end");
  }
  if (res.not_restored) {   /* { {path, name, how = "created" | "attached", generation}, ... } */
    lua_createtable(L, (int)res.not_restored, 0);
    for (unsigned long i = 0; i < res.not_restored; i++) {
      int created = 0;
      unsigned long gen = 0;
      const char *p = EseRestoreNotRestored(u->r, i, &created, &gen);
      if (!p) break;
      const char *slash = strrchr(p, '/');
      lua_createtable(L, 0, 4);
      lua_pushstring(L, p);
      lua_setfield(L, -2, "path");
      lua_pushstring(L, slash ? slash + 1 : p);
      lua_setfield(L, -2, "name");
      lua_pushstring(L, created ? "created" : "attached");
      lua_setfield(L, -2, "how");
      lua_pushinteger(L, (lua_Integer)gen);
      lua_setfield(L, -2, "generation");
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "not_restored");
  }
  return 1;
}

int ese_open_restore(lua_State *L) {
  static const luaL_Reg meta[] = { { "__gc", restore_close }, { "__close", restore_close }, { NULL, NULL } };
  static const luaL_Reg methods[] = { { "step", restore_step }, { "result", restore_result },
                                      { "close", restore_close }, { NULL, NULL } };
  ese_newclass(L, ESE_RESTORE_T, meta, methods);
  lua_pushcfunction(L, restore_begin);
  lua_setfield(L, -2, "restore_begin");
  return 0;
}
