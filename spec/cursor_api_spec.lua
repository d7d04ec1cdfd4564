-- Runs the C harness program spec/c/cursor_api.c (from ESE_HARNESS_DIR,
-- default build/bin): EseSeekRetrieve, EseCount and EseRetrieveSlice through their C
-- arguments the Lua binding never passes (short and NULL buffers, NULL
-- bounds with lengths, refusals).  The program prints
-- "cursor_api: <test>: ok" per test and exits 0, or says what differed and
-- exits 1.
local H = require "support.helpers"

local function expect_ok(test)
  local ok, out = H.run_harness("cursor_api", test)
  assert.is_true(ok, "cursor_api " .. test .. " failed:\n" .. out)
  assert.is_truthy(out:find("cursor_api: " .. test .. ": ok", 1, true), "no '" .. test .. ": ok' line:\n" .. out)
end

describe("cursor C API (C harness)", function()
  it("retrieve: EseSeekRetrieve finds what EseSeek finds for every op; short buffers give "
     .. "JET_wrnBufferTruncated, the full sizes, no byte past cbMax and the cursor on the record; not found "
     .. "leaves no current record; JET_errInvalidGrbit, JET_errInvalidParameter, JET_errKeyTooBig, "
     .. "JET_errInvalidTableId (also once closed), JET_errInvalidSesid", function()
    expect_ok("retrieve")
  end)

  it("count: EseCount over open, empty and inclusive bounds, inside a transaction over its own puts and "
     .. "deletes, leaving the cursor's record; JET_errInvalidParameter, JET_errKeyTooBig, JET_errInvalidSesid",
     function()
    expect_ok("count")
  end)

  it("slice: EseRetrieveSlice of an inline and a long value from offsets within, at and past the end; a short "
     .. "buffer gives JET_wrnBufferTruncated and nothing past cbMax; the size alone; JET_errRecordNotFound; the "
     .. "cursor's record unchanged; JET_errInvalidParameter, JET_errKeyTooBig, JET_errInvalidTableId, "
     .. "JET_errInvalidSesid", function()
    expect_ok("slice")
  end)

  it("walk: stepping 20,000 records with EseSeekRetrieve forward and backward inside a transaction meets the "
     .. "merged view once, in order, as many as EseCount", function()
    expect_ok("walk")
  end)
end)
