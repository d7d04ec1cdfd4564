-- Probes of a hostile tester against issues 11 and 12 (records, snapshot
-- isolation, cursors; continuous backup): each case failed before its fix.
local H = require "support.helpers"
local ese = require "ese"

describe("--to-time parsing (ese restore)", function()
  local util = require "ese.util"

  it("refuses seconds followed by digits without a dot: a typo, not a later time", function()
    -- before: "07:10:00123" read as 07:10:00 + 123 s (frac "123" taken as
    -- whole seconds), and `ese restore --to-time` restored to 07:12:03
    assert.is_nil(util.parse_time("2026-12-06 07:10:00123"))
    assert.is_nil(util.parse_time("2026-12-06 07:10:005"))
    assert.is_nil(util.parse_time("2026-12-06T07:10:0012Z"))
    assert.are.equal(1796541000.125, util.parse_time("2026-12-06 07:10:00.125"))
    local w = H.world()
    local code, _, err = H.lua_run("bin/ese", { "restore", w:path("set"), w:path("dest"),
                                                "--to-time", "2026-12-06 07:10:00123" })
    w:cleanup()
    assert.are.equal(2, code, err)
    assert.matches("needs a time", err, 1, true)
  end)
end)

describe("t:pairs bounds over 255 bytes", function()
  local w, t
  before_each(function()
    w = H.world()
    t = w:table()
    for i = 1, 5 do t:put("k" .. i, "v") end
  end)
  after_each(function() w:cleanup() end)

  local function keys(...)
    local r = {}
    for k in t:pairs(...) do r[#r + 1] = k end
    return r
  end

  it("raise JET_errKeyTooBig for either bound, both ways, as t:count and t:seek do", function()
    -- before: only the bound the first seek used was checked: pairs(nil, K)
    -- yielded every record while count(nil, K) raised, and
    -- pairs(K, nil, {reverse = true}) silently yielded nothing
    local K = ("k"):rep(256)
    H.expect_jet("JET_errKeyTooBig", t.count, t, nil, K)
    H.expect_jet("JET_errKeyTooBig", keys, nil, K)
    H.expect_jet("JET_errKeyTooBig", keys, K, nil, { reverse = true })
    H.expect_jet("JET_errKeyTooBig", keys, K)
    H.expect_jet("JET_errKeyTooBig", keys, nil, K, { reverse = true })
    assert.are.same({ "k1", "k2", "k3", "k4", "k5" }, keys(nil, ("k"):rep(255)))
    assert.are.equal(5, t:count(nil, ("k"):rep(255)))
  end)
end)

describe("a backup in a coroutine closed with coroutine.close while it yields", function()
  local backup = require "ese.backup"
  local w, t, inst, _
  before_each(function()
    w = H.world()
    t, _, _, inst = w:table()
    for i = 1, 200 do t:put(("k%04d"):format(i), ("v"):rep(3000)) end
  end)
  after_each(function() w:cleanup() end)

  -- Runs f(on_progress) in a coroutine, resumes it to its first yield
  -- (a progress callback), then closes it.
  local function close_at_first_yield(f)
    local co = coroutine.create(f)
    assert(coroutine.resume(co, function() coroutine.yield("progress") end))
    assert.are.equal("suspended", coroutine.status(co))
    assert.is_true(coroutine.close(co))
  end

  it("backup.run: the backup is ended and its .partial folder removed; the next run works", function()
    -- before: the instance kept the backup begun (every later backup:
    -- JET_errBackupInProgress until an explicit End(abort)) and
    -- set.partial stayed, refusing the next run into set
    local set = w:path("set")
    close_at_first_yield(function(progress) backup.run(inst, set, { on_progress = progress }) end)
    assert.is_false(H.exists(set .. ".partial"))
    assert.is_false(H.exists(set))
    backup.run(inst, set)
    assert.is_table(backup.verify(set))
  end)

  it("backup.run_to: the backup is ended; the next run works", function()
    close_at_first_yield(function(progress)
      backup.run_to(inst, function() end, { on_progress = progress })
    end)
    backup.run(inst, w:path("set"))
    assert.is_table(backup.verify(w:path("set")))
  end)
end)

describe("backup.expire with fractional and out-of-range times", function()
  local backup = require "ese.backup"
  local w, root
  before_each(function()
    w = H.world()
    root = w:expire_root(2)
  end)
  after_each(function() w:cleanup() end)

  it("keep_within 1.5 and now = ese.fs.now() make a plan (before: os.date / %d raised a Lua error)", function()
    local plan = backup.expire(root, { keep_full = 1, keep_within = 1.5, now = ese.fs.now() + 3600.5 })
    assert.are.equal(1, #plan.delete)
    assert.matches("f1$", plan.delete[1])
    assert.matches("not within 1.5s", plan.reasons[plan.delete[1]], 1, true)
    plan = backup.expire(root, { keep_full = 1, keep_within = 7200.25, now = ese.fs.now() + 0.5 })
    assert.are.equal(0, #plan.delete)
  end)

  it("now NaN, infinite or 1e13 s or more from the epoch: a plain argument error, nothing read", function()
    -- before (finite, out of range): "expire.lua:181: bad argument #2 to
    -- 'date' (number has no integer representation)" or "date result
    -- cannot be represented" (the review of session 11)
    for _, now in ipairs({ 0 / 0, math.huge, -math.huge, 1e300, -1e300, 2 ^ 62, 1e13 }) do
      H.expect_argerror("now must be a number", backup.expire, root, { keep_full = 1, keep_within = 1, now = now })
    end
    local plan = backup.expire(root, { keep_full = 1, keep_within = 1, now = 1e13 - 1 })
    assert.are.equal(1, #plan.delete)
  end)

  it("a manifest's time out of range: the set is kept as unreadable, the plan made", function()
    -- before: the same os.date error from fmt_time(s.time), no plan
    local path = root .. "/f1/manifest.json"
    local f = assert(io.open(path, "rb"))
    local text = f:read("a")
    f:close()
    local n
    text, n = text:gsub('"time_unix"%s*:%s*%d+', '"time_unix":100000000000000000')
    assert.are.equal(1, n)
    f = assert(io.open(path, "wb"))
    f:write(text)
    f:close()
    local plan = backup.expire(root, { keep_full = 1, keep_within = 1 })
    assert.are.equal(0, #plan.delete)
    assert.matches("time", plan.reasons[root .. "/f1"] or "", 1, true)
  end)
end)

describe("ese.restore option types", function()
  it("to_generation not an integer, to_time not a number: argument errors that name argument #3", function()
    -- before: luaL_checkinteger / luaL_checknumber on the stack top said
    -- "bad argument #-1 to 'restore_begin'"
    local w = H.world()
    for _, o in ipairs({ { to_generation = 2.5 }, { to_generation = "x" }, { to_time = "abc" }, { to_time = {} } }) do
      local e = H.expect_argerror("bad argument #3", ese.restore, w:path("set"), w:path("dest"), o)
      assert.is_nil(e:find("#-1", 1, true))
      assert.is_false(H.exists(w:path("dest")))
    end
    w:cleanup()
  end)
end)

-- A full set and an archive of the generations written after it, three
-- phases of commits (keys p1_.., p2_.., p3_..), each ending in a roll; the
-- archive is split: the folder `early` holds the first generations after
-- the set, the folder `late` the rest.
local function split_archive_world()
  local backup = require "ese.backup"
  local fs = ese.fs
  local w = H.world()
  local t, _, _, inst = w:table({ log_file_size = 64 })
  for i = 1, 20 do t:put(("base%03d"):format(i), "b") end
  local set = w:path("set")
  local b = backup.run(inst, set)
  for p = 1, 3 do
    for i = 1, 30 do t:put(("p%d_%03d"):format(p, i), ("v"):rep(400)) end
    H.roll(t, w.dir, 1, "p" .. p .. "_roll")
  end
  local early, late = w:path("early"), w:path("late")
  assert(os.execute("mkdir -p " .. H.q(early) .. " " .. H.q(late)))
  local gens = {}
  for _, name in ipairs(fs.list(w.dir)) do
    local g = H.log_gen(name)
    if g and g > b.gen_high then gens[#gens + 1] = g end
  end
  table.sort(gens)
  assert(#gens >= 3, "three generations after the set")
  local split = gens[1] + 1                 -- early: the first two generations after the set
  for _, g in ipairs(gens) do
    local name = H.log_name(g)
    H.write_file((g <= split and early or late) .. "/" .. name, assert(H.read_file(w:path(name))))
  end
  return w, set, early, late
end

describe("ese restore --archive DIR --restore-command CMD", function()
  it("combine: DIR's generations first, then CMD fetches those after them; the usage shows two options, "
     .. "not alternatives", function()
    -- before: the usage line said [--archive DIR | --restore-command CMD],
    -- though the restore takes both and replays them one after the other
    local w, set, early, late = split_archive_world()
    finally(function() w:cleanup() end)
    local dest = w:path("dest")
    local code, out, err = H.lua_run("bin/ese", { "restore", set, dest, "--archive", early,
                                                  "--restore-command", "cp " .. late .. "/%f %p" })
    assert.are.equal(0, code, out .. err)
    local keys = H.restored_keys(w, dest)
    for p = 1, 3 do assert.are.equal(30, H.count_prefix(keys, "p" .. p .. "_0"), "phase " .. p) end
    -- the folder alone stops where it ends
    code, out, err = H.lua_run("bin/ese", { "restore", set, w:path("dest-early"), "--archive", early })
    assert.are.equal(0, code, out .. err)
    assert.are.equal(0, H.count_prefix(H.restored_keys(w, w:path("dest-early")), "p3_0"))
    code, out = H.lua_run("bin/ese", { "restore", "--help" })
    assert.are.equal(0, code)
    local usage = out:match("^usage: ([^\n]*)")
    assert.matches("[--archive DIR] [--restore-command CMD]", usage, 1, true)
    assert.is_nil(usage:find("|", 1, true), usage)
  end)
end)

-- A world whose instance committed one record, and a full set of it.
local function one_set_world()
  local w = H.world()
  local t, _, _, inst = w:table()
  t:put("k", "v")
  local set = w:path("set")
  require("ese.backup").run(inst, set)
  return w, set
end

describe("ese restore --to-time at the edges of the times it takes", function()
  local util = require "ese.util"
  local w, set
  setup(function() w, set = one_set_world() end)
  teardown(function() w:cleanup() end)

  it("a time that parses but is out of range: a usage error (exit 2) naming the option, nothing written", function()
    -- before: 99999999999999 exited 1 with "./lua/ese/init.lua:61: bad
    -- argument #3 to 'restore_begin'", and 0.0000004 (rounded to 0 us,
    -- which means no time) restored to the end of the logs, exit 0
    for _, tm in ipairs({ "99999999999999", "253402300800", "0.0000004", "0", "1970-01-01 00:00:00",
                          "0000-01-01 00:00:00", "1969-12-31 23:59:59", "1970-01-01 01:00:00+02:00" }) do
      local dest = w:path("dest")
      local code, out, err = H.lua_run("bin/ese", { "restore", set, dest, "--to-time", tm })
      assert.are.equal(2, code, tm .. ": " .. out .. err)
      assert.matches("option --to-time " .. tm .. " is out of range", err, 1, true)
      assert.is_nil(err:find(".lua:", 1, true), err)
      assert.is_false(H.exists(dest), tm)
    end
  end)

  it("ese.restore: to_time rounded to 0 us or from the year 10000 on is an argument error, nothing written",
     function()
    -- before: to_time = 4e-7 restored to the end of the logs as if no time was given
    local dest = w:path("dest")
    for _, tm in ipairs({ 4e-7, util.TO_TIME_MAX, 1e13, 0 / 0 }) do
      H.expect_argerror("to_time must be seconds since the epoch, after 1970", ese.restore, set, dest,
        { to_time = tm })
      assert.is_false(H.exists(dest), tostring(tm))
    end
    -- just inside both ends: times the logs do not reach past, or before the backup's end
    H.expect_jet("JET_errMissingLogFile", ese.restore, set, dest, { to_time = util.TO_TIME_MAX - 1 })
    H.expect_jet("JET_errEndingRestoreLogTooLow", ese.restore, set, dest, { to_time = 6e-7 })
    assert.is_false(H.exists(dest))
  end)

  it("the year 9999, a leap second and zones: times it takes; a zone of 24 hours or more does not parse",
     function()
    local code, _, err = H.lua_run("bin/ese", { "restore", set, w:path("dest"), "--to-time", "9999-12-31 23:59:59" })
    assert.are.equal(1, code, err)
    assert.matches("JET_errMissingLogFile", err, 1, true)
    -- 23:59:60 (a leap second) is the next minute's first second, as POSIX time counts it
    assert.are.equal(util.parse_time("2027-01-01 00:00:00"), util.parse_time("2026-12-31 23:59:60"))
    assert.is_nil(util.parse_time("2026-12-31 23:59:61"))
    assert.are.equal(util.parse_time("2026-12-06 00:01:00"), util.parse_time("2026-12-06 23:59:00+23:58"))
    for _, tm in ipairs({ "2026-12-06 10:00:00+25:00", "2026-12-06 10:00:00-24:00", "2026-12-06 10:00:00+02:60",
                          "10000-01-01 00:00:00", "-5", "1e9", "inf", "nan" }) do
      assert.is_nil(util.parse_time(tm), tm)
      code, _, err = H.lua_run("bin/ese", { "restore", set, w:path("dest"), "--to-time", tm })
      assert.are.equal(2, code, tm)
      assert.matches("option --to-time needs a time", err, 1, true)
    end
    assert.is_false(H.exists(w:path("dest")))
  end)
end)

describe("ese restore --to-time: the summary line", function()
  local backup = require "ese.backup"
  local w, first, second
  setup(function()
    w = H.world()
    local t, _, _, inst = w:table()
    t:put("k", "v")
    first, second = w:path("first"), w:path("second")
    backup.run(inst, first)
    backup.run(inst, second)      -- right after the first: its logs hold no commit
  end)
  teardown(function() w:cleanup() end)

  local function second_line(set, dest, tm)
    local code, out, err = H.lua_run("bin/ese", { "restore", set, w:path(dest), "--to-time", tm, "--allow-partial" })
    assert.are.equal(0, code, err)
    return out:match("\n(point in time [^\n]*)\n$")
  end

  it("no commit replayed: 'last commit: none'; TIME rounded to the microsecond carries into the next second",
     function()
    -- before: "point in time 2030-12-31 23:59:59.000000 UTC: ..., last commit none UTC": the
    -- fraction .9999996 printed as .000000 without its carry, and "none UTC"
    local line = second_line(second, "d-none", "2030-12-31 23:59:59.9999996")
    assert.matches("^point in time 2031%-01%-01 00:00:00%.000000 UTC: NOT reached %(%-%-allow%-partial%); "
      .. "replayed to generation %d+, last commit: none$", line)
    line = second_line(first, "d-one", "2030-12-31 23:59:59.25")
    assert.matches("^point in time 2030%-12%-31 23:59:59%.250000 UTC: NOT reached %(%-%-allow%-partial%); "
      .. "replayed to generation %d+, last commit %d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d%.%d%d%d%d%d%d UTC$", line)
  end)
end)

describe("ese.backup option types", function()
  local backup = require "ese.backup"
  local fs = ese.fs
  local w, inst, root, set
  setup(function()
    w = H.world()
    local t, _
    t, _, _, inst = w:table()
    root = w:path("root")
    for i = 1, 2 do
      t:put("k" .. i, "v")
      backup.run(inst, root .. "/f" .. i)
    end
    set = root .. "/f2"
  end)
  teardown(function() w:cleanup() end)

  -- A value of each wrong type for an option of each kind.
  local WRONG = {
    boolean = { "no", 0 },
    integer = { "1", 1.5, true },
    number = { "1", true },
    string = { 1, false },
    ["function"] = { 42, "print", {} },
  }
  local CALLS = {
    run = { kinds = { incremental = "boolean", copy = "boolean", truncate = "boolean", chunk_size = "integer",
                      on_progress = "function", compress = "string", level = "integer" },
            call = function(o) local r = backup.run(inst, w:path("new"), o); return r end },
    run_to = { kinds = { incremental = "boolean", copy = "boolean", truncate = "boolean", chunk_size = "integer",
                         on_progress = "function", prefix = "string", compress = "string", level = "integer" },
               call = function(o) local r = backup.run_to(inst, function() end, o); return r end },
    verify = { kinds = { on_progress = "function" },
               call = function(o) local r = backup.verify(set, o); return r end },
    restore = { kinds = { to_generation = "integer", live_log_path = "string", on_progress = "function",
                          overwrite = "boolean", base_name = "string", verify = "boolean", archive_path = "string",
                          to_time = "number", allow_partial = "boolean", restore_command = "string" },
                call = function(o) local r = backup.restore(set, w:path("new"), o); return r end },
    expire = { kinds = { keep_full = "integer", keep_within = "number", archive_path = "string",
                         dry_run = "boolean", now = "number", on_progress = "function" },
               call = function(o)
                 o.keep_full = o.keep_full or 1
                 if o.dry_run == nil then o.dry_run = false end
                 local r = backup.expire(root, o)   -- not a tail call: the error names this line
                 return r
               end },
  }

  it("a value of another type for any option of run, run_to, verify, restore, expire: an argument error "
     .. "naming it, nothing done", function()
    -- before: dry_run = "no" was a dry run, keep_full = "1" kept one set,
    -- truncate = "no" truncated, verify = "no" verified, on_progress = 42
    -- failed only when first called (expire: after the first deletion;
    -- ese.restore: with dest half written), chunk_size = "4096" ran
    for fname, c in pairs(CALLS) do
      for opt, kind in pairs(c.kinds) do
        for _, bad in ipairs(WRONG[kind]) do
          local what = ("backup.%s %s = %s"):format(fname, opt, tostring(bad))
          local e = H.catch(c.call, { [opt] = bad })
          assert.are.equal("string", type(e), what .. ": " .. tostring(e))
          assert.matches(("backup.%s: %s must be %s"):format(fname, opt, kind == "integer" and "an" or "a"),
            e, 1, true)
          assert.matches("hostile11_spec.lua:%d+: ", e, 1)    -- the caller's line
          assert.is_false(H.exists(w:path("new")), what)
          assert.are.same({ "f1", "f2" }, fs.list(root), what)
        end
      end
    end
    -- to_generation 0 or below: the argument error ese.restore gives, before
    -- the set is read (it was JET_errEndingRestoreLogTooLow after a verify)
    for _, g in ipairs({ 0, -1 }) do
      local e = H.catch(CALLS.restore.call, { to_generation = g })
      assert.are.equal("string", type(e), tostring(e))
      assert.matches("backup.restore: to_generation must be positive", e, 1, true)
      assert.matches("hostile11_spec.lua:%d+: ", e, 1)
      assert.is_false(H.exists(w:path("new")))
    end
    -- the backup never began: a new one runs; integers may be floats of an integer value
    backup.run(inst, w:path("after"), { copy = true, compress = "zstd", level = 2.0, chunk_size = 65536.0 })
    assert.are.equal(0, #backup.expire(root, { keep_full = 2.0 }).delete)
    assert.is_table(backup.verify(w:path("after"), { on_progress = setmetatable({}, { __call = function() end }) }))
  end)

  it("ese.restore: on_progress not a function, to_generation or to_time a string: argument errors before "
     .. "anything is written", function()
    -- before: on_progress = 42 raised "attempt to call a number value" after
    -- the first step, dest made and half written; "3" and "1796541000" were read as numbers
    local dest = w:path("new")
    for _, o in ipairs({ { on_progress = 42 }, { to_generation = "3" }, { to_time = "1796541000" } }) do
      local k = next(o)
      H.expect_argerror(k .. " must be", ese.restore, set, dest, o)
      assert.is_false(H.exists(dest), k)
    end
  end)
end)

describe("argument errors of ese.restore name the caller's line", function()
  local backup = require "ese.backup"
  local w, set
  setup(function() w, set = one_set_world() end)
  teardown(function() w:cleanup() end)

  -- not tail calls: the error names these lines
  local function restore(...) local r = ese.restore(...); return r end
  local function backup_restore(...) local r = backup.restore(...); return r end

  it("directly or through backup.restore: this file's line, 'restore', argument #3, no path of ese's own",
     function()
    -- before: "./lua/ese/init.lua:61: bad argument #3 to 'restore_begin' (...)", and
    -- "#-1" for a path option that is not a string
    local dest = w:path("dest")
    for _, c in ipairs({ { restore, { to_time = -1 }, "to_time must be seconds" },
                         { restore, { bogus = 1 }, "unknown option 'bogus'" },
                         { restore, { archive_path = {} }, "archive_path must be a string" },
                         { restore, { live_log_path = 5 }, "live_log_path must be a string" },
                         { restore, { base_name = true }, "base_name must be a string" },
                         { restore, { on_progress = 42 }, "on_progress must be a function" },
                         { backup_restore, { to_time = -1 }, "to_time must be seconds" },
                         { backup_restore, { allow_partial = true }, "allow_partial needs to_time" } }) do
      local e = H.catch(c[1], set, dest, c[2])
      assert.are.equal("string", type(e), tostring(e))
      assert.matches("^[^\n]*hostile11_spec%.lua:%d+: bad argument #3 to 'restore' %(" .. c[3], e)
      assert.is_nil(e:find("init.lua", 1, true), e)
      assert.is_nil(e:find("backup.lua", 1, true), e)
      assert.is_false(H.exists(dest))
    end
    -- called by pcall itself (a C function): no position at all
    local e = H.catch(ese.restore, set, dest, { to_time = -1 })
    assert.matches("^bad argument #3 to 'restore' %(to_time must be seconds", e)
  end)
end)

describe("messages about a set's or a file's kind", function()
  local backup = require "ese.backup"
  it("'an incremental one', 'a special file': no 'a incremental', no 'a other'", function()
    -- before: "a chain starts with a full (or copy) set, not a incremental
    -- one"; a FIFO named like a log in the archive: "a other, not a log file"
    local w = H.world()
    finally(function() w:cleanup() end)
    local t, _, _, inst = w:table()
    t:put("a", "1")
    backup.run(inst, w:path("root/f1"))
    t:put("b", "1")
    backup.run(inst, w:path("root/f1-i1"), { incremental = true })
    local e = H.expect_jet("JET_errMissingFullBackup", backup.verify, w:path("root/f1-i1"))
    assert.matches("a chain starts with a full (or copy) set, not an incremental one", e.detail, 1, true)
    local archive = w:path("archive")
    assert(os.execute("mkdir -p " .. H.q(archive) .. " && mkfifo " .. H.q(archive .. "/" .. H.log_name(1))))
    local plan = backup.expire(w:path("root"), { keep_full = 1, archive_path = archive })
    assert.matches("^a special file, not a log file", plan.reasons[archive .. "/" .. H.log_name(1)])
  end)
end)
