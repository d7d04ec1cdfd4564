-- Emptied tree pages are freed (issue 11): a leaf that loses its last
-- record is marked free (LR_FREEPAGE, 16), taken out of its parent
-- (LR_UNLINK, 15: the parent's cell for it, or, for the leftmost child,
-- cell 0's child becomes the leftmost), and so is every branch above it
-- that thereby loses its only child; a root left without any child becomes
-- an empty leaf again (LR_NEWPAGE).  The freed pages go on the free list,
-- from which later splits and long values take them.  Before, emptied
-- pages stayed in the tree for ever: a queue of 10 rounds of 20,000
-- inserts at the tail and 20,000 deletes at the head left a 23 MiB file
-- for 0 records, and deleting a 100,000-record table then loading 100,000
-- new records doubled its file.  The C harness pageop_test replays the
-- records on every page state a crash or a fuzzy copy leaves.
local backup = require "ese.backup"
local ese = require "ese"
local H = require "support.helpers"
local LR = require "support.log_records"
local LV = require "support.lv_sweep"

local PAGE = 8192                 -- the default page size
local VALUE = ("v"):rep(100)

local function key(i) return ("%012d"):format(i) end

-- n records key(from) .. key(from + n - 1), in transactions of 10,000.
local function fill(s, t, from, n)
  for b = from, from + n - 1, 10000 do
    s:begin_transaction()
    for i = b, math.min(b + 9999, from + n - 1) do t:put(key(i), VALUE) end
    s:commit_transaction()
  end
end

-- t holds exactly key(from) .. key(to) (to < from: in reverse), each of
-- value VALUE, as pairs steps over them in that direction.
local function expect_run(t, from, to)
  local step = to < from and -1 or 1
  local want = from
  for k, v in t:pairs(nil, nil, { reverse = step < 0 }) do
    assert.are.equal(key(want), k)
    assert.are.equal(VALUE, v)
    want = want + step
  end
  assert.are.equal(to + step, want)
end

describe("emptied pages are freed", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("a queue with circular logging (10 rounds of 20,000 inserts at the tail and 20,000 deletes at the head, "
     .. "100-byte values) keeps its file within twice its peak live data; the records read back after a reopen",
     function()
    local t, s, _, inst = w:table({ circular_log = true })
    local head, tail = 1, 0
    for _ = 1, 10 do
      fill(s, t, tail + 1, 20000)
      tail = tail + 20000
      s:begin_transaction()
      for i = head, head + 19999 do t:delete(key(i)) end
      s:commit_transaction()
      head = head + 20000
      assert.are.equal(0, t:count())
    end
    assert.is_nil(t:first())
    assert.is_nil(t:seek(key(1), "ge"))
    fill(s, t, tail + 1, 1000)                   -- 1,000 records live at the end
    inst:term({ complete = true })
    -- peak live data: 20,000 records of key 12 + tag 1 + value 100 + cell
    -- header 4 + slot 2 bytes; fixed overhead: 64 pages (header, space
    -- page, branches, free-list pages)
    local peak = 20000 * (12 + 1 + 100 + 4 + 2)
    local size, bound = H.file_size(w:path("app.edb")), 2 * peak + 64 * PAGE
    print(("\n  queue: file %d bytes (bound %d; 24,313,856 before pages were freed)"):format(size, bound))
    assert.is_true(size <= bound, ("the file holds %d bytes, more than %d"):format(size, bound))
    local t2 = w:reopen({ circular_log = true })
    assert.are.equal(1000, t2:count())
    expect_run(t2, tail + 1, tail + 1000)
    assert.are.equal(key(tail + 1), (t2:first()))
    assert.are.equal(key(tail + 1000), (t2:last()))
    assert.are.equal(key(tail + 500), (t2:seek(key(tail + 500), "eq")))
    assert.is_true(ese.file_info(w:path("app.edb"), true).verified)   -- ese check's checks pass
  end)

  it("deleting every record of a 100,000-record table (in a pairs loop), then loading 100,000 others, "
     .. "does not grow the file: the new pages are the freed ones", function()
    local t, s, _, inst = w:table()
    fill(s, t, 1, 100000)
    inst:term({ complete = true })
    local path = w:path("app.edb")
    local full = H.file_size(path)
    local t2, s2, _, inst2 = w:reopen()
    s2:begin_transaction()
    local n = 0
    for k in t2:pairs() do                       -- writes in the loop body
      t2:delete(k)
      n = n + 1
    end
    s2:commit_transaction()
    assert.are.equal(100000, n)
    assert.are.equal(0, t2:count())
    assert.is_nil(t2:first())
    assert.is_nil(t2:last())
    assert.is_nil(t2:seek(key(50000), "le"))
    fill(s2, t2, 200001, 100000)
    inst2:term({ complete = true })
    local refilled = H.file_size(path)
    print(("\n  delete all, refill: %d bytes -> %d (before pages were freed: 12,124,160 -> 24,199,168)")
          :format(full, refilled))
    -- one page more at most: a free-list page at the end of the file
    assert.is_true(refilled <= full + PAGE, ("the file grew from %d to %d bytes"):format(full, refilled))
    local t3 = w:reopen()
    assert.are.equal(100000, t3:count())
    assert.are.equal(key(200001), (t3:first()))
    assert.are.equal(key(300000), (t3:last()))
    assert.are.equal(VALUE, t3:get(key(250000)))
    assert.is_nil(t3:get(key(50000)))
    assert.is_true(ese.file_info(path, true).verified)
  end)

  it("a long value takes freed tree pages; deleting everything returns the root to an empty leaf", function()
    local t, s, _, inst = w:table()
    fill(s, t, 1, 20000)
    s:begin_transaction()
    for i = 1, 20000 do t:delete(key(i)) end
    s:commit_transaction()
    inst:term({ complete = true })
    local path = w:path("app.edb")
    local size = H.file_size(path)
    local t2, _, _, inst2 = w:reopen()
    local big = LV.val(1500000, 3)              -- ~185 pages: fewer than the ~290 freed
    t2:put("big", big)
    t2:put("small", "x")
    inst2:term({ complete = true })
    assert.are.equal(size, H.file_size(path))
    local t3 = w:reopen()
    assert.are.equal(big, t3:get("big"))
    assert.are.equal("x", t3:get("small"))
    assert.are.equal(2, t3:count())
    assert.is_true(ese.file_info(path, true).verified)
  end)

  it("a delete that empties a page logs LR_DELETE, LR_FREEPAGE and LR_UNLINK, no tree page as a difference "
     .. "(only the space page and free-list pages), a few hundred bytes; a crash replays it", function()
    local ps = 4096
    local t, s, _, inst = w:table({ page_size = ps, log_file_size = 1024 })
    local model = {}
    s:begin_transaction()
    for i = 1, 2000 do
      t:put(key(i), VALUE)
      model[key(i)] = VALUE
    end
    s:commit_transaction()
    for i = 1, 1500 do                           -- single-record commits from the head
      t:delete(key(i))
      model[key(i)] = nil
    end
    for i = 2001, 2300 do                        -- inserts whose splits take freed pages
      t:put(key(i), VALUE)
      model[key(i)] = VALUE
    end
    -- the log's records by transaction
    local groups, free_pages = {}, {}
    LR.each(w.dir, function(ty, p)
      if ty == 2 or ty == 6 or (ty >= 10 and ty <= 16) then
        local txid = string.unpack("<I8", p, ty == 2 and 1 or 9)
        local g = groups[txid] or { bytes = 0, types = {}, diffs = {} }
        groups[txid] = g
        g.bytes = g.bytes + LR.framed(#p)
        g.types[ty] = (g.types[ty] or 0) + 1
        if ty == 6 then g.diffs[#g.diffs + 1] = string.unpack("<I4", p, 5) end
      end
    end)
    inst:term()                                  -- a crash: every free replays from the log
    local t2, _, _, inst2 = w:reopen({ page_size = ps, log_file_size = 1024 })
    assert.are.same(model, H.contents(t2))
    inst2:term({ complete = true })
    for _, pg in ipairs(H.pages_of_type(w:path("app.edb"), ps, 7)) do free_pages[pg] = true end
    local freeing, bytes, most = 0, 0, 0
    for _, g in pairs(groups) do
      if g.types[16] and (g.types[12] or 0) == 1 then
        for _, pg in ipairs(g.diffs) do
          assert.is_true(pg == 2 or free_pages[pg], "page " .. pg .. " logged as a difference")
        end
        freeing = freeing + 1
        bytes = bytes + g.bytes
        most = math.max(most, g.bytes)
        assert.are.equal(1, g.types[15] or 0, "an LR_UNLINK with each freed leaf")
      end
    end
    print(("\n  %d single deletes that empty a page: %.0f bytes of log each on average (at most %d)")
          :format(freeing, bytes / freeing, most))
    assert.is_true(freeing >= 30, freeing .. " deletes emptied a page")   -- ~30 records per 4 KiB leaf
    assert.is_true(most <= 600, most .. " bytes of log for a delete that frees a page")
    assert.is_true(ese.file_info(w:path("app.edb"), true).verified)
  end)

  it("a snapshot transaction reads every record while another session deletes them all and refills freed "
     .. "pages; iteration that deletes as it goes (both ways) and seeks stay right", function()
    local t, s, db, inst = w:table({ page_size = 4096 })
    fill(s, t, 1, 3000)
    local s2 = inst:begin_session()
    local t2 = s2:open_table(s2:open_database(w:path("app.edb")), "t")
    s2:begin_transaction()
    assert.are.equal(3000, t2:count())
    local n = 0
    for k in t:pairs() do                        -- t's session: deletes as it goes (committed each)
      t:delete(k)
      n = n + 1
    end
    assert.are.equal(3000, n)
    assert.are.equal(0, t:count())
    fill(s, t, 10001, 500)                       -- splits take the freed pages
    -- the snapshot still sees the 3,000 records, each way
    assert.are.equal(3000, t2:count())
    expect_run(t2, 1, 3000)
    expect_run(t2, 3000, 1)
    assert.are.equal(key(1500), (t2:seek(key(1500), "eq")))
    assert.are.equal(key(3000), (t2:seek(key(5000), "le")))
    assert.is_nil(t2:get(key(10001)))
    s2:commit_transaction()
    assert.are.equal(500, t2:count())
    assert.are.equal(key(10001), (t2:first()))
    -- reverse deletes as it goes, in a transaction
    s:begin_transaction()
    n = 0
    for k in t:pairs(nil, nil, { reverse = true }) do
      t:delete(k)
      n = n + 1
    end
    s:commit_transaction()
    assert.are.equal(500, n)
    assert.is_nil(t:last())
    t:put("again", "x")
    assert.are.equal("again", (t:seek("a", "ge")))
    assert.is_truthy(db)
    inst:term({ complete = true })
    assert.is_true(ese.file_info(w:path("app.edb"), true).verified)
  end)

  it("a full backup whose copy is made while pages are emptied and freed, and an incremental of more frees, "
     .. "restore exactly", function()
    local t, s, _, inst = w:table({ page_size = 4096, log_file_size = 1024 })
    local model = {}
    fill(s, t, 1, 6000)
    for i = 1, 6000 do model[key(i)] = VALUE end
    local head, calls = 1, 0
    local set = w:path("set")
    backup.run(inst, set, { on_progress = function(p)
      if p.phase == "database" and head < 3000 then   -- before the cut-off: the set holds these
        calls = calls + 1
        for i = head, head + 299 do
          t:delete(key(i))
          model[key(i)] = nil
        end
        head = head + 300
        t:put("n" .. calls, VALUE)
        model["n" .. calls] = VALUE
      end
    end })
    assert.is_true(calls >= 1, "progress calls while the backup streamed the database")
    local full_model = {}
    for k, v in pairs(model) do full_model[k] = v end
    s:begin_transaction()
    for i = 3001, 5000 do
      t:delete(key(i))
      model[key(i)] = nil
    end
    s:commit_transaction()
    local inc = w:path("inc")
    backup.run(inst, inc, { incremental = true })
    local types = LR.types(inc)
    -- (a parent losing many children in one commit may be logged as its
    -- difference instead of its LR_UNLINK records, when that is smaller)
    assert.is_true((types[16] or 0) >= 10, "the incremental frees pages")
    backup.restore({ set }, w:path("r1"))
    backup.restore({ set, inc }, w:path("r2"))
    inst:term({ complete = true })
    for dir, want in pairs({ [w:path("r1")] = full_model, [w:path("r2")] = model }) do
      local i3 = w:track(ese.create_instance(H.name("chk"), H.params(dir, { page_size = 4096 })))
      i3:init()
      assert.are.same(want, H.contents(H.open_table(i3, dir)))
      i3:term({ complete = true })
      assert.is_true(ese.file_info(dir .. "/app.edb", true).verified)
    end
  end)
end)

-- A crash sweep over a queue: a child commits inserts at the tail and
-- deletes at the head (700-byte values: five records a 4 KiB leaf, so a
-- leaf empties every five deletes; the queue drains to nothing, which
-- makes the root an empty leaf, then refills from freed pages), noting
-- each commit; it is killed at its K-th write or sync (crash:K), at a torn
-- page write or a power cut.  Recovery must give exactly the commits noted
-- as durable (maybe the lazy ones after them and the one cut off), and the
-- database must pass `ese check`.
local QUEUE_TXN = [[
local plan, head, tail = {}, 1, 0
local function ins() tail = tail + 1; plan[#plan + 1] = { ("q%03d"):format(tail), 700 } end
local function del() plan[#plan + 1] = { ("q%03d"):format(head) }; head = head + 1 end
for _ = 1, 24 do ins() end
for i = 1, 36 do if i % 2 == 1 then del() else ins() end end
while head <= tail do del() end
for _ = 1, 10 do ins() end
return function(n)
  if n == nil then return #plan end
  local p = plan[n]
  return p[1], p[2], n % 3 == 1
end]]

describe("a crash sweep over a queue that frees and reuses pages", function()
  local w, wl
  local NTX = assert(load(QUEUE_TXN))()()
  before_each(function()
    w = H.world()
    wl = LV.workload(w, {
      ntx = NTX,
      txn_src = QUEUE_TXN,
      opts_src = "log_file_size = 64, page_size = 4096, cache_size = 16 * 4096",
      opts = { page_size = 4096 },
    })
  end)
  after_each(function() w:cleanup() end)

  it("crash, torn and power-cut points lose no commit and leave a database that passes ese check", function()
    wl.sweep(100)
  end)
end)

describe("the free list's reuse checks the page it takes", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  local PS = 4096
  local function set32(pg, off, v) return pg:sub(1, off) .. string.pack("<I4", v) .. pg:sub(off + 5) end

  -- 600 records, the first 300 deleted: freed leaves on a free list.
  -- Returns the path, the free-list page, the entry the next allocation
  -- takes (its last) and its offset in the page.
  local function made()
    local t, s, _, inst = w:table({ page_size = PS })
    fill(s, t, 1, 600)
    s:begin_transaction()
    for i = 1, 300 do t:delete(key(i)) end
    s:commit_transaction()
    inst:term({ complete = true })
    local path = w:path("app.edb")
    local fl = H.pages_of_type(path, PS, 7)[1]
    local data = assert(H.read_file(path))
    local cnt = string.unpack("<I4", data, fl * PS + 21)
    assert.is_true(cnt >= 5, cnt .. " free pages")
    local off = 32 + 4 * (cnt - 1)
    return path, fl, string.unpack("<I4", data, fl * PS + off + 1), off
  end

  -- Inserts until an allocation happens: JET_errDatabaseCorrupted naming
  -- the free list, and the records of the table unchanged.
  local function refused()
    local t, s = w:reopen({ page_size = PS })
    s:begin_transaction()
    for i = 1000, 1400 do t:put(key(i), VALUE) end
    local ok, err = pcall(s.commit_transaction, s)
    assert.is_false(ok)
    assert.are.equal("JET_errDatabaseCorrupted", err.name, tostring(err))
    assert.matches("free list: page %d+ is not a page that is ever freed", err.detail or "", 1, false, tostring(err))
    local n = 0
    for i = 301, 600 do n = n + (t:get(key(i)) == VALUE and 1 or 0) end
    assert.are.equal(300, n)
  end

  it("a free-list entry naming a leaf in use: refused before it is overwritten", function()
    local path, fl, _, off = made()
    local live = H.pages_of_type(path, PS, 3)[1]
    H.patch_page(path, PS, fl, function(pg) return set32(pg, off, live) end)
    refused()
  end)

  it("a freed page whose bytes are not all zero (not marked free by LR_FREEPAGE): refused", function()
    local path, _, victim = made()
    H.patch_page(path, PS, victim, function(pg)
      assert.are.equal(0, pg:byte(17), "the entry is a freed tree page")
      return pg:sub(1, 200) .. "\1" .. pg:sub(202)
    end)
    refused()
  end)
end)
