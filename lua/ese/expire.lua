--- Retention: which backup sets (and archived log generations) of a
-- folder of sets can go, and deleting them so that a crash at any moment
-- leaves every kept restore point restorable.  Reached through ese.backup
-- (backup.expire documents the options); `ese expire` is its command.
--
-- Terms.  ROOT holds sets as subfolders, each with its manifest.json.  A
-- *base* is a full (or copy) set.  An incremental (or differential) set S
-- *follows* a set P when a restore of P's chain then S would be accepted:
-- one log stream (signature), page size and base name; S starts at most
-- one generation after P ends (S.gen_low <= P.gen_high + 1) and ends no
-- earlier (S.gen_high >= P.gen_high); every generation both hold has the
-- same SHA-256 of its original in both manifests (content_sha256 for a
-- compressed copy: manifest.original_sha256); and S's generation
-- P.gen_high + 1, when it has it, was created as the successor of P's
-- generation P.gen_high (logchain.follows over the two headers, read with
-- ese.file_info from NAME or NAME.zst: the rule restore applies).  A
-- *restore point* is a set reached from a base through such steps; its
-- time is its manifest's time_unix; what it *needs* is the sets of that
-- path and, from an archive, the generations from its base's gen_low on.
-- keep_full ranks the bases of each stream along the log, not by manifest
-- time (ranks_above): a wrong clock must not make an old set "newest";
-- two bases the log cannot rank (times contradicting generations, no set
-- proving one log) both stay.
--
-- Invariants of the plan: a kept set's path (its base included) is kept;
-- nothing is deleted that the plan could not read (no manifest, a manifest
-- that does not parse or whose generations its logs do not bear out, a
-- symbolic link, a file, an unfinished `.partial` run, a set naming a file
-- that is missing or not of its size: kept, with the reason, never ranked,
-- and no such set counts as a full set); an archived generation is deleted only when
-- it is older than every kept base's gen_low of its base name and stream.
--
-- Invariants of the deletion: the plan is complete before the first
-- deletion (every refusal comes first), and the full sets it counted among
-- the keep_full newest are as it first read them (each file's size, inode
-- and change time) when the first deletion starts.  A set goes in two steps: its
-- folder is renamed to `.expiring-NAME` (one atomic rename, then the root
-- is fsynced), then removed, its manifest last; so a set folder under its
-- own name is always whole, a half-removed one names files that are gone
-- (verify refuses it), and a `.expiring-*` folder is never read as a set:
-- the next expire deletes it first.  Sets go oldest chain first, and within a chain
-- the newest set first (a follower before the set it follows), so a crash
-- never leaves an incremental without the sets it follows; archived
-- generations go last, oldest first, so what remains of the archive is
-- always a run that ends at the newest generation.
-- @module ese.expire
local ese = require "ese"
local util = require "ese.util"
local manifest_m = require "ese.manifest"
local logchain = require "ese.logchain"

local fs = ese.fs
local raise = util.raise

local expire = {}

--- The prefix of a set folder being deleted.
expire.LEFTOVER = ".expiring-"

--- The timeline of a set whose manifest names none: the log stream's root
-- one (an instance never restored, or a set older than the field).
expire.ROOT_TIMELINE = "root"

local function is_base(kind) return kind == "full" or kind == "copy" end
local function is_follower(kind) return kind == "incremental" or kind == "differential" end

--- Whether t (seconds since the epoch) is a time expire takes: finite and
-- under 1e13 either side of the epoch (os.date writes every such time).
function expire.time_ok(t) return t > -1e13 and t < 1e13 end

-- ---------------------------------------------------------------------------
-- Reading ROOT

-- ese.file_info of a set's log (cached in the entry); nil when unreadable.
local function log_header(s, g)
  local e = s.logs[g]
  if not e then return nil end
  if e.fi == nil then
    local ok, fi = pcall(ese.file_info, s.path .. "/" .. e.name)
    e.fi = ok and fi.kind == "log" and fi.generation == g and fi or false
  end
  return e.fi or nil
end

-- The set in folder path (name in ROOT), or nil and why it is kept.
local function read_set(path, name)
  local st = fs.stat(path .. "/" .. manifest_m.NAME)
  if st.kind == "absent" then
    return nil, "no manifest.json: not a set expire can read (a set written step by step, or another folder)"
  end
  if st.kind ~= "file" then return nil, "manifest.json is " .. util.a_kind(st.kind) .. ", not a file" end
  local ok, m = pcall(manifest_m.read, path)
  if not ok then return nil, "its manifest cannot be read: " .. tostring(m) end
  if not (is_base(m.kind) or is_follower(m.kind)) or math.type(m.gen_low) ~= "integer"
      or math.type(m.gen_high) ~= "integer" or m.gen_low > m.gen_high or math.type(m.time_unix) ~= "integer"
      or type(m.log_signature) ~= "string" then
    return nil, "its manifest lacks the kind, generations, time or log signature"
  end
  if not expire.time_ok(m.time_unix) then
    return nil, ("its manifest's time %d is out of range (seconds since the epoch, under 1e13)"):format(m.time_unix)
  end
  local s = { name = name, path = path, kind = m.kind, time = m.time_unix, gen_low = m.gen_low,
              gen_high = m.gen_high, log_signature = m.log_signature, page_size = m.page_size,
              base_name = type(m.base_name) == "string" and m.base_name or "edb", logs = {}, bytes = 0,
              timeline = m.timeline or expire.ROOT_TIMELINE }
  -- each file's inode and last change, the manifest's first: run compares
  -- them for the sets it counted (a file written after the verify read it)
  local stamp = { ("%s:%d:%d"):format(manifest_m.NAME, st.ino, st.ctime_ns) }
  local has_db, held = false, 0
  for _, e in ipairs(m.files) do
    -- the files it names are there, of their size (a stat, no hashing): a
    -- set with one gone or cut short is no restore point, and counting it
    -- among the newest full sets would let the whole ones it hides go
    local fst = fs.stat(path .. "/" .. e.name)
    if fst.kind ~= "file" or fst.size ~= e.size then
      return nil, ("its manifest names %s, which is %s: not a restore point (backup.verify says why), kept")
        :format(e.name, fst.kind == "absent" and "missing" or fst.kind ~= "file" and util.a_kind(fst.kind)
                or ("%d bytes, not %d"):format(fst.size, e.size))
    end
    s.bytes = s.bytes + e.size
    stamp[#stamp + 1] = ("%s:%d:%d"):format(e.name, fst.ino, fst.ctime_ns)
    has_db = has_db or e.type == "database"
    if e.type == "log" and math.type(e.generation) == "integer" then
      if not s.logs[e.generation] and e.generation >= s.gen_low and e.generation <= s.gen_high then held = held + 1 end
      s.logs[e.generation] = e
    end
  end
  s.stamp = table.concat(stamp, "\n")
  if is_base(m.kind) and not has_db then
    return nil, "its manifest names no database: not a restore point (backup.verify says why), kept"
  end
  -- its place along the log is what ranks it (keep_full) and chains it: a
  -- manifest whose generations its logs do not bear out (edited by hand,
  -- generation fields gone, a range past its files) has no known place
  -- (counted, not looped over: gen_high may be huge)
  if s.gen_low < 1 or held ~= s.gen_high - s.gen_low + 1 then
    return nil, ("its manifest does not list a log of each generation from %d to %d (gen_low .. gen_high): its "
      .. "place along the log is unknown, not a restore point, kept"):format(s.gen_low, s.gen_high)
  end
  if not log_header(s, s.gen_high) then
    return nil, ("its last log (generation %d) cannot be read as that generation: its place along the log is "
      .. "unknown, kept"):format(s.gen_high)
  end
  return s
end

-- Sorting by time: older first by time, then by last generation, then by name.
local function older(a, b)
  if a.time ~= b.time then return a.time < b.time end
  if a.gen_high ~= b.gen_high then return a.gen_high < b.gen_high end
  return a.name < b.name
end

-- Sorting along the log: by last generation, then by time, then by name.
-- A set follows only sets before it in this order (so the relation has no
-- cycle, whatever the manifests' times say).
local function before(a, b)
  if a.gen_high ~= b.gen_high then return a.gen_high < b.gen_high end
  if a.time ~= b.time then return a.time < b.time end
  return a.name < b.name
end

-- Every entry of root, classified: sets (readable), leftovers of an
-- interrupted expire, and kept entries with their reason.
local function scan(root)
  local sets, leftovers, others = {}, {}, {}
  for _, name in ipairs(fs.list(root)) do
    local path = root .. "/" .. name
    local kind = fs.stat(path).kind
    if kind == "link" then
      others[#others + 1] = { path = path, reason = "a symbolic link: never followed, never deleted" }
    elseif name:sub(1, #expire.LEFTOVER) == expire.LEFTOVER then
      leftovers[#leftovers + 1] = path
    elseif kind ~= "folder" then
      others[#others + 1] = { path = path, reason = "not a folder: not a set" }
    elseif name:match("%.partial$") then
      others[#others + 1] = { path = path,
                              reason = "an unfinished backup run (.partial, perhaps running): never touched" }
    else
      local s, why = read_set(path, name)
      if s then sets[#sets + 1] = s else others[#others + 1] = { path = path, reason = why } end
    end
  end
  table.sort(sets, before)
  return sets, leftovers, others
end

-- ---------------------------------------------------------------------------
-- The chains

-- Whether sets a and b are of one stream: log signature, page size, base
-- name and timeline.  Every restore starts a timeline (the manifest's
-- "timeline", absent: the root one); a restored copy keeps the original's
-- log signature, and the generations both write next reuse the numbers:
-- the copy's sets are no restore points of the original's history nor the
-- other way round, so each timeline keeps its own keep_full newest.
local function same_stream(a, b)
  return a.log_signature == b.log_signature and a.page_size == b.page_size and a.base_name == b.base_name
    and a.timeline == b.timeline
end

-- The timeline of set s as the reasons say it: nothing for the root one.
local function of_timeline(s)
  return s.timeline == expire.ROOT_TIMELINE and "" or (" (timeline %s)"):format(s.timeline)
end

-- Whether set s continues set p along the log, whatever their kinds: the
-- rule of "follows" in the module's comment without its kinds (s holds p's
-- end of the log, or the generation created as its successor).
local function continues(p, s)
  -- one timeline: a restore clears the databases' full-backup record, so a
  -- restored instance's first set is a full one, never a follower of a set
  -- of the timeline it came from
  if not before(p, s) or not same_stream(p, s) then return false end
  if s.gen_low > p.gen_high + 1 or s.gen_high < p.gen_high then return false end
  for g = s.gen_low, p.gen_high do
    local a, b = p.logs[g], s.logs[g]
    if not a or not b or manifest_m.original_sha256(a) ~= manifest_m.original_sha256(b) then return false end
  end
  if s.gen_high > p.gen_high then
    local a, b = log_header(p, p.gen_high), log_header(s, p.gen_high + 1)
    if not a or not b or not logchain.follows(a, b) then return false end
  end
  return true
end

-- parents[s] = the sets s follows;
-- bases_of[s] = { base = true } of every base whose chains reach s;
-- later[s] = { set = true } of every set reached from s through sets that
-- continue one another (any kinds): s's end of the log is on their log,
-- proved by the generations the manifests (and the headers) hold.
local function chains(sets)
  local parents, bases_of, next_of, later = {}, {}, {}, {}
  for _, s in ipairs(sets) do parents[s], bases_of[s], next_of[s], later[s] = {}, {}, {}, {} end
  for _, s in ipairs(sets) do
    for _, p in ipairs(sets) do
      if p ~= s and continues(p, s) then
        next_of[p][#next_of[p] + 1] = s
        if is_follower(s.kind) then parents[s][#parents[s] + 1] = p end
      end
    end
  end
  -- a set continues only sets before it along the log: in reverse order
  -- every set's successors have their closure already
  for i = #sets, 1, -1 do
    local s = sets[i]
    for _, c in ipairs(next_of[s]) do
      later[s][c] = true
      for x in pairs(later[c]) do later[s][x] = true end
    end
  end
  -- sets are sorted along the log and a set follows only sets before it:
  -- one pass in that order sees every parent's bases before the child
  for _, s in ipairs(sets) do
    if is_base(s.kind) then bases_of[s][s] = true end
    for _, p in ipairs(parents[s]) do
      for b in pairs(bases_of[p]) do bases_of[s][b] = true end
    end
  end
  return parents, bases_of, later
end

-- Whether full set b ranks above full set a for keep_full: one log stream,
-- b ends later along the log (before), and either its manifest time is not
-- earlier or the log proves a's end is on b's log (later).  Sets of two
-- streams, or whose times contradict their generations with no proof
-- (a wrong clock, or a timeline a point-in-time restore started: its
-- generations reuse the numbers), are not ranked against each other.
local function ranks_above(b, a, later)
  return same_stream(a, b) and before(a, b) and (a.time <= b.time or later[a][b] == true)
end

-- ---------------------------------------------------------------------------
-- The plan

-- Only times in range (expire.time_ok) reach it: os.date writes them on
-- every platform (1e13 s: year 318857).
local function fmt_time(t) return os.date("!%Y-%m-%d %H:%M:%S UTC", math.floor(t)) end

--- A duration as the CLI writes it: "7d", "36h", "90m", "45s".
function expire.duration_text(secs)
  if not math.tointeger(secs) then return ("%gs"):format(secs) end   -- fractions of a second
  for _, u in ipairs({ { 604800, "w" }, { 86400, "d" }, { 3600, "h" }, { 60, "m" } }) do
    if secs >= u[1] and secs % u[1] == 0 then return ("%d%s"):format(secs // u[1], u[2]) end
  end
  return ("%ds"):format(secs)
end

--- Seconds of a duration "N", "Ns", "Nm", "Nh", "Nd", "Nw"; nil when the
-- text is not one.
function expire.parse_duration(text)
  local n, unit = tostring(text):match("^(%d+)([smhdw]?)$")
  n = n and math.tointeger(tonumber(n))
  local scale = ({ [""] = 1, s = 1, m = 60, h = 3600, d = 86400, w = 604800 })[unit]
  -- a count of seconds past the largest integer is none: it would wrap round
  -- (213503982334602d to 61184 s: "for ever" as 17 hours)
  if not n or n > math.maxinteger // scale then return nil end
  return n * scale
end

-- The keep_full rule, stated once: a full set counts among the newest of
-- its log stream (kept for keep_full, and the set whose keeping lets the
-- older ones go) while fewer than keep_full full sets rank above it
-- (nabove of them do).
local function counts(nabove, opts)
  return nabove < opts.keep_full
end

-- Marks which sets are kept; returns kept (set -> true), why (set -> list
-- of reasons), parent_of (the set before s on its kept point's path) and
-- the bases, newest first.
local function choose(sets, parents, bases_of, later, opts, now)
  local kept, why, above = {}, {}, {}
  local function keep(s, text)
    kept[s] = true
    why[s] = why[s] or {}
    why[s][#why[s] + 1] = text
  end
  local bases = {}
  for _, s in ipairs(sets) do if is_base(s.kind) then bases[#bases + 1] = s end end
  -- a full set goes (unless kept otherwise) when keep_full full sets rank
  -- above it; one no set can be ranked against stays
  local n = math.tointeger(opts.keep_full)
  for _, a in ipairs(bases) do
    above[a] = {}
    local unranked = {}
    for _, b in ipairs(bases) do
      if ranks_above(b, a, later) then above[a][#above[a] + 1] = b.name
      elseif b ~= a and same_stream(a, b) and not ranks_above(a, b, later) then unranked[#unranked + 1] = b.name end
    end
    if counts(#above[a], opts) then
      local text = n == 1 and ("the newest full set of its log stream%s along the log (keep_full 1)")
        :format(of_timeline(a)) or ("one of the %d newest full sets of its log stream%s along the log "
        .. "(keep_full %d)"):format(n, of_timeline(a), n)
      if #unranked > 0 then
        table.sort(unranked)
        text = text .. ("; not ranked against %s (its manifest time contradicts the generations and no set here "
          .. "proves they are one log: a wrong clock or another timeline)"):format(table.concat(unranked, ", "))
      end
      keep(a, text)
    end
  end
  -- every set a kept base's chains reach (sets are in log order: a child
  -- comes after its parents)
  for _, s in ipairs(sets) do
    if not kept[s] then
      for _, p in ipairs(parents[s]) do
        if kept[p] and next(bases_of[p]) then
          keep(s, ("follows %s (kept)"):format(p.name))
          break
        end
      end
    end
  end
  -- the parent a point's path takes: a kept one when there is (by
  -- induction it has a kept path), else the newest; only parents some
  -- base reaches
  local function parent_of(s)
    local best
    for _, p in ipairs(parents[s]) do
      if next(bases_of[p]) then
        if not best or (kept[p] and not kept[best]) or (kept[p] == kept[best] and before(best, p)) then
          best = p
        end
      end
    end
    return best
  end
  if opts.keep_within then
    local cutoff = now - opts.keep_within
    local within = ("a restore point of %s, within %s of %s"):format("%s", expire.duration_text(opts.keep_within),
      fmt_time(now))
    for i = #sets, 1, -1 do
      local s = sets[i]
      if s.time >= cutoff and next(bases_of[s]) then
        keep(s, within:format(fmt_time(s.time)))
        local c = s
        while not is_base(c.kind) do
          local p = parent_of(c)
          if not kept[p] then keep(p, ("needed by %s (kept)"):format(c.name)) end
          c = p
        end
      end
    end
  end
  -- a follower no base reaches is no restore point here; kept all the same
  for _, s in ipairs(sets) do
    if not next(bases_of[s]) then
      keep(s, "follows no full set in this folder: not a restore point here, kept")
    end
  end
  return kept, why, parent_of, above
end

-- The reason a set goes.
local function doomed_reason(s, opts, bases_of, kept, above)
  local w = opts.keep_within and (", and its time %s is not within %s"):format(fmt_time(s.time),
    expire.duration_text(opts.keep_within)) or ""
  if is_base(s.kind) then
    local names = above[s]
    table.sort(names)
    return ("a %s set, not one of the %d newest of its log stream%s: it ends before %s along its log (keep_full %d)%s")
      :format(s.kind, opts.keep_full, of_timeline(s), table.concat(names, ", "), opts.keep_full, w)
  end
  local names, any_kept = {}, false
  for b in pairs(bases_of[s]) do
    names[#names + 1] = b.name
    any_kept = any_kept or kept[b]
  end
  table.sort(names)
  if any_kept then
    return ("follows %s, kept only for newer restore points%s"):format(table.concat(names, ", "), w)
  end
  return ("follows only full sets that go (%s)%s"):format(table.concat(names, ", "), w)
end

-- The deletion order of the doomed sets: chains by their oldest base,
-- oldest first; in a chain the last set along the log first (a follower
-- before the sets it follows).
local function deletion_order(doomed, bases_of)
  local function first_base(s)
    local f
    for b in pairs(bases_of[s]) do if not f or older(b, f) then f = b end end
    return f
  end
  local fb = {}
  for _, s in ipairs(doomed) do fb[s] = first_base(s) end
  table.sort(doomed, function(a, b)
    if fb[a] ~= fb[b] then return older(fb[a], fb[b]) end
    return before(b, a)
  end)
  return doomed
end

-- The archived generations: { keep = {...}, delete = {...} } entries
-- {path, gen, reason}, delete sorted by generation.  need[base][sig] is
-- the first generation a kept point of that stream needs, with its set.
local function plan_archive(dir, need)
  local keep, delete = {}, {}
  for _, name in ipairs(fs.list(dir)) do
    local path = dir .. "/" .. name
    local base, hex = name:match("^(%w%w%w)(%x%x%x%x%x%x%x%x)%.log$")
    local g = hex and tonumber(hex, 16)
    if g and g > 0 then
      local kind = fs.stat(path).kind
      local ok, fi = false, nil
      if kind == "file" then ok, fi = pcall(ese.file_info, path) end
      local reason
      if kind ~= "file" then
        reason = ("%s, not a log file: never followed, never deleted"):format(util.a_kind(kind))
      elseif not ok or fi.kind ~= "log" or fi.generation ~= g then
        reason = "its header cannot be read as generation " .. g .. ": kept"
      else
        local n = need[base] and need[base][fi.log_signature]
        if not n then
          reason = "no kept restore point of its log stream: kept"
        elseif g < n.gen then
          delete[#delete + 1] = { path = path, gen = g, reason = ("generation %d: older than generation %d, the "
            .. "first any kept restore point needs (%s)"):format(g, n.gen, n.set.name) }
        else
          reason = ("generation %d: kept restore points replay from generation %d (%s) on"):format(g, n.gen,
            n.set.name)
        end
      end
      if reason then keep[#keep + 1] = { path = path, gen = g, reason = reason } end
    end
  end
  table.sort(delete, function(a, b) return a.gen < b.gen end)
  return keep, delete
end

-- root (or archive) checked: a folder, not a link; its path without
-- trailing slashes.
local function check_folder(p, what)
  p = util.strip_slashes(p)
  local kind = fs.stat(p).kind
  if kind == "absent" then raise("JET_errFileNotFound", "expire", "%s %s not found", what, p) end
  if kind == "link" then
    raise("JET_errInvalidPath", "expire", "%s %s is a symbolic link: name the folder itself", what, p)
  end
  if kind ~= "folder" then
    raise("JET_errInvalidPath", "expire", "%s %s is %s, not a folder", what, p, util.a_kind(kind))
  end
  return p
end

local function check_values(opts)
  local n = math.tointeger(opts.keep_full)
  if not n then
    error("backup.expire: keep_full must be an integer (the full sets to keep, at least 1)", 4)
  end
  if n < 1 then
    raise("JET_errInvalidParameter", "expire", "keep_full = %d: at least one full set must be kept", n)
  end
  local w = opts.keep_within
  if w and not (w >= 0 and w < math.huge) then
    raise("JET_errInvalidParameter", "expire", "keep_within = %s: a number of seconds, 0 or more", tostring(w))
  end
  local t = opts.now
  if t ~= nil and (type(t) ~= "number" or not expire.time_ok(t)) then
    error("backup.expire: now must be a number of seconds since the epoch, under 1e13 either side of it", 4)
  end
end

-- With verify (the default), when the plan deletes anything: each full
-- set the plan keeps for keep_full (one of the newest it counts, whose
-- keeping lets the older ones go) is read whole by backup.verify (hashes,
-- page checks, its logs), once.  Expire's own reading of a set is a stat
-- of each file: a set damaged inside (a flipped byte, a file of the right
-- size) would otherwise count, and with keep_full 1 the one set that
-- restores would go.  A set verify refuses is marked refused and moved to
-- others (kept, with the reason); returns true when one was, so that the
-- plan is made again without it.
local function verify_counted(sets, kept, above, opts, verified, others, archive)
  if opts.verify == false then return false end
  local deletes = archive ~= nil
  for _, s in ipairs(sets) do deletes = deletes or not kept[s] end
  if not deletes then return false end
  local bverify = require("ese.backup_verify").verify
  -- one set refused lowers the count above each set it ranked above: the
  -- sets that then count are read in this pass too (a worklist), not one
  -- plan per refusal (n plans of n^2 over a run of damaged sets).  The
  -- plan made again afterwards may count more (a refused set proved a
  -- ranking): those are read then.
  local by_name, below, count, todo = {}, {}, {}, {}
  for _, s in ipairs(sets) do
    if is_base(s.kind) then by_name[s.name], below[s] = s, {} end
  end
  for _, a in ipairs(sets) do
    if is_base(a.kind) then
      count[a] = #above[a]
      for _, name in ipairs(above[a]) do table.insert(below[by_name[name]], a) end
      if counts(count[a], opts) then todo[#todo + 1] = a end
    end
  end
  local refused, i = false, 1
  while i <= #todo do
    local s = todo[i]
    i = i + 1
    if not verified[s] and not s.refused then
      -- its progress goes to expire's (phase "verify", path the set's): the
      -- reading of a large set may take long, and on_progress may yield
      -- (an error on_progress raises is the caller's, whatever it is: it
      -- ends expire, nothing deleted, never a refusal of the set)
      local in_callback = false
      local on_progress = opts.on_progress and function(p)
        in_callback = true
        opts.on_progress({ phase = "verify", path = s.path, file = p.file, done = p.done, total = p.total })
        in_callback = false
      end
      local ok, err = pcall(bverify, { s.path }, { on_progress = on_progress })
      if ok then
        verified[s] = true
      elseif in_callback or not (type(err) == "table" and type(err.name) == "string")
          or err.name == "JET_errOutOfMemory" or err.name == "JET_errOutOfFileHandles" then
        -- on_progress's, a bug, or this process out of memory or descriptors:
        -- not a refusal of the set (it says nothing of it), never a reason to
        -- count an older one: expire ends, nothing deleted
        error(err, 0)
      else
        s.refused, refused = true, true
        others[#others + 1] = { path = s.path, set = s, reason = ("backup.verify refuses it (%s): not a restore "
          .. "point, kept, not counted among the newest full sets"):format(tostring(err)) }
        for _, a in ipairs(below[s]) do
          count[a] = count[a] - 1
          if counts(count[a], opts) and not counts(count[a] + 1, opts) then todo[#todo + 1] = a end   -- counts now
        end
      end
    end
  end
  return refused
end

-- plan -> the full sets it counted among the keep_full newest (expire.run
-- reads them again); weak: a plan dropped takes them along.
local counted_of = setmetatable({}, { __mode = "k" })

--- The plan of backup.expire(root, opts) (see ese.backup), nothing deleted.
function expire.plan(root, opts)
  check_values(opts)
  root = check_folder(root, "root")
  local archive = opts.archive_path and check_folder(opts.archive_path, "archive")
  if archive == root then
    raise("JET_errInvalidParameter", "expire", "the archive %s is the root of the sets", archive)
  end
  -- an instance's log folder (its current generation B.log, its checkpoint
  -- B.chk: base names are 3 characters) is no log archive: its older
  -- generations are the instance's own, which its next incremental needs
  for _, name in ipairs(archive and fs.list(archive) or {}) do
    if name:match("^[^.][^.][^.]%.log$") or name:match("^[^.][^.][^.]%.chk$") then
      raise("JET_errInvalidParameter", "expire", "the archive %s holds %s: it is an instance's log folder, not a "
        .. "log archive (its generations are the instance's own)", archive, name)
    end
  end
  local now = opts.now or os.time()
  local sets, leftovers, others = scan(root)
  local parents, bases_of, later, kept, why, parent_of, above
  local verified = {}
  while true do
    parents, bases_of, later = chains(sets)
    kept, why, parent_of, above = choose(sets, parents, bases_of, later, opts, now)
    if not verify_counted(sets, kept, above, opts, verified, others, archive) then break end
    -- a counted full set failed backup.verify: it is no restore point now,
    -- the plan is made again without it (the next newest full set counts)
    local rest = {}
    for _, s in ipairs(sets) do if not s.refused then rest[#rest + 1] = s end end
    sets = rest
  end
  local plan = { root = root, archive_path = archive, dry_run = opts.dry_run ~= false, keep = {}, delete = {},
                 reasons = {}, points = {}, what = {}, sets = {}, bytes = 0, now = now }
  -- the full sets whose keeping lets the others go: run reads each again
  -- (a stat of its files) before it deletes anything
  counted_of[plan] = {}
  for _, s in ipairs(sets) do
    if kept[s] and is_base(s.kind) and counts(#above[s], opts) then table.insert(counted_of[plan], s) end
  end
  for _, p in ipairs(leftovers) do
    plan.delete[#plan.delete + 1] = p
    plan.what[p] = "leftover"
    plan.reasons[p] = "left by an interrupted expire: a set folder being deleted"
  end
  local doomed = {}
  for _, s in ipairs(sets) do
    plan.what[s.path] = "set"
    plan.sets[s.path] = { name = s.name, kind = s.kind, time = s.time, gen_low = s.gen_low, gen_high = s.gen_high,
                          bytes = s.bytes, timeline = s.timeline }
    if kept[s] then
      plan.keep[#plan.keep + 1] = s.path
      plan.reasons[s.path] = table.concat(why[s], "; ")
    else
      doomed[#doomed + 1] = s
      plan.reasons[s.path] = doomed_reason(s, opts, bases_of, kept, above)
      plan.bytes = plan.bytes + s.bytes
    end
  end
  for _, s in ipairs(deletion_order(doomed, bases_of)) do plan.delete[#plan.delete + 1] = s.path end
  for _, o in ipairs(others) do
    plan.what[o.path] = "other"
    plan.keep[#plan.keep + 1] = o.path
    plan.reasons[o.path] = o.reason
    local s = o.set                 -- a full set verify refused: what its manifest says (`ese expire` shows it)
    if s then
      plan.sets[o.path] = { name = s.name, kind = s.kind, time = s.time, gen_low = s.gen_low, gen_high = s.gen_high,
                            bytes = s.bytes, timeline = s.timeline }
    end
  end
  -- the kept restore points, oldest first, each with its path
  local need = {}
  for _, s in ipairs(sets) do
    if kept[s] and next(bases_of[s]) then
      local path, c = { s.path }, s
      while not is_base(c.kind) do
        c = parent_of(c)
        table.insert(path, 1, c.path)
      end
      plan.points[#plan.points + 1] = { sets = path, time = s.time, gen_low = c.gen_low, gen_high = s.gen_high }
      need[c.base_name] = need[c.base_name] or {}
      local n = need[c.base_name][c.log_signature]
      if not n or c.gen_low < n.gen then need[c.base_name][c.log_signature] = { gen = c.gen_low, set = c } end
    end
  end
  if archive then
    local akeep, adelete = plan_archive(archive, need)
    for _, e in ipairs(akeep) do
      plan.what[e.path] = "log"
      plan.keep[#plan.keep + 1] = e.path
      plan.reasons[e.path] = e.reason
    end
    for _, e in ipairs(adelete) do
      plan.what[e.path] = "log"
      plan.delete[#plan.delete + 1] = e.path
      plan.reasons[e.path] = e.reason
      plan.bytes = plan.bytes + (fs.stat(e.path).size or 0)
    end
  end
  return plan
end

-- ---------------------------------------------------------------------------
-- Deleting

-- A name for the folder of set path in root that nothing holds (the set's
-- name cut so that the whole stays a valid file name).
local function leftover_name(root, path)
  local base = root .. "/" .. expire.LEFTOVER .. util.basename(path):sub(1, 200)
  local p, i = base, 0
  while fs.stat(p).kind ~= "absent" do
    i = i + 1
    p = ("%s.%d"):format(base, i)
  end
  return p
end

-- Removes the renamed folder of a set: every entry but manifest.json,
-- then the manifest, then the folder, so that a removal cut short leaves a
-- folder whose manifest names files that are gone (verify refuses it),
-- never a smaller folder that looks like a set written step by step.
local function remove_set(dir)
  for _, name in ipairs(fs.list(dir)) do
    if name ~= manifest_m.NAME then fs.remove_tree(dir .. "/" .. name) end
  end
  fs.remove_tree(dir .. "/" .. manifest_m.NAME)
  fs.rmdir(dir)
end

--- Deletes what plan.delete lists, in its order (see the module's
-- comment); on_progress{phase = "invalidate" | "remove" | "archive", path,
-- done, total} after each step.  Returns the paths deleted.
function expire.run(plan, on_progress)
  local deleted, total = {}, #plan.delete
  -- each full set counted among the keep_full newest is still there, as
  -- read (its manifest, each file of its size, inode and last change): one
  -- moved away, removed, cut short or written since the plan's first stat
  -- (by another process, or by on_progress while the plan read the sets:
  -- verify read it whole after that stat) would leave the sets that go as
  -- the only restore points
  for _, s in ipairs(total > 0 and counted_of[plan] or {}) do
    local now, why = read_set(s.path, s.name)
    if not now or now.stamp ~= s.stamp then
      raise("JET_errInvalidBackup", "expire", "%s, one of the newest full sets the plan keeps, changed since the plan "
        .. "read it (%s): nothing deleted, expire again", s.path, why or "a file of it was written or replaced")
    end
  end
  local function step(phase, path)
    if on_progress then on_progress({ phase = phase, path = path, done = #deleted, total = total }) end
  end
  local archive_touched = false
  for _, path in ipairs(plan.delete) do
    local what, kind = plan.what[path], fs.stat(path).kind
    if what == "set" then
      -- the set must still be the folder that was read: a link or a file
      -- put in its place meanwhile is left alone, and nothing more goes
      if kind ~= "folder" then
        raise("JET_errInvalidPath", "expire", "%s is no longer a folder (%s): nothing more deleted", path,
          util.a_kind(kind))
      end
      local gone = leftover_name(plan.root, path)
      fs.rename(path, gone)
      fs.fsync_dir(plan.root)
      step("invalidate", path)
      remove_set(gone)
      deleted[#deleted + 1] = path
      step("remove", path)
    elseif what == "leftover" then
      fs.remove_tree(path)       -- never follows a link
      deleted[#deleted + 1] = path
      step("remove", path)
    elseif kind == "file" then   -- an archived generation
      fs.remove(path)
      archive_touched = true
      deleted[#deleted + 1] = path
      step("archive", path)
    end
  end
  if #deleted > 0 then fs.fsync_dir(plan.root) end
  if archive_touched then fs.fsync_dir(plan.archive_path) end
  return deleted
end

return expire
