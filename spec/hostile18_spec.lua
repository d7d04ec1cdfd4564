-- Found by hostile18 (session 18): the backup side, attacked.
local ese = require "ese"
local backup = require "ese.backup"
local H = require "support.helpers"

describe("restore_command whose fetch fails in the middle of the archive", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  -- Before: any exit status other than 0 ends the fetching as the
  -- archive's end, and the restore said nothing of it: a fetch that failed
  -- (rclone's network error, a disk that went away) gave a restore that
  -- succeeded short of the archive's end, `ese restore` printing
  -- "restored ... replayed to N" as for a whole archive; the command's own
  -- words, the one thing that tells the two apart, were thrown away.
  it("says which fetch ended the archive, with the command's status and output (Lua and ese restore)", function()
    local arc, last, need = w:archived_full()
    assert.is_true(last >= need + 3, "the archive holds generations after the set")
    local broken = need + 2     -- the archive has it: the fetch fails on the way
    local script = w:path("fetch.sh")
    H.write_file(script, ("case \"$1\" in *%08X.log) echo 'rclone: dial tcp: network is unreachable' >&2; "
      .. "exit 3;; esac\nexec cp %s/\"$1\" \"$2\"\n"):format(broken, arc))
    local cmd = "sh " .. script .. " %f %p"
    local r = backup.restore(w:path("full"), w:path("dest"), { restore_command = cmd })
    assert.are.equal(broken - 1, r.last_generation)
    assert.is_string(r.fetch_end)
    assert.matches(H.log_name(broken), r.fetch_end, 1, true)
    assert.matches("exited with status 3", r.fetch_end, 1, true)
    assert.matches("network is unreachable", r.fetch_end, 1, true)
    -- the archive's true end says so the same way (cp's own words)
    r = ese.restore(w:path("full"), w:path("dest2"), { restore_command = "cp " .. arc .. "/%f %p" })
    assert.are.equal(last, r.last_generation)
    assert.matches(H.log_name(last + 1), r.fetch_end, 1, true)
    assert.matches("No such file", r.fetch_end, 1, true)
    -- no command: no such field
    r = ese.restore(w:path("full"), w:path("dest3"), { archive_path = arc })
    assert.is_nil(r.fetch_end)
    -- to_generation ends the fetching before any command fails: none
    r = ese.restore(w:path("full"), w:path("dest4"), { restore_command = cmd, to_generation = need + 1 })
    assert.is_nil(r.fetch_end)
    -- ese restore prints it
    local code, out, err = H.lua_run("bin/ese", { "restore", w:path("full"), w:path("dest5"), "--restore-command",
      cmd })
    assert.are.equal(0, code, out .. err)
    assert.matches("replayed to " .. (broken - 1), out, 1, true)
    assert.matches("--restore-command fetched no further generation: fetching " .. H.log_name(broken), out, 1, true)
    assert.matches("network is unreachable", out, 1, true)
    code, out, err = H.lua_run("bin/ese", { "restore", w:path("full"), w:path("dest6"), "--json", "--restore-command",
      cmd })
    assert.are.equal(0, code, out .. err)
    assert.matches('"fetch_end":"fetching ' .. H.log_name(broken), out, 1, true)
  end)
end)
