-- The legacy (instance-less) backup functions and the instance modes (peer
-- cases group D; JetEndExternalBackup, JetStopBackup; docs/backup.md
-- rules 3 and 5).  ese.* calls the C forms without an
-- instance (JetBeginExternalBackup, ..., JetStopBackup), which work only in
-- legacy mode.
local ese = require "ese"
local H = require "support.helpers"

describe("backup, legacy functions", function()
  local w
  local PAGE = 8192

  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- The legacy instance with app.edb and table t holding some records.
  local function legacy()
    local g = w:legacy({ log_file_size = 64 })
    local s = g:begin_session()
    local db = s:create_database(w:path("app.edb"))
    local t = s:create_table(db, "t")
    H.fill(t, 10)
    return g, s, t
  end

  -- The instance-less streaming calls ({ name, args... }), and with
  -- every = true also Begin, End and Stop.
  local function calls(every)
    local list = { { "get_attach_info" }, { "open_file", w:path("app.edb") }, { "get_log_info" }, { "truncate_log" } }
    if every then
      for _, c in ipairs({ { "begin_external_backup" }, { "end_external_backup" }, { "stop_backup" } }) do
        list[#list + 1] = c
      end
    end
    return list
  end

  -- Every call of list raises the error object name, with its name as op.
  local function expect_each(name, list)
    for _, c in ipairs(list) do
      local e = H.expect_jet(name, ese[c[1]], table.unpack(c, 2))
      assert.are.equal(c[1], e.op)
    end
  end

  it("D03: the whole sequence with the instance-less functions", function()
    local _, _, t = legacy()
    local out = w:path("out")
    assert(os.execute("mkdir -p '" .. out .. "'"))
    ese.begin_external_backup()
    local dbs = ese.get_attach_info()
    assert.are.same({ w:path("app.edb") }, dbs)
    local r = ese.open_file(dbs[1])
    local size = r:size()
    local f = assert(io.open(out .. "/app.edb", "wb"))
    assert.are.equal(size, r:copy_to(f, 4 * PAGE))
    f:close()
    r:close()
    H.fill(t, 20, "roll")
    local logs = ese.get_log_info()
    assert.is_true(#logs >= 1)
    assert.matches("edb", H.basename(logs[1]))
    for _, p in ipairs(logs) do
      local lr <close> = ese.open_file(p)
      local n = 0
      for c in lr:chunks() do n = n + #c end
      assert.are.equal(H.file_size(p), n)
    end
    ese.truncate_log()
    ese.end_external_backup()
    assert.are.equal(H.DB_BACKUP_COPY, H.db_header(out .. "/app.edb").state)
    assert.is_true(H.db_header(w:path("app.edb")).full.gen_lo > 0)
    -- the backup is over
    expect_each("JET_errNoBackup", { { "end_external_backup" } })
    expect_each("JET_errNoBackup", calls())
    -- and an incremental follows the recorded full
    ese.begin_external_backup({ incremental = true })
    H.expect_jet("JET_errInvalidBackupSequence", ese.get_attach_info)
    ese.stop_backup()
    H.expect_jet("JET_errBackupAbortByServer", ese.end_external_backup)
  end)

  it("D03: instance forms and legacy forms mix on the legacy instance", function()
    local g = legacy()
    g:begin_external_backup()
    assert.are.same({ w:path("app.edb") }, ese.get_attach_info())
    local r = ese.open_file(w:path("app.edb"))
    while r:read() do end
    r:close()
    local logs = g:get_log_info()
    assert.are.same(logs, ese.get_log_info())
    for _, p in ipairs(logs) do
      local lr <close> = g:open_file(p)
      lr:copy_to(function() end)
    end
    g:end_external_backup()
  end)

  it("C02: legacy begin, ese.stop_backup(), ese.end_external_backup(): JET_errBackupAbortByServer", function()
    legacy()
    ese.begin_external_backup()
    local r = ese.open_file(w:path("app.edb"))
    r:read(PAGE)
    ese.stop_backup()
    H.expect_jet("JET_errBackupAbortByServer", r.read, r)
    H.expect_jet("JET_errBackupAbortByServer", ese.get_attach_info)
    H.expect_jet("JET_errBackupAbortByServer", ese.get_log_info)
    H.expect_jet("JET_errBackupAbortByServer", ese.truncate_log)
    r:close()
    local e = H.expect_jet("JET_errBackupAbortByServer", ese.end_external_backup)
    assert.are.equal(-801, e.code)
    H.expect_jet("JET_errNoBackup", ese.end_external_backup)
    -- the stop applied to that backup only
    ese.begin_external_backup()
    ese.stop_backup()
    ese.stop_backup()
    H.expect_jet("JET_errBackupAbortByServer", ese.end_external_backup)
  end)

  it("C03: ese.stop_backup() with no backup succeeds in legacy mode", function()
    legacy()
    ese.stop_backup()
    ese.begin_external_backup()
    assert.are.equal(1, #ese.get_attach_info())
  end)

  it("rule 1: ese.end_external_backup() half-way: JET_errBackupAbortByCaller", function()
    legacy()
    ese.begin_external_backup()
    ese.get_attach_info()
    H.expect_jet("JET_errBackupAbortByCaller", ese.end_external_backup)
    H.expect_jet("JET_errNoBackup", ese.end_external_backup)
  end)

  it("B14: ese.begin_external_backup with a bad grbit: JET_errInvalidGrbit", function()
    legacy()
    H.expect_jet("JET_errInvalidGrbit", ese.begin_external_backup, 0x4)
    H.expect_argerror("unknown option", ese.begin_external_backup, { atomic = true })
    H.expect_argerror("no options", ese.end_external_backup, { abort = true })
    H.expect_jet("JET_errNoBackup", ese.end_external_backup)
  end)

  it("B01 / B07: legacy calls with no backup: JET_errNoBackup", function()
    legacy()
    expect_each("JET_errNoBackup", calls())
  end)

  it("D01: every instance-less call in multi-instance mode: JET_errRunningInMultiInstanceMode", function()
    local inst = w:open()
    local s = inst:begin_session()
    s:create_database(w:path("app.edb"))
    assert.are.equal(-1081, ese.errors.JET_errRunningInMultiInstanceMode)
    expect_each("JET_errRunningInMultiInstanceMode", calls(true))
    -- also while the instance runs a backup; the instance forms work
    inst:begin_external_backup()
    H.expect_jet("JET_errRunningInMultiInstanceMode", ese.stop_backup)
    H.expect_jet("JET_errRunningInMultiInstanceMode", ese.end_external_backup)
    assert.are.equal(1, #inst:get_attach_info())
    inst:stop_backup()
    H.expect_jet("JET_errBackupAbortByServer", inst.end_external_backup, inst)
  end)

  it("D02: instance-less calls with nothing initialized: JET_errNotInitialized (rule 5)", function()
    assert.are.equal(-1029, ese.errors.JET_errNotInitialized)
    expect_each("JET_errNotInitialized", calls(true))
  end)

  it("D02: after ese.term() the mode is none again: JET_errNotInitialized", function()
    legacy()
    ese.begin_external_backup()
    local r = ese.open_file(w:path("app.edb"))
    ese.term()
    H.expect_jet("JET_errNotInitialized", ese.end_external_backup)
    H.expect_jet("JET_errNotInitialized", ese.stop_backup)
    -- the reader of the terminated instance: its backup is over
    H.expect_jet("JET_errNoBackup", r.read, r)
    r:close()
  end)

  it("D02: a legacy reader never touches the backup of a later legacy instance", function()
    legacy()
    ese.begin_external_backup()
    local old = ese.open_file(w:path("app.edb"))
    ese.term()
    local g2 = ese.init(H.params(w.dir, { log_file_size = 64 }))
    w:track(g2)
    local s2 = g2:begin_session()
    s2:attach_database(w:path("app.edb"))
    ese.begin_external_backup()
    local r = ese.open_file(w:path("app.edb"))
    H.expect_jet("JET_errNoBackup", old.read, old)
    old:close()
    assert.are.equal(PAGE, #r:read(PAGE))       -- still open
    r:close()
    g2:end_external_backup({ abort = true })
  end)

  it("D04: two instances back up at once; each has its own backup", function()
    local a = w:open(nil, { log_path = w:path("a"), system_path = w:path("a") })
    local b = w:open(nil, { log_path = w:path("b"), system_path = w:path("b") })
    a:begin_session():create_database(w:path("a/a.edb"))
    b:begin_session():create_database(w:path("b/b.edb"))
    a:begin_external_backup()
    b:begin_external_backup()
    H.expect_jet("JET_errBackupInProgress", a.begin_external_backup, a)
    assert.are.same({ w:path("a/a.edb") }, a:get_attach_info())
    assert.are.same({ w:path("b/b.edb") }, b:get_attach_info())
    H.expect_jet("JET_errDatabaseNotFound", a.open_file, a, w:path("b/b.edb"))
    local ra = a:open_file(w:path("a/a.edb"))
    a:end_external_backup({ abort = true })
    H.expect_jet("JET_errNoBackup", ra.read, ra)
    local rb = b:open_file(w:path("b/b.edb"))
    assert.are.equal(PAGE, #rb:read(PAGE))
    rb:close()
    b:end_external_backup({ abort = true })
  end)

  it("D05: a named instance while the legacy one runs: JET_errRunningInOneInstanceMode", function()
    legacy()
    H.expect_jet("JET_errRunningInOneInstanceMode", ese.create_instance, H.name(), H.params(w:path("n")))
  end)
end)
