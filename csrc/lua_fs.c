/*
 * lua_fs.c -- ese.fs: the file-system primitives of the Lua automation
 * (ese.backup, ese.cli), so that it never starts a process and every
 * failure is an ese.Error object (JET_errFileNotFound,
 * JET_errOutOfFileHandles, JET_errDiskFull, JET_errDiskIO, ...):
 *
 *   fs.stat(path)            { kind = "absent"|"file"|"folder"|"link"|"other",
 *                              size =, mode = } (lstat: never follows a link)
 *   fs.list(dir)             sorted names, "." and ".." left out
 *   fs.mkdir(path [, mode])  one folder (mode default 0700)
 *   fs.mkdir_p(path [, mode]) every missing folder; -> the ones it made,
 *                            outermost first
 *   fs.remove(path)          a file or a link (unlink; no descriptor)
 *   fs.rmdir(path)           an empty folder
 *   fs.remove_tree(path)     rm -rf that never follows a link, not even
 *                            one spelt "link/" (openat,
 *                            O_NOFOLLOW, unlinkat); absent is no error
 *   fs.rename(from, to)      fs.chmod(path, mode) (never follows a link;
 *                            needs no read permission)
 *   fs.fsync(path)           fs.fsync_dir(path)
 *   fs.read(path [, off, len]) a regular file's bytes (at most len
 *                            from offset off: chunks of a large file)
 *   fs.create(path)          ese.FileWriter: a new file (O_EXCL, 0600);
 *                            w:write(s), w:sync(), w:close();
 *                            w:sync_step(): the sync on an engine thread,
 *                            true while it runs (each call waits ~2 ms at
 *                            most), false once done (its error raised)
 *   fs.fsync_dir_start(path) ese.SyncJob: the folder's sync started on an
 *                            engine thread; j:step() as w:sync_step(),
 *                            j:close() waits for it (never raises)
 *   fs.sha256()              ese.Sha256: h:update(s), h:finish() -> hex
 *   fs.sha256_file(path)     the hex SHA-256 of a regular file
 *   fs.clock()               monotonic seconds (a float)
 *   fs.now()                 wall-clock seconds since the Unix epoch (a
 *                            float, to the microsecond: the clock commit
 *                            records carry, for restore's to_time)
 *   fs.isatty(fd)            whether descriptor fd is a terminal
 *
 * Writes, syncs and renames, which the engine's fault injection counts
 * (ESE_FAULT, os.h), go through one esio per Lua state, made at the first
 * such call, so ESE_FAULT reaches the automation's writes too.  Removals
 * are not counted: the clean-up after a fault must still work.
 * Every descriptor is opened with O_CLOEXEC; nothing here opens a FIFO or
 * a device for reading (O_NONBLOCK, then a regular-file check).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "lua_ese.h"
#include "os.h"
#include "sha256.h"

#define FS_IO_T     "ese.FsIo"
#define FILEWRITER_T "ese.FileWriter"
#define SHA256_T    "ese.Sha256"
#define FS_IO_KEY   "ese.fs.io"
#define FS_HELD_T   "ese.FsHeld"
#define SYNCJOB_T   "ese.SyncJob"
/* a polled sync waits this long for its engine thread per call */
#define SYNC_STEP_US 2000u

static int raise_errno(lua_State *L, int e, const char *op, const char *path) {
  return ese_raise_detail(L, os_err(e), op, lua_pushfstring(L, "%s: %s", path, strerror(e)));
}

static int raise_jet(lua_State *L, JET_ERR e, const char *op, const char *path) {
  return ese_raise_detail(L, e, op, path);
}

/* ese_checkpath, with *len the path's length when len is given. */
static const char *check_path(lua_State *L, int arg, const char *op, size_t *len) {
  const char *p = ese_checkpath(L, arg, op);
  if (len) *len = strlen(p);
  return p;
}

/* ---- the fault-injection context ------------------------------------------ */

typedef struct { esio *io; } FsIo;

static int fsio_gc(lua_State *L) {
  FsIo *x = (FsIo *)luaL_checkudata(L, 1, FS_IO_T);
  esio_free(x->io);
  x->io = NULL;
  return 0;
}

/* The state's esio (made at the first call: ESE_FAULT is read then); the
 * FsIo userdata is pushed too, so a writer can keep it alive. */
static esio *push_io(lua_State *L, const char *op) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, FS_IO_KEY) == LUA_TUSERDATA) {
    FsIo *x = (FsIo *)luaL_checkudata(L, -1, FS_IO_T);
    if (x->io) return x->io;
  }
  lua_pop(L, 1);
  FsIo *x = (FsIo *)lua_newuserdatauv(L, sizeof *x, 0);
  x->io = NULL;
  luaL_setmetatable(L, FS_IO_T);
  JET_ERR e = esio_new(&x->io);
  if (e) ese_raise(L, e, op);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, FS_IO_KEY);
  return x->io;
}

static esio *get_io(lua_State *L, const char *op) {
  esio *io = push_io(L, op);
  lua_pop(L, 1);
  return io;
}

/* ---- stat, list, folders ----------------------------------------------- */

static int fs_stat(lua_State *L) {
  const char *path = check_path(L, 1, "stat", NULL);
  struct stat st;
  lua_createtable(L, 0, 5);
  if (lstat(path, &st) != 0) {
    if (errno != ENOENT && errno != ENOTDIR) return raise_errno(L, errno, "stat", path);
    lua_pushliteral(L, "absent");
    lua_setfield(L, -2, "kind");
    return 1;
  }
  const char *kind = S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "folder"
                   : S_ISLNK(st.st_mode) ? "link" : "other";
  lua_pushstring(L, kind);
  lua_setfield(L, -2, "kind");
  lua_pushinteger(L, (lua_Integer)st.st_size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)(st.st_mode & 07777));
  lua_setfield(L, -2, "mode");
  /* the inode and its last change (content, size, links, mode): a file
   * written or replaced since an earlier stat (backup.expire's plan) */
  lua_pushinteger(L, (lua_Integer)st.st_ino);
  lua_setfield(L, -2, "ino");
  lua_pushinteger(L, (lua_Integer)st.st_ctim.tv_sec * 1000000000 + (lua_Integer)st.st_ctim.tv_nsec);
  lua_setfield(L, -2, "ctime_ns");
  return 1;
}

/* ---- C resources held while Lua allocates ----------------------------------- */

/* A descriptor and a name array that a function holds while it builds its
 * result with Lua allocations, any of which may raise a memory error.
 * push_held pushes the box empty, as a to-be-closed slot, before the
 * function takes anything; a raise then closes the slot, and __close
 * (or, failing that, __gc) releases what is in it.  Release is
 * idempotent. */
typedef struct { int fd; char **names; size_t n; } FsHeld;

static void held_release(FsHeld *h) {
  if (h->fd >= 0) close(h->fd);
  h->fd = -1;
  os_free_names(h->names, h->n);
  h->names = NULL;
  h->n = 0;
}

static int held_gc(lua_State *L) {
  held_release((FsHeld *)luaL_checkudata(L, 1, FS_HELD_T));
  return 0;
}

static FsHeld *push_held(lua_State *L) {
  FsHeld *h = (FsHeld *)lua_newuserdatauv(L, sizeof *h, 0);
  h->fd = -1;
  h->names = NULL;
  h->n = 0;
  luaL_setmetatable(L, FS_HELD_T);
  lua_toclose(L, -1);
  return h;
}

static int fs_list(lua_State *L) {
  const char *dir = check_path(L, 1, "list", NULL);
  FsHeld *h = push_held(L);              /* the names, while the table is built */
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return raise_errno(L, errno, "list", dir);
  DIR *d = fdopendir(fd);
  if (!d) { int e = errno; close(fd); return raise_errno(L, e, "list", dir); }
  int e = os_read_names(d, &h->names, &h->n);
  closedir(d);
  if (e) return raise_errno(L, e, "list", dir);
  size_t n = h->n;
  lua_createtable(L, (int)(n < 1000000 ? n : 0), 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushstring(L, h->names[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  held_release(h);
  return 1;
}

/* A mode argument: 0 .. 07777 (a negative one or one past mode_t's bits
 * would reach the system cut to other bits); absent: dflt, or an argument
 * error when dflt < 0. */
static mode_t mode_arg(lua_State *L, int arg, lua_Integer dflt) {
  lua_Integer m = dflt < 0 ? luaL_checkinteger(L, arg) : luaL_optinteger(L, arg, dflt);
  luaL_argcheck(L, m >= 0 && m <= 07777, arg, "mode out of range");
  return (mode_t)m;
}

static int fs_mkdir(lua_State *L) {
  const char *path = check_path(L, 1, "mkdir", NULL);
  mode_t mode = mode_arg(L, 2, 0700);
  if (os_folder_too_long(path)) return raise_jet(L, JET_errInvalidPath, "mkdir", path);
  if (mkdir(path, mode) != 0) return raise_errno(L, errno, "mkdir", path);
  return 0;
}

/* mkdir -p: the folders made, outermost first (a caller that fails later
 * removes them in reverse).  A path component that exists and is not a
 * folder (or a link to one): JET_errInvalidPath. */
static int fs_mkdir_p(lua_State *L) {
  size_t len;
  const char *path = check_path(L, 1, "mkdir_p", &len);
  mode_t mode = mode_arg(L, 2, 0700);
  if (len == 0 || os_folder_too_long(path)) return raise_jet(L, JET_errInvalidPath, "mkdir_p", path);
  lua_newtable(L);
  int made = 0;
  for (size_t i = 1; i <= len; i++) {
    if (i < len && path[i] != '/') continue;
    if (path[i - 1] == '/') continue;                  /* "a//b" */
    lua_pushlstring(L, path, i);
    const char *p = lua_tostring(L, -1);
    struct stat st;
    JET_ERR e = JET_errSuccess;
    int err = 0;
    if (stat(p, &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        lua_pop(L, 1);
        continue;
      }
      e = JET_errInvalidPath;
    } else if (errno != ENOENT || mkdir(p, mode) != 0) {
      err = errno;
    }
    if (e || err) {
      /* undo: what this call made, innermost first */
      for (int k = made; k > 0; k--) {
        lua_rawgeti(L, -2, k);
        (void)rmdir(lua_tostring(L, -1));
        lua_pop(L, 1);
      }
      if (e) return raise_jet(L, e, "mkdir_p", lua_pushfstring(L, "%s is not a folder", p));
      return raise_errno(L, err, "mkdir_p", p);
    }
    lua_rawseti(L, -2, ++made);
  }
  return 1;
}

static int fs_remove(lua_State *L) {
  const char *path = check_path(L, 1, "remove", NULL);
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
    return raise_jet(L, JET_errInvalidPath, "remove", lua_pushfstring(L, "%s is a folder", path));
  if (unlink(path) != 0) return raise_errno(L, errno, "remove", path);
  return 0;
}

static int fs_rmdir(lua_State *L) {
  const char *path = check_path(L, 1, "rmdir", NULL);
  if (rmdir(path) != 0) {
    /* not empty is a misuse of the path, not a failing disk */
    if (errno == ENOTEMPTY || errno == EEXIST)
      return raise_jet(L, JET_errInvalidPath, "rmdir", lua_pushfstring(L, "%s: the folder is not empty", path));
    return raise_errno(L, errno, "rmdir", path);
  }
  return 0;
}

/* The entry is the path's last name (trailing slashes dropped) in the
 * folder before it, looked at without following it: "link/" or "link//"
 * removes the link, never what it names; a last name "." or ".." (or none)
 * is JET_errInvalidPath.  Links in the folders before the last name are
 * followed, as every call here does. */
static int fs_remove_tree(lua_State *L) {
  size_t len;
  const char *path = check_path(L, 1, "remove_tree", &len);
  while (len > 1 && path[len - 1] == '/') len--;
  const char *leaf = path + len;
  while (leaf > path && leaf[-1] != '/') leaf--;
  size_t leaflen = (size_t)(path + len - leaf);
  if (leaflen == 0 || (leaflen <= 2 && strncmp(leaf, "..", leaflen) == 0))
    return raise_jet(L, JET_errInvalidPath, "remove_tree", lua_pushfstring(L, "%s: name the entry to remove", path));
  const char *parent = leaf == path ? "." : lua_pushlstring(L, path, (size_t)(leaf - path));
  const char *name = lua_pushlstring(L, leaf, leaflen);
  int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (pfd < 0) {
    if (errno == ENOENT) return 0;
    return raise_errno(L, errno, "remove_tree", path);
  }
  struct stat st;
  int e = 0;
  if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    e = errno == ENOENT ? 0 : errno;
  } else if (!S_ISDIR(st.st_mode)) {       /* a file or a link: the entry itself */
    if (unlinkat(pfd, name, 0) != 0 && errno != ENOENT) e = errno;
  } else {
    int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    e = fd < 0 ? errno : os_remove_entries(fd);
    if (!e && unlinkat(pfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) e = errno;
  }
  close(pfd);
  if (e) return raise_errno(L, e, "remove_tree", path);
  return 0;
}

static int fs_rename(lua_State *L) {
  const char *from = check_path(L, 1, "rename", NULL);
  const char *to = check_path(L, 2, "rename", NULL);
  JET_ERR e = os_rename(get_io(L, "rename"), from, to);
  if (e) return raise_jet(L, e, "rename", lua_pushfstring(L, "%s -> %s", from, to));
  return 0;
}

/* Opens path for reading without following a link and without blocking on
 * a FIFO; fd or -1 (errno). */
static int open_nofollow(const char *path, int dir) {
  return open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
}

/* chmod that never follows a link and needs no read permission: the
 * entry is opened with O_PATH | O_NOFOLLOW (no access to its content),
 * a link is refused (EPERM), and the mode is set through
 * /proc/self/fd/N, which names exactly the opened entry (fchmod on an
 * O_PATH descriptor is EBADF on Linux).  Without /proc: ENOENT. */
static int fs_chmod(lua_State *L) {
  const char *path = check_path(L, 1, "chmod", NULL);
  mode_t mode = mode_arg(L, 2, -1);
  int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return raise_errno(L, errno, "chmod", path);
  struct stat st;
  char proc[64];
  int r = fstat(fd, &st), e = errno;
  if (r == 0 && S_ISLNK(st.st_mode)) r = -1, e = EPERM;
  if (r == 0) {
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    r = chmod(proc, mode);
    e = errno;
  }
  close(fd);
  if (r != 0) return raise_errno(L, e, "chmod", path);
  return 0;
}

static int fs_fsync(lua_State *L) {
  const char *path = check_path(L, 1, "fsync", NULL);
  esfile *f;
  JET_ERR e = os_open(get_io(L, "fsync"), path, OS_READ, &f);
  if (e) return raise_jet(L, e, "fsync", path);
  e = os_sync(f);
  os_close(f);
  if (e) return raise_jet(L, e, "fsync", path);
  return 0;
}

static int fs_fsync_dir(lua_State *L) {
  const char *path = check_path(L, 1, "fsync_dir", NULL);
  JET_ERR e = os_sync_dir(get_io(L, "fsync_dir"), path);
  if (e) return raise_jet(L, e, "fsync_dir", path);
  return 0;
}

/* A regular file open for reading (fd), else raises (a FIFO, a device, a
 * folder or a link: JET_errInvalidPath). */
static int open_regular(lua_State *L, const char *path, const char *op, struct stat *st) {
  int fd = open_nofollow(path, 0);
  if (fd < 0) {
    if (errno == ELOOP) return raise_jet(L, JET_errInvalidPath, op, lua_pushfstring(L, "%s is a link", path));
    return raise_errno(L, errno, op, path);
  }
  if (fstat(fd, st) != 0) {
    int e = errno;
    close(fd);
    return raise_errno(L, e, op, path);
  }
  if (!S_ISREG(st->st_mode)) {
    close(fd);
    return raise_jet(L, JET_errInvalidPath, op, lua_pushfstring(L, "%s is not a regular file", path));
  }
  return fd;
}

/* Reads n bytes at off (fewer only at end of file); -1 and errno on failure. */
static ssize_t read_some(int fd, void *buf, size_t n) {
  for (;;) {
    ssize_t r = read(fd, buf, n);
    if (r >= 0 || errno != EINTR) return r;
  }
}

/* fs.read(path [, offset, length]): the whole file, or at most length
 * bytes from offset (fewer at the end of the file, "" past it), so that a
 * caller reads a large file in bounded chunks. */
static int fs_read(lua_State *L) {
  const char *path = check_path(L, 1, "read", NULL);
  lua_Integer off = luaL_optinteger(L, 2, 0);
  lua_Integer len = luaL_optinteger(L, 3, -1);
  luaL_argcheck(L, off >= 0, 2, "offset must be >= 0");
  luaL_argcheck(L, lua_isnoneornil(L, 3) || len >= 0, 3, "length must be >= 0");
  struct stat st;
  FsHeld *h = push_held(L);              /* the descriptor, while the buffer grows */
  h->fd = open_regular(L, path, "read", &st);
  luaL_Buffer b;
  uint64_t pos = (uint64_t)off, left = len < 0 ? UINT64_MAX : (uint64_t)len;
  /* a chunk of a file is read into a buffer of its size, in one piece */
  uint64_t avail = (uint64_t)st.st_size > pos ? (uint64_t)st.st_size - pos : 0;
  size_t step = len >= 0 && left <= avail && left <= (64u << 20) ? (size_t)left : LUAL_BUFFERSIZE;
  luaL_buffinit(L, &b);
  while (left > 0) {
    size_t want = left < step ? (size_t)left : step;
    /* pread refuses (EINVAL) a range that ends past the largest offset:
     * nothing is there, so the read ends (an offset that far reads "") */
    if ((uint64_t)want > (uint64_t)INT64_MAX - pos) want = (size_t)((uint64_t)INT64_MAX - pos);
    if (want == 0) break;
    char *p = luaL_prepbuffsize(&b, want);
    ssize_t r;
    do r = pread(h->fd, p, want, (off_t)pos); while (r < 0 && errno == EINTR);
    if (r < 0) return raise_errno(L, errno, "read", path);
    if (r == 0) break;
    luaL_addsize(&b, (size_t)r);
    pos += (uint64_t)r;
    left -= (uint64_t)r;
  }
  held_release(h);
  luaL_pushresult(&b);
  return 1;
}

/* ---- ese.FileWriter --------------------------------------------------------- */

typedef struct {
  esfile *f;
  uint64_t off;
  int closed;
  os_worker *wk;       /* w:sync_step()'s engine thread, made at its first call */
  int syncing;         /* a sync runs there, not collected yet */
} FileWriter;          /* user value 1: the FsIo it writes through */

/* Starts fn(ud) on *wk (made first) unless I/O events are counted (the
 * fault tests' order: then in line); 1 when it runs there, else 0 with
 * *e the in-line result. */
static int job_start(esio *io, os_worker **wk, os_job_fn fn, void *ud, JET_ERR *e) {
  *e = JET_errSuccess;
  if (!esio_ordered(io) && (*wk || os_worker_new(wk) == JET_errSuccess) && os_worker_start(*wk, fn, ud)) return 1;
  *e = fn(ud);
  return 0;
}

/* A polled job's answer: 1 while it runs (*running stays 1), else 0 and
 * its error in *e (*running 0). */
static int job_poll(os_worker *wk, int *running, uint64_t max_us, JET_ERR *e) {
  *e = JET_errSuccess;
  if (!*running) return 0;
  if (!os_worker_collect(wk, max_us, e)) return 1;
  *running = 0;
  return 0;
}

static FileWriter *checkwriter(lua_State *L, const char *op) {
  FileWriter *w = (FileWriter *)luaL_checkudata(L, 1, FILEWRITER_T);
  if (w->closed) ese_raise_detail(L, JET_errInvalidParameter, op, "the file writer is closed");
  return w;
}

static int fs_create(lua_State *L) {
  const char *path = check_path(L, 1, "create", NULL);
  push_io(L, "create");
  esio *io = ((FsIo *)lua_touserdata(L, -1))->io;
  FileWriter *w = (FileWriter *)lua_newuserdatauv(L, sizeof *w, 1);
  w->f = NULL;
  w->off = 0;
  w->closed = 1;
  w->wk = NULL;
  w->syncing = 0;
  luaL_setmetatable(L, FILEWRITER_T);
  lua_pushvalue(L, -2);
  lua_setiuservalue(L, -2, 1);
  JET_ERR e = os_open(io, path, OS_WRITE | OS_CREATE | OS_EXCL, &w->f);
  if (e) return raise_jet(L, e, "create", path);
  w->closed = 0;
  return 1;
}

static int writer_write(lua_State *L) {
  FileWriter *w = checkwriter(L, "write");
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  JET_ERR e = os_pwrite(w->f, s, n, w->off);
  if (e) return raise_jet(L, e, "write", os_path(w->f));
  os_writeback(w->f, w->off, n);   /* to the disk now: w:sync() of a large file waits less */
  w->off += n;
  lua_settop(L, 1);
  return 1;
}

static int writer_sync(lua_State *L) {
  FileWriter *w = checkwriter(L, "sync");
  JET_ERR e;
  if (job_poll(w->wk, &w->syncing, UINT64_MAX, &e) == 0 && e == JET_errSuccess) e = os_sync(w->f);
  if (e) return raise_jet(L, e, "sync", os_path(w->f));
  return 0;
}

/* w:sync_step(): starts the sync on the writer's engine thread (in line
 * while I/O events are counted), then waits for it SYNC_STEP_US at most:
 * true while it runs, false once it is done (its error raised). */
static int writer_sync_step(lua_State *L) {
  FileWriter *w = checkwriter(L, "sync_step");
  JET_ERR e = JET_errSuccess;
  int more = 0;
  if (!w->syncing) {
    lua_getiuservalue(L, 1, 1);
    esio *io = ((FsIo *)lua_touserdata(L, -1))->io;
    lua_pop(L, 1);
    w->syncing = job_start(io, &w->wk, os_sync_job, w->f, &e);
  }
  if (e == JET_errSuccess) more = job_poll(w->wk, &w->syncing, SYNC_STEP_US, &e);
  if (e) return raise_jet(L, e, "sync", os_path(w->f));
  lua_pushboolean(L, more);
  return 1;
}

static int writer_size(lua_State *L) {
  FileWriter *w = checkwriter(L, "size");
  lua_pushinteger(L, (lua_Integer)w->off);
  return 1;
}

/* __gc, __close and close: idempotent, never raises. */
static int writer_close(lua_State *L) {
  FileWriter *w = (FileWriter *)luaL_checkudata(L, 1, FILEWRITER_T);
  JET_ERR e;
  (void)job_poll(w->wk, &w->syncing, UINT64_MAX, &e);   /* a sync left running: waited for (its file stays open until then) */
  os_worker_free(w->wk);
  w->wk = NULL;
  if (!w->closed) {
    w->closed = 1;
    os_close(w->f);
    w->f = NULL;
  }
  return 0;
}

static int writer_tostring(lua_State *L) {
  FileWriter *w = (FileWriter *)luaL_checkudata(L, 1, FILEWRITER_T);
  if (w->closed) lua_pushliteral(L, "ese.FileWriter (closed)");
  else lua_pushfstring(L, "ese.FileWriter (%s)", os_path(w->f));
  return 1;
}

/* ---- ese.SyncJob: a folder's sync on an engine thread ------------------------ */

typedef struct {
  esio *io;
  char *path;
  os_worker *wk;
  int running;
} SyncJob;             /* user value 1: the FsIo it syncs through */

static JET_ERR dir_sync_job(void *ud) {
  SyncJob *j = ud;
  return os_sync_dir(j->io, j->path);
}

/* fs.fsync_dir_start(path): the sync started (in line while I/O events are
 * counted: then done, its error raised here). */
static int fs_fsync_dir_start(lua_State *L) {
  const char *path = check_path(L, 1, "fsync_dir", NULL);
  esio *io = push_io(L, "fsync_dir");
  SyncJob *j = (SyncJob *)lua_newuserdatauv(L, sizeof *j, 1);
  memset(j, 0, sizeof *j);
  luaL_setmetatable(L, SYNCJOB_T);
  lua_pushvalue(L, -2);
  lua_setiuservalue(L, -2, 1);
  j->io = io;
  if (!(j->path = strdup(path))) return ese_raise(L, JET_errOutOfMemory, "fsync_dir");
  JET_ERR e;
  j->running = job_start(io, &j->wk, dir_sync_job, j, &e);
  if (e) return raise_jet(L, e, "fsync_dir", path);
  return 1;
}

/* j:step(): waits for the sync SYNC_STEP_US at most: true while it runs,
 * false once done (its error raised, once). */
static int syncjob_step(lua_State *L) {
  SyncJob *j = (SyncJob *)luaL_checkudata(L, 1, SYNCJOB_T);
  JET_ERR e;
  int more = job_poll(j->wk, &j->running, SYNC_STEP_US, &e);
  if (e) return raise_jet(L, e, "fsync_dir", j->path);
  lua_pushboolean(L, more);
  return 1;
}

/* __gc, __close and close: waits for a sync left running; never raises. */
static int syncjob_close(lua_State *L) {
  SyncJob *j = (SyncJob *)luaL_checkudata(L, 1, SYNCJOB_T);
  JET_ERR e;
  (void)job_poll(j->wk, &j->running, UINT64_MAX, &e);
  os_worker_free(j->wk);
  j->wk = NULL;
  free(j->path);
  j->path = NULL;
  return 0;
}

/* ---- ese.Sha256 ----------------------------------------------------------------- */

typedef struct {
  essha *h;
  int closed;
} Sha256;

static Sha256 *checksha(lua_State *L, const char *op) {
  Sha256 *s = (Sha256 *)luaL_checkudata(L, 1, SHA256_T);
  if (s->closed) ese_raise_detail(L, JET_errInvalidParameter, op, "the hasher is finished or closed");
  return s;
}

static int fs_sha256(lua_State *L) {
  Sha256 *s = (Sha256 *)lua_newuserdatauv(L, sizeof *s, 0);
  s->h = NULL;
  s->closed = 1;
  luaL_setmetatable(L, SHA256_T);
  JET_ERR e = sha256_new(&s->h);
  if (e) return ese_raise(L, e, "sha256");
  s->closed = 0;
  return 1;
}

static int sha_update(lua_State *L) {
  Sha256 *s = checksha(L, "update");
  size_t n;
  const char *p = luaL_checklstring(L, 2, &n);
  JET_ERR e = sha256_update(s->h, p, n);
  if (e) return ese_raise(L, e, "update");
  lua_settop(L, 1);
  return 1;
}

static int sha_close(lua_State *L) {
  Sha256 *s = (Sha256 *)luaL_checkudata(L, 1, SHA256_T);
  if (!s->closed) {
    s->closed = 1;
    sha256_free(s->h);
    s->h = NULL;
  }
  return 0;
}

static int sha_finish(lua_State *L) {
  Sha256 *s = checksha(L, "finish");
  char hex[65];
  JET_ERR e = sha256_hex(s->h, hex);
  sha_close(L);
  if (e) return ese_raise(L, e, "finish");
  lua_pushstring(L, hex);
  return 1;
}

static int fs_sha256_file(lua_State *L) {
  const char *path = check_path(L, 1, "sha256_file", NULL);
  struct stat st;
  fs_sha256(L);                          /* collected (and freed) on any raise */
  Sha256 *s = (Sha256 *)lua_touserdata(L, -1);
  int fd = open_regular(L, path, "sha256_file", &st);
  char *chunk = malloc(1 << 16);
  if (!chunk) { close(fd); return ese_raise(L, JET_errOutOfMemory, "sha256_file"); }
  JET_ERR e = JET_errSuccess;
  int err = 0;
  for (;;) {
    ssize_t r = read_some(fd, chunk, 1 << 16);
    if (r < 0) { err = errno; break; }
    if (r == 0) break;
    if ((e = sha256_update(s->h, chunk, (size_t)r)) != JET_errSuccess) break;
  }
  free(chunk);
  close(fd);
  if (err) return raise_errno(L, err, "sha256_file", path);
  if (e) return ese_raise(L, e, "sha256_file");
  lua_replace(L, 1);
  lua_settop(L, 1);
  return sha_finish(L);
}

/* fs.absolute(path [, op]): path joined to the working folder when
 * relative (os_abs_path, lexical: links stay), else path; an error names
 * op (the caller's call, default "absolute"). */
static int fs_absolute(lua_State *L) {
  const char *op = luaL_optstring(L, 2, "absolute");
  const char *path = check_path(L, 1, op, NULL);
  FsHeld *h = push_held(L);              /* the string, while Lua copies it */
  char *abs;
  JET_ERR e = os_abs_path(path, 0, &abs);
  if (e == JET_errInvalidPath)           /* getcwd failed: the working folder was removed */
    return raise_jet(L, e, op, lua_pushfstring(L, "%s is relative and the working folder cannot be read (removed?): "
                                                  "name it from the root", path));
  if (e) return raise_jet(L, e, op, path);
  if (!(h->names = malloc(sizeof *h->names))) {
    free(abs);
    return raise_jet(L, JET_errOutOfMemory, "absolute", path);
  }
  h->names[0] = abs;
  h->n = 1;
  lua_pushstring(L, abs);
  held_release(h);
  return 1;
}

/* ---- clock, tty ------------------------------------------------------------------ */

static int fs_clock(lua_State *L) {
  lua_pushnumber(L, (lua_Number)os_mono_ns() / 1e9);
  return 1;
}

static int fs_now(lua_State *L) {
  lua_pushnumber(L, (lua_Number)os_now_us() / 1e6);
  return 1;
}

static int fs_isatty(lua_State *L) {
  lua_Integer fd = luaL_optinteger(L, 1, 1);
  lua_pushboolean(L, fd >= 0 && fd <= 1024 && isatty((int)fd));
  return 1;
}

/* ---- the module ------------------------------------------------------------------ */

static const luaL_Reg fsio_meta[] = { {"__gc", fsio_gc}, {NULL, NULL} };
static const luaL_Reg held_meta[] = { {"__gc", held_gc}, {"__close", held_gc}, {NULL, NULL} };

static const luaL_Reg writer_meta[] = {
  {"__gc", writer_close}, {"__close", writer_close}, {"__tostring", writer_tostring}, {NULL, NULL}
};
static const luaL_Reg writer_methods[] = {
  {"write", writer_write}, {"sync", writer_sync}, {"sync_step", writer_sync_step}, {"size", writer_size},
  {"close", writer_close}, {NULL, NULL}
};
static const luaL_Reg syncjob_meta[] = { {"__gc", syncjob_close}, {"__close", syncjob_close}, {NULL, NULL} };
static const luaL_Reg syncjob_methods[] = { {"step", syncjob_step}, {"close", syncjob_close}, {NULL, NULL} };

static const luaL_Reg sha_meta[] = { {"__gc", sha_close}, {"__close", sha_close}, {NULL, NULL} };
static const luaL_Reg sha_methods[] = {
  {"update", sha_update}, {"finish", sha_finish}, {"close", sha_close}, {NULL, NULL}
};

static const luaL_Reg fs_funcs[] = {
  {"stat", fs_stat}, {"list", fs_list}, {"mkdir", fs_mkdir}, {"mkdir_p", fs_mkdir_p},
  {"remove", fs_remove}, {"rmdir", fs_rmdir}, {"remove_tree", fs_remove_tree},
  {"rename", fs_rename}, {"chmod", fs_chmod}, {"fsync", fs_fsync}, {"fsync_dir", fs_fsync_dir},
  {"fsync_dir_start", fs_fsync_dir_start},
  {"read", fs_read}, {"create", fs_create}, {"sha256", fs_sha256}, {"sha256_file", fs_sha256_file},
  {"clock", fs_clock}, {"now", fs_now}, {"isatty", fs_isatty}, {"absolute", fs_absolute},
  {NULL, NULL}
};

int ese_open_fs(lua_State *L) {
  ese_newclass(L, FS_IO_T, fsio_meta, NULL);
  ese_newclass(L, FS_HELD_T, held_meta, NULL);
  ese_newclass(L, FILEWRITER_T, writer_meta, writer_methods);
  ese_newclass(L, SHA256_T, sha_meta, sha_methods);
  ese_newclass(L, SYNCJOB_T, syncjob_meta, syncjob_methods);
  luaL_newlib(L, fs_funcs);
  lua_setfield(L, -2, "fs");
  return 0;
}
