/*
 * isolation.h -- snapshot isolation and write conflicts (ESE's model).
 *
 * - Commits of records are numbered (esinst.commit_seq).  A transaction's
 *   snapshot (essession.snap) is the number at its begin; its reads see the
 *   committed records as of that commit plus its own write set, whatever
 *   other sessions commit meanwhile.  Reads outside a transaction see the
 *   committed trees.
 * - A commit that changes a record while another transaction is open keeps
 *   the record's before image in the version store (verstore.h) under the
 *   commit's number; when a transaction ends, the versions no open
 *   snapshot needs any more are dropped.
 * - A write (put or delete, in a transaction or not) of a key that another
 *   open transaction holds in its write set, or (in a transaction) a key
 *   some commit changed after the snapshot: JET_errWriteConflict, nothing
 *   changed.  So once a transaction has written a key nobody else commits
 *   it before that transaction ends, and commit needs no conflict check.
 * - The limit: the uncommitted write sets of every session plus the kept
 *   versions, counted in bytes (WS_OVERHEAD / VS_OVERHEAD + key + value per
 *   entry), stay within max_ver_pages * ESE_VER_PAGE_SIZE.  A transaction's
 *   write that would pass it, and a commit whose before images would, get
 *   JET_errVersionStoreOutOfMemory with nothing changed (the transaction
 *   stays open).
 * Every function here runs with the instance lock held (asserted).
 */
#ifndef ESE_ISOLATION_H
#define ESE_ISOLATION_H
#include "database.h"
#include "session.h"
#include "table.h"

#define ESE_VER_PAGE_SIZE 16384u    /* bytes per JET_paramMaxVerPages page */
#define ESE_VER_PAGES_DEFAULT 16384u /* 256 MiB: room for a transaction that writes a 64 MiB value and more */
#define ESE_VER_PAGES_MAX (1u << 20)

/* s begins a transaction (s->in_txn set): its snapshot is the last commit. */
void iso_begin(essession *s);
/* s's transaction ended (s->in_txn cleared, its write set emptied or
 * about to be freed): drops the versions no open snapshot needs. */
void iso_end(essession *s);
/* Whether the key a delete names has a record in the deleting session's
 * view: JET_errSuccess, JET_errRecordNotFound, or a read's error. */
typedef JET_ERR (*iso_present_fn)(void *ud);
/* Before s writes (dbid, root, key) (vlen: the value's length; tomb: a
 * delete, present then its lookup): JET_errWriteConflict; a delete of no
 * record JET_errRecordNotFound (looked up after the conflict checks and
 * before the limit: whatever the limit); in a transaction
 * JET_errVersionStoreOutOfMemory as above; the detail says why. */
JET_ERR iso_check_write(essession *s, uint32_t dbid, uint32_t root, const void *key, size_t klen, size_t vlen,
                        int tomb, iso_present_fn present, void *ud);
/* s's reads: the record that op (one JET_bitSeek*; klen 0 as in bt_seek)
 * finds in s's view of tree root of db, in out.  The tree is read with
 * bt_seek_hint(hint) into scan; when the tree's record is the answer, scan
 * and out swap their buffers (no copy). */
JET_ERR iso_seek(essession *s, esdb *db, uint32_t root, const void *key, size_t klen, JET_GRBIT op, bt_rec *out,
                 bt_rec *scan, bt_hint *hint);
/* A commit by s (its transaction's write set, or one write outside a
 * transaction) in steps.  Before anything is applied: iso_before_image for
 * each write collects into b the key's before image when another
 * transaction is open (which needs it), then iso_fits checks the limit
 * (JET_errVersionStoreOutOfMemory); on an error vs_batch_free(b) and
 * nothing changed.  After the writes are applied to the trees,
 * iso_committed numbers the commit and keeps b's versions; when applying
 * fails, vs_batch_free(b). */
JET_ERR iso_before_image(essession *s, const wsent *w, vsbatch *b);
JET_ERR iso_fits(essession *s, const vsbatch *b);
void iso_committed(esinst *inst, vsbatch *b);
/* One write outside a transaction, applied to the tree (pending pages for
 * the caller to commit or discard): the conflict check, the before image
 * into b (vs_batch_init'ed by the caller, which keeps it when the commit is
 * logged, txn_autocommit_and_leave, or frees it), bt_put or bt_delete. */
JET_ERR iso_autocommit_write(essession *s, esdb *db, uint32_t root, const void *key, size_t klen, const void *val,
                             size_t vlen, int tomb, vsbatch *b);
/* The version store's figures (EseGetVersionStoreInfo): the kept versions,
 * the limit, the open transactions and their uncommitted bytes. */
void iso_store_info(esinst *inst, EseVersionStoreInfo *info);

#endif
