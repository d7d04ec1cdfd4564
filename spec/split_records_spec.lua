-- Splits are logged as what they move (issue 9, step S6b of
-- docs/design/log-records.md): a leaf or branch split is an LR_NEWPAGE
-- (14) of the new page carrying the moved cells and an LR_SPLIT (13)
-- truncating the split page, a root split two LR_NEWPAGE of the halves
-- and one of the root turning branch; no tree page goes to the log as a
-- difference (LR_PAGEDIFF, 6), only the space page (page 2) does.  The C
-- harness pageop_test replays the records onto pages of every state a
-- crash or a fuzzy copy leaves (once, twice, the split page newer than the
-- new one and the reverse, a page never written); here real workloads go
-- through a crash, a full + incremental restore, and a full backup whose
-- copy is made while pages split.
local backup = require "ese.backup"
local ese = require "ese"
local H = require "support.helpers"
local LR = require "support.log_records"

local PAGE = 4096
local PARAMS = { log_file_size = 1024, page_size = PAGE }

-- n inserts of new random 16-byte keys with 100-byte values, one commit
-- each, into t; model gets them.
local function inserts(t, model, n, seed)
  local x = seed
  local function rnd(m)
    x = (x * 1103515245 + 12345) % 2147483648
    return x % m
  end
  for i = 1, n do
    local k = ("%08d%08d"):format(rnd(100000000), rnd(100000000))
    local v = ("v%d-%d"):format(seed, i)
    v = v .. ("."):rep(100 - #v)
    t:put(k, v)
    model[k] = v
  end
end

-- What the log files of dir hold: counts per type, LR_PAGEDIFF records of
-- pages other than the space page, LR_NEWPAGE / LR_SPLIT bytes (framed),
-- the cells the LR_NEWPAGE records carry (bytes), and the LR_NEWPAGE
-- records that make an empty branch (a root turning branch).
local function survey(dir)
  local s = { count = {}, tree_diffs = 0, split_bytes = 0, moved = 0, roots = 0 }
  LR.each(dir, function(ty, p)
    s.count[ty] = (s.count[ty] or 0) + 1
    if ty == 6 and string.unpack("<I4", p, 5) ~= 2 then s.tree_diffs = s.tree_diffs + 1 end
    if ty == 13 or ty == 14 then s.split_bytes = s.split_bytes + LR.framed(#p) end
    if ty == 14 then
      s.moved = s.moved + #p - 24 - 5
      if #p == 24 + 5 and p:byte(25) == 4 then s.roots = s.roots + 1 end
    end
  end)
  return s
end

describe("split records", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("10,000 single-record inserts: leaf, branch and root splits logged as LR_NEWPAGE + LR_SPLIT carrying the "
     .. "moved cells, no tree page as LR_PAGEDIFF; a crash replays them to the exact contents", function()
    local t, _, _, inst = w:table(PARAMS)
    local model = {}
    inserts(t, model, 10000, 1)
    local s = survey(w.dir)
    assert.are.equal(0, s.tree_diffs, "LR_PAGEDIFF records of tree pages (only the space page may have one)")
    local splits, news = s.count[13] or 0, s.count[14] or 0
    assert.is_true(splits >= 300, splits .. " LR_SPLIT records")   -- ~430 leaves of 4 KiB
    assert.is_true(news >= splits, news .. " LR_NEWPAGE records, " .. splits .. " LR_SPLIT")
    -- the first root (a leaf) split, then the root branch of about 370 children
    assert.is_true(s.roots >= 2, s.roots .. " roots turned branch")
    -- a split costs what it moves: the cells (about half a page) plus headers
    local per = s.split_bytes / news
    assert.is_true(per < 0.6 * PAGE, ("%.0f bytes of log per LR_NEWPAGE + LR_SPLIT (a page is %d)"):format(per, PAGE))
    assert.is_true(s.split_bytes < s.moved + 100 * (news + splits),
                   ("split records %d bytes for %d bytes of moved cells"):format(s.split_bytes, s.moved))
    inst:term()                                -- a crash: every split replays from the log
    local t2 = w:reopen(PARAMS)
    assert.are.same(model, H.contents(t2))
  end)

  it("a full backup, then 5,000 inserts that split pages the copy holds, and an incremental restore exactly",
     function()
    local t, _, _, inst = w:table(PARAMS)
    local model = {}
    inserts(t, model, 3000, 2)
    local full = w:path("full")
    backup.run(inst, full)
    inserts(t, model, 5000, 3)
    local inc = w:path("inc")
    backup.run(inst, inc, { incremental = true })
    local s = survey(inc)
    assert.is_true((s.count[13] or 0) >= 100, "the incremental holds LR_SPLIT records")
    assert.are.equal(0, s.tree_diffs, "the incremental holds LR_PAGEDIFF records of tree pages")
    backup.restore({ full, inc }, w:path("r"))
    inst:term({ complete = true })
    local inst3 = w:track(ese.create_instance(H.name("chk"), H.params(w:path("r"), PARAMS)))
    inst3:init()
    local t3 = H.open_table(inst3, w:path("r"))
    assert.are.same(model, H.contents(t3))
  end)

  it("a fuzzy copy across splits: inserts that split pages while the full backup streams the database "
     .. "(pages copied before their split, after it, new pages copied or not), restored exactly", function()
    local t, _, _, inst = w:table(PARAMS)
    local model = {}
    inserts(t, model, 3000, 4)
    local set, calls = w:path("set"), 0
    backup.run(inst, set, { on_progress = function(p)
      if p.phase == "database" then            -- before the cut-off: the set holds them
        calls = calls + 1
        inserts(t, model, 600, 10 + calls)     -- about 40 splits each
      end
    end })
    assert.is_true(calls >= 1, "progress calls while the backup streamed the database")
    local s = survey(set)
    assert.is_true((s.count[13] or 0) >= 20, "the set's logs hold the splits made during the copy")
    backup.restore({ set }, w:path("r"))
    inst:term({ complete = true })
    local inst3 = w:track(ese.create_instance(H.name("chk"), H.params(w:path("r"), PARAMS)))
    inst3:init()
    assert.are.same(model, H.contents(H.open_table(inst3, w:path("r"))))
  end)
end)
