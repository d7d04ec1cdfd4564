/*
 * command.c -- runs a command the user configured: the ONE place lua-ese
 * starts a process (archive_command, restore_command), and only when the
 * user asked for it (command.h).
 */
#include "command.h"
#include "os.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define TAIL_MAX 200u

char **command_argv(const char *t, const char *path, const char *file) {
  /* size: every %p/%f may become the longer of the two */
  size_t words = 0, len = 0, extra = strlen(path) > strlen(file) ? strlen(path) : strlen(file);
  for (const char *p = t; *p; p++) {
    if (*p != ' ' && *p != '\t' && (p == t || p[-1] == ' ' || p[-1] == '\t')) words++;
    len += *p == '%' ? extra + 1 : 1;
  }
  if (words == 0) return NULL;
  char **argv = malloc((words + 1) * sizeof *argv + len + words);
  if (!argv) return NULL;
  char *s = (char *)(argv + words + 1);
  size_t w = 0;
  for (const char *p = t; *p;) {
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) break;
    argv[w++] = s;
    for (; *p && *p != ' ' && *p != '\t'; p++) {
      if (*p != '%') { *s++ = *p; continue; }
      const char *v = p[1] == 'p' ? path : p[1] == 'f' ? file : p[1] == '%' ? "%" : NULL;
      if (!v) { free(argv); return NULL; }
      size_t k = strlen(v);
      memcpy(s, v, k);
      s += k;
      p++;
    }
    *s++ = 0;
  }
  argv[w] = NULL;
  return argv;
}

/* Appends n bytes of output to the tail buffer (the last TAIL_MAX bytes). */
static void keep_tail(char *tail, size_t *tn, const char *b, size_t n) {
  if (n >= TAIL_MAX) { memcpy(tail, b + n - TAIL_MAX, TAIL_MAX); *tn = TAIL_MAX; return; }
  if (*tn + n > TAIL_MAX) {
    size_t drop = *tn + n - TAIL_MAX;
    memmove(tail, tail + drop, *tn - drop);
    *tn -= drop;
  }
  memcpy(tail + *tn, b, n);
  *tn += n;
}

static void drain(int fd, char *tail, size_t *tn, int *open_) {
  char b[4096];
  for (;;) {
    ssize_t k = read(fd, b, sizeof b);
    if (k > 0) { keep_tail(tail, tn, b, (size_t)k); continue; }
    if (k == 0 || (errno != EINTR && errno != EAGAIN)) *open_ = 0;
    if (k == 0 || errno != EINTR) return;
  }
}

static void kill_group(pid_t pid) {
  (void)kill(-pid, SIGKILL);
  (void)kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
}

static pid_t spawn(char **argv, int out_fd, int *err) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  pid_t pid = -1;
  if ((*err = posix_spawn_file_actions_init(&fa))) return -1;
  if ((*err = posix_spawnattr_init(&at))) { posix_spawn_file_actions_destroy(&fa); return -1; }
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  if (!(*err = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) &&
      !(*err = posix_spawn_file_actions_adddup2(&fa, out_fd, 1)) &&
      !(*err = posix_spawn_file_actions_adddup2(&fa, out_fd, 2)) &&
      !(*err = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) &&
      !(*err = posix_spawnattr_setpgroup(&at, 0)) && !(*err = posix_spawnattr_setsigmask(&at, &none)) &&
      !(*err = posix_spawnattr_setsigdefault(&at, &all)))
    *err = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
  posix_spawnattr_destroy(&at);
  posix_spawn_file_actions_destroy(&fa);
  return *err ? -1 : pid;
}

/* Why command_argv gave no argv for the template t: into msg. */
static void argv_problem(const command_run *c, char *msg, size_t cap) {
  const char *t = c->templ;
  if (t[strspn(t, " \t")] == '\0') {
    snprintf(msg, cap, "%s is empty: no word to run", c->what);
    return;
  }
  for (const char *p = t; *p; p++) {
    if (*p != '%') continue;
    if (p[1] != 'p' && p[1] != 'f' && p[1] != '%') {
      if (p[1] == '\0' || p[1] == ' ' || p[1] == '\t')
        snprintf(msg, cap, "%s has a %% with nothing after it (%%p, %%f and %%%% are the escapes)", c->what);
      else
        snprintf(msg, cap, "%s has an unknown %%-escape '%%%c' (%%p, %%f and %%%% are the escapes)", c->what, p[1]);
      return;
    }
    p++;
  }
  snprintf(msg, cap, "%s: out of memory", c->what);
}

int command_exec(const command_run *c, char *msg, size_t cap) {
  if (c->pexited) *c->pexited = 0;
  char **argv = command_argv(c->templ, c->path, c->file);
  if (!argv) { argv_problem(c, msg, cap); return 1; }
  int fds[2], err = 0;
  if (pipe2(fds, O_CLOEXEC) != 0) {
    snprintf(msg, cap, "%s: pipe: %s", c->what, strerror(errno));
    free(argv);
    return 1;
  }
  pid_t pid = spawn(argv, fds[1], &err);
  close(fds[1]);
  if (pid < 0) {
    snprintf(msg, cap, "%s: cannot run '%s': %s", c->what, argv[0], strerror(err));
    close(fds[0]);
    free(argv);
    return 1;
  }
  (void)fcntl(fds[0], F_SETFL, O_NONBLOCK);
  char tail[TAIL_MAX + 1];
  size_t tn = 0;
  int out_open = 1, status = 0, r = -1;
  uint64_t deadline = c->timeout_s ? os_mono_us() + (uint64_t)c->timeout_s * 1000000u : 0;
  while (r < 0) {
    struct pollfd pf = { fds[0], POLLIN, 0 };
    (void)poll(&pf, out_open ? 1 : 0, 50);
    if (out_open) drain(fds[0], tail, &tn, &out_open);
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) r = status == 0 ? 0 : 1;
    else if (w < 0 && errno != EINTR) {
      snprintf(msg, cap, "%s '%s': its exit status is lost (%s): the application reaps children itself", c->what,
               argv[0], strerror(errno));
      r = 3;
    } else if (deadline && os_mono_us() >= deadline) {
      kill_group(pid);
      snprintf(msg, cap, "%s '%s' ran past %s (%u s): killed", c->what, argv[0], c->timeout_name, c->timeout_s);
      r = 3;
    } else if (c->stop && c->stop(c->ud)) {
      kill_group(pid);
      r = 2;
    }
  }
  if (out_open) drain(fds[0], tail, &tn, &out_open);
  close(fds[0]);
  for (size_t i = 0; i < tn; i++)
    if (tail[i] == '\n' || tail[i] == '\r' || tail[i] == 0) tail[i] = ' ';
  while (tn && tail[tn - 1] == ' ') tn--;
  tail[tn] = 0;
  if (r == 1) {
    if (WIFEXITED(status) && c->pexited) *c->pexited = 1;
    if (WIFEXITED(status))
      snprintf(msg, cap, "%s '%s' exited with status %d%s%s", c->what, argv[0], WEXITSTATUS(status),
               tn ? ": " : "", tail);
    else
      snprintf(msg, cap, "%s '%s' was killed by signal %d%s%s", c->what, argv[0],
               WIFSIGNALED(status) ? WTERMSIG(status) : 0, tn ? ": " : "", tail);
  }
  free(argv);
  return r == 3 ? 1 : r;
}
