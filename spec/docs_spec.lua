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

  -- tryout16: r:result() returned stopped_at_time, which api.md's list left out
  it("docs/api.md's ese.restore_begin names every field r:result() sets (csrc/lua_restore.c)", function()
    local src = assert(H.read_file("csrc/lua_restore.c"):match("\nstatic int restore_result%(.-\n}\n"))
    local para = assert(H.read_file("docs/api.md"):match("\n`ese.restore_begin%(dirs, dest, opts%)`.-\n\n"))
    local at = assert(para:find("`r:result()`", 1, true))
    local list = para:sub(at)
    local fields, missing = 0, {}
    for field in src:gmatch('lua_setfield%(L, %-2, "([%w_]+)"%)') do
      fields = fields + 1
      if not list:find("%f[%w_]" .. field .. "%f[^%w_]") then missing[#missing + 1] = field end
    end
    assert.truthy(fields >= 6, fields .. " fields")
    assert.are.same({}, missing)
  end)

  it("docs/api.md's C declarations are csrc/include/ese.h's: every prototype, every struct's fields", function()
    local function strip(text)   -- without comments, one space for any run of blanks
      return (text:gsub("/%*.-%*/", ""):gsub("//[^\n]*", ""):gsub("%s+", " "))
    end
    local header = strip(H.read_file("csrc/include/ese.h")):gsub("JET_API ", "")
    -- { name = fields } of every "typedef struct [tag] { ... } Name;" of text
    local function structs(text)
      local found = {}
      for body, name in text:gmatch("typedef struct [%w_]* ?(%b{}) ?([%w_]+);") do
        local fields = {}
        for field in body:sub(2, -2):gsub("%b[]", ""):gmatch("([%w_]+) ?[,;]") do fields[#fields + 1] = field end
        found[name] = table.concat(fields, " ")
      end
      return found
    end
    local theirs = structs(header)
    local protos, nstructs, bad = 0, 0, {}
    for block in H.read_file("docs/api.md"):gmatch("```c\n(.-)```") do
      block = strip(block)
      for name, fields in pairs(structs(block)) do
        nstructs = nstructs + 1
        if theirs[name] ~= fields then bad[#bad + 1] = name .. ": " .. fields end
      end
      for proto in block:gmatch("[%w_]+ %*?[JE][es][te][%w_]+%b();") do
        protos = protos + 1
        if not header:find(proto, 1, true) then bad[#bad + 1] = proto end
      end
    end
    assert.truthy(protos >= 60 and nstructs >= 8, protos .. " prototypes, " .. nstructs .. " structs")
    assert.are.same({}, bad)
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

-- docs/guide.md's Lua recipes, run in order as one application's day: the
-- log archive's configuration, "The four calls", the nightly and hourly
-- functions, the archive watch, a restore from the archive, a restore to a
-- point in time and the restore drill.  Each block runs as written but for
-- its absolute paths, which move under a scratch folder (/srv/app/data
-- becomes DIR/srv/app/data), and these stand-ins: `ese` and `backup` as the
-- first block requires them, `inst` and `s` for the
-- application's (a table "users" in /srv/app/data/app.edb), `chain` for the
-- drill's shell variable, `log` for the application's logger, and for the
-- point in time (a set of 2026-12-01 and a time of 2026-12-03) this run's
-- nightly set, its archive and a time between two batches of commits.
-- Not run here: the event loops (spec/eventloop_spec.lua runs them), the
-- init{ remap } line (spec/replay_paths_spec.lua) and run_to through ssh.
describe("docs/guide.md's Lua recipes", function()
  local ese = require "ese"
  local blocks = {}
  for code in H.read_file("docs/guide.md"):gmatch("```lua\n(.-)\n%s*```") do blocks[#blocks + 1] = code end

  -- the one block that holds text
  local function block(text)
    local found
    for _, b in ipairs(blocks) do
      if b:find(text, 1, true) then
        assert.is_nil(found, "two blocks hold " .. text)
        found = b
      end
    end
    return (assert(found, "no block holds " .. text))
  end

  -- the keys of table "users" in dir/app.edb, restored there
  local function users(w, dir) return H.restored_keys(w, dir, "users") end

  it("name every option backup.run, run_to and restore take (lua/ese/backup.lua's OPTIONS)", function()
    local src = H.read_file("lua/ese/backup.lua")
    local guide = H.read_file("docs/guide.md")
    local function keys(fn)
      local body = assert(src:match("\n  " .. fn .. " = (%b{})"), fn)
      local list = {}
      for k in body:gmatch("([%w_]+) = \"") do list[#list + 1] = k end
      return list
    end
    local run_table = assert(guide:match("\n### Options of `run` and `run_to`\n(.-)\n### "))
    local restore_text = assert((run_table .. "\n"):match("\n`restore` takes (.-)\n\n"))
    local missing = {}
    for _, fn in ipairs({ "run", "run_to" }) do
      for _, k in ipairs(keys(fn)) do
        if not run_table:find("\n| `" .. k, 1, true) then missing[#missing + 1] = fn .. "." .. k end
      end
    end
    for _, k in ipairs(keys("restore")) do
      if not restore_text:find("`" .. k, 1, true) then missing[#missing + 1] = "restore." .. k end
    end
    assert.are.same({}, missing)
  end)

  it("run in order on one instance with a log archive, and say what they do", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local root = w.dir
    local warned, printed = {}, {}
    local env = setmetatable({
      ese = ese, backup = require "ese.backup",   -- as the guide's first block requires them
      log = { warn = function(m) warned[#warned + 1] = m end, error = error },
      print = function(...) printed[#printed + 1] = table.concat({ ... }, " ") end,
    }, { __index = _G })
    local function run(code, extra)
      for _, top in ipairs({ "backups", "srv", "mnt", "restore", "tmp/drill" }) do
        code = code:gsub('"/' .. top:gsub("%p", "%%%0"), '"' .. root .. "/" .. top)
      end
      return assert(load(code .. "\n" .. (extra or ""), "=guide", "t", env))()
    end

    -- "Continuous backup": the instance, its database and table
    local inst = run(block("archive_max_backlog = 1 << 30"), "return inst")
    w:track(inst)
    local data = root .. "/srv/app/data"
    local s = inst:begin_session()
    local t = s:create_table(s:create_database(data .. "/app.edb"), "users")
    t:put("alice", "admin")
    env.inst, env.s = inst, s
    -- a batch of commits that rolls the log (1 MiB generations) about twice
    local function commits(prefix)
      for i = 1, 500 do t:put(("%s%04d"):format(prefix, i), ("v"):rep(4000)) end
    end

    -- waits until every closed generation has shipped (the archiver's thread)
    local function shipped()
      H.wait_until(function() return inst:archive_status().pending == 0 end)
      assert.are.equal(0, inst:archive_status().pending)
    end

    -- "The four calls"
    run(block('backup.run(inst, "/backups/app/2024-05-01/full")'))
    -- kept: the recipes run in order as a reader would, each restore into a
    -- folder of its own (tryout16: the archive recipe restored into this
    -- one too, and a reader following the guide got JET_errBackupDirectoryNotEmpty)
    assert.is_true(H.exists(root .. "/srv/app/restored/app.edb"))

    -- nightly and hourly, then the archive watch
    local nightly, hourly = run(block("local function nightly(day)"), "return nightly, hourly")
    assert.are.equal("full", nightly("2026-12-06").kind)
    commits("x")
    assert.are.equal("incremental", hourly("2026-12-06", 1).kind)
    s:begin_transaction()
    t:put("watched", "1")
    run(block("inst:archive_status()"))
    assert.are.same({}, warned)                  -- no failure, no backlog warning from its commit
    assert.are.equal("1", t:get("watched"))      -- which the block made
    shipped()
    local mid = ese.fs.now()
    commits("y")
    shipped()

    -- the set of 2026-12-06 plus the archive: every closed generation's commits
    run(block("ese.restore(\"/backups/app/2026-12-06/full\""))
    local restored = users(w, root .. "/srv/app/restored-archive")
    assert.are.equal(500, H.count_prefix(restored, "x"))
    assert.truthy(restored.watched and H.count_prefix(restored, "y") > 0)

    -- to a point in time: the set, the archive and a time between the batches
    local pitr = block("to_time = ")
    pitr = pitr:gsub("/backups/app/2026%-12%-01%-full", "/backups/app/2026-12-06/full")
      :gsub("/backups/app%-wal", "/mnt/archive/app")
      :gsub("to_time = %d+", ("to_time = %.6f"):format(mid))
    run(pitr)
    restored = users(w, root .. "/restore/app")
    assert.are.equal(500, H.count_prefix(restored, "x"))
    assert.truthy(restored.watched)
    assert.are.equal(0, H.count_prefix(restored, "y"))

    -- the restore drill of the day's chain
    env.chain = { root .. "/backups/app/2026-12-06/full", root .. "/backups/app/2026-12-06/inc-01" }
    run(block("backup.restore(chain, \"/tmp/drill\""))
    local expect = ("full+incremental %d %d"):format(require("ese.backup").verify(env.chain).gen_high, 500 + 1)
    assert.are.equal(expect, (printed[#printed]:gsub("%s+", " ")))
  end)
end)
