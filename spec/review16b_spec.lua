-- Second hostile review of rollback16 (database format 4, the clean point),
-- after review16's fixes: good data the clean point check refuses
-- (JET_errConsistentTimeMismatch, -551).  Each case passes on c8b6014
-- (format 3) and fails on rollback16 e9bde76.  Spec only, no fix.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

local function put_range(t, prefix, n)
  for i = 1, n do t:put(("%s%03d"):format(prefix, i), ("%s-%d"):format(prefix, i)) end
end

local function detach(t, s, db, path)
  t:close()
  db:close()
  s:detach_database(path)
end

describe("review16b: the clean point refuses good files", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("a database detached from instance A, attached to instance B (another log stream) and detached there "
     .. "without a change, then attached to A again: A's full backup + archive + live logs restores "
     .. "(was -551 'its clean point was in another log stream')", function()
    local arch = w:path("arch")
    local t, s, db, inst = w:table({ log_file_size = 64, archive_path = arch })
    local path = w:path("app.edb")
    put_range(t, "a", 20)
    local full = w:path("full")
    backup.run(inst, full)
    put_range(t, "b", 20)
    detach(t, s, db, path)
    local dir_b = w:path("B")
    assert(os.execute("mkdir -p " .. H.q(dir_b)))
    local ib = w:track(ese.create_instance(H.name(), H.params(dir_b, { log_file_size = 64 })))
    ib:init()
    local sb = ib:begin_session()
    sb:attach_database(path)                         -- B reads only: the file does not change
    sb:detach_database(path)
    sb:end_session()
    ib:term({ complete = true })
    t = H.open_table(inst, w.dir)                    -- back to A
    put_range(t, "c", 20)
    inst:term({ complete = true })
    ese.restore(full, w:path("r"), { archive_path = arch, live_log_path = w.dir })
    local keys = H.restored_keys(w, w:path("r"))
    for _, key in ipairs({ "a020", "b020", "c020" }) do assert.is_true(keys[key], key) end
  end)
end)
