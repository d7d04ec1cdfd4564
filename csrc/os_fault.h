/*
 * os_fault.h -- the undo journal behind ESE_FAULT=power:K:S (see os.h), used
 * by os.c only.
 *
 * Invariant: the journal holds, for each file (inode) written through os.c
 * since its last completed os_sync, the bytes each of those writes replaced,
 * newest first.  A power cut at event K replays a seeded choice of them
 * backwards (whole or from/up to a 512-byte boundary), which leaves every
 * 512-byte sector of a file as it was after some write not yet synced, or
 * as it was at its last sync: what a disk may hold after a power cut.
 *
 * Memory is bounded (POWER_MAX_BYTES of old bytes); when the bound is
 * passed or an allocation or a reopen fails, the journal is dropped and
 * marked lost: the cut then kills without reverting (crash semantics) and
 * says so on stderr and in the trace.  The engine never sees an error from
 * here.
 */
#ifndef ESE_OS_FAULT_H
#define ESE_OS_FAULT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct power_journal power_journal;

/* NULL on OOM. */
power_journal *power_new(uint64_t seed);
void power_free(power_journal *pj);
/* Locks the journal around one write (power_note, the pwrite) or a cut,
 * so that a cut never sees a write half noted. */
void power_lock(power_journal *pj);
void power_unlock(power_journal *pj);
/* Notes the n bytes at off of the file open on fd (inode dev/ino) before a
 * write replaces them.  Locked. */
void power_note(power_journal *pj, int fd, dev_t dev, ino_t ino, size_t n, uint64_t off);
/* A sync of inode dev/ino starts: returns a mark for power_synced, which
 * forgets the writes noted before the mark once the sync succeeded.  Not
 * locked (they lock). */
uint64_t power_sync_mark(power_journal *pj);
void power_synced(power_journal *pj, dev_t dev, ino_t ino, uint64_t mark);
/* The cut at event k: reverts the seeded choice and writes one line about
 * it to trace_fd (when >= 0).  Locked; the caller kills the process. */
void power_cut(power_journal *pj, uint64_t k, int trace_fd);

#endif
