-- A restore never destroys live data and never writes through a symbolic
-- link (issue 8, items 1 and 3; docs/backup.md "Where a restore writes").
-- ese.restore and backup.restore refuse, before they create or delete
-- anything: a destination that a running instance uses (its log folder,
-- its system folder or a database it has attached; in this process or
-- another; also reached through a symbolic link) with
-- JET_errFileAccessDenied; a destination that is not empty unless
-- { overwrite = true } with JET_errBackupDirectoryNotEmpty; a destination
-- where a file the restore writes is a symbolic link (or not a regular
-- file) with JET_errInvalidPath.  The C entry points are checked by
-- spec/c/restore_live.c (last test).
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

-- { name = content | "->target" } of every entry of dir (a link: its
-- target, never what it points at).
local function snapshot(dir)
  local snap = {}
  for name in pairs(H.ls(dir)) do
    local p = dir .. "/" .. name
    local pipe = assert(io.popen("readlink " .. H.q(p)))
    local target = pipe:read("l")
    pipe:close()
    snap[name] = target and ("->" .. target) or H.read_file(p) or "(not a file)"
  end
  return snap
end

local function symlink(target, link)
  assert(os.execute("ln -s " .. H.q(target) .. " " .. H.q(link)), "ln -s " .. link)
end

describe("a restore refuses a folder that a running instance uses", function()
  local w, set_dir, t, inst

  before_each(function()
    w = H.world()
    set_dir = H.tmpdir()       -- outside w.dir: the live folder's snapshot stays the instance's own
    local _
    _, t, _, _, inst = w:base_set(set_dir)
  end)
  after_each(function()
    w:cleanup()
    H.rmdir(set_dir)
  end)

  -- The instance of w.dir goes on after a refused restore: a commit works
  -- and every record is there after term + a new init.
  local function survives()
    H.fill(t, 5, "after")
    inst:term({ complete = true })
    local keys = H.restored_keys(w, w.dir)
    assert.are.equal(20, H.count_prefix(keys, "base"))
    assert.are.equal(5, H.count_prefix(keys, "after"))
  end

  it("its log folder, in this process: JET_errFileAccessDenied (-1032) naming the holder, with or without "
     .. "overwrite; nothing in the folder changed, and the instance and its data live on", function()
    local before = snapshot(w.dir)
    for _, opts in ipairs({ {}, { overwrite = true } }) do
      local e = H.expect_jet("JET_errFileAccessDenied", ese.restore, set_dir, w.dir, opts)
      assert.are.equal(-1032, e.code)
      assert.are.equal("restore", e.op)
      assert.matches("instance .* of this process", e.detail)
      assert.are.same(before, snapshot(w.dir))
      H.expect_jet("JET_errFileAccessDenied", backup.restore, set_dir, w.dir, { verify = false, overwrite = true })
      assert.are.same(before, snapshot(w.dir))
    end
    survives()
  end)

  it("the same folder through a symbolic link: refused alike, nothing written through the link", function()
    local far = H.tmpdir()
    finally(function() H.rmdir(far) end)
    local link = far .. "/link"
    symlink(w.dir, link)
    local before = snapshot(w.dir)
    local e = H.expect_jet("JET_errFileAccessDenied", ese.restore, set_dir, link, { overwrite = true })
    assert.matches("of this process", e.detail)
    H.expect_jet("JET_errFileAccessDenied", ese.restore, set_dir, link .. "/", { overwrite = true })
    H.expect_jet("JET_errFileAccessDenied", ese.restore, set_dir, far .. "/../" .. H.basename(far) .. "/link",
                 { overwrite = true })
    assert.are.same(before, snapshot(w.dir))
    assert.are.same({ link = true }, H.ls(far))
    survives()
  end)

  it("a folder that holds a database attached by an instance whose logs are elsewhere, or that is the "
     .. "system (checkpoint) folder of a running instance: JET_errFileAccessDenied", function()
    local other, logs = w:path("other"), w:path("other-logs")
    os.execute("mkdir " .. H.q(other))
    local ot, _, _, oi = w:table_at(logs, "../other/app.edb")
    H.fill(ot, 7, "other")
    local before = snapshot(other)
    local e = H.expect_jet("JET_errFileAccessDenied", ese.restore, set_dir, other, { overwrite = true })
    assert.matches("app%.edb", e.detail)
    assert.are.same(before, snapshot(other))
    -- the system folder: edb.chk is there, the log folder (and its lock) elsewhere
    local sys = w:path("sys")
    local si = w:open(nil, { system_path = sys, log_path = w:path("sys-logs") })
    assert.is_true(H.exists(sys .. "/edb.chk"))
    local sys_before = snapshot(sys)
    e = H.expect_jet("JET_errFileAccessDenied", ese.restore, set_dir, sys, { overwrite = true })
    assert.matches("of this process", e.detail)
    assert.are.same(sys_before, snapshot(sys))
    si:term({ complete = true })
    oi:term({ complete = true })
    -- once they ended, the same restores work
    ese.restore(set_dir, other, { overwrite = true })
    assert.are.equal(20, H.count_keys(w, other, "base"))
    survives()
  end)

  it("a log folder held by ANOTHER process: JET_errFileAccessDenied; the child's data survives", function()
    local dir = w:path("held")
    local before, after
    local ok, e = H.while_held(dir, function()
      before = snapshot(dir)
      local ok, e = pcall(ese.restore, set_dir, dir, { overwrite = true })
      after = snapshot(dir)
      return ok, e
    end, [[
      local s = inst:begin_session()
      local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
      for i = 1, 10 do t:put(("child%05d"):format(i), "v") end
    ]], [[
      for i = 11, 15 do t:put(("child%05d"):format(i), "v") end
      t:close()
      s:end_session()
    ]])
    assert.is_false(ok, "the restore succeeded while the child held the folder")
    assert.are.equal("JET_errFileAccessDenied", e.name)
    assert.matches("edb%.lck", e.detail)
    assert.are.same(before, after)
    assert.are.equal(15, H.count_keys(w, dir, "child"))
  end)
end)

describe("a restore into a folder that is not empty", function()
  local w, set_dir

  before_each(function()
    w = H.world()
    set_dir = w:path("set")
    w:stopped_set(set_dir)
  end)
  after_each(function() w:cleanup() end)

  it("without overwrite: JET_errBackupDirectoryNotEmpty (-504), nothing changed; an empty or absent folder "
     .. "needs no option", function()
    local dest = w:path("dest")
    os.execute("mkdir " .. H.q(dest))
    H.write_file(dest .. "/notes.txt", "mine")
    local before = snapshot(dest)
    local e = H.expect_jet("JET_errBackupDirectoryNotEmpty", ese.restore, set_dir, dest)
    assert.are.equal(-504, e.code)
    assert.matches("overwrite", e.detail)
    -- the sentence fits a restore destination too (it said "The backup folder is not empty")
    assert.are.equal("The destination folder is not empty", e.message)
    assert.is_nil(tostring(e):find("backup folder", 1, true))
    H.expect_jet("JET_errBackupDirectoryNotEmpty", ese.restore, set_dir, dest, { overwrite = false })
    H.expect_jet("JET_errBackupDirectoryNotEmpty", backup.restore, set_dir, dest, { verify = false })
    assert.are.same(before, snapshot(dest))
    H.expect_argerror("overwrite", ese.restore, set_dir, dest, { overwrite = "yes" })
    local empty = w:path("empty")
    os.execute("mkdir " .. H.q(empty))
    ese.restore(set_dir, empty)
    assert.are.equal(20, H.count_keys(w, empty, "base"))
    backup.restore(set_dir, w:path("absent"), { verify = false })
    assert.are.equal(20, H.count_keys(w, w:path("absent"), "base"))
  end)

  it("with overwrite: restored; files the restore does not write are kept byte for byte, stale log "
     .. "generations and the old checkpoint of the base name are gone", function()
    local dest = w:path("dest")
    ese.restore(set_dir, dest)
    -- the restored folder moves on: an instance adds generations past the set's range
    local ri = w:open(nil, { system_path = dest, log_path = dest, log_file_size = 64 })
    H.roll(H.open_table(ri, dest), dest, 3, "later")
    ri:term({ complete = true })
    local stale = dest .. "/" .. H.log_name(ese.file_info(dest .. "/edb.log").generation - 1)
    assert.is_true(H.exists(stale))
    H.write_file(dest .. "/notes.txt", "mine")
    H.write_file(dest .. "/keep.edb", "not a database of the set")
    H.write_file(dest .. "/abc00000001.log", "another base name")
    H.expect_jet("JET_errBackupDirectoryNotEmpty", ese.restore, set_dir, dest)
    assert.is_true(H.exists(stale))
    backup.restore(set_dir, dest, { verify = false, overwrite = true })
    assert.are.equal("mine", H.read_file(dest .. "/notes.txt"))
    assert.are.equal("not a database of the set", H.read_file(dest .. "/keep.edb"))
    assert.are.equal("another base name", H.read_file(dest .. "/abc00000001.log"))
    assert.is_false(H.exists(stale), "a generation past the restored stream is left behind")
    local keys = H.restored_keys(w, dest)
    assert.are.equal(20, H.count_prefix(keys, "base"))
    assert.are.equal(0, H.count_prefix(keys, "later"))
    -- a failed restore leaves dest unusable; a retry over it needs overwrite too
    ese.restore(set_dir, dest, { overwrite = true })
    assert.are.equal(20, H.count_keys(w, dest, "base"))
  end)
end)

describe("a restore never writes through a symbolic link", function()
  local w, set_dir, set, far, outside

  before_each(function()
    w = H.world()
    set_dir = w:path("set")
    set = w:stopped_set(set_dir)
    far = H.tmpdir()
    outside = far .. "/precious"
    H.write_file(outside, ("precious data\n"):rep(1000))
  end)
  after_each(function()
    w:cleanup()
    H.rmdir(far)
  end)

  it("a planted link in place of a file the restore writes (app.edb, edb.log, edb.chk, a log of the set, "
     .. "edbtmp.log, edb.chk.tmp): JET_errInvalidPath, the outside file unchanged byte for byte", function()
    local content = H.read_file(outside)
    local names = { "app.edb", "edb.log", "edb.chk", H.log_name(set.info.gen_low), H.log_name(set.info.gen_high),
                    "edbtmp.log", "edb.chk.tmp" }
    for i, name in ipairs(names) do
      local dest = w:path("dest" .. i)
      os.execute("mkdir " .. H.q(dest))
      symlink(outside, dest .. "/" .. name)
      local before = snapshot(dest)
      local e = H.expect_jet("JET_errInvalidPath", ese.restore, set_dir, dest, { overwrite = true })
      assert.matches(name:gsub("%p", "%%%0") .. " is a symbolic link", e.detail)
      assert.are.equal(content, H.read_file(outside), name)
      assert.are.same(before, snapshot(dest))
      H.expect_jet("JET_errInvalidPath", backup.restore, set_dir, dest, { verify = false, overwrite = true })
      assert.are.equal(content, H.read_file(outside), name)
      -- removed, the same restore works
      assert.is_true(os.remove(dest .. "/" .. name))
      ese.restore(set_dir, dest, { overwrite = true })
      assert.are.equal(20, H.count_keys(w, dest, "base"))
      assert.are.equal(content, H.read_file(outside), name)
    end
  end)

  it("a dangling link is refused too: its target is never created", function()
    local dest = w:path("dest")
    os.execute("mkdir " .. H.q(dest))
    symlink(far .. "/created", dest .. "/app.edb")
    H.expect_jet("JET_errInvalidPath", ese.restore, set_dir, dest, { overwrite = true })
    assert.are.same({ precious = true }, H.ls(far))
  end)

  it("a file the restore writes that is a folder: JET_errInvalidPath before anything is written", function()
    local dest = w:path("dest")
    os.execute("mkdir -p " .. H.q(dest .. "/app.edb"))
    H.write_file(dest .. "/notes.txt", "mine")
    local before = snapshot(dest)
    local e = H.expect_jet("JET_errInvalidPath", ese.restore, set_dir, dest, { overwrite = true })
    assert.matches("not a regular file", e.detail)
    assert.are.same(before, snapshot(dest))
  end)

  it("the destination itself a link to a folder: followed (the restore lands in the folder it names)", function()
    local real = far .. "/real"
    os.execute("mkdir " .. H.q(real))
    symlink(real, w:path("dest"))
    ese.restore(set_dir, w:path("dest"))
    assert.is_true(H.exists(real .. "/app.edb"))
    assert.are.equal(20, H.count_keys(w, real, "base"))
  end)
end)

describe("the C entry points (C harness spec/c/restore_live.c)", function()
  it("JetRestoreInstance / JetExternalRestore2 / EseRestoreBegin refuse a live folder (this process, another "
     .. "process, through a link, as checkpoint folder: JET_errFileAccessDenied), a planted link "
     .. "(JET_errInvalidPath); overwrite is their default, EseRestoreBegin without .overwrite refuses a folder "
     .. "that is not empty (JET_errBackupDirectoryNotEmpty)", function()
    H.expect_harness("restore_live", nil, "restore_live: ok")
  end)
end)
