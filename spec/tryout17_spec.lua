-- Session 17's first-use review (README, docs/api.md and docs/guide.md
-- followed by a new user writing a Lua application: JSON documents of
-- several MiB, transactions retried on JET_errWriteConflict, cursors,
-- coroutines under lua-luv, continuous backup and a restore drill): the
-- errors that did not say what to do.  Each case failed before its change.
local H = require "support.helpers"

describe("tryout 17", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  describe("the empty key", function()
    -- Before: JET_errInvalidParameter "A parameter is not valid for this
    -- call [in put]" and no detail: nothing said which parameter.
    it("put, get and delete raise JET_errInvalidParameter whose detail says the key is empty", function()
      local t = w:table()
      t:put("k", "1")
      for _, call in ipairs({ { "put", t.put, t, "", "v" }, { "get", t.get, t, "" },
                              { "get", t.get, t, "", 0, 4 }, { "delete", t.delete, t, "" } }) do
        local e = H.expect_jet("JET_errInvalidParameter", table.unpack(call, 2))
        assert.are.equal(call[1], e.op)
        assert.are.equal("the key is empty: a key is 1 .. 255 bytes", e.detail)
      end
      -- a wrong value type is still the argument error it was
      H.expect_argerror("string expected, got nil", t.put, t, "", nil)
      assert.are.equal("1", t:get("k"))
    end)
  end)

  describe("detach_database of a database still open", function()
    -- Before: JET_errDatabaseInUse "The database is in use by another
    -- session or instance" and no detail, while the only holder was a
    -- Database object of the calling session itself (opened twice, closed
    -- once): the message pointed at someone else.
    it("JET_errDatabaseInUse's detail names the database and how many handles this session and others hold",
       function()
      local t, s, db, inst = w:table()
      local path = w:path("app.edb")
      local again = s:open_database(path)
      t:close()
      db:close()
      local e = H.expect_jet("JET_errDatabaseInUse", s.detach_database, s, path)
      assert.are.equal(path .. " is open 1 time (1 by this session, 0 by others): close every handle of it "
        .. "(JetCloseDatabase; in Lua db:close(), or end the session) first", e.detail)
      local s2 = inst:begin_session()
      local other = s2:open_database(path)
      e = H.expect_jet("JET_errDatabaseInUse", s.detach_database, s, path)
      assert.truthy(e.detail:find("is open 2 times (1 by this session, 1 by others)", 1, true), e.detail)
      again:close()
      other:close()
      s:detach_database(path)   -- every handle closed: the detach goes through
    end)
  end)

  describe("coroutines that share a session", function()
    -- docs/api.md said nothing of it, and a first luv server whose
    -- handlers shared one session lost a handler's write without an
    -- error: docs/api.md's "Coroutines" now says a transaction is the
    -- session's; this case holds the docs to what the engine does.
    it("share its transaction: begin raises JET_errTransTooDeep, a write joins it and goes with its rollback",
       function()
      local t, s, _, inst = w:table()
      local text = H.read_file("docs/api.md")
      assert.truthy(text:find("A transaction belongs to its session, not to a coroutine.", 1, true))
      local a = coroutine.wrap(function()
        s:begin_transaction()
        t:put("a", "1")
        coroutine.yield()
        s:rollback()
      end)
      local seen
      local b = coroutine.wrap(function()
        local e = H.expect_jet("JET_errTransTooDeep", s.begin_transaction, s)
        -- before: no detail; now it names the cause and the remedy
        assert.are.equal("this session's transaction is still open: one transaction per session; code that needs "
          .. "its own (a coroutine that yields inside one) needs its own session", e.detail)
        seen = t:get("a")     -- a's uncommitted write
        t:put("b", "1")       -- into a's transaction
      end)
      a()
      b()
      assert.are.equal("1", seen)
      local s2 = inst:begin_session()
      local t2 = s2:open_table(s2:open_database(w:path("app.edb")), "t")
      assert.is_nil(t2:get("b"))   -- not committed: it is a's
      a()                          -- a rolls back
      assert.is_nil(t:get("b"))
      assert.is_nil(t2:get("b"))
    end)
  end)

  -- README's "Limits today" said the engine writes log format 5 with
  -- feature bits 0 and 1 and database format 3: it writes bits 0 to 4 and
  -- database format 4 (a first reader checking `ese info` found format 4).
  it("README states the database format and the log feature bits the engine writes", function()
    local ese = require "ese"
    local t, _, _, inst = w:table()
    t:put("k", "v")
    inst:term({ complete = true })
    local para = assert(H.read_file("README.md"):match("%*%*Files of earlier versions%.%*%*(.-)\n%-"))
    para = para:gsub("%s+", " ")
    local v = ese.file_info(w:path("app.edb")).format_version
    assert.are.equal(v, tonumber(para:match("and database format (%d+)")), para)
    -- the log header's features (u32 at offset 56: docs/format.md)
    local head = H.read_file(w:path("edb.log")):sub(1, 64)
    assert.are.equal("ESELOG\0\5", head:sub(5, 12))
    local features = string.unpack("<I4", head, 57)
    local lo, hi = para:match("log format 5 with feature bits (%d+) to (%d+)")
    assert.is_string(lo, para)
    local want = 0
    for bit = tonumber(lo), tonumber(hi) do want = want | (1 << bit) end
    assert.are.equal(features, want)
  end)

  -- README never said that log generations pile up: a first application
  -- without backups found its folder growing by a file per MiB of log.
  it("README's claim holds: without a truncating backup the generations stay, circular_log recycles them",
     function()
    local text = H.read_file("README.md"):gsub("%s+", " ")
    assert.truthy(text:find("by default nothing deletes them", 1, true))
    local function generations(circular)
      local dir = w:path(circular and "circular" or "plain")
      local t, _, _, inst = w:table_at(dir, "app.edb", { log_file_size = 64, checkpoint_depth = 128 * 1024,
                                                         circular_log = circular })
      for i = 1, 200 do t:put(("k%02d"):format(i % 20), ("%04d"):format(i):rep(1000)) end
      inst:term({ complete = true })
      local n = 0
      for name in pairs(H.log_files(dir)) do
        if name ~= "edb.log" then n = n + 1 end
      end
      return n
    end
    local plain, circular = generations(false), generations(true)
    assert.truthy(plain >= 10, plain)
    assert.truthy(circular <= 3, circular)
  end)

  -- README's first example created the table only in the run that created
  -- the database: a run stopped between the two creations (each is
  -- durable) left a database without the table, and every later run failed
  -- JET_errObjectNotFound in open_table.  A new user copies that start-up.
  it("README's first example starts on a folder whose database lacks the table (a run stopped in between)",
     function()
    local ese = require "ese"
    local readme = H.read_file("README.md")
    local code = assert(readme:match("```lua\n(.-)\n```"))
    local dir = w:path("lua-ese-example")
    local inst = w:track(ese.create_instance(H.name("half"), { system_path = dir, log_path = dir }))
    inst:init()
    inst:begin_session():create_database(dir .. "/app.edb")
    inst:term()                                 -- stopped before create_table
    local status, out, err = H.lua_child(code, nil, "TMPDIR=" .. H.q(w.dir))
    assert.are.equal(0, status, out .. err)
    assert.truthy(out:find("alice\tadmin", 1, true), out)
  end)
end)
