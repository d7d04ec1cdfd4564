--[[
replay_bench.lua -- how fast lua-ese replays its log: in a restore, in soft
recovery after a crash, and a restore of a full set against `cp -r` + sync.

  lua5.4 bench/replay_bench.lua LIBDIR LUADIR WORKDIR

LIBDIR holds ese/core.so (build/lib), LUADIR the pure-Lua modules (lua/).
Everything is written under WORKDIR (made and removed here).

  A. replay in a restore: a table of ESE_BENCH_RECORDS records (default
     100,000) is loaded and termed cleanly (a checkpoint at the log's end,
     so the full set holds little log), a full backup.run taken, then the mixed workload
     of ese_bench.lua (insert a new key / replace with 50..150 bytes /
     delete, one record per commit, lazy commits, the last one durable)
     runs until it has written ESE_BENCH_REPLAY_MB MiB of log (default 30),
     then an incremental backup.run.  The instance is closed, the page cache
     dropped, and ese.restore_begin of {full, incremental} is stepped and
     timed: the steps until every file is copied (the copy: bytes copied,
     database pages checked) apart from the steps after (the replay: the log
     of both sets replayed into the copied database, pages flushed, the new
     log and checkpoint written).  Checked (untimed): the restored database
     has the last commits' effects.
  B. soft recovery: a child process (this script, step "crashchild") loads
     the same table, terms cleanly (a checkpoint at the log's end), inits
     again with the engine's defaults (checkpoint_depth 32 MiB: the default
     30 MiB of log stay under it, so no checkpoint follows and recovery
     replays about a full depth), runs the mixed workload until it has written
     ESE_BENCH_REPLAY_MB MiB of log, commits once durably and kills itself
     (SIGKILL: nothing is termed, no page written back).  The parent drops
     the page cache and times create_instance + inst:init() on the folder:
     recovery replays the log since that checkpoint.  Checked as in A.
  C. restore against cp -r + sync: a full backup.run of a table of
     ESE_BENCH_RESTORE_RECORDS records (default 1,000,000: the issue's
     figure; sequential keys, as in ese-backup-bench and the event-loop
     bench), then ESE_BENCH_ROUNDS (default 3) interleaved rounds, the order
     alternating, of ese.restore of the set into a new folder and of
     `cp -r` of the set into a new folder followed by `sync` of the copied
     files and the folder (fsync each; a plain `sync` would also flush the
     other writers of a shared machine).  Before each timed case: `sync`
     and `echo 3 > /proc/sys/vm/drop_caches` (cold reads), unless
     ESE_BENCH_COLD=0; the line "page cache" says whether dropping worked.
     Target: restore time / copy time <= 1.5.  The restore is stepped as
     in A, and its copy and replay parts are printed too (the replay's
     MiB/s counts the set's log records, most of which the replay skips:
     the copied database already holds their pages).

Log MiB of a folder: as ese_bench.lua (bench_common.lua), the end of the
records in each log file (its last non-zero byte, rounded up to 8) less the
12288 bytes before the first record, summed.  MiB = 2^20 bytes.

Environment: ESE_BENCH_RECORDS, ESE_BENCH_REPLAY_MB, ESE_BENCH_RESTORE_RECORDS,
ESE_BENCH_ROUNDS, ESE_BENCH_COLD, ESE_BENCH_ONLY (comma-separated: replay,
recovery, restore), ESE_BENCH_KEEP (keep WORKDIR), BENCH_LUA (the Lua
interpreter of the child; default lua5.4).
]]
local libdir, luadir, work = arg[1], arg[2], arg[3]
if not (libdir and luadir and work) then
  io.stderr:write("usage: lua5.4 replay_bench.lua LIBDIR LUADIR WORKDIR\n")
  os.exit(2)
end
package.cpath = libdir .. "/?.so;" .. package.cpath
package.path = luadir .. "/?.lua;" .. luadir .. "/?/init.lua;" .. package.path

local ese = require "ese"
local backup = require "ese.backup"
local fs = ese.fs
local clock = fs.clock

local MIB = 1048576
local PAGE_SIZE = 8192

local function env_int(name, default)
  local v = os.getenv(name)
  local n = math.tointeger(tonumber(v or default))
  if not n or n < 0 then error(name .. " must be a non-negative integer") end
  return n
end

local function out(fmt, ...)
  io.stdout:write(string.format(fmt, ...))
  io.stdout:flush()
end

-- ---- the records and log bytes (bench_common.lua) ----------------------------
local common = dofile((arg[0]:match("^(.*)/") or ".") .. "/bench_common.lua")(fs)
local umod, make_key, value = common.umod, common.make_key, common.value
local mix64, log_bytes, tree_bytes = common.mix64, common.log_bytes, common.tree_bytes

-- ---- the page cache -------------------------------------------------------------
local cold = env_int("ESE_BENCH_COLD", 1) ~= 0
local cache_state = cold and "dropped before each timed case (sync; echo 3 > /proc/sys/vm/drop_caches)"
  or "warm (ESE_BENCH_COLD=0)"

local function drop_caches()
  if not cold then return end
  os.execute("sync")
  local f = io.open("/proc/sys/vm/drop_caches", "w")
  local ok = f and f:write("3") and f:close()
  if not ok then
    if f then pcall(f.close, f) end
    cold = false
    cache_state = "NOT dropped: /proc/sys/vm/drop_caches is not writable here (warm reads)"
  end
end

-- ---- a table and the workload --------------------------------------------------
local function new_instance(dir, params)
  local p = { system_path = dir, log_path = dir, page_size = PAGE_SIZE }
  for k, v in pairs(params or {}) do p[k] = v end
  return ese.create_instance("replaybench", p)
end

-- Part C's keys: sequential, as in ese-backup-bench and the event-loop bench.
local function seq_key(i) return string.format("%016x", i) end

-- Loads n records (key(i) or make_key(i), value(i)) into dir/bench.edb
-- (transactions of 10,000, lazy, the last durable); returns inst, s, db, t
-- (open).
local function load(dir, n, params, key)
  key = key or make_key
  fs.mkdir_p(dir)
  local inst = new_instance(dir, params)
  inst:init()
  local s = inst:begin_session()
  local db = s:create_database(dir .. "/bench.edb")
  local t = s:create_table(db, "kv")
  local lazy = { lazy = true }
  for i = 0, n - 1, 10000 do
    s:begin_transaction()
    for j = i, math.min(i + 10000, n) - 1 do t:put(key(j), value(j)) end
    s:commit_transaction(i + 10000 < n and lazy or nil)
  end
  return inst, s, db, t
end

local function close_all(inst, s, db, t, how)
  t:close(); db:close(); s:end_session(); inst:term(how)
end

-- Commit c of the mixed workload (ese_bench.lua's): c % 3 == 0 inserts new
-- key (2 << 40) | c, 1 replaces and 2 deletes record (c * 7919) % n.
local function mixed_commit(s, t, n, c, opts)
  local kind, orig = c % 3, (c * 7919) % n
  s:begin_transaction()
  if kind == 0 then
    t:put(make_key((2 << 40) | c), value(c))
  elseif kind == 1 then
    t:put(make_key(orig), (value(c) .. value(c + 1)):sub(1, 50 + umod(mix64(c), 101)))
  else
    t:delete(make_key(orig))
  end
  s:commit_transaction(opts)
end

-- Runs the mixed workload until dir's log has grown by mib MiB (at most n
-- commits: no record is deleted twice); the last commit durable. Returns
-- commits, log bytes, seconds.
local function mixed_until(s, t, n, dir, mib)
  local before = log_bytes(dir)
  local lazy, c = { lazy = true }, 0
  local t0 = clock()
  while c < n - 1 do
    mixed_commit(s, t, n, c, lazy)
    c = c + 1
    if c % 500 == 0 then
      if log_bytes(dir) - before >= mib * MIB then break end
    end
  end
  mixed_commit(s, t, n, c, nil)
  c = c + 1
  local secs = clock() - t0
  return c, log_bytes(dir) - before, secs
end

-- The last three commits (one of each kind) took effect in t; with no
-- commits, the last loaded record (key(n - 1)) reads back.
local function check_mixed(t, n, commits, what, key)
  for c = math.max(0, commits - 3), commits - 1 do
    local kind, orig = c % 3, (c * 7919) % n
    local got = t:get(make_key(kind == 0 and ((2 << 40) | c) or orig))
    if (kind == 2) ~= (got == nil) then error(what .. ": commit " .. c .. " did not take effect") end
  end
  if commits == 0 and t:get((key or make_key)(n - 1)) ~= value(n - 1) then
    error(what .. ": record " .. (n - 1) .. " reads back wrong")
  end
end

-- Opens the database of a restored or recovered folder; returns inst, s, db, t.
local function open_folder(dir, params)
  local inst = new_instance(dir, params)
  inst:init()
  local s = inst:begin_session()
  s:attach_database(dir .. "/bench.edb")
  local db = s:open_database(dir .. "/bench.edb")
  return inst, s, db, s:open_table(db, "kv")
end

local function check_folder(dir, n, commits, what, key)
  local inst, s, db, t = open_folder(dir)
  check_mixed(t, n, commits, what, key)
  close_all(inst, s, db, t)
end

-- Steps ese.restore_begin(dirs, dest) to its end; returns the whole time,
-- the time of the copy (the steps until every file is copied: done reaches
-- half of total, which counts each copied byte twice) and the bytes copied.
local function timed_restore(dirs, dest)
  local r <close> = ese.restore_begin(dirs, dest, {})
  local copy_secs, copied
  local t0 = clock()
  local done, total, finished
  repeat
    done, total, finished = r:step()
    if not copy_secs and done >= total // 2 then copy_secs, copied = clock() - t0, done end
  until finished
  local all = clock() - t0
  r:close()
  return all, copy_secs, copied
end

-- ---- the crash child (part B) ---------------------------------------------------
if arg[4] == "crashchild" then
  local n, mib = math.tointeger(tonumber(arg[5])), math.tointeger(tonumber(arg[6]))
  local inst, s, db, t = load(work, n)
  close_all(inst, s, db, t, { complete = true })
  -- the open instance stays referenced (a collected one would term)
  local live = { open_folder(work) }
  local commits, bytes = mixed_until(live[2], live[4], n, work, mib)
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("n")
  f:close()
  out("crashed %d %d\n", commits, bytes)
  os.execute("kill -9 " .. math.tointeger(pid))
  os.exit(3)                                     -- not reached
end

-- ---- the parts ---------------------------------------------------------------------
local nrec = env_int("ESE_BENCH_RECORDS", 100000)
local mib = env_int("ESE_BENCH_REPLAY_MB", 30)
local nrestore = env_int("ESE_BENCH_RESTORE_RECORDS", 1000000)
local rounds = math.max(1, env_int("ESE_BENCH_ROUNDS", 3))
local only = os.getenv("ESE_BENCH_ONLY")
local function want(part) return not only or (("," .. only .. ","):find("," .. part .. ",", 1, true) ~= nil) end
assert(nrec > 0 and nrestore > 0, "record counts must be positive")

fs.remove_tree(work)
fs.mkdir_p(work)
out("replay bench: mixed workload on %d records, %d MiB of log; restore of a %d-record full set\n",
  nrec, mib, nrestore)
local targets = {}

if want("replay") then
  local live, full, incr, dest = work .. "/a-live", work .. "/a-full", work .. "/a-incr", work .. "/a-restored"
  local inst, s, db, t = load(live, nrec, { circular_log = false })
  close_all(inst, s, db, t, { complete = true })  -- the full set then holds little log
  inst, s, db, t = open_folder(live, { circular_log = false })
  backup.run(inst, full)
  local commits, bytes, secs = mixed_until(s, t, nrec, live, mib)
  backup.run(inst, incr, { incremental = true })
  close_all(inst, s, db, t)
  local set_log = log_bytes(full) + log_bytes(incr)
  drop_caches()
  local all, copy_secs, copied = timed_restore({ full, incr }, dest)
  local replay_secs = all - copy_secs
  out("\nA. replay in a restore of {full, incremental} (%s)\n", "ese.restore_begin, stepped")
  out("  workload: %d mixed commits wrote %.1f MiB of log in %.1f s (%.0f B per commit)\n",
    commits, bytes / MIB, secs, bytes / commits)
  out("  sets: full %.1f MiB, incremental %.1f MiB; %.1f MiB of log records in them (%.1f MiB in the incremental)\n",
    tree_bytes(full) / MIB, tree_bytes(incr) / MIB, set_log / MIB, log_bytes(incr) / MIB)
  out("  %-44s %8.2f s  [replay.restore]\n", "restore, whole", all)
  out("  %-44s %8.2f s  %8.1f MiB/s of files copied  [replay.copy]\n",
    string.format("  copy part (%.1f MiB)", copied / MIB), copy_secs, copied / MIB / copy_secs)
  out("  %-44s %8.2f s  %8.1f MiB/s of log  [replay.replay]\n",
    string.format("  replay part (%.1f MiB of log)", set_log / MIB), replay_secs, set_log / MIB / replay_secs)
  check_folder(dest, nrec, commits, "restore")
  out("  check: the restored database has the last commits' effects: ok\n")
  targets[#targets + 1] = { "restore replay, MiB of log / s", set_log / MIB / replay_secs }
  if not os.getenv("ESE_BENCH_KEEP") then
    for _, d in ipairs({ live, full, incr, dest }) do fs.remove_tree(d) end
  end
end

if want("recovery") then
  local dir = work .. "/b-crash"
  local lua = os.getenv("BENCH_LUA") or "lua5.4"
  local q = function(x) return "'" .. x:gsub("'", "'\\''") .. "'" end
  local p = assert(io.popen(string.format("exec %s %s %s %s %s crashchild %d %d", lua, q(arg[0]), q(libdir),
    q(luadir), q(dir), nrec, mib)))
  local line = p:read("a")
  p:close()
  local commits, bytes = line:match("crashed (%d+) (%d+)")
  if not commits then error("crash child: " .. line) end
  commits, bytes = math.tointeger(tonumber(commits)), math.tointeger(tonumber(bytes))
  drop_caches()
  local t0 = clock()
  local inst = new_instance(dir)
  inst:init()
  local secs = clock() - t0
  inst:term()
  out("\nB. soft recovery after a SIGKILL (engine defaults: checkpoint_depth 32 MiB, 64 MiB cache)\n")
  out("  %d mixed commits since the last checkpoint (a clean term) wrote %.1f MiB of log\n", commits, bytes / MIB)
  out("  %-44s %8.2f s  %8.1f MiB/s of log  [recovery]\n", "create_instance + init (recovery)", secs,
    bytes / MIB / secs)
  check_folder(dir, nrec, commits, "recovery")
  out("  check: the recovered database has the last commits' effects: ok\n")
  targets[#targets + 1] = { "soft recovery, MiB of log / s", bytes / MIB / secs }
  if not os.getenv("ESE_BENCH_KEEP") then fs.remove_tree(dir) end
end

local ratio
if want("restore") then
  local live, full = work .. "/c-live", work .. "/c-full"
  local t0 = clock()
  local inst, s, db, t = load(live, nrestore, { circular_log = false }, seq_key)
  local load_secs = clock() - t0
  backup.run(inst, full)
  close_all(inst, s, db, t)
  fs.remove_tree(live)
  local set, set_log = tree_bytes(full), log_bytes(full)
  local secs, lo, hi = { 0, 0 }, { math.huge, math.huge }, { 0, 0 }
  local copy_secs = 0
  local names = { "ese.restore", "cp -r + sync" }
  local function one(which, dest)
    drop_caches()
    local c0 = clock()
    if which == 1 then
      local _, c = timed_restore({ full }, dest)
      copy_secs = copy_secs + c
    else
      local cmd = string.format("cp -r -- '%s' '%s' && sync -- '%s'/* '%s'", full, dest, dest, dest)
      if not os.execute(cmd) then error("failed: " .. cmd) end
    end
    local dt = clock() - c0
    secs[which], lo[which], hi[which] = secs[which] + dt, math.min(lo[which], dt), math.max(hi[which], dt)
  end
  for round = 1, rounds do
    for j = 0, 1 do
      local which = (round + j) % 2 + 1
      local dest = work .. "/c-dest"
      one(which, dest)
      if round == 1 and which == 1 then check_folder(dest, nrestore, 0, "restore of the full set", seq_key) end
      fs.remove_tree(dest)
    end
  end
  out("\nC. restore of a full set of %d records against cp -r + sync, %d rounds\n", nrestore, rounds)
  out("  set: %.1f MiB (%.1f MiB of log records); the table loaded in %.1f s (sequential keys)\n", set / MIB,
    set_log / MIB, load_secs)
  out("  page cache: %s\n", cache_state)
  for w = 1, 2 do
    out("  %-44s %8.2f s  %8.1f MiB/s  rounds %.2f..%.2f s  [restore.%s]\n", names[w], secs[w] / rounds,
      set / MIB / (secs[w] / rounds), lo[w], hi[w], w == 1 and "ese" or "cp")
    if w == 1 then
      out("  %-44s %8.2f s  %8.1f MiB/s of files copied\n", "  its copy part", copy_secs / rounds,
        set / MIB / (copy_secs / rounds))
      out("  %-44s %8.2f s  %8.1f MiB/s of the set's log\n", "  its replay part", (secs[1] - copy_secs) / rounds,
        set_log / MIB / ((secs[1] - copy_secs) / rounds))
    end
  end
  out("  check: the first restore has the loaded records: ok\n")
  ratio = secs[1] / secs[2]
  if not os.getenv("ESE_BENCH_KEEP") then fs.remove_tree(full) end
end

out("\ntargets                                                  target   value\n")
for _, r in ipairs(targets) do out("  %-56s %7s  %6.1f  (info)\n", r[1], "", r[2]) end
if ratio then
  out("  %-56s <= %4.2f  %6.2f  %s\n", "restore, full set cold: ese.restore / cp -r + sync", 1.5, ratio,
    ratio <= 1.5 and "PASS" or "FAIL")
end
if not os.getenv("ESE_BENCH_KEEP") then fs.remove_tree(work) end
