-- Files that are not regular files (a FIFO, a socket, a folder) where the
-- engine expects a database, a log or a checkpoint: every call refuses
-- them with JET_errInvalidPath, never blocks on them.  Opening a FIFO for
-- reading blocks until a writer comes, so each case runs in a child
-- process under `timeout 60`: if the refusal ever goes away the test fails
-- (exit 124) instead of hanging the suite (a bound for a block that would
-- last for ever, not a measure: a child's start under make check on a
-- loaded machine takes seconds).
local H = require "support.helpers"
local backup = require "ese.backup"

local TIMEOUT = "timeout 60"

local function mkfifo(path)
  assert(os.execute("rm -rf " .. H.q(path) .. " && mkfifo " .. H.q(path)), "mkfifo " .. path)
end

-- Runs source in a bounded child.  The child prints "ERR <name>" for an
-- ese.Error, "OK" when the call succeeds.
local CHILD_HEAD = [[
local ese = require "ese"
local dir, target = ...
local function report(ok, e)
  if ok then print("OK") else print("ERR " .. (type(e) == "table" and e.name or tostring(e))) end
end
]]

local function child(body, args)
  local code, out, err = H.lua_child(CHILD_HEAD .. body, args, TIMEOUT)
  assert.are_not.equal(124, code, "the call blocked (timeout):\n" .. out .. err)
  assert.are.equal(0, code, out .. err)
  return out
end

local function expect_refused(body, args)
  local out = child(body, args)
  assert.matches("ERR JET_errInvalidPath", out, 1, true)
end

local function ese_cmd(args)
  local code, out, err = H.lua_run("bin/ese", args, TIMEOUT)
  assert.are_not.equal(124, code, "ese " .. table.concat(args, " ") .. " blocked:\n" .. out .. err)
  return code, out, err
end

describe("files that are not regular files", function()
  local w

  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("ese.file_info on a FIFO, a socket and a folder: JET_errInvalidPath", function()
    mkfifo(w:path("pipe"))
    expect_refused([[report(pcall(ese.file_info, target))]], { w.dir, w:path("pipe") })
    expect_refused([[report(pcall(ese.file_info, target, true))]], { w.dir, w:path("pipe") })
    -- a Unix socket (bound, so that it exists): open() says ENXIO
    local sock = w:path("sock")
    assert(os.execute("python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "
      .. H.q(sock)))
    expect_refused([[report(pcall(ese.file_info, target))]], { w.dir, sock })
    assert(os.execute("mkdir -p " .. H.q(w:path("folder"))))
    expect_refused([[report(pcall(ese.file_info, target))]], { w.dir, w:path("folder") })
  end)

  it("bin/ese check FIFO fails with the error name, exit status 1", function()
    mkfifo(w:path("pipe.edb"))
    local code, _, err = ese_cmd({ "check", w:path("pipe.edb") })
    assert.are.equal(1, code)
    assert.matches("JET_errInvalidPath", err, 1, true)
  end)

  describe("a backup set with a FIFO in place of one of its files", function()
    local set

    before_each(function()
      local t, s, _, inst = w:table({ log_file_size = 64 })
      H.fill(t, 50, "k", 500)
      set = w:path("set")
      backup.run(inst, set)
      t:close()
      s:end_session()
      inst:term({ complete = true })
    end)

    local function a_log(dir)
      for name in pairs(H.ls(dir)) do
        if name:match("^edb%x+%.log$") then return name end
      end
      error("no log in " .. dir)
    end

    -- `ese check SET` with a FIFO as name (in the set): exit status 1, the
    -- error (pattern) on stderr
    local function check_refuses(name, pattern)
      mkfifo(set .. "/" .. name)
      local code, out, err = ese_cmd({ "check", set })
      assert.are.equal(1, code, out .. err)
      assert.matches(pattern, err, 1, true)
    end

    it("bin/ese check SETDIR: a log of the set is a FIFO", function()
      check_refuses(a_log(set), "JET_errInvalidPath")
    end)

    it("bin/ese check SETDIR: the database of the set is a FIFO", function()
      check_refuses("app.edb", "JET_errInvalidPath")
    end)

    it("bin/ese check SETDIR: an extra FIFO named like a log, not in the manifest", function()
      check_refuses("edb0000ABCD.log", "edb0000ABCD.log")
    end)

    it("ese.restore of the set: a log is a FIFO: JET_errInvalidPath, dest untouched", function()
      mkfifo(set .. "/" .. a_log(set))
      local dest = w:path("dest")
      expect_refused([[report(pcall(ese.restore, target, dir))]], { dest, set })
      assert.is_false(H.exists(dest .. "/app.edb"))
      assert.is_false(H.exists(dest .. "/edb.log"))
    end)

    it("ese.restore of the set: the database is a FIFO: JET_errInvalidPath", function()
      mkfifo(set .. "/app.edb")
      expect_refused([[report(pcall(ese.restore, target, dir))]], { w:path("dest"), set })
    end)
  end)

  it("attach_database of a FIFO: JET_errInvalidPath, the instance goes on", function()
    mkfifo(w:path("pipe.edb"))
    local out = child([[
      local inst = ese.create_instance("fifo", { system_path = dir, log_path = dir })
      inst:init()
      local s = inst:begin_session()
      report(pcall(s.attach_database, s, target))
      local db = s:create_database(dir .. "/real.edb")
      local t = s:create_table(db, "t")
      t:put("k", "v")
      print("GOT " .. t:get("k"))
      inst:term()
    ]], { w.dir, w:path("pipe.edb") })
    assert.matches("ERR JET_errInvalidPath", out, 1, true)
    assert.matches("GOT v", out, 1, true)
  end)

  for _, name in ipairs({ "edb.chk", "edb.log", "edb.lck", "edb00000001.log" }) do
    it("init with a FIFO where " .. name .. " would be: JET_errInvalidPath", function()
      mkfifo(w:path(name))
      expect_refused([[
        local inst = ese.create_instance("fifo", { system_path = dir, log_path = dir })
        report(pcall(inst.init, inst))
      ]], { w.dir })
    end)
  end
end)
