-- Hostile tests of session 16's changes (second pass).  Each case failed
-- before the change it came with.
local ese = require "ese"
local H = require "support.helpers"

-- The error of attaching <dir>/app.edb on a new instance (its own log
-- folder), or nil when the attach works.
local function attach_error(w, dir)
  local inst = w:track(ese.create_instance(H.name("attach"), H.params(dir .. "-attach")))
  inst:init()
  local s = inst:begin_session()
  local ok, e = pcall(s.attach_database, s, dir .. "/app.edb")
  inst:term({ complete = true })
  return (not ok) and e or nil
end

describe("hostile 16b", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  describe("a restore with overwrite of a set whose log holds a damaged record", function()
    -- Before: ST_CHECK read the databases only: the old state in dest
    -- (its databases, logs and checkpoint) was removed, the set copied,
    -- and the replay then failed on the damaged record, leaving dest a
    -- copy "being restored" that no instance opens.
    it("is refused (the replay's error) while dest's old state is whole", function()
      local set_dir = w:path("set")
      local set, _, _, _, inst = w:base_set(set_dir)
      inst:term({ complete = true })
      local dest = w:path("dest")
      ese.restore(set_dir, dest)
      local before = H.ls(dest)
      local d = H.copy_dir(set_dir, w:path("recflip"))
      H.flip_byte(d .. "/" .. H.log_name(set.info.gen_low + 1), H.LOG_DATA + 40)
      H.expect_jet("JET_errLogCorruptDuringHardRestore", ese.restore, d, dest, { overwrite = true })
      assert.are.same(before, H.ls(dest))
      assert.is_nil(attach_error(w, dest))
      -- a torn last record: the replay's other error, also before dest is touched
      H.flip_byte(d .. "/" .. H.log_name(set.info.gen_low + 1), H.LOG_DATA + 40)
      local last = d .. "/" .. H.log_name(set.info.gen_high)
      local at = H.last_data_offset(last)
      H.flip_byte(last, at)
      H.expect_jet("JET_errLogTornWriteDuringHardRestore", ese.restore, d, dest, { overwrite = true })
      assert.are.same(before, H.ls(dest))
      assert.is_nil(attach_error(w, dest))
      H.flip_byte(last, at)   -- undone: the set restores over dest
      ese.restore(d, dest, { overwrite = true })
      assert.is_nil(attach_error(w, dest))
      assert.are.equal(20, H.count_keys(w, dest, "base"))
    end)
  end)

  describe("ese backup --archive DIR inside DEST, spelt otherwise than DEST", function()
    -- Before: the check compared the two strings as given: --archive
    -- ./DEST/arc (or $PWD/DEST/arc, DEST//arc) passed it, init made DEST
    -- and the archive folder in it (its lock file there), and the run then
    -- refused DEST as "exists and is not an empty folder".
    it("is refused before anything is made, however spelt", function()
      local t, _, _, inst = w:table()
      H.fill(t, 10, "base")
      inst:term({ complete = true })
      local cli = require "ese.cli"
      local lfs = require "lfs"
      local cwd = assert(lfs.currentdir())
      assert(lfs.chdir(w.dir))
      local rcs = {}
      for i, arc in ipairs { "./d1/arc", w.dir .. "/d2/arc", "d3//arc", "./d4" } do
        rcs[i] = cli.main { "backup", ".", "d" .. i, "--archive", arc }
      end
      assert(lfs.chdir(cwd))
      assert.are.same({ 1, 1, 1, 1 }, rcs)
      for i = 1, 4 do assert.are.equal("absent", ese.fs.stat(w:path("d" .. i)).kind, "d" .. i) end
    end)
  end)

  describe("ese.fs.absolute (the folders of ese.backup's calls, init's archive_path, a restore's paths)", function()
    -- Before: "./sets/./f2/" became "<cwd>/./sets/./f2/", which backup.run's
    -- report (dir), backup.restore's (dest) and expire's plan then showed.
    it("drops what names nothing (inner '.', runs of '/'), keeps '..', a last '.' and a trailing '/'", function()
      local lfs = require "lfs"
      local cwd = assert(lfs.currentdir())
      local abs = ese.fs.absolute
      assert.are.equal(cwd .. "/sets/f2/", abs("./sets/./f2/"))
      assert.are.equal(cwd .. "/a/b/c", abs("a//b/././c"))
      assert.are.equal("/x", abs("/./x"))
      assert.are.equal(cwd .. "/x/.", abs("./x/."))
      assert.are.equal(cwd .. "/./", abs("./"))
      assert.are.equal(cwd .. "/../x", abs("../x"))
      assert.are.equal(cwd .. "/.hidden/.x", abs(".hidden/./.x"))
      local _, _, _, inst = w:table()
      assert(lfs.chdir(w.dir))
      local ok, r = pcall(require("ese.backup").run, inst, "./sets/./f2/")
      assert(lfs.chdir(cwd))
      assert(ok, tostring(r))
      assert.are.equal(w.dir .. "/sets/f2", r.dir)
    end)
  end)

  describe("a relative path while the working folder has been removed", function()
    -- Before: JET_errInvalidPath with no word of why: ese.backup's calls
    -- said "[in absolute: sets/f1]" (a function the caller never called),
    -- ese.restore "[in restore]" and init "[in init]", nothing more.
    it("is JET_errInvalidPath naming the call, the path and the working folder", function()
      local set = w:path("set")
      local t, _, _, inst = w:table()
      H.fill(t, 5, "base")
      local backup = require "ese.backup"
      backup.run(inst, set)
      local lfs = require "lfs"
      local cwd = assert(lfs.currentdir())
      local gone = w:path("gone")
      assert(lfs.mkdir(gone))
      assert(lfs.chdir(gone))
      assert(lfs.rmdir(gone))
      local errs = {}
      for op, f in pairs {
        run = function() return backup.run(inst, "sets/f1") end,
        verify = function() return backup.verify("sets/f1") end,
        restore = function() return backup.restore(set, "r") end,
        expire = function() return backup.expire("sets", { keep_full = 1 }) end,
        core = function() return ese.restore(set, "r") end,
        init = function()
          return w:create(nil, { system_path = w:path("i"), log_path = w:path("i"), archive_path = "arc" }):init()
        end,
      } do
        local ok, e = pcall(f)
        errs[op] = ok and "no error" or e
      end
      assert(lfs.chdir(cwd))
      for op, e in pairs(errs) do
        assert.are.equal("JET_errInvalidPath", ese.is_error(e) and e.name, op .. ": " .. tostring(e))
        assert.matches("is relative and the working folder cannot be read", e.detail, 1, true)
        assert.are.equal(op == "core" and "restore" or op, e.op)
      end
    end)
  end)

  describe("ese help help", function()
    -- Before: "ese: unknown command 'help'" (exit 2), the overview
    -- naming `ese help` itself a command one may ask help of.
    it("prints the overview (exit 0), as `ese help` does; `ese help bogus` stays a usage error", function()
      local cli = require "ese.cli"
      local stdout, stderr = io.stdout, io.stderr
      io.stdout, io.stderr = io.open("/dev/null", "w"), io.open("/dev/null", "w")   -- luacheck: ignore 122
      local rcs = { cli.main { "help", "help" }, cli.main { "help", "--help" }, cli.main { "--help", "-h" } }
      local bogus = cli.main { "help", "bogus" }
      io.stdout:close()
      io.stderr:close()
      io.stdout, io.stderr = stdout, stderr                                         -- luacheck: ignore 122
      assert.are.same({ 0, 0, 0 }, rcs)
      assert.are.equal(2, bogus)
    end)
  end)

  describe("live_log_path: a generation whose B.log image the restore took, rolled before its listing again", function()
    -- Before: the first scan read B.log (generation G) whole; a gap below
    -- G made it list the folder again (scan_live), and by then G had more
    -- records and was rolled (archived under its number): the second
    -- listing found that archived G, kept the first image (the same
    -- generation, one file), and replayed it and the new B.log after it:
    -- the commits G got after the image were missing from the replay,
    -- which failed on the first later change of a page they wrote
    -- (JET_errDbTimeTooOld), dest written; a later change of other pages
    -- only would have left them out without a word.
    it("replays the archived generation (the whole of it), not the image taken while it was B.log", function()
      local set = w:path("set")
      local t, _, _, inst = w:table({ log_file_size = 64 })
      H.fill(t, 10, "base")
      require("ese.backup").run(inst, set)
      H.roll(t, w.dir, 2, "early")
      local g = ese.file_info(w:path("edb.log")).generation      -- B.log's generation: the image's
      local below = H.log_name(g - 1)
      assert(os.rename(w:path(below), w:path("aside")))           -- the first listing lacks G - 1: a gap
      local gate = w:path("gate")
      H.write_file(gate, "")
      -- the child's restore holds after its first read of B.log (hold point "restore-live-open")
      local child = H.lua_child([[
        local ese = require "ese"
        local ok, e = pcall(ese.restore, arg[1], arg[2], { live_log_path = arg[3] })
        print(ok and "RESTORED" or ("FAILED " .. tostring(e)))
      ]], { set, w:path("dest"), w.dir }, "ESE_FAULT=holdsync:restore-live-open:" .. H.q(gate), { background = true })
      local held = H.wait_for(gate .. ".held")
      assert(os.rename(w:path("aside"), w:path(below)))           -- back: the next listing finds it
      H.fill(t, 7, "late")                                        -- into G, after the image
      H.roll(t, w.dir, 1, "during")                               -- G archived; B.log is G + 1
      t:put("after", "x")
      os.remove(gate)
      local code, out, err = child.wait()
      assert.is_true(held, "the restore reached the hold point")
      assert.are.equal(0, code, err)
      inst:term({ complete = true })
      assert.matches("RESTORED", out)          -- was: FAILED JET_errDbTimeTooOld (page 24: dbtime 0 is older ...)
      local dest = w:path("dest")
      assert.are.equal(10, H.count_keys(w, dest, "base"))
      assert.are.equal(7, H.count_keys(w, dest, "late"))
      assert.are.equal(1, H.count_keys(w, dest, "after"))
    end)
  end)

  describe("a restore into a dest that does not exist, whose '..' leads back to an existing folder", function()
    -- Before: dest X/nx/.. (nx absent) passed every check as a folder to be
    -- made (absent: empty), was made (X/nx), and named X: the restore wrote
    -- X's app.edb, edb.log and edb.chk over the ones there, without
    -- overwrite; "/nx/.." was the root folder ('/' however spelt was
    -- refused), restored into.
    it("is checked as the folder it names: X not empty (no overwrite), X's files untouched; the set's folder",
       function()
      local set = w:path("set")
      local t, _, _, inst = w:table()
      H.fill(t, 5, "base")
      require("ese.backup").run(inst, set)
      inst:term({ complete = true })
      local x = w:path("x")
      ese.fs.mkdir_p(x, 448)
      H.write_file(x .. "/app.edb", "precious")
      local e = H.expect_jet("JET_errBackupDirectoryNotEmpty", ese.restore, set, x .. "/nx/..")
      assert.matches(x, e.detail, 1, true)
      assert.are.equal("precious", H.read_file(x .. "/app.edb"))
      assert.are.same({ ["app.edb"] = true }, H.ls(x))       -- was: nx, edb.log, edb.chk ... made in x
      H.expect_jet("JET_errBackupDirectoryNotEmpty", ese.restore, set, x .. "/nx/ny/../..")
      -- ".." back to the set's folder: the set itself
      e = H.expect_jet("JET_errInvalidParameter", ese.restore, set, set .. "/nx/..", { overwrite = true })
      assert.matches("is also a source of the restore", e.detail, 1, true)
      assert.is_nil(H.ls(set).nx)
      -- the missing part's ".." that stays inside it is fine
      ese.restore(set, w:path("nx/../restored"))
      assert.are.equal(5, H.count_keys(w, w:path("restored"), "base"))
    end)
  end)

  describe("a restore with overwrite and to_time, a log damaged after the point in time", function()
    -- The log check (ST_CHECK) reads as far as the replay will: it stops
    -- at the first commit after to_time, so damage the replay never meets
    -- refuses nothing (a check reading every log whole would have).
    it("restores to the point in time over dest", function()
      local arc, set = w:path("arc"), w:path("set")
      local t, _, _, inst = w:table({ log_file_size = 64, archive_path = arc, archive_timeout = 0,
                                      archive_retry_max = 50 })
      H.fill(t, 10, "base")
      require("ese.backup").run(inst, set)
      H.fill(t, 5, "early")
      local at = H.time_mark()
      H.roll(t, w.dir, 4, "late")
      local last = ese.file_info(w:path("edb.log")).generation - 1
      assert.is_true(H.wait_until(function() return inst:archive_status().shipped_generation >= last end))
      inst:term({ complete = true })
      local dest = w:path("dest")
      ese.restore(set, dest)
      local victim = arc .. "/" .. H.log_name(last)
      H.flip_byte(victim, H.LOG_DATA + 40)
      -- without to_time the damage is met: refused, dest whole
      local before = H.ls(dest)
      H.expect_jet("JET_errLogCorruptDuringHardRestore", ese.restore, set, dest,
                   { overwrite = true, archive_path = arc })
      assert.are.same(before, H.ls(dest))
      local r = ese.restore(set, dest, { overwrite = true, archive_path = arc, to_time = at })
      assert.is_true(r.reached)
      assert.are.equal(5, H.count_keys(w, dest, "early"))
      assert.are.equal(0, H.count_keys(w, dest, "late"))
    end)
  end)
end)
