-- Probes of the session-11 review (git diff 965cd6c..combo): each case
-- failed before its fix.
local H = require "support.helpers"

describe("backup.expire with times os.date cannot write", function()
  local backup = require "ese.backup"
  local w, root
  before_each(function()
    w = H.world()
    root = w:expire_root(2)
  end)
  after_each(function() w:cleanup() end)

  it("now finite but out of range: a plain argument error (before: os.date's internal error)", function()
    -- before: "expire.lua:181: bad argument #2 to 'date' (number has no
    -- integer representation)" or "date result cannot be represented"
    for _, now in ipairs({ 1e300, -1e300, 2 ^ 62, 1e13 }) do
      H.expect_argerror("now must be", backup.expire, root, { keep_full = 1, keep_within = 1, now = now })
    end
    local plan = backup.expire(root, { keep_full = 1, keep_within = 1, now = 1e13 - 1 })
    assert.are.equal(1, #plan.delete)
  end)

  it("a manifest's time out of range: the set is kept as unreadable, the plan made", function()
    -- before: the same os.date error from fmt_time(s.time), no plan
    local path = root .. "/f1/manifest.json"
    local f = assert(io.open(path, "rb"))
    local text = f:read("a")
    f:close()
    local n
    text, n = text:gsub('"time_unix"%s*:%s*%d+', '"time_unix":100000000000000000')
    assert.are.equal(1, n)
    f = assert(io.open(path, "wb"))
    f:write(text)
    f:close()
    local plan = backup.expire(root, { keep_full = 1, keep_within = 1 })
    assert.are.equal(0, #plan.delete)
    assert.matches("time", plan.reasons[root .. "/f1"] or "", 1, true)
  end)
end)
