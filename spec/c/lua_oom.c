/*
 * lua_oom.c -- ese.fs under Lua memory errors: fs.read and fs.list hold a
 * descriptor or a malloc'd name array while they build their result; a
 * Lua allocation that fails then (a memory error longjmps out of the C
 * function) must leave no descriptor open and no C memory behind.
 *
 * usage: lua_oom CPATH DIR   (CPATH: package.cpath that finds ese.core;
 * DIR: an empty scratch folder).  For fs.read of a 40 KiB file and
 * fs.list of a folder of 200 names, every allocation budget from 0 until
 * the call succeeds: a new Lua state whose allocator fails after the
 * budget, pcall(fs.X, path), lua_close; then the open descriptors
 * (/proc/self/fd) and, unless ESE_SANITIZED, the bytes malloc holds
 * (mallinfo2; run it with GLIBC_TUNABLES=glibc.malloc.tcache_count=0, as
 * mallinfo2 counts chunks in the thread cache as held) must be back where
 * they were.  The same for a compressed file written with ese.zstd (a
 * compressor whose thread reads the chunks the caller wrote, which the
 * writer keeps alive: a memory error anywhere, then lua_close, leaves no
 * thread running and no memory held).  Prints one line per call and
 * "ok" last; exits 1 on a leak.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int limited;
static size_t budget;

static void *alloc(void *ud, void *p, size_t osize, size_t nsize) {
  (void)ud;
  if (nsize == 0) {
    free(p);
    return NULL;
  }
  if (limited && (!p || nsize > osize)) {
    if (budget == 0) return NULL;
    budget--;
  }
  return realloc(p, nsize);
}

/* The entries of a folder of /proc/self: fd (open descriptors), task
 * (threads). */
static int entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

static int open_fds(void) { return entries("/proc/self/fd"); }
static int threads(void) { return entries("/proc/self/task"); }

/* A new state (allocator alloc) with ese.core required from cpath: the
 * module on the stack. */
static lua_State *core_state(const char *cpath) {
  lua_State *L = lua_newstate(alloc, NULL);
  if (!L) { fprintf(stderr, "no state\n"); exit(2); }
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_pushstring(L, cpath);
  lua_setfield(L, -2, "cpath");
  lua_pop(L, 1);
  lua_getglobal(L, "require");
  lua_pushstring(L, "ese.core");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) { fprintf(stderr, "require: %s\n", lua_tostring(L, -1)); exit(2); }
  return L;
}

/* One call of fs.<fn>(path) with an allocation budget; 1 when it succeeded. */
static int one(const char *cpath, const char *fn, const char *path, size_t b) {
  lua_State *L = core_state(cpath);
  lua_getfield(L, -1, "fs");
  lua_getfield(L, -1, fn);
  lua_pushstring(L, path);
  lua_gc(L, LUA_GCCOLLECT);
  lua_gc(L, LUA_GCSTOP);                 /* no finalizer runs during the call */
  limited = 1;
  budget = b;
  int st = lua_pcall(L, 1, 1, 0);
  limited = 0;
  lua_close(L);
  return st == LUA_OK;
}

/* A compressed file of 300,000 bytes written by ese.zstd in 64 KiB
 * chunks, each made just before it is written and dropped after it. */
static const char ZSTD_CHUNK[] =
  "local zstd = ...\n"
  "local parts = {}\n"
  "for i = 1, 33334 do parts[i] = ('%08d;'):format(i * 7919 % 100003) end\n"
  "data = table.concat(parts):sub(1, 300000)\n"
  "return function()\n"
  "  local c = zstd.compressor(1, #data, 8192)\n"
  "  local out = {}\n"
  "  for i = 1, #data, 65536 do out[#out + 1] = c:write(data:sub(i, i + 65535)) end\n"
  "  local last, complete = c:flush()\n"
  "  out[#out + 1] = last\n"
  "  if not complete then out[#out + 1] = c:finish() end\n"
  "  c:close()\n"
  "  return table.concat(out)\n"
  "end\n";

/* One call with an allocation budget: fs.<fn>(path), or (fn "zstd") the
 * function ZSTD_CHUNK returns; 1 when it succeeded. */
static int one_call(const char *cpath, const char *fn, const char *path, size_t b) {
  if (strcmp(fn, "zstd") != 0) return one(cpath, fn, path, b);
  lua_State *L = core_state(cpath);
  lua_getfield(L, -1, "zstd");
  if (luaL_loadstring(L, ZSTD_CHUNK) != LUA_OK) { fprintf(stderr, "load: %s\n", lua_tostring(L, -1)); exit(2); }
  lua_insert(L, -2);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) { fprintf(stderr, "setup: %s\n", lua_tostring(L, -1)); exit(2); }
  lua_gc(L, LUA_GCCOLLECT);
  limited = 1;                           /* the collector runs: chunks are dropped while the thread works */
  budget = b;
  int st = lua_pcall(L, 0, 1, 0);
  limited = 0;
  lua_close(L);
  return st == LUA_OK;
}

static int sweep(const char *cpath, const char *fn, const char *path) {
  int sanitized = getenv("ESE_SANITIZED") != NULL;
  one_call(cpath, fn, path, (size_t)-1);      /* warm up */
  int fds = open_fds(), ths = threads();
  size_t held = mallinfo2().uordblks;
  int bad = 0;
  size_t b;
  for (b = 0; b < 100000; b++) {
    int ok = one_call(cpath, fn, path, b);
    int f = open_fds(), t = threads();
    size_t h = mallinfo2().uordblks;
    if (f != fds || t != ths || (!sanitized && h > held)) {
      printf("%s budget %zu: %d descriptors (%d before), %d threads (%d before), %zu bytes held (%zu before)\n", fn,
             b, f, fds, t, ths, h, held);
      bad = 1;
      fds = f;
      ths = t;
      held = h;
    }
    if (ok) break;
  }
  printf("%s%s: %zu budgets, %s\n", strcmp(fn, "zstd") ? "fs." : "", fn, b + 1, bad ? "LEAK" : "no leak");
  return bad;
}

/* dir with 200 empty files named with 40 characters each. */
static int make_names(const char *dir) {
  if (mkdir(dir, 0700) != 0) return 1;
  for (int i = 0; i < 200; i++) {
    char p[4200];
    snprintf(p, sizeof p, "%s/name-%04d-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", dir, i);
    FILE *f = fopen(p, "wb");
    if (!f) return 1;
    fclose(f);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: lua_oom CPATH DIR\n"); return 2; }
  static char outbuf[BUFSIZ];            /* allocated now, not during a sweep */
  setvbuf(stdout, outbuf, _IOLBF, sizeof outbuf);
  /* ese.core stays loaded across the states, so lua_close's dlclose
   * unloads nothing and mallinfo2 compares like with like */
  char so[4096];
  snprintf(so, sizeof so, "%s", argv[1]);
  char *q = strstr(so, "?.so");
  if (q) snprintf(q, sizeof so - (size_t)(q - so), "ese/core.so");
  if (!dlopen(so, RTLD_NOW | RTLD_GLOBAL)) { fprintf(stderr, "dlopen %s: %s\n", so, dlerror()); return 2; }
  char file[4096], dir[4096];
  snprintf(file, sizeof file, "%s/data", argv[2]);
  snprintf(dir, sizeof dir, "%s/names", argv[2]);
  FILE *f = fopen(file, "wb");
  if (!f) return 2;
  for (int i = 0; i < 40 * 1024; i++) fputc('a' + i % 26, f);
  fclose(f);
  if (make_names(dir)) return 2;
  int bad = sweep(argv[1], "read", file);
  bad |= sweep(argv[1], "list", dir);
  bad |= sweep(argv[1], "sha256_file", file);
  bad |= sweep(argv[1], "zstd", NULL);
  printf("%s\n", bad ? "LEAK" : "ok");
  return bad;
}
