-- Databases whose attachment changes between a full backup and later
-- incrementals (session 17).  ESE's rules (its source, microsoft/
-- Extensible-Storage-Engine):
-- - an incremental needs a full record in every attached database's header
--   (backup.cxx, ErrLGCheckIncrementalBackup: JET_errMissingFullBackup),
--   and the logs on disk must reach each one's last backup
--   (ErrBKICheckLogsForIncrementalBackup: JET_errMissingFileToBackup);
-- - a hard restore replays the databases of its restore map, the set's;
--   a database the logs create or attach that is not in it is skipped
--   (logredo.cxx, ErrLGRISetupFMPFromAttach; lrtypCreateDB: "we replay
--   create dbs only on soft recovery").
-- lua-ese follows both; where ESE skips in silence, the restore's result
-- (not_restored) and `ese restore` name the database.  Before: the
-- restore left it out and said nothing.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

-- { name = true } of the files in dir
local names = H.ls

describe("a database created or attached after the full backup", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- full of app.edb; then two.edb created, filled and detached; more
  -- commits to app.edb; an incremental.  Returns the sets and the instance.
  local function created_after_full(opts)
    local t, s, _, inst = w:table({ log_file_size = 64 })
    H.put_range(t, "a", 20)
    local full = w:path("full")
    backup.run(inst, full, opts)
    local db2 = s:create_database(w:path("two.edb"))
    local t2 = s:create_table(db2, "t")
    H.put_range(t2, "x", 20)
    H.detach(t2, s, db2, w:path("two.edb"))
    H.put_range(t, "b", 20)
    local inc = w:path("inc")
    backup.run(inst, inc, { incremental = true, compress = opts and opts.compress })
    return full, inc, inst, t
  end

  it("is refused by an incremental while it is attached (JET_errMissingFullBackup, as ESE), nothing written",
    function()
      local t, s, _, inst = w:table({ log_file_size = 64 })
      H.put_range(t, "a", 5)
      backup.run(inst, w:path("full"))
      local db2 = s:create_database(w:path("two.edb"))
      s:create_table(db2, "t")
      local e = H.expect_jet("JET_errMissingFullBackup", backup.run, inst, w:path("inc"), { incremental = true })
      assert.matches("two.edb has no full backup", e.detail, 1, true)
      assert.is_false(H.exists(w:path("inc")))
      assert.is_false(H.exists(w:path("inc.partial")))
    end)

  it("created, then detached before the incremental: the restore skips it as ESE does and names it in "
    .. "not_restored; the set's database holds every commit", function()
    local full, inc = created_after_full()
    local r = ese.restore({ full, inc }, w:path("r"))
    -- before: no not_restored, the database left out without a word
    assert.is_table(r.not_restored)
    assert.are.equal(1, #r.not_restored)
    local n = r.not_restored[1]
    assert.are.equal("two.edb", n.name)
    assert.are.equal(w:path("two.edb"), n.path)
    assert.are.equal("created", n.how)
    assert.is_true(n.generation >= 1 and n.generation <= r.last_generation)
    assert.is_true(names(w:path("r"))["app.edb"])
    assert.is_nil(names(w:path("r"))["two.edb"])   -- not made from the log
    local keys = H.restored_keys(w, w:path("r"))
    assert.are.equal(20, H.count_prefix(keys, "a"))
    assert.are.equal(20, H.count_prefix(keys, "b"))
    -- backup.restore (verify, then restore) reports the same
    local rep = backup.restore({ full, inc }, w:path("r2"))
    assert.are.equal(1, #rep.not_restored)
    assert.are.equal("created", rep.not_restored[1].how)
    -- and so does backup.verify of the chain, before any restore
    for _, v in ipairs({ backup.verify({ full, inc }), rep.verify }) do
      assert.are.same({ { path = n.path, name = "two.edb", how = "created", generation = n.generation } },
        v.not_restored)
    end
    assert.is_nil(backup.verify(full).not_restored)   -- the full alone: its logs end before the create
  end)

  it("created then detached, compressed sets (zstd): backup.verify and the restore name it alike", function()
    local full, inc = created_after_full({ compress = "zstd" })
    local zst = 0
    for n in pairs(names(inc)) do if n:match("%.log%.zst$") then zst = zst + 1 end end
    assert.is_true(zst > 0)
    local v = backup.verify({ full, inc })
    assert.are.equal(1, #v.not_restored)
    assert.are.same(v.not_restored, ese.restore({ full, inc }, w:path("r")).not_restored)
  end)

  it("created then detached: `ese restore` prints it as NOT restored (text and --json)", function()
    local full, inc, inst = created_after_full()
    inst:term({ complete = true })
    local code, out, err = H.lua_run("bin/ese", { "restore", full, inc, w:path("r") })
    assert.are.equal(0, code, err)
    assert.matches("NOT restored: " .. w:path("two.edb"):gsub("%p", "%%%0") .. ", created at generation %d+", out)
    code, out, err = H.lua_run("bin/ese", { "restore", "--json", full, inc, w:path("r2") })
    assert.are.equal(0, code, err)
    assert.matches('"not_restored":%[{', out)
    assert.matches('"how":"created"', out, 1, true)
    -- `ese check` of the chain says it before a restore
    code, out, err = H.lua_run("bin/ese", { "check", full, inc })
    assert.are.equal(0, code, err)
    assert.matches("a restore of it will NOT restore: " .. w:path("two.edb"):gsub("%p", "%%%0")
      .. ", created at generation %d+", out)
  end)

  it("a restore killed (SIGKILL) in its steps, run again with overwrite: the same report, no file of it",
    function()
      local full, inc, inst = created_after_full()
      inst:term({ complete = true })
      local dest = w:path("r")
      local want = ese.restore({ full, inc }, w:path("r0")).not_restored
      for _, at in ipairs({ 2, 4, 6 }) do
        H.killed_child([[
          local ese = require "ese"
          local n = 0
          ese.restore({ arg[1], arg[2] }, arg[3], { overwrite = true, on_progress = function()
            n = n + 1
            if n == tonumber(arg[4]) then kill_self() end
          end })
          print("not killed")
        ]], { full, inc, dest, tostring(at) })
        assert.is_nil(names(dest)["two.edb"])
      end
      local r = ese.restore({ full, inc }, dest, { overwrite = true })
      assert.are.same(want, r.not_restored)
      assert.is_nil(names(dest)["two.edb"])
      assert.are.equal(20, H.count_keys(w, dest, "b"))
    end)

  it("a restore stopped (to_generation) before the create names nothing", function()
    local full, inc = created_after_full()
    local v = backup.verify({ full, inc })
    local created = ese.restore({ full, inc }, w:path("r2")).not_restored[1].generation
    assert.is_true(created > v.gen_low)   -- after the full's logs
    local r = ese.restore({ full, inc }, w:path("r"), { to_generation = created - 1 })
    assert.are.equal(created - 1, r.last_generation)
    assert.is_nil(r.not_restored)
    assert.is_nil(names(w:path("r"))["two.edb"])
    -- stopped in the create's generation: named
    r = ese.restore({ full, inc }, w:path("r3"), { to_generation = created })
    assert.are.equal("two.edb", r.not_restored[1].name)
  end)

  it("attached from elsewhere, then detached before the incremental: named with how = 'attached'", function()
    -- a database made by another instance (its own folder), never backed up here
    local other = w:path("other")
    assert(os.execute("mkdir " .. H.q(other)))
    local ot, os_, odb, oinst = w:table_at(other, "ext.edb")
    H.put_range(ot, "o", 5)
    backup.run(oinst, w:path("ofull"))    -- a full record of the other instance's log stream
    H.detach(ot, os_, odb, other .. "/ext.edb")
    oinst:term({ complete = true })
    local t, s, _, inst = w:table({ log_file_size = 64 })
    H.put_range(t, "a", 10)
    local full = w:path("full")
    backup.run(inst, full)
    s:attach_database(other .. "/ext.edb")
    local db2 = s:open_database(other .. "/ext.edb")
    local t2 = s:open_table(db2, "t")
    H.put_range(t2, "y", 5)
    -- the other stream's full record means nothing here (ESE, db.cxx DBISetHeaderAfterAttach: cleared when
    -- the log signature differs): an incremental while it is attached is refused
    local e = H.expect_jet("JET_errMissingFullBackup", backup.run, inst, w:path("inc0"), { incremental = true })
    assert.matches("ext.edb has no full backup", e.detail, 1, true)
    H.detach(t2, s, db2, other .. "/ext.edb")
    H.put_range(t, "b", 10)
    local inc = w:path("inc")
    backup.run(inst, inc, { incremental = true })
    local r = ese.restore({ full, inc }, w:path("r"))
    assert.are.equal(1, #r.not_restored)
    assert.are.equal("ext.edb", r.not_restored[1].name)
    assert.are.equal("attached", r.not_restored[1].how)
    assert.are.same(r.not_restored, backup.verify({ full, inc }).not_restored)
    local keys = H.restored_keys(w, w:path("r"))
    assert.are.equal(10, H.count_prefix(keys, "b"))
  end)

  it("the set's own database detached and created anew under its name: the new one is named, the set's "
    .. "restored as its detach left it", function()
    local t, s, db, inst = w:table({ log_file_size = 64 })
    local path = w:path("app.edb")
    H.put_range(t, "a", 10)
    local full = w:path("full")
    backup.run(inst, full)
    H.put_range(t, "b", 10)
    H.detach(t, s, db, path)
    assert(os.remove(path))
    local db2 = s:create_database(path)
    local t2 = s:create_table(db2, "t")
    H.put_range(t2, "n", 3)
    H.detach(t2, s, db2, path)
    -- an incremental with nothing attached: nothing lacks a full record
    local inc = w:path("inc")
    backup.run(inst, inc, { incremental = true })
    local r = ese.restore({ full, inc }, w:path("r"))
    assert.are.equal(1, #r.not_restored)
    assert.are.equal("created", r.not_restored[1].how)
    assert.are.same(r.not_restored, backup.verify({ full, inc }).not_restored)
    local keys = H.restored_keys(w, w:path("r"))
    assert.are.equal(10, H.count_prefix(keys, "b"))
    assert.are.equal(0, H.count_prefix(keys, "n"))
  end)
end)

describe("an incremental after a detach and re-attach", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("with no backup in between: works, and full + incremental restore every commit", function()
    local t, s, db, inst = w:table({ log_file_size = 64 })
    local path = w:path("app.edb")
    H.put_range(t, "a", 20)
    backup.run(inst, w:path("full"))
    H.put_range(t, "b", 20)
    H.detach(t, s, db, path)
    t = H.open_table(inst, w.dir)
    H.put_range(t, "c", 20)
    backup.run(inst, w:path("inc"), { incremental = true })
    local r = ese.restore({ w:path("full"), w:path("inc") }, w:path("r"))
    assert.is_nil(r.not_restored)
    assert.is_nil(backup.verify({ w:path("full"), w:path("inc") }).not_restored)
    local keys = H.restored_keys(w, w:path("r"))
    for _, p in ipairs({ "a", "b", "c" }) do assert.are.equal(20, H.count_prefix(keys, p)) end
  end)

  it("with a backup taken while it was detached: JET_errMissingFileToBackup as ESE, the detail says why",
    function()
      local t, s, db, inst = w:table({ log_file_size = 64 })
      local path = w:path("app.edb")
      local db2 = s:create_database(w:path("two.edb"))
      local t2 = s:create_table(db2, "t")
      H.put_range(t, "a", 20)
      backup.run(inst, w:path("full"))        -- both databases
      H.put_range(t, "b", 20)
      H.detach(t, s, db, path)
      H.roll(t2, w.dir, 2)
      backup.run(inst, w:path("inc1"), { incremental = true })   -- two.edb only: truncates app.edb's logs
      t = H.open_table(inst, w.dir)
      H.put_range(t, "c", 20)
      local e = H.expect_jet("JET_errMissingFileToBackup", backup.run, inst, w:path("inc2"), { incremental = true })
      assert.are.equal(-569, e.code)
      assert.matches("app.edb", e.detail, 1, true)
      assert.matches("take a full backup", e.detail, 1, true)
      assert.is_false(H.exists(w:path("inc2")))
      -- a full then makes the chain whole again
      backup.run(inst, w:path("full2"))
      H.put_range(t, "d", 5)
      backup.run(inst, w:path("inc3"), { incremental = true })
      local keys = H.restored_keys(w, ese.restore({ w:path("full2"), w:path("inc3") }, w:path("r")) and w:path("r"))
      assert.are.equal(5, H.count_prefix(keys, "d"))
    end)
end)
