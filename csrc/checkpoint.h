/*
 * checkpoint.h -- taking a checkpoint (checkpoint.c): every change logged
 * before an lsn made durable in the database files, then the checkpoint
 * file (chkfile.h) moved to that lsn, blocking or in slices.  Layer:
 * instance, session and database state (it writes back the pagers of an
 * instance's databases).
 */
#ifndef ESE_CHECKPOINT_H
#define ESE_CHECKPOINT_H
#include "instance.h"

/* Order: log durable to its end -> every dirty page through the ring and
 * in place -> every database fdatasynced -> the ring told so -> B.chk
 * (chkfile.h), then circular logging deletes the logs below it.  Blocking,
 * one lock hold (after waiting for a slice's I/O); with the lock held. */
JET_ERR ckpt_take(esinst *inst);
/* Waits (lock released) until no slice's I/O runs; with the lock held.  A
 * caller that checks its own state and then takes a blocking checkpoint
 * (detach) waits here before its checks: ckpt_take's wait would release
 * the lock after them.  After it, as long as the lock stays held, none
 * starts. */
void ckpt_wait_idle(esinst *inst);
/* The checkpoint in slices (checkpoint.c states the invariant),
 * with the lock held.  ckpt_start takes a new one (lsn: the log's
 * end now; it replaces one under way); ckpt_toward does one slice
 * (at most a few MiB / a few ms of page writes, or the checkpoint's end:
 * the sync and the checkpoint file) toward a checkpoint at or past target,
 * starting one first when none under way reaches it: *more is 1 while
 * inst->checkpoint < target.  A slice's I/O (its page batches, the end's
 * syncs and file) runs without the lock unless esio_ordered (checkpoint.c):
 * ckpt_toward releases it meanwhile, so the caller keeps what it uses
 * alive and checks its own state after; it then answers the state gate.
 * ckpt_take, ckpt_start and ckpt_toward first wait (lock released) until
 * no slice's I/O runs; ckpt_start and ckpt_toward then answer the state
 * gate (that slice may have failed and made the instance unavailable, or
 * it was stopped meanwhile).  ckpt_take (blocking, one lock hold)
 * ends the one under way too.  Between two slices the caller may release
 * the lock: ckpt_between_slices does, lets other callers in and takes it
 * back, then answers the state gate (the instance may have been stopped,
 * made unavailable or be terminating meanwhile). */
JET_ERR ckpt_start(esinst *inst);
JET_ERR ckpt_toward(esinst *inst, lsn_t target, int *more);
JET_ERR ckpt_between_slices(esinst *inst);
/* I/O of a checkpoint's (a slice's, ckpt_start's log flush) or of the
 * backup's cut-off (its roll) without the instance lock: ckpt_io_begin
 * (lock held, no such I/O running: after ckpt_wait_idle) marks it running
 * and releases the lock, 1 when it did (0 with ordered I/O, esio_ordered:
 * the lock stays held so that fault tests see the same event order);
 * ckpt_io_end(unlocked) takes the lock back and wakes ckpt_wait_idle's
 * waiters.  Meanwhile no checkpoint starts, slices or is taken (they wait),
 * so the databases, the log and the instance stay (detach and term take a
 * blocking checkpoint first; a create or an attach only adds a database);
 * the caller keeps alive what it uses
 * and checks its own state after. */
int ckpt_io_begin(esinst *inst);
void ckpt_io_end(esinst *inst, int unlocked);
/* The ring's sync_data hook: fdatasyncs every attached database. */
JET_ERR ckpt_sync_databases(void *ud);

#endif
