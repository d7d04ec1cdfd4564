-- Hostile review of issue 13's engine threads (os_worker): a job left on
-- the backup's worker when the backup is ended some other way.
local H = require "support.helpers"

-- The children's first lines: the instance on dir (arg[1]) with table t
-- of app.edb open; arg[2] the set, arg[3] the trigger (or gate), arg[4] how.
local prologue = [[
  local ese = require "ese"
  local backup = require "ese.backup"
  local dir, set, trigger, how = arg[1], arg[2], arg[3], arg[4]
  local inst = ese.create_instance("child", { system_path = dir, log_path = dir, log_file_size = 64 })
  inst:init()
  local s = inst:begin_session()
  s:attach_database(dir .. "/app.edb")
  local t = s:open_table(s:open_database(dir .. "/app.edb"), "t")
]]

-- A world whose app.edb holds 2000 records, its instance ended (a child
-- opens it).
local function world_2000()
  local w = H.world()
  local t, s, _, inst = w:table({ log_file_size = 64 })
  for i = 1, 2000 do t:put(("k%06d"):format(i), ("v"):rep(100)) end
  s:end_session()
  inst:term()
  return w
end

-- End in steps (backup.run's "end" phase) stopped after its first step:
-- page 0 of app.edb's header is written and its sync runs on the backup's
-- worker; ESE_FAULT=synceio:1:app.edb:TRIGGER fails that sync with EIO
-- (TRIGGER is made at the first "end" callback).  The caller then ends the
-- backup with End (abort), or JetStopBackup then End (abort), or inst:term.
local child = prologue .. [[
  local ends = 0
  local co = coroutine.wrap(function()
    return pcall(backup.run, inst, set, { on_progress = function(p)
      if p.phase == "end" then
        if trigger ~= "-" then io.open(trigger, "w"):close() end
        ends = ends + 1
      end
      coroutine.yield()
    end })
  end)
  repeat co() until ends == 2      -- End's first step ran (its sync on the worker)
  local function name(ok, e) return ok and "ok" or (ese.is_error(e) and e.name or tostring(e)) end
  if how == "stop" then inst:stop_backup() end
  if how == "term" then
    io.write("term: ", name(pcall(inst.term, inst)), "\n")
    return
  end
  io.write("end: ", name(pcall(inst.end_external_backup, inst, { abort = true })), "\n")
  io.write("put: ", name(pcall(t.put, t, "after", "x")), "\n")
]]

describe("review (issue 13): a failed End-step sync left on the worker is never dropped", function()
  local function run(how, fault)
    local w = world_2000()
    finally(function() w:cleanup() end)
    local trigger = fault and w:path("trigger") or "-"
    local code, out, err = H.lua_child(child, { w.dir, w:path("set"), trigger, how },
      fault and ("ESE_FAULT=synceio:1:app.edb:" .. H.q(trigger)) or nil)
    assert.are.equal(0, code, err)
    return out, w
  end

  for _, how in ipairs({ "abort", "stop" }) do
    it(how .. ": End (abort) answers JET_errDiskIO and the instance refuses writes", function()
      local out = run(how, true)
      assert.matches("end: JET_errDiskIO\nput: JET_errInstanceUnavailable\n$", out)
    end)
  end

  it("term: the instance ends dirty (recovery replays), not clean over a failed sync", function()
    local out, w = run("term", true)
    assert.matches("term: ok", out)
    assert.are_not.equal(1, H.db_header(w:path("app.edb")).state)   -- not clean shutdown
    local t2, s2, _, inst2 = w:reopen({ log_file_size = 64 })
    assert.are.equal(("v"):rep(100), t2:get("k002000"))
    s2:end_session()
    inst2:term()
  end)

  it("without the fault: abort mid-End-steps answers success and writes go on", function()
    local out = run("abort", false)
    assert.matches("end: ok\nput: ok\n$", out)
    local out2 = run("stop", false)
    assert.matches("end: JET_errBackupAbortByServer\nput: ok\n$", out2)
  end)
end)

-- The log truncation's last part: the log folder's sync on the backup's
-- worker, held there (ESE_FAULT=holdsync:LOGDIR:GATE:eio, GATE made at the
-- first "truncate" callback) and then failing with EIO once GATE is gone.
-- The caller ends the backup while that job is left uncollected.
local trunc_child = prologue .. [[
  local gate = trigger
  local truncating = false
  local co = coroutine.wrap(function()
    return pcall(backup.run, inst, set, { on_progress = function(p)
      if p.phase == "truncate" and not truncating and gate ~= "-" then
        truncating = true
        io.open(gate, "w"):close()
      end
      coroutine.yield()
    end })
  end)
  local function exists(p)
    local f = io.open(p)
    if f then f:close() end
    return f ~= nil
  end
  local function name(ok, e) return ok and "ok" or (ese.is_error(e) and e.name or tostring(e)) end
  local done
  repeat done = co() until done ~= nil or (gate ~= "-" and exists(gate .. ".held"))
  if done ~= nil then
    io.write("finished\n")
    return
  end
  if how == "stop" then inst:stop_backup() end
  os.remove(gate)                  -- the held sync goes on, and fails
  io.write("end: ", name(pcall(inst.end_external_backup, inst, { abort = true })), "\n")
  io.write("put: ", name(pcall(t.put, t, "after", "x")), "\n")
]]

describe("review (issue 13): a failed truncation folder sync left on the worker is never dropped", function()
  local function run(how)
    local w = world_2000()
    finally(function() w:cleanup() end)
    local gate = w:path("gate")
    local code, out, err = H.lua_child(trunc_child, { w.dir, w:path("set"), gate, how },
      "ESE_FAULT=holdsync:" .. H.q(H.basename(w.dir)) .. ":" .. H.q(gate) .. ":eio")
    assert.are.equal(0, code, err)
    return out
  end

  for _, how in ipairs({ "abort", "stop" }) do
    it(how .. " mid-truncation: End (abort) answers the folder sync's JET_errDiskIO; the instance goes on", function()
      assert.matches("^end: JET_errDiskIO\nput: ok\n$", run(how))
    end)
  end
end)

describe("review (issue 13): threads stepping one backup while another ends it (C harness)", function()
  it("step_races: two threads call EseBackupStep with every kind out of order while a third stops, ends "
     .. "(abort, normal) or terms the instance mid-job: no crash or hang, every answer one a step may give, "
     .. "every committed record there after recovery", function()
    H.expect_harness("step_races", "12", "step_races: ok 12 rounds")
  end)
end)

describe("issue 13: the application's commits never wait for the backup's checkpoint (C harness)", function()
  it("commit_during_slice: a commit and a read return while a slice on the backup's worker is held inside its "
     .. "double-write ring sync (ESE_FAULT=holdsync); then the checkpoint ends and every record is there after "
     .. "recovery", function()
    H.expect_harness("commit_during_slice", "", {
      "commit_during_slice: a commit and a read returned while the slice was held in its sync",
      "commit_during_slice: ok" })
  end)

  it("commit_ckpt_due: a commit that finds a checkpoint due takes it in slices: another session commits and "
     .. "reads while that checkpoint is held inside its double-write ring sync (ESE_FAULT=holdsync); every "
     .. "record is there after recovery", function()
    H.expect_harness("commit_ckpt_due", "", {
      "commit_ckpt_due: another session committed and read while a commit's checkpoint was held",
      "commit_ckpt_due: ok" })
  end)

  it("commit_ckpt_due eio: the held checkpoint's ring sync fails: the commit that took it still answers success, "
     .. "the instance is unavailable after it, and recovery finds every record", function()
    H.expect_harness("commit_ckpt_due", "eio", {
      "commit_ckpt_due: the checkpoint's failed sync left the commit answered and the instance unavailable",
      "commit_ckpt_due: ok" })
  end)

  it("commit_during_cutoff: commits and reads return while the backup's cut-off is held in its roll (making "
     .. "the next log file: a durable commit; in the log folder's sync after the switch: a lazy one) and while "
     .. "a stepwise Begin's checkpoint start is held in its log flush (a lazy commit); every record is there "
     .. "after recovery", function()
    local lines = {}
    for _, c in ipairs({ "next", "switch", "start" }) do
      lines[#lines + 1] = "commit_during_cutoff: " .. c .. ": a commit and a read returned while the call was held"
      lines[#lines + 1] = "commit_during_cutoff: " .. c .. ": ok"
    end
    H.expect_harness("commit_during_cutoff", "", lines)
  end)

  it("power_unlocked: power cuts (4 seeds each) inside the I/O run without the instance lock while another "
     .. "thread commits (a slice's ring sync, the checkpoint's database sync, the cut-off's roll making the next "
     .. "log file and syncing the log folder): every acknowledged commit is there after recovery and the "
     .. "database verifies", function()
    H.expect_harness("power_unlocked", "", "power_unlocked: ok 16 cuts")
  end)

  it("cutoff_races: while the cut-off's roll runs without the lock, a log list (which makes the cut-off too) "
     .. "waits for it and the log rolls once; a database opened for the backup meanwhile is "
     .. "JET_errInvalidBackupSequence and ends the backup once the roll is done (the cut-off then answers "
     .. "JET_errNoBackup); a log list and an end both waiting for it (12 backups): the list and the cut-off answer "
     .. "JET_errNoBackup, the end 0, whichever takes the lock first (the end freed the backup under the waiting "
     .. "list before: an assertion, bk_move of a freed backup); a commit that fills the closing file meanwhile "
     .. "waits for the roll and does not roll again (one generation closed); every record is there after "
     .. "recovery", function()
    H.expect_harness("cutoff_races", "", {
      "cutoff_races: second: cut-off 0, log list 0", "cutoff_races: open: open -521, cut-off -520",
      "cutoff_races: end: 12 rounds: log list -520, cut-off -520, end 0", "cutoff_races: end: ok",
      "cutoff_races: full: X's roll the only one, every record of F recovered", "cutoff_races: full: ok",
      "cutoff_races: ok" })
  end)

  it("cutoff_after_wait: a log list whose cut-off waits for a stepwise backup's slice (held in its ring sync) "
     .. "answers a stop (JET_errBackupAbortByServer), an end (JET_errNoBackup; the end 0) or the instance made "
     .. "unavailable by the slice's failed sync (JET_errInstanceUnavailable) meanwhile without rolling the log "
     .. "(it rolled first before: one more archived generation); every record is there after recovery; "
     .. "an end while the log list's own checkpoint ends (its database sync held): the list answers "
     .. "JET_errNoBackup, the end 0 (an assertion before: the ended backup moved to its log list)", function()
    H.expect_harness("cutoff_after_wait", "", {
      "cutoff_after_wait: stop: log list -801", "cutoff_after_wait: stop: ok",
      "cutoff_after_wait: end: log list -520", "cutoff_after_wait: end: ok",
      "cutoff_after_wait: unavail: log list -1090", "cutoff_after_wait: unavail: ok",
      "cutoff_after_wait: ownslice: log list -520, end 0", "cutoff_after_wait: ownslice: ok",
      "cutoff_after_wait: ok" })
  end)
end)

describe("review (issue 13): the cut-off's unlocked roll against I/O errors and the archive (C harness)", function()
  it("cutoff_eio: the cut-off's roll held in the log folder's sync after the switch, which then fails (EIO): a "
     .. "durable commit in the new generation does not return while held and then fails; held in the new file's "
     .. "sync, which fails: a lazy commit into the closing file returns at once, no edbtmp.log is left; either way "
     .. "the cut-off answers JET_errDiskIO, the instance is unavailable, and every record committed before is "
     .. "there after recovery", function()
    H.expect_harness("cutoff_eio", "", {
      "cutoff_eio: switch: cut-off -1022, commit -1022 (returned while held: 0)", "cutoff_eio: switch: ok",
      "cutoff_eio: next: cut-off -1022, commit 0 (returned while held: 1)", "cutoff_eio: next: ok",
      "cutoff_eio: ok" })
  end)

  it("archive_during_cutoff: with archive_timeout 1 s, a commit returns while the cut-off's roll is held past "
     .. "the timeout (the archiver's roll held the instance lock waiting for it before: the commit waited); every "
     .. "generation shipped is the log's file, the cut-off's among them; every record is there after "
     .. "recovery", function()
    H.expect_harness("archive_during_cutoff", "", {
      "archive_during_cutoff: a commit and a read returned while the cut-off was held past archive_timeout",
      "archive_during_cutoff: ok" })
  end)
end)

describe("review (issue 13): a detach checks after it waits for a slice's I/O (C harness)", function()
  it("detach_during_slice: Begin's slice held in its ring sync, a detach waits for it, a session opens the "
     .. "database meanwhile: the detach answers JET_errDatabaseInUse (or JET_errBackupInProgress once Begin made "
     .. "its backup; it closed the database under the session before), the session reads its records", function()
    H.expect_harness("detach_during_slice", "", {
      "detach_during_slice: Begin 0, open 0, detach -", "detach_during_slice: ok" })
  end)
end)

describe("review (issue 13): a slice's unlocked write against the application's changes (C harness)", function()
  it("update_during_slice: every record of a held slice's batch gets a new value while its copy is written; "
     .. "after the checkpoint and a clean term every new value is in the file (none marked clean with its old "
     .. "copy on disk)", function()
    H.expect_harness("update_during_slice", "", "update_during_slice: ok")
  end)

  it("eio_during_slice: the held slice's ring sync fails with EIO: the next step answers it, the instance is "
     .. "unavailable, and every record committed (one during the slice) is there after recovery", function()
    H.expect_harness("eio_during_slice", "", {
      "eio_during_slice: the step after the failed ring sync answered -", "eio_during_slice: ok" })
  end)

  it("begin_after_eio: a stepwise Begin that waited for another Begin's slice, whose ring sync then failed "
     .. "with EIO, answers JET_errInstanceUnavailable (it made a backup of the unavailable instance before)",
     function()
    H.expect_harness("begin_after_eio", "", {
      "begin_after_eio: Begin -1022, stepwise Begin -1090", "begin_after_eio: ok" })
  end)
end)

describe("review (issue 13): a bounded wait for one instance's lock holds no process-wide lock (C harness)", function()
  it("enter_within: while a call waits for instance A's lock (EseBackupStep's entry), calls on instance B "
     .. "return; then the waiter enters A", function()
    H.expect_harness("enter_within", "", {
      "enter_within: B's calls returned while a call waited for A's lock", "enter_within: ok" })
  end)
end)

-- A truncation step after the truncation ended (TRUNCATED: its deletions
-- and the folder's sync done): nothing to do.  With the log folder's syncs
-- held (ESE_FAULT=holdsync:LOGDIR:GATE, GATE made only then), such a step
-- must answer false at once, holding nothing; it started another folder
-- sync on the worker before and answered true while that ran (2 ms were
-- enough for checkpoint_slices_spec's "again, harmless" to fail now and
-- then on a loaded machine).
local again_child = prologue .. [[
  backup.run(inst, set, {})
  inst:begin_external_backup({ stepwise = true })
  for _, p in ipairs(inst:get_attach_info()) do
    local r = inst:open_file(p)
    while r:read(1 << 20) do end
    r:close()
  end
  for _, p in ipairs(inst:get_log_info()) do
    local r = inst:open_file(p)
    while r:read(1 << 20) do end
    r:close()
  end
  while inst:backup_step({ truncate = true }) do end
  io.open(trigger, "w"):close()
  local more = inst:backup_step({ truncate = true })
  local f = io.open(trigger .. ".held")
  if f then f:close() end
  io.write("again: ", tostring(more), " held: ", tostring(f ~= nil), "\n")
  os.remove(trigger)
  inst:end_external_backup()
]]

describe("review (issue 13): a truncation step once the truncation ended", function()
  it("answers false at once and starts no folder sync", function()
    local w = world_2000()
    finally(function() w:cleanup() end)
    local gate = w:path("gate")
    local code, out, err = H.lua_child(again_child, { w.dir, w:path("set"), gate, "-" },
      "ESE_FAULT=holdsync:" .. H.q(H.basename(w.dir)) .. ":" .. H.q(gate))
    assert.are.equal(0, code, err)
    assert.are.equal("again: false held: false\n", out)
  end)
end)
