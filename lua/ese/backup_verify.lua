--- Checking a backup set, or a chain of sets, without restoring it: the
-- manifest (or, for a set without one, the manifest its files imply),
-- every file's presence, size and SHA-256, every page and log record,
-- signatures, the generations of each set and the log chain across sets.
-- Reached through ese.backup (backup.verify documents it).
-- @module ese.backup_verify
local ese = require "ese"
local util = require "ese.util"
local manifest_m = require "ese.manifest"
local logchain = require "ese.logchain"

local fs = ese.fs
local raise = util.raise
local no_header = util.no_header
local settings = util.settings

local verify = {}

-- The generation of a log file name of base name base, as a restore reads
-- the names: base and ".log" in any case, 8 hex digits, generation 0 none.
local function log_name_gen(name, base)
  local hex = name:lower():match("^" .. base:lower():gsub("%p", "%%%0") .. "(%x%x%x%x%x%x%x%x)%.log$")
  local g = hex and tonumber(hex, 16)
  return g ~= 0 and g or nil
end

-- Whether a restore of the set would read the file dir/name that the
-- manifest does not list: a log name of the base name (in any case), or
-- anything (a regular file or a link) that is a database or, named
-- *.edb, claims to be one.  Other files, and what is not a regular file,
-- a restore passes over.
local function restore_reads(dir, name, base)
  if log_name_gen(name, base) then return true end
  -- a restore takes every NAME.zst of a set for a compressed log or database
  if name:match("%.zst$") and fs.stat(dir .. "/" .. name).kind ~= "folder" then return true end
  local kind = fs.stat(dir .. "/" .. name).kind
  if kind ~= "file" and kind ~= "link" then return false end
  local ok, fi = pcall(ese.file_info, dir .. "/" .. name)
  if ok then return fi.kind == "database" end
  return not no_header(fi) or name:match("%.edb$") ~= nil
end

-- A set without manifest.json (written with the step-by-step API): the
-- manifest its files imply, from their headers.  Every regular file must
-- be a database or a log generation (<base>XXXXXXXX.log, one base name);
-- anything else is JET_errInvalidBackup.  The kind is "full" with a
-- database, else "incremental"; the generation range is the logs' own, so
-- verify_set's gap, signature and chain checks apply as they are; there
-- is no SHA-256 to compare (m.manifest is false).
local function scan_set(dir)
  local m = { format = manifest_m.FORMAT, files = {}, manifest = false }
  local base, has_db
  for _, name in ipairs(fs.list(dir)) do
    local path = dir .. "/" .. name
    -- a folder of sets (expire's ROOT, a day's folder) given for a set
    if fs.stat(path).kind == "folder" and fs.stat(path .. "/" .. manifest_m.NAME).kind == "file" then
      raise("JET_errInvalidPath", "verify", "%s has no %s and holds the backup set %s: give the sets themselves "
        .. "(a full set, then its incrementals in order)", dir, manifest_m.NAME, name)
    end
    local size = util.file_size(path, "verify")    -- a regular file, not a link
    local b, hex = name:match("^(%w%w%w)(%x%x%x%x%x%x%x%x)%.log$")
    local ok, fi = pcall(ese.file_info, path)
    if not ok and not no_header(fi) then error(fi, 0) end
    if not ok and b then raise("JET_errLogFileCorrupt", "verify", "%s: %s has no valid log header", dir, name) end
    if not ok or (fi.kind == "log") ~= (b ~= nil) then
      raise("JET_errInvalidBackup", "verify", "%s: %s is neither a database nor a log generation", dir, name)
    end
    local e = { name = name, type = fi.kind, size = size, fi = fi }   -- verify_set reads no header again
    if fi.kind == "log" then
      if base and b ~= base then
        raise("JET_errInvalidBackup", "verify", "%s: logs of base names %s and %s", dir, base, b)
      end
      base = b
      e.generation = tonumber(hex, 16)
      m.log_signature = m.log_signature or fi.log_signature
      m.gen_low = math.min(m.gen_low or e.generation, e.generation)
      m.gen_high = math.max(m.gen_high or e.generation, e.generation)
    else
      e.db_signature = fi.db_signature
      has_db = true
    end
    m.page_size = m.page_size or fi.page_size
    m.files[#m.files + 1] = e
  end
  if not base then raise("JET_errFileNotFound", "verify", "%s has no %s and no log file: not a backup set", dir,
    manifest_m.NAME) end
  m.base_name, m.kind = base, has_db and "full" or "incremental"
  return m
end

-- The header of the set's log e (fi), checked against the manifest m.
local function check_log(dir, m, e, fi)
  if fi.kind ~= "log" then raise("JET_errLogFileCorrupt", "verify", "%s: %s is not a log file", dir, e.name) end
  if fi.log_signature ~= m.log_signature then
    raise("JET_errGivenLogFileHasBadSignature", "verify", "%s: log %s belongs to another instance", dir, e.name)
  end
  if fi.generation ~= e.generation then
    raise("JET_errGivenLogFileIsNotContiguous", "verify", "%s: log %s holds generation %d, the manifest says %s",
      dir, e.name, fi.generation, tostring(e.generation))
  end
  if fi.page_size ~= m.page_size then
    raise("JET_errPageSizeMismatch", "verify", "%s: log %s", dir, e.name)
  end
  e.created_us, e.prev_created_us = fi.created_us, fi.prev_created_us
end

-- The header of the set's database e (fi), checked against the manifest m.
local function check_database(dir, m, e, fi)
  if fi.kind ~= "database" then
    raise("JET_errRestoreOfNonBackupDatabase", "verify", "%s: %s is not a database", dir, e.name)
  end
  if fi.db_signature ~= e.db_signature or fi.log_signature ~= m.log_signature then
    raise("JET_errGivenLogFileHasBadSignature", "verify", "%s: database %s is not the one this set holds",
      dir, e.name)
  end
  if fi.state ~= "backup_copy" then
    raise("JET_errRestoreOfNonBackupDatabase", "verify", "%s: %s is not a streamed backup copy (state %s)",
      dir, e.name, tostring(fi.state))
  end
  if fi.page_size ~= m.page_size then
    raise("JET_errPageSizeMismatch", "verify", "%s: database %s", dir, e.name)
  end
  local cur = fi.backups and fi.backups.current
  e.needs_gen, e.needs_high = cur and cur.gen_low, cur and cur.gen_high
end

-- The file of entry e: present, of its size, of its identity (a foreign
-- file is named as such, before any checksum); returns its size and header.
local function check_identity(dir, m, e, path, islog, bad)
  local size = util.file_size(path, "verify")
  if not size then
    if islog then raise("JET_errMissingRestoreLogFiles", "verify", "%s: log %s is missing", dir, e.name) end
    raise("JET_errFileNotFound", "verify", "%s: database %s is missing", dir, e.name)
  end
  if size ~= e.size then
    raise(bad, "verify", "%s: %s has %d bytes, the manifest says %d", dir, e.name, size, e.size)
  end
  -- a set without manifest read every header in scan_set already
  local ok, fi = true, e.fi
  if not fi then ok, fi = pcall(ese.file_info, path) end
  if not ok then
    if islog and no_header(fi) then
      raise("JET_errLogFileCorrupt", "verify", "%s: %s has no valid log header", dir, e.name)
    end
    -- a damaged compressed file is named as a damaged file of its kind
    if e.content_size and ese.is_error(fi) and fi.name == "JET_errReadVerifyFailure" then
      raise(bad, "verify", "%s: %s", dir, tostring(fi.detail))
    end
    error(fi, 0)
  end
  if islog then check_log(dir, m, e, fi) else check_database(dir, m, e, fi) end
  return size, fi
end

-- The page checks of database fi (ese.file_info of name, an original of
-- size bytes) over one chunk of whole pages at byte off: a copy's size and
-- trailer, each page's checksum and number, no dbtime above dbtime_last
-- (a copy's: its trailer's); a file being restored has no bound until
-- replay fixes its header.
local function page_checker(name, fi, size)
  local ps = fi.page_size
  local copy_sig = fi.state == "backup_copy" and fi.db_signature or nil
  local dbtime_last = fi.state ~= "restoring" and fi.dbtime_last or nil
  return function(data, off)
    local whole = #data - #data % ps
    ese.verify_pages(name, whole == #data and data or data:sub(1, whole), off // ps, ps, size, copy_sig, dbtime_last)
  end
end

-- The original of the compressed file e (NAME.zst) at path, decoded as it
-- streams (ese.zstd: bounded memory) in chunks of whole pages, each fed to
-- the SHA-256 and, for a database, to the page checks; compared with the
-- manifest's content_size and content_sha256.  The stored bytes were
-- checked first (checksum_file), so a fault here is a damaged or foreign
-- compression: the set's named error bad.
local function check_original(dir, e, path, fi, islog, bad, chunk, progress)
  local ok, err = pcall(function()
    local z <close> = ese.zstd.open(path)
    local size = z:size()
    if size ~= e.content_size then
      raise(bad, "verify", "%s: %s holds %d bytes, the manifest says %d", dir, e.name, size, e.content_size)
    end
    local h = fs.sha256()
    local check_pages = not islog and page_checker(path, fi, size)
    local done = 0
    while true do
      local data = z:read(chunk)
      if not data then break end
      h:update(data)
      if check_pages then check_pages(data, done) end
      done = done + #data
      progress(done, size)
    end
    if h:finish() ~= e.content_sha256 then
      raise(bad, "verify", "%s: the original of %s does not match its SHA-256 in the manifest", dir, e.name)
    end
  end)
  if ok then return end
  if ese.is_error(err) and err.name == "JET_errReadVerifyFailure" and bad ~= err.name then
    raise(bad, "verify", "%s: %s", dir, tostring(err.detail))
  end
  error(err, 0)
end

-- Every checksum of the file, reading it once in chunks (a callback per
-- chunk, which may yield): a database's pages are checked in the chunks
-- the SHA-256 is fed with; a log's records are checked by ese.file_info
-- in one call (a log file is small: 1 MiB by default).  Returns its SHA-256.
-- A compressed file (e.content_size): the stored bytes' SHA-256 first,
-- then its original (check_original).
local function checksum_file(dir, e, path, size, fi, islog, bad, progress)
  if islog then
    local vok, verr = pcall(ese.file_info, path, true)
    if not vok then
      if ese.is_error(verr) then verr.op = "verify" end
      error(verr, 0)
    end
    e.log_databases = verr.databases   -- what its records create or attach (not_restored)
  end
  local h = fs.sha256()
  local ps = fi.page_size
  -- whole pages per chunk (the page size divides backup.CHUNK)
  local chunk = math.max(ps, settings.CHUNK - settings.CHUNK % ps)
  -- a compressed database's pages are checked in its original
  local check_pages = not islog and not e.content_size and page_checker(path, fi, size)
  progress(0)
  local got = util.read_chunks(path, size, chunk, h, function(data, off, done)
    if check_pages then check_pages(data, off) end
    progress(done)
  end)
  local sum = h:finish()
  if got ~= size then
    raise(bad, "verify", "%s: %s changed size while read (%d bytes, not %d)", dir, e.name, got, size)
  end
  if e.content_size then
    if sum ~= e.sha256 then
      raise(bad, "verify", "%s: %s does not match its SHA-256 in the manifest", dir, e.name)
    end
    check_original(dir, e, path, fi, islog, bad, chunk, progress)
  end
  return sum
end

-- Every generation of the set's range, and nothing a restore would pick
-- up that the manifest does not list (present: the names in dir).
local function check_range(dir, m, logs, base, present)
  if math.type(m.gen_low) ~= "integer" or math.type(m.gen_high) ~= "integer" or m.gen_low > m.gen_high then
    raise("JET_errInvalidBackup", "verify", "%s: the manifest has no generation range", dir)
  end
  for g = m.gen_low, m.gen_high do
    if not logs[g] then
      raise("JET_errMissingRestoreLogFiles", "verify", "%s: log generation %d is missing", dir, g)
    end
  end
  for g in pairs(logs) do
    if g < m.gen_low or g > m.gen_high then
      raise("JET_errInvalidBackup", "verify", "%s: log generation %d is outside the set's range", dir, g)
    end
  end
  local listed = {}
  for _, e in ipairs(m.files) do listed[e.name] = e end
  for name in pairs(present) do
    if not listed[name] and restore_reads(dir, name, base) then
      local ok, fi = pcall(ese.file_info, dir .. "/" .. name)
      if ok and fi.log_signature ~= m.log_signature then
        raise("JET_errGivenLogFileHasBadSignature", "verify", "%s: %s belongs to another instance", dir, name)
      end
      raise("JET_errInvalidBackup", "verify", "%s: %s is not listed in the manifest", dir, name)
    end
  end
end

-- A restore maps each database of the logs to one file of the set; a full
-- or copy set holds one whose needs the logs cover, an incremental none.
local function check_databases(dir, m, dbs)
  local by_sig = {}
  for _, d in ipairs(dbs) do
    if by_sig[d.db_signature] then
      raise("JET_errDatabasePatchFileMismatch", "verify", "%s: %s and %s are copies of one database", dir,
        by_sig[d.db_signature], d.name)
    end
    by_sig[d.db_signature] = d.name
  end
  if m.kind == "full" or m.kind == "copy" then
    if #dbs == 0 then raise("JET_errFileNotFound", "verify", "%s: a %s backup without a database", dir, m.kind) end
    for _, d in ipairs(dbs) do
      if d.needs_gen and d.needs_gen > 0 and d.needs_gen < m.gen_low then
        raise("JET_errStartingRestoreLogTooHigh", "verify", "%s: %s needs generation %d, the logs start at %d",
          dir, d.name, d.needs_gen, m.gen_low)
      end
      if d.needs_high and d.needs_high > m.gen_high then
        raise("JET_errEndingRestoreLogTooLow", "verify", "%s: %s needs generation %d, the logs end at %d",
          dir, d.name, d.needs_high, m.gen_high)
      end
    end
  elseif #dbs > 0 then
    raise("JET_errInvalidBackup", "verify", "%s: an %s backup holds a database", dir, m.kind)
  end
end

-- Verifies one set; returns its summary and { gen = log entry }.
local function verify_set(dir, on_progress, index, count)
  dir = util.strip_slashes(dir)
  local m = manifest_m.read(dir) or scan_set(dir)
  local present = util.name_set(dir) or {}
  local logs, dbs, bytes = {}, {}, 0
  local base = type(m.base_name) == "string" and m.base_name or "edb"
  for i, e in ipairs(m.files) do
    local path = dir .. "/" .. e.name
    local islog = e.type == "log"
    local bad = islog and "JET_errLogReadVerifyFailure" or "JET_errReadVerifyFailure"
    local size, fi = check_identity(dir, m, e, path, islog, bad)
    if islog then
      logs[fi.generation] = e
    else
      dbs[#dbs + 1] = e
      e.copy = fi                                  -- its signature and where its replay starts (not_restored)
    end
    -- a restore finds a log by its name: base name and generation, in any case
    if islog and log_name_gen(e.content_size and e.name:gsub("%.zst$", "") or e.name, base) ~= fi.generation then
      raise("JET_errInvalidBackup", "verify", "%s: log %s holds generation %d, but a restore looks for it under "
        .. "the name of base name %s", dir, e.name, fi.generation, base)
    end
    -- a name a restore takes for another file, or writes over (by its original name)
    local problem = not islog and util.db_name_problem(e.content_size and e.name:gsub("%.zst$", "") or e.name, base)
    if problem then
      raise("JET_errInvalidBackup", "verify", "%s: database %s has %s: a restore cannot give it back", dir, e.name,
        problem)
    end
    local function progress(done, total)
      if on_progress then
        on_progress({ phase = "verify", file = e.name, done = done, total = total or size, index = i, files = #m.files,
                      set = index, sets = count })
      end
    end
    local sum = checksum_file(dir, e, path, size, fi, islog, bad, progress)
    if m.manifest == false then
      e.sha256 = sum                               -- for the chain's comparisons
    elseif sum ~= e.sha256 then
      raise(bad, "verify", "%s: %s does not match its SHA-256 in the manifest", dir, e.name)
    end
    bytes = bytes + size
  end
  check_range(dir, m, logs, base, present)
  check_databases(dir, m, dbs)
  if on_progress then
    on_progress({ phase = "verify", done = bytes, total = bytes, index = #m.files, files = #m.files, set = index,
                  sets = count })
  end
  local databases = {}
  for i, d in ipairs(dbs) do databases[i] = d.name end
  return { dir = dir, kind = m.kind, time = m.time, gen_low = m.gen_low, gen_high = m.gen_high,
           manifest = m.manifest ~= false,
           files = #m.files, bytes = bytes, databases = databases, log_signature = m.log_signature,
           page_size = m.page_size, base_name = base, timeline = m.timeline }, logs, dbs
end

local ZERO_SIG = ("0"):rep(32)

-- The databases the chain's logs (all: generation -> log entry) create or
-- attach from the full set's start on that no copy of the full set (dbs)
-- is: a restore skips them, as ESE's hard restore does (ese.restore's
-- not_restored, the same rule: by signature, by name for a log that
-- records none).  A list of {path, name, how, generation}, or nil.
local function not_restored(all, dbs, gen_low, gen_high)
  local sigs, names, start = {}, {}, nil
  for _, d in ipairs(dbs) do
    sigs[d.copy.db_signature] = true
    names[(d.name:gsub("%.zst$", ""))] = true
    local at = { d.copy.replay_generation or 0, d.copy.replay_offset or 0 }
    if not start or at[1] < start[1] or (at[1] == start[1] and at[2] < start[2]) then start = at end
  end
  local list, seen = {}, {}
  for g = gen_low, gen_high do
    for _, r in ipairs(all[g] and all[g].log_databases or {}) do
      local name = r.path:match("[^/]*$")
      local key = r.db_signature ~= ZERO_SIG and r.db_signature or r.path
      local held = r.db_signature ~= ZERO_SIG and sigs[r.db_signature] or (r.db_signature == ZERO_SIG and names[name])
      local after = start and (r.generation > start[1] or (r.generation == start[1] and r.offset >= start[2]))
      if after and not held and not seen[key] then
        seen[key] = true
        list[#list + 1] = { path = r.path, name = name, how = r.how, generation = r.generation }
      end
    end
  end
  return #list > 0 and list or nil
end

-- Set s in the place i of a chain whose report so far is report and whose
-- previous set is prev: a full (or copy) set first, then incrementals of
-- the same instance and page size that continue the generations.
local function check_place(s, i, prev, report)
  if i == 1 then
    if s.kind ~= "full" and s.kind ~= "copy" then
      raise("JET_errMissingFullBackup", "verify", "%s: a chain starts with a full (or copy) set, not %s one",
        s.dir, util.a(s.kind))
    end
    return
  end
  if s.kind ~= "incremental" and s.kind ~= "differential" then
    raise("JET_errInvalidBackupSequence", "verify", "%s: a %s set after the first of a chain", s.dir, s.kind)
  end
  if s.log_signature ~= prev.log_signature then
    raise("JET_errGivenLogFileHasBadSignature", "verify", "%s belongs to another instance than %s", s.dir, prev.dir)
  end
  if s.page_size ~= prev.page_size then
    raise("JET_errPageSizeMismatch", "verify", "%s and %s", s.dir, prev.dir)
  end
  if s.gen_low > report.gen_high + 1 then
    raise("JET_errMissingRestoreLogFiles", "verify", "%s starts at generation %d, the chain ends at %d",
      s.dir, s.gen_low, report.gen_high)
  end
  if s.gen_high < report.gen_high then
    raise("JET_errInvalidBackupSequence", "verify", "%s ends before the set it follows", s.dir)
  end
end

--- backup.verify(dirs, opts), with opts checked and dirs a list (ese.backup).
function verify.verify(dirs, opts)
  local t0 = util.now()
  local report = { sets = {}, files = 0, bytes = 0, databases = {} }
  local all = {}
  local prev, full_dbs
  for i, dir in ipairs(dirs) do
    local s, logs, dbs = verify_set(dir, opts.on_progress, i, #dirs)
    if i == 1 then full_dbs = dbs end
    check_place(s, i, prev, report)
    if i == 1 then report.gen_low, report.databases = s.gen_low, s.databases end
    for g, e in pairs(logs) do
      local old = all[g]
      if old and manifest_m.original_sha256(old) ~= manifest_m.original_sha256(e) then
        raise("JET_errGivenLogFileIsNotContiguous", "verify",
          "%s: generation %d differs from the one in an earlier set", s.dir, g)
      end
      all[g] = e
    end
    report.gen_high = s.gen_high
    report.files = report.files + s.files
    report.bytes = report.bytes + s.bytes
    report.sets[i] = s
    prev = s
  end
  -- the chain's logs follow each other
  for _, f in ipairs(logchain.walk(all, report.gen_low, report.gen_high)) do
    if f.kind == "link" and not f.follows then
      raise("JET_errGivenLogFileIsNotContiguous", "verify", "log %s does not follow %s", f.log.name, f.prev.name)
    end
  end
  local kinds = {}
  report.manifest = true
  for i, s in ipairs(report.sets) do
    kinds[i] = s.kind
    report.manifest = report.manifest and s.manifest
  end
  report.kind = table.concat(kinds, "+")
  report.not_restored = not_restored(all, full_dbs, report.gen_low, report.gen_high)
  report.base_name = report.sets[1].base_name
  report.seconds = util.now() - t0
  return report
end

return verify
