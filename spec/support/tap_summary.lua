-- Reads busted's TAP output on stdin, echoes it, and ends with the line
-- "N passed, N failed".  Exits non-zero when a test failed or none ran.
local passed, failed = 0, 0
for line in io.lines() do
  io.write(line, "\n")
  if line:match("^ok %d") then passed = passed + 1
  elseif line:match("^not ok %d") then failed = failed + 1 end
end
io.write(string.format("%d passed, %d failed\n", passed, failed))
io.stdout:flush()
os.exit((failed == 0 and passed > 0) and 0 or 1)
