-- Runs the C harness program spec/c/api_edges.c: edges of the C backup and
-- restore API that the Lua binding never passes (handle 0 / JET_instanceNil,
-- raw list buffers, JetBackupInstance grbits and folders, JetRestoreInstance
-- with no destination, JetExternalRestore2's target arguments, JetInit3's
-- map).
local H = require "support.helpers"

describe("C API edges (C harness)", function()
  it("rules 3-5: instance forms with handle 0 / JET_instanceNil and the legacy End/Stop answer "
     .. "JET_errRunningInMultiInstanceMode in multi-instance mode and leave the running backup alone "
     .. "(JET_errNotInitialized with nothing initialized); I09: JetExternalRestore2 with target arguments or "
     .. "no log path is JET_errInvalidParameter and writes nothing; F05: AttachInfo/LogInfo with cbMax 16 "
     .. "succeed, report the full size and write only cbMax bytes; B07: CloseFile with no backup is "
     .. "JET_errNoBackup; E09/B05/E10: JetBackupInstance refuses other grbits (JET_errInvalidGrbit), a running "
     .. "backup (JET_errBackupInProgress), an empty path (JET_errInvalidParameter) and creates nothing; "
     .. "A03/H01: JetRestoreInstance with no destination is JET_errInvalidParameter and writes nothing, with one "
     .. "its callback reports progress with done <= total; A12/H04: JetExternalRestore2 restores a set into a "
     .. "fresh folder; JetInit3 refuses a bad JET_RSTINFO map (JET_errInvalidParameter, JET_errInvalidPath) before "
     .. "it makes anything; EsePut of a value of 2^31 bytes is JET_errRecordTooBig (-1026) before it reads it, a "
     .. "256-byte key JET_errKeyTooBig (EsePut, EseSeek); EseRetrieveValueAt gives slices of a long value; the "
     .. "restore, file inspection, step and pacer entry points refuse NULL arguments with JET_errInvalidParameter "
     .. "(EseRestoreResultOf with no result and EseRestoreEnd(NULL) do nothing, never crash)", function()
    local ok, out, last = H.run_harness("api_edges")
    assert.is_true(ok, out)
    assert.is_nil(out:match("FAIL"), out)
    assert.are.equal("api_edges: ok", last)
  end)
end)
