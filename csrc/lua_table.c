/*
 * lua_table.c -- ese.Table: a cursor on an ordered key/value table.
 * put, get, delete, pairs(from, to), close.  Keys and values are Lua strings
 * (binary safe).
 *
 * A table keeps its session (user value 1) and database (user value 2)
 * alive and checks the database, its session and their instance before
 * each engine call.
 * pairs re-seeks on every step (GE from, then GT the last key), so the loop
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

static int tab_put(lua_State *L) {
  EseTable *T = checktable(L, 1, "put");
  size_t kl, vl;
  const char *k = luaL_checklstring(L, 2, &kl);
  const char *v = luaL_checklstring(L, 3, &vl);
  JET_ERR err = EsePut(T->sesid, T->tableid, k, kl, v, vl);
  if (err < 0) return ese_raise_ses(L, err, "put", T->sesid);
  return ese_warning(L, err, "put");   /* outside a transaction it commits: JET_wrnArchiveBacklog */
}

static int tab_get(lua_State *L) {
  EseTable *T = checktable(L, 1, "get");
  size_t kl;
  const char *k = luaL_checklstring(L, 2, &kl);
  JET_ERR err = EseSeek(T->sesid, T->tableid, k, kl, JET_bitSeekEQ);
  if (err == JET_errRecordNotFound) {
    lua_pushnil(L);
    return 1;
  }
  if (err >= 0) err = push_field(L, T, EseRetrieveValue);
  if (err < 0) return ese_raise_ses(L, err, "get", T->sesid);
  return 1;
}

static int tab_delete(lua_State *L) {
  EseTable *T = checktable(L, 1, "delete");
  size_t kl;
  const char *k = luaL_checklstring(L, 2, &kl);
  JET_ERR err = EseDelete(T->sesid, T->tableid, k, kl);
  if (err < 0) return ese_raise_ses(L, err, "delete", T->sesid);
  return ese_warning(L, err, "delete");   /* outside a transaction it commits: JET_wrnArchiveBacklog */
}

/* The iterator of pairs.  Upvalues: 1 the table object, 2 from (or nil),
 * 3 to (or nil), 4 the last key returned (nil before the first step),
 * 5 true once the range is exhausted. */
static int tab_iter(lua_State *L) {
  if (lua_toboolean(L, lua_upvalueindex(5))) return 0;
  lua_settop(L, 0);
  lua_pushvalue(L, lua_upvalueindex(1));
  EseTable *T = checktable(L, 1, "pairs");
  size_t len = 0;
  JET_ERR err;
  const char *last = lua_tolstring(L, lua_upvalueindex(4), &len);
  if (last) {
    err = EseSeek(T->sesid, T->tableid, last, len, JET_bitSeekGT);
  } else {
    const char *from = lua_tolstring(L, lua_upvalueindex(2), &len);
    err = EseSeek(T->sesid, T->tableid, from ? from : "", from ? len : 0, JET_bitSeekGE);
  }
  if (err == JET_errRecordNotFound) goto done;
  if (err >= 0) err = push_field(L, T, EseRetrieveKey);          /* 2: key */
  if (err < 0) return ese_raise_ses(L, err, "pairs", T->sesid);
  size_t tl, kl;
  const char *to = lua_tolstring(L, lua_upvalueindex(3), &tl);
  const char *key = lua_tolstring(L, 2, &kl);
  if (to && keycmp(key, kl, to, tl) > 0) goto done;
  err = push_field(L, T, EseRetrieveValue);                       /* 3: value */
  if (err < 0) return ese_raise_ses(L, err, "pairs", T->sesid);
  lua_pushvalue(L, 2);
  lua_replace(L, lua_upvalueindex(4));
  return 2;
done:
  lua_pushboolean(L, 1);
  lua_replace(L, lua_upvalueindex(5));
  return 0;
}

/* t:pairs([from [, to]]) -> iterator for a generic for, in key order over
 * [from, to] (both included; nil = open end). */
static int tab_pairs(lua_State *L) {
  checktable(L, 1, "pairs");
  luaL_optstring(L, 2, NULL);
  luaL_optstring(L, 3, NULL);
  lua_settop(L, 3);
  lua_pushnil(L);                 /* last key */
  lua_pushboolean(L, 0);          /* done */
  lua_pushcclosure(L, tab_iter, 5);
  return 1;
}

/* __gc and __close: closes the cursor when its session still lives. */
static int tab_gc(lua_State *L) {
  EseTable *T = totable(L, 1);
  if (T->open) {
    int alive = table_alive(L, 1);
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
  if (!T->open) lua_pushliteral(L, ESE_TABLE_T " (closed)");
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
  {"close", tab_close},
  {"is_open", tab_is_open},
  {NULL, NULL}
};

int ese_open_table(lua_State *L) {
  ese_newclass(L, ESE_TABLE_T, tab_meta, tab_methods);
  return 0;
}
