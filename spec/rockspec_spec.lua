-- The rockspec builds the module offline, lists every source file and
-- dependency, passes `luarocks lint`, and the repository has its licence.
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

local function run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  return ok == true, out
end

describe("rockspec", function()
  it("passes `luarocks lint`", function()
    local ok, out = run("luarocks --lua-version=5.4 lint " .. ROCKSPEC)
    assert.is_true(ok, out)
  end)

  it("declares the MIT licence, and LICENSE holds its text", function()
    assert.are.equal("MIT", rockspec().description.license)
    local text = H.read_file("LICENSE")
    assert.is_string(text, "no LICENSE file")
    assert.matches("^MIT License", text)
    assert.matches("Copyright %(c%) 2026 the lua%-ese authors", text)
    assert.matches("Permission is hereby granted, free of charge", text, 1, true)
  end)

  it("declares every module it requires outside the standard library: lua-cjson", function()
    local deps = table.concat(rockspec().dependencies, "\n")
    assert.matches("lua >= 5.4", deps, 1, true)
    assert.matches("\nlua%-cjson", deps)
    -- every require of lua/ese/*.lua and bin/ese is ese's own or cjson
    for _, path in ipairs(ls("lua/ese/*.lua bin/ese")) do
      for name in H.read_file(path):gmatch("require%s*%(?%s*[\"']([%w._]+)[\"']") do
        assert.is_truthy(name == "ese" or name:match("^ese%.") or name == "cjson",
          path .. " requires " .. name .. ", which the rockspec does not declare")
      end
    end
  end)

  it("the lint accepts an external C library declaration (libcrypto)", function()
    local w = H.world()
    local text = H.read_file(ROCKSPEC)
    local decl = '\nexternal_dependencies = { CRYPTO = { library = "crypto" } }'
    local extra = text:gsub("\nbuild = {", decl .. "\nbuild = {", 1)
    local path = w:path(ROCKSPEC)
    H.write_file(path, extra)
    local ok, out = run("luarocks --lua-version=5.4 lint " .. path)
    assert.is_true(ok, out)
    w:cleanup()
  end)

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

  -- --deps-mode=none: lua-cjson is declared, but offline luarocks cannot
  -- fetch it, and Debian's lua-cjson package (outside luarocks' trees)
  -- provides it at run time.
  it("`luarocks make` builds it offline into a tree where require \"ese\" works", function()
    local w = H.world()
    local tree = w:path("tree")
    local src = w:path("src")
    -- a copy, so the build leaves nothing in the working tree
    assert.is_true(os.execute("mkdir -p " .. src .. " && cp -r csrc lua bin " .. ROCKSPEC .. " " .. src))
    local cmd = ("cd %s && luarocks --lua-version=5.4 --tree=%s make --deps-mode=none %s > build.log 2>&1")
      :format(src, tree, ROCKSPEC)
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
