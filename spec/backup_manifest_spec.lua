-- Every set can be checked (issue 8 item 10): a set written with the
-- step-by-step API (no manifest.json) is verified from its files, and
-- JetBackupInstance writes the manifest of backup.run.
local ese = require "ese"
local backup = require "ese.backup"
local manifest = require "ese.manifest"
local cjson = require "cjson"
local H = require "support.helpers"

local function read_json(path)
  local text = H.read_file(path)
  assert.is_string(text, path)
  return cjson.decode(text)
end

-- The sorted keys of t, joined by spaces.
local function keys(t)
  local k = {}
  for name in pairs(t) do k[#k + 1] = name end
  table.sort(k)
  return table.concat(k, " ")
end

-- { top = keys, database = keys, log = keys } of a manifest.
local function shape(m)
  local r = { top = keys(m) }
  for _, e in ipairs(m.files) do r[e.type] = keys(e) end
  return r
end

describe("a set without manifest.json (written step by step)", function()
  local w, t, inst, full, _
  before_each(function()
    w = H.world()
    t, _, _, inst = w:filled_table(60, "a")
    full = w:path("full")
    H.backup(inst, full, { truncate = true })
  end)
  after_each(function() w:cleanup() end)

  it("verifies from its files (report and set say manifest = false) and restores", function()
    assert.is_false(H.exists(full .. "/manifest.json"))
    local r = backup.verify(full)
    assert.is_false(r.manifest)
    assert.is_false(r.sets[1].manifest)
    assert.are.equal("full", r.kind)
    assert.are.same({ "app.edb" }, r.databases)
    assert.is_true(r.files >= 2)
    assert.is_true(r.gen_low <= r.gen_high)
    -- a set with a manifest says so
    local rs = backup.run(inst, w:path("run"), { copy = true })
    assert.is_true(backup.verify(rs.dir).manifest)
    -- restore through backup.restore (which verifies first) brings every record back
    local dest = w:path("restored")
    backup.restore(full, dest)
    assert.are.equal(60, H.count_keys(w, dest, "a"))
  end)

  it("a chain of step-by-step sets: full + incremental verifies and restores", function()
    H.fill(t, 40, "b")
    local inc = w:path("inc")
    H.backup(inst, inc, { incremental = true, truncate = true })
    local r = backup.verify({ full, inc })
    assert.are.equal("full+incremental", r.kind)
    assert.is_false(r.manifest)
    local dest = w:path("restored")
    backup.restore({ full, inc }, dest)
    local got = H.restored_keys(w, dest)
    assert.are.equal(60, H.count_prefix(got, "a"))
    assert.are.equal(40, H.count_prefix(got, "b"))
    -- the incremental before the full: no full first
    H.expect_jet("JET_errMissingFullBackup", backup.verify, { inc, full })
  end)

  it("a flipped byte in a database page: JET_errReadVerifyFailure naming the page", function()
    H.flip_byte(full .. "/app.edb", 3 * 8192 + 200)
    local e = H.expect_jet("JET_errReadVerifyFailure", backup.verify, full)
    assert.matches("app%.edb", e.detail)
    assert.are.equal("verify", e.op)
  end)

  it("a flipped byte in a log record: JET_errLogReadVerifyFailure", function()
    local logs = {}
    for name in pairs(H.ls(full)) do if name:match("%.log$") then logs[#logs + 1] = name end end
    table.sort(logs)
    local path = full .. "/" .. logs[1]
    H.flip_byte(path, H.last_data_offset(path) - 8)
    local e = H.catch(backup.verify, full)
    assert.is_true(ese.is_error(e), tostring(e))
    assert.is_truthy(e.name == "JET_errLogReadVerifyFailure" or e.name == "JET_errLogFileCorrupt", tostring(e))
    assert.matches(logs[1], e.detail, 1, true)
  end)

  it("a generation missing in the middle, a log of another instance, a stray file: named errors", function()
    local set2 = w:path("set2")               -- a second set, generations rolled during it
    H.backup(inst, set2, { truncate = true, between = function() H.roll(t, w.dir, 2, "c") end })
    local logs = {}
    for name in pairs(H.ls(set2)) do if name:match("^edb%x+%.log$") then logs[#logs + 1] = name end end
    table.sort(logs)
    assert.is_true(#logs >= 3, "the set needs three generations: " .. #logs)
    -- a stray file: neither a database nor a log
    H.write_file(set2 .. "/notes.txt", "hello")
    H.expect_jet("JET_errInvalidBackup", backup.verify, set2)
    os.remove(set2 .. "/notes.txt")
    -- a generation missing in the middle
    local mid = set2 .. "/" .. logs[2]
    local saved = H.read_file(mid)
    os.remove(mid)
    H.expect_jet("JET_errMissingRestoreLogFiles", backup.verify, set2)
    H.write_file(mid, saved)
    assert.is_false(backup.verify(set2).manifest)
    -- a set whose copy's trailer names its last generation (H.rolled_backup),
    -- with that generation removed: the logs end before the copy needs
    local set3 = w:path("set3")
    local rolled = H.rolled_backup(inst, t, set3, { log_dir = w.dir })
    assert.is_false(backup.verify(set3).manifest)
    os.remove(set3 .. "/" .. H.basename(rolled.logs[#rolled.logs]))
    H.expect_jet("JET_errEndingRestoreLogTooLow", backup.verify, set3)
    -- a log of another instance under the name of the last generation
    local w2 = H.world()
    local t2, _, _, inst2 = w2:filled_table(200, "x")
    local other = w2:path("other")
    H.backup(inst2, other, {})
    local foreign
    for name in pairs(H.ls(other)) do if name:match("^edb%x+%.log$") then foreign = other .. "/" .. name end end
    local last = set2 .. "/" .. logs[#logs]
    os.remove(last)
    H.write_file(set2 .. "/" .. H.basename(foreign), H.read_file(foreign))
    local e = H.catch(backup.verify, set2)
    assert.is_true(ese.is_error(e), tostring(e))
    assert.is_truthy(e.name == "JET_errGivenLogFileHasBadSignature" or e.name == "JET_errMissingRestoreLogFiles"
      or e.name == "JET_errGivenLogFileIsNotContiguous", tostring(e))
    t2:close()
    w2:cleanup()
  end)

  it("`ese check` of it: exit 0 and a line saying there was no manifest", function()
    local code, out, err = H.lua_run("bin/ese", { "check", full })
    assert.are.equal(0, code, err)
    assert.matches("ok  " .. full:gsub("%p", "%%%0"), out)
    assert.matches("has no manifest%.json", out)
    -- no manifest, no backup time: the line says so instead of printing "of ?"
    assert.is_nil(out:find("of ?", 1, true), out)
    assert.matches("full backup %(time unknown: no manifest%), generations", out)
    -- a set with a manifest prints no such line
    local rs = backup.run(inst, w:path("run"), { copy = true })
    code, out = H.lua_run("bin/ese", { "check", rs.dir })
    assert.are.equal(0, code)
    assert.is_nil(out:find("no manifest", 1, true))
  end)
end)

describe("JetBackupInstance writes backup.run's manifest (C harness backup_manifest)", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("backup.verify accepts its full + incremental chain; the keys equal backup.run's and so do the "
     .. "bytes (the Lua encoder writes the C manifest as it is); it restores; "
     .. "a full of no database is JET_errDatabaseNotFound; one that fails at any write (ESE_FAULT=eio:K) "
     .. "removes the files it wrote", function()
    local top = w:path("c")
    ese.fs.mkdir(top)
    local out = H.expect_harness("backup_manifest", H.q(top) .. " 120", "backup_manifest: ok:")
    assert.matches("a failed backup at any of %d+ writes left no file", out)
    local set, inc = top .. "/set", top .. "/inc"
    local r = backup.verify({ set, inc })
    assert.are.equal("full+incremental", r.kind)
    assert.is_true(r.manifest)
    local mc = read_json(set .. "/manifest.json")
    local mi = read_json(inc .. "/manifest.json")
    assert.are.equal("full", mc.kind)
    assert.are.equal("incremental", mi.kind)
    assert.are.equal(ese.version, mc.engine_version)
    -- the same keys as backup.run's manifest, at the top and per file type
    local _, _, _, inst = w:filled_table(20, "z")
    local rs = backup.run(inst, w:path("run"))
    local ml = read_json(rs.dir .. "/manifest.json")
    assert.are.same(shape(ml), shape(mc))
    assert.are.equal(keys(ml), keys(mi))
    -- the same layout: one key per line, keys sorted, "files" last
    local text = H.read_file(set .. "/manifest.json")
    local order = {}
    for k in text:gmatch('\n  "([%w_]+)":') do order[#order + 1] = k end
    local sorted = {}
    for i, k in ipairs(order) do sorted[i] = k end
    table.sort(sorted, function(a, b) if a == "files" then return false elseif b == "files" then return true end
      return a < b end)
    assert.are.same(sorted, order)
    assert.are.equal("files", order[#order])
    -- the same bytes: JetBackupInstance's write_manifest (C) and ese.manifest.encode
    -- (Lua, backup.run) are two encoders of one format; each C manifest is what
    -- the Lua encoder writes for its content, byte for byte, and so is backup.run's
    -- a set of an instance on a restored folder records the restore's
    -- timeline; the original's sets do not (timeline18)
    local cset = top .. "/cset"
    backup.verify(cset)
    local ms = read_json(cset .. "/manifest.json")
    assert.is_true(manifest.timeline_ok(ms.timeline))
    assert.is_nil(ms.timeline_parent)
    assert.is_nil(mc.timeline)
    assert.is_nil(ml.timeline)
    for _, path in ipairs({ set .. "/manifest.json", inc .. "/manifest.json", rs.dir .. "/manifest.json",
                            cset .. "/manifest.json" }) do
      local bytes = H.read_file(path)
      assert.are.equal(bytes, manifest.encode(manifest.decode(bytes, path)), path)
    end
    -- every hash is the file's
    for _, e in ipairs(mc.files) do
      assert.are.equal(ese.fs.sha256_file(set .. "/" .. e.name), e.sha256)
      assert.are.equal(H.file_size(set .. "/" .. e.name), e.size)
    end
    -- restores: every key of both backups is back
    local dest = w:path("restored")
    backup.restore({ set, inc }, dest)
    local inst2 = w:open(nil, { system_path = dest, log_path = dest })
    local t2, s2 = H.open_table(inst2, dest)
    local n = 0
    for _ in t2:pairs() do n = n + 1 end
    assert.are.equal(240, n)
    t2:close()
    s2:end_session()
    -- the refused no-database backup left no manifest (the harness checked it wrote nothing)
    assert.are.equal("absent", ese.fs.stat(top .. "/none/manifest.json").kind)
  end)
end)
