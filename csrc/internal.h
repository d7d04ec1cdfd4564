/*
 * internal.h -- every header of the instance, session and database state
 * layer and the transactions layer at once, for the harness programs in
 * spec/c that reach into the engine.  The engine's own files include the
 * headers they use (instance.h, database.h, session.h, table.h,
 * checkpoint.h, chkfile.h, txn.h, recovery.h).
 */
#ifndef ESE_INTERNAL_H
#define ESE_INTERNAL_H
#include "instance.h"
#include "database.h"
#include "session.h"
#include "table.h"
#include "checkpoint.h"
#include "chkfile.h"
#include "txn.h"
#include "recovery.h"

#endif
