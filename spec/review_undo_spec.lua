-- Hostile review of the undo of pending tree pages (pager_write_ranges,
-- undo_onto, pre_whole, pager_discard_pending) and of checksums at write
-- time: a commit that fails after it changed pages, the instance running
-- on, then reads, more commits, a crash and recovery, a clean term and a
-- verified file_info.  Each transaction changes the same leaf several
-- ways (a gap insert: undo records; a replace changing size, a delete:
-- whole copies built from the undo; inserts that split it; a long value).
-- Found: a commit that failed after its writes were applied (the pages
-- discarded) had already numbered itself as a commit for isolation (the
-- before images kept, commit_seq bumped): an open transaction then got
-- JET_errWriteConflict for a key no commit changed (txn.c, table.c,
-- isolation.c now keep the versions only once db_commit_pending logged it).
local H = require "support.helpers"
local ese = require "ese"

-- One transaction of many kinds of change on the leaf of k00001..; the
-- changes it made, applied to a copy of model (kept only if it commits).
-- A chunk of source: the disk-full child runs it too.
local MIXED = [[
return function(t, i, model)
  local m = {}
  for k, v in pairs(model) do m[k] = v end
  local function put(k, v) t:put(k, v); m[k] = v end
  local function del(k) t:delete(k); m[k] = nil end
  put(("k00001_%04d"):format(i), "gap")                          -- a gap insert
  put("k00002", ("r"):rep(100 + (i * 37) % 700))                 -- a replace changing size
  if m[("k00001_%04d"):format(i - 1)] then del(("k00001_%04d"):format(i - 1)) end
  for j = 1, 12 do put(("k00003_%04d_%02d"):format(i, j), ("s"):rep(300)) end   -- a split
  put(("k00004_%04d"):format(i), ("L"):rep(7000))                -- a long value
  return m
end
]]
local mixed = assert(load(MIXED))()

-- The keys where got differs from want, "" when none (short messages).
local function diff(want, got)
  local d = {}
  for k, v in pairs(want) do
    if got[k] ~= v then d[#d + 1] = ("%s: want %s, got %s"):format(k, #v, got[k] and #got[k] or "none") end
  end
  for k, v in pairs(got) do if want[k] == nil then d[#d + 1] = ("%s: want none, got %d"):format(k, #v) end end
  table.sort(d)
  return table.concat(d, "; ")
end

-- A second session of inst on the table "t" of app.edb: s2, t2.
local function reader(w, inst)
  local s2 = inst:begin_session()
  return s2, s2:open_table(s2:open_database(w:path("app.edb")), "t")
end

-- Runs step(i, model) -> the model after it, for i = 1, 2, ... until one
-- raises; before each, s2 begins a snapshot that must read model's k00002
-- (rolled back after a step that succeeded, left open after the failed
-- one).  Returns the model of the last step that succeeded and the error.
local function until_log_full(s2, t2, model, step)
  for i = 1, 1000 do
    s2:begin_transaction()
    assert.are.equal(model.k00002, t2:get("k00002"))
    local ok, m = pcall(step, i, model)
    if not ok then return model, m end
    model = m
    s2:rollback()
  end
  error("the log never filled")
end

describe("review: a failed commit of a transaction changing one leaf many ways", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("(JET_errLogSequenceEnd) leaves every record, recovers the next commit after a crash, verifies", function()
    local t, s, _, inst2 = w:at_last_generation(5)
    local model = H.contents(t)
    local failed
    for i = 1, 1000 do
      s:begin_transaction()
      local m = mixed(t, i, model)
      local ok, e = pcall(s.commit_transaction, s)
      if not ok then failed = e break end
      model = m
    end
    assert.is_not_nil(failed, "the log never filled")
    assert.are.equal("JET_errLogSequenceEnd", failed.name)
    assert.are.equal("", diff(model, H.contents(t)))
    local ok, e = pcall(t.put, t, "k00002", "late")
    assert.is_true(ok, tostring(e))
    model.k00002 = "late"
    assert.are.equal("", diff(model, H.contents(t)))
    inst2:term()                                  -- a crash: recovery replays it
    local ok2, t2 = pcall(w.reopen, w, { log_file_size = 64 })
    assert.is_true(ok2, tostring(t2))
    assert.are.equal("", diff(model, H.contents(t2)))
  end)

  it("(JET_errLogSequenceEnd) leaves an open transaction's snapshot and writes as if it never was", function()
    local t, s, _, inst2 = w:at_last_generation(5)
    local s2, t2 = reader(w, inst2)
    local model, failed = until_log_full(s2, t2, H.contents(t), function(i, model)
      s:begin_transaction()
      local m = mixed(t, i, model)
      s:commit_transaction()
      return m
    end)
    assert.are.equal("JET_errLogSequenceEnd", failed.name)
    -- the snapshot of s2, begun before the failed commit: the records as they are
    assert.are.equal("", diff(model, H.contents(t2)))
    -- no commit changed k00002 since s2 began: its write is no conflict
    local ok, e = pcall(t2.put, t2, "k00002", "s2")
    assert.is_true(ok, tostring(e))
    s2:commit_transaction()
    model.k00002 = "s2"
    assert.are.equal("", diff(model, H.contents(t)))
    inst2:term()
    local t3 = w:reopen({ log_file_size = 64 })
    assert.are.equal("", diff(model, H.contents(t3)))
  end)

  it("(JET_errLogSequenceEnd, a put outside a transaction) is no conflict for an open transaction", function()
    local t, _, _, inst2 = w:at_last_generation(5)
    local s2, t2 = reader(w, inst2)
    local model, failed = until_log_full(s2, t2, H.contents(t), function(i, model)
      local v = ("p"):rep(7000 + i)
      t:put("k00002", v)
      model.k00002 = v
      return model
    end)
    assert.are.equal("JET_errLogSequenceEnd", failed.name)
    assert.are.equal(model.k00002, t2:get("k00002"))
    local ok, e = pcall(t2.put, t2, "k00002", "s2")
    assert.is_true(ok, tostring(e))
    s2:rollback()   -- (its commit may not fit the last log file: the failed one's records took it)
    assert.are.equal("", diff(model, H.contents(t)))
    inst2:term()
    assert.are.equal("", diff(model, H.contents((w:reopen({ log_file_size = 64 })))))
  end)

  it("(JET_errVersionStoreOutOfMemory) leaves every record, recovers after a crash, verifies", function()
    local t, s, _, inst = w:table({ log_file_size = 64, max_ver_pages = 4 })
    H.fill(t, 5)
    local model = H.contents(t)
    local failed
    for i = 1, 200 do
      s:begin_transaction()
      local ok, e = pcall(function()
        local m = mixed(t, i, model)
        for j = 1, i * 4 do
          local k = ("k00005_%04d_%03d"):format(i, j)
          t:put(k, ("v"):rep(900))
          m[k] = ("v"):rep(900)
        end
        s:commit_transaction()
        return m
      end)
      if not ok then failed = e pcall(s.rollback, s) break end
      model = e
    end
    assert.is_not_nil(failed, "the version store never filled")
    assert.are.equal("JET_errVersionStoreOutOfMemory", failed.name)
    assert.are.equal("", diff(model, H.contents(t)))
    t:put("k00002", "late")
    model.k00002 = "late"
    inst:term()
    local t2, _, _, inst2 = w:reopen({ log_file_size = 64 })
    assert.are.equal("", diff(model, H.contents(t2)))
    inst2:term({ complete = true })
    local ok, e = pcall(ese.file_info, w:path("app.edb"), true)
    assert.is_true(ok, tostring(e))
  end)
  it("(disk full in the apply or at commit) leaves every record for reads, recovers after the stop, verifies",
     function()
    local child = [[
local ese = require "ese"
local dir, mixed_src = arg[1], arg[2]
local mixed = assert(load(mixed_src))()
local inst = ese.create_instance("df", { system_path = dir, log_path = dir, log_file_size = 64,
                                         cache_size = 16 * 32768, dw_size = 128 * 1024 })
inst:init()
local s = inst:begin_session()
local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
for i = 1, 5 do t:put(("k%05d"):format(i), ("x"):rep(500)) end
local function contents()
  local r = {}
  for k, v in t:pairs() do r[k] = v end
  return r
end
local model = contents()
local failed, tried
for i = 1, 2000 do
  tried = nil
  local ok, e = pcall(function()
    s:begin_transaction()
    tried = mixed(t, i, model)
    s:commit_transaction()
  end)
  if not ok then failed = e break end
  model = tried
end
print("FAILED " .. tostring(failed and failed.name) .. " " .. tostring(failed))
local okr, now = pcall(contents)
local same = okr
for k, v in pairs(okr and model or {}) do if now[k] ~= v then same = false end end
for k in pairs(okr and now or {}) do if model[k] == nil then same = false end end
print("READS " .. (same and "same" or okr and "differ" or now.name))
for name, m in pairs({ model = model, tried = tried or model }) do
  local f = assert(io.open(dir .. "/" .. name .. ".lua", "w"))
  f:write("return {\n")
  for k, v in pairs(m) do f:write(("[%q] = %q,\n"):format(k, v)) end
  f:write("}\n")
  f:close()
end
inst:term()
]]
    for space = 900000, 2100000, 120000 do   -- the stop at several points
    w:cleanup()
    w = H.world()
    local code, out, err = H.lua_child(child, { w.dir, MIXED }, "ESE_FAULT=space:" .. space)
    assert.are.equal(0, code, out .. err)
    assert.truthy(out:match("FAILED JET_err"), out)
    -- reads after it: as before, or refused (the instance stopped)
    assert.truthy(out:match("READS same") or out:match("READS JET_errInstanceUnavailable"), out)
    -- exactly the commits that returned: a commit whose record reached
    -- the log answers success even when the page writes after it (the
    -- cache's trim, a checkpoint) find the disk full; before, it answered
    -- JET_errDiskFull and recovery brought it back (18 of 21 limits)
    local model = dofile(w:path("model.lua"))
    local t, _, _, inst = w:reopen({ log_file_size = 64 })
    local got = H.contents(t)
    assert.are.equal("", diff(model, got))
    t:put("k00002", "late")
    model.k00002 = "late"
    inst:term()
    local t2, _, _, inst2 = w:reopen({ log_file_size = 64 })
    assert.are.equal("", diff(model, H.contents(t2)))
    inst2:term({ complete = true })
    local ok, e = pcall(ese.file_info, w:path("app.edb"), true)
    assert.is_true(ok, tostring(e))
    end
  end)
end)
