-- Hostile review of S6b (issue 9: splits logged as LR_NEWPAGE + LR_SPLIT +
-- LR_INSERT): a split-heavy workload (sequential, reverse and scattered
-- keys of 1 to 255 bytes, values at the inline maximum, long values whose
-- freed pages the free list hands to later splits, deletes), cut by
-- crashes, power cuts and torn writes at points spread over it; recovery
-- must give a state between the last durable commit and the one after the
-- last noted, and `ese check` must pass.  Then the same records replayed
-- twice (a soft recovery cut by a crash or torn write, run again), a full
-- backup read page by page while the writer splits pages (restored: the
-- state at the cut-off), and a full + incremental restore cut by crashes
-- and power cuts, then run again with overwrite.  No case failed on main
-- @6dfec33: these are coverage the S6b commit did not have.
local H = require "support.helpers"
local LV = require "support.lv_sweep"
local ese = require "ese"

-- REVIEW_NTX (commits), REVIEW_PTS (fault points per sweep) and REVIEW_PS
-- (page size) scale it up for a longer run; the defaults take about 10 s.
local NTX = tonumber(os.getenv("REVIEW_NTX") or "150")
local PS = tonumber(os.getenv("REVIEW_PS") or "4096")
local TXN = ([[
local function key(n)
  local r = n % 4
  if r == 0 then return ("z"):rep(250) .. ("%05d"):format(n) end            -- 255 bytes, ascending
  if r == 1 then return string.char(1 + (n * 37) % 200) end                 -- 1 byte
  if r == 2 then return ("r%05d"):format(100000 - n) end                    -- descending
  return ("h%08x"):format((n * 2654435761) % 4294967296)                    -- scattered
end
return function(n)
  local k = key(n)
  if n % 11 == 0 then return key(n - 4), nil, n % 3 == 1 end                -- delete
  local size = (PS - 32) // 4 - 6 - 1 - #k                                  -- inline maximum
  -- long values replaced: their pages go to the free list, later splits take them
  if n % 7 == 0 then return "L" .. n % 3, 5000 + 97 * (n % 50), n % 3 == 1 end
  if n % 13 == 0 then size = 20000 end
  if n % 3 == 0 then size = 1 + n % 300 end
  return k, size, n % 3 == 1
end
]]):gsub("PS", tostring(PS))

-- The crash-sweep driver over TXN with a cache of cache_pages pages.
local function sweep(w, cache_pages, after)
  return LV.workload(w, {
    ntx = NTX,
    txn_src = TXN,
    opts_src = ("log_file_size = 1024, page_size = %d, cache_size = %d, checkpoint_depth = 0")
      :format(PS, cache_pages * PS),
    opts = { page_size = PS },
    after = after,
  })
end

describe("review: crashes over a split-heavy workload (S6b)", function()
  local w, wl
  before_each(function()
    w = H.world()
    wl = sweep(w, 64, function(t) for i = 1, 40 do t:put(("after%03d"):format(i), LV.val(900, i)) end end)
  end)
  after_each(function() w:cleanup() end)

  it("crash, power-cut and torn-write points lose no commit", function()
    local countf = w:path("count")
    local code, last, durable, err = wl.run(w:path("base"), "ESE_FAULT_COUNT=" .. H.q(countf))
    assert.are.equal(0, code, err)
    assert.are.equal(NTX, last)
    wl.check(w:path("base"), last, durable, "no fault")
    local total = tonumber(H.read_file(countf):match("%d+"))
    local npts = tonumber(os.getenv("REVIEW_PTS") or "6")
    local points = {}
    for i = 1, npts do points[#points + 1] = ("crash:%d"):format(1 + (total - 1) * i // (npts + 1)) end
    for i = 1, npts // 2 do
      points[#points + 1] = ("power:%d:%d"):format(1 + (total - 1) * (2 * i - 1) // npts, 3 * i + 1)
      points[#points + 1] = ("torn:%d:1024"):format(1 + (total - 1) * (2 * i) // (npts + 1))
    end
    for i, fault in ipairs(points) do
      local dir = w:path("p" .. i)
      local _, seen, safe = wl.run(dir, "ESE_FAULT=" .. fault)
      wl.check(dir, seen, safe, fault)
    end
  end)
end)

describe("review: split records replayed twice", function()
  local w, wl
  before_each(function()
    w = H.world()
    wl = sweep(w, 16)
  end)
  after_each(function() w:cleanup() end)

  it("a soft recovery cut by crashes at several points, then run again, gives the same state", function()
    local crashed, seen, safe, rtotal = wl.cut_recovery(PS, 5, 6)   -- asserts the whole run made NTX commits
    assert.is_true(seen > 1, "cut at " .. seen)
    wl.recover_twice(crashed, seen, safe, rtotal, PS, tonumber(os.getenv("REVIEW_PTS") or "6"))
  end)
end)

local function writer(w, params) return LV.writer(w, params, TXN) end

describe("review: backups of split pages", function()
  local backup = require "ese.backup"
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("a full backup read while a writer splits pages restores to the model at the cut-off, twice", function()
    local PARAMS = { log_file_size = 128, page_size = PS, cache_size = 32 * PS }
    local inst, model, step = writer(w, PARAMS)
    step(60)
    inst:begin_external_backup()
    local set = w:path("set")
    LV.stream_db_paced(inst, w:path("app.edb"), set, PS, function()
      step(3)                                    -- pages split behind and ahead of the reader
    end)
    step(20)
    local logs = inst:get_log_info()
    local at_cutoff = {}
    for k, v in pairs(model) do at_cutoff[k] = v end
    step(30)                                     -- after the cut-off: not in the set
    for _, p in ipairs(logs) do H.stream(inst, p, set) end
    inst:end_external_backup()
    local n = step(0)
    assert.is_true(n > 150, n .. " commits")
    local dest = w:path("dest")
    backup.restore({ set }, dest)
    local function check(what)
      local inst2 = w:track(ese.create_instance(H.name("chk"), H.params(dest, { page_size = PS })))
      inst2:init()
      local t2 = H.open_table(inst2, dest)
      local got = H.contents(t2)
      for k, v in pairs(at_cutoff) do assert.is_true(got[k] == v, what .. ": key " .. #k .. " bytes") end
      for k in pairs(got) do assert.is_true(at_cutoff[k] ~= nil, what .. ": extra key") end
      inst2:term({ complete = true })
      H.verified(dest .. "/app.edb", what)
    end
    check("restored")
    -- a second instance over the restored folder: its logs again, nothing changes
    check("reopened")
    inst:term({ complete = true })
  end)

  it("a restore cut by crashes and power cuts: a retry with overwrite gives the model and passes the checks",
     function()
    local PARAMS = { log_file_size = 128, page_size = PS, cache_size = 16 * PS }
    local inst, model, step = writer(w, PARAMS)
    step(40)
    backup.run(inst, w:path("full"))
    step(NTX)
    backup.run(inst, w:path("inc"), { incremental = true })
    inst:term({ complete = true })
    local RESTORE = [[
      local backup = require "ese.backup"
      local full, inc, dest = ...
      backup.restore({ full, inc }, dest, { overwrite = true })
    ]]
    local args = function(dest) return { w:path("full"), w:path("inc"), dest } end
    local countf = w:path("rcount")
    local code, _, err = H.lua_child(RESTORE, args(w:path("probe")), "ESE_FAULT_COUNT=" .. H.q(countf))
    assert.are.equal(0, code, err)
    local total = tonumber(H.read_file(countf):match("%d+"))
    local npts = tonumber(os.getenv("REVIEW_PTS") or "6")
    for i = 1, npts do
      local dest = w:path("d" .. i)
      local fault = i % 3 == 0 and ("power:%d:%d"):format(1 + (total - 1) * i // (npts + 1), i)
        or ("crash:%d"):format(1 + (total - 1) * i // (npts + 1))
      H.lua_child(RESTORE, args(dest), "ESE_FAULT=" .. fault)
      code, _, err = H.lua_child(RESTORE, args(dest))
      assert.are.equal(0, code, fault .. ": the retry: " .. tostring(err))
      local inst2 = w:track(ese.create_instance(H.name("chk"), H.params(dest, { page_size = PS })))
      inst2:init()
      local t2 = H.open_table(inst2, dest)
      assert.are.same(model, H.contents(t2), fault)
      inst2:term({ complete = true })
      H.verified(dest .. "/app.edb", fault)
    end
  end)
end)
