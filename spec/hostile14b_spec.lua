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
  describe("backup.run killed with SIGKILL in End, after the engine recorded the full backup", function()
    -- Before: the set was renamed from DEST.partial to DEST only after End,
    -- so a run killed in End (its logs truncated, the databases' headers
    -- already recording it as the last full) left DEST.partial, which
    -- verify and restore refuse ("an unfinished backup") and the guide
    -- says to remove; the next incremental was taken all the same, and no
    -- chain held it: the older full ends before the truncated logs.
    it("leaves the complete set at DEST: the next incremental's chain verifies and restores", function()
      local live = w:path("live")
      local t, s, db, inst = w:table_at(live, "app.edb")
      t:put("x", "1")
      backup.run(inst, w:path("f_old"))
      t:put("x", "2")
      t:close(); db:close(); s:close()
      inst:term({ complete = true })
      local code, out, err = H.lua_child([[
        local ese, backup = require "ese", require "ese.backup"
        local live, dest = arg[1], arg[2]
        local pid = io.open("/proc/self/stat"):read("l"):match("^(%d+)")
        local inst = ese.create_instance("killed-in-end", { system_path = live, log_path = live })
        inst:init()
        inst:begin_session():attach_database(live .. "/app.edb")
        backup.run(inst, dest, { on_progress = function(p)
          -- End's first step wrote the database's header: killed after it
          if p.phase == "end" and p.part == 1 then os.execute("kill -9 " .. pid) end
        end })
        print("not killed")
      ]], { live, w:path("f_new") })
      assert.are_not.equal(0, code, out .. err)
      assert.is_nil(out:find("not killed", 1, true))
      assert.are.equal(2, ese.file_info(live .. "/app.edb").backups.full.gen_high, "End recorded the full")
      assert.is_false(H.exists(w:path("f_new.partial")))
      assert.is_true(H.exists(w:path("f_new/manifest.json")))
      local inst2 = w:open(nil, { system_path = live, log_path = live })
      local t2 = H.open_table(inst2, live)
      t2:put("x", "3")
      backup.run(inst2, w:path("inc"), { incremental = true })
      inst2:term({ complete = true })
      backup.verify({ w:path("f_new"), w:path("inc") })
      backup.restore({ w:path("f_new"), w:path("inc") }, w:path("dest"))
      local ri = w:open(nil, { system_path = w:path("dest"), log_path = w:path("dest") })
      assert.same({ x = "3" }, H.contents(H.open_table(ri, w:path("dest"))))
    end)
  end)
end)
