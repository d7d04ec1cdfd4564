-- ese: an embedded crash-safe storage engine modelled on Microsoft ESE.
-- The work is done in C (ese.core); this module re-exports it and adds the
-- version.  ese.errors maps names to numbers and numbers to names;
-- ese.Error is the metatable of every error object the engine raises.
local core = require "ese.core"

local ese = {}
for k, v in pairs(core) do ese[k] = v end

ese.version = "0.1.0"
ese.errors = core.errors
ese.Error = core.Error

-- True when x is an error object raised by the engine.
function ese.is_error(x)
  return getmetatable(x) == core.Error
end

return ese
