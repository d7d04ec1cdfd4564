/* checkpoint.c -- the checkpoint file: where redo starts, the log stream's
 * signature and the databases attached at that point.  Replaced whole by
 * write-to-temporary, sync, rename, sync folder.
 *
 *   0 u32 CRC32C of bytes 4..end   4 char[8] "ESECHK\0\2"   12 u8[16] log signature
 *   28 u64 lsn   36 u32 attach count   40 u64 next transaction id
 *   48 per database: u32 dbid, u16 length, path
 */
#include "internal.h"
#include "crc32c.h"
#include "page.h"
#include <stdlib.h>
#include <string.h>

static const char MAGIC[8] = { 'E', 'S', 'E', 'C', 'H', 'K', 0, 2 };
#define CHK_HEAD 48
/* version 1 (no next transaction id; entries from 40) is still read */
static const char MAGIC_V1[8] = { 'E', 'S', 'E', 'C', 'H', 'K', 0, 1 };
#define CHK_HEAD_V1 40
#define CHK_MAX 65536

char *chk_path(const esparams *prm) {
  char name[16];
  memcpy(name, prm->base, 3);
  memcpy(name + 3, ".chk", 5);
  return os_join(prm->system_path, name);
}

void chk_clear(chkfile *c) {
  for (uint32_t i = 0; i < c->natt; i++) free(c->att[i].path);
  free(c->att);
  memset(c, 0, sizeof *c);
}

JET_ERR chk_read(esio *io, const char *path, chkfile *c) {
  memset(c, 0, sizeof *c);
  uint8_t *buf;
  size_t n;
  JET_ERR e = os_read_head(io, path, CHK_MAX, &buf, &n, NULL);
  if (e) return e;
  int v1 = n >= CHK_HEAD_V1 && memcmp(buf + 4, MAGIC_V1, 8) == 0;
  size_t head = v1 ? CHK_HEAD_V1 : CHK_HEAD;
  if (n < head || (!v1 && memcmp(buf + 4, MAGIC, 8) != 0) || get32(buf) != crc32c(0, buf + 4, n - 4))
    e = JET_errCheckpointCorrupt;
  else {
    memcpy(c->sig.b, buf + 12, 16);
    c->lsn = get64(buf + 28);
    uint32_t natt = get32(buf + 36);
    c->next_txid = v1 ? 0 : get64(buf + 40);
    size_t off = head;
    if (natt > 1024 || !(c->att = calloc(natt ? natt : 1, sizeof *c->att))) e = natt > 1024 ? JET_errCheckpointCorrupt : JET_errOutOfMemory;
    for (uint32_t i = 0; e == JET_errSuccess && i < natt; i++) {
      if (off + 6 > n) { e = JET_errCheckpointCorrupt; break; }
      uint32_t dbid = get32(buf + off);
      uint16_t len = get16(buf + off + 4);
      off += 6;
      if (off + len > n) { e = JET_errCheckpointCorrupt; break; }
      if (!(c->att[i].path = malloc(len + 1u))) { e = JET_errOutOfMemory; break; }
      memcpy(c->att[i].path, buf + off, len);
      c->att[i].path[len] = 0;
      c->att[i].dbid = dbid;
      c->natt = i + 1;
      off += len;
    }
  }
  free(buf);
  if (e) chk_clear(c);
  return e;
}

JET_ERR chk_write(esio *io, const char *path, const chkfile *c) {
  size_t n = CHK_HEAD;
  for (uint32_t i = 0; i < c->natt; i++) n += 6 + strlen(c->att[i].path);
  if (n > CHK_MAX) return JET_errInvalidParameter;
  uint8_t *buf = calloc(1, n);
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 5);
  char *dir = os_dirname(path);
  JET_ERR e = (buf && tmp && dir) ? JET_errSuccess : JET_errOutOfMemory;
  if (e == JET_errSuccess) {
    memcpy(buf + 4, MAGIC, 8);
    memcpy(buf + 12, c->sig.b, 16);
    put64(buf + 28, c->lsn);
    put32(buf + 36, c->natt);
    put64(buf + 40, c->next_txid);
    size_t off = CHK_HEAD;
    for (uint32_t i = 0; i < c->natt; i++) {
      size_t len = strlen(c->att[i].path);
      put32(buf + off, c->att[i].dbid);
      put16(buf + off + 4, (uint16_t)len);
      memcpy(buf + off + 6, c->att[i].path, len);
      off += 6 + len;
    }
    put32(buf, crc32c(0, buf + 4, n - 4));
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    esfile *f;
    e = os_open(io, tmp, OS_WRITE | OS_CREATE | OS_NOFOLLOW, &f);
    if (e == JET_errSuccess) {
      e = os_truncate(f, 0);
      if (e == JET_errSuccess) e = os_pwrite(f, buf, n, 0);
      if (e == JET_errSuccess) e = os_sync(f);
      os_close(f);
    }
    if (e == JET_errSuccess) e = os_rename(io, tmp, path);
    if (e == JET_errSuccess) e = os_sync_dir(io, dir);
  }
  free(buf);
  free(tmp);
  free(dir);
  return e;
}
