-- Runs the C harness programs of the backup (spec/c/backup_restore.c,
-- spec/c/backup_two_instances.c, spec/c/backup_faults.c): real threads,
-- two instances backed up at once, a stop from another thread, and crash
-- points during a backup.
local H = require "support.helpers"

local expect = H.expect_harness

describe("backup harness (C, threads and crashes)", function()
  it("G01/G03/H02/G06: writer threads commit during a full and an incremental backup; each restore holds exactly "
     .. "the transactions committed before its GetLogInfo cut-off, and no half transaction; after a TruncateLog "
     .. "under the writers and a SIGKILL, soft recovery keeps every commit", function()
    expect("backup_restore", "3 300", "backup_restore: ok")
  end)

  it("G05: two named instances, each with its own writer threads, backed up at the same time (full + "
     .. "incremental); each restore holds exactly its own instance's transactions before its own GetLogInfo "
     .. "cut-off, whole, and nothing of the other instance", function()
    expect("backup_two_instances", "3", "backup_two_instances: ok: 3 rounds")
  end)

  it("A05/C05/C07: JetBackupInstance restores whole; a stop from another thread aborts it with "
     .. "JET_errBackupAbortByServer; crash points during a backup never yield a silently wrong restore", function()
    expect("backup_faults", "24", "backup_faults: ok")
  end)
end)

describe("backup harness (C, term from another thread)", function()
  it("rule 6: JetEndExternalBackupInstance, JetEndExternalBackup and Begin answer "
     .. "JET_errTermInProgress while JetTerm2 on another thread waits for a call in flight; "
     .. "JetStopBackup is not gated; the term then succeeds and nothing committed is lost", function()
    expect("term_race", "4", "term_race: ok 4 rounds")
  end)
end)
