-- Hostile tests of session 16.  Each case failed before the change it
-- came with.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"
local fs = ese.fs

describe("hostile 16", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  describe("a --keep-within DURATION too large for an integer count of seconds", function()
    -- Before: 213503982334602d times 86400 wrapped round to 61184 s (17
    -- hours): "keep for ever" kept 17 hours, and `ese expire --yes`
    -- deleted the sets older than that; 9999999999999999d came out negative.
    it("is no duration (nil; `ese expire` exit 2, nothing read or deleted)", function()
      for _, text in ipairs { "213503982334602d", "9999999999999999d", "106751991167301d", "15250284452472w",
                              "153722867280912931m", "2562047788015216h", "9223372036854775808" } do
        assert.is_nil(backup.parse_duration(text), text)
      end
      -- the largest that fit are still durations
      assert.are.equal(math.maxinteger // 86400 * 86400, backup.parse_duration((math.maxinteger // 86400) .. "d"))
      assert.are.equal(math.maxinteger, backup.parse_duration(tostring(math.maxinteger)))
      local root = w:expire_root(2)
      local cli = require "ese.cli"
      local rc = cli.main { "expire", root, "--keep-full", "1", "--keep-within", "213503982334602d", "--yes" }
      assert.are.equal(2, rc)
      assert.are.equal("folder", fs.stat(root .. "/f1").kind)
    end)
  end)
end)
