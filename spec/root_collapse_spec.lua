-- A root left with one child takes that child's content, and the tree
-- loses a level (btree.c collapse_root): LR_NEWPAGE formats the root as
-- the child (type, left, cells), LR_SPLIT at slot 0 empties the child,
-- LR_FREEPAGE marks it free and it goes on the free list; repeated while
-- the root is a branch without separators.  Before, such a root stayed a
-- branch without separators for good, every lookup reading one page more
-- (a tree emptied down to one leaf kept its root branch, and a 3-level
-- tree kept all its levels).
local ese = require "ese"
local H = require "support.helpers"

local PS = 4096

local function key(i) return ("%012d"):format(i) end
local function bigkey(i) return ("k"):rep(247) .. ("%08d"):format(i) end   -- 255 bytes

-- The pages from table "t"'s root down its leftmost path: { type, n } each.
local function spine(path)
  local data = assert(H.read_file(path))
  local function page(p) return data:sub(p * PS + 1, (p + 1) * PS) end
  local cat = page(string.unpack("<I4", data, 2 * PS + 36 + 1))
  assert(cat:byte(17) == 3, "the catalog root is a leaf")
  local root
  for i = 0, string.unpack("<I2", cat, 19) - 1 do
    local off = string.unpack("<I2", cat, 32 + 2 * i + 1)
    local klen, vlen = string.unpack("<I2I2", cat, off + 1)
    if cat:sub(off + 5, off + 4 + klen) == "t" then
      assert(vlen == 5)
      root = string.unpack("<I4", cat, off + 4 + klen + 2)
    end
  end
  local out, p = {}, root
  while true do
    local pg = page(p)
    local ty, n = pg:byte(17), string.unpack("<I2", pg, 19)
    out[#out + 1] = { type = ty, n = n }
    if ty ~= 4 then break end
    p = string.unpack("<I4", pg, 25)
  end
  return out
end

local function no_bare_branch(path)
  local sp = spine(path)
  for lvl, pg in ipairs(sp) do
    assert.is_false(pg.type == 4 and pg.n == 0, "level " .. lvl .. " of " .. #sp .. " is a branch without separators")
  end
  return sp
end

describe("a root left with one child is collapsed", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  for _, how in ipairs({ "clean term", "crash and recovery" }) do
    it("a two-level tree emptied down to its first leaf: the root becomes that leaf (" .. how .. ")", function()
      local t, s, _, inst = w:table({ page_size = PS })
      s:begin_transaction()
      for i = 1, 400 do t:put(key(i), ("v"):rep(100)) end
      s:commit_transaction()
      inst:term({ complete = true })
      local path = w:path("app.edb")
      local before = spine(path)
      assert.are.equal(2, #before)
      assert.are.equal(4, before[1].type)
      local first = before[2].n                          -- records of the first leaf
      t, _, _, inst = w:reopen({ page_size = PS })
      for i = 400, first + 1, -1 do t:delete(key(i)) end  -- single-record commits
      assert.are.equal(first, t:count())
      if how == "clean term" then inst:term({ complete = true })
      else
        inst:term()
        local t2, _, _, i2 = w:reopen({ page_size = PS })
        assert.are.equal(first, t2:count())
        i2:term({ complete = true })
      end
      local sp = no_bare_branch(path)
      assert.are.equal(1, #sp)
      assert.are.equal(3, sp[1].type)
      assert.are.equal(first, sp[1].n)
      assert.are.same({}, H.pages_of_type(path, PS, 4))
      assert.is_true(ese.file_info(path, true).verified)
      local t3 = w:reopen({ page_size = PS })
      for i = 1, first do assert.are.equal(("v"):rep(100), t3:get(key(i))) end
      t3:put(key(1000), "x")                            -- and it grows again
      assert.are.equal(first + 1, t3:count())
    end)
  end

  it("a tree of 255-byte keys (4+ levels) emptied down to its first records in one transaction loses "
     .. "its levels; crash; recovery; ese check", function()
    local t, s, _, inst = w:table({ page_size = PS })
    s:begin_transaction()
    for i = 1, 2500 do t:put(bigkey(i), "v") end
    s:commit_transaction()
    inst:term({ complete = true })
    local path = w:path("app.edb")
    local depth = #spine(path)
    assert.is_true(depth >= 3, depth .. " levels")
    t, s, _, inst = w:reopen({ page_size = PS })
    s:begin_transaction()
    for i = 2500, 6, -1 do t:delete(bigkey(i)) end
    s:commit_transaction()
    inst:term()                                         -- crash
    local t2, _, _, i2 = w:reopen({ page_size = PS })
    assert.are.equal(5, t2:count())
    i2:term({ complete = true })
    local sp = no_bare_branch(path)
    assert.are.equal(1, #sp)                            -- 5 records of 255-byte keys fit one leaf
    assert.is_true(ese.file_info(path, true).verified)
  end)

  it("deletes at the far end of a 3-level tree keep no branch without separators on the way down", function()
    local t, s, _, inst = w:table({ page_size = PS })
    s:begin_transaction()
    for i = 1, 2500 do t:put(bigkey(i), "v") end
    s:commit_transaction()
    for i = 2500, 200, -1 do t:delete(bigkey(i)) end   -- single-record commits
    assert.are.equal(199, t:count())
    inst:term({ complete = true })
    local path = w:path("app.edb")
    no_bare_branch(path)
    assert.is_true(ese.file_info(path, true).verified)
  end)
end)
