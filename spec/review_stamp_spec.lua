-- Hostile review of the undo of pending tree pages (pager_write_ranges:
-- a gap insert keeps undo records of the bytes it changes, not a copy of
-- the page) with checksums at write time (a commit stamps pgno and dbtime,
-- bytes 4..15, the checksum waits for the write).  A commit that fails
-- after its pages were stamped (here: JET_errLogSequenceEnd, the last log
-- generation full, which leaves the instance running) is discarded: the
-- undo gives back the changed ranges, and must give back the stamp too.
-- Else the page keeps the failed commit's dbtime over its old bytes (and
-- a checksum of the old stamp): the next commit of the page names that
-- dbtime as its base, the page on disk and in the log has the old one,
-- and recovery cannot replay the next, durable, commit.
local H = require "support.helpers"

describe("review: a commit discarded after its pages were stamped", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("(JET_errLogSequenceEnd at the last generation) leaves each page as it was: a later durable commit of "
     .. "the same leaf recovers after a crash", function()
    local t, s, _, inst2 = w:at_last_generation(5)
    local model = H.contents(t)
    -- each transaction: a small record into the leaf (a gap insert: undo
    -- records), then a long value whose page differences are large; the
    -- first that does not fit fails after the leaf's records were logged
    local failed
    for i = 1, 1000 do
      s:begin_transaction()
      t:put(("a%05d"):format(i), "small")
      t:put(("b%05d"):format(i), ("L"):rep(7000))
      local ok, e = pcall(s.commit_transaction, s)
      if not ok then failed = e break end
      model[("a%05d"):format(i)] = "small"
      model[("b%05d"):format(i)] = ("L"):rep(7000)
    end
    assert.is_not_nil(failed, "the log never filled")
    assert.are.equal("JET_errLogSequenceEnd", failed.name)
    assert.are.same(model, H.contents(t))
    -- a small durable commit into the same leaf still fits the last file
    local ok, e = pcall(t.put, t, "a00000", "late")
    assert.is_true(ok, tostring(e))
    model.a00000 = "late"
    inst2:term()                                  -- a crash: recovery replays it
    local ok2, t2 = pcall(w.reopen, w, { log_file_size = 64 })
    assert.is_true(ok2, tostring(t2))
    assert.are.same(model, H.contents(t2))
  end)
end)
