-- Hostile review of rollback16 (database format 4, the clean point):
-- good databases and good backup sets the clean point check refuses
-- (JET_errConsistentTimeMismatch, -551): each case of the first describe
-- fails on rollback16 at 1e56aa1, and the same steps succeed on c8b6014
-- (format 3).  The second describe: an older copy put back that the clean
-- point does not catch (the restore succeeds with a mixed database, as on
-- c8b6014).
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"
local fs = ese.fs

describe("review16: the clean point refuses good files", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- A child attaches app.edb of dir; with ESE_FAULT=crash:K it dies at
  -- event K, with eio:K the event fails (then the child terms cleanly).
  local attach_child = [[
    local ese = require "ese"
    local dir = arg[1]
    local inst = ese.create_instance("child", { system_path = dir, log_path = dir, log_file_size = 64 })
    inst:init()
    local s = inst:begin_session()
    local ok, e = pcall(s.attach_database, s, dir .. "/app.edb")
    print("ATTACH", ok, ok or e.name)
    s:end_session()
    inst:term({ complete = true })
  ]]

  for _, how in ipairs({ "crash", "eio" }) do
    it(("an attach whose dirty header write never happened (%s at that write, after its LR_ATTACH is durable), "
        .. "a new run that attaches the file: full + incremental restore (was -551)"):format(how), function()
      local t, s, db, inst = w:table({ log_file_size = 64 })
      local path = w:path("app.edb")
      H.put_range(t, "a", 40)
      local full = w:path("full")
      backup.run(inst, full)
      H.put_range(t, "b", 40)
      H.detach(t, s, db, path)
      inst:term({ complete = true })
      -- which event is the header's first write: the same child on a copy of the folder, traced
      local copy = H.copy_dir(w.dir, w.dir .. "-trace")
      local trace = w:path("trace")
      local code, out, err = H.lua_child(attach_child, { copy }, "ESE_FAULT_TRACE=" .. H.q(trace))
      assert.are.equal(0, code, out .. err)
      H.rmdir(copy)
      local k
      for line in assert(H.read_file(trace)):gmatch("[^\n]+") do
        k = k or line:match("^(%d+) write %d+ %d+ app%.edb$")
      end
      assert.truthy(k, "the attach writes the header")
      code, out, err = H.lua_child(attach_child, { w.dir }, ("ESE_FAULT=%s:%s"):format(how, k))
      if how == "crash" then
        assert.are_not.equal(0, code, out .. err)           -- killed at the header write
      else
        assert.matches("ATTACH\tfalse\tJET_errDiskIO", out)  -- the attach failed, its LR_ATTACH is logged
      end
      assert.are.equal("clean", ese.file_info(path).state)   -- the header as detach left it
      inst = w:open(nil, { log_file_size = 64 })             -- (recovery replays the LR_ATTACH)
      t = H.open_table(inst, w.dir)
      H.put_range(t, "c", 40)
      local inc = w:path("inc")
      backup.run(inst, inc, { incremental = true })
      backup.restore({ full, inc }, w:path("r"))
      local keys = H.restored_keys(w, w:path("r"))
      for _, key in ipairs({ "a040", "b040", "c040" }) do assert.is_true(keys[key], key) end
    end)
  end

  it("an attach whose header write failed (eio, its LR_ATTACH durable), a clean term, a new run that attaches "
     .. "the file: a NEW full backup taken then restores (was -551)", function()
    local t, s, db, inst = w:table({ log_file_size = 1024 })   -- the default size: one generation for it all
    local path = w:path("app.edb")
    H.put_range(t, "a", 40)
    H.detach(t, s, db, path)
    inst:term({ complete = true })
    local copy = H.copy_dir(w.dir, w.dir .. "-trace")
    local trace = w:path("trace")
    local code, out, err = H.lua_child(attach_child, { copy }, "ESE_FAULT_TRACE=" .. H.q(trace))
    assert.are.equal(0, code, out .. err)
    H.rmdir(copy)
    local k
    for line in assert(H.read_file(trace)):gmatch("[^\n]+") do
      k = k or line:match("^(%d+) write %d+ %d+ app%.edb$")
    end
    out, err = select(2, H.lua_child(attach_child, { w.dir }, "ESE_FAULT=eio:" .. k))
    assert.matches("ATTACH\tfalse\tJET_errDiskIO", out, 1, false, err)
    inst = w:open(nil, { log_file_size = 1024 })
    t = H.open_table(inst, w.dir)
    H.put_range(t, "c", 40)
    local full = w:path("full-new")
    backup.run(inst, full)
    inst:term({ complete = true })
    backup.restore(full, w:path("r"))
    local keys = H.restored_keys(w, w:path("r"))
    assert.is_true(keys.a040 and keys.c040)
  end)

  it("a restore to a point in time that stops at a commit whose group began in the generation before: "
     .. "the restored database attaches on the restored folder (was -551 'which the log has not reached')", function()
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
    for _, name in ipairs(fs.list(w.dir)) do
      if name:match("^edb%x%x%x%x%x%x%x%x%.log$") then
        H.write_file(archive .. "/" .. name, H.read_file(w:path(name)))
      end
    end
    local dest = w:path("dest")
    local r = ese.restore(set, dest, { archive_path = archive, to_time = mark })
    assert.is_true(r.stopped_at_time)
    local keys = H.restored_keys(w, dest)       -- init + attach on the restored folder
    assert.is_true(keys.b020)
    assert.is_nil(keys.c001)
  end)

  it("a set restored into the live folder (overwrite): another database of the folder, detached cleanly "
     .. "after the set, still attaches (was -551 until the log reaches its old clean point)", function()
    local t, s, _, inst = w:table({ log_file_size = 64 })
    H.put_range(t, "a", 20)
    local set = w:path("set")
    backup.run(inst, set)                          -- app.edb only
    local other = w:path("other.edb")
    local t2 = s:create_table(s:create_database(other), "t")
    H.roll(t2, w.dir, 3, "o")
    s:end_session()
    inst:term({ complete = true })
    ese.restore(set, w.dir, { overwrite = true })  -- app.edb back to the set; the stream cut back
    inst = w:open(nil, { log_file_size = 64 })
    local s2 = inst:begin_session()
    s2:attach_database(w:path("app.edb"))
    s2:attach_database(other)
    local t3 = s2:open_table(s2:open_database(other), "t")
    assert.truthy(t3:get("o0000001"))
  end)

  it("guide.md's remedy: a full backup taken right after an older copy was put back and attached restores "
     .. "(was -551: its first generation holds that attach, compared though the copy holds it already)", function()
    local t, s, db, inst = w:table({ log_file_size = 64 })
    local path = w:path("app.edb")
    H.put_range(t, "a", 20)
    H.detach(t, s, db, path)
    assert(os.execute("cp -p " .. H.q(path) .. " " .. H.q(w:path("old.edb"))))
    t, s, db = H.open_table(inst, w.dir)
    H.put_range(t, "b", 20)
    H.detach(t, s, db, path)
    assert(os.execute("cp -p " .. H.q(w:path("old.edb")) .. " " .. H.q(path)))   -- the mistake
    t = H.open_table(inst, w.dir)
    local full = w:path("full")
    backup.run(inst, full)                           -- "take a full backup at once"
    H.put_range(t, "c", 20)
    inst:term({ complete = true })
    backup.restore(full, w:path("r"))
    local keys = H.restored_keys(w, w:path("r"))
    assert.is_true(keys.a020)
    assert.is_nil(keys.b001)                         -- the live database as it is since the mistake
  end)

end)

describe("review16: an older copy the clean point lets through", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("a format 3 copy (made before the upgrade: no clean point) put back after a detach that logged one: "
     .. "the restore refuses the mix (was: success, the restored database lacks the live one's last commits "
     .. "and holds commits the live one lacks)", function()
    local dir = H.copy_dir("spec/fixtures/v5/clean", w:path("v5"))
    local path = dir .. "/app.edb"
    assert.are.equal(3, ese.file_info(path).format_version)
    assert(os.execute("cp -p " .. H.q(path) .. " " .. H.q(w:path("old3.edb"))))   -- the safety copy
    local params = H.params(dir, { log_file_size = 64, page_size = 4096 })
    local inst = w:track(ese.create_instance(H.name(), params))
    inst:init()
    local t, s, db = H.open_table(inst, dir)
    H.put_range(t, "b", 40)
    local full = w:path("full")
    backup.run(inst, full)
    H.put_range(t, "c", 40)
    H.detach(t, s, db, path)                           -- an LR_DETACH with a clean point
    assert(os.execute("cp -p " .. H.q(w:path("old3.edb")) .. " " .. H.q(path)))   -- the older copy back
    t = H.open_table(inst, dir)                      -- its LR_ATTACH: clean point not known (0)
    H.put_range(t, "d", 40)
    assert.is_nil(t:get("b001"))
    inst:term({ complete = true })
    local e = H.expect_jet("JET_errConsistentTimeMismatch", ese.restore, full, w:path("r"), { live_log_path = dir })
    assert.matches("app.edb", e.detail, 1, true)
  end)
end)
