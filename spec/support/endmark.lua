-- Shared by the specs of the log's end record (LR_END, feature bit 5:
-- logend18_spec.lua, endrule18_spec.lua): a roll of a running instance,
-- a transaction, where a generation's records are, and a tail zeroed.
local H = require "support.helpers"
local R = require "support.log_records"

local M = { LR_END = 17 }

-- Rolls inst's log (the external backup's log info closes the generation).
function M.roll(inst)
  inst:begin_external_backup()
  inst:get_log_info()
  inst:end_external_backup({ abort = true })
end

-- One transaction putting k1 .. k5 = v into table tb of session s.
function M.txn(s, tb, v)
  s:begin_transaction()
  for i = 1, 5 do tb:put("k" .. i, v) end
  s:commit_transaction()
end

-- The offsets in dir's file of generation g of the first record holding
-- text (when given) and of its end record (nil when none).
function M.offsets(dir, g, text)
  local name, at, fin = H.log_name(g), nil, nil
  R.each(dir, function(ty, payload, off, n)
    if n ~= name then return end
    if text and not at and payload:find(text, 1, true) then at = off end
    if ty == M.LR_END then fin = off end
  end)
  return at, fin
end

-- Zeros over path's bytes from off to the end of the file.
function M.zero_from(path, off)
  local data = assert(H.read_file(path))
  H.write_file(path, data:sub(1, off) .. ("\0"):rep(#data - off))
end

return M
