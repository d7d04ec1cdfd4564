/*
 * archive_race.c -- the log archive's thread against committing threads
 * and term (archive.h): writer threads commit (rolling the log often,
 * 64 KiB files) while the archive ships to a folder (even rounds) or
 * through a command (odd rounds: cp), with archive_timeout rolls and a
 * backlog small enough that commits see JET_wrnArchiveBacklog.  Odd rounds
 * term at once, while generations are still pending, and init again; every
 * round then waits until everything closed is shipped and compares each
 * archived file with the log folder's.  Run by spec/archive_spec.lua (and
 * under the sanitizers by make check).
 *
 * Usage: archive_race [rounds]
 * Prints "archive_race: ok N rounds".
 */
#define HARNESS_NAME "archive_race"
#include "harness.h"
#include <pthread.h>

#define WRITERS 4
#define RECORDS 300

typedef struct writer {
  JET_INSTANCE inst;
  const char *dbpath;
  int id;
  int warnings;
} writer;

static void *write_loop(void *p) {
  writer *w = p;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  CK(harness_open_table(w->inst, w->dbpath, 0, "t", &s, &db, &t));
  for (int i = 0; i < RECORDS; i++) {
    char k[32], v[512];
    snprintf(k, sizeof k, "w%d-%05d", w->id, i);
    memset(v, 'a' + w->id, sizeof v);
    JET_ERR e = EsePut(s, t, k, strlen(k), v, sizeof v);
    CK(e);
    if (e == JET_wrnArchiveBacklog) w->warnings++;
  }
  CK(JetEndSession(s, 0));
  return NULL;
}

static JET_INSTANCE start(const char *dir, const char *arc, int by_command) {
  JET_INSTANCE inst;
  char name[64], cmd[4400];
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "arc"), dir, 64, 0));
  if (by_command) {
    snprintf(cmd, sizeof cmd, "cp %%p %s/%%f", arc);
    CK(JetSetSystemParameter(&inst, 0, JET_paramArchiveCommand, 0, cmd));
  } else {
    CK(JetSetSystemParameter(&inst, 0, JET_paramArchivePath, 0, arc));
  }
  CK(JetSetSystemParameter(&inst, 0, JET_paramArchiveTimeout, 1, NULL));
  CK(JetSetSystemParameter(&inst, 0, JET_paramArchiveRetryMax, 10, NULL));
  CK(JetSetSystemParameter(&inst, 0, JET_paramArchiveMaxBacklog, 128 * 1024, NULL));
  CK(JetInit(&inst));
  return inst;
}

static EseArchiveInfo status(JET_INSTANCE inst) {
  EseArchiveInfo ai;
  memset(&ai, 0, sizeof ai);
  ai.cbStruct = sizeof ai;
  CK(EseArchiveStatus(inst, &ai));
  if (!ai.fEnabled) FAIL("the archive is not on");
  return ai;
}

/* The current generation of dir's log stream (B.log's header). */
static unsigned long current_gen(const char *dir) {
  char p[4200];
  EseFileInfo fi;
  memset(&fi, 0, sizeof fi);
  CK(EseGetFileInfo(harness_in(p, sizeof p, dir, "edb.log"), 0, &fi, NULL, 0));
  return fi.generation;
}

static void round_(int r) {
  char dir[256], arc[300], dbpath[300];
  harness_tempdir(dir, sizeof dir, "archive-race");
  harness_in(arc, sizeof arc, dir, "arc");
  harness_in(dbpath, sizeof dbpath, dir, "app.edb");
  int by_command = r % 2;
  if (by_command) harness_make_dir(arc);
  JET_INSTANCE inst = start(dir, arc, by_command);
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  CK(harness_create_table(inst, dbpath, "t", &s, &db, &t));
  pthread_t th[WRITERS];
  writer w[WRITERS];
  for (int i = 0; i < WRITERS; i++) {
    w[i] = (writer){ inst, dbpath, i, 0 };
    if (pthread_create(&th[i], NULL, write_loop, &w[i]) != 0) FAIL("pthread_create");
  }
  for (int i = 0; i < 50; i++) (void)status(inst);   /* status reads race with the ships */
  EseArchiveInfo bad;
  bad.cbStruct = sizeof bad - 1;
  harness_expect_err(EseArchiveStatus(inst, &bad), JET_errInvalidParameter, "EseArchiveStatus, a wrong cbStruct");
  int warnings = 0;
  for (int i = 0; i < WRITERS; i++) {
    pthread_join(th[i], NULL);
    warnings += w[i].warnings;
  }
  CK(JetEndSession(s, 0));
  if (by_command) {   /* term while generations are pending, then the next run ships them */
    CK(JetTerm(inst));
    inst = start(dir, arc, by_command);
  }
  unsigned long cur = current_gen(dir);
  EseArchiveInfo ai = status(inst);
  /* waited for while the archive ships (a generation within
   * HARNESS_WAIT_US: a bound for a hang; a command per generation is slow
   * on a loaded machine, and 30 s for them all was a measure of it) */
  unsigned long seen = ai.ulShippedGeneration;
  for (uint64_t limit = harness_now_us() + HARNESS_WAIT_US;
       ai.ulShippedGeneration < cur - 1 && harness_now_us() < limit;) {
    struct timespec ts = { 0, 50 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    ai = status(inst);
    if (ai.ulShippedGeneration != seen) {
      seen = ai.ulShippedGeneration;
      limit = harness_now_us() + HARNESS_WAIT_US;
    }
  }
  if (ai.ulShippedGeneration < cur - 1)
    FAIL("round %d: shipped %lu of %lu (%s)", r, ai.ulShippedGeneration, cur - 1, ai.szLastError);
  CK(JetTerm2(inst, JET_bitTermComplete));
  for (unsigned long g = 1; g < cur; g++) {
    char name[32], live[600], copy[600];
    snprintf(name, sizeof name, "edb%08lX.log", g);
    harness_in(live, sizeof live, dir, name);
    harness_in(copy, sizeof copy, arc, name);
    if (access(copy, F_OK) != 0) FAIL("round %d: %s is not archived", r, name);
    if (harness_file_hash(live) != harness_file_hash(copy)) FAIL("round %d: %s differs from its archived copy", r, name);
  }
  printf("round %d: %lu generations archived, %d backlog warnings\n", r, cur - 1, warnings);
  harness_rm_rf(dir);
}

int main(int argc, char **argv) {
  harness_start(900);
  int rounds = argc > 1 ? atoi(argv[1]) : 2;
  for (int r = 0; r < rounds; r++) round_(r);
  printf("archive_race: ok %d rounds\n", rounds);
  return 0;
}
