/*
 * database.h -- the databases an instance has attached (database.c): their
 * files, pagers and headers; attach, create, detach (their entry points
 * are jet_database.c's); the log records of a commit's pages.  Layer:
 * instance, session and database state.
 */
#ifndef ESE_DATABASE_H
#define ESE_DATABASE_H
#include "instance.h"
#include "dbheader.h"
#include "pager.h"

typedef struct esdb {
  uint32_t dbid;          /* 1..ESE_MAX_DB, the index in inst->db */
  char *path;             /* canonical absolute path */
  char *rel;              /* path relative to the log folder, or NULL */
  esfile *file;
  pager *pg;
  dbheader hdr;           /* as last written */
  uint64_t dbtime;        /* the last dbtime a commit gave it; hdr.dbtime_last >= dbtime */
  int opens;              /* JetOpenDatabase count not yet closed */
  struct esinst *inst;    /* its instance (the pager's ring hook) */
} esdb;

/* The work of the database entry points (jet_database.c), each called with
 * s's instance entered (the lock held) and leaving it entered:
 * db_create makes and attaches a new database (its pages pending: the
 * caller commits them, or discards them on failure) and opens it for s;
 * db_attach attaches a clean database file (success when attached
 * already); db_detach detaches one database or, szFilename NULL, all
 * (each flushed and marked clean); db_open_for / db_close_for count s's
 * opens of an attached database. */
JET_ERR db_create(essession *s, const char *szFilename, JET_DBID *pdbid);
JET_ERR db_attach(essession *s, const char *szFilename);
JET_ERR db_detach(essession *s, const char *szFilename);
JET_ERR db_open_for(essession *s, const char *szFilename, JET_DBID *pdbid);
JET_ERR db_close_for(essession *s, JET_DBID dbid);
/* An absolute, normalized path: realpath of the folder + the file name
 * (JET_errInvalidPath when the folder does not exist). */
JET_ERR db_canon_path(const char *path, char **out);
/* The path of file (canonical) relative to the folder dir (canonical),
 * "../" steps included; NULL when out of memory. */
char *db_rel_path(const char *dir, const char *file);
esdb *db_by_id(esinst *inst, JET_DBID dbid);
/* The database attached under path (canonicalized) in *out, NULL when none
 * is; JET_errOutOfMemory when the path could not be canonicalized for want
 * of memory (never "none": the caller would answer JET_errDatabaseNotFound
 * for an attached database). */
JET_ERR db_by_path(esinst *inst, const char *path, esdb **out);
JET_ERR db_open_file(esinst *inst, const char *path, int create, esfile **out);
void db_close(esinst *inst, esdb *db);
/* Logs LR_DETACH of db (made durable) and writes the header clean (gen_max
 * the current generation, dbtime_last exact, the clean point that record
 * makes): at detach and a clean term, after a checkpoint flushed every
 * page. */
JET_ERR db_write_clean(esinst *inst, esdb *db);
/* Commits the pending pages of every database as transaction txid (one
 * record group ending in LR_COMMIT); *commit_lsn is the commit record. */
JET_ERR db_commit_pending(esinst *inst, uint64_t txid, lsn_t *commit_lsn);
void db_discard_pending(esinst *inst);
JET_ERR db_trim(esinst *inst);
/* The attached databases' entries in att (strings borrowed); returns how many. */
uint32_t db_attachments(const esinst *inst, log_attach att[ESE_MAX_DB]);
JET_ERR db_log_attachments(esinst *inst);       /* refreshes the log's attach table */

#endif
