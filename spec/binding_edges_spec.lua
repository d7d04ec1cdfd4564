-- Edges of the Lua binding found by review: objects of the wrong owner,
-- wrong Lua types in option tables, and the CLI's usage errors.
local ese = require "ese"
local H = require "support.helpers"

describe("binding edges", function()
  local w, w2

  before_each(function()
    w = H.world()
  end)

  after_each(function()
    if w2 then w2:cleanup() end
    w2 = nil
    w:cleanup()
  end)

  describe("a table needs a database of its own session", function()
    it("a database of another instance is JET_errDatabaseNotFound, not a table of this one", function()
      local tA, sA = w:table()
      tA:put("who", "A")
      w2 = H.world()
      local tB, _, dbB = w2:table()
      tB:put("who", "B")
      local e = H.expect_jet("JET_errDatabaseNotFound", sA.open_table, sA, dbB, "t")
      assert.are.equal("open_table", e.op)
      e = H.expect_jet("JET_errDatabaseNotFound", sA.create_table, sA, dbB, "t2")
      assert.are.equal("create_table", e.op)
      assert.are.equal("A", tA:get("who"))
      assert.are.equal("B", tB:get("who"))
    end)

    it("a database opened by another session of the same instance is JET_errDatabaseNotFound", function()
      local _, sA, _, inst = w:table()
      local s2 = inst:begin_session()
      local db2 = s2:open_database(w:path("app.edb"))
      H.expect_jet("JET_errDatabaseNotFound", sA.open_table, sA, db2, "t")
      -- its own session may
      local t2 = s2:open_table(db2, "t")
      t2:put("k", "v")
      assert.are.equal("v", t2:get("k"))
    end)

    it("a table dies with its database, its session and its instance", function()
      local t, s, db, inst = w:table()
      t:put("k", "v")
      db:close()
      assert.is_false(t:is_open())
      H.expect_jet("JET_errInvalidTableId", t.get, t, "k")
      local s2 = inst:begin_session()
      local db2 = s2:open_database(w:path("app.edb"))
      local t2 = s2:open_table(db2, "t")
      assert.are.equal("v", t2:get("k"))
      s2:end_session()
      assert.is_false(t2:is_open())
      assert.is_false(db2:is_open())
      H.expect_jet("JET_errInvalidTableId", t2.put, t2, "k", "w")
      inst:term()
      assert.is_false(s:is_open())
    end)
  end)

  describe("ese.restore_begin options", function()
    it("instance of the wrong type names argument 3", function()
      local t = w:table()
      H.expect_argerror("#3.*instance must be an ese.Instance", ese.restore_begin, { w.dir }, w:path("x"),
        { instance = {} })
      H.expect_argerror("#3.*instance must be an ese.Instance", ese.restore_begin, { w.dir }, w:path("x"),
        { instance = t })
    end)
  end)

  describe("a table name with a NUL byte is never cut at the NUL", function()
    -- C sees a name only up to its first NUL: create_table(db, "t2\0x") made table "t2"
    it("create_table and open_table: JET_errInvalidName, no table made", function()
      local _, s, db = w:table()
      local e = H.expect_jet("JET_errInvalidName", s.create_table, s, db, "t2\0x")
      assert.are.equal("create_table", e.op)
      assert.matches("NUL", e.detail)
      H.expect_jet("JET_errObjectNotFound", s.open_table, s, db, "t2")
      H.expect_jet("JET_errInvalidName", s.open_table, s, db, "t\0x")
    end)
  end)

  describe("the backup epoch of an instance", function()
    it("a reader of an earlier backup stays dead after a new begin, its instance's readers live", function()
      local _, _, db, inst = w:filled_table(10, "e")
      db:close()
      inst:begin_external_backup()
      local path = inst:get_attach_info()[1]
      local r1 = inst:open_file(path)
      inst:end_external_backup({ abort = true })
      inst:begin_external_backup()
      local r2 = inst:open_file(path)
      assert.is_false(r1:is_open())
      assert.is_true(r2:is_open())
      H.expect_jet("JET_errNoBackup", r1.read, r1)
      assert.is_string(r2:read())
      r2:close()
      inst:end_external_backup({ abort = true })
    end)
  end)

  describe("ese demo", function()
    it("an unknown part is a usage error with a message", function()
      local code, _, stderr = H.lua_run("bin/ese", { "demo", "nonsense" })
      assert.are.equal(2, code)
      assert.matches("usage: ese demo", stderr)
    end)
  end)
end)
