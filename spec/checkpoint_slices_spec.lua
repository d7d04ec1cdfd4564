-- The backup's checkpoints in slices (issue 13): EseBackupStep
-- (inst:backup_step) and Begin's stepwise option, their errors, and the
-- invariant that makes the slices safe: commits between two slices (pages
-- written by an earlier slice changed again, pages not yet written
-- changed) and a crash right after the checkpoint file was written lose
-- nothing (soft recovery replays from the sliced checkpoint's position).
local ese = require "ese"
local H = require "support.helpers"

-- The child: a database of 60,000 records, a stepwise backup whose two
-- checkpoints (Begin's and the cut-off's) run one slice per call with
-- random updates committed between every two slices, then the process dies
-- (no term: the cache is lost).  It writes the value every key must have
-- to EXPECT (one "key value" per line) and prints the slices it made.
local CHILD = [[
  local ese = require "ese"
  local dir, expect = arg[1], arg[2]
  local inst = ese.create_instance("slices", { system_path = dir, log_path = dir, log_file_size = 1024,
                                              checkpoint_depth = 1 << 30 })
  inst:init()
  local s = inst:begin_session()
  local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
  local model, seq = {}, 0
  local function put_random(n, tag)
    s:begin_transaction()
    for _ = 1, n do
      seq = seq + 1
      local k = ("%08x"):format((seq * 2654435761) % 60000)
      local v = tag .. seq .. ("v"):rep(150)
      t:put(k, v)
      model[k] = v
    end
    s:commit_transaction()
  end
  for i = 0, 59999 do model[("%08x"):format(i)] = "a" end
  for i = 0, 59999, 10000 do
    s:begin_transaction()
    for j = i, i + 9999 do t:put(("%08x"):format(j), "a") end
    s:commit_transaction()
  end
  put_random(30000, "load")                -- every page dirty, none written yet
  inst:begin_external_backup({ stepwise = true })
  local slices = 0
  while inst:backup_step() do slices = slices + 1; put_random(300, "b") end
  put_random(20000, "mid")                 -- dirty again for the cut-off
  while inst:backup_step({ cutoff = true }) do slices = slices + 1; put_random(300, "c") end
  inst:get_log_info()
  put_random(500, "after")                 -- committed after the checkpoint: replayed from the log
  local f = assert(io.open(expect, "w"))
  for k, v in pairs(model) do f:write(k, " ", v, "\n") end
  f:close()
  print("slices " .. slices)
  os.exit(0, false)
]]

describe("the backup's checkpoints in slices (EseBackupStep, issue 13)", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("commits between the slices and a crash after the checkpoint: recovery has every committed value", function()
    local dir, expect = w:path("live"), w:path("expect")
    assert(os.execute("mkdir -p " .. H.q(dir)))
    local code, out, err = H.lua_child(CHILD, { dir, expect })
    assert.are.equal(0, code, out .. err)
    local slices = tonumber(out:match("slices (%d+)"))
    assert.is_true(slices and slices >= 6, out)   -- the checkpoints came in slices, commits between them
    local inst = w:track(ese.create_instance(H.name("r"), { system_path = dir, log_path = dir, log_file_size = 1024 }))
    inst:init()
    local t, s = H.open_table(inst, dir, "app.edb")
    local want, n = {}, 0
    for line in io.lines(expect) do
      local k, v = line:match("^(%S+) (%S+)$")
      want[k] = v
      n = n + 1
    end
    assert.are.equal(60000, n)
    local got = 0
    for k, v in t:pairs() do
      assert.are.equal(want[k], v, "key " .. k)
      got = got + 1
    end
    assert.are.equal(60000, got)
    t:close(); s:end_session(); inst:term({ complete = true })
  end)

  describe("errors", function()
    local t, s, inst, _
    before_each(function()
      t, s, _, inst = w:table({ log_file_size = 256 })
      for i = 1, 200 do t:put(("k%04d"):format(i), ("v"):rep(100)) end
    end)

    it("without a backup: JET_errNoBackup", function()
      H.expect_jet("JET_errNoBackup", inst.backup_step, inst)
      H.expect_jet("JET_errNoBackup", inst.backup_step, inst, { cutoff = true })
    end)

    it("an unknown bit: JET_errInvalidGrbit; an unknown option: a Lua argument error", function()
      inst:begin_external_backup({ stepwise = true })
      H.expect_jet("JET_errInvalidGrbit", inst.backup_step, inst, 0x100)
      H.expect_argerror("unknown option", inst.backup_step, inst, { sliced = true })
      inst:end_external_backup({ abort = true })
    end)

    it("the cut-off with a reader open: JET_errInvalidBackupSequence; after it a database no longer opens", function()
      inst:begin_external_backup({ stepwise = true })
      while inst:backup_step() do end
      local path = inst:get_attach_info()[1]
      local r = inst:open_file(path)
      H.expect_jet("JET_errInvalidBackupSequence", inst.backup_step, inst, { cutoff = true })
      r:close()
      inst:backup_step({ cutoff = true })      -- the log rolls here
      -- a database streamed after the cut-off would be newer than the set's logs
      H.expect_jet("JET_errInvalidBackupSequence", inst.open_file, inst, path)
      H.expect_jet("JET_errNoBackup", inst.backup_step, inst)   -- that ended the backup
    end)

    it("after stop_backup: JET_errBackupAbortByServer", function()
      inst:begin_external_backup({ stepwise = true })
      inst:stop_backup()
      H.expect_jet("JET_errBackupAbortByServer", inst.backup_step, inst)
      H.expect_jet("JET_errBackupAbortByServer", inst.end_external_backup, inst)   -- and it ends
    end)

    it("after the log list nothing is pending; a stepwise backup left unstepped is whole all the same", function()
      s:begin_transaction()
      for i = 1, 200 do t:put(("m%04d"):format(i), ("w"):rep(100)) end
      s:commit_transaction()
      -- Begin only starts its checkpoint; no step is taken before the copy
      inst:begin_external_backup({ stepwise = true })
      local set = w:path("set")
      assert(os.execute("mkdir -p " .. H.q(set)))
      for _, p in ipairs(inst:get_attach_info()) do H.stream(inst, p, set) end
      local logs = inst:get_log_info()    -- the cut-off's checkpoint, whole, here
      assert.is_false(inst:backup_step({ cutoff = true }))
      assert.is_false(inst:backup_step())
      for _, p in ipairs(logs) do H.stream(inst, p, set) end
      inst:end_external_backup()
      local restored = w:path("restored")
      ese.restore(set, restored)
      local keys = H.restored_keys(w, restored)
      assert.is_truthy(keys["k0200"] and keys["m0200"])
    end)
  end)
end)
