-- Hostile tests of session 15 (second round): the archive folder's lock,
-- the names backup.run refuses for its DEST.  Each case failed before the
-- change it came with.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"
local fs = ese.fs

describe("hostile 15b", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  describe("a backup set named as a generation's copy on its way into the archive (NAME.part)", function()
    -- Before: backup.run(inst, ARC/edb0000000N.log.part) made the set as a
    -- folder where the archive writes generation N before renaming it
    -- (archive.c ship_folder): every ship of N then failed (JET_errDiskIO,
    -- retried for ever) and no later generation was archived.
    it("is refused by backup.run (JET_errInvalidPath) before anything is made; the archive ships past it", function()
      local arc = w:path("arc")
      local t, _, _, inst = w:table({ log_file_size = 64, archive_path = arc, archive_timeout = 0,
                                      archive_retry_max = 50 })
      t:put("k", "v")
      local gen = ese.file_info(w:path("edb.log")).generation
      for _, leaf in ipairs { ("edb%08X.log.part"):format(gen + 1), ("EDB%08x.LOG.Part"):format(gen + 2) } do
        local e = H.expect_jet("JET_errInvalidPath", backup.run, inst, arc .. "/" .. leaf)
        assert.matches("a set's folder cannot have", e.detail, 1, true)
        assert.are.equal("absent", fs.stat(arc .. "/" .. leaf).kind)
        assert.are.equal("absent", fs.stat(arc .. "/" .. leaf .. ".partial").kind)
      end
      assert.is_nil(ese.file_info(w:path("app.edb")).backups.full, "no backup recorded")
      for i = 1, 400 do t:put(("r%04d"):format(i), ("v"):rep(500)) end   -- several rolls
      local last = ese.file_info(w:path("edb.log")).generation - 1
      assert.is_true(last > gen + 2)
      local st
      assert.is_true(H.wait_until(function()
        st = inst:archive_status()
        return st.shipped_generation >= last
      end), "the archive ships every closed generation")
      assert.are.equal(0, st.failures, st.last_error)
      -- a name that only ends in .part is a set like any other
      backup.run(inst, w:path("edb-daily.part"))
      backup.verify(w:path("edb-daily.part"))
    end)
  end)

  -- Before: the C rule read a name up to its first NUL byte, so "x\0edb.chk"
  -- passed (as "x") and "edb.chk\0x" was refused as edb.chk.
  it("the set name rule takes a name holding a NUL byte for a problem, whatever follows it", function()
    local util = require "ese.util"
    for _, name in ipairs { "x\0edb.chk", "edb.chk\0x", "a.edb\0" } do
      assert.matches("NUL", util.db_name_problem(name, "edb"))
    end
    assert.is_nil(util.db_name_problem("a.edb", "edb"))
  end)

  -- The names backup.run refused for its DEST in Lua only are the one C
  -- rule's (restore_db_name_problem), so a database is refused under them too.
  it("the set name rule: a generation's archive copy (NAME.part) and a spare (BspareN.log), any case", function()
    local util = require "ese.util"
    for _, name in ipairs { "edb00000004.log.part", "EDB0000000a.LOG.PART", "edbspare1.log", "EDBSPARE12.LOG" } do
      assert.is_string(util.db_name_problem(name, "edb"), name)
    end
    for _, name in ipairs { "edbspare.log", "edbspareX.log", "edb0000000g.log.part", "edb00000004.log.partx",
                            "xedbspare1.log" } do
      assert.is_nil(util.db_name_problem(name, "edb"), name)
    end
  end)
end)
