/*
 * lua_session.c -- ese.Session (begin_session, transactions, databases,
 * opening tables) and ese.Database (the dbid of an open database).
 *
 * A session keeps its instance object alive in user value 1, a database
 * keeps its session alive in user value 1 (its path is user value 2).
 * Every call checks the chain (object open, parents open) first, so GC in
 * any order and use after close or term never reach C with a dead handle.
 */
#include <string.h>

#include "lua_ese.h"

/* ---- session accessors ---------------------------------------------------- */

EseSession *ese_tosession(lua_State *L, int idx) {
  return (EseSession *)luaL_checkudata(L, idx, ESE_SESSION_T);
}

/* 1 when user value n of the userdata at idx is an open instance object. */
static int parent_instance_open(lua_State *L, int idx) {
  lua_getiuservalue(L, idx, 1);
  EseInstance *I = (EseInstance *)luaL_testudata(L, -1, ESE_INSTANCE_T);
  int ok = I && I->open;
  lua_pop(L, 1);
  return ok;
}

int ese_session_alive(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  EseSession *S = (EseSession *)luaL_testudata(L, idx, ESE_SESSION_T);
  return S && S->open && parent_instance_open(L, idx);
}

EseSession *ese_checksession(lua_State *L, int idx, const char *op) {
  idx = lua_absindex(L, idx);
  EseSession *S = ese_tosession(L, idx);
  if (!S->open || !parent_instance_open(L, idx)) ese_raise(L, JET_errInvalidSesid, op);
  return S;
}

/* ---- database accessors -------------------------------------------------- */

EseDatabase *ese_todatabase(lua_State *L, int idx) {
  return (EseDatabase *)luaL_checkudata(L, idx, ESE_DATABASE_T);
}

/* The session object of the database at idx (kept alive by it). */
static EseSession *db_session(lua_State *L, int idx) {
  lua_getiuservalue(L, idx, 1);
  EseSession *S = (EseSession *)luaL_testudata(L, -1, ESE_SESSION_T);
  lua_pop(L, 1);
  return S;
}

int ese_database_alive(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  EseDatabase *D = (EseDatabase *)luaL_testudata(L, idx, ESE_DATABASE_T);
  if (!D || !D->open) return 0;
  lua_getiuservalue(L, idx, 1);
  int ok = ese_session_alive(L, -1);
  lua_pop(L, 1);
  return ok;
}

EseDatabase *ese_checkdatabase(lua_State *L, int idx, const char *op) {
  idx = lua_absindex(L, idx);
  EseDatabase *D = ese_todatabase(L, idx);
  if (!ese_database_alive(L, idx)) ese_raise(L, JET_errDatabaseNotFound, op);
  return D;
}

/* Pushes a new, closed database object of the session at sidx; path at pidx. */
static EseDatabase *new_database(lua_State *L, int sidx, int pidx) {
  sidx = lua_absindex(L, sidx);
  pidx = lua_absindex(L, pidx);
  EseDatabase *D = (EseDatabase *)lua_newuserdatauv(L, sizeof *D, 2);
  D->dbid = JET_dbidNil;
  D->open = 0;
  luaL_setmetatable(L, ESE_DATABASE_T);
  lua_pushvalue(L, sidx);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, pidx);
  lua_setiuservalue(L, -2, 2);
  return D;
}

static const EseFlag db_flags[] = {
  {"read_only", JET_bitDbReadOnly},
  {NULL, 0}
};

/* ---- ese.Database ---------------------------------------------------------- */

/* __gc and __close: closes the dbid when its session still lives. */
static int db_gc(lua_State *L) {
  EseDatabase *D = ese_todatabase(L, 1);
  if (D->open) {
    int alive = ese_database_alive(L, 1);
    D->open = 0;
    if (alive) (void)JetCloseDatabase(db_session(L, 1)->sesid, D->dbid, 0);
  }
  return 0;
}

static int db_close(lua_State *L) {
  EseDatabase *D = ese_checkdatabase(L, 1, "close");
  EseSession *S = db_session(L, 1);
  D->open = 0;
  JET_ERR err = JetCloseDatabase(S->sesid, D->dbid, 0);
  if (err < 0) return ese_raise_ses(L, err, "close", S->sesid);
  return 0;
}

static int db_path(lua_State *L) {
  ese_todatabase(L, 1);
  lua_getiuservalue(L, 1, 2);
  return 1;
}

static int db_is_open(lua_State *L) {
  ese_todatabase(L, 1);
  lua_pushboolean(L, ese_database_alive(L, 1));
  return 1;
}

static int db_tostring(lua_State *L) {
  EseDatabase *D = ese_todatabase(L, 1);
  if (!ese_database_alive(L, 1)) {   /* closed, or its session or instance is */
    lua_pushliteral(L, ESE_DATABASE_T " (closed)");
  } else {
    lua_getiuservalue(L, 1, 2);
    lua_pushfstring(L, ESE_DATABASE_T " (%s): %p", lua_tostring(L, -1), (void *)D);
  }
  return 1;
}

/* ---- ese.Session ------------------------------------------------------------- */

/* inst:begin_session() -> ese.Session (an ese.Instance method). */
static int inst_begin_session(lua_State *L) {
  EseInstance *I = ese_checkinstance(L, 1, "begin_session");
  EseSession *S = (EseSession *)lua_newuserdatauv(L, sizeof *S, 1);
  S->sesid = JET_sesidNil;
  S->open = 0;
  luaL_setmetatable(L, ESE_SESSION_T);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  JET_SESID sesid;
  JET_ERR err = JetBeginSession(I->inst, &sesid, NULL, NULL);
  if (err < 0) return ese_raise_inst(L, err, "begin_session", I->inst);
  S->sesid = sesid;
  S->open = 1;
  return 1;
}

/* __gc and __close: ends the session (rolling back an open transaction)
 * when its instance still runs.  Idempotent; never raises. */
static int ses_gc(lua_State *L) {
  EseSession *S = ese_tosession(L, 1);
  if (S->open) {
    int alive = ese_session_alive(L, 1);
    S->open = 0;
    if (alive) (void)JetEndSession(S->sesid, 0);
  }
  return 0;
}

static int ses_end(lua_State *L) {
  EseSession *S = ese_checksession(L, 1, "end_session");
  S->open = 0;
  JET_ERR err = JetEndSession(S->sesid, 0);
  if (err < 0) return ese_raise(L, err, "end_session");
  return 0;
}

static int ses_is_open(lua_State *L) {
  ese_tosession(L, 1);
  lua_pushboolean(L, ese_session_alive(L, 1));
  return 1;
}

static int ses_tostring(lua_State *L) {
  EseSession *S = ese_tosession(L, 1);
  if (!ese_session_alive(L, 1)) lua_pushliteral(L, ESE_SESSION_T " (closed)");   /* or its instance is */
  else lua_pushfstring(L, ESE_SESSION_T ": %p", (void *)S);
  return 1;
}

static int ses_create_database(lua_State *L) {
  EseSession *S = ese_checksession(L, 1, "create_database");
  const char *path = ese_checkpath(L, 2, "create_database");
  EseDatabase *D = new_database(L, 1, 2);
  JET_DBID dbid;
  JET_ERR err = JetCreateDatabase(S->sesid, path, NULL, &dbid, 0);
  if (err < 0) return ese_raise_ses(L, err, "create_database", S->sesid);
  D->dbid = dbid;
  D->open = 1;
  return 1;
}

static int ses_attach_database(lua_State *L) {
  EseSession *S = ese_checksession(L, 1, "attach_database");
  const char *path = ese_checkpath(L, 2, "attach_database");
  JET_GRBIT grbit = ese_optflags(L, 3, db_flags, 0, NULL);
  JET_ERR err = JetAttachDatabase(S->sesid, path, grbit);
  if (err < 0) return ese_raise_ses(L, err, "attach_database", S->sesid);
  return 0;
}

static int ses_detach_database(lua_State *L) {
  EseSession *S = ese_checksession(L, 1, "detach_database");
  const char *path = ese_checkpath(L, 2, "detach_database");
  JET_ERR err = JetDetachDatabase(S->sesid, path);
  if (err < 0) return ese_raise_ses(L, err, "detach_database", S->sesid);
  return 0;
}

static int ses_open_database(lua_State *L) {
  EseSession *S = ese_checksession(L, 1, "open_database");
  const char *path = ese_checkpath(L, 2, "open_database");
  JET_GRBIT grbit = ese_optflags(L, 3, db_flags, 0, NULL);
  EseDatabase *D = new_database(L, 1, 2);
  JET_DBID dbid;
  JET_ERR err = JetOpenDatabase(S->sesid, path, NULL, &dbid, grbit);
  if (err < 0) return ese_raise_ses(L, err, "open_database", S->sesid);
  D->dbid = dbid;
  D->open = 1;
  return 1;
}

static int ses_begin_transaction(lua_State *L) {
  EseSession *S = ese_checksession(L, 1, "begin_transaction");
  JET_ERR err = JetBeginTransaction(S->sesid);
  if (err < 0) return ese_raise_ses(L, err, "begin_transaction", S->sesid);
  return 0;
}

static const EseFlag commit_flags[] = {
  {"lazy", JET_bitCommitLazyFlush},
  {NULL, 0}
};

static int ses_commit_transaction(lua_State *L) {
  EseSession *S = ese_checksession(L, 1, "commit_transaction");
  JET_GRBIT grbit = ese_optflags(L, 2, commit_flags, 0, NULL);
  JET_ERR err = JetCommitTransaction(S->sesid, grbit);
  if (err < 0) return ese_raise_ses(L, err, "commit_transaction", S->sesid);
  return ese_warning(L, err, "commit_transaction");   /* JET_wrnArchiveBacklog */
}

static int ses_rollback(lua_State *L) {
  EseSession *S = ese_checksession(L, 1, "rollback");
  JET_ERR err = JetRollback(S->sesid, 0);
  if (err < 0) return ese_raise_ses(L, err, "rollback", S->sesid);
  return 0;
}

typedef JET_ERR (*table_opener)(JET_SESID, JET_DBID, const char *, JET_TABLEID *);

/* s:create_table(db, name) / s:open_table(db, name) -> ese.Table.  db must
 * be a database object of this session: a dbid is only a number, so one of
 * another session (or instance) could name some other database here. */
static int open_table_with(lua_State *L, table_opener fn, const char *op) {
  EseSession *S = ese_checksession(L, 1, op);
  EseDatabase *D = ese_checkdatabase(L, 2, op);
  size_t len;
  const char *name = luaL_checklstring(L, 3, &len);
  if (strlen(name) != len) return ese_raise_detail(L, JET_errInvalidName, op, "the name holds a NUL byte");
  lua_getiuservalue(L, 2, 1);
  int own = lua_rawequal(L, -1, 1);
  lua_pop(L, 1);
  if (!own) return ese_raise_detail(L, JET_errDatabaseNotFound, op, "the database belongs to another session");
  EseTable *T = ese_newtable(L, 1, 2, S->sesid);
  JET_TABLEID tableid;
  JET_ERR err = fn(S->sesid, D->dbid, name, &tableid);
  if (err < 0) return ese_raise_ses(L, err, op, S->sesid);
  T->tableid = tableid;
  T->open = 1;
  return 1;
}

static int ses_create_table(lua_State *L) {
  return open_table_with(L, EseCreateTable, "create_table");
}

static int ses_open_table(lua_State *L) {
  return open_table_with(L, EseOpenTable, "open_table");
}

static const luaL_Reg ses_meta[] = {
  {"__gc", ses_gc},
  {"__close", ses_gc},
  {"__tostring", ses_tostring},
  {NULL, NULL}
};

static const luaL_Reg ses_methods[] = {
  {"end_session", ses_end},
  {"close", ses_end},
  {"is_open", ses_is_open},
  {"create_database", ses_create_database},
  {"attach_database", ses_attach_database},
  {"detach_database", ses_detach_database},
  {"open_database", ses_open_database},
  {"begin_transaction", ses_begin_transaction},
  {"commit_transaction", ses_commit_transaction},
  {"rollback", ses_rollback},
  {"create_table", ses_create_table},
  {"open_table", ses_open_table},
  {NULL, NULL}
};

static const luaL_Reg db_meta[] = {
  {"__gc", db_gc},
  {"__close", db_gc},
  {"__tostring", db_tostring},
  {NULL, NULL}
};

static const luaL_Reg db_methods[] = {
  {"close", db_close},
  {"path", db_path},
  {"is_open", db_is_open},
  {NULL, NULL}
};

static const luaL_Reg inst_session_methods[] = {
  {"begin_session", inst_begin_session},
  {NULL, NULL}
};

int ese_open_session(lua_State *L) {
  ese_newclass(L, ESE_SESSION_T, ses_meta, ses_methods);
  ese_newclass(L, ESE_DATABASE_T, db_meta, db_methods);
  ese_addmethods(L, ESE_INSTANCE_T, inst_session_methods);
  return 0;
}
