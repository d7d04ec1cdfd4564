-- Follow-ups of the hostile review of issue 8 (items 4, 10): a set that
-- verifies restores, whatever its database copies are named; a restore
-- never skips a database it cannot read; a failed JetBackupInstance
-- removes what it wrote.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

describe("backup follow-ups: a set that verifies restores", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("a step-by-step set whose database copy was renamed (app.edb saved as other.edb) verifies, "
     .. "restores, and the restored database attaches under its name in the set", function()
    local t, s, _, inst = w:filled_table(30, "a")
    local set = w:path("set")
    H.backup(inst, set, {})
    t:close()
    s:end_session()
    inst:term()
    assert.is_true(os.rename(set .. "/app.edb", set .. "/other.edb"))
    backup.verify(set)
    local dest = w:path("dest")
    ese.restore({ set }, dest)
    assert.is_false(H.exists(dest .. "/app.edb"))
    local r = ese.create_instance(H.name("check"), H.params(dest))
    w:track(r)
    r:init()
    local rt = H.open_table(r, dest, "other.edb")
    local n = 0
    for _ in rt:pairs() do n = n + 1 end
    assert.are.equal(30, n)
  end)

  it("two databases with one base name in different folders (a/app.edb, b/app.edb): backup.run refuses "
     .. "with JET_errInvalidPath before it truncates or leaves a set", function()
    local inst = w:open(nil, { log_file_size = 64 })
    local s = inst:begin_session()
    assert(ese.fs.mkdir_p(w:path("a"), 448) ~= nil)
    ese.fs.mkdir_p(w:path("b"), 448)
    for _, d in ipairs({ "a", "b" }) do
      local db = s:create_database(w:path(d .. "/app.edb"))
      local t = s:create_table(db, "t")
      H.fill(t, 40, d)
      t:close()
    end
    local before = H.log_files(w.dir)
    local e = H.catch(backup.run, inst, w:path("run"), { copy = true })
    assert.is_true(ese.is_error(e), tostring(e))
    assert.are.equal("JET_errInvalidPath", e.name)
    assert.matches("app.edb", e.detail, 1, true)
    assert.is_false(H.exists(w:path("run")))
    for name, size in pairs(before) do
      if name ~= "edb.log" then assert.are.equal(size, H.log_files(w.dir)[name], name) end
    end
  end)

  it("a database of the set that cannot be opened (ESE_FAULT=eacces:two.edb) fails the restore with "
     .. "JET_errPermissionDenied; it is never skipped while the other database restores", function()
    local inst = w:open(nil, { log_file_size = 64 })
    local s = inst:begin_session()
    for _, name in ipairs({ "app.edb", "two.edb" }) do
      local db = s:create_database(w:path(name))
      local t = s:create_table(db, "t")
      H.fill(t, 20, name)
      t:close()
    end
    local set = w:path("set")
    H.backup(inst, set, {})
    s:end_session()
    inst:term()
    local dest = w:path("dest")
    local code, out, err = H.lua_child([[
      local ese = require "ese"
      local ok, e = pcall(ese.restore, { arg[1] }, arg[2])
      io.write(ok and "ok" or (ese.is_error(e) and e.name .. " " .. tostring(e.detail) or tostring(e)))
    ]], { set, dest }, "ESE_FAULT=eacces:two.edb")
    assert.are.equal(0, code, err)
    assert.matches("^JET_errPermissionDenied .*two%.edb", out)
    -- without the fault the set restores both
    ese.restore({ set }, dest, { overwrite = true })
    assert.is_true(H.exists(dest .. "/app.edb") and H.exists(dest .. "/two.edb"))
  end)
end)


describe("backup follow-ups: ese.fs under Lua memory errors (C harness spec/c/lua_oom.c)", function()
  it("fs.read, fs.list, fs.sha256_file and a file compressed by ese.zstd (its thread reading chunks the "
     .. "collector may take), failing at every Lua allocation in turn, leave no descriptor open, no thread "
     .. "running and no C memory held", function()
    local core = assert(package.searchpath("ese.core", package.cpath))
    local cpath = core:gsub("ese/core%.so$", "?.so")
    local dir = H.tmpdir()
    -- no thread cache: mallinfo2 counts cached chunks as held
    local ok, out = H.run_harness("lua_oom", H.q(cpath) .. " " .. H.q(dir),
      "GLIBC_TUNABLES=glibc.malloc.tcache_count=0")
    H.rmdir(dir)
    assert.is_true(ok, out)
    assert.matches("fs.read: %d+ budgets, no leak", out)
    assert.matches("fs.list: %d+ budgets, no leak", out)
    assert.matches("fs.sha256_file: %d+ budgets, no leak", out)
    assert.matches("\nzstd: %d+ budgets, no leak", out)
  end)
end)

describe("backup follow-ups: fs.chmod", function()
  it("changes the mode of a file its caller owns but cannot read (mode 0200), without reading it; "
     .. "a symbolic link is refused, its target untouched", function()
    local dir = H.tmpdir()
    local file = dir .. "/wo"
    H.write_file(file, "secret")
    assert(os.execute("chmod 755 " .. H.q(dir) .. " && chmod 200 " .. H.q(file)))
    local as = ""
    local pu = io.popen("id -u")
    local root = pu:read("l") == "0"
    pu:close()
    if root then    -- root reads anything: the call runs as another user that owns the file
      assert(os.execute("chown 65534:65534 " .. H.q(file)))
      as = "setpriv --reuid=65534 --regid=65534 --clear-groups "
    end
    -- the child loads a copy of the module from the test's own folder (0755),
    -- so the checkout's folders need not be open to the other user
    local core = assert(package.searchpath("ese.core", package.cpath))
    assert(os.execute("mkdir -p " .. H.q(dir .. "/lib/ese") .. " && cp " .. H.q(core) .. " " ..
      H.q(dir .. "/lib/ese/core.so") .. " && chmod -R a+rX " .. H.q(dir .. "/lib")))
    local function child(code)
      local p = assert(io.popen(("ESE_CHMOD_FILE=%s LUA_CPATH=%s %slua5.4 -e %s 2>&1"):format(
        H.q(file), H.q(dir .. "/lib/?.so"), as, H.q(code))))
      local out = p:read("a")
      p:close()
      return out
    end
    -- Where the other user cannot even start lua5.4 with the module (a
    -- sandbox whose root folder is closed to it), the case cannot be run.
    local probe = child([[require("ese.core") io.write("started")]])
    if root and probe ~= "started" then
      H.rmdir(dir)
      pending("uid 65534 cannot run lua5.4 with ese.core here: " .. probe:sub(1, 120))
      return
    end
    local out = child([[local fs = require("ese.core").fs
      local ok, e = pcall(fs.chmod, os.getenv("ESE_CHMOD_FILE"), 384)
      io.write(ok and "ok" or tostring(e.name or e))]])
    assert.are.equal("started", probe)
    assert.are.equal("ok", out)
    assert.are.equal(384, ese.fs.stat(file).mode & 4095)
    -- a link: refused (JET_errPermissionDenied), the file it names keeps its mode
    assert(os.execute("ln -s wo " .. H.q(dir .. "/link")))
    local e = H.catch(ese.fs.chmod, dir .. "/link", 420)
    assert.are.equal("JET_errPermissionDenied", e.name)
    assert.are.equal(384, ese.fs.stat(file).mode & 4095)
    H.rmdir(dir)
  end)
end)

describe("backup follow-ups: a path with a NUL byte", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("is JET_errInvalidPath in every path argument of the binding; nothing is created or deleted", function()
    local t, s, _, inst = w:filled_table(5, "a")
    local set = w:path("set")
    H.backup(inst, set, {})
    t:close()
    local bad = w:path("dir") .. "\0x"
    local db = w:path("app.edb")
    -- a folder whose name is the part before the NUL, with a file in it: a
    -- call that cut the path would empty, overwrite or fill it
    local victim = w:path("victim")
    ese.fs.mkdir(victim)
    H.write_file(victim .. "/keep", "keep")
    local vbad = victim .. "\0x"
    local calls = {
      { "file_info", function() return ese.file_info(bad) end },
      { "file_info(database)", function() return ese.file_info(db .. "\0x") end },
      { "restore dest", function() return ese.restore({ set }, bad) end },
      { "restore dest over a folder", function() return ese.restore({ set }, vbad, { overwrite = true }) end },
      { "restore set folder", function() return ese.restore({ set .. "\0x" }, w:path("d2")) end },
      { "restore live_log_path", function()
        return ese.restore({ set }, w:path("d3"), { live_log_path = w.dir .. "\0x" }) end },
      { "create_instance system_path", function()
        return ese.create_instance(H.name(), { system_path = bad, log_path = w:path("l") }) end },
      { "create_instance log_path", function()
        return ese.create_instance(H.name(), { system_path = w:path("l"), log_path = bad }) end },
      { "create_instance base_name", function()
        return ese.create_instance(H.name(), H.params(w:path("l"), { base_name = "e\0b" })) end },
      { "set_params log_path", function()
        local i = w:create()
        return i:set_params({ log_path = bad })
      end },
      { "init remap key", function()
        local i = w:create(nil, { system_path = w:path("l2"), log_path = w:path("l2") })
        return i:init({ remap = { [db .. "\0x"] = w:path("x.edb") } })
      end },
      { "init remap value", function()
        local i = w:create(nil, { system_path = w:path("l3"), log_path = w:path("l3") })
        return i:init({ remap = { [db] = bad } })
      end },
      { "create_database", function() return s:create_database(w:path("new.edb") .. "\0x") end },
      { "attach_database", function() return s:attach_database(db .. "\0x") end },
      { "detach_database", function() return s:detach_database(db .. "\0x") end },
      { "open_database", function() return s:open_database(db .. "\0x") end },
      { "open_file", function()
        inst:begin_external_backup()
        local ok, e = pcall(inst.open_file, inst, db .. "\0x")
        inst:end_external_backup({ abort = true })
        if not ok then error(e, 0) end
      end },
    }
    local before = H.ls(w.dir)
    for _, c in ipairs(calls) do
      local ok, e = pcall(c[2])
      assert.is_false(ok, c[1] .. ": succeeded")
      assert.is_true(ese.is_error(e), c[1] .. ": " .. tostring(e))
      assert.are.equal("JET_errInvalidPath", e.name, c[1] .. ": " .. tostring(e))
      assert.are.same(before, H.ls(w.dir), c[1] .. ": the folder changed")
      assert.are.same({ keep = true }, H.ls(victim), c[1])
      assert.are.equal("keep", H.read_file(victim .. "/keep"))
    end
    -- the database is still attached and whole
    local t2 = s:open_table(s:open_database(db), "t")
    local n = 0
    for _ in t2:pairs() do n = n + 1 end
    assert.are.equal(5, n)
  end)

  -- Before (session 16): the base name and the archive command were
  -- refused as "a path holds a NUL byte".
  it("a base name or an archive command with a NUL byte: the refusal names the parameter, not a path", function()
    for _, c in ipairs({
      { key = "base_name", value = "e\0b", says = "the base name" },
      { key = "archive_command", value = "cp %p /x\0y", says = "the archive command" },
    }) do
      local e = H.catch(ese.create_instance, H.name(), H.params(w:path("l"), { [c.key] = c.value }))
      assert.is_true(ese.is_error(e), c.key .. ": " .. tostring(e))
      assert.are.equal("JET_errInvalidPath", e.name, c.key)
      assert.matches(c.says .. " holds a NUL byte", e.detail, 1, true)
      assert.is_nil(e.detail:find("path", 1, true), c.key .. ": " .. e.detail)
    end
  end)
end)
