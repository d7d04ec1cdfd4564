-- Circular logging (JET_paramCircularLog): generations older than the
-- checkpoint are deleted, recovery still brings every commit back, and a
-- running backup keeps every log it needs until it ends.
local ese = require "ese"
local H = require "support.helpers"

describe("circular logging", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  local function logs(dir)
    local n = 0
    for name in pairs(H.ls(dir)) do
      if H.log_gen(name) and H.log_gen(name) > 0 then n = n + 1 end
    end
    return n
  end

  local function open(dir)
    return w:open(nil, { system_path = dir, log_path = dir, circular_log = true, log_file_size = 64,
                         checkpoint_depth = 0 })
  end

  it("keeps only the generations after the checkpoint, and recovery brings every commit back", function()
    local dir = w:path("c")
    local inst = open(dir)
    local s = inst:begin_session()
    local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
    local gen0 = ese.file_info(dir .. "/edb.log").generation
    H.roll(t, dir, 12)
    assert.is_true(ese.file_info(dir .. "/edb.log").generation >= gen0 + 12)
    assert.is_true(logs(dir) <= 2, "archived logs left: " .. logs(dir))
    local n = 0
    for _ in t:pairs() do n = n + 1 end
    inst:term()                                  -- abrupt: recovery replays what is left
    local t2 = H.open_table(open(dir), dir)
    local m = 0
    for _ in t2:pairs() do m = m + 1 end
    assert.are.equal(n, m)
  end)

  it("a running full backup keeps its logs until it ends, then they go", function()
    local dir = w:path("c")
    local inst = open(dir)
    local s = inst:begin_session()
    local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
    H.roll(t, dir, 2)
    inst:begin_external_backup()
    local r <close> = inst:open_file(inst:get_attach_info()[1])
    r:copy_to(function() end)
    r:close()
    H.roll(t, dir, 8)                            -- checkpoints happen; the backup's logs stay
    local list = inst:get_log_info()
    assert.is_true(#list >= 8)
    for _, p in ipairs(list) do
      assert.is_true(H.exists(p), p)
      local lr <close> = inst:open_file(p)
      lr:copy_to(function() end)
    end
    inst:end_external_backup()
    H.roll(t, dir, 2)                            -- the next checkpoint may delete them
    assert.is_true(logs(dir) <= 2, "archived logs left: " .. logs(dir))
  end)
end)
