/*
 * lua_check.c -- ese.file_info(path [, verify]): a database's or log's
 * header as a table, and with verify every checksum (raises the error
 * object of the first fault).  Used by ese.backup.verify and the CLI.
 */
#include <stdio.h>
#include "lua_ese.h"

static void push_sig(lua_State *L, const unsigned char *b, const char *field) {
  char hex[33];
  for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", b[i]);
  lua_pushstring(L, hex);
  lua_setfield(L, -2, field);
}

static void set_int(lua_State *L, const char *field, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, field);
}

static int file_info(lua_State *L) {
  const char *path = ese_checkpath(L, 1, "file_info");
  int verify = lua_toboolean(L, 2);
  EseFileInfo fi;
  char detail[600];
  JET_ERR e = EseGetFileInfo(path, verify, &fi, detail, sizeof detail);
  if (e) return ese_raise_detail(L, e, "file_info", detail);
  lua_createtable(L, 0, 16);
  static const char *const states[] = { "?", "clean", "dirty", "backup_copy", "restoring" };
  set_int(L, "page_size", (lua_Integer)fi.pageSize);
  push_sig(L, fi.logSignature, "log_signature");
  if (fi.kind == EseFileDatabase) {
    lua_pushliteral(L, "database");
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, states[fi.state <= 4 ? fi.state : 0]);
    lua_setfield(L, -2, "state");
    set_int(L, "pages", (lua_Integer)fi.pages);
    set_int(L, "gen_min", (lua_Integer)fi.genMin);
    set_int(L, "gen_max", (lua_Integer)fi.genMax);
    push_sig(L, fi.dbSignature, "db_signature");
    static const char *const kinds[] = { "full", "incremental", "differential", "copy", "current" };
    lua_createtable(L, 0, 5);
    for (int i = 0; i < 5; i++) {
      if (fi.backup[i].genLow == 0 && fi.backup[i].genHigh == 0) continue;
      lua_createtable(L, 0, 3);
      set_int(L, "gen_low", (lua_Integer)fi.backup[i].genLow);
      set_int(L, "gen_high", (lua_Integer)fi.backup[i].genHigh);
      set_int(L, "time_us", (lua_Integer)fi.backup[i].time);
      lua_setfield(L, -2, kinds[i]);
    }
    lua_setfield(L, -2, "backups");
  } else {
    lua_pushliteral(L, "log");
    lua_setfield(L, -2, "kind");
    set_int(L, "generation", (lua_Integer)fi.generation);
    set_int(L, "file_size", (lua_Integer)fi.fileSize);
    set_int(L, "created_us", (lua_Integer)fi.tmCreate);
    set_int(L, "prev_created_us", (lua_Integer)fi.tmPrevGen);
    set_int(L, "attached", (lua_Integer)fi.attached);
  }
  lua_pushboolean(L, verify);
  lua_setfield(L, -2, "verified");
  return 1;
}

int ese_open_check(lua_State *L) {
  lua_pushcfunction(L, file_info);
  lua_setfield(L, -2, "file_info");
  return 0;
}
