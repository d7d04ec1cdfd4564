-- A database file rolled back to an older copy of itself (session 16's
-- hostile finding).  Before: attach took any clean file, and its LR_ATTACH
-- said nothing of the file's state; a restore (or a recovery) replayed the
-- log's later records over the copy the set held, which then mixed two
-- histories without a word.  Now the header keeps where the file was last
-- made clean (its LR_DETACH's LSN and time, docs/format.md "clean point"),
-- the attach logs it, and replay of the attach compares it with the file
-- it has: JET_errConsistentTimeMismatch (-551).
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

local function cp(src, dst)
  assert(os.execute("cp -p " .. H.q(src) .. " " .. H.q(dst)), "cp " .. src)
end

describe("a database rolled back to an older copy of itself", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- full backup; detach, keep a copy (old.edb), attach, more commits;
  -- then the way back (detach or stop) with old.edb copied over app.edb,
  -- attach again, more commits, incremental.  Returns the live table,
  -- instance and the two sets.
  local function rolled(stop)
    local t, s, db, inst = w:table({ log_file_size = 64 })
    local path = w:path("app.edb")
    H.put_range(t, "a", 40)
    local full = w:path("full")
    backup.run(inst, full)
    H.put_range(t, "b", 40)
    H.detach(t, s, db, path)
    cp(path, w:path("old.edb"))                    -- the copy: a and b, made clean
    t, s, db = H.open_table(inst, w.dir)
    H.put_range(t, "c", 40)                          -- commits the copy lacks
    if stop then
      t:close(); db:close(); s:end_session()
      inst:term({ complete = true })
      inst = w:open(nil, { log_file_size = 64 })
    else
      H.detach(t, s, db, path)
    end
    cp(w:path("old.edb"), path)
    t = H.open_table(inst, w.dir)
    H.put_range(t, "d", 40)
    local inc = w:path("inc")
    backup.run(inst, inc, { incremental = true })
    return t, inst, full, inc
  end

  for _, how in ipairs({ "detach", "stop" }) do
    it(("(%s, copy back, attach) is refused by the restore of full + incremental: "
        .. "JET_errConsistentTimeMismatch, the live database untouched"):format(how), function()
      local t, inst, full, inc = rolled(how == "stop")
      local before = H.read_file(w:path("app.edb"))
      local e = H.expect_jet("JET_errConsistentTimeMismatch", ese.restore, { full, inc }, w:path("r1"))
      assert.are.equal(-551, e.code)
      assert.matches("app.edb", e.detail, 1, true)
      assert.matches("older copy", e.detail, 1, true)
      H.expect_jet("JET_errConsistentTimeMismatch", backup.restore, { full, inc }, w:path("r2"))
      -- the database restored so far stays "being restored": never attached as if it were whole
      assert.are.equal(4, H.db_header(w:path("r1/app.edb")).state)
      -- the live instance goes on, its file as it was: the copy's records and the later ones
      assert.are.equal(before, H.read_file(w:path("app.edb")))
      assert.are.equal("d-40", t:get("d040"))
      assert.are.equal("b-40", t:get("b040"))
      assert.is_nil(t:get("c001"))
      t:put("e", "after")
      assert.are.equal("after", t:get("e"))
      -- a new full backup restores what the live database holds
      backup.run(inst, w:path("full2"))
      local keys = H.restored_keys(w, (backup.restore(w:path("full2"), w:path("r3")).dest))
      assert.is_true(keys.d040 and keys.b040 and keys.e)
      assert.is_nil(keys.c001)
    end)
  end

  it("without the roll back, the same steps restore every record (the check refuses only a mix)", function()
    local t, s, db, inst = w:table({ log_file_size = 64 })
    local path = w:path("app.edb")
    H.put_range(t, "a", 40)
    backup.run(inst, w:path("full"))
    H.put_range(t, "b", 40)
    H.detach(t, s, db, path)
    t, s, db = H.open_table(inst, w.dir)
    H.put_range(t, "c", 40)
    t:close(); db:close(); s:end_session()
    inst:term({ complete = true })
    inst = w:open(nil, { log_file_size = 64 })
    t = H.open_table(inst, w.dir)
    H.put_range(t, "d", 40)
    backup.run(inst, w:path("inc"), { incremental = true })
    backup.restore({ w:path("full"), w:path("inc") }, w:path("r"))
    local keys = H.restored_keys(w, w:path("r"))
    for _, k in ipairs({ "a040", "b040", "c040", "d040" }) do assert.is_true(keys[k], k) end
  end)

  it("a crash, recovery, attach and commits between full and incremental restore whole; an older copy "
     .. "attached after that recovery is refused", function()
    for _, roll in ipairs({ false, true }) do
      local t, s, db, inst = w:table({ log_file_size = 64 })
      local path = w:path("app.edb")
      H.put_range(t, "a", 40)
      local full = w:path(("full-%s"):format(roll))
      backup.run(inst, full)
      H.detach(t, s, db, path)
      cp(path, w:path("old.edb"))                   -- clean: a
      t = H.open_table(inst, w.dir)
      H.put_range(t, "b", 40)
      inst:term()                                   -- a crash
      inst = w:open(nil, { log_file_size = 64 })     -- recovery makes app.edb clean: a and b
      if roll then cp(w:path("old.edb"), path) end
      t = H.open_table(inst, w.dir)
      H.put_range(t, "c", 40)
      local inc = w:path(("inc-%s"):format(roll))
      backup.run(inst, inc, { incremental = true })
      local dest = w:path(("r-%s"):format(roll))
      if roll then
        local e = H.expect_jet("JET_errConsistentTimeMismatch", backup.restore, { full, inc }, dest)
        assert.matches("before the run that attaches it", e.detail, 1, true)
      else
        backup.restore({ full, inc }, dest)
        local keys = H.restored_keys(w, dest)
        for _, k in ipairs({ "a040", "b040", "c040" }) do assert.is_true(keys[k], k) end
      end
      inst:term({ complete = true })
      os.remove(path)
      for name in pairs(H.ls(w.dir)) do
        if name:match("^edb") then os.remove(w:path(name)) end
      end
    end
  end)

  -- a, detach, old.edb copied, attach; then(t, s, db, inst, path) goes on
  -- and leaves the database attached; a crash, old.edb put back, init:
  -- refused, the copy not written.  Returns the error.
  local function crash_onto_copy(go_on)
    local t, s, db, inst = w:table({ log_file_size = 64 })
    local path = w:path("app.edb")
    H.put_range(t, "a", 40)
    H.detach(t, s, db, path)
    cp(path, w:path("old.edb"))
    t, s, db = H.open_table(inst, w.dir)
    go_on(t, s, db, inst, path)
    inst:term()                                     -- a crash: app.edb dirty
    cp(w:path("old.edb"), path)
    local copy = H.read_file(path)
    local i2 = w:create(nil, { log_file_size = 64 })
    local e = H.expect_jet("JET_errConsistentTimeMismatch", i2.init, i2)
    assert.matches("older copy", e.detail, 1, true)
    assert.are.equal(copy, H.read_file(path), "the copy is not written")
    return e
  end

  it("crash recovery onto an older copy put back is refused (JET_errConsistentTimeMismatch), "
     .. "the copy not written", function()
    local e = crash_onto_copy(function(t, s, db, inst, path)
      H.put_range(t, "c", 40)                         -- commits the copy lacks
      H.detach(t, s, db, path)
      H.put_range(H.open_table(inst, w.dir), "b", 200)   -- several rolls
    end)
    assert.matches("the log attaches it at generation", e.detail, 1, true)   -- the LR_ATTACH replayed
  end)

  it("crash recovery from a checkpoint taken while the database was attached, onto an older copy put back: "
     .. "refused by the checkpoint's attach table (JET_errConsistentTimeMismatch), the copy not written", function()
    local e = crash_onto_copy(function(t, _, _, inst)
      H.put_range(t, "b", 40)
      backup.run(inst, w:path("full"))              -- its Begin takes a checkpoint naming app.edb attached
      H.put_range(t, "c", 5)                          -- a small commit: a page the copy has at an older dbtime
    end)
    assert.matches("attached when the checkpoint", e.detail, 1, true)
  end)

  it("a database of format 3 (spec/fixtures/v5, before the clean point) attaches, is written as format 4, and "
     .. "its clean point is checked from its first detach on", function()
    local dir = H.copy_dir("spec/fixtures/v5/clean", w:path("v5"))
    local path = dir .. "/app.edb"
    local h = H.db_header(path, 4096)
    assert.are.equal("ESEDB\0\0\3", h.magic)
    assert.are.equal(3, ese.file_info(path, true).format_version)
    local params = { log_file_size = 64, page_size = 4096 }
    local inst = w:track(ese.create_instance(H.name(), H.params(dir, params)))
    inst:init()
    local t, s, db = H.open_table(inst, dir)
    assert.are.equal(150, t:count())
    h = H.db_header(path, 4096)
    assert.are.equal("ESEDB\0\0\4", h.magic)
    assert.are.equal(H.DB_DIRTY, h.state)
    assert.is_true(h.attach_lsn > 0)
    assert.are.equal(0, h.clean_lsn, "a format 3 file's clean point is not known")
    backup.run(inst, w:path("full"))
    t:put("x1", "1")
    H.detach(t, s, db, path)
    h = H.db_header(path, 4096)
    assert.are.equal(H.DB_CLEAN, h.state)
    assert.is_true(h.clean_lsn > h.attach_lsn and h.clean_time > 0)
    cp(path, w:path("old.edb"))
    t, s, db = H.open_table(inst, dir)
    t:put("x2", "2")
    H.detach(t, s, db, path)
    cp(w:path("old.edb"), path)
    t = H.open_table(inst, dir)
    t:put("x3", "3")
    backup.run(inst, w:path("inc"), { incremental = true })
    H.expect_jet("JET_errConsistentTimeMismatch", ese.restore, { w:path("full"), w:path("inc") }, w:path("r"))
  end)

  it("a clean file of this log stream made clean in another copy's history: attach takes it (the log cannot "
     .. "tell), a restore of the log that attached it refuses it", function()
    -- one folder copied (cp -a) to two; the copy runs on and detaches; its
    -- file attached in the original is attached (attach compares nothing:
    -- the log's end is no bound, a restore with overwrite cuts the stream
    -- back under files made clean later), but the log recorded its clean
    -- point, which is not the one the original's term made
    local t, s, db, inst = w:table({ log_file_size = 64 })
    local path = w:path("app.edb")
    H.put_range(t, "a", 10)
    backup.run(inst, w:path("full"))
    t:close(); db:close(); s:end_session()
    inst:term({ complete = true })
    local other = H.copy_dir(w.dir, w.dir .. "-copy")
    local o = ese.create_instance(H.name("o"), H.params(other))
    w:track(o)
    o:init()
    local ot, os2, odb = H.open_table(o, other)
    H.put_range(ot, "z", 200)
    H.detach(ot, os2, odb, other .. "/app.edb")
    o:term({ complete = true })
    local i2 = w:open(nil, { log_file_size = 64 })
    cp(other .. "/app.edb", path)
    H.rmdir(other)
    t = H.open_table(i2, w.dir)
    assert.truthy(t:get("z200"))
    t:put("y1", "1")
    i2:term({ complete = true })
    local e = H.expect_jet("JET_errConsistentTimeMismatch", ese.restore, w:path("full"), w:path("r"),
                           { live_log_path = w.dir })
    assert.matches("the log detached it at generation", e.detail, 1, true)
  end)

  it("a restore to a point in time that stops at a commit whose group began in the generation before "
     .. "makes the database clean at a record the restored log holds (was: at the commit it stopped before, "
     .. "in the part of the generation the restore cut away)", function()
    local t, s, _, inst = w:table({ log_file_size = 64 })
    H.put_range(t, "a", 20)
    local set, archive = w:path("set"), w:path("archive")
    backup.run(inst, set)
    H.put_range(t, "b", 20)
    local mark = H.time_mark()
    s:begin_transaction()                          -- one group spanning a roll: its commit in the next generation
    for i = 1, 60 do t:put(("c%03d"):format(i), ("v"):rep(1500)) end
    s:commit_transaction()
    H.roll(t, w.dir, 1, "tail")
    inst:term({ complete = true })
    assert(os.execute("mkdir -p " .. H.q(archive)))
    for _, name in ipairs(ese.fs.list(w.dir)) do
      if name:match("^edb%x%x%x%x%x%x%x%x%.log$") then cp(w:path(name), archive .. "/" .. name) end
    end
    local dest = w:path("dest")
    assert.is_true(ese.restore(set, dest, { archive_path = archive, to_time = mark }).stopped_at_time)
    local h = H.db_header(dest .. "/app.edb", 4096)
    local gen, off = h.clean_lsn >> 32, h.clean_lsn & 0xFFFFFFFF
    local log = assert(H.read_file(("%s/edb%08X.log"):format(dest, gen)), "the clean point's generation")
    assert.is_true(string.unpack("<I4", log, off + 1) > 0, "a record at the clean point")
  end)
end)
