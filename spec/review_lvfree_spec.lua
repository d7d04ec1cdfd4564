-- Hostile review of issue 11 (08c5427): long values' pages freed with an
-- LR_FREEPAGE mark (types 5, 6: bytes 16.. zeroed), the space page's flag
-- SPACE_MARKED deciding whether unmarked long-value pages on the free list
-- are taken, and collapse_root (a root left with one child takes its
-- content, repeated per level).  Snapshot readers of a value whose pages
-- were freed and taken again, cursors stepping over a collapse, a failed
-- commit (JET_errLogSequenceEnd) that freed pages, a file from before the
-- mark (flag unset, unmarked pages listed) used and then crashed, crash /
-- power / torn points over a workload of frees and collapses (replay
-- checked by ESE_VERIFY_REPLAY=1), recovery cut and run again, and a
-- backup streamed while a 2-level tree collapses.
local ese = require "ese"
local H = require "support.helpers"
local LV = require "support.lv_sweep"

local PS = 4096
local DCAP = PS - 32

local value = LV.text_val

local function key(i) return ("%012d"):format(i) end

local verified = H.verified

-- Table "t" of w's app.edb (attached by inst's first session) in a new
-- session of inst: t2, s2.
local function second_session(w, inst)
  local s2 = inst:begin_session()
  return s2:open_table(s2:open_database(w:path("app.edb")), "t"), s2
end

-- t holds model; then a crash of inst, recovery (the folder at the last
-- generation: it replays what was durable), the same model, and a file
-- that verifies.
local function crash_holds(w, t, inst, model)
  assert.are.same(model, H.contents(t))
  inst:term()
  local t3, _, _, i3 = w:reopen({ log_file_size = 64 })
  assert.are.same(model, H.contents(t3))
  i3:term({ complete = true })
  verified(w:path("app.edb"))
end

describe("review: long values freed and taken again under snapshots", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("a snapshot reads the old value (whole and by slices) after its pages were freed and reused", function()
    local t, _, _, inst = w:table({ page_size = PS })
    local A, B = value(1, 30 * DCAP + 7), value(2, 30 * DCAP + 7)
    t:put("a", A)
    local t2, s2 = second_session(w, inst)
    s2:begin_transaction()
    assert.are.equal(A, t2:get("a"))
    t:put("a", value(3, 100))                -- a's pages freed (marked)
    t:put("b", B)                            -- ... and taken again by b
    t:put("c", value(4, 30 * DCAP))
    assert.are.equal(A, t2:get("a"))
    assert.are.equal(A:sub(DCAP * 5 + 3, DCAP * 5 + 2 + 3 * DCAP), t2:get("a", DCAP * 5 + 2, 3 * DCAP))
    assert.is_nil(t2:get("b"))
    t:delete("b")
    t:put("d", value(5, 40 * DCAP))
    assert.are.equal(A, t2:get("a"))
    s2:rollback()
    assert.are.equal(value(3, 100), t2:get("a"))
    assert.are.equal(value(5, 40 * DCAP), t2:get("d"))
    inst:term()                              -- crash
    local t3, _, _, i3 = w:reopen({ page_size = PS })
    assert.are.equal(value(5, 40 * DCAP), t3:get("d"))
    assert.are.equal(value(4, 30 * DCAP), t3:get("c"))
    i3:term({ complete = true })
    verified(w:path("app.edb"))
  end)

  it("a cursor stepping through a table whose root collapses under it reads every record once", function()
    local t, s, _, inst = w:table({ page_size = PS })
    s:begin_transaction()
    for i = 1, 600 do t:put(key(i), ("v"):rep(200)) end   -- three levels at 4 KiB
    s:commit_transaction()
    local t2 = second_session(w, inst)
    local got, k = {}, t2:seek("", "ge")
    while k do
      got[#got + 1] = k
      if #got == 3 then
        for i = 10, 600 do t:delete(key(i)) end           -- the tree collapses to one leaf
      end
      k = t2:seek(k, "gt")
    end
    assert.are.same({ key(1), key(2), key(3), key(4), key(5), key(6), key(7), key(8), key(9) }, got)
    inst:term()
    local t3, _, _, i3 = w:reopen({ page_size = PS })
    assert.are.equal(9, t3:count())
    i3:term({ complete = true })
    verified(w:path("app.edb"))
  end)

  it("a snapshot iterates every record and long value of a tree collapsed and emptied after it began", function()
    local t, s, _, inst = w:table({ page_size = PS })
    s:begin_transaction()
    local model = {}
    for i = 1, 600 do
      local v = i % 50 == 0 and value(i, 3 * DCAP + i) or ("v"):rep(200)
      t:put(key(i), v)
      model[key(i)] = v
    end
    s:commit_transaction()
    local t2, s2 = second_session(w, inst)
    s2:begin_transaction()
    local first = t2:seek("", "ge")
    for i = 2, 600 do t:delete(key(i)) end                -- collapses; long values freed
    t:put("zz", value(9, 80 * DCAP))                       -- takes their pages
    local got, k, n = {}, first, 0
    while k do
      got[k] = t2:get(k)
      n = n + 1
      k = t2:seek(k, "gt")
    end
    assert.are.equal(600, n)
    assert.are.same(model, got)
    s2:rollback()
    assert.are.same({ [key(1)] = model[key(1)], zz = value(9, 80 * DCAP) }, H.contents(t2))
    inst:term({ complete = true })
    verified(w:path("app.edb"))
  end)

  it("a commit that fails (JET_errLogSequenceEnd) after freeing long values' pages changes nothing", function()
    local t, s, _, inst = w:at_last_generation(5)
    local t2, s2 = second_session(w, inst)
    local model = H.contents(t)
    local failed
    for i = 1, 400 do
      s2:begin_transaction()
      s:begin_transaction()
      local m = {}
      for k2, v in pairs(model) do m[k2] = v end
      local function put(k2, v) t:put(k2, v) m[k2] = v end
      put("L" .. i % 3, value(i, 9000 + 300 * (i % 7)))  -- replaces: pages freed and taken
      if i % 4 == 0 and m["M" .. (i - 1) % 5] then t:delete("M" .. (i - 1) % 5) m["M" .. (i - 1) % 5] = nil end
      put("M" .. i % 5, value(i + 1000, 12000))
      local ok, e = pcall(s.commit_transaction, s)
      if not ok then
        failed = e
        pcall(s.rollback, s)
        for k2, v in pairs(model) do assert.are.equal(v, t2:get(k2), "snapshot " .. k2) end
        s2:rollback()
        break
      end
      model = m
      s2:rollback()
    end
    assert.is_not_nil(failed)
    assert.are.equal("JET_errLogSequenceEnd", failed.name)
    crash_holds(w, t, inst, model)
  end)

  it("a failed commit (JET_errLogSequenceEnd) that collapsed the root and freed pages leaves the tree as it was",
     function()
    local t, s, _, inst = w:at_last_generation(300)        -- a two-level tree
    local model = H.contents(t)
    local first
    for k in pairs(model) do if not first or k < first then first = k end end
    local t2, s2 = second_session(w, inst)
    s2:begin_transaction()
    local cursor = t2:seek(first, "ge")
    s:begin_transaction()
    for k in pairs(model) do if k ~= first then t:delete(k) end end
    t:put("big", value(3, 200000))                          -- more than the last log file holds
    H.expect_jet("JET_errLogSequenceEnd", s.commit_transaction, s)
    pcall(s.rollback, s)
    assert.are.same(model, H.contents(t))
    local n, k = 0, cursor
    while k do n = n + 1 k = t2:seek(k, "gt") end
    assert.are.equal(300, n)
    s2:rollback()
    t:delete(first)                                          -- a small commit that fits
    model[first] = nil
    crash_holds(w, t, inst, model)
  end)
end)

-- A write that extends the file torn after its first bytes, the rest of
-- the page zeros anyway (a long value's last data page with a short tail,
-- a free-list page with few entries): the page verifies, so the ring
-- repair left it alone, recovery marked the file clean one part page short
-- and every attach refused it ("a clean database cut short").
describe("review: a torn write at the file's end of a page whose tail is zeros", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  local CHILD = [[
    local ese = require "ese"
    local dir, n = ...
    local inst = ese.create_instance("tail", { system_path = dir, log_path = dir, page_size = 4096 })
    inst:init()
    local s = inst:begin_session()
    local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
    t:put("v", ("x"):rep(tonumber(n)))
    inst:term({ complete = true })
  ]]

  for _, n in ipairs({ 3 * DCAP + 100, DCAP + 500 }) do
    it("recovery makes the file whole (value of " .. n .. " bytes)", function()
      local probe, dir = w:path("probe"), w:path("cut")
      assert(os.execute("mkdir -p " .. H.q(probe) .. " " .. H.q(dir)))
      local trace = w:path("trace")
      local code, _, err = H.lua_child(CHILD, { probe, tostring(n) }, "ESE_FAULT_TRACE=" .. H.q(trace))
      assert.are.equal(0, code, err)
      -- the last write of app.edb that goes past every earlier one's end
      local top, at = 0, nil
      for k, kind, len, off, name in H.read_file(trace):gmatch("(%d+) (%a+) (%d+) (%d+) (%S+)") do
        if kind == "write" and name == "app.edb" and tonumber(off) >= top then
          top, at = tonumber(off) + tonumber(len), tonumber(k)
        end
      end
      assert.is_not_nil(at)
      H.lua_child(CHILD, { dir, tostring(n) }, "ESE_FAULT=torn:" .. at .. ":1024")
      assert.are.equal(0, H.file_size(dir .. "/app.edb") % PS - 1024)
      local inst = w:track(ese.create_instance(H.name("rec"), { system_path = dir, log_path = dir, page_size = PS }))
      inst:init()
      local s = inst:begin_session()
      s:attach_database(dir .. "/app.edb")
      local t = s:open_table(s:open_database(dir .. "/app.edb"), "t")
      assert.are.equal(("x"):rep(n), t:get("v"))
      inst:term({ complete = true })
      assert.are.equal(0, H.file_size(dir .. "/app.edb") % PS)
      verified(dir .. "/app.edb")
    end)
  end
end)

describe("review: a file from before the mark (SPACE_MARKED unset, unmarked pages listed)", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- The free list's entries given back their content from before the free
  -- (as an engine before LR_FREEPAGE left them) and the flag cleared.
  local function old_file()
    local t, _, _, inst = w:table({ page_size = PS })
    t:put("keep", value(7, 20 * DCAP))
    t:put("gone", value(8, 20 * DCAP))
    t:put("gone2", value(9, 20 * DCAP))
    inst:term({ complete = true })
    local path = w:path("app.edb")
    local before = assert(H.read_file(path))
    local t2, _, _, i2 = w:reopen({ page_size = PS })
    t2:delete("gone")
    t2:delete("gone2")
    i2:term({ complete = true })
    local entries = H.free_list(path, PS)
    assert.is_true(#entries >= 40)
    local n = 0
    for _, pg in ipairs(entries) do
      local old = before:sub(pg * PS + 1, (pg + 1) * PS)
      if old:byte(17) == 5 or old:byte(17) == 6 then
        H.patch_page(path, PS, pg, function(p) return p:sub(1, 16) .. old:sub(17) end)
        n = n + 1
      end
    end
    assert.is_true(n >= 40)
    H.patch_page(path, PS, 2, function(p) return p:sub(1, 48) .. string.pack("<I4", 0) .. p:sub(53) end)
    verified(path, "old file")
    return path
  end

  for _, how in ipairs({ "crash", "clean term" }) do
    it("the new engine frees (marked) and takes pages of both kinds, then " .. how .. "; recovery and check agree",
       function()
      local path = old_file()
      local t, s, _, inst = w:reopen({ page_size = PS })
      local model = { keep = value(7, 20 * DCAP) }
      for i = 1, 12 do
        s:begin_transaction()
        t:put("x" .. i % 4, value(100 + i, (3 + i % 5) * DCAP + 11))   -- takes old pages, frees marked ones
        model["x" .. i % 4] = value(100 + i, (3 + i % 5) * DCAP + 11)
        local gone = "x" .. (i + 1) % 4
        if i % 3 == 0 and model[gone] then t:delete(gone) model[gone] = nil end
        s:commit_transaction()
      end
      assert.are.same(model, H.contents(t))
      if how == "crash" then inst:term() else inst:term({ complete = true }) end
      verified(path, "after " .. how .. " (before recovery)")
      local t2, _, _, i2 = w:reopen({ page_size = PS })
      assert.are.same(model, H.contents(t2))
      t2:put("y", value(200, 60 * DCAP))       -- empties the free list: the flag is set
      model.y = value(200, 60 * DCAP)
      i2:term()
      local t3, _, _, i3 = w:reopen({ page_size = PS })
      assert.are.same(model, H.contents(t3))
      i3:term({ complete = true })
      verified(path, "at the end")
      local data = assert(H.read_file(path))
      assert.are.equal(1, string.unpack("<I4", data, 2 * PS + 48 + 1) & 1)
    end)
  end
end)

-- Commits 1..100 put 255-byte keys (three levels at 4 KiB), 101..200
-- delete them again (the root collapses level by level), every fifth a
-- long value replaced or deleted (pages freed, marked, taken again).
local TXN = [[
return function(n)
  local function bk(i) return ("z"):rep(247) .. ("%08d"):format(i) end
  if n % 5 == 0 then
    if n % 15 == 0 then return "L" .. n % 2, nil, false end
    return "L" .. n % 2, 6000 + 4000 * (n % 4), n % 2 == 1
  end
  if n <= 100 then return bk(n), 700, n % 3 == 1 end
  return bk(n - 100), nil, n % 3 == 1
end
]]

describe("review: crashes over long-value frees and root collapses", function()
  local w, wl
  before_each(function()
    w = H.world()
    wl = LV.workload(w, {
      ntx = 200,
      txn_src = TXN,
      opts_src = ("log_file_size = 256, page_size = %d, cache_size = %d, checkpoint_depth = 0"):format(PS, 32 * PS),
      opts = { page_size = PS },
      after = function(t) for i = 1, 30 do t:put(("after%03d"):format(i), LV.val(5000 + i, i)) end end,
    })
  end)
  after_each(function() w:cleanup() end)

  it("crash, torn and power points: the state of a commit in range, ese check passes", function()
    wl.sweep(100)
  end)

  -- REVIEW_DENSE: points in the last quarter of the events (the deletes
  -- that collapse the tree, long values freed), crash and torn alternately.
  it("dense crash and torn points over the collapses and frees", function()
    local countf = w:path("count")
    local code, last, _, err = wl.run(w:path("base"), "ESE_FAULT_COUNT=" .. H.q(countf))
    assert.are.equal(0, code, err)
    assert.are.equal(200, last)
    local total = tonumber(H.read_file(countf):match("%d+"))
    local npts = tonumber(os.getenv("REVIEW_DENSE") or "24")
    local from = total * 3 // 4
    for i = 0, npts - 1 do
      local k = from + (total - from) * i // npts
      local fault = i % 2 == 0 and ("crash:%d"):format(k) or ("torn:%d:%d"):format(k, 512 * (1 + i % 8))
      local dir = w:path("d" .. i)
      local _, seen, safe = wl.run(dir, "ESE_FAULT=" .. fault)
      wl.check(dir, seen, safe, fault)
    end
  end)

  it("recovery cut by crashes and torn writes, then run again, gives a state in range", function()
    local crashed, seen, safe, rtotal = wl.cut_recovery(PS, 9, 10)   -- asserts the whole run made 200 commits
    assert.is_true(seen > 150, "cut at " .. seen)
    wl.recover_twice(crashed, seen, safe, rtotal, PS, 8)
  end)
end)

describe("review: a backup streamed while the tree collapses and long values are freed", function()
  local backup = require "ese.backup"
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("restores to the model at the cut-off and passes ese check", function()
    local inst, model, step, t = LV.writer(w, { log_file_size = 128, page_size = PS, cache_size = 32 * PS }, TXN)
    step(95)                                    -- three levels
    inst:begin_external_backup()
    local set = w:path("set")
    LV.stream_db_paced(inst, w:path("app.edb"), set, PS, function()
      step(2)                                   -- the root collapses behind and ahead of the reader
    end)
    step(200 - step(0))
    local logs = inst:get_log_info()
    local at_cutoff = {}
    for k, v in pairs(model) do at_cutoff[k] = v end
    t:put("L0", LV.val(30000, 999))             -- after the cut-off: not in the set
    for _, p in ipairs(logs) do H.stream(inst, p, set) end
    inst:end_external_backup()
    inst:term({ complete = true })
    local dest = w:path("dest")
    backup.restore({ set }, dest)
    for _, what in ipairs({ "restored", "reopened" }) do
      local inst2 = w:track(ese.create_instance(H.name("chk"), H.params(dest, { page_size = PS })))
      inst2:init()
      local t2 = H.open_table(inst2, dest)
      assert.are.same(at_cutoff, H.contents(t2), what)
      inst2:term({ complete = true })
      verified(dest .. "/app.edb", what)
    end
  end)
end)
