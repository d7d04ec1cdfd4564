-- A long value's pages freed by a replace or a delete are marked free on
-- disk, as a freed tree page is: an LR_FREEPAGE record (16, 48 bytes, no
-- page image) checks the page's type and its u32 at offset 24 and zeroes
-- bytes 16 on, live and in replay; log feature bit 1 announces such
-- records.  The free list's reuse and `ese check` then apply one rule: an
-- entry must be a free-list page or a page marked free; a long value's
-- page as it was only in a file whose free list began before the mark (the
-- space page's flag SPACE_MARKED, offset 48 bit 0, unset).  Before, a
-- freed long value's page kept its content, and the reuse accepted any
-- long value's page: a free list naming a live value's page made the next
-- allocation overwrite that value.
local ese = require "ese"
local H = require "support.helpers"
local LR = require "support.log_records"

local PS = 4096
local DCAP = PS - 32                         -- bytes of a value per data page

local value = require("support.lv_sweep").text_val

-- The free list of the database at path: entries, pages, flags, data.
local function free_list(path) return H.free_list(path, PS) end

local function marked(data, pgno)
  return data:sub(pgno * PS + 17, (pgno + 1) * PS) == ("\0"):rep(PS - 16)
end

describe("freed long values' pages are marked free (LR_FREEPAGE of types 5, 6)", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  local N = 25 * DCAP + 100                 -- 26 data pages and a directory page

  for _, how in ipairs({ "clean term", "crash and recovery" }) do
    it("after a replace and a delete, each freed page is zeros from byte 16 (" .. how .. "); the free list "
       .. "takes them again", function()
      local t, _, _, inst = w:table({ page_size = PS })
      local lv5 = #H.pages_of_type(w:path("app.edb"), PS, 5)
      t:put("a", value(1, N))
      t:put("b", value(2, N))
      t:put("a", value(3, 10 * DCAP))        -- frees a's first value's 27 pages, takes 11 of them again
      t:delete("b")                          -- frees 27 more
      assert.are.equal(value(3, 10 * DCAP), t:get("a"))
      local frees = 0
      LR.each(w.dir, function(ty, payload)
        -- operation header (24 bytes), then the body: u8 page type, u32 left
        if ty == 16 and #payload == 29 then
          local pt = payload:byte(25)
          if pt == 5 or pt == 6 then frees = frees + 1 end
        end
      end)
      -- a page freed and taken again in one commit is a difference instead
      assert.is_true(frees >= 27 + 16 and frees <= 54, frees .. " records")
      if how == "clean term" then inst:term({ complete = true })
      else
        inst:term()                          -- crash: recovery replays the records
        local t2, _, _, i2 = w:reopen({ page_size = PS })
        assert.are.equal(value(3, 10 * DCAP), t2:get("a"))
        assert.is_nil(t2:get("b"))
        i2:term({ complete = true })
      end
      local path = w:path("app.edb")
      local entries, _, flags, data = free_list(path)
      assert.are.equal(1, flags & 1)
      assert.is_true(#entries >= 43, #entries .. " entries")
      for _, pg in ipairs(entries) do assert.is_true(marked(data, pg), "free page " .. pg .. " is not marked") end
      assert.are.equal(lv5 + 10, #H.pages_of_type(path, PS, 5))
      assert.is_true(ese.file_info(path, true).verified)
      -- the pages are taken again: two more values do not grow the file
      local size = H.file_size(path)
      local t3, _, _, i3 = w:reopen({ page_size = PS })
      t3:put("c", value(4, N))
      t3:put("d", value(5, 10 * DCAP))
      assert.are.equal(value(4, N), t3:get("c"))
      i3:term({ complete = true })
      assert.are.equal(size, H.file_size(path))
      assert.is_true(ese.file_info(path, true).verified)
    end)
  end

  -- A free-list entry naming a live value's data page: the allocation
  -- that takes it refuses (before, it overwrote the value), and so does
  -- ese check.
  it("a live long value's page listed free is refused by the reuse and by ese check", function()
    local t, _, _, inst = w:table({ page_size = PS })
    t:put("keep", value(7, N))
    t:put("gone", value(8, N))
    t:delete("gone")
    inst:term({ complete = true })
    local path = w:path("app.edb")
    local entries, pages = free_list(path)
    assert.is_true(#entries > 0)
    local live = H.pages_of_type(path, PS, 5)[1]
    -- the entry the next allocation takes: the last of the first free-list page
    local fl = pages[1]
    H.patch_page(path, PS, fl, function(pg)
      local cnt = string.unpack("<I4", pg, 21)
      local at = 32 + 4 * (cnt - 1)
      return pg:sub(1, at) .. string.pack("<I4", live) .. pg:sub(at + 5)
    end)
    local e = H.expect_jet("JET_errDatabaseCorrupted", ese.file_info, path, true)
    assert.matches("free list: page " .. live .. " is", e.detail or "", 1, true)
    local t2, _, _, i2 = w:reopen({ page_size = PS })
    H.expect_jet("JET_errDatabaseCorrupted", t2.put, t2, "new", value(9, N))
    assert.are.equal(value(7, N), t2:get("keep"))
    i2:term({ complete = true })
  end)

  -- A file whose free list began before the mark (SPACE_MARKED unset) may
  -- list long values' pages as they were: they are reused; with the flag
  -- set the same page is refused.
  for _, flag in ipairs({ 0, 1 }) do
    it("an unmarked long value's page on the free list, space flag " .. flag .. ": "
       .. (flag == 0 and "reused (a file from before the mark)" or "refused"), function()
      local t, _, _, inst = w:table({ page_size = PS })
      t:put("gone", value(8, N))
      t:delete("gone")
      inst:term({ complete = true })
      local path = w:path("app.edb")
      local entries, pages = free_list(path)
      local cnt = string.unpack("<I4", assert(H.read_file(path)), pages[1] * PS + 21)
      local victim = entries[cnt]             -- the last entry of the first free-list page
      H.patch_page(path, PS, victim, function(pg)
        return pg:sub(1, 16) .. "\5\0\0\0" .. string.pack("<I4", 10) .. pg:sub(25, 32) .. ("x"):rep(10)
          .. pg:sub(43)
      end)
      H.patch_page(path, PS, 2, function(pg) return pg:sub(1, 48) .. string.pack("<I4", flag) .. pg:sub(53) end)
      local t2, _, _, i2 = w:reopen({ page_size = PS })
      if flag == 0 then
        assert.is_true(ese.file_info(path, true).verified)
        t2:put("new", value(9, N))
        assert.are.equal(value(9, N), t2:get("new"))
        i2:term({ complete = true })
        assert.is_true(ese.file_info(path, true).verified)
      else
        H.expect_jet("JET_errDatabaseCorrupted", t2.put, t2, "new", value(9, N))
        i2:term({ complete = true })
        H.expect_jet("JET_errDatabaseCorrupted", ese.file_info, path, true)
      end
    end)
  end
end)
