-- Term closes every file of its instance at once, whatever Lua objects
-- still point into it (a session, a database, a table cursor in the middle
-- of a pairs loop, a backup reader in an abandoned coroutine): when term
-- returns, no descriptor of the process points into the instance's folder,
-- its log-folder lock and database locks are free, a new instance (in this
-- process or another) takes the folder with no retry, the old objects raise
-- error objects, and their __gc (run later) touches nothing of the new one.
local ese = require "ese"
local H = require "support.helpers"

-- This process's id (/proc/self is the reader of the file: this process).
local function my_pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("n")
  f:close()
  return pid
end

local function canonical(path)
  local p = assert(io.popen("readlink -f " .. H.q(path)))
  local s = p:read("l")
  p:close()
  return s
end

-- The descriptors of this process that point into dir: { "fd -> target" }.
local function fds_into(dir)
  local root = canonical(dir) .. "/"
  local p = assert(io.popen(("cd /proc/%d/fd && for d in *; do echo \"$d $(readlink $d)\"; done 2>/dev/null")
    :format(my_pid())))
  local found = {}
  for line in p:lines() do
    local target = line:match("^%d+ (.*)$")
    if target and target:sub(1, #root) == root then found[#found + 1] = line end
  end
  p:close()
  return found
end

-- A child lua5.4 that inits an instance on dir and reads "k" of dir/app.edb.
local CHILD = [[
local ese = require "ese"
local dir = ...
local inst = ese.create_instance("child", { system_path = dir, log_path = dir, log_file_size = 64 })
local ok, e = pcall(inst.init, inst)
if not ok then print("ERR " .. tostring(e.name or e)) return end
local s = inst:begin_session()
s:attach_database(dir .. "/app.edb")
local db = s:open_database(dir .. "/app.edb")
print("GOT " .. tostring(s:open_table(db, "t"):get("k")))
inst:term({ complete = true })
]]

-- Everything of one instance kept alive in a table: session, database,
-- table, a coroutine stopped inside t:pairs(), and (with a backup) a
-- reader opened in a coroutine that is never resumed.
local function busy_instance(w, with_backup)
  local inst = w:open(nil, { log_file_size = 64 })
  local s = inst:begin_session()
  local db = s:create_database(w:path("app.edb"))
  local t = s:create_table(db, "t")
  H.fill(t, 20, "f")
  t:put("k", "v")
  local walker = coroutine.create(function()
    for key in t:pairs() do coroutine.yield(key) end
  end)
  assert(coroutine.resume(walker))
  local keep = { inst = inst, s = s, db = db, t = t, walker = walker }
  if with_backup then
    inst:begin_external_backup()
    keep.reading = coroutine.create(function()
      local r = inst:open_file(w:path("app.edb"))
      keep.r = r
      r:read(8192)
      coroutine.yield()
      return r:read(8192)
    end)
    assert(coroutine.resume(keep.reading))
    assert.is_true(keep.r:is_open())
  end
  return keep
end

-- The old objects after term: every use raises an error object.
local function old_objects_refuse(keep)
  H.expect_jet("JET_errInvalidInstance", keep.inst.init, keep.inst)
  H.expect_jet("JET_errInvalidSesid", keep.s.begin_transaction, keep.s)
  H.expect_jet("JET_errDatabaseNotFound", keep.db.close, keep.db)
  H.expect_jet("JET_errInvalidTableId", keep.t.get, keep.t, "k")
  local ok, e = coroutine.resume(keep.walker)
  assert.is_false(ok)
  assert.are.equal("JET_errInvalidTableId", e.name)
  if keep.reading then
    H.expect_jet("JET_errNoBackup", keep.r.read, keep.r, 8192)
    ok, e = coroutine.resume(keep.reading)
    assert.is_false(ok)
    assert.are.equal("JET_errNoBackup", e.name)
  end
end

local TERMS = {
  { "term()", nil, true },
  { "term{ stop_backup = true }", { stop_backup = true }, true },
  { "term{ complete = true, stop_backup = true }", { complete = true, stop_backup = true }, true },
  { "term{ complete = true } (no backup)", { complete = true }, false },
  { "term() (no backup)", nil, false },
}

describe("term closes every file of its instance", function()
  local w

  before_each(function()
    w = H.world()
    collectgarbage("stop")
  end)
  after_each(function()
    collectgarbage("restart")
    w:cleanup()
  end)

  for _, case in ipairs(TERMS) do
    local label, opts, with_backup = case[1], case[2], case[3]

    it(label .. " with live objects: no descriptor left, a new instance takes the folder at once", function()
      local keep = busy_instance(w, with_backup)
      assert.is_true(#fds_into(w.dir) >= 3)   -- lock, log, database (the check sees them)
      keep.inst:term(opts)
      assert.are.same({}, fds_into(w.dir))

      -- the same process, the same folder, the same database: no retry
      local t2, s2, _, inst2 = w:reopen({ log_file_size = 64 })
      assert.are.equal("v", t2:get("k"))

      old_objects_refuse(keep)

      -- their finalizers run now: harmless to the new instance
      collectgarbage("restart")
      keep = nil   -- luacheck: ignore 311
      collectgarbage()
      collectgarbage()
      t2:put("k2", "v2")
      assert.are.equal("v2", t2:get("k2"))
      -- the new instance still holds the folder against another process
      local code, out, err = H.lua_child(CHILD, { w.dir })
      assert.are.equal(0, code, err)
      assert.matches("ERR JET_errFileAccessDenied", out, 1, true)
      t2:close()
      s2:end_session()
      inst2:term({ complete = true })
      assert.are.same({}, fds_into(w.dir))
    end)
  end

  it("another process takes the folder right after term returns (objects still alive)", function()
    local keep = busy_instance(w, true)
    keep.inst:term()
    local code, out, err = H.lua_child(CHILD, { w.dir })
    assert.are.equal(0, code, err)
    assert.matches("GOT v", out, 1, true)
    old_objects_refuse(keep)
  end)

  it("the legacy instance: ese.term() closes every file, ese.init on the folder works again", function()
    local g = w:legacy({ log_file_size = 64 })
    local s = g:begin_session()
    local db = s:create_database(w:path("app.edb"))
    local t = s:create_table(db, "t")
    t:put("k", "v")
    ese.begin_external_backup()
    local reading = coroutine.create(function()
      local r = ese.open_file(w:path("app.edb"))
      r:read(8192)
      coroutine.yield(r)
      return r:read(8192)
    end)
    local _, r = assert(coroutine.resume(reading))
    ese.term()
    assert.are.same({}, fds_into(w.dir))
    local g2 = w:legacy({ log_file_size = 64 })
    local t2 = H.open_table(g2, w.dir)
    assert.are.equal("v", t2:get("k"))
    H.expect_jet("JET_errNoBackup", r.read, r, 8192)
    H.expect_jet("JET_errInvalidTableId", t.get, t, "k")
    H.expect_jet("JET_errInvalidSesid", s.begin_transaction, s)
    collectgarbage("restart")
    r, reading, t, s, db = nil, nil, nil, nil, nil   -- luacheck: ignore 311
    collectgarbage()
    assert.are.equal("v", t2:get("k"))
    ese.term()
    assert.are.same({}, fds_into(w.dir))
  end)
end)
