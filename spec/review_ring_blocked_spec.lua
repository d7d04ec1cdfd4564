-- A hostile review of issue 9 step S4 (no page images in the log: the
-- double-write ring is the only repair of a torn page).  Soft recovery
-- writes its replay cache back through the ring; while it recovers, the
-- ring's batches of databases it has not repaired yet are kept, and a
-- chunk that finds no place was written in place directly.  A database
-- detached before the last checkpoint is never opened by replay, so its
-- batches blocked the whole ring for good: a crash that tore recovery's
-- own in-place write then left a page no one could repair (init:
-- JET_errReadVerifyFailure for ever).  Failed before its fix.
local ese = require "ese"
local H = require "support.helpers"

local PS = 8192

describe("soft recovery whose ring is full of batches of a database it never opens", function()
  local w
  before_each(function() w = H.world() end)
  -- An instance on folder "live" (ring of 64 blocks, cache_size and
  -- log_file_size given) with tables "t" in a.edb and b.edb.
  local function live(cache_size, log_file_size)
    local dir = w:path("live")
    local P = { dw_size = 4096 * 64, cache_size = cache_size, log_file_size = log_file_size, system_path = dir,
                log_path = dir }
    assert(os.execute("mkdir '" .. dir .. "'"))
    local inst = w:open(nil, P)
    local s = inst:begin_session()
    local dba = s:create_database(dir .. "/a.edb")
    local dbb = s:create_database(dir .. "/b.edb")
    return dir, P, inst, s, dba, s:create_table(dba, "t"), s:create_table(dbb, "t")
  end
  -- Table "t" of b.edb after an init (a recovery) of folder at with the
  -- parameters P.
  local function recovered_b(P, at)
    local p2 = {}
    for k, v in pairs(P) do p2[k] = v end
    p2.system_path, p2.log_path = at, at
    local inst = w:track(ese.create_instance(H.name("again"), H.params(at, p2)))
    inst:init()
    return H.open_table(inst, at, "b.edb")
  end
  after_each(function() w:cleanup() end)

  it("writes its replay back through the ring: a crash that tears its in-place write is repaired by the "
     .. "next init", function()
    local dir, P, inst, s, dba, ta, tb = live(64 * PS, 256)
    for i = 1, 300 do tb:put(("c%04d"):format(i), ("C"):rep(1900)) end
    inst:begin_external_backup()                    -- a checkpoint: b.edb durable
    inst:end_external_backup({ abort = true })
    for i = 1, 3000 do ta:put(("a%06d"):format(i), ("A"):rep(300)) end   -- the ring: a.edb's batches only
    ta:close()
    dba:close()
    s:detach_database(dir .. "/a.edb")
    inst:begin_external_backup()                    -- a checkpoint after the detach: replay never opens a.edb
    inst:end_external_backup({ abort = true })
    s:begin_transaction()
    for i = 1, 300, 20 do tb:put(("c%04d"):format(i), ("Y"):rep(1900)) end   -- 15 leaves of b.edb
    s:commit_transaction()
    inst:term()                                     -- a crash
    local crashed = w:path("crashed")
    H.copy_dir(dir, crashed)
    local before = H.read_file(dir .. "/b.edb")
    local ring_before = H.read_file(dir .. "/edb.dwb")
    w:open(nil, P):term({ complete = true })        -- recovery replays the commit into b.edb
    local after = H.read_file(dir .. "/b.edb")
    local ring_after = H.read_file(dir .. "/edb.dwb")
    assert.are_not.equal(ring_before:sub(4097), ring_after:sub(4097), "recovery wrote no batch to the ring")
    local x
    for p = 0, #after // PS - 1 do
      if before:sub(p * PS + 1, (p + 1) * PS) ~= after:sub(p * PS + 1, (p + 1) * PS) then x = p end
    end
    assert.is_not_nil(x)
    -- the folder as a crash in the middle of recovery's in-place write of
    -- page x left it: the ring as recovery had written it (its body; the
    -- header before recovery's discard), page x with only its first 512
    -- bytes new
    H.write_file(crashed .. "/b.edb", before:sub(1, x * PS) .. after:sub(x * PS + 1, x * PS + 512)
                 .. before:sub(x * PS + 513))
    H.write_file(crashed .. "/edb.dwb", ring_before:sub(1, 4096) .. ring_after:sub(4097))
    local t3 = recovered_b(P, crashed)
    for i = 1, 300 do
      assert.are.equal((i % 20 == 1 and "Y" or "C"):rep(1900), t3:get(("c%04d"):format(i)))
    end
  end)

  -- The same ring, but the replay writes back in the middle (its cache of
  -- 8 MiB full): that write-back found no place in the ring and went in
  -- place unprotected, so a crash tearing it left a page no init could
  -- repair.  Now the pages stay in the replay cache until the end, where
  -- the ring is free.  Failed before its fix (the third init:
  -- JET_errReadVerifyFailure).
  it("keeps a write-back in the middle of replay in its cache while the ring has no place: a crash that tears "
     .. "recovery's first in-place write is repaired", function()
    local dir, P, inst, s, dba, ta, tb = live(4096 * PS, 1024)
    local N = 5000
    s:begin_transaction()
    for i = 1, N do tb:put(("c%05d"):format(i), ("C"):rep(1900)) end   -- about 1,250 leaves
    s:commit_transaction()
    inst:begin_external_backup()                    -- a checkpoint: b.edb durable
    inst:end_external_backup({ abort = true })
    for i = 1, 3000 do ta:put(("a%06d"):format(i), ("A"):rep(300)) end
    ta:close()
    dba:close()
    s:detach_database(dir .. "/a.edb")             -- the ring: a.edb's batches only
    inst:begin_external_backup()                    -- a checkpoint after the detach: replay never opens a.edb
    inst:end_external_backup({ abort = true })
    for k = 0, N // 400 - 1 do                       -- 12 commits of 100 leaves: more than the replay cache
      s:begin_transaction()
      for i = k * 400 + 1, k * 400 + 400 do tb:put(("c%05d"):format(i), ("Y"):rep(1900)) end
      s:commit_transaction()
    end
    inst:term()                                     -- a crash
    local crashed = w:path("crashed")
    H.copy_dir(dir, crashed)
    local recover = [[
      local ese = require "ese"
      local dir = arg[1]
      local inst = ese.create_instance("rec", { system_path = dir, log_path = dir, dw_size = 4096 * 64,
                                                 cache_size = 4096 * 8192, log_file_size = 1024 })
      inst:init()
      inst:term({ complete = true })
      print("RECOVERED")
    ]]
    local trace = w:path("trace")
    local code, out, err = H.lua_child(recover, { dir }, "ESE_FAULT_TRACE=" .. H.q(trace))
    assert.are.equal(0, code, err)
    assert.matches("RECOVERED", out)
    local first
    for line in io.lines(trace) do
      local k, off = line:match("^(%d+) write 8192 (%d+) b%.edb$")
      if k and tonumber(off) > 0 then
        first = tonumber(k)
        break
      end
    end
    assert.is_not_nil(first, "recovery wrote no page of b.edb")
    -- a crash tearing recovery's first in-place page write of b.edb
    local torn = w:path("torn")
    H.copy_dir(crashed, torn)
    code = H.lua_child(recover, { torn }, ("ESE_FAULT=torn:%d:512"):format(first))
    assert.are_not.equal(0, code, "the torn write killed the recovery")
    local t3 = recovered_b(P, torn)
    for i = 1, N do
      assert.are.equal((i <= N // 400 * 400 and "Y" or "C"):rep(1900), t3:get(("c%05d"):format(i)))
    end
  end)
end)
