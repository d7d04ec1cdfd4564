-- Hostile tests of session 16.  Each case failed before the change it
-- came with.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"
local fs = ese.fs

describe("hostile 16", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  describe("a --keep-within DURATION too large for an integer count of seconds", function()
    -- Before: 213503982334602d times 86400 wrapped round to 61184 s (17
    -- hours): "keep for ever" kept 17 hours, and `ese expire --yes`
    -- deleted the sets older than that; 9999999999999999d came out negative.
    it("is no duration (nil; `ese expire` exit 2, nothing read or deleted)", function()
      for _, text in ipairs { "213503982334602d", "9999999999999999d", "106751991167301d", "15250284452472w",
                              "153722867280912931m", "2562047788015216h", "9223372036854775808" } do
        assert.is_nil(backup.parse_duration(text), text)
      end
      -- the largest that fit are still durations
      assert.are.equal(math.maxinteger // 86400 * 86400, backup.parse_duration((math.maxinteger // 86400) .. "d"))
      assert.are.equal(math.maxinteger, backup.parse_duration(tostring(math.maxinteger)))
      local root = w:expire_root(2)
      local cli = require "ese.cli"
      local rc = cli.main { "expire", root, "--keep-full", "1", "--keep-within", "213503982334602d", "--yes" }
      assert.are.equal(2, rc)
      assert.are.equal("folder", fs.stat(root .. "/f1").kind)
    end)
  end)
  describe("a restore into a folder inside a backup set it reads", function()
    -- Before: ese.restore(set, set .. "/restored") restored into a new
    -- subfolder of the set: the restored (live) databases then lived and
    -- died with the set (backup.expire deletes a set's folder whole), and a
    -- set without manifest.json failed backup.verify from then on ("... is a
    -- folder, not a regular file"), so backup.restore and `ese restore`
    -- refused it.
    it("is JET_errInvalidParameter before anything is made (also through a link or '..'); the set verifies", function()
      local set = w:path("full")
      local t, _, _, inst = w:table()
      H.fill(t, 20, "base")
      backup.run(inst, set)
      assert(os.execute("ln -s " .. H.q(set) .. " " .. H.q(w:path("setlink"))))
      for _, dest in ipairs { set .. "/restored", set .. "/a/b", w:path("setlink") .. "/r", set .. "/x/../r" } do
        local e = H.expect_jet("JET_errInvalidParameter", ese.restore, set, dest)
        assert.matches("inside the backup set", e.detail, 1, true)
        e = H.expect_jet("JET_errInvalidParameter", backup.restore, set, dest, { overwrite = true })
        assert.matches("inside the backup set", e.detail, 1, true)
      end
      local ls = H.ls(set)
      for _, made in ipairs { "restored", "a", "r", "x" } do assert.is_nil(ls[made], made) end
      backup.verify(set)
      -- a set written step by step (no manifest.json)
      local steps = w:path("steps")
      H.rolled_backup(inst, t, steps, { log_dir = w.dir })
      H.expect_jet("JET_errInvalidParameter", ese.restore, steps, steps .. "/restored")
      backup.verify(steps)
      -- beside the set, and the set's parent (the set stays as it is), still restore
      ese.restore(set, set .. "-restored")
      assert.are.equal(20, H.count_keys(w, set .. "-restored", "base"))
      fs.mkdir_p(w:path("p/q"), 448)
      backup.run(inst, w:path("p/q/set"))
      ese.restore(w:path("p/q/set"), w:path("p"), { overwrite = true })
      backup.verify(w:path("p/q/set"))
    end)
  end)
  describe("a folder where a database file is expected", function()
    -- Before: attaching a folder opened it for writing, which failed with
    -- EISDIR, reported as JET_errDiskIO ("a disk read, write or sync
    -- failed"): an operator hunts a failing disk.  A FIFO there was
    -- already JET_errInvalidPath.
    it("attach_database is JET_errInvalidPath, as for a FIFO", function()
      local _, s = w:table()
      fs.mkdir(w:path("folder.edb"))
      H.expect_jet("JET_errInvalidPath", s.attach_database, s, w:path("folder.edb"))
      H.expect_jet("JET_errInvalidPath", s.attach_database, s, w.dir)
    end)
  end)
  describe("ese backup of a folder holding a folder named *.edb", function()
    -- Before: `ese backup DIR DIR/daily.edb` succeeded, and every later
    -- `ese backup DIR ...` failed (exit 1, JET_errDiskIO in attach_database):
    -- it attached every name ending in .edb, the set's folder too.
    it("attaches the *.edb files only: the folder is no database; the set restores", function()
      local t, _, _, inst = w:table()
      H.fill(t, 20, "base")
      inst:term({ complete = true })
      local cli = require "ese.cli"
      assert.are.equal(0, cli.main { "backup", w.dir, w:path("daily.edb") })
      assert.are.equal(0, cli.main { "backup", w.dir, w:path("sets/next"), "--json" })
      assert.are.same({ ["app.edb"] = true }, (function()
        local dbs = {}
        for _, e in ipairs(backup.verify(w:path("sets/next")).databases) do dbs[e] = true end
        return dbs
      end)())
      ese.restore(w:path("sets/next"), w:path("restored"))
      assert.are.equal(20, H.count_keys(w, w:path("restored"), "base"))
    end)
  end)
  describe("backup.run_to with a prefix holding a NUL byte", function()
    -- Before: prefix "x\0y" was taken: a ustar name ends at its first NUL,
    -- so every entry (the folder, app.edb, each log, manifest.json) was
    -- named "x"; tar extracts one file "x" and nothing restores, while the
    -- run reported success and (by default) truncated the logs.
    it("is JET_errInvalidPath before anything is sent or truncated", function()
      local t, _, _, inst = w:table({ log_file_size = 64 })
      H.fill(t, 20, "base")
      local logs = H.log_files(w.dir)
      local sent = 0
      local e = H.expect_jet("JET_errInvalidPath", backup.run_to, inst, function(c) sent = sent + #c return true end,
                             { prefix = "x\0y" })
      assert.matches("NUL", e.detail, 1, true)
      assert.are.equal(0, sent)
      assert.are.same(logs, H.log_files(w.dir))
      assert.is_nil(ese.file_info(w:path("app.edb")).backups.full, "no backup recorded")
    end)
  end)
  describe("backup.run and run_to given something else than an instance", function()
    -- Before: nil, a string, a session ... failed inside ese's own module
    -- ("lua/ese/backup_run.lua:407: attempt to index a nil value (local
    -- 'inst')"), not as an argument error naming the caller's line.
    it("is an argument error naming the caller's line, before anything is made", function()
      local _, s, _, inst = w:table()
      for _, bad in ipairs { false, "inst", {}, s, 1 } do
        local v = bad or nil
        local ok, e = pcall(function() local r = backup.run(v, w:path("d")) return r end)
        assert.is_false(ok)
        assert.matches("^spec/hostile16_spec.lua:%d+: backup.run: inst must be an ese.Instance", e)
        ok, e = pcall(function() local r = backup.run_to(v, function() return true end) return r end)
        assert.is_false(ok)
        assert.matches("^spec/hostile16_spec.lua:%d+: backup.run_to: inst must be an ese.Instance", e)
        assert.are.equal("absent", fs.stat(w:path("d")).kind)
        assert.are.equal("absent", fs.stat(w:path("d.partial")).kind)
      end
      -- a closed instance: its own error object, as before
      inst:term()
      H.expect_jet("JET_errInvalidInstance", backup.run, inst, w:path("d"))
    end)
  end)
  describe("a NUL byte in restore_command and in an instance's name", function()
    -- Before: C took both cut at the NUL: restore_command "false\0 x" ran
    -- "false" (the archive's end: the restore ended with the sets and said
    -- success), and ese.create_instance("n\0b") made an instance named
    -- "n" (so "n\0a" and "n\0b" collided as JET_errInstanceNameInUse).
    it("restore_command: JET_errInvalidPath, nothing made; a name: JET_errInvalidName", function()
      local set = w:path("set")
      w:stopped_set(set)
      local e = H.expect_jet("JET_errInvalidPath", ese.restore, set, w:path("r"), { restore_command = "false\0 x" })
      assert.matches("NUL", e.detail, 1, true)
      assert.are.equal("absent", fs.stat(w:path("r")).kind)
      e = H.expect_jet("JET_errInvalidName", ese.create_instance, H.name("n") .. "\0b", H.params(w:path("i")))
      assert.matches("NUL", e.detail, 1, true)
    end)
  end)
  describe("a restore into the root folder", function()
    -- Before: ese.restore(set, "/", { overwrite = true }) (a script's
    -- "$DEST/" with DEST unset, `ese restore SET / --force`) restored into
    -- /: it locked /edb.lck, replaced every /edb*.log and /edb.chk and wrote
    -- the set's databases there.  backup.run already refused "/" as DEST.
    -- (Without overwrite "/" was refused as not empty, so the first call
    -- below failed before without writing anything.)
    it("is JET_errInvalidPath, with or without overwrite, however spelt; nothing is written", function()
      local set = w:path("set")
      w:stopped_set(set)
      local e = H.expect_jet("JET_errInvalidPath", ese.restore, set, "/")
      assert.matches("root folder", e.detail, 1, true)
      for _, dest in ipairs { "/", "//", w.dir .. "/../../../../../../../../.." } do
        H.expect_jet("JET_errInvalidPath", ese.restore, set, dest, { overwrite = true })
      end
      assert.are.equal("absent", fs.stat("/edb.lck").kind)
      assert.are.equal("absent", fs.stat("/app.edb").kind)
    end)
  end)
  describe("a restore with overwrite that cannot remove a file of the old log stream", function()
    -- Before: the error said only "JET_errPermissionDenied [in restore]":
    -- no detail named the file (the database's removal just before named
    -- its own).  The file is made immutable (chattr +i: root may not remove
    -- it either).
    it("names the file in the error's detail", function()
      local set = w:path("set")
      w:stopped_set(set)
      local dest = w:path("dest")
      ese.restore(set, dest)
      if not os.execute("chattr +i " .. H.q(dest .. "/edb.chk") .. " 2>/dev/null") then
        pending("chattr +i does not work here")
        return
      end
      local ok, e = pcall(ese.restore, set, dest, { overwrite = true })
      os.execute("chattr -i " .. H.q(dest .. "/edb.chk"))
      assert.is_false(ok)
      assert.are.equal("JET_errPermissionDenied", e.name, tostring(e))
      assert.matches("edb.chk cannot be removed", e.detail or "", 1, true)
    end)
  end)
  describe("allow_partial with an archive folder that has a gap and a restore command that has it", function()
    -- Before: the folder's gap (generation G) ended its logs, the command
    -- then fetched G and every later generation, the replay went to the
    -- end, and the report still said gap_generation = G (the CLI: "generation
    -- G missing"): the first check's gap was never cleared.
    it("reports no gap when the command fetched it, and a gap only where the logs end", function()
      local all = w:path("all")
      local arc, last, first = w:archived_full()
      first = first + 1
      assert.is_true(last >= first + 3, "generations to make a gap in")
      H.copy_dir(arc, all)
      local gap = first + 1
      assert(os.remove(arc .. "/" .. H.log_name(gap)))
      local opts = { archive_path = arc, to_time = fs.now() + 3600, allow_partial = true }
      local r = ese.restore(w:path("full"), w:path("r1"), opts)
      assert.are.equal(gap, r.gap_generation)
      assert.are.equal(gap - 1, r.last_generation)
      opts.restore_command = "cp " .. all .. "/%f %p"
      r = ese.restore(w:path("full"), w:path("r2"), opts)
      assert.are.equal(last, r.last_generation)
      assert.is_nil(r.gap_generation)
      assert.is_false(r.reached)
      -- the same as from the whole archive
      ese.restore(w:path("full"), w:path("r3"), { archive_path = all, to_time = opts.to_time, allow_partial = true })
      assert.are.same(H.restored_keys(w, w:path("r3")), H.restored_keys(w, w:path("r2")))
    end)
  end)
  describe("to_generation with to_time past it, whatever holds the logs", function()
    -- Before: to_generation G ended the replay (success, reached) when the
    -- logs went on after G, but when they ended at G (an archive folder
    -- whose last is G, or restore_command, which fetches no further than
    -- G) the same request was JET_errMissingLogFile ("the logs end before
    -- the point in time"): the databases would have been the same.
    it("ends the replay at G in every case: reached, not stopped at the time", function()
      local upto = w:path("upto")
      local arc, last, g = w:archived_full()
      g = g + 2
      assert.is_true(last > g)
      fs.mkdir(upto)
      for gen = 1, g do
        if H.exists(arc .. "/" .. H.log_name(gen)) then
          H.write_file(upto .. "/" .. H.log_name(gen), H.read_file(arc .. "/" .. H.log_name(gen)))
        end
      end
      local to_time = fs.now() + 3600
      local keys
      local cmd = "cp " .. arc .. "/%f %p"
      for i, o in ipairs { { archive_path = arc }, { archive_path = upto }, { restore_command = cmd } } do
        o.to_generation, o.to_time = g, to_time
        local r = ese.restore(w:path("full"), w:path("r" .. i), o)
        assert.are.equal(g, r.last_generation)
        assert.is_true(r.reached)
        assert.is_false(r.stopped_at_time)
        local k = H.restored_keys(w, w:path("r" .. i))
        if keys then assert.are.same(keys, k) end
        keys = k
      end
    end)
  end)
  describe("ese.restore of a set whose logs have another base name, without base_name", function()
    -- Before: "the backup set has no log files", of a set holding
    -- abc00000001.log: nothing said that base_name was the cause.
    it("JET_errFileNotFound names the base name it looked for and the option", function()
      local t, _, _, inst = w:table({ base_name = "abc" })
      H.fill(t, 20, "base")
      backup.run(inst, w:path("full"))
      inst:term({ complete = true })
      local e = H.expect_jet("JET_errFileNotFound", ese.restore, w:path("full"), w:path("r"))
      assert.matches("no log files of base name edb (the option base_name", e.detail, 1, true)
      ese.restore(w:path("full"), w:path("r"), { base_name = "abc" })
    end)
  end)
  describe("a backup.run left suspended while its backup was aborted and another run began", function()
    -- Before: run A yields in on_progress; the application ends A's backup
    -- (inst:end_external_backup{ abort = true }, the documented way to
    -- free a backup stuck in a coroutine) and run B begins another.  Then
    -- coroutine.close(A) ran A's clean-up, whose End(abort) ended B's
    -- backup (B failed: JET_errNoBackup in backup_step), and resuming A
    -- drove B's backup with A's calls.
    local function suspended_run(inst, dest)
      local co = coroutine.create(function()
        return backup.run(inst, dest, { chunk_size = 8192, on_progress = function() coroutine.yield() end })
      end)
      assert(coroutine.resume(co))
      assert.are.equal("suspended", coroutine.status(co))
      return co
    end
    local function finish(co)
      local ok, r
      repeat ok, r = coroutine.resume(co) until not ok or coroutine.status(co) == "dead"
      return ok, r
    end

    it("closing A leaves B's backup alone; resuming A fails with JET_errNoBackup and B completes", function()
      local t, _, _, inst = w:table({ log_file_size = 64 })
      H.fill(t, 200, "base")
      for _, how in ipairs { "close", "resume" } do
        local a = suspended_run(inst, w:path(how .. "-a"))
        inst:end_external_backup({ abort = true })
        local b = suspended_run(inst, w:path(how .. "-b"))
        if how == "close" then
          assert.is_true(coroutine.close(a))
        else
          for _ = 1, 3 do coroutine.resume(b) end   -- B further on, then A again
          local ok, e = finish(a)
          assert.is_false(ok)
          assert.are.equal("JET_errNoBackup", ese.is_error(e) and e.name, tostring(e))
        end
        local ok, r = finish(b)
        assert.is_true(ok, tostring(r))
        assert.are.equal("full", r.kind)
        backup.verify(w:path(how .. "-b"))
        assert.are.equal("absent", fs.stat(w:path(how .. "-a")).kind)
        assert.are.equal("absent", fs.stat(w:path(how .. "-a.partial")).kind)
      end
    end)
  end)
  describe("ese backup --archive DIR that is not the application's archive", function()
    -- Before: with a typo in DIR (a folder that does not exist) the backup
    -- made DIR, shipped the pending generation into it, recorded it shipped
    -- (B.arc) and succeeded: the application's archive lacked it for good
    -- (a gap no restore through the archive crosses).  With DIR the DEST,
    -- it made DEST (its archive lock) before refusing DEST.
    it("refuses a DIR that does not exist when the folder has shipped (B.arc), and DIR = DEST, before opening",
       function()
      local arc = w:path("arc")
      local t, _, _, inst = w:table({ log_file_size = 64, archive_path = arc, archive_timeout = 0,
                                      archive_retry_max = 50 })
      H.fill(t, 100, "base")
      inst:term({ complete = true })
      local cli = require "ese.cli"
      local arc_before = H.ls(arc)
      assert.are.equal(1, cli.main { "backup", w.dir, w:path("b1"), "--archive", w:path("typo/arc") })
      assert.are.equal("absent", fs.stat(w:path("typo")).kind)
      assert.are.equal("absent", fs.stat(w:path("b1")).kind)
      assert.are.equal(1, cli.main { "backup", w.dir, w:path("b2"), "--archive", w:path("b2") })
      assert.are.equal("absent", fs.stat(w:path("b2")).kind)
      assert.are.same(arc_before, H.ls(arc))
      -- the application's own archive: the backup goes ahead and ships there
      assert.are.equal(0, cli.main { "backup", w.dir, w:path("b3"), "--archive", arc })
      for gen = 1, ese.file_info(w:path("b3/app.edb")).backups.current.gen_high do
        assert.is_true(H.exists(arc .. "/" .. H.log_name(gen)), H.log_name(gen))
      end
    end)
  end)
end)
