-- Object lifetimes: use after close, <close> variables, garbage collection
-- in any order, and data surviving a clean or an abrupt term.
local ese = require "ese"
local H = require "support.helpers"

describe("lifecycle", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  describe("use after close raises an error object", function()
    it("table: JET_errInvalidTableId", function()
      local t = w:table()
      t:put("k", "v")
      local it = t:pairs()
      t:close()
      assert.are.equal("ese.Table (closed)", tostring(t))
      assert.is_false(t:is_open())
      local e = H.expect_jet("JET_errInvalidTableId", t.get, t, "k")
      assert.are.equal("get", e.op)
      H.expect_jet("JET_errInvalidTableId", t.put, t, "k", "v")
      H.expect_jet("JET_errInvalidTableId", t.delete, t, "k")
      H.expect_jet("JET_errInvalidTableId", t.pairs, t)
      H.expect_jet("JET_errInvalidTableId", t.close, t)
      e = H.expect_jet("JET_errInvalidTableId", it)
      assert.are.equal("pairs", e.op)
    end)

    it("table closed in the middle of a loop", function()
      local t = w:table()
      for i = 1, 3 do t:put("k" .. i, "v") end
      local e = H.catch(function()
        for _ in t:pairs() do t:close() end
      end)
      assert.are.equal("JET_errInvalidTableId", e.name)
    end)

    it("session: JET_errInvalidSesid, and its tables and databases die with it", function()
      local t, s, db = w:table()
      s:end_session()
      assert.are.equal("ese.Session (closed)", tostring(s))
      assert.is_false(s:is_open())
      local e = H.expect_jet("JET_errInvalidSesid", s.begin_transaction, s)
      assert.are.equal("begin_transaction", e.op)
      H.expect_jet("JET_errInvalidSesid", s.commit_transaction, s)
      H.expect_jet("JET_errInvalidSesid", s.rollback, s)
      H.expect_jet("JET_errInvalidSesid", s.create_database, s, w:path("x.edb"))
      H.expect_jet("JET_errInvalidSesid", s.attach_database, s, w:path("app.edb"))
      H.expect_jet("JET_errInvalidSesid", s.detach_database, s, w:path("app.edb"))
      H.expect_jet("JET_errInvalidSesid", s.open_database, s, w:path("app.edb"))
      H.expect_jet("JET_errInvalidSesid", s.create_table, s, db, "x")
      H.expect_jet("JET_errInvalidSesid", s.open_table, s, db, "t")
      H.expect_jet("JET_errInvalidSesid", s.end_session, s)
      H.expect_jet("JET_errInvalidSesid", s.close, s)
      H.expect_jet("JET_errInvalidTableId", t.get, t, "k")
      H.expect_jet("JET_errDatabaseNotFound", db.close, db)
      assert.is_false(t:is_open())
      assert.is_false(db:is_open())
      -- tostring agrees with is_open (it printed "ese.Table: 0x..." before)
      assert.are.equal("ese.Table (closed)", tostring(t))
      assert.are.equal("ese.Database (closed)", tostring(db))
    end)

    it("database: JET_errDatabaseNotFound", function()
      local _, s, db = w:table()
      assert.are.equal(w:path("app.edb"), db:path())
      assert.matches("^ese%.Database %(", tostring(db))
      db:close()
      assert.are.equal("ese.Database (closed)", tostring(db))
      local e = H.expect_jet("JET_errDatabaseNotFound", s.create_table, s, db, "x")
      assert.are.equal("create_table", e.op)
      H.expect_jet("JET_errDatabaseNotFound", s.open_table, s, db, "t")
      H.expect_jet("JET_errDatabaseNotFound", db.close, db)
      -- the session itself is fine: open the database again
      local db2 = s:open_database(w:path("app.edb"))
      assert.is_nil(s:open_table(db2, "t"):get("k"))
    end)

    it("instance: terminated instance invalidates its sessions and tables", function()
      local t, s, db, inst = w:table()
      inst:term()
      for _, o in ipairs({ t, s, db }) do assert.matches("^ese%.%a+ %(closed%)$", tostring(o)) end
      H.expect_jet("JET_errInvalidInstance", inst.begin_session, inst)
      H.expect_jet("JET_errInvalidInstance", inst.init, inst)
      H.expect_jet("JET_errInvalidSesid", s.begin_transaction, s)
      H.expect_jet("JET_errInvalidSesid", s.end_session, s)
      H.expect_jet("JET_errInvalidTableId", t.put, t, "k", "v")
      H.expect_jet("JET_errInvalidTableId", t.close, t)
      H.expect_jet("JET_errDatabaseNotFound", db.close, db)
      -- finalizers of dead children must not touch the engine
      t, s, db = nil, nil, nil   -- luacheck: ignore (dropped for the GC)
      collectgarbage()
      collectgarbage()
    end)
  end)

  describe("<close> variables", function()
    it("close table, session and instance at the end of a block", function()
      local name = H.name()
      local inst_ref, s_ref, t_ref, db_ref
      do
        local inst <close> = ese.create_instance(name, H.params(w.dir))
        inst:init()
        local s <close> = inst:begin_session()
        local db <close> = s:create_database(w:path("app.edb"))
        local t <close> = s:create_table(db, "t")
        t:put("k", "v")
        inst_ref, s_ref, t_ref, db_ref = inst, s, t, db
      end
      assert.is_false(t_ref:is_open())
      assert.is_false(db_ref:is_open())
      assert.is_false(s_ref:is_open())
      assert.is_false(inst_ref:is_open())
      H.expect_jet("JET_errInvalidInstance", inst_ref.begin_session, inst_ref)
      H.expect_jet("JET_errInvalidTableId", t_ref.get, t_ref, "k")
      -- the instance was terminated: its name and folder are free
      w:open(name):term()
      assert.are.equal("v", w:reopen():get("k"))
    end)

    it("close on the error path too", function()
      local inst = w:open()
      local s_ref
      local ok, err = pcall(function()
        local s <close> = inst:begin_session()
        s_ref = s
        error("boom")
      end)
      assert.is_false(ok)
      assert.matches("boom", err)
      assert.is_false(s_ref:is_open())
      assert.is_true(inst:is_open())
    end)

    it("is harmless on an object closed explicitly", function()
      local inst = w:open()
      do
        local s <close> = inst:begin_session()
        s:end_session()
      end
      do
        local i2 <close> = inst
        i2:term()
      end
      assert.is_false(inst:is_open())
    end)
  end)

  describe("garbage collection", function()
    local function full_gc()
      collectgarbage()
      collectgarbage()
    end

    -- An instance (tracked weakly by the world) with n sessions, each with
    -- a database, a table and a pairs iterator.  Built in its own function
    -- so that no dead stack slot keeps anything alive.
    local function build(n, name, tag)
      local inst = w:open(name)
      local objs = { inst = inst }
      for i = 1, n do
        local s = inst:begin_session()
        local db = s:create_database(w:path(("gc%s-%d.edb"):format(tag or "", i)))
        local t = s:create_table(db, "t")
        t:put("k", "v" .. i)
        objs[#objs + 1] = { s = s, db = db, t = t, it = t:pairs() }
      end
      return objs
    end

    it("collects everything at once and terminates the instance", function()
      local name = H.name()
      build(3, name)
      full_gc()
      w:open(name):term()   -- the name is free again
    end)

    it("collects children after their instance was terminated", function()
      local function run()
        local objs = build(3)
        objs.inst:term()
      end
      run()
      full_gc()
    end)

    it("collects children after their session ended", function()
      local objs = build(2)
      for _, o in ipairs(objs) do o.s:end_session() end
      for _, o in ipairs(objs) do o.s = nil end
      full_gc()
      for _, o in ipairs(objs) do
        H.expect_jet("JET_errInvalidTableId", o.t.get, o.t, "k")
      end
      objs = nil   -- luacheck: ignore (dropped for the GC)
      full_gc()
    end)

    it("a table keeps its session, database and instance alive", function()
      local function keep()
        local objs = build(1)
        return objs[1].t, objs[1].it
      end
      local t, it = keep()
      full_gc()
      t:put("k2", "v2")
      assert.are.equal("v1", t:get("k"))
      assert.are.equal("k", it())
      assert.are.equal("k2", it())
    end)

    it("an iterator keeps its table alive", function()
      local function keep() return build(1)[1].it end
      local it = keep()
      full_gc()
      assert.are.equal("k", it())
      assert.is_nil(it())
    end)

    it("collects in reverse, mixed and random orders without crashing", function()
      for round = 1, 4 do
        local name = H.name()
        local function pool_of()
          local objs = build(3, name, round)
          if round == 2 then objs.inst:term() end
          local pool = {}
          for _, o in ipairs(objs) do
            pool[#pool + 1] = o.t
            pool[#pool + 1] = o.db
            pool[#pool + 1] = o.s
            pool[#pool + 1] = o.it
          end
          if round == 4 then pool[#pool + 1] = objs.inst end   -- instance first
          return pool
        end
        local pool = pool_of()
        local order = {}
        for i = 1, #pool do order[i] = i end
        if round == 3 then
          for i = #order, 2, -1 do
            local j = math.random(i)
            order[i], order[j] = order[j], order[i]
          end
        elseif round == 4 then
          for i = 1, #order // 2 do
            order[i], order[#order + 1 - i] = order[#order + 1 - i], order[i]
          end
        end
        for _, i in ipairs(order) do
          pool[i] = nil
          full_gc()
        end
        full_gc()
        w:open(name):term()   -- every instance of the round is gone
      end
    end)
  end)

  describe("durability across term", function()
    it("term { complete = true } then re-init: the data is back", function()
      local t, s, _, inst = w:table()
      for i = 1, 50 do t:put(("k%03d"):format(i), "v" .. i) end
      s:begin_transaction()
      t:put("txn", "committed")
      s:commit_transaction()
      inst:term { complete = true }
      local t2 = w:reopen()
      assert.are.equal("v1", t2:get("k001"))
      assert.are.equal("v50", t2:get("k050"))
      assert.are.equal("committed", t2:get("txn"))
      assert.are.equal(51, #(H.collect(t2)))
    end)

    it("abrupt term() then re-init: committed data back, uncommitted gone", function()
      local t, s, _, inst = w:table()
      t:put("auto", "1")                 -- outside a transaction: durable
      s:begin_transaction()
      t:put("committed", "2")
      s:commit_transaction()
      s:begin_transaction()
      t:put("lazy", "3")
      s:commit_transaction { lazy = true }
      s:begin_transaction()
      t:put("uncommitted", "x")
      t:delete("auto")
      t:put("committed", "changed")
      inst:term()                        -- abrupt, transaction still open
      local t2 = w:reopen()
      assert.are.equal("1", t2:get("auto"))
      assert.are.equal("2", t2:get("committed"))
      assert.is_nil(t2:get("uncommitted"))
      assert.are.same({ "auto", "committed", "lazy" }, (H.collect(t2)))
    end)

    it("an unreferenced instance collected by GC recovers like an abrupt term", function()
      local function write()
        local t, s = w:table()
        t:put("k", "v")
        s:begin_transaction()
        t:put("u", "x")
      end
      write()
      collectgarbage()
      collectgarbage()
      local t2 = w:reopen()
      assert.are.equal("v", t2:get("k"))
      assert.is_nil(t2:get("u"))
    end)

    it("survives several clean and abrupt cycles", function()
      local t, _, _, inst = w:table()
      t:put("gen", "0")
      inst:term { complete = true }
      for i = 1, 4 do
        t, _, _, inst = w:reopen()
        assert.are.equal(tostring(i - 1), t:get("gen"))
        t:put("gen", tostring(i))
        if i % 2 == 0 then inst:term() else inst:term { complete = true } end
      end
      t = w:reopen()
      assert.are.equal("4", t:get("gen"))
    end)
  end)
end)
