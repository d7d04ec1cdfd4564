-- Runs the C harness of the engine (spec/c/threads.c, crash_sweep.c,
-- io_errors.c) and the C unit tests, from ESE_HARNESS_DIR (default
-- build/bin; `make check` points it at the sanitizer build).  Each program
-- prints a last line "<name>: ok ..." and exits 0, or says what differed and
-- exits 1.
local H = require "support.helpers"

-- Runs name with args: it must exit 0 with a last line "<name>: ok ...".
local function expect_ok(name, args)
  local ok, out, last = H.run_harness(name, args)
  assert.is_true(ok, name .. " failed:\n" .. out)
  assert.matches("^" .. name .. ": ok", last)
  return out
end

describe("C harness", function()
  it("threads: 4 threads commit concurrently (durable and lazy, own ranges and a shared table) while a reader "
     .. "seeks; every committed record is back with its value, in key order, after a clean term, an abrupt "
     .. "term and a SIGKILL mid-run", function()
    local out = expect_ok("threads", "4 500")
    assert.matches("commits/s", out)
  end)

  it("crash_sweep: a process killed at any of its writes or syncs recovers to exactly the transactions whose "
     .. "commit returned (the one cut off all or nothing), also when the recovery itself is killed; so does one "
     .. "killed in a torn page write (head or tail new), a torn log write (head new) or a power cut that "
     .. "reverts or tears unsynced writes: at least 200 such points", function()
    local out = expect_ok("crash_sweep")
    local n, t = out:match("crash_sweep: ok (%d+) crash points, (%d+) torn/power points checked")
    assert.is_true(n ~= nil and tonumber(n) >= 200 and tonumber(t) >= 200, out)
    local pp, pw, lp, lw, pc = out:match("torn writes: (%d+) points on (%d+) page writes %(head and tail%), "
                                         .. "(%d+) on (%d+) log writes %(head%).-; (%d+) power cuts")
    assert.is_truthy(pp, out)
    assert.is_true(tonumber(pp) >= 100 and tonumber(pw) >= 3 and tonumber(lp) >= 50 and tonumber(lw) >= 3
                   and tonumber(pc) >= 20, out)
    assert.are.equal(tonumber(t), tonumber(pp) + tonumber(lp) + tonumber(pc), out)
  end)

  it("crash_sweep ESE_CRASH_GARBAGE=1: log record writes torn with their tail new or a garbage sector, power "
     .. "cuts that reorder sectors, garbage page writes: every point recovers exactly the commits that returned "
     .. "(log format 3's shadow slots; before them, about 80 of these points failed)", function()
    local ok, out, last = H.run_harness("crash_sweep", nil, "ESE_CRASH_GARBAGE=1")
    assert.is_true(ok, "crash_sweep garbage failed:\n" .. out)
    assert.matches("^crash_sweep: ok", last)
    local lp, lw, lf, pc, pf = out:match("(%d+) tail and garbage points on (%d+) log writes, (%d+) failed; "
                                         .. "(%d+) reordering power cuts, (%d+) failed")
    assert.is_truthy(lp, out)
    assert.is_true(tonumber(lp) >= 100 and tonumber(lw) >= 3 and tonumber(pc) >= 20, out)
    assert.are.equal(0, tonumber(lf) + tonumber(pf), out)
  end)

  it("dw_torn: database pages torn in place after checkpoint-less evictions are repaired from the double-write "
     .. "ring (the default one and a small one that wraps), by the ring alone (no log) and by soft recovery, each "
     .. "exactly as before the tear; every "
     .. "committed record is back; a page torn while soft recovery writes it back has its new copy in the ring "
     .. "and the next recovery repairs it from there", function()
    local out = expect_ok("dw_torn")
    local n, small = out:match("dw_torn: ok (%d+) torn pages .-, (%d+) with a 256 KiB ring")
    assert.is_true(n ~= nil and tonumber(n) >= 3 and tonumber(small) >= 3, out)
    assert.matches("a page torn at recovery's event %d+ repaired from the ring", out)
  end)

  it("io_errors: EIO, ENOSPC and sticky EIO at any write or sync make calls fail with a JET_err (no crash, "
     .. "no hang, then JET_errInstanceUnavailable); after re-init nothing committed is lost and nothing "
     .. "uncommitted appears", function()
    expect_ok("io_errors")
  end)
end)

describe("C unit tests", function()
  for _, name in ipairs({ "btree_test", "log_test", "crc_test", "page_test", "writeset_test" }) do
    it(name .. ": the layer on its own (prints '" .. name .. ": ok')", function()
      expect_ok(name)                    -- a program that is not built fails (make builds them all)
    end)
  end

  it("dw_test: the double-write ring on its own: a batch torn at every 512-byte boundary never yields a torn "
     .. "image and the state before it still recovers; torn descriptors, the wrap's data-sync hook, the newest "
     .. "image by seq, repair only of pages that fail or are older, header refusals, an I/O error at each write "
     .. "or sync (and, under make check, no leak)", function()
    -- make check turns leak detection off for the Lua interpreter; this
    -- program has none to forgive.
    local env = os.getenv("ESE_SANITIZED") and "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1" or nil
    local ok, out, last = H.run_harness("dw_test", nil, env)
    assert.is_true(ok, "dw_test failed:\n" .. out)
    local points, faults = last:match("^dw_test: ok (%d+) torn%-batch points, (%d+) fault runs")
    assert.is_true(points ~= nil and tonumber(points) >= 60 and tonumber(faults) >= 60, out)
  end)
end)
