-- Hostile review of the backup automation (issue 8 items 4, 6, 10): a set
-- that verifies must restore; a backup that cannot be restored fails with
-- a named error and truncates nothing (or, once the engine has truncated,
-- keeps the set that holds the truncated logs); ese.fs never reaches past
-- the path it was given.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

local fs = ese.fs

-- { name = size } of the archived log generations of dir (not edb.log: a
-- log roll renames it, which is no truncation).
local function generations(dir)
  local r = H.log_files(dir)
  r["edb.log"] = nil
  return r
end

-- The names of generations in before that are gone (or changed) in dir.
local function truncated(before, dir)
  local now, gone = generations(dir), {}
  for name, size in pairs(before) do
    if now[name] ~= size then gone[#gone + 1] = name end
  end
  table.sort(gone)
  return gone
end

-- verify passes and ese.restore succeeds, or verify refuses with an error
-- object: never verify passing and restore failing.
local function verify_then_restore(set, dest)
  local ok, e = pcall(backup.verify, set)
  if not ok then
    assert.is_true(ese.is_error(e), tostring(e))
    return e
  end
  local rok, re = pcall(ese.restore, { set }, dest)
  assert.is_true(rok, "verify passed, restore failed: " .. tostring(re))
  return nil
end

describe("backup hostile review: a set that verifies restores", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("a manifest set with an unlisted file that restore would read (a database copy under another "
     .. "name, a log of the base name in other case): verify refuses it", function()
    local _, _, _, inst = w:filled_table(60, "a")
    local rs = backup.run(inst, w:path("run"), { copy = true })
    local w2 = H.world()
    local t2, _, _, inst2 = w2:filled_table(10, "x")
    local other = w2:path("other")
    H.backup(inst2, other, {})
    local foreign_log
    for name in pairs(H.ls(other)) do
      if name:match("^edb%x+%.log$") then foreign_log = H.read_file(other .. "/" .. name) end
    end
    local own = H.read_file(rs.dir .. "/app.edb")
    local cases = {
      { "zzz.db", H.read_file(other .. "/app.edb") },     -- another instance's copy
      { "app.bak", own },                                 -- our own copy, twice
      { "live.dat", H.read_file(w:path("app.edb")) },     -- a live database
      { "EDB00000002.log", foreign_log },                 -- restore reads the base name in any case
      { "edb00000002.LOG", foreign_log },
      { "EDB00000009.log", foreign_log },
    }
    for i, c in ipairs(cases) do
      local path = rs.dir .. "/" .. c[1]
      H.write_file(path, c[2])
      local e = verify_then_restore(rs.dir, w:path("dest" .. i))
      assert.is_truthy(e, c[1] .. ": verify passed")
      assert.matches(c[1], e.detail, 1, true)
      os.remove(path)
    end
    -- files restore does not read still verify, and the set restores
    H.write_file(rs.dir .. "/notes.txt", "hello\n")
    H.write_file(rs.dir .. "/empty", "")
    assert.is_true(backup.verify(rs.dir).manifest)
    backup.restore(rs.dir, w:path("restored"))
    assert.are.equal(60, H.count_keys(w, w:path("restored"), "a"))
    t2:close()
    w2:cleanup()
  end)

  it("a step-by-step set whose database copy has bytes appended, or holds the same database twice: "
     .. "verify refuses it with a named error", function()
    local t, _, _, inst = w:filled_table(60, "a")
    local full = w:path("full")
    H.backup(inst, full, { truncate = true })
    local data = H.read_file(full .. "/app.edb")
    local bad = w:path("bad")
    H.copy_dir(full, bad)
    H.write_file(bad .. "/app.edb", data .. ("x"):rep(100))
    local e = verify_then_restore(bad, w:path("d1"))
    assert.is_truthy(e, "verify passed a copy of 100 bytes more")
    assert.are.equal("JET_errBadPatchPage", e.name)
    local twice = w:path("twice")
    H.copy_dir(full, twice)
    H.write_file(twice .. "/app2.edb", data)
    e = verify_then_restore(twice, w:path("d2"))
    assert.is_truthy(e, "verify passed a set holding one database twice")
    assert.matches("app2?%.edb", e.detail)
    -- the set itself verifies and restores
    assert.is_nil(verify_then_restore(full, w:path("d3")))
    t:close()
  end)
end)

describe("backup hostile review: a failure truncates nothing, or keeps the set", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("backup.run_to: a sink that fails on the manifest or the end blocks: an error object and no log "
     .. "truncated", function()
    local t, _, _, inst = w:filled_table(60, "a")
    for _, at in ipairs({ "manifest", "end" }) do
      H.fill(t, 200, "z" .. at)
      local before = generations(w.dir)
      local e = H.expect_jet("JET_errDiskIO", backup.run_to, inst, function(x)
        if at == "manifest" and x:sub(1, 13) == "manifest.json" then return nil, "sink full" end
        if at == "end" and x == ("\0"):rep(1024) then return nil, "sink full" end
        return true
      end)
      assert.matches("sink full", e.detail)
      assert.are.same({}, truncated(before, w.dir), at .. ": the failed run_to truncated logs")
    end
    -- the backup was ended: the next one works
    local parts = {}
    backup.run_to(inst, function(x) parts[#parts + 1] = x end)
    assert.is_true(#parts > 0)
  end)

  it("backup.run with ESE_FAULT=eio:K: every failure leaves no set and every log, or (the engine "
     .. "truncated before it failed) the whole set, which verifies and restores", function()
    local t, s, _, inst = w:filled_table(40, "k")
    t:close()
    s:end_session()
    inst:term({ complete = true })
    local live = w:path("live")
    fs.mkdir(live)
    for _, name in ipairs(fs.list(w.dir)) do
      if name:match("^edb") or name == "app.edb" then
        H.write_file(live .. "/" .. name, H.read_file(w:path(name)))
      end
    end
    local seen = {}
    -- init and attach on the copy make 14 writes and syncs (2 of them the
    -- discard of the double-write ring at recovery): from the 14th (init's
    -- last) on, K reaches the backup's own writes, all of them by 33
    for k = 14, 42 do
      local dir = w:path("k" .. k)
      H.copy_dir(live, dir)
      local before = generations(dir)
      local dest = dir .. "-set"
      local code, out, err = H.lua_child(H.backup_child, { dir, dest, "8192" }, "ESE_FAULT=eio:" .. k)
      assert.are.equal(0, code, err)
      local kind = out:match("^(%u+)")
      assert.is_truthy(kind == "OK" or kind == "ERR" or kind == "INIT", ("eio:%d: %s"):format(k, out))
      seen[kind] = true
      assert.are.equal("absent", fs.stat(dest .. ".partial").kind, ("eio:%d: %s"):format(k, out))
      local gone = truncated(before, dir)
      if kind ~= "OK" then assert.matches("^%u+ JET_err", out) end
      if kind == "OK" or #gone > 0 then
        -- a set holds what was truncated
        assert.are.equal("folder", fs.stat(dest).kind,
          ("eio:%d: %s truncated %s and left no set"):format(k, out, table.concat(gone, " ")))
      end
      if kind ~= "OK" and fs.stat(dest).kind ~= "absent" then
        seen.kept = true
        assert.matches("complete set is kept in " .. dest:gsub("%p", "%%%0"), out)
      end
      if fs.stat(dest).kind ~= "absent" then
        -- a set left behind verifies and restores every record
        backup.restore(dest, dir .. "-r")
        assert.are.equal(40, H.count_keys(w, dir .. "-r", "k"), ("eio:%d: %s"):format(k, out))
      end
      fs.remove_tree(dir)
      fs.remove_tree(dest)
      fs.remove_tree(dir .. "-r")
    end
    assert.is_true(seen.ERR and seen.OK and seen.kept, "the sweep must see failures, a kept set and a success")
  end)
end)

describe("backup hostile review: ese.fs stays on the path it is given", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("remove_tree of a link to a folder, spelt with a trailing slash or '/.': the link goes (or a "
     .. "named error), the folder's content stays", function()
    for i, suffix in ipairs({ "/", "//", "/." }) do
      local target = w:path("target" .. i)
      fs.mkdir_p(target .. "/sub")
      H.write_file(target .. "/keep", "k")
      H.write_file(target .. "/sub/keep", "k")
      local link = w:path("link" .. i)
      assert.is_true(os.execute(("ln -s %s %s"):format(H.q(target), H.q(link))))
      local ok, e = pcall(fs.remove_tree, link .. suffix)
      if not ok then assert.is_true(ese.is_error(e), tostring(e)) end
      assert.are.equal("file", fs.stat(target .. "/keep").kind, "remove_tree(link" .. suffix .. ") emptied the target")
      assert.are.equal("file", fs.stat(target .. "/sub/keep").kind)
    end
  end)

  it("a path with a NUL byte is JET_errInvalidPath and touches nothing (not the path before the NUL)", function()
    local dir = w:path("d")
    fs.mkdir(dir)
    H.write_file(dir .. "/f", "data")
    local mode = fs.stat(dir .. "/f").mode
    local calls = {
      { "remove_tree", dir .. "\0/x" }, { "remove", dir .. "/f\0x" }, { "rmdir", dir .. "\0x" },
      { "create", dir .. "/f2\0x" }, { "mkdir", dir .. "/m\0x" }, { "mkdir_p", dir .. "/m\0x" },
      { "stat", dir .. "\0x" }, { "list", dir .. "\0x" }, { "read", dir .. "/f\0x" },
      { "sha256_file", dir .. "/f\0x" }, { "fsync", dir .. "/f\0x" }, { "fsync_dir", dir .. "\0x" },
      { "chmod", dir .. "/f\0x", 0 }, { "rename", dir .. "/f\0x", dir .. "/g" },
      { "rename", dir .. "/f", dir .. "/g\0x" },
    }
    for _, c in ipairs(calls) do
      local e = H.catch(fs[c[1]], c[2], c[3])
      assert.is_true(ese.is_error(e), c[1] .. ": " .. tostring(e))
      assert.are.equal("JET_errInvalidPath", e.name, c[1] .. ": " .. tostring(e))
    end
    assert.are.equal("data", H.read_file(dir .. "/f"))
    assert.are.equal(mode, fs.stat(dir .. "/f").mode)
    assert.are.same({ "f" }, fs.list(dir))
  end)

  it("fsync, read, sha256_file and chmod of a FIFO return at once (fsync hung in open)", function()
    local fifo = w:path("fifo")
    assert.is_true(os.execute("mkfifo " .. H.q(fifo)))
    local code, out, err = H.lua_child([[
      local ese = require "ese"
      for _, fn in ipairs({ "fsync", "read", "sha256_file" }) do
        local ok, e = pcall(ese.fs[fn], arg[1])
        io.write(fn, " ", tostring(not ok and ese.is_error(e) and e.name), "\n")
      end
      ese.fs.chmod(arg[1], 384)
      io.write("chmod ok\n")
    ]], { fifo }, "timeout 60")   -- a bound for a block, not a measure
    assert.are.equal(0, code, err)
    assert.are.equal("fsync JET_errInvalidPath\nread JET_errInvalidPath\n"
      .. "sha256_file JET_errInvalidPath\nchmod ok\n", out)
  end)
end)
