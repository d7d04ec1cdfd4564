-- Log recycling (docs/format.md, "Log recycling (spares)") under hostile
-- input: what an application stores, what is planted at a spare's name,
-- parameters changed between runs.
local ese = require "ese"
local H = require "support.helpers"

-- The CRC of a log record over s, its type byte and payload, with the
-- CRC seed seed (csrc/log_format.c log_rec_crc).
local function rec_crc(seed, s) return H.crc32c(s, 1, #s, seed) end

-- The record seed of the log file bytes data (log_format.c log_seed): with
-- feature bit 3, CRC32C (seeded with the generation) of the 16 signature
-- bytes; without it, the generation.
local function record_seed(data)
  local gen, features = string.unpack("<I4", data, 13), string.unpack("<I4", data, 57)
  return features & 8 ~= 0 and H.crc32c(data, 25, 40, gen) or gen
end

-- A framed record of type ty and payload whose CRC is seeded with seed
-- (log.h).
local function framed(seed, ty, payload)
  local r = string.pack("<I4BBBB", #payload, ty, 0, 0, 0) .. payload
            .. string.pack("<I4", rec_crc(seed, string.char(ty) .. payload))
  return r .. ("\0"):rep((8 - #r % 8) % 8)
end

-- Where the records of the log file bytes data end: records whose checksum
-- holds under the file's record seed, padding at a block's end passed over.
local function data_end(data)
  local seed = record_seed(data)
  local x = 12288
  while x + 12 <= #data do
    local len = string.unpack("<I4", data, x + 1)
    if len == 0 and x % 4096 > 4064 then
      x = x - x % 4096 + 4096
    elseif len > 0 and x + 12 + len <= #data and data:sub(x + 6, x + 8) == "\0\0\0"
       and rec_crc(seed, data:sub(x + 5, x + 5) .. data:sub(x + 9, x + 8 + len))
           == string.unpack("<I4", data, x + 9 + len) then
      x = x + ((12 + len + 7) & ~7)
    else
      break
    end
  end
  return x
end

local function spares(dir)
  local out = {}
  for name in pairs(H.ls(dir)) do
    if name:match("^edbspare%d+%.log$") then out[#out + 1] = name end
  end
  table.sort(out)
  return out
end

describe("log recycling, hostile", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- The child: circular logging, 64 KiB files, a checkpoint at every roll,
  -- ordered I/O (ESE_FAULT_COUNT: the preparer in line, so that the same
  -- commits give the same files byte for byte).  It enters a generation g,
  -- commits the 20000-byte value V (8-byte words "marker, index"; with
  -- arg[2], the bytes of hex arg[3] put at byte arg[2] of V instead),
  -- copies edb.log (g.copy: where V's bytes are in g's file), then rolls
  -- until edbtmp.log is made from g's file, rolls once more (into T, the
  -- generation made from it) and ends cleanly.  Prints G and T.
  local FORGE_CHILD = [[
    local ese = require "ese"
    local H = require "support.helpers"
    local dir, at = arg[1], tonumber(arg[2])
    local forged = arg[3]:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)
    local inst = ese.create_instance("forge", { system_path = dir, log_path = dir, circular_log = true,
                                                log_file_size = 64, checkpoint_depth = 0 })
    inst:init()
    local s = inst:begin_session()
    local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
    H.roll(t, dir, 3, "a")
    H.roll(t, dir, 1, "g")
    local g = ese.file_info(dir .. "/edb.log").generation
    local words = {}
    for i = 0, 2499 do words[#words + 1] = string.pack("<I4I4", 0xC0FFEE00, i) end
    local V = table.concat(words)
    if at then V = V:sub(1, at) .. forged .. V:sub(at + #forged + 1) end
    t:put("victim", V)
    H.write_file(dir .. "/g.copy", H.read_file(dir .. "/edb.log"))
    local function tmp_from_g()
      local tmp = H.read_file(dir .. "/edbtmp.log")
      return tmp ~= nil and tmp:sub(5, 10) == "ESELOG" and string.unpack("<I4", tmp, 13) == g
    end
    local r = 0
    repeat
      r = r + 1
      H.roll(t, dir, 1, "r" .. r)
    until tmp_from_g() or r == 12
    assert(tmp_from_g(), "edbtmp.log was never made from generation " .. g)
    H.roll(t, dir, 1, "T")
    print("G " .. g)
    print("T " .. ese.file_info(dir .. "/edb.log").generation)
    inst:term({ complete = true })
  ]]

  local function forge_run(dir, at, forged)
    local count = os.tmpname()
    local hex = (forged or ""):gsub(".", function(c) return ("%02x"):format(c:byte()) end)
    local code, out, err = H.lua_child(FORGE_CHILD, { dir, at and tostring(at) or "", hex },
                                       "ESE_FAULT_COUNT=" .. H.q(count))
    os.remove(count)
    assert.are.equal(0, code, err)
    local r = H.parse_lines(out)
    return tonumber(r.G), tonumber(r.T)
  end

  -- A generation made from a spare keeps the retired generation's bytes
  -- after its own records (only its slots are zeroed; the roll that closes
  -- it writes zeros there), so an application's value in the retired file
  -- can sit right after the new generation's last record, where the rules
  -- of the shadow slots take a record that checks as the log's.  The
  -- application writes one framed and checked for generation T as far as
  -- it can: seeded with T, the seed of files without feature bit 3.  On
  -- f70c08d (every record seeded with its generation alone) recovery read
  -- it as T's ("a record of unknown type 238 at generation 7 offset
  -- 16992") and init failed (so it does here with files made without the
  -- bit).  It passes since log format feature bit 3 (95a6fab): a record's
  -- CRC is seeded with log_seed, which holds the stream's random signature,
  -- in no record or value, so the planted bytes do not check in T and end
  -- its data.
  it("an application's value that holds a record of a later generation never becomes that generation's record "
     .. "when its retired file is recycled: recovery after a clean end finds exactly what was committed", function()
    -- the calibration: where generation T's records end (X), and which
    -- byte of V its retired file g held there
    local cal = w:path("cal")
    os.execute("mkdir " .. H.q(cal))
    local _, T = forge_run(cal)
    local x = data_end(H.read_file(cal .. "/edb.log"))
    local g = H.read_file(cal .. "/g.copy")
    local m1, i1 = string.unpack("<I4I4", g, x + 1)
    local at = m1 == 0xC0FFEE00 and 8 * i1 or 8 * m1 + 4
    assert.is_true(m1 == 0xC0FFEE00 or i1 == 0xC0FFEE00, ("V's bytes at X = %d in g's file"):format(x))
    for k = 1, 3 do   -- the record's 24 bytes lie in one piece of V there
      local a, b = string.unpack("<I4I4", g, x + 1 + 8 * k)
      local want = (at + 8 * k) // 8
      assert.is_true((a == 0xC0FFEE00 and b == want) or (b == 0xC0FFEE00 and a == want), "V contiguous at X")
    end
    -- the same commits with an unknown record type (a damage recovery
    -- refuses) claiming generation T at that byte of V
    local dir = w:path("forged")
    os.execute("mkdir " .. H.q(dir))
    local rec = framed(T, 0xEE, "forged!!")
    local _, T2 = forge_run(dir, at, rec)
    assert.are.equal(T, T2)
    -- the planted record is in edb.log right after T's last record (the
    -- same commits: T's records end at X here too)
    assert.are.equal(rec, H.read_file(dir .. "/edb.log"):sub(x + 1, x + #rec), "the planted record at X")
    local inst = w:create(nil, { system_path = dir, log_path = dir, circular_log = true, log_file_size = 64,
                                 checkpoint_depth = 0 })
    local ok, e = pcall(inst.init, inst)
    assert.is_true(ok, "recovery: " .. tostring(e and (e.detail or e.name) or e))
    local t = H.open_table(inst, dir)
    assert.are.equal(20000, #t:get("victim"))
    inst:term({ complete = true })
    H.verified(dir .. "/app.edb", "after recovery")
  end)

  local function circular(dir, extra)
    local p = { system_path = dir, log_path = dir, circular_log = true, log_file_size = 64, checkpoint_depth = 0 }
    for k, v in pairs(extra or {}) do p[k] = v end
    return p
  end

  local function archived(dir)
    local n = 0
    for name in pairs(H.log_files(dir)) do
      if H.log_gen(name) then n = n + 1 end
    end
    return n
  end

  it("a folder or a symbolic link at a spare's name is left alone: circular logging goes on deleting the "
     .. "generations it no longer needs, commits go on", function()
    local dir = w:path("p")
    os.execute("mkdir -p " .. H.q(dir .. "/edbspare1.log/inside"))
    local inst = w:open(nil, circular(dir))
    local s = inst:begin_session()
    local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
    local ok, e = pcall(H.roll, t, dir, 8)
    assert.is_true(ok, "commits: " .. tostring(e and (e.detail or e.name) or e))
    assert.is_true(archived(dir) <= 2, "archived generations left: " .. archived(dir))
    assert.are.equal("folder", ese.fs.stat(dir .. "/edbspare1.log/inside").kind, "the folder is untouched")
    inst:term({ complete = true })
    -- a link at a spare's name when the instance starts: never replaced
    local target = w:path("target")
    H.write_file(target, "not a log")
    os.execute("rm -rf " .. H.q(dir .. "/edbspare1.log"))
    assert(os.execute(("ln -s %s %s"):format(H.q(target), H.q(dir .. "/edbspare1.log"))))
    local inst2 = w:open(nil, circular(dir))
    local t2 = H.open_table(inst2, dir)
    H.roll(t2, dir, 6, "again")
    assert.are.equal("link", ese.fs.stat(dir .. "/edbspare1.log").kind, "the link is still there")
    assert.are.equal("not a log", H.read_file(target))
    assert.is_true(archived(dir) <= 2, "archived generations left: " .. archived(dir))
    -- a FIFO there (an open for writing would wait for a reader)
    inst2:term({ complete = true })
    os.remove(dir .. "/edbspare1.log")
    assert(os.execute("mkfifo " .. H.q(dir .. "/edbspare1.log")))
    local t3 = H.open_table(w:open(nil, circular(dir)), dir)
    H.roll(t3, dir, 4, "fifo")
    assert.are.equal("other", ese.fs.stat(dir .. "/edbspare1.log").kind, "the FIFO is still there")
    assert.is_true(archived(dir) <= 2, "archived generations left: " .. archived(dir))
  end)

  -- A first run on dir with checkpoint_depth 8 files (9 spares kept), 30
  -- rolls, ended cleanly: the spares it left (at least 3).
  local function past_spares(dir)
    local inst = w:open(nil, circular(dir, { checkpoint_depth = 8 * 65536 }))
    local s = inst:begin_session()
    local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
    H.roll(t, dir, 30)
    inst:term({ complete = true })
    local old = spares(dir)
    assert.is_true(#old >= 3, "spares of the first run: " .. table.concat(old, " "))
    return old
  end

  it("spares beyond the number the parameters allow now (a lower checkpoint depth than the last run's) are "
     .. "deleted when the log opens, not kept forever", function()
    local dir = w:path("d")
    past_spares(dir)
    -- checkpoint_depth 0 with 64 KiB files: one spare (log.h log_spares)
    local t2 = H.open_table(w:open(nil, circular(dir)), dir)
    H.roll(t2, dir, 3, "again")
    local left = spares(dir)
    assert.is_true(#left <= 1 and (left[1] == nil or left[1] == "edbspare1.log"), "spares: " .. table.concat(left, " "))
  end)

  -- The open's deletion of spares beyond N reads each file's header first:
  -- only this stream's files (the same signature; a name of a file with
  -- another name too goes, that name keeps it) go.  On 893196b every
  -- regular file at such a name was deleted unread: the user's file and
  -- the other stream's generation below were gone.
  it("at a spare's name beyond the number kept, only this stream's files are deleted when the log opens (a "
     .. "hard link: this name only); a user's file, another stream's generation, a damaged header stay byte "
     .. "for byte", function()
    local other = w:path("other")
    local ot, _, _, oi = w:table_at(other, "app.edb", { log_file_size = 64 })
    H.roll(ot, other, 3)
    oi:term({ complete = true })
    local dir = w:path("d")
    local old = past_spares(dir)
    local g = ese.file_info(dir .. "/edb.log").generation
    local cur = H.read_file(dir .. "/edb.log")
    -- one of this stream's retired generations at a name beyond N too
    H.write_file(dir .. "/edbspare11.log", H.read_file(dir .. "/" .. old[1]))
    local user = ("my notes, not a log\n"):rep(4000)
    local planted = {
      ["edbspare12.log"] = user,
      ["edbspare13.log"] = H.read_file(other .. "/" .. H.log_name(2)),   -- another stream's, below g
      ["edbspare14.log"] = cur:sub(1, 12) .. string.pack("<I4", g + 5) .. cur:sub(17),   -- not below g
    }
    for name, data in pairs(planted) do H.write_file(dir .. "/" .. name, data) end
    local linked = w:path("archived.log")                            -- this stream's, with another name
    H.write_file(linked, H.read_file(dir .. "/" .. old[1]))
    assert(os.execute(("ln %s %s"):format(H.q(linked), H.q(dir .. "/edbspare15.log"))))
    local linked_bytes = H.read_file(linked)
    -- checkpoint_depth 0 with 64 KiB files: one spare (log.h log_spares)
    local inst2 = w:open(nil, circular(dir))
    for name, data in pairs(planted) do
      assert.is_true(H.read_file(dir .. "/" .. name) == data, name .. " is unchanged")
    end
    assert.is_false(H.exists(dir .. "/edbspare11.log"), "this stream's retired generation beyond N is deleted")
    assert.is_false(H.exists(dir .. "/edbspare15.log"), "this stream's hard link beyond N is deleted")
    assert.is_true(H.read_file(linked) == linked_bytes, "the other name keeps the file")
    for _, name in ipairs(old) do
      if name ~= "edbspare1.log" then assert.is_false(H.exists(dir .. "/" .. name), name .. " deleted") end
    end
    local t2 = H.open_table(inst2, dir)
    H.roll(t2, dir, 3, "again")
    for name, data in pairs(planted) do
      assert.is_true(H.read_file(dir .. "/" .. name) == data, name .. " is unchanged after rolls")
    end
    inst2:term({ complete = true })
  end)

  -- The child: an instance on arg[1] (64 KiB logs), three rolls, a clean end.
  local ROLLS = [[
    local ese = require "ese"
    local H = require "support.helpers"
    local dir = arg[1]
    local inst = ese.create_instance("swap", { system_path = dir, log_path = dir, log_file_size = 64 })
    inst:init()
    H.roll(H.open_table(inst, dir), dir, 3, "after")
    inst:term({ complete = true })
  ]]

  -- take_spare checks a spare through its open descriptor, then renames it
  -- by name to edbtmp.log.  ESE_FAULT=swap (csrc/os.h) puts another file at
  -- the spare's name right before that rename, as another process of the
  -- same user can.  On 9eab254 the log took the swapped-in file, never
  -- checked, for the next generation: the roll wrote its header into it.
  -- Until mend14 the file the rename moved was then removed at
  -- edbtmp.log (a new file made there): its bytes stayed only under the
  -- other name the test gave it; now it goes back to the spare's name.
  it("a file swapped in at a spare's name between its checks and its rename to edbtmp.log is never written "
     .. "nor removed: it goes back to the spare's name, a new file is made instead, the rolls go on, every closed "
     .. "generation verifies", function()
    local dir = w:path("s")
    local t, _, _, inst = w:table_at(dir, "app.edb", { log_file_size = 64 })
    H.roll(t, dir, 3)
    inst:term({ complete = true })
    H.write_file(dir .. "/edbspare1.log", H.read_file(dir .. "/" .. H.log_name(1)))   -- below the current one
    local victim, keep = w:path("victim.log"), w:path("victim.keep")
    local bytes = ("never checked, never written\n"):rep(4096):sub(1, 65536)
    H.write_file(victim, bytes)
    assert(os.execute(("ln %s %s"):format(H.q(victim), H.q(keep))))   -- its bytes seen under another name
    local code, _, err = H.lua_child(ROLLS, { dir }, "ESE_FAULT=swap:edbspare1.log:" .. H.q(victim))
    assert.are.equal(0, code, err)
    assert.is_false(H.exists(victim), "the swap took place")
    assert.is_true(H.read_file(keep) == bytes, "the swapped-in file is unchanged")
    assert.is_true(H.read_file(dir .. "/edbspare1.log") == bytes, "and back at the spare's name")
    local inst2 = w:open(nil, { system_path = dir, log_path = dir, log_file_size = 64 })
    H.roll(H.open_table(inst2, dir), dir, 2, "again")
    inst2:term({ complete = true })
    assert.is_true(H.read_file(dir .. "/edbspare1.log") == bytes, "left alone by the next run")
    for name in pairs(H.log_files(dir)) do
      local ok, e = pcall(ese.file_info, dir .. "/" .. name, true)
      assert.is_true(ok, name .. ": " .. tostring(e and (e.detail or e.name) or e))
    end
    H.verified(dir .. "/app.edb", "after the rolls")
  end)
end)

describe("log recycling with a log archive and a restore to a point in time", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- The phases' keys of a restored folder: { [phase] = count }.
  local function phases(dest)
    local n = {}
    for k in pairs(H.restored_keys(w, dest)) do
      local p = k:match("^(p%d)_")
      if p then n[p] = (n[p] or 0) + 1 end
    end
    return n
  end

  it("every archived generation of a recycling stream verifies; a set plus the archive restores exactly to a "
     .. "time, into a new folder and over the live one (its spares and later generations there)", function()
    local dir, set, arch = w:path("live"), w:path("set"), w:path("arch")
    local params = { system_path = dir, log_path = dir, circular_log = true, log_file_size = 64,
                     checkpoint_depth = 0, archive_path = arch }
    local inst = w:open(nil, params)
    local s = inst:begin_session()
    local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
    for i = 1, 20 do t:put(("base%03d"):format(i), "b") end
    require("ese.backup").run(inst, set)
    local marks = {}
    for p = 1, 3 do                              -- each phase over several rolls: files recycled meanwhile
      for i = 1, 30 do t:put(("p%d_%03d"):format(p, i), ("v"):rep(400)) end
      H.roll(t, dir, 3, "roll" .. p)
      marks[p] = H.time_mark()
    end
    H.roll(t, dir, 1, "tail")
    local cur = ese.file_info(dir .. "/edb.log").generation
    H.wait_until(function()                      -- the archive ships every closed generation
      local st = inst:archive_status()
      return st.pending == 0 and st.shipped_generation == cur - 1
    end)
    assert.are.equal(cur - 1, inst:archive_status().shipped_generation)
    local shipped = 0
    for name in pairs(H.ls(arch)) do
      if H.log_gen(name) then
        local ok, e = pcall(ese.file_info, arch .. "/" .. name, true)
        assert.is_true(ok, name .. ": " .. tostring(e and (e.detail or e.name) or e))
        shipped = shipped + 1
      end
    end
    assert.is_true(shipped >= 10, "shipped: " .. shipped)
    inst:term({ complete = true })
    if #spares(dir) == 0 then                    -- taken as edbtmp.log at the end: one of this stream's instead
      H.write_file(dir .. "/edbspare1.log", H.read_file(arch .. "/" .. H.log_name(2)))
    end
    for p = 1, 2 do
      local dest = w:path("dest" .. p)
      local r = ese.restore(set, dest, { archive_path = arch, to_time = marks[p] })
      assert.is_true(r.reached)
      local n = phases(dest)
      assert.are.equal(30, n.p1)
      assert.are.equal(p == 2 and 30 or nil, n.p2)
      assert.is_nil(n.p3)
    end
    -- over the live folder (its spare, archived generations after the
    -- time); the stream goes on from there (a new timeline: not into the
    -- old archive, which holds the old one's generations of those numbers)
    ese.restore(set, dir, { archive_path = arch, to_time = marks[1], overwrite = true })
    params.archive_path = nil
    local inst2 = w:open(nil, params)
    local t2 = H.open_table(inst2, dir)
    assert.is_nil(t2:get("p2_001"))
    assert.is_truthy(t2:get("p1_030"))
    H.roll(t2, dir, 6, "after")
    inst2:term({ complete = true })
    local n = phases(dir)
    assert.are.equal(30, n.p1)
    assert.is_nil(n.p2)
    for name in pairs(H.log_files(dir)) do
      if H.log_gen(name) then
        local ok, e = pcall(ese.file_info, dir .. "/" .. name, true)
        assert.is_true(ok, name .. ": " .. tostring(e and (e.detail or e.name) or e))
      end
    end
  end)
end)

describe("log recycling under threads (C harness)", function()
  it("recycle_threads: writers commit while full backups truncate, with circular logging, 64 KiB logs and a "
     .. "checkpoint at every roll, killed three times: every commit back, every closed generation (folder, "
     .. "archive, backup set) verifies, at most one spare, the last backup restores, also over the folder", function()
    local ok, out, last = H.run_harness("recycle_threads", "3 3")
    assert.is_true(ok, "recycle_threads failed:\n" .. out)
    assert.matches("^recycle_threads: ok", last)
    -- round 2's 20 or more generations closed: shipped, or still in the
    -- folder (circular logging keeps what the archive has not shipped)
    local kept, shipped = out:match("round 2: .- (%d+) closed generations verified in the folder, (%d+) shipped")
    assert.is_true(kept ~= nil and tonumber(kept) + tonumber(shipped) >= 20, out)
  end)
end)
