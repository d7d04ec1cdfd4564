/*
 * pace.h -- the backup pacer of an instance (docs/backup.md, "Pacing").
 *
 * One token bucket shared by every streaming read of the instance's backups
 * (JetReadFileInstance sleeps, the Lua readers yield or sleep), modelled on
 * RocksDB's GenericRateLimiter: tokens (bytes) accrue at the rate, at most
 * one burst (the bytes of PACE_INTERVAL_NS) are kept; a request takes at
 * most one burst (a larger one is split by its caller, who asks again) and
 * may drive the bucket below zero: the caller then waits until it is back
 * at zero before it reads.  So the bytes read over any span T are at most
 * burst + rate x T.
 *
 * The rate is backup_max_rate (0: none), lowered in "auto" mode by an AIMD
 * on the instance's durable-commit latency, evaluated at each request: a
 * decrease at once when commits become congested, then at most one change
 * (either way) per interval:
 *   congested  <=> a durable commit ended within PACE_STALE_NS, and
 *                  recent >= 2 x normal and recent >= normal + PACE_FLOOR_NS
 *   congested: allowed = max(PACE_MIN_RATE, allowed / 2)   (the first time:
 *              half the read rate of the last interval, or of the current
 *              one before one has ended, capped by backup_max_rate: that
 *              is the ceiling)
 *   else:      allowed += ceiling / 8; at the ceiling the auto limit ends
 * recent is an EWMA (weight 1/16) of the commit latency (request to
 * durable); normal the same with weight 1/16 while no backup read came in
 * the last PACE_STALE_NS, else 1/1024 (it holds still while the backup may
 * be the cause).  While auto has a limit in force, a piece is at most
 * PACE_AUTO_PIECE bytes (below the kernel readahead threshold of backup.c:
 * small reads let a commit's sync in sooner).
 *
 * Locking: p->m guards the bucket and the AIMD state (a leaf lock: nothing
 * is called with it held).  The latency fields are written by commits with
 * the instance lock held (one writer at a time) and read without any lock.
 */
#ifndef ESE_PACE_H
#define ESE_PACE_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define PACE_INTERVAL_NS 100000000ull      /* 100 ms: refill, burst, AIMD step */
#define PACE_STALE_NS 1000000000ull        /* latency older than 1 s says nothing */
#define PACE_FLOOR_NS 500000ull            /* 0.5 ms: smaller gaps are noise */
#define PACE_MIN_RATE ((double)(1u << 20)) /* auto never goes below 1 MiB/s */
#define PACE_AUTO_PIECE (64u << 10)        /* auto's largest piece while it limits */

enum { PACE_NONE = 0, PACE_AUTO = 1 };

typedef struct pace {
  pthread_mutex_t m;
  uint64_t max_rate;      /* bytes/s, 0: none (the parameter) */
  int mode;               /* PACE_NONE or PACE_AUTO (the parameter) */
  int primed;             /* the bucket has a time */
  double tokens;          /* bytes; below 0: owed */
  uint64_t last_ns;       /* the bucket's last refill */
  double allowed;         /* auto's rate, 0: no auto limit */
  double ceiling;         /* auto's rate to return to */
  uint64_t tick_ns, tick_bytes;   /* the current interval of the read rate */
  double seen;                    /* the read rate of the last interval, bytes/s */
  uint64_t step_ns;               /* auto's last change of allowed */
  uint64_t bytes, waited_ns, waits;   /* totals for EseGetBackupPaceStatus */
  /* commit latency (ns): written with the instance lock held */
  _Atomic uint64_t lat_recent, lat_normal, lat_last_ns;
  _Atomic uint64_t last_read_ns;   /* the last pace_reserve (for the baseline) */
} pace;

typedef struct pace_status {
  uint64_t max_rate, rate;          /* the parameter; the rate in force now (0: none) */
  int mode, congested;
  uint64_t commit_recent_ns, commit_normal_ns;
  uint64_t bytes, waited_ns, waits;
} pace_status;

int pace_init(pace *p);                         /* 0, or -1 when the mutex cannot be made */
void pace_destroy(pace *p);
void pace_set(pace *p, uint64_t max_rate, int mode);
/* Charges up to want bytes (at least unit, at most one burst rounded down
 * to a multiple of unit; want itself when no rate is in force) to the
 * bucket at time now: *granted.  Returns the ns to wait before reading
 * them (0: at once). */
uint64_t pace_reserve(pace *p, uint64_t want, uint64_t unit, uint64_t now, uint64_t *granted);
/* A durable commit that took lat ns ended at now.  The caller holds the
 * instance lock (one writer). */
void pace_commit_latency(pace *p, uint64_t lat, uint64_t now);
/* The backup's own work other than reads (a slice of its checkpoints):
 * like a read, it holds the baseline (normal) still for PACE_STALE_NS. */
void pace_note_backup_work(pace *p, uint64_t now);
void pace_get_status(pace *p, uint64_t now, pace_status *st);
uint64_t pace_now_ns(void);                     /* os_mono_ns: the pace clock */
void pace_sleep_ns(uint64_t ns);
#endif
