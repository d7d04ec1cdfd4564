-- Session 17's first-use review (README, docs/api.md and docs/guide.md
-- followed by a new user writing a Lua application: JSON documents of
-- several MiB, transactions retried on JET_errWriteConflict, cursors,
-- coroutines under lua-luv, continuous backup and a restore drill): the
-- errors that did not say what to do.  Each case failed before its change.
local H = require "support.helpers"

describe("tryout 17", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  describe("the empty key", function()
    -- Before: JET_errInvalidParameter "A parameter is not valid for this
    -- call [in put]" and no detail: nothing said which parameter.
    it("put, get and delete raise JET_errInvalidParameter whose detail says the key is empty", function()
      local t = w:table()
      t:put("k", "1")
      for _, call in ipairs({ { "put", t.put, t, "", "v" }, { "get", t.get, t, "" },
                              { "get", t.get, t, "", 0, 4 }, { "delete", t.delete, t, "" } }) do
        local e = H.expect_jet("JET_errInvalidParameter", table.unpack(call, 2))
        assert.are.equal(call[1], e.op)
        assert.are.equal("the key is empty: a key is 1 .. 255 bytes", e.detail)
      end
      -- a wrong value type is still the argument error it was
      H.expect_argerror("string expected, got nil", t.put, t, "", nil)
      assert.are.equal("1", t:get("k"))
    end)
  end)

  describe("detach_database of a database still open", function()
    -- Before: JET_errDatabaseInUse "The database is in use by another
    -- session or instance" and no detail, while the only holder was a
    -- Database object of the calling session itself (opened twice, closed
    -- once): the message pointed at someone else.
    it("JET_errDatabaseInUse's detail names the database and how many handles this session and others hold",
       function()
      local t, s, db, inst = w:table()
      local path = w:path("app.edb")
      local again = s:open_database(path)
      t:close()
      db:close()
      local e = H.expect_jet("JET_errDatabaseInUse", s.detach_database, s, path)
      assert.are.equal(path .. " is open 1 time (1 by this session, 0 by others): close every handle of it "
        .. "(JetCloseDatabase; in Lua db:close(), or end the session) first", e.detail)
      local s2 = inst:begin_session()
      local other = s2:open_database(path)
      e = H.expect_jet("JET_errDatabaseInUse", s.detach_database, s, path)
      assert.truthy(e.detail:find("is open 2 times (1 by this session, 1 by others)", 1, true), e.detail)
      again:close()
      other:close()
      s:detach_database(path)   -- every handle closed: the detach goes through
    end)
  end)

end)
