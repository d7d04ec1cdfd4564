-- Hostile tests of session 17 (the backup side).  Each case failed before
-- the change it came with.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"
local fs = ese.fs

-- The plan's entries as { [basename] = "keep" | "delete" }.
local verdicts = H.verdicts

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

  describe("a restore with overwrite and restore_command over a dest holding .ese-fetch", function()
    -- Before: the fetch folder dest/.ese-fetch was made with mkdir -p
    -- (a link to a folder passed) and emptied at the end: a link planted
    -- there had the restore write the fetched logs into the folder it
    -- names and then delete every file in it (outside dest).
    it("a link or a file there, or a folder holding other files: JET_errInvalidPath, nothing touched", function()
      local arc, last = w:archived_full()
      local cmd = "cp " .. arc .. "/%f %p"
      local dest = w:path("dest")
      ese.restore(w:path("full"), dest)
      local out = w:path("outside")
      fs.mkdir(out)
      H.write_file(out .. "/precious.txt", "x")
      H.write_file(out .. "/" .. H.log_name(last), "not a log")
      assert(os.execute("ln -s " .. out .. " " .. dest .. "/.ese-fetch"))
      local before = H.ls(dest)
      local e = H.expect_jet("JET_errInvalidPath", ese.restore, w:path("full"), dest,
        { overwrite = true, restore_command = cmd })
      assert.matches(".ese-fetch is a symbolic link", tostring(e), 1, true)
      assert.are.same({ ["precious.txt"] = true, [H.log_name(last)] = true }, H.ls(out))
      assert.are.equal("x", H.read_file(out .. "/precious.txt"))
      assert.are.same(before, H.ls(dest))
      os.remove(dest .. "/.ese-fetch")
      H.write_file(dest .. "/.ese-fetch", "a file")
      H.expect_jet("JET_errInvalidPath", ese.restore, w:path("full"), dest, { overwrite = true, restore_command = cmd })
      assert.are.equal("a file", H.read_file(dest .. "/.ese-fetch"))
      os.remove(dest .. "/.ese-fetch")
      fs.mkdir(dest .. "/.ese-fetch")
      H.write_file(dest .. "/.ese-fetch/notes.txt", "mine")
      H.expect_jet("JET_errInvalidPath", ese.restore, w:path("full"), dest, { overwrite = true, restore_command = cmd })
      assert.are.equal("mine", H.read_file(dest .. "/.ese-fetch/notes.txt"))
      os.remove(dest .. "/.ese-fetch/notes.txt")
      -- what an interrupted restore fetched (a generation's name, any bytes) goes; the restore works
      H.write_file(dest .. "/.ese-fetch/" .. H.log_name(last), "a torn fetch")
      local rep = ese.restore(w:path("full"), dest, { overwrite = true, restore_command = cmd })
      assert.are.equal(last, rep.last_generation)
      assert.are.equal("absent", fs.stat(dest .. "/.ese-fetch").kind)
      ese.restore(w:path("full"), w:path("dest2"), { archive_path = arc })
      assert.are.equal(H.count_keys(w, w:path("dest2"), ""), H.count_keys(w, dest, ""))
    end)
  end)

  describe("a restore_command that makes a folder (or a tree) where the log should be", function()
    -- Before: the refusal (the fetched log unreadable) removed the fetch
    -- folder's entries with unlink only: the folder at %p stayed, so
    -- .ese-fetch and the dest the restore had made stayed too.
    it("is refused and leaves dest as it came: absent, or empty", function()
      local arc = w:archived_full()
      local shipped = H.ls(arc)
      local tree = w:path("mktree.sh")
      H.write_file(tree, 'mkdir -p "$1/a/b" && echo x > "$1/a/f" && ln -s ' .. arc .. ' "$1/a/l"\n')
      for i, cmd in ipairs { "mkdir %p", "sh " .. tree .. " %p" } do
        local dest = w:path("dest" .. i)
        H.expect_jet("JET_errInvalidPath", ese.restore, w:path("full"), dest, { restore_command = cmd })
        assert.are.equal("absent", fs.stat(dest).kind, cmd)
        fs.mkdir(dest)
        H.expect_jet("JET_errInvalidPath", ese.restore, w:path("full"), dest, { restore_command = cmd })
        assert.are.same({}, H.ls(dest), cmd)
      end
      assert.are.same(shipped, H.ls(arc))   -- the link's target untouched
    end)
  end)

  describe("a backup set named .expiring-* (the name expire gives a set it is deleting)", function()
    -- Before: backup.run and run_to took the name; the next backup.expire
    -- took the whole set for its own leftover and deleted it unread, even
    -- when it was the newest full set.
    it("is refused by backup.run and run_to (JET_errInvalidPath) before anything is made or truncated", function()
      local root = w:expire_root(1)
      local inst = w.instances[1]
      local logs = H.log_files(w.dir)
      local e = H.expect_jet("JET_errInvalidPath", backup.run, inst, root .. "/.expiring-new")
      assert.matches(".expiring-*", tostring(e), 1, true)
      local sent = 0
      H.expect_jet("JET_errInvalidPath", backup.run_to, inst, function(c) sent = sent + #c end,
        { prefix = ".expiring-x" })
      assert.are.equal(0, sent)
      assert.are.same({ f1 = true }, H.ls(root))
      assert.are.same(logs, H.log_files(w.dir))
      backup.run(inst, root .. "/f2")   -- the backup sequence was left free
      assert.are.same({ f1 = "delete", f2 = "keep" }, verdicts(backup.expire(root, { keep_full = 1 })))
    end)
  end)

  describe("a manifest whose base name is not the one its logs are named with", function()
    -- Before: verify checked each log's header against its entry, not its
    -- name against the base name: a set whose manifest said base_name
    -- "xyz" (or whose log and entry were renamed xyz...) verified, and
    -- backup.restore, which restores with the manifest's base name, then
    -- failed (JET_errFileNotFound: no xyz*.log).
    it("is JET_errInvalidBackup in backup.verify and backup.restore, before dest is made", function()
      local _, _, _, inst = w:filled_table(20, "base")
      backup.run(inst, w:path("set"))
      inst:term({ complete = true })
      local cjson = require "cjson"
      local function edit(dir, f)
        local m = cjson.decode(H.read_file(dir .. "/manifest.json"))
        f(m, dir)
        H.write_file(dir .. "/manifest.json", cjson.encode(m))
      end
      local a = H.copy_dir(w:path("set"), w:path("a"))
      edit(a, function(m) m.base_name = "xyz" end)
      local b = H.copy_dir(w:path("set"), w:path("b"))
      edit(b, function(m, dir)
        for _, e in ipairs(m.files) do
          if e.type == "log" then
            local new = e.name:gsub("^edb", "xyz")
            assert(os.rename(dir .. "/" .. e.name, dir .. "/" .. new))
            e.name = new
            break
          end
        end
      end)
      for _, d in ipairs { a, b } do
        local e = H.expect_jet("JET_errInvalidBackup", backup.verify, d)
        assert.matches("a restore looks for it under the name of base name", tostring(e), 1, true)
        H.expect_jet("JET_errInvalidBackup", backup.restore, d, d .. "-dest")
        assert.are.equal("absent", fs.stat(d .. "-dest").kind)
      end
      -- the base name in another case is the same name to a restore: verifies and restores
      local c = H.copy_dir(w:path("set"), w:path("c"))
      edit(c, function(m) m.base_name = "EDB" end)
      backup.verify(c)
      backup.restore(c, w:path("c-dest"))
      assert.are.equal(20, H.count_keys(w, w:path("c-dest"), "base"))
    end)
  end)
end)
