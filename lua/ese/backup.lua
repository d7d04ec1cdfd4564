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
--   backup.expire(root, opts)           retention: which sets go, and deleting them
--
-- A set is a folder holding the streamed databases, the logs and
-- manifest.json.  manifest.json is written last: a folder without it (or
-- still named `<dest>.partial`) is not a backup set, and verify and restore
-- refuse it.  File names in a manifest are base names, never paths.
--
-- This module is the facade: every public name is here, the work is in
-- ese.backup_run (run, run_to), ese.backup_verify (verify), ese.manifest
-- (manifest.json), ese.tar (the archive's headers) and ese.util (error
-- objects, paths, files); the map is docs/internals.md.
--
-- Checksums: every file's SHA-256 (ese.fs.sha256, OpenSSL's libcrypto, fed
-- with the bytes as they stream, so run_to needs no local copy), on top of
-- the engine's own checks (page checksums, log records: ese.file_info).
-- @module ese.backup
local ese = require "ese"
local util = require "ese.util"
local manifest = require "ese.manifest"
local tar = require "ese.tar"
local run = require "ese.backup_run"
local verify = require "ese.backup_verify"
local expire = require "ese.expire"

local raise = util.raise
local now = util.now
local absolute = ese.fs.absolute

-- The folder arguments of a call, absolute (joined to the working folder
-- of its start): a call runs across yields and progress callbacks, and a
-- chdir meanwhile (lfs.chdir, another coroutine) must not send its later
-- reads, writes or deletions into another folder.
-- op: the call an error names.
local function absolute_all(dirs, op)
  local out = {}
  for i, d in ipairs(dirs) do out[i] = type(d) == "string" and d ~= "" and absolute(d, op) or d end
  return out
end

local function absolute_opts(opts, keys, op)
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  for _, k in ipairs(keys) do
    if type(o[k]) == "string" and o[k] ~= "" then o[k] = absolute(o[k], op) end
  end
  return o
end

local backup = {}

backup.FORMAT = manifest.FORMAT
backup.FORMAT_VERSION = manifest.FORMAT_VERSION
backup.MANIFEST = manifest.NAME
-- backup.CHUNK (bytes read per step, 1 MiB) lives in util.settings, which
-- run and verify read at each call: reading or setting backup.CHUNK reads
-- or sets it there.
setmetatable(backup, {
  __index = function(_, k) if k == "CHUNK" then return util.settings.CHUNK end end,
  __newindex = function(t, k, v)
    if k == "CHUNK" then util.settings.CHUNK = v else rawset(t, k, v) end
  end,
})

--- An ese.Error object built in Lua, like those the engine raises.
-- @param name a JET_err name (ese.errors[name] is its code)
-- @param op the operation ("run", "verify", ...)
-- @param detail a sentence naming the file or the fact
backup.error = util.error

--- A base name that is safe to join to a folder: no "/", no "..", no
-- control character or backslash, not empty.
backup.safe_name = util.safe_name

--- The manifest as JSON (ese.manifest.encode).
backup.encode_manifest = manifest.encode

--- One 512-byte ustar header (ese.tar.header).
backup.tar_header = tar.header

--- Monotonic seconds (a float; for durations only).
backup.now = now

-- The options each function takes, with the type each must have: a key not
-- listed is a plain error at the caller (a misspelt option must never be
-- ignored: `incremantal = true` would run a full backup that truncates the
-- logs), and so is a value of another type (`dry_run = "no"` must not be
-- read as true).  "integer": a number with an integer value; "function":
-- a function or a value with a __call metamethod; "any": checked further
-- on (restore's instance, by ese.restore).
local OPTIONS = {
  run = { incremental = "boolean", copy = "boolean", truncate = "boolean", chunk_size = "integer",
          on_progress = "function", compress = "string", level = "integer" },
  run_to = { incremental = "boolean", copy = "boolean", truncate = "boolean", chunk_size = "integer",
             on_progress = "function", prefix = "string", compress = "string", level = "integer" },
  verify = { on_progress = "function" },
  restore = { to_generation = "integer", live_log_path = "string", on_progress = "function", instance = "any",
              overwrite = "boolean", base_name = "string", verify = "boolean", archive_path = "string",
              to_time = "number", allow_partial = "boolean", restore_command = "string" },
  expire = { keep_full = "integer", keep_within = "number", archive_path = "string", dry_run = "boolean",
             now = "number", on_progress = "function", verify = "boolean" },
}

-- True when v has the type kind names (see OPTIONS).
local function has_kind(v, kind)
  if kind == "any" then return true end
  if kind == "integer" then return type(v) == "number" and math.tointeger(v) ~= nil end
  if kind == "function" then
    local mt = getmetatable(v)
    return type(v) == "function" or (type(mt) == "table" and mt.__call ~= nil)
  end
  return type(v) == kind
end

-- An ese.Instance (open or closed: a closed one raises its own error
-- object further on), else an argument error blaming the caller of
-- backup.<fname> (level 3), before anything is done.
local function check_instance(inst, fname)
  local mt = type(inst) == "userdata" and getmetatable(inst)
  if not (type(mt) == "table" and mt.__name == "ese.Instance") then
    error(("backup.%s: inst must be an ese.Instance, not %s"):format(fname, type(inst)), 3)
  end
end

-- opts or {} after checking its keys and their types against
-- OPTIONS[fname]; level 3 blames the caller of backup.<fname>.  Values
-- out of range are the engine's JET_errInvalidParameter further on.
local CHAIN = {
  verify = "backup.verify({ full, inc1, ... })",
  restore = "backup.restore({ full, inc1, ... }, dest)",
}
local function check_opts(opts, fname)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    -- a string there is most likely the next set of a chain given as
    -- another argument, as `ese restore FULL INC DEST` takes it
    local hint = type(opts) == "string" and CHAIN[fname]
    error(("backup.%s: opts must be a table, not %s%s"):format(fname, type(opts),
      hint and (": a chain of sets is one list, " .. hint) or ""), 3)
  end
  for k, v in pairs(opts) do
    local kind = OPTIONS[fname][k]
    if not kind then error(("backup.%s: unknown option '%s'"):format(fname, tostring(k)), 3) end
    if not has_kind(v, kind) then
      error(("backup.%s: %s must be %s, not %s"):format(fname, k, util.a(kind), type(v)), 3)
    end
  end
  return opts
end

--- Runs the whole backup sequence of inst into the folder dest.
-- The set is written into `<dest>.partial` (mode 0700, files 0600),
-- fsynced, given its manifest.json and renamed to dest, then the logs are
-- truncated when asked and the backup ended.  A failure before the
-- truncation ends the backup with End(abort), removes the set and raises
-- the original error; from the truncation on the complete set stays at
-- dest.  A dest named *.partial (what verify and restore refuse as an
-- unfinished run) is JET_errInvalidPath.
-- @param inst an initialized ese.Instance
-- @param dest the folder to create (absent, or an empty folder)
-- @param opts incremental, copy, truncate (default: true unless copy),
--   chunk_size (bytes, a multiple of the page size; default 1 MiB),
--   compress ("zstd": every file stored as NAME.zst, compressed as it
--   streams; "none", the default), level (zstd's, 1 .. 19, default 1; a
--   value out of range, an unknown compress or a level without compress:
--   JET_errInvalidParameter before anything is made),
--   on_progress(p) with p.phase ("checkpoint" per slice of Begin's
--   checkpoint, "database", "cutoff" per slice of the cut-off's, "log",
--   then "check" while every written file is read back, then "truncate"
--   before each part of the log truncation, then "end" before each step
--   of End),
--   p.file,
--   p.done, p.total (bytes of that file), p.bytes (all files so far),
--   p.kind; it may yield
-- @return report {kind, files (count), bytes, seconds, gen_low, gen_high,
--   dir, manifest}
function backup.run(inst, dest, opts)
  opts = check_opts(opts, "run")
  check_instance(inst, "run")
  if type(dest) ~= "string" or dest == "" then error("backup.run: dest must be a folder path", 2) end
  return run.run(inst, absolute(dest, "run"), opts)
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
--   a failure; an object's flush method, when it has one, is called once
--   the end blocks went out, before the truncation (its nil, err too)
-- @param opts as for backup.run, plus prefix (a folder name for the
--   entries, e.g. "full-2024-05-01"); with compress = "zstd" the whole
--   archive is one zstd stream (a .tar.zst: a tar entry announces its
--   size before its bytes, so a file cannot be compressed alone inside
--   it without being held whole); unpacked, it is a plain set
-- @return report {kind, files, bytes (of the files), archive_bytes, seconds, manifest}
function backup.run_to(inst, sink, opts)
  opts = check_opts(opts, "run_to")
  check_instance(inst, "run_to")
  local put, flush = run.sink_writer(sink)
  return run.run_to(inst, put, opts, flush)
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
--   databases, not_restored, seconds}; not_restored (nil: none) lists the
--   databases the chain's logs create or attach that no set holds, each
--   {path, name, how = "created" | "attached", generation}: a restore skips
--   them (ESE's hard restore does); raises the error object of the first fault
function backup.verify(dirs, opts)
  opts = check_opts(opts, "verify")
  if type(dirs) == "string" then dirs = { dirs } end
  if type(dirs) ~= "table" or #dirs == 0 then error("backup.verify: a folder or a list of folders", 2) end
  return verify.verify(absolute_all(dirs, "verify"), opts)
end

--- Verifies a set (or a chain) and restores it into dest with ese.restore.
-- @param dirs a folder or a list {full, incremental, ...}
-- @param dest the folder to restore into
-- @param opts to_generation (replay no further), to_time (seconds since the
--   epoch: replay no commit later), allow_partial, archive_path, live_log_path
--   (see ese.restore),
--   on_progress (phase "verify", then "restore"; it may yield), instance,
--   overwrite (restore into a dest that is not empty: see ese.restore),
--   verify = false to skip the verification
-- @return report {verify = verify report, bytes, steps, seconds, dest, gen_low, gen_high, and
--   ese.restore's last_generation, last_commit_time, last_commit_time_us, reached, stopped_at_time,
--   gap_generation, not_restored, fetch_end}
function backup.restore(dirs, dest, opts)
  opts = check_opts(opts, "restore")
  if type(dirs) == "string" then dirs = { dirs } end
  if type(dest) ~= "string" or dest == "" then error("backup.restore: dest must be a folder path", 2) end
  -- as ese.restore says it, before the set is read
  if opts.to_generation and opts.to_generation <= 0 then error("backup.restore: to_generation must be positive", 2) end
  if type(dirs) == "table" then dirs = absolute_all(dirs, "restore") end
  dest = absolute(dest, "restore")
  opts = absolute_opts(opts, { "archive_path", "live_log_path" }, "restore")
  local t0 = now()
  local v
  if opts.verify ~= false then v = backup.verify(dirs, { on_progress = opts.on_progress }) end
  if opts.to_generation and v and (opts.to_generation < v.gen_low) then
    raise("JET_errEndingRestoreLogTooLow", "restore", "to_generation %d is before the set's first generation %d",
      opts.to_generation, v.gen_low)
  end
  -- the restore starts a new timeline (edb.tl); its parent is the sets'
  -- (the newest set's manifest that names one; none: the stream's root):
  -- as the verify read them, or (verify = false) read here
  local parent
  for i, d in ipairs(type(dirs) == "table" and dirs or {}) do
    local tl
    if v then tl = v.sets[i].timeline
    else
      local got, m = pcall(manifest.read, d)
      tl = got and m and m.timeline
    end
    if manifest.timeline_ok(tl) then parent = tl end
  end
  local r = ese.restore(dirs, dest, {
    parent_timeline = parent,
    to_generation = opts.to_generation,
    to_time = opts.to_time,
    allow_partial = opts.allow_partial,
    archive_path = opts.archive_path,
    restore_command = opts.restore_command,
    live_log_path = opts.live_log_path,
    on_progress = opts.on_progress,
    instance = opts.instance,
    overwrite = opts.overwrite,
    base_name = opts.base_name or (v and v.base_name),
  })
  return { verify = v, bytes = r.bytes, steps = r.steps, dest = dest, seconds = now() - t0,
           gen_low = v and v.gen_low, gen_high = v and v.gen_high, last_generation = r.last_generation,
           last_commit_time = r.last_commit_time, last_commit_time_us = r.last_commit_time_us, reached = r.reached,
           stopped_at_time = r.stopped_at_time, gap_generation = r.gap_generation, not_restored = r.not_restored,
           fetch_end = r.fetch_end }
end

--- Retention over a folder of sets: the plan of what goes and what stays,
-- and (only with dry_run = false) the deletion.  A restore point is a full
-- (or copy) set, or an incremental reached from one through sets it
-- follows (same log stream, generations that continue, equal SHA-256 where
-- they overlap, headers that follow: the chain restore accepts).  Kept:
-- the keep_full newest full sets and every set their chains reach; with
-- keep_within, every restore point whose manifest time is within that many
-- seconds of now, with the sets of its path; sets expire cannot read (no
-- or a bad manifest, links, files, `.partial` folders), always.  Archived
-- log files (`<base>XXXXXXXX.log` in archive_path) go when older than the
-- first generation any kept restore point needs (its full set's gen_low).
-- Deletion (docs/backup.md, Retention): each set folder is first renamed to
-- `.expiring-NAME` (the root fsynced), then removed; a later expire
-- removes such leftovers first.  Killed at any point, every kept point
-- still restores.
-- @param root the folder holding the sets (not a link)
-- @param opts keep_full (integer >= 1, required: fewer is
--   JET_errInvalidParameter), keep_within (seconds >= 0), archive_path,
--   dry_run (default true: nothing is deleted), now (seconds since the
--   epoch, default os.time()), on_progress{phase = "invalidate" | "remove"
--   | "archive", path, done, total} after each deletion step, and
--   {phase = "verify", path (the set), file, done, total} per chunk the
--   verify below reads; it may yield; verify (default true: when anything
--   would go, each full set counted among the keep_full newest is read
--   whole by backup.verify first, and one it refuses is kept, not counted;
--   false: a stat of each file only)
-- @return the plan {keep = {paths}, delete = {paths, in deletion order},
--   reasons = {[path] = text}, points = {{sets = {paths, full first}, time,
--   gen_low, gen_high}}, sets = {[path] = {name, kind, time, gen_low,
--   gen_high, bytes}}, what = {[path] = "set" | "leftover" | "log" |
--   "other"}, bytes (of what goes), dry_run, deleted = {paths}}
--- Seconds of a duration as `ese expire --keep-within` takes it: "N"
-- (seconds) or N followed by s, m, h, d or w; nil for anything else.
backup.parse_duration = expire.parse_duration

function backup.expire(root, opts)
  opts = check_opts(opts, "expire")
  if type(root) ~= "string" or root == "" then error("backup.expire: root must be a folder path", 2) end
  local plan = expire.plan(absolute(root, "expire"), absolute_opts(opts, { "archive_path" }, "expire"))
  plan.deleted = {}
  if not plan.dry_run then plan.deleted = expire.run(plan, opts.on_progress) end
  return plan
end

return backup
