-- Slice reads of long values (issue 11): t:get(k, offset, length) reads
-- only the pages that hold the slice (EseRetrieveSlice: the long value's
-- directory pages before it and its data pages within it), not the whole
-- value, and sees the session's view (its snapshot, its own writes).
-- Layout of long values: csrc/lv.h, docs/format.md "Long values".
local H = require "support.helpers"

local LV = require "support.lv_sweep"
local val = LV.val

local function thread_rchar() return H.thread_io("rchar") end

describe("long value slices", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("10 bytes of a 64 MiB value with a 1 MiB cache read a few pages, not the value", function()
    if not thread_rchar() then pending("no /proc/thread-self/io") return end
    local size = 64 << 20
    local big = val(size, 9)
    local t, _, _, inst = w:table({ cache_size = 1 << 20 })
    t:put("big", big)
    inst:term({ complete = true })
    local t2, _, _, i2 = w:reopen({ cache_size = 1 << 20 })   -- nothing of the value cached
    for _, off in ipairs({ 0, 40000000, size - 4, size - 10 }) do
      local before = thread_rchar()
      local got = t2:get("big", off, 10)
      local read = thread_rchar() - before
      assert.are.equal(big:sub(off + 1, off + 10), got, "slice at " .. off)
      -- the tree's root and leaf, at most 4 directory pages (16 MiB each),
      -- two data pages: 8 KiB pages; before, the whole 64 MiB value
      assert.is_true(read <= 12 * 8192, ("the slice at %d read %d bytes"):format(off, read))
    end
    assert.are.equal("", t2:get("big", size, 10))
    assert.is_nil(t2:get("nope", 0, 10))
    i2:term({ complete = true })
  end)

  it("a slice inside a transaction sees its snapshot and its own writes; the cursor's record stays", function()
    local t, s, _, inst = w:table()
    local old, new, mine = val(300000, 1), val(300000, 2), val(200000, 3)
    t:put("lv", old)
    t:put("small", "inline value")
    s:begin_transaction()
    assert.are.equal(old:sub(1001, 1100), t:get("lv", 1000, 100))      -- the snapshot starts
    local s2 = inst:begin_session()
    local t2 = s2:open_table(s2:open_database(w:path("app.edb")), "t")
    t2:put("lv", new)                                                  -- another session commits
    t2:delete("small")
    assert.are.equal(new:sub(1001, 1100), t2:get("lv", 1000, 100))
    assert.are.equal(old:sub(1001, 1100), t:get("lv", 1000, 100))      -- the version store's copy
    assert.are.equal(old:sub(299991), t:get("lv", 299990))
    assert.are.equal("line", t:get("small", 2, 4))
    t:put("mine", mine)                                                -- the write set's copy
    assert.are.equal(mine:sub(150001, 150010), t:get("mine", 150000, 10))
    assert.is_nil(t2:get("mine", 0, 1))
    s:commit_transaction()
    assert.are.equal(mine:sub(150001, 150010), t2:get("mine", 150000, 10))
    assert.is_nil(t:get("small", 0, 1))
    inst:term({ complete = true })
  end)

  it("refusals: an empty key JET_errInvalidParameter, a 256-byte key JET_errKeyTooBig", function()
    local t = w:table()
    t:put("k", val(50000, 1))
    H.expect_jet("JET_errInvalidParameter", function() return t:get("", 0, 1) end)
    H.expect_jet("JET_errKeyTooBig", function() return t:get(("k"):rep(256), 0, 1) end)
    assert.are.equal(val(50000, 1):sub(2, 3), t:get("k", 1, 2))
  end)
end)
