--[[
ese_bench.lua -- the Lua side of ese-bench (bench/ese_bench.c runs it with
lua5.4 and reads its "result NAME VALUE" lines from stdout).

  lua5.4 ese_bench.lua LIBDIR LUADIR WORKDIR RECORDS STEP...

LIBDIR holds ese/core.so (build/lib), LUADIR the pure-Lua modules (lua/).
Everything is written under WORKDIR (made by the caller, removed by it).
The records are the C bench's (bench_common.h): key i = 16 hex digits of
mix64(i), value = the pooled 100-byte value make_value(i % VALUE_POOL)
(bench_common.lua, which also counts the log bytes).

Steps, in the order given:
  load:K     RECORDS random records through the Lua API (t:put) in durable
             transactions of 10,000, into WORKDIR/load with log files of K
             KiB (default 1024, the engine's default) and the C cases' 256
             MiB cache; timed; then a sample read back (untimed) and a
             clean term.
  reopen     a new instance on WORKDIR/live with 1 MiB log files (the
             default), the loaded database attached: later steps log into
             a fresh stream whose files are small enough that a backup set's
             size follows the log written.
  scan:N     after reopen: one untimed full scan (for k, v in t:pairs()),
             then N timed ones; the best time and the records counted
             (which must be RECORDS).
  commits:N  N durable single-record commits, each inserting one new random
             key with a 100-byte value; log bytes written.
  mixed:N    a full backup (backup.run), then N durable single-record
             commits cycling insert (new random key, 100-byte value) /
             replace (an existing key, 50..150 bytes) / delete (an existing
             key); log bytes written; then an incremental backup.run into a
             new folder and the sum of its files' sizes.

"Log bytes" of a folder: for every log generation file (edb.log,
edbXXXXXXXX.log), the offset just past its last non-zero byte (rounded up
to 8) less 12288 (log format 3: the header and the two shadow slots
before the first record; a file without records counts 0). Generation files are made whole with
zeros and a record never ends in zeros beyond its 8-byte alignment, so
this is the end of the records in each file whatever the record format;
the bytes a step wrote are the difference before/after (no file is
removed in between).
]]
local libdir, luadir, work, nrec = arg[1], arg[2], arg[3], math.tointeger(tonumber(arg[4]))
if not (libdir and luadir and work and nrec and nrec > 0 and arg[5]) then
  io.stderr:write("usage: lua5.4 ese_bench.lua LIBDIR LUADIR WORKDIR RECORDS STEP...\n")
  os.exit(2)
end
package.cpath = libdir .. "/?.so;" .. package.cpath
package.path = luadir .. "/?.lua;" .. luadir .. "/?/init.lua;" .. package.path

local ese = require "ese"
local backup = require "ese.backup"
local fs = ese.fs
local clock = fs.clock

local TXN_SIZE = 10000
local PAGE_SIZE = 8192
local CACHE_BYTES = 32768 * PAGE_SIZE  -- the C cases' 256 MiB

local function result(name, value)
  io.stdout:write(string.format("result %s %.17g\n", name, value))
  io.stdout:flush()
end

-- ---- the records and log bytes (bench_common.lua) ----------------------------
local common = dofile((arg[0]:match("^(.*)/") or ".") .. "/bench_common.lua")(fs)
local umod, make_key, pool, value = common.umod, common.make_key, common.pool, common.value
local mix64, log_bytes, tree_bytes = common.mix64, common.log_bytes, common.tree_bytes

-- The caller checks that both sides make the same records.
io.stdout:write("fingerprint ", make_key(12345), value(12345), "\n")

-- ---- the instance -----------------------------------------------------------
local load_dir, live_dir = work .. "/load", work .. "/live"
local db_path = load_dir .. "/bench.edb"
local inst, s, db, t, log_dir

local function open_instance(dir, log_kib)
  fs.mkdir(dir)
  log_dir = dir
  inst = ese.create_instance("bench", {
    system_path = dir, log_path = dir, log_file_size = log_kib,
    page_size = PAGE_SIZE, cache_size = CACHE_BYTES, circular_log = false,
  })
  inst:init()
  s = inst:begin_session()
end

local function close_instance()
  t:close()
  db:close()
  s:end_session()
  inst:term({ complete = true })
  inst = nil
end

local function check_sample()
  local step = nrec // 1000 > 0 and nrec // 1000 or 1
  for i = 0, nrec - 1, step do
    if t:get(make_key(i)) ~= value(i) then error("record " .. i .. " reads back wrong") end
  end
end

local steps = {}

function steps.load(log_kib)
  open_instance(load_dir, log_kib or 1024)
  db = s:create_database(db_path)
  t = s:create_table(db, "kv")
  local put = t.put
  local t0 = clock()
  local i = 0
  while i < nrec do
    local last = math.min(i + TXN_SIZE, nrec)
    s:begin_transaction()
    for j = i, last - 1 do put(t, make_key(j), pool[j % common.VALUE_POOL]) end
    s:commit_transaction()                       -- durable
    i = last
  end
  result("load_seconds", clock() - t0)
  check_sample()
  close_instance()
end

function steps.reopen()
  open_instance(live_dir, 1024)
  s:attach_database(db_path)
  db = s:open_database(db_path)
  t = s:open_table(db, "kv")
end

function steps.scan(rounds)
  local best
  for round = 0, rounds or 3 do
    local n = 0
    local t0 = clock()
    for _ in t:pairs() do n = n + 1 end          -- the iterator makes key and value
    local secs = clock() - t0
    if n ~= nrec then error("scan: " .. n .. " records, " .. nrec .. " expected") end
    if round > 0 and (not best or secs < best) then best = secs end
  end
  result("scan_seconds", best)
  result("scan_records", nrec)
end

local function durable(fn, k, v)
  s:begin_transaction()
  fn(t, k, v)
  s:commit_transaction()
end

function steps.commits(n)
  local before = log_bytes(log_dir)
  local t0 = clock()
  for c = 0, n - 1 do durable(t.put, make_key((1 << 40) | c), value(c)) end
  result("commits_seconds", clock() - t0)
  result("commits_count", n)
  result("commits_log_bytes", log_bytes(log_dir) - before)
  if t:get(make_key((1 << 40) | (n - 1))) ~= value(n - 1) then error("commits: last insert missing") end
end

-- The mixed workload. Commit c: c % 3 == 0 inserts new key (2 << 40) | c,
-- 1 replaces and 2 deletes original record (c * 7919) % nrec (distinct for
-- distinct c < nrec, so no key is deleted twice).
function steps.mixed(n)
  if n > nrec then n = nrec end
  local full = work .. "/full"
  local t0 = clock()
  backup.run(inst, full)
  result("mixed_full_seconds", clock() - t0)
  fs.remove_tree(full)                           -- only its full-backup record matters
  local before = log_bytes(log_dir)
  t0 = clock()
  for c = 0, n - 1 do
    local kind, orig = c % 3, (c * 7919) % nrec
    if kind == 0 then
      durable(t.put, make_key((2 << 40) | c), value(c))
    elseif kind == 1 then
      local len = 50 + umod(mix64(c), 101)
      durable(t.put, make_key(orig), (value(c) .. value(c + 1)):sub(1, len))
    else
      durable(t.delete, make_key(orig))
    end
  end
  result("mixed_seconds", clock() - t0)
  result("mixed_count", n)
  result("mixed_log_bytes", log_bytes(log_dir) - before)
  for c = math.max(0, n - 3), n - 1 do           -- the last of each kind took effect
    local kind, orig = c % 3, (c * 7919) % nrec
    local got = t:get(make_key(kind == 0 and ((2 << 40) | c) or orig))
    if (kind == 2) ~= (got == nil) then error("mixed: commit " .. c .. " did not take effect") end
  end
  local incr = work .. "/incr"
  t0 = clock()
  backup.run(inst, incr, { incremental = true })
  result("mixed_incr_seconds", clock() - t0)
  result("mixed_incr_bytes", tree_bytes(incr))
  result("mixed_incr_log_bytes", log_bytes(incr))
  fs.remove_tree(incr)
end

for a = 5, #arg do
  local name, count = arg[a]:match("^(%a+):?(%d*)$")
  local fn = name and steps[name]
  if not fn then error("unknown step " .. arg[a]) end
  fn(math.tointeger(tonumber(count)))
end
if inst then close_instance() end
result("done", 1)
