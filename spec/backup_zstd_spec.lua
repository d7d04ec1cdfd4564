-- Compressed backup sets (compress = "zstd"): backup.run / run_to and
-- `ese backup --compress zstd` write every file as NAME.zst (docs/format.md,
-- "Compressed files"); backup.verify, `ese check` and ese.restore read
-- them as they read a plain set; damage is refused with the error a
-- damaged plain file gets.
local ese = require "ese"
local backup = require "ese.backup"
local cjson = require "cjson"
local H = require "support.helpers"

local fs = ese.fs

local function read_json(path) return cjson.decode(H.read_file(path)) end

-- Every key and value of table "t" of dir/app.edb, on a new instance.
local function contents(w, dir)
  local inst = ese.create_instance(H.name("zc"), H.params(dir))
  w:track(inst)
  inst:init()
  local t, s = H.open_table(inst, dir)
  local all = {}
  for k, v in t:pairs() do all[k] = v end
  t:close()
  s:end_session()
  inst:term({ complete = true })
  return all
end

local function same_contents(a, b)
  local n = 0
  for k, v in pairs(a) do
    n = n + 1
    assert.are.equal(v, b[k], k)
  end
  for k in pairs(b) do assert.is_not_nil(a[k], k) end
  return n
end

-- The original bytes of a .zst file (ese.zstd reader).
local function original(path)
  local z <close> = ese.zstd.open(path)
  local parts = {}
  while true do
    local c = z:read(1 << 20)
    if not c then break end
    parts[#parts + 1] = c
  end
  return table.concat(parts)
end

local function have(cmd) return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true end

-- The 40-byte footer at the end of a .zst file: size, offset of the last
-- frame, tail (docs/format.md).
local function footer(path)
  local data = H.read_file(path)
  local f = data:sub(-40)
  local magic, len, tag, version, size, boff, tail, crc = string.unpack("<I4I4c4I4I8I8I4I4", f)
  return { magic = magic, len = len, tag = tag, version = version, size = size, boff = boff, tail = tail, crc = crc,
           data = data }
end

describe("compressed backup sets (zstd)", function()
  local w, t, s, inst, full, inc, live

  setup(function()
    w = H.world()
    local _
    t, s, _, inst = w:filled_table(40, "base")
    -- values that compress, and some that do not
    s:begin_transaction()
    for i = 1, 300 do t:put(("v%05d"):format(i), ("value %d; "):format(i):rep(30)) end
    s:commit_transaction()
    full = w:path("full")
    local r = backup.run(inst, full, { compress = "zstd" })
    assert.are.equal("full", r.kind)
    s:begin_transaction()
    for i = 1, 50 do t:put(("inc%05d"):format(i), fs.sha256():update(tostring(i)):finish():rep(8)) end
    s:commit_transaction()
    inc = w:path("inc")
    backup.run(inst, inc, { compress = "zstd", level = 3, incremental = true })
    live = {}
    for k, v in t:pairs() do live[k] = v end
  end)
  teardown(function() w:cleanup() end)

  it("stores every file as NAME.zst; the manifest (format 2) records both forms' sizes and SHA-256", function()
    local m = read_json(full .. "/manifest.json")
    assert.are.equal(2, m.format_version)
    assert.are.equal("zstd", m.compress)
    assert.are.equal(1, m.compress_level)
    assert.are.equal(3, read_json(inc .. "/manifest.json").compress_level)
    local names = H.ls(full)
    local stored, plain = 0, 0
    for _, e in ipairs(m.files) do
      assert.matches("%.zst$", e.name)
      assert.is_true(names[e.name] ~= nil)
      local path = full .. "/" .. e.name
      assert.are.equal(H.file_size(path), e.size)
      assert.are.equal(fs.sha256_file(path), e.sha256)
      local orig = original(path)
      assert.are.equal(#orig, e.content_size)
      assert.are.equal(fs.sha256():update(orig):finish(), e.content_sha256)
      stored, plain = stored + e.size, plain + e.content_size
    end
    assert.is_true(stored * 3 < plain, ("stored %d of %d bytes"):format(stored, plain))
    -- nothing but the .zst files and the manifest
    for name in pairs(names) do assert.is_true(name == "manifest.json" or name:match("%.zst$") ~= nil, name) end
  end)

  it("ese.file_info reads a .zst file as its original (compressed = true, stored_size), with verify", function()
    local m = read_json(full .. "/manifest.json")
    for _, e in ipairs(m.files) do
      local fi = ese.file_info(full .. "/" .. e.name, true)
      assert.is_true(fi.compressed)
      assert.are.equal(e.size, fi.stored_size)
      assert.are.equal(e.type, fi.kind)
      if fi.kind == "database" then
        assert.are.equal("backup_copy", fi.state)
        assert.are.equal(e.content_size, fi.pages * fi.page_size)
        assert.are.equal(e.db_signature, fi.db_signature)
        assert.is_true(fi.backups.current.gen_high > 0)      -- from the trailer (the last frame)
      else
        assert.are.equal(e.generation, fi.generation)
        assert.are.equal(e.content_size, fi.file_size)
      end
    end
  end)

  it("plain zstd decodes each file into the original bytes", function()
    if not have("zstd") then return pending("the zstd tool is not installed") end
    local m = read_json(full .. "/manifest.json")
    local e = m.files[1]
    local out = w:path("plain.bin")
    assert.is_true(os.execute(("zstd -q -d -c %s > %s"):format(H.q(full .. "/" .. e.name), H.q(out))))
    assert.are.equal(e.content_sha256, fs.sha256_file(out))
  end)

  it("the chain verifies, restores with ese.restore and backup.restore to exactly the live contents", function()
    local v = backup.verify({ full, inc })
    assert.are.equal("full+incremental", v.kind)
    local dest = w:path("restored")
    ese.restore({ full, inc }, dest)
    for name in pairs(H.ls(dest)) do assert.is_nil(name:match("%.zst$"), name) end
    assert.are.equal(390, same_contents(live, contents(w, dest)))
    local dest2 = w:path("restored2")
    local r = backup.restore({ full, inc }, dest2)
    assert.are.equal("full+incremental", r.verify.kind)
    same_contents(live, contents(w, dest2))
  end)

  it("ese check of the compressed chain and of a single .zst file", function()
    local code, out, err = H.lua_run("bin/ese", { "check", full, inc })
    assert.are.equal(0, code, err)
    assert.matches("ok  chain full%+incremental", out)
    code, out = H.lua_run("bin/ese", { "check", full .. "/app.edb.zst" })
    assert.are.equal(0, code)
    assert.matches("ok  .*app%.edb%.zst  %(database", out)
  end)

  it("an uncompressed set is unchanged: manifest format 1, no compress field, verifies and restores", function()
    local plain = w:path("plain")
    backup.run(inst, plain, { copy = true })
    local m = read_json(plain .. "/manifest.json")
    assert.are.equal(1, m.format_version)
    assert.is_nil(m.compress)
    assert.is_nil(m.files[1].content_size)
    assert.is_nil(m.files[1].name:match("%.zst$"))
    backup.verify(plain)
    local dest = w:path("plain-restored")
    ese.restore(plain, dest)
    same_contents(live, contents(w, dest))
    -- compress = "none" is the same
    local none = w:path("none")
    backup.run(inst, none, { copy = true, compress = "none" })
    assert.are.equal(1, read_json(none .. "/manifest.json").format_version)
  end)

  it("a manifest naming another compression, or a compressed entry without its original's fields: "
     .. "JET_errInvalidBackup", function()
    local d = w:path("badman")
    H.copy_dir(full, d)
    local text = H.read_file(d .. "/manifest.json")
    H.write_file(d .. "/manifest.json", (text:gsub('"compress": "zstd"', '"compress": "lz4"')))
    H.expect_jet("JET_errInvalidBackup", backup.verify, d)
    H.write_file(d .. "/manifest.json", (text:gsub('"content_sha256": "%x+", ', "", 1)))
    H.expect_jet("JET_errInvalidBackup", backup.verify, d)
  end)

  it("options: an unknown compress, a level out of 1 .. 19 or without compress: JET_errInvalidParameter; "
     .. "wrong types: argument errors; nothing is made", function()
    local dest = w:path("never")
    local e = H.expect_jet("JET_errInvalidParameter", backup.run, inst, dest, { compress = "lz4", copy = true })
    assert.matches("lz4", e.detail)
    for _, level in ipairs({ 0, 20, -1 }) do
      e = H.expect_jet("JET_errInvalidParameter", backup.run, inst, dest, { compress = "zstd", level = level,
                                                                             copy = true })
      assert.matches("1 .. 19", e.detail)
    end
    H.expect_jet("JET_errInvalidParameter", backup.run, inst, dest, { level = 3, copy = true })
    H.expect_jet("JET_errInvalidParameter", backup.run_to, inst, function() end, { compress = "gzip", copy = true })
    assert.error_matches(function() backup.run(inst, dest, { compress = true }) end, "compress must be a string")
    assert.error_matches(function() backup.run(inst, dest, { compress = "zstd", level = 1.5 }) end,
      "level must be an integer")
    assert.is_false(H.exists(dest))
    assert.is_false(H.exists(dest .. ".partial"))
    -- the backup did not begin: a new one runs
    backup.run(inst, w:path("after-refusals"), { copy = true, compress = "zstd" })
  end)

  it("ese.zstd objects: more or fewer bytes than announced, a level out of range, use after finish: "
     .. "JET_errInvalidParameter", function()
    H.expect_jet("JET_errInvalidParameter", ese.zstd.compressor, 0, 10)
    H.expect_jet("JET_errInvalidParameter", ese.zstd.compressor, 20, 10)
    H.expect_jet("JET_errInvalidParameter", ese.zstd.compressor, 1, 10, 11)
    local c = ese.zstd.compressor(1, 10)
    c:write("12345")
    H.expect_jet("JET_errInvalidParameter", c.write, c, "123456")
    H.expect_jet("JET_errInvalidParameter", c.finish, c)
    H.expect_jet("JET_errInvalidParameter", c.write, c, "x")       -- finished (failed) is closed
    c = ese.zstd.compressor(1, 3)
    c:write("abc")
    assert.is_string(c:finish())
    H.expect_jet("JET_errInvalidParameter", c.finish, c)
    H.expect_argerror("number expected", ese.zstd.compressor, "x", 1)
  end)

  it("ese.zstd compressor: writes of any size, "
     .. "empty ones, the tail spanning a write, a stream; ese.zstd.open and plain zstd read back the input; "
     .. "closed mid-stream", function()
    local parts = {}
    for i = 1, 120000 do parts[#parts + 1] = ("%08d:%s;"):format(i * 7919 % 100003, ("v"):rep(i % 23)) end
    local data = table.concat(parts)
    local sizes = { 0, 1, 65535, 1 << 20, 0, 3, 500000 }
    local function compress(c)
      local out, pos = {}, 1
      for _, n in ipairs(sizes) do
        out[#out + 1] = c:write(data:sub(pos, pos + n - 1))
        pos = pos + n
      end
      out[#out + 1] = c:write(data:sub(pos))
      out[#out + 1] = c:finish()
      return table.concat(out)
    end
    for _, tail in ipairs({ 0, 8192, 65536 }) do
      local path = w:path(("thread-%d.bin.zst"):format(tail))
      H.write_file(path, compress(ese.zstd.compressor(1, #data, tail)))
      assert.are.equal(data, original(path))
      if have("zstd") then
        local out = w:path(("thread-%d.bin"):format(tail))
        assert.is_true(os.execute(("zstd -q -d -c %s > %s"):format(H.q(path), H.q(out))))
        assert.are.equal(data, H.read_file(out))
      end
    end
    local stream = compress(ese.zstd.compressor(3))
    if have("zstd") then
      local path, out = w:path("thread-stream.zst"), w:path("thread-stream")
      H.write_file(path, stream)
      assert.is_true(os.execute(("zstd -q -d -c %s > %s"):format(H.q(path), H.q(out))))
      assert.are.equal(data, H.read_file(out))
    end
    -- closed mid-stream, without finish
    local c = ese.zstd.compressor(1, #data)
    c:write(data:sub(1, 1 << 20))
    c:write(data:sub((1 << 20) + 1, 2 << 20))
    c:close()
    H.expect_jet("JET_errInvalidParameter", c.write, c, "x")
  end)

  it("ese.zstd compressor: a file of at most 1 MiB (a log of the default size) is compressed on the "
     .. "caller's thread, a larger one by a libzstd worker thread beside it", function()
    local function threads() return #fs.list("/proc/self/task") end
    local parts = {}
    for i = 1, 200000 do parts[#parts + 1] = ("%08d;"):format(i * 7919 % 100003) end
    local data = table.concat(parts):sub(1, 3 << 20)
    local one = data:sub(1, 1 << 20)
    local base = threads()
    local c = ese.zstd.compressor(1, #one)
    local out = { c:write(one:sub(1, 500000)) }
    assert.are.equal(base, threads())
    out[#out + 1] = c:write(one:sub(500001))
    out[#out + 1] = c:finish()
    assert.are.equal(base, threads())
    local path = w:path("inline.bin.zst")
    H.write_file(path, table.concat(out))
    assert.are.equal(one, original(path))
    -- a database: the worker compresses while the caller reads on
    local big = ese.zstd.compressor(1, #data)
    big:write(data:sub(1, 1 << 20))
    assert.are.equal(base + 1, threads())
    big:close()
  end)

  it("run_to with compress = \"zstd\": the archive is one zstd stream; unpacked, a plain set that verifies",
     function()
    if not (have("zstd") and have("tar")) then return pending("zstd or tar is not installed") end
    local arch = w:path("set.tar.zst")
    local f = assert(io.open(arch, "wb"))
    local r = backup.run_to(inst, f, { copy = true, compress = "zstd", prefix = "tz" })
    f:close()
    assert.are.equal(H.file_size(arch), r.archive_bytes)
    assert.is_true(r.archive_bytes < r.tar_bytes)
    local into = w:path("untar")
    assert(os.execute("mkdir " .. H.q(into)))
    assert.is_true(os.execute(("zstd -q -d -c %s | tar -x -C %s"):format(H.q(arch), H.q(into))))
    local v = backup.verify(into .. "/tz")
    assert.are.equal("copy", v.kind)
    assert.is_nil(read_json(into .. "/tz/manifest.json").compress)
  end)

  describe("damage", function()
    local function damaged(tag)
      local d = w:path("dmg-" .. tag)
      H.rmdir(d)
      H.copy_dir(full, d)
      return d, d .. "/app.edb.zst"
    end
    local function first_log(d)
      local m = read_json(d .. "/manifest.json")
      for _, e in ipairs(m.files) do if e.type == "log" then return d .. "/" .. e.name end end
    end

    -- verify, `ese check` and backup.restore refuse with name; nothing is written
    local function refused_everywhere(d, name)
      H.expect_jet(name, backup.verify, d)
      local code, _, err = H.lua_run("bin/ese", { "check", d })
      assert.are.equal(1, code)
      assert.matches(name, err)
      local dest = w:path("never-" .. H.name("d"))
      H.expect_jet(name, backup.restore, d, dest)
      assert.is_false(H.exists(dest))
    end

    it("a truncated database .zst: JET_errReadVerifyFailure everywhere; ese.restore refuses it before "
       .. "touching the destination", function()
      local d, db = damaged("trunc")
      local data = H.read_file(db)
      H.write_file(db, data:sub(1, #data - 100))
      refused_everywhere(d, "JET_errReadVerifyFailure")
      local dest = w:path("trunc-dest")
      local e = H.expect_jet("JET_errReadVerifyFailure", ese.restore, d, dest)
      assert.matches("app%.edb%.zst", e.detail)
      assert.is_false(H.exists(dest))
    end)

    it("a wrong content size (the footer's, resealed): refused before the destination is touched", function()
      local d, db = damaged("size")
      local ft = footer(db)
      assert.are.equal(0x184D2A5E, ft.magic)
      local payload = string.pack("<c4I4I8I8I4", ft.tag, ft.version, ft.size + ft.tail, ft.boff, ft.tail)
      local sealed = payload .. string.pack("<I4", H.crc32c(payload, 1, #payload))
      H.write_file(db, ft.data:sub(1, -33) .. sealed)
      local e = H.expect_jet("JET_errReadVerifyFailure", ese.restore, d, w:path("size-dest"))
      assert.matches("footer says", e.detail)
      assert.is_false(H.exists(w:path("size-dest")))
      refused_everywhere(d, "JET_errReadVerifyFailure")
    end)

    it("a flipped byte inside the compressed pages: verify refuses it; ese.restore fails "
       .. "JET_errReadVerifyFailure and never leaves an attachable database", function()
      local d, db = damaged("flip")
      local ft = footer(db)
      H.flip_byte(db, ft.boff // 2)
      refused_everywhere(d, "JET_errReadVerifyFailure")
      local dest = w:path("flip-dest")
      H.expect_jet("JET_errReadVerifyFailure", ese.restore, d, dest)
      if H.exists(dest .. "/app.edb") then
        assert.are.equal(4, H.db_header(dest .. "/app.edb").state)      -- being restored
      end
      -- the good set restores over it
      ese.restore(full, dest, { overwrite = true })
      assert.is_true(same_contents(contents(w, dest), contents(w, dest)) > 0)
    end)

    it("a damaged last frame (the trailer): refused before the destination is touched", function()
      local d, db = damaged("tail")
      local ft = footer(db)
      H.flip_byte(db, ft.boff + 6)
      H.expect_jet("JET_errReadVerifyFailure", ese.restore, d, w:path("tail-dest"))
      assert.is_false(H.exists(w:path("tail-dest")))
      refused_everywhere(d, "JET_errReadVerifyFailure")
    end)

    it("a log .zst truncated or with a flipped byte: verify JET_errLogReadVerifyFailure; ese.restore "
       .. "JET_errLogFileCorrupt, before the destination is touched when cut short", function()
      local d = damaged("log")
      local log = first_log(d)
      local data = H.read_file(log)
      H.write_file(log, data:sub(1, #data - 1))
      refused_everywhere(d, "JET_errLogReadVerifyFailure")
      H.expect_jet("JET_errLogFileCorrupt", ese.restore, d, w:path("log-dest"))
      assert.is_false(H.exists(w:path("log-dest")))
      H.write_file(log, data)
      H.flip_byte(log, footer(log).boff // 2)
      refused_everywhere(d, "JET_errLogReadVerifyFailure")
      H.expect_jet("JET_errLogFileCorrupt", ese.restore, d, w:path("log-dest2"))
    end)

    it("an unlisted .zst in a set: verify refuses it (a restore would read it)", function()
      local d = damaged("extra")
      H.write_file(d .. "/notes.zst", "not ours")
      H.expect_jet("JET_errInvalidBackup", backup.verify, d)
      H.expect_jet("JET_errReadVerifyFailure", ese.restore, d, w:path("extra-dest"))
      assert.is_false(H.exists(w:path("extra-dest")))
    end)
  end)
end)

describe("ese backup --compress zstd", function()
  local w, out

  before_each(function()
    w = H.world()
    out = H.tmpdir()
  end)
  after_each(function()
    w:cleanup()
    H.rmdir(out)
  end)

  local function make_instance()
    local t, s, _, inst = w:table()
    s:begin_transaction()
    H.fill(t, 300, "k", 300)
    s:commit_transaction()
    t:close()
    s:end_session()
    inst:term({ complete = true })
  end

  it("writes a compressed set that check and restore read; prints the ratio", function()
    make_instance()
    local set = out .. "/set"
    local code, stdout, err = H.lua_run("bin/ese", { "backup", w.dir, set, "--compress", "zstd", "--level", "5" })
    assert.are.equal(0, code, err)
    assert.matches("zstd level 5: .* stored %(ratio %d+%.%d+%)", stdout)
    assert.are.equal(5, read_json(set .. "/manifest.json").compress_level)
    code, stdout, err = H.lua_run("bin/ese", { "check", set })
    assert.are.equal(0, code, err)
    assert.matches("ok  .*set", stdout)
    code, stdout, err = H.lua_run("bin/ese", { "restore", set, out .. "/dest" })
    assert.are.equal(0, code, err)
    assert.is_string(stdout)
    assert.are.equal(300, H.count_keys(w, out .. "/dest", "k"))
  end)

  it("an unknown --compress or a --level out of range: exit 1 naming JET_errInvalidParameter, nothing written; "
     .. "--level 0: a usage error (exit 2)", function()
    make_instance()
    local code, _, err = H.lua_run("bin/ese", { "backup", w.dir, out .. "/a", "--compress", "lz4" })
    assert.are.equal(1, code)
    assert.matches("JET_errInvalidParameter", err)
    code, _, err = H.lua_run("bin/ese", { "backup", w.dir, out .. "/a", "--compress", "zstd", "--level", "20" })
    assert.are.equal(1, code)
    assert.matches("JET_errInvalidParameter", err)
    code = H.lua_run("bin/ese", { "backup", w.dir, out .. "/a", "--compress", "zstd", "--level", "0" })
    assert.are.equal(2, code)
    assert.is_false(H.exists(out .. "/a"))
  end)
end)

describe("a compressed set restored to a point in time", function()
  local mark = H.time_mark

  it("with an archive: exactly the commits at or before the time; a time before the backup ended: "
     .. "JET_errEndingRestoreLogTooLow before dest is made (the set's compressed logs are read for it)", function()
    local w = H.world()
    local t, _, _, inst = w:table({ log_file_size = 64 })
    t:put("x", "1")
    local before = mark()
    for i = 1, 20 do t:put(("base%03d"):format(i), "b") end
    local set, archive = w:path("set"), w:path("archive")
    backup.run(inst, set, { compress = "zstd" })
    local marks = {}
    for p = 1, 2 do
      for i = 1, 30 do t:put(("p%d_%03d"):format(p, i), ("v"):rep(400)) end
      H.roll(t, w.dir, 1, "p" .. p .. "_roll")
      marks[p] = mark()
    end
    H.roll(t, w.dir, 1, "tail")
    assert(os.execute("mkdir -p " .. H.q(archive)))
    for _, name in ipairs(fs.list(w.dir)) do
      if name:match("^edb%x%x%x%x%x%x%x%x%.log$") then
        H.write_file(archive .. "/" .. name, assert(H.read_file(w:path(name))))
      end
    end
    local e = H.expect_jet("JET_errEndingRestoreLogTooLow", ese.restore, set, w:path("early"),
      { archive_path = archive, to_time = before })
    assert.matches("before the end of the backup", e.detail, 1, true)
    assert.is_false(H.exists(w:path("early")))
    local dest = w:path("dest")
    local r = ese.restore(set, dest, { archive_path = archive, to_time = marks[1] })
    assert.is_true(r.reached)
    local keys = H.restored_keys(w, dest)
    assert.are.equal(30, H.count_prefix(keys, "p1_0"))
    assert.are.equal(0, H.count_prefix(keys, "p2_"))
    assert.are.equal(20, H.count_prefix(keys, "base"))
    w:cleanup()
  end)
end)

describe("a chain mixing compressed and plain sets", function()
  it("a generation in a plain differential and in a compressed incremental is the same log: the chain "
     .. "verifies (the originals' SHA-256 are compared) and restores", function()
    local w = H.world()
    local t, _, _, inst = w:table({ log_file_size = 64 })
    H.fill(t, 50, "a", 300)
    backup.run(inst, w:path("full"), { compress = "zstd" })
    H.fill(t, 5, "b", 10)
    backup.run(inst, w:path("inc"), { incremental = true })
    H.fill(t, 5, "c", 10)
    local diff = backup.run(inst, w:path("diff"), { incremental = true, truncate = false })
    H.fill(t, 5, "d", 10)
    local inc2 = backup.run(inst, w:path("inc2"), { incremental = true, compress = "zstd" })
    assert.is_true(inc2.gen_low <= diff.gen_high, "the two sets share a generation")
    local chain = { w:path("full"), w:path("inc"), w:path("diff"), w:path("inc2") }
    backup.verify(chain)
    backup.restore(chain, w:path("dest"))
    local keys = H.restored_keys(w, w:path("dest"))
    assert.are.equal(5, H.count_prefix(keys, "d"))
    assert.are.equal(50, H.count_prefix(keys, "a"))
    w:cleanup()
  end)
end)

-- ese.file_info(verify) and `ese check` of NAME.zst check the original as
-- they check the plain file (check.c: one page walk for both).  The
-- compressed walk was a copy that had drifted: it skipped a clean
-- database's size check (a clean database cut short verified) and
-- reported a page's dbtime above the bound as "not whole pages".
describe("file_info(verify) of a database .zst: the plain file's checks", function()
  local PAGE = 8192
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- data as x.edb and as x.edb.zst (its last tail bytes in the last
  -- frame, as a backup writes a copy): both refused with name, the
  -- detail matching pattern; the whole original verifies as both
  local function both(whole, data, tail, name, pattern)
    local plain, zst = w:path("x.edb"), w:path("x.edb.zst")
    H.write_zst(zst, whole, tail)
    assert.is_true(ese.file_info(zst, true).verified)
    H.write_file(plain, data)
    H.write_zst(zst, data, tail)
    for _, p in ipairs({ plain, zst }) do
      local e = H.expect_jet(name, ese.file_info, p, true)
      assert.matches(pattern, e.detail)
      assert.is_truthy(ese.file_info(p).page_size, "without verify the header reads")
    end
    local code, _, err = H.lua_run("bin/ese", { "check", zst })
    assert.are.equal(1, code)
    assert.matches(name, err)
  end

  it("a clean database cut short: JET_errDatabaseCorrupted naming the space page's count", function()
    local t, s, _, inst = w:table()
    H.fill(t, 60, "k", 300)
    t:close()
    s:end_session()
    inst:term({ complete = true })
    local data = assert(H.read_file(w:path("app.edb")))
    both(data, data:sub(1, #data - PAGE), 0, "JET_errDatabaseCorrupted", "its space page counts " .. (#data // PAGE))
  end)

  it("a streamed copy with a page above its trailer's dbtime_last: JET_errDatabaseCorrupted naming the page",
    function()
    local _, s, _, inst = w:filled_table(40, "base")
    local set = w:path("set")
    H.backup(inst, set)
    s:end_session()
    inst:term({ complete = true })
    local data = assert(H.read_file(set .. "/app.edb"))
    local trailer = H.db_header(data:sub(#data - PAGE + 1))
    local stamped = H.restamp(data, 3, trailer.dbtime_last + 1000)
    both(data, stamped, PAGE, "JET_errDatabaseCorrupted", "page 3 carries dbtime")
  end)
end)
