-- ese.restore on tampered sets (peer cases group I; docs/backup.md
-- rule 12) and the restore happy paths of group H that other specs do
-- not cover.  Every set is a real streamed backup (H.rolled_backup: the
-- copy's trailer names the last generation the set lists), then changed
-- on disk; ese.restore is called directly (ese.backup's manifest checks
-- would catch most of these first).
local ese = require "ese"
local H = require "support.helpers"

local PAGE = 8192

-- The keys of table "t" of <dir>/app.edb with the given prefix, counted on
-- a new instance of dir (terminated cleanly afterwards).
local count_keys = H.count_keys

-- The error of attaching <dir>/app.edb on a new instance (its own log
-- folder), or nil when the attach works.
local function attach_error(w, dir)
  local logs = dir .. "-attach"
  local inst = w:track(ese.create_instance(H.name("attach"), H.params(logs)))
  inst:init()
  local s = inst:begin_session()
  local ok, e = pcall(s.attach_database, s, dir .. "/app.edb")
  inst:term({ complete = true })        -- leaves a database it attached clean
  return (not ok) and e or nil
end

describe("ese.restore refuses a wrong set (rule 12, group I)", function()
  local w, t, s, inst, set, set_dir

  before_each(function()
    w = H.world()
    set_dir = w:path("set")
    local _
    set, t, s, _, inst = w:base_set(set_dir)
    assert.is_true(set.info.gen_high - set.info.gen_low >= 3, "the set spans at least 4 generations")
  end)
  after_each(function() w:cleanup() end)

  -- A copy of the set to tamper with.
  local function copy(name)
    return H.copy_dir(set_dir, w:path(name))
  end
  local function log_of(dir, gen) return dir .. "/" .. H.log_name(gen) end

  it("I01: a set without log files: JET_errFileNotFound, and nothing is written", function()
    local d = copy("nologs")
    for g = set.info.gen_low, set.info.gen_high do assert.is_true(os.remove(log_of(d, g))) end
    local e = H.expect_jet("JET_errFileNotFound", ese.restore, d, w:path("dest"))
    assert.are.equal("restore", e.op)
    assert.is_false(H.exists(w:path("dest")))
  end)

  it("an unknown option key is an argument error, before anything is written (a typo was ignored)", function()
    H.expect_argerror("bad argument #3 .*unknown option 'to_generaton'", ese.restore, set_dir, w:path("dest"),
      { to_generaton = set.info.gen_low })
    H.expect_argerror("unknown option 'overwrit'", ese.restore_begin, { set_dir }, w:path("dest"),
      { overwrit = true })
    H.expect_argerror("unknown option '1'", ese.restore, set_dir, w:path("dest"), { true })
    assert.is_false(H.exists(w:path("dest")))
    -- every documented key is accepted
    local r = ese.restore(set_dir, w:path("dest"), { to_generation = set.info.gen_high, overwrite = false,
      base_name = "edb", on_progress = function() end })
    assert.is_true(r.steps > 0)
  end)

  it("I01: a set without its database: JET_errFileNotFound", function()
    local d = copy("nodb")
    assert.is_true(os.remove(d .. "/app.edb"))
    H.expect_jet("JET_errFileNotFound", ese.restore, d, w:path("dest"))
    H.expect_jet("JET_errFileNotFound", ese.restore, w:path("no-such-set"), w:path("dest"))
  end)

  it("I02: a generation missing in the middle: JET_errMissingRestoreLogFiles (-557)", function()
    local d = copy("gap")
    assert.is_true(os.remove(log_of(d, set.info.gen_low + 1)))
    local e = H.expect_jet("JET_errMissingRestoreLogFiles", ese.restore, d, w:path("dest"))
    assert.are.equal(-557, e.code)
    assert.is_false(H.exists(w:path("dest")))
  end)

  it("I03: a log of the right number from another instance's stream: JET_errGivenLogFileHasBadSignature (-555)",
     function()
    local w2 = H.world()
    finally(function() w2:cleanup() end)
    local other = w2:base_set(w2:path("set"), { rolls = 6 })
    assert.is_true(other.info.gen_high >= set.info.gen_high, "the other stream has every generation number")
    -- a log in the middle, then the first one, then the database
    for i, g in ipairs({ set.info.gen_low + 1, set.info.gen_low }) do
      local d = copy("foreign" .. i)
      H.write_file(log_of(d, g), H.read_file(log_of(w2:path("set"), g)))
      local e = H.expect_jet("JET_errGivenLogFileHasBadSignature", ese.restore, d, w:path("dest"))
      assert.are.equal(-555, e.code)
    end
    local d = copy("foreign-db")
    H.write_file(d .. "/app.edb", H.read_file(w2:path("set/app.edb")))
    H.expect_jet("JET_errGivenLogFileHasBadSignature", ese.restore, d, w:path("dest"))
    assert.is_false(H.exists(w:path("dest")))
  end)

  it("I04: a log of the right number and signature that does not follow its predecessor: "
     .. "JET_errGivenLogFileIsNotContiguous (-556)", function()
    -- A fork of the same stream: restore the set, run an instance on the
    -- restored folder; it writes generation gen_high + 1 with the same log
    -- signature, while the original instance writes its own gen_high + 1.
    local fork = w:path("fork")
    ese.restore(set_dir, fork)
    local fi = w:track(ese.create_instance(H.name("fork"), H.params(fork, { log_file_size = 64 })))
    fi:init()
    H.roll(H.open_table(fi, fork), fork, 2, "fork")
    fi:term({ complete = true })
    local set2 = H.rolled_backup(inst, t, w:path("set2"), { log_dir = w.dir, prefix = "pre2" })
    local g = set.info.gen_high + 1
    assert.are.equal(g, set2.info.gen_low, "the second set starts where the first ended")
    assert.is_true(H.exists(log_of(fork, g)))
    assert.are.equal(ese.file_info(log_of(fork, g)).log_signature, ese.file_info(log_of(set_dir, g - 1)).log_signature)
    local d = H.copy_dir(w:path("set2"), w:path("set2x"))
    H.write_file(log_of(d, g), H.read_file(log_of(fork, g)))
    local e = H.expect_jet("JET_errGivenLogFileIsNotContiguous", ese.restore, d, w:path("dest"))
    assert.are.equal(-556, e.code)
    -- the same in a chain: the full set, then set2x
    H.expect_jet("JET_errGivenLogFileIsNotContiguous", ese.restore, { set_dir, d }, w:path("dest2"))
  end)

  it("I05: the first generation the copy needs removed: JET_errStartingRestoreLogTooHigh (-554)", function()
    local d = copy("first")
    assert.is_true(os.remove(log_of(d, set.info.gen_low)))
    local e = H.expect_jet("JET_errStartingRestoreLogTooHigh", ese.restore, d, w:path("dest"))
    assert.are.equal(-554, e.code)
  end)

  it("I05: the last generation removed, which the copy's trailer names: JET_errEndingRestoreLogTooLow (-553)",
     function()
    local trailer = H.db_header(H.read_file(set_dir .. "/app.edb"):sub(-PAGE))
    assert.are.equal(set.info.gen_high, trailer.current.gen_hi)
    local d = copy("last")
    assert.is_true(os.remove(log_of(d, set.info.gen_high)))
    local e = H.expect_jet("JET_errEndingRestoreLogTooLow", ese.restore, d, w:path("dest"))
    assert.are.equal(-553, e.code)
  end)

  it("I05: to_generation below what the copy needs: JET_errEndingRestoreLogTooLow; at it: success", function()
    H.expect_jet("JET_errEndingRestoreLogTooLow", ese.restore, set_dir, w:path("dest"),
                 { to_generation = set.info.gen_high - 1 })
    H.expect_jet("JET_errEndingRestoreLogTooLow", ese.restore, set_dir, w:path("dest"),
                 { to_generation = set.info.gen_low })
    ese.restore(set_dir, w:path("dest"), { to_generation = set.info.gen_high })
    assert.are.equal(20, count_keys(w, w:path("dest"), "base"))
  end)

  it("I06 / I11: a flipped byte inside a log record: JET_errLogCorruptDuringHardRestore at replay; "
     .. "dest's database is refused (JET_errDatabaseDirtyShutdown); fixed, the same restore over the same dest "
     .. "(overwrite) works",
     function()
    local d = copy("recflip")
    local victim = log_of(d, set.info.gen_low + 1)
    H.flip_byte(victim, H.LOG_DATA + 40)          -- inside the generation's first record
    local dest = w:path("dest")
    local e = H.expect_jet("JET_errLogCorruptDuringHardRestore", ese.restore, d, dest)
    assert.are.equal(-573, e.code)
    assert.matches("replay failed", e.detail)
    -- the database was copied before the replay failed: never "clean"
    assert.are.equal(4, H.db_header(dest .. "/app.edb").state)    -- being restored
    local ae = attach_error(w, dest)
    assert.are.equal("JET_errDatabaseDirtyShutdown", ae and ae.name)
    H.flip_byte(victim, H.LOG_DATA + 40)          -- undo
    H.expect_jet("JET_errBackupDirectoryNotEmpty", ese.restore, d, dest)
    ese.restore(d, dest, { overwrite = true })
    assert.is_nil(attach_error(w, dest))
    assert.are.equal(20, count_keys(w, dest, "base"))
  end)

  it("I06: the last record of a log damaged (nothing valid after it): JET_errLogTornWriteDuringHardRestore (-570)",
     function()
    local d = copy("torn")
    local victim = log_of(d, set.info.gen_low + 1)
    H.flip_byte(victim, H.last_data_offset(victim))
    local e = H.expect_jet("JET_errLogTornWriteDuringHardRestore", ese.restore, d, w:path("dest"))
    assert.are.equal(-570, e.code)
  end)

  it("I07: a live database in place of the streamed copy: JET_errRestoreOfNonBackupDatabase (-615)", function()
    -- the running instance's own (dirty) file, and a cleanly shut-down one
    local d = copy("live")
    H.write_file(d .. "/app.edb", H.read_file(w:path("app.edb")))
    local e = H.expect_jet("JET_errRestoreOfNonBackupDatabase", ese.restore, d, w:path("dest"))
    assert.are.equal(-615, e.code)
    inst:term({ complete = true })
    assert.are.equal(H.DB_CLEAN, H.db_header(w:path("app.edb")).state)
    H.write_file(d .. "/app.edb", H.read_file(w:path("app.edb")))
    H.expect_jet("JET_errRestoreOfNonBackupDatabase", ese.restore, d, w:path("dest"))
    assert.is_false(H.exists(w:path("dest")))
  end)

  it("I08: a flipped byte in a database page: JET_errReadVerifyFailure naming the page; "
     .. "dest is never usable, a restore of the good set into it works", function()
    local d = copy("pageflip")
    H.flip_byte(d .. "/app.edb", 3 * PAGE + 300)
    local dest = w:path("dest")
    local e = H.expect_jet("JET_errReadVerifyFailure", ese.restore, d, dest)
    assert.are.equal(-1018, e.code)
    assert.matches("app.edb: page 3: checksum mismatch", e.detail, 1, true)
    assert.is_not_nil(attach_error(w, dest), "a failed restore never leaves an attachable database")
    ese.restore(set_dir, dest, { overwrite = true })
    assert.is_nil(attach_error(w, dest))
  end)

  it("I08 with overwrite: a set with a damaged page is refused before anything of dest goes: the state restored "
     .. "there before still opens whole (plain and compressed sets)", function()
    local dest = w:path("dest")
    ese.restore(set_dir, dest)
    local before = H.ls(dest)
    local d = copy("pageflip")
    H.flip_byte(d .. "/app.edb", 3 * PAGE + 300)
    local e = H.expect_jet("JET_errReadVerifyFailure", ese.restore, d, dest, { overwrite = true })
    assert.matches("app.edb: page 3: checksum mismatch", e.detail, 1, true)
    assert.are.same(before, H.ls(dest))          -- was: app.edb and the logs gone, a copy "being restored"
    assert.is_nil(attach_error(w, dest))
    -- a compressed set whose page is damaged inside its frame: found by decoding, before dest is touched
    local z = w:path("zset")
    require("ese.backup").run(inst, z, { compress = "zstd" })
    local zd = w:path("zdamaged")
    H.copy_dir(z, zd)
    local zr <close> = ese.zstd.open(z .. "/app.edb.zst")
    local dec = zr:read(zr:size())
    local bad = dec:sub(1, 3 * PAGE + 300) .. string.char(dec:byte(3 * PAGE + 301) ~ 0x5a) .. dec:sub(3 * PAGE + 302)
    H.write_zst(zd .. "/app.edb.zst", bad, PAGE)   -- the trailer page in a frame of its own, as a backup writes it
    e = H.expect_jet("JET_errReadVerifyFailure", ese.restore, zd, dest, { overwrite = true })
    assert.matches("page 3", e.detail, 1, true)
    assert.are.same(before, H.ls(dest))
    assert.is_nil(attach_error(w, dest))
    -- a compressed set whose log holds a damaged record (decoded: the check reads the logs too)
    local zl = w:path("zlogdamaged")
    H.copy_dir(z, zl)
    local logz
    for _, n in ipairs(ese.fs.list(zl)) do if n:match("^edb%x+%.log%.zst$") then logz = zl .. "/" .. n end end
    local lr <close> = ese.zstd.open(logz)
    local ld = lr:read(lr:size())
    local at = H.LOG_DATA + 40                          -- inside the generation's first record
    H.write_zst(logz, ld:sub(1, at) .. string.char(ld:byte(at + 1) ~ 0x5a) .. ld:sub(at + 2))
    e = H.expect_jet("JET_errLogCorruptDuringHardRestore", ese.restore, zl, dest, { overwrite = true })
    assert.matches("checking log", e.detail, 1, true)
    assert.are.same(before, H.ls(dest))
    assert.is_nil(attach_error(w, dest))
    -- the good sets still restore over it
    ese.restore(z, dest, { overwrite = true })
    assert.is_nil(attach_error(w, dest))
  end)

  it("I08: the trailer page damaged or cut off: JET_errBadPatchPage (-535)", function()
    local d = copy("trailer")
    local size = H.file_size(d .. "/app.edb")
    H.flip_byte(d .. "/app.edb", size - PAGE + 100)
    local e = H.expect_jet("JET_errBadPatchPage", ese.restore, d, w:path("dest"))
    assert.are.equal(-535, e.code)
    local data = H.read_file(set_dir .. "/app.edb")
    H.write_file(d .. "/app.edb", data:sub(1, #data - PAGE))      -- the stream without its trailer
    H.expect_jet("JET_errBadPatchPage", ese.restore, d, w:path("dest"))
    H.expect_jet("JET_errBadPatchPage", ese.file_info, d .. "/app.edb", true)
  end)

  it("I08: the trailer of another database: JET_errDatabasePatchFileMismatch (-552)", function()
    -- two databases of the same shape in one backup; swap their trailers
    local dir = w:path("twin")
    local ti = w:open(nil, { log_path = dir, system_path = dir, log_file_size = 64 })
    local ts = ti:begin_session()
    local ta = ts:create_table(ts:create_database(dir .. "/app.edb"), "t")
    local tb = ts:create_table(ts:create_database(dir .. "/two.edb"), "t")
    H.fill(ta, 10)
    H.fill(tb, 10)
    local out = w:path("twinset")
    H.backup(ti, out)
    local a, b = H.read_file(out .. "/app.edb"), H.read_file(out .. "/two.edb")
    assert.are.equal(#a, #b, "the twins stream the same number of pages")
    H.write_file(out .. "/app.edb", a:sub(1, #a - PAGE) .. b:sub(-PAGE))
    local e = H.expect_jet("JET_errDatabasePatchFileMismatch", ese.restore, out, w:path("dest"))
    assert.are.equal(-552, e.code)
  end)

  it("I10: a streamed copy of another page size: JET_errPageSizeMismatch (-1213)", function()
    local dir = w:path("p4")
    local t4, _, _, i4 = w:table_at(dir, "app.edb", { page_size = 4096, log_file_size = 64 })
    H.fill(t4, 10)
    H.backup(i4, w:path("p4set"))
    local d = copy("ps")
    H.write_file(d .. "/app.edb", H.read_file(w:path("p4set/app.edb")))
    local e = H.expect_jet("JET_errPageSizeMismatch", ese.restore, d, w:path("dest"))
    assert.are.equal(-1213, e.code)
  end)

  it("live_log_path with a generation missing after the set: JET_errMissingCurrentLogFiles (-565)", function()
    H.roll(t, w.dir, 3, "after")
    inst:term({ complete = true })
    local live = w:path("live")
    assert(os.execute("mkdir -p '" .. live .. "' && cp " .. H.q(w.dir) .. "/*.log " .. H.q(live)))
    assert.is_true(os.remove(log_of(live, set.info.gen_high + 2)))
    local e = H.expect_jet("JET_errMissingCurrentLogFiles", ese.restore, set_dir, w:path("dest"),
                           { live_log_path = live })
    assert.are.equal(-565, e.code)
  end)

  it("a destination that is one of the sources: JET_errInvalidParameter, and the set is not touched", function()
    local function digest(dir)
      local d = {}
      for name in pairs(H.ls(dir)) do d[name] = H.read_file(dir .. "/" .. name) end
      return d
    end
    local before = digest(set_dir)
    local e = H.expect_jet("JET_errInvalidParameter", ese.restore, set_dir, set_dir)
    assert.are.equal("restore", e.op)
    assert.are.same(before, digest(set_dir))
    H.expect_jet("JET_errInvalidParameter", ese.restore, set_dir, w:path("set/../set"))
    -- a chain whose second set is the destination
    local full = copy("full")
    H.expect_jet("JET_errInvalidParameter", ese.restore, { full, set_dir }, set_dir)
    assert.are.same(before, digest(set_dir))
  end)

  it("I11: opts.instance already initialized: JET_errAlreadyInitialized, nothing is written; "
     .. "after a failed restore a named instance is still usable (D06)", function()
    local dir = w:path("ii")
    local running = w:open(nil, { log_path = dir, system_path = dir })
    local e = H.expect_jet("JET_errAlreadyInitialized", ese.restore, set_dir, w:path("dest"), { instance = running })
    assert.are.equal(-1030, e.code)
    assert.is_false(H.exists(w:path("dest")))
    running:begin_session():end_session()          -- untouched
    -- a created instance: the failed restore hands it back uninitialized
    local d = copy("gap")
    assert.is_true(os.remove(log_of(d, set.info.gen_low + 1)))
    local fresh = w:create(H.name("fresh"), { log_path = w:path("dest"), system_path = w:path("dest") })
    H.expect_jet("JET_errMissingRestoreLogFiles", ese.restore, d, w:path("dest"), { instance = fresh })
    H.expect_jet("JET_errNotInitialized", fresh.begin_session, fresh)
    ese.restore(set_dir, w:path("dest"), { instance = fresh })
    fresh:init()
    local fs = fresh:begin_session()
    fs:attach_database(w:path("dest/app.edb"))
    assert.is_not_nil(fs:open_table(fs:open_database(w:path("dest/app.edb")), "t"):get("base00020"))
  end)

  it("D05: ese.restore while the legacy instance runs: JET_errRunningInOneInstanceMode (-1080)", function()
    inst:term({ complete = true })
    w:legacy({ log_path = w:path("lg"), system_path = w:path("lg") })
    local e = H.expect_jet("JET_errRunningInOneInstanceMode", ese.restore, set_dir, w:path("dest"))
    assert.are.equal(-1080, e.code)
    assert.is_false(H.exists(w:path("dest")))
    ese.term()
    ese.restore(set_dir, w:path("dest"))
  end)

  it("A01: a streamed copy attached without restore: JET_errSoftRecoveryOnBackupDatabase (-544)", function()
    local e = H.expect_jet("JET_errSoftRecoveryOnBackupDatabase", s.attach_database, s, set_dir .. "/app.edb")
    assert.are.equal(-544, e.code)
    ese.restore(set_dir, w:path("dest"))
    assert.is_nil(attach_error(w, w:path("dest")))
  end)
end)

describe("ese.restore happy paths (group H)", function()
  local w, t, inst, set_dir

  before_each(function()
    w = H.world()
    set_dir = w:path("set")
    local _
    _, t, _, _, inst = w:base_set(set_dir)
  end)
  after_each(function() w:cleanup() end)

  it("H01: into a destination at another absolute path: every record is back, nothing is written outside it",
     function()
    inst:term({ complete = true })
    local before, set_before = H.ls(w.dir), H.ls(set_dir)
    local far = H.tmpdir()
    finally(function() H.rmdir(far) end)
    local dest = far .. "/deep/er/dest"
    local report = ese.restore(set_dir, dest)
    assert.is_true(report.steps >= 1 and report.bytes > 0)
    assert.are.same(before, H.ls(w.dir))
    assert.are.same(set_before, H.ls(set_dir))
    assert.are.same({ deep = true }, H.ls(far))
    assert.are.same({ er = true }, H.ls(far .. "/deep"))
    assert.are.equal(20, count_keys(w, dest, "base"))
    assert.is_true(count_keys(w, dest, "pre") > 0)
  end)

  it("H03: live_log_path replays the logs written after the backup; without it only the backup's data", function()
    H.fill(t, 15, "after")
    inst:term({ complete = true })
    ese.restore(set_dir, w:path("with"), { live_log_path = w.dir })
    assert.are.equal(15, count_keys(w, w:path("with"), "after"))
    assert.are.equal(20, count_keys(w, w:path("with"), "base"))
    ese.restore(set_dir, w:path("without"))
    assert.are.equal(0, count_keys(w, w:path("without"), "after"))
    assert.are.equal(20, count_keys(w, w:path("without"), "base"))
  end)

  it("live_log_path of a running instance that rolls its log between the restore's listing of the folder and "
     .. "its open of B.log: the folder is listed again, the generation B.log was is replayed", function()
    H.fill(t, 5, "early")
    local gate = w:path("gate")
    H.write_file(gate, "")
    -- the child's restore holds (ESE_FAULT hold point "restore-live") after its listing, before B.log is opened
    local child = H.lua_child([[
      local ese = require "ese"
      local ok, e = pcall(ese.restore, arg[1], arg[2], { live_log_path = arg[3] })
      print(ok and "RESTORED" or ("FAILED " .. tostring(e)))
    ]], { set_dir, w:path("dest"), w.dir }, "ESE_FAULT=holdsync:restore-live:" .. H.q(gate), { background = true })
    local held = H.wait_for(gate .. ".held")
    local gen = ese.file_info(w:path("edb.log")).generation
    H.roll(t, w.dir, 1, "during")              -- B.log's generation gets its name; B.log is the next one
    t:put("after-roll", "x")
    os.remove(gate)
    local code, out, err = child.wait()
    assert.is_true(held, "the restore reached the hold point")
    assert.are.equal(0, code, err)
    assert.matches("RESTORED", out)          -- was: FAILED JET_errMissingCurrentLogFiles (generation gen missing)
    assert.is_true(H.exists(w:path("dest/" .. H.log_name(gen))))
    inst:term({ complete = true })
    assert.are.equal(5, count_keys(w, w:path("dest"), "early"))
    assert.are.equal(20, count_keys(w, w:path("dest"), "base"))
    assert.is_true(count_keys(w, w:path("dest"), "during") > 0)
  end)

  it("live_log_path with to_time, the instance rolling after the restore opened its B.log (circular logging: "
     .. "that generation is gone by its name then): the commit times are read from the file opened", function()
    inst:term({ complete = true })
    local dir = w:path("c")
    local ct, _, _, ci = w:table_at(dir, "app.edb", { circular_log = true, log_file_size = 64, checkpoint_depth = 0 })
    H.fill(ct, 5, "base")
    local set = w:path("cset")
    require("ese.backup").run(ci, set)
    H.fill(ct, 3, "early")
    local at = H.time_mark()
    H.fill(ct, 3, "late")                      -- in the same generation: it goes past the point in time
    local gate = w:path("gate")
    H.write_file(gate, "")
    local child = H.lua_child([[
      local ese = require "ese"
      local ok, e = pcall(ese.restore, arg[1], arg[2], { live_log_path = arg[3], to_time = tonumber(arg[4]) })
      print(ok and "RESTORED" or ("FAILED " .. tostring(e)))
    ]], { set, w:path("dest"), dir, ("%.6f"):format(at) },
      "ESE_FAULT=holdsync:restore-live-open:" .. H.q(gate), { background = true })
    local held = H.wait_for(gate .. ".held")
    local gen = ese.file_info(dir .. "/edb.log").generation
    H.roll(ct, dir, 4, "during")               -- checkpoints at every roll: generation gen is retired
    assert.is_true(H.wait_until(function() return not H.exists(dir .. "/" .. H.log_name(gen)) end))
    os.remove(gate)
    local code, out, err = child.wait()
    assert.is_true(held, "the restore reached the hold point")
    assert.are.equal(0, code, err)
    assert.matches("RESTORED", out)          -- was: FAILED JET_errMissingLogFile (the logs end before the point)
    ci:term({ complete = true })
    assert.are.equal(3, count_keys(w, w:path("dest"), "early"))
    assert.are.equal(0, count_keys(w, w:path("dest"), "late"))
    assert.are.equal(5, count_keys(w, w:path("dest"), "base"))
  end)

  it("point in time: to_generation stops the live replay after that generation", function()
    H.fill(t, 5, "early")
    local mark = ese.file_info(w:path("edb.log")).generation
    H.roll(t, w.dir, 1, "filler")               -- "late" starts in a later generation
    H.fill(t, 5, "late")
    inst:term({ complete = true })
    ese.restore(set_dir, w:path("pit"), { live_log_path = w.dir, to_generation = mark })
    assert.are.equal(5, count_keys(w, w:path("pit"), "early"))
    assert.are.equal(0, count_keys(w, w:path("pit"), "late"))
    assert.are.equal(20, count_keys(w, w:path("pit"), "base"))
    ese.restore(set_dir, w:path("all"), { live_log_path = w.dir })
    assert.are.equal(5, count_keys(w, w:path("all"), "late"))
  end)

  it("H05 / rule 11: a restore clears the full record: an incremental needs a new full "
     .. "(JET_errMissingFullBackup); a full then an incremental work", function()
    H.backup(inst, w:path("full0"), { truncate = true })
    local full1 = H.backup(inst, w:path("full1"), { truncate = true })
    assert.is_true(H.db_header(w:path("full1/app.edb")).full.gen_lo > 0, "the streamed copy carries a full record")
    inst:term({ complete = true })
    local dest = w:path("dest")
    ese.restore(w:path("full1"), dest)
    assert.are.equal(0, H.db_header(dest .. "/app.edb").full.gen_lo)
    assert.is_true(#full1.logs > 0)
    local ri = w:open(nil, { log_path = dest, system_path = dest, log_file_size = 64 })
    local rt = H.open_table(ri, dest)
    local e = H.expect_jet("JET_errMissingFullBackup", ri.begin_external_backup, ri, { incremental = true })
    assert.are.equal(-560, e.code)
    H.backup(ri, w:path("full2"), { truncate = true })
    H.fill(rt, 5, "newer")
    H.backup(ri, w:path("inc2"), { incremental = true, truncate = true })
    ri:term({ complete = true })
    ese.restore({ w:path("full2"), w:path("inc2") }, w:path("again"))
    assert.are.equal(5, count_keys(w, w:path("again"), "newer"))
    assert.are.equal(20, count_keys(w, w:path("again"), "base"))
  end)
end)
