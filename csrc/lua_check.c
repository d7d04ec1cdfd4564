/*
 * lua_check.c -- ese.file_info(path [, verify]): a database's or log's
 * header as a table, and with verify every checksum (raises the error
 * object of the first fault).  Used by ese.backup.verify and the CLI.
 * ese.log_follows(a, b): the log-chain rule of log_reader.c (log_follows)
 * over two such tables of log files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lua_ese.h"
#include "log.h"
#include "dbheader.h"
#include "check.h"

static void push_sig(lua_State *L, const unsigned char *b, const char *field) {
  ese_push_hex16(L, b);
  lua_setfield(L, -2, field);
}

static void set_int(lua_State *L, const char *field, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, field);
}

/* The databases a log's records create or attach, or its header's attach
 * table lists (check_file_info's check_dbs),
 * gathered in C first, in a userdata whose __gc frees them: a Lua error
 * (the raise below, or memory while they are pushed) leaves nothing
 * behind. */
typedef struct logdb { char *path, *rel; unsigned char sig[16]; int created; uint64_t lsn; } logdb;
typedef struct logdbs { logdb *v; size_t n; } logdbs;

static JET_ERR note_db(void *ud, const struct log_attach *a, int created, uint64_t lsn) {
  logdbs *l = ud;
  logdb *nv = realloc(l->v, (l->n + 1) * sizeof *nv);
  if (!nv) return JET_errOutOfMemory;
  l->v = nv;
  nv[l->n].rel = NULL;
  if (!(nv[l->n].path = strdup(a->path))) return JET_errOutOfMemory;
  if (a->rel && a->rel[0] && !(nv[l->n].rel = strdup(a->rel))) {
    free(nv[l->n].path);
    return JET_errOutOfMemory;
  }
  memcpy(nv[l->n].sig, a->sig, 16);
  nv[l->n].created = created;
  nv[l->n].lsn = lsn;
  l->n++;
  return JET_errSuccess;
}

static void free_logdbs(logdbs *l) {
  for (size_t i = 0; i < l->n; i++) {
    free(l->v[i].path);
    free(l->v[i].rel);
  }
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

static int logdbs_gc(lua_State *L) {
  free_logdbs(lua_touserdata(L, 1));
  return 0;
}

/* The userdata of a log's databases (logdbs), on the stack: whatever
 * raises later frees them (__gc). */
static logdbs *new_logdbs(lua_State *L) {
  logdbs *l = lua_newuserdatauv(L, sizeof *l, 0);
  l->v = NULL;
  l->n = 0;
  if (luaL_newmetatable(L, "ese.logdbs")) {
    lua_pushcfunction(L, logdbs_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return l;
}

/* With header 0: t.databases = { {path, relative, db_signature, how =
 * "created" | "attached", generation, offset}, ... } of l; with header 1:
 * t.attach_table = { {path, relative, db_signature}, ... } (the log
 * header's attach table).  t: the file's table (an absolute index).
 * relative: the path relative to the log folder the log recorded, nil
 * when unknown.  l's entries freed now, not at the next collection. */
static void push_log_databases(lua_State *L, int t, logdbs *l, int header) {
  lua_createtable(L, (int)l->n, 0);
  for (size_t i = 0; i < l->n; i++) {
    lua_createtable(L, 0, 6);
    lua_pushstring(L, l->v[i].path);
    lua_setfield(L, -2, "path");
    if (l->v[i].rel) {
      lua_pushstring(L, l->v[i].rel);
      lua_setfield(L, -2, "relative");
    }
    push_sig(L, l->v[i].sig, "db_signature");
    if (!header) {
      lua_pushstring(L, l->v[i].created ? "created" : "attached");
      lua_setfield(L, -2, "how");
      set_int(L, "generation", (lua_Integer)LSN_GEN(l->v[i].lsn));
      set_int(L, "offset", (lua_Integer)LSN_OFF(l->v[i].lsn));
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, t, header ? "attach_table" : "databases");
  free_logdbs(l);
}

static int file_info(lua_State *L) {
  const char *path = ese_checkpath(L, 1, "file_info");
  int verify = lua_toboolean(L, 2);
  /* a log's databases: its header's attach table, and (with verify) its
   * records', from the bytes its checks read: the file is read once */
  check_dbs dbs = { .fn = note_db, .header = new_logdbs(L), .records = verify ? new_logdbs(L) : NULL };
  EseFileInfo fi;
  memset(&fi, 0, sizeof fi);
  char detail[600] = "";
  JET_ERR e = check_file_info(path, verify, &fi, &dbs, detail, sizeof detail);
  if (e == JET_errLogFileCorrupt && fi.logEndRecord == 0) {   /* a closed generation without its end record */
    ese_push_error(L, e, "file_info", detail);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "end_record");
    return lua_error(L);
  }
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
    set_int(L, "format_version", (lua_Integer)fi.formatVersion);
    set_int(L, "dbtime_last", (lua_Integer)fi.dbtimeLast);
    set_int(L, "gen_min", (lua_Integer)fi.genMin);
    set_int(L, "gen_max", (lua_Integer)fi.genMax);
    push_sig(L, fi.dbSignature, "db_signature");
    if (fi.replayGen) {   /* a streamed copy: where its replay starts */
      set_int(L, "replay_generation", (lua_Integer)fi.replayGen);
      set_int(L, "replay_offset", (lua_Integer)fi.replayOffset);
    }
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
    if (fi.logEndRecord >= 0) {   /* verified, with the end-record bit */
      lua_pushboolean(L, fi.logEndRecord);
      lua_setfield(L, -2, "end_record");
    }
    push_log_databases(L, lua_gettop(L), dbs.header, 1);
    if (verify) push_log_databases(L, lua_gettop(L), dbs.records, 0);
  }
  if (fi.compressed) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "compressed");
    set_int(L, "stored_size", (lua_Integer)fi.storedSize);
  }
  lua_pushboolean(L, verify);
  lua_setfield(L, -2, "verified");
  return 1;
}

/* verify_pages(name, chunk, first_page, page_size, file_size [, copy_signature
 * [, dbtime_last]]) -> true: EseVerifyPages over a chunk the caller read
 * (and hashed), then, given dbtime_last, the dbtime rule of its pages
 * (dbheader_check_dbtimes), so
 * that ese.backup.verify checks a large database in bounded steps with
 * one read of each byte.  copy_signature: the db_signature (32 hex
 * digits) of a streamed backup copy.  Raises the error object of the
 * first fault (op "verify"). */
static int verify_pages(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  size_t cb;
  const char *chunk = luaL_checklstring(L, 2, &cb);
  lua_Integer first = luaL_checkinteger(L, 3), ps = luaL_checkinteger(L, 4), size = luaL_checkinteger(L, 5);
  size_t hexlen = 0;
  const char *hex = luaL_optlstring(L, 6, NULL, &hexlen);
  unsigned char sig[16];
  luaL_argcheck(L, !hex || ese_hex16(hex, hexlen, sig), 6, "a signature of 32 hex digits");
  luaL_argcheck(L, first >= 0 && first <= (lua_Integer)UINT32_MAX, 3, "a page number");
  luaL_argcheck(L, ps > 0 && ps <= 65536, 4, "a page size");
  luaL_argcheck(L, size >= 0, 5, "a file size");
  int bounded = !lua_isnoneornil(L, 7);
  lua_Integer bound = bounded ? luaL_checkinteger(L, 7) : 0;
  luaL_argcheck(L, bound >= 0, 7, "a dbtime");
  char detail[600];
  detail[0] = 0;
  JET_ERR e = EseVerifyPages(chunk, cb, (unsigned long)ps, (unsigned long)first, (uint64_t)size, hex ? sig : NULL,
                             name, detail, sizeof detail);
  if (e == JET_errSuccess && bounded)
    e = dbheader_check_dbtimes((const uint8_t *)chunk, (uint32_t)ps, (uint32_t)first, (uint32_t)(cb / (size_t)ps),
                               (uint64_t)bound, name, detail, sizeof detail);
  if (e) return ese_raise_detail(L, e, "verify", detail[0] ? detail : name);
  lua_pushboolean(L, 1);
  return 1;
}

/* One integer field of the table at arg, as an unsigned 64-bit value;
 * a missing or non-integer field is an argument error. */
static uint64_t int_field(lua_State *L, int arg, const char *field) {
  lua_getfield(L, arg, field);
  int ok;
  lua_Integer v = lua_tointegerx(L, -1, &ok);
  lua_pop(L, 1);
  if (!ok || v < 0) luaL_argerror(L, arg, lua_pushfstring(L, "field '%s' must be a non-negative integer", field));
  return (uint64_t)v;
}

static void header_of(lua_State *L, int arg, log_header *h) {
  luaL_checktype(L, arg, LUA_TTABLE);
  memset(h, 0, sizeof *h);
  uint64_t gen = int_field(L, arg, "generation");
  luaL_argcheck(L, gen <= UINT32_MAX, arg, "generation out of range");
  h->gen = (uint32_t)gen;
  h->tm_create = int_field(L, arg, "created_us");
  h->tm_prev_gen = int_field(L, arg, "prev_created_us");
}

/* log_follows(a, b) -> boolean: whether log b (a table with generation,
 * created_us, prev_created_us: ese.file_info of a log) is the generation
 * after log a and was created as its successor. */
static int follows(lua_State *L) {
  log_header a, b;
  header_of(L, 1, &a);
  header_of(L, 2, &b);
  lua_pushboolean(L, log_follows(&a, &b));
  return 1;
}

int ese_open_check(lua_State *L) {
  lua_pushcfunction(L, follows);
  lua_setfield(L, -2, "log_follows");
  lua_pushcfunction(L, file_info);
  lua_setfield(L, -2, "file_info");
  lua_pushcfunction(L, verify_pages);
  lua_setfield(L, -2, "verify_pages");
  return 0;
}
