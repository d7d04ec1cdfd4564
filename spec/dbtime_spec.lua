-- Database format 2 (issue 9, step S1): every page carries the dbtime of
-- the commit that last changed it, the header's dbtime_last bounds them
-- all across term, crash, backup and restore, and a format 1 database
-- (spec/fixtures/db-v1, made by the engine before format 2) is refused
-- with JET_errInvalidDatabaseVersion before anything is written.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

local PAGE = 8192
local FIXTURES = "spec/fixtures/db-v1/"

-- The highest dbtime of the data pages of the database file at path
-- (pages 2 on; a streamed copy's trailer, a header page, is passed over),
-- and how many data pages there are.
local function max_page_dbtime(path)
  local data = assert(H.read_file(path))
  local max, n = 0, 0
  for off = 2 * PAGE, #data - PAGE, PAGE do
    if data:byte(off + 17) ~= 1 then                -- offset 16: the page type (1: a header)
      n = n + 1
      local t = string.unpack("<I8", data, off + 9)  -- offset 8: the page's dbtime
      if t > max then max = t end
    end
  end
  return max, n
end

-- The fixture file name copied into the world's folder as `as`.
local function fixture(w, name, as)
  local path = w:path(as or name)
  H.write_file(path, assert(H.read_file(FIXTURES .. name)))
  return path
end

describe("dbtime: pages carry the commit's dbtime, the header bounds them", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- One record put into table t of the database at path (attached first),
  -- then a clean term.
  local function put_one(path, k)
    local inst = w:open()
    local s = inst:begin_session()
    s:attach_database(path)
    local db = s:open_database(path)
    local t = s:open_table(db, "t")
    t:put(k, "v" .. k)
    t:close()
    db:close()
    s:end_session()
    inst:term({ complete = true })
  end

  it("is format 4 in the header and file_info; a clean term writes the exact last dbtime, +1 per commit", function()
    local _, s, _, inst = w:table()
    s:end_session()
    inst:term({ complete = true })
    local path = w:path("app.edb")
    local h = H.db_header(path)
    assert.are.equal("ESEDB\0\0\4", h.magic)   -- format 4: format 3's fields and the clean point
    local fi = ese.file_info(path, true)
    assert.are.equal(4, fi.format_version)
    assert.are.equal(h.dbtime_last, fi.dbtime_last)
    local last = h.dbtime_last
    assert.is_true(last > 0)
    local code, out = H.lua_run("bin/ese", { "info", path })
    assert.are.equal(0, code)
    assert.matches("format%s+4\n", out)
    assert.matches("dbtime%s+" .. last .. " ", out)
    assert.are.equal(last, (max_page_dbtime(path)))
    for i = 1, 3 do
      put_one(path, "k" .. i)
      local now = H.db_header(path).dbtime_last
      assert.are.equal(last + 1, now, "one commit, one dbtime")
      assert.are.equal(now, (max_page_dbtime(path)), "the last commit's pages carry it")
      last = now
    end
  end)

  it("survives a crash: after soft recovery dbtime_last bounds every page and keeps growing", function()
    local t, _, _, inst = w:table()
    for i = 1, 50 do t:put(("k%03d"):format(i), ("x"):rep(300)) end
    inst:term()                                   -- abrupt: a crash
    local path = w:path("app.edb")
    assert.are.equal(H.DB_DIRTY, H.db_header(path).state)
    local i2 = w:open()                           -- soft recovery
    i2:term({ complete = true })
    local h = H.db_header(path)
    assert.are.equal(H.DB_CLEAN, h.state)
    local max, n = max_page_dbtime(path)
    assert.is_true(n >= 3)
    assert.is_true(max >= 51, "the replayed commits' dbtimes are on the pages: " .. max)
    assert.is_true(h.dbtime_last >= max, ("dbtime_last %d < page %d"):format(h.dbtime_last, max))
    put_one(path, "after")
    local h2 = H.db_header(path)
    assert.is_true(h2.dbtime_last > h.dbtime_last)
    assert.are.equal(h2.dbtime_last, (max_page_dbtime(path)))
  end)

  it("renews the header's reservation: a crash right after a checkpoint leaves dbtime_last above every page", function()
    local t, s, _, inst = w:table()
    for i = 1, 4200 do t:put(("k%05d"):format(i), "x") end   -- past the first reservation (4096)
    local other = w:path("other.edb")
    s:create_database(other):close()
    s:detach_database(other)                      -- a checkpoint: every page of app.edb is written
    inst:term()                                   -- a crash with nothing of app.edb to replay
    local path = w:path("app.edb")
    local max = max_page_dbtime(path)
    assert.is_true(max > 4096, "pages carry dbtimes past the first reservation: " .. max)
    local i2 = w:open()                           -- soft recovery
    i2:term({ complete = true })
    local h = H.db_header(path)
    assert.are.equal(H.DB_CLEAN, h.state)
    assert.is_true(h.dbtime_last >= max, ("dbtime_last %d < page %d"):format(h.dbtime_last, max))
    put_one(path, "after")
    assert.is_true(H.db_header(path).dbtime_last > max)
  end)

  it("survives backup and restore: the copy and the restored file bound their pages, commits go on above", function()
    local t, _, _, inst = w:filled_table(20, "base")
    local set = w:path("set")
    backup.run(inst, set)
    for i = 1, 10 do t:put(("after%02d"):format(i), "a") end   -- not in the set
    local live_max = H.db_header(w:path("app.edb")).dbtime_last
    inst:term({ complete = true })
    local copy = set .. "/app.edb"
    local ch = H.db_header(copy)
    assert.is_true(ch.dbtime_last >= (max_page_dbtime(copy)))
    local data = assert(H.read_file(copy))
    local trailer = H.db_header(data:sub(#data - PAGE + 1))   -- the trailer: dbtime_last when the stream ended
    assert.is_true(trailer.dbtime_last >= ch.dbtime_last)
    assert.is_true(ese.file_info(copy, true).verified)
    local dest = w:path("dest")
    ese.restore(set, dest)
    local restored = dest .. "/app.edb"
    local rh = H.db_header(restored)
    assert.are.equal(H.DB_CLEAN, rh.state)
    local max = max_page_dbtime(restored)
    assert.is_true(max >= 21, "the restored pages carry the set's dbtimes: " .. max)
    assert.is_true(rh.dbtime_last >= max)
    assert.is_true(live_max >= rh.dbtime_last, "the restore never goes past the live database")
    put_one(restored, "restored")
    local h2 = H.db_header(restored)
    assert.is_true(h2.dbtime_last > rh.dbtime_last)
    assert.are.equal(h2.dbtime_last, (max_page_dbtime(restored)))
  end)
end)

describe("replay checks page versions (C harness redo_dbtime)", function()
  it("the dbtime rule: a page at its commit's dbtime or later is skipped (nothing written, also a whole log "
    .. "group replayed twice), a difference applies only to a page carrying its base, else JET_errDbTimeTooOld "
    .. "(-566) or JET_errDbTimeTooNew (-567), a commit applies whole or not at all, a difference onto a page that "
    .. "fails verification is JET_errReadVerifyFailure, a whole page image (log format 3's type 1), a commit "
    .. "without its time (format 3) or without database times (written before format 2) never apply: named errors, "
    .. "files unchanged, in soft recovery and restore; ese check bounds every page by the header's dbtime_last",
    function()
    local lines = {}
    for _, mode in ipairs({ "", " (restore)" }) do
      for _, case in ipairs({ "too-new", "too-old", "unknown-type", "v1-attach", "newer-diff",
                              "atomic", "image", "old", "no-time", "none", "bad-page" }) do
        lines[#lines + 1] = "redo_dbtime: " .. case .. mode .. ": ok"
      end
    end
    for _, case in ipairs({ "apply", "twice", "twice (restore)", "check" }) do
      lines[#lines + 1] = "redo_dbtime: " .. case .. ": ok"
    end
    lines[#lines + 1] = "redo_dbtime: ok"
    H.expect_harness("redo_dbtime", "", lines)
  end)
end)

describe("a database of format 1 (spec/fixtures/db-v1) is JET_errInvalidDatabaseVersion (-1209)", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("attach refuses it naming the format, every byte unchanged", function()
    local path = fixture(w, "v1.edb")
    local before = H.read_file(path)
    local inst = w:open()
    local s = inst:begin_session()
    local e = H.expect_jet("JET_errInvalidDatabaseVersion", s.attach_database, s, path)
    assert.matches("database format 1, this engine reads formats 3 to 4", e.detail, 1, true)
    assert.are.equal(before, H.read_file(path))
    s:end_session()
    inst:term({ complete = true })
    assert.are.equal(before, H.read_file(path))
  end)

  it("soft recovery refuses it where the log names the database, every byte unchanged", function()
    local t, _, _, inst = w:table()
    t:put("k", "v")
    inst:term()                                   -- a crash: the log names app.edb, created in it
    local path = fixture(w, "v1.edb", "app.edb")
    local before = H.read_file(path)
    local i2 = w:create()
    local e = H.expect_jet("JET_errInvalidDatabaseVersion", i2.init, i2)
    assert.matches("app.edb", e.detail, 1, true)
    assert.are.equal(before, H.read_file(path))
  end)

  it("a restore refuses a format 1 streamed copy before it writes anything", function()
    local _, _, _, inst = w:filled_table(5, "base")
    local set = w:path("set")
    assert(os.execute("mkdir -p " .. H.q(set)))
    H.backup(inst, set)                           -- step by step: no manifest
    inst:term({ complete = true })
    local copy = set .. "/app.edb"
    H.write_file(copy, assert(H.read_file(FIXTURES .. "v1-copy.edb")))
    local before = H.read_file(copy)
    local dest = w:path("dest")
    local e = H.expect_jet("JET_errInvalidDatabaseVersion", ese.restore, set, dest)
    assert.matches("database format 1, this engine reads formats 3 to 4", e.detail, 1, true)
    assert.are.equal(before, H.read_file(copy))
    assert.is_false(H.exists(dest), "the destination is not even made")
  end)

  it("file_info and `ese check` / `ese info` name the error and the format of the file and the copy", function()
    for _, name in ipairs({ "v1.edb", "v1-copy.edb" }) do
      local path = fixture(w, name)
      local before = H.read_file(path)
      for _, verify in ipairs({ false, true }) do
        local e = H.expect_jet("JET_errInvalidDatabaseVersion", ese.file_info, path, verify)
        assert.matches(name .. ": database format 1, this engine reads formats 3 to 4", e.detail, 1, true)
      end
      for _, cmd in ipairs({ "check", "info" }) do
        local code, _, err = H.lua_run("bin/ese", { cmd, path })
        assert.are_not.equal(0, code)
        assert.matches("JET_errInvalidDatabaseVersion", err, 1, true)
        assert.matches("database format 1", err, 1, true)
      end
      assert.are.equal(before, H.read_file(path))
    end
  end)
end)
