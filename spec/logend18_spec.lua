-- A closed log generation cut at a record boundary (session 18, hostile18).
-- Before: a closed generation had no end of its own (the next one's header
-- links only to its creation time), so one whose bytes were zeroed from a
-- record boundary to the end of the file (a preallocating downloader, a
-- sparse copy, file-system damage) read as a whole, shorter generation:
-- restore (archive_path, restore_command, live_log_path), recovery,
-- `ese check` and `ese logs` took it, and a restore succeeded with the
-- commits of the cut tail dropped while later generations' commits were
-- replayed.  Now a roll closes a generation with an end record (LR_END, log
-- feature bit 5) and a generation with a successor must end in it.  Every
-- case here failed before.
local ese = require "ese"
local backup = require "ese.backup"
local logchain = require "ese.logchain"
local H = require "support.helpers"
local R = require "support.log_records"

local E = require "support.endmark"
local LR_END = E.LR_END
local roll, txn, offsets, zero_from = E.roll, E.txn, E.offsets, E.zero_from

describe("a closed log generation cut at a record boundary", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- hostile18's history: t and u at "old" in a full set (w/full); then
  -- generation G holds a commit of u (U1) and one of t (NEWT), G + 1 one of
  -- u (U2), G + 2 one of u (U3), G + 3 none; every closed generation
  -- archived in w/arc (with archive), the instance ended (complete: a clean
  -- term).  Returns G.
  local function history(archive, complete)
    local extra = { log_file_size = 64 }
    if archive then
      extra.archive_path, extra.archive_timeout, extra.archive_retry_max = w:path("arc"), 0, 50
    end
    local t, s, db, inst = w:table(extra)
    local u = s:create_table(db, "u")
    for i = 1, 5 do t:put("k" .. i, "old"); u:put("k" .. i, "old") end
    backup.run(inst, w:path("full"))
    roll(inst)
    local g = ese.file_info(w:path("edb.log")).generation
    txn(s, u, "U1")
    txn(s, t, "NEWT")
    roll(inst)
    txn(s, u, "U2")
    roll(inst)
    txn(s, u, "U3")
    roll(inst)
    local last = ese.file_info(w:path("edb.log")).generation - 1
    if archive then
      assert(H.wait_until(function() return inst:archive_status().shipped_generation >= last end), "not shipped")
    end
    inst:term({ complete = complete })
    return g
  end

  local function values(dir)
    local inst = w:open(nil, { system_path = dir, log_path = dir, log_file_size = 64 })
    local s = inst:begin_session()
    s:attach_database(dir .. "/app.edb")
    local db = s:open_database(dir .. "/app.edb")
    local tv, uv = s:open_table(db, "t"):get("k1"), s:open_table(db, "u"):get("k1")
    inst:term()
    return tv, uv
  end

  it("closes every archived generation with its end record (offset, count of records before it)", function()
    local g = history(true, true)
    for gen = g, g + 2 do
      local data = assert(H.read_file(w:path("arc/" .. H.log_name(gen))))
      assert.are.equal(63, string.unpack("<I4", data, 57), "feature bits 0 .. 5")
      local n, fin, count = 0, nil, nil
      R.each(w:path("arc"), function(ty, payload, off, name)
        if name ~= H.log_name(gen) then return end
        if ty == LR_END then
          fin = off
          assert.are.equal(off, string.unpack("<I4", payload, 1))
          count = string.unpack("<I4", payload, 5)
        elseif not fin then
          n = n + 1
        end
      end)
      assert.is_not_nil(fin, H.log_name(gen) .. " has no end record")
      assert.are.equal(n, count)
    end
  end)

  it("hostile18: restore from archive_path refuses the cut generation, nothing dropped silently", function()
    local g = history(true, true)
    local arc = w:path("arc")
    -- a restore of the set alone: the old state of dest, for a restore with overwrite (ST_CHECK)
    backup.restore({ w:path("full") }, w:path("dest"))
    local before = H.read_file(w:path("dest/app.edb"))
    local cut = offsets(arc, g, "NEWT")
    assert.is_not_nil(cut)
    zero_from(arc .. "/" .. H.log_name(g), cut)
    local e = H.expect_jet("JET_errLogCorruptDuringHardRestore", backup.restore, { w:path("full") }, w:path("r"),
                           { archive_path = arc })
    assert.matches(H.log_name(g), e.detail, 1, true)
    assert.matches("lacks its end record", e.detail, 1, true)
    -- refused in its check, before dest's old state goes
    e = H.expect_jet("JET_errLogCorruptDuringHardRestore", backup.restore, { w:path("full") }, w:path("dest"),
                     { archive_path = arc, overwrite = true })
    assert.matches(H.log_name(g), e.detail, 1, true)
    assert.are.equal(before, H.read_file(w:path("dest/app.edb")))
    assert.are.same({ "old", "old" }, { values(w:path("dest")) })
    -- `ese logs --verify` (logchain) and ese.file_info with verify
    local res = logchain.check_dir(arc, true)
    assert.is_false(res.ok)
    local found
    for _, p in ipairs(res.problems) do
      if p.text:find(H.log_name(g), 1, true) and p.text:find("end record", 1, true) then found = p end
    end
    assert.is_not_nil(found, "ese logs names the cut generation")
    assert.are.equal("JET_errLogFileCorrupt", found.name)
    -- a numbered file is closed: its verify fails, its error saying end_record = false (endrule18)
    e = H.expect_jet("JET_errLogFileCorrupt", ese.file_info, arc .. "/" .. H.log_name(g), true)
    assert.is_false(e.end_record)
    assert.is_true(ese.file_info(arc .. "/" .. H.log_name(g + 1), true).end_record)
  end)

  it("the end record missing in the middle of three generations: live_log_path and restore_command refuse",
    function()
      local g = history(true, true)
      local arc = w:path("arc")
      -- only the end record of G + 1 zeroed: its commits all there, its end gone
      local _, fin = offsets(arc, g + 1, "U2")
      assert.is_not_nil(fin)
      zero_from(arc .. "/" .. H.log_name(g + 1), fin)
      zero_from(w:path(H.log_name(g + 1)), fin)
      local e = H.expect_jet("JET_errLogCorruptDuringHardRestore", backup.restore, { w:path("full") },
                             w:path("r1"), { live_log_path = w.dir })
      assert.matches(H.log_name(g + 1), e.detail, 1, true)
      e = H.expect_jet("JET_errLogCorruptDuringHardRestore", backup.restore, { w:path("full") }, w:path("r2"),
                       { restore_command = "cp " .. arc .. "/%f %p" })
      assert.matches(H.log_name(g + 1), e.detail, 1, true)
      -- the last generation of an archive is held to the rule too (endrule18): a numbered file was
      -- closed by the roll that named it, so a restore to G + 1 from the archive (its last file G + 1)
      -- refuses it as well
      local upto = w:path("upto")
      ese.fs.mkdir(upto)
      for gen = 1, g + 1 do
        local src = arc .. "/" .. H.log_name(gen)
        if H.exists(src) then H.write_file(upto .. "/" .. H.log_name(gen), H.read_file(src)) end
      end
      e = H.expect_jet("JET_errLogCorruptDuringHardRestore", backup.restore, { w:path("full") }, w:path("r3"),
                       { archive_path = upto })
      assert.matches(H.log_name(g + 1), e.detail, 1, true)
    end)

  -- A child killed after hostile18's history in dir (a crash: the checkpoint stays where init put it,
  -- before G; the rolls are the log's own, from puts into a third table): prints G.
  local function crashed(dir)
    local out = H.killed_child([[
      local ese = require "ese"
      local dir = arg[1]
      local inst = ese.create_instance("crashed18", { system_path = dir, log_path = dir, log_file_size = 64 })
      inst:init()
      local s = inst:begin_session()
      local db = s:create_database(dir .. "/app.edb")
      local t, u, v = s:create_table(db, "t"), s:create_table(db, "u"), s:create_table(db, "v")
      local function gen() return ese.file_info(dir .. "/edb.log").generation end
      local n = 0
      local function roll()
        local g = gen()
        while gen() == g do n = n + 1; v:put(("r%07d"):format(n), ("r"):rep(1500)) end
      end
      local function txn(tb, val)
        s:begin_transaction()
        for i = 1, 5 do tb:put("k" .. i, val) end
        s:commit_transaction()
      end
      txn(t, "old"); txn(u, "old")
      roll()
      print("G", gen())
      txn(u, "U1"); txn(t, "NEWT")
      roll()
      txn(u, "U2")
      roll()
      io.stdout:flush()
      kill_self()
      print("not killed")
    ]], { dir })
    return tonumber(out:match("G%s+(%d+)"))
  end

  it("recovery of an instance whose closed generation was cut: JET_errLogFileCorrupt naming it", function()
    local g = crashed(w.dir)
    assert.is_not_nil(g)
    -- the puts that roll (table v) follow NEWT in G: its tail is cut from NEWT's commit on
    zero_from(w:path(H.log_name(g)), (offsets(w.dir, g, "NEWT")))
    local inst = w:create(nil, { log_file_size = 64 })
    local e = H.expect_jet("JET_errLogFileCorrupt", inst.init, inst)
    assert.matches(H.log_name(g), e.detail, 1, true)
    -- not cut: recovery brings every commit back
    local w2 = H.world()
    finally(function() w2:cleanup() end)
    local g2 = crashed(w2.dir)
    local _, fin = offsets(w2.dir, g2, "NEWT")
    assert.is_not_nil(fin, "G ends in its end record")
    local i2 = w2:open(nil, { log_file_size = 64 })
    local s2 = i2:begin_session()
    s2:attach_database(w2:path("app.edb"))
    local db2 = s2:open_database(w2:path("app.edb"))
    assert.are.same({ "NEWT", "U2" }, { s2:open_table(db2, "t"):get("k1"), s2:open_table(db2, "u"):get("k1") })
  end)

  it("a B.log closed by a roll that a crash cut before its renames is rolled at once, never appended to",
    function()
      local g = crashed(w.dir)
      -- the crash between the roll's last write and its renames: generation G + 1 complete (its end
      -- record written and synced) still named edb.log, no later generation
      local cur = ese.file_info(w:path("edb.log")).generation
      assert.are.equal(g + 2, cur)
      assert(os.remove(w:path("edb.log")))
      assert(os.rename(w:path(H.log_name(g + 1)), w:path("edb.log")))
      local inst = w:open(nil, { log_file_size = 64 })
      assert.are.equal(g + 2, ese.file_info(w:path("edb.log")).generation, "rolled at init")
      local t = H.open_table(inst, w.dir)
      t:put("after", "crash")
      inst:term()
      -- G + 1 archived as it was: one end record, nothing after it
      local n, fin = 0, nil
      R.each(w.dir, function(ty, _, off, name)
        if name == H.log_name(g + 1) and ty == LR_END then n, fin = n + 1, off end
      end)
      assert.are.equal(1, n)
      local data = assert(H.read_file(w:path(H.log_name(g + 1))))
      assert.is_true(data:sub(fin + 25) == ("\0"):rep(#data - fin - 24))
      assert.are.same({ "NEWT", "U2" }, { values(w.dir) })
      assert.is_true(logchain.check_dir(w.dir, true).ok)
    end)

  it("a restore closes the last generation it replays: a live B.log's copy, a point-in-time cut", function()
    local t, s, _, inst = w:table({ log_file_size = 64 })
    t:put("k", "old")
    backup.run(inst, w:path("full"))
    roll(inst)
    t:put("a", "1")
    local mid = H.time_mark()
    s:begin_transaction()
    t:put("b", "2")
    s:commit_transaction()
    inst:term()
    -- the live edb.log copied (no end record in the live folder) and the stream going on after it
    backup.restore({ w:path("full") }, w:path("r1"), { live_log_path = w.dir })
    local res = logchain.check_dir(w:path("r1"), true)
    assert.is_true(res.ok, res.problems[1] and res.problems[1].text)
    -- cut at a point in time inside the last generation
    local r = backup.restore({ w:path("full") }, w:path("r2"), { live_log_path = w.dir, to_time = mid })
    assert.is_true(r.stopped_at_time)
    res = logchain.check_dir(w:path("r2"), true)
    assert.is_true(res.ok, res.problems[1] and res.problems[1].text)
    local i2 = w:open(nil, { system_path = w:path("r2"), log_path = w:path("r2"), log_file_size = 64 })
    assert.are.same({ a = "1", k = "old" }, H.contents(H.open_table(i2, w:path("r2"))))
  end)
end)
