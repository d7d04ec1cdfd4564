-- The records of the log files of a folder (B*.log), read by the framing of
-- docs/format.md: records from offset 12288, each u32 length, u8 type,
-- 3 zero bytes, the payload, u32 CRC32C, padded to 8; a zero length word ends a
-- file's data (padding to a 4096-byte block aside).  No record's checksum
-- is checked: these are the engine's own files, read for what they hold.
-- At a zero length word the newest valid shadow slot holding that block
-- (docs/format.md, "Shadow slots") stands in for it: a durable commit that
-- stayed in its block is in the slot only until a later write puts it in
-- place.
local H = require "support.helpers"

local M = {}

-- The valid shadow slots of a log file's bytes, newest (highest k) first:
-- { k, q (the block), e (the durable end), bytes ([q * 4096, e)) }.
local function slots(data)
  local out = {}
  if #data < 12288 then return out end
  local gen = string.unpack("<I4", data, 13)
  for _, at in ipairs({ 4096, 8192 }) do
    local crc, g, k, q, s, e, z = string.unpack("<I4I4I8I4I4I4I4", data, at + 1)
    if k >= 1 and g == gen and z == 0 and s >= 12288 and e >= s and e <= #data and q == e // 4096
       and crc == H.crc32c(data, at + 5, at + 4096) then
      out[#out + 1] = { k = k, q = q, e = e, bytes = data:sub(at + 33, at + 32 + e - q * 4096) }
    end
  end
  table.sort(out, function(a, b) return a.k > b.k end)
  return out
end

-- data with the block of off replaced by the newest unused slot of it
-- whose durable end is past off, or nil.
local function from_slot(data, off, sl)
  for _, x in ipairs(sl) do
    if not x.used and x.q == off // 4096 and x.e > off then
      x.used = true
      return data:sub(1, x.q * 4096) .. x.bytes .. data:sub(x.e + 1)
    end
  end
end

-- Calls f(type, payload, offset, name) for each record of each log file of
-- dir (offset: of the record in the file, 0-based; name: the file's).
function M.each(dir, f)
  for name in pairs(H.ls(dir)) do
    if name:match("%.log$") then
      local data = assert(H.read_file(dir .. "/" .. name))
      local sl, off = slots(data), 12288
      while off + 12 <= #data do
        local len = string.unpack("<I4", data, off + 1)
        if len == 0 then
          if off % 4096 > 4064 then off = off - off % 4096 + 4096
          else
            data = from_slot(data, off, sl)
            if not data then break end
          end
        else
          f(data:byte(off + 5), data:sub(off + 9, off + 8 + len), off, name)
          off = off + ((12 + len + 7) & ~7)
        end
      end
    end
  end
end

-- Counts of the record types in the log files of dir.
function M.types(dir)
  local counts = {}
  M.each(dir, function(ty) counts[ty] = (counts[ty] or 0) + 1 end)
  return counts
end

-- The framed size of a record of payload length len.
function M.framed(len) return (12 + len + 7) & ~7 end

return M
