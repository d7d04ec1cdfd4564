/*
 * lua_ese.h -- internal header of the Lua binding (ese.core).
 *
 * The binding calls only the public API (ese.h).  One file per concern:
 *   lua_ese.c       luaopen_ese_core, classes, error objects, option tables
 *   lua_instance.c  ese.Instance, create_instance, legacy init/term
 *   lua_session.c   ese.Session and ese.Database
 *   lua_table.c     ese.Table (records, ranges)
 *   lua_backup.c    the backup methods of ese.Instance and the legacy
 *                   instance-less ese.* backup functions
 *   lua_reader.c    ese.Reader (one file of a running external backup)
 *   lua_fs.c        ese.fs: file primitives of the automation (no process)
 *
 * Object rules (liolib style):
 *  - every userdata has a metatable named by its type (so __name is set),
 *    methods live in a separate __index table, and one idempotent close
 *    function serves __gc and __close and never raises;
 *  - a closed flag lives inside the userdata; a child keeps its parent
 *    alive in a user value (table -> session + database, database ->
 *    session, session -> instance) and checks the whole chain before every
 *    engine call, so no handle of a closed or terminated object ever
 *    reaches C;
 *  - two accessors per type: ese_toX (type only, for __gc/__close/
 *    __tostring) and ese_checkX (type + alive; raises an ese.Error).
 */
#ifndef LUA_ESE_H
#define LUA_ESE_H

#include <lua.h>
#include <lauxlib.h>
#include "ese.h"

#define ESE_ERROR_T    "ese.Error"
#define ESE_INSTANCE_T "ese.Instance"
#define ESE_SESSION_T  "ese.Session"
#define ESE_DATABASE_T "ese.Database"
#define ESE_TABLE_T    "ese.Table"
#define ESE_READER_T   "ese.Reader"

/* ---- lua_ese.c: errors ------------------------------------------------- */

/* Raise an ese.Error object {name, code, message, op[, detail]}.  Never
 * returns; declared int so callers can write `return ese_raise(...)`. */
int ese_raise(lua_State *L, JET_ERR err, const char *op);
/* Pushes that object without raising it. */
void ese_push_error(lua_State *L, JET_ERR err, const char *op, const char *detail);
/* A call that succeeded with a warning (err > 0, JET_wrn...) returns its
 * object (not raised): pushes it and returns 1; else returns 0. */
int ese_warning(lua_State *L, JET_ERR err, const char *op);
/* The same with a detail string (NULL or "" means none). */
int ese_raise_detail(lua_State *L, JET_ERR err, const char *op, const char *detail);
/* The same with the detail the engine recorded for a (live) session or
 * instance handle. */
int ese_raise_ses(lua_State *L, JET_ERR err, const char *op, JET_SESID sesid);
int ese_raise_inst(lua_State *L, JET_ERR err, const char *op, JET_INSTANCE inst);
/* The string at idx as a path, for every path argument of the binding (a
 * Lua argument error when not a string): one holding a NUL byte raises
 * JET_errInvalidPath for op, since C would see only the part before it. */
const char *ese_checkpath(lua_State *L, int idx, const char *op);
/* The same for a string parameter that C reads up to its NUL: what names
 * it in the refusal ("the base name", "a path"). */
const char *ese_checkstring(lua_State *L, int idx, const char *op, const char *what);
/* Raises an argument error "unknown option 'k'" for arg when the table at
 * arg has a key that is not one of names (NULL-terminated): a misspelt
 * option must never be ignored. */
void ese_checkkeys(lua_State *L, int arg, const char *const *names);
/* 16 bytes (a signature, a timeline id) as Lua sees them: 32 lowercase hex
 * digits.  ese_push_hex16 pushes them; ese_hex16 decodes s (len bytes)
 * into out: 1 when it is exactly 32 hex digits, else 0. */
void ese_push_hex16(lua_State *L, const unsigned char b[16]);
int ese_hex16(const char *s, size_t len, unsigned char out[16]);


/* ---- lua_ese.c: classes and options ------------------------------------ */

/* Creates the metatable tname (or reuses it when it exists: luaopen runs
 * again on every require after busted's insulation) with the metamethods
 * `meta` and a method table `methods` as __index.  Leaves the stack as is. */
void ese_newclass(lua_State *L, const char *tname, const luaL_Reg *meta,
                  const luaL_Reg *methods);
/* Adds methods to the __index table of an existing class. */
void ese_addmethods(lua_State *L, const char *tname, const luaL_Reg *methods);

/* A named grbit of an option table ({ complete = true }). */
typedef struct EseFlag { const char *name; JET_GRBIT bit; } EseFlag;
/* Argument arg as grbits: none/nil -> def; a non-negative integer -> that
 * raw grbit; a table -> OR of the flags whose value is true (false is
 * ignored).  Unknown keys and non-boolean values are argument errors.
 * *given is set to 1 when arg was a number or a table with a true flag. */
JET_GRBIT ese_optflags(lua_State *L, int arg, const EseFlag *flags, JET_GRBIT def,
                       int *given);

/* ---- lua_instance.c ---------------------------------------------------- */

typedef struct EseInstance {
  JET_INSTANCE inst;
  int open;     /* 0: terminated (or never created); the handle is dead */
  int legacy;   /* the global instance of ese.init */
  /* Bumped by every Begin that succeeds through the binding.  A reader
   * remembers it at open; another epoch means its backup is over (and its
   * engine handle may name a file of a later backup, so it must never
   * reach C again). */
  lua_Integer backup_epoch;
} EseInstance;

EseInstance *ese_toinstance(lua_State *L, int idx);   /* type only */
EseInstance *ese_checkinstance(lua_State *L, int idx, const char *op); /* open */
int ese_open_instance(lua_State *L);   /* module table at -1 */

/* ---- lua_session.c ----------------------------------------------------- */

typedef struct EseSession {
  JET_SESID sesid;
  int open;
} EseSession;          /* user value 1: the ese.Instance */

typedef struct EseDatabase {
  JET_DBID dbid;
  int open;
} EseDatabase;         /* user value 1: the ese.Session, 2: the path */

EseSession *ese_tosession(lua_State *L, int idx);
/* Open session of a running instance object, else JET_errInvalidSesid. */
EseSession *ese_checksession(lua_State *L, int idx, const char *op);
/* 1 when the session at idx (any value) is an open session whose instance
 * object is open. */
int ese_session_alive(lua_State *L, int idx);
EseDatabase *ese_todatabase(lua_State *L, int idx);
/* Open database handle of a live session, else JET_errDatabaseNotFound. */
EseDatabase *ese_checkdatabase(lua_State *L, int idx, const char *op);
int ese_database_alive(lua_State *L, int idx);
int ese_open_session(lua_State *L);

/* ---- lua_table.c ------------------------------------------------------- */

typedef struct EseTable {
  JET_TABLEID tableid;
  JET_SESID sesid;     /* of user value 1 */
  int open;
} EseTable;            /* user value 1: the ese.Session, 2: the ese.Database */

/* Pushes a new table object for an open cursor (session at sidx, database
 * at didx).  Allocate-then-open: call ese_newtable first (it may raise a
 * memory error), open the cursor into ->tableid, then set ->open = 1. */
EseTable *ese_newtable(lua_State *L, int sidx, int didx, JET_SESID sesid);
int ese_open_table(lua_State *L);

/* ---- lua_backup.c, lua_reader.c ----------------------------------------- */

/* Registry field holding the open legacy instance object of ese.init. */
#define ESE_LEGACY_KEY "ese.legacy_instance"

int ese_open_backup(lua_State *L);   /* module table at -1 */
int ese_open_reader(lua_State *L);
/* Pushes an ese.Reader of the file named by the string at pidx, opened by
 * JetOpenFileInstance on the instance object at iidx, or by the legacy
 * JetOpenFile when legacy is set (iidx: the ese.init object, or 0 for none).
 * Raises the engine's error object (op) on failure. */
int ese_reader_open(lua_State *L, int iidx, int pidx, int legacy, const char *op);

/* ---- lua_restore.c ------------------------------------------------------ */

int ese_open_restore(lua_State *L);   /* module table at -1 */

/* ---- lua_check.c --------------------------------------------------------- */

int ese_open_check(lua_State *L);     /* module table at -1 */

/* ---- lua_fs.c ------------------------------------------------------------ */

int ese_open_zstd(lua_State *L);      /* module table at -1: sets its "zstd" (lua_zstd.c) */
int ese_open_fs(lua_State *L);        /* module table at -1: sets its "fs" */

#endif
