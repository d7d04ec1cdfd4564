--- The ustar pieces backup.run_to writes: entry headers (GNU base-256
-- sizes for files of 8 GiB and more), the padding after an entry and the
-- end blocks.  Pure string building, no I/O.
-- @module ese.tar
local tar = {}

local function octal(n, width)
  -- width-1 octal digits and a NUL
  return string.format("%0" .. (width - 1) .. "o", n) .. "\0"
end

local function size_field(n)
  if n < 8 ^ 11 then return octal(n, 12) end
  -- GNU base-256 for files of 8 GiB and more
  local b = {}
  for i = 11, 1, -1 do b[i] = string.char(n & 0xff); n = n >> 8 end
  return "\x80" .. table.concat(b)
end

--- One 512-byte ustar header.
-- @param name entry name (at most 100 bytes)
-- @param size bytes
-- @param mode e.g. 384 (0600)
-- @param mtime seconds
-- @param typeflag "0" file, "5" folder
function tar.header(name, size, mode, mtime, typeflag)
  if #name > 100 then error("tar entry name longer than 100 bytes: " .. name) end
  local function pad(s, n) return s .. string.rep("\0", n - #s) end
  local head = pad(name, 100) .. octal(mode, 8) .. octal(0, 8) .. octal(0, 8) ..
    size_field(size) .. octal(mtime, 12)
  local tail = (typeflag or "0") .. pad("", 100) .. "ustar\0" .. "00" .. pad("root", 32) ..
    pad("root", 32) .. octal(0, 8) .. octal(0, 8) .. pad("", 155)
  local sum = 0
  local blank = head .. "        " .. tail
  for i = 1, #blank do sum = sum + blank:byte(i) end
  local h = head .. string.format("%06o", sum) .. "\0 " .. tail
  return pad(h, 512)
end

--- The zeros after an entry of size bytes, up to a 512-byte block.
function tar.pad(size)
  local r = size % 512
  return r == 0 and "" or string.rep("\0", 512 - r)
end

--- The end of an archive: two zero blocks.
tar.END = string.rep("\0", 1024)

return tar
