-- Hostile tests of session 15: paced readers in coroutines, points in time,
-- backup.run's DEST and its .partial folder.  Each case failed before the
-- change it came with.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"
local fs = ese.fs

describe("hostile 15", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  describe("a backup set named *.partial", function()
    -- Before: backup.run(inst, ".../daily.partial") took the set, truncated
    -- the logs, recorded the full and reported success, and then
    -- backup.verify, backup.restore, the CLI and expire all took the
    -- folder for an unfinished run ("an unfinished backup (named
    -- .partial)"): the only copy of the truncated logs in a set nothing
    -- would restore.  run_to's prefix made the same folder once unpacked.
    it("is refused by backup.run and run_to (JET_errInvalidPath) before anything is made or truncated", function()
      local t, _, _, inst = w:table({ log_file_size = 64 })
      t:put("k", "v")
      for _, dest in ipairs { "daily.partial", "daily.partial/", "x/y.partial" } do
        local e = H.expect_jet("JET_errInvalidPath", backup.run, inst, w:path(dest))
        assert.matches(".partial", e.detail, 1, true)
        local made = dest:gsub("/$", "")
        assert.are.equal("absent", fs.stat(w:path(made)).kind)
        assert.are.equal("absent", fs.stat(w:path(made .. ".partial")).kind)
      end
      assert.are.equal("absent", fs.stat(w:path("x")).kind)
      local e = H.expect_jet("JET_errInvalidPath", backup.run_to, inst, function() end, { prefix = "a/b.partial" })
      assert.matches(".partial", e.detail, 1, true)
      assert.is_nil(ese.file_info(w:path("app.edb")).backups.full, "no backup recorded")
      -- a name that only holds .partial elsewhere is a set like any other
      backup.run(inst, w:path("x.partial.d"))
      backup.verify(w:path("x.partial.d"))
    end)
  end)

  describe("a backup set named as a file of the instance", function()
    -- Before: backup.run(inst, LOGDIR/edb0000000N.log) made the set as a
    -- folder under the name of a log generation; the roll to it then found
    -- the name taken: the commit that rolled failed (JET_errFileAlreadyExists).
    it("is refused by backup.run (JET_errInvalidPath) before anything is made; the log rolls past it", function()
      local t, _, _, inst = w:table({ log_file_size = 64 })
      t:put("k", "v")
      local gen = ese.file_info(w:path("edb.log")).generation
      for _, leaf in ipairs { ("edb%08X.log"):format(gen + 1), ("EDB%08x.log"):format(gen + 2), "edbtmp.log",
                              "edb.chk", "edb.lck", "edbspare1.log", "EDBSPARE12.LOG" } do
        local e = H.expect_jet("JET_errInvalidPath", backup.run, inst, w:path(leaf))
        assert.matches("a set's folder cannot have", e.detail, 1, true)
        assert.are_not.equal("folder", fs.stat(w:path(leaf)).kind)
        assert.are.equal("absent", fs.stat(w:path(leaf .. ".partial")).kind)
      end
      assert.is_nil(ese.file_info(w:path("app.edb")).backups.full, "no backup recorded")
      for i = 1, 400 do t:put(("r%04d"):format(i), ("v"):rep(500)) end   -- several rolls
      assert.is_true(ese.file_info(w:path("edb.log")).generation > gen + 2)
      assert.are.equal(("v"):rep(500), t:get("r0400"))
      -- a name that only starts with the base name is a set like any other
      backup.run(inst, w:path("edb-daily"))
      backup.verify(w:path("edb-daily"))
    end)
  end)
end)
