-- Probes of a hostile tester against continuous backup (session 12, mended in
-- session 13): case-exact base names, a new timeline in the archive, exact
-- commit times. Each
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

describe("restore to the exact time of a commit, read back from the engine", function()
  -- A set, then commits "a" and "b" (2 ms apart at least), a mark, then a
  -- later generation of "c" commits; every generation after the set archived.
  local w, set, arc, mark
  before_each(function()
    w = H.world()
    local t, _, _, inst = w:table({ log_file_size = 64 })
    t:put("base", "1")
    set, arc = w:path("set"), w:path("arc")
    backup.run(inst, set)
    t:put("a", "1")
    H.time_mark()
    t:put("b", "1")
    mark = H.time_mark()
    H.roll(t, w.dir, 2, "c")
    assert(os.execute("mkdir -p " .. H.q(arc)))
    for _, name in ipairs(fs.list(w.dir)) do
      local g = H.log_gen(name)
      if g and g > 0 then H.write_file(arc .. "/" .. name, assert(H.read_file(w:path(name)))) end
    end
  end)
  after_each(function() w:cleanup() end)

  local n = 0
  local function restore_to(tm)
    n = n + 1
    local dest = w:path("dest" .. n)
    local r = ese.restore(set, dest, { archive_path = arc, to_time = tm })
    assert.is_true(r.reached)
    return r, H.restored_keys(w, dest)
  end

  it("to_time = last_commit_time includes that commit; 1 µs earlier excludes it; last_commit_time_us is "
     .. "the exact microsecond", function()
    local r, keys = restore_to(mark)          -- b's time, as the engine reports it
    assert.is_true(keys.b and keys.a)
    assert.is_nil(keys.c0000001)
    local tb, tb_us = r.last_commit_time, r.last_commit_time_us
    assert.are.equal("integer", math.type(tb_us))
    assert.are.equal(tb_us, math.floor(tb * 1e6 + 0.5), "last_commit_time is last_commit_time_us in seconds")
    -- the same through backup.restore's report
    local br = backup.restore(set, w:path("bdest"), { archive_path = arc, to_time = mark })
    assert.are.equal(tb_us, br.last_commit_time_us)
    -- to_time at b's exact time: b is in, and it is the last commit restored
    r, keys = restore_to(tb)
    assert.is_true(keys.b, "the commit at to_time is restored")
    assert.are.equal(tb_us, r.last_commit_time_us)
    keys = select(2, restore_to(tb_us / 1e6))
    assert.is_true(keys.b)
    -- 1 µs before: b is out, a (2 ms earlier at least) is in
    for _, tm in ipairs({ tb - 1e-6, (tb_us - 1) / 1e6 }) do
      r, keys = restore_to(tm)
      assert.is_nil(keys.b, ("to_time %.6f, 1 µs before b's commit, restored b"):format(tm))
      assert.is_true(keys.a)
      assert.is_true(r.last_commit_time_us < tb_us)
    end
    -- the command line: b's time printed back in microseconds restores b, 1 µs less does not
    for _, c in ipairs({ { tb_us, true }, { tb_us - 1, nil } }) do
      local dest = w:path("cli" .. c[1])
      local code, out, err = H.lua_run("bin/ese", { "restore", set, dest, "--archive", arc, "--to-time",
        ("%d.%06d"):format(c[1] // 1000000, c[1] % 1000000) })
      assert.are.equal(0, code, out .. err)
      assert.are.equal(c[2], H.restored_keys(w, dest).b, out)
    end
  end)
end)

describe("archiving into the same folder after a point-in-time restore (a new timeline)", function()
  -- before: the restored instance re-shipped the restored generations, met
  -- the cut generation G whose archived file (the old timeline's) has other
  -- bytes, and retried for ever with "exists with other content ... (move it
  -- away)": advice that, followed, loses the old timeline's restore points
  -- (and mixes the timelines in the archive); nothing said so at init.  In
  -- place (over the live folder, whose edb.arc is ahead of the restored
  -- log), the archiver skipped to the current generation: the cut
  -- generation and every new one closed before a restart were never
  -- shipped, to any folder, and not pinned against deletion.
  local w, arc, set, m1, m2, old_files, old_keys, cut
  local kit = H.archive_kit({ log_file_size = 64, archive_timeout = 0, archive_retry_max = 50 })
  local params, wait_status, current, files = kit.params, kit.wait_status, kit.current, kit.files

  local function restore_keys(dir, dest, tm)
    ese.restore(set, dest, { archive_path = dir, to_time = tm })
    return H.restored_keys(w, dest)
  end

  before_each(function()
    w = H.world()
    arc, set = w:path("arc"), w:path("set")
    local inst = w:track(ese.create_instance(H.name("live"), params(w.dir, { archive_path = arc })))
    inst:init()
    local s = inst:begin_session()
    local t = s:create_table(s:create_database(w:path("app.edb")), "t")
    for i = 1, 20 do t:put(("base%03d"):format(i), "b") end
    backup.run(inst, set)
    H.roll(t, w.dir, 2, "p1_")
    m1 = H.time_mark()
    H.roll(t, w.dir, 2, "p2_")
    m2 = H.time_mark()
    H.roll(t, w.dir, 1, "p3_")
    local cur = current(w.dir)
    wait_status(inst, function(st) return st.pending == 0 and st.shipped_generation == cur - 1 end)
    inst:term({ complete = true })
    old_files = files(arc)
    old_keys = restore_keys(arc, w:path("old-m2"), m2)     -- the old timeline at m2, before any fork
    assert.is_true(H.count_prefix(old_keys, "p2_") > 0)
  end)
  after_each(function() w:cleanup() end)

  -- The restored folder dir (cut at generation `cut`) initialized with the
  -- same archive folder: the conflict said at once and after rolls; the
  -- old timeline untouched and still restoring; every new generation kept.
  local function same_archive(dir)
    local ri = w:track(ese.create_instance(H.name("r"), params(dir, { archive_path = arc, archive_max_backlog = 1,
                                                                     circular_log = true, checkpoint_depth = 0 })))
    ri:init()
    local st = ri:archive_status()
    assert.matches("JET_errArchiveTimelineConflict", st.last_error or "", 1, true)
    assert.matches("new folder", st.last_error, 1, true)
    local rt = H.open_table(ri, dir)
    assert.is_nil(rt:get("p2_0000001"))
    H.roll(rt, dir, 3, "n_")
    -- (session 18) the restore's mark and this stream's files in the folder:
    -- nothing ships there at all, not even a generation the folder lacks
    -- (the original may still archive its own under that number)
    assert.is_true(H.holds(function() return ri:archive_status().shipped_generation == 0 end, 1), "nothing ships")
    st = ri:archive_status()
    assert.matches("JET_errArchiveTimelineConflict", st.last_error, 1, true)
    assert.matches("nothing ships there", st.last_error, 1, true)
    assert.matches("new folder", st.last_error, 1, true)
    assert.are.equal(0, st.shipped_generation, "nothing is shipped")
    assert.is_true(st.backlog)
    local warn = rt:put("after", "conflict")
    assert.are.equal("JET_wrnArchiveBacklog", warn and warn.name)
    -- every generation of the new timeline is kept (circular logging is on)
    for g = cut, current(dir) - 1 do assert.is_true(H.exists(dir .. "/" .. H.log_name(g)), H.log_name(g)) end
    -- the archive: the same files, the same bytes; the old timeline's later point still restores exactly
    assert.are.same(old_files, files(arc))
    assert.are.same(old_keys, restore_keys(arc, w:path("old-again-" .. H.name()), m2))
    return ri
  end

  -- The restored folder dir archiving into a new folder: every generation
  -- of its log folder from the oldest shipped there (the cut one and the
  -- new ones included); a full backup plus the new folder restores the new
  -- timeline.
  local function new_folder(dir)
    local arc2 = w:path("arc2-" .. H.name())
    local ri = w:track(ese.create_instance(H.name("r2"), params(dir, { archive_path = arc2 })))
    ri:init()
    local rt = H.open_table(ri, dir)
    local cur = current(dir)
    local st = wait_status(ri, function(x) return x.pending == 0 and x.shipped_generation == cur - 1 end)
    assert.is_nil(st.last_error)
    for g = cut, cur - 1 do
      assert.are.equal(H.read_file(dir .. "/" .. H.log_name(g)), H.read_file(arc2 .. "/" .. H.log_name(g)),
        H.log_name(g) .. " shipped to the new folder")
    end
    local set2 = w:path("set2-" .. H.name())
    backup.run(ri, set2)
    rt:put("q", "1")
    local m3 = H.time_mark()
    H.roll(rt, dir, 1, "z_")
    cur = current(dir)
    wait_status(ri, function(x) return x.pending == 0 and x.shipped_generation == cur - 1 end)
    ri:term({ complete = true })
    local dest = w:path("new-" .. H.name())
    ese.restore(set2, dest, { archive_path = arc2, to_time = m3 })
    local keys = H.restored_keys(w, dest)
    assert.is_true(keys.q and keys.after)
    assert.is_true(H.count_prefix(keys, "n_") > 0)
    assert.are.equal(0, H.count_prefix(keys, "p2_"))
    assert.are.equal(0, H.count_prefix(keys, "z_"))
  end

  it("restored into a new folder: JET_errArchiveTimelineConflict at init and at the cut generation, the "
     .. "old archive intact and restoring; a new archive folder takes the new timeline", function()
    local dest = w:path("dest")
    cut = ese.restore(set, dest, { archive_path = arc, to_time = m1 }).last_generation
    same_archive(dest):term()
    new_folder(dest)
  end)

  it("restored in place over the live folder (edb.arc ahead of the log): the same, and the cut generation "
     .. "and the new ones closed meanwhile ship to the new folder", function()
    cut = ese.restore(set, w.dir, { archive_path = arc, to_time = m1, overwrite = true }).last_generation
    same_archive(w.dir):term()
    new_folder(w.dir)
  end)

  -- before: the restore's mark was a real generation number (past the
  -- logs it was given), which the restored instance reached after a few
  -- rolls without an archive: an archive configured then took every
  -- generation below the mark for shipped, the cut one included (never
  -- archived, not pinned)
  it("restored, run without an archive past the old timeline's end, then archived to a new folder: every "
     .. "generation of the log folder from the cut one ships", function()
    local dest = w:path("dest")
    cut = ese.restore(set, dest, { archive_path = arc, to_time = m1 }).last_generation
    local ri = w:track(ese.create_instance(H.name("na"), params(dest)))
    ri:init()
    H.roll(H.open_table(ri, dest), dest, 8, "n_")
    ri:term({ complete = true })
    local arc2 = w:path("arc2")
    ri = w:track(ese.create_instance(H.name("na2"), params(dest, { archive_path = arc2 })))
    ri:init()
    local cur = current(dest)
    wait_status(ri, function(x) return x.pending == 0 and x.shipped_generation == cur - 1 end)
    for g = cut, cur - 1 do
      assert.are.equal(H.read_file(dest .. "/" .. H.log_name(g)), H.read_file(arc2 .. "/" .. H.log_name(g)),
        H.log_name(g) .. " shipped to the new folder")
    end
    ri:term({ complete = true })
    assert.are.same(old_files, files(arc))
  end)

  -- before: archive_command = "cp %p ARC/%f" on the restored folder copied
  -- the cut generation and the new ones over the old timeline's files
  it("restored, then archive_command to the same destination: nothing ships (a command could overwrite the "
     .. "old timeline), JET_errArchiveTimelineConflict; a new destination once edb.arc is removed", function()
    local dest = w:path("dest")
    cut = ese.restore(set, dest, { archive_path = arc, to_time = m1 }).last_generation
    assert.is_true(H.exists(dest .. "/edb.arc"), "the restore says the stream was cut")
    local ri = w:track(ese.create_instance(H.name("rc"), params(dest, { archive_command = "cp %p " .. arc .. "/%f" })))
    ri:init()
    local st = ri:archive_status()
    assert.matches("JET_errArchiveTimelineConflict", st.last_error or "", 1, true)
    assert.matches("archive_command", st.last_error, 1, true)
    assert.is_true(st.failures > 0)
    local rt = H.open_table(ri, dest)
    H.roll(rt, dest, 2, "n_")
    st = ri:archive_status()
    assert.are.equal(0, st.shipped_generation)
    local lo = math.huge
    for _, name in ipairs(fs.list(dest)) do
      local g = H.log_gen(name)
      if g and g > 0 and g < lo then lo = g end
    end
    assert.are.equal(current(dest) - lo, st.pending, "every generation of the log folder waits")
    ri:term()
    assert.are.same(old_files, files(arc))
    assert.are.same(old_keys, restore_keys(arc, w:path("old-again"), m2))
    -- a new destination, and edb.arc removed: every generation of the log folder ships there
    local arc3 = w:path("arc3")
    assert(os.execute("mkdir -p " .. H.q(arc3)))
    assert(os.remove(dest .. "/edb.arc"))
    ri = w:track(ese.create_instance(H.name("rc2"), params(dest, { archive_command = "cp %p " .. arc3 .. "/%f" })))
    ri:init()
    local cur = current(dest)
    st = wait_status(ri, function(x) return x.pending == 0 and x.shipped_generation == cur - 1 end)
    assert.is_nil(st.last_error)
    for g = lo, cur - 1 do
      assert.are.equal(H.read_file(dest .. "/" .. H.log_name(g)), H.read_file(arc3 .. "/" .. H.log_name(g)))
    end
    ri:term()
    assert.are.same(old_files, files(arc))
  end)
end)
