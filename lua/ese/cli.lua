--- The `ese` command-line tool.
-- `ese demo` runs the engine's main job on a temporary folder.
local ese = require "ese"

local cli = {}

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function mktemp_dir()
  local p = io.popen("mktemp -d /tmp/ese-demo.XXXXXX")
  local dir = p:read("l")
  p:close()
  return dir
end

local function open_instance(dir, name)
  local inst = ese.create_instance(name, { system_path = dir, log_path = dir, log_file_size = 256 })
  inst:init()
  return inst
end

-- The writer child: commits numbered records until it is killed, noting
-- each commit that returned in <dir>/committed.txt.
function cli.demo_writer(dir)
  local inst = open_instance(dir, "writer")
  local s = inst:begin_session()
  local db = s:create_database(dir .. "/demo.edb")
  local t = s:create_table(db, "records")
  local note = assert(io.open(dir .. "/committed.txt", "w"))
  for i = 1, math.huge do
    s:begin_transaction()
    for j = 1, 10 do
      t:put(string.format("r%08d-%02d", i, j), string.rep(string.char(97 + i % 26), 100))
    end
    s:commit_transaction()
    note:write(i, "\n")
    note:flush()
  end
end

local function demo()
  local dir = mktemp_dir()
  print("lua-ese demo in " .. dir)
  print("1. a writer process commits transactions of 10 records; it is killed")
  print("   (SIGKILL, by the engine's fault injection) at its 300th disk write")
  local cmd = string.format("LUA_PATH=%s LUA_CPATH=%s ESE_FAULT=crash:300 lua5.4 %s demo-writer %s",
    shell_quote(package.path), shell_quote(package.cpath), shell_quote(arg and arg[0] or "bin/ese"),
    shell_quote(dir))
  local ok, how, code = os.execute(cmd)
  print(string.format("   writer ended: %s %s", tostring(how), tostring(code)))
  local seen = 0
  for line in io.lines(dir .. "/committed.txt") do seen = tonumber(line) end
  print(string.format("   the writer saw %d commits return", seen))

  print("2. a new instance opens the folder: soft recovery replays the log")
  local t0 = os.clock()
  local inst = open_instance(dir, "reader")
  print(string.format("   recovered in %.3f s", os.clock() - t0))
  local s = inst:begin_session()
  s:attach_database(dir .. "/demo.edb")
  local db = s:open_database(dir .. "/demo.edb")
  local t = s:open_table(db, "records")
  local count, txns, whole = 0, {}, true
  for k in t:pairs() do
    count = count + 1
    local i = tonumber(k:sub(2, 9))
    txns[i] = (txns[i] or 0) + 1
  end
  local last = 0
  for i, n in pairs(txns) do
    if n ~= 10 then whole = false end
    if i > last then last = i end
  end
  print(string.format("   %d records back: transactions 1..%d, each %s", count, last,
    whole and "whole (10 of 10 records)" or "NOT WHOLE"))
  local good = whole and last >= seen and last <= seen + 1 and count == last * 10
  print(good and "   every commit the writer saw is back, and no half transaction"
             or "   MISMATCH: the recovered state differs from what the writer saw")
  inst:term{ complete = true }
  os.execute("rm -rf " .. shell_quote(dir))
  return good and 0 or 1
end

local usage = [[
usage: ese COMMAND [ARGS]
  demo          write, crash, recover and check, in a temporary folder
  --help        this text]]

function cli.main(argv)
  local cmd = argv[1]
  if cmd == "demo" then return demo()
  elseif cmd == "demo-writer" then cli.demo_writer(argv[2]); return 0
  elseif cmd == nil or cmd == "--help" or cmd == "-h" then print(usage); return cmd and 0 or 2
  else
    io.stderr:write("ese: unknown command '", cmd, "'\n", usage, "\n")
    return 2
  end
end

return cli
