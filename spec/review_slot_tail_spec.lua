-- Hostile review of one write per durable commit (log feature bit 2): the
-- last block of a running or crashed instance's B.log may hold its durable
-- bytes in a shadow slot only.  Every reader of such a B.log must apply
-- the slot rule (docs/format.md, "Shadow slots").
local ese = require "ese"
local H = require "support.helpers"

-- A crash image of dir's logs: B.log and the archived generations copied
-- (byte for byte, as they are on disk now) into a new folder.
local function log_image(w, name)
  local dst = w:path(name)
  assert(os.execute("mkdir -p " .. H.q(dst)))
  for f in pairs(H.ls(w.dir)) do
    if f:match("^edb.*%.log$") then H.write_file(dst .. "/" .. f, H.read_file(w.dir .. "/" .. f)) end
  end
  return dst
end

describe("review: B.log's last block in a slot only", function()
  local w, t, inst, set_dir

  before_each(function()
    w = H.world()
    set_dir = w:path("set")
    local _
    _, t, _, _, inst = w:base_set(set_dir)
  end)
  after_each(function() w:cleanup() end)

  it("a restore with live_log_path of a running (crashed) instance's folder replays the commits whose "
     .. "bytes are in a shadow slot only", function()
    H.fill(t, 3, "after", 40)                 -- small commits: they stay in B.log's last block
    local image = log_image(w, "image")       -- the folder as a crash would leave it
    inst:term({ complete = true })
    ese.restore(set_dir, w:path("dest"), { live_log_path = image })
    assert.are.equal(20, H.count_keys(w, w:path("dest"), "base"))
    assert.are.equal(3, H.count_keys(w, w:path("dest"), "after"))
  end)

  -- Bytes at offset off of file path replaced by s.
  local function poke(path, off, s)
    local f = assert(io.open(path, "r+b"))
    f:seek("set", off)
    f:write(s)
    f:close()
  end

  it("live_log_path: bytes after the live B.log's durable end (a torn tail) are cut, as recovery cuts them; "
     .. "the commits before them are replayed", function()
    H.fill(t, 3, "after", 40)
    local image = log_image(w, "image")
    inst:term({ complete = true })
    local size = H.file_size(image .. "/edb.log")
    poke(image .. "/edb.log", size - 4096, ("\171"):rep(64))   -- garbage far after the end: a flush never returned
    ese.restore(set_dir, w:path("dest"), { live_log_path = image })
    assert.are.equal(3, H.count_keys(w, w:path("dest"), "after"))
    assert.are.equal(20, H.count_keys(w, w:path("dest"), "base"))
  end)

  it("live_log_path: a live B.log damaged before its durable end: JET_errLogCorruptDuringHardRestore (-573), "
     .. "found before anything is written", function()
    H.fill(t, 30, "after", 500)               -- records over several blocks: the slots hold the last ones
    local image = log_image(w, "image")
    inst:term({ complete = true })
    poke(image .. "/edb.log", 12288 + 12, "\255\255")   -- the first record's payload
    local e = H.expect_jet("JET_errLogCorruptDuringHardRestore", ese.restore, set_dir, w:path("dest"),
      { live_log_path = image })
    assert.are.equal("restore", e.op)
    assert.is_false(H.exists(w:path("dest")))   -- was: made, its logs copied, then the live log's copy failed
  end)
end)
