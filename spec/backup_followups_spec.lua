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

