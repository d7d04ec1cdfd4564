-- The next log generation's file (Btmp.log: full size, zeros) is made
-- ahead on the log's preparer thread, not by the committing thread (issue
-- 11's durable 1 MiB put): csrc/log.c, docs/internals.md "Log files made
-- ahead".  Runs that count I/O events (ESE_FAULT, ESE_FAULT_COUNT,
-- ESE_FAULT_TRACE) make it in line, as before; the crash and torn sweeps
-- cover that order.  Here: no fault, the thread's way.
local ese = require "ese"
local H = require "support.helpers"

local MIB = 1048576
local LV = require "support.lv_sweep"
local val = LV.val

local function thread_wchar() return H.thread_io("wchar") end

describe("log files made ahead", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("a durable 1 MiB put: the committing thread writes the value about once (no zero-filling of log files)",
    function()
      if not thread_wchar() then pending("no /proc/thread-self/io") return end
      -- 4 MiB log files: a generation per three values; each roll needs the
      -- next file.  Before, the committing thread wrote its 4 MiB of zeros:
      -- about 2 MiB written per 1 MiB put.
      local t, _, _, inst = w:table({ log_file_size = 4096 })
      t:put("doc", val(MIB, 0))                    -- the first commit asks for the next file
      local n, before = 16, thread_wchar()
      for i = 1, n do t:put("doc", val(MIB, i % 2 + 1)) end
      local per_put = (thread_wchar() - before) / n / MIB
      assert.is_true(per_put < 1.5, ("the committing thread wrote %.2f MiB per 1 MiB put"):format(per_put))
      local gens = 0
      for name in pairs(H.log_files(w.dir)) do gens = gens + (name ~= "edb.log" and 1 or 0) end
      assert.is_true(gens >= 4, "the puts rolled through generations")
      assert.are.equal(val(MIB, n % 2 + 1), t:get("doc"))
      inst:term({ complete = true })
      -- the generations the roll took from the preparer read back: reopen
      local inst2 = w:open(nil, { log_file_size = 4096 })
      local t2 = H.open_table(inst2, w.dir)
      assert.are.equal(val(MIB, n % 2 + 1), t2:get("doc"))
      inst2:term({ complete = true })
    end)

  it("a roll inside the first commit after the next file was made only renames: its header was written and "
     .. "synced ahead on the preparer thread", function()
      -- 64 KiB log files (52 KiB of records each), transactions of 26
      -- records of 2000 bytes: about one roll per commit, inside the commit
      -- (its records logged), so that often no commit came into the closing
      -- generation since the preparer wrote the header (a commit since
      -- would be newer than the new generation's creation time: the roll
      -- then writes the header again).  Before, every roll wrote and synced
      -- the header on the committing thread: one sync more there.
      local thread_syncs = require("ese.core")._thread_syncs
      local t, s, _, inst = w:table({ log_file_size = 64 })
      local v, rolled, ahead, i = ("x"):rep(2000), 0, 0, 0
      while rolled < 12 and i < 100 do
        i = i + 1
        local g = ese.file_info(w.dir .. "/edb.log").generation
        local tmp
        H.wait_until(function()                    -- the preparer's file, after the last commit
          tmp = H.read_file(w.dir .. "/edbtmp.log")
          return tmp and tmp:sub(5, 10) == "ESELOG"
        end, nil, 0.01)
        assert.is_truthy(tmp and tmp:sub(5, 10) == "ESELOG", "edbtmp.log has a header before the roll")
        assert.are.equal(g + 1, string.unpack("<I4", tmp, 13), "the next generation's")
        assert.are.equal(tmp:sub(25, 40), H.read_file(w.dir .. "/edb.log"):sub(25, 40), "of this stream")
        s:begin_transaction()
        for j = 1, 26 do t:put(("k%04d.%02d"):format(i, j), v) end
        local s0 = thread_syncs()
        s:commit_transaction()
        local now = ese.file_info(w.dir .. "/edb.log").generation
        if now == g + 1 then
          -- the folder's sync and the commit's own; the closing file's
          -- when part of this commit went into it (its first key is there);
          -- one more when the roll wrote the header
          local d = thread_syncs() - s0
          rolled = rolled + 1
          local closing = H.read_file(w.dir .. "/" .. H.log_name(g))
          local base = closing:find(("k%04d.01"):format(i), 1, true) and 3 or 2
          assert.is_true(d == base or d == base + 1, ("syncs on the thread of a commit that rolled: %d"):format(d))
          if d == base then ahead = ahead + 1 end
        end
      end
      assert.is_true(ahead >= 3, ("rolls that found the header written ahead: %d of %d"):format(ahead, rolled))
      inst:term({ complete = true })
      local t2 = H.open_table(w:open(nil, { log_file_size = 64 }), w.dir)
      for k = 1, i do assert.are.equal(v, t2:get(("k%04d.26"):format(k))) end
    end)

  it("a database attached after the header was written ahead: the roll writes the header again, with it",
    function()
      local t, s, _, inst = w:table({ log_file_size = 64 })
      local tmp = w.dir .. "/edbtmp.log"
      local function header_ahead()
        return H.wait_until(function()
          local d = H.read_file(tmp)
          return d and d:sub(5, 10) == "ESELOG" and d
        end, nil, 0.01)
      end
      t:put("a", "1")
      local g = ese.file_info(w.dir .. "/edb.log").generation
      assert.are.equal(g + 1, string.unpack("<I4", assert(header_ahead()), 13))
      assert.are.equal(1, ese.file_info(tmp).attached, "written ahead with one database")
      local t2 = s:create_table(s:create_database(w.dir .. "/two.edb"), "t")
      H.roll(t2, w.dir, 1)
      local cur = ese.file_info(w.dir .. "/edb.log")
      assert.are.equal(g + 1, cur.generation)
      assert.are.equal(2, cur.attached, "the generation after the attach names both databases")
      for gen = g, cur.generation - 1 do   -- each header links to the one before
        local a = ese.file_info(w.dir .. "/" .. H.log_name(gen))
        local b = ese.file_info(w.dir .. "/" .. (gen + 1 < cur.generation and H.log_name(gen + 1) or "edb.log"))
        assert.are.equal(a.created_us, b.prev_created_us)
        assert.is_true(b.created_us > a.created_us)
      end
      t2:put("b", "2")
      inst:term({ complete = true })
      local inst2 = w:open(nil, { log_file_size = 64 })
      local s2 = inst2:begin_session()
      s2:attach_database(w.dir .. "/two.edb")
      local db2 = s2:open_database(w.dir .. "/two.edb")
      assert.are.equal("2", s2:open_table(db2, "t"):get("b"))
      inst2:term({ complete = true })
    end)

  it("new log and double-write files have their room reserved (fallocate), not written; with a fault armed, zeros",
    function()
      local probe = w:path("probe")
      if not os.execute("fallocate -l 65536 " .. H.q(probe) .. " 2>/dev/null") then
        pending("this file system has no fallocate: log files are written with zeros")
        return
      end
      if not H.thread_io("wchar") then pending("no /proc/thread-self/io") return end
      -- The child makes an instance with 8 MiB log files (B.log at init,
      -- Btmp.log by the preparer after the first commit), waits until
      -- Btmp.log is whole, checks that it reads as zeros after the header's
      -- place, and prints the bytes the process passed to write calls.
      local src = [[
        local ese = require "ese"
        local dir = arg[1]
        local function wchar()
          local f = assert(io.open("/proc/self/io"))
          local s = f:read("a")
          f:close()
          return tonumber(s:match("wchar:%s*(%d+)"))
        end
        local before = wchar()
        local inst = ese.create_instance("resv", { system_path = dir, log_path = dir, log_file_size = 8192 })
        inst:init()
        local s = inst:begin_session()
        local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
        t:put("k", "v")                               -- a commit: the preparer makes Btmp.log
        local tmp = dir .. "/edbtmp.log"
        for _ = 1, 600 do
          local st = ese.fs.stat(tmp)
          if st and st.size == 8 << 20 then break end
          os.execute("sleep 0.05")
        end
        os.execute("sleep 0.2")                       -- its sync
        local f = assert(io.open(tmp, "rb"))
        f:seek("set", 4096)
        local rest = f:read("a")
        f:close()
        assert(#rest == (8 << 20) - 4096 and not rest:find("[^%z]"), "Btmp.log does not read as zeros")
        inst:term({ complete = true })
        io.write(wchar() - before)
      ]]
      local function written(env)
        local dir = w:path(env and "zeros" or "reserved")
        assert(os.execute("mkdir -p " .. H.q(dir)))
        local code, out, err = H.lua_child(src, { dir }, env)
        assert.are.equal(0, code, err)
        return assert(tonumber(out), out)
      end
      -- two 8 MiB log files and the 16 MiB double-write ring (edb.dwb):
      -- before, 32 MiB of zeros went through write calls
      local reserved = written(nil)
      assert.is_true(reserved < 2 * MIB, ("the process wrote %.1f MiB"):format(reserved / MIB))
      -- a slow-sync fault that never fires (its file is absent) takes the
      -- written-zeros way that the fault sweeps cover: the measure can tell
      local zeros = written("ESE_FAULT=slowsync:1:" .. H.q(w:path("absent")))
      assert.is_true(zeros > 31 * MIB, ("with a fault armed the process wrote %.1f MiB"):format(zeros / MIB))
    end)

  it("kill -9 right after a commit (the preparer thread at work): every durable commit recovers", function()
    local dir = w:path("k")
    assert(os.execute("mkdir -p " .. H.q(dir)))
    -- The child kills itself (SIGKILL, from a shell whose parent it is)
    -- after commit K, when the preparer was just asked for the next file.
    local src = [[
      local val = (function() ]] .. LV.VAL_SRC .. [[ end)()
      local ese = require "ese"
      local dir, k = arg[1], tonumber(arg[2])
      local inst = ese.create_instance("prep", { system_path = dir, log_path = dir, log_file_size = 256 })
      inst:init()
      local s = inst:begin_session()
      local db = s:create_database(dir .. "/app.edb")
      local t = s:create_table(db, "t")
      for n = 1, 40 do
        t:put("k" .. n % 3, val(100000, n))
        if n == k then os.execute("kill -KILL $PPID") end
      end
      inst:term({ complete = true })
    ]]
    for _, k in ipairs({ 1, 2, 5, 13, 27 }) do
      H.rmdir(dir)
      assert(os.execute("mkdir -p " .. H.q(dir)))
      local code = H.lua_child(src, { dir, k })
      assert.are_not.equal(0, code, "the child was killed")
      local inst = w:create(nil, { system_path = dir, log_path = dir, log_file_size = 256 })
      inst:init()
      local s = inst:begin_session()
      s:attach_database(dir .. "/app.edb")
      local t = s:open_table(s:open_database(dir .. "/app.edb"), "t")
      -- commits 1..k were durable; the last of each key is at least there
      for r = 0, 2 do
        local last = k - (k - r) % 3
        if last >= 1 then
          assert.is_true(t:get("k" .. r) == val(100000, last),
            ("kill after %d: key k%d is not commit %d's value"):format(k, r, last))
        end
      end
      -- and the log goes on: more rolls after recovery
      for n = 41, 50 do t:put("k" .. n % 3, val(100000, n)) end
      inst:term({ complete = true })
      local fi = ese.file_info(dir .. "/app.edb", true)
      assert.are.equal(4, fi.format_version)
    end
  end)
end)
