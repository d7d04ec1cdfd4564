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
      assert.are.equal(3, fi.format_version)
    end
  end)
end)
