/*
 * lua_reader.c -- ese.Reader: one file (a database or a log) of a running
 * external backup, opened by JetOpenFile[Instance], read by
 * JetReadFile[Instance], closed by JetCloseFile[Instance].
 *
 *   r:size()            bytes the stream delivers (fixed at open)
 *   r:read(n)           the next chunk as a string, nil at the end
 *   r:chunks(n)         an iterator for a generic for (raises on error)
 *   r:copy_to(sink, n)  sink(chunk) or sink:write(chunk) per chunk; the sink
 *                       may yield (lua_callk); returns the bytes copied
 *   r:close()           also __close and __gc (idempotent)
 * n defaults to 1 MiB and must be a positive multiple of the instance page
 * size, else JET_errInvalidParameter (rule 9).
 *
 * Pacing (docs/backup.md): a chunk is read in pieces, each paid for first
 * with EseBackupPaceReserve and read with EseReadFileInstanceUnpaced.  When
 * the bucket says wait, the reader calls the application's wait function
 * (ese.set_pace_wait(fn): fn(seconds), through lua_callk, so that it may
 * yield to the application's scheduler: cqueues.sleep, a luv timer, ...)
 * and, once it returns, goes on where it stopped (its piece paid for, the
 * bytes of the chunk read so far kept in the userdata: fill, credit,
 * ready_ns).  Without one (DESIGN.md, Pacing: "a Lua reader inside a
 * coroutine waits by yielding, elsewhere by sleeping") a reader that may
 * yield yields (ese.pace_signal, seconds) itself, and one that may not
 * sleeps (pace_signal is a light userdata, never a string: a generator
 * that passes every value it resumes with on as a chunk fails loudly at
 * its first use, rather than writing a string as the data's bytes);
 * ese.set_pace_wait("sleep") makes every reader sleep.  A scheduler that
 * passes foreign yields up (cqueues) needs its own wait function.  No
 * engine lock is held while it waits.
 *
 * The reader keeps its instance object alive (user value 1; nil for a legacy
 * reader when no ese.init object exists) and its path (user value 2).
 * While its wait function runs, the coroutine that called it is user value
 * 3 (R->waiting): a call of that coroutine on the reader, or of one it
 * resumed meanwhile, is nested in the wait function and would wait again,
 * calling it again (Lua's "C stack overflow"): it raises
 * JET_errInvalidParameter (the reader is busy).  Once the wait function has
 * yielded, another coroutine may read on (the bytes read so far come
 * first).  The wait function runs in lua_pcallk, so that one that raises
 * leaves the reader not waiting (its error goes on).  Its
 * position lives in the userdata, so a copy_to continuation resumes where it
 * stopped.  No engine lock is ever held while Lua runs: every engine call
 * returns before the sink is called.
 *
 * The engine handle reaches C only while it is certainly ours: the reader is
 * open, its instance object is open and no later Begin has started another
 * backup on it (EseInstance.backup_epoch); otherwise the backup it belonged to is
 * over and the handle could name a file of the next one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lua_ese.h"
#include "pace.h"

#define DEFAULT_CHUNK ((lua_Integer)1 << 20)
#define BUF_ALIGN 4096

typedef struct EseReader {
  JET_HANDLE h;
  JET_INSTANCE inst;     /* the handle of user value 1 (0 for a legacy reader without one) */
  int open;              /* the engine handle is ours and not closed */
  int closed;            /* closed by r:close, __close or __gc */
  JET_ERR gone;          /* why the handle went away without a close */
  int legacy;            /* opened by ese.open_file: the instance-less calls */
  lua_Integer epoch;     /* the instance's backup_epoch at open */
  lua_Integer page;      /* the instance page size */
  uint64_t size, pos;    /* bytes of the stream, bytes delivered */
  size_t fill;           /* bytes of the stream read, not delivered yet (a chunk that stopped half-way) */
  uint64_t credit;       /* bytes paid to the pacer, not read yet */
  uint64_t ready_ns;     /* pace_now_ns() before which credit must not be read */
  int waiting;           /* its wait function runs (called by the thread in user value 3) */
  unsigned char *buf;    /* scratch read buffer, BUF_ALIGN-aligned */
  size_t cap;
} EseReader;

/* ---- accessors and state -------------------------------------------------- */

static EseReader *toreader(lua_State *L, int idx) {
  return (EseReader *)luaL_checkudata(L, idx, ESE_READER_T);
}

/* Forget the engine handle (closed, or dropped by the engine: err says
 * why, 0 for a close) and free the scratch buffer. */
static void release(EseReader *R, JET_ERR err) {
  R->open = 0;
  if (!R->gone) R->gone = err;
  free(R->buf);
  R->buf = NULL;
  R->cap = 0;
  R->fill = 0;
}

/* 1 while the backup this reader belongs to may still run: the instance
 * object (if any) is open and no later Begin went through the binding. */
static int backup_alive(lua_State *L, int idx, EseReader *R) {
  idx = lua_absindex(L, idx);
  lua_getiuservalue(L, idx, 1);
  int ok = 1;
  if (!lua_isnil(L, -1)) {
    EseInstance *I = (EseInstance *)luaL_testudata(L, -1, ESE_INSTANCE_T);
    ok = I && I->open && I->backup_epoch == R->epoch;
  }
  lua_pop(L, 1);
  return ok;
}

/* A reader not closed by its user (its handle may be gone). */
static EseReader *checkopen(lua_State *L, int idx, const char *op) {
  EseReader *R = toreader(L, idx);
  if (R->closed) ese_raise_detail(L, JET_errInvalidParameter, op, "the reader is closed");
  return R;
}

/* 1 when this call (of L) is nested in the reader's wait function: L is
 * the coroutine that called it, or one that coroutine resumed (a
 * coroutine with frames that is not running: "normal"). */
static int nested_in_wait(lua_State *L, int idx, EseReader *R) {
  if (!R->waiting) return 0;
  lua_getiuservalue(L, idx, 3);
  lua_State *w = lua_tothread(L, -1);
  lua_pop(L, 1);
  lua_Debug ar;
  return w && (w == L || (lua_status(w) == LUA_OK && lua_getstack(w, 0, &ar)));
}

/* A reader whose handle may go to C: not closed, the handle not dropped,
 * its backup still possibly running, not nested in its own wait function.
 * A dropped handle raises the error that dropped it, again. */
static EseReader *checkreader(lua_State *L, int idx, const char *op) {
  EseReader *R = checkopen(L, idx, op);
  if (nested_in_wait(L, idx, R))
    ese_raise_detail(L, JET_errInvalidParameter, op,
                     "the reader is busy: its pace wait function, which must not read it, is running");
  if (R->open && !backup_alive(L, idx, R)) release(R, JET_errNoBackup);
  if (!R->open)
    ese_raise_detail(L, R->gone ? R->gone : JET_errInvalidParameter, op,
                     R->gone == JET_errNoBackup ? "the backup of this reader has ended"
                                                : "the engine closed this file after an error");
  return R;
}

/* n (argument arg, default 1 MiB): a positive multiple of the page size. */
static lua_Integer chunk_size(lua_State *L, int arg, EseReader *R, const char *op) {
  if (lua_isnoneornil(L, arg)) return DEFAULT_CHUNK;
  if (lua_type(L, arg) != LUA_TNUMBER) luaL_typeerror(L, arg, "integer");
  int isint = 0;
  lua_Integer n = lua_tointegerx(L, arg, &isint);
  if (!isint) n = 0;
  if (n <= 0 || n % R->page != 0 || (lua_Unsigned)n > (lua_Unsigned)(unsigned long)-1) {
    lua_pushfstring(L, "the read size must be a positive multiple of the page size (%I)",
                    R->page);
    ese_raise_detail(L, JET_errInvalidParameter, op, lua_tostring(L, -1));
  }
  return n;
}

/* ---- engine calls ------------------------------------------------------------ */

static JET_ERR engine_read(EseReader *R, size_t at, unsigned long cb, unsigned long *got) {
  return EseReadFileInstanceUnpaced(R->legacy ? 0 : R->inst, R->h, R->buf + at, cb, got);
}

static JET_ERR engine_close(EseReader *R) {
  return R->legacy ? JetCloseFile(R->h) : JetCloseFileInstance(R->inst, R->h);
}

/* Errors after which the engine still holds the handle: the call was turned
 * away before reading (a stop, or the instance gate).  After any other
 * error the handle is gone: a database read error closes that file, a log
 * read error ends the backup (rule 10), no backup means no handle. */
static int handle_survives(JET_ERR err) {
  switch (err) {
    case JET_errBackupAbortByServer:
    case JET_errClientRequestToStopJetService:
    case JET_errTermInProgress:
    case JET_errRestoreInProgress:
    case JET_errInstanceUnavailable:
      return 1;
    default:
      return 0;
  }
}

/* Closes the reader at idx (idempotent): its handle goes to C only when it
 * is still ours.  Returns the engine's answer, or 0 when nothing reached C. */
static JET_ERR close_reader(lua_State *L, int idx, EseReader *R) {
  JET_ERR err = 0;
  if (R->closed) return 0;
  R->closed = 1;
  if (R->open && backup_alive(L, idx, R)) err = engine_close(R);
  release(R, 0);
  return err;
}

/* Makes room for cb bytes in the scratch buffer, keeping the R->fill
 * bytes it holds. */
static void reserve(lua_State *L, EseReader *R, size_t cb, const char *op) {
  if (R->cap >= cb) return;
  size_t want = (cb + BUF_ALIGN - 1) / BUF_ALIGN * BUF_ALIGN;
  void *p = NULL;
  if (posix_memalign(&p, BUF_ALIGN, want) != 0) ese_raise(L, JET_errOutOfMemory, op);
  if (R->fill) memcpy(p, R->buf, R->fill);
  free(R->buf);
  R->buf = (unsigned char *)p;
  R->cap = want;
}

/* Raises err of a read call, forgetting the handle when the engine did. */
static int read_failed(lua_State *L, EseReader *R, JET_ERR err, const char *op) {
  R->fill = 0;
  R->credit = 0;
  if (!handle_survives(err)) release(R, err);
  return ese_raise_inst(L, err, op, R->inst);
}

/* Reads the next chunk of at most n bytes of the reader (already checked
 * by checkreader): pushes it and returns 1, returns 0 at the end of the
 * stream, or NEED_YIELD when the pacer says wait and the caller may yield
 * (nothing pushed; the state is in R: call again after the yield).  The
 * engine is asked even at the end, so that a stopped or ended backup
 * answers with its error.  Raises the engine's error object. */
#define NEED_YIELD (-1)
#define PACE_WAIT_KEY "ese.pace_wait"   /* registry: the application's wait function */

/* How a paced reader waits when the bucket says so: through the wait
 * function, by a yield of its own (no wait function set, the running
 * coroutine may yield) or by sleeping (not in a coroutine, or "sleep"). */
static int pace_waits_in_lua(lua_State *L) {
  int t = lua_getfield(L, LUA_REGISTRYINDEX, PACE_WAIT_KEY);
  lua_pop(L, 1);
  return t == LUA_TFUNCTION || (t == LUA_TNIL && lua_isyieldable(L));
}

static int next_chunk(lua_State *L, EseReader *R, lua_Integer n, const char *op) {
  uint64_t left = R->size > R->pos ? R->size - R->pos : 0;
  uint64_t page = (uint64_t)R->page;
  uint64_t cb = (uint64_t)n;
  if (left < cb) cb = left ? (left + page - 1) / page * page : page;  /* same result, less memory */
  /* R->fill bytes of the stream were read by a call that stopped half-way
   * (its wait function raised, or yielded and this call came first): they
   * come first.  No more than cb go out; the rest stay for the next call. */
  if (R->fill >= cb) {
    lua_pushlstring(L, (const char *)R->buf, (size_t)cb);
    R->pos += cb;
    R->fill -= (size_t)cb;
    memmove(R->buf, R->buf + cb, R->fill);
    return 1;
  }
  reserve(L, R, (size_t)cb, op);
  JET_INSTANCE inst = R->legacy ? 0 : R->inst;
  while (R->fill < cb) {
    uint64_t now = pace_now_ns();
    if (R->credit && now < R->ready_ns) {
      if (pace_waits_in_lua(L)) return NEED_YIELD;
      pace_sleep_ns(R->ready_ns - now);
    }
    if (R->credit == 0) {
      unsigned long granted = 0;
      unsigned long long wait_us = 0;
      JET_ERR err = EseBackupPaceReserve(inst, (unsigned long)(cb - R->fill), &granted, &wait_us);
      if (err < 0) return read_failed(L, R, err, op);
      R->credit = granted ? granted : cb - R->fill;
      R->ready_ns = pace_now_ns() + wait_us * 1000u;
      continue;
    }
    uint64_t piece = R->credit < cb - R->fill ? R->credit : cb - R->fill;
    unsigned long got = 0;
    JET_ERR err = engine_read(R, R->fill, (unsigned long)piece, &got);
    if (err < 0) return read_failed(L, R, err, op);
    R->fill += got;
    R->credit = got < piece ? 0 : R->credit - got;   /* short: the end */
    if (got < piece) break;
  }
  size_t got = R->fill;
  if (got == 0) return 0;
  lua_pushlstring(L, (const char *)R->buf, got);
  R->fill = 0;
  R->pos += got;
  return 1;
}

/* ese.pace_signal: the first value a reader yields while it waits (its
 * address, unique in the process, whatever Lua state or reload). */
static const char pace_signal = 0;

/* ctx of a continuation after the wait function (PACE_WAITED) or after the
 * reader's own yield (0). */
#define PACE_WAITED 1

/* The start of every continuation of pace_yield (the reader at 1): after
 * the wait function, the reader waits no more; an error it raised (status,
 * the error on top) goes on. */
static void pace_resumed(lua_State *L, int status, lua_KContext ctx) {
  if (ctx != PACE_WAITED) return;
  EseReader *R = toreader(L, 1);
  lua_getiuservalue(L, 1, 3);
  if (lua_tothread(L, -1) == L) {        /* another coroutine may wait on it now */
    R->waiting = 0;
    lua_pushnil(L);
    lua_setiuservalue(L, 1, 3);
  }
  lua_pop(L, 1);
  if (status != LUA_OK && status != LUA_YIELD) lua_error(L);
}

/* For the C function (the reader at 1) that got NEED_YIELD: calls the wait
 * function (fn(seconds to wait)) or, without one, yields (ese.pace_signal,
 * seconds to wait); k continues it, after a yield or at once. */
static int pace_yield(lua_State *L, EseReader *R, lua_KFunction k) {
  uint64_t now = pace_now_ns();
  lua_Number secs = R->ready_ns > now ? (lua_Number)(R->ready_ns - now) / 1e9 : 0;
  if (lua_getfield(L, LUA_REGISTRYINDEX, PACE_WAIT_KEY) != LUA_TFUNCTION) {
    lua_pop(L, 1);
    lua_pushlightuserdata(L, (void *)&pace_signal);
    lua_pushnumber(L, secs);
    return lua_yieldk(L, 2, 0, k);
  }
  lua_pushnumber(L, secs);
  R->waiting = 1;
  lua_pushthread(L);
  lua_setiuservalue(L, 1, 3);
  return k(L, lua_pcallk(L, 1, 0, 0, PACE_WAITED, k), PACE_WAITED);
}

/* ese.set_pace_wait(fn | "sleep" | nil): how a paced reader waits:
 * fn(seconds), which may yield; "sleep": it sleeps; nil (the default): it
 * yields (ese.pace_signal, seconds) in a coroutine that may yield, else
 * sleeps.
 * One per Lua state; returns the previous one. */
static int set_pace_wait(lua_State *L) {
  if (lua_type(L, 1) == LUA_TSTRING) {
    if (strcmp(lua_tostring(L, 1), "sleep") != 0)
      return luaL_argerror(L, 1, "a function, \"sleep\" or nil expected");
  } else if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
  }
  lua_settop(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, PACE_WAIT_KEY);
  lua_pushvalue(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, PACE_WAIT_KEY);
  return 1;
}

/* ---- methods ------------------------------------------------------------------ */

static int r_size(lua_State *L) {
  EseReader *R = checkopen(L, 1, "size");
  lua_pushinteger(L, (lua_Integer)R->size);
  return 1;
}

/* r:tell() -> bytes delivered so far. */
static int r_tell(lua_State *L) {
  EseReader *R = checkopen(L, 1, "tell");
  lua_pushinteger(L, (lua_Integer)R->pos);
  return 1;
}

static int r_path(lua_State *L) {
  toreader(L, 1);
  lua_getiuservalue(L, 1, 2);
  return 1;
}

static int r_is_open(lua_State *L) {
  EseReader *R = toreader(L, 1);
  lua_pushboolean(L, !R->closed && R->open && backup_alive(L, 1, R));
  return 1;
}

/* r:read's body, its stack: 1 reader, 2 n (an integer). */
static int read_k(lua_State *L, int status, lua_KContext ctx) {
  pace_resumed(L, status, ctx);
  lua_settop(L, 2);
  EseReader *R = checkreader(L, 1, "read");
  int r = next_chunk(L, R, lua_tointeger(L, 2), "read");
  if (r == NEED_YIELD) return pace_yield(L, R, read_k);
  if (!r) luaL_pushfail(L);
  return 1;
}

static int r_read(lua_State *L) {
  EseReader *R = checkreader(L, 1, "read");
  lua_Integer n = chunk_size(L, 2, R, "read");
  lua_settop(L, 1);
  lua_pushinteger(L, n);
  return read_k(L, LUA_OK, 0);
}

/* The iterator of r:chunks(n): upvalues reader, n. */
static int chunks_iter(lua_State *L);
static int chunks_k(lua_State *L, int status, lua_KContext ctx) {
  pace_resumed(L, status, ctx);
  return chunks_iter(L);
}

static int chunks_iter(lua_State *L) {
  lua_settop(L, 0);
  lua_pushvalue(L, lua_upvalueindex(1));
  EseReader *R = checkreader(L, 1, "chunks");
  int r = next_chunk(L, R, lua_tointeger(L, lua_upvalueindex(2)), "chunks");
  if (r == NEED_YIELD) return pace_yield(L, R, chunks_k);
  if (!r) luaL_pushfail(L);
  return 1;
}

static int r_chunks(lua_State *L) {
  EseReader *R = checkreader(L, 1, "chunks");
  lua_Integer n = chunk_size(L, 2, R, "chunks");
  lua_settop(L, 1);
  lua_pushinteger(L, n);
  lua_pushcclosure(L, chunks_iter, 2);
  return 1;
}

/* copy_to keeps its state on the stack: 1 reader, 2 sink, 3 n, 4 total.
 * A sink call returns 2 values; "nil/false, message" (the io convention,
 * as a failed file:write returns) is a failure. */
static int copy_loop(lua_State *L);

static void copy_check_result(lua_State *L) {
  if (!lua_toboolean(L, 5) && !lua_isnil(L, 6)) {
    const char *msg = luaL_tolstring(L, 6, NULL);
    luaL_error(L, "copy_to: the sink failed: %s", msg);
  }
  lua_settop(L, 4);
}

static int copy_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  copy_check_result(L);
  return copy_loop(L);
}

static int copy_pace_k(lua_State *L, int status, lua_KContext ctx) {
  pace_resumed(L, status, ctx);
  lua_settop(L, 4);
  return copy_loop(L);
}

static int copy_loop(lua_State *L) {
  for (;;) {
    EseReader *R = checkreader(L, 1, "copy_to");
    int r = next_chunk(L, R, lua_tointeger(L, 3), "copy_to");
    if (r == NEED_YIELD) return pace_yield(L, R, copy_pace_k);
    if (!r) {
      lua_settop(L, 4);
      return 1;
    }
    lua_Integer total = lua_tointeger(L, 4) + (lua_Integer)lua_rawlen(L, 5);
    lua_pushinteger(L, total);
    lua_replace(L, 4);
    int nargs = 1;
    if (lua_isfunction(L, 2)) {
      lua_pushvalue(L, 2);
    } else {
      lua_getfield(L, 2, "write");
      lua_pushvalue(L, 2);
      nargs = 2;
    }
    lua_rotate(L, 5, -1);            /* the chunk goes last: f [self] chunk */
    lua_callk(L, nargs, 2, 0, copy_k);
    copy_check_result(L);
  }
}

static int r_copy_to(lua_State *L) {
  EseReader *R = checkreader(L, 1, "copy_to");
  int t = lua_type(L, 2);
  if (t != LUA_TFUNCTION) {
    int ok = 0;
    if (t == LUA_TTABLE || t == LUA_TUSERDATA) {
      lua_getfield(L, 2, "write");
      ok = !lua_isnil(L, -1);
      lua_pop(L, 1);
    }
    if (!ok) luaL_typeerror(L, 2, "function or object with a write method");
  }
  lua_Integer n = chunk_size(L, 3, R, "copy_to");
  lua_settop(L, 2);
  lua_pushinteger(L, n);
  lua_pushinteger(L, 0);
  return copy_loop(L);
}

/* r:close(): JetCloseFile[Instance] while the backup runs.  Idempotent.  An
 * engine answer that the handle is already gone (the backup ended, or the
 * engine dropped it after a read error) is not an error. */
static int r_close(lua_State *L) {
  EseReader *R = toreader(L, 1);
  JET_INSTANCE inst = R->inst;
  JET_ERR err = close_reader(L, 1, R);
  if (err < 0 && err != JET_errNoBackup && err != JET_errInvalidParameter)
    return ese_raise_inst(L, err, "close", inst);
  return 0;
}

/* __gc and __close: the same close, never raising. */
static int r_gc(lua_State *L) {
  EseReader *R = toreader(L, 1);
  (void)close_reader(L, 1, R);
  return 0;
}

static int r_tostring(lua_State *L) {
  EseReader *R = toreader(L, 1);
  if (R->closed) {
    lua_pushliteral(L, ESE_READER_T " (closed)");
  } else {
    lua_getiuservalue(L, 1, 2);
    lua_pushfstring(L, ESE_READER_T " (%s): %p", lua_tostring(L, -1), (void *)R);
  }
  return 1;
}

/* ---- opening ------------------------------------------------------------------ */

int ese_reader_open(lua_State *L, int iidx, int pidx, int legacy, const char *op) {
  iidx = iidx ? lua_absindex(L, iidx) : 0;
  pidx = lua_absindex(L, pidx);
  const char *path = lua_tostring(L, pidx);
  EseInstance *I = iidx ? (EseInstance *)luaL_testudata(L, iidx, ESE_INSTANCE_T) : NULL;
  EseReader *R = (EseReader *)lua_newuserdatauv(L, sizeof *R, 3);
  memset(R, 0, sizeof *R);
  luaL_setmetatable(L, ESE_READER_T);
  if (I) lua_pushvalue(L, iidx);
  else lua_pushnil(L);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, pidx);
  lua_setiuservalue(L, -2, 2);
  R->inst = I ? I->inst : 0;
  R->legacy = legacy;
  R->epoch = I ? I->backup_epoch : 0;
  JET_API_PTR page = 0;
  JET_ERR err = JetGetSystemParameter(R->inst, 0, JET_paramDatabasePageSize, &page, NULL, 0);
  if (err < 0) return ese_raise_inst(L, err, op, R->inst);
  R->page = page ? (lua_Integer)page : 8192;
  JET_HANDLE h = 0;
  unsigned long lo = 0, hi = 0;
  err = legacy ? JetOpenFile(path, &h, &lo, &hi) : JetOpenFileInstance(R->inst, path, &h, &lo, &hi);
  if (err < 0) return ese_raise_inst(L, err, op, R->inst);
  R->h = h;
  R->size = ((uint64_t)hi << 32) | (uint64_t)(lo & 0xFFFFFFFFul);
  R->open = 1;
  return 1;
}

static const luaL_Reg reader_meta[] = {
  {"__gc", r_gc},
  {"__close", r_gc},
  {"__tostring", r_tostring},
  {NULL, NULL}
};

static const luaL_Reg reader_methods[] = {
  {"size", r_size},
  {"tell", r_tell},
  {"path", r_path},
  {"is_open", r_is_open},
  {"read", r_read},
  {"chunks", r_chunks},
  {"copy_to", r_copy_to},
  {"close", r_close},
  {NULL, NULL}
};

int ese_open_reader(lua_State *L) {
  ese_newclass(L, ESE_READER_T, reader_meta, reader_methods);
  lua_pushcfunction(L, set_pace_wait);
  lua_setfield(L, -2, "set_pace_wait");
  lua_pushlightuserdata(L, (void *)&pace_signal);
  lua_setfield(L, -2, "pace_signal");
  return 0;
}
