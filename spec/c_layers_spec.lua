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

-- DESIGN's "Jet* entry points: argument checks, instance-state gate, mode
-- rules; thin": every public function of csrc/include/ese.h is defined in
-- a file of the two top rows of the layer table (the clients of the public
-- API and the entry points), never in the file of a layer below.
describe("the public functions of ese.h", function()
  local function top_files()
    local text = H.read_file("docs/internals.md")
    local table_text = text:match("| layer, top to bottom | files | what lives there |\n(.-)\n\n")
    local top, row = {}, 0
    for line in table_text:gmatch("[^\n]+") do
      local files = line:match("^| [^|]+ | ([^|]+) |")
      if files and not line:match("^|%-") then
        row = row + 1
        if row <= 2 then
          for name in files:gmatch("`([%w_]+%.c)`") do top[name] = true end
        end
      end
    end
    return top
  end

  -- { function name = file defining it } of the engine's .c files
  local function definitions()
    local defs = {}
    for _, name in ipairs(ese.fs.list("csrc")) do
      if name:match("%.c$") and not name:match("^lua_") then
        for line in H.read_file("csrc/" .. name):gmatch("[^\n]+") do
          local fn = line:match("^[%a][%w_ %*]-[%s%*]([%a_][%w_]*)%(")
          if fn and not line:match(";%s*$") and not line:match("^static") then defs[fn] = name end
        end
      end
    end
    return defs
  end

  it("are each defined in a client or entry-point file, none in a layer below", function()
    local top, defs = top_files(), definitions()
    assert.is_true(top["jet_backup.c"] and top["backup_folder.c"] or false)
    local below, missing, n = {}, {}, 0
    for line in H.read_file("csrc/include/ese.h"):gmatch("[^\n]+") do
      local fn = line:match("^[%a][%w_ %*]-[%s%*]((%a+)[%w_]*)%(")
      if fn and (fn:match("^Jet") or fn:match("^Ese")) then
        n = n + 1
        if not defs[fn] then missing[#missing + 1] = fn
        elseif not top[defs[fn]] then below[#below + 1] = fn .. " in " .. defs[fn] end
      end
    end
    table.sort(below)
    assert.is_true(n >= 70, "public functions found in ese.h: " .. n)
    assert.are.same({}, missing)
    assert.are.same({}, below)
  end)

  it("are thin in the entry-point files: no function of a jet_*.c file is over 25 lines", function()
    local long, files = {}, 0
    for _, name in ipairs(ese.fs.list("csrc")) do
      if name:match("^jet_.*%.c$") then
        files = files + 1
        local fn, first, n = nil, nil, 0
        for line in H.read_file("csrc/" .. name):gmatch("([^\n]*)\n") do
          n = n + 1
          local f = line:match("^[%a][%w_ %*]-[%s%*]([%a_][%w_]*)%(")
          if f and not fn and not line:match(";%s*$") and not line:match("}%s*$") then fn, first = f, n end
          if fn and line:match("^}") then
            if n - first + 1 > 25 then long[#long + 1] = name .. ": " .. fn .. " " .. (n - first + 1) .. " lines" end
            fn = nil
          end
        end
      end
    end
    assert.is_true(files >= 6)
    assert.are.same({}, long)
  end)
end)
