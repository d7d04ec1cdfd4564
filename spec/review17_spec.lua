-- Session 17's second reading of mend17: the overwrite restore's hold of
-- the live log folder's generations (restore.c hold_live_gen) and
-- backup.expire's ranking of full sets (expire.lua).
local ese = require "ese"
local H = require "spec.support.helpers"

-- The kibibytes of a field (VmSize, VmPeak) of /proc/self/status text.
local CHILD_VM = [[
local function vm(field)
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match(field .. ":%s*(%d+)"))
end
]]

describe("review17", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- An instance on w/live with 16 MiB logs (not circular), its set at
  -- w/set restored to w/dest (the old state an overwrite replaces), then
  -- `gens` generations rolled in the live folder after the set, each a
  -- few large records.
  it("restore with overwrite and live_log_path holds the live folder's generations on disk, not all in memory at " ..
     "once: its address space grows by much less than the generations it takes", function()
    local dir = w:path("live")
    local kib, gens = 16384, 10
    local ct, cs, _, ci = w:table_at(dir, "app.edb", { log_file_size = kib })
    H.fill(ct, 5, "base")
    local set, dest = w:path("set"), w:path("dest")
    require("ese.backup").run(ci, set)
    ese.restore(set, dest)                     -- dest's old state, which the overwrite replaces
    local function gen() return ese.file_info(dir .. "/edb.log").generation end
    local target, i = gen() + gens, 0
    while gen() < target do
      i = i + 1
      ct:put(("big%07d"):format(i), ("b"):rep(400000))
    end
    local code, out, err = H.lua_child(CHILD_VM .. [[
      local ese = require "ese"
      local before = vm("VmSize")
      local ok, e = pcall(ese.restore, arg[1], arg[2], { live_log_path = arg[3], overwrite = true })
      print(ok and "RESTORED" or ("FAILED " .. tostring(e)))
      print("GROWTH " .. (vm("VmPeak") - before))
    ]], { set, dest, dir }, "MALLOC_ARENA_MAX=1")
    ct:close()
    cs:end_session()
    ci:term({ complete = true })
    assert.are.equal(0, code, err)
    assert.matches("RESTORED", out)
    local growth = tonumber(out:match("GROWTH (%d+)"))
    -- the live generations the copy takes: gens of them, kib each; before,
    -- every one was read whole into memory before the check (growth over
    -- gens * kib); now one copy buffer, the live B.log's image and the
    -- check's reader of one log at a time
    -- (not under `make check`: ASan's quarantine keeps freed memory mapped,
    -- so the address space there grows with all a restore ever allocated;
    -- review_lv_spec does the same)
    if not os.getenv("ESE_SANITIZED") then
      assert.is_true(growth < gens * kib // 2, ("the restore's address space grew by %d KiB, the live generations "
        .. "are %d KiB"):format(growth, gens * kib))
    end
    local keys = H.restored_keys(w, dest)
    assert.are.equal(5, H.count_prefix(keys, "base"))
    assert.are.equal(i, H.count_prefix(keys, "big"))
  end)

  -- A manifest whose generations its files do not bear out has no known
  -- place along the log: before, such a set (a copy of f1 edited by hand)
  -- ranked above the real newest full set and keep_full 1 deleted every
  -- real set, leaving no set a restore takes.
  it("backup.expire keeps, unranked, a set whose manifest's generations its logs do not bear out (gen_high " ..
     "edited far past its logs; generation fields removed), and keeps the real newest full set", function()
    local backup = require "ese.backup"
    local manifest = require "ese.manifest"
    local t, _, _, inst = w:filled_table(20, "a")
    local root = w:path("root")
    backup.run(inst, root .. "/f1")
    H.fill(t, 10, "b")
    backup.run(inst, root .. "/f2")
    local m2 = manifest.read(root .. "/f2")
    local function edited(name, edit)
      H.copy_dir(root .. "/f1", root .. "/" .. name)
      local m = manifest.read(root .. "/" .. name)
      edit(m)
      m.time_unix = m2.time_unix + 60
      m.time = os.date("!%Y-%m-%dT%H:%M:%SZ", m.time_unix)
      H.write_file(root .. "/" .. name .. "/manifest.json", manifest.encode(m))
    end
    edited("f9-huge", function(m) m.gen_high = m2.gen_high + 1000 end)
    edited("f9-nogen", function(m)
      m.gen_high = m2.gen_high
      for _, e in ipairs(m.files) do e.generation = nil end
    end)
    local plan = backup.expire(root, { keep_full = 1 })
    local keep, delete = {}, {}
    for i, p in ipairs(plan.keep) do keep[i] = H.basename(p) end
    for i, p in ipairs(plan.delete) do delete[i] = H.basename(p) end
    table.sort(keep)
    -- was: keep f9-huge, f9-nogen; delete f1, f2 (no set a restore takes left)
    assert.are.same({ "f2", "f9-huge", "f9-nogen" }, keep)
    assert.are.same({ "f1" }, delete)
    assert.matches("does not list a log of each generation", plan.reasons[root .. "/f9-huge"])
    assert.matches("does not list a log of each generation", plan.reasons[root .. "/f9-nogen"])
    backup.expire(root, { keep_full = 1, dry_run = false })
    assert.are.same({ "f2", "f9-huge", "f9-nogen" }, ese.fs.list(root))
    backup.verify(root .. "/f2")
    local dest = w:path("dest")
    ese.restore(root .. "/f2", dest)
    assert.are.equal(10, H.count_keys(w, dest, "b"))
  end)

  -- The live generations are held before the databases are checked, not
  -- after: a check of large databases takes long, and an instance with
  -- circular logging retires generations meanwhile.
  it("restore with overwrite and live_log_path of an instance with circular logging: a live generation retired " ..
     "while the databases are checked (hold point restore-check) was held before, the restore succeeds", function()
    local out, dest = H.restore_while_retired(w, "restore-check")
    assert.matches("RESTORED", out)          -- was: FAILED JET_errMissingCurrentLogFiles (held after the check)
    local keys = H.restored_keys(w, dest)
    assert.are.equal(5, H.count_prefix(keys, "base"))
    assert.is_true(H.count_prefix(keys, "early") > 0)
    assert.are.equal(0, H.count_prefix(keys, "during"))
  end)
end)
