-- How much free space init needs after a disk-full stop (docs/guide.md,
-- "Running out of disk space"): the growth of the databases by soft
-- recovery plus one checkpoint file; a commit then needs one log file more.
-- ESE_FAULT=space:N (csrc/os.h) gives each process a disk with N bytes
-- free, so the measure is exact and needs no small file system.
local H = require "support.helpers"

local LOG_KIB = 256
-- The double-write ring (B.dwb) is made at the first init at its full
-- size (dw_size plus a 4 KiB header) and never grows: a small one keeps
-- the budgets below about logs, checkpoint and database.
local DW_SIZE = 128 * 1024
local DW_FILE = DW_SIZE + 4096

-- The stop: an instance on dir that writes records of 1000 bytes (about
-- 400 KiB per 400 records) until the disk is full.  Prints "STOPPED n
-- error" with the records committed.
local STOP = [[
local ese = require "ese"
local dir, log_kib, dw_size = arg[1], tonumber(arg[2]), tonumber(arg[3])
local inst = ese.create_instance("stop", { system_path = dir, log_path = dir, log_file_size = log_kib,
                                           dw_size = dw_size })
inst:init()
local s = inst:begin_session()
local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
local n, ok, e = 0, true, { name = "none" }
while ok and n < 5000 do   -- 5 MB: past any space a test gives
  ok, e = pcall(function()
    s:begin_transaction()
    t:put(("k%05d"):format(n + 1), ("v"):rep(1000))
    s:commit_transaction()
  end)
  if ok then n = n + 1 end
end
print("STOPPED " .. n .. " " .. e.name)
inst:term()
]]

-- After the stop: init, read the last record, then `commits` commits.
-- Prints INIT ok|error, GOT value, then COMMITS ok or COMMIT i error.
local AFTER = [[
local ese = require "ese"
local dir, last, commits, dw_size = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4])
local inst = ese.create_instance("after", { system_path = dir, log_path = dir, dw_size = dw_size })
local ok, e = pcall(inst.init, inst)
print("INIT " .. (ok and "ok" or e.name))
if not ok then return end
local s = inst:begin_session()
s:attach_database(dir .. "/app.edb")
local t = s:open_table(s:open_database(dir .. "/app.edb"), "t")
print("GOT " .. tostring(t:get(last) and "yes" or "no"))
for i = 1, commits do
  ok, e = pcall(function()
    s:begin_transaction()
    t:put(("after%05d"):format(i), ("a"):rep(1000))
    s:commit_transaction()
  end)
  if not ok then
    print("COMMIT " .. i .. " " .. e.name)
    return
  end
end
print("COMMITS ok")
inst:term()
]]

local function run(source, args, space)
  local code, out, err = H.lua_child(source, args, space and ("ESE_FAULT=space:%d"):format(space) or nil)
  assert.are.equal(0, code, out .. err)
  return out
end

describe("disk full", function()
  local w

  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- A fresh folder under name where the instance of STOP ran out of
  -- space (1.5 MiB free: logs of 256 KiB, the checkpoint, the database
  -- pages it flushes).  Every stop is the same (one thread, the same
  -- writes).  Returns the folder and the key of the last record committed.
  -- (A copy of one stopped folder would not do: its logs name the
  -- original database by its absolute path.)
  local stops = {}
  local function stopped(name)
    local dir = w:path(name)
    assert(os.execute("mkdir -p " .. H.q(dir)))
    local out = run(STOP, { dir, LOG_KIB, DW_SIZE }, 1536 * 1024 + DW_FILE)
    local n, why = out:match("STOPPED (%d+) (%S+)")
    -- a commit fails with JET_errDiskFull, or succeeds and the next log
    -- file cannot be made: the instance is then unavailable
    assert.is_truthy(why == "JET_errDiskFull" or why == "JET_errInstanceUnavailable", out)
    stops[#stops + 1] = n
    assert.are.equal(stops[1], n, "every stop is the same")
    assert.is_true(tonumber(n) > 100, out)
    return dir, ("k%05d"):format(tonumber(n))
  end

  it("after a disk-full stop, init needs the databases' growth plus one checkpoint file; "
     .. "a commit then needs one log file (log_file_size) more", function()
    -- with all the space it wants: what grows, and by how much
    local free, last = stopped("free")
    local db_before = H.file_size(free .. "/app.edb")
    local out = run(AFTER, { free, last, 0, DW_SIZE })
    assert.matches("INIT ok\nGOT yes\nCOMMITS ok", out, 1, true)
    local growth = H.file_size(free .. "/app.edb") - db_before
    local chk = H.file_size(free .. "/edb.chk")
    assert.is_true(growth > 0, "recovery writes the pages that only the log held")

    local function try(name, space, commits)
      local dir = stopped(name)
      return run(AFTER, { dir, last, commits, DW_SIZE }, space)
    end
    -- exactly that much is enough for init (and for reading) ...
    assert.matches("INIT ok\nGOT yes\n", try("exact", growth + chk, 0), 1, true)
    -- ... one byte less is not
    assert.matches("INIT JET_errDiskFull", try("short", growth + chk - 1, 0), 1, true)
    -- commits fill the current log file; the one that rolls to a new
    -- generation (log_file_size bytes) finds no room and the instance stops
    -- again (300 records of 1000 bytes are more than a 256 KiB log holds)
    local k = tonumber(try("no_next_log", growth + chk, 300):match("COMMIT (%d+) JET_errDiskFull"))
    assert.is_truthy(k, "a commit met the full disk")
    -- ... with room for that file, the same commits, the roll included, go on
    assert.matches("COMMITS ok", try("next_log", growth + chk + LOG_KIB * 1024, k), 1, true)
  end)

  it("no room for the next log file: commits go on into the current one; the roll that needs it "
     .. "fails with JET_errDiskFull, and every commit before it is recovered", function()
    -- room for the first log, the checkpoint and the ring, not for a second log
    local out = run(STOP, { w.dir, LOG_KIB, DW_SIZE }, (LOG_KIB + 64) * 1024 + DW_FILE)
    local n, why = out:match("STOPPED (%d+) (%S+)")
    n = tonumber(n)
    assert.are.equal("JET_errDiskFull", why, out)
    -- about LOG_KIB records of 1000 bytes fit the first log (the file made
    -- ahead of time used to stop the instance after the first commit)
    assert.is_true(n > LOG_KIB // 4, out)
    out = run(AFTER, { w.dir, ("k%05d"):format(n), 0, DW_SIZE })
    assert.matches("INIT ok\nGOT yes\nCOMMITS ok", out, 1, true)
    assert.matches("INIT ok\nGOT no", run(AFTER, { w.dir, ("k%05d"):format(n + 1), 0, DW_SIZE }), 1, true)
  end)
end)
