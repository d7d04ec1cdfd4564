# lua-ese -- build, test, demo, bench.  Every target installs the Debian
# packages it needs when they are missing (run as root on Debian 12).
LUA      ?= lua5.4
CC       ?= cc
OPT      ?= -O2 -g
BUILD    ?= build
OUT      ?= $(BUILD)/lib
SAN      ?=
# lua-luv (libuv) and lua-cqueues are for the tests and make bench only: spec/eventloop_spec.lua runs
# docs/guide.md's event-loop examples, bench/eventloop_bench.lua measures loop stalls.  rclone is for
# the tests only: spec/archive_spec.lua ships the log archive with archive_command = "rclone copyto ...";
# so is the zstd tool: spec/backup_zstd_spec.lua decodes a set's .zst files with zstd -d; and
# lua-filesystem: spec/archive_spec.lua moves a child's working folder (lfs.chdir) after init.
DEPS_PKGS = lua5.4 liblua5.4-dev lua-busted lua-cjson lua-check luarocks pkgconf libssl-dev libzstd-dev lua-luv lua-cqueues rclone zstd \
            lua-filesystem
BENCH_PKGS = libsqlite3-dev liblmdb-dev

LUA_INC := $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
CFLAGS_ALL = -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -fPIC -pthread $(OPT) $(SAN) \
             -Icsrc/include -Icsrc $(LUA_INC)
SRC  := $(sort $(wildcard csrc/*.c))
OBJ  := $(SRC:csrc/%.c=$(BUILD)/obj/%.o)
CORE_OBJ := $(filter-out $(BUILD)/obj/lua_%.o,$(OBJ))
HDRS := $(wildcard csrc/*.h csrc/include/*.h)
HARNESS_SRC := $(wildcard spec/c/*.c)
HARNESS := $(HARNESS_SRC:spec/c/%.c=$(BUILD)/bin/%)

.PHONY: all deps test check demo bench crash-sweep clean lint

all: deps $(OUT)/ese/core.so $(HARNESS)

# apt waits (up to 10 minutes) for another apt or dpkg that holds its lock
# instead of failing at once with "Could not get lock".
APT = apt-get -o DPkg::Lock::Timeout=600

deps:
	@missing=""; \
	command -v $(LUA) >/dev/null || missing="$$missing lua5.4"; \
	[ -f /usr/include/lua5.4/lua.h ] || missing="$$missing liblua5.4-dev"; \
	[ -x /usr/bin/busted ] || missing="$$missing lua-busted"; \
	[ -f /usr/lib/x86_64-linux-gnu/lua/5.4/cjson.so ] || $(LUA) -e 'require "cjson"' 2>/dev/null || missing="$$missing lua-cjson"; \
	command -v pkg-config >/dev/null || missing="$$missing pkgconf"; \
	command -v luacheck >/dev/null || missing="$$missing lua-check"; \
	command -v luarocks >/dev/null || missing="$$missing luarocks"; \
	[ -f /usr/include/openssl/evp.h ] || missing="$$missing libssl-dev"; \
	[ -f /usr/include/zstd.h ] || missing="$$missing libzstd-dev"; \
	$(LUA) -e 'require "luv"' 2>/dev/null || missing="$$missing lua-luv"; \
	$(LUA) -e 'require "cqueues"' 2>/dev/null || missing="$$missing lua-cqueues"; \
	$(LUA) -e 'require "lfs"' 2>/dev/null || missing="$$missing lua-filesystem"; \
	command -v rclone >/dev/null || missing="$$missing rclone"; \
	command -v zstd >/dev/null || missing="$$missing zstd"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(APT) update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $(APT) install -y -q $$missing >/dev/null || exit 1; \
	fi

$(BUILD)/obj/%.o: csrc/%.c $(HDRS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

# SHA-256 of the backup manifests comes from OpenSSL's libcrypto; the
# compressed backup sets (compress = "zstd") from libzstd.
ZSTD_LIBS = $(shell pkg-config --libs libzstd 2>/dev/null || echo -lzstd)
LIBS = -lcrypto $(ZSTD_LIBS)

$(OUT)/ese/core.so: $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared $(SAN) -pthread -o $@ $(OBJ) $(LIBS)

# C harness programs link the whole core, except the unit tests listed
# here, which link only the layers they test (btree_test has its own mock
# pager).
UNIT_btree_test = btree lv pageop page crc32c
UNIT_log_test   = log log_format log_reader os os_fault crc32c
UNIT_crc_test   = crc32c
UNIT_page_test  = page crc32c
UNIT_writeset_test = writeset
UNIT_dw_test    = dw os os_fault page crc32c errors
# lua_oom loads build/lib/ese/core.so into its own Lua states.
UNIT_lua_oom    = crc32c
LIBS_lua_oom    = -llua5.4 -ldl
# oom_paths links the whole library, its Lua binding too, with every realloc
# and strdup of it through the program's own (which fails the k-th).
UNIT_oom_paths  = $(SRC:csrc/%.c=%)
LIBS_oom_paths  = -llua5.4 -Wl,--wrap=realloc -Wl,--wrap=strdup
.SECONDEXPANSION:
unit_objs = $(addprefix $(BUILD)/obj/,$(addsuffix .o,$(UNIT_$(1))))
$(BUILD)/bin/%: spec/c/%.c $$(if $$(UNIT_$$*),$$(call unit_objs,$$*),$(CORE_OBJ)) $(HDRS) $(wildcard spec/c/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(if $(UNIT_$*),$(call unit_objs,$*),$(CORE_OBJ)) -pthread $(LIBS) $(LIBS_$*)

# The suite: busted specs (which also build-drive the C harness in spec/c).
# Prints one closing line "N passed, N failed".
test: all
	@ESE_VERIFY_REPLAY=1 ESE_HARNESS_DIR=$(BUILD)/bin $(LUA) /usr/bin/busted --cpath="$(OUT)/?.so" -o TAP spec \
	  | $(LUA) spec/support/tap_summary.lua

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
SANBUILD ?= build-san
check: deps
	@$(MAKE) --no-print-directory BUILD=$(SANBUILD) SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" OPT="-O1 -g" all
	@ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	  ESE_VERIFY_REPLAY=1 ESE_SANITIZED=1 ESE_HARNESS_DIR=$(SANBUILD)/bin $(LUA) /usr/bin/busted --cpath="$(SANBUILD)/lib/?.so" -o TAP spec \
	  | $(LUA) spec/support/tap_summary.lua

demo: all
	@$(LUA) -e 'package.cpath="$(OUT)/?.so;"..package.cpath; package.path="lua/?.lua;lua/?/init.lua;"..package.path' bin/ese demo

bench: all
	@command -v sqlite3 >/dev/null && [ -f /usr/include/sqlite3.h ] && [ -f /usr/include/lmdb.h ] || \
	  ($(APT) update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $(APT) install -y -q $(BENCH_PKGS) sqlite3 >/dev/null)
	@$(MAKE) --no-print-directory -C bench BUILD=$(abspath $(BUILD)) CORE_OBJ="$(abspath $(CORE_OBJ))"
	@BENCH_LUA=$(LUA) $(BUILD)/bench/ese-bench
	@$(BUILD)/bench/ese-backup-bench
	@$(BUILD)/bench/ese-disk-bench
	@$(LUA) bench/eventloop_bench.lua $(OUT) lua $(BUILD)/eventloop-bench
	@BENCH_LUA=$(LUA) $(LUA) bench/replay_bench.lua $(OUT) lua $(BUILD)/replay-bench
	@$(LUA) bench/zstd_bench.lua $(OUT) lua $(BUILD)/zstd-bench
	@$(LUA) bench/longval_bench.lua $(OUT) lua $(BUILD)/longval-bench

crash-sweep: all
	@ESE_CRASH_POINTS=1000 ESE_TORN_POINTS=1000 $(BUILD)/bin/crash_sweep

# The API reference as HTML in docs/ldoc/ (LDoc, config.ld; generated, not
# committed).  The hand-written reference with the C API is docs/api.md.
.PHONY: docs
docs:
	@command -v ldoc >/dev/null || \
	  ($(APT) update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $(APT) install -y -q lua-ldoc >/dev/null)
	@rm -rf docs/ldoc
	@ldoc .

clean:
	rm -rf build build-san
