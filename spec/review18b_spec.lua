-- Session 18's second read of its own change: paths it added that no spec
-- drove.
local H = require "support.helpers"
local ese = require "ese"
local backup = require "ese.backup"

describe("ese.restore's parent_timeline", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  local function a_set()
    local t, _, _, inst = w:table()
    t:put("k", "v")
    backup.run(inst, w:path("set"))
    inst:term({ complete = true })
    return w:path("set")
  end

  it("is 32 hex digits: anything else is an argument error before dest is made", function()
    local set = a_set()
    for _, bad in ipairs({ "", ("a"):rep(31), ("a"):rep(33), ("g"):rep(32), " " .. ("a"):rep(31),
                           "+" .. ("a"):rep(31), "0x" .. ("a"):rep(30), 42, true }) do
      local ok, err = pcall(ese.restore, set, w:path("d"), { parent_timeline = bad })
      assert.is_false(ok, tostring(bad))
      assert.matches("parent_timeline must be 32 hexadecimal digits", tostring(err), 1, true)
      assert.are.equal("absent", ese.fs.stat(w:path("d")).kind)
    end
  end)

  it("given, it is the parent of the timeline the restore starts (in either case; read back in lowercase)",
     function()
    local set = a_set()
    local parent = "0123456789ABCDEFfedcba9876543210"
    ese.restore(set, w:path("d"), { parent_timeline = parent })
    local inst = w:track(ese.create_instance(H.name("r"), H.params(w:path("d"))))
    inst:init()
    inst:begin_external_backup()
    local _, info = inst:get_log_info()
    inst:end_external_backup({ abort = true })
    assert.are.equal(parent:lower(), info.timeline_parent)
    assert.matches("^%x+$", info.timeline)
    assert.are.equal(32, #info.timeline)
    assert.are.equal(info.timeline:lower(), info.timeline)
    inst:term({ complete = true })
  end)
end)

describe("ese.verify_pages' copy signature", function()
  it("is 32 hex digits: a sign, a space or 0x is an argument error (sscanf took them before)", function()
    local page = ("\0"):rep(8192)
    for _, bad in ipairs({ ("a"):rep(31), "+" .. ("a"):rep(31), " " .. ("a"):rep(31), "0x" .. ("a"):rep(30) }) do
      local ok, err = pcall(ese.verify_pages, "x.edb", page, 0, 8192, 8192, bad)
      assert.is_false(ok, bad)
      assert.matches("a signature of 32 hex digits", tostring(err), 1, true)
    end
  end)
end)

describe("a restore's timeline and the archive's new folder, when their writes fail", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  local RESTORE = [[
    local ese = require "ese"
    local ok, e = pcall(ese.restore, arg[1], arg[2])
    if ok then print("RESTORED") else print("FAILED " .. tostring(e.name) .. " " .. tostring(e.detail)) end
  ]]

  local function a_set(extra)
    local t, _, _, inst = w:table(extra)
    t:put("k", "v")
    backup.run(inst, w:path("set"))
    inst:term({ complete = true })
    return w:path("set")
  end

  -- ESE_FAULT=synceio:1:NAME: the sync of the temporary file the atomic
  -- write of NAME makes fails (EIO)
  it("writing edb.tl fails (EIO): the restore fails with JET_errDiskIO naming it, never a success without it",
     function()
    local set = a_set()
    local code, out, err = H.lua_child(RESTORE, { set, w:path("d") }, "ESE_FAULT=synceio:1:edb.tl.tmp")
    assert.are.equal(0, code, err)
    assert.matches("^FAILED JET_errDiskIO writing edb%.tl", out)
    assert.is_false(H.exists(w:path("d") .. "/edb.tl"))
    code, out, err = H.lua_child(RESTORE, { set, w:path("d2") })
    assert.are.equal(0, code, err)
    assert.matches("RESTORED", out)
    assert.is_true(H.exists(w:path("d2") .. "/edb.tl"))
  end)

  it("recording a new archive folder in edb.arc fails (EIO): said in last_error; the generations still ship there",
     function()
    local dest = w:path("dest")
    ese.restore(a_set({ log_file_size = 64 }), dest)
    local child = [[
      local ese = require "ese"
      local inst = ese.create_instance("c", { system_path = arg[1], log_path = arg[1], log_file_size = 64,
                                              archive_path = arg[2], archive_timeout = 0 })
      inst:init()
      print("LAST " .. tostring(inst:archive_status().last_error))
      for _ = 1, 200 do   -- the generation the restore left ships (up to 10 s; its progress, in the
        local f = io.open(arg[2] .. "/edb00000001.log")   -- failing edb.arc, is not recorded)
        if f then f:close() break end
        os.execute("sleep 0.05")
      end
      local s = inst:begin_session()
      s:attach_database(arg[1] .. "/app.edb")
      s:end_session()
      inst:term({ complete = true })
    ]]
    local code, out, err = H.lua_child(child, { dest, w:path("arc") }, "ESE_FAULT=synceio:1:edb.arc.tmp")
    assert.are.equal(0, code, err)
    assert.matches("recording a new archive folder in it failed (JET_errDiskIO)", out, 1, true)
    assert.is_true(next(H.log_files(w:path("arc"))) ~= nil, "the new folder got generations")
  end)
end)

describe("ese.file_info of a log", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- Before: the attach table came from a second open and read of the
  -- header (check_log_header_databases), and not for a compressed log.
  it("reads its 4 KiB header once, attach_table included; a compressed log lists the same attach_table", function()
    if not H.thread_io("rchar") then pending("no /proc/thread-self/io") return end
    local t, _, _, inst = w:table({ log_file_size = 64 })
    H.roll(t, w.dir, 1, "k")   -- edb.log now begins with the database attached
    local log = w:path("copy.log")   -- a copy: the instance may write on
    H.write_file(log, H.read_file(w.dir .. "/edb.log"))
    inst:term({ complete = true })
    local before = H.thread_io("rchar")
    local info = ese.file_info(log)
    local read = H.thread_io("rchar") - before
    assert.are.equal(1, #info.attach_table)
    assert.are.equal(info.attached, #info.attach_table)
    assert.is_true(read < 4096 * 3 // 2, ("file_info(log) read %d bytes: its header twice?"):format(read))
    local zlog = w:path("copy.log.zst")
    H.write_zst(zlog, H.read_file(log))
    assert.are.same(info.attach_table, ese.file_info(zlog).attach_table)
    assert.are.same(info.attach_table, ese.file_info(zlog, true).attach_table)
  end)
end)
