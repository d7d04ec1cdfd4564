-- ese.backup starts no process: its file work goes through ese.fs (issue 8
-- item 6), so every failure is an error object (out of descriptors, a full
-- disk) and the I/O fault injection reaches the set's own writes.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

local PAGE = 8192

local CHILD = H.backup_child

-- A live folder w.dir with app.edb holding n records, several log
-- generations, the instance terminated cleanly.
local function make_live(w, n)
  local t, s, _, inst = w:filled_table(n or 40, "k")
  t:close()
  s:end_session()
  inst:term({ complete = true })
end

local logs_of = H.log_files

describe("backup automation starts no process (issue 8 item 6)", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("backup.lua and cli.lua contain no io.popen, os.execute, os.tmpname or /proc reads", function()
    for _, file in ipairs({ "lua/ese/backup.lua", "lua/ese/cli.lua" }) do
      local text = assert(H.read_file(file))
      for _, word in ipairs({ "io.popen", "os.execute", "os.tmpname", "/proc/", "sha256sum" }) do
        assert.is_nil(text:find(word, 1, true), file .. " uses " .. word)
      end
    end
  end)

  it("out of descriptors (ulimit -n 4..20): every run either fails with an error object and leaves "
     .. "no set, no .partial and every log, or succeeds with a set that verifies", function()
    make_live(w)
    local script = os.tmpname()
    H.write_file(script, CHILD)
    local seen = { ERR = 0, OK = 0 }
    for n = 4, 20 do
      local dest = w:path("sets/n" .. n)
      local before = logs_of(w.dir)
      -- exec: the shell itself needs spare descriptors for a redirection
      local cmd = ("ulimit -n %d; LUA_PATH=%s LUA_CPATH=%s exec lua5.4 %s %s %s %d"):format(
        n, H.q(package.path), H.q(package.cpath), H.q(script), H.q(w.dir), H.q(dest), PAGE)
      local p = assert(io.popen("sh -c " .. H.q(cmd) .. " 2>&1"))
      local out = p:read("a")
      p:close()
      local kind, name = out:match("^(%u+) ?(%S*)")
      assert.is_truthy(kind == "OK" or kind == "ERR" or kind == "INIT", ("ulimit -n %d: %s"):format(n, out))
      if kind == "ERR" then
        assert.matches("^JET_err", name, out)
        assert.is_false(H.exists(dest .. "/manifest.json"), out)
        assert.are.equal("absent", ese.fs.stat(w:path("sets/n" .. n .. ".partial")).kind, out)
        assert.are.equal("absent", ese.fs.stat(w:path("sets/n" .. n)).kind, out)
        assert.are.same(before, logs_of(w.dir), "a failed run truncated a log: " .. out)
      elseif kind == "OK" then
        local r = backup.verify(dest)
        assert.is_true(r.files >= 2)
        local m = require("cjson").decode(H.read_file(dest .. "/manifest.json"))
        for _, e in ipairs(m.files) do assert.matches("^" .. ("%x"):rep(64) .. "$", e.sha256) end
      end
      seen[kind] = (seen[kind] or 0) + 1
    end
    os.remove(script)
    assert.is_true(seen.ERR > 0, "no limit made the backup itself fail")
    assert.is_true(seen.OK > 0, "no limit let the backup succeed")
  end)

  it("ESE_FAULT=enospc:K reaches the set's writes: JET_errDiskFull naming the file, no .partial, "
     .. "every log kept", function()
    -- about 1 MiB of database: the set's writes (one per 8 KiB chunk) number
    -- hundreds, the engine's own events in the child (counted apart, in
    -- the instance's I/O context) a few dozen, so the 100th is the set's
    make_live(w, 2000)
    local before = logs_of(w.dir)
    local dest = w:path("sets/full")
    local code, out, err = H.lua_child(CHILD, { w.dir, dest, tostring(PAGE) }, "ESE_FAULT=enospc:100")
    assert.are.equal(0, code, err)
    local kind, name, detail = out:match("^(%u+) (%S+) (.-)\n")
    assert.are.equal("ERR", kind, out)
    assert.are.equal("JET_errDiskFull", name, out)
    assert.matches("full%.partial/", detail)
    assert.are.equal("absent", ese.fs.stat(w:path("sets/full.partial")).kind)
    assert.are.equal("absent", ese.fs.stat(w:path("sets/full")).kind)
    assert.are.same(before, logs_of(w.dir))
    -- and the same live folder still backs up without a fault
    code, out, err = H.lua_child(CHILD, { w.dir, dest, tostring(PAGE) })
    assert.are.equal(0, code, err)
    assert.are.equal("OK\n", out)
    assert.are.equal("full", backup.verify(dest).kind)
  end)

  it("ESE_FAULT=eio:K+ (every write and sync from the K-th fails): an error object, no set and no "
     .. ".partial left, for each K until the run gets through", function()
    make_live(w, 20)
    local probe = w:path("sets/probe")
    local errs, done = 0, false
    for k = 1, 60 do
      local d = probe .. k
      local _, o = H.lua_child(CHILD, { w.dir, d, tostring(1 << 20) }, "ESE_FAULT=eio:" .. k .. "+")
      assert.matches("^%u+%s", o)
      assert.is_nil(o:match("^LUA"), o)
      if o:match("^ERR") then
        errs = errs + 1
        assert.matches("^ERR JET_err%a+ ", o)
        assert.are.equal("absent", ese.fs.stat(w:path("sets/probe" .. k .. ".partial")).kind, o)
        if o:find("the complete set is kept in", 1, true) then
          -- the fault hit the truncation or End after it: the set stays, whole
          assert.are.equal("full", backup.verify(d).kind)
        else
          assert.are.equal("absent", ese.fs.stat(w:path("sets/probe" .. k)).kind, o)
        end
      elseif o:match("^OK") then
        assert.are.equal("full", backup.verify(d).kind)
        done = true
        break
      end
    end
    assert.is_true(errs > 0 and done, "no fault point hit the run, or none let it through")
  end)

  it("ese.fs: stat, list, mkdir_p, create/write/sync, sha256, remove_tree never follows a link", function()
    local fs = ese.fs
    local top = w:path("fs")
    assert.are.equal("absent", fs.stat(top).kind)
    local made = fs.mkdir_p(top .. "/a/b", 448)
    assert.are.same({ top, top .. "/a", top .. "/a/b" }, made)
    assert.are.same({}, fs.mkdir_p(top .. "/a/b"))
    assert.are.equal("folder", fs.stat(top .. "/a").kind)
    assert.are.equal(448, fs.stat(top .. "/a").mode)
    local wr = fs.create(top .. "/a/x")
    wr:write("ab"):write("c")
    wr:sync()
    assert.are.equal(3, wr:size())
    wr:close()
    wr:close()
    H.expect_jet("JET_errInvalidParameter", wr.write, wr, "more")
    H.expect_jet("JET_errFileAlreadyExists", fs.create, top .. "/a/x")
    assert.are.equal("file", fs.stat(top .. "/a/x").kind)
    assert.are.equal(3, fs.stat(top .. "/a/x").size)
    assert.are.equal(384, fs.stat(top .. "/a/x").mode)
    assert.are.equal("abc", fs.read(top .. "/a/x"))
    local abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert.are.equal(abc, fs.sha256_file(top .. "/a/x"))
    local h = fs.sha256()
    assert.are.equal(abc, h:update("a"):update("bc"):finish())
    H.expect_jet("JET_errInvalidParameter", h.update, h, "x")
    assert.are.same({ "b", "x" }, fs.list(top .. "/a"))
    H.expect_jet("JET_errFileNotFound", fs.list, top .. "/none")
    H.expect_jet("JET_errFileNotFound", fs.sha256_file, top .. "/none")
    H.expect_jet("JET_errInvalidPath", fs.mkdir_p, top .. "/a/x/y")
    -- a link inside the tree to a folder outside: the link goes, the outside stays
    local outside = w:path("outside")
    fs.mkdir(outside)
    fs.create(outside .. "/keep"):close()
    assert.is_true(os.execute(("ln -s %s %s && mkfifo %s"):format(H.q(outside), H.q(top .. "/a/b/l"),
      H.q(top .. "/a/fifo"))))
    assert.are.equal("link", fs.stat(top .. "/a/b/l").kind)
    H.expect_jet("JET_errInvalidPath", fs.read, top .. "/a/fifo")
    H.expect_jet("JET_errInvalidPath", fs.sha256_file, top .. "/a/b/l")
    fs.remove_tree(top)
    assert.are.equal("absent", fs.stat(top).kind)
    assert.are.equal("file", fs.stat(outside .. "/keep").kind)
    fs.remove_tree(top)                       -- absent: no error
    fs.rename(outside .. "/keep", outside .. "/kept")
    fs.chmod(outside .. "/kept", 256)
    assert.are.equal(256, fs.stat(outside .. "/kept").mode)
    fs.fsync(outside .. "/kept")
    fs.fsync_dir(outside)
    -- a folder that is not empty: JET_errInvalidPath saying so (it was JET_errDiskIO, a disk failure)
    local e = H.expect_jet("JET_errInvalidPath", fs.rmdir, outside)
    assert.matches("/outside: the folder is not empty$", e.detail)
    fs.remove(outside .. "/kept")
    fs.rmdir(outside)
    assert.are.equal("absent", fs.stat(outside).kind)
    local t0 = fs.clock()
    assert.is_true(fs.clock() >= t0 and t0 > 0)
    assert.is_boolean(fs.isatty(1))
  end)
end)
