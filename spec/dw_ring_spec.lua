-- The double-write ring B.dwb (docs/format.md, "Double-write ring"): made
-- at init in the system folder at dw_size bytes plus a 4 KiB header, never
-- taken from another log stream, never shipped by a backup, and dropped by
-- a restore before it writes a database page.  The torn-page repair itself
-- is spec/c/dw_torn.c (harness_spec.lua).
local ese = require "ese"
local H = require "support.helpers"

local HDR = 4096
local MIN = 2 * (4096 + 32768)        -- two batches of one page of the largest page size

-- The content of every file of dir, by name.
local function snapshot(dir)
  local s = {}
  for name in pairs(H.ls(dir)) do
    local p = dir .. "/" .. name
    s[name] = H.read_file(p) or "?"
  end
  return s
end

describe("the double-write ring", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("init makes edb.dwb of dw_size bytes (default 16 MiB) plus its header; a clean term keeps it, "
     .. "another dw_size at the next init makes it anew at that size", function()
    local inst = w:open()
    assert.are.equal(16 * 1024 * 1024 + HDR, H.file_size(w:path("edb.dwb")))
    inst:term({ complete = true })
    assert.are.equal(16 * 1024 * 1024 + HDR, H.file_size(w:path("edb.dwb")))
    inst = w:open(nil, { dw_size = 1024 * 1024 })
    assert.are.equal(1024 * 1024 + HDR, H.file_size(w:path("edb.dwb")))
    inst:term({ complete = true })
  end)

  it("dw_size: not a multiple of 4096, below two batches of a 32 KiB page or above 1 GiB is "
     .. "JET_errInvalidParameter, nothing made", function()
    for _, bad in ipairs({ MIN + 1, MIN - 4096, 1024 * 1024 * 1024 + 4096, 0 }) do
      H.expect_jet("JET_errInvalidParameter", ese.create_instance, H.name(), H.params(w.dir, { dw_size = bad }))
    end
    assert.is_nil(H.exists(w:path("edb.dwb")) or nil)
    local inst = w:open(nil, { dw_size = MIN })
    assert.are.equal(MIN + HDR, H.file_size(w:path("edb.dwb")))
    -- the smallest ring still works: one page per batch, a sync of the databases at each wrap
    local s = inst:begin_session()
    local t = s:create_table(s:create_database(w:path("app.edb")), "t")
    H.fill(t, 300, "k", 300)
    inst:term({ complete = true })
    assert.are.equal(300, H.count_keys(w, w.dir, "k"))
  end)

  it("a B.dwb of another log stream: init refuses with JET_errBadLogSignature naming the file, "
     .. "and writes nothing (an existing stream and a new one); of another page size: JET_errPageSizeMismatch",
     function()
    local other = w:path("other")
    local a = w:track(ese.create_instance(H.name(), H.params(other)))
    a:init()
    a:term({ complete = true })
    local inst = w:open()
    inst:term({ complete = true })
    H.write_file(w:path("edb.dwb"), H.read_file(other .. "/edb.dwb"))
    local before = snapshot(w.dir)
    local e = H.expect_jet("JET_errBadLogSignature", function() w:open() end)
    assert.matches("edb.dwb: B.dwb belongs to another log stream", e.detail, 1, true)
    assert.are.same(before, snapshot(w.dir))
    -- a ring made for another page size
    local small = w:path("small")
    local b = w:track(ese.create_instance(H.name(), H.params(small, { page_size = 4096 })))
    b:init()
    b:term({ complete = true })
    H.write_file(w:path("edb.dwb"), H.read_file(small .. "/edb.dwb"))
    before = snapshot(w.dir)
    e = H.expect_jet("JET_errPageSizeMismatch", function() w:open() end)
    assert.matches("edb.dwb: B.dwb was made for another page size", e.detail, 1, true)
    assert.are.same(before, snapshot(w.dir))
    -- a folder without logs (a new stream) that holds another stream's ring
    local fresh = w:path("fresh")
    assert(os.execute("mkdir -p " .. H.q(fresh)))
    H.write_file(fresh .. "/edb.dwb", H.read_file(other .. "/edb.dwb"))
    H.expect_jet("JET_errBadLogSignature", function()
      w:track(ese.create_instance(H.name(), H.params(fresh))):init()
    end)
    assert.is_nil(H.exists(fresh .. "/edb.log") or nil)
    assert.is_nil(H.exists(fresh .. "/edb.chk") or nil)
  end)

  it("a garbled, empty or cut edb.dwb, or a folder or link in its place, never crashes init: a named error, "
     .. "the file untouched",
     function()
    local inst = w:open()
    inst:term({ complete = true })
    local good = H.read_file(w:path("edb.dwb"))
    local cases = {
      { "JET_errFileInvalidType", "" },
      { "JET_errFileInvalidType", ("\xA5"):rep(8192) },
      { "JET_errReadVerifyFailure", good:sub(1, 64 * 1024) },
      -- both header slots fail their checksum (a byte of each changed)
      { "JET_errReadVerifyFailure", good:sub(1, 20) .. "\1" .. good:sub(22, 2068) .. "\1" .. good:sub(2070) },
    }
    for _, c in ipairs(cases) do
      H.write_file(w:path("edb.dwb"), c[2])
      H.expect_jet(c[1], function() w:open() end)
      assert.are.equal(c[2], H.read_file(w:path("edb.dwb")))
    end
    -- a folder or a symbolic link in its place: JET_errInvalidPath, never followed
    os.remove(w:path("edb.dwb"))
    assert(os.execute("mkdir " .. H.q(w:path("edb.dwb"))))
    local e = H.expect_jet("JET_errInvalidPath", function() w:open() end)
    assert.matches("edb.dwb: B.dwb is not a regular file", e.detail, 1, true)
    assert(os.execute("rmdir " .. H.q(w:path("edb.dwb")) .. " && ln -s /etc/passwd " .. H.q(w:path("edb.dwb"))))
    H.expect_jet("JET_errInvalidPath", function() w:open() end)
    os.remove(w:path("edb.dwb"))
    -- one slot damaged: the other one serves (a torn header write)
    H.write_file(w:path("edb.dwb"), good:sub(1, 20) .. "\1" .. good:sub(22))
    w:open():term({ complete = true })
    H.write_file(w:path("edb.dwb"), good)
    w:open():term({ complete = true })
  end)

  it("a streamed backup ships no edb.dwb, and a restore over a folder that has one (overwrite) removes it "
     .. "before it writes a page: the restored state, not the ring's", function()
    local set_dir = w:path("set")
    local set, t, _, _, inst = w:base_set(set_dir)
    assert.is_truthy(#set.dbs > 0)
    for name in pairs(H.ls(set_dir)) do assert.is_nil(name:match("%.dwb$"), name) end
    H.fill(t, 50, "after")
    local dest = w:path("dest")
    assert(os.execute("mkdir -p " .. H.q(dest)))
    H.write_file(dest .. "/edb.dwb", H.read_file(w:path("edb.dwb")))   -- the live stream's ring
    inst:term({ complete = true })
    ese.restore(set_dir, dest, { overwrite = true })
    assert.is_nil(H.exists(dest .. "/edb.dwb") or nil)
    assert.are.equal(20, H.count_keys(w, dest, "base"))
    assert.are.equal(0, H.count_keys(w, dest, "after"))
    assert.is_truthy(H.exists(dest .. "/edb.dwb"))       -- the instance that opened dest made its own
  end)
end)
