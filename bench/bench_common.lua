--[[
bench_common.lua -- what the Lua benchmarks share (ese_bench.lua,
replay_bench.lua): the records of bench_common.h, bit for bit, and the log
bytes of a folder.  Loaded with dofile(); returns a table; `fs` is ese.fs.

Records: key i = 16 hex digits of mix64(i), value = the pooled 100-byte
value make_value(i % VALUE_POOL).

"Log bytes" of a folder: for every log generation file (edb.log,
edbXXXXXXXX.log), the offset just past its last non-zero byte (rounded up
to 8) less 12288 (log format 3: the header and the two shadow slots before
the first record; a file without records counts 0).  Generation files are made whole with
zeros and a record never ends in zeros beyond its 8-byte alignment, so this
is the end of the records in each file whatever the record format.
]]
return function(fs)
  local M = { VALUE_POOL = 1024, LOG_DATA = 12288 }  -- LOG_DATA: the first record of a log file (docs/format.md)

  -- splitmix64's finalizer; Lua 5.4 integers wrap like uint64_t, >> is logical.
  function M.mix64(x)
    x = x + 0x9E3779B97F4A7C15
    x = (x ~ (x >> 30)) * 0xBF58476D1CE4E5B9
    x = (x ~ (x >> 27)) * 0x94D049BB133111EB
    return x ~ (x >> 31)
  end
  local mix64 = M.mix64

  -- x mod m with x read as unsigned 64 bits (0 < m < 2^62).
  function M.umod(x, m)
    local r = x - (((x >> 1) // m) << 1) * m   -- in [0, 2m)
    if r >= m then r = r - m end
    return r
  end
  local umod = M.umod

  function M.make_key(i) return string.format("%016x", mix64(i)) end

  local function make_value(i)
    local x = mix64(i ~ 0x5555555555555555)
    local b = {}
    for j = 1, 100 do
      x = x ~ (x << 13); x = x ~ (x >> 7); x = x ~ (x << 17)
      b[j] = 97 + umod(x, 26)
    end
    return string.char(table.unpack(b))
  end

  local pool = {}
  for i = 0, M.VALUE_POOL - 1 do pool[i] = make_value(i) end
  M.pool = pool
  function M.value(i) return pool[i % M.VALUE_POOL] end

  -- Offset just past the last non-zero byte of a file, rounded up to 8.
  local function data_end(path)
    local f = assert(io.open(path, "rb"))
    local pos = f:seek("end")
    while pos > 0 do
      local start = math.max(0, pos - (1 << 16))
      f:seek("set", start)
      local s = f:read(pos - start)
      local r = s:reverse():find("[^\0]")
      if r then
        f:close()
        return (start + #s - r + 1 + 7) & ~7
      end
      pos = start
    end
    f:close()
    return 0
  end

  function M.log_bytes(dir)
    local total = 0
    for _, name in ipairs(fs.list(dir)) do
      if name:match("^edb%x*%.log$") then
        total = total + math.max(0, data_end(dir .. "/" .. name) - M.LOG_DATA)
      end
    end
    return total
  end

  -- The sum of the sizes of dir's files.
  function M.tree_bytes(dir)
    local total = 0
    for _, name in ipairs(fs.list(dir)) do
      local st = fs.stat(dir .. "/" .. name)
      if st.kind == "file" then total = total + st.size end
    end
    return total
  end

  return M
end
