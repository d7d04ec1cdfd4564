-- Shared helpers of the busted specs: temporary folders, instances that are
-- always terminated (the process-wide mode resets only when the last
-- instance terminates), and error-object expectations.
local ese = require "ese"
local luassert = require "luassert"

local H = {}

-- A fresh empty folder under /tmp.
function H.tmpdir()
  local p = os.tmpname()
  os.remove(p)
  assert(os.execute("mkdir -p '" .. p .. "'"), "mkdir " .. p)
  return p
end

function H.rmdir(p)
  if p and p:match("^/tmp/.") then os.execute("rm -rf '" .. p .. "'") end
end

local counter = 0
-- An instance name no other spec uses.
function H.name(prefix)
  counter = counter + 1
  return ("%s-%d-%d"):format(prefix or "spec", counter, os.time())
end

-- Instance parameters on dir (logs and checkpoint in it); extra overrides.
function H.params(dir, extra)
  local p = { system_path = dir, log_path = dir, log_file_size = 256 }
  for k, v in pairs(extra or {}) do p[k] = v end
  return p
end

-- The error value of f(...); fails the test when f succeeds.
function H.catch(f, ...)
  local ok, e = pcall(f, ...)
  luassert.is_false(ok, "expected an error, the call succeeded")
  return e
end

-- The error object of f(...); asserts it is an ese.Error called name.
function H.expect_jet(name, f, ...)
  local e = H.catch(f, ...)
  luassert.are.equal(ese.Error, getmetatable(e),
    "expected an ese.Error " .. name .. ", got " .. tostring(e))
  luassert.are.equal(name, e.name, "got " .. tostring(e))
  luassert.are.equal(ese.errors[name], e.code)
  return e
end

-- An ordinary (string) argument error of f(...) matching pattern.
function H.expect_argerror(pattern, f, ...)
  local e = H.catch(f, ...)
  luassert.are.equal("string", type(e), "expected an argument error, got " .. tostring(e))
  luassert.matches(pattern, e)
  return e
end

-- A world: a temp folder plus every instance made in it; cleanup() ends
-- them all (named and legacy) and removes the folder.  The instances are
-- held weakly, so the garbage-collection specs can drop them.
local World = {}
World.__index = World
local weak = { __mode = "v" }

function H.world()
  return setmetatable({ dir = H.tmpdir(), instances = setmetatable({}, weak), n = 0 }, World)
end

function World:track(inst)
  self.n = self.n + 1
  self.instances[self.n] = inst
  return inst
end

function World:path(name)
  return self.dir .. "/" .. name
end

-- A created (not initialized) instance; name and params optional.
function World:create(name, extra)
  return self:track(ese.create_instance(name or H.name(), H.params(self.dir, extra)))
end

-- A created and initialized instance.
function World:open(name, extra)
  local inst = self:create(name, extra)
  inst:init()
  return inst
end

-- The legacy global instance on this folder.
function World:legacy(extra)
  return self:track(ese.init(H.params(self.dir, extra)))
end

-- instance, session, database (created at dir/app.edb) and table "t".
function World:table(extra)
  local inst = self:open(nil, extra)
  local s = inst:begin_session()
  local db = s:create_database(self:path("app.edb"))
  local t = s:create_table(db, "t")
  return t, s, db, inst
end

-- A root of n full sets (backup.run) for backup.expire: root/f1 .. fn of
-- World:table, one more record put before each.  Returns root.
function World:expire_root(n)
  local backup = require "ese.backup"
  local t, _, _, inst = self:table()
  local root = self:path("root")
  for i = 1, n do
    t:put("k" .. i, "v")
    backup.run(inst, root .. "/f" .. i)
  end
  return root
end

-- World:table (64 KiB logs) with 10 records a001.., a full set at w/set
-- restored into w/dest (its old state for a restore with overwrite), then
-- 3 generations of records live.. in w's log folder, the instance ended.
function World:live_after_set()
  local backup = require "ese.backup"
  local t, _, _, inst = self:table({ log_file_size = 64 })
  H.put_range(t, "a", 10)
  backup.run(inst, self:path("set"))
  ese.restore(self:path("set"), self:path("dest"))
  H.roll(t, self.dir, 3, "live")
  inst:term({ complete = true })
end

-- World:table with a log archive (w/arc): 20 records, a full set at
-- w/full, 400 more records, every closed generation shipped, the instance
-- ended.  Returns the archive, its last generation and the last the set
-- needs.
function World:archived_full()
  local backup = require "ese.backup"
  local arc = self:path("arc")
  local t, _, _, inst = self:table({ log_file_size = 64, archive_path = arc, archive_timeout = 0,
                                     archive_retry_max = 50 })
  H.fill(t, 20, "base")
  backup.run(inst, self:path("full"))
  H.fill(t, 400, "after")
  local last = ese.file_info(self:path("edb.log")).generation - 1
  assert(H.wait_until(function() return inst:archive_status().shipped_generation >= last end), "not shipped")
  inst:term({ complete = true })
  return arc, last, ese.file_info(self:path("full/app.edb")).backups.current.gen_high
end

-- World:table on another folder: an instance whose system and log path
-- are dir (extra: more parameters), with table "t" in a database created
-- at dir/<file>.  Returns t, s, db, inst.
function World:table_at(dir, file, extra)
  local p = { system_path = dir, log_path = dir }
  for k, v in pairs(extra or {}) do p[k] = v end
  local inst = self:open(nil, p)
  local s = inst:begin_session()
  local db = s:create_database(dir .. "/" .. file)
  return s:create_table(db, "t"), s, db, inst
end

-- World:table with 64 KiB log files (a few commits roll the log) and n
-- records in "t" (H.fill with prefix): the start of the backup specs.
function World:filled_table(n, prefix)
  local t, s, db, inst = self:table({ log_file_size = 64 })
  H.fill(t, n, prefix)
  return t, s, db, inst
end

-- A real backup set in dir (H.rolled_backup with opts; the logs are this
-- folder's) of World:filled_table(20, "base").  Returns the set, then t,
-- s, db and inst of the live instance.
function World:base_set(dir, opts)
  local t, s, db, inst = self:filled_table(20, "base")
  local o = { log_dir = self.dir }
  for k, v in pairs(opts or {}) do o[k] = v end
  return H.rolled_backup(inst, t, dir, o), t, s, db, inst
end

-- World:base_set(dir, opts) whose instance has ended (a clean term):
-- the set alone, for specs that restore it into folders no one uses.
function World:stopped_set(dir, opts)
  local set, _, _, _, inst = self:base_set(dir, opts)
  inst:term({ complete = true })
  return set
end

-- Table tname (default "t") of dir/<file> (default app.edb) on a new
-- session of the initialized instance inst: attach_database +
-- open_database.  Returns t, s, db.
function H.open_table(inst, dir, file, tname)
  local s = inst:begin_session()
  local path = dir .. "/" .. (file or "app.edb")
  s:attach_database(path)
  local db = s:open_database(path)
  return s:open_table(db, tname or "t"), s, db
end

-- Reopens table "t" of dir/<file> (default app.edb, as World:table makes
-- it) on a new instance of this folder: attach_database + open_database.
function World:reopen(extra, file)
  local inst = self:open(nil, extra)
  local t, s, db = H.open_table(inst, self.dir, file)
  return t, s, db, inst
end

function World:cleanup()
  for i = self.n, 1, -1 do
    local inst = self.instances[i]
    if inst and inst:is_open() then pcall(inst.term, inst) end
  end
  self.instances, self.n = setmetatable({}, weak), 0
  pcall(ese.term)
  collectgarbage()
  H.rmdir(self.dir)
end

-- The set { key = true } of table tname (default "t") of dir/app.edb (a
-- restored folder, say), read on a new instance of dir (tracked by the
-- world w unless nil) that is terminated cleanly afterwards.
function H.restored_keys(w, dir, tname)
  local inst = ese.create_instance(H.name("check"), H.params(dir))
  if w then w:track(inst) end
  inst:init()
  local t, s = H.open_table(inst, dir, nil, tname)
  local keys = {}
  for k in t:pairs() do keys[k] = true end
  t:close()
  s:end_session()
  inst:term({ complete = true })
  return keys
end

-- How many keys of the set keys start with prefix.
function H.count_prefix(keys, prefix)
  local n = 0
  for k in pairs(keys) do if k:sub(1, #prefix) == prefix then n = n + 1 end end
  return n
end

-- The keys of table "t" of dir/app.edb that start with prefix
-- (H.restored_keys).
function H.count_keys(w, dir, prefix)
  return H.count_prefix(H.restored_keys(w, dir), prefix)
end

-- Every key/value pair of t:pairs(from, to), as two arrays.
function H.collect(t, from, to)
  local ks, vs = {}, {}
  for k, v in t:pairs(from, to) do
    ks[#ks + 1] = k
    vs[#vs + 1] = v
  end
  return ks, vs
end

-- ---- backup helpers (backup_*_spec.lua) -----------------------------------

-- fn(f) of the file at path opened for reading (closed afterwards), or
-- nil when the file does not exist.
local function with_file(path, fn)
  local f = io.open(path, "rb")
  if not f then return nil end
  local r = fn(f)
  f:close()
  return r
end

-- The whole content of a file, or nil when it does not exist.
function H.read_file(path)
  return with_file(path, function(f) return f:read("a") end)
end

function H.write_file(path, data)
  local f = assert(io.open(path, "wb"))
  assert(f:write(data))
  f:close()
end

-- Size in bytes of a file on disk, nil when absent.
function H.file_size(path)
  return with_file(path, function(f) return f:seek("end") end)
end

function H.exists(path)
  return H.file_size(path) ~= nil
end

function H.basename(path)
  return (path:match("([^/]+)$"))
end

-- The set { name = true } of the entries of a folder.
function H.ls(dir)
  local set = {}
  local p = assert(io.popen("ls -1A '" .. dir .. "'"))
  for name in p:lines() do set[name] = true end
  p:close()
  return set
end

-- { name = size } of the log generations of dir (edbXXXXXXXX.log), and
-- ["edb.log"] = whether it is there: what a log truncation would delete.
function H.log_files(dir)
  local r = {}
  for name in pairs(H.ls(dir)) do
    if name:match("^edb%x%x%x%x%x%x%x%x%.log$") then r[name] = H.file_size(dir .. "/" .. name) end
  end
  r["edb.log"] = H.exists(dir .. "/edb.log")
  return r
end

-- The generation of a log path (edbXXXXXXXX.log -> number; edb.log -> 0).
function H.log_gen(path)
  local hex = H.basename(path):match("^%w%w%w(%x%x%x%x%x%x%x%x)%.log$")
  if hex then return tonumber(hex, 16) end
  if H.basename(path):match("^%w%w%w%.log$") then return 0 end
  return nil
end

-- n durable commits of about `size` bytes each into table t (keys
-- prefix00001 ...): with 64 KiB log files a few of them roll the log.
-- Every record of table t, key -> value.
function H.contents(t)
  local got = {}
  for k, v in t:pairs() do got[k] = v end
  return got
end

function H.fill(t, n, prefix, size)
  prefix = prefix or "k"
  local v = ("x"):rep(size or 500)
  for i = 1, n do t:put(("%s%05d"):format(prefix, i), v) end
end

-- The start of the backup specs (backup_*_spec.lua): a world, its
-- World:filled_table(n, prefix), the path of that database and of a folder
-- "out" (not made).  Returns w, t, s, db, inst, dbpath, out.
function H.backup_start(n, prefix)
  local w = H.world()
  local t, s, db, inst = w:filled_table(n, prefix)
  return w, t, s, db, inst, w:path("app.edb"), w:path("out")
end

-- Opens path in the running backup of inst, reads it to its end (r:read(n)
-- steps, H.read_all) and closes it; returns the bytes.
function H.drain(inst, path, n)
  local r <close> = inst:open_file(path)
  local data = H.read_all(r, n)
  r:close()
  return data
end

-- A backup of inst in its log phase: Begin, the database dbpath streamed
-- whole, n (default 20) commits of table t, then commits that roll the log
-- (in the folder of dbpath) min_logs - 1 times, then GetLogInfo, which must
-- list at least min_logs (default 1) logs.  Returns the logs and the info
-- of get_log_info.
function H.log_phase(inst, t, dbpath, n, min_logs)
  inst:begin_external_backup()
  H.drain(inst, dbpath)
  H.fill(t, n or 20, "roll")
  H.roll(t, dbpath:match("^(.*)/[^/]*$"), (min_logs or 1) - 1, "rolled")
  local logs, info = inst:get_log_info()
  luassert.is_true(#logs >= (min_logs or 1), "get_log_info listed " .. #logs .. " logs")
  return logs, info
end

-- Makes the current log of w (its instance ended cleanly) the last
-- generation there can be, 0x7FFFF800 (as engine_errors_spec does): the
-- checkpoint and the older generations dropped, the header rewritten.  A
-- commit that needs a new log file then fails with JET_errLogSequenceEnd.
function World:last_log_generation()
  assert(os.remove(self:path("edb.chk")))
  for name in pairs(H.ls(self.dir)) do
    local g = H.log_gen(name)
    if g and g > 0 then assert(os.remove(self:path(name))) end
  end
  local data = H.read_file(self:path("edb.log"))
  local hdr = data:sub(5, 12) .. string.pack("<I4", 0x7FFFF800) .. data:sub(17, 4096)
  H.write_file(self:path("edb.log"), string.pack("<I4", H.crc32c(hdr, 1, #hdr)) .. hdr .. data:sub(4097))
end

-- A table of n records (World:filled_table), closed cleanly, the log moved
-- to its last generation (World:last_log_generation) and the folder
-- reopened with 64 KiB logs: the commits that fill this generation fail
-- with JET_errLogSequenceEnd, the instance running on.  Returns t, s, db,
-- inst of the reopened instance.
function World:at_last_generation(n)
  local _, _, _, inst = self:filled_table(n)
  inst:term({ complete = true })
  self:last_log_generation()
  return self:reopen({ log_file_size = 64 })
end

-- A commit into table t, a crash (abrupt term of inst) and soft recovery on
-- a new instance of this folder (64 KiB logs, as World:filled_table): the
-- commit must be back.  Returns t, s, db, inst of the new instance.
function World:crash_recovers(t, inst)
  t:put("after", "crash")
  inst:term()
  local t2, s2, db2, i2 = self:reopen({ log_file_size = 64 })
  luassert.are.equal("crash", t2:get("after"), "the commit before the crash is back")
  return t2, s2, db2, i2
end

-- Page 0 of a database (a live file or a streamed copy): the header
-- fields of csrc/dbheader.h.  states: 1 clean, 2 dirty, 3 backup copy,
-- 4 restoring.
H.DB_CLEAN, H.DB_DIRTY, H.DB_BACKUP_COPY = 1, 2, 3
function H.db_header(path_or_data, page_size)
  local data = path_or_data
  if #data < 4096 then data = assert(H.read_file(path_or_data)) end
  page_size = page_size or 8192
  local b = 33   -- PAGE_HDR + 1 (Lua strings count from 1)
  local h = {
    magic = data:sub(b, b + 7),
    page_size = string.unpack("<I4", data, b + 8),
    state = string.unpack("<I4", data, b + 12),
    gen_min = string.unpack("<I4", data, b + 48),
    gen_max = string.unpack("<I4", data, b + 52),
    dbtime_last = string.unpack("<I8", data, b + 152),   -- format 2 (page offset 184)
    -- format 4: the clean point (0 in format 3) and the last attachment's LSN
    clean_lsn = string.unpack("<I8", data, b + 160),
    clean_time = string.unpack("<I8", data, b + 168),
    attach_lsn = string.unpack("<I8", data, b + 176),
  }
  for i, kind in ipairs({ "full", "incremental", "differential", "copy", "current" }) do
    local lo, hi, time = string.unpack("<I4I4I8", data, b + 64 + 16 * (i - 1))
    h[kind] = { gen_lo = lo, gen_hi = hi, time = time }
  end
  h.pages = #data // page_size
  return h
end

-- Asserts that the database at path passes ese.file_info's whole-file
-- verification (every page, `ese check`'s checks); what prefixes the message.
function H.verified(path, what)
  local ok, e = pcall(ese.file_info, path, true)
  luassert.is_true(ok, (what or "") .. ": " .. tostring(e and (e.detail or e.name or e)))
end

-- Every byte left in the backup file reader r, read with r:chunks(n).
function H.read_all(r, n)
  local parts = {}
  for c in r:chunks(n) do parts[#parts + 1] = c end
  return table.concat(parts)
end

-- Streams the backup file `path` through a reader of inst (or of the legacy
-- functions when inst is nil) into dest/<basename> with r:copy_to into a
-- file handle.  Returns the bytes copied and r:size().
function H.stream(inst, path, dest, n)
  local r <close> = inst and inst:open_file(path) or ese.open_file(path)
  local size = r:size()
  local out = assert(io.open(dest .. "/" .. H.basename(path), "wb"))
  local copied = r:copy_to(out, n)
  out:close()
  r:close()
  return copied, size
end

-- A whole full (or, with opts.incremental, incremental) backup sequence of
-- inst into the folder dest (made when missing): every database of the
-- attach list, then every log; truncate_log when opts.truncate; End with
-- opts.end_opts.  Returns { dbs = paths, logs = paths, info = loginfo,
-- truncated = truncate list or nil }.
function H.backup(inst, dest, opts)
  opts = opts or {}
  assert(os.execute("mkdir -p '" .. dest .. "'"))
  inst:begin_external_backup(opts.incremental and { incremental = true } or nil)
  local set = { dbs = {} }
  if not opts.incremental then
    set.dbs = inst:get_attach_info()
    for _, p in ipairs(set.dbs) do
      local copied, size = H.stream(inst, p, dest)
      luassert.are.equal(size, copied)
    end
  end
  if opts.between then opts.between() end
  set.logs, set.info = inst:get_log_info()
  for _, p in ipairs(set.logs) do
    local copied, size = H.stream(inst, p, dest)
    luassert.are.equal(size, copied)
    luassert.are.equal(H.file_size(p), copied)
  end
  if opts.truncate then
    set.truncated = inst:get_truncate_log_info()
    inst:truncate_log()
  end
  inst:end_external_backup(opts.end_opts)
  return set
end

-- CRC32C (Castagnoli, as csrc/crc32c.c) of bytes i..j of s: to reseal a
-- page or log header a spec edits on purpose.  seed: crc32c(seed, ...)
-- (a log record's CRC and its record seed are seeded: docs/format.md,
-- "Records"), default 0.
local CRC = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do c = (c & 1) ~= 0 and ((c >> 1) ~ 0x82F63B78) or (c >> 1) end
  CRC[i] = c
end
function H.crc32c(s, i, j, seed)
  local c = ~(seed or 0) & 0xFFFFFFFF
  for k = i, j do c = CRC[(c ~ s:byte(k)) & 0xFF] ~ (c >> 8) end
  return c ~ 0xFFFFFFFF
end

-- Rewrites page pgno (ps bytes) of the file at path with fn(page) -> new
-- page, resealed (CRC32C of bytes 5.. at 1, page.h).
function H.patch_page(path, ps, pgno, fn)
  local data = assert(H.read_file(path))
  local pg = fn(data:sub(pgno * ps + 1, (pgno + 1) * ps))
  pg = string.pack("<I4", H.crc32c(pg, 5, #pg)) .. pg:sub(5)
  H.write_file(path, data:sub(1, pgno * ps) .. pg .. data:sub((pgno + 1) * ps + 1))
end

-- The free list of the database at path (pages of ps bytes): its entries,
-- its free-list pages (from the head on the space page, page 2, offset
-- 40), the space page's flags (offset 48) and the file's bytes.
function H.free_list(path, ps)
  local data = assert(H.read_file(path))
  local sp = 2 * ps
  local head, flags = string.unpack("<I4", data, sp + 40 + 1), string.unpack("<I4", data, sp + 48 + 1)
  local entries, pages = {}, {}
  local fl = head
  while fl ~= 0 do
    pages[#pages + 1] = fl
    local cnt, nxt = string.unpack("<I4I4", data, fl * ps + 20 + 1)
    for i = 0, cnt - 1 do entries[#entries + 1] = string.unpack("<I4", data, fl * ps + 32 + 4 * i + 1) end
    fl = nxt
  end
  return entries, pages, flags, data
end

-- The page numbers (from 2) of the file at path whose type byte (offset
-- 16) is ty, pages of ps bytes.
function H.pages_of_type(path, ps, ty)
  local data, r = assert(H.read_file(path)), {}
  for p = 2, #data // ps - 1 do
    if data:byte(p * ps + 17) == ty then r[#r + 1] = p end
  end
  return r
end

-- data (a database's bytes) with page pgno restamped with dbtime t and
-- sealed again (page.h: u32 CRC32C of bytes 4.., u32 pgno, u64 dbtime).
function H.restamp(data, pgno, t, page)
  page = page or 8192
  local off = pgno * page
  local body = string.pack("<I4I8", pgno, t) .. data:sub(off + 17, off + page)
  return data:sub(1, off) .. string.pack("<I4", H.crc32c(body, 1, #body)) .. body .. data:sub(off + page + 1)
end

-- data written to path as a compressed file (NAME.zst, zst.h) whose last
-- tail bytes (default 0) are its last frame, as a backup writes them.
function H.write_zst(path, data, tail)
  local c <close> = ese.zstd.compressor(1, #data, tail or 0)
  H.write_file(path, c:write(data) .. c:finish())
end

-- ---- restore and error helpers (restore_refusals_spec.lua, engine_errors_spec.lua,
-- instance_states_spec.lua) -------------------------------------------------

-- The file name of log generation gen (base name "edb" unless given).
function H.log_name(gen, base)
  return ("%s%08X.log"):format(base or "edb", gen)
end

-- XORs the byte at offset (0-based) of a file with mask (default 0x5a).
function H.flip_byte(path, offset, mask)
  local f = assert(io.open(path, "r+b"))
  assert(f:seek("set", offset))
  local c = assert(f:read(1), "offset past the end of " .. path)
  assert(f:seek("set", offset))
  assert(f:write(string.char(c:byte() ~ (mask or 0x5a))))
  f:close()
end

-- Offset (0-based) of the last non-zero byte of a file: the end of the
-- records of a log file (the rest of a log is zeros).
-- Log format 3 (docs/format.md): the first record of a generation is at
-- H.LOG_DATA; the shadow slots A and B are the two 4 KiB blocks before it.
H.LOG_DATA, H.LOG_SLOT_A, H.LOG_SLOT_B = 12288, 4096, 8192

-- The offset of the shadow slot of a log file with the higher flush number
-- (the slot its last durable flush wrote), nil when both are zero.
function H.newest_slot(path)
  local data = assert(H.read_file(path))
  local a, b = string.unpack("<I8", data, H.LOG_SLOT_A + 9), string.unpack("<I8", data, H.LOG_SLOT_B + 9)
  if a == 0 and b == 0 then return nil end
  return a > b and H.LOG_SLOT_A or H.LOG_SLOT_B
end

function H.last_data_offset(path)
  local data = assert(H.read_file(path))
  local i = #data
  while i > 0 and data:byte(i) == 0 do i = i - 1 end
  return i - 1
end

-- (mend17_spec, review17_spec) An instance with circular logging on w/c
-- holding every generation from `first` on (a running external backup),
-- its set at w/cset restored to w/dest (the old state an overwrite
-- replaces), 3 generations rolled since; then a child restores the set
-- into dest with overwrite and the live logs, held at hold point `point`
-- while the generations are retired.  Returns the child's stdout and dest.
-- fresh (mend18_spec): dest is a new folder, restored into without
-- overwrite.
function H.restore_while_retired(w, point, fresh)
  local dir = w:path("c")
  local ct, cs, _, ci = w:table_at(dir, "app.edb", { circular_log = true, log_file_size = 64, checkpoint_depth = 0 })
  H.fill(ct, 5, "base")
  local set, dest = w:path("cset"), w:path("dest")
  require("ese.backup").run(ci, set)
  if not fresh then ese.restore(set, dest) end   -- dest's old state, which the overwrite replaces
  ci:begin_external_backup()                 -- keeps every generation from here (circular_log_spec)
  local first = ese.file_info(dir .. "/edb.log").generation
  H.roll(ct, dir, 3, "early")
  luassert.is_true(H.exists(dir .. "/" .. H.log_name(first)))
  local gate = w:path("gate")
  H.write_file(gate, "")
  local child = H.lua_child([[
    local ese = require "ese"
    local ok, e = pcall(ese.restore, arg[1], arg[2],
      { live_log_path = arg[3], overwrite = arg[4] ~= "fresh" })
    print(ok and "RESTORED" or ("FAILED " .. tostring(e)))
  ]], { set, dest, dir, fresh and "fresh" or "overwrite" }, "ESE_FAULT=holdsync:" .. point .. ":" .. H.q(gate),
    { background = true })
  local held = H.wait_for(gate .. ".held")
  local ok, why = pcall(function()
    ci:end_external_backup({ abort = true })
    H.roll(ct, dir, 3, "during")             -- checkpoints at every roll: the early generations are retired
    luassert.is_true(H.wait_until(function() return not H.exists(dir .. "/" .. H.log_name(first)) end))
  end)
  os.remove(gate)                            -- always: the child must not wait for ever
  local code, out, err = child.wait()
  luassert.is_true(ok, tostring(why))
  luassert.is_true(held, "the restore reached the hold point")
  luassert.are.equal(0, code, err)
  ct:close()
  cs:end_session()
  ci:term({ complete = true })
  return out, dest
end

-- { [basename] = "keep" | "delete" } of an expire plan (backup.expire).
function H.verdicts(plan)
  local v = {}
  for _, p in ipairs(plan.keep) do v[H.basename(p)] = "keep" end
  for _, p in ipairs(plan.delete) do v[H.basename(p)] = "delete" end
  return v
end

-- Helpers of the log archive specs: params(dir, extra) (base_p, then
-- extra, over H.params), wait_status(inst, pred) (the archive status
-- once pred holds, else an error), current(dir) (the generation of
-- dir/edb.log) and files(dir) ({ name = bytes } of a folder's files).
function H.archive_kit(base_p)
  local k = {}
  function k.params(dir, extra)
    local p = {}
    for key, v in pairs(base_p) do p[key] = v end
    for key, v in pairs(extra or {}) do p[key] = v end
    return H.params(dir, p)
  end
  function k.wait_status(inst, pred)
    local st
    if H.wait_until(function()
      st = inst:archive_status()
      return pred(st)
    end) then return st end
    error("archive status never came: " .. tostring(st.last_error))
  end
  function k.current(dir) return ese.file_info(dir .. "/edb.log").generation end
  function k.files(dir)
    local f = {}
    for _, name in ipairs(ese.fs.list(dir)) do f[name] = H.read_file(dir .. "/" .. name) end
    return f
  end
  return k
end

-- An original instance archiving into w/arc (kit: H.archive_kit): app.edb
-- with table t of 20 records, a full set at w/set, two generations rolled
-- after it and shipped.  Returns arc, set, inst, t.
function H.archived_original(w, kit)
  local arc, set = w:path("arc"), w:path("set")
  local inst = w:track(ese.create_instance(H.name("live"), kit.params(w.dir, { archive_path = arc })))
  inst:init()
  local s = inst:begin_session()
  local t = s:create_table(s:create_database(w:path("app.edb")), "t")
  for i = 1, 20 do t:put(("base%03d"):format(i), "b") end
  require("ese.backup").run(inst, set)
  H.roll(t, w.dir, 2, "p1_")
  local cur = kit.current(w.dir)
  kit.wait_status(inst, function(st) return st.pending == 0 and st.shipped_generation == cur - 1 end)
  return arc, set, inst, t
end

-- Rewrites the manifest time of set dir to t (seconds since the epoch).
function H.set_manifest_time(dir, t)
  local manifest = require "ese.manifest"
  local m = manifest.decode(assert(H.read_file(dir .. "/manifest.json")), dir)
  m.time_unix = t
  m.time = os.date("!%Y-%m-%dT%H:%M:%SZ", t)
  local f = assert(io.open(dir .. "/manifest.json", "wb"))
  f:write(manifest.encode(m))
  f:close()
end

-- A copy of folder src at dst (dst must not exist).
function H.copy_dir(src, dst)
  assert(os.execute("cp -R '" .. src .. "' '" .. dst .. "'"), "cp " .. src)
  return dst
end

-- A full backup of inst into dir that spans several log generations:
-- Begin; then table t's instance (logs in opts.log_dir) rolls opts.rolls
-- (default 3) generations *before* the databases stream, so that the
-- copy's trailer names the last generation the set lists; every database;
-- opts.between_rolls more generations; GetLogInfo; every log; optional
-- truncation; End.  Returns { dbs, logs, info }.
function H.rolled_backup(inst, t, dir, opts)
  opts = opts or {}
  assert(os.execute("mkdir -p '" .. dir .. "'"))
  inst:begin_external_backup()
  H.roll(t, assert(opts.log_dir, "opts.log_dir"), opts.rolls or 3, opts.prefix or "pre")
  local set = { dbs = inst:get_attach_info() }
  for _, p in ipairs(set.dbs) do H.stream(inst, p, dir) end
  if opts.between_rolls then H.roll(t, opts.log_dir, opts.between_rolls, "mid") end
  set.logs, set.info = inst:get_log_info()
  for _, p in ipairs(set.logs) do H.stream(inst, p, dir) end
  if opts.truncate then inst:truncate_log() end
  inst:end_external_backup()
  return set
end

-- Shell-quotes s.
function H.q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- Runs the Lua script file `script` in a child lua5.4 process that loads
-- this run's package.path and package.cpath (so the same ese.core), with
-- the arguments args (a list, quoted) and the environment words env
-- ("NAME=value ..." set only for the child).  Returns exit code, stdout
-- and stderr.  With opts.background the child is started and a handle
-- { wait = function() -> code, out, err } is returned instead;
-- opts.after() runs once the child is done.
function H.lua_run(script, args, env, opts)
  opts = opts or {}
  local errf = os.tmpname()
  local words = {}
  for i, a in ipairs(args or {}) do words[i] = H.q(a) end
  local cmd = ("LUA_PATH=%s LUA_CPATH=%s %s lua5.4 %s %s 2>%s"):format(
    H.q(package.path), H.q(package.cpath), env or "", H.q(script), table.concat(words, " "), H.q(errf))
  local p = assert(io.popen(cmd))
  local function wait()
    local out = p:read("a")
    local _, _, code = p:close()
    local err = H.read_file(errf) or ""
    os.remove(errf)
    if opts.after then opts.after() end
    return code, out, err
  end
  if opts.background then return { wait = wait } end
  return wait()
end

-- Bytes this thread has passed to write calls ("wchar") or got from read
-- calls ("rchar") so far (Linux /proc/thread-self/io): a measure of the
-- I/O a call made on the calling thread, independent of time and of file
-- sizes; nil when the kernel does not say.
function H.thread_io(field)
  local f = io.open("/proc/thread-self/io", "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return tonumber(s:match(field .. ":%s*(%d+)"))
end

-- Polls pred() every nap seconds (default 0.05) until it answers a true
-- value or secs seconds of wall clock (default 60) passed; returns its
-- last answer.  The bound is for a hang, never a measure: on a loaded
-- machine a thread or a child may take many seconds (a bound by a count
-- of short sleeps, a few seconds, failed there now and then).
function H.wait_until(pred, secs, nap)
  local limit = ese.fs.now() + (secs or 60)
  local r = pred()
  while not r and ese.fs.now() < limit do
    os.execute("sleep " .. (nap or 0.05))
    r = pred()
  end
  return r
end

-- Whether pred stays true for secs seconds (polled every nap, 0.05 s by
-- default): what must not happen, such as a held log archive shipping,
-- given the time to happen (a check right after the cause would pass
-- before the thread that does it ran).
function H.holds(pred, secs, nap)
  local limit = ese.fs.now() + secs
  repeat
    if not pred() then return false end
    os.execute("sleep " .. (nap or 0.05))
  until ese.fs.now() >= limit
  return pred() and true or false
end

-- Waits (H.wait_until) until a file exists, as a child process's signal;
-- true when it does.
function H.wait_for(path)
  return H.wait_until(function() return H.exists(path) end) == true
end

-- Calls fn() while a child lua5.4 process holds an initialized instance
-- on dir (its log and system folder; params, Lua source of a table with
-- `dir` in scope, gives other instance parameters): setup (Lua source,
-- optional) runs in the child after init with `inst` and `dir` in scope,
-- finish before its clean term (after fn returned).  Asserts that the
-- child ended well; returns what fn returned (fn must not raise: pcall
-- inside it).
function H.while_held(dir, fn, setup, finish, params)
  local ready, stop = os.tmpname(), os.tmpname()
  os.remove(ready)
  os.remove(stop)
  local child = H.lua_child(([[
    local ese = require "ese"
    local dir, ready, stop = arg[1], arg[2], arg[3]
    local inst = ese.create_instance("holder", %s)
    inst:init()
    %s
    io.open(ready, "w"):close()
    local limit = ese.fs.now() + 600                 -- a bound for a hang: fn takes its time
    while not io.open(stop, "r") and ese.fs.now() < limit do os.execute("sleep 0.05") end
    %s
    inst:term({ complete = true })
    print("HELD done")
  ]]):format(params or "{ system_path = dir, log_path = dir }", setup or "", finish or ""), { dir, ready, stop }, nil,
    { background = true })
  local held = H.wait_for(ready)
  local r = table.pack(fn())
  H.write_file(stop, "")
  local code, out, err = child.wait()
  os.remove(ready)
  os.remove(stop)
  luassert.is_true(held, "the child opened the folder")
  luassert.are.equal(0, code, err)
  luassert.matches("HELD done", out)
  return table.unpack(r, 1, r.n)
end

-- Runs source in a child (H.lua_child, args) with rss() in scope (the
-- process's resident size, MiB); the child prints "GROWTH <MiB>".  Asserts
-- it exited 0 and, unless under make check (ASan's quarantine keeps freed
-- memory resident), that the growth is below max_mib; what says of what.
function H.assert_child_growth(source, args, max_mib, what)
  local code, out, err = H.lua_child([[
    local function rss()
      for l in io.lines("/proc/self/status") do
        local v = l:match("^VmRSS:%s+(%d+)")
        if v then return tonumber(v) // 1024 end
      end
    end
  ]] .. source, args)
  luassert.are.equal(0, code, out .. err)
  local growth = tonumber(out:match("GROWTH (%-?%d+)"))
  if os.getenv("ESE_SANITIZED") then return end
  luassert.is_true(growth < max_mib, "RSS grew by " .. growth .. " MiB " .. what)
end

-- H.lua_run of a Lua chunk (source text), from a temporary file.
function H.lua_child(source, args, env, opts)
  local script = os.tmpname()
  H.write_file(script, source)
  return H.lua_run(script, args, env, {
    background = opts and opts.background,
    after = function() os.remove(script) end,
  })
end

-- H.lua_child of source with kill_self() in scope (SIGKILL of the child
-- by itself, through os.execute of kill: the test's child, not the
-- library), which it must call: asserts that the child died by it (a
-- non-zero status, "not killed" never printed: source prints it when the
-- call it kills returns); returns its stdout and stderr.
function H.killed_child(source, args)
  local code, out, err = H.lua_child([[
    local pid = io.open("/proc/self/stat"):read("l"):match("^(%d+)")
    local function kill_self() os.execute("kill -9 " .. pid) end
  ]] .. source, args)
  luassert.are_not.equal(0, code, out .. err)
  luassert.is_nil(out:find("not killed", 1, true), "the child was not killed")
  return out, err
end

-- Resumes the coroutine co until it is dead, as a paced reader's caller
-- does with a wait function that yields (ese.pace_signal, seconds), or with
-- none (the reader yields so itself): counts the
-- yields, and the bad ones (another tag, seconds not a number in 0 .. 1);
-- between() (optional) runs at each yield.  Asserts every resume; returns
-- yields, bad and what co returned first.
function H.resume_paced(co, between)
  local yields, bad = 0, 0
  while true do
    local ok, a, secs = coroutine.resume(co)
    luassert.is_true(ok, a)
    if coroutine.status(co) == "dead" then return yields, bad, a end
    yields = yields + 1
    if a ~= ese.pace_signal or type(secs) ~= "number" or secs < 0 or secs > 1 then bad = bad + 1 end
    if between then between() end
  end
end

-- ---- the C harness programs (harness_spec.lua, backup_harness_spec.lua) ----

-- Their folder: ESE_HARNESS_DIR (`make check` points it at the sanitizer
-- build), default build/bin.
H.harness_dir = os.getenv("ESE_HARNESS_DIR") or "build/bin"

-- Runs the C harness program prog with args (a string) and env
-- assignments prefixed; returns whether it exited 0, its whole output
-- (stdout and stderr) and its last non-empty line.
function H.run_harness(prog, args, env)
  local path = H.harness_dir .. "/" .. prog
  assert(H.exists(path), path .. " is not built (make)")
  local p = assert(io.popen((env or "") .. " " .. path .. " " .. (args or "") .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  local last = ""
  for line in out:gmatch("[^\n]+") do last = line end
  return ok == true, out, last
end

-- Runs a harness program that must exit 0 and print expected (a plain
-- string, or a list of them: each must appear); returns its output.
function H.expect_harness(prog, args, expected)
  local ok, out = H.run_harness(prog, args)
  luassert.is_true(ok, prog .. " " .. (args or "") .. " failed:\n" .. out)
  for _, want in ipairs(type(expected) == "table" and expected or { expected }) do
    luassert.is_truthy(out:find(want, 1, true), "no '" .. want .. "' in:\n" .. out)
  end
  return out
end

-- The lines "KEY value" of a child's output as a table { KEY = "value" }.
function H.parse_lines(out)
  local r = {}
  for line in out:gmatch("[^\n]+") do
    local k, v = line:match("^(%S+) (.*)$")
    if k then r[k] = v end
  end
  return r
end


-- Commits records into table t until the log in log_dir has moved on by n
-- generations (log volume depends on how the engine logs a change, so a
-- spec that needs rolls asks for them, not for a record count).
-- A wall-clock moment (ese.fs.now, the clock commit records carry) strictly
-- after every commit made so far and strictly before every later one: a
-- restore's to_time between two commits.
function H.time_mark()
  local t0 = ese.fs.now()
  while ese.fs.now() < t0 + 0.002 do end
  local m = ese.fs.now()
  while ese.fs.now() < m + 0.002 do end
  return m
end

-- Puts keys prefix001 .. prefix<n> into table t, each value "prefix-i".
function H.put_range(t, prefix, n)
  for i = 1, n do t:put(("%s%03d"):format(prefix, i), ("%s-%d"):format(prefix, i)) end
end

-- Closes table t and database db of session s and detaches path.
function H.detach(t, s, db, path)
  t:close()
  db:close()
  s:detach_database(path)
end

function H.roll(t, log_dir, n, prefix)
  local function gen() return ese.file_info(log_dir .. "/edb.log").generation end
  local target, i = gen() + (n or 1), 0
  while gen() < target do
    i = i + 1
    t:put(("%s%07d"):format(prefix or "roll", i), ("r"):rep(1500))
  end
end

-- The start of a child's Lua source (H.lua_child): dir, dest and chunk
-- (args 1 .. 3, chunk a number), ese, backup, say(kind, e) (prints "kind
-- <name> <detail>" for an error object, else "LUA <message>"), and an
-- instance on dir (a live folder with app.edb, its instance terminated;
-- 64 KiB logs) initialized with app.edb attached: inst, s; when that
-- fails it prints "INIT <name> <detail>" and exits.
H.child_prelude = [[
local dir, dest, chunk = arg[1], arg[2], tonumber(arg[3])
local ese = require "ese"
local backup = require "ese.backup"
local function say(kind, e)
  if ese.is_error(e) then io.write(kind, " ", e.name, " ", tostring(e.detail), "\n")
  else io.write("LUA ", tostring(e), "\n") end
end
local inst, s
local ok, e = pcall(function()
  inst = ese.create_instance("child", { system_path = dir, log_path = dir, log_file_size = 64 })
  inst:init()
  s = inst:begin_session()
  s:attach_database(dir .. "/app.edb")
end)
if not ok then say("INIT", e) os.exit(0) end
]]

-- Lua source of a child (H.lua_child) that inits an instance on dir
-- (H.child_prelude) and runs backup.run into dest (arg 2) with chunk_size
-- arg 3; prints one line:
-- "OK", "ERR <name> <detail>" (an error object), "INIT <name>" (the
-- instance itself failed first) or "LUA <message>" (anything else).
H.backup_child = H.child_prelude .. [[
ok, e = pcall(backup.run, inst, dest, { chunk_size = chunk })
if ok then io.write("OK\n") else say("ERR", e) end
pcall(s.end_session, s)
pcall(inst.term, inst)
]]

return H
