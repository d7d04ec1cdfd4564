-- Instances: create/init/term/stop_service, the legacy global instance, the
-- process-wide mode and the instance-state errors (docs/backup.md rules
-- 5 and 6) that Lua can reach, and argument checking of the parameters.
local ese = require "ese"
local H = require "support.helpers"

describe("ese.Instance", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  describe("lifecycle", function()
    it("creates, inits, opens a session and terminates", function()
      local inst = w:create("app")
      assert.are.equal("userdata", type(inst))
      assert.matches("^ese%.Instance %(app%)", tostring(inst))
      assert.is_true(inst:is_open())
      inst:init()
      local s = inst:begin_session()
      assert.matches("^ese%.Session", tostring(s))
      s:end_session()
      inst:term()
      assert.is_false(inst:is_open())
      assert.are.equal("ese.Instance (closed)", tostring(inst))
    end)

    it("accepts every documented parameter", function()
      local inst = w:create(nil, { base_name = "abc", log_file_size = 512,
                                   circular_log = false, page_size = 8192,
                                   cache_size = 4 << 20, max_open_backup_files = 4 })
      inst:init()
      local s = inst:begin_session()
      local db = s:create_database(w:path("p.edb"))
      local t = s:create_table(db, "t")
      t:put("k", "v")
      assert.are.equal("v", t:get("k"))
      inst:term { complete = true }
    end)

    it("uses the base name for the log files; inst:base_name() tells it", function()
      local created = w:create("based")
      assert.are.equal("edb", created:base_name(), "the default, before init")
      created:term()
      local inst = w:open(nil, { base_name = "abc" })
      assert.are.equal("abc", inst:base_name())
      inst:term { complete = true }
      H.expect_jet("JET_errInvalidInstance", inst.base_name, inst)
      assert.is_true(H.exists(w:path("abc.log")), "abc.log expected in the log folder")
    end)

    it("takes parameters with set_params before init", function()
      local inst = w:track(ese.create_instance(H.name()))
      inst:set_params(H.params(w.dir, { base_name = "set" }))
      inst:init()
      inst:begin_session():end_session()
      inst:term()
      assert.is_true(H.exists(w:path("set.log")), "the log is where set_params put it")
    end)

    it("terminates a created instance that never ran", function()
      local inst = w:create("never")
      inst:term()
      assert.is_false(inst:is_open())
      -- the name is free again
      w:create("never"):term()
    end)

    it("terminates with complete, stop_backup, abrupt and a raw grbit", function()
      local hows = { "{ complete = true }", "{ stop_backup = true }", "{ abrupt = true }", "1", "{}" }
      for _, how in ipairs(hows) do
        local inst = w:open()
        inst:term(load("return " .. how)())
        assert.is_false(inst:is_open(), "term " .. how)
      end
    end)

    it("frees the name for a new instance after term", function()
      local a = w:open("same")
      a:term()
      local b = w:open("same")
      b:term()
    end)

    it("raises JET_errInvalidInstance when used after term", function()
      local inst = w:open()
      inst:term()
      H.expect_jet("JET_errInvalidInstance", inst.init, inst)
      H.expect_jet("JET_errInvalidInstance", inst.begin_session, inst)
      H.expect_jet("JET_errInvalidInstance", inst.stop_service, inst)
      H.expect_jet("JET_errInvalidInstance", inst.term, inst)
      H.expect_jet("JET_errInvalidInstance", inst.set_params, inst, {})
    end)
  end)

  describe("instance states (rule 6)", function()
    -- { test name, error, "create" or "open" (the instance's state), method, arguments... }:
    -- the method raises the error with its own name as op, and the instance stays open.
    for _, c in ipairs({
      { "JET_errNotInitialized: begin_session before init", "JET_errNotInitialized", "create", "begin_session" },
      { "JET_errNotInitialized: stop_service before init", "JET_errNotInitialized", "create", "stop_service" },
      { "JET_errAlreadyInitialized: init twice", "JET_errAlreadyInitialized", "open", "init" },
      { "JET_errAlreadyInitialized: set a parameter after init", "JET_errAlreadyInitialized", "open", "set_params",
        { circular_log = true } },
    }) do
      it(c[1], function()
        local inst = w[c[3]](w)
        local e = H.expect_jet(c[2], inst[c[4]], inst, table.unpack(c, 5))
        assert.are.equal(c[4], e.op)
        assert.is_true(inst:is_open())
      end)
    end

    it("JET_errClientRequestToStopJetService after stop_service", function()
      local inst = w:open()
      local s = inst:begin_session()
      local db = s:create_database(w:path("a.edb"))
      local t = s:create_table(db, "t")
      inst:stop_service()
      H.expect_jet("JET_errClientRequestToStopJetService", inst.begin_session, inst)
      H.expect_jet("JET_errClientRequestToStopJetService", s.begin_transaction, s)
      H.expect_jet("JET_errClientRequestToStopJetService", t.put, t, "k", "v")
      H.expect_jet("JET_errClientRequestToStopJetService", t.get, t, "k")
      inst:term()     -- term works in every state
      assert.is_false(inst:is_open())
    end)

    it("JET_errInvalidParameter: an unsupported page size", function()
      local inst = w:track(ese.create_instance(H.name()))
      H.expect_jet("JET_errInvalidParameter", inst.set_params, inst, { page_size = 1000 })
    end)

    it("create_instance fails cleanly when a parameter is refused", function()
      local name = H.name()
      H.expect_jet("JET_errInvalidParameter", ese.create_instance, name, { page_size = 1000 })
      -- the half-made instance was terminated: its name is free
      w:create(name):term()
    end)
  end)

  describe("process-wide mode (rule 5)", function()
    it("JET_errInstanceNameInUse: two instances of one name", function()
      w:create("dup")
      local e = H.expect_jet("JET_errInstanceNameInUse", ese.create_instance, "dup",
                             H.params(w.dir))
      assert.are.equal("create_instance", e.op)
    end)

    it("JET_errNotInitialized: instance-less calls with nothing initialized", function()
      H.expect_jet("JET_errNotInitialized", ese.stop_service)
      H.expect_jet("JET_errNotInitialized", ese.term)
    end)

    it("JET_errRunningInMultiInstanceMode: legacy calls while named instances run", function()
      w:open()
      H.expect_jet("JET_errRunningInMultiInstanceMode", ese.stop_service)
      H.expect_jet("JET_errRunningInMultiInstanceMode", ese.init, H.params(w.dir))
      H.expect_jet("JET_errRunningInMultiInstanceMode", ese.init)
    end)

    it("JET_errRunningInMultiInstanceMode even for a created, uninitialized instance", function()
      w:create()
      H.expect_jet("JET_errRunningInMultiInstanceMode", ese.init)
    end)

    it("JET_errRunningInOneInstanceMode: create_instance while the legacy instance runs", function()
      w:legacy()
      local e = H.expect_jet("JET_errRunningInOneInstanceMode", ese.create_instance, H.name(),
                             H.params(w.dir))
      assert.are.equal("create_instance", e.op)
      ese.term()
    end)

    it("returns to none when the last instance terminates", function()
      local a, b = w:open(), w:create()
      a:term()
      H.expect_jet("JET_errRunningInMultiInstanceMode", ese.init)
      b:term()
      local g = w:legacy()
      ese.term()
      assert.is_false(g:is_open())
      w:open():term()
    end)
  end)

  describe("legacy global instance", function()
    it("ese.init returns the global instance, usable like any other", function()
      local g = w:legacy()
      assert.matches("^ese%.Instance %(legacy%)", tostring(g))
      local s = g:begin_session()
      local db = s:create_database(w:path("g.edb"))
      local t = s:create_table(db, "t")
      t:put("k", "v")
      assert.are.equal("v", t:get("k"))
      ese.term { complete = true }
      assert.is_false(g:is_open())
      H.expect_jet("JET_errInvalidInstance", g.begin_session, g)
      H.expect_jet("JET_errInvalidSesid", s.begin_transaction, s)
      H.expect_jet("JET_errInvalidTableId", t.get, t, "k")
    end)

    it("ese.stop_service stops the global instance", function()
      local g = w:legacy()
      ese.stop_service()
      H.expect_jet("JET_errClientRequestToStopJetService", g.begin_session, g)
      ese.term()
    end)

    it("JET_errAlreadyInitialized: ese.init twice", function()
      w:legacy()
      H.expect_jet("JET_errAlreadyInitialized", ese.init)
      H.expect_jet("JET_errAlreadyInitialized", ese.init, H.params(w.dir))
      ese.term()
    end)

    it("g:term() ends it too, then ese.term finds nothing", function()
      local g = w:legacy()
      g:term()
      H.expect_jet("JET_errNotInitialized", ese.term)
      H.expect_jet("JET_errNotInitialized", ese.stop_service)
    end)

    it("keeps its data across ese.term and ese.init", function()
      local g = w:legacy()
      local s = g:begin_session()
      local db = s:create_database(w:path("g.edb"))
      s:create_table(db, "t"):put("k", "v")
      ese.term { complete = true }
      g = w:legacy()
      s = g:begin_session()
      s:attach_database(w:path("g.edb"))
      db = s:open_database(w:path("g.edb"))
      assert.are.equal("v", s:open_table(db, "t"):get("k"))
      ese.term()
    end)
  end)

  describe("argument errors (ordinary errors, not error objects)", function()
    it("create_instance checks its name and params", function()
      H.expect_argerror("bad argument #1 to '[%w.]*create_instance'", ese.create_instance, {})
      H.expect_argerror("bad argument #1 to '[%w.]*create_instance'", ese.create_instance)
      H.expect_argerror("bad argument #2 to '[%w.]*create_instance'", ese.create_instance, "x", "params")
    end)

    it("rejects unknown parameters and wrong value types", function()
      H.expect_argerror("unknown parameter 'sytem_path'", ese.create_instance, "x",
                        { sytem_path = w.dir })
      H.expect_argerror("unknown parameter", ese.create_instance, "x", { w.dir })
      H.expect_argerror("'system_path': string expected, got number", ese.create_instance, "x",
                        { system_path = 1 })
      H.expect_argerror("'circular_log': boolean expected", ese.create_instance, "x",
                        { circular_log = "yes" })
      H.expect_argerror("'page_size': integer expected", ese.create_instance, "x",
                        { page_size = "8192" })
      H.expect_argerror("'cache_size': integer expected", ese.create_instance, "x",
                        { cache_size = 1.5 })
      H.expect_argerror("'log_file_size' must not be negative", ese.create_instance, "x",
                        { log_file_size = -1 })
      H.expect_argerror("bad argument #1 to '[%w.]*init'", ese.init, { nope = true })
      -- none of these created an instance: the mode is still none
      H.expect_jet("JET_errNotInitialized", ese.stop_service)
    end)

    it("methods check self and options", function()
      local inst = w:open()
      H.expect_argerror("ese%.Instance expected", inst.init, 42)
      H.expect_argerror("ese%.Instance expected", inst.begin_session, {})
      H.expect_argerror("unknown option 'compleat'", inst.term, inst, { compleat = true })
      H.expect_argerror("option 'complete' must be a boolean", inst.term, inst, { complete = 1 })
      H.expect_argerror("bad argument", inst.term, inst, "complete")
      H.expect_argerror("bad argument", inst.term, inst, -1)
      assert.is_true(inst:is_open())
    end)
  end)
end)
