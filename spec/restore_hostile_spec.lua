-- Hostile restores (review of issue 8, items 1 and 3): destinations that
-- try to make a restore write into data it must not touch.  Each case
-- here failed before the fix it names.
local ese = require "ese"
local H = require "support.helpers"

local function sh(cmd)
  assert(os.execute(cmd), cmd)
end

-- Asserts two file contents are equal without printing them (binary).
local function same_bytes(want, got, msg)
  assert.is_true(want == got, ("%s (%s bytes, %s before)"):format(msg, got and #got or "no", want and #want or "no"))
end

-- Calls fn() (it must not raise) while a child process runs an instance
-- on dir with the parameters params (Lua source, `dir` in scope) and a
-- database db (Lua source of its path) holding the records child00001..10.
local function while_child(dir, params, db, fn)
  local ok, e = H.while_held(dir, function() return pcall(fn) end, ([[
      local s = inst:begin_session()
      local t = s:create_table(s:create_database(%s), "t")
      for i = 1, 10 do t:put(("child%%05d"):format(i), "v") end
    ]]):format(db), nil, params)
  assert.is_true(ok, tostring(e))
end

describe("hostile restores", function()
  local w, set_dir, set

  before_each(function()
    w = H.world()
    set_dir = w:path("set")
    set = w:stopped_set(set_dir)
  end)
  after_each(function() w:cleanup() end)

  describe("a restore never writes through a hard link", function()
    it("dest/app.edb a hard link to a file outside (a 'cp -al' copy of a stopped instance's folder): with "
       .. "overwrite the outside file keeps its bytes, the restore replaces the link", function()
      local live = w:path("live")
      local _, _, _, li = w:table_at(live, "app.edb")
      li:term({ complete = true })
      local original = H.read_file(live .. "/app.edb")
      local dest = w:path("dest")
      sh("cp -al " .. H.q(live) .. " " .. H.q(dest))
      ese.restore(set_dir, dest, { overwrite = true })
      assert.are.equal(20, H.count_keys(w, dest, "base"))
      same_bytes(original, H.read_file(live .. "/app.edb"), "the restore wrote into the stopped instance's database")
    end)

    it("dest/app.edb a hard link to the set's own app.edb: the set is not destroyed", function()
      local before = H.read_file(set_dir .. "/app.edb")
      local dest = w:path("dest")
      sh("mkdir " .. H.q(dest) .. " && ln " .. H.q(set_dir .. "/app.edb") .. " " .. H.q(dest .. "/app.edb"))
      ese.restore(set_dir, dest, { overwrite = true })
      same_bytes(before, H.read_file(set_dir .. "/app.edb"), "the restore truncated its own source")
      assert.are.equal(20, H.count_keys(w, dest, "base"))
    end)
  end)

  describe("a restore refuses live folders however they are named", function()
    it("another process's instance with base name 'abc' logging in dest: JET_errFileAccessDenied; its "
       .. "logs and lock survive", function()
      local dir = w:path("abcdir")
      while_child(dir, "{ system_path = dir, log_path = dir, base_name = 'abc' }", "dir .. '/other.edb'", function()
        local before = H.ls(dir)
        local e = H.expect_jet("JET_errFileAccessDenied", ese.restore, set_dir, dir, { overwrite = true })
        assert.matches("abc%.lck", e.detail)
        assert.are.same(before, H.ls(dir))
        -- by another name of the folder: trailing slashes, '..', a chain of links, relative
        H.expect_jet("JET_errFileAccessDenied", ese.restore, set_dir, dir .. "//", { overwrite = true })
        H.expect_jet("JET_errFileAccessDenied", ese.restore, set_dir, dir .. "/../abcdir/.", { overwrite = true })
        sh("ln -s " .. H.q(dir) .. " " .. H.q(w:path("l1")) .. " && ln -s " .. H.q(w:path("l1")) .. " "
           .. H.q(w:path("l2")))
        H.expect_jet("JET_errFileAccessDenied", ese.restore, set_dir, w:path("l2") .. "/", { overwrite = true })
        local cwd = assert(os.getenv("PWD"))
        local _, depth = cwd:gsub("/[^/]+", "")
        H.expect_jet("JET_errFileAccessDenied", ese.restore, set_dir, ("../"):rep(depth) .. dir:sub(2),
                     { overwrite = true })
        assert.are.same(before, H.ls(dir))
      end)
    end)

    it("the system (checkpoint) folder of another process's instance whose logs are elsewhere: "
       .. "JET_errFileAccessDenied, its edb.chk untouched", function()
      local sys, logs = w:path("sys"), w:path("sys-logs")
      while_child(sys, "{ system_path = dir, log_path = dir .. '-logs' }", "dir .. '-logs/app.edb'", function()
        local chk = H.read_file(sys .. "/edb.chk")
        assert.is_truthy(chk, "the child has no checkpoint in its system folder")
        local e = H.expect_jet("JET_errFileAccessDenied", ese.restore, set_dir, sys, { overwrite = true })
        assert.matches("edb%.lck", e.detail)
        same_bytes(chk, H.read_file(sys .. "/edb.chk"), "the restore replaced the live checkpoint")
        assert.is_nil(H.ls(sys)["edb.log"], "the restore wrote its log stream into the live system folder")
      end)
      local ci = w:open(nil, { system_path = sys, log_path = logs })
      local t = H.open_table(ci, logs)
      assert.are.equal(10, #H.collect(t, "child", "childz"))
      t:close()
      ci:term({ complete = true })
    end)

    it("dest the parent of a live folder (another process): the restore lands beside it, the live "
       .. "folder untouched", function()
      local dir = w:path("parent/live")
      while_child(dir, "{ system_path = dir, log_path = dir }", "dir .. '/app.edb'", function()
        local before = H.ls(dir)
        ese.restore(set_dir, w:path("parent"), { overwrite = true })
        assert.are.same(before, H.ls(dir))
      end)
      assert.are.equal(20, H.count_keys(w, w:path("parent"), "base"))
      assert.are.equal(10, H.count_keys(w, dir, "child"))
    end)

    it("dest holds a hard link to a database another process has attached elsewhere: "
       .. "JET_errFileAccessDenied, nothing changed", function()
      local dir = w:path("live")
      local dest = w:path("dest")
      while_child(dir, "{ system_path = dir, log_path = dir }", "dir .. '/app.edb'", function()
        sh("mkdir " .. H.q(dest) .. " && ln " .. H.q(dir .. "/app.edb") .. " " .. H.q(dest .. "/app.edb"))
        local e = H.expect_jet("JET_errFileAccessDenied", ese.restore, set_dir, dest, { overwrite = true })
        assert.matches("app%.edb is locked", e.detail)
      end)
      assert.are.equal(10, H.count_keys(w, dir, "child"))
    end)

    it("dest holds a hard link to a database attached in this process elsewhere: JET_errFileAccessDenied",
       function()
      local t, _, _, li = w:table_at(w:path("live"), "app.edb")
      H.fill(t, 3, "live")
      local dest = w:path("dest")
      sh("mkdir " .. H.q(dest) .. " && ln " .. H.q(w:path("live/app.edb")) .. " " .. H.q(dest .. "/app.edb"))
      local e = H.expect_jet("JET_errFileAccessDenied", ese.restore, set_dir, dest, { overwrite = true })
      assert.matches("app%.edb is locked", e.detail)
      H.fill(t, 3, "more")
      t:close()
      li:term({ complete = true })
      assert.are.equal(3, H.count_keys(w, w:path("live"), "more"))
    end)

    it("dest the set folder through a link: JET_errInvalidParameter, the set intact", function()
      sh("ln -s " .. H.q(set_dir) .. " " .. H.q(w:path("setlink")))
      H.expect_jet("JET_errInvalidParameter", ese.restore, set_dir, w:path("setlink") .. "/", { overwrite = true })
      H.expect_jet("JET_errInvalidParameter", ese.restore, set_dir, w:path("setlink"),
                   { overwrite = true, live_log_path = w.dir })
      ese.restore(set_dir, w:path("dest"))
      assert.are.equal(20, H.count_keys(w, w:path("dest"), "base"))
    end)

    it("a path with a NUL byte (dest, a set folder, live_log_path): JET_errInvalidPath, not the path cut at "
       .. "the NUL; dest a file, a link loop: JET_errInvalidPath saying why", function()
      local dest = w:path("dest")
      local e = H.expect_jet("JET_errInvalidPath", ese.restore, set_dir, dest .. "\0/../elsewhere")
      assert.matches("NUL", e.detail)
      H.expect_jet("JET_errInvalidPath", ese.restore, { set_dir .. "\0x" }, dest)
      H.expect_jet("JET_errInvalidPath", ese.restore, set_dir, dest, { live_log_path = w.dir .. "\0x" })
      assert.is_nil(H.ls(w.dir).dest, "a refused restore made " .. dest)
      H.write_file(dest, "a file")
      e = H.expect_jet("JET_errInvalidPath", ese.restore, set_dir, dest, { overwrite = true })
      assert.matches("dest", e.detail)
      sh("ln -s " .. H.q(w:path("loop")) .. " " .. H.q(w:path("loop")))
      e = H.expect_jet("JET_errInvalidPath", ese.restore, set_dir, w:path("loop"), { overwrite = true })
      assert.matches("loop", e.detail)
    end)

    it("live_log_path the dest: JET_errInvalidParameter", function()
      H.expect_jet("JET_errInvalidParameter", ese.restore, set_dir, w.dir .. "/.",
                   { overwrite = true, live_log_path = w.dir })
    end)
  end)

  describe("a restore with overwrite checks before it deletes", function()
    it("a folder named like a log of the stream outside the restored range: refused before a file is "
       .. "deleted or made", function()
      local dest = w:path("dest")
      ese.restore(set_dir, dest)
      H.write_file(dest .. "/notes.txt", "mine")
      sh("mkdir " .. H.q(dest .. "/" .. H.log_name(0xFF)))
      local before = H.ls(dest)
      local logs = {}
      for name in pairs(before) do
        if name:match("^edb.*%.log$") and name ~= H.log_name(0xFF) then
          logs[name] = H.read_file(dest .. "/" .. name)
        end
      end
      local e = H.expect_jet("JET_errInvalidPath", ese.restore, set_dir, dest, { overwrite = true })
      assert.matches(H.log_name(0xFF), e.detail, 1, true)
      assert.are.same(before, H.ls(dest))
      for name, data in pairs(logs) do same_bytes(data, H.read_file(dest .. "/" .. name), name) end
    end)

    it("user files whose names are near the stream's (edb.log.bak, edb00000001.log~, EDB.CHK, edb.chk.old, "
       .. "edbtmp.log.txt, edb.lck.txt) survive a restore with overwrite byte for byte", function()
      local dest = w:path("dest")
      ese.restore(set_dir, dest)
      local names = { "edb.log.bak", "edb00000001.log~", "EDB.CHK", "edb.chk.old", "edbtmp.log.txt", "edb.lck.txt",
                      "xedb.log", "edb0000000G.log" }
      for _, name in ipairs(names) do H.write_file(dest .. "/" .. name, "mine: " .. name) end
      ese.restore(set_dir, dest, { overwrite = true })
      for _, name in ipairs(names) do assert.are.equal("mine: " .. name, H.read_file(dest .. "/" .. name), name) end
      assert.are.equal(20, H.count_keys(w, dest, "base"))
    end)

    it("edb.chk.tmp a hard link to an outside file (checkpoint folder = dest): the outside file keeps "
       .. "its bytes", function()
      local far = w:path("far")
      sh("mkdir " .. H.q(far))
      H.write_file(far .. "/precious", ("precious\n"):rep(100))
      local dest = w:path("dest")
      sh("mkdir " .. H.q(dest) .. " && ln " .. H.q(far .. "/precious") .. " " .. H.q(dest .. "/edb.chk.tmp"))
      ese.restore(set_dir, dest, { overwrite = true })
      same_bytes(("precious\n"):rep(100), H.read_file(far .. "/precious"),
                 "the checkpoint was written through the link")
      assert.are.equal(20, H.count_keys(w, dest, "base"))
    end)

    it("a restore that fails half-way (a log of the set damaged in its records) is retried with "
       .. "overwrite from a good copy of the set: every record, the user's files kept", function()
      local bad = w:path("bad")
      H.copy_dir(set_dir, bad)
      local last = bad .. "/" .. H.log_name(set.info.gen_high - 1)
      H.flip_byte(last, H.last_data_offset(last) - 8)
      local dest = w:path("dest")
      -- without overwrite nothing is checked before the copy: the replay fails half-way
      local e = H.catch(ese.restore, bad, dest)
      assert.are.equal(ese.Error, getmetatable(e), tostring(e))
      assert.is_true(H.exists(dest .. "/app.edb"), "the restore failed before the copy: " .. tostring(e))
      H.write_file(dest .. "/notes.txt", "mine")
      -- with overwrite the damaged log is found before anything of dest goes (ST_CHECK reads the logs too)
      H.expect_jet(e.name, ese.restore, bad, dest, { overwrite = true })
      H.expect_jet("JET_errBackupDirectoryNotEmpty", ese.restore, set_dir, dest)
      ese.restore(set_dir, dest, { overwrite = true })
      assert.are.equal(20, H.count_keys(w, dest, "base"))
      assert.are.equal("mine", H.read_file(dest .. "/notes.txt"))
    end)

    it("a planted link to a folder in place of app.edb or edb.lck: JET_errInvalidPath, nothing made in "
       .. "the folder it names", function()
      local far = w:path("far")
      sh("mkdir " .. H.q(far))
      for _, name in ipairs({ "app.edb", "edb.lck", "edb.chk" }) do
        local dest = w:path("dest-" .. name)
        sh("mkdir " .. H.q(dest) .. " && ln -s " .. H.q(far) .. " " .. H.q(dest .. "/" .. name))
        local e = H.expect_jet("JET_errInvalidPath", ese.restore, set_dir, dest, { overwrite = true })
        assert.matches("symbolic link", e.detail)
        assert.are.same({}, H.ls(far))
      end
    end)
  end)
end)

describe("a restore refuses, before it writes, a database it would write twice", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("two full sets given as a chain (both hold app.edb): JET_errInvalidBackupSequence, dest not made", function()
    local t, _, _, inst = w:filled_table(20, "base")
    H.rolled_backup(inst, t, w:path("s1"), { log_dir = w.dir })
    H.fill(t, 5, "mid")
    H.rolled_backup(inst, t, w:path("s2"), { log_dir = w.dir })
    inst:term({ complete = true })
    local e = H.expect_jet("JET_errInvalidBackupSequence", ese.restore, { w:path("s1"), w:path("s2") }, w:path("d"))
    assert.matches("app%.edb", e.detail)
    assert.is_nil(H.ls(w.dir).d, "a refused restore made its destination")
    -- each alone restores
    ese.restore(w:path("s2"), w:path("d"))
    assert.are.equal(5, H.count_keys(w, w:path("d"), "mid"))
  end)
end)

describe("an instance holds its system (checkpoint) folder when it is not its log folder", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("a second instance of the same base name with that system folder (other logs): JET_errFileAccessDenied "
     .. "naming the folder; another base name works", function()
    local sys = w:path("sys")
    local a = w:open(nil, { system_path = sys, log_path = w:path("la") })
    local b = w:create(nil, { system_path = sys, log_path = w:path("lb") })
    local e = H.expect_jet("JET_errFileAccessDenied", b.init, b)
    assert.matches("system %(checkpoint%) folder", e.detail)
    w:open(nil, { system_path = sys, log_path = w:path("lc"), base_name = "abc" }):term({ complete = true })
    a:term({ complete = true })
    -- the checkpoint there is a's: b's own logs cannot follow it, and the error says so, not the old refusal
    e = H.expect_jet("JET_errMissingLogFile", b.init, b)
    assert.is_nil(e.detail and e.detail:match("held"), "a detail of the previous init's failure: " .. tostring(e))
    w:open(nil, { system_path = sys, log_path = w:path("la") }):term({ complete = true })
  end)
end)

describe("JetExternalRestore2 with hostile paths (C harness spec/c/restore_hostile.c)", function()
  it("a rstmap target that is a symbolic link: JET_errInvalidPath; the checkpoint folder the backup folder "
     .. "(also through a link): JET_errInvalidParameter; one file named twice in the map (one path, or two hard "
     .. "links): JET_errInvalidParameter; each before anything is written", function()
    H.expect_harness("restore_hostile", nil, "restore_hostile: ok")
  end)
end)
