-- Stop, abort, abandon, term and stop-service during a backup (peer cases
-- group C), and JetStopBackup (docs/backup.md rule 3): after a stop every streaming call
-- fails with JET_errBackupAbortByServer, closing a file and ending the
-- backup stay allowed (docs/backup.md rules 2, 3, 6, 7).
local H = require "support.helpers"

describe("backup stop and abort", function()
  local w, t, inst, dbpath, out
  local PAGE = 8192

  before_each(function()
    local _
    w, t, _, _, inst, dbpath, out = H.backup_start(10)
  end)
  after_each(function() w:cleanup() end)

  local function drain(path) H.drain(inst, path) end

  it("C04 / rule 3: stop mid-read: every streaming call JET_errBackupAbortByServer, close still works", function()
    inst:begin_external_backup()
    assert.are.same({ dbpath }, inst:get_attach_info())
    local r = inst:open_file(dbpath)
    assert.are.equal(PAGE, #r:read(PAGE))
    inst:stop_backup()
    local e = H.expect_jet("JET_errBackupAbortByServer", r.read, r, PAGE)
    assert.are.equal(-801, e.code)
    assert.are.equal("read", e.op)
    H.expect_jet("JET_errBackupAbortByServer", function() for _ in r:chunks() do end end)
    H.expect_jet("JET_errBackupAbortByServer", r.copy_to, r, function() end)
    H.expect_jet("JET_errBackupAbortByServer", inst.get_attach_info, inst)
    H.expect_jet("JET_errBackupAbortByServer", inst.open_file, inst, dbpath)
    H.expect_jet("JET_errBackupAbortByServer", inst.get_log_info, inst)
    H.expect_jet("JET_errBackupAbortByServer", inst.get_truncate_log_info, inst)
    H.expect_jet("JET_errBackupAbortByServer", inst.truncate_log, inst)
    assert.is_true(r:is_open())
    r:close()                                   -- CloseFile still succeeds
    assert.is_false(r:is_open())
    -- End ends the backup, records nothing, and answers -801 (rule 3)
    e = H.expect_jet("JET_errBackupAbortByServer", inst.end_external_backup, inst)
    assert.are.equal("end_external_backup", e.op)
    H.expect_jet("JET_errNoBackup", inst.end_external_backup, inst)
    H.expect_jet("JET_errNoBackup", inst.get_attach_info, inst)
    -- a later Begin starts a fresh backup; nothing was recorded
    H.expect_jet("JET_errMissingFullBackup", inst.begin_external_backup, inst, { incremental = true })
    H.backup(inst, out, { truncate = true })
  end)

  it("C01: stop then End: JET_errBackupAbortByServer, the backup is over, a new one works", function()
    inst:begin_external_backup()
    inst:stop_backup()
    H.expect_jet("JET_errBackupAbortByServer", inst.end_external_backup, inst)
    H.expect_jet("JET_errNoBackup", inst.end_external_backup, inst)
    local set = H.backup(inst, out)
    assert.are.same({ dbpath }, set.dbs)
  end)

  it("C01: stop then End{abort = true}: End ends it and says JET_errBackupAbortByServer (rule 3: "
     .. "after a stop, End returns -801 whatever it asks)", function()
    inst:begin_external_backup()
    inst:stop_backup()
    H.expect_jet("JET_errBackupAbortByServer", inst.end_external_backup, inst, { abort = true })
    H.expect_jet("JET_errNoBackup", inst.end_external_backup, inst)
  end)

  it("C01: the stop also holds after a complete stream", function()
    inst:begin_external_backup()
    drain(dbpath)
    for _, p in ipairs(inst:get_log_info()) do drain(p) end
    inst:stop_backup()
    H.expect_jet("JET_errBackupAbortByServer", inst.end_external_backup, inst, { normal = true, truncate_done = true })
    H.expect_jet("JET_errMissingFullBackup", inst.begin_external_backup, inst, { incremental = true })
  end)

  it("C03: stop with no backup succeeds, and a later Begin works", function()
    inst:stop_backup()
    inst:stop_backup()
    inst:begin_external_backup()
    assert.are.same({ dbpath }, inst:get_attach_info())
    inst:end_external_backup({ abort = true })
  end)

  it("C06: End{abort = true} succeeds; then a full sequence ends normally", function()
    inst:begin_external_backup()
    inst:end_external_backup({ abort = true })
    assert.are.equal(0, H.db_header(dbpath).copy.gen_lo, "the aborted backup recorded nothing")
    inst:begin_external_backup(0)
    drain(dbpath)
    local logs, info = inst:get_log_info()
    for _, p in ipairs(logs) do drain(p) end
    inst:end_external_backup({ normal = true })
    -- End(Normal) without truncation records the backup as a copy
    assert.are.equal(info.gen_high, H.db_header(dbpath).copy.gen_hi)
  end)

  it("C07: an aborted complete sequence records nothing; the same with End(Normal) does", function()
    inst:begin_external_backup()
    drain(dbpath)
    for _, p in ipairs(inst:get_log_info()) do drain(p) end
    inst:truncate_log()
    inst:end_external_backup({ abort = true })
    H.expect_jet("JET_errMissingFullBackup", inst.begin_external_backup, inst, { incremental = true })
    assert.are.equal(0, H.db_header(dbpath).full.gen_lo)
    H.backup(inst, out, { truncate = true })
    assert.is_true(H.db_header(dbpath).full.gen_lo > 0)
    inst:begin_external_backup({ incremental = true })
    inst:end_external_backup({ abort = true })
  end)

  it("C08: term{complete = true} during a backup: JET_errBackupInProgress, the instance keeps running", function()
    inst:begin_external_backup()
    local r = inst:open_file(dbpath)
    r:read(PAGE)
    local e = H.expect_jet("JET_errBackupInProgress", inst.term, inst, { complete = true })
    assert.are.equal(-505, e.code)
    assert.is_true(inst:is_open())
    assert.are.equal(PAGE, #r:read(PAGE))      -- the backup goes on
    t:put("after", "1")
    r:close()
    inst:end_external_backup({ abort = true })
    inst:term({ complete = true })
    assert.is_false(inst:is_open())
  end)

  it("C08: plain term during a backup aborts it and terminates; nothing is recorded", function()
    inst:begin_external_backup()
    local r = inst:open_file(dbpath)
    r:read(PAGE)
    inst:term()
    assert.is_false(inst:is_open())
    -- the reader's backup is over; closing it is harmless
    H.expect_jet("JET_errNoBackup", r.read, r)
    r:close()
    local t2, _, _, i2 = w:reopen({ log_file_size = 64 })
    assert.are.equal(("x"):rep(500), t2:get("k00001"))
    H.expect_jet("JET_errNoBackup", i2.end_external_backup, i2)
    H.expect_jet("JET_errMissingFullBackup", i2.begin_external_backup, i2, { incremental = true })
    i2:begin_external_backup()
    i2:end_external_backup({ abort = true })
  end)

  it("C08 / C09: term{stop_backup = true} mid-flight aborts the backup; the data is intact", function()
    inst:begin_external_backup()
    local r = inst:open_file(dbpath)
    r:read(PAGE)
    t:put("mid", "flight")
    inst:term({ stop_backup = true })
    assert.is_false(inst:is_open())
    H.expect_jet("JET_errInvalidInstance", inst.end_external_backup, inst)
    r:close()
    local t2 = w:reopen()
    assert.are.equal("flight", t2:get("mid"))
    assert.are.equal(("x"):rep(500), t2:get("k00010"))
  end)

  it("C08: term{complete = true, stop_backup = true} during a backup terminates cleanly", function()
    inst:begin_external_backup()
    inst:term({ complete = true, stop_backup = true })
    assert.is_false(inst:is_open())
    assert.are.equal(H.DB_CLEAN, H.db_header(dbpath).state)
  end)

  it("C10: End(Normal) half-way: JET_errBackupAbortByCaller, and no full is recorded", function()
    inst:begin_external_backup()
    local r = inst:open_file(dbpath)
    r:read(PAGE)
    r:close()
    H.expect_jet("JET_errBackupAbortByCaller", inst.end_external_backup, inst)
    H.expect_jet("JET_errNoBackup", inst.end_external_backup, inst)
    H.expect_jet("JET_errMissingFullBackup", inst.begin_external_backup, inst, { incremental = true })
  end)

  it("C10: End(Normal) with a database listed but never read: JET_errBackupAbortByCaller", function()
    inst:begin_external_backup()
    inst:get_attach_info()
    for _, p in ipairs(inst:get_log_info()) do drain(p) end
    H.expect_jet("JET_errBackupAbortByCaller", inst.end_external_backup, inst)
  end)

  it("C10: End(Normal) with a listed log not read to its end: JET_errBackupAbortByCaller", function()
    inst:begin_external_backup()
    drain(dbpath)
    local logs = inst:get_log_info()
    for i = 1, #logs - 1 do drain(logs[i]) end
    local r = inst:open_file(logs[#logs])
    r:read(PAGE)
    r:close()
    H.expect_jet("JET_errBackupAbortByCaller", inst.end_external_backup, inst)
  end)

  it("C11: stop_service during a backup: streaming calls and End give JET_errClientRequestToStopJetService", function()
    inst:begin_external_backup()
    local r = inst:open_file(dbpath)
    r:read(PAGE)
    inst:stop_service()
    local e = H.expect_jet("JET_errClientRequestToStopJetService", r.read, r)
    assert.are.equal(-1329, e.code)
    H.expect_jet("JET_errClientRequestToStopJetService", inst.get_log_info, inst)
    e = H.expect_jet("JET_errClientRequestToStopJetService", inst.end_external_backup, inst)
    assert.are.equal("end_external_backup", e.op)
    H.expect_jet("JET_errClientRequestToStopJetService", inst.end_external_backup, inst, { abort = true })
    H.expect_jet("JET_errClientRequestToStopJetService", inst.begin_external_backup, inst)
    inst:stop_backup()                          -- not gated
    H.expect_jet("JET_errClientRequestToStopJetService", r.close, r)
    inst:term()                                 -- term still works and tears the backup down
    assert.is_false(inst:is_open())
  end)

  it("rule 6: End on an instance that is not initialized: JET_errNotInitialized", function()
    local fresh = w:create(nil, { log_path = w:path("f"), system_path = w:path("f") })
    local e = H.expect_jet("JET_errNotInitialized", fresh.end_external_backup, fresh)
    assert.are.equal(-1029, e.code)
    H.expect_jet("JET_errNotInitialized", fresh.end_external_backup, fresh, { abort = true })
  end)

  it("rule 6: End after stop_service with no backup: JET_errClientRequestToStopJetService", function()
    inst:stop_service()
    H.expect_jet("JET_errClientRequestToStopJetService", inst.end_external_backup, inst)
  end)

  it("B18: a terminated instance object raises JET_errInvalidInstance for every backup method", function()
    inst:term()
    for _, m in ipairs({ "begin_external_backup", "get_attach_info", "get_log_info",
                         "get_truncate_log_info", "truncate_log", "end_external_backup",
                         "stop_backup" }) do
      local e = H.expect_jet("JET_errInvalidInstance", inst[m], inst)
      assert.are.equal(m, e.op)
    end
    H.expect_jet("JET_errInvalidInstance", inst.open_file, inst, dbpath)
  end)

  it("C05: a coroutine stops the backup while another is inside copy_to", function()
    inst:begin_external_backup()
    local r = inst:open_file(dbpath)
    local chunks = 0
    local co = coroutine.create(function()
      return r:copy_to(function()
        chunks = chunks + 1
        coroutine.yield()
      end, PAGE)
    end)
    assert.is_true(coroutine.resume(co))
    assert.are.equal(1, chunks)
    inst:stop_backup()                          -- from the main "thread"
    local ok, e = coroutine.resume(co)
    assert.is_false(ok)
    assert.are.equal("JET_errBackupAbortByServer", e.name)
    assert.are.equal("copy_to", e.op)
    r:close()
    H.expect_jet("JET_errBackupAbortByServer", inst.end_external_backup, inst)
    H.backup(inst, out)                         -- the instance stays usable
  end)
end)
