-- Runs the C harness program spec/c/log_edges.c (from ESE_HARNESS_DIR,
-- default build/bin): edges of the log, restore and backup code that need
-- a back-to-back sequence of C calls.  The program prints
-- "log_edges: <test>: ok ..." per test and exits 0, or says what differed
-- and exits 1.
local H = require "support.helpers"

describe("log edges (C)", function()
  it("log_edges empty-range: a restore of a full backup whose only log holds no record (taken right after "
     .. "another full backup) continues the stream: dest's edb.log is the next generation after the set's "
     .. "last log and follows it (tm_prev_gen), the database's gen_max is that last log, and the restored "
     .. "folder runs and backs up above it", function()
    local ok, out = H.run_harness("log_edges", "empty-range")
    assert.is_true(ok, "log_edges empty-range failed:\n" .. out)
    assert.is_truthy(out:find("log_edges: empty-range: ok", 1, true), out)
  end)
end)
