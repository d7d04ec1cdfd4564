/*
 * txn.h -- transactions (txn.c): begin, rollback, commit (the entry points
 * JetBeginTransaction, JetRollback, JetCommitTransaction are
 * jet_session.c's) and the commit path the other entry points that change
 * data share (jet_database.c, jet_table.c).  Layer: transactions
 * (above instance, session and database state and isolation).
 */
#ifndef ESE_TXN_H
#define ESE_TXN_H
#include "instance.h"
#include "verstore.h"
#include "database.h"

/* With the lock held (s entered): s's transaction begins
 * (JET_errTransTooDeep when one is open) or is rolled back, its write set
 * dropped (JET_errNotInTransaction when none is). */
JET_ERR txn_begin(essession *s);
JET_ERR txn_rollback(essession *s);
/* With the lock held (s entered): commits s's transaction
 * (JET_errNotInTransaction when none is open), then leaves the instance.
 * A commit whose before images pass the version store's limit is refused
 * with nothing applied and the transaction still open
 * (JET_errVersionStoreOutOfMemory); any other failure ends it.  Durable
 * unless lazy; t0 (pace_now_ns) is when the commit was asked for, the start
 * of the latency the backup pacer is fed. */
JET_ERR txn_commit(essession *s, int lazy, uint64_t t0);
/* Commits the pending pages as one transaction, then leaves the instance;
 * waits for the log flush without the lock; durable unless lazy. */
JET_ERR txn_commit_and_leave(esinst *inst, int lazy);
/* One put (tomb 0) or delete (tomb 1) of s outside a transaction, its own
 * transaction: applied to the tree (iso_autocommit_write, with the before
 * images open snapshots need) and committed durably, or discarded with
 * them on failure; leaves the instance either way. */
JET_ERR txn_autocommit_write(essession *s, esdb *db, uint32_t root, const void *key, size_t klen, const void *val,
                             size_t vlen, int tomb);

#endif
