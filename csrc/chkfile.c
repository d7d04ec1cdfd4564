/* chkfile.c -- the checkpoint file: where redo starts, the log stream's
 * signature and the databases attached at that point.  Replaced whole by
 * write-to-temporary, sync, rename, sync folder.
 *
 *   0 u32 CRC32C of bytes 4..end   4 char[8] "ESECHK\0\4"   12 u8[16] log signature
 *   28 u64 lsn   36 u32 attach count   40 u64 next transaction id
 *   48 per database: an attachment entry (log.h: dbid, database signature,
 *   absolute and relative path)
 */
#include "chkfile.h"
#include "crc32c.h"
#include "page.h"
#include <stdlib.h>
#include <string.h>

static const char MAGIC[8] = { 'E', 'S', 'E', 'C', 'H', 'K', 0, 4 };
#define CHK_HEAD 48
/* Versions 1..3 go with log formats 1 and 2 (LSNs of records from offset
 * 4096): JET_errBadLogVersion, never read. */
#define CHK_MAX 65536
char *chk_path(const char *system_path, const char base[3]) {
  char name[16];
  memcpy(name, base, 3);
  memcpy(name + 3, ".chk", 5);
  return os_join(system_path, name);
}

void chk_clear(chkfile *c) {
  log_attach_free(c->att, c->natt);
  memset(c, 0, sizeof *c);
}

JET_ERR chk_read(esio *io, const char *path, chkfile *c) {
  memset(c, 0, sizeof *c);
  uint8_t *buf;
  size_t n;
  JET_ERR e = os_read_head(io, path, CHK_MAX, &buf, &n, NULL);
  if (e) return e;
  if (n >= 12 && memcmp(buf + 4, MAGIC, 7) == 0 && buf[11] >= 1 && buf[11] < MAGIC[7])
    e = JET_errBadLogVersion;
  else if (n < CHK_HEAD || memcmp(buf + 4, MAGIC, 8) != 0 || get32(buf) != crc32c(0, buf + 4, n - 4))
    e = JET_errCheckpointCorrupt;
  else {
    memcpy(c->sig.b, buf + 12, 16);
    c->lsn = get64(buf + 28);
    uint32_t natt = get32(buf + 36);
    c->next_txid = get64(buf + 40);
    size_t off = CHK_HEAD, used;
    if (natt > 1024 || !(c->att = calloc(natt ? natt : 1, sizeof *c->att))) e = natt > 1024 ? JET_errCheckpointCorrupt : JET_errOutOfMemory;
    for (uint32_t i = 0; e == JET_errSuccess && i < natt; i++, off += used) {
      e = log_entry_get(buf + off, n - off, &c->att[i], &used);
      if (e == JET_errLogFileCorrupt) e = JET_errCheckpointCorrupt;
      if (e == JET_errSuccess) c->natt = i + 1;
    }
  }
  free(buf);
  if (e) chk_clear(c);
  return e;
}

/* The entry of c->att[i] as written: without its relative path when the
 * table does not fit with them (bare). */
static log_attach chk_entry(const chkfile *c, uint32_t i, int bare) {
  log_attach a = c->att[i];
  if (bare) a.rel = NULL;
  return a;
}

JET_ERR chk_write(esio *io, const char *path, const chkfile *c) {
  size_t n = CHK_HEAD, nbare = CHK_HEAD;
  for (uint32_t i = 0; i < c->natt; i++) {
    if (strlen(c->att[i].path) > 0xFFFF || (c->att[i].rel && strlen(c->att[i].rel) > 0xFFFF)) return JET_errInvalidParameter;
    n += log_entry_size(&c->att[i]);
    nbare += 24 + strlen(c->att[i].path);
  }
  /* a table that fits only without the relative paths is written without
   * them (recovery then uses the absolute paths), as a log header's */
  int bare = n > CHK_MAX;
  if (bare) n = nbare;
  if (n > CHK_MAX) return JET_errInvalidParameter;
  uint8_t *buf = calloc(1, n);
  if (!buf) return JET_errOutOfMemory;
  memcpy(buf + 4, MAGIC, 8);
  memcpy(buf + 12, c->sig.b, 16);
  put64(buf + 28, c->lsn);
  put32(buf + 36, c->natt);
  put64(buf + 40, c->next_txid);
  size_t off = CHK_HEAD;
  for (uint32_t i = 0; i < c->natt; i++) {
    log_attach a = chk_entry(c, i, bare);
    log_entry_put(buf + off, &a);
    off += log_entry_size(&a);
  }
  put32(buf, crc32c(0, buf + 4, n - 4));
  JET_ERR e = os_write_file_atomic(io, path, buf, n);
  free(buf);
  return e;
}
