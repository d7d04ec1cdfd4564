-- Shared helpers of the busted specs: temporary folders, instances that are
-- always terminated (the process-wide mode resets only when the last
-- instance terminates), and error-object expectations.
local ese = require "ese"
local luassert = require "luassert"

local H = {}

-- A fresh empty folder under /tmp.
function H.tmpdir()
  local p = os.tmpname()
  os.remove(p)
  assert(os.execute("mkdir -p '" .. p .. "'"), "mkdir " .. p)
  return p
end

function H.rmdir(p)
  if p and p:match("^/tmp/.") then os.execute("rm -rf '" .. p .. "'") end
end

local counter = 0
-- An instance name no other spec uses.
function H.name(prefix)
  counter = counter + 1
  return ("%s-%d-%d"):format(prefix or "spec", counter, os.time())
end

-- Instance parameters on dir (logs and checkpoint in it); extra overrides.
function H.params(dir, extra)
  local p = { system_path = dir, log_path = dir, log_file_size = 256 }
  for k, v in pairs(extra or {}) do p[k] = v end
  return p
end

-- The error value of f(...); fails the test when f succeeds.
function H.catch(f, ...)
  local ok, e = pcall(f, ...)
  luassert.is_false(ok, "expected an error, the call succeeded")
  return e
end

-- The error object of f(...); asserts it is an ese.Error called name.
function H.expect_jet(name, f, ...)
  local e = H.catch(f, ...)
  luassert.are.equal(ese.Error, getmetatable(e),
    "expected an ese.Error " .. name .. ", got " .. tostring(e))
  luassert.are.equal(name, e.name, "got " .. tostring(e))
  luassert.are.equal(ese.errors[name], e.code)
  return e
end

-- An ordinary (string) argument error of f(...) matching pattern.
function H.expect_argerror(pattern, f, ...)
  local e = H.catch(f, ...)
  luassert.are.equal("string", type(e), "expected an argument error, got " .. tostring(e))
  luassert.matches(pattern, e)
  return e
end

-- A world: a temp folder plus every instance made in it; cleanup() ends
-- them all (named and legacy) and removes the folder.  The instances are
-- held weakly, so the garbage-collection specs can drop them.
local World = {}
World.__index = World
local weak = { __mode = "v" }

function H.world()
  return setmetatable({ dir = H.tmpdir(), instances = setmetatable({}, weak), n = 0 }, World)
end

function World:track(inst)
  self.n = self.n + 1
  self.instances[self.n] = inst
  return inst
end

function World:path(name)
  return self.dir .. "/" .. name
end

-- A created (not initialized) instance; name and params optional.
function World:create(name, extra)
  return self:track(ese.create_instance(name or H.name(), H.params(self.dir, extra)))
end

-- A created and initialized instance.
function World:open(name, extra)
  local inst = self:create(name, extra)
  inst:init()
  return inst
end

-- The legacy global instance on this folder.
function World:legacy(extra)
  return self:track(ese.init(H.params(self.dir, extra)))
end

-- instance, session, database (created at dir/app.edb) and table "t".
function World:table(extra)
  local inst = self:open(nil, extra)
  local s = inst:begin_session()
  local db = s:create_database(self:path("app.edb"))
  local t = s:create_table(db, "t")
  return t, s, db, inst
end

-- Reopens table "t" of dir/<file> (default app.edb, as World:table makes
-- it) on a new instance of this folder: attach_database + open_database.
function World:reopen(extra, file)
  local inst = self:open(nil, extra)
  local s = inst:begin_session()
  local path = self:path(file or "app.edb")
  s:attach_database(path)
  local db = s:open_database(path)
  local t = s:open_table(db, "t")
  return t, s, db, inst
end

function World:cleanup()
  for i = self.n, 1, -1 do
    local inst = self.instances[i]
    if inst and inst:is_open() then pcall(inst.term, inst) end
  end
  self.instances, self.n = setmetatable({}, weak), 0
  pcall(ese.term)
  collectgarbage()
  H.rmdir(self.dir)
end

-- Every key/value pair of t:pairs(from, to), as two arrays.
function H.collect(t, from, to)
  local ks, vs = {}, {}
  for k, v in t:pairs(from, to) do
    ks[#ks + 1] = k
    vs[#vs + 1] = v
  end
  return ks, vs
end

return H
