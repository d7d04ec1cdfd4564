--- manifest.json of a backup set: its constants, the encoder and the
-- reader (decode and check).  The one other writer of these bytes is the
-- C entry point JetBackupInstance (csrc/backup_folder.c, write_manifest),
-- which has no Lua state to call this with; spec/backup_manifest_spec.lua
-- proves the two write the same bytes: a manifest JetBackupInstance wrote
-- is encode(read(...)) byte for byte.
-- @module ese.manifest
local cjson = require "cjson"
local ese = require "ese"
local util = require "ese.util"

local fs = ese.fs
local raise = util.raise

local manifest = {}

manifest.FORMAT = "lua-ese backup"
-- The newest format this tool reads: 1 (plain sets, which every writer
-- still writes), 2 (compressed sets: compress, compress_level and each
-- entry's content_size and content_sha256; an older tool refuses them).
manifest.FORMAT_VERSION = 2
manifest.PLAIN_VERSION = 1
manifest.NAME = "manifest.json"

--- The SHA-256 of an entry's original bytes: content_sha256 for a
-- compressed file (NAME.zst), else sha256.  One generation may be
-- compressed in one set and plain in another: two entries hold the same
-- log when these agree.
-- @param e a file entry of a manifest
-- @return the hex SHA-256
function manifest.original_sha256(e) return e.content_sha256 or e.sha256 end

--- The manifest as JSON: one key per line, one file per line, keys sorted
-- ("files" last), so that a human can read it and diff two of them.
-- @param m the manifest table
-- @return the JSON text
function manifest.encode(m)
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

-- lua-cjson decodes every number as a float: the integers back as integers
local function int(v) return type(v) == "number" and math.tointeger(v) or v end

--- The manifest in the JSON text, checked: a lua-ese manifest of a format
-- this tool reads, every entry a plain file name of a database or a log
-- with size and SHA-256 (else JET_errInvalidBackup or, for a name,
-- JET_errInvalidPath; op "verify").
-- @param text the JSON text
-- @param where the folder, for the messages
-- @return the manifest table, integers as integers
function manifest.decode(text, where)
  local ok, m = pcall(cjson.decode, text)
  if not ok or type(m) ~= "table" or m.format ~= manifest.FORMAT or type(m.files) ~= "table" then
    raise("JET_errInvalidBackup", "verify", "%s/%s is not a lua-ese backup manifest", where, manifest.NAME)
  end
  if type(m.format_version) ~= "number" or m.format_version > manifest.FORMAT_VERSION then
    raise("JET_errInvalidBackup", "verify", "%s: manifest format %s is newer than this tool", where,
      tostring(m.format_version))
  end
  -- the timeline a restore started (32 hex digits; absent: the stream's
  -- root timeline) and its parent's (absent: the root)
  for _, k in ipairs({ "timeline", "timeline_parent" }) do
    if m[k] ~= nil and not manifest.timeline_ok(m[k]) then
      raise("JET_errInvalidBackup", "verify", "%s: the manifest's %s is not 32 hexadecimal digits", where, k)
    end
  end
  if m.timeline_parent ~= nil and m.timeline == nil then
    raise("JET_errInvalidBackup", "verify", "%s: the manifest has a timeline_parent but no timeline", where)
  end
  m.gen_low, m.gen_high, m.page_size = int(m.gen_low), int(m.gen_high), int(m.page_size)
  m.format_version, m.time_unix, m.compress_level = int(m.format_version), int(m.time_unix), int(m.compress_level)
  for _, e in ipairs(m.files) do
    if type(e) == "table" then
      e.size, e.generation, e.content_size = int(e.size), int(e.generation), int(e.content_size)
    end
    if type(e) ~= "table" or not util.safe_name(e.name) then
      raise("JET_errInvalidPath", "verify", "%s: the manifest names %q, which is not a plain file name",
        where, type(e) == "table" and tostring(e.name) or "?")
    end
    if (e.type ~= "database" and e.type ~= "log") or math.type(e.size) ~= "integer" or type(e.sha256) ~= "string" then
      raise("JET_errInvalidBackup", "verify", "%s: the manifest entry of %s is incomplete", where, e.name)
    end
    -- a compressed set: every entry is NAME.zst with the original's size and SHA-256
    if m.compress ~= nil and (m.compress ~= "zstd" or not e.name:match("%.zst$")
        or math.type(e.content_size) ~= "integer" or type(e.content_sha256) ~= "string") then
      raise("JET_errInvalidBackup", "verify", "%s: the manifest entry of %s is not of a %s set", where, e.name,
        tostring(m.compress))
    end
  end
  return m
end

--- Whether v is a timeline id as a manifest writes it: 32 lowercase hex
-- digits, not all zeros (zeros name no timeline).
-- @param v the value
function manifest.timeline_ok(v)
  return type(v) == "string" and v:match("^[0-9a-f]+$") ~= nil and #v == 32 and v ~= ("0"):rep(32)
end

--- The manifest of the set in dir, or nil when it has none; a folder
-- named *.partial (an unfinished run) is JET_errInvalidBackup, a missing
-- folder or a file JET_errFileNotFound.
-- @param dir the set's folder
function manifest.read(dir)
  local name = util.basename(util.strip_slashes(dir))
  if name:match("%.partial$") then
    raise("JET_errInvalidBackup", "verify", "%s is an unfinished backup (named .partial)", dir)
  end
  local listed, kind = util.name_set(dir)
  if not listed then
    if kind == "file" then raise("JET_errFileNotFound", "verify", "%s is a file, not a folder", dir) end
    raise("JET_errFileNotFound", "verify", "folder %s not found", dir)
  end
  if fs.stat(dir .. "/" .. manifest.NAME).kind == "absent" then return nil end
  return manifest.decode(fs.read(dir .. "/" .. manifest.NAME), dir)
end

return manifest
