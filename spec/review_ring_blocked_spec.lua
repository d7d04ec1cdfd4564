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
  after_each(function() w:cleanup() end)

  it("writes its replay back through the ring: a crash that tears its in-place write is repaired by the "
     .. "next init", function()
    local dir = w:path("live")
    local P = { dw_size = 4096 * 64, cache_size = 64 * PS, log_file_size = 256, system_path = dir, log_path = dir }
    assert(os.execute("mkdir '" .. dir .. "'"))
    local inst = w:open(nil, P)
    local s = inst:begin_session()
    local dba = s:create_database(dir .. "/a.edb")
    local ta = s:create_table(dba, "t")
    local dbb = s:create_database(dir .. "/b.edb")
    local tb = s:create_table(dbb, "t")
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
    local p2 = {}
    for k, v in pairs(P) do p2[k] = v end
    p2.system_path, p2.log_path = crashed, crashed
    local inst3 = w:track(ese.create_instance(H.name("again"), H.params(crashed, p2)))
    inst3:init()
    local t3 = H.open_table(inst3, crashed, "b.edb")
    for i = 1, 300 do
      assert.are.equal((i % 20 == 1 and "Y" or "C"):rep(1900), t3:get(("c%04d"):format(i)))
    end
  end)
end)
