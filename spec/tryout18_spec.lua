-- Session 18's first-use review: README.md and docs/guide.md followed as
-- an operator (a full, an incremental, a log archive to a folder and
-- through rclone, a point-in-time restore, expire, a compressed set, every
-- command's --help) and an application written from the docs (JSON
-- documents of about 100 KiB, coroutine readers and writers on sessions of
-- their own, a step-by-step backup whose sink yields).  Each case failed
-- before its change.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

describe("tryout 18", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  describe("ese's unknown options", function()
    -- Before: `ese restore SET DEST --overwrite` said only "unknown option
    -- --overwrite", while the Lua option of the same restore is overwrite =
    -- true and the flag --force; --keep_full (the Lua spelling) likewise.
    it("name the flag to give for a Lua option's name or spelling, before anything is done", function()
      local dest = w:path("dest")
      local cases = {
        { { "restore", w:path("set"), dest, "--overwrite" },
          "unknown option --overwrite (restore's overwrite = true is --force here)" },
        { { "restore", w:path("set"), dest, "--live-log-path", w.dir }, "restore's live_log_path is --live-logs DIR" },
        { { "restore", w:path("set"), dest, "--archive_path=" .. w.dir }, "restore's archive_path is --archive DIR" },
        { { "restore", w:path("set"), dest, "--to_generation", "3" },
          "unknown option --to_generation: did you mean --to-generation?" },
        { { "expire", w.dir, "--keep_full", "2" }, "unknown option --keep_full: did you mean --keep-full?" },
        { { "expire", w.dir, "--keep-full", "2", "--dry-run" }, "a dry run is the default here; --yes deletes" },
        { { "backup", w.dir, dest, "--archive-path", w.dir }, "the instance's archive_path is --archive DIR here" },
      }
      for _, c in ipairs(cases) do
        local status, out, err = H.lua_run("bin/ese", c[1])
        assert.are.equal(2, status, out .. err)
        assert.truthy(err:find(c[2], 1, true), err)
        assert.truthy(err:find("\nusage: ese " .. c[1][1], 1, true), err)
      end
      -- an option that is nothing of the kind stays a plain unknown option
      local _, _, err = H.lua_run("bin/ese", { "restore", w:path("set"), dest, "--bogus" })
      assert.truthy(err:find("unknown option --bogus\n", 1, true), err)
      assert.is_false(H.exists(dest))
    end)
  end)

  -- Before: ese.restore(full, inc, dest), the CLI's order, said "bad
  -- argument #3 to 'restore' (table expected, got string)", and
  -- backup.restore / backup.verify "opts must be a table": nothing said
  -- that a chain is one list.
  it("a chain given as separate arguments: the error says a chain is one list, nothing written", function()
    local set = w:path("full")
    w:stopped_set(set)
    local dest = w:path("dest")
    local cases = {
      { ese.restore, "bad argument #3 to 'restore' (table expected, got string: a chain of sets is one list, "
        .. "ese.restore({ full, inc1, ... }, dest))" },
      { backup.restore, "backup.restore: opts must be a table, not string: a chain of sets is one list, "
        .. "backup.restore({ full, inc1, ... }, dest)" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(function() c[1](set, set, dest) end)   -- no tail call: the line stays
      assert.is_false(ok)
      assert.are.equal("string", type(err))
      assert.truthy(err:find(c[2], 1, true), err)
      assert.truthy(err:find("tryout18_spec.lua:%d+: "), err)   -- the caller's line
      assert.is_false(H.exists(dest))
    end
    local ok, err = pcall(backup.verify, set, set)
    assert.is_false(ok)
    assert.truthy(err:find("backup.verify: opts must be a table, not string: a chain of sets is one list, "
      .. "backup.verify({ full, inc1, ... })", 1, true), err)
    -- another type is the plain argument error it was
    H.expect_argerror("opts must be a table, not number", backup.verify, set, 5)
  end)

  -- Before: a restored folder opened with s:open_database(path) alone
  -- (no attach_database) was JET_errDatabaseNotFound with no detail.
  it("open_database of a database not attached: the detail says to attach it first", function()
    local set = w:path("full")
    w:stopped_set(set)
    local dest = w:path("dest")
    ese.restore(set, dest)
    local inst = w:open(nil, { system_path = dest, log_path = dest })
    local s = inst:begin_session()
    local path = dest .. "/app.edb"
    local e = H.expect_jet("JET_errDatabaseNotFound", s.open_database, s, path)
    assert.are.equal(path .. " is not attached to this instance: attach it first (JetAttachDatabase; in Lua "
      .. "s:attach_database(path)), or create it (JetCreateDatabase)", e.detail)
    e = H.expect_jet("JET_errDatabaseNotFound", s.detach_database, s, path)
    assert.are.equal(path .. " is not attached to this instance", e.detail)
    s:attach_database(path)
    assert.is_true(s:open_database(path):is_open())
    inst:term({ complete = true })
  end)

  -- Before: a coroutine that began a backup and was dropped without
  -- coroutine.close left it begun, and the next backup.run got "A backup
  -- is in progress" with no detail: which backup, and how to end it.
  it("Begin while a backup runs: JET_errBackupInProgress's detail says which and how to end it", function()
    local t, _, _, inst = w:table()
    t:put("k", ("v"):rep(50000))
    do   -- a coroutine dropped, never closed: its backup stays begun
      local co = coroutine.create(function()
        inst:begin_external_backup()
        local r <close> = inst:open_file(inst:get_attach_info()[1])
        r:copy_to(function() coroutine.yield() end, 8192)
      end)
      assert(coroutine.resume(co))
    end
    local e = H.expect_jet("JET_errBackupInProgress", backup.run, inst, w:path("full"))
    assert.matches("^a full or copy backup of this instance began %d+%.%d s ago and has not ended: end it first "
      .. "%(JetEndExternalBackupInstance2 with JET_bitBackupEndAbort; in Lua inst:end_external_backup{ abort = "
      .. "true }%), or stop it %(JetStopBackupInstance, inst:stop_backup%(%)%)$", e.detail)
    inst:end_external_backup({ abort = true })
    inst:begin_external_backup({ incremental = false })
    e = H.expect_jet("JET_errBackupInProgress", inst.begin_external_backup, inst, { incremental = true })
    assert.matches("^a full or copy backup of this instance began", e.detail)
    inst:end_external_backup({ abort = true })
    assert.are.equal("full", backup.run(inst, w:path("full")).kind)
  end)

  -- Before: a restore with restore_command and to_generation fetched no
  -- further than that generation, so it never saw the archive's later ones
  -- and left no edb.arc; an instance on the restored folder with the same
  -- archive_command (cp, as rclone copyto, overwrites) then shipped its new
  -- generations over the old timeline's (the archive's edb00000003.log was
  -- replaced).
  it("restore_command with to_generation leaves edb.arc: the same archive_command ships nothing over the "
     .. "old timeline", function()
    local arc, last, set_high = w:archived_full()
    assert.truthy(last >= set_high + 3, "the archive goes on after the set")
    local old = {}
    for _, name in ipairs(ese.fs.list(arc)) do old[name] = H.read_file(arc .. "/" .. name) end
    for _, to_gen in ipairs({ set_high + 1, set_high }) do   -- a fetched generation; none fetched
      local dest = w:path("dest" .. to_gen)
      local r = ese.restore(w:path("full"), dest, { restore_command = "cp " .. arc .. "/%f %p",
                                                    to_generation = to_gen })
      assert.are.equal(to_gen, r.last_generation)
      assert.is_true(H.exists(dest .. "/edb.arc"), "the restore says the stream was cut")
      local ri = w:open(nil, { system_path = dest, log_path = dest, log_file_size = 64,
                               archive_command = "cp %p " .. arc .. "/%f", archive_retry_max = 50 })
      assert.matches("JET_errArchiveTimelineConflict", ri:archive_status().last_error or "", 1, true)
      H.roll(H.open_table(ri, dest), dest, 3, "new")
      assert.is_true(H.holds(function() return ri:archive_status().shipped_generation == 0 end, 1), "nothing ships")
      ri:term({ complete = true })
      for name, data in pairs(old) do assert.are.equal(data, H.read_file(arc .. "/" .. name), name) end
    end
  end)

  -- Before: `ese demo` (and `make demo`) wrote its folders under /tmp
  -- whatever TMPDIR said; the README's blocks keep theirs under $TMPDIR.
  it("ese demo's folders go under TMPDIR (an absolute one), else /tmp", function()
    local src = 'local p = require("ese.util").temp_dir("demo-x"); print(p); require("ese").fs.rmdir(p)'
    local status, out, err = H.lua_child(src, nil, "TMPDIR=" .. H.q(w.dir .. "//"))
    assert.are.equal(0, status, err)
    assert.matches("^" .. w.dir:gsub("%p", "%%%0") .. "/ese%-demo%-x%.%x+\n$", out)
    for _, env in ipairs({ "TMPDIR=relative", "TMPDIR=", "-u TMPDIR" }) do
      status, out, err = H.lua_child(src, nil, env:sub(1, 1) == "-" and "env " .. env or env)
      assert.are.equal(0, status, err)
      assert.matches("^/tmp/ese%-demo%-x%.%x+\n$", out)
    end
    assert.truthy(H.read_file("docs/cli.md"):find("`$TMPDIR/ese-demo-backup.XXXXXX`", 1, true))
  end)

  -- Before: after the first truncating backup the log folder held
  -- edbspare1.log .. edbspare16.log (16 MiB) that neither README nor the
  -- guide's "Truncation policy" mentioned (only circular logging's did).
  it("the spare files a truncation leaves are the ones README and the guide's truncation policy name", function()
    local t, _, _, inst = w:table({ log_file_size = 64 })
    local i = 0
    while ese.file_info(w:path("edb.log")).generation < 24 do
      i = i + 1
      t:put(("k%03d"):format(i % 200), tostring(i):rep(200))
    end
    backup.run(inst, w:path("../" .. H.basename(w.dir) .. "-set"))
    finally(function() ese.fs.remove_tree(w.dir .. "-set") end)
    local spares = {}
    for name in pairs(H.ls(w.dir)) do
      local n = name:match("^edbspare(%d+)%.log$")
      if n then spares[#spares + 1] = tonumber(n) end
    end
    table.sort(spares)
    assert.are.equal(16, #spares)
    assert.are.equal(16, spares[16])
    local policy = assert(H.read_file("docs/guide.md"):match("\n### Truncation policy\n(.-)\n### "))
    local readme = H.read_file("README.md")
    for _, text in ipairs({ policy, readme }) do
      assert.truthy(text:find("`edbspare1.log` .. `edbspare16.log`", 1, true))
      assert.truthy(text:find("up to 16", 1, true))
    end
  end)

  -- Before: the guide and docs/api.md said that archive_timeout bounds
  -- what a crash loses, not that each of its rolls ships a whole log file:
  -- an application committing now and then filled its archive with 1 MiB a
  -- minute.
  it("a roll by archive_timeout ships a whole log file, as the guide and docs/api.md say", function()
    local arc = w:path("arc")
    ese.fs.mkdir_p(arc)
    local t, _, _, inst = w:table({ log_file_size = 64, archive_path = arc, archive_timeout = 1 })
    local first = inst:archive_status().shipped_generation
    t:put("k", "small")
    -- the thread rolls once the record is a second old (a bound for a hang)
    assert.truthy(H.wait_until(function() return inst:archive_status().shipped_generation > first end))
    local gen = inst:archive_status().shipped_generation
    assert.are.equal(64 * 1024, H.file_size(arc .. "/" .. H.log_name(gen)))
    inst:term({ complete = true })
    local guide = H.read_file("docs/guide.md"):gsub("%s+", " ")
    assert.truthy(guide:find("Each roll ships a whole generation file, `log_file_size` bytes (1 MiB by default) "
      .. "however few records it holds.", 1, true))
    local api = H.read_file("docs/api.md"):gsub("%s+", " ")
    assert.truthy(api:find("The generation ships whole, `log_file_size` bytes however few records it holds", 1, true))
  end)

  -- Before: README said only that a larger value "lives out of line in
  -- pages of its own"; a first application storing 3 KB documents found
  -- its database 5.5 times their size (two 8 KiB pages each).
  it("a long value takes the pages README's formula gives", function()
    local readme = H.read_file("README.md"):gsub("%s+", " ")
    assert.truthy(readme:find("`ceil(L / (page_size - 32))` data pages plus one directory page", 1, true),
      "the formula")
    local ps = 8192
    for _, len in ipairs({ 2100, 5000, 8160, 8161, 102400 }) do
      local dir = w:path("lv" .. len)
      local t, _, _, inst = w:table_at(dir, "a.edb")
      local n = 40
      t:put("empty", "")
      inst:term({ complete = true })
      local before = H.file_size(dir .. "/a.edb") // ps
      local inst2 = w:open(nil, { system_path = dir, log_path = dir })
      local t2 = H.open_table(inst2, dir, "a.edb")
      for k = 1, n do t2:put(("k%03d"):format(k), ("v"):rep(len)) end
      inst2:term({ complete = true })
      local pages = H.file_size(dir .. "/a.edb") // ps - before
      local each = (len + ps - 33) // (ps - 32) + 1
      -- the leaf's cells of 40 records fit one page: at most a few more
      assert.truthy(pages >= n * each and pages <= n * each + 3, ("%d bytes: %d pages for %d values of %d pages")
        :format(len, pages, n, each))
    end
    assert.truthy(readme:find("a 2.1 KB value takes 16 KiB of the file, a 5 KB value too, a 100 KiB one 14 pages",
      1, true))
  end)
end)
