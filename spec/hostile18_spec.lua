-- Found by hostile18 (session 18): the backup side, attacked.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

describe("restore_command whose fetch fails in the middle of the archive", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- Before: any exit status other than 0 ends the fetching as the
  -- archive's end, and the restore said nothing of it: a fetch that failed
  -- (rclone's network error, a disk that went away) gave a restore that
  -- succeeded short of the archive's end, `ese restore` printing
  -- "restored ... replayed to N" as for a whole archive; the command's own
  -- words, the one thing that tells the two apart, were thrown away.
  it("says which fetch ended the archive, with the command's status and output (Lua and ese restore)", function()
    local arc, last, need = w:archived_full()
    assert.is_true(last >= need + 3, "the archive holds generations after the set")
    local broken = need + 2     -- the archive has it: the fetch fails on the way
    local script = w:path("fetch.sh")
    H.write_file(script, ("case \"$1\" in *%08X.log) echo 'rclone: dial tcp: network is unreachable' >&2; "
      .. "exit 3;; esac\nexec cp %s/\"$1\" \"$2\"\n"):format(broken, arc))
    local cmd = "sh " .. script .. " %f %p"
    local r = backup.restore(w:path("full"), w:path("dest"), { restore_command = cmd })
    assert.are.equal(broken - 1, r.last_generation)
    assert.is_string(r.fetch_end)
    assert.matches(H.log_name(broken), r.fetch_end, 1, true)
    assert.matches("exited with status 3", r.fetch_end, 1, true)
    assert.matches("network is unreachable", r.fetch_end, 1, true)
    -- the archive's true end says so the same way (cp's own words)
    r = ese.restore(w:path("full"), w:path("dest2"), { restore_command = "cp " .. arc .. "/%f %p" })
    assert.are.equal(last, r.last_generation)
    assert.matches(H.log_name(last + 1), r.fetch_end, 1, true)
    assert.matches("No such file", r.fetch_end, 1, true)
    -- no command: no such field
    r = ese.restore(w:path("full"), w:path("dest3"), { archive_path = arc })
    assert.is_nil(r.fetch_end)
    -- to_generation ends the fetching before any command fails: none
    r = ese.restore(w:path("full"), w:path("dest4"), { restore_command = cmd, to_generation = need + 1 })
    assert.is_nil(r.fetch_end)
    -- ese restore prints it
    local code, out, err = H.lua_run("bin/ese", { "restore", w:path("full"), w:path("dest5"), "--restore-command",
      cmd })
    assert.are.equal(0, code, out .. err)
    assert.matches("replayed to " .. (broken - 1), out, 1, true)
    assert.matches("--restore-command fetched no further generation: fetching " .. H.log_name(broken), out, 1, true)
    assert.matches("network is unreachable", out, 1, true)
    code, out, err = H.lua_run("bin/ese", { "restore", w:path("full"), w:path("dest6"), "--json", "--restore-command",
      cmd })
    assert.are.equal(0, code, out .. err)
    assert.matches('"fetch_end":"fetching ' .. H.log_name(broken), out, 1, true)
  end)
end)

describe("restore_command killed by a signal", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- Before: the fetch loop took a failure for the archive's end when its
  -- message held "exited with status", a phrase it looked for anywhere in
  -- the message, the command's own output included: a fetch that crashed
  -- (SIGSEGV, the OOM killer's SIGKILL) after a wrapper printed that phrase
  -- ended the archive there, the restore a success short of the archive,
  -- where a killed fetch is JET_errMissingLogFile.
  it("is JET_errMissingLogFile whatever the command printed, dest removed again", function()
    local arc, _, need = w:archived_full()
    local script = w:path("fetch.sh")
    H.write_file(script, ("case \"$1\" in *%08X.log) echo 'rclone: child exited with status 0'; kill -KILL $$;; "
      .. "esac\nexec cp %s/\"$1\" \"$2\"\n"):format(need + 2, arc))
    local e = H.expect_jet("JET_errMissingLogFile", ese.restore, w:path("full"), w:path("dest"),
      { restore_command = "sh " .. script .. " %f %p" })
    -- SIGKILL, as the OOM killer's: under make check the shell runs with
    -- ASan preloaded, which turns a SIGSEGV into an abort (signal 6)
    assert.matches("killed by signal 9", e.detail, 1, true)
    assert.are.equal("absent", ese.fs.stat(w:path("dest")).kind)
  end)
end)

describe("backup.run whose DEST.partial is removed while it runs", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- Before: the refusal of a second run said "DEST.partial exists (left by
  -- a failed run?): remove it first".  Removed while the first run waited
  -- in on_progress, and a second run begun, the first went on writing by
  -- name into the second's folder, published it as its own set (success:
  -- a set holding both instances' databases and logs, which backup.verify
  -- refuses) and the second failed; or, on a failure, removed that folder
  -- whole, the other run's files with it.
  it("the first run fails (JET_errInvalidPath) and leaves the other's folder alone; the other's set verifies",
    function()
    local ta, _, _, a = w:table({ log_file_size = 64 })
    H.fill(ta, 100, "a")
    local bdir = w:path("b")
    assert(ese.fs.mkdir_p(bdir, 448))
    local tb, _, _, b = w:table_at(bdir, "b.edb", { log_file_size = 64 })
    H.roll(tb, bdir, 5, "b")     -- other log generations than a's: no file name in common
    local dest = w:path("set")
    local function run(inst)
      return coroutine.create(function()
        return backup.run(inst, dest, { chunk_size = 65536, on_progress = function() coroutine.yield() end })
      end)
    end
    local ca = run(a)
    assert.is_true(coroutine.resume(ca))
    local e = H.expect_jet("JET_errBackupDirectoryNotEmpty", backup.run, b, dest)
    assert.matches("still going", e.detail, 1, true)
    H.rmdir(dest .. ".partial")
    local cb = run(b)
    assert.is_true(coroutine.resume(cb))
    assert.are.equal("folder", ese.fs.stat(dest .. ".partial").kind)
    local ok, err = coroutine.resume(ca)
    while ok and coroutine.status(ca) ~= "dead" do ok, err = coroutine.resume(ca) end
    assert.is_false(ok, "the first run published the other's folder as its set")
    assert.are.equal("JET_errInvalidPath", err.name, tostring(err))
    assert.matches("removed or replaced", err.detail, 1, true)
    local rep
    repeat ok, rep = coroutine.resume(cb) until not ok or coroutine.status(cb) == "dead"
    assert.is_true(ok, tostring(rep))
    assert.are.equal(dest, rep.dir)
    local v = backup.verify(dest)
    assert.are.equal(1, #v.databases)
    assert.matches("b%.edb$", v.databases[1].name or v.databases[1])
    -- the first one again, into a folder of its own: a whole set
    backup.run(a, w:path("set-a"))
    backup.verify(w:path("set-a"))
  end)

  it("a file put into DEST.partial by another hand: the run refuses to publish it as its set", function()
    local t, _, _, inst = w:table({ log_file_size = 64 })
    H.fill(t, 100, "a")
    local dest = w:path("set")
    local planted = false
    local e = H.expect_jet("JET_errInvalidPath", backup.run, inst, dest, { on_progress = function(p)
      if p.phase == "check" and not planted then
        planted = true
        H.write_file(dest .. ".partial/notes.txt", "x")
      end
    end })
    assert.matches("notes.txt, which this run did not write", e.detail, 1, true)
    assert.are.equal("absent", ese.fs.stat(dest).kind)
    -- the folder this run made goes on failure, the planted file with it (it is the run's own folder)
    assert.are.equal("absent", ese.fs.stat(dest .. ".partial").kind)
  end)
end)

describe("backup.run_to into a sink that buffers (a file handle, ese backup DIR -)", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  local function logs(dir)
    local l = {}
    for _, n in ipairs(ese.fs.list(dir)) do if n:match("^edb%x+%.log$") then l[#l + 1] = n end end
    return l
  end

  -- Before: run_to never flushed its sink: the archive's last bytes (the
  -- manifest, tar's end blocks) stayed in the file handle's buffer while
  -- the truncation deleted the logs; `ese backup DIR - > FILE` flushed
  -- stdout after it and ignored the result: with the file's last write
  -- failing (a full disk; here a file size limit), it exited 0 saying "full
  -- backup ... into stdout", the archive cut ("tar: Unexpected EOF"), the
  -- logs truncated.
  it("is flushed before the truncation; a flush that fails is JET_errDiskIO and no log is deleted", function()
    local t, _, _, inst = w:filled_table(200, "a")
    local before = logs(w.dir)
    assert.is_true(#before > 0)
    local sink = { n = 0 }
    function sink:write(s) self.n = self.n + #s; return self end
    function sink.flush() return nil, "No space left on device" end
    local e = H.expect_jet("JET_errDiskIO", backup.run_to, inst, sink, {})
    assert.matches("No space left on device", e.detail, 1, true)
    for _, n in ipairs(before) do assert.are.equal("file", ese.fs.stat(w:path(n)).kind, n) end
    -- a flush that works: called once, with the logs still there; then they go
    H.fill(t, 10, "b")
    local flushes, present = 0, nil
    function sink:flush()
      flushes = flushes + 1
      present = ese.fs.stat(w:path(before[1])).kind
      return self
    end
    backup.run_to(inst, sink, {})
    assert.are.equal(1, flushes)
    assert.are.equal("file", present)
    assert.are.equal("absent", ese.fs.stat(w:path(before[1])).kind)
  end)

  it("ese backup DIR - into a file whose last 1024 bytes cannot be written: exit 1, the logs kept", function()
    local dir = w:path("inst")
    assert(ese.fs.mkdir_p(dir, 448))
    local t, _, _, inst = w:table_at(dir, "app.edb", { log_file_size = 64 })
    H.fill(t, 300, "a")
    inst:term({ complete = true })
    -- a copy of the folder for a backup that goes well, to learn the size
    local function folder(name) return H.copy_dir(dir, w:path(name)) end
    -- the file size limit in bytes (prlimit), SIGXFSZ ignored: the write
    -- past it fails with EFBIG, as one on a full disk fails with ENOSPC
    local function ese_backup(src, out, limit)
      local cmd = ("LUA_PATH=%s LUA_CPATH=%s sh -c %s sh %s lua5.4 bin/ese backup %s - > %s 2>/dev/null"):format(
        H.q(package.path), H.q(package.cpath), H.q("trap '' XFSZ; exec \"$@\""),
        limit and ("prlimit --fsize=" .. limit) or "", H.q(src), H.q(out))
      local ok, _, code = os.execute(cmd)
      return ok and 0 or code
    end
    local whole = w:path("whole.tar")
    assert.are.equal(0, ese_backup(folder("a"), whole))
    local size = H.file_size(whole)
    -- the last KiB (or more) of the archive cannot be written
    local src = folder("b")
    local kept = logs(src)
    assert.is_true(#kept > 0)
    local code = ese_backup(src, w:path("cut.tar"), size - 1024)   -- the end blocks
    assert.are.equal(1, code)
    for _, n in ipairs(kept) do assert.are.equal("file", ese.fs.stat(src .. "/" .. n).kind, n) end
  end)
end)
