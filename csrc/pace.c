/* pace.c -- the backup pacer (pace.h states the rule). */
#include "pace.h"
#include "os.h"
#include <errno.h>
#include <string.h>
#include <time.h>

int pace_init(pace *p) {
  memset(p, 0, sizeof *p);
  return pthread_mutex_init(&p->m, NULL) == 0 ? 0 : -1;
}

void pace_destroy(pace *p) { pthread_mutex_destroy(&p->m); }

void pace_set(pace *p, uint64_t max_rate, int mode) {
  pthread_mutex_lock(&p->m);
  p->max_rate = max_rate;
  p->mode = mode;
  p->primed = 0;                /* a new rate starts with a full bucket, no debt */
  if (mode != PACE_AUTO) p->allowed = p->ceiling = 0;
  p->step_ns = 0;
  pthread_mutex_unlock(&p->m);
}

/* With p->m held: 0 when no durable commit ended within PACE_STALE_NS
 * (the latencies say nothing about now), else 1 with *r recent (the mean
 * of the last window evaluated) and *n normal. */
static int latency(const pace *p, uint64_t now, double *r, double *n) {
  if (p->lat_last_ns == 0 || now < p->lat_last_ns || now - p->lat_last_ns > PACE_STALE_NS) return 0;
  *r = p->lat_recent;
  *n = p->lat_normal;
  return 1;
}

/* The excess over normal that commits may have: normal / PACE_BOUND_DIV,
 * at least PACE_FLOOR_NS (smaller gaps are noise). */
static double bound_of(double n) {
  double b = n / PACE_BOUND_DIV;
  return b > (double)PACE_FLOOR_NS ? b : (double)PACE_FLOOR_NS;
}

static int congested(const pace *p, uint64_t now) {
  double r, n;
  return latency(p, now, &r, &n) && p->lat_recent_n > 0 && r - n > bound_of(n);
}

/* With p->m held: 1 when a backup read (or did other work) within
 * PACE_QUIET_NS of now: commits then may be slowed by it. */
static int reading(const pace *p, uint64_t now) {
  return p->last_read_ns && now >= p->last_read_ns && now - p->last_read_ns <= PACE_QUIET_NS;
}

/* With p->m held: the window of commits since the last one becomes
 * recent (its mean) when it is due: PACE_WINDOW_COMMITS commits, or at
 * least one and an interval old (without an auto limit in force:
 * PACE_FIRST_WINDOW_COMMITS, PACE_FIRST_WINDOW_NS).  normal follows the windows no backup
 * disturbs (each weighs 1/PACE_NORMAL_WEIGHT; the first window sets it,
 * disturbed or not); while backups read it holds still, so that commits
 * the backup slows never become the normal. */
static void take_window(pace *p, uint64_t now) {
  /* without an auto limit in force a short window: the unpaced reads
   * that hurt commits most are the ones to stop first */
  int limited = p->allowed > 0;
  uint32_t want = limited ? PACE_WINDOW_COMMITS : PACE_FIRST_WINDOW_COMMITS;
  uint64_t age = limited ? PACE_INTERVAL_NS : PACE_FIRST_WINDOW_NS;
  if (p->win_n == 0 || (p->win_n < want && now - p->win_ns < age)) return;
  double mean = p->win_sum / (double)p->win_n;
  if (!p->normal_known) {
    p->lat_normal = mean;
    p->normal_known = 1;
  } else if (!reading(p, now)) {
    p->lat_normal += (mean - p->lat_normal) / PACE_NORMAL_WEIGHT;
  }
  p->lat_recent = mean;
  p->lat_recent_n = p->win_n;
  p->step_sum += p->win_sum;
  p->step_n += p->win_n;
  p->win_seq++;
  p->win_sum = 0;
  p->win_n = 0;
  p->win_ns = now;
}

/* The rate in force (0: none), with p->m held. */
static double rate_now(const pace *p) {
  double r = (double)p->max_rate;
  if (p->mode == PACE_AUTO && p->allowed > 0 && (r == 0 || p->allowed < r)) r = p->allowed;
  return r;
}

/* Auto's step, with p->m held (pace.h states the rule): the first limit as
 * soon as commits are congested, then one step per interval.  seen: the
 * read rate of the last whole interval (of the current one before the
 * first has ended). */
static void aimd(pace *p, uint64_t now) {
  if (!p->tick_ns || now - p->last_req_ns > PACE_INTERVAL_NS) {
    /* the readers were idle for an interval (between files, between
     * backups): a new measuring span, from now */
    p->tick_ns = now;
    p->tick_bytes = 0;
    p->seen = 0;
  }
  p->last_req_ns = now;
  uint64_t span = now - p->tick_ns;
  if (span >= PACE_INTERVAL_NS) {
    p->seen = (double)p->tick_bytes * 1e9 / (double)span;
    /* a whole interval read without any limit: the unpaced rate is a
     * peak that decays by a quarter per such interval (one slow interval,
     * a pause between two files, does not make it) */
    if (rate_now(p) == 0) p->fast = p->seen > p->fast * 0.75 ? p->seen : p->fast * 0.75;
    p->tick_ns = now;
    p->tick_bytes = 0;
  } else if (p->seen == 0 && span >= PACE_SPAN_MIN_NS) {
    p->seen = (double)p->tick_bytes * 1e9 / (double)span;
  }
  if (p->mode != PACE_AUTO) return;
  int due = !p->step_ns || now - p->step_ns >= PACE_INTERVAL_NS;
  if (p->allowed > 0 && !due) return;
  take_window(p, now);
  double r = 0, n = 0;
  int fresh = latency(p, now, &r, &n);
  /* a step needs a new recent, or no fresh commit at all (calm); a
   * commit that takes longer than the interval holds the rate */
  if (fresh && p->win_seq == p->step_seq) return;
  p->step_seq = p->win_seq;
  /* with a limit in force a step weighs every commit since the last step */
  if (p->allowed > 0 && p->step_n) r = p->step_sum / (double)p->step_n;
  p->step_sum = 0;
  p->step_n = 0;
  double excess = fresh ? r - n : 0, bound = bound_of(n);
  int over = fresh && p->lat_recent_n > 0 && excess > bound;
  if (p->allowed == 0) {
    double unpaced = p->fast > p->seen ? p->fast : p->seen;
    if (!over || unpaced == 0) return;     /* no read rate known yet: not before PACE_SPAN_MIN_NS of reads */
    double cap = (double)p->max_rate;
    p->ceiling = cap > 0 && cap < unpaced ? cap : unpaced;
    if (p->ceiling < 2 * PACE_MIN_RATE) p->ceiling = 2 * PACE_MIN_RATE;
    p->allowed = p->ceiling;
  }
  /* the excess taken as proportional to the read rate: the factor that
   * brings it to the aim; down at once (as far as the floor), up by at
   * most a quarter a step while commits are measured (one calm interval
   * is no proof that the rate which caused the congestion is harmless:
   * doubling back to the ceiling made auto swing between its floor and
   * unpaced reads); with no fresh commit there is no one to protect */
  double aim = bound * PACE_AIM, f = excess > 0 ? aim / excess : PACE_STEP_IDLE;
  double up = fresh ? PACE_STEP_UP : PACE_STEP_IDLE;
  if (f > up) f = up;
  if (f < 1 / PACE_STEP_DOWN) f = 1 / PACE_STEP_DOWN;
  double lowest = p->ceiling / PACE_AUTO_MIN_SHARE;
  if (lowest < PACE_MIN_RATE) lowest = PACE_MIN_RATE;
  p->allowed *= f;
  if (p->allowed < lowest) p->allowed = lowest;
  if (p->allowed >= p->ceiling) p->allowed = p->ceiling = 0;   /* calm at the ceiling: the limit ends */
  p->step_ns = now;
}

void pace_note_backup_work(pace *p, uint64_t now) {
  pthread_mutex_lock(&p->m);
  p->last_read_ns = now ? now : 1;
  pthread_mutex_unlock(&p->m);
}

uint64_t pace_reserve(pace *p, uint64_t want, uint64_t unit, uint64_t now, uint64_t *granted) {
  if (unit == 0) unit = 1;
  pthread_mutex_lock(&p->m);
  aimd(p, now);
  double rate = rate_now(p);
  uint64_t wait = 0;
  p->last_read_ns = now ? now : 1;
  if (rate <= 0) {
    *granted = want;
    p->primed = 0;              /* a rate set later starts with a full bucket */
  } else {
    double burst = rate * (double)PACE_INTERVAL_NS / 1e9;
    uint64_t most = (uint64_t)burst;
    if (p->mode == PACE_AUTO && p->allowed > 0 && most > PACE_AUTO_PIECE) most = PACE_AUTO_PIECE;
    most = most / unit * unit;
    if (most < unit) most = unit;
    uint64_t g = want < most ? want : most;
    if (!p->primed) {
      p->primed = 1;
      p->tokens = burst;
      p->last_ns = now;
    }
    if (now > p->last_ns) {
      p->tokens += rate * (double)(now - p->last_ns) / 1e9;
      if (p->tokens > burst) p->tokens = burst;
      p->last_ns = now;
    }
    p->tokens -= (double)g;
    if (p->tokens < 0) wait = (uint64_t)(-p->tokens / rate * 1e9) + 1;
    *granted = g;
  }
  p->bytes += *granted;
  p->tick_bytes += *granted;
  if (wait) {
    p->waits++;
    p->waited_ns += wait;
  }
  pthread_mutex_unlock(&p->m);
  return wait;
}

void pace_commit_latency(pace *p, uint64_t lat, uint64_t now) {
  pthread_mutex_lock(&p->m);
  if (p->lat_last_ns == 0) p->lat_recent = p->lat_normal = (double)lat;   /* a first figure (the first window replaces it) */
  if (p->win_n == 0) p->win_ns = now;
  p->win_sum += (double)lat;
  p->win_n++;
  p->lat_last_ns = now ? now : 1;
  take_window(p, now);
  pthread_mutex_unlock(&p->m);
}

void pace_get_status(pace *p, uint64_t now, pace_status *st) {
  pthread_mutex_lock(&p->m);
  double r = rate_now(p);
  st->max_rate = p->max_rate;
  st->rate = (uint64_t)r;
  st->mode = p->mode;
  st->bytes = p->bytes;
  st->waited_ns = p->waited_ns;
  st->waits = p->waits;
  st->congested = congested(p, now);
  st->commit_recent_ns = (uint64_t)p->lat_recent;
  st->commit_normal_ns = (uint64_t)p->lat_normal;
  pthread_mutex_unlock(&p->m);
}

uint64_t pace_now_ns(void) { return os_mono_ns(); }

void pace_sleep_ns(uint64_t ns) {
  struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}
