--- Taking a backup: the whole external-backup sequence of an instance
-- into a folder (run) or into one tar stream (run_to).  Reached through
-- ese.backup (backup.run, backup.run_to), which documents both; this
-- module starts no process (ese.fs for every file).
--
-- One sequence drives both sinks through an `out` strategy:
-- out:open(name, size) -> w with w.write(chunk) and w.close(done): the
-- file is closed (synced) then done(stored) is called, at once or (a
-- compressed set, zstd_out) while the next file streams, at the latest
-- in out.settle(), which the sequence calls after the last file;
-- out.local_path(name), when the files land on the local disk;
-- out.check_name(name), when out refuses some names (a tar entry's
-- length), called for every file before the first byte goes out;
-- out.before_end(manifest), called once every file is written, before
-- truncation and End.  st records what must be undone on failure (began,
-- the open hasher, the compressors and their hashers in st.zst, open
-- files) and counts the bytes.
-- @module ese.backup_run
local ese = require "ese"
local util = require "ese.util"
local manifest_m = require "ese.manifest"
local tar = require "ese.tar"
local expire_m = require "ese.expire"

local fs = ese.fs
local raise = util.raise
local basename, dirname = util.basename, util.dirname
local now = util.now
local settings = util.settings

local run = {}

local epoch_of = require("ese.core")._backup_epoch

-- Raises JET_errNoBackup unless the backup this run began (st.epoch) is
-- still the instance's: a run suspended in a callback while the
-- application ended its backup (end_external_backup{ abort = true }) and
-- another began must never drive, nor end, the other one (st.began is
-- cleared: the clean-up leaves it alone).
local function own(inst, st)
  if epoch_of(inst) ~= st.epoch then
    st.began = false
    raise("JET_errNoBackup", "run", "the backup this run began was ended, and another began, while it waited")
  end
end

-- inst:backup_step(opts) of the run's own backup.
local function own_step(inst, st, opts)
  own(inst, st)
  return inst:backup_step(opts)
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
  -- integers may come as floats of an integer value (ese.backup checked): 2.0 is 2
  local chunk = math.tointeger(opts.chunk_size) or settings.CHUNK
  if chunk <= 0 then
    raise("JET_errInvalidParameter", op, "chunk_size %d is not a positive multiple of the page size", chunk)
  end
  local compress = opts.compress
  if compress == "none" then compress = nil end
  if compress ~= nil and compress ~= "zstd" then
    raise("JET_errInvalidParameter", op, "compress %q: this tool writes \"zstd\" or \"none\"", compress)
  end
  local zstd = ese.zstd
  if opts.level ~= nil and not compress then
    raise("JET_errInvalidParameter", op, "level %d without compress = \"zstd\"", opts.level)
  end
  local level = math.tointeger(opts.level) or zstd.LEVEL_DEFAULT
  if level < zstd.LEVEL_MIN or level > zstd.LEVEL_MAX then
    raise("JET_errInvalidParameter", op, "zstd level %d is not in %d .. %d", level, zstd.LEVEL_MIN, zstd.LEVEL_MAX)
  end
  return { kind = kind, incremental = not not opts.incremental, truncate = truncate, chunk = chunk,
           compress = compress, level = compress and level or nil }
end

-- ---------------------------------------------------------------------------
-- The sequence, shared by run and run_to

-- The names of the files at paths (of kind what) checked, before a byte
-- of any of them goes out (a sink that got half a tar is a half-written
-- output): names a set can hold, no two alike (st.names), no database
-- under a name of the set's own files or of a restore's for the logs'
-- base name base (util.db_name_problem), none over what out takes
-- (out.check_name: a tar entry's 100 bytes).
local function check_names(paths, what, st, out, base)
  for _, path in ipairs(paths) do
    local name = basename(path)
    if not util.safe_name(name) then
      raise("JET_errInvalidPath", "run", "%s: not a name a backup set can hold", path)
    end
    if st.names[name] then
      raise("JET_errInvalidPath", "run", "two files of the backup are named %s", name)
    end
    local problem = what == "database" and util.db_name_problem(name, base)
    if problem then raise("JET_errInvalidPath", "run", "database %s: a set cannot hold it under %s", path, problem) end
    if out.check_name then out.check_name(name) end
    st.names[name] = true
  end
end

-- One file (its name checked by check_names) through out.
local function stream_file(inst, path, what, p, out, st, on_progress)
  local name = basename(path)
  own(inst, st)
  -- the page size is the files' (the instance's: attach refuses a database
  -- of another): the first file says it, before a byte goes out, and every
  -- later one has it; the reader's own refusal would name its "read size",
  -- not the option
  if not p.page_size then
    p.page_size = ese.file_info(path).page_size
    if p.chunk % p.page_size ~= 0 then
      raise("JET_errInvalidParameter", "run", "chunk_size %d is not a multiple of the page size (%d)", p.chunk,
        p.page_size)
    end
  end
  local r <close> = inst:open_file(path)
  local size = r:size()
  -- a database's last page (the copy's trailer) is its own frame in a
  -- compressed set, so that a restore reads it without decoding the rest
  local w = out:open(name, size, p.compress_files and what == "database" and p.page_size or 0)
  local h = fs.sha256()
  st.hasher = h
  local done, over = 0, false
  local function progress()
    on_progress({ phase = what, file = name, done = done, total = size, bytes = st.bytes, kind = p.kind })
  end
  if on_progress then progress() end
  while true do
    local chunk = r:read(p.chunk)
    if not chunk then break end
    if done + #chunk > size then over = true; break end     -- more than announced: refused below
    -- to the set first: a compressed set's thread compresses the chunk
    -- while this one hashes it
    w.write(chunk)
    h:update(chunk)
    done = done + #chunk
    st.bytes = st.bytes + #chunk
    -- the last chunk's callback comes after the file is closed: a caller
    -- that yields from it waits for the sync or for the next step
    -- (GetLogInfo, which rolls the log), never for both.  A compressed
    -- file is closed (its compression ended, synced) while the next file
    -- streams, or in out.settle after the last one: between two callbacks
    -- of the next file or after the last file's last callback
    if on_progress and done < size then progress() end
  end
  r:close()
  if done ~= size or over then
    raise(what == "log" and "JET_errLogReadVerifyFailure" or "JET_errReadVerifyFailure", "run",
      "%s streamed %s bytes, the reader announced %d", name, over and "more than" or tostring(done), size)
  end
  st.hasher = nil
  local sum = h:finish()
  local e = { name = name, type = what, size = size, sha256 = sum, source = path }
  w.close(function(stored)
    if stored then    -- compressed: the entry names the stored file, with the original's size and hash
      e.name, e.size, e.sha256, e.content_size, e.content_sha256 = stored.name, stored.size, stored.sha256, size, sum
    end
  end)
  if on_progress and done >= size and size > 0 then progress() end
  return e
end

-- The backup's pending checkpoint one slice per call, so that a caller
-- that yields from on_progress never waits for the whole cache to be
-- written back: Begin's (phase "checkpoint"), or with opts.cutoff the log
-- cut-off (the log rolls in the first call) and its checkpoint (phase
-- "cutoff").  done counts the slices; total is 0 (unknown ahead).
local function checkpoint(inst, p, st, on_progress, opts)
  local phase, n = opts and opts.cutoff and "cutoff" or "checkpoint", 0
  while own_step(inst, st, opts) do
    n = n + 1
    if on_progress then
      on_progress({ phase = phase, done = 0, total = 0, slice = n, bytes = st.bytes, kind = p.kind })
    end
  end
end

-- Every file of the backup, streamed through out: the databases (not for
-- an incremental), then the logs.  Returns the entries and GetLogInfo's info.
local function stream_all(inst, p, out, st, on_progress)
  local files = {}
  if not p.incremental then
    own(inst, st)
    local dbs = inst:get_attach_info()
    -- a full (or copy) set without a database cannot be restored: refuse it
    -- before a byte is written or a log truncated (the caller ends the
    -- backup with abort)
    if #dbs == 0 then
      raise("JET_errDatabaseNotFound", "run", "a %s backup needs an attached database; none is attached", p.kind)
    end
    -- every name, with the logs' base name (the instance's: what
    -- get_log_info reports later), before the first byte
    check_names(dbs, "database", st, out, inst:base_name())
    for _, path in ipairs(dbs) do
      files[#files + 1] = stream_file(inst, path, "database", p, out, st, on_progress)
    end
  end
  -- the cut-off (the log rolls) and its checkpoint in slices, a callback
  -- between them; get_log_info then finds it done
  checkpoint(inst, p, st, on_progress, { cutoff = true })
  own(inst, st)
  local logs, info = inst:get_log_info()
  check_names(logs, "log", st, out)
  for _, path in ipairs(logs) do
    files[#files + 1] = stream_file(inst, path, "log", p, out, st, on_progress)
  end
  if out.settle then out.settle() end     -- the last compressed file, closed: every entry complete
  return files, info
end

-- The manifest of the streamed files: identities from the copies when
-- there are (run) and from the sources (run_to; logs before truncation
-- deletes them).
local function manifest_of(files, info, p, out, t0)
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
  return {
    format = manifest_m.FORMAT,
    format_version = p.compress_files and manifest_m.FORMAT_VERSION or manifest_m.PLAIN_VERSION,
    compress = p.compress_files and p.compress or nil,
    compress_level = p.compress_files and p.level or nil,
    engine_version = ese.version,
    kind = p.kind,
    truncated = p.truncate,
    time = os.date("!%Y-%m-%dT%H:%M:%SZ", t0),
    time_unix = t0,
    page_size = page_size,
    base_name = info.base_name,
    log_signature = log_sig,
    -- the instance's timeline (a restore started it; nil: the stream's
    -- root one) and its parent's: expire ranks each timeline's sets apart
    timeline = info.timeline,
    timeline_parent = info.timeline_parent,
    gen_low = info.gen_low,
    gen_high = info.gen_high,
    files = files,
  }
end

local function sequence(inst, p, opts, out, st)
  local on_progress = opts.on_progress
  local t0 = os.time()
  inst:begin_external_backup({ incremental = p.incremental, stepwise = true })
  st.began, st.epoch = true, epoch_of(inst)
  checkpoint(inst, p, st, on_progress)
  local files, info = stream_all(inst, p, out, st, on_progress)
  local manifest = manifest_of(files, info, p, out, t0)
  if out.before_end then out.before_end(manifest) end
  if p.truncate then
    local function note(n)
      if on_progress then
        on_progress({ phase = "truncate", done = 0, total = 0, part = n, bytes = st.bytes, kind = p.kind })
      end
    end
    note(0)
    -- from here on the engine may delete logs that only the set holds: a
    -- failure must keep the (complete) set
    st.truncating = true
    -- in parts of about 2 ms of log deletions (a deletion takes ms under
    -- load), the last syncing the log folder; a callback between two
    local n = 1
    while own_step(inst, st, { truncate = true }) do
      note(n)
      n = n + 1
    end
  end
  -- End writes each database's header record, a page a step, each page's
  -- sync on an engine thread while the caller yields (a step collects it,
  -- waiting a few ms at most): a callback between two steps
  local n = 0
  repeat
    if on_progress then
      on_progress({ phase = "end", done = 0, total = 0, part = n, bytes = st.bytes, kind = p.kind })
    end
    n = n + 1
  until not own_step(inst, st, { finish = true })
  st.began = false
  return manifest
end

-- The out strategy of a compressed set (run with compress = "zstd"):
-- each file goes through base (folder_out) as NAME.zst, compressed as it
-- streams on a thread of its own (ese.zstd, in C; no engine lock is held:
-- the chunks are plain strings between two reads of the reader), its last
-- `tail` bytes (a database's trailer page) in a frame of their own
-- (docs/format.md).  A file's compression goes on while the next file
-- streams: w.close(done) leaves it behind, the next file's writes pass
-- on its compressed bytes as they come, and the next file's close (or
-- out.settle, after the last file) waits for its end, writes its last
-- bytes, closes (syncs) it and calls done({ name, size, sha256 }) of the
-- stored file.  One file at most is behind: two compressors at most, each
-- holding a few chunks (zst.h, ZST_ASYNC_DEPTH).
local function zstd_out(base, p, st)
  local out = setmetatable({}, { __index = base })
  local behind        -- finish(wait) of the file behind: true once it is closed
  local function settle(wait)
    if behind and behind(wait) then behind = nil end
  end
  function out.open(_, name, size, tail)
    local zname = name .. ".zst"
    local cz = ese.zstd.compressor(p.level, size, tail)
    st.zst[cz] = true
    local w = base:open(zname)
    local h = fs.sha256()
    st.zst[h] = true
    local n = 0
    local function put(c)
      if #c > 0 then
        h:update(c)
        w.write(c)
        n = n + #c
      end
    end
    -- the compressed bytes ready (wait: all, at the compression's end) to
    -- the file; complete, the file closed and done called: true
    local function finish(wait, done)
      local c, complete
      if wait then c, complete = cz:finish(), true else c, complete = cz:flush() end
      put(c)
      if not complete then return false end
      cz:close()
      st.zst[cz] = nil
      w.close()
      st.zst[h] = nil
      done({ name = zname, size = n, sha256 = h:finish() })
      return true
    end
    local zw = {}
    function zw.write(chunk)
      put(cz:write(chunk))
      settle(false)
    end
    function zw.close(done)
      settle(true)
      behind = function(wait) return finish(wait, done) end
    end
    return zw
  end
  function out.settle() settle(true) end
  return out
end

-- Undo after a failure: the open hashers and compressors, and End(abort)
-- of a backup this call began and that still runs (its own error is not
-- interesting: a stop, or a log error that already ended the backup).
local function undo(inst, st)
  if st.hasher then st.hasher:close() end
  for o in pairs(st.zst) do o:close() end
  if st.began and epoch_of(inst) == st.epoch then pcall(inst.end_external_backup, inst, { abort = true }) end
  st.began = false
end

-- A to-be-closed guard: closed while armed (the caller's coroutine closed
-- with coroutine.close while the sequence yielded), it runs undo_fn; its
-- errors are dropped (nobody is left to raise to).  disarm() once the
-- sequence returned or failed: its own error path undoes.
local function close_guard(undo_fn)
  return setmetatable({ disarm = function(g) g.undo_fn = nil end, undo_fn = undo_fn }, {
    __close = function(g)
      local f = g.undo_fn
      g.undo_fn = nil
      if f then pcall(f) end
    end })
end

local function report_of(manifest, st, extra)
  local r = {
    kind = manifest.kind, files = #manifest.files, bytes = st.bytes,
    gen_low = manifest.gen_low, gen_high = manifest.gen_high, manifest = manifest,
  }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

-- ---------------------------------------------------------------------------
-- run: a set in a folder

-- A set's folder named *.partial is an unfinished run to verify, restore
-- and expire (manifest.read), one named .expiring-* a set expire was
-- deleting (expire deletes it first, unread): a set never takes such a
-- name.
local function refuse_partial(leaf, what, op)
  if leaf:match("%.partial$") then
    raise("JET_errInvalidPath", op, "%s: a folder named *.partial is an unfinished run to verify and restore: "
      .. "name the set otherwise", what)
  end
  if leaf:sub(1, #expire_m.LEFTOVER) == expire_m.LEFTOVER then
    raise("JET_errInvalidPath", op, "%s: a folder named %s* is a set backup.expire was deleting, which the next "
      .. "expire deletes unread: name the set otherwise", what, expire_m.LEFTOVER)
  end
end

-- Refuses a dest that cannot take a new set, before anything is made;
-- returns dest (no trailing slash), its state ("absent" or "empty") and
-- the partial folder's name.
local function check_dest(dest)
  dest = util.strip_slashes(dest)
  local leaf = basename(dest)
  if leaf == "." or leaf == ".." or dest == "/" then
    raise("JET_errInvalidPath", "run", "%s: name the set's own folder", dest)
  end
  refuse_partial(leaf, dest, "run")
  local state = util.path_state(dest)
  if state == "link" then
    raise("JET_errInvalidPath", "run", "%s is a symbolic link: name the folder itself", dest)
  end
  if state == "folder" or state == "file" then
    raise("JET_errBackupDirectoryNotEmpty", "run", "%s exists and is not an empty folder", dest)
  end
  local partial = dest .. ".partial"
  if util.path_state(partial) ~= "absent" then
    raise("JET_errBackupDirectoryNotEmpty", "run",
      "%s exists: a run into %s is still going (it ends as its set or is removed), or one was killed: "
      .. "remove it only once no run is going (a run still writing there would publish whatever the folder holds)",
      partial, dest)
  end
  util.check_path_length(partial, "run")
  return dest, state, partial
end

-- A set's folder named as a file the instance makes beside its logs
-- (B%08X.log, B.chk, Btmp.log, B.lck ... of its base name B, in any case):
-- made in the log folder, it would take the name from the instance: its
-- roll to that generation finds it taken (JET_errFileAlreadyExists, the
-- commit that rolls fails).  So is B%08X.log.part, the name the log
-- archive (archive_path) writes a generation under before renaming it:
-- made there, every ship of that generation fails and the archive stops
-- at it.  Refused wherever it is, before anything is made.
local function refuse_own_name(inst, dest)
  local base = inst:base_name()
  local leaf = basename(dest)
  -- the rule's names of base (not manifest.json, NAME.zst: a folder may take them)
  local problem = leaf:sub(1, #base):lower() == base:lower() and util.db_name_problem(leaf, base)
  if problem then
    raise("JET_errInvalidPath", "run", "%s: a set's folder cannot have %s", dest, problem)
  end
end

-- Makes the missing ancestors of dest and the partial folder (mode 0700
-- whatever the umask); returns a function that removes what it made,
-- innermost first (a failure here removes it at once), and the name of
-- the run's mark in the partial folder (own_partial).
local function make_partial(dest, partial)
  local made = fs.mkdir_p(dirname(dest), 448)
  local function remove_made()
    for i = #made, 1, -1 do pcall(fs.rmdir, made[i]) end
  end
  -- a name no other run takes (Lua 5.4 seeds math.random per state)
  local mark = (".ese-run-%08x%08x"):format(math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
  local made_partial = false
  local mok, merr = pcall(function()
    fs.mkdir(partial, 448)
    made_partial = true
    fs.chmod(partial, 448)
    fs.create(partial .. "/" .. mark):close()
  end)
  if not mok then
    if made_partial then
      pcall(fs.remove, partial .. "/" .. mark)
      pcall(fs.rmdir, partial)
    end
    remove_made()
    error(merr, 0)
  end
  return remove_made, mark
end

-- Whether ctx.partial is still the folder this run made (its mark is in
-- it): the files go in by name, and one removed meanwhile (by hand, while
-- the run waited in a callback) may be another run's by now, whose files
-- this run would then publish as its set, or delete as its own on failure.
-- (An inode number does not tell: a folder made after the removal often
-- gets the same one.)
local function own_partial(ctx)
  return fs.stat(ctx.partial).kind == "folder" and fs.stat(ctx.partial .. "/" .. ctx.mark).kind == "file"
end

local function check_own(ctx)
  if not own_partial(ctx) then
    raise("JET_errInvalidPath", "run", "%s was removed or replaced while the run wrote into it (another run or "
      .. "process at work there?): the set is not made, and that folder is left alone", ctx.partial)
  end
end

-- Reads every file of the set back (size and SHA-256 as streamed), in
-- chunks with a progress callback per chunk (phase "check"), so that a
-- caller that yields from it never waits a whole file.
local function read_back(partial, manifest, p, st, on_progress)
  for _, e in ipairs(manifest.files) do
    local path = partial .. "/" .. e.name
    if type(e.sha256) ~= "string" or #e.sha256 ~= 64 then
      raise("JET_errDiskIO", "run", "%s has no SHA-256", e.name)
    end
    local size = util.file_size(path, "run")
    if size ~= e.size then
      raise("JET_errDiskIO", "run", "%s has %s bytes in the set, %d were streamed", path, tostring(size), e.size)
    end
    local function progress(done)
      if on_progress then
        on_progress({ phase = "check", file = e.name, done = done, total = size, bytes = st.bytes, kind = p.kind })
      end
    end
    local h = fs.sha256()
    st.hasher = h
    progress(0)
    local got = util.read_chunks(path, size, p.chunk, h, function(_, _, done) progress(done) end)
    st.hasher = nil
    if got ~= size or h:finish() ~= e.sha256 then
      raise("JET_errDiskIO", "run", "%s in the set differs from the bytes streamed", path)
    end
  end
end

-- A sync of the set's own files or folders: in a coroutine that may yield
-- (with on_progress), on an engine thread (step() starts it and then
-- answers true while it runs, waiting a few ms at most each time) with a
-- progress callback (phase "sync", file the name synced) between two polls,
-- so that a caller that yields from it never waits for the disk; else
-- blocking() as one call.
local function synced(step, blocking, on_progress, info)
  if not (on_progress and coroutine.isyieldable()) then return blocking() end
  while step() do on_progress(info) end
end

-- The out strategy of run: files created 0600 (O_EXCL) in partial,
-- written and fsynced through the engine's I/O layer (so ESE_FAULT reaches
-- them); ctx.written[name] marks the files of the set so far.  The set is
-- complete and checked before truncation and End: every file read back,
-- the manifest written last, everything fsynced, and then it takes its
-- name (ctx.publish): a run killed in the truncation or in End, which may
-- have deleted logs that only the set holds and recorded it as the full
-- that the next incremental builds on, leaves the set at DEST, never a
-- .partial folder that verify and restore refuse.
local function folder_out(partial, p, opts, st, ctx)
  local written = ctx.written
  local out = {}
  local function info(name)
    return { phase = "sync", file = name, done = 0, total = 0, bytes = st.bytes, kind = p.kind }
  end
  function out.local_path(name) return partial .. "/" .. name end
  local function create(name)
    check_own(ctx)
    local f = fs.create(partial .. "/" .. name)
    st.open[f] = true
    written[name] = true
    local w = {}
    function w.write(chunk) f:write(chunk) end
    function w.close(done)
      synced(function() return f:sync_step() end, function() f:sync() end, opts.on_progress, info(name))
      f:close()
      st.open[f] = nil
      if done then done() end
    end
    return w
  end
  function out.open(_, name) return create(name) end
  -- the set's folder (or dest's parent, after the rename), as synced does
  -- it: yielding, an ese.SyncJob (an engine thread until it is closed),
  -- which is to-be-closed, so that every way out closes it (its sync's
  -- error, on_progress's, a coroutine closed while it yields)
  function out.sync_dir(path, name)
    if not (opts.on_progress and coroutine.isyieldable()) then return fs.fsync_dir(path) end
    local job <close> = fs.fsync_dir_start(path)
    while job:step() do opts.on_progress(info(name)) end
  end
  function out.before_end(manifest)
    read_back(partial, manifest, p, st, opts.on_progress)
    local w = create(manifest_m.NAME)
    w.write(manifest_m.encode(manifest))
    w.close()
    -- the set is what this run wrote: a file of another's in the folder
    -- would be published with it (a set that verify refuses)
    check_own(ctx)
    for _, name in ipairs(fs.list(partial)) do
      if not written[name] and name ~= ctx.mark then
        raise("JET_errInvalidPath", "run", "%s holds %s, which this run did not write (another run or process at "
          .. "work there?): the set is not made", partial, name)
      end
    end
    fs.remove(partial .. "/" .. ctx.mark)
    ctx.unmarked = true   -- the folder is still this run's (a failure from here removes it)
    out.sync_dir(partial, ".")
    ctx.publish()
  end
  return out
end

-- A failure of the sequence: keep the complete set once the truncation
-- began (the logs it deleted may exist only there; it took DEST's name
-- before) and raise with a note; else remove everything this run made
-- (from DEST when the set had taken its name: its publication failed, or
-- End of a run that truncates nothing) and raise the error as it is.
local function fail_run(inst, st, res, ctx)
  undo(inst, st)
  if st.truncating then
    local note = ("the log truncation began, so the complete set is kept in %s"):format(ctx.dest)
    if ese.is_error(res) then
      res.detail = res.detail and (tostring(res.detail) .. "; " .. note) or note
      error(res, 0)
    end
    raise("JET_errDiskIO", "run", "%s; %s", tostring(res), note)
  end
  for f in pairs(st.open) do f:close() end
  -- the files this run made, by name (no descriptor needed: this works
  -- out of descriptors too), then anything else
  local at = ctx.renamed and ctx.dest or ctx.partial
  -- a partial folder that is no longer the one this run made is another's:
  -- left alone
  if ctx.renamed or ctx.unmarked or own_partial(ctx) then
    for name in pairs(ctx.written) do pcall(fs.remove, at .. "/" .. name) end
    pcall(fs.remove, at .. "/" .. ctx.mark)
    if not pcall(fs.rmdir, at) then pcall(fs.remove_tree, at) end
  end
  if ctx.gave_way then pcall(fs.mkdir, ctx.dest, 448) end   -- it was there, empty
  ctx.remove_made()
  error(res, 0)
end

--- backup.run(inst, dest, opts), with opts checked by ese.backup.
function run.run(inst, dest, opts)
  local p = plan(opts, "run")
  local state, partial
  refuse_own_name(inst, util.strip_slashes(dest))
  dest, state, partial = check_dest(dest)
  local ctx = { dest = dest, partial = partial, written = {} }
  ctx.remove_made, ctx.mark = make_partial(dest, partial)
  local t0 = now()
  local st = { began = false, bytes = 0, names = {}, open = {}, zst = {} }
  local out = folder_out(partial, p, opts, st, ctx)
  if p.compress then
    p.compress_files = true
    out = zstd_out(out, p, st)
  end
  -- the complete set takes dest's name (an empty dest folder gives way)
  -- after its manifest, before the truncation (folder_out's before_end);
  -- ctx.renamed once it has it, even when the parent's sync then fails
  -- (the run then fails before it truncates: the rename may not survive a
  -- crash, and the set is removed again)
  function ctx.publish()
    if state == "empty" then
      fs.rmdir(dest)
      ctx.gave_way = true
    end
    fs.rename(partial, dest)
    ctx.renamed = true
    out.sync_dir(dirname(dest), "..")
  end
  local guard <close> = close_guard(function() fail_run(inst, st, "backup.run: closed before it finished", ctx) end)
  local ok, res = pcall(sequence, inst, p, opts, out, st)
  guard:disarm()
  if not ok then fail_run(inst, st, res, ctx) end
  return report_of(res, st, { dir = dest, seconds = now() - t0 })
end

-- ---------------------------------------------------------------------------
-- run_to: a set as one tar stream

--- put(s) for the sink of run_to: a function or an object with a write
-- method; nil, err from it is JET_errDiskIO.  A sink of another type is a
-- plain error blaming the caller of the caller (level 3).  Second result:
-- flush() for an object with a flush method too (a file handle: its buffer
-- holds the archive's last bytes), nil, err from it JET_errDiskIO; else nil.
function run.sink_writer(sink)
  local t = type(sink)
  local function check(ok, err)
    if not ok and err ~= nil then
      raise("JET_errDiskIO", "run_to", "the sink failed: %s", tostring(err))
    end
  end
  if t == "function" then
    return function(s) check(sink(s)) end
  elseif (t == "table" or t == "userdata") and sink.write then
    local flush = sink.flush and function() check(sink:flush()) end
    return function(s) check(sink:write(s)) end, flush
  end
  error("backup.run_to: sink must be a function or an object with a write method", 3)
end

-- The prefix of the entries ("" or "name/"); "." / ".." parts, an
-- absolute prefix and a NUL byte (a ustar name ends at it: every entry
-- would be named alike): JET_errInvalidPath.
local function entry_prefix(opts)
  local prefix = opts.prefix and (util.strip_slashes(opts.prefix) .. "/") or ""
  if prefix:find("\0", 1, true) then
    raise("JET_errInvalidPath", "run_to", "prefix %q holds a NUL byte: a tar entry's name ends there", opts.prefix)
  end
  if prefix ~= "" then
    for part in prefix:gmatch("[^/]+") do
      if part == ".." or part == "." then raise("JET_errInvalidPath", "run_to", "prefix %s", opts.prefix) end
    end
    if prefix:sub(1, 1) == "/" then raise("JET_errInvalidPath", "run_to", "prefix %s is absolute", opts.prefix) end
    refuse_partial(basename(util.strip_slashes(prefix)), "prefix " .. opts.prefix, "run_to")
  end
  if #prefix + #manifest_m.NAME > 100 then
    raise("JET_errInvalidPath", "run_to", "prefix %s: a tar entry's name (prefix/%s) holds at most 100 bytes",
      opts.prefix, manifest_m.NAME)
  end
  return prefix
end

-- A ustar header of an entry of the set; a name over the format's 100
-- bytes (a long database name) is JET_errInvalidPath, before any byte of
-- the entry goes out (out.check_name: before any byte of the set).
local function entry_name_check(name)
  if #name > 100 then
    raise("JET_errInvalidPath", "run_to", "tar entry %s: a name of at most 100 bytes (prefix and file name)", name)
  end
end

local function entry_header(name, size, mode, mtime, typeflag)
  entry_name_check(name)
  return tar.header(name, size, mode, mtime, typeflag)
end

-- The out strategy of run_to: every piece through emit(s).  The manifest
-- and the end blocks go out before the truncation and End: a sink that
-- fails on them makes the run fail before a log is deleted.
local function tar_out(emit, prefix, mtime)
  local out = {}
  local started = false
  function out.check_name(name) entry_name_check(prefix .. name) end
  function out.open(_, name, size)
    if not started and prefix ~= "" then
      emit(entry_header(prefix, 0, 448, mtime, "5"))
    end
    started = true
    emit(entry_header(prefix .. name, size, 384, mtime, "0"))
    local n = 0
    local w = {}
    function w.write(chunk) n = n + #chunk; emit(chunk) end
    function w.close(done)
      if n ~= size then
        raise("JET_errReadVerifyFailure", "run_to", "%s streamed %d bytes, the reader announced %d", name, n, size)
      end
      emit(tar.pad(size))
      done()
    end
    return w
  end
  function out.before_end(manifest)
    local json = manifest_m.encode(manifest)
    emit(entry_header(prefix .. manifest_m.NAME, #json, 384, mtime, "0"))
    emit(json .. tar.pad(#json))
    emit(tar.END)
  end
  return out
end

--- backup.run_to(inst, put, opts, flush), with opts checked and the sink
-- made a put function (and flush, or nil) by run.sink_writer in ese.backup.
function run.run_to(inst, put, opts, flush)
  local p = plan(opts, "run_to")
  local prefix = entry_prefix(opts)
  local t0 = now()
  local st = { began = false, bytes = 0, names = {}, open = {}, zst = {} }
  local archive = 0
  local function emit(s) archive = archive + #s; put(s) end
  local tar_bytes = 0
  local out
  if p.compress then
    -- the archive as one zstd stream (a .tar.zst): a tar entry announces
    -- its size before its bytes, which a file compressed alone would
    -- know only at its end
    local cz = ese.zstd.compressor(p.level)
    st.zst[cz] = true
    local function zemit(s)
      tar_bytes = tar_bytes + #s
      local c = cz:write(s)
      if #c > 0 then emit(c) end
    end
    out = tar_out(zemit, prefix, os.time())
    local before_end = out.before_end
    function out.before_end(manifest)     -- the manifest and end blocks, then the stream's end
      before_end(manifest)
      st.zst[cz] = nil
      emit(cz:finish())
    end
  else
    out = tar_out(emit, prefix, os.time())
  end
  if flush then
    -- the archive's last bytes (the manifest, the end blocks) may wait in
    -- the sink's buffer: out before the truncation deletes the logs the
    -- archive holds (a buffer that fails later, a full disk, would leave a
    -- cut archive and a run that said success)
    local before_end = out.before_end
    function out.before_end(manifest)
      before_end(manifest)
      flush()
    end
  end
  local guard <close> = close_guard(function() undo(inst, st) end)
  local ok, res = pcall(sequence, inst, p, opts, out, st)
  guard:disarm()
  if not ok then
    undo(inst, st)
    error(res, 0)
  end
  return report_of(res, st, { archive_bytes = archive, tar_bytes = p.compress and tar_bytes or nil,
                              seconds = now() - t0 })
end

return run
