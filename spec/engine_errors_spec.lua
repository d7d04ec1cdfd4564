-- Engine and file errors of issue 2 reached from Lua: files that are not
-- databases or have another page size, damaged pages read through a
-- table, locks held by another instance or process, dirty databases,
-- damaged or missing logs at init, and the resource limits.
local ese = require "ese"
local H = require "support.helpers"

local PAGE = 8192

local crc32c = H.crc32c   -- to rewrite a log file header on purpose

describe("engine and file errors", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  describe("attach_database", function()
    it("a file that is not a database: JET_errDatabaseCorrupted (-1206), the detail names the file", function()
      local _, s = w:table()
      H.write_file(w:path("junk.edb"), ("not a database\n"):rep(2000))
      local e = H.expect_jet("JET_errDatabaseCorrupted", s.attach_database, s, w:path("junk.edb"))
      assert.are.equal(-1206, e.code)
      assert.are.equal("attach_database", e.op)
      assert.matches("junk%.edb", e.detail)
      H.write_file(w:path("empty.edb"), "")
      H.expect_jet("JET_errDatabaseCorrupted", s.attach_database, s, w:path("empty.edb"))
      -- file_info reads databases and logs: a file that is neither is JET_errFileInvalidType (-1812)
      e = H.expect_jet("JET_errFileInvalidType", ese.file_info, w:path("junk.edb"))
      assert.are.equal(-1812, e.code)
      assert.matches("junk%.edb is neither a database nor a log file", e.detail)
      H.expect_jet("JET_errFileInvalidType", ese.file_info, w:path("empty.edb"))
    end)

    it("a database of another page size: JET_errPageSizeMismatch (-1213)", function()
      local dir = w:path("p4")
      local t4, _, _, i4 = w:table_at(dir, "p.edb", { page_size = 4096 })
      t4:put("k", "v")
      i4:term({ complete = true })
      local _, s = w:table()                     -- 8 KiB pages
      local e = H.expect_jet("JET_errPageSizeMismatch", s.attach_database, s, dir .. "/p.edb")
      assert.are.equal(-1213, e.code)
      assert.matches("p%.edb", e.detail)
    end)

    it("a missing file: JET_errFileNotFound; a bad path: JET_errInvalidPath", function()
      local _, s = w:table()
      H.expect_jet("JET_errFileNotFound", s.attach_database, s, w:path("nope.edb"))
      local e = H.expect_jet("JET_errInvalidPath", s.attach_database, s, w:path("folder") .. "/")
      assert.are.equal(-1023, e.code)
      H.expect_jet("JET_errInvalidPath", s.attach_database, s, w:path("no/such/folder/x.edb"))
      H.expect_jet("JET_errInvalidPath", s.attach_database, s, "")
    end)

    it("a database left dirty by another log stream: JET_errDatabaseDirtyShutdown (-550)", function()
      local t, _, _, inst = w:table()
      t:put("k", "v")
      inst:term()                                 -- abrupt: app.edb stays dirty
      assert.are.equal(H.DB_DIRTY, H.db_header(w:path("app.edb")).state)
      local dir = w:path("other")
      local other = w:open(nil, { log_path = dir, system_path = dir })
      local s = other:begin_session()
      local e = H.expect_jet("JET_errDatabaseDirtyShutdown", s.attach_database, s, w:path("app.edb"))
      assert.are.equal(-550, e.code)
      assert.matches("app%.edb", e.detail)
      -- its own log stream recovers it; then any instance may attach it
      other:term({ complete = true })
      local t2, _, _, i2 = w:reopen()
      assert.are.equal("v", t2:get("k"))
      i2:term({ complete = true })
      other = w:open(nil, { log_path = dir, system_path = dir })
      other:begin_session():attach_database(w:path("app.edb"))
    end)

    it("detach of a database that is open: JET_errDatabaseInUse (-1202)", function()
      local t, s, db = w:table()
      t:close()
      local e = H.expect_jet("JET_errDatabaseInUse", s.detach_database, s, w:path("app.edb"))
      assert.are.equal(-1202, e.code)
      db:close()
      s:detach_database(w:path("app.edb"))
    end)
  end)

  describe("damaged pages (issue 2: wrong data is never returned)", function()
    it("a damaged page read through a table: JET_errReadVerifyFailure naming the file and the page", function()
      local t, _, _, inst = w:table()
      H.fill(t, 100, "k", 300)
      inst:term({ complete = true })
      local pages = H.file_size(w:path("app.edb")) // PAGE
      assert.is_true(pages >= 5, "pages: " .. pages)
      local victim = pages - 1
      H.flip_byte(w:path("app.edb"), victim * PAGE + 500)
      local t2 = w:reopen()
      local e = H.expect_jet("JET_errReadVerifyFailure", function() for _ in t2:pairs() do end end)
      assert.are.equal(-1018, e.code)
      assert.are.equal("pairs", e.op)
      assert.matches("app%.edb", e.detail)
      assert.matches("page " .. victim, e.detail)
      -- a get of a key on that page fails the same way; never a wrong value
      local failed = 0
      for i = 1, 100 do
        local ok, ge = pcall(t2.get, t2, ("k%05d"):format(i))
        if ok then
          assert.are.equal(("x"):rep(300), ge)
        else
          failed = failed + 1
          assert.are.equal("JET_errReadVerifyFailure", ge.name)
          assert.are.equal("get", ge.op)
          assert.matches("page " .. victim, ge.detail)
        end
      end
      assert.is_true(failed > 0, "some key lives on the damaged page")
      H.expect_jet("JET_errReadVerifyFailure", ese.file_info, w:path("app.edb"), true)
    end)
  end)

  describe("locks (issue 2: one owner per log folder and database)", function()
    it("a second instance on the same log folder in this process: JET_errFileAccessDenied (-1032)", function()
      w:open()
      local second = w:create()
      local e = H.expect_jet("JET_errFileAccessDenied", second.init, second)
      assert.are.equal(-1032, e.code)
      assert.are.equal("init", e.op)
      assert.matches("held by another", e.detail)
      H.expect_jet("JET_errNotInitialized", second.begin_session, second)
    end)

    it("a log folder held by a child process: JET_errFileAccessDenied here until the child ends", function()
      local inst = w:create()
      local ok, e = H.while_held(w.dir, function() return pcall(inst.init, inst) end)
      assert.is_false(ok, "init succeeded while the child held the folder")
      assert.are.equal("JET_errFileAccessDenied", e.name)
      w:open()                                    -- free again once the child ended
    end)

    -- The attach is made in a child process so that a crash, if any, cannot
    -- take the suite down (it once was a double free).
    it("a database attached by another instance: JET_errFileAccessDenied on attach", function()
      local t = w:table()
      t:put("k", "v")
      local code, out, err = H.lua_child([[
        local ese = require "ese"
        local dir = arg[1]
        local inst = ese.create_instance("second", { system_path = dir .. "/b", log_path = dir .. "/b" })
        inst:init()
        local s = inst:begin_session()
        local ok, e = pcall(s.attach_database, s, dir .. "/app.edb")
        print("ATTACH " .. (ok and "success" or e.name))
        inst:term()
      ]], { w.dir })
      assert.are.equal(0, code, err)
      assert.are.equal("JET_errFileAccessDenied", H.parse_lines(out).ATTACH)
    end)
  end)

  describe("logs at init (soft recovery)", function()
    -- An instance whose records all sit in edb.log after the checkpoint of
    -- init (2 MiB logs: nothing rolls), terminated abruptly.
    local function crashed_log()
      local t, _, _, inst = w:table({ log_file_size = 2048 })
      H.fill(t, 30, "k", 300)
      inst:term()
      local log = w:path("edb.log")
      return log, H.last_data_offset(log)
    end

    it("damage before the tail of the log: JET_errLogFileCorrupt (-501) at init", function()
      local log, last = crashed_log()
      -- a payload byte of the first record past the middle (the padding
      -- after a record's checksum is not the record's)
      local mid, at = H.LOG_DATA + (last - H.LOG_DATA) // 2, nil
      require("support.log_records").each(w.dir, function(_, _, off, name)
        if name == "edb.log" and off >= mid and not at then at = off + 8 end
      end)
      assert.is_true(at ~= nil and at < last, "a record past the middle")
      H.flip_byte(log, at)
      local inst = w:create(nil, { log_file_size = 2048 })
      local e = H.expect_jet("JET_errLogFileCorrupt", inst.init, inst)
      assert.are.equal(-501, e.code)
      assert.are.equal("init", e.op)
      H.expect_jet("JET_errNotInitialized", inst.begin_session, inst)
    end)

    it("a torn tail (the last record damaged) is cut silently: init works, the last commit is gone", function()
      local log, last = crashed_log()
      H.flip_byte(log, last)
      -- the flush of the last commit never finished: its shadow slot is torn
      -- too (with that slot whole, its copy of the block brings the commit back:
      -- log_test.c test_slots)
      H.flip_byte(log, H.newest_slot(log) + 100)
      local t2 = w:reopen({ log_file_size = 2048 })
      assert.are.equal(("x"):rep(300), t2:get("k00001"))
      assert.are.equal(("x"):rep(300), t2:get("k00029"))
      assert.is_nil(t2:get("k00030"))
      t2:put("k00030", "again")                   -- the cut log goes on
      assert.are.equal("again", t2:get("k00030"))
    end)

    it("a torn rewrite of the last block (earlier commits garbled) is undone from its shadow slot: init "
       .. "recovers every commit and writes the block back before it appends", function()
      local log, last = crashed_log()
      local good = assert(H.read_file(log))
      local block = last - last % 4096
      local f = assert(io.open(log, "r+b"))
      assert(f:seek("set", block))
      assert(f:write(("\xA5"):rep(4096)))
      f:close()
      local t2, _, _, inst2 = w:reopen({ log_file_size = 2048 })
      assert.are.equal(("x"):rep(300), t2:get("k00001"))
      assert.are.equal(("x"):rep(300), t2:get("k00030"))
      local now = assert(H.read_file(log))
      assert.are.equal(good:sub(block + 1, last + 1), now:sub(block + 1, last + 1), "the block is back in place")
      inst2:term()
    end)

    it("a checkpoint whose logs are all gone: JET_errMissingLogFile (-528) at init", function()
      local _, _, _, inst = w:filled_table(10)
      inst:term()
      for name in pairs(H.ls(w.dir)) do
        if name:match("%.log$") then assert.is_true(os.remove(w:path(name))) end
      end
      local i2 = w:create(nil, { log_file_size = 64 })
      local e = H.expect_jet("JET_errMissingLogFile", i2.init, i2)
      assert.are.equal(-528, e.code)
    end)

    it("an older generation of another log stream: JET_errBadLogSignature (-530) at init", function()
      local t, _, _, inst = w:table({ log_file_size = 64 })
      H.roll(t, w.dir, 3)
      inst:term()
      local w2 = H.world()
      finally(function() w2:cleanup() end)
      local t2, _, _, inst2 = w2:table({ log_file_size = 64 })
      H.roll(t2, w2.dir, 3)
      inst2:term()
      -- without the checkpoint, recovery reads from the oldest generation
      assert.is_true(os.remove(w:path("edb.chk")))
      local oldest
      for name in pairs(H.ls(w.dir)) do
        local g = H.log_gen(name)
        if g and g > 0 and (not oldest or g < H.log_gen(oldest)) then oldest = name end
      end
      assert.is_true(H.exists(w2:path(oldest)), oldest)
      H.write_file(w:path(oldest), H.read_file(w2:path(oldest)))
      local i3 = w:create(nil, { log_file_size = 64 })
      local e = H.expect_jet("JET_errBadLogSignature", i3.init, i3)
      assert.are.equal(-530, e.code)
    end)
  end)

  describe("the checkpoint file", function()
    it("a damaged edb.chk: JET_errCheckpointCorrupt (-533) at init", function()
      local t, _, _, inst = w:table()
      t:put("k", "v")
      inst:term()
      H.flip_byte(w:path("edb.chk"), 20)
      local i2 = w:create()
      local e = H.expect_jet("JET_errCheckpointCorrupt", i2.init, i2)
      assert.are.equal(-533, e.code)
    end)

    it("the edb.chk of another log stream: JET_errBadCheckpointSignature (-532) at init", function()
      local t, _, _, inst = w:table()
      t:put("k", "v")
      inst:term()
      local dir = w:path("other")
      w:open(nil, { log_path = dir, system_path = dir }):term()
      H.write_file(w:path("edb.chk"), H.read_file(dir .. "/edb.chk"))
      local i2 = w:create()
      local e = H.expect_jet("JET_errBadCheckpointSignature", i2.init, i2)
      assert.are.equal(-532, e.code)
    end)
  end)

  describe("names", function()
    it("create_database over an existing file: JET_errFileAlreadyExists (-1814); a table name of 0 or "
       .. "more than 64 bytes: JET_errInvalidName (-1002)", function()
      local _, s, db = w:table()
      H.write_file(w:path("taken.edb"), "x")
      local e = H.expect_jet("JET_errFileAlreadyExists", s.create_database, s, w:path("taken.edb"))
      assert.are.equal(-1814, e.code)
      assert.are.equal("x", H.read_file(w:path("taken.edb")))       -- untouched
      H.expect_jet("JET_errInvalidName", s.create_table, s, db, "")
      H.expect_jet("JET_errInvalidName", s.create_table, s, db, ("n"):rep(65))
      s:create_table(db, ("n"):rep(64))
    end)
  end)

  describe("log generations", function()
    it("the last generation (0x7FFFF800) full: a commit raises JET_errLogSequenceEnd (-519)", function()
      local _, _, _, inst = w:filled_table(5)
      inst:term({ complete = true })
      -- make the current log the last generation there can be: rewrite its
      -- header (records after it no longer match their generation: the
      -- tail is cut), drop the checkpoint and the older generations
      assert.is_true(os.remove(w:path("edb.chk")))
      for name in pairs(H.ls(w.dir)) do
        local g = H.log_gen(name)
        if g and g > 0 then assert.is_true(os.remove(w:path(name))) end
      end
      local data = H.read_file(w:path("edb.log"))
      assert.are.equal(crc32c(data, 5, 4096), (string.unpack("<I4", data, 1)))
      local hdr = data:sub(5, 12) .. string.pack("<I4", 0x7FFFF800) .. data:sub(17, 4096)
      H.write_file(w:path("edb.log"), string.pack("<I4", crc32c(hdr, 1, #hdr)) .. hdr .. data:sub(4097))
      assert.are.equal(0x7FFFF800, ese.file_info(w:path("edb.log")).generation)
      local t2 = w:reopen({ log_file_size = 64 })
      assert.are.equal(("x"):rep(500), t2:get("k00005"))
      local e
      for i = 1, 1000 do
        local ok, pe = pcall(t2.put, t2, ("z%05d"):format(i), ("x"):rep(500))
        if not ok then e = pe break end
      end
      assert.is_not_nil(e, "the log never filled")
      assert.are.equal("JET_errLogSequenceEnd", e.name)
      assert.are.equal(-519, e.code)
      assert.are.equal("put", e.op)
    end)
  end)

  describe("limits", function()
    it("more than 64 instances: JET_errTooManyInstances (-1214)", function()
      local made, e = {}, nil
      for i = 1, 100 do
        local ok, inst = pcall(ese.create_instance, H.name("many"))
        if not ok then e = inst break end
        made[i] = inst
      end
      for _, inst in ipairs(made) do inst:term() end
      assert.is_not_nil(e, "100 instances were created")
      assert.are.equal(ese.Error, getmetatable(e))
      assert.are.equal("JET_errTooManyInstances", e.name)
      assert.are.equal(-1214, e.code)
      assert.are.equal(64, #made, "the 65th instance is refused")
      w:open():term()                               -- the slots are free again
    end)

    -- Every database attached is listed (absolute path, relative path,
    -- signature) in each log file's header table of 4 KiB: a database it
    -- could not list, or a 33rd, is refused before anything is logged or
    -- written.
    it("a 33rd database, or one the log header's attach table cannot list: JET_errTooManyAttachedDatabases (-1805)",
      function()
      local deep = w.dir .. "/" .. ("d"):rep(80) .. "/" .. ("e"):rep(20)
      assert(os.execute("mkdir -p '" .. deep .. "'"))
      local inst = w:open()
      local s = inst:begin_session()
      local function make(p)
        local db = s:create_database(p)
        s:create_table(db, "t"):close()
        db:close()
      end
      local paths, n = {}, 0
      for i = 1, 40 do
        paths[i] = deep .. ("/db%02d.edb"):format(i)
        local ok, e = pcall(make, paths[i])
        if not ok then
          assert.are.equal("JET_errTooManyAttachedDatabases", e.name, tostring(e))
          assert.are.equal(-1805, e.code)
          assert.is_false(H.exists(paths[i]), "the refused database was created")
          break
        end
        n = i
      end
      assert.is_true(n >= 20 and n < 32, n .. " databases of " .. #paths[1] .. "-byte paths")
      -- attach: the refused database stays clean and attaches once there is room
      s:detach_database(paths[1])
      make(paths[n + 1])
      s:detach_database(paths[n + 1])
      s:attach_database(paths[1])
      H.expect_jet("JET_errTooManyAttachedDatabases", s.attach_database, s, paths[n + 1])
      assert.are.equal("clean", ese.file_info(paths[n + 1]).state)
      s:detach_database(paths[2])
      s:attach_database(paths[n + 1])
      s:end_session()
      inst:term({ complete = true })
      -- short paths: 32 databases at most
      inst = w:open()
      s = inst:begin_session()
      for i = 1, 32 do make(w.dir .. "/s" .. i .. ".edb") end
      H.expect_jet("JET_errTooManyAttachedDatabases", make, w.dir .. "/s33.edb")
      assert.is_false(H.exists(w.dir .. "/s33.edb"))
      s:end_session()
      inst:term({ complete = true })
    end)
  end)
end)
