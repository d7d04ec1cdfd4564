/*
 * lua_table.c -- ese.Table: a cursor on an ordered key/value table.
 * put, get (a whole value or a slice), delete, pairs(from, to, { reverse }),
 * first, last, seek, count, close.  Keys and values are Lua strings (binary
 * safe).
 *
 * A table keeps its session (user value 1) and database (user value 2)
 * alive and checks the database, its session and their instance before
 * each engine call.
 * pairs re-seeks on every step (GE from, then GT the last key; reverse: LE
 * to, then LT), each step one engine call (EseSeekRetrieve), so the loop
 * body may write to the table, use the same cursor, or yield.
 */
#include <string.h>
#include "lua_ese.h"

/* ---- accessors ------------------------------------------------------------- */

static EseTable *totable(lua_State *L, int idx) {
  return (EseTable *)luaL_checkudata(L, idx, ESE_TABLE_T);
}

/* The table's database is of its session (open_table_with), so the
 * database's chain covers the session and the instance too. */
static int table_alive(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  EseTable *T = (EseTable *)luaL_testudata(L, idx, ESE_TABLE_T);
  if (!T || !T->open) return 0;
  lua_getiuservalue(L, idx, 2);
  int ok = ese_database_alive(L, -1);
  lua_pop(L, 1);
  return ok;
}

static EseTable *checktable(lua_State *L, int idx, const char *op) {
  EseTable *T = totable(L, idx);
  if (!table_alive(L, idx)) ese_raise(L, JET_errInvalidTableId, op);
  return T;
}

EseTable *ese_newtable(lua_State *L, int sidx, int didx, JET_SESID sesid) {
  sidx = lua_absindex(L, sidx);
  didx = lua_absindex(L, didx);
  EseTable *T = (EseTable *)lua_newuserdatauv(L, sizeof *T, 2);
  T->tableid = JET_tableidNil;
  T->sesid = sesid;
  T->open = 0;
  luaL_setmetatable(L, ESE_TABLE_T);
  lua_pushvalue(L, sidx);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, didx);
  lua_setiuservalue(L, -2, 2);
  return T;
}

/* ---- retrieving ---------------------------------------------------------------- */

typedef JET_ERR (*retrieve_fn)(JET_SESID, JET_TABLEID, void *, size_t, size_t *);

/* Pushes the current record's key or value.  Small fields take one call
 * into a local buffer; larger ones go straight into a luaL_Buffer of the
 * size the first call reported (again if the record grew in between). */
static JET_ERR push_field(lua_State *L, EseTable *T, retrieve_fn fn) {
  char small[256];
  size_t actual = 0;
  JET_ERR err = fn(T->sesid, T->tableid, small, sizeof small, &actual);
  if (err < 0) return err;
  if (actual <= sizeof small) {
    lua_pushlstring(L, small, actual);
    return 0;
  }
  for (;;) {
    luaL_Buffer b;
    size_t cb = actual;
    char *p = luaL_buffinitsize(L, &b, cb);
    err = fn(T->sesid, T->tableid, p, cb, &actual);
    if (err >= 0 && actual <= cb) {
      luaL_pushresultsize(&b, actual);
      return 0;
    }
    luaL_pushresultsize(&b, 0);
    lua_pop(L, 1);
    if (err < 0) return err;
  }
}

/* memcmp order, the shorter first on a tie (the engine's key order). */
static int keycmp(const char *a, size_t la, const char *b, size_t lb) {
  int c = memcmp(a, b, la < lb ? la : lb);
  if (c) return c;
  return la < lb ? -1 : la > lb;
}

/* ---- methods ----------------------------------------------------------------- */

/* The key argument of put, get and delete: a string of 1 .. EseMaxKeySize
 * bytes.  The empty key raises JET_errInvalidParameter here, with a detail
 * that says so (the engine's refusal carries none). */
static const char *checkkey(lua_State *L, int idx, size_t *kl, const char *op) {
  const char *k = luaL_checklstring(L, idx, kl);
  if (*kl == 0) ese_raise_detail(L, JET_errInvalidParameter, op, "the key is empty: a key is 1 .. 255 bytes");
  return k;
}

static int tab_put(lua_State *L) {
  EseTable *T = checktable(L, 1, "put");
  size_t kl, vl;
  luaL_checklstring(L, 2, &kl);
  const char *v = luaL_checklstring(L, 3, &vl);
  const char *k = checkkey(L, 2, &kl, "put");   /* the argument errors first */
  JET_ERR err = EsePut(T->sesid, T->tableid, k, kl, v, vl);
  if (err < 0) return ese_raise_ses(L, err, "put", T->sesid);
  return ese_warning(L, err, "put");   /* outside a transaction it commits: JET_wrnArchiveBacklog */
}

/* Pushes length bytes (fewer at the end) of the value of key k from byte
 * off on (EseRetrieveSlice: only the pages of the slice are read).  The
 * first call asks the size; when the value grew between the two calls (a
 * commit of another thread) and the buffer took less than was asked, it
 * asks again. */
static JET_ERR push_slice(lua_State *L, EseTable *T, const char *k, size_t kl, size_t off, size_t length) {
  size_t left = 0;
  JET_ERR err = EseRetrieveSlice(T->sesid, T->tableid, k, kl, off, NULL, 0, &left);
  for (;;) {
    if (err < 0) return err;
    size_t n = left < length ? left : length, now = 0;
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, n ? n : 1);
    err = n ? EseRetrieveSlice(T->sesid, T->tableid, k, kl, off, p, n, &now) : 0;
    if (err >= 0 && n && now > n && n < length) {   /* grew meanwhile: the buffer was short */
      luaL_pushresultsize(&b, 0);
      lua_pop(L, 1);
      left = now;
      continue;
    }
    luaL_pushresultsize(&b, err < 0 ? 0 : n && now < n ? now : n);
    return err < 0 ? err : 0;
  }
}

/* t:get(key [, offset [, length]]) -> the value (a slice of it from the
 * 0-based offset: length bytes, fewer or none past its end), or nil. */
static int tab_get(lua_State *L) {
  EseTable *T = checktable(L, 1, "get");
  size_t kl;
  const char *k = checkkey(L, 2, &kl, "get");
  int slice = !lua_isnoneornil(L, 3) || !lua_isnoneornil(L, 4);
  lua_Integer off = luaL_optinteger(L, 3, 0), len = luaL_optinteger(L, 4, LUA_MAXINTEGER);
  luaL_argcheck(L, off >= 0, 3, "offset must be >= 0");
  luaL_argcheck(L, len >= 0, 4, "length must be >= 0");
  JET_ERR err = slice ? push_slice(L, T, k, kl, (uint64_t)off > SIZE_MAX ? SIZE_MAX : (size_t)off,
                                    (uint64_t)len > SIZE_MAX ? SIZE_MAX : (size_t)len)
                      : EseSeek(T->sesid, T->tableid, k, kl, JET_bitSeekEQ);
  if (err == JET_errRecordNotFound) {
    lua_pushnil(L);
    return 1;
  }
  if (err >= 0 && !slice) err = push_field(L, T, EseRetrieveValue);
  if (err < 0) return ese_raise_ses(L, err, "get", T->sesid);
  return 1;
}

static int tab_delete(lua_State *L) {
  EseTable *T = checktable(L, 1, "delete");
  size_t kl;
  const char *k = checkkey(L, 2, &kl, "delete");
  JET_ERR err = EseDelete(T->sesid, T->tableid, k, kl);
  if (err < 0) return ese_raise_ses(L, err, "delete", T->sesid);
  return ese_warning(L, err, "delete");   /* outside a transaction it commits: JET_wrnArchiveBacklog */
}

/* Seeks (EseSeekRetrieve: one engine call) and pushes key and value; 0
 * pushed when no record qualifies.  A field longer than the buffers here is
 * fetched by push_field. */
static int seek_push(lua_State *L, EseTable *T, const char *key, size_t klen, JET_GRBIT grbit, const char *op) {
  char kbuf[EseMaxKeySize + 1], vbuf[1024];
  size_t kl = 0, vl = 0;
  JET_ERR err = EseSeekRetrieve(T->sesid, T->tableid, key, klen, grbit, kbuf, sizeof kbuf, &kl, vbuf, sizeof vbuf, &vl);
  if (err == JET_errRecordNotFound) return 0;
  if (err < 0) return ese_raise_ses(L, err, op, T->sesid);
  if (kl <= sizeof kbuf) lua_pushlstring(L, kbuf, kl);
  else err = push_field(L, T, EseRetrieveKey);
  if (err >= 0 && vl <= sizeof vbuf) lua_pushlstring(L, vbuf, vl);
  else if (err >= 0) err = push_field(L, T, EseRetrieveValue);
  if (err < 0) return ese_raise_ses(L, err, op, T->sesid);
  return 2;
}

/* The state of a pairs iterator (its upvalue 1, a userdata whose user
 * values keep alive the table object, from and to).  The table's chain
 * (its database, session and instance objects: user values set at
 * creation, never replaced) is kept as pointers, so a step checks that
 * they are all open, as checktable does, without a Lua call; the bounds
 * point into their Lua strings, which never move while referenced. */
typedef struct IterState {
  EseTable *T;
  const EseDatabase *D;
  const EseSession *S;
  const EseInstance *I;
  const char *from, *to;          /* NULL: open end */
  size_t fl, tl, lastlen;
  int reverse, started, done;
  char last[EseMaxKeySize];       /* the key returned last */
} IterState;

/* The iterator of pairs.  Forward: GE from (the first record without
 * from), then GT the last key, until a key above to.  Reverse: LE to (the
 * last record without to), then LT the last key, until a key below from.
 * Each step seeks from the key it returned last, in one engine call
 * (EseSeekRetrieve), so the loop body may write, use the table or yield;
 * it sees what a seek sees at that moment. */
static int tab_iter(lua_State *L) {
  IterState *it = (IterState *)lua_touserdata(L, lua_upvalueindex(1));
  if (it->done) return 0;
  EseTable *T = it->T;
  if (!(T->open && it->D->open && it->S->open && it->I->open)) ese_raise(L, JET_errInvalidTableId, "pairs");
  int rev = it->reverse, got;
  const char *start = rev ? it->to : it->from, *bound = rev ? it->from : it->to;
  size_t sl = rev ? it->tl : it->fl, bl = rev ? it->fl : it->tl;
  /* either bound over EseMaxKeySize, as a seek or EseCount of it would */
  if (!it->started && (it->fl > EseMaxKeySize || it->tl > EseMaxKeySize)) ese_raise(L, JET_errKeyTooBig, "pairs");
  if (it->started) got = seek_push(L, T, it->last, it->lastlen, rev ? JET_bitSeekLT : JET_bitSeekGT, "pairs");
  else if (rev && start && sl == 0) got = 0;      /* to = "": no key lies at or below it */
  else got = seek_push(L, T, start ? start : "", sl, rev ? JET_bitSeekLE : JET_bitSeekGE, "pairs");
  size_t kl = 0;
  const char *key = got ? lua_tolstring(L, -2, &kl) : NULL;
  if (key && bound) {
    int c = keycmp(key, kl, bound, bl);
    if (rev ? c < 0 : c > 0) got = 0;
  }
  if (!got) {
    it->done = 1;
    return 0;
  }
  if (kl > sizeof it->last) ese_raise(L, JET_errDatabaseCorrupted, "pairs");   /* keys are at most EseMaxKeySize */
  memcpy(it->last, key, kl);
  it->lastlen = kl;
  it->started = 1;
  return 2;
}

static const EseFlag pairs_flags[] = { { "reverse", 1 }, { NULL, 0 } };

/* t:pairs([from [, to [, { reverse = true }]]]) -> iterator for a generic
 * for, in key order (reverse: descending) over [from, to] (both included;
 * nil = open end; from > to: nothing). */
static int tab_pairs(lua_State *L) {
  EseTable *T = checktable(L, 1, "pairs");
  size_t fl = 0, tl = 0;
  const char *from = luaL_optlstring(L, 2, NULL, &fl);
  const char *to = luaL_optlstring(L, 3, NULL, &tl);
  if (!lua_isnoneornil(L, 4)) luaL_checktype(L, 4, LUA_TTABLE);
  int rev = ese_optflags(L, 4, pairs_flags, 0, NULL) != 0;
  lua_settop(L, 3);
  IterState *it = (IterState *)lua_newuserdatauv(L, sizeof *it, 3);
  memset(it, 0, sizeof *it);
  it->T = T;
  it->from = from, it->fl = fl;
  it->to = to, it->tl = tl;
  it->reverse = rev;
  for (int i = 1; i <= 3; i++) {  /* keep the table and the bounds alive */
    lua_pushvalue(L, i);
    lua_setiuservalue(L, -2, i);
  }
  lua_getiuservalue(L, 1, 2);     /* the chain, alive (checktable) */
  it->D = (const EseDatabase *)lua_touserdata(L, -1);
  lua_getiuservalue(L, -1, 1);
  it->S = (const EseSession *)lua_touserdata(L, -1);
  lua_getiuservalue(L, -1, 1);
  it->I = (const EseInstance *)lua_touserdata(L, -1);
  lua_pop(L, 3);
  lua_pushcclosure(L, tab_iter, 1);
  return 1;
}

/* t:first() / t:last() -> key, value, or nil when the table is empty. */
static int first_last(lua_State *L, JET_GRBIT grbit, const char *op) {
  EseTable *T = checktable(L, 1, op);
  int n = seek_push(L, T, "", 0, grbit, op);
  if (n == 0) lua_pushnil(L);
  return n ? n : 1;
}
static int tab_first(lua_State *L) { return first_last(L, JET_bitSeekGE, "first"); }
static int tab_last(lua_State *L) { return first_last(L, JET_bitSeekLE, "last"); }

/* t:seek(key, op) -> key, value or nil.  op "eq" | "ge" | "gt" | "le" | "lt"
 * (default "ge").  The empty key lies below every key: "ge" / "gt" give
 * the first record, "eq" / "le" / "lt" nil. */
static int tab_seek(lua_State *L) {
  static const char *const names[] = { "eq", "ge", "gt", "le", "lt", NULL };
  static const JET_GRBIT bits[] = { JET_bitSeekEQ, JET_bitSeekGE, JET_bitSeekGT, JET_bitSeekLE, JET_bitSeekLT };
  EseTable *T = checktable(L, 1, "seek");
  size_t kl;
  const char *k = luaL_checklstring(L, 2, &kl);
  JET_GRBIT grbit = bits[luaL_checkoption(L, 3, "ge", names)];
  int n = kl == 0 && (grbit == JET_bitSeekEQ || grbit == JET_bitSeekLE || grbit == JET_bitSeekLT)
              ? 0 : seek_push(L, T, k, kl, grbit, "seek");
  if (n == 0) lua_pushnil(L);
  return n ? n : 1;
}

/* t:count([from [, to]]) -> the number of records pairs(from, to) gives. */
static int tab_count(lua_State *L) {
  EseTable *T = checktable(L, 1, "count");
  size_t fl = 0, tl = 0;
  const char *from = luaL_optlstring(L, 2, NULL, &fl);
  const char *to = luaL_optlstring(L, 3, NULL, &tl);
  uint64_t n = 0;
  JET_ERR err = EseCount(T->sesid, T->tableid, from, fl, to, tl, &n);
  if (err < 0) return ese_raise_ses(L, err, "count", T->sesid);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

/* __gc and __close: closes the cursor when its session still lives, also
 * when its database object was closed first: the cursor is the session's,
 * which would keep it (and the record it read last, a long value whole)
 * until the session ends. */
static int tab_gc(lua_State *L) {
  EseTable *T = totable(L, 1);
  if (T->open) {
    lua_getiuservalue(L, 1, 1);
    int alive = ese_session_alive(L, -1);
    lua_pop(L, 1);
    T->open = 0;
    if (alive) (void)EseCloseTable(T->sesid, T->tableid);
  }
  return 0;
}

static int tab_close(lua_State *L) {
  EseTable *T = checktable(L, 1, "close");
  T->open = 0;
  JET_ERR err = EseCloseTable(T->sesid, T->tableid);
  if (err < 0) return ese_raise_ses(L, err, "close", T->sesid);
  return 0;
}

static int tab_is_open(lua_State *L) {
  totable(L, 1);
  lua_pushboolean(L, table_alive(L, 1));
  return 1;
}

static int tab_tostring(lua_State *L) {
  EseTable *T = totable(L, 1);
  if (!table_alive(L, 1)) lua_pushliteral(L, ESE_TABLE_T " (closed)");   /* or its database, session, instance */
  else lua_pushfstring(L, ESE_TABLE_T ": %p", (void *)T);
  return 1;
}

static const luaL_Reg tab_meta[] = {
  {"__gc", tab_gc},
  {"__close", tab_gc},
  {"__tostring", tab_tostring},
  {NULL, NULL}
};

static const luaL_Reg tab_methods[] = {
  {"put", tab_put},
  {"get", tab_get},
  {"delete", tab_delete},
  {"pairs", tab_pairs},
  {"first", tab_first},
  {"last", tab_last},
  {"seek", tab_seek},
  {"count", tab_count},
  {"close", tab_close},
  {"is_open", tab_is_open},
  {NULL, NULL}
};

int ese_open_table(lua_State *L) {
  ese_newclass(L, ESE_TABLE_T, tab_meta, tab_methods);
  return 0;
}
