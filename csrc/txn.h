/*
 * txn.h -- transactions (txn.c): JetBeginTransaction, JetRollback,
 * JetCommitTransaction and the commit path the other entry points that
 * change data share (jet_database.c, jet_table.c).  Layer: transactions
 * (above instance, session and database state and isolation).
 */
#ifndef ESE_TXN_H
#define ESE_TXN_H
#include "instance.h"
#include "verstore.h"
#include "database.h"

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
