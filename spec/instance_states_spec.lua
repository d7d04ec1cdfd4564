-- The instance states of docs/backup.md rule 6 that need a special
-- situation, as JetEndExternalBackup / JetEndExternalBackupInstance report
-- them: JET_errRestoreInProgress while a restore that yields in its
-- progress callback owns the instance, JET_errInstanceUnavailable after a
-- fatal I/O error (a child process with ESE_FAULT), and
-- JET_errClientRequestToStopJetService on the legacy form.
-- JET_errTermInProgress needs threads: spec/c/term_race.c
-- (backup_harness_spec.lua).
local ese = require "ese"
local H = require "support.helpers"

describe("instance states (rule 6)", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- A real backup set of app.edb with records "base00001".. in w:path("set").
  local function make_set()
    w:stopped_set(w:path("set"), { rolls = 2 })
    return w:path("set")
  end

  -- A coroutine running ese.restore(set, dest, { instance = inst }) whose
  -- progress callback yields after every step; resumed once.
  local function suspended_restore(set, dest, inst)
    local steps = 0
    local co = coroutine.create(function()
      return ese.restore(set, dest, {
        instance = inst,
        on_progress = function(p)
          steps = steps + 1
          coroutine.yield(p)
        end,
      })
    end)
    local ok, p = coroutine.resume(co)
    assert.is_true(ok, tostring(p))
    assert.are.equal("suspended", coroutine.status(co))
    assert.are.equal("restore", p.phase)
    assert.is_true(p.done < p.total, "the restore is not over after one step")
    return co, function() return steps end
  end

  describe("JET_errRestoreInProgress (-506)", function()
    it("rule 6: end_external_backup and the other calls on an instance a suspended restore owns; "
       .. "afterwards the instance is configured and initialized on dest", function()
      local set = make_set()
      local dest = w:path("dest")
      local inst2 = w:track(ese.create_instance(H.name("restoring")))
      local co = suspended_restore(set, dest, inst2)
      local e = H.expect_jet("JET_errRestoreInProgress", inst2.end_external_backup, inst2)
      assert.are.equal(-506, e.code)
      assert.are.equal("end_external_backup", e.op)
      H.expect_jet("JET_errRestoreInProgress", inst2.end_external_backup, inst2, { abort = true })
      H.expect_jet("JET_errRestoreInProgress", inst2.begin_external_backup, inst2)
      H.expect_jet("JET_errRestoreInProgress", inst2.get_attach_info, inst2)
      H.expect_jet("JET_errRestoreInProgress", inst2.get_log_info, inst2)
      H.expect_jet("JET_errRestoreInProgress", inst2.truncate_log, inst2)
      H.expect_jet("JET_errRestoreInProgress", inst2.open_file, inst2, dest .. "/app.edb")
      H.expect_jet("JET_errRestoreInProgress", inst2.begin_session, inst2)
      inst2:stop_backup()                          -- not gated (rule 3)
      -- the mode is multi-instance: the legacy form says so, not the state
      H.expect_jet("JET_errRunningInMultiInstanceMode", ese.end_external_backup)
      -- a second restore cannot take the instance
      H.expect_jet("JET_errAlreadyInitialized", ese.restore, set, w:path("dest2"), { instance = inst2 })
      -- the same state between every later step
      while coroutine.status(co) == "suspended" do
        H.expect_jet("JET_errRestoreInProgress", inst2.end_external_backup, inst2)
        local ok, r = coroutine.resume(co)
        assert.is_true(ok, tostring(r))
      end
      -- the restore is over: the instance is "created" again
      H.expect_jet("JET_errNotInitialized", inst2.end_external_backup, inst2)
      inst2:set_params(H.params(dest))
      inst2:init()
      local t = H.open_table(inst2, dest)
      assert.are.equal(("x"):rep(500), t:get("base00020"))
      H.expect_jet("JET_errNoBackup", inst2.end_external_backup, inst2)
      inst2:term({ complete = true })
    end)

    it("A04: a restore whose callback raises hands the instance back uninitialized; "
       .. "a new restore with it works", function()
      local set = make_set()
      local inst2 = w:track(ese.create_instance(H.name("restoring")))
      local ok, e = pcall(ese.restore, set, w:path("dest"), {
        instance = inst2,
        on_progress = function() error("enough") end,
      })
      assert.is_false(ok)
      assert.matches("enough", e)
      H.expect_jet("JET_errNotInitialized", inst2.end_external_backup, inst2)
      -- a new restore with the same instance over the same dest works
      ese.restore(set, w:path("dest"), { instance = inst2, overwrite = true })
      inst2:set_params(H.params(w:path("dest")))
      inst2:init()
      inst2:begin_session():attach_database(w:path("dest/app.edb"))
    end)

    -- JetTerm2 returns JET_errRestoreInProgress and leaves the instance to
    -- the restore (docs/backup.md "Where lua-ese differs" 6); the Lua
    -- object stays open.
    it("term during a suspended restore: JET_errRestoreInProgress, the instance stays usable", function()
      local set = make_set()
      local inst2 = w:track(ese.create_instance(H.name("restoring")))
      local co = suspended_restore(set, w:path("dest"), inst2)
      local e = H.expect_jet("JET_errRestoreInProgress", inst2.term, inst2)
      assert.are.equal("term", e.op)
      assert.is_true(inst2:is_open())
      while coroutine.status(co) == "suspended" do assert.is_true(coroutine.resume(co)) end
      inst2:set_params(H.params(w:path("dest")))
      inst2:init()
      inst2:term()
      assert.is_false(inst2:is_open())
    end)
  end)

  describe("JET_errInstanceUnavailable (-1090) after a fatal I/O error", function()
    -- The child: an instance on arg[1] (named, or with arg[2] "legacy" the
    -- legacy one), a database, a running full backup, then durable commits
    -- until one fails (ESE_FAULT, read when the instance initializes, makes
    -- every write and sync from the K-th on fail); then the backup calls.
    -- With arg[2] "count" it stops after the setup (up to Begin, which takes
    -- a checkpoint) and terminates, so that ESE_FAULT_COUNT tells how many
    -- writes and syncs the setup makes.
    local CHILD = [[
      local ese = require "ese"
      local dir, mode = arg[1], arg[2]
      local function say(k, v) io.write(k, " ", tostring(v), "\n") io.flush() end
      local function name_of(f, ...)
        local ok, e = pcall(f, ...)
        if ok then return "success" end
        return type(e) == "table" and e.name or tostring(e)
      end
      local p = { system_path = dir, log_path = dir, log_file_size = 64 }
      local legacy = mode == "legacy"
      local inst
      if legacy then
        inst = ese.init(p)
      else
        inst = ese.create_instance("child", p)
        inst:init()
      end
      local s = inst:begin_session()
      local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
      t:put("setup", "done")
      if legacy then ese.begin_external_backup() else inst:begin_external_backup() end
      if mode == "count" then inst:stop_backup() inst:term() say("COUNTED", "yes") return end
      local committed, first = 0, nil
      for i = 1, 5000 do
        local ok, e = pcall(t.put, t, ("k%05d"):format(i), ("x"):rep(500))
        if not ok then first = e break end
        committed = i
      end
      say("COMMITTED", committed)
      say("FIRST", first and first.name or "none")
      say("FIRST_OP", first and first.op or "none")
      say("AGAIN", name_of(t.put, t, "again", "x"))
      if legacy then
        say("END", name_of(ese.end_external_backup))
        say("BEGIN", name_of(ese.begin_external_backup))
        say("STOP", name_of(ese.stop_backup))
      else
        say("END", name_of(inst.end_external_backup, inst))
        say("ENDABORT", name_of(inst.end_external_backup, inst, { abort = true }))
        say("BEGIN", name_of(inst.begin_external_backup, inst))
        say("ATTACHINFO", name_of(inst.get_attach_info, inst))
        say("STOP", name_of(inst.stop_backup, inst))
      end
      say("SESSION", name_of(inst.begin_session, inst))
      say("TERM", name_of(inst.term, inst))
    ]]

    -- Writes and syncs of the child's setup (init, database, table, a put).
    local function setup_events()
      local dir = w:path("count")
      local n = w:path("count.n")
      local code, out, err = H.lua_child(CHILD, { dir, "count" }, "ESE_FAULT_COUNT=" .. H.q(n))
      assert.are.equal(0, code, err)
      assert.matches("COUNTED yes", out)
      return assert(tonumber(H.read_file(n):match("%d+")), "count file")
    end

    -- Runs the child with ESE_FAULT=<kind>:<K>+ (sticky from K on).
    local function faulted(kind, mode)
      local k = setup_events() + 12                 -- a few commits succeed first
      local dir = w:path(kind .. "-" .. mode)
      local code, out, err = H.lua_child(CHILD, { dir, mode }, ("ESE_FAULT=%s:%d+"):format(kind, k))
      assert.are.equal(0, code, "the child failed: " .. err .. out)
      return H.parse_lines(out), dir
    end

    -- What the child saw committed is back on a new instance (no fault).
    local function check_committed(dir, committed)
      local inst = w:track(ese.create_instance(H.name("after"), H.params(dir, { log_file_size = 64 })))
      inst:init()
      local t = H.open_table(inst, dir)
      assert.are.equal("done", t:get("setup"))
      for i = 1, committed do assert.are.equal(("x"):rep(500), t:get(("k%05d"):format(i)), i) end
      inst:term({ complete = true })
    end

    -- The child with ESE_FAULT=<kind> in mode: its first failing commit
    -- raises first (in put), every call of unavailable (the child's answer
    -- names) then says JET_errInstanceUnavailable, STOP and TERM succeed,
    -- and what it committed before the fault (at least one put) is back.
    local function expect_fault(kind, mode, first, unavailable)
      local r, dir = faulted(kind, mode)
      local want = { FIRST = first, FIRST_OP = "put", STOP = "success", TERM = "success" }
      for _, k in ipairs(unavailable) do want[k] = "JET_errInstanceUnavailable" end
      local got = {}
      for k in pairs(want) do got[k] = r[k] end
      assert.are.same(want, got)
      local committed = assert(tonumber(r.COMMITTED), "COMMITTED")
      assert.is_true(committed > 0, "some commits came before the fault")
      check_committed(dir, committed)
    end

    it("rule 6 (instance form), sticky EIO: the failing commit says JET_errDiskIO, then End, Begin and "
       .. "the other calls say JET_errInstanceUnavailable; stop_backup and term still work", function()
      expect_fault("eio", "named", "JET_errDiskIO", { "AGAIN", "END", "ENDABORT", "BEGIN", "ATTACHINFO", "SESSION" })
    end)

    it("rule 6 (legacy form), sticky ENOSPC: JET_errDiskFull, then ese.end_external_backup() and "
       .. "ese.begin_external_backup() say JET_errInstanceUnavailable; ese.stop_backup() works", function()
      expect_fault("enospc", "legacy", "JET_errDiskFull", { "AGAIN", "END", "BEGIN", "SESSION" })
    end)
  end)

  describe("JET_errClientRequestToStopJetService (-1329), legacy form", function()
    it("rule 6: ese.end_external_backup() after ese.stop_service(), with and without a backup", function()
      local g = w:legacy({ log_file_size = 64 })
      g:begin_session():create_database(w:path("app.edb"))
      ese.begin_external_backup()
      ese.stop_service()
      local e = H.expect_jet("JET_errClientRequestToStopJetService", ese.end_external_backup)
      assert.are.equal(-1329, e.code)
      assert.are.equal("end_external_backup", e.op)
      H.expect_jet("JET_errClientRequestToStopJetService", ese.begin_external_backup)
      ese.stop_backup()                             -- not gated
      ese.term()
      w:legacy({ log_file_size = 64 })
      ese.stop_service()
      H.expect_jet("JET_errClientRequestToStopJetService", ese.end_external_backup)
      ese.term()
    end)
  end)
end)
