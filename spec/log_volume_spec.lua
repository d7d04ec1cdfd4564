-- What the log costs (issue 9, step S4 of docs/design/log-records.md): a
-- changed page goes to the log as its difference from the page before,
-- never whole, and a full backup starts at a checkpoint taken at Begin, so
-- its set carries the log of the commits made during it.  Log bytes are
-- read off the files as `make bench` reads them (bench/bench_common.lua:
-- the end of the records in each generation file).
local H = require "support.helpers"
local ese = require "ese"
local backup = require "ese.backup"
local common = dofile("bench/bench_common.lua")(ese.fs)

describe("log volume", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- A table of n records (16-byte keys, 100-byte values) in w, termed
  -- cleanly and opened again: every page's next change is its first since
  -- the checkpoint of the clean term (the engine before this change logged
  -- it whole: 8 KiB).  Returns t, s, db, inst.
  local function loaded(n)
    local t, s, _, inst = w:table({ log_file_size = 1024 })
    s:begin_transaction()
    for i = 1, n do t:put(common.make_key(i), common.value(i)) end
    s:commit_transaction()
    inst:term({ complete = true })
    return w:reopen({ log_file_size = 1024 })
  end

  it("a replace of one small record in each of 300 pages costs about the record, not the page", function()
    local t, _, _, inst = loaded(20000)                  -- about 300 leaves
    local before = common.log_bytes(w.dir)
    local n = 0
    for i = 1, 20000, 67 do                               -- one key in every few leaves, each page once
      t:put(common.make_key(i), common.value(i + 1))      -- same size, new bytes
      n = n + 1
    end
    local per = (common.log_bytes(w.dir) - before) / n
    assert.is_true(per < 400, ("%.0f bytes of log per single-record commit (a page is 8192)"):format(per))
    -- and the log alone brings them back after a crash (no page written back)
    inst:term()
    local t2 = select(1, w:reopen({ log_file_size = 1024 }))
    for i = 1, 20000, 67 do assert.are.equal(common.value(i + 1), t2:get(common.make_key(i)), i) end
    assert.are.equal(common.value(2), t2:get(common.make_key(2)))
  end)

  it("a new page is logged as a difference from an all-zero page: a new table of one record costs "
     .. "about the record; pages made by a bulk insert replay from such differences", function()
    local t, s, db, inst = w:table({ log_file_size = 1024 })
    local before = common.log_bytes(w.dir)
    local t1 = s:create_table(db, "one")                 -- a new root page (and the catalog's change)
    t1:put("k", common.value(1))
    local bytes = common.log_bytes(w.dir) - before
    assert.is_true(bytes < 1024, bytes .. " bytes of log for a new table and its record (a page is 8192)")
    s:begin_transaction()
    for i = 1, 5000 do t:put(common.make_key(i), common.value(i)) end
    s:commit_transaction()
    inst:term()                                           -- crash: recovery rebuilds every page from the log
    local t2, s2, db2 = w:reopen({ log_file_size = 1024 })
    for i = 1, 5000, 7 do assert.are.equal(common.value(i), t2:get(common.make_key(i)), i) end
    local n = 0
    for _ in t2:pairs() do n = n + 1 end
    assert.are.equal(5000, n)
    assert.are.equal(common.value(1), s2:open_table(db2, "one"):get("k"))
  end)

  it("a full backup starts at a checkpoint taken at Begin: its set holds the log written during it, "
     .. "not the log since the last checkpoint; it restores exactly", function()
    local t, _, _, inst = loaded(2000)
    for i = 1, 6000 do t:put(common.make_key(i + 2000), ("p"):rep(300)) end   -- about 2.5 MB before the backup
    assert.is_true(common.log_bytes(w.dir) > 2 * 1024 * 1024, "several generations before the backup")
    local set = w:path("set")
    local during = 0
    backup.run(inst, set, { on_progress = function()
      if during < 50 then
        during = during + 1
        t:put(("during%03d"):format(during), "d")
      end
    end })
    -- the set ships whole generations from the one holding Begin's checkpoint:
    -- at most that generation (1 MiB files) and the few commits after
    local logs = common.log_bytes(set)
    assert.is_true(logs < 1024 * 1024 + 64 * 1024, logs .. " bytes of log in the set")
    assert.is_true(during > 0, "commits during the backup")
    local dest = w:path("dest")
    ese.restore(set, dest)
    local r = w:track(ese.create_instance(H.name("restored"), H.params(dest)))
    r:init()
    local t3 = H.open_table(r, dest)
    local n = 0
    for _ in t3:pairs() do n = n + 1 end
    -- the commits made before the cut-off (GetLogInfo) are in, in order; later ones not
    local m = n - 8000
    assert.is_true(m >= 1 and m <= during, m .. " of " .. during .. " commits during the backup restored")
    for i = 1, during do assert.are.equal(i <= m and "d" or nil, t3:get(("during%03d"):format(i)), i) end
    for i = 1, 6000, 97 do assert.are.equal(("p"):rep(300), t3:get(common.make_key(i + 2000))) end
  end)

  it("Begin takes its checkpoint only when the last one is in an older generation (the set ships whole "
     .. "generations from the checkpoint's: a new one in the same would ship nothing less)", function()
    local t, _, _, inst = w:table({ log_file_size = 64 })
    t:put("a", "1")
    local chk = w:path("edb.chk")
    local before = assert(H.read_file(chk))
    inst:begin_external_backup()
    assert.are.equal(before, H.read_file(chk), "no checkpoint in the checkpoint's generation")
    inst:end_external_backup({ abort = true })
    H.roll(t, w.dir, 1)
    inst:begin_external_backup()
    assert.are_not.equal(before, H.read_file(chk), "a checkpoint after a roll")
    inst:end_external_backup({ abort = true })
  end)

  -- The child: an instance on arg[1], 2,000 records committed durably (the
  -- log rolls past the checkpoint of init's generation), then
  -- (mode "run") a full Begin, whose checkpoint writes the pages back; it
  -- prints the outcome of Begin and of a session afterwards.  Mode "count"
  -- stops before Begin, so that ESE_FAULT_COUNT tells the events before it.
  local CHILD = [[
    local ese = require "ese"
    local dir, mode = arg[1], arg[2]
    local function name_of(f, ...)
      local ok, e = pcall(f, ...)
      return ok and "success" or (type(e) == "table" and e.name or tostring(e))
    end
    local inst = ese.create_instance("child", { system_path = dir, log_path = dir, log_file_size = 64 })
    inst:init()
    local s = inst:begin_session()
    local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
    for i = 1, 2000 do t:put(("k%05d"):format(i), ("v"):rep(100)) end   -- several generations of 64 KiB
    if mode == "count" then inst:term() print("COUNTED yes") return end
    print("BEGIN " .. name_of(inst.begin_external_backup, inst))
    print("AFTER " .. name_of(inst.begin_session, inst))
    print("TERM " .. name_of(inst.term, inst))
  ]]

  it("an I/O error in the checkpoint a full Begin takes: JET_errDiskIO, the instance unavailable after, "
     .. "every commit back at the next init", function()
    local cdir, n = w:path("count"), w:path("count.n")
    assert(os.execute("mkdir -p " .. H.q(cdir)))
    local code, out, err = H.lua_child(CHILD, { cdir, "count" }, "ESE_FAULT_COUNT=" .. H.q(n))
    assert.are.equal(0, code, err)
    assert.matches("COUNTED yes", out)
    local k = assert(tonumber(H.read_file(n):match("%d+"))) + 1   -- the first write or sync after the commits
    local dir = w:path("eio")
    assert(os.execute("mkdir -p " .. H.q(dir)))
    code, out, err = H.lua_child(CHILD, { dir, "run" }, ("ESE_FAULT=eio:%d+"):format(k))
    assert.are.equal(0, code, err .. out)
    local r = H.parse_lines(out)
    assert.are.same({ BEGIN = "JET_errDiskIO", AFTER = "JET_errInstanceUnavailable", TERM = "success" },
      { BEGIN = r.BEGIN, AFTER = r.AFTER, TERM = r.TERM })
    local inst = w:track(ese.create_instance(H.name("after"), H.params(dir, { log_file_size = 64 })))
    inst:init()
    local t = H.open_table(inst, dir)
    for i = 1, 2000 do assert.are.equal(("v"):rep(100), t:get(("k%05d"):format(i)), i) end
    inst:term({ complete = true })
  end)
end)
