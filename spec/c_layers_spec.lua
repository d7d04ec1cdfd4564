-- The C layer map (issue 10, docs/internals.md "The layer map"): the table
-- in the document places every file of csrc/, and no file includes the
-- header of a layer above its own.  The table is read from the document itself, so the
-- map and the code cannot drift apart.
local ese = require "ese"
local H = require "support.helpers"

-- Exceptions: file -> header it may include though above (none now; an
-- entry here needs its reason in docs/internals.md "What is left of the plan").
local UPWARD = {}

-- { module = layer index } from the layer table (1 = top); a module is a
-- file name without .c/.h ("pager" for pager.c + pager.h).
local function layer_map()
  local text = H.read_file("docs/internals.md")
  local map, rows = {}, 0
  local table_text = text:match("| layer, top to bottom | files | what lives there |\n(.-)\n\n")
  assert.is_truthy(table_text, "the layer table of docs/internals.md")
  for line in table_text:gmatch("[^\n]+") do
    local files = line:match("^| [^|]+ | ([^|]+) |")
    if files and not line:match("^|%-") then
      rows = rows + 1
      for name in files:gmatch("`([%w_]+)%.[ch]`") do
        assert.is_true(map[name] == nil or map[name] == rows, name .. " is placed in two layers")
        map[name] = rows
      end
    end
  end
  return map, rows
end

-- { "file.c" / "file.h" = { included module names } } of csrc/ (the
-- binding's lua_*.c and the public include/ folder aside).
local function include_graph()
  local g = {}
  for _, name in ipairs(ese.fs.list("csrc")) do
    if name:match("%.[ch]$") and not name:match("^lua_") then
      local deps = {}
      for dep in H.read_file("csrc/" .. name):gmatch('#include%s+"([%w_]+)%.h"') do
        if dep ~= "ese" then deps[#deps + 1] = dep end
      end
      g[name] = deps
    end
  end
  return g
end

describe("the C layer map", function()
  it("places every engine file of csrc/ in one layer of docs/internals.md's table", function()
    local map, rows = layer_map()
    assert.is_true(rows >= 8)
    local unplaced = {}
    for name in pairs(include_graph()) do
      local mod = name:match("^(.-)%.[ch]$")
      if not map[mod] and mod ~= "internal" then unplaced[#unplaced + 1] = name end
    end
    table.sort(unplaced)
    assert.are.same({}, unplaced)
  end)

  it("no engine file includes a header of a layer above its own", function()
    local map = layer_map()
    local up, used = {}, {}
    for name, deps in pairs(include_graph()) do
      local mod = name:match("^(.-)%.[ch]$")
      for _, dep in ipairs(deps) do
        if map[mod] and map[dep] and map[dep] < map[mod] then
          if UPWARD[name] and UPWARD[name][dep] then
            used[name .. " -> " .. dep] = true
          else
            up[#up + 1] = name .. " includes " .. dep .. ".h"
          end
        end
      end
    end
    table.sort(up)
    assert.are.same({}, up)
    -- an exception no longer needed is dropped from the list (and from the document)
    for file, deps in pairs(UPWARD) do
      for dep in pairs(deps) do
        assert.is_true(used[file .. " -> " .. dep] or false, file .. " -> " .. dep .. " is no longer an exception")
      end
    end
  end)

  it("internal.h is included by the harness programs only, never by an engine file", function()
    local by = {}
    for name, deps in pairs(include_graph()) do
      for _, dep in ipairs(deps) do
        if dep == "internal" and name ~= "internal.h" then by[#by + 1] = name end
      end
    end
    assert.are.same({}, by)
  end)
end)
