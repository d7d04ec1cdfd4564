/*
 * recovery.h -- soft recovery at init (recovery.c): redo from the
 * checkpoint through the replay engine (redo.h, the layer below), then a
 * new checkpoint.  Layer: instance, session and database state (it reads
 * the instance's parameters and remap, attaches what replay leaves
 * attached); called by JetInit3 (jet_instance.c).
 */
#ifndef ESE_RECOVERY_H
#define ESE_RECOVERY_H
#include "instance.h"

JET_ERR recovery_run(esinst *inst);

#endif
