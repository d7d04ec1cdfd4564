-- The Lua module map (issue 10, docs/internals.md "Lua modules"): every
-- module of lua/ese loads, the requires between them form no cycle, the
-- CLI and the demo do not require each other's way round, the log-chain
-- rule is written once (the C reader's, ese.log_follows), and only the
-- demo starts a process (its crash part's writer child).
local ese = require "ese"
local H = require "support.helpers"

-- The paths of lua/ese/*.lua, sorted.
local function lua_files()
  local t = {}
  for _, name in ipairs(ese.fs.list("lua/ese")) do
    if name:match("%.lua$") then t[#t + 1] = "lua/ese/" .. name end
  end
  return t
end

-- { module name = { required ese module names } } from the text of every
-- lua/ese/*.lua and bin/ese (a require inside a function counts too).
local function require_graph()
  local graph, files = {}, {}
  for _, path in ipairs(lua_files()) do
    local name = path:match("lua/ese/(.-)%.lua$")
    files[name == "init" and "ese" or "ese." .. name] = path
  end
  files["bin/ese"] = "bin/ese"
  for mod, path in pairs(files) do
    local deps = {}
    for dep in H.read_file(path):gmatch("require%s*%(?%s*[\"']([%w._]+)[\"']") do
      if dep == "ese" or dep:match("^ese%.") then deps[#deps + 1] = dep end
    end
    graph[mod] = deps
  end
  return graph, files
end

-- The first cycle of graph as a list of names, or nil.
local function find_cycle(graph)
  local state, stack = {}, {}
  local function visit(m)
    if state[m] == "done" then return nil end
    if state[m] == "open" then
      local cycle, from = {}, nil
      for i, s in ipairs(stack) do if s == m then from = i end end
      for i = from, #stack do cycle[#cycle + 1] = stack[i] end
      cycle[#cycle + 1] = m
      return cycle
    end
    state[m] = "open"
    stack[#stack + 1] = m
    for _, d in ipairs(graph[m] or {}) do
      local c = visit(d)
      if c then return c end
    end
    stack[#stack] = nil
    state[m] = "done"
    return nil
  end
  local names = {}
  for m in pairs(graph) do names[#names + 1] = m end
  table.sort(names)
  for _, m in ipairs(names) do
    local c = visit(m)
    if c then return c end
  end
  return nil
end

-- Every module m reaches through requires (not m itself unless in a cycle).
local function reach(graph, m, seen)
  seen = seen or {}
  for _, d in ipairs(graph[m] or {}) do
    if not seen[d] then
      seen[d] = true
      reach(graph, d, seen)
    end
  end
  return seen
end

describe("the Lua module map", function()
  it("every module of lua/ese loads, and each ese module a file requires exists", function()
    local graph, files = require_graph()
    for mod in pairs(files) do
      if mod ~= "bin/ese" then
        assert.is_table(require(mod), mod)
      end
    end
    for mod, deps in pairs(graph) do
      for _, d in ipairs(deps) do
        assert.is_truthy(files[d] or d == "ese.core", mod .. " requires " .. d .. ", which is no module of lua/ese")
      end
    end
  end)

  it("the requires form no cycle; the walker finds one when there is", function()
    local graph = require_graph()
    local c = find_cycle(graph)
    assert.is_nil(c, c and table.concat(c, " -> "))
    -- the walker itself: the cycle cli.lua and demo.lua had before the split
    local before = { ["ese.cli"] = { "ese.demo" }, ["ese.demo"] = { "ese.cli", "ese.backup" }, ["ese.backup"] = {} }
    assert.are.same({ "ese.cli", "ese.demo", "ese.cli" }, find_cycle(before))
  end)

  it("the demo reaches neither the CLI nor anything above the backup facade; the library modules "
     .. "reach no tool module", function()
    local graph = require_graph()
    assert.is_nil(reach(graph, "ese.demo")["ese.cli"])
    for _, lib in ipairs({ "ese.util", "ese.manifest", "ese.tar", "ese.logchain", "ese.backup_run",
                           "ese.backup_verify", "ese.expire", "ese.backup", "ese.ui", "ese.json" }) do
      local r = reach(graph, lib)
      for _, tool in ipairs({ "ese.cli", "ese.demo" }) do
        assert.is_nil(r[tool], lib .. " reaches " .. tool)
      end
    end
    -- the facade is the only way the tools reach backup work
    for _, tool in ipairs({ "ese.cli", "ese.demo" }) do
      for _, d in ipairs(graph[tool]) do
        assert.is_truthy(d ~= "ese.backup_run" and d ~= "ese.backup_verify", tool .. " requires " .. d)
      end
    end
  end)

  it("the log-chain rule is written once: no Lua module compares creation times itself", function()
    for _, path in ipairs(lua_files()) do
      local text = H.read_file(path)
      assert.is_nil(text:find("prev_created_us%s*[~=]=%s*[%w_.]*created_us")
        or text:find("created_us%s*[~=]=%s*[%w_.]*prev_created_us"), path .. " compares creation times itself")
    end
    assert.are.equal(ese.log_follows, require("ese.logchain").follows)
  end)

  it("only the demo starts a process (its crash part's writer child, os.execute); no module "
     .. "uses io.popen, os.tmpname or /proc", function()
    for _, path in ipairs(lua_files()) do
      local text = H.read_file(path)
      for _, word in ipairs({ "io.popen", "os.tmpname", "/proc/", "sha256sum" }) do
        assert.is_nil(text:find(word, 1, true), path .. " uses " .. word)
      end
      if not path:match("/demo%.lua$") then
        assert.is_nil(text:find("os.execute", 1, true), path .. " uses os.execute")
      end
    end
  end)
end)

describe("ese.log_follows (the C reader's chain rule)", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("true for a log and its successor, false for any other pair; a table without the fields is "
     .. "an argument error", function()
    local t = w:filled_table(300, "a")
    t:close()
    local fi = {}
    for name in pairs(H.log_files(w.dir)) do
      if name ~= "edb.log" then fi[#fi + 1] = ese.file_info(w:path(name)) end
    end
    assert.is_true(#fi >= 3, #fi .. " logs")
    table.sort(fi, function(a, b) return a.generation < b.generation end)
    for i = 2, #fi do
      assert.is_true(ese.log_follows(fi[i - 1], fi[i]), fi[i].generation)
      assert.is_false(ese.log_follows(fi[i], fi[i - 1]))
    end
    assert.is_false(ese.log_follows(fi[1], fi[3]))            -- a generation skipped
    -- the next generation number, created as the successor of another log
    local forged = { generation = fi[2].generation, created_us = fi[2].created_us,
                     prev_created_us = fi[1].created_us + 1 }
    assert.is_false(ese.log_follows(fi[1], forged))
    H.expect_argerror("generation", ese.log_follows, {}, fi[1])
    H.expect_argerror("prev_created_us", ese.log_follows, fi[1],
      { generation = 2, created_us = 1 })
    H.expect_argerror("table expected", ese.log_follows, fi[1], nil)
  end)
end)
