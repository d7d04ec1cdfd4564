-- Cursors: t:pairs(from, to, { reverse = true }), t:first(), t:last(),
-- t:seek(key, op), t:count(from, to); their view inside a transaction (its
-- own puts and deletes); loop bodies that write or yield; the cursor's
-- position hint when pages split or another session commits; use after
-- close.
local H = require "support.helpers"

-- All keys of pairs(from, to, opts) and their values.
local function walk(t, from, to, opts)
  local ks, vs = {}, {}
  for k, v in t:pairs(from, to, opts) do
    ks[#ks + 1] = k
    vs[#vs + 1] = v
  end
  return ks, vs
end

local REV = { reverse = true }

local function reversed(list)
  local r = {}
  for i = #list, 1, -1 do r[#r + 1] = list[i] end
  return r
end

-- Every result of a call, as a table (to tell nil from nothing).
local function pack(...) return { n = select("#", ...), ... } end

describe("cursors", function()
  local w, t, s, db, inst
  before_each(function()
    w = H.world()
    t, s, db, inst = w:table()
  end)
  after_each(function() w:cleanup() end)

  local keys = { "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9" }
  local function fill(tbl, ks)
    for _, k in ipairs(ks) do tbl:put(k, "v" .. k) end
  end

  -- A second session with its own cursor on the same table.
  local function other()
    local s2 = inst:begin_session()
    local db2 = s2:open_database(w:path("app.edb"))
    return s2:open_table(db2, "t"), s2
  end

  describe("pairs in reverse", function()
    it("yields nothing on an empty table", function()
      assert.are.same({}, (walk(t, nil, nil, REV)))
      assert.are.same({}, (walk(t, "a", "z", REV)))
    end)

    it("yields every record in descending key order, with its value", function()
      fill(t, { "k5", "k1", "k9", "k3", "k7", "k2", "k8", "k4", "k6" })
      local ks, vs = walk(t, nil, nil, REV)
      assert.are.same(reversed(keys), ks)
      for i, k in ipairs(ks) do assert.are.equal("v" .. k, vs[i]) end
    end)

    it("includes both bounds, which need not be keys", function()
      fill(t, keys)
      assert.are.same({ "k5", "k4", "k3" }, (walk(t, "k3", "k5", REV)))
      assert.are.same({ "k4" }, (walk(t, "k4", "k4", REV)))
      assert.are.same({ "k1" }, (walk(t, "k1", "k1", REV)))
      assert.are.same({ "k9" }, (walk(t, "k9", "k9", REV)))
      assert.are.same({ "k7", "k6", "k5", "k4" }, (walk(t, "k35", "k7", REV)))
      assert.are.same({ "k5", "k4" }, (walk(t, "k35", "k55", REV)))
      assert.are.same({}, (walk(t, "k45", "k46", REV)))
      assert.are.same(reversed(keys), (walk(t, "a", "z", REV)))
    end)

    it("leaves either end open with nil", function()
      fill(t, keys)
      assert.are.same({ "k2", "k1" }, (walk(t, nil, "k2", REV)))
      assert.are.same({ "k9", "k8" }, (walk(t, "k8", nil, REV)))
      assert.are.same({}, (walk(t, "z", nil, REV)))
      assert.are.same({}, (walk(t, nil, "a", REV)))
      assert.are.same({ "k9" }, (walk(t, "k9", "k9\0", REV)))
    end)

    it("yields nothing when from > to; the empty key is below every key", function()
      fill(t, keys)
      assert.are.same({}, (walk(t, "k5", "k3", REV)))
      assert.are.same({}, (walk(t, "k5", "k3")))
      assert.are.same({}, (walk(t, nil, "", REV)))
      assert.are.same({}, (walk(t, nil, "")))
      assert.are.same(reversed(keys), (walk(t, "", nil, REV)))
      assert.are.same(keys, (walk(t, "", nil)))
    end)

    it("treats bounds as byte strings (a prefix sorts first)", function()
      fill(t, { "a", "ab", "abc", "b", "a\0" })
      assert.are.same({ "ab", "a\0", "a" }, (walk(t, "a", "ab", REV)))
      assert.are.same({ "abc", "ab" }, (walk(t, "aa", "abc", REV)))
    end)

    it("{ reverse = false } is forward; options are checked", function()
      fill(t, { "k1", "k2" })
      assert.are.same({ "k1", "k2" }, (walk(t, nil, nil, { reverse = false })))
      assert.are.same({ "k1", "k2" }, (walk(t, nil, nil, {})))
      H.expect_argerror("unknown option 'revers'", t.pairs, t, nil, nil, { revers = true })
      H.expect_argerror("bad argument #4", t.pairs, t, nil, nil, true)
      H.expect_argerror("bad argument #4", t.pairs, t, nil, nil, 1)
      H.expect_argerror("bad argument", t.pairs, t, nil, nil, { reverse = 1 })
      H.expect_argerror("bad argument #3", t.pairs, t, nil, {}, REV)
    end)

    it("keeps returning nil once exhausted", function()
      fill(t, { "k1" })
      local it = t:pairs(nil, nil, REV)
      assert.are.equal("k1", it())
      assert.is_nil(it())
      t:put("k0", "v")
      assert.is_nil(it())
    end)

    it("returns values of every size whole (past the step's buffers)", function()
      local sizes = { 0, 1, 1023, 1024, 1025, 1500 }
      local long = string.rep("z", 255)
      for i, n in ipairs(sizes) do t:put("s" .. i, string.rep(string.char(64 + i), n)) end
      t:put(long, "long key")
      local ks, vs = walk(t, nil, nil, REV)
      assert.are.equal(long, ks[1])
      assert.are.equal("long key", vs[1])
      for i, n in ipairs(sizes) do
        assert.are.equal(string.rep(string.char(64 + i), n), vs[#vs + 1 - i])
      end
      assert.are.same({ long, "long key" }, { t:last() })
      assert.are.same({ "s6", string.rep("F", 1500) }, { t:seek("s6", "eq") })
    end)
  end)

  describe("first and last", function()
    it("return one nil on an empty table", function()
      assert.are.same({ n = 1 }, pack(t:first()))
      assert.are.same({ n = 1 }, pack(t:last()))
    end)

    it("return the one record of a one-record table", function()
      t:put("only", "v")
      assert.are.same({ n = 2, "only", "v" }, pack(t:first()))
      assert.are.same({ n = 2, "only", "v" }, pack(t:last()))
    end)

    it("return the smallest and the largest key with their values", function()
      fill(t, { "m", "\0", "z\255", "a" })
      assert.are.same({ "\0", "v\0" }, { t:first() })
      assert.are.same({ "z\255", "vz\255" }, { t:last() })
    end)

    it("take no arguments beyond the table", function()
      H.expect_argerror("ese%.Table expected", t.first, s)
      H.expect_argerror("ese%.Table expected", t.last, {})
    end)
  end)

  describe("seek", function()
    -- keys b, d, f; probes before, on, between and after them
    local expect = {
      --         eq    ge    gt    le    lt
      a = { nil, "b", "b", nil, nil },
      b = { "b", "b", "d", "b", nil },
      c = { nil, "d", "d", "b", "b" },
      d = { "d", "d", "f", "d", "b" },
      e = { nil, "f", "f", "d", "d" },
      f = { "f", "f", nil, "f", "d" },
      g = { nil, nil, nil, "f", "f" },
    }
    local ops = { "eq", "ge", "gt", "le", "lt" }

    it("finds every op's record at every edge", function()
      fill(t, { "d", "b", "f" })
      for probe, want in pairs(expect) do
        for i, op in ipairs(ops) do
          local r = pack(t:seek(probe, op))
          if want[i] then
            assert.are.same({ n = 2, want[i], "v" .. want[i] }, r, probe .. " " .. op)
          else
            assert.are.same({ n = 1 }, r, probe .. " " .. op)
          end
        end
      end
    end)

    it("finds nothing in an empty table", function()
      for _, op in ipairs(ops) do
        assert.are.same({ n = 1 }, pack(t:seek("k", op)))
        assert.are.same({ n = 1 }, pack(t:seek("", op)))
      end
    end)

    it("the empty key: ge / gt give the first record, eq / le / lt nil", function()
      fill(t, { "d", "b", "f" })
      assert.are.same({ "b", "vb" }, { t:seek("", "ge") })
      assert.are.same({ "b", "vb" }, { t:seek("", "gt") })
      assert.are.same({ n = 1 }, pack(t:seek("", "eq")))
      assert.are.same({ n = 1 }, pack(t:seek("", "le")))
      assert.are.same({ n = 1 }, pack(t:seek("", "lt")))
    end)

    it("defaults to ge; compares bytes (NUL, prefixes, 255)", function()
      fill(t, { "a", "a\0", "ab", "\255" })
      assert.are.same({ "a\0", "va\0" }, { t:seek("a\0") })
      assert.are.same({ "a\0", "va\0" }, { t:seek("a", "gt") })
      assert.are.same({ "a", "va" }, { t:seek("a\0", "lt") })
      assert.are.same({ "ab", "vab" }, { t:seek("a\1") })
      assert.are.same({ "\255", "v\255" }, { t:seek("\255\0", "le") })
      assert.are.same({ n = 1 }, pack(t:seek("\255", "gt")))
    end)

    it("a key longer than any key can be raises what get raises", function()
      fill(t, { "b" })
      local long = string.rep("x", 256)
      local want = H.catch(t.get, t, long)
      local e = H.expect_jet(want.name, t.seek, t, long, "le")
      assert.are.equal("seek", e.op)
      local c = H.expect_jet(want.name, t.count, t, long)
      assert.are.equal("count", c.op)
    end)

    it("raises argument errors for wrong types and a bad op", function()
      H.expect_argerror("bad argument #2", t.seek, t)
      H.expect_argerror("bad argument #2", t.seek, t, {})
      H.expect_argerror("bad argument #3.*invalid option 'gte'", t.seek, t, "k", "gte")
      H.expect_argerror("invalid option 'EQ'", t.seek, t, "k", "EQ")
      H.expect_argerror("bad argument #3", t.seek, t, "k", 1 > 2)
      H.expect_argerror("ese%.Table expected", t.seek, s, "k", "eq")
    end)
  end)

  describe("count", function()
    it("is 0 on an empty table, whatever the range", function()
      assert.are.equal(0, t:count())
      assert.are.equal(0, t:count("a", "z"))
      assert.are.equal(0, t:count("a"))
      assert.are.equal(0, t:count(nil, "z"))
    end)

    it("counts what pairs yields, both bounds included", function()
      fill(t, keys)
      assert.are.equal(9, t:count())
      assert.are.equal(3, t:count("k3", "k5"))
      assert.are.equal(1, t:count("k4", "k4"))
      assert.are.equal(4, t:count("k35", "k7"))
      assert.are.equal(0, t:count("k45", "k46"))
      assert.are.equal(2, t:count("k8"))
      assert.are.equal(2, t:count(nil, "k2"))
      assert.are.equal(0, t:count("k5", "k3"))
      assert.are.equal(0, t:count(nil, ""))
      assert.are.equal(9, t:count(""))
      assert.are.equal(0, t:count("z"))
      assert.is_true(math.type(t:count()) == "integer")
    end)

    it("agrees with pairs over many ranges of a table of many pages", function()
      local all = {}
      s:begin_transaction()
      for i = 1, 3000 do
        local k = string.format("%05d", (i * 7919) % 10007)
        all[#all + 1] = k
        t:put(k, string.rep("v", 100))
      end
      s:commit_transaction()
      table.sort(all)
      assert.are.same(all, (walk(t)))
      assert.are.equal(3000, t:count())
      for i = 1, 40 do
        local a = string.format("%05d", (i * 613) % 10007)
        local b = string.format("%05d", (i * 2713) % 10007)
        assert.are.equal(#(walk(t, a, b)), t:count(a, b), a .. ".." .. b)
        assert.are.equal(#(walk(t, a, b, REV)), t:count(a, b))
      end
    end)

    it("raises argument errors for wrong types", function()
      H.expect_argerror("bad argument #2", t.count, t, {})
      H.expect_argerror("bad argument #3", t.count, t, nil, true)
      H.expect_argerror("ese%.Table expected", t.count, db)
    end)
  end)

  describe("inside a transaction", function()
    -- committed k1..k6; the transaction puts k0 (before the first), k35
    -- (new), replaces k2, deletes k4 and k6 (the last)
    local function txn()
      fill(t, { "k1", "k2", "k3", "k4", "k5", "k6" })
      s:begin_transaction()
      t:put("k0", "new0")
      t:put("k35", "new35")
      t:put("k2", "new2")
      t:delete("k4")
      t:delete("k6")
    end
    local view = { "k0", "k1", "k2", "k3", "k35", "k5" }

    it("pairs both ways sees its puts and not its deletes", function()
      txn()
      local ks, vs = walk(t)
      assert.are.same(view, ks)
      assert.are.same({ "new0", "vk1", "new2", "vk3", "new35", "vk5" }, vs)
      assert.are.same(reversed(view), (walk(t, nil, nil, REV)))
      assert.are.same({ "k5", "k35", "k3" }, (walk(t, "k3", "k6", REV)))
      assert.are.same({ "k35", "k5" }, (walk(t, "k35", "k6")))
      s:rollback()
      assert.are.same({ "k1", "k2", "k3", "k4", "k5", "k6" }, (walk(t)))
    end)

    it("first, last and count see the same", function()
      txn()
      assert.are.same({ "k0", "new0" }, { t:first() })
      assert.are.same({ "k5", "vk5" }, { t:last() })
      assert.are.equal(6, t:count())
      assert.are.equal(3, t:count("k3", "k6"))
      assert.are.equal(1, t:count("k35", "k4\255"))
      assert.are.equal(0, t:count("k4", "k4\255"))
      s:commit_transaction()
      assert.are.same({ "k0", "new0" }, { t:first() })
      assert.are.same({ "k5", "vk5" }, { t:last() })
      assert.are.equal(6, t:count())
    end)

    it("seek steps over deleted keys in both directions", function()
      txn()
      assert.are.same({ n = 1 }, pack(t:seek("k4", "eq")))
      assert.are.same({ "k5", "vk5" }, { t:seek("k4", "ge") })
      assert.are.same({ "k5", "vk5" }, { t:seek("k35", "gt") })
      assert.are.same({ "k35", "new35" }, { t:seek("k4", "le") })
      assert.are.same({ "k35", "new35" }, { t:seek("k5", "lt") })
      assert.are.same({ "k5", "vk5" }, { t:seek("k6", "le") })
      assert.are.same({ n = 1 }, pack(t:seek("k5", "gt")))
      assert.are.same({ n = 1 }, pack(t:seek("k0", "lt")))
      assert.are.same({ "k2", "new2" }, { t:seek("k2", "eq") })
      s:rollback()
    end)

    it("a table whose records the transaction all deleted is empty to it", function()
      fill(t, { "a", "b", "c" })
      s:begin_transaction()
      t:put("new", "x")
      t:delete("new")
      for _, k in ipairs({ "a", "b", "c" }) do t:delete(k) end
      assert.are.same({ n = 1 }, pack(t:first()))
      assert.are.same({ n = 1 }, pack(t:last()))
      assert.are.equal(0, t:count())
      assert.are.same({}, (walk(t)))
      assert.are.same({}, (walk(t, nil, nil, REV)))
      assert.are.same({ n = 1 }, pack(t:seek("", "ge")))
      local t2, s2 = other()
      assert.are.equal(3, t2:count())       -- others still see the committed records
      s2:end_session()
      s:rollback()
      assert.are.equal(3, t:count())
    end)
  end)

  describe("loop bodies", function()
    it("forward: a put ahead is visited, one behind not, a deleted next key not", function()
      fill(t, { "k1", "k3", "k5", "k7" })
      local seen = {}
      for k in t:pairs() do
        seen[#seen + 1] = k
        if k == "k1" then
          t:put("k2", "ahead")
          t:put("k0", "behind")
          t:delete("k5")
        end
      end
      assert.are.same({ "k1", "k2", "k3", "k7" }, seen)
    end)

    it("reverse: a put below is visited, one above not, a deleted next key not", function()
      fill(t, { "k1", "k3", "k5", "k7" })
      local seen = {}
      for k in t:pairs(nil, nil, REV) do
        seen[#seen + 1] = k
        if k == "k7" then
          t:put("k6", "ahead")
          t:put("k8", "behind")
          t:delete("k3")
        end
        t:delete(k)                          -- the current record: the loop goes on
      end
      assert.are.same({ "k7", "k6", "k5", "k1" }, seen)
      assert.are.same({ "k8" }, (walk(t)))
    end)

    it("inside a transaction: the same rules over its own writes", function()
      fill(t, { "k1", "k3", "k5", "k7" })
      s:begin_transaction()
      local fwd, rev = {}, {}
      for k in t:pairs() do
        fwd[#fwd + 1] = k
        if k == "k3" then t:put("k4", "x"); t:delete("k5"); t:put("k2", "x") end
      end
      for k in t:pairs(nil, nil, REV) do
        rev[#rev + 1] = k
        if k == "k4" then t:put("k35", "x"); t:delete("k2"); t:put("k9", "x") end
      end
      assert.are.same({ "k1", "k3", "k4", "k7" }, fwd)
      assert.are.same({ "k7", "k4", "k35", "k3", "k1" }, rev)
      s:rollback()
      assert.are.same({ "k1", "k3", "k5", "k7" }, (walk(t)))
    end)

    it("may yield in both directions while another session commits", function()
      fill(t, { "k1", "k3", "k5" })
      local t2, s2 = other()
      local function run(opts)
        return coroutine.wrap(function()
          for k in t:pairs(nil, nil, opts) do coroutine.yield(k) end
          return "done"
        end)
      end
      local co = run()
      assert.are.equal("k1", co())
      t2:put("k2", "other")                  -- committed by the other session
      t2:delete("k3")
      assert.are.equal("k2", co())
      assert.are.equal("k5", co())
      assert.are.equal("done", co())
      co = run(REV)
      assert.are.equal("k5", co())
      t2:put("k4", "other")
      t2:delete("k2")
      assert.are.equal("k4", co())
      assert.are.equal("k1", co())
      assert.are.equal("done", co())
      s2:end_session()
    end)

    it("one cursor used by the body (get, seek, count) does not lose the loop's place", function()
      fill(t, keys)
      local seen = {}
      for k in t:pairs(nil, nil, REV) do
        seen[#seen + 1] = k
        assert.are.equal("vk1", t:get("k1"))
        assert.are.same({ "k9", "vk9" }, { t:last() })
        assert.are.same({ "k1", "vk1" }, { t:seek("k1", "le") })
        assert.are.equal(9, t:count())
      end
      assert.are.same(reversed(keys), seen)
    end)
  end)

  describe("the position kept between steps", function()
    local VAL = string.rep("v", 200)   -- about 35 records a page: many leaves

    local function load(tbl, n)
      local all = {}
      s:begin_transaction()
      for i = 1, n do
        local k = string.format("%06d", i * 10)
        all[#all + 1] = k
        tbl:put(k, VAL)
      end
      s:commit_transaction()
      return all
    end

    -- Walks the 2000 loaded records (opts: pairs' third argument); every
    -- `every` steps one lazy commit puts 60 keys newkey(k, j) right next
    -- to the key k just returned, on the side still to come, splitting
    -- its page.  Returns the keys seen and all keys in the order expected.
    local function split_walk(opts, every, newkey)
      local all = load(t, 2000)
      local seen, i = {}, 0
      for k in t:pairs(nil, nil, opts) do
        seen[#seen + 1] = k
        i = i + 1
        if i % every == 0 then
          s:begin_transaction()
          for j = 1, 60 do
            local nk = newkey(k, j)
            t:put(nk, VAL)
            all[#all + 1] = nk
          end
          s:commit_transaction({ lazy = true })
        end
      end
      table.sort(all, opts and function(a, b) return a > b end or nil)
      return seen, all
    end

    it("is not trusted after pages split under it (forward)", function()
      local seen, all = split_walk(nil, 97, function(k, j) return k .. string.format("+%02d", j) end)
      assert.are.same(all, seen)
      assert.are.equal(#all, t:count())
    end)

    it("is not trusted after pages split under it (reverse)", function()
      local seen, all = split_walk(REV, 89, function(k, j) return string.format("%06d+%02d", tonumber(k) - 1, j) end)
      assert.are.same(all, seen)
    end)

    it("is not trusted after another session's commits", function()
      local all = load(t, 1500)
      local t2, s2 = other()
      local seen, want = {}, {}
      local i = 0
      for k in t:pairs() do
        seen[#seen + 1] = k
        i = i + 1
        if i % 50 == 0 then
          s2:begin_transaction()
          for j = 1, 40 do t2:put(k .. string.format("~%02d", j), VAL) end
          s2:commit_transaction({ lazy = true })
        end
      end
      for k in t2:pairs() do want[#want + 1] = k end
      assert.is_true(#want > #all)
      assert.are.same(want, seen)
      s2:end_session()
    end)

    it("of one table does not serve another table or database", function()
      local a = load(t, 700)
      local u = s:create_table(db, "u")
      local db2 = s:create_database(w:path("two.edb"))
      local v = s:create_table(db2, "t")
      s:begin_transaction()
      for _, k in ipairs(a) do
        u:put(k .. "u", "u")
        v:put(k .. "v", "v")
      end
      s:commit_transaction()
      local it1, it2, it3 = t:pairs(), u:pairs(nil, nil, REV), v:pairs()
      for n = 1, #a do
        assert.are.equal(a[n], it1())
        assert.are.equal(a[#a + 1 - n] .. "u", it2())
        assert.are.equal(a[n] .. "v", it3())
      end
      assert.is_nil(it1())
      assert.is_nil(it2())
      assert.is_nil(it3())
    end)
  end)

  describe("a damaged page", function()
    it("JET_errReadVerifyFailure naming the page from every method that reads it, never wrong data", function()
      H.fill(t, 100, "k", 300)
      inst:term({ complete = true })
      local page = 8192
      local victim = H.file_size(w:path("app.edb")) // page - 1   -- the last leaf of the split tree
      H.flip_byte(w:path("app.edb"), victim * page + 500)
      local t2 = w:reopen()
      local calls = {
        pairs = function() for _ in t2:pairs(nil, nil, REV) do end end,
        last = function() return t2:last() end,
        count = function() return t2:count() end,
        seek = function() return t2:seek("k00100", "le") end,
      }
      for name, fn in pairs(calls) do
        local e = H.expect_jet("JET_errReadVerifyFailure", fn)
        assert.are.equal(name, e.op)
        assert.matches("page " .. victim, e.detail)
      end
    end)
  end)

  describe("after close", function()
    it("every cursor method raises JET_errInvalidTableId", function()
      fill(t, keys)
      local fwd, rev = t:pairs(), t:pairs(nil, nil, REV)
      assert.are.equal("k1", fwd())
      assert.are.equal("k9", rev())
      t:close()
      for name, args in pairs({ first = {}, last = {}, seek = { "k", "eq" }, count = {}, pairs = { nil, nil, REV } }) do
        local e = H.expect_jet("JET_errInvalidTableId", t[name], t, table.unpack(args, 1, 3))
        assert.are.equal(name, e.op)
      end
      local e = H.expect_jet("JET_errInvalidTableId", rev)
      assert.are.equal("pairs", e.op)
      H.expect_jet("JET_errInvalidTableId", fwd)
    end)

    it("a reverse loop raises once its session ends or its instance stops", function()
      fill(t, keys)
      local e = H.catch(function()
        for _ in t:pairs(nil, nil, REV) do s:end_session() end
      end)
      assert.are.equal("JET_errInvalidTableId", e.name)
      local t2, _, _, inst2 = w:table_at(w:path("second"), "b.edb")
      fill(t2, keys)
      local it = t2:pairs(nil, nil, REV)
      assert.are.equal("k9", it())
      inst2:term()
      H.expect_jet("JET_errInvalidTableId", it)
      H.expect_jet("JET_errInvalidTableId", t2.count, t2)
      H.expect_jet("JET_errInvalidTableId", t2.first, t2)
    end)
  end)
end)
