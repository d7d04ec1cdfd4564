-- A hostile review of log format 3 and the double-write ring (issue 9):
-- crashes and power cuts while recovery itself writes.  Each case failed
-- before its fix.
local ese = require "ese"
local H = require "support.helpers"

-- The child: "setup" writes 30 durable commits, then 3 lazy ones and a
-- durable one (one flush of several records), and exits without term (a
-- crash); "init" recovers, prints COUNT and the number of keys, terms.
local CHILD = [[
  local ese = require "ese"
  local mode, dir = arg[1], arg[2]
  local inst = ese.create_instance("c" .. mode, { system_path = dir, log_path = dir, log_file_size = 256 })
  inst:init()
  local s = inst:begin_session()
  local v = ("v"):rep(100)
  if mode == "setup" then
    local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
    for i = 1, 30 do t:put(("k%05d"):format(i), v) end
    for i = 31, 34 do
      s:begin_transaction()
      t:put(("k%05d"):format(i), v)
      s:commit_transaction({ lazy = i < 34 })
    end
    os.exit(0, false)
  end
  s:attach_database(dir .. "/app.edb")
  local t = s:open_table(s:open_database(dir .. "/app.edb"), "t")
  local n = 0
  for _ in t:pairs() do n = n + 1 end
  print("COUNT " .. n)
  inst:term({ complete = true })
]]

local function child(mode, dir, env)
  local code, out, err = H.lua_child(CHILD, { mode, dir }, env)
  return code, out, err
end

describe("log_reopen under a power cut", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- The log of a power cut during the last flush: that flush's slot
  -- damaged and its second record torn, whole records after it (a
  -- recoverable state: the older slot says where the durable part ends).
  local function torn_flush(dir)
    local code, _, err = child("setup", dir)
    assert.are.equal(0, code, err)
    local path = dir .. "/edb.log"
    local data = assert(H.read_file(path))
    local n = H.newest_slot(path)
    local s = string.unpack("<I4", data, n + 21)
    local len = string.unpack("<I4", data, s + 1)
    H.flip_byte(path, n + 100)                              -- the slot of the torn flush
    H.flip_byte(path, s + ((8 + len + 4 + 7) // 8) * 8 + 9)  -- its second record
  end

  it("a recovery cut off while it zeroes the torn tail and writes both shadow slots (power:K:S at each "
     .. "sync of B.log, reordering seeds) leaves a log the next init recovers", function()
    local base = w:path("base")
    assert(os.execute("mkdir -p " .. H.q(base)))
    torn_flush(base)
    -- untouched, it recovers
    local probe = w:path("probe")
    H.copy_dir(base, probe)
    local trace = w:path("trace")
    local code, out, err = child("init", probe, "ESE_FAULT_TRACE=" .. H.q(trace))
    assert.are.equal(0, code, err)
    local want = assert(tonumber(out:match("COUNT (%d+)")))
    assert.is_true(want >= 30)
    -- the syncs of edb.log from the zeroing of the tail (the first write
    -- past the slots) to the sync after the slot write
    local syncs, started = {}, false
    for line in assert(H.read_file(trace)):gmatch("[^\n]+") do
      local k, kind, _, off, name = line:match("^(%d+) (%a+) (%d+) (%d+) (%S+)$")
      if name == "edb.log" then
        if kind == "write" and tonumber(off) >= H.LOG_DATA then started = true end
        if started and kind == "sync" then syncs[#syncs + 1] = tonumber(k) end
        if kind == "write" and tonumber(off) == H.LOG_SLOT_A then
          -- the slot write: the next sync of edb.log ends the window
          started = "last"
        end
        if started == "last" and kind == "sync" then break end
      end
    end
    assert.is_true(#syncs >= 1, "the reopen's syncs are in the trace")
    local failed = {}
    for _, k in ipairs(syncs) do
      for seed = 2, 110 do
        if seed % 4 >= 2 then   -- sectors reordered
          local d = w:path(("cut_%d_%d"):format(k, seed))
          H.copy_dir(base, d)
          child("init", d, ("ESE_FAULT=power:%d:%d"):format(k, seed))
          local c, o, e = child("init", d)
          local got = tonumber(o:match("COUNT (%d+)") or "")
          if c ~= 0 or got ~= want then failed[#failed + 1] = ("power:%d:%d %s"):format(k, seed, e:match("[^\n]*")) end
          H.rmdir(d)
        end
      end
    end
    assert.are.same({}, failed)
  end)
end)

describe("replay of a commit that names one page twice", function()
  it("is a damaged log (the writer logs a page once per commit): JET_errLogFileCorrupt, "
     .. "restore JET_errLogCorruptDuringHardRestore, the folder unchanged (redo_dbtime dup)", function()
    -- Before the fix the first record sealed page 2 with the commit's T
    -- and the second, whose base is the page before the commit, was
    -- skipped as "already there": its change lost without a word.
    -- csrc/redo.c's commit_rec (once_each) now refuses a group with a
    -- (dbid, pgno) twice before any page is staged.
    H.expect_harness("redo_dbtime", "dup", { "redo_dbtime: dup: ok", "redo_dbtime: dup (restore): ok" })
  end)
end)

describe("a ring of the restored stream left in a system folder that is not the restore's destination", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- A child instance with system_path S apart from its log folder L:
  -- records k1..k<n> of "a", a backup into BK, then records k<from>..k<to>
  -- of "B" (the later history), and the process dies.  Returns S, L, BK.
  local function later_history(n, from, to)
    local S, L, BK = w:path("sys"), w:path("logs"), w:path("bk")
    local code, _, err = H.lua_child([[
      local ese, H = require "ese", require "support.helpers"
      local S, L, BK, n, from, to = arg[1], arg[2], arg[3], tonumber(arg[4]), tonumber(arg[5]), tonumber(arg[6])
      os.execute("mkdir -p " .. H.q(S) .. " " .. H.q(L))
      local inst = ese.create_instance("a", { system_path = S, log_path = L, log_file_size = 256,
                                              cache_size = 16 * 8192 })
      inst:init()
      local s = inst:begin_session()
      local t = s:create_table(s:create_database(L .. "/app.edb"), "t")
      for i = 1, n do t:put(("k%05d"):format(i), ("a"):rep(700)) end
      H.backup(inst, BK)
      for i = from, to do t:put(("k%05d"):format(i), ("B"):rep(700)) end
      os.exit(0, false)
    ]], { S, L, BK, tostring(n), tostring(from), tostring(to) })
    assert.are.equal(0, code, err)
    return S, L, BK
  end

  -- The later history also allocated pages past the backup's end: the
  -- ring's images of them (all-zero in the restored file, or past its end)
  -- were written into the restored file, pages of another history whose
  -- dbtime lies above the restored header's dbtime_last (ese check then
  -- calls the restored database corrupt).  An all-zero page is left to the
  -- log now.
  it("never writes pages of the later history past the restored file's end (the result verifies)", function()
    local S, L, BK = later_history(100, 101, 600)
    ese.restore(BK, L, { overwrite = true })
    local size = #H.read_file(L .. "/app.edb")
    local inst = w:track(ese.create_instance(H.name(), { system_path = S, log_path = L, log_file_size = 256 }))
    inst:init()
    local t, s = H.open_table(inst, L)
    local n = 0
    for k in t:pairs() do n = n + 1; assert.is_true(k <= "k00100", k) end
    t:close()
    s:end_session()
    inst:term({ complete = true })
    assert.are.equal(100, n)
    assert.is_true(#H.read_file(L .. "/app.edb") <= size, "the restored file grew")
    assert.is_true(ese.file_info(L .. "/app.edb", true).verified)
  end)

  it("never repairs the restored database forward into the history after the backup (the values read "
     .. "are the backup's)", function()
    -- The instance runs with system_path S (B.chk, B.dwb) apart from its
    -- log folder L; a backup, then every record is rewritten ("B") and
    -- the process dies: S/edb.dwb holds images of the later pages, under
    -- the same log signature.  ese.restore into L writes its checkpoint
    -- into L and drops a ring there only; an instance on (S, L) then
    -- inits: the ring in S is the stream's, so recovery's dw_repair_file
    -- copied every image newer than the restored page onto it: 165 of 300
    -- records came back as "B" (a mixture of two histories, no error,
    -- ese.file_info(verify) content).  Fixed in csrc/dw.c (repair_page
    -- replaces a page only when it fails verification; a whole older page
    -- is brought forward by the log, which WAL and the checkpoint order
    -- guarantee).
    local S, L, BK = later_history(300, 1, 300)
    ese.restore(BK, L, { overwrite = true })
    local inst = w:track(ese.create_instance(H.name(), { system_path = S, log_path = L, log_file_size = 256 }))
    inst:init()
    local t, s = H.open_table(inst, L)
    local later = 0
    for _, v in t:pairs() do
      if v:sub(1, 1) ~= "a" then later = later + 1 end
    end
    t:close()
    s:end_session()
    inst:term({ complete = true })
    assert.are.equal(0, later)
  end)
end)
