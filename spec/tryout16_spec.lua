-- Session 16's first-use review (README, docs/guide.md, docs/cli.md and
-- docs/api.md followed as a new user would): what the tool and the
-- library said that did not help.  Each case failed before its change.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

local function ese_cmd(args)
  return H.lua_run("bin/ese", args)
end

describe("tryout 16", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  describe("backup.run's chunk_size", function()
    -- Before: the backup began, made DEST.partial, and the first read
    -- raised op "read", "the read size must be ...": not the option given.
    it("not a positive multiple of the page size: JET_errInvalidParameter of run naming chunk_size, nothing left",
       function()
      local t, _, _, inst = w:table()
      t:put("k", "v")
      for _, c in ipairs({
        { 1000, "chunk_size 1000 is not a multiple of the page size (8192)" },
        { 8192 + 4096, "chunk_size 12288 is not a multiple of the page size (8192)" },
        { 0, "chunk_size 0 is not a positive multiple of the page size" },
        { -8192, "chunk_size -8192 is not a positive multiple of the page size" },
      }) do
        local dest = w:path("set")
        local e = H.expect_jet("JET_errInvalidParameter", backup.run, inst, dest, { chunk_size = c[1] })
        assert.are.equal("run", e.op, c[1])
        assert.are.equal(c[2], e.detail, c[1])
        assert.is_false(H.exists(dest) or H.exists(dest .. ".partial"), c[1])
        e = H.expect_jet("JET_errInvalidParameter", backup.run_to, inst, function() end, { chunk_size = c[1] })
        assert.are.equal(c[2], e.detail, c[1])
      end
      -- the backup was ended: a new one runs, with a chunk that is a multiple
      assert.are.equal("full", backup.run(inst, w:path("ok"), { chunk_size = 16384 }).kind)
    end)
  end)

  describe("ese restore's summary line", function()
    -- Before: "restored full (2 files, ..., generations 2 .. 2) into DEST":
    -- the archive's generations replayed after the set were not said.
    it("says the generation the replay reached when an archive took it past the sets", function()
      local t, _, _, inst = w:table({ log_file_size = 64, archive_path = w:path("arc"), archive_timeout = 0 })
      local set = w:path("set")
      local gen = backup.run(inst, set).gen_high
      for i = 1, 100 do t:put(("k%04d"):format(i), ("v"):rep(3000)) end
      H.wait_until(function() return inst:archive_status().pending == 0 end)
      inst:term({ complete = true })
      local code, out, err = ese_cmd({ "restore", set, w:path("d1"), "--archive", w:path("arc") })
      assert.are.equal(0, code, out .. err)
      local reached = ese.restore(set, w:path("d2"), { archive_path = w:path("arc") }).last_generation
      assert.truthy(reached > gen)
      assert.matches((", generations %d %%.%%. %d, replayed to %d%%) into "):format(gen, gen, reached), out)
      -- without logs after the sets the line stays as it was
      code, out, err = ese_cmd({ "restore", set, w:path("d3") })
      assert.are.equal(0, code, out .. err)
      assert.is_nil(out:find("replayed to", 1, true))
    end)
  end)

  describe("ese backup of a folder whose application crashed", function()
    -- Before: soft recovery ran in silence; the operator never learnt that
    -- the application had not shut down cleanly.

    -- w.dir as a crash leaves it: a child commits, then exits without term
    -- (nor __gc)
    local function crashed()
      local status, out, err = H.lua_child(([[
        local ese = require "ese"
        local inst = ese.create_instance("crashing", { system_path = %q, log_path = %q })
        inst:init()
        local s = inst:begin_session()
        local t = s:create_table(s:create_database(%q), "t")
        for i = 1, 50 do t:put("k" .. i, "v") end
        os.exit(0, false)
      ]]):format(w.dir, w.dir, w:path("app.edb")))
      assert.are.equal(0, status, out .. err)
      assert.are.equal("dirty", ese.file_info(w:path("app.edb")).state)
    end

    it("says soft recovery ran; a clean folder: no line, and --json's recovered is false", function()
      crashed()
      local code, stdout, stderr = ese_cmd({ "backup", w.dir, w:path("set1") })
      assert.are.equal(0, code, stdout .. stderr)
      assert.matches(w.dir .. " was not shut down cleanly (app.edb dirty): soft recovery ran before the backup\n",
        stdout, 1, true)
      code, stdout = ese_cmd({ "backup", w.dir, w:path("set2"), "--json" })
      assert.are.equal(0, code)
      assert.is_false(require("cjson").decode(stdout).report.recovered)
      code, stdout = ese_cmd({ "backup", w.dir, w:path("set3") })
      assert.are.equal(0, code)
      assert.is_nil(stdout:find("soft recovery", 1, true))
    end)

    it("--json: recovered = true", function()
      crashed()
      local code, stdout = ese_cmd({ "backup", w.dir, w:path("set"), "--json" })
      assert.are.equal(0, code)
      assert.is_true(require("cjson").decode(stdout).report.recovered)
    end)
  end)

  describe("ese check of a folder that holds sets", function()
    -- Before: "ROOT/f1 is a folder, not a regular file" (the folder taken
    -- for a set without manifest, its first entry refused).
    it("names a set in it and says to give the sets themselves", function()
      local root = w:expire_root(2)
      local code, out, err = ese_cmd({ "check", root })
      assert.are.equal(1, code, out .. err)
      assert.matches("JET_errInvalidPath", err, 1, true)
      assert.matches(root .. " has no manifest.json and holds the backup set f1: give the sets themselves", err, 1,
        true)
      local e = H.expect_jet("JET_errInvalidPath", backup.verify, root)
      assert.matches("holds the backup set f1", e.detail, 1, true)
    end)
  end)

  describe("inst:open_file of a name the backup does not hold", function()
    -- Before: JET_errInvalidParameter / JET_errInvalidBackupSequence /
    -- JET_errDatabaseNotFound with no detail, though the first two had ended
    -- the backup (the next call: JET_errNoBackup, out of the blue).
    it("says which name, what the backup holds, and that the backup ended", function()
      local t, _, _, inst = w:table()
      t:put("k", "v")
      local db = w:path("app.edb")
      inst:begin_external_backup()
      local e = H.expect_jet("JET_errDatabaseNotFound", inst.open_file, inst, w:path("other.edb"))
      assert.are.equal(w:path("other.edb") .. " is not a database of this backup (the attach info lists them)",
        e.detail)
      local r = inst:open_file(db)                    -- the backup goes on
      r:copy_to(function() end)
      r:close()
      local _, info = inst:get_log_info()
      e = H.expect_jet("JET_errInvalidParameter", inst.open_file, inst, w:path("edb.chk"))
      assert.are.equal(("%s is not a log of the list (generations %d .. %d): the backup ended"):format(
        w:path("edb.chk"), info.gen_low, info.gen_high), e.detail)
      H.expect_jet("JET_errNoBackup", inst.get_log_info, inst)
      inst:begin_external_backup()
      r = inst:open_file(db)
      r:copy_to(function() end)
      r:close()
      inst:get_log_info()
      e = H.expect_jet("JET_errInvalidBackupSequence", inst.open_file, inst, db)
      assert.are.equal(db .. ": a database streams before the log list, never after it nor in an incremental: "
        .. "the backup ended", e.detail)
      H.expect_jet("JET_errNoBackup", inst.get_log_info, inst)
    end)
  end)

  describe("ese logs --verify of a damaged log", function()
    -- Before: "ese logs: JET_errLogReadVerifyFailure (-612): A log file ...
    -- [in logs: JET_errLogReadVerifyFailure (-612): A log file ... [in
    -- file_info: PATH: a log record fails verification]]": the error twice.
    it("names the error once, its detail the file's", function()
      local t, _, _, inst = w:table({ log_file_size = 64 })
      H.roll(t, w.dir, 3)
      inst:term({ complete = true })
      local victim = w:path(H.log_name(2))
      local data = H.read_file(victim)
      H.write_file(victim, data:sub(1, 20000) .. "zzzz" .. data:sub(20005))
      local code, _, err = ese_cmd({ "logs", w.dir, "--verify" })
      assert.are.equal(1, code)
      local _, n = err:gsub("JET_errLogReadVerifyFailure", "")
      assert.are.equal(1, n, err)
      assert.matches("[in logs: " .. victim .. ": a log record fails verification]", err, 1, true)
    end)
  end)

  describe("ese info of a folder", function()
    -- Before: JET_errInvalidPath whose detail was the path alone.
    it("says it is a folder", function()
      local e = H.expect_jet("JET_errInvalidPath", ese.file_info, w.dir)
      assert.are.equal(w.dir .. " is a folder, not a database or log file", e.detail)
      local code, _, err = ese_cmd({ "info", w.dir })
      assert.are.equal(1, code)
      assert.matches("is a folder, not a database or log file", err, 1, true)
    end)
  end)

  describe("--json", function()
    -- Before: every path came out as "\/tmp\/...\/app.edb" (lua-cjson's
    -- escape of "/"), which a grep for the path does not find.
    it("writes a path's slashes as they are, and the text still decodes to it", function()
      local t, _, _, inst = w:table()
      t:put("k", "v")
      inst:term({ complete = true })
      local db = w:path("app.edb")
      local code, out = ese_cmd({ "info", db, "--json" })
      assert.are.equal(0, code)
      assert.matches('"path":"' .. db .. '"', out, 1, true)
      assert.is_nil(out:find("\\/", 1, true))
      local json = require("ese.cli").json
      for _, s in ipairs({ "a/b", "a\\/b", "\\\\/", "\\", "/\\/", "\\\"/" }) do
        local text = json({ s = s })
        assert.are.equal(s, require("cjson").decode(text).s, text)
      end
    end)
  end)
end)
