-- Reading backup files through ese.Reader (peer cases group F, and G04):
-- sizes and the end of a stream, read sizes (rule 9), chunks, copy_to
-- into files, functions and yielding sinks, readers side by side in
-- coroutines, a corrupt page (rule 10), and the reader's lifetime.
local H = require "support.helpers"

describe("backup readers", function()
  local w, t, s, db, inst, dbpath
  local PAGE = 8192

  before_each(function()
    w, t, s, db, inst, dbpath = H.backup_start(20)
  end)
  after_each(function() w:cleanup() end)

  -- Reads every log of the (full) backup to its end, then Ends normally.
  local function finish()
    for _, p in ipairs(inst:get_log_info()) do
      local r <close> = inst:open_file(p)
      r:copy_to(function() end)
    end
    inst:end_external_backup()
  end

  local read_all = H.read_all

  describe("sizes and the end of a stream", function()
    it("F01: a database streams exactly r:size() bytes, then nil for ever", function()
      inst:begin_external_backup()
      local r = inst:open_file(dbpath)
      local size = r:size()
      assert.is_true(size >= 4 * PAGE and size % PAGE == 0)
      local data = read_all(r, 3 * PAGE)       -- 3 pages does not divide the size evenly
      assert.are.equal(size, #data)
      assert.are.equal(size, r:tell())
      assert.is_nil(r:read())
      assert.is_nil(r:read(PAGE))
      assert.is_nil(r:chunks()())
      r:close()
      -- the stream: a backup-copy header, the pages, a trailer header page
      local h = H.db_header(data)
      assert.are.equal("ESEDB\0\0\4", h.magic)
      assert.are.equal(H.DB_BACKUP_COPY, h.state)
      assert.is_true(h.current.gen_lo > 0)
      assert.are.equal(0, h.current.gen_hi)
      assert.are.equal(H.DB_BACKUP_COPY, H.db_header(data:sub(PAGE + 1)).state)   -- the shadow
      local trailer = H.db_header(data:sub(-PAGE))
      assert.are.equal("ESEDB\0\0\4", trailer.magic)
      assert.is_true(trailer.current.gen_hi >= h.current.gen_lo)
      finish()
    end)

    it("F01: a clean database streams its file size plus one trailer page", function()
      inst:term({ complete = true })
      local _, _, _, i2 = w:reopen({ log_file_size = 64 })
      local disk = H.file_size(dbpath)
      i2:begin_external_backup()
      local r <close> = i2:open_file(dbpath)
      assert.are.equal(disk + PAGE, r:size())
      assert.are.equal(disk + PAGE, #read_all(r))
      r:close()
      i2:end_external_backup({ abort = true })
    end)

    it("F01: a log streams exactly its size on disk", function()
      for _, p in ipairs(H.log_phase(inst, t, dbpath, 10)) do
        local lr <close> = inst:open_file(p)
        local disk = H.read_file(p)
        assert.are.equal(#disk, lr:size())
        assert.are.equal(disk, read_all(lr, 2 * PAGE))
        assert.is_nil(lr:read())
      end
      inst:end_external_backup()
    end)

    it("G03: a database that grows after open streams the size fixed at open", function()
      inst:begin_external_backup()
      local r = inst:open_file(dbpath)
      local size = r:size()
      H.fill(t, 40, "grow", 2000)
      assert.are.equal(size, #read_all(r))
      r:close()
      finish()
    end)
  end)

  describe("read sizes (rule 9)", function()
    it("F02: any positive multiple of the page size; 1 MiB by default", function()
      inst:begin_external_backup()
      local r <close> = inst:open_file(dbpath)
      local size = r:size()
      assert.are.equal(PAGE, #r:read(PAGE))
      assert.are.equal(2 * PAGE, #r:read(2 * PAGE))
      local rest = r:read()                       -- 1 MiB, more than is left
      assert.are.equal(size - 3 * PAGE, #rest)
      assert.is_nil(r:read(1 << 40))
      r:close()
      local r2 <close> = inst:open_file(dbpath)
      assert.are.equal(size, #r2:read(1 << 40))   -- a huge size asks for no huge buffer
      r2:close()
      inst:end_external_backup({ abort = true })
    end)

    it("F02: other sizes raise JET_errInvalidParameter; other types are argument errors", function()
      inst:begin_external_backup()
      local r <close> = inst:open_file(dbpath)
      for _, n in ipairs({ 0, -PAGE, 1, 100, PAGE + 1, PAGE // 2, 1.5, PAGE + 0.5 }) do
        local e = H.expect_jet("JET_errInvalidParameter", r.read, r, n)
        assert.are.equal("read", e.op)
        assert.matches("multiple of the page size", e.detail)
      end
      assert.are.equal(PAGE, #r:read(PAGE * 1.0))  -- an integral float is an integer
      H.expect_argerror("integer expected", r.read, r, "8192x")
      H.expect_argerror("integer expected", r.read, r, {})
      local e = H.expect_jet("JET_errInvalidParameter", r.chunks, r, 100)
      assert.are.equal("chunks", e.op)
      e = H.expect_jet("JET_errInvalidParameter", r.copy_to, r, function() end, PAGE - 1)
      assert.are.equal("copy_to", e.op)
      assert.are.equal(PAGE, #r:read(PAGE))       -- the reader goes on
      r:close()
      inst:end_external_backup({ abort = true })
    end)

    it("F02: the page size is the instance's (4 KiB here)", function()
      local dir = w:path("p4")
      local t4, _, _, i4 = w:table_at(dir, "p.edb", { page_size = 4096 })
      t4:put("k", "v")
      i4:begin_external_backup()
      local r <close> = i4:open_file(dir .. "/p.edb")
      assert.are.equal(4096, #r:read(4096))
      H.expect_jet("JET_errInvalidParameter", r.read, r, 6144)
      assert.are.equal(12288, #r:read(12288))
      r:close()
      i4:end_external_backup({ abort = true })
    end)
  end)

  describe("copy_to", function()
    it("F01 (copy_to): into a file handle: returns the bytes copied, the same bytes as read", function()
      inst:begin_external_backup()
      local a = inst:open_file(dbpath)
      local b = inst:open_file(dbpath)             -- two streams of one database
      local path = w:path("copy.edb")
      local f = assert(io.open(path, "wb"))
      local n = a:copy_to(f)
      f:close()
      assert.are.equal(a:size(), n)
      assert.are.equal(read_all(b, PAGE), H.read_file(path))
      a:close()
      b:close()
      finish()
    end)

    it("F01 (copy_to): into a function, and into an object whose write returns nothing", function()
      inst:begin_external_backup()
      local r = inst:open_file(dbpath)
      local calls, bytes = 0, 0
      assert.are.equal(r:size(), r:copy_to(function(c)
        calls = calls + 1
        bytes = bytes + #c
        assert.is_true(#c <= 2 * PAGE)
      end, 2 * PAGE))
      assert.are.equal(r:size(), bytes)
      assert.are.equal(r:size() // (2 * PAGE) + (r:size() % (2 * PAGE) > 0 and 1 or 0), calls)
      assert.are.equal(0, r:copy_to(function() error("not called at the end") end))
      r:close()
      local sink = { parts = {} }
      function sink:write(c) self.parts[#self.parts + 1] = c end
      local r2 = inst:open_file(dbpath)
      assert.are.equal(r2:size(), r2:copy_to(sink))
      assert.are.equal(r2:size(), #table.concat(sink.parts))
      r2:close()
      finish()
    end)

    it("F01 (copy_to): a sink that fails (nil, message) or raises stops the copy with its error", function()
      inst:begin_external_backup()
      local r = inst:open_file(dbpath)
      local bad = { write = function() return nil, "disk full" end }
      local e = H.catch(r.copy_to, r, bad, PAGE)
      assert.matches("sink failed: disk full", e)
      assert.are.equal(PAGE, r:tell())
      e = H.catch(r.copy_to, r, function() error({ mine = true }) end, PAGE)
      assert.is_true(e.mine)
      assert.are.equal(2 * PAGE, r:tell())
      -- the reader goes on where it stopped
      assert.are.equal(r:size() - 2 * PAGE, r:copy_to(function() end))
      r:close()
      inst:end_external_backup({ abort = true })
    end)

    it("F04 (copy_to): a sink of the wrong kind is an argument error", function()
      inst:begin_external_backup()
      local r <close> = inst:open_file(dbpath)
      H.expect_argerror("function or object with a write method", r.copy_to, r, 42)
      H.expect_argerror("function or object with a write method", r.copy_to, r, {})
      H.expect_argerror("function or object with a write method", r.copy_to, r)
      r:close()
      inst:end_external_backup({ abort = true })
    end)

    it("G04: the sink yields inside a coroutine while the same state commits to the same instance", function()
      inst:begin_external_backup()
      local r = inst:open_file(dbpath)
      local parts = {}
      local co = coroutine.wrap(function()
        return r:copy_to(function(c)
          parts[#parts + 1] = c
          coroutine.yield("chunk")
        end, PAGE)
      end)
      local writes, total = 0, nil   -- luacheck: ignore 311
      while true do
        local v = co()
        if v ~= "chunk" then total = v break end
        writes = writes + 1
        s:begin_transaction()
        t:put(("g%05d"):format(writes), "between resumes")
        s:commit_transaction()
      end
      assert.are.equal(r:size(), total)
      assert.are.equal(r:size(), #table.concat(parts))
      assert.is_true(writes >= 4)
      r:close()
      -- the writes made between resumes are there, and the backup completes
      assert.are.equal("between resumes", t:get(("g%05d"):format(writes)))
      finish()
      assert.is_true(H.db_header(dbpath).copy.gen_lo > 0)
    end)

    it("G04: a sink that yields with a file handle underneath (coroutine.wrap inside copy_to)", function()
      inst:begin_external_backup()
      local r = inst:open_file(dbpath)
      local path = w:path("yield.edb")
      local f = assert(io.open(path, "wb"))
      local sink = setmetatable({}, { __index = {
        write = function(_, c)
          coroutine.yield(#c)
          return f:write(c)
        end } })
      local co = coroutine.create(function() return r:copy_to(sink, 4 * PAGE) end)
      local resumes, done = 0, nil
      repeat
        local ok, v = coroutine.resume(co)
        assert.is_true(ok, tostring(v))
        resumes = resumes + 1
        t:put("tick" .. resumes, "t")
        if coroutine.status(co) == "dead" then done = v end
      until done
      f:close()
      assert.are.equal(r:size(), done)
      assert.are.equal(r:size(), H.file_size(path))
      r:close()
      inst:end_external_backup({ abort = true })
    end)

    it("G04 / rule 8: two readers stream two databases side by side from two coroutines", function()
      local path2 = w:path("two.edb")
      local db2 = s:create_database(path2)
      H.fill(s:create_table(db2, "t2"), 10, "two")
      inst:begin_external_backup()
      local order, results = {}, {}
      local function streamer(path, tag)
        return coroutine.create(function()
          local r <close> = inst:open_file(path)
          local parts = {}
          local n = r:copy_to(function(c)
            parts[#parts + 1] = c
            order[#order + 1] = tag
            coroutine.yield()
          end, PAGE)
          results[tag] = { n = n, size = r:size(), data = table.concat(parts) }
        end)
      end
      local cos = { streamer(dbpath, "a"), streamer(path2, "b") }
      local live = 2
      while live > 0 do
        live = 0
        for _, co in ipairs(cos) do
          if coroutine.status(co) ~= "dead" then
            local ok, e = coroutine.resume(co)
            assert.is_true(ok, tostring(e))
            live = live + 1
          end
        end
        t:put("tick", tostring(#order))           -- writes go on meanwhile
      end
      for _, tag in ipairs({ "a", "b" }) do
        assert.are.equal(results[tag].size, results[tag].n)
        assert.are.equal(results[tag].size, #results[tag].data)
        assert.are.equal(H.DB_BACKUP_COPY, H.db_header(results[tag].data).state)
      end
      assert.are.same({ "a", "b", "a", "b" }, { order[1], order[2], order[3], order[4] })
      finish()                                      -- both databases were read: End succeeds
    end)
  end)

  describe("a corrupt page (rule 10)", function()
    it("F03: r:read raises JET_errReadVerifyFailure, only that file fails, "
       .. "End gives JET_errBackupAbortByCaller", function()
      local path2 = w:path("two.edb")
      H.fill(s:create_table(s:create_database(path2), "t2"), 10, "two")
      H.fill(t, 20, "more")
      inst:term({ complete = true })
      -- flip a byte in data page 3 while the instance is down (no cache)
      local pages = H.file_size(dbpath) // PAGE
      assert.is_true(pages >= 4, "pages: " .. pages)
      H.flip_byte(dbpath, 3 * PAGE + 100, 0xFF)
      local i2 = w:open(nil, { log_file_size = 64 })
      local s2 = i2:begin_session()
      s2:attach_database(dbpath)
      s2:attach_database(path2)
      i2:begin_external_backup()
      local r = i2:open_file(dbpath)
      local e = H.expect_jet("JET_errReadVerifyFailure", function() while r:read(PAGE) do end end)
      assert.are.equal(-1018, e.code)
      assert.are.equal("read", e.op)
      assert.matches("page 3", e.detail)
      assert.are.equal(3 * PAGE, r:tell())          -- pages 0..2 came through
      assert.is_false(r:is_open())                  -- the engine closed that file
      H.expect_jet("JET_errReadVerifyFailure", r.read, r)   -- sticky
      r:close()                                     -- harmless
      H.expect_jet("JET_errInvalidParameter", r.read, r)
      -- the backup goes on: the other database streams whole
      local dbs = i2:get_attach_info()
      assert.are.equal(2, #dbs)
      local r2 <close> = i2:open_file(path2)
      assert.are.equal(r2:size(), #read_all(r2))
      r2:close()
      for _, p in ipairs(i2:get_log_info()) do
        local lr <close> = i2:open_file(p)
        lr:copy_to(function() end)
      end
      H.expect_jet("JET_errBackupAbortByCaller", i2.end_external_backup, i2)
      -- nothing was recorded
      assert.are.equal(0, H.db_header(path2).copy.gen_lo)
    end)

    -- Flips 16 bytes in the middle of a log file.
    local function corrupt_log(p)
      local f = assert(io.open(p, "r+b"))
      f:seek("set", H.file_size(p) // 2)
      f:write(("\255"):rep(16))
      f:close()
    end

    -- A backup in its log phase with at least two logs listed.
    local function log_phase() return (H.log_phase(inst, t, dbpath, 20, 2)) end

    it("F03: a corrupt log: JET_errLogReadVerifyFailure and the whole backup ends", function()
      local logs = log_phase()
      corrupt_log(logs[2])
      local r1 <close> = inst:open_file(logs[1])
      local e = H.expect_jet("JET_errLogReadVerifyFailure", inst.open_file, inst, logs[2])
      assert.are.equal(-612, e.code)
      H.expect_jet("JET_errNoBackup", inst.get_attach_info, inst)
      H.expect_jet("JET_errNoBackup", r1.read, r1)
      H.expect_jet("JET_errNoBackup", inst.end_external_backup, inst)
    end)

    it("F03: a log that goes bad after open_file: the stream hands out the bytes verified at open_file, "
       .. "so the backup never carries the damage", function()
      local logs = log_phase()
      local original = assert(H.read_file(logs[2]))
      local r = inst:open_file(logs[2])
      corrupt_log(logs[2])                          -- e.g. a media error after the open
      local parts = { r:read(PAGE) }
      corrupt_log(logs[2])
      for chunk in r:chunks(PAGE) do parts[#parts + 1] = chunk end
      assert.are.equal(original, table.concat(parts))
      r:close()
      inst:end_external_backup({ abort = true })
    end)

    it("F03: copy_to and chunks raise it too", function()
      inst:term({ complete = true })
      local f = assert(io.open(dbpath, "r+b"))
      f:seek("set", 3 * PAGE + 64)
      f:write("garbage")
      f:close()
      local i2 = w:open(nil, { log_file_size = 64 })
      i2:begin_session():attach_database(dbpath)
      i2:begin_external_backup()
      local r = i2:open_file(dbpath)
      local e = H.expect_jet("JET_errReadVerifyFailure", r.copy_to, r, function() end, PAGE)
      assert.are.equal("copy_to", e.op)
      r = i2:open_file(dbpath)
      e = H.expect_jet("JET_errReadVerifyFailure", function() for _ in r:chunks(PAGE) do end end)
      assert.are.equal("chunks", e.op)
      i2:end_external_backup({ abort = true })
    end)
  end)

  describe("lifetime", function()
    it("B07: read after End: JET_errNoBackup", function()
      inst:begin_external_backup()
      local r = inst:open_file(dbpath)
      r:read(PAGE)
      inst:end_external_backup({ abort = true })
      local e = H.expect_jet("JET_errNoBackup", r.read, r)
      assert.are.equal("read", e.op)
      H.expect_jet("JET_errNoBackup", r.copy_to, r, function() end)
      assert.is_false(r:is_open())
      r:close()
    end)

    it("B11: close is idempotent (r:close, <close>, __gc)", function()
      inst:begin_external_backup()
      local r = inst:open_file(dbpath)
      assert.is_true(r:is_open())
      assert.matches("^ese%.Reader %(.*app%.edb%): ", tostring(r))
      r:close()
      r:close()
      do local r2 <close> = r end   -- luacheck: ignore 211
      assert.are.equal("ese.Reader (closed)", tostring(r))
      do
        local r3 <close> = inst:open_file(dbpath)
        r3:read(PAGE)
      end
      r = nil                                       -- luacheck: ignore
      collectgarbage()
      collectgarbage()
      inst:get_log_info()                           -- no reader is left open
      inst:end_external_backup({ abort = true })
    end)

    it("B11: use after close raises an error object", function()
      inst:begin_external_backup()
      local r = inst:open_file(dbpath)
      r:close()
      for _, m in ipairs({ "read", "chunks", "size", "tell" }) do
        local e = H.expect_jet("JET_errInvalidParameter", r[m], r)
        assert.are.equal(m, e.op)
        assert.are.equal("the reader is closed", e.detail)
      end
      H.expect_jet("JET_errInvalidParameter", r.copy_to, r, function() end)
      assert.are.equal(dbpath, r:path())
      assert.is_false(r:is_open())
      inst:end_external_backup({ abort = true })
    end)

    it("B11: a reader closed in the middle of a chunks loop raises on the next step", function()
      inst:begin_external_backup()
      local r = inst:open_file(dbpath)
      local e = H.catch(function() for _ in r:chunks(PAGE) do r:close() end end)
      assert.are.equal("JET_errInvalidParameter", e.name)
      assert.are.equal("chunks", e.op)
      inst:end_external_backup({ abort = true })
    end)

    it("B11: a garbage-collected reader closes its engine file", function()
      inst:begin_external_backup()
      for _ = 1, 8 do inst:open_file(dbpath) end    -- dropped at once
      collectgarbage()
      collectgarbage()
      local rs = {}
      for i = 1, 8 do rs[i] = inst:open_file(dbpath) end   -- the 8 slots are free again
      for _, r in ipairs(rs) do r:close() end
      inst:end_external_backup({ abort = true })
    end)

    it("B11: a reader keeps its instance alive", function()
      local dir = w:path("alive")
      local r = (function()
        local at, _, _, i = w:table_at(dir, "a.edb")
        at:put("k", "v")
        i:begin_external_backup()
        return i:open_file(dir .. "/a.edb")
      end)()
      collectgarbage()
      collectgarbage()
      assert.are.equal(PAGE, #r:read(PAGE))
      assert.is_true(r:is_open())
    end)

    it("B11: a reader of an ended backup never touches the file of the next backup", function()
      inst:begin_external_backup()
      local old = inst:open_file(dbpath)
      old:read(PAGE)
      inst:end_external_backup({ abort = true })
      inst:begin_external_backup()
      local r = inst:open_file(dbpath)               -- may get the same engine handle
      H.expect_jet("JET_errNoBackup", old.read, old)
      old:close()
      old = nil                                      -- luacheck: ignore
      collectgarbage()
      assert.is_true(r:is_open())
      assert.are.equal(r:size(), #read_all(r))
      r:close()
      finish()
    end)

    it("B11: a reader of a terminated instance: JET_errNoBackup, close is harmless", function()
      inst:begin_external_backup()
      local r = inst:open_file(dbpath)
      inst:term()
      H.expect_jet("JET_errNoBackup", r.read, r)
      r:close()
    end)

    it("B11: a reader is an ese.Reader userdata", function()
      inst:begin_external_backup()
      local r <close> = inst:open_file(dbpath)
      assert.are.equal("userdata", type(r))
      assert.are.equal("ese.Reader", getmetatable(r).__name)
      H.expect_argerror("ese%.Reader expected, got ese%.Database", getmetatable(r).__index.read, db)
      r:close()
      inst:end_external_backup({ abort = true })
    end)
  end)
end)
