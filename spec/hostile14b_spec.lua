-- Hostile tests of session 14 (b): backup sets that verify and must restore,
-- restores that must not touch live data, incrementals' cost, lost updates.
-- Each case failed before the change it came with.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

describe("hostile 14b", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  describe("a database of another log stream attached in place of a backed-up one", function()
    -- Before: the foreign file's header still carried its own instance's
    -- full backup, so the incremental was taken (no copy of the database,
    -- only logs of this stream), backup.verify accepted the chain and the
    -- restore gave back the OLD database of the full set: y=1 and none of
    -- the foreign file's records, nor the y=2 written after the swap.
    it("has no full backup of this stream: the incremental is JET_errMissingFullBackup", function()
      local other = w:path("other")
      local to, so, dbo, io_ = w:table_at(other, "b.edb")
      to:put("z", "foreign")
      backup.run(io_, w:path("ofull"))
      to:close(); dbo:close(); so:close()
      io_:term({ complete = true })
      assert.is_not_nil(ese.file_info(other .. "/b.edb").backups.full)

      local live = w:path("live")
      local ta, s, dba, inst = w:table_at(live, "a.edb")
      ta:put("x", "1")
      local dbb = s:create_database(live .. "/b.edb")
      local tb = s:create_table(dbb, "t")
      tb:put("y", "1")
      tb:close(); dbb:close()
      backup.run(inst, w:path("full"))
      s:detach_database(live .. "/b.edb")
      assert(os.execute("cp '" .. other .. "/b.edb' '" .. live .. "/b.edb'"))
      s:attach_database(live .. "/b.edb")
      dbb = s:open_database(live .. "/b.edb")
      tb = s:open_table(dbb, "t")
      tb:put("y", "2")
      ta:put("x", "2")
      local e = H.expect_jet("JET_errMissingFullBackup", backup.run, inst, w:path("inc"), { incremental = true })
      assert.matches("b.edb has no full backup", tostring(e), 1, true)
      assert.is_false(H.exists(w:path("inc")))
      -- a full backup of this stream makes the incremental possible again
      backup.run(inst, w:path("full2"))
      tb:put("y", "3")
      backup.run(inst, w:path("inc2"), { incremental = true })
      tb:close(); dbb:close(); ta:close(); dba:close()
      backup.restore({ w:path("full2"), w:path("inc2") }, w:path("dest"))
      local ri = w:open(nil, { system_path = w:path("dest"), log_path = w:path("dest") })
      local t2 = H.open_table(ri, w:path("dest"), "b.edb")
      assert.same({ y = "3", z = "foreign" }, H.contents(t2))
    end)
  end)
end)
