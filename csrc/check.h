/* check.h -- file inspection without an instance (check.c): the header
 * fields and checksums of a database, a streamed copy, a log file or a
 * compressed set file (NAME.zst).  jet_restore.c's EseVerifyPages and
 * EseGetFileInfo check their arguments and call these. */
#ifndef ESE_CHECK_H
#define ESE_CHECK_H
#include "ese.h"

/* EseVerifyPages's work (ese.h): buf, name non-NULL, 512 <= ps <= 65536. */
JET_ERR check_pages(const void *buf, size_t cb, uint32_t ps, unsigned long firstPage, uint64_t fileSize,
                    const unsigned char *copySignature, const char *name, char *detail, size_t cbDetail);
/* The databases the records of a log create (LR_CREATEDB: created 1) or
 * attach (LR_ATTACH: 0), in the log's order: fn(ud, a, created, lsn) for
 * each (a's strings live until fn returns); fn's error stops the walk and
 * is returned. */
struct log_attach;
typedef JET_ERR (*check_db_fn)(void *ud, const struct log_attach *a, int created, uint64_t lsn);
/* The databases check_file_info reports of a log through fn: with
 * verify, those its records create or attach (fn(records, ...)), from the
 * very bytes its checks read (the file is read once); and those its
 * header's attach table lists (fn(header, a, 0, LSN(generation, 0)): the
 * databases attached when the generation began), from the header it
 * reads.  A NULL ud: not wanted. */
typedef struct check_dbs {
  check_db_fn fn;
  void *records, *header;
} check_dbs;
/* EseGetFileInfo's work (ese.h): path and info non-NULL, info zeroed and
 * detail emptied by the caller; dbs (NULL: none) for a log, plain or a
 * set's compressed NAME.zst. */
JET_ERR check_file_info(const char *path, int verify, EseFileInfo *info, const check_dbs *dbs, char *detail,
                        size_t cb);

#endif
