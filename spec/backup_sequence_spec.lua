-- The external backup sequence from Lua: the happy paths (peer cases
-- group A) and every sequence and state error (group B), per
-- docs/backup.md rules 1-4, 8, 9.
local H = require "support.helpers"

-- Rule 1 (§10 C1): End(Normal) of an incomplete sequence.
local ABORT_BY_CALLER = "JET_errBackupAbortByCaller"

describe("backup sequence", function()
  local w, t, s, inst, dbpath, out
  local PAGE = 8192

  before_each(function()
    local _
    w, t, s, _, inst, dbpath, out = H.backup_start(20)
  end)
  after_each(function() w:cleanup() end)

  local function drain(path) return H.drain(inst, path) end

  describe("A: happy paths", function()
    it("A01: full streaming backup into a folder with chunks, read and copy_to", function()
      H.roll(t, w.dir, 4)                     -- several generations
      assert(os.execute("mkdir -p '" .. out .. "'"))
      inst:begin_external_backup()
      local dbs = inst:get_attach_info()
      assert.are.same({ dbpath }, dbs)
      -- the database, with chunks
      local r = inst:open_file(dbs[1])
      local size = r:size()
      assert.is_true(size > 0 and size % PAGE == 0)
      local f = assert(io.open(out .. "/app.edb", "wb"))
      local n = 0
      for chunk in r:chunks(64 * 1024) do
        n = n + #chunk
        f:write(chunk)
      end
      f:close()
      r:close()
      assert.are.equal(size, n)
      assert.are.equal(size, H.file_size(out .. "/app.edb"))
      -- writes go on while the backup runs
      H.fill(t, 30, "during")
      H.roll(t, w.dir, 1, "during")
      local logs, info = inst:get_log_info()
      assert.is_true(#logs >= 2, "several logs")
      assert.are.equal("edb", info.base_name)
      -- the logs: the first with read, the others with copy_to
      for i, p in ipairs(logs) do
        local lr <close> = inst:open_file(p)
        local disk = H.file_size(p)
        assert.are.equal(disk, lr:size())
        local got
        if i == 1 then
          local parts = {}
          repeat
            local c = lr:read(PAGE * 4)
            parts[#parts + 1] = c
          until c == nil
          got = table.concat(parts)
          H.write_file(out .. "/" .. H.basename(p), got)
          got = #got
        else
          local lf = assert(io.open(out .. "/" .. H.basename(p), "wb"))
          got = lr:copy_to(lf)
          lf:close()
        end
        assert.are.equal(disk, got, "a log streams exactly its size on disk")
        assert.are.equal(disk, H.file_size(out .. "/" .. H.basename(p)))
      end
      assert.is_table(inst:get_truncate_log_info())
      inst:truncate_log()
      inst:end_external_backup()
      -- the live database is still fine, and the copy is a streamed copy
      assert.are.equal(("x"):rep(500), t:get("k00001"))
      assert.are.equal(H.DB_BACKUP_COPY, H.db_header(out .. "/app.edb").state)
      assert.are.equal(H.DB_DIRTY, H.db_header(dbpath).state)
    end)

    it("A01: a streamed copy cannot be attached without restore (rule 12)", function()
      H.backup(inst, out, { truncate = true })
      local e = H.expect_jet("JET_errSoftRecoveryOnBackupDatabase", s.attach_database, s, out .. "/app.edb")
      assert.are.equal("attach_database", e.op)
    end)

    it("A02: a partial stream ended with End(Normal) is JET_errBackupAbortByCaller (rule 1)", function()
      inst:begin_external_backup()
      local r = inst:open_file(dbpath)          -- without get_attach_info
      assert.are.equal(64 * 1024, #r:read(64 * 1024))
      r:close()
      local e = H.expect_jet(ABORT_BY_CALLER, inst.end_external_backup, inst, { normal = true })
      assert.are.equal(-800, e.code)
      assert.are.equal("end_external_backup", e.op)
      -- the backup is over
      H.expect_jet("JET_errNoBackup", inst.get_attach_info, inst)
      inst:begin_external_backup()
      inst:end_external_backup({ abort = true })
    end)

    it("A06: get_attach_info lists exactly the attached database", function()
      inst:begin_external_backup()
      local dbs = inst:get_attach_info()
      assert.are.equal(1, #dbs)
      assert.matches("/app%.edb$", dbs[1])
      inst:end_external_backup({ abort = true })
    end)

    it("H06: two databases: get_attach_info lists both and both stream", function()
      local db2 = s:create_database(w:path("two.edb"))
      s:create_table(db2, "t2"):put("a", "b")
      local set = H.backup(inst, out, { truncate = true })
      table.sort(set.dbs)
      assert.are.same({ dbpath, w:path("two.edb") }, set.dbs)
      assert.are.equal(H.DB_BACKUP_COPY, H.db_header(out .. "/two.edb").state)
    end)

    it("A08: get_log_info and get_truncate_log_info list logs that exist on disk", function()
      local logs, info = H.log_phase(inst, t, dbpath, 40)
      for _, p in ipairs(logs) do
        assert.is_true(H.exists(p), p)
        assert.matches("%.log$", p)
      end
      local trunc = inst:get_truncate_log_info()
      assert.is_true(#trunc > 0, "something to truncate")
      for _, p in ipairs(trunc) do
        assert.is_true(H.exists(p), p)
        local g = H.log_gen(p)
        assert.is_true(g ~= nil and g >= 1 and g <= info.gen_high, p)   -- never the current log
      end
      inst:end_external_backup({ abort = true })
    end)

    it("A09: get_log_info's second value gives the generation range and base name", function()
      local logs, info = H.log_phase(inst, t, dbpath, 40)
      assert.is_true(info.gen_high >= info.gen_low)
      assert.are.equal("edb", info.base_name)
      assert.are.equal(info.gen_high - info.gen_low + 1, #logs)
      for i, p in ipairs(logs) do
        assert.are.equal(info.gen_low + i - 1, H.log_gen(p))
        assert.matches(("/edb%08X%%.log$"):format(info.gen_low + i - 1), p)
      end
      inst:end_external_backup({ abort = true })
    end)

    it("A10: open, one read of 4 pages, close", function()
      inst:begin_external_backup()
      local dbs = inst:get_attach_info()
      local r = inst:open_file(dbs[1])
      assert.is_true(r:size() > 0)
      assert.are.equal(4 * PAGE, #r:read(4 * PAGE))
      assert.are.equal(4 * PAGE, r:tell())
      r:close()
      inst:end_external_backup({ abort = true })
    end)
  end)

  describe("B: sequence and state errors", function()
    it("B01: truncate_log with no backup: JET_errNoBackup", function()
      local e = H.expect_jet("JET_errNoBackup", inst.truncate_log, inst)
      assert.are.equal(-520, e.code)
      assert.are.equal("truncate_log", e.op)
      assert.is_string(e.message)
    end)

    it("B02: truncate_log before get_log_info: JET_errInvalidBackupSequence, the backup goes on", function()
      inst:begin_external_backup()
      H.expect_jet("JET_errInvalidBackupSequence", inst.truncate_log, inst)
      assert.are.same({ dbpath }, inst:get_attach_info())
      inst:end_external_backup({ abort = true })
    end)

    it("B03: truncate_log before every log was read: JET_errLogFileNotCopied", function()
      inst:begin_external_backup()
      drain(dbpath)
      H.roll(t, w.dir, 3)                     -- the backup spans several logs
      local logs = inst:get_log_info()
      assert.is_true(#logs >= 3, "needs at least 3 logs, got " .. #logs)
      drain(logs[1])
      H.expect_jet("JET_errLogFileNotCopied", inst.truncate_log, inst)
      -- a log opened and closed early does not count
      local r = inst:open_file(logs[2])
      r:read(PAGE)
      r:close()
      H.expect_jet("JET_errLogFileNotCopied", inst.truncate_log, inst)
      for i = 2, #logs do drain(logs[i]) end
      inst:truncate_log()
      inst:end_external_backup()
    end)

    it("B04: a reader open blocks the log phase: JET_errInvalidBackupSequence", function()
      inst:begin_external_backup()
      local r = inst:open_file(dbpath)
      H.expect_jet("JET_errInvalidBackupSequence", inst.get_log_info, inst)
      H.expect_jet("JET_errInvalidBackupSequence", inst.get_truncate_log_info, inst)
      while r:read() do end
      r:close()
      local logs = inst:get_log_info()
      local lr = inst:open_file(logs[1])
      H.expect_jet("JET_errInvalidBackupSequence", inst.truncate_log, inst)
      H.expect_jet("JET_errInvalidBackupSequence", inst.get_log_info, inst)
      lr:close()
      for _, p in ipairs(logs) do drain(p) end
      inst:truncate_log()
      inst:end_external_backup()
    end)

    it("B05: begin twice: JET_errBackupInProgress, the first backup goes on", function()
      inst:begin_external_backup()
      local e = H.expect_jet("JET_errBackupInProgress", inst.begin_external_backup, inst)
      assert.are.equal("begin_external_backup", e.op)
      H.expect_jet("JET_errBackupInProgress", inst.begin_external_backup, inst, { incremental = true })
      assert.are.same({ dbpath }, inst:get_attach_info())
      drain(dbpath)
      for _, p in ipairs(inst:get_log_info()) do drain(p) end
      inst:end_external_backup()
    end)

    it("B06: end with no backup: JET_errNoBackup, for every grbit and after a successful End", function()
      H.expect_jet("JET_errNoBackup", inst.end_external_backup, inst)
      H.expect_jet("JET_errNoBackup", inst.end_external_backup, inst, { normal = true })
      H.expect_jet("JET_errNoBackup", inst.end_external_backup, inst, { abort = true })
      H.expect_jet("JET_errNoBackup", inst.end_external_backup, inst, 0x1)
      H.backup(inst, out)
      H.expect_jet("JET_errNoBackup", inst.end_external_backup, inst)
    end)

    it("B07: every streaming call with no backup: JET_errNoBackup", function()
      H.expect_jet("JET_errNoBackup", inst.get_attach_info, inst)
      H.expect_jet("JET_errNoBackup", inst.open_file, inst, dbpath)
      H.expect_jet("JET_errNoBackup", inst.get_log_info, inst)
      H.expect_jet("JET_errNoBackup", inst.get_truncate_log_info, inst)
      H.expect_jet("JET_errNoBackup", inst.truncate_log, inst)
      -- read and close of a reader whose backup ended
      inst:begin_external_backup()
      local r = inst:open_file(dbpath)
      r:read(PAGE)
      inst:end_external_backup({ abort = true })
      local e = H.expect_jet("JET_errNoBackup", r.read, r)
      assert.are.equal("read", e.op)
      r:close()                                -- the backup ended: closed without error
      assert.is_false(r:is_open())
    end)

    it("B08: a database opened after get_log_info: JET_errInvalidBackupSequence, "
       .. "and the backup is torn down", function()
      inst:begin_external_backup()
      drain(dbpath)
      inst:get_log_info()
      local e = H.expect_jet("JET_errInvalidBackupSequence", inst.open_file, inst, dbpath)
      assert.are.equal("open_file", e.op)
      H.expect_jet("JET_errNoBackup", inst.get_attach_info, inst)
      H.expect_jet("JET_errNoBackup", inst.end_external_backup, inst)
    end)

    it("B09: a log or a non-attached name opened before get_log_info: "
       .. "JET_errDatabaseNotFound, the backup goes on", function()
      H.roll(t, w.dir, 1)
      local older
      for name in pairs(H.ls(w.dir)) do
        if H.log_gen(name) and H.log_gen(name) > 0 then older = w:path(name) end
      end
      assert.is_not_nil(older, "an older generation exists")
      inst:begin_external_backup()
      H.expect_jet("JET_errDatabaseNotFound", inst.open_file, inst, older)
      H.expect_jet("JET_errDatabaseNotFound", inst.open_file, inst, w:path("nope.edb"))
      H.expect_jet("JET_errDatabaseNotFound", inst.open_file, inst, w:path("edb.log"))
      assert.are.same({ dbpath }, inst:get_attach_info())
      drain(dbpath)
      for _, p in ipairs(inst:get_log_info()) do drain(p) end
      inst:end_external_backup()
    end)

    it("B10: a listed log deleted before it is opened: JET_errMissingFileToBackup, the backup is torn down", function()
      local logs = H.log_phase(inst, t, dbpath)
      os.remove(logs[1])
      H.expect_jet("JET_errMissingFileToBackup", inst.open_file, inst, logs[1])
      H.expect_jet("JET_errNoBackup", inst.get_attach_info, inst)
      H.expect_jet("JET_errNoBackup", inst.end_external_backup, inst)
    end)

    it("B11: a closed reader raises an error object, never crashes", function()
      inst:begin_external_backup()
      local r = inst:open_file(dbpath)
      r:close()
      local e = H.expect_jet("JET_errInvalidParameter", r.read, r)
      assert.are.equal("read", e.op)
      r:close()
      inst:end_external_backup({ abort = true })
    end)

    it("B12: get_log_info twice gives the same list without rolling again", function()
      inst:begin_external_backup()
      drain(dbpath)
      local l1, i1 = inst:get_log_info()
      local tr = inst:get_truncate_log_info()
      local l2, i2 = inst:get_log_info()
      assert.are.same(l1, l2)
      assert.are.same(i1, i2)
      assert.are.same(tr, inst:get_truncate_log_info())
      inst:end_external_backup({ abort = true })
    end)

    it("B12: get_truncate_log_info before get_log_info enters the log phase once", function()
      inst:begin_external_backup()
      drain(dbpath)
      local tr = inst:get_truncate_log_info()
      assert.is_table(tr)
      local logs = inst:get_log_info()
      H.expect_jet("JET_errInvalidBackupSequence", inst.open_file, inst, dbpath)
      assert.is_true(#logs > 0)
    end)

    it("B13: an incremental backup rejects get_attach_info and database files", function()
      H.backup(inst, out, { truncate = true })
      inst:begin_external_backup({ incremental = true })
      H.expect_jet("JET_errInvalidBackupSequence", inst.get_attach_info, inst)
      -- the backup goes on: its logs list
      local logs = inst:get_log_info()
      assert.is_true(#logs > 0)
      inst:end_external_backup({ abort = true })
      -- opening the database ends it
      inst:begin_external_backup({ incremental = true })
      H.expect_jet("JET_errInvalidBackupSequence", inst.open_file, inst, dbpath)
      H.expect_jet("JET_errNoBackup", inst.get_log_info, inst)
    end)

    it("B14: begin with a bad grbit: JET_errInvalidGrbit and no backup starts", function()
      local e = H.expect_jet("JET_errInvalidGrbit", inst.begin_external_backup, inst, 0x4)
      assert.are.equal(-900, e.code)
      H.expect_jet("JET_errInvalidGrbit", inst.begin_external_backup, inst, 0x10)
      H.expect_jet("JET_errNoBackup", inst.get_attach_info, inst)
      -- unknown option keys and bad values are argument errors
      H.expect_argerror("unknown option 'copy'", inst.begin_external_backup, inst, { copy = true })
      H.expect_argerror("must be a boolean", inst.begin_external_backup, inst, { incremental = 1 })
      H.expect_argerror("not be negative", inst.begin_external_backup, inst, -1)
      H.expect_argerror("table or integer", inst.begin_external_backup, inst, "full")
      inst:begin_external_backup(0)
      inst:end_external_backup({ abort = true })
    end)

    it("B15: end with both or neither of normal and abort: JET_errInvalidParameter, the backup goes on", function()
      inst:begin_external_backup()
      local e = H.expect_jet("JET_errInvalidParameter", inst.end_external_backup, inst,
                             { normal = true, abort = true })
      assert.are.equal(-1003, e.code)
      H.expect_jet("JET_errInvalidParameter", inst.end_external_backup, inst, 0)
      H.expect_jet("JET_errInvalidParameter", inst.end_external_backup, inst, 0x3)
      H.expect_jet("JET_errInvalidParameter", inst.end_external_backup, inst, 0x100)
      H.expect_argerror("unknown option 'stop'", inst.end_external_backup, inst, { stop = true })
      assert.are.same({ dbpath }, inst:get_attach_info())
      inst:end_external_backup({ abort = true })   -- rule 2: success
      H.expect_jet("JET_errNoBackup", inst.end_external_backup, inst, { abort = true })
    end)

    it("B16: attach and detach during a backup: JET_errBackupInProgress", function()
      local other = w:path("other.edb")
      s:create_database(other):close()
      s:detach_database(other)
      inst:begin_external_backup()
      H.expect_jet("JET_errBackupInProgress", s.attach_database, s, other)
      H.expect_jet("JET_errBackupInProgress", s.detach_database, s, dbpath)
      H.expect_jet("JET_errBackupInProgress", s.create_database, s, w:path("third.edb"))
      inst:end_external_backup({ abort = true })
      s:attach_database(other)
      s:detach_database(other)
    end)

    it("B18: begin on an instance that is not initialized: JET_errNotInitialized", function()
      local fresh = w:create(nil, { log_path = w:path("f"), system_path = w:path("f") })
      local e = H.expect_jet("JET_errNotInitialized", fresh.begin_external_backup, fresh)
      assert.are.equal(-1029, e.code)
      H.expect_jet("JET_errNotInitialized", fresh.get_attach_info, fresh)
      fresh:term()
      H.expect_jet("JET_errInvalidInstance", fresh.begin_external_backup, fresh)
    end)

    it("E02: incremental without a recorded full: JET_errMissingFullBackup, no backup left running", function()
      H.expect_jet("JET_errMissingFullBackup", inst.begin_external_backup, inst, { incremental = true })
      H.expect_jet("JET_errNoBackup", inst.end_external_backup, inst)
      inst:begin_external_backup()
      inst:end_external_backup({ abort = true })
    end)

    it("E01: incremental with circular logging: JET_errInvalidBackup", function()
      local ci = w:open(nil, { circular_log = true, log_path = w:path("c"), system_path = w:path("c") })
      local e = H.expect_jet("JET_errInvalidBackup", ci.begin_external_backup, ci, { incremental = true })
      assert.are.equal(-526, e.code)
      assert.matches("circular logging", e.detail, 1, true)   -- the message fits every use of -526
      ci:begin_external_backup()
      ci:end_external_backup({ abort = true })
    end)

    it("F06: more readers than max_open_backup_files (default 8): JET_errOutOfMemory", function()
      inst:begin_external_backup()
      local rs = {}
      for i = 1, 8 do rs[i] = inst:open_file(dbpath) end
      local e = H.expect_jet("JET_errOutOfMemory", inst.open_file, inst, dbpath)
      assert.are.equal(-1011, e.code)
      rs[3]:close()
      rs[3] = inst:open_file(dbpath)            -- a freed slot is reused
      for _, r in ipairs(rs) do r:close() end
      inst:end_external_backup({ abort = true })
    end)

    it("F06: the limit is the instance parameter max_open_backup_files", function()
      local dir2 = w:path("two")
      local _, _, _, i2 = w:table_at(dir2, "a.edb", { max_open_backup_files = 2 })
      i2:begin_external_backup()
      local r1 = i2:open_file(dir2 .. "/a.edb")
      local r2 = i2:open_file(dir2 .. "/a.edb")
      H.expect_jet("JET_errOutOfMemory", i2.open_file, i2, dir2 .. "/a.edb")
      r1:close()
      r2:close()
      i2:end_external_backup({ abort = true })
    end)

    it("F04: open_file with an empty name: JET_errInvalidParameter; a non-string: argument error", function()
      inst:begin_external_backup()
      H.expect_jet("JET_errInvalidParameter", inst.open_file, inst, "")
      H.expect_argerror("string expected", inst.open_file, inst, {})
      H.expect_argerror("string expected", inst.open_file, inst)
      inst:end_external_backup({ abort = true })
    end)

    it("F05: lists longer than 4096 bytes come back whole", function()
      local deep = w.dir
      for c in ("abc"):gmatch(".") do deep = deep .. "/" .. c:rep(200) end
      local di = w:open(nil, { log_path = deep, system_path = deep, log_file_size = 64 })
      local ds = di:begin_session()
      local ddb = ds:create_database(deep .. "/d.edb")
      local dt = ds:create_table(ddb, "t")
      di:begin_external_backup()
      local dbs = di:get_attach_info()
      assert.are.same({ deep .. "/d.edb" }, dbs)
      local r = di:open_file(dbs[1])
      while r:read() do end
      r:close()
      H.roll(dt, deep, 8)
      local logs, info = di:get_log_info()
      local bytes = 0
      for _, p in ipairs(logs) do bytes = bytes + #p + 1 end
      assert.is_true(bytes > 4096, "list of " .. bytes .. " bytes")
      assert.are.equal(info.gen_high - info.gen_low + 1, #logs)
      for _, p in ipairs(logs) do assert.is_true(H.exists(p), p) end
      di:end_external_backup({ abort = true })
    end)
  end)
end)
