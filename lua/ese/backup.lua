--- Backup automation: the whole external-backup sequence in one call.
--
-- Pure Lua over the binding (inst:begin_external_backup ... end_external_backup,
-- readers, ese.file_info, ese.restore) and its file primitives (ese.fs): it
-- starts no process, and every failure is an error object.
--
--   backup.run(inst, dest, opts)        a set in the folder dest, with manifest.json
--   backup.run_to(inst, sink, opts)     the same set as one tar stream into sink
--   backup.verify(dir | {dirs})         every checksum of a set or a chain, no restore
--   backup.restore(dirs, dest, opts)    verify, then ese.restore
--
-- A set is a folder holding the streamed databases, the logs and
-- manifest.json.  manifest.json is written last: a folder without it (or
-- still named `<dest>.partial`) is not a backup set, and verify and restore
-- refuse it.  File names in a manifest are base names, never paths.
--
-- Checksums: every file's SHA-256 (ese.fs.sha256, OpenSSL's libcrypto, fed
-- with the bytes as they stream, so run_to needs no local copy), on top of
-- the engine's own checks (page checksums, log records: ese.file_info).
-- @module ese.backup
local ese = require "ese"
local cjson = require "cjson"
local fs = ese.fs

local backup = {}

backup.FORMAT = "lua-ese backup"
backup.FORMAT_VERSION = 1
backup.MANIFEST = "manifest.json"
backup.CHUNK = 1 << 20

-- ---------------------------------------------------------------------------
-- Error objects

--- An ese.Error object built in Lua, like those the engine raises.
-- @param name a JET_err name (ese.errors[name] is its code)
-- @param op the operation ("run", "verify", ...)
-- @param detail a sentence naming the file or the fact
function backup.error(name, op, detail)
  local code = ese.errors[name]
  assert(code, "unknown error name " .. tostring(name))
  return setmetatable({ name = name, code = code, message = ese.message(code),
                        op = op, detail = detail }, ese.Error)
end

local function raise(name, op, fmt, ...)
  error(backup.error(name, op, select("#", ...) > 0 and fmt:format(...) or fmt), 0)
end

-- ---------------------------------------------------------------------------
-- Small file helpers (ese.fs: no process, error objects)

local function basename(p)
  return (p:match("([^/]+)/*$")) or p
end

local function dirname(p)
  local d = p:match("^(.*)/[^/]+/*$")
  if d == nil then return "." end
  return d == "" and "/" or d
end

-- PATH_MAX and NAME_MAX of Linux: a longer path cannot be created, so it
-- is refused before anything is made.
local PATH_MAX, NAME_MAX = 4096, 255

-- A folder path must leave room for a file name in it.
local function check_path_length(p, op)
  if #p + 1 + NAME_MAX >= PATH_MAX then
    raise("JET_errInvalidPath", op, "%s leaves no room for a file name (PATH_MAX %d)", p:sub(1, 64) .. "...", PATH_MAX)
  end
  for part in p:gmatch("[^/]+") do
    if #part > NAME_MAX then raise("JET_errInvalidPath", op, "a name longer than %d bytes in %s", NAME_MAX, p) end
  end
end

local function strip_slashes(p)
  local s = p:gsub("/+$", "")
  return s == "" and "/" or s
end

-- "absent", "empty" (an empty folder), "folder", "link" or "file" (any
-- other kind); a link is never followed.
local function path_state(p)
  local k = fs.stat(p).kind
  if k == "folder" then return #fs.list(p) == 0 and "empty" or "folder" end
  if k == "absent" or k == "link" then return k end
  return "file"
end

-- The names in a folder (one level), as a set; nil when it is not a folder.
-- A symbolic link that names a folder is listed too (a set reached through
-- a "latest" link, as ese.restore accepts it); otherwise nil and the kind.
local function list_dir(dir)
  local kind = fs.stat(dir).kind
  local names
  if kind == "folder" then names = fs.list(dir)
  elseif kind == "link" then
    local ok, l = pcall(fs.list, dir)
    if not ok then return nil, kind end
    names = l
  else return nil, kind end
  local set = {}
  for _, name in ipairs(names) do set[name] = true end
  return set
end

-- The size of a regular file; nil when absent; a link, a folder or a FIFO
-- in its place: JET_errInvalidPath (op).
local function file_size(p, op)
  local st = fs.stat(p)
  if st.kind == "absent" then return nil end
  if st.kind ~= "file" then raise("JET_errInvalidPath", op, "%s is a %s, not a regular file", p, st.kind) end
  return st.size
end

-- Reads the regular file path of size bytes once, in chunks of at most
-- chunk bytes, feeding each to the SHA-256 hasher h and to
-- on_chunk(data, offset, done) (which may yield: the caller's loop runs
-- between two chunks); returns the bytes read.  A file that ends early
-- stops the loop, one that has grown past size (meanwhile: a callback may
-- yield) counts one byte more: the caller compares the count with size.
local function read_chunks(path, size, chunk, h, on_chunk)
  local done = 0
  while done < size do
    local data = fs.read(path, done, math.min(chunk, size - done))
    if data == "" then break end
    h:update(data)
    local off = done
    done = done + #data
    on_chunk(data, off, done)
  end
  if done == size and fs.read(path, size, 1) ~= "" then done = done + 1 end
  return done
end

-- A base name that is safe to join to a folder: no "/", no "..", no
-- control character or backslash, not empty.
function backup.safe_name(name)
  return type(name) == "string" and name ~= "" and name ~= "." and not name:find("/", 1, true)
    and not name:find("..", 1, true) and not name:find("[%c\\]")
end

-- ---------------------------------------------------------------------------
-- Options and kinds

-- The options each function takes: a key not listed is a plain error at the
-- caller (a misspelt option must never be ignored: `incremantal = true`
-- would run a full backup that truncates the logs).
local OPTIONS = {
  run = { incremental = true, copy = true, truncate = true, chunk_size = true, on_progress = true },
  run_to = { incremental = true, copy = true, truncate = true, chunk_size = true, on_progress = true,
             prefix = true },
  verify = { on_progress = true },
  restore = { to_generation = true, live_log_path = true, on_progress = true, instance = true,
              overwrite = true, base_name = true, verify = true },
}

-- opts or {} after checking its keys against OPTIONS[fname]; level 3 blames
-- the caller of backup.<fname>.
local function check_opts(opts, fname)
  if opts == nil then return {} end
  if type(opts) ~= "table" then error(("backup.%s: opts must be a table"):format(fname), 3) end
  for k in pairs(opts) do
    if not OPTIONS[fname][k] then error(("backup.%s: unknown option '%s'"):format(fname, tostring(k)), 3) end
  end
  return opts
end

-- The kind of a run: full (truncated), copy (full, not truncated),
-- incremental (truncated), differential (incremental, not truncated).
local function plan(opts, op)
  if opts.copy and opts.incremental then
    raise("JET_errInvalidParameter", op, "copy and incremental exclude each other")
  end
  if opts.copy and opts.truncate then
    raise("JET_errInvalidParameter", op, "a copy backup is never truncated")
  end
  local truncate = opts.truncate
  if truncate == nil then truncate = not opts.copy end
  local kind
  if opts.incremental then kind = truncate and "incremental" or "differential"
  else kind = truncate and "full" or "copy" end
  local chunk = opts.chunk_size or backup.CHUNK
  return { kind = kind, incremental = not not opts.incremental, truncate = truncate, chunk = chunk }
end

-- ---------------------------------------------------------------------------
-- The sequence, shared by run and run_to.
--
-- out:open(name, size) -> w with w.write(chunk) and w.close();
-- out.local_path(name), when the files land on the local disk;
-- out.before_end(manifest), called once every file is written, before
-- truncation and End.  st records what must be undone on failure (began,
-- the open hasher, open files) and counts the bytes.

local function stream_file(inst, path, what, p, out, st, on_progress)
  local name = basename(path)
  if not backup.safe_name(name) then
    raise("JET_errInvalidPath", "run", "%s: not a name a backup set can hold", path)
  end
  if st.names[name] then
    raise("JET_errInvalidPath", "run", "two files of the backup are named %s", name)
  end
  st.names[name] = true
  local r <close> = inst:open_file(path)
  local size = r:size()
  local w = out:open(name, size)
  local h = fs.sha256()
  st.hasher = h
  local done = 0
  if on_progress then
    on_progress({ phase = what, file = name, done = 0, total = size, bytes = st.bytes, kind = p.kind })
  end
  while true do
    local chunk = r:read(p.chunk)
    if not chunk then break end
    h:update(chunk)
    w.write(chunk)
    done = done + #chunk
    st.bytes = st.bytes + #chunk
    -- the last chunk's callback comes after the file is closed (synced):
    -- a caller that yields from it waits for the sync or for the next
    -- step (GetLogInfo, which rolls the log), never for both
    if on_progress and done < size then
      on_progress({ phase = what, file = name, done = done, total = size, bytes = st.bytes, kind = p.kind })
    end
  end
  r:close()
  w.close()
  if on_progress and done >= size and size > 0 then
    on_progress({ phase = what, file = name, done = done, total = size, bytes = st.bytes, kind = p.kind })
  end
  st.hasher = nil
  local sum = h:finish()
  if done ~= size then
    raise(what == "log" and "JET_errLogReadVerifyFailure" or "JET_errReadVerifyFailure", "run",
      "%s streamed %d bytes, the reader announced %d", name, done, size)
  end
  return { name = name, type = what, size = size, sha256 = sum, source = path }
end

local function sequence(inst, p, opts, out, st)
  local on_progress = opts.on_progress
  local t0 = os.time()
  inst:begin_external_backup(p.incremental and { incremental = true } or nil)
  st.began = true
  local files = {}
  if not p.incremental then
    local dbs = inst:get_attach_info()
    -- a full (or copy) set without a database cannot be restored: refuse it
    -- before a byte is written or a log truncated (the caller ends the
    -- backup with abort)
    if #dbs == 0 then
      raise("JET_errDatabaseNotFound", "run", "a %s backup needs an attached database; none is attached", p.kind)
    end
    for _, path in ipairs(dbs) do
      local e = stream_file(inst, path, "database", p, out, st, on_progress)
      files[#files + 1] = e
    end
  end
  local logs, info = inst:get_log_info()
  for _, path in ipairs(logs) do
    local e = stream_file(inst, path, "log", p, out, st, on_progress)
    files[#files + 1] = e
  end
  -- identities of the files, from the copies when there are (run) and from
  -- the sources (run_to; logs before truncation deletes them)
  local log_sig, page_size
  for _, e in ipairs(files) do
    local fi = ese.file_info(out.local_path and out.local_path(e.name) or e.source)
    page_size = page_size or fi.page_size
    if e.type == "database" then
      e.db_signature = fi.db_signature
      e.log_signature = fi.log_signature
    else
      e.generation = fi.generation
      log_sig = log_sig or fi.log_signature
      if fi.log_signature ~= log_sig then
        raise("JET_errGivenLogFileHasBadSignature", "run", "log %s belongs to another log stream", e.name)
      end
    end
    e.source = nil
  end
  local manifest = {
    format = backup.FORMAT,
    format_version = backup.FORMAT_VERSION,
    engine_version = ese.version,
    kind = p.kind,
    truncated = p.truncate,
    time = os.date("!%Y-%m-%dT%H:%M:%SZ", t0),
    time_unix = t0,
    page_size = page_size,
    base_name = info.base_name,
    log_signature = log_sig,
    gen_low = info.gen_low,
    gen_high = info.gen_high,
    files = files,
  }
  if out.before_end then out.before_end(manifest) end
  if p.truncate then
    if on_progress then on_progress({ phase = "truncate", done = 0, total = 0, bytes = st.bytes, kind = p.kind }) end
    -- from here on the engine may delete logs that only the set holds: a
    -- failure must keep the (complete) set
    st.truncating = true
    inst:truncate_log()
  end
  inst:end_external_backup()
  st.began = false
  return manifest
end

-- Undo after a failure: the open hasher, and End(abort) of a backup this
-- call began and that still runs (its own error is not interesting: a
-- stop, or a log error that already ended the backup).
local function undo(inst, st)
  if st.hasher then st.hasher:close() end
  if st.began then pcall(inst.end_external_backup, inst, { abort = true }) end
  st.began = false
end

-- The manifest as JSON: one key per line, one file per line, keys sorted,
-- so that a human can read it and diff two of them.
local function encode_manifest(m)
  local keys = {}
  for k in pairs(m) do if k ~= "files" then keys[#keys + 1] = k end end
  table.sort(keys)
  local lines = {}
  for _, k in ipairs(keys) do lines[#lines + 1] = "  " .. cjson.encode(k) .. ": " .. cjson.encode(m[k]) end
  local files = {}
  for i, f in ipairs(m.files) do
    local fk = {}
    for k in pairs(f) do fk[#fk + 1] = k end
    table.sort(fk)
    local parts = {}
    for j, k in ipairs(fk) do parts[j] = cjson.encode(k) .. ": " .. cjson.encode(f[k]) end
    files[i] = "    {" .. table.concat(parts, ", ") .. "}"
  end
  lines[#lines + 1] = '  "files": [\n' .. table.concat(files, ",\n") .. "\n  ]"
  return "{\n" .. table.concat(lines, ",\n") .. "\n}\n"
end
backup.encode_manifest = encode_manifest

local function report_of(manifest, st, extra)
  local r = {
    kind = manifest.kind, files = #manifest.files, bytes = st.bytes,
    gen_low = manifest.gen_low, gen_high = manifest.gen_high, manifest = manifest,
  }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

-- Monotonic seconds (a float; for durations only).
local now = fs.clock
backup.now = now

-- ---------------------------------------------------------------------------
-- run: a set in a folder

--- Runs the whole backup sequence of inst into the folder dest.
-- The set is written into `<dest>.partial` (mode 0700, files 0600),
-- fsynced, given its manifest.json, truncated when asked, ended, and only
-- then renamed to dest.  Any failure ends the backup with End(abort),
-- removes `<dest>.partial` and raises the original error.
-- @param inst an initialized ese.Instance
-- @param dest the folder to create (absent, or an empty folder)
-- @param opts incremental, copy, truncate (default: true unless copy),
--   chunk_size (bytes, a multiple of the page size; default 1 MiB),
--   on_progress(p) with p.phase ("database", "log", then "check" while
--   every written file is read back, then "truncate"), p.file,
--   p.done, p.total (bytes of that file), p.bytes (all files so far),
--   p.kind; it may yield
-- @return report {kind, files (count), bytes, seconds, gen_low, gen_high,
--   dir, manifest}
function backup.run(inst, dest, opts)
  opts = check_opts(opts, "run")
  if type(dest) ~= "string" or dest == "" then error("backup.run: dest must be a folder path", 2) end
  local p = plan(opts, "run")
  dest = strip_slashes(dest)
  local leaf = basename(dest)
  if leaf == "." or leaf == ".." or dest == "/" then
    raise("JET_errInvalidPath", "run", "%s: name the set's own folder", dest)
  end
  local state = path_state(dest)
  if state == "link" then
    raise("JET_errInvalidPath", "run", "%s is a symbolic link: name the folder itself", dest)
  end
  if state == "folder" or state == "file" then
    raise("JET_errBackupDirectoryNotEmpty", "run", "%s exists and is not an empty folder", dest)
  end
  local partial = dest .. ".partial"
  if path_state(partial) ~= "absent" then
    raise("JET_errBackupDirectoryNotEmpty", "run",
      "%s exists (left by a failed run?): remove it first", partial)
  end
  check_path_length(partial, "run")
  -- the missing ancestors of dest (outermost first) and the partial folder:
  -- a failed run removes what it made, innermost first
  local made = {}
  local function remove_made()
    for i = #made, 1, -1 do pcall(fs.rmdir, made[i]) end
  end
  made = fs.mkdir_p(dirname(dest), 448)
  local mok, merr = pcall(function()
    fs.mkdir(partial, 448)
    fs.chmod(partial, 448)       -- 0700 whatever the umask
  end)
  if not mok then
    pcall(fs.rmdir, partial)
    remove_made()
    error(merr, 0)
  end
  local t0 = now()
  local st = { began = false, bytes = 0, names = {}, open = {} }
  local written = {}             -- name -> true: the files of the set so far
  local out = {}
  function out.local_path(name) return partial .. "/" .. name end
  -- a file of the set: created 0600 (O_EXCL), written and fsynced through
  -- the engine's I/O layer (so ESE_FAULT reaches it)
  local function create(name)
    local f = fs.create(partial .. "/" .. name)
    st.open[f] = true
    written[name] = true
    local w = {}
    function w.write(chunk) f:write(chunk) end
    function w.close()
      f:sync()
      f:close()
      st.open[f] = nil
    end
    return w
  end
  function out.open(_, name) return create(name) end
  -- the set is complete and checked before truncation and End: every file
  -- read back (size and SHA-256 as streamed), the manifest written last,
  -- everything fsynced
  function out.before_end(manifest)
    for _, e in ipairs(manifest.files) do
      local path = partial .. "/" .. e.name
      if type(e.sha256) ~= "string" or #e.sha256 ~= 64 then
        raise("JET_errDiskIO", "run", "%s has no SHA-256", e.name)
      end
      local size = file_size(path, "run")
      if size ~= e.size then
        raise("JET_errDiskIO", "run", "%s has %s bytes in the set, %d were streamed", path, tostring(size), e.size)
      end
      -- read back in chunks, a progress callback per chunk (phase "check"),
      -- so that a caller that yields from it never waits a whole file
      local function progress(done)
        if opts.on_progress then
          opts.on_progress({ phase = "check", file = e.name, done = done, total = size, bytes = st.bytes,
                             kind = p.kind })
        end
      end
      local h = fs.sha256()
      st.hasher = h
      progress(0)
      local got = read_chunks(path, size, p.chunk, h, function(_, _, done) progress(done) end)
      st.hasher = nil
      if got ~= size or h:finish() ~= e.sha256 then
        raise("JET_errDiskIO", "run", "%s in the set differs from the bytes streamed", path)
      end
    end
    local w = create(backup.MANIFEST)
    w.write(encode_manifest(manifest))
    w.close()
    fs.fsync_dir(partial)
  end
  -- the complete set takes dest's name (an empty dest folder gives way)
  local function publish()
    if state == "empty" then fs.rmdir(dest) end
    fs.rename(partial, dest)
    fs.fsync_dir(dirname(dest))
  end
  local ok, res = pcall(sequence, inst, p, opts, out, st)
  if not ok and st.truncating then
    -- the set is complete (manifest written and fsynced before the
    -- truncation), and the logs the truncation deleted may exist only in
    -- it: keep it at dest and raise the error all the same
    undo(inst, st)
    local kok, kerr = pcall(publish)
    local where = kok and dest or partial
    local note = ("the log truncation began, so the complete set is kept in %s%s"):format(where,
      kok and "" or (" (it cannot be renamed to " .. dest .. ": " .. tostring(kerr) .. ")"))
    if ese.is_error(res) then
      res.detail = res.detail and (tostring(res.detail) .. "; " .. note) or note
      error(res, 0)
    end
    raise("JET_errDiskIO", "run", "%s; %s", tostring(res), note)
  end
  if not ok then
    undo(inst, st)
    for f in pairs(st.open) do f:close() end
    -- the files this run made, by name (no descriptor needed: this works
    -- out of descriptors too), then anything else
    for name in pairs(written) do pcall(fs.remove, partial .. "/" .. name) end
    if not pcall(fs.rmdir, partial) then pcall(fs.remove_tree, partial) end
    remove_made()
    error(res, 0)
  end
  local manifest = res
  -- the engine recorded the backup already: from here on a failure keeps
  -- the complete set (under its .partial name)
  local rok, rerr = pcall(publish)
  if not rok then
    raise(ese.is_error(rerr) and rerr.name or "JET_errDiskIO", "run",
      "the set is complete in %s but cannot be renamed to %s: %s", partial, dest, tostring(rerr))
  end
  return report_of(manifest, st, { dir = dest, seconds = now() - t0 })
end

-- ---------------------------------------------------------------------------
-- run_to: a set as one tar stream

local function octal(n, width)
  -- width-1 octal digits and a NUL
  return string.format("%0" .. (width - 1) .. "o", n) .. "\0"
end

local function tar_size_field(n)
  if n < 8 ^ 11 then return octal(n, 12) end
  -- GNU base-256 for files of 8 GiB and more
  local b = {}
  for i = 11, 1, -1 do b[i] = string.char(n & 0xff); n = n >> 8 end
  return "\x80" .. table.concat(b)
end

--- One 512-byte ustar header.
-- @param name entry name (at most 100 bytes)
-- @param size bytes
-- @param mode e.g. 384 (0600)
-- @param mtime seconds
-- @param typeflag "0" file, "5" folder
function backup.tar_header(name, size, mode, mtime, typeflag)
  if #name > 100 then error("tar entry name longer than 100 bytes: " .. name) end
  local function pad(s, n) return s .. string.rep("\0", n - #s) end
  local head = pad(name, 100) .. octal(mode, 8) .. octal(0, 8) .. octal(0, 8) ..
    tar_size_field(size) .. octal(mtime, 12)
  local tail = (typeflag or "0") .. pad("", 100) .. "ustar\0" .. "00" .. pad("root", 32) ..
    pad("root", 32) .. octal(0, 8) .. octal(0, 8) .. pad("", 155)
  local sum = 0
  local blank = head .. "        " .. tail
  for i = 1, #blank do sum = sum + blank:byte(i) end
  local h = head .. string.format("%06o", sum) .. "\0 " .. tail
  return pad(h, 512)
end

local function tar_pad(size)
  local r = size % 512
  return r == 0 and "" or string.rep("\0", 512 - r)
end

local function sink_writer(sink)
  local t = type(sink)
  local function check(ok, err)
    if not ok and err ~= nil then
      raise("JET_errDiskIO", "run_to", "the sink failed: %s", tostring(err))
    end
  end
  if t == "function" then
    return function(s) check(sink(s)) end
  elseif (t == "table" or t == "userdata") and sink.write then
    return function(s) check(sink:write(s)) end
  end
  error("backup.run_to: sink must be a function or an object with a write method", 3)
end

--- Runs the whole backup sequence of inst into sink as one tar archive
-- (ustar): the databases, the logs, and manifest.json as the last entry
-- (written with the end blocks after every file and before the log
-- truncation and End, so a stream that stops early has no manifest, and a
-- sink that fails on it fails the run before a log is deleted).
-- Nothing is written to the local disk.  A failure before the truncation
-- ends the backup with End(abort) and raises; the archive is then left
-- without manifest and without its end blocks.  A failure in the
-- truncation or End raises too, after the whole archive went out.
-- @param inst an initialized ese.Instance
-- @param sink a function called with each piece (a string), or an object
--   with a write method (a file handle); it may yield; nil, err from it is
--   a failure
-- @param opts as for backup.run, plus prefix (a folder name for the
--   entries, e.g. "full-2024-05-01")
-- @return report {kind, files, bytes (of the files), archive_bytes, seconds, manifest}
function backup.run_to(inst, sink, opts)
  opts = check_opts(opts, "run_to")
  local put = sink_writer(sink)
  local p = plan(opts, "run_to")
  local prefix = opts.prefix and (strip_slashes(opts.prefix) .. "/") or ""
  if prefix ~= "" then
    for part in prefix:gmatch("[^/]+") do
      if part == ".." or part == "." then raise("JET_errInvalidPath", "run_to", "prefix %s", opts.prefix) end
    end
    if prefix:sub(1, 1) == "/" then raise("JET_errInvalidPath", "run_to", "prefix %s is absolute", opts.prefix) end
  end
  local t0 = now()
  local mtime = os.time()
  local st = { began = false, bytes = 0, names = {}, open = {} }
  local archive = 0
  local function emit(s) archive = archive + #s; put(s) end
  local out = {}
  local started = false
  function out.open(_, name, size)
    if not started and prefix ~= "" then
      emit(backup.tar_header(prefix, 0, 448, mtime, "5"))
    end
    started = true
    emit(backup.tar_header(prefix .. name, size, 384, mtime, "0"))
    local n = 0
    local w = {}
    function w.write(chunk) n = n + #chunk; emit(chunk) end
    function w.close()
      if n ~= size then
        raise("JET_errReadVerifyFailure", "run_to", "%s streamed %d bytes, the reader announced %d", name, n, size)
      end
      emit(tar_pad(size))
    end
    return w
  end
  -- the manifest and the end blocks go out before the truncation and End:
  -- a sink that fails on them makes the run fail before a log is deleted
  function out.before_end(manifest)
    local json = encode_manifest(manifest)
    emit(backup.tar_header(prefix .. backup.MANIFEST, #json, 384, mtime, "0"))
    emit(json .. tar_pad(#json))
    emit(string.rep("\0", 1024))
  end
  local ok, res = pcall(sequence, inst, p, opts, out, st)
  if not ok then
    undo(inst, st)
    error(res, 0)
  end
  return report_of(res, st, { archive_bytes = archive, seconds = now() - t0 })
end

-- ---------------------------------------------------------------------------
-- verify

local function read_manifest(dir)
  local name = basename(strip_slashes(dir))
  if name:match("%.partial$") then
    raise("JET_errInvalidBackup", "verify", "%s is an unfinished backup (named .partial)", dir)
  end
  local listed, kind = list_dir(dir)
  if not listed then
    if kind == "file" then raise("JET_errFileNotFound", "verify", "%s is a file, not a folder", dir) end
    raise("JET_errFileNotFound", "verify", "folder %s not found", dir)
  end
  if fs.stat(dir .. "/" .. backup.MANIFEST).kind == "absent" then return nil end
  local text = fs.read(dir .. "/" .. backup.MANIFEST)
  local ok, m = pcall(cjson.decode, text)
  if not ok or type(m) ~= "table" or m.format ~= backup.FORMAT or type(m.files) ~= "table" then
    raise("JET_errInvalidBackup", "verify", "%s/%s is not a lua-ese backup manifest", dir, backup.MANIFEST)
  end
  if type(m.format_version) ~= "number" or m.format_version > backup.FORMAT_VERSION then
    raise("JET_errInvalidBackup", "verify", "%s: manifest format %s is newer than this tool", dir,
      tostring(m.format_version))
  end
  -- lua-cjson decodes every number as a float
  local function int(v) return type(v) == "number" and math.tointeger(v) or v end
  m.gen_low, m.gen_high, m.page_size = int(m.gen_low), int(m.gen_high), int(m.page_size)
  for _, e in ipairs(m.files) do
    if type(e) == "table" then e.size, e.generation = int(e.size), int(e.generation) end
    if type(e) ~= "table" or not backup.safe_name(e.name) then
      raise("JET_errInvalidPath", "verify", "%s: the manifest names %q, which is not a plain file name",
        dir, type(e) == "table" and tostring(e.name) or "?")
    end
    if (e.type ~= "database" and e.type ~= "log") or math.type(e.size) ~= "integer" or type(e.sha256) ~= "string" then
      raise("JET_errInvalidBackup", "verify", "%s: the manifest entry of %s is incomplete", dir, e.name)
    end
  end
  return m
end

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
-- Is e the error of ese.file_info for a file without a valid header of
-- either kind (another kind of file, or a damaged database)?
local function no_header(e)
  return ese.is_error(e) and (e.name == "JET_errDatabaseCorrupted" or e.name == "JET_errFileInvalidType")
end

local function restore_reads(dir, name, base)
  if log_name_gen(name, base) then return true end
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
  local m = { format = backup.FORMAT, files = {}, manifest = false }
  local base, has_db
  for _, name in ipairs(fs.list(dir)) do
    local path = dir .. "/" .. name
    local size = file_size(path, "verify")         -- a regular file, not a link
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
    backup.MANIFEST) end
  m.base_name, m.kind = base, has_db and "full" or "incremental"
  return m
end

-- Verifies one set; returns its summary and { gen = log entry }.
local function verify_set(dir, on_progress, index, count)
  dir = strip_slashes(dir)
  local m = read_manifest(dir) or scan_set(dir)
  local present = list_dir(dir) or {}
  local listed = {}
  for _, e in ipairs(m.files) do listed[e.name] = e end
  local logs, dbs, bytes = {}, {}, 0
  local base = type(m.base_name) == "string" and m.base_name or "edb"
  for i, e in ipairs(m.files) do
    local path = dir .. "/" .. e.name
    local islog = e.type == "log"
    local size = file_size(path, "verify")
    if not size then
      if islog then raise("JET_errMissingRestoreLogFiles", "verify", "%s: log %s is missing", dir, e.name) end
      raise("JET_errFileNotFound", "verify", "%s: database %s is missing", dir, e.name)
    end
    local bad = islog and "JET_errLogReadVerifyFailure" or "JET_errReadVerifyFailure"
    if size ~= e.size then
      raise(bad, "verify", "%s: %s has %d bytes, the manifest says %d", dir, e.name, size, e.size)
    end
    -- identity first (a foreign file is named as such), then every checksum;
    -- a set without manifest read every header in scan_set already
    local ok, fi = true, e.fi
    if not fi then ok, fi = pcall(ese.file_info, path) end
    if not ok then
      if islog and no_header(fi) then
        raise("JET_errLogFileCorrupt", "verify", "%s: %s has no valid log header", dir, e.name)
      end
      error(fi, 0)
    end
    if islog then
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
      logs[fi.generation] = e
    else
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
      dbs[#dbs + 1] = e
    end
    -- every checksum, reading each file once in chunks (a callback per
    -- chunk, which may yield): a database's pages are checked in the
    -- chunks the SHA-256 is fed with; a log's records are checked by
    -- ese.file_info in one call (a log file is small: 1 MiB by default)
    if islog then
      local vok, verr = pcall(ese.file_info, path, true)
      if not vok then
        if ese.is_error(verr) then verr.op = "verify" end
        error(verr, 0)
      end
    end
    local function progress(done)
      if on_progress then
        on_progress({ phase = "verify", file = e.name, done = done, total = size, index = i, files = #m.files,
                      set = index, sets = count })
      end
    end
    local h = fs.sha256()
    local copy_sig = fi.state == "backup_copy" and fi.db_signature or nil
    local ps = fi.page_size
    -- whole pages per chunk (the page size divides backup.CHUNK)
    local chunk = math.max(ps, backup.CHUNK - backup.CHUNK % ps)
    progress(0)
    local got = read_chunks(path, size, chunk, h, function(data, off, done)
      if not islog then
        local whole = #data - #data % ps
        ese.verify_pages(path, whole == #data and data or data:sub(1, whole), off // ps, ps, size, copy_sig)
      end
      progress(done)
    end)
    local sum = h:finish()
    if got ~= size then
      raise(bad, "verify", "%s: %s changed size while read (%d bytes, not %d)", dir, e.name, got, size)
    end
    if m.manifest == false then
      e.sha256 = sum                               -- for the chain's comparisons
    elseif sum ~= e.sha256 then
      raise(bad, "verify", "%s: %s does not match its SHA-256 in the manifest", dir, e.name)
    end
    bytes = bytes + size
  end
  -- every generation of the set's range, and nothing a restore would pick
  -- up that the manifest does not list
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
  for name in pairs(present) do
    if not listed[name] and restore_reads(dir, name, base) then
      local ok, fi = pcall(ese.file_info, dir .. "/" .. name)
      if ok and fi.log_signature ~= m.log_signature then
        raise("JET_errGivenLogFileHasBadSignature", "verify", "%s: %s belongs to another instance", dir, name)
      end
      raise("JET_errInvalidBackup", "verify", "%s: %s is not listed in the manifest", dir, name)
    end
  end
  -- a restore maps each database of the logs to one file of the set
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
  if on_progress then
    on_progress({ phase = "verify", done = bytes, total = bytes, index = #m.files, files = #m.files, set = index,
                  sets = count })
  end
  local databases = {}
  for i, d in ipairs(dbs) do databases[i] = d.name end
  return { dir = dir, kind = m.kind, time = m.time, gen_low = m.gen_low, gen_high = m.gen_high,
           manifest = m.manifest ~= false,
           files = #m.files, bytes = bytes, databases = databases, log_signature = m.log_signature,
           page_size = m.page_size, base_name = base }, logs
end

--- Verifies a backup set, or a chain {full, incremental, ...}, without
-- restoring: the manifest (base names only), every file's presence, size
-- and SHA-256, every database page checksum and every log record
-- (ese.file_info), signatures, and the generations of the chain.
-- @param dirs a folder, or a list of folders (a full or copy set first)
-- Each file is read once, in chunks of backup.CHUNK bytes, with a
-- progress callback per chunk (it may yield: a caller's event loop runs
-- between two chunks); called outside a coroutine it simply blocks.
-- @param opts on_progress{phase = "verify", file, done, total (bytes of
--   that file), index, files (its position and the set's file count), set,
--   sets}; once per set without file, done = total = the set's bytes
-- @return report {sets = {...}, kind, files, bytes, gen_low, gen_high,
--   databases, seconds}; raises the error object of the first fault
function backup.verify(dirs, opts)
  opts = check_opts(opts, "verify")
  if type(dirs) == "string" then dirs = { dirs } end
  if type(dirs) ~= "table" or #dirs == 0 then error("backup.verify: a folder or a list of folders", 2) end
  local t0 = now()
  local report = { sets = {}, files = 0, bytes = 0, databases = {} }
  local all = {}
  local prev
  for i, dir in ipairs(dirs) do
    local s, logs = verify_set(dir, opts.on_progress, i, #dirs)
    if i == 1 then
      if s.kind ~= "full" and s.kind ~= "copy" then
        raise("JET_errMissingFullBackup", "verify", "%s: a chain starts with a full (or copy) set, not a %s one",
          s.dir, s.kind)
      end
      report.gen_low = s.gen_low
      report.databases = s.databases
    else
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
    for g, e in pairs(logs) do
      local old = all[g]
      if old and old.sha256 ~= e.sha256 then
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
  for g = report.gen_low + 1, report.gen_high do
    local a, b = all[g - 1], all[g]
    if a and b and b.prev_created_us ~= a.created_us then
      raise("JET_errGivenLogFileIsNotContiguous", "verify", "log %s does not follow %s", b.name, a.name)
    end
  end
  local kinds = {}
  report.manifest = true
  for i, s in ipairs(report.sets) do
    kinds[i] = s.kind
    report.manifest = report.manifest and s.manifest
  end
  report.kind = table.concat(kinds, "+")
  report.base_name = report.sets[1].base_name
  report.seconds = now() - t0
  return report
end

-- ---------------------------------------------------------------------------
-- restore

--- Verifies a set (or a chain) and restores it into dest with ese.restore.
-- @param dirs a folder or a list {full, incremental, ...}
-- @param dest the folder to restore into
-- @param opts to_generation (point-in-time: replay no further), live_log_path,
--   on_progress (phase "verify", then "restore"; it may yield), instance,
--   overwrite (restore into a dest that is not empty: see ese.restore),
--   verify = false to skip the verification
-- @return report {verify = verify report, bytes, steps, seconds, dest}
function backup.restore(dirs, dest, opts)
  opts = check_opts(opts, "restore")
  if type(dirs) == "string" then dirs = { dirs } end
  if type(dest) ~= "string" or dest == "" then error("backup.restore: dest must be a folder path", 2) end
  local t0 = now()
  local v
  if opts.verify ~= false then v = backup.verify(dirs, { on_progress = opts.on_progress }) end
  if opts.to_generation and v and (opts.to_generation < v.gen_low) then
    raise("JET_errEndingRestoreLogTooLow", "restore", "to_generation %d is before the set's first generation %d",
      opts.to_generation, v.gen_low)
  end
  local r = ese.restore(dirs, dest, {
    to_generation = opts.to_generation,
    live_log_path = opts.live_log_path,
    on_progress = opts.on_progress,
    instance = opts.instance,
    overwrite = opts.overwrite,
    base_name = opts.base_name or (v and v.base_name),
  })
  return { verify = v, bytes = r.bytes, steps = r.steps, dest = dest, seconds = now() - t0,
           gen_low = v and v.gen_low, gen_high = v and v.gen_high }
end

return backup
