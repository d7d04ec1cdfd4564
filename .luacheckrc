-- luacheck configuration: `luacheck lua spec bin` (make test runs it).
std = "lua54"
max_line_length = 120
codes = true

-- bin/ese has no .lua suffix: luacheck checks it when named explicitly
-- or through the folder (see include_files).
include_files = { "lua/**/*.lua", "spec/**/*.lua", "bin/ese", ".luacheckrc" }
exclude_files = { "build/**", "build-san/**" }

files["spec/**/*.lua"] = { std = "+busted" }
files[".luacheckrc"] = { globals = { "std", "max_line_length", "codes", "include_files", "exclude_files", "files" } }
