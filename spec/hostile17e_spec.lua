-- Hostile tests of session 17 (engine: records, isolation, the version
-- store).  Each case failed before the change it came with.
local ese = require "ese"
local H = require "support.helpers"

describe("hostile 17e", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  describe("a delete of a key that has no record while the version store is nearly full", function()
    -- Before: the version store's limit was checked before the record was
    -- looked up, so a delete of an absent key got
    -- JET_errVersionStoreOutOfMemory ("the write or commit was not applied;
    -- a transaction it was part of stays open") where there was nothing to
    -- apply, in a transaction and outside one: a caller that retries on
    -- -1069 waits for room that changes nothing.
    it("is JET_errRecordNotFound, in a transaction and outside one; a delete of a record still gets -1069", function()
      local t, s, _, inst = w:table({ max_ver_pages = 1 })   -- 16384 bytes
      t:put("b", "x")
      s:begin_transaction()
      t:put("a", ("v"):rep(16300))                            -- 16365 bytes counted
      local e = H.expect_jet("JET_errRecordNotFound", t.delete, t, "zz")
      assert.is_nil(e.message:match("version store"))
      -- the record "b" exists: deleting it would pass the limit
      H.expect_jet("JET_errVersionStoreOutOfMemory", t.delete, t, "b")
      -- outside a transaction, on another session, against the open one
      local t2, s2 = H.open_table(inst, w.dir)
      H.expect_jet("JET_errRecordNotFound", t2.delete, t2, "zz")
      H.expect_jet("JET_errVersionStoreOutOfMemory", t2.delete, t2, "b")
      assert.are.equal("x", t2:get("b"))
      s:rollback()
      t2:delete("b")
      assert.is_nil(t:get("b"))
      assert.are.equal(0, inst:version_store().uncommitted)
      t2:close()
      s2:end_session()
    end)
  end)

  describe("a page pointer of a database that names a header page (0 or 1)", function()
    -- Before: the pager refused page numbers below 2 with
    -- JET_errInvalidParameter ("a parameter is not valid for this call"),
    -- so a long value's directory entry of 0 or 1 made `ese check`
    -- (ese.file_info with verify) and t:get say the caller passed a bad
    -- parameter, and a branch whose leftmost child is 1 made every read
    -- of the table say so too (while `ese check` named the damage).
    local function damaged(patch)
      local t, _, _, inst = w:table()
      for i = 1, 200 do t:put(("k%03d"):format(i), ("r"):rep(500)) end
      t:put("long", ("L"):rep(20000))
      inst:term({ complete = true })
      local path = w:path("app.edb")
      patch(path)
      local e = H.expect_jet("JET_errDatabaseCorrupted", ese.file_info, path, true)
      return e, path
    end
    local function reads_corrupted(keys)
      local t2 = w:reopen()
      for _, k in ipairs(keys) do
        local e = H.expect_jet("JET_errDatabaseCorrupted", t2.get, t2, k)
        assert.matches("a pointer to page %d, a header page", tostring(e))
        H.expect_jet("JET_errDatabaseCorrupted", t2.get, t2, k, 5, 10)
      end
      H.expect_jet("JET_errDatabaseCorrupted", function() for _ in t2:pairs() do end end)
    end
    for _, pg in ipairs { 0, 1 } do
      it(("a long value's directory entry %d: JET_errDatabaseCorrupted from `ese check` and every read"):format(pg),
         function()
        damaged(function(path)
          local dirs = H.pages_of_type(path, 8192, 6)
          assert.are.equal(1, #dirs)
          H.patch_page(path, 8192, dirs[1], function(p) return p:sub(1, 32) .. string.pack("<I4", pg) .. p:sub(37) end)
        end)
        reads_corrupted { "long" }
      end)
    end
    it("a branch's leftmost child 1: JET_errDatabaseCorrupted from every read", function()
      damaged(function(path)
        local branches = H.pages_of_type(path, 8192, 4)
        assert.is_true(#branches >= 1)
        H.patch_page(path, 8192, branches[1], function(p) return p:sub(1, 24) .. string.pack("<I4", 1) .. p:sub(29) end)
      end)
      reads_corrupted { "k001" }
    end)
  end)
end)
