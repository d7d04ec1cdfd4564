/*
 * chkfile.h -- the checkpoint file <system_path>/<base>.chk (chkfile.c):
 * where redo starts, the log stream's signature, the next transaction id
 * and the databases attached at that point.  A file format only; taking a
 * checkpoint (flushing the caches, then writing this file) is
 * checkpoint.c's.  Layer: log and checkpoint (uses log.h's attachment
 * entries and os.h).
 */
#ifndef ESE_CHKFILE_H
#define ESE_CHKFILE_H
#include <stdint.h>
#include "ese.h"
#include "log.h"
#include "os.h"

typedef struct chkfile {
  log_sig sig;
  lsn_t lsn;
  uint64_t next_txid;     /* above every transaction id in the logs up to lsn */
  uint32_t natt;
  log_attach *att;
} chkfile;

JET_ERR chk_read(esio *io, const char *path, chkfile *c);   /* JET_errFileNotFound when absent */
/* Replaces the file whole (os_write_file_atomic: temporary, sync, rename, folder sync). */
JET_ERR chk_write(esio *io, const char *path, const chkfile *c);
void chk_clear(chkfile *c);                                   /* frees c's entries */
/* <system_path>/<base>.chk; NULL when out of memory. */
char *chk_path(const char *system_path, const char base[3]);

#endif
