-- The documents stand alone: nothing in the repository cites a file that is
-- not in it (the design notes' reference, its numbered decisions, the ESE
-- documentation pages they were drawn from); the backup rules are stated in
-- docs/backup.md and cited by their numbers there; LDoc keeps every word
-- of the doc comments (no <word> that HTML would swallow).
local H = require "support.helpers"

-- Every text file of the repository but .git, the build outputs and the
-- generated docs/ldoc/.
local function repo_files()
  local p = assert(io.popen("find . \\( -path ./.git -o -path ./build -o -path ./build-san "
    .. "-o -path ./docs/ldoc \\) -prune -o -type f -print"))
  local files = {}
  for path in p:lines() do
    local text = H.read_file(path)
    if text and not text:find("\0", 1, true) then files[path:sub(3)] = text end
  end
  p:close()
  return files
end

-- The lines of text that match the Lua pattern, as "file:line: text".
local function hits(files, pattern)
  local found = {}
  for path, text in pairs(files) do
    local n = 0
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
      n = n + 1
      if line:lower():find(pattern) then found[#found + 1] = ("%s:%d: %s"):format(path, n, line) end
    end
  end
  table.sort(found)
  return found
end

-- The number of rules docs/backup.md states in its section "The rules".
local function rule_count()
  local section = assert(H.read_file("docs/backup.md"):match("\n## The rules\n(.-)\n## "), "no section The rules")
  local n = 0
  for num in section:gmatch("\n(%d+)%. %*%*") do
    n = n + 1
    assert.are.equal(n, tonumber(num), "rules are numbered 1, 2, ...")
  end
  return n
end

-- The walks of docs/internals.md (its sections "### One ..."): every
-- "`name` (file)" they write, with file a .c, .h or .lua of the tree,
-- names a function (or, in a header, a macro) that file defines, so a walk
-- cannot go stale when a function moves or is renamed.  Returns the
-- citations and the ones that do not hold.
local function walk_citations()
  local doc = assert(H.read_file("docs/internals.md"))
  local walks = {}
  local cur
  for line in (doc .. "\n"):gmatch("([^\n]*)\n") do
    if line:match("^#") then
      cur = line:match("^### (One .*)")
      if cur then walks[#walks + 1] = cur end
    elseif cur then
      walks[#walks] = walks[#walks] .. "\n" .. line
    end
  end
  local function source(file)
    for _, dir in ipairs({ "", "csrc/", "csrc/include/", "lua/ese/" }) do
      local text = H.read_file(dir .. file)
      if text then return text end
    end
  end
  local function defines(text, file, name)
    local id = name:match("([%w_]+)$")
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
      if file:match("%.lua$") then
        if line:match("^%s*local%s+function%s+" .. id .. "%s*%(")
          or line:match("^%s*function%s+" .. id .. "%s*%(")
          or line:match("^%s*function%s+[%w_.:]*[.:]" .. id .. "%s*%(") then return true end
      elseif line:match("^#define%s+" .. id .. "[%s(]") then
        return true
      elseif line:match("^[%a_]") and not line:match("^return")
        and (line:match("[%s*]" .. id .. "%(") or line:match("^" .. id .. "%("))
        and (file:match("%.h$") or not line:match(";%s*$")) then
        return true
      end
    end
    return false
  end
  local cited, bad = {}, {}
  for _, walk in ipairs(walks) do
    local title = walk:match("^[^\n]*")
    for name, file in walk:gmatch("`([%w_.:]+)[^`]*`%s+%(([%w_/]+%.[ch])[%):;,]") do
      cited[#cited + 1] = file .. ": " .. name
      local text = source(file)
      if not text or not defines(text, file, name) then bad[#bad + 1] = title .. ": " .. name .. " (" .. file .. ")" end
    end
    for name, file in walk:gmatch("`([%w_.:]+)[^`]*`%s+%(([%w_/]+%.lua)[%):;,]") do
      cited[#cited + 1] = file .. ": " .. name
      local text = source(file)
      if not text or not defines(text, file, name) then bad[#bad + 1] = title .. ": " .. name .. " (" .. file .. ")" end
    end
  end
  return walks, cited, bad
end

describe("the documents", function()
  local files = repo_files()

  it("cite no document outside the repository", function()
    assert.truthy(files["README.md"] and files["docs/backup.md"] and files["csrc/include/ese.h"])
    -- the patterns are written so that this file does not match them
    assert.are.same({}, hits(files, "ese%-reference"))
    assert.are.same({}, hits(files, "decisions? %d"))
    assert.are.same({}, hits(files, "seeds? 0%d%d"))
    assert.are.same({}, hits(files, "seed page[s ]"))
  end)

  it("state the backup rules in docs/backup.md, and every rule cited exists", function()
    local n = rule_count()
    assert.are.equal(13, n)
    local cited = 0
    for path, text in pairs(files) do
      for a, b in text:gmatch("[Rr]ules? (%d+)%s*%-%s*(%d+)") do
        assert.truthy(tonumber(b) <= n and tonumber(a) <= tonumber(b), path .. ": rules " .. a .. "-" .. b)
      end
      for num in text:gmatch("[Rr]ule (%d+)") do
        cited = cited + 1
        assert.truthy(tonumber(num) >= 1 and tonumber(num) <= n, path .. " cites rule " .. num)
      end
    end
    assert.truthy(cited >= 20, "the code and specs cite the rules")
  end)

  it("the walks of docs/internals.md name functions that their files define", function()
    local walks, cited, bad = walk_citations()
    local titles = {}
    for _, w in ipairs(walks) do titles[#titles + 1] = w:match("^[^\n]*") end
    assert.are.same({ "One backup, from Begin to End", "One page, from `JetReadFileInstance` to a Lua sink",
      "One log record, from `t:put` to disk", "One JET_err, from where it is raised to the Lua error object" }, titles)
    assert.truthy(#cited >= 80, "the walks cite " .. #cited .. " functions")
    assert.are.same({}, bad)
  end)

  it("doc comments that LDoc renders hold no <word> outside backquotes", function()
    local config = H.read_file("config.ld")
    local sources = {}
    for f in config:match("file%s*=%s*(%b{})"):gmatch('"([^"]+)"') do sources[#sources + 1] = f end
    assert.truthy(#sources >= 4)
    local bad = {}
    for _, path in ipairs(sources) do
      local in_doc = false
      local n = 0
      for line in (H.read_file(path) .. "\n"):gmatch("([^\n]*)\n") do
        n = n + 1
        if line:match("^%s*%-%-%-") then in_doc = true
        elseif not line:match("^%s*%-%-") then in_doc = false end
        if in_doc then
          local text = line:gsub("`[^`]*`", "")
          if text:match("<%a[%w_.-]*>") or text:match("</%a") then bad[#bad + 1] = path .. ":" .. n .. ": " .. line end
        end
      end
    end
    assert.are.same({}, bad)
  end)

  it("LDoc's HTML keeps <dest> of backup.lua (make docs)", function()
    if not os.execute("command -v ldoc >/dev/null 2>&1") then
      pending("ldoc is not installed (make docs installs lua-ldoc)")
      return
    end
    local out = H.tmpdir()
    finally(function() H.rmdir(out) end)
    assert.is_true(os.execute("ldoc -d " .. H.q(out) .. " . >/dev/null 2>&1"))
    local html = assert(H.read_file(out .. "/modules/ese.backup.html"))
    assert.matches("&lt;dest&gt;.partial", html, 1, true)
    assert.is_nil(html:find("<dest>", 1, true))
  end)
end)

describe("the documents and the engine", function()
  -- the format version a new database gets, from its header
  local function new_db_format()
    local w = H.world()
    finally(function() w:cleanup() end)
    local _, _, _, inst = w:table()
    inst:term{ complete = true }
    return require("ese").file_info(w:path("app.edb")).format_version
  end

  it("docs/api.md names every public function of the modules and every method of the objects", function()
    local ese = require "ese"
    local api = H.read_file("docs/api.md")
    local missing = {}
    local function need(text, what, alt)
      if not api:find(text, 1, true) and not (alt and api:find(alt, 1, true)) then missing[#missing + 1] = what end
    end
    local function each(t, f)
      for k, v in pairs(t) do
        if type(k) == "string" and not k:match("^_") then f(k, v) end
      end
    end
    each(ese, function(k) need(k:match("^%u") and "ese." .. k or k, "ese." .. k) end)
    each(ese.fs, function(k) need("fs." .. k, "ese.fs." .. k) end)
    each(ese.zstd, function(k) need(k, "ese.zstd." .. k) end)
    -- constants as `backup.FORMAT`, `FORMAT_VERSION`; main as require("ese.cli").main(argv)
    each(require "ese.backup", function(k) need("backup." .. k, "backup." .. k, "`" .. k .. "`") end)
    each(require "ese.cli", function(k) need("cli." .. k, "cli." .. k, '"ese.cli").' .. k .. "(") end)
    each(require "ese.demo", function(k) need("demo." .. k, "demo." .. k, '"ese.demo").' .. k .. "(") end)
    for _, name in ipairs({ "Instance", "Session", "Database", "Table", "Reader", "Restore", "SyncJob",
                            "FileWriter", "Sha256", "ZstdWriter", "ZstdReader" }) do
      local mt = assert(debug.getregistry()["ese." .. name], name)
      local methods = type(mt.__index) == "table" and mt.__index or mt
      each(methods, function(k) need(":" .. k .. "(", "ese." .. name .. ":" .. k) end)
    end
    table.sort(missing)
    assert.are.same({}, missing)
  end)

  it("docs/api.md's Lua parameters section names every key create_instance takes (csrc/lua_instance.c)", function()
    local section = assert(H.read_file("docs/api.md"):match("\n### Parameters %b()\n(.-)\n### "))
    local keys, missing = 0, {}
    for key in H.read_file("csrc/lua_instance.c"):gmatch('{"([%w_]+)", JET_param') do
      keys = keys + 1
      if not section:find("`" .. key .. "`", 1, true) then missing[#missing + 1] = key end
    end
    assert.truthy(keys >= 19, keys .. " keys")
    assert.are.same({}, missing)
  end)

  it("state the database format version the engine writes (docs/cli.md's ese info, docs/api.md's file_info)",
     function()
    local v = new_db_format()
    local cli = H.read_file("docs/cli.md")
    assert.are.equal(v, tonumber(cli:match("pages, format version %((%d+)%)")))
    assert.are.equal(v, tonumber(cli:match("\nformat +(%d+)\n")))
    assert.are.equal(v, tonumber(H.read_file("docs/api.md"):match("`format_version` %((%d+)%)")))
  end)
end)
