--- Shared helpers of the Lua tooling (ese.backup's modules, the CLI, the
-- demo): error objects built in Lua, path names, small file helpers over
-- ese.fs (no process: every failure is an error object), the tooling's
-- settings and a monotonic clock.  It requires only ese.
-- @module ese.util
local ese = require "ese"
local fs = ese.fs

local util = {}

-- ---------------------------------------------------------------------------
-- Error objects

--- An ese.Error object built in Lua, like those the engine raises.
-- @param name a JET_err name (ese.errors[name] is its code)
-- @param op the operation ("run", "verify", ...)
-- @param detail a sentence naming the file or the fact
function util.error(name, op, detail)
  local code = ese.errors[name]
  assert(code, "unknown error name " .. tostring(name))
  return setmetatable({ name = name, code = code, message = ese.message(code),
                        op = op, detail = detail }, ese.Error)
end

--- Raises util.error(name, op, fmt:format(...)) (fmt as it is without arguments).
function util.raise(name, op, fmt, ...)
  error(util.error(name, op, select("#", ...) > 0 and fmt:format(...) or fmt), 0)
end
local raise = util.raise

--- An error as a plain table for JSON output: {name, code, message, op,
-- detail} of an error object, {name = "error", message} of anything else.
function util.error_table(e)
  if ese.is_error(e) then
    return { name = e.name, code = e.code, message = e.message, op = e.op, detail = e.detail }
  end
  return { name = "error", message = tostring(e) }
end

--- Whether e is an error of ese.file_info for a file without a valid
-- header of either kind (another kind of file, or a damaged database).
function util.no_header(e)
  return ese.is_error(e) and (e.name == "JET_errDatabaseCorrupted" or e.name == "JET_errFileInvalidType")
end

--- A word with its article: "a full", "an incremental" (a set's kind, a
-- type name in a message).
function util.a(word)
  return (word:match("^[aeiouAEIOU]") and "an " or "a ") .. word
end

--- ese.fs.stat's kind of a file in a message: "a file", "a folder", "a
-- link", "a special file" (kind "other": a FIFO, a socket or a device).
function util.a_kind(kind)
  return kind == "other" and "a special file" or util.a(kind)
end

-- ---------------------------------------------------------------------------
-- Path names

function util.basename(p)
  return (p:match("([^/]+)/*$")) or p
end

function util.dirname(p)
  local d = p:match("^(.*)/[^/]+/*$")
  if d == nil then return "." end
  return d == "" and "/" or d
end

function util.strip_slashes(p)
  local s = p:gsub("/+$", "")
  return s == "" and "/" or s
end

-- PATH_MAX and NAME_MAX of Linux: a longer path cannot be created, so it
-- is refused before anything is made.
local PATH_MAX, NAME_MAX = 4096, 255

--- A folder path must leave room for a file name in it: else JET_errInvalidPath (op).
function util.check_path_length(p, op)
  if #p + 1 + NAME_MAX >= PATH_MAX then
    raise("JET_errInvalidPath", op, "%s leaves no room for a file name (PATH_MAX %d)", p:sub(1, 64) .. "...", PATH_MAX)
  end
  for part in p:gmatch("[^/]+") do
    if #part > NAME_MAX then raise("JET_errInvalidPath", op, "a name longer than %d bytes in %s", NAME_MAX, p) end
  end
end

--- A base name that is safe to join to a folder: no "/", no "..", no
-- control character or backslash, not empty.
function util.safe_name(name)
  return type(name) == "string" and name ~= "" and name ~= "." and not name:find("/", 1, true)
    and not name:find("..", 1, true) and not name:find("[%c\\]")
end

--- Why a backup set cannot hold a database named name (its original name,
-- not NAME.zst) beside logs of base name base, or nil when it can: the
-- name of the manifest, of a compressed file (a restore takes every
-- NAME.zst for one), of a log generation of base (in any case, as a
-- restore reads them), or of a file a restore writes itself in its
-- destination (B.chk, B.lck, B.dwb, ...: the restored database would be
-- overwritten or taken for it).  base nil: only the rules without it.
-- The rule is the restore's own (restore.c, restore_db_name_problem),
-- through ese.core: one rule for backup.run, run_to, verify and restore.
util.db_name_problem = require("ese.core")._db_name_problem

-- ---------------------------------------------------------------------------
-- Files (ese.fs)

--- "absent", "empty" (an empty folder), "folder", "link" or "file" (any
-- other kind); a link is never followed.
function util.path_state(p)
  local k = fs.stat(p).kind
  if k == "folder" then return #fs.list(p) == 0 and "empty" or "folder" end
  if k == "absent" or k == "link" then return k end
  return "file"
end

--- The names in a folder (one level), as a set; nil and the kind when it
-- is not a folder.  A symbolic link that names a folder is listed too (a
-- set reached through a "latest" link, as ese.restore accepts it).
function util.name_set(dir)
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

--- The size of a regular file; nil when absent; a link, a folder or a
-- FIFO in its place: JET_errInvalidPath (op).
function util.file_size(p, op)
  local st = fs.stat(p)
  if st.kind == "absent" then return nil end
  if st.kind ~= "file" then raise("JET_errInvalidPath", op, "%s is %s, not a regular file", p, util.a_kind(st.kind)) end
  return st.size
end

--- Reads the regular file path of size bytes once, in chunks of at most
-- chunk bytes, feeding each to the SHA-256 hasher h and to
-- on_chunk(data, offset, done) (which may yield: the caller's loop runs
-- between two chunks); returns the bytes read.  A file that ends early
-- stops the loop, one that has grown past size (meanwhile: a callback may
-- yield) counts one byte more: the caller compares the count with size.
function util.read_chunks(path, size, chunk, h, on_chunk)
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

--- A new folder `$TMPDIR/ese-<tag>.XXXXXX` (mode 0700; `/tmp` when
-- TMPDIR is unset, empty or not an absolute path, as mktemp(1) reads it),
-- made with one mkdir that fails when the name exists (as mktemp -d), no
-- process; its path.
function util.temp_dir(tag)
  local top = os.getenv("TMPDIR") or ""
  top = top:match("^/") and util.strip_slashes(top) or "/tmp"
  local last
  for _ = 1, 100 do
    local p = ("%s/ese-%s.%06x"):format(top == "/" and "" or top, tag, math.random(0, 0xffffff))
    local ok, err = pcall(fs.mkdir, p, 448)
    if ok then return p end
    last = err
    if fs.stat(p).kind == "absent" then break end   -- not a name clash: do not retry
  end
  error(last, 0)
end

-- ---------------------------------------------------------------------------
-- Settings and time

--- Settings the tooling reads at each call (ese.backup forwards
-- backup.CHUNK here, so a caller that sets it changes run and verify):
-- CHUNK, the bytes read per step, 1 MiB.
util.settings = { CHUNK = 1 << 20 }

--- Monotonic seconds (a float; for durations only): ese.fs.clock.
util.now = fs.clock

-- Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

--- The end of the times a restore stops at: 10000-01-01 00:00:00 UTC, in
-- seconds since the epoch (ese.restore's to_time, csrc/lua_restore.c).
util.TO_TIME_MAX = 253402300800

--- True when t (seconds since the epoch) is a time ese.restore's to_time
-- takes: at least a microsecond after the epoch once rounded to the
-- microsecond (0 would mean no time at all), before util.TO_TIME_MAX.
function util.to_time_ok(t)
  return math.type(t) ~= nil and t * 1e6 >= 0.5 and t < util.TO_TIME_MAX
end

--- A point in time as seconds since the Unix epoch (a float, to the
-- microsecond): "YYYY-MM-DD HH:MM:SS[.ffffff]" (also with a "T"), UTC
-- unless a zone follows ("Z", "UTC", "+HH:MM", "-HHMM", "+HH"), or a plain
-- number of seconds.  nil for anything else; when s has the form but a
-- part of it is wrong (a field out of range, a fraction or zone that is
-- none), nil and a phrase that names that part ("day 30 is not in
-- 2026-02 (01 .. 28)").
function util.parse_time(s)
  if type(s) ~= "string" then return nil end
  local n = s:match("^%s*(%d+%.?%d*)%s*$")
  if n then return tonumber(n) end
  local y, mo, d, h, mi, sec, frac, zone =
    s:match("^%s*(%d%d%d%d)%-(%d%d)%-(%d%d)[T ](%d%d):(%d%d):(%d%d)(%.?%d*)%s*(.-)%s*$")
  if not y then return nil end
  y, mo, d, h, mi, sec = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec)
  if mo < 1 or mo > 12 then return nil, ("month %02d is not 01 .. 12"):format(mo) end
  local mdays = { 31, (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) and 29 or 28, 31, 30, 31, 30, 31, 31, 30,
                  31, 30, 31 }
  if d < 1 or d > mdays[mo] then
    return nil, ("day %02d is not in %04d-%02d (01 .. %02d)"):format(d, y, mo, mdays[mo])
  end
  if h > 23 then return nil, ("hour %02d is not 00 .. 23"):format(h) end
  if mi > 59 then return nil, ("minute %02d is not 00 .. 59"):format(mi) end
  if sec > 60 then return nil, ("second %02d is not 00 .. 60"):format(sec) end
  -- a fraction needs its dot: "12:00:00123" is a typo, not 12:02:03
  if frac ~= "" and frac:sub(1, 1) ~= "." then
    return nil, ("the seconds %02d are followed by digits without a dot"):format(sec)
  end
  if frac == "." then return nil, "the fraction's dot has no digits after it" end
  if #frac > 10 then return nil, ("the fraction %s has more than 9 digits"):format(frac) end
  local off = 0
  if zone ~= "" and zone ~= "Z" and zone ~= "UTC" then
    local sign, zh, zm = zone:match("^([%+%-])(%d%d):?(%d%d)$")
    if not sign then sign, zh = zone:match("^([%+%-])(%d%d)$") zm = "00" end
    if not sign then return nil, ("the zone '%s' is none of Z, UTC, +HH:MM, +HHMM, +HH"):format(zone) end
    if tonumber(zh) > 23 then return nil, ("the zone %s: hours %s are not 00 .. 23"):format(zone, zh) end
    if tonumber(zm) > 59 then return nil, ("the zone %s: minutes %s are not 00 .. 59"):format(zone, zm) end
    off = (tonumber(zh) * 3600 + tonumber(zm) * 60) * (sign == "+" and 1 or -1)
  end
  local t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off
  return t + (frac ~= "" and tonumber("0" .. frac) or 0)
end

return util
