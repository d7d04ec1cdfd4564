-- Operation records (issue 9, step S6a): a record insert, replace or
-- delete is logged as LR_INSERT (10), LR_REPLACE (11) or LR_DELETE (12)
-- naming page, slot and key, and replayed through the same page code
-- (csrc/pageop.c) by soft recovery and restore.  The C harness pageop_test
-- covers each type's replay (once, twice, onto a newer or an older page, a
-- wrong key); here real workloads go through a crash and a restore and
-- come back byte for byte.
local backup = require "ese.backup"
local H = require "support.helpers"

local record_types = require("support.log_records").types

-- A deterministic mixed workload on table t and the model of its contents:
-- inserts of new keys, replaces with values of another size, deletes, one
-- commit each; model is updated to match.
local function mixed(t, model, n, seed)
  local x = seed
  local function rnd(m)
    x = (x * 1103515245 + 12345) % 2147483648
    return x % m
  end
  local keys = {}
  for k in pairs(model) do keys[#keys + 1] = k end
  table.sort(keys)
  for i = 1, n do
    local op = i % 3
    if op == 0 or #keys == 0 then
      local k = ("n%d-%08d"):format(seed, rnd(100000000))
      local v = ("i"):rep(20 + rnd(150))
      t:put(k, v)
      model[k] = v
      keys[#keys + 1] = k
    elseif op == 1 then
      local k = keys[1 + rnd(#keys)]
      if model[k] then
        local v = ("r"):rep(10 + rnd(200))
        t:put(k, v)
        model[k] = v
      end
    else
      local j = 1 + rnd(#keys)
      local k = keys[j]
      if model[k] then
        t:delete(k)
        model[k] = nil
      end
    end
  end
end

describe("operation records", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("replay of each type: once, twice, onto a newer page, onto an older page (-566), a wrong key "
     .. "or an insert out of key order (-501 / -573 naming page and slot), several records of one page, "
     .. "splits and root splits with either page newer or never written, emptied pages freed and unlinked, "
     .. "hostile records and pages (C harness pageop_test)", function()
    local lines = { "pageop_test: unit: ok", "pageop_test: compact: ok", "pageop_test: split: ok",
                    "pageop_test: unlink: ok", "pageop_test: fuzz: ok" }
    for _, mode in ipairs({ "", " (restore)" }) do
      for _, ty in ipairs({ "insert", "replace", "delete" }) do
        for _, case in ipairs({ "older", "newer", "once", "twice" }) do
          lines[#lines + 1] = "pageop_test: " .. ty .. "-" .. case .. mode .. ": ok"
        end
        lines[#lines + 1] = "pageop_test: " .. ty .. "-key" .. mode .. ": ok"
      end
    end
    local rest = { "many: ok", "many-twice (restore): ok", "mixed-base: ok", "op-and-diff (restore): ok" }
    for _, mode in ipairs({ "", " (restore)" }) do   -- splits (issue 9, S6b)
      for _, case in ipairs({ "split-key", "split-older", "split-once", "split-twice", "split-leaf-newer",
                              "split-new-newer", "newpage-over-older", "rootsplit-once", "rootsplit-twice",
                              "rootsplit-parent-newer", "rootsplit-children-newer",
                              -- emptied pages freed (issue 11): LR_FREEPAGE, LR_UNLINK
                              "free-left-once", "free-left-twice", "free-key", "free-child", "free-notempty",
                              "free-once", "free-twice", "free-parent-newer", "free-child-newer",
                              "free-root-once", "free-root-twice" }) do
        rest[#rest + 1] = case .. mode .. ": ok"
      end
    end
    rest[#rest + 1] = "fuzz-redo: ok"
    rest[#rest + 1] = "ok"
    for _, l in ipairs(rest) do
      lines[#lines + 1] = "pageop_test: " .. l
    end
    H.expect_harness("pageop_test", "", lines)
  end)

  it("single-record commits are logged as LR_INSERT / LR_REPLACE / LR_DELETE, and a crash replays them to "
     .. "the exact contents", function()
    local t, _, _, inst = w:table({ log_file_size = 1024 })
    local model = {}
    mixed(t, model, 300, 1)                    -- grows the tree (splits: differences)
    local before = record_types(w.dir)
    mixed(t, model, 600, 2)
    local after = record_types(w.dir)
    for ty = 10, 12 do
      assert.is_true((after[ty] or 0) - (before[ty] or 0) >= 100,
                     ("record type %d: %s after, %s before"):format(ty, tostring(after[ty]), tostring(before[ty])))
    end
    inst:term()                                -- a crash
    local t2 = w:reopen({ log_file_size = 1024 })
    assert.are.same(model, H.contents(t2))
  end)

  it("a full backup and an incremental of operation records restore the exact contents", function()
    local t, _, _, inst = w:table({ log_file_size = 256 })
    local model = {}
    mixed(t, model, 300, 3)
    local full = w:path("full")
    backup.run(inst, full)
    mixed(t, model, 600, 4)
    local inc = w:path("inc")
    backup.run(inst, inc, { incremental = true })
    local counts = record_types(inc)
    for ty = 10, 12 do assert.is_true((counts[ty] or 0) >= 100, "the incremental holds records of type " .. ty) end
    backup.restore({ full, inc }, w:path("r"))
    inst:term({ complete = true })
    local inst3 = w:track(require("ese").create_instance(H.name("chk"), H.params(w:path("r"))))
    inst3:init()
    local t3 = H.open_table(inst3, w:path("r"))
    assert.are.same(model, H.contents(t3))
  end)
end)
