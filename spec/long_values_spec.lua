-- Long values (issue 11): values up to 2^31 - 1 bytes, those too large for
-- their leaf stored out of line (csrc/lv.h), read whole or as slices,
-- their pages freed for reuse on replace and delete (the free list,
-- csrc/pager.h), through transactions, backups, restore, `ese check` and
-- crashes.  Layout: docs/format.md "Long values" and "Free list".
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

local PS = 8192                        -- the default page size
local DCAP = PS - 32                   -- bytes of a value per data page
local MAXREC = (PS - 32) // 4 - 6      -- EseMaxRecordSize: 2034

local LV = require "support.lv_sweep"
local val = LV.val                     -- n bytes that differ from page to page and seed to seed

local function clean_check(w, inst)
  inst:term({ complete = true })
  local fi = ese.file_info(w:path("app.edb"), true)   -- pages and structure (dbcheck.c)
  assert.are.equal(4, fi.format_version)
  return fi
end

describe("long values", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("every size stores and reads back whole, also after a clean term and reopen; `ese check` passes", function()
    local t, _, _, inst = w:table()
    local k = "key"
    local inline_max = MAXREC - 1 - #k
    local sizes = { 0, 1, inline_max, inline_max + 1, PS - 1, PS, PS + 1, DCAP - 1, DCAP, DCAP + 1,
                    2 * DCAP, 2 * DCAP + 1, 1 << 20 }
    for i, n in ipairs(sizes) do
      local key = ("%s%02d"):format(k:sub(1, 1), i) .. k:sub(2)   -- 5 bytes: keys of one length
      t:put(key, val(n, i))
      assert.are.equal(val(n, i), t:get(key), "size " .. n)
    end
    clean_check(w, inst)
    local code, out, err = H.lua_run("bin/ese", { "check", w:path("app.edb") })
    assert.are.equal(0, code, out .. err)
    local t2 = w:reopen()
    for i, n in ipairs(sizes) do
      local key = ("%s%02d"):format(k:sub(1, 1), i) .. k:sub(2)
      assert.are.equal(val(n, i), t2:get(key), "size " .. n .. " after reopen")
    end
  end)

  it("a 64 MiB value in one commit with a 1 MiB cache and 1 MiB log files, also after a crash", function()
    local t, _, _, inst = w:table({ cache_size = 1 << 20, log_file_size = 1024 })
    local big = val(64 << 20, 64)
    t:put("big", big)
    assert.are.equal(#big, #t:get("big"))
    assert.is_true(t:get("big") == big)
    assert.are.equal(big:sub(40000001, 40000100), t:get("big", 40000000, 100))
    inst:term()                                   -- a crash: recovery replays the 64 MiB commit
    local t2, _, _, i2 = w:reopen({ cache_size = 1 << 20 })
    assert.is_true(t2:get("big") == big)
    t2:delete("big")
    clean_check(w, i2)
  end)

  it("pairs (both ways), first, last, seek and count give long values whole", function()
    local t = w:table()
    local vals = { a = val(9000, 1), b = "inline", c = val(70000, 2), d = "" }
    for k, v in pairs(vals) do t:put(k, v) end
    local got = {}
    for k, v in t:pairs() do got[k] = v end
    assert.are.same(vals, got)
    local order = {}
    for k, v in t:pairs(nil, nil, { reverse = true }) do order[#order + 1] = k assert.are.equal(vals[k], v) end
    assert.are.same({ "d", "c", "b", "a" }, order)
    local k1, v1 = t:first()
    assert.are.equal("a", k1)
    assert.are.equal(vals.a, v1)
    local k2, v2 = t:seek("bb", "ge")
    assert.are.equal("c", k2)
    assert.are.equal(vals.c, v2)
    local k3, v3 = t:last()
    assert.are.equal("d", k3)
    assert.are.equal("", v3)
    assert.are.equal(4, t:count())
  end)

  it("slices at every edge: 0-based offset, crossing pages, at and past the end, length 0", function()
    local t, s = w:table()
    local n = 3 * DCAP + 100
    local v = val(n, 3)
    t:put("v", v)
    t:put("short", "hello")
    local cases = {
      { 0, 0 }, { 0, 1 }, { 0, n }, { 0, n + 10 }, { 5, 10 }, { DCAP - 10, 20 }, { DCAP, 1 }, { DCAP - 1, 2 },
      { 2 * DCAP - 3, DCAP + 6 }, { n - 1, 1 }, { n - 1, 5 }, { n, 1 }, { n, 0 }, { n + 1, 5 }, { 1 << 40, 5 },
      { 7, 0 },
    }
    for _, c in ipairs(cases) do
      local off, len = c[1], c[2]
      assert.are.equal(v:sub(off + 1, off + len), t:get("v", off, len), ("slice %d, %d"):format(off, len))
    end
    assert.are.equal(v:sub(DCAP + 1), t:get("v", DCAP))      -- no length: to the end
    assert.are.equal("llo", t:get("short", 2))
    assert.are.equal("", t:get("short", 5, 3))
    assert.are.equal("", t:get("short", 99))
    assert.is_nil(t:get("absent", 0, 4))
    H.expect_argerror("offset must be >= 0", t.get, t, "v", -1, 4)
    H.expect_argerror("length must be >= 0", t.get, t, "v", 0, -1)
    -- inside a transaction: the transaction's own value
    s:begin_transaction()
    local v2 = val(n, 4)
    t:put("v", v2)
    assert.are.equal(v2:sub(DCAP - 4, DCAP + 5), t:get("v", DCAP - 5, 10))
    s:rollback()
    assert.are.equal(v:sub(DCAP - 4, DCAP + 5), t:get("v", DCAP - 5, 10))
  end)

  it("keys of 255 and 256 bytes: JET_errKeyTooBig (-408) for 256, nothing written", function()
    local t = w:table()
    local k255, k256 = ("k"):rep(255), ("k"):rep(256)
    t:put(k255, val(50000, 1))
    assert.are.equal(val(50000, 1), t:get(k255))
    local e = H.expect_jet("JET_errKeyTooBig", t.put, t, k256, val(50000, 2))
    assert.are.equal(-408, e.code)
    assert.are.equal("put", e.op)
    H.expect_jet("JET_errKeyTooBig", t.get, t, k256)
    assert.are.equal(val(50000, 1), t:get(k255))
    local n = 0
    for _ in t:pairs() do n = n + 1 end
    assert.are.equal(1, n)
  end)

  it("replace long -> short, short -> long, long -> long and delete free the old pages (check: none lost)", function()
    local t, _, _, inst = w:table()
    t:put("a", val(100000, 1))
    t:put("a", "short now")
    assert.are.equal("short now", t:get("a"))
    t:put("a", val(30000, 2))
    assert.are.equal(val(30000, 2), t:get("a"))
    t:put("a", val(90000, 3))
    assert.are.equal(val(90000, 3), t:get("a"))
    t:put("b", val(20000, 4))
    t:delete("b")
    assert.is_nil(t:get("b"))
    t:put("c", val(12000, 5))
    local size = H.file_size(w:path("app.edb"))
    t:put("d", val(40000, 6))                    -- fits in the pages freed above: the file does not grow
    assert.is_true(H.file_size(w:path("app.edb")) <= size, "a new value reuses freed pages")
    clean_check(w, inst)
    local t2 = w:reopen()
    assert.are.equal(val(90000, 3), t2:get("a"))
    assert.are.equal(val(12000, 5), t2:get("c"))
    assert.are.equal(val(40000, 6), t2:get("d"))
  end)

  it("space reuse: 200 replaces of a 256 KiB value leave the file under twice the live data", function()
    local t, _, _, inst = w:table()
    for i = 1, 200 do t:put("doc", val(256 << 10, i % 7)) end
    assert.are.equal(val(256 << 10, 200 % 7), t:get("doc"))
    local fi = clean_check(w, inst)
    local size = H.file_size(w:path("app.edb"))
    assert.is_true(size <= 2 * (256 << 10), ("file %d bytes for 256 KiB live"):format(size))
    assert.are.equal(size // PS, fi.pages)
  end)

  it("inside transactions: commit makes them visible whole, rollback leaves nothing (no page lost)", function()
    local t, s, _, inst = w:table()
    s:begin_transaction()
    t:put("x", val(70000, 1))
    t:put("y", val(3000, 2))
    assert.are.equal(val(70000, 1), t:get("x"))
    s:commit_transaction()
    assert.are.equal(val(70000, 1), t:get("x"))
    s:begin_transaction()
    t:put("x", val(5000, 3))
    t:delete("y")
    t:put("z", val(80000, 4))
    assert.is_nil(t:get("y"))
    s:rollback()
    assert.are.equal(val(70000, 1), t:get("x"))
    assert.are.equal(val(3000, 2), t:get("y"))
    assert.is_nil(t:get("z"))
    s:begin_transaction()
    t:delete("x")
    t:put("y", val(60000, 5))
    s:commit_transaction()
    assert.is_nil(t:get("x"))
    assert.are.equal(val(60000, 5), t:get("y"))
    clean_check(w, inst)
  end)

  -- A failed commit is discarded page by page (pager_discard_pending): a
  -- page freed by it goes back to its content from before, whether the
  -- commit took it again (a's pages, for a's new value) or left it free
  -- (z's, freed last).  The pager keeps a freed page's content without a
  -- copy (pager_write_op_over): its buffer is the page before.
  it("a commit that fails (JET_errLogSequenceEnd) after a replace and a delete leaves both values exact", function()
    local t, s, _, inst = w:at_last_generation(5)      -- the last log generation, 64 KiB files
    local a, z = val(12000, 1), val(9000, 2)
    t:put("a", a)
    t:put("z", z)
    s:begin_transaction()
    t:put("a", val(12000, 3))                          -- frees a's pages, takes them again
    t:put("big", val(200000, 4))                       -- more than the last log file holds
    t:delete("z")                                      -- frees z's pages, left free
    H.expect_jet("JET_errLogSequenceEnd", s.commit_transaction, s)
    pcall(s.rollback, s)
    assert.are.equal(a, t:get("a"))
    assert.are.equal(z, t:get("z"))
    assert.is_nil(t:get("big"))
    t:put("m", "small")                                -- a commit that fits: the pages were not freed
    inst:term()                                        -- a crash: recovery replays the log
    local t2, _, _, i2 = w:reopen({ log_file_size = 64 })
    assert.are.same({ a = a, z = z, m = "small", k00001 = ("x"):rep(500), k00002 = ("x"):rep(500),
                      k00003 = ("x"):rep(500), k00004 = ("x"):rep(500), k00005 = ("x"):rep(500) }, H.contents(t2))
    i2:term({ complete = true })
    H.verified(w:path("app.edb"))
  end)

  it("the log carries a long value about once (no page images), and freeing it costs little", function()
    local t = w:table({ log_file_size = 1024 })   -- 1 MiB generations
    local function gens()
      local n = 0
      for name in pairs(H.log_files(w.dir)) do if name ~= "edb.log" then n = n + 1 end end
      return n
    end
    t:put("seed", "x")
    local gen0 = gens()
    t:put("big", val(4 << 20, 1))
    local made = gens() - gen0
    -- 4 MiB and a 36-byte record head per 8160 bytes: 4 or 5 generations (twice the bytes would be 8 or more)
    assert.is_true(made >= 3 and made <= 5, "generations made by a 4 MiB value: " .. made)
    local gen1 = gens()
    t:put("big", "short")                        -- frees 515 pages: entries on a free-list page
    for i = 1, 40 do t:put("big", val(16, i)) end
    assert.is_true(gens() - gen1 <= 1, "41 small commits and a free of 4 MiB stay within a generation")
  end)

  -- A data page's LR_PAGEDIFF (6) is page_span's one run, from the
  -- first to the last byte (from 16 on) that differs from the page before,
  -- and gives the page of the value: the log is checked against a model of
  -- every page rebuilt from the log itself (differences patched,
  -- LR_FREEPAGE zeroing bytes 16 on, all from zero pages).  The engine
  -- sends the run's bytes straight from the page (database.c log_page);
  -- these are the bytes of its copy before.
  it("a data page's difference is one run from its first to its last changed byte, exactly", function()
    local t, _, _, inst = w:table({ log_file_size = 4096 })   -- one log file: the records in order
    local one = val(DCAP - 100, 2)
    local inside = one:sub(1, 1000) .. ("z"):rep(11) .. one:sub(1012)
    local puts = {
      { "a", val(3 * DCAP + 500, 1) },              -- pages new at the end of the file
      { "a", val(3 * DCAP + 500, 3) },              -- every page changes (pages freed and taken again)
      { "c", one },
      { "c", inside },                              -- one data page, taken again for it: a run inside the data
      { "c", inside },                              -- the same bytes: no run
      { "c", one:sub(1, 2000) },                    -- shorter: from the count at 20 to the old end
      { "a" },                                      -- a delete
      { "b", val(2 * DCAP, 4) },                    -- pages marked free by earlier commits
    }
    local zero = ("\0"):rep(PS)
    local pages = {}                                -- bytes 16 .. of every data page of the values: true
    for _, p in ipairs(puts) do
      if p[2] then t:put(p[1], p[2]) else t:delete(p[1]) end
      for at = 1, #(p[2] or ""), DCAP do
        local part = p[2]:sub(at, at + DCAP - 1)
        pages[string.pack("<I1I3I4", 5, 0, #part) .. zero:sub(1, 8) .. part .. zero:sub(1, DCAP - #part)] = true
      end
    end
    inst:term({ complete = true })
    local LR = require "support.log_records"
    local names = {}
    for name in pairs(H.log_files(w.dir)) do names[#names + 1] = name end
    assert.are.same({ "edb.log" }, names)
    local img = {}                                  -- pgno -> page, false: a tree page (op records)
    local seen = { new = 0, whole = 0, inside = 0, none = 0 }
    LR.each(w.dir, function(ty, payload)
      local pgno = string.unpack("<I4", payload, 5)
      if ty == 6 then
        local before = img[pgno]
        if before == nil then before = zero end
        local after = before
        local at = 25
        while before and at <= #payload do
          local off, len = string.unpack("<I2I2", payload, at)
          after = after:sub(1, off) .. payload:sub(at + 4, at + 3 + len) .. after:sub(off + len + 1)
          at = at + 4 + len
        end
        img[pgno] = after
        if after and after:byte(17) == 5 then      -- PAGE_LVDATA
          assert.is_true(pages[after:sub(17)], "data page " .. pgno .. " is no page of the values")
          local i, j = 17, PS
          while i <= PS and before:byte(i) == after:byte(i) do i = i + 1 end
          while j >= i and before:byte(j) == after:byte(j) do j = j - 1 end
          local want = i > PS and "" or string.pack("<I2I2", i - 1, j - i + 1) .. after:sub(i, j)
          assert.are.equal(want, payload:sub(25), "the difference of data page " .. pgno)
          local used = string.unpack("<I4", after, 21)
          if string.unpack("<I8", payload, 17) == 0 then seen.new = seen.new + 1
          elseif want == "" then seen.none = seen.none + 1
          elseif i > 33 and j < 32 + used then seen.inside = seen.inside + 1
          else seen.whole = seen.whole + 1 end
        end
      elseif ty == 16 then                          -- LR_FREEPAGE
        if img[pgno] ~= false then img[pgno] = (img[pgno] or zero):sub(1, 16) .. zero:sub(17) end
      elseif ty >= 10 and ty <= 15 then
        img[pgno] = false
      end
    end)
    assert.is_true(seen.new >= 5 and seen.whole >= 4 and seen.inside >= 1 and seen.none >= 1,
                   ("records seen: %d new, %d whole, %d inside, %d none"):format(seen.new, seen.whole, seen.inside,
                                                                                  seen.none))
    local t2 = w:reopen()
    assert.are.equal(one:sub(1, 2000), t2:get("c"))
    assert.are.equal(val(2 * DCAP, 4), t2:get("b"))
    assert.is_nil(t2:get("a"))
  end)

  it("a database of format 2 (spec/fixtures/v3) is JET_errInvalidDatabaseVersion (-1209), bytes unchanged", function()
    local copy = H.copy_dir("spec/fixtures/v3/clean", w:path("v3"))
    local path = copy .. "/app.edb"
    local before = H.read_file(path)
    local inst = w:open()
    local s = inst:begin_session()
    local e = H.expect_jet("JET_errInvalidDatabaseVersion", s.attach_database, s, path)
    assert.matches("database format 2, this engine reads formats 3 to 4", e.detail, 1, true)
    H.expect_jet("JET_errInvalidDatabaseVersion", ese.file_info, path, true)
    assert.are.equal(before, H.read_file(path))
  end)
end)

describe("long values and `ese check`", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  local function patch_page(path, pgno, fn) H.patch_page(path, PS, pgno, fn) end

  local function pages_of_type(path, ty) return H.pages_of_type(path, PS, ty) end

  local function made()
    local t, _, _, inst = w:table()
    t:put("a", val(3 * DCAP + 5, 1))
    t:put("b", val(50000, 2))
    t:delete("b")                                 -- a free list
    inst:term({ complete = true })
    local path = w:path("app.edb")
    assert.are.equal(0, (H.lua_run("bin/ese", { "check", path })))
    return path
  end

  it("a data page whose length disagrees with its value: JET_errDatabaseCorrupted naming the table", function()
    local path = made()
    local data = pages_of_type(path, 5)
    patch_page(path, data[1], function(pg) return pg:sub(1, 20) .. string.pack("<I4", 17) .. pg:sub(25) end)
    local e = H.expect_jet("JET_errDatabaseCorrupted", ese.file_info, path, true)
    assert.matches("table 't'", e.detail, 1, true)
    local code, _, err = H.lua_run("bin/ese", { "check", path })
    assert.are.equal(1, code)
    assert.matches("JET_errDatabaseCorrupted", err, 1, true)
  end)

  it("a page in a value and on the free list, a miscounted free list, lost pages: JET_errDatabaseCorrupted", function()
    local path = made()
    local fl = pages_of_type(path, 7)[1]
    local data = pages_of_type(path, 5)
    local saved = assert(H.read_file(path))
    -- the first free entry now names a data page of "a"
    patch_page(path, fl, function(pg) return pg:sub(1, 32) .. string.pack("<I4", data[1]) .. pg:sub(37) end)
    local e = H.expect_jet("JET_errDatabaseCorrupted", ese.file_info, path, true)
    assert.matches("free list", e.detail, 1, true)
    H.write_file(path, saved)
    -- the free list emptied (count 0, space page count lowered): its pages are lost
    patch_page(path, fl, function(pg) return pg:sub(1, 20) .. string.pack("<I4", 0) .. pg:sub(25) end)
    e = H.expect_jet("JET_errDatabaseCorrupted", ese.file_info, path, true)
    assert.matches("free list", e.detail, 1, true)
    H.write_file(path, saved)
    -- the space page forgets its free list (free = nfree = 0): the list's pages are lost
    patch_page(path, 2, function(pg) return pg:sub(1, 40) .. string.pack("<I4I4", 0, 0) .. pg:sub(49) end)
    e = H.expect_jet("JET_errDatabaseCorrupted", ese.file_info, path, true)
    assert.matches("page %d+ is in no tree, no long value and not on the free list %(lost%)", e.detail)
  end)

  it("a free-list entry naming a tree page: the allocation that meets it is refused, the tree intact", function()
    local path = made()
    local fl = pages_of_type(path, 7)[1]
    local leaf = pages_of_type(path, 3)
    leaf = leaf[#leaf]                            -- the table's root leaf (page 3 is the catalog's)
    patch_page(path, fl, function(pg)
      local n = string.unpack("<I4", pg, 21)
      local at = 32 + 4 * (n - 1)
      return pg:sub(1, at) .. string.pack("<I4", leaf) .. pg:sub(at + 5)
    end)
    local inst = w:open()
    local t = H.open_table(inst, w.dir)
    H.expect_jet("JET_errDatabaseCorrupted", t.put, t, "c", val(20000, 3))
    assert.are.equal(val(3 * DCAP + 5, 1), t:get("a"))
    assert.is_nil(t:get("c"))
    t:put("small", "inline values need no page")
    assert.are.equal("inline values need no page", t:get("small"))
  end)
end)

describe("long values through backups and restore", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("full + incremental backup, backup.verify, ese.restore: exact; `ese check` of the restored database", function()
    local t, _, _, inst = w:table({ log_file_size = 256 })
    for i = 1, 6 do t:put(("k%d"):format(i), val(i * 30000, i)) end
    local full = w:path("full")
    backup.run(inst, full)
    t:put("k2", "short")
    t:put("k3", val(150000, 33))
    t:delete("k4")
    t:put("k7", val(1 << 20, 7))
    local inc = w:path("inc")
    backup.run(inst, inc, { incremental = true })
    backup.verify(full)
    backup.verify({ full, inc })
    local dest = w:path("dest")
    ese.restore({ full, inc }, dest)
    local code, out, err = H.lua_run("bin/ese", { "check", dest .. "/app.edb" })
    assert.are.equal(0, code, out .. err)
    local i2 = w:create(nil, { system_path = dest, log_path = dest })
    i2:init()
    local t2 = H.open_table(i2, dest)
    local want = { k1 = val(30000, 1), k2 = "short", k3 = val(150000, 33), k5 = val(150000, 5),
                   k6 = val(180000, 6), k7 = val(1 << 20, 7) }
    local got = {}
    for k, v in t2:pairs() do got[k] = v end
    assert.are.same(want, got)
    i2:term({ complete = true })
    assert.are.equal(0, (H.lua_run("bin/ese", { "check", dest .. "/app.edb" })))
  end)
end)

-- A crash sweep with long values: a child commits long values durably
-- (puts, replaces, deletes), noting each commit after it returns, and is
-- killed at its K-th write or sync (ESE_FAULT=crash:K), at a torn page
-- write (torn:K:C) or by a power cut that reverts unsynced writes
-- (power:K:S, csrc/os.h); recovery must give exactly the commits noted
-- as durable, maybe the lazy ones noted after them (every third commit is
-- lazy) and the one cut off, whole values only, and a database `ese
-- check` passes.  Replaced values free pages that later commits reuse, so
-- this is also the free list's crash test (pager.h: reuse at once is
-- safe, lazy commits included).
local NTX = 14

describe("a crash sweep with long values", function()
  local w, wl
  before_each(function()
    w = H.world()
    wl = LV.workload(w, {
      ntx = NTX,
      txn_src = [[return function(n)   -- key, value size (nil: delete), lazy of commit n
        local sizes = { 3000, 20000, 70000, 9000, 150, 41000 }
        return ("lv%d"):format(n % 4), n % 5 ~= 0 and sizes[n % #sizes + 1] or nil, n % 3 == 1
      end]],
      opts_src = "log_file_size = 64, cache_size = 16 * 8192",
    })
  end)
  after_each(function() w:cleanup() end)

  it("crash, torn and power-cut points over the writes and syncs of a long-value workload lose no commit", function()
    wl.sweep(50)
  end)
end)
