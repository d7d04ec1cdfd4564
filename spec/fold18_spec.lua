-- Session 18's fold of restore's live-log hold and file_info's log read:
-- the error paths of restore.c's hold_live_gen (a write that fails while a
-- live generation is held) and the held generations' way into dest.
local ese = require "ese"
local H = require "spec.support.helpers"

-- An instance on w/live (64 KiB logs), its set at w/set restored to
-- w/old (the old state an overwrite replaces), then 3 generations rolled
-- in the live folder after the set, the instance ended.  Returns the
-- live folder, the set and the old state's folder.
local function live_after_set(w)
  local dir = w:path("live")
  local ct, cs, _, ci = w:table_at(dir, "app.edb", { log_file_size = 64 })
  H.fill(ct, 5, "base")
  local set, old = w:path("set"), w:path("old")
  require("ese.backup").run(ci, set)
  ese.restore(set, old)
  H.roll(ct, dir, 3, "later")
  ct:close()
  cs:end_session()
  ci:term({ complete = true })
  return dir, set, old
end

local RESTORE_CHILD = [[
  local ese = require "ese"
  local ok, e = pcall(ese.restore, arg[1], arg[2], { live_log_path = arg[3], overwrite = true })
  if ok then print("RESTORED") else print("FAILED " .. tostring(e.name) .. " " .. tostring(e.detail)) end
]]

describe("fold18", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("restore with overwrite and live_log_path: a write that fails while a live generation is held (ESE_FAULT=eio " ..
     "at each write of a held- file) is a clean JET_errDiskIO, dest's old state whole, no held file left", function()
    local dir, set, old = live_after_set(w)
    local before = H.restored_keys(w, H.copy_dir(old, w:path("probe")))
    -- the events of a restore that succeeds: which are writes of held copies
    local trace = w:path("trace")
    local code, out, err = H.lua_child(RESTORE_CHILD, { set, H.copy_dir(old, w:path("d0")), dir },
                                       "ESE_FAULT_TRACE=" .. H.q(trace))
    assert.are.equal(0, code, err)
    assert.matches("RESTORED", out)
    local held = {}
    for line in assert(H.read_file(trace)):gmatch("[^\n]+") do
      local k, kind, name = line:match("^(%d+) (%S+) %S+ %S+ (.*)$")
      if kind == "write" and name:match("held%-") then held[#held + 1] = tonumber(k) end
    end
    assert.is_true(#held >= 3, "the restore held the live generations: " .. #held .. " writes")
    for i, k in ipairs({ held[1], held[#held] }) do
      local dest = H.copy_dir(old, w:path("d" .. i))
      code, out, err = H.lua_child(RESTORE_CHILD, { set, dest, dir }, "ESE_FAULT=eio:" .. k)
      assert.are.equal(0, code, err)
      assert.matches("^FAILED JET_errDiskIO .*cannot be written", out)
      assert.is_false(H.exists(dest .. "/.ese-fetch"), "the fetch folder went")
      -- the old state is whole: nothing was cleared before the hold failed
      assert.are.same(before, H.restored_keys(w, dest))
    end
  end)

  -- restore.c's note_skipped and lua_check.c's note_db note a database the
  -- logs create or attach; each allocation there (and every other realloc
  -- and strdup of the steps) fails in turn in the C harness oom_paths.
  it("a realloc or strdup that fails in a restore's steps (note_skipped among them) or in file_info(log, true) " ..
     "(note_db among them) is JET_errOutOfMemory, nothing clean left, no leak; no failure swallowed (C harness " ..
     "spec/c/oom_paths.c)", function()
    local dir = w:path("live")
    local ct, cs, _, ci = w:table_at(dir, "app.edb", { log_file_size = 64 })
    H.fill(ct, 5, "base")
    local set = w:path("set")
    require("ese.backup").run(ci, set)
    local odb = cs:create_database(dir .. "/other.edb")
    local ot = cs:create_table(odb, "t")
    H.fill(ot, 3, "o")
    ot:close()
    H.fill(ct, 3, "after")
    ct:close()
    cs:end_session()
    ci:term({ complete = true })
    -- a log whose records create or attach databases: other.edb's creation
    local log, ndb
    for name in pairs(H.log_files(dir)) do
      local dbs = ese.file_info(dir .. "/" .. name, true).databases
      for _, d in ipairs(dbs) do
        if d.path:match("other%.edb$") then log, ndb = dir .. "/" .. name, #dbs end
      end
    end
    assert.is_truthy(log, "a live log creates other.edb")
    local root = w:path("dests")
    assert(os.execute("mkdir " .. H.q(root)))
    local ok, out = H.run_harness("oom_paths", table.concat({ H.q(set), H.q(dir), H.q(root), H.q(log), ndb }, " "),
      "GLIBC_TUNABLES=glibc.malloc.tcache_count=0 MALLOC_ARENA_MAX=1 ESE_FAULT_COUNT=" .. H.q(w:path("count")))
    assert.is_true(ok, out)
    assert.matches("oom_paths: ok", out)
    -- was: file_info's 3rd failure (log_read_header's) said JET_errDatabaseCorrupted, "not a valid database"
    -- the sweep went past allocations: each operation met failures before it ran whole
    assert.is_true(tonumber(out:match("restore: (%d+) tries")) > 1, out)
    assert.is_true(tonumber(out:match("file_info: (%d+) tries")) > ndb, out)
  end)

  it("file_info(log, true) reads the log once: its checks and its databases from one read (was: twice, I/O of " ..
     "twice the file); a compressed log's databases are the plain one's", function()
    if not H.thread_io("rchar") then pending("no /proc/thread-self/io") return end
    local dir = w:path("live")
    local ct, cs, _, ci = w:table_at(dir, "app.edb", { log_file_size = 1024 })
    local odb = cs:create_database(dir .. "/other.edb")
    H.fill(ct, 3, "k")
    ct:close()
    odb:close()
    cs:detach_database(dir .. "/other.edb")
    cs:end_session()
    ci:term({ complete = true })
    local log = dir .. "/edb.log"
    local size = H.file_size(log)
    assert.is_true(size >= 1024 * 1024)
    local before = H.thread_io("rchar")
    local info = ese.file_info(log, true)
    local read = H.thread_io("rchar") - before
    assert.is_true(read < size * 3 // 2, ("file_info(log, true) read %d bytes of a %d-byte log"):format(read, size))
    local paths = {}
    for i, d in ipairs(info.databases) do paths[i] = H.basename(d.path) .. " " .. d.how end
    assert.are.same({ "app.edb created", "other.edb created" }, paths)
    -- the same log compressed: the same databases, from one decode (under its own name: a numbered
    -- name's NAME.zst is a closed generation, which must end in its end record, endrule18)
    local zlog = w:path("edb.log.zst")
    H.write_zst(zlog, H.read_file(log))
    local zinfo = ese.file_info(zlog, true)
    assert.is_true(zinfo.compressed)
    assert.are.same(info.databases, zinfo.databases)
  end)

  -- The bytes each write event of a trace (ESE_FAULT_TRACE) wrote, by the
  -- file's name; and the number of events.
  local function written(trace)
    local by, n = {}, 0
    for line in assert(H.read_file(trace)):gmatch("[^\n]+") do
      local k, kind, bytes, name = line:match("^(%d+) (%S+) (%S+) %S+ (.*)$")
      if k then
        n = math.max(n, tonumber(k))
        if kind == "write" then by[name] = (by[name] or 0) + tonumber(bytes) end
      end
    end
    return by, n
  end

  it("restore with overwrite and live_log_path writes each held live generation once: held in .ese-fetch, then " ..
     "renamed into place (was: written again by the copy); a kill at any event leaves each such generation in " ..
     "dest whole or absent, and a restore after it succeeds", function()
    local dir, set, old = live_after_set(w)
    local trace = w:path("trace")
    local dest = H.copy_dir(old, w:path("d0"))
    local code, out, err = H.lua_child(RESTORE_CHILD, { set, dest, dir }, "ESE_FAULT_TRACE=" .. H.q(trace))
    assert.are.equal(0, code, err)
    assert.matches("RESTORED", out)
    local by, events = written(trace)
    local held = 0
    for name, bytes in pairs(by) do
      local gen = name:match("^held%-(.*)$")
      if gen then
        held = held + 1
        local size = H.file_size(dir .. "/" .. gen)
        assert.are.equal(size, bytes, name)
        -- was: the copy into place wrote the generation again
        assert.is_nil(by[gen], gen .. " written again by the copy")
        assert.are.equal(H.read_file(dir .. "/" .. gen), H.read_file(dest .. "/" .. gen))
      end
    end
    assert.is_true(held >= 3, "live generations held: " .. held)
    local keys = H.restored_keys(w, dest)
    assert.are.equal(5, H.count_prefix(keys, "base"))
    assert.is_true(H.count_prefix(keys, "later") > 0)
    -- killed at each event: a generation of the live folder in dest is the
    -- live one byte for byte, or absent
    for k = 1, events do
      local d = H.copy_dir(old, w:path("k" .. k))
      code = H.lua_child(RESTORE_CHILD, { set, d, dir }, "ESE_FAULT=crash:" .. k)
      assert.are_not.equal(0, code, "killed at event " .. k)
      for name in pairs(H.log_files(dir)) do
        if name ~= "edb.log" and H.exists(d .. "/" .. name) then
          assert.is_true(H.read_file(d .. "/" .. name) == H.read_file(dir .. "/" .. name),
            ("killed at event %d: %s in dest is not the live generation"):format(k, name))
        end
      end
    end
    local d = w:path("k" .. events)
    code, out, err = H.lua_child(RESTORE_CHILD, { set, d, dir })
    assert.are.equal(0, code, err)
    assert.matches("RESTORED", out)
    assert.are.same(keys, H.restored_keys(w, d))
  end)
end)
