-- History forks (session 18): an instance restored from another's set and
-- archive continues the same log stream (the same signature, the same
-- generation numbers) from where the restore ended; the original may still
-- be running.  Both must never share one archive folder.
local H = require "support.helpers"
local ese = require "ese"
local backup = require "ese.backup"

describe("a restored copy and its still-running original, one archive folder", function()
  local w, arc, set, inst, t
  local kit = H.archive_kit({ log_file_size = 64, archive_timeout = 0, archive_retry_max = 50 })
  local params, wait_status, current, files = kit.params, kit.wait_status, kit.current, kit.files

  -- An instance on the restored folder dest archiving into folder: refused
  -- at init (the last error holds words), nothing shipped after a roll.
  local function refused(dest, folder, words)
    local ri = w:track(ese.create_instance(H.name("r"), params(dest, { archive_path = folder })))
    ri:init()
    local st = ri:archive_status()
    assert.matches("JET_errArchiveTimelineConflict", st.last_error or "", 1, true)
    assert.matches(words, st.last_error, 1, true)
    H.roll(H.open_table(ri, dest), dest, 1, "n_")
    assert.is_true(H.holds(function() return ri:archive_status().shipped_generation == 0 end, 1), "nothing ships")
    ri:term()
  end

  before_each(function()
    w = H.world()
    arc, set, inst, t = H.archived_original(w, kit)
  end)
  after_each(function() w:cleanup() end)

  -- The original goes on in its current generation (not archived yet); a
  -- copy restored from the set and the archive (to the end of the archive)
  -- runs on with the same archive folder and rolls first.  Before: the
  -- copy shipped its own generation `fork` there (the folder lacked that
  -- number); the original, running again, met it ("another timeline") and
  -- archived nothing more; and a restore of the original to a time after
  -- its commit p2_a said reached = true without p2_a (the copy's
  -- generation, contiguous by its header, read as the original's).
  it("the restored copy ships nothing into the original's folder; the original keeps archiving, and a "
     .. "point in time of the original restores its commits", function()
    t:put("p2_a", "original, after the archive's end")
    local m2 = H.time_mark()
    local fork = current(w.dir)      -- the original's current generation: not in the archive
    inst:term()                      -- stopped a while (the folder's lock goes with it)
    local dest = w:path("dest")
    local r = ese.restore(set, dest, { archive_path = arc, to_time = ese.fs.now() + 3600, allow_partial = true })
    assert.is_false(r.reached)
    assert.are.equal(fork - 1, r.last_generation)
    local before = files(arc)
    local ri = w:track(ese.create_instance(H.name("copy"), params(dest, { archive_path = arc })))
    ri:init()
    local rt = H.open_table(ri, dest)
    assert.is_nil(rt:get("p2_a"))
    H.roll(rt, dest, 2, "n_")
    assert.is_true(H.holds(function() return ri:archive_status().shipped_generation < fork end, 1),
      "the copy's generation " .. fork .. " is not shipped")
    local st = ri:archive_status()
    assert.matches("JET_errArchiveTimelineConflict", st.last_error or "", 1, true)
    assert.is_true(st.shipped_generation < fork, "the copy's generation " .. fork .. " is not shipped")
    ri:term()
    assert.are.same(before, files(arc), "the archive folder is as the original left it")
    -- the original runs again and rolls: its generation `fork` ships, no conflict
    inst = w:track(ese.create_instance(H.name("live2"), params(w.dir, { archive_path = arc })))
    inst:init()
    t = H.open_table(inst, w.dir)
    H.roll(t, w.dir, 1, "p3_")
    local cur = current(w.dir)
    st = wait_status(inst, function(x) return x.shipped_generation == cur - 1 or x.failures > 0 end)
    assert.is_nil(st.last_error)
    assert.are.equal(cur - 1, st.shipped_generation)
    -- the original at m2 holds p2_a, and nothing of the copy
    local dest2 = w:path("dest2")
    assert.is_true(ese.restore(set, dest2, { archive_path = arc, to_time = m2 }).reached)
    local keys = H.restored_keys(w, dest2)
    assert.is_true(keys.p2_a, "the original's commit before the point in time")
    assert.are.equal(0, H.count_prefix(keys, "n_"))
  end)

  -- Before: a restore from the set alone left no mark, and the copy's
  -- archive_command copied its generations over the original's archived
  -- files of the same numbers (cp overwrites).
  it("a copy restored from the set alone, with the original's archive_command: nothing ships (the "
     .. "command could overwrite the original's files); a new destination takes every generation", function()
    H.roll(t, w.dir, 1, "p2_")
    local cur = current(w.dir)
    wait_status(inst, function(x) return x.pending == 0 and x.shipped_generation == cur - 1 end)
    inst:term({ complete = true })
    local before = files(arc)
    local dest = w:path("dest")
    ese.restore(set, dest)
    assert.is_true(H.exists(dest .. "/edb.arc"), "the restore marks a new timeline")
    local ri = w:track(ese.create_instance(H.name("cmd"), params(dest, { archive_command = "cp %p " .. arc .. "/%f" })))
    ri:init()
    local st = ri:archive_status()
    assert.matches("JET_errArchiveTimelineConflict", st.last_error or "", 1, true)
    local rt = H.open_table(ri, dest)
    H.roll(rt, dest, 3, "n_")
    assert.is_true(H.holds(function() return ri:archive_status().shipped_generation == 0 end, 1), "nothing ships")
    ri:term()
    assert.are.same(before, files(arc), "the original's archived files are untouched")
    -- a new destination, the mark removed (as the error says): every generation of the copy ships there
    local arc2 = w:path("arc2")
    assert(os.execute("mkdir -p " .. H.q(arc2)))
    assert(os.remove(dest .. "/edb.arc"))
    ri = w:track(ese.create_instance(H.name("cmd2"), params(dest, { archive_command = "cp %p " .. arc2 .. "/%f" })))
    ri:init()
    cur = current(dest)
    st = wait_status(ri, function(x) return x.pending == 0 and x.shipped_generation == cur - 1 end)
    assert.is_nil(st.last_error)
    ri:term()
    local n = 0
    for name, bytes in pairs(files(arc2)) do
      n = n + 1
      assert.are.equal(H.read_file(dest .. "/" .. name), bytes, name)
    end
    assert.is_true(n >= 3)
  end)

  it("a copy restored from the set alone, archive_path a new folder: every generation ships, no error; "
     .. "the original's folder refuses it", function()
    local dest = w:path("dest")
    ese.restore(set, dest)
    local before = files(arc)
    inst:term()
    refused(dest, arc, "nothing ships there")
    assert.are.same(before, files(arc))
    local arc2 = w:path("arc2")
    local st
    local ri = w:track(ese.create_instance(H.name("new"), params(dest, { archive_path = arc2 })))
    ri:init()
    assert.is_nil(ri:archive_status().last_error)
    local rt = H.open_table(ri, dest)
    H.roll(rt, dest, 1, "m_")
    local cur = current(dest)
    st = wait_status(ri, function(x) return x.pending == 0 and x.shipped_generation == cur - 1 end)
    assert.is_nil(st.last_error)
    -- a full backup of the copy and the new folder restore the copy's commits
    local set2 = w:path("set2")
    backup.run(ri, set2)
    rt:put("after_set2", "1")
    H.roll(rt, dest, 1, "q_")
    cur = current(dest)
    wait_status(ri, function(x) return x.pending == 0 and x.shipped_generation == cur - 1 end)
    ri:term({ complete = true })
    local keys = H.restored_keys(w, (function()
      local d = w:path("dest3")
      ese.restore(set2, d, { archive_path = arc2, to_time = ese.fs.now() + 3600, allow_partial = true })
      return d
    end)())
    assert.is_true(keys.after_set2)
    assert.is_true(H.count_prefix(keys, "n_") > 0)
  end)

  -- An archive folder that cannot be listed (here a file at its path) is
  -- not taken for a new one: the mark stays, so that the old folder given
  -- later still refuses the copy.
  it("a restored copy whose archive_path cannot be listed: nothing ships, the mark stays; the original's "
     .. "folder given then still refuses it", function()
    local dest = w:path("dest")
    ese.restore(set, dest)
    local mark = H.read_file(dest .. "/edb.arc")
    local bad = w:path("not-a-folder")
    H.write_file(bad, "x")
    inst:term()
    refused(dest, bad, "cannot be listed")
    assert.are.equal(mark, H.read_file(dest .. "/edb.arc"), "edb.arc still holds the restore's mark")
    local before = files(arc)
    refused(dest, arc, "nothing ships there")
    assert.are.same(before, files(arc))
  end)

  -- Not a bug (these pass before and after): the chaining of generations
  -- refuses a restore that would mix the two branches.  A copy cut at a
  -- point inside generation F runs on and writes F+1' (its header says it
  -- follows F, as the original's F+1 does); a restore of the original's set
  -- through the original's archive and the copy's log folder would read
  -- the original's whole F (commits after the point) and then the copy's
  -- F+1': a database that never existed.
  for _, archived_next in ipairs({ true, false }) do
    it("a restore through the original's archive and a cut copy's log folder is refused (the original's "
       .. "next generation " .. (archived_next and "archived" or "not archived") .. ")", function()
      t:put("a1", "1")
      local m1 = H.time_mark()
      t:put("a2", "after m1, in the same generation")
      H.roll(t, w.dir, archived_next and 2 or 1, "p2_")
      local cur = current(w.dir)
      wait_status(inst, function(x) return x.pending == 0 and x.shipped_generation == cur - 1 end)
      t:put("z", "the original's current generation")
      inst:term({ complete = true })
      local dest = w:path("copy")
      local cut = ese.restore(set, dest, { archive_path = arc, to_time = m1 }).last_generation
      local ci = w:track(ese.create_instance(H.name("copy"), params(dest)))
      ci:init()
      H.roll(H.open_table(ci, dest), dest, 2, "c_")
      ci:term({ complete = true })
      assert.are.equal(H.read_file(arc .. "/" .. H.log_name(cut)):sub(1, 4096),
        H.read_file(dest .. "/" .. H.log_name(cut)):sub(1, 4096), "the cut generation keeps its header")
      local mixed = w:path("mixed")
      local err = H.catch(ese.restore, set, mixed, { archive_path = arc, live_log_path = dest,
        to_time = ese.fs.now() + 3600, allow_partial = true })
      assert.is_table(err, "the mixed restore was refused")
      -- the original's next generation archived: it and the copy's differ in their header (creation
      -- time); not archived: the copy's next generation attaches the database at the cut, which the
      -- original's whole generation F has passed (the clean point in LR_ATTACH)
      assert.are.equal(archived_next and "JET_errGivenLogFileIsNotContiguous" or "JET_errConsistentTimeMismatch",
        err.name)
    end)
  end
end)

-- Before: `ese restore` said nothing of the new timeline; only the
-- instance's archive_status().last_error did, at its init (hostile18r).
describe("ese restore through an archive", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("says the restored folder starts a new timeline (the line after the summary); without an archive, not",
     function()
    local arc = w:archived_full()
    local dest = w:path("dest")
    local code, out, err = H.lua_run("bin/ese", { "restore", w:path("full"), dest, "--archive", arc })
    assert.are.equal(0, code, out .. err)
    local second = out:match("restored [^\n]*\n([^\n]*)")
    assert.are.equal("a new timeline starts in " .. dest .. ": archive an instance there into a new folder or "
      .. "destination, not the archive this restore read (it keeps the old timeline's generations; the instance "
      .. "ships nothing there: JET_errArchiveTimelineConflict)", second)
    code, out, err = H.lua_run("bin/ese", { "restore", w:path("full"), w:path("dest2") })
    assert.are.equal(0, code, out .. err)
    assert.is_nil(out:find("new timeline", 1, true))
  end)
end)
