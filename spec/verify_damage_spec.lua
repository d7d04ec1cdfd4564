-- Chunked backup.verify (ese.verify_pages per chunk) finds every damage
-- the whole-file check (ese.file_info(path, true) plus the SHA-256 of the
-- manifest) found: a flipped byte in any page (the header pair, a chunk's
-- first and last page, the trailer), a truncated or extended file, and a
-- file that changes size while it is read.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

describe("chunked verify finds every damage", function()
  local w, set, ps, size, npages
  local saved_chunk = backup.CHUNK

  lazy_setup(function()
    w = H.world()
    local t, s, _, inst = w:table({ log_file_size = 64 })
    s:begin_transaction()
    for i = 1, 3000 do t:put(("k%06d"):format(i), ("v"):rep(60)) end
    s:commit_transaction()
    set = w:path("set")
    backup.run(inst, set)
    local fi = ese.file_info(set .. "/app.edb")
    ps, size = fi.page_size, H.file_size(set .. "/app.edb")
    npages = size // ps
    assert.is_true(npages > 12, npages .. " pages")
  end)
  lazy_teardown(function() w:cleanup() end)
  -- chunks of 4 pages: a small database crosses several chunk boundaries
  before_each(function() backup.CHUNK = 4 * ps end)
  after_each(function() backup.CHUNK = saved_chunk end)

  local n = 0
  local function damaged(fn)
    n = n + 1
    local dir = H.copy_dir(set, w:path("d" .. n))
    fn(dir .. "/app.edb")
    return dir
  end

  it("the undamaged set verifies in chunks", function()
    local calls = 0
    local report = backup.verify(set, { on_progress = function(p)
      if p.file == "app.edb" and p.done > 0 then calls = calls + 1 end
    end })
    assert.are.equal("full", report.kind)
    assert.is_true(calls > 1, "app.edb verified in " .. calls .. " chunks")
  end)

  -- a flipped byte in page pgno (offset within the page): verify raises
  -- what ese.file_info(path, true) raises for it, or (the header pair,
  -- which the page checks pass over) the manifest's SHA-256 mismatch
  local function flipped(pgno, within)
    local dir = damaged(function(p) H.flip_byte(p, pgno * ps + within) end)
    local path = dir .. "/app.edb"
    local ok, whole = pcall(ese.file_info, path, true)
    local err = H.catch(backup.verify, dir)
    assert.are.equal(ese.Error, getmetatable(err), tostring(err))
    if ok then
      assert.are.equal("JET_errReadVerifyFailure", err.name, tostring(err))
    else
      assert.are.equal(whole.name, err.name, tostring(err) .. " / " .. tostring(whole))
    end
    return err
  end

  it("a flipped byte in page 0 or page 1 (the header pair)", function()
    flipped(0, 100)
    flipped(1, 100)
  end)

  it("a flipped byte in the first data page, at each side of a chunk boundary, in the last data page", function()
    for _, pg in ipairs({ 2, 3, 4, 7, 8, npages - 2 }) do
      local err = flipped(pg, ps // 2)
      assert.matches("page " .. pg, err.detail)
    end
  end)

  it("a damaged trailer (the copy's last page) is JET_errBadPatchPage, as ese.file_info says", function()
    local err = flipped(npages - 1, 200)
    assert.are.equal("JET_errBadPatchPage", err.name)
  end)

  it("a truncated, extended or not-whole-pages file", function()
    local function resized(delta)
      local dir = damaged(function(p)
        local data = H.read_file(p)
        H.write_file(p, delta < 0 and data:sub(1, #data + delta) or data .. ("\0"):rep(delta))
      end)
      return H.expect_jet("JET_errReadVerifyFailure", backup.verify, dir)
    end
    resized(-ps); resized(ps); resized(-100); resized(100)
  end)

  it("without a manifest, a resized copy raises what ese.file_info(path, true) raises", function()
    local bare = w:path("bare")
    local t, s, _, inst = w:table_at(w:path("bare_live"), "app.edb", { log_file_size = 64 })
    s:begin_transaction()
    for i = 1, 3000 do t:put(("k%06d"):format(i), ("v"):rep(60)) end
    s:commit_transaction()
    H.backup(inst, bare)
    assert.is_false(H.exists(bare .. "/manifest.json"))
    assert.are.equal("full", backup.verify(bare).kind)
    for k, delta in ipairs({ -100, 100, -ps, ps }) do
      local dir = H.copy_dir(bare, w:path("bare" .. k))
      local p = dir .. "/app.edb"
      local data = H.read_file(p)
      H.write_file(p, delta < 0 and data:sub(1, #data + delta) or data .. ("\0"):rep(delta))
      local whole = H.catch(ese.file_info, p, true)
      local err = H.expect_jet("JET_errBadPatchPage", backup.verify, dir)
      assert.are.equal(whole.name, err.name, tostring(whole))
    end
  end)

  it("a file that grows or shrinks while it is read", function()
    for _, grow in ipairs({ true, false }) do
      local dir = damaged(function() end)
      local path, done = dir .. "/app.edb", false
      local err = H.catch(backup.verify, dir, { on_progress = function(p)
        if p.file == "app.edb" and p.done == 0 and not done then
          done = true
          local data = H.read_file(path)
          H.write_file(path, grow and data .. ("\0"):rep(ps) or data:sub(1, #data - ps))
        end
      end })
      assert.is_true(done)
      assert.are.equal(ese.Error, getmetatable(err), tostring(err))
      assert.are.equal("JET_errReadVerifyFailure", err.name, tostring(err))
    end
  end)

  it("backup.run's read-back (phase check) refuses a set file that grows or shrinks meanwhile", function()
    for k, grow in ipairs({ true, false }) do
      local w2 = H.world()
      finally(function() w2:cleanup() end)
      local t, s, _, inst = w2:table({ log_file_size = 64 })
      s:begin_transaction(); t:put("a", "b"); s:commit_transaction()
      local dir, done = w2:path("set" .. k), false
      local err = H.catch(backup.run, inst, dir, { on_progress = function(p)
        if p.phase == "check" and p.file == "app.edb" and p.done == 0 and not done then
          done = true
          local path = dir .. ".partial/app.edb"
          local data = H.read_file(path)
          H.write_file(path, grow and data .. "x" or data:sub(1, -2))
        end
      end })
      assert.is_true(done)
      assert.are.equal(ese.Error, getmetatable(err), tostring(err))
      assert.are.equal("JET_errDiskIO", err.name, tostring(err))
    end
  end)
end)

describe("fs.read(path, offset, length) arguments", function()
  local fs = ese.fs
  local dir, path
  setup(function()
    dir = H.tmpdir()
    path = dir .. "/f"
    H.write_file(path, ("x"):rep(10000))
  end)
  teardown(function() H.rmdir(dir) end)

  it("reads nothing past the end, however far (never a disk error)", function()
    assert.are.equal("", fs.read(path, math.maxinteger, 10))
    assert.are.equal("", fs.read(path, math.maxinteger - 5, 10))
    assert.are.equal("", fs.read(path, 1 << 62, math.maxinteger))
    assert.are.equal(9900, #fs.read(path, 100, math.maxinteger))
    assert.are.equal("xxx", fs.read(path, 2.0, 3.0))
  end)

  it("refuses a negative or non-integer offset or length with an argument error", function()
    H.expect_argerror("offset", fs.read, path, -1, 1)
    H.expect_argerror("length", fs.read, path, 0, -1)
    H.expect_argerror("integer", fs.read, path, 1.5, 1)
    H.expect_argerror("integer", fs.read, path, 0, 2.5)
    H.expect_argerror("integer", fs.read, path, 0 / 0, 1)
    H.expect_argerror("integer", fs.read, path, math.huge, 1)
    H.expect_argerror("number expected", fs.read, path, {}, 1)
  end)
end)

describe("a restore replayed in bounded steps", function()
  it("of a chain of many generations gives the live data, every value, with updates and deletes", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local t, s, _, inst = w:table({ log_file_size = 64 })
    s:begin_transaction(); t:put("first", "1"); s:commit_transaction()
    local full, inc = w:path("full"), w:path("inc")
    backup.run(inst, full)
    -- about 8 MiB of log in records of 1.5 KiB: more than two steps of
    -- 3 MiB, over a hundred generations; values differ per key and round
    for round = 1, 3 do
      for i = 0, 1999, 100 do
        s:begin_transaction()
        for j = i, i + 99 do
          t:put(("k%05d"):format(j), ("%d:%d:"):format(round, j):rep(200):sub(1, 1500))
        end
        s:commit_transaction()
      end
      s:begin_transaction()
      for j = round, 1999, 7 do t:delete(("k%05d"):format(j)) end
      s:commit_transaction()
    end
    local r = backup.run(inst, inc, { incremental = true })
    assert.is_true(r.gen_high - r.gen_low > 100, r.gen_low .. ".." .. r.gen_high)
    local live = {}
    for k, v in t:pairs() do live[k] = v end
    local steps = 0
    local dest = w:path("restored")
    ese.restore({ full, inc }, dest, { on_progress = function() steps = steps + 1 end })
    assert.is_true(steps > 3, steps .. " steps")
    local rinst = ese.create_instance(H.name("check"), H.params(dest))
    w:track(rinst)
    rinst:init()
    local rt, rs = H.open_table(rinst, dest)
    local got, n = {}, 0
    for k, v in rt:pairs() do got[k] = v; n = n + 1 end
    rt:close(); rs:end_session(); rinst:term({ complete = true })
    local m = 0
    for k, v in pairs(live) do
      m = m + 1
      assert.are.equal(v, got[k], k)
    end
    assert.are.equal(m, n)
  end)
end)
