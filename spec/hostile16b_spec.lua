-- Hostile tests of session 16's changes (second pass).  Each case failed
-- before the change it came with.
local ese = require "ese"
local H = require "support.helpers"

-- The error of attaching <dir>/app.edb on a new instance (its own log
-- folder), or nil when the attach works.
local function attach_error(w, dir)
  local inst = w:track(ese.create_instance(H.name("attach"), H.params(dir .. "-attach")))
  inst:init()
  local s = inst:begin_session()
  local ok, e = pcall(s.attach_database, s, dir .. "/app.edb")
  inst:term({ complete = true })
  return (not ok) and e or nil
end

describe("hostile 16b", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  describe("a restore with overwrite of a set whose log holds a damaged record", function()
    -- Before: ST_CHECK read the databases only: the old state in dest
    -- (its databases, logs and checkpoint) was removed, the set copied,
    -- and the replay then failed on the damaged record, leaving dest a
    -- copy "being restored" that no instance opens.
    it("is refused (the replay's error) while dest's old state is whole", function()
      local set_dir = w:path("set")
      local set, _, _, _, inst = w:base_set(set_dir)
      inst:term({ complete = true })
      local dest = w:path("dest")
      ese.restore(set_dir, dest)
      local before = H.ls(dest)
      local d = H.copy_dir(set_dir, w:path("recflip"))
      H.flip_byte(d .. "/" .. H.log_name(set.info.gen_low + 1), H.LOG_DATA + 40)
      H.expect_jet("JET_errLogCorruptDuringHardRestore", ese.restore, d, dest, { overwrite = true })
      assert.are.same(before, H.ls(dest))
      assert.is_nil(attach_error(w, dest))
      -- a torn last record: the replay's other error, also before dest is touched
      H.flip_byte(d .. "/" .. H.log_name(set.info.gen_low + 1), H.LOG_DATA + 40)
      local last = d .. "/" .. H.log_name(set.info.gen_high)
      local at = H.last_data_offset(last)
      H.flip_byte(last, at)
      H.expect_jet("JET_errLogTornWriteDuringHardRestore", ese.restore, d, dest, { overwrite = true })
      assert.are.same(before, H.ls(dest))
      assert.is_nil(attach_error(w, dest))
      H.flip_byte(last, at)   -- undone: the set restores over dest
      ese.restore(d, dest, { overwrite = true })
      assert.is_nil(attach_error(w, dest))
      assert.are.equal(20, H.count_keys(w, dest, "base"))
    end)
  end)
end)
