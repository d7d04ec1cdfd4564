-- Session 18's audit of the C core against its standards (descriptors,
-- checked results, no spawn, Lua C API safety, size arithmetic): one spec
-- per real finding, each failing before its fix.
local ese = require "ese"
local H = require "spec.support.helpers"

describe("review18", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- restore_begin (lua_restore.c) took each folder name of the list with
  -- lua_geti and popped it, keeping only the char pointer: a list whose
  -- entries come from __index holds no reference to them, so a collection
  -- before EseRestoreBegin (here in the options' __index, as any
  -- allocation of the call may run one) freed the name it then read.
  it("ese.restore with a list whose folders come from __index reads each folder's name, not freed memory, after a " ..
     "collection during the call", function()
    local set, dest = w:path("set"), w:path("dest")
    w:stopped_set(set)
    local list = setmetatable({}, {
      __len = function() return 1 end,
      __index = function(_, i) return i == 1 and (set .. "/") or nil end,   -- a new string, only on the stack
    })
    local junk = {}
    local opts = setmetatable({}, { __index = function(_, k)
      if k == "live_log_path" then
        collectgarbage()
        collectgarbage()
        -- the freed name's room taken by other bytes of its size
        for j = 1, 200 do junk[j] = ("Z"):rep(#set - 3) .. ("%04d"):format(j) end
      end
      return nil
    end })
    local ok, err = pcall(ese.restore, list, dest, opts)
    assert.is_true(ok, tostring(err))
    assert.are.equal(20, H.count_keys(w, dest, "base"))
  end)
end)
