--- ese: an embedded crash-safe storage engine modelled on Microsoft ESE.
-- The work is done in C (ese.core); this module re-exports it and adds the
-- version.  ese.errors maps names to numbers and numbers to names;
-- ese.Error is the metatable of every error object the engine raises.
-- Every function of ese.core (create_instance, init, term, stop_service,
-- the legacy backup functions, file_info, restore_begin) is also ese's;
-- see that module.  Reference with the C API: docs/api.md.
-- @module ese
local core = require "ese.core"

local ese = {}
for k, v in pairs(core) do ese[k] = v end

--- The version of lua-ese, "x.y.z".
ese.version = core.version
--- Error numbers both ways: errors.JET_errNoBackup == -520, errors[-520] == "JET_errNoBackup".
ese.errors = core.errors
--- The metatable of every error object (fields name, code, message, op, detail).
ese.Error = core.Error
--- The message of an error, by name or number (ese.core's message): the
-- sentence every error object of that error carries; nil when unknown.
ese.message = core.message

--- True when x is an error object raised by the engine (or built by ese.backup.error).
function ese.is_error(x)
  return getmetatable(x) == core.Error
end

-- The folder of ese's Lua modules, as debug.getinfo names sources ("@dir/").
local own_dir = debug.getinfo(1, "S").source:match("^(@.*/)[^/]*$")

-- The level, for error() in a function of ese's modules called from the
-- function that calls this, of the first caller outside those modules: an
-- argument error then names the caller's line, as luaL_argerror does for
-- a C function, also through ese.backup.
local function caller_level()
  local level = 3   -- 1 this function, 2 the one raising, 3 its caller
  while true do
    local info = debug.getinfo(level, "S")
    if not (info and own_dir and info.source:sub(1, #own_dir) == own_dir) then return level - 1 end
    level = level + 1
  end
end

--- Restores a backup set into dest_dir and replays its logs (hard recovery).
-- backup: a folder, or a list of folders {full, incremental1, ...}.
-- opts: archive_path (a folder of archived log generations, replayed after
-- the sets), restore_command (a command fetching one archived generation:
-- %f its file name, %p where to write it; run for each generation after
-- the sets until it exits non-zero, the end of the archive), live_log_path
-- (replay the logs written after the backup too, after the archive), to_generation (stop after this log generation),
-- to_time (seconds since the epoch, fractions allowed: stop before the
-- first commit later than it; the logs must reach past it, else
-- JET_errMissingLogFile), allow_partial (with to_time: end at the end of
-- the logs or at a gap in the archive instead of failing), base_name, instance (an
-- ese.Instance, created and not initialized, that is "restoring" while this
-- runs), overwrite (true: restore into a dest_dir that is not empty,
-- replacing the set's databases and the log stream there), on_progress
-- (called with {phase = "restore", done =, total =} after every step; it
-- may yield).  Refuses, before it touches anything, a dest_dir that a
-- running instance uses (JET_errFileAccessDenied), that is not empty
-- without overwrite (JET_errBackupDirectoryNotEmpty), or where a file it
-- would write is a symbolic link (JET_errInvalidPath).  Raises the error
-- object of the first fault; dest_dir is then left unusable but a new
-- restore (with overwrite) may be tried.
-- Returns a report {bytes = total units, steps = n, last_generation = g,
-- last_commit_time = seconds (nil: no commit replayed), last_commit_time_us =
-- the same as an integer count of microseconds (the commit record's exact
-- time; to_time = last_commit_time_us / 1e6 restores that commit and no
-- later one), reached = boolean
-- (with to_time only: the logs went past it; nil without), stopped_at_time = boolean (with to_time
-- only: a commit after it ended the replay, not the logs' end nor to_generation; nil without),
-- gap_generation = g (allow_partial: the first generation missing, nil: none),
-- not_restored = a list of {path, name, how = "created" | "attached", generation} (nil: none): the
-- databases the replayed logs create or attach that no set holds; as ESE's hard restore, the restore
-- skips them (a database created or attached after the full: take a full after it),
-- fetch_end = text (nil: none): with restore_command, the fetch whose exit status other than 0 ended the
-- archive, with the command's status and output (the archive's end, or a fetch that failed)}.
-- @param backup a folder, or a list of folders (the full set first)
-- @param dest_dir the destination folder
-- @param opts the options above (optional)
function ese.restore(backup, dest_dir, opts)
  if type(opts) == "string" then
    -- most likely the destination after a chain given as two arguments
    error("bad argument #3 to 'restore' (table expected, got string: a chain of sets is one list, "
      .. "ese.restore({ full, inc1, ... }, dest))", caller_level())
  end
  opts = opts or {}
  local dirs = type(backup) == "table" and backup or { backup }
  local on_progress = opts.on_progress
  if on_progress ~= nil and type(on_progress) ~= "function" and not (getmetatable(on_progress) or {}).__call then
    -- called after the first step: refused before anything is written
    error("bad argument #3 to 'restore' (on_progress must be a function)", caller_level())
  end
  local ok, begun = pcall(core.restore_begin, dirs, dest_dir, opts)
  if not ok and type(begun) == "string" then
    -- an argument error: raised again at the caller's line, as 'restore's
    local msg = begun:gsub("^.-:%d+: ", "", 1):gsub("^(bad argument #%-?%d+ to )'[^']*'", "%1'restore'", 1)
    error(msg, caller_level())
  end
  if not ok then error(begun, 0) end
  local r <close> = begun
  local steps, total, finished = 0, 0, false
  while not finished do
    local done
    done, total, finished = r:step()
    steps = steps + 1
    if on_progress then on_progress({ phase = "restore", done = done, total = total }) end
  end
  local report = r:result()
  report.bytes, report.steps = total, steps
  if opts.to_time == nil then report.reached, report.stopped_at_time = nil, nil end   -- only a point in time is
  return report
end

return ese
