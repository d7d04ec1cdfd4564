-- Hostile tester 18e: the engine's records (tables, cursors, slices).
local H = require "support.helpers"

describe("hostile 18e", function()
  describe("a NULL output buffer with a size (C: EseRetrieveKey, EseRetrieveValue, EseRetrieveValueAt, "
           .. "EseSeekRetrieve)", function()
    it("is JET_errInvalidParameter, as EseRetrieveSlice's (before: success with nothing copied); NULL with "
       .. "size 0 still asks the sizes", function()
      local ok, out = H.run_harness("cursor_api", "nullbuf")
      assert.is_true(ok, "cursor_api nullbuf failed:\n" .. out)
      assert.is_truthy(out:find("cursor_api: nullbuf: ok", 1, true), "no 'nullbuf: ok' line:\n" .. out)
    end)
  end)
end)
