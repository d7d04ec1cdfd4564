-- Log recycling (csrc/log.h, log_recycle): with circular logging the file
-- of a generation the checkpoint no longer needs becomes the next
-- generation's file (edbtmp.log) instead of being deleted, so that a
-- commit writes into blocks written before (an overwrite) rather than
-- into new ones.  Its old bytes stay after the new generation's records
-- until the roll that closes it writes zeros there: every closed
-- generation is zeros after its last record, as a new file is.
local ese = require "ese"
local H = require "support.helpers"
local LV = require "support.lv_sweep"

local function header_gen(data) return string.unpack("<I4", data, 13) end

-- Whether edbtmp.log at path was made from a spare: bytes that are not
-- zeros after the header and the slots (LOG_DATA_START, 12288: a retired
-- generation's records); false: a new file (zeros there); nil: no file.
local function tmp_from_spare(path)
  local tmp = H.read_file(path)
  if not tmp then return nil end
  return tmp:find("[^%z]", 12289) ~= nil
end
local function tmp_is_spare(dir) return tmp_from_spare(dir .. "/edbtmp.log") == true end

-- A new stream on dir (its log and system folder, 64 KiB log files, more
-- parameters in extra), app.edb created with table "t": inst, t.
local function new_stream(w, dir, extra)
  local p = { system_path = dir, log_path = dir, log_file_size = 64 }
  for k, v in pairs(extra or {}) do p[k] = v end
  local inst = w:open(nil, p)
  local s = inst:begin_session()
  return inst, s:create_table(s:create_database(dir .. "/app.edb"), "t")
end

-- Asserts that every closed generation in dir passes ese.file_info's
-- verification (as `ese check`'s: zeros after its last record); what
-- prefixes the message.  Returns how many there are.
local function closed_verify(dir, what)
  local n = 0
  for name in pairs(H.ls(dir)) do
    if H.log_gen(name) and H.log_gen(name) > 0 then
      local ok, e = pcall(ese.file_info, dir .. "/" .. name, true)
      assert.is_true(ok, (what or "") .. ": " .. name .. ": " .. tostring(e and (e.detail or e.name) or e))
      n = n + 1
    end
  end
  return n
end

describe("log recycling (circular logging)", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  local function open(dir, extra)
    local p = { system_path = dir, log_path = dir, log_file_size = 64, circular_log = true, checkpoint_depth = 0 }
    for k, v in pairs(extra or {}) do p[k] = v end
    return w:open(nil, p)
  end

  -- Whether the file at path ends in bytes that are not zeros: an old
  -- generation's records reach its last 4 KiB (a new file is zeros after
  -- its records).
  local function old_bytes_at_end(path)
    local data = H.read_file(path)
    return data ~= nil and H.last_data_offset(path) > #data - 4096
  end

  it("edbtmp.log is made from a retired generation's file; the generation made from it reads its own records "
     .. "only, every closed one is zeros after its last record (archived copies verify), recovery finds every commit",
     function()
    local dir, arch = w:path("c"), w:path("arch")
    local inst, t = new_stream(w, dir, { circular_log = true, checkpoint_depth = 0, archive_path = arch })
    H.roll(t, dir, 6)
    local i = 0
    H.wait_until(function()                      -- the preparer thread takes the spare after a commit
      i = i + 1
      t:put(("w%06d"):format(i), "x")
      return tmp_is_spare(dir)
    end, nil, 0.02)
    assert.is_true(tmp_is_spare(dir), "edbtmp.log made from a spare")
    local g = ese.file_info(dir .. "/edb.log").generation
    H.roll(t, dir, 1)
    assert.are.equal(g + 1, ese.file_info(dir .. "/edb.log").generation)
    assert.is_true(old_bytes_at_end(dir .. "/edb.log"), "edb.log holds the old generation's bytes after its records")
    local n0 = 0
    for _ in t:pairs() do n0 = n0 + 1 end
    H.roll(t, dir, 4)
    local n = 0
    for _ in t:pairs() do n = n + 1 end
    assert.is_true(n > n0)
    local cur = ese.file_info(dir .. "/edb.log").generation
    H.wait_until(function()                      -- the archive's thread ships the closed ones
      local st = inst:archive_status()
      return st.pending == 0 and st.shipped_generation == cur - 1
    end)
    -- every closed generation, shipped as it was closed, the one made from
    -- the spare (g + 1) among them: zeros after its last record
    -- (ese.file_info's verification, as `ese check`'s)
    local shipped = closed_verify(arch, "archived")
    assert.is_true(H.exists(arch .. "/" .. H.log_name(g + 1)), "the generation made from the spare was shipped")
    assert.is_true(shipped >= 10, "shipped: " .. shipped)
    inst:term()                                  -- abrupt: recovery replays edb.log and what is left
    local t3 = H.open_table(open(dir, { archive_path = arch }), dir)
    local m = 0
    for _ in t3:pairs() do m = m + 1 end
    assert.are.equal(n, m)
  end)

  it("a process that ends without term while edb.log holds an old generation's bytes: recovery finds every "
     .. "commit, the database checks, and the next roll's closed file verifies", function()
    local dir = w:path("k")
    local code, out, err = H.lua_child([[
      local ese = require "ese"
      local dir = arg[1]
      local inst = ese.create_instance("rc", { system_path = dir, log_path = dir, circular_log = true,
                                               log_file_size = 64, checkpoint_depth = 0 })
      inst:init()
      local s = inst:begin_session()
      local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
      local n = 0
      local function gen() return ese.file_info(dir .. "/edb.log").generation end
      -- edb.log made from a spare: an old generation's bytes in its last 4 KiB
      local function stale()
        local f = assert(io.open(dir .. "/edb.log", "rb"))
        local data = f:read("a")
        f:close()
        return gen() > 2 and data:sub(-4096):find("[^%z]") ~= nil
      end
      local g0 = gen()
      repeat
        while n < 5000 and (gen() < g0 + 6 or not stale()) do
          n = n + 1
          t:put(("k%06d"):format(n), ("v"):rep(1500))
          if gen() >= g0 + 6 and not stale() then os.execute("sleep 0.01") end
        end
        n = n + 1
        t:put(("k%06d"):format(n), "last")      -- a commit in the recycled edb.log (again if it rolled)
      until stale() or n >= 5000
      print("STALE " .. tostring(stale()))
      print("COMMITS " .. n)
      os.exit(0, false)                         -- no term, no close: the log as a crash leaves it
    ]], { dir })
    assert.are.equal(0, code, err)
    local n = tonumber(out:match("COMMITS (%d+)"))
    assert.matches("STALE true", out)
    assert.is_true(old_bytes_at_end(dir .. "/edb.log"), "edb.log holds old bytes at its end")
    local inst = open(dir)
    local t = H.open_table(inst, dir)
    local m = 0
    for _ in t:pairs() do m = m + 1 end
    assert.are.equal(n, m)
    assert.are.equal("last", t:get(("k%06d"):format(n)))
    local g = ese.file_info(dir .. "/edb.log").generation
    H.roll(t, dir, 1)
    local closed = dir .. "/" .. H.log_name(g)
    if H.exists(closed) then assert.is_true(pcall(ese.file_info, closed, true)) end
    inst:term({ complete = true })
    H.verified(dir .. "/app.edb", "after recovery")
  end)
end)

describe("log recycling: spares", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  local function spares(dir)
    local n = 0
    for name in pairs(H.ls(dir)) do
      if name:match("^edbspare%d+%.log$") then n = n + 1 end
    end
    return n
  end

  -- Commits one small record at a time (the preparer runs after each)
  -- until done() or H.wait_until's bound passed; done()'s last answer.
  local function commit_until(t, done)
    local i = 0
    return H.wait_until(function()
      if done() then return true end
      i = i + 1
      t:put(("poll%05d"):format(i), "p")
      return false
    end, nil, 0.02) or done()
  end

  it("are kept up to the generations a checkpoint retires, plus one (checkpoint_depth 2 files: 3), never "
     .. "more, and never read as logs", function()
    local dir = w:path("s")
    local inst, t = new_stream(w, dir, { circular_log = true, checkpoint_depth = 2 * 65536 })
    local most = 0
    for _ = 1, 12 do
      H.roll(t, dir, 1)
      most = math.max(most, spares(dir))
    end
    assert.is_true(most >= 1 and most <= 3, "spares at most: " .. most)
    inst:term({ complete = true })
    assert.is_true(spares(dir) >= 1, "spares stay when the instance ends")
    -- the next run takes them; `ese logs`-style listings do not show them
    local t2 = H.open_table(w:open(nil, { system_path = dir, log_path = dir, circular_log = true,
                                          log_file_size = 64, checkpoint_depth = 2 * 65536 }), dir)
    for name in pairs(H.log_files(dir)) do assert.is_nil(name:match("spare"), name) end
    assert.is_true(commit_until(t2, function() return tmp_is_spare(dir) end),
                   "a spare of the past run became edbtmp.log")
  end)

  it("a backup's truncation keeps truncated logs as spares (without circular logging) and the next "
     .. "generations are made from them", function()
    local dir, set = w:path("t"), w:path("set")
    local inst, t = new_stream(w, dir)
    H.roll(t, dir, 5)
    H.backup(inst, set, { truncate = true })
    assert.is_true(spares(dir) >= 1, "truncated logs kept as spares")
    assert.is_true(commit_until(t, function() return tmp_is_spare(dir) end), "edbtmp.log made from a spare")
    H.roll(t, dir, 2)
    inst:term({ complete = true })
    H.verified(dir .. "/app.edb", "after the rolls")
  end)

  -- A file at a spare's name that is not this stream's is someone else's:
  -- never written, never deleted, never made a generation (the log makes a
  -- new file instead).  This stream's files it can never take (a
  -- generation not below the current one, left after an in-place restore;
  -- a retired generation with another name, a hard link) and a retired
  -- generation of another file size are deleted (the other name's bytes
  -- unchanged).  Before mend14, each was deleted when the log took it (a
  -- user's file put at a spare's name was gone); in mend14 before this
  -- fix, this stream's later generation and the hard link stayed forever,
  -- their names lost to recycling.
  it("a spare of another stream or with a damaged header is left alone byte for byte, never made a "
     .. "generation; this stream's generation not below the current one, one with another name and one of "
     .. "another size are deleted", function()
    -- another stream's generation 2, this stream's own later generation (a
    -- restore puts the stream back to an earlier generation), garbage, a
    -- retired generation cut short, a hard link of a retired generation
    local other = w:path("other")
    local oi, ot = new_stream(w, other)
    H.roll(ot, other, 3)
    oi:term({ complete = true })
    local dir, set = w:path("d"), w:path("set")
    local inst, t = new_stream(w, dir)
    H.roll(t, dir, 1)
    H.backup(inst, set)
    local g = ese.file_info(dir .. "/edb.log").generation
    H.roll(t, dir, 4)
    inst:term({ complete = true })
    local later = H.read_file(dir .. "/" .. H.log_name(g + 1))   -- the generation the restored stream makes next
    assert.is_truthy(later)
    local dest = w:path("dest")
    ese.restore(set, dest)
    local gen1 = H.read_file(dir .. "/" .. H.log_name(1))   -- this stream's, below g
    local linked = w:path("archived.log")
    H.write_file(linked, gen1)
    local planted = {
      ["edbspare1.log"] = H.read_file(other .. "/" .. H.log_name(2)),
      ["edbspare2.log"] = later,
      ["edbspare3.log"] = ("\255"):rep(65536),
      ["edbspare5.log"] = gen1,
    }
    for name, data in pairs(planted) do
      if name ~= "edbspare5.log" then H.write_file(dest .. "/" .. name, data) end
    end
    H.write_file(dest .. "/edbspare4.log", gen1:sub(1, 32768))
    assert(os.execute(("ln %s %s"):format(H.q(linked), H.q(dest .. "/edbspare5.log"))))
    local foreign = { [planted["edbspare1.log"]:sub(25, 40)] = "other stream" }
    local ri = w:open(nil, { system_path = dest, log_path = dest, log_file_size = 64 })
    local rt = H.open_table(ri, dest)
    assert.are.equal(g, ese.file_info(dest .. "/edb.log").generation)
    assert.is_true(commit_until(rt, function() return not H.exists(dest .. "/edbspare4.log") end),
                   "the short retired generation deleted")
    local tmp = H.read_file(dest .. "/edbtmp.log")
    assert.is_truthy(tmp)
    assert.are.equal(false, tmp_from_spare(dest .. "/edbtmp.log"), "edbtmp.log is a new file")
    assert.is_nil(foreign[tmp:sub(25, 40)])
    H.roll(rt, dest, 3)
    local kept = { ["edbspare1.log"] = true, ["edbspare3.log"] = true }
    for name, data in pairs(planted) do
      if kept[name] then
        assert.is_true(H.read_file(dest .. "/" .. name) == data, name .. " is unchanged")
      else
        assert.is_true(H.read_file(dest .. "/" .. name) ~= data, name .. " (this stream's) was deleted")
      end
    end
    assert.is_true(H.read_file(linked) == gen1, "the other name's file is unchanged")
    closed_verify(dest, "dest")
    assert.is_true(pcall(ese.file_info, dest .. "/edb.log", true), "edb.log verifies")
    ri:term({ complete = true })
    for name, data in pairs(planted) do
      if kept[name] then
        assert.is_true(H.read_file(dest .. "/" .. name) == data, name .. " is unchanged at the end")
      end
    end
    assert.is_true(H.read_file(linked) == gen1, "the other name's file is unchanged at the end")
  end)

  -- The child, on a disk with 16 KiB free (ESE_FAULT=space:N, csrc/os.h):
  -- the stream of the test below, arg[3] rolls, a put of arg[2] bytes, a
  -- clean end.
  local FULL = [[
    local ese = require "ese"
    local H = require "support.helpers"
    local dir, size, rolls = arg[1], tonumber(arg[2]), tonumber(arg[3])
    local inst = ese.create_instance("full", { system_path = dir, log_path = dir, log_file_size = 64,
                                               circular_log = true, checkpoint_depth = 8 * 65536,
                                               dw_size = 128 * 1024 })
    inst:init()
    local t = H.open_table(inst, dir)
    H.roll(t, dir, rolls, "pre")
    local ok, e = pcall(t.put, t, "big", ("b"):rep(size))
    print("PUT " .. (ok and "ok" or e.name))
    ok, e = pcall(inst.term, inst, { complete = true })
    print("TERM " .. (ok and "ok" or e.name))
  ]]

  -- Spares hold room (up to N files of the log file size) that circular
  -- logging used to free.  With 16 KiB free and 5 or more spares held: a
  -- put of 150000 bytes in one transaction rolls the log into new files (a
  -- roll inside a transaction finds no file made ahead); after a roll (its
  -- next file made ahead from a spare), a put of 30000 bytes fits the log
  -- and grows the database when its pages are written (the clean end's
  -- checkpoint).  On c4ea9ae the first put failed with JET_errDiskFull and
  -- the second one's term did, the spares kept (the log's new file, the
  -- database's growth: both paths of the fix).
  it("are deleted when the disk is full: a new log file or the database's growth that needs their room gets "
     .. "it, recovery finds the value, every closed generation and the database verify", function()
    local P = { circular_log = true, checkpoint_depth = 8 * 65536, dw_size = 128 * 1024 }
    for case, c in ipairs({ { size = 150000, rolls = 0 }, { size = 30000, rolls = 1 } }) do
      local dir = w:path("f" .. case)
      local inst, t = new_stream(w, dir, P)
      H.roll(t, dir, 30)
      inst:term({ complete = true })
      local function held()
        local out, n = {}, 0
        for name in pairs(H.ls(dir)) do
          if name:match("^edbspare%d+%.log$") then
            out[name], n = header_gen(H.read_file(dir .. "/" .. name)), n + 1
          end
        end
        return out, n
      end
      local _, n = held()
      assert.is_true(n >= 5, "spares held: " .. n)
      local g0 = ese.file_info(dir .. "/edb.log").generation
      local code, out, err = H.lua_child(FULL, { dir, c.size, c.rolls }, "ESE_FAULT=space:16384")
      assert.are.equal(0, code, err)
      assert.matches("PUT ok\nTERM ok", out, 1, true, ("put of %d bytes, %d spares held: %s"):format(c.size, n, out))
      for name, gen in pairs(held()) do
        assert.is_true(gen >= g0, name .. " (generation " .. gen .. ") is a spare held before the put")
      end
      local inst2 = w:open(nil, { system_path = dir, log_path = dir, log_file_size = 64, circular_log = true,
                                  checkpoint_depth = P.checkpoint_depth, dw_size = P.dw_size })
      assert.are.equal(c.size, #H.open_table(inst2, dir):get("big"))
      inst2:term({ complete = true })
      closed_verify(dir, "after the full disk")
      H.verified(dir .. "/app.edb", "after the full disk")
    end
  end)

  -- Before, the link put at spare 1 was removed when the log took it.  A
  -- hard link of this stream's retired generation at spare 2 is the log's
  -- own name of the file: unlinked (mend14 kept it forever, the name lost
  -- to recycling), never written, the other name's bytes unchanged.
  it("a spare that is a symbolic link is never written nor removed (a link is never followed); one that has "
     .. "another name (a hard link, as `ln %p` into an archive makes) loses this name only: the other file "
     .. "keeps its bytes", function()
    local dir = w:path("l")
    local inst, t = new_stream(w, dir)
    H.roll(t, dir, 3)
    inst:term({ complete = true })
    local gen1 = H.read_file(dir .. "/" .. H.log_name(1))   -- this stream, below the current generation
    local target, linked, target3 = w:path("target.log"), w:path("archived.log"), w:path("target3.log")
    for _, p in ipairs({ target, linked, target3 }) do H.write_file(p, gen1) end
    local spare = function(k) return dir .. "/edbspare" .. k .. ".log" end
    H.write_file(spare(1), gen1)                 -- a spare at init, made a link before it is taken
    assert(os.execute(("ln %s %s"):format(H.q(linked), H.q(spare(2)))))
    assert(os.execute(("ln -s %s %s"):format(H.q(target3), H.q(spare(3)))))   -- a link at init
    local t2 = H.open_table(w:open(nil, { system_path = dir, log_path = dir, log_file_size = 64 }), dir)
    os.remove(spare(1))
    assert(os.execute(("ln -s %s %s"):format(H.q(target), H.q(spare(1)))))
    local function is_link(p) return os.execute("test -L " .. H.q(p)) == true end
    assert.is_true(commit_until(t2, function() return H.exists(dir .. "/edbtmp.log") end), "edbtmp.log made")
    H.roll(t2, dir, 3)
    assert.is_true(is_link(spare(1)), "the link put there after init is still there")
    assert.is_true(H.read_file(spare(2)) ~= gen1, "the hard link at the spare's name is gone")
    assert.is_true(H.read_file(target) == gen1, "the link's target is unchanged")
    assert.is_true(H.read_file(linked) == gen1, "the other name's file is unchanged")
    assert.is_true(is_link(spare(3)), "a link present at init is left alone")
    assert.is_true(H.read_file(target3) == gen1, "and its target unchanged")
    assert.is_true(tmp_from_spare(dir .. "/edbtmp.log") ~= true, "edbtmp.log is a new file")
  end)
end)

-- The long-value crash sweep (long_values_spec.lua) with circular logging
-- and a checkpoint at every roll: files are recycled while the workload
-- runs, and a crash, a torn write or a power cut at any point (a recycle's
-- rename, its folder sync, its slots' zeros, the roll's zeros after the
-- last record included) loses no commit.
describe("a crash sweep with log recycling", function()
  local w, wl
  before_each(function()
    w = H.world()
    wl = LV.workload(w, {
      ntx = 14,
      txn_src = [[return function(n)
        local sizes = { 3000, 20000, 70000, 9000, 150, 41000 }
        return ("lv%d"):format(n % 4), n % 5 ~= 0 and sizes[n % #sizes + 1] or nil, n % 3 == 1
      end]],
      opts_src = "log_file_size = 64, cache_size = 16 * 8192, circular_log = true, checkpoint_depth = 0",
      opts = { log_file_size = 64, circular_log = true, checkpoint_depth = 0 },
    })
  end)
  after_each(function() w:cleanup() end)

  it("crash, torn and power-cut points over a workload whose logs are recycled lose no commit", function()
    wl.sweep(50)
  end)

  -- The events of the first two recycles (ESE_FAULT_TRACE names them):
  -- from the retired generation's rename to its spare name, through the
  -- spare's rename to edbtmp.log, the folder's sync and its slots' zeros,
  -- to the end of the roll that makes it edb.log (its header, sync,
  -- renames, the folder's sync).  A list of { k = event, kind = ..., retire
  -- = the retire's rename }, from a run without faults.
  local function recycle_events()
    local trace = w:path("trace")
    local code, last, _, err = wl.run(w:path("traced"), "ESE_FAULT_TRACE=" .. H.q(trace))
    assert.are.equal(0, code, err)
    assert.are.equal(14, last)
    local ev = {}
    for n, kind, name in H.read_file(trace):gmatch("(%d+) (%a+) %d+ %d+ (%S+)\n") do
      ev[tonumber(n)] = { kind = kind, name = name }
    end
    local out, episodes, n = {}, 0, 1
    while ev[n] and episodes < 2 do
      if ev[n].kind == "rename" and ev[n].name:match("^edbspare%d+%.log$") then   -- a spare taken
        episodes = episodes + 1
        local k = n - 1                           -- the retire's rename, then on to the roll's folder sync
        assert.are.equal("rename", ev[k].kind)
        while ev[k] and not (ev[k].kind == "syncdir" and ev[k - 1] and ev[k - 1].name == "edbtmp.log") do
          out[#out + 1] = { k = k, kind = ev[k].kind, retire = k == n - 1 }
          k = k + 1
        end
        out[#out + 1] = { k = k, kind = ev[k].kind }
        n = k
      end
      n = n + 1
    end
    assert.are.equal(2, episodes)
    return out
  end

  -- Each event of the two recycles is a crash point; a write also a torn
  -- write (head and tail new), a sync a power cut (two seeds).  Recovery
  -- finds the state after a commit between the last durable one and the
  -- one after the last noted, the database checks, and every closed
  -- generation left verifies.
  it("crash, torn and power-cut points at every step of a recycle lose no commit and leave every closed "
     .. "generation verifiable", function()
    local points = {}
    for _, e in ipairs(recycle_events()) do
      local k = e.k
      points[#points + 1] = ("crash:%d"):format(k)
      if e.kind == "write" then
        points[#points + 1] = ("torn:%d:512:head"):format(k)
        points[#points + 1] = ("torn:%d:1536:tail"):format(k)
      elseif e.kind == "sync" or e.kind == "syncdir" then
        points[#points + 1] = ("power:%d:%d"):format(k, 2 * k)
        points[#points + 1] = ("power:%d:%d"):format(k, 2 * k + 1)
      end
    end
    assert.is_true(#points >= 30, "points: " .. #points)
    for i, fault in ipairs(points) do
      local dir = w:path("q" .. i)
      local _, seen, safe = wl.run(dir, "ESE_FAULT=" .. fault)
      wl.check(dir, seen, safe, fault)
      closed_verify(dir, fault)
    end
  end)

  -- An I/O error (ESE_FAULT=eio:K) at each event of the two recycles.  A
  -- retire whose rename fails deletes the generation instead (log.c
  -- log_retire): the checkpoint and the workload go on to the end.  Any
  -- other (the spare's rename to edbtmp.log, the folder's sync, the slots'
  -- zeros, the roll's) stops the log with that error, the workload ends
  -- there, and recovery loses no commit noted durable.
  it("an I/O error at each step of a recycle: a failed retire deletes the generation and the workload goes "
     .. "on; any other stops it, and recovery loses no commit", function()
    local retires, stopped = 0, 0
    for i, e in ipairs(recycle_events()) do
      local fault = ("eio:%d"):format(e.k)
      local dir = w:path("e" .. i)
      local code, seen, safe, err = wl.run(dir, "ESE_FAULT=" .. fault)
      if e.retire then
        retires = retires + 1
        assert.are.equal(0, code, fault .. " (the retire's rename): " .. err)
        assert.are.equal(14, seen, fault .. " (the retire's rename)")
      elseif seen < 14 then
        stopped = stopped + 1
      end
      wl.check(dir, seen, safe, fault)
      closed_verify(dir, fault)
    end
    assert.are.equal(2, retires)
    assert.is_true(stopped >= 4, "points that stopped the workload: " .. stopped)
  end)

  -- The preparer thread (no fault counts events here, so it runs) writes
  -- the next generation's header into edbtmp.log, made from a spare or
  -- new, and syncs it; the K-th sync of edbtmp.log fails: the log stops
  -- (its next file cannot be trusted), no edbtmp.log is left half made,
  -- recovery loses no commit.
  it("a failed sync of the next file made ahead (a spare or a new file, its header written ahead): the log "
     .. "stops, no edbtmp.log is left, recovery loses no commit", function()
    local stopped = 0
    for k = 2, 9 do
      local fault = ("synceio:%d:edbtmp.log"):format(k)
      local dir = w:path("s" .. k)
      local _, seen, safe = wl.run(dir, "ESE_FAULT=" .. fault)
      if seen < 14 then
        stopped = stopped + 1
        assert.is_false(H.exists(dir .. "/edbtmp.log"), fault .. ": edbtmp.log left")
      end
      wl.check(dir, seen, safe, fault)
      closed_verify(dir, fault)
    end
    assert.is_true(stopped >= 4, "points that stopped the workload: " .. stopped)
  end)
end)
