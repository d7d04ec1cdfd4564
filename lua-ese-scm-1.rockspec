-- lua-ese: an embedded crash-safe storage engine modelled on Microsoft ESE.
-- Builds with the builtin backend (no external tools):
--   luarocks --lua-version=5.4 make            (or --local, or --tree=DIR)
--
-- lua-cjson is needed at run time by ese.backup and ese.cli (not by
-- require "ese"), so it is a dependency.  Where luarocks.org is reachable,
-- `luarocks make` installs it as a rock.  Offline on Debian it comes from
-- the system package lua-cjson (which `make deps` installs); luarocks
-- cannot see system packages, so build there with
--   luarocks --lua-version=5.4 make --deps-mode=none
-- (as spec/rockspec_spec.lua does).
rockspec_format = "3.0"
package = "lua-ese"
version = "scm-1"

source = {
   url = "git+file:///work/main",
}

description = {
   summary = "Embedded crash-safe storage engine modelled on Microsoft ESE, for Lua 5.4",
   detailed = [[
A C storage engine with a write-ahead log, crash recovery, ordered key/value
tables and ESE's online streaming backup and restore sequence
(JetBeginExternalBackupInstance ... JetEndExternalBackupInstance2), wrapped as
the Lua 5.4 module "ese".
]],
   license = "MIT",
}

-- SHA-256 (backup manifests) comes from OpenSSL's libcrypto: Debian's
-- libssl-dev; compressed backup sets (compress = "zstd") from libzstd:
-- Debian's libzstd-dev.  `make deps` installs both.
external_dependencies = {
   CRYPTO = { header = "openssl/evp.h", library = "crypto" },
   ZSTD = { header = "zstd.h", library = "zstd" },
}

dependencies = {
   "lua >= 5.4",
   "lua-cjson",   -- see the note at the top
}

-- What the specs need besides (`make test` installs them as the Debian
-- packages lua-busted, lua-luv and lua-filesystem): the spec runner, luv
-- for the event-loop specs, lfs for a child that changes its working folder.
test_dependencies = {
   "busted",
   "luv",
   "luafilesystem",
}

build = {
   type = "builtin",
   modules = {
      ["ese.core"] = {
         sources = {
            "csrc/archive.c",
            "csrc/command.c",
            "csrc/backup.c",
            "csrc/backup_folder.c",
            "csrc/btree.c",
            "csrc/check.c",
            "csrc/checkpoint.c",
            "csrc/chkfile.c",
            "csrc/crc32c.c",
            "csrc/database.c",
            "csrc/dbcheck.c",
            "csrc/dbheader.c",
            "csrc/dw.c",
            "csrc/errors.c",
            "csrc/instance.c",
            "csrc/isolation.c",
            "csrc/jet_backup.c",
            "csrc/jet_database.c",
            "csrc/jet_instance.c",
            "csrc/jet_restore.c",
            "csrc/jet_session.c",
            "csrc/jet_table.c",
            "csrc/log.c",
            "csrc/log_format.c",
            "csrc/log_reader.c",
            "csrc/lifecycle.c",
            "csrc/lv.c",
            "csrc/lua_backup.c",
            "csrc/lua_check.c",
            "csrc/lua_fs.c",
            "csrc/lua_ese.c",
            "csrc/lua_instance.c",
            "csrc/lua_reader.c",
            "csrc/lua_restore.c",
            "csrc/lua_session.c",
            "csrc/lua_table.c",
            "csrc/lua_zstd.c",
            "csrc/os.c",
            "csrc/os_fault.c",
            "csrc/pace.c",
            "csrc/page.c",
            "csrc/pageop.c",
            "csrc/pager.c",
            "csrc/recovery.c",
            "csrc/redo.c",
            "csrc/restore.c",
            "csrc/session.c",
            "csrc/sha256.c",
            "csrc/table.c",
            "csrc/txn.c",
            "csrc/verstore.c",
            "csrc/writeset.c",
            "csrc/zst.c",
         },
         incdirs = { "csrc/include", "csrc", "$(CRYPTO_INCDIR)", "$(ZSTD_INCDIR)" },
         libdirs = { "$(CRYPTO_LIBDIR)", "$(ZSTD_LIBDIR)" },
         defines = { "_GNU_SOURCE" },
         libraries = { "pthread", "crypto", "zstd" },
      },
      ["ese"] = "lua/ese/init.lua",
      ["ese.backup"] = "lua/ese/backup.lua",
      ["ese.backup_run"] = "lua/ese/backup_run.lua",
      ["ese.backup_verify"] = "lua/ese/backup_verify.lua",
      ["ese.cli"] = "lua/ese/cli.lua",
      ["ese.demo"] = "lua/ese/demo.lua",
      ["ese.expire"] = "lua/ese/expire.lua",
      ["ese.json"] = "lua/ese/json.lua",
      ["ese.logchain"] = "lua/ese/logchain.lua",
      ["ese.manifest"] = "lua/ese/manifest.lua",
      ["ese.tar"] = "lua/ese/tar.lua",
      ["ese.ui"] = "lua/ese/ui.lua",
      ["ese.util"] = "lua/ese/util.lua",
   },
   install = {
      bin = { ese = "bin/ese" },
   },
}
