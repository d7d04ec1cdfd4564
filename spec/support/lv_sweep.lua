-- spec/support/lv_sweep.lua -- long-value test data and one crash-sweep
-- driver for long-value workloads (long_values_spec, review_lv_spec).
--
-- A workload is the source of a function txn(n) -> key, size, lazy for
-- commit n (size nil: delete the key if present; lazy: a lazy commit in a
-- transaction, else a durable put or delete outside one).  The same source
-- drives the child process that commits and the model the specs compare
-- with, so the two cannot drift.  The child notes each commit after it
-- returns ("L<n>" when lazy); recovery must give the state after some
-- commit from the last durable one noted to the one after the last noted.
local H = require "support.helpers"
local luassert = require "luassert"

local M = {}

-- val(n, seed): n bytes that differ from page to page and from seed to seed.
M.VAL_SRC = [[
return function(n, seed)
  local parts, x = {}, seed * 7919 + 1
  for i = 1, n // 8 + 1 do
    x = (x * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
    parts[i] = string.pack("<i8", x)
  end
  return table.concat(parts):sub(1, n)
end
]]
M.val = assert(load(M.VAL_SRC))()

-- text_val(seed, n): n bytes of readable text ("SSSSSSS-IIIIIIII" per 16
-- bytes) that differ from seed to seed.
function M.text_val(seed, n)
  local parts = {}
  for i = 1, n // 16 + 1 do parts[i] = ("%07d-%08d"):format(seed, i) end
  return table.concat(parts):sub(1, n)
end

local CHILD = [[
local val = (function() @VAL@ end)()
local txn = (function() @TXN@ end)()
local ese = require "ese"
local dir, seen = ...
local inst = ese.create_instance("lvsweep", { system_path = dir, log_path = dir, @OPTS@ })
inst:init()
local s = inst:begin_session()
local db = s:create_database(dir .. "/app.edb")
local t = s:create_table(db, "t")
local f = assert(io.open(seen, "a"))
f:write("0\n") f:flush()
for n = 1, @NTX@ do
  local key, size, lazy = txn(n)
  if lazy then s:begin_transaction() end
  if size == nil then
    if t:get(key) then t:delete(key) end
  else
    t:put(key, val(size, n))
  end
  if lazy then s:commit_transaction({ lazy = true }) end
  f:write(lazy and "L" or "", n, "\n") f:flush()
end
inst:term({ complete = true })
]]

-- cfg: ntx (commits), txn_src (see above), opts_src (the child's further
-- create_instance options, as Lua source), opts (the options the check's
-- instance needs, e.g. page_size), after (optional function(t) run on the
-- recovered table before the clean shutdown).  Returns run and check.
-- A child's source: soft recovery and a clean term of the folder ... (its
-- first argument) with page size ... (its second), a 16-page cache.
M.RECOVER_SRC = [[
  local ese = require "ese"
  local dir, ps = ...
  ps = tonumber(ps)
  local inst = ese.create_instance("rec", { system_path = dir, log_path = dir, page_size = ps,
    cache_size = 16 * ps })
  inst:init()
  inst:term({ complete = true })
]]

-- An instance on w's folder (w:table(params)) with table "t", the model of
-- its commits and step(k): the next k commits of the workload txn_src (see
-- above), in process, outside transactions; step returns the commits made.
-- Returns inst, model, step and the table t.
function M.writer(w, params, txn_src)
  local t, _, _, inst = w:table(params)
  local txn = assert(load(txn_src))()
  local model, n = {}, 0
  local function step(k)
    for _ = 1, k do
      n = n + 1
      local key, size = txn(n)
      if size then t:put(key, M.val(size, n)) model[key] = M.val(size, n)
      elseif model[key] then t:delete(key) model[key] = nil end
    end
    return n
  end
  return inst, model, step, t
end

-- Copies the database file dbpath of inst (in a backup) into the folder
-- set page by page (page size ps), calling between() after each page.
function M.stream_db_paced(inst, dbpath, set, ps, between)
  assert(os.execute("mkdir -p " .. H.q(set)))
  local r = inst:open_file(dbpath)
  local f = assert(io.open(set .. "/" .. H.basename(dbpath), "wb"))
  while true do
    local chunk = r:read(ps)
    if not chunk then break end
    f:write(chunk)
    between()
  end
  f:close()
  r:close()
end

function M.workload(w, cfg)
  local txn = assert(load(cfg.txn_src))()
  local parts = { VAL = M.VAL_SRC, TXN = cfg.txn_src, OPTS = cfg.opts_src, NTX = tostring(cfg.ntx) }
  local src = CHILD:gsub("@(%u+)@", function(name) return parts[name] end)
  local wl = {}

  function wl.model(c)
    local m = {}
    for n = 1, c do
      local k, size = txn(n)
      m[k] = size and M.val(size, n) or nil
    end
    return m
  end

  -- The child in dir under env: exit code, the last commit noted, the
  -- last durable one, stderr.
  function wl.run(dir, env)
    assert(os.execute("mkdir -p " .. H.q(dir)))
    local seen = dir .. "/seen"
    local code, _, err = H.lua_child(src, { dir, seen }, env)
    local last, durable = -1, -1
    for lazy, n in (H.read_file(seen) or ""):gmatch("(L?)(%d+)") do
      last = tonumber(n)
      if lazy == "" then durable = last end
    end
    return code, last, durable, err
  end

  -- Recovers dir and asserts the table is the model after one commit in
  -- [durable, last + 1] and the database passes `ese check`'s checks.
  function wl.check(dir, last, durable, what)
    local opts = { system_path = dir, log_path = dir }
    for k, v in pairs(cfg.opts or {}) do opts[k] = v end
    local inst = w:create(nil, opts)
    inst:init()
    if last < 0 or not H.exists(dir .. "/app.edb") then inst:term() return end
    local s = inst:begin_session()
    local ok = pcall(s.attach_database, s, dir .. "/app.edb")
    if not ok then inst:term() luassert.is_true(last <= 0, what .. ": the database is gone") return end
    local db = s:open_database(dir .. "/app.edb")
    local tok, t = pcall(s.open_table, s, db, "t")
    if not tok then inst:term() luassert.is_true(last <= 0, what) return end
    local got = {}
    for k, v in t:pairs() do got[k] = v end
    local function same(m)
      for k, v in pairs(m) do if got[k] ~= v then return false end end
      for k in pairs(got) do if m[k] == nil then return false end end
      return true
    end
    local found = false
    for c = math.max(durable, 0), math.min(last + 1, cfg.ntx) do found = found or same(wl.model(c)) end
    luassert.is_true(found,
      ("%s: the table is after no commit from %d (durable) to %d"):format(what, durable, last + 1))
    if cfg.after then cfg.after(t) end
    inst:term({ complete = true })
    H.verified(dir .. "/app.edb", what)
  end

  -- The sweep: a run without faults counts the child's I/O events (at
  -- least min_events), then 16 crash, 10 torn-write and 8 power-cut
  -- points spread over them, each recovered and checked; at least 20 of
  -- them must cut the workload between two commits.
  function wl.sweep(min_events)
    local countf = w:path("count")
    local code, last, durable, err = wl.run(w:path("base"), "ESE_FAULT_COUNT=" .. H.q(countf))
    luassert.are.equal(0, code, err)
    luassert.are.equal(cfg.ntx, last)
    wl.check(w:path("base"), last, durable, "no fault")
    local total = tonumber(H.read_file(countf):match("%d+"))
    luassert.is_true(total > min_events, "events: " .. tostring(total))
    local points = {}
    for i = 1, 16 do points[#points + 1] = ("crash:%d"):format(1 + (total - 1) * i // 16) end
    for i = 1, 10 do
      points[#points + 1] = ("torn:%d:%d:%s"):format(1 + (total - 1) * (2 * i - 1) // 20, 512 * (i % 15 + 1),
                                                     i % 2 == 0 and "head" or "tail")
    end
    for i = 1, 8 do                               -- power cuts: unsynced writes reverted (seed 4i) or torn (4i+1)
      points[#points + 1] = ("power:%d:%d"):format(1 + (total - 1) * (2 * i - 1) // 16, 4 * i + i % 2)
    end
    local mid = 0                                 -- points that cut the workload between two commits
    for i, fault in ipairs(points) do
      local dir = w:path("p" .. i)
      local _, seen, safe = wl.run(dir, "ESE_FAULT=" .. fault)
      wl.check(dir, seen, safe, fault)
      if seen >= 1 and seen < cfg.ntx then mid = mid + 1 end
    end
    luassert.is_true(mid >= 20, "points inside the workload: " .. mid)
  end

  -- A workload cut by a crash at event total * num // den, for sweeps of
  -- the recovery itself: the workload run whole once (counting its
  -- events), the cut copy in w:path("crashed"), and the events of one
  -- soft recovery (and clean term) of a copy of it, page size ps.
  -- Returns crashed, seen, safe (wl.run's) and the recovery's events.
  function wl.cut_recovery(ps, num, den)
    local countf = w:path("count")
    local _, last0 = wl.run(w:path("base"), "ESE_FAULT_COUNT=" .. H.q(countf))
    luassert.are.equal(cfg.ntx, last0)
    local total = tonumber(H.read_file(countf):match("%d+"))
    local crashed = w:path("crashed")
    local _, seen, safe = wl.run(crashed, "ESE_FAULT=" .. ("crash:%d"):format(total * num // den))
    local rcount, probe = w:path("rcount"), w:path("probe")
    H.copy_dir(crashed, probe)
    local code, _, err = H.lua_child(M.RECOVER_SRC, { probe, tostring(ps) }, "ESE_FAULT_COUNT=" .. H.q(rcount))
    luassert.are.equal(0, code, err)
    return crashed, seen, safe, tonumber(H.read_file(rcount):match("%d+"))
  end

  -- The recovery of a copy of crashed (wl.cut_recovery's) cut at npts
  -- points spread over its rtotal events (every third a torn write of 512
  -- bytes, the others crashes), then run again cut at twice the event
  -- (a crash); each copy checked with wl.check(dir, seen, safe).
  function wl.recover_twice(crashed, seen, safe, rtotal, ps, npts)
    for i = 1, npts do
      local dir = w:path("r" .. i)
      H.copy_dir(crashed, dir)
      local fault = i % 3 == 0 and ("torn:%d:512"):format(1 + (rtotal - 1) * i // (npts + 1))
        or ("crash:%d"):format(1 + (rtotal - 1) * i // (npts + 1))
      H.lua_child(M.RECOVER_SRC, { dir, tostring(ps) }, "ESE_FAULT=" .. fault)
      local again = fault:gsub("^%a+:(%d+)", function(k) return "crash:" .. (k * 2) end)
      H.lua_child(M.RECOVER_SRC, { dir, tostring(ps) }, "ESE_FAULT=" .. again)   -- the second run cut later
      wl.check(dir, seen, safe, "recovery " .. fault)
    end
  end

  return wl
end

return M
