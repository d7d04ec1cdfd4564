-- Timelines in retention (session 18): a restored copy of an instance keeps
-- the original's log signature, and the generations both write next reuse
-- the numbers.  Every restore writes a timeline (B.tl beside the
-- checkpoint), every backup set of the copy records it, and backup.expire
-- keeps each timeline's keep_full newest full sets apart.
local H = require "support.helpers"
local ese = require "ese"
local backup = require "ese.backup"
local manifest = require "ese.manifest"

local function edit_manifest(dir, fn)
  local m = manifest.decode(assert(H.read_file(dir .. "/manifest.json")), dir)
  fn(m)
  H.write_file(dir .. "/manifest.json", manifest.encode(m))
end

describe("backup.expire and a restored copy's timeline", function()
  local w, root, inst, t, copy

  -- A (w.dir) takes full set root/o1; o1 is restored into w/copy; an
  -- instance on the copy puts a record and rolls. Returns the copy's
  -- instance and table.
  local function start_copy()
    local ci = w:track(ese.create_instance(H.name("copy"), H.params(copy, { log_file_size = 64 })))
    ci:init()
    local ct = H.open_table(ci, copy)
    ct:put("copy1", "c")
    H.roll(ct, copy, 1, "c_")
    return ci, ct
  end

  before_each(function()
    w = H.world()
    root, copy = w:path("root"), w:path("copy")
    local _
    t, _, _, inst = w:table({ log_file_size = 64 })
    for i = 1, 10 do t:put(("a%03d"):format(i), "a") end
    backup.run(inst, root .. "/o1")
    H.set_manifest_time(root .. "/o1", 1000000)
    ese.restore(root .. "/o1", copy)
  end)
  after_each(function() w:cleanup() end)

  it("writes the restore's timeline beside the checkpoint; the copy's sets record it, the original's do not", function()
    assert.are.equal("file", ese.fs.stat(copy .. "/edb.tl").kind)
    local ci = start_copy()
    backup.run(ci, root .. "/c1")
    local info = manifest.read(root .. "/c1")
    assert.is_true(manifest.timeline_ok(info.timeline))
    assert.is_nil(info.timeline_parent, "o1 is of the root timeline")
    assert.is_nil(manifest.read(root .. "/o1").timeline)
    H.roll(t, w.dir, 1, "o_")
    backup.run(inst, root .. "/o2")
    assert.is_nil(manifest.read(root .. "/o2").timeline, "A was never restored")
    backup.verify(root .. "/c1")
    -- a restore of c1 starts a timeline whose parent is c1's
    ci:term()
    local again = w:path("again")
    backup.restore(root .. "/c1", again)
    local ai = w:track(ese.create_instance(H.name("again"), H.params(again, { log_file_size = 64 })))
    ai:init()
    H.open_table(ai, again):put("again1", "g")
    backup.run(ai, w:path("g1"))
    local ginfo = manifest.read(w:path("g1"))
    assert.are.equal(info.timeline, ginfo.timeline_parent)
    assert.are_not.equal(info.timeline, ginfo.timeline)
    ai:term()
  end)

  -- Before: one stream along the log: {o2 keep, c1 delete, o1 delete}, the
  -- copy's only full set deleted.
  it("the copy's set before the original's newer one: each timeline keeps its newest", function()
    local ci = start_copy()
    backup.run(ci, root .. "/c1")
    H.set_manifest_time(root .. "/c1", 2000000)
    ci:term()
    H.roll(t, w.dir, 3, "o_")
    backup.run(inst, root .. "/o2")
    H.set_manifest_time(root .. "/o2", 3000000)
    assert.is_true(manifest.read(root .. "/o2").gen_high > manifest.read(root .. "/c1").gen_high)
    local plan = backup.expire(root, { keep_full = 1, dry_run = true })
    assert.are.same({ o1 = "delete", o2 = "keep", c1 = "keep" }, H.verdicts(plan))
  end)

  it("the copy's set after the original's newer one: the original's newest stays too", function()
    H.roll(t, w.dir, 1, "o_")
    backup.run(inst, root .. "/o2")
    H.set_manifest_time(root .. "/o2", 2000000)
    local ci, ct = start_copy()
    H.roll(ct, copy, 3, "c_")
    backup.run(ci, root .. "/c1")
    H.set_manifest_time(root .. "/c1", 3000000)
    ci:term()
    assert.is_true(manifest.read(root .. "/c1").gen_high > manifest.read(root .. "/o2").gen_high)
    local plan = backup.expire(root, { keep_full = 1, dry_run = true })
    assert.are.same({ o1 = "delete", o2 = "keep", c1 = "keep" }, H.verdicts(plan))
    -- carried out: the copy's set and the original's newest both restore
    backup.expire(root, { keep_full = 1, dry_run = false })
    backup.verify(root .. "/o2")
    backup.verify(root .. "/c1")
  end)

  it("a copy's set whose manifest lost the field counts as the root timeline's (an old set)", function()
    local ci = start_copy()
    backup.run(ci, root .. "/c1")
    ci:term()
    H.set_manifest_time(root .. "/c1", 2000000)
    edit_manifest(root .. "/c1", function(m) m.timeline, m.timeline_parent = nil, nil end)
    backup.verify(root .. "/c1")
    local plan = backup.expire(root, { keep_full = 1, dry_run = true })
    assert.are.same({ o1 = "delete", c1 = "keep" }, H.verdicts(plan))
  end)

  it("a timeline that is not 32 hexadecimal digits: verify refuses the set, expire keeps it unranked", function()
    local ci = start_copy()
    backup.run(ci, root .. "/c1")
    ci:term()
    edit_manifest(root .. "/c1", function(m) m.timeline = "not-a-timeline" end)
    H.expect_jet("JET_errInvalidBackup", backup.verify, root .. "/c1")
    local plan = backup.expire(root, { keep_full = 1, dry_run = true })
    assert.are.same({ o1 = "keep", c1 = "keep" }, H.verdicts(plan))
    assert.matches("not 32 hexadecimal digits", plan.reasons[root .. "/c1"], 1, true)
  end)

  it("a damaged edb.tl, or a link in its place: the copy's backup fails (JET_errLogFileCorrupt), no set "
     .. "written as the root timeline's", function()
    local ci = start_copy()
    local good = H.read_file(copy .. "/edb.tl")
    H.write_file(copy .. "/edb.tl", good:sub(1, 20) .. "X" .. good:sub(22))
    H.expect_jet("JET_errLogFileCorrupt", backup.run, ci, root .. "/c1")
    assert.are.equal("absent", ese.fs.stat(root .. "/c1").kind)
    H.write_file(w:path("elsewhere"), good)
    assert(os.remove(copy .. "/edb.tl"))
    assert(os.execute(("ln -s %s %s"):format(H.q(w:path("elsewhere")), H.q(copy .. "/edb.tl"))))
    assert.are.equal("link", ese.fs.stat(copy .. "/edb.tl").kind)
    H.expect_jet("JET_errLogFileCorrupt", backup.run, ci, root .. "/c1")
    assert.are.equal("absent", ese.fs.stat(root .. "/c1").kind)
    -- whole again: the backup records the timeline
    assert(os.remove(copy .. "/edb.tl"))
    H.write_file(copy .. "/edb.tl", good)
    backup.run(ci, root .. "/c1")
    assert.is_true(manifest.timeline_ok(manifest.read(root .. "/c1").timeline))
    ci:term()
  end)

  it("ese expire names each set's timeline", function()
    local ci = start_copy()
    backup.run(ci, root .. "/c1")
    local tl = manifest.read(root .. "/c1").timeline
    ci:term()
    H.roll(t, w.dir, 3, "o_")
    backup.run(inst, root .. "/o2")
    local code, out = H.lua_run("bin/ese", { "expire", root, "--keep-full", "1" })
    assert.are.equal(0, code, out)
    assert.matches("timeline " .. tl, out, 1, true)
    assert.not_matches("timeline root", out, 1, true)   -- the root timeline: no name
    assert.matches("of its log stream (timeline " .. tl .. ") along the log", out, 1, true)
    assert.matches("delete%s+%S*o1", out)
    code, out = H.lua_run("bin/ese", { "expire", root, "--keep-full", "1", "--json" })
    assert.are.equal(0, code, out)
    local r = require("cjson").decode(out)
    local seen = {}
    for _, e in ipairs(r.keep) do seen[H.basename(e.path)] = e.timeline end
    assert.are.same({ c1 = tl, o2 = "root" }, seen)
  end)
end)
