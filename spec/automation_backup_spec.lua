-- ese.backup: run, run_to, verify, restore (issue 4).
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

local PAGE = 8192

-- n records "<prefix>00001".. committed in transactions of `batch`.
local function commit(s, t, prefix, from, to, batch)
  batch = batch or 50
  local i = from
  while i <= to do
    s:begin_transaction()
    for k = i, math.min(to, i + batch - 1) do t:put(("%s%05d"):format(prefix, k), ("v"):rep(64)) end
    s:commit_transaction()
    i = i + batch
  end
end

-- The set of keys of table "t" of <dir>/app.edb, read on a new instance.
local restored_keys = H.restored_keys
local count_prefix = H.count_prefix
local flip_byte = H.flip_byte

local function mode_of(path)
  local p = io.popen("stat -c %a '" .. path .. "'")
  local m = p:read("l")
  p:close()
  return m
end

local function read_json(path)
  local text = H.read_file(path)
  assert.is_string(text, path)
  return (require("cjson").decode(text))
end

describe("ese.backup", function()
  local w, t, s, inst, _

  before_each(function()
    w = H.world()
    t, s, _, inst = w:table({ log_file_size = 128 })
    commit(s, t, "a", 1, 400)
  end)
  after_each(function() w:cleanup() end)

  describe("run", function()
    it("A14: full, writes, incremental, then restore of both: every record before each cut-off is back",
       function()
      local full = w:path("sets/full")
      local r1 = backup.run(inst, full)
      assert.are.equal("full", r1.kind)
      assert.are.equal(full, r1.dir)
      assert.is_true(r1.files >= 2 and r1.bytes > 0 and r1.seconds >= 0)
      commit(s, t, "b", 1, 400)
      local inc = w:path("sets/inc1")
      local r2 = backup.run(inst, inc, { incremental = true })
      assert.are.equal("incremental", r2.kind)
      assert.is_true(r2.gen_low <= r1.gen_high + 1)
      commit(s, t, "c", 1, 50)                 -- after the last cut-off
      -- the set: folder 0700, files 0600, no partial folder left
      assert.are.equal("700", mode_of(full))
      assert.are.equal("600", mode_of(full .. "/app.edb"))
      assert.are.equal("600", mode_of(full .. "/manifest.json"))
      assert.is_nil(H.ls(w:path("sets"))["full.partial"])
      -- the manifest: base names, sizes, checksums, signatures, range
      local m = read_json(full .. "/manifest.json")
      assert.are.equal("full", m.kind)
      assert.are.equal(PAGE, m.page_size)
      assert.are.equal(32, #m.log_signature)
      assert.are.equal(r1.gen_low, m.gen_low)
      for _, e in ipairs(m.files) do
        assert.is_nil(e.name:find("/"), e.name)
        assert.are.equal(H.file_size(full .. "/" .. e.name), e.size)
        assert.matches("^%x+$", e.sha256)
        assert.are.equal(64, #e.sha256)
      end
      assert.are.equal("app.edb", m.files[1].name)
      assert.are.equal(32, #m.files[1].db_signature)
      -- restore the full alone: only the a records
      local k1 = restored_keys(w, (backup.restore(full, w:path("r1")).dest))
      assert.are.equal(400, count_prefix(k1, "a"))
      assert.are.equal(0, count_prefix(k1, "b"))
      -- full + incremental: a and b, not c
      local rep = backup.restore({ full, inc }, w:path("r2"))
      assert.are.equal("full+incremental", rep.verify.kind)
      local k2 = restored_keys(w, w:path("r2"))
      assert.are.equal(400, count_prefix(k2, "a"))
      assert.are.equal(400, count_prefix(k2, "b"))
      assert.are.equal(0, count_prefix(k2, "c"))
    end)

    it("point-in-time: to_generation stops the replay at the full set's end", function()
      local full = w:path("full")
      local r1 = backup.run(inst, full)
      commit(s, t, "b", 1, 200)
      local inc = w:path("inc")
      backup.run(inst, inc, { incremental = true })
      backup.restore({ full, inc }, w:path("pit"), { to_generation = r1.gen_high })
      local k = restored_keys(w, w:path("pit"))
      assert.are.equal(400, count_prefix(k, "a"))
      assert.are.equal(0, count_prefix(k, "b"))
    end)

    it("copy = true is not truncated and never enables an incremental: JET_errMissingFullBackup", function()
      local r = backup.run(inst, w:path("copy"), { copy = true })
      assert.are.equal("copy", r.kind)
      assert.is_false(r.manifest.truncated)
      backup.verify(w:path("copy"))
      H.expect_jet("JET_errMissingFullBackup", backup.run, inst, w:path("inc"), { incremental = true })
      assert.is_nil(H.ls(w.dir)["inc"])
      assert.is_nil(H.ls(w.dir)["inc.partial"])
      -- the failed run ended its backup
      inst:begin_external_backup()
      inst:end_external_backup({ abort = true })
    end)

    it("an incremental with truncate = false is a differential", function()
      backup.run(inst, w:path("full"))
      commit(s, t, "b", 1, 50)
      local r = backup.run(inst, w:path("diff"), { incremental = true, truncate = false })
      assert.are.equal("differential", r.kind)
      local v = backup.verify({ w:path("full"), w:path("diff") })
      assert.are.equal("full+differential", v.kind)
    end)

    it("refuses bad options and a destination that is not empty", function()
      H.expect_jet("JET_errInvalidParameter", backup.run, inst, w:path("x"), { copy = true, incremental = true })
      H.expect_jet("JET_errInvalidParameter", backup.run, inst, w:path("x"), { copy = true, truncate = true })
      -- a misspelt option is an error, not ignored (incremantal ran a full backup that truncated the logs)
      H.expect_argerror("backup.run: unknown option 'incremantal'", backup.run, inst, w:path("x"),
        { incremantal = true })
      H.expect_argerror("backup.run_to: unknown option 'perfix'", backup.run_to, inst, function() end,
        { perfix = "p" })
      H.expect_argerror("backup.run: unknown option 'prefix'", backup.run, inst, w:path("x"), { prefix = "p" })
      H.expect_argerror("backup.verify: unknown option 'on_progres'", backup.verify, w:path("x"),
        { on_progres = print })
      H.expect_argerror("backup.restore: unknown option 'to_generaton'", backup.restore, { w:path("x") },
        w:path("y"), { to_generaton = 3 })
      assert.is_false(H.exists(w:path("x")))
      assert.is_false(H.exists(w:path("y")))
      assert(os.execute("mkdir -p '" .. w:path("busy") .. "' && touch '" .. w:path("busy/keep") .. "'"))
      local e = H.expect_jet("JET_errBackupDirectoryNotEmpty", backup.run, inst, w:path("busy"))
      assert.are.equal("run", e.op)
      assert.is_true(H.exists(w:path("busy/keep")))
      -- an empty folder is fine
      assert(os.execute("mkdir -p '" .. w:path("empty") .. "'"))
      backup.run(inst, w:path("empty"), { copy = true })
      assert.is_true(H.exists(w:path("empty/manifest.json")))
      -- nothing of those failures is left running
      inst:begin_external_backup()
      inst:end_external_backup({ abort = true })
    end)
  end)

  -- A database created (or attached) inside the first replayed generation
  -- is known to the restore only by the LR_CREATEDB / LR_ATTACH record.
  it("a set whose first log is the generation that created the database restores", function()
    local w2 = H.world()
    local t2, s2, _, inst2 = w2:table()          -- 256 KiB logs: no roll below
    commit(s2, t2, "a", 1, 20)
    backup.run(inst2, w2:path("full"))
    backup.restore(w2:path("full"), w2:path("r"))
    assert.are.equal(20, count_prefix(restored_keys(w2, w2:path("r")), "a"))
    w2:cleanup()
  end)

  describe("progress", function()
    it("a callback that yields: the backup runs in a coroutine while the same state commits", function()
      local dest = w:path("co")
      local phases = {}
      local co = coroutine.create(function()
        return backup.run(inst, dest, {
          chunk_size = PAGE,
          on_progress = function(p)
            phases[p.phase] = (phases[p.phase] or 0) + 1
            assert.is_true(p.done <= p.total)
            coroutine.yield(p.phase)
          end,
        })
      end)
      local during_db, during_log, report = 0, 0, nil   -- luacheck: ignore 311
      while true do
        local ok, v = coroutine.resume(co)
        assert(ok, tostring(v))
        if coroutine.status(co) == "dead" then report = v; break end
        -- between resumes: commit to the same instance
        if v == "database" then
          during_db = during_db + 1
          commit(s, t, "d", during_db, during_db, 1)
        elseif v == "log" then
          during_log = during_log + 1
          commit(s, t, "l", during_log, during_log, 1)
        end
      end
      assert.are.equal("full", report.kind)
      assert.is_true(during_db > 5, "the database streamed in several chunks")
      assert.is_true(phases.log > 0)
      -- the log truncation (in parts) and End come in resumes of their own
      -- (issue 13); End in steps: a header page a step, each page's sync
      -- on an engine thread, then the tear-down (one database: 3 steps)
      assert.is_true(phases.truncate >= 1)
      assert.is_true(phases["end"] >= 3, phases["end"] .. " end callbacks")
      backup.restore(dest, w:path("r"))
      local k = restored_keys(w, w:path("r"))
      assert.are.equal(400, count_prefix(k, "a"))
      -- committed before GetLogInfo (while the database streamed): back
      assert.are.equal(during_db, count_prefix(k, "d"))
      -- committed after the cut-off (while the logs streamed): not back
      assert.are.equal(0, count_prefix(k, "l"))
    end)

    it("A04: a callback that raises: the error comes out of run, the backup is ended, no folder remains", function()
      local calls = 0
      local ok, e = pcall(backup.run, inst, w:path("boom"), {
        on_progress = function(p)
          calls = calls + 1
          if p.phase == "log" then error("stop here") end
        end,
      })
      assert.is_false(ok)
      assert.matches("stop here", e)
      assert.is_true(calls > 1)
      assert.is_nil(H.ls(w.dir)["boom"])
      assert.is_nil(H.ls(w.dir)["boom.partial"])
      inst:begin_external_backup()             -- the failed one was ended
      inst:end_external_backup({ abort = true })
      -- the error value is passed through untouched (a table stays a table)
      local obj = { reason = "mine" }
      local ok2, e2 = pcall(backup.run, inst, w:path("boom"), { on_progress = function() error(obj) end })
      assert.is_false(ok2)
      assert.are.equal(obj, e2)
      -- and a full after it works and enables incrementals as usual
      backup.run(inst, w:path("ok"))
      backup.run(inst, w:path("ok-inc"), { incremental = true })
    end)

    it("stop_backup from the callback: JET_errBackupAbortByServer comes out, nothing remains", function()
      local e = H.expect_jet("JET_errBackupAbortByServer", backup.run, inst, w:path("stopped"), {
        chunk_size = PAGE,
        on_progress = function(p) if p.done > PAGE then inst:stop_backup() end end,
      })
      assert.is_string(e.op)
      assert.is_nil(H.ls(w.dir)["stopped.partial"])
      assert.is_nil(H.ls(w.dir)["stopped"])
      inst:begin_external_backup()
      inst:end_external_backup({ abort = true })
    end)
  end)

  describe("verify", function()
    local full

    before_each(function()
      full = w:path("full")
      backup.run(inst, full)
    end)

    it("returns a report for a good set", function()
      local v = backup.verify(full)
      assert.are.equal("full", v.kind)
      assert.are.same({ "app.edb" }, v.databases)
      assert.are.equal(1, #v.sets)
      assert.is_true(v.files >= 2 and v.bytes > 0)
      assert.is_true(v.gen_high >= v.gen_low)
    end)

    it("a symbolic link to a set (a 'latest' link) is the set, as for ese.restore; a file is not a folder",
      function()
      -- verify called a link "folder ... not found" although ese.restore accepts it
      assert(os.execute("ln -s full '" .. w:path("latest") .. "'"))
      assert.are.equal("full", backup.verify(w:path("latest")).kind)
      local r = backup.restore(w:path("latest"), w:path("r"))
      assert.are.equal("full", r.verify.kind)
      -- a dangling link and a file: JET_errFileNotFound, saying what is there
      assert(os.execute("ln -s nowhere '" .. w:path("dangling") .. "'"))
      local e = H.expect_jet("JET_errFileNotFound", backup.verify, w:path("dangling"))
      assert.matches("not found", e.detail)
      e = H.expect_jet("JET_errFileNotFound", backup.verify, full .. "/app.edb")
      assert.matches("app%.edb is a file, not a folder", e.detail)
    end)

    it("a flipped byte in a data page: JET_errReadVerifyFailure", function()
      flip_byte(full .. "/app.edb", 3 * PAGE + 200)
      local e = H.expect_jet("JET_errReadVerifyFailure", backup.verify, full)
      assert.matches("app%.edb", e.detail)
      -- and restore refuses it before writing anything
      H.expect_jet("JET_errReadVerifyFailure", backup.restore, full, w:path("r"))
      assert.is_nil(H.ls(w.dir)["r"])
    end)

    it("a flipped byte in a log's unused tail (no record covers it): the SHA-256 catches it", function()
      local m = read_json(full .. "/manifest.json")
      local log = m.files[#m.files].name
      local size = H.file_size(full .. "/" .. log)
      flip_byte(full .. "/" .. log, size - 10)
      H.expect_jet("JET_errLogReadVerifyFailure", backup.verify, full)
    end)

    it("a missing log: JET_errMissingRestoreLogFiles", function()
      local m = read_json(full .. "/manifest.json")
      os.remove(full .. "/" .. m.files[#m.files].name)
      H.expect_jet("JET_errMissingRestoreLogFiles", backup.verify, full)
    end)

    it("a missing database: JET_errFileNotFound", function()
      os.remove(full .. "/app.edb")
      H.expect_jet("JET_errFileNotFound", backup.verify, full)
    end)

    it("a foreign log of another instance's backup: JET_errGivenLogFileHasBadSignature", function()
      local w2 = H.world()
      finally(function() w2:cleanup() end)
      local t2, s2, _, inst2 = w2:table({ log_file_size = 128 })
      commit(s2, t2, "z", 1, 400)
      local other = w2:path("other")
      backup.run(inst2, other)
      -- put the other set's logs, renamed to this set's log names
      local m = read_json(full .. "/manifest.json")
      local m2 = read_json(other .. "/manifest.json")
      local theirs = m2.files[#m2.files].name
      local mine = m.files[#m.files].name
      H.write_file(full .. "/" .. mine, H.read_file(other .. "/" .. theirs))
      H.expect_jet("JET_errGivenLogFileHasBadSignature", backup.verify, full)
    end)

    it("an extra file a restore would pick up, not in the manifest: refused", function()
      local m = read_json(full .. "/manifest.json")
      local last = m.files[#m.files]
      local extra = ("edb%08X.log"):format(last.generation + 1)
      H.write_file(full .. "/" .. extra, H.read_file(full .. "/" .. last.name))
      H.expect_jet("JET_errInvalidBackup", backup.verify, full)
    end)

    it("a name with ../ or / in the manifest: JET_errInvalidPath", function()
      local text = H.read_file(full .. "/manifest.json")
      for _, bad in ipairs({ "../x", "/etc/passwd", "a/b", ".." }) do
        local tampered = text:gsub('"name": "app%.edb"', '"name": "' .. bad:gsub("/", "\\/") .. '"')
        H.write_file(full .. "/manifest.json", tampered)
        local e = H.expect_jet("JET_errInvalidPath", backup.verify, full)
        assert.are.equal("verify", e.op)
        H.expect_jet("JET_errInvalidPath", backup.restore, full, w:path("r"))
      end
      assert.is_nil(H.ls(w.dir)["r"])
    end)

    it("a folder still named .partial is not a set; without manifest it is checked from its files "
       .. "(issue 8 item 10: manifest = false); an empty folder is no set", function()
      os.remove(full .. "/manifest.json")
      local r = backup.verify(full)
      assert.is_false(r.manifest)
      assert.is_false(r.sets[1].manifest)
      assert.are.equal("full", r.kind)
      ese.fs.mkdir(w:path("empty"))
      H.expect_jet("JET_errFileNotFound", backup.verify, w:path("empty"))
      backup.run(inst, w:path("b2"), { copy = true })
      assert(os.rename(w:path("b2"), w:path("b2.partial")))
      H.expect_jet("JET_errInvalidBackup", backup.verify, w:path("b2.partial"))
      H.expect_jet("JET_errFileNotFound", backup.verify, w:path("nowhere"))
    end)

    it("a size that differs from the manifest", function()
      local f = assert(io.open(full .. "/app.edb", "ab"))
      f:write(("\0"):rep(PAGE))
      f:close()
      H.expect_jet("JET_errReadVerifyFailure", backup.verify, full)
    end)

    it("chains: a gap, a chain that starts with an incremental, two fulls", function()
      commit(s, t, "b", 1, 300)
      backup.run(inst, w:path("i1"), { incremental = true })
      commit(s, t, "c", 1, 300)
      backup.run(inst, w:path("i2"), { incremental = true })
      local v = backup.verify({ full, w:path("i1"), w:path("i2") })
      assert.are.equal("full+incremental+incremental", v.kind)
      assert.are.equal(3, #v.sets)
      H.expect_jet("JET_errMissingRestoreLogFiles", backup.verify, { full, w:path("i2") })
      H.expect_jet("JET_errMissingFullBackup", backup.verify, { w:path("i1"), w:path("i2") })
      backup.run(inst, w:path("full2"))
      H.expect_jet("JET_errInvalidBackupSequence", backup.verify, { full, w:path("full2") })
      -- the whole chain restores
      backup.restore({ full, w:path("i1"), w:path("i2") }, w:path("r"))
      local k = restored_keys(w, w:path("r"))
      assert.are.equal(400, count_prefix(k, "a"))
      assert.are.equal(300, count_prefix(k, "b"))
      assert.are.equal(300, count_prefix(k, "c"))
    end)

    it("reports progress per file", function()
      local seen = {}
      backup.verify(full, { on_progress = function(p) seen[#seen + 1] = p end })
      assert.is_true(#seen >= 3)
      assert.are.equal("verify", seen[1].phase)
      assert.are.equal(seen[#seen].total, seen[#seen].done)
    end)
  end)

  describe("run_to", function()
    it("streams one tar into a function sink; untar, verify and restore it", function()
      local parts = {}
      local r = backup.run_to(inst, function(piece) parts[#parts + 1] = piece end)
      assert.are.equal("full", r.kind)
      local data = table.concat(parts)
      assert.are.equal(r.archive_bytes, #data)
      assert.are.equal(0, #data % 512)
      H.write_file(w:path("set.tar"), data)
      -- the listing: the files, manifest.json last
      local p = io.popen("tar -tf '" .. w:path("set.tar") .. "'")
      local names = {}
      for l in p:lines() do names[#names + 1] = l end
      assert.is_true(p:close())
      assert.are.equal("app.edb", names[1])
      assert.are.equal("manifest.json", names[#names])
      assert.are.equal(r.files + 1, #names)
      local x = w:path("untarred")
      assert(os.execute("mkdir -p '" .. x .. "' && tar -xf '" .. w:path("set.tar") .. "' -C '" .. x .. "'"))
      backup.verify(x)
      backup.restore(x, w:path("r"))
      assert.are.equal(400, count_prefix(restored_keys(w, w:path("r")), "a"))
    end)

    it("with a prefix folder and a file sink; an incremental follows it", function()
      local f = assert(io.open(w:path("full.tar"), "wb"))
      backup.run_to(inst, f, { prefix = "full" })
      f:close()
      commit(s, t, "b", 1, 100)
      local g = assert(io.open(w:path("inc.tar"), "wb"))
      local r = backup.run_to(inst, g, { prefix = "inc", incremental = true })
      g:close()
      assert.are.equal("incremental", r.kind)
      assert(os.execute("cd '" .. w.dir .. "' && tar -xf full.tar && tar -xf inc.tar"))
      assert.are.equal("700", mode_of(w:path("full")))
      backup.restore({ w:path("full"), w:path("inc") }, w:path("r"))
      local k = restored_keys(w, w:path("r"))
      assert.are.equal(100, count_prefix(k, "b"))
    end)

    it("a sink that yields, inside a coroutine", function()
      local parts = {}
      local co = coroutine.wrap(function()
        return backup.run_to(inst, function(piece)
          parts[#parts + 1] = piece
          coroutine.yield(false)
        end, { chunk_size = 4 * PAGE })
      end)
      local n, r = 0, nil
      repeat
        local v = co()
        n = n + 1
        if v ~= false then r = v end
      until r
      assert.is_true(n > 4)
      assert.are.equal(r.archive_bytes, #table.concat(parts))
    end)

    it("a sink that fails: the error comes out, the backup is ended, no manifest was sent", function()
      local sent = {}
      local e = H.expect_jet("JET_errDiskIO", backup.run_to, inst, function(piece)
        if #sent >= 3 then return nil, "disk full" end
        sent[#sent + 1] = piece
        return true
      end)
      assert.matches("disk full", e.detail)
      assert.is_nil(table.concat(sent):find("lua-ese backup", 1, true))
      inst:begin_external_backup()
      inst:end_external_backup({ abort = true })
    end)
  end)

  describe("tar_header", function()
    it("writes a ustar header that tar reads", function()
      local h = backup.tar_header("a.txt", 5, 384, 1700000000, "0")
      assert.are.equal(512, #h)
      assert.are.equal("ustar\0", h:sub(258, 263))
      local tar = h .. "hello" .. ("\0"):rep(507) .. ("\0"):rep(1024)
      H.write_file(w:path("h.tar"), tar)
      local p = io.popen("tar -xOf '" .. w:path("h.tar") .. "' a.txt")
      assert.are.equal("hello", p:read("a"))
      assert.is_true(p:close())
    end)
  end)
end)
