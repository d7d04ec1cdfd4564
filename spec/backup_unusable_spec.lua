-- backup.run never reports success for a set that cannot be restored, and
-- refuses before it truncates (issue 8 item 4).
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

local logs_of = H.log_files

-- Every log of before is still in dir, whole (a Begin may roll the log:
-- new generations are no truncation).
local function kept(before, dir)
  local now = logs_of(dir)
  for name, size in pairs(before) do
    assert.are.equal(size, now[name], name .. " was truncated away")
  end
end

local function absent(p) return ese.fs.stat(p).kind == "absent" end

describe("backup.run refuses a set it cannot make restorable (issue 8 item 4)", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("full and copy with no database attached: JET_errDatabaseNotFound before anything is written; "
     .. "no set, every log kept, the backup ended", function()
    local t, s, db, inst = w:filled_table(200, "k")
    t:close()
    db:close()
    s:detach_database(w:path("app.edb"))
    -- more generations, so that a truncation would have something to delete
    local before = logs_of(w.dir)
    assert.is_true(next(before) ~= nil)
    for _, opts in ipairs({ {}, { copy = true } }) do
      local dest = w:path("sets/none")
      local e = H.expect_jet("JET_errDatabaseNotFound", backup.run, inst, dest, opts)
      assert.are.equal("run", e.op)
      assert.matches("attached", e.detail)
      assert.is_true(absent(dest))
      assert.is_true(absent(dest .. ".partial"))
      assert.is_true(absent(w:path("sets")))
      kept(before, w.dir)
    end
    -- the same with run_to: nothing reaches the sink
    local got = {}
    H.expect_jet("JET_errDatabaseNotFound", backup.run_to, inst, function(x) got[#got + 1] = x end)
    assert.are.same({}, got)
    -- the backup was ended (abort): a new one begins, and with the database
    -- attached again a full backup works and verifies
    s:attach_database(w:path("app.edb"))
    local r = backup.run(inst, w:path("sets/full"))
    assert.are.equal("full", r.kind)
    assert.are.equal("full", backup.verify(w:path("sets/full")).kind)
  end)

  it("a copy in the set that differs from the bytes streamed (changed behind the run's back): "
     .. "JET_errDiskIO before the manifest, no truncation, no set", function()
    local _, _, _, inst = w:filled_table(200, "k")
    local before = logs_of(w.dir)
    local dest = w:path("sets/full")
    local flipped = false
    local e = H.expect_jet("JET_errDiskIO", backup.run, inst, dest, {
      on_progress = function(p)
        -- the database is whole in the .partial folder: damage its copy
        if p.phase == "database" and p.done == p.total and p.total > 0 and not flipped then
          flipped = true
          H.flip_byte(dest .. ".partial/app.edb", 100)
        end
      end,
    })
    assert.is_true(flipped)
    assert.matches("app%.edb", e.detail)
    assert.is_true(absent(dest))
    assert.is_true(absent(dest .. ".partial"))
    kept(before, w.dir)
    -- ended with abort: the next run works
    assert.are.equal("full", backup.run(inst, dest).kind)
  end)

  it("a copy cut short behind the run's back: JET_errDiskIO naming the sizes, no truncation", function()
    local _, _, _, inst = w:filled_table(200, "k")
    local before = logs_of(w.dir)
    local dest = w:path("sets/full")
    local cut = false
    local e = H.expect_jet("JET_errDiskIO", backup.run, inst, dest, {
      on_progress = function(p)
        if p.phase == "database" and p.done == p.total and p.total > 0 and not cut then
          cut = true
          local path = dest .. ".partial/" .. p.file
          local data = H.read_file(path)
          H.write_file(path, data:sub(1, #data - 4096))
        end
      end,
    })
    assert.is_true(cut)
    assert.matches("bytes", e.detail)
    assert.is_true(absent(dest .. ".partial"))
    kept(before, w.dir)
  end)
end)
