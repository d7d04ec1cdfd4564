-- Session 18's audit of the C core against its standards (descriptors,
-- checked results, no spawn, Lua C API safety, size arithmetic): one spec
-- per real finding, each failing before its fix.
local ese = require "ese"
local H = require "spec.support.helpers"

describe("review18", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- restore_begin (lua_restore.c) took each folder name of the list with
  -- lua_geti and popped it, keeping only the char pointer: a list whose
  -- entries come from __index holds no reference to them, so a collection
  -- before EseRestoreBegin (here in the options' __index, as any
  -- allocation of the call may run one) freed the name it then read.
  it("ese.restore with a list whose folders come from __index reads each folder's name, not freed memory, after a " ..
     "collection during the call", function()
    local set, dest = w:path("set"), w:path("dest")
    w:stopped_set(set)
    local list = setmetatable({}, {
      __len = function() return 1 end,
      __index = function(_, i) return i == 1 and (set .. "/") or nil end,   -- a new string, only on the stack
    })
    local junk = {}
    local opts = setmetatable({}, { __index = function(_, k)
      if k == "live_log_path" then
        collectgarbage()
        collectgarbage()
        -- the freed name's room taken by other bytes of its size
        for j = 1, 200 do junk[j] = ("Z"):rep(#set - 3) .. ("%04d"):format(j) end
      end
      return nil
    end })
    local ok, err = pcall(ese.restore, list, dest, opts)
    assert.are.equal(200, #junk)               -- the collection ran during the call
    assert.is_true(ok, tostring(err))
    assert.are.equal(20, H.count_keys(w, dest, "base"))
  end)

  -- The C layers under malloc failures (C harness spec/c/oom_sweep.c: the
  -- k-th allocation of a call fails, for every k).  Before:
  -- * log_reader_open whose file array could not be allocated closed the
  --   reader over a NULL array with its count set (a crash);
  -- * ese.file_info of a log (plain or compressed) or of a compressed file
  --   whose header could not be read for want of memory went on as if it
  --   were no log: JET_errDatabaseCorrupted or JET_errFileInvalidType;
  -- * zstd's own allocation failure was a damaged frame: a restore of a
  --   compressed set answered JET_errLogFileCorrupt;
  -- * soft recovery of a copied folder that could not canonicalize the path
  --   beside its log for want of memory replayed onto the path the log
  --   records (the original's): the init succeeded, the copy's database was
  --   left dirty with its logs spent, and no later init opened it again
  --   (JET_errDatabaseDirtyShutdown for good);
  -- * JetOpenDatabase / JetDetachDatabase / a backup's open_file whose path
  --   could not be canonicalized answered JET_errDatabaseNotFound for an
  --   attached database (open_file then went on as if it were a log).
  it("log reading, restore (plain and compressed sets), the engine's recovery, puts, commit and term, and " ..
     "ese.file_info with verify, failing at each C allocation in turn, answer success or JET_errOutOfMemory, hold " ..
     "no memory after, and lose nothing", function()
    local dir, set, zset, dest = w:path("live"), w:path("set"), w:path("zset"), w:path("dest")
    local t, s, _, inst = w:table_at(dir, "app.edb", { log_file_size = 64 })
    H.fill(t, 300, "a", 300)
    local backup = require "ese.backup"
    backup.run(inst, set)
    backup.run(inst, zset, { compress = "zstd" })
    H.roll(t, dir, 3, "b")
    t:close()
    s:end_session()
    inst:term({ complete = true })
    -- orig: an instance killed with a00001 .. a00300 committed; crashed:
    -- its copy, made then (its logs name orig/app.edb); orig recovered since
    local orig, crashed = w:path("orig"), w:path("crashed")
    assert(os.execute("mkdir " .. H.q(orig)))
    local code, _, err = H.lua_child([[
      local ese = require "ese"
      local dir = arg[1]
      local inst = ese.create_instance("cr", { system_path = dir, log_path = dir, log_file_size = 64 })
      inst:init()
      local s = inst:begin_session()
      local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
      for i = 1, 300 do t:put(("a%05d"):format(i), ("x"):rep(300)) end
      os.exit(0, false)
    ]], { orig })
    assert.are.equal(0, code, err)
    H.copy_dir(orig, crashed)
    w:open(nil, { system_path = orig, log_path = orig, log_file_size = 64 }):term({ complete = true })
    local files = { dir .. "/app.edb", dir .. "/edb.log", set .. "/app.edb" }
    for name in pairs(H.ls(set)) do
      if name:match("%.log$") then files[#files + 1] = set .. "/" .. name end
    end
    for name in pairs(H.ls(zset)) do
      if name:match("%.zst$") then files[#files + 1] = zset .. "/" .. name end
    end
    assert.are.equal(6, #files)
    local args = { dir, dest, set, zset, crashed, orig }
    for _, f in ipairs(files) do args[#args + 1] = f end
    for i, a in ipairs(args) do args[i] = H.q(a) end
    -- no thread cache: mallinfo2 counts cached chunks as held
    local ok, out = H.run_harness("oom_sweep", table.concat(args, " "), "GLIBC_TUNABLES=glibc.malloc.tcache_count=0")
    assert.is_true(ok, out)
    if out:match("^skip") then return end     -- make check: AddressSanitizer keeps the allocator
    for _, what in ipairs({ "log_reader", "restore", "restore zstd", "engine", "file_info 1", "file_info 6" }) do
      assert.matches(what .. ": %d+ allocations swept", out)
    end
    assert.matches("\nok", out)
  end)
end)
