-- Replay of database attachments and paths (issue 8, items 2 and 5):
-- attach order after a restart never matters (soft recovery, full and
-- incremental backups, restores), and a copy of an instance's folders,
-- made together, recovers the copy and never touches the original; the
-- remap option of init covers other moves.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

-- Every key of table "t" of the open database db of session s, as one
-- sorted string "k1=v1,k2=v2".
local function contents(s, db)
  local t = s:open_table(db, "t")
  local out = {}
  for k, v in t:pairs() do out[#out + 1] = k .. "=" .. v end
  t:close()
  return table.concat(out, ",")
end

-- { [path] = contents } of each database of paths, attached in that order
-- on a new instance of params (terminated cleanly afterwards).
local function read_dbs(w, params, paths)
  local inst = w:track(ese.create_instance(H.name("read"), params))
  inst:init()
  local s = inst:begin_session()
  local got = {}
  for _, p in ipairs(paths) do s:attach_database(p) end
  for _, p in ipairs(paths) do got[p] = contents(s, s:open_database(p)) end
  s:end_session()
  inst:term({ complete = true })
  return got
end

-- Attaches each path in order on session s and writes key k = value v
-- into each ({ [path] = { k, v } }).
local function attach_and_put(s, paths, puts)
  local dbs = {}
  for _, p in ipairs(paths) do s:attach_database(p) end
  for _, p in ipairs(paths) do
    dbs[p] = s:open_database(p)
    local t = s:open_table(dbs[p], "t")
    t:put(puts[p][1], puts[p][2])
    t:close()
  end
  return dbs
end

describe("replay: attach order after a restart never matters (issue 8 item 2)", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- Creates databases names (in that order) in the world's folder, each
  -- with table "t" holding <name>1 = <name>; crashes (abrupt term).
  local function create_and_crash(names)
    local inst = w:open()
    local s = inst:begin_session()
    local paths = {}
    for _, n in ipairs(names) do
      local p = w:path(n .. ".edb")
      local db = s:create_database(p)
      local t = s:create_table(db, "t")
      t:put(n .. "1", n)
      t:close()
      paths[n] = p
    end
    inst:term()
    return paths
  end

  it("two databases re-attached in the other order: soft recovery, full backup, verify, restore", function()
    local p = create_and_crash({ "a", "b" })
    local inst = w:open()
    local s = inst:begin_session()
    attach_and_put(s, { p.b, p.a }, { [p.b] = { "b2", "B" }, [p.a] = { "a2", "A" } })
    local set = w:path("set")
    backup.run(inst, set)
    assert.is_table(backup.verify(set))
    local dest = w:path("dest")
    ese.restore(set, dest)
    local got = read_dbs(w, H.params(dest), { dest .. "/a.edb", dest .. "/b.edb" })
    assert.are.equal("a1=a,a2=A", got[dest .. "/a.edb"])
    assert.are.equal("b1=b,b2=B", got[dest .. "/b.edb"])
    -- a crash after the re-ordered attach: soft recovery
    local t = s:open_table(s:open_database(p.a), "t")
    t:put("a3", "A")
    inst:term()
    got = read_dbs(w, H.params(w.dir), { p.a, p.b })
    assert.are.equal("a1=a,a2=A,a3=A", got[p.a])
    assert.are.equal("b1=b,b2=B", got[p.b])
  end)

  it("full then incremental across two crashes, attach order changing each run", function()
    local p = create_and_crash({ "a", "b" })
    local inst = w:open()
    local s = inst:begin_session()
    attach_and_put(s, { p.b, p.a }, { [p.b] = { "b2", "B" }, [p.a] = { "a2", "A" } })
    local full, inc = w:path("full"), w:path("inc")
    backup.run(inst, full)
    inst:term()
    inst = w:open()
    s = inst:begin_session()
    attach_and_put(s, { p.a, p.b }, { [p.a] = { "a3", "A" }, [p.b] = { "b3", "B" } })
    inst:term()
    inst = w:open()
    s = inst:begin_session()
    attach_and_put(s, { p.b, p.a }, { [p.b] = { "b4", "B" }, [p.a] = { "a4", "A" } })
    backup.run(inst, inc, { incremental = true })
    assert.is_table(backup.verify({ full, inc }))
    local dest = w:path("dest")
    ese.restore({ full, inc }, dest)
    local got = read_dbs(w, H.params(dest), { dest .. "/b.edb", dest .. "/a.edb" })
    assert.are.equal("a1=a,a2=A,a3=A,a4=A", got[dest .. "/a.edb"])
    assert.are.equal("b1=b,b2=B,b3=B,b4=B", got[dest .. "/b.edb"])
  end)

  it("three databases, one detached, re-attached in other orders across two crashes", function()
    local p = create_and_crash({ "a", "b", "c" })
    -- run 2: c, b, a; b detached, then the others written; crash
    local inst = w:open()
    local s = inst:begin_session()
    local dbs = attach_and_put(s, { p.c, p.b, p.a },
      { [p.c] = { "c2", "C" }, [p.b] = { "b2", "B" }, [p.a] = { "a2", "A" } })
    dbs[p.b]:close()
    s:detach_database(p.b)
    local t = s:open_table(dbs[p.a], "t")
    t:put("a3", "A")
    t:close()
    inst:term()
    -- run 3: b, c, a (b takes the id a had in run 2); crash
    inst = w:open()
    s = inst:begin_session()
    attach_and_put(s, { p.b, p.c, p.a }, { [p.b] = { "b4", "B" }, [p.c] = { "c4", "C" }, [p.a] = { "a4", "A" } })
    inst:term()
    -- run 4: a, b, c; a full backup of the whole history still in the log
    local got = read_dbs(w, H.params(w.dir), { p.c, p.a, p.b })
    assert.are.equal("a1=a,a2=A,a3=A,a4=A", got[p.a])
    assert.are.equal("b1=b,b2=B,b4=B", got[p.b])
    assert.are.equal("c1=c,c2=C,c4=C", got[p.c])
    inst = w:open()
    s = inst:begin_session()
    attach_and_put(s, { p.a, p.b, p.c }, { [p.a] = { "a5", "A" }, [p.b] = { "b5", "B" }, [p.c] = { "c5", "C" } })
    local set = w:path("set")
    backup.run(inst, set)
    inst:term({ complete = true })
    local dest = w:path("dest")
    ese.restore(set, dest)
    got = read_dbs(w, H.params(dest), { dest .. "/c.edb", dest .. "/b.edb", dest .. "/a.edb" })
    assert.are.equal("a1=a,a2=A,a3=A,a4=A,a5=A", got[dest .. "/a.edb"])
    assert.are.equal("b1=b,b2=B,b4=B,b5=B", got[dest .. "/b.edb"])
    assert.are.equal("c1=c,c2=C,c4=C,c5=C", got[dest .. "/c.edb"])
  end)

  it("a restore replays the whole log from the first generation (ids reused by later runs)", function()
    -- log files large enough that every run stays in generation 1: the
    -- set's replay starts before the first run's records
    local p = create_and_crash({ "a", "b" })
    local inst = w:open()
    local s = inst:begin_session()
    attach_and_put(s, { p.b, p.a }, { [p.b] = { "b2", "B" }, [p.a] = { "a2", "A" } })
    inst:term()
    inst = w:open()
    s = inst:begin_session()
    attach_and_put(s, { p.a, p.b }, { [p.a] = { "a3", "A" }, [p.b] = { "b3", "B" } })
    local set = w:path("set")
    backup.run(inst, set, { copy = true })
    local dest = w:path("dest")
    ese.restore(set, dest)
    local got = read_dbs(w, H.params(dest), { dest .. "/a.edb", dest .. "/b.edb" })
    assert.are.equal("a1=a,a2=A,a3=A", got[dest .. "/a.edb"])
    assert.are.equal("b1=b,b2=B,b3=B", got[dest .. "/b.edb"])
  end)
end)

describe("replay: a copy of an instance's folders recovers the copy (issue 8 item 5)", function()
  local w, orig, logs, data, snapshot
  before_each(function()
    w = H.world()
    orig = w:path("orig")
    logs, data = orig .. "/logs", orig .. "/data"
    assert(os.execute("mkdir -p '" .. logs .. "' '" .. data .. "'"))
  end)
  after_each(function() w:cleanup() end)

  -- An instance on orig/logs with orig/data/app.edb holding n committed
  -- keys k1..kn, crashed (abrupt term: the database stays dirty, its
  -- changes in the log).  snapshot: { [file] = bytes } of every file of orig.
  -- With mid_checkpoint, a detach of another database half-way makes a
  -- checkpoint that lists app.edb (recovery then starts from its table).
  local function crashed(n, mid_checkpoint)
    local inst = w:track(ese.create_instance(H.name("orig"), H.params(logs)))
    inst:init()
    local s = inst:begin_session()
    local t = s:create_table(s:create_database(data .. "/app.edb"), "t")
    for i = 1, n do
      t:put("k" .. i, "v" .. i)
      if mid_checkpoint and i == 1 then
        s:create_database(data .. "/other.edb"):close()
        s:detach_database(data .. "/other.edb")
      end
    end
    inst:term()
    snapshot = {}
    for _, sub in ipairs({ logs, data }) do
      for f in pairs(H.ls(sub)) do snapshot[sub .. "/" .. f] = H.read_file(sub .. "/" .. f) end
    end
  end

  local function original_unchanged()
    for f, bytes in pairs(snapshot) do
      assert.are.equal(#bytes, #H.read_file(f), f)
      assert.is_true(bytes == H.read_file(f), f .. " changed")
    end
  end

  -- A new clean database with an empty table "t" at path (made by an
  -- instance of its own); returns its bytes.
  local function other_db(path)
    local other = w:track(ese.create_instance(H.name("other"), H.params(w:path("other"))))
    other:init()
    local s = other:begin_session()
    s:create_table(s:create_database(path), "t")
    other:term({ complete = true })
    return H.read_file(path)
  end

  -- Soft recovery alone of an instance on the log folder dir (init with
  -- opts, then a clean term).
  local function recover(dir, opts)
    local inst = w:track(ese.create_instance(H.name("copy"), H.params(dir)))
    inst:init(opts)
    inst:term({ complete = true })
  end

  local function keys_of(params, path, extra)
    local inst = w:track(ese.create_instance(H.name("copy"), params))
    inst:init(extra)
    local s = inst:begin_session()
    s:attach_database(path)
    local got = contents(s, s:open_database(path))
    s:end_session()
    inst:term({ complete = true })
    return got
  end

  it("soft recovery of a copy made together uses the copy's database (relative path)", function()
    crashed(3)
    local copy = H.copy_dir(orig, w:path("copy"))
    assert.are.equal("k1=v1,k2=v2,k3=v3", keys_of(H.params(copy .. "/logs"), copy .. "/data/app.edb"))
    original_unchanged()
    -- the original still recovers by itself afterwards
    assert.are.equal("k1=v1,k2=v2,k3=v3", keys_of(H.params(logs), data .. "/app.edb"))
  end)

  it("the same when recovery starts from a checkpoint that lists the database", function()
    crashed(3, true)
    local copy = H.copy_dir(orig, w:path("copy"))
    assert.are.equal("k1=v1,k2=v2,k3=v3", keys_of(H.params(copy .. "/logs"), copy .. "/data/app.edb"))
    original_unchanged()
  end)

  it("a copy whose relative location holds another database falls back to the absolute path", function()
    crashed(2)
    local copy = H.copy_dir(orig, w:path("copy"))
    -- another database at the copy's relative location
    os.remove(copy .. "/data/app.edb")
    local before = other_db(copy .. "/data/app.edb")
    recover(copy .. "/logs")
    assert.is_true(before == H.read_file(copy .. "/data/app.edb"), "the other database was written")
    -- the original was recovered (the absolute path)
    assert.are.equal("k1=v1,k2=v2", keys_of(H.params(w:path("readorig")), data .. "/app.edb"))
  end)

  it("another database (another signature) at the absolute path is never written: JET_errBadDbSignature", function()
    crashed(2)
    -- only the log folder moves; the database's place now holds another database
    local moved = H.copy_dir(logs, w:path("movedlogs"))
    assert(os.rename(data .. "/app.edb", w:path("app.saved")))
    local before = other_db(data .. "/app.edb")
    local inst = w:track(ese.create_instance(H.name("moved"), H.params(moved)))
    local e = H.expect_jet("JET_errBadDbSignature", inst.init, inst)
    assert.matches("app.edb", e.detail or tostring(e))
    inst:term()
    assert.is_true(before == H.read_file(data .. "/app.edb"), "the other database was written")
    -- the right database back in its place: the same log folder recovers it
    assert(os.remove(data .. "/app.edb"))
    assert(os.rename(w:path("app.saved"), data .. "/app.edb"))
    assert.are.equal("k1=v1,k2=v2", keys_of(H.params(moved), data .. "/app.edb"))
  end)

  it("a database detached, deleted and created again under its name recovers (the old attachment is skipped)",
    function()
    local inst = w:track(ese.create_instance(H.name("orig"), H.params(logs)))
    inst:init()
    local s = inst:begin_session()
    local keep = s:create_table(s:create_database(data .. "/keep.edb"), "t")
    keep:put("k", "1")
    local db = s:create_database(data .. "/app.edb")
    s:create_table(db, "t"):close()
    db:close()
    s:detach_database(data .. "/app.edb")
    assert(os.remove(data .. "/app.edb"))
    local t = s:create_table(s:create_database(data .. "/app.edb"), "t")
    t:put("n1", "new")
    keep:put("k2", "2")
    inst:term()
    assert.are.equal("n1=new", keys_of(H.params(logs), data .. "/app.edb"))
    assert.are.equal("k=1,k2=2", keys_of(H.params(logs), data .. "/keep.edb"))
  end)

  it("remap: a database moved elsewhere is recovered at its new place; remap wins", function()
    crashed(2)
    local copy = H.copy_dir(orig, w:path("copy"))
    local moved = w:path("moved")
    assert(os.execute("mkdir -p '" .. moved .. "'"))
    assert(os.rename(copy .. "/data/app.edb", moved .. "/x.edb"))
    -- the relative location exists too (a copy of the original): remap wins over it
    H.write_file(copy .. "/data/app.edb", snapshot[data .. "/app.edb"])
    recover(copy .. "/logs", { remap = { [data .. "/app.edb"] = moved .. "/x.edb" } })
    original_unchanged()
    assert.is_true(snapshot[data .. "/app.edb"] == H.read_file(copy .. "/data/app.edb"), "relative copy written")
    assert.are.equal("k1=v1,k2=v2", keys_of(H.params(w:path("readmoved")), moved .. "/x.edb"))
  end)

  it("remap to a database with another signature: JET_errBadDbSignature, nothing written", function()
    crashed(2)
    local copy = H.copy_dir(orig, w:path("copy"))
    local before = other_db(w:path("other.edb"))
    local inst = w:track(ese.create_instance(H.name("copy"), H.params(copy .. "/logs")))
    local e = H.expect_jet("JET_errBadDbSignature", inst.init, inst,
      { remap = { [data .. "/app.edb"] = w:path("other.edb") } })
    assert.are.equal("init", e.op)
    assert.is_true(before == H.read_file(w:path("other.edb")))
    original_unchanged()
  end)

  it("a checkpoint too large with the relative paths is written without them (no failed detach)", function()
    -- a log folder 700 levels down: each database's relative path is about
    -- 2100 bytes, 32 of them more than a checkpoint holds (64 KiB)
    local deep = w.dir .. ("/a"):rep(700)
    assert(os.execute("mkdir -p '" .. deep .. "'"))
    local inst = w:track(ese.create_instance(H.name("deep"), H.params(deep)))
    inst:init()
    local s = inst:begin_session()
    for i = 1, 32 do
      local db = s:create_database(w:path("s" .. i .. ".edb"))
      local t = s:create_table(db, "t")
      t:put("k", tostring(i))
      t:close()
      db:close()
    end
    s:detach_database(w:path("s1.edb"))         -- a checkpoint listing 31 databases
    local db = s:open_database(w:path("s2.edb"))
    local t = s:open_table(db, "t")
    t:put("k2", "after")
    t:close()
    db:close()
    inst:term()                                   -- crash: recovery starts from that checkpoint
    assert.are.equal("k=2,k2=after", keys_of(H.params(deep), w:path("s2.edb")))
    assert.are.equal("k=1", keys_of(H.params(deep), w:path("s1.edb")))
  end)

  it("ese.init(params, { remap = ... }): the legacy instance takes the same remap", function()
    crashed(2)
    local copy = H.copy_dir(orig, w:path("copy"))
    local moved = w:path("moved")
    assert(os.execute("mkdir -p '" .. moved .. "'"))
    assert(os.rename(copy .. "/data/app.edb", moved .. "/x.edb"))
    -- wrong types first: argument errors, and no instance is left initialized
    H.expect_argerror("bad argument #2 .*table expected", ese.init, H.params(copy .. "/logs"), 5)
    H.expect_argerror("remap", ese.init, H.params(copy .. "/logs"), { remap = { x = false } })
    H.expect_jet("JET_errInvalidParameter", ese.init, H.params(copy .. "/logs"), { remap = { [""] = "/tmp/x" } })
    local before = other_db(w:path("other.edb"))
    H.expect_jet("JET_errBadDbSignature", ese.init, H.params(copy .. "/logs"),
      { remap = { [data .. "/app.edb"] = w:path("other.edb") } })
    assert.is_true(before == H.read_file(w:path("other.edb")))
    local g = w:track(ese.init(H.params(copy .. "/logs"), { remap = { [data .. "/app.edb"] = moved .. "/x.edb" } }))
    ese.term({ complete = true })
    assert.is_false(g:is_open())
    original_unchanged()
    assert.are.equal("k1=v1,k2=v2", keys_of(H.params(w:path("readmoved")), moved .. "/x.edb"))
  end)

  it("remap whose old path names no database of the replayed log: JET_errInvalidParameter, nothing written",
    function()
    for _, mid in ipairs({ false, true }) do   -- records only; a checkpoint that lists the database
      crashed(2, mid)
      local moved = w:path("moved" .. tostring(mid))
      assert(os.execute("mkdir -p '" .. moved .. "'"))
      H.write_file(moved .. "/x.edb", snapshot[data .. "/app.edb"])
      -- a typo, and a relative key (resolved against the working folder, not data/)
      for _, key in ipairs({ data .. "/ap.edb", "app.edb" }) do
        local inst = w:track(ese.create_instance(H.name("remap"), H.params(logs)))
        local e = H.expect_jet("JET_errInvalidParameter", inst.init, inst, { remap = { [key] = moved .. "/x.edb" } })
        assert.matches("remap", e.detail, 1, true)
        assert.matches(key, e.detail, 1, true)
        inst:term()
        original_unchanged()
        assert.is_true(snapshot[data .. "/app.edb"] == H.read_file(moved .. "/x.edb"), "the moved copy was written")
      end
      -- the legacy instance refuses the same way
      H.expect_jet("JET_errInvalidParameter", ese.init, H.params(logs),
        { remap = { [data .. "/ap.edb"] = moved .. "/x.edb" } })
      original_unchanged()
      -- the right key: the copy is recovered, the original is not touched
      recover(logs, { remap = { [data .. "/app.edb"] = moved .. "/x.edb" } })
      assert.is_true(snapshot[data .. "/app.edb"] == H.read_file(data .. "/app.edb"), "the original was written")
      assert.are.equal("k1=v1,k2=v2", keys_of(H.params(w:path("readmoved" .. tostring(mid))), moved .. "/x.edb"))
      assert(os.execute("rm -rf '" .. logs .. "'/* '" .. data .. "'/*"))
    end
  end)

  it("remap when there is nothing to replay (clean shutdown): no effect, no error", function()
    local inst = w:track(ese.create_instance(H.name("clean"), H.params(logs)))
    inst:init()
    local s = inst:begin_session()
    s:create_table(s:create_database(data .. "/app.edb"), "t"):close()
    inst:term({ complete = true })
    local before = H.read_file(data .. "/app.edb")
    recover(logs, { remap = { [data .. "/nothere.edb"] = w:path("x.edb"), [data .. "/app.edb"] = w:path("y.edb") } })
    assert.is_true(before == H.read_file(data .. "/app.edb"))
    assert.is_nil(io.open(w:path("x.edb")))
    assert.is_nil(io.open(w:path("y.edb")))
  end)

  it("remap to a folder or a FIFO: JET_errInvalidPath before anything is written", function()
    crashed(2)
    local copy = H.copy_dir(orig, w:path("copy"))
    local csnap = H.read_file(copy .. "/data/app.edb")
    assert(os.execute("mkdir -p '" .. w:path("adir") .. "' && mkfifo '" .. w:path("fifo") .. "'"))
    for _, to in ipairs({ w:path("adir"), w:path("fifo") }) do
      local inst = w:track(ese.create_instance(H.name("copy"), H.params(copy .. "/logs")))
      H.expect_jet("JET_errInvalidPath", inst.init, inst, { remap = { [data .. "/app.edb"] = to } })
      inst:term()
    end
    original_unchanged()
    assert.is_true(csnap == H.read_file(copy .. "/data/app.edb"), "the copy was written")
  end)

  it("remap input is checked: wrong types are argument errors, empty paths JET_errInvalidParameter", function()
    local inst = w:create()
    H.expect_argerror("bad argument #2 .*table expected", inst.init, inst, 5)
    H.expect_argerror("remap", inst.init, inst, { remap = "x" })
    H.expect_argerror("remap", inst.init, inst, { remap = { [1] = "x" } })
    H.expect_argerror("remap", inst.init, inst, { remap = { x = false } })
    -- a misspelt key was ignored and recovery replayed into the original path
    H.expect_argerror("bad argument #2 .*unknown option 'remaps'", inst.init, inst, { remaps = {} })
    H.expect_jet("JET_errInvalidParameter", inst.init, inst, { remap = { [""] = "/tmp/x" } })
    H.expect_jet("JET_errInvalidParameter", inst.init, inst, { remap = { ["/tmp/x"] = "" } })
    -- an old name with a trailing slash names no database: refused, not silently unused
    H.expect_jet("JET_errInvalidPath", inst.init, inst, { remap = { [w.dir .. "/app.edb/"] = w.dir .. "/x.edb" } })
    H.expect_jet("JET_errInvalidPath", inst.init, inst,
      { remap = { ["/nonexistent-dir/app.edb/"] = w.dir .. "/x.edb" } })
    inst:init({ remap = {} })
    inst:term()
  end)
end)
