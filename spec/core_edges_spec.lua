-- Runs the C harness program spec/c/core_edges.c (from ESE_HARNESS_DIR,
-- default build/bin): engine core edges that need a database file edited
-- byte by byte, a table handle kept across a detach, or the engine's own
-- os.c functions.  The program prints "core_edges: <test>: ok" per test and
-- exits 0, or says what differed and exits 1.
local H = require "support.helpers"

local function expect_ok(test)
  local ok, out = H.run_harness("core_edges", test)
  assert.is_true(ok, "core_edges " .. test .. " failed:\n" .. out)
  assert.is_truthy(out:find("core_edges: " .. test .. ": ok", 1, true), "no '" .. test .. ": ok' line:\n" .. out)
end

describe("core edges (C)", function()
  it("header: page 0 with a damaged page-size field is read from the shadow header on page 1: the database "
     .. "attaches with its records, and page 0 is written whole again", function()
    expect_ok("header")
  end)

  it("stale: a table handle and a transaction's write of a closed and detached database never reach the "
     .. "database attached next under the same id: JET_errDatabaseNotFound (-1203), both databases unchanged",
     function()
    expect_ok("stale")
  end)

  it("tombs: seeks inside a transaction step over its deleted keys (tree records and its own puts) in both "
     .. "directions, or JET_errRecordNotFound", function()
    expect_ok("tombs")
  end)

  it("os: os_dirname of relative, bare and root paths; os_read_head of a missing file, a short file, max 0",
     function()
    expect_ok("os")
  end)

  it("relpath: db_rel_path, a database's path relative to the log folder, for a sibling folder, the folder "
     .. "itself, a subfolder, a name that only shares a prefix, two levels up, the root", function()
    expect_ok("relpath")
  end)

  it("lockheld: inst_lock_held, which the lock assertions use, is true exactly in the thread holding the "
     .. "instance lock: not before inst_lock or after inst_unlock, not in another thread, kept across inst_wait",
     function()
    expect_ok("lockheld")
  end)

  it("zstahead: zst_open_ahead of a compressed file of one chunk (a 1 MiB log in a restore's chunks) starts no "
     .. "thread; of a 3 MiB file, one read-ahead thread until zst_close; each hands out the original", function()
    expect_ok("zstahead")
  end)

  it("zstasync: a file compressed on a thread of its own (zst_async), queued in pieces of 1 byte .. 1 MiB with "
     .. "the bytes taken between them, reads back as the original (0 bytes, 1, 1 MiB, 3 MiB with a tail); one "
     .. "thread until freed, also half-way; past the size or a waiting take too early: JET_errInvalidParameter",
     function()
    expect_ok("zstasync")
  end)
end)
