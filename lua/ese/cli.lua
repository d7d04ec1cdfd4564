--- The `ese` command-line tool (bin/ese is a thin front for cli.main).
--
--   ese info DB|LOG            header of a database or log file
--   ese logs DIR               log generations, signatures, gaps, contiguity
--   ese check PATH...          every checksum of a file, a backup set or a chain
--   ese backup INSTANCE_DIR DEST [--incremental] [--no-truncate] [--copy]
--   ese restore BACKUP_DIR... DEST [--to-generation N] [--live-logs DIR]
--   ese expire ROOT --keep-full N [--keep-within 7d] [--archive DIR] [--yes]
--   ese demo [backup|crash]
--
-- Every command takes --help; all but demo take --json (every time an
-- integer count of microseconds, every list an array: docs/cli.md).
-- Exit status: 0 success, 1 an engine or check failure (the JET_err is
-- named on stderr, or in the JSON), 2 a usage error.
-- @module ese.cli
local ese = require "ese"
local backup = require "ese.backup"
local logchain = require "ese.logchain"
local ui_lib = require "ese.ui"
local util = require "ese.util"
local json = require "ese.json"

local cli = {}

local fs = ese.fs

-- Formatting and progress: ese.ui (shared with the demo), re-exported.
local human, plural, duration, rate = ui_lib.human, ui_lib.plural, ui_lib.duration, ui_lib.rate
local utc_us, out, stdout_is_tty = ui_lib.utc_us, ui_lib.out, ui_lib.stdout_is_tty
cli.human, cli.duration, cli.rate = human, duration, rate
cli.new_ui, cli.progress = ui_lib.new_ui, ui_lib.progress

-- JSON output (--json): ese.json; cli.json is its encode (for the specs).
cli.json = json.encode

local function print_json(v)
  out(cli.json(v))
end

local error_table = util.error_table

-- t seconds as an integer count of microseconds (rounded as ese.restore
-- rounds to_time).
local function us(t) return math.floor(t * 1e6 + 0.5) end

-- The JSON form of a report of ese.backup (run, verify, restore), by the
-- rule of docs/cli.md "JSON": every time an integer count of microseconds
-- under a key ending in _us.  A copy: seconds becomes elapsed_us,
-- last_commit_time last_commit_time_us; a set (its verify report, or the
-- report of a run with its manifest) gets time_us beside the manifest's
-- ISO time; a verify report's sets, and restore's verify, likewise.
local function json_report(rep)
  local r = {}
  for k, v in pairs(rep) do r[k] = v end
  if rep.seconds then r.seconds, r.elapsed_us = nil, us(rep.seconds) end
  if rep.last_commit_time then r.last_commit_time, r.last_commit_time_us = nil, rep.last_commit_time_us end
  if rep.verify then r.verify = json_report(rep.verify) end
  if rep.sets then
    r.sets = {}
    for i, s in ipairs(rep.sets) do r.sets[i] = json_report(s) end
  end
  local m = rep.manifest
  if type(m) == "table" and math.type(m.time_unix) == "integer" then
    r.time_us = m.time_unix * 1000000
  elseif type(rep.time) == "string" then
    local t = util.parse_time(rep.time)
    if t then r.time_us = us(t) end
  end
  return r
end

-- Reports a failure; returns exit status 1.
local function fail(ui, cmd, e)
  if ui and ui.json then
    print_json({ ok = false, command = cmd, error = error_table(e) })
  end
  io.stderr:write("ese ", cmd, ": ", tostring(e), "\n")
  return 1
end

-- ---------------------------------------------------------------------------
-- Files and folders

-- (ese.fs: no process; a folder named through a link counts as a folder)
local function kind_of(p)
  local ok, st = pcall(fs.stat, p)
  if not ok then return "absent" end
  if st.kind == "link" then
    -- what the link names: a folder lists, anything else does not
    return pcall(fs.list, p) and "folder" or "file"
  end
  return st.kind
end
local function is_dir(p) return kind_of(p) == "folder" end

-- The sorted names in dir; {} when it cannot be listed.
local function list_dir(dir)
  local ok, names = pcall(fs.list, dir)
  return ok and names or {}
end

-- ---------------------------------------------------------------------------
-- Commands

local commands = {}
local order = { "info", "logs", "check", "backup", "restore", "expire", "demo" }

commands.info = {
  usage = "ese info FILE [--verify] [--json]",
  summary = "the header of a database or log file",
  help = [[
Prints the header of a database (state, page size, pages, signatures, the
log generations it needs, its backup records) or of a log file (generation,
signature, creation time, the one it follows).  --verify also checks every
page or log record checksum.]],
  flags = { json = "bool", verify = "bool" },
  args = { 1, 1 },
  run = function(a, o, ui)
    local ok, fi = pcall(ese.file_info, a[1], o.verify)
    if not ok then return fail(ui, "info", fi) end
    fi.path = a[1]
    if ui.json then print_json(fi); return 0 end
    local function row(k, v) out(("%-15s %s"):format(k, tostring(v))) end
    row("file", a[1])
    row("kind", fi.kind)
    row("page size", fi.page_size)
    if fi.kind == "database" then
      row("state", fi.state)
      row("pages", ("%d (%s)"):format(fi.pages, human(fi.pages * fi.page_size)))
      row("format", fi.format_version)
      row("dbtime", ("%d (no page carries a higher one)"):format(fi.dbtime_last))
      row("db signature", fi.db_signature)
      row("log signature", fi.log_signature)
      row("log range", ("%d .. %d (the generations it needs)"):format(fi.gen_min, fi.gen_max))
      local any = false
      for _, k in ipairs({ "full", "incremental", "differential", "copy", "current" }) do
        local b = fi.backups and fi.backups[k]
        if b then
          any = true
          row(k == "current" and "backup copy" or ("last " .. k), ("generations %d .. %d at %s UTC"):format(
            b.gen_low, b.gen_high, utc_us(b.time_us)))
        end
      end
      if not any then row("backups", "none recorded") end
    else
      row("generation", ("%d (0x%X)"):format(fi.generation, fi.generation))
      row("log signature", fi.log_signature)
      row("file size", human(fi.file_size))
      row("created", utc_us(fi.created_us) .. " UTC")
      -- prev_created_us 0: no log before it (the stream's first generation)
      row("follows", fi.prev_created_us == 0 and "none (the first log of the stream)"
        or ("a log created " .. utc_us(fi.prev_created_us) .. " UTC"))
      row("attached dbs", fi.attached)
    end
    row("checksums", o.verify and "verified" or "not checked (use --verify)")
    return 0
  end,
}

-- The table `ese logs` prints: per base name its logs, gaps and the
-- current log's mark.
local function print_chains(dir, result)
  if #result.bases == 0 then out("no log files in ", dir) end
  for _, b in ipairs(result.bases) do
    out(("base name %s: %s, generations %s .. %s"):format(b.base_name, plural(#b.logs, "log file"),
      tostring(b.gen_low), tostring(b.gen_high)))
    out(("  %-8s %-20s %-9s %-24s %-10s %s"):format("gen", "file", "size", "created (UTC)", "signature", "follows"))
    for _, e in ipairs(b.logs) do
      out(("  %-8s %-20s %-9s %-24s %-10s %s"):format(tostring(e.generation or "?"),
        e.name .. (e.current and " *" or ""), e.size and human(e.size) or "-",
        e.created_us and utc_us(e.created_us) or (e.error and e.error.name or "-"),
        e.signature and e.signature:sub(1, 8) or "-",
        e.follows == nil and "-" or (e.follows and "yes" or "NO")))
    end
    for _, gap in ipairs(b.gaps) do out(("  gap: %s missing"):format(logchain.gap_words(gap))) end
    if #b.logs > 0 and b.logs[#b.logs].current then out("  * the current log") end
  end
end

commands.logs = {
  usage = "ese logs DIR [--verify] [--json]",
  summary = "log generations, signatures, gaps and contiguity of a folder",
  help = [[
Lists the log files of DIR (edbXXXXXXXX.log and the current edb.log) with
their generation, size, creation time and signature, and checks that the
generations have no gap (else JET_errMissingLogFile), that each log follows
its predecessor (else JET_errGivenLogFileIsNotContiguous) and that all share
one signature (else JET_errGivenLogFileHasBadSignature).  --verify also
checks every log record.  Exit status 1 when a check fails.]],
  flags = { json = "bool", verify = "bool" },
  args = { 1, 1 },
  run = function(a, o, ui)
    local dir = a[1]
    if not is_dir(dir) then
      return fail(ui, "logs", backup.error("JET_errFileNotFound", "logs", dir .. " is not a folder"))
    end
    local result, first_err = logchain.check_dir(dir, o.verify)
    if ui.json then
      print_json(result)
      return result.ok and 0 or 1
    end
    print_chains(dir, result)
    if result.ok then
      out("ok: no gap, every log follows its predecessor, one signature"
        .. (o.verify and ", every record verified" or ""))
      return 0
    end
    io.stderr:write("ese logs: ", tostring(first_err), "\n")
    for i = 2, #result.problems do io.stderr:write("  also: ", result.problems[i].text, "\n") end
    return 1
  end,
}

-- The databases a chain's logs create or attach that no set holds
-- (backup.verify's and ese.restore's not_restored): a restore skips them,
-- as ESE's hard restore does; said, never left out in silence.
local function not_restored_lines(list, lead)
  for _, n in ipairs(list or {}) do
    out(("%s: %s, %s at generation %d after the full set was taken (no set holds it): take a full "
      .. "backup after creating or attaching a database"):format(lead, n.path, n.how, n.generation))
  end
end

commands.check = {
  usage = "ese check DB|LOG|BACKUP_DIR... [--json]",
  summary = "every checksum of a file, a backup set or a chain of sets",
  help = [[
A file (database or log): checks every page or log record.  A backup folder
(made by `ese backup` or backup.run): checks its manifest, every file's
presence, size and SHA-256, every page and log record, signatures and
generations; several folders are a chain (full, then incrementals in
order).  A set without manifest.json (written step by step) is checked from
its files: every page and log record, signatures, generations and the log
chain, and the output says it had no manifest.  Exit status 1 naming the
JET_err of the first fault.]],
  flags = { json = "bool" },
  args = { 1, math.huge },
  run = function(a, _, ui)
    local files, dirs = {}, {}
    for _, p in ipairs(a) do
      if is_dir(p) then dirs[#dirs + 1] = p else files[#files + 1] = p end
    end
    local result = { ok = true, files = {}, chain = nil }
    for _, f in ipairs(files) do
      local ok, fi = pcall(ese.file_info, f, true)
      if not ok then
        if ui.json then print_json({ ok = false, command = "check", path = f, error = error_table(fi) }) end
        io.stderr:write("ese check: ", tostring(fi), "\n")
        return 1
      end
      result.files[#result.files + 1] = { path = f, kind = fi.kind, pages = fi.pages, generation = fi.generation }
      if not ui.json then
        local what = fi.kind == "database" and (", %s, %s"):format(plural(fi.pages, "page"), fi.state)
          or (", generation %d"):format(fi.generation)
        out(("ok  %s  (%s%s)"):format(f, fi.kind, what))
      end
    end
    if #dirs > 0 then
      local fn, finish = cli.progress(ui, "check")
      local ok, rep = pcall(backup.verify, dirs, { on_progress = fn })
      finish()
      if not ok then return fail(ui, "check", rep) end
      result.chain = json_report(rep)
      if not ui.json then
        for _, s in ipairs(rep.sets) do
          -- a set without manifest.json has no recorded backup time
          local when = s.time and ("of " .. s.time) or "(time unknown: no manifest)"
          out(("ok  %s  (%s backup %s, generations %d .. %d, %s, %s)"):format(s.dir, s.kind, when,
            s.gen_low, s.gen_high, plural(s.files, "file"), human(s.bytes)))
          if not s.manifest then
            out(("    %s has no manifest.json (written step by step): checked every page, log and the log "
              .. "chain from the files themselves; no SHA-256 to compare"):format(s.dir))
          end
        end
        if #rep.sets > 1 then
          out(("ok  chain %s: generations %d .. %d"):format(rep.kind, rep.gen_low, rep.gen_high))
        end
        not_restored_lines(rep.not_restored, "a restore of it will NOT restore")
      end
    end
    if ui.json then print_json(result) end
    return 0
  end,
}

-- The parameters of an instance on dir, from the files in it.
local function instance_params(dir)
  local p = { system_path = dir, log_path = dir }
  local bases = logchain.find(dir)
  local base = next(bases)
  for _, n in ipairs(list_dir(dir)) do
    local b = n:match("^(%w%w%w)%.chk$")
    if b then base = b end
  end
  if base then
    p.base_name = base
    for _, f in ipairs(bases[base] or {}) do
      local ok, fi = pcall(ese.file_info, dir .. "/" .. f.name)
      if ok then
        p.page_size = fi.page_size
        p.log_file_size = fi.file_size // 1024
        break
      end
    end
  end
  return p
end

-- The databases the log stream of dir (base name base) refers to: those
-- the records of its logs create or attach and those the logs' headers
-- list as attached when the generation began; one entry per database
-- signature, in the order the logs name them: {db_signature, path (the
-- absolute path the logs first give), candidates (the files that may be
-- it, as recovery looks for them: the path relative to the log folder,
-- joined to dir, then the absolute one, for each path the logs give)}.
-- A log whose records cannot be read gives its header's table; one whose
-- header cannot be read gives nothing (the instance's init refuses it).
-- The second result: the stream's log signature (its current log's, else
-- its newest generation's), nil without a log.
local function logged_databases(dir, base)
  local files = logchain.find(dir)[base] or {}
  table.sort(files, function(x, y) return (x.gen or math.huge) < (y.gen or math.huge) end)
  local by_sig, list, log_sig = {}, {}, nil
  for _, f in ipairs(files) do
    local p = dir .. "/" .. f.name
    local ok, fi = pcall(ese.file_info, p, true)
    if not ok then ok, fi = pcall(ese.file_info, p) end
    if ok and fi.kind == "log" then
      log_sig = fi.log_signature
      for _, field in ipairs({ "attach_table", "databases" }) do
        for _, d in ipairs(fi[field] or {}) do
          local e = by_sig[d.db_signature]
          if not e then
            e = { db_signature = d.db_signature, path = d.path, candidates = {}, seen = {} }
            by_sig[d.db_signature] = e
            list[#list + 1] = e
          end
          for _, c in ipairs({ d.relative and (dir .. "/" .. d.relative), d.path }) do
            if c and not e.seen[c] then
              e.seen[c] = true
              e.candidates[#e.candidates + 1] = c
            end
          end
        end
      end
    end
  end
  for _, e in ipairs(list) do e.seen = nil end
  return list, log_sig
end

-- Where a database the logs refer to (an entry of logged_databases) is:
-- the first candidate that is a database file with its signature and the
-- stream's log signature (log_sig); else nil and why not.
local function resolve_logged(e, log_sig)
  local why
  for _, c in ipairs(e.candidates) do
    local ok, fi = pcall(ese.file_info, c)
    if ok and fi.kind == "database" and fi.db_signature == e.db_signature then
      if fi.log_signature == log_sig then return c end
      why = why or (c .. " belongs to another log stream now (another instance attached it since)")
    elseif kind_of(c) ~= "absent" then
      why = why or (c .. " is another file now (not the database the logs name)")
    end
  end
  return nil, why or "absent"
end

commands.backup = {
  usage = "ese backup INSTANCE_DIR DEST|- [--incremental] [--no-truncate] [--copy] [--compress zstd [--level N]] "
    .. "[--max-rate BYTES] [--archive DIR | --archive-command CMD] [--prefix NAME] [--json]",
  summary = "a full, incremental or copy backup of a folder no process holds",
  help = [[
Opens an instance on INSTANCE_DIR (its logs and checkpoint are there; soft
recovery runs if it crashed), attaches every *.edb file of the folder (not
a folder so named) and every database the instance's logs attach, wherever
it lives (one not found is named NOT backed up), and writes a backup set
into DEST (created with mode
0700; written as DEST.partial and renamed when complete).  A full backup by
default; --incremental: the logs since the last full or incremental;
--no-truncate: keep the logs (a full becomes a "copy", an incremental a
"differential"); --copy: a full without truncation (not with
--incremental).  Fails with
JET_errFileAccessDenied when another process holds the folder.
--compress zstd stores every file of the set as NAME.zst (zstd level N,
1 .. 19, default 1); check and restore read such a set as they read a
plain one.  A level out of range or another --compress value:
JET_errInvalidParameter, before anything is written.
DEST "-" writes the set to stdout as one tar archive instead (its entries
under the folder NAME with --prefix), for a pipe to ssh or a compressor;
with --compress zstd the whole archive is one zstd stream (unpack it with
`tar --zstd -xf`).  The summary then goes to stderr.
--max-rate BYTES reads the instance at most BYTES per second (the
backup_max_rate parameter: backup pacing).
A folder whose application ships its logs to an archive (it holds
edb.arc) needs that archive here: --archive DIR or --archive-command CMD
(the application's archive_path or archive_command; not both), so that the
truncation keeps the generations not shipped yet and the instance ships
them; without either, a backup that truncates is refused
(JET_errInvalidParameter) and --no-truncate or --copy is not.]],
  flags = { json = "bool", incremental = "bool", ["no-truncate"] = "bool", copy = "bool", prefix = "string",
            compress = "string", level = "int", ["max-rate"] = "int", archive = "string",
            ["archive-command"] = "string" },
  -- the Lua options (backup.run's, the instance's) whose flag has another name
  lua_names = { ["archive-path"] = "the instance's archive_path is --archive DIR here",
                ["backup-max-rate"] = "the backup_max_rate parameter is --max-rate BYTES here",
                truncate = "a full or incremental backup truncates the logs by default; --no-truncate keeps them" },
  args = { 2, 2 },
  run = function(a, o, ui)
    local dir, dest = a[1], a[2]
    local to_stdout = dest == "-"
    if o.copy and o.incremental then   -- a usage error, before the instance is opened
      io.stderr:write("ese backup: --copy and --incremental exclude each other (--copy is a full backup ",
                      "without truncation; an incremental one without it is --incremental --no-truncate)\n",
                      "usage: ", commands.backup.usage, "\n")
      return 2
    end
    if o.archive and o["archive-command"] then   -- the application has one archive, never both
      io.stderr:write("ese backup: --archive and --archive-command exclude each other (give the one the ",
                      "application's instance has: its archive_path or its archive_command)\n",
                      "usage: ", commands.backup.usage, "\n")
      return 2
    end
    if to_stdout then
      if ui.json then
        io.stderr:write("ese backup: --json needs a DEST folder (stdout carries the archive)\n")
        return 2
      end
      if stdout_is_tty() then io.stderr:write("ese backup: refusing to write an archive to a terminal\n"); return 2 end
      ui.mode = "none"
    elseif o.prefix then
      io.stderr:write("ese backup: --prefix goes with DEST -\n")
      return 2
    end
    if not is_dir(dir) then
      return fail(ui, "backup", backup.error("JET_errFileNotFound", "backup", dir .. " is not a folder"))
    end
    local dbs = {}
    local others = {}   -- files whose header is a database's, not named *.edb: not attached, named in the output
    for _, n in ipairs(list_dir(dir)) do
      -- a folder named *.edb (a set made as DIR/daily.edb) is no database;
      -- *.edb in any case (x.EDB) is one
      local p = dir .. "/" .. n
      if kind_of(p) == "file" then
        if n:lower():match("%.edb$") then
          dbs[#dbs + 1] = p
        else
          local ok, fi = pcall(ese.file_info, p)
          if ok and fi.kind == "database" then others[#others + 1] = n end
        end
      end
    end
    -- every database the instance's logs refer to is the instance's (ESE
    -- backs up every database attached): one that lives outside the folder
    -- or is not named *.edb is attached too, where recovery would find it;
    -- one that is not there (or is another database now) is named
    local sig_of = function(p)
      local ok, fi = pcall(ese.file_info, p)
      return ok and fi.kind == "database" and fi.db_signature or nil
    end
    local have = {}
    for _, p in ipairs(dbs) do
      local sig = sig_of(p)
      if sig then have[sig] = true end
    end
    local from_logs, missing = {}, {}
    local logged, log_sig = logged_databases(dir, instance_params(dir).base_name or "edb")
    for _, e in ipairs(logged) do
      if not have[e.db_signature] then
        local at, why = resolve_logged(e, log_sig)
        if at then
          have[e.db_signature] = true
          dbs[#dbs + 1] = at
          from_logs[#from_logs + 1] = at
        else
          missing[#missing + 1] = { path = e.path, db_signature = e.db_signature, why = why }
        end
      end
    end
    for i = #others, 1, -1 do
      if have[sig_of(dir .. "/" .. others[i]) or false] then table.remove(others, i) end
    end
    local function missing_words()
      local w = {}
      for _, m in ipairs(missing) do w[#w + 1] = ("%s (%s)"):format(m.path, m.why) end
      return table.concat(w, ", ")
    end
    if #dbs == 0 then
      return fail(ui, "backup", backup.error("JET_errFileNotFound", "backup", "no database (*.edb) in " .. dir
        .. (#others > 0 and " (not named *.edb, so not backed up: " .. table.concat(others, ", ") .. ")" or "")
        .. (#missing > 0 and "; its logs name databases that are not there: " .. missing_words() or "")))
    end
    -- the application's log archive: its progress file pins the generations
    -- it has not shipped only while an archive is configured (api.md, "The
    -- log archive"); a truncation without it would delete them for good
    local arc = (instance_params(dir).base_name or "edb") .. ".arc"
    local truncates = not (o["no-truncate"] or o.copy)
    -- every restore leaves its mark there (a new timeline; next generation
    -- 0xffffffff, docs/format.md "Archive progress")
    local mark
    do
      local f = io.open(dir .. "/" .. arc, "rb")
      local head = f and f:read(32)
      if f then f:close() end
      mark = head and #head == 32 and string.unpack("<I4", head, 29) == 0xffffffff
    end
    if truncates and not (o.archive or o["archive-command"]) and kind_of(dir .. "/" .. arc) ~= "absent" then
      -- the folder may be archived or not, which only its user knows
      local why = mark and ("%s/%s was left by a restore (the log stream goes on from the restored point); if this "
        .. "folder's logs go to an archive, give it (a backup that truncates them without it would delete the "
        .. "generations not shipped yet): --archive DIR or --archive-command CMD; if they do not, remove %s/%s; or "
        .. "back up with --no-truncate or --copy"):format(dir, arc, dir, arc)
        or ("%s ships its logs to an archive (%s/%s): a backup that truncates them without it would delete the "
        .. "generations not shipped yet; give the application's --archive DIR or --archive-command CMD, or back up "
        .. "with --no-truncate or --copy"):format(dir, dir, arc)
      return fail(ui, "backup", backup.error("JET_errInvalidParameter", "backup", why))
    end
    -- before the instance opens (its init makes the archive folder and ships
    -- the pending generations there): --archive must be the application's
    if o.archive then
      -- compared as absolute paths: "./DEST/arc" or "$PWD/DEST/arc" is in DEST too
      local ad = util.strip_slashes(o.archive)
      local abs_ad = util.strip_slashes(ese.fs.absolute(ad))
      local d = not to_stdout and util.strip_slashes(ese.fs.absolute(dest))
      -- (a restored folder: a new folder is the new timeline's archive, every generation of the folder
      -- shipped there, no gap; the old one ships nothing, docs/guide.md "After a restore")
      if kind_of(ad) == "absent" and kind_of(dir .. "/" .. arc) ~= "absent" and not mark then
        return fail(ui, "backup", backup.error("JET_errFileNotFound", "backup", ("--archive %s does not exist, but "
          .. "%s/%s says generations were shipped to an archive: give the application's archive folder (a new one "
          .. "would get the generations not shipped yet, a gap in the application's)"):format(ad, dir, arc)))
      end
      if d and (abs_ad == d or abs_ad:sub(1, #d + 1) == d .. "/") then
        return fail(ui, "backup", backup.error("JET_errInvalidParameter", "backup",
          ("--archive %s is DEST or in it: the set's folder is no log archive"):format(ad)))
      end
    end
    -- a database left dirty (the application crashed): init's soft
    -- recovery replays into it first, which the summary then says
    local dirty = {}
    for _, p in ipairs(dbs) do
      local ok, fi = pcall(ese.file_info, p)
      if ok and fi.state == "dirty" then dirty[#dirty + 1] = util.basename(p) end
    end
    local inst
    local arc_error, arc_pending   -- the archive's last error at the end, while generations wait unshipped
    local ok, rep = pcall(function()
      local params = instance_params(dir)
      params.backup_max_rate = o["max-rate"]
      params.archive_path, params.archive_command = o.archive, o["archive-command"]
      inst = ese.create_instance(("ese-cli-backup-%d-%d"):format(os.time(), math.random(1 << 30)), params)
      inst:init()
      local s = inst:begin_session()
      for _, p in ipairs(dbs) do s:attach_database(p) end
      local fn, finish = cli.progress(ui, "backup")
      local truncate
      if o["no-truncate"] or o.copy then truncate = false end
      local bopts = { incremental = o.incremental, copy = o.copy, truncate = truncate, on_progress = fn,
                      prefix = o.prefix, compress = o.compress, level = o.level }
      local ok2, r
      if to_stdout then
        ok2, r = pcall(backup.run_to, inst, io.stdout, bopts)
        io.stdout:flush()
      else
        ok2, r = pcall(backup.run, inst, dest, bopts)
      end
      finish()
      if not ok2 then error(r, 0) end
      s:end_session()
      -- an archive that ships nothing (the restore's mark: another
      -- timeline; a folder that cannot be listed) keeps the generations
      -- in the folder, which the truncation leaves there: said, not silent
      if o.archive or o["archive-command"] then
        local st = inst:archive_status()
        if st.last_error and st.pending > 0 then arc_error, arc_pending = st.last_error, st.pending end
      end
      return r
    end)
    if inst and inst:is_open() and not pcall(inst.term, inst, { complete = true }) then pcall(inst.term, inst) end
    if not ok then return fail(ui, "backup", rep) end
    rep.instance_dir = dir
    rep.recovered = #dirty > 0
    if #others > 0 then rep.not_backed_up = others end
    if #from_logs > 0 then rep.from_logs = from_logs end
    if #missing > 0 then rep.not_backed_up_logged = missing end
    if arc_error then rep.archive_error = arc_error end
    if ui.json then print_json({ ok = true, report = json_report(rep) }); return 0 end
    local function note(text)
      if to_stdout then io.stderr:write(text, "\n") else out(text) end
    end
    if #others > 0 then
      note(("NOT backed up: %s in %s (a database file not named *.edb that the instance's logs do not name; "
        .. "rename it to *.edb to include it)"):format(table.concat(others, ", "), dir))
    end
    for _, p in ipairs(from_logs) do   -- an incremental holds logs only: the database is attached, its logs kept
      note(("%s: %s (a database the instance's logs attach, not a *.edb file of %s)"):format(
        rep.kind == "incremental" and "covered too (its logs)" or "backed up too", p, dir))
    end
    if #missing > 0 then
      note(("NOT backed up: %s: databases the instance's logs attach that are not there (a restore of the set "
        .. "cannot bring them back)"):format(missing_words()))
    end
    if arc_error then
      note(("the archive: %s not shipped, kept in %s (the truncation keeps them): %s"):format(
        plural(arc_pending, "log generation"), dir, arc_error))
    end
    if rep.recovered then
      note(("%s was not shut down cleanly (%s dirty): soft recovery ran before the backup"):format(dir,
        table.concat(dirty, ", ")))
    end
    local line = ("%s backup of %s into %s: %s, %s in %s (%s), log generations %d .. %d"):format(
      rep.kind, dir, to_stdout and "stdout (tar)" or rep.dir, plural(rep.files, "file"), human(rep.bytes),
      duration(rep.seconds), rate(rep.bytes, rep.seconds), rep.gen_low, rep.gen_high)
    if o.compress == "zstd" then
      local stored = rep.archive_bytes
      if not stored then
        stored = 0
        for _, e in ipairs(rep.manifest.files) do stored = stored + e.size end
      end
      line = line .. (", zstd level %d: %s stored (ratio %.2f)"):format(o.level or 1, human(stored),
        stored > 0 and rep.bytes / stored or 0)
    end
    if to_stdout then io.stderr:write(line, "\n") else out(line) end
    return 0
  end,
}

commands.restore = {
  usage = "ese restore BACKUP_DIR... DEST [--archive DIR] [--restore-command CMD] [--to-time TIME [--allow-partial]] "
    .. "[--to-generation N] [--live-logs DIR] [--force] [--json]",
  summary = "verify a set (a full, then its incrementals) and restore it into DEST",
  help = [[
Verifies the backup sets (a full one, then its incrementals in order), then
restores them into DEST and replays their logs, then the archived log
generations of --archive DIR, then those --restore-command CMD fetches
after them (one generation per run: %f its file name, %p where to write it,
until it exits non-zero; e.g. "rclone copyto archive:lua-ese/%f %p"), then
the logs of a live log folder with --live-logs.  --to-time stops before the
first commit later than TIME ("YYYY-MM-DD HH:MM:SS[.ffffff]", UTC unless a
zone follows: Z, +02:00, -0500; or seconds since the epoch): DEST then
holds exactly the transactions committed at or before it.  The logs must go
past TIME (a gap in the archive, or logs that end before it, fail with the
named error of the missing generation) unless --allow-partial, which
restores to the gap or the end and says so.  --to-generation N stops after
generation N.  DEST must be absent or empty unless --force: then the set's
databases and the log stream in DEST are replaced (every edb*.log and
edb.chk there), other files are kept.  A DEST that a running instance uses
(in any process) is refused even with --force, and so is a DEST where a
file the restore writes is a symbolic link.  An instance with system_path =
log_path = DEST then opens the restored databases.]],
  flags = { json = "bool", ["to-generation"] = "int", ["live-logs"] = "string", force = "bool", archive = "string",
            ["to-time"] = "time", ["allow-partial"] = "bool", ["restore-command"] = "string" },
  lua_names = { overwrite = "restore's overwrite = true is --force here",
                ["live-log-path"] = "restore's live_log_path is --live-logs DIR here",
                ["archive-path"] = "restore's archive_path is --archive DIR here" },
  args = { 2, math.huge },
  run = function(a, o, ui)
    local dest = a[#a]
    local dirs = {}
    for i = 1, #a - 1 do dirs[i] = a[i] end
    local fn, finish = cli.progress(ui, "restore")
    if o["allow-partial"] and not o["to-time"] then
      io.stderr:write("ese restore: --allow-partial needs --to-time\n", "usage: ", commands.restore.usage, "\n")
      return 2
    end
    local ok, rep = pcall(backup.restore, dirs, dest, {
      to_generation = o["to-generation"], live_log_path = o["live-logs"], on_progress = fn, overwrite = o.force,
      archive_path = o.archive, to_time = o["to-time"], allow_partial = o["allow-partial"],
      restore_command = o["restore-command"],
    })
    finish()
    if not ok and ese.is_error(rep) and rep.name == "JET_errBackupDirectoryNotEmpty" and not o.force then
      rep.detail = tostring(rep.detail or dest .. " is not empty"):gsub(" %(pass overwrite to restore over it%)$", "")
        .. " (use --force to restore over it)"
    end
    if not ok then return fail(ui, "restore", rep) end
    if ui.json then print_json({ ok = true, report = json_report(rep) }); return 0 end
    local v = rep.verify
    -- the generation the replay reached, not the option: logs that end
    -- before --to-generation N stop the replay there
    local upto = o["to-generation"]
    if upto then
      upto = (", replayed to %d%s"):format(rep.last_generation,
        rep.last_generation < upto and (" (the logs end before --to-generation " .. upto .. ")") or "")
    elseif rep.last_generation > v.gen_high then
      -- the archive, a restore command or live logs took the replay past
      -- the sets: how far is the one thing the sets' range does not say
      upto = (", replayed to %d"):format(rep.last_generation)
    end
    out(("restored %s (%s, %s, generations %d .. %d%s) into %s in %s"):format(
      v.kind, plural(v.files, "file"), human(v.bytes), v.gen_low, v.gen_high, upto or "", dest, duration(rep.seconds)))
    -- the restore started a new timeline (B.arc's mark, B.tl): the archive
    -- it read from keeps the old one's generations, so an instance on
    -- dest ships nothing there (docs/guide.md, "After a restore")
    if o.archive or o["restore-command"] then
      out(("a new timeline starts in %s: archive an instance there into a new folder or destination, not the "
        .. "archive this restore read (it keeps the old timeline's generations; the instance ships nothing there: "
        .. "JET_errArchiveTimelineConflict)"):format(dest))
    end
    -- logs were asked for after the sets and none came: say so (a restore
    -- command that fails for every generation is the archive's end too)
    local after = {}
    if o.archive then after[#after + 1] = "in --archive " .. o.archive end
    if o["restore-command"] then after[#after + 1] = "fetched by --restore-command" end
    if o["live-logs"] then after[#after + 1] = "in --live-logs " .. o["live-logs"] end
    -- the fetch that ended the archive, in the command's own words: a
    -- fetch that failed (a network error) ends it as the archive's end
    -- does, and only they tell the two apart
    if rep.fetch_end then
      out(("--restore-command fetched no further generation: %s"):format(rep.fetch_end))
    end
    -- a point in time the sets' own logs went past: the replay stopped
    -- there on purpose, whatever the archive holds; or --to-generation
    -- ended it before any commit after the point in time
    local in_sets = o["to-time"] and rep.stopped_at_time and rep.last_generation <= v.gen_high
    if in_sets then
      out(("the point in time is in the sets' logs: the replay stopped at it in generation %d (the sets' logs: "
        .. "%d .. %d); no later log was needed"):format(rep.last_generation, v.gen_low, v.gen_high))
    elseif o["to-time"] and upto and not rep.stopped_at_time and rep.last_generation >= o["to-generation"] then
      out(("--to-generation %d ended the replay before the point in time: no commit replayed is after it"):format(
        o["to-generation"]))
    elseif #after > 0 and rep.last_generation <= v.gen_high and not (upto and o["to-generation"] <= v.gen_high) then
      out(("no log generation after the sets' last (%d) was %s: the restore ends with the sets"):format(
        v.gen_high, table.concat(after, ", nor ")))
    end
    not_restored_lines(rep.not_restored, "NOT restored")
    if o["to-time"] then
      -- seconds to the microsecond, rounded as ese.restore rounds to_time
      local last = rep.last_commit_time_us
      out(("point in time %s UTC: %s; replayed to generation %d, last commit%s%s"):format(utc_us(us(o["to-time"]), 6),
        rep.reached and "reached" or "NOT reached (--allow-partial)", rep.last_generation,
        last and (" " .. utc_us(last, 6) .. " UTC") or ": none",
        rep.gap_generation and (", generation " .. rep.gap_generation .. " missing") or ""))
    end
    return 0
  end,
}

-- One row of the plan `ese expire` prints or its JSON entry: the path,
-- what it is, why it stays or goes, and for a set its kind, time and
-- generations.
local function expire_entry(plan, path)
  local e = { path = path, what = plan.what[path], reason = plan.reasons[path] }
  local s = plan.sets[path]
  if s then
    e.kind, e.time_us, e.gen_low, e.gen_high, e.bytes = s.kind, s.time * 1000000, s.gen_low, s.gen_high, s.bytes
    e.timeline = s.timeline
  end
  return e
end

-- deleted: the plan was carried out, its "delete" rows say "deleted".
local function print_plan(plan, shown, deleted)
  local width = 0
  for _, list in ipairs({ plan.keep, plan.delete }) do
    for _, p in ipairs(list) do width = math.max(width, #shown(p)) end
  end
  local function row(verb, path)
    local e = expire_entry(plan, path)
    -- a restored instance's sets name their timeline (none: the stream's root one)
    local tl = e.timeline and e.timeline ~= "root" and (", timeline " .. e.timeline) or ""
    local what = e.kind and ("%s set of %s UTC, generations %d .. %d%s, %s: "):format(e.kind,
      utc_us(e.time_us):sub(1, 19), e.gen_low, e.gen_high, tl, human(e.bytes)) or ""
    out(("  %-7s %-" .. width .. "s  %s%s"):format(verb, shown(path), what, e.reason))
  end
  for _, p in ipairs(plan.keep) do row("keep", p) end
  for _, p in ipairs(plan.delete) do row(deleted and "deleted" or "delete", p) end
  local pts = {}
  for i, pt in ipairs(plan.points) do
    local names = {}
    for j, sp in ipairs(pt.sets) do names[j] = shown(sp) end
    pts[i] = table.concat(names, " + ")
  end
  out(("restore points kept: %d%s"):format(#plan.points, #pts > 0 and (" (" .. table.concat(pts, "; ") .. ")") or ""))
end

commands.expire = {
  usage = "ese expire ROOT --keep-full N [--keep-within DURATION] [--archive DIR] [--no-verify] [--yes] [--json]",
  summary = "retention: which sets and archived logs go (deleted with --yes)",
  help = [[
ROOT holds backup sets as subfolders (full sets and their incrementals).
Keeps the N newest full sets and every incremental that follows them; with
--keep-within (seconds, or 90m, 36h, 7d, 2w) also every restore point whose
manifest time is that recent, with the sets it needs; with --archive DIR,
deletes the archived log files (edbXXXXXXXX.log) older than the first
generation a kept restore point needs.  Never deletes what it cannot read
(no or a bad manifest, a symbolic link, a .partial folder): it stays, with
the reason.  When anything would go, each full set counted among the N
newest is first read whole as `ese check` reads it: one that fails stays,
with the reason, and is not counted (the next newest is); --no-verify
skips that reading (a set is then judged by its files' names and sizes).
Without --yes it only prints the plan (what stays, what goes,
why); with --yes it deletes, oldest chain first, each set folder first
renamed to .expiring-NAME, so that a kill at any moment leaves every kept
restore point whole (a later expire removes the leftover).  Exit status 1
naming the JET_err when ROOT or DIR is not a folder, a counted full set
changed since the plan read it (--yes: nothing deleted) or a deletion
fails.]],
  flags = { json = "bool", ["keep-full"] = "int", ["keep-within"] = "string", archive = "string", yes = "bool",
            ["no-verify"] = "bool" },
  lua_names = { ["archive-path"] = "expire's archive_path is --archive DIR here",
                ["dry-run"] = "a dry run is the default here; --yes deletes",
                verify = "every counted full set is read by default; --no-verify skips it" },
  args = { 1, 1 },
  run = function(a, o, ui)
    local function usage(msg)
      io.stderr:write("ese expire: ", msg, "\nusage: ", commands.expire.usage, "\n")
      return 2
    end
    if not o["keep-full"] then return usage("--keep-full N is required (at least 1 full set is always kept)") end
    local within
    if o["keep-within"] then
      within = backup.parse_duration(o["keep-within"])
      if not within then return usage("--keep-within needs a duration: seconds, or N followed by s, m, h, d or w") end
    end
    local root = util.strip_slashes(a[1])
    local function shown(p)
      return p:sub(1, #root + 1) == root .. "/" and p:sub(#root + 2) or p
    end
    local function progress(p)
      if not ui.json and p.phase ~= "invalidate" and p.phase ~= "verify" then out("  deleted ", shown(p.path)) end
    end
    local dry = not o.yes
    local ok, plan = pcall(backup.expire, a[1], { keep_full = o["keep-full"], keep_within = within,
                                                  archive_path = o.archive, dry_run = dry, on_progress = progress,
                                                  verify = not o["no-verify"] })
    if not ok then return fail(ui, "expire", plan) end
    if ui.json then
      local r = { ok = true, command = "expire", dry_run = dry, root = plan.root, archive_path = plan.archive_path,
                  bytes = plan.bytes, keep = {}, delete = {}, deleted = plan.deleted, points = {} }
      for i, p in ipairs(plan.keep) do r.keep[i] = expire_entry(plan, p) end
      for i, p in ipairs(plan.delete) do r.delete[i] = expire_entry(plan, p) end
      for i, pt in ipairs(plan.points) do
        r.points[i] = { sets = pt.sets, time_us = pt.time * 1000000, gen_low = pt.gen_low, gen_high = pt.gen_high }
      end
      print_json(r)
      return 0
    end
    if dry then
      out(("expire %s: dry run, nothing deleted (--yes deletes)"):format(root))
      print_plan(plan, shown)
      out(("%s to delete (%s), %d kept"):format(plural(#plan.delete, "item"), human(plan.bytes), #plan.keep))
    else
      out(("expire %s: deleted %s (%s), %d kept"):format(root, plural(#plan.deleted, "item"), human(plan.bytes),
        #plan.keep))
      print_plan(plan, shown, true)
    end
    return 0
  end,
}

commands.demo = {
  usage = "ese demo [backup|crash]",
  summary = "the engine's main job on a temporary folder, with checks",
  help = [[
backup: two writer coroutines keep committing while a full backup streams,
then more writes and an incremental, then restores into fresh folders and a
check that every transaction committed before each cut-off is back (and
none after it), with a summary table.  crash: a writer process is killed
mid-write; soft recovery brings back every commit it saw return.  Without
an argument, both.  Exit status 1 when a check fails.]],
  flags = {},
  args = { 0, 1 },
  run = function(a, _, _, argv)
    local which = a[1] or "all"
    if which ~= "all" and which ~= "backup" and which ~= "crash" then
      io.stderr:write("ese demo: unknown part '", which, "'\n", "usage: ", commands.demo.usage, "\n")
      return 2
    end
    return require("ese.demo").main(which, argv and argv[0] or "bin/ese")
  end,
}

-- ---------------------------------------------------------------------------
-- Arguments

local function usage_all()
  local lines = { "usage: ese COMMAND [ARGS] [--help]", "" }
  for _, name in ipairs(order) do
    lines[#lines + 1] = ("  %-8s %s"):format(name, commands[name].summary)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "  ese COMMAND --help   the command's options (also: ese help COMMAND)"
  lines[#lines + 1] = "  ese --version        the engine version"
  return table.concat(lines, "\n")
end

local function usage_of(name)
  local c = commands[name]
  return "usage: " .. c.usage .. "\n\n" .. c.help .. "\n"
end

-- "unknown option --x", with what to give instead when --x is spelt as
-- the Lua option (--keep_full: --keep-full) or names one whose flag has
-- another name (--overwrite: --force; the command's lua_names).
local function unknown_option(c, s)
  local name = s:match("^%-%-([%w%-_]+)") or s:match("^%-([%w%-_]+)")
  local key = name and name:gsub("_", "-")
  if key and key ~= name and c.flags[key] then
    return ("unknown option %s: did you mean --%s?"):format(s, key)
  end
  local hint = key and c.lua_names and c.lua_names[key]
  return "unknown option " .. s .. (hint and (" (" .. hint .. ")") or "")
end

-- Parses argv[first..] against the command's flags: returns positional
-- args, options, or nil and a message.
local function parse(c, argv, first)
  local args, opts = {}, {}
  local i = first
  local only_args = false
  while i <= #argv do
    local s = argv[i]
    if only_args or s == "-" or s:sub(1, 1) ~= "-" then
      args[#args + 1] = s
    elseif s == "--" then
      only_args = true
    elseif s == "--help" or s == "-h" then
      opts.help = true
    else
      local name, value = s:match("^%-%-([%w%-]+)=(.*)$")
      name = name or s:match("^%-%-([%w%-]+)$")
      local kind = name and c.flags[name]
      if not kind then return nil, unknown_option(c, s) end
      if kind == "bool" then
        if value then return nil, "option --" .. name .. " takes no value" end
        opts[name] = true
      else
        if not value then
          i = i + 1
          value = argv[i]
          if value == nil then return nil, "option --" .. name .. " needs a value" end
        end
        -- an empty value (an unset shell variable) is no folder or command:
        -- taken as none it would drop the archive from a restore unsaid
        if value == "" then return nil, "option --" .. name .. " needs a value, not an empty string" end
        if kind == "int" then
          -- decimal digits (a whole ".0" fraction allowed, as tostring writes a
          -- float): tonumber alone would take " 1", "1e3" and "0x10" too
          local n = value:match("^%d+%.?%d*$") and math.tointeger(tonumber(value))
          if not n or n <= 0 then return nil, "option --" .. name .. " needs a positive integer" end
          value = n
        elseif kind == "time" then
          local t, why = util.parse_time(value)
          if not t then
            return nil, "option --" .. name .. " needs a time: YYYY-MM-DD HH:MM:SS[.ffffff] (UTC, or with a zone "
              .. "such as Z or +02:00), or seconds since the epoch" .. (why and ("; in " .. value .. ": " .. why) or "")
          end
          if not util.to_time_ok(t) then
            return nil, "option --" .. name .. " " .. value .. " is out of range: a time after 1970-01-01 00:00:00 UTC "
              .. "and before the year 10000"
          end
          value = t
        end
        opts[name] = value
      end
    end
    i = i + 1
  end
  return args, opts
end

--- Runs the tool; argv is the script's `arg` table.  Returns the exit status.
function cli.main(argv)
  argv = argv or {}
  local name = argv[1]
  if name == nil then io.stderr:write(usage_all(), "\n"); return 2 end
  if name == "--help" or name == "-h" or name == "help" then
    local sub = argv[2]
    -- `ese help help` (or --help, -h): the overview, as `ese help` is
    if sub == "help" or sub == "--help" or sub == "-h" then sub = nil end
    -- a command that is none (a typo) is a usage error, not the overview
    if sub ~= nil and not commands[sub] then
      io.stderr:write("ese: unknown command '", sub, "'\n", usage_all(), "\n")
      return 2
    end
    io.stdout:write(sub and usage_of(sub) or (usage_all() .. "\n"))
    return 0
  end
  if name == "--version" then out("ese ", ese.version); return 0 end
  if name == "demo-writer" then cli.demo_writer(argv[2]); return 0 end
  local c = commands[name]
  if not c then
    io.stderr:write("ese: unknown command '", name, "'\n", usage_all(), "\n")
    return 2
  end
  local args, opts = parse(c, argv, 2)
  if not args then
    io.stderr:write("ese ", name, ": ", opts, "\n", "usage: ", c.usage, "\n")
    return 2
  end
  if opts.help then io.stdout:write(usage_of(name)); return 0 end
  if #args < c.args[1] or #args > c.args[2] then
    io.stderr:write("ese ", name, ": wrong number of arguments\n", "usage: ", c.usage, "\n")
    return 2
  end
  local ui = cli.new_ui(opts.json)
  local status = c.run(args, opts, ui, argv)
  io.stdout:flush()
  return status
end

--- The writer child of the crash demo (`ese demo-writer DIR`): ese.demo's
-- writer, loaded when called.
function cli.demo_writer(dir)
  return require("ese.demo").writer(dir)
end

cli.commands = commands
return cli
