--- `ese demo`: the engine's main job on a temporary folder, with checks.
--
-- backup: two writer coroutines commit while a full backup streams (the
-- backup's progress callback yields to a scheduler that resumes the
-- writers), more writes, an incremental with the writers still running,
-- restores of the full set and of full + incremental into fresh folders,
-- and a check that every transaction committed before each cut-off is back,
-- none after it, and no half transaction.
-- crash: a writer process is killed at a chosen disk write; soft recovery
-- brings back every commit it saw return.
-- @module ese.demo
local ese = require "ese"
local backup = require "ese.backup"
local ui = require "ese.ui"
local util = require "ese.util"

local demo = {}

local fs = ese.fs
local now = util.now

-- Shell quoting for the one command the demo runs (its writer child).
local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
local human, duration, rate = ui.human, ui.duration, ui.rate

local PER_TXN = 10                      -- records per transaction
local VALUE = ("x"):rep(200)

-- A new folder $TMPDIR/ese-demo-<tag>.XXXXXX, /tmp without TMPDIR (ese.util.temp_dir: no process).
local function temp_dir(tag)
  return util.temp_dir("demo-" .. tag)
end

-- The bytes of the regular files under dir (never through a link).
local function dir_bytes(dir)
  local n = 0
  local ok, names = pcall(fs.list, dir)
  for _, name in ipairs(ok and names or {}) do
    local st = fs.stat(dir .. "/" .. name)
    if st.kind == "folder" then n = n + dir_bytes(dir .. "/" .. name)
    elseif st.kind == "file" then n = n + st.size end
  end
  return n
end

-- ---------------------------------------------------------------------------
-- backup while writing

-- A writer coroutine: one durable transaction of PER_TXN records per
-- resume; notes in `log` each commit that returned, with the epoch current
-- when it returned.
local function writer(inst, path, name, log, epoch)
  local s = inst:begin_session()
  local db = s:open_database(path)
  local t = s:open_table(db, "records")
  return coroutine.create(function()
    local n = 0
    while true do
      n = n + 1
      s:begin_transaction()
      for j = 1, PER_TXN do t:put(("%s-%07d-%02d"):format(name, n, j), VALUE) end
      s:commit_transaction()
      log[#log + 1] = { key = ("%s-%07d"):format(name, n), epoch = epoch.value }
      coroutine.yield()
    end
  end)
end

local function resume_all(writers)
  for _, w in ipairs(writers) do
    local ok, err = coroutine.resume(w)
    if not ok then error(err, 0) end
  end
end

-- Runs fn (a backup) as a coroutine; whenever its progress callback yields,
-- the writers each commit one transaction.  Returns fn's result and the
-- number of scheduler rounds.
local function interleave(fn, writers)
  local co = coroutine.create(fn)
  local rounds = 0
  while true do
    local ok, res = coroutine.resume(co)
    if not ok then error(res, 0) end
    if coroutine.status(co) == "dead" then return res, rounds end
    rounds = rounds + 1
    resume_all(writers)
  end
end

-- Transactions of a restored folder: { "w1-0000001" = records found }.
local function restored_txns(dir, dbname, tag)
  local inst = ese.create_instance("demo-check-" .. tag, { system_path = dir, log_path = dir })
  inst:init()
  local s = inst:begin_session()
  s:attach_database(dir .. "/" .. dbname)
  local db = s:open_database(dir .. "/" .. dbname)
  local t = s:open_table(db, "records")
  local txns, records = {}, 0
  for k in t:pairs() do
    local id = k:match("^(.*)%-%d%d$")
    txns[id] = (txns[id] or 0) + 1
    records = records + 1
  end
  t:close()
  s:end_session()
  inst:term({ complete = true })
  return txns, records
end

-- Every transaction of `log` with epoch <= cut is whole in txns, none later
-- is there, and nothing else is.  Returns ok, a sentence.
local function check_cutoff(log, txns, cut)
  local want, missing, extra, half = 0, 0, 0, 0
  local known = {}
  for _, e in ipairs(log) do
    known[e.key] = true
    local n = txns[e.key]
    if e.epoch <= cut then
      want = want + 1
      if not n then missing = missing + 1 elseif n ~= PER_TXN then half = half + 1 end
    elseif n then
      extra = extra + 1
    end
  end
  for k, n in pairs(txns) do
    if not known[k] then extra = extra + 1 end
    if n ~= PER_TXN then half = half + 1 end
  end
  local ok = missing == 0 and extra == 0 and half == 0
  return ok, ("%d transactions committed before the cut-off: %d back, %d missing; "
    .. "%d after it or unknown: %s; %d half"):format(
    want, want - missing, missing, extra, extra == 0 and "none back" or "BACK", half)
end

-- The initial load: LOAD transactions of PER_TXN records (epoch 0), the
-- last one durable.
local function initial_load(s, t, log, row)
  local t0 = now()
  local LOAD = 4000
  for i = 1, LOAD do
    s:begin_transaction()
    for j = 1, PER_TXN do t:put(("load-%07d-%02d"):format(i, j), VALUE) end
    s:commit_transaction({ lazy = i < LOAD })
    log[#log + 1] = { key = ("load-%07d"):format(i), epoch = 0 }
  end
  local secs = now() - t0
  row("initial load", LOAD * PER_TXN, nil, secs, ("%d transactions"):format(LOAD))
  print(("1. loaded %d records in %s"):format(LOAD * PER_TXN, duration(secs)))
end

-- A backup.run into dest interleaved with the writers (each progress
-- callback yields to them); on_step(p) runs first in each callback.
-- Returns the report, the seconds and the transactions the writers
-- committed meanwhile (count, rounds).
local function backup_while_writing(inst, dest, opts, writers, log, label, u, on_step)
  local fn, finish = ui.progress(u, label)
  local mark = #log
  local t0 = now()
  opts.on_progress = function(p)
    fn(p)
    on_step(p)
    coroutine.yield()
  end
  local rep, rounds = interleave(function() return backup.run(inst, dest, opts) end, writers)
  finish()
  return rep, now() - t0, #log - mark, rounds
end

-- Verifies full + incremental, restores {full} and {full, inc} into fresh
-- folders under top, and checks each against the writers' log (cut-off
-- epochs 1 and 2).  Returns all_ok and the check lines.
local function verify_and_restore(top, full, inc, log, row, u)
  print("5. verify, then restore into fresh folders")
  local t0 = now()
  local v = backup.verify({ full, inc })
  local secs = now() - t0
  row("verify full + incr", nil, v.bytes, secs,
    ("%d files, generations %d .. %d"):format(v.files, v.gen_low, v.gen_high))
  local checks = {}
  local all_ok = true
  for _, case in ipairs({ { "full", { full }, 1 }, { "full + incr", { full, inc }, 2 } }) do
    local dest = top .. "/restored-" .. #checks + 1
    -- labelled: two restores follow each other ("restore full: 10%", ...)
    local fn, finish = ui.progress(u, "restore " .. case[1])
    t0 = now()
    local r = backup.restore(case[2], dest, { on_progress = fn })
    finish()
    secs = now() - t0
    local txns, records = restored_txns(dest, "demo.edb", tostring(#checks + 1))
    local ok, text = check_cutoff(log, txns, case[3])
    all_ok = all_ok and ok
    checks[#checks + 1] = ("%s restore %s: %s"):format(ok and "ok  " or "FAIL", case[1], text)
    row("restore " .. case[1], records, r.verify.bytes, secs, ok and "check ok" or "CHECK FAILED")
  end
  return all_ok, checks
end

-- The summary table of the backup part.
local function print_table(rows)
  print("")
  local widths = { 20, 8, 10, 9, 12, 0 }
  local head = { "step", "records", "data", "time", "rate", "" }
  local function line(cells)
    local parts = {}
    for i, c in ipairs(cells) do
      parts[i] = widths[i] > 0 and (i == 1 and ("%-" .. widths[i] .. "s") or ("%" .. widths[i] .. "s")):format(c) or c
    end
    print("  " .. table.concat(parts, "  "))
  end
  line(head)
  for _, r in ipairs(rows) do line(r) end
  print("")
end

function demo.backup_part()
  local top = temp_dir("backup")
  local live, sets = top .. "/live", top .. "/sets"
  fs.mkdir_p(live)
  fs.mkdir_p(sets)
  local u = ui.new_ui(false)
  local rows = {}
  local function row(step, records, bytes, secs, note)
    rows[#rows + 1] = { step, records and tostring(records) or "", bytes and human(bytes) or "",
                        secs and duration(secs) or "", (bytes and secs) and rate(bytes, secs) or "", note or "" }
  end
  print("lua-ese demo: backup while writing, in " .. top)

  local inst = ese.create_instance("demo-live", { system_path = live, log_path = live, log_file_size = 1024 })
  inst:init()
  local path = live .. "/demo.edb"
  local s = inst:begin_session()
  local db = s:create_database(path)
  local t = s:create_table(db, "records")

  -- epochs: 0 initial load; 1 while the full streams its database (before
  -- its cut-off); 2 after the full's cut-off; 3 after the incremental's.
  local epoch = { value = 0 }
  local log = {}
  initial_load(s, t, log, row)
  local writers = { writer(inst, path, "w1", log, epoch), writer(inst, path, "w2", log, epoch) }

  -- the full backup, writers running
  print("2. full backup while two writer coroutines commit")
  epoch.value = 1
  local full = sets .. "/full"
  local rep, secs, n, rounds = backup_while_writing(inst, full, { chunk_size = 128 * 1024 }, writers, log, "full", u,
    -- the log cut off: any phase but Begin's checkpoint, the database's
    -- stream and a file's sync (a database's comes before the cut-off; a
    -- log's after it, when "cutoff" and "log" were seen)
    function(p) if p.phase ~= "database" and p.phase ~= "checkpoint" and p.phase ~= "sync" then epoch.value = 2 end end)
  epoch.value = 2
  row("full backup", nil, rep.bytes, secs, ("%d files; writers committed %d txns in %d rounds"):format(rep.files, n,
    rounds))

  -- more writes
  local mark = #log
  local t0 = now()
  for _ = 1, 500 do resume_all(writers) end
  secs = now() - t0
  row("more writes", (#log - mark) * PER_TXN, nil, secs, ("%d transactions"):format(#log - mark))
  print(("3. %d more transactions"):format(#log - mark))

  -- the incremental, writers running (after its Begin checkpoint, all after its cut-off)
  print("4. incremental backup while the writers go on")
  local inc = sets .. "/inc1"
  rep, secs, n, rounds = backup_while_writing(inst, inc, { incremental = true, chunk_size = 64 * 1024 }, writers, log,
    "incr", u, function(p) if p.phase ~= "checkpoint" then epoch.value = 3 end end)   -- Begin's checkpoint
  -- comes before the cut-off: commits during its slices are in the set
  epoch.value = 3
  row("incremental backup", nil, rep.bytes, secs, ("%d files; writers committed %d txns in %d rounds"):format(
    rep.files, n, rounds))
  for _ = 1, 20 do resume_all(writers) end
  inst:term({ complete = true })

  local all_ok, checks = verify_and_restore(top, full, inc, log, row, u)
  print_table(rows)
  print(("  live folder %s, backup sets %s (full %s, incremental %s)"):format(human(dir_bytes(live)),
    human(dir_bytes(sets)), human(dir_bytes(full)), human(dir_bytes(inc))))
  for _, c in ipairs(checks) do print("  " .. c) end
  if all_ok then fs.remove_tree(top) else print("  (kept " .. top .. " for inspection)") end
  return all_ok
end

-- ---------------------------------------------------------------------------
-- crash and recover (a child process killed by fault injection)

function demo.crash_part(script)
  local dir = temp_dir("crash")
  print("lua-ese demo: crash and recover, in " .. dir)
  print("1. a writer process commits transactions of 10 records; it is killed")
  print("   (SIGKILL, by the engine's fault injection) at its 300th disk write")
  -- the writer's stderr (and the shell's "Killed" notice) go to a file,
  -- shown when the check fails
  local cmd = string.format("LUA_PATH=%s LUA_CPATH=%s ESE_FAULT=crash:300 lua5.4 %s demo-writer %s 2>%s",
    quote(package.path), quote(package.cpath), quote(script), quote(dir), quote(dir .. "/writer.err"))
  local _, how, code = os.execute(cmd)
  print(string.format("   writer ended: %s %s", tostring(how), tostring(code)))
  local seen = 0
  local f = io.open(dir .. "/committed.txt")
  if f then
    for l in f:lines() do seen = tonumber(l) or seen end
    f:close()
  end
  print(string.format("   the writer saw %d commits return", seen))

  print("2. a new instance opens the folder: soft recovery replays the log")
  local t0 = now()
  local inst = ese.create_instance("demo-reader", { system_path = dir, log_path = dir, log_file_size = 256 })
  inst:init()
  print(string.format("   recovered in %s", duration(now() - t0)))
  local s = inst:begin_session()
  s:attach_database(dir .. "/demo.edb")
  local db = s:open_database(dir .. "/demo.edb")
  local t = s:open_table(db, "records")
  local count, txns, whole = 0, {}, true
  for k in t:pairs() do
    count = count + 1
    local i = tonumber(k:sub(2, 9))
    txns[i] = (txns[i] or 0) + 1
  end
  local last = 0
  for i, n in pairs(txns) do
    if n ~= 10 then whole = false end
    if i > last then last = i end
  end
  print(string.format("   %d records back: transactions 1..%d, each %s", count, last,
    whole and "whole (10 of 10 records)" or "NOT WHOLE"))
  local good = seen > 0 and whole and last >= seen and last <= seen + 1 and count == last * 10
  print(good and "   ok: every commit the writer saw is back, and no half transaction"
             or "   FAIL: the recovered state differs from what the writer saw")
  t:close()
  s:end_session()
  inst:term({ complete = true })
  if good then
    fs.remove_tree(dir)
  else
    local ef = io.open(dir .. "/writer.err")
    if ef then io.write("   writer's stderr: ", ef:read("a"), "\n"); ef:close() end
    print("   (kept " .. dir .. " for inspection)")
  end
  return good
end

--- The writer child of the crash demo (`ese demo-writer DIR`, started by
-- crash_part): commits numbered transactions of 10 records until it is
-- killed, noting each commit that returned in `<dir>/committed.txt`.
function demo.writer(dir)
  local inst = ese.create_instance("writer", { system_path = dir, log_path = dir, log_file_size = 256 })
  inst:init()
  local s = inst:begin_session()
  local db = s:create_database(dir .. "/demo.edb")
  local t = s:create_table(db, "records")
  local note = assert(io.open(dir .. "/committed.txt", "w"))
  for i = 1, math.huge do
    s:begin_transaction()
    for j = 1, 10 do
      t:put(string.format("r%08d-%02d", i, j), string.rep(string.char(97 + i % 26), 100))
    end
    s:commit_transaction()
    note:write(i, "\n")
    note:flush()
  end
end

--- Runs the demo: which is "backup", "crash" or "all"; script is the path
-- of bin/ese (the crash part starts it as a child).  Returns the exit status.
function demo.main(which, script)
  local t0 = now()
  local ok = true
  if which == "all" or which == "backup" then ok = demo.backup_part() and ok end
  if which == "all" then print("") end
  if which == "all" or which == "crash" then ok = demo.crash_part(script) and ok end
  print("")
  print(("demo %s in %s"):format(ok and "passed" or "FAILED", duration(now() - t0)))
  return ok and 0 or 1
end

return demo
