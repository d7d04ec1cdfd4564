-- Hostile tester 18e: the engine's records (tables, cursors, write sets):
-- misuse of the C retrieve calls, and memory a session, a cursor or a
-- transaction kept that nothing needed any more.
local H = require "support.helpers"

-- Runs body in a child with dir (its argument), an instance on it (params
-- plus extra, the text of more table fields), session s, database db and
-- table t in scope, rss() too (H.assert_child_growth); body prints
-- "GROWTH <MiB>", which must stay under max_mib.
local function assert_growth(max_mib, what, extra, body)
  local w = H.world()
  finally(function() w:cleanup() end)
  H.assert_child_growth([[
    local ese = require "ese"
    local dir = ...
    local inst = ese.create_instance("h18e", { system_path = dir, log_path = dir, ]] .. extra .. [[ })
    inst:init()
    local s = inst:begin_session()
    local db = s:create_database(dir .. "/app.edb")
    local t = s:create_table(db, "t")
  ]] .. body .. [[
    inst:term({ complete = true })
  ]], { w.dir }, max_mib, what)
end

describe("hostile 18e", function()
  describe("a NULL output buffer with a size (C: EseRetrieveKey, EseRetrieveValue, EseRetrieveValueAt, "
           .. "EseSeekRetrieve)", function()
    it("is JET_errInvalidParameter, as EseRetrieveSlice's (before: success with nothing copied); NULL with "
       .. "size 0 still asks the sizes", function()
      local ok, out = H.run_harness("cursor_api", "nullbuf")
      assert.is_true(ok, "cursor_api nullbuf failed:\n" .. out)
      assert.is_truthy(out:find("cursor_api: nullbuf: ok", 1, true), "no 'nullbuf: ok' line:\n" .. out)
    end)
  end)

  describe("a table object collected after its database object was closed (db:close(), the table left to GC)",
           function()
    it("frees its cursor: a session that opens, reads 4 MiB and closes the database 24 times keeps no 96 MiB "
       .. "(before: __gc skipped the close, the session kept every cursor and its last record)", function()
      assert_growth(32, "over 24 tables left to the collector", "log_file_size = 8192", [[
        t:put("big", ("x"):rep(4 << 20))
        t:close()
        db:close()
        collectgarbage()
        local before = rss()
        for _ = 1, 24 do
          db = s:open_database(dir .. "/app.edb")
          t = s:open_table(db, "t")
          assert(#t:get("big") == 4 << 20)
          db:close()                        -- the table is left to the collector
          assert(not t:is_open())
          t = nil
          collectgarbage()
          collectgarbage()
        end
        print("GROWTH " .. (rss() - before))
        -- the session goes on: its next table works
        db = s:open_database(dir .. "/app.edb")
        assert(#s:open_table(db, "t"):get("big", 10, 5) == 5)
      ]])
    end)
  end)

  describe("a session after one large transaction", function()
    it("gives its write set's memory back when the transaction ends (before: a session kept 62 MiB after "
       .. "1,000,000 puts rolled back, and zeroed all of it at every later commit or rollback)", function()
      assert_growth(24, "kept by a session after its large transaction ended", "", [[
        collectgarbage()
        local before = rss()
        s:begin_transaction()
        for i = 1, 1000000 do t:put(("%08d"):format(i), "") end
        assert(inst:version_store().uncommitted > 64000000)
        s:rollback()
        s:begin_transaction()         -- the session goes on with small transactions
        t:put("k", "v")
        s:commit_transaction()
        collectgarbage()
        collectgarbage()
        print("GROWTH " .. (rss() - before))
        assert(t:count() == 1 and inst:version_store().uncommitted == 0)
      ]])
    end)
  end)

  describe("a cursor after it read a long value", function()
    it("keeps no copy of it once it holds another record or none (before: 64 MiB held after a pairs loop over "
       .. "it, and after small gets that followed)", function()
      assert_growth(24, "kept by a cursor after reading a 64 MiB value", "log_file_size = 16384", [[
        t:put("a", "x")
        t:put("z", ("z"):rep(64 << 20))
        collectgarbage()
        local before = rss()
        local n = 0
        for _, v in t:pairs() do n = n + #v end          -- ends on z: no record after it
        assert(n == (64 << 20) + 1)
        collectgarbage()
        local after_loop = rss() - before
        assert(#t:get("z") == 64 << 20)
        assert(t:get("a") == "x")                         -- the cursor's record: a
        collectgarbage()
        print("GROWTH " .. math.max(after_loop, rss() - before))
      ]])
    end)
  end)

  describe("a transaction that puts large values and replaces them", function()
    it("holds about what the version store's limit counts (before: 160 MiB held under a 16 MiB limit, "
       .. "the store counting 11 KB)", function()
      assert_growth(32, "by a transaction whose write set counts under 16 KiB", "max_ver_pages = 1024", [[
        local big = ("b"):rep(1 << 20)
        collectgarbage()
        local before = rss()
        s:begin_transaction()
        for i = 1, 160 do
          local k = ("k%04d"):format(i)
          t:put(k, big)                   -- 1 MiB: fits the limit
          if i % 2 == 0 then t:put(k, "") else t:delete(k) end
        end
        print("GROWTH " .. (rss() - before))
        assert(inst:version_store().uncommitted < 16 << 10)
        s:commit_transaction()
        assert(t:count() == 80 and t:get("k0002") == "" and t:get("k0001") == nil)
      ]])
    end)
  end)
end)
