-- Backup pacing (issue 12; docs/backup.md "Pacing"): backup_max_rate and
-- backup_pace, honoured by every streaming read.  Timing is asserted as a
-- lower bound only (a paced read can be slower, never faster), with S/N
-- about 1 s; the pacer's arithmetic runs on a fake clock in the C harness
-- (spec/c/pacing.c, unit), which also drives JetReadFileInstance and the
-- "auto" rule against commits made slow by ESE_FAULT=slowsync.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

local now = ese.fs.now

-- A world whose table holds about `bytes` of records (batched commits).
local function filled(bytes, extra)
  local w = H.world()
  local t, s, db, inst = w:table(extra)
  local v = ("p"):rep(400)
  local n = bytes // 400
  for i = 1, n, 500 do
    s:begin_transaction()
    for k = i, math.min(n, i + 499) do t:put(("k%07d"):format(k), v) end
    s:commit_transaction()
  end
  return w, t, s, db, inst, w:path("app.edb")
end

describe("backup pacing", function()
  local w
  after_each(function() if w then w:cleanup() end w = nil end)

  describe("backup_max_rate", function()
    -- Streams the database with fn(r) at a rate of r:size() bytes/s (set
    -- while the instance runs): at least 0.8 s, every byte delivered.
    local function paced(fn)
      local t, s, db, inst, dbpath
      w, t, s, db, inst, dbpath = filled(1 << 20)
      inst:begin_external_backup()
      local r <close> = inst:open_file(dbpath)
      local size = r:size()
      assert.is_true(size >= 1 << 20)
      inst:set_params({ backup_max_rate = size })
      local t0 = now()
      local got = fn(r)
      local secs = now() - t0
      assert.are.equal(size, got)
      assert.is_true(secs >= 0.8, ("%d bytes at %d B/s took %.3f s"):format(size, size, secs))
      r:close()
      local st = inst:pace_status()
      assert.are.equal(size, st.max_rate)
      assert.are.equal(size, st.rate)
      assert.is_true(st.waits > 0 and st.waited > 0.5)
      inst:set_params({ backup_max_rate = 0 })
      inst:end_external_backup({ abort = true })
      return t, s, db
    end

    it("r:read(n) of a database of S bytes at S bytes/s takes at least 0.8 s", function()
      paced(function(r)
        local n = 0
        while true do
          local c = r:read(256 * 1024)
          if not c then return n end
          n = n + #c
        end
      end)
    end)

    it("r:chunks() (1 MiB chunks, more than one burst: split) takes at least 0.8 s", function()
      paced(function(r) return #H.read_all(r) end)
    end)

    it("r:copy_to(sink) takes at least 0.8 s", function()
      paced(function(r)
        local n = 0
        return r:copy_to(function(c) n = n + #c end), n
      end)
    end)

    it("backup.run: the whole set (databases and logs) at 1 MiB/s takes at least 0.8 x its bytes / rate", function()
      local inst
      local _
      w, _, _, _, inst = filled(512 * 1024)
      local rate = 1 << 20
      inst:set_params({ backup_max_rate = rate })
      local t0 = now()
      local res = backup.run(inst, w:path("set"))
      local secs = now() - t0
      assert.is_true(res.bytes >= 512 * 1024)
      assert.is_true(secs >= 0.8 * res.bytes / rate - 0.1,
        ("%d bytes at %d B/s took %.3f s"):format(res.bytes, rate, secs))
      assert.are.equal(res.bytes, backup.verify(w:path("set")).bytes)
    end)

    it("the legacy reader (ese.open_file) is paced too", function()
      w = H.world()
      local inst = w:legacy({ backup_max_rate = 256 * 1024 })
      local s = inst:begin_session()
      local db = s:create_database(w:path("app.edb"))
      local t = s:create_table(db, "t")
      s:begin_transaction()
      for i = 1, 800 do t:put(("k%05d"):format(i), ("q"):rep(300)) end
      s:commit_transaction()
      ese.begin_external_backup()
      local r <close> = ese.open_file(w:path("app.edb"))
      local size = r:size()
      local t0 = now()
      assert.are.equal(size, #H.read_all(r, 64 * 1024))
      local secs = now() - t0
      local want = (size - 256 * 1024 // 10) / (256 * 1024)
      assert.is_true(secs >= 0.8 * want, ("%d bytes at 256 KiB/s took %.3f s"):format(size, secs))
      r:close()
      inst:end_external_backup({ abort = true })
    end)
  end)

  describe("in a coroutine, with a wait function that yields", function()
    -- the application's choice of how a paced reader waits: here it yields
    -- (ese.pace_signal, seconds) to whoever resumes the coroutine, as the
    -- reader does without one
    before_each(function() ese.set_pace_wait(function(secs) coroutine.yield(ese.pace_signal, secs) end) end)
    after_each(function() ese.set_pace_wait(nil) end)

    it("a paced reader yields (ese.pace_signal, seconds) while it waits; another coroutine commits meanwhile",
       function()
      local t, s, db, inst, dbpath
      w, t, s, db, inst, dbpath = filled(512 * 1024)
      inst:begin_external_backup()
      local r <close> = inst:open_file(dbpath)
      local size = r:size()
      inst:set_params({ backup_max_rate = size * 2 })     -- about 0.5 s
      local got = 0
      local reader = coroutine.create(function()
        for c in r:chunks(64 * 1024) do got = got + #c end
        got = got + (r:read() and 1 or 0)
      end)
      local writes, wrote_while_reading = 0, 0
      local writer = coroutine.create(function()
        while true do
          writes = writes + 1
          t:put(("w%06d"):format(writes), "v")
          coroutine.yield()
        end
      end)
      local t0 = now()
      local yields, bad = H.resume_paced(reader, function()
        assert(coroutine.resume(writer))
        wrote_while_reading = wrote_while_reading + 1
      end)
      local secs = now() - t0
      assert.are.equal(size, got)
      assert.are.equal(0, bad)
      assert.is_true(yields > 0)
      assert.is_true(wrote_while_reading > 0 and writes == wrote_while_reading)
      assert.is_true(secs >= 0.8 * 0.5 - 0.1, ("%.3f s"):format(secs))
      for i = 1, writes do assert.are.equal("v", t:get(("w%06d"):format(i))) end
      r:close()
      inst:end_external_backup({ abort = true })
      assert.is_not_nil(s and db)
    end)

    it("copy_to and read yield too and resume where they stopped; backup.run passes the yield to its caller", function()
      local inst, dbpath, _
      w, _, _, _, inst, dbpath = filled(256 * 1024)
      inst:begin_external_backup()
      local size
      do
        local r <close> = inst:open_file(dbpath)
        size = r:size()
        inst:set_params({ backup_max_rate = size * 4 })
        local parts, yields = {}, 0
        local co = coroutine.create(function()
          return r:copy_to(function(c) parts[#parts + 1] = c end, 8192 * 4)
        end)
        local ok, a
        repeat
          ok, a = coroutine.resume(co)
          assert.is_true(ok, a)
          if coroutine.status(co) == "suspended" then yields = yields + 1 end
        until coroutine.status(co) == "dead"
        assert.is_true(yields > 0)
        assert.are.equal(size, a)
        assert.are.equal(size, #table.concat(parts))
      end
      local whole
      do
        local r <close> = inst:open_file(dbpath)
        local co = coroutine.wrap(function()
          local out = {}
          while true do
            local c = r:read(8192 * 8)
            if not c then return table.concat(out) end
            out[#out + 1] = c
          end
        end)
        local x
        repeat x = co() until x ~= ese.pace_signal
        whole = x
      end
      assert.are.equal(size, #whole)
      inst:end_external_backup({ abort = true })
      -- backup.run in a coroutine: the pacing yields reach the driver
      local yields, res = 0, nil
      local co = coroutine.create(function() return backup.run(inst, w:path("set")) end)
      repeat
        local ok, a = coroutine.resume(co)
        assert.is_true(ok, a)
        if coroutine.status(co) == "suspended" then yields = yields + 1 else res = a end
      until coroutine.status(co) == "dead"
      assert.is_true(yields > 0)
      assert.is_true(res.bytes > size)
      assert.are.equal(res.bytes, backup.verify(w:path("set")).bytes)
    end)
  end)

  describe("without a wait function, with \"sleep\", or with a scheduler's own", function()
    -- DESIGN.md, Pacing: a Lua reader inside a coroutine waits by yielding,
    -- elsewhere by sleeping
    local function paced_reader(rate_div)
      local inst, dbpath, _
      w, _, _, _, inst, dbpath = filled(256 * 1024)
      inst:begin_external_backup()
      local r = inst:open_file(dbpath)
      local size = r:size()
      inst:set_params({ backup_max_rate = size * rate_div })
      return inst, r, size
    end

    it("a paced reader in a coroutine yields (ese.pace_signal, seconds) by itself and resumes where it stopped",
       function()
      assert.is_nil(ese.set_pace_wait(nil))
      local inst, r, size = paced_reader(4)                 -- about 0.25 s
      local t0 = now()
      local co = coroutine.create(function()
        local n = 0
        for c in r:chunks(8192 * 4) do n = n + #c end
        return n
      end)
      local yields, bad, n = H.resume_paced(co)
      assert.is_true(yields > 0)
      assert.are.equal(0, bad)
      assert.are.equal(size, n)
      assert.is_true(now() - t0 >= 0.8 * 0.25 - 0.05)
      r:close()
      inst:end_external_backup({ abort = true })
    end)

    -- hostile15: the reader yielded the string "ese.pace", which a generator
    -- handed on as a chunk: a 696 KB file came out as 36.7 MB, no error
    it("a generator (coroutine.wrap) over a paced reader: ese.pace_signal is no string, a chunk of it raises;"
       .. " skipping it gives the file's bytes", function()
      assert.is_nil(ese.set_pace_wait(nil))
      assert.are.equal("userdata", type(ese.pace_signal))
      local inst, r, size = paced_reader(4)
      local function gen()
        return coroutine.wrap(function()
          for c in r:chunks(8192 * 4) do coroutine.yield(c) end
        end)
      end
      -- a consumer that takes every value for a chunk: table.concat raises
      local parts, signals = {}, 0
      for c in gen() do
        parts[#parts + 1] = c
        if c == ese.pace_signal then signals = signals + 1 end
      end
      assert.is_true(signals > 0, "signals came between the chunks")
      assert.has_error(function() return table.concat(parts) end)
      r:close()
      inst:end_external_backup({ abort = true })
      -- one that skips the signal gets every byte once, in order
      inst:begin_external_backup()
      local dbpath = inst:get_attach_info()[1]
      r = inst:open_file(dbpath)
      local plain = {}
      for c in gen() do
        if c ~= ese.pace_signal then plain[#plain + 1] = c end
      end
      r:close()
      inst:end_external_backup({ abort = true })
      assert.are.equal(size, #table.concat(plain))
      inst:set_params({ backup_max_rate = 0 })
      inst:begin_external_backup()
      local whole = inst:open_file(dbpath)
      local want = whole:read(size)
      whole:close()
      inst:end_external_backup({ abort = true })
      -- the header pages (0, 1) and the copy's trailer (its last page) carry
      -- each backup's own record: the pages between are the same bytes
      local got, pg = table.concat(plain), 8192
      assert.is_true(got:sub(2 * pg + 1, -pg - 1) == want:sub(2 * pg + 1, -pg - 1), "the data pages differ")
    end)

    it("outside a coroutine, and with ese.set_pace_wait(\"sleep\") in one, a paced reader sleeps", function()
      local inst, r, size = paced_reader(4)
      local t0 = now()
      assert.are.equal(size, #H.read_all(r, 8192 * 4))     -- the main thread cannot yield
      assert.is_true(now() - t0 >= 0.8 * 0.25 - 0.05)
      r:close()
      inst:end_external_backup({ abort = true })
      assert.is_nil(ese.set_pace_wait("sleep"))
      finally(function() ese.set_pace_wait(nil) end)
      inst:begin_external_backup()
      local r2 <close> = inst:open_file(w:path("app.edb"))
      t0 = now()
      local co = coroutine.create(function()
        local n = 0
        for c in r2:chunks(8192 * 4) do n = n + #c end
        return n
      end)
      local ok, n = coroutine.resume(co)
      assert.is_true(ok, n)
      assert.are.equal("dead", coroutine.status(co), "no yield")
      assert.are.equal(r2:size(), n)
      assert.is_true(now() - t0 >= 0.8 * 0.25 - 0.05)
      r2:close()
      inst:end_external_backup({ abort = true })
      assert.are.equal("sleep", ese.set_pace_wait(nil))
    end)

    it("under cqueues, with ese.set_pace_wait(cqueues.sleep), a paced backup.run completes while another "
       .. "coroutine of the loop runs (a reader's own yields would crash cqueues' loop)", function()
      local cqueues = require "cqueues"
      local t, inst, dbpath, _
      w, t, _, _, inst, dbpath = filled(512 * 1024)
      local size = assert(io.open(dbpath)):seek("end")
      inst:set_params({ backup_max_rate = size * 2 })       -- about 0.5 s
      assert.is_nil(ese.set_pace_wait(cqueues.sleep))
      finally(function() ese.set_pace_wait(nil) end)
      local cq = cqueues.new()
      local res, ticks, done = nil, 0, false
      cq:wrap(function() res = backup.run(inst, w:path("set")); done = true end)
      cq:wrap(function()
        while not done do
          ticks = ticks + 1
          t:put(("tick%05d"):format(ticks), "v")
          cqueues.sleep(0.01)
        end
      end)
      local ok, err = cq:loop()
      assert.is_true(ok, tostring(err))
      assert.is_true(res.bytes > size)
      assert.is_true(ticks > 5, ticks .. " ticks of the other coroutine meanwhile")
      assert.are.equal(res.bytes, backup.verify(w:path("set")).bytes)
      assert.are.equal(cqueues.sleep, ese.set_pace_wait(nil))
    end)

    -- Before (session 16): the nested read waited too, so it called the wait
    -- function again, which read again ...: Lua's "C stack overflow".
    it("a wait function that reads its own reader (directly, through copy_to or chunks, or from a coroutine it "
       .. "resumes) gets JET_errInvalidParameter (the reader is busy); the outer read raises it, and the reader "
       .. "then delivers every byte once", function()
      local inst, r, size = paced_reader(4)
      finally(function() ese.set_pace_wait(nil) end)
      local nested = {
        function() return r:read(8192 * 4) end,
        function() return r:copy_to(function() end, 8192 * 4) end,
        function() return r:chunks(8192 * 4)() end,
        function() return coroutine.wrap(function() return r:read(8192 * 4) end)() end,
      }
      local n, refused = 0, 0
      for i, f in ipairs(nested) do
        ese.set_pace_wait(function() f() end)
        local ok, e = pcall(function()
          for c in r:chunks(8192 * 4) do n = n + #c end
        end)
        assert.is_false(ok, "case " .. i .. ": the read ended without a wait")
        assert.is_true(ese.is_error(e), "case " .. i .. ": " .. tostring(e))
        assert.are.equal("JET_errInvalidParameter", e.name, tostring(e))
        assert.matches("busy", e.detail, 1, true)
        refused = refused + 1
      end
      assert.are.equal(#nested, refused)
      assert.is_true(n < size, "the refusals came before the end")
      ese.set_pace_wait("sleep")
      for c in r:chunks(8192 * 4) do n = n + #c end
      assert.are.equal(size, n, "every byte once: none lost to the refused reads")
      r:close()
      inst:end_external_backup({ abort = true })
    end)

    -- What api.md ("ese.Reader", errors of reading) says of the bytes a
    -- reader holds when the backup is stopped (session 16: documented as it
    -- was, not changed; the bytes are the stream's).
    it("after stop_backup, the bytes a reader holds (a chunk its wait function cut) go to reads that ask no more "
       .. "than it holds; a read that must ask the engine raises JET_errBackupAbortByServer and drops the rest",
       function()
      local inst, r, size = paced_reader(4)
      finally(function() ese.set_pace_wait(nil) end)
      ese.set_pace_wait(function() error("cut") end)
      local ok, e = pcall(r.read, r)                      -- one chunk: the whole file; cut at its first wait
      assert.is_false(ok)
      assert.matches("cut", tostring(e), 1, true)
      assert.are.equal(0, r:tell())
      ese.set_pace_wait(nil)
      inst:stop_backup()
      assert.are.equal(8192, #r:read(8192), "a page of the held bytes")
      assert.are.equal(8192, r:tell())
      H.expect_jet("JET_errBackupAbortByServer", r.read, r, size)
      H.expect_jet("JET_errBackupAbortByServer", r.read, r, 8192)   -- the rest was dropped
      assert.are.equal(8192, r:tell())
      r:close()
      H.expect_jet("JET_errBackupAbortByServer", inst.end_external_backup, inst)   -- the stop's end (rule 3)
    end)

    it("set_pace_wait takes a function, \"sleep\" or nil", function()
      H.expect_argerror('a function, "sleep" or nil expected', function() ese.set_pace_wait("yield") end)
      H.expect_argerror("function expected, got number", function() ese.set_pace_wait(1) end)
      assert.is_nil(ese.set_pace_wait(nil))
    end)
  end)

  describe("parameters", function()
    it("wrong values: a negative or fractional rate, an unknown pace are argument errors", function()
      w = H.world()
      H.expect_argerror("backup_max_rate' must not be negative", function() w:create(nil, { backup_max_rate = -1 }) end)
      H.expect_argerror("backup_max_rate': integer expected, got number",
        function() w:create(nil, { backup_max_rate = 1.5 }) end)
      H.expect_argerror("backup_max_rate': integer expected, got string",
        function() w:create(nil, { backup_max_rate = "1M" }) end)
      H.expect_argerror("backup_pace': \"none\" or \"auto\" expected, got fast",
        function() w:create(nil, { backup_pace = "fast" }) end)
      H.expect_argerror("backup_pace': \"none\" or \"auto\" expected, got number",
        function() w:create(nil, { backup_pace = 1 }) end)
    end)

    it("a rate above 2^50 bytes/s is JET_errInvalidParameter", function()
      w = H.world()
      H.expect_jet("JET_errInvalidParameter", function() w:create(nil, { backup_max_rate = (1 << 50) + 1 }) end)
    end)

    it("both may change while the instance runs (other parameters may not); pace_status reports them", function()
      w = H.world()
      local inst = w:open(nil, { backup_pace = "auto", backup_max_rate = 1000 })
      local st = inst:pace_status()
      assert.are.equal("auto", st.pace)
      assert.are.equal(1000, st.max_rate)
      assert.are.equal(1000, st.rate)
      assert.is_false(st.congested)
      inst:set_params({ backup_max_rate = 0, backup_pace = "none" })
      st = inst:pace_status()
      assert.are.equal("none", st.pace)
      assert.are.equal(0, st.rate)
      H.expect_jet("JET_errAlreadyInitialized", function() inst:set_params({ log_file_size = 128 }) end)
      -- durable commits feed the latency figures
      local s = inst:begin_session()
      local db = s:create_database(w:path("app.edb"))
      local t = s:create_table(db, "t")
      for i = 1, 5 do t:put("k" .. i, "v") end
      st = inst:pace_status()
      assert.is_true(st.commit_recent > 0 and st.commit_normal > 0)
    end)
  end)

  it("C harness pacing: the bucket and the auto rule on a fake clock (a noisy writer: the limit holds), "
    .. "JetReadFileInstance at a rate, "
    .. "auto slows a backup while commits are slow (ESE_FAULT=slowsync) and lets it complete", function()
    H.expect_harness("pacing", "all", { "pacing: unit ok", "pacing: model ok", "pacing: gap ok", "pacing: noisy ok",
      "pacing: rate ok", "pacing: auto ok", "pacing: ok all" })
  end)
end)
