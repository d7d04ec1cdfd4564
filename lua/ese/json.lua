--- The JSON text of `ese ... --json` (the CLI's output encoder; cli.json
-- is this module's encode).  Pure string building over lua-cjson's string
-- escaping.
-- @module ese.json
local cjson = require "cjson"

local json = {}

-- JSON output (--json).  Its own encoder, because lua-cjson 2.1.0 (Debian
-- 12) writes every number with %.14g (microsecond times lose their last
-- digits) and an empty table as {}.  Rules:
-- * integers (and integer-valued floats below 2^53) print as integers;
-- * a time (a point or a duration) is an integer count of microseconds
--   under a key ending in "_us" (created_us, time_us, elapsed_us, ...): a
--   float there is rounded to the nearest integer, so none has a fraction;
-- * other floats print with the fewest digits that read back the same;
--   NaN and infinities print as null;
-- * a table is an array when it is a non-empty sequence, or when it is
--   empty under a key of JSON_LISTS (the lists the commands print); any
--   other table is an object with its keys sorted;
-- * functions, userdata, threads and cycles are left out;
-- * a string has JSON's escapes but for "/", written as is; each byte of it
--   that is not part of valid UTF-8 (a file name may hold any byte but "/"
--   and NUL) is written as U+FFFD, so that the text is always valid JSON
--   (lua-cjson would copy the byte as is); keys likewise.
local JSON_LISTS = {
  bases = true, logs = true, problems = true, gaps = true, signatures = true,
  files = true, sets = true, databases = true, keep = true, delete = true, deleted = true, points = true,
}

local function json_number(v, key)
  if math.type(v) == "integer" then return ("%d"):format(v) end
  if v ~= v or v == math.huge or v == -math.huge then return "null" end
  if type(key) == "string" and key:sub(-3) == "_us" then v = math.floor(v + 0.5) end
  local i = math.tointeger(v)
  if i and math.abs(i) < (1 << 53) then return ("%d"):format(i) end
  for digits = 15, 17 do
    local text = ("%." .. digits .. "g"):format(v)
    if tonumber(text) == v then return text end
  end
  return ("%.17g"):format(v)
end

-- s with each byte that is not part of valid UTF-8 (utf8.len's strict
-- rule: no overlong forms, surrogates or code points above U+10FFFF)
-- replaced by U+FFFD.
local function valid_utf8(s)
  if utf8.len(s) then return s end
  local parts, i = {}, 1
  while i <= #s do
    local n, bad = utf8.len(s, i)
    if n then
      parts[#parts + 1] = s:sub(i)
      break
    end
    parts[#parts + 1] = s:sub(i, bad - 1) .. "\u{FFFD}"
    i = bad + 1
  end
  return table.concat(parts)
end

-- The JSON string of s (valid_utf8), "/" written as is: lua-cjson writes
-- it "\/" (legal JSON, but every path of the output would read
-- /srv\/app\/data to grep and to the eye); a "\/" there is always its
-- escape of "/" (a backslash comes out as "\\").
local function json_string(s)
  return (cjson.encode(valid_utf8(s)):gsub("\\/", "/"))
end

local function json_encode(v, key, seen, buf)
  local t = type(v)
  if t == "number" then
    buf[#buf + 1] = json_number(v, key)
  elseif t == "string" then
    buf[#buf + 1] = json_string(v)
  elseif t == "boolean" then
    buf[#buf + 1] = tostring(v)
  elseif t ~= "table" or seen[v] then
    buf[#buf + 1] = "null"
  else
    seen[v] = true
    local n, count = #v, 0
    for _ in pairs(v) do count = count + 1 end
    if (count == 0 and JSON_LISTS[key]) or (count > 0 and count == n) then
      buf[#buf + 1] = "["
      for i = 1, n do
        if i > 1 then buf[#buf + 1] = "," end
        json_encode(v[i], key, seen, buf)
      end
      buf[#buf + 1] = "]"
    else
      local keys = {}
      for k, x in pairs(v) do
        local kt = type(x)
        if kt ~= "function" and kt ~= "userdata" and kt ~= "thread" and not seen[x] then
          keys[#keys + 1] = tostring(k)
        end
      end
      table.sort(keys)
      buf[#buf + 1] = "{"
      for i, k in ipairs(keys) do
        local x = v[k]
        if x == nil then x = v[tonumber(k)] end
        buf[#buf + 1] = (i > 1 and "," or "") .. json_string(k) .. ":"
        json_encode(x, k, seen, buf)
      end
      buf[#buf + 1] = "}"
    end
    seen[v] = nil
  end
  return buf
end

--- v as JSON text, by the rules above.
-- @param v a value
-- @return the JSON text
function json.encode(v)
  return table.concat(json_encode(v, nil, {}, {}))
end

return json
