-- Probes of a hostile tester against continuous backup (session 13): each
-- case failed before its fix.
local H = require "support.helpers"
local ese = require "ese"
local backup = require "ese.backup"
local fs = ese.fs

describe("two instances in one folder whose base names differ only by case", function()
  -- before: the log scan matched the base name case-insensitively, so
  -- "EDB"'s init took edb.log for its own current log, found no EDB.chk and
  -- failed opening EDB.log: JET_errFileNotFound
  local function gen(dir, base) return ese.file_info(dir .. "/" .. base .. ".log").generation end

  it("\"edb\" and \"EDB\" both run, roll, crash and recover, back up and restore independently", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local tabs, insts = {}, {}
    for i, base in ipairs({ "edb", "EDB" }) do
      local t, _, _, inst = w:table_at(w.dir, base .. ".edb", { base_name = base, log_file_size = 64 })
      tabs[i], insts[i] = t, inst
    end
    -- both write, each rolls its own log a few times
    for i, base in ipairs({ "edb", "EDB" }) do
      local start = gen(w.dir, base)
      local n = 0
      while gen(w.dir, base) < start + 3 do
        n = n + 1
        tabs[i]:put(("%s%05d"):format(base, n), ("v"):rep(1500))
      end
      tabs[i]:put("count", tostring(n))
    end
    for _, base in ipairs({ "edb", "EDB" }) do
      assert.is_true(H.exists(w:path(base .. "00000001.log")), base .. "'s own first generation")
      assert.is_true(H.exists(w:path(base .. ".chk")), base .. "'s own checkpoint")
    end
    -- a backup of "EDB" holds only its own stream
    local set = w:path("set")
    backup.run(insts[2], set)
    for name in pairs(H.ls(set)) do
      assert.is_nil(name:match("^edb"), name .. " of the other instance in EDB's set")
    end
    -- a crash of both (no clean term): each recovers its own commits
    local counts = {}
    for i = 1, 2 do
      counts[i] = tabs[i]:get("count")
      insts[i]:term()
    end
    for i, base in ipairs({ "edb", "EDB" }) do
      local inst = w:open(nil, { base_name = base, log_file_size = 64 })
      local t = H.open_table(inst, w.dir, base .. ".edb")
      assert.are.equal(counts[i], t:get("count"))
      assert.are.equal(tonumber(counts[i]), H.count_prefix(H.contents(t), base))
      insts[i] = inst
    end
    insts[2]:term({ complete = true })
    insts[1]:term({ complete = true })
    local dest = w:path("dest")
    backup.restore(set, dest, { base_name = "EDB" })
    assert.is_true(H.exists(dest .. "/EDB.edb"))
  end)
end)
