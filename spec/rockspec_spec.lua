-- The rockspec builds the module offline and lists every source file.
local H = require "support.helpers"

local ROCKSPEC = "lua-ese-scm-1.rockspec"

local function rockspec()
  local env = {}
  assert(loadfile(ROCKSPEC, "t", env))()
  return env
end

local function ls(pattern)
  local p = io.popen("ls " .. pattern .. " 2>/dev/null")
  local t = {}
  for line in p:lines() do t[#t + 1] = line end
  p:close()
  return t
end

describe("rockspec", function()
  it("lists exactly the C sources of csrc/ for ese.core", function()
    local listed = rockspec().build.modules["ese.core"].sources
    table.sort(listed)
    assert.are.same(ls("csrc/*.c"), listed)
  end)

  it("installs every Lua module of lua/ese/ and bin/ese", function()
    local spec = rockspec()
    for _, path in ipairs(ls("lua/ese/*.lua")) do
      local name = path:match("lua/ese/(.-)%.lua$")
      local mod = name == "init" and "ese" or "ese." .. name
      assert.are.equal(path, spec.build.modules[mod], mod)
    end
    assert.are.equal("bin/ese", spec.build.install.bin.ese)
  end)

  it("`luarocks make` builds it offline into a tree where require \"ese\" works", function()
    local w = H.world()
    local tree = w:path("tree")
    local src = w:path("src")
    -- a copy, so the build leaves nothing in the working tree
    assert.is_true(os.execute("mkdir -p " .. src .. " && cp -r csrc lua bin " .. ROCKSPEC .. " " .. src))
    local cmd = ("cd %s && luarocks --lua-version=5.4 --tree=%s make %s > build.log 2>&1"):format(src, tree, ROCKSPEC)
    assert.is_true(os.execute(cmd), H.read_file(src .. "/build.log"))
    local probe = ("lua5.4 -e 'package.cpath=%q..package.cpath; package.path=%q..package.path; "
      .. "local ese = require \"ese\"; io.write(ese.errors.JET_errNoBackup)'"):format(
      tree .. "/lib/lua/5.4/?.so;", tree .. "/share/lua/5.4/?.lua;" .. tree .. "/share/lua/5.4/?/init.lua;")
    local p = io.popen(probe)
    local out = p:read("a")
    p:close()
    assert.are.equal("-520", out)
    w:cleanup()
  end)
end)
