/*
 * redo_fixture.h -- what the replay harnesses share (redo_dbtime.c,
 * pageop_test.c): a database made by the engine to replay records onto,
 * and raw reads of its pages and header.  Include after harness.h and
 * internal.h; the includer defines PAGE_SIZE and the statics dir, dbpath.
 */
#ifndef REDO_FIXTURE_H
#define REDO_FIXTURE_H

static void read_page(uint32_t pgno, uint8_t *out) {
  int fd = open(dbpath, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || pread(fd, out, PAGE_SIZE, (off_t)pgno * PAGE_SIZE) != PAGE_SIZE) FAIL("read %s", dbpath);
  close(fd);
}

static void read_header(dbheader *h) {
  esio *io;
  esfile *f;
  CK(esio_new(&io));
  CK(os_open(io, dbpath, OS_READ, &f));
  CK(dbheader_read(f, PAGE_SIZE, h));
  os_close(f);
  esio_free(io);
}

/* app.edb in a new folder named after tag: created, table "t" with the 20
 * records k00..k19, clean term; its header into *h. */
static void make_db(const char *tag, dbheader *h) {
  harness_tempdir(dir, sizeof dir, tag);
  harness_in(dbpath, sizeof dbpath, dir, "app.edb");
  JET_INSTANCE inst;
  JET_SESID s;
  JET_DBID db;
  JET_TABLEID t;
  char name[64];
  CK(harness_instance(&inst, harness_unique_name(name, sizeof name, tag), dir, 0, 0));
  CK(JetInit(&inst));
  CK(harness_create_table(inst, dbpath, "t", &s, &db, &t));
  harness_put_keys(s, t, "k", 0, 20);
  CK(JetEndSession(s, 0));
  CK(JetTerm2(inst, JET_bitTermComplete));
  read_header(h);
}

#endif
