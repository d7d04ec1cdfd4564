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
 * The rate is backup_max_rate (0: none), lowered in "auto" mode by a
 * controller on the instance's durable-commit latency, evaluated at each
 * request: a first limit at once when commits become congested, then at
 * most one step per interval:
 *   recent     = the mean latency (request to durable) of a window of
 *                PACE_WINDOW_COMMITS durable commits (or fewer, an
 *                interval's; without an auto limit in force a short one,
 *                PACE_FIRST_WINDOW_COMMITS or PACE_FIRST_WINDOW_NS, so
 *                unpaced reads that hurt commits are stopped soon); a
 *                step weighs every commit since the last step
 *   normal     = an average of the windows no backup disturbed (no read
 *                or other backup work within PACE_QUIET_NS), each
 *                weighing 1/PACE_NORMAL_WEIGHT (the first window sets
 *                it); it holds still while backups read, so commits the
 *                backup slows never become the normal
 *   excess     = recent - normal;  bound = max(normal / PACE_BOUND_DIV,
 *                PACE_FLOOR_NS)  (a closed-loop writer whose commits take
 *                normal + bound keeps 1 / (1 + 1/PACE_BOUND_DIV) = 0.8 of
 *                its rate)
 *   congested  <=> a durable commit ended within PACE_STALE_NS and
 *                  excess > bound
 *   first limit (a new window shows congestion, no auto limit in force):
 *              ceiling = the unpaced read rate: the higher of a peak of
 *              the read rates of whole intervals read without any limit
 *              (each such interval sets it to the higher of its own rate
 *              and 3/4 of the peak; kept across backups) and the read
 *              rate of the current span (its
 *              last interval, or the span itself once it is
 *              PACE_SPAN_MIN_NS long); a span of reading starts anew
 *              after an interval without requests; capped by
 *              backup_max_rate, at least 2 x PACE_MIN_RATE (no read rate
 *              known yet: no limit yet); allowed = ceiling, then a step
 *   each step (at once for the first limit, then at most once per
 *              interval, and only with a new window or no fresh commit):
 *              allowed *= aim / excess (aim = PACE_AIM x bound: the
 *              excess taken as proportional to the read rate), the factor
 *              at least 1/PACE_STEP_DOWN and at most PACE_STEP_UP
 *              (PACE_STEP_IDLE when no commit is fresh; the most when
 *              there is no excess); allowed kept within
 *              [max(ceiling / PACE_AUTO_MIN_SHARE, PACE_MIN_RATE), ceiling];
 *              back at the ceiling the auto limit ends
 * So a congested backup is at its lowest rate within one step and, once
 * commits are calm, climbs back by a quarter a step (from the floor to
 * the ceiling in seven: one calm interval, often the disk's noise, does
 * not bring back the unpaced reads that hurt); with no commit at all it
 * doubles a step.  It never reads slower than a quarter of the rate it
 * read at before the limit (a foreground-first backup that still ends).
 * While auto has a limit in
 * force, a piece is at most PACE_AUTO_PIECE bytes (below the kernel
 * readahead threshold of backup.c: small reads let a commit's sync in
 * sooner).
 *
 * Locking: p->m guards everything (a leaf lock: nothing is called with it
 * held); commits report their latency under it (once per durable commit).
 */
#ifndef ESE_PACE_H
#define ESE_PACE_H
#include <pthread.h>
#include <stdint.h>

#define PACE_INTERVAL_NS 100000000ull      /* 100 ms: refill, burst, AIMD step */
#define PACE_SPAN_MIN_NS 5000000ull        /* 5 ms: the shortest span whose read rate counts */
#define PACE_STALE_NS 1000000000ull        /* latency older than 1 s says nothing */
#define PACE_FLOOR_NS 100000ull            /* 0.1 ms: smaller excesses are noise */
#define PACE_BOUND_DIV 4.0                 /* commits may take normal x 5/4: the writer keeps 0.8 */
#define PACE_AIM 0.8                       /* auto aims at this share of the bound */
#define PACE_STEP_DOWN 4.0                 /* one step at most divides the rate by 4 */
#define PACE_STEP_UP 1.25                  /* ... and, commits measured, raises it by a quarter */
#define PACE_STEP_IDLE 2.0                 /* ... or, no fresh commit, doubles it */
#define PACE_AUTO_MIN_SHARE 4.0            /* auto's lowest rate: ceiling / 4 */
#define PACE_WINDOW_COMMITS 32u            /* a window of commits is due at 32 (or an interval) */
#define PACE_FIRST_WINDOW_COMMITS 8u       /* ... at 8 (or 20 ms) while auto has no limit */
#define PACE_FIRST_WINDOW_NS 20000000ull
#define PACE_NORMAL_WEIGHT 16.0            /* normal weighs each undisturbed window by 1/16 */
#define PACE_QUIET_NS 300000000ull         /* 300 ms without backup reads: commits are undisturbed */
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
  uint64_t last_req_ns;           /* the last request (an idle gap starts a new span) */
  double seen;                    /* the read rate of the last interval, bytes/s */
  double fast;                    /* the peak of the whole intervals read without a limit */
  uint64_t step_ns;               /* auto's last change of allowed */
  uint64_t bytes, waited_ns, waits;   /* totals for EseGetBackupPaceStatus */
  /* commit latency (ns) */
  double lat_recent, lat_normal;  /* the last window's mean; the baseline */
  uint32_t lat_recent_n;          /* commits in that window (0: none yet) */
  uint64_t lat_last_ns;           /* the last durable commit ended */
  double win_sum;                 /* the commits since the last window was taken */
  uint32_t win_n;
  uint64_t win_ns;                /* its first commit */
  uint64_t win_seq, step_seq;     /* windows taken; the last one a step used */
  double step_sum;                /* the commits of the windows since the last step */
  uint64_t step_n;
  int normal_known;               /* lat_normal holds a window's mean */
  uint64_t last_read_ns;          /* the last pace_reserve or backup work (for the baseline) */
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
