-- ese.errors (both directions), the ese.Error object and how specs and
-- pcall callers match it.
local ese = require "ese"
local H = require "support.helpers"

-- The error numbers of ESE that lua-ese defines (docs/errors.md; test
-- data, not the C table).
local reference = {
  JET_errKeyTooBig = -408, JET_errLogFileCorrupt = -501, JET_errBackupDirectoryNotEmpty = -504,
  JET_errBackupInProgress = -505, JET_errRestoreInProgress = -506,
  JET_errLogWriteFail = -510, JET_errBadLogVersion = -514, JET_errLoggingDisabled = -516,
  JET_errLogSequenceEnd = -519, JET_errNoBackup = -520,
  JET_errInvalidBackupSequence = -521, JET_errBackupNotAllowedYet = -523,
  JET_errInvalidBackup = -526, JET_errMissingLogFile = -528,
  JET_errLogDiskFull = -529, JET_errBadLogSignature = -530,
  JET_errBadPatchPage = -535, JET_errSoftRecoveryOnBackupDatabase = -544, JET_errConsistentTimeMismatch = -551,
  JET_errDatabasePatchFileMismatch = -552, JET_errEndingRestoreLogTooLow = -553,
  JET_errStartingRestoreLogTooHigh = -554, JET_errGivenLogFileHasBadSignature = -555,
  JET_errGivenLogFileIsNotContiguous = -556, JET_errMissingRestoreLogFiles = -557,
  JET_errMissingFullBackup = -560, JET_errMissingCurrentLogFiles = -565,
  JET_errDbTimeTooOld = -566, JET_errDbTimeTooNew = -567,
  JET_errMissingFileToBackup = -569, JET_errLogTornWriteDuringHardRestore = -570,
  JET_errLogCorruptDuringHardRestore = -573, JET_errBadRestoreTargetInstance = -577,
  JET_errLogReadVerifyFailure = -612, JET_errRestoreOfNonBackupDatabase = -615,
  JET_errLogFileNotCopied = -616, JET_errBackupAbortByCaller = -800,
  JET_errBackupAbortByServer = -801, JET_errInvalidGrbit = -900,
  JET_errTermInProgress = -1000, JET_errInvalidParameter = -1003,
  JET_errOutOfMemory = -1011, JET_errReadVerifyFailure = -1018,
  JET_errDiskIO = -1022, JET_errInvalidPath = -1023,
  JET_errNotInitialized = -1029, JET_errAlreadyInitialized = -1030,
  JET_errFileAccessDenied = -1032, JET_errRunningInOneInstanceMode = -1080,
  JET_errRunningInMultiInstanceMode = -1081, JET_errInstanceNameInUse = -1086,
  JET_errInstanceUnavailable = -1090, JET_errInvalidInstance = -1115,
  JET_errDatabaseInUse = -1202, JET_errDatabaseNotFound = -1203,
  JET_errDatabaseCorrupted = -1206, JET_errInvalidDatabaseVersion = -1209,
  JET_errPageSizeMismatch = -1213,
  JET_errTooManyInstances = -1214, JET_errClientRequestToStopJetService = -1329,
  JET_errTooManyAttachedDatabases = -1805, JET_errDiskFull = -1808, JET_errFileNotFound = -1811,
  JET_errFileInvalidType = -1812,
  JET_errAfterInitialization = -1850,
}

describe("ese.errors", function()
  it("maps JET_errNoBackup to -520 and back", function()
    assert.are.equal(-520, ese.errors.JET_errNoBackup)
    assert.are.equal("JET_errNoBackup", ese.errors[-520])
  end)

  it("is a two-way table for every entry", function()
    local names, codes = 0, 0
    for k, v in pairs(ese.errors) do
      if type(k) == "string" then
        names = names + 1
        assert.are.equal("number", type(v))
        assert.truthy(math.type(v) == "integer", k)
        assert.are.equal(k, ese.errors[v], k)
        assert.truthy(k:match("^JET_[ew]") or k == "JET_errSuccess", k)
      else
        codes = codes + 1
        assert.are.equal("number", type(k))
        assert.are.equal("string", type(v))
        assert.are.equal(k, ese.errors[v], v)
      end
    end
    assert.are.equal(names, codes)
    assert.truthy(names >= 60, "only " .. names .. " errors")
  end)

  it("holds every error number of ESE's backup and instance calls", function()
    for name, code in pairs(reference) do
      assert.are.equal(code, ese.errors[name], name)
      assert.are.equal(name, ese.errors[code], name)
    end
  end)

  it("has the errors of the record API and transactions", function()
    assert.are.equal(-1601, ese.errors.JET_errRecordNotFound)
    assert.are.equal(-1026, ese.errors.JET_errRecordTooBig)
    assert.are.equal(-408, ese.errors.JET_errKeyTooBig)
    assert.are.equal(-1104, ese.errors.JET_errInvalidSesid)
    assert.are.equal(-1310, ese.errors.JET_errInvalidTableId)
    assert.are.equal(-1005, ese.errors.JET_errTransTooDeep)
    assert.are.equal(-1054, ese.errors.JET_errNotInTransaction)
    assert.are.equal(-1102, ese.errors.JET_errWriteConflict)
    assert.are.equal(-1069, ese.errors.JET_errVersionStoreOutOfMemory)
  end)

  it("is part of the module with a version", function()
    assert.are.equal("0.1.0", ese.version)
    assert.are.equal(require("ese.core").errors.JET_errNoBackup, ese.errors.JET_errNoBackup)
    assert.are.equal("function", type(ese.create_instance))
    assert.are.equal("function", type(ese.init))
    assert.are.equal("function", type(ese.term))
  end)
end)

describe("ese.Error", function()
  it("is a metatable named ese.Error with __tostring", function()
    assert.are.equal("table", type(ese.Error))
    assert.are.equal("ese.Error", ese.Error.__name)
    assert.are.equal("function", type(ese.Error.__tostring))
  end)

  it("prints name, number, message and op", function()
    local e = setmetatable({ name = "JET_errNoBackup", code = -520,
                             message = "No backup is in progress",
                             op = "end_external_backup" }, ese.Error)
    assert.are.equal("JET_errNoBackup (-520): No backup is in progress [in end_external_backup]",
                     tostring(e))
  end)

  it("prints the detail after the op", function()
    local e = setmetatable({ name = "JET_errReadVerifyFailure", code = -1018,
                             message = "m", op = "read", detail = "file x page 12" }, ese.Error)
    assert.are.equal("JET_errReadVerifyFailure (-1018): m [in read: file x page 12]", tostring(e))
  end)

  describe("raised by the engine", function()
    -- Nothing is initialized between specs: the instance-less stop_service
    -- fails with JET_errNotInitialized (docs/backup.md rule 5).
    local function fail() return ese.stop_service() end

    it("is a table with name, code, message and op", function()
      local e = H.catch(fail)
      assert.are.equal("table", type(e))
      assert.are.equal(ese.Error, getmetatable(e))
      assert.is_true(ese.is_error(e))
      assert.are.equal("JET_errNotInitialized", e.name)
      assert.are.equal(-1029, e.code)
      assert.are.equal(ese.errors.JET_errNotInitialized, e.code)
      assert.are.equal("The instance is not initialized", e.message)
      assert.are.equal("stop_service", e.op)
      assert.is_nil(e.detail)                    -- this error concerns no file
    end)

    it("prints starting with its name", function()
      local s = tostring(H.catch(fail))
      assert.are.equal(1, s:find("JET_errNotInitialized", 1, true))
      assert.are.equal("JET_errNotInitialized (-1029): The instance is not initialized [in stop_service]", s)
    end)

    it("lets pcall callers branch on e.name", function()
      local ok, e = pcall(fail)
      local branch
      if not ok and e.name == "JET_errNotInitialized" then branch = "init first"
      elseif not ok then branch = "other" end
      assert.are.equal("init first", branch)
    end)

    it("matches busted's error_matches and has_error", function()
      assert.error_matches(fail, "JET_errNotInitialized")
      assert.error_matches(fail, "^JET_errNotInitialized%f[^%w_]")
      assert.has_error(fail, "JET_errNotInitialized (-1029): The instance is not initialized [in stop_service]")
    end)

    it("passes through coroutine.wrap unchanged", function()
      local e = H.catch(coroutine.wrap(fail))
      assert.are.equal(ese.Error, getmetatable(e))
      assert.are.equal("JET_errNotInitialized", e.name)
    end)

    it("carries the method name as op", function()
      local w = H.world()
      finally(function() w:cleanup() end)
      local inst = w:create()
      local e = H.expect_jet("JET_errNotInitialized", inst.begin_session, inst)
      assert.are.equal("begin_session", e.op)
      assert.error_matches(function() inst:begin_session() end, "^JET_errNotInitialized %(%-1029%)")
    end)
  end)

  it("keeps its identity when ese.core is loaded again", function()
    local Error = ese.Error
    package.loaded["ese.core"] = nil
    local core2 = require "ese.core"
    assert.are.equal(Error, core2.Error)
    assert.are.equal(-520, core2.errors.JET_errNoBackup)
    local e = H.catch(core2.stop_service)
    assert.are.equal(Error, getmetatable(e))
  end)
end)

-- One table (csrc/include/ese_errors.h) gives every message, to C and Lua.
describe("error messages", function()
  local backup = require "ese.backup"

  local function names()
    local t = {}
    for k in pairs(ese.errors) do
      if type(k) == "string" then t[#t + 1] = k end
    end
    table.sort(t)
    return t
  end

  it("every error has one sentence of its own, by name and by code", function()
    local seen = {}
    for _, name in ipairs(names()) do
      local code = ese.errors[name]
      local m = ese.message(name)
      assert.is_string(m, name)
      assert.truthy(#m >= 12, name .. ": " .. tostring(m))
      assert.are_not.equal(name, m)
      assert.truthy(m:match("^%u"), name .. ": a sentence starts with a capital: " .. m)
      assert.are.equal(m, ese.message(code), name)
      assert.is_nil(seen[code], "code " .. code .. " twice")
      seen[code] = m
    end
    assert.is_nil(ese.message("JET_errNoSuchThing"))
    assert.is_nil(ese.message(-7777))
    H.expect_argerror("bad argument #1", ese.message, {})
  end)

  it("an error object built in Lua (backup.error) carries the core's message", function()
    for _, name in ipairs(names()) do
      local e = backup.error(name, "op", "detail")
      assert.are.equal(ese.message(name), e.message, name)
      assert.are_not.equal(name, e.message)
    end
    -- -1003 had two texts: one in C, one in backup.lua
    local w = H.world()
    finally(function() w:cleanup() end)
    local inst = w:open()
    inst:begin_external_backup()
    local c = H.expect_jet("JET_errInvalidParameter", inst.end_external_backup, inst, { normal = true, abort = true })
    assert.are.equal(c.message, backup.error("JET_errInvalidParameter", "op").message)
  end)

  it("no Lua module keeps a message table of its own", function()
    local files = 0
    for path in pairs(H.ls("lua/ese")) do
      files = files + 1
      local text = H.read_file("lua/ese/" .. path)
      assert.is_nil(text:match("JET_%a+%s*=%s*\""), path .. " defines a message for an error")
    end
    assert.truthy(files >= 4)
  end)
end)

describe("error messages fit every use of the error", function()
  it("JET_errInvalidBackup (-526), which verify raises for a stray file in a set, does not speak of "
     .. "circular logging", function()
    local w = H.world()
    local t, _, _, inst = w:filled_table(5, "a")
    local set = w:path("set")
    H.backup(inst, set, {})
    t:close()
    H.write_file(set .. "/edb.chk", "stray")
    local ok, e = pcall(require("ese.backup").verify, set)
    w:cleanup()
    assert.is_false(ok)
    assert.are.equal("JET_errInvalidBackup", e.name)
    assert.matches("edb.chk", e.detail, 1, true)
    assert.is_nil(e.message:lower():find("circular", 1, true), e.message)
    assert.is_nil(tostring(e):lower():find("circular", 1, true), tostring(e))
  end)
end)

-- docs/errors.md is the user's list: one table row per error, "| `name` |
-- code | ... | ... | specs |".  It and the C table (ese.errors) agree both
-- ways, and every spec file a row cites exists.
describe("docs/errors.md", function()
  local rows = {}
  for line in H.read_file("docs/errors.md"):gmatch("[^\n]+") do
    -- a row may name several errors: "| `A`, `B` | -1, -2 |"
    local names, codes = line:match("^| (`JET_[^|]-) | ([%-%d, ]+) |")
    if names then
      local cs = {}
      for c in codes:gmatch("%-?%d+") do cs[#cs + 1] = tonumber(c) end
      local k = 0
      for name in names:gmatch("`(JET_[%w_]+)`") do
        k = k + 1
        rows[#rows + 1] = { name = name, code = cs[k], line = line }
      end
      assert(k == #cs, "docs/errors.md: names and numbers differ in count: " .. line:sub(1, 80))
    end
  end

  it("lists every error of ese.errors with its number, and no other", function()
    assert.is_true(#rows >= 60, #rows .. " rows")
    local listed = {}
    for _, r in ipairs(rows) do
      assert.is_nil(listed[r.name], r.name .. " listed twice")
      listed[r.name] = r.code
      assert.are.equal(ese.errors[r.name], r.code, r.name .. " in docs/errors.md")
    end
    for name, code in pairs(ese.errors) do
      if type(name) == "string" and code < 0 then
        assert.are.equal(code, listed[name], name .. " is missing from docs/errors.md")
      end
    end
  end)

  it("counts the rows of its first table in its Summary: the errors, those not produced, those reached", function()
    local text = H.read_file("docs/errors.md")
    local first = assert(text:match("\n## ESE's backup, restore and instance errors\n(.-)\n## "))
    local total, produced_not = 0, {}
    for line in first:gmatch("[^\n]+") do
      local name = line:match("^| `(JET_[%w_]+)` |")
      if name then
        total = total + 1
        if line:find("**Not produced.**", 1, true) then produced_not[#produced_not + 1] = name end
      end
    end
    local summary = assert(text:match("\n## Summary\n(.-)\n## "))
    local n_total, n_reached = summary:match("The first table has (%d+) errors%. (%d+) of them are reached")
    assert.are.equal(total, tonumber(n_total))
    assert.are.equal(total - #produced_not, tonumber(n_reached))
    assert.are.equal(#produced_not, tonumber(summary:match("\n%- (%d+) are %*%*not produced%*%*")))
    for _, name in ipairs(produced_not) do assert.truthy(summary:find("`" .. name .. "`", 1, true), name) end
  end)

  it("cites spec files and C harness programs that exist", function()
    local n = 0
    for _, r in ipairs(rows) do
      for file in r.line:gmatch("`([%w_]+_spec%.lua)`") do
        n = n + 1
        assert.is_truthy(io.open("spec/" .. file), r.name .. " cites spec/" .. file)
      end
      for file in r.line:gmatch("`([%w_]+%.c)`") do
        if r.line:find("harness `" .. file, 1, true) then
          n = n + 1
          assert.is_truthy(io.open("spec/c/" .. file), r.name .. " cites spec/c/" .. file)
        end
      end
    end
    assert.is_true(n >= 60, n .. " citations")
  end)
end)
