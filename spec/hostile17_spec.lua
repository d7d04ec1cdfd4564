-- Hostile tests of session 17 (the backup side).  Each case failed before
-- the change it came with.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"
local fs = ese.fs

-- The plan's entries as { [basename] = "keep" | "delete" }.
local function verdicts(plan)
  local v = {}
  for _, p in ipairs(plan.keep) do v[H.basename(p)] = "keep" end
  for _, p in ipairs(plan.delete) do v[H.basename(p)] = "delete" end
  return v
end

describe("hostile 17", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  describe("backup.expire with a newest full set that cannot restore", function()
    -- Before: expire read the manifest only: a newest set whose database
    -- was gone, cut short, or a manifest copied into an empty folder
    -- counted as the newest full set, and keep_full = 1 deleted the one
    -- set that restored.
    it("does not count it among the newest full sets: the whole one stays, it is kept with the reason", function()
      local root = w:expire_root(2)
      local cases = {
        { "database gone", function(d) os.remove(d .. "/app.edb") end, "app.edb, which is missing" },
        { "database cut short", function(d)
          local data = H.read_file(d .. "/app.edb")
          H.write_file(d .. "/app.edb", data:sub(1, #data - 8192))
        end, "app.edb, which is %d+ bytes, not %d+" },
        { "a log gone", function(d)
          for n in pairs(H.log_files(d)) do if n ~= "edb.log" then os.remove(d .. "/" .. n) end end
        end, "which is missing" },
        { "a folder in place of the database", function(d)
          os.remove(d .. "/app.edb")
          fs.mkdir(d .. "/app.edb")
        end, "app.edb, which is a folder" },
        { "a manifest alone", function(d)
          for n in pairs(H.ls(d)) do if n ~= "manifest.json" then os.remove(d .. "/" .. n) end end
        end, "which is missing" },
        { "a manifest listing no file", function(d)
          local m = H.read_file(d .. "/manifest.json")
          H.write_file(d .. "/manifest.json", (m:gsub('"files": %[.*%]', '"files": []')))
        end, "names no database" },
      }
      for _, c in ipairs(cases) do
        local d = H.copy_dir(root .. "/f2", root .. "/bad")
        c[2](d)
        assert.has_error(function() backup.verify(d) end)
        local plan = backup.expire(root, { keep_full = 1 })
        assert.are.same({ f1 = "delete", f2 = "keep", bad = "keep" }, verdicts(plan), c[1])
        assert.matches(c[3], plan.reasons[d], 1, false, c[1])
        -- with f2 broken too, f1 is the newest full set that restores
        fs.rename(root .. "/f2", w:path("f2.aside"))
        fs.rename(d, root .. "/f2")
        plan = backup.expire(root, { keep_full = 1, dry_run = false })
        assert.are.same({ f1 = "keep", f2 = "keep" }, verdicts(plan), c[1])
        backup.verify(root .. "/f1")
        fs.remove_tree(root .. "/f2")
        fs.rename(w:path("f2.aside"), root .. "/f2")
      end
    end)
  end)
end)
