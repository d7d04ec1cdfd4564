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
      H.killed_child([[
        local ese, backup = require "ese", require "ese.backup"
        local live, dest = arg[1], arg[2]
        local inst = ese.create_instance("killed-in-end", { system_path = live, log_path = live })
        inst:init()
        inst:begin_session():attach_database(live .. "/app.edb")
        backup.run(inst, dest, { on_progress = function(p)
          -- End's first step wrote the database's header: killed after it
          if p.phase == "end" and p.part == 1 then kill_self() end
        end })
        print("not killed")
      ]], { live, w:path("f_new") })
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
  describe("a database named like a file of the set or of the restore", function()
    -- Before: backup.run and run_to took a database named edb.chk, edb.lck,
    -- edb.dwb, edbtmp.log, edb.chk.tmp, edb.log, edb00000009.log,
    -- EDB00000001.log, x.zst (run_to: manifest.json too) into the set,
    -- backup.verify accepted it, and the restore either refused (no
    -- database; a log damaged; a compressed file damaged) or reported
    -- success with the database overwritten by the checkpoint (edb.chk),
    -- taken for the lock file (edb.lck), the double-write ring (edb.dwb) or
    -- removed with the log stream (edbtmp.log, edb.chk.tmp).
    local names = { "edb.chk", "edb.lck", "edb.dwb", "edbtmp.log", "edb.chk.tmp", "edb.log", "edb00000009.log",
                    "EDB00000001.log", "EDB.CHK", "x.zst", "manifest.json", "edb.arc" }

    local function live_with(name)
      local other = w:path("other")
      assert(os.execute("mkdir -p " .. H.q(other)))
      local t, s, db, inst = w:table_at(w:path("live"), "app.edb")
      t:put("k", "v")
      local db2 = s:create_database(other .. "/" .. name)
      s:create_table(db2, "t"):put("x", "y")
      return inst, t, db
    end

    -- Before (session 15): the names that depend on the logs' base name
    -- (edb.chk, EDB00000001.log, ...) were checked only after the cut-off,
    -- when app.edb (attached first) had gone out whole: run_to's sink held
    -- half a tar, and run had written app.edb into its partial folder.
    -- Now every database's name is checked before the first byte, with
    -- the instance's base name (inst:base_name()).
    it("backup.run and run_to refuse it (JET_errInvalidPath naming it) before the first byte: no set, nothing "
       .. "to the sink, no backup recorded", function()
      for i, name in ipairs(names) do
        local inst = live_with(name)
        local phases = {}
        local e = H.expect_jet("JET_errInvalidPath", backup.run, inst, w:path("set" .. i),
          { on_progress = function(p) phases[p.phase] = true end })
        assert.matches(name, e.detail, 1, true)
        assert.is_nil(phases.database, name .. ": a database was streamed")
        assert.is_false(H.exists(w:path("set" .. i)))
        assert.is_false(H.exists(w:path("set" .. i .. ".partial")))
        local calls = 0
        e = H.expect_jet("JET_errInvalidPath", backup.run_to, inst, function() calls = calls + 1 end)
        assert.matches(name, e.detail, 1, true)
        assert.are.equal(0, calls, name .. ": the sink was called")
        assert.is_nil(ese.file_info(w:path("live/app.edb")).backups.full, name)   -- no backup recorded
        inst:term({ complete = true })
        w:cleanup()
        H.rmdir(w:path("live"))
        H.rmdir(w:path("other"))
      end
    end)

    it("a set holding one under such a name: backup.verify and ese.restore refuse it before writing", function()
      local inst = live_with("b.edb")
      backup.run(inst, w:path("set"))
      inst:term({ complete = true })
      local json = H.read_file(w:path("set/manifest.json"))
      for i, name in ipairs({ "edb.chk", "edb.lck", "EDB.dwb", "edbtmp.log", "edb.chk.tmp", "edb.arc" }) do
        local set = w:path("s" .. i)
        assert(os.execute(("cp -a %s %s && mv %s/b.edb %s/%s"):format(H.q(w:path("set")), H.q(set), H.q(set), H.q(set),
          H.q(name))))
        H.write_file(set .. "/manifest.json", (json:gsub('"b%.edb"', '"' .. name .. '"')))
        local e = H.expect_jet("JET_errInvalidBackup", backup.verify, set)
        assert.matches(name, e.detail, 1, true)
        os.remove(set .. "/manifest.json")   -- checked from its files: the same
        H.expect_jet("JET_errInvalidBackup", backup.verify, set)
        e = H.expect_jet("JET_errInvalidBackup", ese.restore, { set }, w:path("dest" .. i))
        assert.matches(name, e.detail, 1, true)
        assert.is_false(H.exists(w:path("dest" .. i)))
      end
    end)

    -- Before (session 15): the restore's own check (restore_own_name in
    -- restore.c, a copy of util.db_name_problem's rule) looked at the
    -- stored name, NAME.zst, so a compressed set holding edb.chk.zst
    -- restored a database as edb.chk; now the restore checks the plain
    -- name with the one rule (restore_db_name_problem, which ese.util
    -- calls through ese.core).
    it("a compressed set holding one as NAME.zst: ese.restore refuses it before writing", function()
      local inst = live_with("b.edb")
      backup.run(inst, w:path("set"), { compress = "zstd" })
      inst:term({ complete = true })
      for i, name in ipairs({ "edb.chk", "EDB.lck", "edb.dwb", "edb.arc.tmp", "x.zst", "manifest.json" }) do
        local set = w:path("z" .. i)
        assert(os.execute(("cp -a %s %s && mv %s/b.edb.zst %s/%s.zst"):format(H.q(w:path("set")), H.q(set), H.q(set),
          H.q(set), H.q(name))))
        local e = H.expect_jet("JET_errInvalidBackup", ese.restore, { set }, w:path("zd" .. i))
        assert.matches(name, e.detail, 1, true)
        assert.is_false(H.exists(w:path("zd" .. i)))
      end
    end)

    it("run_to: a name over the 100 bytes of a tar entry is JET_errInvalidPath (before: a plain error of tar.lua)",
       function()
      local inst = live_with(("L"):rep(120) .. ".edb")
      local calls = 0
      local e = H.expect_jet("JET_errInvalidPath", backup.run_to, inst, function() calls = calls + 1 end)
      assert.matches("at most 100 bytes", e.detail, 1, true)
      -- before (session 15): app.edb, attached first, had gone out whole
      assert.are.equal(0, calls, "the sink was called before the refusal")
      H.expect_jet("JET_errInvalidPath", backup.run_to, inst, function() end, { prefix = ("p"):rep(90) })
      backup.run(inst, w:path("set"))   -- a folder holds it
      backup.verify(w:path("set"))
    end)
  end)
  describe("a restore into the log archive of a running instance", function()
    -- Before: ese.restore with overwrite into the archive_path of a running
    -- instance of this process succeeded and removed the archived
    -- generations (the log stream of its base name), the only copies of
    -- the generations the backup's truncation had deleted.
    it("is JET_errFileAccessDenied naming the instance, with overwrite too; the archive as it was", function()
      local live, arc = w:path("live"), w:path("arc")
      local t, _, _, inst = w:table_at(live, "app.edb", { archive_path = arc, log_file_size = 64 })
      t:put("k", "v")
      backup.run(inst, w:path("set"))
      for i = 1, 60 do t:put("k" .. i, ("z"):rep(3000)) end
      inst:term({ complete = true })   -- every closed generation shipped
      inst = w:open(nil, { system_path = live, log_path = live, archive_path = arc, log_file_size = 64 })
      -- the new run ships the generation the last one left (listed half-way,
      -- as NAME.part, the archive changed under the comparison below)
      assert.is_true(H.wait_until(function() return inst:archive_status().pending == 0 end))
      local before = H.ls(arc)
      assert.is_true(before["edb00000002.log"] ~= nil)
      local e = H.expect_jet("JET_errFileAccessDenied", ese.restore, { w:path("set") }, arc, { overwrite = true })
      assert.matches("as its log archive", e.detail, 1, true)
      assert.are.same(before, H.ls(arc))
      inst:term({ complete = true })
    end)
  end)
  describe("a restore with overwrite killed (SIGKILL) at its first step, and at its first after the check", function()
    -- Before: the overwrite removed the old log stream first and replaced
    -- each database only when its copy came, so a restore killed after its
    -- first step left the other database of the earlier restore in place,
    -- clean: an instance on dest attached it and read the old data as if
    -- the restore had not run (api.md: "dest is unusable until a restore
    -- succeeds, the databases marked being restored").
    it("leaves no database of the old state: each is absent or being restored; a retry gives the set", function()
      local live = w:path("live")
      local t, s, db, inst = w:table_at(live, "a.edb")
      t:put("k", "new")
      local db2 = s:create_database(live .. "/b.edb")
      s:create_table(db2, "t"):put("k", "new")
      backup.run(inst, w:path("set"))
      t:put("k", "old")
      s:open_table(db2, "t"):put("k", "old")
      backup.run(inst, w:path("old"), { copy = true })
      t:close(); db:close(); db2:close()
      inst:term({ complete = true })
      local dest = w:path("dest")
      ese.restore({ w:path("old") }, dest)
      -- killed at its first step: the first steps read and check the set's
      -- databases, nothing of dest's old state goes yet: it is whole
      H.killed_child([[
        local ese = require "ese"
        ese.restore({ arg[1] }, arg[2], { overwrite = true, on_progress = kill_self })
        print("not killed")
      ]], { w:path("set"), dest })
      for _, name in ipairs({ "a.edb", "b.edb" }) do
        assert.are.equal("clean", ese.file_info(dest .. "/" .. name).state, name)
      end
      -- killed at the first step after that check (the step whose end finds
      -- dest's old log stream gone: its checkpoint edb.chk): each database
      -- is absent or being restored
      H.killed_child([[
        local ese = require "ese"
        local chk = arg[2] .. "/edb.chk"
        ese.restore({ arg[1] }, arg[2], { overwrite = true, on_progress = function()
          local f = io.open(chk)
          if f then f:close() else kill_self() end
        end })
        print("not killed")
      ]], { w:path("set"), dest })
      for _, name in ipairs({ "a.edb", "b.edb" }) do
        local ok, fi = pcall(ese.file_info, dest .. "/" .. name)
        assert.is_true(not ok or fi.state == "restoring", name .. ": " .. (ok and fi.state or ""))
      end
      ese.restore({ w:path("set") }, dest, { overwrite = true })
      local ri = w:open(nil, { system_path = dest, log_path = dest })
      assert.same({ k = "new" }, H.contents(H.open_table(ri, dest, "a.edb")))
      assert.same({ k = "new" }, H.contents(H.open_table(ri, dest, "b.edb")))
    end)
  end)
end)
