-- Session 18's mends: `ese backup` of an instance with a database outside
-- its folder; ese.restore's base_name in another case than the archive's
-- logs (archive_path, restore_command); a restore into a new folder while
-- the live folder's instance retires generations; the hold's step size.
local ese = require "ese"
local backup = require "ese.backup"
local cjson = require "cjson"
local H = require "spec.support.helpers"

-- An instance on w/inst with app.edb there and x.edb in w/out (10 and 7
-- records), shut down cleanly.  Returns the two folders.
local function with_outside_db(w, outside_name)
  local dir, odir = w:path("inst"), w:path("out")
  assert(ese.fs.mkdir_p(dir) and ese.fs.mkdir_p(odir))
  local t, s, _, inst = w:table_at(dir, "app.edb")
  H.put_range(t, "a", 10)
  local db = s:create_database(odir .. "/" .. (outside_name or "x.edb"))
  local t2 = s:create_table(db, "t")
  H.put_range(t2, "x", 7)
  t2:close(); db:close(); t:close()
  s:end_session()
  inst:term({ complete = true })
  return dir, odir
end

local function count_in(w, dir, file)
  local inst = w:track(ese.create_instance(H.name("r"), H.params(dir)))
  inst:init()
  local t, s = H.open_table(inst, dir, file)
  local n = t:count()
  t:close(); s:end_session(); inst:term({ complete = true })
  return n
end

describe("ese backup of an instance whose logs attach a database outside its folder", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- Before: only the *.edb files of the folder were attached; x.edb was
  -- left out of the set, silently, exit 0 (and the truncation dropped the
  -- last logs that named it).
  it("backs it up too, found where recovery finds it, and names it (text and --json)", function()
    local dir, odir = with_outside_db(w)
    local code, out, err = H.lua_run("bin/ese", { "backup", dir, w:path("set"), "--json" })
    assert.are.equal(0, code, err)
    local rep = cjson.decode(out).report
    local dbs = {}
    for _, e in ipairs(backup.verify(w:path("set")).databases) do dbs[e] = true end
    assert.are.same({ ["app.edb"] = true, ["x.edb"] = true }, dbs)
    assert.are.equal(1, #rep.from_logs)
    assert.are.equal(ese.file_info(odir .. "/x.edb").db_signature, ese.file_info(rep.from_logs[1]).db_signature)
    assert.is_nil(rep.not_backed_up_logged)
    ese.restore(w:path("set"), w:path("r"))
    assert.are.equal(7, count_in(w, w:path("r"), "x.edb"))
    assert.are.equal(10, count_in(w, w:path("r"), "app.edb"))
    -- the text output names it; a second backup (the first truncated the
    -- logs) still finds it: this run's logs attach it
    local code2, out2, err2 = H.lua_run("bin/ese", { "backup", dir, w:path("set2") })
    assert.are.equal(0, code2, err2)
    assert.matches("backed up too: [^\n]*x%.edb %(a database the instance's logs attach", out2)
    dbs = {}
    for _, e in ipairs(backup.verify(w:path("set2")).databases) do dbs[e] = true end
    assert.are.same({ ["app.edb"] = true, ["x.edb"] = true }, dbs)
  end)

  -- Before: an incremental said "backed up too" of it, though the set
  -- holds logs only.
  it("an incremental names it as covered by its logs, not as backed up", function()
    local dir = with_outside_db(w)
    local code, _, err = H.lua_run("bin/ese", { "backup", dir, w:path("full") })
    assert.are.equal(0, code, err)
    local code2, out2, err2 = H.lua_run("bin/ese", { "backup", dir, w:path("inc"), "--incremental" })
    assert.are.equal(0, code2, err2)
    assert.matches("covered too %(its logs%): [^\n]*x%.edb %(a database the instance's logs attach", out2)
    assert.is_nil(out2:find("backed up too", 1, true))
  end)

  -- (the session's second read: no spec reached resolve_logged's "another file")
  it("one whose place holds another database now is named NOT backed up, another file; the rest is backed up",
     function()
    local dir, odir = with_outside_db(w)
    local t2, _, _, i2 = w:table_at(w:path("other"), "y.edb")
    t2:put("y", "1")
    t2:close()
    i2:term({ complete = true })
    H.write_file(odir .. "/x.edb", H.read_file(w:path("other") .. "/y.edb"))
    local code, out, err = H.lua_run("bin/ese", { "backup", dir, w:path("set"), "--no-truncate", "--json" })
    assert.are.equal(0, code, err)
    local rep = cjson.decode(out).report
    assert.are.equal(1, #rep.not_backed_up_logged)
    assert.matches("is another file now (not the database the logs name)", rep.not_backed_up_logged[1].why, 1, true)
    assert.are.same({ "app.edb" }, backup.verify(w:path("set")).databases)
  end)

  it("one that is no longer there is named NOT backed up (text and --json); the rest is backed up", function()
    local dir, odir = with_outside_db(w)
    local sig = ese.file_info(odir .. "/x.edb").db_signature
    assert(os.remove(odir .. "/x.edb"))
    local code, out, err = H.lua_run("bin/ese", { "backup", dir, w:path("set"), "--no-truncate", "--json" })
    assert.are.equal(0, code, err)
    local rep = cjson.decode(out).report
    assert.are.same({ { path = odir .. "/x.edb", db_signature = sig, why = "absent" } }, rep.not_backed_up_logged)
    local code2, out2, err2 = H.lua_run("bin/ese", { "backup", dir, w:path("set2"), "--no-truncate" })
    assert.are.equal(0, code2, err2)
    assert.matches("NOT backed up: " .. odir .. "/x.edb (absent): databases the instance's logs attach that are " ..
      "not there", out2, 1, true)
    assert.are.same({ "app.edb" }, backup.verify(w:path("set2")).databases)
  end)

  it("one that another instance has attached since is not attached: named NOT backed up", function()
    local dir, odir = with_outside_db(w)
    local other = w:path("other")
    assert(ese.fs.mkdir_p(other))
    local inst = w:track(ese.create_instance(H.name("o"), H.params(other)))
    inst:init()
    local s = inst:begin_session()
    s:attach_database(odir .. "/x.edb")
    s:end_session()
    inst:term({ complete = true })
    local code, out, err = H.lua_run("bin/ese", { "backup", dir, w:path("set"), "--json" })
    assert.are.equal(0, code, err)
    local rep = cjson.decode(out).report
    assert.are.equal(1, #rep.not_backed_up_logged)
    assert.matches("belongs to another log stream now", rep.not_backed_up_logged[1].why, 1, true)
    assert.are.same({ "app.edb" }, backup.verify(w:path("set")).databases)
  end)

  it("one with the name of a database of the folder: JET_errInvalidPath, no set made", function()
    local dir = with_outside_db(w, "app.edb")
    local code, out, err = H.lua_run("bin/ese", { "backup", dir, w:path("set"), "--json" })
    assert.are.equal(1, code, err)
    local j = cjson.decode(out)
    assert.are.equal("JET_errInvalidPath", j.error.name)
    assert.matches("two files of the backup are named app.edb", j.error.detail, 1, true)
    assert.are.equal("absent", ese.fs.stat(w:path("set")).kind)
  end)
end)

describe("ese.restore with base_name in another case than the archive's logs", function()
  local w, set, arc
  before_each(function()
    w = H.world()
    arc = w:path("arc")
    local t, s, _, inst = w:table({ log_file_size = 64, archive_path = arc })
    t:put("base", "1")
    set = w:path("set")
    backup.run(inst, set)
    H.fill(t, 600, "after")
    t:close(); s:end_session(); inst:term({ complete = true })
  end)
  after_each(function() w:cleanup() end)

  -- Before: the archive was read by the base name exactly, restore_command
  -- fetched EDB00000002.log (the archive has edb00000002.log): either way
  -- no archived log was found, the restore ended with the set
  -- (last_generation 1) and every commit after it was left out, in success.
  for _, how in ipairs({ "archive_path", "restore_command" }) do
    it(how .. ": JET_errInvalidParameter naming a log, dest not made; the exact name restores all", function()
      local opts = how == "archive_path" and { archive_path = arc }
        or { restore_command = "cp " .. arc .. "/%f %p" }
      opts.base_name = "EDB"
      local e = H.expect_jet("JET_errInvalidParameter", ese.restore, set, w:path("d"), opts)
      assert.matches(how == "archive_path" and "the log archive holds edb%x+%.log and no log of base name EDB"
        or "the backup set holds edb00000001.log and restore_command fetches the archived logs", tostring(e))
      assert.are.equal("absent", ese.fs.stat(w:path("d")).kind)
      opts.base_name = "edb"
      local r = ese.restore(set, w:path("d"), opts)
      -- the archive's generations, past the set's (the last, not shipped, is not there)
      assert.is_true(r.last_generation > backup.verify(set).gen_high + 2)
      assert.is_true(H.count_keys(w, w:path("d"), "after") > 300)
    end)
  end
end)

describe("ese.restore into a new folder with live_log_path while the instance there retires generations", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- Before: a new (or empty) dest had no hold step: the copy read each
  -- live generation from the live folder, and one retired since the scan
  -- failed the restore in the middle of the copy (JET_errFileNotFound),
  -- dest left with databases "being restored" and some logs.
  it("a generation retired once the copy has begun (hold point restore-copy) was held before: the restore " ..
     "succeeds", function()
    local out, dest = H.restore_while_retired(w, "restore-copy", true)
    assert.matches("RESTORED", out)
    local keys = H.restored_keys(w, dest)
    assert.are.equal(5, H.count_prefix(keys, "base"))
    assert.is_true(H.count_prefix(keys, "early") > 0)
    assert.are.equal(0, H.count_prefix(keys, "during"))
  end)

  it("a generation retired before it is held (hold point restore-hold) is refused before anything of dest is " ..
     "written: JET_errMissingCurrentLogFiles, dest absent again", function()
    local out, dest = H.restore_while_retired(w, "restore-hold", true)
    assert.matches("FAILED JET_errMissingCurrentLogFiles", out, 1, true)
    assert.matches("was retired or recycled by the instance on the live log folder", out, 1, true)
    assert.are.equal("absent", ese.fs.stat(dest).kind)
  end)
end)

describe("the hold of a live generation", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- Before: a generation (up to 1 GiB) was copied into dest/.ese-fetch in
  -- one step, a caller that yields from on_progress waiting for all of it;
  -- every callback saw a held copy absent or whole.  Ordered I/O
  -- (ESE_FAULT_COUNT) runs the steps in line: a callback sees the state
  -- between two steps.
  it("copies 1 MiB a step: a callback between two steps sees a held copy in part", function()
    local t, s, _, inst = w:table({ log_file_size = 4096 })
    t:put("base", "1")
    backup.run(inst, w:path("set"))
    H.roll(t, w.dir, 2, "live")
    t:close(); s:end_session(); inst:term({ complete = true })
    local code, out, err = H.lua_child([[
      local ese = require "ese"
      local fetch = arg[2] .. "/.ese-fetch"
      local partial, whole = 0, 0
      ese.restore(arg[1], arg[2], { live_log_path = arg[3], on_progress = function()
        local ok, names = pcall(ese.fs.list, fetch)
        for _, n in ipairs(ok and names or {}) do
          local size = ese.fs.stat(fetch .. "/" .. n).size
          if size == 4096 * 1024 then whole = whole + 1 elseif size > 0 then partial = partial + 1 end
        end
      end })
      print("PARTIAL " .. partial, "WHOLE " .. whole)
    ]], { w:path("set"), w:path("d"), w.dir }, "ESE_FAULT_COUNT=" .. H.q(w:path("count")))
    assert.are.equal(0, code, err)
    assert.matches("WHOLE [1-9]", out)
    local partial = tonumber(out:match("PARTIAL (%d+)"))
    assert.is_true(partial >= 3, out)
    assert.is_true(H.count_keys(w, w:path("d"), "live") > 0)
  end)
end)
