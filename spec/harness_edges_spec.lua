-- Runs the C harness programs spec/c/redo_count.c and spec/c/backup_races.c
-- (from ESE_HARNESS_DIR, default build/bin): error paths that need a crashed
-- process and a log file edited with the engine's own format code, or two
-- threads inside one backup call at the same moment.  Lua reaches none of
-- them: a Lua state makes one call at a time.  Each program prints
-- "<name>: <test>: ok ..." per test and exits 0, or says what differed and
-- exits 1.
local H = require "support.helpers"

-- Runs prog with args; asserts exit 0 and a "<prog>: <test>: ok" line for
-- each test named.
local function expect_ok(prog, args, tests)
  local lines = {}
  for i, test in ipairs(tests) do lines[i] = prog .. ": " .. test .. ": ok" end
  return H.expect_harness(prog, args, lines)
end

describe("harness edges: replay (C, crashed processes, edited logs)", function()
  it("redo_count count: a commit whose page count is its group's +1 or -1 (checksum resealed with log_rec_crc, "
     .. "the file passes log_verify_file) fails soft recovery with JET_errLogFileCorrupt (-501), every file "
     .. "unchanged and the database dirty, again on retry; and a restore with JET_errLogCorruptDuringHardRestore "
     .. "(-573), the database left being restored; the writer's own record recovers and restores", function()
    expect_ok("redo_count", "count", { "count" })
  end)

  it("redo_count dbtime: a difference whose base is above its page's dbtime fails soft recovery with "
     .. "JET_errDbTimeTooOld (-566), one whose page lies between its base and its commit with JET_errDbTimeTooNew "
     .. "(-567), every file unchanged, again on retry; a restore of full + incremental alike (the database left "
     .. "being restored); the crashed run's log replayed a second time over the recovered database writes nothing "
     .. "to it, and after a replay that stopped half-way the database is byte for byte as after one replay", function()
    expect_ok("redo_count", "dbtime", { "dbtime" })
  end)

  it("redo_count txid: after a crash that leaves an unfinished transaction X, the next run numbers its "
     .. "transactions above every id in the log even when its clock reads X or has not moved since the first "
     .. "run; full + incremental (replay across the runs) restores exactly what was committed before the "
     .. "cut-off, and a third run recovers every record of both runs and not the unfinished one", function()
    expect_ok("redo_count", "txid", { "txid-at-x", "txid-still" })
  end)

  -- A run that replays nothing (after a clean term) takes its first
  -- transaction id from the checkpoint, which holds one above every id in
  -- the logs before it, not from the clock alone.
  it("redo_count restored-chk / chk-v1: a restore whose replay skips every record still writes a checkpoint "
     .. "whose next transaction id is above every id of the restored logs; a checkpoint of format 1, 2 or 3 "
     .. "is JET_errBadLogVersion (-514) at init, its detail says what to do, no file changes", function()
    expect_ok("redo_count", "restored-chk", { "restored-chk" })
    expect_ok("redo_count", "chk-v1", { "chk-v1" })
  end)

  it("redo_count log-v1: a log of format 1 to 4, or of format 5 with an unknown feature bit, is "
     .. "JET_errBadLogVersion (-514) at init, its detail says what to do, no file changes; the untouched log "
     .. "recovers", function()
    expect_ok("redo_count", "log-v1", { "log-v1" })
  end)

  it("redo_count attach-entry: crafted attachment entries (lengths past their record, the log header or the "
     .. "checkpoint, a byte left over, id 0 or 33; checksums resealed) are JET_errLogFileCorrupt / "
     .. "JET_errCheckpointCorrupt and the database is untouched", function()
    expect_ok("redo_count", "attach-entry", { "attach-entry" })
  end)

  it("redo_count clean: after a crash, a run that only recovers and terminates cleanly, then a run whose "
     .. "clock reads the unfinished transaction's id: its ids still grow, and the chain restores", function()
    expect_ok("redo_count", "clean", { "clean" })
  end)
end)

describe("harness edges: two threads in one backup (C)", function()
  it("backup_races reads: two threads calling JetReadFileInstance on one reader handle are served one read at a "
     .. "time: between them they read every page of the database stream exactly once, in order, each page "
     .. "its own (page_verify), the same bytes as one thread reads", function()
    expect_ok("backup_races", "reads 4", { "reads" })
  end)

  it("backup_races teardown: two threads ending one backup at once (End normal, abort, legacy End, Stop; a read "
     .. "in flight, a complete sequence, after a stop): exactly one End owns the tear-down and returns its code "
     .. "(0, -800, or -801 after a stop whatever it asks), the other JET_errNoBackup; only an owning complete "
     .. "End(normal) records the backup; a new Begin is accepted every time", function()
    expect_ok("backup_races", "teardown 4", { "teardown" })
  end)

  it("backup_races commits: the cut-off's checkpoint releases the instance lock between its slices: another "
     .. "thread's commits go on (no commit waits for half of it), and every one is there afterwards", function()
    expect_ok("backup_races", "commits", { "commits" })
  end)

  it("backup_races waiter: End(abort) while one read of a handle runs and a second read of it waits: the "
     .. "tear-down waits for both, and both end with JET_errNoBackup (the waiting read used the freed backup "
     .. "before: ASan's heap-use-after-free under make check)", function()
    expect_ok("backup_races", "waiter 4", { "waiter" })
  end)
end)
