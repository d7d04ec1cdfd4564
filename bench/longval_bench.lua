--[[
longval_bench.lua -- long values (issue 11): a 1 MiB value put and
committed durably against a raw 1 MiB write + fdatasync to the same disk,
a cached 1 MiB get, and the file size after 1000 replaces of a 1 MiB value.

  lua5.4 bench/longval_bench.lua LIBDIR LUADIR WORKDIR

LIBDIR holds ese/core.so (build/lib), LUADIR the pure-Lua modules (lua/).
Everything is written under WORKDIR (made and removed here).

  A. put + durable commit: ESE_BENCH_LV_ROUNDS (default 200) rounds of
     t:put("doc", v) outside a transaction (a durable commit), v a 1 MiB
     value (one of 4, so every round changes every page), on an instance
     with the default parameters, log_file_size = 16 MiB (a generation
     per 16 values; with the default 1 MiB files each value also makes a
     new log file) and circular_log = true (the generations the
     checkpoint no longer needs are recycled: their files become the next
     generations', so that a commit overwrites blocks written before, as
     the raw write does; docs/format.md, "Log recycling"); against the same number of rounds of a raw write: 1 MiB
     written over the start of a 1 MiB file made beforehand in the same
     folder, then fsync (ese.fs.fsync, fdatasync-like: the file's size does
     not change).  The rounds of the two alternate in blocks of 10.
     Target: engine time / raw time <= 2.
     Info beside it: as many raw appends after the rounds (1 MiB written
     at the end of a growing file + fsync), new blocks each time as a
     log's writes are, and the put's time against them.
  A0. the same (half the rounds) without circular logging (the default:
     every generation kept until a backup truncates it, so each is a new
     file whose blocks are reserved, not written; the first write into
     reserved blocks makes the file system write extent metadata at each
     fdatasync): printed for information.
  A1. the same as A0 (half the rounds) with the default 1 MiB log files,
     where each value rolls the log once or twice: for information.
  B. cached get: t:get("doc") of the 1 MiB value ESE_BENCH_LV_GETS times
     (default 2000) after one untimed get.  Target >= 1 GB/s (10^9 bytes/s).
  C. space: 1000 replaces of a 1 MiB value (ESE_BENCH_LV_REPLACES), lazy
     commits, the last durable, then a clean term: file size / 1 MiB.
     Target <= 2 (the issue: "at most about twice the live data").

     Before the rounds, ESE_BENCH_LV_WARM (default 48) untimed puts: three
     16 MiB generations, so that the rounds see the steady state (the
     first generations of a new instance are new files: nothing has been
     retired yet to recycle).
Environment: ESE_BENCH_LV_ROUNDS, ESE_BENCH_LV_GETS, ESE_BENCH_LV_REPLACES, ESE_BENCH_LV_WARM,
ESE_BENCH_KEEP (keep WORKDIR).
]]
local libdir, luadir, work = arg[1], arg[2], arg[3]
if not (libdir and luadir and work) then
  io.stderr:write("usage: lua5.4 longval_bench.lua LIBDIR LUADIR WORKDIR\n")
  os.exit(2)
end
package.cpath = libdir .. "/?.so;" .. package.cpath
package.path = luadir .. "/?.lua;" .. luadir .. "/?/init.lua;" .. package.path

local ese = require "ese"
local fs = ese.fs
local clock = fs.clock

local MIB = 1048576

local function env_int(name, default)
  local n = math.tointeger(tonumber(os.getenv(name) or default))
  if not n or n <= 0 then error(name .. " must be a positive integer") end
  return n
end
local ROUNDS = env_int("ESE_BENCH_LV_ROUNDS", 200)
local GETS = env_int("ESE_BENCH_LV_GETS", 2000)
local REPLACES = env_int("ESE_BENCH_LV_REPLACES", 1000)
local WARM = env_int("ESE_BENCH_LV_WARM", 48)   -- untimed puts before A's rounds: 3 generations of 16 MiB

local function out(fmt, ...)
  io.stdout:write(string.format(fmt, ...))
  io.stdout:flush()
end

local function value(seed)
  local parts, x = {}, seed * 7919 + 1
  for i = 1, MIB // 8 do
    x = (x * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
    parts[i] = string.pack("<i8", x)
  end
  return table.concat(parts)
end
local values = {}
for i = 1, 4 do values[i] = value(i) end

local function verdict(ok) return ok and "PASS" or "FAIL" end

local function instance(dir, params)
  local p = { system_path = dir, log_path = dir }
  for k, v in pairs(params or {}) do p[k] = v end
  local inst = ese.create_instance("lvbench", p)
  inst:init()
  local s = inst:begin_session()
  local db = s:create_database(dir .. "/lv.edb")
  return inst, s, s:create_table(db, "t")
end

fs.remove_tree(work)
fs.mkdir_p(work)
out("long values: %d MiB values; work folder %s\n", 1, work)

-- A: rounds of put + durable commit against rounds of the raw write, in
-- alternating blocks of 10, on an instance with log files of log_kib KiB;
-- returns the seconds of each, the seconds of as many raw appends (1 MiB
-- written at the end of a growing file + fsync: new blocks each time, as
-- a log writes; info) and the instance (its table holds the last value
-- written).
local function put_rounds(dir, log_kib, rounds, circular)
  fs.mkdir_p(dir)
  local inst, _, t = instance(dir, { log_file_size = log_kib, circular_log = circular })
  local raw = dir .. "/raw.bin"
  do
    local f = assert(io.open(raw, "wb"))
    f:write(values[1])
    f:close()
    fs.fsync(raw)
  end
  local function raw_write(v)
    local f = assert(io.open(raw, "r+b"))
    f:write(v)
    f:close()
    fs.fsync(raw)
  end
  local appended = dir .. "/append.bin"
  local function raw_append(v)
    local f = assert(io.open(appended, "ab"))
    f:write(v)
    f:close()
    fs.fsync(appended)
  end
  -- warm, untimed: the first value's pages are new ones, and the first
  -- generations are new files until a checkpoint retires some (circular
  -- logging); the rounds measure the steady state after WARM puts
  for j = 1, WARM do t:put("doc", values[j % 4 + 1]) end
  local te, tr = 0, 0
  local i = 0
  while i < rounds do
    local n = math.min(10, rounds - i)
    local t0 = clock()
    for j = 1, n do t:put("doc", values[(i + j) % 4 + 1]) end
    te = te + clock() - t0
    t0 = clock()
    for j = 1, n do raw_write(values[(i + j) % 4 + 1]) end
    tr = tr + clock() - t0
    i = i + n
  end
  -- the appends after the rounds, not among them: their write-back would
  -- slow the rounds being compared
  local t0 = clock()
  for j = 1, rounds do raw_append(values[j % 4 + 1]) end
  local ta = clock() - t0
  fs.remove(appended)
  return te, tr, ta, inst, t
end

local function a_row(label, te, tr, ta, rounds, target)
  local ratio = te / tr
  out("%s put + durable commit of 1 MiB: %.2f ms (%.0f MiB/s); raw write + fsync of 1 MiB: %.2f ms (%.0f MiB/s); "
      .. "ratio %.2f%s\n", label, 1000 * te / rounds, rounds / te, 1000 * tr / rounds, rounds / tr, ratio,
      target and (" (target <= 2): " .. verdict(ratio <= 2)) or " (info)")
  out("    raw append + fsync of 1 MiB (new blocks each time, as a log writes): %.2f ms; put / append %.2f (info)\n",
      1000 * ta / rounds, te / ta)
end

-- A and B
do
  local te, tr, ta, inst, t = put_rounds(work .. "/a", 16 * 1024, ROUNDS, true)
  a_row("A. (16 MiB log files, recycled)", te, tr, ta, ROUNDS, true)
  local want = values[ROUNDS % 4 + 1]
  assert(t:get("doc") == want, "the value read back differs")
  local t0 = clock()
  for _ = 1, GETS do t:get("doc") end
  local secs = clock() - t0
  local gbs = GETS * MIB / secs / 1e9
  out("B. cached get of 1 MiB: %.3f ms, %.2f GB/s (target >= 1 GB/s): %s\n", 1000 * secs / GETS, gbs,
      verdict(gbs >= 1))
  inst:term({ complete = true })
end

-- A0: the same without circular logging (every generation a new file);
-- A1: also with the default 1 MiB log files (a 1 MiB value fills one:
-- every put rolls the log once or twice); info, half the rounds
do
  local rounds = math.max(10, ROUNDS // 2)
  local te, tr, ta, inst = put_rounds(work .. "/a0", 16 * 1024, rounds, false)
  a_row("A0. (16 MiB log files, all kept: new files)", te, tr, ta, rounds, false)
  inst:term({ complete = true })
  te, tr, ta, inst = put_rounds(work .. "/a1", 1024, rounds, false)
  a_row("A1. (1 MiB log files, all kept)", te, tr, ta, rounds, false)
  inst:term({ complete = true })
end

-- C
do
  local dir = work .. "/c"
  fs.mkdir_p(dir)
  local inst, s, t = instance(dir)
  for i = 1, REPLACES do
    s:begin_transaction()
    t:put("doc", values[i % 4 + 1])
    s:commit_transaction(i < REPLACES and { lazy = true } or nil)
  end
  inst:term({ complete = true })
  local size = fs.stat(dir .. "/lv.edb").size
  local fi = ese.file_info(dir .. "/lv.edb", true)
  local ratio = size / MIB
  out("C. %d replaces of a 1 MiB value: file %.2f MiB (%d pages; `ese check` passes), %.2f x the live data "
      .. "(target <= 2): %s\n", REPLACES, size / MIB, fi.pages, ratio, verdict(ratio <= 2))
end

if not os.getenv("ESE_BENCH_KEEP") then fs.remove_tree(work) end
