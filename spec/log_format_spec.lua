-- Log format 5 refuses the files of log formats 2, 3 and 4 (spec/fixtures/v2,
-- v3 and v4, made by the engine before formats 3, 4 and 5):
-- JET_errBadLogVersion (-514) with a detail that says what to do, from
-- every reader of logs, and nothing written.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

local PARAMS = { log_file_size = 64, page_size = 4096 }

-- Every file under dir (relative name -> bytes).
local function tree(dir, into, prefix)
  into, prefix = into or {}, prefix or ""
  for _, name in ipairs(ese.fs.list(dir)) do
    local p = dir .. "/" .. name
    if ese.fs.stat(p).kind == "folder" then tree(p, into, prefix .. name .. "/")
    else into[prefix .. name] = assert(H.read_file(p)) end
  end
  return into
end

local function expect_refusal(e)
  assert.are.equal(-514, e.code)
  assert.matches("shut down cleanly with the version that wrote it", e.detail or "", 1, true)
  assert.matches("set its logs, checkpoint and double-write ring (B.dwb) aside", e.detail or "", 1, true)
end

for _, v in ipairs({ 2, 3, 4 }) do
local FIXTURES = "spec/fixtures/v" .. v
describe("log format " .. v .. " is refused (JET_errBadLogVersion, -514), nothing written", function()
  local w, copy, before
  before_each(function()
    w = H.world()
    copy = H.copy_dir(FIXTURES, w:path("v" .. v))
    before = tree(copy)
  end)
  after_each(function()
    assert.are.same(before, tree(copy), "the files are byte for byte as they were")
    w:cleanup()
  end)

  for _, kind in ipairs({ "crashed", "clean" }) do
    it("init (soft recovery) of a " .. kind .. " instance folder of format " .. v, function()
      local dir = copy .. "/" .. kind
      local inst = w:track(ese.create_instance(H.name(), H.params(dir, PARAMS)))
      local e = H.expect_jet("JET_errBadLogVersion", inst.init, inst)
      expect_refusal(e)
      assert.are.equal("init", e.op)
      H.expect_jet("JET_errNotInitialized", inst.begin_session, inst)
    end)
  end

  -- checkpoints of format 4 serve log formats 3, 4 and 5 alike: with the
  -- logs of format 3 or 4 gone, the one left needs a log that is not there
  it("init with only the checkpoint of format " .. v .. " left (its logs set aside, not it)", function()
    local dir = copy .. "/clean"
    os.remove(dir .. "/edb.log")
    before["clean/edb.log"] = nil
    local inst = w:track(ese.create_instance(H.name(), H.params(dir, PARAMS)))
    if v == 2 then expect_refusal(H.expect_jet("JET_errBadLogVersion", inst.init, inst))
    else H.expect_jet("JET_errMissingLogFile", inst.init, inst) end
  end)

  it("the remedy: logs and checkpoint set aside, init starts a new stream of format 5", function()
    local dir = copy .. "/clean"
    for _, name in ipairs({ "edb.log", "edb.chk", "edb.dwb" }) do
      if before["clean/" .. name] then   -- v2 predates the ring
        assert(os.rename(dir .. "/" .. name, copy .. "/aside-" .. name))
        before["aside-" .. name], before["clean/" .. name] = before["clean/" .. name], nil
      end
    end
    local inst = w:track(ese.create_instance(H.name(), H.params(dir, PARAMS)))
    inst:init()
    inst:term({ complete = true })
    local fi = ese.file_info(dir .. "/edb.log", true)
    assert.are.equal("log", fi.kind)
    assert.are.equal(1, fi.generation)
    assert.are.equal("\0\5", assert(H.read_file(dir .. "/edb.log")):sub(11, 12))
    before = tree(copy)   -- this one writes, on purpose
  end)

  -- The set's database copy (v2: of database format 1, refused on its own
  -- with JET_errInvalidDatabaseVersion); its logs alone, as an incremental
  -- set without manifest, are the logs' refusal.
  local function logs_only()
    for _, name in ipairs({ "app.edb", "manifest.json" }) do
      assert(os.remove(copy .. "/backup/" .. name))
      before["backup/" .. name] = nil
    end
    return copy .. "/backup"
  end

  it("ese.restore and backup.restore of a streamed set of format " .. v .. ": dest never made", function()
    for _, restore in ipairs({ ese.restore, backup.restore }) do
      local e = H.catch(restore, copy .. "/backup", w:path("dest"))
      assert.is_truthy(e.code == -514 or e.code == -1209, tostring(e))
      assert.are.equal("absent", ese.fs.stat(w:path("dest")).kind)
    end
    local set = logs_only()
    expect_refusal(H.expect_jet("JET_errBadLogVersion", ese.restore, set, w:path("dest")))
    assert.are.equal("absent", ese.fs.stat(w:path("dest")).kind)
    expect_refusal(H.expect_jet("JET_errBadLogVersion", backup.restore, set, w:path("dest2")))
    assert.are.equal("absent", ese.fs.stat(w:path("dest2")).kind)
  end)

  it("backup.verify of the set, ese.file_info of each log (with and without verify)", function()
    expect_refusal(H.expect_jet("JET_errBadLogVersion", backup.verify, logs_only()))
    -- (the backup of v4 began at a checkpoint: its one log is generation 2)
    local set_log = v == 4 and "backup/edb00000002.log" or "backup/edb00000003.log"
    for _, p in ipairs({ "crashed/edb.log", "crashed/edb00000001.log", set_log }) do
      expect_refusal(H.expect_jet("JET_errBadLogVersion", ese.file_info, copy .. "/" .. p))
      expect_refusal(H.expect_jet("JET_errBadLogVersion", ese.file_info, copy .. "/" .. p, true))
    end
  end)

  it("ese logs, ese check (set and file) and ese info: exit 1 naming JET_errBadLogVersion", function()
    for _, args in ipairs({ { "logs", copy .. "/crashed" }, { "check", logs_only() },
                            { "check", copy .. "/crashed/edb.log" }, { "info", copy .. "/clean/edb.log" } }) do
      local code, _, err = H.lua_run("bin/ese", args)
      assert.are.equal(1, code, table.concat(args, " "))
      assert.matches("JET_errBadLogVersion (-514)", err, 1, true)
      assert.matches("shut down cleanly", err, 1, true)
    end
  end)
end)
end

-- Log format 5 files made before feature bit 0 (LR_UNLINK and LR_FREEPAGE,
-- emptied tree pages freed) are a subset of what this version writes: it
-- reads them (spec/fixtures/v5, made by the engine before the bit), and
-- never appends to one: recovery rolls to a new generation, which has the
-- bit, before the first record, so that a version without the bit, which
-- refuses a header with it (JET_errBadLogVersion), reads every file it
-- accepts whole.
describe("log format 5 without feature bit 0 (spec/fixtures/v5) is read", function()
  local w, copy
  before_each(function()
    w = H.world()
    copy = H.copy_dir("spec/fixtures/v5", w:path("v5"))
  end)
  after_each(function() w:cleanup() end)

  local LR = require "support.log_records"
  local function features(path) return string.unpack("<I4", assert(H.read_file(path)), 57) end
  -- the feature bits this version sets: 0 (types 15, 16), 1 (long values' pages freed), 2 (slot-only tail),
  -- 3 (records' CRCs seeded with the signature and the generation), 4 (attach and detach records carry
  -- the database's clean point), 5 (a roll closes a generation with its end record, LR_END)
  local NOW = 63

  -- The log files of dir: name -> features, and the record types 15 and 16 each holds.
  local function logs(dir)
    local out = {}
    for name in pairs(H.ls(dir)) do
      if name:match("^edb.*%.log$") and name ~= "edbtmp.log" then
        out[name] = { features = features(dir .. "/" .. name), frees = 0 }
      end
    end
    LR.each(dir, function(ty, _, _, name)
      if out[name] and (ty == 15 or ty == 16) then out[name].frees = out[name].frees + 1 end
    end)
    return out
  end

  for _, kind in ipairs({ "crashed", "clean" }) do
    it("init of the " .. kind .. " instance folder: the 150 records; deletes that free pages go to a new "
       .. "generation with the bit, none to the old file", function()
      local dir = copy .. "/" .. kind
      local before = logs(dir)
      for name, l in pairs(before) do assert.are.equal(0, l.features, name) end
      local inst = w:track(ese.create_instance(H.name(), H.params(dir, PARAMS)))
      inst:init()
      local t = H.open_table(inst, dir)
      assert.are.equal(150, t:count())
      assert.are.equal(("value-%04d-"):format(7) .. ("v"):rep(200), t:get("key-0007"))
      for i = 1, 140 do t:delete(("key-%04d"):format(i)) end
      inst:term({ complete = true })
      local after, frees = logs(dir), 0
      for name, l in pairs(after) do
        if l.features == 0 then assert.are.equal(0, l.frees, name .. " (no bit) holds records 15 or 16")
        else assert.are.equal(NOW, l.features, name) frees = frees + l.frees end
      end
      assert.is_true(frees >= 5, frees .. " LR_UNLINK / LR_FREEPAGE records")
      assert.are.equal(NOW, features(dir .. "/edb.log"))
      local t2 = H.open_table(w:open(nil, H.params(dir, PARAMS)), dir)
      assert.are.equal(10, t2:count())
    end)
  end

  it("ese.restore, backup.verify and ese.file_info of the streamed set", function()
    backup.verify(copy .. "/backup")
    assert.are.equal("log", ese.file_info(copy .. "/backup/edb00000001.log", true).kind)
    ese.restore(copy .. "/backup", w:path("dest"))
    local inst = w:track(ese.create_instance(H.name(), H.params(w:path("dest"), PARAMS)))
    inst:init()
    local t = H.open_table(inst, w:path("dest"))
    assert.are.equal(150, t:count())
    for i = 1, 150 do t:delete(("key-%04d"):format(i)) end
    assert.is_nil(t:first())
    inst:term({ complete = true })
    assert.are.equal(NOW, features(w:path("dest") .. "/edb.log"))
  end)
end)
