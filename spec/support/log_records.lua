-- The records of the log files of a folder (B*.log), read by the framing of
-- docs/format.md: records from offset 12288, each u32 length, u8 type,
-- 3 zero bytes, the payload, u32 CRC32C, padded to 8; a zero length word ends a
-- file's data (padding to a 4096-byte block aside).  No checksum is
-- checked: these are the engine's own files, read for what they hold.
local H = require "support.helpers"

local M = {}

-- Calls f(type, payload, offset, name) for each record of each log file of
-- dir (offset: of the record in the file, 0-based; name: the file's).
function M.each(dir, f)
  for name in pairs(H.ls(dir)) do
    if name:match("%.log$") then
      local data = assert(H.read_file(dir .. "/" .. name))
      local off = 12288
      while off + 12 <= #data do
        local len = string.unpack("<I4", data, off + 1)
        if len == 0 then
          if off % 4096 > 4064 then off = off - off % 4096 + 4096 else break end
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
