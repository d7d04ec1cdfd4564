-- The torn-write and power-cut fault modes of the I/O layer (csrc/os.h:
-- ESE_FAULT=torn:K:C[:head|tail|garbage], ESE_FAULT=power:K:S and the event
-- trace ESE_FAULT_TRACE), on a file an ese.FileWriter writes in a child
-- process: the bytes on disk after the kill are exactly what the mode
-- promises.  spec/c/crash_sweep.c uses them on the engine's own writes.
local H = require "support.helpers"

-- The child's events: 1 write A*4096 at 0, 2 sync, 3 write B*4096 at 4096,
-- 4 write C*100 at 8192, 5 sync.
local CHILD = [[
local fs = require("ese").fs
local w = fs.create(arg[1])
w:write(("A"):rep(4096))
w:sync()
w:write(("B"):rep(4096))
w:write(("C"):rep(100))
w:sync()
w:close()
io.write("done")
]]

local A, B, C = ("A"):rep(4096), ("B"):rep(4096), ("C"):rep(100)

describe("I/O fault modes: torn writes and power cuts", function()
  local dir, file, trace
  before_each(function()
    dir = H.tmpdir()
    file, trace = dir .. "/f", dir .. "/trace"
  end)
  after_each(function() H.rmdir(dir) end)

  -- Runs the child with ESE_FAULT=fault (nil: none) and the trace on;
  -- returns its exit code, stderr, the file's bytes and the trace's lines.
  local function run(fault, source)
    os.remove(file)
    os.remove(trace)
    local env = "ESE_FAULT_TRACE=" .. H.q(trace) .. (fault and (" ESE_FAULT=" .. H.q(fault)) or "")
    local code, _, err = H.lua_child(source or CHILD, { file }, env)
    local lines = {}
    for l in (H.read_file(trace) or ""):gmatch("[^\n]+") do lines[#lines + 1] = l end
    return code, err, H.read_file(file), lines
  end

  it("ESE_FAULT_TRACE lists every event: number, kind, bytes, offset, file name", function()
    local code, err, data, lines = run(nil)
    assert.are.equal(0, code, err)
    assert.are.equal(A .. B .. C, data)
    assert.are.same({ "1 write 4096 0 f", "2 sync 0 0 f", "3 write 4096 4096 f", "4 write 100 8192 f",
                      "5 sync 0 0 f" }, lines)
  end)

  it("torn:K:C:head writes bytes [0,C) of write K (the rest stays old), then SIGKILL", function()
    local code, err, data, lines = run("torn:3:1000:head")
    assert.are.equal(137, code, err)
    assert.are.equal(A .. B:sub(1, 1000), data)
    assert.are.equal("3 torn head 1000 of 4096 f", lines[#lines])
  end)

  it("torn:K:C with no mode is head; a cut past the write's end writes it whole, then kills", function()
    local code, _, data = run("torn:3:1000")
    assert.are.equal(137, code)
    assert.are.equal(A .. B:sub(1, 1000), data)
    code, _, data = run("torn:3:99999:head")
    assert.are.equal(137, code)
    assert.are.equal(A .. B, data)
  end)

  it("torn:K:C:tail writes bytes [C,n) of write K (its head stays old: here a hole of zeros), then SIGKILL",
     function()
    local code, err, data, lines = run("torn:3:1000:tail")
    assert.are.equal(137, code, err)
    assert.are.equal(A .. ("\0"):rep(1000) .. B:sub(1001), data)
    assert.are.equal("3 torn tail 1000 of 4096 f", lines[#lines])
  end)

  it("torn:K:C:garbage writes the head, then noise over the whole 512-byte sector holding byte C (also the "
     .. "new bytes of that sector before C)", function()
    local code, err, data = run("torn:3:700:garbage")
    assert.are.equal(137, code, err)
    -- byte 700 of the write is file byte 4796, in the sector 4608..5119
    assert.are.equal(5120, #data)
    assert.are.equal(A .. B:sub(1, 512), data:sub(1, 4608))
    local noise = data:sub(4609)
    assert.is_falsy(noise:match("^B*%z*$"), "the sector is noise")
    assert.is_truthy(#noise:gsub("[^AB%z]", "") < 64, "noise, not old or new bytes")
  end)

  it("torn: at an event that is not a write (a sync) is a plain crash there", function()
    local code, _, data, lines = run("torn:2:10:head")
    assert.are.equal(137, code)
    assert.are.equal(A, data)
    assert.are.equal("2 torn: not a write: crash", lines[#lines])
  end)

  it("power:K:S with S % 4 == 0 reverts every write not yet synced (a completed sync keeps what it covered; "
     .. "bytes past the old end read as zeros), then SIGKILL", function()
    local code, err, data, lines = run("power:5:0")
    assert.are.equal(137, code, err)
    assert.are.equal(A .. ("\0"):rep(4196), data)
    assert.are.equal("5 power seed 0: 2 unsynced writes, 2 reverted, 0 torn, 0 kept, 0 failed", lines[#lines])
  end)

  it("power:K:S with S % 4 == 1 keeps each file's unsynced writes in order: a prefix stays, the next is torn "
     .. "at a 512-byte boundary with its head kept, the rest reverted", function()
    local torn, kept = 0, 0
    for _, seed in ipairs({ 1, 5, 9, 13, 17, 21, 25, 29 }) do
      local code, err, data, lines = run("power:5:" .. seed)
      assert.are.equal(137, code, err)
      assert.are.equal(8292, #data)
      local bs = data:match("^" .. A .. "(B*)")
      assert.is_truthy(bs, "the synced write stays")
      local rest = data:sub(4096 + #bs + 1)
      if #bs == 4096 then
        assert.is_truthy(rest == C or rest:match("^C*%z*$") and (4096 + 4096 + #rest:match("^C*")) % 512 == 0,
          "C kept, reverted or torn at a sector boundary: " .. lines[#lines])
        kept = kept + 1
      else
        assert.are.equal(0, (4096 + #bs) % 512, "torn at a sector boundary")
        assert.are.equal(("\0"):rep(4196 - #bs), rest, "the newer write reverted")
        if #bs > 0 then torn = torn + 1 end
      end
    end
    assert.is_true(torn > 0 and kept > 0, ("torn %d, kept %d"):format(torn, kept))
  end)

  it("power:K:S with S % 4 == 2 or 3 leaves every 512-byte sector as it was at some point since the last sync",
     function()
    local news, olds = 0, 0
    for _, seed in ipairs({ 2, 3, 6, 7, 10, 11 }) do
      local code, err, data = run("power:5:" .. seed)
      assert.are.equal(137, code, err)
      assert.are.equal(A, data:sub(1, 4096), "synced bytes stay")
      assert.are.equal(8292, #data)
      for s = 4096, #data - 1, 512 do   -- each sector: what the write put there, or the zeros before it
        local sec = data:sub(s + 1, s + 512)
        local new = s < 8192 and ("B"):rep(512) or C
        assert.is_true(sec == new or sec == ("\0"):rep(#sec), ("seed %d: the sector at %d"):format(seed, s))
        if sec == new then news = news + 1 else olds = olds + 1 end
      end
    end
    assert.is_true(news > 0 and olds > 0, ("new sectors %d, old %d"):format(news, olds))
  end)

  it("power: past 64 MiB of unsynced writes drops its journal: the cut reverts nothing (a plain crash) and "
     .. "says so on stderr and in the trace", function()
    local big = [[
local fs = require("ese").fs
local w = fs.create(arg[1])
local chunk = ("x"):rep(4 << 20)
for _ = 1, 17 do w:write(chunk) end
w:sync()
]]
    local code, err, data, lines = run("power:18:0", big)
    assert.are.equal(137, code, err)
    assert.are.equal(68 << 20, #data)
    assert.matches("undo journal was dropped %(more than 64 MiB written unsynced%)", err)
    assert.are.equal("18 power lost: more than 64 MiB written unsynced: crash semantics", lines[#lines])
  end)

  it("a malformed torn: or power: fault (holdsync's :power:S too) is JET_errInvalidParameter at the first I/O "
     .. "call, nothing written", function()
    for _, f in ipairs({ "torn:3", "torn:3:x", "torn:3:10:sideways", "torn:0:10", "power:5", "power:5:1:2",
                         "power:x:1", "holdsync:x.edb:/nonexistent/gate:power:",
                         "holdsync:x.edb:/nonexistent/gate:power:x", "holdsync:x.edb:/nonexistent/gate:power:1x",
                         "holdsync:x.edb::power:1" }) do
      local code, err, data = run(f)
      assert.are_not.equal(0, code, f)
      assert.matches("JET_errInvalidParameter", err, 1, true)
      assert.is_nil(data, f)
    end
    local code, _, data = run("holdsync:x.edb:/nonexistent/gate:power:3")   -- well formed, never held
    assert.are.equal(0, code)
    assert.is_not_nil(data)
  end)
end)
