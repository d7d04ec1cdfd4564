-- Hostile tests of session 13: long values, snapshots and conflicts, and
-- the continuous-backup side of the command-line tool.  Each case failed
-- before the change it came with.
local ese = require "ese"
local H = require "support.helpers"
local LV = require "support.lv_sweep"
local util = require "ese.util"

local val = LV.val

describe("hostile 13", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  describe("ese restore --to-time: a TIME of the right form with a wrong part", function()
    -- Before: every such TIME got only the format ("needs a time:
    -- YYYY-MM-DD HH:MM:SS[.ffffff] ..."), which "2026-02-30 06:00:00" follows.
    local cases = {
      { "2026-02-30 06:00:00", "day 30 is not in 2026-02 (01 .. 28)" },
      { "2025-02-29 06:00:00", "day 29 is not in 2025-02 (01 .. 28)" },
      { "2026-04-31 06:00:00", "day 31 is not in 2026-04 (01 .. 30)" },
      { "2026-12-00 06:00:00", "day 00 is not in 2026-12 (01 .. 31)" },
      { "2026-13-01 06:00:00", "month 13 is not 01 .. 12" },
      { "2026-00-01 06:00:00", "month 00 is not 01 .. 12" },
      { "2026-12-07 24:00:00", "hour 24 is not 00 .. 23" },
      { "2026-12-07 23:60:00", "minute 60 is not 00 .. 59" },
      { "2026-12-07 23:59:61", "second 61 is not 00 .. 60" },
      { "2026-12-07 06:00:00.", "the fraction's dot has no digits after it" },
      { "2026-12-07 06:00:00.1234567890", "the fraction .1234567890 has more than 9 digits" },
      { "2026-12-07 06:00:0012", "the seconds 00 are followed by digits without a dot" },
      { "2026-12-07 06:00:00 GMT", "the zone 'GMT' is none of Z, UTC, +HH:MM, +HHMM, +HH" },
      { "2026-12-07 06:00:00 utc", "the zone 'utc' is none of Z, UTC, +HH:MM, +HHMM, +HH" },
      { "2026-12-07 06:00:00 +2", "the zone '+2' is none of Z, UTC, +HH:MM, +HHMM, +HH" },
      { "2026-12-07 06:00:00+24:00", "the zone +24:00: hours 24 are not 00 .. 23" },
      { "2026-12-07 06:00:00-0260", "the zone -0260: minutes 60 are not 00 .. 59" },
    }

    it("util.parse_time: nil and a phrase naming the part; the CLI says it after the format (exit 2)", function()
      local dest = w:path("dest")
      for _, c in ipairs(cases) do
        local t, why = util.parse_time(c[1])
        assert.is_nil(t, c[1])
        assert.are.equal(c[2], why, c[1])
        local code, out, err = H.lua_run("bin/ese", { "restore", w.dir, dest, "--archive", w.dir, "--to-time", c[1] })
        assert.are.equal(2, code, c[1] .. ": " .. out .. err)
        assert.matches("option --to-time needs a time: YYYY-MM-DD HH:MM:SS[.ffffff]", err, 1, true)
        assert.matches("; in " .. c[1] .. ": " .. c[2] .. "\n", err, 1, true)
      end
      -- no form at all: the format alone, no reason
      for _, bad in ipairs({ "garbage", " ", "2026-12-07", "1e9", "-5", "2026-12-07  06:00:00" }) do
        local t, why = util.parse_time(bad)
        assert.is_nil(t, bad)
        assert.is_nil(why, bad)
        local code, _, err = H.lua_run("bin/ese", { "restore", w.dir, dest, "--to-time", bad })
        assert.are.equal(2, code, bad)
        assert.matches("or seconds since the epoch\n", err, 1, true)
      end
      -- what parses still parses, with no second value
      assert.are.same({ 1796623200 }, { util.parse_time("2026-12-07 06:00:00") })
      assert.are.same({ 1796623200.5 }, { util.parse_time("2026-12-07T11:30:00.5+05:30") })
      assert.is_false(H.exists(dest))
    end)
  end)

  describe("ese backup: the progress lines", function()
    it("one 'truncating the logs' line for a truncation of many generations (before: one per part)", function()
      -- 64 KiB logs and 3 MiB of long values: about 50 generations to delete,
      -- which the truncation deletes in several parts (backup_run.lua)
      local t, _, _, inst = w:table({ log_file_size = 64 })
      t:put("a", val(3 << 20, 1))
      t:put(("k"):rep(255), val(100000, 2))
      inst:term({ complete = true })
      local code, out, err = H.lua_run("bin/ese", { "backup", w.dir, w:path("full") }, "ESE_PROGRESS=lines")
      assert.are.equal(0, code, out .. err)
      local _, n = out:gsub("backup: truncating the logs\n", "")
      assert.are.equal(1, n, out)
      assert.matches("\nfull backup of ", out, 1, true)
      local t2, _, _, i2 = w:reopen()
      assert.is_true(t2:get("a") == val(3 << 20, 1))
      i2:term({ complete = true })
    end)
  end)

  describe("ese restore --to-generation: the summary line", function()
    it("says the generation the replay reached, not N, when the logs end before N (before: 'replayed to N')",
       function()
      local backup = require "ese.backup"
      local t, _, _, inst = w:table()
      t:put("k", val(30000, 1))
      local set = w:path("set")
      local rep = backup.run(inst, set)
      inst:term({ complete = true })
      local function summary(n, dest)
        local code, out, err = H.lua_run("bin/ese", { "restore", set, w:path(dest), "--to-generation", tostring(n) })
        assert.are.equal(0, code, out .. err)
        return out:match("(restored full [^\n]*)\n$")
      end
      local line = summary(rep.gen_high + 5, "past")
      assert.matches((", replayed to %d %%(the logs end before %%-%%-to%%-generation %d%%)%%) into "):format(
        rep.gen_high, rep.gen_high + 5), line)
      line = summary(rep.gen_high, "at")
      assert.matches((", replayed to %d%%) into "):format(rep.gen_high), line)
      assert.is_true(H.restored_keys(w, w:path("past")).k)
    end)
  end)

  describe("ese.restore: an archive or live log folder that is a file", function()
    it("JET_errFileNotFound whose detail says 'is not a folder', not 'not found' (before: 'folder F not found')",
       function()
          local set = w:path("set")
      w:stopped_set(set)
      local file = w:path("a-file")
      H.write_file(file, "not a folder")
      for _, opt in ipairs({ "archive_path", "live_log_path" }) do
        local e = H.expect_jet("JET_errFileNotFound", ese.restore, set, w:path("dest"), { [opt] = file })
        assert.are.equal(file .. " is not a folder", e.detail, opt)
        assert.is_false(H.exists(w:path("dest")), opt)
      end
      local e = H.expect_jet("JET_errFileNotFound", ese.restore, set, w:path("dest"), { archive_path = w:path("none") })
      assert.are.equal("folder " .. w:path("none") .. " not found", e.detail)
      local code, _, err = H.lua_run("bin/ese", { "restore", set, w:path("dest"), "--archive", file })
      assert.are.equal(1, code, err)
      assert.matches("[in restore: " .. file .. " is not a folder]", err, 1, true)
    end)
  end)

  describe("ese restore with logs asked for after the sets", function()
    it("says when none came: an archive with nothing after the sets, a restore command that fails for every "
       .. "generation (before: silent, exit 0)", function()
      local backup = require "ese.backup"
      local t, _, _, inst = w:table({ log_file_size = 64, archive_path = w:path("arc"), archive_timeout = 0 })
      local set = w:path("set")
      backup.run(inst, set)
      for i = 1, 100 do t:put(("k%04d"):format(i), ("v"):rep(3000)) end   -- archived generations after the set
      inst:term({ complete = true })
      ese.fs.mkdir_p(w:path("empty"))
      local gen = backup.verify(set).gen_high
      local note = ("no log generation after the sets' last (%d) was "):format(gen)
      local function restore(dest, ...)
        local code, out, err = H.lua_run("bin/ese", { "restore", set, w:path(dest), ... })
        assert.are.equal(0, code, out .. err)
        return out
      end
      local out = restore("d1", "--archive", w:path("empty"))
      local line = "\n" .. note .. "in --archive " .. w:path("empty") .. ": the restore ends with the sets\n"
      assert.are.equal(line, out:sub(-#line))
      out = restore("d2", "--restore-command", "cp " .. w:path("arc") .. "/%f")   -- no %p: cp exits 1
      line = "\n" .. note .. "fetched by --restore-command: the restore ends with the sets\n"
      assert.are.equal(line, out:sub(-#line))
      assert.are.equal(0, H.count_keys(w, w:path("d2"), "k"))
      out = restore("d3", "--archive", w:path("arc"))                       -- generations came: no note
      assert.is_nil(out:find("no log generation", 1, true))
      assert.is_true(H.count_keys(w, w:path("d3"), "k") > 0)   -- those of the closed (archived) generations
    end)
  end)

  describe("restore_command that cannot start", function()
    it("the detail names the cause: empty, an unknown %-escape and which, a lone % (before: one vague phrase)",
       function()
          local set = w:path("set")
      w:stopped_set(set)
      for _, c in ipairs({
        { "   ", "restore_command is empty: no word to run" },
        { "cp %x %p", "restore_command has an unknown %-escape '%x' (%p, %f and %% are the escapes)" },
        { "cp %p %", "restore_command has a % with nothing after it (%p, %f and %% are the escapes)" },
      }) do
        local e = H.expect_jet("JET_errMissingLogFile", ese.restore, set, w:path("dest"), { restore_command = c[1] })
        assert.are.equal("fetching a log: " .. c[2], e.detail, c[1])
        assert.is_false(H.exists(w:path("dest")), c[1])
      end
    end)
  end)

  describe("ese backup of a folder whose logs go to an archive", function()
    -- One run of the application: archive_path on, 64 KiB logs, n puts of
    -- 3000 bytes (a few generations), a clean term.
    local function app(n)
      local open = H.exists(w:path("app.edb")) and w.reopen or w.table
      local t, _, _, inst = open(w, { log_file_size = 64, archive_path = w:path("arc"), archive_timeout = 0 })
      for i = 1, n do t:put(("k%06d"):format(i), ("v"):rep(3000)) end
      inst:term({ complete = true })
    end
    -- The archived generations, in order; asserts there is no gap.  The
    -- folder holds edb.lck too (the archiving instance's lock).
    local function archived()
      local gens = {}
      for _, name in ipairs(ese.fs.list(w:path("arc"))) do
        local hex = name:match("^edb(%x+)%.log$")
        if hex then gens[#gens + 1] = tonumber(hex, 16) end
      end
      table.sort(gens)
      for i = 2, #gens do assert.are.equal(gens[i - 1] + 1, gens[i], "a gap in the archive") end
      return gens
    end

    it("a truncating backup without the archive is refused (before: it deleted unshipped generations, a gap); "
       .. "with --archive DIR none is lost and a restore crosses the backups", function()
      app(100)
      local logs_before = H.log_files(w.dir)
      for _, kind in ipairs({ {}, { "--incremental" } }) do
        local args = { "backup", w.dir, w:path("refused") }
        for _, a in ipairs(kind) do args[#args + 1] = a end
        local code, out, err = H.lua_run("bin/ese", args)
        assert.are.equal(1, code, out .. err)
        assert.matches("JET_errInvalidParameter", err, 1, true)
        assert.matches(w.dir .. " ships its logs to an archive (" .. w.dir .. "/edb.arc)", err, 1, true)
        assert.matches("--archive DIR or --archive-command CMD", err, 1, true)
        assert.is_false(H.exists(w:path("refused")))
      end
      assert.are.same(logs_before, H.log_files(w.dir))
      -- --copy and --no-truncate delete nothing: they go ahead
      assert.are.equal(0, (H.lua_run("bin/ese", { "backup", w.dir, w:path("copy"), "--copy" })))
      local full = w:path("full")
      local code, out, err = H.lua_run("bin/ese", { "backup", w.dir, full, "--archive", w:path("arc") })
      assert.are.equal(0, code, out .. err)
      app(100)
      code, out, err = H.lua_run("bin/ese", { "backup", w.dir, w:path("full2"), "--archive", w:path("arc") })
      assert.are.equal(0, code, out .. err)
      app(100)
      local gens = archived()
      assert.is_true(#gens > 3)
      -- the first full set plus the archive restore every commit, across the second backup
      local r = ese.restore(full, w:path("dest"), { archive_path = w:path("arc") })
      assert.are.equal(gens[#gens], r.last_generation)
      assert.are.equal(100, H.count_keys(nil, w:path("dest"), "k"))
    end)

    -- before: the message said the restored folder ships its logs to an
    -- archive, which none was ever given (the review of session 13)
    it("a folder restored to a point (edb.arc is the restore's mark, no archive anywhere): refused with that "
       .. "said; once edb.arc is removed the backup runs", function()
      local t, _, _, inst = w:table({ log_file_size = 64 })
      for i = 1, 60 do t:put(("k%06d"):format(i), ("v"):rep(3000)) end
      local set = w:path("set")
      require("ese.backup").run(inst, set)
      for i = 61, 120 do t:put(("k%06d"):format(i), ("v"):rep(3000)) end
      local g = ese.file_info(w.dir .. "/edb.log").generation
      inst:term({ complete = true })
      local dest = w:path("pit")
      local code, out, err = H.lua_run("bin/ese", { "restore", set, dest, "--live-logs", w.dir,
                                                    "--to-generation", tostring(g - 1) })
      assert.are.equal(0, code, out .. err)
      assert.is_true(H.exists(dest .. "/edb.arc"), "the restore marks the cut")
      code, out, err = H.lua_run("bin/ese", { "backup", dest, w:path("b1") })
      assert.are.equal(1, code, out .. err)
      assert.matches("edb.arc was left by a restore", err, 1, true)
      assert.matches("remove " .. dest .. "/edb.arc", err, 1, true)
      assert(os.remove(dest .. "/edb.arc"))
      code, out, err = H.lua_run("bin/ese", { "backup", dest, w:path("b2") })
      assert.are.equal(0, code, out .. err)
    end)
  end)

  describe("options given an empty string", function()
    it("are a usage error naming the option (before: --restore-command '' and expire --archive '' were ignored, "
       .. "restore --archive '' said 'folder  not found')", function()
      local set = w:path("set")
      w:stopped_set(set)
      local dest = w:path("dest")
      for _, c in ipairs({
        { "--archive", { "restore", set, dest, "--archive", "" } },
        { "--restore-command", { "restore", set, dest, "--restore-command", "" } },
        { "--live-logs", { "restore", set, dest, "--live-logs=" } },
        { "--to-time", { "restore", set, dest, "--to-time", "" } },
        { "--archive", { "expire", w.dir, "--keep-full", "1", "--archive", "" } },
        { "--archive", { "backup", w.dir, w:path("b"), "--archive", "" } },
      }) do
        local code, out, err = H.lua_run("bin/ese", c[2])
        assert.are.equal(2, code, table.concat(c[2], " ") .. ": " .. out .. err)
        assert.matches("ese " .. c[2][1] .. ": option " .. c[1] .. " needs a value, not an empty string\nusage: ",
                       err, 1, true)
      end
      assert.is_false(H.exists(dest))
      assert.is_false(H.exists(w:path("b")))
    end)
  end)

  describe("the version store while one key is replaced again and again", function()
    local function session(inst)
      local s = inst:begin_session()
      return s:open_table(s:open_database(w:path("app.edb")), "t"), s
    end

    it("keeps the images open snapshots read, not one per replace (before: -1069 at the 10th 1 MiB replace "
       .. "under a 10 MiB limit)", function()
      local t, s, _, inst = w:table({ max_ver_pages = 640 })   -- 10 MiB
      local t2, s2 = session(inst)
      t:put("k", val(1 << 20, 0))
      s:begin_transaction()
      assert.are.equal(val(1 << 20, 0):sub(1, 8), t:get("k", 0, 8))
      for i = 1, 40 do
        if i % 2 == 0 then
          t2:put("k", val(1 << 20, i))                       -- outside a transaction
        else
          s2:begin_transaction()
          t2:put("k", val(1 << 20, i))
          t2:put("other" .. i, "x")
          s2:commit_transaction()
        end
      end
      local v = inst:version_store()
      assert.is_true(v.bytes < 3 * (1 << 20), "bytes " .. v.bytes)
      assert.is_true(t:get("k") == val(1 << 20, 0))          -- the snapshot's image, whole
      assert.are.equal(val(1 << 20, 0):sub(700001, 700100), t:get("k", 700000, 100))
      assert.is_nil(t:get("other1"))
      H.expect_jet("JET_errWriteConflict", t.put, t, "k", "mine")
      s:rollback()
      assert.are.equal(0, inst:version_store().versions)
      assert.is_true(t:get("k") == val(1 << 20, 40))
    end)

    it("a short reader that overlapped two replaces and ended leaves nothing behind while a long one stays "
       .. "(before: -1069 at the 9th such reader)", function()
      local t, s, _, inst = w:table({ max_ver_pages = 640 })   -- 10 MiB
      local t2 = session(inst)
      local t3, s3 = session(inst)
      t:put("k", val(1 << 20, 0))
      s:begin_transaction()                                  -- the long reader
      assert.are.equal(val(1 << 20, 0):sub(1, 4), t:get("k", 0, 4))
      for i = 1, 30 do
        s3:begin_transaction()                               -- a short reader, open across two replaces
        t2:put("k", val(1 << 20, 2 * i))
        t2:put("k", val(1 << 20, 2 * i + 1))
        assert.is_true(t3:get("k") == val(1 << 20, 2 * i - 1) or i == 1)
        if i % 2 == 0 then s3:rollback() else s3:commit_transaction() end
      end
      local v = inst:version_store()
      assert.is_true(v.versions <= 2, "versions " .. v.versions)   -- the long reader's, and the newest
      assert.is_true(t:get("k") == val(1 << 20, 0))
      s:rollback()
      assert.are.equal(0, inst:version_store().versions)
    end)

    it("snapshots begun between the replaces each read their own value; conflicts stay", function()
      local t, _, _, inst = w:table()
      local snaps = {}
      t:put("k", val(20000, 0))
      for i = 1, 30 do
        if i % 5 == 1 then                                   -- a snapshot that sees value i - 1
          local ts, ss = session(inst)
          ss:begin_transaction()
          snaps[#snaps + 1] = { t = ts, s = ss, v = i - 1 }
        end
        if i % 7 == 0 then t:delete("k") else t:put("k", val(20000 + i, i)) end
      end
      for _, x in ipairs(snaps) do
        assert.is_true(x.t:get("k") == val(20000 + x.v, x.v), "the snapshot after " .. x.v)
        assert.are.equal(1, x.t:count("k", "k"))
      end
      -- one image per snapshot (the one it reads), and the newest
      assert.is_true(inst:version_store().versions <= #snaps + 1, inst:version_store().versions)
      for i = #snaps, 1, -1 do                               -- newest first: the older ones still read theirs
        local x = snaps[i]
        H.expect_jet("JET_errWriteConflict", x.t.delete, x.t, "k")
        x.s:rollback()
        for j = 1, i - 1 do
          local y = snaps[j]
          assert.is_true(y.t:get("k", 0) == val(20000 + y.v, y.v))
        end
      end
      assert.are.equal(0, inst:version_store().versions)
    end)
  end)

  describe("a long value's pages with a reserved field that is not zero", function()
    -- docs/format.md "Long values": a directory page's u32 at 28 and a data
    -- page's bytes 24 .. 31 are zeros.  Before, `ese check` passed such a
    -- page (found by a fuzz of long-value page headers) and a get read it.
    for _, c in ipairs({ { ty = 6, at = 28, what = "directory" }, { ty = 5, at = 24, what = "data" } }) do
      it(("a %s page: `ese check` fails, a get is JET_errDatabaseCorrupted"):format(c.what), function()
        local t, _, _, inst = w:table()
        t:put("a", val(300000, 1))
        inst:term({ complete = true })
        local path = w:path("app.edb")
        local code = H.lua_run("bin/ese", { "check", path })
        assert.are.equal(0, code, "clean before")
        local pg = H.pages_of_type(path, 8192, c.ty)[1]
        H.patch_page(path, 8192, pg, function(p) return p:sub(1, c.at) .. string.pack("<I4", 1) .. p:sub(c.at + 5) end)
        code = H.lua_run("bin/ese", { "check", path })
        assert.are_not.equal(0, code, "ese check of a " .. c.what .. " page with a reserved field set")
        local t2 = H.open_table(w:open(nil), w.dir)
        H.expect_jet("JET_errDatabaseCorrupted", t2.get, t2, "a")
      end)
    end
  end)
end)
