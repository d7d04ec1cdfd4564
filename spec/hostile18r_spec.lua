-- hostile18r (session 18): a second reader's attacks on the day's merged
-- work (fork18's timeline mark, logend18's end record, mend18, fold18).
local H = require "support.helpers"
local ese = require "ese"
local backup = require "ese.backup"
local R = require "support.log_records"

describe("a restored copy whose edb.arc (the restore's mark) was damaged", function()
  local w, arc, set, inst, t
  local kit = H.archive_kit({ log_file_size = 64, archive_timeout = 0, archive_retry_max = 50 })
  local params, current, files = kit.params, kit.current, kit.files

  before_each(function()
    w = H.world()
    arc, set, inst, t = H.archived_original(w, kit)
  end)
  after_each(function() w:cleanup() end)

  -- Before: a damaged edb.arc read as none ("archiving starts at the oldest
  -- generation in the log folder"), the restore's mark lost with it: the
  -- copy shipped its own generation `fork` into the original's folder,
  -- where the original (stopped a while) had not shipped that number yet.
  for _, case in ipairs({ { "cut to 10 bytes", function(b) return b:sub(1, 10) end },
                          { "one byte changed", function(b) return b:sub(1, 20) .. "\255" .. b:sub(22) end },
                          { "replaced by a folder: unreadable" } }) do
    it("(" .. case[1] .. ") ships nothing into the original's folder", function()
      t:put("p2_a", "original, after the archive's end")
      local fork = current(w.dir)
      inst:term()
      local dest = w:path("dest")
      local r = ese.restore(set, dest, { archive_path = arc, to_time = ese.fs.now() + 3600, allow_partial = true })
      assert.are.equal(fork - 1, r.last_generation)
      local mark = assert(H.read_file(dest .. "/edb.arc"))
      if case[2] then
        H.write_file(dest .. "/edb.arc", case[2](mark))
      else
        assert(os.remove(dest .. "/edb.arc"))
        assert(os.execute("mkdir " .. H.q(dest .. "/edb.arc")))
      end
      local before = files(arc)
      local ri = w:track(ese.create_instance(H.name("copy"), params(dest, { archive_path = arc })))
      ri:init()
      H.roll(H.open_table(ri, dest), dest, 2, "n_")
      assert.is_true(H.holds(function() return ri:archive_status().shipped_generation < fork end, 1),
        "the copy's generation " .. fork .. " is not shipped")
      local st = ri:archive_status()
      assert.is_true(st.shipped_generation < fork, "the copy's generation " .. fork .. " is not shipped")
      ri:term()
      assert.are.same(before, files(arc), "the archive folder is as the original left it")
      assert.matches("JET_errArchiveTimelineConflict", st.last_error or "", 1, true)
      assert.matches("damaged", st.last_error, 1, true)
    end)
  end
end)

describe("a folder restored from a set and the archive, the original stopped", function()
  local kit = H.archive_kit({ log_file_size = 64, archive_timeout = 0, archive_retry_max = 50 })
  local w, arc, set, inst
  before_each(function()
    w = H.world()
    arc, set, inst = H.archived_original(w, kit)
    inst:term()
  end)
  after_each(function() w:cleanup() end)

  -- Before: the backup's instance shipped nothing into the archive (the
  -- restore's mark: another timeline) and said nothing of it: exit 0, the
  -- logs it could not ship kept in the folder (pinned) by every such
  -- backup, the user told only by an application's archive_status.
  it("ese backup --archive of it says the archive ships nothing (JET_errArchiveTimelineConflict), in its output "
     .. "and --json", function()
    local dest = w:path("dest")
    ese.restore(set, dest, { archive_path = arc })
    local before = kit.files(arc)
    local code, out, err = H.lua_run("bin/ese", { "backup", dest, w:path("full2"), "--archive", arc })
    assert.are.equal(0, code, err)
    assert.matches("JET_errArchiveTimelineConflict", out, 1, true)
    assert.matches("not shipped", out, 1, true)
    assert.are.same(before, kit.files(arc))
    local code2, out2, err2 = H.lua_run("bin/ese", { "backup", dest, w:path("full3"), "--archive", arc, "--json" })
    assert.are.equal(0, code2, err2)
    assert.matches("JET_errArchiveTimelineConflict", require("cjson").decode(out2).report.archive_error or "", 1, true)
  end)

  -- Before: the message named the restored folder's edb.arc and the held
  -- file's whole path before its advice, and archive_status().last_error
  -- (512 bytes, as EseArchiveStatus.szLastError) cut it off: with folder
  -- names of 100 characters nothing of what to do was left.
  it("with long folder names, the archive's refusal keeps what to do (point archive_path at a new folder) in "
     .. "last_error", function()
    local long = w:path(("d"):rep(100))
    assert(os.execute("mkdir -p " .. H.q(long)))
    local dest = long .. "/" .. ("r"):rep(100)
    ese.restore(set, dest, { archive_path = arc })
    local arc_long = long .. "/" .. ("a"):rep(100)
    assert(os.execute("cp -a " .. H.q(arc) .. " " .. H.q(arc_long)))
    local ri = w:track(ese.create_instance(H.name("copy"), kit.params(dest, { archive_path = arc_long })))
    ri:init()
    local err = ri:archive_status().last_error or ""
    ri:term()
    assert.matches("JET_errArchiveTimelineConflict", err, 1, true)
    assert.matches("nothing ships there", err, 1, true)
    assert.matches("point archive_path at a new folder", err, 1, true)
    assert.matches("edb00000001.log", err, 1, true)
  end)
end)

describe("the archive's last generation cut at a record boundary", function()
  -- Before: logend18 held only a generation with a successor to its end
  -- record, so the archive's newest file zeroed from a record boundary on
  -- (hostile18's damage, in the last file) restored as a whole, shorter
  -- generation: success, "replayed to" the archive's last, the commits of
  -- its cut tail dropped without a word, and `ese logs --verify` passed.
  -- Every archived generation was closed by a roll (only closed ones ship).
  it("is refused by a restore through the archive, naming it", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local t, _, _, inst = w:table({ log_file_size = 64, archive_path = w:path("arc"), archive_timeout = 0,
                                    archive_retry_max = 50 })
    for i = 1, 5 do t:put("k" .. i, "old") end
    backup.run(inst, w:path("full"))
    H.roll(t, w.dir, 1, "a_")
    t:put("k1", "A2")
    t:put("k2", "B2")
    H.roll(t, w.dir, 1, "b_")
    local last = ese.file_info(w:path("edb.log")).generation - 1
    assert(H.wait_until(function() return inst:archive_status().shipped_generation >= last end))
    inst:term({ complete = true })
    local name = H.log_name(last)
    local at
    R.each(w:path("arc"), function(_, payload, off, n)
      if n == name and not at and payload:find("B2", 1, true) then at = off end
    end)
    assert.is_not_nil(at)
    local p = w:path("arc/" .. name)
    local d = H.read_file(p)
    H.write_file(p, d:sub(1, at) .. ("\0"):rep(#d - at))
    local e = H.expect_jet("JET_errLogCorruptDuringHardRestore", backup.restore, { w:path("full") }, w:path("r"),
                           { archive_path = w:path("arc") })
    assert.matches(name, e.detail, 1, true)
    assert.matches("lacks its end record", e.detail, 1, true)
    -- with overwrite: refused in the check, before dest's old state goes
    backup.restore({ w:path("full") }, w:path("dest"))
    local before = H.read_file(w:path("dest/app.edb"))
    e = H.expect_jet("JET_errLogCorruptDuringHardRestore", backup.restore, { w:path("full") }, w:path("dest"),
                     { archive_path = w:path("arc"), overwrite = true })
    assert.matches(name, e.detail, 1, true)
    assert.are.equal(before, H.read_file(w:path("dest/app.edb")))
    -- `ese logs --verify` of the archive names it (it passed before)
    local res = require("ese.logchain").check_dir(w:path("arc"), true)
    assert.is_false(res.ok)
    local found
    for _, pr in ipairs(res.problems) do
      if pr.text:find(name, 1, true) and pr.text:find("lacks its end record", 1, true) then found = pr end
    end
    assert.is_not_nil(found, "ese logs names the cut generation")
  end)
end)

describe("ese backup --archive NEWDIR of a restored folder", function()
  -- Before: a --archive that did not exist was refused whenever the folder
  -- held edb.arc ("a new one would get the generations not shipped yet, a
  -- gap"), also when edb.arc was the restore's mark, where a new folder is
  -- what the archive asks for (the old one ships nothing).
  it("takes a new archive folder: every generation of the folder ships there", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local t, _, _, inst = w:table({ log_file_size = 64 })
    for i = 1, 5 do t:put("k" .. i, "v") end
    backup.run(inst, w:path("set"))
    inst:term()
    local dest = w:path("dest")
    ese.restore(w:path("set"), dest)
    local newarc = w:path("newarc")
    local gens = {}   -- the folder's closed generations, as the restore left them
    for name in pairs(H.log_files(dest)) do
      if name:match("^edb%x+%.log$") then gens[name] = H.read_file(dest .. "/" .. name) end
    end
    assert.is_truthy(next(gens), "the restored folder holds closed generations")
    local code, out, err = H.lua_run("bin/ese", { "backup", dest, w:path("full2"), "--archive", newarc })
    assert.are.equal(0, code, (out or "") .. (err or ""))
    for name, bytes in pairs(gens) do
      assert.is_true(H.read_file(newarc .. "/" .. name) == bytes, name .. " shipped to the new archive, whole")
    end
  end)
end)
