--- Terminal output shared by the CLI and the demo: number formatting
-- (bytes, durations, rates, times) and progress (a bar on a terminal,
-- plain lines otherwise).  Requires only ese and ese.util.
-- @module ese.ui
local ese = require "ese"
local util = require "ese.util"

local ui = {}

local fs = ese.fs
local now = util.now

-- ---------------------------------------------------------------------------
-- Formatting

local function human(n)
  n = n or 0
  local units = { "B", "KiB", "MiB", "GiB", "TiB" }
  local i = 1
  while n >= 1024 and i < #units do n = n / 1024; i = i + 1 end
  return i == 1 and ("%d B"):format(math.floor(n)) or ("%.1f %s"):format(n, units[i])
end

-- "1 file", "2 files": n and word, plural unless n is 1.
local function plural(n, word)
  return ("%d %s%s"):format(n, word, n == 1 and "" or "s")
end

local function duration(s)
  if s < 60 then return ("%.2f s"):format(s) end
  return ("%d:%02d"):format(s // 60, math.floor(s % 60))
end

local function rate(bytes, secs)
  if not secs or secs <= 0 then return "-" end
  return human(bytes / secs) .. "/s"
end

-- Microseconds since the epoch (an integer) as UTC with `places` (3, the
-- default, or 6) digits of the second, cut (never rounded up into the next
-- second); "-" for none.
local function utc_us(us, places)
  if not us or us == 0 then return "-" end
  places = places or 3
  local scale = 1
  for _ = places + 1, 6 do scale = scale * 10 end
  return os.date("!%Y-%m-%d %H:%M:%S", us // 1000000) .. (".%0" .. places .. "d"):format((us % 1000000) // scale)
end

ui.human, ui.duration, ui.rate = human, duration, rate

-- ---------------------------------------------------------------------------
-- Output: text or JSON, progress as a bar (terminal) or plain lines

local function stdout_is_tty()
  return fs.isatty(1)
end

--- The output of one command: {json, mode} with mode ("bar", "lines", "none").
-- ESE_PROGRESS=bar|lines|none overrides the choice (a terminal gets a bar).
function ui.new_ui(json)
  local mode = os.getenv("ESE_PROGRESS")
  if mode ~= "bar" and mode ~= "lines" and mode ~= "none" then
    mode = stdout_is_tty() and "bar" or "lines"
  end
  if json then mode = "none" end
  return { json = json, mode = mode }
end

local function out(...)
  io.stdout:write(...)
  io.stdout:write("\n")
end

-- A progress callback for backup.run / verify / ese.restore events.
-- label: the step's name.  Returns fn(p) and finish().  A bar is one line,
-- redrawn at most every 0.1 s and whenever the file or percentage changes.
function ui.progress(u, label)
  local t0 = now()
  local last_file, last_draw, last_pct = nil, -1, -1
  local drawn = false
  local function bar(p)
    local frac = (p.total and p.total > 0) and math.min(1, p.done / p.total) or 1
    local width = 20
    local fill = math.floor(frac * width + 0.5)
    local elapsed = now() - t0
    local text
    if p.phase == "verify" then
      text = ("%d/%s"):format(p.index or 0, plural(p.files or 0, "file"))
    elseif p.phase == "truncate" then
      text = "truncating the logs"
    elseif p.phase == "end" then
      text = "ending the backup"
    else
      -- bytes of this file (or of the whole restore), the rate over the
      -- step, and the time left for this file at that rate
      local moved = p.bytes or p.done
      local r = elapsed >= 0.01 and moved / elapsed or nil
      local left = (r and r > 0) and duration(math.max(0, (p.total - p.done) / r)) or "-"
      text = ("%s / %s  %s  %s left"):format(human(p.done), human(p.total), r and (human(r) .. "/s") or "-", left)
    end
    local name = p.file or p.phase or label
    if #name > 20 then name = ".." .. name:sub(-18) end
    io.stdout:write(("\r%-8s %-20s [%s%s] %3d%%  %s\27[K"):format(
      label, name, ("#"):rep(fill), ("."):rep(width - fill), math.floor(frac * 100), text))
    io.stdout:flush()
    drawn = true
  end
  local function fn(p)
    if u.mode == "none" then return end
    if u.mode == "bar" then
      local t = now()
      local pct = p.total and p.total > 0 and math.floor(100 * p.done / p.total) or 100
      if p.file ~= last_file or pct ~= last_pct or t - last_draw > 0.1 then
        last_file, last_pct, last_draw = p.file, pct, t
        bar(p)
      end
      return
    end
    -- plain lines: one per finished file, or per 10% of a restore
    if p.phase == "database" or p.phase == "log" then
      if p.done == p.total and p.total > 0 then
        out(("%s: %s %s (%s)"):format(label, p.phase, p.file, human(p.total)))
      end
    elseif p.phase == "verify" then
      if p.file and p.done == 0 and label == "check" then out(("%s: %s"):format(label, p.file)) end
    elseif p.phase == "restore" then
      local pct = p.total > 0 and (100 * p.done // p.total) // 10 * 10 or 100
      if pct ~= last_pct then last_pct = pct; out(("%s: %d%%"):format(label, pct)) end
    elseif p.phase == "truncate" then
      -- one line for the truncation, not one per part of it
      if (p.part or 0) == 0 then out(("%s: truncating the logs"):format(label)) end
    end
  end
  local function finish()
    if drawn then io.stdout:write("\n"); io.stdout:flush() end
    drawn = false
  end
  return fn, finish
end

ui.plural, ui.utc_us, ui.out, ui.stdout_is_tty = plural, utc_us, out, stdout_is_tty
return ui
