-- Hostile tests of session 14.  Each case failed before the change it
-- came with (the commit message says how).
local ese = require "ese"
local H = require "support.helpers"

describe("hostile 14", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  describe("a paced reader whose chunk stopped half-way", function()
    -- The child streams the database of a 4 MiB long value at 1 MiB/s:
    -- the first chunk's first piece is a burst of 100 KiB, the second
    -- waits, so the reader stops (its wait function raises or yields)
    -- with part of the chunk read.  What the reader delivers, in order,
    -- must be the stream: every byte once (r:size() of them, the copy's
    -- pages verify), whatever the later reads ask for.
    local CHILD = [[
local ese = require "ese"
local dir, case = arg[1], arg[2]
local inst = ese.create_instance("pace-half", { system_path = dir, log_path = dir, log_file_size = 1024 })
inst:init()
local s = inst:begin_session()
local t = s:create_table(s:create_database(dir .. "/app.edb"), "t")
t:put("big", ("x"):rep(4 << 20))
inst:begin_external_backup()
local r = inst:open_file(dir .. "/app.edb")
local parts = {}
local function drain(n)
  while true do
    local c = r:read(n)
    if not c then return end
    assert(#c <= n, "a chunk longer than asked")
    parts[#parts + 1] = c
  end
end
inst:set_params({ backup_max_rate = 1 << 20 })
if case == "yield" then
  -- two coroutines on one reader: a's chunk of 1 MiB stops half-way (its
  -- wait yields); b reads chunks of 2 MiB to the end; then a goes on
  ese.set_pace_wait(function() coroutine.yield("ese.pace") end)
  local a = coroutine.create(function() drain(1 << 20) end)
  local b = coroutine.create(function() drain(2 << 20) end)
  assert(coroutine.resume(a))
  assert(coroutine.status(a) == "suspended" and r:tell() == 0, "a stopped half-way")
  inst:set_params({ backup_max_rate = 0 })
  repeat assert(coroutine.resume(b)) until coroutine.status(b) == "dead"
  repeat assert(coroutine.resume(a)) until coroutine.status(a) == "dead"
else
  -- the wait function raises: the read fails half-way; later reads ask
  -- for less (case "smaller") or more (case "larger") than it did
  ese.set_pace_wait(function() error("stop here") end)
  local ok, e = pcall(r.read, r, 1 << 20)
  assert(not ok and tostring(e):find("stop here", 1, true), tostring(e))
  assert(r:tell() == 0)
  ese.set_pace_wait(nil)
  inst:set_params({ backup_max_rate = 0 })
  drain(case == "smaller" and 8192 or 8 << 20)
end
local data = table.concat(parts)
local copy = dir .. "/copy.edb"
local f = assert(io.open(copy, "wb"))
assert(f:write(data))
assert(f:close())
local vok, verr = pcall(ese.file_info, copy, true)
print(("DELIVERED %d SIZE %d TELL %d VERIFY %s"):format(#data, r:size(), r:tell(), vok and "ok" or tostring(verr)))
r:close()
inst:end_external_backup({ abort = true })
inst:term({ complete = true })
]]

    local cases = {
      { "smaller", "later reads of 8 KiB get the bytes read so far first (before: dropped, the stream 96 KiB "
                   .. "short and no error)" },
      { "larger", "a later read of 8 MiB keeps them and grows the buffer (before: read past the 1 MiB buffer, "
                  .. "SIGSEGV)" },
      { "yield", "another coroutine's reads of 2 MiB while it waits take them, then it goes on (before: "
                 .. "SIGSEGV)" },
    }
    for _, c in ipairs(cases) do
      it(c[1] .. ": " .. c[2], function()
        local code, out, err = H.lua_child(CHILD, { w.dir, c[1] })
        assert.are.equal(0, code, out .. err)
        local got, size, tell, verify = out:match("DELIVERED (%d+) SIZE (%d+) TELL (%d+) VERIFY (.-)\n")
        assert.is_not_nil(got, out .. err)
        assert.are.equal(size, got)
        assert.are.equal(size, tell)
        assert.are.equal("ok", verify)
      end)
    end
  end)

  describe("ese.fs.chmod's mode", function()
    it("out of 0 .. 07777 is an argument error, the file untouched (before: -1 set 07777, setuid and setgid "
       .. "included; 2^40 + 420 set 420: cut to mode_t)", function()
      local f = w:path("f")
      H.write_file(f, "x")
      ese.fs.chmod(f, 384)                    -- 0600
      for _, bad in ipairs({ -1, 4096, 1 << 40, (1 << 40) | 420, math.mininteger }) do
        H.expect_argerror("mode out of range", ese.fs.chmod, f, bad)
        assert.are.equal(384, ese.fs.stat(f).mode, tostring(bad))
      end
      H.expect_argerror("number expected", ese.fs.chmod, f)
      H.expect_argerror("number has no integer representation", ese.fs.chmod, f, 1.5)
      ese.fs.chmod(f, 4095)                   -- 07777, the largest
      assert.are.equal(4095, ese.fs.stat(f).mode)
      ese.fs.chmod(f, 0)
      assert.are.equal(0, ese.fs.stat(f).mode)
    end)
  end)

  describe("ese.restore with live_log_path of a running instance", function()
    it("the instance rolls its log while the restore yields: the live log scanned at Begin is still the one "
       .. "copied (before: the new B.log was read as the old generation, JET_errLogCorruptDuringHardRestore "
       .. "and an unusable destination)", function()
      local backup = require "ese.backup"
      local t, _, _, inst = w:table({ log_file_size = 64 })
      for i = 1, 20 do t:put(("k%03d"):format(i), ("v"):rep(3000)) end
      backup.run(inst, w:path("set"))
      for i = 21, 40 do t:put(("k%03d"):format(i), ("v"):rep(3000)) end
      local gen = ese.file_info(w:path("edb.log")).generation
      local dest = w:path("dest")
      local co = coroutine.wrap(function()
        local opts = { live_log_path = w.dir, on_progress = function() coroutine.yield() end }
        return ese.restore(w:path("set"), dest, opts)
      end)
      assert.is_nil(co())                     -- Begin has scanned the live folder; nothing copied yet
      local n = 40
      while ese.file_info(w:path("edb.log")).generation < gen + 2 do
        n = n + 1
        t:put(("k%03d"):format(n), ("w"):rep(3000))
      end
      local res
      repeat res = co() until res
      assert.is_true(res.last_generation >= gen)
      local keys = H.restored_keys(w, dest)
      -- every commit before the restore began, and then a prefix of the later ones
      local last = 0
      for k in pairs(keys) do last = math.max(last, tonumber(k:sub(2))) end
      assert.is_true(last >= 40)
      for i = 1, last do assert.is_true(keys[("k%03d"):format(i)], i) end
      assert.are.equal(last, H.count_prefix(keys, "k"))
    end)
  end)
end)
