--- The log chain: which generations are there, which are missing, and
-- whether each log follows its predecessor.  The rule itself ("b is the
-- generation after a and was created as its successor") is the C reader's
-- (log_reader.c log_follows, the check recovery and restore apply),
-- reached through ese.log_follows; this module walks it over a set of
-- generations for `ese logs` (a folder) and backup.verify (a chain of sets).
-- @module ese.logchain
local ese = require "ese"
local util = require "ese.util"

local fs = ese.fs

local logchain = {}

--- Whether log b follows log a (tables with generation, created_us,
-- prev_created_us: ese.file_info of the two logs).
logchain.follows = ese.log_follows

--- The findings of the generations lo .. hi of by_gen (generation ->
-- log entry), in ascending order: {kind = "gap", from, to} for a run of
-- missing generations, {kind = "link", prev, log, follows} for two
-- neighbours in lo .. hi whose creation times are both known (entries
-- without created_us / prev_created_us are passed over).
-- @param by_gen generation -> entry
-- @param lo the first generation
-- @param hi the last generation
-- @return a list of findings
function logchain.walk(by_gen, lo, hi)
  local found = {}
  local g = lo
  while g <= hi do
    if not by_gen[g] then
      local s = g
      while g + 1 <= hi and not by_gen[g + 1] do g = g + 1 end
      found[#found + 1] = { kind = "gap", from = s, to = g }
    else
      local prev, e = g > lo and by_gen[g - 1], by_gen[g]
      if prev and prev.created_us and e.prev_created_us then
        found[#found + 1] = { kind = "link", prev = prev, log = e, follows = logchain.follows(prev, e) }
      end
    end
    g = g + 1
  end
  return found
end

--- A gap's generations in words: "generation 8", "generations 8 .. 10".
function logchain.gap_words(gap)
  if gap.from == gap.to then return ("generation %d"):format(gap.from) end
  return ("generations %d .. %d"):format(gap.from, gap.to)
end

--- The log files of dir grouped by base name: { base = { {name, gen?, current}... } }
-- (a folder that cannot be listed has none).
function logchain.find(dir)
  local bases = {}
  local ok, names = pcall(fs.list, dir)
  for _, n in ipairs(ok and names or {}) do
    local base, hex = n:match("^(%w%w%w)(%x%x%x%x%x%x%x%x)%.log$")
    local cur = n:match("^(%w%w%w)%.log$")
    if base or cur then
      local b = base or cur
      bases[b] = bases[b] or {}
      table.insert(bases[b], { name = n, gen = hex and tonumber(hex, 16), current = cur ~= nil })
    end
  end
  return bases
end

-- The entries of one base name's files, sorted by generation; problem(name,
-- text) is called for a file that cannot be read or whose header names
-- another generation than its file name.
local function read_logs(dir, files, verify, problem)
  local logs = {}
  for _, f in ipairs(files) do
    local ok, fi = pcall(ese.file_info, dir .. "/" .. f.name, verify)
    local e = { name = f.name, current = f.current }
    if ok then
      e.generation, e.size, e.signature = fi.generation, fi.file_size, fi.log_signature
      e.created_us, e.prev_created_us = fi.created_us, fi.prev_created_us
      if f.gen and f.gen ~= fi.generation then
        problem("JET_errLogFileCorrupt", ("%s holds generation %d"):format(f.name, fi.generation))
      end
    else
      e.error = util.error_table(fi)
      e.generation = f.gen
      -- the error's own words (its detail names the file), not its whole
      -- text: `ese logs` prints the problem as the detail of its own error
      local text = ese.is_error(fi) and (fi.detail or (f.name .. ": " .. fi.message)) or tostring(fi)
      problem(ese.is_error(fi) and fi.name or "JET_errLogFileCorrupt", text)
    end
    logs[#logs + 1] = e
  end
  table.sort(logs, function(x, y) return (x.generation or -1) < (y.generation or -1) end)
  return logs
end

-- The chain of one base name: { base_name, logs, gen_low, gen_high, gaps, signatures }.
local function check_base(dir, base, files, verify, problem)
  local logs = read_logs(dir, files, verify, problem)
  local sigs, by_gen, lo, hi = {}, {}, nil, nil
  for _, e in ipairs(logs) do
    if e.signature then sigs[e.signature] = (sigs[e.signature] or 0) + 1 end
    if e.generation then
      by_gen[e.generation] = e
      lo = math.min(lo or e.generation, e.generation)
      hi = math.max(hi or e.generation, e.generation)
    end
  end
  local gaps = {}
  for _, f in ipairs(lo and logchain.walk(by_gen, lo, hi) or {}) do
    if f.kind == "gap" then
      gaps[#gaps + 1] = { from = f.from, to = f.to }
      problem("JET_errMissingLogFile", ("%s: %s %s missing"):format(base, logchain.gap_words(f),
        f.from == f.to and "is" or "are"))
    else
      f.log.follows = f.follows
      if not f.follows then
        problem("JET_errGivenLogFileIsNotContiguous", ("%s does not follow %s"):format(f.log.name, f.prev.name))
      end
    end
  end
  local siglist = {}
  for sgn in pairs(sigs) do siglist[#siglist + 1] = sgn end
  table.sort(siglist)
  if #siglist > 1 then
    problem("JET_errGivenLogFileHasBadSignature", ("%s: %d different log signatures"):format(base, #siglist))
  end
  return { base_name = base, logs = logs, gen_low = lo, gen_high = hi, gaps = gaps, signatures = siglist }
end

--- The log chains of the folder dir, one per base name (sorted): every
-- generation's file, size, creation time and signature, the gaps, whether
-- each log follows its predecessor, the signatures; with verify every log
-- record is checked too.
-- @param dir the folder
-- @param verify check every record (ese.file_info(path, true))
-- @return {dir, bases = {...}, ok, problems = {{name, text}...}} and the
--   error object of the first problem (nil when ok)
function logchain.check_dir(dir, verify)
  local result = { dir = dir, bases = {}, ok = true, problems = {} }
  local first_err
  local function problem(name, text)
    result.ok = false
    result.problems[#result.problems + 1] = { name = name, text = text }
    first_err = first_err or util.error(name, "logs", text)
  end
  local bases = logchain.find(dir)
  local names = {}
  for b in pairs(bases) do names[#names + 1] = b end
  table.sort(names)
  for _, base in ipairs(names) do
    result.bases[#result.bases + 1] = check_base(dir, base, bases[base], verify, problem)
  end
  return result, first_err
end

return logchain
