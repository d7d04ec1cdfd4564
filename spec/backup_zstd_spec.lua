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

  it("ese.zstd compressor: a file of any size is compressed on a thread of its own, which reads the chunks "
     .. "written (the writer keeps them while the caller drops them); flush hands out what is ready and says "
     .. "when the file is complete; the thread ends with finish or close; a stream has no flush", function()
    local function threads() return #fs.list("/proc/self/task") end
    local parts = {}
    for i = 1, 400000 do parts[#parts + 1] = ("%08d;"):format(i * 7919 % 100003) end
    local data = table.concat(parts)
    local base = threads()
    for _, size in ipairs({ 1 << 20, 3 << 20 }) do
      local c = ese.zstd.compressor(1, size, 8192)
      assert.are.equal(base + 1, threads())
      local out = {}
      -- each chunk made for the write and dropped after it: a collection
      -- frees it unless the writer holds it for its thread
      for pos = 1, size, 100000 do
        out[#out + 1] = c:write(data:sub(pos, math.min(pos + 99999, size)))
        collectgarbage()
        collectgarbage()
      end
      -- every byte came: the thread ends the file (frame B, footer) by itself
      local complete, polls = false, 0
      while not complete and polls < 1e7 do
        local more
        more, complete = c:flush()
        out[#out + 1] = more
        polls = polls + 1
      end
      assert.is_true(complete, "the file was not complete after 1e7 flushes")
      out[#out + 1] = c:finish()
      assert.are.equal(base, threads())
      local path = w:path(("thread-%d.bin.zst"):format(size))
      H.write_file(path, table.concat(out))
      assert.is_true(data:sub(1, size) == original(path), "the file of " .. size .. " bytes reads back otherwise")
      assert.are.equal(8192, footer(path).tail)
    end
    local c = ese.zstd.compressor(1, #data)
    c:write(data:sub(1, 1 << 20))
    assert.are.equal(base + 1, threads())
    c:close()
    assert.are.equal(base, threads())
    H.expect_jet("JET_errInvalidParameter", c.flush, c)
    local stream <close> = ese.zstd.compressor(1)
    H.expect_jet("JET_errInvalidParameter", stream.flush, stream)
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

-- A file's compression runs on a thread of its own and goes on while the
-- next file streams (lua/ese/backup_run.lua zstd_out: the file behind is
-- closed once its compression ended, during the next file's writes or
-- close, or after the last file).  A live folder w.dir: a full set (which
-- truncates), then nlogs generations of 64 KiB, the instance terminated;
-- the differential backups below (incremental, not truncated) are those
-- generations, many small files, each compressed while the next streams.
-- Returns the first generation of the differential.
local function live_logs(w, nlogs)
  local t, s, _, inst = w:filled_table(40, "k")
  backup.run(inst, w:path("full"), { compress = "zstd" })
  local first = read_json(w:path("full") .. "/manifest.json").gen_high + 1
  H.roll(t, w.dir, nlogs)
  t:close()
  s:end_session()
  inst:term({ complete = true })
  return first
end

-- A child (H.child_prelude) on the live folder dir: a compressed
-- differential backup.run into dest in chunks of chunk bytes; with arg 4
-- (a file that holds a sync, ESE_FAULT=holdsync) in a coroutine that
-- yields from every callback, the file removed at the 3rd "sync" callback
-- of arg 5.  Prints one line per callback, "phase file done total", then
-- "OK", or "STREAMING file" (the file of the last database or log
-- callback) and "ERR name detail", or "INIT ..." or "LUA message".
local OVERLAP_CHILD = H.child_prelude .. [[
local hold, held = arg[4], arg[5]
local streaming, syncs = "-", 0
local function progress(p)
  if p.phase == "database" or p.phase == "log" then streaming = p.file end
  io.write(("%s %s %d %d\n"):format(p.phase, tostring(p.file), p.done, p.total))
  if hold then coroutine.yield(p) end
end
local function run()
  return backup.run(inst, dest, { chunk_size = chunk, compress = "zstd", incremental = true, truncate = false,
                                  on_progress = progress })
end
if hold then
  local co = coroutine.create(run)
  repeat
    local p
    ok, p = coroutine.resume(co)
    e = p
    if ok and p and p.phase == "sync" and p.file == held then
      syncs = syncs + 1
      if syncs == 3 then os.remove(hold) end
    end
  until not ok or coroutine.status(co) == "dead"
else
  ok, e = pcall(run)
end
if ok then io.write("OK\n") else io.write("STREAMING ", streaming, "\n") say("ERR", e) end
pcall(s.end_session, s)
pcall(inst.term, inst)
]]

describe("compressed sets: each file compressed beside the streaming, also across files (issue 12)", function()
  local w, first
  local NLOGS = 24
  before_each(function()
    w = H.world()
    first = live_logs(w, NLOGS)
  end)
  after_each(function() w:cleanup() end)

  it("a set of many logs, each one chunk or in 16 KiB chunks: every .zst holds exactly the live log's bytes, "
     .. "the manifest both forms' sizes and hashes; the chain verifies and restores the live contents", function()
    local live
    do
      local inst = w:open(nil, { log_file_size = 64 })
      local t = H.open_table(inst, w.dir)
      live = H.contents(t)
      t:close()
      inst:term({ complete = true })
    end
    for _, chunk in ipairs({ 1 << 20, 16384 }) do
      local inst = w:open(nil, { log_file_size = 64 })
      local _, s = H.open_table(inst, w.dir)
      local set = w:path("diff-" .. chunk)
      local r = backup.run(inst, set, { compress = "zstd", incremental = true, truncate = false, chunk_size = chunk })
      s:end_session()
      inst:term({ complete = true })
      assert.are.equal("differential", r.kind)
      local m = read_json(set .. "/manifest.json")
      assert.is_true(#m.files >= NLOGS, #m.files .. " files")
      assert.are.equal(first, m.gen_low)
      for _, e in ipairs(m.files) do
        local path = set .. "/" .. e.name
        local orig = original(path)
        assert.is_true(H.read_file(w:path(e.name:gsub("%.zst$", ""))) == orig, e.name .. " differs from the live log")
        assert.are.equal(#orig, e.content_size)
        assert.are.equal(fs.sha256():update(orig):finish(), e.content_sha256)
        assert.are.equal(H.file_size(path), e.size)
        assert.are.equal(fs.sha256_file(path), e.sha256)
      end
      assert.are.equal("full+differential", backup.verify({ w:path("full"), set }).kind)
      local dest = w:path("restored-" .. chunk)
      ese.restore({ w:path("full"), set }, dest)
      same_contents(live, contents(w, dest))
    end
  end)

  it("in a coroutine that yields from every callback: a file's sync comes after its last callback and after "
     .. "the next file's first (its compression went on meanwhile); the set verifies", function()
    local held = H.log_name(first + 2) .. ".zst"
    local hold = w:path("hold")
    H.write_file(hold, "")
    local set = w:path("diff")
    local code, out, err = H.lua_child(OVERLAP_CHILD, { w.dir, set, "16384", hold, held },
                                       "ESE_FAULT=holdsync:" .. held .. ":" .. H.q(hold))
    assert.are.equal(0, code, err)
    assert.matches("\nOK\n$", out)
    local events = {}
    for phase, file, done, total in out:gmatch("(%a+) (%S+) (%d+) (%d+)\n") do
      events[#events + 1] = { phase = phase, file = file, done = tonumber(done), total = tonumber(total) }
    end
    -- each streamed file's callbacks in order, 0 .. total; the files in order
    local files, at, last_of, first_of = {}, {}, {}, {}
    for i, ev in ipairs(events) do
      if ev.phase == "log" then
        if not at[ev.file] then
          files[#files + 1] = ev.file
          at[ev.file] = -1
          first_of[ev.file] = i
          assert.are.equal(0, ev.done)
        end
        assert.is_true(ev.done > at[ev.file] and ev.done <= ev.total, ev.file)
        at[ev.file] = ev.done
        last_of[ev.file] = i
      end
    end
    assert.is_true(#files >= NLOGS)
    for _, f in ipairs(files) do assert.are.equal(events[last_of[f]].total, at[f], f) end
    -- every .zst sync after its file's last callback, and (but the last
    -- file's) after the next file's first; the held one at least 3 times
    local check = #events
    for i, ev in ipairs(events) do if ev.phase == "check" then check = math.min(check, i) end end
    local held_syncs = 0
    for i, ev in ipairs(events) do
      if ev.phase == "sync" and ev.file:match("%.zst$") then
        local name = ev.file:gsub("%.zst$", "")
        assert.is_true(i > last_of[name], ev.file .. " synced before its last callback")
        for k, f in ipairs(files) do
          if f == name and files[k + 1] then
            assert.is_true(i > first_of[files[k + 1]], ev.file .. " synced before the next file began")
          end
        end
        assert.is_true(i < check, ev.file .. " synced after the read-back began")
        if ev.file == held then held_syncs = held_syncs + 1 end
      end
    end
    assert.is_true(held_syncs >= 3, held_syncs .. " sync callbacks of " .. held)
    assert.are.equal("full+differential", backup.verify({ w:path("full"), set }).kind)
  end)

  it("a set file's write or sync failing at each point in turn (ESE_FAULT=enospc:K), also while a file's "
     .. "compression runs behind the next one: JET_errDiskFull, no set and no .partial left, the logs kept",
     function()
    -- a fresh copy of the live folder per run (each run's cut-off adds a generation)
    local n = 0
    local function copy()
      n = n + 1
      local to = w:path("live" .. n)
      fs.mkdir(to)
      for _, name in ipairs(fs.list(w.dir)) do
        if name == "app.edb" or name:match("^edb") then H.write_file(to .. "/" .. name, H.read_file(w:path(name))) end
      end
      return to
    end
    -- the events (ESE_FAULT_TRACE, counted per I/O context) of a run: the
    -- K of each write or sync of a .zst that no event of the engine's
    -- context shares (the engine's K-th comes first: init, mostly)
    local dir, trace = copy(), w:path("trace")
    local code, out, err = H.lua_child(OVERLAP_CHILD, { dir, dir .. "-set", "16384" }, "ESE_FAULT_TRACE=" .. H.q(trace))
    assert.are.equal(0, code, err)
    assert.matches("\nOK\n$", out)
    local zst, engine = {}, {}
    for k, name in H.read_file(trace):gmatch("(%d+) %a+ %d+ %d+ (%S+)") do
      if name:match("%.zst$") then zst[#zst + 1] = tonumber(k)
      elseif name == "app.edb" or name:match("^edb") or name == H.basename(dir) then engine[tonumber(k)] = true end
    end
    local ks = {}
    for _, k in ipairs(zst) do if not engine[k] then ks[#ks + 1] = k end end
    assert.is_true(#ks >= 8, #ks .. " events of the set's .zst files to fail")
    -- (a file's compressed bytes may come in one write or two, as the
    -- thread and the caller meet: a run may number its events one off
    -- the traced run's, and the last K may then hit the manifest or none)
    local behind, errs = 0, 0
    for _, k in ipairs(ks) do
      dir = copy()
      local before = H.log_files(dir)
      local dest = dir .. "-set"
      code, out, err = H.lua_child(OVERLAP_CHILD, { dir, dest, "16384" }, "ESE_FAULT=enospc:" .. k)
      assert.are.equal(0, code, err)
      local now = H.log_files(dir)        -- every generation kept (the cut-off added one)
      for log, size in pairs(before) do assert.are.equal(size, now[log], log) end
      if out:match("\nOK\n$") then
        assert.are.equal("full+differential", backup.verify({ w:path("full"), dest }).kind)
      else
        local streaming, name, detail = out:match("\nSTREAMING (%S+)\nERR (%S+) ([^\n]*)\n$")
        assert.are.equal("JET_errDiskFull", name, ("enospc:%d: %s"):format(k, out))
        assert.are.equal("absent", fs.stat(dest .. ".partial").kind, out)
        assert.are.equal("absent", fs.stat(dest).kind, out)
        errs = errs + 1
        -- a failing file that is not the one streaming: its last bytes
        -- or its sync came while the next file streamed
        local failed = detail:match("([%w]+%.log)%.zst")
        if failed and failed ~= streaming then behind = behind + 1 end
      end
    end
    assert.is_true(errs >= #ks - 2, errs .. " of " .. #ks .. " runs failed")
    assert.is_true(behind > 0, "no fault hit a file behind the one streaming")
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
