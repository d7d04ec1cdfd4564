/*
 * txn.h -- transactions (txn.c): JetBeginTransaction, JetRollback,
 * JetCommitTransaction and the commit path the other entry points that
 * change data share.  Layer: transactions (above instance, session and
 * database state and isolation).
 */
#ifndef ESE_TXN_H
#define ESE_TXN_H
#include "instance.h"
#include "verstore.h"

/* Commits the pending pages as one transaction, then leaves the instance;
 * waits for the log flush without the lock; durable unless lazy. */
JET_ERR txn_commit_and_leave(esinst *inst, int lazy);
/* The same for one write of s outside a transaction (iso_autocommit_write):
 * b, its before images, kept only when the commit is logged, else freed. */
JET_ERR txn_autocommit_and_leave(essession *s, vsbatch *b);

#endif
