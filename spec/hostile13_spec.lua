-- Probes of a hostile tester against continuous backup (session 13): each
-- case failed before its fix.
local H = require "support.helpers"
local ese = require "ese"
local backup = require "ese.backup"
local fs = ese.fs

describe("two instances in one folder whose base names differ only by case", function()
  -- before: the log scan matched the base name case-insensitively, so
  -- "EDB"'s init took edb.log for its own current log, found no EDB.chk and
  -- failed opening EDB.log: JET_errFileNotFound
  local function gen(dir, base) return ese.file_info(dir .. "/" .. base .. ".log").generation end

  it("\"edb\" and \"EDB\" both run, roll, crash and recover, back up and restore independently", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local tabs, insts = {}, {}
    for i, base in ipairs({ "edb", "EDB" }) do
      local t, _, _, inst = w:table_at(w.dir, base .. ".edb", { base_name = base, log_file_size = 64 })
      tabs[i], insts[i] = t, inst
    end
    -- both write, each rolls its own log a few times
    for i, base in ipairs({ "edb", "EDB" }) do
      local start = gen(w.dir, base)
      local n = 0
      while gen(w.dir, base) < start + 3 do
        n = n + 1
        tabs[i]:put(("%s%05d"):format(base, n), ("v"):rep(1500))
      end
      tabs[i]:put("count", tostring(n))
    end
    for _, base in ipairs({ "edb", "EDB" }) do
      assert.is_true(H.exists(w:path(base .. "00000001.log")), base .. "'s own first generation")
      assert.is_true(H.exists(w:path(base .. ".chk")), base .. "'s own checkpoint")
    end
    -- a backup of "EDB" holds only its own stream
    local set = w:path("set")
    backup.run(insts[2], set)
    for name in pairs(H.ls(set)) do
      assert.is_nil(name:match("^edb"), name .. " of the other instance in EDB's set")
    end
    -- a crash of both (no clean term): each recovers its own commits
    local counts = {}
    for i = 1, 2 do
      counts[i] = tabs[i]:get("count")
      insts[i]:term()
    end
    for i, base in ipairs({ "edb", "EDB" }) do
      local inst = w:open(nil, { base_name = base, log_file_size = 64 })
      local t = H.open_table(inst, w.dir, base .. ".edb")
      assert.are.equal(counts[i], t:get("count"))
      assert.are.equal(tonumber(counts[i]), H.count_prefix(H.contents(t), base))
      insts[i] = inst
    end
    insts[2]:term({ complete = true })
    insts[1]:term({ complete = true })
    local dest = w:path("dest")
    backup.restore(set, dest, { base_name = "EDB" })
    assert.is_true(H.exists(dest .. "/EDB.edb"))
  end)
end)

describe("restore to the exact time of a commit, read back from the engine", function()
  -- A set, then commits "a" and "b" (2 ms apart at least), a mark, then a
  -- later generation of "c" commits; every generation after the set archived.
  local w, set, arc, mark
  before_each(function()
    w = H.world()
    local t, _, _, inst = w:table({ log_file_size = 64 })
    t:put("base", "1")
    set, arc = w:path("set"), w:path("arc")
    backup.run(inst, set)
    t:put("a", "1")
    H.time_mark()
    t:put("b", "1")
    mark = H.time_mark()
    H.roll(t, w.dir, 2, "c")
    assert(os.execute("mkdir -p " .. H.q(arc)))
    for _, name in ipairs(fs.list(w.dir)) do
      local g = H.log_gen(name)
      if g and g > 0 then H.write_file(arc .. "/" .. name, assert(H.read_file(w:path(name)))) end
    end
  end)
  after_each(function() w:cleanup() end)

  local n = 0
  local function restore_to(tm)
    n = n + 1
    local dest = w:path("dest" .. n)
    local r = ese.restore(set, dest, { archive_path = arc, to_time = tm })
    assert.is_true(r.reached)
    return r, H.restored_keys(w, dest)
  end

  it("to_time = last_commit_time includes that commit; 1 µs earlier excludes it; last_commit_time_us is "
     .. "the exact microsecond", function()
    local r, keys = restore_to(mark)          -- b's time, as the engine reports it
    assert.is_true(keys.b and keys.a)
    assert.is_nil(keys.c0000001)
    local tb, tb_us = r.last_commit_time, r.last_commit_time_us
    assert.are.equal("integer", math.type(tb_us))
    assert.are.equal(tb_us, math.floor(tb * 1e6 + 0.5), "last_commit_time is last_commit_time_us in seconds")
    -- the same through backup.restore's report
    local br = backup.restore(set, w:path("bdest"), { archive_path = arc, to_time = mark })
    assert.are.equal(tb_us, br.last_commit_time_us)
    -- to_time at b's exact time: b is in, and it is the last commit restored
    r, keys = restore_to(tb)
    assert.is_true(keys.b, "the commit at to_time is restored")
    assert.are.equal(tb_us, r.last_commit_time_us)
    keys = select(2, restore_to(tb_us / 1e6))
    assert.is_true(keys.b)
    -- 1 µs before: b is out, a (2 ms earlier at least) is in
    for _, tm in ipairs({ tb - 1e-6, (tb_us - 1) / 1e6 }) do
      r, keys = restore_to(tm)
      assert.is_nil(keys.b, ("to_time %.6f, 1 µs before b's commit, restored b"):format(tm))
      assert.is_true(keys.a)
      assert.is_true(r.last_commit_time_us < tb_us)
    end
    -- the command line: b's time printed back in microseconds restores b, 1 µs less does not
    for _, c in ipairs({ { tb_us, true }, { tb_us - 1, nil } }) do
      local dest = w:path("cli" .. c[1])
      local code, out, err = H.lua_run("bin/ese", { "restore", set, dest, "--archive", arc, "--to-time",
        ("%d.%06d"):format(c[1] // 1000000, c[1] % 1000000) })
      assert.are.equal(0, code, out .. err)
      assert.are.equal(c[2], H.restored_keys(w, dest).b, out)
    end
  end)
end)
