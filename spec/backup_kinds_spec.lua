-- Full, incremental, differential and copy backups, and log truncation
-- (peer cases group E; docs/backup.md rule 11).  The records a
-- successful End writes are read back from page 0 of the live database
-- (csrc/dbheader.h): full, incremental, differential, copy, each
-- { gen_lo, gen_hi, time }.
local H = require "support.helpers"

describe("backup kinds", function()
  local w, t, inst, dbpath

  before_each(function()
    local _
    w, t, _, _, inst, dbpath = H.backup_start(10, "a")
  end)
  after_each(function() w:cleanup() end)

  local function hdr() return H.db_header(dbpath) end
  local function is_zero(rec) return rec.gen_lo == 0 and rec.gen_hi == 0 and rec.time == 0 end

  it("E03: full + truncate, then an incremental of the logs written since", function()
    local full = H.backup(inst, w:path("full"), { truncate = true })
    local h = hdr()
    assert.are.same({ full.info.gen_low, full.info.gen_high },
                    { h.full.gen_lo, h.full.gen_hi })
    assert.is_true(h.full.time > 0)
    assert.is_true(is_zero(h.incremental) and is_zero(h.copy))
    H.roll(t, w.dir, 3, "b")                 -- roll a few logs
    local inc = H.backup(inst, w:path("inc"), { incremental = true, truncate = true })
    -- no database, only logs, contiguous with the full set
    assert.are.same({}, inc.dbs)
    assert.are.equal(inc.info.gen_high - inc.info.gen_low + 1, #inc.logs)
    for name in pairs(H.ls(w:path("inc"))) do assert.matches("%.log$", name) end
    assert.is_true(inc.info.gen_low <= full.info.gen_high + 1, "no gap after the full")
    assert.is_true(inc.info.gen_high > full.info.gen_high)
    for _, p in ipairs(inc.logs) do assert.is_true(H.log_gen(p) > 0) end
    h = hdr()
    assert.are.same({ inc.info.gen_low, inc.info.gen_high },
                    { h.incremental.gen_lo, h.incremental.gen_hi })
    assert.are.same({ full.info.gen_low, full.info.gen_high }, { h.full.gen_lo, h.full.gen_hi })
    -- the next incremental starts after this one
    H.fill(t, 10, "c")
    local inc2 = H.backup(inst, w:path("inc2"), { incremental = true, truncate = true })
    assert.is_true(inc2.info.gen_low <= inc.info.gen_high + 1)
    assert.is_true(inc2.info.gen_high > inc.info.gen_high)
  end)

  it("E04a: a full backup without truncation is a copy and never enables an incremental", function()
    H.backup(inst, w:path("copy"))
    local h = hdr()
    assert.is_true(is_zero(h.full))
    assert.is_true(h.copy.gen_lo > 0 and h.copy.gen_hi >= h.copy.gen_lo)
    H.expect_jet("JET_errMissingFullBackup", inst.begin_external_backup, inst, { incremental = true })
  end)

  it("E04a: a copy after a full keeps the full record (an incremental still works)", function()
    local full = H.backup(inst, w:path("full"), { truncate = true })
    H.fill(t, 5, "b")
    local copy = H.backup(inst, w:path("copy"))
    local h = hdr()
    assert.are.same({ full.info.gen_low, full.info.gen_high }, { h.full.gen_lo, h.full.gen_hi })
    assert.are.same({ copy.info.gen_low, copy.info.gen_high }, { h.copy.gen_lo, h.copy.gen_hi })
    H.backup(inst, w:path("inc"), { incremental = true, truncate = true })
  end)

  it("E04b: End{truncate_done = true} records a full without truncate_log", function()
    local before = H.ls(w.dir)
    local set = H.backup(inst, w:path("full"), { end_opts = { truncate_done = true } })
    local h = hdr()
    assert.are.same({ set.info.gen_low, set.info.gen_high }, { h.full.gen_lo, h.full.gen_hi })
    assert.is_true(is_zero(h.copy))
    -- nothing was deleted (edbtmp.log, the next generation made ahead, comes and goes)
    local after = H.ls(w.dir)
    for name in pairs(before) do
      if name ~= "edbtmp.log" then assert.is_true(after[name], name) end
    end
    inst:begin_external_backup({ incremental = true })
    inst:end_external_backup({ abort = true })
  end)

  it("E04b: End{normal = true, truncate_done = true} and the raw grbit 0x101 do the same", function()
    H.backup(inst, w:path("f1"), { end_opts = { normal = true, truncate_done = true } })
    assert.is_true(hdr().full.gen_lo > 0)
    H.fill(t, 5, "b")
    local set = H.backup(inst, w:path("f2"), { end_opts = 0x101 })
    assert.are.equal(set.info.gen_high, hdr().full.gen_hi)
  end)

  it("E04c: End with JET_bitBackupNoDbHeaderUpdate (0x201) records nothing", function()
    H.backup(inst, w:path("f"), { truncate = true, end_opts = 0x201 })
    local h = hdr()
    assert.is_true(is_zero(h.full) and is_zero(h.copy))
    H.expect_jet("JET_errMissingFullBackup", inst.begin_external_backup, inst, { incremental = true })
  end)

  it("E05: truncate_log deletes exactly get_truncate_log_info's list, never the current log", function()
    H.roll(t, w.dir, 3)                      -- older generations on disk
    local out = w:path("out")
    assert(os.execute("mkdir -p '" .. out .. "'"))
    inst:begin_external_backup()
    for _, p in ipairs(inst:get_attach_info()) do H.stream(inst, p, out) end
    H.fill(t, 10, "during")
    local logs = inst:get_log_info()
    for _, p in ipairs(logs) do H.stream(inst, p, out) end
    local trunc = inst:get_truncate_log_info()
    assert.is_true(#trunc > 0, "something to truncate")
    local before = H.ls(w.dir)
    before.out = nil
    for _, p in ipairs(trunc) do
      assert.are.equal(w.dir, p:match("^(.*)/[^/]+$"))
      assert.is_true(before[H.basename(p)], p)
      assert.are_not.equal("edb.log", H.basename(p))
    end
    inst:truncate_log()
    local after = H.ls(w.dir)
    local removed, expected = {}, {}
    for name in pairs(before) do if not after[name] then removed[#removed + 1] = name end end
    for _, p in ipairs(trunc) do expected[#expected + 1] = H.basename(p) end
    table.sort(removed)
    table.sort(expected)
    assert.are.same(expected, removed)
    assert.is_true(after["edb.log"])
    assert.is_true(after["edb.chk"])
    inst:end_external_backup()
    -- a write after the truncation, a crash (abrupt term), and soft recovery
    local t2 = w:crash_recovers(t, inst)
    assert.are.equal(("x"):rep(500), t2:get("during00010"))
    assert.are.equal(("x"):rep(500), t2:get("a00001"))
  end)

  it("E05: the truncate list holds only generations below the current one", function()
    H.roll(t, w.dir, 2)                      -- older generations on disk
    local _, info = H.log_phase(inst, t, dbpath)
    local trunc = inst:get_truncate_log_info()
    assert.is_true(#trunc > 0, "something to truncate")
    for _, p in ipairs(trunc) do
      local g = H.log_gen(p)
      assert.is_true(g and g >= 1 and g <= info.gen_high, p)
    end
    inst:end_external_backup({ abort = true })
  end)

  it("E06: an incremental whose next log was deleted: JET_errMissingFileToBackup, not recorded", function()
    local full = H.backup(inst, w:path("full"), { truncate = true })
    H.roll(t, w.dir, 2, "b")
    -- delete (outside the engine) every log up to the first one the incremental needs
    for name in pairs(H.ls(w.dir)) do
      local g = H.log_gen(name)
      if g and g > 0 and g <= full.info.gen_high + 1 then os.remove(w:path(name)) end
    end
    inst:begin_external_backup({ incremental = true })
    H.expect_jet("JET_errMissingFileToBackup", inst.get_log_info, inst)
    H.expect_jet("JET_errBackupAbortByCaller", inst.end_external_backup, inst)
    assert.is_true(is_zero(hdr().incremental))
  end)

  it("E06: after that refusal no log of the incremental opens (no list was given): "
     .. "JET_errInvalidParameter, the backup is torn down", function()
    local full = H.backup(inst, w:path("full"), { truncate = true })
    H.roll(t, w.dir, 2, "b")
    local first
    for name in pairs(H.ls(w.dir)) do
      local g = H.log_gen(name)
      if g and g > 0 and g <= full.info.gen_high + 1 then os.remove(w:path(name)) end
      if g and g > full.info.gen_high + 1 and (not first or g < H.log_gen(first)) then first = name end
    end
    assert.is_truthy(first, "a log left on disk")
    inst:begin_external_backup({ incremental = true })
    H.expect_jet("JET_errMissingFileToBackup", inst.get_log_info, inst)
    -- the cut-off was made, but the log list was refused: streaming one of
    -- the logs on disk anyway (it crashed the engine on close)
    H.expect_jet("JET_errInvalidParameter", inst.open_file, inst, w:path(first))
    H.expect_jet("JET_errNoBackup", inst.end_external_backup, inst)
    assert.is_true(is_zero(hdr().incremental))
  end)

  it("E07: an incremental without truncation is a differential; the next one starts at the same place", function()
    H.backup(inst, w:path("full"), { truncate = true })
    H.fill(t, 10, "b")
    local d1 = H.backup(inst, w:path("d1"), { incremental = true })
    local h = hdr()
    assert.are.same({ d1.info.gen_low, d1.info.gen_high },
                    { h.differential.gen_lo, h.differential.gen_hi })
    assert.is_true(is_zero(h.incremental))
    H.fill(t, 10, "c")
    local d2 = H.backup(inst, w:path("d2"), { incremental = true })
    assert.are.equal(d1.info.gen_low, d2.info.gen_low)
    assert.is_true(d2.info.gen_high > d1.info.gen_high)
    assert.are.equal(d2.info.gen_high, hdr().differential.gen_hi)
  end)

  it("E07: an incremental ended with truncate_done is recorded as an incremental", function()
    H.backup(inst, w:path("full"), { truncate = true })
    H.fill(t, 5, "b")
    local inc = H.backup(inst, w:path("i"), { incremental = true, end_opts = { truncate_done = true } })
    local h = hdr()
    assert.are.same({ inc.info.gen_low, inc.info.gen_high },
                    { h.incremental.gen_lo, h.incremental.gen_hi })
    assert.is_true(is_zero(h.differential))
  end)

  it("E04: a new full clears the incremental and differential records", function()
    H.backup(inst, w:path("full"), { truncate = true })
    H.fill(t, 5, "b")
    H.backup(inst, w:path("i"), { incremental = true, truncate = true })
    H.fill(t, 5, "c")
    H.backup(inst, w:path("d"), { incremental = true })
    local h = hdr()
    assert.is_false(is_zero(h.incremental))
    assert.is_false(is_zero(h.differential))
    local full2 = H.backup(inst, w:path("full2"), { truncate = true })
    h = hdr()
    assert.are.equal(full2.info.gen_high, h.full.gen_hi)
    assert.is_true(is_zero(h.incremental) and is_zero(h.differential))
  end)

  it("E01: circular logging refuses incrementals but allows full backups", function()
    local dir = w:path("circ")
    local ct, _, _, ci = w:table_at(dir, "c.edb", { circular_log = true, log_file_size = 64 })
    H.fill(ct, 20)
    H.expect_jet("JET_errInvalidBackup", ci.begin_external_backup, ci, { incremental = true })
    H.expect_jet("JET_errInvalidBackup", ci.begin_external_backup, ci, 1)
    local set = H.backup(ci, w:path("cfull"), { truncate = true })
    assert.are.equal(1, #set.dbs)
    H.expect_jet("JET_errInvalidBackup", ci.begin_external_backup, ci, { incremental = true })
  end)
end)
