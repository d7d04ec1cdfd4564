-- The log archive (continuous backup): archive_path, archive_command,
-- archive_timeout, archive_max_backlog and inst:archive_status()
-- (docs/api.md "The log archive", docs/guide.md "Continuous backup").
local ese = require "ese"
local H = require "support.helpers"

-- Instance parameters of an archiving instance on dir (64 KiB logs, no
-- timeout roll unless extra sets one; retries every 50 ms).
local function params(dir, extra)
  local p = { log_file_size = 64, archive_timeout = 0, archive_retry_max = 50 }
  for k, v in pairs(extra or {}) do p[k] = v end
  return H.params(dir, p)
end

-- Table "t" on a new archiving instance of world w's folder.
local function archiving(w, extra)
  local inst = w:track(ese.create_instance(H.name("arc"), params(w.dir, extra)))
  inst:init()
  local s = inst:begin_session()
  local path = w:path("app.edb")
  local db
  if H.exists(path) then
    s:attach_database(path)
    db = s:open_database(path)
    return s:open_table(db, "t"), s, db, inst
  end
  db = s:create_database(path)
  return s:create_table(db, "t"), s, db, inst
end

-- A world (cleaned up when the test ends) with table "t" on an instance
-- archiving into its folder "arc" (extra: more parameters): w, arc, t, inst.
local function archive_world(extra)
  local w = H.world()
  finally(function() w:cleanup() end)
  local arc = w:path("arc")
  local p = { archive_path = arc }
  for k, v in pairs(extra or {}) do p[k] = v end
  local t, _, _, inst = archiving(w, p)
  return w, arc, t, inst
end

-- Polls inst:archive_status() until pred(status) holds (H.wait_until:
-- secs, default 60 s, at most); returns the last status and whether pred
-- held.
local function wait_status(inst, pred, secs)
  local st
  local ok = H.wait_until(function()
    st = inst:archive_status()
    return pred(st)
  end, secs)
  return st, ok == true
end

local function current_gen(dir)
  return ese.file_info(dir .. "/edb.log").generation
end

-- Every generation below the current one, shipped.
local function all_shipped(dir)
  local cur = current_gen(dir)
  return function(st) return st.pending == 0 and st.shipped_generation == cur - 1 end
end

-- Asserts that the archive folder holds generations lo..hi, each with the
-- same bytes as the log folder's.
local function assert_archived(dir, arc, lo, hi)
  for g = lo, hi do
    local name = H.log_name(g)
    local want = H.read_file(dir .. "/" .. name)
    assert.is_truthy(want, name .. " in the log folder")
    assert.are.equal(#want, #(H.read_file(arc .. "/" .. name) or ""), name .. " archived whole")
    assert.is_true(want == H.read_file(arc .. "/" .. name), name .. " archived byte for byte")
  end
end

describe("log archive to a folder", function()
  it("ships every closed generation byte for byte, and only closed ones", function()
    local w, arc, t, inst = archive_world()
    H.roll(t, w.dir, 3)
    local cur = current_gen(w.dir)
    local st, ok = wait_status(inst, all_shipped(w.dir))
    assert.is_true(ok, "not shipped: " .. tostring(st.last_error))
    assert.are.equal(cur - 1, st.shipped_generation)
    assert.are.equal(0, st.pending_bytes)
    assert.is_false(st.backlog)
    assert.is_nil(st.last_error)
    assert_archived(w.dir, arc, 1, cur - 1)
    assert.is_nil(H.read_file(arc .. "/edb.log"), "the current generation is not closed")
    assert.is_nil(H.read_file(arc .. "/" .. H.log_name(cur)))
    for name in pairs(H.ls(arc)) do assert.is_nil(name:match("%.part$"), name) end
    assert.is_true(H.exists(w:path("edb.arc")), "the progress is durable in edb.arc")
  end)

  it("a full set plus the archive (archive_path of the restore) restore every commit of the closed generations; "
     .. "to_time restores exactly the commits before a moment", function()
    local w, arc, t, inst = archive_world()
    H.fill(t, 20, "before")
    local set = w:path("set")
    require("ese.backup").run(inst, set)
    H.roll(t, w.dir, 3, "after")
    local moment = H.time_mark()               -- after every "after" commit, before every "later" one
    H.roll(t, w.dir, 2, "later")
    assert.is_true(select(2, wait_status(inst, all_shipped(w.dir))))
    local keys = {}
    for k in t:pairs() do keys[#keys + 1] = k end
    inst:term()
    -- the live folder is lost; the current generation's commits with it
    local cur = current_gen(w.dir)
    local dest = w:path("restored")
    ese.restore(set, dest, { archive_path = arc })
    local r = w:track(ese.create_instance(H.name("r"), H.params(dest)))
    r:init()
    local rt = H.open_table(r, dest)
    local n = {}
    for k in rt:pairs() do
      local p = k:match("^(%a+)")
      n[p] = (n[p] or 0) + 1
      if p ~= "before" then
        assert.are.equal(("%s%07d"):format(p, n[p]), k, "the archived commits, in order, without a gap")
      end
    end
    r:term({ complete = true })
    assert.are.equal(20, n.before)
    local total = #keys - 20
    local got = (n.after or 0) + (n.later or 0)
    -- only the commits of the generation that never closed are missing
    assert.is_true(got < total and total - got <= 40, got .. " of " .. total)
    assert.is_true(H.exists(arc .. "/" .. H.log_name(cur - 1)))
    -- to the moment between the two phases: every "after", no "later"
    local pit = w:path("pit")
    local rep = ese.restore(set, pit, { archive_path = arc, to_time = moment })
    assert.is_true(rep.reached)
    local r2 = w:track(ese.create_instance(H.name("r2"), H.params(pit)))
    r2:init()
    local pt = H.open_table(r2, pit)
    local m = { after = 0, later = 0 }
    for k in pt:pairs() do
      local p = k:match("^(%a+)")
      if m[p] then m[p] = m[p] + 1 end
    end
    assert.are.equal(n.after, m.after)
    assert.are.equal(0, m.later)
  end)

  it("term, then init resumes from the first unshipped generation (progress kept in edb.arc)", function()
    local w, arc, t, inst = archive_world()
    H.roll(t, w.dir, 2)
    local first_run = current_gen(w.dir) - 1
    assert.is_true(select(2, wait_status(inst, all_shipped(w.dir))))
    -- the archive stops shipping (a regular file where its folder was)
    inst:term()
    os.execute("rm -rf " .. H.q(arc))
    H.write_file(arc, "not a folder")
    local _
    t, _, _, inst = archiving(w, { archive_path = arc })
    H.roll(t, w.dir, 2)
    local st = wait_status(inst, function(s) return s.failures > 0 end)
    assert.are.equal(first_run, st.shipped_generation, "the first run's progress is kept")
    assert.is_true(st.pending >= 2, "pending " .. st.pending)
    assert.matches("not a folder", st.last_error)
    local pending_hi = current_gen(w.dir) - 1
    inst:term()
    -- the next run ships what is pending, and nothing the first run shipped
    os.remove(arc)
    inst = select(4, archiving(w, { archive_path = arc }))
    st = wait_status(inst, function(s) return s.shipped_generation >= pending_hi end)
    assert.are.equal(0, st.pending)
    assert_archived(w.dir, arc, first_run + 1, pending_hi)
    assert.is_nil(H.read_file(arc .. "/" .. H.log_name(1)), "generation 1 was shipped by the first run")
  end)

  it("edb.arc: 32 bytes naming the first unshipped generation; a damaged one (it may have held a restore's mark) "
     .. "and one ahead of the log ship nothing into a folder holding this stream's files; removed, every "
     .. "generation ships again (the same bytes: shipped at once); said in last_error", function()
    local w, arc, t, inst = archive_world()
    H.roll(t, w.dir, 2)
    local cur = current_gen(w.dir)
    assert.is_true(select(2, wait_status(inst, all_shipped(w.dir))))
    inst:term()
    local b = H.read_file(w:path("edb.arc"))
    assert.are.equal(32, #b)
    assert.are.equal("ESEARC\0\1", b:sub(5, 12))
    assert.are.equal(cur, string.unpack("<I4", b, 29), "the first generation not shipped")
    assert.are.equal(string.unpack("<I4", b, 1), H.crc32c(b, 5, 32))
    -- damaged (hostile18r): it may have been a restore's mark, so nothing
    -- ships into this folder, which holds the stream's files; removed (as
    -- the error says for a folder never restored), everything in the log
    -- folder ships again (the same bytes: shipped at once)
    H.write_file(w:path("edb.arc"), b:sub(1, 28) .. string.pack("<I4", 1) .. b:sub(33))
    local ls0 = H.ls(arc)
    inst = select(4, archiving(w, { archive_path = arc }))
    local st = inst:archive_status()
    assert.matches("JET_errArchiveTimelineConflict: nothing ships there", st.last_error, 1, true)
    assert.matches(w:path("edb.arc") .. " is damaged", st.last_error, 1, true)
    assert.matches("remove it if this folder was never restored", st.last_error, 1, true)
    assert.are.equal(0, st.shipped_generation)
    assert.are.same(ls0, H.ls(arc))
    inst:term()
    assert(os.remove(w:path("edb.arc")))
    inst = select(4, archiving(w, { archive_path = arc }))
    assert.is_true(select(2, wait_status(inst, all_shipped(w.dir))))
    inst:term()
    -- ahead of the log (as after a restore into this folder)
    b = H.read_file(w:path("edb.arc"))
    b = b:sub(1, 28) .. string.pack("<I4", 0x100)
    H.write_file(w:path("edb.arc"), string.pack("<I4", H.crc32c(b, 5, 32)) .. b:sub(5))
    -- (session 18) into a folder holding this stream's files: nothing ships
    -- there (the log went back: its next generations may be another
    -- timeline's, under numbers the folder's own instance archives next)
    local _
    local before = H.ls(arc)
    t, _, _, inst = archiving(w, { archive_path = arc })
    st = inst:archive_status()
    assert.matches("JET_errArchiveTimelineConflict", st.last_error, 1, true)
    assert.matches("is ahead of the log (generation 256", st.last_error, 1, true)
    assert.matches("nothing ships there", st.last_error, 1, true)
    H.roll(t, w.dir, 1)
    assert.is_true(H.holds(function() return inst:archive_status().shipped_generation == 0 end, 1), "nothing ships")
    st = inst:archive_status()
    assert.are.equal(0, st.shipped_generation)
    assert.are.same(before, H.ls(arc))
    inst:term()
    -- a new folder: every generation in the log folder ships there
    local arc2 = w:path("arc2")
    t, _, _, inst = archiving(w, { archive_path = arc2 })
    assert.is_nil(inst:archive_status().last_error)
    H.roll(t, w.dir, 1)
    assert.is_true(select(2, wait_status(inst, all_shipped(w.dir))))
    assert_archived(w.dir, arc2, 1, current_gen(w.dir) - 1)
  end)

  it("an archived file of the same name with other bytes is never overwritten: reported, retried; the same "
     .. "bytes count as shipped", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local arc = w:path("arc")
    os.execute("mkdir -p " .. H.q(arc))
    H.write_file(arc .. "/" .. H.log_name(1), "someone else's file")
    local t, _, _, inst = archiving(w, { archive_path = arc })
    H.roll(t, w.dir, 2)
    local st, ok = wait_status(inst, function(s) return s.failures >= 2 end)
    assert.is_true(ok)
    assert.matches("exists with other content", st.last_error)
    assert.are.equal(0, st.shipped_generation)
    assert.is_true(st.pending >= 2)
    assert.are.equal("someone else's file", H.read_file(arc .. "/" .. H.log_name(1)))
    -- the same bytes: idempotent (a ship a crash cut after its rename)
    H.write_file(arc .. "/" .. H.log_name(1), H.read_file(w.dir .. "/" .. H.log_name(1)))
    st, ok = wait_status(inst, all_shipped(w.dir))
    assert.is_true(ok, tostring(st.last_error))
    assert.are.equal(0, st.failures)
    assert.matches("exists with other content", st.last_error, 1, true)   -- kept as the last failure
    assert_archived(w.dir, arc, 1, current_gen(w.dir) - 1)
  end)

  it("circular logging never deletes a generation the archive has not shipped", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local arc = w:path("arc")
    H.write_file(arc, "not a folder")     -- every ship fails
    local t, _, _, inst = archiving(w, { archive_path = arc, circular_log = true, checkpoint_depth = 0 })
    H.roll(t, w.dir, 5)
    local cur = current_gen(w.dir)
    for g = 1, cur - 1 do
      assert.is_true(H.exists(w.dir .. "/" .. H.log_name(g)), H.log_name(g) .. " kept: it is not shipped")
    end
    local st = inst:archive_status()
    assert.are.equal(cur - 1, st.pending)
    -- once shipped, the next checkpoint deletes them
    os.remove(arc)
    assert.is_true(select(2, wait_status(inst, all_shipped(w.dir))))
    assert_archived(w.dir, arc, 1, cur - 1)
    H.roll(t, w.dir, 1)
    assert.is_false(H.exists(w.dir .. "/" .. H.log_name(1)), "shipped and behind the checkpoint: deleted")
  end)

  it("circular logging without an archive deletes the same generations (the control)", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local t = w:table({ log_file_size = 64, circular_log = true, checkpoint_depth = 0 })
    H.roll(t, w.dir, 5)
    assert.is_false(H.exists(w.dir .. "/" .. H.log_name(1)))
  end)

  it("a backup's truncation keeps the generations the archive has not shipped", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local arc = w:path("arc")
    H.write_file(arc, "not a folder")
    local t, _, _, inst = archiving(w, { archive_path = arc })
    H.roll(t, w.dir, 3)
    local before = current_gen(w.dir)
    local set = w:path("set")
    local bk = H.backup(inst, set, { truncate = true })
    assert.are.same({}, bk.truncated, "nothing to truncate: nothing is shipped")
    for g = 1, before - 1 do
      assert.is_true(H.exists(w.dir .. "/" .. H.log_name(g)), H.log_name(g) .. " kept: it is not shipped")
    end
    os.remove(arc)
    assert.is_true(select(2, wait_status(inst, all_shipped(w.dir))))
    assert_archived(w.dir, arc, 1, current_gen(w.dir) - 1)
  end)
end)

describe("log archive through a command", function()
  -- A shell script in dir: ship.sh SRC NAME copies SRC to dir/out/NAME;
  -- body runs first (it may exit or hang), with $n the call's number.
  local function script(dir, body)
    local path = dir .. "/ship.sh"
    H.write_file(path, ([[
set -e
n=$(cat %s/calls 2>/dev/null || echo 0); n=$((n+1)); echo $n > %s/calls
%s
mkdir -p %s/out
cp "$1" %s/out/"$2".tmp && mv %s/out/"$2".tmp %s/out/"$2"
]]):format(dir, dir, body, dir, dir, dir, dir))
    return "sh " .. path .. " %p %f"
  end

  it("a failing command (exit 1) is reported and retried with backoff until it succeeds", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local cmd = script(w.dir, [[if [ $n -le 3 ]; then echo "remote unreachable" >&2; exit 1; fi]])
    local t, _, _, inst = archiving(w, { archive_command = cmd })
    H.roll(t, w.dir, 1)
    local st, ok = wait_status(inst, all_shipped(w.dir))
    assert.is_true(ok, tostring(st.last_error))
    assert.matches("exited with status 1: remote unreachable", st.last_error, 1, true)
    assert.are.equal(0, st.failures)
    assert.is_true(tonumber(H.read_file(w.dir .. "/calls")) >= 4)
    assert_archived(w.dir, w.dir .. "/out", 1, current_gen(w.dir) - 1)
  end)

  it("a hanging command is killed after archive_command_timeout and retried", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local cmd = script(w.dir, [[if [ $n -eq 1 ]; then sleep 60; fi]])
    local t, _, _, inst = archiving(w, { archive_command = cmd, archive_command_timeout = 1 })
    H.roll(t, w.dir, 1)
    local st, ok = wait_status(inst, all_shipped(w.dir), 45)   -- before the hanging command's 60 s
    assert.is_true(ok, tostring(st.last_error))
    assert.matches("archive_command_timeout (1 s): killed", st.last_error, 1, true)
    assert_archived(w.dir, w.dir .. "/out", 1, current_gen(w.dir) - 1)
  end)

  it("term waits a bounded time for a command that hangs; the generation stays pending for the next run", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local cmd = script(w.dir, [[if [ $n -eq 1 ]; then sleep 60; fi]])
    local t, _, _, inst = archiving(w, { archive_command = cmd, archive_command_timeout = 0 })
    H.roll(t, w.dir, 1)
    assert.is_true(H.wait_for(w.dir .. "/calls"))
    local t0 = os.time()
    inst:term()
    -- its grace is 5 s; well before the command's 60 s (8 s, the bound
    -- before, is a measure a loaded machine can miss)
    assert.is_true(os.time() - t0 <= 30, "term took " .. (os.time() - t0) .. " s")
    assert.is_nil(H.read_file(w.dir .. "/out/" .. H.log_name(1)))
    local _, _, _, inst2 = archiving(w, { archive_command = cmd })
    assert.is_true(select(2, wait_status(inst2, all_shipped(w.dir))))
    assert_archived(w.dir, w.dir .. "/out", 1, current_gen(w.dir) - 1)
  end)

  it("splits on blanks, keeps a path with blanks as one argument, refuses an unknown %-escape", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local dir = w:path("with space")
    os.execute("mkdir -p " .. H.q(dir))
    local inst = w:track(ese.create_instance(H.name("arc"), params(dir, {
      archive_command = "cp %p " .. w.dir .. "/%f.copy" })))
    inst:init()
    local s = inst:begin_session()
    local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
    H.roll(t, dir, 1)
    assert.is_true(select(2, wait_status(inst, all_shipped(dir))), tostring(inst:archive_status().last_error))
    assert.are.equal(H.read_file(dir .. "/" .. H.log_name(1)), H.read_file(w.dir .. "/" .. H.log_name(1) .. ".copy"))
    inst:term()
    local i2 = w:track(ese.create_instance(H.name("arc"), params(dir, { archive_command = "cp %p %x" })))
    i2:init()
    local t2 = select(1, H.open_table(i2, dir))
    H.roll(t2, dir, 1)
    local st = wait_status(i2, function(x) return x.failures > 0 end)
    assert.matches("unknown %-escape", st.last_error, 1, true)
    assert.is_true(st.pending >= 1)
  end)

  it("with rclone (remote of type local from the environment): every closed generation arrives", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local live, cwd = w:path("live"), w:path("cwd")
    os.execute("mkdir -p " .. H.q(live) .. " " .. H.q(cwd))
    -- the child runs in cwd, where the local remote's relative path lua-ese/ lands
    local function absolute(paths)
      local out = {}
      for p in paths:gmatch("[^;]+") do
        out[#out + 1] = (p:sub(1, 1) == "/" or p == "" ) and p or (os.getenv("PWD") .. "/" .. p)
      end
      return table.concat(out, ";")
    end
    local child = w:path("child.lua")
    H.write_file(child, [[
      local ese = require "ese"
      local dir = arg[1]
      local inst = ese.create_instance("rclone", { system_path = dir, log_path = dir, log_file_size = 64,
        archive_timeout = 0, archive_retry_max = 200,
        archive_command = "rclone copyto %p archive:lua-ese/%f" })
      inst:init()
      local s = inst:begin_session()
      local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
      local function gen() return ese.file_info(dir .. "/edb.log").generation end
      local target, i = gen() + 3, 0
      while gen() < target do i = i + 1; t:put(("k%07d"):format(i), ("r"):rep(1500)) end
      local st
      local limit = ese.fs.now() + 120          -- a bound for a hang: rclone starts slowly on a loaded machine
      repeat
        st = inst:archive_status()
        if st.shipped_generation == gen() - 1 then break end
        os.execute("sleep 0.05")
      until ese.fs.now() > limit
      print("SHIPPED " .. st.shipped_generation .. " " .. tostring(st.last_error))
      inst:term({ complete = true })
    ]])
    local p = assert(io.popen(("cd %s && RCLONE_CONFIG_ARCHIVE_TYPE=local LUA_PATH=%s LUA_CPATH=%s lua5.4 %s %s 2>&1")
      :format(H.q(cwd), H.q(absolute(package.path)), H.q(absolute(package.cpath)), H.q(child), H.q(live))))
    local out = p:read("a")
    p:close()
    local shipped = tonumber(out:match("SHIPPED (%d+)"))
    assert.is_truthy(shipped, out)
    assert.is_true(shipped >= 3, out)
    assert_archived(live, cwd .. "/lua-ese", 1, shipped)
  end)
end)

describe("archive_timeout", function()
  it("an idle instance with a commit in its current generation rolls it, so that the commit is archived", function()
    local w, arc, t, inst = archive_world({ archive_timeout = 1 })
    wait_status(inst, function(s) return s.shipped_generation >= 1 end)   -- init's own record
    local gen = current_gen(w.dir)
    t:put("the commit", "to archive")
    local st = wait_status(inst, function(s) return s.shipped_generation >= gen end)
    assert.are.equal(gen, st.shipped_generation, "the commit's generation rolled and shipped")
    assert.are.equal(gen + 1, current_gen(w.dir))
    assert.is_truthy(H.read_file(arc .. "/" .. H.log_name(gen)):find("the commit", 1, true))
    -- idle with nothing new: no further roll
    os.execute("sleep 1.5")
    assert.are.equal(gen + 1, current_gen(w.dir))
  end)

  it("is off at 0", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local t = archiving(w, { archive_path = w:path("arc"), archive_timeout = 0 })
    local gen = current_gen(w.dir)
    t:put("k", "v")
    os.execute("sleep 1.5")
    assert.are.equal(gen, current_gen(w.dir))
  end)
end)

describe("archive_max_backlog", function()
  it("past it, archive_status says so and every commit returns JET_wrnArchiveBacklog; nothing is dropped", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local arc = w:path("arc")
    H.write_file(arc, "not a folder")
    local t, s, _, inst = archiving(w, { archive_path = arc, archive_max_backlog = 100 * 1024 })
    assert.is_nil(t:put("first", "v"), "no backlog yet: no warning")
    H.roll(t, w.dir, 2)
    local st = inst:archive_status()
    assert.are.equal(2, st.pending)
    assert.are.equal(2 * 64 * 1024, st.pending_bytes)
    assert.is_true(st.backlog)
    local wrn = t:put("k", "v")
    assert.are.equal(ese.Error, getmetatable(wrn))
    assert.are.equal("JET_wrnArchiveBacklog", wrn.name)
    assert.are.equal(3100, wrn.code)
    assert.are.equal("put", wrn.op)
    assert.are.equal("v", t:get("k"), "the commit happened")
    s:begin_transaction()
    t:put("k2", "v2")
    assert.are.equal("JET_wrnArchiveBacklog", s:commit_transaction().name)
    assert.are.equal("JET_wrnArchiveBacklog", t:delete("k2").name)
    -- the archive catches up: no more warning, nothing was lost
    os.remove(arc)
    st = wait_status(inst, all_shipped(w.dir))
    assert.is_false(st.backlog)
    assert.is_nil(t:put("k3", "v3"))
    assert_archived(w.dir, arc, 1, current_gen(w.dir) - 1)
  end)
end)

describe("one archiver per archive folder and base name", function()
  -- Before (session 15): nothing held the archive folder: a second
  -- instance of base name edb (another process, or this one) archiving
  -- into it was initialized and shipped its generations there at once,
  -- each writing the other's NAME.part and finding the other's files
  -- under its own numbers.  Now init takes the folder's B.lck (as it
  -- takes the log folder's) before its recovery.
  local child = [[
    local ese = require "ese"
    local dir, arc, set = arg[1], arg[2], arg[3]
    local inst = ese.create_instance("second", { system_path = dir, log_path = dir, archive_path = arc,
                                                 log_file_size = 64, archive_timeout = 0 })
    local ok, e = pcall(inst.init, inst)
    if not ok then
      io.write("INIT ", tostring(e.name), " ", tostring(e.detail), "\n")
      -- nor can a restore of this process replace the archive (its B.lck)
      ok, e = pcall(ese.restore, { set }, arc, { overwrite = true })
      io.write("RESTORE ", tostring(ok), " ", tostring(e and e.name), "\n")
      return
    end
    local s = inst:begin_session()
    local db = s:create_database(dir .. "/b.edb")
    local t = s:create_table(db, "t")
    for i = 1, 60 do t:put("k" .. i, ("z"):rep(3000)) end
    t:close(); db:close(); s:end_session()
    inst:term({ complete = true })
    io.write("ARCHIVED\n")
  ]]

  it("a second one (another process, or this one) is JET_errFileAccessDenied at init, the archive untouched; "
     .. "after the first terms, it archives", function()
    local w, arc, t, inst = archive_world()
    H.roll(t, w.dir, 2)
    local st, ok = wait_status(inst, all_shipped(w.dir))
    assert.is_true(ok, "not shipped: " .. tostring(st.last_error))
    require("ese.backup").run(inst, w:path("set"))
    local before = H.ls(arc)
    local code, out, err = H.lua_child(child, { w:path("other"), arc, w:path("set") })
    assert.are.equal(0, code, err)
    assert.matches("^INIT JET_errFileAccessDenied .*log archive folder", out)
    assert.matches("RESTORE false JET_errFileAccessDenied", out, 1, true)
    assert.are.same(before, H.ls(arc), "the second process wrote in the archive")
    assert.is_false(H.exists(w:path("other/edb.log")), "refused before its recovery")
    local same = w:create(nil, { system_path = w:path("third"), log_path = w:path("third"), archive_path = arc })
    local e = H.expect_jet("JET_errFileAccessDenied", same.init, same)
    assert.matches("log archive folder", e.detail, 1, true)
    assert.are.same(before, H.ls(arc))
    local other_base = w:create(nil, { system_path = w:path("fourth"), log_path = w:path("fourth"),
                                       archive_path = arc, base_name = "abc" })
    other_base:init()   -- another base name: other file names, no clash
    other_base:term()
    t:close()
    inst:term({ complete = true })
    -- the first's log stream, continued by the other process: its new
    -- generations go to the archive
    code, out, err = H.lua_child(child, { w.dir, arc })
    assert.are.equal(0, code, err)
    assert.matches("ARCHIVED", out)
    local new = 0
    for name in pairs(H.ls(arc)) do if not before[name] and name:match("^edb%x+%.log$") then new = new + 1 end end
    assert.is_true(new > 0, "the second instance archived nothing")
  end)
end)

-- The start of a child that moves its working folder (lfs.chdir): its
-- package paths made absolute first (busted's are relative), lfs and ese
-- loaded.
local CHDIR_CHILD = [[
  local lfs = require "lfs"
  local here = assert(lfs.currentdir())
  local function absolute(paths)
    return (paths:gsub("[^;]+", function(p) return p:sub(1, 1) == "/" and p or here .. "/" .. p end))
  end
  package.path, package.cpath = absolute(package.path), absolute(package.cpath)
  local ese = require "ese"
]]

describe("a restore given relative paths, the process moved to another working folder between its steps", function()
  -- Before (session 16): the restore kept its folders as given, so a chdir
  -- in on_progress (or anywhere between two steps) sent the steps' files
  -- elsewhere (or failed them).  Now Begin makes them absolute.
  it("copies and replays into the destination named at Begin; the new working folder stays empty", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local top, other = w:path("top"), w:path("other")
    ese.fs.mkdir(top)
    ese.fs.mkdir(other)
    local t, s, _, inst = w:filled_table(300, "r")
    H.roll(t, w.dir, 2)
    require("ese.backup").run(inst, top .. "/set")
    local want = t:count()
    t:close()
    s:end_session()
    inst:term({ complete = true })
    local code, out, err = H.lua_child(CHDIR_CHILD .. [[
      local top, other = arg[1], arg[2]
      assert(lfs.chdir(top))
      local calls = 0
      local rep = ese.restore({ "set" }, "dest", { on_progress = function()
        calls = calls + 1
        assert(lfs.chdir(other))
      end })
      io.write("STEPS ", rep.steps, " CALLS ", calls, "\n")
    ]], { top, other })
    assert.are.equal(0, code, out .. err)
    assert.is_true(tonumber(out:match("STEPS (%d+)")) > 1, out)
    assert.are.same({}, H.ls(other), "nothing in the working folder after the chdir")
    local r = w:track(ese.create_instance(H.name("rel"), H.params(top .. "/dest")))
    r:init()
    assert.are.equal(want, H.open_table(r, top .. "/dest"):count())
  end)
end)

describe("ese.backup given relative folders, the process moved to another working folder by on_progress", function()
  -- Before (session 16): backup.run, backup.restore and backup.expire kept
  -- their folders as given across their progress callbacks: after a chdir
  -- there a run wrote (or failed to write) the rest of its set elsewhere, a
  -- restore verified one set and restored another, an expire renamed and
  -- deleted the same-named sets of the new working folder.
  it("backup.run writes, backup.restore verifies and restores, backup.expire deletes in the folders named at "
     .. "the call; a same-named set in the new working folder is untouched", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local top, other = w:path("top"), w:path("other")
    ese.fs.mkdir_p(top .. "/sets")
    ese.fs.mkdir_p(other .. "/sets/full1")
    H.write_file(other .. "/sets/full1/keep", "decoy")
    local code, out, err = H.lua_child(CHDIR_CHILD .. [[
      local backup = require "ese.backup"
      local top, other = arg[1], arg[2]
      local function away() assert(lfs.chdir(other)) end
      local inst = ese.create_instance("relbackup", { system_path = top .. "/db", log_path = top .. "/db",
                                                      log_file_size = 64 })
      inst:init()
      local s = inst:begin_session()
      local t = s:create_table(s:create_database(top .. "/db/app.edb"), "t")
      for i = 1, 200 do t:put(("k%05d"):format(i), ("v"):rep(500)) end
      assert(lfs.chdir(top))
      backup.run(inst, "sets/full1", { on_progress = away })
      assert(lfs.chdir(top))
      backup.run(inst, "sets/full2")
      t:close()
      s:end_session()
      inst:term({ complete = true })
      backup.restore("sets/full1", "restored", { on_progress = away })
      assert(lfs.chdir(top))
      local plan = backup.expire("sets", { keep_full = 1, dry_run = false, on_progress = away })
      io.write("DELETED ", #plan.deleted, "\n")
    ]], { top, other })
    assert.are.equal(0, code, out .. err)
    assert.are.same({ full2 = true }, H.ls(top .. "/sets"))
    assert.are.same({ sets = true }, H.ls(other))
    assert.are.same({ full1 = true }, H.ls(other .. "/sets"))
    assert.are.equal("decoy", H.read_file(other .. "/sets/full1/keep"))
    local r = w:track(ese.create_instance(H.name("rel"), H.params(top .. "/restored")))
    r:init()
    assert.are.equal(200, H.open_table(r, top .. "/restored"):count())
  end)
end)

describe("an archive folder that init could not lock", function()
  -- Before (session 16): when the folder was not there at init (nor could
  -- be made), init went on without its B.lck and the archive shipped there
  -- later without it, beside another archiver of the same base name.
  it("is locked before the first ship into it: while another archiver holds it nothing is shipped (last_error "
     .. "says so); once it is free, everything is", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local arc, link = w:path("arc"), w:path("arclink")
    assert.is_true(os.execute("ln -s " .. H.q(arc) .. " " .. H.q(link)) == true)   -- dangling: no folder
    local t, _, _, inst = archiving(w, { archive_path = link })
    H.roll(t, w.dir, 2)
    local st = wait_status(inst, function(s) return s.failures > 0 end)
    assert.are.equal(0, st.shipped_generation)
    -- another instance of base name edb archiving into the folder the link
    -- now reaches: it makes the folder and holds its edb.lck
    local other = w:track(ese.create_instance(H.name("other"), params(w:path("other"), { archive_path = arc })))
    other:init()
    local failures = st.failures
    st = wait_status(inst, function(s) return s.failures > failures + 1 or s.shipped_generation > 0 end)
    assert.matches("edb.lck", st.last_error, 1, true)
    assert.matches("held by another instance or process", st.last_error, 1, true)
    assert.are.equal(0, st.shipped_generation)
    assert.are.same({ ["edb.lck"] = true }, H.ls(arc), "shipped beside the other archiver")
    other:term()
    st = wait_status(inst, all_shipped(w.dir))
    assert.are.equal(0, st.pending, st.last_error)
    assert_archived(w.dir, arc, 1, current_gen(w.dir) - 1)
  end)
end)

describe("archive parameters", function()
  it("are read back, refuse bad values, both a folder and a command at once, and the log folder as the archive",
     function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local inst = w:create(nil, { archive_path = w:path("arc"), archive_command = "true" })
    local e = H.expect_jet("JET_errInvalidParameter", inst.init, inst)
    assert.matches("both set", e.detail)
    assert.is_false(H.exists(w:path("edb.log")), "refused before recovery made anything")
    local same = w:create(nil, { archive_path = w.dir })
    e = H.expect_jet("JET_errInvalidParameter", same.init, same)
    assert.matches("is the log folder", e.detail)
    local i2 = w:create()
    H.expect_jet("JET_errInvalidParameter", i2.set_params, i2, { archive_retry_max = 0 })
    H.expect_jet("JET_errInvalidParameter", i2.set_params, i2, { archive_command_timeout = 86401 })
    H.expect_argerror("string expected", i2.set_params, i2, { archive_path = 1 })
    i2:set_params({ archive_path = "" })   -- "" is none
    i2:init()
    assert.is_nil(i2:archive_status(), "no archive configured")
    H.expect_jet("JET_errAlreadyInitialized", i2.set_params, i2, { archive_timeout = 5 })
    i2:term()
    H.expect_jet("JET_errInvalidInstance", i2.archive_status, i2)
    local i3 = w:create()
    H.expect_jet("JET_errNotInitialized", i3.archive_status, i3)
  end)
end)

describe("relative folder parameters, the process moved to another working folder after init", function()
  -- Before (session 16): system_path, log_path and archive_path were used
  -- as given: after a chdir the first roll failed (JET_errFileNotFound:
  -- "logs" was looked for in the new working folder), and a checkpoint or
  -- a ship would have gone there.  Now init makes them absolute.
  it("C harness rel_paths: rolls, checkpoints and the archive go to the folders named at init; the working "
     .. "folder stays empty; soft recovery finds every record; the parameters read back absolute", function()
    H.expect_harness("rel_paths", "", "rel_paths: ok")
  end)

  it("Lua (lfs.chdir in a child): rolls, checkpoints, the archive and backup.run go to the folders named at "
     .. "init; a restore from the set and the archive has every record", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local top, other = w:path("top"), w:path("other")
    ese.fs.mkdir(top)
    ese.fs.mkdir(other)
    local code, out, err = H.lua_child(CHDIR_CHILD .. [[
      local backup = require "ese.backup"
      local top, other = arg[1], arg[2]
      assert(lfs.chdir(top))
      local inst = ese.create_instance("relpaths", { system_path = "sys", log_path = "logs", archive_path = "arc",
        log_file_size = 64, archive_timeout = 0, archive_retry_max = 50, checkpoint_depth = 0 })
      inst:init()
      local s = inst:begin_session()
      local t = s:create_table(s:create_database("app.edb"), "t")
      assert(lfs.chdir(other))
      for i = 1, 600 do t:put(("k%05d"):format(i), ("v"):rep(1000)) end
      local cur = ese.file_info(top .. "/logs/edb.log").generation
      local st = inst:archive_status()
      for _ = 1, 3000 do
        if st.shipped_generation >= cur - 1 then break end
        os.execute("sleep 0.02")
        st = inst:archive_status()
      end
      assert(st.shipped_generation >= cur - 1, st.last_error)
      backup.run(inst, top .. "/set")
      t:close()
      s:end_session()
      inst:term({ complete = true })
      io.write("CLOSED ", cur - 1, "\n")
    ]], { top, other })
    assert.are.equal(0, code, out .. err)
    local closed = tonumber(out:match("CLOSED (%d+)"))
    assert.is_true(closed >= 3, out)
    assert.are.same({}, H.ls(other), "nothing in the working folder after the chdir")
    assert.is_true(H.exists(top .. "/logs/edb.log"))
    assert.is_true(H.exists(top .. "/sys/edb.chk"))
    for g = 1, closed do
      assert.is_true(H.exists(top .. "/arc/" .. H.log_name(g)), H.log_name(g) .. " archived")
    end
    require("ese.backup").verify(top .. "/set")
    local dest = w:path("dest")
    ese.restore({ top .. "/set" }, dest, { archive_path = top .. "/arc" })
    local inst = w:track(ese.create_instance(H.name("rel"), H.params(dest)))
    inst:init()
    assert.are.equal(600, H.open_table(inst, dest):count())
  end)
end)

describe("log archive harness (C, threads)", function()
  it("writer threads commit (backlog warnings, archive_timeout rolls) while the archive ships to a folder or "
     .. "through cp; a term with generations pending, then init, ships them; every archived file equals the "
     .. "log folder's", function()
    H.expect_harness("archive_race", "2", "archive_race: ok 2 rounds")
  end)

  it("JetTerm while the archive's thread is between a ship and its wait (no archive_timeout: an untimed "
     .. "wait) returns: the stop raised in that moment ends the thread (it waited forever before)", function()
    H.expect_harness("archive_stop", "20", "archive_stop: ok held, 20 rounds")
  end)
end)
