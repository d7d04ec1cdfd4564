-- Session 17's mends of items found but not mended in session 16: a
-- database path in a very deep working folder, the CLI's --json output
-- with bytes that are not UTF-8, backup.expire's ranking of full sets, the
-- overwrite restore's hold of the live log folder's generations.
local ese = require "ese"
local H = require "spec.support.helpers"

-- package.path / package.cpath with every relative entry made absolute
-- (a child that runs in another working folder loads the same modules).
local function absolute(paths)
  local cwd = os.getenv("PWD")
  return (paths:gsub("[^;]+", function(p)
    if p:sub(1, 1) ~= "/" then return cwd .. "/" .. p:gsub("^%./", "") end
  end))
end

-- Runs Lua source in a child lua5.4 process whose working folder is dir;
-- returns exit code, stdout and stderr.
local function child_in(dir, source)
  local script, errf = os.tmpname(), os.tmpname()
  H.write_file(script, source)
  local p = assert(io.popen(("cd %s && LUA_PATH=%s LUA_CPATH=%s lua5.4 %s 2>%s"):format(H.q(dir),
    H.q(absolute(package.path)), H.q(absolute(package.cpath)), H.q(script), H.q(errf))))
  local out = p:read("a")
  local _, _, code = p:close()
  local err = H.read_file(errf) or ""
  os.remove(script)
  os.remove(errf)
  return code, out, err
end

-- Runs bin/ese with args; returns exit code, stdout and stderr.
local function ese_cmd(args)
  return H.lua_run("bin/ese", args)
end

describe("mend17", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("a relative database path in a working folder so deep that its absolute path cannot be listed by a log " ..
     "header: JET_errInvalidPath naming the cause, not JET_errTooManyAttachedDatabases", function()
    local deep = w.dir
    while #deep < 4000 do deep = deep .. "/" .. ("a"):rep(200) end
    assert(os.execute("mkdir -p " .. H.q(deep)))
    local code, out, err = child_in(deep, ([[
      local ese = require "ese"
      local dir = %q
      local inst = ese.create_instance("deep", { system_path = dir, log_path = dir, log_file_size = 256 })
      inst:init()
      local s = inst:begin_session()
      local ok, e = pcall(s.create_database, s, "db.edb")
      print(ok, e.name, e.detail)
      print(io.open("db.edb") == nil and "absent" or "present")
      -- a database the same instance can list still works, in a short folder
      local db = s:create_database(dir .. "/short.edb")
      s:create_table(db, "t"):put("k", "v")
      s:end_session()
      inst:term({ complete = true })
      print("CHILD done")
    ]]):format(w.dir))
    assert.are.equal(0, code, err)
    assert.matches("CHILD done", out)
    assert.matches("false\tJET_errInvalidPath\t", out, 1, true)
    assert.matches("the absolute path %(the working folder included for a relative one%) is %d+ bytes, " ..
      "a log header lists at most 4008", out)
    assert.matches("/db.edb", out, 1, true)
    assert.matches("absent", out)
  end)

  it("--json output stays valid UTF-8 JSON when a path holds a byte that is not UTF-8 (\\xff): each such byte " ..
     "is U+FFFD", function()
    local cjson = require "cjson"
    local odd = w:path("x\255y")
    assert(os.execute("mkdir -p " .. H.q(odd .. "/inst")))
    local t, s, _, inst = w:table_at(odd .. "/inst", "app.edb")
    t:put("k", "v")
    t:close()
    s:end_session()
    inst:term({ complete = true })
    local runs = {
      { "backup", odd .. "/inst", odd .. "/root/f1", "--json" },
      { "backup", odd .. "/inst", odd .. "/root/f2", "--json" },
      { "logs", odd .. "/inst", "--json" },
      { "info", odd .. "/inst/app.edb", "--json" },
      { "info", odd .. "/nope\254.edb", "--json", code = 1 },       -- an error object, its detail the path
      { "check", odd .. "/root/f1", "--json" },
      { "restore", odd .. "/root/f2", odd .. "/dest", "--json" },
      { "expire", odd .. "/root", "--keep-full", "1", "--json" },
    }
    for _, args in ipairs(runs) do
      local code, out, err = ese_cmd(args)
      local what = args[1] .. " " .. err
      assert.are.equal(args.code or 0, code, what)
      assert.is_truthy(out:find("\n"), what)
      for line in out:gmatch("[^\n]+") do
        assert.is_truthy(utf8.len(line), what .. ": not UTF-8: " .. line)
        local ok, j = pcall(cjson.decode, line)
        assert.is_true(ok, what .. ": " .. tostring(j))
        assert.is_truthy(line:find("x\u{FFFD}y", 1, true), what .. ": " .. line)
      end
    end
  end)

  -- A root of 3 full sets of one instance, `between` records put after
  -- each, f1's manifest stamped 10 years ahead (a wrong clock); returns
  -- root.
  local function future_root(between)
    local backup = require "ese.backup"
    local t, _, _, inst = w:filled_table(20, "a")
    local root = w:path("root")
    for i = 1, 3 do
      backup.run(inst, root .. "/f" .. i)
      H.fill(t, between, "b" .. i)
    end
    H.set_manifest_time(root .. "/f1", os.time() + 10 * 365 * 86400)
    return root
  end

  local function sorted_names(paths)
    local r = {}
    for i, p in ipairs(paths) do r[i] = H.basename(p) end
    table.sort(r)
    return r
  end

  it("backup.expire ranks full sets of one log stream by the log, not the manifest time: a set stamped in the " ..
     "future whose end the log shows older goes, the newest along the log stays (dry run, then ese expire --yes)",
     function()
    local backup = require "ese.backup"
    local cjson = require "cjson"
    local root = future_root(10)       -- few records: each full's log continues the one before (proof)
    local plan = backup.expire(root, { keep_full = 1 })
    assert.are.same({ "f3" }, sorted_names(plan.keep))
    assert.are.same({ "f1", "f2" }, sorted_names(plan.delete))
    assert.matches("the newest full set of its log stream along the log", plan.reasons[root .. "/f3"])
    assert.matches("it ends before f2, f3 along its log", plan.reasons[root .. "/f1"])
    assert.are.same({ "f1", "f2", "f3" }, ese.fs.list(root))      -- a dry run
    local code, out, err = ese_cmd({ "expire", root, "--keep-full", "1", "--yes", "--json" })
    assert.are.equal(0, code, err)
    assert.are.same({ "f1", "f2" }, sorted_names(cjson.decode(out).deleted))
    assert.are.same({ "f3" }, ese.fs.list(root))
    backup.verify(root .. "/f3")
  end)

  it("backup.expire keeps a full set that cannot be ranked by the log (its future time contradicts its " ..
     "generations, no set proves one log) and still keeps the newest along the log (dry run, then --yes)",
     function()
    local backup = require "ese.backup"
    local root = future_root(2000)     -- many records: generations the sets do not hold lie between them
    local plan = backup.expire(root, { keep_full = 1 })
    assert.are.same({ "f1", "f3" }, sorted_names(plan.keep))
    assert.are.same({ "f2" }, sorted_names(plan.delete))
    assert.matches("not ranked against f2, f3 %(its manifest time contradicts", plan.reasons[root .. "/f1"])
    assert.matches("it ends before f3 along its log", plan.reasons[root .. "/f2"])
    local code, _, err = ese_cmd({ "expire", root, "--keep-full", "1", "--yes" })
    assert.are.equal(0, code, err)
    assert.are.same({ "f1", "f3" }, ese.fs.list(root))
  end)

  local function restore_while_retired(point) return H.restore_while_retired(w, point) end

  it("restore with overwrite and live_log_path of an instance with circular logging: a live generation retired " ..
     "after the check (hold point restore-clear) was read before, the restore succeeds", function()
    local out, dest = restore_while_retired("restore-clear")
    assert.matches("RESTORED", out)          -- was: FAILED JET_errFileNotFound, dest's old state gone
    local keys = H.restored_keys(w, dest)
    assert.are.equal(5, H.count_prefix(keys, "base"))
    assert.is_true(H.count_prefix(keys, "early") > 0)
    assert.are.equal(0, H.count_prefix(keys, "during"))
  end)

  it("restore with overwrite and live_log_path: a live generation retired before the overwrite's check holds it " ..
     "(hold point restore-hold) is refused before dest's old state goes (JET_errMissingCurrentLogFiles)", function()
    local out, dest = restore_while_retired("restore-hold")
    assert.matches("FAILED JET_errMissingCurrentLogFiles", out, 1, true)
    assert.matches("was retired or recycled by the instance on the live log folder", out, 1, true)
    local keys = H.restored_keys(w, dest)    -- the old state, whole
    assert.are.equal(5, H.count_prefix(keys, "base"))
    assert.are.equal(0, H.count_prefix(keys, "early"))
  end)
end)
