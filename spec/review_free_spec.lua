-- Hostile review of issue 11 (emptied tree pages freed) and of page
-- checksums at write time: drains and refills in every order, deep trees
-- of 4 KiB pages and 255-byte keys, several tables sharing the free list,
-- long values beside tree pages, snapshots reading while pages are freed.
-- Each case compares the table with a model after commits, after a crash
-- (term without complete: recovery replays the frees) and runs ese check.
local ese = require "ese"
local H = require "support.helpers"

local PS = 4096

local function bigkey(i) return ("k"):rep(247) .. ("%08d"):format(i) end   -- 255 bytes, no short separator
local function shortkey(i) return ("%08d"):format(i) end

local function check_model(t, model)
  local n = 0
  for k, v in t:pairs() do
    assert.are.equal(model[k], v, "record " .. k:sub(-8))
    n = n + 1
  end
  local want = 0
  for _ in pairs(model) do want = want + 1 end
  assert.are.equal(want, n)
  -- backward too
  local m = 0
  local prev
  for k in t:pairs(nil, nil, { reverse = true }) do
    if prev then assert.is_true(k < prev) end
    prev = k
    m = m + 1
  end
  assert.are.equal(want, m)
end

local function shuffled(n, seed)
  local a = {}
  for i = 1, n do a[i] = i end
  local x = seed
  for i = n, 2, -1 do
    x = (x * 1103515245 + 12345) % 2147483648
    local j = x % i + 1
    a[i], a[j] = a[j], a[i]
  end
  return a
end

describe("review: freeing pages", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  local function crash_and_verify(model, extra)
    local path = w:path("app.edb")
    local t2, _, _, inst2 = w:reopen(extra)
    check_model(t2, model)
    inst2:term({ complete = true })
    local info = ese.file_info(path, true)
    assert.is_true(info.verified, tostring(info.detail))
  end

  for _, order in ipairs({ "ascending", "descending", "random", "middle-out" }) do
    it("a depth-3+ tree of 255-byte keys on 4 KiB pages emptied " .. order .. " in single-record commits, "
       .. "then refilled; crash; ese check", function()
      local opts = { page_size = PS }
      local t, s, _, inst = w:table(opts)
      local N = 2500
      local model = {}
      s:begin_transaction()
      for i = 1, N do t:put(bigkey(i), "v") ; model[bigkey(i)] = "v" end
      s:commit_transaction()
      local seq
      if order == "ascending" then seq = {} for i = 1, N do seq[i] = i end
      elseif order == "descending" then seq = {} for i = 1, N do seq[i] = N + 1 - i end
      elseif order == "random" then seq = shuffled(N, 7)
      else
        seq = {}
        local mid = N // 2
        for d = 0, N do
          if mid - d >= 1 and #seq < N then seq[#seq + 1] = mid - d end
          if d > 0 and mid + d <= N and #seq < N then seq[#seq + 1] = mid + d end
        end
      end
      for n, i in ipairs(seq) do
        t:delete(bigkey(i))
        model[bigkey(i)] = nil
        if n % 500 == 0 then
          assert.are.equal(N - n, t:count())
          local k = t:first()
          if N - n > 0 then assert.is_truthy(k) end
        end
      end
      assert.are.equal(0, t:count())
      assert.is_nil(t:first())
      assert.is_nil(t:last())
      for i = N + 1, N + 2000 do t:put(bigkey(i), "w") ; model[bigkey(i)] = "w" end
      check_model(t, model)
      inst:term()                                   -- crash
      crash_and_verify(model, opts)
    end)
  end

  for _, rev in ipairs({ false, true }) do
    it("a depth-3 tree emptied by a " .. (rev and "reverse" or "forward") .. " pairs loop that deletes as it goes "
       .. "(outside a transaction: each delete frees pages under the loop's position), seeks between", function()
      local t, s, _, inst = w:table({ page_size = PS })
      s:begin_transaction()
      for i = 1, 2500 do t:put(bigkey(i), "v") end
      s:commit_transaction()
      local n, want = 0, rev and 2500 or 1
      for key in t:pairs(nil, nil, { reverse = rev }) do
        assert.are.equal(bigkey(want), key)
        t:delete(key)
        n = n + 1
        want = want + (rev and -1 or 1)
        if n % 250 == 0 and n < 2500 then
          assert.are.equal(bigkey(want), (t:seek(bigkey(want), rev and "le" or "ge")))
          assert.are.equal(bigkey(want), (rev and t:last() or t:first()))
        end
      end
      assert.are.equal(2500, n)
      assert.is_nil(t:first())
      inst:term()
      crash_and_verify({}, { page_size = PS })
    end)
  end

  it("drain to empty and refill in ONE transaction, repeatedly, then crash", function()
    local opts = { page_size = PS }
    local t, s, _, inst = w:table(opts)
    local model = {}
    local base = 0
    for round = 1, 4 do
      s:begin_transaction()
      for i = base + 1, base + 1500 do t:put(bigkey(i), "r" .. round); model[bigkey(i)] = "r" .. round end
      for k in pairs(model) do t:delete(k) end
      model = {}
      for i = base + 1501, base + 3000 do t:put(bigkey(i), "s" .. round); model[bigkey(i)] = "s" .. round end
      s:commit_transaction()
      base = base + 3000
      check_model(t, model)
    end
    -- one commit that deletes every record then inserts the same keys again
    s:begin_transaction()
    for k in pairs(model) do t:delete(k) end
    for k in pairs(model) do t:put(k, "again") ; model[k] = "again" end
    s:commit_transaction()
    check_model(t, model)
    inst:term()
    crash_and_verify(model, opts)
  end)

  it("delete all in one transaction then refill in the next, three tables sharing the free list, "
     .. "long values taking tree pages and tree pages taking long values' pages; crash; ese check", function()
    local opts = { page_size = PS }
    local inst = w:open(nil, opts)
    local s = inst:begin_session()
    local db = s:create_database(w:path("app.edb"))
    local ts, models = {}, {}
    for j = 1, 3 do ts[j] = s:create_table(db, "t" .. j); models[j] = {} end
    for round = 1, 5 do
      s:begin_transaction()
      for j = 1, 3 do
        for i = 1, 800 do
          local k = shortkey(round * 10000 + i)
          local v = (i % 97 == 0) and (("L"):rep(9000) .. round) or ("v" .. j)
          ts[j]:put(k, v)
          models[j][k] = v
        end
      end
      s:commit_transaction()
      local j = round % 3 + 1
      s:begin_transaction()
      for k in pairs(models[j]) do ts[j]:delete(k) end
      models[j] = {}
      s:commit_transaction()
      for jj = 1, 3 do check_model(ts[jj], models[jj]) end
    end
    inst:term()
    local inst2 = w:open(nil, opts)
    local s2 = inst2:begin_session()
    s2:attach_database(w:path("app.edb"))
    local db2 = s2:open_database(w:path("app.edb"))
    for j = 1, 3 do check_model(s2:open_table(db2, "t" .. j), models[j]) end
    inst2:term({ complete = true })
    local info = ese.file_info(w:path("app.edb"), true)
    assert.is_true(info.verified, tostring(info.detail))
  end)

  it("a snapshot reader iterating (pairs, seek le/lt/ge/gt, reverse) while another session frees the pages "
     .. "under its position and they are reused by another table", function()
    local opts = { page_size = PS }
    local t, s, db, inst = w:table(opts)
    local other = s:create_table(db, "o")
    local N = 3000
    s:begin_transaction()
    for i = 1, N do t:put(bigkey(i), "v") end
    s:commit_transaction()
    local s2 = inst:begin_session()
    local t2 = s2:open_table(s2:open_database(w:path("app.edb")), "t")
    s2:begin_transaction()
    local it_f = t2:pairs()
    local it_b = t2:pairs(nil, nil, { reverse = true })
    local nf, nb = 0, 0
    for _ = 1, 100 do assert.is_truthy(it_f()); nf = nf + 1 end
    for _ = 1, 100 do assert.is_truthy(it_b()); nb = nb + 1 end
    -- the writer frees every page, and another table takes them
    for i = 1, N do t:delete(bigkey(i)) end
    s:begin_transaction()
    for i = 1, N do other:put(bigkey(i), "other") end
    s:commit_transaction()
    for k, v in it_f do nf = nf + 1; assert.are.equal("v", v); assert.are.equal(bigkey(nf), k) end
    for k, v in it_b do nb = nb + 1; assert.are.equal("v", v); assert.are.equal(bigkey(N + 1 - nb), k) end
    assert.are.equal(N, nf)
    assert.are.equal(N, nb)
    assert.are.equal(bigkey(1500), (t2:seek(bigkey(1500), "le")))
    assert.are.equal(bigkey(1499), (t2:seek(bigkey(1500), "lt")))
    assert.are.equal(bigkey(1501), (t2:seek(bigkey(1500), "gt")))
    assert.are.equal(bigkey(1500), (t2:seek(bigkey(1500), "ge")))
    assert.are.equal(N, t2:count())
    s2:commit_transaction()
    assert.are.equal(0, t2:count())
    assert.is_nil(t2:seek(bigkey(1500), "le"))
    assert.are.equal(N, other:count())
    inst:term({ complete = true })
    local info = ese.file_info(w:path("app.edb"), true)
    assert.is_true(info.verified, tostring(info.detail))
  end)
end)

-- A crash sweep over a tree of depth 3 (255-byte keys on 4 KiB pages:
-- about 14 records a leaf and 14 children a branch): 260 inserts, then
-- deletes in an order that empties leaves, whole branches (a branch
-- losing its only child, up to the root) and leftmost children, then
-- refills; most commits lazy, every 7th durable.
-- A describe block with one case: crash, torn and power-cut points
-- (lv_sweep's sweep(100)) over the workload of txn_src on 4 KiB pages,
-- 64 KiB logs and a 16-page cache.
local function sweep_describe(title, txn_src)
  describe(title, function()
    local LV = require "support.lv_sweep"
    local w, wl
    before_each(function()
      w = H.world()
      wl = LV.workload(w, {
        ntx = assert(load(txn_src))()(),
        txn_src = txn_src,
        opts_src = "log_file_size = 64, page_size = 4096, cache_size = 16 * 4096",
        opts = { page_size = 4096 },
      })
    end)
    after_each(function() w:cleanup() end)

    it("crash, torn and power-cut points lose no commit and pass ese check", function()
      wl.sweep(100)
    end)
  end)
end

local DEEP_TXN = [[
local plan = {}
local function k(i) return ("k"):rep(251) .. ("%04d"):format(i) end
for i = 1, 260 do plan[#plan + 1] = { k(i), 3 } end
for i = 1, 130 do plan[#plan + 1] = { k(i) } end          -- ascending: leftmost children
for i = 260, 200, -1 do plan[#plan + 1] = { k(i) } end    -- descending: rightmost
for i = 131, 199, 2 do plan[#plan + 1] = { k(i) } end
for i = 132, 199, 2 do plan[#plan + 1] = { k(i) } end     -- now empty: root an empty leaf
for i = 300, 330 do plan[#plan + 1] = { k(i), 3 } end
return function(n)
  if n == nil then return #plan end
  local p = plan[n]
  return p[1], p[2], n % 7 ~= 1
end]]

sweep_describe("review: a crash sweep over a depth-3 tree that is emptied", DEEP_TXN)

-- I/O errors (ESE_FAULT=eio:K, once) at points spread over a child that
-- empties a depth-3 tree in single-record commits, then refills it: a
-- commit that fails must leave the pages (the freed ones, the free list)
-- as they were; the child goes on and notes each commit that returned.
-- After recovery the table holds every noted commit and the database
-- passes ese check.
local EIO_CHILD = [[
local ese = require "ese"
local dir, seen = ...
local function k(i) return ("k"):rep(247) .. ("%08d"):format(i) end
local inst = ese.create_instance("eio", { system_path = dir, log_path = dir, page_size = 4096,
                                          log_file_size = 64, cache_size = 16 * 4096 })
inst:init()
local s = inst:begin_session()
local db = s:create_database(dir .. "/app.edb")
local t = s:create_table(db, "t")
local f = assert(io.open(seen, "a"))
s:begin_transaction()
for i = 1, 300 do t:put(k(i), "v") end
s:commit_transaction()
f:write("F\n") f:flush()
local order = {}
for i = 1, 300 do order[i] = (i * 37) % 300 + 1 end
for _, i in ipairs(order) do
  local ok = pcall(t.delete, t, k(i))
  f:write(ok and "D " or "E ", i, "\n") f:flush()
end
for i = 301, 340 do
  local ok = pcall(t.put, t, k(i), "w")
  f:write(ok and "P " or "Q ", i, "\n") f:flush()
end
pcall(inst.term, inst, { complete = true })
]]

describe("review: an I/O error in a commit that frees pages", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)
  local function k(i) return ("k"):rep(247) .. ("%08d"):format(i) end

  it("leaves the tree and the free list as they were; recovery gives the noted commits; ese check passes",
     function()
    local function run(dir, env)
      assert(os.execute("mkdir -p " .. H.q(dir)))
      local code, _, err = H.lua_child(EIO_CHILD, { dir, dir .. "/seen" }, env)
      return code, H.read_file(dir .. "/seen") or "", err
    end
    local countf = w:path("count")
    local code, _, err = run(w:path("base"), "ESE_FAULT_COUNT=" .. H.q(countf))
    assert.are.equal(0, code, err)
    local total = tonumber(H.read_file(countf):match("%d+"))
    local first_fill = nil
    for K = 1, 24 do
      local point = 1 + (total - 1) * K // 25
      local dir = w:path("p" .. K)
      local _, seen = run(dir, "ESE_FAULT=eio:" .. point)
      if seen:match("^F") then
        first_fill = true
        local must, maybe = {}, {}
        for i = 1, 300 do must[k(i)] = "v" end
        for op, i in seen:gmatch("(%u) (%d+)") do
          i = tonumber(i)
          if op == "D" then must[k(i)] = nil
          elseif op == "E" then maybe[k(i)] = true
          elseif op == "P" then must[k(i)] = "w"
          elseif op == "Q" then maybe[k(i)] = true end
        end
        local inst = w:create(nil, { system_path = dir, log_path = dir, page_size = 4096 })
        inst:init()
        local t = H.open_table(inst, dir)
        local got = H.contents(t)
        for key, v in pairs(must) do
          if not maybe[key] then assert.are.equal(v, got[key], "eio:" .. point .. " " .. key:sub(-8)) end
        end
        for key in pairs(got) do
          assert.is_true(must[key] ~= nil or maybe[key] ~= nil, "eio:" .. point .. " extra " .. key:sub(-8))
        end
        inst:term({ complete = true })
        local ok, e = pcall(ese.file_info, dir .. "/app.edb", true)
        assert.is_true(ok and e.verified, "eio:" .. point .. ": " .. tostring(ok and e.detail or (e and e.detail or e)))
      end
    end
    assert.is_true(first_fill)
  end)
end)

describe("review: a streamed backup while commits free and reuse the pages it copies", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)
  local function k(i) return ("k"):rep(247) .. ("%08d"):format(i) end

  it("chunk by chunk (a 16-page cache: evictions and dirty pages across many commits between chunks); "
     .. "the set restores to the model of the last commit before the log list; ese check passes", function()
    local opts = { page_size = PS, log_file_size = 64, cache_size = 16 * PS }
    local t, s, _, inst = w:table(opts)
    local model = {}
    s:begin_transaction()
    for i = 1, 1500 do t:put(k(i), "v"); model[k(i)] = "v" end
    s:commit_transaction()
    local set = w:path("set")
    assert(os.execute("mkdir -p " .. H.q(set)))
    inst:begin_external_backup()
    local dbs = inst:get_attach_info()
    local r = inst:open_file(dbs[1])
    local out = assert(io.open(set .. "/" .. H.basename(dbs[1]), "wb"))
    local step, head, tail = 0, 1, 1500
    for c in r:chunks(4 * PS) do
      out:write(c)
      step = step + 1
      if step % 2 == 0 then
        s:begin_transaction()
        for _ = 1, 40 do
          if head <= tail then t:delete(k(head)); model[k(head)] = nil; head = head + 1 end
        end
        for _ = 1, 15 do tail = tail + 1; t:put(k(tail), "w" .. step); model[k(tail)] = "w" .. step end
        s:commit_transaction()
        t:put(k(tail), "x" .. step); model[k(tail)] = "x" .. step        -- a page dirty across commits
      end
    end
    out:close()
    r:close()
    assert.is_true(step >= 10 and head > 200, step .. " chunks, " .. head)
    local logs = inst:get_log_info()
    for _, p in ipairs(logs) do H.stream(inst, p, set) end
    inst:end_external_backup()
    inst:term({ complete = true })
    local dest = w:path("dest")
    ese.restore({ set }, dest)
    local i3 = w:track(ese.create_instance(H.name("chk"), H.params(dest, { page_size = PS })))
    i3:init()
    local got = H.contents(H.open_table(i3, dest))
    assert.are.same(model, got)
    i3:term({ complete = true })
    local info = ese.file_info(dest .. "/app.edb", true)
    assert.is_true(info.verified, tostring(info.detail))
  end)
end)

-- `ese check` and the free list's reuse agree: a free-list entry the next
-- allocation would refuse (JET_errDatabaseCorrupted, "is not a page that
-- is ever freed") is a damaged database to ese check too.  Before, check
-- only counted the entries: a freed tree page with a stray byte, or a
-- leaf listed as free while in no tree, passed, and the engine then
-- refused its next split on that "verified" file.
describe("review: ese check applies the free list's reuse rule to each entry", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)
  local function key(i) return ("%012d"):format(i) end

  -- 600 records, the first 300 deleted (their leaves freed), clean; the
  -- path and the free-list entry the next allocation takes.
  local function made()
    local t, s, _, inst = w:table({ page_size = PS })
    s:begin_transaction()
    for i = 1, 600 do t:put(key(i), ("v"):rep(100)) end
    s:commit_transaction()
    s:begin_transaction()
    for i = 1, 300 do t:delete(key(i)) end
    s:commit_transaction()
    inst:term({ complete = true })
    local path = w:path("app.edb")
    assert.is_true(ese.file_info(path, true).verified)
    local fl = H.pages_of_type(path, PS, 7)[1]
    local data = assert(H.read_file(path))
    local cnt = string.unpack("<I4", data, fl * PS + 21)
    return path, string.unpack("<I4", data, fl * PS + 32 + 4 * (cnt - 1) + 1)
  end

  local function both_refuse(path)
    local e = H.expect_jet("JET_errDatabaseCorrupted", ese.file_info, path, true)
    assert.matches("free list: page %d+ is not a page that is ever freed", e.detail or "")
    local t, s = w:reopen({ page_size = PS })
    s:begin_transaction()
    for i = 1000, 1400 do t:put(key(i), "x") end
    local ok, err = pcall(s.commit_transaction, s)
    assert.is_false(ok)
    assert.are.equal("JET_errDatabaseCorrupted", err.name)
  end

  -- 0-based offsets: the first byte after the type byte, one inside, the
  -- page's last byte (the check compares the page word-wide: its edges)
  for _, off in ipairs({ 17, 300, PS - 1 }) do
    it("a freed tree page with a stray non-zero byte at offset " .. off, function()
      local path, victim = made()
      H.patch_page(path, PS, victim, function(pg) return pg:sub(1, off) .. "\7" .. pg:sub(off + 2) end)
      both_refuse(path)
    end)
  end

  it("an entry that is a leaf (type byte 3, in no tree)", function()
    local path, victim = made()
    H.patch_page(path, PS, victim, function(pg) return pg:sub(1, 16) .. "\3" .. pg:sub(18) end)
    both_refuse(path)
  end)
end)

-- The same sweep where long values (every third record, 5,000 bytes: two
-- data pages and a directory) and tree pages share the free list: freed
-- leaves become long-value pages and freed long-value pages become leaves.
local MIXED_TXN = [[
local plan = {}
local function k(i) return ("k"):rep(251) .. ("%04d"):format(i) end
local function size(i) return i % 3 == 0 and 5000 or 3 end
for i = 1, 120 do plan[#plan + 1] = { k(i), size(i) } end
for i = 1, 120, 2 do plan[#plan + 1] = { k(i) } end
for i = 121, 160 do plan[#plan + 1] = { k(i), size(i + 1) } end
for i = 2, 160, 2 do plan[#plan + 1] = { k(i) } end
for i = 200, 230 do plan[#plan + 1] = { k(i), size(i) } end
return function(n)
  if n == nil then return #plan end
  local p = plan[n]
  return p[1], p[2], n % 5 ~= 1
end]]

sweep_describe("review: a crash sweep where long values and freed tree pages share the free list", MIXED_TXN)
