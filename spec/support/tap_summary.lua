-- Reads busted's TAP output on stdin, echoes it, and ends with the line
-- "N passed, N failed" (", N skipped" when specs are pending).  A run that stopped early (no plan line "1..N", or
-- fewer results than planned, e.g. a crash) counts the missing ones as
-- failed.  Exits non-zero when a test failed or none ran.
local passed, failed, skipped, planned = 0, 0, 0, nil
for line in io.lines() do
  io.write(line, "\n")
  if line:match("^ok %d.*# SKIP") then skipped = skipped + 1
  elseif line:match("^ok %d") then passed = passed + 1
  elseif line:match("^not ok %d") then failed = failed + 1
  else
    local n = line:match("^1%.%.(%d+)")
    if n then planned = tonumber(n) end
  end
end
if planned == nil then
  io.write("# the run ended without a TAP plan: it crashed or was killed\n")
  failed = failed + 1
elseif passed + failed + skipped < planned then
  io.write(string.format("# %d tests planned, %d ran\n", planned, passed + failed + skipped))
  failed = failed + (planned - passed - failed - skipped)
end
if skipped > 0 then
  io.write(string.format("%d passed, %d failed, %d skipped\n", passed, failed, skipped))
else
  io.write(string.format("%d passed, %d failed\n", passed, failed))
end
io.stdout:flush()
os.exit((failed == 0 and passed > 0) and 0 or 1)
