-- Hostile review of long values and cursors (issue 11): transactions that
-- free and reuse long-value pages, slices with absurd offsets, keys of
-- 255 / 256 bytes through every entry, cursors whose loop body rewrites
-- the table, backups streaming while freed pages are reused, a free list
-- over several free-list pages, damaged free lists and directory chains.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

local LV = require "support.lv_sweep"
local val = LV.val

local function check_file(path)
  local ok, e = pcall(ese.file_info, path, true)
  assert.is_true(ok, tostring(e and (e.detail or e)))
  local code, out, err = H.lua_run("bin/ese", { "check", path })
  assert.are.equal(0, code, out .. err)
end

local function all(t)
  local got = {}
  for k, v in t:pairs() do got[k] = v end
  return got
end

describe("review: long values in transactions", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("a rolled-back replace and delete free nothing: later long values do not overwrite the kept ones", function()
    local t, s, _, inst = w:table()
    t:put("a", val(200000, 1))
    t:put("b", val(90000, 2))
    s:begin_transaction()
    t:put("a", val(50000, 3))
    t:delete("b")
    t:put("a", val(300000, 4))        -- the same key twice in one transaction
    s:rollback()
    for i = 1, 6 do t:put("n" .. i, val(60000, 10 + i)) end   -- would reuse wrongly freed pages
    assert.are.equal(val(200000, 1), t:get("a"))
    assert.are.equal(val(90000, 2), t:get("b"))
    inst:term({ complete = true })
    check_file(w:path("app.edb"))
  end)

  it("delete then put, put then delete, put twice of one key in one transaction; then more churn", function()
    local t, s, _, inst = w:table()
    t:put("a", val(100000, 1))
    t:put("b", val(100000, 2))
    t:put("c", val(100000, 3))
    s:begin_transaction()
    t:delete("a")
    t:put("a", val(120000, 4))
    t:put("b", val(70000, 5))
    t:delete("b")
    t:put("c", val(30000, 6))
    t:put("c", val(140000, 7))
    t:put("d", val(20000, 8))
    t:delete("d")
    s:commit_transaction()
    local want = { a = val(120000, 4), c = val(140000, 7) }
    assert.are.same(want, all(t))
    for i = 1, 5 do
      t:put("a", val(50000 * i, 20 + i))
      want.a = val(50000 * i, 20 + i)
      assert.are.same(want, all(t))
    end
    inst:term({ complete = true })
    check_file(w:path("app.edb"))
    local t2 = w:reopen()
    assert.are.same(want, all(t2))
  end)
end)

describe("review: slices through Lua", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("huge, negative, NaN, infinite and fractional offsets and lengths", function()
    local t, s = w:table()
    local v = val(30000, 1)
    t:put("k", v)
    t:put("s", "short")
    for _, key in ipairs({ "k", "s" }) do
      local whole = key == "k" and v or "short"
      assert.are.equal("", t:get(key, 2 ^ 53))
      assert.are.equal("", t:get(key, math.maxinteger))
      assert.are.equal("", t:get(key, math.maxinteger, math.maxinteger))
      assert.are.equal(whole, t:get(key, 0, 2 ^ 53))
      assert.are.equal(whole:sub(2), t:get(key, 1, math.maxinteger))
      assert.are.equal(whole:sub(-3), t:get(key, #whole - 3, math.maxinteger))
      assert.are.equal("", t:get(key, #whole))
      assert.are.equal("", t:get(key, #whole + 1, 0))
      assert.are.equal("", t:get(key, 0, 0))
      assert.has_error(function() t:get(key, -1) end)
      assert.has_error(function() t:get(key, 0, -1) end)
      assert.has_error(function() t:get(key, math.mininteger) end)
      assert.has_error(function() t:get(key, 0 / 0) end)
      assert.has_error(function() t:get(key, 0, 0 / 0) end)
      assert.has_error(function() t:get(key, math.huge) end)
      assert.has_error(function() t:get(key, 0, -math.huge) end)
      assert.has_error(function() t:get(key, 1.5) end)
      assert.has_error(function() t:get(key, 2 ^ 63) end)
    end
    assert.is_nil(t:get("missing", 5, 5))
    s:begin_transaction()                     -- a value of the write set
    local v2 = val(50000, 2)
    t:put("k", v2)
    assert.are.equal(v2:sub(40001, 40010), t:get("k", 40000, 10))
    assert.are.equal("", t:get("k", 2 ^ 53, 2 ^ 53))
    s:rollback()
    assert.are.equal(v:sub(8161, 8200), t:get("k", 8160, 40))
  end)
end)

describe("review: keys of 255 and 256 bytes through every entry", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("255 works everywhere; 256 is JET_errKeyTooBig from put, get, delete, seek, pairs, count", function()
    local t, s, _, inst = w:table()
    local k255, k256 = ("k"):rep(255), ("k"):rep(256)
    local lv = val(40000, 1)
    t:put(k255, lv)
    t:put("a", "x")
    assert.are.equal(lv, t:get(k255))
    assert.are.equal(lv:sub(9000, 9999), t:get(k255, 8999, 1000))
    local k, v = t:seek(k255, "eq")
    assert.are.equal(k255, k)
    assert.are.equal(lv, v)
    assert.are.equal(k255, (t:seek(("k"):rep(254), "gt")))
    assert.are.equal(1, t:count(k255, k255))
    assert.are.equal(2, t:count("a", k255))
    local n = 0
    for key in t:pairs(k255, k255) do n = n + 1 assert.are.equal(k255, key) end
    assert.are.equal(1, n)
    n = 0
    for key in t:pairs(k255, k255, { reverse = true }) do n = n + 1 assert.are.equal(k255, key) end
    assert.are.equal(1, n)
    assert.are.equal(k255, (t:last()))
    H.expect_jet("JET_errKeyTooBig", t.put, t, k256, "v")
    H.expect_jet("JET_errKeyTooBig", t.put, t, k256, lv)
    for _, txn in ipairs({ false, true }) do
      if txn then s:begin_transaction() end
      H.expect_jet("JET_errKeyTooBig", t.put, t, k256, lv)
      H.expect_jet("JET_errKeyTooBig", t.seek, t, k256, "eq")
      H.expect_jet("JET_errKeyTooBig", t.seek, t, k256, "ge")
      H.expect_jet("JET_errKeyTooBig", t.count, t, k256, nil)
      H.expect_jet("JET_errKeyTooBig", t.count, t, nil, k256)
      H.expect_jet("JET_errKeyTooBig", function() for _ in t:pairs(k256) do end end)
      H.expect_jet("JET_errKeyTooBig", function() for _ in t:pairs(nil, k256, { reverse = true }) do end end)
      H.expect_jet("JET_errKeyTooBig", t.get, t, k256)
      H.expect_jet("JET_errKeyTooBig", t.get, t, k256, 0, 1)
      H.expect_jet("JET_errKeyTooBig", t.delete, t, k256)
      t:delete(k255)
      assert.is_nil(t:get(k255))
      t:put(k255, lv)
      if txn then s:commit_transaction() end
    end
    assert.are.equal(lv, t:get(k255))
    inst:term({ complete = true })
    check_file(w:path("app.edb"))
  end)
end)

describe("review: cursors while the loop body rewrites the table", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  for _, rev in ipairs({ false, true }) do
    it(("pairs%s: each record replaced by a long value, its neighbour deleted, new keys inserted (splits)")
       :format(rev and " reverse" or ""), function()
      local t, _, _, inst = w:table()
      for i = 1, 200 do t:put(("k%04d"):format(i), "v" .. i) end
      local seen, order = {}, {}
      for k, v in t:pairs(nil, nil, rev and { reverse = true } or nil) do
        assert.is_nil(seen[k], "twice: " .. k)
        seen[k] = true
        order[#order + 1] = k
        local i = tonumber(k:match("^k(%d+)$"))
        if not i then                                      -- a key the loop inserted
          assert.are.equal(("y"):rep(1500), v)
          goto continue
        end
        assert.are.equal("v" .. i, v)
        t:put(k, val(9000 + i, i))                         -- the current record: now a long value
        local nb = ("k%04d"):format(rev and i - 1 or i + 1)
        if i % 3 == 0 then t:delete(nb) end                -- the next record is gone
        t:put(k .. "_x", ("y"):rep(1500))                  -- a key between this one and the next
        if #order > 1000 then error("runaway loop") end
        ::continue::
      end
      for i = 2, #order do
        if rev then assert.is_true(order[i] < order[i - 1]) else assert.is_true(order[i] > order[i - 1]) end
      end
      for i = 1, 200 do
        local k = ("k%04d"):format(i)
        if seen[k] then assert.are.equal(val(9000 + i, i), t:get(k)) end
      end
      inst:term({ complete = true })
      check_file(w:path("app.edb"))
    end)
  end

  it("the position hint across another session's commit, a rollback, a failed put and a detach/attach", function()
    local t, s, db, inst = w:table()
    for i = 1, 300 do t:put(("k%04d"):format(i), ("v"):rep(100)) end
    assert.are.equal("k0100", (t:seek("k0100", "eq")))
    local s2 = inst:begin_session()
    local db2 = s2:open_database(w:path("app.edb"))
    local t2 = s2:open_table(db2, "t")
    for i = 1, 300 do t2:put(("k%04d_"):format(i), val(3000, i)) end   -- splits every leaf
    t2:delete("k0101")
    assert.are.equal("k0100_", (t:seek("k0100", "gt")))
    assert.are.equal("k0101_", (t:seek("k0101", "ge")))
    assert.are.equal("k0102", (t:seek("k0101_", "gt")))
    assert.are.equal(299 + 300, t:count())
    s:begin_transaction()
    t:put("k0150a", "in txn")
    assert.are.equal("k0150a", (t:seek("k0150_", "gt")))
    s:rollback()
    assert.are.equal("k0151", (t:seek("k0150_", "gt")))
    H.expect_jet("JET_errKeyTooBig", t.put, t, ("z"):rep(256), "x")
    assert.are.equal("k0151", (t:seek("k0150_", "gt")))
    t:close()
    t2:close()
    db:close()
    db2:close()
    s2:end_session()
    s:detach_database(w:path("app.edb"))
    s:attach_database(w:path("app.edb"))
    local db3 = s:open_database(w:path("app.edb"))
    local t3 = s:open_table(db3, "t")
    assert.are.equal("k0151", (t3:seek("k0150_", "gt")))
    assert.are.equal(599, t3:count())
  end)
end)

describe("review: a free list over several free-list pages (4 KiB pages)", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("free and reuse 3000 pages at once, many times; reopen; `ese check` clean; file bounded", function()
    local t, _, _, inst = w:table({ page_size = 4096 })
    local want = {}
    for r = 1, 4 do
      for i = 1, 3 do
        local n = (r % 2 == 0) and (4 << 20) + i * 1000 or 3000 * r + i
        t:put("big" .. i, val(n, r * 10 + i))
        want["big" .. i] = val(n, r * 10 + i)
      end
      if r == 3 then t:delete("big2") want.big2 = nil end
      assert.are.same(want, all(t))
    end
    inst:term({ complete = true })
    check_file(w:path("app.edb"))
    assert.is_true(H.file_size(w:path("app.edb")) < 3 * 13 * (1 << 20), "file " .. H.file_size(w:path("app.edb")))
    local t2, _, _, i2 = w:reopen({ page_size = 4096 })
    assert.are.same(want, all(t2))
    t2:put("big1", val(5 << 20, 99))
    want.big1 = val(5 << 20, 99)
    i2:term({ complete = true })
    check_file(w:path("app.edb"))
  end)
end)

describe("review: backups during long-value churn", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("a full backup whose database copy streams while freed pages are reused restores the last commit", function()
    local t, _, _, inst = w:table({ log_file_size = 64, checkpoint_depth = 0, cache_size = 64 * 8192 })
    local want = {}
    for i = 1, 8 do
      t:put("k" .. i, val(40000 + i * 1000, i))
      want["k" .. i] = val(40000 + i * 1000, i)
    end
    local set = w:path("set")
    assert(os.execute("mkdir -p " .. H.q(set)))
    inst:begin_external_backup()
    local dbs = inst:get_attach_info()
    local r = inst:open_file(dbs[1])
    local size = r:size()
    local out = assert(io.open(set .. "/app.edb", "wb"))
    local copied, round = 0, 0
    while copied < size do
      copied = copied + r:copy_to(out, 8 * 8192)
      round = round + 1
      for j = 1, 2 do                                     -- churn: frees and reuses pages already copied or not
        local k = "k" .. ((round * 3 + j) % 8 + 1)
        local v = val(30000 + (round * 7 + j) % 20 * 2000, round * 100 + j)
        if (round + j) % 5 == 0 then t:delete(k) want[k] = nil else t:put(k, v) want[k] = v end
      end
    end
    out:close()
    r:close()
    local logs = inst:get_log_info()
    for _, p in ipairs(logs) do H.stream(inst, p, set) end
    inst:end_external_backup()
    local dest = w:path("dest")
    ese.restore({ set }, dest)
    check_file(dest .. "/app.edb")
    local i2 = w:create(nil, { system_path = dest, log_path = dest })
    i2:init()
    local t2 = H.open_table(i2, dest)
    assert.are.same(want, all(t2))
  end)

  it("an incremental backup after long-value churn is about the changed data, not the database", function()
    local t, _, _, inst = w:table({ log_file_size = 1024 })
    for i = 1, 20 do t:put("k" .. i, val(200000, i)) end      -- ~4 MiB
    local full = w:path("full")
    backup.run(inst, full)
    t:put("k1", val(150000, 101))                             -- ~150 KB changed
    t:delete("k2")
    local inc = w:path("inc")
    backup.run(inst, inc, { incremental = true })
    local bytes = 0
    for _, f in ipairs(H.ls(inc)) do bytes = bytes + H.file_size(inc .. "/" .. f) end
    assert.is_true(bytes < 3 * (1 << 20), "incremental set of " .. bytes .. " bytes")
    local dest = w:path("dest")
    ese.restore({ full, inc }, dest)
    check_file(dest .. "/app.edb")
  end)
end)

-- A crash sweep over a free list of several free-list pages (4 KiB pages:
-- 1016 entries a page; each replace frees about 1030 pages), so that a
-- crash falls while a free-list page is made or used up as a page: the
-- child notes each commit after it returns (L: lazy), recovery must give a
-- state between the last durable commit noted and the one after the last
-- noted, and `ese check` must pass.
local BIG = 1030 * 4064
local NTX = 6

describe("review: crashes while the free list grows and shrinks by whole free-list pages", function()
  local w, wl
  before_each(function()
    w = H.world()
    wl = LV.workload(w, {
      ntx = NTX,
      txn_src = ([[return function(n)
        return ("b%d"):format(n % 2), n % 4 ~= 0 and (n % 3 == 0 and 5000 + n or BIG + n * 100) or nil, n % 3 == 1
      end]]):gsub("BIG", tostring(BIG)),
      opts_src = "log_file_size = 1024, page_size = 4096, cache_size = 256 * 4096, checkpoint_depth = 0",
      opts = { page_size = 4096 },
      after = function(t) t:put("after", val(BIG, 77)) end,   -- the recovered free list is used
    })
  end)
  after_each(function() w:cleanup() end)
  local function run(...) return wl.run(...) end
  local function check(...) return wl.check(...) end

  it("crash and power-cut points lose no commit and leave a consistent free list", function()
    local countf = w:path("count")
    local code, last, durable, err = run(w:path("base"), "ESE_FAULT_COUNT=" .. H.q(countf))
    assert.are.equal(0, code, err)
    assert.are.equal(NTX, last)
    check(w:path("base"), last, durable, "no fault")
    local total = tonumber(H.read_file(countf):match("%d+"))
    local points = {}
    for i = 1, 4 do points[#points + 1] = ("crash:%d"):format(1 + (total - 1) * i // 5) end
    for i = 1, 2 do points[#points + 1] = ("power:%d:%d"):format(1 + (total - 1) * (2 * i - 1) // 4, 4 * i + i % 2) end
    points[#points + 1] = ("torn:%d:1024:head"):format(1 + (total - 1) * 3 // 7)
    for i, fault in ipairs(points) do
      local dir = w:path("p" .. i)
      local _, seen, safe = run(dir, "ESE_FAULT=" .. fault)
      check(dir, seen, safe, fault)
    end
  end)

  -- Soft recovery cut by a crash of its own at several points, then run
  -- again: replaying free-list changes twice must give the same state.
  it("a recovery that crashes part-way and runs again replays the free list idempotently", function()
    local countf = w:path("count")
    local _, last0 = run(w:path("base"), "ESE_FAULT_COUNT=" .. H.q(countf))
    assert.are.equal(NTX, last0)
    local total = tonumber(H.read_file(countf):match("%d+"))
    local crashed = w:path("crashed")
    local _, seen, safe = run(crashed, "ESE_FAULT=" .. ("crash:%d"):format(total * 3 // 4))
    assert.is_true(seen >= 2 and seen < NTX, "cut at " .. seen)
    local RECOVER = [[
      local ese = require "ese"
      local dir = ...
      local inst = ese.create_instance("lvrec", { system_path = dir, log_path = dir, page_size = 4096 })
      inst:init()
      inst:term({ complete = true })
    ]]
    local rcount = w:path("rcount")
    local probe = w:path("probe")
    H.copy_dir(crashed, probe)
    local code, _, err = H.lua_child(RECOVER, { probe }, "ESE_FAULT_COUNT=" .. H.q(rcount))
    assert.are.equal(0, code, err)
    local rtotal = tonumber(H.read_file(rcount):match("%d+"))
    assert.is_true(rtotal > 10, "recovery events: " .. rtotal)
    for i = 1, 3 do
      local dir = w:path("r" .. i)
      H.copy_dir(crashed, dir)
      H.lua_child(RECOVER, { dir }, "ESE_FAULT=" .. ("crash:%d"):format(1 + (rtotal - 1) * i // 4))
      check(dir, seen, safe, "recovery crash " .. i)
    end
  end)
end)

describe("review: damaged long values and free lists on disk", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  local PS = 4096
  local function patch_page(path, pgno, fn) H.patch_page(path, PS, pgno, fn) end
  local function pages_of_type(path, ty) return H.pages_of_type(path, PS, ty) end
  local function set32(pg, off, v) return pg:sub(1, off) .. string.pack("<I4", v) .. pg:sub(off + 5) end

  -- "a": a value of three directory pages; "b" freed: a free list
  local A = 2100 * (PS - 32) + 7
  local function made()
    local t, _, _, inst = w:table({ page_size = PS })
    t:put("a", val(A, 1))
    t:put("b", val(50000, 2))
    t:delete("b")
    inst:term({ complete = true })
    return w:path("app.edb")
  end
  local function reopen() return (w:reopen({ page_size = PS })) end

  it("a directory chain that loops (last -> first, first -> itself): reads and check say corrupted", function()
    local path = made()
    local dirs, all6 = {}, pages_of_type(path, 6)
    for _, d in ipairs(all6) do                   -- "a"'s: 1016, 1016 and 69 entries ("b"'s freed one: 13)
      local cnt = string.unpack("<I4", H.read_file(path), d * PS + 21)
      if cnt == 1016 or cnt == 69 then dirs[#dirs + 1] = d end
    end
    assert.are.equal(3, #dirs)
    local saved = assert(H.read_file(path))
    local first, last
    for _, d in ipairs(dirs) do
      local data = H.read_file(path)
      local nxt = string.unpack("<I4", data, d * PS + 25)
      if nxt == 0 then last = d end
    end
    local data = H.read_file(path)
    for _, d in ipairs(dirs) do
      local referenced = false
      for _, e in ipairs(dirs) do
        if string.unpack("<I4", data, e * PS + 25) == d then referenced = true end
      end
      if not referenced then first = d end
    end
    for _, edit in ipairs({ { last, first }, { first, first } }) do
      H.write_file(path, saved)
      patch_page(path, edit[1], function(pg) return set32(pg, 24, edit[2]) end)
      H.expect_jet("JET_errDatabaseCorrupted", ese.file_info, path, true)
      local t = reopen()
      H.expect_jet("JET_errDatabaseCorrupted", t.get, t, "a")
      H.expect_jet("JET_errDatabaseCorrupted", t.get, t, "a", A - 10, 5)
      H.expect_jet("JET_errDatabaseCorrupted", function() for _ in t:pairs() do end end)
      H.expect_jet("JET_errDatabaseCorrupted", t.put, t, "a", "short")   -- freeing it
      w:cleanup()
      w = H.world()
      path = made()
      saved = assert(H.read_file(path))
    end
  end)

  it("a free list whose page names itself next (a cycle): check says so; allocations do not loop", function()
    local path = made()
    local fl = pages_of_type(path, 7)[1]
    patch_page(path, fl, function(pg) return set32(pg, 24, fl) end)
    H.expect_jet("JET_errDatabaseCorrupted", ese.file_info, path, true)
    local t = reopen()
    for i = 1, 4 do
      local ok = pcall(t.put, t, "c" .. i, val(60000, i))
      if not ok then break end
    end
    assert.are.equal(val(A, 1), t:get("a"))
  end)
end)

describe("review: reads of long values and the cache", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("count and a delete's lookup in a transaction do not read long values (a damaged one is counted)", function()
    local t, _, _, inst = w:table()
    for i = 1, 6 do t:put(("k%d"):format(i), val(100000, i)) end
    inst:term({ complete = true })
    local path = w:path("app.edb")
    local data = assert(H.read_file(path))
    local PS, victim = 8192, nil
    for p = 3, #data // PS - 1 do
      if data:byte(p * PS + 17) == 5 then victim = p break end   -- a long value's data page
    end
    H.flip_byte(path, victim * PS + 100, 0xff)                   -- its checksum fails now
    local t2, s2 = w:reopen()
    H.expect_jet("JET_errReadVerifyFailure", function() for _ in t2:pairs() do end end)
    assert.are.equal(6, t2:count())
    assert.are.equal(3, t2:count("k2", "k4"))
    s2:begin_transaction()
    for i = 1, 6 do t2:delete(("k%d"):format(i)) end  -- the lookup reads keys only
    assert.are.equal(0, t2:count())
    s2:rollback()                                      -- (freeing needs the page: a commit may fail)
    assert.are.equal(6, t2:count())
  end)

  it("reading long values outside commits keeps the cache near its size (cache_size 1 MiB, 128 MiB read)", function()
    H.assert_child_growth([[
      local ese = require "ese"
      local dir = ...
      local p = { system_path = dir, log_path = dir, cache_size = 1 << 20, log_file_size = 16384 }
      local inst = ese.create_instance("w1", p)
      inst:init()
      local s = inst:begin_session()
      local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
      local v = ("x"):rep(8 << 20)
      for i = 1, 16 do t:put(("k%02d"):format(i), v) end
      v = nil
      inst:term({ complete = true })
      collectgarbage()
      inst = ese.create_instance("w2", p)
      inst:init()
      s = inst:begin_session()
      s:attach_database(dir .. "/app.edb")
      t = s:open_table(s:open_database(dir .. "/app.edb"), "t")
      local before = rss()
      for i = 1, 16 do
        assert(#t:get(("k%02d"):format(i)) == 8 << 20)
        collectgarbage()
      end
      assert(t:count() == 16)
      print("GROWTH " .. (rss() - before))
      inst:term({ complete = true })
    ]], { w.dir }, 64, "reading 128 MiB with a 1 MiB cache")
  end)
end)

describe("review: directory-page boundaries (4 KiB pages: 1016 data pages of 4064 bytes a directory)", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("values of exactly one and two directories, one byte more or less; slices across the boundary", function()
    local t, _, _, inst = w:table({ page_size = 4096 })
    local D, E = 4064, 1016
    local B = D * E                                   -- bytes one directory page lists
    local sizes = { B - 1, B, B + 1, 2 * B, 2 * B + 1 }
    for i, n in ipairs(sizes) do t:put("v" .. i, val(n, i)) end
    for i, n in ipairs(sizes) do
      local v = val(n, i)
      assert.are.equal(v, t:get("v" .. i), "size " .. n)
      for _, at in ipairs({ B - D - 1, B - 3, B - 1, B, B + 1, 2 * B - 2, n - 1 }) do
        if at >= 0 and at < n then
          assert.are.equal(v:sub(at + 1, at + D + 9), t:get("v" .. i, at, D + 9), ("size %d at %d"):format(n, at))
        end
      end
    end
    inst:term({ complete = true })
    check_file(w:path("app.edb"))
  end)
end)
