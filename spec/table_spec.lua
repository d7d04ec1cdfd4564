-- Tables: put/get/delete, ordered ranges with pairs, binary keys, size
-- limits, and transactions seen from one and from two sessions.
local H = require "support.helpers"

describe("ese.Table", function()
  local w, t, s, db, inst
  before_each(function()
    w = H.world()
    t, s, db, inst = w:table()
  end)
  after_each(function() w:cleanup() end)

  local function fill(tbl, keys)
    for _, k in ipairs(keys) do tbl:put(k, "v" .. k) end
  end

  describe("records", function()
    it("puts, gets and overwrites", function()
      assert.matches("^ese%.Table", tostring(t))
      t:put("k1", "v1")
      assert.are.equal("v1", t:get("k1"))
      t:put("k1", "v2")
      assert.are.equal("v2", t:get("k1"))
    end)

    it("returns nil for a missing key", function()
      assert.is_nil(t:get("nope"))
      t:put("a", "1")
      assert.is_nil(t:get("b"))
      assert.is_nil(t:get("a\0"))
    end)

    it("deletes, and JET_errRecordNotFound for a missing key", function()
      t:put("k", "v")
      t:delete("k")
      assert.is_nil(t:get("k"))
      local e = H.expect_jet("JET_errRecordNotFound", t.delete, t, "k")
      assert.are.equal("delete", e.op)
      H.expect_jet("JET_errRecordNotFound", t.delete, t, "never")
    end)

    it("keeps binary keys and values with NUL bytes apart", function()
      local keys = { "\0", "a", "a\0", "a\0b", "a\0c", "\255\0", "\1\2\3" }
      for i, k in ipairs(keys) do t:put(k, "val\0" .. i) end
      for i, k in ipairs(keys) do assert.are.equal("val\0" .. i, t:get(k)) end
      local ks = H.collect(t)
      assert.are.same({ "\0", "\1\2\3", "a", "a\0", "a\0b", "a\0c", "\255\0" }, ks)
    end)

    it("stores an empty value and values longer than 256 bytes", function()
      t:put("empty", "")
      assert.are.equal("", t:get("empty"))
      local big = string.rep("0123456789abcdef", 64)   -- 1 KiB
      t:put("big", big)
      assert.are.equal(big, t:get("big"))
      local _, vs = H.collect(t, "big", "big")
      assert.are.same({ big }, vs)
    end)

    it("stores a key of 255 bytes; JET_errKeyTooBig for 256", function()
      local k = string.rep("k", 255)
      t:put(k, "v")
      assert.are.equal("v", t:get(k))
      local e = H.expect_jet("JET_errKeyTooBig", t.put, t, string.rep("k", 256), "v")
      assert.are.equal("put", e.op)
    end)

    it("stores a value larger than a page (out of line; spec/long_values_spec.lua)", function()
      t:put("k", string.rep("v", 64 * 1024))
      assert.are.equal(string.rep("v", 64 * 1024), t:get("k"))
    end)

    it("keeps records of two tables apart", function()
      local u = s:create_table(db, "u")
      t:put("k", "in t")
      u:put("k", "in u")
      assert.are.equal("in t", t:get("k"))
      assert.are.equal("in u", u:get("k"))
      assert.are.equal("in t", s:open_table(db, "t"):get("k"))
    end)

    it("JET_errObjectNotFound / JET_errTableDuplicate for table names", function()
      H.expect_jet("JET_errObjectNotFound", s.open_table, s, db, "missing")
      H.expect_jet("JET_errTableDuplicate", s.create_table, s, db, "t")
    end)

    it("raises argument errors for wrong Lua types", function()
      H.expect_argerror("bad argument", t.put, t, {}, "v")
      H.expect_argerror("bad argument", t.put, t, "k")
      H.expect_argerror("bad argument", t.get, t)
      H.expect_argerror("bad argument", t.delete, t, false)
      H.expect_argerror("bad argument", t.pairs, t, {})
      H.expect_argerror("ese%.Table expected", t.get, s, "k")
      H.expect_argerror("ese%.Database expected", s.create_table, s, t, "x")
      H.expect_argerror("bad argument", s.create_table, s, db)
    end)
  end)

  describe("pairs", function()
    local keys = { "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9" }

    it("yields nothing on an empty table", function()
      assert.are.same({}, (H.collect(t)))
    end)

    it("yields every record in key order", function()
      fill(t, { "k5", "k1", "k9", "k3", "k7", "k2", "k8", "k4", "k6" })
      local ks, vs = H.collect(t)
      assert.are.same(keys, ks)
      for i, k in ipairs(ks) do assert.are.equal("v" .. k, vs[i]) end
    end)

    it("includes both bounds", function()
      fill(t, keys)
      assert.are.same({ "k3", "k4", "k5" }, (H.collect(t, "k3", "k5")))
      assert.are.same({ "k4" }, (H.collect(t, "k4", "k4")))
      assert.are.same({ "k1" }, (H.collect(t, "k1", "k1")))
      assert.are.same({ "k9" }, (H.collect(t, "k9", "k9")))
    end)

    it("takes bounds that are not keys", function()
      fill(t, keys)
      assert.are.same({ "k4", "k5", "k6", "k7" }, (H.collect(t, "k35", "k7")))
      assert.are.same({ "k4", "k5" }, (H.collect(t, "k35", "k55")))
      assert.are.same({}, (H.collect(t, "k45", "k46")))
      assert.are.same(keys, (H.collect(t, "a", "z")))
    end)

    it("leaves either end open with nil", function()
      fill(t, keys)
      assert.are.same({ "k1", "k2" }, (H.collect(t, nil, "k2")))
      assert.are.same({ "k8", "k9" }, (H.collect(t, "k8")))
      assert.are.same({ "k8", "k9" }, (H.collect(t, "k8", nil)))
      assert.are.same({}, (H.collect(t, "z")))
      assert.are.same({}, (H.collect(t, nil, "a")))
    end)

    it("yields nothing for a reversed range", function()
      fill(t, keys)
      assert.are.same({}, (H.collect(t, "k5", "k3")))
    end)

    it("treats a bound as a byte string (prefixes sort first)", function()
      fill(t, { "a", "ab", "abc", "b" })
      assert.are.same({ "a", "ab" }, (H.collect(t, "a", "ab")))
      assert.are.same({ "ab", "abc" }, (H.collect(t, "aa", "abc")))
    end)

    it("tolerates writes between steps", function()
      fill(t, keys)
      local seen = {}
      for k in t:pairs() do
        seen[#seen + 1] = k
        t:delete(k)                      -- the current record
        t:put("a" .. k, "x")             -- before the cursor: not visited
        assert.are.equal("x", t:get("a" .. k))   -- moves the cursor
      end
      assert.are.same(keys, seen)
      assert.is_nil(t:get("k1"))
      assert.are.equal(9, #(H.collect(t)))
    end)

    it("visits a record put ahead of the cursor", function()
      fill(t, { "k1", "k3" })
      local seen = {}
      for k in t:pairs() do
        seen[#seen + 1] = k
        if k == "k1" then t:put("k2", "new") end
      end
      assert.are.same({ "k1", "k2", "k3" }, seen)
    end)

    it("keeps returning nil once exhausted", function()
      fill(t, { "k1" })
      local it = t:pairs()
      assert.are.equal("k1", it())
      assert.is_nil(it())
      t:put("k2", "v")
      assert.is_nil(it())
    end)

    it("lets two iterators of one table interleave", function()
      fill(t, { "k1", "k2", "k3" })
      local a, b = t:pairs(), t:pairs("k2")
      assert.are.equal("k1", a())
      assert.are.equal("k2", b())
      assert.are.equal("k2", a())
      assert.are.equal("k3", b())
      assert.are.equal("k3", a())
      assert.is_nil(b())
      assert.is_nil(a())
    end)

    it("may yield inside a coroutine", function()
      fill(t, { "k1", "k2", "k3" })
      local co = coroutine.wrap(function()
        for k in t:pairs() do coroutine.yield(k) end
        return "done"
      end)
      assert.are.equal("k1", co())
      t:put("k25", "v")
      assert.are.equal("k2", co())
      assert.are.equal("k25", co())
      assert.are.equal("k3", co())
      assert.are.equal("done", co())
    end)
  end)

  describe("transactions", function()
    -- A second session with its own cursor on the same table.
    local function other()
      local s2 = inst:begin_session()
      local db2 = s2:open_database(w:path("app.edb"))
      return s2:open_table(db2, "t"), s2
    end

    it("rollback discards the transaction's writes", function()
      t:put("keep", "1")
      s:begin_transaction()
      t:put("k", "v")
      t:put("keep", "2")
      t:delete("keep")
      s:rollback()
      assert.is_nil(t:get("k"))
      assert.are.equal("1", t:get("keep"))
    end)

    it("commit keeps them", function()
      s:begin_transaction()
      t:put("k1", "v1")
      t:put("k2", "v2")
      s:commit_transaction()
      assert.are.equal("v1", t:get("k1"))
      assert.are.same({ "k1", "k2" }, (H.collect(t)))
    end)

    it("reads inside a transaction see its own writes", function()
      t:put("k1", "old")
      t:put("k3", "gone")
      s:begin_transaction()
      t:put("k1", "new")
      t:put("k2", "v2")
      t:delete("k3")
      assert.are.equal("new", t:get("k1"))
      assert.are.equal("v2", t:get("k2"))
      assert.is_nil(t:get("k3"))
      local ks, vs = H.collect(t)
      assert.are.same({ "k1", "k2" }, ks)
      assert.are.same({ "new", "v2" }, vs)
      s:commit_transaction()
    end)

    it("reads outside see committed data only", function()
      local t2, s2 = other()
      t:put("base", "0")
      s:begin_transaction()
      t:put("k", "v")
      t:put("base", "1")
      assert.is_nil(t2:get("k"))
      assert.are.equal("0", t2:get("base"))
      assert.are.same({ "base" }, (H.collect(t2)))
      s:commit_transaction()
      assert.are.equal("v", t2:get("k"))
      assert.are.equal("1", t2:get("base"))
      s2:end_session()
    end)

    it("a rolled-back transaction is never seen by another session", function()
      local t2 = other()
      s:begin_transaction()
      t:put("k", "v")
      s:rollback()
      assert.is_nil(t2:get("k"))
      assert.is_nil(t:get("k"))
    end)

    it("commits lazily with { lazy = true }", function()
      s:begin_transaction()
      t:put("k", "v")
      s:commit_transaction { lazy = true }
      assert.are.equal("v", t:get("k"))
      s:begin_transaction()
      t:put("k2", "v")
      s:commit_transaction(1)   -- a raw grbit: JET_bitCommitLazyFlush
      assert.are.equal("v", t:get("k2"))
    end)

    it("JET_errTransTooDeep for a nested begin", function()
      s:begin_transaction()
      local e = H.expect_jet("JET_errTransTooDeep", s.begin_transaction, s)
      assert.are.equal("begin_transaction", e.op)
      s:rollback()
    end)

    it("JET_errNotInTransaction for commit or rollback without begin", function()
      local e = H.expect_jet("JET_errNotInTransaction", s.commit_transaction, s)
      assert.are.equal("commit_transaction", e.op)
      H.expect_jet("JET_errNotInTransaction", s.rollback, s)
      s:begin_transaction()
      s:commit_transaction()
      H.expect_jet("JET_errNotInTransaction", s.commit_transaction, s)
    end)

    it("rejects unknown commit options", function()
      H.expect_argerror("unknown option 'lazzy'", s.commit_transaction, s, { lazzy = true })
    end)

    it("ending a session rolls back its open transaction", function()
      local t2, s2 = other()
      s2:begin_transaction()
      t2:put("k", "v")
      s2:end_session()
      assert.is_nil(t:get("k"))
    end)
  end)
end)
