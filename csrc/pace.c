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

static int congested(pace *p, uint64_t now) {
  uint64_t last = atomic_load_explicit(&p->lat_last_ns, memory_order_relaxed);
  if (last == 0 || now < last || now - last > PACE_STALE_NS) return 0;
  uint64_t r = atomic_load_explicit(&p->lat_recent, memory_order_relaxed);
  uint64_t n = atomic_load_explicit(&p->lat_normal, memory_order_relaxed);
  return r >= 2 * n && r >= n + PACE_FLOOR_NS;
}

/* The rate in force (0: none), with p->m held. */
static double rate_now(const pace *p) {
  double r = (double)p->max_rate;
  if (p->mode == PACE_AUTO && p->allowed > 0 && (r == 0 || p->allowed < r)) r = p->allowed;
  return r;
}

/* Auto's step, with p->m held: a decrease as soon as commits are
 * congested and then at most once per interval, an increase once per
 * interval while they are not.  seen: the read rate of the last whole
 * interval (of the current one before the first has ended). */
static void aimd(pace *p, uint64_t now) {
  if (!p->tick_ns) p->tick_ns = now;
  uint64_t span = now - p->tick_ns;
  if (span >= PACE_INTERVAL_NS) {
    p->seen = (double)p->tick_bytes * 1e9 / (double)span;
    p->tick_ns = now;
    p->tick_bytes = 0;
  } else if (p->seen == 0 && span > 0) {
    p->seen = (double)p->tick_bytes * 1e9 / (double)span;
  }
  if (p->mode != PACE_AUTO) return;
  int due = !p->step_ns || now - p->step_ns >= PACE_INTERVAL_NS;
  if (congested(p, now)) {
    if (p->allowed > 0 && !due) return;
    if (p->allowed == 0) {
      double cap = (double)p->max_rate;
      p->ceiling = cap > 0 && (p->seen == 0 || cap < p->seen) ? cap : p->seen;
      if (p->ceiling < 2 * PACE_MIN_RATE) p->ceiling = 2 * PACE_MIN_RATE;
      p->allowed = p->ceiling;
    }
    p->allowed /= 2;
    if (p->allowed < PACE_MIN_RATE) p->allowed = PACE_MIN_RATE;
    p->step_ns = now;
  } else if (p->allowed > 0 && due) {
    p->allowed += p->ceiling / 8;
    if (p->allowed >= p->ceiling) p->allowed = p->ceiling = 0;
    p->step_ns = now;
  }
}

void pace_note_backup_work(pace *p, uint64_t now) {
  atomic_store_explicit(&p->last_read_ns, now ? now : 1, memory_order_relaxed);
}

uint64_t pace_reserve(pace *p, uint64_t want, uint64_t unit, uint64_t now, uint64_t *granted) {
  if (unit == 0) unit = 1;
  pthread_mutex_lock(&p->m);
  aimd(p, now);
  double rate = rate_now(p);
  uint64_t wait = 0;
  atomic_store_explicit(&p->last_read_ns, now ? now : 1, memory_order_relaxed);
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
  uint64_t r = atomic_load_explicit(&p->lat_recent, memory_order_relaxed);
  uint64_t n = atomic_load_explicit(&p->lat_normal, memory_order_relaxed);
  uint64_t read = atomic_load_explicit(&p->last_read_ns, memory_order_relaxed);
  int reading = read && now >= read && now - read <= PACE_STALE_NS;
  if (atomic_load_explicit(&p->lat_last_ns, memory_order_relaxed) == 0) {
    r = n = lat;
  } else {
    r = (uint64_t)((int64_t)r + ((int64_t)lat - (int64_t)r) / 16);
    n = (uint64_t)((int64_t)n + ((int64_t)lat - (int64_t)n) / (reading ? 1024 : 16));
  }
  atomic_store_explicit(&p->lat_recent, r, memory_order_relaxed);
  atomic_store_explicit(&p->lat_normal, n, memory_order_relaxed);
  atomic_store_explicit(&p->lat_last_ns, now ? now : 1, memory_order_relaxed);
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
  pthread_mutex_unlock(&p->m);
  st->congested = congested(p, now);
  st->commit_recent_ns = atomic_load_explicit(&p->lat_recent, memory_order_relaxed);
  st->commit_normal_ns = atomic_load_explicit(&p->lat_normal, memory_order_relaxed);
}

uint64_t pace_now_ns(void) { return os_mono_ns(); }

void pace_sleep_ns(uint64_t ns) {
  struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}
