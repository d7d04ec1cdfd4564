-- The last generation of a chain and its end record (session 18, endrule18).
-- logend18 made a roll close a generation with an end record (LR_END, log
-- feature bit 5) and held a generation to it only when a successor was
-- read after it.  The last generation of what was read was not held to it:
-- the tail of the highest numbered file of an archive (of a fetch, of a
-- set) zeroed from a record boundary read as a whole, shorter generation,
-- and a restore succeeded at the cut with those commits dropped silently;
-- backup.verify and `ese check` of such a set said it was whole.  A numbered
-- file (edbXXXXXXXX.log) is named only by the roll that closed it, after
-- its end record: with bit 5 every reader now requires it, the last one
-- too.  Every case here but the last (files without bit 5, as before)
-- failed before.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

local E = require "support.endmark"
local roll, txn, offsets, zero_from = E.roll, E.txn, E.offsets, E.zero_from

describe("a numbered log generation with the end-record bit is closed", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- t at "old" in a full set (w/full), then generations holding commits
  -- "A", "B", "C" of t, each rolled and archived into w/arc; the instance
  -- ended.  Returns the highest archived generation, the one holding "C".
  local function history()
    local t, s, _, inst = w:table({ log_file_size = 64, archive_path = w:path("arc"), archive_timeout = 0,
                                    archive_retry_max = 50 })
    for i = 1, 5 do t:put("k" .. i, "old") end
    backup.run(inst, w:path("full"))
    for _, v in ipairs({ "A", "B", "C" }) do
      roll(inst)
      txn(s, t, v)
    end
    roll(inst)
    local last = ese.file_info(w:path("edb.log")).generation - 1
    assert(H.wait_until(function() return inst:archive_status().shipped_generation >= last end), "not shipped")
    inst:term()
    local hi = last
    while H.exists(w:path("arc/" .. H.log_name(hi + 1))) do hi = hi + 1 end
    return hi
  end

  local function k1(dir)
    local inst = w:open(nil, { system_path = dir, log_path = dir, log_file_size = 64 })
    local v = H.open_table(inst, dir):get("k1")
    inst:term()
    return v
  end

  -- The archive's last generation hi cut from the record of commit "C" on
  -- (it holds nothing else of t after it): a restore with these options
  -- is refused, naming it, and dest (restored from the set before) stays
  -- as it was with overwrite.
  local function refused(hi, opts)
    backup.restore({ w:path("full") }, w:path("dest"))
    local before = H.read_file(w:path("dest/app.edb"))
    local listing = H.ls(w:path("dest"))
    local e = H.expect_jet("JET_errLogCorruptDuringHardRestore", backup.restore, { w:path("full") }, w:path("r"),
                           opts)
    assert.matches(H.log_name(hi), e.detail, 1, true)
    assert.matches("lacks its end record", e.detail, 1, true)
    opts.overwrite = true
    e = H.expect_jet("JET_errLogCorruptDuringHardRestore", backup.restore, { w:path("full") }, w:path("dest"), opts)
    assert.matches(H.log_name(hi), e.detail, 1, true)
    assert.are.equal(before, H.read_file(w:path("dest/app.edb")))
    assert.are.same(listing, H.ls(w:path("dest")))
    assert.are.equal("old", k1(w:path("dest")))
  end

  it("the hostile's case: the highest archived file cut at a record boundary, restore with archive_path",
    function()
      local hi = history()
      local arc = w:path("arc")
      -- whole: the restore takes every commit
      local r = backup.restore({ w:path("full") }, w:path("whole"), { archive_path = arc })
      assert.are.equal(hi, r.last_generation)
      assert.are.equal("C", k1(w:path("whole")))
      local cut = offsets(arc, hi, "C")
      assert.is_not_nil(cut, "generation hi holds commit C")
      zero_from(arc .. "/" .. H.log_name(hi), cut)
      refused(hi, { archive_path = arc })
      -- ese.file_info with verify fails and says end_record = false; `ese logs --verify` names it
      local e = H.expect_jet("JET_errLogFileCorrupt", ese.file_info, arc .. "/" .. H.log_name(hi), true)
      assert.is_false(e.end_record)
      assert.matches("lacks its end record", e.detail, 1, true)
      local code, out, err = H.lua_run("bin/ese", { "logs", "--verify", arc })
      assert.are_not.equal(0, code)
      assert.matches(H.log_name(hi), out .. err, 1, true)
    end)

  it("the same cut fetched by restore_command", function()
    local hi = history()
    local arc = w:path("arc")
    zero_from(arc .. "/" .. H.log_name(hi), (offsets(arc, hi, "C")))
    refused(hi, { restore_command = "cp " .. arc .. "/%f %p" })
  end)

  it("a set's last log without its end record: backup.verify, ese check and a restore refuse", function()
    local t, s, _, inst = w:table({ log_file_size = 64 })
    for i = 1, 5 do t:put("k" .. i, "old") end
    txn(s, t, "S")
    backup.run(inst, w:path("full"))
    inst:term()
    local set = w:path("full")
    local hi = 0
    for name in pairs(H.log_files(set)) do
      local g = name:match("^edb(%x+)%.log$")
      if g then hi = math.max(hi, tonumber(g, 16)) end
    end
    assert.is_true(hi > 0)
    backup.verify(set)
    local _, fin = offsets(set, hi, nil)
    assert.is_not_nil(fin, "the set's last log ends in its end record")
    -- the end record zeroed (no record of the set lost: the case a record boundary before it makes worse);
    -- the manifest goes, so that no SHA-256 of it can tell: a set written step by step has none
    zero_from(set .. "/" .. H.log_name(hi), fin)
    assert(os.remove(set .. "/manifest.json"))
    local e = H.expect_jet("JET_errLogFileCorrupt", backup.verify, set)
    assert.matches(H.log_name(hi), e.detail, 1, true)
    local code, out, err = H.lua_run("bin/ese", { "check", set })
    assert.are_not.equal(0, code)
    assert.matches(H.log_name(hi), out .. err, 1, true)
    code, out, err = H.lua_run("bin/ese", { "check", set .. "/" .. H.log_name(hi) })
    assert.are_not.equal(0, code)
    assert.matches("lacks its end record", out .. err, 1, true)
    -- backup.restore verifies the set first
    e = H.expect_jet("JET_errLogFileCorrupt", backup.restore, { set }, w:path("r"))
    assert.matches(H.log_name(hi), e.detail, 1, true)
    assert.is_false(H.exists(w:path("r/app.edb")))
    -- a compressed set's NAME.zst of it: the same
    local zset = w:path("zset")
    ese.fs.mkdir(zset)
    local data = H.read_file(set .. "/" .. H.log_name(hi))
    H.write_zst(zset .. "/" .. H.log_name(hi) .. ".zst", data)
    e = H.expect_jet("JET_errLogFileCorrupt", ese.file_info, zset .. "/" .. H.log_name(hi) .. ".zst", true)
    assert.is_false(e.end_record)
  end)

  it("files without bit 5 (made before it) read as before: no end record required", function()
    local hi = history()
    local arc = w:path("arc")
    local path = arc .. "/" .. H.log_name(hi)
    local _, fin = offsets(arc, hi, nil)
    assert.is_not_nil(fin)
    zero_from(path, fin)
    -- bit 5 cleared, the header resealed (the records' CRCs do not depend on it)
    local data = H.read_file(path)
    local features = string.unpack("<I4", data, 57)
    assert.are.equal(32, features & 32)
    local hdr = data:sub(5, 56) .. string.pack("<I4", features & ~32) .. data:sub(61, 4096)
    H.write_file(path, string.pack("<I4", H.crc32c(hdr, 1, #hdr)) .. hdr .. data:sub(4097))
    local fi = ese.file_info(path, true)
    assert.is_nil(fi.end_record)
    local r = backup.restore({ w:path("full") }, w:path("r"), { archive_path = arc })
    assert.are.equal(hi, r.last_generation)
    assert.are.equal("C", k1(w:path("r")))
  end)
end)
