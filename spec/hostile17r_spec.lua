-- Found by hostile17r (session 17): attacks on the day's changes.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"
local fs = ese.fs

describe("backup.expire's verify phase", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)
  local verdicts = H.verdicts

  -- Before: an error on_progress raised while backup.verify read the
  -- newest set (a JET_err object: the caller cancelling) was taken as
  -- verify's refusal of that whole set: the expire went on, named f3 "backup.verify
  -- refuses it", counted f2 and deleted f1.
  it("an error on_progress raises while a set is read ends expire, nothing deleted, the error the caller's",
    function()
    local root = w:expire_root(3)
    local cancel = backup.error("JET_errOutOfMemory", "caller", "cancelled")
    local ok, err = pcall(backup.expire, root, { keep_full = 1, dry_run = false, on_progress = function(p)
      if p.phase == "verify" then error(cancel) end
    end })
    assert.is_false(ok)
    assert.are.equal(cancel, err)
    for _, n in ipairs({ "f1", "f2", "f3" }) do backup.verify(root .. "/" .. n) end
    -- a string error too
    ok, err = pcall(backup.expire, root, { keep_full = 1, dry_run = false, on_progress = function(p)
      if p.phase == "verify" then error("stop", 0) end
    end })
    assert.is_false(ok)
    assert.are.equal("stop", err)
    assert.are.same({ f1 = "delete", f2 = "delete", f3 = "keep" }, verdicts(backup.expire(root, { keep_full = 1 })))
  end)
end)

describe("backup.expire's verify of a run of damaged full sets", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- Each refusal lowers the count above the older sets; those that then
  -- count are read in the same pass (the plan was made again per refusal:
  -- 150 damaged sets took 2.6 s, 300 took 7.5 s, see the commit): the
  -- verdicts are those of one plan per refusal, each set read once.
  it("keep_full 2 over f5, f4 damaged: f3 and f2 count, f1 goes, each set read once", function()
    local root = w:expire_root(5)
    H.flip_byte(root .. "/f5/app.edb", 9000)
    H.flip_byte(root .. "/f4/app.edb", 9000)
    local reads = {}
    local plan = backup.expire(root, { keep_full = 2, on_progress = function(p)
      if p.phase == "verify" and p.file == nil then reads[p.path] = (reads[p.path] or 0) + 1 end
    end })
    assert.are.same({ f1 = "delete", f2 = "keep", f3 = "keep", f4 = "keep", f5 = "keep" }, H.verdicts(plan))
    assert.matches("backup.verify refuses it", plan.reasons[root .. "/f4"], 1, true)
    assert.matches("backup.verify refuses it", plan.reasons[root .. "/f5"], 1, true)
    assert.matches("one of the 2 newest", plan.reasons[root .. "/f2"], 1, true)
    -- a refused set's reading ends at its first bad file: no final report
    assert.are.same({ [root .. "/f3"] = 1, [root .. "/f2"] = 1 }, reads)
  end)
end)

describe("backup.expire's deletion after the plan", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- Before: a newest full set moved away (or removed, cut short) after the
  -- plan counted it and before the deletion: run deleted f1 and f2 all the
  -- same, the root left with no full set at all.
  it("a counted full set gone or changed before the first deletion: JET_errInvalidBackup, nothing deleted",
    function()
    local root = w:expire_root(3)
    local away = w:path("away")
    local function moved(p)
      if p.phase == "verify" and p.file == nil and fs.stat(root .. "/f3").kind == "folder" then
        assert(os.rename(root .. "/f3", away))
      end
    end
    local err = H.expect_jet("JET_errInvalidBackup", backup.expire, root, { keep_full = 1, dry_run = false,
                                                                            on_progress = moved })
    assert.matches("f3, one of the newest full sets the plan keeps, changed since", tostring(err), 1, true)
    assert.are.same({ f1 = true, f2 = true }, H.ls(root))
    backup.verify(root .. "/f1")
    backup.verify(root .. "/f2")
    -- cut short: the same refusal
    assert(os.rename(away, root .. "/f3"))
    local function cut(p)
      if p.phase == "verify" and p.file == nil then
        assert(os.execute("truncate -s -4096 " .. root .. "/f3/app.edb"))
      end
    end
    H.expect_jet("JET_errInvalidBackup", backup.expire, root, { keep_full = 1, dry_run = false, on_progress = cut })
    assert.are.same({ f1 = true, f2 = true, f3 = true }, H.ls(root))
  end)

  -- Before: a byte of the newest set flipped after backup.verify read it
  -- whole (its size unchanged) and before the deletion: f1 and f2 went,
  -- f3 no longer restored: no restore point left.
  it("a counted full set written after verify read it (same size): JET_errInvalidBackup, nothing deleted", function()
    local root = w:expire_root(3)
    local t0 = fs.now()
    local function flip(p)
      if p.phase == "verify" and p.file == nil then
        -- past the file system's timestamp tick after the plan's first stat
        -- (a jiffy): the change time the write sets is another
        while fs.now() < t0 + 0.05 do end
        H.flip_byte(root .. "/f3/app.edb", 9000)
      end
    end
    local err = H.expect_jet("JET_errInvalidBackup", backup.expire, root, { keep_full = 1, dry_run = false,
                                                                            on_progress = flip })
    assert.matches("f3, one of the newest full sets the plan keeps, changed since the plan read it (a file of it "
      .. "was written or replaced)", tostring(err), 1, true)
    assert.are.same({ f1 = true, f2 = true, f3 = true }, H.ls(root))
    backup.verify(root .. "/f1")
    backup.verify(root .. "/f2")
    -- the next expire sees f3 damaged: kept, not counted; f2 counts
    assert.are.same({ f1 = "delete", f2 = "keep", f3 = "keep" }, H.verdicts(backup.expire(root, { keep_full = 1 })))
  end)
end)

describe("a restore whose live_log_path or archive_path is dest/.ese-fetch", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- Before: the generations there (copies of the live folder's, as a user
  -- might keep them, or an interrupted restore_command restore's fetches,
  -- which are named as an archive's) were emptied by the hold of the live
  -- generations, then the restore said JET_errMissingCurrentLogFiles
  -- "nothing was changed": the folder was gone with every log in it.
  for _, opt in ipairs({ "live_log_path", "archive_path" }) do
    it(("as %s: JET_errInvalidParameter, its logs and dest's old state untouched"):format(opt), function()
      w:live_after_set()
      fs.mkdir(w:path("dest/.ese-fetch"))
      local copied = {}
      for name in pairs(H.log_files(w.dir)) do
        if name ~= "edb.log" then
          H.write_file(w:path("dest/.ese-fetch/" .. name), H.read_file(w:path(name)))
          copied[name] = true
        end
      end
      assert.is_truthy(next(copied))
      local o = { overwrite = true, [opt] = w:path("dest/.ese-fetch") }
      if opt == "archive_path" then o.live_log_path = w.dir end
      local e = H.expect_jet("JET_errInvalidParameter", ese.restore, w:path("set"), w:path("dest"), o)
      assert.matches(".ese-fetch or in it", tostring(e), 1, true)
      assert.are.same(copied, H.ls(w:path("dest/.ese-fetch")))
      assert.are.equal(10, H.count_keys(w, w:path("dest"), "a"))
      assert.are.equal(0, H.count_keys(w, w:path("dest"), "live"))
    end)
  end
end)

describe("ese.restore with live_log_path and base_name in another case than the live folder's logs", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- Before: the set's edb logs were read under base_name "EDB" (any case),
  -- the live folder's by the name exactly: none found, the restore ended
  -- with the set (last_generation 1) and every commit after it was left
  -- out, with success.
  it("JET_errInvalidParameter naming a log of the live folder, dest not made; the exact name restores all",
    function()
    w:live_after_set()
    local n = H.count_keys(w, w.dir, "live")
    assert.is_true(n > 0)
    local e = H.expect_jet("JET_errInvalidParameter", ese.restore, w:path("set"), w:path("d2"),
                           { live_log_path = w.dir, base_name = "EDB" })
    assert.matches("and no log of base name EDB", tostring(e), 1, true)
    assert.are.equal("absent", fs.stat(w:path("d2")).kind)
    ese.restore(w:path("set"), w:path("d2"), { live_log_path = w.dir, base_name = "edb" })
    assert.are.equal(n, H.count_keys(w, w:path("d2"), "live"))
  end)
end)
