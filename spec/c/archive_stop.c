/*
 * archive_stop.c -- JetTerm while the log archive's thread is between
 * letting its mutex go and waiting for the next closed generation
 * (archive.c, arc_main): the stop raised in that moment (its broadcast
 * reaching no waiter) must end the thread, not leave it waiting on its
 * condition forever while term joins it.  Without archive_timeout the
 * wait has no time limit, so such a term never returned (seen once in
 * `make test`: archive_spec's term after a ship hung).
 *
 *   held: the thread held at that point (ESE_FAULT=holdsync:archive-wait:
 *         PATH, os_hold_point), JetTerm started on another thread, the
 *         point let go after term raised the stop: term must return.
 *   rounds: records until the first generation is shipped, then JetTerm
 *         at once (the same moment, by chance), N rounds.
 * A term that hangs ends the program (SIGALRM).  Run by spec/archive_spec.lua.
 *
 * Usage: archive_stop [rounds]
 * Prints "archive_stop: ok held, N rounds".
 */
#define HARNESS_NAME "archive_stop"
#include "harness.h"
#include <pthread.h>

static JET_INSTANCE start(const char *dir, const char *arc) {
  JET_INSTANCE inst;
  char name[64];
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, "arcstop"), dir, 64, 0));
  CK(JetSetSystemParameter(&inst, 0, JET_paramArchivePath, 0, arc));
  CK(JetSetSystemParameter(&inst, 0, JET_paramArchiveTimeout, 0, NULL));   /* an untimed wait */
  CK(JetInit(&inst));
  return inst;
}

/* JetTerm of inst on a thread of its own, its answer in e. */
typedef struct {
  JET_ERR e;
  JET_INSTANCE inst;
} term_call;

static void *term_thread(void *p) {
  term_call *c = p;
  c->e = JetTerm(c->inst);
  return NULL;
}

static void held(void) {
  char dir[256], arc[300], hold[300], held_path[310], fault[400];
  harness_tempdir(dir, sizeof dir, "archive-stop-held");
  harness_in(arc, sizeof arc, dir, "arc");
  harness_in(hold, sizeof hold, dir, "hold");
  snprintf(held_path, sizeof held_path, "%s.held", hold);
  FILE *f = fopen(hold, "w");
  if (!f) FAIL("cannot make %s", hold);
  fclose(f);
  snprintf(fault, sizeof fault, "holdsync:archive-wait:%s", hold);
  setenv("ESE_FAULT", fault, 1);
  term_call t = { -1, start(dir, arc) };
  for (int i = 0; !harness_exists(held_path); i++) {   /* the thread reached the point */
    if (i == 30000) FAIL("the archive's thread never reached archive-wait");
    harness_nap_ms(1);
  }
  pthread_t th;
  if (pthread_create(&th, NULL, term_thread, &t) != 0) FAIL("pthread_create");
  harness_nap_ms(300);   /* term raises the stop meanwhile (if not yet, the case proves less, never fails wrongly) */
  unlink(hold);
  pthread_join(th, NULL);   /* the old thread waited forever here: SIGALRM */
  CK(t.e);
  unsetenv("ESE_FAULT");
  harness_rm_rf(dir);
  printf("held: term returned while the thread was let go after the stop\n");
}

static void round_(int r) {
  char dir[256], arc[300], dbpath[300];
  harness_tempdir(dir, sizeof dir, "archive-stop");
  harness_in(arc, sizeof arc, dir, "arc");
  harness_in(dbpath, sizeof dbpath, dir, "app.edb");
  JET_INSTANCE inst = start(dir, arc);
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  CK(harness_create_table(inst, dbpath, "t", &s, &db, &t));
  EseArchiveInfo ai;
  memset(&ai, 0, sizeof ai);
  ai.cbStruct = sizeof ai;
  char v[1024];
  memset(v, 'v', sizeof v);
  for (int i = 0; ai.ulShippedGeneration == 0; i++) {
    if (i < 1000) {   /* 1 MiB of records: the 64 KiB log files roll */
      char k[32];
      snprintf(k, sizeof k, "k%06d", i);
      CK(EsePut(s, t, k, strlen(k), v, sizeof v));
    }
    CK(EseArchiveStatus(inst, &ai));
  }
  CK(JetEndSession(s, 0));
  CK(JetTerm(inst));   /* at once: the thread may be between its ship and its wait */
  harness_rm_rf(dir);
  if (r % 10 == 0) printf("round %d: shipped through generation %lu, term returned\n", r, ai.ulShippedGeneration);
}

int main(int argc, char **argv) {
  harness_start(600);
  int rounds = argc > 1 ? atoi(argv[1]) : 20;
  held();
  for (int r = 0; r < rounds; r++) round_(r);
  printf("archive_stop: ok held, %d rounds\n", rounds);
  return 0;
}
