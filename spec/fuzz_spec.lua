-- Runs the C mutation fuzzer spec/c/fuzz_files.c (from ESE_HARNESS_DIR,
-- like the other harness programs): seeded random damage to the files the
-- engine reads back (databases, streamed copies, log generations, the
-- checkpoint), each fed to its consumer (soft recovery, restore, attach,
-- EseGetFileInfo with verify) in a child process with a watchdog.  Plus the
-- cases the fuzzer found, pinned down as plain specs.
local ese = require "ese"
local H = require "support.helpers"

-- FUZZ_ITERS from the environment wins; under the sanitizers (`make check`
-- sets ESE_SANITIZED=1) fewer iterations.
local function iterations()
  local n = os.getenv("FUZZ_ITERS")
  if n and n ~= "" then return n end
  return os.getenv("ESE_SANITIZED") and "150" or "300"
end

describe("fuzz_files (C, seeded mutations of the on-disk inputs)", function()
  it("damaged databases, streamed copies, logs and checkpoints: every recovery, restore, attach and verify "
     .. "returns (no crash, no hang), fails only with a JET_err of the table, and what succeeds reads only "
     .. "records that were written (exactly the committed state where the input promises it)", function()
    local ok, out, last = H.run_harness("fuzz_files", "", "FUZZ_CONTINUE=1 FUZZ_ITERS=" .. iterations())
    assert.is_true(ok, "fuzz_files failed:\n" .. out)
    assert.matches("^fuzz_files: ok %d+ iterations, %d+ rejected with JET_err, %d+ accepted", last)
    assert.matches("fuzz_files: seed %d+", out)
  end)
end)

describe("cases found by fuzz_files", function()
  local w
  after_each(function() w:cleanup() end)

  -- Found by fuzz_files (FUZZ_SEED=6 FUZZ_ONLY=73: pages 1 and 14 of an
  -- archived log of the set swapped; also seeds 5, 7 and more):
  -- the replay of a restore stops reading a generation at the first zero
  -- length word and goes on with the next one, without the check that
  -- log_load_verified makes (a finished generation is zeros after its last
  -- record).  A lost sector at the start of a log of the set then makes
  -- the restore succeed without that generation's transactions (here the
  -- last log: no later page difference can notice).
  it("a backup set whose last log lost its first sector (the first record's length word is zero): restore "
     .. "refuses the set, or restores every transaction committed before the cut-off -- never silently fewer",
     function()
    w = H.world()
    local set_dir = w:path("set")
    local set, t = w:base_set(set_dir)
    local want = #H.collect(t)              -- nothing was written after the cut-off
    -- the set as it is restores whole
    local good = H.copy_dir(set_dir, w:path("good"))
    ese.restore(good, w:path("dest-good"))
    assert.are.equal(want, H.count_prefix(H.restored_keys(w, w:path("dest-good")), ""))
    -- the same set with the last log's first sector zeroed
    local d = H.copy_dir(set_dir, w:path("lost"))
    local victim = d .. "/" .. H.log_name(set.info.gen_high)
    local f = assert(io.open(victim, "r+b"))
    assert(f:seek("set", H.LOG_DATA))
    assert(f:write(("\0"):rep(512)))
    f:close()
    local verify_ok, verr = pcall(ese.file_info, victim, true)
    local ok, e = pcall(ese.restore, d, w:path("dest"))
    if not ok then
      assert.are.equal(ese.Error, getmetatable(e), tostring(e))
      return
    end
    local got = H.count_prefix(H.restored_keys(w, w:path("dest")), "")
    assert.are.equal(want, got, ("ENGINE BUG: the restore of a set whose last log (generation %d) lost its first "
      .. "sector succeeded with %d of the %d records committed before the cut-off (EseGetFileInfo with verify "
      .. "says %s)"):format(set.info.gen_high, got, want, verify_ok and "ok" or tostring(verr and verr.name)))
  end)

  -- Found by fuzz_files (FUZZ_SEED=2 FUZZ_ONLY=103, FUZZ_SEED=10
  -- FUZZ_ONLY=190): the same reader in soft recovery.  One update per leaf after a checkpoint, each its own
  -- commit: a generation whose records are skipped leaves no difference
  -- behind whose base would be missing, so nothing later notices.
  it("an instance folder whose archived log (after the checkpoint) lost its first sector: recovery refuses it, "
     .. "or recovers every committed transaction -- never silently fewer", function()
    w = H.world()
    local old, new = ("v"):rep(1500), ("u"):rep(1500)
    local t, _, _, inst = w:table({ log_file_size = 64 })
    for i = 1, 400 do t:put(("k%05d"):format(i), old) end
    inst:term({ complete = true })        -- clean; the next init checkpoints at the log end
    local t2, _, _, inst2 = w:reopen({ log_file_size = 64 })
    local g0 = ese.file_info(w:path("edb.log")).generation
    -- a leaf holds at most five of these records: every tenth key is one update per leaf,
    -- four times over so that the updates (about 1.6 KB of log each) span several generations
    for round = 1, 4 do
      for i = 10, 400, 10 do t2:put(("k%05d"):format(i), round == 4 and new or string.char(64 + round):rep(1500)) end
    end
    local g1 = ese.file_info(w:path("edb.log")).generation
    assert.is_true(g1 - g0 >= 3, "the updates span several generations")
    inst2:term()                          -- abrupt: recovery replays generations g0 .. g1
    local pristine = H.copy_dir(w.dir, w.dir .. "-pristine")
    local silent = {}
    for g = g0, g1 - 1 do
      -- recovery opens the database by the path in the log: damage the folder in place
      assert(os.execute(("rm -f %s/* && cp %s/* %s/"):format(H.q(w.dir), H.q(pristine), H.q(w.dir))))
      local f = assert(io.open(w:path(H.log_name(g)), "r+b"))
      assert(f:seek("set", H.LOG_DATA))
      assert(f:write(("\0"):rep(512)))
      f:close()
      local inst3 = w:create(nil, { log_file_size = 64 })
      local ok, e = pcall(inst3.init, inst3)
      if ok then
        local ok2, t3 = pcall(H.open_table, inst3, w.dir)
        if ok2 then
          local lost = 0
          for i = 1, 400 do
            if t3:get(("k%05d"):format(i)) ~= (i % 10 == 0 and new or old) then lost = lost + 1 end
          end
          if lost > 0 then silent[#silent + 1] = ("generation %d: %d records wrong or missing"):format(g, lost) end
        else
          assert.are.equal(ese.Error, getmetatable(t3), tostring(t3))
        end
        inst3:term()
      else
        assert.are.equal(ese.Error, getmetatable(e), tostring(e))
      end
    end
    H.rmdir(pristine)
    assert.are.same({}, silent, "ENGINE BUG: soft recovery succeeded over an archived log that lost its first "
      .. "sector (generations " .. g0 .. ".." .. (g1 - 1) .. " tried), without the transactions it held")
  end)
end)
