-- Restore to a point in time (issue 12): commit records carry their time
-- (log format 4); ese.restore(sets, dest, { archive_path, to_time,
-- allow_partial }) replays the set, then the archived generations, and
-- stops before the first commit later than to_time.  The archive here is
-- filled by hand (each closed generation copied), as an archiver would.
local H = require "support.helpers"
local ese = require "ese"
local backup = require "ese.backup"
local fs = ese.fs

describe("restore to a point in time", function()
  local w, t, inst, set, archive, _
  local marks = {}

  local mark = H.time_mark

  -- Copies every closed generation of the live folder into the archive.
  local function ship()
    for _, name in ipairs(fs.list(w.dir)) do
      if name:match("^edb%x%x%x%x%x%x%x%x%.log$") and not H.exists(archive .. "/" .. name) then
        H.write_file(archive .. "/" .. name, assert(H.read_file(w:path(name))))
      end
    end
  end

  -- The phases' keys in a restored folder: { [phase] = count }.
  local function phases(dest)
    local keys = H.restored_keys(w, dest)
    local n = {}
    for k in pairs(keys) do
      local p = k:match("^(p%d)_")
      if p then n[p] = (n[p] or 0) + 1 end
    end
    return n
  end

  before_each(function()
    w = H.world()
    t, _, _, inst = w:table({ log_file_size = 64 })
    for i = 1, 20 do t:put(("base%03d"):format(i), "b") end
    set, archive = w:path("set"), w:path("archive")
    assert(os.execute("mkdir -p " .. H.q(archive)))
    backup.run(inst, set)
    -- three phases of commits, each spanning a roll, a mark between them
    for p = 1, 3 do
      for i = 1, 30 do t:put(("p%d_%03d"):format(p, i), ("v"):rep(400)) end
      H.roll(t, w.dir, 1, "p" .. p .. "_roll")
      marks[p] = mark()
    end
    H.roll(t, w.dir, 1, "p3_tail")          -- the last phase's generation closes too
    ship()
  end)
  after_each(function() w:cleanup() end)

  it("to a time between two phases: exactly the commits at or before it, from the set and the archive", function()
    for p = 1, 2 do
      local dest = w:path("dest" .. p)
      local r = ese.restore(set, dest, { archive_path = archive, to_time = marks[p] })
      assert.is_true(r.reached)
      assert.is_true(r.last_commit_time <= marks[p], "the last commit replayed is at or before the time")
      assert.is_true(r.last_commit_time > marks[p] - 60)
      local n = phases(dest)   -- a phase's roll commits ("p<p>_roll...") count with it
      assert.is_true(n.p1 >= 30, "phase 1 is in")
      if p == 1 then assert.is_nil(n.p2, "phase 2 is out") else assert.is_true(n.p2 >= 30) end
      assert.is_nil(n.p3, "phase 3 is out")
      -- the generation the point in time falls in ends there in dest: no
      -- record of a later commit is left in any of its log files
      for _, name in ipairs(fs.list(dest)) do
        if name:match("%.log$") then
          local bytes = assert(H.read_file(dest .. "/" .. name))
          for q = p + 1, 3 do assert.is_nil(bytes:find("p" .. q .. "_0", 1, true), name .. " holds phase " .. q) end
        end
      end
    end
  end)

  it("the restored folder is a working instance: later commits, a crash and recovery never bring "
     .. "back what came after the point in time", function()
    local dest = w:path("dest")
    ese.restore(set, dest, { archive_path = archive, to_time = marks[1] })
    local r = w:track(ese.create_instance(H.name("r"), H.params(dest, { log_file_size = 64 })))
    r:init()
    local rt = H.open_table(r, dest)
    assert.is_nil(rt:get("p2_001"))
    rt:put("after", "restore")
    r:term()                                   -- crash: soft recovery replays from the checkpoint
    local r2 = w:track(ese.create_instance(H.name("r2"), H.params(dest, { log_file_size = 64 })))
    r2:init()
    local rt2 = H.open_table(r2, dest)
    assert.are.equal("restore", rt2:get("after"))
    assert.is_nil(rt2:get("p2_001"))
    assert.is_nil(rt2:get("p3_001"))
    r2:term({ complete = true })
    local code, out = H.lua_run("bin/ese", { "logs", dest, "--verify" })
    assert.are.equal(0, code, out)
  end)

  it("backup.restore takes the same options and verifies the set first", function()
    local dest = w:path("dest")
    local r = backup.restore(set, dest, { archive_path = archive, to_time = marks[2] })
    assert.is_true(r.reached)
    local n = phases(dest)
    assert.is_true(n.p2 >= 30)
    assert.is_nil(n.p3)
  end)

  it("a time after the last archived commit: JET_errMissingLogFile before dest is made; allow_partial "
     .. "restores to the end and says it did not reach the time", function()
    local later = mark() + 3600
    local dest = w:path("dest")
    local e = H.expect_jet("JET_errMissingLogFile", ese.restore, set, dest, { archive_path = archive, to_time = later })
    assert.matches("allow_partial", e.detail, 1, true)
    assert.are.equal("absent", fs.stat(dest).kind)
    local r = ese.restore(set, dest, { archive_path = archive, to_time = later, allow_partial = true })
    assert.is_false(r.reached)
    local n = phases(dest)
    assert.is_true(n.p3 >= 30, "everything archived is in")
  end)

  it("a gap in the archive: the missing generation's error; allow_partial stops before it", function()
    local names = {}
    for _, name in ipairs(fs.list(archive)) do names[#names + 1] = name end
    table.sort(names)
    assert.is_true(#names >= 3)
    local missing = names[#names - 1]
    assert(os.remove(archive .. "/" .. missing))
    local dest = w:path("dest")
    local e = H.expect_jet("JET_errMissingCurrentLogFiles", ese.restore, set, dest,
      { archive_path = archive, to_time = marks[3] })
    assert.matches("is missing", e.detail, 1, true)
    assert.are.equal("absent", fs.stat(dest).kind)
    local r = ese.restore(set, dest, { archive_path = archive, to_time = marks[3], allow_partial = true })
    assert.are.equal(tonumber(missing:match("^edb(%x+)%.log$"), 16), r.gap_generation)
    assert.is_false(r.reached)
    assert.is_true(r.last_generation < r.gap_generation)
  end)

  it("a time before the backup ended: JET_errEndingRestoreLogTooLow (the copy may hold later changes), "
     .. "before dest is made", function()
    local w2 = H.world()
    local t2, _, _, inst2 = w2:table({ log_file_size = 64 })
    t2:put("x", "1")
    local before = mark()
    t2:put("y", "2")
    local set2 = w2:path("set")
    backup.run(inst2, set2)
    for _, partial in ipairs({ false, true }) do
      local e = H.expect_jet("JET_errEndingRestoreLogTooLow", ese.restore, set2, w2:path("dest"),
        { to_time = before, allow_partial = partial })
      assert.matches("before the end of the backup", e.detail, 1, true)
      assert.are.equal("absent", fs.stat(w2:path("dest")).kind)
    end
    w2:cleanup()
  end)

  -- The child: ese.restore of arg[1] with the archive arg[2] into arg[3]
  -- up to the time arg[4]; prints OK (a crash point kills it before).
  local RESTORE_CHILD = [[
    local ese = require "ese"
    ese.restore(arg[1], arg[3], { archive_path = arg[2], to_time = tonumber(arg[4]) })
    print("OK")
  ]]

  -- ESE_FAULT mode ("crash": killed; "eio": an I/O error) at each of the
  -- restore's last 25 writes and syncs: dest is either refused (databases
  -- being restored) or a clean restore without a later commit.
  local function fault_sweep(mode)
    local tm = ("%.6f"):format(marks[1])
    local count = w:path("count.n")
    local code, out, err = H.lua_child(RESTORE_CHILD, { set, archive, w:path("counted"), tm },
      "ESE_FAULT_COUNT=" .. H.q(count))
    assert.are.equal(0, code, err)
    assert.matches("OK", out)
    local n = assert(tonumber(H.read_file(count):match("%d+")))
    local clean, refused = 0, 0
    for k = math.max(1, n - 24), n do
      local dest = w:path("k" .. k)
      code, _, err = H.lua_child(RESTORE_CHILD, { set, archive, dest, tm }, ("ESE_FAULT=%s:%d"):format(mode, k))
      assert.are_not.equal(0, code, "the child fails at event " .. k)
      if mode == "eio" then assert.matches("JET_errDiskIO", err, 1, true) end   -- a named error, not a crash
      local inst2 = w:track(ese.create_instance(H.name("k"), H.params(dest, { log_file_size = 64 })))
      local ok, t2 = pcall(function()
        inst2:init()
        return H.open_table(inst2, dest)
      end)
      if ok then
        clean = clean + 1
        assert.is_nil(t2:get("p2_001"), "event " .. k .. ": a commit after the point in time is back")
        assert.are.equal(("v"):rep(400), t2:get("p1_030"), "event " .. k)
      else
        refused = refused + 1
        assert.is_true(ese.is_error(t2), tostring(t2))
      end
      pcall(inst2.term, inst2)
    end
    assert.is_true(clean > 0 and refused > 0, clean .. " clean, " .. refused .. " refused")
  end

  it("killed at each write of its last steps, a restore to a point in time leaves either databases being "
     .. "restored (refused) or a clean restore without a later commit: never a later commit back", function()
    fault_sweep("crash")
  end)

  it("an I/O error at each write or sync of its last steps (cutting the log, deleting later logs, the "
     .. "headers, the new log and checkpoint): JET_errDiskIO, and dest refused or clean without a later "
     .. "commit", function()
    fault_sweep("eio")
  end)

  it("restore_command fetches the archived generations one by one (here cp, then rclone with a local remote) "
     .. "into a folder of dest it removes at the end: the same result as archive_path", function()
    local dest = w:path("dest-cp")
    local r = ese.restore(set, dest, { restore_command = "cp " .. archive .. "/%f %p", to_time = marks[2] })
    assert.is_true(r.reached)
    local n = phases(dest)
    assert.is_true(n.p2 >= 30)
    assert.is_nil(n.p3)
    assert.are.equal("absent", fs.stat(dest .. "/.ese-fetch").kind)
    -- rclone, as an operator would, here with a remote of type local (an absolute path under it)
    local code, out, err = H.lua_run("bin/ese", { "restore", set, w:path("dest-rclone"), "--restore-command",
      "rclone copyto --config /dev/null arc:" .. archive .. "/%f %p", "--to-time", ("%.6f"):format(marks[1]) },
      "RCLONE_CONFIG_ARC_TYPE=local")
    assert.are.equal(0, code, out .. err)
    assert.matches("reached", out)
    n = phases(w:path("dest-rclone"))
    assert.is_true(n.p1 >= 30)
    assert.is_nil(n.p2)
  end)

  it("restore_command that cannot run, says success without a file, or fetches a damaged log: a named "
     .. "error and dest removed again; a command that fails at once is an empty archive", function()
    for _, c in ipairs({ { "no-such-program-xyz %f %p", "JET_errMissingLogFile", "cannot run" },
                         { "true %f %p", "JET_errMissingLogFile", "wrote no file" },
                         { "cp " .. w:path("app.edb") .. " %p", "JET_errLogFileCorrupt", "unreadable" } }) do
      local dest = w:path("dest-bad")
      local e = H.expect_jet(c[2], ese.restore, set, dest, { restore_command = c[1], to_time = marks[1] })
      assert.matches(c[3], e.detail, 1, true)
      assert.are.equal("absent", fs.stat(dest).kind, c[1])
    end
    -- "false": the archive has nothing; without allow_partial the time is not reached
    local e = H.expect_jet("JET_errMissingLogFile", ese.restore, set, w:path("dest-f"),
      { restore_command = "false", to_time = marks[1] })
    assert.matches("allow_partial", e.detail, 1, true)
    assert.are.equal("absent", fs.stat(w:path("dest-f")).kind)
    local r = ese.restore(set, w:path("dest-f"),
      { restore_command = "false", to_time = marks[1], allow_partial = true })
    assert.is_false(r.reached)
  end)

  it("restore_command with overwrite: a refusal after the fetch leaves dest's log stream as it was", function()
    local dest = w:path("dest")
    ese.restore(set, dest, { archive_path = archive, to_time = marks[1] })
    local function logs()
      local l = {}
      for _, name in ipairs(fs.list(dest)) do
        if name:match("^edb.*%.log$") then l[#l + 1] = name .. " " .. H.file_size(dest .. "/" .. name) end
      end
      table.sort(l)
      return l
    end
    local before = logs()
    assert.is_true(#before > 1)
    -- a time before the backup's end: refused after the fetch (the fetched logs are read for it)
    H.expect_jet("JET_errEndingRestoreLogTooLow", ese.restore, set, dest,
      { restore_command = "cp " .. archive .. "/%f %p", to_time = 1, overwrite = true })
    assert.are.same(before, logs())
    -- a fetch that cannot run
    H.expect_jet("JET_errMissingLogFile", ese.restore, set, dest,
      { restore_command = "no-such-program-xyz %f %p", to_time = marks[2], overwrite = true })
    assert.are.same(before, logs())
    assert.are.equal("absent", fs.stat(dest .. "/.ese-fetch").kind)
    local n = phases(dest)
    assert.is_true(n.p1 >= 30)
    assert.is_nil(n.p2)
  end)

  it("restore_command refused into an existing empty dest leaves it empty: the retry is accepted", function()
    local dest = w:path("dest-empty")
    assert(os.execute("mkdir -p " .. H.q(dest)))
    H.expect_jet("JET_errMissingLogFile", ese.restore, set, dest,
      { restore_command = "no-such-program-xyz %f %p", to_time = marks[1] })
    assert.are.same({}, fs.list(dest))
    H.expect_jet("JET_errEndingRestoreLogTooLow", ese.restore, set, dest,
      { restore_command = "cp " .. archive .. "/%f %p", to_time = 1 })
    assert.are.same({}, fs.list(dest))
    local r = ese.restore(set, dest, { restore_command = "cp " .. archive .. "/%f %p", to_time = marks[1] })
    assert.is_true(r.reached)
    assert.is_true(phases(dest).p1 >= 30)
  end)

  it("bad options: argument errors", function()
    assert.has_error(function() ese.restore(set, w:path("d"), { to_time = "noon" }) end)
    assert.has_error(function() ese.restore(set, w:path("d"), { to_time = -1 }) end)
    assert.has_error(function() ese.restore(set, w:path("d"), { allow_partial = 1 }) end)
    assert.has_error(function() ese.restore(set, w:path("d"), { allow_partial = true }) end)
    H.expect_jet("JET_errFileNotFound", ese.restore, set, w:path("d"), { archive_path = w:path("nowhere"),
      to_time = marks[1] })
    assert.has_error(function() backup.restore(set, w:path("d"), { to_tme = 1 }) end)
    assert.are.equal("absent", fs.stat(w:path("d")).kind)
  end)

  it("ese restore --archive DIR --to-time TIME (UTC, a zone, or seconds); bad times and --allow-partial "
     .. "alone: exit 2", function()
    local m = marks[1]
    local whole = math.floor(m)
    local utc = os.date("!%Y-%m-%d %H:%M:%S", whole) .. ("%.6f"):format(m - whole):sub(2)
    local dest = w:path("dest")
    local code, out, err = H.lua_run("bin/ese", { "restore", set, dest, "--archive", archive, "--to-time", utc })
    assert.are.equal(0, code, err)
    assert.matches("point in time " .. utc:gsub("%p", "%%%0") .. " UTC: reached", out)
    local n = phases(dest)
    assert.is_true(n.p1 >= 30)
    assert.is_nil(n.p2)
    -- the same instant written with a zone, and as seconds
    local east = os.date("!%Y-%m-%d %H:%M:%S", whole + 2 * 3600) .. ("%.6f"):format(m - whole):sub(2) .. "+02:00"
    for i, tm in ipairs({ east, ("%.6f"):format(m) }) do
      local d = w:path("dest-" .. i)
      code, _, err = H.lua_run("bin/ese", { "restore", set, d, "--archive", archive, "--to-time", tm })
      assert.are.equal(0, code, err)
      assert.is_nil(phases(d).p2, tm)
    end
    for _, bad in ipairs({ "yesterday", "2026-02-30 00:00:00", "2026-12-06 25:00:00", "2026-12-06 10:00:00 +25:00" }) do
      code, _, err = H.lua_run("bin/ese", { "restore", set, w:path("bad"), "--to-time", bad })
      assert.are.equal(2, code, bad)
      assert.matches("needs a time", err, 1, true)
    end
    code, _, err = H.lua_run("bin/ese", { "restore", set, w:path("bad"), "--allow-partial" })
    assert.are.equal(2, code)
    assert.matches("--allow-partial needs --to-time", err, 1, true)
    assert.are.equal("absent", fs.stat(w:path("bad")).kind)
    -- a time the logs do not reach: the named error, exit 1, dest not made
    code, _, err = H.lua_run("bin/ese", { "restore", set, w:path("late"), "--archive", archive, "--to-time",
      ("%.6f"):format(m + 86400) })
    assert.are.equal(1, code)
    assert.matches("JET_errMissingLogFile", err, 1, true)
    assert.are.equal("absent", fs.stat(w:path("late")).kind)
  end)

  -- A chain (the full set, then an incremental taken after the three
  -- phases) holds commits after each mark in its own logs: the replay
  -- stops at the time inside them, and the archive is not needed.  Before,
  -- `ese restore` then printed "no log generation after the sets' last
  -- (N) was in --archive ...: the restore ends with the sets", as if the
  -- archive had ended the restore.
  it("ese restore of a chain whose own logs go past --to-time says the replay stopped at the time in the sets' "
     .. "logs, not that the archive had no later generation", function()
    local incr = w:path("incr")
    backup.run(inst, incr, { incremental = true })
    ship()
    for p, m in ipairs({ marks[1], marks[3] }) do
      local dest = w:path("chain" .. p)
      local code, out, err = H.lua_run("bin/ese", { "restore", set, incr, dest, "--archive", archive, "--to-time",
                                                    ("%.6f"):format(m) })
      assert.are.equal(0, code, err)
      assert.matches("UTC: reached", out, 1, true)
      assert.is_nil(out:find("no log generation after", 1, true), out)
      local g, lo, hi = out:match("the point in time is in the sets' logs: the replay stopped at it in generation "
                                  .. "(%d+) %(the sets' logs: (%d+) %.%. (%d+)%)")
      assert.is_truthy(g, out)
      assert.is_true(tonumber(lo) <= tonumber(g) and tonumber(g) <= tonumber(hi), out)
      local n = phases(dest)
      assert.is_true(n.p1 >= 30)
      if p == 1 then assert.is_nil(n.p2, "phase 2 is out") else assert.is_true(n.p3 >= 30, "phase 3 is in") end
    end
  end)

  -- --to-time with --to-generation N: when generation N ends the replay
  -- before any commit after the point in time, the restore says so.
  -- Before, it said "the point in time is in the sets' logs: the replay
  -- stopped at it" (reached is also true then: restore.c replay_trim).
  it("ese restore --to-time with --to-generation says which one ended the replay", function()
    local incr = w:path("incr_tg")
    backup.run(inst, incr, { incremental = true })
    ship()
    local code, out, err = H.lua_run("bin/ese", { "restore", set, incr, w:path("tg0"), "--archive", archive })
    assert.are.equal(0, code, err)
    local lo = tonumber(out:match("generations (%d+) %.%. %d+"))
    assert.is_truthy(lo, out)
    local future = ("%.6f"):format(H.time_mark() + 86400)
    code, out, err = H.lua_run("bin/ese", { "restore", set, incr, w:path("tg1"), "--archive", archive, "--to-time",
                                            future, "--to-generation", tostring(lo) })
    assert.are.equal(0, code, err)
    assert.is_nil(out:find("the replay stopped at it", 1, true), out)
    assert.matches("--to-generation " .. lo .. " ended the replay before the point in time", out, 1, true)
    -- the point in time inside the logs still says so
    code, out, err = H.lua_run("bin/ese", { "restore", set, incr, w:path("tg2"), "--archive", archive, "--to-time",
                                            ("%.6f"):format(marks[1]), "--to-generation", tostring(lo + 1000) })
    assert.are.equal(0, code, err)
    assert.matches("the replay stopped at it in generation", out, 1, true)
    assert.is_nil(out:find("ended the replay", 1, true), out)
  end)
end)

describe("restore to a point in time from a set whose last generation holds no commit", function()
  local mark = H.time_mark

  -- A full backup right after another: the first one's end began the
  -- generation the second one ends in, and no commit came since; the
  -- copies hold every commit of the generations before it.
  it("a time before commits the copies hold: JET_errEndingRestoreLogTooLow before dest is made, with or "
     .. "without the earlier generations in the archive, and with restore_command", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local t, _, _, inst = w:table({ log_file_size = 64 })
    t:put("x", "1")
    local before = mark()
    for i = 1, 20 do t:put(("base%03d"):format(i), "b") end
    backup.run(inst, w:path("first"))
    local set, archive = w:path("set"), w:path("archive")
    local b = backup.run(inst, set)
    local after = mark()
    for i = 1, 30 do t:put(("p%03d"):format(i), ("v"):rep(400)) end
    H.roll(t, w.dir, 1, "tail")
    assert(os.execute("mkdir -p " .. H.q(archive)))
    for _, name in ipairs(fs.list(w.dir)) do
      local g = H.log_gen(name)
      if g and g > b.gen_high then H.write_file(archive .. "/" .. name, assert(H.read_file(w:path(name)))) end
    end
    local dest = w:path("dest")
    for _, o in ipairs({ { archive_path = archive }, { restore_command = "cp " .. archive .. "/%f %p" } }) do
      o.to_time = before
      local e = H.expect_jet("JET_errEndingRestoreLogTooLow", ese.restore, set, dest, o)
      assert.matches("before the end of the backup", e.detail, 1, true)
      assert.are.equal("absent", fs.stat(dest).kind)
    end
    -- the generations before the set in the archive too: the same
    for _, name in ipairs(fs.list(w.dir)) do
      local g = H.log_gen(name)
      if g and g > 0 and g <= b.gen_high then
        H.write_file(archive .. "/" .. name, assert(H.read_file(w:path(name))))
      end
    end
    H.expect_jet("JET_errEndingRestoreLogTooLow", ese.restore, set, dest,
      { archive_path = archive, to_time = before })
    assert.are.equal("absent", fs.stat(dest).kind)
    -- a time after the base commits restores them and no later one
    local r = ese.restore(set, dest, { archive_path = archive, to_time = after })
    assert.is_true(r.reached)
    local keys = H.restored_keys(w, dest)
    assert.are.equal(20, H.count_prefix(keys, "base"))
    assert.are.equal(0, H.count_prefix(keys, "p0"))
  end)
end)

describe("restore to a point in time with an archive older than the set", function()
  -- The archive holds the generations before the full set too (shipped
  -- before the backup truncated them); one of them is lost.
  it("the generations before the set are neither copied nor needed: a gap among them is no refusal", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local t, _, _, inst = w:table({ log_file_size = 64 })
    local archive = w:path("archive")
    assert(os.execute("mkdir -p " .. H.q(archive)))
    local function ship()
      for _, name in ipairs(fs.list(w.dir)) do
        local g = H.log_gen(name)
        if g and g > 0 and not H.exists(archive .. "/" .. name) then
          H.write_file(archive .. "/" .. name, assert(H.read_file(w:path(name))))
        end
      end
    end
    H.roll(t, w.dir, 4, "old")
    ship()
    local set = w:path("set")
    local b = backup.run(inst, set)
    assert.is_true(b.gen_low > 3)
    for i = 1, 30 do t:put(("p1_%03d"):format(i), ("v"):rep(400)) end
    local m = fs.now()
    H.roll(t, w.dir, 1, "tail")
    ship()
    local dest = w:path("dest")
    assert.is_true(ese.restore(set, dest, { archive_path = archive, to_time = m }).reached)
    for g = 1, b.gen_low - 1 do
      assert.is_false(H.exists(dest .. "/" .. H.log_name(g)), H.log_name(g) .. " copied into dest")
    end
    assert.are.equal(30, H.count_prefix(H.restored_keys(w, dest), "p1_"))
    -- generation 2 lost, generation 1 damaged: not needed
    os.remove(archive .. "/" .. H.log_name(2))
    H.write_file(archive .. "/" .. H.log_name(1), "damaged")
    local r = ese.restore(set, w:path("dest2"), { archive_path = archive, to_time = m })
    assert.is_true(r.reached)
    assert.are.equal(30, H.count_prefix(H.restored_keys(w, w:path("dest2")), "p1_"))
  end)
end)

describe("util.parse_time", function()
  local util = require "ese.util"
  it("reads UTC, zones, fractions and seconds; refuses the rest", function()
    assert.are.equal(0, util.parse_time("1970-01-01 00:00:00"))
    assert.are.equal(1796541000.5, util.parse_time("2026-12-06 07:10:00.5"))
    assert.are.equal(1796541000, util.parse_time("2026-12-06T09:10:00+02:00"))
    assert.are.equal(1796546400, util.parse_time("2026-12-06 07:10:00 -0130"))
    assert.are.equal(1709208000, util.parse_time("2024-02-29 12:00:00Z"))
    assert.are.equal(1700000000.25, util.parse_time("1700000000.25"))
    for _, bad in ipairs({ "2023-02-29 12:00:00", "2026-13-01 00:00:00", "2026-12-06 07:60:00", "x", "",
                           "2026-12-06 07:10:00 +2", "2026-12-06 07:10:00.", "2026-12-06" }) do
      assert.is_nil(util.parse_time(bad), bad)
    end
  end)
end)

-- The generation a restore starts (restore.c newlog_step) is created after
-- the last commit it replayed, not from the last generation's tm_create and
-- the clock: with the restoring host's clock an hour behind the source's
-- (ESE_FAULT=clockback), it was created before a commit of the generation
-- before it.  Failed before the fix (created_us < last_commit_us).
describe("pitr: a restore on a host whose clock is behind", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("creates the new generation after the last commit replayed", function()
    local t, _, _, inst = w:table({ log_file_size = 64 })
    for i = 1, 20 do t:put(("k%03d"):format(i), "v") end
    local set = w:path("set")
    backup.run(inst, set)
    local flag = w:path("clock_back")
    H.write_file(flag, "")
    local code, out, err = H.lua_child([[
      local ese = require "ese"
      local r = ese.restore(arg[1], arg[2])
      local fi = ese.file_info(arg[2] .. "/edb.log")
      print(("last_commit_us=%d created_us=%d"):format(r.last_commit_time_us or 0, fi.created_us))
    ]], { set, w:path("dest") }, "ESE_FAULT=clockback:3600000000:" .. H.q(flag))
    assert.are.equal(0, code, err)
    local lc, cr = out:match("last_commit_us=(%d+) created_us=(%d+)")
    assert.is_truthy(lc, out)
    assert.is_true(tonumber(lc) > 0, out)
    assert.is_true(tonumber(cr) > tonumber(lc), "new generation created at " .. cr .. ", before the last commit "
                   .. lc .. " of the generation before it")
  end)
end)
