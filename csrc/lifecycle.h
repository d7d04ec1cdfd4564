/* lifecycle.h -- an instance's init and term in the layers (lifecycle.c),
 * given to instance.c's inst_init_with / inst_term_with by jet_instance.c's
 * JetInit3 and JetTerm2. */
#ifndef ESE_LIFECYCLE_H
#define ESE_LIFECYCLE_H
#include "instance.h"

/* inst_init_fn: the instance CREATED, locked by its init; on success it
 * runs (INST_RUNNING), on a failure it holds nothing and stays CREATED. */
JET_ERR lifecycle_init(esinst *inst, const JET_RSTINFO *ri);
/* inst_term_fn: with the lock held, the instance TERMINATING and no call
 * inside it; releases everything the instance holds. */
JET_ERR lifecycle_term(esinst *inst, JET_GRBIT grbit);

#endif
