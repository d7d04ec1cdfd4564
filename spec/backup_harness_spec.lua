-- Runs the C harness programs of the backup (spec/c/backup_restore.c,
-- spec/c/backup_faults.c): real threads, a stop from another thread, and
-- crash points during a backup.
local H = require "support.helpers"

local run = H.run_harness

describe("backup harness (C, threads and crashes)", function()
  it("G01/G03/H02/G06: writer threads commit during a full and an incremental backup; each restore holds exactly "
     .. "the transactions committed before its GetLogInfo cut-off, and no half transaction; after a TruncateLog "
     .. "under the writers and a SIGKILL, soft recovery keeps every commit", function()
    local ok, out = run("backup_restore", "3 300")
    assert.is_true(ok, out)
    assert.matches("backup_restore: ok", out)
  end)

  it("A05/C05/C07: JetBackupInstance restores whole; a stop from another thread aborts it with "
     .. "JET_errBackupAbortByServer; crash points during a backup never yield a silently wrong restore", function()
    local ok, out = run("backup_faults", "24")
    assert.is_true(ok, out)
    assert.matches("backup_faults: ok", out)
  end)
end)

describe("backup harness (C, term from another thread)", function()
  it("seeds 000-004 / decision 6: JetEndExternalBackupInstance, JetEndExternalBackup and Begin answer "
     .. "JET_errTermInProgress while JetTerm2 on another thread waits for a call in flight; "
     .. "JetStopBackup is not gated; the term then succeeds and nothing committed is lost", function()
    local ok, out = run("term_race", "4")
    assert.is_true(ok, out)
    assert.matches("term_race: ok 4 rounds", out)
  end)
end)
