-- Session 18's second read of its own change: paths it added that no spec
-- drove.
local H = require "support.helpers"
local ese = require "ese"
local backup = require "ese.backup"

describe("ese.restore's parent_timeline", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  local function a_set()
    local t, _, _, inst = w:table()
    t:put("k", "v")
    backup.run(inst, w:path("set"))
    inst:term({ complete = true })
    return w:path("set")
  end

  it("is 32 hex digits: anything else is an argument error before dest is made", function()
    local set = a_set()
    for _, bad in ipairs({ "", ("a"):rep(31), ("a"):rep(33), ("g"):rep(32), " " .. ("a"):rep(31),
                           "+" .. ("a"):rep(31), "0x" .. ("a"):rep(30), 42, true }) do
      local ok, err = pcall(ese.restore, set, w:path("d"), { parent_timeline = bad })
      assert.is_false(ok, tostring(bad))
      assert.matches("parent_timeline must be 32 hexadecimal digits", tostring(err), 1, true)
      assert.are.equal("absent", ese.fs.stat(w:path("d")).kind)
    end
  end)

  it("given, it is the parent of the timeline the restore starts (in either case; read back in lowercase)",
     function()
    local set = a_set()
    local parent = "0123456789ABCDEFfedcba9876543210"
    ese.restore(set, w:path("d"), { parent_timeline = parent })
    local inst = w:track(ese.create_instance(H.name("r"), H.params(w:path("d"))))
    inst:init()
    inst:begin_external_backup()
    local _, info = inst:get_log_info()
    inst:end_external_backup({ abort = true })
    assert.are.equal(parent:lower(), info.timeline_parent)
    assert.matches("^%x+$", info.timeline)
    assert.are.equal(32, #info.timeline)
    assert.are.equal(info.timeline:lower(), info.timeline)
    inst:term({ complete = true })
  end)
end)

describe("ese.verify_pages' copy signature", function()
  it("is 32 hex digits: a sign, a space or 0x is an argument error (sscanf took them before)", function()
    local page = ("\0"):rep(8192)
    for _, bad in ipairs({ ("a"):rep(31), "+" .. ("a"):rep(31), " " .. ("a"):rep(31), "0x" .. ("a"):rep(30) }) do
      local ok, err = pcall(ese.verify_pages, "x.edb", page, 0, 8192, 8192, bad)
      assert.is_false(ok, bad)
      assert.matches("a signature of 32 hex digits", tostring(err), 1, true)
    end
  end)
end)
