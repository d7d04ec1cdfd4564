-- bin/ese run as a child process: output and exit status of every command.
-- The child gets this run's package.path and package.cpath (busted's
-- --cpath points at the build), so it loads the same ese.core.
local ese = require "ese"
local cjson = require "cjson"
local H = require "support.helpers"

local q = H.q

-- Runs `bin/ese ARGS` (args: a list of words, quoted there); env: extra
-- "NAME=value" words.  Returns exit status, stdout, stderr.
local function ese_cmd(args, env)
  return H.lua_run("bin/ese", args, env)
end

-- An instance folder with app.edb holding n records "k00001".., shut down
-- cleanly so that the CLI may open it, with a few log generations so that
-- `ese logs` has several to show.
local function make_instance(w, n, prefix)
  local t, s, _, inst = w:table()
  s:begin_transaction()
  H.fill(t, n or 200, prefix or "k", 200)
  s:commit_transaction()
  local i = 0
  while ese.file_info(w:path("edb.log")).generation < 3 do
    i = i + 1
    t:put(("roll%05d"):format(i), ("r"):rep(2000))
  end
  t:close()
  s:end_session()
  inst:term({ complete = true })
  return w.dir
end

local function add_records(w, n, prefix)
  local t, s, _, inst = w:reopen()
  s:begin_transaction()
  H.fill(t, n, prefix, 200)
  s:commit_transaction()
  t:close()
  s:end_session()
  inst:term({ complete = true })
end

-- make_instance(w, n, "a") backed up into out/full, then m records "b"
-- and an incremental into out/inc.  Returns dir, full, inc, and the exit
-- status, stdout and stderr of the incremental.
local function full_then_incremental(w, out, n, m)
  local dir = make_instance(w, n, "a")
  local full, inc = out .. "/full", out .. "/inc"
  assert.are.equal(0, (ese_cmd({ "backup", dir, full })))
  add_records(w, m, "b")
  return dir, full, inc, ese_cmd({ "backup", dir, inc, "--incremental" })
end

local function count_restored(dir, prefix)
  return H.count_keys(nil, dir, prefix)
end

describe("bin/ese", function()
  local w, out

  before_each(function()
    w = H.world()
    out = H.tmpdir()
  end)
  after_each(function()
    w:cleanup()
    H.rmdir(out)
  end)

  describe("usage", function()
    it("no command: usage on stderr, exit 2", function()
      local code, stdout, stderr = ese_cmd({})
      assert.are.equal(2, code)
      assert.are.equal("", stdout)
      assert.matches("usage: ese COMMAND", stderr)
    end)

    -- cli.md: from a source tree it finds lua/ beside itself, however it is
    -- named; LUA_PATH unset (the C module: this run's cpath, as make check's)
    it("finds the tree's modules without LUA_PATH: bin/ese, ./ese in bin/, ../bin/ese, an absolute path",
       function()
      local root = assert(io.popen("pwd")):read("l")
      local cpath = package.cpath:gsub("[^;]+", function(e) return e:match("^/") and e or root .. "/" .. e end)
      for _, run in ipairs({ { ".", "bin/ese" }, { "bin", "./ese" }, { "lua", "../bin/ese" },
                             { out, root .. "/bin/ese" } }) do
        local p = assert(io.popen(("cd %s && env -u LUA_PATH LUA_CPATH=%s lua5.4 %s --version 2>&1"):format(
          q(run[1]), q(cpath), q(run[2]))))
        local text = p:read("a")
        local ok = p:close()
        assert.is_true(ok, run[2] .. " in " .. run[1] .. ": " .. text)
        assert.are.equal("ese " .. ese.version .. "\n", text)
      end
    end)

    it("--help lists every command; every command has --help", function()
      local code, stdout = ese_cmd({ "--help" })
      assert.are.equal(0, code)
      for _, c in ipairs({ "info", "logs", "check", "backup", "restore", "demo" }) do
        assert.matches("\n  " .. c .. " ", stdout)
        local c2, o2, e2 = ese_cmd({ c, "--help" })
        assert.are.equal(0, c2, c)
        assert.matches("^usage: ese " .. c, o2)
        assert.are.equal("", e2)
      end
      -- the usage names every form cli.md documents, `ese help COMMAND` too
      assert.matches("ese help COMMAND", stdout)
      assert.matches("ese COMMAND %-%-help", stdout)
      assert.matches("ese %-%-version", stdout)
      local c3, o3 = ese_cmd({ "help", "backup" })
      assert.are.equal(0, c3)
      assert.matches("usage: ese backup", o3)
    end)

    -- tryout16: `ese backup --help` and `ese restore --help` had lines of
    -- 100 and 109 columns, the overview three of 81 .. 84
    it("help text fits 80 columns: the overview, and each command's but its usage line", function()
      local long = {}
      local function check(text, what, skip)
        local n = 0
        for line in text:gmatch("([^\n]*)\n") do
          n = n + 1
          if n > skip and #line > 80 then long[#long + 1] = ("%s:%d: %d columns"):format(what, n, #line) end
        end
      end
      local _, stdout = ese_cmd({ "--help" })
      check(stdout, "ese --help", 0)
      for name in pairs(require("ese.cli").commands) do
        _, stdout = ese_cmd({ name, "--help" })
        check(stdout, name, 1)
      end
      assert.are.same({}, long)
    end)

    it("unknown command, unknown option, wrong arguments: exit 2", function()
      local code, _, err = ese_cmd({ "frobnicate" })
      assert.are.equal(2, code)
      assert.matches("unknown command 'frobnicate'", err)
      -- so is help of one (tryout16: `ese help frobnicate` printed the overview, exit 0)
      for _, form in ipairs({ { "help", "frobnicate" }, { "--help", "frobnicate" } }) do
        local stdout
        code, stdout, err = ese_cmd(form)
        assert.are.equal(2, code, form[1])
        assert.are.equal("", stdout)
        assert.matches("unknown command 'frobnicate'", err)
      end
      code, _, err = ese_cmd({ "info", "x", "--bogus" })
      assert.are.equal(2, code)
      assert.matches("unknown option %-%-bogus", err)
      code, _, err = ese_cmd({ "backup", "only-one" })
      assert.are.equal(2, code)
      assert.matches("usage: ese backup", err)
      code, _, err = ese_cmd({ "restore", "a", "b", "--to-generation", "x" })
      assert.are.equal(2, code)
      assert.matches("positive integer", err)
    end)

    it("backup --copy --incremental: a usage error (exit 2) naming the conflict, nothing written", function()
      local dir = make_instance(w, 10)
      local before = H.read_file(dir .. "/app.edb")
      for _, order in ipairs({ { "--copy", "--incremental" }, { "--incremental", "--copy" } }) do
        local code, stdout, err = ese_cmd({ "backup", dir, out .. "/set", order[1], order[2] })
        assert.are.equal(2, code)
        assert.are.equal("", stdout)
        assert.matches("%-%-copy and %-%-incremental", err)
        assert.matches("usage: ese backup", err)
        assert.is_nil(err:find("JET_err", 1, true))
        assert.is_nil(io.open(out .. "/set"))
      end
      assert.is_true(before == H.read_file(dir .. "/app.edb"))
    end)

    it("backup --archive DIR --archive-command CMD: a usage error (exit 2) naming the conflict, nothing opened",
       function()
      local dir = make_instance(w, 10)
      local before = H.ls(dir)
      local code, stdout, err = ese_cmd({ "backup", dir, out .. "/set", "--archive", out .. "/arc",
                                          "--archive-command", "cp %p " .. out .. "/arc/%f" })
      assert.are.equal(2, code, err)
      assert.are.equal("", stdout)
      assert.matches("%-%-archive and %-%-archive%-command exclude each other", err)
      assert.matches("usage: ese backup", err)
      assert.is_nil(err:find("JET_err", 1, true))
      assert.is_nil(io.open(out .. "/set"))
      assert.are.same(before, H.ls(dir))
    end)

    it("backup --max-rate BYTES paces the backup (at least 0.8 x bytes / rate); 0, -1, a word: usage error", function()
      local dir = make_instance(w, 10)
      local code, stdout, err = ese_cmd({ "backup", dir, out .. "/a", "--copy", "--json" })
      assert.are.equal(0, code, err)
      local rate = cjson.decode(stdout).report.bytes          -- about 1 s of this set
      local t0 = ese.fs.now()
      code, stdout, err = ese_cmd({ "backup", dir, out .. "/b", "--copy", "--json", "--max-rate", tostring(rate) })
      local secs = ese.fs.now() - t0
      assert.are.equal(0, code, err)
      local bytes = cjson.decode(stdout).report.bytes
      assert.is_true(secs >= 0.8 * bytes / rate - 0.1, ("%d bytes at %d B/s took %.3f s"):format(bytes, rate, secs))
      -- decimal digits only: " 1", "1e3", "0x10", "+5" were taken as numbers before (hostile16)
      for _, bad in ipairs({ "0", "-1", "fast", " 1", "1e3", "0x10", "+5", "1.5" }) do
        code, _, err = ese_cmd({ "backup", dir, out .. "/c", "--max-rate", bad })
        assert.are.equal(2, code)
        assert.matches("%-%-max%-rate needs a positive integer", err)
        assert.is_nil(io.open(out .. "/c"))
      end
    end)

    it("--version", function()
      local code, stdout = ese_cmd({ "--version" })
      assert.are.equal(0, code)
      assert.are.equal("ese " .. ese.version .. "\n", stdout)
    end)
  end)

  describe("info", function()
    it("a file that is neither a database nor a log: exit 1, JET_errFileInvalidType naming the file", function()
      local junk = out .. "/notes.txt"
      H.write_file(junk, ("just some text\n"):rep(2000))
      local code, stdout, stderr = ese_cmd({ "info", junk })
      assert.are.equal(1, code)
      assert.are.equal("", stdout)
      assert.matches("JET_errFileInvalidType", stderr)
      assert.matches("neither a database nor a log file", stderr)
      assert.matches("notes%.txt", stderr)
      assert.is_nil(stderr:find("not a valid database", 1, true))
      -- a damaged database (both header copies) is still a database: JET_errDatabaseCorrupted
      local dir = make_instance(w, 5)
      local db = H.read_file(dir .. "/app.edb")
      H.write_file(out .. "/bad.edb", db:sub(1, 100) .. ("x"):rep(8192 * 2 - 100) .. db:sub(8192 * 2 + 1))
      code, stdout, stderr = ese_cmd({ "info", out .. "/bad.edb" })
      assert.are.equal(1, code)
      assert.are.equal("", stdout)
      assert.matches("JET_errDatabaseCorrupted", stderr)
    end)

    it("prints a database header, as text and as JSON", function()
      local dir = make_instance(w)
      local code, stdout = ese_cmd({ "info", dir .. "/app.edb" })
      assert.are.equal(0, code)
      assert.matches("kind%s+database", stdout)
      assert.matches("state%s+clean", stdout)
      assert.matches("page size%s+8192", stdout)
      code, stdout = ese_cmd({ "info", dir .. "/app.edb", "--json", "--verify" })
      assert.are.equal(0, code)
      local j = cjson.decode(stdout)
      assert.are.equal("database", j.kind)
      assert.are.equal("clean", j.state)
      assert.is_true(j.verified)
      assert.are.equal(32, #j.db_signature)
    end)

    it("prints a log header", function()
      local dir = make_instance(w)
      local code, stdout = ese_cmd({ "info", dir .. "/edb.log", "--json" })
      assert.are.equal(0, code)
      local j = cjson.decode(stdout)
      assert.are.equal("log", j.kind)
      assert.is_true(j.generation >= 1)
      -- the text of the first log says it follows none (it printed "a log created - UTC")
      local first = H.tmpdir()
      local i = ese.create_instance("cli-first-log", { system_path = first, log_path = first })
      i:init()
      i:term{ complete = true }
      assert.are.equal(0, ese.file_info(first .. "/edb.log").prev_created_us)
      local c2, text = ese_cmd({ "info", first .. "/edb.log" })
      assert.are.equal(0, c2)
      assert.matches("follows%s+none %(the first log of the stream%)", text)
      assert.is_nil(text:find("created - UTC", 1, true), text)
      code, text = ese_cmd({ "info", dir .. "/edb.log" })
      assert.are.equal(0, code)
      assert.matches("follows%s+a log created %d+%-%d+%-%d+ [%d:.]+ UTC", text)
      H.rmdir(first)
    end)

    it("a missing file: exit 1 naming JET_errFileNotFound", function()
      local code, stdout, stderr = ese_cmd({ "info", w:path("nope.edb") })
      assert.are.equal(1, code)
      assert.are.equal("", stdout)
      assert.matches("^ese info: JET_errFileNotFound %(%-1811%)", stderr)
      code, stdout = ese_cmd({ "info", w:path("nope.edb"), "--json" })
      assert.are.equal(1, code)
      local j = cjson.decode(stdout)
      assert.is_false(j.ok)
      assert.are.equal("JET_errFileNotFound", j.error.name)
      assert.are.equal(-1811, j.error.code)
    end)
  end)

  describe("logs", function()
    it("lists the generations; a gap is JET_errMissingLogFile", function()
      local t, s, _, inst = w:table()
      for i = 1, 6 do
        s:begin_transaction()
        H.fill(t, 150, "r" .. i, 500)
        s:commit_transaction()
      end
      H.roll(t, w.dir, 3)
      inst:term({ complete = true })
      local code, stdout = ese_cmd({ "logs", w.dir })
      assert.are.equal(0, code)
      assert.matches("base name edb", stdout)
      assert.matches("ok: no gap", stdout)
      code, stdout = ese_cmd({ "logs", w.dir, "--json", "--verify" })
      assert.are.equal(0, code)
      local j = cjson.decode(stdout)
      assert.is_true(j.ok)
      local b = j.bases[1]
      assert.are.equal("edb", b.base_name)
      assert.is_true(b.gen_high - b.gen_low >= 2, "several generations")
      assert.are.equal(b.gen_high - b.gen_low + 1, #b.logs)
      assert.are.equal(1, #b.signatures)
      -- remove one in the middle
      local mid = b.logs[2].name
      os.remove(w:path(mid))
      local code2, out2, stderr = ese_cmd({ "logs", w.dir })
      assert.are.equal(1, code2)
      assert.matches("JET_errMissingLogFile", stderr)
      -- one generation is one (tryout16: "generations 8 .. 8 are missing")
      local g = b.logs[2].generation
      assert.matches(("\n  gap: generation %d missing\n"):format(g), out2)
      assert.matches(("[in logs: edb: generation %d is missing]"):format(g), stderr, 1, true)
    end)

    it("a folder that does not exist: exit 1", function()
      local code, _, stderr = ese_cmd({ "logs", w:path("none") })
      assert.are.equal(1, code)
      assert.matches("JET_errFileNotFound", stderr)
    end)
  end)

  describe("backup, check, restore", function()
    it("full, incremental, check of the chain, restore: the records are back", function()
      local dir = make_instance(w, 300, "a")
      local full, inc = out .. "/full", out .. "/inc"
      local code, stdout, stderr = ese_cmd({ "backup", dir, full })
      assert.are.equal(0, code, stderr)
      assert.matches("full backup of .* into .*full: %d+ files", stdout)
      assert.matches("backup: database app%.edb", stdout)   -- plain progress lines, not a terminal
      assert.is_nil(stdout:find("\r", 1, true))
      add_records(w, 100, "b")
      code, stdout, stderr = ese_cmd({ "backup", dir, inc, "--incremental", "--json" })
      assert.are.equal(0, code, stderr)
      local j = cjson.decode(stdout)
      assert.is_true(j.ok)
      assert.are.equal("incremental", j.report.kind)
      code, stdout = ese_cmd({ "check", full, inc })
      assert.are.equal(0, code)
      assert.matches("ok  chain full%+incremental", stdout)
      code, stdout = ese_cmd({ "check", full .. "/app.edb" })
      assert.are.equal(0, code)
      assert.matches("^ok  .*app%.edb  %(database", stdout)
      local dest = out .. "/restored"
      code, stdout, stderr = ese_cmd({ "restore", full, inc, dest })
      assert.are.equal(0, code, stderr)
      assert.matches("restored full%+incremental", stdout)
      assert.are.equal(300, count_restored(dest, "a"))
      assert.are.equal(100, count_restored(dest, "b"))
      -- not over a folder that has files, unless --force
      local _
      code, _, stderr = ese_cmd({ "restore", full, dest })
      assert.are.equal(1, code)
      assert.matches("JET_errBackupDirectoryNotEmpty", stderr)
      code = ese_cmd({ "restore", full, dest, "--force" })
      assert.are.equal(0, code)
      assert.are.equal(0, count_restored(dest, "b"))
    end)

    it("counts are singular for one: '1 file', never '1 files'", function()
      local _, full, inc, code, stdout, stderr = full_then_incremental(w, out, 10, 5)
      assert.are.equal(0, code, stderr)
      assert.matches(": 1 file, ", stdout)              -- one log generation
      code, stdout = ese_cmd({ "check", full, inc })
      assert.are.equal(0, code)
      assert.matches("/inc  %(incremental backup [^\n]*, 1 file, ", stdout)
      code, stdout = ese_cmd({ "logs", inc })
      assert.are.equal(0, code)
      assert.matches(": 1 log file, ", stdout)
      code, stdout, stderr = ese_cmd({ "restore", full, inc, out .. "/dest" })
      assert.are.equal(0, code, stderr)
      assert.matches("%(%d+ files, ", stdout)            -- more than one stays plural
      for _, text in ipairs({ stdout, H.read_file("docs/cli.md") }) do
        assert.is_nil(text:find("[^%d]1 files"), "'1 files'")
        assert.is_nil(text:find("[^%d]1 log files"), "'1 log files'")
      end
    end)

    it("restore --force never touches a folder a running instance uses (here: this spec's process), nor "
       .. "writes through a planted link", function()
      local dir = make_instance(w, 50, "a")
      local full = out .. "/full"
      assert.are.equal(0, (ese_cmd({ "backup", dir, full })))
      local _, _, _, inst = w:reopen()
      local before = H.read_file(w:path("app.edb")) .. H.read_file(w:path("edb.log"))
      local names = H.ls(dir)
      for _, args in ipairs({ { "restore", full, dir, "--force" }, { "restore", full, dir } }) do
        local code, stdout, stderr = ese_cmd(args)
        assert.are.equal(1, code, stdout)
        assert.matches("JET_errFileAccessDenied", stderr)
        assert.are.same(names, H.ls(dir))
        assert.are.equal(before, H.read_file(w:path("app.edb")) .. H.read_file(w:path("edb.log")))
      end
      inst:term({ complete = true })
      assert.are.equal(50, count_restored(dir, "a"))
      -- a link app.edb -> an outside file in DEST
      local dest, outside = out .. "/dest", out .. "/outside"
      H.write_file(outside, "precious")
      assert(os.execute("mkdir " .. q(dest) .. " && ln -s " .. q(outside) .. " " .. q(dest .. "/app.edb")))
      local code, _, stderr = ese_cmd({ "restore", full, dest, "--force" })
      assert.are.equal(1, code)
      assert.matches("JET_errInvalidPath", stderr)
      assert.matches("symbolic link", stderr)
      assert.are.equal("precious", H.read_file(outside))
      code, _, stderr = ese_cmd({ "restore", full, dest })
      assert.are.equal(1, code)
      assert.matches("JET_errBackupDirectoryNotEmpty.*%-%-force", stderr)
      assert.matches(dest .. " is not empty", stderr, 1, true)      -- the engine's detail, kept
      assert.not_matches("pass overwrite", stderr, 1, true)          -- a Lua option, not the CLI's word
      assert.are.equal("precious", H.read_file(outside))
    end)

    it("--no-truncate makes a copy or a differential; --to-generation restores to a point", function()
      local dir = make_instance(w, 100, "a")
      local code, stdout = ese_cmd({ "backup", dir, out .. "/full", "--json" })
      assert.are.equal(0, code)
      local full_high = cjson.decode(stdout).report.gen_high
      code, stdout = ese_cmd({ "backup", dir, out .. "/copy", "--no-truncate", "--json" })
      assert.are.equal(0, code)
      assert.are.equal("copy", cjson.decode(stdout).report.kind)
      add_records(w, 50, "b")
      code, stdout = ese_cmd({ "backup", dir, out .. "/diff", "--incremental", "--no-truncate", "--json" })
      assert.are.equal(0, code)
      assert.are.equal("differential", cjson.decode(stdout).report.kind)
      code = ese_cmd({ "restore", out .. "/full", out .. "/diff", out .. "/pit",
                       "--to-generation", tostring(full_high) })
      assert.are.equal(0, code)
      assert.are.equal(100, count_restored(out .. "/pit", "a"))
      assert.are.equal(0, count_restored(out .. "/pit", "b"))
    end)

    it("an instance folder another process holds: exit 1, JET_errFileAccessDenied, no set", function()
      make_instance(w)
      local _, _, _, inst = w:reopen()         -- this process holds it now
      local code, stdout, stderr = ese_cmd({ "backup", w.dir, out .. "/held" })
      assert.are.equal(1, code, stdout)
      assert.matches("JET_errFileAccessDenied", stderr)
      assert.is_nil(H.ls(out)["held"])
      assert.is_nil(H.ls(out)["held.partial"])
      inst:term({ complete = true })
    end)

    it("an incremental without a full: exit 1, JET_errMissingFullBackup", function()
      local dir = make_instance(w)
      local code, _, stderr = ese_cmd({ "backup", dir, out .. "/inc", "--incremental" })
      assert.are.equal(1, code)
      assert.matches("ese backup: JET_errMissingFullBackup %(%-560%)", stderr)
      assert.is_nil(H.ls(out)["inc"])
    end)

    it("check of a tampered set: exit 1 naming the JET_err, also in JSON", function()
      local dir = make_instance(w, 300)
      local set = out .. "/full"
      assert.are.equal(0, (ese_cmd({ "backup", dir, set })))
      local f = assert(io.open(set .. "/app.edb", "r+b"))
      f:seek("set", 3 * 8192 + 100)
      local c = f:read(1)
      f:seek("set", 3 * 8192 + 100)
      f:write(string.char(c:byte() ~ 0xff))
      f:close()
      local code, _, stderr = ese_cmd({ "check", set })
      assert.are.equal(1, code)
      assert.matches("^ese check: JET_errReadVerifyFailure %(%-1018%)", stderr)
      local code2, stdout = ese_cmd({ "check", set, "--json" })
      assert.are.equal(1, code2)
      local j = cjson.decode(stdout)
      assert.is_false(j.ok)
      assert.are.equal("JET_errReadVerifyFailure", j.error.name)
      assert.are.equal("check", j.command)
      -- the file alone: the same error object, plus its path (it had no command key)
      code2, stdout = ese_cmd({ "check", set .. "/app.edb", "--json" })
      assert.are.equal(1, code2)
      j = cjson.decode(stdout)
      assert.is_false(j.ok)
      assert.are.equal("check", j.command)
      assert.are.equal(set .. "/app.edb", j.path)
      assert.are.equal("JET_errReadVerifyFailure", j.error.name)
      -- and restore refuses it
      local code3, _, stderr3 = ese_cmd({ "restore", set, out .. "/r" })
      assert.are.equal(1, code3)
      assert.matches("JET_errReadVerifyFailure", stderr3)
    end)

    it("DEST - writes one tar archive to stdout; untarred it checks and restores", function()
      local dir = make_instance(w, 300, "a")
      local tar = out .. "/set.tar"
      local errf = out .. "/err.txt"
      local cmd = ("LUA_PATH=%s LUA_CPATH=%s lua5.4 bin/ese backup %s - --prefix full >%s 2>%s"):format(
        q(package.path), q(package.cpath), q(dir), q(tar), q(errf))
      assert.is_true(os.execute(cmd))
      assert.matches("full backup of .* into stdout %(tar%)", H.read_file(errf))
      assert.is_true(os.execute(("tar -xf %s -C %s"):format(q(tar), q(out))))
      local code, stdout = ese_cmd({ "check", out .. "/full" })
      assert.are.equal(0, code)
      assert.matches("ok  .*full  %(full backup", stdout)
      assert.are.equal(0, (ese_cmd({ "restore", out .. "/full", out .. "/r" })))
      assert.are.equal(300, count_restored(out .. "/r", "a"))
      -- --prefix only with -, --json not with -
      assert.are.equal(2, (ese_cmd({ "backup", dir, out .. "/x", "--prefix", "p" })))
      assert.are.equal(2, (ese_cmd({ "backup", dir, "-", "--json" })))
    end)

    it("ESE_PROGRESS=bar draws a bar with bytes, rate and time left", function()
      local dir = make_instance(w, 300)
      local code, stdout = ese_cmd({ "backup", dir, out .. "/full" }, "ESE_PROGRESS=bar")
      assert.are.equal(0, code)
      assert.matches("\r", stdout)
      assert.matches("%[[#.]+%] 100%%", stdout)
      -- bytes of the file, then the rate (or "-" when too quick to measure), time left
      assert.matches("%d+%.%d KiB / %d+%.%d KiB  [%-%d][^\r]-  [%-%d][^\r]- left", stdout)
    end)
  end)

  -- --json on real output: lists are arrays (also when empty), times and
  -- durations are integer microseconds with every digit.
  describe("--json", function()
    -- the JSON text of a command that succeeds
    local function json_of(args)
      local code, stdout, stderr = ese_cmd(args)
      assert.are.equal(0, code, stderr)
      assert.is_nil(stdout:find("[:,%[]%-?[%d.]+[eE][-+]?%d"), "a number in exponent form: " .. stdout)
      return stdout, cjson.decode(stdout)
    end
    local function no_noise(text)
      assert.is_nil(text:find('"seconds":', 1, true), "a duration in float seconds: " .. text)
      assert.matches('"elapsed_us":%d+[,}]', text)
    end

    it("info: times are integer microseconds, every digit", function()
      local dir = make_instance(w)
      assert.are.equal(0, (ese_cmd({ "backup", dir, out .. "/full" })))
      local fi = ese.file_info(dir .. "/edb.log")
      assert.are.equal("integer", math.type(fi.created_us))
      assert.truthy(fi.created_us > 1e15)
      local text, j = json_of({ "info", dir .. "/edb.log", "--json" })
      assert.matches('"created_us":' .. fi.created_us .. "[,}]", text)
      assert.matches('"prev_created_us":' .. fi.prev_created_us .. "[,}]", text)
      assert.are.equal(fi.created_us, j.created_us)
      local db = ese.file_info(dir .. "/app.edb")
      text = json_of({ "info", dir .. "/app.edb", "--json" })
      assert.matches('"time_us":' .. db.backups.full.time_us .. "[,}]", text)
      -- a database with no backup record: backups is an (empty) object
      local w2 = H.world()
      finally(function() w2:cleanup() end)
      make_instance(w2)
      text = json_of({ "info", w2:path("app.edb"), "--json" })
      assert.matches('"backups":{}', text, 1, true)
    end)

    it("logs: problems and gaps are [] when empty; an empty folder has bases []", function()
      local dir = make_instance(w)
      local text, j = json_of({ "logs", dir, "--json" })
      assert.matches('"problems":[]', text, 1, true)
      assert.matches('"gaps":[]', text, 1, true)
      assert.matches('"signatures":["', text, 1, true)
      assert.is_true(j.ok)
      local first = j.bases[1].logs[1]
      assert.are.equal(ese.file_info(dir .. "/" .. first.name).created_us, first.created_us)
      text = json_of({ "logs", out, "--json" })
      assert.matches('"bases":[]', text, 1, true)
    end)

    it("backup, check, restore: lists are arrays, durations integer microseconds", function()
      local dir = make_instance(w, 300)
      local text, j = json_of({ "backup", dir, out .. "/full", "--json" })
      no_noise(text)
      assert.matches('"files":[{', text, 1, true)
      assert.are.equal("full", j.report.kind)
      text = json_of({ "check", out .. "/full", "--json" })
      no_noise(text)
      assert.matches('"files":[]', text, 1, true)       -- no single file checked
      assert.matches('"sets":[{', text, 1, true)
      assert.matches('"databases":["app.edb"]', text, 1, true)
      text = json_of({ "check", dir .. "/app.edb", "--json" })
      assert.matches('"files":[{', text, 1, true)
      text, j = json_of({ "restore", out .. "/full", out .. "/r", "--json" })
      no_noise(text)
      assert.are.equal(out .. "/r", j.report.dest)
    end)

    it("the encoder: integers, floats, empty lists, order, cycles", function()
      local cli = require "ese.cli"
      assert.are.equal("1796515632576912", cli.json(1796515632576912))
      assert.are.equal("1796515632576912", cli.json(1796515632576912.0))
      assert.are.equal("0.3", cli.json(0.3))
      assert.are.equal("0.30000000000000004", cli.json(0.1 + 0.2))
      assert.are.equal('{"elapsed_us":30000}', cli.json({ elapsed_us = 0.029999999999973 * 1e6 }))
      assert.are.equal('{"elapsed_us":1}', cli.json({ elapsed_us = 0.9999999 }))
      assert.are.equal('{"a":{},"b":{},"gaps":[]}', cli.json({ a = {}, b = { f = print }, gaps = {} }))
      assert.are.equal('[1,"x",true]', cli.json({ 1, "x", true }))
      assert.are.equal('{"1":1,"x":2}', cli.json({ [1] = 1, x = 2 }))
      assert.are.equal("null", cli.json(0 / 0))
      local t = {}
      t.self = t
      assert.are.equal("{}", cli.json(t))
    end)
  end)

  -- The one rule of every --json output (docs/cli.md "JSON"): a time, a
  -- point or a duration, is an integer count of microseconds under a key
  -- ending in _us; no other key holds one (no float seconds, and an ISO
  -- string only as a set's `time` beside its `time_us`, or in the manifest
  -- as written); every list is an array, `[]` when empty.  cjson decodes
  -- every number as a float and `[]` like `{}`: the raw text is what tells.
  describe("--json rule, per command", function()
    local LISTS = { "bases", "logs", "problems", "gaps", "signatures", "files", "sets", "databases", "keep",
                    "delete", "deleted", "points" }
    -- exit status, the JSON text and its decoded table of `ese ARGS`
    local function run(args, want)
      local code, stdout, stderr = ese_cmd(args)
      assert.are.equal(want or 0, code, stderr)
      return stdout, cjson.decode(stdout)
    end
    -- Checks text by the rule; returns the decoded table and the set of
    -- the _us keys it has.
    local function audit(text)
      local keys = {}
      for key, v in text:gmatch('"([%w_]-_us)":([^,}%]]*)') do
        keys[key] = true
        assert.truthy(v:match("^%d+$"), key .. " is not an integer count of microseconds: " .. v)
      end
      for _, key in ipairs(LISTS) do
        for c in text:gmatch('"' .. key .. '":(.)') do
          -- a list, or (files) a count
          assert.truthy(c == "[" or c:match("%d"), '"' .. key .. '" is not an array: ' .. text)
        end
      end
      assert.is_nil(text:find('"seconds":', 1, true), "a duration in float seconds: " .. text)
      assert.is_nil(text:find('"last_commit_time":', 1, true), "a time in float seconds: " .. text)
      local j = cjson.decode(text)
      local function walk(v)
        if type(v) ~= "table" then return end
        local manifest = v.format == "lua-ese backup"   -- manifest.json as written (backup.md)
        for k, x in pairs(v) do
          if type(x) == "string" and x:match("^%d%d%d%d%-%d%d%-%d%d[T ]%d%d:%d%d") then
            assert.are.equal("time", k, "an ISO time under " .. tostring(k))
            assert.truthy(manifest or v.time_us, "an ISO time without time_us beside it: " .. text)
          end
          assert.truthy(k ~= "time_unix" or manifest, "a time in seconds outside the manifest: " .. text)
          walk(x)
        end
      end
      walk(j)
      return j, keys
    end
    local function time_unix_of(set)
      return math.tointeger(cjson.decode(H.read_file(set .. "/manifest.json")).time_unix)
    end
    -- the integer after "key": in text (the first one)
    local function int_of(text, key)
      return math.tointeger(tonumber(text:match('"' .. key .. '":(%d+)')))
    end

    it("info: created_us, prev_created_us, backups.*.time_us", function()
      local dir = make_instance(w)
      assert.are.equal(0, (ese_cmd({ "backup", dir, out .. "/full" })))
      local text = run({ "info", dir .. "/edb.log", "--json" })
      local _, keys = audit(text)
      assert.is_true(keys.created_us and keys.prev_created_us)
      text = run({ "info", dir .. "/app.edb", "--json" })
      _, keys = audit(text)
      assert.is_true(keys.time_us)
      -- the header's backup record is written at the backup's end, the
      -- manifest's time_unix is its start (whole seconds): a second may
      -- pass between them
      local began, recorded = time_unix_of(out .. "/full"), int_of(text, "time_us") // 1000000
      assert.is_true(recorded >= began and recorded - began <= 60, ("%d, %d"):format(began, recorded))
    end)

    it("logs: every list an array, also empty, also with a gap", function()
      make_instance(w)                               -- generations 1 .. 3
      local text, j = run({ "logs", w.dir, "--json" })
      local _, keys = audit(text)
      assert.is_true(keys.created_us and keys.prev_created_us)
      assert.matches('"problems":[]', text, 1, true)
      assert.matches('"gaps":[]', text, 1, true)
      os.remove(w:path(j.bases[1].logs[2].name))
      text = run({ "logs", w.dir, "--json" }, 1)
      audit(text)
      assert.matches('"gaps":[{', text, 1, true)
      assert.matches('"problems":[{', text, 1, true)
      text = run({ "logs", out, "--json" })
      audit(text)
      assert.matches('"bases":[]', text, 1, true)
      assert.matches('"problems":[]', text, 1, true)
    end)

    it("check: a set's time_us beside its time, elapsed_us, databases [] of an incremental", function()
      local dir, full, inc, code = full_then_incremental(w, out, 100, 50)
      assert.are.equal(0, code)
      local text, j = run({ "check", full, inc, "--json" })
      local _, keys = audit(text)
      assert.is_true(keys.elapsed_us and keys.time_us)
      assert.matches('"files":[]', text, 1, true)
      assert.matches('"databases":[]', text, 1, true)       -- the incremental set's
      assert.are.equal(time_unix_of(full) * 1000000, math.tointeger(j.chain.sets[1].time_us))
      assert.are.equal(time_unix_of(inc) * 1000000, math.tointeger(j.chain.sets[2].time_us))
      -- a set without manifest.json: no time, no time_us
      assert.is_true(os.execute("cp -r " .. q(full) .. " " .. q(out .. "/bare")))
      os.remove(out .. "/bare/manifest.json")
      text, j = run({ "check", out .. "/bare", "--json" })
      audit(text)
      assert.is_false(j.chain.sets[1].manifest)
      assert.is_nil(j.chain.sets[1].time_us)
      text = run({ "check", dir .. "/app.edb", "--json" })
      audit(text)
      assert.matches('"files":[{', text, 1, true)
    end)

    it("backup: elapsed_us and the set's time_us; the manifest as written", function()
      local dir = make_instance(w, 100)
      local text, j = run({ "backup", dir, out .. "/full", "--json" })
      local _, keys = audit(text)
      assert.is_true(keys.elapsed_us and keys.time_us)
      assert.are.equal(time_unix_of(out .. "/full") * 1000000, int_of(text, "time_us"))
      assert.are.equal(time_unix_of(out .. "/full"), math.tointeger(j.report.manifest.time_unix))
      assert.matches('"files":[{', text, 1, true)
    end)

    it("restore: last_commit_time_us, elapsed_us, the verify report's sets with time_us", function()
      local dir = make_instance(w, 100)
      local before = os.time()
      assert.are.equal(0, (ese_cmd({ "backup", dir, out .. "/full" })))
      local text, j = run({ "restore", out .. "/full", out .. "/r", "--json" })
      local _, keys = audit(text)
      assert.is_true(keys.elapsed_us and keys.time_us and keys.last_commit_time_us)
      local last = int_of(text, "last_commit_time_us")
      assert.is_true(last <= (os.time() + 1) * 1000000 and last >= (before - 3600) * 1000000)
      assert.are.equal(time_unix_of(out .. "/full") * 1000000, math.tointeger(j.report.verify.sets[1].time_us))
      -- no point in time asked: nothing is "reached" or not (was false)
      assert.is_nil(j.report.reached)
      assert.falsy(text:find('"reached"', 1, true))
      -- to a point in time: the last commit restored is at or before it
      local to = os.time() + 3600
      text, j = run({ "restore", out .. "/full", out .. "/r2", "--json", "--to-time", tostring(to), "--allow-partial" })
      audit(text)
      assert.is_false(j.report.reached)
      assert.is_true(int_of(text, "last_commit_time_us") <= to * 1000000)
    end)

    it("expire: keep, delete, deleted, points are [] when empty; time_us", function()
      local dir = make_instance(w, 50)
      local root = out .. "/root"
      assert.is_true(os.execute("mkdir " .. q(root)))
      local text = run({ "expire", root, "--keep-full", "1", "--json" })
      audit(text)
      for _, key in ipairs({ "keep", "delete", "deleted", "points" }) do
        assert.matches('"' .. key .. '":[]', text, 1, true)
      end
      assert.are.equal(0, (ese_cmd({ "backup", dir, root .. "/f1" })))
      assert.is_true(os.execute("cp -r " .. q(root .. "/f1") .. " " .. q(root .. "/f2")))
      local j
      text, j = run({ "expire", root, "--keep-full", "1", "--json", "--yes" })
      local _, keys = audit(text)
      assert.is_true(keys.time_us)
      assert.matches('"deleted":["', text, 1, true)
      assert.matches('"sets":["', text, 1, true)
      assert.are.equal(time_unix_of(root .. "/f2") * 1000000, math.tointeger(j.points[1].time_us))
    end)

    it("the error object: {command, error, ok = false}, no time, no list", function()
      for _, args in ipairs({ { "info", w:path("nope.edb"), "--json" }, { "expire", w:path("none"), "--keep-full", "1",
                              "--json" }, { "check", w.dir, "--json" }, { "restore", w.dir, out .. "/r", "--json" },
                              { "backup", w.dir, out .. "/b", "--json" } }) do
        local text, j = run(args, 1)
        audit(text)
        assert.is_false(j.ok)
        assert.are.equal(args[1], j.command)
        assert.is_string(j.error.name)
        assert.is_number(j.error.code)
      end
    end)

    it("the encoder: a float under a _us key is rounded to an integer; empty lists [], empty records {}", function()
      local cli = require "ese.cli"
      assert.are.equal('{"elapsed_us":1235,"time_us":1796515632576912}',
        cli.json({ elapsed_us = 1234.6, time_us = 1796515632.576912 * 1e6 }))
      assert.are.equal('{"backups":{},"deleted":[],"error":{},"points":[{"sets":[]}]}',
        cli.json({ backups = {}, deleted = {}, error = {}, points = { { sets = {} } } }))
    end)
  end)

  describe("demo", function()
    it("runs the backup demo and the crash demo, checks pass, exit 0", function()
      local code, stdout, stderr = ese_cmd({ "demo" })
      assert.are.equal(0, code, stdout .. stderr)
      assert.matches("ok   restore full: ", stdout)
      assert.matches("ok   restore full %+ incr: ", stdout)
      -- the progress lines of the two restores say which (tryout16: both "restore: N%")
      assert.matches("\nrestore full: 100%%\n", stdout)
      assert.matches("\nrestore full %+ incr: 100%%\n", stdout)
      assert.matches("ok: every commit the writer saw is back", stdout)
      assert.matches("demo passed", stdout)
    end)
  end)
end)
