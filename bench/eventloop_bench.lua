--[[
eventloop_bench.lua -- how long backup, verify and restore keep a real
event loop (libuv, Debian's lua-luv) from running.

  lua5.4 bench/eventloop_bench.lua LIBDIR LUADIR WORKDIR

LIBDIR holds ese/core.so (build/lib), LUADIR the pure-Lua modules (lua/);
everything is written under WORKDIR (made and removed here).  Records:
ESE_BENCH_RECORDS (default 100,000; the issue's figure is 1,000,000).

The database is loaded first (outside the loop, transactions of 10,000
records of a 16-byte key and a 100-byte value).  Then, in the loop:
  - a 1 ms timer commits one record per tick (durable);
  - a 1 ms probe timer records the longest gap between two of its ticks:
    the time the loop could not run (about 1 ms when nothing stalls);
  - a coroutine runs, one step after the other, a full backup.run, an
    incremental backup.run, backup.verify of the chain {full, incremental}
    and ese.restore of the chain, yielding from every progress callback;
    a luv idle callback resumes it, so the loop runs between two
    callbacks.
Prints, per step, the longest stall, the total time, the progress
callbacks and the commits the timer made during the step, and the longest
stall per phase of the callback before it (the resume after a "checkpoint"
callback runs a checkpoint slice, after an "end" callback a step of End,
...).
]]
local libdir, luadir, work = arg[1], arg[2], arg[3]
if not (libdir and luadir and work) then
  io.stderr:write("usage: lua5.4 eventloop_bench.lua LIBDIR LUADIR WORKDIR\n")
  os.exit(2)
end
package.cpath = libdir .. "/?.so;" .. package.cpath
package.path = luadir .. "/?.lua;" .. luadir .. "/?/init.lua;" .. package.path

local uv = require "luv"
local ese = require "ese"
local backup = require "ese.backup"
local fs = ese.fs

local nrec = math.tointeger(tonumber(os.getenv("ESE_BENCH_RECORDS") or "100000"))
assert(nrec and nrec > 0, "ESE_BENCH_RECORDS must be a positive integer")

fs.remove_tree(work)
fs.mkdir_p(work)
local live = work .. "/live"
fs.mkdir(live)
local inst = ese.create_instance("loopbench", {
  system_path = live, log_path = live, page_size = 8192, circular_log = false,
})
inst:init()
local s = inst:begin_session()
local db_path = live .. "/bench.edb"
local db = s:create_database(db_path)
local t = s:create_table(db, "kv")
local value = string.rep("v", 100)
local t0 = fs.clock()
for i = 0, nrec - 1, 10000 do
  s:begin_transaction()
  for j = i, math.min(i + 10000, nrec) - 1 do t:put(string.format("%016x", j), value) end
  s:commit_transaction()
end
io.stdout:write(string.format("eventloop bench: %d records loaded in %.1f s\n", nrec, fs.clock() - t0))

-- the loop's probes
local longest, last_tick = 0, uv.hrtime()
-- the progress callbacks on either side of the longest stall
local prev_at, last_at, where = "start", "start", ""
-- the longest stall per phase of the callback before it (the work of the
-- resume that followed that callback: a checkpoint slice, a chunk, ...)
local by_phase, last_phase = {}, "start"
local probe = uv.new_timer()
probe:start(1, 1, function()
  local now = uv.hrtime()
  local gap = (now - last_tick) / 1e6
  if gap > longest then longest, where = gap, prev_at .. " .. " .. last_at end
  if gap > (by_phase[last_phase] or 0) then by_phase[last_phase] = gap end
  last_tick = now
end)
local commits, next_key = 0, nrec
local committer = uv.new_timer()
committer:start(1, 1, function()
  s:begin_transaction()
  t:put(string.format("%016x", next_key), value)
  s:commit_transaction()
  next_key, commits = next_key + 1, commits + 1
end)

local callbacks = 0
local function yield_to_loop(p)
  callbacks = callbacks + 1
  prev_at, last_at = last_at, string.format("%s %s %s", p.phase, p.file or "", p.done and tostring(p.done) or "")
  last_phase = p.phase
  coroutine.yield()
end

local results = {}
local function step(name, fn)
  longest, last_tick, callbacks, commits = 0, uv.hrtime(), 0, 0
  prev_at, last_at, where = "start", "start", ""
  by_phase, last_phase = {}, "start"
  local c0 = fs.clock()
  fn()
  results[#results + 1] = { name = name, stall = longest, seconds = fs.clock() - c0,
                            callbacks = callbacks, commits = commits, where = where, by_phase = by_phase }
end

local full, inc, restored = work .. "/full", work .. "/inc", work .. "/restored"
local co = coroutine.create(function()
  step("full backup.run", function() backup.run(inst, full, { on_progress = yield_to_loop }) end)
  step("incremental backup.run", function()
    backup.run(inst, inc, { incremental = true, on_progress = yield_to_loop })
  end)
  step("backup.verify full+incremental", function()
    backup.verify({ full, inc }, { on_progress = yield_to_loop })
  end)
  step("ese.restore full+incremental", function()
    ese.restore({ full, inc }, restored, { on_progress = yield_to_loop })
  end)
end)

local idle = uv.new_idle()
local failure
idle:start(function()
  local ok, err = coroutine.resume(co)
  if not ok then failure = debug.traceback(co, tostring(err)) end
  if coroutine.status(co) == "dead" then
    idle:stop(); probe:stop(); committer:stop()
    idle:close(); probe:close(); committer:close()
  end
end)
uv.run()
if failure then error(failure, 0) end
local set = 0
for _, name in ipairs(fs.list(full)) do set = set + fs.stat(full .. "/" .. name).size end
io.stdout:write(string.format("  the full set holds %.1f MiB\n", set / 1048576))

io.stdout:write(string.format("  %-32s %12s %10s %10s %8s\n", "step", "stall (ms)", "total (s)", "callbacks",
  "commits"))
for _, r in ipairs(results) do
  io.stdout:write(string.format("  %-32s %12.1f %10.2f %10d %8d\n", r.name, r.stall, r.seconds, r.callbacks,
    r.commits))
  io.stdout:write(string.format("  %-32s longest stall between callbacks: %s\n", "", r.where))
  local phases = {}
  for ph, ms in pairs(r.by_phase) do phases[#phases + 1] = string.format("%s %.1f", ph, ms) end
  table.sort(phases)
  io.stdout:write(string.format("  %-32s longest stall after a callback of phase (ms): %s\n", "",
    table.concat(phases, ", ")))
end
t:close(); db:close(); s:end_session(); inst:term()
if not os.getenv("ESE_BENCH_KEEP") then fs.remove_tree(work) end
