-- docs/guide.md's shell recipes run as an operator would paste them: the
-- crontab lines (their five time fields dropped, cron's \% as %), the
-- restore drill, the stream to another host and the point-in-time restore,
-- in bash, against bin/ese of this tree.  Each absolute path of the guide
-- (/srv, /backups, /restore, /tmp/drill, /var/log) lies under a fresh
-- folder; `date` is fixed at 2026-12-07 05:00 (a run at midnight would
-- put the hourly set in another day's folder); `my-app --data DIR
-- --self-check` checks that DIR holds app.edb; `ssh HOST CMD` runs CMD
-- here.  The Lua recipes: spec/docs_spec.lua; the rclone restore command:
-- spec/pitr_spec.lua.
local ese = require "ese"
local H = require "support.helpers"

local GUIDE = H.read_file("docs/guide.md")

-- The ```sh and ```crontab blocks of the guide, in order.
local function blocks(kind)
  local list = {}
  for code in GUIDE:gmatch("```" .. kind .. "\n(.-)\n```") do list[#list + 1] = code end
  return list
end

-- The one block of that kind holding text.
local function block(kind, text)
  local found
  for _, b in ipairs(blocks(kind)) do
    if b:find(text, 1, true) then
      assert.is_nil(found, "two blocks hold " .. text)
      found = b
    end
  end
  return (assert(found, "no " .. kind .. " block holds " .. text))
end

-- The commands of a crontab block, one per entry, as cron's shell runs them.
local function cron_lines(code)
  local list = {}
  for line in code:gmatch("[^\n]+") do
    if not line:match("^%s*#") then
      local cmd = assert(line:match("^%S+%s+%S+%s+%S+%s+%S+%s+%S+%s+(.+)$"), line)
      list[#list + 1] = (cmd:gsub("\\%%", "%%"))
    end
  end
  return list
end

local TREE = assert(io.popen("pwd")):read("l")

-- Runs code in bash with the guide's paths under root; returns the exit
-- status and the output (stdout and stderr).
local function sh(root, code, cwd)
  for _, top in ipairs({ "/srv/", "/backups/", "/restore/", "/tmp/drill", "/var/log/" }) do
    code = code:gsub("([%s'\">])" .. top:gsub("%p", "%%%0"), "%1" .. root .. top)
  end
  local prelude = table.concat({
    "export LUA_PATH=" .. H.q(package.path) .. " LUA_CPATH=" .. H.q(package.cpath),
    "ese() { lua5.4 " .. H.q(TREE .. "/bin/ese") .. ' "$@"; }',
    'date() { command date -d "2026-12-07 05:00" "$@"; }',
    'my-app() { [ "$1" = --data ] && [ -f "$2/app.edb" ]; }',
    'ssh() { shift; bash -c "$1"; }',
    "set -o pipefail",
    "cd " .. H.q(cwd or root),
  }, "\n")
  local script = os.tmpname()
  H.write_file(script, prelude .. "\n" .. code .. "\n")
  local p = assert(io.popen("bash " .. H.q(script) .. " 2>&1"))
  local out = p:read("a")
  local _, _, status = p:close()
  os.remove(script)
  return status, out
end

-- Puts n records "prefix0001".. into table "users" of dir/app.edb (made on
-- the first call), params: more instance parameters; the instance ends
-- cleanly, so that `ese backup` may open the folder.  Returns the wall
-- clock after the last commit.
local function put_users(w, dir, prefix, n, params)
  local p = { system_path = dir, log_path = dir }
  for k, v in pairs(params or {}) do p[k] = v end
  local inst = w:track(ese.create_instance(H.name("app"), p))
  inst:init()
  local s = inst:begin_session()
  local path = dir .. "/app.edb"
  local t
  if H.exists(path) then
    s:attach_database(path)
    t = s:open_table(s:open_database(path), "users")
  else
    t = s:create_table(s:create_database(path), "users")
  end
  for i = 1, n do t:put(("%s%04d"):format(prefix, i), ("v"):rep(3000)) end
  local at = ese.fs.now()
  if params and params.archive_path then
    local last = ese.file_info(dir .. "/edb.log").generation - 1
    assert(H.wait_until(function() return inst:archive_status().shipped_generation >= last end), "not shipped")
  end
  inst:term({ complete = true })
  return at
end

describe("docs/guide.md's shell recipes", function()
  local w, root
  before_each(function()
    w = H.world()
    root = w.dir
    ese.fs.mkdir_p(root .. "/var/log")
    ese.fs.mkdir_p(root .. "/srv/app/data")
  end)
  after_each(function() w:cleanup() end)

  it("the nightly and hourly crontab, then the restore drill, also while an hourly run is unfinished", function()
    local data = root .. "/srv/app/data"
    put_users(w, data, "a", 50)
    local cron = cron_lines(block("crontab", "inc-$(date +\\%H)"))
    assert.are.equal(3, #cron)
    local status, out = sh(root, cron[1])
    assert.are.equal(0, status, out .. H.read_file(root .. "/var/log/ese-backup.log"))
    put_users(w, data, "b", 30)
    status, out = sh(root, cron[2])
    assert.are.equal(0, status, out .. H.read_file(root .. "/var/log/ese-backup.log"))
    status, out = sh(root, cron[3])
    assert.are.equal(0, status, out)
    local day = root .. "/backups/app/2026-12-07"
    assert.are.same({ full = true, ["inc-05"] = true }, H.ls(day))

    local drill = block("sh", "ese check $chain")
    status, out = sh(root, drill)
    assert.are.equal(0, status, out)
    assert.truthy(out:find("ok  chain full+incremental", 1, true), out)
    assert.truthy(H.exists(root .. "/tmp/drill/app.edb"))

    -- an hourly run still writing (or one killed) leaves inc-06.partial;
    -- the drill checks the sets that are complete
    ese.fs.mkdir_p(day .. "/inc-06.partial")
    H.write_file(day .. "/inc-06.partial/edb00000009.log", "half")
    status, out = sh(root, drill)
    assert.are.equal(0, status, out)
    assert.truthy(out:find("ok  chain full+incremental", 1, true), out)
  end)

  it("the stream to another host: backup to stdout through ssh, then tar, check and restore there", function()
    put_users(w, root .. "/srv/app/data", "a", 50)
    local code = block("sh", "ese backup /srv/app/data - --prefix full")
    local here, vault = assert(code:match("^(.-)\n# on the vault:\n(.*)$"))
    ese.fs.mkdir_p(root .. "/backups/app")
    local status, out = sh(root, here)
    assert.are.equal(0, status, out)
    -- the vault is another host: its /tmp/drill is its own
    local other = root .. "/vault"
    ese.fs.mkdir_p(other)
    status, out = sh(other, vault:gsub("/tmp/drill", other .. "/tmp/drill"), root .. "/backups/app")
    assert.are.equal(0, status, out)
    assert.truthy(H.exists(other .. "/tmp/drill/app.edb"))
  end)

  it("the retention crontab with a log archive, then a restore to a point in time", function()
    local data, wal = root .. "/srv/app/data", root .. "/backups/app-wal"
    put_users(w, data, "a", 50)
    local cron = cron_lines(block("crontab", "ese expire /backups/app"))
    assert.are.equal(3, #cron)
    ese.fs.mkdir_p(wal)
    local status, out = sh(root, cron[1])
    assert.are.equal(0, status, out .. H.read_file(root .. "/var/log/ese-backup.log"))
    -- the application runs with the archive: a batch, the moment, a batch
    local mid = put_users(w, data, "b", 400, { archive_path = wal })
    put_users(w, data, "c", 400, { archive_path = wal })
    status, out = sh(root, cron[2])
    assert.are.equal(0, status, out .. H.read_file(root .. "/var/log/ese-backup.log"))
    status, out = sh(root, cron[3])
    assert.are.equal(0, status, out .. H.read_file(root .. "/var/log/ese-expire.log"))
    assert.truthy(H.read_file(root .. "/var/log/ese-expire.log"):find('"ok":true', 1, true))
    assert.are.same({ ["2026-12-07-full"] = true, ["2026-12-07-05-inc"] = true }, H.ls(root .. "/backups/app"))

    local when = os.date("!%Y-%m-%d %H:%M:%S", math.floor(mid)) .. ("%.6f"):format(mid % 1):sub(2)
    local pitr = block("sh", "--to-time \"2026-12-03 14:05:00\"")
      :gsub("2026%-12%-01%-full", "2026-12-07-full"):gsub("2026%-12%-03 14:05:00", when)
    status, out = sh(root, pitr)
    assert.are.equal(0, status, out)
    assert.truthy(out:find(": reached;", 1, true), out)
    local keys = H.restored_keys(w, root .. "/restore/app", "users")
    assert.are.equal(50, H.count_prefix(keys, "a"))
    assert.are.equal(400, H.count_prefix(keys, "b"))
    assert.are.equal(0, H.count_prefix(keys, "c"))
  end)
end)
