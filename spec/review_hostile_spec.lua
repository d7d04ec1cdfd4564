-- A hostile review of database format 2 (issue 9): files cut short, and
-- streamed copies whose pages contradict their trailer's dbtime_last.
-- Each case failed before its fix.
local ese = require "ese"
local H = require "support.helpers"

local PAGE = 8192

describe("`ese check` / file_info(verify) of a clean database cut short", function()
  local w, path, data
  before_each(function()
    w = H.world()
    local t, s, _, inst = w:table()
    H.fill(t, 60, "k", 300)                -- a few leaf pages past the space page
    t:close()
    s:end_session()
    inst:term({ complete = true })
    path = w:path("app.edb")
    data = assert(H.read_file(path))
  end)
  after_each(function() w:cleanup() end)

  it("is whole as written: verified", function()
    assert.is_true(#data // PAGE >= 5)
    assert.is_true(ese.file_info(path, true).verified)
  end)

  -- n bytes of the database as the file cut.edb: file_info(verify) and
  -- `ese check` both name JET_errDatabaseCorrupted with detail pattern.
  local function refused(n, pattern)
    local cut = w:path("cut.edb")
    H.write_file(cut, data:sub(1, n))
    local e = H.expect_jet("JET_errDatabaseCorrupted", ese.file_info, cut, true)
    assert.matches(pattern, e.detail)
    assert.is_truthy(ese.file_info(cut).page_size, "without verify the header still reads")
    local code, out, err = H.lua_run("bin/ese", { "check", cut })
    assert.are.equal(1, code, out)
    assert.matches("JET_errDatabaseCorrupted", err)
  end

  it("a partial last page: JET_errDatabaseCorrupted", function()
    refused(#data - 100, "is not whole pages")
    refused(2 * PAGE + 100, "is not whole pages")
  end)

  it("the header pair alone: JET_errDatabaseCorrupted", function()
    refused(2 * PAGE, "ends before its space page")
    refused(PAGE, "ends before its space page")
  end)

  it("its last pages missing: JET_errDatabaseCorrupted naming the space page's count", function()
    refused(#data - PAGE, "its space page counts " .. (#data // PAGE))
    refused(3 * PAGE, "3 pages of 8192 bytes")
  end)

  -- attach used to accept these: the missing page surfaced later, on a
  -- read, as JET_errReadVerifyFailure (open_table without a detail)
  it("attach refuses it (a partial or a missing last page) before it logs or writes anything", function()
    for _, n in ipairs({ #data - PAGE, #data - 100 }) do
      H.write_file(path, data:sub(1, n))
      local inst = w:open()
      local s = inst:begin_session()
      local e = H.expect_jet("JET_errDatabaseCorrupted", s.attach_database, s, path)
      assert.matches("cut short", e.detail)
      assert.are.equal(data:sub(1, n), H.read_file(path), "the file is unchanged")
      s:end_session()
      inst:term()
    end
  end)
end)

describe("a streamed copy whose page carries a dbtime above its trailer's dbtime_last", function()
  local w, set, copy
  before_each(function()
    w = H.world()
    local _, s, _, inst = w:filled_table(40, "base")
    set = w:path("set")
    H.backup(inst, set)                           -- the step-by-step API: no manifest, no SHA-256
    s:end_session()
    inst:term({ complete = true })
    copy = set .. "/app.edb"
    local data = assert(H.read_file(copy))
    local trailer = H.db_header(data:sub(#data - PAGE + 1))
    assert.is_true(ese.file_info(copy, true).verified)
    -- page 3, a data page, now claims a commit the trailer says never happened
    H.write_file(copy, H.restamp(data, 3, trailer.dbtime_last + 1000))
  end)
  after_each(function() w:cleanup() end)

  it("`ese check` of the file: JET_errDatabaseCorrupted naming the page", function()
    local e = H.expect_jet("JET_errDatabaseCorrupted", ese.file_info, copy, true)
    assert.matches("page 3 carries dbtime", e.detail)
  end)

  it("backup.verify of the set: JET_errDatabaseCorrupted, as `ese check` of the file", function()
    local e = H.expect_jet("JET_errDatabaseCorrupted", require("ese.backup").verify, set)
    assert.matches("page 3 carries dbtime", e.detail)
  end)

  it("ese.verify_pages given the file's dbtime_last: JET_errDatabaseCorrupted; without it only the checksums",
    function()
    local data = assert(H.read_file(copy))
    local fi = ese.file_info(copy)
    local chunk = data:sub(2 * PAGE + 1, 4 * PAGE)   -- pages 2 and 3
    assert.is_true(ese.verify_pages(copy, chunk, 2, PAGE, #data, fi.db_signature))
    local e = H.expect_jet("JET_errDatabaseCorrupted", ese.verify_pages, copy, chunk, 2, PAGE, #data, fi.db_signature,
      fi.dbtime_last)
    assert.matches("page 3 carries dbtime", e.detail)
    H.expect_argerror("a dbtime", ese.verify_pages, copy, chunk, 2, PAGE, #data, nil, -1)
    H.expect_argerror("number expected", ese.verify_pages, copy, chunk, 2, PAGE, #data, nil, "x")
  end)

  it("ese.restore refuses it: JET_errDatabaseCorrupted, never a restored database whose header bounds less "
     .. "than its pages", function()
    local dest = w:path("dest")
    local e = H.expect_jet("JET_errDatabaseCorrupted", ese.restore, set, dest)
    assert.matches("page 3", e.detail)
  end)
end)

describe("ese.log_follows at the end of the generation range", function()
  -- log_follows (csrc/log_reader.c) compared next->gen with prev->gen + 1
  -- in uint32_t arithmetic: generation 0xFFFFFFFF + 1 wrapped to 0
  it("generation 0 never follows generation 0xFFFFFFFF", function()
    assert.is_false(ese.log_follows({ generation = 0xFFFFFFFF, created_us = 5, prev_created_us = 1 },
                                    { generation = 0, created_us = 6, prev_created_us = 5 }))
    assert.is_true(ese.log_follows({ generation = 0xFFFFFFFE, created_us = 5, prev_created_us = 1 },
                                   { generation = 0xFFFFFFFF, created_us = 6, prev_created_us = 5 }))
  end)
end)


describe("a header whose dbtime_last leaves no room for the attach's reservation", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- data with header pages 0 and 1 holding dbtime_last v (page offset
  -- 184), sealed again.
  local function set_dbtime_last(data, v)
    for pgno = 0, 1 do
      local off = pgno * PAGE
      local body = data:sub(off + 5, off + 184) .. string.pack("<I8", v) .. data:sub(off + 193, off + PAGE)
      data = data:sub(1, off) .. string.pack("<I4", H.crc32c(body, 1, #body)) .. body .. data:sub(off + PAGE + 1)
    end
    return data
  end

  it("attach refuses it with JET_errDatabaseCorrupted before writing; never a header its reader refuses", function()
    local t, s, _, inst = w:table()
    t:put("kept", "v")
    t:close()
    s:end_session()
    inst:term({ complete = true })
    local path = w:path("app.edb")
    local data = set_dbtime_last(assert(H.read_file(path)), (1 << 62) - 1)   -- the highest a header may hold
    H.write_file(path, data)
    assert.are.equal((1 << 62) - 1, ese.file_info(path, true).dbtime_last)
    local i2 = w:open()
    local s2 = i2:begin_session()
    -- before the fix attach wrote dbtime_last 2^62 + 4095: after a crash
    -- recovery refused the database (JET_errDatabaseCorrupted), its data
    -- stranded
    H.expect_jet("JET_errDatabaseCorrupted", s2.attach_database, s2, path)
    assert.are.equal(data, H.read_file(path), "every byte unchanged")
    i2:term()                                     -- a crash
    local i3 = w:open()                           -- recovery has nothing to do with it
    i3:term({ complete = true })
    assert.are.equal((1 << 62) - 1, ese.file_info(path, true).dbtime_last)
  end)
end)
