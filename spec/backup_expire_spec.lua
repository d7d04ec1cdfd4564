-- Retention (issue 12): backup.expire and `ese expire` over a root of real
-- sets made by backup.run (three fulls, each with incrementals), with an
-- archive of their log files: the plan (exact), the deletion (exactly the
-- plan), every kept restore point verifying and restoring its exact
-- contents, keep_within over manifest times, archive pruning, refusals
-- before anything is deleted, sets it cannot read, and a SIGKILL of a
-- child expire after each deletion step.
local ese = require "ese"
local backup = require "ese.backup"
local manifest = require "ese.manifest"
local cjson = require "cjson"
local H = require "support.helpers"

local fs = ese.fs
local q = H.q

-- The sets of the template root, in the order backup.run made them; a
-- name containing "-i" is an incremental of the full before it.
local ORDER = { "f1", "f1-i1", "f1-i2", "f2", "f2-i1", "f3", "f3-i1" }
local T0 = 1700000000                  -- manifest times: T0 + i hours

local set_time = H.set_manifest_time

-- Every file under dir (recursively, links not followed) as "path size" lines, sorted.
local function tree(dir)
  local lines = {}
  local function walk(d, rel)
    for _, n in ipairs(fs.list(d)) do
      local st = fs.stat(d .. "/" .. n)
      local r = rel .. n
      if st.kind == "folder" then
        lines[#lines + 1] = r .. "/"
        walk(d .. "/" .. n, r .. "/")
      else
        lines[#lines + 1] = ("%s %s %s"):format(r, st.kind, tostring(st.size))
      end
    end
  end
  walk(dir, "")
  table.sort(lines)
  return lines
end

local function copy_of(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

local function paths(root, names)
  local r = {}
  for i, n in ipairs(names) do r[i] = root .. "/" .. n end
  return r
end

local function sorted(list)
  local c = copy_of(list)
  table.sort(c)
  return c
end

describe("backup.expire (retention)", function()
  local tw, template, tarch          -- the template world, root and archive
  local expected = {}                -- set name -> { key = true } a restore of it holds
  local gens = {}                    -- set name -> { low, high }
  local w, root, arch

  setup(function()
    tw = H.world()
    template, tarch = tw:path("root"), tw:path("archive")
    assert(os.execute("mkdir -p " .. q(template) .. " " .. q(tarch)))
    local t, s, _, inst = tw:filled_table(20, "a")
    local keys = {}
    for i = 1, 20 do keys[("a%05d"):format(i)] = true end
    for i, name in ipairs(ORDER) do
      local rep = backup.run(inst, template .. "/" .. name, { incremental = name:find("-i") ~= nil })
      expected[name] = copy_of(keys)
      gens[name] = { rep.gen_low, rep.gen_high }
      set_time(template .. "/" .. name, T0 + (i - 1) * 3600)
      local prefix = ("p%d_"):format(i)
      s:begin_transaction()
      for j = 1, 8 do
        t:put(("%s%03d"):format(prefix, j), ("v"):rep(300))
        keys[("%s%03d"):format(prefix, j)] = true
      end
      s:commit_transaction()
    end
    t:close()
    s:end_session()
    inst:term({ complete = true })
    -- the archive: every generation any set holds (named as the engine names them)
    for _, name in ipairs(ORDER) do
      for _, n in ipairs(fs.list(template .. "/" .. name)) do
        if n:match("^edb%x+%.log$") then
          assert(os.execute(("cp %s %s"):format(q(template .. "/" .. name .. "/" .. n), q(tarch .. "/" .. n))))
        end
      end
    end
  end)

  teardown(function() tw:cleanup() end)

  before_each(function()
    w = H.world()
    root, arch = w:path("root"), w:path("archive")
    H.copy_dir(template, root)
    H.copy_dir(tarch, arch)
  end)
  after_each(function() w:cleanup() end)

  -- Every kept point of plan verifies and restores exactly its keys.
  local function check_points(points)
    for i, pt in ipairs(points) do
      backup.verify(pt.sets)
      local dest = w:path(("restored-%d"):format(i))
      H.rmdir(dest)
      backup.restore(pt.sets, dest)
      local last = H.basename(pt.sets[#pt.sets])
      assert.are.same(expected[last], H.restored_keys(w, dest), "restore point " .. last)
      H.rmdir(dest)
    end
  end

  it("the sets chain as made: each incremental follows the set before it, generations continue", function()
    for i = 2, #ORDER do
      assert.is_true(gens[ORDER[i]][1] <= gens[ORDER[i - 1]][2] + 1, ORDER[i])
    end
  end)

  it("a dry run deletes nothing and plans exactly: the 2 newest fulls and their incrementals stay, "
     .. "the oldest chain goes newest set first", function()
    local before = tree(w.dir)
    local plan = backup.expire(root, { keep_full = 2 })
    assert.are.same(tree(w.dir), before)
    assert.is_true(plan.dry_run)
    assert.are.same({}, plan.deleted)
    assert.are.same(sorted(paths(root, { "f2", "f2-i1", "f3", "f3-i1" })), sorted(plan.keep))
    assert.are.same(paths(root, { "f1-i2", "f1-i1", "f1" }), plan.delete)
    assert.matches("one of the 2 newest full sets", plan.reasons[root .. "/f3"])
    assert.matches("follows f2 %(kept%)", plan.reasons[root .. "/f2-i1"])
    assert.matches("not one of the 2 newest of its log stream: it ends before f2, f3 along its log",
      plan.reasons[root .. "/f1"])
    assert.matches("follows only full sets that go %(f1%)", plan.reasons[root .. "/f1-i2"])
    -- the points: each full alone, and each with its incrementals in order
    local pts = {}
    for i, pt in ipairs(plan.points) do pts[i] = table.concat(pt.sets, " ") end
    assert.are.same({ root .. "/f2", root .. "/f2 " .. root .. "/f2-i1", root .. "/f3",
                      root .. "/f3 " .. root .. "/f3-i1" }, pts)
    local expected_bytes = 0
    for _, n in ipairs({ "f1", "f1-i1", "f1-i2" }) do
      for _, line in ipairs(tree(root .. "/" .. n)) do
        local name, size = line:match("^(%S+) file (%d+)$")
        if name and name ~= "manifest.json" then expected_bytes = expected_bytes + tonumber(size) end
      end
    end
    assert.are.equal(expected_bytes, plan.bytes)
  end)

  it("dry_run = false deletes exactly the plan; every kept restore point verifies and restores its "
     .. "exact contents; a second run has nothing to do", function()
    local dry = backup.expire(root, { keep_full = 2 })
    local plan = backup.expire(root, { keep_full = 2, dry_run = false })
    assert.are.same(dry.delete, plan.delete)
    assert.are.same(plan.delete, plan.deleted)
    assert.are.same({ "f2", "f2-i1", "f3", "f3-i1" }, fs.list(root))
    check_points(plan.points)
    local again = backup.expire(root, { keep_full = 2, dry_run = false })
    assert.are.same({}, again.delete)
    assert.are.same(plan.keep, again.keep)
  end)

  it("keep_full = 1 keeps the newest chain only", function()
    local plan = backup.expire(root, { keep_full = 1, dry_run = false })
    assert.are.same(paths(root, { "f1-i2", "f1-i1", "f1", "f2-i1", "f2" }), plan.deleted)
    assert.are.same({ "f3", "f3-i1" }, fs.list(root))
    check_points(plan.points)
  end)

  it("a copy set counts as a full set; a differential and the incremental after it (overlapping "
     .. "generations) follow it; every kept point restores exactly", function()
    local ow = H.world()
    local r = ow:path("root")
    local t, _, _, inst = ow:filled_table(20, "a")
    local want = {}
    local n = 20
    local function step(name, opts)
      backup.run(inst, r .. "/" .. name, opts)
      want[name] = n
      H.fill(t, 10, name:gsub("%-", "") .. "_")
      n = n + 10
    end
    step("f1")
    step("f1-c1", { copy = true })
    step("f1-d1", { incremental = true, truncate = false })
    step("f1-i1", { incremental = true })
    inst:term()
    local plan = backup.expire(r, { keep_full = 1, dry_run = false })
    assert.are.same({ r .. "/f1" }, plan.deleted)
    assert.matches("the newest full set", plan.reasons[r .. "/f1-c1"])
    assert.matches("follows f1%-c1 %(kept%)", plan.reasons[r .. "/f1-i1"])
    assert.are.equal(3, #plan.points)
    for i, pt in ipairs(plan.points) do
      local dest = ow:path("restored" .. i)
      backup.restore(pt.sets, dest)
      local keys = H.restored_keys(ow, dest)
      local count = 0
      for _ in pairs(keys) do count = count + 1 end
      assert.are.equal(want[H.basename(pt.sets[#pt.sets])], count)
    end
    ow:cleanup()
  end)

  it("a forked stream (a restore of f1 that went on, one log signature): its incremental is no follower "
     .. "of the old chain although its generations fit (the log headers do not follow); with its own full "
     .. "set it is a chain of its own", function()
    local ow = H.world()
    local r = ow:path("root")
    local t, _, _, inst = ow:filled_table(20, "a")
    backup.run(inst, r .. "/f1")
    H.fill(t, 10, "b")
    backup.run(inst, r .. "/f1-i1", { incremental = true })
    H.fill(t, 10, "c")
    backup.run(inst, r .. "/f1-i2", { incremental = true })
    inst:term()
    local x = ow:path("fork")
    backup.restore(r .. "/f1", x)
    local xi = ow:track(ese.create_instance(H.name("fork"), H.params(x, { log_file_size = 64 })))
    xi:init()
    local xt = H.open_table(xi, x)
    H.fill(xt, 10, "z")
    backup.run(xi, ow:path("fx"))
    H.fill(xt, 10, "y")
    backup.run(xi, r .. "/fx-i1", { incremental = true })
    xi:term()
    local m1, mx = manifest.read(r .. "/f1-i1"), manifest.read(r .. "/fx-i1")
    assert.are.equal(m1.log_signature, mx.log_signature)
    assert.is_true(mx.gen_low <= m1.gen_high + 1 and mx.gen_high >= m1.gen_high)
    local plan = backup.expire(r, { keep_full = 1 })
    assert.matches("follows no full set in this folder", plan.reasons[r .. "/fx-i1"])
    assert.matches("follows f1%-i1 %(kept%)", plan.reasons[r .. "/f1-i2"])
    for _, pt in ipairs(plan.points) do assert.are_not.equal(r .. "/fx-i1", pt.sets[#pt.sets]) end
    -- with the fork's full set (newer) in the root: the fork's chain is a
    -- timeline of its own (the restore started it, its sets record it), so
    -- each keeps its newest full set: nothing goes (timeline18; before,
    -- the old chain went as if the fork's set were its newer one)
    assert(os.rename(ow:path("fx"), r .. "/fx"))
    set_time(r .. "/fx", os.time() + 60)
    assert.is_string(manifest.read(r .. "/fx").timeline)
    plan = backup.expire(r, { keep_full = 1, dry_run = false })
    assert.are.same({}, plan.deleted)
    assert.are.same({ "f1", "f1-i1", "f1-i2", "fx", "fx-i1" }, fs.list(r))
    local forked = 0
    for i, pt in ipairs(plan.points) do
      if pt.sets[1] == r .. "/fx" then
        forked = forked + 1
        local dest = ow:path("restored" .. i)
        backup.restore(pt.sets, dest)
        local keys = H.restored_keys(ow, dest)
        assert.are.equal(20, H.count_prefix(keys, "a"))
        assert.are.equal(10, H.count_prefix(keys, "z"))
        assert.are.equal(#pt.sets == 1 and 0 or 10, H.count_prefix(keys, "y"))
        assert.are.equal(0, H.count_prefix(keys, "b") + H.count_prefix(keys, "c"))
      end
    end
    assert.are.equal(2, forked)
    ow:cleanup()
  end)

  describe("keep_within (manifest times T0 + 0h .. 6h; now = T0 + 6h)", function()
    local now = T0 + 6 * 3600

    it("a window that reaches f2 keeps f2's chain besides keep_full's", function()
      local plan = backup.expire(root, { keep_full = 1, keep_within = 3 * 3600 + 1800, now = now })
      assert.are.same(paths(root, { "f1-i2", "f1-i1", "f1" }), plan.delete)
      assert.matches("a restore point of 2023%-11%-15 01:13:20 UTC, within 210m of", plan.reasons[root .. "/f2"])
    end)

    it("an incremental in the window keeps the sets it needs, back to its full, even outside the window",
       function()
      local plan = backup.expire(root, { keep_full = 1, keep_within = 2 * 3600 + 1800, now = now, dry_run = false })
      assert.are.same(paths(root, { "f1-i2", "f1-i1", "f1" }), plan.deleted)
      assert.matches("needed by f2%-i1 %(kept%)", plan.reasons[root .. "/f2"])
      assert.are.same({ "f2", "f2-i1", "f3", "f3-i1" }, fs.list(root))
      check_points(plan.points)
    end)

    it("a point in the window needs every set of its path: f1-i2 keeps f1-i1 and f1; older incrementals "
       .. "that no kept point needs still go", function()
      local plan = backup.expire(root, { keep_full = 1, keep_within = 4 * 3600, now = now })
      assert.are.same({}, plan.delete)
      assert.matches("needed by f1%-i2", plan.reasons[root .. "/f1-i1"])
      assert.matches("needed by f1%-i1", plan.reasons[root .. "/f1"])
      -- f1-i1 with a time outside the window (older than f1, even) still
      -- stays: f1-i2 needs it
      set_time(root .. "/f1-i1", T0 - 3600)
      plan = backup.expire(root, { keep_full = 1, keep_within = 4 * 3600, now = now })
      assert.are.same({}, plan.delete)
      -- a window of 0 is keep_full alone
      plan = backup.expire(root, { keep_full = 1, keep_within = 0, now = now })
      assert.are.same(paths(root, { "f1-i2", "f1-i1", "f1", "f2-i1", "f2" }), plan.delete)
    end)

    it("without now, the clock is os.time(): sets of 2023 are all outside a 1-day window", function()
      local plan = backup.expire(root, { keep_full = 2, keep_within = 86400 })
      assert.are.same(paths(root, { "f1-i2", "f1-i1", "f1" }), plan.delete)
    end)
  end)

  describe("archive_path", function()
    it("deletes exactly the generations older than the first a kept point needs, oldest first, and "
       .. "never a newer one, gaps or not", function()
      local first = gens.f2[1]
      -- a gap above the threshold, and one below it
      local gap_hi, gap_lo = first + 2, 2
      os.remove(arch .. "/" .. H.log_name(gap_hi))
      os.remove(arch .. "/" .. H.log_name(gap_lo))
      H.write_file(arch .. "/notes.txt", "mine")
      H.write_file(arch .. "/" .. H.log_name(1) .. ".tmp", "a half-shipped copy")
      local all = {}
      for _, n in ipairs(fs.list(arch)) do
        local g = n:match("^edb(%x+)%.log$")
        if g then all[#all + 1] = tonumber(g, 16) end
      end
      local plan = backup.expire(root, { keep_full = 2, archive_path = arch, dry_run = false })
      local want_del, want_keep = {}, {}
      for _, g in ipairs(all) do
        if g < first then want_del[#want_del + 1] = arch .. "/" .. H.log_name(g)
        else want_keep[#want_keep + 1] = H.log_name(g) end
      end
      table.sort(want_del)
      assert.is_true(#want_del >= 2)
      local del = {}
      for _, p in ipairs(plan.deleted) do if p:find(arch, 1, true) == 1 then del[#del + 1] = p end end
      assert.are.same(want_del, del)     -- oldest first: the names sort as the generations
      assert.matches(("older than generation %d, the first any kept restore point needs %%(f2%%)"):format(first),
        plan.reasons[want_del[1]])
      table.insert(want_keep, H.log_name(1) .. ".tmp")
      table.insert(want_keep, "notes.txt")
      assert.are.same(sorted(want_keep), fs.list(arch))
      check_points(plan.points)
    end)

    it("keeps an archived generation it cannot read, of another stream, or a link (never followed)", function()
      local outside = w:path("outside.log")
      H.write_file(outside, "target")
      fs.remove(arch .. "/" .. H.log_name(1))
      assert(os.execute(("ln -s %s %s"):format(q(outside), q(arch .. "/" .. H.log_name(1)))))
      H.write_file(arch .. "/" .. H.log_name(2), "not a log")
      local plan = backup.expire(root, { keep_full = 3, archive_path = arch, dry_run = false })
      assert.matches("a link, not a log file", plan.reasons[arch .. "/" .. H.log_name(1)])
      assert.matches("header cannot be read", plan.reasons[arch .. "/" .. H.log_name(2)])
      assert.are.equal("target", H.read_file(outside))
      assert.are.equal("link", fs.stat(arch .. "/" .. H.log_name(1)).kind)
      assert.are.equal("not a log", H.read_file(arch .. "/" .. H.log_name(2)))
      -- a log of another stream: no kept point of its signature
      local ow = H.world()
      local ot, _, _, oinst = ow:filled_table(10, "o")
      H.roll(ot, ow.dir, 2)
      local other = ow:path(H.log_name(2))
      assert.are.equal("file", fs.stat(other).kind)
      oinst:term()
      fs.remove(arch .. "/" .. H.log_name(2))
      assert(os.execute(("cp %s %s"):format(q(other), q(arch .. "/" .. H.log_name(2)))))
      ow:cleanup()
      plan = backup.expire(root, { keep_full = 1, archive_path = arch })
      assert.matches("no kept restore point of its log stream", plan.reasons[arch .. "/" .. H.log_name(2)])
    end)
  end)

  describe("refuses bad input before deleting anything", function()
    local function unchanged(f)
      local before = tree(w.dir)
      f()
      assert.are.same(before, tree(w.dir))
    end

    it("a root that is absent, a file or a link; an archive likewise; the archive as the root", function()
      unchanged(function()
        H.expect_jet("JET_errFileNotFound", backup.expire, w:path("none"), { keep_full = 1, dry_run = false })
        H.write_file(w:path("file"), "x")
        H.expect_jet("JET_errInvalidPath", backup.expire, w:path("file"), { keep_full = 1, dry_run = false })
        os.remove(w:path("file"))
        assert(os.execute(("ln -s %s %s"):format(q(root), q(w:path("link")))))
        local e = H.expect_jet("JET_errInvalidPath", backup.expire, w:path("link"), { keep_full = 1, dry_run = false })
        assert.matches("symbolic link", e.detail)
        os.remove(w:path("link"))
        H.expect_jet("JET_errFileNotFound", backup.expire, root,
          { keep_full = 1, dry_run = false, archive_path = w:path("none") })
        H.expect_jet("JET_errInvalidParameter", backup.expire, root,
          { keep_full = 1, dry_run = false, archive_path = root .. "/" })
      end)
    end)

    it("an archive that is an instance's log folder (it holds B.log or B.chk): JET_errInvalidParameter", function()
      for _, name in ipairs({ "edb.log", "EDB.chk" }) do
        H.write_file(arch .. "/" .. name, "")
        unchanged(function()     -- was: the generations older than the kept points' deleted from it
          local e = H.expect_jet("JET_errInvalidParameter", backup.expire, root,
            { keep_full = 1, dry_run = false, archive_path = arch })
          assert.matches("holds " .. name .. ": it is an instance's log folder", e.detail, 1, true)
        end)
        os.remove(arch .. "/" .. name)
      end
    end)

    it("keep_full < 1 is JET_errInvalidParameter; keep_within < 0 too; wrong types and unknown options "
       .. "are argument errors", function()
      unchanged(function()
        for _, n in ipairs({ 0, -1 }) do
          local e = H.expect_jet("JET_errInvalidParameter", backup.expire, root, { keep_full = n, dry_run = false })
          assert.matches("at least one full set", e.detail)
        end
        H.expect_jet("JET_errInvalidParameter", backup.expire, root,
          { keep_full = 1, keep_within = -1, dry_run = false })
        H.expect_jet("JET_errInvalidParameter", backup.expire, root,
          { keep_full = 1, keep_within = 0 / 0, dry_run = false })
        H.expect_argerror("keep_full must be an integer", backup.expire, root, { dry_run = false })
        H.expect_argerror("keep_full must be an integer", backup.expire, root, { keep_full = 1.5, dry_run = false })
        H.expect_argerror("keep_within must be a number", backup.expire, root, { keep_full = 1, keep_within = "7d" })
        H.expect_argerror("unknown option 'keep'", backup.expire, root, { keep = 1, dry_run = false })
        H.expect_argerror("root must be a folder path", backup.expire, nil, { keep_full = 1 })
      end)
    end)
  end)

  it("keeps what it cannot read, with the reason: no manifest, a bad or newer manifest, a .partial "
     .. "folder, a file, a link to a set outside the root (its target untouched); an incremental "
     .. "without its full", function()
    local outside = w:path("outside-set")
    H.copy_dir(root .. "/f1", outside)
    assert(os.execute(("ln -s %s %s"):format(q(outside), q(root .. "/a-link"))))
    H.copy_dir(root .. "/f1", root .. "/a-bad")
    H.write_file(root .. "/a-bad/manifest.json", "{ not json")
    H.copy_dir(root .. "/f1", root .. "/a-newer")
    local m = manifest.decode(H.read_file(root .. "/a-newer/manifest.json"), "x")
    m.format_version = 99
    os.remove(root .. "/a-newer/manifest.json")
    H.write_file(root .. "/a-newer/manifest.json", manifest.encode(m))
    H.copy_dir(root .. "/f1", root .. "/a-none")
    os.remove(root .. "/a-none/manifest.json")
    H.copy_dir(root .. "/f1", root .. "/a.partial")
    H.write_file(root .. "/a-file", "x")
    -- the orphan: f1 removed by hand, f1-i1 and f1-i2 stay
    H.rmdir(root .. "/f1")
    local outside_before = tree(outside)
    local plan = backup.expire(root, { keep_full = 1, dry_run = false })
    local r = plan.reasons
    assert.matches("symbolic link: never followed", r[root .. "/a-link"])
    assert.matches("manifest cannot be read", r[root .. "/a-bad"])
    assert.matches("newer than this tool", r[root .. "/a-newer"])
    assert.matches("no manifest.json", r[root .. "/a-none"])
    assert.matches("unfinished backup run", r[root .. "/a.partial"])
    assert.matches("not a folder", r[root .. "/a-file"])
    assert.matches("follows no full set in this folder", r[root .. "/f1-i1"])
    assert.matches("follows no full set in this folder", r[root .. "/f1-i2"])
    assert.are.same(paths(root, { "f2-i1", "f2" }), plan.deleted)
    assert.are.same({ "a-bad", "a-file", "a-link", "a-newer", "a-none", "a.partial", "f1-i1", "f1-i2", "f3", "f3-i1" },
      fs.list(root))
    assert.are.same(outside_before, tree(outside))
  end)

  it("a .expiring-* folder is never read as a set (a whole set inside counts for nothing) and goes first",
     function()
    H.copy_dir(root .. "/f3", root .. "/.expiring-f9")
    H.copy_dir(root .. "/f3", root .. "/.expiring-f3")
    local plan = backup.expire(root, { keep_full = 2 })
    assert.are.same(paths(root, { ".expiring-f3", ".expiring-f9", "f1-i2", "f1-i1", "f1" }), plan.delete)
    assert.matches("interrupted expire", plan.reasons[root .. "/.expiring-f9"])
    plan = backup.expire(root, { keep_full = 2, dry_run = false })
    assert.are.same(plan.delete, plan.deleted)
    assert.are.same({ "f2", "f2-i1", "f3", "f3-i1" }, fs.list(root))
  end)

  it("a set whose name leaves no room for the .expiring- prefix still goes (the leftover's name is cut)",
     function()
    local long = ("x"):rep(250)
    H.copy_dir(root .. "/f1", root .. "/" .. long)
    local plan = backup.expire(root, { keep_full = 2, dry_run = false })
    assert.are.same(plan.delete, plan.deleted)
    assert.is_truthy(plan.reasons[root .. "/" .. long]:match("not one of the 2 newest of its log stream"))
    assert.are.same({ "f2", "f2-i1", "f3", "f3-i1" }, fs.list(root))
  end)

  it("on_progress reports each step: invalidate then remove per set, archive per log", function()
    local steps = {}
    local verified = {}
    local plan = backup.expire(root, { keep_full = 2, archive_path = arch, dry_run = false, on_progress = function(p)
      if p.phase == "verify" then          -- the counted full sets, read whole before any deletion (lead17_spec)
        assert.are.same({}, steps)
        verified[H.basename(p.path)] = true
      else
        steps[#steps + 1] = p.phase .. " " .. H.basename(p.path)
      end
    end })
    assert.are.same({ f2 = true, f3 = true }, verified)
    local want = {}
    for _, p in ipairs(plan.delete) do
      if plan.what[p] == "set" then
        want[#want + 1] = "invalidate " .. H.basename(p)
        want[#want + 1] = "remove " .. H.basename(p)
      else
        want[#want + 1] = "archive " .. H.basename(p)
      end
    end
    assert.are.same(want, steps)
  end)

  it("on_progress may yield: an expire in a coroutine lets its caller run between two steps", function()
    local co = coroutine.wrap(function()
      return backup.expire(root, { keep_full = 2, archive_path = arch, dry_run = false,
                                   on_progress = function(p) coroutine.yield(p) end })
    end)
    local phases = {}
    local r
    repeat
      r = co()
      if r.phase and r.phase ~= "verify" then
        phases[#phases + 1] = r.phase
        -- the caller runs here, mid-expire: what the step deleted is gone
        assert.are.equal("absent", fs.stat(r.path).kind)
      end
    until not r.phase
    assert.are.same(r.delete, r.deleted)
    assert.are.equal("invalidate", phases[1])
    assert.is_true(#phases > 6)
  end)

  -- The child: expire with the archive, SIGKILLed by itself right after
  -- its k-th step (os.execute of kill: the test's child, not the library).
  local CHILD = [[
local backup = require "ese.backup"
local root, arch, k = arg[1], arg[2], tonumber(arg[3])
local f = io.open("/proc/self/stat")
local pid = f:read("l"):match("^(%d+)")
f:close()
local n = 0
backup.expire(root, { keep_full = 2, archive_path = arch, dry_run = false, on_progress = function(p)
  n = n + 1
  if n == k then
    io.stdout:write("KILL ", p.phase, " ", p.path, "\n")
    io.stdout:flush()
    os.execute("kill -KILL " .. pid)
  end
end })
print("DONE " .. n)
]]

  it("killed after each deletion step (and mid-removal of a set): every kept point still verifies and "
     .. "restores, no set folder is half there, and a rerun completes the same plan", function()
    local plan = backup.expire(root, { keep_full = 2, archive_path = arch })
    local nsteps = 0
    for _, p in ipairs(plan.delete) do nsteps = nsteps + (plan.what[p] == "set" and 2 or 1) end
    assert.are.equal(6 + (#plan.delete - 3), nsteps)
    local final_root = sorted({ "f2", "f2-i1", "f3", "f3-i1" })
    local template_trees = {}
    for _, n in ipairs(ORDER) do template_trees[n] = tree(template .. "/" .. n) end
    local final_arch
    for k = 1, nsteps do
      H.rmdir(root)
      H.rmdir(arch)
      H.copy_dir(template, root)
      H.copy_dir(tarch, arch)
      local code, out, err = H.lua_child(CHILD, { root, arch, k })
      local phase, path = out:match("^KILL (%S+) (%S+)\n$")
      assert.is_truthy(phase, ("k=%d: %s %s %s"):format(k, tostring(code), out, err))
      assert.is_nil(out:find("DONE", 1, true))
      if phase == "invalidate" then
        -- as if the removal had died half-way: the first file of the renamed
        -- folder gone, the manifest (removed last) still there; such a folder
        -- never passes for a set
        local gone = root .. "/.expiring-" .. H.basename(path)
        assert.are.equal("folder", fs.stat(gone).kind)
        assert.is_true(os.remove(gone .. "/" .. fs.list(gone)[1]))
        assert.are.equal("file", fs.stat(gone .. "/manifest.json").kind)
        local e = H.catch(backup.verify, gone)
        assert.is_true(ese.is_error(e), tostring(e))
      end
      -- every set folder under its own name is whole
      for _, n in ipairs(fs.list(root)) do
        if n:sub(1, 1) ~= "." then assert.are.same(template_trees[n], tree(root .. "/" .. n), n) end
      end
      check_points(plan.points)
      local again = backup.expire(root, { keep_full = 2, archive_path = arch, dry_run = false })
      assert.are.same(final_root, fs.list(root))
      final_arch = final_arch or fs.list(arch)
      assert.are.same(final_arch, fs.list(arch))
      assert.are.same(sorted(plan.keep), sorted(again.keep))
    end
  end)

  -- The child of the fault-injection runs: expire with the archive; prints
  -- "DONE" or "ERR <name>".
  local FAULT_CHILD = [[
local ese = require "ese"
local backup = require "ese.backup"
local ok, e = pcall(backup.expire, arg[1], { keep_full = 2, archive_path = arg[2], dry_run = false })
if ok then print("DONE") else print("ERR " .. (ese.is_error(e) and e.name or tostring(e))) end
]]

  it("ESE_FAULT=crash:K (SIGKILL before the K-th rename or fsync): after each, every kept point restores "
     .. "and a rerun completes", function()
    local plan = backup.expire(root, { keep_full = 2, archive_path = arch })
    local k, done = 0, false
    while not done do
      k = k + 1
      assert.is_true(k < 40, "the child never completed")
      H.rmdir(root)
      H.rmdir(arch)
      H.copy_dir(template, root)
      H.copy_dir(tarch, arch)
      local _, out, err = H.lua_child(FAULT_CHILD, { root, arch }, "ESE_FAULT=crash:" .. k)
      done = out == "DONE\n"
      assert.is_true(done or out == "", ("k=%d: %s %s"):format(k, out, err))
      check_points(plan.points)
      backup.expire(root, { keep_full = 2, archive_path = arch, dry_run = false })
      assert.are.same({ "f2", "f2-i1", "f3", "f3-i1" }, fs.list(root))
    end
    -- a rename and an fsync of the root per set
    assert.is_true(k > 6)
  end)

  it("a failing rename (ESE_FAULT=eio:1) is the error of the disk: nothing deleted, a rerun completes", function()
    local before = tree(w.dir)
    local code, out, err = H.lua_child(FAULT_CHILD, { root, arch }, "ESE_FAULT=eio:1")
    assert.are.equal(0, code, err)
    assert.are.equal("ERR JET_errDiskIO\n", out)
    assert.are.same(before, tree(w.dir))
    local plan = backup.expire(root, { keep_full = 2, archive_path = arch, dry_run = false })
    assert.are.same(plan.delete, plan.deleted)
  end)

  it("a set folder replaced by a link before its turn stops the run (JET_errInvalidPath); the link and "
     .. "its target stay", function()
    local outside = w:path("outside")
    H.copy_dir(root .. "/f1-i1", outside)
    local e = H.expect_jet("JET_errInvalidPath", backup.expire, root, { keep_full = 2, dry_run = false,
      on_progress = function(p)
        if p.phase == "remove" and H.basename(p.path) == "f1-i2" then
          H.rmdir(root .. "/f1-i1")
          assert(os.execute(("ln -s %s %s"):format(q(outside), q(root .. "/f1-i1"))))
        end
      end })
    assert.matches("no longer a folder", e.detail)
    assert.are.same({ "f1", "f1-i1", "f2", "f2-i1", "f3", "f3-i1" }, fs.list(root))
    assert.are.equal("link", fs.stat(root .. "/f1-i1").kind)
    assert.are.same(tree(template .. "/f1-i1"), tree(outside))
  end)

  describe("ese expire", function()
    local function ese_cmd(args)
      return H.lua_run("bin/ese", args)
    end

    it("prints the plan without deleting (exit 0); --yes deletes it; --json lists as arrays", function()
      local before = tree(w.dir)
      local code, out, err = ese_cmd({ "expire", root, "--keep-full", "2", "--keep-within", "1d" })
      assert.are.equal(0, code, err)
      assert.are.same(before, tree(w.dir))
      assert.matches("dry run, nothing deleted %(%-%-yes deletes%)", out)
      assert.matches("\n  keep    f3%s+full set of 2023%-11%-15 03:13:20 UTC, generations %d+ %.%. %d+, [%d.]+ KiB: "
        .. "one of the 2 newest full sets", out)
      assert.matches("\n  delete  f1%-i2%s+incremental set of", out)
      assert.matches("restore points kept: 4 %(f2; f2 %+ f2%-i1; f3; f3 %+ f3%-i1%)", out)
      assert.matches("3 items to delete", out)
      code, out = ese_cmd({ "expire", root, "--keep-full=2", "--archive", arch, "--json" })
      assert.are.equal(0, code)
      local j = cjson.decode(out)
      assert.is_true(j.ok)
      assert.is_true(j.dry_run)
      assert.are.same({}, j.deleted)
      assert.are.equal(root .. "/f1-i2", j.delete[1].path)
      assert.are.equal("incremental", j.delete[1].kind)
      assert.are.equal((T0 + 2 * 3600) * 1000000, j.delete[1].time_us)
      assert.matches('"deleted":%[%]', out)
      code, out, err = ese_cmd({ "expire", root, "--keep-full", "2", "--archive", arch, "--yes" })
      assert.are.equal(0, code, err)
      assert.matches("deleted f1%-i2\n  deleted f1%-i1\n  deleted f1\n", out)
      assert.matches("expire " .. root:gsub("%p", "%%%0") .. ": deleted %d+ items", out)
      -- the plan after it says what was done (tryout16: its rows still said "delete")
      assert.matches("\n  deleted f1%-i2%s+incremental set of", out)
      assert.is_nil(out:find("\n  delete  ", 1, true))
      assert.are.same({ "f2", "f2-i1", "f3", "f3-i1" }, fs.list(root))
      code, out = ese_cmd({ "expire", root, "--keep-full", "2", "--json" })
      assert.are.equal(0, code)
      assert.matches('"delete":%[%]', out)
    end)

    it("usage errors exit 2; a bad root exits 1 naming the error", function()
      local before = tree(w.dir)
      for _, args in ipairs({ { "expire", root }, { "expire", root, "--keep-full", "0", "--yes" },
                              { "expire", root, "--keep-full", "1", "--keep-within", "7x", "--yes" },
                              { "expire", "--keep-full", "1" }, { "expire", root, "--keep-full", "1", "--force" } }) do
        local code, _, err = ese_cmd(args)
        assert.are.equal(2, code, table.concat(args, " "))
        assert.matches("usage: ese expire", err)
      end
      local code, out, err = ese_cmd({ "expire", w:path("none"), "--keep-full", "1", "--json" })
      assert.are.equal(1, code)
      assert.matches("JET_errFileNotFound", err)
      assert.is_false(cjson.decode(out).ok)
      assert.are.same(before, tree(w.dir))
    end)

    it("durations: N, Ns, Nm, Nh, Nd, Nw", function()
      assert.are.equal(45, backup.parse_duration("45"))
      assert.are.equal(90 * 60, backup.parse_duration("90m"))
      assert.are.equal(36 * 3600, backup.parse_duration("36h"))
      assert.are.equal(7 * 86400, backup.parse_duration("7d"))
      assert.are.equal(2 * 604800, backup.parse_duration("2w"))
      assert.is_nil(backup.parse_duration("7x"))
      assert.is_nil(backup.parse_duration("-1d"))
      assert.is_nil(backup.parse_duration(""))
    end)
  end)
end)

describe("backup.expire over a chain mixing compressed and plain sets", function()
  -- The archive cannot ship (its path is a file), so a full backup's
  -- truncation keeps its generations and the next incremental starts
  -- inside the full set: the two share a generation, stored plain in one
  -- and compressed in the other (one log, two files of other bytes).
  it("a compressed incremental sharing a generation with a plain full follows it: the full is kept for it "
     .. "and the chain restores", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local arc = w:path("arc")
    H.write_file(arc, "not a folder")
    local t, _, _, inst = w:table({ log_file_size = 64, archive_path = arc, archive_timeout = 0 })
    local root = w:path("root")
    assert(os.execute("mkdir -p " .. q(root)))
    H.fill(t, 50, "a", 300)
    local f1 = backup.run(inst, root .. "/f1", {})
    H.fill(t, 5, "b", 10)
    local i1 = backup.run(inst, root .. "/f1-i1", { incremental = true, compress = "zstd" })
    assert.is_true(i1.gen_low <= f1.gen_high, "the incremental starts inside the full set")
    H.fill(t, 5, "c", 10)
    backup.run(inst, root .. "/f2", {})
    set_time(root .. "/f1", T0)
    set_time(root .. "/f1-i1", T0 + 2 * 3600)
    set_time(root .. "/f2", T0 + 3 * 3600)
    local plan = backup.expire(root, { keep_full = 1, keep_within = 5400, now = T0 + 3 * 3600 })
    assert.are.same({}, plan.delete)
    assert.are.same(sorted(paths(root, { "f1", "f1-i1", "f2" })), sorted(plan.keep))
    assert.matches("needed by f1%-i1", plan.reasons[root .. "/f1"])
    local chain = paths(root, { "f1", "f1-i1" })
    backup.verify(chain)
    backup.restore(chain, w:path("dest"))
    local keys = H.restored_keys(w, w:path("dest"))
    assert.are.equal(5, H.count_prefix(keys, "b"))
    assert.are.equal(50, H.count_prefix(keys, "a"))
  end)
end)
