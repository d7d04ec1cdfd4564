/*
 * dbcheck.h -- the structure of a clean database file (`ese check`,
 * EseGetFileInfo with verify): every page from 3 up to the space page's
 * count belongs to exactly one place: the catalog tree, a table's tree,
 * one long value of a table (lv.h), or the free list (pager.h); trees in
 * key order with their bounds (bt_check), long values whose pages and
 * lengths agree with their references, a free list whose count is the
 * space page's.
 */
#ifndef ESE_DBCHECK_H
#define ESE_DBCHECK_H
#include <stddef.h>
#include <stdint.h>
#include "ese.h"
#include "os.h"

/* f: an open database of page size ps whose pages verified (checksums)
 * and that is whole (clean).  JET_errDatabaseCorrupted with a sentence in
 * detail naming the file and the fault. */
JET_ERR db_check_structure(esfile *f, uint32_t ps, char *detail, size_t cb);

#endif
