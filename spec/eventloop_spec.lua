-- Never block the event loop (issue 13), structurally: run in a coroutine
-- that yields from every progress callback, backup.run, backup.verify and
-- ese.restore report progress at least once per CHUNK bytes of every file
-- they read or write, so that no single resume covers more I/O than that.
-- (Timing is measured by make bench, not here: bench/eventloop_bench.lua.)
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

local MiB = 1 << 20
local LIMIT = 4 * MiB        -- the most bytes of one file between two callbacks

-- Runs fn(on_progress) in a coroutine that yields from every callback,
-- resumed as a loop would; returns the progress tables, in order.
local function in_coroutine(fn)
  local seen = {}
  local co = coroutine.create(function()
    fn(function(p)
      seen[#seen + 1] = p
      coroutine.yield()
    end)
  end)
  repeat
    local ok, err = coroutine.resume(co)
    if not ok then error(err, 0) end
  until coroutine.status(co) == "dead"
  return seen
end

-- For each file of phase `phase`: its callbacks advance p.done (bytes of
-- that file) from at most LIMIT to p.total (its size) in steps of at most
-- LIMIT.  Returns {name = size} of the files seen.
local function assert_bounded(seen, phase)
  local files, last = {}, {}
  for _, p in ipairs(seen) do
    if p.phase == phase and p.file then
      local prev = last[p.file] or 0
      assert.is_true(p.done - prev <= LIMIT, ("%s %s: %d bytes between two callbacks"):format(phase, p.file,
        p.done - prev))
      assert.is_true(p.done >= prev and p.done <= p.total, phase .. " " .. p.file)
      last[p.file], files[p.file] = p.done, p.total
    end
  end
  for name, size in pairs(files) do
    assert.are.equal(size, last[name], phase .. " " .. name .. " ends at its size")
  end
  return files
end

describe("never block the event loop (issue 13)", function()
  local w, s, t, inst, dbsize, _
  local full, inc

  -- n records, keys fmt:format(0 .. n-1), in transactions of batch
  local function fill(fmt, n, batch, value)
    for i = 0, n - 1, batch do
      s:begin_transaction()
      for j = i, math.min(i + batch, n) - 1 do t:put(fmt:format(j), value) end
      s:commit_transaction()
    end
  end

  lazy_setup(function()
    w = H.world()
    t, s, _, inst = w:table({ log_file_size = 1024 })
    -- a database of a few tens of MiB: bigger than several chunks
    fill("%016x", 200000, 10000, ("v"):rep(100))
    full, inc = w:path("full"), w:path("inc")
  end)
  lazy_teardown(function() w:cleanup() end)

  it("backup.run streams and reads back every file of the set with a callback per chunk", function()
    local seen = in_coroutine(function(cb) backup.run(inst, full, { on_progress = cb }) end)
    local dbs = assert_bounded(seen, "database")
    dbsize = dbs["app.edb"]
    assert.is_true(dbsize and dbsize > 5 * LIMIT, "a database of more than 5 chunks: " .. tostring(dbsize))
    assert.is_truthy(next(assert_bounded(seen, "log")), "log callbacks came")
    -- the read-back check of the written set (phase "check") covers every
    -- file of the set, database included, one chunk at a time
    local checked = assert_bounded(seen, "check")
    local m = backup.verify(full)
    assert.are.equal(m.files, (function() local n = 0 for _ in pairs(checked) do n = n + 1 end return n end)())
    assert.are.equal(dbsize, checked["app.edb"])
    -- and outside a coroutine it still works, blocking; the incremental
    -- holds about 20 MiB of log of large records, which ese.restore replays
    fill("big%05d", 10000, 100, ("b"):rep(1800))
    s:begin_transaction(); t:put("after", "x"); s:commit_transaction()
    local r = backup.run(inst, inc, { incremental = true })
    assert.are.equal("incremental", r.kind)
  end)

  it("backup.verify hashes and checks every file with a callback per chunk", function()
    local seen = in_coroutine(function(cb) backup.verify({ full, inc }, { on_progress = cb }) end)
    local files = assert_bounded(seen, "verify")
    assert.are.equal(dbsize, files["app.edb"])
    -- the last callback of each set reports it whole
    assert.are.equal(seen[#seen].total, seen[#seen].done)
    -- a damaged page deep in the database is still found, in a coroutine
    local copy = w:path("damaged")
    H.copy_dir(full, copy)
    H.flip_byte(copy .. "/app.edb", dbsize - 3 * LIMIT + 100)
    local ok, err = pcall(in_coroutine, function(cb) backup.verify(copy, { on_progress = cb }) end)
    assert.is_false(ok)
    assert.are.equal("JET_errReadVerifyFailure", err.name)
    assert.matches("page %d+", err.detail)
  end)

  -- done counts the bytes copied, then the log bytes replayed; the last
  -- step (the replay's end: its pages flushed, the new log and checkpoint
  -- written) brings it to total
  it("ese.restore reports every step, and a step copies or replays at most one chunk", function()
    local seen = in_coroutine(function(cb) ese.restore({ full, inc }, w:path("restored"), { on_progress = cb }) end)
    local prev = 0
    for k, p in ipairs(seen) do
      assert.are.equal("restore", p.phase)
      if k == #seen then break end
      assert.is_true(p.done - prev <= LIMIT, ("%d bytes in one restore step"):format(p.done - prev))
      prev = p.done
    end
    assert.are.equal(seen[#seen].total, seen[#seen].done)
    assert.is_true(#seen > 30, #seen .. " steps")
    local keys = H.restored_keys(w, w:path("restored"))
    assert.is_true(keys["after"] ~= nil and keys[("%016x"):format(199999)] ~= nil and keys["big09999"] ~= nil)
  end)

  -- the guide's runnable examples, one per event loop; n: the commits the
  -- loop made while the job ran (more than one only if the job yielded)
  for _, loop in ipairs({ "luv", "cqueues" }) do
    it("docs/guide.md's " .. loop .. " example runs as written, the loop committing while the job runs", function()
      local code
      for block in H.read_file("docs/guide.md"):gmatch("```lua\n(.-)\n```") do
        if block:find('require "' .. loop .. '"', 1, true) then code = block end
      end
      assert.is_string(code, "a lua block that requires " .. loop)
      local dir = H.tmpdir()
      finally(function() H.rmdir(dir) end)
      local status, out, err = H.lua_child(code, nil, "TMPDIR=" .. H.q(dir))
      assert.are.equal(0, status, out .. err)
      local n = out:match("backup, verify and restore done; the loop committed (%d+) records meanwhile")
      assert.is_true(tonumber(n or 0) >= 2, out)
    end)
  end

  describe("the chunk primitives", function()
    local fs = ese.fs

    it("fs.read(path, offset, length) reads a chunk, fewer bytes at the end, nothing past it", function()
      local path = full .. "/app.edb"
      local whole = fs.read(path)
      assert.are.equal(dbsize, #whole)
      assert.are.equal(whole:sub(8193, 8192 + MiB), fs.read(path, 8192, MiB))
      assert.are.equal(whole:sub(-100), fs.read(path, dbsize - 100, MiB))
      assert.are.equal("", fs.read(path, dbsize + 5, 10))
      assert.are.equal("", fs.read(path, 0, 0))
      H.expect_argerror("offset", fs.read, path, -1, 10)
      H.expect_argerror("length", fs.read, path, 0, -1)
      H.expect_jet("JET_errFileNotFound", fs.read, full .. "/absent", 0, 10)
    end)

    it("ese.verify_pages checks a chunk's pages; refuses a chunk that is not whole pages or lies past the end",
       function()
      local path = full .. "/app.edb"
      local fi = ese.file_info(path)
      local ps, sig = fi.page_size, fi.db_signature
      local chunk = fs.read(path, 0, 8 * ps)
      assert.is_true(ese.verify_pages(path, chunk, 0, ps, dbsize, sig))
      -- the last chunk holds the trailer, checked against the signature
      local tail = fs.read(path, dbsize - 4 * ps, 4 * ps)
      assert.is_true(ese.verify_pages(path, tail, dbsize // ps - 4, ps, dbsize, sig))
      local other = sig:sub(1, 31) .. (sig:sub(32) == "0" and "1" or "0")
      H.expect_jet("JET_errBadPatchPage", ese.verify_pages, path, tail, dbsize // ps - 4, ps, dbsize, other)
      -- a copy whose size is not whole pages
      H.expect_jet("JET_errBadPatchPage", ese.verify_pages, path, chunk, 0, ps, dbsize + 1, sig)
      -- a damaged page
      local bad = chunk:sub(1, 3 * ps + 99) .. string.char(chunk:byte(3 * ps + 100) ~ 0x5a) .. chunk:sub(3 * ps + 101)
      local err = H.expect_jet("JET_errReadVerifyFailure", ese.verify_pages, path, bad, 0, ps, dbsize, sig)
      assert.matches("page 3", err.detail)
      -- not whole pages, past the end
      H.expect_jet("JET_errInvalidParameter", ese.verify_pages, path, chunk:sub(2), 0, ps, dbsize, sig)
      H.expect_jet("JET_errInvalidParameter", ese.verify_pages, path, chunk, dbsize // ps - 2, ps, dbsize, sig)
      H.expect_argerror("signature", ese.verify_pages, path, chunk, 0, ps, dbsize, "zz")
    end)
  end)
end)
-- The stall limit of one resume (the next two describes): asserted only
-- when ESE_STALL_MS is set (e.g. 10, the issue's bound, on an idle
-- machine); by default the specs bound what a resume does (bytes written,
-- resumes per step), which no load changes, and print the longest stall:
-- speed targets live in `make bench` (bench/eventloop_bench.lua), not in
-- timed tests that a loaded machine fails.
local STALL_MS = tonumber(os.getenv("ESE_STALL_MS") or "")
local function check_stall(ms, what)
  if STALL_MS then
    assert.is_true(ms <= STALL_MS, what)
  else
    io.stderr:write(("\n[eventloop_spec] %s\n"):format(what))
  end
end
-- the bytes this thread (the event loop's) wrote so far (every write and
-- pwrite): not the log's preparer thread, which makes the next log file
-- (its zeros) meanwhile without blocking the loop
local function wchar()
  return assert(H.thread_io("wchar"), "no /proc/thread-self/io")
end
local clock = ese.fs.clock
-- n records of table t (session s) in one transaction, keys spread over
-- the key space by seed, values tag .. 150 bytes
local function put_random(t, s, n, seed, tag)
  s:begin_transaction()
  for i = 1, n do t:put(("%08x"):format((i * 2654435761 + seed) % 4294967296), tag .. ("v"):rep(150)) end
  s:commit_transaction()
end
-- the fsyncs this thread (the event loop's) ran so far: a step's sync that
-- runs on an engine thread (os_worker) while the loop goes on is not counted
local thread_syncs = require("ese.core")._thread_syncs

-- The stall itself, per resume of a coroutine that runs backup.run and
-- yields from every callback, as a loop would resume it: the bytes the
-- loop's thread wrote meanwhile (/proc/thread-self/io's wchar: every write
-- and pwrite)
-- and the wall time.  The checkpoints are the steps that write: Begin's
-- (every page the load left dirty) and the log cut-off's (every page
-- changed while the databases streamed).  Each must come in slices of at
-- most a few MiB of page writes (a slice: at most 4 MiB of pages, each
-- written to the double-write ring and in place) with a callback between
-- them; before, each came whole in one resume (tens of MiB here).
describe("never block the event loop: the backup's checkpoints (issue 13)", function()
  local WRITE_LIMIT = 9 * MiB

  it("no resume of backup.run writes more than a slice or stalls over the limit, commits between them", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local t, s, _, inst = w:table({ log_file_size = 1024, checkpoint_depth = 1 << 30 })
    for b = 1, 10 do put_random(t, s, 10000, b * 7919, "a") end   -- a 30 MiB database, thousands of pages dirty
    local resumes, commits = {}, 0
    local last = "start"
    local co = coroutine.create(function()
      backup.run(inst, w:path("set"), { on_progress = function(p)
        last = p.phase .. " " .. tostring(p.file) .. " " .. tostring(p.done)
        coroutine.yield(p)
      end })
    end)
    repeat
      local before, w0, c0, f0 = last, wchar(), clock(), thread_syncs()
      local ok, p = coroutine.resume(co)
      if not ok then error(p, 0) end
      resumes[#resumes + 1] = { from = before, to = last, bytes = wchar() - w0, ms = (clock() - c0) * 1000,
                                syncs = thread_syncs() - f0 }
      -- the application commits between two resumes (not counted in
      -- them); after the database's last chunk it leaves thousands of
      -- pages dirty for the cut-off's checkpoint
      if p and (p.phase == "checkpoint" or p.phase == "cutoff" or (p.phase == "database" and p.done == p.total)) then
        put_random(t, s, p.phase == "database" and 20000 or 50, commits, "b")
        commits = commits + 1
      end
    until coroutine.status(co) == "dead"
    -- the time bound is strict for the checkpoints' resumes: Begin's (from
    -- the start), each slice, and the cut-off's (to the first log).  A
    -- chunk's resume is bound by its bytes; its time is the disk's (on a
    -- loaded machine writeback throttles any write).  The log truncation
    -- comes in parts (each about 2 ms of deletions, then the folder's
    -- sync) and End in a resume of its own; their time is their syncs'.
    local function sliced(r)
      return r.from == "start" or r.from:match("^checkpoint") or r.from:match("^cutoff") or r.to:match("^cutoff")
    end
    local worst, slow, parts, ends, end_steps = resumes[1], resumes[1], 0, 0, 0
    for _, r in ipairs(resumes) do
      -- End's steps (backup_step{finish = true}, between two "end"
      -- callbacks; the last resume also renames the set and syncs its
      -- folders): each header page's sync runs on the backup's engine
      -- thread; before, End ran two fsyncs per database on the loop's
      -- thread in one resume
      -- Begin's and the cut-off's checkpoint slices run on the backup's
      -- engine thread (slice_job), and so do the truncation's deletions
      -- and log folder sync: before, each slice's ring syncs ran on the
      -- loop's thread.  (The cut-off's log roll, in the resume that ends at
      -- the first "cutoff" callback, is still made on the loop's thread:
      -- a commit after that callback is after the cut-off.)
      if r.from == "start" or r.from:match("^checkpoint") or r.from:match("^cutoff") or r.from:match("^truncate") then
        assert.are.equal(0, r.syncs, ("%d fsyncs on the loop's thread from %s to %s"):format(r.syncs, r.from, r.to))
      end
      if r.from:match("^end") and r.to:match("^end") and r ~= resumes[#resumes] then
        end_steps = end_steps + 1
        assert.are.equal(0, r.syncs, ("a resume of End ran %d fsyncs on the loop's thread"):format(r.syncs))
      end
      -- and every other resume too, but the one that rolls the log at the
      -- cut-off: the set's own files, its manifest and folders are synced
      -- on an engine thread (a "sync" callback between two polls); before,
      -- each file's close, the manifest and the folders synced on the
      -- loop's thread
      if not (r.to:match("^cutoff") and not r.from:match("^cutoff")) then
        assert.are.equal(0, r.syncs, ("%d fsyncs on the loop's thread from %s to %s"):format(r.syncs, r.from, r.to))
      end
      if r.bytes > worst.bytes then worst = r end
      if sliced(r) and r.ms > slow.ms then slow = r end
      if r.to:match("^truncate") then parts = parts + 1 end
      if r.to:match("^end") and not r.from:match("^end") then ends = ends + 1 end
    end
    -- about 40 logs to delete: before, one resume deleted them all and End followed in it
    assert.is_true(parts >= 3, parts .. " resumes of the log truncation")
    assert.are.equal(1, ends)
    assert.is_true(end_steps >= 2, end_steps .. " resumes of End (a header page each, or its sync collected)")
    local function say(r) return ("%.1f MiB, %.1f ms from %s to %s"):format(r.bytes / MiB, r.ms, r.from, r.to) end
    assert.is_true(worst.bytes <= WRITE_LIMIT, "the resume that wrote most: " .. say(worst))
    check_stall(slow.ms, "the longest resume at a checkpoint: " .. say(slow))
    assert.is_true(commits > 10, commits .. " commits between checkpoint slices")
    -- the set restores with every record the database held when it was streamed
    local keys = H.restored_keys(w, (function()
      local dir = w:path("restored")
      ese.restore(w:path("set"), dir)
      return dir
    end)())
    local n = 0
    for _ in pairs(keys) do n = n + 1 end
    assert.is_true(n >= 100000, n .. " records restored")
  end)
end)

-- The same per resume for ese.restore: a full set and an incremental whose
-- logs change pages all over the database, so that the replay ends with
-- its cache full of changed pages.  The end of the replay (the cache
-- written back, each database synced and its header made clean, the new
-- log, the checkpoint) comes in steps, and so do the replay's write-backs
-- while it goes on: no resume writes more than about one slice (1 MiB of
-- pages, a 1 MiB chunk copied, or the new 1 MiB log); before, the last
-- resume wrote the whole cache, a replay step a full cache (8 MiB) and a
-- copy step 4 MiB.
describe("never block the event loop: ese.restore's steps (issue 13)", function()
  -- a copied chunk, a slice of replayed pages written back (WRITEBACK),
  -- or the new 1 MiB log
  local LIMIT_ANY = 1.5 * MiB

  it("no resume of ese.restore copies more than a chunk, writes back more than a slice at the replay's end, or "
     .. "stalls over the limit", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local t, s, _, inst = w:table({ log_file_size = 1024 })
    for b = 1, 6 do put_random(t, s, 10000, b * 7919, "a") end
    backup.run(inst, w:path("full"))
    -- the same keys again: the incremental's logs change most pages
    for b = 1, 6 do put_random(t, s, 10000, b * 7919, "b") end
    backup.run(inst, w:path("inc"), { incremental = true })
    local resumes, last_done = {}, -1
    local co = coroutine.create(function()
      ese.restore({ w:path("full"), w:path("inc") }, w:path("restored"), { on_progress = function(p)
        coroutine.yield(p)
      end })
    end)
    repeat
      local w0, c0, f0 = wchar(), clock(), thread_syncs()
      local ok, p = coroutine.resume(co)
      if not ok then error(p, 0) end
      local r = { bytes = wchar() - w0, ms = (clock() - c0) * 1000, k = #resumes + 1, syncs = thread_syncs() - f0 }
      -- a step of the replay's end leaves done where it was (the last brings it to total)
      r.at_end = p and (p.done == last_done or p.done == p.total) or false
      last_done = p and p.done or last_done
      resumes[#resumes + 1] = r
    until coroutine.status(co) == "dead"
    local worst, worst_end, slow, ends, syncing = resumes[1], nil, resumes[1], 0, resumes[1]
    for _, r in ipairs(resumes) do
      if r.bytes > worst.bytes then worst = r end
      if r.syncs > syncing.syncs then syncing = r end
      if r.at_end then
        ends = ends + 1
        if not worst_end or r.bytes > worst_end.bytes then worst_end = r end
      end
      if r.ms > slow.ms then slow = r end
    end
    local function say(r) return ("resume %d of %d: %.2f MiB, %.1f ms"):format(r.k, #resumes, r.bytes / MiB, r.ms) end
    assert.is_true(worst.bytes <= LIMIT_ANY, "the resume that wrote most: " .. say(worst))
    assert.is_true(worst_end.bytes <= LIMIT_ANY, "the replay's end: " .. say(worst_end))
    assert.is_true(ends >= 6, ends .. " resumes at the replay's end")
    -- every sync of the restore (a copied file's, a database's before its
    -- header is made clean, the folder's, the new log's, the checkpoint's)
    -- runs on the restore's engine thread while the loop goes on: before,
    -- each was a resume's single fsync on the loop's thread (10-20 ms at
    -- 1,000,000 records)
    assert.are.equal(0, syncing.syncs, ("resume %d of %d ran %d fsyncs on the loop's thread"):format(syncing.k,
      #resumes, syncing.syncs))
    check_stall(slow.ms, "the longest resume: " .. say(slow))
    -- the restored database holds the incremental's values
    local inst2 = w:track(ese.create_instance(H.name("r"), H.params(w:path("restored"))))
    inst2:init()
    local t2 = H.open_table(inst2, w:path("restored"))
    for i = 1, 10000, 999 do
      assert.are.equal("b" .. ("v"):rep(150), t2:get(("%08x"):format((i * 2654435761 + 6 * 7919) % 4294967296)))
    end
  end)
end)

-- A sync that a restore step left to its engine thread (os_worker) and that
-- fails there: ESE_FAULT=synceio:K:app.edb fails the K-th sync of app.edb
-- and every later one with EIO, without counting I/O events (so the sync
-- runs on the engine thread, as in production).  The restore fails with
-- the named error and the database stays "being restored" (state 4): its
-- header is never made clean before its pages are durable.
describe("never block the event loop: a restore's sync fails on the engine thread (issue 13)", function()
  local w, full, inc
  lazy_setup(function()
    w = H.world()
    local t, s, _, inst = w:table({ log_file_size = 256 })
    put_random(t, s, 3000, 7919, "a")
    full, inc = w:path("full"), w:path("inc")
    backup.run(inst, full)
    put_random(t, s, 3000, 7919, "b")
    backup.run(inst, inc, { incremental = true })
  end)
  lazy_teardown(function() w:cleanup() end)

  -- app.edb's syncs in a restore: 1 its "being restored" header, 2 its
  -- copy's end, 3 its pages after the replay (before its header is made
  -- clean)
  local cases = { { 1, "copying app%.edb" }, { 2, "copying app%.edb" }, { 3, "replay could not finish .*app%.edb" } }
  for _, case in ipairs(cases) do
    it(("sync %d of app.edb fails with EIO: JET_errDiskIO, the database stays being restored"):format(case[1]),
       function()
      local dest = w:path("dest" .. case[1])
      local code, out, err = H.lua_child([[
        local ese = require "ese"
        local before = require("ese.core")._thread_syncs()
        local co = coroutine.wrap(function()
          local ok, e = pcall(ese.restore, { arg[1], arg[2] }, arg[3],
            { on_progress = function() coroutine.yield() end })
          return ok and "ok" or (ese.is_error(e) and e.name .. " " .. tostring(e.detail) or tostring(e))
        end)
        local r
        repeat r = co() until r
        io.write(r, "\nsyncs on this thread: ", require("ese.core")._thread_syncs() - before)
      ]], { full, inc, dest }, "ESE_FAULT=synceio:" .. case[1] .. ":app.edb")
      assert.are.equal(0, code, err)
      assert.matches("^JET_errDiskIO " .. case[2], out)
      assert.matches("syncs on this thread: 0$", out)
      assert.are.equal(4, H.db_header(dest .. "/app.edb").state)    -- being restored
      assert.is_false(H.exists(dest .. "/edb.chk"), "no checkpoint written")
      -- without the fault the sets restore
      ese.restore({ full, inc }, dest, { overwrite = true })
      assert.are.equal(1, H.db_header(dest .. "/app.edb").state)
    end)
  end
end)

-- End's header syncs on the engine thread, failing there:
-- ESE_FAULT=synceio:K:app.edb:TRIGGER fails app.edb's K-th sync counted
-- from when TRIGGER exists (the child makes it at backup.run's "end"
-- callback), and every later one, with EIO and without counting I/O
-- events (so the sync runs on the backup's engine thread).
describe("never block the event loop: End's header syncs fail on the engine thread (issue 13)", function()
  local child = [[
    local ese = require "ese"
    local backup = require "ese.backup"
    local dir, set, trigger = arg[1], arg[2], arg[3]
    local inst = ese.create_instance("child", { system_path = dir, log_path = dir, log_file_size = 64 })
    inst:init()
    local s = inst:begin_session()
    s:attach_database(dir .. "/app.edb")
    local syncs = 0
    local co = coroutine.wrap(function()
      local ok, e = pcall(backup.run, inst, set, { on_progress = function(p)
        if p.phase == "end" then io.open(trigger, "w"):close() end
        coroutine.yield({ p.phase })
      end })
      return ok and "OK" or (ese.is_error(e) and e.name .. " " .. tostring(e.detail) or tostring(e))
    end)
    local thread_syncs = require("ese.core")._thread_syncs
    -- the resumes between two "end" callbacks: End's steps (the last one
    -- also syncs the set's folders)
    local phase, r
    repeat
      local f0 = thread_syncs()
      r = co()    -- {phase} from a callback, or the result (a string)
      local now = type(r) == "table" and r[1]
      if phase == "end" and now == "end" then syncs = syncs + thread_syncs() - f0 end
      phase = now
    until type(r) == "string"
    io.write(r, "\nsyncs at End on this thread: ", syncs)
  ]]
  -- the body of a header page (past its page header: number, checksum)
  local function body(path, pgno)
    local d = H.read_file(path)
    return d:sub(pgno * 8192 + 33, (pgno + 1) * 8192)
  end

  for _, case in ipairs({ { 1, "page 0's sync: page 1 is never written" }, { 2, "page 1's sync" } }) do
    it(("End's sync %d of app.edb fails (%s): backup.run raises JET_errDiskIO, the set is kept"):format(case[1],
       case[2]), function()
      local w = H.world()
      finally(function() w:cleanup() end)
      local t, s, _, inst = w:table({ log_file_size = 64 })
      for i = 1, 2000 do t:put(("k%06d"):format(i), ("v"):rep(100)) end
      s:end_session()
      inst:term()
      assert.are.equal(body(w:path("app.edb"), 0), body(w:path("app.edb"), 1))
      local trigger, set = w:path("trigger"), w:path("set")
      local code, out, err = H.lua_child(child, { w.dir, set, trigger },
        "ESE_FAULT=synceio:" .. case[1] .. ":app.edb:" .. H.q(trigger))
      assert.are.equal(0, code, err)
      assert.matches("^JET_errDiskIO .*the complete set is kept", out)
      assert.matches("syncs at End on this thread: 0$", out)
      -- page 1 is written only after page 0 is durable
      if case[1] == 1 then
        assert.are_not.equal(body(w:path("app.edb"), 0), body(w:path("app.edb"), 1))
      else
        assert.are.equal(body(w:path("app.edb"), 0), body(w:path("app.edb"), 1))
      end
      assert.is_true(backup.verify(set).files >= 2)
    end)
  end
end)

-- End in steps (EseBackupStep with ESE_bitBackupStepEnd): its errors and
-- the record it writes.
describe("inst:backup_step{finish = true}: End in steps (issue 13)", function()
  it("refuses out of order, ends the backup at its last step and records it as End does", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local t, s, _, inst = w:table({ log_file_size = 64 })
    for i = 1, 500 do t:put(("k%04d"):format(i), ("v"):rep(100)) end
    H.expect_jet("JET_errNoBackup", inst.backup_step, inst, { finish = true })
    inst:begin_external_backup()
    H.expect_jet("JET_errInvalidGrbit", inst.backup_step, inst, { finish = true, truncate = true })
    H.expect_jet("JET_errInvalidGrbit", inst.backup_step, inst, { finish = true, cutoff = true })
    -- not complete (no database read yet): refused, the backup goes on
    H.expect_jet("JET_errBackupAbortByCaller", inst.backup_step, inst, { finish = true })
    local set = w:path("set")
    assert(os.execute("mkdir -p " .. H.q(set)))
    for _, p in ipairs(inst:get_attach_info()) do H.stream(inst, p, set) end
    for _, p in ipairs(inst:get_log_info()) do H.stream(inst, p, set) end
    -- not truncated: recorded as a copy, which no incremental may follow
    local steps = 0
    while inst:backup_step({ finish = true }) do steps = steps + 1 end
    assert.is_true(steps >= 2, steps .. " steps: a header page each")
    H.expect_jet("JET_errNoBackup", inst.backup_step, inst, { finish = true })   -- that ended it
    H.expect_jet("JET_errNoBackup", inst.end_external_backup, inst)
    H.expect_jet("JET_errMissingFullBackup", inst.begin_external_backup, inst, { incremental = true })
    -- truncated: a full backup; an incremental follows it and restores
    local full = w:path("full")
    backup.run(inst, full)
    s:begin_transaction() t:put("after", "x") s:commit_transaction()
    backup.run(inst, w:path("inc"), { incremental = true })
    ese.restore({ full, w:path("inc") }, w:path("restored"))
    assert.is_true(H.restored_keys(w, w:path("restored"))["after"])
    -- after stop_backup: JET_errBackupAbortByServer; End then ends it
    inst:begin_external_backup()
    inst:stop_backup()
    H.expect_jet("JET_errBackupAbortByServer", inst.backup_step, inst, { finish = true })
    H.expect_jet("JET_errBackupAbortByServer", inst.end_external_backup, inst)
  end)
end)

-- backup.run in a coroutine syncs each set file on an engine thread
-- (backup_run.lua: synced, f:sync_step): a failing sync there is the
-- backup's failure, never a set presented as good.
describe("backup.run in a coroutine, a set file's sync fails (EIO on the engine thread)", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- A child: an instance on arg[1] with 100 records, backup.run into
  -- arg[1]/DEST (DEST: sub, default "set") in a coroutine that yields at
  -- every callback after on_progress_src's statements (p the progress, aux
  -- arg[2]); it writes the run's result ("ok" or the error's name) and the
  -- process's threads (/proc/self/task) before and after the run, the
  -- garbage collector stopped, then the error's text on a line of its own.
  -- Asserts it exited 0 and left no thread (an engine thread of a job or a
  -- file writer the run did not close, which only a collection would end)
  -- and, unless sub is given, no set folder; returns the result and the
  -- error's text.
  local function failed_run(on_progress_src, aux, env, sub)
    local code, out, err = H.lua_child(([[
      local ese = require "ese"
      local backup = require "ese.backup"
      local dir, aux, sub = arg[1], arg[2], arg[3]
      local inst = ese.create_instance("sp", { system_path = dir, log_path = dir, log_file_size = 64 })
      inst:init()
      local s = inst:begin_session()
      local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
      for i = 1, 100 do t:put(("k%%04d"):format(i), ("v"):rep(100)) end
      collectgarbage("stop")
      local threads = #ese.fs.list("/proc/self/task")
      local co = coroutine.wrap(function()
        local ok, e = pcall(backup.run, inst, dir .. "/" .. sub, { on_progress = function(p)
          %s
          coroutine.yield()
        end })
        return ok and "ok" or (ese.is_error(e) and e.name or tostring(e)), tostring(e)
      end)
      local r, text
      repeat r, text = co() until r
      io.write(r, " ", threads, " ", #ese.fs.list("/proc/self/task"), "\n", text)
    ]]):format(on_progress_src), { w.dir, aux or "-", sub or "set" }, env)
    assert.are.equal(0, code, err)
    if not sub then assert.is_false(H.exists(w:path("set")), "no set folder") end
    local r, before, after, text = out:match("^(%S+) (%d+) (%d+)\n(.*)$")
    assert.is_truthy(r, out)
    assert.are.equal(before, after, "threads before and after the run")
    return r, text
  end

  it("manifest.json's sync fails: JET_errDiskIO, no set folder", function()
    assert.are.equal("JET_errDiskIO", failed_run("", nil, "ESE_FAULT=synceio:1:manifest.json"))
  end)

  -- A database file of the set: its close syncs it with f:sync_step();
  -- ESE_FAULT=synceio:1:app.edb:TRIGGER fails the first sync of a file
  -- named app.edb once TRIGGER exists (made at the first "database"
  -- callback: the source's syncs before it are not counted).
  it("the set's database copy's sync fails: JET_errDiskIO, no set folder", function()
    local trigger = w:path("trigger")
    assert.are.equal("JET_errDiskIO", failed_run([[if p.phase == "database" then io.open(aux, "w"):close() end]],
      trigger, "ESE_FAULT=synceio:1:app.edb:" .. H.q(trigger)))
  end)

  -- out.sync_dir (backup_run.lua): the set folder's sync as an
  -- ese.SyncJob; ESE_FAULT=holdsync:set.partial:GATE:eio holds it while
  -- GATE exists (the callback takes GATE away once the sync is held), then
  -- fails it with EIO.
  it("the set folder's sync fails: JET_errDiskIO, no set folder", function()
    local gate = w:path("gate")
    H.write_file(gate, "")
    assert.are.equal("JET_errDiskIO", failed_run(
      [[if p.phase == "sync" and p.file == "." and io.open(aux .. ".held") then os.remove(aux) end]],
      gate, "ESE_FAULT=holdsync:set.partial:" .. H.q(gate) .. ":eio"))
    assert.is_false(H.exists(gate), "the sync was held")
  end)

  -- The complete set takes DEST's name after its manifest and before the
  -- log truncation: renamed from DEST.partial to DEST, then DEST's parent
  -- folder synced (out.sync_dir, file ".."), here the folder "sets"
  -- (ESE_FAULT=holdsync:sets:GATE:eio, GATE taken away once that sync is
  -- held; no other sync names it).  The rename may not survive a crash,
  -- and nothing is truncated yet: the run fails as any run before its
  -- truncation does, End(abort), no set left (hostile14b_spec: a run
  -- killed in End left DEST.partial when the rename came after End).
  it("the parent folder's sync after the set's rename fails: JET_errDiskIO, no report, no set, nothing truncated",
     function()
    local gate = w:path("gate")
    H.write_file(gate, "")
    local r, text = failed_run(
      [[if p.phase == "sync" and p.file == ".." and io.open(aux .. ".held") then os.remove(aux) end
        if p.phase == "truncate" then error("truncation began", 0) end]],
      gate, "ESE_FAULT=holdsync:sets:" .. H.q(gate) .. ":eio", "sets/set")
    assert.are.equal("JET_errDiskIO", r, text)
    assert.is_false(H.exists(gate), "the sync was held")
    assert.is_false(H.exists(w:path("sets/set")), "no set")
    assert.is_false(H.exists(w:path("sets/set.partial")), "no .partial folder")
    assert.is_nil(text:find("truncation began", 1, true), text)
  end)

  -- A failure after the log truncation began (here on_progress raises at
  -- End's first step): the set is at DEST already, kept, and the note says
  -- so.
  it("after the truncation, a failure: the set kept at DEST, said so", function()
    local r, text = failed_run([[
      if p.phase == "end" then error("the application stops", 0) end
    ]], nil, nil, "sets/set")
    assert.are.equal("JET_errDiskIO", r)
    assert.is_true(H.exists(w:path("sets/set/manifest.json")), "the set is kept, renamed")
    assert.is_false(H.exists(w:path("sets/set.partial")), "no .partial folder")
    assert.is_truthy(text:find("the application stops", 1, true), text)
    assert.is_truthy(text:find("kept in " .. w:path("sets/set"), 1, true), text)
  end)
end)
