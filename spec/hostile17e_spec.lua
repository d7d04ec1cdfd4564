-- Hostile tests of session 17 (engine: records, isolation, the version
-- store).  Each case failed before the change it came with.
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
end)
