/*
 * command.h -- a command the user configured (archive_command,
 * restore_command): the ONE place lua-ese runs a process, and only when
 * the user set such a parameter or option.
 *
 * The template is split on blanks into words, then %p (a path), %f (a file
 * name) and %% are replaced inside each word; no shell runs (no quoting,
 * redirection or variables: wrap those in a script).  posix_spawnp (PATH
 * search) in a process group of its own, signals at their defaults, stdin
 * /dev/null, stdout and stderr into a pipe whose last 200 bytes go into
 * the error message.  Exit status 0 = success.  A command still running
 * after timeout_s seconds is killed (its whole process group) and counts as
 * a failure.  The child is reaped with waitpid(pid): an application that
 * reaps every child itself (SIGCHLD ignored, or waitpid(-1)) makes the
 * status unknown, which counts as a failure.
 */
#ifndef ESE_COMMAND_H
#define ESE_COMMAND_H
#include <stddef.h>
#include <stdint.h>

typedef struct command_run {
  const char *templ;          /* the template */
  const char *path, *file;    /* %p, %f */
  const char *what;           /* its name in messages ("archive_command") */
  uint32_t timeout_s;         /* 0: no limit */
  const char *timeout_name;   /* the limit's name in messages */
  int (*stop)(void *ud);      /* polled every 50 ms: non-zero kills the command; NULL: never */
  void *ud;
  int *pexited;               /* NULL, or set to 1 when the command ran and exited with a status other than
                               * 0, else 0 (success, a signal, the timeout, a spawn error) */
} command_run;

/* The argument vector of a template: words split on blanks, then %p, %f
 * and %% replaced in each word (a path with blanks stays one argument).
 * NULL-terminated, one allocation (free it); NULL when out of memory or
 * when the template has no word or an unknown %x. */
char **command_argv(const char *templ, const char *path, const char *file);
/* Runs it: 0 exit status 0, 1 failed (msg says why: exit status and the
 * output's tail, a signal, the timeout, a spawn error), 2 stopped (c->stop). */
int command_exec(const command_run *c, char *msg, size_t cap);

#endif
