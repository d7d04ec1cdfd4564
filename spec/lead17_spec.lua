-- Found by hostile17 and mended by the lead (session 17).
local ese = require "ese"
local backup = require "ese.backup"
local cjson = require "cjson"
local H = require "support.helpers"

describe("ese backup of a folder whose databases are not all named *.edb", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- Before: x.EDB (upper case) was left out of the set and `ese backup`
  -- exited 0 having truncated the logs: the set restored app.edb only.
  it("attaches x.EDB (any case); names a database file not named *.edb as NOT backed up (text and --json)",
    function()
    local t, s, _, inst = w:table()
    H.put_range(t, "a", 10)
    for _, name in ipairs({ "x.EDB", "other.db" }) do
      local db = s:create_database(w:path(name))
      local t2 = s:create_table(db, "t")
      H.put_range(t2, "x", 7)
      t2:close(); db:close()
    end
    inst:term({ complete = true })
    local code, out, err = H.lua_run("bin/ese", { "backup", w.dir, w:path("set") })
    assert.are.equal(0, code, err)
    assert.matches("NOT backed up: other.db in ", out, 1, true)
    local dbs = {}
    for _, e in ipairs(backup.verify(w:path("set")).databases) do dbs[e] = true end
    assert.are.same({ ["app.edb"] = true, ["x.EDB"] = true }, dbs)
    ese.restore(w:path("set"), w:path("r"))
    local inst2 = w:track(ese.create_instance(H.name("r"), H.params(w:path("r"))))
    inst2:init()
    local t2, s2 = H.open_table(inst2, w:path("r"), "x.EDB")
    assert.are.equal(7, t2:count())
    t2:close(); s2:end_session(); inst2:term({ complete = true })
    local code2, out2, err2 = H.lua_run("bin/ese", { "backup", w.dir, w:path("set2"), "--json" })
    assert.are.equal(0, code2, err2)
    assert.are.same({ "other.db" }, cjson.decode(out2).report.not_backed_up)
  end)

  it("a folder whose only database is not named *.edb: JET_errFileNotFound naming it, nothing made", function()
    local t, s, db, inst = w:table()
    H.detach(t, s, db, w:path("app.edb"))
    inst:term({ complete = true })
    assert(os.rename(w:path("app.edb"), w:path("app.data")))
    local code, out, err = H.lua_run("bin/ese", { "backup", w.dir, w:path("set"), "--json" })
    assert.are.equal(1, code, err)
    local j = cjson.decode(out)
    assert.are.equal("JET_errFileNotFound", j.error.name)
    assert.matches("not named *.edb, so not backed up: app.data", j.error.detail, 1, true)
    assert.are.equal("absent", ese.fs.stat(w:path("set")).kind)
  end)
end)

describe("ese.restore's base_name", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- Before: "../", "a/b" and "/et" passed the length check and were refused
  -- later as JET_errFileNotFound (no log of that base name in the set).
  it("is three letters or digits, as the instance's: '../', 'a/b', '/et', 'e.b' are JET_errInvalidParameter, "
    .. "dest not made", function()
    local t, _, _, inst = w:table()
    H.put_range(t, "a", 5)
    backup.run(inst, w:path("set"))
    for _, b in ipairs({ "../", "a/b", "/et", "e.b", "ed" }) do
      H.expect_jet("JET_errInvalidParameter", ese.restore, w:path("set"), w:path("r"), { base_name = b })
      assert.are.equal("absent", ese.fs.stat(w:path("r")).kind)
    end
    ese.restore(w:path("set"), w:path("r"), { base_name = "edb" })
    assert.are.equal(5, H.count_keys(w, w:path("r"), "a"))
  end)
end)
