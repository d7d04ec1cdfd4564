-- Probes of a hostile tester against issues 11 and 12 (records, snapshot
-- isolation, cursors; continuous backup): each case failed before its fix.
local H = require "support.helpers"

describe("--to-time parsing (ese restore)", function()
  local util = require "ese.util"

  it("refuses seconds followed by digits without a dot: a typo, not a later time", function()
    -- before: "07:10:00123" read as 07:10:00 + 123 s (frac "123" taken as
    -- whole seconds), and `ese restore --to-time` restored to 07:12:03
    assert.is_nil(util.parse_time("2026-12-06 07:10:00123"))
    assert.is_nil(util.parse_time("2026-12-06 07:10:005"))
    assert.is_nil(util.parse_time("2026-12-06T07:10:0012Z"))
    assert.are.equal(1796541000.125, util.parse_time("2026-12-06 07:10:00.125"))
    local w = H.world()
    local code, _, err = H.lua_run("bin/ese", { "restore", w:path("set"), w:path("dest"),
                                                "--to-time", "2026-12-06 07:10:00123" })
    w:cleanup()
    assert.are.equal(2, code, err)
    assert.matches("needs a time", err, 1, true)
  end)
end)
