-- README.md tells the truth: every ```lua block runs as written, alone, in a
-- fresh lua5.4 process (this run's package paths: lua/?.lua and the build's
-- ese/core.so), twice in a row in the same TMPDIR (a rerun works too); and
-- the limits its "Limits today" section states are the engine's.
local H = require "support.helpers"

local README = H.read_file("README.md")

-- The Lua blocks of README.md, in order: { code =, heading = the "## "
-- heading above it }.
local function lua_blocks()
  local blocks = {}
  for at, code in README:gmatch("()```lua\n(.-)\n```") do
    local heading = "top"
    for h in README:sub(1, at):gmatch("\n## ([^\n]+)") do heading = h end
    blocks[#blocks + 1] = { code = code, heading = heading }
  end
  return blocks
end

describe("README.md", function()
  it("has Lua examples", function()
    assert.truthy(#lua_blocks() >= 2)
  end)

  -- tryout16: README never said how to make `require "ese"` find the
  -- tree's modules, and a first run of its blocks failed "module 'ese'
  -- not found"
  it("says how to run its blocks from the tree: its LUA_PATH and LUA_CPATH find ese and ese.backup", function()
    local path = README:match('LUA_PATH="([^"]+)"')
    local cpath = README:match('LUA_CPATH="([^"]+)"')
    assert.is_string(path, "README states a LUA_PATH")
    assert.is_string(cpath, "README states a LUA_CPATH")
    -- the build this run loads (build-san under make check) in place of build/lib
    local lib = assert(package.cpath:match("^([^;]*)/%?%.so"), package.cpath)
    assert.truthy(cpath:find("build/lib/?.so", 1, true), cpath)
    cpath = cpath:gsub("build/lib", lib)
    local p = assert(io.popen(("env LUA_PATH=%s LUA_CPATH=%s lua5.4 -e %s 2>&1"):format(H.q(path), H.q(cpath),
      H.q('require "ese.backup"; print(require("ese").version)'))))
    local text = p:read("a")
    assert.is_true(p:close(), text)
    assert.are.equal(require("ese").version .. "\n", text)
  end)

  -- tryout16: a first reader found 19 MiB of files beside a 40 KiB
  -- database, which README did not mention
  it("names every file the first example leaves in its folder", function()
    local para = assert(README:match("\nThe folder then holds (.-)\n\n"), "the paragraph after the first example")
    local w = H.world()
    finally(function() w:cleanup() end)
    local status, out, err = H.lua_child(lua_blocks()[1].code, nil, "TMPDIR=" .. H.q(w.dir))
    assert.are.equal(0, status, out .. err)
    local n, missing = 0, {}
    for name in pairs(H.ls(w.dir .. "/lua-ese-example")) do
      n = n + 1
      if not para:find("`" .. name .. "`", 1, true) then missing[#missing + 1] = name end
    end
    table.sort(missing)
    assert.truthy(n >= 5, n .. " files")
    assert.are.same({}, missing)
  end)

  -- tryout16: README said a paced reader yields ("ese.pace", seconds), a
  -- string; it yields ese.pace_signal, a light userdata
  it("names what a paced reader in a coroutine yields as the reader yields it", function()
    local ese = require "ese"
    local w = H.world()
    finally(function() w:cleanup() end)
    local t, _, _, inst = w:table({ backup_max_rate = 65536 })
    for i = 1, 50 do t:put(("k%04d"):format(i), ("v"):rep(1000)) end
    inst:begin_external_backup()
    local r = inst:open_file(inst:get_attach_info()[1])
    local co = coroutine.create(function() return r:read(65536) end)
    local ok, first, secs = coroutine.resume(co)
    assert.is_true(ok)
    assert.are.equal(ese.pace_signal, first)
    assert.are.equal("number", type(secs))
    r:close()
    inst:end_external_backup({ abort = true })
    local said = assert(README:match("a Lua reader in a coroutine waits%s+by yielding %(`([^`]+)`"))
    assert.are.equal("ese.pace_signal, seconds", said)
  end)

  for i, block in ipairs(lua_blocks()) do
    local code = block.code
    it(("Lua block %d (%s) runs as written, alone, twice"):format(i, block.heading), function()
      local w = H.world()
      finally(function() w:cleanup() end)
      local env = "TMPDIR=" .. H.q(w.dir)
      for run = 1, 2 do
        local status, out, err = H.lua_child(code, nil, env)
        assert.are.equal(0, status, ("run %d:\n%s\n%s"):format(run, out, err))
        assert.are.equal("", err, "run " .. run)
        -- every "--> text" comment of a print is in the output
        for expect in code:gmatch("print%b()[^\n]-%-%->%s*([^\n]-)%s*\n") do
          local words = {}
          for word in expect:gmatch("%S+") do words[#words + 1] = word:gsub("%p", "%%%0") end
          assert.matches(table.concat(words, "%s+"), out, nil, false, "run " .. run .. ": " .. expect)
        end
      end
    end)
  end

  describe("Limits today", function()
    local section = README:match("\n## Limits today\n(.-)\n## ") or README:match("\n## Limits today\n(.*)$")

    it("is a section of the README", function()
      assert.is_string(section)
    end)

    it("states the inline record size at 8 KiB pages and the key limit, which the engine enforces", function()
      local record = tonumber(section:match("up to (%d+) bytes of key and"))
      local key = tonumber(section:match("Keys of at most (%d+) bytes"))
      assert.are.equal(2033, record)
      assert.are.equal(255, key)
      -- the long-value data pages (type 5, csrc/page.h) of a database
      -- holding one record of key "k" and a value of n bytes (8 KiB pages,
      -- the default), after a clean shutdown
      local function lv_pages(n)
        local w = H.world()
        finally(function() w:cleanup() end)
        local t, _, _, inst = w:table()
        t:put("k", ("v"):rep(n))
        assert.are.equal(n, #t:get("k"))
        inst:term{ complete = true }
        return #H.pages_of_type(w:path("app.edb"), 8192, 5)
      end
      assert.are.equal(0, lv_pages(record - 1))   -- key and value: record bytes, in the leaf
      assert.are.equal(1, lv_pages(record))       -- one byte more: out of line
      local w = H.world()
      finally(function() w:cleanup() end)
      local t = w:table()
      t:put(("k"):rep(key), "v")
      H.expect_jet("JET_errKeyTooBig", t.put, t, ("k"):rep(key + 1), "v")
    end)

    it("no longer says that of two writers of one key the later commit wins: the second gets "
       .. "JET_errWriteConflict", function()
      assert.is_nil(section:find("later commit wins", 1, true))
      assert.matches("JET_errWriteConflict", README, 1, true)
      local w = H.world()
      finally(function() w:cleanup() end)
      local t1, s1, _, inst = w:table()
      local t2, s2 = H.open_table(inst, w.dir)
      t1:put("k", "0")
      s1:begin_transaction()
      s2:begin_transaction()
      t1:put("k", "1")                            -- both read "0" and write
      H.expect_jet("JET_errWriteConflict", t2.put, t2, "k", "2")
      s2:rollback()
      s1:commit_transaction()
      assert.are.equal("1", t2:get("k"))
    end)
  end)
end)
