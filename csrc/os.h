/*
 * os.h -- files, locks, fsync and fault injection.  Every I/O result of the
 * engine passes through here and comes back as a JET_ERR.
 *
 * Fault injection (test builds and tests only): an esio context reads the
 * environment variable ESE_FAULT when it is made:
 *   ESE_FAULT=crash:K   the K-th write or sync (counted from 1) kills the
 *                       process with SIGKILL before it happens
 *   ESE_FAULT=eio:K     the K-th write or sync fails with EIO (once)
 *   ESE_FAULT=enospc:K  the K-th write or sync fails with ENOSPC (once)
 *   ESE_FAULT=eio:K+    every write or sync from the K-th on fails
 *   ESE_FAULT=space:N   a disk with N bytes free: files may grow by N bytes
 *                       in all (a write past a file's end, a truncate up);
 *                       a write or truncate that would pass it fails with
 *                       ENOSPC; an os_unlink of a regular file with one
 *                       name gives its size back (no other space freed
 *                       is: a truncate down, a rename over a file)
 *   ESE_FAULT=slowsync:MS:PATH  every sync (os_sync) waits MS ms first
 *                       (1..10000) while the file PATH exists: commits made
 *                       slow on demand (the pacing specs); no event count
 *   ESE_FAULT=synceio:K:NAME[:PATH]  the K-th os_sync of a file whose
 *                       last path part is NAME (counted from 1 per esio;
 *                       with PATH, only those made while the file PATH
 *                       exists) and every later one fails with EIO
 *                       (JET_errDiskIO); no event count, so a sync an
 *                       os_worker runs stays there: a failing sync on an
 *                       engine thread
 *   ESE_FAULT=holdsync:NAME:PATH[:eio]  every os_sync of a file (or
 *                       os_sync_dir of a folder) whose last path part is
 *                       NAME waits while the file PATH exists, with the
 *                       file PATH.held made meanwhile (removed when the
 *                       sync goes on), and with :eio then fails with EIO:
 *                       a harness holds a sync on an engine thread as long
 *                       as it likes and sees that it is held; no event
 *                       count.  NAME may also be a point the engine marks
 *                       with os_hold_point (below), held the same way.
 *   ESE_FAULT=holdsync:NAME:PATH:power:S  held the same way; when PATH is
 *                       removed, the held thread cuts the power instead of
 *                       going on (as power:K:S below, seed S: the unsynced
 *                       writes of every thread chosen from, then SIGKILL),
 *                       with no event count either: a cut inside the I/O
 *                       the engine runs without the instance lock (a
 *                       checkpoint slice, the cut-off's roll) while other
 *                       threads commit, which counted faults never reach
 *   ESE_FAULT=swap:NAME:PATH  at an os_rename whose source's last path
 *                       part is NAME, while the file PATH exists, PATH is
 *                       first renamed to that source: what another process
 *                       of the same user racing the rename by name does
 *                       (the rename then moves PATH's file); once, as
 *                       PATH is gone then; no event count
 *   ESE_FAULT=clockback:US:PATH  os_now_us (the wall clock: commit
 *                       records, log headers) is US microseconds behind
 *                       while the file PATH exists: a clock stepped back
 *                       (and forward again) on demand; process-wide (the
 *                       first esio made with it sets it for the rest of
 *                       the process), no event count, I/O not ordered
 *   ESE_FAULT=norenameat2:PATH  os_rename_noreplace's renameat2 fails
 *                       with EINVAL while the file PATH exists (a file
 *                       system without RENAME_NOREPLACE: NFS, FUSE);
 *                       process-wide like clockback, no event count
 *   ESE_FAULT=eacces:NAME  every open of a file whose last path part is
 *                       NAME fails with EACCES (JET_errPermissionDenied):
 *                       a file root could not read, were it another user
 *   ESE_FAULT=torn:K:C[:head|tail|garbage]
 *                       when the K-th event is an os_pwrite of n bytes,
 *                       only part of it is written, then SIGKILL: head
 *                       (the default) bytes [0,C) of the write new, the
 *                       rest as it was; tail [C,n) new, the head as it was;
 *                       garbage as head, then the whole 512-byte sector of
 *                       the file that holds byte C of the write is noise
 *                       (also its bytes before C, which may be older than
 *                       the write).  C >= n: head writes it all, tail
 *                       nothing.  When the K-th event is not a write, it is
 *                       crash:K.
 *   ESE_FAULT=power:K:S a power cut at the K-th event: os_pwrite keeps the
 *                       bytes each write replaces until an os_sync of that
 *                       file (inode) completes (counted even when fdatasync
 *                       is a no-op, as in the C harness), and at event K a
 *                       choice seeded by S of those unsynced writes is
 *                       reverted, then SIGKILL.  S % 4 == 0: all reverted;
 *                       S % 4 == 1: per file, a prefix of its unsynced
 *                       writes stays, the next is torn at a 512-byte
 *                       boundary of the file with its head kept, the rest
 *                       reverted (a disk that writes in order); otherwise
 *                       each is kept, reverted or torn at a 512-byte
 *                       boundary with its head or its tail kept (a disk
 *                       that reorders sectors).  Bytes a write added past
 *                       the end of its file revert to zeros (the size
 *                       stays).  Limits: renames, creates, unlinks and
 *                       truncates are not reverted (the folder is as the
 *                       engine left it), nor writes made outside os.c; at
 *                       most 64 MiB of unsynced bytes are kept: past that,
 *                       or when an allocation or the reopen of a file
 *                       (/proc/self/fd) fails, the journal is dropped and
 *                       the cut is a plain crash:K, said on stderr and in
 *                       the trace.  The engine never sees an error from it.
 *   A malformed torn: or power: value is JET_errInvalidParameter from
 *   esio_new (a test must not pass without the fault it asked for).
 *   A NAME is a file's last path part now: a file renamed while open
 *   (os_rename_file: the log's Btmp.log renamed to B.log) goes by its new
 *   name, in these faults and in the trace.
 * ESE_FAULT_COUNT=path  at esio_free, writes the number of writes+syncs
 *                       seen to that file (for crash-point sweeps).
 * ESE_FAULT_TRACE=path  appends one line per event to that file, "K kind n
 *                       off name" (kind: write, sync, truncate, rename,
 *                       unlink, syncdir; n and off for a write; name: the
 *                       last part of the path the file was opened by),
 *                       and a line about a torn: or power: fault ("K torn
 *                       head C of n name", "K power seed S: ...").
 * Events are the writes, syncs, truncates, renames, unlinks and folder
 * syncs, counted from 1 per esio.
 */
#ifndef ESE_OS_H
#define ESE_OS_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "ese.h"

typedef struct esio esio;
typedef struct esfile esfile;

/* OS_NOFOLLOW: a symbolic link as the last part of the path is refused
 * (JET_errInvalidPath), never followed. */
enum { OS_READ = 0, OS_WRITE = 1, OS_CREATE = 2, OS_EXCL = 4, OS_NOFOLLOW = 8 };

JET_ERR esio_new(esio **out);
/* Every file opened through io must be closed before (asserted). */
void esio_free(esio *io);
/* The number of writes and syncs seen so far. */
uint64_t esio_count(esio *io);
/* Files opened through io and not yet closed (esio_free asserts 0). */
int esio_open_files(esio *io);
/* 1 when ESE_FAULT counts events, limits space or swaps a name (crash,
 * torn, power, eio, enospc, space, swap; not slowsync, eacces, synceio) or ESE_FAULT_COUNT / ESE_FAULT_TRACE is set: a run whose
 * event order a test relies on, so I/O that the engine would do on a
 * background thread is done in line instead (log_prepare_next, the
 * os_worker jobs of restore.c and backup.c). */
int esio_ordered(esio *io);

/* Opens a regular file (following symbolic links).  Anything else in its
 * place (a FIFO, a socket, a device, a folder) is JET_errInvalidPath, and
 * the open never blocks on it. */
JET_ERR os_open(esio *io, const char *path, int flags, esfile **out);
/* Takes an exclusive advisory lock (flock) on the open file; another holder,
 * in this process or another: JET_errFileAccessDenied. */
JET_ERR os_lock(esfile *f);
/* A folder's lock file path, opened (created 0600 if absent) and locked
 * (os_lock) in *out: never through a symbolic link nor on anything but a
 * regular file (JET_errInvalidPath, the link's target untouched and never
 * created).  When the file has other names (a hard link, as `cp -al`
 * makes) and its lock is free, it is replaced by a new file (unlink, then
 * O_EXCL | O_NOFOLLOW) before it is locked, so two folders never share a
 * lock; a held one is JET_errFileAccessDenied as ever. */
JET_ERR os_open_lock(esio *io, const char *path, esfile **out);
/* Folder dir's lock file <base>.lck (base: 3 characters), os_open_lock'ed
 * in *out; its path in *path (free it) when path is not NULL, also on a
 * failure (NULL: out of memory). */
JET_ERR os_lock_folder(esio *io, const char *dir, const char *base, esfile **out, char **path);
void os_close(esfile *f);
const char *os_path(const esfile *f);
/* *got < n only at end of file. */
JET_ERR os_pread(esfile *f, void *buf, size_t n, uint64_t off, size_t *got);
/* Kernel readahead on f's open file: on (the default) or off, so that a
 * read asks the disk for exactly what it reads.  Advice only: no error. */
void os_readahead(esfile *f, int on);
/* Reads exactly n bytes or fails (short: JET_errDiskIO). */
JET_ERR os_pread_full(esfile *f, void *buf, size_t n, uint64_t off);
JET_ERR os_pwrite(esfile *f, const void *buf, size_t n, uint64_t off);
JET_ERR os_sync(esfile *f);
/* Syncs (os_sync, os_sync_dir) whose fsync ran on the calling thread so
 * far (a thread-local count; the os_worker's thread counts its own): a
 * test's way to see that a step left its syncs to an engine thread. */
uint64_t os_thread_syncs(void);
/* A point in the engine where a harness may hold a thread
 * (ESE_FAULT=holdsync:NAME:PATH, NAME the point's name): waits while PATH
 * exists; nothing without that fault.  Points: "archive-wait" (archive.c:
 * the archive's thread between letting its mutex go and waiting for the
 * next closed generation), "ckpt-between" (checkpoint.c: a checkpoint
 * between two slices, the instance lock released), "log-next",
 * "log-zeros" and "log-retire" (log.c: a roll making the next file, a chunk
 * of its zeros; a retired generation before its rename to a spare),
 * "restore-live" and "restore-live-open" (restore.c: a restore's scan of a
 * live log folder, listed, before and after it opens that folder's B.log),
 * "restore-hold", "restore-check" and "restore-clear" (restore.c: an
 * overwrite's check, before it copies the live folder's generations into
 * dest's .ese-fetch; those held, before it reads the databases; its check
 * done, before dest's old state goes). */
void os_hold_point(esio *io, const char *name);
/* Starts the writeback of [off, off+len) to the disk without waiting for
 * it (sync_file_range WRITE), so that a later os_sync of a large file that
 * was written in chunks has little left to write.  Advisory: durability
 * still needs os_sync; an error here is ignored (os_sync reports it). */
void os_writeback(esfile *f, uint64_t off, uint64_t len);
JET_ERR os_size(esfile *f, uint64_t *size);
/* Whether f's file has one name (no hard link elsewhere: writing it
 * changes nothing another name shows). */
int os_sole_name(esfile *f);
/* Whether path itself (a symbolic link not followed) is f's file (the same
 * device and inode): a file checked through its descriptor is still the
 * one at path, e.g. after a rename by path, which another process may
 * have raced with a rename of its own. */
int os_is_at(esfile *f, const char *path);
/* Sets the size; new bytes read as zero. */
JET_ERR os_truncate(esfile *f, uint64_t size);
/* Reserves the blocks of f's bytes [0, size) without writing them (Linux
 * fallocate, mode 0): the size becomes size, bytes never written read as
 * zero, and a later write into them needs no free space.  *done 1 when
 * reserved; *done 0 (JET_errSuccess) when the file system cannot, or when
 * a fault of ESE_FAULT is armed on f's esio (the fault layer models writes:
 * the caller then writes the zeros itself, the order the sweeps cover);
 * JET_errDiskFull when the disk has no room (no fault layer counts it). */
JET_ERR os_reserve(esfile *f, uint64_t size, int *done);
/* Opens path, reads up to max bytes from its start into a new buffer (*buf,
 * free it; *got bytes, fewer only at end of file) and, when size is not
 * NULL, the file's size; closes it.  Nothing is left allocated on an error. */
JET_ERR os_read_head(esio *io, const char *path, size_t max, uint8_t **buf, size_t *got, uint64_t *size);

JET_ERR os_rename(esio *io, const char *from, const char *to);
/* os_rename unless something is at `to` (Linux renameat2
 * RENAME_NOREPLACE; where the file system has not it, EINVAL/ENOSYS:
 * link(from, to) then unlink(from)): JET_errFileAlreadyExists then, or an
 * error where the file system can do neither; nothing at `to` is ever
 * replaced. */
JET_ERR os_rename_noreplace(esio *io, const char *from, const char *to);
/* os_rename of the open file f's path (os_path) to `to`; then f is known
 * by its new name (os_path, and the name an ESE_FAULT fault matches), so
 * that a file made under a temporary name and renamed into place (the
 * log's Btmp.log) is the file its final name names.  A failure (the
 * rename's, or no memory for the name first) leaves both as they were. */
JET_ERR os_rename_file(esfile *f, const char *to);
JET_ERR os_unlink(esio *io, const char *path);
/* path made anew for writing: whatever entry has the name (a file, a
 * symbolic link) is unlinked first, then a new file is created (O_EXCL,
 * O_NOFOLLOW), so a write never reaches another name of the old inode (a
 * hard link) nor a link's target. */
JET_ERR os_create_new(esio *io, const char *path, esfile **out);
/* fsync of a folder, after creating, renaming or deleting in it. */
JET_ERR os_sync_dir(esio *io, const char *dir);
/* Writes the new file f (os_write_atomic). */
typedef JET_ERR (*os_fill_fn)(void *ud, esfile *f);
/* Replaces path whole, crash-safe: tmp (a name in path's folder) is made
 * new (os_create_new), fill writes it, it is synced, closed and renamed to
 * path, and the folder synced; a crash leaves path old or new, never part.
 * Its I/O events, in this order (ESE_FAULT counts them): os_create_new's,
 * fill's, the sync, the rename, the folder's sync.  A failure (fill's
 * included) stops there; before the rename, remove_tmp unlinks tmp (one
 * event more), else tmp is left for the next os_create_new to replace. */
JET_ERR os_write_atomic(esio *io, const char *tmp, const char *path, os_fill_fn fill, void *ud, int remove_tmp);
/* os_write_atomic of the n bytes buf through path + ".tmp" (left there on
 * a failure). */
JET_ERR os_write_file_atomic(esio *io, const char *path, const void *buf, size_t n);
/* A folder path that leaves no room for a file name in it (folder + '/' +
 * NAME_MAX bytes reach PATH_MAX) or has a name longer than NAME_MAX. */
int os_folder_too_long(const char *dir);
/* mkdir -p; a folder os_folder_too_long refuses: JET_errInvalidPath, and
 * nothing is made. */
JET_ERR os_mkdir_p(const char *dir, int mode);
int os_exists(const char *path);
/* What path itself is (a symbolic link is not followed). */
enum { OS_ABSENT, OS_FILE, OS_DIR, OS_LINK, OS_OTHER };
int os_kind(const char *path);
/* Both paths exist and name the same file or folder. */
int os_same_file(const char *a, const char *b);
/* Calls fn(name, ud) for each entry of dir but "." and "..", the names
 * read whole before the first call (one listing: a name fn or another
 * process adds meanwhile is not handed out); stops and returns fn's
 * result when it is not 0; JET_errOutOfMemory, or readdir's error. */
JET_ERR os_list_dir(const char *dir, JET_ERR (*fn)(const char *name, void *ud), void *ud);
/* The names of the open folder d (left open), sorted, into a new array
 * (*names, *n; os_free_names).  errno on failure, nothing left allocated. */
int os_read_names(DIR *d, char ***names, size_t *n);
void os_free_names(char **v, size_t n);
/* Removes every entry of the folder open as fd (taken over and closed),
 * depth first, never following a link (a link is removed, not what it
 * names); errno on failure (the first one).  fs.remove_tree and a
 * restore's fetch folder use it. */
int os_remove_entries(int fd);
/* os_remove_entries of the folder dir, opened without following a link
 * (a link there: an error, nothing removed). */
JET_ERR os_empty_folder(const char *dir);
/* path made absolute in *out (free it), so that a later chdir of the
 * process changes nothing: real: its canonical form (realpath: links, "."
 * and ".." resolved; JET_errInvalidPath when it does not resolve);
 * otherwise (a folder that may be made later, a link to follow at use)
 * joined to the working folder when relative, else (absolute, or "") a
 * copy, with runs of slashes as one and inner "." components dropped
 * ("./a/./b" is "<cwd>/a/b"; ".." stays: a link before it decides where it
 * leads; a last "." and a trailing slash stay: they follow a link there). */
JET_ERR os_abs_path(const char *path, int real, char **out);
/* Joins dir and name with one '/' into a new string (free it); NULL on OOM. */
char *os_join(const char *dir, const char *name);
/* The folder part of path as a new string (free it): "." when path has no
 * '/', "/" for a file in the root; NULL on OOM. */
char *os_dirname(const char *path);
/* An os_worker is one engine thread that runs one job at a time (a
 * function, such as a step's fsync) while its caller returns to its own
 * work: a step of a restore or a backup starts the job and returns "more",
 * a later step collects the job's result.  The thread is started by the
 * first job and joined by os_worker_free; it blocks every signal (the
 * application's threads take them).  A worker is used by one caller at a
 * time (its owner's lock or its owner's single caller).
 *   IDLE -> RUNNING (os_worker_start) -> DONE (the job returned) -> IDLE
 *   (os_worker_collect took its result); asserted. */
typedef struct os_worker os_worker;
typedef JET_ERR (*os_job_fn)(void *ud);
JET_ERR os_worker_new(os_worker **out);
/* Waits for a running job (its result is dropped), joins the thread. */
void os_worker_free(os_worker *w);
/* Runs fn(ud) on w's thread; w must be IDLE (asserted).  0 when the
 * thread could not be started: nothing runs, the caller runs fn in line. */
int os_worker_start(os_worker *w, os_job_fn fn, void *ud);
/* Waits at most max_us (UINT64_MAX: until it returns) for the started
 * job: 1 when it returned (*e its result, w IDLE again), 0 while it still
 * runs. */
int os_worker_collect(os_worker *w, uint64_t max_us, JET_ERR *e);
/* A job for os_worker_start: os_sync of the esfile ud. */
JET_ERR os_sync_job(void *f);
/* errno -> JET_err */
JET_ERR os_err(int e);
/* Wall-clock time in microseconds. */
uint64_t os_now_us(void);
/* CLOCK_MONOTONIC in nanoseconds and in microseconds: the clock of every
 * timeout, deadline and pace (never set back; 0 is some moment before). */
uint64_t os_mono_ns(void);
uint64_t os_mono_us(void);
/* The absolute time us microseconds from now on clock clk, for the timed
 * waits (pthread_cond_timedwait on a cv of that clock,
 * pthread_mutex_clocklock). */
struct timespec os_deadline(clockid_t clk, uint64_t us);
/* n random bytes (getrandom, falling back to time and pid). */
void os_random(void *buf, size_t n);
/* At the start of an engine thread: it blocks every signal, so that the
 * application's threads take them. */
void os_block_signals(void);

#endif
