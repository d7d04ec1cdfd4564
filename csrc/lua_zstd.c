/*
 * lua_zstd.c -- ese.zstd: the compressed files of a backup set (zst.h),
 * streaming both ways, for lua/ese/backup_run.lua and backup_verify.lua.
 *
 *   zstd.compressor(level, size [, tail]) -> ese.ZstdWriter for a file,
 *       compressed on a thread of its own (zst.h zst_async):
 *       w:write(chunk) -> the compressed bytes ready so far (maybe ""),
 *           after queuing chunk (waiting while ZST_ASYNC_DEPTH chunks are
 *           queued: the thread reads the string itself, which w keeps
 *           alive until the thread is done with it)
 *       w:flush() -> the compressed bytes ready so far, and true when the
 *           file is complete and they are its last (no waiting)
 *       w:finish() -> the last compressed bytes (waits for the thread)
 *       w:written(); w:close() (stops the thread)
 *   zstd.compressor(level) -> a plain zstd stream of any length (zst.h
 *       ZST_STREAM), compressed by libzstd's worker: write, finish,
 *       written, close as above (no flush)
 *   zstd.open(path) -> ese.ZstdReader (the layout checked)
 *       r:read(n) -> the next at most n bytes of the original, nil at its end
 *       r:size(), r:stored_size(), r:close()
 *   zstd.LEVEL_MIN, LEVEL_MAX, LEVEL_DEFAULT, zstd.version (libzstd's)
 *
 * Neither object touches an engine lock, and no C lock is held while Lua
 * runs: a backup's chunks go from the reader (which may yield between two
 * reads) through a writer as plain strings.  A level out of range, a tail
 * above the size or ZST_TAIL_MAX, more or fewer bytes than announced:
 * JET_errInvalidParameter; the compressor's failure: JET_errOutOfMemory; a
 * memory error while compressed bytes were handed out (they are lost): the
 * writer answers JET_errOutOfMemory from then on; a damaged file:
 * JET_errReadVerifyFailure naming what is wrong; wrong Lua types: argument
 * errors; an object used after close: JET_errInvalidParameter.
 */
#include <zstd.h>
#include "lua_ese.h"
#include "zst.h"

#define WRITER_T "ese.ZstdWriter"
#define READER_T "ese.ZstdReader"

/* w (a stream) or a (a file); pieces: the chunks queued to a, released:
 * those unanchored (user value 1, a table: chunk k at k % ANCHORS + 1
 * while a's thread may read it); lost: compressed bytes were lost to a
 * memory error. */
#define ANCHORS (ZST_ASYNC_DEPTH + 1)
typedef struct ZWriter {
  zst_writer *w;
  zst_async *a;
  uint64_t pieces, released;
  int lost;
} ZWriter;
typedef struct ZReader { zst_reader *z; esio *io; } ZReader;

static JET_ERR emit_buffer(void *ud, const void *p, size_t n) {
  luaL_addlstring((luaL_Buffer *)ud, p, n);
  return JET_errSuccess;
}

static ZWriter *checkwriter(lua_State *L, const char *op) {
  ZWriter *u = (ZWriter *)luaL_checkudata(L, 1, WRITER_T);
  if (!u->w && !u->a) ese_raise_detail(L, JET_errInvalidParameter, op, "the compressor is finished or closed");
  if (u->lost) ese_raise_detail(L, JET_errOutOfMemory, op, "compressed bytes were lost to a memory error");
  return u;
}

/* Drops the anchors of the chunks a's thread is done with (every one
 * when all): a chunk's slot holds it until a later chunk takes the slot. */
static void release(lua_State *L, ZWriter *u, int all) {
  uint64_t done = all ? u->pieces : zst_async_consumed(u->a);
  if (u->released >= done) return;
  lua_getiuservalue(L, 1, 1);
  for (; u->released < done; u->released++)
    if (u->released + ANCHORS >= u->pieces) {
      lua_pushnil(L);
      lua_rawseti(L, -2, (lua_Integer)(u->released % ANCHORS) + 1);
    }
  lua_pop(L, 1);
}

static int writer_close(lua_State *L) {
  ZWriter *u = (ZWriter *)luaL_checkudata(L, 1, WRITER_T);
  zst_writer_free(u->w);
  u->w = NULL;
  if (u->a) {
    zst_async_free(u->a);       /* the thread is joined: no chunk is read any more */
    u->a = NULL;
    release(L, u, 1);
  }
  return 0;
}

static int zstd_compressor(lua_State *L) {
  lua_Integer level = luaL_checkinteger(L, 1), tail = luaL_optinteger(L, 3, 0);
  int stream = lua_isnoneornil(L, 2);
  lua_Integer size = stream ? 0 : luaL_checkinteger(L, 2);
  ZWriter *u = (ZWriter *)lua_newuserdatauv(L, sizeof *u, 1);
  *u = (ZWriter){ 0 };
  luaL_setmetatable(L, WRITER_T);
  lua_createtable(L, ANCHORS, 0);
  lua_setiuservalue(L, -2, 1);
  if (level < ZST_LEVEL_MIN || level > ZST_LEVEL_MAX)
    return ese_raise_detail(L, JET_errInvalidParameter, "compressor",
                            lua_pushfstring(L, "zstd level %I is not in %d .. %d", level, ZST_LEVEL_MIN, ZST_LEVEL_MAX));
  if (size < 0 || tail < 0 || tail > size || tail > (lua_Integer)ZST_TAIL_MAX || (stream && tail))
    return ese_raise_detail(L, JET_errInvalidParameter, "compressor", "a size and a tail (0 .. 65536, at most the size)");
  JET_ERR e = stream ? zst_writer_new((int)level, ZST_STREAM, 0, &u->w)
                     : zst_async_new((int)level, (uint64_t)size, (uint32_t)tail, &u->a);
  if (e) return ese_raise(L, e, "compressor");
  return 1;
}

/* Pushes the compressed bytes a has ready (wait: all of them) as a
 * string; a's failure is returned (nothing pushed). */
static JET_ERR take(lua_State *L, ZWriter *u, int wait, int *complete) {
  const uint8_t *p;
  size_t n;
  JET_ERR e = zst_async_take(u->a, wait, &p, &n, complete);
  if (e) return e;
  u->lost = 1;                  /* until the bytes are a string on the stack */
  lua_pushlstring(L, (const char *)p, n);
  u->lost = 0;
  return JET_errSuccess;
}

static int raise_size(lua_State *L, JET_ERR e, const char *op, const char *what) {
  return ese_raise_detail(L, e, op, e == JET_errInvalidParameter ? what : NULL);
}

static int writer_write(lua_State *L) {
  ZWriter *u = checkwriter(L, "write");
  size_t n;
  const char *p = luaL_checklstring(L, 2, &n);
  JET_ERR e = JET_errSuccess;
  int complete;
  if (u->a) {
    release(L, u, 0);
    if (n) {
      lua_getiuservalue(L, 1, 1);   /* the chunk stays alive while the thread may read it */
      lua_pushvalue(L, 2);
      lua_rawseti(L, -2, (lua_Integer)(u->pieces % ANCHORS) + 1);
      lua_pop(L, 1);
      e = zst_async_put(u->a, p, n);
      if (e == JET_errSuccess) u->pieces++;
    }
    if (e == JET_errSuccess) e = take(L, u, 0, &complete);
  } else {
    luaL_Buffer b;
    u->lost = 1;
    luaL_buffinit(L, &b);
    e = zst_write(u->w, p, n, emit_buffer, &b);
    if (e == JET_errSuccess) luaL_pushresult(&b);
    u->lost = 0;
  }
  if (e) return raise_size(L, e, "write", "more bytes than the size the compressor was made for");
  return 1;
}

static int writer_flush(lua_State *L) {
  ZWriter *u = checkwriter(L, "flush");
  if (!u->a) return ese_raise_detail(L, JET_errInvalidParameter, "flush", "a stream has nothing to flush");
  int complete;
  JET_ERR e = take(L, u, 0, &complete);
  if (e) return ese_raise(L, e, "flush");
  lua_pushboolean(L, complete);
  return 2;
}

static int writer_finish(lua_State *L) {
  ZWriter *u = checkwriter(L, "finish");
  lua_settop(L, 1);
  JET_ERR e;
  if (u->a) {
    int complete;
    e = take(L, u, 1, &complete);
  } else {
    luaL_Buffer b;
    u->lost = 1;
    luaL_buffinit(L, &b);
    e = zst_finish(u->w, emit_buffer, &b);
    if (e == JET_errSuccess) luaL_pushresult(&b);
    u->lost = 0;
  }
  writer_close(L);              /* spent, whatever happened */
  if (e) return raise_size(L, e, "finish", "fewer bytes than the size announced");
  return 1;
}

static int writer_written(lua_State *L) {
  ZWriter *u = checkwriter(L, "written");
  lua_pushinteger(L, (lua_Integer)(u->a ? zst_async_written(u->a) : zst_written(u->w)));
  return 1;
}

static ZReader *checkreader(lua_State *L, const char *op) {
  ZReader *u = (ZReader *)luaL_checkudata(L, 1, READER_T);
  if (!u->z) ese_raise_detail(L, JET_errInvalidParameter, op, "the reader is closed");
  return u;
}

static int reader_close(lua_State *L) {
  ZReader *u = (ZReader *)luaL_checkudata(L, 1, READER_T);
  zst_close(u->z);
  u->z = NULL;
  if (u->io) esio_free(u->io);
  u->io = NULL;
  return 0;
}

static int zstd_open(lua_State *L) {
  const char *path = ese_checkpath(L, 1, "zstd.open");
  ZReader *u = (ZReader *)lua_newuserdatauv(L, sizeof *u, 0);
  u->z = NULL;
  u->io = NULL;
  luaL_setmetatable(L, READER_T);
  JET_ERR e = esio_new(&u->io);
  if (e) return ese_raise(L, e, "zstd.open");
  char detail[300];
  e = zst_open(u->io, path, &u->z, detail, sizeof detail);
  if (e) {
    lua_replace(L, 1);
    lua_settop(L, 1);
    reader_close(L);
    return ese_raise_detail(L, e, "zstd.open", detail[0] ? detail : path);
  }
  return 1;
}

static int reader_read(lua_State *L) {
  ZReader *u = checkreader(L, "read");
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_argcheck(L, n > 0 && n <= (1 << 30), 2, "a count of 1 .. 2^30 bytes");
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, (size_t)n);
  size_t got = 0;
  JET_ERR e = zst_read(u->z, p, (size_t)n, &got);
  if (e) return ese_raise_detail(L, e, "read", zst_detail(u->z));
  if (got == 0) {
    lua_pushnil(L);
    return 1;
  }
  luaL_pushresultsize(&b, got);
  return 1;
}

static int reader_size(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)zst_size(checkreader(L, "size")->z));
  return 1;
}

static int reader_stored_size(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)zst_stored_size(checkreader(L, "stored_size")->z));
  return 1;
}

int ese_open_zstd(lua_State *L) {
  static const luaL_Reg wmeta[] = { { "__gc", writer_close }, { "__close", writer_close }, { NULL, NULL } };
  static const luaL_Reg wmethods[] = { { "write", writer_write }, { "flush", writer_flush }, { "finish", writer_finish },
                                       { "written", writer_written }, { "close", writer_close }, { NULL, NULL } };
  static const luaL_Reg rmeta[] = { { "__gc", reader_close }, { "__close", reader_close }, { NULL, NULL } };
  static const luaL_Reg rmethods[] = { { "read", reader_read }, { "size", reader_size },
                                       { "stored_size", reader_stored_size }, { "close", reader_close },
                                       { NULL, NULL } };
  ese_newclass(L, WRITER_T, wmeta, wmethods);
  ese_newclass(L, READER_T, rmeta, rmethods);
  lua_createtable(L, 0, 6);
  lua_pushcfunction(L, zstd_compressor);
  lua_setfield(L, -2, "compressor");
  lua_pushcfunction(L, zstd_open);
  lua_setfield(L, -2, "open");
  lua_pushinteger(L, ZST_LEVEL_MIN);
  lua_setfield(L, -2, "LEVEL_MIN");
  lua_pushinteger(L, ZST_LEVEL_MAX);
  lua_setfield(L, -2, "LEVEL_MAX");
  lua_pushinteger(L, ZST_LEVEL_DEFAULT);
  lua_setfield(L, -2, "LEVEL_DEFAULT");
  lua_pushstring(L, ZSTD_versionString());
  lua_setfield(L, -2, "version");
  lua_setfield(L, -2, "zstd");
  return 0;
}
