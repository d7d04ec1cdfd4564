-- Peer cases that an audit found untested or weakly tested from Lua
-- (shared/research/peer-backup-tests.md: G02, G03, E08, E01, E07, I12,
-- H06, F07, A08).  Every case runs a real backup of a real instance into
-- temporary folders (H.world, removed afterwards) and checks the data that
-- ese.restore brings back, key by key and value by value.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

local PAGE = 8192

-- Puts n records "<prefix>00001".. into table t, each with its own value
-- (filler bytes of `size`, default 100, then the key, so no two values are
-- equal); outside a transaction each put commits.  Adds them to expected
-- (a map key -> value, created when nil) and returns it.
local function put_records(t, prefix, n, size, expected)
  expected = expected or {}
  for i = 1, n do
    local k = ("%s%05d"):format(prefix, i)
    local v = ("%s|%s"):format(string.char(i % 256, 0, 255 - i % 256):rep((size or 100) // 3), k)
    t:put(k, v)
    expected[k] = v
  end
  return expected
end

-- Every key/value of table `tname` (default "t") of each database
-- dir/<file>, read on a new instance of dir (tracked by w, terminated
-- cleanly afterwards): { [file] = { key = value } }.
local function restored_contents(w, dir, files, tname)
  local inst = w:track(ese.create_instance(H.name("check"), H.params(dir)))
  inst:init()
  local s = inst:begin_session()
  local out = {}
  for _, file in ipairs(files) do
    local path = dir .. "/" .. file
    s:attach_database(path)
    local t = s:open_table(s:open_database(path), tname or "t")
    local kv = {}
    for k, v in t:pairs() do kv[k] = v end
    t:close()
    out[file] = kv
  end
  s:end_session()
  inst:term({ complete = true })
  return out
end

-- Table "t" of dir/app.edb restored: { key = value }.
local function restored_kv(w, dir)
  return restored_contents(w, dir, { "app.edb" })["app.edb"]
end

-- Asserts that every key of expected is in got with the same value.
local function assert_has_all(expected, got, what)
  local n = 0
  for k, v in pairs(expected) do
    n = n + 1
    assert.are.equal(v, got[k], (what or "") .. ": key " .. k)
  end
  assert.is_true(n > 0, "nothing expected: the test proves nothing")
end

-- The number of keys of kv that start with prefix.
local function count(kv, prefix)
  return H.count_prefix(kv, prefix)
end

-- A path longer than PATH_MAX (4096) under dir, made of 200-byte names.
-- dir/ddd.../ddd... of at least n bytes (default: past PATH_MAX)
local function too_long_path(dir, n)
  local p = dir
  while #p <= (n or 4200) do p = p .. "/" .. ("d"):rep(200) end
  return p
end

describe("peer gaps", function()
  local w

  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("G02: a transaction open across a full backup (truncating) is absent from the set alone, "
     .. "present when live_log_path replays the logs after it", function()
    local t, s, _, inst = w:filled_table(10, "base")
    local base = {}
    for i = 1, 10 do base[("base%05d"):format(i)] = ("x"):rep(500) end
    s:begin_transaction()
    t:put("X", "the value of X")
    t:put("X2", "a second uncommitted record")
    local set = H.backup(inst, w:path("set"), { truncate = true })
    assert.is_truthy(set.truncated, "the backup truncated the logs")
    assert.is_true(#set.dbs == 1 and #set.logs >= 1)
    s:commit_transaction()
    assert.are.equal("the value of X", t:get("X"))
    inst:term({ complete = true })
    -- the set alone: X was not committed at the cut-off
    local d1 = w:path("d1")
    ese.restore(w:path("set"), d1)
    local kv1 = restored_kv(w, d1)
    assert.is_nil(kv1.X)
    assert.is_nil(kv1.X2)
    assert_has_all(base, kv1, "set alone")
    -- the set plus the live logs written after it: the commit is replayed
    local d2 = w:path("d2")
    ese.restore(w:path("set"), d2, { live_log_path = w.dir })
    local kv2 = restored_kv(w, d2)
    assert.are.equal("the value of X", kv2.X)
    assert.are.equal("a second uncommitted record", kv2.X2)
    assert_has_all(base, kv2, "with live logs")
  end)

  it("G03: records inserted after open_file, on pages beyond the size reported at open, "
     .. "are all restored with their values", function()
    local t, _, _, inst = w:filled_table(10, "base")
    local dbpath = w:path("app.edb")
    local out = w:path("set")
    assert(os.execute("mkdir -p " .. H.q(out)))
    inst:begin_external_backup()
    assert.are.same({ dbpath }, inst:get_attach_info())
    local r = inst:open_file(dbpath)
    local size0 = r:size()
    local pages0 = size0 // PAGE - 1                   -- the stream adds one trailer page
    local f = assert(io.open(out .. "/app.edb", "wb"))
    local first = assert(r:read(2 * PAGE))
    f:write(first)
    -- the database grows while its copy streams: about 4 records a page
    local grown = put_records(t, "grow", 120, 1900)
    local live_pages = ese.file_info(dbpath).pages
    local copied = #first + r:copy_to(f)
    f:close()
    r:close()
    assert.are.equal(size0, copied, "the stream delivers the size fixed at open")
    for _, p in ipairs((inst:get_log_info())) do H.stream(inst, p, out) end
    inst:truncate_log()
    inst:end_external_backup()
    inst:term({ complete = true })
    local dest = w:path("dest")
    ese.restore(out, dest)
    local info = ese.file_info(dest .. "/app.edb")
    assert.is_true(info.pages > pages0 + 20,
      ("the restored database has %d pages, the copy %d (live: %d)"):format(info.pages, pages0, live_pages))
    local kv = restored_kv(w, dest)
    assert_has_all(grown, kv, "grown")
    assert.are.equal(120, count(kv, "grow"))
    assert.are.equal(10, count(kv, "base"))
  end)

  it("E08: an incremental backup.run writes only log files and manifest.json", function()
    local t, _, _, inst = w:filled_table(10, "a")
    local full = backup.run(inst, w:path("full"))
    assert.are.equal("full", full.kind)
    H.roll(t, w.dir, 2, "b")
    local dest = w:path("inc")
    local rep = backup.run(inst, dest, { incremental = true })
    assert.are.equal("incremental", rep.kind)
    local names, logs = H.ls(dest), 0
    assert.is_true(names[backup.MANIFEST], "manifest.json")
    for name in pairs(names) do
      if name ~= backup.MANIFEST then
        assert.matches("^edb%x%x%x%x%x%x%x%x%.log$", name)
        logs = logs + 1
      end
    end
    assert.is_true(logs >= 2, "the incremental holds the rolled logs")
    assert.are.equal(logs, rep.files)
    for _, e in ipairs(rep.manifest.files) do assert.are.equal("log", e.type) end
    assert.is_false(H.exists(dest .. "/app.edb"))
    -- and the full one, for contrast, holds the database
    assert.is_true(H.exists(w:path("full/app.edb")))
  end)

  it("E01: an incremental backup.run under circular logging raises JET_errInvalidBackup (-526) "
     .. "and leaves no folder, no .partial folder", function()
    local dir = w:path("circ")
    local ct, _, _, ci = w:table_at(dir, "c.edb", { circular_log = true, log_file_size = 64 })
    H.fill(ct, 20)
    local before = H.ls(w.dir)
    local dest = w:path("inc")
    local e = H.expect_jet("JET_errInvalidBackup", backup.run, ci, dest, { incremental = true })
    assert.are.equal(-526, e.code)
    assert.is_false(H.exists(dest))
    assert.is_false(H.exists(dest .. ".partial"))
    assert.are.same(before, H.ls(w.dir))
    -- folders made for the destination go too
    H.expect_jet("JET_errInvalidBackup", backup.run, ci, w:path("nest/deeper/inc"), { incremental = true })
    assert.are.same(before, H.ls(w.dir))
    -- no backup was left running: a full one works at once
    local full = backup.run(ci, w:path("full"))
    assert.are.equal("full", full.kind)
    assert.is_true(H.exists(w:path("full/c.edb")))
  end)

  it("E07: full, writes, differential, writes, differential: the second starts where the first did; "
     .. "full + last differential restores both phases", function()
    local t, _, _, inst = w:filled_table(0)
    local a = put_records(t, "a", 20)
    local full = H.backup(inst, w:path("full"), { truncate = true })
    local b = put_records(t, "b", 20)
    H.roll(t, w.dir, 1, "rb")
    local d1 = H.backup(inst, w:path("d1"), { incremental = true })
    local c = put_records(t, "c", 20)
    H.roll(t, w.dir, 1, "rc")
    local d2 = H.backup(inst, w:path("d2"), { incremental = true })
    assert.are.equal(d1.info.gen_low, d2.info.gen_low, "a differential keeps the logs")
    assert.is_true(d2.info.gen_high > d1.info.gen_high)
    assert.is_true(d1.info.gen_low <= full.info.gen_high + 1, "no gap after the full")
    inst:term({ complete = true })
    ese.restore({ w:path("full"), w:path("d2") }, w:path("dest"))
    local kv = restored_kv(w, w:path("dest"))
    assert_has_all(a, kv, "phase a")
    assert_has_all(b, kv, "phase b")
    assert_has_all(c, kv, "phase c")
    -- the first differential has phase b and not c
    ese.restore({ w:path("full"), w:path("d1") }, w:path("dest1"))
    local kv1 = restored_kv(w, w:path("dest1"))
    assert_has_all(b, kv1, "d1 phase b")
    assert.are.equal(0, count(kv1, "c"))
  end)

  it("I12: {full1, an incremental taken after a later full2} is refused with "
     .. "JET_errMissingRestoreLogFiles (-557); the destination is not created", function()
    local t, _, _, inst = w:filled_table(10, "a")
    local full1 = H.backup(inst, w:path("full1"), { truncate = true })
    H.roll(t, w.dir, 2, "b")
    local full2 = H.backup(inst, w:path("full2"), { truncate = true })
    H.roll(t, w.dir, 2, "c")
    local inc = H.backup(inst, w:path("inc"), { incremental = true, truncate = true })
    assert.is_true(inc.info.gen_low <= full2.info.gen_high + 1, "inc follows full2")
    assert.is_true(inc.info.gen_low > full1.info.gen_high + 1,
      ("a gap between full1 (..%d) and inc (%d..)"):format(full1.info.gen_high, inc.info.gen_low))
    inst:term({ complete = true })
    local dest = w:path("dest")
    local e = H.expect_jet("JET_errMissingRestoreLogFiles", ese.restore, { w:path("full1"), w:path("inc") }, dest)
    assert.are.equal(-557, e.code)
    assert.are.equal("restore", e.op)
    assert.is_false(H.exists(dest))
    -- the incremental is good in its own chain
    ese.restore({ w:path("full2"), w:path("inc") }, w:path("ok"))
    local kv = restored_kv(w, w:path("ok"))
    assert.is_true(count(kv, "c") > 0)
    assert.are.equal(10, count(kv, "a"))
  end)

  it("H06: two attached databases: both stream, both restore, every key/value as written", function()
    local dir = w.dir
    local inst = w:open(nil, { log_file_size = 64 })
    local s = inst:begin_session()
    local ta = s:create_table(s:create_database(dir .. "/app.edb"), "t")
    local tb = s:create_table(s:create_database(dir .. "/two.edb"), "u")
    local ea = put_records(ta, "a", 150, 300)
    local eb = put_records(tb, "b", 90, 700)
    s:begin_transaction()
    put_records(ta, "t", 10, 50, ea)
    put_records(tb, "t", 10, 60, eb)
    s:commit_transaction()
    tb:delete("b00002")
    eb.b00002 = nil
    local set = H.backup(inst, w:path("set"), { truncate = true })
    table.sort(set.dbs)
    assert.are.same({ dir .. "/app.edb", dir .. "/two.edb" }, set.dbs)
    inst:term({ complete = true })
    local dest = w:path("dest")
    ese.restore(w:path("set"), dest)
    local a = restored_contents(w, dest, { "app.edb" }, "t")["app.edb"]
    local b = restored_contents(w, dest, { "two.edb" }, "u")["two.edb"]
    assert.are.same(ea, a)
    assert.are.same(eb, b)
    assert.is_nil(b.b00002)
  end)

  it("F07: folders named with non-ASCII UTF-8 (데이터, café): backup.run and ese.restore round trip", function()
    local root = w:path("데이터/café")
    local t, _, _, inst = w:table_at(root, "données.edb", { log_file_size = 64 })
    local expected = put_records(t, "ü", 40, 400)
    H.roll(t, root, 1, "é")
    local set = w:path("백업 café/full")
    local rep = backup.run(inst, set)
    assert.are.equal(set, rep.dir)
    assert.is_true(H.exists(set .. "/données.edb"))
    backup.verify(set)
    inst:term({ complete = true })
    local dest = w:path("복원/café")
    ese.restore(set, dest)
    assert.is_true(H.ls(dest)["données.edb"])
    local kv = restored_contents(w, dest, { "données.edb" })["données.edb"]
    assert_has_all(expected, kv, "restored")
    assert.is_true(count(kv, "é") > 0)
  end)

  it("F07: a backup destination or a restore destination longer than PATH_MAX: JET_errInvalidPath (-1023), "
     .. "nothing created", function()
    local _, _, _, inst = w:filled_table(5, "a")
    local before = H.ls(w.dir)
    local dest = too_long_path(w:path("long"))
    assert.is_true(#dest > 4096)
    local e = H.expect_jet("JET_errInvalidPath", backup.run, inst, dest)
    assert.are.equal(-1023, e.code)
    assert.are.same(before, H.ls(w.dir))
    -- no backup was left running
    inst:begin_external_backup()
    inst:end_external_backup({ abort = true })
    local set = w:path("set")
    backup.run(inst, set)
    before = H.ls(w.dir)
    e = H.expect_jet("JET_errInvalidPath", ese.restore, set, too_long_path(w:path("long")))
    assert.are.equal(-1023, e.code)
    assert.are.same(before, H.ls(w.dir))
    -- a folder a little under PATH_MAX leaves no room for the names of the files in it
    local near = too_long_path(w:path("near"), 3900)
    assert.is_true(#near < 4096 - 20)
    H.expect_jet("JET_errInvalidPath", backup.run, inst, near)
    H.expect_jet("JET_errInvalidPath", ese.restore, set, near)
    assert.are.same(before, H.ls(w.dir))
  end)

  it("F07: a backup destination named . or .., or a symbolic link: JET_errInvalidPath, nothing created", function()
    local _, _, _, inst = w:filled_table(5, "a")
    assert(os.execute("mkdir -p " .. H.q(w:path("sets/empty")) .. " && ln -s empty " .. H.q(w:path("sets/link"))))
    local before = H.ls(w:path("sets"))
    for _, dest in ipairs({ w:path("sets/."), w:path("sets/empty/.."), w:path("sets/link"), w:path("sets/link/") }) do
      H.expect_jet("JET_errInvalidPath", backup.run, inst, dest)
      assert.are.same(before, H.ls(w:path("sets")), dest)
    end
    assert.are.same({}, H.ls(w:path("sets/empty")))
    -- the folder itself works
    backup.run(inst, w:path("sets/empty"))
    assert.is_true(H.exists(w:path("sets/empty/app.edb")))
  end)

  it("A08: after two rolls during the backup, get_truncate_log_info is a non-empty subset of get_log_info; "
     .. "truncate_log deletes exactly those files", function()
    local t, _, _, inst = w:filled_table(10, "a")
    local out = w:path("out")
    assert(os.execute("mkdir -p " .. H.q(out)))
    inst:begin_external_backup()             -- takes a checkpoint: the set's log starts here
    for _, p in ipairs(inst:get_attach_info()) do H.stream(inst, p, out) end
    local g0 = ese.file_info(w:path("edb.log")).generation
    H.roll(t, w.dir, 2, "r")                 -- two rolls during the backup
    assert.is_true(ese.file_info(w:path("edb.log")).generation >= g0 + 2)
    local logs, info = inst:get_log_info()
    assert.is_true(info.gen_high - info.gen_low >= 2, "the set spans the rolled generations")
    local listed = {}
    for _, p in ipairs(logs) do
      assert.is_true(H.exists(p), p)
      listed[p] = true
    end
    local trunc = inst:get_truncate_log_info()
    assert.is_true(#trunc >= 1, "something to truncate")
    local doomed = {}
    for _, p in ipairs(trunc) do
      assert.is_true(listed[p], p .. " is in get_log_info's list")
      assert.is_true(H.exists(p), p)
      doomed[H.basename(p)] = true
    end
    for _, p in ipairs(logs) do H.stream(inst, p, out) end
    local before = H.ls(w.dir)
    inst:truncate_log()
    local after = H.ls(w.dir)
    for name in pairs(doomed) do assert.is_nil(after[name], name .. " deleted") end
    for name in pairs(before) do
      if not doomed[name] and name ~= "edbtmp.log" then assert.is_true(after[name], name .. " kept") end
    end
    for _, p in ipairs(logs) do
      if not doomed[H.basename(p)] then assert.is_true(H.exists(p), p .. " kept") end
    end
    assert.is_true(after["edb.log"])
    inst:end_external_backup()
    -- the set restores, and the live instance still recovers after a crash
    w:crash_recovers(t, inst)
    ese.restore(out, w:path("dest"))
    assert.are.equal(10, H.count_keys(w, w:path("dest"), "a"))
  end)
end)
