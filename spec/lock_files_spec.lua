-- The lock files B.lck (log folder, and system folder when it is another
-- one): init never opens one through a symbolic link (JET_errInvalidPath,
-- the link's target untouched and never created), and neither init nor a
-- restore ever locks an inode that another folder's B.lck shares (a hard
-- link, as `cp -al` of a stopped folder makes): once its lock is found
-- free, such a B.lck is replaced by a new file, so the copy and the
-- original run at once; a live holder of the shared lock is still found.
-- docs/format.md "Lock files", docs/backup.md "Where a restore writes".
local ese = require "ese"
local H = require "support.helpers"

-- "inode links mtime-with-nanoseconds size" of path (stat -L is not used:
-- a link is reported as the link).
local function stat(path)
  local p = assert(io.popen("stat -c '%i %h %y %s' " .. H.q(path) .. " 2>/dev/null"))
  local s = p:read("l")
  p:close()
  return s
end

local function inode(path) return (stat(path) or ""):match("^(%d+)") end
local function nlink(path) return tonumber((stat(path) or ""):match("^%d+ (%d+)")) end

local function sh(cmd) assert(os.execute(cmd), cmd) end

describe("lock files", function()
  local w, other

  before_each(function()
    w = H.world()
    other = H.tmpdir()
  end)
  after_each(function()
    w:cleanup()
    H.rmdir(other)
  end)

  -- Before (session 16) the archive folder's link was passed over: init
  -- went on, and the archive ran without its lock.
  it("init refuses edb.lck that is a symbolic link (dangling or to an existing file), in the log folder, in "
     .. "the system folder and in the archive folder: JET_errInvalidPath; the target untouched, a dangling target "
     .. "not created", function()
    local target = other .. "/target"
    H.write_file(target, "outside bytes")
    sh("touch -d '2001-02-03 04:05:06.123456789' " .. H.q(target))
    local before = stat(target)
    local missing = other .. "/missing"
    local sys, arc = w:path("sys"), w:path("arc")
    sh("mkdir -p " .. H.q(sys) .. " " .. H.q(arc))
    for _, case in ipairs({
      { link = w:path("edb.lck"), to = target, extra = nil },
      { link = w:path("edb.lck"), to = missing, extra = nil },
      { link = sys .. "/edb.lck", to = target, extra = { system_path = sys } },
      { link = sys .. "/edb.lck", to = missing, extra = { system_path = sys } },
      { link = arc .. "/edb.lck", to = target, extra = { archive_path = arc }, what = "log archive folder" },
      { link = arc .. "/edb.lck", to = missing, extra = { archive_path = arc }, what = "log archive folder" },
    }) do
      sh("rm -f " .. H.q(w:path("edb.lck")) .. " " .. H.q(sys .. "/edb.lck") .. " " .. H.q(arc .. "/edb.lck")
         .. " && ln -s " .. H.q(case.to) .. " " .. H.q(case.link))
      local inst = w:create(nil, case.extra)
      local e = H.expect_jet("JET_errInvalidPath", inst.init, inst)
      assert.matches("edb%.lck", e.detail or "")
      assert.matches(case.what or "", e.detail, 1, true)
      assert.is_false(H.exists(w:path("edb.log")), "refused before its recovery")
      assert.are.equal(before, stat(target))
      assert.are.equal("outside bytes", H.read_file(target))
      assert.is_false(H.exists(missing))
      assert.is_true(os.execute("test -L " .. H.q(case.link)) == true, "the link stays")
    end
  end)

  it("init on a cp -al copy of a stopped folder: the original and the copy run at once; each keeps its data",
     function()
    local t, s, _, inst = w:table()
    H.fill(t, 5, "orig")
    t:close()
    s:end_session()
    inst:term({ complete = true })
    local copy = other .. "/copy"
    sh("cp -al " .. H.q(w.dir) .. " " .. H.q(copy))
    assert.are.equal(inode(w:path("edb.lck")), inode(copy .. "/edb.lck"))
    local a = w:open()
    local b = w:track(ese.create_instance(H.name("copy"), H.params(copy)))
    b:init()                                   -- before: JET_errFileAccessDenied (one shared lock inode)
    assert.are_not.equal(inode(w:path("edb.lck")), inode(copy .. "/edb.lck"))
    assert.are.equal(1, nlink(copy .. "/edb.lck"))
    -- a third instance on either folder is still refused
    H.expect_jet("JET_errFileAccessDenied", w:create().init, w.instances[w.n])
    local c = w:track(ese.create_instance(H.name("copy"), H.params(copy)))
    H.expect_jet("JET_errFileAccessDenied", c.init, c)
    a:term({ complete = true })
    b:term({ complete = true })
  end)

  it("a B.lck hard-linked with a folder's where an instance runs: init still finds the holder "
     .. "(JET_errFileAccessDenied) and leaves the link", function()
    local a = w:open()
    sh("ln " .. H.q(w:path("edb.lck")) .. " " .. H.q(other .. "/edb.lck"))
    local b = w:track(ese.create_instance(H.name("copy"), H.params(other)))
    H.expect_jet("JET_errFileAccessDenied", b.init, b)
    assert.are.equal(inode(w:path("edb.lck")), inode(other .. "/edb.lck"))
    a:term({ complete = true })
    b:init()                                   -- the holder has gone: replaced, then locked
    assert.are.equal(1, nlink(other .. "/edb.lck"))
    assert.are.equal(1, nlink(w:path("edb.lck")))
    w:open():term({ complete = true })
    b:term({ complete = true })
  end)

  it("a hard-linked B.lck in the system folder (another folder than the log folder) is replaced too", function()
    local sys = w:path("sys")
    local a = w:open(nil, { system_path = sys })
    a:term({ complete = true })
    sh("ln " .. H.q(sys .. "/edb.lck") .. " " .. H.q(other .. "/edb.lck"))
    local held = ese.create_instance(H.name("other"), H.params(other))
    w:track(held)
    held:init()
    local b = w:open(nil, { system_path = sys })          -- before: JET_errFileAccessDenied
    assert.are.equal(1, nlink(sys .. "/edb.lck"))
    b:term({ complete = true })
    held:term({ complete = true })
  end)

  it("a restore with overwrite into a cp -al copy of a stopped folder gives the copy its own B.lck: "
     .. "instances on the original and the copy then run at once", function()
    local set_dir = other .. "/set"
    w:stopped_set(set_dir)
    local copy = other .. "/copy"
    sh("cp -al " .. H.q(w.dir) .. " " .. H.q(copy))
    ese.restore(set_dir, copy, { overwrite = true })
    assert.are.equal(1, nlink(copy .. "/edb.lck"))   -- before: 2, the original's inode
    assert.are_not.equal(inode(w:path("edb.lck")), inode(copy .. "/edb.lck"))
    local a = w:open()
    local keys = H.restored_keys(w, copy)             -- an instance on the copy while a runs
    assert.are.equal(20, H.count_prefix(keys, "base"))
    local b = w:track(ese.create_instance(H.name("copy"), H.params(copy)))
    b:init()
    a:term({ complete = true })
    b:term({ complete = true })
  end)
end)
