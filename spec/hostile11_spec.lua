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

describe("backup.expire with fractional seconds", function()
  local backup = require "ese.backup"
  local w, root
  setup(function()
    w = H.world()
    root = w:expire_root(2)
  end)
  teardown(function() w:cleanup() end)

  it("keep_within 1.5 and now = ese.fs.now() make a plan (before: os.date / %d raised a Lua error)", function()
    local plan = backup.expire(root, { keep_full = 1, keep_within = 1.5, now = ese.fs.now() + 3600.5 })
    assert.are.equal(1, #plan.delete)
    assert.matches("f1$", plan.delete[1])
    assert.matches("not within 1.5s", plan.reasons[plan.delete[1]], 1, true)
    plan = backup.expire(root, { keep_full = 1, keep_within = 7200.25, now = ese.fs.now() + 0.5 })
    assert.are.equal(0, #plan.delete)
  end)

  it("now NaN or infinite: a plain argument error, nothing read", function()
    for _, now in ipairs({ 0 / 0, math.huge, -math.huge }) do
      H.expect_argerror("now must be a number", backup.expire, root, { keep_full = 1, now = now })
    end
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
