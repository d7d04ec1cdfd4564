/* dbcheck.c -- the structure check of a clean database (dbcheck.h). */
#include "dbcheck.h"
#include "btree.h"
#include "pager.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEP_PAGES 256   /* the check's page cache, trimmed after each tree */

/* JET_errDatabaseCorrupted, detail "<file>: <what>". */
__attribute__((format(printf, 4, 5))) static JET_ERR bad(esfile *f, char *detail, size_t cb, const char *fmt, ...) {
  if (detail) {
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(detail, cb, "%s: %s", os_path(f), what);
  }
  return JET_errDatabaseCorrupted;
}

/* Each table of the catalog tree cat: its tree and long values owned. */
static JET_ERR check_tables(pager *p, esfile *f, uint32_t cat, uint8_t *owned, uint32_t npages, char *detail,
                            size_t cb) {
  bt_rec r = { 0 };
  char name[EseMaxKeySize + 1] = "";
  size_t nlen = 0;
  JET_ERR e;
  for (JET_GRBIT op = JET_bitSeekGE;; op = JET_bitSeekGT) {
    if ((e = bt_seek(p, cat, name, nlen, op, &r))) break;
    nlen = r.klen;
    memcpy(name, r.key, nlen);
    name[nlen] = 0;
    if (r.vlen != 4) { e = bad(f, detail, cb, "the catalog entry of table '%s' is damaged", name); break; }
    uint32_t root;
    memcpy(&root, r.val, 4);
    if ((e = bt_check_owned(p, root, owned, npages, NULL))) {
      if (e == JET_errDatabaseCorrupted)
        e = bad(f, detail, cb, "the tree of table '%s' (root page %u) or one of its long values is damaged: a page out "
                "of order, out of range or reachable twice, or a long value whose pages disagree with its length", name,
                (unsigned)root);
      break;
    }
    if ((e = pager_trim(p))) break;
  }
  bt_rec_free(&r);
  return e == JET_errRecordNotFound ? JET_errSuccess : e;
}

JET_ERR db_check_structure(esfile *f, uint32_t ps, char *detail, size_t cb) {
  pager *p;
  pager_hooks none = { 0 };
  uint32_t npages = 0, cat = 0;
  JET_ERR e = pager_open(f, ps, KEEP_PAGES, none, &p);
  if (e) return e;
  uint8_t *owned = NULL;
  if ((e = pager_page_count(p, &npages)) || (e = pager_get_root(p, &cat))) goto out;
  if (!(owned = calloc(npages, 1))) { e = JET_errOutOfMemory; goto out; }
  memset(owned, 1, npages < 3 ? npages : 3);
  if ((e = bt_check_owned(p, cat, owned, npages, NULL))) {
    if (e == JET_errDatabaseCorrupted) e = bad(f, detail, cb, "the catalog tree (root page %u) is damaged", (unsigned)cat);
    goto out;
  }
  if ((e = check_tables(p, f, cat, owned, npages, detail, cb))) goto out;
  if ((e = pager_check_free(p, owned, npages))) {
    if (detail) snprintf(detail, cb, "%s", pager_error_detail(p));
    goto out;
  }
  for (uint32_t pg = 3; pg < npages; pg++)
    if (!owned[pg]) {
      e = bad(f, detail, cb, "page %u is in no tree, no long value and not on the free list (lost)", (unsigned)pg);
      break;
    }
out:
  if (e && e != JET_errDatabaseCorrupted && detail && !detail[0]) snprintf(detail, cb, "%s", pager_error_detail(p));
  free(owned);
  pager_close(p);
  return e;
}
