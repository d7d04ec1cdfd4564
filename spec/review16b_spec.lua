-- Second hostile review of rollback16 (database format 4, the clean point),
-- after review16's fixes.  Spec only, no fix; every case fails on
-- rollback16 e9bde76.  First describe: a good file the clean point check
-- refuses (JET_errConsistentTimeMismatch, -551; passes on c8b6014).  The
-- others: an older copy put back that a restore still takes (the restore
-- succeeds with a mixed or corrupted database).  "the same with a commit in
-- instance B" (added with the fix of the first case) passes on e9bde76 too:
-- it holds what the fix must keep refusing.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

-- Instance A: full backup (returned), detach; instance B (another log
-- stream) attaches the file, puts key x001 when change, detaches; A
-- attaches it again, more commits, clean term.  Returns the full backup
-- and A's archive folder.
local function a_to_b_and_back(w, change)
  local arch = w:path("arch")
  local t, s, db, inst = w:table({ log_file_size = 64, archive_path = arch })
  local path = w:path("app.edb")
  H.put_range(t, "a", 20)
  local full = w:path("full")
  backup.run(inst, full)
  H.put_range(t, "b", 20)
  H.detach(t, s, db, path)
  local dir_b = w:path("B")
  assert(os.execute("mkdir -p " .. H.q(dir_b)))
  local ib = w:track(ese.create_instance(H.name(), H.params(dir_b, { log_file_size = 64 })))
  ib:init()
  local tb, sb, dbb = H.open_table(ib, w.dir)
  if change then tb:put("x001", "B's change") end   -- a commit A's log never sees
  H.detach(tb, sb, dbb, path)                          -- without it B reads only: the file does not change
  sb:end_session()
  ib:term({ complete = true })
  t = H.open_table(inst, w.dir)                    -- back to A
  H.put_range(t, "c", 20)
  inst:term({ complete = true })
  return full, arch
end

describe("review16b: the clean point refuses good files", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("a database detached from instance A, attached to instance B (another log stream) and detached there "
     .. "without a change, then attached to A again: A's full backup + archive + live logs restores "
     .. "(was -551 'its clean point was in another log stream')", function()
    local full, arch = a_to_b_and_back(w, false)
    ese.restore(full, w:path("r"), { archive_path = arch, live_log_path = w.dir })
    local keys = H.restored_keys(w, w:path("r"))
    for _, key in ipairs({ "a020", "b020", "c020" }) do assert.is_true(keys[key], key) end
  end)

  it("the same with a commit in instance B: A's restore refuses the file (B's change is not in A's log)", function()
    local full, arch = a_to_b_and_back(w, true)
    local ok, e = pcall(ese.restore, full, w:path("r"), { archive_path = arch, live_log_path = w.dir })
    assert.is_false(ok, "the restore succeeded")
    assert.equals(-551, e.code)
    assert.matches("its clean point was in another log stream", e.detail, 1, true)
  end)
end)

describe("review16b: an older copy the clean point lets through", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("a format 3 copy put back after a crash and a recovery (no LR_DETACH since the set): the restore of a "
     .. "set taken after the upgrade refuses the mix", function()
    local dir = H.copy_dir("spec/fixtures/v5/clean", w:path("v5"))
    local path = dir .. "/app.edb"
    assert.are.equal(3, ese.file_info(path).format_version)
    assert(os.execute("cp -p " .. H.q(path) .. " " .. H.q(w:path("old3.edb"))))   -- the safety copy
    local full = w:path("full")
    H.killed_child([[
      local ese = require "ese"
      local backup = require "ese.backup"
      local dir, full = arg[1], arg[2]
      local inst = ese.create_instance("up", { system_path = dir, log_path = dir, log_file_size = 64,
                                               page_size = 4096 })
      inst:init()
      local s = inst:begin_session()
      s:attach_database(dir .. "/app.edb")           -- the upgrade: format 4 from here
      local t = s:open_table(s:open_database(dir .. "/app.edb"), "t")
      for i = 1, 200 do t:put(("b%03d"):format(i), ("v"):rep(1500)) end   -- generations roll past the attach
      backup.run(inst, full)
      for i = 1, 40 do t:put(("c%03d"):format(i), "v") end
      kill_self()
      print("not killed")
    ]], { dir, full })
    local params = H.params(dir, { log_file_size = 64, page_size = 4096 })
    local inst = w:track(ese.create_instance(H.name(), params))
    inst:init()                                      -- recovery: app.edb clean, format 4
    inst:term({ complete = true })                   -- (not attached: no LR_DETACH)
    assert.are.equal(4, ese.file_info(path).format_version)
    assert(os.execute("cp -p " .. H.q(w:path("old3.edb")) .. " " .. H.q(path)))   -- the older copy back
    inst = w:track(ese.create_instance(H.name(), params))
    inst:init()
    local t = H.open_table(inst, dir)                -- its LR_ATTACH: clean point not known (0)
    assert.is_nil(t:get("b001"))
    H.put_range(t, "d", 40)
    inst:term({ complete = true })
    local ok, e = pcall(ese.restore, full, w:path("r"), { live_log_path = dir })
    if ok then                                       -- the restore took the mix
      local ri = w:track(ese.create_instance(H.name(), H.params(w:path("r"), { page_size = 4096 })))
      ri:init()
      local keys = {}
      local read_ok, read_e = pcall(function() for k in H.open_table(ri, w:path("r")):pairs() do keys[k] = true end end)
      error(("the restore succeeded; the restored database: %s"):format(read_ok and
        ("b001 %s, c040 %s, d040 %s (the live one has d, not b or c)"):format(tostring(keys.b001),
          tostring(keys.c040), tostring(keys.d040)) or tostring(read_e)))
    end
    assert.are.equal("JET_errConsistentTimeMismatch", e.name, tostring(e))
  end)
end)

describe("review16b: an older format 4 copy the clean point lets through", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("an older copy put back after a crash and a recovery, where the set's replay applies no commit of the "
     .. "database before the new run: the restore refuses the mix", function()
    local full = w:path("full")
    H.killed_child([[
      local ese = require "ese"
      local backup = require "ese.backup"
      local dir, full = arg[1], arg[2]
      local inst = ese.create_instance("pre", { system_path = dir, log_path = dir, log_file_size = 64 })
      inst:init()
      local s = inst:begin_session()
      local A = dir .. "/app.edb"
      local da = s:create_database(A)
      local ta = s:create_table(da, "t")
      local tb = s:create_table(s:create_database(dir .. "/two.edb"), "t")
      for i = 1, 20 do ta:put(("a%03d"):format(i), "v") end
      ta:close(); da:close(); s:detach_database(A)
      assert(os.execute("cp -p '" .. A .. "' '" .. dir .. "/old.edb'"))   -- the copy: clean at that detach
      s:attach_database(A)
      ta = s:open_table(s:open_database(A), "t")
      for i = 1, 20 do ta:put(("b%03d"):format(i), "v") end
      for i = 1, 200 do tb:put(("r%03d"):format(i), ("v"):rep(1500)) end   -- the other database rolls the log
      backup.run(inst, full)
      kill_self()
      print("not killed")
    ]], { w.dir, full })
    local inst = w:open(nil, { log_file_size = 64 })  -- recovery: app.edb made clean
    inst:term({ complete = true })                   -- (not attached: no LR_DETACH)
    assert(os.execute("cp -p " .. H.q(w:path("old.edb")) .. " " .. H.q(w:path("app.edb"))))   -- the older copy
    inst = w:open(nil, { log_file_size = 64 })
    local t = H.open_table(inst, w.dir)
    assert.is_nil(t:get("b001"))
    H.put_range(t, "d", 40)
    inst:term({ complete = true })
    local ok, e = pcall(ese.restore, full, w:path("r"), { live_log_path = w.dir })
    if ok then                                       -- the restore took the mix
      local keys = {}
      local read_ok, read_e = pcall(function() keys = H.restored_keys(w, w:path("r")) end)
      error(("the restore succeeded; the restored database: %s"):format(read_ok and
        ("b001 %s, d040 %s (the live one has d, not b)"):format(tostring(keys.b001), tostring(keys.d040))
        or tostring(read_e)))
    end
    assert.are.equal("JET_errConsistentTimeMismatch", e.name, tostring(e))
  end)
end)
